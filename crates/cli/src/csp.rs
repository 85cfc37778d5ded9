//! `winmdm csp` subcommands.

use std::process::ExitCode;

/// `winmdm csp` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {}

/// Runs one `winmdm csp` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {}
}
