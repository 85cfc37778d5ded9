//! The management endpoint's limits, on the real `winmdm-server` binary on 127.0.0.1
//! (real TLS, real SQLite), sessions driven message by message: `--max-sessions` bounds
//! sessions in progress, not requests (a session once admitted goes on, a new one waits
//! for a free slot); a message the session engine reads but refuses gets a SyncML answer
//! with the SyncHdr Status, and the server keeps serving.

mod common;

use std::time::Duration;

use common::manual::*;
use common::{Request, Server, free_port, https_full, tempdir};
use winmdm_device_emulator::Device;
use winmdm_omadm::Command;
use winmdm_omadm::server::SessionHeader;
use winmdm_omadm::syncml::{Meta, SyncHdr, SyncML};

/// Posts one device message with the enrollment's certificate, answered within 30 s:
/// (HTTP status, headers, body).
async fn post(s: &ManualSession, body: &str) -> (u16, hyper::HeaderMap, String) {
    let req = Request::new("POST", &s.url, &s.ca)
        .body(body.to_owned(), SYNCML_DM)
        .client_cert(&s.cert, &s.key);
    tokio::time::timeout(Duration::from_secs(30), https_full(&req))
        .await
        .expect("answered at once")
        .expect("management POST")
}

async fn in_progress(server: &Server) -> u64 {
    let (s, m) = server.admin("GET", "/api/v1/metrics", None).await;
    assert_eq!(s, 200, "{m}");
    m["sessions_in_progress"].as_u64().expect("a number")
}

/// Runs the session on from the device's message `next` to its end; the last message
/// the device sent, if any.
async fn finish(s: &mut ManualSession, device: &mut Device, mut next: Option<String>) -> String {
    let mut last = String::new();
    while let Some(m) = next {
        assert!(s.delivered.len() < 200, "the session must end");
        let r = s.post(&m).await;
        next = s.handle(device, &r);
        last = m;
    }
    assert!(s.session.is_finished());
    last
}

/// The device message `xml` with its SyncHdr changed by `f`.
fn with_header(xml: &str, f: impl FnOnce(&mut SyncHdr<'static>)) -> String {
    let mut m = winmdm_omadm::decode(xml.as_bytes())
        .expect("device SyncML")
        .into_owned();
    f(&mut m.hdr);
    m.to_xml().unwrap()
}

/// Posts `body` and checks the answer: HTTP 200, SyncML, only Statuses, Final, the
/// first one the SyncHdr's (MsgRef `msg_ref`, CmdRef 0) with `code`, in session
/// `session` to `device`. The answer.
async fn assert_refused(
    s: &ManualSession,
    device: &Device,
    body: &str,
    code: u16,
    msg_ref: &str,
    session: &str,
) -> SyncML<'static> {
    let (status, headers, text) = post(s, body).await;
    assert_eq!(status, 200, "a refusal in SyncML: {text}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(SYNCML_DM)
    );
    let reply = winmdm_omadm::decode(text.as_bytes())
        .expect("a SyncML answer")
        .into_owned();
    let h = SessionHeader::read(&reply).expect("a readable SyncHdr");
    assert_eq!(h.session_id, session, "{text}");
    assert_eq!(h.target, Some(device.device_id()), "{text}");
    let Some(Command::Status(st)) = reply.body.commands.first() else {
        panic!("the SyncHdr Status first: {text}");
    };
    assert_eq!(st.cmd.as_deref(), Some("SyncHdr"), "{text}");
    assert_eq!(st.cmd_ref.as_deref(), Some("0"), "{text}");
    assert_eq!(st.msg_ref.as_deref(), Some(msg_ref), "{text}");
    assert_eq!(st.code().map(|c| c.0), Some(code), "{text}");
    assert!(
        reply
            .body
            .commands
            .iter()
            .all(|c| matches!(c, Command::Status(_))),
        "{text}"
    );
    assert!(reply.body.r#final, "{text}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_one_session_the_open_session_goes_on_and_a_new_one_waits_for_its_end() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--max-sessions", "1"]);
    let (dir_a, dir_b) = (tempdir(), tempdir());
    let mut a = enroll(&server, dir_a.path()).await;
    let mut b = enroll(&server, dir_b.path()).await;
    // Enough commands for many messages at the smallest MaxMsgSize.
    let queued = queue(&server, &a, GETS.len(), REPLACES.len()).await;
    assert_eq!(in_progress(&server).await, 0);

    // A's session: message 1 answered, the session goes on.
    let (mut sa, first_a) = ManualSession::new(&a, "A1", winmdm_omadm::MIN_MAX_MSG_SIZE);
    let r1 = sa.post(&first_a).await;
    let m2 = sa.handle(&mut a, &r1).expect("A's session goes on");
    assert_eq!(in_progress(&server).await, 1);

    // B's new session: 429 at once, with Retry-After in seconds.
    let (mut sb, first_b) = ManualSession::new(&b, "B1", winmdm_omadm::MIN_MAX_MSG_SIZE);
    let (status, headers, text) = post(&sb, &first_b).await;
    assert_eq!(status, 429, "{text}");
    let retry = headers.get("retry-after").expect("Retry-After header");
    let secs: u64 = retry.to_str().unwrap().trim().parse().expect("seconds");
    assert!(secs > 0, "Retry-After: {retry:?}");
    assert_eq!(in_progress(&server).await, 1, "B was not admitted");

    // A's next message still gets 200 (`post` asserts it), and B still waits.
    let r2 = sa.post(&m2).await;
    let m3 = sa.handle(&mut a, &r2);
    assert!(m3.is_some(), "A's session is longer than two messages");
    let (status, _, text) = post(&sb, &first_b).await;
    assert_eq!(status, 429, "{text}");

    // A's session runs to its end; every command is delivered and recorded.
    finish(&mut sa, &mut a, m3).await;
    assert_all_recorded(&server, &a, &queued).await;
    assert_eq!(in_progress(&server).await, 0, "A's session ended");

    // Its slot is free: B's session is admitted and runs to its end.
    let r = sb.post(&first_b).await;
    let next = sb.handle(&mut b, &r);
    finish(&mut sb, &mut b, next).await;
    assert_eq!(in_progress(&server).await, 0);

    // One-message check-ins end at once too: one after the other, all admitted.
    for d in [&mut a, &mut b] {
        for _ in 0..2 {
            let report = d.sync().await.expect("a check-in");
            assert!(report.http_statuses.iter().all(|s| *s == 200), "{report:?}");
        }
    }
    assert_eq!(in_progress(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_the_engine_refuses_get_a_synchdr_status_and_the_server_keeps_serving() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path()).await;
    let queued = queue(&server, &device, GETS.len(), REPLACES.len()).await;

    // Package 1 declaring a MaxMsgSize below 2048: 406, as the server's message 1.
    let (mut s, first) = ManualSession::new(&device, "C1", winmdm_omadm::MIN_MAX_MSG_SIZE);
    let small = with_header(&first, |h| {
        h.meta.get_or_insert_with(Meta::default).max_msg_size = Some(100);
    });
    let reply = assert_refused(&s, &device, &small, 406, "1", "C1").await;
    assert_eq!(SessionHeader::read(&reply).unwrap().msg_id, 1);

    // Nothing was stored: the real package 1 starts the session.
    let r1 = s.post(&first).await;
    let m2 = s.handle(&mut device, &r1).expect("the session goes on");

    // Message 2 sent as MsgID 9: 400, numbered as the server's message 2.
    let skipped = with_header(&m2, |h| h.msg_id = Some("9".into()));
    let reply = assert_refused(&s, &device, &skipped, 400, "9", "C1").await;
    assert_eq!(SessionHeader::read(&reply).unwrap().msg_id, 2);

    // The session goes on with the real message 2, to its end.
    let r2 = s.post(&m2).await;
    let next = s.handle(&mut device, &r2);
    let last = finish(&mut s, &mut device, next).await;
    assert_all_recorded(&server, &device, &queued).await;

    // A further message after the session's end: 400.
    let n = SessionHeader::read(&winmdm_omadm::decode(last.as_bytes()).unwrap())
        .unwrap()
        .msg_id;
    let after = with_header(&last, |h| h.msg_id = Some((n + 1).to_string().into()));
    assert_refused(&s, &device, &after, 400, &(n + 1).to_string(), "C1").await;

    // An unsupported VerProto: the engine's 513, and the session ends.
    let (s2, first2) = ManualSession::new(&device, "C2", winmdm_omadm::MIN_MAX_MSG_SIZE);
    let v = with_header(&first2, |h| h.ver_proto = Some("DM/9.9".into()));
    assert_refused(&s2, &device, &v, 513, "1", "C2").await;

    // A SyncHdr without a numeric MsgID cannot be referred to: a plain 400.
    let bad = with_header(&first2, |h| h.msg_id = Some("x".into()));
    let (status, headers, text) = post(&s2, &bad).await;
    assert_eq!(status, 400, "{text}");
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    assert!(ct.is_some_and(|c| c.starts_with("text/plain")), "{ct:?}");

    // Still serving: the device checks in as usual, nothing left to deliver.
    assert_next_sync_delivers_nothing(&mut device).await;
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
