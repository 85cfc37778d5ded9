//! Shared by the crash and scale-out tests: commands queued through the admin API, a
//! device session driven message by message, and the checks on what was delivered and
//! recorded.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use winmdm_device_emulator::{Credential, Device, EnrollOptions};
use winmdm_omadm::Command;
use winmdm_omadm::device::{DeviceConfig, DeviceSession};

use super::{Request, Server, https};

pub const SYNCML_DM: &str = "application/vnd.syncml.dm+xml";

/// Nodes the emulator's tree answers a Get for (seeded from its facts).
pub const GETS: &[&str] = &[
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
pub const REPLACES: &[&str] = &[
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

pub fn get_xml(uri: &str) -> String {
    format!("<Get><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target></Item></Get>")
}

pub fn replace_xml(uri: &str, value: &str) -> String {
    format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>{value}</Data></Item></Replace>"
    )
}

/// The value the test writes to the i-th Replace node (alternating, so that most
/// differ from whatever the tree held).
pub fn value_for(i: usize) -> String {
    (i % 2).to_string()
}

/// One queued command: what it is and where it points.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub kind: &'static str,
    pub uri: String,
    pub value: Option<String>,
}

pub async fn enroll(server: &Server, dir: &std::path::Path) -> Device {
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
pub async fn queue(server: &Server, device: &Device, gets: usize, replaces: usize) -> Vec<Queued> {
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

pub async fn command(server: &Server, id: i64) -> Value {
    let (s, row) = server
        .admin("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(s, 200, "command {id}: {row}");
    row
}

/// The state of every queued command: id -> state.
pub async fn states(server: &Server, queued: &[Queued]) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    for q in queued {
        let row = command(server, q.id).await;
        out.insert(q.id, row["state"].as_str().unwrap().to_owned());
    }
    out
}

/// Every queued command is done with status 200, a Get with exactly one result equal
/// to the device's value, a Replace with no results and its value in the tree.
pub async fn assert_all_recorded(server: &Server, device: &Device, queued: &[Queued]) {
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
pub async fn assert_nothing_open(server: &Server, device: &Device) {
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
pub fn tally<'a>(
    commands: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (c, u) in commands {
        *out.entry((c.to_owned(), u.to_owned())).or_insert(0) += 1;
    }
    out
}

pub fn assert_each_once(count: &BTreeMap<(String, String), usize>, queued: &[Queued]) {
    for q in queued {
        assert_eq!(
            count.get(&(q.kind.to_owned(), q.uri.clone())).copied(),
            Some(1),
            "{q:?} must be delivered exactly once; deliveries: {count:?}"
        );
    }
}

/// A sync that must deliver no Get, Replace, Add, Delete or Exec.
pub async fn assert_next_sync_delivers_nothing(device: &mut Device) {
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

/// Server commands in one response: (command, LocURI) for each item, children of
/// Atomic/Sequence included.
pub fn server_commands(cmds: &[Command<'_>], out: &mut Vec<(String, String)>) {
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
pub struct ManualSession {
    pub session: DeviceSession,
    /// Where [`ManualSession::post`] sends messages (the enrollment's management URL).
    pub url: String,
    pub ca: String,
    pub cert: Vec<u8>,
    pub key: String,
    /// The server commands the device executed, per server message, in order.
    pub delivered: Vec<Vec<(String, String)>>,
}

impl ManualSession {
    pub fn new(device: &Device, session_id: &str, max_msg_size: u64) -> (Self, String) {
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
    pub async fn post(&self, body: &str) -> String {
        self.post_to(&self.url, body).await
    }

    /// Posts one device message to `url` (another instance); the answer (200 asserted).
    pub async fn post_to(&self, url: &str, body: &str) -> String {
        let (status, text) = https(
            &Request::new("POST", url, &self.ca)
                .body(body.to_owned(), SYNCML_DM)
                .client_cert(&self.cert, &self.key),
        )
        .await
        .expect("management POST");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Executes a server message; the device's next message, `None` at the end.
    pub fn handle(&mut self, device: &mut Device, response: &str) -> Option<String> {
        let reply = winmdm_omadm::decode(response.as_bytes()).expect("server SyncML");
        let mut cmds = Vec::new();
        server_commands(&reply.body.commands, &mut cmds);
        self.delivered.push(cmds);
        self.session
            .handle(&reply, device.tree_mut())
            .expect("device engine")
            .map(|m| m.to_xml().unwrap())
    }

    pub fn delivered_count(&self) -> usize {
        self.delivered.iter().map(Vec::len).sum()
    }
}
