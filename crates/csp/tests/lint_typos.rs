//! The linter never passes a typo (issue 12): unknown elements where a command belongs,
//! malformed OS builds, Microsoft's placeholder build, decode messages without a second
//! position.

use std::path::PathBuf;
use std::sync::OnceLock;

use winmdm_csp::{
    Catalog, Finding, LintError, LintOptions, Rule, Severity, UNRELEASED_OS_BUILD, parse_os_build,
};

/// The Update and Experience Policy areas (enough for these profiles, quick to load).
fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf/policy-areas");
        let mut c = Catalog::new();
        for f in ["Update_AreaDDF.xml", "Experience_AreaDDF.xml"] {
            let tree = winmdm_ddf::parse(&std::fs::read(dir.join(f)).unwrap()).unwrap();
            assert!(c.add_ddf(&tree, f).is_empty());
        }
        c
    })
}

fn run_with(profile: &str, options: &LintOptions) -> Vec<Finding> {
    winmdm_csp::lint_profile(catalog(), profile.as_bytes(), options).expect("lints")
}

fn run(profile: &str) -> Vec<Finding> {
    run_with(profile, &LintOptions::default())
}

fn rules(f: &[Finding]) -> Vec<(Severity, Rule)> {
    f.iter().map(|x| (x.severity, x.rule)).collect()
}

const NODE: &str = "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart";

fn item(uri: &str, data: &str) -> String {
    format!(
        "<Item><Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta>\
         <Target><LocURI>{uri}</LocURI></Target><Data>{data}</Data></Item>"
    )
}

fn command(name: &str, uri: &str, data: &str) -> String {
    format!("<{name}><CmdID>1</CmdID>{}</{name}>", item(uri, data))
}

#[test]
fn a_misspelled_command_is_an_error_and_its_content_is_linted() {
    // `<Replce>` holding an out-of-range value: both are reported, each at its position.
    let p = format!("\n  {}", command("Replce", NODE, "30"));
    let f = run(&p);
    assert_eq!(
        rules(&f),
        [
            (Severity::Error, Rule::UnknownCommand),
            (Severity::Error, Rule::NotAllowed)
        ],
        "{f:?}"
    );
    assert_eq!((f[0].line, f[0].column), (2, 3));
    assert!(f[0].message.contains("<Replce>"), "{}", f[0].message);
    assert!(
        f[0].message.contains("did you mean <Replace>?"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].rule.code(), "unknown-command");
    let at = p.find(NODE).unwrap();
    assert_eq!(f[1].offset, at);
    assert!(
        f[1].message.contains("30 is outside [0-23]"),
        "{}",
        f[1].message
    );
    // The same command spelt right has only the value finding.
    assert_eq!(
        rules(&run(&command("Replace", NODE, "30"))),
        [(Severity::Error, Rule::NotAllowed)]
    );
}

#[test]
fn a_misspelled_atomic_has_its_commands_linted() {
    let p = format!(
        "<Atomc><CmdID>1</CmdID>{}</Atomc>\n{}",
        command("Replace", NODE, "30"),
        command("Replace", NODE, "99")
    );
    let f = run(&p);
    assert_eq!(
        rules(&f),
        [
            (Severity::Error, Rule::UnknownCommand),
            (Severity::Error, Rule::NotAllowed),
            (Severity::Error, Rule::NotAllowed)
        ],
        "{f:?}"
    );
    assert!(f[0].message.contains("did you mean <Atomic>?"));
    assert!(f[1].message.contains("30 is outside"), "{}", f[1].message);
    // The command after the misspelt one keeps its own position.
    assert!(f[2].message.contains("99 is outside"), "{}", f[2].message);
    assert_eq!(f[2].line, 2);
    assert_eq!(f[2].offset, p.rfind(NODE).unwrap());
}

#[test]
fn case_only_misspelling_says_names_are_case_sensitive() {
    let f = run(&command("replace", NODE, "8"));
    assert_eq!(
        rules(&f),
        [(Severity::Error, Rule::UnknownCommand)],
        "{f:?}"
    );
    assert!(f[0].message.contains("case-sensitive"), "{}", f[0].message);
}

#[test]
fn soap_envelopes_and_other_elements_are_errors_with_positions() {
    let soap = format!(
        "<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">\
         <s:Body>{}</s:Body></s:Envelope>",
        command("Replace", NODE, "8")
    );
    let f = run(&soap);
    assert_eq!(
        rules(&f),
        [(Severity::Error, Rule::UnknownCommand)],
        "{f:?}"
    );
    assert_eq!((f[0].line, f[0].column), (2, 1));
    assert!(f[0].message.contains("SOAP envelope"), "{}", f[0].message);

    let f = run(&format!("{}\n<foo/>", command("Replace", NODE, "8")));
    assert_eq!(rules(&f), [(Severity::Error, Rule::UnknownCommand)]);
    assert_eq!((f[0].line, f[0].column), (2, 1));
    assert!(
        f[0].message.contains("unknown element <foo>"),
        "{}",
        f[0].message
    );
    assert!(!f[0].message.contains("did you mean"), "{}", f[0].message);

    // A misspelled root element of a message.
    let f = run("<SyncMLX xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr/></SyncMLX>");
    assert_eq!(rules(&f), [(Severity::Error, Rule::UnknownCommand)]);
    assert!(
        f[0].message.contains("did you mean <SyncML>?"),
        "{}",
        f[0].message
    );
}

#[test]
fn unknown_elements_inside_atomic_and_sync_body_are_errors() {
    let p = format!(
        "<Atomic><CmdID>1</CmdID><Foo><Item><Target><LocURI>./x</LocURI></Target></Item></Foo>{}</Atomic>",
        command("Replace", NODE, "30")
    );
    let f = run(&p);
    assert_eq!(
        rules(&f),
        [
            (Severity::Error, Rule::UnknownCommand),
            (Severity::Error, Rule::NotAllowed)
        ],
        "{f:?}"
    );
    assert_eq!(f[0].offset, p.find("<Foo>").unwrap());
    // The Target inside <Foo> is not taken for the Replace's.
    assert_eq!(f[1].offset, p.find(NODE).unwrap());

    let msg = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
         <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>d</LocURI></Target><Source><LocURI>s</LocURI></Source>\
         </SyncHdr><SyncBody><Replce/>{}<Final/></SyncBody></SyncML>",
        command("Replace", NODE, "8")
    );
    let f = run(&msg);
    assert_eq!(
        rules(&f),
        [(Severity::Error, Rule::UnknownCommand)],
        "{f:?}"
    );
    assert_eq!(f[0].offset, msg.find("<Replce/>").unwrap());
}

#[test]
fn decode_errors_carry_the_position_once() {
    let f = run("<Replace><CmdID>1</CmdID>\n<Item><Data>a</Dat></Item></Replace>");
    assert_eq!(rules(&f), [(Severity::Error, Rule::Decode)]);
    let shown = f[0].to_string();
    assert!(shown.starts_with("2:"), "{shown}");
    assert!(!f[0].message.contains("(byte"), "{shown}");
    assert!(!f[0].message.contains("2:"), "{shown}");
    assert!(f[0].message.ends_with("(at Replace/Item/Data)"), "{shown}");
}

#[test]
fn malformed_os_builds_are_refused() {
    for bad in [
        "foo",
        "19045",
        "10.0",
        "10.0.x",
        "10..0",
        "10.0.19045.1.2",
        " ",
        "-1.0.0",
    ] {
        assert_eq!(parse_os_build(bad), None, "{bad:?}");
        assert_eq!(
            LintOptions::default().try_with_os_build(bad),
            Err(LintError::InvalidOsBuild(bad.to_string()))
        );
        let err = winmdm_csp::lint_profile(
            catalog(),
            command("Replace", NODE, "8").as_bytes(),
            &LintOptions::default().with_os_build(bad),
        )
        .unwrap_err();
        assert_eq!(err, LintError::InvalidOsBuild(bad.to_string()));
        assert!(err.to_string().contains("10.0.19045"), "{err}");
    }
    assert_eq!(parse_os_build("10.0.19045"), Some(vec![10, 0, 19045]));
    assert_eq!(
        parse_os_build("10.0.19045.3803"),
        Some(vec![10, 0, 19045, 3803])
    );
    assert!(
        LintOptions::default()
            .try_with_os_build("10.0.19045.3803")
            .is_ok()
    );
}

#[test]
fn the_placeholder_build_is_not_a_build_requirement() {
    // MSFT:OsBuildVersion 99.9.99999 alone.
    let unreleased =
        "./Device/Vendor/MSFT/Policy/Config/Update/ConfigureDeadlineNoAutoRebootForFeatureUpdates";
    let m = catalog().lookup(unreleased).unwrap();
    let app = catalog().applicability(&m);
    assert_eq!(app.os_build.as_deref(), Some(UNRELEASED_OS_BUILD));
    assert!(app.is_unreleased());
    assert_eq!(app.released_os_builds().count(), 0);
    let p = command("Replace", unreleased, "1");
    let new = LintOptions::default().with_os_build("10.0.26100.2314");
    let f = run_with(&p, &new);
    assert_eq!(rules(&f), [(Severity::Error, Rule::OsBuild)], "{f:?}");
    assert!(
        f[0].message.contains("not in any released Windows build"),
        "{}",
        f[0].message
    );
    assert!(!f[0].message.contains("needs OS build"), "{}", f[0].message);
    // Without a device build nothing is said.
    assert!(run(&p).is_empty());

    // The placeholder in front of a servicing build: the servicing build is the requirement.
    let backported = "./User/Vendor/MSFT/Policy/Config/Experience/EnableOrganizationalMessages";
    let m = catalog().lookup(backported).unwrap();
    let app = catalog().applicability(&m);
    assert!(!app.is_unreleased());
    assert_eq!(
        app.released_os_builds().collect::<Vec<_>>(),
        ["10.0.22621.900"]
    );
    let p = command("Replace", backported, "1");
    let f = run_with(&p, &LintOptions::default().with_os_build("10.0.22621.800"));
    assert_eq!(rules(&f), [(Severity::Error, Rule::OsBuild)], "{f:?}");
    assert!(
        f[0].message
            .contains("needs OS build 10.0.22621.900 (device"),
        "{}",
        f[0].message
    );
    assert!(!f[0].message.contains("99.9"), "{}", f[0].message);
    assert!(run_with(&p, &LintOptions::default().with_os_build("10.0.22621.900")).is_empty());
}

#[test]
fn every_prefix_and_nesting_of_misspelled_commands_lints_without_panic() {
    let inner = command("Replce", NODE, "30");
    let p = format!(
        "<Atomc><CmdID>1</CmdID><Sequense>{inner}<foo><Target><LocURI>{NODE}</LocURI></Target></foo></Sequense></Atomc>\n{}",
        command("Replace", NODE, "99")
    );
    // The whole: every misspelling reported, both values checked, the last at its own LocURI.
    let f = run(&p);
    let unknown = f.iter().filter(|x| x.rule == Rule::UnknownCommand).count();
    assert_eq!(unknown, 4, "{f:?}");
    let values: Vec<usize> = f
        .iter()
        .filter(|x| x.rule == Rule::NotAllowed)
        .map(|x| x.offset)
        .collect();
    assert_eq!(
        values,
        [p.find(NODE).unwrap(), p.rfind(NODE).unwrap()],
        "{f:?}"
    );
    // Every prefix (most are malformed): findings only, positions inside the input.
    for end in 0..=p.len() {
        for x in run(&p[..end]) {
            assert!(x.offset <= end, "{end}: {x}");
            assert!(x.line >= 1 && x.column >= 1, "{end}: {x}");
        }
    }
}
