//! The ADMX reader (`winmdm_csp::admx`) and the linter's ADMX checks (rule `admx-data`) on the
//! test ADMX files in `tests/data/admx/` (constructed, see their PROVENANCE.md) and the real
//! Fleet profiles.

use std::path::PathBuf;
use std::sync::OnceLock;

use winmdm_csp::admx::{AdmxErrorKind, AdmxFile, AdmxLimits, AdmxSet, ElementKind, PolicyClass};
use winmdm_csp::winmdm_xml::{ErrorKind, SyntaxError};
use winmdm_csp::{Catalog, Finding, LintOptions, Rule, Severity};

/// [`winmdm_csp::lint_profile`] on a catalog that is never empty here.
fn lint(catalog: &Catalog, input: &[u8], options: &LintOptions) -> Vec<Finding> {
    winmdm_csp::lint_profile(catalog, input, options).expect("the test catalog has tables")
}

fn data(path: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(path),
    )
    .unwrap()
}

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf");
        let mut c = Catalog::new();
        for f in [
            "BitLocker.xml",
            "policy-areas/RemoteDesktopServices_AreaDDF.xml",
            "policy-areas/ADMX_TerminalServer_AreaDDF.xml",
        ] {
            let tree = winmdm_ddf::parse(&std::fs::read(dir.join(f)).unwrap()).unwrap();
            assert!(c.add_ddf(&tree, f).is_empty());
        }
        c
    })
}

fn admx_set() -> AdmxSet {
    let mut set = AdmxSet::new();
    for f in ["VolumeEncryption.admx", "TerminalServer.admx"] {
        set.parse_and_insert(f, &data(&format!("admx/{f}")), &AdmxLimits::default())
            .unwrap();
    }
    set
}

fn options() -> LintOptions {
    LintOptions::default().with_admx(admx_set())
}

fn replace(uri: &str, data: &str) -> String {
    format!(
        "<Replace>\n  <CmdID>1</CmdID>\n  <Item>\n    <Meta><Format xmlns=\"syncml:metinf\">chr</Format></Meta>\n    <Target><LocURI>{uri}</LocURI></Target>\n    <Data><![CDATA[{data}]]></Data>\n  </Item>\n</Replace>\n"
    )
}

fn admx_findings(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|x| x.rule == Rule::AdmxData).collect()
}

#[test]
fn parses_the_test_files() {
    let set = admx_set();
    assert_eq!(set.len(), 2);
    // File names ignore case: the DDFs write both TerminalServer.admx and terminalserver.admx.
    let ts = set.get("terminalserver.admx").unwrap();
    assert_eq!(
        ts.namespace.as_deref(),
        Some("Microsoft.Policies.TerminalServer")
    );
    assert_eq!(ts.policies.len(), 3);
    let p = ts.policy("TS_DISABLE_CONNECTIONS").unwrap();
    assert_eq!(p.class, PolicyClass::Machine);
    assert!(p.elements.is_empty(), "enabledList items are not elements");
    let p = ts.policy("TS_MAXMONITOR").unwrap();
    assert_eq!(
        p.element("TS_Max_Monitor").unwrap().kind,
        ElementKind::Decimal {
            min: Some(1),
            max: Some(16)
        }
    );
    assert!(p.element("TS_Max_Monitor").unwrap().required);
    let home = ts.policy("TS_USER_HOME").unwrap();
    let ids: Vec<(&str, &str)> = home
        .elements
        .iter()
        .map(|e| (e.id.as_str(), e.kind.name()))
        .collect();
    assert_eq!(
        ids,
        [
            ("TS_USER_HOME_LOCATION", "enum"),
            ("TS_HOME_DIR", "text"),
            ("TS_DRIVE_LETTER", "enum")
        ]
    );
    assert_eq!(
        home.elements[0].kind,
        ElementKind::Enum(Some(vec!["1".into(), "0".into()]))
    );
    let ElementKind::Enum(Some(letters)) = &home.elements[2].kind else {
        panic!("TS_DRIVE_LETTER is an enum with values");
    };
    assert_eq!(letters.len(), 20);
    assert_eq!((letters[0].as_str(), letters[19].as_str()), ("G:", "Z:"));

    let ve = set.get("VolumeEncryption.admx").unwrap();
    assert_eq!(ve.policies.len(), 12);
    let fdv = ve.policy("FDVRecoveryUsage_Name").unwrap();
    assert_eq!(fdv.elements.len(), 7);
    assert_eq!(
        fdv.element("FDVRecoveryPasswordUsageDropDown_Name")
            .unwrap()
            .kind,
        ElementKind::Enum(Some(vec!["2".into(), "1".into(), "0".into()]))
    );
    assert_eq!(
        fdv.element("FDVAllowDRA_Name").unwrap().kind,
        ElementKind::Boolean
    );
    // Policy names match ignoring case as a fallback; element ids only exactly.
    assert!(ve.policy("fdvrecoveryusage_name").is_some());
    assert!(fdv.element("fdvallowdra_name").is_none());
}

#[test]
fn namespace_prefixes_bom_and_utf16_are_read() {
    let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<pd:policyDefinitions xmlns:pd=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n  <pd:policies>\n    <pd:policy name=\"P\" class=\"Both\">\n      <pd:elements><pd:list id=\"L\" key=\"k\"/><pd:multiText id=\"M\"/><pd:longDecimal id=\"D\" maxValue=\"5\"/><pd:enum id=\"E\"><pd:item displayName=\"x\"><pd:value><pd:string>a &amp; b</pd:string></pd:value></pd:item></pd:enum></pd:elements>\n    </pd:policy>\n  </pd:policies>\n</pd:policyDefinitions>";
    let f = AdmxFile::parse(xml.as_bytes(), &AdmxLimits::default()).unwrap();
    let p = f.policy("P").unwrap();
    assert_eq!(p.class, PolicyClass::Both);
    let kinds: Vec<&str> = p.elements.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["list", "multiText", "longDecimal", "enum"]);
    assert_eq!(
        p.element("E").unwrap().kind,
        ElementKind::Enum(Some(vec!["a & b".into()]))
    );
    // The same document in UTF-16 LE with a BOM.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in xml.trim_start_matches('\u{feff}').encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(AdmxFile::parse(&utf16, &AdmxLimits::default()).unwrap(), f);
    // An enum item whose value is <delete/> makes the enum unchecked.
    let xml = r#"<policyDefinitions><policies><policy name="P"><elements><enum id="E"><item displayName="x"><value><delete/></value></item></enum></elements></policy></policies></policyDefinitions>"#;
    let f = AdmxFile::parse(xml.as_bytes(), &AdmxLimits::default()).unwrap();
    assert_eq!(f.policies["P"].elements[0].kind, ElementKind::Enum(None));
}

#[test]
fn a_correct_data_id_gives_no_finding() {
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType",
        "<enabled/><data id=\"FDVEncryptionTypeDropDown_Name\" value=\"1\"/>",
    );
    assert_eq!(lint(catalog(), profile.as_bytes(), &options()), []);
    let profile = replace(
        "./Device/Vendor/MSFT/Policy/Config/ADMX_TerminalServer/TS_USER_HOME",
        "<enabled/><data id=\"TS_USER_HOME_LOCATION\" value=\"1\"/><data id=\"TS_HOME_DIR\" value=\"\\\\srv\\home\"/><data id=\"TS_DRIVE_LETTER\" value=\"H:\"/>",
    );
    assert_eq!(lint(catalog(), profile.as_bytes(), &options()), []);
    // <disabled/> takes no data and is not checked further.
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType",
        "<disabled/>",
    );
    assert_eq!(lint(catalog(), profile.as_bytes(), &options()), []);
}

#[test]
fn a_wrong_data_id_is_an_error_at_the_id() {
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType",
        "<enabled/><data id=\"FDVEncryptionType_Name\" value=\"1\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].severity, f[0].rule),
        (Severity::Error, Rule::AdmxData)
    );
    assert_eq!(f[0].rule.code(), "admx-data");
    assert!(
        f[0].message.contains(
            "ADMX policy FDVEncryptionType_Name (VolumeEncryption.admx) has no element \"FDVEncryptionType_Name\" (did you mean \"FDVEncryptionTypeDropDown_Name\"?)"
        ),
        "{}",
        f[0].message
    );
    // The position is the id inside <Data>, line 6.
    let at = profile.find("FDVEncryptionType_Name\"").unwrap();
    assert_eq!((f[0].offset, f[0].line), (at, 6));
    assert_eq!(f[0].column, at - profile[..at].rfind('\n').unwrap());

    // Without ADMX files the same profile is fine (shape only, as before).
    assert_eq!(
        lint(catalog(), profile.as_bytes(), &LintOptions::default()),
        []
    );
    // Nor is anything checked when the node's file is not among the loaded ones.
    let mut only_ts = AdmxSet::new();
    only_ts
        .parse_and_insert(
            "TerminalServer.admx",
            &data("admx/TerminalServer.admx"),
            &AdmxLimits::default(),
        )
        .unwrap();
    assert_eq!(
        lint(
            catalog(),
            profile.as_bytes(),
            &LintOptions::default().with_admx(only_ts)
        ),
        []
    );
}

#[test]
fn data_for_a_policy_without_elements_and_case_only_ids() {
    let profile = replace(
        "./Device/Vendor/MSFT/Policy/Config/RemoteDesktopServices/AllowUsersToConnectRemotely",
        "<enabled/><data id=\"Anything\" value=\"1\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.starts_with(
            "ADMX policy TS_DISABLE_CONNECTIONS (terminalserver.admx) has no elements"
        ),
        "{}",
        f[0].message
    );
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType",
        "<enabled/><data id=\"fdvencryptiontypedropdown_name\" value=\"1\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("only ignoring case"),
        "{}",
        f[0].message
    );
}

#[test]
fn enum_and_decimal_values_are_checked() {
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType",
        "<enabled/><data id=\"FDVEncryptionTypeDropDown_Name\" value=\"3\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        f[0].message,
        "value \"3\" of enum element \"FDVEncryptionTypeDropDown_Name\" (ADMX policy FDVEncryptionType_Name, VolumeEncryption.admx) is not one of the enum values 0, 1, 2"
    );
    let uri = "./Device/Vendor/MSFT/Policy/Config/ADMX_TerminalServer/TS_MAXMONITOR";
    for (v, ok) in [
        ("1", true),
        ("16", true),
        ("0", false),
        ("17", false),
        ("two", false),
    ] {
        let profile = replace(
            uri,
            &format!("<enabled/><data id=\"TS_Max_Monitor\" value=\"{v}\"/>"),
        );
        let f = lint(catalog(), profile.as_bytes(), &options());
        assert_eq!(f.is_empty(), ok, "{v}: {f:#?}");
        if !ok {
            assert_eq!(
                (f[0].rule, f[0].severity),
                (Rule::AdmxData, Severity::Error)
            );
        }
    }
    let profile = replace(
        "./Device/Vendor/MSFT/Policy/Config/ADMX_TerminalServer/TS_USER_HOME",
        "<enabled/><data id=\"TS_DRIVE_LETTER\" value=\"A:\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message
            .contains("is not one of the enum values G:, H:")
    );
}

#[test]
fn a_policy_the_loaded_file_lacks_is_a_warning() {
    // The DDF maps RemovableDrivesConfigureBDE to RDVConfigureBDE, which the test file leaves
    // out: the file may be another version than the DDF's, so only a warning.
    let profile = replace(
        "./Device/Vendor/MSFT/BitLocker/RemovableDrivesConfigureBDE",
        "<enabled/><data id=\"RDVAllowBDE_Name\" value=\"true\"/>",
    );
    let f = lint(catalog(), profile.as_bytes(), &options());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].severity, f[0].rule),
        (Severity::Warning, Rule::AdmxData)
    );
    assert!(
        f[0].message
            .starts_with("the loaded VolumeEncryption.admx defines no policy RDVConfigureBDE"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].line, 5);
}

/// The real Fleet profiles that use these ADMX files: with the files loaded, four data ids are
/// wrong (Microsoft's BitLocker CSP documentation uses `FDVEncryptionTypeDropDown_Name`,
/// `OSEncryptionTypeDropDown_Name`, `RDVEncryptionTypeDropDown_Name` and `RDVCrossOrg`), and
/// the RemoteDesktopServices profile sends a registry key as data id to a policy without
/// elements. See docs/csp.md.
#[test]
fn real_profiles_with_admx_files() {
    let mut got = Vec::new();
    for name in [
        "CIS-18.10.10---BitLocker-fixed-data-drives-–-[Bundle].xml",
        "CIS-18.10.10.2---BitLocker-OS-drives-–-[Bundle].xml",
        "CIS-18.10.10.3---BitLocker-removable-drives-–-[Bundle].xml",
        "disable-remote-login---[AllowUsersToConnectRemotely].xml",
    ] {
        let bytes = data(&format!("profiles/{name}"));
        let without = lint(catalog(), &bytes, &LintOptions::default());
        let with = lint(catalog(), &bytes, &options());
        // Loading ADMX files only adds admx-data findings.
        let other: Vec<&Finding> = with.iter().filter(|x| x.rule != Rule::AdmxData).collect();
        assert_eq!(other, without.iter().collect::<Vec<_>>(), "{name}");
        for x in admx_findings(&with) {
            let id = x.message.split('"').nth(1).unwrap_or("");
            got.push(format!("{name} {}:{} {id}", x.line, x.column));
        }
    }
    assert_eq!(
        got,
        [
            "CIS-18.10.10---BitLocker-fixed-data-drives-–-[Bundle].xml 38:40 FDVEncryptionType_Name",
            "CIS-18.10.10.2---BitLocker-OS-drives-–-[Bundle].xml 49:40 OSEncryptionType_Name",
            "CIS-18.10.10.3---BitLocker-removable-drives-–-[Bundle].xml 37:40 RDVEncryptionType_Name",
            "CIS-18.10.10.3---BitLocker-removable-drives-–-[Bundle].xml 49:40 RDVDenyCrossOrg_Name",
            "disable-remote-login---[AllowUsersToConnectRemotely].xml 11:41 SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services",
        ]
    );
}

fn parse_err(xml: &str, limits: &AdmxLimits) -> winmdm_csp::admx::AdmxError {
    AdmxFile::parse(xml.as_bytes(), limits).unwrap_err()
}

#[test]
fn malformed_admx_has_a_position() {
    let xml = "<policyDefinitions>\n  <policies>\n    <policy name=\"P\">\n      <elements><text id=\"T\"></elements>\n";
    let e = parse_err(xml, &AdmxLimits::default());
    assert!(
        matches!(
            &e.kind,
            AdmxErrorKind::Xml(ErrorKind::Syntax(SyntaxError::MismatchedEndTag { expected, found }))
                if expected == "text" && found == "elements"
        ),
        "{e:?}"
    );
    assert_eq!(e.position.line, 4, "{e}");
    assert!(e.to_string().contains("line 4"), "{e}");

    let e = parse_err(
        "<policyDefinitions><policies>\n<policy class=\"User\"/></policies></policyDefinitions>",
        &AdmxLimits::default(),
    );
    assert_eq!(
        e.kind,
        AdmxErrorKind::MissingAttribute {
            element: "policy".into(),
            attribute: "name"
        }
    );
    assert_eq!((e.position.line, e.position.column), (2, 1));

    let e = parse_err(
        "<policyDefinitions><policies><policy name=\"P\"><elements>\n  <enum/></elements></policy></policies></policyDefinitions>",
        &AdmxLimits::default(),
    );
    assert_eq!(
        e.kind,
        AdmxErrorKind::MissingAttribute {
            element: "enum".into(),
            attribute: "id"
        }
    );
    assert_eq!((e.position.line, e.position.column), (2, 3));

    let e = parse_err("<MgmtTree/>", &AdmxLimits::default());
    assert_eq!(e.kind, AdmxErrorKind::NotAdmx("MgmtTree".into()));
    let e = parse_err("  ", &AdmxLimits::default());
    assert_eq!(e.kind, AdmxErrorKind::NoRoot);
    let e = parse_err(
        "<policyDefinitions><policies><policy name=\"&ent;\"/></policies></policyDefinitions>",
        &AdmxLimits::default(),
    );
    assert!(
        matches!(
            e.kind,
            AdmxErrorKind::Xml(_) | AdmxErrorKind::UndefinedEntity(_)
        ),
        "{e}"
    );
    let e = parse_err(
        "<policyDefinitions><policies><policy name=\"P\"><elements><enum id=\"E\"><item><value><string>&ent;</string></value></item></enum></elements></policy></policies></policyDefinitions>",
        &AdmxLimits::default(),
    );
    assert_eq!(e.kind, AdmxErrorKind::UndefinedEntity("ent".into()));
    let e = AdmxFile::parse(
        b"<policyDefinitions>\n\xFF</policyDefinitions>",
        &AdmxLimits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, AdmxErrorKind::Encoding("UTF-8"));
    assert_eq!((e.position.line, e.position.column), (2, 1));
}

#[test]
fn doctype_is_rejected() {
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE policyDefinitions [<!ENTITY x \"boom\">]>\n<policyDefinitions><policies><policy name=\"&x;\"/></policies></policyDefinitions>";
    let e = parse_err(xml, &AdmxLimits::default());
    assert_eq!(e.kind, AdmxErrorKind::Doctype);
    assert_eq!(e.position.line, 2);
}

#[test]
fn every_limit_has_its_error() {
    let xml = String::from_utf8(data("admx/VolumeEncryption.admx")).unwrap();
    let e = parse_err(&xml, &AdmxLimits::default().with_max_bytes(1000));
    assert_eq!(
        e.kind,
        AdmxErrorKind::TooLarge {
            size: xml.len(),
            limit: 1000
        }
    );
    let e = parse_err(&xml, &AdmxLimits::default().with_max_depth(4));
    assert_eq!(e.kind, AdmxErrorKind::TooDeep { limit: 4 });
    let e = parse_err(&xml, &AdmxLimits::default().with_max_policies(3));
    assert_eq!(e.kind, AdmxErrorKind::TooManyPolicies { limit: 3 });
    assert!(e.position.line > 1);
    let e = parse_err(&xml, &AdmxLimits::default().with_max_elements_per_policy(5));
    assert_eq!(e.kind, AdmxErrorKind::TooManyElements { limit: 5 });
    // Deep nesting is refused before it costs anything.
    let deep = format!(
        "<policyDefinitions>{}{}</policyDefinitions>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let e = parse_err(&deep, &AdmxLimits::default());
    assert_eq!(e.kind, AdmxErrorKind::TooDeep { limit: 32 });
    // The test files fit the defaults.
    assert!(AdmxFile::parse(xml.as_bytes(), &AdmxLimits::default()).is_ok());
}
