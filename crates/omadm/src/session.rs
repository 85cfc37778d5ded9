//! Items shared by the server and the device engine: errors, outcomes, helpers.

use std::borrow::Cow;

use winmdm_syncml::{Alert, AlertCode, Command, CommandKind, Data, Item, Status, StatusCode};

/// Why an engine refused a message. The message is not processed; the caller decides
/// whether to drop the connection (HTTP 400) or end the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A required `SyncHdr` element is missing (`SessionID`, `MsgID`, `Source`, `Target`).
    #[error("SyncHdr without {0}")]
    MissingHeader(&'static str),
    /// `MsgID` is not a decimal number.
    #[error("MsgID {0:?} is not a number")]
    BadMsgId(String),
    /// `MsgID` is not the previous one plus one (and not a retransmission).
    #[error("expected MsgID {expected}, got {got}")]
    UnexpectedMsgId {
        /// The MsgID expected.
        expected: u64,
        /// The MsgID received.
        got: u64,
    },
    /// `SessionID` differs from the session's.
    #[error("SessionID {got:?} does not match the session's {expected:?}")]
    SessionMismatch {
        /// The session's ID.
        expected: String,
        /// The ID received.
        got: String,
    },
    /// The sender (`Source/LocURI`) changed within the session.
    #[error("sender changed within the session")]
    SenderChanged,
    /// The session is over; start a new engine for a new session.
    #[error("session finished")]
    Finished,
    /// More time than the configured timeout passed since the last message.
    #[error("session expired")]
    Expired,
    /// The peer's `MaxMsgSize` is below [`MIN_MAX_MSG_SIZE`](crate::MIN_MAX_MSG_SIZE).
    #[error("MaxMsgSize {0} too small")]
    MaxMsgSizeTooSmall(u64),
    /// The session exceeded the configured number of messages.
    #[error("more than {0} messages in the session")]
    TooManyMessages(usize),
    /// The device engine got a message before [`start`](crate::device::DeviceSession::start).
    #[error("session not started")]
    NotStarted,
    /// A message was received while the response to the previous one is still being
    /// built: call [`respond`](crate::server::ServerSession::respond) first.
    #[error("the response to the previous message was not taken")]
    ResponsePending,
    /// [`respond`](crate::server::ServerSession::respond) without a message received.
    #[error("no message to respond to")]
    NoResponsePending,
}

/// The `SyncHdr` fields that say which session a message belongs to, read before any
/// engine exists: find the device's enrollment and stored session, look up its DM
/// credentials, then create or restore the engine.
///
/// ```
/// let msg = winmdm_omadm::syncml::decode(br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>
///   <VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1A</SessionID><MsgID>3</MsgID>
///   <Target><LocURI>https://mdm.example/omadm</LocURI></Target>
///   <Source><LocURI> DEVICE1 </LocURI></Source></SyncHdr><SyncBody/></SyncML>"#)?;
/// let h = winmdm_omadm::server::SessionHeader::read(&msg)?;
/// assert_eq!((h.session_id, h.msg_id, h.device_id), ("1A", 3, Some("DEVICE1")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionHeader<'m> {
    /// `SessionID`, trimmed.
    pub session_id: &'m str,
    /// `MsgID`.
    pub msg_id: u64,
    /// `Source/LocURI` (the device ID in a device message), trimmed.
    pub device_id: Option<&'m str>,
    /// `Target/LocURI`, trimmed.
    pub target: Option<&'m str>,
}

impl<'m> SessionHeader<'m> {
    /// Reads the fields; `SessionID` and a numeric `MsgID` are required.
    pub fn read(msg: &'m winmdm_syncml::SyncML<'_>) -> Result<Self, SessionError> {
        let h = &msg.hdr;
        let sid = h
            .session_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("SessionID"))?;
        let mid = h
            .msg_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("MsgID"))?;
        let msg_id = mid
            .trim()
            .parse()
            .map_err(|_| SessionError::BadMsgId(mid.to_owned()))?;
        let uri = |l: &'m Option<winmdm_syncml::Location<'_>>| {
            l.as_ref().and_then(|l| l.loc_uri.as_deref()).map(str::trim)
        };
        Ok(SessionHeader {
            session_id: sid.trim(),
            msg_id,
            device_id: uri(&h.source),
            target: uri(&h.target),
        })
    }
}

/// The status of one item of a command, when the device answered per item
/// (`Status` with `TargetRef`/`SourceRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatus {
    /// The `TargetRef` (or `SourceRef`) the status applies to.
    pub item_ref: String,
    /// The code.
    pub code: StatusCode,
}

/// What became of an issued command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// The device answered with a Status.
    Answered,
    /// The session ended before the device answered.
    NoStatus,
    /// The command was never sent: larger than the device accepts (`MaxMsgSize` for a
    /// command that cannot be chunked, or `MaxObjSize`).
    TooLarge,
    /// A large object the device reported incomplete (`Alert 1225`); it was abandoned.
    Incomplete,
}

/// The outcome of one issued command (top level), correlated by `MsgRef` + `CmdRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The tag the queue gave the command.
    pub tag: u64,
    /// The command's kind.
    pub kind: CommandKind,
    /// The `MsgID` of the server message that carried it (for a large object: the
    /// message with the last chunk, whose Status is the command's; the first chunk's
    /// while the object is incomplete).
    pub msg_ref: String,
    /// Its `CmdID` in that message.
    pub cmd_ref: String,
    /// How it ended.
    pub disposition: Disposition,
    /// The status code (the first one when the device answered per item).
    pub status: Option<StatusCode>,
    /// Per-item statuses, when the device sent them.
    pub item_statuses: Vec<ItemStatus>,
    /// `msft:originalerror` (HRESULT), when present.
    pub original_error: Option<String>,
    /// `Results` items (for Get), large objects reassembled.
    pub results: Vec<Item<'static>>,
    /// Outcomes of the commands inside an Atomic or Sequence, in order (same tag).
    pub children: Vec<Outcome>,
}

impl Outcome {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(StatusCode::is_success)
    }

    /// An Atomic that failed (507) and whose children were rolled back (216).
    pub fn rolled_back(&self) -> bool {
        self.status == Some(StatusCode::ATOMIC_FAILED)
            && self
                .children
                .iter()
                .any(|c| c.status == Some(StatusCode::ATOMIC_ROLLBACK_OK))
    }
}

/// Builds a Status (without CmdID) for a command of the peer.
pub(crate) fn status_for(
    msg_ref: &str,
    cmd_ref: Option<&str>,
    cmd: &str,
    code: StatusCode,
) -> Status<'static> {
    Status {
        msg_ref: Some(Cow::Owned(msg_ref.to_owned())),
        cmd_ref: Some(Cow::Owned(cmd_ref.unwrap_or("").to_owned())),
        cmd: Some(Cow::Owned(cmd.to_owned())),
        data: Some(Data::text(code.0.to_string())),
        ..Status::default()
    }
}

/// The `Alert 1222` (next message) command, without CmdID.
pub(crate) fn next_message_alert() -> Command<'static> {
    Command::Alert(Box::new(Alert {
        data: Some(Data::text(AlertCode::NEXT_MESSAGE.0.to_string())),
        ..Alert::default()
    }))
}

/// The `Alert 1225` (no end of data) for an abandoned large object, without CmdID.
pub(crate) fn no_end_of_data_alert(uri: &str) -> Command<'static> {
    Command::Alert(Box::new(Alert {
        data: Some(Data::text(AlertCode::NO_END_OF_DATA.0.to_string())),
        items: vec![Item {
            target: Some(winmdm_syncml::Location::uri(uri.to_owned())),
            ..Item::default()
        }],
        ..Alert::default()
    }))
}

/// Whether commands other than Status and Alert 1222 are present.
pub(crate) fn has_new_commands(cmds: &[Command<'_>]) -> bool {
    cmds.iter().any(|c| match c {
        Command::Status(_) => false,
        Command::Alert(a) => a.code() != Some(AlertCode::NEXT_MESSAGE),
        _ => true,
    })
}

/// Whether a message asks for the next message (contains `Alert 1222`).
pub(crate) fn asks_next(cmds: &[Command<'_>]) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Command::Alert(a) if a.code() == Some(AlertCode::NEXT_MESSAGE)))
}
