//! Namespace URIs, SOAP actions and well-known URIs of MS-MDE2 (protocol-notes §1.2).

/// SOAP 1.2 envelope namespace (sent by this crate).
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace (accepted; used by some RSTR examples).
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Addressing 1.0.
pub const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Security utility (Timestamp, Id).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Security extensions (Security, BinarySecurityToken, UsernameToken).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Trust 1.3.
pub const WST: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
/// AdditionalContext / ContextItem.
pub const AC: &str = "http://schemas.xmlsoap.org/ws/2006/12/authorization";
/// Discovery (Discover / DiscoverResponse), as sent by Windows and in the XSD.
pub const ENROLL: &str = "http://schemas.microsoft.com/windows/management/2012/01/enrollment";
/// Discovery namespace with the trailing slash the documentation samples use (accepted).
pub const ENROLL_SLASH: &str =
    "http://schemas.microsoft.com/windows/management/2012/01/enrollment/";
/// MS-XCEP enrollment policy.
pub const XCEP: &str = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy";
/// MS-WSTEP enrollment extensions (DispositionMessage, RequestID, deviceenrollmentserviceerror).
pub const PKI_ENROLLMENT: &str = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment";
/// WCF diagnostics (`ActivityId` header).
pub const DIAGNOSTICS: &str = "http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics";
/// XML Schema instance (`nil`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// XML Schema.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// XML digital signature.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// SOAP actions.
pub mod action {
    /// Discover request.
    pub const DISCOVER: &str = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover";
    /// Discover response.
    pub const DISCOVER_RESPONSE: &str = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/DiscoverResponse";
    /// GetPolicies request.
    pub const GET_POLICIES: &str =
        "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies";
    /// GetPolicies response.
    pub const GET_POLICIES_RESPONSE: &str = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPoliciesResponse";
    /// RequestSecurityToken (issue, renew, recovery).
    pub const RST: &str = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep";
    /// RequestSecurityTokenResponseCollection (also used for faults of the enrollment service).
    pub const RSTRC: &str =
        "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep";
    /// WS-Addressing fault action.
    pub const FAULT: &str = "http://www.w3.org/2005/08/addressing/soap/fault";
}

/// WS-Addressing anonymous reply address.
pub const ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
/// MS-MDE2 token type of the enrollment RST/RSTR.
pub const TOKEN_TYPE_DEVICE_ENROLLMENT: &str =
    "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken";
/// Password type of a UsernameToken in MS-MDE2.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
/// The `u:Id` MS-MDE2 requires on the OnPremise UsernameToken.
pub const USERNAME_TOKEN_ID: &str = "uuid-cc1ccc1f-2fba-4bcf-b063-ffc0cac77917-4";
