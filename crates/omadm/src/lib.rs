//! OMA-DM command model and sans-IO session engine on top of `winmdm-syncml`.
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
mod tree;
mod value;

pub use alert::{
    ClientEvent, DeviceAlert, DevicePrepSync, GenericAlert, GenericKind, LoginStatus, Mark, Secret,
    SyncType,
};
pub use auth::{
    AuthScheme, CertDeviceId, Credentials, IdentityBinding, ServerAuth, chal, cred, digest,
    read_chal, verify,
};
pub use command::{CommandError, DmCommand, DmItem};
pub use device::{DevInfo, DeviceAuth, DeviceConfig, DeviceSession};
pub use locuri::{LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, percent_encode};
pub use package::{DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE};
pub use replay::{ReplayStep, ReplayedSession, is_server_message, replay};
pub use server::{CommandQueue, DeviceEvent, Queued, ServerConfig, ServerSession};
pub use session::{Disposition, ItemStatus, Outcome, SessionError};
pub use tree::{MemoryTree, Node, NodeTree};
pub use value::{Format, Value, ValueError};
