//! Issuing device certificates: checked by `openssl verify -purpose sslclient` and
//! `openssl x509 -text` on the certificates this crate produces for real Windows CSRs.

use std::time::{Duration, SystemTime};

mod common;
use common::{openssl, temp_dir, verify_sslclient, write, x509_text};

use winmdm_enroll::pki::{
    CaError, CertificateAuthority, Csr, CsrPolicy, IssueError, IssueOptions, MAX_BACKDATE,
    RsaSigner, SignError, Signer, Subject, Thumbprint,
};

const WIN10_19045: &[u8] = include_bytes!("data/pki/win10-19045-device-rst.csr.der");
const WIN10_19043: &[u8] = include_bytes!("data/pki/win10-19043-device-rst.csr.der");
const MDMTEST: &[u8] = include_bytes!("data/pki/mdmtest-windows.csr.der");
const ROOT_19043: &[u8] = include_bytes!("data/pki/win10-19043-provisioningdoc.root-cert.der");
const CLIENT_19043: &[u8] = include_bytes!("data/pki/win10-19043-provisioningdoc.client-cert.der");

/// 2027-01-15T08:00:00Z: a fixed issuing time; openssl checks at the same time (-attime).
const NOW_UNIX: u64 = 1_800_000_000;
const DAY: Duration = Duration::from_secs(24 * 3600);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

fn dev_ca() -> CertificateAuthority {
    CertificateAuthority::generate_dev(
        &Subject::try_from("CN=winmdm test CA,O=winmdm").unwrap(),
        2048,
        now() - DAY,
        3650 * DAY,
        &mut rand::rng(),
    )
    .expect("dev CA")
}

#[test]
fn issued_for_real_csrs_pass_openssl_verify_sslclient() {
    let ca = dev_ca();
    for (der, device_id) in [
        (WIN10_19045, "DB257C3A08778F4FB61E2749066C1F27"),
        (WIN10_19043, "B5B954E81FBCB94EB79BD08BE625F4EE"),
        (MDMTEST, "8090C8B484A0E24EB5C56E806CB4EE5B"),
    ] {
        let csr = Csr::from_der(der, &CsrPolicy::default()).unwrap();
        assert_eq!(csr.device_id(), Some(device_id));
        let subject = Subject::try_from(format!("CN={device_id}").as_str()).unwrap();
        let cert = ca
            .issue(
                &csr,
                &subject,
                &IssueOptions::default(),
                now(),
                &mut rand::rng(),
            )
            .unwrap();
        let (ok, out) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX);
        assert!(ok && out.contains("OK"), "openssl verify failed: {out}");
        assert!(ca.issued(cert.certificate()));

        let text = x509_text(&cert.to_pem());
        assert!(text.contains("Version: 3 (0x2)"), "{text}");
        assert!(
            text.contains("Signature Algorithm: sha256WithRSAEncryption"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Subject: CN = {device_id}\n")),
            "{text}"
        );
        assert!(
            text.contains("Issuer: O = winmdm, CN = winmdm test CA"),
            "{text}"
        );
        assert!(
            text.contains(
                "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"),
            "{text}"
        );
        assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        // The CSR's subject (with `!` and NUL) is never copied.
        assert!(!text.contains('!'), "{text}");
        // Same public key as the CSR.
        assert_eq!(
            der::Encode::to_der(
                cert.certificate()
                    .tbs_certificate()
                    .subject_public_key_info()
            )
            .unwrap(),
            csr.public_key_der()
        );
    }
}

#[test]
fn validity_backdated_minutes_not_months_and_configurable() {
    let ca = dev_ca();
    let csr = Csr::from_der(MDMTEST, &CsrPolicy::default()).unwrap();
    let subject = Subject::try_from("CN=device").unwrap();
    let mut opts = IssueOptions::default();
    opts.validity = 90 * DAY;
    let cert = ca
        .issue(&csr, &subject, &opts, now(), &mut rand::rng())
        .unwrap();
    let v = cert.certificate().tbs_certificate().validity();
    assert_eq!(
        v.not_before.to_system_time(),
        now() - Duration::from_secs(300)
    );
    assert_eq!(v.not_after.to_system_time(), now() + 90 * DAY);
    // Checked by openssl at the edges: 4 minutes before `now` valid, 6 minutes before not.
    let (ok, out) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX - 240);
    assert!(ok, "{out}");
    let (ok, out) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX - 360);
    assert!(!ok && out.contains("not yet valid"), "{out}");
    let (ok, _) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX + 91 * 86400);
    assert!(!ok);

    // Clamped to the CA's own notAfter.
    opts.validity = 20 * 3650 * DAY;
    let cert = ca
        .issue(&csr, &subject, &opts, now(), &mut rand::rng())
        .unwrap();
    assert_eq!(
        cert.certificate().tbs_certificate().validity().not_after,
        ca.certificate().tbs_certificate().validity().not_after
    );

    let mut opts = IssueOptions::default();
    opts.backdate = MAX_BACKDATE + Duration::from_secs(1);
    assert!(matches!(
        ca.issue(&csr, &subject, &opts, now(), &mut rand::rng()),
        Err(IssueError::InvalidOptions(_))
    ));
    let mut opts = IssueOptions::default();
    opts.validity = Duration::ZERO;
    assert!(matches!(
        ca.issue(&csr, &subject, &opts, now(), &mut rand::rng()),
        Err(IssueError::InvalidOptions(_))
    ));
    // Outside the CA's validity.
    assert_eq!(
        ca.issue(
            &csr,
            &subject,
            &IssueOptions::default(),
            now() - 2 * DAY,
            &mut rand::rng()
        ),
        Err(IssueError::CaNotValid)
    );
}

#[test]
fn serial_numbers_random_positive_at_least_64_bits() {
    let ca = dev_ca();
    let csr = Csr::from_der(MDMTEST, &CsrPolicy::default()).unwrap();
    let subject = Subject::try_from("CN=device").unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let cert = ca
            .issue(
                &csr,
                &subject,
                &IssueOptions::default(),
                now(),
                &mut rand::rng(),
            )
            .unwrap();
        let serial = cert
            .certificate()
            .tbs_certificate()
            .serial_number()
            .as_bytes()
            .to_vec();
        assert_eq!(serial.len(), 16);
        assert!(serial[0] & 0x80 == 0 && serial[0] != 0);
        assert_eq!(cert.serial_hex().len(), 32);
        assert!(seen.insert(serial));
    }
}

#[test]
fn thumbprints_are_uppercase_sha1_hex() {
    assert_eq!(
        Thumbprint::of(ROOT_19043).to_string(),
        "D9A88E04AF18A4D399CEE62F2C71469C3AE1E675"
    );
    assert_eq!(
        Thumbprint::of(CLIENT_19043).to_string(),
        "8F2EBD13F3612D7C48C30E24CC73A88492613849"
    );
    let ca = dev_ca();
    let csr = Csr::from_der(WIN10_19045, &CsrPolicy::default()).unwrap();
    let cert = ca
        .issue(
            &csr,
            &Subject::try_from("CN=x").unwrap(),
            &IssueOptions::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    let dir = temp_dir("fp");
    let p = write(&dir, "cert.pem", &cert.to_pem());
    let (ok, out) = openssl(&["x509", "-noout", "-fingerprint", "-sha1", "-in", &p]);
    let _ = std::fs::remove_dir_all(dir);
    assert!(ok);
    let expected = out.trim().rsplit('=').next().unwrap().replace(':', "");
    assert_eq!(cert.thumbprint().to_string(), expected);
    // openssl's colon form and lowercase parse back.
    let colons = out.trim().rsplit('=').next().unwrap();
    assert_eq!(colons.parse::<Thumbprint>().unwrap(), cert.thumbprint());
    assert_eq!(
        expected.to_lowercase().parse::<Thumbprint>().unwrap(),
        cert.thumbprint()
    );
    assert!("D9A8".parse::<Thumbprint>().is_err());
    assert!("Z".repeat(40).parse::<Thumbprint>().is_err());
    // One-line base64 for the provisioning document.
    let b64 = cert.to_base64();
    assert!(!b64.contains('\n') && !b64.contains('\r'));
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap(),
        cert.der()
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ca.certificate_base64())
            .unwrap(),
        ca.certificate_der()
    );
}

#[test]
fn provisioning_doc_client_cert_carries_the_csr_key() {
    // The 19043 capture: the server answered the CSR with this client certificate.
    let csr = Csr::from_der(WIN10_19043, &CsrPolicy::default()).unwrap();
    let cert: x509_cert::Certificate = der::Decode::from_der(CLIENT_19043).unwrap();
    assert_eq!(
        der::Encode::to_der(cert.tbs_certificate().subject_public_key_info()).unwrap(),
        csr.public_key_der()
    );
}

#[test]
fn ca_pem_round_trip_and_key_mismatch() {
    let ca = dev_ca();
    let key_pem = ca.private_key_pem().unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let loaded = CertificateAuthority::from_pem(&ca.certificate_pem(), &key_pem).unwrap();
    assert_eq!(loaded.thumbprint(), ca.thumbprint());
    // openssl reads the key and the certificate and agrees they belong together.
    let dir = temp_dir("ca");
    let k = write(&dir, "ca-key.pem", &key_pem);
    let c = write(&dir, "ca-cert.pem", &ca.certificate_pem());
    let (ok, key_mod) = openssl(&["rsa", "-noout", "-modulus", "-in", &k]);
    assert!(ok, "{key_mod}");
    let (ok, cert_mod) = openssl(&["x509", "-noout", "-modulus", "-in", &c]);
    assert!(ok);
    assert_eq!(key_mod, cert_mod);
    let text = x509_text(&ca.certificate_pem());
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    let (ok, out) = openssl(&[
        "verify",
        "-attime",
        &NOW_UNIX.to_string(),
        "-CAfile",
        &c,
        &c,
    ]);
    assert!(ok, "{out}");
    let _ = std::fs::remove_dir_all(dir);

    let other = RsaSigner::from_pem(&dev_ca().private_key_pem().unwrap()).unwrap();
    assert_eq!(
        CertificateAuthority::new(ca.certificate_der(), other).unwrap_err(),
        CaError::KeyMismatch
    );
    assert!(matches!(
        CertificateAuthority::from_pem("garbage", &key_pem),
        Err(CaError::Pem(_))
    ));
    assert!(matches!(
        RsaSigner::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        Err(CaError::Key(_))
    ));
}

/// A signer standing in for a KMS/HSM: it only exposes `sign`, not the key.
struct CountingKms {
    inner: RsaSigner,
    calls: std::cell::Cell<u32>,
    fail: bool,
}

impl Signer for CountingKms {
    fn signature_algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        self.inner.signature_algorithm()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.calls.set(self.calls.get() + 1);
        if self.fail {
            return Err(SignError::Backend("HSM offline".into()));
        }
        self.inner.sign(message)
    }
}

#[test]
fn custom_signer_replaces_the_in_memory_key() {
    let ca = dev_ca();
    let key = RsaSigner::from_pem(&ca.private_key_pem().unwrap()).unwrap();
    let kms = CountingKms {
        inner: key.clone(),
        calls: Default::default(),
        fail: false,
    };
    let kms_ca = CertificateAuthority::new(ca.certificate_der(), kms).unwrap();
    let csr = Csr::from_der(WIN10_19045, &CsrPolicy::default()).unwrap();
    let subject = Subject::try_from("CN=kms-issued").unwrap();
    let cert = kms_ca
        .issue(
            &csr,
            &subject,
            &IssueOptions::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    assert_eq!(kms_ca.signer().calls.get(), 1);
    let (ok, out) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX);
    assert!(ok, "{out}");

    let failing = CertificateAuthority::new(
        ca.certificate_der(),
        CountingKms {
            inner: key,
            calls: Default::default(),
            fail: true,
        },
    )
    .unwrap();
    assert_eq!(
        failing.issue(
            &csr,
            &subject,
            &IssueOptions::default(),
            now(),
            &mut rand::rng()
        ),
        Err(IssueError::Sign(SignError::Backend("HSM offline".into())))
    );
}

#[test]
fn subjects_are_validated() {
    assert!(Subject::try_from("").is_err());
    assert!(Subject::try_from("not a name").is_err());
    let s = Subject::try_from("CN=DB257C3A08778F4FB61E2749066C1F27").unwrap();
    assert_eq!(s.to_string(), "CN=DB257C3A08778F4FB61E2749066C1F27");
}

#[test]
fn tls_server_certificates_name_their_hosts_and_pass_openssl_verify_sslserver() {
    let ca = dev_ca();
    let csr = Csr::from_der(WIN10_19045, &CsrPolicy::default()).unwrap();
    let ips = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let cert = ca
        .issue_tls_server(
            csr.public_key_der(),
            &Subject::try_from("CN=localhost").unwrap(),
            &["localhost", "mdm.example.com"],
            &ips,
            &IssueOptions::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    let dir = temp_dir("tls-server");
    let ca_path = write(&dir, "ca.pem", &ca.certificate_pem());
    let cert_path = write(&dir, "server.pem", &cert.to_pem());
    let at = NOW_UNIX.to_string();
    for host in [
        ["-verify_hostname", "mdm.example.com"],
        ["-verify_ip", "127.0.0.1"],
    ] {
        let (ok, out) = openssl(&[
            "verify",
            "-purpose",
            "sslserver",
            "-attime",
            &at,
            "-CAfile",
            &ca_path,
            host[0],
            host[1],
            &cert_path,
        ]);
        assert!(ok && out.contains("OK"), "openssl verify {host:?}: {out}");
    }
    // A name it does not carry fails, and the device purpose is not granted.
    let (ok, _) = openssl(&[
        "verify",
        "-purpose",
        "sslserver",
        "-attime",
        &at,
        "-CAfile",
        &ca_path,
        "-verify_hostname",
        "other.example.com",
        &cert_path,
    ]);
    assert!(!ok);
    let (ok, _) = verify_sslclient(&ca.certificate_pem(), &cert.to_pem(), NOW_UNIX);
    assert!(
        !ok,
        "a server certificate must not be usable as a device certificate"
    );
    let text = x509_text(&cert.to_pem());
    assert!(
        text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );

    let none = ca.issue_tls_server(
        csr.public_key_der(),
        &Subject::try_from("CN=x").unwrap(),
        &[],
        &[],
        &IssueOptions::default(),
        now(),
        &mut rand::rng(),
    );
    assert!(matches!(none, Err(IssueError::InvalidOptions(_))));
}

#[test]
fn ecdsa_p256_tls_server_certificate_from_the_rsa_ca_passes_openssl_verify_sslserver() {
    let ca = dev_ca();
    let dir = temp_dir("tls-server-ec");
    let key = dir.join("ec.key").to_string_lossy().into_owned();
    let spki = dir.join("ec.spki.der").to_string_lossy().into_owned();
    let (ok, out) = openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &key,
    ]);
    assert!(ok, "openssl genpkey: {out}");
    let (ok, out) = openssl(&[
        "pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &spki,
    ]);
    assert!(ok, "openssl pkey -pubout: {out}");
    let spki = std::fs::read(&spki).unwrap();
    let cert = ca
        .issue_tls_server(
            &spki,
            &Subject::try_from("CN=localhost").unwrap(),
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &IssueOptions::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    // The certificate carries the EC key, signed by the RSA CA.
    assert_eq!(
        der::Encode::to_der(
            cert.certificate()
                .tbs_certificate()
                .subject_public_key_info()
        )
        .unwrap(),
        spki
    );
    assert!(ca.issued(cert.certificate()));
    let ca_path = write(&dir, "ca.pem", &ca.certificate_pem());
    let cert_path = write(&dir, "server.pem", &cert.to_pem());
    let at = NOW_UNIX.to_string();
    let (ok, out) = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-attime",
        &at,
        "-CAfile",
        &ca_path,
        "-verify_ip",
        "127.0.0.1",
        &cert_path,
    ]);
    assert!(ok && out.contains("OK"), "openssl verify: {out}");
    // The certificate's public key is the key's: openssl's pkey of both match.
    let (ok, from_cert) = openssl(&["x509", "-in", &cert_path, "-noout", "-pubkey"]);
    assert!(ok, "{from_cert}");
    let (ok, from_key) = openssl(&["pkey", "-in", &key, "-pubout"]);
    assert!(ok, "{from_key}");
    assert_eq!(from_cert, from_key);
    // An EC key: digitalSignature alone (RFC 5480 has no keyEncipherment for EC).
    let text = x509_text(&cert.to_pem());
    assert!(
        text.contains("id-ecPublicKey") && text.contains("Digital Signature"),
        "{text}"
    );
    assert!(!text.contains("Key Encipherment"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}
