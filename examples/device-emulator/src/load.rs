//! A load generator (`winmdm-device load`): many emulated devices enroll, then keep
//! checking in, a bounded number of sessions at a time, for a bounded time, against
//! servers on this machine only.
//!
//! [`run`] works in two phases, three with a warm-up:
//!
//! 1. **Enrollment.** Device `i` lives in `STATE_DIR/dev-NNNNNN` (`i` in six digits). A
//!    device already there is reused ([`Device::load`]) when it is enrolled with one of the
//!    given servers' discovery URLs; any other is enrolled again with the enrollment
//!    secret (OnPremise), round-robin over the servers: device `i` enrolls with server
//!    `i % servers`. Its management URL is the one of that server's provisioning
//!    document, so spreading devices over several servers happens at enrollment.
//!    Enrollments run `concurrency` at a time.
//! 2. **Warm-up** (only with [`LoadOptions::warmup`]). Every device makes one session
//!    (a management session, or a floor session with [`LoadOptions::floor`]), in a
//!    closed loop at the run's `concurrency`, one attempt each, no back-off, no queued
//!    commands. The warm-up ends when every device has had its session or at its limit
//!    (the `warmup` duration; a session still running then may finish within
//!    [`DEADLINE_GRACE`]). Its point: the load generator keeps each device's TLS session
//!    tickets in memory only, so without it each device's first session of a run is a
//!    full handshake with its RSA-2048 client key, and with many devices those first
//!    handshakes make a backlog at the start that dominates the tail latency; after it
//!    the check-ins resume TLS from their first one (and any work a server does at a
//!    device's first check-in, such as an inventory, is done). Nothing of it is counted
//!    in the figures of the check-in phase (sessions, latencies, handshakes, messages,
//!    errors, back-offs, CPU) nor in [`LoadOptions::session_limit`]; it is summed up
//!    apart: [`Summary::warmup_sessions`], [`Summary::warmup_s`],
//!    [`Summary::warmup_errors`] (a device the limit left without a session counts as
//!    `not_started` there).
//!
//!    [`LoadOptions::ready_file`] lets a script measure the target between the two
//!    phases (its CPU time, its metrics): after enrollment and any warm-up the load
//!    generator creates the file and starts the check-ins once it is removed (waiting
//!    at most [`READY_WAIT`]).
//! 3. **Check-ins.** Every device runs [`Device::sync`] again and again, at most
//!    `concurrency` sessions in progress at once (a fair semaphore, so devices take
//!    turns), until `duration` has passed. A session still running at the deadline may
//!    finish within [`DEADLINE_GRACE`]; then it is abandoned and counted as a `timeout`.
//!
//! **Device keys.** RSA-2048 key generation costs tens of milliseconds per key (seconds
//! in a debug build), which would dominate an enrollment measurement. The devices draw
//! their keys round-robin from a pool ([`LoadOptions::key_pool`], default
//! `min(devices, 64)`) made once and cached in `STATE_DIR/key-pool/key-NNN.pem`
//! (PKCS#8); device `i` uses key `i % pool`. Several devices thus share a key pair
//! (each has its own certificate); a real Windows device generates its own.
//!
//! **Back-off.** After a failed session the device waits before its next one, as Windows
//! does when its server is overloaded: on an HTTP 429 or 503 at least the server's
//! `Retry-After` (seconds), else, and on repeated failures, an exponential delay from
//! 500 ms, all capped at [`LoadOptions::max_backoff`] and stretched by a random 0-25 %
//! jitter so that refused devices do not come back together ([`backoff`]). The device
//! holds no session slot while it waits. A success resets the delay.
//!
//! **Connections.** As Windows: one keep-alive TLS connection for the messages of a
//! session, and the TLS session resumed between a device's sessions
//! ([`Device::set_tls_resumption`]; [`LoadOptions::tls_resumption`] off makes every
//! session a full handshake, to measure both). [`Summary::tls_full`] and
//! [`Summary::tls_resumed`] count the handshakes of completed sessions. The TLS session
//! tickets live in the load generator's memory, not in the state directory: each run
//! starts without them (hence the warm-up).
//!
//! **Bounds.** At most [`MAX_DEVICES`] devices, [`MAX_CONCURRENCY`] sessions at once,
//! [`MAX_DURATION`]; and loopback targets only: every `--server` must be `https` on
//! `localhost`, `127.0.0.0/8` or `[::1]` ([`discovery_url`]), and so must every device's
//! management URL (a server whose provisioning document points elsewhere is refused).
//!
//! **Summary.** [`Summary`], printed by the command line as one line of JSON. Error
//! kinds ([`error_kind`]): `http_NNN` (an HTTP status the flow does not accept, e.g.
//! `http_429`), `tls`, `fault` (a SOAP fault at enrollment), `io` (connect, reset, the
//! 120 s request timeout), `protocol` (a broken HTTP exchange or a non-SyncML answer),
//! `syncml`, `refused_NNN` (the server's `SyncHdr` status, e.g. 403), `timeout` (past the
//! grace), `other`. Enrollment errors count in the same map; a failed command queueing
//! request counts as `queue_` and its kind (`queue_http_404`).
//!
//! **Modes** of the check-in phase:
//!
//! * *Idle* (default): package 1, the server's answer, done (one message when nothing is
//!   queued).
//! * *Commands* ([`LoadOptions::commands_per_session`] `K` with
//!   [`LoadOptions::admin_token`]): before each session, inside its session slot, `K`
//!   Gets of `DevDetail`/`DevInfo` nodes ([`QUEUED_GETS`]) are queued for the device in
//!   one admin API request (`POST /api/v1/devices/{device_id}/commands` on the device's
//!   server, answered 201 with the ids); the session delivers them and the device's
//!   Results are stored. The queueing request loads the same server but is not part of
//!   the session's time: it is summed up apart ([`Summary::queue_requests`],
//!   [`Summary::queue_p50_ms`], [`Summary::queue_p99_ms`]).
//! * *Open loop* ([`LoadOptions::rate`] `R`): sessions start on a fixed schedule, one
//!   every `1/R` s from the start of the phase, taken by the devices in turn, still at
//!   most `concurrency` at once (a start waits for a free slot, so a server slower than
//!   the schedule lowers the achieved rate: [`Summary::offered_rate`],
//!   [`Summary::achieved_rate`]). Without it the phase is a closed loop: a device starts
//!   its next session as soon as a slot is free.
//!
//!   *Latency in the open loop* counts from the session's scheduled start, not from when
//!   it actually started, so that a server that falls behind is not measured only at the
//!   pace it allows (coordinated omission). A start is delayed when no device is free at
//!   its time (a device that finishes a session takes the next start of the schedule,
//!   already due) or when no session slot is free: the time from the scheduled start (for
//!   a start already due when a device takes it) or from the device's wake-up (for one it
//!   slept until) to the slot is [`Summary::start_delay_p50_ms`] and the like, and it is
//!   added to the session's own time in [`Summary::p50_ms`], [`Summary::p99_ms`], the
//!   per-handshake percentiles and the progress line. Not counted: the timer's wake-up
//!   lag of a device that slept until its start (tokio's timer has millisecond
//!   resolution; that is the client's, not the server's), the commands mode's queueing
//!   request (timed apart), and starts of the schedule no device took before the
//!   deadline (they show as `achieved_rate` below `offered_rate`). The session's own
//!   time, from its actual start, is [`Summary::service_p50_ms`] and
//!   [`Summary::service_p99_ms`]; in a closed loop the start delay is 0 and both are the
//!   same.
//! * *Transport floor* ([`LoadOptions::floor`]): the same devices (already enrolled in
//!   the state directory; nothing is enrolled), the same connection pattern (one
//!   keep-alive TLS connection per session presenting the device's certificate, the TLS
//!   session resumed between a device's sessions unless resumption is off) and the same
//!   number of POSTs per session with bodies of the same size, against a server that
//!   answers every POST with a fixed body (`examples/reference-server/examples/
//!   transport_floor.rs`): what the transport alone costs, to compare a measured run
//!   with. Same summary. With [`LoadOptions::commands_per_session`] the queueing request
//!   goes to the floor server too (same body, same pooled connections), which answers
//!   201 with command ids and queues nothing, so the floor of the commands mode makes
//!   every HTTPS request the measured run makes.
//!
//! [`LoadOptions::session_limit`] stops starting sessions after that many (warm-up
//! sessions not counted), so that a floor run can make as many sessions as the run it is
//! compared with.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use winmdm_enroll::pki::{self, DeviceKey};

use hyper::Method;

use crate::http::Https;
use crate::{Credential, Device, EmuError, EnrollOptions};

/// The most devices one run takes.
pub const MAX_DEVICES: usize = 100_000;
/// The most sessions (or enrollments) in progress at once.
pub const MAX_CONCURRENCY: usize = 4_096;
/// The longest check-in phase, and the longest warm-up limit.
pub const MAX_DURATION: Duration = Duration::from_secs(3_600);
/// The default size cap of the key pool.
pub const DEFAULT_KEY_POOL: usize = 64;
/// The key pool's folder in the state directory.
pub const KEY_POOL_DIR: &str = "key-pool";
/// The discovery path appended to a `--server` base URL.
pub const DISCOVERY_PATH: &str = "/EnrollmentServer/Discovery.svc";
/// How long the load generator waits for [`LoadOptions::ready_file`] to be removed.
pub const READY_WAIT: Duration = Duration::from_secs(60);
/// How long a session running at the deadline may still take.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(5);
/// The most commands queued before one session ([`LoadOptions::commands_per_session`]).
pub const MAX_COMMANDS_PER_SESSION: usize = 100;
/// The highest open-loop rate, sessions per second ([`LoadOptions::rate`]).
pub const MAX_RATE: f64 = 100_000.0;
/// The most POSTs per floor session ([`FloorOptions::messages_per_session`]).
pub const MAX_FLOOR_MESSAGES: usize = 100;
/// The largest floor request body ([`FloorOptions::request_bytes`]).
pub const MAX_FLOOR_REQUEST_BYTES: usize = 1 << 20;
/// The nodes the commands mode reads, in turn (every emulated device has them).
pub const QUEUED_GETS: [&str; 10] = [
    "./DevDetail/SwV",
    "./DevDetail/FwV",
    "./DevDetail/HwV",
    "./DevDetail/OEM",
    "./DevDetail/DevTyp",
    "./DevInfo/Man",
    "./DevInfo/Mod",
    "./DevInfo/DmV",
    "./DevInfo/Lang",
    "./DevInfo/DevId",
];
/// The management path of the transport floor server (the reference server's).
pub const FLOOR_PATH: &str = "/ManagementServer/MDM.svc";

/// The transport floor client ([`LoadOptions::floor`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FloorOptions {
    /// The floor server's base URL (`https://localhost:9443`), loopback only; the
    /// sessions POST to [`FLOOR_PATH`] with Windows's query.
    pub url: String,
    /// POSTs per session (the measured run's `messages_per_session`, rounded), 1 to
    /// [`MAX_FLOOR_MESSAGES`].
    pub messages_per_session: usize,
    /// Bytes of each POST body (the measured run's `request_bytes_mean`), 1 to
    /// [`MAX_FLOOR_REQUEST_BYTES`].
    pub request_bytes: usize,
}

impl FloorOptions {
    /// A floor client for `url`, `messages_per_session` POSTs of `request_bytes` each.
    pub fn new(url: impl Into<String>, messages_per_session: usize, request_bytes: usize) -> Self {
        FloorOptions {
            url: url.into(),
            messages_per_session,
            request_bytes,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Devices (enrolled or reused), 1 to [`MAX_DEVICES`].
    pub devices: usize,
    /// Sessions (and enrollments) in progress at once, 1 to [`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// How long the check-in phase lasts, at most [`MAX_DURATION`].
    pub duration: Duration,
    /// Server base URLs (`https://localhost:8443`) or discovery URLs
    /// (`.../EnrollmentServer/Discovery.svc`), loopback only.
    pub servers: Vec<String>,
    /// PEM of the CA that signs the servers' TLS certificates.
    pub tls_roots_pem: Vec<u8>,
    /// The enrollment secret (OnPremise password).
    pub secret: String,
    /// Where the devices and the key pool live.
    pub state_dir: PathBuf,
    /// Keys in the pool (default `None`: `min(devices, 64)`).
    pub key_pool: Option<usize>,
    /// The longest wait after a failed session, before jitter (default 30 s, the
    /// reference server's `Retry-After`).
    pub max_backoff: Duration,
    /// Print a progress line on stderr about once a second (default true).
    pub progress: bool,
    /// Resume the device's TLS session between its sessions, as Windows does (default
    /// true; false: a full handshake with the RSA client key for every session).
    pub tls_resumption: bool,
    /// Gets queued through the admin API before each session (default 0: idle
    /// check-ins), at most [`MAX_COMMANDS_PER_SESSION`]; needs
    /// [`admin_token`](LoadOptions::admin_token).
    pub commands_per_session: usize,
    /// The servers' admin bearer token (for [`commands_per_session`](Self::commands_per_session)).
    pub admin_token: Option<String>,
    /// Open loop: sessions started per second (default `None`: closed loop), more than 0
    /// and at most [`MAX_RATE`].
    pub rate: Option<f64>,
    /// Start at most this many sessions in all (default `None`: only the duration
    /// bounds the phase).
    pub session_limit: Option<u64>,
    /// Run the transport floor client instead of management sessions (default `None`).
    pub floor: Option<FloorOptions>,
    /// Warm-up before the check-in phase (default `None`: none): every device makes one
    /// session, not counted in the summary's figures, so that the check-ins resume TLS
    /// from their first session (see the module docs); the warm-up lasts at most this
    /// long ([`MAX_DURATION`] at most; sessions running then get [`DEADLINE_GRACE`]).
    pub warmup: Option<Duration>,
    /// Before the check-in phase (after enrollment and any warm-up), create this file and
    /// wait until it is removed, at most [`READY_WAIT`] (default `None`): a script
    /// samples the target there, so that its figures cover the check-ins only.
    pub ready_file: Option<PathBuf>,
    /// After the run, write one line per timed session to this file (default `None`):
    /// `end_ms latency_ms`, the milliseconds from the start of the check-in phase to the
    /// session's end and its latency (as in [`Summary::p99_ms`]), in order of completion.
    /// A tail that comes from a stall shows as a run of long sessions ending together.
    pub latency_log: Option<PathBuf>,
}

impl LoadOptions {
    /// Options with the defaults: 10 devices, concurrency 4, 10 s, key pool
    /// `min(devices, 64)`, back-off up to 30 s, progress on stderr, idle check-ins in a
    /// closed loop against the servers, TLS resumption on, no warm-up.
    pub fn new(
        servers: Vec<String>,
        tls_roots_pem: impl Into<Vec<u8>>,
        secret: impl Into<String>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        LoadOptions {
            devices: 10,
            concurrency: 4,
            duration: Duration::from_secs(10),
            servers,
            tls_roots_pem: tls_roots_pem.into(),
            secret: secret.into(),
            state_dir: state_dir.into(),
            key_pool: None,
            max_backoff: Duration::from_secs(30),
            progress: true,
            tls_resumption: true,
            commands_per_session: 0,
            admin_token: None,
            rate: None,
            session_limit: None,
            floor: None,
            warmup: None,
            ready_file: None,
            latency_log: None,
        }
    }
}

/// Why a run did not start or could not prepare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The options are out of bounds or name a non-loopback target (the command line
    /// exits with status 2).
    #[error("{0}")]
    Usage(String),
    /// Preparing failed (state directory, key pool).
    #[error(transparent)]
    Emu(#[from] EmuError),
}

/// What a run did; the command line prints it as one line of JSON.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Devices in the check-in phase (enrolled now or reused).
    pub devices: usize,
    /// Devices reused from the state directory.
    pub reused: usize,
    /// Enrollments completed in this run.
    pub enrollments: u64,
    /// Wall time of the enrollment phase, seconds.
    pub enrollment_s: f64,
    /// `enrollments / enrollment_s` (0 when nothing was enrolled).
    pub enrollments_per_s: f64,
    /// Sessions completed (every message of each, server status 2xx).
    pub sessions: u64,
    /// SyncML messages sent in completed sessions.
    pub messages: u64,
    /// Wall time of the check-in phase, seconds (the duration, plus sessions finishing).
    pub duration_s: f64,
    /// `sessions / duration_s`.
    pub sessions_per_s: f64,
    /// Median session time of completed sessions, milliseconds; in the open loop from
    /// the session's scheduled start (its start delay included, see the module docs).
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Slowest completed session, milliseconds.
    pub max_ms: f64,
    /// TLS connections of completed sessions that made a full handshake.
    pub tls_full: u64,
    /// TLS connections of completed sessions that resumed the device's previous TLS
    /// session (without a warm-up, the first session of each device in a run is a full
    /// handshake).
    pub tls_resumed: u64,
    /// Waits after a failed session.
    pub backoffs: u64,
    /// Failures by kind ([`error_kind`]), enrollment and sessions together.
    pub errors: BTreeMap<String, u64>,
    /// Servers the devices were spread over.
    pub servers: usize,
    /// Sessions in progress at once, at most.
    pub concurrency: usize,
    /// Keys in the device key pool (0 when every device was reused: no pool loaded).
    pub key_pool: usize,
    /// `server` (management sessions) or `floor` (the transport floor client).
    pub mode: &'static str,
    /// Sessions started in the check-in phase (completed, failed or abandoned).
    pub sessions_started: u64,
    /// `messages / sessions` (0 without sessions).
    pub messages_per_session: f64,
    /// Mean size of the device's management messages (HTTP request bodies) in completed
    /// sessions, bytes.
    pub request_bytes_mean: f64,
    /// Mean size of the server's answers (HTTP response bodies) in completed sessions,
    /// bytes.
    pub response_bytes_mean: f64,
    /// Completed sessions whose connection made a full TLS handshake.
    pub sessions_full: u64,
    /// Median time of those, milliseconds (0 without any).
    pub p50_full_ms: f64,
    /// 99th percentile of those, milliseconds.
    pub p99_full_ms: f64,
    /// Completed sessions whose connections all resumed a TLS session.
    pub sessions_resumed: u64,
    /// Median time of those, milliseconds (0 without any).
    pub p50_resumed_ms: f64,
    /// 99th percentile of those, milliseconds.
    pub p99_resumed_ms: f64,
    /// The open-loop schedule, sessions per second (`null`: closed loop).
    pub offered_rate: Option<f64>,
    /// Sessions started per second of the configured duration.
    pub achieved_rate: f64,
    /// Gets queued before each session (0: idle check-ins).
    pub commands_per_session: usize,
    /// Admin API requests that queued commands (each answered 201); they load the same
    /// server but are not part of the session times.
    pub queue_requests: u64,
    /// Commands those requests queued (ids returned).
    pub commands_queued: u64,
    /// Gets the devices answered in completed sessions (the queued ones, and any the
    /// server queued by itself, such as an inventory at a device's first session).
    pub commands_answered: u64,
    /// Median time of a queueing request, milliseconds (0 without any).
    pub queue_p50_ms: f64,
    /// 99th percentile of a queueing request, milliseconds.
    pub queue_p99_ms: f64,
    /// CPU time of this process (user + system, all threads) during the check-in phase,
    /// seconds, from `/proc/self/stat` (`null` where it cannot be read): the client's
    /// share of a machine it shares with the server.
    pub client_cpu_s: Option<f64>,
    /// Median time of completed sessions from their actual start (the session alone,
    /// without its start delay), milliseconds; equal to [`p50_ms`](Self::p50_ms) in a
    /// closed loop.
    pub service_p50_ms: f64,
    /// 99th percentile of the same, milliseconds.
    pub service_p99_ms: f64,
    /// Open loop: median delay of completed sessions from their scheduled start to their
    /// session slot (module docs), milliseconds; 0 in a closed loop.
    pub start_delay_p50_ms: f64,
    /// 99th percentile of the same, milliseconds.
    pub start_delay_p99_ms: f64,
    /// Longest of the same, milliseconds.
    pub start_delay_max_ms: f64,
    /// Warm-up sessions completed ([`LoadOptions::warmup`]; 0 without a warm-up): one per
    /// device when every device warmed up.
    pub warmup_sessions: u64,
    /// Wall time of the warm-up, seconds (0 without one).
    pub warmup_s: f64,
    /// Failed warm-up sessions by kind ([`error_kind`], plus `timeout` and `not_started`
    /// for a device the warm-up's limit left without a session); not in
    /// [`errors`](Self::errors).
    pub warmup_errors: BTreeMap<String, u64>,
}

/// The kind an error is counted under in [`Summary::errors`].
pub fn error_kind(e: &EmuError) -> String {
    match e {
        EmuError::Http { status, .. } => format!("http_{status}"),
        EmuError::Tls(_) => "tls".into(),
        EmuError::Fault { .. } => "fault".into(),
        EmuError::Io(_) => "io".into(),
        EmuError::Protocol(_) => "protocol".into(),
        EmuError::SyncMl(_) | EmuError::Session(_) => "syncml".into(),
        EmuError::Refused { status, .. } => format!("refused_{status}"),
        _ => "other".into(),
    }
}

/// The wait before the next attempt after `failures` consecutive failures (1 for the
/// first), the last with `retry_after` seconds from the server: the larger of
/// `retry_after` and 500 ms doubled per earlier failure, capped at `max`, times a random
/// factor in [1, 1.25).
pub fn backoff(retry_after: Option<u64>, failures: u32, max: Duration) -> Duration {
    let exp = Duration::from_millis(500u64 << failures.saturating_sub(1).min(16));
    let base = retry_after.map_or(exp, |s| Duration::from_secs(s).max(exp));
    let jitter = 1.0 + 0.25 * rand::random::<f64>();
    base.min(max).mul_f64(jitter)
}

/// Whether `host` (as in a URL, IPv6 in brackets or not) is this machine: `localhost`,
/// `127.0.0.0/8`, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn loopback_https(url: &str, what: &str) -> Result<hyper::Uri, LoadError> {
    let u: hyper::Uri = url
        .parse()
        .map_err(|e| LoadError::Usage(format!("{what} {url:?} is not a URL: {e}")))?;
    if u.scheme_str() != Some("https") {
        return Err(LoadError::Usage(format!("{what} {url:?} is not https")));
    }
    let host = u
        .host()
        .ok_or_else(|| LoadError::Usage(format!("{what} {url:?} has no host")))?;
    if !is_loopback_host(host) {
        return Err(LoadError::Usage(format!(
            "{what} {url:?}: the load generator only targets this machine \
             (localhost, 127.0.0.0/8, [::1]), not {host}"
        )));
    }
    Ok(u)
}

/// The discovery URL of a `--server`: a base URL (`https://localhost:8443`) gets
/// [`DISCOVERY_PATH`]; a URL whose path already ends in `/Discovery.svc` is kept. A
/// non-https or non-loopback URL, or another path, is [`LoadError::Usage`].
pub fn discovery_url(server: &str) -> Result<String, LoadError> {
    let u = loopback_https(server.trim(), "--server")?;
    let path = u.path();
    if path.is_empty() || path == "/" {
        let auth = u.authority().map(|a| a.as_str()).unwrap_or_default();
        Ok(format!("https://{auth}{DISCOVERY_PATH}"))
    } else if path.ends_with("/Discovery.svc") {
        Ok(server.trim().to_owned())
    } else {
        Err(LoadError::Usage(format!(
            "--server {server:?}: give the base URL (https://localhost:8443) or the \
             discovery URL (...{DISCOVERY_PATH})"
        )))
    }
}

fn check(opts: &LoadOptions) -> Result<Vec<String>, LoadError> {
    let usage = |m: String| Err(LoadError::Usage(m));
    if opts.devices == 0 || opts.devices > MAX_DEVICES {
        return usage(format!("--devices must be 1 to {MAX_DEVICES}"));
    }
    if opts.concurrency == 0 || opts.concurrency > MAX_CONCURRENCY {
        return usage(format!("--concurrency must be 1 to {MAX_CONCURRENCY}"));
    }
    if opts.duration > MAX_DURATION {
        return usage(format!(
            "--duration must be at most {} s",
            MAX_DURATION.as_secs()
        ));
    }
    if opts.warmup.is_some_and(|w| w > MAX_DURATION) {
        return usage(format!(
            "--warmup must be at most {} s",
            MAX_DURATION.as_secs()
        ));
    }
    if opts.key_pool == Some(0) {
        return usage("the key pool needs at least one key".into());
    }
    if opts.commands_per_session > MAX_COMMANDS_PER_SESSION {
        return usage(format!(
            "--commands-per-session must be at most {MAX_COMMANDS_PER_SESSION}"
        ));
    }
    if opts.commands_per_session > 0 && opts.admin_token.as_deref().is_none_or(str::is_empty) {
        return usage("--commands-per-session needs --admin-token".into());
    }
    if let Some(r) = opts.rate
        && !(r > 0.0 && r <= MAX_RATE)
    {
        return usage(format!("--rate must be more than 0 and at most {MAX_RATE}"));
    }
    if let Some(f) = &opts.floor {
        if f.messages_per_session == 0 || f.messages_per_session > MAX_FLOOR_MESSAGES {
            return usage(format!(
                "--messages-per-session must be 1 to {MAX_FLOOR_MESSAGES}"
            ));
        }
        if f.request_bytes == 0 || f.request_bytes > MAX_FLOOR_REQUEST_BYTES {
            return usage(format!(
                "--request-bytes must be 1 to {MAX_FLOOR_REQUEST_BYTES}"
            ));
        }
        floor_url(&f.url)?;
    } else if opts.servers.is_empty() {
        return usage("at least one --server is needed".into());
    }
    opts.servers.iter().map(|s| discovery_url(s)).collect()
}

/// The request URL of a floor server's base URL (`https://localhost:9443`): its
/// [`FLOOR_PATH`] with Windows's query. Loopback https only, like `--server`.
pub fn floor_url(base: &str) -> Result<String, LoadError> {
    let u = loopback_https(base.trim(), "--floor")?;
    let auth = u.authority().map(|a| a.as_str()).unwrap_or_default();
    match u.path() {
        "" | "/" | FLOOR_PATH => Ok(crate::management_request_url(&format!(
            "https://{auth}{FLOOR_PATH}"
        ))),
        _ => Err(LoadError::Usage(format!(
            "--floor {base:?}: give the floor server's base URL (https://localhost:9443)"
        ))),
    }
}

fn state_err(dir: &Path, reason: String) -> EmuError {
    EmuError::State {
        dir: dir.display().to_string(),
        reason,
    }
}

/// A pool key and its PKCS#8 PEM (kept: encoding the key again for every enrollment
/// cost the `rsa` crate a modular inversion each time).
type PoolKey = (DeviceKey, String);

/// Loads the key pool from `STATE_DIR/key-pool`, generating (in parallel, off the
/// runtime) and writing the keys that are missing.
async fn key_pool(state_dir: &Path, size: usize) -> Result<Vec<PoolKey>, EmuError> {
    let dir = state_dir.join(KEY_POOL_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| state_err(&dir, e.to_string()))?;
    let mut keys: Vec<Option<PoolKey>> = vec![None; size];
    let mut missing = tokio::task::JoinSet::new();
    for (j, slot) in keys.iter_mut().enumerate() {
        let path = dir.join(format!("key-{j:03}.pem"));
        if let Ok(pem) = std::fs::read_to_string(&path)
            && let Ok(k) = DeviceKey::from_pkcs8_pem(&pem)
        {
            *slot = Some((k, pem));
            continue;
        }
        missing.spawn_blocking(move || {
            let k = DeviceKey::generate(2048, &mut pki::default_rng())
                .map_err(|e| EmuError::Enroll(format!("key generation: {e}")))?;
            let pem = k
                .to_pkcs8_pem()
                .map_err(|e| EmuError::Enroll(format!("device key: {e}")))?;
            write_private(&path, pem.as_bytes())?;
            Ok::<_, EmuError>((j, (k, pem)))
        });
    }
    while let Some(r) = missing.join_next().await {
        let (j, k) = r.map_err(|e| EmuError::Enroll(format!("key generation: {e}")))??;
        keys[j] = Some(k);
    }
    Ok(keys.into_iter().flatten().collect())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), EmuError> {
    std::fs::write(path, bytes).map_err(|e| state_err(path, e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| state_err(path, e.to_string()))?;
    }
    Ok(())
}

/// Counters shared by the tasks.
#[derive(Default)]
struct Stats {
    enrollments: AtomicU64,
    sessions: AtomicU64,
    messages: AtomicU64,
    tls_full: AtomicU64,
    tls_resumed: AtomicU64,
    backoffs: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    gets: AtomicU64,
    queue_requests: AtomicU64,
    commands_queued: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Session times of completed sessions, microseconds (in the open loop from the
    /// scheduled start).
    latencies: Mutex<Vec<u32>>,
    /// When each timed session ended and its latency (µs), in order of completion, kept
    /// only with a [`LoadOptions::latency_log`] (`None` otherwise).
    ends: Option<Mutex<Vec<(Instant, u32)>>>,
    /// The sessions alone, from their actual start, microseconds.
    service: Mutex<Vec<u32>>,
    /// Their start delays (open loop), microseconds.
    start_delays: Mutex<Vec<u32>>,
    /// The same, split by handshake kind: (full, resumed).
    by_kind: Mutex<(Vec<u32>, Vec<u32>)>,
    /// Times of the queueing requests, microseconds.
    queue_latencies: Mutex<Vec<u32>>,
}

/// What one completed session did, in either mode.
#[derive(Debug, Default)]
struct Done {
    messages: usize,
    connections: usize,
    resumed: usize,
    request_bytes: usize,
    response_bytes: usize,
    gets: usize,
}

impl Done {
    fn of(r: &crate::SyncReport) -> Done {
        Done {
            messages: r.messages,
            connections: r.connections,
            resumed: r.resumed,
            request_bytes: r.transcript.iter().map(|x| x.request.len()).sum(),
            response_bytes: r.transcript.iter().map(|x| x.response.len()).sum(),
            gets: r.commands.iter().filter(|c| c.0 == "Get").count(),
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stats {
    fn error(&self, kind: String) {
        *locked(&self.errors).entry(kind).or_default() += 1;
    }

    /// A completed session: `took` from its actual start, `delay` before it (open loop).
    fn session(&self, took: Duration, delay: Duration, r: &Done) {
        let add = |c: &AtomicU64, n: usize| c.fetch_add(n as u64, Ordering::Relaxed);
        add(&self.sessions, 1);
        add(&self.messages, r.messages);
        let resumed = r.resumed.min(r.connections);
        add(&self.tls_resumed, resumed);
        add(&self.tls_full, r.connections - resumed);
        add(&self.request_bytes, r.request_bytes);
        add(&self.response_bytes, r.response_bytes);
        add(&self.gets, r.gets);
        locked(&self.service).push(micros(took));
        locked(&self.start_delays).push(micros(delay));
        let us = micros(took + delay);
        locked(&self.latencies).push(us);
        if let Some(ends) = &self.ends {
            locked(ends).push((Instant::now(), us));
        }
        let mut k = locked(&self.by_kind);
        if resumed < r.connections {
            k.0.push(us)
        } else {
            k.1.push(us)
        }
    }

    fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn error_count(&self) -> u64 {
        self.errors().values().sum()
    }
}

fn errors_text(e: &BTreeMap<String, u64>) -> String {
    if e.is_empty() {
        return "none".into();
    }
    e.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The nearest-rank percentile `p` (0 to 1) of sorted microseconds, in milliseconds.
fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn device_dir(state_dir: &Path, i: usize) -> PathBuf {
    state_dir.join(format!("dev-{i:06}"))
}

fn check_management_url(d: &Device) -> Result<(), EmuError> {
    let url = d
        .enrollment()
        .map(|e| e.management_url.clone())
        .unwrap_or_default();
    loopback_https(&url, "management URL")
        .map(|_| ())
        .map_err(|e| EmuError::Protocol(e.to_string()))
}

/// A device from the state directory that is enrolled with one of `discovery`'s
/// servers at a loopback management URL.
fn reusable(dir: &Path, discovery: &[String]) -> Option<Device> {
    let d = Device::load(dir).ok()?;
    let e = d.enrollment()?;
    let from = e.discovery_url.as_deref()?;
    (discovery.iter().any(|u| u == from) && check_management_url(&d).is_ok()).then_some(d)
}

/// Enrolls device `i` with `discovery_url`, retrying after 429/503 and I/O errors (at
/// most 3 attempts, with [`backoff`]).
async fn enroll_one(
    dir: PathBuf,
    discovery_url: String,
    opts: Arc<LoadOptions>,
    (key, key_pem): PoolKey,
    stats: Arc<Stats>,
) -> Option<Device> {
    let host = discovery_url
        .parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    for attempt in 1..=3u32 {
        let mut eo = EnrollOptions::new(
            discovery_url.clone(),
            opts.tls_roots_pem.clone(),
            Credential::OnPremise {
                upn: format!("user@{host}"),
                password: opts.secret.clone(),
            },
        );
        eo.key = Some(key.clone());
        eo.key_pem = Some(key_pem.clone());
        let r = Device::enroll(&dir, eo).await;
        let r = r.and_then(|d| check_management_url(&d).map(|()| d));
        match r {
            Ok(d) => {
                stats.enrollments.fetch_add(1, Ordering::Relaxed);
                return Some(d);
            }
            Err(e) => {
                stats.error(error_kind(&e));
                let (retry, ra) = match &e {
                    EmuError::Http {
                        status: 429 | 503,
                        retry_after,
                        ..
                    } => (true, *retry_after),
                    EmuError::Io(_) => (true, None),
                    _ => (false, None),
                };
                if !retry || attempt == 3 {
                    if opts.progress {
                        eprintln!("load: enrolling {}: {e}", dir.display());
                    }
                    return None;
                }
                stats.backoffs.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff(ra, attempt, opts.max_backoff)).await;
            }
        }
    }
    None
}

/// The open-loop schedule: start `i` is due at `first + i * interval`.
struct Pacer {
    next: Mutex<tokio::time::Instant>,
    interval: Duration,
}

impl Pacer {
    /// The next start time of the schedule (each is handed out once).
    fn ticket(&self) -> tokio::time::Instant {
        let mut n = locked(&self.next);
        let t = *n;
        *n += self.interval;
        t
    }
}

/// Admin API clients for queueing commands, shared by the devices (a connection is
/// taken for one request and put back, so their number stays near the concurrency).
struct Admin {
    token: String,
    tls: Arc<rustls::ClientConfig>,
    idle: Mutex<Vec<Https>>,
    /// The authority requests go to instead of the device's management server's: the
    /// transport floor server's, which answers them as the admin API would (201 and
    /// command ids) and queues nothing.
    floor: Option<String>,
}

/// The fragment of `k` Gets (CmdIDs from 1) over [`QUEUED_GETS`], in turn.
pub fn queued_gets(k: usize) -> String {
    (0..k)
        .map(|i| {
            format!(
                "<Get><CmdID>{}</CmdID><Item><Target><LocURI>{}</LocURI></Target></Item></Get>",
                i + 1,
                QUEUED_GETS[i % QUEUED_GETS.len()]
            )
        })
        .collect()
}

impl Admin {
    /// Queues `k` Gets for `device` on its management server; the number of ids.
    async fn queue(&self, device: &Device, k: usize) -> Result<usize, EmuError> {
        let e = device
            .enrollment()
            .ok_or_else(|| EmuError::NotEnrolled(device.state_dir().display().to_string()))?;
        let uri: hyper::Uri = self
            .floor
            .as_deref()
            .unwrap_or(&e.management_url)
            .parse()
            .map_err(|x| EmuError::Protocol(format!("management URL: {x}")))?;
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let url = format!(
            "https://{authority}/api/v1/devices/{}/commands",
            device.device_id()
        );
        let body = serde_json::json!({ "syncml": queued_gets(k) }).to_string();
        let headers = [
            ("Authorization", format!("Bearer {}", self.token)),
            ("Content-Type", "application/json".to_owned()),
        ];
        let mut http = locked(&self.idle)
            .pop()
            .unwrap_or_else(|| Https::with_config(self.tls.clone()));
        let r = http
            .request(Method::POST, &url, &headers, body.into_bytes())
            .await?;
        locked(&self.idle).push(http);
        if r.status != 201 {
            return Err(EmuError::http_retry(
                r.status,
                &r.body,
                r.header("retry-after"),
            ));
        }
        let ids: serde_json::Value = serde_json::from_slice(&r.body)
            .map_err(|x| EmuError::Protocol(format!("admin API answer: {x}")))?;
        Ok(ids["command_ids"].as_array().map_or(0, Vec::len))
    }
}

/// The transport floor target.
struct FloorTarget {
    /// The full request URL.
    url: String,
    messages: usize,
    body: Vec<u8>,
    roots_pem: Vec<u8>,
}

/// A request body of `n` bytes: an XML comment (the floor server does not read it).
fn floor_body(n: usize) -> Vec<u8> {
    let mut b = b"<!--".to_vec();
    b.resize(n.saturating_sub(3).max(4), b'x');
    b.extend_from_slice(b"-->");
    b.truncate(n);
    b
}

impl FloorTarget {
    /// One floor session: the device's connection pattern, `messages` POSTs.
    async fn session(
        &self,
        device: &Device,
        resume: bool,
        cached: &mut Option<Arc<rustls::ClientConfig>>,
        ms_cv: &mut u64,
    ) -> Result<Done, EmuError> {
        let e = device
            .enrollment()
            .ok_or_else(|| EmuError::NotEnrolled(device.state_dir().display().to_string()))?;
        let tls = match cached {
            Some(c) if resume => c.clone(),
            _ => {
                let mut chain = vec![e.certificate_der.clone()];
                chain.extend(e.intermediates_der.iter().cloned());
                let c = crate::http::client_config(&self.roots_pem, Some((chain, &e.key_pem)))?;
                if resume {
                    *cached = Some(c.clone());
                }
                c
            }
        };
        let mut http = Https::with_config(tls);
        let mut done = Done::default();
        for _ in 0..self.messages {
            let mut headers: Vec<(&str, String)> = Vec::new();
            for (n, v) in crate::MANAGEMENT_HEADERS {
                headers.push((n, v.to_owned()));
                if n == "Accept-Encoding"
                    && let Some(id) = &e.ent_dmid
                {
                    headers.push(("Client-Request-Id", id.clone()));
                }
            }
            *ms_cv += 1;
            headers.push(("MS-CV", format!("FloorFloorFloor0.0.0.{ms_cv}")));
            headers.push(("User-Agent", crate::MANAGEMENT_USER_AGENT.to_owned()));
            let r = http
                .request(Method::POST, &self.url, &headers, self.body.clone())
                .await;
            done.connections = http.connections;
            done.resumed = http.resumed;
            let r = r?;
            if r.status != 200 {
                return Err(EmuError::http_retry(
                    r.status,
                    &r.body,
                    r.header("retry-after"),
                ));
            }
            done.messages += 1;
            done.request_bytes += self.body.len();
            done.response_bytes += r.body.len();
        }
        Ok(done)
    }
}

/// What the session tasks of a phase (warm-up or check-ins) share.
struct Phase {
    opts: Arc<LoadOptions>,
    stats: Arc<Stats>,
    slots: Arc<Semaphore>,
    deadline: tokio::time::Instant,
    pacer: Option<Pacer>,
    started: AtomicU64,
    admin: Option<Admin>,
    floor: Option<Arc<FloorTarget>>,
}

/// One device and what its client keeps between sessions (the floor client's TLS
/// configuration, whose session cache holds the tickets, and its MS-CV counter), from
/// the warm-up to the end of the check-ins.
struct Client {
    device: Device,
    floor_tls: Option<Arc<rustls::ClientConfig>>,
    ms_cv: u64,
}

impl Client {
    fn new(mut device: Device, opts: &LoadOptions) -> Client {
        device.set_lazy_save(true);
        device.set_tls_resumption(opts.tls_resumption);
        Client {
            device,
            floor_tls: None,
            ms_cv: 0,
        }
    }

    /// One session: a management session, or a floor session with a floor target.
    async fn session(&mut self, ph: &Phase) -> Result<Done, EmuError> {
        match &ph.floor {
            None => self.device.sync().await.map(|r| Done::of(&r)),
            Some(f) => {
                f.session(
                    &self.device,
                    ph.opts.tls_resumption,
                    &mut self.floor_tls,
                    &mut self.ms_cv,
                )
                .await
            }
        }
    }

    /// Saves the device's state if a session left some of it unsaved.
    fn save(&self, stats: &Stats, progress: bool) {
        if !self.device.is_saved()
            && let Err(e) = self.device.save()
        {
            stats.error(error_kind(&e));
            if progress {
                eprintln!("load: saving {}: {e}", self.device.state_dir().display());
            }
        }
    }
}

/// One device's warm-up session (counted in the warm-up's own [`Stats`]); the client
/// back for the check-ins.
async fn warm_up(mut c: Client, ph: Arc<Phase>) -> Client {
    let slot = match tokio::time::timeout_at(ph.deadline, ph.slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) if tokio::time::Instant::now() < ph.deadline => slot,
        _ => {
            ph.stats.error("not_started".into());
            return c;
        }
    };
    ph.started.fetch_add(1, Ordering::Relaxed);
    let start = Instant::now();
    let r = tokio::time::timeout_at(ph.deadline + DEADLINE_GRACE, c.session(&ph)).await;
    drop(slot);
    match r {
        Ok(Ok(done)) => ph.stats.session(start.elapsed(), Duration::ZERO, &done),
        Ok(Err(e)) => ph.stats.error(error_kind(&e)),
        Err(_) => ph.stats.error("timeout".into()),
    }
    c
}

/// One device's check-ins until the deadline; the client back, its state saved by the
/// caller once every device is done (the sessions save only what changes more than the
/// counters: [`Device::set_lazy_save`]). Saving here, on the runtime's threads while
/// other devices' sessions still run, stalled them at the end of every run.
async fn check_in(mut c: Client, ph: Arc<Phase>) -> Client {
    sessions(&mut c, &ph).await;
    c
}

async fn sessions(c: &mut Client, ph: &Phase) {
    let opts = &ph.opts;
    let mut failures = 0u32;
    loop {
        // The open loop's reference for the start delay: the scheduled start when it was
        // already due as the device took it, else the device's wake-up at it.
        let mut due = None;
        if let Some(p) = &ph.pacer {
            let taken = tokio::time::Instant::now();
            let t = p.ticket();
            if t >= ph.deadline {
                return;
            }
            if t > taken {
                tokio::time::sleep_until(t).await;
                due = Some(tokio::time::Instant::now());
            } else {
                due = Some(t);
            }
        }
        let Ok(Ok(slot)) =
            tokio::time::timeout_at(ph.deadline, ph.slots.clone().acquire_owned()).await
        else {
            return;
        };
        let acquired = tokio::time::Instant::now();
        if acquired >= ph.deadline {
            return;
        }
        let delay = due.map_or(Duration::ZERO, |d| acquired.saturating_duration_since(d));
        let n = ph.started.fetch_add(1, Ordering::Relaxed);
        if opts.session_limit.is_some_and(|l| n >= l) {
            return;
        }
        let mut queue_error = None;
        if let Some(admin) = &ph.admin {
            let t = Instant::now();
            match admin.queue(&c.device, opts.commands_per_session).await {
                Ok(ids) => {
                    locked(&ph.stats.queue_latencies).push(micros(t.elapsed()));
                    ph.stats.queue_requests.fetch_add(1, Ordering::Relaxed);
                    ph.stats
                        .commands_queued
                        .fetch_add(ids as u64, Ordering::Relaxed);
                }
                Err(e) => queue_error = Some(e),
            }
        }
        let retry_after = if let Some(e) = queue_error {
            drop(slot);
            ph.stats.error(format!("queue_{}", error_kind(&e)));
            match e {
                EmuError::Http { retry_after, .. } => retry_after,
                _ => None,
            }
        } else {
            let start = Instant::now();
            let r = tokio::time::timeout_at(ph.deadline + DEADLINE_GRACE, c.session(ph)).await;
            drop(slot);
            match r {
                Ok(Ok(done)) => {
                    ph.stats.session(start.elapsed(), delay, &done);
                    failures = 0;
                    continue;
                }
                Ok(Err(e)) => {
                    ph.stats.error(error_kind(&e));
                    match e {
                        EmuError::Http { retry_after, .. } => retry_after,
                        _ => None,
                    }
                }
                Err(_) => {
                    ph.stats.error("timeout".into());
                    return;
                }
            }
        };
        failures = failures.saturating_add(1);
        ph.stats.backoffs.fetch_add(1, Ordering::Relaxed);
        let wake = tokio::time::Instant::now() + backoff(retry_after, failures, opts.max_backoff);
        tokio::time::sleep_until(wake.min(ph.deadline)).await;
    }
}

/// Creates `path` and waits until it is gone (at most [`READY_WAIT`]). A failure is
/// reported on stderr and the run goes on (the devices' state is saved at the end).
async fn ready_gate(path: &Path) {
    if let Err(e) = std::fs::write(path, b"ready\n") {
        eprintln!("load: creating {}: {e}; not waiting", path.display());
        return;
    }
    let until = Instant::now() + READY_WAIT;
    while path.exists() {
        if Instant::now() >= until {
            eprintln!(
                "load: {} still there after {} s; starting the check-ins",
                path.display(),
                READY_WAIT.as_secs()
            );
            let _ = std::fs::remove_file(path);
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// CPU time of this process so far (user + system), seconds; Linux only.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ, 100 on Linux (the unit of /proc/PID/stat whatever the kernel's HZ).
    Some(ticks as f64 / 100.0)
}

/// Prints a progress line on stderr about once a second until dropped.
fn progress(stats: Arc<Stats>, phase: &'static str, total: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut last = 0u64;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let errors = stats.errors();
            let t = start.elapsed().as_secs_f64();
            if phase == "enroll" {
                let n = stats.enrollments.load(Ordering::Relaxed);
                eprintln!(
                    "load: {t:.0} s, enrolled {n}/{total} ({:.0}/s), errors: {}",
                    n as f64 / t,
                    errors_text(&errors)
                );
            } else {
                let n = stats.sessions.load(Ordering::Relaxed);
                let what = if phase == "warmup" {
                    format!("warm-up {n}/{total} sessions")
                } else {
                    format!("{n} sessions")
                };
                let p50 = {
                    let mut l = stats
                        .latencies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    l.sort_unstable();
                    percentile_ms(&l, 0.5)
                };
                eprintln!(
                    "load: {t:.0} s, {what} ({} in the last second), p50 {p50:.1} ms, \
                     backoffs {}, errors: {}",
                    n - last,
                    stats.backoffs.load(Ordering::Relaxed),
                    errors_text(&errors)
                );
                last = n;
            }
        }
    })
}

/// Runs the load: enrolls (or reuses) the devices, then keeps them checking in for
/// `opts.duration` (in the mode the options choose, see the module docs), and sums up. Options out of bounds and non-loopback targets are
/// [`LoadError::Usage`], checked before anything is sent; failures of single
/// enrollments and sessions are counted in [`Summary::errors`], not returned.
pub async fn run(opts: LoadOptions) -> Result<Summary, LoadError> {
    let discovery = check(&opts)?;
    let opts = Arc::new(opts);
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| LoadError::Emu(state_err(&opts.state_dir, e.to_string())))?;
    let pool_size = opts
        .key_pool
        .unwrap_or(DEFAULT_KEY_POOL)
        .min(opts.devices)
        .max(1);
    let stats = Arc::new(Stats {
        ends: opts.latency_log.as_ref().map(|_| Mutex::default()),
        ..Stats::default()
    });

    // Phase 1: enrollment (or reuse); the floor client only reuses.
    let mut devices: Vec<Device> = Vec::with_capacity(opts.devices);
    let mut to_enroll = Vec::new();
    for i in 0..opts.devices {
        let dir = device_dir(&opts.state_dir, i);
        if opts.floor.is_some() {
            match Device::load(&dir) {
                Ok(d) if d.enrollment().is_some() => devices.push(d),
                _ => {
                    return Err(LoadError::Emu(EmuError::NotEnrolled(format!(
                        "{} (the floor client needs the devices of a measured run)",
                        dir.display()
                    ))));
                }
            }
            continue;
        }
        match reusable(&dir, &discovery) {
            Some(d) => devices.push(d),
            None => to_enroll.push((i, dir)),
        }
    }
    let reused = devices.len();
    let keys = if to_enroll.is_empty() {
        Vec::new()
    } else {
        if opts.progress {
            eprintln!(
                "load: {reused} devices reused, {} to enroll; key pool of {pool_size} in {}",
                to_enroll.len(),
                opts.state_dir.join(KEY_POOL_DIR).display()
            );
        }
        key_pool(&opts.state_dir, pool_size).await?
    };
    let enroll_start = Instant::now();
    if !to_enroll.is_empty() {
        let ticker = opts
            .progress
            .then(|| progress(stats.clone(), "enroll", to_enroll.len()));
        let slots = Arc::new(Semaphore::new(opts.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for (i, dir) in to_enroll {
            let url = discovery[i % discovery.len()].clone();
            let key = keys[i % keys.len()].clone();
            let (opts, stats, slots) = (opts.clone(), stats.clone(), slots.clone());
            set.spawn(async move {
                let _slot = slots.acquire_owned().await.ok()?;
                enroll_one(dir, url, opts, key, stats).await
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Some(d)) = r {
                devices.push(d);
            }
        }
        if let Some(t) = ticker {
            t.abort();
        }
    }
    let enrollment_s = enroll_start.elapsed().as_secs_f64();
    let enrollments = stats.enrollments.load(Ordering::Relaxed);

    let n_devices = devices.len();
    let floor = match &opts.floor {
        Some(f) => Some(Arc::new(FloorTarget {
            url: floor_url(&f.url)?,
            messages: f.messages_per_session,
            body: floor_body(f.request_bytes),
            roots_pem: opts.tls_roots_pem.clone(),
        })),
        None => None,
    };
    let mut clients: Vec<Client> = devices.into_iter().map(|d| Client::new(d, &opts)).collect();

    // Phase 2: the warm-up, one session per device, counted apart.
    let warm_stats = Arc::new(Stats::default());
    let mut warmup_s = 0.0;
    if let Some(limit) = opts.warmup {
        if opts.progress {
            eprintln!(
                "load: warm-up: one session for each of {n_devices} devices, {} at a time, \
                 at most {} s",
                opts.concurrency,
                limit.as_secs_f64()
            );
        }
        let ticker = opts
            .progress
            .then(|| progress(warm_stats.clone(), "warmup", n_devices));
        let start = Instant::now();
        let warm = Arc::new(Phase {
            opts: opts.clone(),
            stats: warm_stats.clone(),
            slots: Arc::new(Semaphore::new(opts.concurrency)),
            deadline: tokio::time::Instant::now() + limit,
            pacer: None,
            started: AtomicU64::new(0),
            admin: None,
            floor: floor.clone(),
        });
        let mut set = tokio::task::JoinSet::new();
        for c in clients {
            set.spawn(warm_up(c, warm.clone()));
        }
        clients = Vec::with_capacity(n_devices);
        while let Some(r) = set.join_next().await {
            if let Ok(c) = r {
                clients.push(c);
            }
        }
        warmup_s = start.elapsed().as_secs_f64();
        if let Some(t) = ticker {
            t.abort();
        }
        if opts.progress {
            eprintln!(
                "load: warm-up done, {} sessions in {warmup_s:.1} s, errors: {}",
                warm_stats.sessions.load(Ordering::Relaxed),
                errors_text(&warm_stats.errors())
            );
        }
    }

    // Phase 3: check-ins.
    if opts.progress {
        let what = match (&opts.floor, opts.commands_per_session) {
            (Some(f), _) => format!("floor sessions against {}", f.url),
            (None, 0) => "idle check-ins".to_owned(),
            (None, k) => format!("check-ins with {k} queued Gets each"),
        };
        let pace = opts
            .rate
            .map_or_else(|| "closed loop".to_owned(), |r| format!("{r} starts/s"));
        eprintln!(
            "load: {n_devices} devices, {what}, {} at a time, {pace}, for {} s",
            opts.concurrency,
            opts.duration.as_secs_f64()
        );
    }
    let ticker = opts
        .progress
        .then(|| progress(stats.clone(), "sync", n_devices));
    let admin = match (&opts.admin_token, opts.commands_per_session) {
        (Some(token), k) if k > 0 => Some(Admin {
            token: token.clone(),
            tls: crate::http::client_config(&opts.tls_roots_pem, None)?,
            idle: Mutex::new(Vec::new()),
            floor: floor.as_ref().map(|f| f.url.clone()),
        }),
        _ => None,
    };
    if let Some(f) = &opts.ready_file {
        ready_gate(f).await;
    }
    let cpu_before = process_cpu_s();
    let start = Instant::now();
    let now = tokio::time::Instant::now();
    let phase = Arc::new(Phase {
        opts: opts.clone(),
        stats: stats.clone(),
        slots: Arc::new(Semaphore::new(opts.concurrency)),
        deadline: now + opts.duration,
        pacer: opts.rate.map(|r| Pacer {
            next: Mutex::new(now),
            interval: Duration::from_secs_f64(1.0 / r),
        }),
        started: AtomicU64::new(0),
        admin,
        floor,
    });
    let mut set = tokio::task::JoinSet::new();
    for c in clients {
        set.spawn(check_in(c, phase.clone()));
    }
    let mut done = Vec::with_capacity(n_devices);
    while let Some(r) = set.join_next().await {
        done.extend(r.ok());
    }
    let duration_s = start.elapsed().as_secs_f64();
    let client_cpu_s = match (cpu_before, process_cpu_s()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    // After the timing: the state directories (counters), off the runtime's threads.
    let (save_stats, progress_lines) = (stats.clone(), opts.progress);
    let _ = tokio::task::spawn_blocking(move || {
        for c in done {
            c.save(&save_stats, progress_lines);
        }
    })
    .await;
    if let Some(t) = ticker {
        t.abort();
    }

    let sorted = |m: &Mutex<Vec<u32>>| {
        let mut v = std::mem::take(&mut *locked(m));
        v.sort_unstable();
        v
    };
    if let Some(path) = &opts.latency_log {
        let ends = stats
            .ends
            .as_ref()
            .map(|e| std::mem::take(&mut *locked(e)))
            .unwrap_or_default();
        let mut text = String::with_capacity(ends.len() * 16);
        for (end, us) in ends {
            let at = end.saturating_duration_since(start).as_secs_f64() * 1000.0;
            text.push_str(&format!("{at:.3} {:.3}\n", f64::from(us) / 1000.0));
        }
        std::fs::write(path, text)
            .map_err(|e| LoadError::Emu(state_err(path, format!("latency log: {e}"))))?;
    }
    let lat = sorted(&stats.latencies);
    let service = sorted(&stats.service);
    let delays = sorted(&stats.start_delays);
    let queue_lat = sorted(&stats.queue_latencies);
    let (mut full, mut resumed) = std::mem::take(&mut *locked(&stats.by_kind));
    full.sort_unstable();
    resumed.sort_unstable();
    let sessions = stats.sessions.load(Ordering::Relaxed);
    let messages = stats.messages.load(Ordering::Relaxed);
    let per_s = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let mean = |total: u64, n: u64| if n > 0 { total as f64 / n as f64 } else { 0.0 };
    let started = phase.started.load(Ordering::Relaxed);
    let started = opts.session_limit.map_or(started, |l| started.min(l));
    let summary = Summary {
        devices: n_devices,
        reused,
        enrollments,
        enrollment_s,
        enrollments_per_s: per_s(enrollments, enrollment_s),
        sessions,
        messages,
        duration_s,
        sessions_per_s: per_s(sessions, duration_s),
        p50_ms: percentile_ms(&lat, 0.50),
        p90_ms: percentile_ms(&lat, 0.90),
        p99_ms: percentile_ms(&lat, 0.99),
        max_ms: lat.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
        tls_full: stats.tls_full.load(Ordering::Relaxed),
        tls_resumed: stats.tls_resumed.load(Ordering::Relaxed),
        backoffs: stats.backoffs.load(Ordering::Relaxed),
        errors: stats.errors(),
        servers: discovery.len(),
        concurrency: opts.concurrency,
        key_pool: keys.len(),
        mode: if opts.floor.is_some() {
            "floor"
        } else {
            "server"
        },
        sessions_started: started,
        messages_per_session: mean(messages, sessions),
        request_bytes_mean: mean(stats.request_bytes.load(Ordering::Relaxed), messages),
        response_bytes_mean: mean(stats.response_bytes.load(Ordering::Relaxed), messages),
        sessions_full: full.len() as u64,
        p50_full_ms: percentile_ms(&full, 0.50),
        p99_full_ms: percentile_ms(&full, 0.99),
        sessions_resumed: resumed.len() as u64,
        p50_resumed_ms: percentile_ms(&resumed, 0.50),
        p99_resumed_ms: percentile_ms(&resumed, 0.99),
        offered_rate: opts.rate,
        achieved_rate: per_s(started, opts.duration.as_secs_f64()),
        commands_per_session: opts.commands_per_session,
        queue_requests: stats.queue_requests.load(Ordering::Relaxed),
        commands_queued: stats.commands_queued.load(Ordering::Relaxed),
        commands_answered: stats.gets.load(Ordering::Relaxed),
        queue_p50_ms: percentile_ms(&queue_lat, 0.50),
        queue_p99_ms: percentile_ms(&queue_lat, 0.99),
        client_cpu_s,
        service_p50_ms: percentile_ms(&service, 0.50),
        service_p99_ms: percentile_ms(&service, 0.99),
        start_delay_p50_ms: percentile_ms(&delays, 0.50),
        start_delay_p99_ms: percentile_ms(&delays, 0.99),
        start_delay_max_ms: delays.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
        warmup_sessions: warm_stats.sessions.load(Ordering::Relaxed),
        warmup_s,
        warmup_errors: warm_stats.errors(),
    };
    if opts.progress {
        eprintln!(
            "load: done, {} sessions in {:.1} s, {} errors",
            summary.sessions,
            summary.duration_s,
            stats.error_count()
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_are_taken_and_urls_are_derived() {
        assert_eq!(
            discovery_url("https://localhost:8443").unwrap(),
            "https://localhost:8443/EnrollmentServer/Discovery.svc"
        );
        assert_eq!(
            discovery_url("https://127.0.0.2:9000/").unwrap(),
            "https://127.0.0.2:9000/EnrollmentServer/Discovery.svc"
        );
        assert_eq!(
            discovery_url("https://[::1]:8443/EnrollmentServer/Discovery.svc").unwrap(),
            "https://[::1]:8443/EnrollmentServer/Discovery.svc"
        );
        for bad in [
            "https://example.com:8443",
            "https://10.0.0.1",
            "https://[::2]:8443",
            "https://localhost.example.com",
            "http://localhost:8443",
            "https://localhost:8443/other",
            "not a url",
        ] {
            assert!(
                matches!(discovery_url(bad), Err(LoadError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_honours_retry_after_within_the_cap_with_jitter() {
        let max = Duration::from_secs(30);
        for _ in 0..100 {
            let d = backoff(Some(10), 1, max);
            assert!(d >= Duration::from_secs(10) && d < Duration::from_millis(12_500));
            let d = backoff(Some(120), 1, max);
            assert!(d >= max && d < max.mul_f64(1.25));
            let d = backoff(None, 1, max);
            assert!(d >= Duration::from_millis(500) && d < Duration::from_millis(625));
            let d = backoff(None, 4, max);
            assert!(d >= Duration::from_secs(4) && d < Duration::from_secs(5));
            assert!(backoff(None, 40, max) < max.mul_f64(1.25));
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
    }

    #[tokio::test]
    async fn bounds_are_checked_before_anything_is_sent() {
        let dir = std::env::temp_dir().join("winmdm-load-bounds-unused");
        let base = LoadOptions::new(vec!["https://localhost:1".into()], b"".to_vec(), "s", &dir);
        let mut o = base.clone();
        o.servers = vec!["https://192.0.2.1:8443".into()];
        assert!(matches!(run(o).await, Err(LoadError::Usage(_))));
        let mut o = base.clone();
        o.devices = MAX_DEVICES + 1;
        assert!(matches!(run(o).await, Err(LoadError::Usage(_))));
        let mut o = base.clone();
        o.concurrency = 0;
        assert!(matches!(run(o).await, Err(LoadError::Usage(_))));
        let mut o = base;
        o.duration = MAX_DURATION + Duration::from_secs(1);
        assert!(matches!(run(o).await, Err(LoadError::Usage(_))));
        assert!(!dir.exists());
    }
}
