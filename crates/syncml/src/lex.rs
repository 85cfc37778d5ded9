//! The tokenizer under the decoder: XML 1.0 markup on an already validated `&str`.
//!
//! Why not quick-xml's event API (which `winmdm-xml` and so `winmdm-enroll` use): quick-xml
//! is a general reader; its per-event work (re-validating each event's bytes as
//! UTF-8 although the input is a `&str`, splitting text at every entity reference, building
//! `BytesStart`) already costs more than the whole budget issue 2 gives the decoder
//! (`docs/benchmarks.md`, "Why a tokenizer of our own"). This tokenizer does what a
//! SyncML decoder needs and no more: it finds markup with `memchr`, hands out borrowed
//! slices, keeps the stack of open element names (end tags must match), and leaves
//! attributes and entity references raw until the decoder asks for them.
//!
//! Well-formedness checked here: tags, end-tag names, quoting inside tags, comments (no
//! `--` inside), CDATA sections, processing instructions (target a valid name, `xml` only
//! as the declaration), `]]>` outside CDATA, forbidden characters (one pass over the whole
//! input up front), depth. Checked on demand by the functions below: attributes
//! ([`Attrs`]) and references and line ends ([`decode_text`], [`normalize_line_ends`],
//! [`check_refs`]). Prefixed element names are checked here (a prefix must be valid even
//! when the local name is known); unprefixed ones by the decoder wherever it does not
//! compare them with a known name (which is valid by construction).
//!
//! Namespaces in XML 1.0: the lexer keeps the declarations in scope and gives every start
//! tag its namespace ([`StartTag::ns`]). A tag without attributes declares nothing, so the
//! common case costs one copy of the cached default namespace; a tag with attributes is
//! scanned for declarations (and prefixed attributes are checked: bound prefix, distinct
//! expanded names) before its own name is resolved. A prefix bound nowhere is
//! [`DecodeErrorKind::UnboundPrefix`] at its tag.
//! The element path of a decode error comes from this tokenizer too: `path.rs` runs it
//! again up to the error.
//! The fuzz target `syncml_wellformed` checks that what this tokenizer accepts roxmltree (an
//! independent XML parser) accepts, and the other way round bar documented limits.

use std::borrow::Cow;

use memchr::memmem;

use crate::error::{DecodeErrorKind, SyntaxError};
use crate::options::Limit;

/// An error: its kind and byte offset in the tokenizer's input. Boxed: errors are rare,
/// and a `Result` of a token and a boxed error comes back in two registers.
pub(crate) type OffsetError = Box<(DecodeErrorKind, usize)>;

type Result<T> = std::result::Result<T, OffsetError>;

#[cold]
pub(crate) fn fail(kind: DecodeErrorKind, at: usize) -> OffsetError {
    Box::new((kind, at))
}

#[cold]
fn invalid_name(name: &str, at: usize) -> OffsetError {
    syntax_with_name(SyntaxError::InvalidElementName, name, at)
}

/// A syntax error that shows a name (or reference) from the input: the copy is made here,
/// off the caller's path.
#[cold]
pub(crate) fn syntax_with_name(
    error: fn(String) -> SyntaxError,
    name: &str,
    at: usize,
) -> OffsetError {
    syntax(error(name.to_owned()), at)
}

#[cold]
pub(crate) fn syntax(error: SyntaxError, at: usize) -> OffsetError {
    fail(DecodeErrorKind::Syntax(error), at)
}

/// A start tag or empty-element tag.
pub(crate) struct StartTag<'a> {
    /// Qualified name, borrowed from the input.
    pub(crate) qname: &'a str,
    /// Everything between the name and `>` (or `/>`), raw.
    pub(crate) attrs: &'a str,
    /// `<x/>`.
    pub(crate) empty: bool,
    /// Offset of its `<`.
    pub(crate) off: usize,
    /// Where the local name starts in `qname` (after the `:`; 0 without a prefix).
    pub(crate) local_start: usize,
    /// The namespace the name is in, resolved against the declarations in scope.
    pub(crate) ns: Namespace,
}

impl<'a> StartTag<'a> {
    /// The local name when the element is in SyncML's namespace (or in none, which the
    /// decoder's quirks accept), `""` otherwise: an element of another namespace matches
    /// no SyncML name and is decoded as an unknown element.
    #[inline]
    pub(crate) fn local(&self) -> &'a str {
        match self.ns {
            Namespace::SyncMl | Namespace::None => self.local_name(),
            _ => "",
        }
    }

    /// The name without its prefix, whatever its namespace.
    #[inline]
    pub(crate) fn local_name(&self) -> &'a str {
        self.qname.get(self.local_start..).unwrap_or(self.qname)
    }

    /// The prefix, if any.
    pub(crate) fn prefix(&self) -> Option<&'a str> {
        self.qname.get(..self.local_start.checked_sub(1)?)
    }
}

/// The namespace of an element, as far as the decoder cares (Namespaces in XML 1.0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Namespace {
    /// No namespace: no default declared, or undeclared with `xmlns=""`.
    None,
    /// `SYNCML:SYNCML1.2` or `SYNCML:SYNCML1.1` (in any case; the root's quirks say which
    /// are accepted).
    SyncMl,
    /// `syncml:metinf`, the namespace of `Meta`'s children.
    MetInf,
    /// A namespace that is meant to be `syncml:metinf` but is not quite: other case,
    /// whitespace around it, `syncml:metinfo` (Microsoft's published examples). `Meta`'s
    /// children in it are read under [`Quirk::MetInfNamespace`](crate::Quirk).
    MetInfLike,
    /// Any other namespace.
    Other,
    /// A prefix bound nowhere, where the lexer was told to let it through (command
    /// fragments, which profiles write without their envelope's declarations).
    Unbound,
}

/// `syncml:metinf`.
pub(crate) const METINF: &str = "syncml:metinf";
/// The namespace Windows's `msft:` attributes are in (`msft:originalerror`).
pub(crate) const MSFT_MDM: &str = crate::types::MDM_NAMESPACE;
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

impl Namespace {
    fn of(uri: &str) -> Namespace {
        if uri.is_empty() {
            Namespace::None
        } else if uri.eq_ignore_ascii_case("SYNCML:SYNCML1.2")
            || uri.eq_ignore_ascii_case("SYNCML:SYNCML1.1")
        {
            Namespace::SyncMl
        } else if uri == METINF {
            Namespace::MetInf
        } else if uri
            .trim()
            .get(..METINF.len())
            .is_some_and(|u| u.eq_ignore_ascii_case(METINF))
        {
            Namespace::MetInfLike
        } else {
            Namespace::Other
        }
    }
}

/// A namespace declaration in scope.
struct Binding<'a> {
    /// Depth of the element that declares it (1 for the root).
    depth: usize,
    /// `""` for the default namespace.
    prefix: &'a str,
    ns: Namespace,
    uri: Cow<'a, str>,
}

/// The kind of token [`Lexer::next`] read; its content is in the lexer's fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Token {
    /// A start tag: [`Lexer::child`].
    Start,
    /// An empty-element tag: [`Lexer::child`].
    Empty,
    End,
    /// Character data up to the next `<`, raw, in [`Lexer::text`]; [`Lexer::text_needs_decoding`] says
    /// whether it holds references or carriage returns (decode it with [`decode_text`]).
    Text,
    /// A CDATA section's content, in [`Lexer::text`]; [`Lexer::text_needs_decoding`] says whether it holds
    /// carriage returns ([`normalize_line_ends`]).
    CData,
    Comment,
    ProcessingInstruction,
    /// The XML declaration; its `encoding`, if given, in [`Lexer::encoding`].
    XmlDeclaration,
    DocType,
    Eof,
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    /// Offset just past the last token.
    pub(crate) pos: usize,
    /// Offset of the last token.
    pub(crate) start: usize,
    /// The last tag's name and raw attributes.
    name: &'a str,
    attrs: &'a str,
    local_start: usize,
    ns: Namespace,
    /// The last text or CDATA content, and whether it needs decoding (references, CRs).
    pub(crate) text: &'a str,
    pub(crate) text_needs_decoding: bool,
    /// The last XML declaration's encoding.
    pub(crate) encoding: Option<&'a str>,
    open: Vec<&'a str>,
    max_depth: usize,
    /// Namespace declarations in scope, innermost last; `default_ns` is the default
    /// namespace they give (cached: nearly every element is unprefixed and declares nothing).
    scope: Vec<Binding<'a>>,
    default_ns: Namespace,
    /// Depth of the element that made the innermost declaration (0: none, or only the
    /// fragment's): an end tag above it ends a scope.
    scope_top: usize,
    /// An empty-element tag declared namespaces: they go out of scope before the next token.
    scope_ends: bool,
    /// Let prefixes bound nowhere through as [`Namespace::Unbound`] (command fragments).
    allow_unbound: bool,
    max_attributes: usize,
    max_declarations: usize,
    max_in_scope: usize,
    /// Offset of the first character XML forbids (`usize::MAX` when there is none).
    forbidden_at: usize,
    /// That character.
    forbidden_char: u32,
}

/// Bytes that end plain text: markup, a reference, a `>` (which may close `]]>`), a carriage
/// return (line ends are normalized).
static TEXT_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'<' as usize] = true;
    t[b'&' as usize] = true;
    t[b'>' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// Bytes that end an element name in a tag.
static NAME_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'>' as usize] = true;
    t[b'/' as usize] = true;
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

#[inline]
fn is_ws_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str, limits: &crate::options::Limits) -> Self {
        let (forbidden_at, forbidden_char) = if clean_bytes(input.as_bytes()) {
            (usize::MAX, 0)
        } else {
            first_invalid_char(input).unwrap_or((usize::MAX, 0))
        };
        Lexer {
            input,
            pos: 0,
            start: 0,
            name: "",
            attrs: "",
            local_start: 0,
            ns: Namespace::None,
            text: "",
            text_needs_decoding: false,
            encoding: None,
            open: Vec::new(),
            max_depth: limits.max_depth,
            scope: Vec::new(),
            default_ns: Namespace::None,
            scope_top: 0,
            scope_ends: false,
            allow_unbound: false,
            max_attributes: limits.max_attributes,
            max_declarations: limits.max_namespace_declarations,
            max_in_scope: limits.max_namespaces_in_scope,
            forbidden_at,
            forbidden_char,
        }
    }

    /// Binds `prefix` to `uri` around the whole input, as if declared on an element
    /// enclosing the root (command fragments: the `msft` prefix of the envelope they come
    /// from), and lets prefixes bound nowhere through as [`Namespace::Unbound`].
    pub(crate) fn fragment_scope(&mut self, prefix: &'a str, uri: &'a str) {
        self.allow_unbound = true;
        self.bind(0, prefix, Cow::Borrowed(uri));
    }

    /// The namespace URI `prefix` (`""`: the default namespace) is bound to in the scope of
    /// the last start tag; `None` when it is bound nowhere (or the default is undeclared).
    pub(crate) fn uri(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let b = self.binding(prefix)?;
        (!b.uri.is_empty()).then_some(b.uri.as_ref())
    }

    /// [`Self::uri`] as the input's lifetime allows (borrowed unless the declaration held
    /// references).
    pub(crate) fn uri_cow(&self, prefix: &str) -> Option<Cow<'a, str>> {
        if prefix == "xml" {
            return Some(Cow::Borrowed(XML_NS));
        }
        let b = self.binding(prefix)?;
        (!b.uri.is_empty()).then(|| b.uri.clone())
    }

    /// The innermost declaration of `prefix` (`""`: the default namespace) in scope.
    fn binding(&self, prefix: &str) -> Option<&Binding<'a>> {
        self.scope.iter().rev().find(|b| b.prefix == prefix)
    }

    /// Puts a declaration made by the element at `depth` in scope.
    fn bind(&mut self, depth: usize, prefix: &'a str, uri: Cow<'a, str>) {
        let ns = Namespace::of(&uri);
        if prefix.is_empty() {
            self.default_ns = ns;
        }
        self.scope.push(Binding {
            depth,
            prefix,
            ns,
            uri,
        });
        self.scope_top = depth;
    }

    /// Open elements (the current depth).
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.open.len()
    }

    /// The last start or empty-element tag.
    #[inline(always)]
    pub(crate) fn child(&self, empty: bool) -> StartTag<'a> {
        StartTag {
            qname: self.name,
            attrs: self.attrs,
            empty,
            off: self.start,
            local_start: self.local_start,
            ns: self.ns,
        }
    }

    /// The next token; its offset is in `self.start`.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Token> {
        if self.scope_ends {
            self.end_scope();
        }
        let ev = self.token()?;
        if self.pos > self.forbidden_at {
            return Err(fail(
                DecodeErrorKind::InvalidChar(self.forbidden_char),
                self.forbidden_at,
            ));
        }
        Ok(ev)
    }

    #[inline(always)]
    fn token(&mut self) -> Result<Token> {
        let b = self.input.as_bytes();
        let start = self.pos;
        self.start = start;
        let Some(&first) = b.get(start) else {
            return Ok(Token::Eof);
        };
        if first != b'<' {
            // Fast path: text without references or `>` up to the next `<` (CRs noted).
            let mut i = start;
            let mut needs_decoding = false;
            let stop = loop {
                match b.get(i) {
                    None => break None,
                    Some(&c) if TEXT_STOP[usize::from(c)] => {
                        if c != b'\r' {
                            break Some(c);
                        }
                        needs_decoding = true;
                    }
                    Some(_) => {}
                }
                i += 1;
                if i - start == 32 {
                    let from = i;
                    i = memchr::memchr3(b'<', b'&', b'>', &b[i..]).map_or(b.len(), |k| i + k);
                    needs_decoding = needs_decoding || memchr::memchr(b'\r', &b[from..i]).is_some();
                    break b.get(i).copied();
                }
            };
            if stop != Some(b'<') && stop.is_some() {
                return self.text_slow(start);
            }
            self.pos = i;
            self.text = &self.input[start..i];
            self.text_needs_decoding = needs_decoding;
            return Ok(Token::Text);
        }
        match b.get(start + 1) {
            Some(b'/') => self.end_tag(start),
            Some(b'!') => self.bang(start),
            Some(b'?') => self.processing_instruction(start),
            _ => self.start_tag(start),
        }
    }

    /// Text that holds a reference, a carriage return or a `>`.
    #[inline(never)]
    fn text_slow(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        let end = memchr::memchr(b'<', &b[start..]).map_or(b.len(), |i| start + i);
        let raw = &self.input[start..end];
        // `]]>` is only allowed to end a CDATA section. Escaped markup (`&lt;a/&gt;`, the
        // common reason to be here) holds no `>`, so this is one pass that finds none.
        let mut from = 0;
        while let Some(k) = memchr::memchr(b'>', &raw.as_bytes()[from..]) {
            let gt = from + k;
            if raw.as_bytes()[..gt].ends_with(b"]]") {
                return Err(syntax(SyntaxError::CDataEndInText, start + gt - 2));
            }
            from = gt + 1;
        }
        self.pos = end;
        self.text = raw;
        self.text_needs_decoding = memchr::memchr2(b'&', b'\r', raw.as_bytes()).is_some();
        Ok(Token::Text)
    }

    #[inline(always)]
    fn start_tag(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        // Fast path: `<name>` or `<name/>`.
        let mut i = start + 1;
        let mut colon = 0;
        while let Some(&c) = b.get(i) {
            if NAME_STOP[usize::from(c)] {
                break;
            }
            if c == b':' {
                colon = i - start;
            }
            i += 1;
        }
        let end = match b.get(i) {
            Some(b'>') => Some((i, false)),
            Some(b'/') if b.get(i + 1) == Some(&b'>') => Some((i + 1, true)),
            _ => None,
        };
        if let Some((end, empty)) = end
            && i > start + 1
        {
            if self.open.len() + 1 > self.max_depth {
                return Err(fail(
                    DecodeErrorKind::LimitExceeded(Limit::Depth(self.max_depth)),
                    start,
                ));
            }
            let qname = &self.input[start + 1..i];
            self.ns = if colon == 0 {
                self.default_ns
            } else {
                self.prefixed(qname, colon, start)?
            };
            if !empty {
                self.open.push(qname);
            }
            self.pos = end + 1;
            self.name = qname;
            self.attrs = "";
            self.local_start = colon;
            return Ok(if empty { Token::Empty } else { Token::Start });
        }
        self.start_tag_slow(start)
    }

    /// A tag with attributes (or malformed).
    #[inline(never)]
    fn start_tag_slow(&mut self, start: usize) -> Result<Token> {
        let end = tag_close(self.input.as_bytes(), start)?;
        let (content, empty, name_end) = tag_parts(self.input, start, end);
        if name_end == 0 {
            return Err(syntax(SyntaxError::MissingElementName, start));
        }
        if self.open.len() + 1 > self.max_depth {
            return Err(fail(
                DecodeErrorKind::LimitExceeded(Limit::Depth(self.max_depth)),
                start,
            ));
        }
        let qname = &content[..name_end];
        let attrs = &content[name_end..];
        // Declarations first: they apply to the element's own name and attributes.
        let depth = self.open.len() + 1;
        let declared = self.declare_default_only(attrs, depth)
            || ((memchr::memchr(b':', attrs.as_bytes()).is_some()
                || memmem::find(attrs.as_bytes(), b"xmlns").is_some())
                && self.declare(attrs, start + 1 + name_end, depth)?);
        if declared && empty {
            self.scope_ends = true;
        }
        let colon = qname.find(':').map_or(0, |i| i + 1);
        self.ns = if colon == 0 {
            self.default_ns
        } else {
            self.prefixed(qname, colon, start)?
        };
        if !empty {
            self.open.push(qname);
        }
        self.pos = end + 1;
        self.name = qname;
        self.attrs = attrs;
        self.local_start = colon;
        Ok(if empty { Token::Empty } else { Token::Start })
    }

    /// The namespace of the prefixed name `qname` (`colon`: where its local name starts),
    /// checking that it is a QName (one `:` between two non-empty names) with a bound prefix.
    #[inline(never)]
    fn prefixed(&self, qname: &'a str, colon: usize, start: usize) -> Result<Namespace> {
        let (prefix, local) = (&qname[..colon - 1], &qname[colon..]);
        if !crate::decode::is_xml_name(qname)
            || prefix.is_empty()
            || local.is_empty()
            || local.contains(':')
            || prefix.contains(':')
        {
            return Err(invalid_name(qname, start));
        }
        if prefix == "xmlns" {
            return Err(fail(
                DecodeErrorKind::InvalidNamespaceDeclaration(format!(
                    "the prefix xmlns is reserved and names no element (<{qname}>)"
                )),
                start,
            ));
        }
        if prefix == "xml" {
            return Ok(Namespace::Other);
        }
        match self.binding(prefix) {
            Some(b) => Ok(b.ns),
            None if self.allow_unbound => Ok(Namespace::Unbound),
            None => Err(fail(
                DecodeErrorKind::UnboundPrefix(prefix.to_owned()),
                start,
            )),
        }
    }

    /// The common case of [`Self::declare`]: the tag's only attribute is a plain default
    /// namespace (`xmlns="syncml:metinf"` on every `Meta` child of a server package).
    /// `false` when the attributes are anything else; then nothing was declared.
    #[inline]
    fn declare_default_only(&mut self, attrs: &'a str, depth: usize) -> bool {
        let t = attrs.trim_start_matches([' ', '\t', '\r', '\n']);
        let Some(rest) = t.strip_prefix("xmlns=") else {
            return false;
        };
        let Some(&q) = rest.as_bytes().first() else {
            return false;
        };
        if q != b'"' && q != b'\'' {
            return false;
        }
        let Some(end) = memchr::memchr(q, &rest.as_bytes()[1..]) else {
            return false;
        };
        let uri = &rest[1..1 + end];
        let after = &rest[2 + end..];
        // Short: a byte loop beats memchr's set-up. References and literal whitespace
        // (normalized in attribute values) go the general way.
        if uri
            .bytes()
            .any(|c| matches!(c, b'&' | b'<' | b'\t' | b'\r' | b'\n'))
            || !after.bytes().all(is_ws_byte)
            || uri == XML_NS
            || uri == XMLNS_NS
            || self.scope.len() >= self.max_in_scope
        {
            return false;
        }
        self.bind(depth, "", Cow::Borrowed(uri));
        true
    }

    /// Reads the namespace declarations among a tag's raw attributes (`at`: their offset)
    /// into the scope of the element at `depth`, checking the reserved prefixes, the limits,
    /// and that prefixed attributes have bound prefixes and distinct expanded names.
    #[inline(never)]
    fn declare(&mut self, attrs: &'a str, at: usize, depth: usize) -> Result<bool> {
        let mut it = Attrs::new(attrs, at);
        let before = self.scope.len();
        let (mut n, mut decls) = (0usize, 0usize);
        let mut prefixed: Vec<(&'a str, &'a str, usize)> = Vec::new();
        while let Some((key, raw, key_at)) = it.next_attr()? {
            n += 1;
            if n > self.max_attributes {
                return Err(fail(
                    DecodeErrorKind::LimitExceeded(Limit::Attributes(self.max_attributes)),
                    at - 1,
                ));
            }
            let prefix = if key == "xmlns" {
                ""
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                p
            } else {
                if key.contains(':') {
                    prefixed.push((key, raw, key_at));
                }
                continue;
            };
            decls += 1;
            if decls > self.max_declarations {
                return Err(fail(
                    DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(
                        self.max_declarations,
                    )),
                    key_at,
                ));
            }
            let value_at = raw.as_ptr() as usize - self.input.as_ptr() as usize;
            let uri = attr_value(raw, value_at)?;
            let bad = |why: String| fail(DecodeErrorKind::InvalidNamespaceDeclaration(why), key_at);
            if !prefix.is_empty() && (!crate::decode::is_xml_name(prefix) || prefix.contains(':')) {
                return Err(bad(format!("{key:?} does not declare a valid prefix")));
            }
            match (prefix, uri.as_ref()) {
                ("xml", XML_NS) => continue,
                ("xml", _) => {
                    return Err(bad(
                        "the prefix xml is bound to its own namespace only".into()
                    ));
                }
                ("xmlns", _) => return Err(bad("the prefix xmlns cannot be declared".into())),
                (_, XML_NS | XMLNS_NS) => {
                    return Err(bad(format!(
                        "{uri:?} is reserved and cannot be bound to {key:?}"
                    )));
                }
                (p, "") if !p.is_empty() => {
                    return Err(bad(format!(
                        "{key:?}: a prefix cannot be undeclared (empty namespace)"
                    )));
                }
                _ => {}
            }
            if self.scope.len() >= self.max_in_scope {
                return Err(fail(
                    DecodeErrorKind::LimitExceeded(Limit::NamespacesInScope(self.max_in_scope)),
                    key_at,
                ));
            }
            self.bind(depth, prefix, uri);
        }
        // Prefixed attributes: bound prefixes, and no two with one expanded name.
        for (i, &(key, _, key_at)) in prefixed.iter().enumerate() {
            let colon = key.find(':').unwrap_or(0);
            let (prefix, local) = (&key[..colon], &key[colon + 1..]);
            if prefix.is_empty() || local.is_empty() || local.contains(':') {
                return Err(syntax_with_name(
                    SyntaxError::InvalidAttributeName,
                    key,
                    key_at,
                ));
            }
            let uri = self.uri(prefix);
            if uri.is_none() && !self.allow_unbound {
                return Err(fail(
                    DecodeErrorKind::UnboundPrefix(prefix.to_owned()),
                    key_at,
                ));
            }
            for &(other, _, _) in &prefixed[..i] {
                let oc = other.find(':').unwrap_or(0);
                if &other[oc + 1..] == local && uri.is_some() && self.uri(&other[..oc]) == uri {
                    return Err(syntax(
                        SyntaxError::DuplicateExpandedAttribute {
                            first: other.to_owned(),
                            second: key.to_owned(),
                        },
                        key_at,
                    ));
                }
            }
        }
        Ok(self.scope.len() > before)
    }

    /// Drops the declarations of elements that are closed.
    #[cold]
    fn end_scope(&mut self) {
        self.scope_ends = false;
        let depth = self.open.len();
        let before = self.scope.len();
        while self.scope.last().is_some_and(|b| b.depth > depth) {
            self.scope.pop();
        }
        self.scope_top = self.scope.last().map_or(0, |b| b.depth);
        if self.scope.len() != before {
            self.default_ns = self.binding("").map_or(Namespace::None, |b| b.ns);
        }
    }

    #[inline(always)]
    fn end_tag(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        // Fast path: `</name>` of the open element.
        if let Some(open) = self.open.last() {
            let e = start + 2 + open.len();
            if b.get(e) == Some(&b'>')
                && b[start + 2..e]
                    .iter()
                    .zip(open.as_bytes())
                    .all(|(x, y)| x == y)
            {
                self.open.pop();
                self.pos = e + 1;
                if self.open.len() < self.scope_top {
                    self.end_scope();
                }
                return Ok(Token::End);
            }
        }
        self.end_tag_slow(start)
    }

    #[inline(never)]
    fn end_tag_slow(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        let Some(k) = memchr::memchr(b'>', &b[start + 2..]) else {
            return Err(syntax(SyntaxError::UnclosedEndTag, start));
        };
        let end = start + 2 + k;
        let name = self.input[start + 2..end].trim_end_matches([' ', '\t', '\r', '\n']);
        match self.open.pop() {
            Some(open) if open == name => {}
            Some(open) => {
                return Err(syntax(
                    SyntaxError::MismatchedEndTag {
                        end: name.to_owned(),
                        open: open.to_owned(),
                    },
                    start,
                ));
            }
            None => {
                return Err(syntax_with_name(
                    SyntaxError::EndTagWithoutStartTag,
                    name,
                    start,
                ));
            }
        }
        self.pos = end + 1;
        if self.open.len() < self.scope_top {
            self.end_scope();
        }
        Ok(Token::End)
    }

    /// `<!--`, `<![CDATA[`, `<!DOCTYPE`.
    fn bang(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        let rest = &b[start..];
        if rest.starts_with(b"<!--") {
            let body = start + 4;
            let Some(k) = memmem::find(&b[body..], b"--") else {
                return Err(syntax(SyntaxError::UnclosedComment, start));
            };
            let dash = body + k;
            if b.get(dash + 2) != Some(&b'>') {
                return Err(syntax(SyntaxError::DoubleHyphenInComment, dash));
            }
            self.pos = dash + 3;
            return Ok(Token::Comment);
        }
        if rest.starts_with(b"<![CDATA[") {
            let body = start + 9;
            let Some(k) = memmem::find(&b[body..], b"]]>") else {
                return Err(syntax(SyntaxError::UnclosedCData, start));
            };
            self.pos = body + k + 3;
            self.text = &self.input[body..body + k];
            self.text_needs_decoding = memchr::memchr(b'\r', self.text.as_bytes()).is_some();
            return Ok(Token::CData);
        }
        // `<!doctype` is not a DOCTYPE in XML (names are case-sensitive), but whoever wrote
        // it meant one: report it as such.
        if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            self.pos = start + 9;
            return Ok(Token::DocType);
        }
        Err(syntax(SyntaxError::UnknownMarkup, start))
    }

    /// `<?target ...?>`, and the XML declaration.
    fn processing_instruction(&mut self, start: usize) -> Result<Token> {
        let b = self.input.as_bytes();
        debug_assert!(b.len() >= start + 2);
        let Some(k) = memmem::find(&b[start + 2..], b"?>") else {
            return Err(syntax(SyntaxError::UnclosedProcessingInstruction, start));
        };
        let end = start + 2 + k;
        let content = &self.input[start + 2..end];
        let target_end = content
            .bytes()
            .position(is_ws_byte)
            .unwrap_or(content.len());
        let target = &content[..target_end];
        self.pos = end + 2;
        if target == "xml" {
            let enc = decl(&content[target_end..], start + 2 + target_end)?;
            self.encoding = enc;
            return Ok(Token::XmlDeclaration);
        }
        if target.eq_ignore_ascii_case("xml") {
            return Err(syntax(
                SyntaxError::ReservedProcessingInstructionTarget,
                start,
            ));
        }
        if !crate::decode::is_xml_name(target) || target.contains(':') {
            return Err(syntax(
                SyntaxError::InvalidProcessingInstructionTarget,
                start,
            ));
        }
        Ok(Token::ProcessingInstruction)
    }
}

/// The offset of the `>` that closes the start tag at `start` (its `<`), stepping over
/// quoted attribute values.
#[inline]
fn tag_close(b: &[u8], start: usize) -> Result<usize> {
    let mut i = start + 1;
    loop {
        match memchr::memchr3(b'>', b'"', b'\'', &b[i..]) {
            None => return Err(syntax(SyntaxError::UnclosedStartTag, start)),
            Some(k) => {
                let j = i + k;
                let q = b[j];
                if q == b'>' {
                    return Ok(j);
                }
                match memchr::memchr(q, &b[j + 1..]) {
                    None => return Err(syntax(SyntaxError::UnclosedAttributeValue, j)),
                    Some(m) => i = j + 1 + m + 1,
                }
            }
        }
    }
}

/// The start tag from its `<` at `start` to its `>` at `end`: what lies between (without
/// the `/` of an empty-element tag), whether it is an empty-element tag, and where the
/// name ends in it (0: no name).
#[inline]
fn tag_parts(s: &str, start: usize, end: usize) -> (&str, bool, usize) {
    let mut content = &s[start + 1..end];
    let empty = content.ends_with('/');
    if empty {
        content = &content[..content.len() - 1];
    }
    let name_end = content
        .bytes()
        .position(is_ws_byte)
        .unwrap_or(content.len());
    (content, empty, name_end)
}

/// The start tag whose `<` is at `start`, read as [`Lexer`] reads it but without checking
/// anything past its extent: its qualified name, the offset just past its `>`, and whether
/// it is an empty-element tag. `None` when there is no start tag there, it is not closed,
/// or it has no name. For error paths: a start tag the lexer refused (an unbound prefix, a
/// bad attribute, the depth limit) still names the element the error is in.
pub(crate) fn start_tag_at(s: &str, start: usize) -> Option<(&str, usize, bool)> {
    let b = s.as_bytes();
    if b.get(start) != Some(&b'<') || matches!(b.get(start + 1), None | Some(b'/' | b'!' | b'?')) {
        return None;
    }
    let end = tag_close(b, start).ok()?;
    let (content, empty, name_end) = tag_parts(s, start, end);
    (name_end > 0).then(|| (&content[..name_end], end + 1, empty))
}

/// The XML declaration's pseudo-attributes: `version` first, then optional `encoding` and
/// `standalone`, in that order. Returns the encoding.
fn decl(rest: &str, base: usize) -> Result<Option<&str>> {
    let mut it = Attrs::new(rest, base);
    let mut step = 0;
    let mut enc = None;
    while let Some(a) = it.next_attr()? {
        let (name, value, at) = a;
        let ok = match name {
            "version" if step == 0 => {
                step = 1;
                value.len() >= 3
                    && value.starts_with("1.")
                    && value[2..].bytes().all(|c| c.is_ascii_digit())
            }
            "encoding" if step == 1 => {
                step = 2;
                enc = Some(value);
                value
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            }
            "standalone" if (1..=2).contains(&step) => {
                step = 3;
                matches!(value, "yes" | "no")
            }
            _ => false,
        };
        if !ok {
            return Err(syntax(SyntaxError::MalformedXmlDeclaration, at));
        }
    }
    if step == 0 {
        return Err(syntax(SyntaxError::XmlDeclarationWithoutVersion, base));
    }
    Ok(enc)
}

/// The attributes in the raw text of a tag after its name: name, raw value and offset of
/// the name. Checks the syntax (whitespace before each, `=`, quotes, no `<` in a value);
/// names and duplicates are the caller's to check.
pub(crate) struct Attrs<'a> {
    /// The raw text after the element name.
    raw: &'a str,
    /// Where the next attribute (or the whitespace before it) starts in `raw`.
    pos: usize,
    /// The offset of `raw` in the input.
    base: usize,
}

impl<'a> Attrs<'a> {
    /// `raw` is the raw text after the element name; `base` its offset in the input.
    pub(crate) fn new(raw: &'a str, base: usize) -> Self {
        Attrs { raw, pos: 0, base }
    }

    pub(crate) fn next_attr(&mut self) -> Result<Option<(&'a str, &'a str, usize)>> {
        let b = self.raw.as_bytes();
        let before = self.pos;
        while self.pos < b.len() && is_ws_byte(b[self.pos]) {
            self.pos += 1;
        }
        if self.pos == b.len() {
            return Ok(None);
        }
        let at = self.base + self.pos;
        if self.pos == before {
            return Err(syntax(SyntaxError::AttributesNotSeparated, at));
        }
        let name_start = self.pos;
        while self.pos < b.len() && !is_ws_byte(b[self.pos]) && b[self.pos] != b'=' {
            self.pos += 1;
        }
        let name = &self.raw[name_start..self.pos];
        if name.is_empty() {
            return Err(syntax(SyntaxError::MissingAttributeName, at));
        }
        while self.pos < b.len() && is_ws_byte(b[self.pos]) {
            self.pos += 1;
        }
        if b.get(self.pos) != Some(&b'=') {
            return Err(syntax_with_name(
                SyntaxError::AttributeWithoutValue,
                name,
                at,
            ));
        }
        self.pos += 1;
        while self.pos < b.len() && is_ws_byte(b[self.pos]) {
            self.pos += 1;
        }
        let q = match b.get(self.pos) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => {
                return Err(syntax_with_name(
                    SyntaxError::UnquotedAttributeValue,
                    name,
                    self.base + self.pos,
                ));
            }
        };
        let vstart = self.pos + 1;
        let Some(k) = memchr::memchr(q, &b[vstart..]) else {
            return Err(syntax(
                SyntaxError::UnclosedAttributeValue,
                self.base + self.pos,
            ));
        };
        let value = &self.raw[vstart..vstart + k];
        if let Some(lt) = memchr::memchr(b'<', value.as_bytes()) {
            return Err(syntax(
                SyntaxError::LtInAttributeValue,
                self.base + vstart + lt,
            ));
        }
        self.pos = vstart + k + 1;
        Ok(Some((name, value, at)))
    }
}

/// An attribute value as XML 1.0 reports it: references replaced, literal tab, CR, LF (and
/// CR LF) each normalized to a space. `at` is the value's offset, for errors.
pub(crate) fn attr_value(raw: &str, at: usize) -> Result<Cow<'_, str>> {
    if !raw
        .bytes()
        .any(|c| matches!(c, b'&' | b'\t' | b'\r' | b'\n'))
    {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    each_ref(raw, at, |lit, ch| {
        let mut prev_cr = false;
        for c in lit.chars() {
            match c {
                '\n' if prev_cr => {}
                '\t' | '\n' | '\r' => out.push(' '),
                c => out.push(c),
            }
            prev_cr = c == '\r';
        }
        if let Some(ch) = ch {
            out.push(ch);
        }
    })?;
    Ok(Cow::Owned(out))
}

/// Character data as XML 1.0 reports it: line ends normalized (CR LF and a lone CR become
/// LF, section 2.11) and references replaced (a `&#13;` stays a CR); borrowed when there is
/// nothing to do. `at` is the offset of `raw` in the input, for errors.
///
/// One pass: literal runs are copied between the `&`s and CRs that `memchr2` finds, and the
/// five predefined entities (nearly every reference in escaped ADMX or XML payloads) are
/// matched by their bytes; anything else goes through [`reference`].
#[inline]
pub(crate) fn decode_text(raw: &str, at: usize) -> Result<Cow<'_, str>> {
    let b = raw.as_bytes();
    let Some(first) = memchr::memchr2(b'&', b'\r', b) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    let (mut lit, mut i) = (0, first);
    loop {
        out.push_str(&raw[lit..i]);
        if b[i] == b'\r' {
            out.push('\n');
            i += 1;
            if b.get(i) == Some(&b'\n') {
                i += 1;
            }
        } else {
            let (ch, len) = match b.get(i + 1..i + 4) {
                Some(b"lt;") => ('<', 4),
                Some(b"gt;") => ('>', 4),
                Some(b"amp") if b.get(i + 4) == Some(&b';') => ('&', 5),
                Some(b"quo") if b.get(i + 4..i + 6) == Some(b"t;") => ('"', 6),
                Some(b"apo") if b.get(i + 4..i + 6) == Some(b"s;") => ('\'', 6),
                _ => reference(raw, i, at)?,
            };
            out.push(ch);
            i += len;
        }
        lit = i;
        match memchr::memchr2(b'&', b'\r', &b[i..]) {
            Some(k) => i += k,
            None => break,
        }
    }
    out.push_str(&raw[lit..]);
    Ok(Cow::Owned(out))
}

/// CDATA content with its line ends normalized (no references in CDATA).
pub(crate) fn normalize_line_ends(raw: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    push_lf(&mut out, raw);
    Cow::Owned(out)
}

/// Appends `lit` with CR LF and lone CR as LF.
fn push_lf(out: &mut String, lit: &str) {
    let mut rest = lit;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
}

/// The value of a character reference's digits (`radix` 10 or 16; any number of leading
/// zeros); `Some(u32::MAX)` when it is beyond Unicode, `None` when the digits are not digits.
fn char_ref_value(digits: &str, radix: u32) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        v = v.saturating_mul(radix).saturating_add(d);
    }
    Some(v)
}

/// Checks the references in `raw` without building the text.
pub(crate) fn check_refs(raw: &str, at: usize) -> Result<()> {
    each_ref(raw, at, |_, _| {})
}

/// Calls `on` with each literal run and the character of the reference after it (`None`
/// after the last run).
fn each_ref<'s>(raw: &'s str, at: usize, mut on: impl FnMut(&'s str, Option<char>)) -> Result<()> {
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'&', &b[i..]) {
        let amp = i + k;
        let (ch, len) = reference(raw, amp, at)?;
        on(&raw[i..amp], Some(ch));
        i = amp + len;
    }
    on(&raw[i..], None);
    Ok(())
}

/// The reference starting at the `&` at `amp` in `raw`: its character and its length in
/// bytes, `&` and `;` included. `at` is the offset of `raw` in the input, for errors.
fn reference(raw: &str, amp: usize, at: usize) -> Result<(char, usize)> {
    let b = raw.as_bytes();
    let Some(semi) = memchr::memchr(b';', &b[amp + 1..]) else {
        return Err(syntax(SyntaxError::UnterminatedReference, at + amp));
    };
    let name = &raw[amp + 1..amp + 1 + semi];
    let ch = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            if let Some(num) = name.strip_prefix('#') {
                let (digits, radix) = match num.strip_prefix('x') {
                    Some(hex) => (hex, 16),
                    None => (num, 10),
                };
                let code = char_ref_value(digits, radix);
                let Some(code) = code else {
                    return Err(syntax_with_name(
                        SyntaxError::InvalidCharReference,
                        name,
                        at + amp,
                    ));
                };
                if code > 0x10FFFF {
                    // Not a character at all.
                    return Err(syntax_with_name(
                        SyntaxError::CharReferenceBeyondUnicode,
                        name,
                        at + amp,
                    ));
                }
                match char::from_u32(code).filter(|c| crate::decode::is_xml_char(*c)) {
                    Some(c) => c,
                    None => return Err(fail(DecodeErrorKind::InvalidChar(code), at + amp)),
                }
            } else if crate::decode::is_xml_name(name) {
                return Err(fail(
                    DecodeErrorKind::UnknownEntity(name.to_owned()),
                    at + amp,
                ));
            } else {
                return Err(syntax(SyntaxError::InvalidReference, at + amp));
            }
        }
    };
    Ok((ch, semi + 2))
}

/// Whether `b` holds no control character but tab, LF and CR and no 0xEF byte (the lead
/// byte of U+FFFE and U+FFFF): then no slice of it holds a character XML forbids.
/// Branch-free over 64-byte chunks so that it vectorizes.
fn clean_bytes(b: &[u8]) -> bool {
    let bad = |acc: u8, &x: &u8| {
        acc | (u8::from(x < 0x20)
            & u8::from(x != b'\t')
            & u8::from(x != b'\n')
            & u8::from(x != b'\r'))
            | u8::from(x == 0xEF)
    };
    let mut chunks = b.chunks_exact(64);
    for c in &mut chunks {
        if c.iter().fold(0u8, bad) != 0 {
            return false;
        }
    }
    chunks.remainder().iter().fold(0u8, bad) == 0
}

/// Offset and code of the first character XML 1.0 does not allow.
fn first_invalid_char(s: &str) -> Option<(usize, u32)> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
            return Some((i, u32::from(b)));
        }
        if b == 0xEF
            && bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
        {
            return Some((i, if bytes[i + 2] == 0xBE { 0xFFFE } else { 0xFFFF }));
        }
    }
    None
}
