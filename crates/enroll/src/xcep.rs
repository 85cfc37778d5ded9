//! MS-XCEP `GetPolicies` and `GetPoliciesResponse` as profiled by MS-MDE2 §3.3.

use std::borrow::Cow;

use crate::XmlElement;
use crate::error::MessageError;
use crate::node::{Element, ElementExt, Input};
use crate::ns;
use winmdm_xml::Writer as XmlWriter;

/// `GetPolicies` request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GetPolicies {
    /// `client/lastUpdate` (`None` when nil).
    pub last_update: Option<String>,
    /// `client/preferredLanguage` (`None` when nil).
    pub preferred_language: Option<String>,
    /// `requestFilter` when not nil, kept generic.
    pub request_filter: Option<XmlElement>,
    /// Unknown elements inside `client`, in order.
    pub client_other: Vec<XmlElement>,
    /// Unknown content, in document order.
    pub other: Vec<XmlElement>,
}

/// `AttestationFailureBehavior`: open set (`FailOnError`, `IgnoreOnError`, `RetryOnError`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AttestationFailureBehavior(pub Cow<'static, str>);

impl AttestationFailureBehavior {
    /// Fail enrollment if attestation fails.
    pub const FAIL_ON_ERROR: Self = Self(Cow::Borrowed("FailOnError"));
    /// Enroll without attestation.
    pub const IGNORE_ON_ERROR: Self = Self(Cow::Borrowed("IgnoreOnError"));
    /// Retry (the default).
    pub const RETRY_ON_ERROR: Self = Self(Cow::Borrowed("RetryOnError"));
}

/// `GetPoliciesResponse` body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GetPoliciesResponse {
    /// `response/policyID`.
    pub policy_id: Option<String>,
    /// `response/policyFriendlyName`.
    pub policy_friendly_name: Option<String>,
    /// `response/nextUpdateHours`.
    pub next_update_hours: Option<u32>,
    /// `response/policiesNotChanged`.
    pub policies_not_changed: Option<bool>,
    /// `response/policies/policy`, in order.
    pub policies: Vec<Policy>,
    /// `cAs` when not nil, kept generic.
    pub cas: Option<XmlElement>,
    /// `oIDs/oID`, in order.
    pub oids: Vec<Oid>,
    /// Unknown elements inside `response`, in order.
    pub response_other: Vec<XmlElement>,
    /// Unknown elements inside `response/policies`, in order.
    pub policies_other: Vec<XmlElement>,
    /// Unknown elements inside `oIDs`, in order.
    pub oids_other: Vec<XmlElement>,
    /// Unknown elements of the body, in document order.
    pub other: Vec<XmlElement>,
}

/// One `policy`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Policy {
    /// `policyOIDReference`.
    pub policy_oid_reference: Option<u32>,
    /// `cAs` when not nil.
    pub cas: Option<XmlElement>,
    /// `attributes`.
    pub attributes: PolicyAttributes,
    /// Unknown content.
    pub other: Vec<XmlElement>,
}

/// `policy/attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PolicyAttributes {
    /// `commonName`.
    pub common_name: Option<String>,
    /// `policySchema` (MUST be 3).
    pub policy_schema: Option<u32>,
    /// `certificateValidity`.
    pub certificate_validity: Option<CertificateValidity>,
    /// `permission`.
    pub permission: Option<Permission>,
    /// `privateKeyAttributes`.
    pub private_key_attributes: Option<PrivateKeyAttributes>,
    /// `revision`.
    pub revision: Option<Revision>,
    /// `supersededPolicies` when not nil.
    pub superseded_policies: Option<XmlElement>,
    /// `privateKeyFlags`.
    pub private_key_flags: Option<u32>,
    /// `subjectNameFlags`.
    pub subject_name_flags: Option<u32>,
    /// `enrollmentFlags`.
    pub enrollment_flags: Option<u32>,
    /// `generalFlags`.
    pub general_flags: Option<u32>,
    /// `hashAlgorithmOIDReference` (an `oIDReferenceID` in `oIDs`).
    pub hash_algorithm_oid_reference: Option<u32>,
    /// `rARequirements` when not nil.
    pub ra_requirements: Option<XmlElement>,
    /// `keyArchivalAttributes` when not nil.
    pub key_archival_attributes: Option<XmlElement>,
    /// `extensions` when not nil.
    pub extensions: Option<XmlElement>,
    /// `attestation` (EnrollmentVersion 6.0+).
    pub attestation: Option<Attestation>,
    /// Unknown content.
    pub other: Vec<XmlElement>,
}

/// `certificateValidity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CertificateValidity {
    /// `validityPeriodSeconds`.
    pub validity_period_seconds: u64,
    /// `renewalPeriodSeconds`.
    pub renewal_period_seconds: u64,
}

/// `permission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Permission {
    /// `enroll`.
    pub enroll: bool,
    /// `autoEnroll`.
    pub auto_enroll: bool,
}

/// `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Revision {
    /// `majorRevision`.
    pub major: u32,
    /// `minorRevision`.
    pub minor: u32,
}

/// `privateKeyAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PrivateKeyAttributes {
    /// `minimalKeyLength` (honoured by Windows).
    pub minimal_key_length: u32,
    /// `keySpec`.
    pub key_spec: Option<u32>,
    /// `keyUsageProperty`.
    pub key_usage_property: Option<u32>,
    /// `permissions`.
    pub permissions: Option<String>,
    /// `algorithmOIDReference` (key algorithm, an `oIDReferenceID`).
    pub algorithm_oid_reference: Option<u32>,
    /// `cryptoProviders/provider`, in order (`None` when nil or absent).
    pub crypto_providers: Option<Vec<String>>,
    /// `AttestationFailureBehavior` (EnrollmentVersion 5.0+).
    pub attestation_failure_behavior: Option<AttestationFailureBehavior>,
    /// `OperationTimeout` seconds (EnrollmentVersion 5.0+).
    pub operation_timeout: Option<u32>,
    /// Unknown content.
    pub other: Vec<XmlElement>,
}

/// `attributes/attestation` (EnrollmentVersion 6.0+; takes precedence over the
/// `privateKeyAttributes` settings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attestation {
    /// `attestationFailureBehavior`.
    pub attestation_failure_behavior: Option<AttestationFailureBehavior>,
    /// `operationTimeout`.
    pub operation_timeout: Option<u32>,
    /// `azureAttestation`.
    pub azure_attestation: Option<AzureAttestation>,
    /// Unknown content.
    pub other: Vec<XmlElement>,
}

/// `azureAttestation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AzureAttestation {
    /// `nonce`.
    pub nonce: Option<String>,
    /// `relyingPartyId`.
    pub relying_party_id: Option<String>,
    /// `endpointUri`.
    pub endpoint_uri: Option<String>,
}

/// `oIDs/oID`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Oid {
    /// `value` (dotted OID).
    pub value: String,
    /// `group` (1 hash/signature, 4 in the sha256 example, ...).
    pub group: u32,
    /// `oIDReferenceID`.
    pub oid_reference_id: u32,
    /// `defaultName` (trimmed).
    pub default_name: Option<String>,
}

impl Oid {
    /// szOID_OIWSEC_sha1RSASign (1.3.14.3.2.29), group 1, as in the MS-MDE2 examples.
    pub fn sha1_rsa(reference_id: u32) -> Self {
        Oid {
            value: "1.3.14.3.2.29".into(),
            group: 1,
            oid_reference_id: reference_id,
            default_name: Some("szOID_OIWSEC_sha1RSASign".into()),
        }
    }
    /// szOID_NIST_sha256 (2.16.840.1.101.3.4.2.1), group 1.
    pub fn sha256(reference_id: u32) -> Self {
        Oid {
            value: "2.16.840.1.101.3.4.2.1".into(),
            group: 1,
            oid_reference_id: reference_id,
            default_name: Some("szOID_NIST_sha256".into()),
        }
    }
    /// szOID_RSA_RSA (1.2.840.113549.1.1.1), group 3 (public key algorithms).
    pub fn rsa(reference_id: u32) -> Self {
        Oid {
            value: "1.2.840.113549.1.1.1".into(),
            group: 3,
            oid_reference_id: reference_id,
            default_name: Some("szOID_RSA_RSA".into()),
        }
    }
}

impl GetPoliciesResponse {
    /// The `oID` a reference points to.
    pub fn oid(&self, reference: u32) -> Option<&Oid> {
        self.oids.iter().find(|o| o.oid_reference_id == reference)
    }

    /// A one-policy response: key length, validity/renewal periods in seconds, hash
    /// algorithm OID (`hash`), optional key algorithm OID and key storage providers.
    pub fn single_policy(
        common_name: &str,
        minimal_key_length: u32,
        validity: CertificateValidity,
        hash: Oid,
        key_algorithm: Option<Oid>,
        crypto_providers: Option<Vec<String>>,
    ) -> Self {
        let mut oids = vec![hash.clone()];
        if let Some(k) = &key_algorithm {
            oids.push(k.clone());
        }
        GetPoliciesResponse {
            policies: vec![Policy {
                policy_oid_reference: Some(0),
                cas: None,
                attributes: PolicyAttributes {
                    common_name: Some(common_name.into()),
                    policy_schema: Some(3),
                    certificate_validity: Some(validity),
                    permission: Some(Permission {
                        enroll: true,
                        auto_enroll: false,
                    }),
                    private_key_attributes: Some(PrivateKeyAttributes {
                        minimal_key_length,
                        algorithm_oid_reference: key_algorithm.map(|k| k.oid_reference_id),
                        crypto_providers,
                        ..PrivateKeyAttributes::default()
                    }),
                    revision: Some(Revision {
                        major: 101,
                        minor: 0,
                    }),
                    hash_algorithm_oid_reference: Some(hash.oid_reference_id),
                    ..PolicyAttributes::default()
                },
                other: Vec::new(),
            }],
            oids,
            ..GetPoliciesResponse::default()
        }
    }
}

pub(crate) fn is_get_policies(n: &Element) -> bool {
    n.is("GetPolicies") && n.in_ns(&[Some(ns::XCEP)])
}

pub(crate) fn is_get_policies_response(n: &Element) -> bool {
    n.is("GetPoliciesResponse") && n.in_ns(&[Some(ns::XCEP)])
}

fn num<T: std::str::FromStr>(
    input: &Input<'_>,
    n: &Element,
    field: &'static str,
) -> Result<Option<T>, MessageError> {
    match n.opt_text() {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| input.invalid(n, field, &t)),
    }
}

fn req_num<T: std::str::FromStr>(
    input: &Input<'_>,
    parent: &Element,
    local: &'static str,
) -> Result<T, MessageError> {
    let n = parent
        .child_named(local)
        .ok_or_else(|| input.missing(parent, local))?;
    num(input, n, local)?.ok_or_else(|| input.missing(n, local))
}

fn boolean(
    input: &Input<'_>,
    n: &Element,
    field: &'static str,
) -> Result<Option<bool>, MessageError> {
    match n.opt_text().as_deref() {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("true") || t == "1" => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("false") || t == "0" => Ok(Some(false)),
        Some(t) => Err(input.invalid(n, field, t)),
    }
}

fn generic_unless_nil(n: &Element) -> Option<XmlElement> {
    if n.is_nil() && n.elements().next().is_none() && n.trimmed().is_empty() {
        None
    } else {
        Some(n.to_generic())
    }
}

pub(crate) fn decode_get_policies(
    _ctx: &Input<'_>,
    n: &Element,
) -> Result<GetPolicies, MessageError> {
    let mut g = GetPolicies::default();
    for e in n.elements() {
        if e.is("client") {
            for c in e.elements() {
                if c.is("lastUpdate") {
                    g.last_update = c.opt_text();
                } else if c.is("preferredLanguage") {
                    g.preferred_language = c.opt_text();
                } else {
                    g.client_other.push(c.to_generic());
                }
            }
        } else if e.is("requestFilter") {
            g.request_filter = generic_unless_nil(e);
        } else {
            g.other.push(e.to_generic());
        }
    }
    Ok(g)
}

pub(crate) fn encode_get_policies(g: &GetPolicies, w: &mut XmlWriter) {
    w.open(
        "GetPolicies",
        &[("xmlns", ns::XCEP), ("xmlns:xsi", ns::XSI)],
    );
    w.open("client", &[]);
    w.nil_leaf("lastUpdate", g.last_update.as_deref());
    w.nil_leaf("preferredLanguage", g.preferred_language.as_deref());
    for o in &g.client_other {
        w.element(o);
    }
    w.close("client");
    match &g.request_filter {
        Some(f) => w.element(f),
        None => w.empty("requestFilter", &[("xsi:nil", "true")]),
    }
    for o in &g.other {
        w.element(o);
    }
    w.close("GetPolicies");
}

fn attestation_failure_behavior(n: &Element) -> Option<AttestationFailureBehavior> {
    n.opt_text()
        .map(|t| AttestationFailureBehavior(Cow::Owned(t)))
}

fn decode_private_key_attributes(
    input: &Input<'_>,
    n: &Element,
) -> Result<PrivateKeyAttributes, MessageError> {
    let mut p = PrivateKeyAttributes::default();
    let mut min = None;
    for e in n.elements() {
        if e.is("minimalKeyLength") {
            min = num(input, e, "minimalKeyLength")?;
        } else if e.is("keySpec") {
            p.key_spec = num(input, e, "keySpec")?;
        } else if e.is("keyUsageProperty") {
            p.key_usage_property = num(input, e, "keyUsageProperty")?;
        } else if e.is("permissions") {
            p.permissions = e.opt_text();
        } else if e.is("algorithmOIDReference") {
            p.algorithm_oid_reference = num(input, e, "algorithmOIDReference")?;
        } else if e.is("cryptoProviders") {
            let list: Vec<String> = e
                .elements()
                .filter(|c| c.is("provider"))
                .map(Element::trimmed)
                .collect();
            p.crypto_providers = if list.is_empty() && e.is_nil() {
                None
            } else {
                Some(list)
            };
        } else if e.is("AttestationFailureBehavior") {
            p.attestation_failure_behavior = attestation_failure_behavior(e);
        } else if e.is("OperationTimeout") {
            p.operation_timeout = num(input, e, "OperationTimeout")?;
        } else {
            p.other.push(e.to_generic());
        }
    }
    p.minimal_key_length = min.ok_or_else(|| input.missing(n, "minimalKeyLength"))?;
    Ok(p)
}

fn decode_attestation(input: &Input<'_>, n: &Element) -> Result<Attestation, MessageError> {
    let mut a = Attestation::default();
    for e in n.elements() {
        if e.is("attestationFailureBehavior") {
            a.attestation_failure_behavior = attestation_failure_behavior(e);
        } else if e.is("operationTimeout") {
            a.operation_timeout = num(input, e, "operationTimeout")?;
        } else if e.is("azureAttestation") {
            a.azure_attestation = Some(AzureAttestation {
                nonce: e.child_named("nonce").and_then(Element::opt_text),
                relying_party_id: e.child_named("relyingPartyId").and_then(Element::opt_text),
                endpoint_uri: e.child_named("endpointUri").and_then(Element::opt_text),
            });
        } else {
            a.other.push(e.to_generic());
        }
    }
    Ok(a)
}

fn decode_attributes(input: &Input<'_>, n: &Element) -> Result<PolicyAttributes, MessageError> {
    let mut a = PolicyAttributes::default();
    for e in n.elements() {
        let local = e.name.as_str();
        if e.is_nil() && e.elements().next().is_none() && e.trimmed().is_empty() {
            // nil: same as absent (the encoder writes nil for absent required parts).
            continue;
        }
        match local.to_ascii_lowercase().as_str() {
            "commonname" => a.common_name = e.opt_text(),
            "policyschema" => a.policy_schema = num(input, e, "policySchema")?,
            "certificatevalidity" => {
                a.certificate_validity = Some(CertificateValidity {
                    validity_period_seconds: req_num(input, e, "validityPeriodSeconds")?,
                    renewal_period_seconds: req_num(input, e, "renewalPeriodSeconds")?,
                })
            }
            "permission" => {
                a.permission = Some(Permission {
                    enroll: match e.child_named("enroll") {
                        Some(x) => boolean(input, x, "enroll")?.unwrap_or(false),
                        None => false,
                    },
                    auto_enroll: match e.child_named("autoEnroll") {
                        Some(x) => boolean(input, x, "autoEnroll")?.unwrap_or(false),
                        None => false,
                    },
                })
            }
            "privatekeyattributes" => {
                a.private_key_attributes = Some(decode_private_key_attributes(input, e)?)
            }
            "revision" => {
                a.revision = Some(Revision {
                    major: req_num(input, e, "majorRevision")?,
                    minor: req_num(input, e, "minorRevision")?,
                })
            }
            "supersededpolicies" => a.superseded_policies = generic_unless_nil(e),
            "privatekeyflags" => a.private_key_flags = num(input, e, "privateKeyFlags")?,
            "subjectnameflags" => a.subject_name_flags = num(input, e, "subjectNameFlags")?,
            "enrollmentflags" => a.enrollment_flags = num(input, e, "enrollmentFlags")?,
            "generalflags" => a.general_flags = num(input, e, "generalFlags")?,
            "hashalgorithmoidreference" => {
                a.hash_algorithm_oid_reference = num(input, e, "hashAlgorithmOIDReference")?
            }
            "rarequirements" => a.ra_requirements = generic_unless_nil(e),
            "keyarchivalattributes" => a.key_archival_attributes = generic_unless_nil(e),
            "extensions" => a.extensions = generic_unless_nil(e),
            "attestation" => a.attestation = Some(decode_attestation(input, e)?),
            _ => a.other.push(e.to_generic()),
        }
    }
    Ok(a)
}

fn decode_policy(input: &Input<'_>, n: &Element) -> Result<Policy, MessageError> {
    let mut p = Policy::default();
    let mut attrs = None;
    for e in n.elements() {
        if e.is("policyOIDReference") {
            p.policy_oid_reference = num(input, e, "policyOIDReference")?;
        } else if e.is("cAs") {
            p.cas = generic_unless_nil(e);
        } else if e.is("attributes") {
            attrs = Some(decode_attributes(input, e)?);
        } else {
            p.other.push(e.to_generic());
        }
    }
    p.attributes = attrs.ok_or_else(|| input.missing(n, "attributes"))?;
    Ok(p)
}

pub(crate) fn decode_get_policies_response(
    input: &Input<'_>,
    n: &Element,
) -> Result<GetPoliciesResponse, MessageError> {
    let mut r = GetPoliciesResponse::default();
    for e in n.elements() {
        if e.is("response") {
            for c in e.elements() {
                if c.is("policyID") {
                    r.policy_id = c.opt_text();
                } else if c.is("policyFriendlyName") {
                    r.policy_friendly_name = c.opt_text();
                } else if c.is("nextUpdateHours") {
                    r.next_update_hours = num(input, c, "nextUpdateHours")?;
                } else if c.is("policiesNotChanged") {
                    r.policies_not_changed = boolean(input, c, "policiesNotChanged")?;
                } else if c.is("policies") {
                    for p in c.elements() {
                        if p.is("policy") {
                            r.policies.push(decode_policy(input, p)?);
                        } else {
                            r.policies_other.push(p.to_generic());
                        }
                    }
                } else {
                    r.response_other.push(c.to_generic());
                }
            }
        } else if e.is("cAs") {
            r.cas = generic_unless_nil(e);
        } else if e.is("oIDs") {
            for o in e.elements() {
                if !o.is("oID") {
                    r.oids_other.push(o.to_generic());
                    continue;
                }
                r.oids.push(Oid {
                    value: o
                        .child_named("value")
                        .map(Element::trimmed)
                        .ok_or_else(|| input.missing(o, "value"))?,
                    group: req_num(input, o, "group")?,
                    oid_reference_id: req_num(input, o, "oIDReferenceID")?,
                    default_name: o.child_named("defaultName").and_then(Element::opt_text),
                });
            }
        } else {
            r.other.push(e.to_generic());
        }
    }
    Ok(r)
}

fn nil_or<T: ToString>(w: &mut XmlWriter, name: &str, v: Option<T>) {
    w.nil_leaf(name, v.map(|x| x.to_string()).as_deref());
}

fn nil_or_generic(w: &mut XmlWriter, name: &str, v: &Option<XmlElement>) {
    match v {
        Some(g) => w.element(g),
        None => w.empty(name, &[("xsi:nil", "true")]),
    }
}

fn encode_policy(p: &Policy, w: &mut XmlWriter) {
    w.open("policy", &[]);
    nil_or(w, "policyOIDReference", p.policy_oid_reference);
    nil_or_generic(w, "cAs", &p.cas);
    let a = &p.attributes;
    w.open("attributes", &[]);
    nil_or(w, "commonName", a.common_name.as_deref());
    nil_or(w, "policySchema", a.policy_schema);
    match &a.certificate_validity {
        Some(v) => {
            w.open("certificateValidity", &[]);
            w.leaf(
                "validityPeriodSeconds",
                &[],
                &v.validity_period_seconds.to_string(),
            );
            w.leaf(
                "renewalPeriodSeconds",
                &[],
                &v.renewal_period_seconds.to_string(),
            );
            w.close("certificateValidity");
        }
        None => w.empty("certificateValidity", &[("xsi:nil", "true")]),
    }
    match &a.permission {
        Some(p) => {
            w.open("permission", &[]);
            w.leaf("enroll", &[], if p.enroll { "true" } else { "false" });
            w.leaf(
                "autoEnroll",
                &[],
                if p.auto_enroll { "true" } else { "false" },
            );
            w.close("permission");
        }
        None => w.empty("permission", &[("xsi:nil", "true")]),
    }
    match &a.private_key_attributes {
        Some(k) => {
            w.open("privateKeyAttributes", &[]);
            w.leaf("minimalKeyLength", &[], &k.minimal_key_length.to_string());
            nil_or(w, "keySpec", k.key_spec);
            nil_or(w, "keyUsageProperty", k.key_usage_property);
            nil_or(w, "permissions", k.permissions.as_deref());
            nil_or(w, "algorithmOIDReference", k.algorithm_oid_reference);
            if let Some(b) = &k.attestation_failure_behavior {
                w.leaf("AttestationFailureBehavior", &[], &b.0);
            }
            if let Some(t) = k.operation_timeout {
                w.leaf("OperationTimeout", &[], &t.to_string());
            }
            match &k.crypto_providers {
                Some(list) => {
                    w.open("cryptoProviders", &[]);
                    for p in list {
                        w.leaf("provider", &[], p);
                    }
                    w.close("cryptoProviders");
                }
                None => w.empty("cryptoProviders", &[("xsi:nil", "true")]),
            }
            for o in &k.other {
                w.element(o);
            }
            w.close("privateKeyAttributes");
        }
        None => w.empty("privateKeyAttributes", &[("xsi:nil", "true")]),
    }
    if let Some(r) = &a.revision {
        w.open("revision", &[]);
        w.leaf("majorRevision", &[], &r.major.to_string());
        w.leaf("minorRevision", &[], &r.minor.to_string());
        w.close("revision");
    }
    nil_or_generic(w, "supersededPolicies", &a.superseded_policies);
    nil_or(w, "privateKeyFlags", a.private_key_flags);
    nil_or(w, "subjectNameFlags", a.subject_name_flags);
    nil_or(w, "enrollmentFlags", a.enrollment_flags);
    nil_or(w, "generalFlags", a.general_flags);
    nil_or(
        w,
        "hashAlgorithmOIDReference",
        a.hash_algorithm_oid_reference,
    );
    nil_or_generic(w, "rARequirements", &a.ra_requirements);
    nil_or_generic(w, "keyArchivalAttributes", &a.key_archival_attributes);
    nil_or_generic(w, "extensions", &a.extensions);
    if let Some(at) = &a.attestation {
        w.open("attestation", &[]);
        if let Some(b) = &at.attestation_failure_behavior {
            w.leaf("attestationFailureBehavior", &[], &b.0);
        }
        if let Some(t) = at.operation_timeout {
            w.leaf("operationTimeout", &[], &t.to_string());
        }
        if let Some(az) = &at.azure_attestation {
            w.open("azureAttestation", &[]);
            w.opt_leaf("nonce", az.nonce.as_deref());
            w.opt_leaf("relyingPartyId", az.relying_party_id.as_deref());
            w.opt_leaf("endpointUri", az.endpoint_uri.as_deref());
            w.close("azureAttestation");
        }
        for o in &at.other {
            w.element(o);
        }
        w.close("attestation");
    }
    for o in &a.other {
        w.element(o);
    }
    w.close("attributes");
    for o in &p.other {
        w.element(o);
    }
    w.close("policy");
}

pub(crate) fn encode_get_policies_response(r: &GetPoliciesResponse, w: &mut XmlWriter) {
    w.open(
        "GetPoliciesResponse",
        &[("xmlns", ns::XCEP), ("xmlns:xsi", ns::XSI)],
    );
    w.open("response", &[]);
    nil_or(w, "policyID", r.policy_id.as_deref());
    nil_or(w, "policyFriendlyName", r.policy_friendly_name.as_deref());
    nil_or(w, "nextUpdateHours", r.next_update_hours);
    nil_or(w, "policiesNotChanged", r.policies_not_changed);
    w.open("policies", &[]);
    for p in &r.policies {
        encode_policy(p, w);
    }
    for o in &r.policies_other {
        w.element(o);
    }
    w.close("policies");
    for o in &r.response_other {
        w.element(o);
    }
    w.close("response");
    nil_or_generic(w, "cAs", &r.cas);
    w.open("oIDs", &[]);
    for o in &r.oids {
        w.open("oID", &[]);
        w.leaf("value", &[], &o.value);
        w.leaf("group", &[], &o.group.to_string());
        w.leaf("oIDReferenceID", &[], &o.oid_reference_id.to_string());
        w.opt_leaf("defaultName", o.default_name.as_deref());
        w.close("oID");
    }
    for o in &r.oids_other {
        w.element(o);
    }
    w.close("oIDs");
    for o in &r.other {
        w.element(o);
    }
    w.close("GetPoliciesResponse");
}
