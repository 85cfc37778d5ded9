//! The XML foundation of winmdm: the one place for XML other than the SyncML hot path
//! (`winmdm-syncml` keeps its own tokenizer for speed).
//!
//! - **Input decoding** ([`decode`], [`decode_utf8`]): byte order marks, UTF-16, the XML
//!   declaration's encoding, Windows-1252 (legacy DDF files), and what to do with invalid
//!   bytes ([`InvalidBytes`]).
//! - **A bounded tree** ([`parse`], [`parse_str`]) on quick-xml's namespace-aware reader:
//!   one [`Element`] type (names by namespace URI and local name, prefixes and offsets
//!   kept), every [`Limits`] field with its own [`ErrorKind`], errors with a byte offset,
//!   line, column and element path ([`Error`]); markup that is not well-formed is
//!   [`ErrorKind::Syntax`] with a typed [`SyntaxError`].
//! - **The DTD policy**: no DTD is ever read. A `<!DOCTYPE>` is refused
//!   ([`DoctypePolicy::Reject`], the default) or skipped unread ([`DoctypePolicy::Skip`],
//!   for DDF files, which carry one); entity references other than the five predefined
//!   ones and character references are [`ErrorKind::UnknownEntity`] either way.
//! - **One escaper** ([`escape_text`], [`escape_attribute`]) and a small [`Writer`].
//!
//! ```
//! use winmdm_xml::{parse, ErrorKind, Limits, ParseOptions, Writer};
//!
//! let soap = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
//!   <s:Body><Ping xmlns="urn:example" id="1">a &amp; b</Ping></s:Body>
//! </s:Envelope>"#;
//! let root = parse(soap, &ParseOptions::default())?;
//! assert_eq!(root.name, "Envelope");
//! assert_eq!(root.prefix.as_deref(), Some("s"));
//! let body = root.child(Some("http://www.w3.org/2003/05/soap-envelope"), "Body").unwrap();
//! let ping = body.child(Some("urn:example"), "Ping").unwrap();
//! assert_eq!(ping.attribute(None, "id"), Some("1"));
//! assert_eq!(ping.text(), "a & b");
//!
//! // Written back, it reads the same (prefixes aside).
//! let mut w = Writer::new();
//! w.element(ping);
//! assert_eq!(w.as_str(), r#"<Ping xmlns="urn:example" id="1">a &amp; b</Ping>"#);
//! assert_eq!(&parse(w.as_str().as_bytes(), &ParseOptions::default())?, ping);
//!
//! // No DTD, and every limit has its error kind and position.
//! let err = parse(b"<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", &ParseOptions::default())
//!     .unwrap_err();
//! assert_eq!(err.kind, ErrorKind::Doctype);
//! let options = ParseOptions::default().with_limits(Limits::default().with_max_depth(2));
//! let err = parse(b"<a>\n <b><c/></b></a>", &options).unwrap_err();
//! assert_eq!(err.kind, ErrorKind::TooDeep { limit: 2 });
//! assert_eq!((err.position.offset, err.position.line, err.position.column), (8, 2, 5));
//! assert_eq!(err.path, "/a/b");
//! # Ok::<(), winmdm_xml::Error>(())
//! ```
#![forbid(unsafe_code)]

mod decode;
mod element;
mod error;
mod escape;
mod tree;

pub use decode::{Decoded, Encoding, InvalidBytes, decode, decode_utf8, windows_1252_char};
pub use element::{Attribute, Element, Node, XML_NS};
pub use error::{CharacterReferenceError, Error, ErrorKind, Position, SyntaxError};
pub use escape::{Writer, escape_attribute, escape_text};

/// Resource limits; each has its own [`ErrorKind`].
///
/// The defaults bound memory and time for untrusted input while leaving room for real
/// documents (an enrollment message is a few tens of KiB, the largest published DDF file
/// under 1 MiB); crates set their own where their documents differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input in bytes ([`ErrorKind::InputTooLarge`]). Default 4 MiB.
    pub max_input_bytes: usize,
    /// Deepest element nesting ([`ErrorKind::TooDeep`]). Default 64.
    pub max_depth: usize,
    /// Most elements in one document ([`ErrorKind::TooManyElements`]). Default 100,000.
    pub max_elements: usize,
    /// Most attributes on one element, namespace declarations included
    /// ([`ErrorKind::TooManyAttributes`]). Default 64.
    pub max_attributes: usize,
    /// Longest text of one element or attribute value in bytes
    /// ([`ErrorKind::ValueTooLarge`]). Default 1 MiB.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 4 << 20,
            max_depth: 64,
            max_elements: 100_000,
            max_attributes: 64,
            max_value_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_input_bytes`].
    pub fn with_max_input_bytes(mut self, n: usize) -> Self {
        self.max_input_bytes = n;
        self
    }
    /// Sets [`Limits::max_depth`].
    pub fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
    /// Sets [`Limits::max_elements`].
    pub fn with_max_elements(mut self, n: usize) -> Self {
        self.max_elements = n;
        self
    }
    /// Sets [`Limits::max_attributes`].
    pub fn with_max_attributes(mut self, n: usize) -> Self {
        self.max_attributes = n;
        self
    }
    /// Sets [`Limits::max_value_bytes`].
    pub fn with_max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }
}

/// What to do with a `<!DOCTYPE>`. No DTD is read under either policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DoctypePolicy {
    /// Fail with [`ErrorKind::Doctype`] (the default).
    #[default]
    Reject,
    /// Skip it unread, internal subset included (DDF files carry the OMA DTD's
    /// declaration); entities it declares stay unknown.
    Skip,
}

/// What to do with a namespace prefix that no declaration binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnboundPrefixPolicy {
    /// Fail with [`ErrorKind::UnboundPrefix`] (the default).
    #[default]
    Reject,
    /// Read the name as being in no namespace (the prefix is kept in
    /// [`Element::prefix`]).
    NoNamespace,
}

/// Options of [`parse`] and [`parse_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Resource limits.
    pub limits: Limits,
    /// The DOCTYPE policy.
    pub doctype: DoctypePolicy,
    /// The unbound-prefix policy.
    pub unbound_prefixes: UnboundPrefixPolicy,
    /// Bytes invalid in the input's encoding ([`parse`] only).
    pub invalid_bytes: InvalidBytes,
}

impl ParseOptions {
    /// Sets [`ParseOptions::limits`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`ParseOptions::doctype`].
    pub fn with_doctype(mut self, policy: DoctypePolicy) -> Self {
        self.doctype = policy;
        self
    }
    /// Sets [`ParseOptions::unbound_prefixes`].
    pub fn with_unbound_prefixes(mut self, policy: UnboundPrefixPolicy) -> Self {
        self.unbound_prefixes = policy;
        self
    }
    /// Sets [`ParseOptions::invalid_bytes`].
    pub fn with_invalid_bytes(mut self, invalid: InvalidBytes) -> Self {
        self.invalid_bytes = invalid;
        self
    }
}

/// Decodes `bytes` ([`decode`]) and parses the text ([`parse_str`]). Offsets of tree
/// errors and of [`Element::offset`] are into the decoded text (after the byte order
/// mark; see [`Decoded::bom_len`] to map them back for UTF-8 input).
pub fn parse(bytes: &[u8], options: &ParseOptions) -> Result<Element, Error> {
    let decoded = decode(bytes, options.invalid_bytes, &options.limits)?;
    parse_str(&decoded.text, options)
}

/// Parses `text` into its root element: well-formedness (names, characters, end tags,
/// comments), namespaces, the DTD policy and the limits. Comments and processing
/// instructions are not kept; whitespace-only text outside the root is allowed.
pub fn parse_str(text: &str, options: &ParseOptions) -> Result<Element, Error> {
    tree::parse_str(text, options)
}
