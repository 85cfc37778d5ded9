//! Every limit and every refusal has its own error kind.

use winmdm_enroll::*;

fn discover_with(extra: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request>
<EmailAddress>a@b.c</EmailAddress>{extra}</request></Discover></s:Body></s:Envelope>"#
    )
}

fn kind(input: &[u8], limits: &MessageLimits) -> MessageErrorKind {
    Envelope::<Discover>::decode_with(input, limits)
        .expect_err("must fail")
        .kind
}

#[test]
fn baseline_decodes() {
    let d = Envelope::<Discover>::decode(discover_with("").as_bytes()).unwrap();
    assert_eq!(d.body.email_address.as_deref(), Some("a@b.c"));
}

#[test]
fn doctype_is_refused() {
    let x = format!(
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>{}",
        discover_with("&e;")
    );
    let err = Envelope::<Discover>::decode(x.as_bytes()).unwrap_err();
    assert_eq!(err.kind, MessageErrorKind::Xml(XmlErrorKind::Doctype));
    assert_eq!((err.offset, err.line, err.column), (0, 1, 1));
}

#[test]
fn unknown_entities_are_refused() {
    let x = discover_with("<OSVersion>&e;</OSVersion>");
    assert_eq!(
        kind(x.as_bytes(), &default_limits()),
        MessageErrorKind::Xml(XmlErrorKind::UnknownEntity("e".into()))
    );
    let x = discover_with("<OSVersion a=\"&e;\"/>");
    assert_eq!(
        kind(x.as_bytes(), &default_limits()),
        MessageErrorKind::Xml(XmlErrorKind::UnknownEntity("e".into()))
    );
    // Predefined and character references are fine.
    let x = discover_with("<OSVersion>&amp;&#65;&#x42;</OSVersion>");
    let d = Envelope::<Discover>::decode(x.as_bytes()).unwrap();
    assert_eq!(d.body.other[0].text(), "&AB");
}

#[test]
fn input_size_is_bounded() {
    let x = discover_with("");
    let limits = default_limits().with_max_input_bytes(100);
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::InputTooLarge {
            size: x.len(),
            limit: 100
        })
    );
}

#[test]
fn depth_is_bounded() {
    let deep = format!("{}{}", "<x>".repeat(40), "</x>".repeat(40));
    let x = discover_with(&deep);
    assert_eq!(
        kind(x.as_bytes(), &default_limits()),
        MessageErrorKind::Xml(XmlErrorKind::TooDeep { limit: 32 })
    );
    let err = Envelope::<Discover>::decode(x.as_bytes()).unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn element_count_is_bounded() {
    let x = discover_with(&"<x/>".repeat(50));
    let limits = default_limits().with_max_elements(20);
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::TooManyElements { limit: 20 })
    );
}

#[test]
fn attribute_count_is_bounded() {
    let attrs: String = (0..10).map(|i| format!(" a{i}=\"v\"")).collect();
    let x = discover_with(&format!("<x{attrs}/>"));
    let limits = default_limits().with_max_attributes(5);
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::TooManyAttributes { limit: 5 })
    );
}

#[test]
fn value_size_is_bounded() {
    let x = discover_with(&format!("<x>{}</x>", "A".repeat(500)));
    let limits = default_limits().with_max_value_bytes(100);
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::ValueTooLarge { limit: 100 })
    );
    // Text split by entity references is counted as a whole.
    let x = discover_with(&format!("<x>{}</x>", "A&amp;".repeat(60)));
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::ValueTooLarge { limit: 100 })
    );
    let x = discover_with(&format!("<x a=\"{}\"/>", "A".repeat(500)));
    assert_eq!(
        kind(x.as_bytes(), &limits),
        MessageErrorKind::Xml(XmlErrorKind::ValueTooLarge { limit: 100 })
    );
}

#[test]
fn other_refusals_have_kinds() {
    let d = default_limits();
    assert_eq!(kind(b"", &d), MessageErrorKind::Xml(XmlErrorKind::NoRoot));
    assert_eq!(
        kind(b"<a>\xff</a>", &d),
        MessageErrorKind::Xml(XmlErrorKind::InvalidEncoding {
            encoding: "UTF-8".into(),
            byte: 0xFF
        })
    );
    assert_eq!(
        kind(b"<a><b></a>", &d),
        MessageErrorKind::Xml(XmlErrorKind::Syntax(XmlSyntaxError::MismatchedEndTag {
            expected: "b".into(),
            found: "a".into()
        }))
    );
    assert_eq!(
        kind(b"<p:a/>", &d),
        MessageErrorKind::Xml(XmlErrorKind::UnboundPrefix("p".into()))
    );
    assert_eq!(
        kind(format!("{}<x/>", discover_with("")).as_bytes(), &d),
        MessageErrorKind::Xml(XmlErrorKind::TrailingContent)
    );
    assert!(matches!(
        kind(b"<a/>", &d),
        MessageErrorKind::UnexpectedRoot { .. }
    ));
    let gp = discover_with("").replace("Discover", "GetPolicies");
    assert!(matches!(
        kind(gp.as_bytes(), &d),
        MessageErrorKind::UnexpectedBody { .. }
    ));
    let bad = discover_with("<RequestVersion>five</RequestVersion>");
    assert!(matches!(
        kind(bad.as_bytes(), &d),
        MessageErrorKind::InvalidValue {
            field: "RequestVersion",
            ..
        }
    ));
    let no_req = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"/></s:Body></s:Envelope>"#;
    assert_eq!(
        kind(no_req.as_bytes(), &d),
        MessageErrorKind::Missing("request")
    );
    let b64 = ProvisioningDoc::decode_base64_or_xml(b"!!!not base64").unwrap_err();
    assert_eq!(b64.kind, MessageErrorKind::Base64("document"));
}

#[test]
fn error_positions_are_line_and_column() {
    let x = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">\n  <s:Body>\n    <q:x/>\n";
    let err = Message::decode(x.as_bytes()).unwrap_err();
    assert_eq!(
        err.kind,
        MessageErrorKind::Xml(XmlErrorKind::UnboundPrefix("q".into()))
    );
    assert_eq!((err.line, err.column), (3, 5));
    assert_eq!(err.offset, x.find("<q:x").unwrap());
    assert_eq!(err.to_string(), "3:5: undeclared namespace prefix \"q\"");
}

#[test]
fn http_header_blocks_are_skipped_with_positions_kept() {
    let body = discover_with("");
    let x = format!("POST /EnrollmentServer/Discovery.svc HTTP/1.1\r\nHost: a\r\n\r\n{body}");
    let m = Message::decode_capture(x.as_bytes()).unwrap();
    assert_eq!(m.kind(), "Discover");
    let bad = format!(
        "HTTP/1.1 200 OK\nContent-Type: x\n<s:Envelope xmlns:s=\"{}\">\n<q:x/>",
        ns::SOAP12
    );
    let err = Message::decode_capture(bad.as_bytes()).unwrap_err();
    assert_eq!(err.line, 4);
}

#[test]
fn version_parsing() {
    for (s, v) in [
        ("1.0", Version::V1),
        ("7.0", Version::V7),
        (" 5.0 ", Version::V5),
        ("6", Version::V6),
    ] {
        assert_eq!(Version::try_from(s), Ok(v));
    }
    assert!(Version::try_from("5.x").is_err());
    assert!(Version::try_from("").is_err());
    assert_eq!(Version { major: 8, minor: 1 }.to_string(), "8.1");
}

#[test]
fn many_entity_references_stay_linear() {
    // 300k references in one text node: bounded time (no rescanning per reference).
    let text = "&amp;".repeat(300_000);
    let x = discover_with(&format!("<x>{text}</x>"));
    let start = std::time::Instant::now();
    let d = Envelope::<Discover>::decode(x.as_bytes()).unwrap();
    assert_eq!(d.body.other[0].text().len(), 300_000);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn names_must_be_qnames() {
    // Found by fuzzing: quick-xml takes everything up to whitespace as the name.
    let d = default_limits();
    let x = discover_with(r#"<o:ReferenValueType="http://x#X509" xmlns:o="urn:o"/>"#);
    assert!(matches!(
        kind(x.as_bytes(), &d),
        MessageErrorKind::Xml(XmlErrorKind::InvalidName {
            attribute: false,
            ..
        })
    ));
    let x = discover_with(r#"<x a:b:c="1" xmlns:a="urn:a"/>"#);
    assert!(matches!(
        kind(x.as_bytes(), &d),
        MessageErrorKind::Xml(XmlErrorKind::InvalidName {
            attribute: true,
            ..
        })
    ));
    // Non-ASCII names are fine.
    let x = discover_with("<Gerät größe=\"1\"/>");
    let env = Envelope::<Discover>::decode(x.as_bytes()).unwrap();
    assert_eq!(env.body.other[0].name, "Gerät");
}
