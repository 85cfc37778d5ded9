//! `winmdm_csp::profile`: profiles as desired state (parse, install, verify, retry, remove,
//! states), on the real admin profiles of the corpus and on crafted ones.

use std::path::{Path, PathBuf};

use winmdm_csp::profile::{
    Profile, ProfileError, SettingState, VERIFY_ITEMS_PER_GET, Verb, Verification,
    normalize_loc_uri, removal_commands, retry_as_replace, retry_item_as_replace, verify,
};
use winmdm_syncml::Command;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(data_dir().join(rel)).unwrap()
}

/// The body commands of a whole SyncML message, as a profile fragment.
fn body_as_fragment(message: &str) -> String {
    let msg = winmdm_syncml::decode(message.as_bytes()).unwrap();
    let mut out = Vec::new();
    winmdm_syncml::encode_commands(&msg.body.commands, &mut out, &Default::default()).unwrap();
    String::from_utf8(out).unwrap()
}

/// Decodes a fragment that must hold exactly one command.
fn one_command(fragment: &str) -> Command<'_> {
    let mut cmds = winmdm_syncml::decode_commands(fragment.as_bytes()).unwrap();
    assert_eq!(cmds.len(), 1, "{fragment}");
    cmds.pop().unwrap()
}

fn replace(uri: &str, format: &str, data: &str) -> String {
    format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">{format}</Format></Meta><Data>{data}</Data></Item></Replace>"
    )
}

const CAMERA: &str = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera";

#[test]
fn parses_settings_in_document_order() {
    let text = format!(
        "{}\n<Add><CmdID>2</CmdID><Meta><Format xmlns=\"syncml:metinf\">chr</Format>\
         <Type xmlns=\"syncml:metinf\">text/plain</Type></Meta>\
         <Item><Target><LocURI> ./Vendor/MSFT/X/A </LocURI></Target><Data>a</Data></Item>\
         <Item><Target><LocURI>./Vendor/MSFT/X/B</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>2</Data></Item></Add>",
        replace(CAMERA, "int", "0")
    );
    let p = Profile::parse(&text).unwrap();
    let s = p.settings();
    assert_eq!(s.len(), 3);
    assert_eq!(
        (
            s[0].verb,
            s[0].loc_uri.as_str(),
            s[0].format.as_deref(),
            s[0].data.as_deref()
        ),
        (Verb::Replace, CAMERA, Some("int"), Some("0"))
    );
    assert_eq!(s[0].r#type, None);
    assert!(!s[0].in_atomic);
    assert_eq!(s[0].command, 0);
    // Command-level Meta applies to items without their own; the LocURI is trimmed.
    assert_eq!(
        (
            s[1].verb,
            s[1].loc_uri.as_str(),
            s[1].format.as_deref(),
            s[1].r#type.as_deref()
        ),
        (
            Verb::Add,
            "./Vendor/MSFT/X/A",
            Some("chr"),
            Some("text/plain")
        )
    );
    assert_eq!(
        (s[2].format.as_deref(), s[2].r#type.as_deref(), s[2].command),
        (Some("int"), Some("text/plain"), 1)
    );
    assert_eq!(s[1].normalized_uri(), "./Device/Vendor/MSFT/X/A");
    assert!(p.actions().is_empty());
    assert_eq!(
        p.setting("./Device/Vendor/MSFT/X/B")
            .unwrap()
            .data
            .as_deref(),
        Some("2")
    );
    assert!(p.setting("./Device/Vendor/MSFT/X/C").is_none());

    let install = p.install_commands();
    assert_eq!(install.len(), 2);
    assert!(
        install[0].starts_with("<Replace><CmdID>1</CmdID>"),
        "{}",
        install[0]
    );
    assert!(
        install[1].starts_with("<Add><CmdID>1</CmdID>"),
        "{}",
        install[1]
    );
    match one_command(&install[1]) {
        Command::Add(a) => assert_eq!(a.items.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn atomic_and_sequence_stay_one_command_and_actions_are_kept() {
    let text = "<Atomic><CmdID>9</CmdID>\
        <Add><CmdID>10</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/N</LocURI></Target>\
          <Meta><Format xmlns=\"syncml:metinf\">node</Format></Meta></Item></Add>\
        <Replace><CmdID>11</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/N/V</LocURI></Target>\
          <Data>v</Data></Item></Replace>\
        <Exec><CmdID>12</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/N/Go</LocURI></Target>\
          <Data>now</Data></Item></Exec>\
      </Atomic>\
      <Sequence><CmdID>13</CmdID><Delete><CmdID>14</CmdID><Item><Target>\
        <LocURI>./Vendor/MSFT/X/Old</LocURI></Target></Item></Delete>\
        <Replace><CmdID>15</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/S</LocURI></Target>\
          <Data>s</Data></Item></Replace></Sequence>";
    let p = Profile::parse(text).unwrap();
    let s = p.settings();
    assert_eq!(s.len(), 3);
    assert!(s[0].in_atomic && s[1].in_atomic && !s[2].in_atomic);
    assert_eq!((s[0].command, s[1].command, s[2].command), (0, 0, 1));
    // An interior node (Format node, no Data) is set but cannot be verified.
    assert!(!s[0].is_verifiable());
    assert!(s[1].is_verifiable());
    let a = p.actions();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (
            a[0].verb,
            a[0].loc_uri.as_str(),
            a[0].data.as_deref(),
            a[0].in_atomic
        ),
        (Verb::Exec, "./Vendor/MSFT/X/N/Go", Some("now"), true)
    );
    assert_eq!(
        (a[1].verb, a[1].command, a[1].in_atomic),
        (Verb::Delete, 1, false)
    );

    let install = p.install_commands();
    assert_eq!(install.len(), 2);
    match one_command(&install[0]) {
        Command::Atomic(c) => {
            assert_eq!(c.cmd_id.as_deref(), Some("1"));
            let ids: Vec<_> = c.commands.iter().map(|k| k.cmd_id().unwrap()).collect();
            assert_eq!(ids, ["2", "3", "4"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(one_command(&install[1]), Command::Sequence(_)));

    // Only the leaves with values that are not Exec inputs are read back, in one Get.
    let get = p.verify_commands();
    assert_eq!(get.len(), 1);
    match one_command(&get[0]) {
        Command::Get(g) => {
            let uris: Vec<_> = g.items.iter().map(|i| i.target_uri().unwrap()).collect();
            // N/V is an input of the Exec of N/Go (its sibling): not read either.
            assert_eq!(uris, ["./Vendor/MSFT/X/S"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn install_commands_go_through_the_session_engines_cmdid_assignment() {
    // The fragments carry placeholder CmdIDs; what the engine needs is a decodable command
    // of a kind it sends. Both are checked here without depending on winmdm-omadm.
    let p = Profile::parse(&read("profiles/atomic_install_msi.xml")).unwrap();
    let install = p.install_commands();
    assert_eq!(install.len(), 1);
    let c = one_command(&install[0]);
    assert!(matches!(c, Command::Atomic(_)));
    // Data markup survives the re-encoding (escaped MsiInstallJob).
    let a = &p.actions()[0];
    assert!(a.data.as_deref().unwrap().starts_with("<MsiInstallJob id="));
    assert!(install[0].contains("&lt;MsiInstallJob"));
}

fn error_at(text: &str) -> (String, usize, usize) {
    match Profile::parse(text).unwrap_err() {
        ProfileError::Unsupported {
            command,
            line,
            column,
            ..
        } => (command, line, column),
        ProfileError::NoTarget {
            command,
            line,
            column,
            ..
        } => (command.to_string(), line, column),
        ProfileError::BadLocUri {
            loc_uri,
            line,
            column,
            ..
        } => (loc_uri, line, column),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_and_other_commands_are_rejected_with_positions() {
    let get = format!(
        "{}\n  <Get><CmdID>2</CmdID><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item></Get>",
        replace(CAMERA, "int", "0")
    );
    assert_eq!(error_at(&get), ("Get".into(), 2, 3));
    let e = Profile::parse(&get).unwrap_err().to_string();
    assert!(e.contains("verify_commands"), "{e}");
    // The Fleet PoC "profiles" that only read a node.
    for f in [
        "get_device_name.xml",
        "get_hardware_version.xml",
        "get_local_time.xml",
        "get_os_platform.xml",
    ] {
        let e = Profile::parse(&read(&format!("profiles/{f}"))).unwrap_err();
        assert!(
            matches!(&e, ProfileError::Unsupported { command, .. } if command == "Get"),
            "{f}: {e:?}"
        );
    }
    let copy = "<Copy><CmdID>1</CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Copy>";
    assert_eq!(error_at(copy), ("Copy".into(), 1, 1));
    let alert = "<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>";
    assert_eq!(error_at(alert).0, "Alert");
    let message = "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody/></SyncML>";
    // A whole message is not a profile: the codec says so.
    match Profile::parse(message).unwrap_err() {
        ProfileError::Decode(e) => assert!(e.to_string().contains("SyncML"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Get inside an Atomic too.
    let nested = "<Atomic><CmdID>1</CmdID>\n<Get><CmdID>2</CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Get></Atomic>";
    assert_eq!(error_at(nested), ("Get".into(), 2, 1));
}

#[test]
fn malformed_profiles_have_positions() {
    // The codec's error, with its position.
    match Profile::parse("<Replace><CmdID>1</CmdID>\n<Item></Replace>").unwrap_err() {
        ProfileError::Decode(e) => assert_eq!(e.line, 2),
        other => panic!("{other:?}"),
    }
    let no_target = "\n\n   <Replace><CmdID>1</CmdID><Item><Data>1</Data></Item></Replace>";
    assert_eq!(error_at(no_target), ("Replace".into(), 3, 4));
    let bad = format!("\n{}", replace("./Vendor/MSFT/a b", "int", "1"));
    let (uri, line, column) = error_at(&bad);
    assert_eq!(uri, "./Vendor/MSFT/a b");
    assert_eq!(line, 2);
    assert_eq!(
        column,
        1 + bad.lines().nth(1).unwrap().find("./Vendor").unwrap()
    );
    for empty in ["  ", "<!-- nothing -->"] {
        match Profile::parse(empty).unwrap_err() {
            ProfileError::Decode(e) => assert_eq!(e.kind, winmdm_syncml::DecodeErrorKind::Empty),
            ProfileError::Empty => {}
            other => panic!("{other:?}"),
        }
    }
}

fn real_profiles() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f: PathBuf| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(Path::new(&f)).unwrap())
        })
        .collect()
}

fn count_items(cmds: &[Command<'_>], add_replace: &mut usize, exec_delete: &mut usize) {
    for c in cmds {
        match c {
            Command::Atomic(k) | Command::Sequence(k) => {
                count_items(&k.commands, add_replace, exec_delete)
            }
            Command::Add(_) | Command::Replace(_) => *add_replace += c.items().len(),
            Command::Exec(_) | Command::Delete(_) => *exec_delete += c.items().len(),
            _ => {}
        }
    }
}

#[test]
fn every_real_profile_parses_installs_and_verifies_against_itself() {
    let profiles = real_profiles();
    assert_eq!(profiles.len(), 94);
    let mut parsed = 0;
    let mut settings = 0;
    for (name, text) in &profiles {
        if name.starts_with("get_") {
            assert!(Profile::parse(text).is_err(), "{name}");
            continue;
        }
        let p = Profile::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        parsed += 1;
        // As many settings and actions as Add/Replace and Exec/Delete items.
        let cmds = winmdm_syncml::decode_commands(text.as_bytes()).unwrap();
        let (mut sets, mut acts) = (0, 0);
        count_items(&cmds, &mut sets, &mut acts);
        assert_eq!(
            (p.settings().len(), p.actions().len()),
            (sets, acts),
            "{name}"
        );
        settings += sets;
        // One fragment per top-level command, each decoding to one command whose
        // settings are the same.
        let install = p.install_commands();
        assert_eq!(install.len(), cmds.len(), "{name}");
        let again = Profile::parse(&install.concat()).unwrap();
        let strip = |p: &Profile| -> Vec<_> {
            p.settings()
                .iter()
                .map(|s| {
                    (
                        s.verb,
                        s.loc_uri.clone(),
                        s.format.clone(),
                        s.data.clone(),
                        s.in_atomic,
                    )
                })
                .collect()
        };
        assert_eq!(strip(&again), strip(&p), "{name}");
        for f in &install {
            one_command(f);
        }
        // Every verifiable setting is read back once and verifies against its own value.
        let gets: usize = p
            .verify_commands()
            .iter()
            .map(|g| one_command(g).items().len())
            .sum();
        assert_eq!(gets, p.verifiable_settings().len(), "{name}");
        for s in p.settings() {
            assert_eq!(
                verify(s, s.data.as_deref(), None),
                Verification::Verified,
                "{name}: {}",
                s.loc_uri
            );
        }
    }
    assert_eq!(parsed, 90);
    assert!(settings > 200, "{settings}");
}

/// The ADMX-backed value of a setting of a real profile.
fn setting_of(file: &str, uri: &str) -> winmdm_csp::Setting {
    let p = Profile::parse(&read(&format!("profiles/{file}"))).unwrap();
    p.setting(uri).unwrap().clone()
}

#[test]
fn admx_values_of_real_profiles_compare_by_meaning() {
    // CDATA over several lines, seven data elements.
    let s = setting_of(
        "CIS-18.10.10---BitLocker-fixed-data-drives-–-[Bundle].xml",
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesRecoveryOptions",
    );
    assert!(
        s.data
            .as_deref()
            .unwrap()
            .starts_with("<enabled/>\n<data id=\"FDVAllowDRA_Name\"")
    );
    // What a device could return: one line, data reordered, single quotes, attributes
    // swapped, an escaped character, spaces before `/>`.
    let answer = "<enabled/><data id='FDVRequireActiveDirectoryBackup_Name' value='false' />\
        <data value=\"2\" id=\"FDVRecoveryKeyUsageDropDown_Name\"/>\
        <data id=\"FDVRecoveryPasswordUsageDropDown_Name\" value=\"&#50;\"/>\
        <data id=\"FDVHideRecoveryPage_Name\" value=\"true\"/>\
        <data id=\"FDVActiveDirectoryBackup_Name\" value=\"false\"/>\
        <data id=\"FDVAllowDRA_Name\" value=\"true\"/>\
        <data id=\"FDVActiveDirectoryBackupDropDown_Name\" value=\"1\"/>";
    assert_eq!(
        verify(&s, Some(answer), Some("chr")),
        Verification::Verified
    );
    // One value changed, one data element missing, disabled: drift.
    let changed = answer.replace("value=\"1\"", "value=\"2\"");
    assert!(matches!(
        verify(&s, Some(&changed), Some("chr")),
        Verification::Drift { .. }
    ));
    let missing = answer.replace("<data id=\"FDVAllowDRA_Name\" value=\"true\"/>", "");
    assert!(matches!(
        verify(&s, Some(&missing), Some("chr")),
        Verification::Drift { .. }
    ));
    assert_eq!(
        verify(&s, Some("<disabled/>"), Some("chr")),
        Verification::Drift {
            expected: s.data.clone().unwrap(),
            actual: Some("<disabled/>".into())
        }
    );

    // Entity-escaped with &quot; and a registry path as id, whitespace around it.
    let s = setting_of(
        "disable-remote-login---[AllowUsersToConnectRemotely].xml",
        "./Device/Vendor/MSFT/Policy/Config/RemoteDesktopServices/AllowUsersToConnectRemotely",
    );
    assert!(
        s.data
            .as_deref()
            .unwrap()
            .trim()
            .starts_with("<enabled/><data id=\"SOFTWARE\\")
    );
    let answer = r#"<enabled/><data value="1" id="SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"/>"#;
    assert_eq!(verify(&s, Some(answer), None), Verification::Verified);
    assert!(matches!(
        verify(&s, Some("<enabled/>"), None),
        Verification::Drift { .. }
    ));

    // A plain <enabled/> in CDATA.
    let s = setting_of(
        "CIS-18.10.10---BitLocker-fixed-data-drives-–-[Bundle].xml",
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesRequireEncryption",
    );
    assert_eq!(
        verify(&s, Some(" <enabled /> "), Some("chr")),
        Verification::Verified
    );
    assert!(matches!(
        verify(&s, Some("<disabled/>"), Some("chr")),
        Verification::Drift { .. }
    ));

    // Every ADMX-backed value of the corpus verifies against itself re-encoded by the typed
    // value (double quotes, one line).
    use winmdm_csp::{AdmxValue, CspValue};
    let mut admx = 0;
    for (name, text) in real_profiles() {
        let Ok(p) = Profile::parse(&text) else {
            continue;
        };
        for s in p.settings() {
            let Some(v) = s.data.as_deref().and_then(|d| AdmxValue::from_data(d).ok()) else {
                continue;
            };
            admx += 1;
            let mut reordered = v.clone();
            if let AdmxValue::Enabled(d) = &mut reordered {
                d.reverse();
            }
            assert_eq!(
                verify(s, Some(&reordered.to_data()), Some("chr")),
                Verification::Verified,
                "{name}: {}",
                s.loc_uri
            );
        }
    }
    assert!(admx >= 20, "{admx}");
}

#[test]
fn admx_values_of_microsofts_samples() {
    // The CDATA sample of the ADMX page (data elements wrapped over lines).
    let fragment = body_as_fragment(&read(
        "profile/enable-admx-backed-policies-in-mdm_02_enable-cdata.xml",
    ));
    let p = Profile::parse(&fragment).unwrap();
    let s = &p.settings()[0];
    assert_eq!(
        (s.format.as_deref(), s.r#type.as_deref()),
        (Some("chr"), Some("text/plain"))
    );
    let answer = "<enabled/><data id=\"User_Refresh_Unit_Options\" value=\"1\"/>\
        <data id=\"User_Refresh_Interval_Prompt\" value=\"15\"/>\
        <data id=\"User_Refresh_OnLogon_Options\" value=\"0\"/>\
        <data id=\"User_Publishing_Refresh_Options\" value=\"0\"/>\
        <data id=\"Global_Refresh_Unit_Options\" value=\"0\"/>\
        <data id=\"Global_Refresh_Interval_Prompt\" value=\"15\"/>\
        <data id=\"Global_Refresh_OnLogon_Options\" value=\"0\"/>\
        <data id=\"Global_Publishing_Refresh_Options\" value=\"1\"/>\
        <data id=\"Publishing_Server_URL_Prompt\" value=\"URL prompt\"/>\
        <data id=\"Publishing_Server2_Name_Prompt\" value=\"name prompt\"/>";
    assert_eq!(verify(s, Some(answer), Some("chr")), Verification::Verified);
    // Values are compared exactly (text, not trimmed or case-folded).
    let other = answer.replace("name prompt", "Name prompt");
    assert!(matches!(
        verify(s, Some(&other), Some("chr")),
        Verification::Drift { .. }
    ));

    // The raw <disabled/> child of <Data>.
    let fragment = body_as_fragment(&read(
        "profile/enable-admx-backed-policies-in-mdm_03_disable-raw-element.xml",
    ));
    let p = Profile::parse(&fragment).unwrap();
    let s = &p.settings()[0];
    assert_eq!(s.data.as_deref(), Some("<disabled/>"));
    assert_eq!(
        verify(s, Some("<disabled />"), Some("chr")),
        Verification::Verified
    );
    assert!(matches!(
        verify(s, Some(answer), None),
        Verification::Drift { .. }
    ));
}

fn setting(format: &str, data: &str) -> winmdm_csp::Setting {
    let p = Profile::parse(&replace("./Vendor/MSFT/X/Y", format, data)).unwrap();
    p.settings()[0].clone()
}

fn verified(format: &str, expected: &str, actual: &str) -> bool {
    verify(&setting(format, expected), Some(actual), None) == Verification::Verified
}

#[test]
fn values_compare_by_format() {
    // int: numerically.
    assert!(verified("int", "0", "0"));
    assert!(verified("int", "16", " 0x10 "));
    assert!(verified("int", "+5", "5"));
    assert!(!verified("int", "1", "0"));
    assert!(!verified("int", "1", ""));
    // bool: case ignored.
    assert!(verified("bool", "true", "True"));
    assert!(verified("bool", "FALSE", "false"));
    assert!(!verified("bool", "true", "false"));
    // chr: exactly.
    assert!(verified("chr", "22H2", "22H2"));
    assert!(!verified("chr", "22H2", "22h2"));
    assert!(!verified("chr", "a", "a "));
    // b64: whitespace ignored.
    assert!(verified("b64", "QUJD\nREVG", "QUJDREVG"));
    assert!(!verified("b64", "QUJD", "QUJE"));
    // xml: canonical form.
    let wlan = "&lt;WLANProfile xmlns=\"http://www.microsoft.com/networking/WLAN/profile/v1\"&gt;\
        &lt;name&gt;Corp&lt;/name&gt;&lt;MSM a=\"1\" b='2'&gt;&lt;x/&gt;&lt;/MSM&gt;&lt;/WLANProfile&gt;";
    let s = setting("xml", wlan);
    let answer = "<?xml version=\"1.0\"?>\n<WLANProfile xmlns='http://www.microsoft.com/networking/WLAN/profile/v1'>\n  \
        <name> Corp </name>\n  <!-- c --><MSM b=\"2\" a=\"1\"><x></x></MSM>\n</WLANProfile>";
    assert_eq!(verify(&s, Some(answer), None), Verification::Verified);
    let other = answer.replace("Corp", "Guest");
    assert!(matches!(
        verify(&s, Some(&other), None),
        Verification::Drift { .. }
    ));
    assert!(matches!(
        verify(&s, Some("<WLANProfile>"), None),
        Verification::Drift { .. }
    ));
    // chr holding an XML document (WiFi WlanXml is chr): canonical form too.
    let s = setting("chr", wlan);
    assert_eq!(verify(&s, Some(answer), None), Verification::Verified);

    // No result: drift with no actual value.
    assert_eq!(
        verify(&setting("int", "1"), None, None),
        Verification::Drift {
            expected: "1".into(),
            actual: None
        }
    );
    // The format comes from the setting, else from the result, else chr.
    let p = Profile::parse(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/X</LocURI></Target>\
         <Data>7</Data></Item></Replace>",
    )
    .unwrap();
    let s = &p.settings()[0];
    assert_eq!(verify(s, Some("07"), Some("int")), Verification::Verified);
    assert!(matches!(
        verify(s, Some("07"), None),
        Verification::Drift { .. }
    ));
}

#[test]
fn results_items_are_matched_to_settings() {
    // The Results message of MS-MDM section 4 (Source LocURI, Meta Format chr).
    let msg_text = read("profile/ms-mdm-spec_4_03_client-pkg3-results.xml");
    let msg = winmdm_syncml::decode(msg_text.as_bytes()).unwrap();
    let items: Vec<_> = msg
        .body
        .commands
        .iter()
        .filter(|c| matches!(c, Command::Results(_)))
        .flat_map(|c| c.items().iter())
        .collect();
    assert_eq!(items.len(), 2);
    let p = Profile::parse(&format!(
        "{}{}",
        replace("./DevDetail/SwV", "chr", "[software version returned here]"),
        replace("./DevDetail/FwV", "chr", "1.0"),
    ))
    .unwrap();
    let (s, v) = p.verify_result(items[0]).unwrap();
    assert_eq!(s.loc_uri, "./DevDetail/SwV");
    assert_eq!(v, Verification::Verified);
    // HwV is not set by this profile.
    assert!(p.verify_result(items[1]).is_none());

    // A Results item for ./Vendor/MSFT... matches a setting written ./Device/Vendor/MSFT...
    let p = Profile::parse(&replace(CAMERA, "int", "0")).unwrap();
    let results = "<Results><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Get</Cmd>\
        <Item><Source><LocURI>./Vendor/MSFT/Policy/Config/Camera/AllowCamera</LocURI></Source>\
        <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>1</Data></Item></Results>";
    let cmds = winmdm_syncml::decode_commands(results.as_bytes()).unwrap();
    let (s, v) = p.verify_result(&cmds[0].items()[0]).unwrap();
    assert_eq!(s.loc_uri, CAMERA);
    assert_eq!(
        v,
        Verification::Drift {
            expected: "0".into(),
            actual: Some("1".into())
        }
    );
}

#[test]
fn verify_commands_read_each_node_once_in_bounded_gets() {
    let mut text = String::new();
    for i in 0..250 {
        text.push_str(&replace(&format!("./Vendor/MSFT/X/N{i}"), "int", "1"));
    }
    // The same node twice (the second spelling is the same node): read once, last value.
    text.push_str(&replace("./Device/Vendor/MSFT/X/N0", "int", "2"));
    let p = Profile::parse(&text).unwrap();
    assert_eq!(p.settings().len(), 251);
    assert_eq!(p.verifiable_settings().len(), 250);
    assert_eq!(
        p.setting("./Vendor/MSFT/X/N0").unwrap().data.as_deref(),
        Some("2")
    );
    let gets = p.verify_commands();
    let sizes: Vec<_> = gets.iter().map(|g| one_command(g).items().len()).collect();
    assert_eq!(sizes, [VERIFY_ITEMS_PER_GET, VERIFY_ITEMS_PER_GET, 50]);
    // Nothing verifiable: no Get.
    let p = Profile::parse(
        "<Exec><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/Reboot/RebootNow</LocURI></Target></Item></Exec>",
    )
    .unwrap();
    assert!(p.verify_commands().is_empty());
}

#[test]
fn inputs_of_an_exec_are_not_read_back() {
    // The SCEP profile: Install/* are the parameters of Exec Install/Enroll.
    let scep = Profile::parse(&read("profiles/windows-device-scep.xml")).unwrap();
    assert_eq!(scep.actions()[0].verb, Verb::Exec);
    assert!(scep.actions()[0].loc_uri.ends_with("/Install/Enroll"));
    assert!(scep.settings().len() > 5);
    assert!(
        scep.verifiable_settings().is_empty(),
        "{:?}",
        scep.verifiable_settings()
    );
    assert!(scep.verify_commands().is_empty());
    // A setting elsewhere in the same profile is still read.
    let text = format!(
        "{}{}<Exec><CmdID>3</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/Job/Run</LocURI></Target></Item></Exec>",
        replace("./Vendor/MSFT/X/Job/Param", "chr", "a"),
        replace("./Vendor/MSFT/X/Other", "chr", "b"),
    );
    let p = Profile::parse(&text).unwrap();
    let v: Vec<_> = p
        .verifiable_settings()
        .iter()
        .map(|s| s.loc_uri.as_str())
        .collect();
    assert_eq!(v, ["./Vendor/MSFT/X/Other"]);
}

#[test]
fn verify_commands_with_a_catalog_skip_nodes_that_cannot_be_read() {
    let ddf =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf/Accounts.xml")).unwrap();
    let mut catalog = winmdm_csp::Catalog::new();
    assert!(
        catalog
            .add_ddf(
                &winmdm_csp::winmdm_ddf::parse(&ddf).unwrap(),
                "Accounts.xml"
            )
            .is_empty()
    );
    let p = Profile::parse(&format!(
        "{}{}{}",
        replace(
            "./Device/Vendor/MSFT/Accounts/Users/alice/Password",
            "chr",
            "secret"
        ),
        replace(
            "./Device/Vendor/MSFT/Accounts/Users/alice/LocalUserGroup",
            "int",
            "1"
        ),
        replace("./Device/Vendor/MSFT/Unknown/Node", "int", "1"),
    ))
    .unwrap();
    assert_eq!(one_command(&p.verify_commands()[0]).items().len(), 3);
    let gets = p.verify_commands_with(&catalog);
    let uris: Vec<String> = one_command(&gets[0])
        .items()
        .iter()
        .map(|i| i.target_uri().unwrap().to_string())
        .collect();
    // Password and LocalUserGroup are Add-only; the unknown node is read.
    assert_eq!(uris, ["./Device/Vendor/MSFT/Unknown/Node"]);
}

const ADD: &str = "<Add><CmdID>4</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/A</LocURI></Target>\
    <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>1</Data></Item>\
    <Item><Target><LocURI>./Vendor/MSFT/X/B</LocURI></Target><Data>b</Data></Item></Add>";

#[test]
fn add_answered_418_is_retried_as_replace() {
    let r = retry_as_replace(ADD, 418).unwrap();
    match one_command(&r) {
        Command::Replace(c) => {
            assert_eq!(c.cmd_id.as_deref(), Some("4"));
            assert_eq!(c.items.len(), 2);
            assert_eq!(c.items[0].data.as_ref().unwrap().as_str(), "1");
            assert_eq!(
                c.items[0].meta.as_ref().unwrap().format.as_deref(),
                Some("int")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(retry_as_replace(ADD, 200), None);
    assert_eq!(retry_as_replace(ADD, 500), None);
    let replace_cmd = replace(CAMERA, "int", "0");
    assert_eq!(retry_as_replace(&replace_cmd, 418), None);
    assert_eq!(retry_as_replace("not xml <", 418), None);

    // One item (per-item Status with TargetRef), by normalized LocURI.
    let r = retry_item_as_replace(ADD, "./Device/Vendor/MSFT/X/B", 418).unwrap();
    match one_command(&r) {
        Command::Replace(c) => {
            assert_eq!(c.items.len(), 1);
            assert_eq!(c.items[0].target_uri(), Some("./Vendor/MSFT/X/B"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(retry_item_as_replace(ADD, "./Vendor/MSFT/X/C", 418), None);
    assert_eq!(retry_item_as_replace(ADD, "./Vendor/MSFT/X/B", 404), None);

    // Inside an Atomic: the whole Atomic again, the Add split around the item.
    let atomic = format!(
        "<Atomic><CmdID>3</CmdID>{ADD}{}</Atomic>",
        replace(CAMERA, "int", "0")
    );
    let r = retry_item_as_replace(&atomic, "./Vendor/MSFT/X/A", 418).unwrap();
    match one_command(&r) {
        Command::Atomic(c) => {
            let shape: Vec<_> = c
                .commands
                .iter()
                .map(|k| {
                    (
                        k.name().to_string(),
                        k.items()[0].target_uri().unwrap().to_string(),
                        k.cmd_id().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(
                shape,
                [
                    (
                        "Replace".to_string(),
                        "./Vendor/MSFT/X/A".to_string(),
                        "2".to_string()
                    ),
                    ("Add".into(), "./Vendor/MSFT/X/B".into(), "3".into()),
                    ("Replace".into(), CAMERA.into(), "4".into()),
                ]
            );
            assert_eq!(c.cmd_id.as_deref(), Some("1"));
        }
        other => panic!("{other:?}"),
    }
    // The retried Atomic is still a valid profile with the same nodes.
    let before = Profile::parse(&atomic).unwrap();
    let after = Profile::parse(&r).unwrap();
    let uris =
        |p: &Profile| -> Vec<String> { p.settings().iter().map(|s| s.loc_uri.clone()).collect() };
    assert_eq!(uris(&before), uris(&after));
    assert!(after.settings().iter().all(|s| s.in_atomic));
}

fn deletes(cmds: &[String]) -> Vec<String> {
    cmds.iter()
        .map(|c| match one_command(c) {
            Command::Delete(d) => {
                assert_eq!(d.items.len(), 1);
                d.items[0].target_uri().unwrap().to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn removal_deletes_only_what_no_assigned_profile_sets() {
    let removed = Profile::parse(&format!(
        "{}{}{}{}<Exec><CmdID>9</CmdID><Item><Target><LocURI>./Vendor/MSFT/Reboot/RebootNow</LocURI></Target></Item></Exec>",
        replace(CAMERA, "int", "0"),
        replace("./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart", "int", "8"),
        replace("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd", "int", "17"),
        replace("./User/Vendor/MSFT/Policy/Config/Start/HideSleep", "int", "1"),
    ))
    .unwrap();
    // Another profile sets AllowCamera (written ./Vendor) and ActiveHoursEnd (./Device).
    let other = Profile::parse(&format!(
        "{}{}{}",
        replace("./Vendor/MSFT/Policy/Config/Camera/AllowCamera", "int", "1"),
        replace(
            "./Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd",
            "int",
            "18"
        ),
        // Device scope does not cover the user-scoped node.
        replace(
            "./Device/Vendor/MSFT/Policy/Config/Start/HideSleep",
            "int",
            "1"
        ),
    ))
    .unwrap();
    assert_eq!(
        deletes(&removal_commands(&removed, &[&other])),
        [
            "./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
            "./User/Vendor/MSFT/Policy/Config/Start/HideSleep",
        ]
    );
    // Nothing else assigned: every node it set (not the Exec), as written, in order.
    assert_eq!(
        deletes(&removal_commands(&removed, &[])),
        [
            CAMERA,
            "./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
            "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd",
            "./User/Vendor/MSFT/Policy/Config/Start/HideSleep",
        ]
    );
    // The profile itself still assigned (a re-push): nothing.
    assert!(removal_commands(&removed, &[&removed]).is_empty());
}

#[test]
fn removal_of_subtrees() {
    // The real SCEP profile: the instance node and its children.
    let scep = Profile::parse(&read("profiles/windows-device-scep.xml")).unwrap();
    let roots: Vec<_> = scep
        .settings()
        .iter()
        .filter(|s| s.format.as_deref() == Some("node"))
        .map(|s| s.loc_uri.clone())
        .collect();
    assert_eq!(roots.len(), 1);
    let d = deletes(&removal_commands(&scep, &[]));
    assert_eq!(d, roots);
    // Only the topmost nodes it set: the children go with their subtree.
    for uri in &d {
        assert!(
            !d.iter()
                .any(|o| o != uri && uri.starts_with(&format!("{}/", o))),
            "{d:?}"
        );
    }
    for s in scep.settings() {
        let n = normalize_loc_uri(&s.loc_uri);
        assert!(
            d.iter().any(|o| {
                let o = normalize_loc_uri(o);
                n == o || n.starts_with(&format!("{o}/"))
            }),
            "{} not covered by {d:?}",
            s.loc_uri
        );
    }

    // A still-assigned profile sets a node below one the removed profile set: the
    // interior node stays, the removed profile's other leaves go.
    let removed = Profile::parse(&format!(
        "<Add><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/WiFi/Profile/Corp</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">node</Format></Meta></Item></Add>{}{}",
        replace("./Vendor/MSFT/WiFi/Profile/Corp/WlanXml", "chr", "x"),
        replace("./Vendor/MSFT/WiFi/Profile/Corp/Proxy", "chr", "p:8080"),
    ))
    .unwrap();
    let kept = Profile::parse(&replace(
        "./Device/Vendor/MSFT/WiFi/Profile/Corp/WlanXml",
        "chr",
        "x",
    ))
    .unwrap();
    assert_eq!(
        deletes(&removal_commands(&removed, &[&kept])),
        ["./Vendor/MSFT/WiFi/Profile/Corp/Proxy"]
    );
    assert_eq!(
        deletes(&removal_commands(&removed, &[])),
        ["./Vendor/MSFT/WiFi/Profile/Corp"]
    );
    // A sibling with a common prefix is not below: ./X/Corp2 does not keep ./X/Corp.
    let sibling = Profile::parse(&replace(
        "./Vendor/MSFT/WiFi/Profile/Corp2/WlanXml",
        "chr",
        "y",
    ))
    .unwrap();
    assert_eq!(
        deletes(&removal_commands(&removed, &[&sibling])),
        ["./Vendor/MSFT/WiFi/Profile/Corp"]
    );
}

#[test]
fn editing_a_profile_deletes_what_the_new_version_dropped() {
    let old = Profile::parse(&format!(
        "{}{}",
        replace(CAMERA, "int", "0"),
        replace(
            "./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
            "int",
            "8"
        ),
    ))
    .unwrap();
    let new = Profile::parse(&replace(CAMERA, "int", "1")).unwrap();
    assert_eq!(
        deletes(&removal_commands(&old, &[&new])),
        ["./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart"]
    );
}

#[test]
fn settings_and_verbs_rebuilt_from_stored_columns() {
    let p = Profile::parse(&read(
        "profiles/disable-remote-login---[AllowUsersToConnectRemotely].xml",
    ))
    .unwrap();
    let s = &p.settings()[0];
    let verb: Verb = s.verb.as_str().parse().unwrap();
    let rebuilt =
        winmdm_csp::Setting::new(verb, &s.loc_uri, s.format.as_deref(), s.data.as_deref());
    assert_eq!(rebuilt.normalized_uri(), s.normalized_uri());
    assert_eq!(
        verify(&rebuilt, s.data.as_deref(), None),
        Verification::Verified
    );
    for v in [Verb::Add, Verb::Replace, Verb::Exec, Verb::Delete] {
        assert_eq!(v.to_string().parse::<Verb>().unwrap(), v);
    }
    assert!("replace".parse::<Verb>().is_err());
}

#[test]
fn setting_states_round_trip_as_text() {
    let states = [
        (SettingState::Pending, "pending"),
        (SettingState::Sent, "sent"),
        (SettingState::Verified, "verified"),
        (
            SettingState::Failed {
                status: 418,
                original_error: None,
            },
            "failed:418",
        ),
        (
            SettingState::Failed {
                status: 500,
                original_error: Some("0x86000002".into()),
            },
            "failed:500:0x86000002",
        ),
        (SettingState::Drift { actual: None }, "drift"),
        (
            SettingState::Drift {
                actual: Some(String::new()),
            },
            "drift:",
        ),
        (
            SettingState::Drift {
                actual: Some("<enabled/>\n<data id=\"a:b\" value=\"c\"/>".into()),
            },
            "drift:<enabled/>\n<data id=\"a:b\" value=\"c\"/>",
        ),
    ];
    for (state, text) in states {
        assert_eq!(state.to_string(), text);
        assert_eq!(text.parse::<SettingState>().unwrap(), state, "{text}");
        assert_eq!(text.split(':').next().unwrap(), state.as_str());
    }
    for bad in [
        "",
        "Pending",
        "sent:1",
        "failed",
        "failed:x",
        "failed:70000",
        "gone",
    ] {
        assert!(bad.parse::<SettingState>().is_err(), "{bad:?}");
    }
    assert_eq!(SettingState::after_status(200, None), SettingState::Sent);
    assert_eq!(
        SettingState::after_status(405, Some("0x86000005")),
        SettingState::Failed {
            status: 405,
            original_error: Some("0x86000005".into())
        }
    );
    assert!(!SettingState::Sent.is_settled() && !SettingState::Pending.is_settled());
    assert!(SettingState::Verified.is_settled());
    assert_eq!(
        SettingState::from(Verification::Drift {
            expected: "0".into(),
            actual: Some("1".into())
        }),
        SettingState::Drift {
            actual: Some("1".into())
        }
    );
    assert_eq!(
        SettingState::from(Verification::Verified),
        SettingState::Verified
    );
}

#[test]
fn install_outcome_maps_statuses_to_settings_and_retries_418_as_replace() {
    use winmdm_csp::profile::{InstallAnswer, Profile, SettingState};
    let two = "<Replace><CmdID>1</CmdID>\
        <Item><Target><LocURI>./Vendor/MSFT/Policy/Config/A/B</LocURI></Target><Data>1</Data></Item>\
        <Item><Target><LocURI>./Vendor/MSFT/Policy/Config/A/C</LocURI></Target><Data>2</Data></Item>\
        </Replace>";
    let p = Profile::parse(two).unwrap();
    // Per-item statuses, one written with ./Device (the same node).
    let items = [("./Device/Vendor/MSFT/Policy/Config/A/C", 405)];
    let answer = InstallAnswer {
        status: Some(200),
        item_statuses: &items,
        original_error: Some("0x86000002"),
        ..Default::default()
    };
    let out = p.install_outcome(0, two, &answer);
    assert_eq!(out.states[0].1, SettingState::Sent);
    assert_eq!(
        out.states[1].1,
        SettingState::Failed {
            status: 405,
            original_error: Some("0x86000002".into())
        }
    );
    assert!(out.retry.is_none());

    // Inside an Atomic: each setting takes its own command's status.
    let atomic = "<Atomic><CmdID>1</CmdID>\
        <Add><CmdID>2</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/A</LocURI></Target><Data>1</Data></Item></Add>\
        <Replace><CmdID>3</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/B</LocURI></Target><Data>1</Data></Item></Replace>\
        </Atomic>";
    let p = Profile::parse(atomic).unwrap();
    let children = [Some(215), Some(500)];
    let out = p.install_outcome(
        0,
        atomic,
        &InstallAnswer {
            status: Some(507),
            child_statuses: &children,
            ..Default::default()
        },
    );
    assert_eq!(out.states.len(), 2);
    assert!(matches!(
        out.states[1].1,
        SettingState::Failed { status: 500, .. }
    ));
    // 418 on the Add inside: the whole Atomic again, that item as Replace.
    let children = [Some(418), Some(215)];
    let out = p.install_outcome(
        0,
        atomic,
        &InstallAnswer {
            status: Some(507),
            child_statuses: &children,
            ..Default::default()
        },
    );
    let retry = out.retry.expect("retry");
    assert!(
        retry.starts_with("<Atomic>") && !retry.contains("<Add>"),
        "{retry}"
    );
    assert_eq!(out.states.len(), 1, "the retried setting keeps its state");
    // No answer at all counts as a failure (500).
    let out = p.install_outcome(0, atomic, &InstallAnswer::default());
    assert!(
        out.states
            .iter()
            .all(|(_, s)| matches!(s, SettingState::Failed { status: 500, .. }))
    );
    // Another command's index: nothing.
    assert!(
        p.install_outcome(1, atomic, &InstallAnswer::default())
            .states
            .is_empty()
    );
}

#[test]
fn verify_outcome_reads_results_and_a_failed_get_is_drift() {
    use winmdm_csp::profile::{Profile, SettingState};
    let frag = "<Replace><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/Policy/Config/A/B</LocURI></Target>\
        <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>1</Data></Item></Replace>";
    let p = Profile::parse(frag).unwrap();
    let results = winmdm_syncml::decode_commands(
        b"<Results><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>1</CmdRef><Item><Source>\
          <LocURI>./Vendor/MSFT/Policy/Config/A/B</LocURI></Source><Data> 0x1 </Data></Item></Results>",
    )
    .unwrap();
    let items = match &results[0] {
        winmdm_syncml::Command::Results(r) => r.items.clone(),
        other => panic!("{other:?}"),
    };
    let out = p.verify_outcome(&items, Some(200));
    assert_eq!(
        out,
        vec![(
            "./Vendor/MSFT/Policy/Config/A/B".into(),
            SettingState::Verified,
            0
        )]
    );
    let out = p.verify_outcome(&[], Some(404));
    assert_eq!(
        out,
        vec![(
            "./Vendor/MSFT/Policy/Config/A/B".into(),
            SettingState::Drift { actual: None },
            0
        )]
    );
    assert!(p.verify_outcome(&[], Some(200)).is_empty());
}
