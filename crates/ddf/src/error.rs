//! Errors of the DDF parser.

use winmdm_xml::Position;

/// What went wrong while parsing a DDF document: an error of the XML layer (winmdm-xml's
/// one set of kinds, each [`crate::Limits`] field with its own), or of the DDF model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input could not be decoded or is not well-formed XML, uses an entity other than
    /// the five predefined ones, or exceeds a [`crate::Limits`] field
    /// ([`winmdm_xml::ErrorKind::InputTooLarge`], [`winmdm_xml::ErrorKind::TooDeep`],
    /// [`winmdm_xml::ErrorKind::TooManyElements`],
    /// [`winmdm_xml::ErrorKind::TooManyAttributes`],
    /// [`winmdm_xml::ErrorKind::ValueTooLarge`]).
    #[error("{0}")]
    Xml(winmdm_xml::ErrorKind),
    /// The root element is not `MgmtTree`.
    #[error("root element is <{0}>, expected <MgmtTree>")]
    NotMgmtTree(String),
    /// A required child element is missing.
    #[error("<{parent}> has no <{child}>")]
    Missing {
        /// The element that lacks a child.
        parent: &'static str,
        /// The missing child.
        child: &'static str,
    },
}

impl From<winmdm_xml::ErrorKind> for ErrorKind {
    fn from(kind: winmdm_xml::ErrorKind) -> Self {
        ErrorKind::Xml(kind)
    }
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
