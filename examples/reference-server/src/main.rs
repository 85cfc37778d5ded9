//! `winmdm-server`: the reference server's entry point (see `docs/server.md`).
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = winmdm_reference_server::Args::parse();
    match winmdm_reference_server::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("winmdm-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
