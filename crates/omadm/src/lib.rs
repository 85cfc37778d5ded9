//! OMA-DM command model and sans-IO session engines on top of `winmdm-syncml`, as
//! Windows MDM (MS-MDM, OMA-DM 1.2) uses them.
//!
//! # Where to look
//!
//! At the crate root is what every user needs, whatever side of a session it runs:
//!
//! * commands and values: [`DmCommand`] (typed Get, Add, Replace, Delete, Exec, Atomic,
//!   Sequence building [`winmdm_syncml::Command`]s), [`DmItem`], [`CommandError`];
//!   [`Value`] (node values typed by `Meta/Format`), [`ValueError`];
//! * the shared vocabulary of [`winmdm_types`] ([`types`]): [`Format`], [`LocUri`]
//!   (validated node addresses) with [`LocUriError`], [`Root`], [`Query`],
//!   [`percent_encode`], [`MAX_LOCURI_LEN`], and [`Secret`];
//! * what a command came to and why a message was refused: [`Outcome`],
//!   [`Disposition`], [`ItemStatus`], [`SessionError`];
//! * the message size limits both engines apply: [`MIN_MAX_MSG_SIZE`],
//!   [`DEFAULT_MAX_MSG_SIZE`], [`DEFAULT_MAX_OBJECT_SIZE`];
//! * the SyncML codec the API speaks in: [`syncml`], with [`SyncML`], [`Command`],
//!   [`CommandKind`], [`Item`], [`StatusCode`], [`decode`] and [`decode_commands`] at hand.
//!
//! Then one module per role:
//!
//! | module | open it to | main items |
//! |---|---|---|
//! | [`server`] | run the server side of sessions (an MDM server) | [`ServerSession`](server::ServerSession), [`ServerConfig`](server::ServerConfig), [`ServerEvent`](server::ServerEvent), [`CommandQueue`](server::CommandQueue), [`FifoQueue`](server::FifoQueue), [`SessionHeader`](server::SessionHeader) |
//! | [`device`] | run the device side (emulators, tests) | [`DeviceSession`](device::DeviceSession), [`DeviceConfig`](device::DeviceConfig), [`DevInfo`](device::DevInfo) |
//! | [`tree`] | give the device engine its management tree | [`NodeTree`](tree::NodeTree), [`MemoryTree`](tree::MemoryTree), [`Node`](tree::Node), [`Hresult`](tree::Hresult) (`msft:originalerror`) |
//! | [`auth`] | set up DM authentication, either side, or bind the TLS identity | [`ServerAuth`](auth::ServerAuth), [`DeviceAuth`](auth::DeviceAuth), [`Credentials`](auth::Credentials), [`IdentityBinding`](auth::IdentityBinding) |
//! | [`alert`] | read the alerts a device sends (1201, 1224, 1226, ...) | [`DeviceAlert`](alert::DeviceAlert), [`ClientEvent`](alert::ClientEvent), [`GenericAlert`](alert::GenericAlert) |
//! | [`snapshot`] | store a session between two messages | [`ServerSnapshot`](snapshot::ServerSnapshot), [`DeviceSnapshot`](snapshot::DeviceSnapshot), [`SnapshotError`](snapshot::SnapshotError) |
//! | [`replay`] | run recorded sessions through the server engine | [`replay()`](replay::replay), [`ReplayReport`](replay::ReplayReport) |
//!
//! # The server engine
//!
//! [`ServerSession`](server::ServerSession) is built to live in a server that gets each
//! device message as its own HTTPS request. Per message: read the header
//! ([`SessionHeader::read`](server::SessionHeader::read)) to find the device and its
//! stored session, [`restore`](server::ServerSession::restore) it (or start one and
//! [`set_auth`](server::ServerSession::set_auth)),
//! [`receive`](server::ServerSession::receive) the message, push commands from storage
//! while [`command_room`](server::ServerSession::command_room) says there is room, take
//! the [`respond`](server::ServerSession::respond)se, drain
//! [`poll_event`](server::ServerSession::poll_event) (outcomes correlated by `MsgRef` +
//! `CmdRef`, alerts, DevInfo, unmatched replies) and save the
//! [`snapshot`](server::ServerSession::snapshot). The engine validates the `SyncHdr`,
//! keeps its own `MsgID`s, answers every device command with a `Status` in order, keeps
//! every message within the device's `MaxMsgSize` (continuing after `Alert 1222`), sends
//! large objects in `MoreData` chunks and reassembles incoming ones.
//! [`handle`](server::ServerSession::handle) does one message with a synchronous
//! [`CommandQueue`](server::CommandQueue) such as [`FifoQueue`](server::FifoQueue).
//! DM authentication (`syncml:auth-basic`, `syncml:auth-md5` with nonce rotation) and the
//! TLS identity hook ([`IdentityBinding`](auth::IdentityBinding)) are checked on every
//! message.
//!
//! [`DeviceSession`](device::DeviceSession) is the device side, executing commands
//! against a [`NodeTree`](tree::NodeTree); it saves and restores the same way.
//!
//! Nothing here does IO or reads a clock: time is an argument.
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
//! use winmdm_omadm::device::{DeviceConfig, DeviceSession};
//! use winmdm_omadm::server::{FifoQueue, ServerConfig, ServerSession};
//! use winmdm_omadm::tree::MemoryTree;
//! use winmdm_omadm::{DmCommand, LocUri, StatusCode, Value};
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

/// The manual (`docs/omadm.md` in the repository): the engines, their contracts and the
/// storage a product needs, with its examples run as doc tests.
#[doc = include_str!("../../../docs/omadm.md")]
pub mod manual {}
pub mod alert;
pub mod auth;
mod command;
pub mod device;
mod package;
pub mod replay;
pub mod server;
mod session;
pub mod snapshot;
pub mod tree;
mod value;

pub use command::{CommandError, DmCommand, DmItem};
pub use package::{DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE};
pub use session::{Disposition, ItemStatus, Outcome, SessionError};
pub use value::{Value, ValueError};

/// The shared OMA-DM vocabulary (`Format`, `LocUri`, `Secret`, ...), re-exported so a product
/// needs no second dependency line.
pub use winmdm_types as types;
pub use winmdm_types::{
    Format, LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, Secret, percent_encode,
};

/// The SyncML codec this crate's API speaks in (`SyncML`, `Command`, `StatusCode`,
/// `decode`, ...), re-exported so a product needs no second dependency line.
pub use winmdm_syncml as syncml;
pub use winmdm_syncml::{Command, CommandKind, Item, StatusCode, SyncML, decode, decode_commands};
