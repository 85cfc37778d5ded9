//! The data format of a node value: `Meta/Format` on the wire, `DFFormat` in a DDF.

use std::borrow::Cow;
use std::fmt;

/// A node's data format, as OMA-DM names it in `Meta/Format` and DDFs name it in
/// `DFFormat`. Open: a format this crate does not know is kept as written in
/// [`Format::Other`], so a message or a DDF that uses it round-trips.
///
/// ```
/// use winmdm_types::Format;
/// assert_eq!(Format::parse(" int "), Format::Int);
/// assert_eq!(Format::parse("x-custom").as_str(), "x-custom");
/// assert_eq!(Format::B64.to_string(), "b64");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Format {
    /// `chr`: text.
    Chr,
    /// `int`: a signed integer.
    Int,
    /// `bool`: `true` / `false`.
    Bool,
    /// `b64`: base64 binary.
    B64,
    /// `xml`: an XML document or fragment.
    Xml,
    /// `node`: an interior node.
    Node,
    /// `null`: no value (`Exec` and `Get` only).
    Null,
    /// `bin`: binary (carried base64 encoded in XML messages).
    Bin,
    /// `float`: a floating point number.
    Float,
    /// `date`: an ISO 8601 date (`YYYY-MM-DD`).
    Date,
    /// `time`: an ISO 8601 time (`hh:mm:ss`, optional fraction and zone).
    Time,
    /// Any other format, as written (empty when a DDF gives none). Borrowed from a
    /// `static` in generated tables, owned when read from input.
    Other(Cow<'static, str>),
}

impl Format {
    /// Every format this crate knows, in the order of the enum.
    pub const KNOWN: [Format; 11] = [
        Format::Chr,
        Format::Int,
        Format::Bool,
        Format::B64,
        Format::Xml,
        Format::Node,
        Format::Null,
        Format::Bin,
        Format::Float,
        Format::Date,
        Format::Time,
    ];

    /// The wire name (`chr`, `int`, ...; an [`Format::Other`] as written).
    pub fn as_str(&self) -> &str {
        match self {
            Format::Chr => "chr",
            Format::Int => "int",
            Format::Bool => "bool",
            Format::B64 => "b64",
            Format::Xml => "xml",
            Format::Node => "node",
            Format::Null => "null",
            Format::Bin => "bin",
            Format::Float => "float",
            Format::Date => "date",
            Format::Time => "time",
            Format::Other(s) => s,
        }
    }

    /// Reads a wire or DDF name. Surrounding whitespace is ignored (pretty-printed
    /// messages and DDFs carry it); the name is case-sensitive, as in OMA-DM.
    pub fn parse(s: &str) -> Format {
        let s = s.trim();
        Format::KNOWN
            .into_iter()
            .find(|f| f.as_str() == s)
            .unwrap_or_else(|| Format::Other(Cow::Owned(s.to_owned())))
    }

    /// True for [`Format::Other`]: a format this crate does not know.
    pub fn is_other(&self) -> bool {
        matches!(self, Format::Other(_))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Format {
    fn from(s: &str) -> Self {
        Format::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for f in Format::KNOWN {
            assert_eq!(Format::parse(f.as_str()), f);
            assert!(!Format::parse(f.as_str()).is_other());
        }
        assert_eq!(Format::parse("\n  chr\t"), Format::Chr);
    }

    #[test]
    fn unknown_names_are_kept() {
        assert_eq!(Format::parse("x-custom"), Format::Other("x-custom".into()));
        assert_eq!(Format::parse("CHR"), Format::Other("CHR".into()));
        assert_eq!(Format::parse(""), Format::Other("".into()));
        assert_eq!(Format::parse(" x ").as_str(), "x");
    }
}
