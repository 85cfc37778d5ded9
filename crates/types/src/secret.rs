//! Secrets (passwords, tokens) and the constant-time comparison that checks them.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// A string that must not appear in logs: `Debug` prints only its length and, with the
/// `serde` feature, it serializes as `"<redacted>"`. Used for enrollment passwords,
/// DMAcc credentials and Entra user tokens.
///
/// ```
/// use winmdm_types::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted, 7 bytes>)");
/// assert!(s.matches(b"hunter2"));
/// assert!(!s.matches(b"hunter3"));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for authentication code.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares the secret with `candidate` in time that depends only on the lengths
    /// ([`constant_time_eq`]).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted, {} bytes>)", self.0.len())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// Compares two byte strings in time that depends only on their lengths (passwords,
/// digests, tokens), with the `subtle` crate. Unequal lengths compare unequal at once:
/// the length of a secret is not protected.
///
/// ```
/// assert!(winmdm_types::constant_time_eq(b"abc", b"abc"));
/// assert!(!winmdm_types::constant_time_eq(b"abc", b"abd"));
/// assert!(!winmdm_types::constant_time_eq(b"abc", b"ab"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("eyJ0eXAi.secret");
        let d = format!("{s:?}");
        assert_eq!(d, "Secret(<redacted, 15 bytes>)");
        assert_eq!(s.expose(), "eyJ0eXAi.secret");
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
        assert!(Secret::default().matches(b""));
        assert!(!Secret::new("x").matches(b"X"));
    }
}
