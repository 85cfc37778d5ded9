//! Crashes and back-pressure: the real `winmdm-server` binary on 127.0.0.1 (real TLS,
//! real SQLite) is SIGKILLed with commands queued, and between two messages of one
//! session, then started again on the same data directory and port; nothing queued is
//! lost, nothing is delivered twice, no result is recorded twice. And `--max-sessions 0`
//! answers management with 429 and `Retry-After` while enrollment keeps working.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Request, Server, free_port, https, tempdir};
use serde_json::{Value, json};
use winmdm_device_emulator::{Credential, Device, EmuError, EnrollOptions};
use winmdm_omadm::{Command, DeviceConfig, DeviceSession};

const SYNCML_DM: &str = "application/vnd.syncml.dm+xml";

/// Nodes the emulator's tree answers a Get for (seeded from its facts).
const GETS: &[&str] = &[
    "./DevInfo/DevId",
    "./DevInfo/Man",
    "./DevInfo/Mod",
    "./DevInfo/DmV",
    "./DevInfo/Lang",
    "./DevDetail/URI/MaxDepth",
    "./DevDetail/URI/MaxTotLen",
    "./DevDetail/URI/MaxSegLen",
    "./DevDetail/DevTyp",
    "./DevDetail/OEM",
    "./DevDetail/FwV",
    "./DevDetail/SwV",
    "./DevDetail/HwV",
    "./DevDetail/LrgObj",
];

/// Policy nodes (int) the emulator's tree takes a Replace for.
const REPLACES: &[&str] = &[
    "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera",
    "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana",
    "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowDiscoverableMode",
    "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowAdvertising",
    "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowPrepairing",
    "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCopyPaste",
    "./Device/Vendor/MSFT/Policy/Config/Experience/AllowManualMDMUnenrollment",
    "./Device/Vendor/MSFT/Policy/Config/Experience/AllowSyncMySettings",
    "./Device/Vendor/MSFT/Policy/Config/Connectivity/AllowUSBConnection",
    "./Device/Vendor/MSFT/Policy/Config/Connectivity/AllowBluetooth",
    "./Device/Vendor/MSFT/Policy/Config/Connectivity/AllowCellularDataRoaming",
    "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry",
    "./Device/Vendor/MSFT/Policy/Config/Wifi/AllowInternetSharing",
    "./Device/Vendor/MSFT/Policy/Config/Search/AllowIndexingEncryptedStoresOrItems",
    "./Device/Vendor/MSFT/Policy/Config/Privacy/AllowInputPersonalization",
    "./Device/Vendor/MSFT/Policy/Config/DeviceLock/AllowIdleReturnWithoutPassword",
];

fn get_xml(uri: &str) -> String {
    format!("<Get><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target></Item></Get>")
}

fn replace_xml(uri: &str, value: &str) -> String {
    format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>{value}</Data></Item></Replace>"
    )
}

/// The value the test writes to the i-th Replace node (alternating, so that most
/// differ from whatever the tree held).
fn value_for(i: usize) -> String {
    (i % 2).to_string()
}

/// One queued command: what it is and where it points.
#[derive(Debug, Clone)]
struct Queued {
    id: i64,
    kind: &'static str,
    uri: String,
    value: Option<String>,
}

async fn enroll(server: &Server, dir: &std::path::Path) -> Device {
    let opts = EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: server.secret(),
        },
    );
    Device::enroll(dir, opts).await.expect("enroll")
}

/// Queues `gets` Gets and `replaces` Replaces in one admin POST; the ids in order.
async fn queue(server: &Server, device: &Device, gets: usize, replaces: usize) -> Vec<Queued> {
    let mut planned = Vec::new();
    let mut fragment = String::new();
    // Interleave Gets and Replaces so that every message mixes both.
    let (mut g, mut r) = (0, 0);
    while g < gets || r < replaces {
        if g < gets {
            fragment.push_str(&get_xml(GETS[g]));
            planned.push(("Get", GETS[g].to_owned(), None));
            g += 1;
        }
        if r < replaces {
            let v = value_for(r);
            fragment.push_str(&replace_xml(REPLACES[r], &v));
            planned.push(("Replace", REPLACES[r].to_owned(), Some(v)));
            r += 1;
        }
    }
    let (s, body) = server
        .admin(
            "POST",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            Some(json!({ "syncml": fragment })),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let ids: Vec<i64> = body["command_ids"]
        .as_array()
        .expect("command_ids")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), planned.len(), "one id per top-level command");
    ids.into_iter()
        .zip(planned)
        .map(|(id, (kind, uri, value))| Queued {
            id,
            kind,
            uri,
            value,
        })
        .collect()
}

async fn command(server: &Server, id: i64) -> Value {
    let (s, row) = server
        .admin("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(s, 200, "command {id}: {row}");
    row
}

/// The state of every queued command: id -> state.
async fn states(server: &Server, queued: &[Queued]) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    for q in queued {
        let row = command(server, q.id).await;
        out.insert(q.id, row["state"].as_str().unwrap().to_owned());
    }
    out
}

/// Every queued command is done with status 200, a Get with exactly one result equal
/// to the device's value, a Replace with no results and its value in the tree.
async fn assert_all_recorded(server: &Server, device: &Device, queued: &[Queued]) {
    for q in queued {
        let row = command(server, q.id).await;
        assert_eq!(row["state"], "done", "{q:?}: {row}");
        assert_eq!(row["status"], 200, "{q:?}: {row}");
        match q.kind {
            "Get" => {
                let results = row["results"].as_array().expect("results of a Get");
                assert_eq!(results.len(), 1, "one result, recorded once: {row}");
                assert_eq!(results[0]["locuri"], q.uri.as_str(), "{row}");
                let want = device.tree().value(&q.uri).expect("node in the tree");
                assert_eq!(results[0]["data"], want, "{row}");
            }
            _ => {
                assert!(row["results"].is_null(), "a Replace has no results: {row}");
                assert_eq!(
                    device.tree().value(&q.uri),
                    q.value.as_deref(),
                    "{q:?} applied"
                );
            }
        }
    }
}

/// No command of the device is left pending or sent.
async fn assert_nothing_open(server: &Server, device: &Device) {
    let (s, rows) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    for r in rows.as_array().unwrap() {
        assert_eq!(r["state"], "done", "{r}");
    }
}

/// How often each (command, LocURI) appears in `commands` (a SyncReport's or our own).
fn tally<'a>(
    commands: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (c, u) in commands {
        *out.entry((c.to_owned(), u.to_owned())).or_insert(0) += 1;
    }
    out
}

fn assert_each_once(count: &BTreeMap<(String, String), usize>, queued: &[Queued]) {
    for q in queued {
        assert_eq!(
            count.get(&(q.kind.to_owned(), q.uri.clone())).copied(),
            Some(1),
            "{q:?} must be delivered exactly once; deliveries: {count:?}"
        );
    }
}

/// A sync that must deliver no Get, Replace, Add, Delete or Exec.
async fn assert_next_sync_delivers_nothing(device: &mut Device) {
    let report = device.sync().await.expect("a later sync");
    let delivered: Vec<_> = report
        .commands
        .iter()
        .filter(|(c, _, _)| matches!(c.as_str(), "Get" | "Replace" | "Add" | "Delete" | "Exec"))
        .collect();
    assert!(
        delivered.is_empty(),
        "nothing is left to deliver: {delivered:?}"
    );
}

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

/// Server commands in one response: (command, LocURI) for each item, children of
/// Atomic/Sequence included.
fn server_commands(cmds: &[Command<'_>], out: &mut Vec<(String, String)>) {
    for c in cmds {
        match c {
            Command::Add(ic)
            | Command::Replace(ic)
            | Command::Delete(ic)
            | Command::Exec(ic)
            | Command::Get(ic)
            | Command::Copy(ic) => {
                for it in &ic.items {
                    out.push((
                        c.name().to_owned(),
                        it.target_uri().unwrap_or("").trim().to_owned(),
                    ));
                }
            }
            Command::Atomic(k) | Command::Sequence(k) => server_commands(&k.commands, out),
            _ => {}
        }
    }
}

/// The device's own session, message by message, over `common::https` with the
/// enrollment's client certificate.
struct ManualSession {
    session: DeviceSession,
    url: String,
    ca: String,
    cert: Vec<u8>,
    key: String,
    /// The server commands the device executed, per server message, in order.
    delivered: Vec<Vec<(String, String)>>,
}

impl ManualSession {
    fn new(device: &Device, session_id: &str, max_msg_size: u64) -> (Self, String) {
        let e = device.enrollment().expect("enrolled");
        let mut cfg = DeviceConfig::new(device.device_id(), e.management_url.clone(), session_id);
        cfg.max_msg_size = Some(max_msg_size);
        let mut session = DeviceSession::new(cfg);
        let first = session.start().to_xml().unwrap();
        (
            ManualSession {
                session,
                url: winmdm_device_emulator::management_request_url(&e.management_url),
                ca: e.tls_roots_pem.clone(),
                cert: e.certificate_der.clone(),
                key: e.key_pem.clone(),
                delivered: Vec::new(),
            },
            first,
        )
    }

    /// Posts one device message; the server's answer (status 200 asserted).
    async fn post(&self, body: &str) -> String {
        let (status, text) = https(
            &Request::new("POST", &self.url, &self.ca)
                .body(body.to_owned(), SYNCML_DM)
                .client_cert(&self.cert, &self.key),
        )
        .await
        .expect("management POST");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Executes a server message; the device's next message, `None` at the end.
    fn handle(&mut self, device: &mut Device, response: &str) -> Option<String> {
        let reply = winmdm_omadm::decode(response.as_bytes()).expect("server SyncML");
        let mut cmds = Vec::new();
        server_commands(&reply.body.commands, &mut cmds);
        self.delivered.push(cmds);
        self.session
            .handle(&reply, device.tree_mut())
            .expect("device engine")
            .map(|m| m.to_xml().unwrap())
    }

    fn delivered_count(&self) -> usize {
        self.delivered.iter().map(Vec::len).sum()
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
