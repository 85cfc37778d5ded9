//! Positions, the one set of error kinds, and the error type.

use std::fmt;

/// A position in the input: byte offset, 1-based line and column (column in characters).
///
/// Offsets of tree errors are into the text given to [`crate::parse_str`] (for
/// [`crate::parse`], the decoded text: after the byte order mark, after UTF-16 or
/// Windows-1252 transcoding); offsets of decoding errors are into the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Byte offset.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Default for Position {
    /// The start of the input: offset 0, line 1, column 1.
    fn default() -> Self {
        Position {
            offset: 0,
            line: 1,
            column: 1,
        }
    }
}

impl Position {
    /// Line and column of byte `offset` in `text` (an offset inside a character counts
    /// as that character's start; offsets past the end are clamped).
    pub fn locate(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let mut cut = offset;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let before = &text[..cut];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position {
            offset,
            line,
            column,
        }
    }

    /// Line and column of byte `offset` in raw bytes, which need not be UTF-8 (the column
    /// counts bytes when the line so far is not UTF-8).
    pub fn locate_bytes(bytes: &[u8], offset: usize) -> Self {
        let offset = offset.min(bytes.len());
        let before = &bytes[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = match std::str::from_utf8(&before[line_start..]) {
            Ok(s) => s.chars().count() + 1,
            Err(_) => offset - line_start + 1,
        };
        Position {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {} (byte {})",
            self.line, self.column, self.offset
        )
    }
}

/// What went wrong while decoding or parsing XML.
///
/// Each [`crate::Limits`] field has its own kind; the DTD policy has [`ErrorKind::Doctype`]
/// and [`ErrorKind::UnknownEntity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input holds no root element.
    #[error("no XML root element")]
    NoRoot,
    /// Bytes that are not valid in the input's encoding.
    #[error("byte 0x{byte:02X} is not valid {encoding}")]
    InvalidEncoding {
        /// The encoding (`UTF-8`, `UTF-16`, or the declared name).
        encoding: String,
        /// The first offending byte.
        byte: u8,
    },
    /// The XML declaration names an encoding this crate does not read.
    #[error("unsupported encoding {0:?}")]
    UnsupportedEncoding(String),
    /// Markup that is not well-formed (an unclosed tag or comment, a mismatched end tag, a
    /// bad attribute or reference, ...).
    #[error("{0}")]
    Syntax(SyntaxError),
    /// An element or attribute name that is not a QName.
    #[error("invalid {} name {name:?}", if *.attribute { "attribute" } else { "element" })]
    InvalidName {
        /// The name as written.
        name: String,
        /// An attribute name (else an element name).
        attribute: bool,
    },
    /// A character outside XML 1.0's `Char` production (in text, an attribute value or a
    /// namespace name).
    #[error("character U+{:04X} is not allowed in XML", u32::from(*.0))]
    IllegalCharacter(char),
    /// Non-whitespace text before the root element.
    #[error("text before the root element")]
    TextBeforeRoot,
    /// The input ended inside this element (its name as written).
    #[error("unclosed element <{0}>")]
    UnclosedElement(String),
    /// A `<!DOCTYPE>` where the policy is [`crate::DoctypePolicy::Reject`].
    #[error("DOCTYPE is not allowed")]
    Doctype,
    /// An entity reference other than the five predefined ones or a character reference
    /// (entities are never declared: no DTD is read).
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    /// A namespace prefix without a declaration where the policy is
    /// [`crate::UnboundPrefixPolicy::Reject`].
    #[error("undeclared namespace prefix {0:?}")]
    UnboundPrefix(String),
    /// Content after the root element.
    #[error("content after the root element")]
    TrailingContent,
    /// Input larger than [`crate::Limits::max_input_bytes`].
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge {
        /// Input size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nesting deeper than [`crate::Limits::max_depth`].
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More elements than [`crate::Limits::max_elements`].
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// More attributes on one element than [`crate::Limits::max_attributes`].
    #[error("more than {limit} attributes on one element")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
    },
    /// A text or attribute value longer than [`crate::Limits::max_value_bytes`].
    #[error("value longer than {limit} bytes")]
    ValueTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More namespace bindings in scope at once than the XML reader keeps (a fixed bound
    /// of quick-xml's, 128).
    #[error("more than {limit} namespace declarations in scope")]
    TooManyNamespaceBindings {
        /// The bound.
        limit: usize,
    },
}

impl From<SyntaxError> for ErrorKind {
    fn from(e: SyntaxError) -> Self {
        ErrorKind::Syntax(e)
    }
}

/// How markup is not well-formed ([`ErrorKind::Syntax`]).
///
/// The XML reader's (quick-xml's) errors mapped to this crate's own types, so that the
/// reader is not part of the public interface. Attribute errors are positioned at the
/// start of their tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The input ended inside a tag (`>` not found).
    #[error("tag not closed: `>` not found before the end of the input")]
    UnclosedTag,
    /// The input ended inside a quoted attribute value.
    #[error("attribute value not closed: `{quote}` not found before the end of the tag")]
    UnclosedAttributeValue {
        /// The opening quote (`"` or `'`).
        quote: char,
    },
    /// The input ended inside a comment (`-->` not found).
    #[error("comment not closed: `-->` not found before the end of the input")]
    UnclosedComment,
    /// The input ended inside a CDATA section (`]]>` not found).
    #[error("CDATA section not closed: `]]>` not found before the end of the input")]
    UnclosedCData,
    /// The input ended inside a processing instruction (`?>` not found).
    #[error("processing instruction not closed: `?>` not found before the end of the input")]
    UnclosedProcessingInstruction,
    /// The input ended inside the XML declaration (`?>` not found).
    #[error("XML declaration not closed: `?>` not found before the end of the input")]
    UnclosedXmlDeclaration,
    /// The input ended inside a `<!DOCTYPE` (`>` not found).
    #[error("DOCTYPE not closed: `>` not found before the end of the input")]
    UnclosedDoctype,
    /// `<!` not followed by `--`, `[CDATA[` or `DOCTYPE`.
    #[error("unknown markup after `<!`")]
    InvalidMarkup,
    /// An end tag that does not close the innermost open element.
    #[error("expected </{expected}>, found </{found}>")]
    MismatchedEndTag {
        /// The innermost open element's name as written.
        expected: String,
        /// The end tag's name as written.
        found: String,
    },
    /// An end tag with no open element.
    #[error("end tag </{0}> without a start tag")]
    UnmatchedEndTag(String),
    /// `--` inside a comment.
    #[error("`--` inside a comment")]
    DoubleHyphenInComment,
    /// An attribute name not followed by `=`.
    #[error("attribute name not followed by `=`")]
    AttributeWithoutEquals,
    /// `=` not followed by a value.
    #[error("`=` not followed by an attribute value")]
    AttributeWithoutValue,
    /// An attribute value not in quotes.
    #[error("attribute value not enclosed in `\"` or `'`")]
    UnquotedAttributeValue,
    /// The same attribute twice on one element.
    #[error("duplicate attribute {name:?}")]
    DuplicateAttribute {
        /// The attribute's name as written.
        name: String,
    },
    /// `&` without the `;` that ends a reference.
    #[error("entity or character reference not closed: `;` not found")]
    UnclosedReference,
    /// A character reference (`&#...;`) that names no character.
    #[error("invalid character reference: {0}")]
    InvalidCharacterReference(#[source] CharacterReferenceError),
    /// An XML declaration without `version` as its first attribute, or with a version
    /// other than 1.0 or 1.1 (the reader checks this only when asked for the version,
    /// which parsing does not do).
    #[error("invalid XML declaration: version 1.0 or 1.1 expected first")]
    InvalidXmlDeclaration,
    /// A `<!DOCTYPE>` without a document type name.
    #[error("DOCTYPE without a document type name")]
    MissingDoctypeName,
    /// A declaration binding a reserved prefix or namespace (`xml`, `xmlns`) otherwise
    /// than XML Namespaces allows.
    #[error("prefix {prefix:?} cannot be bound to {namespace:?}")]
    ReservedNamespaceBinding {
        /// The prefix declared (`xml`, `xmlns` or another).
        prefix: String,
        /// The namespace name it was bound to.
        namespace: String,
    },
}

/// Why a character reference names no character ([`SyntaxError::InvalidCharacterReference`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CharacterReferenceError {
    /// A sign (`+`, `-`) before the number.
    #[error("a sign before the number")]
    Sign,
    /// Not a decimal (`&#N;`) or hexadecimal (`&#xN;`) number, or too large for one.
    #[error("not a decimal or hexadecimal number")]
    NotANumber,
    /// A number that is not a Unicode scalar value.
    #[error("U+{0:X} is not a Unicode scalar value")]
    NotACodepoint(u32),
}

/// An error with its position and the path of open elements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {position}{}", if path.is_empty() { String::new() } else { format!(" in {path}") })]
#[non_exhaustive]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where.
    pub position: Position,
    /// The open elements, names as written (`/s:Envelope/s:Body`); empty outside the root
    /// and for decoding errors.
    pub path: String,
}

impl Error {
    /// An error at `offset` of `text`, with an element path.
    pub fn at(kind: ErrorKind, text: &str, offset: usize, path: String) -> Self {
        Error {
            kind,
            position: Position::locate(text, offset),
            path,
        }
    }

    /// An error at `offset` of raw `bytes` (decoding errors), without a path.
    pub fn at_byte(kind: ErrorKind, bytes: &[u8], offset: usize) -> Self {
        Error {
            kind,
            position: Position::locate_bytes(bytes, offset),
            path: String::new(),
        }
    }

    /// The byte offset of [`Error::position`].
    pub fn offset(&self) -> usize {
        self.position.offset
    }
}
