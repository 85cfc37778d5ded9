//! Trace tests over the real Windows 10 sessions (tests/data/fleet, see its INDEX.md): what
//! the device sent and what the server answered, field by field, and how the answers
//! correlate with the commands.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use winmdm_syncml::{
    AlertCode, Command, DataContent, StatusCode, SyncML, SyncMlVersion, decode, decode_commands,
};

fn data(rel: &str) -> Vec<u8> {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every (CmdID, element name) of the top-level commands.
fn commands(m: &SyncML<'_>) -> Vec<(String, String)> {
    m.body
        .commands
        .iter()
        .map(|c| (c.cmd_id().unwrap_or("").to_owned(), c.name().to_owned()))
        .collect()
}

#[test]
fn session1_package1_from_windows_10() {
    let bytes = data("fleet/real/07-device-syncml-session1.xml");
    let m = decode(&bytes).unwrap();
    assert_eq!(m.version, SyncMlVersion::V1_2);
    let h = &m.hdr;
    assert_eq!(h.ver_dtd.as_deref(), Some("1.2"));
    assert_eq!(h.ver_proto.as_deref(), Some("DM/1.2"));
    assert_eq!(h.session_id.as_deref(), Some("1"));
    assert_eq!(h.msg_id.as_deref(), Some("1"));
    assert_eq!(
        h.target.as_ref().unwrap().loc_uri.as_deref(),
        Some("https://windows.fleetdm.ngrok.io/ManagementServer/MDM.svc")
    );
    assert_eq!(
        h.source.as_ref().unwrap().loc_uri.as_deref(),
        Some("B5B954E81FBCB94EB79BD08BE625F4EE")
    );
    assert_eq!(
        commands(&m),
        [("2", "Alert"), ("3", "Alert"), ("4", "Replace")].map(|(a, b)| (a.into(), b.into()))
    );
    assert!(m.body.r#final);

    let Command::Alert(a) = &m.body.commands[0] else {
        panic!()
    };
    assert_eq!(a.code(), Some(AlertCode::CLIENT_INITIATED_MGMT));
    let Command::Alert(a) = &m.body.commands[1] else {
        panic!()
    };
    assert_eq!(a.code(), Some(AlertCode::CLIENT_EVENT));
    let meta = a.items[0].meta.as_ref().unwrap();
    assert_eq!(
        meta.r#type.as_deref(),
        Some("com.microsoft/MDM/LoginStatus")
    );
    assert_eq!(a.items[0].data.as_ref().unwrap().as_str(), "user");

    let Command::Replace(r) = &m.body.commands[2] else {
        panic!()
    };
    let devinfo: Vec<(&str, &str)> = r
        .items
        .iter()
        .map(|i| (i.source_uri().unwrap(), i.data.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(
        devinfo,
        [
            ("./DevInfo/DevId", "B5B954E81FBCB94EB79BD08BE625F4EE"),
            ("./DevInfo/Man", "VMware, Inc."),
            ("./DevInfo/Mod", "VMware7,1"),
            ("./DevInfo/DmV", "1.3"),
            ("./DevInfo/Lang", "en-US"),
        ]
    );
}

#[test]
fn server_reply_answers_every_command_in_order() {
    let req = decode_owned("fleet/real/07-device-syncml-session1.xml");
    let resp = decode_owned("fleet/real/08-server-syncml-session1.xml");
    // Addressing is mirrored.
    assert_eq!(
        resp.hdr.target.as_ref().unwrap().loc_uri,
        req.hdr.source.as_ref().unwrap().loc_uri
    );
    assert_eq!(
        resp.hdr.source.as_ref().unwrap().loc_uri,
        req.hdr.target.as_ref().unwrap().loc_uri
    );
    assert_eq!(resp.hdr.session_id, req.hdr.session_id);
    // Status for the SyncHdr first, then one per command, in order.
    let mut expected = vec![("0".to_owned(), "SyncHdr".to_owned())];
    expected.extend(commands(&req));
    let got: Vec<(String, String)> = resp
        .body
        .commands
        .iter()
        .map(|c| {
            let Command::Status(s) = c else {
                panic!("only Status expected")
            };
            assert_eq!(s.msg_ref.as_deref(), req.hdr.msg_id.as_deref());
            assert_eq!(s.code(), Some(StatusCode::OK));
            (
                s.cmd_ref.as_deref().unwrap().to_owned(),
                s.cmd.as_deref().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(resp.body.r#final);
}

fn decode_owned(rel: &str) -> SyncML<'static> {
    let bytes = data(rel);
    decode(&bytes).unwrap().into_owned()
}

#[test]
fn session2_carries_the_unenrollment_generic_alert() {
    let m = decode_owned("fleet/real/09-device-syncml-session2-unenroll.xml");
    assert_eq!(m.hdr.session_id.as_deref(), Some("2"));
    let alert = m
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Alert(a) if a.code() == Some(AlertCode::GENERIC_ALERT) => Some(a),
            _ => None,
        })
        .expect("a 1226 alert");
    let item = &alert.items[0];
    let meta = item.meta.as_ref().unwrap();
    assert_eq!(
        meta.r#type.as_deref(),
        Some("com.microsoft:mdm.unenrollment.userrequest")
    );
    assert_eq!(meta.format.as_deref(), Some("int"));
    assert_eq!(item.data.as_ref().unwrap().as_str(), "1");
}

#[test]
fn device_status_for_atomic_with_uuid_cmdids() {
    let server = data(
        "fleet/device-messages/05-fleetctl-gettest-sess48-msg2-status-atomic-replace.server-command.xml",
    );
    let cmds = decode_commands(&server).unwrap();
    let Command::Atomic(atomic) = &cmds[0] else {
        panic!("Atomic")
    };
    assert_eq!(
        atomic.cmd_id.as_deref(),
        Some("90dbfca8-d4ac-40c9-bf57-ba5b8cbf1ce0")
    );
    let Command::Replace(replace) = &atomic.commands[0] else {
        panic!("Replace")
    };
    assert_eq!(
        replace.items[0].target_uri(),
        Some("./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowDiscoverableMode")
    );

    let reply = decode_owned(
        "fleet/device-messages/05-fleetctl-gettest-sess48-msg2-status-atomic-replace.xml",
    );
    assert_eq!(reply.hdr.session_id.as_deref(), Some("48"));
    assert_eq!(reply.hdr.msg_id.as_deref(), Some("2"));
    let refs: Vec<(&str, &str, Option<StatusCode>)> = reply
        .body
        .commands
        .iter()
        .map(|c| {
            let Command::Status(s) = c else { panic!() };
            (
                s.cmd_ref.as_deref().unwrap(),
                s.cmd.as_deref().unwrap(),
                s.code(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            ("0", "SyncHdr", Some(StatusCode::OK)),
            (
                atomic.cmd_id.as_deref().unwrap(),
                "Atomic",
                Some(StatusCode::OK)
            ),
            (
                replace.cmd_id.as_deref().unwrap(),
                "Replace",
                Some(StatusCode::OK)
            ),
        ]
    );
}

#[test]
fn text_without_escapes_is_borrowed_from_the_input() {
    let bytes = data("fleet/real/07-device-syncml-session1.xml");
    let m = decode(&bytes).unwrap();
    assert!(matches!(m.hdr.session_id, Some(Cow::Borrowed(_))));
    let Command::Replace(r) = &m.body.commands[2] else {
        panic!()
    };
    for it in &r.items {
        assert!(matches!(
            it.source.as_ref().unwrap().loc_uri,
            Some(Cow::Borrowed(_))
        ));
        let Some(DataContent::Text(Cow::Borrowed(_))) = it.data.as_ref().map(|d| &d.content) else {
            panic!("data not borrowed")
        };
    }
}

#[test]
fn escaped_cdata_and_markup_data_are_kept_as_written() {
    // Entity-escaped WLAN profile: unescaped text.
    let wifi = data("published/wifi-csp_04_atomic-add-wlanxml-escaped.xml");
    let cmds = decode_commands(&wifi).unwrap();
    let Command::Atomic(a) = &cmds[0] else {
        panic!()
    };
    let d = a.commands[0].items()[0].data.as_ref().unwrap();
    let DataContent::Text(t) = &d.content else {
        panic!("text")
    };
    assert!(t.starts_with("<?xml") || t.contains("<WLANProfile"), "{t}");
    assert!(matches!(t, Cow::Owned(_)), "unescaping allocates");

    // ADMX payload in CDATA.
    let admx = data("published/enable-admx-backed-policies-in-mdm_02_enable-cdata.xml");
    let m = decode(&admx).unwrap();
    let d = m.body.commands[0].items()[0].data.as_ref().unwrap();
    let DataContent::CData(c) = &d.content else {
        panic!("cdata: {d:?}")
    };
    assert!(c.starts_with("<enabled/>"), "{c}");

    // A raw <disabled/> child element: kept as markup.
    let raw = data("published/enable-admx-backed-policies-in-mdm_03_disable-raw-element.xml");
    let m = decode(&raw).unwrap();
    let d = m.body.commands[0].items()[0].data.as_ref().unwrap();
    assert_eq!(d.content, DataContent::Xml(Cow::Borrowed("<disabled/>")));
}

#[test]
fn originalerror_attribute_survives_a_round_trip() {
    let xml = br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID></SyncHdr><SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM"><Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef><Cmd>Replace</Cmd><Data msft:originalerror="0x86000002">404</Data></Status><Final/></SyncBody></SyncML>"#;
    let m = decode(xml).unwrap();
    let out = m.to_xml().unwrap();
    assert!(
        out.contains(r#"<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">"#)
    );
    assert!(out.contains(r#"<Data msft:originalerror="0x86000002">404</Data>"#));
    let Command::Status(s) = &decode(out.as_bytes()).unwrap().body.commands[0] else {
        panic!()
    };
    assert_eq!(s.original_error(), Some("0x86000002"));
    assert_eq!(s.code(), Some(StatusCode::NOT_FOUND));
}

#[test]
fn credentials_never_appear_in_debug_or_json() {
    let lumia = data("published/lumia-pkg1_01_cred-auth-basic-single-line.xml");
    let m = decode(&lumia).unwrap();
    let cred = m.hdr.cred.as_ref().expect("Cred");
    let secret = cred.data.as_ref().unwrap().as_str().to_owned();
    assert!(!secret.is_empty());
    let dbg = format!("{m:?}");
    assert!(!dbg.contains(&secret), "secret in Debug output");
    assert!(dbg.contains("<redacted>"));
}

#[test]
fn unknown_elements_are_kept_verbatim_in_document_order() {
    let xml = br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><X-Vendor a="1">v</X-Vendor></SyncHdr><SyncBody><Get><CmdID>1</CmdID><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item></Get><Frobnicate><CmdID>2</CmdID></Frobnicate><Final/></SyncBody></SyncML>"#;
    let m = decode(xml).unwrap();
    assert_eq!(m.hdr.extra[0].xml, r#"<X-Vendor a="1">v</X-Vendor>"#);
    assert_eq!(m.body.commands[1].name(), "Frobnicate");
    let Command::Unknown(raw) = &m.body.commands[1] else {
        panic!()
    };
    assert_eq!(raw.xml, "<Frobnicate><CmdID>2</CmdID></Frobnicate>");
    let out = m.to_xml().unwrap();
    assert!(out.contains("<Frobnicate><CmdID>2</CmdID></Frobnicate><Final/>"));
    // Strict mode rejects them, with the element path.
    let e = winmdm_syncml::DecodeOptions::strict()
        .decode(xml)
        .unwrap_err();
    assert_eq!(e.path, "SyncML/SyncHdr/X-Vendor");
}

#[test]
fn error_path_counts_same_named_siblings() {
    let xml = br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr/><SyncBody><Atomic><CmdID>1</CmdID></Atomic><Atomic><CmdID>2</CmdID><Replace><CmdID>3</CmdID><Item><Data>&bogus;</Data></Item></Replace></Atomic></SyncBody></SyncML>"#;
    let e = decode(xml).unwrap_err();
    assert_eq!(e.path, "SyncML/SyncBody/Atomic[2]/Replace/Item/Data");
    assert_eq!(
        e.kind,
        winmdm_syncml::DecodeErrorKind::UnknownEntity("bogus".into())
    );
    assert_eq!(
        (e.line, e.column),
        (1, 1 + xml.iter().position(|b| *b == b'&').unwrap())
    );
}
