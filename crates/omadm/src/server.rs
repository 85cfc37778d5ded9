//! The server session engine (sans-IO): [`ServerSession`] with its settings
//! ([`ServerConfig`]), what it reports ([`ServerEvent`], [`DeviceEvent`]) and the queue
//! [`handle`](ServerSession::handle) pulls commands from ([`CommandQueue`],
//! [`FifoQueue`]). [`SessionHeader`] finds the device and session of a message before an
//! engine exists. The crate docs walk through one message.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use winmdm_syncml::{
    Command, CommandKind, Item, Location, Meta, Results, Status, StatusCode, SyncHdr, SyncML,
};

use crate::alert::DeviceAlert;
use crate::auth::{self, IdentityBinding, ServerAuth};
use crate::command::DmCommand;
use crate::package::{
    self, DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, Fed, Fit, IncomingObject,
    MIN_MAX_MSG_SIZE, ObjectKey, OutgoingObject, Packer,
};
pub use crate::session::SessionHeader;
use crate::session::{
    Disposition, ItemStatus, Outcome, SessionError, asks_next, no_end_of_data_alert, status_for,
};

/// Server engine settings: the product's configuration, the same for every session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The server's URI, written as `Source/LocURI` of every response.
    pub server_uri: String,
    /// `MaxMsgSize` assumed when the device declares none. Default
    /// [`DEFAULT_MAX_MSG_SIZE`] (512 KiB).
    pub default_max_msg_size: u64,
    /// `MaxMsgSize` the server declares in its `SyncHdr/Meta` (Windows ignores it; the
    /// device engine honours it). Default `None`.
    pub declared_max_msg_size: Option<u64>,
    /// Largest incoming large object accepted. Default [`DEFAULT_MAX_OBJECT_SIZE`].
    pub max_object_size: u64,
    /// Most device messages in one session. Default 10 000.
    pub max_messages: usize,
    /// Longest pause between two device messages. Default 10 minutes.
    pub session_timeout: Duration,
    /// DM-level authentication known before the first message; `None` relies on the
    /// TLS client certificate only, or on [`ServerSession::set_auth`] once the device
    /// is known.
    pub auth: Option<ServerAuth>,
}

impl ServerConfig {
    /// Defaults for a server at `server_uri`.
    pub fn new(server_uri: impl Into<String>) -> Self {
        ServerConfig {
            server_uri: server_uri.into(),
            default_max_msg_size: DEFAULT_MAX_MSG_SIZE,
            declared_max_msg_size: None,
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            max_messages: 10_000,
            session_timeout: Duration::from_secs(600),
            auth: None,
        }
    }
}

/// A command the product queued, with a tag it uses to recognise the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The product's tag, echoed in [`Outcome::tag`].
    pub tag: u64,
    /// The command.
    pub command: DmCommand,
}

/// Something the device reported that is not a command outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// An alert, decoded.
    Alert(DeviceAlert),
    /// A `Replace` the device sent (package 1 DevInfo): `(Source LocURI, Data)` pairs.
    DeviceInfo(Vec<(String, String)>),
    /// DM authentication succeeded (`212`).
    Authenticated,
    /// DM authentication failed (`401`/`407` sent).
    AuthenticationFailed,
    /// A `Status` whose `MsgRef` + `CmdRef` name no command this session issued (or one
    /// already reported).
    UnmatchedStatus {
        /// `MsgRef` as sent (`1` when absent).
        msg_ref: String,
        /// `CmdRef` as sent.
        cmd_ref: String,
        /// `Cmd` as sent.
        cmd: Option<String>,
        /// The code, when it is a number.
        code: Option<StatusCode>,
    },
    /// `Results` whose `MsgRef` + `CmdRef` name no command this session issued; their
    /// items (large objects reassembled).
    UnmatchedResults {
        /// `MsgRef` as sent (`1` when absent).
        msg_ref: String,
        /// `CmdRef` as sent (`1` when absent).
        cmd_ref: String,
        /// The items.
        items: Vec<Item<'static>>,
    },
}

/// What the server engine reports, in order, through [`ServerSession::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The outcome of an issued command: exactly one per command pushed.
    Outcome(Outcome),
    /// Alerts, device information, authentication, unmatched Statuses and Results.
    Device(DeviceEvent),
}

/// The product side of [`ServerSession::handle`]: a synchronous command queue and
/// where outcomes go. [`FifoQueue`] is a ready-made in-memory one; a queue in a database
/// is better served by the poll API ([`ServerSession::receive`]).
pub trait CommandQueue {
    /// The next command to send, `None` when nothing is queued. Called only when there
    /// is room; a command pulled but not fitting is kept by the engine and sent first in
    /// the next message.
    fn next_command(&mut self) -> Option<Queued>;
    /// The outcome of an issued command.
    fn outcome(&mut self, outcome: Outcome);
    /// Alerts, device information, authentication results, unmatched replies.
    fn event(&mut self, event: DeviceEvent) {
        let _ = event;
    }
}

/// A first-in first-out [`CommandQueue`] in memory: commands go out in the order they
/// were pushed; outcomes and events are collected.
#[derive(Debug, Default, Clone)]
pub struct FifoQueue {
    /// Commands not pulled yet, the next one first.
    pub pending: VecDeque<Queued>,
    /// Outcomes, in the order the engine reported them.
    pub outcomes: Vec<Outcome>,
    /// Device events, in order.
    pub events: Vec<DeviceEvent>,
    next_tag: u64,
}

impl FifoQueue {
    /// An empty queue.
    pub fn new() -> Self {
        FifoQueue::default()
    }

    /// Queues a command under the next tag (0, 1, 2, ...) and returns the tag.
    pub fn push(&mut self, command: DmCommand) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.push_back(Queued { tag, command });
        tag
    }

    /// Queues a command under the product's own tag.
    pub fn push_tagged(&mut self, queued: Queued) {
        self.next_tag = self.next_tag.max(queued.tag.saturating_add(1));
        self.pending.push_back(queued);
    }

    /// The outcome reported for a tag, if any.
    pub fn outcome_for(&self, tag: u64) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.tag == tag)
    }
}

impl CommandQueue for FifoQueue {
    fn next_command(&mut self) -> Option<Queued> {
        self.pending.pop_front()
    }
    fn outcome(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }
    fn event(&mut self, event: DeviceEvent) {
        self.events.push(event);
    }
}

/// What [`ServerSession::push_command`] did with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pushed {
    /// In this response (for a large object: its first chunk, or it starts in the next
    /// message). More commands may follow while [`ServerSession::command_room`] is
    /// `Some`.
    Sent,
    /// Does not fit beside what the response holds: the engine keeps it and sends it
    /// first in the next message. Push nothing more into this response.
    Deferred,
    /// Never sendable (larger than the device accepts): its outcome,
    /// [`Disposition::TooLarge`], is already among the events.
    TooLarge,
    /// Not taken: not a command a server sends (Status, Results, unknown element), or
    /// pushed while no room was offered and another command is already put off. Its
    /// outcome, [`Disposition::NoStatus`], is already among the events.
    Refused,
}

/// Where a server session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerPhase {
    /// No device message yet.
    New,
    /// A device message was received; the response is being built (push commands, then
    /// [`ServerSession::respond`]).
    Responding,
    /// The response went out; waiting for the device's next message.
    AwaitingDevice,
    /// The session is over (a retransmission of the last device message still gets the
    /// last response).
    Finished,
}

/// Where DM-level authentication is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthPhase {
    /// No DM authentication configured (TLS client certificate only).
    NotRequired,
    /// Required and not yet given; `failures` wrong attempts so far.
    Pending {
        /// Wrong credentials received so far.
        failures: u32,
    },
    /// The device authenticated (212 sent).
    Authenticated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Normal,
    /// An intermediate chunk of a large object (213 expected).
    Chunk,
}

/// What a (MsgRef, CmdRef) of ours names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    /// A command of the product's.
    Record(u64, RefKind),
    /// An alert the engine sent itself (1222, 1225): its Status is consumed.
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) tag: u64,
    pub(crate) kind: CommandKind,
    pub(crate) msg_ref: String,
    pub(crate) cmd_ref: String,
    pub(crate) statuses: Vec<(Option<String>, StatusCode)>,
    pub(crate) original_error: Option<String>,
    pub(crate) results: Vec<Item<'static>>,
    pub(crate) children: Vec<u64>,
    pub(crate) top: bool,
    pub(crate) disposition: Option<Disposition>,
}

impl Record {
    fn new(tag: u64, kind: CommandKind, msg_ref: &str, cmd_ref: &str, top: bool) -> Self {
        Record {
            tag,
            kind,
            msg_ref: msg_ref.to_owned(),
            cmd_ref: cmd_ref.to_owned(),
            statuses: Vec::new(),
            original_error: None,
            results: Vec::new(),
            children: Vec::new(),
            top,
            disposition: None,
        }
    }
}

/// The outgoing large object and the record of its command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutgoingObjectWithRecord {
    pub(crate) obj: OutgoingObject,
    pub(crate) record: u64,
}

/// A command pulled but not sent yet (it did not fit beside the last response's
/// content).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub(crate) tag: u64,
    pub(crate) command: Command<'static>,
}

/// Everything a session needs to continue: what a [`crate::snapshot::ServerSnapshot`] holds.
#[derive(Debug, Clone)]
pub(crate) struct ServerState {
    pub(crate) phase: ServerPhase,
    pub(crate) session_id: Option<String>,
    pub(crate) device_id: Option<String>,
    pub(crate) last_device_msg: Option<u64>,
    pub(crate) last_seen: Option<SystemTime>,
    pub(crate) last_reply: Option<SyncML<'static>>,
    pub(crate) my_msg_id: u64,
    pub(crate) messages: usize,
    pub(crate) statuses: VecDeque<Status<'static>>,
    pub(crate) pending: Option<Pending>,
    pub(crate) outgoing_object: Option<OutgoingObjectWithRecord>,
    pub(crate) incoming_object: Option<IncomingObject>,
    /// Alerts to send (1225 for abandoned incoming objects).
    pub(crate) alerts_out: VecDeque<Command<'static>>,
    pub(crate) records: BTreeMap<u64, Record>,
    pub(crate) next_record: u64,
    pub(crate) refs: HashMap<(String, String), Ref>,
    pub(crate) device_max_msg: u64,
    pub(crate) device_max_obj: Option<u64>,
    pub(crate) auth: Option<ServerAuth>,
    pub(crate) auth_phase: AuthPhase,
}

impl ServerState {
    fn new(cfg: &ServerConfig) -> Self {
        ServerState {
            phase: ServerPhase::New,
            session_id: None,
            device_id: None,
            last_device_msg: None,
            last_seen: None,
            last_reply: None,
            my_msg_id: 0,
            messages: 0,
            statuses: VecDeque::new(),
            pending: None,
            outgoing_object: None,
            incoming_object: None,
            alerts_out: VecDeque::new(),
            records: BTreeMap::new(),
            next_record: 0,
            refs: HashMap::new(),
            device_max_msg: cfg.default_max_msg_size,
            device_max_obj: None,
            auth_phase: if cfg.auth.is_some() {
                AuthPhase::Pending { failures: 0 }
            } else {
                AuthPhase::NotRequired
            },
            auth: cfg.auth.clone(),
        }
    }
}

/// How the response being built ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Statuses, then the package continues (large object, pending, new commands).
    Continue,
    /// The device's package is not complete: Statuses and Alert 1222.
    RequestNext,
    /// Statuses only, Final: the SyncHdr was refused (`end`: the session ends) or the
    /// device aborted (`end`).
    StatusesOnly { refused: bool, end: bool },
}

/// The response under construction.
#[derive(Debug)]
struct Building {
    packer: Packer,
    mode: Mode,
    msg: String,
    statuses_left: bool,
    /// Commands may still be pushed.
    accepting: bool,
}

/// The server side of one OMA-DM session.
///
/// Each device message is one step: [`receive`](ServerSession::receive) it, push
/// commands while [`command_room`](ServerSession::command_room) says there is room,
/// take the [`respond`](ServerSession::respond)se, and drain
/// [`poll_event`](ServerSession::poll_event). [`handle`](ServerSession::handle) does the
/// four with a synchronous [`CommandQueue`]. Time is an input; there is no IO, clock or
/// storage inside. Between messages the whole state can be saved with
/// [`snapshot`](ServerSession::snapshot) and continued elsewhere with
/// [`restore`](ServerSession::restore).
///
/// ```
/// use std::time::SystemTime;
/// use winmdm_omadm::server::{Queued, ServerConfig, ServerEvent, ServerSession};
/// use winmdm_omadm::{DmCommand, LocUri};
///
/// let pkg1 = winmdm_omadm::syncml::decode(br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>
///   <VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>
///   <Target><LocURI>https://mdm.example/omadm</LocURI></Target>
///   <Source><LocURI>DEVICE1</LocURI></Source></SyncHdr>
///   <SyncBody><Alert><CmdID>2</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"#)?;
/// let mut s = ServerSession::new(ServerConfig::new("https://mdm.example/omadm"));
/// s.receive(&pkg1, SystemTime::UNIX_EPOCH)?;
/// // Commands from the product's storage, as long as there is room (a hint in bytes).
/// let mut queued = vec![Queued { tag: 7, command: DmCommand::get(LocUri::try_from("./DevDetail/SwV")?) }].into_iter();
/// while s.command_room().is_some() {
///     let Some(q) = queued.next() else { break };
///     s.push_command(q);
/// }
/// let reply = s.respond()?;
/// assert_eq!(reply.body.commands.len(), 3); // Status(SyncHdr), Status(Alert), Get
/// assert!(reply.body.r#final);
/// while let Some(event) = s.poll_event() {
///     assert!(matches!(event, ServerEvent::Device(_))); // the 1201 alert
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ServerSession {
    cfg: ServerConfig,
    identity: Option<Box<dyn IdentityBinding>>,
    state: ServerState,
    building: Option<Building>,
    /// The message being answered is a retransmission: the last response again.
    retransmit: bool,
    events: VecDeque<ServerEvent>,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("phase", &self.state.phase)
            .field("session_id", &self.state.session_id)
            .field("device_id", &self.state.device_id)
            .field("my_msg_id", &self.state.my_msg_id)
            .finish_non_exhaustive()
    }
}

enum HdrVerdict {
    Accept(StatusCode, Option<winmdm_syncml::Chal<'static>>),
    Refuse(StatusCode, Option<winmdm_syncml::Chal<'static>>, bool),
}

impl ServerSession {
    /// A new session.
    pub fn new(cfg: ServerConfig) -> Self {
        let st = ServerState::new(&cfg);
        ServerSession::from_state(cfg, st)
    }

    pub(crate) fn from_state(cfg: ServerConfig, state: ServerState) -> Self {
        ServerSession {
            cfg,
            identity: None,
            state,
            building: None,
            retransmit: false,
            events: VecDeque::new(),
        }
    }

    pub(crate) fn state(&self) -> &ServerState {
        &self.state
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.building.is_none() && self.events.is_empty()
    }

    /// Binds the TLS client certificate's identity: messages whose `Source` it does not
    /// allow get `403` on the SyncHdr and end the session.
    pub fn with_identity(mut self, binding: impl IdentityBinding) -> Self {
        self.set_identity(binding);
        self
    }

    /// Binds the identity of the TLS client certificate the current message came with.
    /// The binding is not part of a snapshot: each message may come on another
    /// connection, so set it before every [`receive`](ServerSession::receive).
    pub fn set_identity(&mut self, binding: impl IdentityBinding) {
        self.identity = Some(Box::new(binding));
    }

    /// Gives the device's DM credentials and nonces once the product knows which
    /// device it talks to (from [`SessionHeader::read`] of the first message). Replaces
    /// [`ServerConfig::auth`]; ignored once the device authenticated.
    pub fn set_auth(&mut self, auth: ServerAuth) {
        if self.state.auth_phase == AuthPhase::Authenticated {
            return;
        }
        if self.state.auth_phase == AuthPhase::NotRequired {
            self.state.auth_phase = AuthPhase::Pending { failures: 0 };
        }
        self.state.auth = Some(auth);
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Where the session is.
    pub fn phase(&self) -> ServerPhase {
        self.state.phase
    }

    /// Where DM authentication is.
    pub fn auth_phase(&self) -> AuthPhase {
        self.state.auth_phase
    }

    /// Whether the session is over (the last response ended it).
    pub fn is_finished(&self) -> bool {
        self.state.phase == ServerPhase::Finished
    }

    /// The session's `SessionID`, once known.
    pub fn session_id(&self) -> Option<&str> {
        self.state.session_id.as_deref()
    }

    /// The device's ID (`SyncHdr/Source/LocURI`), once known.
    pub fn device_id(&self) -> Option<&str> {
        self.state.device_id.as_deref()
    }

    /// The nonce the device must use in its next session (MD5): store it.
    pub fn nonce_for_next_session(&self) -> Option<&[u8]> {
        let a = self.state.auth.as_ref()?;
        Some(if self.state.auth_phase == AuthPhase::Authenticated {
            &a.next_session_nonce
        } else {
            &a.nonce
        })
    }

    /// The `MaxMsgSize` the responses are held to.
    pub fn max_msg_size(&self) -> u64 {
        self.state.device_max_msg
    }

    /// The last response sent (what a retransmission gets).
    pub fn last_response(&self) -> Option<&SyncML<'static>> {
        self.state.last_reply.as_ref()
    }

    /// The next event, in the order they happened.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Ends the session from the product's side: every command still without a status
    /// is reported with [`Disposition::NoStatus`] (the events are queued).
    pub fn abandon(&mut self) {
        self.building = None;
        self.finish();
    }

    fn event(&mut self, e: DeviceEvent) {
        self.events.push_back(ServerEvent::Device(e));
    }

    fn finish(&mut self) {
        self.state.phase = ServerPhase::Finished;
        if let Some(p) = self.state.pending.take() {
            self.report_unsent(p.tag, p.command.kind(), Disposition::NoStatus);
        }
        self.state.outgoing_object = None;
        self.report_where(|_, _| true);
    }

    fn check_header(&mut self, msg: &SyncML<'_>, now: SystemTime) -> Result<u64, SessionError> {
        let h = SessionHeader::read(msg)?;
        let src = h.device_id.ok_or(SessionError::MissingHeader("Source"))?;
        match &self.state.session_id {
            None => {
                self.state.session_id = Some(h.session_id.to_owned());
                self.state.device_id = Some(src.to_owned());
            }
            Some(s) => {
                if s != h.session_id {
                    return Err(SessionError::SessionMismatch {
                        expected: s.clone(),
                        got: h.session_id.to_owned(),
                    });
                }
                if self.state.device_id.as_deref() != Some(src) {
                    return Err(SessionError::SenderChanged);
                }
                if let Some(last) = self.state.last_seen
                    && now.duration_since(last).unwrap_or_default() > self.cfg.session_timeout
                {
                    return Err(SessionError::Expired);
                }
            }
        }
        Ok(h.msg_id)
    }

    fn verdict(&mut self, h: &SyncHdr<'_>) -> HdrVerdict {
        if h.ver_dtd
            .as_deref()
            .is_some_and(|v| !matches!(v.trim(), "1.2" | "1.1"))
        {
            return HdrVerdict::Refuse(StatusCode::DTD_VERSION_NOT_SUPPORTED, None, true);
        }
        if h.ver_proto
            .as_deref()
            .is_some_and(|v| !matches!(v.trim(), "DM/1.2" | "DM/1.1"))
        {
            return HdrVerdict::Refuse(StatusCode::PROTOCOL_VERSION_NOT_SUPPORTED, None, true);
        }
        if let (Some(b), Some(d)) = (&self.identity, &self.state.device_id)
            && !b.allows(d)
        {
            return HdrVerdict::Refuse(StatusCode::FORBIDDEN, None, true);
        }
        let failures = match self.state.auth_phase {
            AuthPhase::NotRequired | AuthPhase::Authenticated => {
                return HdrVerdict::Accept(StatusCode::OK, None);
            }
            AuthPhase::Pending { failures } => failures,
        };
        let Some(a) = self.state.auth.as_mut() else {
            // Required but the product gave no credentials: nothing can match.
            return HdrVerdict::Refuse(StatusCode::FORBIDDEN, None, true);
        };
        let ok = h
            .cred
            .as_ref()
            .is_some_and(|c| auth::verify(c, a.scheme, &a.credentials, &a.nonce));
        if ok {
            let ch = (a.scheme == auth::AuthScheme::Md5)
                .then(|| auth::chal(a.scheme, &a.next_session_nonce));
            self.state.auth_phase = AuthPhase::Authenticated;
            self.event(DeviceEvent::Authenticated);
            return HdrVerdict::Accept(StatusCode::AUTHENTICATION_ACCEPTED, ch);
        }
        let (code, failures) = if h.cred.is_some() {
            (StatusCode::INVALID_CREDENTIALS, failures + 1)
        } else {
            (StatusCode::MISSING_CREDENTIALS, failures)
        };
        // Rotate: the device answers the challenge with the fresh nonce.
        a.nonce = a.challenge_nonce.clone();
        let chal = auth::chal(a.scheme, &a.challenge_nonce);
        let give_up = failures >= a.max_failures;
        self.state.auth_phase = AuthPhase::Pending { failures };
        self.event(DeviceEvent::AuthenticationFailed);
        HdrVerdict::Refuse(code, Some(chal), give_up)
    }

    /// Processes one device message: checks the `SyncHdr`, answers every device command
    /// with a Status, matches Statuses and Results to the commands issued (outcomes and
    /// events go to [`poll_event`](ServerSession::poll_event)) and starts the response.
    /// Then push commands while [`command_room`](ServerSession::command_room) is `Some`
    /// and take the response with [`respond`](ServerSession::respond).
    ///
    /// A retransmitted message (same `MsgID` as the previous one) makes `respond` give
    /// the previous response again, also after the session finished.
    pub fn receive(&mut self, msg: &SyncML<'_>, now: SystemTime) -> Result<(), SessionError> {
        if self.building.is_some() || self.retransmit {
            return Err(SessionError::ResponsePending);
        }
        let mid = self.check_header(msg, now)?;
        if let Some(last) = self.state.last_device_msg {
            if mid == last && self.state.last_reply.is_some() {
                // A retransmission (the response got lost): the same response.
                self.retransmit = true;
                return Ok(());
            }
            if self.is_finished() {
                return Err(SessionError::Finished);
            }
            if mid != last + 1 {
                return Err(SessionError::UnexpectedMsgId {
                    expected: last + 1,
                    got: mid,
                });
            }
        }
        if self.state.messages >= self.cfg.max_messages {
            return Err(SessionError::TooManyMessages(self.cfg.max_messages));
        }
        if let Some(m) = &msg.hdr.meta {
            if let Some(n) = m.max_msg_size {
                if n < MIN_MAX_MSG_SIZE {
                    return Err(SessionError::MaxMsgSizeTooSmall(n));
                }
                self.state.device_max_msg = n;
            }
            if m.max_obj_size.is_some() {
                self.state.device_max_obj = m.max_obj_size;
            }
        }
        self.state.messages += 1;
        self.state.last_device_msg = Some(mid);
        self.state.last_seen = Some(now);
        self.state.phase = ServerPhase::Responding;
        let msg_ref = mid.to_string();

        let (code, chal) = match self.verdict(&msg.hdr) {
            HdrVerdict::Accept(c, ch) => (c, ch),
            HdrVerdict::Refuse(c, ch, end) => {
                let mut st = status_for(&msg_ref, Some("0"), "SyncHdr", c);
                st.chal = ch.map(Box::new);
                self.state.statuses.push_front(st);
                self.start_response(Mode::StatusesOnly { refused: true, end });
                return Ok(());
            }
        };
        let mut st = status_for(&msg_ref, Some("0"), "SyncHdr", code);
        st.chal = chal.map(Box::new);
        // The SyncHdr's Status goes first, before Statuses left over from earlier
        // messages.
        self.state.statuses.push_front(st);

        let mut abort = false;
        for c in &msg.body.commands {
            abort |= self.device_command(c, &msg_ref);
        }
        if let Some(uri) = package::end_of_message(&mut self.state.incoming_object, msg) {
            self.state.alerts_out.push_back(no_end_of_data_alert(&uri));
        }
        let next = asks_next(&msg.body.commands);
        if msg.body.r#final || next {
            // The device's package is complete: it answered everything it received.
            let lo = self.state.outgoing_object.as_ref().map(|l| l.record);
            self.report_where(|id, _| Some(id) != lo);
        }
        let mode = if abort {
            Mode::StatusesOnly {
                refused: false,
                end: true,
            }
        } else if !msg.body.r#final && !next {
            Mode::RequestNext
        } else {
            Mode::Continue
        };
        self.start_response(mode);
        Ok(())
    }

    /// Packs Statuses, engine alerts, the next large-object chunk and the command put
    /// off last time.
    fn start_response(&mut self, mode: Mode) {
        self.state.my_msg_id += 1;
        let hdr = self.header();
        let mut packer = Packer::new(hdr, self.state.device_max_msg, mode == Mode::RequestNext);
        let msg = self.state.my_msg_id.to_string();
        let statuses_left = !packer.push_statuses(&mut self.state.statuses);
        if !statuses_left {
            while let Some(a) = self.state.alerts_out.pop_front() {
                match packer.push(a, Fit::IfRoom) {
                    Ok(()) => self.internal_ref(&msg, &packer),
                    Err((a, _)) => {
                        self.state.alerts_out.push_front(a);
                        break;
                    }
                }
            }
        }
        let accepting = mode == Mode::Continue && !statuses_left;
        self.building = Some(Building {
            packer,
            mode,
            msg,
            statuses_left,
            accepting,
        });
        if !accepting {
            return;
        }
        if self.state.outgoing_object.is_some() && !self.place_chunk() {
            self.stop_accepting();
            return;
        }
        if let Some(p) = self.state.pending.take() {
            self.offer(p.tag, p.command, true);
        }
    }

    fn stop_accepting(&mut self) {
        if let Some(b) = self.building.as_mut() {
            b.accepting = false;
        }
    }

    fn internal_ref(&mut self, msg: &str, packer: &Packer) {
        if let Some(id) = packer.commands().last().and_then(Command::cmd_id) {
            self.state
                .refs
                .insert((msg.to_owned(), id.to_owned()), Ref::Internal);
        }
    }

    /// `Some(bytes left)` while the response being built takes more commands: push the
    /// next one with [`push_command`](ServerSession::push_command). `None` when it is
    /// full, a command was put off, a large object is in progress, or no response is
    /// being built. The number is a hint for prefetching (a command of about that
    /// encoded size still fits).
    pub fn command_room(&self) -> Option<usize> {
        self.building
            .as_ref()
            .filter(|b| b.accepting)
            .map(|b| b.packer.room())
    }

    /// Adds a product command to the response being built. Every command pushed gets
    /// exactly one [`Outcome`]. Push only while [`command_room`] is `Some`; a command
    /// pushed otherwise is put off to the next message ([`Pushed::Deferred`]) if none is
    /// put off yet, or [`Pushed::Refused`].
    ///
    /// [`command_room`]: ServerSession::command_room
    pub fn push_command(&mut self, queued: Queued) -> Pushed {
        let cmd = queued.command.to_command(&mut || String::new());
        self.push_raw(queued.tag, cmd)
    }

    /// [`push_command`](ServerSession::push_command) for a command already in wire form
    /// (e.g. a SyncML fragment an administrator wrote, decoded with
    /// [`syncml::decode_commands`](winmdm_syncml::decode_commands)). CmdIDs are
    /// assigned by the engine. Statuses, Results and unknown elements are
    /// [`Pushed::Refused`].
    pub fn push_raw(&mut self, tag: u64, command: Command<'_>) -> Pushed {
        let command = command.into_owned();
        let sendable = matches!(
            command.kind(),
            Some(
                CommandKind::Add
                    | CommandKind::Alert
                    | CommandKind::Atomic
                    | CommandKind::Copy
                    | CommandKind::Delete
                    | CommandKind::Exec
                    | CommandKind::Get
                    | CommandKind::Replace
                    | CommandKind::Sequence
            )
        );
        let accepting = self.command_room().is_some();
        if !sendable || (!accepting && self.state.pending.is_some()) {
            self.report_unsent(tag, command.kind(), Disposition::NoStatus);
            return Pushed::Refused;
        }
        if !accepting {
            self.state.pending = Some(Pending { tag, command });
            return Pushed::Deferred;
        }
        self.offer(tag, command, false)
    }

    fn offer(&mut self, tag: u64, cmd: Command<'static>, deferred_before: bool) -> Pushed {
        let Some(b) = self.building.as_mut() else {
            self.state.pending = Some(Pending { tag, command: cmd });
            return Pushed::Deferred;
        };
        let kind = cmd.kind().unwrap_or(CommandKind::Status);
        let (cmd, len) = match b.packer.push(cmd, Fit::IfRoom) {
            Ok(()) => {
                let msg = b.msg.clone();
                if let Some(c) = b.packer.commands().last().cloned() {
                    self.register(tag, &c, &msg, true);
                }
                return Pushed::Sent;
            }
            Err(e) => e,
        };
        // Put off to the next message once (it fits beside the SyncHdr's Status);
        // if it does not fit there either, it is too large.
        if b.packer.fits_alone(len) && !deferred_before {
            b.accepting = false;
            self.state.pending = Some(Pending { tag, command: cmd });
            return Pushed::Deferred;
        }
        let too_big_obj = self
            .state
            .device_max_obj
            .is_some_and(|m| package::large_object_text_len(&cmd) as u64 > m);
        let lo = (package::chunkable(&cmd) && !too_big_obj)
            .then(|| OutgoingObject::start(cmd, b.packer.chunk_room()))
            .flatten();
        if let Some(obj) = lo {
            b.accepting = false;
            let msg = b.msg.clone();
            let record = self.add_record(Record::new(tag, kind, &msg, "", true));
            self.state.outgoing_object = Some(OutgoingObjectWithRecord { obj, record });
            // Start it now if a chunk fits, otherwise in the next message.
            self.place_chunk();
            return Pushed::Sent;
        }
        self.report_unsent(tag, Some(kind), Disposition::TooLarge);
        Pushed::TooLarge
    }

    /// Places the next chunk of the outgoing large object if one fits; returns whether
    /// the object is complete.
    fn place_chunk(&mut self) -> bool {
        let (Some(b), Some(lo)) = (self.building.as_mut(), self.state.outgoing_object.as_mut())
        else {
            return true;
        };
        let Some((id, last)) = b.packer.push_chunk(&mut lo.obj) else {
            return false;
        };
        let record = lo.record;
        let msg = b.msg.clone();
        let kind = if last {
            RefKind::Normal
        } else {
            RefKind::Chunk
        };
        self.state
            .refs
            .insert((msg.clone(), id.clone()), Ref::Record(record, kind));
        if let Some(r) = self.state.records.get_mut(&record)
            && (last || r.cmd_ref.is_empty())
        {
            // Until the last chunk goes out, the outcome names the first one.
            r.msg_ref = msg;
            r.cmd_ref = id;
        }
        if last {
            self.state.outgoing_object = None;
        }
        last
    }

    /// Finishes the response being built and returns it. Call it when
    /// [`command_room`](ServerSession::command_room) is `None` or the product has no
    /// more commands: a response that could have taken more commands is the end of the
    /// server's package (`Final`).
    pub fn respond(&mut self) -> Result<SyncML<'static>, SessionError> {
        if std::mem::take(&mut self.retransmit) {
            return self
                .state
                .last_reply
                .clone()
                .ok_or(SessionError::NoResponsePending);
        }
        let b = self
            .building
            .take()
            .ok_or(SessionError::NoResponsePending)?;
        let mut packer = b.packer;
        let queue_empty = match b.mode {
            Mode::StatusesOnly { .. } => true,
            Mode::RequestNext => {
                packer.push_next_alert();
                self.internal_ref(&b.msg, &packer);
                false
            }
            Mode::Continue => b.accepting,
        };
        let fin = b.mode != Mode::RequestNext
            && !b.statuses_left
            && self.state.alerts_out.is_empty()
            && self.state.outgoing_object.is_none()
            && self.state.pending.is_none()
            && queue_empty;
        let only_statuses = packer
            .commands()
            .iter()
            .all(|c| matches!(c, Command::Status(_)));
        let reply = packer.finish(fin);
        let end = match b.mode {
            Mode::StatusesOnly { refused: true, end } => end,
            Mode::StatusesOnly { end, .. } => end || (fin && only_statuses),
            _ => fin && only_statuses,
        };
        if end {
            self.finish();
        } else {
            self.state.phase = ServerPhase::AwaitingDevice;
        }
        self.state.last_reply = Some(reply.clone());
        Ok(reply)
    }

    /// Processes one device message with a synchronous queue and returns the response:
    /// [`receive`](ServerSession::receive), commands from `queue` while there is room,
    /// [`respond`](ServerSession::respond), every event delivered to `queue`.
    pub fn handle(
        &mut self,
        msg: &SyncML<'_>,
        now: SystemTime,
        queue: &mut dyn CommandQueue,
    ) -> Result<SyncML<'static>, SessionError> {
        self.receive(msg, now)?;
        while self.command_room().is_some() {
            let Some(q) = queue.next_command() else { break };
            self.push_command(q);
        }
        let reply = self.respond();
        self.deliver(queue);
        reply
    }

    /// [`refusal`] of `msg` with `code`, numbered as this session's next message (one
    /// after the last `MsgID` the engine sent; 1 in a new session). For a message
    /// [`receive`](ServerSession::receive) or [`respond`](ServerSession::respond)
    /// refused, with [`refusal_code`] of the error. The engine is not changed: a session
    /// whose state is kept is judged again on the device's next message.
    pub fn refuse(&self, msg: &SyncML<'_>, code: StatusCode) -> SyncML<'static> {
        refusal(msg, &self.cfg.server_uri, self.state.my_msg_id + 1, code)
    }

    /// Ends the session (see [`abandon`](ServerSession::abandon)) and delivers the
    /// outcomes to `queue`.
    pub fn abandon_into(&mut self, queue: &mut dyn CommandQueue) {
        self.abandon();
        self.deliver(queue);
    }

    fn deliver(&mut self, queue: &mut dyn CommandQueue) {
        while let Some(e) = self.events.pop_front() {
            match e {
                ServerEvent::Outcome(o) => queue.outcome(o),
                ServerEvent::Device(d) => queue.event(d),
            }
        }
    }

    /// Handles one device command; returns true on session abort.
    fn device_command(&mut self, c: &Command<'_>, msg_ref: &str) -> bool {
        let id = c.cmd_id();
        let name = c.name().to_owned();
        let reply = |s: &mut Self, code: StatusCode| {
            s.state
                .statuses
                .push_back(status_for(msg_ref, id, &name, code));
        };
        match c {
            Command::Status(st) => {
                self.device_status(st);
                false
            }
            _ if id.is_none() => {
                reply(self, StatusCode::BAD_REQUEST);
                false
            }
            Command::Alert(a) => {
                if a.code() == Some(winmdm_syncml::AlertCode::NO_END_OF_DATA) {
                    // The device did not get the whole object: abandon it.
                    if let Some(lo) = self.state.outgoing_object.take()
                        && let Some(r) = self.state.records.get_mut(&lo.record)
                    {
                        r.disposition = Some(Disposition::Incomplete);
                    }
                }
                let d = DeviceAlert::decode(a);
                let abort = d == DeviceAlert::SessionAbort;
                self.event(DeviceEvent::Alert(d));
                reply(self, StatusCode::OK);
                abort
            }
            Command::Replace(r) => {
                let info = r
                    .items
                    .iter()
                    .map(|i| {
                        (
                            i.source_uri().or(i.target_uri()).unwrap_or("").to_owned(),
                            i.data
                                .as_ref()
                                .map(|d| d.as_str().to_owned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                self.event(DeviceEvent::DeviceInfo(info));
                reply(self, StatusCode::OK);
                false
            }
            Command::Results(r) => {
                let code = self.device_results(r);
                reply(self, code);
                false
            }
            Command::Unknown(_) => {
                reply(self, StatusCode::BAD_REQUEST);
                false
            }
            _ => {
                reply(self, StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED);
                false
            }
        }
    }

    fn device_status(&mut self, st: &Status<'_>) {
        let msg_ref = st.msg_ref.as_deref().unwrap_or("1").trim().to_owned();
        let cmd_ref = st.cmd_ref.as_deref().unwrap_or("").trim().to_owned();
        if cmd_ref == "0" || st.cmd.as_deref().map(str::trim) == Some("SyncHdr") {
            return;
        }
        let key = (msg_ref, cmd_ref);
        let (idx, kind) = match self.state.refs.get(&key) {
            Some(&Ref::Record(i, k)) if self.state.records.contains_key(&i) => (i, k),
            Some(Ref::Internal) => {
                self.state.refs.remove(&key);
                return;
            }
            _ => {
                let (msg_ref, cmd_ref) = key;
                self.event(DeviceEvent::UnmatchedStatus {
                    msg_ref,
                    cmd_ref,
                    cmd: st.cmd.as_deref().map(|s| s.trim().to_owned()),
                    code: st.code(),
                });
                return;
            }
        };
        let Some(code) = st.code() else { return };
        if kind == RefKind::Chunk {
            if code == StatusCode::CHUNKED_ITEM_ACCEPTED {
                return;
            }
            // The device refused a chunk: the object is abandoned.
            if self
                .state
                .outgoing_object
                .as_ref()
                .is_some_and(|l| l.record == idx)
            {
                self.state.outgoing_object = None;
            }
        }
        let Some(rec) = self.state.records.get_mut(&idx) else {
            return;
        };
        let r = st
            .target_refs
            .first()
            .or(st.source_refs.first())
            .map(|s| s.to_string());
        rec.statuses.push((r, code));
        if rec.original_error.is_none() {
            rec.original_error = st.original_error().map(str::to_owned);
        }
    }

    fn device_results(&mut self, r: &Results<'_>) -> StatusCode {
        let msg_ref = r.msg_ref.as_deref().unwrap_or("1").trim().to_owned();
        let cmd_ref = r.cmd_ref.as_deref().unwrap_or("1").trim().to_owned();
        let rec = match self.state.refs.get(&(msg_ref.clone(), cmd_ref.clone())) {
            Some(&Ref::Record(i, _)) if self.state.records.contains_key(&i) => Some(i),
            _ => None,
        };
        let mut code = StatusCode::OK;
        let mut unmatched = Vec::new();
        let mut abandoned = Vec::new();
        for it in &r.items {
            let key = ObjectKey::Results {
                record: rec,
                source: it.source_uri().unwrap_or("").to_owned(),
            };
            let whole = match package::feed_chunk(
                &mut self.state.incoming_object,
                key,
                it,
                self.cfg.max_object_size,
                &mut abandoned,
            ) {
                Fed::Whole => it.clone().into_owned(),
                Fed::Code(c) => {
                    code = c;
                    continue;
                }
                Fed::Complete(text, meta) => {
                    let mut full = it.clone().into_owned();
                    full.more_data = false;
                    full.meta = meta;
                    full.data = Some(winmdm_syncml::Data::text(text));
                    full
                }
            };
            match rec.and_then(|i| self.state.records.get_mut(&i)) {
                Some(record) => record.results.push(whole),
                None => unmatched.push(whole),
            }
        }
        for uri in abandoned {
            // Another object started before the last one ended.
            self.state.alerts_out.push_back(no_end_of_data_alert(&uri));
        }
        if !unmatched.is_empty() {
            self.event(DeviceEvent::UnmatchedResults {
                msg_ref,
                cmd_ref,
                items: unmatched,
            });
        }
        code
    }

    fn add_record(&mut self, r: Record) -> u64 {
        let id = self.state.next_record;
        self.state.next_record += 1;
        self.state.records.insert(id, r);
        id
    }

    /// Takes a record and its children out (with their refs) as an outcome.
    fn take_outcome(&mut self, id: u64) -> Option<Outcome> {
        let r = self.state.records.remove(&id)?;
        let disposition = r.disposition.clone().unwrap_or(if r.statuses.is_empty() {
            Disposition::NoStatus
        } else {
            Disposition::Answered
        });
        Some(Outcome {
            tag: r.tag,
            kind: r.kind,
            disposition,
            status: r.statuses.first().map(|s| s.1),
            item_statuses: r
                .statuses
                .iter()
                .filter_map(|(t, c)| {
                    t.as_ref().map(|t| ItemStatus {
                        item_ref: t.clone(),
                        code: *c,
                    })
                })
                .collect(),
            original_error: r.original_error,
            results: r.results,
            children: r
                .children
                .iter()
                .filter_map(|&c| self.take_outcome(c))
                .collect(),
            msg_ref: r.msg_ref,
            cmd_ref: r.cmd_ref,
        })
    }

    /// Reports a command that was never sent.
    fn report_unsent(&mut self, tag: u64, kind: Option<CommandKind>, disposition: Disposition) {
        let kind = kind.unwrap_or(CommandKind::Status);
        let mut r = Record::new(tag, kind, "", "", true);
        r.disposition = Some(disposition);
        let id = self.add_record(r);
        self.report_ids(&[id]);
    }

    /// Reports the records as outcomes, then drops the refs naming them (once for the
    /// batch: the refs map is walked once, not once per record).
    fn report_ids(&mut self, ids: &[u64]) {
        let before = self.events.len();
        for &id in ids {
            if let Some(o) = self.take_outcome(id) {
                self.events.push_back(ServerEvent::Outcome(o));
            }
        }
        if self.events.len() > before {
            let live = &self.state.records;
            self.state
                .refs
                .retain(|_, r| !matches!(r, Ref::Record(i, _) if !live.contains_key(i)));
        }
    }

    /// Reports every top-level record the filter selects, in issue order.
    fn report_where(&mut self, f: impl Fn(u64, &Record) -> bool) {
        let ids: Vec<u64> = self
            .state
            .records
            .iter()
            .filter(|(id, r)| r.top && f(**id, r))
            .map(|(id, _)| *id)
            .collect();
        self.report_ids(&ids);
    }

    fn register(&mut self, tag: u64, cmd: &Command<'static>, msg: &str, top: bool) -> u64 {
        let kind = cmd.kind().unwrap_or(CommandKind::Status);
        let cmd_id = cmd.cmd_id().unwrap_or("").to_owned();
        let idx = self.add_record(Record::new(tag, kind, msg, &cmd_id, top));
        self.state
            .refs
            .insert((msg.to_owned(), cmd_id), Ref::Record(idx, RefKind::Normal));
        if let Command::Atomic(k) | Command::Sequence(k) = cmd {
            for c in &k.commands {
                let ci = self.register(tag, c, msg, false);
                if let Some(r) = self.state.records.get_mut(&idx) {
                    r.children.push(ci);
                }
            }
        }
        idx
    }

    fn header(&self) -> SyncHdr<'static> {
        SyncHdr {
            ver_dtd: Some(Cow::Borrowed("1.2")),
            ver_proto: Some(Cow::Borrowed("DM/1.2")),
            session_id: self.state.session_id.clone().map(Cow::Owned),
            msg_id: Some(Cow::Owned(self.state.my_msg_id.to_string())),
            target: self.state.device_id.clone().map(Location::uri),
            source: Some(Location::uri(self.cfg.server_uri.clone())),
            meta: self.cfg.declared_max_msg_size.map(|n| Meta {
                max_msg_size: Some(n),
                ..Meta::default()
            }),
            ..SyncHdr::default()
        }
    }
}

/// The `SyncHdr` Status code that answers a message the engine refused with `e`
/// ([`ServerSession::receive`], [`ServerSession::respond`]), for [`refusal`]. Codes of
/// OMA-DM 1.2 (SyncML RepPro section 10):
///
/// | `SessionError` | code |
/// |---|---|
/// | `MissingHeader`, `BadMsgId`, `UnexpectedMsgId`, `SessionMismatch`, `SenderChanged`, `Finished` | 400 Bad Request: the message does not fit the session (a header element missing, out of order, from another sender, after the session's end) |
/// | `Expired` | 408 Request Timeout: the pause since the previous message was longer than `ServerConfig::session_timeout` |
/// | `MaxMsgSizeTooSmall` | 406 Optional Feature Not Supported: no response fits a `MaxMsgSize` below [`MIN_MAX_MSG_SIZE`] |
/// | `TooManyMessages`, `ResponsePending`, `NoResponsePending`, `NotStarted` | 500 Command Failed: the server cannot go on with the session |
///
/// An unsupported `VerDTD` (505) or `VerProto` (513), a refused identity (403) and failed
/// DM authentication (401, 407) are not errors: `receive` answers them itself in the
/// response's SyncHdr Status.
pub fn refusal_code(e: &SessionError) -> StatusCode {
    match e {
        SessionError::MissingHeader(_)
        | SessionError::BadMsgId(_)
        | SessionError::UnexpectedMsgId { .. }
        | SessionError::SessionMismatch { .. }
        | SessionError::SenderChanged
        | SessionError::Finished => StatusCode::BAD_REQUEST,
        SessionError::Expired => StatusCode::REQUEST_TIMEOUT,
        SessionError::MaxMsgSizeTooSmall(_) => StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED,
        SessionError::TooManyMessages(_)
        | SessionError::ResponsePending
        | SessionError::NoResponsePending
        | SessionError::NotStarted => StatusCode::COMMAND_FAILED,
    }
}

/// A response that answers the device message `msg` with only its `SyncHdr` Status
/// `code`, and `Final`: how a server refuses a message it could read but will not process
/// (see [`refusal_code`]; [`ServerSession::refuse`] numbers it in a session). The
/// header is the received one turned around: the same `SessionID`, `Target` the
/// message's `Source` (the device), `Source` `server_uri`, `MsgID` `msg_id` (the
/// server's next message number in the session). The Status (CmdID 1) refers to the
/// message's `MsgID` with `CmdRef` 0 and `Cmd` `SyncHdr`. An error code on the SyncHdr
/// ends the session for the device, which does not answer a Final message of Statuses.
///
/// Send it as any other SyncML response (HTTP 200). A body that is not SyncML, or whose
/// `SyncHdr` has no `SessionID` or numeric `MsgID` ([`SessionHeader::read`] fails),
/// cannot be referred to: refuse it at the transport (HTTP 400).
///
/// ```
/// use winmdm_omadm::StatusCode;
/// use winmdm_omadm::server::refusal;
/// let msg = winmdm_omadm::decode(br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>
///   <VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1A</SessionID><MsgID>3</MsgID>
///   <Target><LocURI>https://mdm.example/omadm</LocURI></Target>
///   <Source><LocURI>DEVICE1</LocURI></Source></SyncHdr><SyncBody><Final/></SyncBody></SyncML>"#)?;
/// let reply = refusal(&msg, "https://mdm.example/omadm", 2, StatusCode::BAD_REQUEST);
/// let xml = reply.to_xml()?;
/// assert!(xml.contains("<MsgRef>3</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>400</Data>"));
/// assert!(reply.body.r#final);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn refusal(
    msg: &SyncML<'_>,
    server_uri: &str,
    msg_id: u64,
    code: StatusCode,
) -> SyncML<'static> {
    let h = &msg.hdr;
    let trimmed = |v: Option<&str>| v.map(|s| s.trim().to_owned());
    let device = h
        .source
        .as_ref()
        .and_then(|l| l.loc_uri.as_deref())
        .map(|u| Location::uri(u.trim().to_owned()));
    let msg_ref = trimmed(h.msg_id.as_deref()).unwrap_or_default();
    let mut st = status_for(&msg_ref, Some("0"), "SyncHdr", code);
    st.cmd_id = Some(Cow::Borrowed("1"));
    SyncML {
        hdr: SyncHdr {
            ver_dtd: Some(Cow::Borrowed("1.2")),
            ver_proto: Some(Cow::Borrowed("DM/1.2")),
            session_id: trimmed(h.session_id.as_deref()).map(Cow::Owned),
            msg_id: Some(Cow::Owned(msg_id.to_string())),
            target: device,
            source: Some(Location::uri(server_uri.to_owned())),
            ..SyncHdr::default()
        },
        body: winmdm_syncml::SyncBody {
            commands: vec![Command::Status(Box::new(st))],
            r#final: true,
            ..winmdm_syncml::SyncBody::default()
        },
        ..SyncML::default()
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;
    use crate::device::{DeviceConfig, DeviceSession};
    use crate::tree::MemoryTree;

    const URI: &str = "https://mdm.example/omadm";

    fn hdr_status<'m, 'x>(reply: &'m SyncML<'x>) -> &'m Status<'x> {
        assert_eq!(reply.body.commands.len(), 1, "{reply:?}");
        match &reply.body.commands[0] {
            Command::Status(st) => st,
            other => panic!("not a Status: {other:?}"),
        }
    }

    #[test]
    fn a_refusal_turns_the_header_around_and_carries_only_the_synchdr_status() {
        let msg = crate::decode(
            br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD>
            <VerProto>DM/1.2</VerProto><SessionID> 5 </SessionID><MsgID> 4 </MsgID>
            <Target><LocURI>https://mdm.example/omadm</LocURI></Target>
            <Source><LocURI> DEV-1 </LocURI></Source></SyncHdr>
            <SyncBody><Get><CmdID>2</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get><Final/></SyncBody></SyncML>"#,
        )
        .unwrap();
        let reply = refusal(&msg, URI, 7, StatusCode::REQUEST_TIMEOUT);
        let h = SessionHeader::read(&reply).unwrap();
        assert_eq!((h.session_id, h.msg_id), ("5", 7));
        assert_eq!((h.device_id, h.target), (Some(URI), Some("DEV-1")));
        let st = hdr_status(&reply);
        assert_eq!(st.cmd_id.as_deref(), Some("1"));
        assert_eq!(st.msg_ref.as_deref(), Some("4"));
        assert_eq!(st.cmd_ref.as_deref(), Some("0"));
        assert_eq!(st.cmd.as_deref(), Some("SyncHdr"));
        assert_eq!(st.code(), Some(StatusCode::REQUEST_TIMEOUT));
        assert!(reply.body.r#final);
        // It survives the wire.
        let xml = reply.to_xml().unwrap();
        let back = crate::decode(xml.as_bytes()).unwrap();
        assert_eq!(hdr_status(&back).code(), Some(StatusCode::REQUEST_TIMEOUT));
    }

    #[test]
    fn refusal_codes_follow_the_error() {
        let cases = [
            (SessionError::MissingHeader("Source"), 400),
            (SessionError::BadMsgId("x".into()), 400),
            (
                SessionError::UnexpectedMsgId {
                    expected: 2,
                    got: 5,
                },
                400,
            ),
            (SessionError::SenderChanged, 400),
            (SessionError::Finished, 400),
            (SessionError::Expired, 408),
            (SessionError::MaxMsgSizeTooSmall(100), 406),
            (SessionError::TooManyMessages(3), 500),
            (SessionError::NoResponsePending, 500),
        ];
        for (e, code) in cases {
            assert_eq!(refusal_code(&e).0, code, "{e}");
        }
    }

    #[test]
    fn the_engine_numbers_its_refusal_and_the_device_ends_the_session_on_it() {
        let cfg = ServerConfig::new(URI);
        let mut server = ServerSession::new(cfg.clone());
        let mut device = DeviceSession::new(DeviceConfig::new("DEV-1", URI, "9"));
        let mut tree = MemoryTree::new();
        let mut queue = FifoQueue::new();
        queue.push(crate::DmCommand::get(
            crate::LocUri::try_from("./DevInfo/Man").unwrap(),
        ));
        let m1 = device.start();
        let r1 = server
            .handle(&m1, SystemTime::UNIX_EPOCH, &mut queue)
            .unwrap();
        let m2 = device
            .handle(&r1, &mut tree)
            .unwrap()
            .expect("the Get is answered");

        // Message 2 arrives with MsgID 5: refused, numbered as the server's message 2.
        let mut skipped = m2.clone();
        skipped.hdr.msg_id = Some(Cow::Borrowed("5"));
        let e = server
            .receive(&skipped, SystemTime::UNIX_EPOCH)
            .unwrap_err();
        assert_eq!(refusal_code(&e), StatusCode::BAD_REQUEST);
        let refused = server.refuse(&skipped, refusal_code(&e));
        let h = SessionHeader::read(&refused).unwrap();
        assert_eq!((h.session_id, h.msg_id), ("9", 2));
        assert_eq!(hdr_status(&refused).msg_ref.as_deref(), Some("5"));

        // The engine is unchanged: the real message 2 goes on.
        server
            .handle(&m2, SystemTime::UNIX_EPOCH, &mut queue)
            .unwrap();

        // A device that gets the refusal ends its session without answering.
        let mut other = DeviceSession::new(DeviceConfig::new("DEV-1", URI, "9"));
        let first = other.start();
        let fresh = ServerSession::new(cfg);
        let refused = fresh.refuse(&first, StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED);
        assert_eq!(SessionHeader::read(&refused).unwrap().msg_id, 1);
        assert!(other.handle(&refused, &mut tree).unwrap().is_none());
    }
}
