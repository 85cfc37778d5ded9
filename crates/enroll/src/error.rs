//! Decode errors and the limits that bound decoding.

/// Limits applied while decoding; every limit has its own [`DecodeErrorKind`].
///
/// The defaults are generous for real enrollment traffic (a request with TPM
/// attestation blobs is a few tens of KiB) and small enough to bound memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted input in bytes ([`DecodeErrorKind::InputTooLarge`]).
    pub max_input_bytes: usize,
    /// Deepest element nesting ([`DecodeErrorKind::TooDeep`]).
    pub max_depth: usize,
    /// Most elements in one document ([`DecodeErrorKind::TooManyElements`]).
    pub max_elements: usize,
    /// Most attributes on one element ([`DecodeErrorKind::TooManyAttributes`]).
    pub max_attributes: usize,
    /// Longest text or attribute value in bytes ([`DecodeErrorKind::ValueTooLarge`]).
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 4 * 1024 * 1024,
            max_depth: 32,
            max_elements: 20_000,
            max_attributes: 64,
            max_value_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// Returns these limits with `max_input_bytes` replaced.
    pub fn with_max_input_bytes(mut self, n: usize) -> Self {
        self.max_input_bytes = n;
        self
    }
    /// Returns these limits with `max_depth` replaced.
    pub fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
    /// Returns these limits with `max_elements` replaced.
    pub fn with_max_elements(mut self, n: usize) -> Self {
        self.max_elements = n;
        self
    }
    /// Returns these limits with `max_attributes` replaced.
    pub fn with_max_attributes(mut self, n: usize) -> Self {
        self.max_attributes = n;
        self
    }
    /// Returns these limits with `max_value_bytes` replaced.
    pub fn with_max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }
}

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is empty or holds no root element.
    #[error("no XML root element")]
    Empty,
    /// The input is not UTF-8.
    #[error("input is not valid UTF-8")]
    NotUtf8,
    /// The XML is not well-formed.
    #[error("XML syntax: {0}")]
    Syntax(String),
    /// A DOCTYPE declaration was found; DTDs and entity declarations are refused.
    #[error("DOCTYPE is not allowed")]
    Doctype,
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    /// A namespace prefix without a declaration.
    #[error("undeclared namespace prefix {0:?}")]
    UnboundPrefix(String),
    /// Content after the root element.
    #[error("content after the root element")]
    TrailingContent,
    /// Input larger than [`Limits::max_input_bytes`].
    #[error("input larger than {limit} bytes")]
    InputTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// More attributes on one element than [`Limits::max_attributes`].
    #[error("more than {limit} attributes on one element")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
    },
    /// A text or attribute value longer than [`Limits::max_value_bytes`].
    #[error("value longer than {limit} bytes")]
    ValueTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The root element is not the one expected.
    #[error("unexpected root element {found}, expected {expected}")]
    UnexpectedRoot {
        /// What was expected.
        expected: &'static str,
        /// `{namespace}local` of what was found.
        found: String,
    },
    /// The SOAP body holds a different message (or a fault) than the one expected.
    #[error("unexpected SOAP body {found}, expected {expected}")]
    UnexpectedBody {
        /// What was expected.
        expected: &'static str,
        /// `{namespace}local` of what was found.
        found: String,
    },
    /// A required element is missing.
    #[error("missing element {0}")]
    Missing(&'static str),
    /// A value that does not parse as its type.
    #[error("invalid value {value:?} for {field}")]
    InvalidValue {
        /// Element or attribute name.
        field: &'static str,
        /// The offending value (truncated to 64 characters).
        value: String,
    },
    /// Base64 content that does not decode.
    #[error("invalid base64 in {0}")]
    Base64(&'static str),
}

/// A decode error with its position in the input.
///
/// `offset` is a byte offset into the input given to the decoder; `line` and `column`
/// are 1-based (column counted in bytes) and computed from the same input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset into the input.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub column: usize,
}

impl DecodeError {
    pub(crate) fn at(input: &[u8], offset: usize, kind: DecodeErrorKind) -> Self {
        let offset = offset.min(input.len());
        let before = &input[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        DecodeError {
            kind,
            offset,
            line,
            column: offset - line_start + 1,
        }
    }
}

pub(crate) fn truncate(v: &str) -> String {
    v.chars().take(64).collect()
}
