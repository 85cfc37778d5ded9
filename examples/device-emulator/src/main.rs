//! `winmdm-device`: the device emulator's command line. Each subcommand works on a state
//! directory, so that `enroll`, `sync`, `renew` and `unenroll` can run as separate
//! invocations; each prints a one-line summary, or a message on stderr and exit status 1.
//! `load` runs many devices at once ([`winmdm_device_emulator::load`]).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use winmdm_device_emulator::{Credential, Device, EmuError, EnrollOptions, SyncReport, load};

/// A Windows-like MDM device emulator (enrollment and OMA-DM sessions over HTTPS).
#[derive(Parser)]
#[command(name = "winmdm-device", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enroll a new device (Discovery, GetPolicies, RequestSecurityToken) into STATE_DIR.
    Enroll {
        /// The device's state directory (created).
        #[arg(long)]
        state_dir: PathBuf,
        /// The discovery URL (https://.../EnrollmentServer/Discovery.svc).
        #[arg(long)]
        discovery_url: String,
        /// PEM file of the CA that signs the server's TLS certificate.
        #[arg(long)]
        ca: PathBuf,
        /// OnPremise password (with --upn).
        #[arg(
            long,
            conflicts_with = "token",
            required_unless_present = "token",
            allow_hyphen_values = true
        )]
        secret: Option<String>,
        /// OnPremise user principal name (default: user@ followed by the discovery host).
        #[arg(long, requires = "secret")]
        upn: Option<String>,
        /// A security token for the BinarySecurityToken (Federated / Entra / one-time).
        #[arg(long, allow_hyphen_values = true)]
        token: Option<String>,
        /// The device ID (default: 32 random hex digits).
        #[arg(long)]
        device_id: Option<String>,
    },
    /// Run one management session.
    Sync {
        /// The device's state directory.
        #[arg(long)]
        state_dir: PathBuf,
    },
    /// Renew the MDM certificate (RequestType Renew).
    Renew {
        /// The device's state directory.
        #[arg(long)]
        state_dir: PathBuf,
    },
    /// Unenroll (a session with Alert 1226 user request), then forget the enrollment.
    Unenroll {
        /// The device's state directory.
        #[arg(long)]
        state_dir: PathBuf,
    },
    /// Load generator: enroll (or reuse) N devices, keep them checking in, C sessions at
    /// a time, for S seconds, against servers on this machine only; a progress line on
    /// stderr, a one-line JSON summary on stdout. Device keys come from a pool cached in
    /// STATE_DIR/key-pool (min(N, 64) keys, reused round-robin). Modes: queued commands
    /// per session, an open-loop rate, the transport floor client.
    Load {
        /// Devices (STATE_DIR/dev-NNNNNN; enrolled ones are reused).
        #[arg(long, default_value_t = 10)]
        devices: usize,
        /// Sessions (and enrollments) in progress at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Seconds of check-ins.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// A server's base URL (https://localhost:8443) or discovery URL; repeat to
        /// spread devices over several (round-robin at enrollment). Loopback only.
        #[arg(long = "server", required_unless_present = "floor")]
        servers: Vec<String>,
        /// PEM file of the CA that signs the servers' TLS certificates.
        #[arg(long)]
        ca: PathBuf,
        /// The enrollment secret (not needed with --floor).
        #[arg(long, required_unless_present = "floor", allow_hyphen_values = true)]
        secret: Option<String>,
        /// Where the devices and the key pool live.
        #[arg(long)]
        state_dir: PathBuf,
        /// Keys in the device key pool (default min(devices, 64)).
        #[arg(long)]
        key_pool: Option<usize>,
        /// Longest wait, in seconds, after a failed session (429: Retry-After up to
        /// this), before 0-25 % jitter.
        #[arg(long, default_value_t = 30)]
        max_backoff: u64,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
        /// A full TLS handshake for every session (default: resume the device's previous
        /// TLS session, as Windows does).
        #[arg(long)]
        no_resume: bool,
        /// Before each session, queue K Gets (DevDetail/DevInfo nodes) for the device in
        /// one admin API request (not counted in the session time; needs --admin-token).
        #[arg(long, default_value_t = 0, requires = "admin_token")]
        commands_per_session: usize,
        /// The server's admin bearer token (for --commands-per-session).
        #[arg(long)]
        admin_token: Option<String>,
        /// Open loop: start R sessions per second (still at most --concurrency at once);
        /// default: closed loop.
        #[arg(long)]
        rate: Option<f64>,
        /// Start at most N sessions in all.
        #[arg(long)]
        sessions: Option<u64>,
        /// Transport floor client: the devices already in STATE_DIR make their sessions
        /// against the floor server at this base URL (transport_floor, loopback only):
        /// one keep-alive connection per session with the device's certificate, TLS
        /// resumed between a device's sessions, --messages-per-session POSTs of
        /// --request-bytes each. --server and --secret are not used.
        #[arg(long, requires_all = ["messages_per_session", "request_bytes"])]
        floor: Option<String>,
        /// POSTs per floor session (the measured run's messages_per_session).
        #[arg(long, requires = "floor")]
        messages_per_session: Option<usize>,
        /// Bytes per floor POST (the measured run's request_bytes_mean).
        #[arg(long, requires = "floor")]
        request_bytes: Option<usize>,
        /// Warm-up: before the timed check-ins, every device makes one session (floor
        /// sessions with --floor), --concurrency at a time, for at most SECONDS (bare
        /// --warmup: 60), not counted in the summary's figures nor in --sessions; the
        /// check-ins then resume TLS from their first session. Summed up apart:
        /// warmup_sessions, warmup_s, warmup_errors.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "60")]
        warmup: Option<u64>,
        /// Before the timed check-ins (after enrollment and any warm-up), create FILE and
        /// start them once it is removed (waiting at most 60 s): a script samples the
        /// server there (benches/server/run.sh: its CPU time and metrics).
        #[arg(long, value_name = "FILE")]
        ready_file: Option<PathBuf>,
        /// After the run, write `end_ms latency_ms` per timed session to FILE (from the
        /// start of the check-ins, in order of completion): where a tail comes from.
        #[arg(long, value_name = "FILE")]
        latency_log: Option<PathBuf>,
        /// The load generator's runtime threads (default: one per core). With server and
        /// load generator on one small machine, 1 leaves the server more of it: on 2
        /// cores the same idle check-ins cost the load generator about 12 % less CPU
        /// (fewer wake-ups between threads), at the same peak. A full TLS handshake
        /// (RSA signing) costs a core about 1.5 ms, so full-handshake runs want more.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
    },
}

fn summary(what: &str, d: &Device, r: &SyncReport) -> String {
    let failed = r.commands.iter().filter(|c| c.2 >= 300).count();
    format!(
        "{what} {}: session {}, {} messages, {} commands ({} failed), {} execs",
        d.device_id(),
        r.session_id,
        r.messages,
        r.commands.len(),
        failed,
        r.execs.len()
    )
}

fn host(url: &str) -> String {
    url.parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "example.com".to_owned())
}

async fn run(cmd: Cmd) -> Result<String, EmuError> {
    match cmd {
        Cmd::Enroll {
            state_dir,
            discovery_url,
            ca,
            secret,
            upn,
            token,
            device_id,
        } => {
            let pem = std::fs::read(&ca).map_err(|e| EmuError::State {
                dir: ca.display().to_string(),
                reason: format!("reading the CA: {e}"),
            })?;
            let credential = match (secret, token) {
                (Some(password), _) => Credential::OnPremise {
                    upn: upn.unwrap_or_else(|| format!("user@{}", host(&discovery_url))),
                    password,
                },
                (None, Some(t)) => Credential::Token(t),
                (None, None) => unreachable!("clap requires --secret or --token"),
            };
            let mut opts = EnrollOptions::new(discovery_url, pem, credential);
            opts.device_id = device_id;
            let d = Device::enroll(&state_dir, opts).await?;
            let e = d.enrollment().expect("enrolled");
            Ok(format!(
                "enrolled {} with {} at {} ({} certificate bytes)",
                d.device_id(),
                e.provider_id,
                e.management_url,
                d.certificate_der().len()
            ))
        }
        Cmd::Sync { state_dir } => {
            let mut d = Device::load(&state_dir)?;
            let r = d.sync().await?;
            Ok(summary("synced", &d, &r))
        }
        Cmd::Renew { state_dir } => {
            let mut d = Device::load(&state_dir)?;
            d.renew().await?;
            Ok(format!(
                "renewed {} ({} certificate bytes)",
                d.device_id(),
                d.certificate_der().len()
            ))
        }
        Cmd::Unenroll { state_dir } => {
            let mut d = Device::load(&state_dir)?;
            let r = d.unenroll().await?;
            Ok(summary("unenrolled", &d, &r))
        }
        Cmd::Load { .. } => unreachable!("main runs load"),
    }
}

/// `load`: exit 0 with the JSON summary, 2 for options out of bounds or a
/// non-loopback target, 1 when preparing failed.
async fn load(cmd: Cmd) -> ExitCode {
    let Cmd::Load {
        devices,
        concurrency,
        duration,
        servers,
        ca,
        secret,
        state_dir,
        key_pool,
        max_backoff,
        quiet,
        no_resume,
        commands_per_session,
        admin_token,
        rate,
        sessions,
        floor,
        messages_per_session,
        request_bytes,
        warmup,
        ready_file,
        latency_log,
        threads: _, // taken by main
    } = cmd
    else {
        unreachable!("only load")
    };
    // The targets are checked before the CA file is read.
    for s in &servers {
        if let Err(e) = load::discovery_url(s) {
            eprintln!("winmdm-device: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(f) = &floor
        && let Err(e) = load::floor_url(f)
    {
        eprintln!("winmdm-device: {e}");
        return ExitCode::from(2);
    }
    let pem = match std::fs::read(&ca) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("winmdm-device: reading the CA {}: {e}", ca.display());
            return ExitCode::FAILURE;
        }
    };
    let mut opts = load::LoadOptions::new(servers, pem, secret.unwrap_or_default(), state_dir);
    opts.devices = devices;
    opts.concurrency = concurrency;
    opts.duration = Duration::from_secs(duration);
    opts.key_pool = key_pool;
    opts.max_backoff = Duration::from_secs(max_backoff);
    opts.progress = !quiet;
    opts.tls_resumption = !no_resume;
    opts.commands_per_session = commands_per_session;
    opts.admin_token = admin_token;
    opts.rate = rate;
    opts.session_limit = sessions;
    opts.warmup = warmup.map(Duration::from_secs);
    opts.ready_file = ready_file;
    opts.latency_log = latency_log;
    opts.floor = floor.map(|url| {
        load::FloorOptions::new(
            url,
            messages_per_session.unwrap_or(1),
            request_bytes.unwrap_or(1),
        )
    });
    match load::run(opts).await {
        Ok(s) => {
            println!(
                "{}",
                serde_json::to_string(&s).expect("the summary serializes")
            );
            ExitCode::SUCCESS
        }
        Err(e @ load::LoadError::Usage(_)) => {
            eprintln!("winmdm-device: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("winmdm-device: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Cmd::Load {
        threads: Some(n), ..
    } = &cli.command
    {
        runtime.worker_threads(usize::from(*n));
    }
    match runtime.enable_all().build() {
        Ok(rt) => rt.block_on(run_cli(cli)),
        Err(e) => {
            eprintln!("winmdm-device: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_cli(cli: Cli) -> ExitCode {
    if matches!(cli.command, Cmd::Load { .. }) {
        return load(cli.command).await;
    }
    match run(cli.command).await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("winmdm-device: {e}");
            ExitCode::FAILURE
        }
    }
}
