//! Namespace-aware, bounded XML tree built on `quick_xml::NsReader`.
//!
//! The typed decoders walk this tree; every node keeps the byte offset of its start
//! tag so that decode errors can be positioned.

use quick_xml::events::Event;
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

use crate::error::{DecodeError, DecodeErrorKind, Limits};
use crate::xml::{XmlAttribute, XmlElement, XmlNode};

/// Namespace of `xml:` attributes.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One element of the parsed tree.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) ns: Option<String>,
    pub(crate) local: String,
    pub(crate) attrs: Vec<XmlAttribute>,
    pub(crate) children: Vec<Child>,
    /// Byte offset of the start tag in the whole input.
    pub(crate) pos: usize,
    /// If the element's text has the form `prefix:local` and the prefix is bound where
    /// the text appears, the namespace of that QName (SOAP fault codes).
    pub(crate) text_qname_ns: Option<String>,
    /// Bytes of text content so far (for `max_value_bytes`).
    pub(crate) text_len: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Child {
    Elem(Node),
    Text(String),
}

/// Decoding context: the whole input, for positioning errors.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) input: &'a [u8],
}

impl Ctx<'_> {
    pub(crate) fn err(&self, pos: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::at(self.input, pos, kind)
    }
    pub(crate) fn missing(&self, node: &Node, what: &'static str) -> DecodeError {
        self.err(node.pos, DecodeErrorKind::Missing(what))
    }
    pub(crate) fn invalid(&self, node: &Node, field: &'static str, value: &str) -> DecodeError {
        self.err(
            node.pos,
            DecodeErrorKind::InvalidValue {
                field,
                value: crate::error::truncate(value),
            },
        )
    }
}

impl Node {
    /// `{ns}local` for messages.
    pub(crate) fn qualified(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }

    /// Local name matches, ASCII case-insensitively (see docs/enroll.md, quirk
    /// "lower-cased fault samples").
    pub(crate) fn is(&self, local: &str) -> bool {
        self.local.eq_ignore_ascii_case(local)
    }

    /// Namespace is one of `nss` (`None` in the list stands for "no namespace").
    pub(crate) fn in_ns(&self, nss: &[Option<&str>]) -> bool {
        nss.contains(&self.ns.as_deref())
    }

    pub(crate) fn elems(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().filter_map(|c| match c {
            Child::Elem(e) => Some(e),
            Child::Text(_) => None,
        })
    }

    /// First child element with this local name (any namespace).
    pub(crate) fn child(&self, local: &str) -> Option<&Node> {
        self.elems().find(|e| e.is(local))
    }

    /// Concatenated text content of the direct text children.
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Child::Text(t) = c {
                s.push_str(t);
            }
        }
        s
    }

    /// Trimmed text content.
    pub(crate) fn trimmed(&self) -> String {
        self.text().trim().to_owned()
    }

    /// Attribute by local name: unqualified, or in any namespace (some samples prefix
    /// `ValueType`/`EncodingType` with `wsse:`).
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.namespace.is_none() && a.name.eq_ignore_ascii_case(local))
            .or_else(|| {
                self.attrs
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(local))
            })
            .map(|a| a.value.as_str())
    }

    /// Attribute by namespace and local name.
    pub(crate) fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.namespace.as_deref() == Some(ns) && a.name.eq_ignore_ascii_case(local))
            .map(|a| a.value.as_str())
    }

    /// `xsi:nil="true"` (any prefix).
    pub(crate) fn is_nil(&self) -> bool {
        matches!(
            self.attr_ns(crate::ns::XSI, "nil").map(str::trim),
            Some("true" | "1")
        )
    }

    /// Trimmed text, `None` when nil (and empty) or empty. Content wins over a
    /// contradictory `nil="true"` (MS-MDE2 4.2.3 example).
    pub(crate) fn opt_text(&self) -> Option<String> {
        let t = self.trimmed();
        if t.is_empty() { None } else { Some(t) }
    }

    /// Converts to the public generic element (whitespace-only text dropped where the
    /// element has child elements).
    pub(crate) fn to_generic(&self) -> XmlElement {
        let has_elems = self.elems().next().is_some();
        let children = self
            .children
            .iter()
            .filter_map(|c| match c {
                Child::Elem(e) => Some(XmlNode::Element(e.to_generic())),
                Child::Text(t) if t.is_empty() || (has_elems && t.trim().is_empty()) => None,
                Child::Text(t) => Some(XmlNode::Text(t.clone())),
            })
            .collect::<Vec<_>>();
        // Merge adjacent text nodes (entity references split text).
        let mut merged: Vec<XmlNode> = Vec::with_capacity(children.len());
        for c in children {
            match (merged.last_mut(), c) {
                (Some(XmlNode::Text(prev)), XmlNode::Text(t)) => prev.push_str(&t),
                (_, c) => merged.push(c),
            }
        }
        XmlElement {
            namespace: self.ns.clone(),
            name: self.local.clone(),
            attributes: self.attrs.clone(),
            children: merged,
        }
    }
}

/// The namespace name of a binding: the declaring attribute's value with references
/// resolved (the resolver keeps the raw attribute text).
fn ns_name(ctx: &Ctx<'_>, at: usize, raw: &str) -> Result<String, DecodeError> {
    let v = quick_xml::escape::unescape(raw).map_err(|e| match e {
        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name) => {
            ctx.err(at, DecodeErrorKind::UnknownEntity(name))
        }
        other => ctx.err(at, DecodeErrorKind::Syntax(other.to_string())),
    })?;
    check_chars(ctx, at, &v)?;
    Ok(v.into_owned())
}

/// A QName: one or two NCNames separated by a colon (XML 1.0 fifth edition name
/// characters, non-ASCII accepted as name characters).
fn valid_qname(name: &str) -> bool {
    fn ncname(s: &str) -> bool {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' || !c.is_ascii() => {}
            _ => return false,
        }
        chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') || !c.is_ascii())
    }
    match name.split_once(':') {
        Some((p, l)) => ncname(p) && ncname(l),
        None => ncname(name),
    }
}

/// XML 1.0 `Char` production.
fn legal_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(ctx: &Ctx<'_>, at: usize, s: &str) -> Result<(), DecodeError> {
    match s.chars().find(|c| !legal_char(*c)) {
        None => Ok(()),
        Some(c) => Err(ctx.err(
            at,
            DecodeErrorKind::Syntax(format!(
                "character U+{:04X} is not allowed in XML",
                c as u32
            )),
        )),
    }
}

/// Strips a UTF-8 BOM; returns the number of bytes skipped.
fn bom_len(input: &[u8]) -> usize {
    if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    }
}

/// Parses `input[start..]` into a tree; positions are offsets into `input`.
pub(crate) fn parse(input: &[u8], start: usize, limits: &Limits) -> Result<Node, DecodeError> {
    let ctx = Ctx { input };
    let body = &input[start..];
    if body.len() > limits.max_input_bytes {
        return Err(ctx.err(
            start,
            DecodeErrorKind::InputTooLarge {
                limit: limits.max_input_bytes,
            },
        ));
    }
    let base = start + bom_len(body);
    let text = match std::str::from_utf8(&input[base..]) {
        Ok(t) => t,
        Err(e) => return Err(ctx.err(base + e.valid_up_to(), DecodeErrorKind::NotUtf8)),
    };
    let mut reader = NsReader::from_str(text);
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.expand_empty_elements = false;
    }
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    loop {
        let at = base + reader.buffer_position() as usize;
        let ev = reader.read_resolved_event();
        let (res, ev) = match ev {
            Ok(v) => v,
            Err(e) => {
                let pos = base + reader.error_position() as usize;
                return Err(ctx.err(pos, DecodeErrorKind::Syntax(e.to_string())));
            }
        };
        let ns = match res {
            ResolveResult::Bound(ns) => Some(ns_name(&ctx, at, ns.0)?),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => {
                return Err(ctx.err(at, DecodeErrorKind::UnboundPrefix(p)));
            }
        };
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(ev, Event::Empty(_));
                if root.is_some() {
                    return Err(ctx.err(at, DecodeErrorKind::TrailingContent));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::TooManyElements {
                            limit: limits.max_elements,
                        },
                    ));
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::TooDeep {
                            limit: limits.max_depth,
                        },
                    ));
                }
                let qname = e.name();
                if !valid_qname(qname.as_ref()) {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::Syntax(format!(
                            "invalid element name {:?}",
                            qname.as_ref()
                        )),
                    ));
                }
                let mut attrs = Vec::new();
                let mut count = 0usize;
                for a in e.attributes() {
                    let a = a.map_err(|err| {
                        ctx.err(
                            at,
                            DecodeErrorKind::Syntax(quick_xml::Error::from(err).to_string()),
                        )
                    })?;
                    count += 1;
                    if count > limits.max_attributes {
                        return Err(ctx.err(
                            at,
                            DecodeErrorKind::TooManyAttributes {
                                limit: limits.max_attributes,
                            },
                        ));
                    }
                    let key = a.key;
                    if !valid_qname(key.as_ref()) {
                        return Err(ctx.err(
                            at,
                            DecodeErrorKind::Syntax(format!(
                                "invalid attribute name {:?}",
                                key.as_ref()
                            )),
                        ));
                    }
                    if key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (ares, local) = reader.resolver().resolve_attribute(key);
                    let ans = match ares {
                        ResolveResult::Bound(n) => Some(ns_name(&ctx, at, n.0)?),
                        ResolveResult::Unbound => {
                            if key.prefix().is_some_and(|p| p.as_ref() == "xml") {
                                Some(XML_NS.to_owned())
                            } else {
                                None
                            }
                        }
                        ResolveResult::Unknown(p) => {
                            if p == "xml" {
                                Some(XML_NS.to_owned())
                            } else {
                                return Err(ctx.err(at, DecodeErrorKind::UnboundPrefix(p)));
                            }
                        }
                    };
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| match err {
                            quick_xml::Error::Escape(
                                quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                            ) => ctx.err(at, DecodeErrorKind::UnknownEntity(name)),
                            other => ctx.err(at, DecodeErrorKind::Syntax(other.to_string())),
                        })?;
                    check_chars(&ctx, at, &value)?;
                    if value.len() > limits.max_value_bytes {
                        return Err(ctx.err(
                            at,
                            DecodeErrorKind::ValueTooLarge {
                                limit: limits.max_value_bytes,
                            },
                        ));
                    }
                    attrs.push(XmlAttribute {
                        namespace: ans,
                        name: local.as_ref().to_owned(),
                        value: value.into_owned(),
                    });
                }
                let node = Node {
                    ns,
                    local: e.local_name().as_ref().to_owned(),
                    attrs,
                    children: Vec::new(),
                    pos: at,
                    text_qname_ns: None,
                    text_len: 0,
                };
                if is_empty {
                    close(node, &mut stack, &mut root);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                if let Some(mut node) = stack.pop() {
                    // QName-valued text (fault codes): resolve the prefix while the
                    // element's scope is still active.
                    node.text_qname_ns = qname_ns(&ctx, &reader, at, &node.text())?;
                    close(node, &mut stack, &mut root);
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                push_text(&ctx, &mut stack, &root, at, &s, limits)?;
            }
            Event::CData(t) => {
                let s = t.xml10_content();
                push_text(&ctx, &mut stack, &root, at, &s, limits)?;
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match r.as_ref() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => {
                            return Err(
                                ctx.err(at, DecodeErrorKind::UnknownEntity(other.to_owned()))
                            );
                        }
                    },
                    Err(e) => return Err(ctx.err(at, DecodeErrorKind::Syntax(e.to_string()))),
                };
                if stack.is_empty() {
                    return Err(ctx.err(
                        at,
                        if root.is_some() {
                            DecodeErrorKind::TrailingContent
                        } else {
                            DecodeErrorKind::Syntax("text before the root element".into())
                        },
                    ));
                }
                push_text(&ctx, &mut stack, &root, at, &ch, limits)?;
            }
            Event::DocType(_) => return Err(ctx.err(at, DecodeErrorKind::Doctype)),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ctx.err(
            input.len(),
            DecodeErrorKind::Syntax(format!(
                "unclosed element <{}>",
                stack[stack.len() - 1].local
            )),
        ));
    }
    root.ok_or_else(|| ctx.err(start, DecodeErrorKind::Empty))
}

fn qname_ns(
    ctx: &Ctx<'_>,
    reader: &NsReader<&[u8]>,
    at: usize,
    text: &str,
) -> Result<Option<String>, DecodeError> {
    let t = text.trim();
    let Some((prefix, local)) = t.split_once(':') else {
        return Ok(None);
    };
    if prefix.is_empty()
        || local.is_empty()
        || local.contains(':')
        || t.contains(char::is_whitespace)
        || prefix.contains('/')
    {
        return Ok(None);
    }
    match reader.resolver().resolve_element(QName(t)) {
        (ResolveResult::Bound(ns), _) => Ok(Some(ns_name(ctx, at, ns.0)?)),
        _ => Ok(None),
    }
}

fn close(node: Node, stack: &mut [Node], root: &mut Option<Node>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Child::Elem(node)),
        None => *root = Some(node),
    }
}

fn push_text(
    ctx: &Ctx<'_>,
    stack: &mut [Node],
    root: &Option<Node>,
    at: usize,
    s: &str,
    limits: &Limits,
) -> Result<(), DecodeError> {
    check_chars(ctx, at, s)?;
    let Some(top) = stack.last_mut() else {
        if s.trim().is_empty() {
            return Ok(());
        }
        return Err(ctx.err(
            at,
            if root.is_some() {
                DecodeErrorKind::TrailingContent
            } else {
                DecodeErrorKind::Syntax("text before the root element".into())
            },
        ));
    };
    if top.text_len + s.len() > limits.max_value_bytes {
        return Err(ctx.err(
            at,
            DecodeErrorKind::ValueTooLarge {
                limit: limits.max_value_bytes,
            },
        ));
    }
    top.text_len += s.len();
    // Entity references arrive as separate events: append to the previous text node.
    match top.children.last_mut() {
        Some(Child::Text(prev)) => prev.push_str(s),
        _ => top.children.push(Child::Text(s.to_owned())),
    }
    Ok(())
}
