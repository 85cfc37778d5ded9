//! The load generator's modes against the real `winmdm-server` binary and the
//! `transport_floor` example on 127.0.0.1 (both built by `cargo build` from the test,
//! real TLS, real SQLite): queued commands are delivered and their results stored, an
//! open-loop rate bounds the session starts and its latencies count from the scheduled
//! starts, the floor client completes against the floor server, and a warm-up makes the
//! timed sessions resume TLS without being counted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use winmdm_device_emulator::load::{self, FloorOptions, LoadOptions, Summary};

/// The debug builds of `winmdm-server` and `transport_floor` (another package's binary
/// and example: `cargo build` once per test process, a no-op when they are fresh).
fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "-q",
                "-p",
                "winmdm-reference-server",
                "--bin",
                "winmdm-server",
                "--example",
                "transport_floor",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(out.status.success(), "cargo build failed");
        let (mut server, mut floor) = (None, None);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (Some(name), Some(exe)) = (v["target"]["name"].as_str(), v["executable"].as_str())
            else {
                continue;
            };
            match name {
                "winmdm-server" => server = Some(PathBuf::from(exe)),
                "transport_floor" => floor = Some(PathBuf::from(exe)),
                _ => {}
            }
        }
        (
            server.expect("winmdm-server built"),
            floor.expect("transport_floor built"),
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `exe` with `args` and waits (at most 120 s: the server's first start makes two
/// RSA keys) for "listening on" on its stdout.
fn start(exe: &Path, args: &[String]) -> Proc {
    let mut child = Command::new(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    let p = Proc(child);
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the process did not start listening");
    p
}

/// A running reference server in a temporary data directory.
struct Server {
    _proc: Proc,
    dir: tempfile::TempDir,
    url: String,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let args = [
            "--data-dir".to_owned(),
            dir.path().display().to_string(),
            "--listen".to_owned(),
            format!("127.0.0.1:{port}"),
        ];
        let proc = start(&binaries().0, &args);
        Server {
            _proc: proc,
            dir,
            url: format!("https://localhost:{port}"),
        }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn options(&self, state: &Path) -> LoadOptions {
        let mut o = LoadOptions::new(
            vec![self.url.clone()],
            self.file("ca.pem").into_bytes(),
            self.file("enrollment-secret"),
            state,
        );
        // Two keys: RSA-2048 generation is slow in a debug build.
        o.key_pool = Some(2);
        o
    }

    /// GET on the admin API: the JSON answer.
    async fn admin_get(&self, path: &str) -> serde_json::Value {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.file("ca.pem").as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let uri: hyper::Uri = self.url.parse().unwrap();
        let port = uri.port_u16().unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", format!("localhost:{port}"))
            .header(
                "authorization",
                format!("Bearer {}", self.file("admin-token")),
            )
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).unwrap()
    }
}

fn show(s: &Summary) {
    eprintln!("{}", serde_json::to_string(s).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_gets_are_delivered_and_their_results_recorded() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    let mut o = server.options(state.path());
    o.devices = 3;
    o.concurrency = 2;
    o.duration = Duration::from_secs(2);
    // At most 60 sessions: the device's command list below reads the last 500 commands
    // of each device, and a fast machine runs hundreds of sessions in 2 s.
    o.session_limit = Some(60);
    o.commands_per_session = 5;
    o.admin_token = Some(server.file("admin-token"));
    let s = load::run(o).await.expect("load run");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(s.sessions > 0);
    assert_eq!(s.commands_per_session, 5);
    // One queueing request per session, five ids each, every Get answered in its session.
    assert_eq!(s.queue_requests, s.sessions, "{s:?}");
    assert_eq!(s.commands_queued, 5 * s.sessions, "{s:?}");
    // (The server may add Gets of its own, an inventory at a device's first session.)
    assert!(s.commands_answered >= s.commands_queued, "{s:?}");
    // Package 1, then the device's Statuses and Results.
    assert!(s.messages_per_session >= 2.0, "{s:?}");
    assert!(s.queue_p50_ms > 0.0 && s.queue_p50_ms <= s.queue_p99_ms);
    assert!(s.request_bytes_mean > 0.0 && s.response_bytes_mean > 0.0);

    // The server stored every result: each queued command is done, 200, with the value
    // of the node it read.
    let devices = server.admin_get("/api/v1/devices").await;
    let devices = devices.as_array().expect("device list");
    assert_eq!(devices.len(), 3);
    let mut done = 0u64;
    for d in devices {
        let id = d["device_id"].as_str().unwrap();
        let rows = server
            .admin_get(&format!("/api/v1/devices/{id}/commands"))
            .await;
        for row in rows.as_array().unwrap() {
            if row["origin"] != "admin" {
                continue;
            }
            assert_eq!(row["state"], "done", "{row}");
            assert_eq!(row["status"], 200, "{row}");
            let syncml = row["syncml"].as_str().unwrap();
            let results = row["results"].as_array().expect("results stored");
            assert_eq!(results.len(), 1, "{row}");
            let locuri = results[0]["locuri"].as_str().unwrap();
            assert!(load::QUEUED_GETS.contains(&locuri), "{row}");
            assert!(syncml.contains(locuri), "{row}");
            assert!(
                !results[0]["data"].as_str().unwrap_or("").is_empty(),
                "{row}"
            );
            done += 1;
        }
    }
    assert_eq!(done, s.commands_queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_rate_bounds_the_session_starts() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    let mut o = server.options(state.path());
    o.devices = 4;
    o.concurrency = 8;
    o.duration = Duration::from_secs(2);
    o.rate = Some(10.0);
    let s = load::run(o).await.expect("load run");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(s.sessions > 0);
    // Starts are due every 100 ms from the start: at most 20 before the 2 s deadline.
    assert!(s.sessions_started <= 20, "{s:?}");
    assert!(s.sessions <= s.sessions_started);
    assert_eq!(s.offered_rate, Some(10.0));
    assert!(s.achieved_rate <= 10.0, "{s:?}");
    assert_eq!(s.sessions_full + s.sessions_resumed, s.sessions);
    let j = serde_json::to_value(&s).unwrap();
    for f in [
        "messages",
        "messages_per_session",
        "request_bytes_mean",
        "response_bytes_mean",
        "tls_full",
        "tls_resumed",
        "p50_full_ms",
        "p99_full_ms",
        "p50_resumed_ms",
        "p99_resumed_ms",
        "offered_rate",
        "achieved_rate",
    ] {
        assert!(j.get(f).is_some(), "{f} missing in {j}");
    }

    // A schedule the server cannot keep: 30 starts due within 3 ms, one session at a
    // time. Each start waits for the sessions before it, and its latency counts from its
    // scheduled start (no coordinated omission): the last one waited for the 29 before
    // it, at least 14 of which took the median session time or longer.
    let mut o = server.options(state.path());
    o.devices = 2;
    o.concurrency = 1;
    o.duration = Duration::from_secs(20);
    o.rate = Some(10_000.0);
    o.session_limit = Some(30);
    o.warmup = Some(Duration::from_secs(20));
    let log = state.path().join("latencies.txt");
    o.latency_log = Some(log.clone());
    let s = load::run(o).await.expect("overloaded open-loop run");
    show(&s);
    // The latency log: a line per timed session, in order of completion, each ending
    // after its latency had passed since the phase began; the largest is the summary's.
    let lines: Vec<(f64, f64)> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (end, ms) = l.split_once(' ').expect("two numbers");
            (end.parse().unwrap(), ms.parse().unwrap())
        })
        .collect();
    assert_eq!(lines.len(), 30);
    assert!(lines.windows(2).all(|w| w[0].0 <= w[1].0), "{lines:?}");
    assert!(
        lines.iter().all(|&(end, ms)| ms > 0.0 && end + 1.0 >= ms),
        "{lines:?}"
    );
    let max = lines.iter().map(|l| l.1).fold(0.0, f64::max);
    assert!((max - s.max_ms).abs() < 0.01, "{max} {s:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.reused, s.warmup_sessions, s.sessions),
        (2, 2, 30),
        "{s:?}"
    );
    assert!(s.max_ms >= 14.0 * s.service_p50_ms - 3.1, "{s:?}");
    // (With 30 sessions the 99th percentile is the largest.)
    assert!(
        s.start_delay_max_ms >= s.max_ms - s.service_p99_ms - 0.01,
        "{s:?}"
    );
    assert!(
        s.p50_ms >= s.service_p50_ms && s.p99_ms >= s.service_p99_ms,
        "{s:?}"
    );
    assert!(s.start_delay_p50_ms > 0.0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_client_completes_against_the_transport_floor() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    let mut o = server.options(state.path());
    o.devices = 3;
    o.concurrency = 2;
    o.duration = Duration::ZERO;
    let enrolled = load::run(o.clone()).await.expect("enrollment");
    assert_eq!(enrolled.enrollments, 3, "{enrolled:?}");

    let port = free_port();
    let _floor = start(
        &binaries().1,
        &[
            "--data-dir".to_owned(),
            server.dir.path().display().to_string(),
            "--listen".to_owned(),
            format!("127.0.0.1:{port}"),
            "--body-bytes".to_owned(),
            "700".to_owned(),
        ],
    );
    o.servers = Vec::new();
    o.secret = String::new();
    o.duration = Duration::from_secs(30);
    o.session_limit = Some(9);
    o.floor = Some(FloorOptions::new(
        format!("https://localhost:{port}"),
        2,
        900,
    ));
    let s = load::run(o.clone()).await.expect("floor run");
    show(&s);
    assert_eq!(s.mode, "floor");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.enrollments, 0);
    assert_eq!(s.devices, 3);
    // The session limit: as many sessions as asked for, two POSTs each, the sizes given.
    assert_eq!(s.sessions, 9, "{s:?}");
    assert_eq!(s.sessions_started, 9);
    assert_eq!(s.messages, 18);
    assert_eq!(s.request_bytes_mean, 900.0);
    assert_eq!(s.response_bytes_mean, 700.0);
    // One connection per session: the first of each device a full handshake with its
    // certificate, the later ones resumed.
    assert_eq!(s.tls_full + s.tls_resumed, 9, "{s:?}");
    assert!(s.tls_full >= 3 && s.tls_resumed > 0, "{s:?}");
    assert_eq!(s.sessions_resumed, s.tls_resumed);

    // With a warm-up each device's first (full) handshake is made before the timed
    // phase: its sessions all resume, and the warm-up's do not count toward the limit.
    let mut w = o.clone();
    w.warmup = Some(Duration::from_secs(30));
    let s = load::run(w).await.expect("floor run with a warm-up");
    show(&s);
    assert!(s.errors.is_empty() && s.warmup_errors.is_empty(), "{s:?}");
    assert_eq!(s.warmup_sessions, 3, "{s:?}");
    assert_eq!((s.sessions, s.sessions_started), (9, 9), "{s:?}");
    assert_eq!((s.tls_full, s.tls_resumed), (0, 9), "{s:?}");
    assert_eq!((s.sessions_full, s.sessions_resumed), (0, 9), "{s:?}");
    assert_eq!(s.messages, 18);

    // The commands mode's floor: the queueing request before each session goes to the
    // floor server too (201, its command ids), and nothing reaches the real server.
    let mut q = o.clone();
    q.commands_per_session = 5;
    q.admin_token = Some("any".to_owned());
    q.session_limit = Some(6);
    let before = server.admin_get("/api/v1/metrics").await;
    let s = load::run(q)
        .await
        .expect("floor run with queueing requests");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.sessions, s.queue_requests), (6, 6), "{s:?}");
    assert_eq!(s.commands_queued, 30, "the floor's ids, 5 a request");
    assert_eq!(s.commands_answered, 0, "the floor delivers no Get");
    assert_eq!(s.messages, 12);
    assert_eq!(
        server.admin_get("/api/v1/metrics").await["db_statements"],
        before["db_statements"],
        "the real server saw none of it"
    );

    // Without resumption every session is a full handshake.
    o.tls_resumption = false;
    o.session_limit = Some(4);
    let s = load::run(o).await.expect("floor run without resumption");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.sessions, s.tls_full, s.tls_resumed), (4, 4, 0), "{s:?}");

    // The floor client needs enrolled devices.
    let empty = tempfile::tempdir().unwrap();
    let mut o2 = server.options(empty.path());
    o2.servers = Vec::new();
    o2.floor = Some(FloorOptions::new(
        format!("https://localhost:{port}"),
        1,
        10,
    ));
    assert!(load::run(o2).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_are_saved_at_the_end_of_a_run_and_the_next_run_goes_on() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    let mut o = server.options(state.path());
    o.devices = 2;
    o.concurrency = 2;
    o.duration = Duration::from_secs(30);
    let count = |state: &Path| {
        (0..2)
            .map(|i| {
                let d = winmdm_device_emulator::Device::load(&state.join(format!("dev-{i:06}")))
                    .unwrap();
                u64::from(d.sessions())
            })
            .sum::<u64>()
    };
    // Idle check-ins change only the counters: the devices are not saved after each
    // session (Device::set_lazy_save), but when the run ends.
    o.session_limit = Some(10);
    let s = load::run(o.clone()).await.expect("first run");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.enrollments, 2);
    assert_eq!(s.sessions, 10, "{s:?}");
    assert_eq!(count(state.path()), 10);
    // The next run reuses the devices and counts on from the saved SessionIDs.
    o.session_limit = Some(6);
    let s = load::run(o).await.expect("second run");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.reused, s.enrollments, s.sessions), (2, 0, 6), "{s:?}");
    assert_eq!(count(state.path()), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_up_makes_every_timed_session_resume_tls_and_is_not_counted() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    let mut o = server.options(state.path());
    o.devices = 3;
    o.concurrency = 2;
    o.duration = Duration::from_secs(30);
    o.session_limit = Some(9);
    let count = |state: &Path| {
        (0..3)
            .map(|i| {
                let d = winmdm_device_emulator::Device::load(&state.join(format!("dev-{i:06}")))
                    .unwrap();
                u64::from(d.sessions())
            })
            .sum::<u64>()
    };

    // Enrollment, a warm-up session per device (a full handshake each), then 9 timed
    // sessions, every one resumed. Between the two the ready file appears, and the
    // check-ins wait until it is removed (here after 300 ms).
    let mut w = o.clone();
    w.warmup = Some(Duration::from_secs(30));
    let ready = state.path().join("ready");
    w.ready_file = Some(ready.clone());
    let gate = std::thread::spawn(move || {
        for _ in 0..3000 {
            if ready.exists() {
                std::thread::sleep(Duration::from_millis(300));
                std::fs::remove_file(&ready).unwrap();
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let s = load::run(w).await.expect("run with a warm-up");
    show(&s);
    assert!(gate.join().unwrap(), "the ready file never appeared");
    assert!(!state.path().join("ready").exists());
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(s.warmup_errors.is_empty(), "{:?}", s.warmup_errors);
    assert_eq!((s.enrollments, s.warmup_sessions), (3, 3), "{s:?}");
    assert!(s.warmup_s > 0.0);
    // The summary counts the timed sessions only; the devices made all 12.
    assert_eq!((s.sessions, s.sessions_started), (9, 9), "{s:?}");
    assert_eq!(count(state.path()), 12);
    assert_eq!((s.tls_full, s.sessions_full), (0, 0), "{s:?}");
    assert_eq!(s.sessions_resumed, 9, "{s:?}");
    assert!(s.tls_resumed >= 9, "{s:?}");
    // A closed loop: no start delay, the session times are the service times.
    assert_eq!(s.start_delay_max_ms, 0.0);
    assert_eq!((s.p50_ms, s.p99_ms), (s.service_p50_ms, s.service_p99_ms));

    // Without a warm-up (a new run: the load generator's tickets are gone), each
    // device's first session is a full handshake.
    let s = load::run(o).await.expect("run without a warm-up");
    show(&s);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.reused, s.warmup_sessions, s.warmup_s),
        (3, 0, 0.0),
        "{s:?}"
    );
    assert!(s.warmup_errors.is_empty());
    assert_eq!(s.sessions, 9, "{s:?}");
    assert_eq!(s.sessions_full, 3, "{s:?}");
    assert_eq!(s.sessions_resumed, 6, "{s:?}");
    assert!(s.tls_full >= 3, "{s:?}");
    assert_eq!(count(state.path()), 21);
}
