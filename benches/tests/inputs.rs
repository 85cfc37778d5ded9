//! The benchmark inputs are what `docs/benchmarks.md` says they are: sizes and counts, and
//! every compared decoder accepts them (so the bench measures decoding, not error paths).

use winmdm_benches::inputs::{self, LARGE_RESULTS_COMMANDS, LARGE_RESULTS_ITEMS};
use winmdm_benches::{Parser, model};
use winmdm_syncml::{Command, DataContent, SyncML, decode};

/// Commands in a body, nested ones included.
fn count_commands(cmds: &[Command<'_>]) -> usize {
    cmds.iter()
        .map(|c| match c {
            Command::Atomic(c) | Command::Sequence(c) => 1 + count_commands(&c.commands),
            _ => 1,
        })
        .sum()
}

fn count_items(cmds: &[Command<'_>]) -> usize {
    cmds.iter()
        .map(|c| match c {
            Command::Atomic(c) | Command::Sequence(c) => count_items(&c.commands),
            other => other.items().len(),
        })
        .sum()
}

fn serde_items(cmds: &[model::Command]) -> usize {
    cmds.iter()
        .map(|c| match c {
            model::Command::Atomic(c) | model::Command::Sequence(c) => serde_items(&c.commands),
            other => other.items().len(),
        })
        .sum()
}

fn round_trip(xml: &str) -> SyncML<'_> {
    let msg = decode(xml.as_bytes()).expect("decodes");
    let mut out = Vec::new();
    msg.encode(&mut out).expect("encodes");
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(decode(&out).expect("re-decodes"), msg, "round trip");
    msg
}

fn all_data<'m, 'a>(cmds: &'m [Command<'a>], out: &mut Vec<&'m DataContent<'a>>) {
    for c in cmds {
        match c {
            Command::Atomic(c) | Command::Sequence(c) => all_data(&c.commands, out),
            other => out.extend(
                other
                    .items()
                    .iter()
                    .filter_map(|i| i.data.as_ref().map(|d| &d.content)),
            ),
        }
    }
}

#[test]
fn generators_are_deterministic() {
    assert_eq!(inputs::small_checkin(), inputs::small_checkin());
    assert_eq!(inputs::server_package(), inputs::server_package());
    assert_eq!(inputs::large_results(), inputs::large_results());
    let mut a = inputs::Xorshift::new(1);
    let mut b = inputs::Xorshift::new(1);
    assert_eq!(a.guid(), b.guid());
    assert_ne!(a.next_u64(), inputs::Xorshift::new(2).next_u64());
}

#[test]
fn small_checkin_is_a_2kb_package_1() {
    let xml = inputs::small_checkin();
    assert!((1800..=2300).contains(&xml.len()), "{} bytes", xml.len());
    let msg = round_trip(&xml);
    assert_eq!(msg.hdr.msg_id.as_deref(), Some("1"));
    assert_eq!(msg.body.commands.len(), 3);
    let Command::Alert(alert) = &msg.body.commands[0] else {
        panic!("Alert first")
    };
    assert_eq!(alert.code().map(|c| c.0), Some(1201));
    assert_eq!(count_items(&msg.body.commands), 1 + 8);
    assert!(msg.body.r#final);
}

#[test]
fn server_package_is_15kb_with_40_commands_atomic_escapes_and_cdata() {
    let xml = inputs::server_package();
    assert!(
        (13_500..=16_500).contains(&xml.len()),
        "{} bytes",
        xml.len()
    );
    let msg = round_trip(&xml);
    assert_eq!(
        count_commands(&msg.body.commands),
        inputs::SERVER_PACKAGE_COMMANDS
    );
    let atomic = msg
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Atomic(a) => Some(a),
            _ => None,
        })
        .expect("an Atomic");
    assert_eq!(atomic.commands.len(), 3);
    let mut data = Vec::new();
    all_data(&msg.body.commands, &mut data);
    // The escaped WLAN profile arrives unescaped (so decoding it allocates).
    assert!(
        data.iter()
            .any(|d| matches!(d, DataContent::Text(t) if t.as_ref() == inputs::wlan_profile())),
        "the WLAN profile, unescaped"
    );
    let cdata = data
        .iter()
        .filter(|d| matches!(d, DataContent::CData(t) if t.starts_with("<enabled/>")))
        .count();
    assert_eq!(cdata, 3, "three CDATA ADMX payloads");
}

#[test]
fn large_results_is_1_4mb_with_6000_items() {
    let xml = inputs::large_results();
    assert!(
        (1_300_000..=1_500_000).contains(&xml.len()),
        "{} bytes",
        xml.len()
    );
    let msg = round_trip(&xml);
    let results = msg
        .body
        .commands
        .iter()
        .filter(|c| matches!(c, Command::Results(_)))
        .count();
    assert_eq!(results, LARGE_RESULTS_COMMANDS);
    // The Status commands carry no items.
    assert_eq!(count_items(&msg.body.commands), LARGE_RESULTS_ITEMS);
    let mut data = Vec::new();
    all_data(&msg.body.commands, &mut data);
    let escaped = data
        .iter()
        .filter(|d| matches!(d, DataContent::Text(t) if t.contains('&')))
        .count();
    assert_eq!(escaped, LARGE_RESULTS_ITEMS / 16, "one value in 16 escaped");
}

#[test]
fn every_parser_accepts_every_input_and_serde_sees_the_same_message() {
    for input in inputs::all() {
        let xml = input.xml.as_str();
        for parser in Parser::ALL {
            let prepared = parser.prepare(xml);
            assert!(
                parser.run(xml, &prepared) > 0,
                "{} on {}",
                parser.name(),
                input.name
            );
        }
        // The serde baseline really decodes the whole message, not a prefix.
        let ours = decode(xml.as_bytes()).expect("decodes");
        let theirs = winmdm_benches::serde_decode(xml);
        assert!(theirs.body.is_final(), "{}", input.name);
        assert_eq!(
            theirs.body.commands.len(),
            ours.body.commands.len() + 1, // + Final
            "{}",
            input.name
        );
        assert_eq!(
            serde_items(&theirs.body.commands),
            count_items(&ours.body.commands),
            "{}",
            input.name
        );
        assert_eq!(
            theirs.hdr.session_id,
            ours.hdr.session_id.as_deref().unwrap()
        );
        // So does the minimal decoder on events, down to the unescaped values.
        let minimal = winmdm_benches::minimal_decode(xml).expect("quick-xml reads it");
        assert_eq!(
            minimal.items.len(),
            count_items(&ours.body.commands),
            "{}",
            input.name
        );
        let mut data = Vec::new();
        all_data(&ours.body.commands, &mut data);
        let ours_data: Vec<&str> = data
            .iter()
            .map(|d| match d {
                DataContent::Text(t) | DataContent::CData(t) | DataContent::Xml(t) => t.as_ref(),
            })
            .collect();
        let minimal_data: Vec<&str> = minimal
            .items
            .iter()
            .filter(|i| !i.data.is_empty())
            .map(|i| i.data.as_ref())
            .collect();
        assert_eq!(minimal_data, ours_data, "{}", input.name);
    }
}

#[test]
fn serde_model_unescapes_and_reads_cdata_like_ours() {
    let xml = inputs::server_package();
    let theirs = winmdm_benches::serde_decode(&xml);
    let texts: Vec<&str> = theirs
        .body
        .commands
        .iter()
        .flat_map(|c| match c {
            model::Command::Atomic(a) => a.commands.iter().flat_map(|c| c.items()).collect(),
            other => other.items().iter().collect::<Vec<_>>(),
        })
        .filter_map(|i| i.data.as_ref().map(|d| d.value.as_str()))
        .collect();
    assert!(texts.contains(&inputs::wlan_profile()));
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("<enabled/>")).count(),
        3
    );
}

#[test]
fn windows_shaped_inputs_have_their_sizes_and_counts() {
    use winmdm_benches::inputs::{
        ADMX_LARGE_CDATA, ADMX_LARGE_ESCAPED, ADMX_PACKAGE_CDATA, ADMX_PACKAGE_ESCAPED,
        STATUS_ACK_STATUSES,
    };
    let cases = [
        (
            inputs::admx_package(),
            12_000..18_000,
            8 + ADMX_PACKAGE_ESCAPED + ADMX_PACKAGE_CDATA,
            ADMX_PACKAGE_ESCAPED,
            ADMX_PACKAGE_CDATA,
        ),
        (
            inputs::admx_package_large(),
            600_000..800_000,
            8 + ADMX_LARGE_ESCAPED + ADMX_LARGE_CDATA,
            ADMX_LARGE_ESCAPED,
            ADMX_LARGE_CDATA,
        ),
        (
            inputs::status_ack(),
            280_000..380_000,
            STATUS_ACK_STATUSES,
            0,
            0,
        ),
    ];
    for (xml, size, commands, escaped, cdata) in cases {
        assert!(size.contains(&xml.len()), "size {}", xml.len());
        let msg = round_trip(&xml);
        assert_eq!(count_commands(&msg.body.commands), commands);
        let mut data = Vec::new();
        all_data(&msg.body.commands, &mut data);
        let text_with_markup = data
            .iter()
            .filter(|d| matches!(d, DataContent::Text(t) if t.starts_with("<enabled/>") || t.starts_with("<disabled/>")))
            .count();
        let cdata_n = data
            .iter()
            .filter(|d| matches!(d, DataContent::CData(_)))
            .count();
        assert_eq!((text_with_markup, cdata_n), (escaped, cdata));
        for p in Parser::ALL {
            let prepared = p.prepare(&xml);
            assert!(p.run(&xml, &prepared) > 0, "{} accepts it", p.name());
        }
    }
}
