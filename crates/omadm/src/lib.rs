//! OMA-DM command model and sans-IO session engines on top of `winmdm-syncml`, as
//! Windows MDM (MS-MDM, OMA-DM 1.2) uses them.
//!
//! * [`LocUri`]: validated node addresses; [`Value`]: node values typed by `Meta/Format`;
//!   [`DmCommand`]: typed Get, Add, Replace, Delete, Exec, Atomic, Sequence building
//!   [`winmdm_syncml::Command`]s.
//! * [`DeviceAlert`]: alerts 1200/1201, 1222/1223, 1224 (LoginStatus, AADUserToken,
//!   synctype, DevicePrepSync) and 1226 generic alerts decoded to types.
//! * [`ServerSession`]: the server side of a session. Feed it each device message, get the
//!   response: it validates the `SyncHdr`, keeps its own `MsgID`s, answers every device
//!   command with a `Status` in order, pulls commands from a [`CommandQueue`] the product
//!   implements, keeps every message within the device's `MaxMsgSize` (continuing after
//!   `Alert 1222`), sends large objects in `MoreData` chunks and reassembles incoming ones,
//!   and reports each command's [`Outcome`] correlated by `MsgRef` + `CmdRef`.
//! * [`DeviceSession`]: the device side, executing commands against a [`NodeTree`]
//!   ([`MemoryTree`] for emulators and tests).
//! * DM authentication ([`ServerAuth`], [`DeviceAuth`]: `syncml:auth-basic`,
//!   `syncml:auth-md5` with nonce rotation) and the TLS identity hook
//!   ([`IdentityBinding`]).
//!
//! Nothing here does IO or reads a clock: time is an argument.
//!
//! # Example: a whole session in memory
//!
//! ```
//! use std::time::SystemTime;
//! use winmdm_omadm::*;
//!
//! #[derive(Default)]
//! struct Queue { todo: Vec<Queued>, done: Vec<Outcome> }
//! impl CommandQueue for Queue {
//!     fn next_command(&mut self) -> Option<Queued> { self.todo.pop() }
//!     fn outcome(&mut self, o: Outcome) { self.done.push(o) }
//! }
//!
//! let uri = LocUri::try_from("./Vendor/MSFT/Example/Setting")?;
//! let mut queue = Queue::default();
//! queue.todo.push(Queued { tag: 1, command: DmCommand::add(uri, Value::Int(42)) });
//!
//! let mut server = ServerSession::new(ServerConfig::new("https://mdm.example/omadm"));
//! let mut device = DeviceSession::new(DeviceConfig::new("DEVICE1", "https://mdm.example/omadm", "1"));
//! let mut tree = MemoryTree::new();
//!
//! let mut msg = device.start(); // package 1: Alert 1201, 1224, Replace DevInfo
//! while let Some(next) = device.handle(&server.handle(&msg, SystemTime::UNIX_EPOCH, &mut queue)?, &mut tree)? {
//!     msg = next;
//! }
//! assert!(server.is_finished());
//! assert_eq!(queue.done[0].status, Some(winmdm_syncml::StatusCode::OK));
//! assert_eq!(tree.node("./Vendor/MSFT/Example/Setting").unwrap().data.as_deref(), Some("42"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod alert;
mod auth;
mod command;
mod device;
mod locuri;
mod package;
mod replay;
mod server;
mod session;
mod snapshot;
mod tree;
mod value;

pub use alert::{
    ClientEvent, DeviceAlert, DevicePrepSync, GenericAlert, GenericKind, LoginStatus, Mark, Secret,
    SyncType,
};
pub use auth::{
    AuthScheme, CertDeviceId, Credentials, IdentityBinding, ServerAuth, ServerNonces, chal, cred,
    digest, read_chal, verify,
};
pub use command::{CommandError, DmCommand, DmItem};
pub use device::{DevInfo, DeviceAuth, DeviceConfig, DevicePhase, DeviceSession};
pub use locuri::{LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, percent_encode};
pub use package::{DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE};
pub use replay::{ReplayStep, ReplayedSession, is_server_message, replay};
pub use server::{
    AuthPhase, CommandQueue, DeviceEvent, FifoQueue, Pushed, Queued, ServerConfig, ServerEvent,
    ServerPhase, ServerSession,
};
pub use session::{Disposition, ItemStatus, Outcome, SessionError, SessionHeader};
pub use snapshot::{DeviceSnapshot, SNAPSHOT_VERSION, ServerSnapshot, SnapshotError};

pub use tree::{MemoryTree, Node, NodeTree};
pub use value::{Format, Value, ValueError};
/// The SyncML codec this crate's API speaks in (`SyncML`, `Command`, `StatusCode`,
/// `decode`, ...), re-exported so a product needs no second dependency line.
pub use winmdm_syncml as syncml;
pub use winmdm_syncml::{Command, CommandKind, Item, StatusCode, SyncML, decode, decode_commands};
