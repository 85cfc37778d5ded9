//! [`CspPath`]: a validated OMA-DM LocURI for a CSP node.

use std::fmt;

use winmdm_types::{LocUri, LocUriError};

/// Why a string is not a valid [`CspPath`] or path segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CspPathError {
    /// The path or segment is empty.
    #[error("empty path")]
    Empty,
    /// The path starts with `/` (LocURIs are `./...` or relative).
    #[error("path must not start with '/'")]
    Absolute,
    /// A segment between slashes is empty (`a//b` or a trailing `/`); the index of the
    /// segment (the leading `.` is segment 0).
    #[error("empty segment at position {0}")]
    EmptySegment(usize),
    /// `.` anywhere but as the first segment, or `..`.
    #[error("segment {0:?} is not allowed")]
    DotSegment(String),
    /// `*` is not a node name.
    #[error("'*' is not a node name")]
    Wildcard,
    /// A character that must be percent-encoded (whitespace, control, `?`, `#`) or a `/`
    /// inside a single segment.
    #[error("character {0:?} must be percent-encoded")]
    BadChar(char),
    /// Any other breach of the `LocURI` rules ([`winmdm_types::LocUri`]): a `%` not
    /// followed by two hex digits or not decoding to UTF-8, a path longer than
    /// [`winmdm_types::MAX_LOCURI_LEN`].
    #[error(transparent)]
    LocUri(LocUriError),
}

/// A validated LocURI of a CSP node, e.g. `./Device/Vendor/MSFT/DMClient/Provider/MDM/EntDMID`.
///
/// The segments are checked by [`winmdm_types::LocUri`]'s rules (MS-MDM, the one LocURI
/// validator of winmdm): not empty, no empty segments, `.` only as the first segment, no
/// `..` or `*` segments, no whitespace, control characters or `#`, percent-escapes well
/// formed, at most [`winmdm_types::MAX_LOCURI_LEN`] bytes. On top of them, what a node path
/// needs differently from a `LocURI` on the wire:
///
/// * no query: `?` is refused ([`CspPathError::BadChar`]), since `?list=Struct` is not
///   part of a node path;
/// * the management root is not checked: `./Device/Vendor/MSFT/...`, `./DevDetail/...` and
///   also roots only a DDF loaded at run time has (the catalog decides which nodes exist);
///   a relative path (`Vendor/MSFT/...`) is accepted, a path starting with `/` is not
///   ([`CspPathError::Absolute`]);
/// * errors name the segment ([`CspPathError::EmptySegment`] is its index,
///   [`CspPathError::DotSegment`] its text) rather than a byte offset.
///
/// Dynamic node names are taken as given: percent-encode them yourself if they contain
/// reserved characters ([`winmdm_types::percent_encode`]).
///
/// ```
/// use winmdm_csp::CspPath;
/// let p = CspPath::try_from("./Device/Vendor/MSFT/Policy/Config/Update").unwrap();
/// let q = p.child("ActiveHoursStart").unwrap();
/// assert_eq!(q.as_str(), "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart");
/// assert!(CspPath::try_from("/Vendor/MSFT").is_err());
/// assert!(p.child("a/b").is_err());
/// assert!(p.child("50%").is_err()); // a bare `%` is not a percent-escape
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CspPath(String);

/// Checks `path` (relative: no leading `./`) with [`LocUri::relative`]'s rules, after the
/// CSP-specific refusal of a query. `base` is the byte offset of `path` in the text the
/// errors describe.
fn check_locuri_rules(text: &str, base: usize) -> Result<(), CspPathError> {
    let path = &text[base..];
    if path.contains('?') {
        return Err(CspPathError::BadChar('?'));
    }
    match LocUri::relative(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(csp_error(text, base, e)),
    }
}

/// The [`CspPathError`] of a [`LocUriError`] at an offset relative to `text[base..]`.
fn csp_error(text: &str, base: usize, e: LocUriError) -> CspPathError {
    let segment_at = |offset: usize| {
        let at = (base + offset).min(text.len());
        let index = text[..at].matches('/').count();
        let segment = text[at..].split('/').next().unwrap_or("");
        (index, segment.to_string())
    };
    match e {
        LocUriError::Empty => CspPathError::Empty,
        // `relative` refuses a leading `/` or `.`: after a leading `./`, that is an empty
        // or a dot segment.
        LocUriError::NotRelative if base == 0 => CspPathError::Absolute,
        LocUriError::NotRelative if text[base..].starts_with('/') => CspPathError::EmptySegment(1),
        LocUriError::NotRelative => CspPathError::DotSegment(".".to_string()),
        LocUriError::EmptySegment(at) => CspPathError::EmptySegment(segment_at(at).0),
        LocUriError::DotSegment(at) => CspPathError::DotSegment(segment_at(at).1),
        LocUriError::Wildcard(_) => CspPathError::Wildcard,
        LocUriError::InvalidChar { ch, .. } => CspPathError::BadChar(ch),
        other => CspPathError::LocUri(other),
    }
}

/// Checks one node name (a segment of a path): [`CspPath`]'s rules for one segment, and
/// no `/`.
pub fn validate_segment(seg: &str) -> Result<(), CspPathError> {
    match seg {
        "" => Err(CspPathError::Empty),
        "." | ".." => Err(CspPathError::DotSegment(seg.to_string())),
        _ if seg.contains('/') => Err(CspPathError::BadChar('/')),
        _ => check_locuri_rules(seg, 0),
    }
}

impl CspPath {
    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// This path with one more segment, validated.
    pub fn child(&self, name: &str) -> Result<CspPath, CspPathError> {
        validate_segment(name)?;
        Ok(self.child_unchecked(name))
    }

    /// Appends a segment known to be valid (names from DDF files, checked by the generator's
    /// tests).
    #[doc(hidden)]
    pub fn child_unchecked(&self, name: &str) -> CspPath {
        let mut s = String::with_capacity(self.0.len() + 1 + name.len());
        s.push_str(&self.0);
        s.push('/');
        s.push_str(name);
        CspPath(s)
    }

    /// A path from a string known to be valid (generated code).
    #[doc(hidden)]
    pub fn from_static(s: &'static str) -> CspPath {
        CspPath(s.to_string())
    }

    /// The segments (the leading `.` included if present).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl TryFrom<&str> for CspPath {
    type Error = CspPathError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        CspPath::try_from(s.to_string())
    }
}

impl TryFrom<String> for CspPath {
    type Error = CspPathError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s == "." || s == "./" {
            return Err(CspPathError::EmptySegment(1));
        }
        let base = if s.starts_with("./") { 2 } else { 0 };
        check_locuri_rules(&s, base)?;
        Ok(CspPath(s))
    }
}

impl fmt::Display for CspPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CspPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<CspPath> for String {
    fn from(p: CspPath) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locuri_rules_apply_and_the_root_is_not_checked() {
        // LocUri's rules: escapes must be well formed and decode to UTF-8.
        assert!(matches!(
            CspPath::try_from("./Vendor/MSFT/%zz"),
            Err(CspPathError::LocUri(LocUriError::BadEscape(_)))
        ));
        assert!(matches!(
            CspPath::try_from("./Vendor/MSFT/%ff"),
            Err(CspPathError::LocUri(LocUriError::BadEscape(_)))
        ));
        assert_eq!(
            CspPath::try_from("./Vendor/MSFT#x"),
            Err(CspPathError::BadChar('#'))
        );
        assert_eq!(
            CspPath::try_from(".//a"),
            Err(CspPathError::EmptySegment(1))
        );
        assert_eq!(
            CspPath::try_from("././a"),
            Err(CspPathError::DotSegment(".".into()))
        );
        assert_eq!(CspPath::try_from("./"), Err(CspPathError::EmptySegment(1)));
        let long = format!("./Vendor/{}", "a".repeat(winmdm_types::MAX_LOCURI_LEN));
        assert_eq!(
            CspPath::try_from(long),
            Err(CspPathError::LocUri(LocUriError::TooLong))
        );
        // CSP-specific: any root (LocUri refuses `./A`), no query.
        assert!(CspPath::try_from("./A/b").is_ok());
        assert!(LocUri::try_from("./A/b").is_err());
        assert_eq!(
            validate_segment("x?list=Struct"),
            Err(CspPathError::BadChar('?'))
        );
        assert!(matches!(
            validate_segment("50%"),
            Err(CspPathError::LocUri(LocUriError::BadEscape(_)))
        ));
        assert!(validate_segment("%7Bguid%7D").is_ok());
    }
}
