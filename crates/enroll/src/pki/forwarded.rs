//! A client certificate forwarded by a TLS-terminating proxy in an HTTP header.

/// Reads the client certificate a proxy forwards in a header: PEM, PEM URL-encoded (as
/// nginx's `$ssl_client_escaped_cert` and Envoy's `x-forwarded-client-cert` `Cert=`
/// value write it), or base64 DER. `None` when it is none of these. Believe such a
/// header only on connections from a proxy you trust.
///
/// ```
/// use winmdm_enroll::pki::forwarded_certificate;
/// let der = [0x30u8, 0x03, 0x02, 0x01, 0x01];
/// let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
/// assert_eq!(forwarded_certificate(pem).as_deref(), Some(&der[..]));
/// let escaped = "-----BEGIN%20CERTIFICATE-----%0AMAMCAQE%3D%0A-----END%20CERTIFICATE-----%0A";
/// assert_eq!(forwarded_certificate(escaped).as_deref(), Some(&der[..]));
/// assert_eq!(forwarded_certificate("MAMCAQE=").as_deref(), Some(&der[..]));
/// assert_eq!(forwarded_certificate("not a certificate"), None);
/// ```
pub fn forwarded_certificate(value: &str) -> Option<Vec<u8>> {
    const MAX: usize = 64 * 1024;
    let value = value.trim();
    if value.len() > 3 * MAX {
        return None;
    }
    let text = percent_decode(value)?;
    let der = if text.contains("-----BEGIN") {
        let (label, der) = der::pem::decode_vec(text.trim().as_bytes()).ok()?;
        (label == "CERTIFICATE").then_some(der)?
    } else {
        winmdm_types::base64::decode_lenient(&text, MAX).ok()?
    };
    // A DER SEQUENCE, at least.
    (der.first() == Some(&0x30)).then_some(der)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
