//! The session benchmark's scenario does what the benchmark claims: the session ends,
//! every queued command gets exactly one successful outcome, the large object goes out in
//! `MoreData` chunks and arrives byte-exact, no message exceeds `MaxMsgSize`, and the
//! three measured paths (engines + codec, engines alone, codec alone) do the same work.
//! Runs with a 64 KiB large object (the benchmark uses 1 MiB) to stay fast in debug mode.

use std::collections::BTreeMap;

use winmdm_benches::session::{
    COMMANDS, Direction, LARGE_URI, MAX_MSG_SIZE, Mode, Scenario, WireMessage, codec_pass,
    five_typical_commands, in_flight_snapshot, initial_value, large_value,
};
use winmdm_syncml::{Command, CommandKind, StatusCode, decode};

const SCENARIO: Scenario = Scenario {
    large_object_bytes: 64 * 1024,
    max_msg_size: MAX_MSG_SIZE,
};

/// Every (top-level or nested) command of a message with its kind.
fn commands<'a>(cmds: &'a [Command<'a>], out: &mut Vec<&'a Command<'a>>) {
    for c in cmds {
        out.push(c);
        if let Command::Atomic(k) | Command::Sequence(k) = c {
            commands(&k.commands, out);
        }
    }
}

#[test]
fn session_ends_with_every_outcome_and_the_large_object_exact() {
    let mut wire = Vec::new();
    let run = SCENARIO
        .run(Mode::Wire, Some(&mut wire))
        .expect("session runs");

    // The session ends on both sides; nothing is left in the queue.
    assert!(run.finished, "both engines finished");
    assert_eq!(run.left_in_queue, 0);

    // 50 commands plus the large object, each exactly one outcome, all successful.
    assert_eq!(SCENARIO.queued(), COMMANDS + 1);
    let mut by_tag = BTreeMap::new();
    for o in &run.outcomes {
        assert!(by_tag.insert(o.tag, o).is_none(), "tag {} twice", o.tag);
    }
    assert_eq!(by_tag.len(), SCENARIO.queued());
    assert!(by_tag.keys().copied().eq(0..SCENARIO.queued() as u64));
    for o in by_tag.values() {
        assert!(
            matches!(o.status, Some(StatusCode::OK)),
            "tag {} ({:?}): {:?}",
            o.tag,
            o.kind,
            o.status
        );
    }

    // The mix the docs describe.
    let count = |k: CommandKind| by_tag.values().filter(|o| o.kind == k).count();
    assert_eq!(count(CommandKind::Get), 13);
    assert_eq!(count(CommandKind::Replace), 17);
    assert_eq!(count(CommandKind::Add), 9 + 1);
    assert_eq!(count(CommandKind::Exec), 4);
    assert_eq!(count(CommandKind::Delete), 6);
    assert_eq!(count(CommandKind::Atomic), 1);
    let atomic = by_tag
        .values()
        .find(|o| o.kind == CommandKind::Atomic)
        .expect("an Atomic");
    assert_eq!(atomic.children.len(), 3);
    assert!(
        atomic
            .children
            .iter()
            .all(|c| c.status == Some(StatusCode::OK))
    );

    // Every Get returned the pre-populated value.
    let queued = SCENARIO.commands();
    for q in &queued {
        if let winmdm_omadm::DmCommand::Get(items) = &q.command {
            let uri = items[0].as_str();
            let o = by_tag[&q.tag];
            assert_eq!(o.results.len(), 1, "{uri}");
            let data = o.results[0].data.as_ref().map(|d| d.as_str());
            assert_eq!(data, Some(initial_value(uri).as_str()), "{uri}");
        }
    }

    // The large object arrived byte-exact in the device's tree.
    let expected = large_value(SCENARIO.large_object_bytes);
    assert_eq!(expected.len(), SCENARIO.large_object_bytes);
    let node = run.tree.node(LARGE_URI).expect("the large object's node");
    assert!(
        node.data.as_deref() == Some(expected.as_str()),
        "byte-exact"
    );

    // No message exceeded MaxMsgSize, either way; both ways counted.
    assert_eq!(wire.len(), run.messages());
    let (from_device, from_server): (Vec<&WireMessage>, Vec<&WireMessage>) = wire
        .iter()
        .partition(|m| m.direction == Direction::FromDevice);
    assert_eq!(from_device.len(), run.device_messages);
    assert_eq!(from_server.len(), run.server_messages);
    for m in &wire {
        assert!(
            m.bytes.len() as u64 <= SCENARIO.max_msg_size,
            "{:?} message of {} bytes",
            m.direction,
            m.bytes.len()
        );
    }

    // The large object went out in several MoreData chunks, the other commands in more
    // than one package message (the queue does not fit one 64 KiB message).
    let mut chunks = 0;
    let mut more_data = 0;
    for m in &from_server {
        let msg = decode(&m.bytes).expect("decodes");
        let mut all = Vec::new();
        commands(&msg.body.commands, &mut all);
        for c in all {
            let targets_large = c
                .items()
                .iter()
                .any(|i| i.target.as_ref().and_then(|t| t.loc_uri.as_deref()) == Some(LARGE_URI));
            if targets_large {
                chunks += 1;
                more_data += usize::from(c.items()[0].more_data);
            }
        }
    }
    assert!(chunks >= 2, "{chunks} chunks");
    assert_eq!(more_data, chunks - 1, "MoreData on all but the last chunk");
    assert!(
        run.server_messages > chunks,
        "{} server messages",
        run.server_messages
    );
}

#[test]
fn the_three_measured_paths_do_the_same_work() {
    let mut wire = Vec::new();
    let over_wire = SCENARIO.run(Mode::Wire, Some(&mut wire)).expect("runs");
    let engines = SCENARIO.run(Mode::Engines, None).expect("runs");

    // Engines alone run the same session: same messages, outcomes and tree.
    assert_eq!(engines.device_messages, over_wire.device_messages);
    assert_eq!(engines.server_messages, over_wire.server_messages);
    assert_eq!(engines.outcomes, over_wire.outcomes);
    assert!(engines.finished);
    assert_eq!(engines.tree.node(LARGE_URI), over_wire.tree.node(LARGE_URI));

    // The codec pass re-encodes every captured message to the same bytes.
    let total: usize = wire.iter().map(|m| m.bytes.len()).sum();
    assert_eq!(codec_pass(&wire).expect("codec pass"), total);
    for m in &wire {
        let mut out = Vec::new();
        decode(&m.bytes)
            .expect("decodes")
            .encode(&mut out)
            .expect("encodes");
        assert!(out == m.bytes, "round trip of a {:?} message", m.direction);
    }
}

#[test]
fn the_standard_scenario_is_what_the_docs_say() {
    let s = Scenario::STANDARD;
    assert_eq!(s.large_object_bytes, 1 << 20);
    assert_eq!(s.max_msg_size, 65_536);
    let cmds = s.commands();
    assert_eq!(cmds.len(), 51);
    assert_eq!(large_value(s.large_object_bytes).len(), 1 << 20);
}

#[test]
fn five_commands_in_flight_snapshot_is_under_2_kib() {
    let snap = in_flight_snapshot(five_typical_commands()).expect("package 1 answered");
    assert_eq!(snap.commands_sent, 5, "all five commands in the response");
    assert!(snap.size.last_response > 0);
    let size = snap.size.without_last_response();
    assert!(size < 2048, "{size} bytes without the last response");
}

#[test]
fn restoring_after_every_message_gives_byte_identical_messages() {
    let mut plain = Vec::new();
    let expected = SCENARIO.run(Mode::Wire, Some(&mut plain)).expect("runs");
    let mut reloaded = Vec::new();
    let (run, stats) = SCENARIO
        .run_snapshots(SCENARIO.setup(), Mode::Wire, Some(&mut reloaded))
        .expect("runs with snapshots");
    assert_eq!(reloaded.len(), plain.len());
    for (i, (a, b)) in reloaded.iter().zip(&plain).enumerate() {
        assert_eq!(a.direction, b.direction, "message {i}");
        assert!(
            a.bytes == b.bytes,
            "message {i} ({:?}) differs",
            a.direction
        );
    }
    assert!(run.finished);
    assert_eq!(run.outcomes, expected.outcomes);
    assert_eq!(run.events, expected.events);
    assert_eq!(run.tree.node(LARGE_URI), expected.tree.node(LARGE_URI));
    // One server snapshot per server message, one device snapshot per device handle.
    assert_eq!(stats.server.len(), run.server_messages);
    assert_eq!(stats.device.len(), run.server_messages);
    assert!(stats.server_max() > 0 && stats.device_max() > 0);
    assert!(stats.server_max_with_response() >= stats.server_max());
}
