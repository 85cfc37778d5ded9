//! Hostile or confused peers: random messages never make either engine panic, loop or
//! exceed the peer's MaxMsgSize.

mod common;

use std::time::SystemTime;

use common::Q;
use proptest::prelude::*;
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{ServerConfig, ServerSession};
use winmdm_omadm::tree::{MemoryTree, Node};
use winmdm_omadm::{DmCommand, LocUri, Value};
use winmdm_syncml::{SyncML, decode};

const SERVER: &str = "https://mdm.example/omadm";
const DEV: &str = "DEV";

#[derive(Debug, Clone)]
enum C {
    Status {
        msg: u8,
        cmd: u8,
        code: u16,
        cmd_name: bool,
    },
    Results {
        msg: u8,
        cmd: u8,
        more: bool,
        size: Option<u16>,
        len: u16,
    },
    Alert(u16),
    Replace,
    Get,
    Atomic,
    Unknown,
    NoCmdId,
}

fn c() -> impl Strategy<Value = C> {
    prop_oneof![
        (
            0u8..4,
            0u8..12,
            prop::sample::select(vec![200u16, 213, 216, 404, 500, 507, 424, 401]),
            any::<bool>()
        )
            .prop_map(|(msg, cmd, code, cmd_name)| C::Status {
                msg,
                cmd,
                code,
                cmd_name
            }),
        (
            0u8..4,
            0u8..12,
            any::<bool>(),
            prop::option::of(0u16..3000),
            0u16..3000
        )
            .prop_map(|(msg, cmd, more, size, len)| C::Results {
                msg,
                cmd,
                more,
                size,
                len
            }),
        prop::sample::select(vec![1200u16, 1201, 1222, 1224, 1226, 1100, 9999]).prop_map(C::Alert),
        Just(C::Replace),
        Just(C::Get),
        Just(C::Atomic),
        Just(C::Unknown),
        Just(C::NoCmdId),
    ]
}

fn body(cmds: &[C], from_server: bool) -> String {
    let mut s = String::new();
    for (i, c) in cmds.iter().enumerate() {
        let id = i + 1;
        s += &match c {
            C::Status {
                msg,
                cmd,
                code,
                cmd_name,
            } => format!(
                "<Status><CmdID>{id}</CmdID><MsgRef>{msg}</MsgRef><CmdRef>{cmd}</CmdRef><Cmd>{}</Cmd><Data>{code}</Data></Status>",
                if *cmd_name { "Add" } else { "SyncHdr" }
            ),
            C::Results {
                msg,
                cmd,
                more,
                size,
                len,
            } => format!(
                "<Results><CmdID>{id}</CmdID><MsgRef>{msg}</MsgRef><CmdRef>{cmd}</CmdRef><Item><Source><LocURI>./Vendor/MSFT/T/A</LocURI></Source>{}<Data>{}</Data>{}</Item></Results>",
                size.map(|n| format!("<Meta><Size xmlns=\"syncml:metinf\">{n}</Size></Meta>"))
                    .unwrap_or_default(),
                "x".repeat(usize::from(*len)),
                if *more { "<MoreData/>" } else { "" }
            ),
            C::Alert(code) => format!("<Alert><CmdID>{id}</CmdID><Data>{code}</Data></Alert>"),
            C::Replace => format!(
                "<Replace><CmdID>{id}</CmdID><Item><Target><LocURI>./Vendor/MSFT/T/A</LocURI></Target><Data>1</Data>{}</Item></Replace>",
                if from_server && id % 2 == 0 {
                    "<MoreData/>"
                } else {
                    ""
                }
            ),
            C::Get => format!(
                "<Get><CmdID>{id}</CmdID><Item><Target><LocURI>./Vendor/MSFT/T</LocURI></Target></Item></Get>"
            ),
            C::Atomic => format!(
                "<Atomic><CmdID>{id}</CmdID><Add><CmdID>{}</CmdID><Item><Target><LocURI>./Vendor/MSFT/T/B</LocURI></Target><Data>2</Data></Item></Add><Get><CmdID>{}</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get></Atomic>",
                id + 100,
                id + 200
            ),
            C::Unknown => "<Bogus><CmdID>1</CmdID></Bogus>".to_owned(),
            C::NoCmdId => "<Alert><Data>1201</Data></Alert>".to_owned(),
        };
    }
    s
}

fn msg(
    from_server: bool,
    msg_id: usize,
    cmds: &[C],
    fin: bool,
    max: Option<u16>,
) -> SyncML<'static> {
    let (src, tgt) = if from_server {
        (SERVER, DEV)
    } else {
        (DEV, SERVER)
    };
    let meta = max
        .map(|m| {
            format!(
                "<Meta><MaxMsgSize xmlns=\"syncml:metinf\">{}</MaxMsgSize></Meta>",
                u32::from(m) + 1500
            )
        })
        .unwrap_or_default();
    let xml = format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>{msg_id}</MsgID><Target><LocURI>{tgt}</LocURI></Target><Source><LocURI>{src}</LocURI></Source>{meta}</SyncHdr><SyncBody>{}{}</SyncBody></SyncML>"#,
        body(cmds, from_server),
        if fin { "<Final/>" } else { "" }
    );
    decode(xml.as_bytes()).unwrap().into_owned()
}

fn encoded(m: &SyncML<'_>) -> usize {
    let mut v = Vec::new();
    m.encode(&mut v).unwrap();
    v.len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn server_survives_random_device_messages(
        msgs in prop::collection::vec((prop::collection::vec(c(), 0..12), any::<bool>(), prop::option::of(any::<u16>())), 1..12),
    ) {
        let u = |s: &str| LocUri::try_from(s.to_owned()).unwrap();
        let mut q = Q::with(vec![
            DmCommand::add(u("./Vendor/MSFT/T/A"), Value::Chr("y".repeat(20_000).into())),
            DmCommand::get(u("./Vendor/MSFT/T/A")),
            DmCommand::atomic(vec![DmCommand::delete(u("./Vendor/MSFT/T/A"))]).unwrap(),
        ]);
        let mut s = ServerSession::new(ServerConfig::new(SERVER));
        let mut limit = None;
        for (i, (cmds, fin, max)) in msgs.iter().enumerate() {
            let m = msg(false, i + 1, cmds, *fin, *max);
            if let Some(mm) = max {
                limit = Some(u64::from(*mm) + 1500);
            }
            match s.handle(&m, SystemTime::UNIX_EPOCH, &mut q) {
                Ok(r) => {
                    let n = encoded(&r) as u64;
                    prop_assert!(n <= limit.unwrap_or(winmdm_omadm::DEFAULT_MAX_MSG_SIZE), "{} bytes", n);
                }
                Err(_) => break,
            }
            if s.is_finished() {
                break;
            }
        }
        s.abandon_into(&mut q);
        // Every command pulled got exactly one outcome.
        let pulled = 3 - q.todo.len();
        prop_assert_eq!(q.outcomes.len(), pulled);
    }

    #[test]
    fn device_survives_random_server_messages(
        msgs in prop::collection::vec((prop::collection::vec(c(), 0..12), any::<bool>(), prop::option::of(any::<u16>())), 1..12),
    ) {
        let mut cfg = DeviceConfig::new(DEV, SERVER, "1");
        cfg.max_msg_size = Some(4096);
        let mut d = DeviceSession::new(cfg);
        let mut t = MemoryTree::new();
        t.set("./Vendor/MSFT/T/A", Node::chr("z".repeat(30_000)));
        d.start();
        let mut limit = None;
        for (i, (cmds, fin, max)) in msgs.iter().enumerate() {
            let m = msg(true, i + 1, cmds, *fin, *max);
            if let Some(mm) = max {
                limit = Some(u64::from(*mm) + 1500);
            }
            match d.handle(&m, &mut t) {
                Ok(Some(r)) => {
                    let n = encoded(&r) as u64;
                    prop_assert!(n <= limit.unwrap_or(winmdm_omadm::DEFAULT_MAX_MSG_SIZE), "{} bytes", n);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}
