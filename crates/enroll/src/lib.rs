//! MS-MDE2 enrollment for Windows MDM: Discovery, MS-XCEP GetPolicies, MS-WSTEP
//! RequestSecurityToken and its response, SOAP faults, the wap-provisioningdoc, and
//! the PKI behind them.
//!
//! Messages decode namespace-aware (prefixes do not matter; SOAP 1.2 and 1.1 envelopes
//! are accepted) into typed structs that keep unknown content, and encode back.
//! Decoding is bounded by [`Limits`] and refuses DTDs; errors carry a byte offset and
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
//! # Ok::<(), winmdm_enroll::DecodeError>(())
//! ```
#![forbid(unsafe_code)]

mod discovery;
mod dom;
mod enrollment;
mod error;
mod fault;
mod message;
pub mod ns;
mod provisioning;
mod soap;
mod standard;
mod wstep;
mod xcep;
mod xml;

pub mod pki;
pub mod token;

pub use discovery::{
    AuthPolicy, DISCOVERY_PATH, Discover, DiscoverResponse, ProbeResponse, Version,
    is_discovery_probe, probe_response,
};
pub use enrollment::{
    CertificatePolicy, EnrollError, EnrollmentRequest, EnrollmentServer, ServerUrls,
};
pub use error::{DecodeError, DecodeErrorKind, Limits};
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
    Secret, Security, SoapVersion, Timestamp, UsernameToken, ValueType, decode_base64_lenient,
    format_utc,
};
pub use standard::{
    ConnectionRetry, DmCredentials, EnrollmentType, HttpsUrl, PollSchedule, PollSet, ProviderId,
    ProvisioningBuildError, Renewal, SYNCML_DM_XML, StandardProvisioning,
    ssl_client_cert_search_criteria,
};
pub use wstep::{
    AdditionalContext, ContextItem, RequestSecurityToken, RequestSecurityTokenResponse,
    RequestSecurityTokenResponseCollection, RequestType,
};
pub use xcep::{
    Attestation, AttestationFailureBehavior, AzureAttestation, CertificateValidity, GetPolicies,
    GetPoliciesResponse, Oid, Permission, Policy, PolicyAttributes, PrivateKeyAttributes, Revision,
};
pub use xml::{XmlAttribute, XmlElement, XmlNode};
