//! Typed leaves become `winmdm_omadm::DmCommand`s in one call (no SyncML text in between),
//! and the server engine sends them with the node's LocURI, Format and Data.
// The helpers and imports serve tests of optional CSP features; without them they are unused.
#![cfg_attr(
    not(any(
        feature = "policy-areas",
        feature = "defender",
        feature = "reboot",
        feature = "firewall",
        feature = "rootcatrustedcertificates"
    )),
    allow(dead_code, unused_imports)
)]

use std::time::SystemTime;

use winmdm_csp::winmdm_omadm::server::{Queued, ServerConfig, ServerSession};
use winmdm_csp::winmdm_omadm::{DmCommand, Value, syncml::Command};
use winmdm_csp::{CspValue, Format, LeafError, Ranged, ValueError};

const SERVER: &str = "https://mdm.example/omadm";

/// The server engine's first reply to a device, with `command` queued: its text and the
/// command as the device decodes it.
fn sent(command: DmCommand) -> (String, Command<'static>) {
    let pkg1 = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr>\
         <VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>\
         <Target><LocURI>{SERVER}</LocURI></Target><Source><LocURI>DEVICE1</LocURI></Source>\
         </SyncHdr><SyncBody><Alert><CmdID>2</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"
    );
    let pkg1 = winmdm_csp::winmdm_omadm::syncml::decode(pkg1.as_bytes()).unwrap();
    let mut s = ServerSession::new(ServerConfig::new(SERVER));
    s.receive(&pkg1, SystemTime::UNIX_EPOCH).unwrap();
    s.push_command(Queued { tag: 1, command });
    let reply = s.respond().unwrap();
    let mut text = Vec::new();
    reply.encode(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let decoded = winmdm_csp::winmdm_omadm::syncml::decode(text.as_bytes()).unwrap();
    let command = decoded
        .body
        .commands
        .into_iter()
        .map(|c| c.into_owned())
        .find(|c| !matches!(c, Command::Status(_)))
        .expect("the queued command is in the reply");
    (text, command)
}

/// (Target LocURI, Meta Format, Data) of the command's first item.
fn first_item(c: &Command<'_>) -> (String, Option<String>, Option<String>) {
    let item = &c.items()[0];
    let format = item
        .meta
        .as_ref()
        .and_then(|m| m.format.as_deref())
        .map(str::to_string);
    let data = item.data.as_ref().map(|d| d.as_str().to_string());
    (item.target_uri().unwrap().to_string(), format, data)
}

#[cfg(feature = "policy-areas")]
#[test]
fn an_enum_leaf_is_a_replace_with_its_format_and_value() {
    use winmdm_csp::generated::policy_areas::camera::{self, values::AllowCamera};
    let leaf = camera::device().allow_camera();
    let cmd = leaf.replace(&AllowCamera::V0).unwrap();
    let DmCommand::Replace(items) = &cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(items[0].value, Some(Value::Int(0)));
    let (text, wire) = sent(cmd);
    assert!(matches!(wire, Command::Replace(_)), "{wire:?}");
    assert_eq!(
        first_item(&wire),
        (
            "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera".to_string(),
            Some("int".to_string()),
            Some("0".to_string())
        )
    );
    assert!(
        text.contains(
            "<Target><LocURI>./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera</LocURI></Target>"
        ),
        "{text}"
    );
    assert!(text.contains("<Data>0</Data>"), "{text}");
    // The same leaf, read and deleted.
    assert!(matches!(leaf.get().unwrap(), DmCommand::Get(_)));
    assert!(matches!(leaf.delete().unwrap(), DmCommand::Delete(_)));
    // Its AccessType has no Exec.
    assert!(matches!(
        leaf.exec(None),
        Err(LeafError::NotAllowed {
            operation: "Exec",
            ..
        })
    ));
}

#[cfg(feature = "defender")]
#[test]
fn a_ranged_int_leaf_is_an_add_of_an_int() {
    use winmdm_csp::generated::defender;
    let leaf = defender::device()
        .configuration()
        .days_until_aggressive_catchup_quick_scan();
    let days: Ranged<7, 60> = Ranged::new(30).unwrap();
    let (_, wire) = sent(leaf.add(&days).unwrap());
    assert!(matches!(wire, Command::Add(_)), "{wire:?}");
    assert_eq!(
        first_item(&wire),
        (
            "./Device/Vendor/MSFT/Defender/Configuration/DaysUntilAggressiveCatchupQuickScan"
                .to_string(),
            Some("int".to_string()),
            Some("30".to_string())
        )
    );
    assert!(Ranged::<7, 60>::new(61).is_err());
}

#[cfg(feature = "reboot")]
#[test]
fn a_null_leaf_is_an_exec() {
    use winmdm_csp::NoValue;
    use winmdm_csp::generated::reboot;
    let leaf = reboot::device().reboot_now();
    let (_, wire) = sent(leaf.exec(Some(&NoValue)).unwrap());
    assert!(matches!(wire, Command::Exec(_)), "{wire:?}");
    assert_eq!(
        first_item(&wire),
        (
            "./Device/Vendor/MSFT/Reboot/RebootNow".to_string(),
            Some("null".to_string()),
            None
        )
    );
    let (_, wire) = sent(leaf.exec(None).unwrap());
    assert_eq!(
        first_item(&wire),
        (
            "./Device/Vendor/MSFT/Reboot/RebootNow".to_string(),
            None,
            None
        )
    );
    // AccessType: Exec, Get.
    assert_eq!(
        leaf.replace(&NoValue),
        Err(LeafError::NotAllowed {
            operation: "Replace",
            path: "./Device/Vendor/MSFT/Reboot/RebootNow".into(),
            access: leaf.def().access,
        })
    );
}

#[cfg(feature = "firewall")]
#[test]
fn a_bool_leaf_is_a_replace_of_a_bool() {
    use winmdm_csp::generated::firewall;
    let leaf = firewall::device()
        .mdm_store()
        .domain_profile()
        .enable_firewall();
    let (_, wire) = sent(leaf.replace(&true).unwrap());
    assert_eq!(
        first_item(&wire),
        (
            "./Vendor/MSFT/Firewall/MdmStore/DomainProfile/EnableFirewall".to_string(),
            Some("bool".to_string()),
            Some("true".to_string())
        )
    );
    // DomainProfile/EnableFirewall is Replace only.
    assert!(matches!(
        leaf.get(),
        Err(LeafError::NotAllowed {
            operation: "Get",
            ..
        })
    ));
}

#[cfg(feature = "rootcatrustedcertificates")]
#[test]
fn a_b64_leaf_sends_the_decoded_bytes_and_refuses_what_is_not_base64() {
    use winmdm_csp::generated::rootcatrustedcertificates;
    let leaf = rootcatrustedcertificates::device()
        .root()
        .cert_hash("0123456789ABCDEF0123456789ABCDEF01234567")
        .unwrap()
        .encoded_certificate();
    assert_eq!(*leaf.format(), Format::B64);
    // Wrapped base64 (as certificates are) decodes; the engine sends it on one line.
    let cmd = leaf.add(&"TUlJ\r\nQ2lq".to_string()).unwrap();
    let DmCommand::Add(items) = &cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(items[0].value, Some(Value::B64(b"MIICij".to_vec())));
    let (_, wire) = sent(cmd);
    assert_eq!(
        first_item(&wire),
        (
            "./Device/Vendor/MSFT/RootCATrustedCertificates/Root/0123456789ABCDEF0123456789ABCDEF01234567/EncodedCertificate".to_string(),
            Some("b64".to_string()),
            Some("TUlJQ2lq".to_string())
        )
    );
    assert!(matches!(
        leaf.replace(&"not base64!".to_string()),
        Err(LeafError::Value {
            error: ValueError::NotSendable { .. },
            ..
        })
    ));
}

#[test]
fn values_follow_the_node_format() {
    assert_eq!(5i64.to_value(&Format::Int), Ok(Value::Int(5)));
    assert_eq!(true.to_value(&Format::Bool), Ok(Value::Bool(true)));
    assert_eq!(
        "a <b>".to_string().to_value(&Format::Chr),
        Ok(Value::Chr("a <b>".into()))
    );
    assert_eq!(
        "<x/>".to_string().to_value(&Format::Xml),
        Ok(Value::Xml("<x/>".into()))
    );
    assert_eq!(
        "0x10".to_string().to_value(&Format::Int),
        Ok(Value::Int(16))
    );
    assert!(matches!(
        "x".to_string().to_value(&Format::Int),
        Err(ValueError::NotInt(_))
    ));
    assert!(matches!(
        "x".to_string().to_value(&Format::Null),
        Err(ValueError::NotSendable { .. })
    ));
    assert!(matches!(
        "25:00:00".to_string().to_value(&Format::Time),
        Err(ValueError::NotSendable { .. })
    ));
    assert!(matches!(
        "x".to_string().to_value(&Format::parse("x-custom")),
        Err(ValueError::NotSendable { .. })
    ));
}

/// Every node of every enabled table has a path the wire accepts (dynamic segments given a
/// name), so `Leaf::loc_uri` never fails on a generated leaf.
#[test]
fn every_generated_path_is_a_locuri() {
    let mut seen = 0;
    for table in winmdm_csp::generated::tables() {
        for i in 0..table.nodes.len() {
            let template = table.path_template(i);
            let path: Vec<String> = template
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        "x".to_string()
                    } else {
                        s.to_string()
                    }
                })
                .collect();
            let path = path.join("/");
            assert!(
                winmdm_csp::winmdm_omadm::LocUri::try_from(path.as_str()).is_ok(),
                "{template}"
            );
            seen += 1;
        }
    }
    assert!(seen > 0 || winmdm_csp::generated::tables().is_empty());
}
