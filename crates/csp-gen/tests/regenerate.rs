//! CI check: regenerating from the vendored DDF files gives exactly the committed
//! `crates/csp/src/generated/` tree and `[features]` block. Fix with
//! `cargo run -p winmdm-csp-gen`.

use std::path::PathBuf;

#[test]
fn committed_generated_code_is_up_to_date() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = winmdm_csp_gen::generate(&root.join("crates/csp/ddf")).expect("generate");
    // Write to a temporary tree too, so the check also covers `write` + `check` agreeing.
    let tmp = std::env::temp_dir().join(format!("winmdm-csp-gen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("crates/csp")).unwrap();
    std::fs::copy(
        root.join("crates/csp/Cargo.toml"),
        tmp.join("crates/csp/Cargo.toml"),
    )
    .unwrap();
    winmdm_csp_gen::write(&tmp, &out).unwrap();
    assert!(winmdm_csp_gen::check(&tmp, &out).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&tmp);

    let diffs = winmdm_csp_gen::check(&root, &out).unwrap();
    assert!(
        diffs.is_empty(),
        "generated code is stale, run `cargo run -p winmdm-csp-gen`:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn every_file_has_the_generated_header_and_the_features_cover_every_module() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = winmdm_csp_gen::generate(&root.join("crates/csp/ddf")).unwrap();
    // 51 CSP modules + 259 policy areas + 2 mod.rs files.
    assert_eq!(out.files.len(), 51 + 259 + 2);
    for (path, content) in &out.files {
        assert!(content.starts_with("// @generated"), "{}", path.display());
    }
    for f in [
        "dmclient = []",
        "policy = []",
        "policy-areas = []",
        "policy-admx = []",
        "vpnv2 = []",
    ] {
        assert!(out.features.contains(f), "{f}");
    }
}

#[test]
fn names() {
    use winmdm_csp_gen::{camel, snake};
    assert_eq!(snake("ActiveHoursStart"), "active_hours_start");
    assert_eq!(snake("EntDMID"), "ent_dmid");
    assert_eq!(snake("Type"), "type_");
    assert_eq!(snake("802.1X"), "n_802_1_x");
    assert_eq!(camel("ProviderID"), "ProviderId");
    assert_eq!(camel("self"), "Self_");
}

#[test]
fn the_default_features_are_the_daily_csps_and_come_from_the_generator() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = winmdm_csp_gen::generate(&root.join("crates/csp/ddf")).unwrap();
    let defaults = winmdm_csp_gen::DEFAULT_FEATURES;
    // The CSPs of issue 9, part 9: the Policy CSP and its native areas, and the CSPs a
    // Windows MDM uses daily; not the ADMX-backed areas.
    for f in [
        "policy",
        "policy-areas",
        "devdetail",
        "devinfo",
        "dmclient",
        "clientcertificateinstall",
        "rootcatrustedcertificates",
        "bitlocker",
        "defender",
        "firewall",
        "update",
        "wifi",
        "vpnv2",
        "reboot",
        "remotewipe",
        "enterprisedesktopappmanagement",
        "laps",
    ] {
        assert!(defaults.contains(&f), "{f}");
    }
    assert!(!defaults.contains(&"policy-admx"));
    // Each is a generated (empty) feature, and the manifest's default line lists them.
    for f in defaults {
        assert!(out.features.contains(&format!("\n{f} = []\n")), "{f}");
    }
    let line = out
        .features
        .lines()
        .find(|l| l.starts_with("default = "))
        .unwrap();
    let listed: Vec<String> = defaults.iter().map(|f| format!("{f:?}")).collect();
    assert_eq!(line, format!("default = [{}]", listed.join(", ")));
}
