//! The DDF-governed tree: status codes, Exec records, persistence, and the same rules
//! through the device session engine.

use std::time::SystemTime;

use winmdm_device_emulator::{
    DeviceFacts, DeviceTree, Enrollment, ExecRecord, StoredNode, TreeError,
};
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{FifoQueue, ServerConfig, ServerSession};
use winmdm_omadm::tree::{Node, NodeTree};
use winmdm_omadm::{DmCommand, LocUri, StatusCode, Value};

fn u(s: &str) -> LocUri<'_> {
    LocUri::try_from(s).unwrap()
}

fn tree() -> DeviceTree {
    DeviceTree::windows(&DeviceFacts::default(), "B5B954E81FBCB94EB79BD08BE625F4EE")
}

const CAMERA: &str = "./Vendor/MSFT/Policy/Config/Camera/AllowCamera";

#[test]
fn seeded_nodes_are_governed() {
    let t = tree();
    let facts = DeviceFacts::default();
    for (path, value) in facts.tree_values("B5B954E81FBCB94EB79BD08BE625F4EE") {
        assert_eq!(t.value(&path), Some(value.as_str()), "{path}");
    }
    assert_eq!(t.value("./DevInfo/Man"), Some("VMware, Inc."));
    assert_eq!(t.value("./DevDetail/SwV"), Some("10.0.19043.2364"));
    // Formats come from the DDFs.
    assert_eq!(
        t.node("./DevDetail/LrgObj").unwrap().format.as_deref(),
        Some("bool")
    );
    assert_eq!(
        t.node("./DevDetail/Ext/Microsoft/ProcessorArchitecture")
            .unwrap()
            .format
            .as_deref(),
        Some("int")
    );
}

#[test]
fn unknown_nodes_are_404() {
    let mut t = tree();
    assert_eq!(
        t.get(&u("./Vendor/MSFT/NoSuchCsp/X")),
        Err(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        t.add(&u("./Vendor/MSFT/NoSuchCsp/X"), Node::chr("1")),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.replace(&u("./DevDetail/NoSuchNode"), Node::chr("1")),
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.delete(&u("./DevInfo/Nope")), StatusCode::NOT_FOUND);
    assert_eq!(
        t.exec(&u("./Vendor/MSFT/Reboot/Nope"), None),
        StatusCode::NOT_FOUND
    );
    // Known to a DDF, but never set.
    assert_eq!(t.get(&u(CAMERA)), Err(StatusCode::NOT_FOUND));
    // A dynamic node never added.
    assert_eq!(
        t.get(&u("./Vendor/MSFT/WiFi/Profile/Corp/WlanXml")),
        Err(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        t.replace(
            &u("./Vendor/MSFT/WiFi/Profile/Corp/WlanXml"),
            Node::chr("<x/>")
        ),
        StatusCode::NOT_FOUND
    );
    assert!(matches!(
        t.set("./Vendor/MSFT/NoSuchCsp/X", "1"),
        Err(TreeError::Unknown(_))
    ));
}

#[test]
fn access_types_give_405() {
    let mut t = tree();
    // DevInfo and DevDetail values are Get only.
    assert_eq!(
        t.replace(&u("./DevInfo/DevId"), Node::chr("x")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    assert_eq!(
        t.replace(&u("./DevDetail/SwV"), Node::chr("x")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    assert_eq!(
        t.delete(&u("./DevDetail/SwV")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    assert_eq!(
        t.exec(&u("./DevDetail/SwV"), None),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    assert_eq!(
        t.add(&u("./DevInfo/Lang"), Node::chr("x")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    // Reboot/RebootNow is Exec (and Get) only: no Replace.
    assert_eq!(
        t.replace(&u("./Vendor/MSFT/Reboot/RebootNow"), Node::chr("x")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    // RemoteWipe/doWipe has no Get.
    assert_eq!(
        t.get(&u("./Vendor/MSFT/RemoteWipe/doWipe")),
        Err(StatusCode::COMMAND_NOT_ALLOWED)
    );
    // The value is unchanged.
    assert_eq!(t.value("./DevDetail/SwV"), Some("10.0.19043.2364"));
}

#[test]
fn add_replace_get_delete_and_418() {
    let mut t = tree();
    let bare = Node {
        data: Some("0".into()),
        ..Node::default()
    };
    assert_eq!(t.add(&u(CAMERA), bare), StatusCode::OK);
    assert_eq!(
        t.add(&u(CAMERA), Node::chr("0")),
        StatusCode::ALREADY_EXISTS
    );
    let n = t.get(&u(CAMERA)).unwrap();
    assert_eq!(n.data.as_deref(), Some("0"));
    // The DDF's format when the command gives none.
    assert_eq!(n.format.as_deref(), Some("int"));
    // ./Device/Vendor and ./Vendor are one node.
    let dev = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera";
    assert_eq!(t.replace(&u(dev), Node::chr("1")), StatusCode::OK);
    assert_eq!(t.value(CAMERA), Some("1"));
    // Interior nodes list their children.
    let area = t.get(&u("./Vendor/MSFT/Policy/Config/Camera")).unwrap();
    assert_eq!(area.format.as_deref(), Some("node"));
    assert_eq!(area.data.as_deref(), Some("AllowCamera"));
    assert_eq!(
        t.replace(&u("./Vendor/MSFT/Policy/Config/Camera"), Node::chr("1")),
        StatusCode::COMMAND_NOT_ALLOWED
    );
    // Replace of a policy never set creates it (Windows).
    let lock = "./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock";
    assert_eq!(t.replace(&u(lock), Node::chr("10")), StatusCode::OK);
    assert_eq!(t.value(lock), Some("10"));
    // Implicit Add of a dynamic parent.
    let wlan = "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml";
    assert_eq!(t.add(&u(wlan), Node::chr("<WLANProfile/>")), StatusCode::OK);
    assert_eq!(
        t.get(&u("./Vendor/MSFT/WiFi/Profile"))
            .unwrap()
            .data
            .as_deref(),
        Some("Corp")
    );
    assert_eq!(
        t.delete(&u("./Vendor/MSFT/WiFi/Profile/Corp")),
        StatusCode::OK
    );
    assert_eq!(t.get(&u(wlan)), Err(StatusCode::NOT_FOUND));
    assert_eq!(
        t.delete(&u("./Vendor/MSFT/WiFi/Profile/Corp")),
        StatusCode::NOT_FOUND
    );
    // Permanent interior nodes exist without being stored.
    let dd = t.get(&u("./DevDetail")).unwrap();
    let children: Vec<&str> = dd.data.as_deref().unwrap().split('/').collect();
    for c in ["DevTyp", "Ext", "SwV", "URI"] {
        assert!(children.contains(&c), "{children:?}");
    }
}

#[test]
fn exec_is_recorded_and_failures_injected() {
    let mut t = tree();
    assert_eq!(
        t.exec(&u("./Vendor/MSFT/Reboot/RebootNow"), None),
        StatusCode::OK
    );
    assert_eq!(
        t.exec(&u("./Device/Vendor/MSFT/RemoteWipe/doWipe"), Some("")),
        StatusCode::OK
    );
    assert_eq!(
        t.execs(),
        [
            ExecRecord {
                path: "./Vendor/MSFT/Reboot/RebootNow".into(),
                data: None
            },
            ExecRecord {
                path: "./Device/Vendor/MSFT/RemoteWipe/doWipe".into(),
                data: Some(String::new())
            },
        ]
    );
    t.fail(CAMERA, StatusCode::COMMAND_FAILED).unwrap();
    assert_eq!(
        t.replace(&u(CAMERA), Node::chr("1")),
        StatusCode::COMMAND_FAILED
    );
    assert_eq!(
        t.add(&u(CAMERA), Node::chr("1")),
        StatusCode::COMMAND_FAILED
    );
    t.fail("./Vendor/MSFT/Reboot/RebootNow", StatusCode(405))
        .unwrap();
    assert_eq!(
        t.exec(&u("./Vendor/MSFT/Reboot/RebootNow"), None),
        StatusCode(405)
    );
    assert!(t.unfail(CAMERA));
    assert_eq!(t.replace(&u(CAMERA), Node::chr("1")), StatusCode::OK);
}

#[test]
fn atomic_rollback_restores_values_and_execs() {
    let mut t = tree();
    t.set(CAMERA, "1").unwrap();
    t.begin_atomic();
    assert_eq!(t.replace(&u(CAMERA), Node::chr("0")), StatusCode::OK);
    assert_eq!(
        t.exec(&u("./Vendor/MSFT/Reboot/RebootNow"), None),
        StatusCode::OK
    );
    assert!(t.rollback_atomic());
    assert_eq!(t.value(CAMERA), Some("1"));
    assert!(t.execs().is_empty());
}

#[test]
fn struct_data_lists_the_subtree() {
    let mut t = tree();
    let s = t.get_struct(&u("./DevDetail/URI")).unwrap();
    let paths: Vec<&str> = s.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "./DevDetail/URI",
            "./DevDetail/URI/MaxDepth",
            "./DevDetail/URI/MaxSegLen",
            "./DevDetail/URI/MaxTotLen"
        ]
    );
}

#[test]
fn the_tree_round_trips_through_json_and_the_state_dir() {
    let mut t = tree();
    t.set(CAMERA, "0").unwrap();
    t.fail(
        "./Vendor/MSFT/Policy/Config/Camera/AllowCamera",
        StatusCode(500),
    )
    .unwrap();
    assert_eq!(
        t.exec(&u("./Vendor/MSFT/Reboot/RebootNow"), None),
        StatusCode::OK
    );
    t.set_node(
        "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml",
        StoredNode::leaf("chr", "<a>&amp;</a>"),
    )
    .unwrap();
    let json = serde_json::to_string(&t).unwrap();
    let mut back: DeviceTree = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.iter().collect::<Vec<_>>(),
        t.iter().collect::<Vec<_>>()
    );
    assert_eq!(back.execs(), t.execs());
    assert_eq!(back.replace(&u(CAMERA), Node::chr("1")), StatusCode(500));

    // Through a state directory.
    let dir = tempfile::tempdir().unwrap();
    let e = Enrollment::new(
        "Example MDM",
        "https://mdm.example.com/ManagementServer/MDM.svc",
        vec![1, 2, 3],
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
        "",
    );
    let mut d = winmdm_device_emulator::Device::create(
        dir.path(),
        "B5B954E81FBCB94EB79BD08BE625F4EE",
        DeviceFacts::default(),
        e,
    )
    .unwrap();
    d.tree_mut().set(CAMERA, "0").unwrap();
    d.save().unwrap();
    let again = winmdm_device_emulator::Device::load(dir.path()).unwrap();
    assert_eq!(again.tree().value(CAMERA), Some("0"));
    assert_eq!(again.device_id(), "B5B954E81FBCB94EB79BD08BE625F4EE");
    assert_eq!(again.certificate_der(), [1, 2, 3]);
    assert_eq!(again.enrollment().unwrap().provider_id, "Example MDM");
    assert_eq!(
        again.tree().value("./Vendor/MSFT/DMClient/HWDevID"),
        Some(again.hw_dev_id())
    );
    assert!(winmdm_device_emulator::Device::load(&dir.path().join("nope")).is_err());
}

/// The same rules as seen by a server: a session against the engine, in memory.
#[test]
fn a_session_gets_windows_status_codes() {
    let mut queue = FifoQueue::new();
    let cmds = [
        DmCommand::get(u("./DevDetail/SwV").into_owned()),
        DmCommand::replace(u("./DevInfo/DevId").into_owned(), Value::Chr("x".into())),
        DmCommand::get(u("./Vendor/MSFT/NoSuchCsp").into_owned()),
        DmCommand::add(u(CAMERA).into_owned(), Value::Int(0)),
        DmCommand::add(u(CAMERA).into_owned(), Value::Int(0)),
        DmCommand::exec(u("./Vendor/MSFT/Reboot/RebootNow").into_owned(), None),
    ];
    let tags: Vec<_> = cmds.into_iter().map(|c| queue.push(c)).collect();
    let cfg = ServerConfig::new("https://mdm.example.com/ManagementServer/MDM.svc");
    let mut server = ServerSession::new(cfg);
    let mut device = DeviceSession::new(DeviceConfig::new(
        "B5B954E81FBCB94EB79BD08BE625F4EE",
        "https://mdm.example.com/ManagementServer/MDM.svc",
        "1",
    ));
    let mut t = tree();
    let mut msg = device.start();
    loop {
        let reply = server
            .handle(&msg, SystemTime::UNIX_EPOCH, &mut queue)
            .unwrap();
        match device.handle(&reply, &mut t).unwrap() {
            Some(next) => msg = next,
            None => break,
        }
    }
    let codes: Vec<u16> = tags
        .iter()
        .map(|t| queue.outcome_for(*t).unwrap().status.unwrap().0)
        .collect();
    assert_eq!(codes, [200, 405, 404, 200, 418, 200]);
    let get = queue.outcome_for(tags[0]).unwrap();
    assert_eq!(
        get.results[0].data.as_ref().map(|d| d.as_str()),
        Some("10.0.19043.2364")
    );
    assert_eq!(t.execs().len(), 1);
}

/// Runs one in-memory session of `cmds` against `t`; the outcomes' (status, originalerror).
fn session(t: &mut DeviceTree, cmds: Vec<DmCommand>) -> Vec<(u16, Option<String>)> {
    let mut queue = FifoQueue::new();
    let tags: Vec<_> = cmds.into_iter().map(|c| queue.push(c)).collect();
    let url = "https://mdm.example.com/ManagementServer/MDM.svc";
    let mut server = ServerSession::new(ServerConfig::new(url));
    let mut device = DeviceSession::new(DeviceConfig::new(
        "B5B954E81FBCB94EB79BD08BE625F4EE",
        url,
        "1",
    ));
    let mut msg = device.start();
    loop {
        let reply = server
            .handle(&msg, SystemTime::UNIX_EPOCH, &mut queue)
            .unwrap();
        // Through the wire: encoded, then decoded as the server would.
        let reply = winmdm_omadm::decode(reply.to_xml().unwrap().as_bytes())
            .unwrap()
            .into_owned();
        match device.handle(&reply, t).unwrap() {
            Some(next) => {
                msg = winmdm_omadm::decode(next.to_xml().unwrap().as_bytes())
                    .unwrap()
                    .into_owned()
            }
            None => break,
        }
    }
    tags.iter()
        .map(|t| {
            let o = queue.outcome_for(*t).unwrap();
            (o.status.unwrap().0, o.original_error.clone())
        })
        .collect()
}

/// Like Windows 10 1809+, HRESULTs go out as `msft:originalerror` only once the server set
/// `SyncApplicationVersion` 3.0 (MS-MDM 2.2.5.1): the injected one, else 0x86000002 for a
/// 404 (the only HRESULT the repository sources), else none.
#[test]
fn failures_carry_hresults_once_sync_application_version_is_3() {
    use winmdm_device_emulator::{Hresult, original_error_for};

    const SAV: &str = "./Vendor/MSFT/DMClient/Provider/P/SyncApplicationVersion";
    const LOCK: &str = "./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock";
    assert_eq!(
        original_error_for(StatusCode::NOT_FOUND),
        Some(Hresult(0x8600_0002))
    );
    assert_eq!(original_error_for(StatusCode(405)), None);
    assert_eq!(original_error_for(StatusCode(500)), None);

    let mut t = tree();
    t.fail_with(CAMERA, StatusCode(500), Some(Hresult(0x8007_0057)))
        .unwrap();
    t.fail(LOCK, StatusCode(500)).unwrap();
    let failing = || {
        vec![
            DmCommand::get(u("./Vendor/MSFT/NoSuchCsp").into_owned()),
            DmCommand::replace(u(CAMERA).into_owned(), Value::Int(0)),
            DmCommand::replace(u(LOCK).into_owned(), Value::Int(5)),
            DmCommand::replace(u("./DevInfo/DevId").into_owned(), Value::Chr("x".into())),
        ]
    };
    // SyncApplicationVersion not set (the DDF's default, 1.0): codes only.
    assert!(!t.reports_original_errors());
    assert_eq!(
        session(&mut t, failing()),
        [(404, None), (500, None), (500, None), (405, None)]
    );
    // 2.0 changes nothing.
    let mut cmds = vec![DmCommand::add(
        u(SAV).into_owned(),
        Value::Chr("2.0".into()),
    )];
    cmds.extend(failing());
    let out = session(&mut t, cmds);
    assert_eq!(out[0], (200, None));
    assert!(out[1..].iter().all(|(_, e)| e.is_none()), "{out:?}");
    // The server sets 3.0: the device reports HRESULTs from the next command on.
    let mut cmds = vec![DmCommand::replace(
        u(SAV).into_owned(),
        Value::Chr("3.0".into()),
    )];
    cmds.extend(failing());
    assert_eq!(
        session(&mut t, cmds),
        [
            (200, None),
            (404, Some("0x86000002".into())),
            (500, Some("0x80070057".into())),
            (500, None),
            (405, None),
        ]
    );
    assert!(t.reports_original_errors());
    // The injected HRESULT survives the state file; unfail forgets it.
    let back: DeviceTree = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    let mut back = back;
    assert_eq!(
        back.original_error(
            winmdm_omadm::CommandKind::Replace,
            &u(CAMERA),
            StatusCode(500)
        ),
        Some(Hresult(0x8007_0057))
    );
    assert!(back.unfail(CAMERA));
    assert_eq!(back.replace(&u(CAMERA), Node::chr("1")), StatusCode::OK);
    assert_eq!(
        back.original_error(
            winmdm_omadm::CommandKind::Replace,
            &u(CAMERA),
            StatusCode(500)
        ),
        None
    );
}
