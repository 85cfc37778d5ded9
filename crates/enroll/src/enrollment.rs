//! The enrollment server's side of MS-MDE2 as one typed flow: [`EnrollmentServer`]
//! (the server's URLs, provider id and policy) answers Discover and GetPolicies and
//! starts the provisioning document; [`EnrollmentRequest`] carries one RequestSecurityToken
//! through authentication, CSR verification and issuing to the RSTRC.

use std::time::{Duration, SystemTime};

use rsa::rand_core::CryptoRng;

use crate::discovery::{AuthPolicy, Discover, DiscoverResponse, Version};
use crate::error::{MessageError, MessageLimits};
use crate::fault::{Fault, FaultCode};
use crate::ns;
use crate::pki::{
    CertificateAuthority, Csr, CsrError, CsrPolicy, IssueError, IssueOptions, IssuedCertificate,
    Signer, Subject,
};
use crate::pki::{CurrentCertificate, RenewalError, RenewalPolicy};
use crate::provisioning::ProvisioningDoc;
use crate::soap::{Envelope, Header, ValueType};
use crate::standard::{
    EnrollmentType, HttpsUrl, ProviderId, ProvisioningBuildError, StandardProvisioning,
};
use crate::token::{AuthError, Authenticator, Credential};
use crate::wstep::{
    AdditionalContext, RequestSecurityToken, RequestSecurityTokenResponseCollection, RequestType,
};
use crate::xcep::{CertificateValidity, GetPolicies, GetPoliciesResponse, Oid};

/// An enrollment step failed. Variants are grouped by phase; [`EnrollError::fault`] gives
/// the MS-MDE2 SOAP fault to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    // -- decoding the request
    /// The request is not a well-formed message of the expected kind.
    #[error("decoding the request: {0}")]
    Decode(#[from] MessageError),
    /// The RST's RequestType is not Issue (renewal and recovery go through
    /// `pki::CertificateAuthority::verify_renewal` and friends).
    #[error("RequestType {0:?} is not Issue")]
    NotIssue(Option<String>),
    /// The RST carries no PKCS#10 BinarySecurityToken, or its text is not base64 DER.
    #[error("the RST carries no PKCS#10 certificate request")]
    MissingCsr,
    /// The `EnrollmentType` context item is neither `Full` nor `Device`.
    #[error("unknown EnrollmentType {0:?}")]
    UnknownEnrollmentType(String),
    // -- discovery
    /// The client's AuthPolicies list does not contain the server's policy.
    #[error("the client does not offer the AuthPolicy {0}")]
    AuthPolicyNotOffered(String),
    /// Federated needs an AuthenticationServiceUrl.
    #[error("AuthPolicy Federated needs an authentication URL")]
    MissingAuthenticationUrl,
    // -- authentication
    /// The Security header has neither a UsernameToken nor a BinarySecurityToken.
    #[error("the request carries no credential")]
    MissingCredential,
    /// The authenticator refused the credential.
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    // -- certificate request
    /// The CSR does not decode or its proof of possession fails.
    #[error("certificate request: {0}")]
    Csr(#[from] CsrError),
    /// The CSR's DeviceID extension and the `DeviceID` context item differ.
    #[error("DeviceID {csr:?} in the CSR differs from {context:?} in AdditionalContext")]
    DeviceIdMismatch {
        /// From the CSR extension.
        csr: String,
        /// From AdditionalContext.
        context: String,
    },
    /// Neither the CSR nor AdditionalContext names a DeviceID (the certificate subject).
    #[error("the request names no DeviceID")]
    MissingDeviceId,
    // -- issuing and answering
    /// Issuing the certificate failed.
    #[error("issuing: {0}")]
    Issue(#[from] IssueError),
    /// The provisioning document or a server setting is invalid.
    #[error("provisioning: {0}")]
    Provisioning(#[from] ProvisioningBuildError),
    // -- renewal and recovery
    /// The RST's RequestType is none of Issue, Renew and Recovery
    /// ([`EnrollmentRequest::decode_any`]), or not the one the called check is for.
    #[error("RequestType {0:?} is not handled here")]
    UnexpectedRequestType(Option<String>),
    /// A Renew or Recovery RST carries no BinarySecurityToken that is base64 of a PKCS#7
    /// (or of a bare PKCS#10, for ROBO and recovery).
    #[error("the RST carries no renewal request")]
    MissingRenewalRequest,
    /// The renewal or recovery request failed a check (signature, issuer, validity,
    /// renewal window, the new PKCS#10).
    #[error("renewal: {0}")]
    Renewal(#[from] RenewalError),
}

impl EnrollError {
    /// The MS-MDE2 subcode for this error: `MessageFormat` (decoding), `Authentication`,
    /// `CertificateRequest`, or `EnrollmentServer` (issuing, configuration).
    pub fn fault_code(&self) -> FaultCode {
        match self {
            EnrollError::Decode(_)
            | EnrollError::NotIssue(_)
            | EnrollError::MissingCsr
            | EnrollError::UnknownEnrollmentType(_)
            | EnrollError::AuthPolicyNotOffered(_) => FaultCode::MESSAGE_FORMAT,
            EnrollError::MissingCredential | EnrollError::Auth(_) => FaultCode::AUTHENTICATION,
            EnrollError::Csr(_)
            | EnrollError::DeviceIdMismatch { .. }
            | EnrollError::MissingDeviceId => FaultCode::CERTIFICATE_REQUEST,
            EnrollError::MissingAuthenticationUrl
            | EnrollError::Issue(_)
            | EnrollError::Provisioning(_) => FaultCode::ENROLLMENT_SERVER,
            EnrollError::UnexpectedRequestType(_) | EnrollError::MissingRenewalRequest => {
                FaultCode::MESSAGE_FORMAT
            }
            EnrollError::Renewal(e) => renewal_fault_code(e),
        }
    }

    /// Whether this is a renewal refused because the current certificate is expired or
    /// not yet in its renewal window: the fault then carries the
    /// `deviceenrollmentserviceerror` type `NotEligibleToRenew` (0x80180016).
    pub fn not_eligible_to_renew(&self) -> bool {
        matches!(
            self,
            EnrollError::Renewal(
                RenewalError::CertificateNotValid | RenewalError::NotInRenewalWindow
            )
        )
    }

    /// The fault to answer with (wrap it with `Envelope::<Fault>::response`). The reason
    /// is generic per subcode so that no internal detail reaches the client.
    pub fn fault(&self) -> Fault {
        let code = self.fault_code();
        let reason = if code == FaultCode::AUTHENTICATION {
            "Authentication failed"
        } else if code == FaultCode::CERTIFICATE_REQUEST {
            "The certificate request was refused"
        } else if code == FaultCode::MESSAGE_FORMAT {
            "The request is malformed"
        } else if code == FaultCode::AUTHORIZATION {
            "The device is not eligible to renew"
        } else {
            "The enrollment server failed"
        };
        let mut fault = Fault::enrollment(code, reason);
        if self.not_eligible_to_renew() {
            fault.enrollment_error = Some(crate::fault::DeviceEnrollmentServiceError {
                error_type: crate::fault::EnrollmentErrorType::NOT_ELIGIBLE_TO_RENEW,
                message: Some(reason.into()),
                trace_id: None,
            });
        }
        fault
    }
}

/// MS-MDE2 subcodes for renewal failures: a malformed PKCS#7 is `MessageFormat`, one
/// that does not prove possession of a certificate this CA issued is `Authentication`,
/// an expired certificate or one outside its renewal window is `Authorization` (with
/// `NotEligibleToRenew`), a bad new PKCS#10 is `CertificateRequest`.
fn renewal_fault_code(e: &RenewalError) -> FaultCode {
    match e {
        RenewalError::CertificateNotValid | RenewalError::NotInRenewalWindow => {
            FaultCode::AUTHORIZATION
        }
        RenewalError::DigestMismatch
        | RenewalError::BadSignature
        | RenewalError::NotIssuedByUs
        | RenewalError::ClientCertificateMismatch
        | RenewalError::Certificate(_) => FaultCode::AUTHENTICATION,
        RenewalError::Csr(_) => FaultCode::CERTIFICATE_REQUEST,
        _ => FaultCode::MESSAGE_FORMAT,
    }
}

/// The server's endpoints. Windows requires the policy and enrollment services on the
/// same host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrls {
    /// MS-XCEP GetPolicies (`EnrollmentPolicyServiceUrl`).
    pub policy: HttpsUrl,
    /// MS-WSTEP RequestSecurityToken (`EnrollmentServiceUrl`).
    pub enrollment: HttpsUrl,
    /// OMA-DM management (the w7 `ADDR`).
    pub management: HttpsUrl,
    /// The Federated login page (`AuthenticationServiceUrl`); needed for Federated only.
    pub authentication: Option<HttpsUrl>,
}

impl ServerUrls {
    /// Path of the policy service in [`ServerUrls::standard`].
    pub const POLICY_PATH: &'static str = "/EnrollmentServer/Policy.svc";
    /// Path of the enrollment service in [`ServerUrls::standard`].
    pub const ENROLLMENT_PATH: &'static str = "/EnrollmentServer/Enrollment.svc";
    /// Path of the management service in [`ServerUrls::standard`].
    pub const MANAGEMENT_PATH: &'static str = "/ManagementServer/MDM.svc";

    /// The conventional paths on one origin (`https://host[:port]`; a path in `base` is
    /// ignored): [`POLICY_PATH`](Self::POLICY_PATH), [`ENROLLMENT_PATH`](Self::ENROLLMENT_PATH),
    /// [`MANAGEMENT_PATH`](Self::MANAGEMENT_PATH); no authentication URL.
    pub fn standard(base: &str) -> Result<Self, ProvisioningBuildError> {
        let base = HttpsUrl::new(base)?;
        Ok(ServerUrls {
            policy: base.with_path(Self::POLICY_PATH)?,
            enrollment: base.with_path(Self::ENROLLMENT_PATH)?,
            management: base.with_path(Self::MANAGEMENT_PATH)?,
            authentication: None,
        })
    }
}

/// The certificate policy announced in GetPoliciesResponse and used when issuing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePolicy {
    /// `minimalKeyLength` (default 2048).
    pub minimal_key_length: u32,
    /// `validityPeriodSeconds` and the issued certificates' validity (default 365 days).
    pub validity: Duration,
    /// `renewalPeriodSeconds` (default 60 days).
    pub renewal_period: Duration,
    /// `hashAlgorithmOIDReference` (default SHA-256).
    pub hash: Oid,
}

impl Default for CertificatePolicy {
    fn default() -> Self {
        CertificatePolicy {
            minimal_key_length: 2048,
            validity: Duration::from_secs(365 * 86_400),
            renewal_period: Duration::from_secs(60 * 86_400),
            hash: Oid::sha256(1),
        }
    }
}

/// What an enrollment server is: its provider id, URLs, authentication policy, the
/// highest enrollment version it speaks and its certificate policy. The Discover and
/// GetPolicies responses and the provisioning document are built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentServer {
    /// The w7 `PROVIDER-ID` / DMClient provider.
    pub provider_id: ProviderId,
    /// The endpoints.
    pub urls: ServerUrls,
    /// The AuthPolicy announced in DiscoverResponse.
    pub auth_policy: AuthPolicy,
    /// The highest EnrollmentVersion answered (default 5.0; a Windows 11 client answered
    /// 3.0 asked for 9.0 and failed).
    pub max_version: Version,
    /// The certificate policy.
    pub policy: CertificatePolicy,
}

impl EnrollmentServer {
    /// A server with the default version (5.0) and certificate policy. Federated needs
    /// `urls.authentication`.
    pub fn new(
        provider_id: ProviderId,
        urls: ServerUrls,
        auth_policy: AuthPolicy,
    ) -> Result<Self, EnrollError> {
        if auth_policy == AuthPolicy::FEDERATED && urls.authentication.is_none() {
            return Err(EnrollError::MissingAuthenticationUrl);
        }
        Ok(EnrollmentServer {
            provider_id,
            urls,
            auth_policy,
            max_version: Version::V5,
            policy: CertificatePolicy::default(),
        })
    }

    /// The DiscoverResponse to `request`: the server's AuthPolicy, EnrollmentVersion
    /// negotiated from the request's RequestVersion, the policy, enrollment and (when
    /// set) authentication URLs, `RelatesTo` the request. No Security header, as in
    /// Microsoft's samples. Fails if the client lists AuthPolicies without ours.
    pub fn discover_response(
        &self,
        request: &Envelope<Discover>,
    ) -> Result<Envelope<DiscoverResponse>, EnrollError> {
        let offered = &request.body.auth_policies;
        if !offered.is_empty()
            && !offered
                .iter()
                .any(|p| p.as_str().eq_ignore_ascii_case(self.auth_policy.as_str()))
        {
            return Err(EnrollError::AuthPolicyNotOffered(
                self.auth_policy.as_str().to_owned(),
            ));
        }
        let body = DiscoverResponse {
            auth_policy: self.auth_policy.clone(),
            enrollment_version: Some(Version::negotiate(
                request.body.request_version,
                self.max_version,
            )),
            enrollment_policy_service_url: Some(self.urls.policy.as_str().to_owned()),
            enrollment_service_url: self.urls.enrollment.as_str().to_owned(),
            authentication_service_url: self
                .urls
                .authentication
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            other: Vec::new(),
        };
        Ok(Envelope::relating_to(
            &request.header,
            ns::action::DISCOVER_RESPONSE,
            body,
        ))
    }

    /// The GetPoliciesResponse to `request`: one policy named after the provider with
    /// the [`CertificatePolicy`], `RelatesTo` the request. Authenticate the request's
    /// credential ([`Header::credential`]) first, as for the RST.
    pub fn get_policies_response(
        &self,
        request: &Envelope<GetPolicies>,
    ) -> Envelope<GetPoliciesResponse> {
        let p = &self.policy;
        let body = GetPoliciesResponse::single_policy(
            self.provider_id.as_str(),
            p.minimal_key_length,
            CertificateValidity {
                validity_period_seconds: p.validity.as_secs(),
                renewal_period_seconds: p.renewal_period.as_secs(),
            },
            p.hash.clone(),
            None,
            None,
        );
        Envelope::relating_to(&request.header, ns::action::GET_POLICIES_RESPONSE, body)
    }

    /// The options to issue with: the policy's validity, default backdating.
    pub fn issue_options(&self) -> IssueOptions {
        IssueOptions {
            validity: self.policy.validity,
            ..IssueOptions::default()
        }
    }

    /// The standard provisioning document for `request`, pre-filled with the provider
    /// id, the management URL (`ADDR`), the root certificate (DER) and the issued
    /// certificate in the store the request's EnrollmentType names. Add the DM
    /// credentials and the renewal choice, then `build()`.
    pub fn provisioning<'a>(
        &'a self,
        request: &EnrollmentRequest,
        certificate: &'a IssuedCertificate,
        root_der: &'a [u8],
    ) -> StandardProvisioning<'a> {
        StandardProvisioning::builder(&self.provider_id, &self.urls.management)
            .root_certificate(root_der)
            .client_certificate(certificate.der(), request.enrollment_type())
    }
}

/// A RequestSecurityToken of RequestType Issue, checked for its shape: a PKCS#10
/// BinarySecurityToken and a known EnrollmentType. Authenticate it, verify its CSR, issue,
/// and answer with [`EnrollmentRequest::respond`].
///
/// ```
/// # use std::time::{Duration, SystemTime};
/// # use winmdm_enroll::pki::{self, CertificateAuthority, CsrPolicy, Subject};
/// # use winmdm_enroll::token::{AuthError, Credential};
/// # use winmdm_enroll::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// # let mut rng = pki::default_rng();
/// # let ca = CertificateAuthority::generate_dev(&Subject::try_from("CN=Example MDM CA")?,
/// #     2048, now, Duration::from_secs(10 * 365 * 86_400), &mut rng)?;
/// # let body = include_bytes!("../tests/data/messages/fleet/win10-19043/05-device-rst.xml");
/// # let directory = |c: &Credential<'_>, _: SystemTime| match c {
/// #     Credential::UsernameToken(u) if u.username == "demio" => Ok(u.username.to_owned()),
/// #     _ => Err(AuthError::InvalidCredentials),
/// # };
/// let server = EnrollmentServer::new(ProviderId::new("Example MDM")?,
///     ServerUrls::standard("https://mdm.example.com")?, AuthPolicy::ON_PREMISE)?;
///
/// let request = EnrollmentRequest::decode(body)?;            // a RequestSecurityToken
/// let user = request.authenticate(&directory, now)?;         // any token::Authenticator
/// let csr = request.verify_csr(&CsrPolicy::default())?;
/// let cert = request.issue(&ca, &csr, &server.issue_options(), now, &mut rng)?;
/// let doc = server
///     .provisioning(&request, &cert, ca.certificate_der())   // Root, My/User or My/System, w7, DMClient
///     .dm_credentials(&DmCredentials::generate(&user, &mut rng))
///     .renewal(Renewal::NotOffered)
///     .build()?;
/// let rstrc: String = request.respond(&doc, now).to_xml();   // with Security/Timestamp
/// # assert!(rstrc.contains("u:Timestamp"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRequest {
    envelope: Envelope<RequestSecurityToken>,
    enrollment_type: EnrollmentType,
    csr_der: Vec<u8>,
}

impl EnrollmentRequest {
    /// Decodes an RST envelope (default limits) and checks its shape.
    pub fn decode(input: &[u8]) -> Result<Self, EnrollError> {
        Self::from_envelope(Envelope::<RequestSecurityToken>::decode(input)?)
    }

    /// [`EnrollmentRequest::decode`] with explicit limits.
    pub fn decode_with(input: &[u8], limits: &MessageLimits) -> Result<Self, EnrollError> {
        Self::from_envelope(Envelope::<RequestSecurityToken>::decode_with(
            input, limits,
        )?)
    }

    /// Checks a decoded RST: RequestType Issue (absent is refused too), a
    /// BinarySecurityToken that is base64 of a PKCS#10 (ValueType PKCS10 or absent),
    /// EnrollmentType `Full`, `Device` or absent (= `Full`).
    pub fn from_envelope(envelope: Envelope<RequestSecurityToken>) -> Result<Self, EnrollError> {
        let rst = &envelope.body;
        if rst.request_type.as_ref() != Some(&RequestType::ISSUE) {
            return Err(EnrollError::NotIssue(
                rst.request_type.as_ref().map(|t| t.as_str().to_owned()),
            ));
        }
        let bst = rst
            .binary_security_token
            .as_ref()
            .filter(|b| {
                b.value_type
                    .as_ref()
                    .is_none_or(|v| v.matches(&ValueType::PKCS10))
            })
            .ok_or(EnrollError::MissingCsr)?;
        // The CsrPolicy's own size limit applies in `verify_csr`; this bound only keeps
        // the copy small.
        let csr_der = crate::pki::decode_request_token(&bst.value, crate::token::MAX_TOKEN_LEN)
            .filter(|der| {
                crate::pki::RequestKind::detect(der) == Some(crate::pki::RequestKind::Pkcs10)
            })
            .ok_or(EnrollError::MissingCsr)?;
        let value = rst.additional_context.enrollment_type();
        let enrollment_type = EnrollmentType::from_context(value).ok_or_else(|| {
            EnrollError::UnknownEnrollmentType(crate::error::truncate(value.unwrap_or("")))
        })?;
        Ok(EnrollmentRequest {
            envelope,
            enrollment_type,
            csr_der,
        })
    }

    /// The decoded envelope.
    pub fn envelope(&self) -> &Envelope<RequestSecurityToken> {
        &self.envelope
    }

    /// The SOAP header.
    pub fn header(&self) -> &Header {
        &self.envelope.header
    }

    /// The AdditionalContext items (DeviceName, OSVersion, HWDevID, ...).
    pub fn context(&self) -> &AdditionalContext {
        &self.envelope.body.additional_context
    }

    /// The enrollment type (where the certificate goes).
    pub fn enrollment_type(&self) -> EnrollmentType {
        self.enrollment_type
    }

    /// The `DeviceID` context item.
    pub fn device_id(&self) -> Option<&str> {
        self.context().device_id()
    }

    /// The Security header's credential (UsernameToken, else BinarySecurityToken).
    pub fn credential(&self) -> Option<Credential<'_>> {
        self.envelope.header.credential()
    }

    /// Hands the credential to `authenticator` at time `now`.
    pub fn authenticate<A: Authenticator + ?Sized>(
        &self,
        authenticator: &A,
        now: SystemTime,
    ) -> Result<A::Principal, EnrollError> {
        let credential = self.credential().ok_or(EnrollError::MissingCredential)?;
        Ok(authenticator.authenticate(&credential, now)?)
    }

    /// Decodes the CSR and verifies its proof of possession under `policy`, and that its
    /// DeviceID extension, if any, equals the `DeviceID` context item, if any.
    pub fn verify_csr(&self, policy: &CsrPolicy) -> Result<Csr, EnrollError> {
        let csr = Csr::from_der(&self.csr_der, policy)?;
        if let (Some(c), Some(x)) = (csr.device_id(), self.device_id())
            && !c.eq_ignore_ascii_case(x)
        {
            return Err(EnrollError::DeviceIdMismatch {
                csr: c.to_owned(),
                context: crate::error::truncate(x),
            });
        }
        Ok(csr)
    }

    /// The certificate subject: `CN=<DeviceID>`, the DeviceID of the CSR's extension or
    /// else of the context item.
    pub fn device_subject(&self, csr: &Csr) -> Result<Subject, EnrollError> {
        let id = csr
            .device_id()
            .or_else(|| self.device_id())
            .ok_or(EnrollError::MissingDeviceId)?;
        Ok(Subject::common_name(id)?)
    }

    /// Issues the device certificate for the verified `csr` with subject
    /// [`device_subject`](Self::device_subject) (sans-IO: `now` and `rng` passed in).
    pub fn issue<S: Signer, R: CryptoRng + ?Sized>(
        &self,
        ca: &CertificateAuthority<S>,
        csr: &Csr,
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedCertificate, EnrollError> {
        Ok(ca.issue(csr, &self.device_subject(csr)?, options, now, rng)?)
    }

    /// The RSTRC carrying `doc`: SOAP 1.2, action RSTRC, `RelatesTo` the request,
    /// `Security/Timestamp` created at `now` (see [`Envelope::reply_to`]).
    pub fn respond(
        &self,
        doc: &ProvisioningDoc,
        now: SystemTime,
    ) -> Envelope<RequestSecurityTokenResponseCollection> {
        Envelope::reply_to(
            &self.envelope.header,
            ns::action::RSTRC,
            RequestSecurityTokenResponseCollection::with_provisioning_doc(doc),
            now,
        )
    }
}

/// RequestType Renew and Recovery (MS-MDE2 §3.5, §3.6). A server decodes every RST with
/// [`decode_any`](Self::decode_any) and dispatches on
/// [`request_type`](Self::request_type): Issue goes through
/// [`verify_csr`](Self::verify_csr), Renew through [`verify_renewal`](Self::verify_renewal)
/// (or [`verify_robo_renewal`](Self::verify_robo_renewal) when the TLS connection was
/// authenticated with the current certificate), Recovery through
/// [`verify_recovery`](Self::verify_recovery). Issuing
/// ([`issue_renewal`](Self::issue_renewal) keeps the current certificate's subject),
/// [`EnrollmentServer::provisioning`] and [`respond`](Self::respond) are the same as for
/// Issue. For Renew and Recovery, [`verify_csr`](Self::verify_csr) fails (the token is a
/// PKCS#7).
///
/// ```
/// # use std::time::{Duration, SystemTime};
/// # use winmdm_enroll::pki::{self, CertificateAuthority, CsrPolicy, IssueOptions, RenewalPolicy, Subject};
/// # use winmdm_enroll::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut rng = pki::default_rng();
/// # let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// # let ca = CertificateAuthority::generate_dev(&Subject::try_from("CN=Example MDM CA")?,
/// #     2048, now, Duration::from_secs(10 * 365 * 86_400), &mut rng)?;
/// # let key = pki::DeviceKey::generate(2048, &mut rng)?;
/// # let id = "B5B954E81FBCB94EB79BD08BE625F4EE";
/// # let csr = pki::Csr::from_der(&pki::windows_csr(&key, id, Some(id))?, &CsrPolicy::default())?;
/// # let old = ca.issue(&csr, &Subject::common_name(id)?, &Default::default(), now, &mut rng)?;
/// # let later = now + Duration::from_secs(330 * 86_400);
/// # let new_csr = pki::windows_csr(&key, id, Some(id))?;
/// # let pkcs7 = pki::renewal_request(old.der(), &key, &new_csr)?;
/// # let body = client::renew_request("https://mdm.example.com/EnrollmentServer/Enrollment.svc",
/// #     "urn:uuid:1", &pkcs7, &client::DeviceInfo::windows(id, "00")).to_xml();
/// let request = EnrollmentRequest::decode_any(body.as_bytes())?;
/// assert_eq!(request.request_type(), &RequestType::RENEW);
/// let (csr, current) = request.verify_renewal(&ca, &RenewalPolicy::default(), later)?;
/// // look up current.thumbprint(): same device, not blocked
/// let cert = request.issue_renewal(&ca, &csr, &current, &IssueOptions::default(), later, &mut rng)?;
/// # assert_eq!(cert.certificate().tbs_certificate().subject(), current.certificate().tbs_certificate().subject());
/// # Ok(())
/// # }
/// ```
impl EnrollmentRequest {
    /// Decodes an RST envelope (default limits) of RequestType Issue, Renew or Recovery.
    pub fn decode_any(input: &[u8]) -> Result<Self, EnrollError> {
        Self::from_envelope_any(Envelope::<RequestSecurityToken>::decode(input)?)
    }

    /// Checks a decoded RST of RequestType Issue (as
    /// [`from_envelope`](Self::from_envelope)), Renew or Recovery. For Renew and
    /// Recovery the BinarySecurityToken (ValueType PKCS7, PKCS10 or absent) must be
    /// base64 of a PKCS#7 or of a bare PKCS#10 (base64 applied twice is accepted, see
    /// [`pki::decode_request_token`](crate::pki::decode_request_token)); EnrollmentType
    /// `Full`, `Device` or absent (= `Full`).
    pub fn from_envelope_any(
        envelope: Envelope<RequestSecurityToken>,
    ) -> Result<Self, EnrollError> {
        let rst = &envelope.body;
        let request_type = rst.request_type.as_ref();
        if request_type == Some(&RequestType::ISSUE) {
            return Self::from_envelope(envelope);
        }
        if request_type != Some(&RequestType::RENEW) && request_type != Some(&RequestType::RECOVERY)
        {
            return Err(EnrollError::UnexpectedRequestType(
                request_type.map(|t| crate::error::truncate(t.as_str())),
            ));
        }
        let bst = rst
            .binary_security_token
            .as_ref()
            .filter(|b| {
                b.value_type
                    .as_ref()
                    .is_none_or(|v| v.matches(&ValueType::PKCS7) || v.matches(&ValueType::PKCS10))
            })
            .ok_or(EnrollError::MissingRenewalRequest)?;
        let token_der = crate::pki::decode_request_token(&bst.value, crate::token::MAX_TOKEN_LEN)
            .filter(|der| crate::pki::RequestKind::detect(der).is_some())
            .ok_or(EnrollError::MissingRenewalRequest)?;
        let value = rst.additional_context.enrollment_type();
        let enrollment_type = EnrollmentType::from_context(value).ok_or_else(|| {
            EnrollError::UnknownEnrollmentType(crate::error::truncate(value.unwrap_or("")))
        })?;
        Ok(EnrollmentRequest {
            envelope,
            enrollment_type,
            csr_der: token_der,
        })
    }

    /// The RequestType: [`RequestType::ISSUE`] for requests from
    /// [`decode`](Self::decode), else Issue, Renew or Recovery.
    pub fn request_type(&self) -> &RequestType {
        self.envelope
            .body
            .request_type
            .as_ref()
            .unwrap_or(&RequestType::ISSUE)
    }

    fn expect_type(&self, expected: &RequestType) -> Result<(), EnrollError> {
        if self.request_type() == expected {
            Ok(())
        } else {
            Err(EnrollError::UnexpectedRequestType(Some(
                crate::error::truncate(self.request_type().as_str()),
            )))
        }
    }

    /// The new CSR's DeviceID, if any, must be the one the current certificate was
    /// issued to (its CN, as [`device_subject`](Self::device_subject) writes it).
    fn check_renewed_device(csr: &Csr, current: &CurrentCertificate) -> Result<(), EnrollError> {
        let cn = crate::pki::certificate_common_name(current.certificate());
        if let (Some(id), Some(cn)) = (csr.device_id(), cn)
            && !id.eq_ignore_ascii_case(&cn)
        {
            return Err(EnrollError::DeviceIdMismatch {
                csr: id.to_owned(),
                context: crate::error::truncate(&cn),
            });
        }
        Ok(())
    }

    /// RequestType Renew: verifies the PKCS#7 with
    /// [`CertificateAuthority::verify_renewal`] (CMS signature by the enclosed current
    /// certificate, issued by `ca`, valid at `now` and in its renewal window, the new
    /// PKCS#10's proof of possession) and that the new CSR's DeviceID, if any, is the
    /// current certificate's CN. Returns the new CSR and the current certificate: check
    /// its thumbprint belongs to a known, non-blocked device before issuing.
    ///
    /// Failures map to MS-MDE2 subcodes through [`EnrollError::fault`]: malformed
    /// `MessageFormat`, not proven `Authentication`, expired or too early
    /// `Authorization` with `NotEligibleToRenew`, bad new request `CertificateRequest`.
    pub fn verify_renewal<S: Signer>(
        &self,
        ca: &CertificateAuthority<S>,
        policy: &RenewalPolicy,
        now: SystemTime,
    ) -> Result<(Csr, CurrentCertificate), EnrollError> {
        self.expect_type(&RequestType::RENEW)?;
        let r = ca.verify_renewal(&self.csr_der, now, policy)?;
        Self::check_renewed_device(&r.csr, &r.current)?;
        Ok((r.csr, r.current))
    }

    /// RequestType Renew over a TLS connection authenticated with the current
    /// certificate `tls_client_cert` (DER), ROBO: [`CertificateAuthority::verify_robo_renewal`]
    /// (the body may be the PKCS#7, signed by that certificate, or a bare PKCS#10) plus
    /// the DeviceID check of [`verify_renewal`](Self::verify_renewal).
    pub fn verify_robo_renewal<S: Signer>(
        &self,
        ca: &CertificateAuthority<S>,
        tls_client_cert: &[u8],
        policy: &RenewalPolicy,
        now: SystemTime,
    ) -> Result<(Csr, CurrentCertificate), EnrollError> {
        self.expect_type(&RequestType::RENEW)?;
        let r = ca.verify_robo_renewal(tls_client_cert, &self.csr_der, now, policy)?;
        Self::check_renewed_device(&r.csr, &r.current)?;
        Ok((r.csr, r.current))
    }

    /// RequestType Recovery: [`CertificateAuthority::verify_recovery`] with the
    /// certificate the server has on record for the device (`previous`, DER), if any.
    /// Recovery does not prove the device's identity by itself: authenticate the
    /// request's credential ([`authenticate`](Self::authenticate)) as well.
    pub fn verify_recovery<S: Signer>(
        &self,
        ca: &CertificateAuthority<S>,
        previous: Option<&[u8]>,
        policy: &RenewalPolicy,
    ) -> Result<(Csr, Option<CurrentCertificate>), EnrollError> {
        self.expect_type(&RequestType::RECOVERY)?;
        let r = ca.verify_recovery(&self.csr_der, previous, policy)?;
        if let Some(p) = &r.previous {
            Self::check_renewed_device(&r.csr, p)?;
        }
        Ok((r.csr, r.previous))
    }

    /// Issues the renewed certificate for the verified `csr` with the subject of the
    /// certificate being renewed (`current`), so the device keeps its identity whatever
    /// the new request's subject says.
    pub fn issue_renewal<S: Signer, R: CryptoRng + ?Sized>(
        &self,
        ca: &CertificateAuthority<S>,
        csr: &Csr,
        current: &CurrentCertificate,
        options: &IssueOptions,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedCertificate, EnrollError> {
        let subject = Subject::try_from(current.certificate().tbs_certificate().subject().clone())?;
        Ok(ca.issue(csr, &subject, options, now, rng)?)
    }
}
