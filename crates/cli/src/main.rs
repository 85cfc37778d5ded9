//! `winmdm`: command-line tools for Windows MDM built on the winmdm crates.
//!
//! Each top-level subcommand lives in its own module: `syncml`, `omadm`, `enroll`, `pki`,
//! `csp`; `report` holds the error format and exit-code rule they share.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod csp;
mod enroll;
mod omadm;
mod pki;
mod report;
mod syncml;

/// Command-line tools for Windows MDM (SyncML, enrollment, PKI, CSPs).
#[derive(Debug, Parser)]
#[command(name = "winmdm", version, about, after_help = report::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SyncML (OMA-DM) messages: check, format, convert to JSON.
    #[command(subcommand)]
    Syncml(syncml::Cmd),
    /// OMA-DM sessions: replay recorded sessions through the server engine.
    #[command(subcommand)]
    Omadm(omadm::Cmd),
    /// MS-MDE2 enrollment messages.
    #[command(subcommand)]
    Enroll(enroll::Cmd),
    /// Certificates for enrollment: issue device certificates, create a dev CA.
    #[command(subcommand)]
    Pki(pki::Cmd),
    /// Configuration service providers: lint profiles, describe nodes.
    #[command(subcommand)]
    Csp(csp::Cmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Syncml(cmd) => syncml::run(cmd),
        Command::Omadm(cmd) => omadm::run(cmd),
        Command::Enroll(cmd) => enroll::run(cmd),
        Command::Pki(cmd) => pki::run(cmd),
        Command::Csp(cmd) => csp::run(cmd),
    }
}
