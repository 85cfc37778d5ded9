//! The server session engine (sans-IO).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use winmdm_syncml::{
    Command, CommandKind, Item, Location, Meta, Results, Status, StatusCode, SyncBody, SyncHdr,
    SyncML,
};

use crate::alert::DeviceAlert;
use crate::auth::{self, IdentityBinding, ServerAuth};
use crate::command::DmCommand;
use crate::package::{
    self, Chunk, DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE, Reassembly,
};
use crate::session::{
    Disposition, ItemStatus, Outcome, SessionError, asks_next, has_new_commands,
    next_message_alert, no_end_of_data_alert, status_for,
};

/// Server engine settings.
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
    /// DM-level authentication; `None` relies on the TLS client certificate only.
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
}

/// The product side of the server engine: the command queue and where outcomes go.
pub trait CommandQueue {
    /// The next command to send, `None` when nothing is queued. Called only when there
    /// is room; a command pulled but not fitting is kept by the engine and sent first in
    /// the next message.
    fn next_command(&mut self) -> Option<Queued>;
    /// The outcome of an issued command.
    fn outcome(&mut self, outcome: Outcome);
    /// Alerts, device information and authentication results.
    fn event(&mut self, event: DeviceEvent) {
        let _ = event;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Normal,
    /// An intermediate chunk of a large object (213 expected).
    Chunk,
}

#[derive(Debug)]
struct Record {
    tag: u64,
    kind: CommandKind,
    msg_ref: String,
    cmd_ref: String,
    statuses: Vec<(Option<String>, StatusCode)>,
    original_error: Option<String>,
    results: Vec<Item<'static>>,
    results_done: bool,
    children: Vec<usize>,
    top: bool,
    reported: bool,
    disposition: Option<Disposition>,
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
            results_done: false,
            children: Vec::new(),
            top,
            reported: false,
            disposition: None,
        }
    }
}

#[derive(Debug)]
struct OutLo {
    template: Command<'static>,
    text: String,
    offset: usize,
    record: usize,
}

#[derive(Debug)]
struct InLo {
    re: Reassembly,
    record: Option<usize>,
    uri: String,
    /// A chunk arrived in the current message.
    touched: bool,
}

/// The server side of one OMA-DM session.
///
/// Feed it each device message with [`ServerSession::handle`]; it returns the response
/// to send. Time is an input; there is no IO, clock or storage inside.
///
/// ```
/// use std::time::SystemTime;
/// use winmdm_omadm::{CommandQueue, DmCommand, LocUri, Outcome, Queued, ServerConfig, ServerSession};
///
/// #[derive(Default)]
/// struct Q { todo: Vec<Queued>, done: Vec<Outcome> }
/// impl CommandQueue for Q {
///     fn next_command(&mut self) -> Option<Queued> { self.todo.pop() }
///     fn outcome(&mut self, o: Outcome) { self.done.push(o) }
/// }
///
/// let pkg1 = winmdm_syncml::decode(br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>
///   <VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>
///   <Target><LocURI>https://mdm.example/omadm</LocURI></Target>
///   <Source><LocURI>DEVICE1</LocURI></Source></SyncHdr>
///   <SyncBody><Alert><CmdID>2</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"#)?;
/// let mut q = Q::default();
/// q.todo.push(Queued { tag: 7, command: DmCommand::get(LocUri::try_from("./DevDetail/SwV")?) });
/// let mut s = ServerSession::new(ServerConfig::new("https://mdm.example/omadm"));
/// let reply = s.handle(&pkg1, SystemTime::UNIX_EPOCH, &mut q)?;
/// assert_eq!(reply.body.commands.len(), 3); // Status(SyncHdr), Status(Alert), Get
/// assert!(reply.body.r#final);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ServerSession {
    cfg: ServerConfig,
    identity: Option<Box<dyn IdentityBinding>>,
    session_id: Option<String>,
    device_id: Option<String>,
    last_device_msg: Option<u64>,
    last_seen: Option<SystemTime>,
    last_reply: Option<SyncML<'static>>,
    my_msg_id: u64,
    messages: usize,
    statuses: VecDeque<Status<'static>>,
    pending: Option<Queued>,
    /// The pending command was already put off once: it is not put off again.
    pending_deferred: bool,
    lo_out: Option<OutLo>,
    lo_in: Option<InLo>,
    /// Alerts to send (1225 for abandoned incoming objects).
    alerts_out: Vec<Command<'static>>,
    records: Vec<Record>,
    refs: HashMap<(String, String), (usize, RefKind)>,
    device_max_msg: u64,
    device_max_obj: Option<u64>,
    authenticated: bool,
    auth_failures: u32,
    finished: bool,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("session_id", &self.session_id)
            .field("device_id", &self.device_id)
            .field("my_msg_id", &self.my_msg_id)
            .field("finished", &self.finished)
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
        let device_max_msg = cfg.default_max_msg_size;
        ServerSession {
            cfg,
            identity: None,
            session_id: None,
            device_id: None,
            last_device_msg: None,
            last_seen: None,
            last_reply: None,
            my_msg_id: 0,
            messages: 0,
            statuses: VecDeque::new(),
            pending: None,
            pending_deferred: false,
            lo_out: None,
            lo_in: None,
            alerts_out: Vec::new(),
            records: Vec::new(),
            refs: HashMap::new(),
            device_max_msg,
            device_max_obj: None,
            authenticated: false,
            auth_failures: 0,
            finished: false,
        }
    }

    /// Binds the TLS client certificate's identity: messages whose `Source` it does not
    /// allow get `403` on the SyncHdr and end the session.
    pub fn with_identity(mut self, binding: impl IdentityBinding + 'static) -> Self {
        self.identity = Some(Box::new(binding));
        self
    }

    /// Whether the session is over (the last response ended it).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The session's `SessionID`, once known.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The device's ID (`SyncHdr/Source/LocURI`), once known.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The nonce the device must use in its next session (MD5): store it.
    pub fn nonce_for_next_session(&self) -> Option<&[u8]> {
        let a = self.cfg.auth.as_ref()?;
        Some(if self.authenticated {
            &a.next_session_nonce
        } else {
            &a.nonce
        })
    }

    /// The `MaxMsgSize` the responses are held to.
    pub fn max_msg_size(&self) -> u64 {
        self.device_max_msg
    }

    /// Ends the session from the product's side: every command still without a status
    /// is reported with [`Disposition::NoStatus`].
    pub fn abandon(&mut self, queue: &mut dyn CommandQueue) {
        self.finish(queue);
    }

    fn finish(&mut self, queue: &mut dyn CommandQueue) {
        self.finished = true;
        if let Some(p) = self.pending.take() {
            let mut r = Record::new(p.tag, p.command.kind(), "", "", true);
            r.disposition = Some(Disposition::NoStatus);
            self.records.push(r);
        }
        self.lo_out = None;
        self.report_all(queue);
    }

    fn check_header(&mut self, msg: &SyncML<'_>, now: SystemTime) -> Result<u64, SessionError> {
        let h = &msg.hdr;
        let sid = h
            .session_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("SessionID"))?;
        let mid = h
            .msg_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("MsgID"))?;
        let src = h
            .source
            .as_ref()
            .and_then(|s| s.loc_uri.as_deref())
            .ok_or(SessionError::MissingHeader("Source"))?;
        let mid: u64 = mid
            .trim()
            .parse()
            .map_err(|_| SessionError::BadMsgId(mid.to_owned()))?;
        match &self.session_id {
            None => {
                self.session_id = Some(sid.trim().to_owned());
                self.device_id = Some(src.trim().to_owned());
            }
            Some(s) => {
                if s != sid.trim() {
                    return Err(SessionError::SessionMismatch {
                        expected: s.clone(),
                        got: sid.to_owned(),
                    });
                }
                if self.device_id.as_deref() != Some(src.trim()) {
                    return Err(SessionError::SenderChanged);
                }
                if let Some(last) = self.last_seen
                    && now.duration_since(last).unwrap_or_default() > self.cfg.session_timeout
                {
                    return Err(SessionError::Expired);
                }
            }
        }
        Ok(mid)
    }

    fn verdict(&mut self, h: &SyncHdr<'_>, queue: &mut dyn CommandQueue) -> HdrVerdict {
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
        if let (Some(b), Some(d)) = (&self.identity, &self.device_id)
            && !b.allows(d)
        {
            return HdrVerdict::Refuse(StatusCode::FORBIDDEN, None, true);
        }
        let Some(a) = self.cfg.auth.clone() else {
            return HdrVerdict::Accept(StatusCode::OK, None);
        };
        if self.authenticated {
            return HdrVerdict::Accept(StatusCode::OK, None);
        }
        let ok = h
            .cred
            .as_ref()
            .is_some_and(|c| auth::verify(c, a.scheme, &a.credentials, &a.nonce));
        if ok {
            self.authenticated = true;
            queue.event(DeviceEvent::Authenticated);
            let ch = (a.scheme == auth::AuthScheme::Md5)
                .then(|| auth::chal(a.scheme, &a.next_session_nonce));
            return HdrVerdict::Accept(StatusCode::AUTHENTICATION_ACCEPTED, ch);
        }
        queue.event(DeviceEvent::AuthenticationFailed);
        let code = if h.cred.is_some() {
            self.auth_failures += 1;
            StatusCode::INVALID_CREDENTIALS
        } else {
            StatusCode::MISSING_CREDENTIALS
        };
        // Rotate: the device answers the challenge with the fresh nonce.
        if let Some(cfg) = self.cfg.auth.as_mut() {
            cfg.nonce = cfg.challenge_nonce.clone();
        }
        let give_up = self.auth_failures >= a.max_failures;
        HdrVerdict::Refuse(
            code,
            Some(auth::chal(a.scheme, &a.challenge_nonce)),
            give_up,
        )
    }

    /// Processes one device message and returns the response.
    ///
    /// A retransmitted message (same `MsgID` as the previous one) gets the previous
    /// response again.
    pub fn handle(
        &mut self,
        msg: &SyncML<'_>,
        now: SystemTime,
        queue: &mut dyn CommandQueue,
    ) -> Result<SyncML<'static>, SessionError> {
        let mid = self.check_header(msg, now)?;
        if let Some(last) = self.last_device_msg {
            if mid == last {
                // A retransmission (the response got lost): the same response, even
                // after the session finished.
                if let Some(r) = &self.last_reply {
                    return Ok(r.clone());
                }
            }
            if self.finished {
                return Err(SessionError::Finished);
            }
            if mid != last + 1 {
                return Err(SessionError::UnexpectedMsgId {
                    expected: last + 1,
                    got: mid,
                });
            }
        }
        self.messages += 1;
        if self.messages > self.cfg.max_messages {
            return Err(SessionError::TooManyMessages(self.cfg.max_messages));
        }
        if let Some(m) = &msg.hdr.meta {
            if let Some(n) = m.max_msg_size {
                if n < MIN_MAX_MSG_SIZE {
                    return Err(SessionError::MaxMsgSizeTooSmall(n));
                }
                self.device_max_msg = n;
            }
            if m.max_obj_size.is_some() {
                self.device_max_obj = m.max_obj_size;
            }
        }
        self.last_device_msg = Some(mid);
        self.last_seen = Some(now);
        let msg_ref = mid.to_string();

        let verdict = self.verdict(&msg.hdr, queue);
        let (code, chal) = match verdict {
            HdrVerdict::Accept(c, ch) => (c, ch),
            HdrVerdict::Refuse(c, ch, end) => {
                let mut st = status_for(&msg_ref, Some("0"), "SyncHdr", c);
                st.chal = ch.map(Box::new);
                self.statuses.push_front(st);
                let reply = self.build(queue, Mode::StatusesOnly);
                if end {
                    self.finish(queue);
                }
                self.last_reply = Some(reply.clone());
                return Ok(reply);
            }
        };
        let mut st = status_for(&msg_ref, Some("0"), "SyncHdr", code);
        st.chal = chal.map(Box::new);
        // The SyncHdr's Status goes first, before Statuses left over from earlier
        // messages.
        self.statuses.push_front(st);

        let mut abort = false;
        if let Some(l) = self.lo_in.as_mut() {
            l.touched = false;
        }
        for c in &msg.body.commands {
            if self.device_command(c, &msg_ref, queue) {
                abort = true;
            }
        }
        // A message that ends the package or brings other commands without the next
        // chunk of an open object ends that object.
        if self.lo_in.as_ref().is_some_and(|l| !l.touched)
            && (msg.body.r#final || has_new_commands(&msg.body.commands))
            && let Some(old) = self.lo_in.take()
        {
            self.alerts_out.push(no_end_of_data_alert(&old.uri));
        }
        let next = asks_next(&msg.body.commands);
        if msg.body.r#final || next {
            // The device's package is complete: it answered everything it received.
            self.flush_answered(queue);
        }
        let mode = if abort {
            Mode::StatusesOnly
        } else if !msg.body.r#final && !next {
            Mode::RequestNext
        } else {
            Mode::Continue
        };
        let reply = self.build(queue, mode);
        if abort || (reply.body.r#final && only_statuses(&reply)) {
            self.finish(queue);
        }
        self.last_reply = Some(reply.clone());
        Ok(reply)
    }

    /// Handles one device command; returns true on session abort.
    fn device_command(
        &mut self,
        c: &Command<'_>,
        msg_ref: &str,
        queue: &mut dyn CommandQueue,
    ) -> bool {
        let id = c.cmd_id();
        let name = c.name().to_owned();
        let reply = |s: &mut Self, code: StatusCode| {
            s.statuses.push_back(status_for(msg_ref, id, &name, code));
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
                    if let Some(lo) = self.lo_out.take() {
                        self.records[lo.record].disposition = Some(Disposition::Incomplete);
                    }
                }
                let d = DeviceAlert::decode(a);
                let abort = d == DeviceAlert::SessionAbort;
                queue.event(DeviceEvent::Alert(d));
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
                queue.event(DeviceEvent::DeviceInfo(info));
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
        if cmd_ref == "0" || st.cmd.as_deref() == Some("SyncHdr") {
            return;
        }
        let Some(&(idx, kind)) = self.refs.get(&(msg_ref, cmd_ref)) else {
            return;
        };
        let Some(code) = st.code() else { return };
        if kind == RefKind::Chunk {
            if code == StatusCode::CHUNKED_ITEM_ACCEPTED {
                return;
            }
            // The device refused a chunk: the object is abandoned.
            if self.lo_out.as_ref().is_some_and(|l| l.record == idx) {
                self.lo_out = None;
            }
        }
        let rec = &mut self.records[idx];
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
        let rec = self.refs.get(&(msg_ref, cmd_ref)).map(|x| x.0);
        let mut code = StatusCode::OK;
        for it in &r.items {
            let key = format!("{:?}/{}", rec, it.source_uri().unwrap_or(""));
            let chunked = it.more_data || self.lo_in.as_ref().is_some_and(|l| l.re.key == key);
            if !chunked {
                if let Some(i) = rec {
                    self.records[i].results.push(it.clone().into_owned());
                    self.records[i].results_done = true;
                }
                continue;
            }
            if self.lo_in.as_ref().is_none_or(|l| l.re.key != key) {
                if let Some(old) = self.lo_in.take() {
                    // Another object starts before the last one ended.
                    self.alerts_out.push(no_end_of_data_alert(&old.uri));
                }
                match Reassembly::start(key, it, self.cfg.max_object_size) {
                    Ok(re) => {
                        self.lo_in = Some(InLo {
                            re,
                            record: rec,
                            uri: it.source_uri().unwrap_or("").to_owned(),
                            touched: false,
                        })
                    }
                    Err(c) => {
                        code = c;
                        continue;
                    }
                }
            }
            let Some(lo) = self.lo_in.as_mut() else {
                continue;
            };
            lo.touched = true;
            match lo.re.push(it) {
                Chunk::Buffered => code = StatusCode::CHUNKED_ITEM_ACCEPTED,
                Chunk::Complete(text, meta) => {
                    let lo = self.lo_in.take();
                    if let Some(i) = lo.and_then(|l| l.record) {
                        let mut full = it.clone().into_owned();
                        full.more_data = false;
                        full.meta = meta.map(|m| *m);
                        full.data = Some(winmdm_syncml::Data::text(text));
                        self.records[i].results.push(full);
                        self.records[i].results_done = true;
                    }
                }
                Chunk::Failed(c) => {
                    self.lo_in = None;
                    code = c;
                }
            }
        }
        code
    }

    fn outcome(&self, i: usize) -> Outcome {
        let r = &self.records[i];
        let disposition = r.disposition.clone().unwrap_or(if r.statuses.is_empty() {
            Disposition::NoStatus
        } else {
            Disposition::Answered
        });
        Outcome {
            tag: r.tag,
            kind: r.kind,
            msg_ref: r.msg_ref.clone(),
            cmd_ref: r.cmd_ref.clone(),
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
            original_error: r.original_error.clone(),
            results: r.results.clone(),
            children: r.children.iter().map(|&c| self.outcome(c)).collect(),
        }
    }

    /// Reports every top-level record not reported yet.
    fn report_all(&mut self, queue: &mut dyn CommandQueue) {
        for i in 0..self.records.len() {
            if self.records[i].top && !self.records[i].reported {
                self.records[i].reported = true;
                queue.outcome(self.outcome(i));
            }
        }
    }

    /// The device ended its package: whatever it did not answer will not be answered.
    fn flush_answered(&mut self, queue: &mut dyn CommandQueue) {
        for i in 0..self.records.len() {
            let r = &self.records[i];
            let lo = self.lo_out.as_ref().is_some_and(|l| l.record == i);
            if r.top && !r.reported && !lo {
                self.records[i].reported = true;
                queue.outcome(self.outcome(i));
            }
        }
    }

    fn register(&mut self, tag: u64, cmd: &Command<'static>, msg: &str, top: bool) -> usize {
        let kind = cmd.kind().unwrap_or(CommandKind::Status);
        let id = cmd.cmd_id().unwrap_or("").to_owned();
        let idx = self.records.len();
        self.records.push(Record::new(tag, kind, msg, &id, top));
        self.refs
            .insert((msg.to_owned(), id), (idx, RefKind::Normal));
        if let Command::Atomic(k) | Command::Sequence(k) = cmd {
            for c in &k.commands {
                let ci = self.register(tag, c, msg, false);
                self.records[idx].children.push(ci);
            }
        }
        idx
    }

    fn header(&self) -> SyncHdr<'static> {
        SyncHdr {
            ver_dtd: Some(Cow::Borrowed("1.2")),
            ver_proto: Some(Cow::Borrowed("DM/1.2")),
            session_id: self.session_id.clone().map(Cow::Owned),
            msg_id: Some(Cow::Owned(self.my_msg_id.to_string())),
            target: self.device_id.clone().map(Location::uri),
            source: Some(Location::uri(self.cfg.server_uri.clone())),
            meta: self.cfg.declared_max_msg_size.map(|n| Meta {
                max_msg_size: Some(n),
                ..Meta::default()
            }),
            ..SyncHdr::default()
        }
    }

    fn build(&mut self, queue: &mut dyn CommandQueue, mode: Mode) -> SyncML<'static> {
        self.my_msg_id += 1;
        let hdr = self.header();
        let msg = self.my_msg_id.to_string();
        let budget = usize::try_from(self.device_max_msg).unwrap_or(usize::MAX);
        let base = package::base_len(&hdr);
        let mut cur = base;
        let mut next: u32 = 1;
        let mut cmds: Vec<Command<'static>> = Vec::new();
        // Room kept for the 1222 alert when asking for the next message.
        let reserve = if mode == Mode::RequestNext {
            let mut a = next_message_alert();
            package::assign_ids(&mut a, &mut 99_999);
            a.encoded_len()
        } else {
            0
        };
        while let Some(st) = self.statuses.front() {
            let mut c = Command::Status(st.clone());
            let save = next;
            package::assign_ids(&mut c, &mut next);
            let l = c.encoded_len();
            if cur + l + reserve > budget && !cmds.is_empty() {
                next = save;
                break;
            }
            self.statuses.pop_front();
            cur += l;
            cmds.push(c);
        }
        let statuses_left = !self.statuses.is_empty();
        if !statuses_left {
            while let Some(a) = self.alerts_out.first() {
                let mut a = a.clone();
                let save = next;
                package::assign_ids(&mut a, &mut next);
                let l = a.encoded_len();
                if cur + l + reserve > budget {
                    next = save;
                    break;
                }
                self.alerts_out.remove(0);
                cur += l;
                cmds.push(a);
            }
        }
        // A message always carries the SyncHdr's Status: what does not fit beside it
        // never fits.
        let floor = base + cmds.first().map_or(0, Command::encoded_len);
        let mut queue_empty = false;
        match mode {
            Mode::RequestNext => {
                let mut a = next_message_alert();
                package::assign_ids(&mut a, &mut next);
                cmds.push(a);
            }
            Mode::StatusesOnly => queue_empty = true,
            Mode::Continue if !statuses_left => {
                queue_empty = self.fill(queue, &msg, floor, budget, &mut cur, &mut next, &mut cmds);
            }
            Mode::Continue => {}
        }
        let fin = mode != Mode::RequestNext
            && !statuses_left
            && self.alerts_out.is_empty()
            && self.lo_out.is_none()
            && self.pending.is_none()
            && queue_empty;
        SyncML {
            hdr,
            body: SyncBody {
                commands: cmds,
                r#final: fin,
                ..SyncBody::default()
            },
            ..SyncML::default()
        }
    }

    /// Places the next chunk of the outgoing large object if one fits; returns whether
    /// the object is complete.
    fn place_chunk(
        &mut self,
        msg: &str,
        budget: usize,
        cur: &mut usize,
        next: &mut u32,
        cmds: &mut Vec<Command<'static>>,
    ) -> bool {
        let Some(mut lo) = self.lo_out.take() else {
            return true;
        };
        let mut t = lo.template.clone();
        let save = *next;
        package::assign_ids(&mut t, next);
        let Some((chunk, off)) =
            package::make_chunk(&t, &lo.text, lo.offset, budget.saturating_sub(*cur))
        else {
            *next = save;
            self.lo_out = Some(lo);
            return false;
        };
        lo.offset = off;
        let id = chunk.cmd_id().unwrap_or("").to_owned();
        let last = off == lo.text.len();
        if self.records[lo.record].cmd_ref.is_empty() {
            // Until the last chunk goes out, the outcome names the first one.
            let r = &mut self.records[lo.record];
            r.msg_ref = msg.to_owned();
            r.cmd_ref = id.clone();
        }
        let kind = if last {
            RefKind::Normal
        } else {
            RefKind::Chunk
        };
        self.refs
            .insert((msg.to_owned(), id.clone()), (lo.record, kind));
        *cur += chunk.encoded_len();
        cmds.push(chunk);
        if last {
            let r = &mut self.records[lo.record];
            r.msg_ref = msg.to_owned();
            r.cmd_ref = id;
            true
        } else {
            self.lo_out = Some(lo);
            false
        }
    }

    /// Adds the large-object continuation and new commands. Returns whether the queue
    /// ran dry.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        queue: &mut dyn CommandQueue,
        msg: &str,
        base: usize,
        budget: usize,
        cur: &mut usize,
        next: &mut u32,
        cmds: &mut Vec<Command<'static>>,
    ) -> bool {
        if self.lo_out.is_some() && !self.place_chunk(msg, budget, cur, next, cmds) {
            return false;
        }
        loop {
            let deferred = std::mem::take(&mut self.pending_deferred);
            let Some(q) = self.pending.take().or_else(|| queue.next_command()) else {
                return true;
            };
            let save = *next;
            let mut n = *next;
            let cmd = q.command.to_command(&mut || {
                let s = n.to_string();
                n += 1;
                s
            });
            let l = cmd.encoded_len();
            if *cur + l <= budget {
                *next = n;
                *cur += l;
                self.register(q.tag, &cmd, msg, true);
                cmds.push(cmd);
                continue;
            }
            // Put off to the next message once (it fits beside the SyncHdr's Status);
            // if it does not fit there either, it is too large.
            if base + l <= budget && !deferred {
                self.pending = Some(q);
                self.pending_deferred = true;
                return false;
            }
            let too_big_obj = self
                .device_max_obj
                .is_some_and(|m| package::lo_text_len(&cmd) as u64 > m);
            let startable = |cmd: Command<'static>| {
                let (template, text) = package::split_lo(cmd);
                let mut t = template.clone();
                package::assign_ids(&mut t, &mut 99_999);
                // Room for a few Statuses beside the chunk in every message.
                let room = budget.saturating_sub(base + LO_STATUS_ROOM);
                let ok = package::make_chunk(&t, &text, 0, room).is_some();
                (ok, template, text)
            };
            let lo = (package::chunkable(&cmd) && !too_big_obj).then(|| startable(cmd));
            if let Some((true, template, text)) = lo {
                self.records
                    .push(Record::new(q.tag, q.command.kind(), msg, "", true));
                let record = self.records.len() - 1;
                *next = save;
                self.lo_out = Some(OutLo {
                    template,
                    text,
                    offset: 0,
                    record,
                });
                // Start it now if a chunk fits, otherwise in the next message.
                self.place_chunk(msg, budget, cur, next, cmds);
                return false;
            }
            let mut r = Record::new(q.tag, q.command.kind(), "", "", true);
            r.disposition = Some(Disposition::TooLarge);
            r.reported = true;
            self.records.push(r);
            queue.outcome(self.outcome(self.records.len() - 1));
        }
    }
}

/// Room kept for Statuses when checking that a large object's chunks can fit.
const LO_STATUS_ROOM: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Statuses, then the package continues (large object, pending, queue).
    Continue,
    /// The device's package is not complete: Statuses and Alert 1222.
    RequestNext,
    /// Statuses only, Final (refusal, abort).
    StatusesOnly,
}

fn only_statuses(m: &SyncML<'_>) -> bool {
    m.body
        .commands
        .iter()
        .all(|c| matches!(c, Command::Status(_)))
}
