//! `winmdm omadm` subcommands.

use std::process::ExitCode;

/// `winmdm omadm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {}

/// Runs one `winmdm omadm` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {}
}
