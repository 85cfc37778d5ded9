//! Input decoding: byte order marks, UTF-16, the encoding declaration, and Windows-1252
//! (legacy DDF files).

use std::borrow::Cow;

use crate::{Error, ErrorKind, Limits};

/// What to do with bytes that are not valid in the input's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InvalidBytes {
    /// Fail with [`ErrorKind::InvalidEncoding`] (the default).
    #[default]
    Error,
    /// Replace each invalid byte with U+FFFD.
    Replace,
    /// Read each invalid byte as Windows-1252 (files saved by old editors in the
    /// "ANSI" code page while declaring UTF-8).
    Windows1252,
}

/// The encoding an input was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8 (with or without a byte order mark), or US-ASCII.
    Utf8,
    /// UTF-16 little-endian (after its byte order mark).
    Utf16Le,
    /// UTF-16 big-endian (after its byte order mark).
    Utf16Be,
    /// Windows-1252 (also used for a declared ISO-8859-1).
    Windows1252,
}

/// The input as UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decoded<'a> {
    /// The text, without a byte order mark (borrowed when the input was UTF-8).
    pub text: Cow<'a, str>,
    /// Length in bytes of the byte order mark that was skipped (0, 2 or 3).
    pub bom_len: usize,
    /// The encoding read.
    pub encoding: Encoding,
    /// True if [`InvalidBytes::Replace`] or [`InvalidBytes::Windows1252`] replaced bytes.
    pub fallback_used: bool,
}

const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// Maps one Windows-1252 byte to its character (undefined bytes map to the C1 control of
/// the same value, as the WHATWG encoding standard does).
pub fn windows_1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

fn declared_encoding(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&bytes[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let rest = &rest[1..];
    let close = rest.find(quote)?;
    Some(rest[..close].to_string())
}

fn invalid(encoding: &str, bytes: &[u8], offset: usize) -> Error {
    Error::at_byte(
        ErrorKind::InvalidEncoding {
            encoding: encoding.to_string(),
            byte: bytes[offset],
        },
        bytes,
        offset,
    )
}

/// `bytes` is the whole input, `start` where the UTF-16 text begins (after the BOM).
fn decode_utf16(bytes: &[u8], start: usize, little: bool) -> Result<String, Error> {
    let body = &bytes[start..];
    if body.len() & 1 != 0 {
        return Err(invalid("UTF-16", bytes, bytes.len() - 1));
    }
    let units = body.chunks_exact(2).map(|c| {
        if little {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    let mut out = String::with_capacity(body.len() / 2);
    let mut at = start;
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => {
                out.push(c);
                at += c.len_utf16() * 2;
            }
            Err(_) => return Err(invalid("UTF-16", bytes, at)),
        }
    }
    Ok(out)
}

/// UTF-8 from `bytes[start..]`, invalid bytes handled per `mode`.
fn decode_utf8_from(
    bytes: &[u8],
    start: usize,
    mode: InvalidBytes,
) -> Result<(Cow<'_, str>, bool), Error> {
    let body = &bytes[start..];
    let e = match std::str::from_utf8(body) {
        Ok(s) => return Ok((Cow::Borrowed(s), false)),
        Err(e) => e,
    };
    if mode == InvalidBytes::Error {
        return Err(invalid("UTF-8", bytes, start + e.valid_up_to()));
    }
    let mut out = String::with_capacity(body.len() + 16);
    for chunk in body.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            match mode {
                InvalidBytes::Windows1252 => out.push(windows_1252_char(b)),
                _ => out.push('\u{FFFD}'),
            }
        }
    }
    Ok((Cow::Owned(out), true))
}

fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), Error> {
    if bytes.len() > limits.max_input_bytes {
        return Err(Error::at_byte(
            ErrorKind::InputTooLarge {
                size: bytes.len(),
                limit: limits.max_input_bytes,
            },
            bytes,
            0,
        ));
    }
    Ok(())
}

/// Reads `bytes` as UTF-8 only: an optional UTF-8 byte order mark, then strict UTF-8
/// (SOAP messages, ADMX files). Fails with [`ErrorKind::InputTooLarge`] above
/// [`Limits::max_input_bytes`] and [`ErrorKind::InvalidEncoding`] at the first invalid byte.
pub fn decode_utf8<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Decoded<'a>, Error> {
    check_size(bytes, limits)?;
    let bom_len = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let (text, _) = decode_utf8_from(bytes, bom_len, InvalidBytes::Error)?;
    Ok(Decoded {
        text,
        bom_len,
        encoding: Encoding::Utf8,
        fallback_used: false,
    })
}

/// Reads `bytes` in its encoding: a byte order mark (UTF-8, UTF-16 LE/BE) wins, else the
/// XML declaration's `encoding` (UTF-8, Windows-1252, ISO-8859-1 read as Windows-1252,
/// US-ASCII), else UTF-8; `invalid` says what to do with bytes invalid in that encoding
/// (UTF-8 and US-ASCII only).
pub fn decode<'a>(
    bytes: &'a [u8],
    invalid_bytes: InvalidBytes,
    limits: &Limits,
) -> Result<Decoded<'a>, Error> {
    check_size(bytes, limits)?;
    let utf8 = |start: usize| {
        decode_utf8_from(bytes, start, invalid_bytes).map(|(text, fallback_used)| Decoded {
            text,
            bom_len: start,
            encoding: Encoding::Utf8,
            fallback_used,
        })
    };
    let utf16 = |little: bool| {
        decode_utf16(bytes, 2, little).map(|t| Decoded {
            text: Cow::Owned(t),
            bom_len: 2,
            encoding: if little {
                Encoding::Utf16Le
            } else {
                Encoding::Utf16Be
            },
            fallback_used: false,
        })
    };
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return utf8(3);
    }
    if bytes.starts_with(b"\xFF\xFE") {
        return utf16(true);
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return utf16(false);
    }
    let declared = declared_encoding(bytes).unwrap_or_else(|| "UTF-8".to_string());
    match declared.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => utf8(0),
        "windows-1252" | "cp1252" | "iso-8859-1" | "latin1" | "iso8859-1" => Ok(Decoded {
            text: Cow::Owned(bytes.iter().map(|&b| windows_1252_char(b)).collect()),
            bom_len: 0,
            encoding: Encoding::Windows1252,
            fallback_used: false,
        }),
        "us-ascii" | "ascii" => match bytes.iter().position(|b| !b.is_ascii()) {
            Some(at) if invalid_bytes == InvalidBytes::Error => Err(invalid(&declared, bytes, at)),
            _ => utf8(0),
        },
        _ => Err(Error::at_byte(
            ErrorKind::UnsupportedEncoding(declared),
            bytes,
            0,
        )),
    }
}
