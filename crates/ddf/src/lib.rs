//! OMA-DM DDF 1.2 parser with Microsoft's `MSFT:` extensions.
//!
//! A DDF (Device Description Framework) file describes the node tree of a Windows
//! configuration service provider (CSP). [`parse`] turns one into a [`MgmtTree`]:
//! every `DFProperties` child in any order, every `MSFT:` extension (applicability, allowed
//! values of each value type, dynamic node naming, conflict resolution, dependencies, GP
//! mapping, deprecation, atomic-required, reboot behavior, diagnostics). Codes are open enums and
//! unknown elements are kept (`extra` lists); what cannot be kept is listed in
//! [`MgmtTree::warnings`].
//!
//! The XML layer is winmdm-xml: the generic elements the model keeps are its [`Element`],
//! its [`Limits`] bound the input, and its error kinds are this crate's [`ErrorKind::Xml`];
//! `DFFormat` is winmdm-types' [`Format`].
//!
//! Security: the DOCTYPE and its internal subset are skipped and never expanded, only the five
//! predefined entities and character references are resolved, and input size, nesting depth,
//! element and attribute counts and value sizes are bounded by [`Limits`]
//! ([`ParseOptions::default_limits`]).
//!
//! ```
//! use winmdm_ddf::{parse, AccessKind, Format, ValueType};
//!
//! let ddf = br#"<?xml version="1.0" encoding="UTF-8"?>
//! <!DOCTYPE MgmtTree PUBLIC " -//OMA//DTD-DM-DDF 1.2//EN"
//!   "http://www.openmobilealliance.org/tech/DTD/DM_DDF-V1_2.dtd"
//!   [<?oma-dm-ddf-ver supported-versions="1.2"?>]>
//! <MgmtTree xmlns:MSFT="http://schemas.microsoft.com/MobileDevice/DM">
//!   <VerDTD>1.2</VerDTD>
//!   <Node>
//!     <NodeName>Example</NodeName>
//!     <Path>./Device/Vendor/MSFT</Path>
//!     <DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat>
//!       <Occurrence><One/></Occurrence><Scope><Permanent/></Scope><DFType><MIME/></DFType>
//!     </DFProperties>
//!     <Node>
//!       <NodeName>Level</NodeName>
//!       <DFProperties>
//!         <AccessType><Get/><Replace/></AccessType>
//!         <DFFormat><int/></DFFormat>
//!         <DFType><MIME>text/plain</MIME></DFType>
//!         <DefaultValue>1</DefaultValue>
//!         <MSFT:AllowedValues ValueType="Range"><MSFT:Value>[0-3]</MSFT:Value></MSFT:AllowedValues>
//!       </DFProperties>
//!     </Node>
//!   </Node>
//! </MgmtTree>"#;
//! let tree = parse(ddf).unwrap();
//! let level = &tree.nodes[0].children[0];
//! assert_eq!(level.name, "Level");
//! assert_eq!(level.properties.format, Some(Format::Int));
//! assert!(level.properties.allows(&AccessKind::Replace));
//! let allowed = level.properties.allowed_values.as_ref().unwrap();
//! assert_eq!(allowed.value_type, ValueType::Range);
//! assert!(allowed.range().unwrap().contains(2));
//! assert!(tree.warnings.is_empty());
//!
//! // Every limit has its error kind, with a position and the element path.
//! use winmdm_ddf::{parse_with, winmdm_xml, ErrorKind, ParseOptions};
//! let options = ParseOptions::default()
//!     .with_limits(ParseOptions::default_limits().with_max_depth(2));
//! let err = parse_with(ddf, &options).unwrap_err();
//! assert_eq!(err.kind, ErrorKind::Xml(winmdm_xml::ErrorKind::TooDeep { limit: 2 }));
//! assert_eq!(err.path, "/MgmtTree/Node");
//! ```
#![forbid(unsafe_code)]

mod error;
/// The manual (`docs/ddf.md` in the repository): the model, what is kept and the limits,
/// with its examples run as doc tests.
#[doc = include_str!("../../../docs/ddf.md")]
pub mod manual {}
mod model;
mod parse;
mod xml;

pub use error::{ErrorKind, ParseError};
pub use model::{
    AccessKind, AdmxBacked, AllowedValues, Applicability, CaseSense, ConflictResolution,
    Dependency, DependencyBehavior, DependencyGroup, DependencyValue, Deprecated, DfProperties,
    DfType, DynamicNodeNaming, EnumValue, GpMapping, MgmtTree, Node, Occurrence, RangeSpec,
    RebootBehavior, Scope, ValueType, Warning, parse_u32,
};
pub use parse::MSFT_NS;
pub use winmdm_types::Format;
pub use winmdm_xml;
pub use winmdm_xml::{Attribute, Element, Limits, Position};

/// What to do with bytes that are invalid in the document's encoding (UTF-8 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InvalidBytes {
    /// Fail with [`winmdm_xml::ErrorKind::InvalidEncoding`] and the byte's position (default).
    #[default]
    Error,
    /// Read each invalid byte as Windows-1252 (what Microsoft's legacy `PolicyDDF_all.xml`
    /// needs: a 0x92 apostrophe in a file declared UTF-8). Valid UTF-8 stays as is.
    Windows1252,
    /// Replace each invalid byte with U+FFFD.
    Lossy,
}

/// Parser configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Resource limits, each with its error kind ([`ErrorKind::Xml`]); the default is
    /// [`ParseOptions::default_limits`].
    pub limits: Limits,
    /// Handling of invalid bytes; [`MgmtTree::used_fallback_decoding`] tells if it was needed.
    pub invalid_bytes: InvalidBytes,
}

impl Default for ParseOptions {
    /// [`ParseOptions::default_limits`], [`InvalidBytes::Error`].
    fn default() -> Self {
        ParseOptions {
            limits: ParseOptions::default_limits(),
            invalid_bytes: InvalidBytes::default(),
        }
    }
}

impl ParseOptions {
    /// The limits of [`ParseOptions::default`], larger than winmdm-xml's
    /// [`Limits::default`] (the DDF files Microsoft publishes reach 0.7 MiB, 12,500
    /// elements and a depth of 24):
    ///
    /// | limit | default | error kind |
    /// |---|---|---|
    /// | [`Limits::max_input_bytes`] | 16 MiB | [`winmdm_xml::ErrorKind::InputTooLarge`] |
    /// | [`Limits::max_depth`] | 256 | [`winmdm_xml::ErrorKind::TooDeep`] |
    /// | [`Limits::max_elements`] | 2,000,000 | [`winmdm_xml::ErrorKind::TooManyElements`] |
    /// | [`Limits::max_attributes`] | 64 | [`winmdm_xml::ErrorKind::TooManyAttributes`] |
    /// | [`Limits::max_value_bytes`] | 16 MiB (the input's bound) | [`winmdm_xml::ErrorKind::ValueTooLarge`] |
    ///
    /// Change one with `ParseOptions::default_limits().with_max_depth(...)`; a
    /// [`Limits::default`] starts from winmdm-xml's smaller defaults.
    pub fn default_limits() -> Limits {
        Limits::default()
            .with_max_input_bytes(16 << 20)
            .with_max_depth(256)
            .with_max_elements(2_000_000)
            .with_max_attributes(64)
            .with_max_value_bytes(16 << 20)
    }

    /// Options with the given limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Options with the given handling of invalid bytes.
    pub fn with_invalid_bytes(mut self, invalid_bytes: InvalidBytes) -> Self {
        self.invalid_bytes = invalid_bytes;
        self
    }
}

/// Parses a DDF document with default options.
pub fn parse(bytes: &[u8]) -> Result<MgmtTree, ParseError> {
    parse_with(bytes, &ParseOptions::default())
}

/// Parses a DDF document.
pub fn parse_with(bytes: &[u8], options: &ParseOptions) -> Result<MgmtTree, ParseError> {
    let decoded = xml::decode(bytes, options)?;
    let root = xml::build_tree(&decoded.text, options)?;
    let mut builder = parse::ModelBuilder::new(&decoded.text);
    let mut tree = builder.tree(root)?;
    tree.warnings = builder.warnings;
    tree.used_fallback_decoding = decoded.fallback_used;
    Ok(tree)
}

/// Parses only the XML layer into a generic [`Element`] tree (same decoding and limits as
/// [`parse_with`]). Useful for tools that need the raw structure.
pub fn parse_elements(bytes: &[u8], options: &ParseOptions) -> Result<Element, ParseError> {
    let decoded = xml::decode(bytes, options)?;
    xml::build_tree(&decoded.text, options)
}
