//! The device's side of MS-MDE2 enrollment: builders for the requests Windows sends
//! (Discover, GetPolicies, RequestSecurityToken for Issue and Renew) and parsers for the
//! server's answers, ending in [`Enrolled`]: what a device installs from the
//! provisioning document.
//!
//! Sans-IO: the caller sends the envelopes (`to_xml()`, content type
//! `application/soap+xml; charset=utf-8`, POST to the URL in the envelope's `To`
//! header) and hands the answers back; message ids, keys and randomness come from the
//! caller. The key and the PKCS#10 / PKCS#7 come from [`crate::pki`]
//! ([`DeviceKey`], [`windows_csr`](crate::pki::windows_csr),
//! [`renewal_request`](crate::pki::renewal_request)).
//!
//! The messages are shaped like the ones Windows 10/11 sends (compared with the captured
//! 19043 and 19045 requests in `tests/data/messages/fleet/`): the same headers
//! (`Action`, `MessageID`, `ReplyTo` anonymous, `To`), the UsernameToken with the `u:Id`
//! MS-MDE2 fixes, and the AdditionalContext items in Windows's order.
//!
//! # A whole enrollment, in memory
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use winmdm_enroll::client::{self, ClientCredential, DeviceInfo, Enrolled};
//! use winmdm_enroll::pki::{self, CertificateAuthority, CsrPolicy, DeviceKey, Subject};
//! use winmdm_enroll::token::{AuthError, Credential};
//! use winmdm_enroll::types::constant_time_eq;
//! use winmdm_enroll::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut rng = pki::default_rng();
//!
//! // The server (see `EnrollmentServer`).
//! let ca = CertificateAuthority::generate_dev(&Subject::try_from("CN=Example MDM CA")?,
//!     2048, now, Duration::from_secs(10 * 365 * 86_400), &mut rng)?;
//! let server = EnrollmentServer::new(ProviderId::new("Example MDM")?,
//!     ServerUrls::standard("https://mdm.example.com")?, AuthPolicy::ON_PREMISE)?;
//! let directory = |c: &Credential<'_>, _: SystemTime| match c {
//!     Credential::UsernameToken(u) if u.username == "user@example.com"
//!         && constant_time_eq(u.password.as_bytes(), b"secret") => Ok(u.username.to_owned()),
//!     _ => Err(AuthError::InvalidCredentials),
//! };
//!
//! // The device.
//! let device = DeviceInfo::windows("B5B954E81FBCB94EB79BD08BE625F4EE",
//!     "3B3ED6D0EA88CBFCF37D36F90F22FE61172348C0162FC3840D6703149870CE76");
//! let credential = ClientCredential::on_premise("user@example.com", "secret");
//! let key = DeviceKey::generate(2048, &mut rng)?;
//!
//! // 1. Discover
//! let discover = client::discover_request("user@example.com", "urn:uuid:1",
//!     &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED], &device);
//! let answer = server.discover_response(&Envelope::<Discover>::decode(discover.to_xml().as_bytes())?)?;
//! let discovered = client::parse_discover_response(answer.to_xml().as_bytes())?;
//! let policy_url = discovered.body.enrollment_policy_service_url.clone().unwrap();
//! let enrollment_url = discovered.body.enrollment_service_url.clone();
//!
//! // 2. GetPolicies
//! let get = client::get_policies_request(&policy_url, "urn:uuid:2", &credential);
//! let answer = server.get_policies_response(&Envelope::<GetPolicies>::decode(get.to_xml().as_bytes())?);
//! let policies = client::parse_get_policies_response(answer.to_xml().as_bytes())?;
//! assert_eq!(client::minimal_key_length(&policies.body), 2048);
//!
//! // 3. RequestSecurityToken with a Windows-shaped PKCS#10
//! let cn = pki::windows_common_name("562A7F9A-6CD8-40B0-9E7E-0DBDD8E6D0C1", &device.device_id);
//! let csr = pki::windows_csr(&key, &cn, Some(&device.device_id))?;
//! let rst = client::rst_request(&enrollment_url, "urn:uuid:3", &credential, &csr, &device,
//!     EnrollmentType::Full);
//!
//! // ... the server enrolls it ...
//! let request = EnrollmentRequest::decode(rst.to_xml().as_bytes())?;
//! let user = request.authenticate(&directory, now)?;
//! let checked = request.verify_csr(&CsrPolicy::default())?;
//! let cert = request.issue(&ca, &checked, &server.issue_options(), now, &mut rng)?;
//! let doc = server.provisioning(&request, &cert, ca.certificate_der())
//!     .dm_credentials(&DmCredentials::generate(&user, &mut rng))
//!     .renewal(Renewal::NotOffered)
//!     .build()?;
//! let reply = request.respond(&doc, now).to_xml();
//!
//! // 4. What the device installs
//! let enrolled = Enrolled::from_xml(reply.as_bytes(), &key)?;
//! assert_eq!(enrolled.client_certificate, cert.der());
//! assert_eq!(enrolled.management_url, "https://mdm.example.com/ManagementServer/MDM.svc");
//! assert_eq!(enrolled.root_certificates, [ca.certificate_der().to_vec()]);
//! assert!(enrolled.device_credentials.is_some());
//! # Ok(())
//! # }
//! ```

use core::fmt;

use crate::discovery::{AuthPolicy, Discover, DiscoverResponse, Version};
use crate::error::MessageError;
use crate::fault::Fault;
use crate::message::Message;
use crate::ns;
use crate::pki::{DeviceKey, Thumbprint};
use crate::provisioning::{
    AppAuth, CertEntry, EnrollmentProvisioning, Poll, ProvisioningDoc, ProvisioningError,
    WstepRenew,
};
use crate::soap::{BinarySecurityToken, Envelope, Security, UsernameToken, ValueType};
use crate::standard::EnrollmentType;
use crate::wstep::{
    AdditionalContext, RequestSecurityToken, RequestSecurityTokenResponseCollection, RequestType,
};
use crate::xcep::{GetPolicies, GetPoliciesResponse};
use winmdm_types::Secret;
use winmdm_types::base64::decode_lenient;

/// The facts a Windows device reports about itself in Discover and in the RST's
/// AdditionalContext. Start from [`DeviceInfo::windows`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// `DeviceID`: 32 upper-case hex digits on Windows 10/11 (later the SyncML source
    /// LocURI and the certificate subject's CN).
    pub device_id: String,
    /// `HWDevID`: 64 hex digits (hardware id).
    pub hw_dev_id: String,
    /// `DeviceName` (e.g. `DESKTOP-28FGAI6`).
    pub device_name: String,
    /// `MAC` items, one per network adapter, `00-0C-29-51-60-9D` form; repeats allowed.
    pub mac_addresses: Vec<String>,
    /// `OSVersion` (dotted quad, `10.0.19045.2965`).
    pub os_version: String,
    /// `OSEdition`: the Windows PRODUCT_* value (48 Professional, 4 Enterprise, 101 Home).
    pub os_edition: u32,
    /// `Locale` (`en-US`).
    pub locale: String,
    /// `ApplicationVersion` (dotted quad; Windows sends its OS version).
    pub application_version: String,
    /// `DeviceType` (`CIMClient_Windows` for desktops).
    pub device_type: String,
    /// `RequestVersion` of Discover; also sent as the `RequestVersion` context item when
    /// it is 5.0 or higher (as Windows does).
    pub request_version: Version,
    /// `UXInitiated`: enrollment started by the user from Settings.
    pub ux_initiated: bool,
    /// `TargetedUserLoggedIn`.
    pub targeted_user_logged_in: bool,
    /// `NotInOobe`.
    pub not_in_oobe: bool,
    /// Further context items appended after Windows's standard ones (e.g.
    /// `EmmDeviceId`, `DomainName`), name and value.
    pub extra_context: Vec<(String, String)>,
}

impl DeviceInfo {
    /// A Windows 10 22H2 Professional desktop (build 19045) with the given DeviceID and
    /// HWDevID: device name `DESKTOP-` + the first 7 characters of the DeviceID, one
    /// locally administered MAC address derived from the DeviceID, locale `en-US`,
    /// RequestVersion 5.0, started from Settings by a logged-in user outside OOBE.
    pub fn windows(device_id: &str, hw_dev_id: &str) -> Self {
        let hex: Vec<char> = device_id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_uppercase())
            .chain(core::iter::repeat('0'))
            .take(10)
            .collect();
        let mac = format!(
            "02-{}{}-{}{}-{}{}-{}{}-{}{}",
            hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], hex[8], hex[9]
        );
        let name: String = device_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(7)
            .collect();
        DeviceInfo {
            device_id: device_id.to_owned(),
            hw_dev_id: hw_dev_id.to_owned(),
            device_name: format!("DESKTOP-{}", name.to_ascii_uppercase()),
            mac_addresses: vec![mac],
            os_version: "10.0.19045.2965".into(),
            os_edition: 48,
            locale: "en-US".into(),
            application_version: "10.0.19045.2965".into(),
            device_type: "CIMClient_Windows".into(),
            request_version: Version::V5,
            ux_initiated: true,
            targeted_user_logged_in: true,
            not_in_oobe: false,
            extra_context: Vec::new(),
        }
    }

    /// The AdditionalContext items Windows sends, in the order of the captured 19045
    /// request: UXInitiated, HWDevID, Locale, TargetedUserLoggedIn, OSEdition,
    /// DeviceName, MAC (each), DeviceID, EnrollmentType (when given), DeviceType,
    /// OSVersion, ApplicationVersion, NotInOobe, RequestVersion (5.0 and later), then
    /// [`extra_context`](Self::extra_context).
    pub fn additional_context(&self, enrollment_type: Option<EnrollmentType>) -> AdditionalContext {
        let b = |v: bool| if v { "true" } else { "false" };
        let mut c = AdditionalContext::default();
        c.push("UXInitiated", b(self.ux_initiated));
        c.push("HWDevID", &self.hw_dev_id);
        c.push("Locale", &self.locale);
        c.push("TargetedUserLoggedIn", b(self.targeted_user_logged_in));
        c.push("OSEdition", &self.os_edition.to_string());
        c.push("DeviceName", &self.device_name);
        for mac in &self.mac_addresses {
            c.push("MAC", mac);
        }
        c.push("DeviceID", &self.device_id);
        if let Some(t) = enrollment_type {
            c.push("EnrollmentType", t.as_str());
        }
        c.push("DeviceType", &self.device_type);
        c.push("OSVersion", &self.os_version);
        c.push("ApplicationVersion", &self.application_version);
        c.push("NotInOobe", b(self.not_in_oobe));
        if self.request_version >= Version::V5 {
            c.push("RequestVersion", &self.request_version.to_string());
        }
        for (name, value) in &self.extra_context {
            c.push(name, value);
        }
        c
    }
}

/// The credential a device puts into the WS-Security header of GetPolicies and the RST,
/// per the AuthPolicy the server announced. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCredential {
    /// AuthPolicy OnPremise: a `wsse:UsernameToken` with `u:Id`
    /// [`ns::USERNAME_TOKEN_ID`] (MS-MDE2 fixes it) and a PasswordText password. The
    /// server sees it as `token::Credential::UsernameToken`.
    OnPremise {
        /// `wsse:Username` (usually the UPN).
        username: String,
        /// `wsse:Password`.
        password: Secret,
    },
    /// AuthPolicy Federated: the security token the authentication page returned
    /// (`wresult`) or an Entra ID access token (JWT), as obtained. It is written, as
    /// Windows does, base64-encoded in a `wsse:BinarySecurityToken` of ValueType
    /// `DeviceEnrollmentUserToken` (what `token::EntraAuthenticator` decodes).
    Federated(String),
    /// A BinarySecurityToken of ValueType `DeviceEnrollmentUserToken` whose text is
    /// written verbatim (already base64, or a bare JWT: the programmatic form). The
    /// server sees both forms as `token::Credential::BinarySecurityToken`.
    Token(String),
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCredential::OnPremise { username, password } => f
                .debug_struct("OnPremise")
                .field("username", username)
                .field("password", password)
                .finish(),
            ClientCredential::Federated(t) => {
                write!(f, "Federated(<redacted, {} bytes>)", t.len())
            }
            ClientCredential::Token(t) => write!(f, "Token(<redacted, {} bytes>)", t.len()),
        }
    }
}

impl ClientCredential {
    /// [`ClientCredential::OnPremise`] from a user name and password.
    pub fn on_premise(username: &str, password: &str) -> Self {
        ClientCredential::OnPremise {
            username: username.to_owned(),
            password: Secret::new(password),
        }
    }

    /// The `wsse:Security` header carrying this credential.
    pub fn security(&self) -> Security {
        match self {
            ClientCredential::OnPremise { username, password } => Security {
                username_token: Some(UsernameToken {
                    id: Some(ns::USERNAME_TOKEN_ID.into()),
                    username: username.clone(),
                    password: Some(password.clone()),
                    password_type: Some(ns::PASSWORD_TEXT.into()),
                    other: Vec::new(),
                }),
                ..Security::default()
            },
            ClientCredential::Federated(token) => Security {
                binary_security_token: Some(BinarySecurityToken::base64(
                    ValueType::USER_TOKEN,
                    token.as_bytes(),
                )),
                ..Security::default()
            },
            ClientCredential::Token(text) => {
                let mut bst = BinarySecurityToken::base64(ValueType::USER_TOKEN, b"");
                bst.value = text.clone();
                Security {
                    binary_security_token: Some(bst),
                    ..Security::default()
                }
            }
        }
    }
}

/// The discovery URL Windows derives from an e-mail address:
/// `https://EnterpriseEnrollment.<domain>:443/EnrollmentServer/Discovery.svc`. `None` if
/// `email` has no domain part.
pub fn discovery_url(email: &str) -> Option<String> {
    let domain = email.rsplit_once('@')?.1.trim();
    if domain.is_empty() || domain.contains(['/', ' ', ':', '?', '#']) {
        return None;
    }
    Some(format!(
        "https://EnterpriseEnrollment.{domain}:443{}",
        crate::discovery::DISCOVERY_PATH
    ))
}

fn request<B>(action: &str, message_id: &str, to: Option<&str>, body: B) -> Envelope<B> {
    let mut env = Envelope::new(action, body);
    env.header.message_id = Some(message_id.to_owned());
    env.header.reply_to = Some(ns::ANONYMOUS.to_owned());
    env.header.to = to.map(str::to_owned);
    env
}

/// The Discover request (POST to [`discovery_url`], which becomes the `To` header when
/// `email` has a domain): EmailAddress, RequestVersion (`device.request_version`),
/// DeviceType, ApplicationVersion, OSEdition and the AuthPolicies the device supports
/// (Windows lists `OnPremise` and `Federated`), no Security header.
pub fn discover_request(
    email: &str,
    message_id: &str,
    auth_policies: &[AuthPolicy],
    device: &DeviceInfo,
) -> Envelope<Discover> {
    let body = Discover {
        email_address: Some(email.to_owned()),
        request_version: Some(device.request_version),
        device_type: Some(device.device_type.clone()),
        application_version: Some(device.application_version.clone()),
        os_edition: Some(device.os_edition.to_string()),
        auth_policies: auth_policies.to_vec(),
        auth_policies_other: Vec::new(),
        other: Vec::new(),
    };
    request(
        ns::action::DISCOVER,
        message_id,
        discovery_url(email).as_deref(),
        body,
    )
}

/// The MS-XCEP GetPolicies request to `policy_url` (the DiscoverResponse's
/// `EnrollmentPolicyServiceUrl`): `lastUpdate`, `preferredLanguage` and `requestFilter`
/// nil as Windows sends them, the credential in the Security header.
pub fn get_policies_request(
    policy_url: &str,
    message_id: &str,
    credential: &ClientCredential,
) -> Envelope<GetPolicies> {
    let mut env = request(
        ns::action::GET_POLICIES,
        message_id,
        Some(policy_url),
        GetPolicies::default(),
    );
    env.header.security = Some(credential.security());
    env
}

/// The RequestSecurityToken of RequestType Issue to `enrollment_url` (the
/// DiscoverResponse's `EnrollmentServiceUrl`): TokenType DeviceEnrollmentToken, the
/// PKCS#10 `csr_der` base64 in a BinarySecurityToken of ValueType PKCS10, the device's
/// AdditionalContext ([`DeviceInfo::additional_context`]) with `EnrollmentType`, the
/// credential in the Security header.
pub fn rst_request(
    enrollment_url: &str,
    message_id: &str,
    credential: &ClientCredential,
    csr_der: &[u8],
    device: &DeviceInfo,
    enrollment_type: EnrollmentType,
) -> Envelope<RequestSecurityToken> {
    let body = RequestSecurityToken {
        token_type: Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT.into()),
        request_type: Some(RequestType::ISSUE),
        binary_security_token: Some(BinarySecurityToken::base64(ValueType::PKCS10, csr_der)),
        additional_context: device.additional_context(Some(enrollment_type)),
        other: Vec::new(),
    };
    let mut env = request(ns::action::RST, message_id, Some(enrollment_url), body);
    env.header.security = Some(credential.security());
    env
}

/// The RequestSecurityToken of RequestType Renew to `enrollment_url`: the PKCS#7
/// `pkcs7_der` ([`renewal_request`](crate::pki::renewal_request)) base64 in a
/// BinarySecurityToken of ValueType PKCS7, the device's AdditionalContext without
/// `EnrollmentType`. No Security header: the PKCS#7 signature with the current
/// certificate's key is the proof (for ROBO the TLS client certificate is too; set
/// `header.security` on the result if a server wants a token as well).
pub fn renew_request(
    enrollment_url: &str,
    message_id: &str,
    pkcs7_der: &[u8],
    device: &DeviceInfo,
) -> Envelope<RequestSecurityToken> {
    let body = RequestSecurityToken {
        token_type: Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT.into()),
        request_type: Some(RequestType::RENEW),
        binary_security_token: Some(BinarySecurityToken::base64(ValueType::PKCS7, pkcs7_der)),
        additional_context: device.additional_context(None),
        other: Vec::new(),
    };
    request(ns::action::RST, message_id, Some(enrollment_url), body)
}

/// The RequestSecurityToken of RequestType Recovery (MS-MDE2 §3.6) to
/// `enrollment_url`: `token_der` is a PKCS#7 signed with the previous certificate's key
/// ([`renewal_request`](crate::pki::renewal_request)) or a bare PKCS#10 when that key
/// is lost; ValueType PKCS7 or PKCS10 follows from its structure. Recovery does not
/// prove the device's identity by itself, so the credential goes into the Security
/// header as for Issue.
pub fn recovery_request(
    enrollment_url: &str,
    message_id: &str,
    credential: &ClientCredential,
    token_der: &[u8],
    device: &DeviceInfo,
) -> Envelope<RequestSecurityToken> {
    let value_type = match crate::pki::RequestKind::detect(token_der) {
        Some(crate::pki::RequestKind::Pkcs10) => ValueType::PKCS10,
        _ => ValueType::PKCS7,
    };
    let body = RequestSecurityToken {
        token_type: Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT.into()),
        request_type: Some(RequestType::RECOVERY),
        binary_security_token: Some(BinarySecurityToken::base64(value_type, token_der)),
        additional_context: device.additional_context(None),
        other: Vec::new(),
    };
    let mut env = request(ns::action::RST, message_id, Some(enrollment_url), body);
    env.header.security = Some(credential.security());
    env
}

/// The device-side handling of an answer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a SOAP fault (MS-MDE2 subcode, reason, and the
    /// `deviceenrollmentserviceerror` detail if any).
    #[error("the server answered with a fault: {}", fault_summary(.0))]
    Fault(Box<Fault>),
    /// The answer is not a well-formed message.
    #[error("decoding the answer: {0}")]
    Decode(#[from] MessageError),
    /// The answer is a well-formed message of another kind.
    #[error("expected {expected}, got {found}")]
    UnexpectedMessage {
        /// What was expected.
        expected: &'static str,
        /// What came.
        found: &'static str,
    },
    /// The RSTRC carries no provisioning document (or one of another ValueType).
    #[error("the response carries no provisioning document")]
    NoProvisioningDocument,
    /// The provisioning document does not decode.
    #[error("provisioning document: {0}")]
    Document(MessageError),
    /// A typed value in the provisioning document is invalid.
    #[error("provisioning document: {0}")]
    Provisioning(#[from] ProvisioningError),
    /// The document must hold exactly one client certificate (`My/User` or `My/System`).
    #[error("the document holds {0} client certificates, expected one")]
    ClientCertificateCount(usize),
    /// A certificate in the document does not decode.
    #[error("the {which} certificate {thumbprint} does not decode")]
    BadCertificate {
        /// `client`, `root` or `intermediate`.
        which: &'static str,
        /// The characteristic name it was filed under.
        thumbprint: String,
    },
    /// A certificate is filed under a thumbprint that is not its own.
    #[error("certificate filed under {stated} has thumbprint {computed}")]
    ThumbprintMismatch {
        /// The characteristic name.
        stated: String,
        /// The SHA-1 of the DER.
        computed: String,
    },
    /// The client certificate is not for the device's key.
    #[error("the client certificate is not for the device key")]
    KeyMismatch,
    /// The document brings CA certificates but none of them signed the client
    /// certificate.
    #[error("the client certificate does not chain to the document's CA certificates")]
    Untrusted,
    /// The w7 APPLICATION is missing or incomplete.
    #[error("w7 APPLICATION: {0}")]
    Application(&'static str),
}

fn fault_summary(f: &Fault) -> String {
    let code = f.subcode.as_ref().unwrap_or(&f.code);
    let mut s = format!("{}: {}", code.name, f.reason);
    if let Some(e) = &f.enrollment_error {
        s.push_str(&format!(" ({})", e.error_type.0));
        if let Some(m) = &e.message {
            s.push_str(&format!(": {m}"));
        }
    }
    s
}

impl ClientError {
    /// The fault, when the server answered with one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            ClientError::Fault(f) => Some(f),
            _ => None,
        }
    }
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Discover(_) => "Discover",
        Message::DiscoverResponse(_) => "DiscoverResponse",
        Message::GetPolicies(_) => "GetPolicies",
        Message::GetPoliciesResponse(_) => "GetPoliciesResponse",
        Message::RequestSecurityToken(_) => "RequestSecurityToken",
        Message::RequestSecurityTokenResponseCollection(_) => {
            "RequestSecurityTokenResponseCollection"
        }
        Message::Fault(_) => "Fault",
        Message::ProvisioningDoc(_) => "wap-provisioningdoc",
    }
}

fn unexpected(expected: &'static str, m: &Message) -> ClientError {
    match m {
        Message::Fault(f) => ClientError::Fault(Box::new(f.body.clone())),
        other => ClientError::UnexpectedMessage {
            expected,
            found: kind(other),
        },
    }
}

/// Decodes the answer to Discover (an HTTP header block before the XML is skipped); a
/// SOAP fault is [`ClientError::Fault`].
pub fn parse_discover_response(input: &[u8]) -> Result<Envelope<DiscoverResponse>, ClientError> {
    match Message::decode_capture(input)? {
        Message::DiscoverResponse(e) => Ok(e),
        other => Err(unexpected("DiscoverResponse", &other)),
    }
}

/// Decodes the answer to GetPolicies; a SOAP fault is [`ClientError::Fault`].
pub fn parse_get_policies_response(
    input: &[u8],
) -> Result<Envelope<GetPoliciesResponse>, ClientError> {
    match Message::decode_capture(input)? {
        Message::GetPoliciesResponse(e) => Ok(e),
        other => Err(unexpected("GetPoliciesResponse", &other)),
    }
}

/// Decodes the answer to a RequestSecurityToken; a SOAP fault is
/// [`ClientError::Fault`].
pub fn parse_rstrc(
    input: &[u8],
) -> Result<Envelope<RequestSecurityTokenResponseCollection>, ClientError> {
    match Message::decode_capture(input)? {
        Message::RequestSecurityTokenResponseCollection(e) => Ok(e),
        other => Err(unexpected("RequestSecurityTokenResponseCollection", &other)),
    }
}

/// The key size the device must use: the largest `minimalKeyLength` of the policies
/// (Windows honours it), at least 2048.
pub fn minimal_key_length(policies: &GetPoliciesResponse) -> u32 {
    policies
        .policies
        .iter()
        .filter_map(|p| p.attributes.private_key_attributes.as_ref())
        .map(|k| k.minimal_key_length)
        .fold(2048, u32::max)
}

/// What a device installs from the RSTRC's provisioning document, checked: one client
/// certificate for the device's key filed under its own thumbprint and chaining to the
/// document's CA certificates (when it brings any), the w7 APPLICATION with `APPID`
/// `w7`, a `PROVIDER-ID` equal to the DMClient provider and an `ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enrolled {
    /// The client certificate (DER): the TLS client certificate for OMA-DM and renewal.
    pub client_certificate: Vec<u8>,
    /// Its SHA-1 thumbprint.
    pub client_thumbprint: Thumbprint,
    /// Where it goes: `Full` = `My/User`, `Device` = `My/System`.
    pub enrollment_type: EnrollmentType,
    /// `Root/System` certificates (DER), to trust for the management server.
    pub root_certificates: Vec<Vec<u8>>,
    /// `CA/System` certificates (DER).
    pub intermediate_certificates: Vec<Vec<u8>>,
    /// w7 `PROVIDER-ID` (= DMClient provider).
    pub provider_id: String,
    /// w7 `ADDR`: the OMA-DM management URL.
    pub management_url: String,
    /// `SSLCLIENTCERTSEARCHCRITERIA`, as written.
    pub ssl_client_cert_search_criteria: Option<String>,
    /// APPAUTH `APPSRV`: the name, secret and nonce the device presents to the server
    /// (OMA-DM MD5 digest, the DMAcc `AppAuth` the device uses).
    pub device_credentials: Option<AppAuth>,
    /// APPAUTH `CLIENT`: the secret and nonce the server presents to the device.
    pub server_credentials: Option<AppAuth>,
    /// The DMClient `Poll` schedule, if sent.
    pub poll: Option<Poll>,
    /// `CertificateStore/My/WSTEP/Renew` (ROBOSupport, RenewPeriod, RetryInterval), if
    /// sent. Renewal (ROBO or manual) goes to the enrollment service URL the device
    /// enrolled with; the document carries no URL of its own.
    pub renewal: Option<WstepRenew>,
    /// DMClient `EntDMID`, if set.
    pub ent_dmid: Option<String>,
    /// The response's `RelatesTo` (the RST's MessageID).
    pub relates_to: Option<String>,
    /// The whole typed document (everything else: DMClient parms, other characteristics).
    pub provisioning: EnrollmentProvisioning,
}

fn decode_cert(which: &'static str, entry: &CertEntry) -> Result<Vec<u8>, ClientError> {
    let bad = || ClientError::BadCertificate {
        which,
        thumbprint: crate::error::truncate(&entry.thumbprint),
    };
    // The text was one parm value: at most `max_value_bytes` of base64.
    let max = crate::default_limits().max_value_bytes;
    let der = decode_lenient(&entry.encoded_certificate, max).map_err(|_| bad())?;
    {
        use der::Decode as _;
        x509_cert::Certificate::from_der(&der).map_err(|_| bad())?;
    }
    let computed = Thumbprint::of(&der).to_string();
    if !computed.eq_ignore_ascii_case(entry.thumbprint.trim()) {
        return Err(ClientError::ThumbprintMismatch {
            stated: crate::error::truncate(&entry.thumbprint),
            computed,
        });
    }
    Ok(der)
}

impl Enrolled {
    /// Decodes an answer to the RST (an HTTP header block is skipped) and checks it with
    /// [`from_response`](Self::from_response); a SOAP fault is [`ClientError::Fault`].
    pub fn from_xml(input: &[u8], key: &DeviceKey) -> Result<Self, ClientError> {
        Self::from_response(&parse_rstrc(input)?, key)
    }

    /// Reads and checks the provisioning document of a decoded RSTRC for the device
    /// whose key is `key`.
    pub fn from_response(
        response: &Envelope<RequestSecurityTokenResponseCollection>,
        key: &DeviceKey,
    ) -> Result<Self, ClientError> {
        let doc = provisioning_doc(response)?;
        let mut enrolled = Self::from_document(&doc, key)?;
        enrolled.relates_to = response.header.relates_to.clone();
        Ok(enrolled)
    }

    /// Reads and checks a provisioning document already taken out of the RSTRC.
    pub fn from_document(doc: &ProvisioningDoc, key: &DeviceKey) -> Result<Self, ClientError> {
        let p = doc.enrollment()?;
        let certs = Certificates::check(&p, key)?;
        let app = p
            .application
            .as_ref()
            .ok_or(ClientError::Application("missing"))?;
        if !app
            .app_id
            .as_deref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case("w7"))
        {
            return Err(ClientError::Application("APPID is not w7"));
        }
        let provider_id = app
            .provider_id
            .clone()
            .ok_or(ClientError::Application("no PROVIDER-ID"))?;
        if let Some(dm) = &p.dm_client
            && dm.provider_id != provider_id
        {
            return Err(ClientError::Application(
                "PROVIDER-ID differs from the DMClient provider",
            ));
        }
        let management_url = app
            .addr
            .clone()
            .filter(|a| !a.trim().is_empty())
            .ok_or(ClientError::Application("no ADDR"))?;
        let auth = |level: &str| {
            app.app_auth
                .iter()
                .find(|a| a.level.eq_ignore_ascii_case(level))
                .cloned()
        };
        Ok(Enrolled {
            client_thumbprint: Thumbprint::of(&certs.client),
            client_certificate: certs.client,
            enrollment_type: certs.enrollment_type,
            root_certificates: certs.roots,
            intermediate_certificates: certs.intermediates,
            provider_id,
            management_url,
            ssl_client_cert_search_criteria: app.ssl_client_cert_search_criteria.clone(),
            device_credentials: auth("APPSRV"),
            server_credentials: auth("CLIENT"),
            poll: p.dm_client.as_ref().and_then(|d| d.poll),
            renewal: p.certificate_store.wstep_renew,
            ent_dmid: p
                .dm_client
                .as_ref()
                .and_then(|d| d.ent_dmid())
                .map(str::to_owned),
            relates_to: None,
            provisioning: p,
        })
    }
}

/// The certificates of a provisioning document, checked.
struct Certificates {
    client: Vec<u8>,
    enrollment_type: EnrollmentType,
    roots: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
}

impl Certificates {
    fn check(p: &EnrollmentProvisioning, key: &DeviceKey) -> Result<Self, ClientError> {
        let cs = &p.certificate_store;
        let (entry, enrollment_type) = match (cs.my_user.as_slice(), cs.my_system.as_slice()) {
            ([e], []) => (e, EnrollmentType::Full),
            ([], [e]) => (e, EnrollmentType::Device),
            (u, s) => return Err(ClientError::ClientCertificateCount(u.len() + s.len())),
        };
        let client = decode_cert("client", entry)?;
        if !key.matches_certificate(&client) {
            return Err(ClientError::KeyMismatch);
        }
        let roots = cs
            .root_system
            .iter()
            .map(|e| decode_cert("root", e))
            .collect::<Result<Vec<_>, _>>()?;
        let intermediates = cs
            .ca_system
            .iter()
            .map(|e| decode_cert("intermediate", e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut cas = roots.iter().chain(&intermediates).peekable();
        if cas.peek().is_some() && !cas.any(|ca| crate::pki::signed_by(&client, ca)) {
            return Err(ClientError::Untrusted);
        }
        Ok(Certificates {
            client,
            enrollment_type,
            roots,
            intermediates,
        })
    }
}

/// What a device installs from the answer to a renewal (RequestType Renew or Recovery):
/// the new client certificate, checked as in [`Enrolled`] (one certificate, for the new
/// key, under its own thumbprint, chaining to the document's CA certificates if any).
/// MS-MDE2 renewal documents may carry nothing but the certificate and `PROVIDER-ID`, so
/// no w7 APPLICATION is required.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Renewed {
    /// The new client certificate (DER).
    pub client_certificate: Vec<u8>,
    /// Its SHA-1 thumbprint.
    pub client_thumbprint: Thumbprint,
    /// Where it goes: `Full` = `My/User`, `Device` = `My/System`.
    pub enrollment_type: EnrollmentType,
    /// `Root/System` certificates (DER), if sent again.
    pub root_certificates: Vec<Vec<u8>>,
    /// `CA/System` certificates (DER).
    pub intermediate_certificates: Vec<Vec<u8>>,
    /// `CertificateStore/My/WSTEP/Renew`, if sent.
    pub renewal: Option<WstepRenew>,
    /// The response's `RelatesTo`.
    pub relates_to: Option<String>,
    /// The whole typed document.
    pub provisioning: EnrollmentProvisioning,
}

impl Renewed {
    /// Decodes the answer to a renewal RST and checks it for the new key `new_key`; a
    /// SOAP fault is [`ClientError::Fault`] (`NotEligibleToRenew` and friends).
    pub fn from_xml(input: &[u8], new_key: &DeviceKey) -> Result<Self, ClientError> {
        Self::from_response(&parse_rstrc(input)?, new_key)
    }

    /// Reads and checks the provisioning document of a decoded RSTRC.
    pub fn from_response(
        response: &Envelope<RequestSecurityTokenResponseCollection>,
        new_key: &DeviceKey,
    ) -> Result<Self, ClientError> {
        let doc = provisioning_doc(response)?;
        let p = doc.enrollment()?;
        let certs = Certificates::check(&p, new_key)?;
        Ok(Renewed {
            client_thumbprint: Thumbprint::of(&certs.client),
            client_certificate: certs.client,
            enrollment_type: certs.enrollment_type,
            root_certificates: certs.roots,
            intermediate_certificates: certs.intermediates,
            renewal: p.certificate_store.wstep_renew,
            relates_to: response.header.relates_to.clone(),
            provisioning: p,
        })
    }
}

fn provisioning_doc(
    response: &Envelope<RequestSecurityTokenResponseCollection>,
) -> Result<ProvisioningDoc, ClientError> {
    let rstr = response
        .body
        .responses
        .iter()
        .find(|r| r.requested_security_token.is_some())
        .ok_or(ClientError::NoProvisioningDocument)?;
    if let Some(vt) = rstr
        .requested_security_token
        .as_ref()
        .and_then(|b| b.value_type.as_ref())
        && !vt.matches(&ValueType::PROVISION_DOC)
    {
        return Err(ClientError::NoProvisioningDocument);
    }
    rstr.provisioning_doc().map_err(ClientError::Document)
}
