//! Input decoding and a small, bounded XML element tree (the first parsing phase).
//!
//! The DOCTYPE (with its internal subset) is skipped and never expanded; comments and
//! processing instructions are not kept; character data, CDATA sections and references
//! are joined into text.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

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
    /// Attributes in document order (namespace declarations included).
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

/// The input after transcoding to UTF-8, and which decoding was used.
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub fallback_used: bool,
}

const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// Maps one Windows-1252 byte to its character (undefined bytes map to the C1 control of the
/// same value, as the WHATWG encoding standard does).
pub(crate) fn windows_1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

fn declared_encoding(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&bytes[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let rest = &rest[1..];
    let close = rest.find(quote)?;
    Some(rest[..close].to_string())
}

fn invalid(encoding: &str, bytes: &[u8], offset: usize) -> ParseError {
    ParseError::new(
        ErrorKind::InvalidEncoding {
            encoding: encoding.to_string(),
            byte: bytes[offset],
        },
        Position::locate_bytes(bytes, offset),
        String::new(),
    )
}

fn decode_utf16(bytes: &[u8], little: bool) -> Result<String, ParseError> {
    if bytes.len() & 1 != 0 {
        return Err(invalid("UTF-16", bytes, bytes.len() - 1));
    }
    let units = bytes.chunks_exact(2).map(|c| {
        if little {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, r) in char::decode_utf16(units).enumerate() {
        match r {
            Ok(c) => out.push(c),
            Err(_) => return Err(invalid("UTF-16", bytes, i * 2)),
        }
    }
    Ok(out)
}

fn decode_utf8_with_fallback(bytes: &[u8], mode: InvalidBytes) -> Result<Decoded<'_>, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Decoded {
            text: Cow::Borrowed(s),
            fallback_used: false,
        }),
        Err(e) => {
            if mode == InvalidBytes::Error {
                return Err(invalid("UTF-8", bytes, e.valid_up_to()));
            }
            let mut out = String::with_capacity(bytes.len() + 16);
            let mut rest = bytes;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let (good, bad) = rest.split_at(e.valid_up_to());
                        // `good` is valid UTF-8 by construction.
                        out.push_str(std::str::from_utf8(good).unwrap_or_default());
                        let n = e.error_len().unwrap_or(bad.len());
                        for &b in &bad[..n] {
                            match mode {
                                InvalidBytes::Windows1252 => out.push(windows_1252_char(b)),
                                _ => out.push('\u{FFFD}'),
                            }
                        }
                        rest = &bad[n..];
                    }
                }
            }
            Ok(Decoded {
                text: Cow::Owned(out),
                fallback_used: true,
            })
        }
    }
}

/// Decodes the raw input to UTF-8 text: BOMs (UTF-8, UTF-16), the encoding declaration
/// (UTF-8, UTF-16 with BOM, Windows-1252, ISO-8859-1, US-ASCII), and the configured handling of
/// bytes that are invalid for the encoding.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    options: &ParseOptions,
) -> Result<Decoded<'a>, ParseError> {
    let limit = options.limits.max_input_bytes;
    if bytes.len() > limit {
        return Err(ParseError::new(
            ErrorKind::InputTooLarge {
                size: bytes.len(),
                limit,
            },
            Position::default(),
            String::new(),
        ));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8_with_fallback(rest, options.invalid_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Ok(Decoded {
            text: Cow::Owned(decode_utf16(rest, true)?),
            fallback_used: false,
        });
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Ok(Decoded {
            text: Cow::Owned(decode_utf16(rest, false)?),
            fallback_used: false,
        });
    }
    let declared = declared_encoding(bytes).unwrap_or_else(|| "UTF-8".to_string());
    match declared.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => decode_utf8_with_fallback(bytes, options.invalid_bytes),
        "windows-1252" | "cp1252" | "iso-8859-1" | "latin1" | "iso8859-1" => Ok(Decoded {
            text: Cow::Owned(bytes.iter().map(|&b| windows_1252_char(b)).collect()),
            fallback_used: false,
        }),
        "us-ascii" | "ascii" => match bytes.iter().position(|b| !b.is_ascii()) {
            None => decode_utf8_with_fallback(bytes, options.invalid_bytes),
            Some(_) if options.invalid_bytes != InvalidBytes::Error => {
                decode_utf8_with_fallback(bytes, options.invalid_bytes)
            }
            Some(at) => Err(invalid(&declared, bytes, at)),
        },
        _ => Err(ParseError::new(
            ErrorKind::UnsupportedEncoding(declared),
            Position::default(),
            String::new(),
        )),
    }
}

struct Frame {
    element: Element,
    scope_len: usize,
}

fn element_path(stack: &[Frame]) -> String {
    let mut p = String::new();
    for f in stack {
        p.push('/');
        p.push_str(&f.element.name);
    }
    p
}

/// Builds the element tree of `text` within the limits of `options`.
pub(crate) fn build_tree(text: &str, options: &ParseOptions) -> Result<Element, ParseError> {
    let limits = &options.limits;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<Frame> = Vec::new();
    let mut ns: Vec<(String, String)> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    let err = |kind: ErrorKind, offset: usize, stack: &[Frame]| {
        ParseError::new(kind, Position::locate(text, offset), element_path(stack))
    };

    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(start);
                return Err(err(ErrorKind::Xml(e.to_string()), at, &stack));
            }
        };
        match event {
            Event::Start(s) | Event::Empty(s) if root.is_some() && stack.is_empty() => {
                let _ = s;
                return Err(err(ErrorKind::TrailingContent, start, &stack));
            }
            Event::Start(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(err(
                        ErrorKind::TooManyElements {
                            limit: limits.max_elements,
                        },
                        start,
                        &stack,
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err(
                        ErrorKind::TooDeep {
                            limit: limits.max_depth,
                        },
                        start,
                        &stack,
                    ));
                }
                let scope_len = ns.len();
                let element = open(&s, start, &mut ns, limits.max_attributes)
                    .map_err(|k| err(k, start, &stack))?;
                stack.push(Frame { element, scope_len });
            }
            Event::Empty(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(err(
                        ErrorKind::TooManyElements {
                            limit: limits.max_elements,
                        },
                        start,
                        &stack,
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err(
                        ErrorKind::TooDeep {
                            limit: limits.max_depth,
                        },
                        start,
                        &stack,
                    ));
                }
                let scope_len = ns.len();
                let element = open(&s, start, &mut ns, limits.max_attributes)
                    .map_err(|k| err(k, start, &stack))?;
                ns.truncate(scope_len);
                match stack.last_mut() {
                    Some(parent) => parent.element.children.push(Content::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                // quick-xml checks that the name matches the open element.
                let Some(frame) = stack.pop() else {
                    return Err(err(
                        ErrorKind::Xml("end tag without start tag".into()),
                        start,
                        &stack,
                    ));
                };
                ns.truncate(frame.scope_len);
                match stack.last_mut() {
                    Some(parent) => parent
                        .element
                        .children
                        .push(Content::Element(frame.element)),
                    None => root = Some(frame.element),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                push_text(&mut stack, &content, root.is_some()).map_err(|k| err(k, start, &[]))?;
            }
            Event::CData(c) => {
                let content = c.xml10_content();
                if stack.is_empty() {
                    return Err(err(ErrorKind::TrailingContent, start, &stack));
                }
                push_text(&mut stack, &content, root.is_some()).map_err(|k| err(k, start, &[]))?;
            }
            Event::GeneralRef(r) => {
                let resolved: String = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name: &str = &r;
                        match name {
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "amp" => "&".into(),
                            "apos" => "'".into(),
                            "quot" => "\"".into(),
                            other => {
                                return Err(err(
                                    ErrorKind::UndefinedEntity(other.to_string()),
                                    start,
                                    &stack,
                                ));
                            }
                        }
                    }
                    Err(e) => return Err(err(ErrorKind::Xml(e.to_string()), start, &stack)),
                };
                if stack.is_empty() {
                    return Err(err(ErrorKind::TrailingContent, start, &stack));
                }
                push_text(&mut stack, &resolved, root.is_some()).map_err(|k| err(k, start, &[]))?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    let name = open.element.name.clone();
                    return Err(err(ErrorKind::UnexpectedEof(name), text.len(), &stack));
                }
                return root.ok_or_else(|| err(ErrorKind::NoRoot, text.len(), &stack));
            }
        }
    }
}

fn push_text(stack: &mut [Frame], content: &str, after_root: bool) -> Result<(), ErrorKind> {
    match stack.last_mut() {
        Some(frame) => {
            if let Some(Content::Text(last)) = frame.element.children.last_mut() {
                last.push_str(content);
            } else {
                frame
                    .element
                    .children
                    .push(Content::Text(content.to_string()));
            }
            Ok(())
        }
        None if content.trim().is_empty() => Ok(()),
        None if after_root => Err(ErrorKind::TrailingContent),
        None => Err(ErrorKind::Xml("text before the root element".into())),
    }
}

fn open(
    s: &BytesStart<'_>,
    offset: usize,
    ns: &mut Vec<(String, String)>,
    max_attributes: usize,
) -> Result<Element, ErrorKind> {
    let name = String::from_utf8_lossy(s.name().as_ref().as_bytes()).into_owned();
    let mut attributes = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| ErrorKind::Xml(e.to_string()))?;
        if attributes.len() >= max_attributes {
            return Err(ErrorKind::TooManyAttributes {
                limit: max_attributes,
            });
        }
        let key = String::from_utf8_lossy(a.key.as_ref().as_bytes()).into_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| ErrorKind::Xml(e.to_string()))?
            .into_owned();
        if key == "xmlns" {
            ns.push((String::new(), value.clone()));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            ns.push((prefix.to_string(), value.clone()));
        }
        attributes.push(Attribute { name: key, value });
    }
    let prefix = name.split_once(':').map_or("", |(p, _)| p);
    let namespace = ns
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.clone())
        .filter(|uri| !uri.is_empty());
    Ok(Element {
        name,
        namespace,
        attributes,
        children: Vec::new(),
        offset,
    })
}
