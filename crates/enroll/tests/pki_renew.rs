//! Renewal (PKCS#7 signed by the current certificate), ROBO and recovery. The PKCS#7
//! requests are built with `openssl cms -sign`, the way a client library would.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use winmdm_enroll::pki::{
    CertificateAuthority, Csr, CsrPolicy, IssueOptions, IssuedCertificate, RenewalError,
    RenewalPolicy, Subject,
};

const DAY: Duration = Duration::from_secs(24 * 3600);
const ISSUED_UNIX: u64 = 1_800_000_000;

fn issued_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(ISSUED_UNIX)
}

fn ca(name: &str) -> CertificateAuthority {
    CertificateAuthority::generate_dev(
        &Subject::try_from(name).unwrap(),
        2048,
        issued_at() - DAY,
        3650 * DAY,
        &mut rand::rng(),
    )
    .unwrap()
}

struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "winmdm-pki-renew-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh device key (`NAME.key`) and its PKCS#10 request (`NAME.csr`, DER).
fn new_request(dir: &Dir, name: &str) -> Vec<u8> {
    let key = dir.path(&format!("{name}.key"));
    let csr = dir.path(&format!("{name}.csr"));
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-subj",
        "/CN=renewing-device",
        "-outform",
        "DER",
        "-out",
        &csr,
    ]);
    std::fs::read(csr).unwrap()
}

/// Enrolls `device`: the CA issues its current certificate (`device.pem`).
fn enroll(dir: &Dir, ca: &CertificateAuthority, validity: Duration) -> IssuedCertificate {
    let csr = Csr::from_der(&new_request(dir, "device"), &CsrPolicy::default()).unwrap();
    let mut opts = IssueOptions::default();
    opts.validity = validity;
    let cert = ca
        .issue(
            &csr,
            &Subject::try_from("CN=DB257C3A08778F4FB61E2749066C1F27").unwrap(),
            &opts,
            issued_at(),
            &mut rand::rng(),
        )
        .unwrap();
    std::fs::write(dir.path("device.pem"), cert.to_pem()).unwrap();
    cert
}

/// Signs `content` (DER file) as PKCS#7 SignedData with the device's current key.
fn sign(dir: &Dir, content: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.path("renew.p7b");
    let signer = dir.path("device.pem");
    let key = dir.path("device.key");
    let input = dir.path(content);
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        &input,
        "-signer",
        &signer,
        "-inkey",
        &key,
        "-out",
        &out,
    ];
    args.extend_from_slice(extra);
    openssl(&args);
    std::fs::read(out).unwrap()
}

fn in_window() -> SystemTime {
    issued_at() + 340 * DAY
}

#[test]
fn renewal_pkcs7_signed_by_current_certificate_is_accepted() {
    let ca = ca("CN=winmdm renew CA");
    let dir = Dir::new();
    let current = enroll(&dir, &ca, 365 * DAY);
    let new_csr = new_request(&dir, "new");
    let p7 = sign(&dir, "new.csr", &["-md", "sha256"]);
    let req = ca
        .verify_renewal(&p7, in_window(), &RenewalPolicy::default())
        .expect("renewal accepted");
    assert_eq!(req.csr.der(), new_csr.as_slice());
    assert_eq!(req.current.thumbprint(), current.thumbprint());
    assert_eq!(req.current.der(), current.der());

    // The renewed certificate is issued for the new key.
    let renewed = ca
        .issue(
            &req.csr,
            &Subject::try_from("CN=DB257C3A08778F4FB61E2749066C1F27").unwrap(),
            &IssueOptions::default(),
            in_window(),
            &mut rand::rng(),
        )
        .unwrap();
    assert_ne!(renewed.thumbprint(), current.thumbprint());

    // Variants a client may produce: SHA-1 digest, no signed attributes, SubjectKeyIdentifier
    // as signer id.
    for extra in [
        &["-md", "sha1"][..],
        &["-noattr"][..],
        &["-keyid", "-md", "sha256"][..],
        &["-md", "sha512", "-noattr"][..],
        // BER: indefinite lengths and a constructed OCTET STRING.
        &["-stream"][..],
    ] {
        let p7 = sign(&dir, "new.csr", extra);
        let r = ca.verify_renewal(&p7, in_window(), &RenewalPolicy::default());
        assert!(r.is_ok(), "{extra:?}: {r:?}");
    }
}

#[test]
fn renewal_window_and_validity_enforced() {
    let ca = ca("CN=winmdm renew CA");
    let dir = Dir::new();
    enroll(&dir, &ca, 365 * DAY);
    new_request(&dir, "new");
    let p7 = sign(&dir, "new.csr", &[]);
    let policy = RenewalPolicy::default(); // 60-day window
    // Too early: 300 days before expiry.
    assert_eq!(
        ca.verify_renewal(&p7, issued_at() + 65 * DAY, &policy),
        Err(RenewalError::NotInRenewalWindow)
    );
    // First day of the window and last second of validity.
    assert!(
        ca.verify_renewal(&p7, issued_at() + 305 * DAY, &policy)
            .is_ok()
    );
    assert!(
        ca.verify_renewal(&p7, issued_at() + 365 * DAY, &policy)
            .is_ok()
    );
    // Expired.
    assert_eq!(
        ca.verify_renewal(
            &p7,
            issued_at() + 365 * DAY + Duration::from_secs(1),
            &policy
        ),
        Err(RenewalError::CertificateNotValid)
    );
    // Wider window configured.
    let mut wide = RenewalPolicy::default();
    wide.renewal_window = 320 * DAY;
    assert!(
        ca.verify_renewal(&p7, issued_at() + 65 * DAY, &wide)
            .is_ok()
    );
}

#[test]
fn renewal_from_another_ca_or_tampered_is_rejected() {
    let ours = ca("CN=winmdm renew CA");
    let theirs = ca("CN=winmdm renew CA"); // same name, different key
    let dir = Dir::new();
    enroll(&dir, &theirs, 365 * DAY);
    new_request(&dir, "new");
    let p7 = sign(&dir, "new.csr", &[]);
    assert_eq!(
        ours.verify_renewal(&p7, in_window(), &RenewalPolicy::default()),
        Err(RenewalError::NotIssuedByUs)
    );
    assert!(
        theirs
            .verify_renewal(&p7, in_window(), &RenewalPolicy::default())
            .is_ok()
    );

    // Any flipped byte: rejected, never accepted and never a panic.
    let mut accepted = 0;
    for i in 0..p7.len() {
        let mut bad = p7.clone();
        bad[i] ^= 0x01;
        if theirs
            .verify_renewal(&bad, in_window(), &RenewalPolicy::default())
            .is_ok()
        {
            accepted += 1;
            eprintln!("byte {i} flipped yet accepted");
        }
    }
    // Even the parts outside the signature (versions, digestAlgorithms, NULL parameters)
    // are checked: nothing at all may pass.
    assert_eq!(accepted, 0);

    // Detached signature: no request inside.
    let detached = {
        let out = dir.path("detached.p7b");
        openssl(&[
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-in",
            &dir.path("new.csr"),
            "-signer",
            &dir.path("device.pem"),
            "-inkey",
            &dir.path("device.key"),
            "-out",
            &out,
        ]);
        std::fs::read(out).unwrap()
    };
    assert_eq!(
        theirs.verify_renewal(&detached, in_window(), &RenewalPolicy::default()),
        Err(RenewalError::NoContent)
    );
    // Signed content that is not a CSR.
    std::fs::write(dir.path("junk.bin"), b"not a certificate request").unwrap();
    let junk = sign(&dir, "junk.bin", &[]);
    assert!(matches!(
        theirs.verify_renewal(&junk, in_window(), &RenewalPolicy::default()),
        Err(RenewalError::Csr(_))
    ));
    // Size limit.
    let mut small = RenewalPolicy::default();
    small.max_len = 100;
    assert!(matches!(
        theirs.verify_renewal(&p7, in_window(), &small),
        Err(RenewalError::TooLarge { .. })
    ));
    // Garbage.
    assert!(matches!(
        theirs.verify_renewal(
            b"\x30\x03\x02\x01\x00",
            in_window(),
            &RenewalPolicy::default()
        ),
        Err(RenewalError::Malformed { .. })
    ));
}

#[test]
fn robo_renewal_with_tls_client_certificate() {
    let ca = ca("CN=winmdm renew CA");
    let dir = Dir::new();
    let current = enroll(&dir, &ca, 365 * DAY);
    let new_csr = new_request(&dir, "new");
    let p7 = sign(&dir, "new.csr", &[]);
    let policy = RenewalPolicy::default();
    let req = ca
        .verify_robo_renewal(current.der(), &p7, in_window(), &policy)
        .unwrap();
    assert_eq!(req.csr.der(), new_csr.as_slice());
    // Bare PKCS#10 over the authenticated TLS channel.
    let req = ca
        .verify_robo_renewal(current.der(), &new_csr, in_window(), &policy)
        .unwrap();
    assert_eq!(req.current.thumbprint(), current.thumbprint());
    // BER (streaming) PKCS#7 over ROBO.
    let ber = sign(&dir, "new.csr", &["-stream"]);
    assert!(
        ca.verify_robo_renewal(current.der(), &ber, in_window(), &policy)
            .is_ok()
    );
    // TLS certificate of another device (also ours) while the PKCS#7 is signed by this one.
    let other_dir = Dir::new();
    let other = enroll(&other_dir, &ca, 365 * DAY);
    assert_eq!(
        ca.verify_robo_renewal(other.der(), &p7, in_window(), &policy),
        Err(RenewalError::ClientCertificateMismatch)
    );
    // Expired TLS certificate: devices do not ROBO an expired certificate.
    assert_eq!(
        ca.verify_robo_renewal(current.der(), &p7, issued_at() + 400 * DAY, &policy),
        Err(RenewalError::CertificateNotValid)
    );
    // TLS certificate from another CA.
    let foreign = ca_cert_from_other_ca();
    assert_eq!(
        ca.verify_robo_renewal(&foreign, &new_csr, in_window(), &policy),
        Err(RenewalError::NotIssuedByUs)
    );
    assert!(matches!(
        ca.verify_robo_renewal(b"junk", &new_csr, in_window(), &policy),
        Err(RenewalError::Certificate(_))
    ));
}

fn ca_cert_from_other_ca() -> Vec<u8> {
    let other = ca("CN=other CA");
    let dir = Dir::new();
    enroll(&dir, &other, 365 * DAY).der().to_vec()
}

#[test]
fn recovery_accepts_expired_previous_certificate_of_ours() {
    let ca = ca("CN=winmdm renew CA");
    let dir = Dir::new();
    let current = enroll(&dir, &ca, 30 * DAY);
    let new_csr = new_request(&dir, "new");
    let p7 = sign(&dir, "new.csr", &[]);
    let policy = RenewalPolicy::default();
    // Long expired: renewal refuses, recovery accepts.
    assert_eq!(
        ca.verify_renewal(&p7, issued_at() + 400 * DAY, &policy),
        Err(RenewalError::CertificateNotValid)
    );
    let rec = ca
        .verify_recovery(&p7, Some(current.der()), &policy)
        .unwrap();
    assert_eq!(rec.csr.der(), new_csr.as_slice());
    assert_eq!(rec.previous.unwrap().thumbprint(), current.thumbprint());
    // Bare PKCS#10 with the certificate on record.
    let rec = ca
        .verify_recovery(&new_csr, Some(current.der()), &policy)
        .unwrap();
    assert!(rec.previous.is_some());
    let rec = ca.verify_recovery(&new_csr, None, &policy).unwrap();
    assert!(rec.previous.is_none());
    // Record says another certificate.
    let other_dir = Dir::new();
    let other = enroll(&other_dir, &ca, 30 * DAY);
    assert_eq!(
        ca.verify_recovery(&p7, Some(other.der()), &policy),
        Err(RenewalError::ClientCertificateMismatch)
    );
    // Previous certificate not ours.
    assert_eq!(
        ca.verify_recovery(&new_csr, Some(&ca_cert_from_other_ca()), &policy),
        Err(RenewalError::NotIssuedByUs)
    );
}

/// DER TLV with a definite length (test helper).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

/// A PKCS#7 built by hand whose signed attributes are NOT in DER SET OF order
/// (messageDigest before contentType), signed over those bytes as sent.
fn hand_built_pkcs7(dir: &Dir, cert: &IssuedCertificate, csr: &[u8], sign_sorted: bool) -> Vec<u8> {
    use der::Encode;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::Digest;
    let key_pem = std::fs::read_to_string(dir.path("device.key")).unwrap();
    let key = rsa::PrivateKey::from_pkcs8_pem(&key_pem).unwrap();
    let oid = |arcs: &[u8]| tlv(0x06, arcs);
    let pkcs = |last: &[u8]| oid(&[&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01][..], last].concat());
    let sha256 = tlv(
        0x30,
        &[
            oid(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]),
            vec![5, 0],
        ]
        .concat(),
    );
    let rsa_enc = tlv(0x30, &[pkcs(&[0x01, 0x01]), vec![5, 0]].concat());
    let digest = sha2::Sha256::digest(csr);
    let content_type = tlv(
        0x30,
        &[pkcs(&[0x09, 0x03]), tlv(0x31, &pkcs(&[0x07, 0x01]))].concat(),
    );
    let message_digest = tlv(
        0x30,
        &[pkcs(&[0x09, 0x04]), tlv(0x31, &tlv(0x04, &digest))].concat(),
    );
    let unsorted = [message_digest.clone(), content_type.clone()].concat();
    let sorted = [content_type, message_digest].concat();
    let to_sign = tlv(0x31, if sign_sorted { &sorted } else { &unsorted });
    let signature = key.pkcs1v15_sign::<sha2::Sha256>(&to_sign).unwrap();
    let tbs = cert.certificate().tbs_certificate();
    let sid = tlv(
        0x30,
        &[
            tbs.issuer().to_der().unwrap(),
            tbs.serial_number().to_der().unwrap(),
        ]
        .concat(),
    );
    let signer_info = tlv(
        0x30,
        &[
            vec![2, 1, 1],
            sid,
            sha256.clone(),
            tlv(0xa0, &unsorted),
            rsa_enc,
            tlv(0x04, &signature),
        ]
        .concat(),
    );
    let encap = tlv(
        0x30,
        &[pkcs(&[0x07, 0x01]), tlv(0xa0, &tlv(0x04, csr))].concat(),
    );
    let signed_data = tlv(
        0x30,
        &[
            vec![2, 1, 1],
            tlv(0x31, &sha256),
            encap,
            tlv(0xa0, cert.der()),
            tlv(0x31, &signer_info),
        ]
        .concat(),
    );
    tlv(
        0x30,
        &[pkcs(&[0x07, 0x02]), tlv(0xa0, &signed_data)].concat(),
    )
}

#[test]
fn signed_attributes_are_verified_as_sent_even_unsorted() {
    let ca = ca("CN=winmdm renew CA");
    let dir = Dir::new();
    let current = enroll(&dir, &ca, 365 * DAY);
    let new_csr = new_request(&dir, "new");
    let p7 = hand_built_pkcs7(&dir, &current, &new_csr, false);
    let req = ca
        .verify_renewal(&p7, in_window(), &RenewalPolicy::default())
        .expect("unsorted signed attributes verified over the bytes sent");
    assert_eq!(req.csr.der(), new_csr.as_slice());
    // Signed over a different (sorted) encoding than the one sent: refused.
    let p7 = hand_built_pkcs7(&dir, &current, &new_csr, true);
    assert_eq!(
        ca.verify_renewal(&p7, in_window(), &RenewalPolicy::default()),
        Err(RenewalError::BadSignature)
    );
}
