//! The `spendguard` command; see `spendguard --help` and [`spendguard::cli`].

fn main() -> std::process::ExitCode {
    spendguard::cli::main()
}
