//! Hostile input: every case must fail with the right error kind, within a second, without
//! a panic and without large allocations (a counting global allocator measures every
//! decode), and every interoperability quirk must be switchable off.

use std::alloc::System;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use winmdm_syncml::{
    Command, DecodeError, DecodeErrorKind, DecodeOptions, Limit, Limits, MAX_CONTAINER_NESTING,
    Quirk, Quirks, SyntaxError, decode, decode_commands,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocation allowed for one decode beyond the input's own size.
const ALLOC_BUDGET: usize = 1024 * 1024;
/// One second for an optimised build (`cargo test --release -p winmdm-syncml --test
/// hostile`: the whole file runs in under a second). Unoptimised builds (`cargo test`) scan
/// bytes some 10-40 times slower (memchr is not optimised either) and CI
/// machines are shared, so they get more.
const TIME_BUDGET: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(10)
} else {
    Duration::from_secs(1)
};

/// Tests measure the process-wide allocator, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const NS: &str = r#"xmlns="SYNCML:SYNCML1.2""#;
const HDR: &str = "<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
    <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>https://mdm.example/omadm</LocURI>\
    </Target><Source><LocURI>dev</LocURI></Source></SyncHdr>";

/// A message with `body` inside `<SyncBody>`.
fn msg(body: &str) -> String {
    format!("<SyncML {NS}>{HDR}<SyncBody>{body}<Final/></SyncBody></SyncML>")
}

/// A Replace whose single item holds `data` inside `<Data>`.
fn replace_with_data(data: &str) -> String {
    msg(&format!(
        "<Replace><CmdID>2</CmdID><Item><Target><LocURI>./Vendor/MSFT/X</LocURI></Target>\
         <Data>{data}</Data></Item></Replace>"
    ))
}

/// Decodes with `opts` and measures time and allocation; the decode must fail.
fn fail_with(input: &[u8], opts: &DecodeOptions) -> DecodeError {
    fail_within(input, opts, ALLOC_BUDGET)
}

/// [`fail_with`] with another allocation budget (beyond the input's size).
fn fail_within(input: &[u8], opts: &DecodeOptions, alloc_budget: usize) -> DecodeError {
    let (result, elapsed, allocated) = {
        let start = Instant::now();
        let region = Region::new(GLOBAL);
        let result = opts.decode(input).map(|_| ());
        let change = region.change();
        let allocated = change.bytes_allocated + change.bytes_reallocated.max(0) as usize;
        (result, start.elapsed(), allocated)
    };
    let err = match result {
        Ok(()) => panic!(
            "decoded, but must fail: {}",
            String::from_utf8_lossy(&input[..input.len().min(300)])
        ),
        Err(e) => e,
    };
    assert!(
        elapsed < TIME_BUDGET,
        "took {elapsed:?} for {} bytes: {err}",
        input.len()
    );
    assert!(
        allocated <= input.len() + alloc_budget,
        "allocated {allocated} bytes for a {}-byte input: {err}",
        input.len()
    );
    assert!(err.offset <= input.len(), "offset past the input: {err}");
    err
}

fn fail(input: &[u8]) -> DecodeError {
    fail_with(input, &DecodeOptions::default())
}

fn limits(f: impl FnOnce(&mut Limits)) -> DecodeOptions {
    let mut l = Limits::default();
    f(&mut l);
    DecodeOptions::default().with_limits(l)
}

// ----- DTDs and entities ------------------------------------------------------------------

#[test]
fn billion_laughs_is_a_doctype_error() {
    let _s = serial();
    let mut dtd =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE SyncML [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        let refs = format!("&{prev};").repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
    }
    dtd.push_str("]>\n");
    let input = format!("{dtd}{}", replace_with_data("&lol9;"));
    let e = fail(input.as_bytes());
    assert_eq!(e.kind, DecodeErrorKind::DocType, "{e}");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn external_entity_is_a_doctype_error() {
    let _s = serial();
    let input = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE SyncML [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        replace_with_data("&xxe;")
    );
    assert_eq!(fail(input.as_bytes()).kind, DecodeErrorKind::DocType);
    // A bare external DTD reference too.
    let input = format!(
        "<!DOCTYPE SyncML SYSTEM \"http://attacker.example/x.dtd\">{}",
        msg("")
    );
    assert_eq!(fail(input.as_bytes()).kind, DecodeErrorKind::DocType);
}

#[test]
fn undefined_entities_are_never_expanded() {
    let _s = serial();
    // In Data text.
    let input = replace_with_data("a&xxe;b");
    let e = fail(input.as_bytes());
    assert_eq!(e.kind, DecodeErrorKind::UnknownEntity("xxe".into()), "{e}");
    assert_eq!(e.offset, input.find("&xxe;").unwrap(), "{e}");
    assert!(e.path.ends_with("Item/Data"), "{e}");
    // In a value element.
    let input = msg("<Get><CmdID>&xxe;</CmdID></Get>");
    assert_eq!(
        fail(input.as_bytes()).kind,
        DecodeErrorKind::UnknownEntity("xxe".into())
    );
    // In an attribute value.
    let input = replace_with_data("x").replace(
        "<Data>",
        "<Data xmlns:msft=\"http://schemas.microsoft.com/MobileDevice/MDM\" msft:originalerror=\"&xxe;\">",
    );
    assert!(
        matches!(
            fail(input.as_bytes()).kind,
            DecodeErrorKind::UnknownEntity(_)
        ),
        "{input}"
    );
    // Inside an unknown element (kept raw, but still checked).
    let input = msg("<X-Ext>&xxe;</X-Ext>");
    assert_eq!(
        fail(input.as_bytes()).kind,
        DecodeErrorKind::UnknownEntity("xxe".into())
    );
}

// ----- nesting ----------------------------------------------------------------------------

const DEEP: usize = 100_000;

fn nested(open: &str, close: &str) -> String {
    let mut s = String::with_capacity(DEEP * (open.len() + close.len()));
    for _ in 0..DEEP {
        s.push_str(open);
    }
    for _ in 0..DEEP {
        s.push_str(close);
    }
    s
}

#[test]
fn nesting_100k_deep_inside_data() {
    let _s = serial();
    let input = replace_with_data(&nested("<a>", "</a>"));
    let e = fail(input.as_bytes());
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Depth(64)),
        "{e}"
    );
    assert!(e.path.contains("Item/Data/a/a"), "{e}");
}

#[test]
fn nesting_100k_deep_unknown_elements_in_sync_body() {
    let _s = serial();
    let input = msg(&nested("<X-Ext>", "</X-Ext>"));
    let e = fail(input.as_bytes());
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Depth(64)),
        "{e}"
    );
}

#[test]
fn nesting_100k_deep_atomic() {
    let _s = serial();
    // Atomic/Sequence are decoded recursively: their nesting has its own fixed bound,
    // below the default depth limit.
    let nesting = DecodeErrorKind::LimitExceeded(Limit::ContainerNesting(MAX_CONTAINER_NESTING));
    let input = msg(&nested("<Atomic><CmdID>1</CmdID>", "</Atomic>"));
    let e = fail(input.as_bytes());
    assert_eq!(e.kind, nesting, "{e}");
    assert_eq!(
        e.path.matches("Atomic").count(),
        MAX_CONTAINER_NESTING + 1,
        "{e}"
    );
    // The same as a command fragment.
    let frag = nested("<Sequence>", "</Sequence>");
    let start = Instant::now();
    let e = decode_commands(frag.as_bytes()).unwrap_err();
    assert!(start.elapsed() < TIME_BUDGET);
    assert_eq!(e.kind, nesting, "{e}");
    // A smaller configured depth still applies to them.
    let e = fail_with(input.as_bytes(), &limits(|l| l.max_depth = 10));
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Depth(10)),
        "{e}"
    );
    // Exactly the bound is fine.
    let ok = msg(&"<Sequence>".repeat(MAX_CONTAINER_NESTING)).replace(
        "<Final/>",
        &format!("{}<Final/>", "</Sequence>".repeat(MAX_CONTAINER_NESTING)),
    );
    assert!(decode(ok.as_bytes()).is_ok());
}

/// Set in the child process of [`a_huge_configured_depth_cannot_overflow_the_stack`].
const CHILD: &str = "WINMDM_HOSTILE_STACK_CHILD";

#[test]
fn a_huge_configured_depth_cannot_overflow_the_stack() {
    // Known structure (Atomic in Atomic...) is decoded recursively; the decoder caps that
    // recursion whatever the configured depth (`max_depth: usize::MAX` here). A stack
    // overflow aborts the whole process, so the decode runs in a child process (this test
    // binary again, running only this test) and the parent checks how it ended.
    if std::env::var_os(CHILD).is_some() {
        let opts = limits(|l| l.max_depth = usize::MAX);
        let input = msg(&nested("<Atomic>", "</Atomic>"));
        let e = std::thread::scope(|s| {
            // The default stack of spawned threads (and of test threads): 2 MiB.
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn_scoped(s, || fail_with(input.as_bytes(), &opts))
                .expect("spawn")
                .join()
                .expect("no panic")
        });
        assert_eq!(
            e.kind,
            DecodeErrorKind::LimitExceeded(Limit::ContainerNesting(MAX_CONTAINER_NESTING)),
            "{e}"
        );
        return;
    }
    let _s = serial();
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "a_huge_configured_depth_cannot_overflow_the_stack",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "decoding 100k nested <Atomic> with max_depth = usize::MAX on a 2 MiB stack \
         crashed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_elements_are_skipped_without_recursion() {
    let _s = serial();
    // 100k nested unknown elements with no depth limit: skipped iteratively, so they
    // decode even on a small stack, and are kept verbatim.
    let opts = limits(|l| l.max_depth = usize::MAX);
    let inner = nested("<X-Ext>", "</X-Ext>");
    let input = msg(&inner);
    let m = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn_scoped(s, || opts.decode(input.as_bytes()))
            .expect("spawn")
            .join()
            .expect("no panic or stack overflow")
    })
    .expect("decodes");
    let Command::Unknown(raw) = &m.body.commands[0] else {
        panic!("an unknown element")
    };
    assert_eq!(raw.xml, inner);
}

// ----- attribute and namespace counts -----------------------------------------------------

#[test]
fn huge_attribute_count() {
    let _s = serial();
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"v\"")).collect();
    let input = replace_with_data("x").replace("<Data>", &format!("<Data{attrs}>"));
    let e = fail(input.as_bytes());
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Attributes(32)),
        "{e}"
    );
    // On the root and inside unknown elements too.
    let input = msg("").replacen("<SyncML ", &format!("<SyncML{attrs} "), 1);
    assert_eq!(
        fail(input.as_bytes()).kind,
        DecodeErrorKind::LimitExceeded(Limit::Attributes(32))
    );
    let input = msg(&format!("<X-Ext><y{attrs}/></X-Ext>"));
    assert_eq!(
        fail(input.as_bytes()).kind,
        DecodeErrorKind::LimitExceeded(Limit::Attributes(32))
    );
    // A configured limit.
    let input = replace_with_data("x").replace("<Data>", "<Data a=\"1\" b=\"2\" c=\"3\">");
    assert_eq!(
        fail_with(input.as_bytes(), &limits(|l| l.max_attributes = 2)).kind,
        DecodeErrorKind::LimitExceeded(Limit::Attributes(2))
    );
}

#[test]
fn huge_namespace_declaration_count() {
    let _s = serial();
    let decls: String = (0..100_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\""))
        .collect();
    let input = msg("").replacen("<SyncBody>", &format!("<SyncBody{decls}>"), 1);
    let e = fail_with(input.as_bytes(), &limits(|l| l.max_attributes = usize::MAX));
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(8)),
        "{e}"
    );
    // With the default attribute limit, whichever limit comes first.
    let e = fail(input.as_bytes());
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(8) | Limit::Attributes(32))
        ),
        "{e}"
    );
    let few: String = (0..3)
        .map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\""))
        .collect();
    let input = msg("").replacen("<SyncBody>", &format!("<SyncBody{few}>"), 1);
    assert_eq!(
        fail_with(
            input.as_bytes(),
            &limits(|l| l.max_namespace_declarations = 2)
        )
        .kind,
        DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(2))
    );
}

// ----- counts and sizes -------------------------------------------------------------------

#[test]
fn too_many_commands() {
    let _s = serial();
    let get =
        "<Get><CmdID>1</CmdID><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item></Get>";
    let input = msg(&get.repeat(11));
    let opts = limits(|l| l.max_commands = 10);
    let e = fail_with(input.as_bytes(), &opts);
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Commands(10)),
        "{e}"
    );
    assert!(e.path.ends_with("Get[11]"), "{e}");
    assert!(opts.decode(msg(&get.repeat(10)).as_bytes()).is_ok());
    // Nested commands count too.
    let input = msg(&format!(
        "<Atomic><CmdID>1</CmdID>{}</Atomic>",
        get.repeat(10)
    ));
    assert_eq!(
        fail_with(input.as_bytes(), &opts).kind,
        DecodeErrorKind::LimitExceeded(Limit::Commands(10))
    );
    // The default limit, with a million empty commands: memory is bounded by the limit
    // (each decoded `<Get/>` costs a `Command`, some 120 times its 6 bytes of input; the
    // command vector doubles), not by the input.
    let input = msg(&"<Get/>".repeat(1_000_000));
    let bound = 10_000 * std::mem::size_of::<Command<'_>>() * 4;
    assert_eq!(
        fail_within(input.as_bytes(), &DecodeOptions::default(), bound).kind,
        DecodeErrorKind::LimitExceeded(Limit::Commands(10_000))
    );
}

#[test]
fn too_many_items() {
    let _s = serial();
    let item = "<Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item>";
    let opts = limits(|l| l.max_items = 5);
    let input = msg(&format!("<Get><CmdID>1</CmdID>{}</Get>", item.repeat(6)));
    let e = fail_with(input.as_bytes(), &opts);
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Items(5)),
        "{e}"
    );
    // Items of different commands add up.
    let three = format!("<Get><CmdID>1</CmdID>{}</Get>", item.repeat(3));
    let input = msg(&three.repeat(2));
    assert_eq!(
        fail_with(input.as_bytes(), &opts).kind,
        DecodeErrorKind::LimitExceeded(Limit::Items(5))
    );
    // The default limit, with a million empty items: bounded by the limit, not the input
    // (each `<Item/>` costs an `Item`, some 90 times its 7 bytes).
    let input = msg(&format!("<Get>{}</Get>", "<Item/>".repeat(1_000_000)));
    let bound = 20_000 * std::mem::size_of::<winmdm_syncml::Item<'_>>() * 4;
    assert_eq!(
        fail_within(input.as_bytes(), &DecodeOptions::default(), bound).kind,
        DecodeErrorKind::LimitExceeded(Limit::Items(20_000))
    );
}

#[test]
fn message_size_over_the_limit() {
    let _s = serial();
    let input = replace_with_data(&"A".repeat(2000));
    let opts = limits(|l| l.max_message_bytes = 1024);
    let e = fail_with(input.as_bytes(), &opts);
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::MessageBytes(1024)),
        "{e}"
    );
    // The default 16 MiB limit, checked before anything is parsed.
    let big = replace_with_data(&"A".repeat(16 * 1024 * 1024));
    let e = fail(big.as_bytes());
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::MessageBytes(16 * 1024 * 1024))
    );
}

// ----- malformed documents ----------------------------------------------------------------

#[test]
fn every_truncation_of_a_real_message_fails() {
    let _s = serial();
    for (name, input) in [
        (
            "08-server-syncml-session1.xml",
            &include_bytes!("data/fleet/real/08-server-syncml-session1.xml")[..],
        ),
        (
            "ms-mdm-spec_4_02_server-pkg2.xml",
            &include_bytes!("data/published/ms-mdm-spec_4_02_server-pkg2.xml")[..],
        ),
    ] {
        decode(input).unwrap_or_else(|e| panic!("{name} decodes whole: {e}"));
        let end = input
            .windows(b"</SyncML>".len())
            .rposition(|w| w == b"</SyncML>")
            .expect("end tag")
            + b"</SyncML>".len();
        for cut in 0..end {
            let e = fail(&input[..cut]);
            match e.kind {
                DecodeErrorKind::Empty
                | DecodeErrorKind::Syntax(_)
                | DecodeErrorKind::InvalidUtf8 => {}
                other => panic!("{name} cut at {cut}: unexpected {other:?}"),
            }
            // Once the root's start tag is there, the input is not empty.
            if input[..cut].windows(7).any(|w| w == b"<SyncML") {
                assert_ne!(e.kind, DecodeErrorKind::Empty, "{name} cut at {cut}");
            }
        }
    }
}

#[test]
fn invalid_utf8_reports_its_offset() {
    let _s = serial();
    let good = replace_with_data("caf\u{e9}");
    let at = good.find('\u{e9}').unwrap();
    let mut bad = good.clone().into_bytes();
    bad[at + 1] = b'('; // 0xC3 followed by a non-continuation byte
    let e = fail(&bad);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8, "{e}");
    assert_eq!(e.offset, at, "{e}");
    assert_eq!((e.line, e.column), (1, at + 1), "{e}");
    // After a BOM, offsets still count from the first byte of the input.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&bad);
    let e = fail(&with_bom);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8, "{e}");
    assert_eq!(e.offset, at + 3, "{e}");
    // A lone continuation byte, and a truncated sequence at the very end.
    let mut lone = msg("").into_bytes();
    lone.insert(10, 0x80);
    assert_eq!(fail(&lone).offset, 10);
    let mut cut = msg("").into_bytes();
    cut.push(0xE2);
    let e = fail(&cut);
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::InvalidUtf8, cut.len() - 1)
    );
}

#[test]
fn invalid_attribute_names_are_rejected() {
    // Found by the syncml_roundtrip fuzzer (seed fuzz/corpus/syncml_roundtrip/
    // regression-attr-name-del.xml): quick-xml does not check names, so a decoded message
    // could hold an attribute name the encoder then refuses (`EncodeError::InvalidName`).
    // Not well-formed XML: the decoder must reject it.
    let _s = serial();
    for name in ["\u{7f}mlns", "1a", "-a", "a\u{1}b", "a\u{a0}b", "\u{b7}x"] {
        for input in [
            msg("").replacen("<SyncML ", &format!("<SyncML {name}=\"x\" "), 1),
            msg("").replacen("<SyncBody>", &format!("<SyncBody {name}=\"x\">"), 1),
            replace_with_data("x").replace("<Data>", &format!("<Data {name}=\"x\">")),
            msg("<Get><CmdID>1</CmdID><Item/></Get>")
                .replace("<Item/>", &format!("<Item {name}=\"x\"/>")),
        ] {
            let e = fail(input.as_bytes());
            assert!(
                matches!(
                    e.kind,
                    DecodeErrorKind::Syntax(_) | DecodeErrorKind::InvalidChar(_)
                ),
                "{input:?}: {e}"
            );
        }
    }
}

#[test]
fn mismatched_tags_are_syntax_errors() {
    let _s = serial();
    for input in [
        format!("<SyncML {NS}>{HDR}<SyncBody></SyncHdr></SyncML>"),
        msg("<Get><CmdID>1</CmdID></Replace>"),
        replace_with_data("<a><b></a></b>"),
        msg("<X-Ext><y></X-Ext>"),
        format!("<SyncML {NS}>{HDR}<SyncBody><Final/></SyncBody></syncml>"),
    ] {
        let e = fail(input.as_bytes());
        assert!(matches!(e.kind, DecodeErrorKind::Syntax(_)), "{input}: {e}");
    }
}

#[test]
fn empty_input() {
    let _s = serial();
    for input in [
        &b""[..],
        b"   \r\n\t",
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        b"<!-- nothing -->\n",
        b"\xEF\xBB\xBF",
    ] {
        let e = fail(input);
        assert_eq!(e.kind, DecodeErrorKind::Empty, "{input:?}: {e}");
    }
    assert_eq!(
        decode_commands(b"  ").unwrap_err().kind,
        DecodeErrorKind::Empty
    );
}

#[test]
fn trailing_content_after_the_root() {
    let _s = serial();
    for tail in ["x", "<SyncML/>", "<![CDATA[x]]>", "&amp;", "<a/>"] {
        let input = format!("{}\n{tail}", msg(""));
        let e = fail(input.as_bytes());
        assert_eq!(e.kind, DecodeErrorKind::TrailingContent, "{tail}: {e}");
        // At the text after the root (its leading newline included) or the element.
        let end = msg("").len();
        assert!((end..=end + 1).contains(&e.offset), "{tail}: {e}");
    }
    // Whitespace, comments and processing instructions after the root are fine.
    let ok = format!("{}\n<!-- end -->\n<?pi x?>\n", msg(""));
    assert!(decode(ok.as_bytes()).is_ok());
}

#[test]
fn control_characters_are_invalid() {
    let _s = serial();
    let input = msg("<Get><CmdID>1\u{1}</CmdID></Get>");
    let e = fail(input.as_bytes());
    assert_eq!(e.kind, DecodeErrorKind::InvalidChar(1), "{e}");
    assert_eq!(e.offset, input.find('\u{1}').unwrap(), "{e}");
    // Written as a character reference, in Data, in CDATA, in attribute values, U+FFFE.
    for (input, c) in [
        (msg("<Get><CmdID>&#1;</CmdID></Get>"), 1),
        (replace_with_data("a&#x1F;b"), 0x1f),
        (replace_with_data("\u{0}"), 0),
        (replace_with_data("<![CDATA[\u{8}]]>"), 8),
        (replace_with_data("<x>\u{1b}</x>"), 0x1b),
        (replace_with_data("\u{fffe}"), 0xfffe),
        (replace_with_data("&#xFFFF;"), 0xffff),
        (
            replace_with_data("x").replace("<Data>", "<Data a=\"\u{7}\">"),
            7,
        ),
    ] {
        let e = fail(input.as_bytes());
        assert_eq!(e.kind, DecodeErrorKind::InvalidChar(c), "{input:?}: {e}");
    }
    // A surrogate as a character reference is no character at all.
    let e = fail(replace_with_data("&#xD800;").as_bytes());
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::Syntax(_) | DecodeErrorKind::InvalidChar(_)
        ),
        "{e}"
    );
}

fn utf16le_with_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

#[test]
fn utf16_documents_are_transcoded_or_rejected() {
    let _s = serial();
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"utf-16\"?>{}",
        replace_with_data("caf\u{e9} \u{1F600}")
    );
    let le = utf16le_with_bom(&text);
    let d = DecodeOptions::default()
        .decode_report(&le)
        .expect("transcoded");
    assert!(d.quirks.iter().any(|q| q.quirk == Quirk::Utf16Transcoded));
    let Command::Replace(r) = &d.message.body.commands[0] else {
        panic!("a Replace")
    };
    assert_eq!(
        r.items[0].data.as_ref().unwrap().as_str(),
        "caf\u{e9} \u{1F600}"
    );
    // Big endian, with a BOM.
    let mut be = vec![0xFE, 0xFF];
    for u in text.encode_utf16() {
        be.extend_from_slice(&u.to_be_bytes());
    }
    assert_eq!(decode(&be).expect("big endian"), d.message);
    // Switched off: a clear error.
    let strict =
        DecodeOptions::default().with_quirks(Quirks::all().without(Quirk::Utf16Transcoded));
    assert_eq!(
        fail_with(&le, &strict).kind,
        DecodeErrorKind::QuirkDisabled(Quirk::Utf16Transcoded)
    );
    assert_eq!(
        fail_with(&le, &DecodeOptions::strict()).kind,
        DecodeErrorKind::QuirkDisabled(Quirk::Utf16Transcoded)
    );
    // Broken UTF-16: an odd byte count, an unpaired surrogate.
    let mut odd = le.clone();
    odd.push(b'x');
    assert_eq!(fail(&odd).kind, DecodeErrorKind::InvalidUtf8);
    let mut lone = utf16le_with_bom(&msg(""));
    lone.splice(4..6, 0xD800u16.to_le_bytes());
    assert_eq!(fail(&lone).kind, DecodeErrorKind::InvalidUtf8);
}

#[test]
fn utf16_errors_point_into_the_input() {
    // Found by the syncml_decode fuzzer (seed fuzz/corpus/syncml_decode/
    // regression-utf16-offset.bin): for a transcoded UTF-16 document the error offset was
    // the offset in the transcoded UTF-8 text, which can lie past the end of the input.
    // `DecodeError::offset` is a byte offset into the input: BOM plus two bytes per UTF-16
    // code unit before the error.
    let _s = serial();
    let text = replace_with_data("caf\u{e9} \u{540d} &xxe;");
    let at = text.find("&xxe;").unwrap();
    let units_before = text[..at].encode_utf16().count();
    let le = utf16le_with_bom(&text);
    let e = fail(&le);
    assert_eq!(e.kind, DecodeErrorKind::UnknownEntity("xxe".into()), "{e}");
    assert_eq!(e.offset, 2 + 2 * units_before, "{e}");
    assert_eq!(&le[e.offset..e.offset + 2], b"&\0");
    // Broken UTF-16 (an unpaired surrogate after an astral character): the offset of the
    // bad code unit.
    let mut bad = utf16le_with_bom(&msg("\u{1F600}"));
    let unit = msg("\u{1F600}").encode_utf16().count();
    bad.extend_from_slice(&0xDC00u16.to_le_bytes());
    let e = fail(&bad);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8, "{e}");
    assert_eq!(e.offset, 2 + 2 * unit, "{e}");
    // Without a BOM (`<` then NUL), truncated: the offset stays inside the input.
    let fuzzed = b"<\0<Alert>\0'\x80\tus>\xf58";
    let e = fail(fuzzed);
    assert!(e.offset <= fuzzed.len(), "{e}");
}

// ----- quirks -------------------------------------------------------------------------------

/// An input that needs `q` (and, as far as possible, no other quirk).
fn needs(q: Quirk) -> Vec<u8> {
    let get = |inner: &str| msg(&format!("<Get><CmdID>1</CmdID><Item>{inner}</Item></Get>"));
    match q {
        Quirk::MetInfNamespace => get("<Meta><Format>int</Format></Meta>").into_bytes(),
        Quirk::EmptyDefaultNamespace => {
            msg("<Replace xmlns=\"\"><CmdID>1</CmdID></Replace>").into_bytes()
        }
        Quirk::SyncMl11Namespace => msg("").replace("SYNCML1.2", "SYNCML1.1").into_bytes(),
        Quirk::MissingNamespace => msg("").replace(&format!(" {NS}"), "").into_bytes(),
        Quirk::NamespaceCase => msg("")
            .replace("SYNCML:SYNCML1.2", "syncml:syncml1.2")
            .into_bytes(),
        Quirk::ByteOrderMark => [&b"\xEF\xBB\xBF"[..], msg("").as_bytes()].concat(),
        Quirk::Utf16DeclaredUtf8 => {
            format!("<?xml version=\"1.0\" encoding=\"utf-16\"?>\n{}", msg("")).into_bytes()
        }
        Quirk::Utf16Transcoded => utf16le_with_bom(&msg("")),
        Quirk::WhitespaceAroundValues => {
            get("<Target><LocURI>\n   ./DevDetail/SwV\n</LocURI></Target>").into_bytes()
        }
        Quirk::MissingHdrOrBody => format!("<SyncML {NS}>{HDR}</SyncML>").into_bytes(),
        Quirk::AttributeOnValue => {
            get("<Target><LocURI foo=\"x\">./DevDetail</LocURI></Target>").into_bytes()
        }
        Quirk::DuplicateElement => msg("<Get><CmdID>1</CmdID><CmdID>2</CmdID></Get>").into_bytes(),
        other => panic!("quirk {other:?} has no hostile-input test: add one to needs()"),
    }
}

#[test]
fn every_quirk_is_reported_and_can_be_switched_off() {
    let _s = serial();
    for q in Quirk::ALL {
        let input = needs(q);
        let d = DecodeOptions::default()
            .decode_report(&input)
            .unwrap_or_else(|e| panic!("{q:?}: decodes by default: {e}"));
        let seen: Vec<Quirk> = d.quirks.iter().map(|s| s.quirk).collect();
        assert!(seen.contains(&q), "{q:?} not reported: {seen:?}");
        let without = DecodeOptions::default().with_quirks(Quirks::all().without(q));
        if q == Quirk::WhitespaceAroundValues {
            // Switched off, whitespace is read as part of the value (strict XML), not an
            // error.
            let m = without.decode(&input).expect("whitespace kept");
            assert_eq!(
                m.body.commands[0].items()[0].target_uri(),
                Some("\n   ./DevDetail/SwV\n")
            );
            continue;
        }
        let e = fail_with(&input, &without);
        assert_eq!(e.kind, DecodeErrorKind::QuirkDisabled(q), "{q:?}: {e}");
        // Strict mode rejects it too (with this quirk's error or an earlier one; a
        // duplicate is an unknown element there, rejected as such).
        let e = fail_with(&input, &DecodeOptions::strict());
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::QuirkDisabled(_) | DecodeErrorKind::DuplicateElement(_)
            ),
            "{q:?} strict: {e}"
        );
    }
}

#[test]
fn attributes_on_meta_are_reported_like_on_other_elements_without_attributes() {
    // `Meta` keeps no attributes in the model; like `Target`, `Cred`, `Chal` or `Final` its
    // attributes must be reported as `AttributeOnValue` (and rejected when that quirk is
    // off), not dropped silently.
    let _s = serial();
    let input = msg(
        "<Get><CmdID>1</CmdID><Meta foo=\"x\"><Format xmlns=\"syncml:metinf\">int</Format>\
         </Meta></Get>",
    );
    let d = DecodeOptions::default()
        .decode_report(input.as_bytes())
        .expect("decodes by default");
    assert!(
        d.quirks.iter().any(|q| q.quirk == Quirk::AttributeOnValue),
        "{:?}",
        d.quirks
    );
    let e = fail_with(input.as_bytes(), &DecodeOptions::strict());
    assert_eq!(
        e.kind,
        DecodeErrorKind::QuirkDisabled(Quirk::AttributeOnValue),
        "{e}"
    );
}

#[test]
fn canonical_input_needs_no_quirk() {
    let _s = serial();
    let input = msg("<Get><CmdID>1</CmdID></Get>");
    let d = DecodeOptions::strict()
        .decode_report(input.as_bytes())
        .expect("strict");
    assert!(d.quirks.is_empty(), "{:?}", d.quirks);
}

#[test]
fn error_path_after_400k_differently_named_siblings() {
    let _s = serial();
    // The element path of an error counts same-named siblings; with every sibling named
    // differently, a list of names per level made that quadratic.
    let siblings: String = (0..400_000).map(|i| format!("<u{i}/>")).collect();
    let input = replace_with_data(&format!("{siblings}&bad;"));
    let e = fail(input.as_bytes());
    assert_eq!(e.kind, DecodeErrorKind::UnknownEntity("bad".into()), "{e}");
    assert_eq!(e.path, "SyncML/SyncBody/Replace/Item/Data", "{e}");
    // Inside a late sibling: its own name, and the count of same-named ones before it.
    let input = replace_with_data(&format!("{siblings}<u1/><u1/><u1 a=\"&bad;\"/>"));
    let e = fail(input.as_bytes());
    assert_eq!(e.path, "SyncML/SyncBody/Replace/Item/Data/u1[4]", "{e}");
}

/// `s` up to the end of the first `marker` in it (input cut short inside markup).
fn cut<'s>(s: &'s str, marker: &str) -> &'s str {
    &s[..s.find(marker).expect("marker") + marker.len()]
}

#[test]
fn error_paths_in_malformed_markup() {
    let _s = serial();
    // The element path of an error in malformed markup: the elements open at the error,
    // and the element whose start tag holds the error when that tag is closed by its `>`
    // (whatever is wrong inside it). A tag without a name adds nothing.
    let data = "SyncML/SyncBody/Replace/Item/Data";
    let in_data = |frag: &str| replace_with_data(frag);
    let cases: Vec<(String, String)> = vec![
        // Start tags: cut short, no name, bad names, unbound prefix.
        (cut(&in_data("<a><b"), "<b").into(), format!("{data}/a")),
        (
            cut(&in_data("<a><b c=\"1"), "c=\"1").into(),
            format!("{data}/a"),
        ),
        (in_data("<a>< b/></a>"), format!("{data}/a")),
        (in_data("< a/>"), data.into()),
        (in_data("<a><1b/></a>"), format!("{data}/a/1b")),
        (in_data("<a:b:c/>"), format!("{data}/a:b:c")),
        (in_data("<a\u{1}/>"), format!("{data}/a\u{1}")),
        (in_data("<q:a>x</q:a>"), format!("{data}/q:a")),
        (in_data("<xmlns:a/>"), format!("{data}/xmlns:a")),
        // Attributes: the element they are on, siblings counted.
        (in_data("<a b=\"&bad;\"/>"), format!("{data}/a")),
        (in_data("<a/><a/><a b=\"&bad;\"/>"), format!("{data}/a[3]")),
        (in_data("<a b=\"1\" b=\"2\">x</a>"), format!("{data}/a")),
        (in_data("<a b=c/>"), format!("{data}/a")),
        (in_data("<a b=\"1\"c=\"2\"/>"), format!("{data}/a")),
        (in_data("<a b='<'/>"), format!("{data}/a")),
        (in_data("<a b=\"\u{1}\"/>"), format!("{data}/a")),
        (in_data("<a xmlns:p=\"\"/>"), format!("{data}/a")),
        (in_data("<a p:x=\"1\"/>"), format!("{data}/a")),
        (
            replace_with_data("x").replace("<Data>", "<Data b=\"&bad;\">"),
            data.into(),
        ),
        // End tags: an error in one belongs to the element it would close.
        (in_data("<a><b></a>"), format!("{data}/a/b")),
        (in_data("<a></x></a>"), format!("{data}/a")),
        (cut(&in_data("<a></a"), "</a").into(), format!("{data}/a")),
        // Cut short in text: the elements left open.
        (
            cut(&in_data("<a><b>x"), "<b>x").into(),
            format!("{data}/a/b"),
        ),
        // Embedded XML in Data, siblings counted at every level.
        (in_data("<a><b>&bad;</b></a>"), format!("{data}/a/b")),
        (
            in_data("<a/><a><b/><b>&bad;</b></a>"),
            format!("{data}/a[2]/b[2]"),
        ),
        (
            in_data("<a xmlns=\"urn:x\"><b>&bad;</b></a>"),
            format!("{data}/a/b"),
        ),
        // CDATA sections.
        (
            cut(&in_data("<a><![CDATA[x"), "CDATA[x").into(),
            format!("{data}/a"),
        ),
        (in_data("<![CDATA[x]]>&bad;"), data.into()),
        (in_data("<a>x]]>y</a>"), format!("{data}/a")),
        // Comments.
        (in_data("<a><!-- x -- y --></a>"), format!("{data}/a")),
        (
            cut(&in_data("<a><!-- x"), "<!-- x").into(),
            format!("{data}/a"),
        ),
        (
            in_data("<a><!-- <b> --><c>&bad;</c></a>"),
            format!("{data}/a/c"),
        ),
        // Processing instructions.
        (in_data("<a><?1x?></a>"), format!("{data}/a")),
        (in_data("<a><?XML?></a>"), format!("{data}/a")),
        (
            cut(&in_data("<a><?pi x"), "<?pi x").into(),
            format!("{data}/a"),
        ),
        (
            in_data("<a><?pi <b> ?><c>&bad;</c></a>"),
            format!("{data}/a/c"),
        ),
        // Other markup.
        (in_data("<a><!x></a>"), format!("{data}/a")),
        (in_data("<a>&#0;</a>"), format!("{data}/a")),
        (in_data("<a>&</a>"), format!("{data}/a")),
    ];
    for (input, path) in &cases {
        let e = fail(input.as_bytes());
        assert_eq!(&e.path, path, "{input}: {e}");
        assert!(e.to_string().contains(&format!(" at {path}: ")), "{e}");
    }
    // With a lowered limit the path is that of the element the limit stopped at.
    let opts = limits(|l| l.max_attributes = 2);
    let e = fail_with(
        in_data("<a/><a x=\"1\" y=\"2\" z=\"3\"/>").as_bytes(),
        &opts,
    );
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::Attributes(2)),
        "{e}"
    );
    assert_eq!(e.path, format!("{data}/a[2]"), "{e}");
    // A command fragment: `msft` bound and other prefixes let through, as when decoding.
    let frag =
        "<Replace><CmdID>1</CmdID><Item><Data><msft:a/><p:b>&bad;</p:b></Data></Item></Replace>";
    let e = decode_commands(frag.as_bytes()).unwrap_err();
    assert_eq!(e.path, "Replace/Item/Data/p:b", "{e}");
    let frag = "<Get><CmdID>1</CmdID></Get><Get><CmdID>2</CmdID><Item><Data><msft:a x=\"&bad;\"/>";
    let e = decode_commands(frag.as_bytes()).unwrap_err();
    assert_eq!(e.path, "Get[2]/Item/Data/msft:a", "{e}");
}

#[test]
fn duplicate_attributes_past_the_default_limit() {
    let _s = serial();
    // With the attribute limit raised, duplicates are still found (through a set, so that
    // 100 000 attributes stay linear).
    let opts = limits(|l| l.max_attributes = 200_000);
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"v\"")).collect();
    for dup in [" a5=\"w\"", " a40=\"w\"", " a99999=\"w\""] {
        let input = replace_with_data("x").replace("<Data>", &format!("<Data{attrs}{dup}>"));
        // The raised limit lets the model keep 100 000 attributes: memory in proportion.
        let e = fail_within(input.as_bytes(), &opts, 64 << 20);
        assert!(
            matches!(
                &e.kind,
                DecodeErrorKind::Syntax(SyntaxError::DuplicateAttribute(_))
            ),
            "{e}"
        );
    }
    let input = replace_with_data("x").replace("<Data>", &format!("<Data{attrs}>"));
    assert!(opts.decode(input.as_bytes()).is_ok());
}
