//! Typed envelope decoding/encoding per message, and [`Message`] for "any enrollment
//! message" detection by root and body element.

use crate::discovery::{self, Discover, DiscoverResponse};
use crate::error::{MessageError, MessageErrorKind, MessageLimits, default_limits};
use crate::fault::{self, Fault};
use crate::node::{self, Element, Input};
use crate::provisioning::{self, ProvisioningDoc};
use crate::soap::{self, Envelope, SoapVersion};
use crate::wstep::{self, RequestSecurityToken, RequestSecurityTokenResponseCollection};
use crate::xcep::{self, GetPolicies, GetPoliciesResponse};

fn body_mismatch(
    input: &Input<'_>,
    at: &Element,
    expected: &'static str,
    found: Option<&Element>,
) -> MessageError {
    input.err(
        found.map_or(at.offset, |n| n.offset),
        MessageErrorKind::UnexpectedBody {
            expected,
            found: found.map_or_else(|| "(empty body)".to_owned(), Element::expanded_name),
        },
    )
}

macro_rules! envelope_codec {
    ($ty:ty, $name:literal, $is:path, $dec:path, $enc:path) => {
        impl Envelope<$ty> {
            #[doc = concat!("Decodes a SOAP envelope whose body is `", $name, "` (default limits).")]
            pub fn decode(input: &[u8]) -> Result<Self, MessageError> {
                Self::decode_with(input, &default_limits())
            }

            #[doc = concat!("Decodes a SOAP envelope whose body is `", $name, "`.")]
            pub fn decode_with(input: &[u8], limits: &MessageLimits) -> Result<Self, MessageError> {
                let root = node::parse(input, 0, limits)?;
                let input = Input { bytes: input };
                Self::from_node(&input, &root)
            }

            pub(crate) fn from_node(input: &Input<'_>, root: &Element) -> Result<Self, MessageError> {
                let (version, header, body) = soap::decode_envelope(input, root)?;
                match body {
                    Some(b) if $is(b) => Ok(Envelope { version, header, body: $dec(input, b)? }),
                    other => Err(body_mismatch(input, root, $name, other)),
                }
            }

            /// Encodes the envelope (in its `version`; builders use SOAP 1.2).
            pub fn to_xml(&self) -> String {
                soap::encode_envelope(self.version, &self.header, |w| $enc(&self.body, w))
            }
        }
    };
}

envelope_codec!(
    Discover,
    "Discover",
    discovery::is_discover,
    discovery::decode_discover,
    discovery::encode_discover
);
envelope_codec!(
    DiscoverResponse,
    "DiscoverResponse",
    discovery::is_discover_response,
    discovery::decode_discover_response,
    discovery::encode_discover_response
);
envelope_codec!(
    GetPolicies,
    "GetPolicies",
    xcep::is_get_policies,
    xcep::decode_get_policies,
    xcep::encode_get_policies
);
envelope_codec!(
    GetPoliciesResponse,
    "GetPoliciesResponse",
    xcep::is_get_policies_response,
    xcep::decode_get_policies_response,
    xcep::encode_get_policies_response
);
envelope_codec!(
    RequestSecurityToken,
    "wst:RequestSecurityToken",
    wstep::is_rst,
    wstep::decode_rst,
    wstep::encode_rst
);
envelope_codec!(
    RequestSecurityTokenResponseCollection,
    "wst:RequestSecurityTokenResponseCollection",
    wstep::is_rstrc,
    wstep::decode_rstrc,
    wstep::encode_rstrc
);

impl Envelope<Fault> {
    /// Decodes a SOAP envelope whose body is a fault (default limits).
    pub fn decode(input: &[u8]) -> Result<Self, MessageError> {
        Self::decode_with(input, &default_limits())
    }

    /// Decodes a SOAP envelope whose body is a fault.
    pub fn decode_with(input: &[u8], limits: &MessageLimits) -> Result<Self, MessageError> {
        let root = node::parse(input, 0, limits)?;
        let input = Input { bytes: input };
        Self::from_node(&input, &root)
    }

    pub(crate) fn from_node(input: &Input<'_>, root: &Element) -> Result<Self, MessageError> {
        let (version, header, body) = soap::decode_envelope(input, root)?;
        match body {
            Some(b) if fault::is_fault(b, version) => Ok(Envelope {
                version,
                header,
                body: fault::decode_fault(input, b, version)?,
            }),
            other => Err(body_mismatch(input, root, "soap:Fault", other)),
        }
    }

    /// An MS-MDE2 fault response: SOAP 1.2, action RSTRC (as in the MS-MDE2 examples),
    /// `RelatesTo` the request's message id.
    pub fn response(fault: Fault, relates_to: Option<&str>) -> Self {
        let mut env = Envelope::new(crate::ns::action::RSTRC, fault);
        env.header.relates_to = relates_to.map(str::to_owned);
        env
    }

    /// HTTP status to send this fault with (see [`Fault::http_status`]).
    pub fn http_status(&self) -> u16 {
        self.body.http_status(self.version)
    }

    /// Encodes the envelope.
    pub fn to_xml(&self) -> String {
        soap::encode_envelope(self.version, &self.header, |w| {
            fault::encode_fault(&self.body, w, self.version)
        })
    }
}

/// Any enrollment message, detected by root element and SOAP body element.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Discover request.
    Discover(Envelope<Discover>),
    /// Discover response.
    DiscoverResponse(Envelope<DiscoverResponse>),
    /// MS-XCEP GetPolicies.
    GetPolicies(Envelope<GetPolicies>),
    /// MS-XCEP GetPoliciesResponse.
    GetPoliciesResponse(Envelope<GetPoliciesResponse>),
    /// MS-WSTEP RequestSecurityToken.
    RequestSecurityToken(Envelope<RequestSecurityToken>),
    /// MS-WSTEP RequestSecurityTokenResponseCollection.
    RequestSecurityTokenResponseCollection(Envelope<RequestSecurityTokenResponseCollection>),
    /// SOAP fault.
    Fault(Envelope<Fault>),
    /// wap-provisioningdoc (or a characteristic/parm fragment).
    ProvisioningDoc(ProvisioningDoc),
}

impl Message {
    /// Decodes any enrollment message (default limits).
    pub fn decode(input: &[u8]) -> Result<Self, MessageError> {
        Self::decode_at(input, 0, &default_limits())
    }

    /// Decodes the message in `input[start..]`; error positions refer to `input`.
    pub fn decode_at(
        input: &[u8],
        start: usize,
        limits: &MessageLimits,
    ) -> Result<Self, MessageError> {
        let root = node::parse(input, start, limits)?;
        let input = Input { bytes: input };
        if provisioning::is_provisioning_root(&root) {
            return provisioning::decode_root(&input, &root).map(Message::ProvisioningDoc);
        }
        let (version, _, body) = soap::decode_envelope(&input, &root)?;
        let Some(b) = body else {
            return Err(body_mismatch(&input, &root, "an enrollment message", None));
        };
        Ok(if discovery::is_discover(b) {
            Message::Discover(Envelope::<Discover>::from_node(&input, &root)?)
        } else if discovery::is_discover_response(b) {
            Message::DiscoverResponse(Envelope::<DiscoverResponse>::from_node(&input, &root)?)
        } else if xcep::is_get_policies(b) {
            Message::GetPolicies(Envelope::<GetPolicies>::from_node(&input, &root)?)
        } else if xcep::is_get_policies_response(b) {
            Message::GetPoliciesResponse(Envelope::<GetPoliciesResponse>::from_node(&input, &root)?)
        } else if wstep::is_rst(b) {
            Message::RequestSecurityToken(Envelope::<RequestSecurityToken>::from_node(
                &input, &root,
            )?)
        } else if wstep::is_rstrc(b) {
            Message::RequestSecurityTokenResponseCollection(Envelope::<
                RequestSecurityTokenResponseCollection,
            >::from_node(&input, &root)?)
        } else if fault::is_fault(b, version) {
            Message::Fault(Envelope::<Fault>::from_node(&input, &root)?)
        } else {
            return Err(body_mismatch(
                &input,
                &root,
                "an enrollment message",
                Some(b),
            ));
        })
    }

    /// Decodes a capture that may start with an HTTP request or status line and
    /// headers (see [`split_http`]); positions refer to the whole input.
    pub fn decode_capture(input: &[u8]) -> Result<Self, MessageError> {
        let start = split_http(input).body_offset;
        Self::decode_at(input, start, &default_limits())
    }

    /// Short name of the message kind.
    pub fn kind(&self) -> &'static str {
        match self {
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

    /// SOAP version for envelopes, `None` for a provisioning document.
    pub fn soap_version(&self) -> Option<SoapVersion> {
        Some(match self {
            Message::Discover(e) => e.version,
            Message::DiscoverResponse(e) => e.version,
            Message::GetPolicies(e) => e.version,
            Message::GetPoliciesResponse(e) => e.version,
            Message::RequestSecurityToken(e) => e.version,
            Message::RequestSecurityTokenResponseCollection(e) => e.version,
            Message::Fault(e) => e.version,
            Message::ProvisioningDoc(_) => return None,
        })
    }

    /// Encodes the message.
    pub fn to_xml(&self) -> String {
        match self {
            Message::Discover(e) => e.to_xml(),
            Message::DiscoverResponse(e) => e.to_xml(),
            Message::GetPolicies(e) => e.to_xml(),
            Message::GetPoliciesResponse(e) => e.to_xml(),
            Message::RequestSecurityToken(e) => e.to_xml(),
            Message::RequestSecurityTokenResponseCollection(e) => e.to_xml(),
            Message::Fault(e) => e.to_xml(),
            Message::ProvisioningDoc(d) => d.to_xml(),
        }
    }
}

/// Where the body of an HTTP capture starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSplit<'a> {
    /// The request or status line, when the input starts with one.
    pub start_line: Option<&'a str>,
    /// Byte offset of the body (0 without HTTP header block).
    pub body_offset: usize,
}

/// Finds an HTTP header block at the start of a capture: a request line
/// (`METHOD /path HTTP/1.1`) or status line (`HTTP/1.1 200 OK`) followed by header
/// lines, ended by an empty line or by a line starting with `<` (a documentation
/// sample omits the empty line).
pub fn split_http(input: &[u8]) -> HttpSplit<'_> {
    let first_end = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let first = std::str::from_utf8(&input[..first_end])
        .unwrap_or("")
        .trim_end_matches('\r');
    let is_status = first.starts_with("HTTP/");
    let is_request = first
        .split(' ')
        .nth(2)
        .is_some_and(|v| v.starts_with("HTTP/"))
        && first
            .split(' ')
            .next()
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()));
    if !is_status && !is_request {
        return HttpSplit {
            start_line: None,
            body_offset: 0,
        };
    }
    let mut pos = (first_end + 1).min(input.len());
    while pos < input.len() {
        let end = input[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |e| pos + e);
        let line = &input[pos..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            pos = (end + 1).min(input.len());
            break;
        }
        if line.first() == Some(&b'<') {
            break;
        }
        pos = (end + 1).min(input.len());
    }
    HttpSplit {
        start_line: Some(first),
        body_offset: pos,
    }
}
