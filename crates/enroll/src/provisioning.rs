//! The `wap-provisioningdoc` returned in the RSTR (MS-MDE2 §2.2.9): a generic
//! characteristic tree that keeps everything, and a typed view and builder for the
//! parts an enrollment server writes (CertificateStore, w7 APPLICATION, DMClient).

use std::borrow::Cow;

use crate::error::{MessageError, MessageErrorKind, MessageLimits, default_limits};
use crate::node::{Element, ElementExt, Input, Node};
use winmdm_types::Secret;
use winmdm_types::base64::decode_lenient;
use winmdm_xml::ErrorKind as XmlErrorKind;
use winmdm_xml::Writer as XmlWriter;

/// `parm/@datatype`: open set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Datatype(pub Cow<'static, str>);

impl Datatype {
    /// `string`
    pub const STRING: Datatype = Datatype(Cow::Borrowed("string"));
    /// `integer`
    pub const INTEGER: Datatype = Datatype(Cow::Borrowed("integer"));
    /// `boolean`
    pub const BOOLEAN: Datatype = Datatype(Cow::Borrowed("boolean"));
}

/// A `parm`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Parm {
    /// `name`.
    pub name: String,
    /// `value` (absent for valueless flags such as `BACKCOMPATRETRYDISABLED`).
    pub value: Option<String>,
    /// `datatype`.
    pub datatype: Option<Datatype>,
}

impl Parm {
    /// A parm with a value and no datatype.
    pub fn new(name: &str, value: &str) -> Self {
        Parm {
            name: name.into(),
            value: Some(value.into()),
            datatype: None,
        }
    }
    /// A parm with a value and a datatype.
    pub fn typed(name: &str, value: &str, datatype: Datatype) -> Self {
        Parm {
            name: name.into(),
            value: Some(value.into()),
            datatype: Some(datatype),
        }
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum WapNode {
    /// `characteristic`.
    Characteristic(Characteristic),
    /// `parm`.
    Parm(Parm),
}

/// A `characteristic` with its children in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Characteristic {
    /// `type`, kept verbatim (a doc sample has a trailing space in a thumbprint).
    pub type_: String,
    /// Children.
    pub children: Vec<WapNode>,
}

impl Characteristic {
    /// An empty characteristic.
    pub fn new(type_: &str) -> Self {
        Characteristic {
            type_: type_.into(),
            children: Vec::new(),
        }
    }
    /// Adds a child characteristic (builder style).
    pub fn with(mut self, c: Characteristic) -> Self {
        self.children.push(WapNode::Characteristic(c));
        self
    }
    /// Adds a parm (builder style).
    pub fn with_parm(mut self, p: Parm) -> Self {
        self.children.push(WapNode::Parm(p));
        self
    }
    /// Child characteristics.
    pub fn characteristics(&self) -> impl Iterator<Item = &Characteristic> {
        self.children.iter().filter_map(|c| match c {
            WapNode::Characteristic(c) => Some(c),
            WapNode::Parm(_) => None,
        })
    }
    /// Direct parms.
    pub fn parms(&self) -> impl Iterator<Item = &Parm> {
        self.children.iter().filter_map(|c| match c {
            WapNode::Parm(p) => Some(p),
            WapNode::Characteristic(_) => None,
        })
    }
    /// First child characteristic of this type.
    pub fn characteristic(&self, type_: &str) -> Option<&Characteristic> {
        self.characteristics().find(|c| c.type_ == type_)
    }
    /// First parm of this name.
    pub fn parm(&self, name: &str) -> Option<&Parm> {
        self.parms().find(|p| p.name == name)
    }
}

/// A `wap-provisioningdoc`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProvisioningDoc {
    /// `version` (`1.1`).
    pub version: Option<String>,
    /// Top-level nodes in order.
    pub items: Vec<WapNode>,
}

impl ProvisioningDoc {
    /// Decodes an XML document whose root is `wap-provisioningdoc`, or a fragment
    /// whose root is a `characteristic` or a `parm` (as printed in some docs).
    pub fn decode(input: &[u8]) -> Result<Self, MessageError> {
        Self::decode_with(input, &default_limits())
    }

    /// [`ProvisioningDoc::decode`] with explicit limits.
    pub fn decode_with(input: &[u8], limits: &MessageLimits) -> Result<Self, MessageError> {
        let root = crate::node::parse(input, 0, limits)?;
        decode_root(&Input { bytes: input }, &root)
    }

    /// Decodes base64 (whitespace ignored) or, if the input starts with `<` after
    /// whitespace, XML.
    pub fn decode_base64_or_xml(input: &[u8]) -> Result<Self, MessageError> {
        let first = input.iter().position(|b| !b.is_ascii_whitespace());
        match first {
            Some(i) if input[i] == b'<' || input[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => {
                Self::decode(input)
            }
            _ => {
                let text = std::str::from_utf8(input).map_err(|e| {
                    let at = e.valid_up_to();
                    MessageError::at(
                        input,
                        at,
                        MessageErrorKind::Xml(XmlErrorKind::InvalidEncoding {
                            encoding: "UTF-8".to_owned(),
                            byte: input[at],
                        }),
                    )
                })?;
                // A document larger than this would be refused by `decode` anyway.
                let max = default_limits().max_input_bytes;
                let bytes = decode_lenient(text, max).map_err(|_| {
                    MessageError::at(
                        input,
                        first.unwrap_or(0),
                        MessageErrorKind::Base64("document"),
                    )
                })?;
                Self::decode(&bytes)
            }
        }
    }

    /// Encodes as XML (no XML declaration).
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        match &self.version {
            Some(v) => w.open("wap-provisioningdoc", &[("version", v)]),
            None => w.open("wap-provisioningdoc", &[]),
        }
        for n in &self.items {
            encode_node(&mut w, n);
        }
        w.close("wap-provisioningdoc");
        w.into_string()
    }

    /// Top-level characteristics of a type (CertificateStore may appear several times).
    pub fn characteristics<'s>(
        &'s self,
        type_: &'s str,
    ) -> impl Iterator<Item = &'s Characteristic> {
        self.items.iter().filter_map(move |n| match n {
            WapNode::Characteristic(c) if c.type_ == type_ => Some(c),
            _ => None,
        })
    }

    /// The typed view of the enrollment parts.
    pub fn enrollment(&self) -> Result<EnrollmentProvisioning, ProvisioningError> {
        EnrollmentProvisioning::from_doc(self)
    }
}

fn encode_node(w: &mut XmlWriter, n: &WapNode) {
    match n {
        WapNode::Parm(p) => {
            let mut attrs: Vec<(&str, &str)> = vec![("name", &p.name)];
            if let Some(v) = &p.value {
                attrs.push(("value", v));
            }
            if let Some(d) = &p.datatype {
                attrs.push(("datatype", &d.0));
            }
            w.empty("parm", &attrs);
        }
        WapNode::Characteristic(c) => {
            if c.children.is_empty() {
                w.empty("characteristic", &[("type", &c.type_)]);
            } else {
                w.open("characteristic", &[("type", &c.type_)]);
                for ch in &c.children {
                    encode_node(w, ch);
                }
                w.close("characteristic");
            }
        }
    }
}

pub(crate) fn is_provisioning_root(n: &Element) -> bool {
    n.namespace.is_none() && (n.is("wap-provisioningdoc") || n.is("characteristic") || n.is("parm"))
}

pub(crate) fn decode_root(
    input: &Input<'_>,
    root: &Element,
) -> Result<ProvisioningDoc, MessageError> {
    if root.namespace.is_some() {
        return Err(input.err(
            root.offset,
            MessageErrorKind::UnexpectedRoot {
                expected: "wap-provisioningdoc",
                found: root.expanded_name(),
            },
        ));
    }
    if root.name == "wap-provisioningdoc" {
        let mut items = Vec::new();
        for c in &root.children {
            if let Some(n) = decode_node(input, c)? {
                items.push(n);
            }
        }
        Ok(ProvisioningDoc {
            version: root.attr("version").map(str::to_owned),
            items,
        })
    } else if root.name == "characteristic" || root.name == "parm" {
        let n = decode_node(input, &Node::Element(root.clone()))?;
        Ok(ProvisioningDoc {
            version: None,
            items: n.into_iter().collect(),
        })
    } else {
        Err(input.err(
            root.offset,
            MessageErrorKind::UnexpectedRoot {
                expected: "wap-provisioningdoc",
                found: root.expanded_name(),
            },
        ))
    }
}

fn decode_node(input: &Input<'_>, c: &Node) -> Result<Option<WapNode>, MessageError> {
    let e = match c {
        Node::Text(t) if t.trim().is_empty() => return Ok(None),
        Node::Text(t) => {
            return Err(input.err(
                0,
                MessageErrorKind::InvalidValue {
                    field: "wap-provisioningdoc text",
                    value: crate::error::truncate(t),
                },
            ));
        }
        Node::Element(e) => e,
    };
    if e.name == "parm" {
        let name = e
            .attr("name")
            .ok_or_else(|| input.missing(e, "parm/@name"))?;
        return Ok(Some(WapNode::Parm(Parm {
            name: name.to_owned(),
            value: e.attr("value").map(str::to_owned),
            datatype: e
                .attr("datatype")
                .map(|d| Datatype(Cow::Owned(d.to_owned()))),
        })));
    }
    if e.name == "characteristic" {
        let t = e
            .attr("type")
            .ok_or_else(|| input.missing(e, "characteristic/@type"))?;
        let mut children = Vec::new();
        for ch in &e.children {
            if let Some(n) = decode_node(input, ch)? {
                children.push(n);
            }
        }
        return Ok(Some(WapNode::Characteristic(Characteristic {
            type_: t.to_owned(),
            children,
        })));
    }
    Err(input.err(
        e.offset,
        MessageErrorKind::UnexpectedRoot {
            expected: "characteristic or parm",
            found: e.expanded_name(),
        },
    ))
}

// ------------------------------------------------------------------ typed view

/// A typed value in the document did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// A parm value that does not parse as its type.
    #[error("invalid value {value:?} for parm {parm}")]
    InvalidValue {
        /// Parm name.
        parm: String,
        /// Value (truncated).
        value: String,
    },
}

/// A certificate in `CertificateStore/<store>/<context>/<thumbprint>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CertEntry {
    /// The characteristic type: SHA-1 thumbprint in uppercase hex.
    pub thumbprint: String,
    /// `EncodedCertificate`: base64 DER without line breaks.
    pub encoded_certificate: String,
}

/// `CertificateStore` content (all `CertificateStore` characteristics merged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CertificateStore {
    /// `Root/System`: trusted roots.
    pub root_system: Vec<CertEntry>,
    /// `CA/System`: intermediates.
    pub ca_system: Vec<CertEntry>,
    /// `My/User`: the MDM client certificate in user context.
    pub my_user: Vec<CertEntry>,
    /// `My/System`: the MDM client certificate in device context.
    pub my_system: Vec<CertEntry>,
    /// A `PrivateKeyContainer` characteristic under `My/User` (as sibling or child).
    pub my_user_private_key_container: bool,
    /// A `PrivateKeyContainer` characteristic under `My/System`.
    pub my_system_private_key_container: bool,
    /// `My/WSTEP/Renew`.
    pub wstep_renew: Option<WstepRenew>,
}

/// `CertificateStore/My/WSTEP/Renew` (datatypes are written explicitly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WstepRenew {
    /// `ROBOSupport` (boolean).
    pub robo_support: Option<bool>,
    /// `RenewPeriod` in days before expiry (integer).
    pub renew_period: Option<u32>,
    /// `RetryInterval` in days (integer).
    pub retry_interval: Option<u32>,
}

/// One `APPAUTH` characteristic of the w7 APPLICATION.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AppAuth {
    /// `AAUTHLEVEL`: `CLIENT` (credentials the server presents) or `APPSRV`.
    pub level: String,
    /// `AAUTHTYPE`: `DIGEST` or `BASIC`.
    pub auth_type: Option<String>,
    /// `AAUTHNAME`.
    pub name: Option<String>,
    /// `AAUTHSECRET` (redacted in `Debug`).
    pub secret: Option<Secret>,
    /// `AAUTHDATA` (base64 nonce).
    pub data: Option<String>,
}

/// The w7 `APPLICATION` characteristic (names are upper case and case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct W7Application {
    /// `APPID` (must be `w7`).
    pub app_id: Option<String>,
    /// `PROVIDER-ID` (must equal the DMClient provider id).
    pub provider_id: Option<String>,
    /// `NAME`.
    pub name: Option<String>,
    /// `ADDR`: DM server URL.
    pub addr: Option<String>,
    /// `CONNRETRYFREQ`.
    pub conn_retry_freq: Option<u32>,
    /// `INITIALBACKOFFTIME` (ms).
    pub initial_backoff_time: Option<u32>,
    /// `MAXBACKOFFTIME` (ms).
    pub max_backoff_time: Option<u32>,
    /// `BACKCOMPATRETRYDISABLED` present.
    pub backcompat_retry_disabled: bool,
    /// `DEFAULTENCODING`.
    pub default_encoding: Option<String>,
    /// `SSLCLIENTCERTSEARCHCRITERIA` (URI-escaped, e.g. `Subject=CN%3D...&Stores=My%5CUser`).
    pub ssl_client_cert_search_criteria: Option<String>,
    /// `APPAUTH` characteristics in order.
    pub app_auth: Vec<AppAuth>,
    /// Other parms and characteristics (`ROLE`, `PROTOVER`, `ServerList`, ...), in order.
    pub other: Vec<WapNode>,
}

/// `DMClient/Provider/<id>/Poll`, values in minutes / counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Poll {
    /// `IntervalForFirstSetOfRetries`.
    pub interval_for_first_set_of_retries: Option<u32>,
    /// `NumberOfFirstRetries`.
    pub number_of_first_retries: Option<u32>,
    /// `IntervalForSecondSetOfRetries`.
    pub interval_for_second_set_of_retries: Option<u32>,
    /// `NumberOfSecondRetries`.
    pub number_of_second_retries: Option<u32>,
    /// `IntervalForRemainingScheduledRetries`.
    pub interval_for_remaining_scheduled_retries: Option<u32>,
    /// `NumberOfRemainingScheduledRetries`.
    pub number_of_remaining_scheduled_retries: Option<u32>,
    /// `PollOnLogin`.
    pub poll_on_login: Option<bool>,
    /// `AllUsersPollOnFirstLogin`.
    pub all_users_poll_on_first_login: Option<bool>,
}

/// `DMClient/Provider/<ProviderID>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DmClientProvider {
    /// The provider id (characteristic type).
    pub provider_id: String,
    /// Direct parms in order (`UPN`, `EntDMID`, `EntDeviceName`, `RequireMessageSigning`, ...).
    pub parms: Vec<Parm>,
    /// `Poll`.
    pub poll: Option<Poll>,
    /// Other child characteristics (`Push`, `FirstSyncStatus`, ...), in order.
    pub other: Vec<Characteristic>,
}

impl DmClientProvider {
    /// Value of a direct parm.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parms
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_deref())
    }
    /// Sets a direct parm (replacing one of the same name) with its datatype.
    pub fn set(&mut self, name: &str, value: &str, datatype: Datatype) {
        let p = Parm::typed(name, value, datatype);
        match self.parms.iter_mut().find(|x| x.name == name) {
            Some(x) => *x = p,
            None => self.parms.push(p),
        }
    }
    /// `EntDMID` (must be set before renewal).
    pub fn ent_dmid(&self) -> Option<&str> {
        self.get("EntDMID")
    }
}

/// The typed view of an enrollment provisioning document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EnrollmentProvisioning {
    /// `CertificateStore`.
    pub certificate_store: CertificateStore,
    /// w7 `APPLICATION`.
    pub application: Option<W7Application>,
    /// `DMClient/Provider/<id>` (the first provider).
    pub dm_client: Option<DmClientProvider>,
    /// Other top-level nodes, in order.
    pub other: Vec<WapNode>,
}

fn parse_num(p: &Parm) -> Result<Option<u32>, ProvisioningError> {
    match p.value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ProvisioningError::InvalidValue {
                parm: p.name.clone(),
                value: crate::error::truncate(v),
            }),
    }
}

fn parse_bool(p: &Parm) -> Result<Option<bool>, ProvisioningError> {
    match p.value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(Some(false)),
        Some(v) => Err(ProvisioningError::InvalidValue {
            parm: p.name.clone(),
            value: crate::error::truncate(v),
        }),
    }
}

/// Reads the certificates of one store location (`System`, `User`) into `out`, and
/// whether it asks for a `PrivateKeyContainer`.
fn read_certificate_entries(
    location: &Characteristic,
    out: &mut Vec<CertEntry>,
    private_key_container: &mut bool,
) {
    for h in location.characteristics() {
        if h.type_ == "PrivateKeyContainer" {
            *private_key_container = true;
            continue;
        }
        if h.characteristic("PrivateKeyContainer").is_some() {
            *private_key_container = true;
        }
        out.push(CertEntry {
            thumbprint: h.type_.clone(),
            encoded_certificate: h
                .parm("EncodedCertificate")
                .and_then(|p| p.value.clone())
                .unwrap_or_default(),
        });
    }
}

/// `CertificateStore`: the stores and locations Windows reads (Root/System, CA/System,
/// My/User, My/System and My/WSTEP's renewal settings); others are ignored.
fn read_certificate_store(
    c: &Characteristic,
    cs: &mut CertificateStore,
) -> Result<(), ProvisioningError> {
    for store in c.characteristics() {
        for location in store.characteristics() {
            match (store.type_.as_str(), location.type_.as_str()) {
                ("Root", "System") => {
                    read_certificate_entries(location, &mut cs.root_system, &mut false)
                }
                ("CA", "System") => {
                    read_certificate_entries(location, &mut cs.ca_system, &mut false)
                }
                ("My", "User") => read_certificate_entries(
                    location,
                    &mut cs.my_user,
                    &mut cs.my_user_private_key_container,
                ),
                ("My", "System") => read_certificate_entries(
                    location,
                    &mut cs.my_system,
                    &mut cs.my_system_private_key_container,
                ),
                ("My", "WSTEP") => {
                    if let Some(r) = location.characteristic("Renew") {
                        cs.wstep_renew = Some(read_wstep_renew(r)?);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// `My/WSTEP/Renew`: ROBOSupport, RenewPeriod, RetryInterval.
fn read_wstep_renew(r: &Characteristic) -> Result<WstepRenew, ProvisioningError> {
    let mut renew = WstepRenew::default();
    for p in r.parms() {
        match p.name.as_str() {
            "ROBOSupport" => renew.robo_support = parse_bool(p)?,
            "RenewPeriod" => renew.renew_period = parse_num(p)?,
            "RetryInterval" => renew.retry_interval = parse_num(p)?,
            _ => {}
        }
    }
    Ok(renew)
}

/// The w7 `APPLICATION` characteristic: its parms, `APPAUTH` entries, the rest in `other`.
fn read_application(c: &Characteristic) -> Result<W7Application, ProvisioningError> {
    let mut a = W7Application::default();
    for ch in &c.children {
        match ch {
            WapNode::Parm(p) => {
                let v = p.value.clone();
                match p.name.as_str() {
                    "APPID" => a.app_id = v,
                    "PROVIDER-ID" => a.provider_id = v,
                    "NAME" => a.name = v,
                    "ADDR" => a.addr = v,
                    "CONNRETRYFREQ" => a.conn_retry_freq = parse_num(p)?,
                    "INITIALBACKOFFTIME" => a.initial_backoff_time = parse_num(p)?,
                    "MAXBACKOFFTIME" => a.max_backoff_time = parse_num(p)?,
                    "BACKCOMPATRETRYDISABLED" => a.backcompat_retry_disabled = true,
                    "DEFAULTENCODING" => a.default_encoding = v,
                    "SSLCLIENTCERTSEARCHCRITERIA" => a.ssl_client_cert_search_criteria = v,
                    _ => a.other.push(ch.clone()),
                }
            }
            WapNode::Characteristic(x) if x.type_ == "APPAUTH" => {
                let get = |n: &str| x.parm(n).and_then(|p| p.value.clone());
                a.app_auth.push(AppAuth {
                    level: get("AAUTHLEVEL").unwrap_or_default(),
                    auth_type: get("AAUTHTYPE"),
                    name: get("AAUTHNAME"),
                    secret: get("AAUTHSECRET").map(Secret::new),
                    data: get("AAUTHDATA"),
                });
            }
            WapNode::Characteristic(_) => a.other.push(ch.clone()),
        }
    }
    Ok(a)
}

/// The first provider under `DMClient/Provider`: its parms, `Poll`, other characteristics.
fn read_dm_client_provider(p: &Characteristic) -> Result<DmClientProvider, ProvisioningError> {
    let mut d = DmClientProvider {
        provider_id: p.type_.clone(),
        ..Default::default()
    };
    for ch in &p.children {
        match ch {
            WapNode::Parm(x) => d.parms.push(x.clone()),
            WapNode::Characteristic(x) if x.type_ == "Poll" => d.poll = Some(read_poll(x)?),
            WapNode::Characteristic(x) => d.other.push(x.clone()),
        }
    }
    Ok(d)
}

/// `DMClient/Provider/ID/Poll`: the retry schedule and the login polls.
fn read_poll(x: &Characteristic) -> Result<Poll, ProvisioningError> {
    let mut poll = Poll::default();
    for q in x.parms() {
        match q.name.as_str() {
            "IntervalForFirstSetOfRetries" => {
                poll.interval_for_first_set_of_retries = parse_num(q)?
            }
            "NumberOfFirstRetries" => poll.number_of_first_retries = parse_num(q)?,
            "IntervalForSecondSetOfRetries" => {
                poll.interval_for_second_set_of_retries = parse_num(q)?
            }
            "NumberOfSecondRetries" => poll.number_of_second_retries = parse_num(q)?,
            "IntervalForRemainingScheduledRetries" => {
                poll.interval_for_remaining_scheduled_retries = parse_num(q)?
            }
            "NumberOfRemainingScheduledRetries" => {
                poll.number_of_remaining_scheduled_retries = parse_num(q)?
            }
            "PollOnLogin" => poll.poll_on_login = parse_bool(q)?,
            "AllUsersPollOnFirstLogin" => poll.all_users_poll_on_first_login = parse_bool(q)?,
            _ => {}
        }
    }
    Ok(poll)
}

impl EnrollmentProvisioning {
    /// Reads the typed view from a document (unknown parts go to `other` fields).
    pub fn from_doc(doc: &ProvisioningDoc) -> Result<Self, ProvisioningError> {
        let mut out = EnrollmentProvisioning::default();
        for n in &doc.items {
            let c = match n {
                WapNode::Characteristic(c) => c,
                WapNode::Parm(_) => {
                    out.other.push(n.clone());
                    continue;
                }
            };
            match c.type_.as_str() {
                "CertificateStore" => read_certificate_store(c, &mut out.certificate_store)?,
                "APPLICATION" => out.application = Some(read_application(c)?),
                "DMClient" => {
                    let provider = c
                        .characteristic("Provider")
                        .and_then(|p| p.characteristics().next());
                    if let (Some(p), None) = (provider, &out.dm_client) {
                        out.dm_client = Some(read_dm_client_provider(p)?);
                    }
                }
                _ => out.other.push(n.clone()),
            }
        }
        Ok(out)
    }

    /// Builds the document (version 1.1): one `CertificateStore` characteristic,
    /// `APPLICATION`, `DMClient`, then `other`. Datatypes are written for WSTEP/Renew
    /// and for DMClient parms.
    pub fn to_doc(&self) -> ProvisioningDoc {
        let mut items = Vec::new();
        if let Some(store) = certificate_store_characteristic(&self.certificate_store) {
            items.push(WapNode::Characteristic(store));
        }
        if let Some(a) = &self.application {
            items.push(WapNode::Characteristic(application_characteristic(a)));
        }
        if let Some(d) = &self.dm_client {
            items.push(WapNode::Characteristic(
                Characteristic::new("DMClient")
                    .with(Characteristic::new("Provider").with(dm_client_characteristic(d))),
            ));
        }
        items.extend(self.other.iter().cloned());
        ProvisioningDoc {
            version: Some("1.1".into()),
            items,
        }
    }
}

/// `true` / `false`, as a `bool` parm is written.
fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `c` with parm `name` if `value` is set.
fn with_optional_parm(c: Characteristic, name: &str, value: &Option<String>) -> Characteristic {
    match value {
        Some(v) => c.with_parm(Parm::new(name, v)),
        None => c,
    }
}

/// The `CertificateStore` characteristic, `None` when it would be empty.
fn certificate_store_characteristic(cs: &CertificateStore) -> Option<Characteristic> {
    let mut store = Characteristic::new("CertificateStore");
    if !cs.root_system.is_empty() {
        store = store.with(Characteristic::new("Root").with(certificate_entries(
            "System",
            &cs.root_system,
            false,
        )));
    }
    if !cs.ca_system.is_empty() {
        store = store.with(Characteristic::new("CA").with(certificate_entries(
            "System",
            &cs.ca_system,
            false,
        )));
    }
    let mut my = Characteristic::new("My");
    if !cs.my_user.is_empty() || cs.my_user_private_key_container {
        my = my.with(certificate_entries(
            "User",
            &cs.my_user,
            cs.my_user_private_key_container,
        ));
    }
    if !cs.my_system.is_empty() || cs.my_system_private_key_container {
        my = my.with(certificate_entries(
            "System",
            &cs.my_system,
            cs.my_system_private_key_container,
        ));
    }
    if let Some(r) = &cs.wstep_renew {
        my = my.with(Characteristic::new("WSTEP").with(wstep_renew_characteristic(r)));
    }
    if !my.children.is_empty() {
        store = store.with(my);
    }
    (!store.children.is_empty()).then_some(store)
}

/// One store location (`System`, `User`): a characteristic per certificate, named by its
/// thumbprint, then `PrivateKeyContainer` if asked for.
fn certificate_entries(
    location: &str,
    list: &[CertEntry],
    private_key_container: bool,
) -> Characteristic {
    let mut c = Characteristic::new(location);
    for e in list {
        c = c.with(
            Characteristic::new(&e.thumbprint)
                .with_parm(Parm::new("EncodedCertificate", &e.encoded_certificate)),
        );
    }
    if private_key_container {
        c = c.with(Characteristic::new("PrivateKeyContainer"));
    }
    c
}

/// `My/WSTEP/Renew`, with typed parms.
fn wstep_renew_characteristic(r: &WstepRenew) -> Characteristic {
    let mut renew = Characteristic::new("Renew");
    if let Some(b) = r.robo_support {
        renew = renew.with_parm(Parm::typed("ROBOSupport", bool_text(b), Datatype::BOOLEAN));
    }
    if let Some(n) = r.renew_period {
        renew = renew.with_parm(Parm::typed(
            "RenewPeriod",
            &n.to_string(),
            Datatype::INTEGER,
        ));
    }
    if let Some(n) = r.retry_interval {
        renew = renew.with_parm(Parm::typed(
            "RetryInterval",
            &n.to_string(),
            Datatype::INTEGER,
        ));
    }
    renew
}

/// The w7 `APPLICATION` characteristic: its parms in the documented order, `other`, then
/// one `APPAUTH` per entry.
fn application_characteristic(a: &W7Application) -> Characteristic {
    let number = |n: Option<u32>| n.map(|n| n.to_string());
    let mut c = Characteristic::new("APPLICATION");
    c = with_optional_parm(c, "APPID", &a.app_id);
    c = with_optional_parm(c, "PROVIDER-ID", &a.provider_id);
    c = with_optional_parm(c, "NAME", &a.name);
    c = with_optional_parm(c, "ADDR", &a.addr);
    c = with_optional_parm(c, "CONNRETRYFREQ", &number(a.conn_retry_freq));
    c = with_optional_parm(c, "INITIALBACKOFFTIME", &number(a.initial_backoff_time));
    c = with_optional_parm(c, "MAXBACKOFFTIME", &number(a.max_backoff_time));
    if a.backcompat_retry_disabled {
        c = c.with_parm(Parm {
            name: "BACKCOMPATRETRYDISABLED".into(),
            value: None,
            datatype: None,
        });
    }
    c = with_optional_parm(c, "DEFAULTENCODING", &a.default_encoding);
    c = with_optional_parm(
        c,
        "SSLCLIENTCERTSEARCHCRITERIA",
        &a.ssl_client_cert_search_criteria,
    );
    for o in &a.other {
        c.children.push(o.clone());
    }
    for auth in &a.app_auth {
        c = c.with(app_auth_characteristic(auth));
    }
    c
}

/// One `APPAUTH` characteristic.
fn app_auth_characteristic(auth: &AppAuth) -> Characteristic {
    let mut x = Characteristic::new("APPAUTH").with_parm(Parm::new("AAUTHLEVEL", &auth.level));
    x = with_optional_parm(x, "AAUTHTYPE", &auth.auth_type);
    x = with_optional_parm(x, "AAUTHNAME", &auth.name);
    x = with_optional_parm(
        x,
        "AAUTHSECRET",
        &auth.secret.as_ref().map(|s| s.expose().to_owned()),
    );
    with_optional_parm(x, "AAUTHDATA", &auth.data)
}

/// The `DMClient/Provider/<ProviderID>` characteristic: its parms, `Poll`, then `other`.
fn dm_client_characteristic(d: &DmClientProvider) -> Characteristic {
    let mut p = Characteristic::new(&d.provider_id);
    for parm in &d.parms {
        p = p.with_parm(parm.clone());
    }
    if let Some(poll) = &d.poll {
        p = p.with(poll_characteristic(poll));
    }
    for o in &d.other {
        p = p.with(o.clone());
    }
    p
}

/// `Poll`: the retry counts and intervals (integers), then the login flags (booleans).
fn poll_characteristic(poll: &Poll) -> Characteristic {
    let mut c = Characteristic::new("Poll");
    let numbers = [
        ("NumberOfFirstRetries", poll.number_of_first_retries),
        (
            "IntervalForFirstSetOfRetries",
            poll.interval_for_first_set_of_retries,
        ),
        ("NumberOfSecondRetries", poll.number_of_second_retries),
        (
            "IntervalForSecondSetOfRetries",
            poll.interval_for_second_set_of_retries,
        ),
        (
            "NumberOfRemainingScheduledRetries",
            poll.number_of_remaining_scheduled_retries,
        ),
        (
            "IntervalForRemainingScheduledRetries",
            poll.interval_for_remaining_scheduled_retries,
        ),
    ];
    for (name, value) in numbers {
        if let Some(v) = value {
            c = c.with_parm(Parm::typed(name, &v.to_string(), Datatype::INTEGER));
        }
    }
    let flags = [
        ("PollOnLogin", poll.poll_on_login),
        (
            "AllUsersPollOnFirstLogin",
            poll.all_users_poll_on_first_login,
        ),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            c = c.with_parm(Parm::typed(name, bool_text(v), Datatype::BOOLEAN));
        }
    }
    c
}
