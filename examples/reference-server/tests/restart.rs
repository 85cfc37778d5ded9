//! Crashes and back-pressure: the real `winmdm-server` binary on 127.0.0.1 (real TLS,
//! real SQLite) is SIGKILLed with commands queued, and between two messages of one
//! session, then started again on the same data directory and port; nothing queued is
//! lost, nothing is delivered twice, no result is recorded twice. And `--max-sessions 0`
//! answers management with 429 and `Retry-After` while enrollment keeps working.

mod common;

use std::time::Duration;

use common::manual::*;
use common::{Request, Server, free_port, tempdir};
use serde_json::Value;
use winmdm_device_emulator::EmuError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_queued_before_a_sigkill_are_delivered_once_after_the_restart() {
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &[]);
    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path()).await;
    // The first session takes the inventory Get queued at enrollment.
    device.sync().await.expect("first sync");
    assert_nothing_open(&server, &device).await;

    let queued = queue(&server, &device, 5, 5).await;
    for (id, state) in states(&server, &queued).await {
        assert_eq!(state, "pending", "command {id} before the crash");
    }

    server.kill();
    let server = Server::start(data.path(), port, &[]);

    let report = device.sync().await.expect("sync after the restart");
    assert!(report.http_statuses.iter().all(|s| *s == 200), "{report:?}");
    let count = tally(
        report
            .commands
            .iter()
            .map(|(c, u, _)| (c.as_str(), u.as_str())),
    );
    assert_each_once(&count, &queued);
    for q in &queued {
        assert_eq!(report.status_of(&q.uri), Some(200), "{q:?}: {report:?}");
    }
    assert_all_recorded(&server, &device, &queued).await;
    assert_nothing_open(&server, &device).await;

    // A second sync has nothing more to deliver and changes no recorded result.
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for q in &queued {
            v.push(command(&server, q.id).await);
        }
        v
    };
    assert_next_sync_delivers_nothing(&mut device).await;
    for (q, b) in queued.iter().zip(before) {
        assert_eq!(command(&server, q.id).await, b, "{q:?} recorded once");
    }
}

/// Queues 30 commands, runs a session of many messages (the smallest MaxMsgSize) by
/// hand, SIGKILLs the server after response 2 and before message 3, restarts it on the
/// same directory and port, retransmits message 2 and 3 (same bytes back) and finishes
/// the session: every command delivered exactly once, every result recorded once.
async fn kill_between_two_messages() {
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &[]);
    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path()).await;
    device.sync().await.expect("first sync");
    assert_nothing_open(&server, &device).await;

    let queued = queue(&server, &device, GETS.len(), REPLACES.len()).await;
    let (mut s, first) = ManualSession::new(&device, "A0", winmdm_omadm::MIN_MAX_MSG_SIZE);

    // Messages 1 and 2 and their responses.
    let r1 = s.post(&first).await;
    let m2 = s.handle(&mut device, &r1).expect("the session goes on");
    let r2 = s.post(&m2).await;
    let m3 = s.handle(&mut device, &r2).expect("the session goes on");
    let before_crash = s.delivered_count();
    assert!(
        before_crash > 0 && before_crash < queued.len(),
        "the kill must fall inside the session: {before_crash} of {} delivered",
        queued.len()
    );
    let at_crash = states(&server, &queued).await;
    assert!(
        at_crash.values().any(|st| st == "sent"),
        "response 2 carried commands the device has not answered yet: {at_crash:?}"
    );
    assert!(
        at_crash.values().any(|st| st == "pending"),
        "commands are left for later messages: {at_crash:?}"
    );

    // SIGKILL after the device got response 2, before it posts message 3.
    server.kill();
    let server = Server::start(data.path(), port, &[]);

    // A retransmission of message 2 gets the same bytes from the restored engine.
    let r2_again = s.post(&m2).await;
    assert_eq!(
        r2_again, r2,
        "the restored engine answers message 2 as before"
    );
    // Message 3, and its retransmission.
    let r3 = s.post(&m3).await;
    let r3_again = s.post(&m3).await;
    assert_eq!(
        r3_again, r3,
        "a retransmitted message 3 gets the same bytes"
    );
    let mut next = s.handle(&mut device, &r3);
    while let Some(m) = next {
        assert!(s.delivered.len() < 100, "the session must end");
        let r = s.post(&m).await;
        next = s.handle(&mut device, &r);
    }
    assert!(s.session.is_finished());

    let flat: Vec<(String, String)> = s.delivered.concat();
    let count = tally(flat.iter().map(|(c, u)| (c.as_str(), u.as_str())));
    assert_each_once(&count, &queued);
    assert_eq!(
        flat.len(),
        queued.len(),
        "nothing but the queued commands, each once: {:?}",
        s.delivered
    );
    assert_all_recorded(&server, &device, &queued).await;
    assert_nothing_open(&server, &device).await;
    assert_next_sync_delivers_nothing(&mut device).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_two_messages_delivers_each_command_exactly_once() {
    kill_between_two_messages().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_message_session_without_a_crash_delivers_each_command_once() {
    // The baseline for the test above: the same session through the emulator, no kill.
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path()).await;
    device.sync().await.expect("first sync");
    let queued = queue(&server, &device, GETS.len(), REPLACES.len()).await;
    device.set_max_msg_size(Some(winmdm_omadm::MIN_MAX_MSG_SIZE));
    let report = device.sync().await.expect("multi-message sync");
    assert!(report.messages > 3, "{} messages", report.messages);
    let count = tally(
        report
            .commands
            .iter()
            .map(|(c, u, _)| (c.as_str(), u.as_str())),
    );
    assert_each_once(&count, &queued);
    assert_all_recorded(&server, &device, &queued).await;
    assert_nothing_open(&server, &device).await;
    device.set_max_msg_size(None);
    assert_next_sync_delivers_nothing(&mut device).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_session_limit_management_gets_429_with_retry_after_and_enrollment_works() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--max-sessions", "0"]);
    let dev_dir = tempdir();
    // Enrollment is not limited by --max-sessions.
    let mut device = enroll(&server, dev_dir.path()).await;
    let e = device.enrollment().unwrap().clone();

    // A well-formed package 1 with the device's own certificate: 429 with Retry-After.
    let body = device.package1(false).unwrap().to_xml().unwrap();
    let url = winmdm_device_emulator::management_request_url(&e.management_url);
    let (status, headers, text) = tokio::time::timeout(
        Duration::from_secs(10),
        common::https_full(
            &Request::new("POST", &url, &server.ca_pem())
                .body(body, SYNCML_DM)
                .client_cert(&e.certificate_der, &e.key_pem),
        ),
    )
    .await
    .expect("429 comes at once")
    .expect("management POST");
    assert_eq!(status, 429, "{text}");
    let retry = headers
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap();
    let secs: u64 = retry.trim().parse().expect("Retry-After in seconds");
    assert!(secs > 0, "Retry-After: {retry}");

    // The emulator reports it as an HTTP 429.
    match device.sync().await {
        Err(EmuError::Http { status: 429, .. }) => {}
        other => panic!("the emulator must see HTTP 429: {other:?}"),
    }
    // The refused requests queued nothing and consumed nothing: the inventory Get
    // queued at enrollment is still pending.
    let (s, rows) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["state"] == "pending"), "{rows:?}");

    // A second device still enrolls.
    let other = enroll(&server, tempdir().path()).await;
    assert_ne!(other.device_id(), device.device_id());
    let (s, devices) = server.admin("GET", "/api/v1/devices", None).await;
    assert_eq!(s, 200);
    assert_eq!(devices.as_array().map(Vec::len), Some(2), "{devices}");
}
