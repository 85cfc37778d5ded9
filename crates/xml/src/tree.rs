//! The bounded, namespace-aware tree builder on quick-xml's `NsReader`.

use quick_xml::escape::{EscapeError, ParseCharRefError};
use quick_xml::events::attributes::{AttrError, Attribute as RawAttribute};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{NamespaceError, PrefixDeclaration, QName, ResolveResult};
use quick_xml::reader::NsReader;

use crate::element::{Attribute, Element, Node, XML_NS};
use crate::error::{CharacterReferenceError, SyntaxError};
use crate::{DoctypePolicy, Error, ErrorKind, ParseOptions, UnboundPrefixPolicy};

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

fn check_chars(s: &str) -> Result<(), ErrorKind> {
    match s.chars().find(|c| !legal_char(*c)) {
        None => Ok(()),
        Some(c) => Err(ErrorKind::IllegalCharacter(c)),
    }
}

fn escape_error(e: EscapeError) -> ErrorKind {
    match e {
        EscapeError::UnrecognizedEntity(_, name) => ErrorKind::UnknownEntity(name),
        EscapeError::UnterminatedEntity(_) => SyntaxError::UnclosedReference.into(),
        EscapeError::InvalidCharRef(e) => char_ref_error(e),
        // Only entities that expand to entities nest, and only the five predefined ones
        // (which do not) are ever expanded: not produced.
        EscapeError::TooManyNestedEntities => SyntaxError::UnclosedReference.into(),
    }
}

fn char_ref_error(e: ParseCharRefError) -> ErrorKind {
    let reason = match e {
        ParseCharRefError::UnexpectedSign => CharacterReferenceError::Sign,
        ParseCharRefError::InvalidNumber(_) => CharacterReferenceError::NotANumber,
        ParseCharRefError::InvalidCodepoint(n) => CharacterReferenceError::NotACodepoint(n),
        // A reference to a character XML does not allow (U+0000).
        ParseCharRefError::IllegalCharacter(n) => match char::from_u32(n) {
            Some(c) => return ErrorKind::IllegalCharacter(c),
            None => CharacterReferenceError::NotACodepoint(n),
        },
    };
    SyntaxError::InvalidCharacterReference(reason).into()
}

/// This crate's kind for an error of the XML reader (one that is not an attribute's: see
/// [`attribute_error`]).
fn reader_error(e: quick_xml::Error, text: &str, at: usize) -> ErrorKind {
    use quick_xml::errors::{IllFormedError as Ill, SyntaxError as Qs};
    match e {
        quick_xml::Error::Syntax(e) => match e {
            Qs::InvalidBangMarkup => SyntaxError::InvalidMarkup,
            Qs::UnclosedPI => SyntaxError::UnclosedProcessingInstruction,
            Qs::UnclosedXmlDecl => SyntaxError::UnclosedXmlDeclaration,
            Qs::UnclosedComment => SyntaxError::UnclosedComment,
            Qs::UnclosedDoctype => SyntaxError::UnclosedDoctype,
            Qs::UnclosedCData => SyntaxError::UnclosedCData,
            Qs::UnclosedTag => SyntaxError::UnclosedTag,
            Qs::UnclosedSingleQuotedAttributeValue => {
                SyntaxError::UnclosedAttributeValue { quote: '\'' }
            }
            Qs::UnclosedDoubleQuotedAttributeValue => {
                SyntaxError::UnclosedAttributeValue { quote: '"' }
            }
        }
        .into(),
        quick_xml::Error::IllFormed(e) => match e {
            Ill::MissingDeclVersion(_) | Ill::UnknownVersion => {
                SyntaxError::InvalidXmlDeclaration.into()
            }
            Ill::MissingDoctypeName => SyntaxError::MissingDoctypeName.into(),
            // Only from `read_to_end`, which is not used.
            Ill::MissingEndTag(name) => ErrorKind::UnclosedElement(name),
            Ill::UnmatchedEndTag(name) => SyntaxError::UnmatchedEndTag(name).into(),
            Ill::MismatchedEndTag { expected, found } => {
                SyntaxError::MismatchedEndTag { expected, found }.into()
            }
            Ill::DoubleHyphenInComment => SyntaxError::DoubleHyphenInComment.into(),
            Ill::UnclosedReference => SyntaxError::UnclosedReference.into(),
        },
        quick_xml::Error::InvalidAttr(e) => attribute_error(e, ""),
        quick_xml::Error::Escape(e) => escape_error(e),
        quick_xml::Error::Namespace(e) => namespace_error(e),
        // Not produced: the reader reads a `&str` (no I/O, no invalid UTF-8).
        quick_xml::Error::Io(_) | quick_xml::Error::Encoding(_) => ErrorKind::InvalidEncoding {
            encoding: "UTF-8".to_owned(),
            byte: text.as_bytes().get(at).copied().unwrap_or(0),
        },
    }
}

fn namespace_error(e: NamespaceError) -> ErrorKind {
    const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
    let reserved = |prefix: &str, namespace: &str| {
        ErrorKind::Syntax(SyntaxError::ReservedNamespaceBinding {
            prefix: prefix.to_owned(),
            namespace: namespace.to_owned(),
        })
    };
    match e {
        NamespaceError::UnknownPrefix(p) => ErrorKind::UnboundPrefix(p),
        NamespaceError::InvalidXmlPrefixBind(ns) => reserved("xml", &ns),
        NamespaceError::InvalidXmlnsPrefixBind(ns) => reserved("xmlns", &ns),
        NamespaceError::InvalidPrefixForXml(p) => reserved(&p, XML_NS),
        NamespaceError::InvalidPrefixForXmlns(p) => reserved(&p, XMLNS_NS),
        NamespaceError::TooManyBindings(limit) => ErrorKind::TooManyNamespaceBindings { limit },
        NamespaceError::TooDeeplyNested(limit) => ErrorKind::TooDeep { limit },
    }
}

/// This crate's kind for an attribute error of the reader; `tag` is the tag's text after
/// `<`, where the name of a duplicate attribute is read.
fn attribute_error(e: AttrError, tag: &str) -> ErrorKind {
    let kind = match e {
        AttrError::ExpectedEq(_) => SyntaxError::AttributeWithoutEquals,
        AttrError::ExpectedValue(_) => SyntaxError::AttributeWithoutValue,
        AttrError::UnquotedValue(_) => SyntaxError::UnquotedAttributeValue,
        AttrError::ExpectedQuote(_, quote) => SyntaxError::UnclosedAttributeValue {
            quote: char::from(quote),
        },
        AttrError::Duplicated(at, _) => {
            let rest = tag.get(at..).unwrap_or("");
            let end = rest
                .find(|c: char| c == '=' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let name = rest[..end].to_owned();
            SyntaxError::DuplicateAttribute { name }
        }
    };
    kind.into()
}

/// The namespace name of a binding: the declaring attribute's value with references
/// resolved (the resolver keeps the raw attribute text).
fn ns_name(raw: &str) -> Result<String, ErrorKind> {
    let v = quick_xml::escape::unescape(raw).map_err(escape_error)?;
    check_chars(&v)?;
    Ok(v.into_owned())
}

/// The one reference resolution: character references and the five predefined entities.
fn resolve_reference(r: &BytesRef<'_>) -> Result<String, ErrorKind> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.to_string()),
        Ok(None) => match r.as_ref() {
            "amp" => Ok("&".into()),
            "lt" => Ok("<".into()),
            "gt" => Ok(">".into()),
            "quot" => Ok("\"".into()),
            "apos" => Ok("'".into()),
            other => Err(ErrorKind::UnknownEntity(other.to_owned())),
        },
        Err(quick_xml::Error::Escape(e)) => Err(escape_error(e)),
        // `resolve_char_ref` fails with escape errors only.
        Err(e) => Err(reader_error(e, "", 0)),
    }
}

struct Builder<'t, 'o> {
    text: &'t str,
    options: &'o ParseOptions,
    /// Open elements and the text bytes each holds so far (for `max_value_bytes`).
    stack: Vec<(Element, usize)>,
    root: Option<Element>,
    elements: usize,
}

impl Builder<'_, '_> {
    fn err(&self, at: usize, kind: ErrorKind) -> Error {
        let mut path = String::new();
        for (e, _) in &self.stack {
            path.push('/');
            path.push_str(&e.qualified_name());
        }
        Error::at(kind, self.text, at, path)
    }

    fn resolve(&self, res: ResolveResult<'_>) -> Result<Option<String>, ErrorKind> {
        match res {
            ResolveResult::Bound(ns) => Ok(Some(ns_name(ns.0)?)),
            ResolveResult::Unbound => Ok(None),
            ResolveResult::Unknown(p) => match self.options.unbound_prefixes {
                UnboundPrefixPolicy::Reject => Err(ErrorKind::UnboundPrefix(p)),
                UnboundPrefixPolicy::NoNamespace => Ok(None),
            },
        }
    }

    /// A start or empty-element tag: limits, names, attributes; the element is pushed.
    fn start(
        &mut self,
        reader: &NsReader<&[u8]>,
        namespace: Option<String>,
        e: &BytesStart<'_>,
        at: usize,
    ) -> Result<(), Error> {
        let limits = &self.options.limits;
        if self.root.is_some() {
            return Err(self.err(at, ErrorKind::TrailingContent));
        }
        self.elements += 1;
        if self.elements > limits.max_elements {
            let limit = limits.max_elements;
            return Err(self.err(at, ErrorKind::TooManyElements { limit }));
        }
        if self.stack.len() + 1 > limits.max_depth {
            let limit = limits.max_depth;
            return Err(self.err(at, ErrorKind::TooDeep { limit }));
        }
        let qname = e.name();
        if !valid_qname(qname.as_ref()) {
            let kind = ErrorKind::InvalidName {
                name: qname.as_ref().to_owned(),
                attribute: false,
            };
            return Err(self.err(at, kind));
        }
        let mut element = Element {
            namespace,
            name: e.local_name().as_ref().to_owned(),
            prefix: qname.prefix().map(|p| p.as_ref().to_owned()),
            offset: at,
            ..Element::default()
        };
        self.attributes(reader, e, &mut element)
            .map_err(|k| self.err(at, k))?;
        self.stack.push((element, 0));
        Ok(())
    }

    fn attributes(
        &self,
        reader: &NsReader<&[u8]>,
        e: &BytesStart<'_>,
        element: &mut Element,
    ) -> Result<(), ErrorKind> {
        let limits = &self.options.limits;
        let mut count = 0usize;
        for a in e.attributes() {
            let a = a.map_err(|err| attribute_error(err, e.as_ref()))?;
            count += 1;
            if count > limits.max_attributes {
                let limit = limits.max_attributes;
                return Err(ErrorKind::TooManyAttributes { limit });
            }
            let key = a.key;
            if !valid_qname(key.as_ref()) {
                let name = key.as_ref().to_owned();
                return Err(ErrorKind::InvalidName {
                    name,
                    attribute: true,
                });
            }
            if let Some(binding) = key.as_namespace_binding() {
                // Checked when used (`ns_name`); recorded as written.
                let raw = a.value.clone().into_owned();
                let value = quick_xml::escape::unescape(&raw)
                    .map(|v| v.into_owned())
                    .unwrap_or(raw);
                let prefix = match binding {
                    PrefixDeclaration::Default => None,
                    PrefixDeclaration::Named(p) => Some(p.to_owned()),
                };
                element.namespace_declarations.push((prefix, value));
                continue;
            }
            element.attributes.push(self.attribute(reader, &a)?);
        }
        Ok(())
    }

    fn attribute(
        &self,
        reader: &NsReader<&[u8]>,
        a: &RawAttribute<'_>,
    ) -> Result<Attribute, ErrorKind> {
        let key = a.key;
        let prefix = key.prefix().map(|p| p.as_ref().to_owned());
        let (res, local) = reader.resolver().resolve_attribute(key);
        let namespace = match res {
            ResolveResult::Unbound if prefix.as_deref() == Some("xml") => Some(XML_NS.to_owned()),
            ResolveResult::Unknown(p) if p == "xml" => Some(XML_NS.to_owned()),
            other => self.resolve(other)?,
        };
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| reader_error(err, "", 0))?;
        check_chars(&value)?;
        let limits = &self.options.limits;
        if value.len() > limits.max_value_bytes {
            let limit = limits.max_value_bytes;
            return Err(ErrorKind::ValueTooLarge { limit });
        }
        Ok(Attribute {
            namespace,
            name: local.as_ref().to_owned(),
            value: value.into_owned(),
            prefix,
        })
    }

    /// The end of the innermost open element (or of an empty-element tag).
    fn end(&mut self, reader: &NsReader<&[u8]>, at: usize) -> Result<(), Error> {
        let Some((mut element, _)) = self.stack.pop() else {
            return Ok(());
        };
        // QName-valued text: resolve the prefix while the element's scope is active.
        element.text_qname_namespace =
            text_qname_namespace(reader, &element.text()).map_err(|k| self.err(at, k))?;
        match self.stack.last_mut() {
            Some((parent, _)) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn push_text(&mut self, at: usize, s: &str) -> Result<(), Error> {
        check_chars(s).map_err(|k| self.err(at, k))?;
        let limit = self.options.limits.max_value_bytes;
        let Some((top, len)) = self.stack.last_mut() else {
            if s.trim().is_empty() {
                return Ok(());
            }
            let kind = if self.root.is_some() {
                ErrorKind::TrailingContent
            } else {
                ErrorKind::TextBeforeRoot
            };
            return Err(self.err(at, kind));
        };
        if *len + s.len() > limit {
            return Err(self.err(at, ErrorKind::ValueTooLarge { limit }));
        }
        *len += s.len();
        // References arrive as separate events: append to the previous text node.
        match top.children.last_mut() {
            Some(Node::Text(prev)) => prev.push_str(s),
            _ => top.children.push(Node::Text(s.to_owned())),
        }
        Ok(())
    }

    fn reference(&mut self, at: usize, r: &BytesRef<'_>) -> Result<(), Error> {
        let s = resolve_reference(r).map_err(|k| self.err(at, k))?;
        if self.stack.is_empty() {
            let kind = if self.root.is_some() {
                ErrorKind::TrailingContent
            } else {
                ErrorKind::TextBeforeRoot
            };
            return Err(self.err(at, kind));
        }
        self.push_text(at, &s)
    }

    fn finish(mut self) -> Result<Element, Error> {
        if let Some((open, _)) = self.stack.last() {
            let kind = ErrorKind::UnclosedElement(open.qualified_name());
            return Err(self.err(self.text.len(), kind));
        }
        match self.root.take() {
            Some(root) => Ok(root),
            None => Err(self.err(0, ErrorKind::NoRoot)),
        }
    }
}

fn text_qname_namespace(reader: &NsReader<&[u8]>, text: &str) -> Result<Option<String>, ErrorKind> {
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
        (ResolveResult::Bound(ns), _) => Ok(Some(ns_name(ns.0)?)),
        _ => Ok(None),
    }
}

/// Parses `text` into its root element within `options` (see [`crate::parse`]).
pub(crate) fn parse_str(text: &str, options: &ParseOptions) -> Result<Element, Error> {
    let limit = options.limits.max_input_bytes;
    if text.len() > limit {
        let kind = ErrorKind::InputTooLarge {
            size: text.len(),
            limit,
        };
        return Err(Error::at(kind, text, 0, String::new()));
    }
    let mut reader = NsReader::from_str(text);
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.expand_empty_elements = false;
    }
    let mut b = Builder {
        text,
        options,
        stack: Vec::new(),
        root: None,
        elements: 0,
    };
    loop {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (res, ev) = match reader.read_resolved_event() {
            Ok(v) => v,
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(at);
                return Err(b.err(pos, reader_error(e, text, pos)));
            }
        };
        // The element's namespace, owned before the reader is borrowed again.
        let namespace = match ev {
            Event::Start(_) | Event::Empty(_) => b.resolve(res).map_err(|k| b.err(at, k))?,
            _ => None,
        };
        match ev {
            Event::Start(ref e) => b.start(&reader, namespace, e, at)?,
            Event::Empty(ref e) => {
                b.start(&reader, namespace, e, at)?;
                b.end(&reader, at)?;
            }
            Event::End(_) => b.end(&reader, at)?,
            Event::Text(t) => b.push_text(at, &t.xml10_content())?,
            Event::CData(t) => b.push_text(at, &t.xml10_content())?,
            Event::GeneralRef(r) => b.reference(at, &r)?,
            Event::DocType(_) => match options.doctype {
                DoctypePolicy::Reject => return Err(b.err(at, ErrorKind::Doctype)),
                DoctypePolicy::Skip => {}
            },
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    b.finish()
}
