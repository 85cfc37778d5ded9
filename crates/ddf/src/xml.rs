//! The first parsing phase on winmdm-xml: input decoding and the bounded element tree
//! (winmdm-xml's [`Element`]).
//!
//! winmdm-xml decodes the input (byte order marks, UTF-16, the declared encoding,
//! Windows-1252) and builds the tree; the DOCTYPE (with its internal subset) is skipped and
//! never read ([`winmdm_xml::DoctypePolicy::Skip`]), only the five predefined entities and
//! character references are resolved, a prefix bound nowhere is read as no namespace;
//! comments and processing instructions are not kept; character data, CDATA sections and
//! references are joined into text. This module sets winmdm-xml's options for DDF files and
//! wraps its errors in this crate's [`ErrorKind::Xml`].

use winmdm_xml::{Element, ErrorKind as XmlErrorKind, Position};

use crate::error::{ErrorKind, ParseError};
use crate::{InvalidBytes, ParseOptions};

/// The input after transcoding to UTF-8, and whether a fallback decoding was used.
pub(crate) struct Decoded<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub fallback_used: bool,
}

fn xml_options(options: &ParseOptions) -> winmdm_xml::ParseOptions {
    winmdm_xml::ParseOptions::default()
        .with_limits(options.limits)
        .with_doctype(winmdm_xml::DoctypePolicy::Skip)
        .with_unbound_prefixes(winmdm_xml::UnboundPrefixPolicy::NoNamespace)
        .with_invalid_bytes(match options.invalid_bytes {
            InvalidBytes::Error => winmdm_xml::InvalidBytes::Error,
            InvalidBytes::Windows1252 => winmdm_xml::InvalidBytes::Windows1252,
            InvalidBytes::Lossy => winmdm_xml::InvalidBytes::Replace,
        })
}

/// This crate's error for a winmdm-xml one (`text_len`: the decoded text's length, for tree
/// errors: no root is reported at the end of the text).
fn error(e: winmdm_xml::Error, text_len: Option<usize>, text: &str) -> ParseError {
    let position = match (&e.kind, text_len) {
        (XmlErrorKind::NoRoot, Some(len)) => Position::locate(text, len),
        _ => e.position,
    };
    ParseError::new(ErrorKind::Xml(e.kind), position, e.path)
}

/// Decodes the raw input to UTF-8 text: BOMs (UTF-8, UTF-16), the encoding declaration
/// (UTF-8, UTF-16 with BOM, Windows-1252, ISO-8859-1, US-ASCII), and the configured handling of
/// bytes that are invalid for the encoding.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    options: &ParseOptions,
) -> Result<Decoded<'a>, ParseError> {
    let o = xml_options(options);
    let d =
        winmdm_xml::decode(bytes, o.invalid_bytes, &o.limits).map_err(|e| error(e, None, ""))?;
    Ok(Decoded {
        text: d.text,
        fallback_used: d.fallback_used,
    })
}

/// Builds the element tree of `text` within the limits of `options`.
pub(crate) fn build_tree(text: &str, options: &ParseOptions) -> Result<Element, ParseError> {
    winmdm_xml::parse_str(text, &xml_options(options)).map_err(|e| error(e, Some(text.len()), text))
}
