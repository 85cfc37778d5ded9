//! OMA-DM command model and sans-IO session engine on top of `winmdm-syncml`.
#![forbid(unsafe_code)]

mod alert;
mod command;
mod locuri;
mod value;

pub use alert::{
    ClientEvent, DeviceAlert, DevicePrepSync, GenericAlert, GenericKind, LoginStatus, Mark, Secret,
    SyncType,
};
pub use command::{CommandError, DmCommand, DmItem};
pub use locuri::{LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, percent_encode};
pub use value::{Format, Value, ValueError};
