//! `winmdm enroll` subcommands.

use std::process::ExitCode;

/// `winmdm enroll` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {}

/// Runs one `winmdm enroll` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {}
}
