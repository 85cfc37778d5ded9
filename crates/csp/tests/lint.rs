//! The profile linter on the real admin profiles of the corpus (findings pinned) and on
//! crafted bad profiles, one per rule.

use std::path::PathBuf;
use std::sync::OnceLock;

use winmdm_csp::{Catalog, Finding, LintOptions, Rule, Severity};

/// [`winmdm_csp::lint_profile`] on a catalog that is never empty here.
fn lint(catalog: &Catalog, input: &[u8], options: &LintOptions) -> Vec<Finding> {
    winmdm_csp::lint_profile(catalog, input, options).expect("the test catalog has tables")
}

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf");
        let mut c = Catalog::new();
        for sub in ["", "policy-areas"] {
            let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .collect();
            files.sort();
            for f in files {
                let tree = winmdm_ddf::parse(&std::fs::read(&f).unwrap()).unwrap();
                assert!(
                    c.add_ddf(&tree, &f.file_name().unwrap().to_string_lossy())
                        .is_empty()
                );
            }
        }
        c
    })
}

fn run(profile: &str) -> Vec<Finding> {
    lint(catalog(), profile.as_bytes(), &LintOptions::default())
}

fn rules(f: &[Finding]) -> Vec<(Severity, Rule)> {
    f.iter().map(|x| (x.severity, x.rule)).collect()
}

#[test]
fn real_profiles_lint_with_pinned_findings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/profiles");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 94);
    let mut got = Vec::new();
    for f in &files {
        for x in lint(
            catalog(),
            &std::fs::read(f).unwrap(),
            &LintOptions::default(),
        ) {
            got.push(format!(
                "{} {}:{} {}",
                f.file_name().unwrap().to_string_lossy(),
                x.line,
                x.column,
                x.rule.code()
            ));
        }
    }
    // Each one is explained in docs/csp.md ("Findings on the real profiles").
    let want = [
        "CIS-18.10.10.3---BitLocker-removable-drives-–-[Bundle].xml 16:15 unknown-node",
        "CIS-18.10.59.5---disable-indexing-encrypted-files-–-[PreventIndexingEncryptedStoresOrItems].xml 8:15 unknown-node",
        "CIS-18.10.9.1.1---enhanced-anti-spoofing-–-[FacialFeaturesUseEnhancedAntiSpoofing].xml 8:15 unknown-policy",
        "Windows-Update-operations-–-[Bundle].xml 104:15 format-mismatch",
        "Windows-Update-operations-–-[Bundle].xml 164:15 unknown-node",
        "disable-diagnostic-data---[CommercialId].xml 4:15 bad-admx",
        "endpoint-security---app-and-browser-isolation-–-[Bundle].xml 8:15 unknown-policy",
        "endpoint-security---app-and-browser-isolation-–-[Bundle].xml 20:15 unknown-policy",
        "endpoint-security---app-and-browser-isolation-–-[Bundle].xml 32:15 unknown-policy",
        "endpoint-security---app-and-browser-isolation-–-[Bundle].xml 44:15 unknown-policy",
        "install-Okta-attestation-certificate---[Bundle].xml 6:15 atomic-required",
        "install_orbit.xml 5:12 atomic-required",
        "okta-attestation-cert.xml 6:19 atomic-required",
        "secureboot-update.xml 7:15 unknown-policy",
        "windows-device-scep.xml 5:17 atomic-required",
        "windows-user-scep.xml 5:17 atomic-required",
    ];
    assert_eq!(got, want);
}

#[test]
fn pinned_messages_say_why() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/profiles");
    let f = lint(
        catalog(),
        &std::fs::read(dir.join("Windows-Update-operations-–-[Bundle].xml")).unwrap(),
        &LintOptions::default(),
    );
    assert_eq!(
        f[0].message,
        "Meta Format int but ./Device/Vendor/MSFT/Policy/Config/Update/TargetReleaseVersion has DFFormat chr"
    );
    let f = lint(
        catalog(),
        &std::fs::read(dir.join("disable-diagnostic-data---[CommercialId].xml")).unwrap(),
        &LintOptions::default(),
    );
    assert!(
        f[0].message.contains("found <Disabled>"),
        "{}",
        f[0].message
    );
    // Wrong path: the linter says where a node of that name lives.
    let f = lint(
        catalog(),
        &std::fs::read(dir.join("endpoint-security---app-and-browser-isolation-–-[Bundle].xml"))
            .unwrap(),
        &LintOptions::default(),
    );
    assert!(
        f[0].message.ends_with(
            "a node of that name exists at ./Device/Vendor/MSFT/WindowsDefenderApplicationGuard/Settings/AllowPersistence"
        ),
        "{}",
        f[0].message
    );
    let f = lint(
        catalog(),
        &std::fs::read(dir.join("CIS-18.10.9.1.1---enhanced-anti-spoofing-–-[FacialFeaturesUseEnhancedAntiSpoofing].xml"))
            .unwrap(),
        &LintOptions::default(),
    );
    assert!(
        f[0].message.ends_with(
            "a node of that name exists at ./Device/Vendor/MSFT/PassportForWork/Biometrics/FacialFeaturesUseEnhancedAntiSpoofing"
        ),
        "{}",
        f[0].message
    );
}

const NODE: &str = "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart";

fn replace(uri: &str, format: &str, data: &str) -> String {
    format!(
        "<Replace><CmdID>1</CmdID><Item><Meta><Format xmlns=\"syncml:metinf\">{format}</Format></Meta>\
         <Target><LocURI>{uri}</LocURI></Target><Data>{data}</Data></Item></Replace>"
    )
}

#[test]
fn clean_profile_has_no_findings() {
    assert!(run(&replace(NODE, "int", "8")).is_empty());
}

#[test]
fn decode_error_has_position() {
    let f = run("<Replace>\n  <Item>\n</Replace>");
    assert_eq!(rules(&f), [(Severity::Error, Rule::Decode)]);
    assert_eq!(f[0].line, 3);
}

#[test]
fn unknown_node_with_position_and_hint() {
    let p = format!(
        "<Atomic>\n{}</Atomic>",
        replace(
            "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStrat",
            "int",
            "8"
        )
    );
    let f = run(&p);
    assert_eq!(rules(&f), [(Severity::Error, Rule::UnknownNode)]);
    assert_eq!((f[0].line, f[0].column), (2, 103)); // where the LocURI text starts
    assert!(
        f[0].message
            .ends_with("did you mean ./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart?"),
        "{}",
        f[0].message
    );
}

#[test]
fn malformed_locuri() {
    let f = run(&replace(
        "./Device /Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
        "int",
        "8",
    ));
    assert_eq!(rules(&f), [(Severity::Error, Rule::BadLocUri)]);
    assert!(
        f[0].message
            .ends_with("character ' ' must be percent-encoded"),
        "{}",
        f[0].message
    );
}

#[test]
fn result_of_a_known_policy_is_not_unknown() {
    let get = |uri: &str| {
        format!("<Get><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target></Item></Get>")
    };
    assert!(
        run(&get(
            "./Vendor/MSFT/Policy/Result/Update/ActiveHoursStart?list=StructData"
        ))
        .is_empty()
    );
    let f = run(&get("./Vendor/MSFT/Policy/Result/Update/NoSuchPolicy"));
    assert_eq!(rules(&f), [(Severity::Warning, Rule::UnknownPolicy)]);
}

#[test]
fn device_reports_with_source_only_are_not_commands() {
    let p = "<Replace><CmdID>1</CmdID><Item><Source><LocURI>./DevInfo/DevId</LocURI></Source><Data>x</Data></Item></Replace>";
    assert!(run(p).is_empty());
}

#[test]
fn positions_follow_targets_even_with_escaped_locuris() {
    let p = format!(
        "{}\n{}",
        replace(
            "./Device/Vendor/MSFT/Policy/Config/Update/A&amp;B",
            "int",
            "1"
        ),
        replace(
            "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStrat",
            "int",
            "8"
        )
    );
    let f = run(&p);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!((f[0].line, f[0].column), (1, 103));
    assert_eq!((f[1].line, f[1].column), (2, 103));
    assert_eq!(
        f[1].locuri.as_deref(),
        Some("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStrat")
    );
}

#[test]
fn no_target() {
    let f = run("<Replace><CmdID>1</CmdID><Item><Data>1</Data></Item></Replace>");
    assert_eq!(rules(&f), [(Severity::Error, Rule::NoTarget)]);
}

#[test]
fn case_mismatch_is_a_warning() {
    let f = run(&replace(&NODE.to_lowercase(), "int", "8"));
    assert_eq!(rules(&f), [(Severity::Warning, Rule::CaseMismatch)]);
}

#[test]
fn access_type() {
    // Provider/{ProviderID} is Add/Delete/Get: Replace is refused, with a hint.
    let f = run(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/DMClient/Provider/X</LocURI></Target></Item></Replace>",
    );
    assert_eq!(rules(&f), [(Severity::Error, Rule::AccessDenied)]);
    assert!(f[0].message.ends_with("(use Add)"), "{}", f[0].message);
    let f = run(&format!(
        "<Exec><CmdID>1</CmdID><Item><Target><LocURI>{NODE}</LocURI></Target></Item></Exec>"
    ));
    assert_eq!(rules(&f), [(Severity::Error, Rule::AccessDenied)]);
    let f = run(&format!(
        "<Delete><CmdID>1</CmdID><Item><Target><LocURI>{NODE}</LocURI></Target></Item></Delete>"
    ));
    assert!(f.is_empty());
}

#[test]
fn meta_format() {
    assert_eq!(
        rules(&run(&replace(NODE, "chr", "8"))),
        [(Severity::Error, Rule::FormatMismatch)]
    );
    let p = format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{NODE}</LocURI></Target><Data>8</Data></Item></Replace>"
    );
    assert_eq!(rules(&run(&p)), [(Severity::Warning, Rule::FormatMissing)]);
}

#[test]
fn values_by_format() {
    assert_eq!(
        rules(&run(&replace(NODE, "int", "eight"))),
        [(Severity::Error, Rule::BadValue)]
    );
    let b = "./Device/Vendor/MSFT/DMClient/Provider/P/FirstSyncStatus/AllowCollectLogsButton";
    assert_eq!(
        rules(&run(&replace(b, "bool", "yes"))),
        [(Severity::Error, Rule::BadValue)]
    );
    assert!(run(&replace(b, "bool", "true")).is_empty());
    let c = "./Device/Vendor/MSFT/RootCATrustedCertificates/Root/abc/EncodedCertificate";
    assert_eq!(
        rules(&run(&replace(c, "b64", "not base64!"))),
        [(Severity::Error, Rule::BadValue)]
    );
    assert!(run(&replace(c, "b64", "TUlJQg==")).is_empty());
    let x = "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/p/DownloadInstall";
    let atomic = |p: String| format!("<Atomic><CmdID>9</CmdID>{p}</Atomic>");
    assert_eq!(
        rules(&run(&atomic(replace(x, "xml", "&lt;MsiInstallJob&gt;")))),
        [(Severity::Error, Rule::BadValue)]
    );
    assert!(
        run(&atomic(replace(
            x,
            "xml",
            "&lt;MsiInstallJob id=\"x\"/&gt;"
        )))
        .is_empty()
    );
    // XSD-described chr node: the value must at least be well-formed XML.
    let v = "./Device/Vendor/MSFT/VPNv2/p/ProfileXML";
    assert_eq!(
        rules(&run(&atomic(replace(v, "chr", "&lt;VPNProfile&gt;")))),
        [(Severity::Error, Rule::BadValue)]
    );
}

#[test]
fn allowed_values() {
    assert_eq!(
        rules(&run(&replace(NODE, "int", "24"))),
        [(Severity::Error, Rule::NotAllowed)]
    );
    let e = "./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring";
    let f = run(&replace(e, "int", "2"));
    assert_eq!(rules(&f), [(Severity::Error, Rule::NotAllowed)]);
    assert!(
        f[0].message.starts_with("\"2\" is not one of 0, 1"),
        "{}",
        f[0].message
    );
    let fl = "./Device/Vendor/MSFT/DMClient/Provider/P/FirstSyncStatus/BlockInStatusPage";
    assert!(run(&replace(fl, "int", "5")).is_empty());
    assert_eq!(
        rules(&run(&replace(fl, "int", "8"))),
        [(Severity::Error, Rule::NotAllowed)]
    );
}

#[test]
fn admx_values_and_unescaped_markup() {
    let a = "./Device/Vendor/MSFT/Policy/Config/ADMX_AppCompat/AppCompatTurnOffProgramCompatibilityAssistant_2";
    assert!(run(&replace(a, "chr", "&lt;enabled/&gt;")).is_empty());
    assert!(run(&replace(a, "chr", "<![CDATA[<disabled/>]]>")).is_empty());
    assert_eq!(
        rules(&run(&replace(a, "chr", "&lt;enable/&gt;"))),
        [(Severity::Error, Rule::BadAdmx)]
    );
    // Fleet issue #16316: raw markup in Data left profiles pending forever.
    let f = run(&replace(a, "chr", "<enabled/>"));
    assert_eq!(rules(&f), [(Severity::Error, Rule::UnescapedMarkup)]);
}

#[test]
fn atomic_required() {
    let add = "<Add><CmdID>2</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/c1</LocURI></Target>\
               <Meta><Format xmlns=\"syncml:metinf\">node</Format></Meta></Item></Add>";
    assert_eq!(rules(&run(add)), [(Severity::Error, Rule::AtomicRequired)]);
    assert!(run(&format!("<Atomic><CmdID>1</CmdID>{add}</Atomic>")).is_empty());
    // Children count too ("this node and all children nodes"), reported once per instance.
    let child = |n: &str| {
        format!(
            "<Add><CmdID>3</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/c1/Install/{n}</LocURI></Target>\
             <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>3</Data></Item></Add>"
        )
    };
    let f = run(&format!("{}{}", child("RetryCount"), child("RetryDelay")));
    assert_eq!(rules(&f), [(Severity::Warning, Rule::AtomicRequired)]);
    assert!(
        f[0].message.contains("(and its children)"),
        "{}",
        f[0].message
    );
}

#[test]
fn applicability_with_build_and_edition() {
    let p = replace(NODE, "int", "8");
    let old = LintOptions::default().with_os_build("10.0.10586");
    assert_eq!(
        rules(&lint(catalog(), p.as_bytes(), &old)),
        [(Severity::Error, Rule::OsBuild)]
    );
    let home = LintOptions::default()
        .with_os_build("10.0.19045")
        .with_edition(0x65);
    let f = lint(catalog(), p.as_bytes(), &home);
    assert_eq!(rules(&f), [(Severity::Error, Rule::Edition)], "{f:?}");
    let pro = LintOptions::default()
        .with_os_build("10.0.19045")
        .with_edition(0x30);
    assert!(lint(catalog(), p.as_bytes(), &pro).is_empty());
}

#[test]
fn whole_syncml_messages_are_linted() {
    let msg = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
         <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>d</LocURI></Target><Source><LocURI>s</LocURI></Source>\
         </SyncHdr><SyncBody>{}<Final/></SyncBody></SyncML>",
        replace(NODE, "int", "99")
    );
    assert_eq!(rules(&run(&msg)), [(Severity::Error, Rule::NotAllowed)]);
}

#[test]
fn regex_allowed_values() {
    // DMClient SyncApplicationVersion: `^(\d\.)?(\d)$`.
    let n = "./Device/Vendor/MSFT/DMClient/Provider/P/SyncApplicationVersion";
    assert!(run(&replace(n, "chr", "5.0")).is_empty());
    let f = run(&replace(n, "chr", "5.0.1"));
    assert_eq!(rules(&f), [(Severity::Error, Rule::NotAllowed)]);
    assert!(
        f[0].message.contains("does not match the pattern"),
        "{}",
        f[0].message
    );
}

#[test]
fn an_empty_catalog_is_an_error_not_a_flood_of_unknown_nodes() {
    use winmdm_csp::LintError;
    let profile = br#"<Replace><CmdID>1</CmdID><Item><Target>
        <LocURI>./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart</LocURI></Target>
        <Meta><Format xmlns="syncml:metinf">int</Format></Meta><Data>9</Data></Item></Replace>"#;
    let empty = Catalog::new();
    assert!(empty.is_empty());
    let err = winmdm_csp::lint_profile(&empty, profile, &LintOptions::default()).unwrap_err();
    assert_eq!(err, LintError::EmptyCatalog);
    let msg = err.to_string();
    assert!(
        msg.contains("features") && msg.contains("Catalog::add_ddf"),
        "{msg}"
    );
    // Input that is not even SyncML: still the catalog error, checked first.
    assert_eq!(
        winmdm_csp::lint_profile(&empty, b"not xml", &LintOptions::default()),
        Err(LintError::EmptyCatalog)
    );

    // A DDF without nodes leaves the catalog empty.
    let mut no_nodes = Catalog::new();
    let tree =
        winmdm_csp::winmdm_ddf::parse(br#"<MgmtTree><VerDTD>1.2</VerDTD></MgmtTree>"#).unwrap();
    assert!(no_nodes.add_ddf(&tree, "empty.xml").is_empty());
    assert_eq!(no_nodes.tables().len(), 1);
    assert!(no_nodes.is_empty());
    assert_eq!(
        winmdm_csp::lint_profile(&no_nodes, profile, &LintOptions::default()),
        Err(LintError::EmptyCatalog)
    );

    // One DDF added (through the re-exported parser): the profile is linted.
    let mut one = Catalog::new();
    let ddf = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf/policy-areas/Update_AreaDDF.xml"),
    )
    .unwrap();
    let tree: winmdm_csp::MgmtTree = winmdm_csp::winmdm_ddf::parse(&ddf).unwrap();
    assert!(one.add_ddf(&tree, "Update_AreaDDF.xml").is_empty());
    assert!(!one.is_empty());
    assert_eq!(
        winmdm_csp::lint_profile(&one, profile, &LintOptions::default()),
        Ok(vec![])
    );
    let bad = String::from_utf8_lossy(profile).replace("<Data>9<", "<Data>24<");
    let f = lint(&one, bad.as_bytes(), &LintOptions::default());
    assert_eq!(rules(&f), [(Severity::Error, Rule::NotAllowed)]);
}
