//! Running the `spendguard` binary from the command's tests.

// Each command's tests use only some of these.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `spendguard` with `args` and waits for it.
pub fn spendguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spendguard"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// What the run printed on standard output.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// What the run printed on standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A path of its own under the system's temporary directory, for `name`
/// in the tests of `command`.
pub fn temp_path(command: &str, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "spendguard-{command}-{}-{name}",
        std::process::id()
    ))
}
