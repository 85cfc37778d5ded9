//! The device's side of the PKI: its key pair, the PKCS#10 request shaped like the one
//! Windows sends, and the PKCS#7 renewal request.
//!
//! Sans-IO like the rest of the crate: the RNG is a parameter, nothing reads a clock or a
//! file. The server-side checks of these requests are [`Csr::from_der`](super::Csr::from_der)
//! and [`CertificateAuthority::verify_renewal`](super::CertificateAuthority::verify_renewal).

use core::fmt;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc6268::{ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::{AnyRef, BitString, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence, Tag};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::rand_core::CryptoRng;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::ext::Extension;
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

use super::csr::{COMMON_NAME, DEVICE_ID_EXTENSION, EXTENSION_REQUEST};
use super::sig::{self, ID_SHA256, RSA_ENCRYPTION, SignatureAlgorithm};

/// A device-side PKI operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The requested key size is outside 2048..=8192 bits.
    #[error("{0} bits is outside 2048..=8192")]
    KeySize(usize),
    /// Key generation failed.
    #[error("generating the device key: {0}")]
    Generate(#[source] rsa::Error),
    /// The PEM key does not decode (or does not encode).
    #[error("device key: {0}")]
    Key(#[source] rsa::pkcs8::Error),
    /// The public key does not encode as a SubjectPublicKeyInfo.
    #[error("encoding the public key: {0}")]
    PublicKey(#[source] spki::Error),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[source] rsa::Error),
    /// A subject common name or DeviceID that does not fit the PrintableString form
    /// Windows uses (printable ASCII, at most 255 bytes; a trailing NUL is allowed).
    #[error("invalid {field} {value:?}")]
    InvalidName {
        /// `common_name` or `device_id`.
        field: &'static str,
        /// The value (truncated).
        value: String,
    },
    /// The certificate given does not decode, or a part of the request does not encode.
    #[error("{0}")]
    Malformed(#[source] der::Error),
    /// [`renewal_request`]: the new request is not a DER PKCS#10 (it must start with a
    /// SEQUENCE).
    #[error("the new request is not a DER PKCS#10")]
    NotPkcs10,
    /// The key does not belong to the certificate (renewal must be signed with the key
    /// of the certificate being renewed).
    #[error("the key does not match the certificate's public key")]
    KeyMismatch,
    /// A signature is not as long as the key's modulus (a caller-supplied signer of
    /// [`windows_csr_with_signer`] returned something that is not an RSA signature by
    /// that key).
    #[error("the signature is {len} bytes, the key's modulus {expected}")]
    SignatureLength {
        /// Length of the signature returned.
        len: usize,
        /// Length of the modulus in bytes.
        expected: usize,
    },
}

/// The device's RSA key pair (the MDM client certificate's key). `Debug` shows only its
/// size.
#[derive(Clone)]
pub struct DeviceKey {
    key: rsa::PrivateKey,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Generates a key of `bits` bits (2048..=8192; Windows uses 2048, the MS-XCEP
    /// `minimalKeyLength` of the policy). Generation takes a while for large keys.
    pub fn generate<R: CryptoRng + ?Sized>(bits: usize, rng: &mut R) -> Result<Self, DeviceError> {
        if !(2048..=8192).contains(&bits) {
            return Err(DeviceError::KeySize(bits));
        }
        let key = rsa::PrivateKey::new(rng, bits).map_err(DeviceError::Generate)?;
        Ok(Self { key })
    }

    /// Wraps an existing key.
    pub fn new(key: rsa::PrivateKey) -> Self {
        Self { key }
    }

    /// Reads a PKCS#8 PEM key (`-----BEGIN PRIVATE KEY-----`), as written by
    /// [`to_pkcs8_pem`](Self::to_pkcs8_pem) or `openssl genpkey`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, DeviceError> {
        let key = rsa::PrivateKey::from_pkcs8_pem(pem.trim()).map_err(DeviceError::Key)?;
        Ok(Self { key })
    }

    /// The key as PKCS#8 PEM (unencrypted: store it with restrictive permissions).
    pub fn to_pkcs8_pem(&self) -> Result<String, DeviceError> {
        self.key
            .to_pkcs8_pem(der::pem::LineEnding::LF)
            .map(|z| z.as_str().to_owned())
            .map_err(DeviceError::Key)
    }

    /// The public key as DER SubjectPublicKeyInfo (what the CSR and the issued
    /// certificate carry).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .to_public_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        sig::rsa_bits(&self.key.to_public_key())
    }

    /// The `rsa` private key (for a TLS client certificate in the emulator, say).
    pub fn rsa_key(&self) -> &rsa::PrivateKey {
        &self.key
    }

    /// Signs `message` with RSA PKCS#1 v1.5 and SHA-256.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.key
            .pkcs1v15_sign::<Sha256>(message)
            .map_err(DeviceError::Sign)
    }

    /// Whether this key is the one of the certificate `cert_der` (same
    /// SubjectPublicKeyInfo). `false` if the certificate does not decode.
    pub fn matches_certificate(&self, cert_der: &[u8]) -> bool {
        Certificate::from_der(cert_der)
            .ok()
            .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der().ok())
            .is_some_and(|spki| spki == self.public_key_der())
    }
}

/// Printable ASCII (what Windows puts in the PrintableString, `!` included), optionally
/// followed by one NUL. Returns the bytes with exactly one trailing NUL.
fn windows_string(field: &'static str, value: &str) -> Result<Vec<u8>, DeviceError> {
    let bare = value.strip_suffix('\0').unwrap_or(value);
    if bare.is_empty() || bare.len() > 255 || !bare.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(DeviceError::InvalidName {
            field,
            value: value.chars().take(64).collect(),
        });
    }
    let mut bytes = bare.as_bytes().to_vec();
    bytes.push(0);
    Ok(bytes)
}

/// The common name Windows 10/11 puts in its enrollment CSR: the first 30 characters of
/// a GUID (upper case, with dashes), `!`, the DeviceID, e.g.
/// `562A7F9A-6CD8-40B0-9E7E-0DBDD8!B5B954E81FBCB94EB79BD08BE625F4EE` (the captured
/// 19043 request; [`windows_csr`] adds the trailing NUL). `guid` is used as given up to
/// 30 characters.
pub fn windows_common_name(guid: &str, device_id: &str) -> String {
    let prefix: String = guid.chars().take(30).collect();
    format!("{}!{}", prefix.to_ascii_uppercase(), device_id)
}

/// A PKCS#10 request shaped like the one Windows sends in its RequestSecurityToken
/// (DER):
///
/// * subject: one RDN, commonName as a **PrintableString** holding `common_name` and a
///   trailing NUL byte, exactly as Windows writes it (PrintableString allows neither `!`
///   nor NUL, so the DER is built by hand; see [`windows_common_name`] for Windows's
///   `GUID!DeviceID` value);
/// * the key's SubjectPublicKeyInfo;
/// * when `device_id` is given, an `extensionRequest` attribute with the DeviceID
///   extension [`DEVICE_ID_EXTENSION`] whose OCTET STRING holds the ASCII DeviceID and a
///   NUL (what [`Csr::device_id`](super::Csr::device_id) reads);
/// * sha256WithRSAEncryption (NULL parameters). Windows signs with the policy's hash
///   (SHA-1 under the OIW OID by default); this crate never signs with SHA-1.
///
/// Signs with the `rsa` crate ([`DeviceKey::sign_sha256`]); to sign with another
/// implementation (ring, an HSM, a TPM), use [`windows_csr_with_signer`], which builds
/// the same bytes.
pub fn windows_csr(
    key: &DeviceKey,
    common_name: &str,
    device_id: Option<&str>,
) -> Result<Vec<u8>, DeviceError> {
    windows_csr_with_signer(&key.key.to_public_key(), common_name, device_id, |info| {
        key.sign_sha256(info)
    })
    .map_err(|e| match e {
        WindowsCsrError::Device(e) | WindowsCsrError::Signer(e) => e,
    })
}

/// [`windows_csr_with_signer`] failed: the request could not be built, or the caller's
/// signer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowsCsrError<E> {
    /// The common name or DeviceID is invalid ([`DeviceError::InvalidName`]), the public
    /// key does not encode, or the signature has the wrong length
    /// ([`DeviceError::SignatureLength`]).
    #[error(transparent)]
    Device(DeviceError),
    /// The caller's signer returned an error.
    #[error("the CSR signer failed")]
    Signer(#[source] E),
}

/// [`windows_csr`] with the signature made by the caller: the same request, byte for
/// byte, for the same key, names and DeviceID (PKCS#1 v1.5 signatures are
/// deterministic).
///
/// * `public_key`: the RSA public key whose SubjectPublicKeyInfo goes into the request
///   (for a [`DeviceKey`], `key.rsa_key().to_public_key()`);
/// * `sign`: called once with the DER CertificationRequestInfo (the signed part of the
///   request); it must return the **RSA PKCS#1 v1.5 signature with SHA-256** over those
///   bytes, made with the private key of `public_key` (the request says
///   sha256WithRSAEncryption). Its error comes back as [`WindowsCsrError::Signer`].
///
/// The signature is not verified here (that would cost an RSA operation per request);
/// only its length is checked against the modulus
/// ([`DeviceError::SignatureLength`]). The server-side check is
/// [`Csr::from_der`](super::Csr::from_der).
///
/// ```
/// use winmdm_enroll::pki::{self, Csr, CsrPolicy, DeviceKey};
/// use winmdm_enroll::pki::rsa::signature::{SignatureEncoding as _, Signer as _};
/// use winmdm_enroll::pki::rsa::{pkcs1v15, sha2::Sha256};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let key = DeviceKey::generate(2048, &mut rand::rng())?;
/// // Any PKCS#1 v1.5 SHA-256 signer: here the `rsa` crate's, through the `signature`
/// // traits; a client could use ring's `RsaKeyPair::sign` with `RSA_PKCS1_SHA256`.
/// let signer = pkcs1v15::SigningKey::<Sha256>::new(key.rsa_key().clone());
/// let der = pki::windows_csr_with_signer(
///     &key.rsa_key().to_public_key(),
///     "DB257C3A08778F4FB61E2749066C1F27",
///     Some("DB257C3A08778F4FB61E2749066C1F27"),
///     |info| signer.try_sign(info).map(|s| s.to_vec()),
/// )?;
/// let csr = Csr::from_der(&der, &CsrPolicy::default())?;
/// assert_eq!(csr.device_id(), Some("DB257C3A08778F4FB61E2749066C1F27"));
/// # Ok(())
/// # }
/// ```
pub fn windows_csr_with_signer<E, F>(
    public_key: &rsa::PublicKey,
    common_name: &str,
    device_id: Option<&str>,
    sign: F,
) -> Result<Vec<u8>, WindowsCsrError<E>>
where
    F: FnOnce(&[u8]) -> Result<Vec<u8>, E>,
{
    let device = WindowsCsrError::Device;
    let encode = |e| device(DeviceError::Malformed(e));
    let cn = windows_string("common_name", common_name).map_err(device)?;
    let subject = windows_subject(cn).map_err(encode)?;

    let mut attributes = SetOfVec::new();
    if let Some(id) = device_id {
        let id = windows_string("device_id", id).map_err(device)?;
        attributes
            .insert(device_id_request(id).map_err(encode)?)
            .map_err(encode)?;
    }

    let spki = public_key
        .to_public_key_der()
        .map_err(|e| device(DeviceError::PublicKey(e)))?;
    let info = CertReqInfoOut {
        version: 0,
        subject: AnyRef::from_der(&subject).map_err(encode)?,
        public_key: AnyRef::from_der(spki.as_bytes()).map_err(encode)?,
        attributes,
    }
    .to_der()
    .map_err(encode)?;

    let signature = sign(&info).map_err(WindowsCsrError::Signer)?;
    let expected = public_key.size();
    if signature.len() != expected {
        return Err(device(DeviceError::SignatureLength {
            len: signature.len(),
            expected,
        }));
    }
    // CertificationRequest (RFC 2986 §4.2).
    sig::SignedOut {
        signed: AnyRef::from_der(&info).map_err(encode)?,
        algorithm: SignatureAlgorithm::Sha256WithRsa.identifier(),
        signature: BitString::from_bytes(&signature).map_err(encode)?,
    }
    .to_der()
    .map_err(encode)
}

/// `CertificationRequestInfo` (RFC 2986 §4.1) with the subject and the key as encoded
/// DER: the subject breaks the PrintableString rules the way Windows does.
#[derive(Sequence)]
struct CertReqInfoOut<'a> {
    version: u8,
    subject: AnyRef<'a>,
    public_key: AnyRef<'a>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    attributes: SetOfVec<Attribute>,
}

/// One RDN, commonName as a PrintableString holding `cn` as is (`!` and the NUL
/// included: `Any::new` does not check the string rules).
fn windows_subject(cn: Vec<u8>) -> der::Result<Vec<u8>> {
    let mut rdn = RelativeDistinguishedName::default();
    rdn.insert(AttributeTypeAndValue {
        oid: COMMON_NAME,
        value: Any::new(Tag::PrintableString, cn)?,
    })?;
    let mut name = RdnSequence::default();
    name.push(rdn);
    name.to_der()
}

/// The `extensionRequest` attribute with the DeviceID extension, whose OCTET STRING
/// holds the ASCII DeviceID and its NUL (not a DER string).
fn device_id_request(id: Vec<u8>) -> der::Result<Attribute> {
    let extensions = vec![Extension {
        extn_id: DEVICE_ID_EXTENSION,
        critical: false,
        extn_value: OctetString::new(id)?,
    }];
    Ok(Attribute {
        oid: EXTENSION_REQUEST,
        values: SetOfVec::try_from(vec![Any::encode_from(&extensions)?])?,
    })
}

fn malformed(e: der::Error) -> DeviceError {
    DeviceError::Malformed(e)
}

/// The PKCS#7 / CMS SignedData Windows sends for RequestType Renew (DER): the new PKCS#10
/// `new_csr_der` as encapsulated `id-data` content, signed with the key of the
/// certificate being renewed (`old_cert_der`, included in `certificates`), signer
/// identified by issuer and serial number, SHA-256 digest, signed attributes
/// contentType and messageDigest (no signingTime: this crate reads no clock),
/// rsaEncryption signature. Base64 it into the BinarySecurityToken (ValueType PKCS7) with
/// [`client::renew_request`](crate::client::renew_request).
///
/// No RNG is needed: PKCS#1 v1.5 signatures are deterministic.
pub fn renewal_request(
    old_cert_der: &[u8],
    old_key: &DeviceKey,
    new_csr_der: &[u8],
) -> Result<Vec<u8>, DeviceError> {
    let cert = Certificate::from_der(old_cert_der).map_err(malformed)?;
    if !old_key.matches_certificate(old_cert_der) {
        return Err(DeviceError::KeyMismatch);
    }
    if !super::starts_with_sequence(new_csr_der) {
        return Err(DeviceError::NotPkcs10);
    }
    let sha256 = spki::AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: Some(der::asn1::Null.into()),
    };
    let digest = Sha256::digest(new_csr_der);
    let content_type = Attribute {
        oid: ID_CONTENT_TYPE,
        values: SetOfVec::try_from(vec![Any::encode_from(&ID_DATA).map_err(malformed)?])
            .map_err(malformed)?,
    };
    let message_digest = Attribute {
        oid: ID_MESSAGE_DIGEST,
        values: SetOfVec::try_from(vec![
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(malformed)?)
                .map_err(malformed)?,
        ])
        .map_err(malformed)?,
    };
    let signed_attrs = SetOfVec::try_from(vec![content_type, message_digest]).map_err(malformed)?;
    // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
    let signature = old_key.sign_sha256(&signed_attrs.to_der().map_err(malformed)?)?;

    let tbs = cert.tbs_certificate();
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: spki::AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(der::asn1::Null.into()),
        },
        signature: OctetString::new(signature).map_err(malformed)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(malformed)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(
                Any::encode_from(&OctetString::new(new_csr_der.to_vec()).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())])
                .map_err(malformed)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(malformed)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(malformed)?,
    }
    .to_der()
    .map_err(malformed)
}

/// Whether `cert_der` was signed by the key of `issuer_der` and names it as issuer
/// (subject and issuer DER equal). No validity or extension checks.
pub(crate) fn signed_by(cert_der: &[u8], issuer_der: &[u8]) -> bool {
    let (Ok(cert), Ok(issuer)) = (
        Certificate::from_der(cert_der),
        Certificate::from_der(issuer_der),
    ) else {
        return false;
    };
    let tbs = cert.tbs_certificate();
    match (
        tbs.issuer().to_der(),
        issuer.tbs_certificate().subject().to_der(),
    ) {
        (Ok(a), Ok(b)) if a == b => {}
        _ => return false,
    }
    let Some(alg) = SignatureAlgorithm::from_identifier(cert.signature_algorithm()) else {
        return false;
    };
    let Ok(spki) = issuer.tbs_certificate().subject_public_key_info().to_der() else {
        return false;
    };
    let Some(key) = sig::rsa_public_key(&spki) else {
        return false;
    };
    let (Ok(tbs_der), Some(signature)) = (tbs.to_der(), cert.signature().as_bytes()) else {
        return false;
    };
    sig::verify(&key, alg, &tbs_der, signature)
}

/// The first commonName of a certificate's subject, decoded leniently (as
/// [`Csr::common_name`](super::Csr::common_name)).
pub(crate) fn certificate_common_name(cert: &Certificate) -> Option<String> {
    super::csr::common_name_of(&cert.tbs_certificate().subject().to_der().ok()?)
}
