//! Errors of the DDF parser.

use std::fmt;

/// A position in the input document: byte offset, 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the input (after transcoding, see [`crate::ParseOptions`]).
    pub offset: usize,
    /// 1-based line number.
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
    /// Computes line and column of byte `offset` in `text`.
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

    /// Computes line and column of byte `offset` in raw bytes (which need not be valid UTF-8;
    /// columns count bytes in that case).
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

/// What went wrong while parsing a DDF document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is larger than [`crate::Limits::max_input_bytes`].
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge {
        /// Input size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements nest deeper than [`crate::Limits::max_depth`].
    #[error("elements nest deeper than the limit of {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// More elements than [`crate::Limits::max_elements`].
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
    },
    /// More attributes on one element than [`crate::Limits::max_attributes`].
    #[error("more than {limit} attributes on one element")]
    TooManyAttributes {
        /// The configured limit.
        limit: usize,
    },
    /// The bytes are not valid in the document's encoding.
    #[error("byte 0x{byte:02X} is not valid {encoding}")]
    InvalidEncoding {
        /// The encoding the document declares (or UTF-8 by default).
        encoding: String,
        /// The first offending byte.
        byte: u8,
    },
    /// The document declares an encoding this parser does not read.
    #[error("unsupported encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The XML is not well-formed (message from the XML reader).
    #[error("malformed XML: {0}")]
    Xml(String),
    /// An entity reference other than the five predefined ones and character references.
    /// Entities are never expanded from a DTD.
    #[error("undefined entity &{0};")]
    UndefinedEntity(String),
    /// The document ended with open elements.
    #[error("unexpected end of document inside <{0}>")]
    UnexpectedEof(String),
    /// The root element is not `MgmtTree`.
    #[error("root element is <{0}>, expected <MgmtTree>")]
    NotMgmtTree(String),
    /// No root element at all.
    #[error("no root element")]
    NoRoot,
    /// Text or elements after the root element.
    #[error("content after the root element")]
    TrailingContent,
    /// A required child element is missing.
    #[error("<{parent}> has no <{child}>")]
    Missing {
        /// The element that lacks a child.
        parent: &'static str,
        /// The missing child.
        child: &'static str,
    },
}

/// A parse error: its kind, where in the input, and the element path leading there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {position}{}", if path.is_empty() { String::new() } else { format!(" in {path}") })]
#[non_exhaustive]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where.
    pub position: Position,
    /// Element path, e.g. `/MgmtTree/Node/Node/DFProperties`, or node path
    /// (`./Device/Vendor/MSFT/DMClient/...`) for model errors. May be empty.
    pub path: String,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, position: Position, path: String) -> Self {
        ParseError {
            kind,
            position,
            path,
        }
    }
}
