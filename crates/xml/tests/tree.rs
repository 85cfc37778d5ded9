//! winmdm-xml on real inputs (copies in `tests/data`, see `tests/data/PROVENANCE.md`) and
//! one test per limit, policy and decoding rule.

use winmdm_xml::{
    DoctypePolicy, Element, Encoding, ErrorKind, InvalidBytes, Limits, Node, ParseOptions,
    UnboundPrefixPolicy, Writer, decode, decode_utf8, escape_attribute, escape_text, parse,
    parse_str,
};

const DISCOVER: &[u8] = include_bytes!("data/discover-request-v5.xml");
const REMOTE_LOCK: &[u8] = include_bytes!("data/RemoteLock.xml");
const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
const ENROLL: &str = "http://schemas.microsoft.com/windows/management/2012/01/enrollment";
const MSFT: &str = "http://schemas.microsoft.com/MobileDevice/DM";

fn ddf_options() -> ParseOptions {
    ParseOptions::default()
        .with_doctype(DoctypePolicy::Skip)
        .with_limits(Limits::default().with_max_input_bytes(16 << 20))
}

fn err(input: &str, options: &ParseOptions) -> winmdm_xml::Error {
    parse_str(input, options).unwrap_err()
}

#[test]
fn discover_request_reads_by_namespace() {
    let root = parse(DISCOVER, &ParseOptions::default()).unwrap();
    assert_eq!(
        (root.namespace.as_deref(), root.name.as_str()),
        (Some(SOAP), "Envelope")
    );
    assert_eq!(root.prefix.as_deref(), Some("s"));
    assert_eq!(root.offset, 0);
    let header = root.child(Some(SOAP), "Header").unwrap();
    let action = header.elements().next().unwrap();
    assert_eq!(action.qualified_name(), "a:Action");
    assert_eq!(action.attribute(Some(SOAP), "mustUnderstand"), Some("1"));
    assert_eq!(action.attributes[0].qualified_name(), "s:mustUnderstand");
    let request = root
        .child(Some(SOAP), "Body")
        .and_then(|b| b.child(Some(ENROLL), "Discover"))
        .and_then(|d| d.child(Some(ENROLL), "request"))
        .unwrap();
    assert_eq!(
        request.namespace_declarations,
        vec![(
            Some("i".to_owned()),
            "http://www.w3.org/2001/XMLSchema-instance".to_owned()
        )]
    );
    let version = request.child(Some(ENROLL), "RequestVersion").unwrap();
    assert_eq!(version.text(), "5.0");
    assert_eq!(
        &DISCOVER[version.offset..version.offset + 16],
        b"<RequestVersion>"
    );
    let policies: Vec<_> = request
        .child(Some(ENROLL), "AuthPolicies")
        .unwrap()
        .elements()
        .map(Element::text)
        .collect();
    assert_eq!(policies, ["OnPremise", "Federated"]);
}

#[test]
fn written_back_the_tree_reads_equal() {
    let root = parse(DISCOVER, &ParseOptions::default())
        .unwrap()
        .without_indentation();
    let mut w = Writer::new();
    w.element(&root);
    let again = parse_str(w.as_str(), &ParseOptions::default()).unwrap();
    assert_eq!(again, root);
    assert!(!again.has_content() || again.elements().count() == 2);
}

#[test]
fn ddf_with_bom_and_doctype_is_read_when_the_doctype_is_skipped() {
    let e = parse(REMOTE_LOCK, &ParseOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Doctype);
    assert_eq!((e.position.line, e.position.column), (2, 1));

    let decoded = decode(REMOTE_LOCK, InvalidBytes::Error, &Limits::default()).unwrap();
    assert_eq!((decoded.bom_len, decoded.encoding), (3, Encoding::Utf8));
    let root = parse(REMOTE_LOCK, &ddf_options()).unwrap();
    assert_eq!(root.name, "MgmtTree");
    assert_eq!(root.namespace, None);
    let diag = root.elements().nth(1).unwrap();
    assert_eq!(
        (diag.namespace.as_deref(), diag.name.as_str()),
        (Some(MSFT), "Diagnostics")
    );
    assert_eq!(diag.qualified_name(), "MSFT:Diagnostics");
}

#[test]
fn utf16_input_reads_like_its_utf8() {
    let text = std::str::from_utf8(&REMOTE_LOCK[3..]).unwrap();
    for little in [true, false] {
        let mut bytes = if little {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in text.encode_utf16() {
            bytes.extend(if little {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            });
        }
        let d = decode(&bytes, InvalidBytes::Error, &Limits::default()).unwrap();
        assert_eq!(d.text, text);
        assert_eq!(d.bom_len, 2);
        assert_eq!(
            parse(&bytes, &ddf_options()).unwrap(),
            parse(REMOTE_LOCK, &ddf_options()).unwrap()
        );
        // An unpaired surrogate is positioned in the raw bytes.
        let mut bad = bytes.clone();
        let at = bad.len() - 2;
        bad[at..].copy_from_slice(if little { &[0x00, 0xD8] } else { &[0xD8, 0x00] });
        let e = decode(&bad, InvalidBytes::Error, &Limits::default()).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::InvalidEncoding { ref encoding, .. } if encoding == "UTF-16")
        );
        assert_eq!(e.position.offset, at);
    }
}

#[test]
fn windows_1252_bytes_and_declarations() {
    // A file declared UTF-8 with one Windows-1252 byte (as crates/csp/ddf/legacy-v1 has).
    let bytes = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>it\x92s</a>";
    let e = decode(bytes, InvalidBytes::Error, &Limits::default()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::InvalidEncoding {
            encoding: "UTF-8".into(),
            byte: 0x92
        }
    );
    assert_eq!((e.position.offset, e.position.line), (44, 2));
    let d = decode(bytes, InvalidBytes::Windows1252, &Limits::default()).unwrap();
    assert!(d.fallback_used);
    assert!(d.text.ends_with("<a>it\u{2019}s</a>"));
    let d = decode(bytes, InvalidBytes::Replace, &Limits::default()).unwrap();
    assert!(d.text.ends_with("<a>it\u{FFFD}s</a>"));

    let declared = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\x80</a>";
    let d = decode(declared, InvalidBytes::Error, &Limits::default()).unwrap();
    assert_eq!(d.encoding, Encoding::Windows1252);
    assert!(d.text.ends_with("<a>\u{20AC}</a>"));

    let e = decode(
        b"<?xml version='1.0' encoding='EBCDIC'?><a/>",
        InvalidBytes::Error,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedEncoding("EBCDIC".into()));
}

#[test]
fn utf8_only_decoding_refuses_other_encodings() {
    let d = decode_utf8(REMOTE_LOCK, &Limits::default()).unwrap();
    assert_eq!(d.bom_len, 3);
    let e = decode_utf8(b"\xEF\xBB\xBF<a>\xFF</a>", &Limits::default()).unwrap_err();
    assert_eq!(e.position.offset, 6);
    assert!(matches!(
        e.kind,
        ErrorKind::InvalidEncoding { byte: 0xFF, .. }
    ));
}

#[test]
fn every_limit_has_its_error_kind() {
    let text = std::str::from_utf8(DISCOVER).unwrap();
    let with = |l: Limits| ParseOptions::default().with_limits(l);
    let cases = [
        (
            Limits::default().with_max_input_bytes(1000),
            ErrorKind::InputTooLarge {
                size: DISCOVER.len(),
                limit: 1000,
            },
        ),
        (
            Limits::default().with_max_depth(4),
            ErrorKind::TooDeep { limit: 4 },
        ),
        (
            Limits::default().with_max_elements(10),
            ErrorKind::TooManyElements { limit: 10 },
        ),
        (
            Limits::default().with_max_attributes(1),
            ErrorKind::TooManyAttributes { limit: 1 },
        ),
        (
            Limits::default().with_max_value_bytes(50),
            ErrorKind::ValueTooLarge { limit: 50 },
        ),
    ];
    for (limits, kind) in cases {
        let e = parse_str(text, &with(limits)).unwrap_err();
        assert_eq!(e.kind, kind);
        assert_eq!(
            e.position,
            winmdm_xml::Position::locate(text, e.position.offset)
        );
    }
    // Positions: the fifth level is <EmailAddress> (line 13), and so is the 11th element.
    let e = parse_str(text, &with(Limits::default().with_max_depth(4))).unwrap_err();
    assert_eq!(e.position.line, 13);
    assert_eq!(e.path, "/s:Envelope/s:Body/Discover/request");
    let e = parse_str(text, &with(Limits::default().with_max_elements(10))).unwrap_err();
    assert!(text[e.position.offset..].starts_with("<EmailAddress"));
    // The limits just fit.
    for l in [
        Limits::default().with_max_input_bytes(DISCOVER.len()),
        Limits::default().with_max_depth(6),
        Limits::default().with_max_elements(18),
        Limits::default().with_max_attributes(2),
    ] {
        parse_str(text, &with(l)).unwrap();
    }
    // Defaults are bounded.
    let d = Limits::default();
    assert!(d.max_input_bytes <= 4 << 20 && d.max_depth <= 64 && d.max_elements <= 100_000);
}

#[test]
fn no_dtd_and_only_predefined_entities() {
    let o = ParseOptions::default();
    assert_eq!(
        err("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", &o).kind,
        ErrorKind::Doctype
    );
    let skip = o.with_doctype(DoctypePolicy::Skip);
    let e = err("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", &skip);
    assert_eq!(e.kind, ErrorKind::UnknownEntity("x".into()));
    assert_eq!(e.position.offset, 33);
    assert_eq!(
        err("<a b='&x;'/>", &o).kind,
        ErrorKind::UnknownEntity("x".into())
    );
    let root = parse_str(
        "<a t='&lt;&#x9;&quot;'>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;<![CDATA[&c]]></a>",
        &o,
    )
    .unwrap();
    assert_eq!(root.text(), "&<>\"'AB&c");
    assert_eq!(root.children.len(), 1, "text joined into one node");
    assert_eq!(root.attribute(None, "t"), Some("<\t\""));
}

#[test]
fn well_formedness_errors_are_typed_and_positioned() {
    let o = ParseOptions::default();
    let cases: &[(&str, ErrorKind, usize)] = &[
        ("", ErrorKind::NoRoot, 0),
        ("  <!-- c -->  ", ErrorKind::NoRoot, 0),
        ("<a>", ErrorKind::UnclosedElement("a".into()), 3),
        ("<a/><b/>", ErrorKind::TrailingContent, 4),
        ("<a/>x", ErrorKind::TrailingContent, 4),
        ("x<a/>", ErrorKind::TextBeforeRoot, 0),
        ("<a>\u{1}</a>", ErrorKind::IllegalCharacter('\u{1}'), 3),
        ("<a>&#1;</a>", ErrorKind::IllegalCharacter('\u{1}'), 3),
        (
            "<1a/>",
            ErrorKind::InvalidName {
                name: "1a".into(),
                attribute: false,
            },
            0,
        ),
        (
            "<a x:b:c='1'/>",
            ErrorKind::InvalidName {
                name: "x:b:c".into(),
                attribute: true,
            },
            0,
        ),
        ("<p:a/>", ErrorKind::UnboundPrefix("p".into()), 0),
        ("<a p:b='1'/>", ErrorKind::UnboundPrefix("p".into()), 0),
    ];
    for (input, kind, offset) in cases {
        let e = err(input, &o);
        assert_eq!((&e.kind, e.position.offset), (kind, *offset), "{input:?}");
    }
    assert!(matches!(err("<a></b>", &o).kind, ErrorKind::Syntax(_)));
    assert!(matches!(
        err("<a><!-- a -- b --></a>", &o).kind,
        ErrorKind::Syntax(_)
    ));
    assert_eq!(
        err("<a>\n  <b>é</c></a>", &o).path,
        "/a/b",
        "the path names the open elements"
    );
}

#[test]
fn syntax_errors_are_typed_with_informative_messages() {
    use winmdm_xml::{CharacterReferenceError, SyntaxError as S};
    let o = ParseOptions::default();
    let cases: &[(&str, S, usize, &str)] = &[
        (
            "<a></b>",
            S::MismatchedEndTag {
                expected: "a".into(),
                found: "b".into(),
            },
            3,
            "expected </a>, found </b>",
        ),
        (
            "<a/></b>",
            S::UnmatchedEndTag("b".into()),
            4,
            "end tag </b> without a start tag",
        ),
        ("<a", S::UnclosedTag, 0, "tag not closed"),
        (
            "<a x='1/>",
            S::UnclosedAttributeValue { quote: '\'' },
            0,
            "`'` not found",
        ),
        ("<a><!-- x", S::UnclosedComment, 3, "comment not closed"),
        (
            "<a><!-- a -- b --></a>",
            S::DoubleHyphenInComment,
            10,
            "`--` inside a comment",
        ),
        (
            "<a><![CDATA[x</a>",
            S::UnclosedCData,
            3,
            "CDATA section not closed",
        ),
        (
            "<a><?pi x</a>",
            S::UnclosedProcessingInstruction,
            3,
            "processing instruction",
        ),
        (
            "<?xml version='1.0'",
            S::UnclosedXmlDeclaration,
            0,
            "XML declaration not closed",
        ),
        (
            "<a><!x></a>",
            S::InvalidMarkup,
            3,
            "unknown markup after `<!`",
        ),
        (
            "<a x/>",
            S::AttributeWithoutEquals,
            0,
            "not followed by `=`",
        ),
        (
            "<a x=/>",
            S::AttributeWithoutValue,
            0,
            "`=` not followed by an attribute value",
        ),
        ("<a x=1/>", S::UnquotedAttributeValue, 0, "not enclosed"),
        (
            "<a x='1' x='2'/>",
            S::DuplicateAttribute { name: "x".into() },
            0,
            "duplicate attribute \"x\"",
        ),
        ("<a>&amp</a>", S::UnclosedReference, 3, "`;` not found"),
        ("<a x='&amp'/>", S::UnclosedReference, 0, "`;` not found"),
        (
            "<a>&#xD800;</a>",
            S::InvalidCharacterReference(CharacterReferenceError::NotACodepoint(0xD800)),
            3,
            "U+D800 is not a Unicode scalar value",
        ),
        (
            "<a>&#-1;</a>",
            S::InvalidCharacterReference(CharacterReferenceError::Sign),
            3,
            "invalid character reference: a sign",
        ),
        (
            "<a x='&#z;'/>",
            S::InvalidCharacterReference(CharacterReferenceError::NotANumber),
            0,
            "not a decimal or hexadecimal number",
        ),
        (
            "<a xmlns:xml='urn:x'/>",
            S::ReservedNamespaceBinding {
                prefix: "xml".into(),
                namespace: "urn:x".into(),
            },
            0,
            "prefix \"xml\" cannot be bound to \"urn:x\"",
        ),
    ];
    for (input, syntax, offset, message) in cases {
        let e = err(input, &o);
        assert_eq!(e.kind, ErrorKind::Syntax(syntax.clone()), "{input:?}");
        assert_eq!(e.position.offset, *offset, "{input:?}: {e}");
        assert!(e.to_string().contains(message), "{input:?}: {e}");
    }
    assert_eq!(
        err("<a>&#0;</a>", &o).kind,
        ErrorKind::IllegalCharacter('\0')
    );
}

#[test]
fn namespace_bindings_in_scope_are_bounded() {
    let mut xml = String::new();
    for i in 0..60 {
        xml.push_str(&format!(
            "<e xmlns:a{i}='urn:a' xmlns:b{i}='urn:b' xmlns:c{i}='urn:c'>"
        ));
    }
    let e = err(&xml, &ParseOptions::default());
    assert_eq!(
        e.kind,
        ErrorKind::TooManyNamespaceBindings { limit: 128 },
        "{e}"
    );
}

#[test]
fn unbound_prefixes_can_be_read_as_no_namespace() {
    let o = ParseOptions::default().with_unbound_prefixes(UnboundPrefixPolicy::NoNamespace);
    let root = parse_str("<p:a p:b='1' xml:lang='en'/>", &o).unwrap();
    assert_eq!(
        (root.namespace.as_deref(), root.prefix.as_deref()),
        (None, Some("p"))
    );
    assert_eq!(root.attribute(None, "b"), Some("1"));
    assert_eq!(root.attribute(Some(winmdm_xml::XML_NS), "lang"), Some("en"));
}

#[test]
fn qname_valued_text_is_resolved_in_scope() {
    let root = parse_str(
        "<f xmlns:s='urn:s'><v>s:Sender</v><w>x:y</w><z xmlns:s='urn:t'>s:a</z></f>",
        &ParseOptions::default(),
    )
    .unwrap();
    let ns: Vec<_> = root
        .elements()
        .map(|e| e.text_qname_namespace.as_deref())
        .collect();
    assert_eq!(ns, [Some("urn:s"), None, Some("urn:t")]);
}

#[test]
fn escaper_round_trips_text_and_attributes() {
    let nasty = "a&b<c>d\"e'\tf\ng\rh";
    assert_eq!(escape_text(nasty), "a&amp;b&lt;c&gt;d\"e'\tf\ng&#13;h");
    assert_eq!(
        escape_attribute(nasty),
        "a&amp;b&lt;c&gt;d&quot;e'&#9;f&#10;g&#13;h"
    );
    assert!(matches!(
        escape_text("plain"),
        std::borrow::Cow::Borrowed(_)
    ));
    let mut e = Element::new(Some("urn:x"), "v");
    e.attributes.push(winmdm_xml::Attribute::new("k", nasty));
    e.children.push(Node::Text(nasty.into()));
    let mut inner = Element::new(None, "none");
    inner.attributes.push(winmdm_xml::Attribute {
        namespace: Some("urn:y".into()),
        ..winmdm_xml::Attribute::new("q", "1")
    });
    e.children.push(Node::Element(inner));
    let mut w = Writer::new();
    w.element(&e);
    let back = parse_str(w.as_str(), &ParseOptions::default()).unwrap();
    assert_eq!(back, e);
}
