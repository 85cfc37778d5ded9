//! The server's enrollment flow end to end on real captures: Discover, GetPolicies and a
//! Windows 10 RequestSecurityToken (fleet PoC capture, win10-19043) answered with typed
//! builders; the RSTRC decoded back, its provisioning document checked value by value
//! and against the document a real server sent for the same request, the issued
//! certificate checked by `openssl verify`.

use std::time::{Duration, SystemTime};

use roxmltree::Document;
use winmdm_enroll::pki::{CertificateAuthority, CsrPolicy, Subject, Thumbprint};
use winmdm_enroll::token::{AuthError, Credential};
use winmdm_enroll::types::constant_time_eq;
use winmdm_enroll::*;

mod common;

const RST_19043: &[u8] = include_bytes!("data/messages/fleet/win10-19043/05-device-rst.xml");
const DISCOVER_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/01-device-discover.xml");
const DISCOVER_RESPONSE_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/02-server-discover-response.xml");
const GET_POLICIES_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/03-device-getpolicies.xml");
const REAL_DOC_19043: &[u8] =
    include_bytes!("data/messages/fleet/win10-19043/06-server-rstrc.provisioningdoc.xml");
const ROOT_19043: &[u8] = include_bytes!("data/pki/win10-19043-provisioningdoc.root-cert.der");
const CLIENT_19043: &[u8] = include_bytes!("data/pki/win10-19043-provisioningdoc.client-cert.der");
const RENEW_RST: &[u8] =
    include_bytes!("data/messages/published/certificate-renewal-windows-mdm_01_rst-renew.xml");

const DEVICE_ID: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
/// 2027-01-15T08:00:00Z.
const NOW_UNIX: u64 = 1_800_000_000;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

fn dev_ca() -> CertificateAuthority {
    CertificateAuthority::generate_dev(
        &Subject::try_from("CN=winmdm flow test CA").unwrap(),
        2048,
        now() - Duration::from_secs(86_400),
        Duration::from_secs(3650 * 86_400),
        &mut rand::rng(),
    )
    .unwrap()
}

fn server() -> EnrollmentServer {
    EnrollmentServer::new(
        ProviderId::new("WinMDM Test").unwrap(),
        ServerUrls::standard("https://mdm.example.com").unwrap(),
        AuthPolicy::ON_PREMISE,
    )
    .unwrap()
}

/// The capture's OnPremise credential: demio / demo.
fn directory(c: &Credential<'_>, _now: SystemTime) -> Result<String, AuthError> {
    match c {
        Credential::UsernameToken(u)
            if u.username == "demio" && constant_time_eq(u.password.as_bytes(), b"demo") =>
        {
            Ok(u.username.to_owned())
        }
        Credential::UsernameToken(_) => Err(AuthError::InvalidCredentials),
        _ => Err(AuthError::UnsupportedCredential),
    }
}

struct Enrolled {
    ca: CertificateAuthority,
    cert: pki::IssuedCertificate,
    creds: DmCredentials,
    xml: String,
}

fn enroll(rst: &[u8]) -> Enrolled {
    let ca = dev_ca();
    let server = server();
    let mut rng = rand::rng();
    let request = EnrollmentRequest::decode(rst).unwrap();
    let user = request.authenticate(&directory, now()).unwrap();
    let csr = request.verify_csr(&CsrPolicy::default()).unwrap();
    let cert = request
        .issue(&ca, &csr, &server.issue_options(), now(), &mut rng)
        .unwrap();
    let creds = DmCredentials::generate(&user, &mut rng);
    let doc = server
        .provisioning(&request, &cert, ca.certificate_der())
        .dm_credentials(&creds)
        .renewal(Renewal::NotOffered)
        .build()
        .unwrap();
    let xml = request.respond(&doc, now()).to_xml();
    Enrolled {
        ca,
        cert,
        creds,
        xml,
    }
}

fn b64(s: &str) -> Vec<u8> {
    types::base64::decode_lenient(s, 1 << 20).unwrap()
}

#[test]
fn real_rst_enrolls_to_an_rstrc_with_the_standard_document() {
    let Enrolled {
        ca,
        cert,
        creds,
        xml,
    } = enroll(RST_19043);

    // The reply: well-formed, relates to the request, Security/Timestamp from `now`.
    let x = Document::parse(&xml).unwrap();
    let el = |uri: &str, name: &str| {
        x.descendants()
            .find(|n| n.tag_name().namespace() == Some(uri) && n.tag_name().name() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(x.root_element().tag_name().namespace(), Some(ns::SOAP12));
    assert_eq!(el(ns::ADDRESSING, "Action").text(), Some(ns::action::RSTRC));
    assert_eq!(
        el(ns::ADDRESSING, "RelatesTo").text(),
        Some("urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749")
    );
    let security = el(ns::WSSE, "Security");
    assert_eq!(
        security.attribute((ns::SOAP12, "mustUnderstand")),
        Some("1")
    );
    let ts = el(ns::WSU, "Timestamp");
    assert_eq!(ts.attribute((ns::WSU, "Id")), Some("_0"));
    assert_eq!(
        el(ns::WSU, "Created").text(),
        Some("2027-01-15T08:00:00.000Z")
    );
    assert_eq!(
        el(ns::WSU, "Expires").text(),
        Some("2027-01-15T08:05:00.000Z")
    );

    let back = Envelope::<RequestSecurityTokenResponseCollection>::decode(xml.as_bytes()).unwrap();
    let stamp = back
        .header
        .security
        .as_ref()
        .unwrap()
        .timestamp
        .as_ref()
        .unwrap();
    assert_eq!(stamp, &Timestamp::at(now(), REPLY_TIMESTAMP_TTL));
    assert_eq!(back.body.responses.len(), 1);
    let rstr = &back.body.responses[0];
    assert_eq!(
        rstr.token_type.as_deref(),
        Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT)
    );
    assert_eq!(rstr.request_id.as_deref(), Some("0"));
    let doc = rstr.provisioning_doc().unwrap();
    let p = doc.enrollment().unwrap();

    // CertificateStore: the dev CA in Root/System, the certificate in My/User (Full).
    let cs = &p.certificate_store;
    assert_eq!(cs.root_system.len(), 1);
    assert_eq!(cs.root_system[0].thumbprint, ca.thumbprint().to_string());
    assert_eq!(
        b64(&cs.root_system[0].encoded_certificate),
        ca.certificate_der()
    );
    assert_eq!(cs.my_user.len(), 1);
    assert!(cs.my_system.is_empty());
    assert!(cs.my_user_private_key_container);
    assert_eq!(cs.my_user[0].thumbprint, cert.thumbprint().to_string());
    let client_der = b64(&cs.my_user[0].encoded_certificate);
    assert_eq!(client_der, cert.der());
    assert_eq!(Thumbprint::of(&client_der), cert.thumbprint());
    assert_eq!(cs.wstep_renew, None, "renewal not offered: no WSTEP/Renew");

    // w7 APPLICATION.
    let app = p.application.as_ref().unwrap();
    assert_eq!(app.app_id.as_deref(), Some("w7"));
    assert_eq!(app.provider_id.as_deref(), Some("WinMDM Test"));
    assert_eq!(app.name.as_deref(), Some("WinMDM Test"));
    assert_eq!(
        app.addr.as_deref(),
        Some("https://mdm.example.com/ManagementServer/MDM.svc")
    );
    assert_eq!(app.conn_retry_freq, Some(6));
    assert_eq!(app.initial_backoff_time, Some(30_000));
    assert_eq!(app.max_backoff_time, Some(120_000));
    assert!(app.backcompat_retry_disabled);
    assert_eq!(
        app.default_encoding.as_deref(),
        Some("application/vnd.syncml.dm+xml")
    );
    assert_eq!(
        app.ssl_client_cert_search_criteria.as_deref(),
        Some(format!("Subject=CN%3D{DEVICE_ID}&Stores=MY%5CUser").as_str())
    );
    let doc_xml =
        String::from_utf8(b64(&rstr.requested_security_token.as_ref().unwrap().value)).unwrap();
    let independent = Document::parse(&doc_xml).unwrap();
    assert_eq!(
        independent.root_element().tag_name().name(),
        "wap-provisioningdoc"
    );
    assert!(
        doc_xml.contains(&format!("Subject=CN%3D{DEVICE_ID}&amp;Stores=MY%5CUser\"")),
        "& escaped exactly once: {doc_xml}"
    );
    assert_eq!(app.app_auth.len(), 2);
    let (client, appsrv) = (&app.app_auth[0], &app.app_auth[1]);
    assert_eq!(client.level, "CLIENT");
    assert_eq!(client.auth_type.as_deref(), Some("DIGEST"));
    assert_eq!(client.name, None);
    assert_eq!(client.secret.as_ref(), Some(&creds.server_secret));
    assert_eq!(b64(client.data.as_deref().unwrap()), creds.server_nonce);
    assert_eq!(appsrv.level, "APPSRV");
    assert_eq!(appsrv.auth_type.as_deref(), Some("DIGEST"));
    assert_eq!(appsrv.name.as_deref(), Some("demio"));
    assert_eq!(appsrv.secret.as_ref(), Some(&creds.device_secret));
    assert_eq!(b64(appsrv.data.as_deref().unwrap()), creds.device_nonce);
    assert_eq!(creds.device_nonce.len(), 16);
    assert_ne!(creds.device_nonce, creds.server_nonce, "separate nonces");
    assert_ne!(creds.device_secret, creds.server_secret);

    // DMClient: same provider, bounded poll schedule written in full.
    let dm = p.dm_client.as_ref().unwrap();
    assert_eq!(Some(dm.provider_id.as_str()), app.provider_id.as_deref());
    let poll = dm.poll.as_ref().unwrap();
    assert_eq!(poll.interval_for_first_set_of_retries, Some(3));
    assert_eq!(poll.number_of_first_retries, Some(5));
    assert_eq!(poll.interval_for_second_set_of_retries, Some(15));
    assert_eq!(poll.number_of_second_retries, Some(8));
    assert_eq!(poll.interval_for_remaining_scheduled_retries, Some(480));
    assert_eq!(poll.number_of_remaining_scheduled_retries, Some(0));

    // The issued certificate, taken from the document, passes openssl against the root
    // taken from the document.
    let (ok, out) = common::verify_sslclient(
        &common::pem(&b64(&cs.root_system[0].encoded_certificate)),
        &common::pem(&client_der),
        NOW_UNIX,
    );
    assert!(ok && out.contains("OK"), "openssl verify: {out}");
    let text = common::x509_text(&common::pem(&client_der));
    assert!(
        text.contains(&format!("Subject: CN = {DEVICE_ID}\n")),
        "{text}"
    );
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
}

#[test]
fn device_enrollment_puts_the_certificate_in_my_system() {
    let rst = String::from_utf8(RST_19043.to_vec())
        .unwrap()
        .replace("<ac:Value>Full</ac:Value>", "<ac:Value>Device</ac:Value>");
    let request = EnrollmentRequest::decode(rst.as_bytes()).unwrap();
    assert_eq!(request.enrollment_type(), EnrollmentType::Device);
    let Enrolled { cert, xml, .. } = enroll(rst.as_bytes());
    let back = Envelope::<RequestSecurityTokenResponseCollection>::decode(xml.as_bytes()).unwrap();
    let p = back.body.responses[0]
        .provisioning_doc()
        .unwrap()
        .enrollment()
        .unwrap();
    let cs = &p.certificate_store;
    assert!(cs.my_user.is_empty() && !cs.my_user_private_key_container);
    assert_eq!(cs.my_system[0].thumbprint, cert.thumbprint().to_string());
    assert!(cs.my_system_private_key_container);
    assert_eq!(
        p.application.unwrap().ssl_client_cert_search_criteria,
        Some(format!("Subject=CN%3D{DEVICE_ID}&Stores=MY%5CSystem"))
    );
}

/// Every characteristic path of a document with its parm names, thumbprints replaced.
fn shape(doc: &ProvisioningDoc) -> Vec<String> {
    fn walk(path: &str, nodes: &[WapNode], out: &mut Vec<String>) {
        for n in nodes {
            match n {
                WapNode::Parm(p) => out.push(format!("{path}@{}", p.name)),
                WapNode::Characteristic(c) => {
                    let t = if c.type_.len() == 40 && c.type_.parse::<Thumbprint>().is_ok() {
                        "<thumbprint>"
                    } else {
                        c.type_.as_str()
                    };
                    let p = format!("{path}/{t}");
                    out.push(p.clone());
                    walk(&p, &c.children, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk("", &doc.items, &mut out);
    out
}

#[test]
fn builder_output_matches_the_real_servers_document() {
    // The certificates the real server sent for this request, in its words: provider
    // "DEMO MDM", the fleet ngrok management URL.
    let real = ProvisioningDoc::decode(REAL_DOC_19043).unwrap();
    let provider = ProviderId::new("DEMO MDM").unwrap();
    let addr = HttpsUrl::new("https://windows.fleetdm.ngrok.io/ManagementServer/MDM.svc").unwrap();
    let ours = StandardProvisioning::builder(&provider, &addr)
        .name("FleetDM Demo Server - Windows")
        .root_certificate(ROOT_19043)
        .client_certificate(CLIENT_19043, EnrollmentType::Full)
        .dm_credentials(&DmCredentials::generate("dummy", &mut rand::rng()))
        .renewal(Renewal::NotOffered)
        .build()
        .unwrap();

    // The certificate store is the real one exactly (thumbprints computed, base64 one line).
    assert_eq!(
        ours.characteristics("CertificateStore").collect::<Vec<_>>(),
        real.characteristics("CertificateStore").collect::<Vec<_>>()
    );
    // Every path and parm of the real document is in ours, except the two parms that
    // server added beyond the standard set (ServerList; ROLE 4294967295).
    let ours_shape = shape(&ours);
    for path in shape(&real) {
        if path.ends_with("@ServerList") || path.ends_with("@ROLE") {
            continue;
        }
        assert!(
            ours_shape.contains(&path),
            "missing {path}: {ours_shape:#?}"
        );
    }
    // Values that must agree.
    let (r, o) = (real.enrollment().unwrap(), ours.enrollment().unwrap());
    let (ra, oa) = (r.application.unwrap(), o.application.unwrap());
    for (a, b) in [
        (&ra.app_id, &oa.app_id),
        (&ra.provider_id, &oa.provider_id),
        (&ra.name, &oa.name),
        (&ra.addr, &oa.addr),
        (&ra.default_encoding, &oa.default_encoding),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(ra.backcompat_retry_disabled, oa.backcompat_retry_disabled);
    let levels = |a: &W7Application| {
        a.app_auth
            .iter()
            .map(|x| (x.level.clone(), x.auth_type.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(levels(&ra), levels(&oa));
    assert_eq!(
        r.dm_client.unwrap().provider_id,
        o.dm_client.unwrap().provider_id
    );
    // And the parts the real server left out, which the standard document has.
    assert_eq!(
        oa.ssl_client_cert_search_criteria.as_deref(),
        Some("Subject=CN%3DB5B954E81FBCB94EB79BD08BE625F4EE&Stores=MY%5CUser")
    );
}

#[test]
fn renewal_is_an_explicit_choice() {
    let provider = ProviderId::new("WinMDM").unwrap();
    let addr = HttpsUrl::new("https://mdm.example.com/ManagementServer/MDM.svc").unwrap();
    let creds = DmCredentials::generate("d", &mut rand::rng());
    let base = || {
        StandardProvisioning::builder(&provider, &addr)
            .root_certificate(ROOT_19043)
            .client_certificate(CLIENT_19043, EnrollmentType::Full)
            .dm_credentials(&creds)
    };
    assert_eq!(
        base().build().unwrap_err(),
        ProvisioningBuildError::RenewalNotChosen
    );
    let robo = Renewal::Robo {
        renew_period_days: 42,
        retry_interval_days: 4,
    };
    assert_eq!(
        base().renewal(robo).build().unwrap_err(),
        ProvisioningBuildError::RenewalWithoutEntDmid
    );
    let doc = base()
        .renewal(robo)
        .ent_dmid("enrollment-1")
        .build()
        .unwrap();
    let p = doc.enrollment().unwrap();
    assert_eq!(
        p.certificate_store.wstep_renew,
        Some(WstepRenew {
            robo_support: Some(true),
            renew_period: Some(42),
            retry_interval: Some(4),
        })
    );
    assert_eq!(p.dm_client.unwrap().ent_dmid(), Some("enrollment-1"));
    let xml = doc.to_xml();
    assert!(
        xml.contains(r#"<parm name="ROBOSupport" value="true" datatype="boolean"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<parm name="RenewPeriod" value="42" datatype="integer"/>"#));
    let manual = Renewal::Manual {
        renew_period_days: 60,
        retry_interval_days: 5,
    };
    let p = base().renewal(manual).ent_dmid("e").build_typed().unwrap();
    assert_eq!(
        p.certificate_store.wstep_renew.unwrap().robo_support,
        Some(false)
    );
    for bad in [
        Renewal::Robo {
            renew_period_days: 0,
            retry_interval_days: 0,
        },
        Renewal::Robo {
            renew_period_days: 4,
            retry_interval_days: 5,
        },
    ] {
        assert!(matches!(
            base().renewal(bad).ent_dmid("e").build(),
            Err(ProvisioningBuildError::InvalidSetting(_))
        ));
    }
    // Missing required pieces are named.
    let no_root = StandardProvisioning::builder(&provider, &addr)
        .client_certificate(CLIENT_19043, EnrollmentType::Full)
        .renewal(Renewal::NotOffered);
    assert_eq!(
        no_root.build().unwrap_err(),
        ProvisioningBuildError::MissingRootCertificate
    );
    let no_creds = no_root.root_certificate(ROOT_19043);
    assert_eq!(
        no_creds.build().unwrap_err(),
        ProvisioningBuildError::MissingDmCredentials
    );
    assert!(matches!(
        base()
            .root_certificate(b"not DER")
            .renewal(Renewal::NotOffered)
            .build(),
        Err(ProvisioningBuildError::InvalidCertificate("root", _))
    ));
}

#[test]
fn poll_schedules_are_bounded() {
    assert!(
        PollSchedule::new(1, 0).is_err(),
        "0 first retries polls forever"
    );
    assert!(
        PollSchedule::new(0, 5).is_err(),
        "interval 0 disables the set"
    );
    assert!(PollSchedule::new(3, 5).unwrap().then(15, 0).is_err());
    let only_first = PollSchedule::new(5, 10)
        .unwrap()
        .poll_on_login(true)
        .to_poll();
    assert_eq!(only_first.number_of_first_retries, Some(10));
    assert_eq!(only_first.interval_for_first_set_of_retries, Some(5));
    // Absent sets are written disabled, so no client default applies.
    assert_eq!(only_first.interval_for_second_set_of_retries, Some(0));
    assert_eq!(only_first.interval_for_remaining_scheduled_retries, Some(0));
    assert_eq!(only_first.poll_on_login, Some(true));
    let s = PollSchedule::new(3, 5)
        .unwrap()
        .then(15, 8)
        .unwrap()
        .then_every(1560)
        .unwrap();
    assert_eq!(
        s,
        PollSchedule::new(3, 5)
            .unwrap()
            .then(15, 8)
            .unwrap()
            .then_every(1560)
            .unwrap()
    );
    assert_eq!(s.remaining().unwrap().count, 0);
    assert_eq!(s.remaining().unwrap().interval_minutes.get(), 1560);
}

#[test]
fn discover_and_get_policies_responses_from_the_server_urls() {
    let server = server();
    let request = Envelope::<Discover>::decode(DISCOVER_19043).unwrap();
    let reply = server.discover_response(&request).unwrap();
    assert_eq!(reply.header.relates_to, request.header.message_id);
    assert!(reply.header.security.is_none());
    let xml = reply.to_xml();
    Document::parse(&xml).unwrap();
    let back = Envelope::<DiscoverResponse>::decode(xml.as_bytes()).unwrap();
    assert_eq!(back, reply);
    let b = &back.body;
    assert_eq!(b.auth_policy, AuthPolicy::ON_PREMISE);
    assert_eq!(
        b.enrollment_version,
        Some(Version::V4),
        "the client asked 4.0"
    );
    assert_eq!(
        b.enrollment_policy_service_url.as_deref(),
        Some("https://mdm.example.com/EnrollmentServer/Policy.svc")
    );
    assert_eq!(
        b.enrollment_service_url,
        "https://mdm.example.com/EnrollmentServer/Enrollment.svc"
    );
    assert!(b.missing_required().is_empty());
    // The same fields the real server's response for this request had.
    let real = Envelope::<DiscoverResponse>::decode(DISCOVER_RESPONSE_19043).unwrap();
    assert_eq!(real.body.auth_policy, b.auth_policy);
    assert_eq!(real.body.enrollment_version, b.enrollment_version);
    assert_eq!(real.header.relates_to, back.header.relates_to);
    assert_eq!(
        real.body.authentication_service_url.is_some(),
        b.authentication_service_url.is_some()
    );

    // Federated needs the authentication URL and announces it.
    let mut urls = ServerUrls::standard("https://mdm.example.com:8443/ignored").unwrap();
    assert_eq!(
        urls.enrollment.as_str(),
        "https://mdm.example.com:8443/EnrollmentServer/Enrollment.svc"
    );
    let id = ProviderId::new("WinMDM").unwrap();
    assert_eq!(
        EnrollmentServer::new(id.clone(), urls.clone(), AuthPolicy::FEDERATED).unwrap_err(),
        EnrollError::MissingAuthenticationUrl
    );
    urls.authentication = Some(HttpsUrl::new("https://login.example.com/mdm").unwrap());
    let fed = EnrollmentServer::new(id, urls, AuthPolicy::FEDERATED).unwrap();
    let r = fed.discover_response(&request).unwrap();
    assert_eq!(
        r.body.authentication_service_url.as_deref(),
        Some("https://login.example.com/mdm")
    );
    let cert_only = EnrollmentServer::new(
        ProviderId::new("WinMDM").unwrap(),
        ServerUrls::standard("https://mdm.example.com").unwrap(),
        AuthPolicy::CERTIFICATE,
    )
    .unwrap();
    assert_eq!(
        cert_only.discover_response(&request).unwrap_err(),
        EnrollError::AuthPolicyNotOffered("Certificate".into())
    );

    let gp = Envelope::<GetPolicies>::decode(GET_POLICIES_19043).unwrap();
    assert_eq!(
        directory(&gp.header.credential().unwrap(), now()).unwrap(),
        "demio"
    );
    let reply = server.get_policies_response(&gp);
    assert_eq!(reply.header.relates_to, gp.header.message_id);
    assert_eq!(
        reply.header.action.as_deref(),
        Some(ns::action::GET_POLICIES_RESPONSE)
    );
    let xml = reply.to_xml();
    Document::parse(&xml).unwrap();
    let back = Envelope::<GetPoliciesResponse>::decode(xml.as_bytes()).unwrap();
    assert_eq!(back, reply);
    let attrs = &back.body.policies[0].attributes;
    assert_eq!(attrs.common_name.as_deref(), Some("WinMDM Test"));
    assert_eq!(attrs.policy_schema, Some(3));
    assert_eq!(
        attrs
            .private_key_attributes
            .as_ref()
            .unwrap()
            .minimal_key_length,
        2048
    );
    let v = attrs.certificate_validity.as_ref().unwrap();
    assert_eq!(v.validity_period_seconds, 365 * 86_400);
    assert_eq!(v.renewal_period_seconds, 60 * 86_400);
    let hash = attrs.hash_algorithm_oid_reference.unwrap();
    assert_eq!(back.body.oid(hash).unwrap().value, "2.16.840.1.101.3.4.2.1");
}

#[test]
fn each_phase_fails_with_its_own_error_and_fault() {
    // Decoding: a renewal RST is not an Issue request.
    let e = EnrollmentRequest::decode(RENEW_RST).unwrap_err();
    assert!(
        matches!(e, EnrollError::NotIssue(Some(ref t)) if t.ends_with("/Renew")),
        "{e:?}"
    );
    assert_eq!(e.fault_code(), FaultCode::MESSAGE_FORMAT);
    assert!(matches!(
        EnrollmentRequest::decode(b"<not-soap/>"),
        Err(EnrollError::Decode(_))
    ));
    let text = String::from_utf8(RST_19043.to_vec()).unwrap();
    let lite = text.replace("<ac:Value>Full</ac:Value>", "<ac:Value>Lite</ac:Value>");
    assert_eq!(
        EnrollmentRequest::decode(lite.as_bytes()).unwrap_err(),
        EnrollError::UnknownEnrollmentType("Lite".into())
    );

    // Authentication.
    let wrong = text.replace(">demo</wsse:Password>", ">wrong</wsse:Password>");
    let request = EnrollmentRequest::decode(wrong.as_bytes()).unwrap();
    let e = request.authenticate(&directory, now()).unwrap_err();
    assert_eq!(e, EnrollError::Auth(AuthError::InvalidCredentials));
    let fault = e.fault();
    assert_eq!(fault.subcode, Some(FaultCode::AUTHENTICATION));
    assert!(!fault.reason.contains("wrong"));
    let start = text.find("<wsse:Security").unwrap();
    let end = text.find("</wsse:Security>").unwrap() + "</wsse:Security>".len();
    let anonymous = format!("{}{}", &text[..start], &text[end..]);
    let request = EnrollmentRequest::decode(anonymous.as_bytes()).unwrap();
    assert_eq!(
        request.authenticate(&directory, now()).unwrap_err(),
        EnrollError::MissingCredential
    );

    // Certificate request: the context DeviceID must match the CSR's.
    let other = text.replace(
        &format!("<ac:Value>{DEVICE_ID}</ac:Value>"),
        "<ac:Value>00000000000000000000000000000000</ac:Value>",
    );
    let request = EnrollmentRequest::decode(other.as_bytes()).unwrap();
    let e = request.verify_csr(&CsrPolicy::default()).unwrap_err();
    assert!(matches!(e, EnrollError::DeviceIdMismatch { .. }), "{e:?}");
    assert_eq!(e.fault_code(), FaultCode::CERTIFICATE_REQUEST);
    let mut strict = CsrPolicy::default();
    strict.allow_sha1 = false;
    let request = EnrollmentRequest::decode(RST_19043).unwrap();
    assert!(matches!(
        request.verify_csr(&strict),
        Err(EnrollError::Csr(_))
    ));
    let env = Envelope::<Fault>::response(
        EnrollError::MissingDeviceId.fault(),
        request.header().message_id.as_deref(),
    );
    assert_eq!(env.http_status(), 500);
}

#[test]
fn newtypes_validate_their_input() {
    for bad in [
        "http://mdm.example.com",
        "https://",
        "https:///path",
        "https://:443/x",
        "https://user@mdm.example.com/",
        "https://mdm.example.com/a b",
        "https://mdm.example.com/#frag",
        "mdm.example.com",
    ] {
        assert!(HttpsUrl::new(bad).is_err(), "{bad}");
    }
    for good in [
        "https://mdm.example.com",
        "HTTPS://mdm.example.com:443/ManagementServer/MDM.svc?x=1",
        "https://[::1]:8443/x",
    ] {
        assert!(HttpsUrl::new(good).is_ok(), "{good}");
    }
    assert_eq!(
        HttpsUrl::new("https://h.example:8443/a/b?c")
            .unwrap()
            .origin(),
        "https://h.example:8443"
    );
    for bad in ["", " x", "x ", "a/b", "a\nb", &"x".repeat(129)] {
        assert!(ProviderId::new(bad).is_err(), "{bad:?}");
    }
    assert_eq!(ProviderId::new("DEMO MDM").unwrap().as_str(), "DEMO MDM");
    assert_eq!(
        EnrollmentType::from_context(None),
        Some(EnrollmentType::Full)
    );
    assert_eq!(
        EnrollmentType::from_context(Some(" device ")),
        Some(EnrollmentType::Device)
    );
    // A common name is taken literally.
    let s = Subject::common_name("a,O=evil").unwrap();
    assert_eq!(s.name().iter_rdn().count(), 1, "one RDN");
    assert_eq!(s.to_string(), "CN=a\\,O=evil");
    let cn = s.name().common_name().unwrap().unwrap();
    assert_eq!(cn.value(), "a,O=evil");
    assert!(Subject::common_name("").is_err());
    assert!(Subject::common_name("a\0").is_err());
    assert_eq!(
        Subject::common_name(DEVICE_ID).unwrap(),
        Subject::try_from(format!("CN={DEVICE_ID}").as_str()).unwrap()
    );
}

#[test]
fn search_criteria_are_uri_escaped() {
    assert_eq!(
        ssl_client_cert_search_criteria("CN=Tester,O=Microsoft", EnrollmentType::Full),
        "Subject=CN%3DTester%2CO%3DMicrosoft&Stores=MY%5CUser"
    );
    assert_eq!(
        ssl_client_cert_search_criteria("CN=a b&c", EnrollmentType::Device),
        "Subject=CN%3Da%20b%26c&Stores=MY%5CSystem"
    );
}
