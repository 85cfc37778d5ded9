//! Errors of the PKI module, one type per phase.

use thiserror::Error;

/// Decoding or verifying a PKCS#10 certificate request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The input is larger than [`CsrPolicy::max_len`](super::CsrPolicy::max_len).
    #[error("certificate request is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Input length.
        len: usize,
        /// Configured limit.
        max: usize,
    },
    /// The PEM armour could not be decoded.
    #[error("PEM: {0}")]
    Pem(#[source] der::pem::Error),
    /// The PEM label is neither `CERTIFICATE REQUEST` nor `NEW CERTIFICATE REQUEST`.
    #[error("unexpected PEM label {0:?}")]
    PemLabel(String),
    /// [`Csr::from_any`](super::Csr::from_any): the input is neither DER, PEM nor base64.
    #[error("not DER, PEM or base64")]
    NotDerPemOrBase64,
    /// The DER structure is broken at `position`.
    #[error("malformed certificate request at byte {position} ({what}): {source}")]
    Malformed {
        /// Byte offset in the DER input (0 where `der` does not know it).
        position: usize,
        /// The part of the request being read (`CertificationRequestInfo`,
        /// `subject Name`, `Extensions`, ...).
        what: &'static str,
        /// The `der` error.
        #[source]
        source: der::Error,
    },
    /// A part of the request could not be encoded again (for the public key or an
    /// attribute value).
    #[error("encoding a part of the certificate request: {source}")]
    Encode {
        /// The `der` error.
        #[source]
        source: der::Error,
    },
    /// The version field is not v1 (0).
    #[error("unsupported certificate request version")]
    UnsupportedVersion,
    /// The signature algorithm is not one of those in
    /// [`SignatureAlgorithm`](super::SignatureAlgorithm).
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignatureAlgorithm(const_oid::ObjectIdentifier),
    /// The request is signed with SHA-1 and the policy forbids it.
    #[error("SHA-1 signatures are not allowed by the policy")]
    Sha1NotAllowed,
    /// The subject public key is not an RSA key (1024 to 8192 bits, the `rsa` crate's
    /// range) this crate can use.
    #[error("the public key is not a supported RSA key")]
    UnsupportedPublicKey,
    /// The RSA key is shorter than [`CsrPolicy::min_rsa_bits`](super::CsrPolicy::min_rsa_bits).
    #[error("RSA key of {bits} bits is below the minimum of {min}")]
    KeyTooSmall {
        /// Key size.
        bits: usize,
        /// Configured minimum.
        min: usize,
    },
    /// The RSA key is longer than [`CsrPolicy::max_rsa_bits`](super::CsrPolicy::max_rsa_bits).
    #[error("RSA key of {bits} bits is above the maximum of {max}")]
    KeyTooLarge {
        /// Key size.
        bits: usize,
        /// Configured maximum.
        max: usize,
    },
    /// Proof of possession failed: the request's signature does not verify with its key.
    #[error("proof of possession failed: the request signature does not verify")]
    BadSignature,
    /// The DeviceID extension (1.3.6.1.4.1.311.66.1.0) is not printable ASCII.
    #[error("the DeviceID extension is not printable ASCII")]
    InvalidDeviceId,
}

/// A `der` error met while walking the request's structure (a header, a length, an
/// element that does not end where its length says): [`CsrError::Malformed`] at the
/// error's position.
impl From<der::Error> for CsrError {
    fn from(source: der::Error) -> Self {
        Self::Malformed {
            position: source.position().map_or(0, |p| u32::from(p) as usize),
            what: "DER structure",
            source,
        }
    }
}

/// A PEM private key could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PrivateKeyError {
    /// PKCS#8 (`PRIVATE KEY`).
    #[error("PKCS#8: {0}")]
    Pkcs8(#[from] rsa::pkcs8::Error),
    /// PKCS#1 (`RSA PRIVATE KEY`).
    #[error("PKCS#1: {0}")]
    Pkcs1(#[from] rsa::pkcs1::Error),
}

/// Loading a CA certificate or key failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CaError {
    /// The PEM armour could not be decoded.
    #[error("PEM: {0}")]
    Pem(#[source] der::pem::Error),
    /// The PEM label is not `CERTIFICATE`.
    #[error("unexpected PEM label {0:?}")]
    PemLabel(String),
    /// The certificate does not decode (or its parts do not encode again).
    #[error("CA certificate: {0}")]
    Certificate(#[source] der::Error),
    /// The CA certificate's key is not an RSA key this crate can use (the renewal checks
    /// verify the CA's own signatures with it).
    #[error("the CA key is not a supported RSA key")]
    UnsupportedKey,
    /// The private key does not decode (or encode) or is not an RSA key.
    #[error("CA private key: {0}")]
    Key(#[source] PrivateKeyError),
    /// The signer's public key is not the one in the CA certificate.
    #[error("the signing key does not match the CA certificate")]
    KeyMismatch,
    /// The requested key is shorter than 2048 bits.
    #[error("RSA keys must have at least 2048 bits, not {0}")]
    KeyTooSmall(usize),
    /// Generating the key failed.
    #[error("generating the key: {0}")]
    Generate(#[source] rsa::Error),
    /// The public key does not encode.
    #[error("encoding the public key: {0}")]
    PublicKey(#[source] spki::Error),
    /// Issuing the development CA's certificate failed.
    #[error("issuing the development CA certificate: {0}")]
    Issue(#[source] IssueError),
}

/// A [`Signer`](super::Signer) could not produce a signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signing backend (key, KMS, HSM) reported an error. The message is the
    /// backend's: a [`Signer`](super::Signer) implementation outside this crate has its
    /// own error type.
    #[error("signing backend: {0}")]
    Backend(String),
    /// [`RsaSigner`](super::RsaSigner): the `rsa` crate failed.
    #[error("RSA signing: {0}")]
    Rsa(#[source] rsa::Error),
}

/// Issuing a certificate failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The subject is not a valid, non-empty RFC 4514 name.
    #[error("invalid subject {subject:?}")]
    InvalidSubject {
        /// The subject as given (or why it was refused, for an empty `Name`).
        subject: String,
        /// The `der` error from parsing or encoding the name, if that is what failed.
        #[source]
        source: Option<der::Error>,
    },
    /// The validity or backdating options are out of range.
    #[error("invalid issuing options: {0}")]
    InvalidOptions(&'static str),
    /// `now` is outside the CA certificate's own validity.
    #[error("the CA certificate is not valid at the given time")]
    CaNotValid,
    /// notBefore or notAfter is before 1970 or overflows `SystemTime`.
    #[error("a validity time is out of range")]
    TimeOutOfRange,
    /// A time could not be represented in a certificate.
    #[error("time out of range: {0}")]
    Time(#[source] der::Error),
    /// The subject public key does not decode.
    #[error("malformed subject public key: {0}")]
    PublicKey(#[source] der::Error),
    /// Encoding the certificate failed.
    #[error("encoding the certificate: {0}")]
    Encode(#[source] der::Error),
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Checking a renewal (or recovery) request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RenewalError {
    /// The input is larger than the configured limit.
    #[error("renewal request is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Input length.
        len: usize,
        /// Configured limit.
        max: usize,
    },
    /// The PKCS#7 / CMS structure does not decode.
    #[error("malformed PKCS#7 at byte {position}: {source}")]
    Malformed {
        /// Byte offset in the DER input, where known (0 otherwise).
        position: usize,
        /// The `der` error.
        #[source]
        source: der::Error,
    },
    /// The SignedData or SignerInfo version does not match the signer identifier
    /// (RFC 5652 §5.1, §5.3: 1 for IssuerAndSerialNumber, 3 for SubjectKeyIdentifier).
    #[error("SignedData/SignerInfo version does not match the signer identifier")]
    VersionMismatch,
    /// The signer's digest algorithm is not listed in the SignedData's digestAlgorithms.
    #[error("the signer's digest algorithm is not listed in digestAlgorithms")]
    DigestAlgorithmNotListed,
    /// The ContentInfo is not SignedData, or the encapsulated content is not id-data.
    #[error("unsupported PKCS#7 content type {0}")]
    UnsupportedContentType(const_oid::ObjectIdentifier),
    /// The contentType signed attribute has no value.
    #[error("the contentType signed attribute is empty")]
    EmptyContentType,
    /// There is not exactly one SignerInfo.
    #[error("expected exactly one signer, found {0}")]
    SignerCount(usize),
    /// The SignedData carries no encapsulated content (detached signature).
    #[error("the PKCS#7 carries no encapsulated certificate request")]
    NoContent,
    /// The signer's certificate is not in the SignedData.
    #[error("the signer's certificate is not in the PKCS#7")]
    SignerCertificateMissing,
    /// The signer info's digest or signature algorithm is not supported (or the signature
    /// algorithm's digest is not the signer's digest algorithm).
    #[error("unsupported signer algorithm {0}")]
    UnsupportedAlgorithm(const_oid::ObjectIdentifier),
    /// The signer's signature algorithm has parameters other than absent or NULL.
    #[error("signature algorithm parameters must be absent or NULL")]
    AlgorithmParameters,
    /// The signer certificate's key is not an RSA key this crate can use.
    #[error("the signer's key is not a supported RSA key")]
    UnsupportedSignerKey,
    /// The signer's digest is SHA-1 and the policy forbids it
    /// ([`CsrPolicy::allow_sha1`](super::CsrPolicy::allow_sha1)).
    #[error("SHA-1 signatures are not allowed by the policy")]
    Sha1NotAllowed,
    /// The messageDigest signed attribute does not match the content.
    #[error("the messageDigest attribute does not match the content")]
    DigestMismatch,
    /// The PKCS#7 signature does not verify with the signer's certificate.
    #[error("the PKCS#7 signature does not verify with the current certificate")]
    BadSignature,
    /// The current certificate was not issued by this CA.
    #[error("the current certificate was not issued by this CA")]
    NotIssuedByUs,
    /// The current certificate is expired or not yet valid.
    #[error("the current certificate is not valid at the given time")]
    CertificateNotValid,
    /// `now` is before the renewal window of the current certificate.
    #[error("the current certificate is not yet in its renewal window")]
    NotInRenewalWindow,
    /// ROBO: the PKCS#7 signer is not the TLS client certificate.
    #[error("the request is not signed by the TLS client certificate")]
    ClientCertificateMismatch,
    /// A certificate (TLS client or previous) does not decode.
    #[error("certificate: {0}")]
    Certificate(#[source] der::Error),
    /// The encapsulated PKCS#10 request is invalid.
    #[error(transparent)]
    Csr(#[from] CsrError),
}

/// A thumbprint string is not 40 hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a thumbprint is 40 hexadecimal digits")]
#[non_exhaustive]
pub struct ThumbprintParseError;
