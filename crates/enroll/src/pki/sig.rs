//! Signature algorithms accepted on the wire and RSA PKCS#1 v1.5 verification.
//!
//! The public OID constants are the `const_oid::db` ones (RFC 5912) under the names this
//! crate has always exported, except the OIW SHA-1 signature OID, which the database lacks.

use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::asn1::{AnyRef, BitString};
use der::{Decode, Sequence, Tagged};
use rsa::pkcs8::DecodePublicKey;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;

/// OID of `rsaEncryption` (PKCS#1).
pub const RSA_ENCRYPTION: ObjectIdentifier = rfc5912::RSA_ENCRYPTION;
/// OID of `sha1WithRSAEncryption` (PKCS#1).
pub const SHA1_WITH_RSA: ObjectIdentifier = rfc5912::SHA_1_WITH_RSA_ENCRYPTION;
/// OID of the OIW `sha1WithRSASignature` (`szOID_OIWSEC_sha1RSASign`) that real Windows
/// CSRs carry. Not in `const_oid::db`, hence defined here.
pub const SHA1_WITH_RSA_OIW: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.29");
/// OID of `sha256WithRSAEncryption`.
pub const SHA256_WITH_RSA: ObjectIdentifier = rfc5912::SHA_256_WITH_RSA_ENCRYPTION;
/// OID of `sha384WithRSAEncryption`.
pub const SHA384_WITH_RSA: ObjectIdentifier = rfc5912::SHA_384_WITH_RSA_ENCRYPTION;
/// OID of `sha512WithRSAEncryption`.
pub const SHA512_WITH_RSA: ObjectIdentifier = rfc5912::SHA_512_WITH_RSA_ENCRYPTION;
/// OID of SHA-1 as a digest algorithm (CMS `digestAlgorithm`).
pub const ID_SHA1: ObjectIdentifier = rfc5912::ID_SHA_1;
/// OID of SHA-256 as a digest algorithm.
pub const ID_SHA256: ObjectIdentifier = rfc5912::ID_SHA_256;
/// OID of SHA-384 as a digest algorithm.
pub const ID_SHA384: ObjectIdentifier = rfc5912::ID_SHA_384;
/// OID of SHA-512 as a digest algorithm.
pub const ID_SHA512: ObjectIdentifier = rfc5912::ID_SHA_512;

/// A digest used inside an RSA PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-1 (accepted for verification only; Windows signs its CSR with it by default).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The digest for a CMS `digestAlgorithm` OID.
    pub fn from_digest_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            ID_SHA1 => Some(Self::Sha1),
            ID_SHA256 => Some(Self::Sha256),
            ID_SHA384 => Some(Self::Sha384),
            ID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// An RSA signature algorithm accepted in a CSR, a certificate or a CMS signer info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `sha1WithRSAEncryption`, 1.2.840.113549.1.1.5.
    Sha1WithRsa,
    /// OIW `sha1WithRSASignature`, 1.3.14.3.2.29 (what Windows puts in its CSR).
    Sha1WithRsaOiw,
    /// `sha256WithRSAEncryption`, 1.2.840.113549.1.1.11.
    Sha256WithRsa,
    /// `sha384WithRSAEncryption`, 1.2.840.113549.1.1.12.
    Sha384WithRsa,
    /// `sha512WithRSAEncryption`, 1.2.840.113549.1.1.13.
    Sha512WithRsa,
}

impl SignatureAlgorithm {
    /// The algorithm for an OID, if supported.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            SHA1_WITH_RSA => Some(Self::Sha1WithRsa),
            SHA1_WITH_RSA_OIW => Some(Self::Sha1WithRsaOiw),
            SHA256_WITH_RSA => Some(Self::Sha256WithRsa),
            SHA384_WITH_RSA => Some(Self::Sha384WithRsa),
            SHA512_WITH_RSA => Some(Self::Sha512WithRsa),
            _ => None,
        }
    }

    /// The algorithm for an AlgorithmIdentifier; parameters must be absent or NULL.
    pub fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Option<Self> {
        if !null_or_absent_parameters(alg) {
            return None;
        }
        Self::from_oid(&alg.oid)
    }

    /// The OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1WithRsa => SHA1_WITH_RSA,
            Self::Sha1WithRsaOiw => SHA1_WITH_RSA_OIW,
            Self::Sha256WithRsa => SHA256_WITH_RSA,
            Self::Sha384WithRsa => SHA384_WITH_RSA,
            Self::Sha512WithRsa => SHA512_WITH_RSA,
        }
    }

    /// The digest inside the signature.
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Self::Sha1WithRsa | Self::Sha1WithRsaOiw => DigestAlgorithm::Sha1,
            Self::Sha256WithRsa => DigestAlgorithm::Sha256,
            Self::Sha384WithRsa => DigestAlgorithm::Sha384,
            Self::Sha512WithRsa => DigestAlgorithm::Sha512,
        }
    }

    /// The AlgorithmIdentifier (with NULL parameters, as RFC 4055 asks for PKCS#1 v1.5).
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(der::asn1::Null.into()),
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Sha1WithRsa => "sha1WithRSAEncryption",
            Self::Sha1WithRsaOiw => "sha1WithRSASignature (OIW)",
            Self::Sha256WithRsa => "sha256WithRSAEncryption",
            Self::Sha384WithRsa => "sha384WithRSAEncryption",
            Self::Sha512WithRsa => "sha512WithRSAEncryption",
        };
        f.write_str(name)
    }
}

/// Whether an AlgorithmIdentifier's parameters are absent or NULL (PKCS#1 v1.5).
pub(crate) fn null_or_absent_parameters(alg: &AlgorithmIdentifierOwned) -> bool {
    match &alg.parameters {
        None => true,
        Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
    }
}

/// Decodes an RSA public key from a DER SubjectPublicKeyInfo.
/// Returns `None` for non-RSA or malformed keys (and keys outside 1024..=8192 bits, the
/// `rsa` crate's range).
pub(crate) fn rsa_public_key(spki_der: &[u8]) -> Option<rsa::PublicKey> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return None;
    }
    rsa::PublicKey::from_public_key_der(spki_der).ok()
}

/// Modulus size in bits.
pub(crate) fn rsa_bits(key: &rsa::PublicKey) -> usize {
    use rsa::traits::PublicKeyParts;
    key.n().bit_width() as usize
}

/// Verifies a PKCS#1 v1.5 signature over a precomputed digest.
pub(crate) fn verify_prehash(
    key: &rsa::PublicKey,
    digest: DigestAlgorithm,
    hash: &[u8],
    signature: &[u8],
) -> bool {
    let r = match digest {
        DigestAlgorithm::Sha1 => key.pkcs1v15_verify_prehash::<Sha1>(hash, signature),
        DigestAlgorithm::Sha256 => key.pkcs1v15_verify_prehash::<Sha256>(hash, signature),
        DigestAlgorithm::Sha384 => key.pkcs1v15_verify_prehash::<Sha384>(hash, signature),
        DigestAlgorithm::Sha512 => key.pkcs1v15_verify_prehash::<Sha512>(hash, signature),
    };
    r.is_ok()
}

/// Verifies a PKCS#1 v1.5 signature over `message`.
pub(crate) fn verify(
    key: &rsa::PublicKey,
    alg: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let d = alg.digest();
    verify_prehash(key, d, &d.digest(message), signature)
}

/// A signed structure as this crate writes it: the already-encoded DER that was signed,
/// the signature algorithm and the signature. RFC 2986's `CertificationRequest` and RFC
/// 5280's `Certificate` both have this shape.
#[derive(Sequence)]
pub(crate) struct SignedOut<'a> {
    pub(crate) signed: AnyRef<'a>,
    pub(crate) algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: BitString,
}
