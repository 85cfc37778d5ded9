//! Fuzz target bodies for the PKI module of winmdm-enroll: the PKCS#10 parser (DER, PEM,
//! base64) with its proof-of-possession check, and the PKCS#7 renewal/recovery parser.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use winmdm_enroll::pki::{
    AlgorithmIdentifierOwned, CertificateAuthority, Csr, CsrPolicy, RenewalPolicy, SignError,
    SignatureAlgorithm, Signer,
};

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[("pki_csr", csr)];

/// The root certificate of the Windows 10 19043 capture, standing in as "our" CA: the
/// renewal checks run up to the signature and issuer comparisons.
const ROOT: &[u8] =
    include_bytes!("../../enroll/tests/data/pki/win10-19043-provisioningdoc.root-cert.der");

/// A signer without a key: the fuzz body only verifies, it never issues.
struct VerifyOnly;

impl Signer for VerifyOnly {
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        SignatureAlgorithm::Sha256WithRsa.identifier()
    }
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Backend("verify-only".into()))
    }
}

fn ca() -> Option<&'static CertificateAuthority<VerifyOnly>> {
    static CA: OnceLock<Option<CertificateAuthority<VerifyOnly>>> = OnceLock::new();
    CA.get_or_init(|| CertificateAuthority::new(ROOT, VerifyOnly).ok())
        .as_ref()
}

/// Decodes `data` as a certificate request (DER, then any form) and as a PKCS#7 renewal
/// or recovery request; reads every accessor of what decodes. Must never panic.
pub fn csr(data: &[u8]) {
    let policy = CsrPolicy::default();
    let decoded = [Csr::from_der(data, &policy), Csr::from_any(data, &policy)];
    for c in decoded.into_iter().flatten() {
        let _ = (
            c.common_name(),
            c.device_id(),
            c.key_bits(),
            c.signature_algorithm(),
        );
        let _ = (
            c.subject_der().len(),
            c.info_der().len(),
            c.public_key_der().len(),
        );
        for a in c.attributes() {
            let _ = (a.oid, a.values.len());
        }
        for e in c.extensions() {
            let _ = (e.extn_id, e.critical);
        }
    }
    if let Some(ca) = ca() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let policy = RenewalPolicy::default();
        let _ = ca.verify_renewal(data, now, &policy);
        let _ = ca.verify_robo_renewal(ROOT, data, now, &policy);
        let _ = ca.verify_recovery(data, None, &policy);
    }
}
