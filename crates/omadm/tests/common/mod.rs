//! Shared harness: a recording queue and a loop running the server engine against the
//! device engine over encoded bytes.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use winmdm_omadm::device::DeviceSession;
use winmdm_omadm::server::{CommandQueue, DeviceEvent, Queued, ServerSession};
use winmdm_omadm::snapshot::{DeviceSnapshot, ServerSnapshot};
use winmdm_omadm::tree::MemoryTree;
use winmdm_omadm::{DmCommand, Outcome};
use winmdm_syncml::{SyncML, decode};

#[derive(Default, Debug)]
pub struct Q {
    pub todo: VecDeque<Queued>,
    pub outcomes: Vec<Outcome>,
    pub events: Vec<DeviceEvent>,
}

impl Q {
    pub fn with(cmds: Vec<DmCommand>) -> Self {
        Q {
            todo: cmds
                .into_iter()
                .enumerate()
                .map(|(i, command)| Queued {
                    tag: i as u64,
                    command,
                })
                .collect(),
            ..Q::default()
        }
    }

    pub fn outcome(&self, tag: u64) -> &Outcome {
        let v: Vec<_> = self.outcomes.iter().filter(|o| o.tag == tag).collect();
        assert_eq!(v.len(), 1, "tag {tag}: {} outcomes", v.len());
        v[0]
    }
}

impl CommandQueue for Q {
    fn next_command(&mut self) -> Option<Queued> {
        self.todo.pop_front()
    }
    fn outcome(&mut self, o: Outcome) {
        self.outcomes.push(o);
    }
    fn event(&mut self, e: DeviceEvent) {
        self.events.push(e);
    }
}

/// A device message of session 1 from `B5B954E81FBCB94EB79BD08BE625F4EE` to
/// `https://mdm.example/omadm` with the given body.
pub fn device_msg(msg_id: u32, body: &str, fin: bool) -> SyncML<'static> {
    const SERVER: &str = "https://mdm.example/omadm";
    const DEV: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
    let xml = format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>{msg_id}</MsgID><Target><LocURI>{SERVER}</LocURI></Target><Source><LocURI>{DEV}</LocURI></Source></SyncHdr><SyncBody>{body}{}</SyncBody></SyncML>"#,
        if fin { "<Final/>" } else { "" }
    );
    decode(xml.as_bytes()).unwrap().into_owned()
}

/// Encodes, checks the size, decodes: what travels on the wire.
pub fn wire(m: &SyncML<'_>, limit: Option<u64>) -> (SyncML<'static>, usize) {
    let mut v = Vec::new();
    m.encode(&mut v).unwrap();
    if let Some(l) = limit {
        assert!(
            v.len() as u64 <= l,
            "message of {} bytes > MaxMsgSize {l}",
            v.len()
        );
    }
    (decode(&v).unwrap().into_owned(), v.len())
}

#[derive(Debug, Default)]
pub struct Transcript {
    /// (from_device, message) in order.
    pub messages: Vec<(bool, SyncML<'static>)>,
}

impl Transcript {
    pub fn device(&self) -> impl Iterator<Item = &SyncML<'static>> {
        self.messages.iter().filter(|m| m.0).map(|m| &m.1)
    }
    pub fn server(&self) -> impl Iterator<Item = &SyncML<'static>> {
        self.messages.iter().filter(|m| !m.0).map(|m| &m.1)
    }
}

/// Saves an engine to JSON and continues it in a fresh one, as a server that stores
/// the session between two HTTPS requests does.
pub fn reload_server(s: &mut ServerSession) -> usize {
    let snap = s.snapshot().expect("snapshot between messages");
    let json = serde_json::to_string(&snap).unwrap();
    let back: ServerSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    *s = ServerSession::restore(s.config().clone(), &back).expect("restore");
    json.len() - snap.last_response_len()
}

/// The device side of [`reload_server`].
pub fn reload_device(d: &mut DeviceSession) {
    let snap = d.snapshot().expect("snapshot between messages");
    let json = serde_json::to_string(&snap).unwrap();
    let back: DeviceSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    *d = DeviceSession::restore(d.config().clone(), &back).expect("restore");
}

/// Runs a session to its end, both engines saved to JSON and restored into fresh ones
/// after every message (and every response requested a second time): every scenario
/// of `engine.rs` holds across restarts. `server_limit` is the MaxMsgSize device
/// messages are held to, `device_limit` the one server messages are held to.
pub fn run(
    server: &mut ServerSession,
    device: &mut DeviceSession,
    tree: &mut MemoryTree,
    q: &mut Q,
    device_limit: Option<u64>,
    server_limit: Option<u64>,
) -> Transcript {
    run_with(server, device, tree, q, device_limit, server_limit, true)
}

/// [`run`], with both engines saved and restored after every message when `reload`.
pub fn run_with(
    server: &mut ServerSession,
    device: &mut DeviceSession,
    tree: &mut MemoryTree,
    q: &mut Q,
    device_limit: Option<u64>,
    server_limit: Option<u64>,
    reload: bool,
) -> Transcript {
    let mut t = Transcript::default();
    let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (mut msg, _) = wire(&device.start(), server_limit);
    for _ in 0..20_000 {
        t.messages.push((true, msg.clone()));
        let reply = server.handle(&msg, now, q).expect("server accepts");
        if reload {
            reload_server(server);
            // A lost response: the device sends the same message again and gets the
            // same bytes from the restored engine.
            let again = server.handle(&msg, now, q).expect("retransmission");
            assert_eq!(again.to_xml().unwrap(), reply.to_xml().unwrap());
        }
        let (reply, _) = wire(&reply, device_limit);
        t.messages.push((false, reply.clone()));
        now += Duration::from_millis(10);
        let next = device.handle(&reply, tree).expect("device accepts");
        if reload {
            reload_device(device);
        }
        match next {
            Some(m) => msg = wire(&m, server_limit).0,
            None => {
                assert!(server.is_finished(), "device ended but server did not");
                return t;
            }
        }
    }
    panic!("session did not terminate");
}
