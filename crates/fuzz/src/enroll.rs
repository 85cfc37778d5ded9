//! Fuzz target bodies for winmdm-enroll.
//!
//! One target per SOAP message decoder, one for the provisioning document and one for
//! "any message" detection (with HTTP header skipping). Each body decodes with default
//! and tight limits and must never panic; every error must carry a position inside the
//! input; whatever decodes must encode to XML that decodes again, and encoding must be
//! stable from then on (decode ∘ encode is a fixpoint after one pass; the corpus tests
//! in `crates/enroll/tests/messages_corpus.rs` check the stronger "decodes equal" on
//! real messages).
//!
//! Seeds in `fuzz/corpus/enroll_*/` are copies of `crates/enroll/tests/data/messages/`
//! (sources and licences in its `PROVENANCE.md`), plus a base64 form of the real
//! provisioning document.

use winmdm_enroll::{
    Discover, DiscoverResponse, EnrollmentProvisioning, Envelope, Fault, GetPolicies,
    GetPoliciesResponse, Message, MessageError, MessageLimits, ProvisioningDoc,
    RequestSecurityToken, RequestSecurityTokenResponseCollection, default_limits,
};

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[
    ("enroll_discover", enroll_discover),
    ("enroll_discover_response", enroll_discover_response),
    ("enroll_get_policies", enroll_get_policies),
    ("enroll_get_policies_response", enroll_get_policies_response),
    ("enroll_rst", enroll_rst),
    ("enroll_rstrc", enroll_rstrc),
    ("enroll_fault", enroll_fault),
    ("enroll_provisioning_doc", enroll_provisioning_doc),
    ("enroll_message", enroll_message),
];

fn check_error(input: &[u8], e: &MessageError) {
    assert!(
        e.offset <= input.len(),
        "offset {} past input {}: {e}",
        e.offset,
        input.len()
    );
    assert!(e.line >= 1 && e.column >= 1, "1-based: {e}");
    let _ = e.to_string();
}

fn tight() -> MessageLimits {
    default_limits()
        .with_max_depth(6)
        .with_max_elements(40)
        .with_max_attributes(3)
        .with_max_value_bytes(64)
        .with_max_input_bytes(2048)
}

/// Decodes with both limit sets, then checks encode/decode stability.
fn run<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    decode: impl Fn(&[u8], &MessageLimits) -> Result<T, MessageError>,
    encode: impl Fn(&T) -> String,
) {
    if let Err(e) = decode(data, &tight()) {
        check_error(data, &e);
    }
    let first = match decode(data, &default_limits()) {
        Ok(v) => v,
        Err(e) => return check_error(data, &e),
    };
    let xml1 = encode(&first);
    let second = decode(xml1.as_bytes(), &default_limits())
        .unwrap_or_else(|e| panic!("re-encoded output does not decode: {e}\n{xml1}"));
    let xml2 = encode(&second);
    let third = decode(xml2.as_bytes(), &default_limits())
        .unwrap_or_else(|e| panic!("second encoding does not decode: {e}\n{xml2}"));
    assert_eq!(second, third, "decode/encode is not stable:\n{xml2}");
    assert_eq!(xml2, encode(&third));
}

macro_rules! envelope_target {
    ($name:ident, $ty:ty) => {
        #[doc = concat!("Decodes `Envelope<", stringify!($ty), ">`; never panics, encoding is stable.")]
        pub fn $name(data: &[u8]) {
            run(
                data,
                |d, l| Envelope::<$ty>::decode_with(d, l),
                |m| m.to_xml(),
            );
        }
    };
}

envelope_target!(enroll_discover, Discover);
envelope_target!(enroll_discover_response, DiscoverResponse);
envelope_target!(enroll_get_policies, GetPolicies);
envelope_target!(enroll_get_policies_response, GetPoliciesResponse);
envelope_target!(enroll_rst, RequestSecurityToken);
envelope_target!(enroll_rstrc, RequestSecurityTokenResponseCollection);
envelope_target!(enroll_fault, Fault);

/// Decodes a provisioning document (XML or base64) and its typed view; the typed view
/// rebuilds a document with the same typed view.
pub fn enroll_provisioning_doc(data: &[u8]) {
    run(data, ProvisioningDoc::decode_with, ProvisioningDoc::to_xml);
    if let Err(e) = ProvisioningDoc::decode_base64_or_xml(data) {
        check_error(data, &e);
    }
    if let Ok(doc) = ProvisioningDoc::decode(data)
        && let Ok(typed) = doc.enrollment()
    {
        let rebuilt = typed.to_doc();
        let again = ProvisioningDoc::decode(rebuilt.to_xml().as_bytes())
            .expect("typed view encodes to a decodable document");
        assert_eq!(again, rebuilt);
        let typed2 = EnrollmentProvisioning::from_doc(&again).expect("typed view re-reads");
        assert_eq!(typed2.to_doc(), rebuilt);
    }
}

/// Any enrollment message, with an optional HTTP header block in front.
pub fn enroll_message(data: &[u8]) {
    if let Err(e) = Message::decode_capture(data) {
        check_error(data, &e);
    }
    run(data, |d, l| Message::decode_at(d, 0, l), Message::to_xml);
}
