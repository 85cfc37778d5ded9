//! [`CspPath`]: a validated OMA-DM LocURI for a CSP node.

use std::fmt;

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
    /// A segment between slashes is empty (`a//b` or a trailing `/`).
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
}

/// A validated LocURI of a CSP node, e.g. `./Device/Vendor/MSFT/DMClient/Provider/MDM/EntDMID`.
///
/// Rules (OMA-DM 1.2 and MS-MDM, see `docs/csp.md`): not empty, does not start with `/`, no
/// empty segments, `.` only as the first segment, no `..` or `*` segments, no whitespace,
/// control characters, `?` or `#` (a query such as `?list=Struct` is not part of a node path).
/// Relative paths (`Vendor/MSFT/...`) are accepted. Dynamic node names are taken as given:
/// percent-encode them yourself if they contain reserved characters.
///
/// ```
/// use winmdm_csp::CspPath;
/// let p = CspPath::try_from("./Device/Vendor/MSFT/Policy/Config/Update").unwrap();
/// let q = p.child("ActiveHoursStart").unwrap();
/// assert_eq!(q.as_str(), "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart");
/// assert!(CspPath::try_from("/Vendor/MSFT").is_err());
/// assert!(p.child("a/b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CspPath(String);

fn check_chars(s: &str, allow_slash: bool) -> Result<(), CspPathError> {
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() || c == '?' || c == '#' || (!allow_slash && c == '/')
        {
            return Err(CspPathError::BadChar(c));
        }
    }
    Ok(())
}

/// Checks one node name (a segment of a path).
pub fn validate_segment(seg: &str) -> Result<(), CspPathError> {
    match seg {
        "" => Err(CspPathError::Empty),
        "." | ".." => Err(CspPathError::DotSegment(seg.to_string())),
        "*" => Err(CspPathError::Wildcard),
        _ => check_chars(seg, false),
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
        if s.is_empty() {
            return Err(CspPathError::Empty);
        }
        if s.starts_with('/') {
            return Err(CspPathError::Absolute);
        }
        check_chars(&s, true)?;
        for (i, seg) in s.split('/').enumerate() {
            match seg {
                "" => return Err(CspPathError::EmptySegment(i)),
                "." if i == 0 => {}
                "." | ".." => return Err(CspPathError::DotSegment(seg.to_string())),
                "*" => return Err(CspPathError::Wildcard),
                _ => {}
            }
        }
        if s == "." {
            return Err(CspPathError::EmptySegment(1));
        }
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
