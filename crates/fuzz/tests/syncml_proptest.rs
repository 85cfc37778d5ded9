//! Property tests for the SyncML codec: any message the generator in
//! `winmdm_syncml::arbitrary` builds from random bytes round-trips through encode and decode.
//!
//! The file lives in winmdm-fuzz-targets because that crate enables winmdm-syncml's
//! `arbitrary` feature (a crate cannot enable its own features for its tests).

use arbitrary::Unstructured;
use proptest::prelude::*;
use winmdm_syncml::arbitrary::{Config, commands, message, message_with};
use winmdm_syncml::{
    DecodeOptions, EncodeOptions, SyncML, decode, decode_commands, encode_commands,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Shrinking a byte vector is cheap; keep failures small and readable.
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

fn encode(m: &SyncML<'_>, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode_with(&mut out, opts)
        .expect("a generated message encodes");
    out
}

proptest! {
    #![proptest_config(config())]

    /// decode(encode(m)) == m, encoded_len() is the output length, the pretty encoding and
    /// the one with an XML declaration decode to the same message, into_owned keeps it.
    #[test]
    fn generated_messages_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let m = message(&mut Unstructured::new(&bytes)).expect("generator never fails");
        let compact = encode(&m, &EncodeOptions::default());
        prop_assert_eq!(compact.len(), m.encoded_len());
        let back = decode(&compact).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&compact)))
        })?;
        prop_assert_eq!(&back, &m, "{}", String::from_utf8_lossy(&compact));
        prop_assert_eq!(&back.clone().into_owned(), &m);
        prop_assert_eq!(&m.clone().into_owned(), &m);

        let pretty = encode(&m, &EncodeOptions::pretty());
        let back = decode(&pretty).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&pretty)))
        })?;
        prop_assert_eq!(&back, &m, "{}", String::from_utf8_lossy(&pretty));

        let mut with_decl = EncodeOptions::default();
        with_decl.xml_declaration = true;
        let declared = encode(&m, &with_decl);
        let back = decode(&declared).ok();
        prop_assert_eq!(back.as_ref(), Some(&m));
    }

    /// Messages without unknown elements in SyncML 1.2 also decode in strict mode: the
    /// canonical encoding needs no quirk.
    #[test]
    fn canonical_encoding_needs_no_quirk(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let m = message_with(&mut Unstructured::new(&bytes), &Config::strict())
            .expect("generator never fails");
        for opts in [EncodeOptions::default(), EncodeOptions::pretty()] {
            let out = encode(&m, &opts);
            let d = DecodeOptions::strict().decode_report(&out).map_err(|e| {
                TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&out)))
            })?;
            prop_assert_eq!(&d.message, &m);
            prop_assert!(d.quirks.is_empty(), "quirks {:?}", d.quirks);
        }
    }

    /// Command fragments (profiles) round-trip through encode_commands/decode_commands.
    #[test]
    fn generated_command_fragments_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let cmds = commands(&mut Unstructured::new(&bytes)).expect("generator never fails");
        prop_assert!(!cmds.is_empty());
        for opts in [EncodeOptions::default(), EncodeOptions::pretty()] {
            let mut out = Vec::new();
            encode_commands(&cmds, &mut out, &opts).expect("generated commands encode");
            let back = decode_commands(&out).map_err(|e| {
                TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&out)))
            })?;
            prop_assert_eq!(&back, &cmds, "{}", String::from_utf8_lossy(&out));
        }
    }
}

/// The generator is not degenerate: over many inputs it produces every command kind,
/// every Data content kind, unknown elements, nesting and SyncML 1.1.
#[test]
fn generator_covers_the_model() {
    use winmdm_syncml::{Command, DataContent};
    let mut unknown = false;
    let mut data_kinds = std::collections::BTreeSet::new();
    let mut v11 = false;
    let mut nested = false;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..2048)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let m = message(&mut Unstructured::new(&bytes)).expect("message");
        v11 |= m.version == winmdm_syncml::SyncMlVersion::V1_1;
        let mut stack: Vec<&Command<'_>> = m.body.commands.iter().collect();
        while let Some(c) = stack.pop() {
            match c.kind() {
                Some(k) => {
                    data_kinds.insert(format!("cmd:{k}"));
                }
                None => unknown = true,
            }
            if let Command::Atomic(k) | Command::Sequence(k) = c {
                nested |= k
                    .commands
                    .iter()
                    .any(|c| matches!(c, Command::Atomic(_) | Command::Sequence(_)));
                stack.extend(k.commands.iter());
            }
            for it in c.items() {
                if let Some(d) = &it.data {
                    data_kinds.insert(match d.content {
                        DataContent::Text(_) => "text".to_owned(),
                        DataContent::CData(_) => "cdata".to_owned(),
                        DataContent::Xml(_) => "xml".to_owned(),
                    });
                }
            }
        }
    }
    for k in [
        "Add", "Alert", "Atomic", "Copy", "Delete", "Exec", "Get", "Replace", "Results",
        "Sequence", "Status",
    ] {
        assert!(data_kinds.contains(&format!("cmd:{k}")), "no {k} generated");
    }
    for k in ["text", "cdata", "xml"] {
        assert!(data_kinds.contains(k), "no {k} Data generated");
    }
    assert!(unknown, "no unknown command generated");
    assert!(v11, "no SyncML 1.1 message generated");
    assert!(nested, "no nested Atomic/Sequence generated");
}
