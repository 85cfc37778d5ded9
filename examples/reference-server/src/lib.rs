//! The winmdm reference server: enrollment (MS-MDE2) and management (OMA-DM) of Windows
//! devices over HTTPS, composed from the winmdm crates. Read `docs/server.md` first.
//!
//! * [`setup`]: the data directory (dev CA, TLS certificate, secrets, SQLite).
//! * [`tls`]: rustls with optional client certificates, one accept loop, graceful drain.
//! * [`enroll`]: Discovery, Policy (XCEP) and Enrollment (WSTEP) endpoints.
//! * [`mdm`]: the management endpoint: one POST per SyncML message.
//! * [`admin`]: the admin API under `/api/v1`, with its OpenAPI document.
//! * [`store`]: storage behind one trait, SQLite by default, PostgreSQL with `--db`.
#![forbid(unsafe_code)]
// Handlers return `Result<_, Response>` (axum's idiom); a Response is 128 bytes.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod enroll;
pub mod mdm;
pub mod setup;
pub mod tls;

/// Storage (the `winmdm-reference-store` package): the `Store` trait, SQLite, PostgreSQL.
pub use winmdm_reference_store as store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use winmdm_enroll::pki::CertificateAuthority;
use winmdm_enroll::token::EntraAuthenticator;

/// The ProviderID written into the provisioning document (DMClient/Provider/winmdm).
pub const PROVIDER_ID: &str = "winmdm";

/// Command-line flags of `winmdm-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "winmdm-server", version, about = "winmdm reference MDM server")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Data directory (created when missing).
    #[arg(long, default_value = "./winmdm-data")]
    pub data_dir: PathBuf,
    /// The URL devices reach the server at (default: https://localhost:PORT).
    #[arg(long)]
    pub public_url: Option<String>,
    /// TLS certificate chain (PEM) instead of the generated one.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Device CA certificate (PEM) instead of the generated one.
    #[arg(long, requires = "ca_key")]
    pub ca_cert: Option<PathBuf>,
    /// Device CA key (PEM) for --ca-cert.
    #[arg(long, requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,
    /// JWKS file for Federated enrollment with Entra-style JWTs (offline).
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// Audience the Federated JWTs must carry.
    #[arg(long, default_value = "https://enrollment.manage.microsoft.com/")]
    pub jwt_audience: String,
    /// Entra tenant (`tid`) whose Federated JWTs are accepted (repeatable; none: any
    /// tenant, as a multi-tenant MDM). Entra's signing keys are shared by all tenants.
    #[arg(long = "jwt-tenant")]
    pub jwt_tenants: Vec<String>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Most management sessions in progress at once on this instance; a new session
    /// beyond it gets 429 with Retry-After (messages of sessions in progress go through).
    #[arg(long, default_value_t = 256)]
    pub max_sessions: usize,
    /// Validity of issued device certificates, in days. Devices renew from 42 days
    /// before expiry on (ROBO); at 60 days or less every certificate can renew at once.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub cert_validity_days: u64,
    /// Accept OMA-DM MD5 digest (the DMAcc credentials provisioned at enrollment) from
    /// a device that presents no certificate: for a proxy that terminates TLS.
    #[arg(long)]
    pub allow_dm_digest: bool,
    /// A proxy whose forwarded client certificate header is believed (repeatable).
    #[arg(long = "trusted-proxy")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The header a trusted proxy forwards the client certificate in (PEM, URL-encoded
    /// PEM as nginx's `$ssl_client_escaped_cert`, or base64 DER).
    #[arg(long, default_value = "x-ssl-client-cert")]
    pub client_cert_header: String,
    /// TLS session resumption: `tickets` (stateless TLS 1.3 tickets sealed with keys
    /// made at start, for any fleet size; per instance), `cache:N` (a server-side cache
    /// of N sessions) or `off`.
    #[arg(long, default_value = "tickets")]
    pub tls_resumption: tls::Resumption,
    /// Largest request body accepted on any endpoint, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body: usize,
    /// Longest time one request may take, the upload of its body included (seconds);
    /// beyond it the request gets 408 and its connection is closed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Database: `postgres://user:pass@host:port/db` for PostgreSQL (several instances
    /// may share it); default: the SQLite file `winmdm.db` in the data directory.
    #[arg(long)]
    pub db: Option<String>,
    /// Days answered commands and idle session snapshots are kept; pruned at start and
    /// then hourly. 0 keeps them forever.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub retention_days: u64,
    /// Seconds after which a verified profile is read back again (at the device's next
    /// session), so that a value changed on the device since shows as drift. 0: at
    /// every session.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(0..=315_360_000))]
    pub reverify_secs: u64,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What every handler shares.
pub struct App {
    /// Storage.
    pub store: Arc<dyn store::Store>,
    /// The device CA.
    pub ca: CertificateAuthority<setup::RingSigner>,
    /// The enrollment server's settings (provider id, URLs, auth policy).
    pub enrollment: winmdm_enroll::EnrollmentServer,
    /// `https://host:port`.
    pub public_url: String,
    /// The enrollment secret (OnPremise password).
    pub enrollment_secret: String,
    /// The admin bearer token.
    pub admin_token: String,
    /// Federated enrollment, when `--jwks` was given.
    pub entra: Option<EntraAuthenticator>,
    /// Management requests in flight (`mdm::request_limit` of `--max-sessions`).
    pub requests: Arc<tokio::sync::Semaphore>,
    /// Management sessions in progress (at most `--max-sessions`).
    pub sessions: std::sync::Mutex<mdm::Sessions>,
    /// Blocking tasks (storage, signing) running at once: [`Store::parallelism`]
    /// (`store::Store`); the others wait for a permit in order ([`App::blocking`]).
    pub workers: Arc<tokio::sync::Semaphore>,
    /// Counters since start (`GET /api/v1/metrics`).
    pub metrics: Metrics,
    /// SHA-256 of client certificates (DER) already found issued by our CA: the
    /// signature check is done once per certificate, not per message (`mdm::identify`).
    pub issued: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    /// The profile lint catalog (also: which nodes a verification may read).
    pub catalog: winmdm_csp::Catalog,
    /// `--reverify-secs`.
    pub reverify_secs: i64,
    /// `--allow-dm-digest`.
    pub allow_dm_digest: bool,
    /// `--trusted-proxy`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `--client-cert-header`.
    pub client_cert_header: axum::http::HeaderName,
}

impl App {
    /// Runs `f` on the blocking pool once one of the [`App::workers`] permits is free
    /// (first come, first served); `None` if it panicked. Without the bound a burst
    /// parks hundreds of threads on the store's lock, which is unfair: some wait for
    /// hundreds of milliseconds while later ones barge in.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let permit = self.workers.clone().acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .ok()
    }
}

/// Counters since this instance started.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Enrollments created (retries that joined an enrollment are not counted).
    pub enrollments: AtomicU64,
    /// Management sessions started.
    pub sessions: AtomicU64,
    /// Management messages answered.
    pub messages: AtomicU64,
}

/// Seconds since the epoch, the server's clock (the crates take time as an argument).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// Every request: a `request` span (method, path) around it, and at most `limit` for it,
/// body included (a client that sends its body slowly holds its connection for that
/// long at most): beyond it, 408.
async fn per_request(
    limit: Duration,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use tracing::Instrument;
    let span = tracing::info_span!("request", method = %req.method(), path = req.uri().path());
    match tokio::time::timeout(limit, next.run(req))
        .instrument(span)
        .await
    {
        Ok(r) => r,
        Err(_) => {
            tracing::info!("request timed out");
            (
                axum::http::StatusCode::REQUEST_TIMEOUT,
                [(axum::http::header::CONNECTION, "close")],
                "request timed out",
            )
                .into_response()
        }
    }
}

/// The HTTP routes; each request may take `request_timeout` at most.
pub fn router(app: Arc<App>, max_body: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/EnrollmentServer/Discovery.svc",
            get(enroll::discovery_probe).post(enroll::discovery),
        )
        .route("/EnrollmentServer/Policy.svc", post(enroll::policy))
        .route(
            enroll::AUTH_PATH,
            get(enroll::auth_page).post(enroll::auth_return),
        )
        .route("/EnrollmentServer/Enrollment.svc", post(enroll::enrollment))
        .route("/ManagementServer/MDM.svc", post(mdm::management))
        .nest("/api/v1", admin::routes(app.clone()))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(move |req, next| {
            per_request(request_timeout, req, next)
        }))
        .with_state(app)
}

/// Sets up logging, the data directory and storage, then serves until SIGTERM/ctrl-c.
pub async fn run(args: Args) -> Result<(), setup::SetupError> {
    init_tracing(args.log_format);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| setup::SetupError::Io(format!("listen on {}", args.listen), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| setup::SetupError::Io("local_addr".into(), e))?;
    let ready = setup::prepare(&args, addr.port())?;
    let app = Arc::new(ready.app);
    let router = router(
        app.clone(),
        args.max_body,
        Duration::from_secs(args.request_timeout),
    );
    let (url, p) = (&app.public_url, &ready.paths);
    println!(
        "winmdm-server listening on https://{addr}\n  discovery URL: {url}/EnrollmentServer/Discovery.svc\n  \
         admin API:     {url}/api/v1 (bearer token in {})\n  data dir:      {}\n  \
         device CA:     {}\n  enrollment secret: {}",
        p.admin_token.display(),
        p.dir.display(),
        p.ca_cert.display(),
        p.enrollment_secret.display()
    );
    if args.retention_days > 0 {
        tokio::spawn(prune_hourly(app.store.clone(), args.retention_days));
    }
    tls::serve(listener, ready.tls, router, shutdown_signal()).await;
    tracing::info!("drained, exiting");
    Ok(())
}

/// Retention: deletes answered commands and idle session snapshots older than `days`, at
/// start and then every hour.
async fn prune_hourly(store: Arc<dyn store::Store>, days: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await; // the first tick is at once
        let cutoff = unix_now() - (days * 86_400) as i64;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.prune(cutoff)).await {
            Ok(Ok(r)) => tracing::info!(
                commands = r.commands,
                sessions = r.sessions,
                retention_days = days,
                "pruned old outcomes"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed"),
            Err(e) => tracing::warn!(error = %e, "pruning task failed"),
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: draining in-flight requests");
}
