//! Renewal (RequestType Renew: PKCS#7 signed by the current certificate; ROBO) and
//! recovery (RequestType Recovery).

use core::fmt;
use std::time::{Duration, SystemTime};

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetString, OctetStringRef};
use der::{Decode, Encode, EncodingRules, Reader as _, SliceReader, Tag, TagNumber, Tagged as _};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::csr::{Csr, CsrPolicy};
use super::error::RenewalError;
use super::issue::{CertificateAuthority, Signer, Thumbprint};
use super::sig::{self, DigestAlgorithm, SignatureAlgorithm};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// Limits and the renewal window. Secure defaults via [`Default`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenewalPolicy {
    /// Rules for the new PKCS#10 request inside the PKCS#7.
    pub csr: CsrPolicy,
    /// Largest accepted PKCS#7 in bytes (default 64 KiB).
    pub max_len: usize,
    /// How long before its notAfter a certificate may be renewed (default 60 days). Keep
    /// it at least as long as the `RenewPeriod` sent in the provisioning document
    /// (Microsoft recommends 40 to 60 days) plus a retry interval.
    pub renewal_window: Duration,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        Self {
            csr: CsrPolicy::default(),
            max_len: 64 * 1024,
            renewal_window: Duration::from_secs(60 * 24 * 3600),
        }
    }
}

/// A certificate presented by the device (PKCS#7 signer, TLS client certificate or the
/// previous certificate in a recovery) that this CA issued.
#[derive(Clone, PartialEq, Eq)]
pub struct CurrentCertificate {
    der: Vec<u8>,
    certificate: Certificate,
}

impl fmt::Debug for CurrentCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentCertificate")
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .field("thumbprint", &self.thumbprint().to_string())
            .finish()
    }
}

impl CurrentCertificate {
    fn new(certificate: Certificate) -> Result<Self, RenewalError> {
        let der = certificate.to_der().map_err(RenewalError::Certificate)?;
        Ok(Self { der, certificate })
    }

    fn from_der(der: &[u8]) -> Result<Self, RenewalError> {
        let certificate = Certificate::from_der(der).map_err(RenewalError::Certificate)?;
        Self::new(certificate)
    }

    /// DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Decoded certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// SHA-1 thumbprint: look it up to check the device is the same requester and is not
    /// blocked.
    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::of(&self.der)
    }

    /// notAfter.
    pub fn not_after(&self) -> SystemTime {
        self.certificate
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// notBefore.
    pub fn not_before(&self) -> SystemTime {
        self.certificate
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }
}

/// A renewal request that passed every check: the new CSR (proof of possession verified)
/// and the certificate being renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenewalRequest {
    /// The new certificate request.
    pub csr: Csr,
    /// The certificate being renewed (signer of the PKCS#7 or TLS client certificate).
    pub current: CurrentCertificate,
}

/// A recovery request: the new CSR and, where known, the previous certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryRequest {
    /// The new certificate request.
    pub csr: Csr,
    /// The previous certificate (PKCS#7 signer or the one the caller supplied), checked
    /// to be issued by this CA; its validity period is not enforced.
    pub previous: Option<CurrentCertificate>,
}

fn malformed(source: der::Error) -> RenewalError {
    RenewalError::Malformed {
        position: source.position().map_or(0, |p| u32::from(p) as usize),
        source,
    }
}

fn looks_like_pkcs7(body: &[u8]) -> bool {
    super::RequestKind::detect(body) == Some(super::RequestKind::Pkcs7)
}

/// Decodes a PKCS#7 SignedData holding a PKCS#10 request, verifies the CMS signature with
/// the enclosed signer certificate and the inner request's own proof of possession.
fn open_pkcs7(body: &[u8], policy: &RenewalPolicy) -> Result<(Csr, Certificate), RenewalError> {
    if body.len() > policy.max_len {
        return Err(RenewalError::TooLarge {
            len: body.len(),
            max: policy.max_len,
        });
    }
    let (sd, rules) = decode_signed_data(body)?;
    let content = encapsulated_request(&sd, rules)?;
    let (si, signer_cert) = single_signer(&sd)?;
    let digest = check_signer_algorithms(&sd, si, policy)?;
    let signed_digest = signed_digest(body, si, digest, &content)?;
    verify_signer(&signer_cert, si, digest, &signed_digest)?;
    let csr = Csr::from_der(&content, &policy.csr)?;
    Ok((csr, signer_cert))
}

/// The ContentInfo, which must hold a SignedData: DER first, then BER (indefinite
/// lengths, constructed OCTET STRING) as streaming CMS encoders produce it. Signed
/// attributes are DER in both (RFC 5652 §5.4). Returns the rules that worked.
fn decode_signed_data(body: &[u8]) -> Result<(SignedData, EncodingRules), RenewalError> {
    let (ci, rules) = match ContentInfo::from_der(body) {
        Ok(ci) => (ci, EncodingRules::Der),
        Err(der_error) => match ContentInfo::from_ber(body) {
            Ok(ci) => (ci, EncodingRules::Ber),
            Err(_) => return Err(malformed(der_error)),
        },
    };
    if ci.content_type != ID_SIGNED_DATA {
        return Err(RenewalError::UnsupportedContentType(ci.content_type));
    }
    let sd = ci.content.decode_as_encoding(rules).map_err(malformed)?;
    Ok((sd, rules))
}

/// The encapsulated id-data content (the new PKCS#10), BER chunks joined.
fn encapsulated_request(sd: &SignedData, rules: EncodingRules) -> Result<Vec<u8>, RenewalError> {
    if sd.encap_content_info.econtent_type != ID_DATA {
        return Err(RenewalError::UnsupportedContentType(
            sd.encap_content_info.econtent_type,
        ));
    }
    let content = match &sd.encap_content_info.econtent {
        Some(any) => any
            .decode_as_encoding::<OctetString>(rules)
            .map_err(malformed)?,
        None => return Err(RenewalError::NoContent),
    };
    let joined = match rules {
        EncodingRules::Ber => join_ber_chunks(content.as_bytes()),
        _ => None,
    };
    Ok(joined.unwrap_or_else(|| content.as_bytes().to_vec()))
}

/// The one SignerInfo and its certificate from the SignedData's `certificates`.
fn single_signer(sd: &SignedData) -> Result<(&SignerInfo, Certificate), RenewalError> {
    let signers = sd.signer_infos.0.as_slice();
    let [si] = signers else {
        return Err(RenewalError::SignerCount(signers.len()));
    };
    let certs = sd
        .certificates
        .as_ref()
        .map(|c| c.0.as_slice())
        .unwrap_or_default();
    let signer_cert = certs
        .iter()
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            _ => None,
        })
        .find(|c| matches_signer(c, &si.sid))
        .ok_or(RenewalError::SignerCertificateMissing)?
        .clone();
    Ok((si, signer_cert))
}

/// Versions consistent with the signer identifier, the digest listed and supported, the
/// signature algorithm RSA PKCS#1 v1.5 with that digest, SHA-1 only if the policy allows.
fn check_signer_algorithms(
    sd: &SignedData,
    si: &SignerInfo,
    policy: &RenewalPolicy,
) -> Result<DigestAlgorithm, RenewalError> {
    // RFC 5652 §5.1 and §5.3: the versions follow from the signer identifier choice
    // (no attribute certificates or other formats are expected here).
    let expected = match si.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => CmsVersion::V1,
        SignerIdentifier::SubjectKeyIdentifier(_) => CmsVersion::V3,
    };
    if si.version != expected || sd.version != expected {
        return Err(RenewalError::VersionMismatch);
    }
    if !sd
        .digest_algorithms
        .iter()
        .any(|a| a.oid == si.digest_alg.oid)
    {
        return Err(RenewalError::DigestAlgorithmNotListed);
    }
    let digest = DigestAlgorithm::from_digest_oid(&si.digest_alg.oid)
        .ok_or(RenewalError::UnsupportedAlgorithm(si.digest_alg.oid))?;
    if !sig::null_or_absent_parameters(&si.signature_algorithm) {
        return Err(RenewalError::AlgorithmParameters);
    }
    if si.signature_algorithm.oid != sig::RSA_ENCRYPTION {
        match SignatureAlgorithm::from_oid(&si.signature_algorithm.oid) {
            Some(a) if a.digest() == digest => {}
            _ => {
                return Err(RenewalError::UnsupportedAlgorithm(
                    si.signature_algorithm.oid,
                ));
            }
        }
    }
    if digest == DigestAlgorithm::Sha1 && !policy.csr.allow_sha1 {
        return Err(RenewalError::Sha1NotAllowed);
    }
    Ok(digest)
}

/// The digest the signature covers: of the content without signed attributes; with them,
/// of the attributes as sent, after checking messageDigest (and contentType, if present)
/// against the content.
fn signed_digest(
    body: &[u8],
    si: &SignerInfo,
    digest: DigestAlgorithm,
    content: &[u8],
) -> Result<Vec<u8>, RenewalError> {
    let content_digest = digest.digest(content);
    let Some(attrs) = &si.signed_attrs else {
        return Ok(content_digest);
    };
    let mut message_digest = None;
    for attr in attrs.iter() {
        if attr.oid == ID_MESSAGE_DIGEST {
            let v = attr
                .values
                .iter()
                .next()
                .ok_or(RenewalError::DigestMismatch)?;
            message_digest = Some(v.decode_as::<OctetString>().map_err(malformed)?);
        } else if attr.oid == ID_CONTENT_TYPE {
            let v = attr
                .values
                .iter()
                .next()
                .ok_or(RenewalError::EmptyContentType)?;
            let ct = v.decode_as::<ObjectIdentifier>().map_err(malformed)?;
            if ct != ID_DATA {
                return Err(RenewalError::UnsupportedContentType(ct));
            }
        }
    }
    match message_digest {
        Some(md) if md.as_bytes() == content_digest.as_slice() => {}
        _ => return Err(RenewalError::DigestMismatch),
    }
    // Verify over the attributes exactly as sent: the decoder sorts SET OF, so a
    // re-encoding could differ from what the client signed.
    let signed = match raw_signed_attrs(body) {
        Some(raw) => raw,
        None => attrs.to_der().map_err(malformed)?,
    };
    Ok(digest.digest(&signed))
}

/// The RSA PKCS#1 v1.5 signature of `si` over `hash` with the signer certificate's key.
fn verify_signer(
    signer_cert: &Certificate,
    si: &SignerInfo,
    digest: DigestAlgorithm,
    hash: &[u8],
) -> Result<(), RenewalError> {
    let spki_der = signer_cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(malformed)?;
    let key = sig::rsa_public_key(&spki_der).ok_or(RenewalError::UnsupportedSignerKey)?;
    if !sig::verify_prehash(&key, digest, hash, si.signature.as_bytes()) {
        return Err(RenewalError::BadSignature);
    }
    Ok(())
}

/// A BER constructed OCTET STRING reaches us (through `der`'s `Any`) as the concatenated
/// chunk encodings `04 len bytes 04 len bytes ...`. The content we expect is a PKCS#10,
/// which starts with a SEQUENCE (0x30), never with 0x04, so chunks are unambiguous: join
/// them when they cover the value exactly.
fn join_ber_chunks(value: &[u8]) -> Option<Vec<u8>> {
    let mut reader = SliceReader::new(value).ok()?;
    if Tag::peek(&reader).ok()? != Tag::OctetString {
        return None;
    }
    let mut out = Vec::with_capacity(value.len());
    while !reader.is_finished() {
        let chunk: &OctetStringRef = reader.decode().ok()?;
        out.extend_from_slice(chunk.as_bytes());
    }
    Some(out)
}

/// The elements inside a constructed DER value, in order.
fn children(any: AnyRef<'_>) -> Option<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(any.value()).ok()?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode().ok()?);
    }
    Some(out)
}

/// The signer's signedAttrs as sent, re-tagged as the SET OF the signature covers
/// (RFC 5652 §5.4). `None` if the layout is not the expected single-signer SignedData.
fn raw_signed_attrs(body: &[u8]) -> Option<Vec<u8>> {
    // ContentInfo { contentType, [0] EXPLICIT SignedData { ..., signerInfos } }, and
    // SignerInfo { version, sid, digestAlgorithm, [0] IMPLICIT signedAttrs, ... }.
    let ci = AnyRef::from_der(body).ok()?;
    let explicit = *children(ci)?.get(1)?;
    let sd = *children(explicit)?.first()?;
    let signer_infos = *children(sd)?.last()?;
    let signer_info = *children(signer_infos)?.first()?;
    let signed_attrs_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    let attrs = children(signer_info)?
        .into_iter()
        .skip(3)
        .find(|t| t.tag() == signed_attrs_tag)?;
    // The same contents under the SET OF tag.
    AnyRef::new(Tag::Set, attrs.value()).ok()?.to_der().ok()
}

fn matches_signer(cert: &Certificate, sid: &SignerIdentifier) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            tbs.issuer() == &ias.issuer && tbs.serial_number() == &ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => matches!(
            tbs.get_extension::<SubjectKeyIdentifier>(),
            Ok(Some((_, own))) if own == *ski
        ),
    }
}

impl<S: Signer> CertificateAuthority<S> {
    fn check_current(
        &self,
        current: &CurrentCertificate,
        now: SystemTime,
        policy: &RenewalPolicy,
    ) -> Result<(), RenewalError> {
        if !self.issued(current.certificate()) {
            return Err(RenewalError::NotIssuedByUs);
        }
        let (from, until) = (current.not_before(), current.not_after());
        if now < from || now > until {
            return Err(RenewalError::CertificateNotValid);
        }
        let window_start = until.checked_sub(policy.renewal_window).unwrap_or(from);
        if now < window_start {
            return Err(RenewalError::NotInRenewalWindow);
        }
        Ok(())
    }

    /// Checks a RequestType Renew body: a PKCS#7 SignedData (DER) wrapping the new PKCS#10,
    /// signed with the current certificate's key. Verifies the CMS signature, that the
    /// current certificate was issued by this CA, that `now` lies inside its validity and
    /// its renewal window, and the new request's proof of possession.
    ///
    /// The caller still checks that the thumbprint belongs to the same, non-blocked device
    /// (`RenewalRequest::current`).
    pub fn verify_renewal(
        &self,
        pkcs7: &[u8],
        now: SystemTime,
        policy: &RenewalPolicy,
    ) -> Result<RenewalRequest, RenewalError> {
        let (csr, signer) = open_pkcs7(pkcs7, policy)?;
        let current = CurrentCertificate::new(signer)?;
        self.check_current(&current, now, policy)?;
        Ok(RenewalRequest { csr, current })
    }

    /// Checks a ROBO (renew on behalf of) request: the device authenticated the TLS
    /// connection with its current certificate, `tls_client_cert` (DER). The body is the
    /// PKCS#7 (whose signer must be that same certificate) or a bare PKCS#10. The same
    /// issuer, validity and renewal-window checks as [`verify_renewal`](Self::verify_renewal)
    /// apply to the TLS certificate.
    pub fn verify_robo_renewal(
        &self,
        tls_client_cert: &[u8],
        body: &[u8],
        now: SystemTime,
        policy: &RenewalPolicy,
    ) -> Result<RenewalRequest, RenewalError> {
        let current = CurrentCertificate::from_der(tls_client_cert)?;
        self.check_current(&current, now, policy)?;
        let csr = if looks_like_pkcs7(body) {
            let (csr, signer) = open_pkcs7(body, policy)?;
            if CurrentCertificate::new(signer)?.der != current.der {
                return Err(RenewalError::ClientCertificateMismatch);
            }
            csr
        } else {
            Csr::from_der(body, &policy.csr)?
        };
        Ok(RenewalRequest { csr, current })
    }

    /// Checks a RequestType Recovery body: PKCS#7 (signer must be a certificate this CA
    /// issued; expiry is not enforced, recovery exists for devices whose certificate or key
    /// is unusable) or a bare PKCS#10. `previous` is the certificate the server has on
    /// record for the device, if any: it must be ours and, when the body is a PKCS#7, be
    /// the signer.
    ///
    /// Recovery does not prove the device's identity by itself: authenticate it through
    /// the WS-Security token (see [`crate::token`]) before issuing.
    pub fn verify_recovery(
        &self,
        body: &[u8],
        previous: Option<&[u8]>,
        policy: &RenewalPolicy,
    ) -> Result<RecoveryRequest, RenewalError> {
        let previous = previous.map(CurrentCertificate::from_der).transpose()?;
        if previous
            .as_ref()
            .is_some_and(|p| !self.issued(p.certificate()))
        {
            return Err(RenewalError::NotIssuedByUs);
        }
        if looks_like_pkcs7(body) {
            let (csr, signer) = open_pkcs7(body, policy)?;
            let signer = CurrentCertificate::new(signer)?;
            if !self.issued(signer.certificate()) {
                return Err(RenewalError::NotIssuedByUs);
            }
            if previous.as_ref().is_some_and(|p| p.der != signer.der) {
                return Err(RenewalError::ClientCertificateMismatch);
            }
            Ok(RecoveryRequest {
                csr,
                previous: Some(signer),
            })
        } else {
            if body.len() > policy.max_len {
                return Err(RenewalError::TooLarge {
                    len: body.len(),
                    max: policy.max_len,
                });
            }
            let csr = Csr::from_der(body, &policy.csr)?;
            Ok(RecoveryRequest { csr, previous })
        }
    }
}
