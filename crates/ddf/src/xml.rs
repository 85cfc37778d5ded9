//! The first parsing phase on winmdm-xml: input decoding and the bounded element tree, with
//! the DDF's element type (names as written).
//!
//! winmdm-xml decodes the input (byte order marks, UTF-16, the declared encoding,
//! Windows-1252) and builds the tree; the DOCTYPE (with its internal subset) is skipped and
//! never read ([`winmdm_xml::DoctypePolicy::Skip`]), only the five predefined entities and
//! character references are resolved, a prefix bound nowhere is read as no namespace;
//! comments and processing instructions are not kept; character data, CDATA sections and
//! references are joined into text. This module maps the tree and its errors onto this
//! crate's [`Element`] and [`ErrorKind`].

use winmdm_xml::ErrorKind as XmlErrorKind;

use crate::error::{ErrorKind, ParseError, Position};
use crate::{InvalidBytes, ParseOptions};

/// One attribute of an [`Element`], value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Qualified name as written (`ValueType`, `xmlns:MSFT`).
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// Content of an [`Element`]: a child element or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A child element.
    Element(Element),
    /// Character data (text, CDATA and resolved references joined).
    Text(String),
}

/// A generic XML element: used for the first parsing phase and to keep elements the DDF model
/// does not know (so nothing is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Qualified name as written (`MSFT:AllowedValues`).
    pub name: String,
    /// Namespace URI the prefix (or default namespace) resolves to, if any.
    pub namespace: Option<String>,
    /// Attributes: the namespace declarations, then the other attributes, each in document
    /// order.
    pub attributes: Vec<Attribute>,
    /// Children in document order.
    pub children: Vec<Content>,
    /// Byte offset of the start tag in the decoded input.
    pub offset: usize,
}

impl Element {
    /// Local name (after the prefix).
    pub fn local_name(&self) -> &str {
        self.name.rsplit_once(':').map_or(&self.name, |(_, l)| l)
    }

    /// Prefix, if the name has one.
    pub fn prefix(&self) -> Option<&str> {
        self.name.split_once(':').map(|(p, _)| p)
    }

    /// Value of attribute `name` (qualified name as written).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Child elements in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Content::Element(e) => Some(e),
            Content::Text(_) => None,
        })
    }

    /// All text directly inside this element, joined.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Content::Text(t) = c {
                s.push_str(t);
            }
        }
        s
    }

    /// True if the element has child elements or non-whitespace text.
    pub fn has_content(&self) -> bool {
        self.children.iter().any(|c| match c {
            Content::Element(_) => true,
            Content::Text(t) => !t.trim().is_empty(),
        })
    }
}

/// The input after transcoding to UTF-8, and whether a fallback decoding was used.
pub(crate) struct Decoded<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub fallback_used: bool,
}

fn xml_options(options: &ParseOptions) -> winmdm_xml::ParseOptions {
    let l = &options.limits;
    let limits = winmdm_xml::Limits::default()
        .with_max_input_bytes(l.max_input_bytes)
        .with_max_depth(l.max_depth)
        .with_max_elements(l.max_elements)
        .with_max_attributes(l.max_attributes)
        // DDF has no value limit of its own: a value is bounded by the input.
        .with_max_value_bytes(usize::MAX);
    winmdm_xml::ParseOptions::default()
        .with_limits(limits)
        .with_doctype(winmdm_xml::DoctypePolicy::Skip)
        .with_unbound_prefixes(winmdm_xml::UnboundPrefixPolicy::NoNamespace)
        .with_invalid_bytes(match options.invalid_bytes {
            InvalidBytes::Error => winmdm_xml::InvalidBytes::Error,
            InvalidBytes::Windows1252 => winmdm_xml::InvalidBytes::Windows1252,
            InvalidBytes::Lossy => winmdm_xml::InvalidBytes::Replace,
        })
}

/// This crate's error kind for a winmdm-xml one.
fn kind(kind: XmlErrorKind) -> ErrorKind {
    match kind {
        XmlErrorKind::NoRoot => ErrorKind::NoRoot,
        XmlErrorKind::InvalidEncoding { encoding, byte } => {
            ErrorKind::InvalidEncoding { encoding, byte }
        }
        XmlErrorKind::UnsupportedEncoding(e) => ErrorKind::UnsupportedEncoding(e),
        XmlErrorKind::Syntax(e) => ErrorKind::Xml(e.to_string()),
        XmlErrorKind::UnknownEntity(e) => ErrorKind::UndefinedEntity(e),
        XmlErrorKind::UnclosedElement(name) => ErrorKind::UnexpectedEof(name),
        XmlErrorKind::TrailingContent => ErrorKind::TrailingContent,
        XmlErrorKind::InputTooLarge { size, limit } => ErrorKind::InputTooLarge { size, limit },
        XmlErrorKind::TooDeep { limit } => ErrorKind::TooDeep { limit },
        XmlErrorKind::TooManyElements { limit } => ErrorKind::TooManyElements { limit },
        XmlErrorKind::TooManyAttributes { limit } => ErrorKind::TooManyAttributes { limit },
        // Names, characters, text before the root, and kinds added later.
        other => ErrorKind::Xml(other.to_string()),
    }
}

fn error(e: winmdm_xml::Error, text_len: Option<usize>, text: &str) -> ParseError {
    let position = match (&e.kind, text_len) {
        // No root: at the end of the text, as before.
        (XmlErrorKind::NoRoot, Some(len)) => Position::locate(text, len),
        _ => Position {
            offset: e.position.offset,
            line: e.position.line,
            column: e.position.column,
        },
    };
    ParseError::new(kind(e.kind), position, e.path)
}

/// Decodes the raw input to UTF-8 text: BOMs (UTF-8, UTF-16), the encoding declaration
/// (UTF-8, UTF-16 with BOM, Windows-1252, ISO-8859-1, US-ASCII), and the configured handling of
/// bytes that are invalid for the encoding.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    options: &ParseOptions,
) -> Result<Decoded<'a>, ParseError> {
    let o = xml_options(options);
    let d =
        winmdm_xml::decode(bytes, o.invalid_bytes, &o.limits).map_err(|e| error(e, None, ""))?;
    Ok(Decoded {
        text: d.text,
        fallback_used: d.fallback_used,
    })
}

/// This crate's element for a winmdm-xml one: names as written, namespace declarations
/// first among the attributes.
fn element(e: winmdm_xml::Element) -> Element {
    let name = e.qualified_name();
    let mut attributes = Vec::with_capacity(e.namespace_declarations.len() + e.attributes.len());
    for (prefix, uri) in e.namespace_declarations {
        let name = match prefix {
            Some(p) => format!("xmlns:{p}"),
            None => "xmlns".to_owned(),
        };
        attributes.push(Attribute { name, value: uri });
    }
    for a in e.attributes {
        attributes.push(Attribute {
            name: a.qualified_name(),
            value: a.value,
        });
    }
    let children = e
        .children
        .into_iter()
        .map(|c| match c {
            winmdm_xml::Node::Element(e) => Content::Element(element(e)),
            winmdm_xml::Node::Text(t) => Content::Text(t),
        })
        .collect();
    Element {
        name,
        namespace: e.namespace,
        attributes,
        children,
        offset: e.offset,
    }
}

/// Builds the element tree of `text` within the limits of `options`.
pub(crate) fn build_tree(text: &str, options: &ParseOptions) -> Result<Element, ParseError> {
    winmdm_xml::parse_str(text, &xml_options(options))
        .map(element)
        .map_err(|e| error(e, Some(text.len()), text))
}
