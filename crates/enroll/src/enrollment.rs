//! The enrollment server's side of MS-MDE2 as one typed flow: [`EnrollmentServer`]
//! (the server's URLs, provider id and policy) answers Discover and GetPolicies and
//! starts the provisioning document; [`EnrollmentRequest`] carries one RequestSecurityToken
//! through authentication, CSR verification and issuing to the RSTRC.

use std::time::{Duration, SystemTime};

use rsa::rand_core::CryptoRng;

use crate::discovery::{AuthPolicy, Discover, DiscoverResponse, Version};
use crate::error::{DecodeError, Limits};
use crate::fault::{Fault, FaultCode};
use crate::ns;
use crate::pki::{
    CertificateAuthority, Csr, CsrError, CsrPolicy, IssueError, IssueOptions, IssuedCertificate,
    Signer, Subject,
};
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
    Decode(#[from] DecodeError),
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
        }
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
        } else {
            "The enrollment server failed"
        };
        Fault::enrollment(code, reason)
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
    pub fn decode_with(input: &[u8], limits: &Limits) -> Result<Self, EnrollError> {
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
