//! The load generator (`winmdm_device_emulator::load`) against the real `winmdm-server`
//! binary on 127.0.0.1 (real TLS, real SQLite): devices enroll and check in without
//! errors, a second run reuses them, and at `--max-sessions 1` the only errors are 429s,
//! which the devices back off from, sessions still complete, and once the load drops
//! there are none.

mod common;

use std::time::{Duration, Instant};

use common::{Server, free_port, tempdir};
use winmdm_device_emulator::load::{self, LoadError, LoadOptions};

fn options(server: &Server, state: &std::path::Path) -> LoadOptions {
    let mut o = LoadOptions::new(
        vec![server.url.clone()],
        server.ca_pem().into_bytes(),
        server.secret(),
        state,
    );
    // Two keys: RSA-2048 generation is slow in a debug build.
    o.key_pool = Some(2);
    o.progress = true;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_enroll_and_check_in_without_errors_and_are_reused() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let state = tempdir();
    let mut o = options(&server, state.path());
    o.devices = 8;
    o.concurrency = 4;
    o.duration = Duration::from_secs(3);
    let started = Instant::now();
    let s = load::run(o.clone()).await.expect("load run");
    eprintln!("{}", serde_json::to_string(&s).unwrap());
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(s.enrollments, 8, "{s:?}");
    assert_eq!(s.devices, 8);
    assert_eq!(s.reused, 0);
    assert_eq!(s.key_pool, 2);
    assert!(s.enrollments_per_s > 0.0);
    assert!(s.sessions > 0, "{s:?}");
    assert!(s.errors.is_empty(), "errors: {:?}", s.errors);
    assert!(s.sessions_per_s > 0.0);
    assert!(s.p50_ms > 0.0 && s.p50_ms <= s.p99_ms && s.p99_ms <= s.max_ms);
    assert!(s.messages >= s.sessions);
    // One connection per session; a device's later sessions resume TLS.
    assert_eq!(s.tls_full + s.tls_resumed, s.sessions, "{s:?}");
    assert!(s.tls_resumed > 0, "TLS sessions are resumed: {s:?}");
    assert!(s.duration_s >= 3.0 && s.duration_s < 3.0 + 5.0, "{s:?}");
    // The JSON summary has the documented fields.
    let j = serde_json::to_value(&s).unwrap();
    for f in [
        "sessions",
        "sessions_per_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "enrollments",
        "enrollments_per_s",
    ] {
        assert!(j.get(f).is_some(), "{f} missing in {j}");
    }
    assert!(j["errors"].is_object());
    let pool = std::fs::read_dir(state.path().join(load::KEY_POOL_DIR))
        .unwrap()
        .count();
    assert_eq!(pool, 2, "the key pool is cached");

    // Every device checked in at least once (it is in the server's device list) and
    // shares one of the two keys.
    let (status, list) = server.admin("GET", "/api/v1/devices", None).await;
    assert_eq!(status, 200, "{list}");
    let n = list
        .as_array()
        .or_else(|| list.get("devices").and_then(|d| d.as_array()))
        .map_or(0, Vec::len);
    assert_eq!(n, 8, "{list}");

    // A second run reuses the state directory: nothing enrolled, still no errors; with
    // resumption off every session makes a full handshake.
    o.duration = Duration::from_secs(1);
    o.tls_resumption = false;
    let again = load::run(o).await.expect("second run");
    assert_eq!(again.enrollments, 0, "{again:?}");
    assert_eq!(again.reused, 8);
    assert!(again.sessions > 0);
    assert!(again.errors.is_empty(), "errors: {:?}", again.errors);
    assert_eq!(again.tls_resumed, 0, "{again:?}");
    assert_eq!(again.tls_full, again.sessions, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_one_session_in_progress_only_429s_and_sessions_complete() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--max-sessions", "1"]);
    let state = tempdir();
    let mut o = options(&server, state.path());
    o.devices = 8;
    o.concurrency = 8;
    o.duration = Duration::from_secs(3);
    // The server says Retry-After 30; cap the wait so that the devices come back
    // within the run.
    o.max_backoff = Duration::from_millis(300);
    let s = load::run(o.clone()).await.expect("load run");
    eprintln!("{}", serde_json::to_string(&s).unwrap());
    assert_eq!(s.enrollments, 8, "enrollment is not limited: {s:?}");
    assert!(s.sessions > 0, "{s:?}");
    for (kind, n) in &s.errors {
        assert_eq!(
            kind, "http_429",
            "only 429s, got {n} {kind}: {:?}",
            s.errors
        );
    }
    assert_eq!(
        s.backoffs,
        s.errors.get("http_429").copied().unwrap_or(0),
        "every 429 is followed by a back-off: {s:?}"
    );

    // The load drops to what the server takes: the same devices, one session at a
    // time, no error at all.
    o.concurrency = 1;
    o.duration = Duration::from_secs(1);
    let calm = load::run(o).await.expect("second run");
    assert_eq!(calm.reused, 8, "{calm:?}");
    assert!(calm.sessions > 0, "{calm:?}");
    assert!(calm.errors.is_empty(), "errors: {:?}", calm.errors);
}

#[tokio::test]
async fn non_loopback_servers_are_refused_before_anything_is_sent() {
    let state = tempdir();
    for url in ["https://example.com:8443", "https://10.1.2.3:8443"] {
        let o = LoadOptions::new(vec![url.into()], Vec::new(), "x", state.path());
        match load::run(o).await {
            Err(LoadError::Usage(m)) => assert!(m.contains("only targets this machine"), "{m}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);
}
