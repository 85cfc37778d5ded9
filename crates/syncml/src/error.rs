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
    /// The XML is not well-formed (message from the XML reader).
    Syntax(String),
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
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Empty => f.write_str("empty input"),
            DecodeErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            DecodeErrorKind::UnsupportedEncoding(e) => write!(f, "unsupported encoding {e:?}"),
            DecodeErrorKind::Syntax(m) => write!(f, "malformed XML: {m}"),
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
