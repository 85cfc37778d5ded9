//! SOAP faults of the enrollment services (MS-MDE2 §2.2.10) and the HTTP status that
//! carries them.

use std::borrow::Cow;

use crate::XmlElement;
use crate::error::MessageError;
use crate::node::{Element, ElementExt, Input};
use crate::ns;
use crate::soap::SoapVersion;
use winmdm_xml::Writer as XmlWriter;

/// Namespace of a fault code or subcode QName.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CodeNamespace {
    /// The SOAP envelope namespace of the message (`s:`).
    Soap,
    /// WS-Addressing (`a:`).
    Addressing,
    /// Any other namespace URI (or none: empty string).
    Other(String),
}

/// A fault code or subcode: namespace and local name, open set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FaultCode {
    /// Namespace of the QName.
    pub namespace: CodeNamespace,
    /// Local part, as written (the doc samples print it lower-cased).
    pub name: Cow<'static, str>,
}

impl FaultCode {
    const fn soap(name: &'static str) -> Self {
        FaultCode {
            namespace: CodeNamespace::Soap,
            name: Cow::Borrowed(name),
        }
    }
    const fn wsa(name: &'static str) -> Self {
        FaultCode {
            namespace: CodeNamespace::Addressing,
            name: Cow::Borrowed(name),
        }
    }

    /// `s:Receiver` (SOAP 1.2): the server failed; what MS-MDE2 servers send.
    pub const RECEIVER: FaultCode = FaultCode::soap("Receiver");
    /// `s:Sender` (SOAP 1.2): the request was bad.
    pub const SENDER: FaultCode = FaultCode::soap("Sender");

    /// Subcode `s:MessageFormat` (MENROLL_E_DEVICE_MESSAGE_FORMAT_ERROR 0x80180001).
    pub const MESSAGE_FORMAT: FaultCode = FaultCode::soap("MessageFormat");
    /// Subcode `s:Authentication` (0x80180002).
    pub const AUTHENTICATION: FaultCode = FaultCode::soap("Authentication");
    /// Subcode `s:Authorization` (0x80180003).
    pub const AUTHORIZATION: FaultCode = FaultCode::soap("Authorization");
    /// Subcode `s:CertificateRequest` (0x80180004).
    pub const CERTIFICATE_REQUEST: FaultCode = FaultCode::soap("CertificateRequest");
    /// Subcode `s:EnrollmentServer` (0x80180005).
    pub const ENROLLMENT_SERVER: FaultCode = FaultCode::soap("EnrollmentServer");
    /// Subcode `a:InternalServiceFault` (0x80180006).
    pub const INTERNAL_SERVICE_FAULT: FaultCode = FaultCode::wsa("InternalServiceFault");
    /// Subcode `a:InvalidSecurity` (0x80180007).
    pub const INVALID_SECURITY: FaultCode = FaultCode::wsa("InvalidSecurity");

    /// Same namespace and local name, ignoring ASCII case of the local name.
    pub fn eq_ignore_case(&self, other: &FaultCode) -> bool {
        self.namespace == other.namespace && self.name.eq_ignore_ascii_case(&other.name)
    }

    /// The client error (HRESULT) Windows reports for this subcode, if it is one of
    /// the MS-MDE2 subcodes (compared ignoring case).
    pub fn hresult(&self) -> Option<u32> {
        const TABLE: [(FaultCode, u32); 7] = [
            (FaultCode::MESSAGE_FORMAT, 0x8018_0001),
            (FaultCode::AUTHENTICATION, 0x8018_0002),
            (FaultCode::AUTHORIZATION, 0x8018_0003),
            (FaultCode::CERTIFICATE_REQUEST, 0x8018_0004),
            (FaultCode::ENROLLMENT_SERVER, 0x8018_0005),
            (FaultCode::INTERNAL_SERVICE_FAULT, 0x8018_0006),
            (FaultCode::INVALID_SECURITY, 0x8018_0007),
        ];
        TABLE
            .iter()
            .find(|(c, _)| c.eq_ignore_case(self))
            .map(|(_, h)| *h)
    }
}

/// `deviceenrollmentserviceerror/errortype`: open set with the MS-MDE2 values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EnrollmentErrorType(pub Cow<'static, str>);

impl EnrollmentErrorType {
    /// 0x80180013
    pub const DEVICE_CAP_REACHED: Self = Self(Cow::Borrowed("DeviceCapReached"));
    /// 0x80180014
    pub const DEVICE_NOT_SUPPORTED: Self = Self(Cow::Borrowed("DeviceNotSupported"));
    /// 0x80180015
    pub const NOT_SUPPORTED: Self = Self(Cow::Borrowed("NotSupported"));
    /// 0x80180016
    pub const NOT_ELIGIBLE_TO_RENEW: Self = Self(Cow::Borrowed("NotEligibleToRenew"));
    /// 0x80180017
    pub const IN_MAINTENANCE: Self = Self(Cow::Borrowed("InMaintenance"));
    /// 0x80180018
    pub const USER_LICENSE: Self = Self(Cow::Borrowed("UserLicense"));
    /// 0x80180019
    pub const INVALID_ENROLLMENT_DATA: Self = Self(Cow::Borrowed("InvalidEnrollmentData"));
    /// 0x80180032: the `s:Reason` text is shown to the user (Windows 10 20H2+).
    pub const CUSTOM_SERVER_ERROR: Self = Self(Cow::Borrowed("CustomServerError"));

    /// The HRESULT Windows reports (names compared ignoring case).
    pub fn hresult(&self) -> Option<u32> {
        const TABLE: [(EnrollmentErrorType, u32); 8] = [
            (EnrollmentErrorType::DEVICE_CAP_REACHED, 0x8018_0013),
            (EnrollmentErrorType::DEVICE_NOT_SUPPORTED, 0x8018_0014),
            (EnrollmentErrorType::NOT_SUPPORTED, 0x8018_0015),
            (EnrollmentErrorType::NOT_ELIGIBLE_TO_RENEW, 0x8018_0016),
            (EnrollmentErrorType::IN_MAINTENANCE, 0x8018_0017),
            (EnrollmentErrorType::USER_LICENSE, 0x8018_0018),
            (EnrollmentErrorType::INVALID_ENROLLMENT_DATA, 0x8018_0019),
            (EnrollmentErrorType::CUSTOM_SERVER_ERROR, 0x8018_0032),
        ];
        TABLE
            .iter()
            .find(|(c, _)| c.0.eq_ignore_ascii_case(&self.0))
            .map(|(_, h)| *h)
    }
}

/// `s:Detail/deviceenrollmentserviceerror`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceEnrollmentServiceError {
    /// `errortype`.
    pub error_type: EnrollmentErrorType,
    /// `message`.
    pub message: Option<String>,
    /// `traceid` (free text for support).
    pub trace_id: Option<String>,
}

/// A SOAP fault (1.2 `Code/Subcode/Reason/Detail`, or 1.1 `faultcode/faultstring/detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Fault {
    /// `Code/Value` (SOAP 1.1: `faultcode`).
    pub code: FaultCode,
    /// `Code/Subcode/Value`.
    pub subcode: Option<FaultCode>,
    /// `Reason/Text` (SOAP 1.1: `faultstring`).
    pub reason: String,
    /// `xml:lang` of the reason text.
    pub reason_lang: Option<String>,
    /// `deviceenrollmentserviceerror` in the detail.
    pub enrollment_error: Option<DeviceEnrollmentServiceError>,
    /// Other detail content, in order.
    pub detail_other: Vec<XmlElement>,
}

impl Fault {
    /// An MS-MDE2 fault: code `s:Receiver`, the given subcode and reason (`en-us`).
    pub fn enrollment(subcode: FaultCode, reason: &str) -> Self {
        Fault {
            code: FaultCode::RECEIVER,
            subcode: Some(subcode),
            reason: reason.into(),
            reason_lang: Some("en-us".into()),
            enrollment_error: None,
            detail_other: Vec::new(),
        }
    }

    /// Adds a `deviceenrollmentserviceerror` detail.
    pub fn with_error(
        mut self,
        error_type: EnrollmentErrorType,
        message: &str,
        trace_id: &str,
    ) -> Self {
        self.enrollment_error = Some(DeviceEnrollmentServiceError {
            error_type,
            message: Some(message.into()),
            trace_id: Some(trace_id.into()),
        });
        self
    }

    /// HTTP status for this fault per the SOAP 1.2 HTTP binding (Part 2 §7.5.2.2):
    /// `400 Bad Request` for `env:Sender`, `500 Internal Server Error` for `env:Receiver`
    /// and every other code. MS-MDE2 faults use `s:Receiver`, so they go out as `500`.
    /// The SOAP 1.1 HTTP binding uses `500` for every fault.
    pub fn http_status(&self, version: SoapVersion) -> u16 {
        match version {
            SoapVersion::Soap12
                if self.code.namespace == CodeNamespace::Soap
                    && self.code.name.eq_ignore_ascii_case("Sender") =>
            {
                400
            }
            _ => 500,
        }
    }
}

pub(crate) fn is_fault(n: &Element, version: SoapVersion) -> bool {
    n.is("Fault") && n.in_ns(&[Some(version.namespace())])
}

fn qname_code(n: &Element, version: SoapVersion) -> FaultCode {
    let text = n.trimmed();
    let local = || text.rsplit(':').next().unwrap_or(&text).to_owned();
    let (namespace, name) = match n.text_qname_namespace.as_deref() {
        Some(x) if x == version.namespace() => (CodeNamespace::Soap, local()),
        Some(ns::ADDRESSING) => (CodeNamespace::Addressing, local()),
        Some(other) => (CodeNamespace::Other(other.to_owned()), local()),
        // A prefix that is not declared: keep the text as written.
        None if text.contains(':') => (CodeNamespace::Other(String::new()), text.clone()),
        None => (CodeNamespace::Soap, text.clone()),
    };
    FaultCode {
        namespace,
        name: Cow::Owned(name),
    }
}

fn decode_detail(f: &mut Fault, d: &Element) {
    for e in d.elements() {
        if e.is("deviceenrollmentserviceerror") {
            f.enrollment_error = Some(DeviceEnrollmentServiceError {
                error_type: EnrollmentErrorType(Cow::Owned(
                    e.child_named("errortype")
                        .map(Element::trimmed)
                        .unwrap_or_default(),
                )),
                message: e.child_named("message").map(Element::trimmed),
                trace_id: e.child_named("traceid").map(Element::trimmed),
            });
        } else {
            f.detail_other.push(e.to_generic());
        }
    }
}

pub(crate) fn decode_fault(
    input: &Input<'_>,
    n: &Element,
    version: SoapVersion,
) -> Result<Fault, MessageError> {
    let mut f = Fault {
        code: FaultCode::RECEIVER,
        subcode: None,
        reason: String::new(),
        reason_lang: None,
        enrollment_error: None,
        detail_other: Vec::new(),
    };
    match version {
        SoapVersion::Soap12 => {
            let code = n
                .child_named("Code")
                .ok_or_else(|| input.missing(n, "s:Code"))?;
            let value = code
                .child_named("Value")
                .ok_or_else(|| input.missing(code, "s:Value"))?;
            f.code = qname_code(value, version);
            if let Some(sub) = code
                .child_named("Subcode")
                .and_then(|s| s.child_named("Value"))
            {
                f.subcode = Some(qname_code(sub, version));
            }
            if let Some(text) = n.child_named("Reason").and_then(|r| r.child_named("Text")) {
                f.reason = text.trimmed();
                f.reason_lang = text.attr_ns(crate::node::XML_NS, "lang").map(str::to_owned);
            }
            if let Some(d) = n.child_named("Detail") {
                decode_detail(&mut f, d);
            }
        }
        SoapVersion::Soap11 => {
            let code = n
                .child_named("faultcode")
                .ok_or_else(|| input.missing(n, "faultcode"))?;
            f.code = qname_code(code, version);
            f.reason = n
                .child_named("faultstring")
                .map(Element::trimmed)
                .unwrap_or_default();
            f.reason_lang = n
                .child_named("faultstring")
                .and_then(|t| t.attr_ns(crate::node::XML_NS, "lang"))
                .map(str::to_owned);
            if let Some(d) = n.child_named("detail") {
                decode_detail(&mut f, d);
            }
        }
    }
    Ok(f)
}

fn qname_text(c: &FaultCode) -> String {
    match &c.namespace {
        CodeNamespace::Soap => format!("s:{}", c.name),
        CodeNamespace::Addressing => format!("a:{}", c.name),
        CodeNamespace::Other(ns) if ns.is_empty() => c.name.to_string(),
        CodeNamespace::Other(_) => format!("x:{}", c.name),
    }
}

fn qname_attrs(c: &FaultCode) -> Vec<(&'static str, &str)> {
    match &c.namespace {
        CodeNamespace::Other(ns) if !ns.is_empty() => vec![("xmlns:x", ns.as_str())],
        _ => Vec::new(),
    }
}

fn encode_detail(f: &Fault, w: &mut XmlWriter, name: &str) {
    if f.enrollment_error.is_none() && f.detail_other.is_empty() {
        return;
    }
    w.open(name, &[]);
    if let Some(e) = &f.enrollment_error {
        w.open(
            "deviceenrollmentserviceerror",
            &[("xmlns", ns::PKI_ENROLLMENT)],
        );
        w.leaf("errortype", &[], &e.error_type.0);
        w.opt_leaf("message", e.message.as_deref());
        w.opt_leaf("traceid", e.trace_id.as_deref());
        w.close("deviceenrollmentserviceerror");
    }
    for o in &f.detail_other {
        w.element(o);
    }
    w.close(name);
}

pub(crate) fn encode_fault(f: &Fault, w: &mut XmlWriter, version: SoapVersion) {
    match version {
        SoapVersion::Soap12 => {
            w.open("s:Fault", &[]);
            w.open("s:Code", &[]);
            w.leaf("s:Value", &qname_attrs(&f.code), &qname_text(&f.code));
            if let Some(sub) = &f.subcode {
                w.open("s:Subcode", &[]);
                w.leaf("s:Value", &qname_attrs(sub), &qname_text(sub));
                w.close("s:Subcode");
            }
            w.close("s:Code");
            w.open("s:Reason", &[]);
            match &f.reason_lang {
                Some(l) => w.leaf("s:Text", &[("xml:lang", l)], &f.reason),
                None => w.leaf("s:Text", &[], &f.reason),
            }
            w.close("s:Reason");
            encode_detail(f, w, "s:Detail");
            w.close("s:Fault");
        }
        SoapVersion::Soap11 => {
            w.open("s:Fault", &[]);
            w.leaf("faultcode", &qname_attrs(&f.code), &qname_text(&f.code));
            match &f.reason_lang {
                Some(l) => w.leaf("faultstring", &[("xml:lang", l)], &f.reason),
                None => w.leaf("faultstring", &[], &f.reason),
            }
            encode_detail(f, w, "detail");
            w.close("s:Fault");
        }
    }
}
