//! Responses built with this crate decode with its own parser, are well-formed for an
//! independent parser (roxmltree), and carry every element MS-MDE2 requires.

use roxmltree::{Document, Node};
use winmdm_enroll::*;

/// Finds a descendant element by namespace and local name.
fn find<'a, 'i>(doc: &'a Document<'i>, ns_uri: &str, name: &str) -> Option<Node<'a, 'i>> {
    doc.descendants().find(|n| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns_uri)
    })
}

fn text<'a>(doc: &'a Document<'_>, ns_uri: &str, name: &str) -> &'a str {
    find(doc, ns_uri, name)
        .unwrap_or_else(|| panic!("missing {{{ns_uri}}}{name}"))
        .text()
        .unwrap_or("")
}

fn assert_envelope(doc: &Document<'_>, action: &str) {
    let root = doc.root_element();
    assert_eq!(
        root.tag_name().namespace(),
        Some(ns::SOAP12),
        "SOAP 1.2 is sent"
    );
    assert_eq!(root.tag_name().name(), "Envelope");
    let a = find(doc, ns::ADDRESSING, "Action").expect("a:Action");
    assert_eq!(a.text(), Some(action));
    assert_eq!(a.attribute((ns::SOAP12, "mustUnderstand")), Some("1"));
    assert!(find(doc, ns::SOAP12, "Header").is_some());
    assert!(find(doc, ns::SOAP12, "Body").is_some());
}

#[test]
fn discover_response_has_the_required_elements() {
    let mut env = Envelope::new(
        ns::action::DISCOVER_RESPONSE,
        DiscoverResponse {
            auth_policy: AuthPolicy::FEDERATED,
            enrollment_version: Some(Version::V5),
            enrollment_policy_service_url: Some(
                "https://mdm.example/EnrollmentServer/Policy.svc".into(),
            ),
            enrollment_service_url: "https://mdm.example/EnrollmentServer/Enrollment.svc".into(),
            authentication_service_url: Some("https://mdm.example/auth".into()),
            other: Vec::new(),
        },
    );
    env.header.relates_to = Some("urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478".into());
    let xml = env.to_xml();
    let doc = Document::parse(&xml).unwrap();
    assert_envelope(&doc, ns::action::DISCOVER_RESPONSE);
    assert_eq!(
        text(&doc, ns::ADDRESSING, "RelatesTo"),
        "urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478"
    );
    assert!(find(&doc, ns::ENROLL, "DiscoverResponse").is_some());
    assert!(find(&doc, ns::ENROLL, "DiscoverResult").is_some());
    assert_eq!(text(&doc, ns::ENROLL, "AuthPolicy"), "Federated");
    assert_eq!(text(&doc, ns::ENROLL, "EnrollmentVersion"), "5.0");
    assert_eq!(
        text(&doc, ns::ENROLL, "EnrollmentServiceUrl"),
        "https://mdm.example/EnrollmentServer/Enrollment.svc"
    );
    assert_eq!(
        text(&doc, ns::ENROLL, "EnrollmentPolicyServiceUrl"),
        "https://mdm.example/EnrollmentServer/Policy.svc"
    );
    assert_eq!(
        text(&doc, ns::ENROLL, "AuthenticationServiceUrl"),
        "https://mdm.example/auth"
    );
    assert_eq!(
        Envelope::<DiscoverResponse>::decode(xml.as_bytes()).unwrap(),
        env
    );
}

#[test]
fn get_policies_response_has_the_required_elements() {
    let body = GetPoliciesResponse::single_policy(
        "WinMDM",
        2048,
        CertificateValidity {
            validity_period_seconds: 365 * 86_400,
            renewal_period_seconds: 42 * 86_400,
        },
        Oid::sha256(1),
        Some(Oid::rsa(2)),
        Some(vec![
            "Microsoft Platform Crypto Provider".into(),
            "Microsoft Software Key Storage Provider".into(),
        ]),
    );
    let env = Envelope::new(ns::action::GET_POLICIES_RESPONSE, body);
    let xml = env.to_xml();
    let doc = Document::parse(&xml).unwrap();
    assert_envelope(&doc, ns::action::GET_POLICIES_RESPONSE);
    let x = ns::XCEP;
    for name in [
        "GetPoliciesResponse",
        "response",
        "policyID",
        "policyFriendlyName",
        "nextUpdateHours",
        "policiesNotChanged",
        "policies",
        "policy",
        "policyOIDReference",
        "cAs",
        "attributes",
        "commonName",
        "policySchema",
        "certificateValidity",
        "validityPeriodSeconds",
        "renewalPeriodSeconds",
        "permission",
        "enroll",
        "autoEnroll",
        "privateKeyAttributes",
        "minimalKeyLength",
        "keySpec",
        "keyUsageProperty",
        "permissions",
        "algorithmOIDReference",
        "cryptoProviders",
        "provider",
        "revision",
        "majorRevision",
        "minorRevision",
        "supersededPolicies",
        "privateKeyFlags",
        "subjectNameFlags",
        "enrollmentFlags",
        "generalFlags",
        "hashAlgorithmOIDReference",
        "rARequirements",
        "keyArchivalAttributes",
        "extensions",
        "oIDs",
        "oID",
        "value",
        "group",
        "oIDReferenceID",
        "defaultName",
    ] {
        assert!(find(&doc, x, name).is_some(), "missing {name}");
    }
    assert_eq!(text(&doc, x, "policySchema"), "3");
    assert_eq!(text(&doc, x, "minimalKeyLength"), "2048");
    assert_eq!(text(&doc, x, "validityPeriodSeconds"), "31536000");
    assert_eq!(text(&doc, x, "hashAlgorithmOIDReference"), "1");
    assert_eq!(text(&doc, x, "algorithmOIDReference"), "2");
    // The hash reference points at an oID that exists.
    let refs: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "oIDReferenceID")
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(refs, vec!["1", "2"]);
    let nil = find(&doc, x, "keySpec").unwrap();
    assert_eq!(nil.attribute((ns::XSI, "nil")), Some("true"));
    assert_eq!(
        Envelope::<GetPoliciesResponse>::decode(xml.as_bytes()).unwrap(),
        env
    );
}

fn sample_provisioning() -> EnrollmentProvisioning {
    EnrollmentProvisioning {
        certificate_store: CertificateStore {
            root_system: vec![CertEntry {
                thumbprint: "D9A88E04AF18A4D399CEE62F2C71469C3AE1E675".into(),
                encoded_certificate: "MIIB".into(),
            }],
            my_user: vec![CertEntry {
                thumbprint: "8F2EBD13F3612D7C48C30E24CC73A88492613849".into(),
                encoded_certificate: "MIIC".into(),
            }],
            my_user_private_key_container: true,
            wstep_renew: Some(WstepRenew {
                robo_support: Some(true),
                renew_period: Some(42),
                retry_interval: Some(4),
            }),
            ..Default::default()
        },
        application: Some(W7Application {
            app_id: Some("w7".into()),
            provider_id: Some("WinMDM".into()),
            name: Some("WinMDM".into()),
            addr: Some("https://mdm.example/ManagementServer/MDM.svc".into()),
            conn_retry_freq: Some(6),
            initial_backoff_time: Some(30_000),
            max_backoff_time: Some(120_000),
            backcompat_retry_disabled: true,
            default_encoding: Some("application/vnd.syncml.dm+xml".into()),
            ssl_client_cert_search_criteria: Some("Subject=CN%3DDevice&Stores=My%5CUser".into()),
            app_auth: vec![
                AppAuth {
                    level: "CLIENT".into(),
                    auth_type: Some("DIGEST".into()),
                    secret: Some(Secret::new("s1")),
                    data: Some("bm9uY2U=".into()),
                    name: None,
                },
                AppAuth {
                    level: "APPSRV".into(),
                    auth_type: Some("DIGEST".into()),
                    name: Some("dev".into()),
                    secret: Some(Secret::new("s2")),
                    data: Some("bm9uY2U=".into()),
                },
            ],
            other: Vec::new(),
        }),
        dm_client: Some({
            let mut d = DmClientProvider {
                provider_id: "WinMDM".into(),
                ..Default::default()
            };
            d.set("EntDMID", "device-1", Datatype::STRING);
            d.set("RequireMessageSigning", "false", Datatype::BOOLEAN);
            d.poll = Some(Poll {
                number_of_first_retries: Some(8),
                interval_for_first_set_of_retries: Some(15),
                poll_on_login: Some(true),
                ..Default::default()
            });
            d
        }),
        other: Vec::new(),
    }
}

#[test]
fn provisioning_doc_uses_parm_with_datatypes() {
    let p = sample_provisioning();
    let doc = p.to_doc();
    let xml = doc.to_xml();
    let x = Document::parse(&xml).unwrap();
    assert_eq!(x.root_element().tag_name().name(), "wap-provisioningdoc");
    assert_eq!(x.root_element().attribute("version"), Some("1.1"));
    let parm = |name: &str| {
        x.descendants()
            .find(|n| n.tag_name().name() == "parm" && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("parm {name}"))
    };
    assert_eq!(parm("ROBOSupport").attribute("datatype"), Some("boolean"));
    assert_eq!(parm("RenewPeriod").attribute("datatype"), Some("integer"));
    assert_eq!(parm("RetryInterval").attribute("datatype"), Some("integer"));
    assert_eq!(
        parm("NumberOfFirstRetries").attribute("datatype"),
        Some("integer")
    );
    assert_eq!(parm("PollOnLogin").attribute("datatype"), Some("boolean"));
    assert_eq!(parm("EntDMID").attribute("datatype"), Some("string"));
    assert_eq!(parm("APPID").attribute("value"), Some("w7"));
    assert_eq!(parm("BACKCOMPATRETRYDISABLED").attribute("value"), None);
    assert_eq!(
        parm("SSLCLIENTCERTSEARCHCRITERIA").attribute("value"),
        Some("Subject=CN%3DDevice&Stores=My%5CUser")
    );
    assert!(
        xml.contains("Subject=CN%3DDevice&amp;Stores=My%5CUser"),
        "& escaped once"
    );
    // PROVIDER-ID equals the DMClient provider characteristic.
    let provider = x
        .descendants()
        .find(|n| n.attribute("type") == Some("Provider"))
        .and_then(|n| n.first_element_child())
        .unwrap();
    assert_eq!(
        provider.attribute("type"),
        parm("PROVIDER-ID").attribute("value")
    );
    // PrivateKeyContainer next to the client cert.
    assert!(
        x.descendants()
            .any(|n| n.attribute("type") == Some("PrivateKeyContainer"))
    );
    assert_eq!(ProvisioningDoc::decode(xml.as_bytes()).unwrap(), doc);
    assert_eq!(doc.enrollment().unwrap(), p);
}

#[test]
fn rstrc_has_the_required_elements() {
    let pdoc = sample_provisioning().to_doc();
    let mut env = Envelope::new(
        ns::action::RSTRC,
        RequestSecurityTokenResponseCollection {
            responses: vec![RequestSecurityTokenResponse::with_provisioning_doc(&pdoc)],
            other: Vec::new(),
        },
    );
    env.header.relates_to = Some("urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749".into());
    env.header.security = Some(Security {
        timestamp: Some(Timestamp::from_unix(1_543_537_979, 300)),
        ..Default::default()
    });
    let xml = env.to_xml();
    let doc = Document::parse(&xml).unwrap();
    assert_envelope(&doc, ns::action::RSTRC);
    assert_eq!(text(&doc, ns::WSU, "Created"), "2018-11-30T00:32:59.000Z");
    assert_eq!(text(&doc, ns::WSU, "Expires"), "2018-11-30T00:37:59.000Z");
    assert_eq!(
        find(&doc, ns::WSU, "Timestamp")
            .unwrap()
            .attribute((ns::WSU, "Id")),
        Some("_0")
    );
    assert!(find(&doc, ns::WST, "RequestSecurityTokenResponseCollection").is_some());
    assert!(find(&doc, ns::WST, "RequestSecurityTokenResponse").is_some());
    assert_eq!(
        text(&doc, ns::WST, "TokenType"),
        ns::TOKEN_TYPE_DEVICE_ENROLLMENT
    );
    assert!(find(&doc, ns::PKI_ENROLLMENT, "DispositionMessage").is_some());
    assert!(find(&doc, ns::WST, "RequestedSecurityToken").is_some());
    let bst = find(&doc, ns::WSSE, "BinarySecurityToken").unwrap();
    assert_eq!(
        bst.attribute("ValueType"),
        Some(ValueType::PROVISION_DOC.as_str())
    );
    assert_eq!(bst.attribute("EncodingType"), Some(ENCODING_BASE64));
    assert_eq!(text(&doc, ns::PKI_ENROLLMENT, "RequestID"), "0");
    let back = Envelope::<RequestSecurityTokenResponseCollection>::decode(xml.as_bytes()).unwrap();
    assert_eq!(back, env);
    assert_eq!(back.body.responses[0].provisioning_doc().unwrap(), pdoc);
}

#[test]
fn faults_have_subcodes_with_the_right_prefix_and_status() {
    let cases = [
        (FaultCode::MESSAGE_FORMAT, ns::SOAP12, 0x8018_0001),
        (FaultCode::AUTHENTICATION, ns::SOAP12, 0x8018_0002),
        (FaultCode::AUTHORIZATION, ns::SOAP12, 0x8018_0003),
        (FaultCode::CERTIFICATE_REQUEST, ns::SOAP12, 0x8018_0004),
        (FaultCode::ENROLLMENT_SERVER, ns::SOAP12, 0x8018_0005),
        (
            FaultCode::INTERNAL_SERVICE_FAULT,
            ns::ADDRESSING,
            0x8018_0006,
        ),
        (FaultCode::INVALID_SECURITY, ns::ADDRESSING, 0x8018_0007),
    ];
    for (sub, sub_ns, hresult) in cases {
        let fault = Fault::enrollment(sub.clone(), "Device cap reached").with_error(
            EnrollmentErrorType::DEVICE_CAP_REACHED,
            "Device cap reached",
            "trace-1",
        );
        let env = Envelope::<Fault>::response(fault, Some("urn:uuid:1"));
        assert_eq!(env.http_status(), 500, "s:Receiver faults go out as 500");
        let xml = env.to_xml();
        let doc = Document::parse(&xml).unwrap();
        assert_envelope(&doc, ns::action::RSTRC);
        let values: Vec<Node<'_, '_>> = doc
            .descendants()
            .filter(|n| {
                n.tag_name().name() == "Value" && n.tag_name().namespace() == Some(ns::SOAP12)
            })
            .collect();
        assert_eq!(values.len(), 2);
        // Resolve the QName text against the in-scope namespaces.
        let resolve = |n: &Node<'_, '_>| {
            let t = n.text().unwrap();
            let (p, l) = t.split_once(':').unwrap();
            (
                n.lookup_namespace_uri(Some(p)).unwrap().to_owned(),
                l.to_owned(),
            )
        };
        assert_eq!(
            resolve(&values[0]),
            (ns::SOAP12.to_owned(), "Receiver".to_owned())
        );
        assert_eq!(
            resolve(&values[1]),
            (sub_ns.to_owned(), sub.name.to_string())
        );
        let reason = find(&doc, ns::SOAP12, "Text").unwrap();
        assert_eq!(
            reason.attribute(("http://www.w3.org/XML/1998/namespace", "lang")),
            Some("en-us")
        );
        assert_eq!(
            text(&doc, ns::PKI_ENROLLMENT, "errortype"),
            "DeviceCapReached"
        );
        assert_eq!(
            text(&doc, ns::PKI_ENROLLMENT, "message"),
            "Device cap reached"
        );
        assert_eq!(text(&doc, ns::PKI_ENROLLMENT, "traceid"), "trace-1");
        let back = Envelope::<Fault>::decode(xml.as_bytes()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.body.subcode.unwrap().hresult(), Some(hresult));
    }
    let sender = Fault {
        code: FaultCode::SENDER,
        ..Fault::enrollment(FaultCode::MESSAGE_FORMAT, "bad")
    };
    assert_eq!(sender.http_status(SoapVersion::Soap12), 400);
    assert_eq!(sender.http_status(SoapVersion::Soap11), 500);
}

#[test]
fn secrets_are_redacted_in_debug() {
    let ut = UsernameToken {
        id: None,
        username: "user".into(),
        password: Some(Secret::new("hunter2-password")),
        password_type: None,
        other: Vec::new(),
    };
    let bst =
        BinarySecurityToken::base64(ValueType::USER_TOKEN, b"eyJhbGciOiJSUzI1NiJ9.secret-jwt");
    let p = sample_provisioning();
    let dbg = format!("{ut:?} {bst:?} {p:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
    assert!(!dbg.contains(&bst.value), "{dbg}");
    assert!(!dbg.contains("\"s1\"") && !dbg.contains("\"s2\""), "{dbg}");
    assert!(dbg.contains("redacted"));
}

#[test]
fn timestamps_format_in_utc() {
    assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00.000Z");
    assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59.000Z");
}

#[test]
fn replies_relate_to_the_request_and_negotiate_the_version() {
    let bytes =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "tests/data/messages/published/mattrax-capture_01_discover-request-win11-22621.xml",
        ))
        .unwrap();
    let req = Envelope::<Discover>::decode(&bytes).unwrap();
    let version = Version::negotiate(req.body.request_version, Version::V5);
    assert_eq!(
        version,
        Version::V5,
        "client asked 6.0, server supports 5.0"
    );
    assert_eq!(
        Version::negotiate(Some(Version::V4), Version::V5),
        Version::V4
    );
    assert_eq!(Version::negotiate(None, Version::V5), Version::V5);
    let mut body = DiscoverResponse {
        auth_policy: AuthPolicy::FEDERATED,
        enrollment_version: Some(version),
        enrollment_service_url: "https://mdm.example/EnrollmentServer/Enrollment.svc".into(),
        ..Default::default()
    };
    assert_eq!(body.missing_required(), vec!["AuthenticationServiceUrl"]);
    body.authentication_service_url = Some("https://mdm.example/auth".into());
    assert!(body.missing_required().is_empty());
    let resp = Envelope::relating_to(&req.header, ns::action::DISCOVER_RESPONSE, body);
    assert!(
        resp.header.security.is_none(),
        "no Security header on discovery"
    );
    assert_eq!(resp.header.relates_to, req.header.message_id);
    assert_eq!(resp.version, SoapVersion::Soap12);
    let back = Envelope::<DiscoverResponse>::decode(resp.to_xml().as_bytes()).unwrap();
    assert_eq!(back, resp);
}
