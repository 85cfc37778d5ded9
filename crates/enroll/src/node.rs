//! The MS-MDE2 reading of winmdm-xml's tree: what enrollment adds to plain XML.
//!
//! Parsing, namespaces, the DTD policy and the limits are `winmdm_xml`'s; this module
//! positions its errors as [`MessageError`]s (byte offsets into the whole input, columns
//! in bytes, the kind wrapped in [`MessageErrorKind::Xml`]) and
//! adds the lenient accessors the decoders use: local names matched ASCII
//! case-insensitively (docs/enroll.md, quirk "lower-cased fault samples"), attributes found
//! with or without a prefix, `xsi:nil`.

use winmdm_xml::ErrorKind as XmlErrorKind;
pub(crate) use winmdm_xml::{Element, Node, XML_NS};

use crate::XmlElement;
use crate::error::{MessageError, MessageErrorKind, MessageLimits};

/// The whole input of a decoder, which positions its errors (offsets, lines, columns).
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    pub(crate) bytes: &'a [u8],
}

impl Input<'_> {
    pub(crate) fn err(&self, pos: usize, kind: MessageErrorKind) -> MessageError {
        MessageError::at(self.bytes, pos, kind)
    }
    pub(crate) fn missing(&self, node: &Element, what: &'static str) -> MessageError {
        self.err(node.offset, MessageErrorKind::Missing(what))
    }
    pub(crate) fn invalid(&self, node: &Element, field: &'static str, value: &str) -> MessageError {
        self.err(
            node.offset,
            MessageErrorKind::InvalidValue {
                field,
                value: crate::error::truncate(value),
            },
        )
    }
}

/// The lenient accessors of the MS-MDE2 decoders.
pub(crate) trait ElementExt {
    /// Local name matches, ASCII case-insensitively.
    fn is(&self, local: &str) -> bool;
    /// Namespace is one of `nss` (`None` in the list stands for "no namespace").
    fn in_ns(&self, nss: &[Option<&str>]) -> bool;
    /// First child element with this local name (any namespace, any ASCII case).
    fn child_named(&self, local: &str) -> Option<&Element>;
    /// Trimmed text content.
    fn trimmed(&self) -> String;
    /// Attribute by local name: unqualified, or in any namespace (some samples prefix
    /// `ValueType`/`EncodingType` with `wsse:`).
    fn attr(&self, local: &str) -> Option<&str>;
    /// Attribute by namespace and local name (any ASCII case).
    fn attr_ns(&self, ns: &str, local: &str) -> Option<&str>;
    /// `xsi:nil="true"` (any prefix).
    fn is_nil(&self) -> bool;
    /// Trimmed text, `None` when empty. Content wins over a contradictory `nil="true"`
    /// (MS-MDE2 4.2.3 example).
    fn opt_text(&self) -> Option<String>;
    /// The element as kept generic content (indentation between elements dropped).
    fn to_generic(&self) -> XmlElement;
}

impl ElementExt for Element {
    fn is(&self, local: &str) -> bool {
        self.name.eq_ignore_ascii_case(local)
    }

    fn in_ns(&self, nss: &[Option<&str>]) -> bool {
        nss.contains(&self.namespace.as_deref())
    }

    fn child_named(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(local))
    }

    fn trimmed(&self) -> String {
        self.text().trim().to_owned()
    }

    fn attr(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.name.eq_ignore_ascii_case(local))
            .or_else(|| {
                self.attributes
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(local))
            })
            .map(|a| a.value.as_str())
    }

    fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.as_deref() == Some(ns) && a.name.eq_ignore_ascii_case(local))
            .map(|a| a.value.as_str())
    }

    fn is_nil(&self) -> bool {
        matches!(
            self.attr_ns(crate::ns::XSI, "nil").map(str::trim),
            Some("true" | "1")
        )
    }

    fn opt_text(&self) -> Option<String> {
        let t = self.trimmed();
        if t.is_empty() { None } else { Some(t) }
    }

    fn to_generic(&self) -> XmlElement {
        self.without_indentation()
    }
}

fn shift_offsets(node: &mut Element, base: usize) {
    node.offset += base;
    for c in &mut node.children {
        if let Node::Element(e) = c {
            shift_offsets(e, base);
        }
    }
}

/// Parses `input[start..]` (UTF-8, optional byte order mark) into a tree; offsets of
/// nodes and errors are into `input`.
pub(crate) fn parse(
    input: &[u8],
    start: usize,
    limits: &MessageLimits,
) -> Result<Element, MessageError> {
    let whole = Input { bytes: input };
    let options = winmdm_xml::ParseOptions::default().with_limits(*limits);
    let decoded = winmdm_xml::decode_utf8(&input[start..], &options.limits)
        .map_err(|e| whole.err(start + e.offset(), MessageErrorKind::Xml(e.kind)))?;
    let base = start + decoded.bom_len;
    let mut root = winmdm_xml::parse_str(&decoded.text, &options).map_err(|e| {
        let at = match e.kind {
            XmlErrorKind::NoRoot => start,
            _ => base + e.offset(),
        };
        whole.err(at, MessageErrorKind::Xml(e.kind))
    })?;
    shift_offsets(&mut root, base);
    Ok(root)
}
