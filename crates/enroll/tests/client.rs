//! The device side (`winmdm_enroll::client`, `pki::DeviceKey`, `pki::windows_csr`,
//! `pki::renewal_request`): requests compared with the captured Windows 10 messages, the
//! PKCS#10 checked by the server-side `Csr` and `openssl req -verify`, whole enrollments
//! against `EnrollmentServer` in memory (OnPremise, Federated and token credentials),
//! fault answers, and renewal round trips through the server-side checks.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use winmdm_enroll::client::{self, ClientCredential, ClientError, DeviceInfo, Enrolled};
use winmdm_enroll::pki::{
    self, CertificateAuthority, Csr, CsrPolicy, DeviceKey, IssuedCertificate, Subject,
};
use winmdm_enroll::token::{AuthError, Credential, constant_time_eq};
use winmdm_enroll::*;

mod common;

const RST_19043: &[u8] = include_bytes!("data/messages/fleet/win10-19043/05-device-rst.xml");
const DISCOVER_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/01-device-discover.xml");
const DISCOVER_19045: &[u8] =
    include_bytes!("data/messages/fleet/win10-19045/01-device-discover.xml");
const GET_POLICIES_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/03-device-getpolicies.xml");
const CSR_19043: &[u8] = include_bytes!("data/pki/win10-19043-device-rst.csr.der");

const DEVICE_ID: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
const HW_DEV_ID: &str = "3B3ED6D0EA88CBFCF37D36F90F22FE61172348C0162FC3840D6703149870CE76";
/// The CN of the captured 19043 CSR, without its trailing NUL.
const CN_19043: &str = "562A7F9A-6CD8-40B0-9E7E-0DBDD8!B5B954E81FBCB94EB79BD08BE625F4EE";
const NOW_UNIX: u64 = 1_800_000_000;
const DAY: Duration = Duration::from_secs(86_400);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

/// One device key for the whole file (RSA generation is slow in debug builds).
fn key() -> &'static DeviceKey {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::generate(2048, &mut rand::rng()).unwrap())
}

fn other_key() -> &'static DeviceKey {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::generate(2048, &mut rand::rng()).unwrap())
}

fn ca() -> &'static CertificateAuthority {
    static CA: OnceLock<CertificateAuthority> = OnceLock::new();
    CA.get_or_init(|| {
        CertificateAuthority::generate_dev(
            &Subject::try_from("CN=winmdm client test CA").unwrap(),
            2048,
            now() - DAY,
            3650 * DAY,
            &mut rand::rng(),
        )
        .unwrap()
    })
}

fn server(policy: AuthPolicy) -> EnrollmentServer {
    let mut urls = ServerUrls::standard("https://mdm.example.com").unwrap();
    urls.authentication = Some(HttpsUrl::new("https://mdm.example.com/login").unwrap());
    EnrollmentServer::new(ProviderId::new("WinMDM Test").unwrap(), urls, policy).unwrap()
}

fn device() -> DeviceInfo {
    DeviceInfo::windows(DEVICE_ID, HW_DEV_ID)
}

/// The device as the captured 19043 RST describes it.
fn device_19043() -> DeviceInfo {
    let mut d = DeviceInfo::windows(DEVICE_ID, HW_DEV_ID);
    d.device_name = "DESKTOP-28FGAI6".into();
    d.mac_addresses = [
        "00-0C-29-51-60-9D",
        "1A-77-20-52-41-53",
        "1A-77-20-52-41-53",
        "00-0C-29-51-60-A7",
        "18-14-20-52-41-53",
        "00-0C-29-51-60-93",
    ]
    .map(String::from)
    .to_vec();
    d.os_version = "10.0.19043.2364".into();
    d.application_version = "10.0.19043.2364".into();
    d.os_edition = 72;
    d.request_version = Version::V4;
    d
}

fn csr(key: &DeviceKey) -> Vec<u8> {
    pki::windows_csr(
        key,
        &pki::windows_common_name("562A7F9A-6CD8-40B0-9E7E-0DBDD8E6D0C1", DEVICE_ID),
        Some(DEVICE_ID),
    )
    .unwrap()
}

// ------------------------------------------------------------------ PKCS#10

#[test]
fn windows_csr_is_accepted_by_the_server_and_shaped_like_the_captured_one() {
    let der = pki::windows_csr(key(), CN_19043, Some(DEVICE_ID)).unwrap();
    let ours = Csr::from_der(&der, &CsrPolicy::default()).unwrap();
    let real = Csr::from_der(CSR_19043, &CsrPolicy::default()).unwrap();
    assert_eq!(ours.device_id(), Some(DEVICE_ID));
    assert_eq!(ours.device_id(), real.device_id());
    assert_eq!(ours.common_name().as_deref(), Some(CN_19043));
    assert_eq!(ours.common_name(), real.common_name());
    // Byte for byte the same subject: a PrintableString with `!` and a trailing NUL.
    assert_eq!(ours.subject_der(), real.subject_der());
    assert_eq!(ours.subject_der()[11], 0x13, "PrintableString");
    assert_eq!(ours.subject_der().last(), Some(&0));
    // The same DeviceID extension (ASCII + NUL in the OCTET STRING).
    assert_eq!(ours.extensions(), real.extensions());
    assert_eq!(ours.public_key_der(), key().public_key_der());
    assert_eq!(ours.key_bits(), 2048);
    assert_eq!(
        ours.signature_algorithm(),
        pki::SignatureAlgorithm::Sha256WithRsa
    );

    // A trailing NUL given by the caller is not doubled; no DeviceID, no extension.
    let bare = pki::windows_csr(key(), &format!("{CN_19043}\0"), None).unwrap();
    let bare = Csr::from_der(&bare, &CsrPolicy::default()).unwrap();
    assert_eq!(bare.subject_der(), real.subject_der());
    assert_eq!(bare.device_id(), None);
    assert!(bare.extensions().is_empty());
}

#[test]
fn windows_csr_passes_openssl_req_verify() {
    let dir = common::temp_dir("client-csr");
    let path = dir.join("csr.der");
    std::fs::write(&path, csr(key())).unwrap();
    let p = path.to_string_lossy();
    let (ok, out) = common::openssl(&["req", "-verify", "-noout", "-inform", "DER", "-in", &p]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "openssl req -verify: {out}");
    assert!(
        out.contains("verify OK") || out.contains("Certificate request self-signature verify OK"),
        "{out}"
    );
}

#[test]
fn windows_csr_with_an_external_signer_is_byte_identical_and_passes_openssl() {
    use pki::rsa::pkcs1v15::SigningKey;
    use pki::rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};

    let cn = pki::windows_common_name("562A7F9A-6CD8-40B0-9E7E-0DBDD8E6D0C1", DEVICE_ID);
    // The `rsa` crate's `signature::Signer` stands in for another implementation (ring).
    let external = SigningKey::<sha2::Sha256>::new(key().rsa_key().clone());
    let public = key().rsa_key().to_public_key();
    let mut calls = 0;
    let der = pki::windows_csr_with_signer(&public, &cn, Some(DEVICE_ID), |info| {
        calls += 1;
        external.try_sign(info).map(|s| s.to_vec())
    })
    .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(der, pki::windows_csr(key(), &cn, Some(DEVICE_ID)).unwrap());
    let csr = Csr::from_der(&der, &CsrPolicy::default()).unwrap();
    assert_eq!(csr.device_id(), Some(DEVICE_ID));
    // The signer was given exactly the CertificationRequestInfo.
    assert!(
        pki::rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone())
            .verify(
                csr.info_der(),
                &pki::rsa::pkcs1v15::Signature::try_from(&der[der.len() - 256..]).unwrap()
            )
            .is_ok()
    );

    let dir = common::temp_dir("client-csr-signer");
    let path = dir.join("csr.der");
    std::fs::write(&path, &der).unwrap();
    let p = path.to_string_lossy();
    let (ok, out) = common::openssl(&["req", "-verify", "-noout", "-inform", "DER", "-in", &p]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "openssl req -verify: {out}");
    assert!(out.contains("verify OK"), "{out}");
}

#[test]
fn windows_csr_with_signer_reports_the_signers_error_and_bad_lengths() {
    #[derive(Debug, PartialEq)]
    struct Refused;
    let public = key().rsa_key().to_public_key();
    assert_eq!(
        pki::windows_csr_with_signer(&public, CN_19043, None, |_| Err(Refused)),
        Err(pki::WindowsCsrError::Signer(Refused))
    );
    assert_eq!(
        pki::windows_csr_with_signer(&public, CN_19043, None, |_| Ok::<_, Refused>(vec![1; 255])),
        Err(pki::WindowsCsrError::Device(
            pki::DeviceError::SignatureLength {
                len: 255,
                expected: 256
            }
        ))
    );
    // Names are checked before the signer is called.
    assert!(matches!(
        pki::windows_csr_with_signer(&public, "a\nb", None, |_| -> Result<Vec<u8>, Refused> {
            panic!("not called")
        }),
        Err(pki::WindowsCsrError::Device(
            pki::DeviceError::InvalidName {
                field: "common_name",
                ..
            }
        ))
    ));
}

#[test]
fn windows_csr_refuses_names_outside_printable_ascii() {
    for bad in ["", "\0", "a\nb", "é", "a\0b"] {
        assert!(
            matches!(
                pki::windows_csr(key(), bad, None),
                Err(pki::DeviceError::InvalidName {
                    field: "common_name",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        pki::windows_csr(key(), "ok", Some("bad\u{1}id")),
        Err(pki::DeviceError::InvalidName {
            field: "device_id",
            ..
        })
    ));
    assert_eq!(
        pki::windows_common_name("562a7f9a-6cd8-40b0-9e7e-0dbdd8e6d0c1", DEVICE_ID),
        CN_19043
    );
}

#[test]
fn device_key_round_trips_through_pkcs8_pem_and_openssl_reads_it() {
    let pem = key().to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let back = DeviceKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.public_key_der(), key().public_key_der());
    assert_eq!(back.bits(), 2048);
    assert!(!format!("{back:?}").contains("PRIVATE"));
    assert!(DeviceKey::from_pkcs8_pem("not a key").is_err());
    assert!(DeviceKey::generate(1024, &mut rand::rng()).is_err());

    let dir = common::temp_dir("client-key");
    let k = common::write(&dir, "key.pem", &pem);
    let (ok, out) = common::openssl(&["pkey", "-noout", "-check", "-in", &k]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "openssl pkey -check: {out}");
}

// ------------------------------------------------------------------ requests vs captures

#[test]
fn discover_request_is_shaped_like_windows() {
    let real = Envelope::<Discover>::decode(DISCOVER_19043).unwrap();
    let mut d = device_19043();
    let ours = client::discover_request(
        "demo@fleetdm.ngrok.io",
        "urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478",
        &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED],
        &d,
    );
    let back = Envelope::<Discover>::decode(ours.to_xml().as_bytes()).unwrap();
    assert_eq!(back.header, real.header);
    assert_eq!(back.body, real.body);

    // Windows 10 22H2 (19045) asks for 5.0.
    let real = Envelope::<Discover>::decode(DISCOVER_19045).unwrap();
    d.request_version = Version::V5;
    d.application_version = "6.2.9200.2965".into();
    d.os_edition = 48;
    let ours = client::discover_request(
        "demo@mdmwindows.com",
        "urn:uuid:1",
        &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED],
        &d,
    );
    let back = Envelope::<Discover>::decode(ours.to_xml().as_bytes()).unwrap();
    assert_eq!(back.body, real.body);
    assert_eq!(
        back.header.to.as_deref(),
        Some("https://EnterpriseEnrollment.mdmwindows.com:443/EnrollmentServer/Discovery.svc")
    );
    assert_eq!(client::discovery_url("no-domain"), None);
}

#[test]
fn get_policies_request_is_shaped_like_windows() {
    let real = Envelope::<GetPolicies>::decode(GET_POLICIES_19043).unwrap();
    let ours = client::get_policies_request(
        "https://windows.fleetdm.ngrok.io/EnrollmentServer/Policy.svc",
        "urn:uuid:72048B64-0F19-448F-8C2E-B4C661860AA0",
        &ClientCredential::on_premise("demio", "demo"),
    );
    let back = Envelope::<GetPolicies>::decode(ours.to_xml().as_bytes()).unwrap();
    assert_eq!(back.header, real.header);
    assert_eq!(back.body, real.body);
}

#[test]
fn rst_request_is_shaped_like_windows() {
    let real = Envelope::<RequestSecurityToken>::decode(RST_19043).unwrap();
    let real_bst = real.body.binary_security_token.as_ref().unwrap();
    let csr_der = real_bst.decode_base64().unwrap();
    let ours = client::rst_request(
        "https://windows.fleetdm.ngrok.io/EnrollmentServer/Enrollment.svc",
        "urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749",
        &ClientCredential::on_premise("demio", "demo"),
        &csr_der,
        &device_19043(),
        EnrollmentType::Full,
    );
    let back = Envelope::<RequestSecurityToken>::decode(ours.to_xml().as_bytes()).unwrap();
    // Same headers, body, context items (names, order, repeats, values) and token.
    assert_eq!(back.header, real.header);
    assert_eq!(back.body, real.body);

    // A 5.0 device adds RequestVersion last, as the captured 19045 RST does.
    let ours = client::rst_request(
        "https://mdm.example.com/EnrollmentServer/Enrollment.svc",
        "urn:uuid:2",
        &ClientCredential::on_premise("demio", "demo"),
        &csr_der,
        &device(),
        EnrollmentType::Device,
    );
    let items = &ours.body.additional_context.items;
    assert_eq!(items.last().unwrap().name, "RequestVersion");
    assert_eq!(
        ours.body.additional_context.get("RequestVersion"),
        Some("5.0")
    );
    assert_eq!(
        ours.body.additional_context.enrollment_type(),
        Some("Device")
    );
}

#[test]
fn credentials_are_written_as_the_server_reads_them() {
    let on_prem = ClientCredential::on_premise("user@example.com", "pa ss ");
    let sec = on_prem.security();
    match sec.credential().unwrap() {
        Credential::UsernameToken(u) => {
            assert_eq!(u.username, "user@example.com");
            assert_eq!(u.password, "pa ss ");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{on_prem:?}").contains("pa ss"));

    let fed = ClientCredential::Federated("header.payload.signature".into());
    let env = client::get_policies_request("https://mdm.example.com/p", "urn:uuid:1", &fed);
    let env = Envelope::<GetPolicies>::decode(env.to_xml().as_bytes()).unwrap();
    match env.header.credential().unwrap() {
        Credential::BinarySecurityToken(b) => {
            assert_eq!(b.value_type, token::DEVICE_ENROLLMENT_USER_TOKEN);
            assert_eq!(b.encoding_type, Some(token::BASE64_BINARY));
            assert_eq!(b.decode().unwrap(), b"header.payload.signature");
            assert_eq!(
                b.value,
                token::encode_token_value("header.payload.signature")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{fed:?}").contains("payload"));

    let tok = ClientCredential::Token("aGVsbG8=".into());
    match tok.security().credential().unwrap() {
        Credential::BinarySecurityToken(b) => {
            assert_eq!(b.value, "aGVsbG8=");
            assert_eq!(b.value_type, token::DEVICE_ENROLLMENT_USER_TOKEN);
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------ whole enrollments

/// The server's accounts: an OnPremise user, and a token for the token credentials.
fn directory(c: &Credential<'_>, _now: SystemTime) -> Result<String, AuthError> {
    match c {
        Credential::UsernameToken(u)
            if u.username == "user@example.com"
                && constant_time_eq(u.password.as_bytes(), b"secret") =>
        {
            Ok(u.username.to_owned())
        }
        Credential::BinarySecurityToken(b)
            if b.value_type == token::DEVICE_ENROLLMENT_USER_TOKEN =>
        {
            let raw = b.decode()?;
            if constant_time_eq(&raw, b"federated-token-of-user") {
                Ok("user@example.com".to_owned())
            } else {
                Err(AuthError::InvalidCredentials)
            }
        }
        _ => Err(AuthError::InvalidCredentials),
    }
}

/// Runs Discover, GetPolicies and the RST through the client builders and the server
/// API, every message encoded and decoded on the way. Returns the server's RSTRC (or
/// fault) as XML, the issued certificate when there is one, and the device's view.
fn enroll(
    policy: AuthPolicy,
    credential: &ClientCredential,
    key: &DeviceKey,
    enrollment_type: EnrollmentType,
) -> (String, Option<IssuedCertificate>) {
    let server = server(policy.clone());
    let device = device();
    let mut rng = rand::rng();

    let discover = client::discover_request(
        "user@example.com",
        "urn:uuid:00000000-0000-0000-0000-000000000001",
        &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED],
        &device,
    );
    let reply = server
        .discover_response(&Envelope::<Discover>::decode(discover.to_xml().as_bytes()).unwrap())
        .unwrap();
    let discovered = client::parse_discover_response(reply.to_xml().as_bytes()).unwrap();
    assert_eq!(discovered.body.auth_policy, policy);
    assert_eq!(discovered.body.enrollment_version, Some(Version::V5));
    assert_eq!(
        discovered.header.relates_to.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-000000000001")
    );

    let get = client::get_policies_request(
        discovered
            .body
            .enrollment_policy_service_url
            .as_deref()
            .unwrap(),
        "urn:uuid:00000000-0000-0000-0000-000000000002",
        credential,
    );
    let get = Envelope::<GetPolicies>::decode(get.to_xml().as_bytes()).unwrap();
    let reply = server.get_policies_response(&get);
    let policies = client::parse_get_policies_response(reply.to_xml().as_bytes()).unwrap();
    assert_eq!(client::minimal_key_length(&policies.body), 2048);

    let rst = client::rst_request(
        &discovered.body.enrollment_service_url,
        "urn:uuid:00000000-0000-0000-0000-000000000003",
        credential,
        &csr(key),
        &device,
        enrollment_type,
    );
    let request = EnrollmentRequest::decode(rst.to_xml().as_bytes()).unwrap();
    let result = (|| {
        let user = request.authenticate(&directory, now())?;
        let checked = request.verify_csr(&CsrPolicy::default())?;
        let cert = request.issue(ca(), &checked, &server.issue_options(), now(), &mut rng)?;
        let creds = DmCredentials::generate(&user, &mut rng);
        let doc = server
            .provisioning(&request, &cert, ca().certificate_der())
            .dm_credentials(&creds)
            .ent_dmid(&user)
            .renewal(Renewal::Robo {
                renew_period_days: 42,
                retry_interval_days: 4,
            })
            .build()?;
        Ok::<_, EnrollError>((request.respond(&doc, now()).to_xml(), cert))
    })();
    match result {
        Ok((xml, cert)) => (xml, Some(cert)),
        Err(e) => (
            Envelope::<Fault>::response(e.fault(), request.header().message_id.as_deref()).to_xml(),
            None,
        ),
    }
}

fn check_enrolled(enrolled: &Enrolled, cert: &IssuedCertificate) {
    assert_eq!(enrolled.client_certificate, cert.der());
    assert_eq!(enrolled.client_thumbprint, cert.thumbprint());
    assert_eq!(
        enrolled.root_certificates,
        [ca().certificate_der().to_vec()]
    );
    assert!(enrolled.intermediate_certificates.is_empty());
    assert_eq!(enrolled.provider_id, "WinMDM Test");
    assert_eq!(
        enrolled.management_url,
        "https://mdm.example.com/ManagementServer/MDM.svc"
    );
    assert_eq!(
        enrolled.relates_to.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-000000000003")
    );
    let dev = enrolled.device_credentials.as_ref().unwrap();
    assert_eq!(dev.auth_type.as_deref(), Some("DIGEST"));
    assert_eq!(dev.name.as_deref(), Some("user@example.com"));
    assert!(dev.secret.is_some() && dev.data.is_some());
    let srv = enrolled.server_credentials.as_ref().unwrap();
    assert!(srv.secret.is_some() && srv.data.is_some());
    let poll = enrolled.poll.unwrap();
    assert_eq!(poll.interval_for_first_set_of_retries, Some(3));
    let renew = enrolled.renewal.unwrap();
    assert_eq!(renew.robo_support, Some(true));
    assert_eq!(renew.renew_period, Some(42));
    assert_eq!(renew.retry_interval, Some(4));
    assert_eq!(enrolled.ent_dmid.as_deref(), Some("user@example.com"));
    // The certificate the device got passes openssl as a TLS client certificate.
    let (ok, out) = common::verify_sslclient(
        &common::pem(ca().certificate_der()),
        &common::pem(&enrolled.client_certificate),
        NOW_UNIX,
    );
    assert!(ok && out.contains("OK"), "openssl verify: {out}");
}

#[test]
fn on_premise_enrollment_in_memory() {
    let credential = ClientCredential::on_premise("user@example.com", "secret");
    let (xml, cert) = enroll(
        AuthPolicy::ON_PREMISE,
        &credential,
        key(),
        EnrollmentType::Full,
    );
    let enrolled = Enrolled::from_xml(xml.as_bytes(), key()).unwrap();
    check_enrolled(&enrolled, &cert.unwrap());
    assert_eq!(enrolled.enrollment_type, EnrollmentType::Full);
    assert_eq!(
        enrolled.ssl_client_cert_search_criteria.as_deref(),
        Some("Subject=CN%3DB5B954E81FBCB94EB79BD08BE625F4EE&Stores=MY%5CUser")
    );
}

#[test]
fn federated_and_token_enrollments_in_memory() {
    for credential in [
        ClientCredential::Federated("federated-token-of-user".into()),
        ClientCredential::Token(token::encode_token_value("federated-token-of-user")),
    ] {
        let (xml, cert) = enroll(
            AuthPolicy::FEDERATED,
            &credential,
            key(),
            EnrollmentType::Device,
        );
        let enrolled = Enrolled::from_xml(xml.as_bytes(), key()).unwrap();
        check_enrolled(&enrolled, &cert.unwrap());
        assert_eq!(enrolled.enrollment_type, EnrollmentType::Device);
        assert!(
            enrolled
                .ssl_client_cert_search_criteria
                .as_deref()
                .unwrap()
                .ends_with("Stores=MY%5CSystem")
        );
    }
}

#[test]
fn a_fault_answer_is_an_error_carrying_the_fault() {
    let credential = ClientCredential::on_premise("user@example.com", "wrong");
    let (xml, cert) = enroll(
        AuthPolicy::ON_PREMISE,
        &credential,
        key(),
        EnrollmentType::Full,
    );
    assert!(cert.is_none());
    let err = Enrolled::from_xml(xml.as_bytes(), key()).unwrap_err();
    let fault = err.fault().expect("a fault");
    assert_eq!(fault.subcode, Some(FaultCode::AUTHENTICATION));
    assert_eq!(fault.reason, "Authentication failed");
    assert_eq!(
        err.to_string(),
        "the server answered with a fault: Authentication: Authentication failed"
    );

    // With a deviceenrollmentserviceerror detail, the error type is shown too.
    let fault = Fault::enrollment(FaultCode::AUTHORIZATION, "Device cap reached").with_error(
        EnrollmentErrorType::DEVICE_CAP_REACHED,
        "too many devices",
        "trace-1",
    );
    let xml = Envelope::<Fault>::response(fault.clone(), Some("urn:uuid:3")).to_xml();
    let err = Enrolled::from_xml(xml.as_bytes(), key()).unwrap_err();
    assert_eq!(err.fault(), Some(&fault));
    assert!(
        err.to_string()
            .contains("(DeviceCapReached): too many devices"),
        "{err}"
    );
    // The other parsers report faults the same way.
    assert!(matches!(
        client::parse_discover_response(xml.as_bytes()),
        Err(ClientError::Fault(_))
    ));
    assert!(matches!(
        client::parse_get_policies_response(xml.as_bytes()),
        Err(ClientError::Fault(_))
    ));
    assert!(matches!(
        client::parse_discover_response(DISCOVER_19043),
        Err(ClientError::UnexpectedMessage {
            found: "Discover",
            ..
        })
    ));
}

#[test]
fn a_certificate_for_another_key_or_a_tampered_document_is_refused() {
    let credential = ClientCredential::on_premise("user@example.com", "secret");
    let (xml, _) = enroll(
        AuthPolicy::ON_PREMISE,
        &credential,
        key(),
        EnrollmentType::Full,
    );
    assert_eq!(
        Enrolled::from_xml(xml.as_bytes(), other_key()),
        Err(ClientError::KeyMismatch)
    );

    let env = client::parse_rstrc(xml.as_bytes()).unwrap();
    let doc = env.body.responses[0].provisioning_doc().unwrap();
    // Root replaced by an unrelated CA: the client certificate no longer chains.
    let mut typed = doc.enrollment().unwrap();
    let stranger = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=stranger").unwrap(),
        2048,
        now() - DAY,
        DAY * 10,
        &mut rand::rng(),
    )
    .unwrap();
    typed.certificate_store.root_system[0] = CertEntry {
        thumbprint: pki::Thumbprint::of(stranger.certificate_der()).to_string(),
        encoded_certificate: base64_of(stranger.certificate_der()),
    };
    assert_eq!(
        Enrolled::from_document(&typed.to_doc(), key()),
        Err(ClientError::Untrusted)
    );
    // Filed under the wrong thumbprint.
    let mut typed = doc.enrollment().unwrap();
    typed.certificate_store.my_user[0].thumbprint = "00".repeat(20);
    assert!(matches!(
        Enrolled::from_document(&typed.to_doc(), key()),
        Err(ClientError::ThumbprintMismatch { .. })
    ));
    // No client certificate.
    let mut typed = doc.enrollment().unwrap();
    typed.certificate_store.my_user.clear();
    assert_eq!(
        Enrolled::from_document(&typed.to_doc(), key()),
        Err(ClientError::ClientCertificateCount(0))
    );
    // No management address.
    let mut typed = doc.enrollment().unwrap();
    typed.application.as_mut().unwrap().addr = None;
    assert_eq!(
        Enrolled::from_document(&typed.to_doc(), key()),
        Err(ClientError::Application("no ADDR"))
    );
}

fn base64_of(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

// ------------------------------------------------------------------ renewal

fn new_key() -> &'static DeviceKey {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::generate(2048, &mut rand::rng()).unwrap())
}

/// An enrolled device: its certificate from a whole OnPremise enrollment.
fn enrolled() -> &'static Enrolled {
    static E: OnceLock<Enrolled> = OnceLock::new();
    E.get_or_init(|| {
        let credential = ClientCredential::on_premise("user@example.com", "secret");
        let (xml, _) = enroll(
            AuthPolicy::ON_PREMISE,
            &credential,
            key(),
            EnrollmentType::Full,
        );
        Enrolled::from_xml(xml.as_bytes(), key()).unwrap()
    })
}

/// 330 days after enrollment: inside the default 60-day renewal window of a 365-day
/// certificate.
fn renewal_time() -> SystemTime {
    now() + 330 * DAY
}

fn renewal_pkcs7() -> Vec<u8> {
    let new_csr = csr(new_key());
    pki::renewal_request(&enrolled().client_certificate, key(), &new_csr).unwrap()
}

fn renew_xml(pkcs7: &[u8]) -> String {
    client::renew_request(
        "https://mdm.example.com/EnrollmentServer/Enrollment.svc",
        "urn:uuid:00000000-0000-0000-0000-000000000004",
        pkcs7,
        &device(),
    )
    .to_xml()
}

/// The server's renewal step; the answer (RSTRC or fault) as XML.
fn serve_renewal(body: &str, at: SystemTime) -> String {
    let server = server(AuthPolicy::ON_PREMISE);
    let mut rng = rand::rng();
    let request = EnrollmentRequest::decode_any(body.as_bytes()).unwrap();
    let result = (|| {
        let (csr, current) = request.verify_renewal(ca(), &pki::RenewalPolicy::default(), at)?;
        assert_eq!(current.der(), enrolled().client_certificate);
        let cert =
            request.issue_renewal(ca(), &csr, &current, &server.issue_options(), at, &mut rng)?;
        let creds = DmCredentials::generate("user@example.com", &mut rng);
        let doc = server
            .provisioning(&request, &cert, ca().certificate_der())
            .dm_credentials(&creds)
            .ent_dmid("user@example.com")
            .renewal(Renewal::Robo {
                renew_period_days: 42,
                retry_interval_days: 4,
            })
            .build()?;
        Ok::<_, EnrollError>(request.respond(&doc, at).to_xml())
    })();
    result.unwrap_or_else(|e| {
        Envelope::<Fault>::response(e.fault(), request.header().message_id.as_deref()).to_xml()
    })
}

#[test]
fn renewal_round_trip_through_the_server() {
    let pkcs7 = renewal_pkcs7();
    let body = renew_xml(&pkcs7);
    let rst = Envelope::<RequestSecurityToken>::decode(body.as_bytes()).unwrap();
    assert_eq!(rst.body.request_type, Some(RequestType::RENEW));
    assert!(rst.body.is_pkcs7());
    assert_eq!(rst.body.additional_context.device_id(), Some(DEVICE_ID));
    assert_eq!(rst.body.additional_context.enrollment_type(), None);

    // The server-side PKI checks accept it directly ...
    let old = &enrolled().client_certificate;
    let policy = pki::RenewalPolicy::default();
    let r = ca()
        .verify_renewal(&pkcs7, renewal_time(), &policy)
        .unwrap();
    assert_eq!(r.current.der(), old);
    assert_eq!(r.csr.public_key_der(), new_key().public_key_der());
    assert_eq!(r.csr.device_id(), Some(DEVICE_ID));
    let r = ca()
        .verify_robo_renewal(old, &pkcs7, renewal_time(), &policy)
        .unwrap();
    assert_eq!(r.current.der(), old);
    let r = ca().verify_recovery(&pkcs7, Some(old), &policy).unwrap();
    assert_eq!(r.previous.unwrap().der(), old);

    // ROBO: the same request over a TLS connection authenticated with the old certificate.
    let request = EnrollmentRequest::decode_any(body.as_bytes()).unwrap();
    let (_, current) = request
        .verify_robo_renewal(ca(), old, &policy, renewal_time())
        .unwrap();
    assert_eq!(current.der(), old);
    // A TLS certificate of ours that did not sign the PKCS#7.
    let another = ca()
        .issue(
            &Csr::from_der(&csr(other_key()), &CsrPolicy::default()).unwrap(),
            &Subject::common_name(DEVICE_ID).unwrap(),
            &Default::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    let e = request
        .verify_robo_renewal(ca(), another.der(), &policy, renewal_time())
        .unwrap_err();
    assert_eq!(
        e,
        EnrollError::Renewal(pki::RenewalError::ClientCertificateMismatch)
    );
    assert_eq!(e.fault().subcode, Some(FaultCode::AUTHENTICATION));

    // ... and through the enrollment flow, to a new certificate the device installs.
    let xml = serve_renewal(&body, renewal_time());
    let renewed = client::Renewed::from_xml(xml.as_bytes(), new_key()).unwrap();
    assert_ne!(&renewed.client_certificate, old);
    assert_eq!(renewed.enrollment_type, EnrollmentType::Full);
    assert_eq!(renewed.root_certificates, [ca().certificate_der().to_vec()]);
    assert_eq!(
        renewed.relates_to.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-000000000004")
    );
    assert_eq!(renewed.renewal.unwrap().renew_period, Some(42));
    // Same subject as the certificate renewed, valid from the renewal time.
    let subject = |der: &[u8]| {
        use pki::der::Decode as _;
        pki::x509_cert::Certificate::from_der(der)
            .unwrap()
            .tbs_certificate()
            .subject()
            .clone()
    };
    assert_eq!(subject(&renewed.client_certificate), subject(old));
    let (ok, out) = common::verify_sslclient(
        &common::pem(ca().certificate_der()),
        &common::pem(&renewed.client_certificate),
        NOW_UNIX + 330 * 86_400,
    );
    assert!(ok && out.contains("OK"), "openssl verify: {out}");
    // The old key does not match the new certificate.
    assert!(matches!(
        client::Renewed::from_xml(xml.as_bytes(), key()),
        Err(ClientError::KeyMismatch)
    ));
}

#[test]
fn renewal_pkcs7_passes_openssl_cms_verify() {
    let pkcs7 = renewal_pkcs7();
    let dir = common::temp_dir("client-p7");
    let p7 = dir.join("renew.p7");
    std::fs::write(&p7, &pkcs7).unwrap();
    let out_path = dir.join("content.der");
    let (ok, out) = common::openssl(&[
        "cms",
        "-verify",
        "-noverify",
        "-inform",
        "DER",
        "-in",
        &p7.to_string_lossy(),
        "-out",
        &out_path.to_string_lossy(),
    ]);
    let content = std::fs::read(&out_path).unwrap_or_default();
    let (ok2, print) = common::openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        &p7.to_string_lossy(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "openssl cms -verify: {out}");
    assert!(out.contains("Verification successful"), "{out}");
    let inner = Csr::from_der(&content, &CsrPolicy::default()).unwrap();
    assert_eq!(inner.public_key_der(), new_key().public_key_der());
    assert!(ok2, "{print}");
    assert!(print.contains("pkcs7-signedData"), "{print}");
    assert!(print.contains("messageDigest"), "{print}");
}

#[test]
fn renewal_refusals_map_to_their_faults() {
    // Too early: not yet in the renewal window -> Authorization + NotEligibleToRenew.
    let body = renew_xml(&renewal_pkcs7());
    let xml = serve_renewal(&body, now() + 100 * DAY);
    let err = client::Renewed::from_xml(xml.as_bytes(), new_key()).unwrap_err();
    let fault = err.fault().unwrap();
    assert_eq!(fault.subcode, Some(FaultCode::AUTHORIZATION));
    assert_eq!(
        fault.enrollment_error.as_ref().unwrap().error_type,
        EnrollmentErrorType::NOT_ELIGIBLE_TO_RENEW
    );
    // Expired: the same.
    let xml = serve_renewal(&body, now() + 400 * DAY);
    let err = client::Renewed::from_xml(xml.as_bytes(), new_key()).unwrap_err();
    assert_eq!(err.fault().unwrap().subcode, Some(FaultCode::AUTHORIZATION));

    // A tampered signature -> Authentication.
    let mut pkcs7 = renewal_pkcs7();
    let last = pkcs7.len() - 1;
    pkcs7[last] ^= 1;
    let request = EnrollmentRequest::decode_any(renew_xml(&pkcs7).as_bytes()).unwrap();
    let e = request
        .verify_renewal(ca(), &pki::RenewalPolicy::default(), renewal_time())
        .unwrap_err();
    assert_eq!(e, EnrollError::Renewal(pki::RenewalError::BadSignature));
    assert_eq!(e.fault().subcode, Some(FaultCode::AUTHENTICATION));
    assert!(e.fault().enrollment_error.is_none());

    // Signed by a certificate of another CA -> Authentication.
    let stranger = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=stranger").unwrap(),
        2048,
        now() - DAY,
        3650 * DAY,
        &mut rand::rng(),
    )
    .unwrap();
    let checked = Csr::from_der(&csr(key()), &CsrPolicy::default()).unwrap();
    let foreign = stranger
        .issue(
            &checked,
            &Subject::common_name(DEVICE_ID).unwrap(),
            &Default::default(),
            now(),
            &mut rand::rng(),
        )
        .unwrap();
    let pkcs7 = pki::renewal_request(foreign.der(), key(), &csr(new_key())).unwrap();
    let request = EnrollmentRequest::decode_any(renew_xml(&pkcs7).as_bytes()).unwrap();
    let e = request
        .verify_renewal(ca(), &pki::RenewalPolicy::default(), renewal_time())
        .unwrap_err();
    assert_eq!(e, EnrollError::Renewal(pki::RenewalError::NotIssuedByUs));
    assert_eq!(e.fault().subcode, Some(FaultCode::AUTHENTICATION));

    // A new request for another DeviceID -> CertificateRequest.
    let other = pki::windows_csr(
        new_key(),
        "x!0123",
        Some("0123456789ABCDEF0123456789ABCDEF"),
    )
    .unwrap();
    let pkcs7 = pki::renewal_request(&enrolled().client_certificate, key(), &other).unwrap();
    let request = EnrollmentRequest::decode_any(renew_xml(&pkcs7).as_bytes()).unwrap();
    let e = request
        .verify_renewal(ca(), &pki::RenewalPolicy::default(), renewal_time())
        .unwrap_err();
    assert!(matches!(e, EnrollError::DeviceIdMismatch { .. }), "{e:?}");
    assert_eq!(e.fault().subcode, Some(FaultCode::CERTIFICATE_REQUEST));

    // The device cannot sign with a key that is not the certificate's.
    assert_eq!(
        pki::renewal_request(&enrolled().client_certificate, other_key(), &csr(new_key())),
        Err(pki::DeviceError::KeyMismatch)
    );
}

#[test]
fn request_types_are_dispatched() {
    // Issue requests decode with decode_any too, and refuse the renewal checks.
    let issue = EnrollmentRequest::decode_any(RST_19043).unwrap();
    assert_eq!(issue.request_type(), &RequestType::ISSUE);
    assert!(issue.verify_csr(&CsrPolicy::default()).is_ok());
    let e = issue
        .verify_renewal(ca(), &pki::RenewalPolicy::default(), now())
        .unwrap_err();
    assert!(matches!(e, EnrollError::UnexpectedRequestType(Some(ref t)) if t.ends_with("/Issue")));
    assert_eq!(e.fault().subcode, Some(FaultCode::MESSAGE_FORMAT));
    assert_eq!(
        EnrollmentRequest::decode(RST_19043).unwrap().request_type(),
        &RequestType::ISSUE
    );

    // decode() keeps refusing Renew; decode_any() takes it.
    let body = renew_xml(&renewal_pkcs7());
    assert!(matches!(
        EnrollmentRequest::decode(body.as_bytes()),
        Err(EnrollError::NotIssue(Some(_)))
    ));
    let renew = EnrollmentRequest::decode_any(body.as_bytes()).unwrap();
    assert_eq!(renew.request_type(), &RequestType::RENEW);
    assert!(renew.verify_csr(&CsrPolicy::default()).is_err());
    assert!(
        renew
            .verify_recovery(ca(), None, &pki::RenewalPolicy::default())
            .is_err()
    );

    // A Renew without a token, and an unknown RequestType.
    let mut env = Envelope::<RequestSecurityToken>::decode(body.as_bytes()).unwrap();
    env.body.binary_security_token = None;
    assert_eq!(
        EnrollmentRequest::from_envelope_any(env.clone()),
        Err(EnrollError::MissingRenewalRequest)
    );
    env.body.request_type = Some(RequestType("urn:x:Other".into()));
    let e = EnrollmentRequest::from_envelope_any(env).unwrap_err();
    assert_eq!(
        e,
        EnrollError::UnexpectedRequestType(Some("urn:x:Other".into()))
    );
}

#[test]
fn recovery_with_a_pkcs7_or_a_bare_pkcs10() {
    let credential = ClientCredential::on_premise("user@example.com", "secret");
    let old = &enrolled().client_certificate;
    let policy = pki::RenewalPolicy::default();
    for token in [renewal_pkcs7(), csr(new_key())] {
        let body = client::recovery_request(
            "https://mdm.example.com/EnrollmentServer/Enrollment.svc",
            "urn:uuid:5",
            &credential,
            &token,
            &device(),
        )
        .to_xml();
        let request = EnrollmentRequest::decode_any(body.as_bytes()).unwrap();
        assert_eq!(request.request_type(), &RequestType::RECOVERY);
        assert_eq!(
            request.authenticate(&directory, now()).unwrap(),
            "user@example.com"
        );
        let (csr, previous) = request.verify_recovery(ca(), Some(old), &policy).unwrap();
        assert_eq!(csr.public_key_der(), new_key().public_key_der());
        assert_eq!(previous.unwrap().der(), old);
    }
}
