//! PKCS#10 requests captured from real Windows devices: decoded, proof of possession
//! verified, DeviceID read; tampered and over-limit inputs rejected.

use winmdm_enroll::pki::{Csr, CsrError, CsrPolicy, DEVICE_ID_EXTENSION, SignatureAlgorithm};

const MDMTEST: &[u8] = include_bytes!("data/pki/mdmtest-windows.csr.der");
const MDMTEST_PEM: &str = include_str!("data/pki/mdmtest-windows.csr.pem");
const WIN10_19043: &[u8] = include_bytes!("data/pki/win10-19043-device-rst.csr.der");
const WIN10_19045: &[u8] = include_bytes!("data/pki/win10-19045-device-rst.csr.der");
const WIN10_19045_PEM: &str = include_str!("data/pki/win10-19045-device-rst.csr.pem");

fn policy() -> CsrPolicy {
    CsrPolicy::default()
}

#[test]
fn win10_19045_sha1_oiw_printable_string_with_nul() {
    let csr = Csr::from_der(WIN10_19045, &policy()).expect("real Windows CSR accepted");
    assert_eq!(
        csr.signature_algorithm(),
        SignatureAlgorithm::Sha1WithRsaOiw
    );
    assert_eq!(csr.key_bits(), 2048);
    assert_eq!(csr.device_id(), Some("DB257C3A08778F4FB61E2749066C1F27"));
    assert_eq!(
        csr.common_name().as_deref(),
        Some("2B9B52AC-DF38-4161-8142-F4B1E0!DB257C3A08778F4FB61E2749066C1F27")
    );
    // The subject is kept byte for byte: PrintableString (0x13) holding `!` and a NUL.
    let subject = csr.subject_der();
    assert_eq!(subject[11], 0x13);
    assert_eq!(*subject.last().unwrap(), 0);
    assert!(subject.contains(&b'!'));
    assert_eq!(csr.der(), WIN10_19045);
    assert_eq!(csr.extensions().len(), 1);
    assert_eq!(csr.extensions()[0].extn_id, DEVICE_ID_EXTENSION);
}

#[test]
fn win10_19043_sha1_oiw() {
    let csr = Csr::from_der(WIN10_19043, &policy()).expect("real Windows CSR accepted");
    assert_eq!(
        csr.signature_algorithm(),
        SignatureAlgorithm::Sha1WithRsaOiw
    );
    assert_eq!(csr.device_id(), Some("B5B954E81FBCB94EB79BD08BE625F4EE"));
    assert_eq!(
        csr.common_name().as_deref(),
        Some("562A7F9A-6CD8-40B0-9E7E-0DBDD8!B5B954E81FBCB94EB79BD08BE625F4EE")
    );
}

#[test]
fn mdmtest_sha256_utf8_subject_with_eku() {
    let csr = Csr::from_der(MDMTEST, &policy()).expect("real Windows CSR accepted");
    assert_eq!(csr.signature_algorithm(), SignatureAlgorithm::Sha256WithRsa);
    assert_eq!(csr.device_id(), Some("8090C8B484A0E24EB5C56E806CB4EE5B"));
    assert_eq!(csr.extensions().len(), 2);
    assert_eq!(csr.attributes().len(), 1);
}

#[test]
fn pem_and_base64_forms() {
    let a = Csr::from_pem(MDMTEST_PEM, &policy()).unwrap();
    assert_eq!(a.der(), MDMTEST);
    let b = Csr::from_any(WIN10_19045_PEM.as_bytes(), &policy()).unwrap();
    assert_eq!(b.der(), WIN10_19045);
    // Base64 body with line breaks, as in a BinarySecurityToken.
    let body: String = WIN10_19045_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let c = Csr::from_any(body.as_bytes(), &policy()).unwrap();
    assert_eq!(c.der(), WIN10_19045);
    let d = Csr::from_any(WIN10_19043, &policy()).unwrap();
    assert_eq!(d.der(), WIN10_19043);
}

#[test]
fn every_single_flipped_byte_is_rejected() {
    // Flip each byte of the signed part and of the signature: decoding or proof of
    // possession must fail, never succeed and never panic.
    for input in [WIN10_19045, WIN10_19043, MDMTEST] {
        for i in 0..input.len() {
            let mut bad = input.to_vec();
            bad[i] ^= 0x01;
            let r = Csr::from_der(&bad, &policy());
            assert!(r.is_err(), "byte {i} flipped yet accepted");
        }
    }
}

#[test]
fn flipped_signature_byte_is_bad_signature() {
    let mut bad = WIN10_19045.to_vec();
    let n = bad.len();
    bad[n - 10] ^= 0x80;
    assert_eq!(
        Csr::from_der(&bad, &policy()).unwrap_err(),
        CsrError::BadSignature
    );
    // A flipped byte inside the DeviceID value (signed data) also breaks the signature.
    let mut bad = WIN10_19045.to_vec();
    bad[420] ^= 0x01;
    assert_eq!(
        Csr::from_der(&bad, &policy()).unwrap_err(),
        CsrError::BadSignature
    );
}

#[test]
fn policy_limits() {
    let mut p = policy();
    p.max_len = 100;
    assert_eq!(
        Csr::from_der(WIN10_19045, &p).unwrap_err(),
        CsrError::TooLarge { len: 722, max: 100 }
    );
    let mut p = policy();
    p.allow_sha1 = false;
    assert_eq!(
        Csr::from_der(WIN10_19045, &p).unwrap_err(),
        CsrError::Sha1NotAllowed
    );
    assert!(Csr::from_der(MDMTEST, &p).is_ok());
    let mut p = policy();
    p.min_rsa_bits = 3072;
    assert_eq!(
        Csr::from_der(MDMTEST, &p).unwrap_err(),
        CsrError::KeyTooSmall {
            bits: 2048,
            min: 3072
        }
    );
}

#[test]
fn rsa_keys_above_the_maximum_are_refused() {
    let big = include_bytes!("data/pki/generated-rsa4608.csr.der");
    assert_eq!(
        Csr::from_der(big, &policy()).unwrap_err(),
        CsrError::KeyTooLarge {
            bits: 4608,
            max: 4096
        }
    );
    let mut p = policy();
    p.max_rsa_bits = 8192;
    assert_eq!(Csr::from_der(big, &p).unwrap().key_bits(), 4608);
}

#[test]
fn malformed_inputs_give_positioned_errors() {
    match Csr::from_der(&WIN10_19045[..300], &policy()).unwrap_err() {
        CsrError::Malformed { position, .. } => assert_eq!(position, 1),
        e => panic!("unexpected {e:?}"),
    }
    let mut trailing = WIN10_19045.to_vec();
    trailing.push(0);
    assert!(matches!(
        Csr::from_der(&trailing, &policy()).unwrap_err(),
        CsrError::Malformed { position: 722, .. }
    ));
    assert!(Csr::from_der(&[], &policy()).is_err());
    assert!(Csr::from_any(b"not a csr", &policy()).is_err());
}

#[test]
fn request_token_text_to_der_and_kind() {
    use base64::Engine as _;
    use winmdm_enroll::pki::{RequestKind, decode_request_token};
    let b64 = base64::engine::general_purpose::STANDARD;
    let once = b64.encode(WIN10_19043);
    // Wrapped as the fleet emulator sends it.
    let wrapped: String = once
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        decode_request_token(&wrapped, 16 * 1024).unwrap(),
        WIN10_19043
    );
    let twice = b64.encode(once.as_bytes());
    assert_eq!(
        decode_request_token(&twice, 16 * 1024).unwrap(),
        WIN10_19043
    );
    assert_eq!(decode_request_token(&once, 100), None);
    assert_eq!(decode_request_token("aGVsbG93b3JsZA==", 1024), None);
    assert_eq!(decode_request_token("%%%", 1024), None);
    assert_eq!(RequestKind::detect(WIN10_19043), Some(RequestKind::Pkcs10));
    // ContentInfo: SEQUENCE { OID signedData, ... }
    let content_info = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x00,
    ];
    assert_eq!(RequestKind::detect(&content_info), Some(RequestKind::Pkcs7));
    assert_eq!(RequestKind::detect(b"junk"), None);
    // BER indefinite length.
    assert_eq!(
        RequestKind::detect(&[0x30, 0x80, 0x06, 0x09, 0x2a]),
        Some(RequestKind::Pkcs7)
    );
    assert_eq!(RequestKind::detect(&[0x30, 0x82, 0x01]), None);
}

#[test]
fn errors_keep_the_der_error_as_their_source() {
    use std::error::Error as _;
    use winmdm_enroll::pki::der;

    // Truncated: the der error (Incomplete) is the source, the position the length octets.
    let e = Csr::from_der(&WIN10_19045[..300], &policy()).unwrap_err();
    let source = e
        .source()
        .and_then(|s| s.downcast_ref::<der::Error>())
        .expect("a der::Error source");
    assert!(
        matches!(source.kind(), der::ErrorKind::Incomplete { .. }),
        "{source:?}"
    );
    // A broken element inside the request: the position is in the whole input, at the
    // element or the SubjectPublicKeyInfo holding it (88, 6 bytes before the OID).
    let mut broken = WIN10_19045.to_vec();
    let spki_at = WIN10_19045
        .windows(11)
        .position(|w| {
            w == [
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ]
        })
        .expect("rsaEncryption OID in the SubjectPublicKeyInfo");
    broken[spki_at] = 0x05; // OID tag -> NULL
    match Csr::from_der(&broken, &policy()).unwrap_err() {
        CsrError::Malformed {
            position, source, ..
        } => {
            assert_eq!(
                Some(position),
                source.position().map(|p| u32::from(p) as usize)
            );
            assert!(
                (spki_at - 6..=spki_at).contains(&position),
                "{position} vs {spki_at}"
            );
        }
        e => panic!("unexpected {e:?}"),
    }
    // PEM armour errors keep the PEM decoder's error.
    let e = Csr::from_pem("-----BEGIN CERTIFICATE REQUEST-----\n%%%\n", &policy()).unwrap_err();
    assert!(matches!(e, CsrError::Pem(_)), "{e:?}");
    assert!(e.source().is_some());
}
