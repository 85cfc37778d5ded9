//! The decoder: the tokenizer's events (`lex`) into the borrowed message model.

use std::borrow::Cow;

use crate::error::{DecodeError, DecodeErrorKind, SyntaxError};
use crate::lex::{self, Lexer, Namespace, OffsetError, StartTag, Token};
use crate::options::{DecodeOptions, Limit, Quirk, QuirkSeen, UnknownElements};
use crate::path::LexConfig;
use crate::types::{
    Alert, Attr, Chal, Command, CommandKind, Container, Cred, Data, DataContent, Item, ItemCommand,
    Location, Meta, RawElement, Results, Status, SyncBody, SyncHdr, SyncML, SyncMlVersion,
};

/// `Atomic` and `Sequence` are the only elements decoded recursively (everything else has a
/// fixed shape, and unknown elements and `Data` markup are skipped iteratively). Their
/// nesting is capped here whatever `Limits::max_depth` says, so that a huge configured depth
/// cannot overflow a 2 MiB thread stack; deeper nesting fails with
/// `LimitExceeded(ContainerNesting)`.
/// Windows rejects nested `Atomic` anyway (MS-MDM: status 500 for the inner one).
pub const MAX_CONTAINER_NESTING: usize = 32;

/// The decoder's errors are the tokenizer's: a kind and a byte offset, boxed so that small
/// `Result`s come back in registers; [`finish`] adds line, column and path.
type Result<T> = std::result::Result<T, OffsetError>;

/// A decoded message and the quirks met while decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decoded<'a> {
    /// The message.
    pub message: SyncML<'a>,
    /// Each quirk met, once, with the offset of its first occurrence, in input order.
    pub quirks: Vec<QuirkSeen>,
}

/// Decoded top-level commands (a profile fragment) and the quirks met.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodedCommands<'a> {
    /// The commands in document order.
    pub commands: Vec<Command<'a>>,
    /// Each quirk met, once, with the offset of its first occurrence, in input order.
    pub quirks: Vec<QuirkSeen>,
}

/// Decodes a SyncML message with the default options (every quirk tolerated, unknown
/// elements kept, default limits).
pub fn decode(input: &[u8]) -> std::result::Result<SyncML<'_>, DecodeError> {
    DecodeOptions::default().decode(input)
}

/// Decodes a SyncML message from a string with the default options.
pub fn decode_str(input: &str) -> std::result::Result<SyncML<'_>, DecodeError> {
    DecodeOptions::default().decode_str(input)
}

/// Decodes a fragment of top-level commands (`<Replace>...</Replace><Atomic>...`) as admins
/// write profiles, with the default options.
pub fn decode_commands(input: &[u8]) -> std::result::Result<Vec<Command<'_>>, DecodeError> {
    DecodeOptions::default()
        .decode_commands_report(input)
        .map(|d| d.commands)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Message,
    Commands,
}

// Short-lived and moved once: boxing the message would cost an allocation per decode.
#[allow(clippy::large_enum_variant)]
enum Output<'a> {
    Message(SyncML<'a>),
    Commands(Vec<Command<'a>>),
}

impl Output<'_> {
    fn into_owned(self) -> Output<'static> {
        match self {
            Output::Message(m) => Output::Message(m.into_owned()),
            Output::Commands(c) => {
                Output::Commands(c.into_iter().map(Command::into_owned).collect())
            }
        }
    }
}

impl DecodeOptions {
    /// Decodes a SyncML message.
    pub fn decode<'a>(&self, input: &'a [u8]) -> std::result::Result<SyncML<'a>, DecodeError> {
        self.decode_report(input).map(|d| d.message)
    }

    /// Decodes a SyncML message from a string.
    pub fn decode_str<'a>(&self, input: &'a str) -> std::result::Result<SyncML<'a>, DecodeError> {
        self.decode_report(input.as_bytes()).map(|d| d.message)
    }

    /// Decodes a SyncML message and reports the quirks it needed.
    pub fn decode_report<'a>(
        &self,
        input: &'a [u8],
    ) -> std::result::Result<Decoded<'a>, DecodeError> {
        let (out, quirks) = self.run(input, Mode::Message)?;
        match out {
            Output::Message(message) => Ok(Decoded { message, quirks }),
            Output::Commands(_) => Err(internal()),
        }
    }

    /// Decodes top-level commands without a SyncML envelope (profiles as admins write them)
    /// and reports the quirks they needed.
    pub fn decode_commands_report<'a>(
        &self,
        input: &'a [u8],
    ) -> std::result::Result<DecodedCommands<'a>, DecodeError> {
        let (out, quirks) = self.run(input, Mode::Commands)?;
        match out {
            Output::Commands(commands) => Ok(DecodedCommands { commands, quirks }),
            Output::Message(_) => Err(internal()),
        }
    }

    fn run<'a>(
        &self,
        bytes: &'a [u8],
        mode: Mode,
    ) -> std::result::Result<(Output<'a>, Vec<QuirkSeen>), DecodeError> {
        let cfg = LexConfig {
            limits: &self.limits,
            fragment: mode == Mode::Commands,
        };
        let fail = |text: &str, base: usize, r: OffsetError| finish(text, base, *r, cfg);
        if bytes.len() > self.limits.max_message_bytes {
            return Err(fail(
                "",
                0,
                lex::fail(
                    DecodeErrorKind::LimitExceeded(Limit::MessageBytes(
                        self.limits.max_message_bytes,
                    )),
                    self.limits.max_message_bytes,
                ),
            ));
        }
        if let Some(big_endian) = utf16_bom_or_pattern(bytes) {
            if !self.quirks.contains(Quirk::Utf16Transcoded) {
                return Err(fail(
                    "",
                    0,
                    lex::fail(DecodeErrorKind::QuirkDisabled(Quirk::Utf16Transcoded), 0),
                ));
            }
            let bom = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
                2
            } else {
                0
            };
            let text = transcode_utf16(&bytes[bom..], big_endian).map_err(|offset| {
                let mut e = fail("", 0, lex::fail(DecodeErrorKind::InvalidUtf8, 0));
                e.offset = bom + offset;
                e
            })?;
            let mut p = Parser::new(&text, 0, self);
            p.note(Quirk::Utf16Transcoded, 0);
            let out = p.document(mode).map_err(|r| {
                // Offsets count bytes of the input: the BOM plus two per UTF-16 code unit.
                let at = r.1.min(text.len());
                let mut e = finish(&text, 0, *r, cfg);
                let mut cut = at;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                e.offset = bom + 2 * text[..cut].encode_utf16().count();
                e
            })?;
            let quirks = p.seen();
            return Ok((out.into_owned(), quirks));
        }
        let (body, base, bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => (rest, 3, true),
            None => (bytes, 0, false),
        };
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(e) => {
                let prefix = std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or("");
                return Err(fail(
                    prefix,
                    base,
                    lex::fail(DecodeErrorKind::InvalidUtf8, e.valid_up_to()),
                ));
            }
        };
        let mut p = Parser::new(text, base, self);
        if bom {
            p.quirk(Quirk::ByteOrderMark, 0)
                .map_err(|r| fail(text, base, r))?;
        }
        let out = p.document(mode).map_err(|r| fail(text, base, r))?;
        Ok((out, p.seen()))
    }
}

/// `run` returns the output matching the mode it was given; this error cannot occur.
fn internal() -> DecodeError {
    DecodeError {
        kind: DecodeErrorKind::Internal,
        offset: 0,
        line: 1,
        column: 1,
        path: String::new(),
    }
}

/// The error with its line, column and element path (`cfg`: how the tokenizer ran).
fn finish(
    text: &str,
    base: usize,
    (kind, offset): (DecodeErrorKind, usize),
    cfg: LexConfig<'_>,
) -> DecodeError {
    let offset = offset.min(text.len());
    let (line, column) = line_col(text, offset);
    DecodeError {
        kind,
        offset: offset + base,
        line,
        column,
        path: crate::path::path_at(text, offset, cfg),
    }
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut cut = offset.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &text[..cut];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// `Some(big_endian)` when the bytes are UTF-16 (BOM, or `<` followed by NUL).
fn utf16_bom_or_pattern(b: &[u8]) -> Option<bool> {
    match b {
        [0xFF, 0xFE, ..] => Some(false),
        [0xFE, 0xFF, ..] => Some(true),
        [b'<', 0, ..] => Some(false),
        [0, b'<', ..] => Some(true),
        _ => None,
    }
}

/// Transcodes UTF-16 (without its BOM) to UTF-8; the error is the byte offset of the first
/// bad code unit (or of a dangling odd byte).
fn transcode_utf16(body: &[u8], big_endian: bool) -> std::result::Result<String, usize> {
    let units = body.chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    let mut out = String::with_capacity(body.len() / 2);
    let mut unit = 0usize;
    for r in char::decode_utf16(units) {
        let c = r.map_err(|_| unit * 2)?;
        unit += c.len_utf16();
        out.push(c);
    }
    if !body.len().is_multiple_of(2) {
        return Err(body.len() - 1);
    }
    Ok(out)
}

/// XML 1.0 `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 `NameChar`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `s` is an XML 1.0 `Name` (prefixes included).
#[inline]
pub(crate) fn is_xml_name(s: &str) -> bool {
    let b = s.as_bytes();
    // Fast path: ASCII letters, digits, `_ : - .`, not starting with a digit, `-` or `.`.
    if !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.'))
    {
        return !(b[0].is_ascii_digit() || matches!(b[0], b'-' | b'.'));
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Whether `c` is allowed by XML 1.0 (`Char` production).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[inline]
fn is_ws(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// What an element's attributes hold: every attribute but the default namespace
/// declaration in document order (`all`), the default namespace and where it stood, the
/// prefixed declarations, and how many attributes are not namespace declarations.
#[derive(Default)]
struct AttrScan<'a> {
    default_ns: Option<Cow<'a, str>>,
    default_ns_index: usize,
    all: Vec<Attr<'a>>,
    non_ns: usize,
}

struct Parser<'a, 'o> {
    input: &'a str,
    lex: Lexer<'a>,
    opts: &'o DecodeOptions,
    /// Current `Atomic`/`Sequence` nesting.
    nesting: usize,
    commands: usize,
    items: usize,
    seen: [Option<usize>; Quirk::ALL.len()],
}

impl<'a, 'o> Parser<'a, 'o> {
    fn new(input: &'a str, _base: usize, opts: &'o DecodeOptions) -> Self {
        Parser {
            input,
            lex: Lexer::new(input, &opts.limits),
            opts,
            nesting: 0,
            commands: 0,
            items: 0,
            seen: [None; Quirk::ALL.len()],
        }
    }

    fn seen(&self) -> Vec<QuirkSeen> {
        let mut v: Vec<QuirkSeen> = Quirk::ALL
            .iter()
            .zip(self.seen.iter())
            .filter_map(|(q, o)| o.map(|offset| QuirkSeen { quirk: *q, offset }))
            .collect();
        v.sort_by_key(|q| q.offset);
        v
    }

    #[cold]
    fn err(&self, kind: DecodeErrorKind, offset: usize) -> OffsetError {
        lex::fail(kind, offset)
    }

    /// Records a quirk without checking whether it is enabled.
    fn note(&mut self, q: Quirk, off: usize) {
        if let Some(i) = Quirk::ALL.iter().position(|x| *x == q) {
            self.seen[i].get_or_insert(off);
        }
    }

    /// Records a quirk, or fails when it is switched off.
    fn quirk(&mut self, q: Quirk, off: usize) -> Result<()> {
        if !self.opts.quirks.contains(q) {
            return Err(self.err(DecodeErrorKind::QuirkDisabled(q), off));
        }
        self.note(q, off);
        Ok(())
    }

    /// The next event; its offset is `self.lex.start`, a tag's name and attributes
    /// [`Self::child`], text `self.lex.text`.
    #[inline(always)]
    fn next(&mut self) -> Result<Token> {
        self.lex.next()
    }

    /// The tag just read ([`Token::Start`] or [`Token::Empty`]).
    #[inline(always)]
    fn child(&self, ev: Token) -> StartTag<'a> {
        self.lex.child(ev == Token::Empty)
    }

    #[inline]
    /// Element names are checked where the decoder does not match them against a known
    /// name (which is valid by construction): unknown elements and markup it skips.
    fn check_name(&self, c: &StartTag<'a>) -> Result<()> {
        if is_xml_name(c.qname) {
            Ok(())
        } else {
            Err(lex::syntax_with_name(
                SyntaxError::InvalidElementName,
                c.qname,
                c.off,
            ))
        }
    }

    // ----- document level -------------------------------------------------------------

    fn document(&mut self, mode: Mode) -> Result<Output<'a>> {
        if mode == Mode::Commands {
            // A fragment comes without its envelope's declarations: `msft:` as Windows's
            // envelope binds it, other prefixes let through ([`Quirk::MetInfNamespace`]
            // covers `<A:Format>` in `Meta`; anywhere else an unbound prefix is an error).
            self.lex.fragment_scope("msft", lex::MSFT_MDM);
        }
        let mut first = true;
        let mut out_cmds: Vec<Command<'a>> = Vec::new();
        let mut msg: Option<SyncML<'a>> = None;
        loop {
            let ev = self.next()?;
            let off = self.lex.start;
            match ev {
                Token::XmlDeclaration => {
                    let enc = self.lex.encoding;
                    if !first {
                        return Err(self.err(
                            DecodeErrorKind::Syntax(SyntaxError::MisplacedXmlDeclaration),
                            off,
                        ));
                    }
                    if let Some(enc) = enc {
                        self.check_encoding(enc, off)?;
                    }
                }
                Token::DocType => return Err(self.err(DecodeErrorKind::DocType, off)),
                Token::Comment | Token::ProcessingInstruction => {}
                Token::Text => {
                    let t = self.lex.text;
                    if !is_ws(t) {
                        let kind = if msg.is_some() {
                            DecodeErrorKind::TrailingContent
                        } else {
                            DecodeErrorKind::UnexpectedText
                        };
                        // Point at the text itself, not at the whitespace before it.
                        let lead = t.len() - t.trim_start_matches([' ', '\t', '\r', '\n']).len();
                        return Err(self.err(kind, off + lead));
                    }
                }
                Token::CData => {
                    let kind = if msg.is_some() {
                        DecodeErrorKind::TrailingContent
                    } else {
                        DecodeErrorKind::UnexpectedText
                    };
                    return Err(self.err(kind, off));
                }
                Token::Start | Token::Empty => match mode {
                    Mode::Message => {
                        let child = self.child(ev);
                        if msg.is_some() {
                            return Err(self.err(DecodeErrorKind::TrailingContent, off));
                        }
                        if child.local_name() != "SyncML" {
                            return Err(self.err(
                                DecodeErrorKind::UnexpectedRoot(child.qname.to_owned()),
                                off,
                            ));
                        }
                        msg = Some(self.root(&child)?);
                    }
                    Mode::Commands => match self.child(ev) {
                        child if child.local_name() == "SyncML" => {
                            return Err(self.err(
                                DecodeErrorKind::UnexpectedRoot(child.qname.to_owned()),
                                off,
                            ));
                        }
                        // A bare `<SyncBody>` wrapper: its commands.
                        child if child.local() == "SyncBody" => {
                            out_cmds.extend(self.body(&child)?.commands)
                        }
                        child => {
                            self.command_into(&child, &mut out_cmds)?;
                        }
                    },
                },
                Token::End => {
                    return Err(
                        self.err(DecodeErrorKind::Syntax(SyntaxError::UnmatchedEndTag), off)
                    );
                }
                Token::Eof => break,
            }
            first = false;
        }
        match mode {
            Mode::Message => match msg {
                Some(m) => Ok(Output::Message(m)),
                None => Err(self.err(DecodeErrorKind::Empty, self.input.len())),
            },
            Mode::Commands => {
                if out_cmds.is_empty() {
                    Err(self.err(DecodeErrorKind::Empty, self.input.len()))
                } else {
                    Ok(Output::Commands(out_cmds))
                }
            }
        }
    }

    fn check_encoding(&mut self, enc: &str, off: usize) -> Result<()> {
        let e = enc.trim().to_ascii_lowercase();
        match e.as_str() {
            "utf-8" | "utf8" => Ok(()),
            "utf-16" | "utf16" | "unicode" | "utf-16le" | "utf-16be" => {
                self.quirk(Quirk::Utf16DeclaredUtf8, off)
            }
            "us-ascii" | "ascii" | "iso-8859-1" | "latin1" | "windows-1252"
                if self.input.is_ascii() =>
            {
                Ok(())
            }
            _ => Err(self.err(DecodeErrorKind::UnsupportedEncoding(enc.to_owned()), off)),
        }
    }

    fn root(&mut self, child: &StartTag<'a>) -> Result<SyncML<'a>> {
        let scan = self.scan_attrs(child)?;
        let version = match self.lex.uri(child.prefix().unwrap_or("")) {
            Some("SYNCML:SYNCML1.2") => SyncMlVersion::V1_2,
            Some("SYNCML:SYNCML1.1") => {
                self.quirk(Quirk::SyncMl11Namespace, child.off)?;
                SyncMlVersion::V1_1
            }
            Some(ns) if ns.eq_ignore_ascii_case("SYNCML:SYNCML1.2") => {
                self.quirk(Quirk::NamespaceCase, child.off)?;
                SyncMlVersion::V1_2
            }
            Some(ns) if ns.eq_ignore_ascii_case("SYNCML:SYNCML1.1") => {
                self.quirk(Quirk::NamespaceCase, child.off)?;
                self.quirk(Quirk::SyncMl11Namespace, child.off)?;
                SyncMlVersion::V1_1
            }
            None => {
                self.quirk(Quirk::MissingNamespace, child.off)?;
                SyncMlVersion::V1_2
            }
            Some(other) => {
                return Err(self.err(
                    DecodeErrorKind::UnexpectedNamespace(other.to_owned()),
                    child.off,
                ));
            }
        };
        let mut m = SyncML {
            version,
            attrs: scan.all,
            ..SyncML::default()
        };
        let mut hdr = None;
        let mut body = None;
        self.children(child.empty, |p, c| {
            match c.local() {
                "SyncHdr" => {
                    let off = c.off;
                    let v = p.hdr(c)?;
                    p.set(&mut hdr, v, off, Some(&mut m.extra))?;
                }
                "SyncBody" => {
                    let off = c.off;
                    let v = p.body(c)?;
                    p.set(&mut body, v, off, Some(&mut m.extra))?;
                }
                _ => {
                    let r = p.unknown(c)?;
                    m.extra.push(r);
                }
            }
            Ok(())
        })?;
        if hdr.is_none() || body.is_none() {
            self.quirk(Quirk::MissingHdrOrBody, child.off)?;
        }
        m.hdr = hdr.unwrap_or_default();
        m.body = body.unwrap_or_default();
        Ok(m)
    }

    /// Iterates over the child elements of the element just opened, skipping whitespace,
    /// comments and processing instructions.
    #[inline(always)]
    fn children(
        &mut self,
        empty: bool,
        mut on_child: impl FnMut(&mut Self, &StartTag<'a>) -> Result<()>,
    ) -> Result<()> {
        if empty {
            return Ok(());
        }
        loop {
            let ev = self.next()?;
            let off = self.lex.start;
            match ev {
                Token::Start | Token::Empty => {
                    let c = self.child(ev);
                    on_child(self, &c)?
                }
                Token::End => return Ok(()),
                Token::Text => {
                    let t = self.lex.text;
                    if !is_ws(t) {
                        let lead = t.len() - t.trim_start_matches([' ', '\t', '\r', '\n']).len();
                        return Err(self.err(DecodeErrorKind::UnexpectedText, off + lead));
                    }
                }
                Token::CData => {
                    return Err(self.err(DecodeErrorKind::UnexpectedText, off));
                }
                Token::Comment | Token::ProcessingInstruction => {}
                Token::XmlDeclaration | Token::DocType => {
                    return Err(self.err(
                        DecodeErrorKind::Syntax(SyntaxError::DeclarationInElement),
                        off,
                    ));
                }
                Token::Eof => return Err(self.eof()),
            }
        }
    }

    fn eof(&self) -> OffsetError {
        self.err(
            DecodeErrorKind::Syntax(SyntaxError::UnexpectedEof),
            self.input.len(),
        )
    }

    /// Stores a single-valued child; a second occurrence is an error, or is kept verbatim in
    /// `extra` when the element has such a list.
    fn set<T>(
        &mut self,
        slot: &mut Option<T>,
        v: T,
        off: usize,
        extra: Option<&mut Vec<RawElement<'a>>>,
    ) -> Result<()> {
        if slot.is_none() {
            *slot = Some(v);
            return Ok(());
        }
        let raw = self.input.get(off..self.lex.pos).unwrap_or("");
        let name = raw[1..]
            .split(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        match extra {
            Some(extra) if self.opts.unknown_elements == UnknownElements::Keep => {
                self.quirk(Quirk::DuplicateElement, off)?;
                extra.push(RawElement {
                    name: Cow::Borrowed(name),
                    xml: Cow::Borrowed(raw),
                });
                Ok(())
            }
            _ => Err(self.err(DecodeErrorKind::DuplicateElement(name.to_owned()), off)),
        }
    }

    /// Decodes a single-valued child with `parse` and stores it in `slot` (see [`Self::set`]).
    fn put<T>(
        &mut self,
        c: &StartTag<'a>,
        slot: &mut Option<T>,
        extra: Option<&mut Vec<RawElement<'a>>>,
        parse: fn(&mut Self, &StartTag<'a>) -> Result<T>,
    ) -> Result<()> {
        let off = c.off;
        let v = parse(self, c)?;
        self.set(slot, v, off, extra)
    }

    /// [`Self::value`] taking the child by value, for [`Self::put`].
    fn value_of(&mut self, c: &StartTag<'a>) -> Result<Cow<'a, str>> {
        self.value(c)
    }

    /// [`Self::unknown`], appended to `extra`.
    fn keep_unknown(&mut self, c: &StartTag<'a>, extra: &mut Vec<RawElement<'a>>) -> Result<()> {
        let r = self.unknown(c)?;
        extra.push(r);
        Ok(())
    }

    /// Keeps an unknown element verbatim (or rejects it in strict mode).
    fn unknown(&mut self, c: &StartTag<'a>) -> Result<RawElement<'a>> {
        self.check_name(c)?;
        if c.ns == Namespace::Unbound {
            let prefix = c.prefix().unwrap_or_default().to_owned();
            return Err(self.err(DecodeErrorKind::UnboundPrefix(prefix), c.off));
        }
        if self.opts.unknown_elements == UnknownElements::Reject {
            return Err(self.err(DecodeErrorKind::UnknownElement(c.qname.to_owned()), c.off));
        }
        self.scan_attrs(c)?;
        self.skip(c.empty)?;
        Ok(RawElement {
            name: Cow::Borrowed(c.qname),
            xml: Cow::Borrowed(self.input.get(c.off..self.lex.pos).unwrap_or("")),
        })
    }

    /// Skips to the end of the element just opened, iteratively, checking limits,
    /// entities and characters on the way.
    fn skip(&mut self, empty: bool) -> Result<()> {
        if empty {
            return Ok(());
        }
        let target = self.lex.depth() - 1;
        loop {
            let ev = self.next()?;
            let off = self.lex.start;
            match ev {
                Token::Start | Token::Empty => {
                    let c = self.child(ev);
                    self.check_name(&c)?;
                    self.scan_attrs(&c)?;
                }
                Token::End => {
                    if self.lex.depth() == target {
                        return Ok(());
                    }
                }
                Token::Text => {
                    if self.lex.text_needs_decoding {
                        lex::check_refs(self.lex.text, off)?;
                    }
                }
                Token::CData => {}
                Token::XmlDeclaration | Token::DocType => {
                    return Err(self.err(
                        DecodeErrorKind::Syntax(SyntaxError::DeclarationInElement),
                        off,
                    ));
                }
                Token::Comment | Token::ProcessingInstruction => {}
                Token::Eof => return Err(self.eof()),
            }
        }
    }

    #[inline]
    fn scan_attrs(&mut self, c: &StartTag<'a>) -> Result<AttrScan<'a>> {
        // Fast path: no attributes at all.
        if c.attrs
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Ok(AttrScan::default());
        }
        self.scan_attrs_slow(c)
    }

    #[inline(never)]
    fn scan_attrs_slow(&mut self, c: &StartTag<'a>) -> Result<AttrScan<'a>> {
        let mut scan = AttrScan::default();
        let limits = self.opts.limits;
        let (mut n, mut ns) = (0usize, 0usize);
        let base = c.off + 1 + c.qname.len();
        let mut it = lex::Attrs::new(c.attrs, base);
        let mut names: Vec<&'a str> = Vec::new();
        let mut seen: Option<std::collections::HashSet<&'a str>> = None;
        while let Some((key, raw, at)) = it.next_attr()? {
            n += 1;
            if n > limits.max_attributes {
                return Err(self.err(
                    DecodeErrorKind::LimitExceeded(Limit::Attributes(limits.max_attributes)),
                    c.off,
                ));
            }
            if !is_xml_name(key) {
                return Err(lex::syntax_with_name(
                    SyntaxError::InvalidAttributeName,
                    key,
                    at,
                ));
            }
            // A list while it is short (the default limit is 32); past that a set, so that a
            // raised limit does not make the check quadratic.
            let dup = if names.len() < 32 {
                names.contains(&key)
            } else {
                !seen
                    .get_or_insert_with(|| names.iter().copied().collect())
                    .insert(key)
            };
            if dup {
                return Err(lex::syntax_with_name(
                    SyntaxError::DuplicateAttribute,
                    key,
                    at,
                ));
            }
            names.push(key);
            let value_at = raw.as_ptr() as usize - self.input.as_ptr() as usize;
            let value = lex::attr_value(raw, value_at)?;
            if key == "xmlns" || key.starts_with("xmlns:") {
                ns += 1;
                if ns > limits.max_namespace_declarations {
                    return Err(self.err(
                        DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(
                            limits.max_namespace_declarations,
                        )),
                        c.off,
                    ));
                }
                if key == "xmlns" {
                    scan.default_ns_index = scan.all.len();
                    scan.default_ns = Some(value);
                } else {
                    scan.all.push(Attr {
                        name: Cow::Borrowed(key),
                        ns: None,
                        value,
                    });
                }
            } else {
                scan.non_ns += 1;
                // The lexer's scope is the tag's own until the next token.
                debug_assert_eq!(self.lex.start, c.off);
                let ns = key
                    .split_once(':')
                    .and_then(|(prefix, _)| self.lex.uri_cow(prefix));
                scan.all.push(Attr {
                    name: Cow::Borrowed(key),
                    ns,
                    value,
                });
            }
        }
        Ok(scan)
    }

    /// Attributes of a SyncML container element: a default namespace equal to SyncML's is
    /// redundant and dropped, `xmlns=""` is a quirk and dropped, everything else is kept.
    #[inline]
    fn container_attrs(&mut self, c: &StartTag<'a>) -> Result<Vec<Attr<'a>>> {
        let mut scan = self.scan_attrs(c)?;
        if let Some(ns) = scan.default_ns.take() {
            if ns.is_empty() {
                self.quirk(Quirk::EmptyDefaultNamespace, c.off)?;
            } else if !ns.to_ascii_uppercase().starts_with("SYNCML:SYNCML1.") {
                scan.all
                    .insert(scan.default_ns_index, Attr::new("xmlns", ns));
            }
        }
        Ok(scan.all)
    }

    // ----- values ----------------------------------------------------------------------

    /// Reads a value element (anything but `Data`): text, references and CDATA, with
    /// whitespace around it trimmed under [`Quirk::WhitespaceAroundValues`].
    #[inline]
    fn value(&mut self, c: &StartTag<'a>) -> Result<Cow<'a, str>> {
        let scan = self.scan_attrs(c)?;
        if scan.non_ns > 0 {
            self.quirk(Quirk::AttributeOnValue, c.off)?;
        }
        if let Some(ns) = &scan.default_ns
            && ns.is_empty()
        {
            self.quirk(Quirk::EmptyDefaultNamespace, c.off)?;
        }
        self.value_content(c)
    }

    #[inline]
    fn value_content(&mut self, c: &StartTag<'a>) -> Result<Cow<'a, str>> {
        if c.empty {
            return Ok(Cow::Borrowed(""));
        }
        let trim = self.opts.quirks.contains(Quirk::WhitespaceAroundValues);
        // Fast path: one text event, then the end tag.
        let ev = self.next()?;
        let off = self.lex.start;
        let mut pieces = match ev {
            Token::End => return Ok(Cow::Borrowed("")),
            Token::Text => {
                let (raw, amp) = (self.lex.text, self.lex.text_needs_decoding);
                let ev2 = self.next()?;
                if let Token::End = ev2 {
                    let mut one = [(raw, off, false)];
                    if trim && trim_pieces(&mut one) {
                        self.note(Quirk::WhitespaceAroundValues, off);
                    }
                    let [(r, at, _)] = one;
                    return if amp {
                        Ok(lex::decode_text(r, at)?)
                    } else {
                        Ok(Cow::Borrowed(r))
                    };
                }
                let mut pieces = vec![(raw, off, false)];
                if self.value_piece(ev2, &mut pieces)? {
                    return self.join(pieces, trim, c.off);
                }
                pieces
            }
            other => {
                let mut pieces = Vec::new();
                if self.value_piece(other, &mut pieces)? {
                    return self.join(pieces, trim, c.off);
                }
                pieces
            }
        };
        loop {
            let ev = self.next()?;
            if self.value_piece(ev, &mut pieces)? {
                return self.join(pieces, trim, c.off);
            }
        }
    }

    /// A value made of several pieces (text, CDATA, with comments or processing
    /// instructions between them): literal whitespace trimmed at both ends of the text
    /// pieces at the ends (under the quirk), references replaced, CDATA kept as is.
    fn join(
        &mut self,
        mut pieces: Vec<(&'a str, usize, bool)>,
        trim: bool,
        at: usize,
    ) -> Result<Cow<'a, str>> {
        if trim && trim_pieces(&mut pieces) {
            self.note(Quirk::WhitespaceAroundValues, at);
        }
        let mut out = String::new();
        for (s, off, cdata) in pieces {
            if cdata {
                out.push_str(&lex::normalize_line_ends(s));
            } else {
                out.push_str(&lex::decode_text(s, off)?);
            }
        }
        Ok(Cow::Owned(out))
    }

    /// Adds one event of a value's content to `pieces` (text, CDATA); `true` at the end tag.
    fn value_piece(&mut self, ev: Token, pieces: &mut Vec<(&'a str, usize, bool)>) -> Result<bool> {
        let off = self.lex.start;
        match ev {
            Token::Text => pieces.push((self.lex.text, off, false)),
            Token::CData => pieces.push((self.lex.text, off, true)),
            Token::Comment | Token::ProcessingInstruction => {}
            Token::Start | Token::Empty => {
                let c = self.lex.child(false);
                return Err(self.err(DecodeErrorKind::UnknownElement(c.qname.to_owned()), c.off));
            }
            Token::XmlDeclaration | Token::DocType => {
                return Err(self.err(
                    DecodeErrorKind::Syntax(SyntaxError::DeclarationInElement),
                    off,
                ));
            }
            Token::End => return Ok(true),
            Token::Eof => return Err(self.eof()),
        }
        Ok(false)
    }

    /// A flag element such as `<Final/>`, `<NoResp/>`, `<MoreData/>`.
    #[inline]
    fn flag(&mut self, c: &StartTag<'a>) -> Result<bool> {
        self.value(c)?;
        Ok(true)
    }

    fn data(&mut self, c: &StartTag<'a>) -> Result<Data<'a>> {
        let scan = self.scan_attrs(c)?;
        let mut attrs = scan.all;
        if let Some(ns) = scan.default_ns {
            attrs.insert(scan.default_ns_index, Attr::new("xmlns", ns));
        }
        if c.empty {
            return Ok(Data {
                attrs,
                content: DataContent::Text(Cow::Borrowed("")),
            });
        }
        let content_start = self.lex.pos;
        let outer = self.lex.depth();
        // Fast path: a single text or CDATA event, then the end tag.
        let ev = self.next()?;
        let off = self.lex.start;
        match ev {
            Token::End => Ok(Data {
                attrs,
                content: DataContent::Text(Cow::Borrowed("")),
            }),
            Token::Text => {
                let (raw, amp) = (self.lex.text, self.lex.text_needs_decoding);
                let ev2 = self.next()?;
                if let Token::End = ev2 {
                    let text = if amp {
                        lex::decode_text(raw, off)?
                    } else {
                        Cow::Borrowed(raw)
                    };
                    return Ok(Data {
                        attrs,
                        content: DataContent::Text(text),
                    });
                }
                let mut acc = DataAccumulator::default();
                acc.text(raw, off)?;
                self.data_rest(acc, Some(ev2), attrs, content_start, outer)
            }
            other => self.data_rest(
                DataAccumulator::default(),
                Some(other),
                attrs,
                content_start,
                outer,
            ),
        }
    }

    fn data_rest(
        &mut self,
        mut acc: DataAccumulator<'a>,
        mut pending: Option<Token>,
        attrs: Vec<Attr<'a>>,
        content_start: usize,
        outer: usize,
    ) -> Result<Data<'a>> {
        let content_end;
        loop {
            let ev = match pending.take() {
                Some(p) => p,
                None => self.next()?,
            };
            let off = self.lex.start;
            let nested = self.lex.depth() > outer || matches!(ev, Token::Start | Token::Empty);
            match ev {
                Token::End => {
                    if self.lex.depth() < outer {
                        content_end = off;
                        break;
                    }
                }
                Token::Start | Token::Empty => {
                    acc.markup = true;
                    let c = self.child(ev);
                    self.check_name(&c)?;
                    self.scan_attrs(&c)?;
                }
                Token::Text => {
                    if !nested {
                        acc.text(self.lex.text, off)?;
                    } else if self.lex.text_needs_decoding {
                        lex::check_refs(self.lex.text, off)?;
                    }
                }
                Token::CData => {
                    if !nested {
                        acc.cdata(self.lex.text);
                    }
                }
                Token::Comment | Token::ProcessingInstruction => acc.markup = true,
                Token::XmlDeclaration | Token::DocType => {
                    return Err(self.err(
                        DecodeErrorKind::Syntax(SyntaxError::DeclarationInElement),
                        off,
                    ));
                }
                Token::Eof => return Err(self.eof()),
            }
        }
        let raw = || Cow::Borrowed(self.input.get(content_start..content_end).unwrap_or(""));
        let content = if acc.markup || (acc.cdata_seen && acc.other_text) {
            DataContent::Xml(raw())
        } else if acc.cdata_seen {
            DataContent::CData(acc.cdata_value.finish())
        } else {
            DataContent::Text(acc.text_value.finish())
        };
        Ok(Data { attrs, content })
    }

    // ----- structure ---------------------------------------------------------------------

    fn hdr(&mut self, c: &StartTag<'a>) -> Result<SyncHdr<'a>> {
        let mut h = SyncHdr {
            attrs: self.container_attrs(c)?,
            ..SyncHdr::default()
        };
        self.children(c.empty, |p, c| match c.local() {
            "VerDTD" => p.put(c, &mut h.ver_dtd, Some(&mut h.extra), Self::value_of),
            "VerProto" => p.put(c, &mut h.ver_proto, Some(&mut h.extra), Self::value_of),
            "SessionID" => p.put(c, &mut h.session_id, Some(&mut h.extra), Self::value_of),
            "MsgID" => p.put(c, &mut h.msg_id, Some(&mut h.extra), Self::value_of),
            "Target" => p.put(c, &mut h.target, Some(&mut h.extra), Self::location),
            "Source" => p.put(c, &mut h.source, Some(&mut h.extra), Self::location),
            "RespURI" => p.put(c, &mut h.resp_uri, Some(&mut h.extra), Self::value_of),
            "NoResp" => {
                h.no_resp = p.flag(c)?;
                Ok(())
            }
            "Cred" => p.put(c, &mut h.cred, Some(&mut h.extra), Self::cred),
            "Meta" => p.put(c, &mut h.meta, Some(&mut h.extra), Self::meta),
            _ => p.keep_unknown(c, &mut h.extra),
        })?;
        Ok(h)
    }

    /// Attributes on elements whose model keeps none: reported as a quirk and dropped.
    fn drop_attrs(&mut self, c: &StartTag<'a>) -> Result<()> {
        if !self.container_attrs(c)?.is_empty() {
            self.quirk(Quirk::AttributeOnValue, c.off)?;
        }
        Ok(())
    }

    fn location(&mut self, c: &StartTag<'a>) -> Result<Location<'a>> {
        self.drop_attrs(c)?;
        let mut l = Location::default();
        self.children(c.empty, |p, c| match c.local() {
            "LocURI" => p.put(c, &mut l.loc_uri, Some(&mut l.extra), Self::value_of),
            "LocName" => p.put(c, &mut l.loc_name, Some(&mut l.extra), Self::value_of),
            _ => p.keep_unknown(c, &mut l.extra),
        })?;
        Ok(l)
    }

    fn location_boxed(&mut self, c: &StartTag<'a>) -> Result<Box<Location<'a>>> {
        self.location(c).map(Box::new)
    }

    fn cred(&mut self, c: &StartTag<'a>) -> Result<Box<Cred<'a>>> {
        self.drop_attrs(c)?;
        let mut cred = Cred::default();
        self.children(c.empty, |p, c| {
            let off = c.off;
            match c.local() {
                "Meta" => p.put(c, &mut cred.meta, None, Self::meta),
                "Data" => p.put(c, &mut cred.data, None, Self::data),
                _ => Err(p.err(DecodeErrorKind::UnknownElement(c.qname.to_owned()), off)),
            }
        })?;
        Ok(Box::new(cred))
    }

    fn chal(&mut self, c: &StartTag<'a>) -> Result<Box<Chal<'a>>> {
        self.drop_attrs(c)?;
        let mut chal = Chal::default();
        self.children(c.empty, |p, c| {
            let off = c.off;
            match c.local() {
                "Meta" => p.put(c, &mut chal.meta, None, Self::meta),
                _ => Err(p.err(DecodeErrorKind::UnknownElement(c.qname.to_owned()), off)),
            }
        })?;
        Ok(Box::new(chal))
    }

    /// [`Self::meta`], boxed (commands and items keep their `Meta` in a box).
    fn meta_boxed(&mut self, c: &StartTag<'a>) -> Result<Box<Meta<'a>>> {
        self.meta(c).map(Box::new)
    }

    fn meta(&mut self, c: &StartTag<'a>) -> Result<Meta<'a>> {
        let scan = self.scan_attrs(c)?;
        if scan.non_ns > 0 {
            // The model keeps no attributes on `Meta`.
            self.quirk(Quirk::AttributeOnValue, c.off)?;
        }
        let mut m = Meta::default();
        self.children(c.empty, |p, c| {
            let off = c.off;
            // `Meta`'s children are in `syncml:metinf`; in SyncML's namespace (or in none,
            // or under a prefix a fragment leaves unbound) under a quirk.
            let local = match c.ns {
                Namespace::Other => "",
                _ => c.local_name(),
            };
            let known = matches!(
                local,
                "Format"
                    | "Type"
                    | "Mark"
                    | "Size"
                    | "NextNonce"
                    | "Version"
                    | "MaxMsgSize"
                    | "MaxObjSize"
                    | "EMI"
            );
            if !known {
                let r = p.unknown(c)?;
                m.extra.push(r);
                return Ok(());
            }
            p.metinf_ns(c)?;
            match local {
                "Format" => {
                    let v = p.value_content(c)?;
                    p.set(&mut m.format, v, off, Some(&mut m.extra))
                }
                "Type" => {
                    let v = p.value_content(c)?;
                    p.set(&mut m.r#type, v, off, Some(&mut m.extra))
                }
                "Mark" => {
                    let v = p.value_content(c)?;
                    p.set(&mut m.mark, v, off, Some(&mut m.extra))
                }
                "NextNonce" => {
                    let v = p.value_content(c)?;
                    p.set(&mut m.next_nonce, v, off, Some(&mut m.extra))
                }
                "Version" => {
                    let v = p.value_content(c)?;
                    p.set(&mut m.version, v, off, Some(&mut m.extra))
                }
                "EMI" => {
                    let v = p.value_content(c)?;
                    m.emi.push(v);
                    Ok(())
                }
                "Size" => {
                    let v = p.number_content(c, "Size")?;
                    p.set(&mut m.size, v, off, Some(&mut m.extra))
                }
                "MaxMsgSize" => {
                    let v = p.number_content(c, "MaxMsgSize")?;
                    p.set(&mut m.max_msg_size, v, off, Some(&mut m.extra))
                }
                _ => {
                    let v = p.number_content(c, "MaxObjSize")?;
                    p.set(&mut m.max_obj_size, v, off, Some(&mut m.extra))
                }
            }
        })?;
        Ok(m)
    }

    /// Checks the namespace of a `Meta` child (attributes scanned here).
    fn metinf_ns(&mut self, c: &StartTag<'a>) -> Result<()> {
        let scan = self.scan_attrs(c)?;
        if scan.non_ns > 0 {
            self.quirk(Quirk::AttributeOnValue, c.off)?;
        }
        if c.ns != Namespace::MetInf {
            self.quirk(Quirk::MetInfNamespace, c.off)?;
        }
        Ok(())
    }

    fn number_content(&mut self, c: &StartTag<'a>, element: &'static str) -> Result<u64> {
        let v = self.value_content(c)?;
        trim_ws(&v).parse().map_err(|_| {
            self.err(
                DecodeErrorKind::InvalidValue {
                    element,
                    value: v.clone().into_owned(),
                },
                c.off,
            )
        })
    }

    fn body(&mut self, c: &StartTag<'a>) -> Result<SyncBody<'a>> {
        let mut b = SyncBody {
            attrs: self.container_attrs(c)?,
            ..SyncBody::default()
        };
        let mut commands = Vec::new();
        let mut fin = false;
        self.children(c.empty, |p, c| {
            if c.local() == "Final" {
                fin = p.flag(c)?;
                return Ok(());
            }
            p.command_into(c, &mut commands)?;
            Ok(())
        })?;
        b.commands = commands;
        b.r#final = fin;
        Ok(b)
    }

    fn count_command(&mut self, off: usize) -> Result<()> {
        self.commands += 1;
        if self.commands > self.opts.limits.max_commands {
            return Err(self.err(
                DecodeErrorKind::LimitExceeded(Limit::Commands(self.opts.limits.max_commands)),
                off,
            ));
        }
        Ok(())
    }

    /// Decodes a command straight into `out` (built in place: commands are large).
    fn command_into(&mut self, c: &StartTag<'a>, out: &mut Vec<Command<'a>>) -> Result<()> {
        let Some(kind) = CommandKind::from_name(c.local()) else {
            let raw = self.unknown(c)?;
            out.push(Command::Unknown(Box::new(raw)));
            return Ok(());
        };
        self.count_command(c.off)?;
        // Each kind is filled in its own box, then the box is pushed (a `Command` is two
        // words; the box is the command's only allocation besides its fields').
        let cmd = match kind {
            CommandKind::Add => Command::Add(self.item_command(c)?),
            CommandKind::Copy => Command::Copy(self.item_command(c)?),
            CommandKind::Delete => Command::Delete(self.item_command(c)?),
            CommandKind::Exec => Command::Exec(self.item_command(c)?),
            CommandKind::Get => Command::Get(self.item_command(c)?),
            CommandKind::Replace => Command::Replace(self.item_command(c)?),
            CommandKind::Alert => {
                let mut x = Box::<Alert<'a>>::default();
                self.alert(c, &mut x)?;
                Command::Alert(x)
            }
            CommandKind::Atomic => Command::Atomic(self.container(c)?),
            CommandKind::Sequence => Command::Sequence(self.container(c)?),
            CommandKind::Results => {
                let mut x = Box::<Results<'a>>::default();
                self.results(c, &mut x)?;
                Command::Results(x)
            }
            CommandKind::Status => {
                let mut x = Box::<Status<'a>>::default();
                self.status(c, &mut x)?;
                Command::Status(x)
            }
        };
        out.push(cmd);
        Ok(())
    }

    fn item_command(&mut self, c: &StartTag<'a>) -> Result<Box<ItemCommand<'a>>> {
        let mut cmd = Box::<ItemCommand<'a>>::default();
        cmd.attrs = self.container_attrs(c)?;
        self.children(c.empty, |p, c| match c.local() {
            "CmdID" => p.put(c, &mut cmd.cmd_id, Some(&mut cmd.extra), Self::value_of),
            "NoResp" => {
                cmd.no_resp = p.flag(c)?;
                Ok(())
            }
            "Cred" => p.put(c, &mut cmd.cred, Some(&mut cmd.extra), Self::cred),
            "Meta" => p.put(c, &mut cmd.meta, Some(&mut cmd.extra), Self::meta_boxed),
            "Correlator" => p.put(c, &mut cmd.correlator, Some(&mut cmd.extra), Self::value_of),
            "Item" => p.item_into(c, &mut cmd.items),
            _ => p.keep_unknown(c, &mut cmd.extra),
        })?;
        Ok(cmd)
    }

    fn alert(&mut self, c: &StartTag<'a>, a: &mut Alert<'a>) -> Result<()> {
        a.attrs = self.container_attrs(c)?;
        self.children(c.empty, |p, c| match c.local() {
            "CmdID" => p.put(c, &mut a.cmd_id, Some(&mut a.extra), Self::value_of),
            "NoResp" => {
                a.no_resp = p.flag(c)?;
                Ok(())
            }
            "Cred" => p.put(c, &mut a.cred, Some(&mut a.extra), Self::cred),
            "Data" => p.put(c, &mut a.data, Some(&mut a.extra), Self::data),
            "Correlator" => p.put(c, &mut a.correlator, Some(&mut a.extra), Self::value_of),
            "Item" => p.item_into(c, &mut a.items),
            _ => p.keep_unknown(c, &mut a.extra),
        })?;
        Ok(())
    }

    fn container(&mut self, c: &StartTag<'a>) -> Result<Box<Container<'a>>> {
        if self.nesting >= MAX_CONTAINER_NESTING {
            return Err(self.err(
                DecodeErrorKind::LimitExceeded(Limit::ContainerNesting(MAX_CONTAINER_NESTING)),
                c.off,
            ));
        }
        self.nesting += 1;
        let mut k = Box::<Container<'a>>::default();
        let r = self.container_inner(c, &mut k);
        self.nesting -= 1;
        r.map(|()| k)
    }

    fn container_inner(&mut self, c: &StartTag<'a>, k: &mut Container<'a>) -> Result<()> {
        k.attrs = self.container_attrs(c)?;
        let mut commands = Vec::new();
        self.children(c.empty, |p, c| {
            let off = c.off;
            match c.local() {
                "CmdID" => {
                    let v = p.value(c)?;
                    if k.cmd_id.is_none() {
                        k.cmd_id = Some(v);
                        Ok(())
                    } else {
                        let mut dup = Vec::new();
                        let mut slot = Some(Cow::Borrowed(""));
                        p.set(&mut slot, v, off, Some(&mut dup))?;
                        commands.extend(dup.into_iter().map(|r| Command::Unknown(Box::new(r))));
                        Ok(())
                    }
                }
                "NoResp" => {
                    k.no_resp = p.flag(c)?;
                    Ok(())
                }
                "Meta" => p.put(c, &mut k.meta, None, Self::meta_boxed),
                _ => {
                    p.command_into(c, &mut commands)?;
                    Ok(())
                }
            }
        })?;
        k.commands = commands;
        Ok(())
    }

    fn results(&mut self, c: &StartTag<'a>, r: &mut Results<'a>) -> Result<()> {
        r.attrs = self.container_attrs(c)?;
        self.children(c.empty, |p, c| match c.local() {
            "CmdID" => p.put(c, &mut r.cmd_id, Some(&mut r.extra), Self::value_of),
            "MsgRef" => p.put(c, &mut r.msg_ref, Some(&mut r.extra), Self::value_of),
            "CmdRef" => p.put(c, &mut r.cmd_ref, Some(&mut r.extra), Self::value_of),
            "Cmd" => p.put(c, &mut r.cmd, Some(&mut r.extra), Self::value_of),
            "Meta" => p.put(c, &mut r.meta, Some(&mut r.extra), Self::meta_boxed),
            "TargetRef" => {
                r.target_refs.push(p.value(c)?);
                Ok(())
            }
            "SourceRef" => {
                r.source_refs.push(p.value(c)?);
                Ok(())
            }
            "Item" => p.item_into(c, &mut r.items),
            _ => p.keep_unknown(c, &mut r.extra),
        })?;
        Ok(())
    }

    fn status(&mut self, c: &StartTag<'a>, s: &mut Status<'a>) -> Result<()> {
        s.attrs = self.container_attrs(c)?;
        self.children(c.empty, |p, c| match c.local() {
            "CmdID" => p.put(c, &mut s.cmd_id, Some(&mut s.extra), Self::value_of),
            "MsgRef" => p.put(c, &mut s.msg_ref, Some(&mut s.extra), Self::value_of),
            "CmdRef" => p.put(c, &mut s.cmd_ref, Some(&mut s.extra), Self::value_of),
            "Cmd" => p.put(c, &mut s.cmd, Some(&mut s.extra), Self::value_of),
            "TargetRef" => {
                s.target_refs.push(p.value(c)?);
                Ok(())
            }
            "SourceRef" => {
                s.source_refs.push(p.value(c)?);
                Ok(())
            }
            "Cred" => p.put(c, &mut s.cred, Some(&mut s.extra), Self::cred),
            "Chal" => p.put(c, &mut s.chal, Some(&mut s.extra), Self::chal),
            "Data" => p.put(c, &mut s.data, Some(&mut s.extra), Self::data),
            "Item" => p.item_into(c, &mut s.items),
            _ => p.keep_unknown(c, &mut s.extra),
        })?;
        Ok(())
    }

    /// Decodes an `Item` straight into `out` (built in place: items are large and a
    /// message can hold thousands).
    fn item_into(&mut self, c: &StartTag<'a>, out: &mut Vec<Item<'a>>) -> Result<()> {
        self.items += 1;
        if self.items > self.opts.limits.max_items {
            return Err(self.err(
                DecodeErrorKind::LimitExceeded(Limit::Items(self.opts.limits.max_items)),
                c.off,
            ));
        }
        let attrs = self.container_attrs(c)?;
        if out.capacity() == 0 {
            // Most commands hold one item: room for exactly one, not the four a first
            // `push` reserves (an `Item` is large; issue 12 measured the model's memory).
            out.reserve_exact(1);
        }
        out.push(Item {
            attrs,
            ..Item::default()
        });
        let Some(it) = out.last_mut() else {
            return Ok(());
        };
        self.children(c.empty, |p, c| match c.local() {
            "Target" => p.put(c, &mut it.target, Some(&mut it.extra), Self::location),
            "Source" => p.put(c, &mut it.source, Some(&mut it.extra), Self::location),
            "SourceParent" => p.put(
                c,
                &mut it.source_parent,
                Some(&mut it.extra),
                Self::location_boxed,
            ),
            "TargetParent" => p.put(
                c,
                &mut it.target_parent,
                Some(&mut it.extra),
                Self::location_boxed,
            ),
            "Meta" => p.put(c, &mut it.meta, Some(&mut it.extra), Self::meta_boxed),
            "Data" => p.put(c, &mut it.data, Some(&mut it.extra), Self::data),
            "MoreData" => {
                it.more_data = p.flag(c)?;
                Ok(())
            }
            _ => p.keep_unknown(c, &mut it.extra),
        })
    }
}

/// Trims literal whitespace at both ends of a value's pieces (raw text, its offset, whether
/// it is CDATA), across comments and processing instructions at the ends; a CDATA section
/// or a reference ends it. Returns whether anything was trimmed.
fn trim_pieces(pieces: &mut [(&str, usize, bool)]) -> bool {
    const WS: [char; 4] = [' ', '\t', '\r', '\n'];
    let mut trimmed = false;
    for (s, off, cdata) in pieces.iter_mut() {
        if *cdata {
            break;
        }
        let t = s.trim_start_matches(WS);
        trimmed |= t.len() != s.len();
        *off += s.len() - t.len();
        *s = t;
        if !s.is_empty() {
            break;
        }
    }
    for (s, _, cdata) in pieces.iter_mut().rev() {
        if *cdata {
            break;
        }
        let t = s.trim_end_matches(WS);
        trimmed |= t.len() != s.len();
        *s = t;
        if !s.is_empty() {
            break;
        }
    }
    trimmed
}

/// Accumulates the content of a `Data` element.
#[derive(Default)]
struct DataAccumulator<'a> {
    text_value: TextAccumulator<'a>,
    cdata_value: TextAccumulator<'a>,
    markup: bool,
    cdata_seen: bool,
    /// Text that is neither whitespace nor `&#13;` references (with CDATA: markup).
    other_text: bool,
}

/// Whether `raw` is one or more `&#13;` (or `&#xD;`) references and nothing else.
fn is_cr_refs(raw: &str) -> bool {
    let mut r = raw;
    while !r.is_empty() {
        match ["&#13;", "&#xD;", "&#xd;"]
            .iter()
            .find(|p| r.starts_with(**p))
        {
            Some(p) => r = &r[p.len()..],
            None => return false,
        }
    }
    !raw.is_empty()
}

impl<'a> DataAccumulator<'a> {
    /// Raw text (references replaced here; text holding one is not whitespace).
    fn text(&mut self, raw: &'a str, off: usize) -> Result<()> {
        let text = lex::decode_text(raw, off)?;
        // CDATA sections joined by `&#13;` are how a CR is written in CDATA (the encoder
        // does so): such references belong to the CDATA value.
        if is_cr_refs(raw) {
            self.cdata_value.push(text.clone());
        } else if !is_ws(raw) {
            self.other_text = true;
        }
        self.text_value.push(text);
        Ok(())
    }

    fn cdata(&mut self, t: &'a str) {
        self.cdata_seen = true;
        self.cdata_value.push(lex::normalize_line_ends(t));
    }
}

/// A string built from pieces that stays borrowed while it has one piece.
#[derive(Default)]
struct TextAccumulator<'a> {
    first: Option<Cow<'a, str>>,
    buf: Option<String>,
}

impl<'a> TextAccumulator<'a> {
    fn materialize(&mut self) -> &mut String {
        if self.buf.is_none() {
            let s = self.first.take().map(Cow::into_owned).unwrap_or_default();
            self.buf = Some(s);
        }
        self.buf.get_or_insert_with(String::new)
    }

    fn push(&mut self, s: Cow<'a, str>) {
        if self.first.is_none() && self.buf.is_none() {
            self.first = Some(s);
        } else {
            self.materialize().push_str(&s);
        }
    }

    fn finish(self) -> Cow<'a, str> {
        match (self.buf, self.first) {
            (Some(b), _) => Cow::Owned(b),
            (None, Some(f)) => f,
            (None, None) => Cow::Borrowed(""),
        }
    }
}

/// Runs the decoder's tokenizer alone over `input`: every event, no model. With `full`,
/// also what the decoder checks on demand (attribute syntax, names and values; references
/// in text). Returns the number of events. For the benchmarks (the tokenizer's own floor)
/// and the fuzz targets (its well-formedness against another parser); not a stable API.
#[doc(hidden)]
pub fn __tokenize(input: &str, full: bool) -> std::result::Result<usize, DecodeError> {
    let opts = DecodeOptions::default();
    let mut p = Parser::new(input, 0, &opts);
    let mut n = 0usize;
    let r: Result<()> = (|| {
        loop {
            let ev = p.next()?;
            let off = p.lex.start;
            n += 1;
            match ev {
                Token::Eof => return Ok(()),
                Token::Start | Token::Empty if full => {
                    let c = p.child(ev);
                    p.check_name(&c)?;
                    p.scan_attrs(&c)?;
                }
                Token::Text if full && p.lex.text_needs_decoding => {
                    lex::check_refs(p.lex.text, off)?
                }
                _ => {}
            }
        }
    })();
    let cfg = LexConfig {
        limits: &opts.limits,
        fragment: false,
    };
    r.map_err(|e| finish(input, 0, *e, cfg))?;
    if p.lex.depth() > 0 {
        return Err(finish(input, 0, *p.eof(), cfg));
    }
    Ok(n)
}
