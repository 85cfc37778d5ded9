//! Base64 as Windows sends it: the standard alphabet with padding, line breaks and other
//! ASCII whitespace allowed anywhere (multi-line CSRs and certificates in
//! BinarySecurityTokens, wrapped `b64` node values), with a bound on the decoded size.

use ::base64::Engine as _;
use ::base64::engine::general_purpose::STANDARD;

/// Why text is not acceptable base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// The text would decode to more than the allowed number of bytes.
    #[error("base64 text of {len} bytes decodes to more than the limit of {max} bytes")]
    TooLong {
        /// Length of the text in bytes.
        len: usize,
        /// The limit on the decoded size.
        max: usize,
    },
    /// Not standard base64 (after removing whitespace).
    #[error("invalid base64")]
    Invalid(#[source] ::base64::DecodeError),
}

/// Decodes standard base64 that may contain ASCII whitespace anywhere, refusing text that
/// would decode to more than `max` bytes before decoding it.
///
/// ```
/// use winmdm_types::base64::{decode_lenient, Base64Error};
/// assert_eq!(decode_lenient("aGVs\r\nbG8=", 64)?, b"hello");
/// assert!(matches!(decode_lenient("aGVsbG8=", 3), Err(Base64Error::TooLong { .. })));
/// assert!(matches!(decode_lenient("a!==", 64), Err(Base64Error::Invalid(_))));
/// # Ok::<(), Base64Error>(())
/// ```
pub fn decode_lenient(text: &str, max: usize) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    let whitespace = bytes.iter().filter(|b| b.is_ascii_whitespace()).count();
    let significant = bytes.len() - whitespace;
    if significant / 4 * 3 > max.saturating_add(3) {
        return Err(Base64Error::TooLong {
            len: bytes.len(),
            max,
        });
    }
    let out = if whitespace == 0 {
        STANDARD.decode(bytes)
    } else {
        let compact: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        STANDARD.decode(compact)
    }
    .map_err(Base64Error::Invalid)?;
    if out.len() > max {
        return Err(Base64Error::TooLong {
            len: bytes.len(),
            max,
        });
    }
    Ok(out)
}

/// Encodes bytes as standard base64 with padding, on one line.
///
/// ```
/// assert_eq!(winmdm_types::base64::encode(b"hello"), "aGVsbG8=");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_anywhere() {
        let wrapped = "TUlJ\nQ2lq\r\n Q0NB\tWWln\n";
        assert_eq!(
            decode_lenient(wrapped, 1024).unwrap(),
            decode_lenient("TUlJQ2lqQ0NBWWln", 1024).unwrap()
        );
        assert_eq!(decode_lenient("", 0).unwrap(), b"");
        assert_eq!(decode_lenient(" \n ", 0).unwrap(), b"");
    }

    #[test]
    fn limit_is_exact() {
        // "hello" is 5 bytes: allowed at 5, refused at 4 (after decoding: the quick check
        // on the text's length is an upper bound).
        assert_eq!(decode_lenient("aGVsbG8=", 5).unwrap(), b"hello");
        assert!(matches!(
            decode_lenient("aGVsbG8=", 4),
            Err(Base64Error::TooLong { max: 4, .. })
        ));
        // A huge text is refused before any allocation proportional to it.
        let big = "A".repeat(1 << 20);
        assert!(matches!(
            decode_lenient(&big, 1000),
            Err(Base64Error::TooLong { .. })
        ));
    }

    #[test]
    fn invalid() {
        assert!(matches!(
            decode_lenient("abc", 10),
            Err(Base64Error::Invalid(_))
        ));
        assert!(matches!(
            decode_lenient("ab$=", 10),
            Err(Base64Error::Invalid(_))
        ));
    }
}
