//! `winmdm syncml` subcommands.

use std::process::ExitCode;

/// `winmdm syncml` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {}

/// Runs one `winmdm syncml` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {}
}
