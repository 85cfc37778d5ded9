//! The server-facing API: Send, the poll-style engine, the FIFO queue, unmatched replies,
//! credentials after the first message, snapshots.

mod common;

use std::time::{Duration, SystemTime};

use common::{device_msg, reload_device, reload_server};
use winmdm_omadm::auth::{
    AuthScheme, CertDeviceId, Credentials, DeviceAuth, IdentityBinding, ServerAuth, ServerNonces,
};
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{
    AuthPhase, CommandQueue, DeviceEvent, FifoQueue, Pushed, Queued, ServerConfig, ServerEvent,
    ServerPhase, ServerSession, SessionHeader,
};
use winmdm_omadm::snapshot::{DeviceSnapshot, SNAPSHOT_VERSION, ServerSnapshot, SnapshotError};
use winmdm_omadm::tree::{MemoryTree, Node};
use winmdm_omadm::{DmCommand, LocUri, SessionError, Value};
use winmdm_syncml::{Command, CommandKind, StatusCode};

const SERVER: &str = "https://mdm.example/omadm";
const DEV: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
const T0: SystemTime = SystemTime::UNIX_EPOCH;

fn u(s: &str) -> LocUri<'static> {
    LocUri::try_from(s.to_owned()).unwrap()
}

fn events(s: &mut ServerSession) -> Vec<ServerEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn engine_types_are_send_and_static() {
    fn send<T: Send + 'static>() {}
    fn sync<T: Sync>() {}
    send::<ServerSession>();
    send::<DeviceSession>();
    send::<ServerConfig>();
    send::<DeviceConfig>();
    send::<ServerAuth>();
    send::<DeviceAuth>();
    send::<SessionError>();
    send::<SnapshotError>();
    send::<ServerSnapshot>();
    send::<DeviceSnapshot>();
    send::<ServerEvent>();
    send::<FifoQueue>();
    send::<Box<dyn IdentityBinding>>();
    send::<CertDeviceId>();
    sync::<ServerSnapshot>();
    sync::<Box<dyn IdentityBinding>>();
    // A session moves to another thread between two messages, as in a tokio server.
    let mut s =
        ServerSession::new(ServerConfig::new(SERVER)).with_identity(CertDeviceId(DEV.into()));
    let mut q = FifoQueue::new();
    s.handle(&device_msg(1, "", false), T0, &mut q).unwrap();
    let s = std::thread::spawn(move || s).join().unwrap();
    assert_eq!(s.phase(), ServerPhase::AwaitingDevice);
}

#[test]
fn fifo_queue_sends_in_push_order() {
    let mut q = FifoQueue::new();
    let tags: Vec<u64> = ["A", "B", "C"]
        .iter()
        .map(|n| q.push(DmCommand::get(u(&format!("./Vendor/MSFT/T/{n}")))))
        .collect();
    assert_eq!(tags, [0, 1, 2]);
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    let r = s
        .handle(
            &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    let targets: Vec<_> = r
        .body
        .commands
        .iter()
        .filter(|c| c.kind() == Some(CommandKind::Get))
        .map(|c| c.items()[0].target_uri().unwrap().to_owned())
        .collect();
    assert_eq!(
        targets,
        [
            "./Vendor/MSFT/T/A",
            "./Vendor/MSFT/T/B",
            "./Vendor/MSFT/T/C"
        ]
    );
    assert!(q.pending.is_empty());
    assert_eq!(q.events.len(), 1, "the 1201 alert");
}

#[test]
fn poll_api_asks_for_commands_while_there_is_room() {
    let mut cfg = ServerConfig::new(SERVER);
    cfg.default_max_msg_size = 4096;
    let mut s = ServerSession::new(cfg);
    assert_eq!(s.phase(), ServerPhase::New);
    assert_eq!(s.command_room(), None, "no message yet");
    assert_eq!(s.respond(), Err(SessionError::NoResponsePending));
    s.receive(
        &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
        T0,
    )
    .unwrap();
    assert_eq!(s.phase(), ServerPhase::Responding);
    assert_eq!(
        s.receive(&device_msg(2, "", true), T0),
        Err(SessionError::ResponsePending)
    );
    assert_eq!(s.snapshot(), Err(SnapshotError::Busy));
    // A storage-backed product fetches what the room allows.
    let value = "x".repeat(900);
    let mut pushed = Vec::new();
    let mut tag = 0;
    while let Some(room) = s.command_room() {
        assert!(room > 0 && room < 4096);
        let r = s.push_command(Queued {
            tag,
            command: DmCommand::replace(u("./Vendor/MSFT/T/A"), Value::Chr(value.clone().into())),
        });
        pushed.push(r);
        tag += 1;
        assert!(tag < 10);
    }
    assert_eq!(pushed.last(), Some(&Pushed::Deferred));
    assert!(
        pushed[..pushed.len() - 1]
            .iter()
            .all(|p| *p == Pushed::Sent)
    );
    let sent = pushed.len() - 1;
    let r1 = s.respond().unwrap();
    assert!(
        !r1.body.r#final,
        "a command is put off: the package continues"
    );
    assert!(r1.encoded_len() <= 4096);
    assert_eq!(
        r1.body
            .commands
            .iter()
            .filter(|c| c.kind() == Some(CommandKind::Replace))
            .count(),
        sent
    );
    assert!(matches!(
        &events(&mut s)[..],
        [ServerEvent::Device(DeviceEvent::Alert(_))]
    ));
    s.snapshot().expect("idle between messages");

    // The device answers; the command put off goes first in the next response.
    let statuses: String = (0..sent)
        .map(|i| {
            format!(
                "<Status><CmdID>{}</CmdID><MsgRef>1</MsgRef><CmdRef>{}</CmdRef><Cmd>Replace</Cmd><Data>200</Data></Status>",
                i + 2,
                i + 3
            )
        })
        .collect();
    let hdr = "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>";
    s.receive(&device_msg(2, &format!("{hdr}{statuses}"), true), T0)
        .unwrap();
    let outcomes: Vec<_> = events(&mut s)
        .into_iter()
        .map(|e| match e {
            ServerEvent::Outcome(o) => (o.tag, o.status),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        outcomes,
        (0..sent as u64)
            .map(|t| (t, Some(StatusCode::OK)))
            .collect::<Vec<_>>()
    );
    // The product has nothing more: the response carries the put-off command and Final.
    let r2 = s.respond().unwrap();
    assert!(r2.body.r#final);
    assert_eq!(
        r2.body
            .commands
            .iter()
            .filter(|c| c.kind() == Some(CommandKind::Replace))
            .count(),
        1
    );
}

#[test]
fn raw_wire_commands_can_be_pushed() {
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    s.receive(&device_msg(1, "", true), T0).unwrap();
    let cmds = winmdm_syncml::decode_commands(
        b"<Replace><CmdID>77</CmdID><Item><Target><LocURI>./Vendor/MSFT/T/A</LocURI></Target><Data>1</Data></Item></Replace><Status><CmdID>1</CmdID></Status>",
    )
    .unwrap();
    let mut it = cmds.into_iter();
    assert_eq!(s.push_raw(5, it.next().unwrap()), Pushed::Sent);
    // A Status is not something a server queues: reported at once, never sent.
    assert_eq!(s.push_raw(6, it.next().unwrap()), Pushed::Refused);
    let r = s.respond().unwrap();
    let replace = r
        .body
        .commands
        .iter()
        .find(|c| c.kind() == Some(CommandKind::Replace))
        .unwrap();
    assert_eq!(replace.cmd_id(), Some("2"), "CmdIDs are the engine's");
    assert!(
        events(&mut s)
            .iter()
            .any(|e| matches!(e, ServerEvent::Outcome(o) if o.tag == 6))
    );
}

#[test]
fn statuses_and_results_matching_no_command_are_events() {
    let mut q = FifoQueue::new();
    q.push(DmCommand::get(u("./DevDetail/SwV")));
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    s.handle(&device_msg(1, "", true), T0, &mut q).unwrap();
    let body = concat!(
        "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>",
        "<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status>",
        "<Status><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>42</CmdRef><Cmd>Add</Cmd><Data>500</Data></Status>",
        "<Results><CmdID>4</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Item><Source><LocURI>./DevDetail/SwV</LocURI></Source><Data>10.0</Data></Item></Results>",
        "<Results><CmdID>5</CmdID><MsgRef>9</MsgRef><CmdRef>3</CmdRef><Item><Source><LocURI>./X</LocURI></Source><Data>stray</Data></Item></Results>",
    );
    // One more command keeps the session open for a third device message.
    q.push(DmCommand::get(u("./DevDetail/OEM")));
    s.handle(&device_msg(2, body, true), T0, &mut q).unwrap();
    assert_eq!(
        q.outcome_for(0).unwrap().results[0]
            .data
            .as_ref()
            .unwrap()
            .as_str(),
        "10.0"
    );
    assert!(q.events.contains(&DeviceEvent::UnmatchedStatus {
        msg_ref: "1".into(),
        cmd_ref: "42".into(),
        cmd: Some("Add".into()),
        code: Some(StatusCode::COMMAND_FAILED),
    }));
    let stray = q
        .events
        .iter()
        .find_map(|e| match e {
            DeviceEvent::UnmatchedResults {
                msg_ref,
                cmd_ref,
                items,
            } => Some((msg_ref, cmd_ref, items)),
            _ => None,
        })
        .expect("unmatched results reported");
    assert_eq!((stray.0.as_str(), stray.1.as_str()), ("9", "3"));
    assert_eq!(stray.2[0].data.as_ref().unwrap().as_str(), "stray");
    // A late Status for a command already reported is unmatched too, not a second outcome.
    let late = "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status>";
    s.handle(&device_msg(3, late, true), T0, &mut q).unwrap();
    assert_eq!(q.outcomes.iter().filter(|o| o.tag == 0).count(), 1);
    assert_eq!(
        q.events
            .iter()
            .filter(|e| matches!(e, DeviceEvent::UnmatchedStatus { .. }))
            .count(),
        2
    );
}

#[test]
fn credentials_are_given_once_the_device_is_known() {
    let creds = Credentials::new("dev", "s3cret");
    let mut dc = DeviceConfig::new(DEV, SERVER, "1");
    dc.auth = Some(DeviceAuth {
        scheme: AuthScheme::Md5,
        credentials: creds.clone(),
        nonce: b"nonce-A".to_vec(),
        max_attempts: 3,
    });
    let mut d = DeviceSession::new(dc);
    let pkg1 = common::wire(&d.start(), None).0;
    // The product reads the header, looks the device up, then creates the engine.
    let h = SessionHeader::read(&pkg1).unwrap();
    assert_eq!((h.device_id, h.session_id, h.msg_id), (Some(DEV), "1", 1));
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    assert_eq!(s.auth_phase(), AuthPhase::NotRequired);
    s.set_auth(ServerAuth::md5(
        creds,
        ServerNonces {
            current: b"nonce-A".to_vec(),
            challenge: b"nonce-B".to_vec(),
            next_session: b"nonce-C".to_vec(),
        },
    ));
    assert_eq!(s.auth_phase(), AuthPhase::Pending { failures: 0 });
    let mut q = FifoQueue::new();
    let r = s.handle(&pkg1, T0, &mut q).unwrap();
    let Command::Status(st) = &r.body.commands[0] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::AUTHENTICATION_ACCEPTED));
    assert_eq!(s.auth_phase(), AuthPhase::Authenticated);
    assert_eq!(s.nonce_for_next_session(), Some(&b"nonce-C"[..]));
    assert!(q.events.contains(&DeviceEvent::Authenticated));
}

#[test]
fn a_restored_session_retransmits_the_same_bytes_and_continues() {
    let mut q = FifoQueue::new();
    q.push(DmCommand::get(u("./DevDetail/SwV")));
    q.push(DmCommand::add(u("./Vendor/MSFT/T/A"), Value::Int(5)));
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    let mut d = DeviceSession::new(DeviceConfig::new(DEV, SERVER, "1"));
    let mut tree = MemoryTree::new();
    tree.set("./DevDetail/SwV", Node::chr("10.0.22631"));
    let pkg1 = common::wire(&d.start(), None).0;
    let r1 = s.handle(&pkg1, T0, &mut q).unwrap();
    // Crash after storing the snapshot, before the response reached the device.
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.version(), SNAPSHOT_VERSION);
    let json = serde_json::to_string(&snap).unwrap();
    drop(s);
    let mut s = ServerSession::restore(
        ServerConfig::new(SERVER),
        &serde_json::from_str::<ServerSnapshot>(&json).unwrap(),
    )
    .unwrap();
    // The device retries the same message: the same response, nothing pulled twice.
    let again = s
        .handle(&pkg1, T0 + Duration::from_secs(5), &mut q)
        .unwrap();
    assert_eq!(again.to_xml().unwrap(), r1.to_xml().unwrap());
    // The session goes on to the end on the restored engine, reloading both sides.
    let mut msg = common::wire(&d.handle(&again, &mut tree).unwrap().unwrap(), None).0;
    reload_device(&mut d);
    loop {
        let r = s.handle(&msg, T0 + Duration::from_secs(6), &mut q).unwrap();
        reload_server(&mut s);
        match d.handle(&common::wire(&r, None).0, &mut tree).unwrap() {
            Some(m) => msg = common::wire(&m, None).0,
            None => break,
        }
        reload_device(&mut d);
    }
    assert!(s.is_finished());
    assert_eq!(q.outcomes.len(), 2);
    assert_eq!(
        q.outcome_for(0).unwrap().results[0]
            .data
            .as_ref()
            .unwrap()
            .as_str(),
        "10.0.22631"
    );
    assert_eq!(q.outcome_for(1).unwrap().status, Some(StatusCode::OK));
    assert_eq!(
        tree.node("./Vendor/MSFT/T/A").unwrap().data.as_deref(),
        Some("5")
    );
}

#[test]
fn snapshots_of_another_version_or_corrupt_are_refused() {
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    s.handle(&device_msg(1, "", true), T0, &mut FifoQueue::new())
        .unwrap();
    let mut v: serde_json::Value = serde_json::to_value(s.snapshot().unwrap()).unwrap();
    v["v"] = 99.into();
    let snap: ServerSnapshot = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(
        ServerSession::restore(ServerConfig::new(SERVER), &snap).unwrap_err(),
        SnapshotError::Version { found: 99 }
    );
    v["v"] = SNAPSHOT_VERSION.into();
    // An outgoing object claiming more than 1 GiB already sent (a filler that long
    // would be allocated on restore).
    let mut huge = v.clone();
    huge["lo"] = serde_json::json!({"tpl": "<Replace><Item><Target><LocURI>./Vendor/MSFT/T/A</LocURI></Target></Item></Replace>", "text": "x", "off": 1u64 << 31, "rec": 0});
    let snap: ServerSnapshot = serde_json::from_value(huge).unwrap();
    assert_eq!(
        ServerSession::restore(ServerConfig::new(SERVER), &snap).unwrap_err(),
        SnapshotError::Corrupt("outgoing object")
    );
    v["st"] = "<Status><CmdID>".into();
    let snap: ServerSnapshot = serde_json::from_value(v).unwrap();
    assert!(matches!(
        ServerSession::restore(ServerConfig::new(SERVER), &snap),
        Err(SnapshotError::Corrupt(_))
    ));
}

#[test]
fn a_session_with_five_commands_in_flight_snapshots_under_2_kb() {
    let mut q = FifoQueue::new();
    q.push(DmCommand::get(u("./DevDetail/SwV")));
    q.push(DmCommand::get(u("./DevDetail/Ext/Microsoft/DeviceName")));
    q.push(DmCommand::replace(
        u("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart"),
        Value::Int(8),
    ));
    q.push(DmCommand::add(
        u("./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring"),
        Value::Int(1),
    ));
    q.push(DmCommand::exec(u("./Vendor/MSFT/Reboot/RebootNow"), None));
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    let mut d = DeviceSession::new(DeviceConfig::new(DEV, SERVER, "1"));
    s.handle(&common::wire(&d.start(), None).0, T0, &mut q)
        .unwrap();
    let snap = s.snapshot().unwrap();
    let size = serde_json::to_vec(&snap).unwrap().len() - snap.last_response_len();
    assert!(size < 2048, "snapshot of {size} bytes");
    assert!(q.outcomes.is_empty(), "all five in flight");
}

#[test]
fn identity_is_checked_on_every_message_not_saved() {
    let mut q = FifoQueue::new();
    let mut s =
        ServerSession::new(ServerConfig::new(SERVER)).with_identity(CertDeviceId(DEV.into()));
    s.handle(&device_msg(1, "", false), T0, &mut q).unwrap();
    let mut s = ServerSession::restore(ServerConfig::new(SERVER), &s.snapshot().unwrap()).unwrap();
    // The next request came with another device's certificate.
    s.set_identity(CertDeviceId("SOMEONE-ELSE".into()));
    let r = s.handle(&device_msg(2, "", true), T0, &mut q).unwrap();
    let Command::Status(st) = &r.body.commands[0] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::FORBIDDEN));
    assert!(s.is_finished());
}

/// A queue that records what it was asked, to check the engine pulls only with room.
#[derive(Default)]
struct Counting(FifoQueue, usize);

impl CommandQueue for Counting {
    fn next_command(&mut self) -> Option<Queued> {
        self.1 += 1;
        self.0.next_command()
    }
    fn outcome(&mut self, o: winmdm_omadm::Outcome) {
        self.0.outcome(o)
    }
}

#[test]
fn handle_pulls_nothing_while_the_device_package_is_open() {
    let mut q = Counting::default();
    q.0.push(DmCommand::get(u("./DevDetail/SwV")));
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    s.handle(&device_msg(1, "", false), T0, &mut q).unwrap();
    assert_eq!(q.1, 0, "a message without Final gets 1222 and no commands");
    s.handle(&device_msg(2, "", true), T0, &mut q).unwrap();
    assert_eq!(q.1, 2, "pulled until the queue ran dry");
}
