//! Every enrollment message of the corpus copy in `tests/data/messages/` (see its
//! PROVENANCE.md): well-formed ones decode and round-trip, malformed-as-published ones
//! fail with a positioned error, and the decoded content is what the files say.

use std::path::{Path, PathBuf};

use winmdm_enroll::*;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/messages")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Files the corpus index flags MALFORMED as published, plus the real PoC server
/// response that is not well-formed as captured (`<algorithmOIDReferencexsi:nil="true"/>`),
/// with the line the error must point at.
const MALFORMED: &[(&str, usize)] = &[
    (
        "published/certificate-authentication-device-enrollment_03_getpolicies-request.http",
        25,
    ),
    (
        "published/certificate-authentication-device-enrollment_05_rst-request.http",
        26,
    ),
    (
        "published/federated-authentication-device-enrollment_07_rst-request.xml",
        75,
    ),
    (
        "published/federated-authentication-device-enrollment_09_wap-provisioningdoc.xml",
        22,
    ),
    ("fleet/win10-19043/04-server-getpolicies-response.xml", 18),
];

/// The GET probe capture: no XML body.
const PROBE: &str = "published/federated-authentication-device-enrollment_01_discovery-get.http";

fn all_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("xml" | "http")) {
                out.push(
                    p.strip_prefix(base)
                        .expect("prefix")
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(&data(), &data(), &mut out);
    out.sort();
    out
}

fn decode(rel: &str) -> Message {
    let bytes = read(rel);
    Message::decode_capture(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn corpus_copy_is_complete() {
    let files = all_files();
    assert_eq!(files.len(), 50, "{files:#?}");
    for (m, _) in MALFORMED {
        assert!(files.iter().any(|f| f == m), "{m} missing");
    }
}

#[test]
fn every_well_formed_message_decodes_and_round_trips() {
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for rel in all_files() {
        if rel == PROBE || MALFORMED.iter().any(|(m, _)| *m == rel) {
            continue;
        }
        let msg = decode(&rel);
        *kinds.entry(msg.kind()).or_default() += 1;
        let xml = msg.to_xml();
        let again = Message::decode(xml.as_bytes())
            .unwrap_or_else(|e| panic!("{rel} re-encoded: {e}\n{xml}"));
        assert_eq!(again, msg, "{rel} does not round-trip:\n{xml}");
        // Encoding is stable.
        assert_eq!(again.to_xml(), xml, "{rel}");
        // The output is well-formed for an independent parser.
        roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{rel}: roxmltree: {e}"));
    }
    let expected: &[(&str, usize)] = &[
        ("Discover", 9),
        ("DiscoverResponse", 5),
        ("Fault", 2),
        ("GetPolicies", 4),
        ("GetPoliciesResponse", 5),
        ("RequestSecurityToken", 8),
        ("RequestSecurityTokenResponseCollection", 4),
        ("wap-provisioningdoc", 7),
    ];
    let got: Vec<(&str, usize)> = kinds.into_iter().collect();
    assert_eq!(got, expected);
}

#[test]
fn malformed_as_published_fail_with_a_positioned_error() {
    for (rel, line) in MALFORMED {
        let bytes = read(rel);
        let err = Message::decode_capture(&bytes).expect_err(rel);
        assert!(err.offset > 0 && err.offset <= bytes.len(), "{rel}: {err}");
        assert_eq!(err.line, *line, "{rel}: {err:?}");
        assert!(err.column >= 1);
        assert!(
            matches!(
                err.kind,
                MessageErrorKind::Xml(XmlErrorKind::Syntax(_) | XmlErrorKind::UnboundPrefix(_))
            ),
            "{rel}: {err:?}"
        );
    }
}

#[test]
fn discovery_get_probe_is_recognised() {
    let bytes = read(PROBE);
    let split = split_http(&bytes);
    let line = split.start_line.expect("request line");
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap(), parts.next().unwrap());
    assert!(is_discovery_probe(method, path));
    assert!(!is_discovery_probe("POST", path));
    assert!(is_discovery_probe(
        "GET",
        "/enrollmentserver/discovery.svc?x=1"
    ));
    let r = probe_response();
    assert_eq!((r.status, r.body), (200, ""));
}

#[test]
fn discover_requests_carry_their_fields() {
    let Message::Discover(d) =
        decode("published/mattrax-capture_01_discover-request-win11-22621.xml")
    else {
        panic!("not a Discover")
    };
    assert_eq!(d.version, SoapVersion::Soap12);
    assert_eq!(d.header.action.as_deref(), Some(ns::action::DISCOVER));
    assert_eq!(
        d.header.message_id.as_deref(),
        Some("urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478")
    );
    assert_eq!(d.header.reply_to.as_deref(), Some(ns::ANONYMOUS));
    assert_eq!(
        d.header.to.as_deref(),
        Some("https://EnterpriseEnrollment.otbeaumont.me:443/EnrollmentServer/Discovery.svc")
    );
    let b = &d.body;
    assert_eq!(b.email_address.as_deref(), Some("oscar@otbeaumont.me"));
    assert_eq!(b.request_version, Some(Version::V6));
    assert_eq!(b.device_type.as_deref(), Some("CIMClient_Windows"));
    assert_eq!(b.application_version.as_deref(), Some("10.0.22621.3155"));
    assert_eq!(b.os_edition_number(), Some(101));
    assert_eq!(
        b.auth_policies,
        vec![AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED]
    );

    // Doc sample: trailing-slash namespace, flat AuthPolicies text, unknown OSVersion kept,
    // whitespace around Action/To trimmed, "urn:uuid: 7481..." kept as written.
    let Message::Discover(d) =
        decode("published/certificate-authentication-device-enrollment_01_discover-request.http")
    else {
        panic!("not a Discover")
    };
    assert_eq!(d.header.action.as_deref(), Some(ns::action::DISCOVER));
    assert_eq!(
        d.header.message_id.as_deref(),
        Some("urn:uuid: 748132ec-a575-4329-b01b-6171a9cf8478")
    );
    assert_eq!(d.body.auth_policies, vec![AuthPolicy::CERTIFICATE]);
    assert_eq!(d.body.request_version, Some(Version::V3));
    assert_eq!(d.body.other.len(), 1);
    assert_eq!(d.body.other[0].name, "OSVersion");
    assert_eq!(d.body.other[0].namespace.as_deref(), Some(ns::ENROLL_SLASH));
    assert_eq!(d.body.other[0].text(), "10.0.0.0");

    // Entra/automatic enrollment: empty EmailAddress is kept, not rejected.
    let Message::Discover(d) = decode("published/fleet-mdmtest_01_discover-empty-email.xml") else {
        panic!("not a Discover")
    };
    assert_eq!(d.body.email_address.as_deref(), Some(""));
    assert_eq!(d.body.request_version, Some(Version::V5));

    let Message::Discover(d) = decode("fleet/win10-19043/01-device-discover.xml") else {
        panic!("not a Discover")
    };
    assert_eq!(d.body.request_version, Some(Version::V4));
    assert_eq!(d.body.os_edition.as_deref(), Some("72"));
}

#[test]
fn discover_responses_carry_their_urls() {
    let Message::DiscoverResponse(r) =
        decode("published/ms-mde2-spec_4.1.2.1_discover-response-federated-v5.xml")
    else {
        panic!("not a DiscoverResponse")
    };
    assert_eq!(r.body.auth_policy, AuthPolicy::FEDERATED);
    assert_eq!(r.body.enrollment_version, Some(Version::V5));
    assert_eq!(
        r.body.authentication_service_url.as_deref(),
        Some("https://portal.manage.contoso.com/LoginRedirect.aspx")
    );
    assert_eq!(
        r.header.activity_id.as_ref().map(|a| a.value.as_str()),
        Some("d9eb2fdd-e38a-46ee-bd93-aea9dc86a3b8")
    );
    let Message::DiscoverResponse(r) = decode("fleet/win10-19043/02-server-discover-response.xml")
    else {
        panic!("not a DiscoverResponse")
    };
    assert_eq!(
        r.body.enrollment_service_url,
        "https://windows.fleetdm.ngrok.io/EnrollmentServer/Enrollment.svc"
    );
    assert_eq!(
        r.body.enrollment_policy_service_url.as_deref(),
        Some("https://windows.fleetdm.ngrok.io/EnrollmentServer/Policy.svc")
    );
    let act = r.header.activity_id.expect("ActivityId");
    assert_eq!(
        act.correlation_id.as_deref(),
        Some("8c6060c4-3d78-4d73-ae17-e8bce88426ee")
    );
}

#[test]
fn get_policies_security_headers() {
    let Message::GetPolicies(g) = decode("fleet/win10-19043/03-device-getpolicies.xml") else {
        panic!("not GetPolicies")
    };
    let ut = g
        .header
        .security
        .as_ref()
        .and_then(|s| s.username_token.as_ref())
        .expect("UsernameToken");
    assert_eq!(ut.id.as_deref(), Some(ns::USERNAME_TOKEN_ID));
    assert_eq!(ut.username, "demio");
    assert_eq!(ut.password.as_ref().map(Secret::expose), Some("demo"));
    assert_eq!(ut.password_type.as_deref(), Some(ns::PASSWORD_TEXT));
    assert_eq!(g.body.last_update, None);
    assert_eq!(g.body.request_filter, None);

    let Message::GetPolicies(g) =
        decode("published/federated-authentication-device-enrollment_05_getpolicies-request.xml")
    else {
        panic!("not GetPolicies")
    };
    let bst = g
        .header
        .security
        .as_ref()
        .and_then(|s| s.binary_security_token.as_ref())
        .expect("BST");
    assert_eq!(bst.value_type.as_ref(), Some(&ValueType::USER_TOKEN));
    assert_eq!(bst.encoding_type.as_deref(), Some(ENCODING_BASE64));
    assert_eq!(bst.value, "B64EncodedSampleBinarySecurityToken");

    // Certificate auth: Timestamp, X509v3 token with Id, ds:Signature kept generic.
    let Message::GetPolicies(g) =
        decode("published/ms-mde2-spec_4.2.1.2_getpolicies-certificate.xml")
    else {
        panic!("not GetPolicies")
    };
    let sec = g.header.security.expect("Security");
    assert_eq!(
        sec.timestamp.as_ref().and_then(|t| t.created.as_deref()),
        Some("2015-06-13T21:13:37Z")
    );
    let bst = sec.binary_security_token.expect("BST");
    assert_eq!(bst.value_type.as_ref(), Some(&ValueType::X509V3));
    assert_eq!(
        bst.id.as_deref(),
        Some("uuid-29801C2F-F26B-46AD-984B-AFAEFB545FF8")
    );
    assert_eq!(sec.other.len(), 1);
    assert_eq!(
        (
            sec.other[0].namespace.as_deref(),
            sec.other[0].name.as_str()
        ),
        (Some(ns::DS), "Signature")
    );
}

#[test]
fn get_policies_responses_carry_the_full_policy() {
    let Message::GetPoliciesResponse(r) =
        decode("published/federated-authentication-device-enrollment_06_getpolicies-response.xml")
    else {
        panic!("not GetPoliciesResponse")
    };
    let p = &r.body.policies[0];
    assert_eq!(p.policy_oid_reference, Some(0));
    let a = &p.attributes;
    assert_eq!(a.common_name.as_deref(), Some("CEPUnitTest"));
    assert_eq!(a.policy_schema, Some(3));
    assert_eq!(
        a.certificate_validity,
        Some(CertificateValidity {
            validity_period_seconds: 1_209_600,
            renewal_period_seconds: 172_800
        })
    );
    assert_eq!(
        a.permission,
        Some(Permission {
            enroll: true,
            auto_enroll: false
        })
    );
    assert_eq!(
        a.private_key_attributes
            .as_ref()
            .map(|k| k.minimal_key_length),
        Some(2048)
    );
    assert_eq!(
        a.revision,
        Some(Revision {
            major: 101,
            minor: 0
        })
    );
    assert_eq!(a.hash_algorithm_oid_reference, Some(0));
    let oid = r.body.oid(0).expect("oID 0");
    assert_eq!((oid.value.as_str(), oid.group), ("1.3.14.3.2.29", 1));

    let Message::GetPoliciesResponse(r) =
        decode("published/ms-mde2-spec_4.2.2_getpolicies-response-v5-attestation.xml")
    else {
        panic!("not GetPoliciesResponse")
    };
    let k = r.body.policies[0]
        .attributes
        .private_key_attributes
        .clone()
        .expect("pka");
    assert_eq!(
        k.attestation_failure_behavior,
        Some(AttestationFailureBehavior::RETRY_ON_ERROR)
    );
    assert_eq!(k.operation_timeout, Some(100));
    assert_eq!(
        k.crypto_providers,
        Some(vec![
            "Microsoft Platform Crypto Provider".into(),
            "Microsoft Software Key Storage Provider".into()
        ])
    );
    assert_eq!(
        r.body.oids[0].default_name.as_deref(),
        Some("szOID_NIST_sha256")
    );
    assert_eq!(r.body.oids[0].group, 4);

    let Message::GetPoliciesResponse(r) =
        decode("published/ms-mde2-spec_4.2.3_getpolicies-response-azure-attestation.xml")
    else {
        panic!("not GetPoliciesResponse")
    };
    let at = r.body.policies[0]
        .attributes
        .attestation
        .clone()
        .expect("attestation");
    // p10:nil="true" next to content: the content wins.
    assert_eq!(
        at.attestation_failure_behavior,
        Some(AttestationFailureBehavior::IGNORE_ON_ERROR)
    );
    assert_eq!(at.operation_timeout, Some(100));
    let az = at.azure_attestation.expect("azureAttestation");
    assert_eq!(az.nonce.as_deref(), Some("NonceBlob"));
    assert_eq!(az.relying_party_id.as_deref(), Some("PartyId"));
    assert_eq!(az.endpoint_uri.as_deref(), Some("attest.azure.net/attest"));
}

#[test]
fn rst_keeps_every_context_item_in_order() {
    let Message::RequestSecurityToken(r) = decode("fleet/win10-19043/05-device-rst.xml") else {
        panic!("not RST")
    };
    let b = &r.body;
    assert_eq!(
        b.token_type.as_deref(),
        Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT)
    );
    assert_eq!(b.request_type, Some(RequestType::ISSUE));
    let bst = b.binary_security_token.as_ref().expect("BST");
    assert_eq!(bst.value_type.as_ref(), Some(&ValueType::PKCS10));
    let der = bst.decode_base64().expect("base64");
    assert_eq!(der, read("../pki/win10-19043-device-rst.csr.der"));
    let ac = &b.additional_context;
    assert_eq!(ac.items.len(), 18);
    assert_eq!(
        ac.mac_addresses(),
        vec![
            "00-0C-29-51-60-9D",
            "1A-77-20-52-41-53",
            "1A-77-20-52-41-53",
            "00-0C-29-51-60-A7",
            "18-14-20-52-41-53",
            "00-0C-29-51-60-93"
        ]
    );
    assert_eq!(ac.device_id(), Some("B5B954E81FBCB94EB79BD08BE625F4EE"));
    assert_eq!(ac.enrollment_type(), Some("Full"));
    assert_eq!(ac.items[0].name, "UXInitiated");
    assert_eq!(ac.items[17].name, "NotInOobe");
    assert!(!b.is_pkcs7());

    // Multi-line base64 CSR decodes.
    let Message::RequestSecurityToken(r) =
        decode("published/fleet-mdmtest_02_rst-pkcs10-multiline.xml")
    else {
        panic!("not RST")
    };
    let der = r
        .body
        .binary_security_token
        .as_ref()
        .unwrap()
        .decode_base64()
        .expect("multi-line base64");
    assert_eq!(der, read("../pki/mdmtest-windows.csr.der"));

    // " 4" and IMEI repeats in the doc sample.
    let Message::RequestSecurityToken(r) =
        decode("published/on-premise-authentication-device-enrollment_05_rst-request.xml")
    else {
        panic!("not RST")
    };
    let ac = &r.body.additional_context;
    assert_eq!(ac.items[0].value.as_deref(), Some(" 4"));
    assert_eq!(ac.os_edition(), Some(4));
    assert_eq!(
        ac.all("IMEI").collect::<Vec<_>>(),
        vec!["49015420323756", "30215420323756"]
    );
    let pw = r
        .header
        .security
        .unwrap()
        .username_token
        .unwrap()
        .password
        .unwrap();
    assert_eq!(pw.expose().trim(), "mypassword");

    // Full v5 context with 'Name = ' spacing and an AzureAttestationBlob in v6.
    let Message::RequestSecurityToken(r) =
        decode("published/ms-mde2-spec_4.3.1.1_rst-federated-v5-full-context.xml")
    else {
        panic!("not RST")
    };
    let ac = &r.body.additional_context;
    assert_eq!(
        ac.get("OfflineAutoPilotEnrollmentCorrelator"),
        Some("ffffffff-ffff-4fff-afff-ffffffffffff")
    );
    assert_eq!(ac.get("HWDevID").map(str::len), Some(64));
    assert_eq!(
        ac.get("EmmDeviceId"),
        Some("9A51D698-40C7-499C-928E-EF7FD76E62C0")
    );
    assert_eq!(ac.get("AADPub"), Some("FFFFFFFFFFFF"));
    let Message::RequestSecurityToken(r) =
        decode("published/ms-mde2-spec_4.3.1.2_rst-federated-azure-attestation-v6.xml")
    else {
        panic!("not RST")
    };
    assert_eq!(r.body.additional_context.get("RequestVersion"), Some("6.0"));
    assert!(
        r.body
            .additional_context
            .get("AzureAttestationBlob")
            .is_some()
    );
}

#[test]
fn renewal_rst_is_pkcs7_with_default_namespace_elements() {
    let Message::RequestSecurityToken(r) =
        decode("published/certificate-renewal-windows-mdm_01_rst-renew.xml")
    else {
        panic!("not RST")
    };
    assert_eq!(r.body.request_type, Some(RequestType::RENEW));
    assert!(r.body.is_pkcs7());
    assert_eq!(
        r.body.additional_context.get("DeviceType"),
        Some("WindowsPhone")
    );
    let sec = r.header.security.expect("Security");
    assert_eq!(sec.timestamp.and_then(|t| t.id), Some("_0".into()));
    let ut = sec.username_token.expect("UsernameToken");
    assert_eq!(ut.username, "user@contoso.com");
    assert_eq!(
        ut.password.map(|p| p.expose().trim().to_owned()),
        Some(String::new())
    );
}

#[test]
fn rstrc_carries_the_provisioning_document() {
    let Message::RequestSecurityTokenResponseCollection(c) =
        decode("fleet/win10-19043/06-server-rstrc.xml")
    else {
        panic!("not RSTRC")
    };
    let r = &c.body.responses[0];
    assert_eq!(
        r.token_type.as_deref(),
        Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT)
    );
    assert_eq!(r.disposition_message.as_deref(), Some(""));
    let bst = r.requested_security_token.as_ref().expect("BST");
    assert_eq!(bst.value_type.as_ref(), Some(&ValueType::PROVISION_DOC));
    let from_rstrc = r.provisioning_doc().expect("provisioning doc");
    let standalone = ProvisioningDoc::decode(&read(
        "fleet/win10-19043/06-server-rstrc.provisioningdoc.xml",
    ))
    .unwrap();
    assert_eq!(from_rstrc, standalone);
    let ts = c
        .header
        .security
        .and_then(|s| s.timestamp)
        .expect("Timestamp");
    assert_eq!(ts.expires.as_deref(), Some("2018-12-30T00:37:59.420Z"));

    // SOAP 1.1 envelope in the docs: accepted, version recorded.
    let Message::RequestSecurityTokenResponseCollection(c) =
        decode("published/on-premise-authentication-device-enrollment_06_rstr-response.xml")
    else {
        panic!("not RSTRC")
    };
    assert_eq!(c.version, SoapVersion::Soap11);
    assert_eq!(c.body.responses[0].request_id.as_deref(), Some("0"));
    // Unprefixed Action in no namespace.
    let Message::RequestSecurityTokenResponseCollection(c) =
        decode("published/certificate-authentication-device-enrollment_06_rstr-response.http")
    else {
        panic!("not RSTRC")
    };
    assert_eq!(c.header.action.as_deref(), Some(ns::action::RSTRC));
}

#[test]
fn lower_cased_doc_faults_decode() {
    let Message::Fault(f) =
        decode("published/mobile-device-enrollment_02_soap-fault-devicecapreached.xml")
    else {
        panic!("not a fault")
    };
    assert_eq!(f.body.code.namespace, CodeNamespace::Soap);
    assert!(f.body.code.eq_ignore_case(&FaultCode::RECEIVER));
    let sub = f.body.subcode.clone().expect("subcode");
    assert!(sub.eq_ignore_case(&FaultCode::AUTHORIZATION));
    assert_eq!(sub.hresult(), Some(0x8018_0003));
    assert_eq!(f.body.reason, "device cap reached");
    assert_eq!(f.body.reason_lang.as_deref(), Some("en-us"));
    let e = f
        .body
        .enrollment_error
        .clone()
        .expect("deviceenrollmentserviceerror");
    assert_eq!(e.error_type.hresult(), Some(0x8018_0013));
    assert_eq!(
        e.trace_id.as_deref(),
        Some("2493ee37-beeb-4cb9-833c-cadde9067645")
    );
    assert_eq!(
        f.header.relates_to.as_deref(),
        Some("urn:uuid:urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749")
    );
    assert_eq!(f.http_status(), 500);
}

#[test]
fn the_real_provisioning_document_decodes_typed() {
    let doc = ProvisioningDoc::decode(&read(
        "fleet/win10-19043/06-server-rstrc.provisioningdoc.xml",
    ))
    .unwrap();
    assert_eq!(doc.version.as_deref(), Some("1.1"));
    let p = doc.enrollment().unwrap();
    let cs = &p.certificate_store;
    assert_eq!(cs.root_system.len(), 1);
    assert_eq!(
        cs.root_system[0].thumbprint,
        "D9A88E04AF18A4D399CEE62F2C71469C3AE1E675"
    );
    assert!(
        cs.root_system[0]
            .encoded_certificate
            .starts_with("MIIFTjCCAzag")
    );
    assert_eq!(
        cs.my_user[0].thumbprint,
        "8F2EBD13F3612D7C48C30E24CC73A88492613849"
    );
    assert!(cs.my_user_private_key_container);
    assert!(cs.my_system.is_empty());
    let a = p.application.clone().expect("APPLICATION");
    assert_eq!(a.app_id.as_deref(), Some("w7"));
    assert_eq!(a.provider_id.as_deref(), Some("DEMO MDM"));
    assert_eq!(
        a.addr.as_deref(),
        Some("https://windows.fleetdm.ngrok.io/ManagementServer/MDM.svc")
    );
    assert!(a.backcompat_retry_disabled);
    assert_eq!(
        a.default_encoding.as_deref(),
        Some("application/vnd.syncml.dm+xml")
    );
    assert_eq!(a.app_auth.len(), 2);
    assert_eq!(a.app_auth[0].level, "CLIENT");
    assert_eq!(a.app_auth[1].level, "APPSRV");
    assert_eq!(a.app_auth[1].name.as_deref(), Some("dummy"));
    // Unknown parms kept in order: ServerList, ROLE.
    let names: Vec<&str> = a
        .other
        .iter()
        .filter_map(|n| {
            if let WapNode::Parm(p) = n {
                Some(p.name.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(names, vec!["ServerList", "ROLE"]);
    let d = p.dm_client.clone().expect("DMClient");
    assert_eq!(d.provider_id, "DEMO MDM");
    assert_eq!(d.poll.and_then(|p| p.number_of_first_retries), Some(8));
    // The typed view rebuilds the same document content.
    assert_eq!(EnrollmentProvisioning::from_doc(&p.to_doc()).unwrap(), p);
}

#[test]
fn documentation_provisioning_documents_decode_typed() {
    let doc = ProvisioningDoc::decode(&read(
        "published/certificate-authentication-device-enrollment_07_wap-provisioningdoc.xml",
    ))
    .unwrap();
    let p = doc.enrollment().unwrap();
    assert_eq!(
        p.certificate_store.wstep_renew,
        Some(WstepRenew {
            robo_support: Some(true),
            renew_period: Some(60),
            retry_interval: Some(4)
        })
    );
    let a = p.application.clone().unwrap();
    assert_eq!(a.conn_retry_freq, Some(6));
    assert_eq!(a.initial_backoff_time, Some(30_000));
    assert_eq!(a.max_backoff_time, Some(120_000));
    // The doc double-escapes the ampersand (&amp;amp;): kept as the document says.
    assert_eq!(
        a.ssl_client_cert_search_criteria.as_deref(),
        Some(
            "Subject=DC%3dcom%2cDC%3dmicrosoft%2cCN%3dUsers%2cCN%3dAdministrator&amp;Stores=My%5CUser"
        )
    );
    assert_eq!(a.app_auth[1].auth_type.as_deref(), Some("BASIC"));
    let d = p.dm_client.unwrap();
    assert_eq!(d.get("UPN"), Some("UserPrincipalName"));
    assert_eq!(d.get("EntDeviceName"), Some("Administrator_Windows"));
    let poll = d.poll.unwrap();
    assert_eq!(poll.interval_for_remaining_scheduled_retries, Some(1560));
    assert_eq!(poll.poll_on_login, Some(true));

    let doc = ProvisioningDoc::decode(&read(
        "published/ms-mde2-spec_2.2.9.1_wap-provisioningdoc-device-context.xml",
    ))
    .unwrap();
    let p = doc.enrollment().unwrap();
    assert_eq!(p.certificate_store.my_system.len(), 1);
    assert!(p.certificate_store.my_system_private_key_container);

    // Fragments printed without the wap-provisioningdoc root.
    let doc = ProvisioningDoc::decode(&read(
        "published/w7-application-csp_01_sslclientcertsearchcriteria-parm.xml",
    ))
    .unwrap();
    assert_eq!(
        doc.items,
        vec![WapNode::Parm(Parm::new(
            "SSLCLIENTCERTSEARCHCRITERIA",
            "Subject=CN%3DTester,O%3DMicrosoft&Stores=My%5CUser"
        ))]
    );
    let doc = ProvisioningDoc::decode(&read(
        "published/ms-mde2-spec_3.5.4.1.1.2_renewal-certstore-fragment.xml",
    ))
    .unwrap();
    let p = doc.enrollment().unwrap();
    // Trailing space in the thumbprint placeholder is kept verbatim.
    assert_eq!(
        p.certificate_store.root_system[0].thumbprint,
        "EncodedRootCertHashInsertedHere "
    );
}

#[test]
fn prefixes_do_not_matter() {
    let a = decode("fleet/win10-19043/05-device-rst.xml");
    let xml = String::from_utf8(read("fleet/win10-19043/05-device-rst.xml")).unwrap();
    let mut renamed = xml.clone();
    for (from, to) in [("s", "soap"), ("wst", "t"), ("ac", "ctx")] {
        renamed = renamed
            .replace(&format!("<{from}:"), &format!("<{to}:"))
            .replace(&format!("</{from}:"), &format!("</{to}:"))
            .replace(
                &format!(" {from}:mustUnderstand"),
                &format!(" {to}:mustUnderstand"),
            )
            .replace(&format!("xmlns:{from}="), &format!("xmlns:{to}="));
    }
    assert_ne!(renamed, xml);
    let b = Message::decode(renamed.as_bytes()).unwrap();
    assert_eq!(a, b);
    // SOAP 1.1 envelope: same content, version recorded.
    let soap11 = xml.replace(ns::SOAP12, ns::SOAP11);
    let Message::RequestSecurityToken(c) = Message::decode(soap11.as_bytes()).unwrap() else {
        panic!()
    };
    let Message::RequestSecurityToken(a) = a else {
        panic!()
    };
    assert_eq!(c.version, SoapVersion::Soap11);
    assert_eq!((c.header, c.body), (a.header, a.body));
}
