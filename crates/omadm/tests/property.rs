//! Property test: random command sets, item sizes up to 1 MB, MaxMsgSize from 4 KB, the
//! server engine against the device engine until the session ends.

mod common;

use std::collections::HashMap;

use common::{Q, run_with};
use proptest::prelude::*;
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{ServerConfig, ServerSession};
use winmdm_omadm::tree::{MemoryTree, Node, NodeTree};
use winmdm_omadm::{DmCommand, LocUri, Value};
use winmdm_syncml::{Command, StatusCode};

const SERVER: &str = "https://mdm.example/omadm";
const DEV: &str = "DEVICE-1";
const PATHS: [&str; 4] = [
    "./Vendor/MSFT/T/A",
    "./Vendor/MSFT/T/B",
    "./Device/Vendor/MSFT/T/C",
    "./Vendor/MSFT/T/%7BD%7D",
];
const EXEC: &str = "./Vendor/MSFT/T/Run";

#[derive(Debug, Clone)]
enum Op {
    Add(usize, usize, u8),
    Replace(usize, usize, u8),
    Get(usize),
    Delete(usize),
    Exec,
    Atomic(Vec<(bool, usize, usize, u8)>),
}

fn text(len: usize, seed: u8) -> String {
    const ALPHA: [char; 12] = [
        'a', 'Z', '0', '<', '>', '&', '\r', '\n', ' ', '€', '"', '\t',
    ];
    let mut s = String::with_capacity(len);
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let c = ALPHA[(x % 12) as usize];
        if s.len() + c.len_utf8() > len {
            s.push('a');
        } else {
            s.push(c);
        }
    }
    s
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..200, 2 => 200usize..20_000, 1 => 20_000usize..=1_000_000]
}

/// Sizes for the save-and-restore run: large objects, but small enough that a debug
/// build serializes a snapshot per message quickly.
fn small_size() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..200, 3 => 200usize..60_000]
}

fn op() -> impl Strategy<Value = Op> {
    op_sized(size().boxed())
}

fn op_sized(size: BoxedStrategy<usize>) -> impl Strategy<Value = Op> {
    let size = move || size.clone();
    let p = 0..PATHS.len();
    prop_oneof![
        3 => (p.clone(), size(), any::<u8>()).prop_map(|(a, b, c)| Op::Add(a, b, c)),
        2 => (p.clone(), size(), any::<u8>()).prop_map(|(a, b, c)| Op::Replace(a, b, c)),
        3 => p.clone().prop_map(Op::Get),
        1 => p.clone().prop_map(Op::Delete),
        1 => Just(Op::Exec),
        1 => prop::collection::vec((any::<bool>(), p, 0usize..300, any::<u8>()), 1..4).prop_map(Op::Atomic),
    ]
}

fn uri(i: usize) -> LocUri<'static> {
    LocUri::try_from(PATHS[i].to_owned()).unwrap()
}

fn to_cmd(op: &Op) -> DmCommand {
    match op {
        Op::Add(p, n, s) => DmCommand::add(uri(*p), Value::Chr(text(*n, *s).into())),
        Op::Replace(p, n, s) => DmCommand::replace(uri(*p), Value::Chr(text(*n, *s).into())),
        Op::Get(p) => DmCommand::get(uri(*p)),
        Op::Delete(p) => DmCommand::delete(uri(*p)),
        Op::Exec => DmCommand::exec(LocUri::try_from(EXEC).unwrap(), Some(Value::Int(1))),
        Op::Atomic(v) => DmCommand::atomic(
            v.iter()
                .map(|(add, p, n, s)| {
                    let val = Value::Chr(text(*n, *s).into());
                    if *add {
                        DmCommand::add(uri(*p), val)
                    } else {
                        DmCommand::replace(uri(*p), val)
                    }
                })
                .collect(),
        )
        .unwrap(),
    }
}

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    t.set(EXEC, Node::chr("")).executable(EXEC);
    t
}

/// Executes the op on a reference tree: expected code and, for Get, data.
fn reference(t: &mut MemoryTree, op: &Op) -> (StatusCode, Option<String>) {
    let node = |n: &usize, s: &u8| Node {
        format: Some("chr".into()),
        mime: None,
        data: Some(text(*n, *s)),
    };
    match op {
        Op::Add(p, n, s) => (t.add(&uri(*p), node(n, s)), None),
        Op::Replace(p, n, s) => (t.replace(&uri(*p), node(n, s)), None),
        Op::Get(p) => match t.get(&uri(*p)) {
            Ok(n) => (StatusCode::OK, n.data),
            Err(c) => (c, None),
        },
        Op::Delete(p) => (t.delete(&uri(*p)), None),
        Op::Exec => (t.exec(&LocUri::try_from(EXEC).unwrap(), Some("1")), None),
        Op::Atomic(v) => {
            let snap = t.clone();
            for (add, p, n, s) in v {
                let c = if *add {
                    t.add(&uri(*p), node(n, s))
                } else {
                    t.replace(&uri(*p), node(n, s))
                };
                if !c.is_success() {
                    *t = snap;
                    return (StatusCode::ATOMIC_FAILED, None);
                }
            }
            (StatusCode::OK, None)
        }
    }
}

fn count_refs(cmds: &[Command<'_>], msg: &str, out: &mut HashMap<(String, String), usize>) {
    for c in cmds {
        match c {
            Command::Status(_) | Command::Unknown(_) => {}
            Command::Atomic(k) | Command::Sequence(k) => {
                out.insert((msg.to_owned(), c.cmd_id().unwrap().to_owned()), 0);
                count_refs(&k.commands, msg, out);
            }
            _ => {
                out.insert((msg.to_owned(), c.cmd_id().unwrap().to_owned()), 0);
            }
        }
    }
}

/// Every command sent by one side gets exactly one Status from the other.
fn one_status_each<'a>(
    sent: impl Iterator<Item = &'a winmdm_syncml::SyncML<'static>>,
    answers: impl Iterator<Item = &'a winmdm_syncml::SyncML<'static>>,
) {
    let mut refs = HashMap::new();
    for m in sent {
        count_refs(
            &m.body.commands,
            m.hdr.msg_id.as_deref().unwrap(),
            &mut refs,
        );
    }
    for m in answers {
        for c in &m.body.commands {
            if let Command::Status(s) = c {
                if s.cmd_ref.as_deref() == Some("0") {
                    continue;
                }
                let k = (
                    s.msg_ref.clone().unwrap().into_owned(),
                    s.cmd_ref.clone().unwrap().into_owned(),
                );
                *refs
                    .get_mut(&k)
                    .unwrap_or_else(|| panic!("Status for unknown command {k:?}")) += 1;
            }
        }
    }
    for (k, n) in refs {
        assert_eq!(n, 1, "command {k:?} got {n} statuses");
    }
}

/// Runs the ops through a session and checks it against the reference execution.
fn check_session(
    ops: &[Op],
    device_max: u64,
    server_max: u64,
    compare_reload: bool,
) -> Result<(), TestCaseError> {
    let session = |reload: bool| {
        let mut q = Q::with(ops.iter().map(to_cmd).collect());
        let mut dc = DeviceConfig::new(DEV, SERVER, "1");
        dc.max_msg_size = Some(device_max);
        let mut sc = ServerConfig::new(SERVER);
        sc.declared_max_msg_size = Some(server_max);
        let mut s = ServerSession::new(sc);
        let mut d = DeviceSession::new(dc);
        let mut t = tree();
        let tr = run_with(
            &mut s,
            &mut d,
            &mut t,
            &mut q,
            Some(device_max),
            Some(server_max),
            reload,
        );
        (q, t, tr)
    };
    let (q, t, tr) = session(false);
    if compare_reload {
        // Saved and restored (through JSON) after every message, both engines: the same
        // bytes on the wire and the same outcomes, events and tree.
        let (q2, t2, tr2) = session(true);
        let bytes = |tr: &common::Transcript| -> Vec<String> {
            tr.messages.iter().map(|m| m.1.to_xml().unwrap()).collect()
        };
        prop_assert_eq!(bytes(&tr), bytes(&tr2));
        prop_assert_eq!(&q.outcomes, &q2.outcomes);
        prop_assert_eq!(&q.events, &q2.events);
        for p in PATHS {
            prop_assert_eq!(t.node(p), t2.node(p));
        }
    }

    // Every queued command has exactly one outcome, and it matches the reference.
    prop_assert_eq!(q.outcomes.len(), ops.len());
    let mut reft = tree();
    for (i, op) in ops.iter().enumerate() {
        let o = q.outcome(i as u64);
        let (code, data) = reference(&mut reft, op);
        prop_assert_eq!(o.status, Some(code), "op {} {:?}", i, op);
        if let Some(d) = data {
            prop_assert_eq!(o.results.len(), 1);
            // Byte-exact, large objects included.
            prop_assert!(
                o.results[0].data.as_ref().map(|x| x.as_str()).unwrap_or("") == d,
                "op {} data differs",
                i
            );
        }
    }
    for p in PATHS {
        prop_assert_eq!(t.node(p), reft.node(p));
    }
    // Neither side ever abandons the other's large object.
    let abandoned = tr
        .messages
        .iter()
        .flat_map(|m| m.1.body.commands.iter())
        .any(|c| matches!(c, Command::Alert(a) if a.code().map(|c| c.0) == Some(1225)));
    prop_assert!(!abandoned);
    one_status_each(tr.server(), tr.device());
    one_status_each(tr.device(), tr.server());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn server_against_device(
        ops in prop::collection::vec(op(), 0..25),
        device_max in 4096u64..200_000,
        server_max in 4096u64..200_000,
    ) {
        check_session(&ops, device_max, server_max, false)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The same sessions with both engines saved to JSON and restored into fresh ones
    /// after every message (and every server response requested twice, as after a lost
    /// response): byte-identical messages, the same outcomes.
    #[test]
    fn saved_and_restored_after_every_message(
        ops in prop::collection::vec(op_sized(small_size().boxed()), 0..25),
        device_max in 4096u64..60_000,
        server_max in 4096u64..60_000,
    ) {
        check_session(&ops, device_max, server_max, true)?;
    }
}
