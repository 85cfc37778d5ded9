//! Helpers shared by the integration tests: running the `openssl` CLI on certificates.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh temporary directory for one openssl run.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "winmdm-pki-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `openssl` with `args`: success and stdout + stderr.
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.to_string_lossy().into_owned()
}

/// `openssl verify -x509_strict -purpose sslclient -attime <at>` of `cert_pem` against `ca_pem`.
pub fn verify_sslclient(ca_pem: &str, cert_pem: &str, at: u64) -> (bool, String) {
    let dir = temp_dir("verify");
    let ca = write(&dir, "ca.pem", ca_pem);
    let cert = write(&dir, "cert.pem", cert_pem);
    let at = at.to_string();
    let r = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-attime",
        &at,
        "-CAfile",
        &ca,
        &cert,
    ]);
    let _ = std::fs::remove_dir_all(dir);
    r
}

/// `openssl x509 -noout -text` of `cert_pem`.
pub fn x509_text(cert_pem: &str) -> String {
    let dir = temp_dir("text");
    let cert = write(&dir, "cert.pem", cert_pem);
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", &cert]);
    let _ = std::fs::remove_dir_all(dir);
    assert!(ok, "{text}");
    text
}

/// PEM (`CERTIFICATE`) of a DER certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
