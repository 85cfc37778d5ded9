//! The server's TLS key: a fresh data directory gets an ECDSA P-256 key with a
//! certificate from the (RSA) device CA; a data directory made with an RSA TLS key keeps
//! it; `--tls-cert/--tls-key` of either type is served as given.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Request, Server, free_port, https, tempdir, tls_connect};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use winmdm_enroll::pki::const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1};
use winmdm_enroll::pki::der::{Decode, Encode};
use winmdm_enroll::pki::x509_cert::Certificate;
use winmdm_enroll::pki::{CertificateAuthority, IssueOptions, RsaSigner, Signer, Subject};

/// The certificates of a PEM chain, DER.
fn chain(pem: &str) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap().to_vec())
        .collect()
}

/// The certificate chain the server at `port` presents in a TLS handshake that checks it
/// against `ca_pem` for the name `localhost`.
async fn presented(port: u16, ca_pem: &str) -> Vec<Vec<u8>> {
    let tls = tls_connect(port, ca_pem)
        .await
        .expect("TLS handshake checked against the device CA");
    tls.get_ref()
        .1
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| c.to_vec())
        .collect()
}

/// The leaf's public key algorithm and its parameters (DER), if any.
fn key_algorithm(leaf_der: &[u8]) -> (String, Option<Vec<u8>>) {
    let cert = Certificate::from_der(leaf_der).unwrap();
    let alg = &cert.tbs_certificate().subject_public_key_info().algorithm;
    (
        alg.oid.to_string(),
        alg.parameters.as_ref().map(|p| p.to_der().unwrap()),
    )
}

/// The discovery probe answers over HTTPS checked against `ca_pem`.
async fn probe_ok(server: &Server, ca_pem: &str) {
    let (status, _) = https(&Request::new("GET", &server.discovery_url(), ca_pem))
        .await
        .expect("HTTPS to the server");
    assert_eq!(status, 200);
}

/// An RSA-2048 TLS key and a certificate for localhost and 127.0.0.1 from the data
/// directory's CA, as servers before the ECDSA key made them: (chain PEM, key PEM).
fn rsa_tls_files(dir: &Path) -> (String, String) {
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let ca_key = std::fs::read_to_string(dir.join("ca.key")).unwrap();
    let ca = CertificateAuthority::from_pem(&ca_pem, &ca_key).unwrap();
    let mut rng = rand::rng();
    // openssl makes the key (the rsa crate takes long in a debug build).
    let key_path = dir.join("rsa-tls.key");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key_path)
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "{out:?}");
    let key = RsaSigner::from_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    let cert = ca
        .issue_tls_server(
            &key.public_key_der().unwrap(),
            &Subject::try_from("CN=localhost").unwrap(),
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &IssueOptions::default(),
            SystemTime::now(),
            &mut rng,
        )
        .unwrap();
    (
        format!("{}{}", cert.to_pem(), ca.certificate_pem()),
        key.private_key_pem().unwrap(),
    )
}

/// A new ECDSA P-256 key with a certificate from the data directory's CA: (chain PEM,
/// key PEM).
fn ec_tls_files(dir: &Path) -> (String, String) {
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let ca_key = std::fs::read_to_string(dir.join("ca.key")).unwrap();
    let ca = CertificateAuthority::from_pem(&ca_pem, &ca_key).unwrap();
    let (key_pem, spki) = winmdm_reference_server::setup::generate_tls_key().unwrap();
    let cert = ca
        .issue_tls_server(
            &spki,
            &Subject::try_from("CN=localhost").unwrap(),
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &IssueOptions::default(),
            SystemTime::now(),
            &mut rand::rng(),
        )
        .unwrap();
    (
        format!("{}{}", cert.to_pem(), ca.certificate_pem()),
        key_pem,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_data_directory_gets_an_ecdsa_p256_tls_key_from_the_rsa_device_ca() {
    let dir = tempdir();
    let server = Server::start(dir.path(), free_port(), &[]);
    let ca_pem = server.ca_pem();
    let tls_pem = std::fs::read_to_string(dir.path().join("tls.pem")).unwrap();
    let files = chain(&tls_pem);
    // The handshake (checked against ca.pem) presents tls.pem: leaf, then the CA.
    assert_eq!(presented(server.port, &ca_pem).await, files);
    assert_eq!(files[1], chain(&ca_pem)[0]);
    let (alg, params) = key_algorithm(&files[0]);
    assert_eq!(alg, ID_EC_PUBLIC_KEY.to_string());
    assert_eq!(params, Some(SECP_256_R_1.to_der().unwrap()));
    // The device CA stays RSA and signed the leaf.
    assert_eq!(key_algorithm(&files[1]).0, RSA_ENCRYPTION.to_string());
    let ca_key = std::fs::read_to_string(dir.path().join("ca.key")).unwrap();
    let ca = CertificateAuthority::from_pem(&ca_pem, &ca_key).unwrap();
    assert!(ca.issued(&Certificate::from_der(&files[0]).unwrap()));
    // tls.key is the PKCS#8 key of that certificate: ring signs with it, and the
    // signature verifies with the certificate's public key.
    let key_pem = std::fs::read_to_string(dir.path().join("tls.key")).unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    assert!(matches!(key, PrivateKeyDer::Pkcs8(_)));
    let signing = rustls::crypto::ring::sign::any_ecdsa_type(&key).unwrap();
    let signer = signing
        .choose_scheme(&[rustls::SignatureScheme::ECDSA_NISTP256_SHA256])
        .unwrap();
    let signature = signer.sign(b"winmdm").unwrap();
    let leaf = Certificate::from_der(&files[0]).unwrap();
    let point = leaf
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
        .to_vec();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
        .verify(b"winmdm", &signature)
        .expect("tls.key is the certificate's key");
    probe_ok(&server, &ca_pem).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_directory_with_an_rsa_tls_key_keeps_it_after_a_restart() {
    let dir = tempdir();
    let port = free_port();
    let mut server = Server::start(dir.path(), port, &[]);
    server.terminate();
    drop(server);
    // The data directory of an older server: an RSA TLS key.
    let (rsa_pem, rsa_key) = rsa_tls_files(dir.path());
    std::fs::write(dir.path().join("tls.pem"), &rsa_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &rsa_key).unwrap();
    let server = Server::start(dir.path(), port, &[]);
    let ca_pem = server.ca_pem();
    let shown = presented(port, &ca_pem).await;
    assert_eq!(shown, chain(&rsa_pem));
    assert_eq!(key_algorithm(&shown[0]).0, RSA_ENCRYPTION.to_string());
    // Nothing rewritten.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tls.key")).unwrap(),
        rsa_key
    );
    probe_ok(&server, &ca_pem).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_certificate_and_key_given_by_flags_are_served_rsa_or_ecdsa() {
    let dir = tempdir();
    let port = free_port();
    let mut server = Server::start(dir.path(), port, &[]);
    server.terminate();
    drop(server);
    let own = tempdir();
    for (name, (cert_pem, key_pem), alg) in [
        ("rsa", rsa_tls_files(dir.path()), RSA_ENCRYPTION),
        ("ec", ec_tls_files(dir.path()), ID_EC_PUBLIC_KEY),
    ] {
        let cert_path = own.path().join(format!("{name}.pem"));
        let key_path = own.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, &key_pem).unwrap();
        let mut server = Server::start(
            dir.path(),
            port,
            &[
                "--tls-cert",
                cert_path.to_str().unwrap(),
                "--tls-key",
                key_path.to_str().unwrap(),
            ],
        );
        let ca_pem = server.ca_pem();
        let shown = presented(port, &ca_pem).await;
        assert_eq!(shown, chain(&cert_pem), "{name}");
        assert_eq!(key_algorithm(&shown[0]).0, alg.to_string(), "{name}");
        probe_ok(&server, &ca_pem).await;
        server.terminate();
        // The port is free again before the next start.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
