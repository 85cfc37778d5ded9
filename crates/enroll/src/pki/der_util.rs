//! A small, tolerant DER walker and the few DER encoders the PKI module needs.
//!
//! The walker only splits tag-length-value triples and reports byte positions; the typed
//! pieces (SubjectPublicKeyInfo, AlgorithmIdentifier, Extension, Certificate) are decoded
//! with the `der`/`x509-cert` types. It exists because the strict `Name` decoder rejects the
//! PrintableString that Windows puts in the CSR subject (`!` and a trailing NUL).

/// One tag-length-value triple inside a larger input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The (single-byte) identifier octet.
    pub(crate) tag: u8,
    /// Byte position of the identifier octet in the whole input.
    pub(crate) offset: usize,
    /// The contents octets.
    pub(crate) value: &'a [u8],
    /// The whole encoding (identifier, length and contents).
    pub(crate) raw: &'a [u8],
}

impl Tlv<'_> {
    /// Byte position of the first contents octet in the whole input.
    pub(crate) fn value_offset(&self) -> usize {
        self.offset + (self.raw.len() - self.value.len())
    }
}

/// Why the walker stopped: a short description and the byte position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerFault {
    pub(crate) position: usize,
    pub(crate) what: &'static str,
}

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;

/// Reads one TLV from `input`, whose first byte sits at `base` in the whole input.
/// Returns the TLV and the rest of `input`.
pub(crate) fn read_tlv(input: &[u8], base: usize) -> Result<(Tlv<'_>, &[u8]), DerFault> {
    let fault = |at: usize, what| DerFault {
        position: base + at,
        what,
    };
    let tag = *input.first().ok_or(fault(0, "unexpected end of input"))?;
    if tag & 0x1f == 0x1f {
        return Err(fault(0, "multi-byte tags are not supported"));
    }
    let first = *input.get(1).ok_or(fault(1, "unexpected end of input"))?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else if first == 0x80 {
        return Err(fault(1, "indefinite length is not DER"));
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(fault(1, "length field too long"));
        }
        let bytes = input
            .get(2..2 + n)
            .ok_or(fault(2, "unexpected end of input"))?;
        if bytes[0] == 0 {
            return Err(fault(2, "non-minimal length encoding"));
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err(fault(1, "non-minimal length encoding"));
        }
        (len, 2 + n)
    };
    let end = header
        .checked_add(len)
        .ok_or(fault(1, "length overflows"))?;
    if end > input.len() {
        return Err(fault(1, "length runs past the end of the input"));
    }
    let tlv = Tlv {
        tag,
        offset: base,
        value: &input[header..end],
        raw: &input[..end],
    };
    Ok((tlv, &input[end..]))
}

/// Iterates over the TLVs inside a constructed value.
pub(crate) fn children<'a>(parent: &Tlv<'a>) -> Children<'a> {
    Children {
        rest: parent.value,
        pos: parent.value_offset(),
        failed: false,
    }
}

/// Iterator returned by [`children`].
pub(crate) struct Children<'a> {
    rest: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, DerFault>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match read_tlv(self.rest, self.pos) {
            Ok((tlv, rest)) => {
                self.pos += tlv.raw.len();
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Encodes one TLV with a definite, minimal length.
pub(crate) fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// Encodes a SEQUENCE of already-encoded parts.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// Uppercase hexadecimal.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_long_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            let enc = tlv(TAG_OCTET_STRING, &value);
            let (t, rest) = read_tlv(&enc, 0).unwrap();
            assert!(rest.is_empty());
            assert_eq!(t.value.len(), len);
            assert_eq!(t.raw, &enc[..]);
        }
    }

    #[test]
    fn rejects_indefinite_and_truncated() {
        assert_eq!(read_tlv(&[0x30, 0x80, 0, 0], 5).unwrap_err().position, 6);
        assert!(read_tlv(&[0x30, 0x05, 1], 0).is_err());
        assert!(read_tlv(&[0x30, 0x81, 0x05], 0).is_err());
        assert!(read_tlv(&[0x1f, 0x01, 0x00], 0).is_err());
        assert!(read_tlv(&[], 0).is_err());
    }
}
