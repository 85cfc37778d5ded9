//! Message errors and the limits that bound decoding.

use winmdm_xml::ErrorKind as XmlErrorKind;

/// Limits applied while decoding an enrollment message: winmdm-xml's [`winmdm_xml::Limits`],
/// one shape for every winmdm crate. Each limit has its own [`XmlErrorKind`], reported as
/// [`MessageErrorKind::Xml`].
///
/// Start from [`default_limits`], not `MessageLimits::default()`: enrollment messages are
/// shallower and smaller than what winmdm-xml's defaults allow, and [`default_limits`]
/// holds this crate's tighter defaults (what the decoders without a limits argument use).
pub use winmdm_xml::Limits as MessageLimits;

/// This crate's limits, used by every `decode` without a limits argument: 4 MiB of input,
/// nesting 32 deep, 20,000 elements, 64 attributes on one element, 1 MiB per text or
/// attribute value.
///
/// They are generous for real enrollment traffic (a request with TPM attestation blobs
/// is a few tens of KiB) and small enough to bound memory and time.
///
/// ```
/// let limits = winmdm_enroll::default_limits().with_max_input_bytes(64 * 1024);
/// assert_eq!((limits.max_depth, limits.max_elements), (32, 20_000));
/// ```
pub fn default_limits() -> MessageLimits {
    MessageLimits::default()
        .with_max_input_bytes(4 * 1024 * 1024)
        .with_max_depth(32)
        .with_max_elements(20_000)
        .with_max_attributes(64)
        .with_max_value_bytes(1024 * 1024)
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageErrorKind {
    /// The XML itself is refused, with winmdm-xml's kind: not UTF-8
    /// ([`XmlErrorKind::InvalidEncoding`]), no root element ([`XmlErrorKind::NoRoot`]),
    /// not well-formed ([`XmlErrorKind::Syntax`] with its typed
    /// [`XmlSyntaxError`](crate::XmlSyntaxError), [`XmlErrorKind::InvalidName`],
    /// [`XmlErrorKind::UnclosedElement`], ...), a DOCTYPE ([`XmlErrorKind::Doctype`]: no DTD is read), an
    /// entity reference other than the predefined ones, an undeclared prefix, content
    /// after the root, or a [`MessageLimits`] field exceeded (each its own kind:
    /// [`XmlErrorKind::InputTooLarge`], [`XmlErrorKind::TooDeep`],
    /// [`XmlErrorKind::TooManyElements`], [`XmlErrorKind::TooManyAttributes`],
    /// [`XmlErrorKind::ValueTooLarge`]).
    #[error(transparent)]
    Xml(XmlErrorKind),
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
    /// Base64 content that does not decode (or would decode to more than its bound).
    #[error("invalid base64 in {0}")]
    Base64(&'static str),
}

/// A message error with its position in the input.
///
/// `offset` is a byte offset into the input given to the decoder; `line` and `column`
/// are 1-based (column counted in bytes) and computed from the same input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct MessageError {
    /// What went wrong.
    pub kind: MessageErrorKind,
    /// Byte offset into the input.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub column: usize,
}

impl MessageError {
    pub(crate) fn at(input: &[u8], offset: usize, kind: MessageErrorKind) -> Self {
        let offset = offset.min(input.len());
        let before = &input[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        MessageError {
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
