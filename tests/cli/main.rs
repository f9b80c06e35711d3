//! The `spendguard` command, run as a binary.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

mod estimate_command;
mod halt_command;
mod prices_command;
mod reconcile_command;
mod report_command;
mod report_forensics;
mod suggest_command;
