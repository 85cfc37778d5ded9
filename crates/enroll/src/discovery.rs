//! Discovery: the GET probe, `Discover` and `DiscoverResponse` (MS-MDE2 §3.1).

use std::borrow::Cow;
use std::fmt;

use crate::XmlElement;
use crate::error::MessageError;
use crate::node::{Element, ElementExt, Input};
use crate::ns;
use winmdm_xml::Writer as XmlWriter;

/// Path of the discovery service; Windows always uses it.
pub const DISCOVERY_PATH: &str = "/EnrollmentServer/Discovery.svc";

/// Whether an HTTP request is the discovery GET probe (method `GET`, path
/// [`DISCOVERY_PATH`] compared case-insensitively, query ignored).
pub fn is_discovery_probe(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    method.eq_ignore_ascii_case("GET") && path.eq_ignore_ascii_case(DISCOVERY_PATH)
}

/// The answer to the GET probe: `200 OK` with an empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    /// HTTP status (200).
    pub status: u16,
    /// Content type (`text/html`, as in the documentation trace).
    pub content_type: &'static str,
    /// Body (empty).
    pub body: &'static str,
}

/// The response a server sends to the discovery GET probe.
pub fn probe_response() -> ProbeResponse {
    ProbeResponse {
        status: 200,
        content_type: "text/html",
        body: "",
    }
}

/// An enrollment protocol version such as `5.0` (RequestVersion, EnrollmentVersion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Version {
    /// Major part.
    pub major: u16,
    /// Minor part.
    pub minor: u16,
}

impl Version {
    /// 1.0
    pub const V1: Version = Version { major: 1, minor: 0 };
    /// 2.0
    pub const V2: Version = Version { major: 2, minor: 0 };
    /// 3.0 (Windows 10)
    pub const V3: Version = Version { major: 3, minor: 0 };
    /// 4.0 (Windows 10 1703+)
    pub const V4: Version = Version { major: 4, minor: 0 };
    /// 5.0 (attestation context items)
    pub const V5: Version = Version { major: 5, minor: 0 };
    /// 6.0 (Azure attestation)
    pub const V6: Version = Version { major: 6, minor: 0 };
    /// 7.0 (attestation status items)
    pub const V7: Version = Version { major: 7, minor: 0 };
}

impl Version {
    /// The version to answer with: the client's `RequestVersion` capped at what the
    /// server supports (`None` requested: the supported version).
    pub fn negotiate(requested: Option<Version>, supported: Version) -> Version {
        requested.map_or(supported, |r| r.min(supported))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl TryFrom<&str> for Version {
    type Error = ();
    /// Parses `N` or `N.M` (surrounding whitespace ignored).
    fn try_from(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        let (a, b) = s.split_once('.').unwrap_or((s, "0"));
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 4 && x.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(());
        }
        Ok(Version {
            major: a.parse().map_err(|_| ())?,
            minor: b.parse().map_err(|_| ())?,
        })
    }
}

/// An authentication policy: open set, named constants for the MS-MDE2 values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AuthPolicy(pub Cow<'static, str>);

impl AuthPolicy {
    /// Username and password (WS-Security UsernameToken).
    pub const ON_PREMISE: AuthPolicy = AuthPolicy(Cow::Borrowed("OnPremise"));
    /// Token from a web authentication broker (or Entra).
    pub const FEDERATED: AuthPolicy = AuthPolicy(Cow::Borrowed("Federated"));
    /// Client certificate.
    pub const CERTIFICATE: AuthPolicy = AuthPolicy(Cow::Borrowed("Certificate"));
    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Discover/request` (xsd:all; every field optional here, unknown fields kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Discover {
    /// `EmailAddress` (may be empty for Entra enrollment, or `domain\user`).
    pub email_address: Option<String>,
    /// `RequestVersion` (1.0 to 7.0; other values kept).
    pub request_version: Option<Version>,
    /// `DeviceType` (`CIMClient_Windows`, `WindowsPhone`, ...).
    pub device_type: Option<String>,
    /// `ApplicationVersion` (dotted quad).
    pub application_version: Option<String>,
    /// `OSEdition` (Windows PRODUCT_* value as text).
    pub os_edition: Option<String>,
    /// `AuthPolicies/AuthPolicy`, in order. The flat form
    /// `<AuthPolicies>Certificate</AuthPolicies>` is read as a list too.
    pub auth_policies: Vec<AuthPolicy>,
    /// Unknown elements inside `AuthPolicies`, in order.
    pub auth_policies_other: Vec<XmlElement>,
    /// Unknown request fields (e.g. `OSVersion`), in document order.
    pub other: Vec<XmlElement>,
}

impl Discover {
    /// `OSEdition` as a number.
    pub fn os_edition_number(&self) -> Option<u32> {
        self.os_edition
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
    }
}

/// `DiscoverResponse/DiscoverResult`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DiscoverResponse {
    /// `AuthPolicy` (required).
    pub auth_policy: AuthPolicy,
    /// `EnrollmentVersion`.
    pub enrollment_version: Option<Version>,
    /// `EnrollmentPolicyServiceUrl` (MS-XCEP endpoint).
    pub enrollment_policy_service_url: Option<String>,
    /// `EnrollmentServiceUrl` (MS-WSTEP endpoint; required).
    pub enrollment_service_url: String,
    /// `AuthenticationServiceUrl` (required for Federated).
    pub authentication_service_url: Option<String>,
    /// Unknown result fields, in document order.
    pub other: Vec<XmlElement>,
}

impl DiscoverResponse {
    /// The elements MS-MDE2 requires that this response lacks: `EnrollmentServiceUrl`
    /// (always), `AuthenticationServiceUrl` (Federated).
    pub fn missing_required(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.enrollment_service_url.trim().is_empty() {
            missing.push("EnrollmentServiceUrl");
        }
        if self.auth_policy == AuthPolicy::FEDERATED
            && self
                .authentication_service_url
                .as_deref()
                .is_none_or(|u| u.trim().is_empty())
        {
            missing.push("AuthenticationServiceUrl");
        }
        missing
    }
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy::ON_PREMISE
    }
}

const ENROLL_NS: [Option<&str>; 2] = [Some(ns::ENROLL), Some(ns::ENROLL_SLASH)];

pub(crate) fn is_discover(n: &Element) -> bool {
    n.is("Discover") && n.in_ns(&ENROLL_NS)
}

pub(crate) fn is_discover_response(n: &Element) -> bool {
    n.is("DiscoverResponse") && n.in_ns(&ENROLL_NS)
}

fn version(
    input: &Input<'_>,
    n: &Element,
    field: &'static str,
) -> Result<Option<Version>, MessageError> {
    match n.opt_text() {
        None => Ok(None),
        Some(t) => Version::try_from(t.as_str())
            .map(Some)
            .map_err(|_| input.invalid(n, field, &t)),
    }
}

pub(crate) fn decode_discover(input: &Input<'_>, n: &Element) -> Result<Discover, MessageError> {
    let req = n
        .child_named("request")
        .ok_or_else(|| input.missing(n, "request"))?;
    let mut d = Discover::default();
    for e in req.elements() {
        if e.is("EmailAddress") {
            d.email_address = Some(e.trimmed());
        } else if e.is("RequestVersion") {
            d.request_version = version(input, e, "RequestVersion")?;
        } else if e.is("DeviceType") {
            d.device_type = e.opt_text();
        } else if e.is("ApplicationVersion") {
            d.application_version = e.opt_text();
        } else if e.is("OSEdition") {
            d.os_edition = e.opt_text();
        } else if e.is("AuthPolicies") {
            let children: Vec<&Element> = e.elements().collect();
            if children.is_empty() {
                d.auth_policies.extend(
                    e.text()
                        .split_whitespace()
                        .map(|p| AuthPolicy(Cow::Owned(p.to_owned()))),
                );
            } else {
                for p in children {
                    if p.is("AuthPolicy") {
                        d.auth_policies.push(AuthPolicy(Cow::Owned(p.trimmed())));
                    } else {
                        d.auth_policies_other.push(p.to_generic());
                    }
                }
            }
        } else {
            d.other.push(e.to_generic());
        }
    }
    Ok(d)
}

pub(crate) fn encode_discover(d: &Discover, w: &mut XmlWriter) {
    w.open("Discover", &[("xmlns", ns::ENROLL)]);
    w.open("request", &[("xmlns:i", ns::XSI)]);
    w.opt_leaf("EmailAddress", d.email_address.as_deref());
    if let Some(v) = d.request_version {
        w.leaf("RequestVersion", &[], &v.to_string());
    }
    w.opt_leaf("DeviceType", d.device_type.as_deref());
    w.opt_leaf("ApplicationVersion", d.application_version.as_deref());
    w.opt_leaf("OSEdition", d.os_edition.as_deref());
    if !d.auth_policies.is_empty() || !d.auth_policies_other.is_empty() {
        w.open("AuthPolicies", &[]);
        for p in &d.auth_policies {
            w.leaf("AuthPolicy", &[], p.as_str());
        }
        for o in &d.auth_policies_other {
            w.element(o);
        }
        w.close("AuthPolicies");
    }
    for o in &d.other {
        w.element(o);
    }
    w.close("request");
    w.close("Discover");
}

pub(crate) fn decode_discover_response(
    input: &Input<'_>,
    n: &Element,
) -> Result<DiscoverResponse, MessageError> {
    let res = n
        .child_named("DiscoverResult")
        .ok_or_else(|| input.missing(n, "DiscoverResult"))?;
    let mut auth = None;
    let mut url = None;
    let mut r = DiscoverResponse::default();
    for e in res.elements() {
        if e.is("AuthPolicy") {
            auth = e.opt_text();
        } else if e.is("EnrollmentVersion") {
            r.enrollment_version = version(input, e, "EnrollmentVersion")?;
        } else if e.is("EnrollmentPolicyServiceUrl") {
            r.enrollment_policy_service_url = e.opt_text();
        } else if e.is("EnrollmentServiceUrl") {
            url = e.opt_text();
        } else if e.is("AuthenticationServiceUrl") {
            r.authentication_service_url = e.opt_text();
        } else {
            r.other.push(e.to_generic());
        }
    }
    r.auth_policy = AuthPolicy(Cow::Owned(
        auth.ok_or_else(|| input.missing(res, "AuthPolicy"))?,
    ));
    r.enrollment_service_url = url.ok_or_else(|| input.missing(res, "EnrollmentServiceUrl"))?;
    Ok(r)
}

pub(crate) fn encode_discover_response(r: &DiscoverResponse, w: &mut XmlWriter) {
    w.open("DiscoverResponse", &[("xmlns", ns::ENROLL)]);
    w.open("DiscoverResult", &[]);
    w.leaf("AuthPolicy", &[], r.auth_policy.as_str());
    if let Some(v) = r.enrollment_version {
        w.leaf("EnrollmentVersion", &[], &v.to_string());
    }
    w.opt_leaf(
        "EnrollmentPolicyServiceUrl",
        r.enrollment_policy_service_url.as_deref(),
    );
    w.leaf("EnrollmentServiceUrl", &[], &r.enrollment_service_url);
    w.opt_leaf(
        "AuthenticationServiceUrl",
        r.authentication_service_url.as_deref(),
    );
    for o in &r.other {
        w.element(o);
    }
    w.close("DiscoverResult");
    w.close("DiscoverResponse");
}
