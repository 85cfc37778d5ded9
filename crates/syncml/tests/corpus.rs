//! Every SyncML example in the corpus (tests/data, see the INDEX.md files for provenance):
//! well-formed messages and fragments decode and round-trip, malformed ones fail with a
//! positioned error.

use std::path::{Path, PathBuf};

use winmdm_syncml::{
    Command, DecodeErrorKind, DecodeOptions, EncodeOptions, decode, decode_commands,
    encode_commands,
};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// (file, wf flag) from the published INDEX.md.
fn published_index() -> Vec<(String, String)> {
    let index = std::fs::read_to_string(data().join("published/INDEX.md")).unwrap();
    index
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file"))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            (cols[1].to_owned(), cols[2].to_owned())
        })
        .collect()
}

fn root_is_syncml(bytes: &[u8]) -> bool {
    let s = String::from_utf8_lossy(bytes);
    let mut rest = s.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>").map_or("", |(_, b)| b).trim_start();
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->").map_or("", |(_, b)| b).trim_start();
        } else {
            break;
        }
    }
    rest.starts_with("<SyncML")
}

fn roundtrip_message(name: &str, bytes: &[u8]) {
    let m = decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let compact = m.to_xml().unwrap_or_else(|e| panic!("{name}: encode: {e}"));
    assert_eq!(compact.len(), m.encoded_len(), "{name}: encoded_len");
    let again =
        decode(compact.as_bytes()).unwrap_or_else(|e| panic!("{name}: re-decode: {e}\n{compact}"));
    assert_eq!(again, m, "{name}: compact round trip");
    let mut pretty = Vec::new();
    m.encode_with(&mut pretty, &EncodeOptions::pretty())
        .unwrap();
    let again = decode(&pretty).unwrap_or_else(|e| panic!("{name}: re-decode pretty: {e}"));
    assert_eq!(again, m, "{name}: pretty round trip");
    assert_eq!(m.clone().into_owned(), m, "{name}: into_owned");
}

fn roundtrip_commands(name: &str, bytes: &[u8]) {
    let cmds = decode_commands(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    encode_commands(&cmds, &mut out, &EncodeOptions::default()).unwrap();
    let again = decode_commands(&out)
        .unwrap_or_else(|e| panic!("{name}: re-decode: {e}\n{}", String::from_utf8_lossy(&out)));
    assert_eq!(again, cmds, "{name}: round trip");
}

/// Well-formed XML that is not SyncML: MS-MDM spec excerpts with placeholder text (`...`,
/// `{Command}`) where only elements are allowed. Accepting them would mean dropping that
/// text, so they fail with `UnexpectedText` at the placeholder (its first character).
const PLACEHOLDER_SAMPLES: &[(&str, usize, usize)] = &[
    ("ms-mdm-spec_2.2.2_minimal-message.xml", 14, 13),
    ("ms-mdm-spec_3.1.5.1.1_add-chr.xml", 15, 5),
    ("ms-mdm-spec_3.1.5.1.3_atomic-cimv2.xml", 23, 5),
    ("ms-mdm-spec_3.1.5.1.5_exec-wmi-method.xml", 16, 5),
    ("ms-mdm-spec_3.1.5.2.1_status.xml", 9, 5),
    ("ms-mdm-spec_3.1.5.2.2_results.xml", 17, 5),
    ("ms-mdm-spec_3.2.5.1.5_alert-synctype.xml", 11, 5),
    ("ms-mdm-spec_3.2.5.1.6_alert-deviceprepsync.xml", 11, 5),
];

#[test]
fn published_examples_decode_or_fail_as_indexed() {
    let mut counts = [0usize; 4];
    for (file, wf) in published_index() {
        let bytes = std::fs::read(data().join("published").join(&file)).unwrap();
        if let Some((_, line, column)) = PLACEHOLDER_SAMPLES.iter().find(|p| p.0 == file) {
            let e = if root_is_syncml(&bytes) {
                decode(&bytes).expect_err(&file)
            } else {
                decode_commands(&bytes).expect_err(&file)
            };
            assert_eq!(e.kind, DecodeErrorKind::UnexpectedText, "{file}");
            assert_eq!((e.line, e.column), (*line, *column), "{file}");
            assert!(e.path.ends_with("SyncBody"), "{file}: {}", e.path);
            counts[3] += 1;
            continue;
        }
        match wf.as_str() {
            "wf-doc" | "wf-fragment" => {
                if root_is_syncml(&bytes) {
                    roundtrip_message(&file, &bytes);
                    counts[0] += 1;
                } else {
                    roundtrip_commands(&file, &bytes);
                    counts[1] += 1;
                }
            }
            "MALFORMED" => {
                let e = if root_is_syncml(&bytes) {
                    decode(&bytes).expect_err(&file)
                } else {
                    decode_commands(&bytes).expect_err(&file)
                };
                assert!(
                    e.line >= 1 && e.column >= 1 && e.offset <= bytes.len(),
                    "{file}: {e}"
                );
                counts[2] += 1;
            }
            "text" => {}
            other => panic!("{file}: unknown flag {other}"),
        }
    }
    // Pin the split so a silently skipped file shows up.
    assert_eq!(
        counts,
        [22, 42, 10, 8],
        "messages, fragments, malformed, placeholders"
    );
}

#[test]
fn real_windows_sessions_decode_and_round_trip() {
    let dir = data().join("fleet");
    for sub in ["real", "device-messages"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("xml") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let name = path.display().to_string();
            if root_is_syncml(&bytes) {
                roundtrip_message(&name, &bytes);
            } else {
                roundtrip_commands(&name, &bytes);
            }
        }
    }
}

#[test]
fn strict_mode_rejects_what_quirks_tolerate() {
    // The unenrollment doc sample without a namespace, Meta children without metinf.
    let lenient = DecodeOptions::default();
    let strict = DecodeOptions::strict();
    let bytes = std::fs::read(
        data().join("published/clientcertificateinstall-csp_02_pfx-delete-atomic.xml"),
    )
    .unwrap();
    let report = lenient.decode_report(&bytes).unwrap();
    assert!(!report.quirks.is_empty());
    assert!(strict.decode(&bytes).is_err());
    // A real capture is clean SyncML: strict accepts it.
    let bytes = std::fs::read(data().join("fleet/real/07-device-syncml-session1.xml")).unwrap();
    let m = strict.decode(&bytes).unwrap();
    assert!(matches!(m.body.commands[0], Command::Alert(_)));
}
