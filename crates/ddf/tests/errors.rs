//! Error kinds, limits, decoding and lenient-model behaviour on crafted input.

use winmdm_ddf::winmdm_xml::ErrorKind as XmlErrorKind;
use winmdm_ddf::{
    AccessKind, ErrorKind, Format, InvalidBytes, ParseOptions, RangeSpec, ValueType, parse,
    parse_with,
};

fn with_limits(limits: winmdm_ddf::Limits) -> ParseOptions {
    ParseOptions::default().with_limits(limits)
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE MgmtTree PUBLIC " -//OMA//DTD-DM-DDF 1.2//EN"
  "http://www.openmobilealliance.org/tech/DTD/DM_DDF-V1_2.dtd"
  [<?oma-dm-ddf-ver supported-versions="1.2"?>]>
<MgmtTree xmlns:MSFT="http://schemas.microsoft.com/MobileDevice/DM">
<VerDTD>1.2</VerDTD>
"#;

fn doc(nodes: &str) -> String {
    format!("{HEAD}{nodes}</MgmtTree>")
}

const LEAF: &str = r#"<Node><NodeName>Leaf</NodeName><Path>./Device/Vendor/MSFT/X</Path>
<DFProperties><AccessType><Get/><Replace/></AccessType><DFFormat><int/></DFFormat>
<DFType><MIME>text/plain</MIME></DFType><DefaultValue>7</DefaultValue>
<Occurrence><One/></Occurrence></DFProperties></Node>"#;

#[test]
fn properties_in_any_order() {
    let t = parse(doc(LEAF).as_bytes()).unwrap();
    let p = &t.nodes[0].properties;
    assert_eq!(p.default_value.as_deref(), Some("7"));
    assert_eq!(p.format, Some(Format::Int));
    assert_eq!(p.access_type, vec![AccessKind::Get, AccessKind::Replace]);
    assert_eq!(t.nodes[0].path.as_deref(), Some("./Device/Vendor/MSFT/X"));
}

#[test]
fn doctype_entities_are_never_expanded() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE MgmtTree [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<MgmtTree><VerDTD>&b;</VerDTD></MgmtTree>"#;
    let e = parse(bomb.as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::UnknownEntity("b".into()))
    );
    assert_eq!(e.position.line, 3);
}

#[test]
fn predefined_and_char_references_are_resolved() {
    let t = parse(
        doc(&LEAF.replace(
            "<DefaultValue>7",
            "<DefaultValue>&lt;a&gt; &amp; &#x41;&#66;<![CDATA[<c>]]>",
        ))
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        t.nodes[0].properties.default_value.as_deref(),
        Some("<a> & AB<c>")
    );
}

#[test]
fn invalid_utf8_reports_position_and_fallbacks_decode() {
    let mut bytes = doc(LEAF).into_bytes();
    let at = bytes.windows(4).position(|w| w == b"Leaf").unwrap();
    bytes[at + 1] = 0x92;
    let e = parse(&bytes).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::InvalidEncoding { byte: 0x92, .. })
    ));
    assert_eq!(e.position.offset, at + 1);
    assert_eq!(e.position.line, 7);
    let t = parse_with(
        &bytes,
        &ParseOptions::default().with_invalid_bytes(InvalidBytes::Windows1252),
    )
    .unwrap();
    assert_eq!(t.nodes[0].name, "L\u{2019}af");
    assert!(t.used_fallback_decoding);
    let t = parse_with(
        &bytes,
        &ParseOptions::default().with_invalid_bytes(InvalidBytes::Lossy),
    )
    .unwrap();
    assert_eq!(t.nodes[0].name, "L\u{FFFD}af");
}

#[test]
fn declared_windows_1252_and_utf16_bom_are_decoded() {
    let mut bytes = doc(LEAF).replace("UTF-8", "windows-1252").into_bytes();
    let at = bytes.windows(4).position(|w| w == b"Leaf").unwrap();
    bytes[at + 1] = 0xE9;
    assert_eq!(parse(&bytes).unwrap().nodes[0].name, "L\u{e9}af");

    let mut utf16 = vec![0xFF, 0xFE];
    for u in doc(LEAF).replace("UTF-8", "UTF-16").encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(parse(&utf16).unwrap().nodes[0].name, "Leaf");

    let e = parse(doc(LEAF).replace("UTF-8", "EBCDIC").as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::UnsupportedEncoding("EBCDIC".into()))
    );
    // Found by the ddf_parse fuzz target: errors before any text have line 1, column 1.
    assert_eq!(
        (e.position.line, e.position.column, e.position.offset),
        (1, 1, 0)
    );
}

#[test]
fn limit_input_size() {
    let input = doc(LEAF);
    let opts = with_limits(ParseOptions::default_limits().with_max_input_bytes(100));
    let e = parse_with(input.as_bytes(), &opts).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::InputTooLarge {
            size: input.len(),
            limit: 100
        })
    );
}

#[test]
fn limit_depth() {
    let deep = format!(
        "{HEAD}{}{}</MgmtTree>",
        "<Node>".repeat(300),
        "</Node>".repeat(300)
    );
    let e = parse(deep.as_bytes()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Xml(XmlErrorKind::TooDeep { limit: 256 }));
    assert!(e.path.starts_with("/MgmtTree/Node/Node"));
}

#[test]
fn limit_element_count() {
    let opts = with_limits(ParseOptions::default_limits().with_max_elements(10));
    let e = parse_with(doc(LEAF).as_bytes(), &opts).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::TooManyElements { limit: 10 })
    );
}

#[test]
fn limit_attribute_count() {
    let attrs: String = (0..70).map(|i| format!(" a{i}=\"x\"")).collect();
    let input = doc(&LEAF.replace("<Node>", &format!("<Node{attrs}>")));
    let e = parse(input.as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::TooManyAttributes { limit: 64 })
    );
}

#[test]
fn limit_value_size() {
    let input = doc(&LEAF.replace(
        "<DefaultValue>7",
        &format!("<DefaultValue>{}", "7".repeat(200)),
    ));
    assert!(
        parse(input.as_bytes()).is_ok(),
        "the default bounds a value by the input"
    );
    let opts = with_limits(ParseOptions::default_limits().with_max_value_bytes(100));
    let e = parse_with(input.as_bytes(), &opts).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Xml(XmlErrorKind::ValueTooLarge { limit: 100 })
    );
    assert!(e.path.ends_with("/DFProperties/DefaultValue"), "{}", e.path);
}

#[test]
fn default_limits_are_the_ddf_ones() {
    let limits = ParseOptions::default().limits;
    assert_eq!(limits, ParseOptions::default_limits());
    assert_eq!(
        (
            limits.max_input_bytes,
            limits.max_depth,
            limits.max_elements,
            limits.max_attributes,
            limits.max_value_bytes
        ),
        (16 << 20, 256, 2_000_000, 64, 16 << 20)
    );
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    for (input, want) in [
        ("", ErrorKind::Xml(XmlErrorKind::NoRoot)),
        ("<Other/>", ErrorKind::NotMgmtTree("Other".into())),
        (
            "<MgmtTree><Node>",
            ErrorKind::Xml(XmlErrorKind::UnclosedElement("Node".into())),
        ),
        (
            "<MgmtTree/><MgmtTree/>",
            ErrorKind::Xml(XmlErrorKind::TrailingContent),
        ),
        (
            "<MgmtTree/>text",
            ErrorKind::Xml(XmlErrorKind::TrailingContent),
        ),
        (
            "<MgmtTree><Node/></MgmtTree>",
            ErrorKind::Missing {
                parent: "Node",
                child: "NodeName",
            },
        ),
        (
            "<MgmtTree><Node><NodeName>a</NodeName></Node></MgmtTree>",
            ErrorKind::Missing {
                parent: "Node",
                child: "DFProperties",
            },
        ),
    ] {
        assert_eq!(parse(input.as_bytes()).unwrap_err().kind, want, "{input}");
    }
    let e = parse(b"<MgmtTree><a></b></MgmtTree>").unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Xml(XmlErrorKind::Syntax(_))),
        "{e}"
    );
}

#[test]
fn unknown_things_are_kept_or_reported() {
    let input = doc(&LEAF.replace(
        "<DefaultValue>7</DefaultValue>",
        r#"<DefaultValue>7</DefaultValue><MSFT:Future a="1"/><DFFormat2/>
        <MSFT:AllowedValues ValueType="Shiny" Extra="x"><MSFT:Value>v</MSFT:Value><MSFT:Extra/></MSFT:AllowedValues>"#,
    )
    .replace("<int/>", "<decimal/>"));
    let t = parse(input.as_bytes()).unwrap();
    let p = &t.nodes[0].properties;
    assert_eq!(p.format, Some(Format::Other("decimal".into())));
    let names: Vec<_> = p.extra.iter().map(|e| e.qualified_name()).collect();
    assert_eq!(names, ["MSFT:Future", "DFFormat2"]);
    let a = p.allowed_values.as_ref().unwrap();
    assert_eq!(a.value_type, ValueType::Other("Shiny".into()));
    assert_eq!(a.extra[0].qualified_name(), "MSFT:Extra");
    assert_eq!(t.warnings.len(), 1);
    assert!(
        t.warnings[0].message.contains("Extra=\"x\""),
        "{:?}",
        t.warnings
    );
}

#[test]
fn namespace_prefix_is_resolved_not_matched_literally() {
    let input = doc(LEAF).replace(
        "<Occurrence>",
        r#"<m:AllowedValues xmlns:m="http://schemas.microsoft.com/MobileDevice/DM" ValueType="ENUM"><m:Enum><m:Value>1</m:Value></m:Enum></m:AllowedValues><Occurrence>"#,
    );
    let t = parse(input.as_bytes()).unwrap();
    let a = t.nodes[0].properties.allowed_values.as_ref().unwrap();
    assert_eq!(a.enums[0].value, "1");
}

#[test]
fn range_syntax() {
    let r = RangeSpec::parse("[(-1)-2147483647]").unwrap();
    assert_eq!(r.intervals, [(-1, 2147483647)]);
    assert_eq!(
        RangeSpec::parse("[6,17]").unwrap().intervals,
        [(6, 6), (17, 17)]
    );
    assert_eq!(
        RangeSpec::parse("[0-4294967295]").unwrap().intervals,
        [(0, 4294967295)]
    );
    assert!(RangeSpec::parse("[5-1]").is_none());
    assert!(RangeSpec::parse("0-1").is_none());
    assert!(RangeSpec::parse("[a-b]").is_none());
    assert!(RangeSpec::parse("[1").is_none());
}
