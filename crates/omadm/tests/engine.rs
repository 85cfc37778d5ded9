//! End-to-end sessions: the server engine against the device engine.

mod common;

use std::time::{Duration, SystemTime};

use common::{Q, device_msg, run, run_with, wire};
use winmdm_omadm::alert::{ClientEvent, DeviceAlert, LoginStatus};
use winmdm_omadm::auth::{
    AuthScheme, CertDeviceId, Credentials, DeviceAuth, ServerAuth, ServerNonces,
};
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{DeviceEvent, ServerConfig, ServerSession};
use winmdm_omadm::tree::{MemoryTree, Node};
use winmdm_omadm::{Disposition, DmCommand, LocUri, SessionError, Value};
use winmdm_syncml::{Command, CommandKind, StatusCode};

const SERVER: &str = "https://mdm.example/omadm";
const DEV: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";

fn u(s: &str) -> LocUri<'static> {
    LocUri::try_from(s.to_owned()).unwrap()
}

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    t.set("./DevDetail/SwV", Node::chr("10.0.19043.1237"))
        .set("./DevInfo/Man", Node::chr("VMware, Inc."))
        .read_only("./DevDetail")
        .read_only("./DevInfo")
        .set("./Vendor/MSFT/DMClient/Provider/P/Unenroll", Node::chr(""))
        .executable("./Vendor/MSFT/DMClient/Provider/P/Unenroll");
    t
}

fn device() -> DeviceSession {
    DeviceSession::new(DeviceConfig::new(DEV, SERVER, "1"))
}

fn server_cfg() -> ServerConfig {
    ServerConfig::new(SERVER)
}

#[test]
fn commands_get_statuses_and_results_correlated() {
    let mut q = Q::with(vec![
        DmCommand::get(u("./DevDetail/SwV")),
        DmCommand::replace(u("./DevDetail/SwV"), Value::Chr("x".into())),
        DmCommand::add(u("./Vendor/MSFT/Test/A"), Value::Int(5)),
        DmCommand::add(u("./Vendor/MSFT/Test/A"), Value::Int(6)),
        DmCommand::delete(u("./Vendor/MSFT/Nope")),
        DmCommand::exec(
            u("./Vendor/MSFT/DMClient/Provider/P/Unenroll"),
            Some(Value::Chr("P".into())),
        ),
        DmCommand::get(u("./Vendor/MSFT/Test")),
    ]);
    let mut t = tree();
    let mut s = ServerSession::new(server_cfg());
    let tr = run(&mut s, &mut device(), &mut t, &mut q, None, None);
    let code = |tag| q.outcome(tag).status;
    assert_eq!(code(0), Some(StatusCode::OK));
    let r = &q.outcome(0).results;
    assert_eq!(r[0].source_uri(), Some("./DevDetail/SwV"));
    assert_eq!(r[0].data.as_ref().unwrap().as_str(), "10.0.19043.1237");
    assert_eq!(code(1), Some(StatusCode::COMMAND_NOT_ALLOWED));
    assert_eq!(code(2), Some(StatusCode::OK));
    assert_eq!(code(3), Some(StatusCode::ALREADY_EXISTS));
    assert_eq!(code(4), Some(StatusCode::NOT_FOUND));
    assert_eq!(code(5), Some(StatusCode::OK));
    assert_eq!(
        t.execs,
        vec![(
            "./Vendor/MSFT/DMClient/Provider/P/Unenroll".to_owned(),
            Some("P".to_owned())
        )]
    );
    let interior = &q.outcome(6).results[0];
    assert_eq!(
        interior.meta.as_ref().unwrap().format.as_deref(),
        Some("node")
    );
    assert_eq!(interior.data.as_ref().unwrap().as_str(), "A");
    assert_eq!(
        t.node("./Vendor/MSFT/Test/A").unwrap().data.as_deref(),
        Some("5")
    );
    // Correlation: the outcome names the server message and CmdID that carried it.
    let first_reply = tr.server().next().unwrap();
    let get = first_reply
        .body
        .commands
        .iter()
        .find(|c| c.kind() == Some(CommandKind::Get))
        .unwrap();
    assert_eq!(q.outcome(0).msg_ref, "1");
    assert_eq!(q.outcome(0).cmd_ref, get.cmd_id().unwrap());
    // Package 1 events: 1201, 1224 LoginStatus, DevInfo.
    assert!(
        q.events
            .contains(&DeviceEvent::Alert(DeviceAlert::ClientInitiated))
    );
    assert!(
        q.events
            .contains(&DeviceEvent::Alert(DeviceAlert::ClientEvent(vec![
                ClientEvent::LoginStatus(LoginStatus::User)
            ])))
    );
    assert!(q.events.iter().any(|e| matches!(e, DeviceEvent::DeviceInfo(v) if v[0] == ("./DevInfo/DevId".to_owned(), DEV.to_owned()))));
    // Server MsgIDs are its own: 1, 2, ... and every reply starts with the SyncHdr Status.
    for (i, m) in tr.server().enumerate() {
        assert_eq!(m.hdr.msg_id.as_deref(), Some((i + 1).to_string().as_str()));
        let Command::Status(st) = &m.body.commands[0] else {
            panic!("first is not a Status")
        };
        assert_eq!(
            (st.cmd_ref.as_deref(), st.cmd.as_deref()),
            (Some("0"), Some("SyncHdr"))
        );
    }
    // The last server message ends the session: Statuses only, Final.
    let last = tr.server().last().unwrap();
    assert!(last.body.r#final);
    assert!(
        last.body
            .commands
            .iter()
            .all(|c| matches!(c, Command::Status(_)))
    );
}

#[test]
fn atomic_rollback_reports_507_and_216_per_child() {
    let a = DmCommand::atomic(vec![
        DmCommand::add(u("./Vendor/MSFT/T/A"), Value::Chr("1".into())),
        DmCommand::replace(u("./Vendor/MSFT/T/Broken"), Value::Chr("2".into())),
        DmCommand::add(u("./Vendor/MSFT/T/C"), Value::Chr("3".into())),
    ])
    .unwrap();
    let ok = DmCommand::atomic(vec![DmCommand::add(
        u("./Vendor/MSFT/T/D"),
        Value::Bool(true),
    )])
    .unwrap();
    let seq = DmCommand::sequence(vec![
        DmCommand::get(u("./Vendor/MSFT/T/D")),
        DmCommand::delete(u("./Vendor/MSFT/T/D")),
    ])
    .unwrap();
    let mut q = Q::with(vec![a, ok, seq]);
    let mut t = tree();
    t.set("./Vendor/MSFT/T/Broken", Node::chr("0"))
        .fail("./Vendor/MSFT/T/Broken", StatusCode::COMMAND_FAILED);
    run(
        &mut ServerSession::new(server_cfg()),
        &mut device(),
        &mut t,
        &mut q,
        None,
        None,
    );
    let o = q.outcome(0);
    assert_eq!(o.status, Some(StatusCode::ATOMIC_FAILED));
    assert!(o.rolled_back());
    let kids: Vec<_> = o.children.iter().map(|c| c.status.unwrap().0).collect();
    assert_eq!(kids, [216, 500, 215]);
    assert!(t.node("./Vendor/MSFT/T/A").is_none(), "rolled back");
    assert_eq!(q.outcome(1).status, Some(StatusCode::OK));
    let s = q.outcome(2);
    assert_eq!(s.kind, CommandKind::Sequence);
    assert_eq!(
        s.children[0].results[0].data.as_ref().unwrap().as_str(),
        "true"
    );
    assert_eq!(s.children[1].status, Some(StatusCode::OK));
    assert!(t.node("./Vendor/MSFT/T/D").is_none());
}

#[test]
fn long_queue_is_split_over_messages_with_alert_1222() {
    let cmds: Vec<_> = (0..60)
        .map(|i| {
            DmCommand::add(
                u(&format!("./Vendor/MSFT/T/N{i}")),
                Value::Chr("v".repeat(100).into()),
            )
        })
        .collect();
    let mut q = Q::with(cmds);
    let mut d = DeviceSession::new({
        let mut c = DeviceConfig::new(DEV, SERVER, "1");
        c.max_msg_size = Some(4096);
        c
    });
    let mut s = ServerSession::new(server_cfg());
    let tr = run(&mut s, &mut d, &mut tree(), &mut q, Some(4096), None);
    assert_eq!(q.outcomes.len(), 60);
    assert!(q.outcomes.iter().all(|o| o.status == Some(StatusCode::OK)));
    let non_final = tr.server().filter(|m| !m.body.r#final).count();
    assert!(non_final >= 3, "{non_final}");
    // The device asks for each next message with Alert 1222.
    let alerts = tr
        .device()
        .filter(|m| {
            m.body
                .commands
                .iter()
                .any(|c| matches!(c, Command::Alert(a) if a.code().map(|c| c.0) == Some(1222)))
        })
        .count();
    assert_eq!(alerts, non_final);
}

fn big(n: usize) -> String {
    let pat = "abc<def>&ghi\r\n€\t\"x' ";
    pat.chars().cycle().take(n).collect()
}

#[test]
fn large_objects_travel_both_ways_byte_exact() {
    let data = big(200_000);
    let mut q = Q::with(vec![
        DmCommand::add(u("./Vendor/MSFT/T/Big"), Value::Chr(data.clone().into())),
        DmCommand::get(u("./Vendor/MSFT/T/Big")),
    ]);
    let mut d = DeviceSession::new({
        let mut c = DeviceConfig::new(DEV, SERVER, "1");
        c.max_msg_size = Some(8192);
        c
    });
    let mut cfg = server_cfg();
    cfg.declared_max_msg_size = Some(6000);
    let mut t = tree();
    let tr = run(
        &mut ServerSession::new(cfg),
        &mut d,
        &mut t,
        &mut q,
        Some(8192),
        Some(6000),
    );
    assert_eq!(
        t.node("./Vendor/MSFT/T/Big").unwrap().data.as_deref(),
        Some(data.as_str())
    );
    assert_eq!(q.outcome(0).status, Some(StatusCode::OK));
    let back = &q.outcome(1).results;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].data.as_ref().unwrap().as_str(), data);
    // Chunks: MoreData with Size on the first, 213 for each intermediate chunk.
    let server_chunks: Vec<_> = tr
        .server()
        .flat_map(|m| m.body.commands.iter())
        .filter(|c| c.kind() == Some(CommandKind::Add))
        .collect();
    assert!(server_chunks.len() > 20);
    assert_eq!(
        server_chunks[0].items()[0].meta.as_ref().unwrap().size,
        Some(data.len() as u64)
    );
    assert!(
        server_chunks[1].items()[0]
            .meta
            .as_ref()
            .is_none_or(|m| m.size.is_none())
    );
    assert!(!server_chunks.last().unwrap().items()[0].more_data);
    let device_213 = tr
        .device()
        .flat_map(|m| m.body.commands.iter())
        .filter(|c| matches!(c, Command::Status(s) if s.code() == Some(StatusCode::CHUNKED_ITEM_ACCEPTED)))
        .count();
    assert_eq!(device_213, server_chunks.len() - 1);
    let server_213 = tr
        .server()
        .flat_map(|m| m.body.commands.iter())
        .filter(|c| matches!(c, Command::Status(s) if s.code() == Some(StatusCode::CHUNKED_ITEM_ACCEPTED)))
        .count();
    assert!(
        server_213 > 20,
        "device Results came in chunks: {server_213}"
    );
}

const T0: SystemTime = SystemTime::UNIX_EPOCH;

#[test]
fn device_message_without_final_gets_1222_and_keeps_package_open() {
    let mut q = Q::with(vec![DmCommand::get(u("./DevDetail/SwV"))]);
    let mut s = ServerSession::new(server_cfg());
    let r = s
        .handle(
            &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", false),
            T0,
            &mut q,
        )
        .unwrap();
    assert!(!r.body.r#final);
    let kinds: Vec<_> = r
        .body
        .commands
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(kinds, ["Status", "Status", "Alert"]);
    let Command::Alert(a) = &r.body.commands[2] else {
        panic!()
    };
    assert_eq!(a.code().unwrap().0, 1222);
    assert_eq!(
        q.todo.len(),
        1,
        "no commands while the device's package is open"
    );
    let r2 = s.handle(&device_msg(2, "<Replace><CmdID>3</CmdID><Item><Source><LocURI>./DevInfo/Lang</LocURI></Source><Data>en-US</Data></Item></Replace>", true), T0, &mut q).unwrap();
    assert!(r2.body.r#final);
    assert!(
        r2.body
            .commands
            .iter()
            .any(|c| c.kind() == Some(CommandKind::Get))
    );
    assert_eq!(r2.hdr.msg_id.as_deref(), Some("2"));
}

#[test]
fn incoming_chunks_get_213_and_wrong_size_gets_424() {
    let mut q = Q::with(vec![
        DmCommand::get(u("./Vendor/MSFT/X")),
        DmCommand::get(u("./Vendor/MSFT/Y")),
    ]);
    let mut s = ServerSession::new(server_cfg());
    let r = s
        .handle(
            &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    let ids: Vec<_> = r
        .body
        .commands
        .iter()
        .filter(|c| c.kind() == Some(CommandKind::Get))
        .map(|c| c.cmd_id().unwrap().to_owned())
        .collect();
    let (gx, gy) = (&ids[0], &ids[1]);
    let chunk = |cmd: &str, gref: &str, src: &str, size: Option<u32>, data: &str, more: bool| {
        format!(
            "<Results><CmdID>{cmd}</CmdID><MsgRef>1</MsgRef><CmdRef>{gref}</CmdRef><Cmd>Get</Cmd><Item><Source><LocURI>{src}</LocURI></Source>{}<Data>{data}</Data>{}</Item></Results>",
            size.map(|n| format!("<Meta><Format xmlns=\"syncml:metinf\">chr</Format><Size xmlns=\"syncml:metinf\">{n}</Size></Meta>")).unwrap_or_default(),
            if more { "<MoreData/>" } else { "" }
        )
    };
    let body = format!(
        "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status><Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>{gx}</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status><Status><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>{gy}</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status>{}",
        chunk("4", gx, "./Vendor/MSFT/X", Some(10), "hello", true)
    );
    let r = s.handle(&device_msg(2, &body, false), T0, &mut q).unwrap();
    let Command::Status(st) = &r.body.commands[1] else {
        panic!()
    };
    assert_eq!(
        (st.cmd_ref.as_deref(), st.code()),
        (Some("4"), Some(StatusCode::CHUNKED_ITEM_ACCEPTED))
    );
    assert!(!r.body.r#final);
    let r = s
        .handle(
            &device_msg(
                3,
                &chunk("1", gx, "./Vendor/MSFT/X", None, "world", false),
                false,
            ),
            T0,
            &mut q,
        )
        .unwrap();
    let Command::Status(st) = &r.body.commands[1] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::OK));
    // Y: declared 10, 3 bytes arrive, then the object ends: 424.
    let r = s
        .handle(
            &device_msg(
                4,
                &chunk("1", gy, "./Vendor/MSFT/Y", Some(10), "abc", true),
                false,
            ),
            T0,
            &mut q,
        )
        .unwrap();
    let Command::Status(st) = &r.body.commands[1] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::CHUNKED_ITEM_ACCEPTED));
    let r = s
        .handle(
            &device_msg(
                5,
                &chunk("1", gy, "./Vendor/MSFT/Y", None, "de", false),
                true,
            ),
            T0,
            &mut q,
        )
        .unwrap();
    let Command::Status(st) = &r.body.commands[1] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::SIZE_MISMATCH));
    assert_eq!(
        q.outcome(0).results[0].data.as_ref().unwrap().as_str(),
        "helloworld"
    );
    assert!(q.outcome(1).results.is_empty());
    assert!(r.body.r#final);
    assert!(s.is_finished());
}

#[test]
fn header_validation_and_retransmission() {
    let mut q = Q::default();
    let mut s = ServerSession::new(server_cfg());
    let m1 = device_msg(7, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", false);
    let r1 = s.handle(&m1, T0, &mut q).unwrap();
    assert_eq!(
        r1.hdr.msg_id.as_deref(),
        Some("1"),
        "own MsgID, not the device's 7"
    );
    assert_eq!(
        r1.hdr.target.as_ref().unwrap().loc_uri.as_deref(),
        Some(DEV)
    );
    let Command::Status(st) = &r1.body.commands[0] else {
        panic!()
    };
    assert_eq!(st.msg_ref.as_deref(), Some("7"));
    assert_eq!(
        s.handle(&m1, T0, &mut q).unwrap(),
        r1,
        "retransmission gets the same reply"
    );
    let skip = device_msg(9, "", true);
    assert_eq!(
        s.handle(&skip, T0, &mut q),
        Err(SessionError::UnexpectedMsgId {
            expected: 8,
            got: 9
        })
    );
    let mut other = device_msg(8, "", true);
    other.hdr.session_id = Some("2".into());
    assert!(matches!(
        s.handle(&other, T0, &mut q),
        Err(SessionError::SessionMismatch { .. })
    ));
    let mut late = device_msg(8, "", true);
    late.hdr.msg_id = Some("8".into());
    assert_eq!(
        s.handle(&late, T0 + Duration::from_secs(3600), &mut q),
        Err(SessionError::Expired)
    );
    let mut small = device_msg(8, "", true);
    small.hdr.meta = Some(winmdm_syncml::Meta {
        max_msg_size: Some(100),
        ..Default::default()
    });
    assert_eq!(
        s.handle(&small, T0, &mut q),
        Err(SessionError::MaxMsgSizeTooSmall(100))
    );
    let mut none = device_msg(8, "", true);
    none.hdr.session_id = None;
    assert_eq!(
        s.handle(&none, T0, &mut q),
        Err(SessionError::MissingHeader("SessionID"))
    );
}

#[test]
fn unknown_device_commands_and_missing_cmdid_get_statuses() {
    let mut q = Q::default();
    let mut s = ServerSession::new(server_cfg());
    let r = s
        .handle(&device_msg(1, "<Alert><Data>1201</Data></Alert><Get><CmdID>3</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get><Alert><CmdID>4</CmdID><Data>1223</Data></Alert>", true), T0, &mut q)
        .unwrap();
    let codes: Vec<_> = r
        .body
        .commands
        .iter()
        .map(|c| match c {
            Command::Status(s) => (
                s.cmd_ref.as_deref().unwrap().to_owned(),
                s.code().unwrap().0,
            ),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("0".into(), 200),
            ("".into(), 400),
            ("3".into(), 406),
            ("4".into(), 200)
        ]
    );
    assert!(s.is_finished(), "1223 aborts the session");
    let again = device_msg(
        1,
        "<Alert><Data>1201</Data></Alert><Get><CmdID>3</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get><Alert><CmdID>4</CmdID><Data>1223</Data></Alert>",
        true,
    );
    assert_eq!(
        s.handle(&again, T0, &mut q).unwrap(),
        r,
        "retransmission after the end"
    );
    assert_eq!(
        s.handle(&device_msg(2, "", true), T0, &mut q),
        Err(SessionError::Finished)
    );
}

#[test]
fn md5_challenge_then_212_and_nonce_rotation() {
    let creds = Credentials::new("dev", "s3cret");
    let mut cfg = server_cfg();
    cfg.auth = Some(ServerAuth::md5(
        creds.clone(),
        ServerNonces {
            current: b"nonce-A".to_vec(),
            challenge: b"nonce-B".to_vec(),
            next_session: b"nonce-C".to_vec(),
        },
    ));
    let mut dc = DeviceConfig::new(DEV, SERVER, "1");
    dc.auth = Some(DeviceAuth {
        scheme: AuthScheme::Md5,
        credentials: creds,
        nonce: b"stale".to_vec(),
        max_attempts: 3,
    });
    let mut d = DeviceSession::new(dc);
    let mut s = ServerSession::new(cfg);
    let mut q = Q::with(vec![DmCommand::get(u("./DevDetail/SwV"))]);
    let tr = run(&mut s, &mut d, &mut tree(), &mut q, None, None);
    let hdr_codes: Vec<_> = tr
        .server()
        .map(|m| match &m.body.commands[0] {
            Command::Status(s) => s.code().unwrap().0,
            _ => 0,
        })
        .collect();
    assert_eq!(&hdr_codes[..2], [401, 212]);
    // The challenge carries NextNonce; the device answered with it.
    let first = tr.server().next().unwrap();
    let Command::Status(ch) = &first.body.commands[0] else {
        panic!()
    };
    assert_eq!(
        winmdm_omadm::auth::read_chal(ch.chal.as_ref().unwrap()),
        Some((AuthScheme::Md5, Some(b"nonce-B".to_vec())))
    );
    assert_eq!(
        first.body.commands.len(),
        1,
        "nothing processed before authentication"
    );
    assert_eq!(q.outcome(0).status, Some(StatusCode::OK));
    assert!(
        q.events.contains(&DeviceEvent::AuthenticationFailed)
            && q.events.contains(&DeviceEvent::Authenticated)
    );
    // 212 hands out the next session's nonce.
    assert_eq!(d.next_session_nonce(), Some(&b"nonce-C"[..]));
    assert_eq!(s.nonce_for_next_session(), Some(&b"nonce-C"[..]));
    // After 212 the device stops sending credentials.
    assert!(tr.device().skip(2).all(|m| m.hdr.cred.is_none()));
}

#[test]
fn wrong_basic_password_ends_session_after_max_failures() {
    let mut cfg = server_cfg();
    cfg.auth = Some(ServerAuth::basic(Credentials::new("dev", "right")));
    let mut dc = DeviceConfig::new(DEV, SERVER, "1");
    dc.auth = Some(DeviceAuth {
        scheme: AuthScheme::Basic,
        credentials: Credentials::new("dev", "wrong"),
        nonce: vec![],
        max_attempts: 5,
    });
    let mut d = DeviceSession::new(dc);
    let mut s = ServerSession::new(cfg);
    let mut q = Q::with(vec![DmCommand::get(u("./DevDetail/SwV"))]);
    let mut msg = wire(&d.start(), None).0;
    let mut codes = Vec::new();
    while !s.is_finished() {
        let r = s.handle(&msg, T0, &mut q).unwrap();
        let Command::Status(st) = &r.body.commands[0] else {
            panic!()
        };
        codes.push(st.code().unwrap().0);
        match d.handle(&r, &mut tree()).unwrap() {
            Some(m) => msg = m,
            None => break,
        }
    }
    assert_eq!(codes, [401, 401, 401]);
    assert!(s.is_finished());
    // Nothing was issued: the command is still in the product's queue.
    assert!(q.outcomes.is_empty());
    assert_eq!(q.todo.len(), 1);
}

#[test]
fn tls_identity_must_match_device_id() {
    let mut q = Q::default();
    let mut s = ServerSession::new(server_cfg()).with_identity(CertDeviceId("SOMEONE-ELSE".into()));
    let r = s
        .handle(
            &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    let Command::Status(st) = &r.body.commands[0] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::FORBIDDEN));
    assert_eq!(r.body.commands.len(), 1);
    assert!(s.is_finished());
    let mut ok = ServerSession::new(server_cfg()).with_identity(CertDeviceId(DEV.to_lowercase()));
    let r = ok.handle(&device_msg(1, "", true), T0, &mut q).unwrap();
    let Command::Status(st) = &r.body.commands[0] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::OK));
}

#[test]
fn too_large_commands_are_reported_not_sent() {
    // An Atomic cannot be chunked: larger than MaxMsgSize, it is not sent.
    let a = DmCommand::atomic(vec![DmCommand::add(
        u("./Vendor/MSFT/T/A"),
        Value::Chr(big(10_000).into()),
    )])
    .unwrap();
    let mut q = Q::with(vec![a, DmCommand::get(u("./DevDetail/SwV"))]);
    let mut d = DeviceSession::new({
        let mut c = DeviceConfig::new(DEV, SERVER, "1");
        c.max_msg_size = Some(4096);
        c.max_obj_size = Some(1_000_000);
        c
    });
    run(
        &mut ServerSession::new(server_cfg()),
        &mut d,
        &mut tree(),
        &mut q,
        Some(4096),
        None,
    );
    assert_eq!(q.outcome(0).disposition, Disposition::TooLarge);
    assert_eq!(q.outcome(1).status, Some(StatusCode::OK));
}

#[test]
fn status_overflow_keeps_synchdr_status_first() {
    // 120 generic alerts: their Statuses do not fit in one 2048-byte reply.
    let alerts: String = (2..122)
        .map(|i| format!("<Alert><CmdID>{i}</CmdID><Data>1226</Data><Item><Meta><Type xmlns=\"syncml:metinf\">x.y</Type></Meta><Data>0</Data></Item></Alert>"))
        .collect();
    let mut m1 = device_msg(1, &alerts, true);
    m1.hdr.meta = Some(winmdm_syncml::Meta {
        max_msg_size: Some(2048),
        ..Default::default()
    });
    let mut q = Q::with(vec![DmCommand::get(u("./DevDetail/SwV"))]);
    let mut s = ServerSession::new(server_cfg());
    let mut answered = Vec::new();
    let mut reply = s.handle(&m1, T0, &mut q).unwrap();
    let mut id = 1;
    loop {
        assert!(wire(&reply, Some(2048)).1 <= 2048);
        let Command::Status(first) = &reply.body.commands[0] else {
            panic!()
        };
        assert_eq!(
            (first.cmd_ref.as_deref(), first.msg_ref.as_deref()),
            (Some("0"), Some(id.to_string().as_str()))
        );
        for c in &reply.body.commands[1..] {
            if let Command::Status(st) = c {
                answered.push(st.cmd_ref.as_deref().unwrap().parse::<u32>().unwrap());
            }
        }
        if reply.body.r#final {
            break;
        }
        id += 1;
        let sync = format!(
            "<Status><CmdID>1</CmdID><MsgRef>{}</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status><Alert><CmdID>2</CmdID><Data>1222</Data></Alert>",
            id - 1
        );
        reply = s.handle(&device_msg(id, &sync, false), T0, &mut q).unwrap();
        answered.retain(|&c| c != 2 || id == 2);
    }
    // Every alert of message 1 answered once, in order (the 1222 alerts' Statuses
    // reference later messages and were dropped from the list above).
    let from_first: Vec<u32> = answered.iter().copied().filter(|&c| c >= 2).collect();
    assert!(
        from_first.windows(2).all(|w| w[0] < w[1] || w[1] == 2),
        "{from_first:?}"
    );
    assert!((2..122).all(|c| from_first.contains(&c)));
}

#[test]
fn commands_just_below_the_limit_never_stall_the_session() {
    // Atomic commands (not chunkable) whose size sweeps the window around "fits in an
    // empty message" must either be sent or be reported TooLarge: never loop.
    for pad in (3300..3700).step_by(7) {
        let a = DmCommand::atomic(vec![DmCommand::add(
            u("./Vendor/MSFT/T/A"),
            Value::Chr("p".repeat(pad).into()),
        )])
        .unwrap();
        let mut q = Q::with(vec![DmCommand::get(u("./DevDetail/SwV")), a]);
        let mut d = DeviceSession::new({
            let mut c = DeviceConfig::new(DEV, SERVER, "1");
            c.max_msg_size = Some(4096);
            c
        });
        run(
            &mut ServerSession::new(server_cfg()),
            &mut d,
            &mut tree(),
            &mut q,
            Some(4096),
            None,
        );
        let o = q.outcome(1);
        assert!(
            o.status == Some(StatusCode::OK) || o.disposition == Disposition::TooLarge,
            "{pad}: {o:?}"
        );
    }
}

#[test]
fn message_count_limit_is_enforced() {
    let mut cfg = server_cfg();
    cfg.max_messages = 2;
    let mut s = ServerSession::new(cfg);
    let mut q = Q::default();
    s.handle(&device_msg(1, "", false), T0, &mut q).unwrap();
    s.handle(&device_msg(2, "", false), T0, &mut q).unwrap();
    assert_eq!(
        s.handle(&device_msg(3, "", false), T0, &mut q),
        Err(SessionError::TooManyMessages(2))
    );
}

#[test]
fn declared_size_above_the_object_limit_gets_413() {
    let mut cfg = server_cfg();
    cfg.max_object_size = 100;
    let mut s = ServerSession::new(cfg);
    let mut q = Q::with(vec![DmCommand::get(u("./Vendor/MSFT/X"))]);
    s.handle(
        &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
        T0,
        &mut q,
    )
    .unwrap();
    let body = "<Results><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef><Item><Source><LocURI>./Vendor/MSFT/X</LocURI></Source><Meta><Size xmlns=\"syncml:metinf\">1000</Size></Meta><Data>abc</Data><MoreData/></Item></Results>";
    let r = s.handle(&device_msg(2, body, false), T0, &mut q).unwrap();
    let Command::Status(st) = &r.body.commands[1] else {
        panic!()
    };
    assert_eq!(st.code(), Some(StatusCode::REQUEST_ENTITY_TOO_LARGE));
}

#[test]
fn struct_data_and_prop_queries() {
    let mut t = tree();
    t.set("./Vendor/MSFT/App/P1/Name", Node::chr("one")).set(
        "./Vendor/MSFT/App/P2/Name",
        Node {
            format: Some("chr".into()),
            mime: Some("text/plain".into()),
            data: Some("two".into()),
        },
    );
    let mut q = Q::with(vec![
        DmCommand::get(u("./Vendor/MSFT/App?list=StructData")),
        DmCommand::get(u("./Vendor/MSFT/App/P2/Name?prop=Type")),
        DmCommand::get(u("./Vendor/MSFT/App/P2/Name?prop=ACL")),
    ]);
    run(
        &mut ServerSession::new(server_cfg()),
        &mut device(),
        &mut t,
        &mut q,
        None,
        None,
    );
    let r = &q.outcome(0).results;
    let got: Vec<_> = r
        .iter()
        .map(|i| {
            (
                i.source_uri().unwrap(),
                i.data.as_ref().map(|d| d.as_str().to_owned()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("./Vendor/MSFT/App", Some("P1/P2".to_owned())),
            ("./Vendor/MSFT/App/P1", Some("Name".to_owned())),
            ("./Vendor/MSFT/App/P1/Name", Some("one".to_owned())),
            ("./Vendor/MSFT/App/P2", Some("Name".to_owned())),
            ("./Vendor/MSFT/App/P2/Name", Some("two".to_owned())),
        ]
    );
    assert_eq!(
        q.outcome(1).results[0].data.as_ref().unwrap().as_str(),
        "text/plain"
    );
    assert_eq!(
        q.outcome(2).status,
        Some(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED)
    );
}

#[test]
fn abandoned_large_objects_get_alert_1225() {
    let mut q = Q::with(vec![DmCommand::get(u("./Vendor/MSFT/X"))]);
    let mut s = ServerSession::new(server_cfg());
    let r = s
        .handle(
            &device_msg(1, "<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    let get = r
        .body
        .commands
        .iter()
        .find(|c| c.kind() == Some(CommandKind::Get))
        .unwrap()
        .cmd_id()
        .unwrap()
        .to_owned();
    let chunk = format!(
        "<Results><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>{get}</CmdRef><Item><Source><LocURI>./Vendor/MSFT/X</LocURI></Source><Meta><Size xmlns=\"syncml:metinf\">10</Size></Meta><Data>abc</Data><MoreData/></Item></Results>"
    );
    let r = s.handle(&device_msg(2, &chunk, false), T0, &mut q).unwrap();
    assert!(
        !r.body
            .commands
            .iter()
            .any(|c| matches!(c, Command::Alert(a) if a.code().unwrap().0 == 1225))
    );
    // A Statuses-only message keeps the object open; one with other commands ends it.
    let r = s.handle(&device_msg(3, "<Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>", false), T0, &mut q).unwrap();
    assert!(
        !r.body
            .commands
            .iter()
            .any(|c| matches!(c, Command::Alert(a) if a.code().unwrap().0 == 1225))
    );
    let r = s
        .handle(
            &device_msg(4, "<Alert><CmdID>2</CmdID><Data>1226</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    let alert = r
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Alert(a) if a.code().unwrap().0 == 1225 => Some(a),
            _ => None,
        })
        .expect("1225");
    assert_eq!(alert.items[0].target_uri(), Some("./Vendor/MSFT/X"));
    assert!(q.outcome(0).results.is_empty());

    // The other way: the device reports 1225, the server abandons its object.
    let mut q = Q::with(vec![DmCommand::add(
        u("./Vendor/MSFT/T/Big"),
        Value::Chr(big(50_000).into()),
    )]);
    let mut s = ServerSession::new(server_cfg());
    let mut m1 = device_msg(1, "", true);
    m1.hdr.meta = Some(winmdm_syncml::Meta {
        max_msg_size: Some(4096),
        ..Default::default()
    });
    let r = s.handle(&m1, T0, &mut q).unwrap();
    assert!(
        r.body
            .commands
            .iter()
            .any(|c| c.items().first().is_some_and(|i| i.more_data))
    );
    let r = s
        .handle(
            &device_msg(2, "<Alert><CmdID>2</CmdID><Data>1225</Data></Alert>", true),
            T0,
            &mut q,
        )
        .unwrap();
    assert!(r.body.r#final);
    assert_eq!(q.outcome(0).disposition, Disposition::Incomplete);
}

/// The shape Windows gives a failure's HRESULT (MS-MDM 2.2.5.1 and 2.2.4.3; the repository's
/// sample `crates/syncml/tests/data/published/ms-mdm-spec_2.2.5.1_data-originalerror.xml`):
/// `<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">` and
/// `<Data msft:originalerror="0x86000002">` on the failed Status.
#[test]
fn a_failed_status_carries_the_trees_hresult_as_msft_originalerror() {
    use winmdm_omadm::DmItem;
    use winmdm_omadm::tree::Hresult;
    use winmdm_syncml::MDM_NAMESPACE;

    let mut t = tree();
    t.set("./Vendor/MSFT/T/Broken", Node::chr("0"))
        .fail_with(
            "./Vendor/MSFT/T/Broken",
            StatusCode::COMMAND_FAILED,
            Hresult(0x8600_0002),
        )
        .set("./Vendor/MSFT/T/Plain", Node::chr("0"))
        .fail("./Vendor/MSFT/T/Plain", StatusCode::COMMAND_FAILED)
        .set("./Vendor/MSFT/T/Ok", Node::chr("0"));
    let mut q = Q::with(vec![
        DmCommand::replace(u("./Vendor/MSFT/T/Broken"), Value::Int(1)),
        DmCommand::replace(u("./Vendor/MSFT/T/Plain"), Value::Int(1)),
        DmCommand::get(u("./Vendor/MSFT/T/Broken")),
        DmCommand::Replace(vec![
            DmItem::new(u("./Vendor/MSFT/T/Ok"), Value::Int(1)),
            DmItem::new(u("./Vendor/MSFT/T/Broken"), Value::Int(1)),
        ]),
    ]);
    let tr = run(
        &mut ServerSession::new(server_cfg()),
        &mut device(),
        &mut t,
        &mut q,
        None,
        None,
    );
    // What the server engine read from the wire.
    assert_eq!(q.outcome(0).status, Some(StatusCode::COMMAND_FAILED));
    assert_eq!(q.outcome(0).original_error.as_deref(), Some("0x86000002"));
    assert_eq!(q.outcome(1).status, Some(StatusCode::COMMAND_FAILED));
    assert_eq!(q.outcome(1).original_error, None, "no HRESULT injected");
    assert_eq!(q.outcome(2).status, Some(StatusCode::OK));
    assert_eq!(q.outcome(2).original_error, None);
    let multi = q.outcome(3);
    let per_item: Vec<_> = multi.item_statuses.iter().map(|s| s.code.0).collect();
    assert_eq!(per_item, [200, 500]);
    assert_eq!(multi.original_error.as_deref(), Some("0x86000002"));

    // The device message that answered them, as bytes and decoded again.
    let answer = tr
        .device()
        .find(|m| {
            m.body
                .commands
                .iter()
                .any(|c| matches!(c, Command::Status(s) if s.original_error().is_some()))
        })
        .expect("a message with msft:originalerror");
    let xml = answer.to_xml().unwrap();
    assert!(
        xml.contains(r#"<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<Data msft:originalerror="0x86000002">500</Data>"#),
        "{xml}"
    );
    let back = winmdm_syncml::decode(xml.as_bytes()).unwrap();
    let failed: Vec<_> = back
        .body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) if s.code() == Some(StatusCode::COMMAND_FAILED) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 3, "{xml}");
    let attrs: Vec<_> = failed
        .iter()
        .map(|s| {
            let a = &s.data.as_ref().unwrap().attrs;
            assert!(a.len() <= 1, "{a:?}");
            a.first()
                .map(|a| (a.name.to_string(), a.ns.as_deref().map(str::to_owned)))
        })
        .collect();
    let expected = Some((
        "msft:originalerror".to_owned(),
        Some(MDM_NAMESPACE.to_owned()),
    ));
    assert_eq!(attrs, [expected.clone(), None, expected]);
    assert_eq!(failed[0].original_error(), Some("0x86000002"));
    assert_eq!(failed[2].target_refs, ["./Vendor/MSFT/T/Broken"]);
    // Messages without such a Status declare nothing.
    for m in tr.device().filter(|m| !std::ptr::eq(*m, answer)) {
        assert!(m.body.attrs.is_empty(), "{:?}", m.body.attrs);
    }
}

/// The `xmlns:msft` declaration counts in the server's MaxMsgSize: many failed Statuses
/// spread over messages of at most 2048 bytes, each declaring the prefix it uses.
#[test]
fn msft_declarations_fit_in_max_msg_size() {
    use winmdm_omadm::tree::Hresult;

    let mut t = tree();
    let mut cmds = Vec::new();
    for i in 0..80 {
        let p = format!("./Vendor/MSFT/T/N{i}");
        t.set(&p, Node::chr("0"))
            .fail_with(&p, StatusCode::COMMAND_FAILED, Hresult(0x8007_000D));
        cmds.push(DmCommand::replace(u(&p), Value::Int(1)));
    }
    let mut q = Q::with(cmds);
    let mut cfg = server_cfg();
    cfg.declared_max_msg_size = Some(2048);
    let tr = run(
        &mut ServerSession::new(cfg),
        &mut device(),
        &mut t,
        &mut q,
        None,
        Some(2048),
    );
    assert_eq!(q.outcomes.len(), 80);
    assert!(
        q.outcomes
            .iter()
            .all(|o| o.original_error.as_deref() == Some("0x8007000D"))
    );
    let carrying = tr
        .device()
        .filter(|m| {
            m.body
                .commands
                .iter()
                .any(|c| matches!(c, Command::Status(s) if s.original_error().is_some()))
        })
        .inspect(|m| assert_eq!(m.body.attrs.len(), 1, "{:?}", m.body.attrs))
        .count();
    assert!(carrying >= 3, "{carrying}");

    // Both sides at 2048 bytes and many path lengths (Deletes are smaller than their
    // Statuses, so the device's answers span messages): every message, declaration
    // included, within MaxMsgSize (`run_with` checks each one).
    for pad in 0..48 {
        let mut t = tree();
        let mut cmds = Vec::new();
        for i in 0..60 {
            let p = format!("./Vendor/MSFT/T/{}{i}", "x".repeat(pad % 8 + i % 3));
            t.set(&p, Node::chr("0")).fail_with(
                &p,
                StatusCode::COMMAND_FAILED,
                Hresult(0x8600_0002),
            );
            cmds.push(DmCommand::delete(u(&p)));
        }
        let mut q = Q::with(cmds);
        let mut cfg = server_cfg();
        cfg.declared_max_msg_size = Some(2048);
        let mut d = DeviceSession::new({
            let mut c = DeviceConfig::new(DEV, SERVER, "1");
            c.max_msg_size = Some(2048);
            c
        });
        run_with(
            &mut ServerSession::new(cfg),
            &mut d,
            &mut t,
            &mut q,
            Some(2048),
            Some(2048),
            false,
        );
        assert_eq!(q.outcomes.len(), 60);
    }
}
