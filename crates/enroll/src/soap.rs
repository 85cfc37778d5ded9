//! SOAP envelope, WS-Addressing and WS-Security headers.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::XmlElement;
use crate::error::{MessageError, MessageErrorKind};
use crate::node::{Element, ElementExt, Input};
use crate::ns;
use winmdm_types::Secret;
use winmdm_types::base64::{self as lenient_base64, Base64Error};
use winmdm_xml::Writer as XmlWriter;

/// SOAP envelope version. Both are accepted; builders in this crate use SOAP 1.2
/// and the encoder writes the version the envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum SoapVersion {
    /// SOAP 1.2 (`http://www.w3.org/2003/05/soap-envelope`), sent by Windows.
    #[default]
    Soap12,
    /// SOAP 1.1 (`http://schemas.xmlsoap.org/soap/envelope/`), seen in RSTR examples.
    Soap11,
}

impl SoapVersion {
    /// Envelope namespace URI.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::Soap12 => ns::SOAP12,
            SoapVersion::Soap11 => ns::SOAP11,
        }
    }

    /// `Content-Type` for an HTTP message carrying this envelope.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::Soap12 => "application/soap+xml; charset=utf-8",
            SoapVersion::Soap11 => "text/xml; charset=utf-8",
        }
    }
}

/// A SOAP envelope: version, headers and a typed body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Envelope<B> {
    /// Envelope version (decoded from the namespace; the encoder writes it back).
    pub version: SoapVersion,
    /// WS-Addressing and WS-Security headers.
    pub header: Header,
    /// The message.
    pub body: B,
}

impl<B> Envelope<B> {
    /// A SOAP 1.2 envelope with the given action header and body.
    pub fn new(action: &str, body: B) -> Self {
        Envelope {
            version: SoapVersion::Soap12,
            header: Header {
                action: Some(action.to_owned()),
                ..Header::default()
            },
            body,
        }
    }
}

/// How long a reply's `u:Timestamp` is valid (`Expires` − `Created`): 5 minutes, as in
/// Microsoft's RSTRC samples.
pub const REPLY_TIMESTAMP_TTL: Duration = Duration::from_secs(5 * 60);

impl<B> Envelope<B> {
    /// A SOAP 1.2 response to `request`: the given action, `RelatesTo` set to the
    /// request's `MessageID`, and the `o:Security` header with `u:Timestamp u:Id="_0"`
    /// created at `now` and expiring [`REPLY_TIMESTAMP_TTL`] later, as Microsoft's
    /// samples and real servers send the RSTRC. (Discovery and GetPolicies responses
    /// carry no Security header in those samples: [`Envelope::relating_to`] builds them.)
    pub fn reply_to(request: &Header, action: &str, body: B, now: SystemTime) -> Self {
        let mut env = Envelope::relating_to(request, action, body);
        env.header.security = Some(Security {
            timestamp: Some(Timestamp::at(now, REPLY_TIMESTAMP_TTL)),
            ..Security::default()
        });
        env
    }

    /// A SOAP 1.2 response to `request` without a Security header: the given action and
    /// `RelatesTo` set to the request's `MessageID`.
    pub fn relating_to(request: &Header, action: &str, body: B) -> Self {
        let mut env = Envelope::new(action, body);
        env.header.relates_to = request.message_id.clone();
        env
    }
}

/// `ActivityId` header (WCF diagnostics; optional in responses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ActivityId {
    /// `CorrelationId` attribute.
    pub correlation_id: Option<String>,
    /// The activity id (trimmed).
    pub value: String,
}

/// SOAP headers. Text values are trimmed (samples wrap URIs in whitespace).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Header {
    /// `a:Action`.
    pub action: Option<String>,
    /// `a:MessageID` (kept verbatim apart from trimming: samples have `urn:uuid: 7481...`).
    pub message_id: Option<String>,
    /// `a:ReplyTo/a:Address`.
    pub reply_to: Option<String>,
    /// `a:To`.
    pub to: Option<String>,
    /// `a:RelatesTo`.
    pub relates_to: Option<String>,
    /// `ActivityId` (any namespace).
    pub activity_id: Option<ActivityId>,
    /// `wsse:Security`.
    pub security: Option<Security>,
    /// Other header elements, in document order.
    pub other: Vec<XmlElement>,
}

/// `wsse:Security` header content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Security {
    /// `u:Timestamp`.
    pub timestamp: Option<Timestamp>,
    /// `wsse:UsernameToken` (OnPremise; ROBO renewal).
    pub username_token: Option<UsernameToken>,
    /// `wsse:BinarySecurityToken` (Federated user token; Certificate X.509).
    pub binary_security_token: Option<BinarySecurityToken>,
    /// Other content (`ds:Signature` for Certificate auth), in document order.
    pub other: Vec<XmlElement>,
}

/// `u:Timestamp` with its times as written (xsd:dateTime text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Timestamp {
    /// `u:Id` (`_0` in responses).
    pub id: Option<String>,
    /// `u:Created`.
    pub created: Option<String>,
    /// `u:Expires`.
    pub expires: Option<String>,
}

impl Timestamp {
    /// A timestamp created at `now` (seconds since the Unix epoch, passed in: this crate
    /// reads no clock) expiring `ttl_secs` later, with `u:Id="_0"` as MS-MDE2 responses use.
    pub fn from_unix(now: u64, ttl_secs: u64) -> Self {
        Timestamp {
            id: Some("_0".into()),
            created: Some(format_utc(now)),
            expires: Some(format_utc(now.saturating_add(ttl_secs))),
        }
    }

    /// A timestamp created at `now` expiring `ttl` later (whole seconds; a time before
    /// 1970 is written as 1970), with `u:Id="_0"`.
    pub fn at(now: SystemTime, ttl: Duration) -> Self {
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_unix(secs, ttl.as_secs())
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.000Z`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// `wsse:UsernameToken`. The password is redacted in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UsernameToken {
    /// `u:Id` (MS-MDE2 fixes it to [`ns::USERNAME_TOKEN_ID`]).
    pub id: Option<String>,
    /// `wsse:Username` (trimmed).
    pub username: String,
    /// `wsse:Password` text, untrimmed (a password may end in spaces; doc samples
    /// wrap it in whitespace: trim at your discretion).
    pub password: Option<Secret>,
    /// `wsse:Password/@Type`.
    pub password_type: Option<String>,
    /// Other content (`Nonce`, `Created`, ...), in order.
    pub other: Vec<XmlElement>,
}

/// `ValueType` of a `BinarySecurityToken`: an open set of URIs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ValueType(pub Cow<'static, str>);

impl ValueType {
    /// PKCS#10 certificate request (new enrollment).
    pub const PKCS10: ValueType = ValueType(Cow::Borrowed(
        "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10",
    ));
    /// PKCS#7 (renewal: signed PKCS#10).
    pub const PKCS7: ValueType = ValueType(Cow::Borrowed(
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#PKCS7",
    ));
    /// Federated user token (base64 of the STS token or Entra JWT).
    pub const USER_TOKEN: ValueType = ValueType(Cow::Borrowed(
        "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken",
    ));
    /// The provisioning document in the RSTR.
    pub const PROVISION_DOC: ValueType = ValueType(Cow::Borrowed(
        "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc",
    ));
    /// X.509 certificate (Certificate auth).
    pub const X509V3: ValueType = ValueType(Cow::Borrowed(
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3",
    ));

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Matches ignoring ASCII case and a short form such as `X509v3` or `PKCS10`
    /// written without the URI (the certificate-auth doc sample).
    pub fn matches(&self, other: &ValueType) -> bool {
        let a = self.as_str();
        let b = other.as_str();
        a.eq_ignore_ascii_case(b)
            || b.rsplit('#')
                .next()
                .is_some_and(|frag| a.eq_ignore_ascii_case(frag))
    }
}

/// `EncodingType` for base64 content.
pub const ENCODING_BASE64: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary";

/// `wsse:BinarySecurityToken`. `Debug` prints the value's length only (it may be a
/// bearer token).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BinarySecurityToken {
    /// `ValueType` (unqualified or `wsse:`-prefixed in the input).
    pub value_type: Option<ValueType>,
    /// `EncodingType`.
    pub encoding_type: Option<String>,
    /// `Id` / `u:Id`.
    pub id: Option<String>,
    /// The content, trimmed; base64 may contain line breaks.
    pub value: String,
}

impl fmt::Debug for BinarySecurityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinarySecurityToken")
            .field("value_type", &self.value_type)
            .field("encoding_type", &self.encoding_type)
            .field("id", &self.id)
            .field(
                "value",
                &format_args!("<redacted, {} bytes>", self.value.len()),
            )
            .finish()
    }
}

impl BinarySecurityToken {
    /// A base64 token of the given type.
    pub fn base64(value_type: ValueType, bytes: &[u8]) -> Self {
        BinarySecurityToken {
            value_type: Some(value_type),
            encoding_type: Some(ENCODING_BASE64.into()),
            id: None,
            value: lenient_base64::encode(bytes),
        }
    }

    /// Decodes the base64 content (whitespace and line breaks ignored), at most 4 MiB: the
    /// largest input [`default_limits`](crate::default_limits) accepts, so every token of
    /// a message decoded with them decodes.
    pub fn decode_base64(&self) -> Result<Vec<u8>, Base64Error> {
        let max = crate::default_limits().max_input_bytes;
        lenient_base64::decode_lenient(&self.value, max)
    }
}

// ---------------------------------------------------------------- decoding

pub(crate) fn decode_binary_security_token(node: &Element) -> BinarySecurityToken {
    BinarySecurityToken {
        value_type: node
            .attr("ValueType")
            .map(|v| ValueType(Cow::Owned(v.trim().to_owned()))),
        encoding_type: node.attr("EncodingType").map(|v| v.trim().to_owned()),
        id: node.attr("Id").map(str::to_owned),
        value: node.trimmed(),
    }
}

fn decode_security(node: &Element) -> Security {
    let mut sec = Security::default();
    for e in node.elements() {
        if e.is("Timestamp") && e.in_ns(&[Some(ns::WSU)]) {
            sec.timestamp = Some(Timestamp {
                id: e.attr("Id").map(str::to_owned),
                created: e.child_named("Created").map(Element::trimmed),
                expires: e.child_named("Expires").map(Element::trimmed),
            });
        } else if e.is("UsernameToken") && e.in_ns(&[Some(ns::WSSE)]) {
            let pw = e.child_named("Password");
            sec.username_token = Some(UsernameToken {
                id: e.attr("Id").map(str::to_owned),
                username: e
                    .child_named("Username")
                    .map(Element::trimmed)
                    .unwrap_or_default(),
                password: pw.map(|p| Secret::new(p.text())),
                password_type: pw.and_then(|p| p.attr("Type")).map(|t| t.trim().to_owned()),
                other: e
                    .elements()
                    .filter(|c| !c.is("Username") && !c.is("Password"))
                    .map(Element::to_generic)
                    .collect(),
            });
        } else if e.is("BinarySecurityToken") && e.in_ns(&[Some(ns::WSSE)]) {
            sec.binary_security_token = Some(decode_binary_security_token(e));
        } else {
            sec.other.push(e.to_generic());
        }
    }
    sec
}

fn decode_header(node: &Element) -> Header {
    let mut h = Header::default();
    let wsa = [Some(ns::ADDRESSING), None];
    for e in node.elements() {
        if e.in_ns(&wsa) && e.is("Action") {
            h.action = Some(e.trimmed());
        } else if e.in_ns(&wsa) && e.is("MessageID") {
            h.message_id = Some(e.trimmed());
        } else if e.in_ns(&wsa) && e.is("ReplyTo") {
            h.reply_to = Some(
                e.child_named("Address")
                    .map(Element::trimmed)
                    .unwrap_or_default(),
            );
        } else if e.in_ns(&wsa) && e.is("To") {
            h.to = Some(e.trimmed());
        } else if e.in_ns(&wsa) && e.is("RelatesTo") {
            h.relates_to = Some(e.trimmed());
        } else if e.is("ActivityId") {
            h.activity_id = Some(ActivityId {
                correlation_id: e.attr("CorrelationId").map(str::to_owned),
                value: e.trimmed(),
            });
        } else if e.is("Security") && e.in_ns(&[Some(ns::WSSE)]) {
            h.security = Some(decode_security(e));
        } else {
            h.other.push(e.to_generic());
        }
    }
    h
}

/// Decodes the envelope around a body; returns version, header and the first body
/// element (`None` for an empty body).
pub(crate) fn decode_envelope<'n>(
    input: &Input<'_>,
    root: &'n Element,
) -> Result<(SoapVersion, Header, Option<&'n Element>), MessageError> {
    let version = match root.namespace.as_deref() {
        Some(ns::SOAP12) => SoapVersion::Soap12,
        Some(ns::SOAP11) => SoapVersion::Soap11,
        _ => {
            return Err(input.err(
                root.offset,
                MessageErrorKind::UnexpectedRoot {
                    expected: "soap:Envelope",
                    found: root.expanded_name(),
                },
            ));
        }
    };
    if !root.is("Envelope") {
        return Err(input.err(
            root.offset,
            MessageErrorKind::UnexpectedRoot {
                expected: "soap:Envelope",
                found: root.expanded_name(),
            },
        ));
    }
    let env_ns = [Some(version.namespace())];
    let header = root
        .elements()
        .find(|e| e.is("Header") && e.in_ns(&env_ns))
        .map(decode_header)
        .unwrap_or_default();
    let body = root
        .elements()
        .find(|e| e.is("Body") && e.in_ns(&env_ns))
        .ok_or_else(|| input.missing(root, "soap:Body"))?;
    Ok((version, header, body.elements().next()))
}

// ---------------------------------------------------------------- encoding

pub(crate) fn encode_envelope(
    version: SoapVersion,
    header: &Header,
    body: impl FnOnce(&mut XmlWriter),
) -> String {
    let mut w = XmlWriter::new();
    w.open(
        "s:Envelope",
        &[
            ("xmlns:s", version.namespace()),
            ("xmlns:a", ns::ADDRESSING),
            ("xmlns:u", ns::WSU),
            ("xmlns:o", ns::WSSE),
        ],
    );
    w.open("s:Header", &[]);
    if let Some(a) = &header.action {
        w.leaf("a:Action", &[("s:mustUnderstand", "1")], a);
    }
    w.opt_leaf("a:MessageID", header.message_id.as_deref());
    if let Some(r) = &header.reply_to {
        w.open("a:ReplyTo", &[]);
        w.leaf("a:Address", &[], r);
        w.close("a:ReplyTo");
    }
    if let Some(t) = &header.to {
        w.leaf("a:To", &[("s:mustUnderstand", "1")], t);
    }
    w.opt_leaf("a:RelatesTo", header.relates_to.as_deref());
    if let Some(act) = &header.activity_id {
        let mut attrs = vec![("xmlns", ns::DIAGNOSTICS)];
        if let Some(c) = &act.correlation_id {
            attrs.insert(0, ("CorrelationId", c.as_str()));
        }
        w.leaf("ActivityId", &attrs, &act.value);
    }
    if let Some(sec) = &header.security {
        w.open("o:Security", &[("s:mustUnderstand", "1")]);
        if let Some(ts) = &sec.timestamp {
            match &ts.id {
                Some(id) => w.open("u:Timestamp", &[("u:Id", id)]),
                None => w.open("u:Timestamp", &[]),
            }
            w.opt_leaf("u:Created", ts.created.as_deref());
            w.opt_leaf("u:Expires", ts.expires.as_deref());
            w.close("u:Timestamp");
        }
        if let Some(ut) = &sec.username_token {
            match &ut.id {
                Some(id) => w.open("o:UsernameToken", &[("u:Id", id)]),
                None => w.open("o:UsernameToken", &[]),
            }
            w.leaf("o:Username", &[], &ut.username);
            if let Some(pw) = &ut.password {
                match &ut.password_type {
                    Some(t) => w.leaf("o:Password", &[("o:Type", t)], pw.expose()),
                    None => w.leaf("o:Password", &[], pw.expose()),
                }
            }
            for o in &ut.other {
                w.element(o);
            }
            w.close("o:UsernameToken");
        }
        if let Some(bst) = &sec.binary_security_token {
            encode_binary_security_token(&mut w, "o:BinarySecurityToken", bst, &[]);
        }
        for o in &sec.other {
            w.element(o);
        }
        w.close("o:Security");
    }
    for o in &header.other {
        w.element(o);
    }
    w.close("s:Header");
    w.open("s:Body", &[]);
    body(&mut w);
    w.close("s:Body");
    w.close("s:Envelope");
    w.into_string()
}

pub(crate) fn encode_binary_security_token(
    w: &mut XmlWriter,
    name: &str,
    bst: &BinarySecurityToken,
    extra: &[(&str, &str)],
) {
    let mut attrs: Vec<(&str, &str)> = extra.to_vec();
    if let Some(v) = &bst.value_type {
        attrs.push(("ValueType", v.as_str()));
    }
    if let Some(e) = &bst.encoding_type {
        attrs.push(("EncodingType", e));
    }
    if let Some(id) = &bst.id {
        attrs.push(("u:Id", id));
    }
    w.leaf(name, &attrs, &bst.value);
}

impl Header {
    /// The `wsse:Security` header's credential ([`Security::credential`]), e.g. to
    /// authenticate a GetPolicies request before answering it.
    pub fn credential(&self) -> Option<crate::token::Credential<'_>> {
        self.security.as_ref()?.credential()
    }
}

impl Security {
    /// The request's credential for a [`token::Authenticator`](crate::token::Authenticator):
    /// the `UsernameToken` (OnPremise) if there is one, else the `BinarySecurityToken`
    /// (Federated / Entra user token, or the X.509 token of Certificate auth).
    pub fn credential(&self) -> Option<crate::token::Credential<'_>> {
        if let Some(u) = &self.username_token {
            return Some(crate::token::Credential::UsernameToken(
                crate::token::UsernameCredential {
                    username: &u.username,
                    password: u.password.as_ref().map_or("", |p| p.expose()),
                },
            ));
        }
        let b = self.binary_security_token.as_ref()?;
        Some(crate::token::Credential::BinarySecurityToken(
            crate::token::BinaryTokenCredential {
                value_type: b.value_type.as_ref().map_or("", ValueType::as_str),
                encoding_type: b.encoding_type.as_deref(),
                value: &b.value,
            },
        ))
    }
}
