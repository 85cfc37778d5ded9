//! OMA-DM command model and sans-IO session engines on top of `winmdm-syncml`, as
//! Windows MDM (MS-MDM, OMA-DM 1.2) uses them.
//!
//! * [`LocUri`]: validated node addresses; [`Value`]: node values typed by `Meta/Format`;
//!   [`DmCommand`]: typed Get, Add, Replace, Delete, Exec, Atomic, Sequence building
//!   [`winmdm_syncml::Command`]s.
//! * [`DeviceAlert`]: alerts 1200/1201, 1222/1223, 1224 (LoginStatus, AADUserToken,
//!   synctype, DevicePrepSync) and 1226 generic alerts decoded to types.
//! * [`ServerSession`]: the server side of a session, built to live in a server that
//!   gets each device message as its own HTTPS request. Per message: read the header
//!   ([`SessionHeader::read`]) to find the device and its stored session,
//!   [`restore`](ServerSession::restore) it (or start one and
//!   [`set_auth`](ServerSession::set_auth)), [`receive`](ServerSession::receive) the
//!   message, push commands from storage while
//!   [`command_room`](ServerSession::command_room) says there is room, take the
//!   [`respond`](ServerSession::respond)se, drain [`poll_event`](ServerSession::poll_event)
//!   (outcomes correlated by `MsgRef` + `CmdRef`, alerts, DevInfo, unmatched replies) and
//!   save the [`snapshot`](ServerSession::snapshot). The engine validates the `SyncHdr`,
//!   keeps its own `MsgID`s, answers every device command with a `Status` in order,
//!   keeps every message within the device's `MaxMsgSize` (continuing after
//!   `Alert 1222`), sends large objects in `MoreData` chunks and reassembles incoming
//!   ones. [`handle`](ServerSession::handle) does one message with a synchronous
//!   [`CommandQueue`] such as [`FifoQueue`].
//! * [`DeviceSession`]: the device side, executing commands against a [`NodeTree`]
//!   ([`MemoryTree`] for emulators and tests); it saves and restores the same way.
//! * DM authentication ([`ServerAuth`], [`DeviceAuth`]: `syncml:auth-basic`,
//!   `syncml:auth-md5` with nonce rotation) and the TLS identity hook
//!   ([`IdentityBinding`], checked on every message).
//!
//! Nothing here does IO or reads a clock: time is an argument. The SyncML types the API
//! speaks in are re-exported ([`syncml`]).
//!
//! # Losing nothing on a crash
//!
//! Store, in one transaction, after `respond` and before sending the response: the
//! snapshot, the outcomes and events drained, and the mark "sent" on every command
//! pushed. Send the response only after the commit. A crash before the commit loses
//! nothing (the device retries, the old snapshot answers as if the message was new); a
//! crash after it neither (the device retries the same `MsgID`, the restored engine
//! answers with the same bytes and pulls nothing). See `docs/omadm.md`.
//!
//! # Example: a whole session in memory
//!
//! ```
//! use std::time::SystemTime;
//! use winmdm_omadm::*;
//!
//! let uri = LocUri::try_from("./Vendor/MSFT/Example/Setting")?;
//! let mut queue = FifoQueue::new();
//! let tag = queue.push(DmCommand::add(uri, Value::Int(42)));
//!
//! let cfg = ServerConfig::new("https://mdm.example/omadm");
//! let mut server = ServerSession::new(cfg.clone());
//! let mut device = DeviceSession::new(DeviceConfig::new("DEVICE1", "https://mdm.example/omadm", "1"));
//! let mut tree = MemoryTree::new();
//!
//! let mut msg = device.start(); // package 1: Alert 1201, 1224, Replace DevInfo
//! loop {
//!     let reply = server.handle(&msg, SystemTime::UNIX_EPOCH, &mut queue)?;
//!     // Between two requests the session can live in a database, as JSON say.
//!     let saved = server.snapshot()?;
//!     server = ServerSession::restore(cfg.clone(), &saved)?;
//!     match device.handle(&reply, &mut tree)? {
//!         Some(next) => msg = next,
//!         None => break,
//!     }
//! }
//! assert!(server.is_finished());
//! assert_eq!(queue.outcome_for(tag).unwrap().status, Some(StatusCode::OK));
//! assert_eq!(tree.node("./Vendor/MSFT/Example/Setting").unwrap().data.as_deref(), Some("42"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod alert;
mod auth;
mod command;
mod device;
mod package;
mod replay;
mod server;
mod session;
mod snapshot;
mod tree;
mod value;

pub use alert::{
    ClientEvent, DeviceAlert, DevicePrepSync, GenericAlert, GenericKind, LoginStatus, Mark,
    SyncType,
};
pub use auth::{
    AuthScheme, CertDeviceId, Credentials, IdentityBinding, ServerAuth, ServerNonces, chal, cred,
    digest, read_chal, verify,
};
pub use command::{CommandError, DmCommand, DmItem};
pub use device::{DevInfo, DeviceAuth, DeviceConfig, DevicePhase, DeviceSession};
pub use package::{DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE};
pub use replay::{
    ReplayReport, ReplayStep, ReplayedSession, UnmatchedReason, UnmatchedReply, is_server_message,
    replay,
};
pub use server::{
    AuthPhase, CommandQueue, DeviceEvent, FifoQueue, Pushed, Queued, ServerConfig, ServerEvent,
    ServerPhase, ServerSession,
};
pub use session::{Disposition, ItemStatus, Outcome, SessionError, SessionHeader};
pub use snapshot::{DeviceSnapshot, SNAPSHOT_VERSION, ServerSnapshot, SnapshotError};
/// The shared OMA-DM vocabulary (`Format`, `LocUri`, `Secret`, ...), re-exported so a product
/// needs no second dependency line.
pub use winmdm_types as types;
pub use winmdm_types::{
    Format, LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, Secret, percent_encode,
};

pub use tree::{MemoryTree, Node, NodeTree};
pub use value::{Value, ValueError};
/// The SyncML codec this crate's API speaks in (`SyncML`, `Command`, `StatusCode`,
/// `decode`, ...), re-exported so a product needs no second dependency line.
pub use winmdm_syncml as syncml;
pub use winmdm_syncml::{Command, CommandKind, Item, StatusCode, SyncML, decode, decode_commands};
