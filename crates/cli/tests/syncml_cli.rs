//! `winmdm syncml ...` end to end: the real binary on real captures.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_winmdm"))
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../syncml/tests/data")
        .join(rel)
}

#[test]
fn check_accepts_real_captures_and_fragments() {
    let out = bin()
        .args(["syncml", "check"])
        .arg(data("fleet/real/07-device-syncml-session1.xml"))
        .arg(data("fleet/real/08-server-syncml-session1.xml"))
        .arg(data("published/wifi-csp_04_atomic-add-wlanxml-escaped.xml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("07-device-syncml-session1.xml: ok: SyncML message, 3 command(s), Final")
    );
    assert!(stdout.contains("command fragment, 1 command(s)"));
}

#[test]
fn check_fails_with_a_positioned_error() {
    let out = bin()
        .args(["syncml", "check"])
        .arg(data("fleet/real/07-device-syncml-session1.xml"))
        .arg(data(
            "published/enterprise-app-management_08_exec-addlicense.xml",
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("enterprise-app-management_08_exec-addlicense.xml:10:46: error: malformed XML: end tag </Data> does not match the open <License> (at Exec/Item/Data/License)"),
        "{stderr}"
    );
}

#[test]
fn check_strict_reports_quirks_as_errors() {
    let sample = data("published/clientcertificateinstall-csp_02_pfx-delete-atomic.xml");
    let lenient = bin()
        .args(["syncml", "check"])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(lenient.status.success());
    assert!(String::from_utf8_lossy(&lenient.stdout).contains("quirks: MissingNamespace"));
    let strict = bin()
        .args(["syncml", "check", "--strict"])
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("MissingNamespace"));
}

#[test]
fn fmt_output_decodes_to_the_same_message() {
    let src = data("fleet/real/07-device-syncml-session1.xml");
    let out = bin().args(["syncml", "fmt"]).arg(&src).output().unwrap();
    assert!(out.status.success());
    let original = std::fs::read(&src).unwrap();
    assert_eq!(
        winmdm_syncml::decode(&out.stdout).unwrap(),
        winmdm_syncml::decode(&original).unwrap()
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\n    <VerDTD>1.2</VerDTD>"),
        "indented: {text}"
    );
}

#[test]
fn json_shows_the_decoded_message() {
    let out = bin()
        .args(["syncml", "json"])
        .arg(data("fleet/real/07-device-syncml-session1.xml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hdr"]["session_id"], "1");
    assert_eq!(
        v["body"]["commands"][0]["Alert"]["data"]["content"]["value"],
        "1201"
    );
    assert_eq!(v["body"]["final"], true);
}
