//! The device session engine (sans-IO), the mirror image of the server engine: for
//! emulators and tests. [`DeviceSession`] builds package 1 ([`DeviceSession::start`]),
//! executes each server message against a [`NodeTree`] and
//! answers it; [`DeviceConfig`] holds its settings (DevInfo, sizes,
//! [`DeviceAuth`]).
//!
//! # `msft:originalerror`
//!
//! When the tree reports an HRESULT beside a failure ([`NodeTree::original_error`]), the
//! failed Status carries it as Windows sends it (MS-MDM 2.2.5.1 and 2.2.4.3, the shape of
//! `crates/syncml/tests/data/published/ms-mdm-spec_2.2.5.1_data-originalerror.xml`): an
//! attribute `msft:originalerror="0x86000002"` on the Status's `Data`, and the prefix
//! declared on the message's `SyncBody`
//! (`xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM"`,
//! [`winmdm_syncml::MDM_NAMESPACE`]). The declaration is written on the messages that carry
//! such a Status, and counted in the server's `MaxMsgSize`.
//!
//! ```
//! use winmdm_omadm::device::{DeviceConfig, DeviceSession};
//! use winmdm_omadm::tree::{Hresult, MemoryTree, Node};
//! use winmdm_omadm::{Command, StatusCode, decode};
//!
//! let mut tree = MemoryTree::new();
//! tree.set("./Vendor/MSFT/A", Node::chr("1"))
//!     .fail_with("./Vendor/MSFT/A", StatusCode::COMMAND_FAILED, Hresult(0x8600_0002));
//! let mut device = DeviceSession::new(DeviceConfig::new("DEV", "https://mdm.example", "1"));
//! device.start();
//! let server = br#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD>
//!   <VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>
//!   <Target><LocURI>DEV</LocURI></Target><Source><LocURI>https://mdm.example</LocURI></Source>
//!   </SyncHdr><SyncBody><Replace><CmdID>2</CmdID><Item><Target><LocURI>./Vendor/MSFT/A</LocURI>
//!   </Target><Data>2</Data></Item></Replace><Final/></SyncBody></SyncML>"#;
//! let reply = device.handle(&decode(server)?, &mut tree)?.unwrap();
//! let wire = reply.to_xml()?;
//! assert!(wire.contains(r#"<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">"#));
//! assert!(wire.contains(r#"<Data msft:originalerror="0x86000002">500</Data>"#));
//! let back = decode(wire.as_bytes())?;
//! let Command::Status(st) = &back.body.commands[1] else { panic!() };
//! assert_eq!(st.original_error(), Some("0x86000002"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;

use winmdm_syncml::{
    Alert, AlertCode, Attr, Command, CommandKind, Container, Data, Item, ItemCommand, Location,
    MDM_NAMESPACE, Meta, Results, Status, StatusCode, SyncBody, SyncHdr, SyncML,
};

use crate::auth::{self, AuthScheme, DeviceAuth};
use crate::package::{
    self, DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, Fed, Fit, IncomingObject,
    MIN_MAX_MSG_SIZE, ObjectKey, OutgoingObject, Packer,
};
use crate::session::{SessionError, SessionHeader, asks_next, no_end_of_data_alert, status_for};
use crate::tree::{Hresult, Node, NodeTree};
use winmdm_types::{LocUri, Query};

/// The `./DevInfo` values sent in package 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    /// `./DevInfo/Man`
    pub man: String,
    /// `./DevInfo/Mod`
    pub model: String,
    /// `./DevInfo/DmV` (Windows: `1.3`)
    pub dmv: String,
    /// `./DevInfo/Lang`
    pub lang: String,
}

/// Device engine settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// The device ID (`./DevInfo/DevId`), `Source/LocURI` of every message.
    pub device_id: String,
    /// The server URL, `Target/LocURI`.
    pub server_uri: String,
    /// The `SessionID`.
    pub session_id: String,
    /// DevInfo values.
    pub dev_info: DevInfo,
    /// `com.microsoft/MDM/LoginStatus` value for the 1224 alert (`None`: no alert).
    pub login_status: Option<String>,
    /// Further alerts for package 1 (e.g. 1226 generic alerts), CmdIDs are assigned.
    pub extra_alerts: Vec<Alert<'static>>,
    /// `MaxMsgSize` declared in the device's `SyncHdr/Meta`.
    pub max_msg_size: Option<u64>,
    /// `MaxObjSize` declared in the device's `SyncHdr/Meta`.
    pub max_obj_size: Option<u64>,
    /// `MaxMsgSize` assumed for the server when it declares none.
    pub default_server_max_msg_size: u64,
    /// Largest incoming large object accepted.
    pub max_object_size: u64,
    /// Most server messages in the session. Default 10 000.
    pub max_messages: usize,
    /// DM-level authentication.
    pub auth: Option<DeviceAuth>,
}

impl DeviceConfig {
    /// Settings with Windows-like DevInfo (`DmV` 1.3, `en-US`), LoginStatus `user`.
    pub fn new(
        device_id: impl Into<String>,
        server_uri: impl Into<String>,
        session_id: impl Into<String>,
    ) -> Self {
        DeviceConfig {
            device_id: device_id.into(),
            server_uri: server_uri.into(),
            session_id: session_id.into(),
            dev_info: DevInfo {
                man: "winmdm".to_owned(),
                model: "emulator".to_owned(),
                dmv: "1.3".to_owned(),
                lang: "en-US".to_owned(),
            },
            login_status: Some("user".to_owned()),
            extra_alerts: Vec::new(),
            max_msg_size: None,
            max_obj_size: None,
            default_server_max_msg_size: DEFAULT_MAX_MSG_SIZE,
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            max_messages: 10_000,
            auth: None,
        }
    }
}

/// Where a device session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevicePhase {
    /// Package 1 not built yet ([`DeviceSession::start`]).
    New,
    /// Waiting for the server's next message.
    AwaitingServer,
    /// The session is over.
    Finished,
}

/// Device-side authentication state that changes during a session (a challenge may
/// switch the scheme and the nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceAuthState {
    pub(crate) scheme: AuthScheme,
    pub(crate) nonce: Vec<u8>,
    pub(crate) authenticated: bool,
    pub(crate) attempts: u32,
    pub(crate) next_session_nonce: Option<Vec<u8>>,
}

/// Everything a device session needs to continue: what a [`crate::snapshot::DeviceSnapshot`]
/// holds.
#[derive(Debug, Clone)]
pub(crate) struct DeviceState {
    pub(crate) phase: DevicePhase,
    pub(crate) my_msg_id: u64,
    pub(crate) last_server_msg: Option<u64>,
    pub(crate) server_max_msg: u64,
    pub(crate) statuses: VecDeque<Status<'static>>,
    pub(crate) out: VecDeque<Command<'static>>,
    /// The front of `out` was already put off once.
    pub(crate) out_deferred: bool,
    pub(crate) outgoing_object: Option<OutgoingObject>,
    pub(crate) incoming_object: Option<IncomingObject>,
    /// The server's package is not complete (its last message had no Final).
    pub(crate) server_more: bool,
    pub(crate) auth: DeviceAuthState,
    pub(crate) messages: usize,
}

/// The device side of one OMA-DM session.
///
/// [`DeviceSession::start`] builds package 1; [`DeviceSession::handle`] executes a
/// server message against a [`NodeTree`] and returns the reply, `None` when the session
/// is over. Between messages the state can be saved with
/// [`snapshot`](DeviceSession::snapshot) and continued with
/// [`restore`](DeviceSession::restore) (an emulator that restarts).
#[derive(Debug)]
pub struct DeviceSession {
    cfg: DeviceConfig,
    state: DeviceState,
}

impl DeviceSession {
    /// A new session.
    pub fn new(cfg: DeviceConfig) -> Self {
        let auth = DeviceAuthState {
            scheme: cfg.auth.as_ref().map_or(AuthScheme::Basic, |a| a.scheme),
            nonce: cfg
                .auth
                .as_ref()
                .map(|a| a.nonce.clone())
                .unwrap_or_default(),
            authenticated: false,
            attempts: 0,
            next_session_nonce: None,
        };
        let st = DeviceState {
            phase: DevicePhase::New,
            my_msg_id: 0,
            last_server_msg: None,
            server_max_msg: cfg.default_server_max_msg_size,
            statuses: VecDeque::new(),
            out: VecDeque::new(),
            out_deferred: false,
            outgoing_object: None,
            incoming_object: None,
            server_more: false,
            auth,
            messages: 0,
        };
        DeviceSession { cfg, state: st }
    }

    pub(crate) fn from_state(cfg: DeviceConfig, state: DeviceState) -> Self {
        DeviceSession { cfg, state }
    }

    pub(crate) fn state(&self) -> &DeviceState {
        &self.state
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// Where the session is.
    pub fn phase(&self) -> DevicePhase {
        self.state.phase
    }

    /// Whether the session is over.
    pub fn is_finished(&self) -> bool {
        self.state.phase == DevicePhase::Finished
    }

    /// The nonce the server gave for the next session (MD5 `NextNonce` with 212).
    pub fn next_session_nonce(&self) -> Option<&[u8]> {
        self.state.auth.next_session_nonce.as_deref()
    }

    fn header(&mut self) -> SyncHdr<'static> {
        self.state.my_msg_id += 1;
        let meta = Meta {
            max_msg_size: self.cfg.max_msg_size,
            max_obj_size: self.cfg.max_obj_size,
            ..Meta::default()
        };
        let a = &self.state.auth;
        let cred = match &self.cfg.auth {
            Some(c) if !a.authenticated => Some(auth::cred(a.scheme, &c.credentials, &a.nonce)),
            _ => None,
        };
        SyncHdr {
            ver_dtd: Some(Cow::Borrowed("1.2")),
            ver_proto: Some(Cow::Borrowed("DM/1.2")),
            session_id: Some(Cow::Owned(self.cfg.session_id.clone())),
            msg_id: Some(Cow::Owned(self.state.my_msg_id.to_string())),
            target: Some(Location::uri(self.cfg.server_uri.clone())),
            source: Some(Location::uri(self.cfg.device_id.clone())),
            cred: cred.map(Box::new),
            meta: (!meta.is_empty()).then_some(meta),
            ..SyncHdr::default()
        }
    }

    fn package1(&mut self) -> SyncML<'static> {
        let hdr = self.header();
        let mut cmds = vec![Command::Alert(Box::new(Alert {
            data: Some(Data::text(AlertCode::CLIENT_INITIATED_MGMT.0.to_string())),
            ..Alert::default()
        }))];
        if let Some(ls) = &self.cfg.login_status {
            cmds.push(Command::Alert(Box::new(Alert {
                data: Some(Data::text(AlertCode::CLIENT_EVENT.0.to_string())),
                items: vec![Item {
                    meta: Some(Box::new(Meta {
                        r#type: Some(Cow::Borrowed("com.microsoft/MDM/LoginStatus")),
                        ..Meta::default()
                    })),
                    data: Some(Data::text(ls.clone())),
                    ..Item::default()
                }],
                ..Alert::default()
            })));
        }
        cmds.extend(
            self.cfg
                .extra_alerts
                .iter()
                .map(|a| Command::Alert(Box::new(a.clone()))),
        );
        let di = &self.cfg.dev_info;
        let info = [
            ("./DevInfo/DevId", self.cfg.device_id.as_str()),
            ("./DevInfo/Man", di.man.as_str()),
            ("./DevInfo/Mod", di.model.as_str()),
            ("./DevInfo/DmV", di.dmv.as_str()),
            ("./DevInfo/Lang", di.lang.as_str()),
        ];
        cmds.push(Command::Replace(Box::new(ItemCommand {
            items: info
                .iter()
                .map(|(u, v)| Item {
                    source: Some(Location::uri(*u)),
                    data: Some(Data::text((*v).to_owned())),
                    ..Item::default()
                })
                .collect(),
            ..ItemCommand::default()
        })));
        // Windows numbers package 1 from 2 (1 would be the SyncHdr's Status slot).
        let mut next = 2;
        for c in &mut cmds {
            package::assign_ids(c, &mut next);
        }
        SyncML {
            hdr,
            body: SyncBody {
                commands: cmds,
                r#final: true,
                ..SyncBody::default()
            },
            ..SyncML::default()
        }
    }

    /// Package 1: Alert 1201, Alert 1224 LoginStatus, extra alerts, Replace DevInfo.
    pub fn start(&mut self) -> SyncML<'static> {
        self.state.phase = DevicePhase::AwaitingServer;
        self.package1()
    }

    fn end(&mut self) -> Result<Option<SyncML<'static>>, SessionError> {
        self.state.phase = DevicePhase::Finished;
        Ok(None)
    }

    /// Executes a server message and returns the reply; `None` when the session ended
    /// (the server sent only Statuses with Final, or refused the session).
    pub fn handle(
        &mut self,
        msg: &SyncML<'_>,
        tree: &mut dyn NodeTree,
    ) -> Result<Option<SyncML<'static>>, SessionError> {
        match self.state.phase {
            DevicePhase::New => return Err(SessionError::NotStarted),
            DevicePhase::Finished => return Err(SessionError::Finished),
            DevicePhase::AwaitingServer => {}
        }
        let h = SessionHeader::read(msg)?;
        if h.session_id != self.cfg.session_id {
            return Err(SessionError::SessionMismatch {
                expected: self.cfg.session_id.clone(),
                got: h.session_id.to_owned(),
            });
        }
        let mid = h.msg_id;
        if let Some(last) = self.state.last_server_msg
            && mid != last + 1
        {
            return Err(SessionError::UnexpectedMsgId {
                expected: last + 1,
                got: mid,
            });
        }
        if self.state.messages >= self.cfg.max_messages {
            return Err(SessionError::TooManyMessages(self.cfg.max_messages));
        }
        if let Some(n) = msg.hdr.meta.as_ref().and_then(|m| m.max_msg_size) {
            if n < MIN_MAX_MSG_SIZE {
                return Err(SessionError::MaxMsgSizeTooSmall(n));
            }
            self.state.server_max_msg = n;
        }
        self.state.last_server_msg = Some(mid);
        self.state.messages += 1;
        let msg_ref = mid.to_string();

        // Statuses from the server: the SyncHdr's decides about authentication.
        let mut hdr_code = None;
        for c in &msg.body.commands {
            if let Command::Status(st) = c
                && st.cmd_ref.as_deref().map(str::trim) == Some("0")
            {
                hdr_code = st.code();
                if let Some(ch) = &st.chal {
                    self.on_chal(ch, st.code());
                }
            }
        }
        match hdr_code {
            Some(StatusCode::AUTHENTICATION_ACCEPTED) => self.state.auth.authenticated = true,
            Some(StatusCode::INVALID_CREDENTIALS) | Some(StatusCode::MISSING_CREDENTIALS) => {
                self.state.auth.attempts += 1;
                let max = self.cfg.auth.as_ref().map_or(0, |a| a.max_attempts);
                if self.state.auth.attempts > max || self.cfg.auth.is_none() {
                    return self.end();
                }
                // Send package 1 again with credentials for the new nonce.
                return Ok(Some(self.package1()));
            }
            Some(c) if !c.is_success() => return self.end(),
            _ => {}
        }

        let only_statuses = msg
            .body
            .commands
            .iter()
            .all(|c| matches!(c, Command::Status(_)));
        if msg.body.r#final
            && only_statuses
            && self.state.out.is_empty()
            && self.state.outgoing_object.is_none()
            && self.state.statuses.is_empty()
        {
            return self.end();
        }
        // The SyncHdr's Status first, before Statuses left over from earlier messages.
        self.state
            .statuses
            .push_front(status_for(&msg_ref, Some("0"), "SyncHdr", StatusCode::OK));
        for c in &msg.body.commands {
            self.exec_top(c, &msg_ref, tree);
        }
        if let Some(uri) = package::end_of_message(&mut self.state.incoming_object, msg) {
            self.state.out.push_front(no_end_of_data_alert(&uri));
        }
        if !asks_next(&msg.body.commands) {
            self.state.server_more = !msg.body.r#final;
        }
        Ok(Some(self.build()))
    }

    fn on_chal(&mut self, ch: &winmdm_syncml::Chal<'_>, code: Option<StatusCode>) {
        let Some((scheme, nonce)) = auth::read_chal(ch) else {
            return;
        };
        if self.cfg.auth.is_none() {
            return;
        }
        let a = &mut self.state.auth;
        if code == Some(StatusCode::AUTHENTICATION_ACCEPTED) {
            a.next_session_nonce = nonce;
            return;
        }
        a.scheme = scheme;
        if let Some(n) = nonce {
            a.nonce = n;
        }
    }

    fn build(&mut self) -> SyncML<'static> {
        let hdr = self.header();
        // Room for `xmlns:msft` on SyncBody when a Status to send may need it.
        let decl = if self.state.statuses.iter().any(has_msft_attr) {
            msft_declaration_len()
        } else {
            0
        };
        let budget = self.state.server_max_msg.saturating_sub(decl);
        let mut p = Packer::new(hdr, budget, true);
        let drained = p.push_statuses(&mut self.state.statuses) && self.fill(&mut p);
        let mut fin = false;
        if drained {
            if self.state.server_more {
                p.push_next_alert();
            } else {
                fin = true;
            }
        }
        let mut msg = p.finish(fin);
        let needs_decl = msg
            .body
            .commands
            .iter()
            .any(|c| matches!(c, Command::Status(s) if has_msft_attr(s)));
        if needs_decl {
            msg.body.attrs.push(msft_declaration());
        }
        msg
    }

    /// Places the outgoing large object's next chunk and queued Results; returns
    /// whether everything went out.
    fn fill(&mut self, p: &mut Packer) -> bool {
        loop {
            if let Some(mut lo) = self.state.outgoing_object.take() {
                match p.push_chunk(&mut lo) {
                    Some((_, true)) => {}
                    Some((_, false)) | None => {
                        self.state.outgoing_object = Some(lo);
                        return false;
                    }
                }
            }
            let deferred = std::mem::take(&mut self.state.out_deferred);
            let Some(c) = self.state.out.pop_front() else {
                return true;
            };
            let (c, l) = match p.push(c, Fit::IfRoom) {
                Ok(()) => continue,
                Err(e) => e,
            };
            if p.fits_alone(l) && !deferred {
                self.state.out.push_front(c);
                self.state.out_deferred = true;
                return false;
            }
            // Too large for any message: a Results with several items is split per
            // item, a single item goes out in chunks.
            if let Command::Results(r) = &c
                && r.items.len() > 1
            {
                for it in r.items.iter().rev() {
                    let mut one = r.clone();
                    one.items = vec![it.clone()];
                    self.state.out.push_front(Command::Results(one));
                }
                continue;
            }
            if package::chunkable(&c) {
                self.state.outgoing_object = OutgoingObject::start(c, p.chunk_room());
            }
            // Otherwise it cannot be sent: dropped (its Status already told the server
            // the outcome).
        }
    }

    fn reply(&mut self, msg_ref: &str, c: &Command<'_>, code: StatusCode) {
        self.state
            .statuses
            .push_back(status_for(msg_ref, c.cmd_id(), c.name(), code));
    }

    fn exec_top(&mut self, c: &Command<'_>, msg_ref: &str, tree: &mut dyn NodeTree) {
        match c {
            Command::Status(_) => {}
            Command::Alert(a) => {
                let code = if a.code() == Some(AlertCode::NEXT_MESSAGE) {
                    StatusCode::OK
                } else if a.code() == Some(AlertCode::NO_END_OF_DATA) {
                    // The server did not get our whole object: abandon it.
                    self.state.outgoing_object = None;
                    StatusCode::OK
                } else {
                    StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED
                };
                self.reply(msg_ref, c, code);
            }
            _ => {
                let mut statuses = Vec::new();
                let mut res = Vec::new();
                self.exec(c, msg_ref, tree, &mut statuses, &mut res, false);
                self.state.statuses.extend(statuses);
                self.state
                    .out
                    .extend(res.into_iter().map(|r| Command::Results(Box::new(r))));
            }
        }
    }

    /// Executes a command; pushes its Status(es) (and its children's) and Results.
    /// Returns the command's own code.
    fn exec(
        &mut self,
        c: &Command<'_>,
        msg_ref: &str,
        tree: &mut dyn NodeTree,
        statuses: &mut Vec<Status<'static>>,
        res: &mut Vec<Results<'static>>,
        in_atomic: bool,
    ) -> StatusCode {
        let st = |code: StatusCode| status_for(msg_ref, c.cmd_id(), c.name(), code);
        if c.cmd_id().is_none() {
            statuses.push(st(StatusCode::BAD_REQUEST));
            return StatusCode::BAD_REQUEST;
        }
        match c {
            Command::Atomic(_) if in_atomic => {
                statuses.push(st(StatusCode::COMMAND_FAILED));
                StatusCode::COMMAND_FAILED
            }
            Command::Get(_) if in_atomic => {
                statuses.push(st(StatusCode::COMMAND_FAILED));
                StatusCode::COMMAND_FAILED
            }
            Command::Atomic(k) => self.atomic(c, k, msg_ref, tree, statuses, res),
            Command::Sequence(k) => {
                statuses.push(st(StatusCode::OK));
                for child in &k.commands {
                    self.exec(child, msg_ref, tree, statuses, res, in_atomic);
                }
                StatusCode::OK
            }
            Command::Get(g) => {
                let mut items = Vec::new();
                let mut codes = Vec::new();
                for it in &g.items {
                    let uri = it.target_uri().unwrap_or("");
                    let mut hresult = None;
                    let code = match LocUri::absolute_or_relative(uri.trim()) {
                        Err(_) => StatusCode::BAD_REQUEST,
                        Ok(u) => match get_nodes(tree, &u) {
                            Ok(nodes) => {
                                items.extend(nodes.into_iter().map(|(src, n)| {
                                    let meta = Meta {
                                        format: n.format.map(Cow::Owned),
                                        r#type: n.mime.map(Cow::Owned),
                                        ..Meta::default()
                                    };
                                    Item {
                                        source: Some(Location::uri(src)),
                                        meta: (!meta.is_empty()).then_some(Box::new(meta)),
                                        data: n.data.map(Data::text),
                                        ..Item::default()
                                    }
                                }));
                                StatusCode::OK
                            }
                            Err(e) => {
                                hresult = tree.original_error(CommandKind::Get, &u, e);
                                e
                            }
                        },
                    };
                    codes.push((uri.to_owned(), code, hresult));
                }
                let code = push_item_statuses(statuses, &st, &codes);
                if !items.is_empty() {
                    res.push(Results {
                        msg_ref: Some(Cow::Owned(msg_ref.to_owned())),
                        cmd_ref: c.cmd_id().map(|s| Cow::Owned(s.to_owned())),
                        cmd: Some(Cow::Borrowed("Get")),
                        items,
                        ..Results::default()
                    });
                }
                code
            }
            Command::Add(ic) | Command::Replace(ic) | Command::Delete(ic) | Command::Exec(ic) => {
                let mut codes = Vec::new();
                for it in &ic.items {
                    let uri = it.target_uri().unwrap_or("").trim().to_owned();
                    let (code, hresult) = self.item_op(c, ic, it, &uri, tree);
                    codes.push((uri, code, hresult));
                }
                if codes.is_empty() {
                    statuses.push(st(StatusCode::BAD_REQUEST));
                    return StatusCode::BAD_REQUEST;
                }
                push_item_statuses(statuses, &st, &codes)
            }
            Command::Alert(_) => {
                statuses.push(st(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED));
                StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED
            }
            _ => {
                statuses.push(st(StatusCode::BAD_REQUEST));
                StatusCode::BAD_REQUEST
            }
        }
    }

    fn atomic(
        &mut self,
        c: &Command<'_>,
        k: &Container<'_>,
        msg_ref: &str,
        tree: &mut dyn NodeTree,
        statuses: &mut Vec<Status<'static>>,
        res: &mut Vec<Results<'static>>,
    ) -> StatusCode {
        let at = statuses.len();
        statuses.push(status_for(msg_ref, c.cmd_id(), "Atomic", StatusCode::OK));
        tree.begin_atomic();
        let mut failed = false;
        let mut child_at = Vec::new();
        for child in &k.commands {
            if failed {
                statuses.push(status_for(
                    msg_ref,
                    child.cmd_id(),
                    child.name(),
                    StatusCode::NOT_EXECUTED,
                ));
                continue;
            }
            child_at.push(statuses.len());
            let code = self.exec(child, msg_ref, tree, statuses, res, true);
            if !code.is_success() {
                failed = true;
            }
        }
        if !failed {
            tree.commit_atomic();
            return StatusCode::OK;
        }
        let rolled = tree.rollback_atomic();
        statuses[at].data = Some(Data::text(StatusCode::ATOMIC_FAILED.0.to_string()));
        let rb = if rolled {
            StatusCode::ATOMIC_ROLLBACK_OK
        } else {
            StatusCode::ATOMIC_ROLLBACK_FAILED
        };
        for i in child_at {
            if statuses[i].code().is_some_and(StatusCode::is_success) {
                statuses[i].data = Some(Data::text(rb.0.to_string()));
            }
        }
        res.clear();
        StatusCode::ATOMIC_FAILED
    }

    fn item_op(
        &mut self,
        c: &Command<'_>,
        ic: &ItemCommand<'_>,
        it: &Item<'_>,
        uri: &str,
        tree: &mut dyn NodeTree,
    ) -> (StatusCode, Option<Hresult>) {
        let Ok(u) = LocUri::absolute_or_relative(uri) else {
            return (StatusCode::BAD_REQUEST, None);
        };
        let key = ObjectKey::Command {
            kind: c.kind().unwrap_or(CommandKind::Add),
            target: uri.to_owned(),
        };
        let mut data = it.data.as_ref().map(|d| d.as_str().to_owned());
        let mut meta = it.meta.clone().map(|m| Box::new(m.into_owned()));
        let mut abandoned = Vec::new();
        let fed = package::feed_chunk(
            &mut self.state.incoming_object,
            key,
            it,
            self.cfg.max_object_size,
            &mut abandoned,
        );
        for uri in abandoned {
            self.state.out.push_front(no_end_of_data_alert(&uri));
        }
        match fed {
            Fed::Whole => {}
            Fed::Code(code) => return (code, None),
            Fed::Complete(text, m) => {
                data = Some(text);
                meta = m;
            }
        }
        let m = meta.or_else(|| ic.meta.clone().map(|m| Box::new(m.into_owned())));
        let node = Node {
            format: m
                .as_ref()
                .and_then(|m| m.format.as_deref())
                .map(|s| s.trim().to_owned()),
            mime: m
                .as_ref()
                .and_then(|m| m.r#type.as_deref())
                .map(str::to_owned),
            data,
        };
        let (kind, code) = match c {
            Command::Add(_) => (CommandKind::Add, tree.add(&u, node)),
            Command::Replace(_) => (CommandKind::Replace, tree.replace(&u, node)),
            Command::Delete(_) => (CommandKind::Delete, tree.delete(&u)),
            _ => (CommandKind::Exec, tree.exec(&u, node.data.as_deref())),
        };
        let hresult = (!code.is_success())
            .then(|| tree.original_error(kind, &u, code))
            .flatten();
        (code, hresult)
    }
}

/// The result items of one Get target: the node itself, the subtree for
/// `?list=StructData` (one item per node), or a property for `?prop=Type` / `?prop=Format`.
fn get_nodes(tree: &mut dyn NodeTree, u: &LocUri<'_>) -> Result<Vec<(String, Node)>, StatusCode> {
    match u.query() {
        None => tree.get(u).map(|n| vec![(u.as_str().to_owned(), n)]),
        Some(Query::List(_)) => {
            let base =
                LocUri::absolute_or_relative(u.path()).map_err(|_| StatusCode::BAD_REQUEST)?;
            tree.get_struct(&base)
        }
        Some(Query::Prop(p)) => {
            let base =
                LocUri::absolute_or_relative(u.path()).map_err(|_| StatusCode::BAD_REQUEST)?;
            let n = tree.get(&base)?;
            let value = match p.as_ref() {
                "Type" => n.mime.unwrap_or_default(),
                "Format" => n.format.unwrap_or_else(|| "chr".to_owned()),
                _ => return Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED),
            };
            Ok(vec![(u.as_str().to_owned(), Node::chr(value))])
        }
        Some(_) => Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED),
    }
}

/// The `xmlns:msft` declaration Windows puts on `SyncBody` (MS-MDM 2.2.4.3).
fn msft_declaration() -> Attr<'static> {
    Attr::new("xmlns:msft", MDM_NAMESPACE)
}

/// The bytes `msft_declaration` adds to a message: ` xmlns:msft="..."`.
fn msft_declaration_len() -> u64 {
    let a = msft_declaration();
    (a.name.len() + a.value.len() + 4) as u64
}

/// Whether a Status carries an attribute in the `msft` namespace on its `Data`.
fn has_msft_attr(s: &Status<'_>) -> bool {
    s.data.as_ref().is_some_and(|d| {
        d.attrs
            .iter()
            .any(|a| a.ns.as_deref() == Some(MDM_NAMESPACE))
    })
}

/// Puts `msft:originalerror` on a failed Status's `Data`, as Windows writes it (MS-MDM
/// 2.2.5.1: `<Data msft:originalerror="0x86000002">`).
fn set_original_error(s: &mut Status<'static>, hresult: Option<Hresult>) {
    if let (Some(h), Some(d)) = (hresult, s.data.as_mut()) {
        d.attrs.push(Attr::in_ns(
            MDM_NAMESPACE,
            "msft:originalerror",
            h.to_string(),
        ));
    }
}

/// One Status when all items share a code, else one per item with `TargetRef`; a failed
/// Status carries the item's HRESULT (the first item's, for one Status for all).
fn push_item_statuses(
    statuses: &mut Vec<Status<'static>>,
    st: &dyn Fn(StatusCode) -> Status<'static>,
    codes: &[(String, StatusCode, Option<Hresult>)],
) -> StatusCode {
    let first = codes.first().map_or(StatusCode::OK, |c| c.1);
    if codes.iter().all(|c| c.1 == first) {
        let mut s = st(first);
        if !first.is_success() {
            set_original_error(&mut s, codes.iter().find_map(|c| c.2));
        }
        statuses.push(s);
    } else {
        for (u, code, hresult) in codes {
            let mut s = st(*code);
            s.target_refs.push(Cow::Owned(u.clone()));
            if !code.is_success() {
                set_original_error(&mut s, *hresult);
            }
            statuses.push(s);
        }
    }
    codes
        .iter()
        .map(|c| c.1)
        .find(|c| !c.is_success())
        .unwrap_or(first)
}
