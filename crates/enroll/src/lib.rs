//! MS-MDE2 enrollment for Windows MDM: Discovery, MS-XCEP GetPolicies, MS-WSTEP
//! RequestSecurityToken and its response, SOAP faults, the wap-provisioningdoc, and
//! the PKI behind them.
//!
//! # Enrolling a device
//!
//! An [`EnrollmentServer`] (provider id, [`ServerUrls`], AuthPolicy) answers Discover
//! ([`EnrollmentServer::discover_response`]) and GetPolicies
//! ([`EnrollmentServer::get_policies_response`]). The RequestSecurityToken goes through
//! [`EnrollmentRequest`]: decode, authenticate the WS-Security credential with a
//! [`token::Authenticator`], verify the PKCS#10, issue with a [`pki::CertificateAuthority`],
//! build the standard provisioning document ([`StandardProvisioning`]) and answer with the
//! RSTRC ([`EnrollmentRequest::respond`], which adds the `Security/Timestamp` header).
//! Time and randomness are inputs; no IO happens here. Each step fails with an
//! [`EnrollError`] whose [`fault`](EnrollError::fault) is the SOAP fault to send.
//!
//! This enrolls a RequestSecurityToken captured from Windows 10 (build 19043, OnPremise
//! user `demio`, password `demo`):
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use winmdm_enroll::pki::{CertificateAuthority, CsrPolicy, Subject};
//! use winmdm_enroll::token::{AuthError, Credential};
//! use winmdm_enroll::types::constant_time_eq;
//! use winmdm_enroll::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut rng = pki::default_rng();
//! let ca = CertificateAuthority::generate_dev(&Subject::try_from("CN=Example MDM CA")?,
//!     2048, now, Duration::from_secs(10 * 365 * 86_400), &mut rng)?;
//! let server = EnrollmentServer::new(ProviderId::new("Example MDM")?,
//!     ServerUrls::standard("https://mdm.example.com")?, AuthPolicy::ON_PREMISE)?;
//! let directory = |c: &Credential<'_>, _now: SystemTime| match c {
//!     Credential::UsernameToken(u) if u.username == "demio"
//!         && constant_time_eq(u.password.as_bytes(), b"demo") => Ok(u.username.to_owned()),
//!     _ => Err(AuthError::InvalidCredentials),
//! };
//!
//! let rst = include_bytes!("../tests/data/messages/fleet/win10-19043/05-device-rst.xml");
//! let request = EnrollmentRequest::decode(rst)?;
//! let user = request.authenticate(&directory, now)?;
//! let csr = request.verify_csr(&CsrPolicy::default())?;
//! let cert = request.issue(&ca, &csr, &server.issue_options(), now, &mut rng)?;
//! let doc = server
//!     .provisioning(&request, &cert, ca.certificate_der())
//!     .dm_credentials(&DmCredentials::generate(&user, &mut rng)) // keep them for OMA-DM auth
//!     .renewal(Renewal::NotOffered)
//!     .build()?;
//! let reply = request.respond(&doc, now).to_xml(); // send as application/soap+xml
//!
//! let back = Envelope::<RequestSecurityTokenResponseCollection>::decode(reply.as_bytes())?;
//! assert!(back.header.security.unwrap().timestamp.is_some());
//! let sent = back.body.responses[0].provisioning_doc()?.enrollment()?;
//! assert_eq!(sent.certificate_store.my_user[0].thumbprint, cert.thumbprint().to_string());
//! assert_eq!(sent.application.unwrap().ssl_client_cert_search_criteria.as_deref(),
//!     Some("Subject=CN%3DB5B954E81FBCB94EB79BD08BE625F4EE&Stores=MY%5CUser"));
//! # Ok(())
//! # }
//! ```
//!
//! # The device's side
//!
//! [`client`] builds the requests a Windows device sends (Discover, GetPolicies, the RST
//! with a Windows-shaped PKCS#10 from [`pki::windows_csr`], renewal) and checks the
//! answers ([`client::Enrolled`]); its module documentation runs a whole enrollment
//! against [`EnrollmentServer`] in memory.
//!
//! # Messages
//!
//! Messages decode namespace-aware (prefixes do not matter; SOAP 1.2 and 1.1 envelopes
//! are accepted) into typed structs that keep unknown content, and encode back.
//! Decoding is bounded by [`MessageLimits`] (this crate's defaults: [`default_limits`]) and
//! refuses DTDs; errors ([`MessageError`]) carry a byte offset and
//! line/column. See `docs/enroll.md` for the interop quirks handled.
//!
//! ```
//! use winmdm_enroll::{Envelope, Discover, DiscoverResponse, AuthPolicy, Version, Message};
//!
//! let request = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
//!     xmlns:a="http://www.w3.org/2005/08/addressing">
//!   <s:Header><a:MessageID>urn:uuid:1</a:MessageID></s:Header>
//!   <s:Body><Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment">
//!     <request><EmailAddress>user@contoso.com</EmailAddress>
//!       <RequestVersion>5.0</RequestVersion>
//!       <AuthPolicies><AuthPolicy>OnPremise</AuthPolicy></AuthPolicies></request>
//!   </Discover></s:Body></s:Envelope>"#;
//! let discover = Envelope::<Discover>::decode(request)?;
//! assert_eq!(discover.body.request_version, Some(Version::V5));
//!
//! let mut response = Envelope::new(
//!     winmdm_enroll::ns::action::DISCOVER_RESPONSE,
//!     DiscoverResponse {
//!         auth_policy: AuthPolicy::ON_PREMISE,
//!         enrollment_version: Some(Version::V5),
//!         enrollment_policy_service_url: Some("https://mdm.contoso.com/EnrollmentServer/Policy.svc".into()),
//!         enrollment_service_url: "https://mdm.contoso.com/EnrollmentServer/Enrollment.svc".into(),
//!         ..Default::default()
//!     },
//! );
//! response.header.relates_to = discover.header.message_id.clone();
//! let xml = response.to_xml();
//! assert!(matches!(Message::decode(xml.as_bytes())?, Message::DiscoverResponse(_)));
//! # Ok::<(), winmdm_enroll::MessageError>(())
//! ```
#![forbid(unsafe_code)]

pub mod client;
mod discovery;
mod enrollment;
mod error;
mod fault;
/// The manuals (`docs/enroll.md`, and `docs/pki.md` as [`manual::pki`], in the
/// repository), with their examples run as doc tests.
#[doc = include_str!("../../../docs/enroll.md")]
pub mod manual {
    /// The PKI manual (`docs/pki.md` in the repository).
    #[doc = include_str!("../../../docs/pki.md")]
    pub mod pki {}
}
mod message;
mod node;
pub mod ns;
mod provisioning;
mod soap;
mod standard;
mod wstep;
mod xcep;

pub mod pki;
pub mod token;
pub mod webauth;

pub use discovery::{
    AuthPolicy, DISCOVERY_PATH, Discover, DiscoverResponse, ProbeResponse, Version,
    is_discovery_probe, probe_response,
};
pub use enrollment::{
    CertificatePolicy, EnrollError, EnrollmentRequest, EnrollmentServer, ServerUrls,
};
pub use error::{MessageError, MessageErrorKind, MessageLimits, default_limits};
pub use fault::{
    CodeNamespace, DeviceEnrollmentServiceError, EnrollmentErrorType, Fault, FaultCode,
};
pub use message::{HttpSplit, Message, split_http};
pub use provisioning::{
    AppAuth, CertEntry, CertificateStore, Characteristic, Datatype, DmClientProvider,
    EnrollmentProvisioning, Parm, Poll, ProvisioningDoc, ProvisioningError, W7Application, WapNode,
    WstepRenew,
};
pub use soap::{
    ActivityId, BinarySecurityToken, ENCODING_BASE64, Envelope, Header, REPLY_TIMESTAMP_TTL,
    Security, SoapVersion, Timestamp, UsernameToken, ValueType, format_utc,
};
pub use standard::{
    ConnectionRetry, DmCredentials, EnrollmentType, HttpsUrl, PollSchedule, PollSet, ProviderId,
    ProvisioningBuildError, Renewal, SYNCML_DM_XML, StandardProvisioning,
    ssl_client_cert_search_criteria,
};
/// The shared vocabulary of the winmdm crates (`Secret`, `constant_time_eq`, lenient
/// base64, ...), re-exported so a product needs no second dependency line.
pub use winmdm_types as types;
/// A password, token or DMAcc secret that never reaches a log: winmdm-types's, the one
/// `Secret` of every winmdm crate.
pub use winmdm_types::Secret;
/// winmdm-xml's error kind, carried by [`MessageErrorKind::Xml`] for every problem of the
/// XML itself (syntax, DTD, entities, namespaces, limits).
pub use winmdm_xml::ErrorKind as XmlErrorKind;
/// winmdm-xml's typed syntax error, in [`XmlErrorKind::Syntax`] (mismatched end tags,
/// unclosed markup, attribute errors, ...).
pub use winmdm_xml::SyntaxError as XmlSyntaxError;
/// Generic XML content, kept verbatim where the typed model has no field for it (unknown
/// SOAP headers, unknown request fields, `ds:Signature`, policy parts this crate does not
/// type): winmdm-xml's element type, compared and serialized by namespace and local name.
pub use winmdm_xml::{Attribute as XmlAttribute, Element as XmlElement, Node as XmlNode};
pub use wstep::{
    AdditionalContext, ContextItem, RequestSecurityToken, RequestSecurityTokenResponse,
    RequestSecurityTokenResponseCollection, RequestType,
};
pub use xcep::{
    Attestation, AttestationFailureBehavior, AzureAttestation, CertificateValidity, GetPolicies,
    GetPoliciesResponse, Oid, Permission, Policy, PolicyAttributes, PrivateKeyAttributes, Revision,
};
