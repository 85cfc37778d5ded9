//! PKCS#10 certificate requests as Windows sends them.

use core::fmt;
use core::ops::Range;

use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef};
use der::{
    Decode, DecodeValue, Encode, FixedTag, Header, Length, Reader, SliceReader, Tag, Tagged,
};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::Extension;

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

/// A der error inside the part of the request named `what`.
fn malformed(what: &'static str) -> impl Fn(der::Error) -> CsrError {
    move |source| CsrError::Malformed {
        position: source.position().map_or(0, |p| u32::from(p) as usize),
        what,
        source,
    }
}

/// `kind` at byte `position`, inside the part named `what`.
fn malformed_at(position: Length, what: &'static str, kind: der::ErrorKind) -> CsrError {
    malformed(what)(kind.at(position))
}

fn usize_of(length: Length) -> usize {
    u32::from(length) as usize
}

/// The parts of a CertificationRequest (RFC 2986 §4), read with `der`'s [`SliceReader`]
/// so that every error carries its position in the whole input. The subject is read as an
/// [`AnyRef`] and kept as its range: Windows puts `!` and a NUL into a PrintableString,
/// which the strict [`x509_cert::name::Name`] decoder rejects.
struct RawRequest<'a> {
    /// The CertificationRequestInfo (the signed part), its range in the input.
    info: Range<usize>,
    subject_range: Range<usize>,
    public_key: AnyRef<'a>,
    public_key_position: Length,
    attributes: Vec<RawAttribute<'a>>,
    algorithm: AnyRef<'a>,
    algorithm_position: Length,
    signature: BitStringRef<'a>,
    signature_position: Length,
}

/// One attribute: its type and each value with the position of the value in the input.
struct RawAttribute<'a> {
    oid: ObjectIdentifier,
    values: Vec<(Length, AnyRef<'a>)>,
}

impl<'a> RawRequest<'a> {
    fn decode(der: &'a [u8]) -> Result<Self, CsrError> {
        const WHAT: &str = "CertificationRequest";
        let mut reader = SliceReader::new(der).map_err(malformed(WHAT))?;
        // The outer header is checked here so that a truncated input reports the length
        // octets (the nested reader would report the end of the input).
        let header = Header::peek(&reader).map_err(malformed(WHAT))?;
        header
            .tag()
            .assert_eq(Tag::Sequence)
            .map_err(malformed(WHAT))?;
        let total = (header.encoded_len().map_err(malformed(WHAT))? + header.length())
            .map_err(malformed(WHAT))?;
        if total > reader.input_len() {
            // Position 1: the length octets after the one-byte SEQUENCE tag.
            return Err(malformed_at(
                Length::ONE,
                WHAT,
                der::ErrorKind::Incomplete {
                    expected_len: total,
                    actual_len: reader.input_len(),
                },
            ));
        }
        let request = reader.sequence(Self::decode_fields)?;
        reader.finish().map_err(malformed(WHAT))?;
        Ok(request)
    }

    fn decode_fields(r: &mut SliceReader<'a>) -> Result<Self, CsrError> {
        let info_start = r.position();
        let info = r.sequence(InfoFields::decode)?;
        let info_range = usize_of(info_start)..usize_of(r.position());
        let algorithm_position = r.position();
        let algorithm = r.decode().map_err(malformed("signatureAlgorithm"))?;
        let signature_position = r.position();
        let signature = r.decode().map_err(malformed("signature"))?;
        Ok(Self {
            info: info_range,
            subject_range: info.subject_range,
            public_key: info.public_key,
            public_key_position: info.public_key_position,
            attributes: info.attributes,
            algorithm,
            algorithm_position,
            signature,
            signature_position,
        })
    }
}

/// The fields of a CertificationRequestInfo.
struct InfoFields<'a> {
    /// The subject Name as received (read as an [`AnyRef`], shape checked only).
    subject_range: Range<usize>,
    public_key: AnyRef<'a>,
    public_key_position: Length,
    attributes: Vec<RawAttribute<'a>>,
}

impl<'a> InfoFields<'a> {
    fn decode(r: &mut SliceReader<'a>) -> Result<Self, CsrError> {
        let version: u8 = r.decode().map_err(malformed("version"))?;
        if version != 0 {
            return Err(CsrError::UnsupportedVersion);
        }
        let subject_start = r.position();
        let subject: AnyRef<'a> = r.decode().map_err(malformed("subject Name"))?;
        let subject_range = usize_of(subject_start)..usize_of(r.position());
        check_name_shape(subject, subject_start)?;
        let public_key_position = r.position();
        let public_key: AnyRef<'a> = r.decode().map_err(malformed("subjectPKInfo"))?;
        public_key
            .tag()
            .assert_eq(Tag::Sequence)
            .map_err(|e| malformed("subjectPKInfo")(e.kind().at(public_key_position)))?;
        let mut attributes = Vec::new();
        if !r.is_finished() {
            let header = Header::decode(r).map_err(malformed("attributes"))?;
            let expected = Tag::ContextSpecific {
                constructed: true,
                number: der::TagNumber(0),
            };
            header
                .tag()
                .assert_eq(expected)
                .map_err(malformed("attributes"))?;
            r.read_nested(header.length(), |r| {
                while !r.is_finished() {
                    attributes.push(RawAttribute::decode(r)?);
                }
                Ok::<_, CsrError>(())
            })?;
        }
        Ok(Self {
            subject_range,
            public_key,
            public_key_position,
            attributes,
        })
    }
}

impl<'a> RawAttribute<'a> {
    /// `Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }`. The SET OF
    /// is read in document order without the DER ordering check (`SetOfVec` would refuse
    /// an unsorted set).
    fn decode(r: &mut SliceReader<'a>) -> Result<Self, CsrError> {
        const WHAT: &str = "Attribute";
        r.sequence(|r| {
            let oid = r.decode().map_err(malformed(WHAT))?;
            let set = Header::decode(r).map_err(malformed(WHAT))?;
            set.tag().assert_eq(Tag::Set).map_err(malformed(WHAT))?;
            let mut values = Vec::new();
            r.read_nested(set.length(), |r| {
                while !r.is_finished() {
                    let at = r.position();
                    values.push((at, r.decode().map_err(malformed(WHAT))?));
                }
                Ok::<_, CsrError>(())
            })?;
            Ok(Self { oid, values })
        })
    }
}

/// A `Name` read leniently: SEQUENCE OF SET OF SEQUENCE { OID, any }, the values kept as
/// [`AnyRef`] whatever their string type claims (Windows breaks the PrintableString
/// rules). The attribute type and values in document order.
struct LenientName<'a>(Vec<(ObjectIdentifier, AnyRef<'a>)>);

impl FixedTag for LenientName<'_> {
    const TAG: Tag = Tag::Sequence;
}

impl<'a> DecodeValue<'a> for LenientName<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(r: &mut R, _header: Header) -> der::Result<Self> {
        let mut atvs = Vec::new();
        while !r.is_finished() {
            let rdn = Header::decode(r)?;
            rdn.tag().assert_eq(Tag::Set)?;
            r.read_nested(rdn.length(), |r| {
                while !r.is_finished() {
                    atvs.push(r.sequence(|r| Ok::<_, der::Error>((r.decode()?, r.decode()?)))?);
                }
                Ok::<_, der::Error>(())
            })?;
        }
        Ok(Self(atvs))
    }
}

/// Checks that the subject is a Name in shape without decoding the attribute values
/// (which is where Windows breaks the string rules). `at`: the subject's position.
fn check_name_shape(subject: AnyRef<'_>, at: Length) -> Result<(), CsrError> {
    subject
        .decode_as::<LenientName<'_>>()
        .map(|_| ())
        .map_err(|e| shifted_into(e, subject, at, "subject Name"))
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
        let raw = RawRequest::decode(der)?;
        let extensions = requested_extensions(&raw.attributes)?;
        let attributes = raw
            .attributes
            .iter()
            .map(|a| {
                let values = a
                    .values
                    .iter()
                    .map(|(_, v)| any_der(*v))
                    .collect::<Result<_, _>>()?;
                Ok(CsrAttribute { oid: a.oid, values })
            })
            .collect::<Result<Vec<_>, CsrError>>()?;

        let public_key_der = any_der(raw.public_key)?;
        let public_key = SubjectPublicKeyInfoOwned::from_der(&public_key_der)
            .map_err(|e| shifted(e, raw.public_key_position, "subjectPKInfo"))?;
        let signature_algorithm = check_signature_algorithm(&raw, policy)?;
        let signature = raw.signature.as_bytes().ok_or_else(|| {
            malformed_at(
                raw.signature_position,
                "signature",
                der::ErrorKind::Value {
                    tag: Tag::BitString,
                },
            )
        })?;
        let key = sig::rsa_public_key(&public_key_der).ok_or(CsrError::UnsupportedPublicKey)?;
        let key_bits = sig::rsa_bits(&key);
        check_key_size(key_bits, policy)?;
        if !sig::verify(&key, signature_algorithm, &der[raw.info.clone()], signature) {
            return Err(CsrError::BadSignature);
        }

        let device_id = match extensions.iter().find(|e| e.extn_id == DEVICE_ID_EXTENSION) {
            Some(ext) => Some(parse_device_id(ext.extn_value.as_bytes())?),
            None => None,
        };
        Ok(Self {
            der: der.to_vec(),
            info: raw.info,
            subject: raw.subject_range,
            public_key,
            public_key_der,
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
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(CsrError::Pem)?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CsrError::PemLabel(label.to_owned()));
        }
        Self::from_der(&der, policy)
    }

    /// Accepts DER, PEM, or bare base64 of the DER (the form inside a
    /// BinarySecurityToken; line breaks allowed).
    pub fn from_any(input: &[u8], policy: &CsrPolicy) -> Result<Self, CsrError> {
        let trimmed = input.trim_ascii();
        if super::starts_with_sequence(trimmed) {
            return Self::from_der(input, policy);
        }
        let text = core::str::from_utf8(trimmed).map_err(|_| CsrError::NotDerPemOrBase64)?;
        if text.starts_with("-----BEGIN") {
            return Self::from_pem(text, policy);
        }
        let der = winmdm_types::base64::decode_lenient(text, policy.max_len)
            .map_err(|_| CsrError::NotDerPemOrBase64)?;
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

/// The DER of an [`AnyRef`] (tag, length, contents): the bytes as received, since the
/// DER reader only accepts minimal lengths.
fn any_der(any: AnyRef<'_>) -> Result<Vec<u8>, CsrError> {
    any.to_der().map_err(|e| CsrError::Encode { source: e })
}

/// A der error from decoding a part on its own (`what`, whose encoding starts at `at` in
/// the whole input), its position moved to the whole input.
fn shifted(e: der::Error, at: Length, what: &'static str) -> CsrError {
    let inner = e.position().unwrap_or(Length::ZERO);
    malformed(what)(e.kind().at((at + inner).unwrap_or(at)))
}

/// Like [`shifted`] for an error from [`AnyRef::decode_as`], whose positions count from
/// the first contents octet of `any`.
fn shifted_into(e: der::Error, any: AnyRef<'_>, at: Length, what: &'static str) -> CsrError {
    let header_len = any.header().encoded_len().unwrap_or(Length::ZERO);
    shifted(e, (at + header_len).unwrap_or(at), what)
}

fn check_signature_algorithm(
    raw: &RawRequest<'_>,
    policy: &CsrPolicy,
) -> Result<SignatureAlgorithm, CsrError> {
    let alg = AlgorithmIdentifierOwned::from_der(&any_der(raw.algorithm)?)
        .map_err(|e| shifted(e, raw.algorithm_position, "signatureAlgorithm"))?;
    let signature_algorithm = SignatureAlgorithm::from_identifier(&alg)
        .ok_or(CsrError::UnsupportedSignatureAlgorithm(alg.oid))?;
    if signature_algorithm.digest() == sig::DigestAlgorithm::Sha1 && !policy.allow_sha1 {
        return Err(CsrError::Sha1NotAllowed);
    }
    Ok(signature_algorithm)
}

fn check_key_size(key_bits: usize, policy: &CsrPolicy) -> Result<(), CsrError> {
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
    Ok(())
}

/// The extensions of every `extensionRequest` and Microsoft `szOID_CERT_EXTENSIONS`
/// attribute, in document order.
fn requested_extensions(attributes: &[RawAttribute<'_>]) -> Result<Vec<Extension>, CsrError> {
    let mut out = Vec::new();
    for attr in attributes {
        if attr.oid != EXTENSION_REQUEST && attr.oid != MS_CERT_EXTENSIONS {
            continue;
        }
        for (at, value) in &attr.values {
            let exts: Vec<Extension> = value
                .decode_as()
                .map_err(|e| shifted_into(e, *value, *at, "Extensions"))?;
            out.extend(exts);
        }
    }
    Ok(out)
}

/// First commonName in a (possibly non-conforming) DER Name.
pub(crate) fn common_name_of(name_der: &[u8]) -> Option<String> {
    let name = LenientName::from_der(name_der).ok()?;
    let (_, value) = name.0.iter().find(|(oid, _)| *oid == COMMON_NAME)?;
    let text = match value.tag() {
        // BMPString: UTF-16BE
        Tag::BmpString => {
            let units: Vec<u16> = value
                .value()
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(value.value()).into_owned(),
    };
    Some(text.trim_end_matches('\0').to_owned())
}

/// Windows writes the DeviceID as raw ASCII followed by a NUL byte inside the extension's
/// OCTET STRING (not DER-wrapped). A DER string wrapper is accepted too.
fn parse_device_id(raw: &[u8]) -> Result<String, CsrError> {
    let wrapped = AnyRef::from_der(raw).ok().filter(|any| {
        matches!(
            any.tag(),
            Tag::OctetString | Tag::Utf8String | Tag::PrintableString | Tag::Ia5String
        )
    });
    let mut bytes = wrapped.map_or(raw, |any| any.value());
    while let Some((&0, head)) = bytes.split_last() {
        bytes = head;
    }
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(CsrError::InvalidDeviceId);
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}
