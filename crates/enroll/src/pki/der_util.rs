//! The two DER encoders left over from the hand-written walker, which `der`'s readers and
//! derives have replaced in the PKI module: a tag-length-value and a SEQUENCE of
//! already-encoded parts. Only `token::jwt` still uses them (to turn a JWK's `n` and `e`
//! into a PKCS#1 RSAPublicKey); they go when that caller moves to `der` too.

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;

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

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode as _;

    #[test]
    fn long_lengths_decode_with_der() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            let enc = tlv(0x04, &value);
            let back = der::asn1::OctetString::from_der(&enc).unwrap();
            assert_eq!(back.as_bytes(), &value[..]);
        }
    }
}
