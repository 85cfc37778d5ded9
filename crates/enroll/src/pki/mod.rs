//! The PKI behind MS-MDE2 enrollment: certificate requests, the device certificate,
//! renewal (PKCS#7, ROBO) and recovery.
//!
//! * [`Csr`] decodes the PKCS#10 request Windows sends in the RequestSecurityToken's
//!   BinarySecurityToken and verifies its proof of possession (sha256WithRSA and both SHA-1
//!   OIDs Windows uses). The subject is kept as raw DER because Windows puts `!` and a
//!   trailing NUL into a PrintableString; the DeviceID extension is read from the
//!   extensionRequest.
//! * [`CertificateAuthority`] issues the device certificate with a server-chosen
//!   [`Subject`], signing through a [`Signer`] ([`RsaSigner`] by default; implement the
//!   trait for a KMS or HSM). [`CertificateAuthority::generate_dev`] makes a self-signed
//!   development CA.
//! * [`CertificateAuthority::verify_renewal`], [`CertificateAuthority::verify_robo_renewal`]
//!   and [`CertificateAuthority::verify_recovery`] check RequestType Renew and Recovery.
//!
//! * The device side: [`DeviceKey`], [`windows_csr`] (the PKCS#10 Windows sends;
//!   [`windows_csr_with_signer`] signs it with the caller's RSA implementation) and
//!   [`renewal_request`] (the PKCS#7 of RequestType Renew), used by
//!   [`crate::client`].
//! * [`decode_request_token`] and [`RequestKind`] turn the BinarySecurityToken text into
//!   DER and tell PKCS#10 from PKCS#7.
//!
//! Everything is sans-IO: the current time is a parameter, randomness comes from the
//! caller's RNG. See `docs/pki.md` for the choices and the Windows quirks.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use winmdm_enroll::pki::{CertificateAuthority, Csr, CsrPolicy, IssueOptions, Subject};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut rng = rand::rng();
//! let ca = CertificateAuthority::generate_dev(
//!     &Subject::try_from("CN=winmdm example CA")?,
//!     2048,
//!     now,
//!     Duration::from_secs(10 * 365 * 24 * 3600),
//!     &mut rng,
//! )?;
//!
//! // A PKCS#10 request captured from Windows 10 (SHA-1 under the OIW OID, `!` and a NUL
//! // in the PrintableString subject).
//! let der = include_bytes!("../../tests/data/pki/win10-19045-device-rst.csr.der");
//! let csr = Csr::from_der(der, &CsrPolicy::default())?;
//! assert_eq!(csr.device_id(), Some("DB257C3A08778F4FB61E2749066C1F27"));
//!
//! let subject = Subject::try_from("CN=DB257C3A08778F4FB61E2749066C1F27")?;
//! let cert = ca.issue(&csr, &subject, &IssueOptions::default(), now, &mut rng)?;
//! assert!(ca.issued(cert.certificate()));
//! assert_eq!(cert.thumbprint().to_string().len(), 40);
//! # Ok(())
//! # }
//! ```

mod csr;
mod device;
mod error;
mod forwarded;
mod issue;
mod renew;
mod sig;

pub(crate) use issue::to_base64 as base64_encode;

/// The AlgorithmIdentifier type [`Signer::signature_algorithm`] returns (from `spki`).
pub use spki::AlgorithmIdentifierOwned;

// The crates whose types this module takes and returns, re-exported so that a product
// needs none of them as a direct dependency (and gets the exact versions used here).

/// `const-oid`: the OID constants and [`SignatureAlgorithm::oid`] are
/// [`const_oid::ObjectIdentifier`]s.
pub use const_oid;
/// `der`: `Encode`/`Decode` for the `x509-cert` types (e.g. `certificate.to_der()`).
pub use der;
/// `rsa`: [`RsaSigner::new`] takes an [`rsa::PrivateKey`].
pub use rsa;
/// `rand_core` (through `rsa`): the RNG bound (`CryptoRng`) of [`CertificateAuthority::issue`]
/// and [`CertificateAuthority::generate_dev`].
pub use rsa::rand_core;
/// `spki`: [`Csr::public_key`] returns an [`spki::SubjectPublicKeyInfoOwned`].
pub use spki;
/// `x509-cert`: [`IssuedCertificate::certificate`] and [`CertificateAuthority::certificate`]
/// return an [`x509_cert::Certificate`]; [`Subject`] converts from an [`x509_cert::name::Name`];
/// [`Csr::extensions`] returns [`x509_cert::ext::Extension`]s.
pub use x509_cert;

pub use csr::{
    COMMON_NAME, Csr, CsrAttribute, CsrPolicy, DEVICE_ID_EXTENSION, EXTENSION_REQUEST,
    MS_CERT_EXTENSIONS,
};
pub use device::{
    DeviceError, DeviceKey, WindowsCsrError, renewal_request, windows_common_name, windows_csr,
    windows_csr_with_signer,
};
pub(crate) use device::{certificate_common_name, signed_by};
pub use error::{
    CaError, CsrError, IssueError, PrivateKeyError, RenewalError, SignError, ThumbprintParseError,
};
pub use forwarded::forwarded_certificate;
pub use issue::{
    CertificateAuthority, ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH, IssueOptions, IssuedCertificate,
    MAX_BACKDATE, RsaSigner, Signer, Subject, Thumbprint,
};
pub use renew::{CurrentCertificate, RecoveryRequest, RenewalPolicy, RenewalRequest};
pub use sig::{
    DigestAlgorithm, ID_SHA1, ID_SHA256, ID_SHA384, ID_SHA512, RSA_ENCRYPTION, SHA1_WITH_RSA,
    SHA1_WITH_RSA_OIW, SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA, SignatureAlgorithm,
};

/// A cryptographically secure RNG seeded from the operating system (`rand::rng()`), for
/// callers without an RNG of their own (serial numbers, dev CA keys).
pub fn default_rng() -> rand::rngs::ThreadRng {
    rand::rng()
}

/// What the DER inside a RequestSecurityToken's BinarySecurityToken is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// A PKCS#10 CertificationRequest (ValueType `...#PKCS10`): RequestType Issue.
    Pkcs10,
    /// A CMS / PKCS#7 ContentInfo (ValueType `...#PKCS7`): RequestType Renew or Recovery.
    Pkcs7,
}

impl RequestKind {
    /// Tells PKCS#10 (SEQUENCE starting with a SEQUENCE) from PKCS#7 (SEQUENCE starting
    /// with an OID) by structure, whatever the ValueType says.
    /// Only the outer header is read, so BER (indefinite length) PKCS#7 is recognised too.
    pub fn detect(der: &[u8]) -> Option<Self> {
        use der::{SliceReader, Tag};
        let tag = |bytes: &[u8]| Tag::peek(&SliceReader::new(bytes).ok()?).ok();
        if tag(der)? != Tag::Sequence {
            return None;
        }
        // The length octets are skipped by hand: `der`'s BER reader resolves an indefinite
        // length by scanning for the end-of-contents, which needs the whole input.
        let (&len, rest) = der.get(1..)?.split_first()?;
        let content = if len <= 0x80 {
            rest
        } else {
            rest.get(usize::from(len & 0x7f)..)?
        };
        match tag(content)? {
            Tag::Sequence => Some(Self::Pkcs10),
            Tag::ObjectIdentifier => Some(Self::Pkcs7),
            _ => None,
        }
    }
}

/// Whether `bytes` starts with a SEQUENCE identifier octet (the first byte of every DER
/// request and certificate).
pub(crate) fn starts_with_sequence(bytes: &[u8]) -> bool {
    use der::{SliceReader, Tag};
    SliceReader::new(bytes)
        .ok()
        .and_then(|r| Tag::peek(&r).ok())
        == Some(Tag::Sequence)
}

/// Decodes the text of a RequestSecurityToken's BinarySecurityToken to DER: base64 with
/// line breaks allowed, also when the client base64-encoded it twice (MS docs describe the
/// ROBO and manual-renewal encodings differently). `None` if it is not base64 of DER or
/// decodes to more than `max_len` bytes.
pub fn decode_request_token(text: &str, max_len: usize) -> Option<Vec<u8>> {
    use winmdm_types::base64::decode_lenient;
    let once = decode_lenient(text, max_len.saturating_mul(2)).ok()?;
    if starts_with_sequence(&once) {
        return (once.len() <= max_len).then_some(once);
    }
    let inner = core::str::from_utf8(&once).ok()?;
    let twice = decode_lenient(inner, max_len).ok()?;
    (starts_with_sequence(&twice) && twice.len() <= max_len).then_some(twice)
}
