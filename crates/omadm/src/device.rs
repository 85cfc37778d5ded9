//! The device session engine (sans-IO), the mirror image of the server engine: for
//! emulators and tests.

use std::borrow::Cow;
use std::collections::VecDeque;

use winmdm_syncml::{
    Alert, AlertCode, Command, Container, Data, Item, ItemCommand, Location, Meta, Results, Status,
    StatusCode, SyncBody, SyncHdr, SyncML,
};

use crate::auth::{self, AuthScheme, Credentials};
use crate::locuri::{LocUri, Query};
use crate::package::{
    self, Chunk, DEFAULT_MAX_MSG_SIZE, DEFAULT_MAX_OBJECT_SIZE, MIN_MAX_MSG_SIZE, Reassembly,
};
use crate::session::{
    SessionError, asks_next, has_new_commands, next_message_alert, no_end_of_data_alert, status_for,
};
use crate::tree::{Node, NodeTree};

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

/// Device-side DM authentication. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The scheme to use (a challenge may switch it).
    pub scheme: AuthScheme,
    /// The credentials (w7 APPSRV AAUTHNAME / AAUTHSECRET).
    pub credentials: Credentials,
    /// The nonce for MD5 (w7 APPSRV AAUTHDATA, then the last `NextNonce`).
    pub nonce: Vec<u8>,
    /// Attempts before giving up after 401/407. Default 3.
    pub max_attempts: u32,
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

#[derive(Debug)]
struct OutLo {
    template: Command<'static>,
    text: String,
    offset: usize,
}

#[derive(Debug)]
struct InLo {
    re: Reassembly,
    uri: String,
    /// A chunk arrived in the current message.
    touched: bool,
}

/// The device side of one OMA-DM session.
///
/// [`DeviceSession::start`] builds package 1; [`DeviceSession::handle`] executes a
/// server message against a [`NodeTree`] and returns the reply, `None` when the session
/// is over.
#[derive(Debug)]
pub struct DeviceSession {
    cfg: DeviceConfig,
    my_msg_id: u64,
    last_server_msg: Option<u64>,
    server_max_msg: u64,
    statuses: VecDeque<Status<'static>>,
    out: VecDeque<Command<'static>>,
    /// The front of `out` was already put off once.
    out_deferred: bool,
    lo_out: Option<OutLo>,
    lo_in: Option<InLo>,
    server_more: bool,
    started: bool,
    authenticated: bool,
    auth_attempts: u32,
    next_session_nonce: Option<Vec<u8>>,
    messages: usize,
    finished: bool,
}

impl DeviceSession {
    /// A new session.
    pub fn new(cfg: DeviceConfig) -> Self {
        let server_max_msg = cfg.default_server_max_msg_size;
        DeviceSession {
            cfg,
            my_msg_id: 0,
            last_server_msg: None,
            server_max_msg,
            statuses: VecDeque::new(),
            out: VecDeque::new(),
            out_deferred: false,
            lo_out: None,
            lo_in: None,
            server_more: false,
            started: false,
            authenticated: false,
            auth_attempts: 0,
            next_session_nonce: None,
            messages: 0,
            finished: false,
        }
    }

    /// Whether the session is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The nonce the server gave for the next session (MD5 `NextNonce` with 212).
    pub fn next_session_nonce(&self) -> Option<&[u8]> {
        self.next_session_nonce.as_deref()
    }

    fn header(&mut self) -> SyncHdr<'static> {
        self.my_msg_id += 1;
        let meta = Meta {
            max_msg_size: self.cfg.max_msg_size,
            max_obj_size: self.cfg.max_obj_size,
            ..Meta::default()
        };
        let cred = match &self.cfg.auth {
            Some(a) if !self.authenticated => Some(auth::cred(a.scheme, &a.credentials, &a.nonce)),
            _ => None,
        };
        SyncHdr {
            ver_dtd: Some(Cow::Borrowed("1.2")),
            ver_proto: Some(Cow::Borrowed("DM/1.2")),
            session_id: Some(Cow::Owned(self.cfg.session_id.clone())),
            msg_id: Some(Cow::Owned(self.my_msg_id.to_string())),
            target: Some(Location::uri(self.cfg.server_uri.clone())),
            source: Some(Location::uri(self.cfg.device_id.clone())),
            cred: cred.map(Box::new),
            meta: (!meta.is_empty()).then_some(meta),
            ..SyncHdr::default()
        }
    }

    fn package1(&mut self) -> SyncML<'static> {
        let hdr = self.header();
        let mut cmds = vec![Command::Alert(Alert {
            data: Some(Data::text(AlertCode::CLIENT_INITIATED_MGMT.0.to_string())),
            ..Alert::default()
        })];
        if let Some(ls) = &self.cfg.login_status {
            cmds.push(Command::Alert(Alert {
                data: Some(Data::text(AlertCode::CLIENT_EVENT.0.to_string())),
                items: vec![Item {
                    meta: Some(Meta {
                        r#type: Some(Cow::Borrowed("com.microsoft/MDM/LoginStatus")),
                        ..Meta::default()
                    }),
                    data: Some(Data::text(ls.clone())),
                    ..Item::default()
                }],
                ..Alert::default()
            }));
        }
        cmds.extend(self.cfg.extra_alerts.iter().cloned().map(Command::Alert));
        let di = &self.cfg.dev_info;
        let info = [
            ("./DevInfo/DevId", self.cfg.device_id.as_str()),
            ("./DevInfo/Man", di.man.as_str()),
            ("./DevInfo/Mod", di.model.as_str()),
            ("./DevInfo/DmV", di.dmv.as_str()),
            ("./DevInfo/Lang", di.lang.as_str()),
        ];
        cmds.push(Command::Replace(ItemCommand {
            items: info
                .iter()
                .map(|(u, v)| Item {
                    source: Some(Location::uri(*u)),
                    data: Some(Data::text((*v).to_owned())),
                    ..Item::default()
                })
                .collect(),
            ..ItemCommand::default()
        }));
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
        self.started = true;
        self.package1()
    }

    /// Executes a server message and returns the reply; `None` when the session ended
    /// (the server sent only Statuses with Final, or refused the session).
    pub fn handle(
        &mut self,
        msg: &SyncML<'_>,
        tree: &mut dyn NodeTree,
    ) -> Result<Option<SyncML<'static>>, SessionError> {
        if !self.started {
            return Err(SessionError::NotStarted);
        }
        if self.finished {
            return Err(SessionError::Finished);
        }
        let h = &msg.hdr;
        let sid = h
            .session_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("SessionID"))?;
        if sid.trim() != self.cfg.session_id {
            return Err(SessionError::SessionMismatch {
                expected: self.cfg.session_id.clone(),
                got: sid.to_owned(),
            });
        }
        let mid_s = h
            .msg_id
            .as_deref()
            .ok_or(SessionError::MissingHeader("MsgID"))?;
        let mid: u64 = mid_s
            .trim()
            .parse()
            .map_err(|_| SessionError::BadMsgId(mid_s.to_owned()))?;
        if let Some(last) = self.last_server_msg
            && mid != last + 1
        {
            return Err(SessionError::UnexpectedMsgId {
                expected: last + 1,
                got: mid,
            });
        }
        self.last_server_msg = Some(mid);
        self.messages += 1;
        if self.messages > self.cfg.max_messages {
            return Err(SessionError::TooManyMessages(self.cfg.max_messages));
        }
        if let Some(n) = h.meta.as_ref().and_then(|m| m.max_msg_size) {
            if n < MIN_MAX_MSG_SIZE {
                return Err(SessionError::MaxMsgSizeTooSmall(n));
            }
            self.server_max_msg = n;
        }
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
            Some(StatusCode::AUTHENTICATION_ACCEPTED) => self.authenticated = true,
            Some(StatusCode::INVALID_CREDENTIALS) | Some(StatusCode::MISSING_CREDENTIALS) => {
                self.auth_attempts += 1;
                let max = self.cfg.auth.as_ref().map_or(0, |a| a.max_attempts);
                if self.auth_attempts > max || self.cfg.auth.is_none() {
                    self.finished = true;
                    return Ok(None);
                }
                // Send package 1 again with credentials for the new nonce.
                return Ok(Some(self.package1()));
            }
            Some(c) if !c.is_success() => {
                self.finished = true;
                return Ok(None);
            }
            _ => {}
        }

        let only_statuses = msg
            .body
            .commands
            .iter()
            .all(|c| matches!(c, Command::Status(_)));
        if msg.body.r#final
            && only_statuses
            && self.out.is_empty()
            && self.lo_out.is_none()
            && self.statuses.is_empty()
        {
            self.finished = true;
            return Ok(None);
        }
        // The SyncHdr's Status first, before Statuses left over from earlier messages.
        self.statuses
            .push_front(status_for(&msg_ref, Some("0"), "SyncHdr", StatusCode::OK));
        if let Some(l) = self.lo_in.as_mut() {
            l.touched = false;
        }
        for c in &msg.body.commands {
            self.exec_top(c, &msg_ref, tree);
        }
        // A message that ends the package or brings other commands without the next
        // chunk of an open object ends that object.
        if self.lo_in.as_ref().is_some_and(|l| !l.touched)
            && (msg.body.r#final || has_new_commands(&msg.body.commands))
            && let Some(old) = self.lo_in.take()
        {
            self.out.push_front(no_end_of_data_alert(&old.uri));
        }
        let next = asks_next(&msg.body.commands);
        if !next {
            self.server_more = !msg.body.r#final;
        }
        Ok(Some(self.build()))
    }

    fn on_chal(&mut self, ch: &winmdm_syncml::Chal<'_>, code: Option<StatusCode>) {
        let Some((scheme, nonce)) = auth::read_chal(ch) else {
            return;
        };
        let Some(a) = self.cfg.auth.as_mut() else {
            return;
        };
        if code == Some(StatusCode::AUTHENTICATION_ACCEPTED) {
            self.next_session_nonce = nonce;
            return;
        }
        a.scheme = scheme;
        if let Some(n) = nonce {
            a.nonce = n;
        }
    }

    fn build(&mut self) -> SyncML<'static> {
        let hdr = self.header();
        let budget = usize::try_from(self.server_max_msg).unwrap_or(usize::MAX);
        let base = package::base_len(&hdr);
        let mut cur = base;
        let mut next = 1u32;
        let mut cmds = Vec::new();
        let mut alert = next_message_alert();
        package::assign_ids(&mut alert, &mut 99_999);
        let reserve = alert.encoded_len();
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
        let mut drained = self.statuses.is_empty();
        // A message always carries the SyncHdr's Status.
        let floor = base + cmds.first().map_or(0, Command::encoded_len);
        if drained {
            drained = self.fill(floor, budget, &mut cur, &mut next, &mut cmds, reserve);
        }
        let mut fin = false;
        if drained {
            if self.server_more {
                package::assign_ids(&mut alert, &mut next);
                cmds.push(alert);
            } else {
                fin = true;
            }
        }
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

    /// Places the outgoing large object's next chunk and queued Results; returns
    /// whether everything went out.
    fn fill(
        &mut self,
        base: usize,
        budget: usize,
        cur: &mut usize,
        next: &mut u32,
        cmds: &mut Vec<Command<'static>>,
        reserve: usize,
    ) -> bool {
        loop {
            if let Some(mut lo) = self.lo_out.take() {
                let mut t = lo.template.clone();
                let save = *next;
                package::assign_ids(&mut t, next);
                let room = budget.saturating_sub(*cur + reserve);
                match package::make_chunk(&t, &lo.text, lo.offset, room) {
                    Some((chunk, off)) => {
                        *cur += chunk.encoded_len();
                        cmds.push(chunk);
                        lo.offset = off;
                        if off < lo.text.len() {
                            self.lo_out = Some(lo);
                            return false;
                        }
                    }
                    None => {
                        *next = save;
                        self.lo_out = Some(lo);
                        return false;
                    }
                }
            }
            let deferred = std::mem::take(&mut self.out_deferred);
            let Some(mut c) = self.out.pop_front() else {
                return true;
            };
            let save = *next;
            package::assign_ids(&mut c, next);
            let l = c.encoded_len();
            if *cur + l + reserve <= budget {
                *cur += l;
                cmds.push(c);
                continue;
            }
            *next = save;
            if base + l + reserve <= budget && !deferred {
                self.out.push_front(c);
                self.out_deferred = true;
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
                    self.out.push_front(Command::Results(one));
                }
                continue;
            }
            if package::chunkable(&c) {
                let (template, text) = package::split_lo(c);
                let mut t = template.clone();
                package::assign_ids(&mut t, &mut 99_999);
                let room = budget.saturating_sub(base + reserve + 512);
                if package::make_chunk(&t, &text, 0, room).is_none() {
                    continue;
                }
                self.lo_out = Some(OutLo {
                    template,
                    text,
                    offset: 0,
                });
                continue;
            }
            // Cannot be sent: drop it (its Status already told the server the outcome).
        }
    }

    fn reply(&mut self, msg_ref: &str, c: &Command<'_>, code: StatusCode) {
        self.statuses
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
                    self.lo_out = None;
                    StatusCode::OK
                } else {
                    StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED
                };
                self.reply(msg_ref, c, code);
            }
            _ => {
                let mut sts = Vec::new();
                let mut res = Vec::new();
                self.exec(c, msg_ref, tree, &mut sts, &mut res, false);
                self.statuses.extend(sts);
                self.out.extend(res.into_iter().map(Command::Results));
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
        sts: &mut Vec<Status<'static>>,
        res: &mut Vec<Results<'static>>,
        in_atomic: bool,
    ) -> StatusCode {
        let st = |code: StatusCode| status_for(msg_ref, c.cmd_id(), c.name(), code);
        if c.cmd_id().is_none() {
            sts.push(st(StatusCode::BAD_REQUEST));
            return StatusCode::BAD_REQUEST;
        }
        match c {
            Command::Atomic(_) if in_atomic => {
                sts.push(st(StatusCode::COMMAND_FAILED));
                StatusCode::COMMAND_FAILED
            }
            Command::Get(_) if in_atomic => {
                sts.push(st(StatusCode::COMMAND_FAILED));
                StatusCode::COMMAND_FAILED
            }
            Command::Atomic(k) => self.atomic(c, k, msg_ref, tree, sts, res),
            Command::Sequence(k) => {
                sts.push(st(StatusCode::OK));
                for child in &k.commands {
                    self.exec(child, msg_ref, tree, sts, res, in_atomic);
                }
                StatusCode::OK
            }
            Command::Get(g) => {
                let mut items = Vec::new();
                let mut codes = Vec::new();
                for it in &g.items {
                    let uri = it.target_uri().unwrap_or("");
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
                                        meta: (!meta.is_empty()).then_some(meta),
                                        data: n.data.map(Data::text),
                                        ..Item::default()
                                    }
                                }));
                                StatusCode::OK
                            }
                            Err(e) => e,
                        },
                    };
                    codes.push((uri.to_owned(), code));
                }
                let code = push_item_statuses(sts, &st, &codes);
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
                    let code = self.item_op(c, ic, it, &uri, tree);
                    codes.push((uri, code));
                }
                if codes.is_empty() {
                    sts.push(st(StatusCode::BAD_REQUEST));
                    return StatusCode::BAD_REQUEST;
                }
                push_item_statuses(sts, &st, &codes)
            }
            Command::Alert(_) => {
                sts.push(st(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED));
                StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED
            }
            _ => {
                sts.push(st(StatusCode::BAD_REQUEST));
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
        sts: &mut Vec<Status<'static>>,
        res: &mut Vec<Results<'static>>,
    ) -> StatusCode {
        let at = sts.len();
        sts.push(status_for(msg_ref, c.cmd_id(), "Atomic", StatusCode::OK));
        tree.begin_atomic();
        let mut failed = false;
        let mut child_at = Vec::new();
        for child in &k.commands {
            if failed {
                sts.push(status_for(
                    msg_ref,
                    child.cmd_id(),
                    child.name(),
                    StatusCode::NOT_EXECUTED,
                ));
                continue;
            }
            child_at.push(sts.len());
            let code = self.exec(child, msg_ref, tree, sts, res, true);
            if !code.is_success() {
                failed = true;
            }
        }
        if !failed {
            tree.commit_atomic();
            return StatusCode::OK;
        }
        let rolled = tree.rollback_atomic();
        sts[at].data = Some(Data::text(StatusCode::ATOMIC_FAILED.0.to_string()));
        let rb = if rolled {
            StatusCode::ATOMIC_ROLLBACK_OK
        } else {
            StatusCode::ATOMIC_ROLLBACK_FAILED
        };
        for i in child_at {
            if sts[i].code().is_some_and(StatusCode::is_success) {
                sts[i].data = Some(Data::text(rb.0.to_string()));
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
    ) -> StatusCode {
        let Ok(u) = LocUri::absolute_or_relative(uri) else {
            return StatusCode::BAD_REQUEST;
        };
        let key = format!("{}:{}", c.name(), uri);
        let mut data = it.data.as_ref().map(|d| d.as_str().to_owned());
        let mut meta = it.meta.clone().map(Meta::into_owned);
        if it.more_data || self.lo_in.as_ref().is_some_and(|l| l.re.key == key) {
            if self.lo_in.as_ref().is_none_or(|l| l.re.key != key) {
                if let Some(old) = self.lo_in.take() {
                    self.out.push_front(no_end_of_data_alert(&old.uri));
                }
                match Reassembly::start(key, it, self.cfg.max_object_size) {
                    Ok(re) => {
                        self.lo_in = Some(InLo {
                            re,
                            uri: uri.to_owned(),
                            touched: false,
                        })
                    }
                    Err(code) => return code,
                }
            }
            let Some(lo) = self.lo_in.as_mut() else {
                return StatusCode::COMMAND_FAILED;
            };
            lo.touched = true;
            match lo.re.push(it) {
                Chunk::Buffered => return StatusCode::CHUNKED_ITEM_ACCEPTED,
                Chunk::Failed(code) => {
                    self.lo_in = None;
                    return code;
                }
                Chunk::Complete(text, m) => {
                    self.lo_in = None;
                    data = Some(text);
                    meta = m.map(|m| *m);
                }
            }
        }
        let m = meta.or_else(|| ic.meta.clone().map(Meta::into_owned));
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
        match c {
            Command::Add(_) => tree.add(&u, node),
            Command::Replace(_) => tree.replace(&u, node),
            Command::Delete(_) => tree.delete(&u),
            _ => tree.exec(&u, node.data.as_deref()),
        }
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
    }
}

/// One Status when all items share a code, else one per item with `TargetRef`.
fn push_item_statuses(
    sts: &mut Vec<Status<'static>>,
    st: &dyn Fn(StatusCode) -> Status<'static>,
    codes: &[(String, StatusCode)],
) -> StatusCode {
    let first = codes.first().map_or(StatusCode::OK, |c| c.1);
    if codes.iter().all(|c| c.1 == first) {
        sts.push(st(first));
    } else {
        for (u, code) in codes {
            let mut s = st(*code);
            s.target_refs.push(Cow::Owned(u.clone()));
            sts.push(s);
        }
    }
    codes
        .iter()
        .map(|c| c.1)
        .find(|c| !c.is_success())
        .unwrap_or(first)
}
