//! Decode and encode errors.

use std::fmt;

use crate::options::{Limit, Quirk};

/// Why a message failed to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is empty (or holds only whitespace, comments and the XML declaration).
    Empty,
    /// The bytes are not valid UTF-8 (after BOM handling).
    InvalidUtf8,
    /// The XML declaration names an encoding the decoder does not accept.
    UnsupportedEncoding(String),
    /// The XML is not well-formed: which rule it breaks.
    Syntax(SyntaxError),
    /// A `<!DOCTYPE>` was found: DTDs and entity declarations are never processed.
    DocType,
    /// A reference to an entity other than the five predefined ones and character
    /// references; entities are never expanded.
    UnknownEntity(String),
    /// A character that XML 1.0 does not allow (e.g. U+0001), written or referenced.
    InvalidChar(u32),
    /// The root element is not `SyncML` (or a command, for fragments).
    UnexpectedRoot(String),
    /// The root namespace is not a SyncML namespace.
    UnexpectedNamespace(String),
    /// An element the model does not know, with unknown elements rejected (strict mode).
    UnknownElement(String),
    /// An element appears more often than the model allows (e.g. two `CmdID`).
    DuplicateElement(String),
    /// Text where only elements are allowed.
    UnexpectedText,
    /// An element value that does not parse (e.g. `MaxMsgSize` not a number).
    InvalidValue {
        /// The element.
        element: &'static str,
        /// The offending value.
        value: String,
    },
    /// Content after the root element's end tag.
    TrailingContent,
    /// A configured limit was exceeded.
    LimitExceeded(Limit),
    /// Input that a quirk tolerates, with that quirk switched off.
    QuirkDisabled(Quirk),
    /// An element or attribute prefix that no namespace declaration in scope binds
    /// (Namespaces in XML 1.0: the document is not namespace-well-formed).
    UnboundPrefix(String),
    /// A namespace declaration Namespaces in XML 1.0 forbids: `xmlns:xml` bound elsewhere
    /// than the XML namespace, `xmlns:xmlns`, a reserved namespace bound to another prefix,
    /// `xmlns:p=""`, or the `xmlns` prefix on an element.
    InvalidNamespaceDeclaration(String),
    /// The decoder broke one of its own invariants (it returned another output than the
    /// one asked for). Never expected: a bug in this crate.
    Internal,
}

/// How XML is not well-formed (XML 1.0): the [`DecodeErrorKind::Syntax`] detail. Variants
/// that show a name or reference carry it as written in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxError {
    /// An element name that is not a valid XML name (or `prefix:local` of two).
    InvalidElementName(String),
    /// `<` followed by no element name.
    MissingElementName,
    /// A start tag or empty-element tag without its `>`.
    UnclosedStartTag,
    /// An end tag without its `>`.
    UnclosedEndTag,
    /// An end tag whose name is not the one of the open element.
    MismatchedEndTag {
        /// The end tag's name.
        end: String,
        /// The open element's name.
        open: String,
    },
    /// An end tag with no element open.
    EndTagWithoutStartTag(String),
    /// An end tag where the decoder expects the root element.
    UnmatchedEndTag,
    /// The input ends inside an element.
    UnexpectedEof,
    /// `]]>` in text (it may only end a CDATA section).
    CDataEndInText,
    /// A comment without its `-->`.
    UnclosedComment,
    /// `--` inside a comment.
    DoubleHyphenInComment,
    /// A CDATA section without its `]]>`.
    UnclosedCData,
    /// `<!` followed by neither a comment, a CDATA section nor `DOCTYPE`.
    UnknownMarkup,
    /// A processing instruction without its `?>`.
    UnclosedProcessingInstruction,
    /// A processing instruction with target `xml` (in any case) that is not the XML
    /// declaration.
    ReservedProcessingInstructionTarget,
    /// A processing instruction whose target is not a valid name (or has a `:`).
    InvalidProcessingInstructionTarget,
    /// An XML declaration whose pseudo-attributes are not `version`, then optionally
    /// `encoding` and `standalone`, in that order, or have malformed values.
    MalformedXmlDeclaration,
    /// An XML declaration without `version`.
    XmlDeclarationWithoutVersion,
    /// An XML declaration after other content.
    MisplacedXmlDeclaration,
    /// An XML declaration or `<!DOCTYPE>` inside an element.
    DeclarationInElement,
    /// Two attributes without whitespace between them.
    AttributesNotSeparated,
    /// `=` or a value where an attribute name should be.
    MissingAttributeName,
    /// An attribute name that is not a valid XML name (or `prefix:local` of two).
    InvalidAttributeName(String),
    /// The same attribute twice on one element.
    DuplicateAttribute(String),
    /// Two prefixed attributes with the same namespace and local name.
    DuplicateExpandedAttribute {
        /// The attribute written first.
        first: String,
        /// The attribute written second.
        second: String,
    },
    /// An attribute name without `=` and a value.
    AttributeWithoutValue(String),
    /// An attribute value not in quotes.
    UnquotedAttributeValue(String),
    /// An attribute value without its closing quote.
    UnclosedAttributeValue,
    /// `<` in an attribute value.
    LtInAttributeValue,
    /// `&` without a `;` after it.
    UnterminatedReference,
    /// `&` that starts no reference (`&;`, `& `, `&1x;`).
    InvalidReference,
    /// A character reference whose digits do not parse (`&#xZ;`); the reference without
    /// `&` and `;`.
    InvalidCharReference(String),
    /// A character reference beyond U+10FFFF; the reference without `&` and `;`.
    CharReferenceBeyondUnicode(String),
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::InvalidElementName(n) => write!(f, "invalid element name {n:?}"),
            SyntaxError::MissingElementName => f.write_str("missing element name after '<'"),
            SyntaxError::UnclosedStartTag => f.write_str("unclosed start tag"),
            SyntaxError::UnclosedEndTag => f.write_str("unclosed end tag"),
            SyntaxError::MismatchedEndTag { end, open } => {
                write!(f, "end tag </{end}> does not match the open <{open}>")
            }
            SyntaxError::EndTagWithoutStartTag(n) => {
                write!(f, "end tag </{n}> without a start tag")
            }
            SyntaxError::UnmatchedEndTag => f.write_str("unmatched end tag"),
            SyntaxError::UnexpectedEof => f.write_str("unexpected end of input: unclosed element"),
            SyntaxError::CDataEndInText => {
                f.write_str("']]>' in text (only allowed to end a CDATA section)")
            }
            SyntaxError::UnclosedComment => f.write_str("unclosed comment"),
            SyntaxError::DoubleHyphenInComment => f.write_str("'--' inside a comment"),
            SyntaxError::UnclosedCData => f.write_str("unclosed CDATA section"),
            SyntaxError::UnknownMarkup => f.write_str("unknown markup after '<!'"),
            SyntaxError::UnclosedProcessingInstruction => {
                f.write_str("unclosed processing instruction")
            }
            SyntaxError::ReservedProcessingInstructionTarget => {
                f.write_str("processing instruction target 'xml' is reserved")
            }
            SyntaxError::InvalidProcessingInstructionTarget => {
                f.write_str("invalid processing instruction target")
            }
            SyntaxError::MalformedXmlDeclaration => f.write_str("malformed XML declaration"),
            SyntaxError::XmlDeclarationWithoutVersion => {
                f.write_str("XML declaration without a version")
            }
            SyntaxError::MisplacedXmlDeclaration => f.write_str("XML declaration not at the start"),
            SyntaxError::DeclarationInElement => f.write_str("declaration inside an element"),
            SyntaxError::AttributesNotSeparated => {
                f.write_str("attributes must be separated by whitespace")
            }
            SyntaxError::MissingAttributeName => f.write_str("missing attribute name"),
            SyntaxError::InvalidAttributeName(n) => write!(f, "invalid attribute name {n:?}"),
            SyntaxError::DuplicateAttribute(n) => write!(f, "duplicate attribute {n:?}"),
            SyntaxError::DuplicateExpandedAttribute { first, second } => write!(
                f,
                "attributes {first:?} and {second:?} have the same namespace and name"
            ),
            SyntaxError::AttributeWithoutValue(n) => write!(f, "attribute {n:?} without a value"),
            SyntaxError::UnquotedAttributeValue(n) => {
                write!(f, "value of attribute {n:?} is not quoted")
            }
            SyntaxError::UnclosedAttributeValue => f.write_str("unclosed attribute value"),
            SyntaxError::LtInAttributeValue => f.write_str("'<' in an attribute value"),
            SyntaxError::UnterminatedReference => f.write_str("'&' without a terminating ';'"),
            SyntaxError::InvalidReference => f.write_str("'&' that does not start a reference"),
            SyntaxError::InvalidCharReference(r) => {
                write!(f, "invalid character reference &{r};")
            }
            SyntaxError::CharReferenceBeyondUnicode(r) => {
                write!(f, "character reference &{r}; is beyond Unicode")
            }
        }
    }
}

impl std::error::Error for SyntaxError {}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Empty => f.write_str("empty input"),
            DecodeErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            DecodeErrorKind::UnsupportedEncoding(e) => write!(f, "unsupported encoding {e:?}"),
            DecodeErrorKind::Syntax(e) => write!(f, "malformed XML: {e}"),
            DecodeErrorKind::DocType => {
                f.write_str("DOCTYPE declarations are not allowed (no DTD or entity processing)")
            }
            DecodeErrorKind::UnknownEntity(e) => {
                write!(f, "unknown entity &{e}; (entities are never expanded)")
            }
            DecodeErrorKind::InvalidChar(c) => {
                write!(f, "character U+{c:04X} is not allowed in XML")
            }
            DecodeErrorKind::UnexpectedRoot(n) => write!(f, "unexpected root element <{n}>"),
            DecodeErrorKind::UnexpectedNamespace(n) => {
                write!(f, "unexpected root namespace {n:?}")
            }
            DecodeErrorKind::UnknownElement(n) => write!(f, "unknown element <{n}>"),
            DecodeErrorKind::DuplicateElement(n) => write!(f, "duplicate element <{n}>"),
            DecodeErrorKind::UnexpectedText => f.write_str("text where only elements are allowed"),
            DecodeErrorKind::InvalidValue { element, value } => {
                write!(f, "invalid value {value:?} in <{element}>")
            }
            DecodeErrorKind::TrailingContent => f.write_str("content after the root element"),
            DecodeErrorKind::LimitExceeded(l) => write!(f, "limit exceeded: {l}"),
            DecodeErrorKind::QuirkDisabled(q) => {
                write!(f, "input needs quirk {q:?}, which is switched off")
            }
            DecodeErrorKind::UnboundPrefix(p) => {
                write!(f, "namespace prefix {p:?} is not declared")
            }
            DecodeErrorKind::InvalidNamespaceDeclaration(m) => {
                write!(f, "invalid namespace declaration: {m}")
            }
            DecodeErrorKind::Internal => {
                f.write_str("internal: decoder returned the wrong output kind")
            }
        }
    }
}

/// A decode error: what went wrong, where (byte offset, line and column, both 1-based) and in
/// which element (`SyncML/SyncBody/Atomic[2]/Replace/Item/Data`, `[n]` counting same-named
/// siblings from 1 when there is more than one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column} (byte {offset}){}: {kind}", if path.is_empty() { String::new() } else { format!(" at {path}") })]
#[non_exhaustive]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset into the input.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Element path to the error.
    pub path: String,
}

/// Why a message failed to encode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The writer failed.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    /// A value holds a character XML 1.0 cannot represent (e.g. U+0000).
    #[error("character U+{0:04X} cannot be represented in XML 1.0")]
    InvalidChar(u32),
    /// An attribute or element name is not a valid XML name.
    #[error("invalid XML name {0:?}")]
    InvalidName(String),
}
