//! The certificate authority: signing behind [`Signer`], device certificates, dev CA.

use core::fmt;
use core::str::FromStr;
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::{
    self, ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS, ID_CE_EXT_KEY_USAGE,
    ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME, ID_CE_SUBJECT_KEY_IDENTIFIER,
};
use const_oid::db::rfc5912;
use der::asn1::{AnyRef, BitString, OctetString};
use der::flagset::FlagSet;
use der::{Decode, Encode, Sequence};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::rand_core::CryptoRng;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::csr::Csr;
use super::error::{CaError, IssueError, PrivateKeyError, SignError, ThumbprintParseError};
use super::sig::{self, SignatureAlgorithm};

/// `id-kp-clientAuth`.
pub const ID_KP_CLIENT_AUTH: ObjectIdentifier = rfc5280::ID_KP_CLIENT_AUTH;
/// `id-kp-serverAuth`.
pub const ID_KP_SERVER_AUTH: ObjectIdentifier = rfc5280::ID_KP_SERVER_AUTH;

/// The largest backdating [`IssueOptions::backdate`] accepts (10 minutes): enough for
/// device clock skew, never the months some servers use.
pub const MAX_BACKDATE: Duration = Duration::from_secs(10 * 60);

/// Produces signatures for the CA. Implement it to keep the CA key in a KMS or HSM;
/// [`RsaSigner`] keeps an RSA key in memory.
pub trait Signer {
    /// The signature algorithm (it goes into the certificate's `signature` fields).
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned;
    /// Signs `message` (the DER TBSCertificate).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The signer's public key as DER SubjectPublicKeyInfo, when known locally; used to
    /// check that the key matches the CA certificate.
    fn public_key_der(&self) -> Option<Vec<u8>> {
        None
    }
}

/// An in-memory RSA CA key signing with sha256WithRSAEncryption.
#[derive(Clone)]
pub struct RsaSigner {
    key: rsa::PrivateKey,
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use rsa::traits::PublicKeyParts;
        f.debug_struct("RsaSigner")
            .field("bits", &self.key.n().bit_width())
            .finish_non_exhaustive()
    }
}

impl RsaSigner {
    /// Wraps a key.
    pub fn new(key: rsa::PrivateKey) -> Self {
        Self { key }
    }

    /// Reads a PEM key: PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, CaError> {
        let pem = pem.trim();
        let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::PrivateKey::from_pkcs1_pem(pem)
                .map_err(|e| CaError::Key(PrivateKeyError::from(e)))?
        } else {
            rsa::PrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| CaError::Key(PrivateKeyError::from(e)))?
        };
        Ok(Self { key })
    }

    /// Generates a fresh key of `bits` bits (at least 2048).
    pub fn generate<R: CryptoRng + ?Sized>(bits: usize, rng: &mut R) -> Result<Self, CaError> {
        if bits < 2048 {
            return Err(CaError::KeyTooSmall(bits));
        }
        let key = rsa::PrivateKey::new(rng, bits).map_err(CaError::Generate)?;
        Ok(Self { key })
    }

    /// The key as PKCS#8 PEM (`PRIVATE KEY`).
    pub fn private_key_pem(&self) -> Result<String, CaError> {
        self.key
            .to_pkcs8_pem(der::pem::LineEnding::LF)
            .map(|z| z.as_str().to_owned())
            .map_err(|e| CaError::Key(PrivateKeyError::from(e)))
    }
}

impl Signer for RsaSigner {
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        SignatureAlgorithm::Sha256WithRsa.identifier()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .pkcs1v15_sign::<Sha256>(message)
            .map_err(SignError::Rsa)
    }

    fn public_key_der(&self) -> Option<Vec<u8>> {
        self.key
            .to_public_key()
            .to_public_key_der()
            .ok()
            .map(|d| d.as_bytes().to_vec())
    }
}

/// A SHA-1 certificate thumbprint, shown as 40 uppercase hex digits, the form the
/// wap-provisioningdoc's CertificateStore characteristic names use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Thumbprint(pub [u8; 20]);

impl Thumbprint {
    /// Thumbprint of a DER certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha1::digest(cert_der).into())
    }
}

impl FromStr for Thumbprint {
    type Err = ThumbprintParseError;

    /// Parses 40 hex digits (any case, optional `:` or space separators).
    fn from_str(s: &str) -> Result<Self, ThumbprintParseError> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|b| *b != b':' && *b != b' ')
            .map(|b| char::from(b).to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or(ThumbprintParseError)?;
        if digits.len() != 40 {
            return Err(ThumbprintParseError);
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
            *o = (pair[0] << 4) | pair[1];
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_upper(&self.0))
    }
}

/// Uppercase hexadecimal.
fn hex_upper(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

/// A server-chosen certificate subject: a non-empty RFC 4514 name such as
/// `CN=DB257C3A08778F4FB61E2749066C1F27`. Built through `TryFrom<&str>` or `TryFrom<Name>`.
///
/// As RFC 4514 says, the string lists the most specific RDN first: `CN=device,O=Example`
/// encodes O before CN (openssl prints it as `O = Example, CN = device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    name: Name,
    der: Vec<u8>,
}

impl Subject {
    /// The name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The name as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// A subject with one RDN, `CN=<common_name>`, the usual device certificate subject
    /// (`CN=<DeviceID>`). The value is escaped as RFC 4514 requires, so any text is taken
    /// literally (`a,O=x` stays one CN). Empty or control characters are refused.
    pub fn common_name(common_name: &str) -> Result<Self, IssueError> {
        if common_name.is_empty() || common_name.chars().any(char::is_control) {
            return Err(IssueError::InvalidSubject {
                subject: common_name.to_owned(),
                source: None,
            });
        }
        let mut escaped = String::with_capacity(common_name.len() + 3);
        escaped.push_str("CN=");
        let last = common_name.chars().count() - 1;
        for (i, c) in common_name.chars().enumerate() {
            let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                || (i == 0 && (c == '#' || c == ' '))
                || (i == last && c == ' ');
            if special {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        Self::try_from(escaped.as_str())
    }
}

impl TryFrom<Name> for Subject {
    type Error = IssueError;

    fn try_from(name: Name) -> Result<Self, IssueError> {
        if name.is_empty() {
            return Err(IssueError::InvalidSubject {
                subject: String::new(),
                source: None,
            });
        }
        let der = name.to_der().map_err(|e| IssueError::InvalidSubject {
            subject: name.to_string(),
            source: Some(e),
        })?;
        Ok(Self { name, der })
    }
}

impl TryFrom<&str> for Subject {
    type Error = IssueError;

    fn try_from(s: &str) -> Result<Self, IssueError> {
        let name = Name::from_str(s).map_err(|e| IssueError::InvalidSubject {
            subject: s.to_owned(),
            source: Some(e),
        })?;
        Self::try_from(name)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.name, f)
    }
}

/// Validity settings for issued certificates. Defaults: one year, backdated five minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssueOptions {
    /// How long the certificate is valid, counted from `now` (default 365 days). Clamped
    /// to the CA certificate's own notAfter.
    pub validity: Duration,
    /// How far notBefore lies before `now` to absorb device clock skew (default 5 minutes,
    /// at most [`MAX_BACKDATE`]).
    pub backdate: Duration,
}

impl Default for IssueOptions {
    fn default() -> Self {
        Self {
            validity: Duration::from_secs(365 * 24 * 3600),
            backdate: Duration::from_secs(5 * 60),
        }
    }
}

/// A certificate this CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    der: Vec<u8>,
    certificate: Certificate,
    thumbprint: Thumbprint,
}

impl IssuedCertificate {
    /// DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Decoded certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// SHA-1 thumbprint (uppercase hex via `Display`).
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }

    /// Serial number as uppercase hex.
    pub fn serial_hex(&self) -> String {
        hex_upper(
            self.certificate
                .tbs_certificate()
                .serial_number()
                .as_bytes(),
        )
    }

    /// PEM (`CERTIFICATE`), LF line endings.
    pub fn to_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.der)
    }

    /// Base64 of the DER on one line, as the provisioning document's
    /// `EncodedCertificate` parm needs it.
    pub fn to_base64(&self) -> String {
        to_base64(&self.der)
    }
}

pub(crate) fn to_base64(der: &[u8]) -> String {
    winmdm_types::base64::encode(der)
}

pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// The device-certificate CA: its certificate and a [`Signer`] for its key.
pub struct CertificateAuthority<S: Signer = RsaSigner> {
    cert: Certificate,
    cert_der: Vec<u8>,
    subject_der: Vec<u8>,
    key_id: Vec<u8>,
    public_key: rsa::PublicKey,
    signer: S,
}

impl<S: Signer> fmt::Debug for CertificateAuthority<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .field("thumbprint", &self.thumbprint().to_string())
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority<RsaSigner> {
    /// Loads a CA from a PEM certificate and a PEM RSA key (PKCS#8 or PKCS#1).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let (label, der) =
            der::pem::decode_vec(cert_pem.trim().as_bytes()).map_err(CaError::Pem)?;
        if label != "CERTIFICATE" {
            return Err(CaError::PemLabel(label.to_owned()));
        }
        Self::new(&der, RsaSigner::from_pem(key_pem)?)
    }

    /// Generates a self-signed development CA (RSA, `key_bits` bits, valid from five
    /// minutes before `now` for `validity`). For examples and tests, not production.
    pub fn generate_dev<R: CryptoRng + ?Sized>(
        subject: &Subject,
        key_bits: usize,
        now: SystemTime,
        validity: Duration,
        rng: &mut R,
    ) -> Result<Self, CaError> {
        let signer = RsaSigner::generate(key_bits, rng)?;
        let spki = signer
            .key
            .to_public_key()
            .to_public_key_der()
            .map_err(CaError::PublicKey)?;
        let spki = spki.as_bytes();
        let der = (|| {
            let key_id = key_identifier(spki)?;
            let exts = dev_ca_extensions(&key_id)?;
            let validity = validity_for(now, Duration::from_secs(5 * 60), validity, None)?;
            build_certificate(
                &signer,
                &random_serial(rng)?,
                subject.der(),
                validity,
                subject.der(),
                spki,
                exts,
            )
        })()
        .map_err(CaError::Issue)?;
        Self::new(&der, signer)
    }

    /// The CA key as PKCS#8 PEM.
    pub fn private_key_pem(&self) -> Result<String, CaError> {
        self.signer.private_key_pem()
    }
}

impl<S: Signer> CertificateAuthority<S> {
    /// A CA from its DER certificate (RSA key) and a signer for that key. If the signer
    /// knows its public key, it must match the certificate.
    pub fn new(cert_der: &[u8], signer: S) -> Result<Self, CaError> {
        let cert = Certificate::from_der(cert_der).map_err(CaError::Certificate)?;
        let tbs = cert.tbs_certificate();
        let spki_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(CaError::Certificate)?;
        let public_key = sig::rsa_public_key(&spki_der).ok_or(CaError::UnsupportedKey)?;
        if signer.public_key_der().is_some_and(|k| k != spki_der) {
            return Err(CaError::KeyMismatch);
        }
        let key_id = match tbs.get_extension::<SubjectKeyIdentifier>() {
            Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
            _ => key_identifier(&spki_der).map_err(|e| match e {
                IssueError::PublicKey(e) => CaError::Certificate(e),
                e => CaError::Issue(e),
            })?,
        };
        let subject_der = tbs.subject().to_der().map_err(CaError::Certificate)?;
        Ok(Self {
            cert_der: cert.to_der().map_err(CaError::Certificate)?,
            cert,
            subject_der,
            key_id,
            public_key,
            signer,
        })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.cert_der)
    }

    /// Base64 of the CA certificate's DER on one line (`Root/System/.../EncodedCertificate`).
    pub fn certificate_base64(&self) -> String {
        to_base64(&self.cert_der)
    }

    /// SHA-1 thumbprint of the CA certificate (the `Root/System/<thumbprint>` name in the
    /// provisioning document).
    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::of(&self.cert_der)
    }

    /// The signer.
    pub fn signer(&self) -> &S {
        &self.signer
    }

    /// Issues the device certificate for a verified CSR.
    ///
    /// Only the CSR's public key is used: the subject is `subject` (server-chosen, never
    /// copied from the CSR) and the extensions are fixed: KeyUsage digitalSignature +
    /// keyEncipherment (critical; digitalSignature alone for an EC key), ExtendedKeyUsage clientAuth, BasicConstraints CA:false
    /// (critical), SubjectKeyIdentifier and AuthorityKeyIdentifier. The serial number is
    /// 126 random bits, positive. `now` is the issuing time (sans-IO: the caller reads
    /// the clock).
    pub fn issue<R: CryptoRng + ?Sized>(
        &self,
        csr: &Csr,
        subject: &Subject,
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedCertificate, IssueError> {
        self.issue_for_key(csr.public_key_der(), subject, options, now, rng)
    }

    /// Like [`issue`](Self::issue) for a DER SubjectPublicKeyInfo whose possession the
    /// caller has established some other way.
    pub fn issue_for_key<R: CryptoRng + ?Sized>(
        &self,
        spki_der: &[u8],
        subject: &Subject,
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedCertificate, IssueError> {
        self.issue_with(
            spki_der,
            subject,
            options,
            now,
            rng,
            ID_KP_CLIENT_AUTH,
            None,
        )
    }

    /// Issues a TLS server certificate for the server's own HTTPS endpoint: like
    /// [`issue_for_key`](Self::issue_for_key), with ExtendedKeyUsage serverAuth and a
    /// SubjectAltName naming `dns_names` and `ip_addresses` (IPv4 or IPv6 bytes, 4 or 16
    /// long). Windows checks the server certificate against the name in the discovery
    /// URL, so every name the server is reached by must be listed. The key may be RSA
    /// or EC (an ECDSA P-256 key makes the server's TLS handshakes cheaper); an EC key's
    /// KeyUsage is digitalSignature alone (RFC 5480).
    #[allow(clippy::too_many_arguments)]
    pub fn issue_tls_server<R: CryptoRng + ?Sized>(
        &self,
        spki_der: &[u8],
        subject: &Subject,
        dns_names: &[&str],
        ip_addresses: &[std::net::IpAddr],
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedCertificate, IssueError> {
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let mut names = Vec::with_capacity(dns_names.len() + ip_addresses.len());
        for d in dns_names {
            let ia5 = der::asn1::Ia5String::new(d)
                .map_err(|_| IssueError::InvalidOptions("DNS name is not IA5 text"))?;
            names.push(GeneralName::DnsName(ia5));
        }
        for ip in ip_addresses {
            let bytes = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(GeneralName::IpAddress(octets(&bytes)?));
        }
        if names.is_empty() {
            return Err(IssueError::InvalidOptions(
                "a TLS server certificate needs at least one name",
            ));
        }
        let san = extension(ID_CE_SUBJECT_ALT_NAME, false, &SubjectAltName(names))?;
        self.issue_with(
            spki_der,
            subject,
            options,
            now,
            rng,
            ID_KP_SERVER_AUTH,
            Some(san),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn issue_with<R: CryptoRng + ?Sized>(
        &self,
        spki_der: &[u8],
        subject: &Subject,
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
        eku: ObjectIdentifier,
        san: Option<Extension>,
    ) -> Result<IssuedCertificate, IssueError> {
        if options.backdate > MAX_BACKDATE {
            return Err(IssueError::InvalidOptions("backdate exceeds MAX_BACKDATE"));
        }
        if options.validity.is_zero() {
            return Err(IssueError::InvalidOptions("validity must not be zero"));
        }
        let ca_validity = self.cert.tbs_certificate().validity();
        let ca_from = ca_validity.not_before.to_system_time();
        let ca_until = ca_validity.not_after.to_system_time();
        if now < ca_from || now > ca_until {
            return Err(IssueError::CaNotValid);
        }
        let key_id = key_identifier(spki_der)?;
        let ku = key_usage_for(spki_der)?;
        let validity = validity_for(
            now,
            options.backdate,
            options.validity,
            Some((ca_from, ca_until)),
        )?;
        let mut exts = vec![
            extension(ID_CE_KEY_USAGE, true, &KeyUsage(ku))?,
            extension(ID_CE_EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![eku]))?,
            extension(
                ID_CE_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            extension(
                ID_CE_SUBJECT_KEY_IDENTIFIER,
                false,
                &SubjectKeyIdentifier(octets(&key_id)?),
            )?,
            extension(
                ID_CE_AUTHORITY_KEY_IDENTIFIER,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(octets(&self.key_id)?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
        ];
        exts.extend(san);
        let der = build_certificate(
            &self.signer,
            &random_serial(rng)?,
            &self.subject_der,
            validity,
            subject.der(),
            spki_der,
            exts,
        )?;
        let certificate = Certificate::from_der(&der).map_err(IssueError::Encode)?;
        Ok(IssuedCertificate {
            thumbprint: Thumbprint::of(&der),
            der,
            certificate,
        })
    }

    /// Whether `cert` was issued by this CA: its issuer is our subject and its signature
    /// verifies with our key.
    pub fn issued(&self, cert: &Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        let Ok(issuer) = tbs.issuer().to_der() else {
            return false;
        };
        if issuer != self.subject_der {
            return false;
        }
        let Some(alg) = SignatureAlgorithm::from_identifier(cert.signature_algorithm()) else {
            return false;
        };
        let (Ok(tbs_der), Some(signature)) = (tbs.to_der(), cert.signature().as_bytes()) else {
            return false;
        };
        sig::verify(&self.public_key, alg, &tbs_der, signature)
    }
}

fn dev_ca_extensions(key_id: &[u8]) -> Result<Vec<Extension>, IssueError> {
    let ca_ku: FlagSet<KeyUsages> = KeyUsages::KeyCertSign | KeyUsages::CRLSign;
    Ok(vec![
        extension(
            ID_CE_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
        )?,
        extension(ID_CE_KEY_USAGE, true, &KeyUsage(ca_ku))?,
        extension(
            ID_CE_SUBJECT_KEY_IDENTIFIER,
            false,
            &SubjectKeyIdentifier(octets(key_id)?),
        )?,
        extension(
            ID_CE_AUTHORITY_KEY_IDENTIFIER,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(octets(key_id)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
    ])
}

fn octets(bytes: &[u8]) -> Result<OctetString, IssueError> {
    OctetString::new(bytes.to_vec()).map_err(IssueError::Encode)
}

/// KeyUsage for an end-entity key: digitalSignature + keyEncipherment for RSA (and
/// anything else), digitalSignature alone for an EC key (`id-ecPublicKey`), for which
/// RFC 5480 §3 does not allow keyEncipherment.
fn key_usage_for(spki_der: &[u8]) -> Result<FlagSet<KeyUsages>, IssueError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(IssueError::PublicKey)?;
    Ok(if spki.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY {
        KeyUsages::DigitalSignature.into()
    } else {
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
    })
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, IssueError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(IssueError::PublicKey)?;
    Ok(Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec())
}

/// 16 random bytes with the top bit cleared (positive) and the next one set (so the
/// encoding is always 16 bytes): 126 bits of randomness.
fn random_serial<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<SerialNumber, IssueError> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(IssueError::Encode)
}

fn extension<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, IssueError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(IssueError::Encode)?)
            .map_err(IssueError::Encode)?,
    })
}

fn to_time(t: SystemTime) -> Result<Time, IssueError> {
    // Certificates carry whole seconds.
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| IssueError::TimeOutOfRange)?
        .as_secs();
    let dt =
        der::DateTime::from_unix_duration(Duration::from_secs(secs)).map_err(IssueError::Time)?;
    Ok(Time::from(dt))
}

fn validity_for(
    now: SystemTime,
    backdate: Duration,
    validity: Duration,
    clamp: Option<(SystemTime, SystemTime)>,
) -> Result<Validity, IssueError> {
    let mut from = now
        .checked_sub(backdate)
        .ok_or(IssueError::TimeOutOfRange)?;
    let mut until = now
        .checked_add(validity)
        .ok_or(IssueError::TimeOutOfRange)?;
    if let Some((ca_from, ca_until)) = clamp {
        from = from.max(ca_from);
        until = until.min(ca_until);
    }
    Ok(Validity::new(to_time(from)?, to_time(until)?))
}

/// `TBSCertificate` (RFC 5280 §4.1) as this CA writes it: v3, no unique identifiers, the
/// issuer (the CA certificate's subject), the subject and the key as already-encoded DER,
/// so they go out byte for byte. `x509_cert`'s own `TbsCertificate` has private fields.
#[derive(Sequence)]
struct TbsCertificateOut<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: AnyRef<'a>,
    validity: Validity,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

/// Version field value of a v3 certificate.
const V3: u8 = 2;

fn build_certificate<S: Signer + ?Sized>(
    signer: &S,
    serial: &SerialNumber,
    issuer_der: &[u8],
    validity: Validity,
    subject_der: &[u8],
    spki_der: &[u8],
    extensions: Vec<Extension>,
) -> Result<Vec<u8>, IssueError> {
    let any = |der| AnyRef::from_der(der).map_err(IssueError::Encode);
    let alg = signer.signature_algorithm();
    let tbs = TbsCertificateOut {
        version: V3,
        serial_number: serial.clone(),
        signature: alg.clone(),
        issuer: any(issuer_der)?,
        validity,
        subject: any(subject_der)?,
        subject_public_key_info: any(spki_der).map_err(|e| match e {
            IssueError::Encode(e) => IssueError::PublicKey(e),
            e => e,
        })?,
        extensions,
    }
    .to_der()
    .map_err(IssueError::Encode)?;
    let signature = signer.sign(&tbs)?;
    // Certificate (RFC 5280 §4.1).
    sig::SignedOut {
        signed: any(&tbs)?,
        algorithm: alg,
        signature: BitString::from_bytes(&signature).map_err(IssueError::Encode)?,
    }
    .to_der()
    .map_err(IssueError::Encode)
}
