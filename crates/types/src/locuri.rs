//! Validated OMA-DM node addresses (`LocURI`s), MS-MDM rules.

use std::borrow::Cow;
use std::fmt;

/// The longest `LocURI` accepted, in bytes.
pub const MAX_LOCURI_LEN: usize = 4096;

/// Why a string is not a valid [`LocUri`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocUriError {
    /// The string is empty.
    #[error("empty LocURI")]
    Empty,
    /// Longer than [`MAX_LOCURI_LEN`].
    #[error("LocURI longer than {MAX_LOCURI_LEN} bytes")]
    TooLong,
    /// An absolute URI that does not start with `./`.
    #[error("LocURI must start with \"./\"")]
    MissingDotSlash,
    /// A relative URI that starts with `/` or `./`.
    #[error("relative LocURI must not start with \"/\" or \"./\"")]
    NotRelative,
    /// The first segment after `./` is not a known management root.
    #[error("unknown management root {0:?}")]
    UnknownRoot(String),
    /// `./Device` or `./User` not followed by `Vendor/MSFT` (or `cimv2`).
    #[error("scope must be followed by Vendor/MSFT")]
    BadScope,
    /// An empty segment (`a//b`, trailing `/`).
    #[error("empty segment at byte {0}")]
    EmptySegment(usize),
    /// A `.` segment anywhere but first, or a `..` segment.
    #[error("dot segment at byte {0}")]
    DotSegment(usize),
    /// A `*` segment.
    #[error("wildcard segment at byte {0}")]
    Wildcard(usize),
    /// A character that must be percent-encoded (space, control, `#`).
    #[error("character {ch:?} at byte {at} must be percent-encoded")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// A `%` not followed by two hex digits, or an escape that does not decode to UTF-8.
    #[error("invalid percent-encoding at byte {0}")]
    BadEscape(usize),
    /// A query other than `?list=...` or `?prop=...`.
    #[error("unsupported query {0:?}")]
    BadQuery(String),
}

/// Where an absolute `LocURI` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Root {
    /// `./Device/Vendor/MSFT/...` (device scope).
    Device,
    /// `./User/Vendor/MSFT/...` (user scope).
    User,
    /// `./Vendor/MSFT/...` (legacy, device-targeted).
    Vendor,
    /// `./DevDetail/...`
    DevDetail,
    /// `./DevInfo/...`
    DevInfo,
    /// `./SyncML/DMAcc/...`
    SyncMl,
    /// `./cimv2/...` (WMI bridge).
    Cimv2,
}

/// A query suffix of a `LocURI`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Query<'a> {
    /// `?list=StructData` (or another list kind, kept as written).
    List(Cow<'a, str>),
    /// `?prop=Type` (or another property name).
    Prop(Cow<'a, str>),
}

/// A validated `LocURI`: absolute (`./Device/Vendor/MSFT/...`) or, through
/// [`LocUri::relative`], relative (`Vendor/MSFT/...`, allowed in `Results` sources).
///
/// Built with `TryFrom<&str>` / `TryFrom<String>`. The text is kept exactly as given
/// (percent-escapes included); [`LocUri::segments`] decodes them. The scope prefixes
/// `./Device`, `./User` are matched case-insensitively (Microsoft documents both).
///
/// ```
/// use winmdm_types::{LocUri, Root};
/// let u = LocUri::try_from("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera")?;
/// assert_eq!(u.root(), Some(Root::Device));
/// assert!(LocUri::try_from("./Device/Vendor//MSFT").is_err());
/// let g = LocUri::try_from("./Vendor/MSFT/Update/ApprovedUpdates/%7bA1B2%7d?list=StructData")?;
/// assert_eq!(g.segments().last().unwrap(), "{A1B2}");
/// # Ok::<(), winmdm_types::LocUriError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LocUri<'a> {
    raw: Cow<'a, str>,
    relative: bool,
}

impl fmt::Debug for LocUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocUri({:?})", self.raw)
    }
}

impl fmt::Display for LocUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn check_segments(path: &str, base: usize, dot_first: bool) -> Result<(), LocUriError> {
    let mut pos = base;
    for (i, seg) in path.split('/').enumerate() {
        if seg.is_empty() {
            return Err(LocUriError::EmptySegment(pos));
        }
        if seg == ".." || (seg == "." && !(i == 0 && dot_first)) {
            return Err(LocUriError::DotSegment(pos));
        }
        if seg == "*" {
            return Err(LocUriError::Wildcard(pos));
        }
        let b = seg.as_bytes();
        let mut j = 0;
        while j < b.len() {
            if b[j] == b'%' {
                let ok =
                    j + 2 < b.len() && b[j + 1].is_ascii_hexdigit() && b[j + 2].is_ascii_hexdigit();
                if !ok {
                    return Err(LocUriError::BadEscape(pos + j));
                }
                j += 3;
                continue;
            }
            j += 1;
        }
        for (k, ch) in seg.char_indices() {
            if ch.is_whitespace() || ch.is_control() || ch == '#' || ch == '?' {
                return Err(LocUriError::InvalidChar { ch, at: pos + k });
            }
        }
        if percent_decode(seg).is_none() {
            return Err(LocUriError::BadEscape(pos));
        }
        pos += seg.len() + 1;
    }
    Ok(())
}

/// Decodes `%XX` escapes; `None` if the result is not UTF-8 or an escape is malformed.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Percent-encodes a node name: keeps unreserved characters (`A-Z a-z 0-9 - . _ ~`) and
/// escapes everything else (UTF-8 bytes).
pub fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.find('?') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

fn check_query(q: Option<&str>) -> Result<(), LocUriError> {
    let Some(q) = q else { return Ok(()) };
    let ok = match q.split_once('=') {
        Some(("list" | "prop", v)) => {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(LocUriError::BadQuery(q.to_owned()))
    }
}

fn root_of(seg: &str) -> Option<Root> {
    let r = match seg.to_ascii_lowercase().as_str() {
        "device" => Root::Device,
        "user" => Root::User,
        "vendor" => Root::Vendor,
        "devdetail" => Root::DevDetail,
        "devinfo" => Root::DevInfo,
        "syncml" => Root::SyncMl,
        "cimv2" => Root::Cimv2,
        _ => return None,
    };
    Some(r)
}

impl<'a> LocUri<'a> {
    fn validate_absolute(s: &str) -> Result<(), LocUriError> {
        if s.is_empty() {
            return Err(LocUriError::Empty);
        }
        if s.len() > MAX_LOCURI_LEN {
            return Err(LocUriError::TooLong);
        }
        if !s.starts_with("./") {
            return Err(LocUriError::MissingDotSlash);
        }
        let (path, query) = split_query(s);
        check_segments(path, 0, true)?;
        check_query(query)?;
        let segs: Vec<&str> = path.split('/').collect();
        let root = segs.get(1).copied().ok_or(LocUriError::MissingDotSlash)?;
        let r = root_of(root).ok_or_else(|| LocUriError::UnknownRoot(root.to_owned()))?;
        match r {
            Root::Device | Root::User => {
                let next = segs.get(2).map(|s| s.to_ascii_lowercase());
                let ok = match next.as_deref() {
                    Some("vendor") => segs.get(3).is_some_and(|s| s.eq_ignore_ascii_case("MSFT")),
                    Some("cimv2") => true,
                    _ => false,
                };
                if !ok {
                    return Err(LocUriError::BadScope);
                }
            }
            Root::Vendor if !segs.get(2).is_some_and(|s| s.eq_ignore_ascii_case("MSFT")) => {
                return Err(LocUriError::BadScope);
            }
            Root::SyncMl if segs.get(2).is_none_or(|s| *s != "DMAcc") => {
                return Err(LocUriError::UnknownRoot(path.to_owned()));
            }
            _ => {}
        }
        Ok(())
    }

    fn validate_relative(s: &str) -> Result<(), LocUriError> {
        if s.is_empty() {
            return Err(LocUriError::Empty);
        }
        if s.len() > MAX_LOCURI_LEN {
            return Err(LocUriError::TooLong);
        }
        if s.starts_with('/') || s.starts_with("./") || s == "." {
            return Err(LocUriError::NotRelative);
        }
        let (path, query) = split_query(s);
        check_segments(path, 0, false)?;
        check_query(query)
    }

    /// A relative `LocURI` (no `./`), as `Results` items may carry in their `Source`.
    pub fn relative(s: impl Into<Cow<'a, str>>) -> Result<Self, LocUriError> {
        let raw = s.into();
        Self::validate_relative(&raw)?;
        Ok(LocUri {
            raw,
            relative: true,
        })
    }

    /// Either form: absolute when it starts with `./`, relative otherwise.
    pub fn absolute_or_relative(s: impl Into<Cow<'a, str>>) -> Result<Self, LocUriError> {
        let raw = s.into();
        if raw.starts_with("./") {
            Self::validate_absolute(&raw)?;
            Ok(LocUri {
                raw,
                relative: false,
            })
        } else {
            Self::relative(raw)
        }
    }

    /// The URI as written (escapes and query included).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether this is a relative URI.
    pub fn is_relative(&self) -> bool {
        self.relative
    }

    /// The management root, `None` for relative URIs.
    pub fn root(&self) -> Option<Root> {
        if self.relative {
            return None;
        }
        self.path().split('/').nth(1).and_then(root_of)
    }

    /// The URI without its query.
    pub fn path(&self) -> &str {
        split_query(&self.raw).0
    }

    /// The query suffix, if any.
    pub fn query(&self) -> Option<Query<'_>> {
        let (k, v) = split_query(&self.raw).1?.split_once('=')?;
        Some(match k {
            "list" => Query::List(Cow::Borrowed(v)),
            _ => Query::Prop(Cow::Borrowed(v)),
        })
    }

    /// The node names after `.` (for absolute URIs), percent-decoded.
    pub fn segments(&self) -> Vec<Cow<'_, str>> {
        self.path()
            .split('/')
            .skip(usize::from(!self.relative))
            .map(|s| percent_decode(s).unwrap_or(Cow::Borrowed(s)))
            .collect()
    }

    /// A child node: `self/name`, with `name` percent-encoded. The query is dropped.
    pub fn join(&self, name: &str) -> Result<LocUri<'static>, LocUriError> {
        let s = format!("{}/{}", self.path(), percent_encode(name));
        if self.relative {
            LocUri::relative(s)
        } else {
            LocUri::try_from(s)
        }
    }

    /// The same URI with a query suffix (replacing any present).
    pub fn with_query(&self, q: &Query<'_>) -> Result<LocUri<'static>, LocUriError> {
        let s = match q {
            Query::List(v) => format!("{}?list={v}", self.path()),
            Query::Prop(v) => format!("{}?prop={v}", self.path()),
        };
        LocUri::absolute_or_relative(s).map(LocUri::into_owned)
    }

    /// Detaches the URI from the text it borrows.
    pub fn into_owned(self) -> LocUri<'static> {
        LocUri {
            raw: Cow::Owned(self.raw.into_owned()),
            relative: self.relative,
        }
    }
}

impl<'a> TryFrom<&'a str> for LocUri<'a> {
    type Error = LocUriError;
    fn try_from(s: &'a str) -> Result<Self, Self::Error> {
        LocUri::validate_absolute(s)?;
        Ok(LocUri {
            raw: Cow::Borrowed(s),
            relative: false,
        })
    }
}

impl TryFrom<String> for LocUri<'static> {
    type Error = LocUriError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        LocUri::validate_absolute(&s)?;
        Ok(LocUri {
            raw: Cow::Owned(s),
            relative: false,
        })
    }
}

impl AsRef<str> for LocUri<'_> {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_forms() {
        for s in [
            "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera",
            "./User/Vendor/MSFT/EnterpriseModernAppManagement/AppStore/PFN?list=StructData",
            "./user/Vendor/MSFT/DMClient",
            "./Vendor/MSFT/DMClient/Provider/MDM/Unenroll",
            "./DevDetail",
            "./DevDetail/Ext/Microsoft/DeviceName",
            "./DevInfo",
            "./DevInfo/DmV",
            "./SyncML/DMAcc/x/AppAuth",
            "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement?prop=Type",
            "./Vendor/MSFT/Update/ApprovedUpdates/%7ba317dd4a%7d",
            "./cimv2/Win32_Battery/Win32_Battery.DeviceID=%22x%22/Status",
            "./Device/Vendor/MSFT/Node.With.Dots",
        ] {
            let u = LocUri::try_from(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(u.as_str(), s);
            assert!(!u.is_relative());
        }
    }

    #[test]
    fn rejects_invalid_forms() {
        use LocUriError as E;
        type Check = fn(&LocUriError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| *e == E::Empty),
            ("Device/Vendor/MSFT", |e| *e == E::MissingDotSlash),
            ("/Device/Vendor/MSFT", |e| *e == E::MissingDotSlash),
            ("./Device/Vendor//MSFT", |e| matches!(e, E::EmptySegment(_))),
            ("./Device/Vendor/MSFT/", |e| matches!(e, E::EmptySegment(_))),
            ("./Device/Vendor/MSFT/../x", |e| {
                matches!(e, E::DotSegment(_))
            }),
            ("./Device/./Vendor/MSFT", |e| matches!(e, E::DotSegment(_))),
            ("./Device/Vendor/MSFT/*", |e| matches!(e, E::Wildcard(_))),
            ("./ DevDetail/HwV", |e| {
                matches!(e, E::InvalidChar { .. } | E::UnknownRoot(_))
            }),
            ("./DevDetail/a b", |e| {
                matches!(e, E::InvalidChar { ch: ' ', .. })
            }),
            ("./DevDetail/%zz", |e| matches!(e, E::BadEscape(_))),
            ("./DevDetail/%ff", |e| matches!(e, E::BadEscape(_))),
            ("./DevDetail/%4", |e| matches!(e, E::BadEscape(_))),
            ("./Device/Policy", |e| *e == E::BadScope),
            ("./Foo/Bar", |e| matches!(e, E::UnknownRoot(_))),
            ("./SyncML/Other", |e| matches!(e, E::UnknownRoot(_))),
            ("./DevDetail?foo=bar", |e| matches!(e, E::BadQuery(_))),
            ("./DevDetail?list=", |e| matches!(e, E::BadQuery(_))),
        ];
        for (s, ok) in cases {
            let e = LocUri::try_from(*s).expect_err(s);
            assert!(ok(&e), "{s}: unexpected {e:?}");
        }
        let long = format!("./DevDetail/{}", "a".repeat(MAX_LOCURI_LEN));
        assert_eq!(LocUri::try_from(long).unwrap_err(), E::TooLong);
    }

    #[test]
    fn queries_segments_and_join() {
        let u = LocUri::try_from("./Vendor/MSFT/A%20B/%E2%82%AC?list=StructData").unwrap();
        assert_eq!(u.query(), Some(Query::List("StructData".into())));
        assert_eq!(u.path(), "./Vendor/MSFT/A%20B/%E2%82%AC");
        assert_eq!(u.segments(), vec!["Vendor", "MSFT", "A B", "€"]);
        let p = LocUri::try_from("./DevDetail?prop=Type").unwrap();
        assert_eq!(p.query(), Some(Query::Prop("Type".into())));
        let j = u.join("{x y}").unwrap();
        assert_eq!(j.as_str(), "./Vendor/MSFT/A%20B/%E2%82%AC/%7Bx%20y%7D");
        assert_eq!(j.segments().last().unwrap(), "{x y}");
        let q = j.with_query(&Query::Prop("Format".into())).unwrap();
        assert_eq!(
            q.as_str(),
            "./Vendor/MSFT/A%20B/%E2%82%AC/%7Bx%20y%7D?prop=Format"
        );
    }

    #[test]
    fn relative_uris_are_a_separate_constructor() {
        assert!(LocUri::try_from("Vendor/MSFT/DMClient").is_err());
        let r = LocUri::relative("Vendor/MSFT/DMClient").unwrap();
        assert!(r.is_relative());
        assert_eq!(r.root(), None);
        assert_eq!(r.segments(), vec!["Vendor", "MSFT", "DMClient"]);
        assert_eq!(
            LocUri::relative("./x").unwrap_err(),
            LocUriError::NotRelative
        );
        assert_eq!(
            LocUri::relative("/x").unwrap_err(),
            LocUriError::NotRelative
        );
        assert!(matches!(
            LocUri::relative("a/../b"),
            Err(LocUriError::DotSegment(_))
        ));
        assert!(matches!(
            LocUri::relative("a/./b"),
            Err(LocUriError::DotSegment(_))
        ));
        assert!(LocUri::absolute_or_relative("./DevInfo/Lang").is_ok_and(|u| !u.is_relative()));
    }
}
