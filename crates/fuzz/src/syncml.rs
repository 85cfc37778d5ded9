//! Fuzz target bodies for winmdm-syncml.
//!
//! - `syncml_decode`: any bytes through every decoder entry point (default options, strict
//!   options, tight limits, command fragments); must never panic, and every error must
//!   carry a position inside the input.
//! - `syncml_roundtrip`: whatever decodes must encode (compact and pretty) and decode back
//!   to the same message; the same for command fragments.
//! - `syncml_structured`: bytes drive the generator in `winmdm_syncml::arbitrary`; the
//!   generated message (and command fragment) must encode and decode back equal.
//! - `syncml_wellformed`: the decoder's own XML tokenizer (`winmdm_syncml::__tokenize`)
//!   against roxmltree: it accepts no malformed XML and rejects no well-formed XML but for
//!   its documented limits; the exemptions and why are in the `wellformed` module.

mod wellformed;

use arbitrary::Unstructured;
use winmdm_syncml::{
    Command, DecodeError, DecodeOptions, EncodeOptions, Limits, SyncML, decode, decode_commands,
    encode_commands,
};

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[
    ("syncml_decode", syncml_decode),
    ("syncml_roundtrip", syncml_roundtrip),
    ("syncml_structured", syncml_structured),
    ("syncml_wellformed", syncml_wellformed),
];

/// Checks the invariants every decode error keeps.
fn check_error(input: &[u8], e: &DecodeError) {
    assert!(
        e.offset <= input.len(),
        "error offset {} past the input ({} bytes): {e}",
        e.offset,
        input.len()
    );
    assert!(e.line >= 1 && e.column >= 1, "line/column are 1-based: {e}");
    // Display must not panic either.
    let _ = e.to_string();
}

fn tight_limits() -> Limits {
    let mut l = Limits::default();
    l.max_depth = 8;
    l.max_commands = 4;
    l.max_items = 4;
    l.max_attributes = 2;
    l.max_namespace_declarations = 1;
    l.max_message_bytes = 4096;
    l
}

/// Decodes arbitrary bytes with every entry point and option set: never panics.
pub fn syncml_decode(data: &[u8]) {
    let options = [
        DecodeOptions::default(),
        DecodeOptions::strict(),
        DecodeOptions::default().with_limits(tight_limits()),
    ];
    for opts in &options {
        match opts.decode_report(data) {
            Ok(d) => {
                // Whatever decodes has a computable length.
                let _ = d.message.encoded_len();
            }
            Err(e) => check_error(data, &e),
        }
        match opts.decode_commands_report(data) {
            Ok(d) => {
                for c in &d.commands {
                    let _ = c.encoded_len();
                }
            }
            Err(e) => check_error(data, &e),
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        // The &str entry point agrees with the byte one.
        assert_eq!(
            winmdm_syncml::decode_str(s).is_ok(),
            decode(data).is_ok(),
            "decode_str and decode disagree"
        );
    }
}

/// Encodes `m` compactly and pretty, checks `encoded_len`, decodes both back and compares.
fn assert_message_roundtrips(m: &SyncML<'_>) {
    let mut out = Vec::new();
    if let Err(e) = m.encode(&mut out) {
        panic!("encode failed: {e}\nmessage: {m:#?}");
    }
    assert_eq!(
        out.len(),
        m.encoded_len(),
        "encoded_len differs from the output"
    );
    match decode(&out) {
        Ok(back) => assert_eq!(&back, m, "decode(encode(m)) != m\nencoded: {}", lossy(&out)),
        Err(e) => panic!(
            "encoded message does not decode: {e}\nencoded: {}",
            lossy(&out)
        ),
    }
    let mut pretty = Vec::new();
    if let Err(e) = m.encode_with(&mut pretty, &EncodeOptions::pretty()) {
        panic!("pretty encode failed: {e}");
    }
    match decode(&pretty) {
        Ok(back) => assert_eq!(
            &back,
            m,
            "pretty encoding differs\nencoded: {}",
            lossy(&pretty)
        ),
        Err(e) => panic!(
            "pretty message does not decode: {e}\nencoded: {}",
            lossy(&pretty)
        ),
    }
    assert_eq!(&m.clone().into_owned(), m, "into_owned changed the message");
}

fn assert_commands_roundtrip(cmds: &[Command<'_>]) {
    let mut out = Vec::new();
    if let Err(e) = encode_commands(cmds, &mut out, &EncodeOptions::default()) {
        panic!("encode_commands failed: {e}");
    }
    let len: usize = cmds.iter().map(Command::encoded_len).sum();
    assert_eq!(
        out.len(),
        len,
        "Command::encoded_len differs from the output"
    );
    match decode_commands(&out) {
        Ok(back) => assert_eq!(back, cmds, "commands differ\nencoded: {}", lossy(&out)),
        Err(e) => panic!(
            "encoded commands do not decode: {e}\nencoded: {}",
            lossy(&out)
        ),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes; whatever decodes must encode and decode back equal.
pub fn syncml_roundtrip(data: &[u8]) {
    if let Ok(m) = decode(data) {
        assert_message_roundtrips(&m);
    }
    if let Ok(cmds) = decode_commands(data) {
        assert_commands_roundtrip(&cmds);
    }
}

/// Generated messages and command fragments encode and decode back equal.
pub fn syncml_structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(m) = winmdm_syncml::arbitrary::message(&mut u) {
        assert_message_roundtrips(&m);
    }
    if let Ok(cmds) = winmdm_syncml::arbitrary::commands(&mut u) {
        assert_commands_roundtrip(&cmds);
    }
}

/// For UTF-8 input: (a) what `__tokenize(s, true)` accepts roxmltree accepts (namespace
/// rules and document-level rules aside), (b) what roxmltree accepts `__tokenize` accepts
/// (documented limits and verified roxmltree laxities aside), (c) what `decode` accepts
/// `__tokenize` accepts, (d) what `decode` accepts roxmltree accepts (namespace rules
/// aside). Panics with both parsers' verdicts on a violation.
pub fn syncml_wellformed(data: &[u8]) {
    wellformed::check(data);
}
