//! PKCS#10 certificate requests as Windows sends them.

use core::fmt;
use core::ops::Range;

use const_oid::ObjectIdentifier;
use der::Decode;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::Extension;

use super::der_util::{
    self, DerFault, TAG_BIT_STRING, TAG_INTEGER, TAG_OID, TAG_SEQUENCE, TAG_SET,
};
use super::error::CsrError;
use super::sig::{self, SignatureAlgorithm};

/// OID of the PKCS#9 `extensionRequest` attribute.
pub const EXTENSION_REQUEST: ObjectIdentifier = const_oid::db::rfc2985::PKCS_9_AT_EXTENSION_REQUEST;
/// OID of Microsoft's legacy `szOID_CERT_EXTENSIONS` attribute (same content as
/// `extensionRequest`). Microsoft OID, not in `const_oid::db`.
pub const MS_CERT_EXTENSIONS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.14");
/// OID of the DeviceID extension Windows puts in its enrollment CSR
/// (`microsoftDeviceIDExtension`). Microsoft OID, not in `const_oid::db`.
pub const DEVICE_ID_EXTENSION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.66.1.0");
/// OID of the X.520 commonName attribute.
pub const COMMON_NAME: ObjectIdentifier = const_oid::db::rfc4519::COMMON_NAME;

/// Limits and algorithm choices for accepting a CSR. Secure defaults via [`Default`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsrPolicy {
    /// Largest accepted DER input in bytes (default 16 KiB; Windows CSRs are under 1 KiB).
    pub max_len: usize,
    /// Smallest accepted RSA modulus in bits (default 2048, the MS-XCEP default
    /// `minimalKeyLength`).
    pub min_rsa_bits: usize,
    /// Largest accepted RSA modulus in bits (default 4096; bounds verification time).
    pub max_rsa_bits: usize,
    /// Accept SHA-1 signatures (default `true`: Windows signs with SHA-1 unless the policy
    /// names another hash). SHA-1 is only ever used to verify, never to sign.
    pub allow_sha1: bool,
}

impl Default for CsrPolicy {
    fn default() -> Self {
        Self {
            max_len: 16 * 1024,
            min_rsa_bits: 2048,
            max_rsa_bits: 4096,
            allow_sha1: true,
        }
    }
}

/// One CSR attribute, values kept as raw DER in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrAttribute {
    /// Attribute type.
    pub oid: ObjectIdentifier,
    /// Each value's DER encoding (tag, length, contents).
    pub values: Vec<Vec<u8>>,
}

/// A PKCS#10 certificate request whose signature (proof of possession) has been verified.
///
/// The subject is kept as raw DER: real Windows CSRs carry a PrintableString holding `!`
/// and a trailing NUL, which a strict X.501 decoder rejects. The issued certificate's
/// subject is always chosen by the server, so nothing here depends on the subject's form.
#[derive(Clone, PartialEq, Eq)]
pub struct Csr {
    der: Vec<u8>,
    info: Range<usize>,
    subject: Range<usize>,
    public_key: SubjectPublicKeyInfoOwned,
    public_key_der: Vec<u8>,
    key_bits: usize,
    signature_algorithm: SignatureAlgorithm,
    attributes: Vec<CsrAttribute>,
    extensions: Vec<Extension>,
    device_id: Option<String>,
}

impl fmt::Debug for Csr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csr")
            .field("common_name", &self.common_name())
            .field("key_bits", &self.key_bits)
            .field("signature_algorithm", &self.signature_algorithm)
            .field("device_id", &self.device_id)
            .field("extensions", &self.extensions.len())
            .finish_non_exhaustive()
    }
}

fn malformed(f: DerFault) -> CsrError {
    CsrError::Malformed {
        position: f.position,
        what: f.what.to_owned(),
    }
}

fn malformed_at(position: usize, e: impl fmt::Display) -> CsrError {
    CsrError::Malformed {
        position,
        what: e.to_string(),
    }
}

impl Csr {
    /// Decodes a DER PKCS#10 request and verifies its proof of possession.
    ///
    /// Accepts RSA keys signed with sha256/384/512WithRSA and both SHA-1 OIDs Windows uses
    /// (1.2.840.113549.1.1.5 and the OIW 1.3.14.3.2.29), subject to `policy`.
    pub fn from_der(der: &[u8], policy: &CsrPolicy) -> Result<Self, CsrError> {
        if der.len() > policy.max_len {
            return Err(CsrError::TooLarge {
                len: der.len(),
                max: policy.max_len,
            });
        }
        let (outer, rest) = der_util::expect(
            der,
            0,
            TAG_SEQUENCE,
            "expected SEQUENCE (CertificationRequest)",
        )
        .map_err(malformed)?;
        if !rest.is_empty() {
            return Err(malformed_at(
                outer.raw.len(),
                "trailing data after the request",
            ));
        }
        let mut kids = der_util::children(&outer);
        let info = next_tagged(
            &mut kids,
            outer.offset,
            TAG_SEQUENCE,
            "expected SEQUENCE (CertificationRequestInfo)",
        )?;
        let alg_tlv = next_tagged(
            &mut kids,
            info.offset,
            TAG_SEQUENCE,
            "expected SEQUENCE (signatureAlgorithm)",
        )?;
        let sig_tlv = next_tagged(
            &mut kids,
            alg_tlv.offset,
            TAG_BIT_STRING,
            "expected BIT STRING (signature)",
        )?;
        if let Some(extra) = kids.next() {
            let pos = extra.map(|t| t.offset).unwrap_or_else(|f| f.position);
            return Err(malformed_at(pos, "unexpected element after the signature"));
        }

        // CertificationRequestInfo
        let mut fields = der_util::children(&info);
        let version = next_tagged(
            &mut fields,
            info.offset,
            TAG_INTEGER,
            "expected INTEGER (version)",
        )?;
        if version.value != [0] {
            return Err(CsrError::UnsupportedVersion);
        }
        let subject = next_tagged(
            &mut fields,
            version.offset,
            TAG_SEQUENCE,
            "expected SEQUENCE (subject Name)",
        )?;
        check_name_shape(&subject)?;
        let spki_tlv = next_tagged(
            &mut fields,
            subject.offset,
            TAG_SEQUENCE,
            "expected SEQUENCE (subjectPKInfo)",
        )?;
        let public_key = SubjectPublicKeyInfoOwned::from_der(spki_tlv.raw)
            .map_err(|e| malformed_at(spki_tlv.offset, e))?;
        let mut attributes = Vec::new();
        let mut extensions = Vec::new();
        match fields.next() {
            None => {}
            Some(Err(f)) => return Err(malformed(f)),
            Some(Ok(attrs)) if attrs.tag == 0xa0 => {
                for attr in der_util::children(&attrs) {
                    let attr = attr.map_err(malformed)?;
                    let a = decode_attribute(&attr)?;
                    if a.oid == EXTENSION_REQUEST || a.oid == MS_CERT_EXTENSIONS {
                        for v in &a.values {
                            decode_extensions(v, attr.offset, &mut extensions)?;
                        }
                    }
                    attributes.push(a);
                }
            }
            Some(Ok(t)) => {
                return Err(malformed_at(t.offset, "expected [0] (attributes)"));
            }
        }
        if let Some(extra) = fields.next() {
            let pos = extra.map(|t| t.offset).unwrap_or_else(|f| f.position);
            return Err(malformed_at(pos, "unexpected element after the attributes"));
        }

        // Signature
        let alg = AlgorithmIdentifierOwned::from_der(alg_tlv.raw)
            .map_err(|e| malformed_at(alg_tlv.offset, e))?;
        let signature_algorithm = SignatureAlgorithm::from_identifier(&alg)
            .ok_or_else(|| CsrError::UnsupportedSignatureAlgorithm(alg.oid.to_string()))?;
        if signature_algorithm.digest() == sig::DigestAlgorithm::Sha1 && !policy.allow_sha1 {
            return Err(CsrError::Sha1NotAllowed);
        }
        let signature = match sig_tlv.value.split_first() {
            Some((0, s)) => s,
            _ => {
                return Err(malformed_at(
                    sig_tlv.offset,
                    "signature BIT STRING has unused bits",
                ));
            }
        };
        let key = sig::rsa_public_key(spki_tlv.raw).ok_or(CsrError::UnsupportedPublicKey)?;
        let key_bits = sig::rsa_bits(&key);
        if key_bits < policy.min_rsa_bits {
            return Err(CsrError::KeyTooSmall {
                bits: key_bits,
                min: policy.min_rsa_bits,
            });
        }
        if key_bits > policy.max_rsa_bits {
            return Err(CsrError::KeyTooLarge {
                bits: key_bits,
                max: policy.max_rsa_bits,
            });
        }
        if !sig::verify(&key, signature_algorithm, info.raw, signature) {
            return Err(CsrError::BadSignature);
        }

        let device_id = match extensions.iter().find(|e| e.extn_id == DEVICE_ID_EXTENSION) {
            Some(ext) => Some(parse_device_id(ext.extn_value.as_bytes())?),
            None => None,
        };
        Ok(Self {
            der: der.to_vec(),
            info: range_of(der, info.raw),
            subject: range_of(der, subject.raw),
            public_key,
            public_key_der: spki_tlv.raw.to_vec(),
            key_bits,
            signature_algorithm,
            attributes,
            extensions,
            device_id,
        })
    }

    /// Decodes a PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) request and
    /// verifies it like [`Csr::from_der`].
    pub fn from_pem(pem: &str, policy: &CsrPolicy) -> Result<Self, CsrError> {
        if pem.len() > policy.max_len.saturating_mul(2) {
            return Err(CsrError::TooLarge {
                len: pem.len(),
                max: policy.max_len.saturating_mul(2),
            });
        }
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| CsrError::Pem(e.to_string()))?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CsrError::Pem(format!("unexpected label {label}")));
        }
        Self::from_der(&der, policy)
    }

    /// Accepts DER, PEM, or bare base64 of the DER (the form inside a
    /// BinarySecurityToken; line breaks allowed).
    pub fn from_any(input: &[u8], policy: &CsrPolicy) -> Result<Self, CsrError> {
        let trimmed = input.trim_ascii();
        if trimmed.first() == Some(&TAG_SEQUENCE) {
            return Self::from_der(input, policy);
        }
        let text = core::str::from_utf8(trimmed)
            .map_err(|_| CsrError::Pem("not DER, PEM or base64".into()))?;
        if text.starts_with("-----BEGIN") {
            return Self::from_pem(text, policy);
        }
        let der = crate::pki::decode_base64_lenient(text, policy.max_len)
            .ok_or_else(|| CsrError::Pem("not DER, PEM or base64".into()))?;
        Self::from_der(&der, policy)
    }

    /// The request exactly as received (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part (CertificationRequestInfo), DER.
    pub fn info_der(&self) -> &[u8] {
        &self.der[self.info.clone()]
    }

    /// The subject Name as received (DER, possibly not strictly valid X.501).
    pub fn subject_der(&self) -> &[u8] {
        &self.der[self.subject.clone()]
    }

    /// The first commonName of the subject, decoded leniently (any string type; invalid
    /// UTF-8 replaced; trailing NUL bytes, as Windows sends them, removed). For display and
    /// logging: the issued certificate's subject is chosen by the server.
    pub fn common_name(&self) -> Option<String> {
        common_name_of(self.subject_der())
    }

    /// The subject public key.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    /// The subject public key, DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// RSA modulus size in bits.
    pub fn key_bits(&self) -> usize {
        self.key_bits
    }

    /// The algorithm the request was signed with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signature_algorithm
    }

    /// Every attribute, in document order.
    pub fn attributes(&self) -> &[CsrAttribute] {
        &self.attributes
    }

    /// The requested extensions (from `extensionRequest` or Microsoft's
    /// `szOID_CERT_EXTENSIONS`), in document order. They are information only: the issued
    /// certificate's extensions are chosen by the server.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The DeviceID from extension 1.3.6.1.4.1.311.66.1.0 (trailing NUL removed), if the
    /// request carries one.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }
}

fn range_of(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

fn next_tagged<'a>(
    it: &mut der_util::Children<'a>,
    prev: usize,
    tag: u8,
    what: &'static str,
) -> Result<der_util::Tlv<'a>, CsrError> {
    match it.next() {
        None => Err(malformed_at(prev, format!("{what}: element missing"))),
        Some(Err(f)) => Err(malformed(f)),
        Some(Ok(t)) if t.tag == tag => Ok(t),
        Some(Ok(t)) => Err(malformed_at(t.offset, what)),
    }
}

/// Checks that a Name is SEQUENCE OF SET OF SEQUENCE { OID, any } without decoding the
/// attribute values (which is where Windows breaks the string rules).
fn check_name_shape(name: &der_util::Tlv<'_>) -> Result<(), CsrError> {
    for rdn in der_util::children(name) {
        let rdn = rdn.map_err(malformed)?;
        if rdn.tag != TAG_SET {
            return Err(malformed_at(
                rdn.offset,
                "expected SET (RelativeDistinguishedName)",
            ));
        }
        for atv in der_util::children(&rdn) {
            let atv = atv.map_err(malformed)?;
            if atv.tag != TAG_SEQUENCE {
                return Err(malformed_at(
                    atv.offset,
                    "expected SEQUENCE (AttributeTypeAndValue)",
                ));
            }
            let mut parts = der_util::children(&atv);
            let oid = next_tagged(
                &mut parts,
                atv.offset,
                TAG_OID,
                "expected OID (attribute type)",
            )?;
            <ObjectIdentifier>::from_der(oid.raw).map_err(|e| malformed_at(oid.offset, e))?;
            match parts.next() {
                Some(Ok(_)) => {}
                Some(Err(f)) => return Err(malformed(f)),
                None => return Err(malformed_at(atv.offset, "attribute value missing")),
            }
            if let Some(extra) = parts.next() {
                let pos = extra.map(|t| t.offset).unwrap_or_else(|f| f.position);
                return Err(malformed_at(
                    pos,
                    "unexpected element in AttributeTypeAndValue",
                ));
            }
        }
    }
    Ok(())
}

/// First commonName in a (possibly non-conforming) DER Name.
pub(crate) fn common_name_of(name_der: &[u8]) -> Option<String> {
    let (name, _) = der_util::read_tlv(name_der, 0).ok()?;
    for rdn in der_util::children(&name) {
        for atv in der_util::children(&rdn.ok()?) {
            let atv = atv.ok()?;
            let mut parts = der_util::children(&atv);
            let oid = parts.next()?.ok()?;
            let value = parts.next()?.ok()?;
            if <ObjectIdentifier>::from_der(oid.raw).ok()? != COMMON_NAME {
                continue;
            }
            let text = match value.tag {
                // BMPString: UTF-16BE
                0x1e => {
                    let units: Vec<u16> = value
                        .value
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => String::from_utf8_lossy(value.value).into_owned(),
            };
            return Some(text.trim_end_matches('\0').to_owned());
        }
    }
    None
}

fn decode_attribute(attr: &der_util::Tlv<'_>) -> Result<CsrAttribute, CsrError> {
    if attr.tag != TAG_SEQUENCE {
        return Err(malformed_at(attr.offset, "expected SEQUENCE (Attribute)"));
    }
    let mut parts = der_util::children(attr);
    let oid = next_tagged(
        &mut parts,
        attr.offset,
        TAG_OID,
        "expected OID (attribute type)",
    )?;
    let oid = <ObjectIdentifier>::from_der(oid.raw).map_err(|e| malformed_at(oid.offset, e))?;
    let set = next_tagged(
        &mut parts,
        attr.offset,
        TAG_SET,
        "expected SET (attribute values)",
    )?;
    let mut values = Vec::new();
    for v in der_util::children(&set) {
        values.push(v.map_err(malformed)?.raw.to_vec());
    }
    if let Some(extra) = parts.next() {
        let pos = extra.map(|t| t.offset).unwrap_or_else(|f| f.position);
        return Err(malformed_at(pos, "unexpected element in Attribute"));
    }
    Ok(CsrAttribute { oid, values })
}

fn decode_extensions(
    value: &[u8],
    position: usize,
    out: &mut Vec<Extension>,
) -> Result<(), CsrError> {
    let (seq, rest) = der_util::expect(value, 0, TAG_SEQUENCE, "expected SEQUENCE (Extensions)")
        .map_err(|f| malformed_at(position + f.position, f.what))?;
    if !rest.is_empty() {
        return Err(malformed_at(position, "trailing data after Extensions"));
    }
    for ext in der_util::children(&seq) {
        let ext = ext.map_err(|f| malformed_at(position + f.position, f.what))?;
        let e = Extension::from_der(ext.raw).map_err(|e| malformed_at(position + ext.offset, e))?;
        out.push(e);
    }
    Ok(())
}

/// Windows writes the DeviceID as raw ASCII followed by a NUL byte inside the extension's
/// OCTET STRING (not DER-wrapped). A DER string wrapper is accepted too.
fn parse_device_id(raw: &[u8]) -> Result<String, CsrError> {
    let mut bytes = raw;
    match der_util::read_tlv(raw, 0) {
        Ok((t, rest))
            if rest.is_empty()
                && matches!(t.tag, der_util::TAG_OCTET_STRING | 0x0c | 0x13 | 0x16) =>
        {
            bytes = t.value;
        }
        _ => {}
    }
    while let Some((&0, head)) = bytes.split_last() {
        bytes = head;
    }
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(CsrError::InvalidDeviceId);
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}
