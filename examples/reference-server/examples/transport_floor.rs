//! The transport floor: what HTTPS alone costs a management session, to compare the
//! reference server with (`benches/server/run.sh`, `docs/benchmarks.md`).
//!
//! The same TLS as `winmdm-server` (`winmdm_reference_server::tls::server_config`: the
//! ring provider, TLS 1.3 session tickets for resumption, every client asked for a
//! certificate that it must prove it holds, none required) and the same accept loop and
//! HTTP/1.1 settings (`tls::serve`), with a bare axum router: `POST
//! /ManagementServer/MDM.svc` reads the body and answers 200 with a fixed body of
//! `--body-bytes` bytes (`application/vnd.syncml.dm+xml`), and `POST
//! /api/v1/devices/{device_id}/commands` (the admin API's queueing request, which the
//! 5-Get pattern sends before each session) answers 201 with `--queue-ids` command ids,
//! queueing nothing. No SyncML, no storage, no identity check. The load generator's
//! floor client (`winmdm-device load --floor URL`) makes the sessions.
//!
//! ```sh
//! cargo run --release -p winmdm-reference-server --example transport_floor -- \
//!   --data-dir winmdm-data --listen 127.0.0.1:9443 --body-bytes 1500
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::routing::post;
use clap::Parser;
use winmdm_reference_server::tls;

/// A bare HTTPS server answering management POSTs with a fixed body.
#[derive(Debug, Parser)]
#[command(name = "transport_floor")]
struct Args {
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: SocketAddr,
    /// A reference server's data directory: its `tls.pem` and `tls.key` are used.
    #[arg(long, default_value = "./winmdm-data")]
    data_dir: PathBuf,
    /// TLS certificate chain (PEM) instead of the data directory's.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS key (PEM) instead of the data directory's.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Bytes of every answer's body.
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// Command ids in the answer to a queueing request.
    #[arg(long, default_value_t = 5)]
    queue_ids: usize,
}

/// An answer of `n` bytes: a SyncML-shaped start, padded with an XML comment.
fn body(n: usize) -> Bytes {
    let mut b = b"<SyncML xmlns=\"SYNCML:SYNCML1.2\"><!--".to_vec();
    let end = b"--></SyncML>";
    b.resize(n.saturating_sub(end.len()).max(b.len()), b'x');
    b.extend_from_slice(end);
    b.truncate(n);
    Bytes::from(b)
}

async fn run(args: Args) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!("--listen {}: loopback only", args.listen));
    }
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => (args.data_dir.join("tls.pem"), args.data_dir.join("tls.key")),
    };
    let read =
        |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let config = tls::server_config(&read(&cert)?, &read(&key)?)?;
    let answer = body(args.body_bytes);
    let ids: Vec<usize> = (1..=args.queue_ids).collect();
    let queued = Bytes::from(serde_json::json!({ "command_ids": ids }).to_string());
    let router = Router::new()
        .route(
            "/ManagementServer/MDM.svc",
            post(move |request: Bytes| {
                let answer = answer.clone();
                async move {
                    drop(request);
                    (
                        [(header::CONTENT_TYPE, "application/vnd.syncml.dm+xml")],
                        answer,
                    )
                }
            }),
        )
        .route(
            "/api/v1/devices/{device_id}/commands",
            post(move |request: Bytes| {
                let queued = queued.clone();
                async move {
                    drop(request);
                    (
                        StatusCode::CREATED,
                        [(header::CONTENT_TYPE, "application/json")],
                        queued,
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "transport floor listening on https://{addr} ({} byte answers)",
        args.body_bytes
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tls::serve(listener, config, router, shutdown).await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transport_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
