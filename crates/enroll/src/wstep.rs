//! MS-WSTEP `RequestSecurityToken` and `RequestSecurityTokenResponseCollection`
//! as profiled by MS-MDE2 §3.4–3.6.

use std::borrow::Cow;

use crate::XmlElement;
use crate::error::{MessageError, MessageErrorKind};
use crate::node::{Element, ElementExt, Input};
use crate::ns;
use crate::soap::{
    BinarySecurityToken, ValueType, decode_binary_security_token, encode_binary_security_token,
};
use winmdm_xml::Writer as XmlWriter;

/// `wst:RequestType`: an open set of URIs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RequestType(pub Cow<'static, str>);

impl RequestType {
    /// New enrollment.
    pub const ISSUE: RequestType = RequestType(Cow::Borrowed(
        "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
    ));
    /// Certificate renewal (manual or ROBO).
    pub const RENEW: RequestType = RequestType(Cow::Borrowed(
        "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew",
    ));
    /// Recovery (MS-MDE2 §3.6).
    pub const RECOVERY: RequestType = RequestType(Cow::Borrowed(
        "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Recovery",
    ));
    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One `ac:ContextItem`. The value is kept untrimmed (samples have `" 4"` and a
/// trailing newline); [`AdditionalContext::get`] trims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ContextItem {
    /// `Name` attribute.
    pub name: String,
    /// `ac:Value` text (`None` when the item has no `Value`).
    pub value: Option<String>,
}

/// `ac:AdditionalContext`: every item in document order, repeats kept (several `MAC`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AdditionalContext {
    /// The items, in order.
    pub items: Vec<ContextItem>,
    /// Other elements inside `AdditionalContext`, in order.
    pub other: Vec<XmlElement>,
}

impl AdditionalContext {
    /// First value of `name` (item names compared exactly), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.name == name && i.value.is_some())
            .and_then(|i| i.value.as_deref())
            .map(str::trim)
    }
    /// Every value of `name`, trimmed, in order.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.items
            .iter()
            .filter(move |i| i.name == name)
            .filter_map(|i| i.value.as_deref().map(str::trim))
    }
    /// Appends an item.
    pub fn push(&mut self, name: &str, value: &str) {
        self.items.push(ContextItem {
            name: name.into(),
            value: Some(value.into()),
        });
    }
    /// `DeviceID`.
    pub fn device_id(&self) -> Option<&str> {
        self.get("DeviceID")
    }
    /// `EnrollmentType` (`Full` or `Device`).
    pub fn enrollment_type(&self) -> Option<&str> {
        self.get("EnrollmentType")
    }
    /// `MAC` values, in order.
    pub fn mac_addresses(&self) -> Vec<&str> {
        self.all("MAC").collect()
    }
    /// `OSEdition` as a number (`" 4"` accepted).
    pub fn os_edition(&self) -> Option<u32> {
        self.get("OSEdition").and_then(|v| v.parse().ok())
    }
}

/// `wst:RequestSecurityToken`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RequestSecurityToken {
    /// `wst:TokenType` (trimmed).
    pub token_type: Option<String>,
    /// `wst:RequestType` (trimmed).
    pub request_type: Option<RequestType>,
    /// `wsse:BinarySecurityToken`: PKCS#10 (issue) or PKCS#7 (renew).
    pub binary_security_token: Option<BinarySecurityToken>,
    /// `ac:AdditionalContext` items.
    pub additional_context: AdditionalContext,
    /// Unknown content, in document order.
    pub other: Vec<XmlElement>,
}

impl RequestSecurityToken {
    /// Whether the token is PKCS#7 (renewal) rather than PKCS#10.
    pub fn is_pkcs7(&self) -> bool {
        self.binary_security_token
            .as_ref()
            .and_then(|b| b.value_type.as_ref())
            .is_some_and(|v| v.matches(&ValueType::PKCS7))
    }
}

/// One `RequestSecurityTokenResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RequestSecurityTokenResponse {
    /// `TokenType`.
    pub token_type: Option<String>,
    /// `DispositionMessage` (`Some("")` when present and empty).
    pub disposition_message: Option<String>,
    /// `RequestedSecurityToken/BinarySecurityToken` (the base64 provisioning document).
    pub requested_security_token: Option<BinarySecurityToken>,
    /// `RequestID`.
    pub request_id: Option<String>,
    /// Other elements inside `RequestedSecurityToken`, in order.
    pub requested_other: Vec<XmlElement>,
    /// Unknown content, in document order.
    pub other: Vec<XmlElement>,
}

impl RequestSecurityTokenResponse {
    /// The standard response carrying a provisioning document (encoded to XML, then
    /// base64, here): TokenType DeviceEnrollmentToken, an empty DispositionMessage, the
    /// document as a DeviceEnrollmentProvisionDoc BinarySecurityToken, RequestID 0.
    pub fn with_provisioning_doc(doc: &crate::provisioning::ProvisioningDoc) -> Self {
        RequestSecurityTokenResponse {
            token_type: Some(ns::TOKEN_TYPE_DEVICE_ENROLLMENT.into()),
            disposition_message: Some(String::new()),
            requested_security_token: Some(BinarySecurityToken::base64(
                ValueType::PROVISION_DOC,
                doc.to_xml().as_bytes(),
            )),
            request_id: Some("0".into()),
            requested_other: Vec::new(),
            other: Vec::new(),
        }
    }

    /// Decodes the provisioning document carried in the token.
    pub fn provisioning_doc(&self) -> Result<crate::provisioning::ProvisioningDoc, MessageError> {
        let bst = self.requested_security_token.as_ref().ok_or_else(|| {
            MessageError::at(b"", 0, MessageErrorKind::Missing("RequestedSecurityToken"))
        })?;
        let bytes = bst.decode_base64().map_err(|_| {
            MessageError::at(b"", 0, MessageErrorKind::Base64("BinarySecurityToken"))
        })?;
        crate::provisioning::ProvisioningDoc::decode(&bytes)
    }
}

/// `RequestSecurityTokenResponseCollection`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RequestSecurityTokenResponseCollection {
    /// The responses, in order (one in MS-MDE2).
    pub responses: Vec<RequestSecurityTokenResponse>,
    /// Unknown content.
    pub other: Vec<XmlElement>,
}

impl RequestSecurityTokenResponseCollection {
    /// The MS-MDE2 collection: one [`RequestSecurityTokenResponse::with_provisioning_doc`].
    pub fn with_provisioning_doc(doc: &crate::provisioning::ProvisioningDoc) -> Self {
        RequestSecurityTokenResponseCollection {
            responses: vec![RequestSecurityTokenResponse::with_provisioning_doc(doc)],
            other: Vec::new(),
        }
    }
}

pub(crate) fn is_rst(n: &Element) -> bool {
    n.is("RequestSecurityToken") && n.in_ns(&[Some(ns::WST)])
}

pub(crate) fn is_rstrc(n: &Element) -> bool {
    n.is("RequestSecurityTokenResponseCollection") && n.in_ns(&[Some(ns::WST)])
}

pub(crate) fn decode_rst(
    input: &Input<'_>,
    n: &Element,
) -> Result<RequestSecurityToken, MessageError> {
    let mut r = RequestSecurityToken::default();
    for e in n.elements() {
        if e.is("TokenType") {
            r.token_type = Some(e.trimmed());
        } else if e.is("RequestType") {
            r.request_type = Some(RequestType(Cow::Owned(e.trimmed())));
        } else if e.is("BinarySecurityToken") && e.in_ns(&[Some(ns::WSSE)]) {
            r.binary_security_token = Some(decode_binary_security_token(e));
        } else if e.is("AdditionalContext") {
            for i in e.elements() {
                if !i.is("ContextItem") {
                    r.additional_context.other.push(i.to_generic());
                    continue;
                }
                let name = i
                    .attr("Name")
                    .ok_or_else(|| input.missing(i, "ContextItem/@Name"))?;
                r.additional_context.items.push(ContextItem {
                    name: name.trim().to_owned(),
                    value: i.child_named("Value").map(Element::text),
                });
            }
        } else {
            r.other.push(e.to_generic());
        }
    }
    if r.token_type.is_none() && r.request_type.is_none() && r.binary_security_token.is_none() {
        return Err(input.missing(n, "wst:RequestType"));
    }
    Ok(r)
}

pub(crate) fn encode_rst(r: &RequestSecurityToken, w: &mut XmlWriter) {
    w.open(
        "wst:RequestSecurityToken",
        &[("xmlns:wst", ns::WST), ("xmlns:ac", ns::AC)],
    );
    w.opt_leaf("wst:TokenType", r.token_type.as_deref());
    if let Some(t) = &r.request_type {
        w.leaf("wst:RequestType", &[], t.as_str());
    }
    if let Some(b) = &r.binary_security_token {
        encode_binary_security_token(w, "o:BinarySecurityToken", b, &[]);
    }
    if !r.additional_context.items.is_empty() || !r.additional_context.other.is_empty() {
        w.open("ac:AdditionalContext", &[]);
        for i in &r.additional_context.items {
            match &i.value {
                Some(v) => {
                    w.open("ac:ContextItem", &[("Name", &i.name)]);
                    w.leaf("ac:Value", &[], v);
                    w.close("ac:ContextItem");
                }
                None => w.empty("ac:ContextItem", &[("Name", &i.name)]),
            }
        }
        for o in &r.additional_context.other {
            w.element(o);
        }
        w.close("ac:AdditionalContext");
    }
    for o in &r.other {
        w.element(o);
    }
    w.close("wst:RequestSecurityToken");
}

pub(crate) fn decode_rstrc(
    _ctx: &Input<'_>,
    n: &Element,
) -> Result<RequestSecurityTokenResponseCollection, MessageError> {
    let mut c = RequestSecurityTokenResponseCollection::default();
    for e in n.elements() {
        if !e.is("RequestSecurityTokenResponse") {
            c.other.push(e.to_generic());
            continue;
        }
        let mut r = RequestSecurityTokenResponse::default();
        for x in e.elements() {
            if x.is("TokenType") {
                r.token_type = Some(x.trimmed());
            } else if x.is("DispositionMessage") {
                r.disposition_message = Some(x.trimmed());
            } else if x.is("RequestedSecurityToken") {
                // The Entra doc variant puts TokenType inside RequestedSecurityToken.
                for y in x.elements() {
                    if y.is("BinarySecurityToken") {
                        r.requested_security_token = Some(decode_binary_security_token(y));
                    } else if y.is("TokenType") {
                        r.token_type = Some(y.trimmed());
                    } else {
                        r.requested_other.push(y.to_generic());
                    }
                }
            } else if x.is("RequestID") {
                r.request_id = Some(x.trimmed());
            } else {
                r.other.push(x.to_generic());
            }
        }
        c.responses.push(r);
    }
    Ok(c)
}

pub(crate) fn encode_rstrc(c: &RequestSecurityTokenResponseCollection, w: &mut XmlWriter) {
    w.open(
        "RequestSecurityTokenResponseCollection",
        &[("xmlns", ns::WST)],
    );
    for r in &c.responses {
        w.open("RequestSecurityTokenResponse", &[]);
        w.opt_leaf("TokenType", r.token_type.as_deref());
        if let Some(d) = &r.disposition_message {
            w.leaf("DispositionMessage", &[("xmlns", ns::PKI_ENROLLMENT)], d);
        }
        if r.requested_security_token.is_some() || !r.requested_other.is_empty() {
            w.open("RequestedSecurityToken", &[]);
            if let Some(b) = &r.requested_security_token {
                encode_binary_security_token(w, "BinarySecurityToken", b, &[("xmlns", ns::WSSE)]);
            }
            for o in &r.requested_other {
                w.element(o);
            }
            w.close("RequestedSecurityToken");
        }
        if let Some(id) = &r.request_id {
            w.leaf("RequestID", &[("xmlns", ns::PKI_ENROLLMENT)], id);
        }
        for o in &r.other {
            w.element(o);
        }
        w.close("RequestSecurityTokenResponse");
    }
    for o in &c.other {
        w.element(o);
    }
    w.close("RequestSecurityTokenResponseCollection");
}
