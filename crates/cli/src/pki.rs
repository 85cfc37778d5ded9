//! `winmdm pki` subcommands.

use std::process::ExitCode;

/// `winmdm pki` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {}

/// Runs one `winmdm pki` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {}
}
