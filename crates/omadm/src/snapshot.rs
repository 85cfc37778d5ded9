//! Saving and restoring a session between messages: [`ServerSnapshot`],
//! [`DeviceSnapshot`].
//!
//! A snapshot is plain data (serde): SyncML pieces are kept as compact SyncML
//! fragments, byte strings as base64, so a JSON snapshot is small and readable. The
//! format carries [`SNAPSHOT_VERSION`]; a snapshot of another version is refused.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use winmdm_syncml::{
    Command, CommandKind, DecodeOptions, EncodeOptions, Item, Limits, Results, Status, StatusCode,
    SyncML,
};
use winmdm_types::base64::{decode_lenient, encode as b64};

use crate::auth::{AuthScheme, Credentials, ServerAuth};
use crate::device::{DeviceAuthState, DeviceConfig, DevicePhase, DeviceSession, DeviceState};
use crate::package::{IncomingObject, ObjectKey, OutgoingObject, Reassembly};
use crate::server::{
    AuthPhase, OutgoingObjectWithRecord, Pending, Record, Ref, RefKind, ServerConfig, ServerPhase,
    ServerSession, ServerState,
};
use crate::session::Disposition;

/// The version of the snapshot format this crate writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot cannot be taken or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A response is being built or events are not drained: snapshot after
    /// [`respond`](crate::server::ServerSession::respond) and after draining
    /// [`poll_event`](crate::server::ServerSession::poll_event).
    #[error("the session is in the middle of a message (response or events not taken)")]
    Busy,
    /// The snapshot was written by another format version.
    #[error("snapshot version {found}, this crate reads {SNAPSHOT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// A SyncML piece of the session could not be encoded (a command with characters
    /// XML cannot carry).
    #[error("cannot encode the {0} of the session")]
    Encode(&'static str),
    /// A part of the snapshot is not what this crate writes.
    #[error("corrupt snapshot: {0}")]
    Corrupt(&'static str),
}

/// The saved state of a [`ServerSession`] between two device messages: header state,
/// MsgID counters, authentication and nonces, the commands in flight with their tags,
/// the command put off, large objects in progress both ways, and the last response
/// (for a retransmission). The [`ServerConfig`] and the TLS identity binding are not
/// part of it: give them again to [`ServerSession::restore`].
///
/// It holds the device's DM password while authentication is pending: store it as
/// carefully as the credentials themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    v: u32,
    #[serde(rename = "p")]
    phase: Phase,
    #[serde(rename = "sid", default, skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(rename = "dev", default, skip_serializing_if = "Option::is_none")]
    device_id: Option<String>,
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    last_device_msg: Option<u64>,
    #[serde(rename = "seen", default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<SystemTime>,
    #[serde(rename = "out")]
    my_msg_id: u64,
    #[serde(rename = "n")]
    messages: usize,
    #[serde(rename = "st", default, skip_serializing_if = "String::is_empty")]
    statuses: String,
    #[serde(rename = "al", default, skip_serializing_if = "String::is_empty")]
    alerts: String,
    #[serde(rename = "pend", default, skip_serializing_if = "Option::is_none")]
    pending: Option<PendingSnap>,
    #[serde(rename = "lo", default, skip_serializing_if = "Option::is_none")]
    outgoing_object: Option<OutgoingObjectSnap>,
    #[serde(rename = "li", default, skip_serializing_if = "Option::is_none")]
    incoming_object: Option<IncomingObjectSnap>,
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    records: Vec<RecordSnap>,
    #[serde(rename = "nr")]
    next_record: u64,
    #[serde(rename = "refs", default, skip_serializing_if = "Vec::is_empty")]
    refs: Vec<RefSnap>,
    #[serde(rename = "mms")]
    device_max_msg: u64,
    #[serde(rename = "mos", default, skip_serializing_if = "Option::is_none")]
    device_max_obj: Option<u64>,
    #[serde(rename = "auth", default, skip_serializing_if = "Option::is_none")]
    auth: Option<AuthSnap>,
    #[serde(rename = "ap")]
    auth_phase: AuthPhaseSnap,
    #[serde(rename = "last", default, skip_serializing_if = "Option::is_none")]
    last_reply: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    #[serde(rename = "new")]
    New,
    #[serde(rename = "wait")]
    Waiting,
    #[serde(rename = "end")]
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingSnap {
    tag: u64,
    cmd: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OutgoingObjectSnap {
    /// The command without its data.
    #[serde(rename = "tpl")]
    template: String,
    /// The data not sent yet.
    text: String,
    /// Bytes sent already.
    off: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rec: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IncomingObjectSnap {
    /// `Results` + record, or a command name.
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rec: Option<u64>,
    uri: String,
    size: u64,
    buf: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    meta: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    touched: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RecordSnap {
    id: u64,
    tag: u64,
    kind: String,
    msg: String,
    cmd: String,
    #[serde(rename = "st", default, skip_serializing_if = "Vec::is_empty")]
    statuses: Vec<(Option<String>, u16)>,
    #[serde(rename = "err", default, skip_serializing_if = "Option::is_none")]
    original_error: Option<String>,
    #[serde(rename = "res", default, skip_serializing_if = "String::is_empty")]
    results: String,
    #[serde(rename = "ch", default, skip_serializing_if = "Vec::is_empty")]
    children: Vec<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    top: bool,
    #[serde(rename = "disp", default, skip_serializing_if = "Option::is_none")]
    disposition: Option<String>,
}

/// `(MsgRef, CmdRef, record or none for the engine's own alerts, intermediate chunk)`.
type RefSnap = (String, String, Option<u64>, bool);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AuthSnap {
    scheme: String,
    user: String,
    #[serde(rename = "pw")]
    password: String,
    nonce: String,
    #[serde(rename = "chal")]
    challenge_nonce: String,
    #[serde(rename = "next")]
    next_session_nonce: String,
    #[serde(rename = "max")]
    max_failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum AuthPhaseSnap {
    #[serde(rename = "none")]
    NotRequired,
    #[serde(rename = "pending")]
    Pending(u32),
    #[serde(rename = "ok")]
    Authenticated,
}

/// The saved state of a [`DeviceSession`] between two server messages. The
/// [`DeviceConfig`] is not part of it: give it again to [`DeviceSession::restore`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSnapshot {
    v: u32,
    #[serde(rename = "p")]
    phase: Phase,
    #[serde(rename = "out")]
    my_msg_id: u64,
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    last_server_msg: Option<u64>,
    #[serde(rename = "mms")]
    server_max_msg: u64,
    #[serde(rename = "st", default, skip_serializing_if = "String::is_empty")]
    statuses: String,
    #[serde(rename = "q", default, skip_serializing_if = "String::is_empty")]
    out: String,
    #[serde(rename = "qd", default, skip_serializing_if = "std::ops::Not::not")]
    out_deferred: bool,
    #[serde(rename = "lo", default, skip_serializing_if = "Option::is_none")]
    outgoing_object: Option<OutgoingObjectSnap>,
    #[serde(rename = "li", default, skip_serializing_if = "Option::is_none")]
    incoming_object: Option<IncomingObjectSnap>,
    #[serde(rename = "more", default, skip_serializing_if = "std::ops::Not::not")]
    server_more: bool,
    scheme: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    nonce: String,
    #[serde(rename = "authd", default, skip_serializing_if = "std::ops::Not::not")]
    authenticated: bool,
    #[serde(rename = "tries", default)]
    attempts: u32,
    #[serde(rename = "next", default, skip_serializing_if = "Option::is_none")]
    next_session_nonce: Option<String>,
    #[serde(rename = "n")]
    messages: usize,
}

impl ServerSnapshot {
    /// The format version it was written with.
    pub fn version(&self) -> u32 {
        self.v
    }

    /// The size of the last response kept for retransmission, in bytes of SyncML: the
    /// part of a snapshot that scales with the message rather than the session.
    pub fn last_response_len(&self) -> usize {
        self.last_reply.as_ref().map_or(0, String::len)
    }
}

impl DeviceSnapshot {
    /// The format version it was written with.
    pub fn version(&self) -> u32 {
        self.v
    }
}

fn to_xml(cmds: &[Command<'_>], what: &'static str) -> Result<String, SnapshotError> {
    if cmds.is_empty() {
        return Ok(String::new());
    }
    let mut v = Vec::new();
    winmdm_syncml::encode_commands(cmds, &mut v, &EncodeOptions::default())
        .map_err(|_| SnapshotError::Encode(what))?;
    String::from_utf8(v).map_err(|_| SnapshotError::Encode(what))
}

fn decoder(len: usize) -> DecodeOptions {
    let mut limits = Limits::default();
    limits.max_message_bytes = limits.max_message_bytes.max(len);
    DecodeOptions::default().with_limits(limits)
}

fn from_xml(s: &str, what: &'static str) -> Result<Vec<Command<'static>>, SnapshotError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    decoder(s.len())
        .decode_commands_report(s.as_bytes())
        .map(|d| d.commands.into_iter().map(Command::into_owned).collect())
        .map_err(|_| SnapshotError::Corrupt(what))
}

fn statuses_to_xml(q: &VecDeque<Status<'static>>) -> Result<String, SnapshotError> {
    let v: Vec<Command<'static>> = q
        .iter()
        .cloned()
        .map(|s| Command::Status(Box::new(s)))
        .collect();
    to_xml(&v, "statuses")
}

fn statuses_from_xml(s: &str) -> Result<VecDeque<Status<'static>>, SnapshotError> {
    from_xml(s, "statuses")?
        .into_iter()
        .map(|c| match c {
            Command::Status(s) => Ok(*s),
            _ => Err(SnapshotError::Corrupt("statuses")),
        })
        .collect()
}

fn items_to_xml(items: &[Item<'static>], what: &'static str) -> Result<String, SnapshotError> {
    if items.is_empty() {
        return Ok(String::new());
    }
    to_xml(
        &[Command::Results(Box::new(Results {
            items: items.to_vec(),
            ..Results::default()
        }))],
        what,
    )
}

fn items_from_xml(s: &str, what: &'static str) -> Result<Vec<Item<'static>>, SnapshotError> {
    let mut out = Vec::new();
    for c in from_xml(s, what)? {
        match c {
            Command::Results(r) => out.extend(r.items),
            _ => return Err(SnapshotError::Corrupt(what)),
        }
    }
    Ok(out)
}

fn one_command(s: &str, what: &'static str) -> Result<Command<'static>, SnapshotError> {
    let mut v = from_xml(s, what)?;
    if v.len() != 1 {
        return Err(SnapshotError::Corrupt(what));
    }
    Ok(v.remove(0))
}

fn kind_from(s: &str) -> Result<CommandKind, SnapshotError> {
    CommandKind::from_name(s).ok_or(SnapshotError::Corrupt("command kind"))
}

fn disposition_name(d: &Disposition) -> &'static str {
    match d {
        Disposition::Answered => "answered",
        Disposition::NoStatus => "nostatus",
        Disposition::TooLarge => "toolarge",
        Disposition::Incomplete => "incomplete",
    }
}

fn disposition_from(s: &str) -> Result<Disposition, SnapshotError> {
    Ok(match s {
        "answered" => Disposition::Answered,
        "nostatus" => Disposition::NoStatus,
        "toolarge" => Disposition::TooLarge,
        "incomplete" => Disposition::Incomplete,
        _ => return Err(SnapshotError::Corrupt("disposition")),
    })
}

/// The largest offset into an outgoing object a snapshot may claim (the filler is
/// allocated on restore): 1 GiB.
const MAX_SENT_BYTES: usize = 1 << 30;

/// Only the part not sent yet is saved: the chunks already sent are never read again.
fn save_outgoing_object(
    o: &OutgoingObject,
    rec: Option<u64>,
) -> Result<OutgoingObjectSnap, SnapshotError> {
    Ok(OutgoingObjectSnap {
        template: to_xml(std::slice::from_ref(&o.template), "outgoing object")?,
        text: o.text.get(o.offset..).unwrap_or("").to_owned(),
        off: o.offset,
        rec,
    })
}

fn restore_outgoing_object(s: &OutgoingObjectSnap) -> Result<OutgoingObject, SnapshotError> {
    if s.off > MAX_SENT_BYTES {
        return Err(SnapshotError::Corrupt("outgoing object"));
    }
    // The bytes before the offset went out already; a filler of the same length keeps
    // the offsets (and the total the first chunk declared) as they were.
    let mut text = String::with_capacity(s.off + s.text.len());
    text.extend(std::iter::repeat_n(' ', s.off));
    text.push_str(&s.text);
    Ok(OutgoingObject {
        template: one_command(&s.template, "outgoing object")?,
        text,
        offset: s.off,
    })
}

fn save_incoming_object(o: &IncomingObject) -> Result<IncomingObjectSnap, SnapshotError> {
    let (kind, rec) = match &o.key {
        ObjectKey::Results { record, .. } => ("Results".to_owned(), *record),
        ObjectKey::Command { kind, .. } => (kind.as_str().to_owned(), None),
    };
    let meta = match &o.re.meta {
        Some(m) => items_to_xml(
            &[Item {
                meta: Some(Box::new(m.clone())),
                ..Item::default()
            }],
            "incoming object",
        )?,
        None => String::new(),
    };
    Ok(IncomingObjectSnap {
        kind,
        rec,
        uri: o.key.uri().to_owned(),
        size: o.re.declared,
        buf: o.re.buf.clone(),
        meta,
        touched: o.touched,
    })
}

fn restore_incoming_object(s: &IncomingObjectSnap) -> Result<IncomingObject, SnapshotError> {
    let key = if s.kind == "Results" {
        ObjectKey::Results {
            record: s.rec,
            source: s.uri.clone(),
        }
    } else {
        ObjectKey::Command {
            kind: kind_from(&s.kind)?,
            target: s.uri.clone(),
        }
    };
    let meta = items_from_xml(&s.meta, "incoming object")?
        .into_iter()
        .next()
        .and_then(|i| i.meta)
        .map(|m| *m);
    Ok(IncomingObject {
        key,
        re: Reassembly {
            declared: s.size,
            buf: s.buf.clone(),
            meta,
        },
        touched: s.touched,
    })
}

impl ServerSession {
    /// Saves the session between two device messages (after
    /// [`respond`](ServerSession::respond), with the events drained). See the crate
    /// docs for the rule that makes a crash lose nothing.
    pub fn snapshot(&self) -> Result<ServerSnapshot, SnapshotError> {
        if !self.is_idle() {
            return Err(SnapshotError::Busy);
        }
        let s = self.state();
        let phase = match s.phase {
            ServerPhase::New => Phase::New,
            ServerPhase::AwaitingDevice => Phase::Waiting,
            ServerPhase::Finished => Phase::Finished,
            ServerPhase::Responding => return Err(SnapshotError::Busy),
        };
        let alerts: Vec<Command<'static>> = s.alerts_out.iter().cloned().collect();
        let mut records = Vec::with_capacity(s.records.len());
        for (id, r) in &s.records {
            records.push(RecordSnap {
                id: *id,
                tag: r.tag,
                kind: r.kind.as_str().to_owned(),
                msg: r.msg_ref.clone(),
                cmd: r.cmd_ref.clone(),
                statuses: r.statuses.iter().map(|(t, c)| (t.clone(), c.0)).collect(),
                original_error: r.original_error.clone(),
                results: items_to_xml(&r.results, "results")?,
                children: r.children.clone(),
                top: r.top,
                disposition: r
                    .disposition
                    .as_ref()
                    .map(|d| disposition_name(d).to_owned()),
            });
        }
        let mut refs: Vec<RefSnap> = s
            .refs
            .iter()
            .map(|((m, c), r)| match r {
                Ref::Record(i, k) => (m.clone(), c.clone(), Some(*i), *k == RefKind::Chunk),
                Ref::Internal => (m.clone(), c.clone(), None, false),
            })
            .collect();
        // A map's order is arbitrary: sorted, equal sessions give equal snapshots.
        refs.sort();
        let last_reply = match &s.last_reply {
            Some(m) => Some(
                m.to_xml()
                    .map_err(|_| SnapshotError::Encode("last response"))?,
            ),
            None => None,
        };
        Ok(ServerSnapshot {
            v: SNAPSHOT_VERSION,
            phase,
            session_id: s.session_id.clone(),
            device_id: s.device_id.clone(),
            last_device_msg: s.last_device_msg,
            last_seen: s.last_seen,
            my_msg_id: s.my_msg_id,
            messages: s.messages,
            statuses: statuses_to_xml(&s.statuses)?,
            alerts: to_xml(&alerts, "alerts")?,
            pending: match &s.pending {
                Some(p) => Some(PendingSnap {
                    tag: p.tag,
                    cmd: to_xml(std::slice::from_ref(&p.command), "pending command")?,
                }),
                None => None,
            },
            outgoing_object: match &s.outgoing_object {
                Some(l) => Some(save_outgoing_object(&l.obj, Some(l.record))?),
                None => None,
            },
            incoming_object: s
                .incoming_object
                .as_ref()
                .map(save_incoming_object)
                .transpose()?,
            records,
            next_record: s.next_record,
            refs,
            device_max_msg: s.device_max_msg,
            device_max_obj: s.device_max_obj,
            auth: s.auth.as_ref().map(|a| AuthSnap {
                scheme: a.scheme.as_str().to_owned(),
                user: a.credentials.username.clone(),
                password: a.credentials.password().to_owned(),
                nonce: b64(&a.nonce),
                challenge_nonce: b64(&a.challenge_nonce),
                next_session_nonce: b64(&a.next_session_nonce),
                max_failures: a.max_failures,
            }),
            auth_phase: match s.auth_phase {
                AuthPhase::NotRequired => AuthPhaseSnap::NotRequired,
                AuthPhase::Pending { failures } => AuthPhaseSnap::Pending(failures),
                AuthPhase::Authenticated => AuthPhaseSnap::Authenticated,
            },
            last_reply,
        })
    }

    /// Continues a saved session with the product's configuration. Set the TLS
    /// identity again ([`set_identity`](ServerSession::set_identity)) before the next
    /// message.
    pub fn restore(cfg: ServerConfig, snap: &ServerSnapshot) -> Result<Self, SnapshotError> {
        if snap.v != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version { found: snap.v });
        }
        let b64 = |s: &str| {
            decode_lenient(s, s.len()).map_err(|_| SnapshotError::Corrupt("authentication"))
        };
        let mut records = BTreeMap::new();
        for r in &snap.records {
            records.insert(
                r.id,
                Record {
                    tag: r.tag,
                    kind: kind_from(&r.kind)?,
                    msg_ref: r.msg.clone(),
                    cmd_ref: r.cmd.clone(),
                    statuses: r
                        .statuses
                        .iter()
                        .map(|(t, c)| (t.clone(), StatusCode(*c)))
                        .collect(),
                    original_error: r.original_error.clone(),
                    results: items_from_xml(&r.results, "results")?,
                    children: r.children.clone(),
                    top: r.top,
                    disposition: r.disposition.as_deref().map(disposition_from).transpose()?,
                },
            );
        }
        let refs: HashMap<(String, String), Ref> = snap
            .refs
            .iter()
            .map(|(m, c, rec, chunk)| {
                let r = match rec {
                    Some(i) => Ref::Record(
                        *i,
                        if *chunk {
                            RefKind::Chunk
                        } else {
                            RefKind::Normal
                        },
                    ),
                    None => Ref::Internal,
                };
                ((m.clone(), c.clone()), r)
            })
            .collect();
        let outgoing_object = match &snap.outgoing_object {
            Some(l) => Some(OutgoingObjectWithRecord {
                obj: restore_outgoing_object(l)?,
                record: l.rec.ok_or(SnapshotError::Corrupt("outgoing object"))?,
            }),
            None => None,
        };
        let auth = match &snap.auth {
            Some(a) => Some(ServerAuth {
                scheme: AuthScheme::parse(&a.scheme)
                    .ok_or(SnapshotError::Corrupt("authentication"))?,
                credentials: Credentials::new(a.user.clone(), a.password.clone()),
                nonce: b64(&a.nonce)?,
                challenge_nonce: b64(&a.challenge_nonce)?,
                next_session_nonce: b64(&a.next_session_nonce)?,
                max_failures: a.max_failures,
            }),
            None => None,
        };
        let last_reply = match &snap.last_reply {
            Some(x) => Some(
                decoder(x.len())
                    .decode_str(x)
                    .map(SyncML::into_owned)
                    .map_err(|_| SnapshotError::Corrupt("last response"))?,
            ),
            None => None,
        };
        let st = ServerState {
            phase: match snap.phase {
                Phase::New => ServerPhase::New,
                Phase::Waiting => ServerPhase::AwaitingDevice,
                Phase::Finished => ServerPhase::Finished,
            },
            session_id: snap.session_id.clone(),
            device_id: snap.device_id.clone(),
            last_device_msg: snap.last_device_msg,
            last_seen: snap.last_seen,
            last_reply,
            my_msg_id: snap.my_msg_id,
            messages: snap.messages,
            statuses: statuses_from_xml(&snap.statuses)?,
            pending: match &snap.pending {
                Some(p) => Some(Pending {
                    tag: p.tag,
                    command: one_command(&p.cmd, "pending command")?,
                }),
                None => None,
            },
            outgoing_object,
            incoming_object: snap
                .incoming_object
                .as_ref()
                .map(restore_incoming_object)
                .transpose()?,
            alerts_out: from_xml(&snap.alerts, "alerts")?.into(),
            records,
            next_record: snap.next_record,
            refs,
            device_max_msg: snap.device_max_msg,
            device_max_obj: snap.device_max_obj,
            auth,
            auth_phase: match snap.auth_phase {
                AuthPhaseSnap::NotRequired => AuthPhase::NotRequired,
                AuthPhaseSnap::Pending(failures) => AuthPhase::Pending { failures },
                AuthPhaseSnap::Authenticated => AuthPhase::Authenticated,
            },
        };
        Ok(ServerSession::from_state(cfg, st))
    }
}

impl DeviceSession {
    /// Saves the session between two server messages.
    pub fn snapshot(&self) -> Result<DeviceSnapshot, SnapshotError> {
        let s = self.state();
        let out: Vec<Command<'static>> = s.out.iter().cloned().collect();
        Ok(DeviceSnapshot {
            v: SNAPSHOT_VERSION,
            phase: match s.phase {
                DevicePhase::New => Phase::New,
                DevicePhase::AwaitingServer => Phase::Waiting,
                DevicePhase::Finished => Phase::Finished,
            },
            my_msg_id: s.my_msg_id,
            last_server_msg: s.last_server_msg,
            server_max_msg: s.server_max_msg,
            statuses: statuses_to_xml(&s.statuses)?,
            out: to_xml(&out, "queued replies")?,
            out_deferred: s.out_deferred,
            outgoing_object: s
                .outgoing_object
                .as_ref()
                .map(|o| save_outgoing_object(o, None))
                .transpose()?,
            incoming_object: s
                .incoming_object
                .as_ref()
                .map(save_incoming_object)
                .transpose()?,
            server_more: s.server_more,
            scheme: s.auth.scheme.as_str().to_owned(),
            nonce: b64(&s.auth.nonce),
            authenticated: s.auth.authenticated,
            attempts: s.auth.attempts,
            next_session_nonce: s.auth.next_session_nonce.as_ref().map(|n| b64(n)),
            messages: s.messages,
        })
    }

    /// Continues a saved session with its configuration.
    pub fn restore(cfg: DeviceConfig, snap: &DeviceSnapshot) -> Result<Self, SnapshotError> {
        if snap.v != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version { found: snap.v });
        }
        let b64 = |s: &str| {
            decode_lenient(s, s.len()).map_err(|_| SnapshotError::Corrupt("authentication"))
        };
        let st = DeviceState {
            phase: match snap.phase {
                Phase::New => DevicePhase::New,
                Phase::Waiting => DevicePhase::AwaitingServer,
                Phase::Finished => DevicePhase::Finished,
            },
            my_msg_id: snap.my_msg_id,
            last_server_msg: snap.last_server_msg,
            server_max_msg: snap.server_max_msg,
            statuses: statuses_from_xml(&snap.statuses)?,
            out: from_xml(&snap.out, "queued replies")?.into(),
            out_deferred: snap.out_deferred,
            outgoing_object: snap
                .outgoing_object
                .as_ref()
                .map(restore_outgoing_object)
                .transpose()?,
            incoming_object: snap
                .incoming_object
                .as_ref()
                .map(restore_incoming_object)
                .transpose()?,
            server_more: snap.server_more,
            auth: DeviceAuthState {
                scheme: AuthScheme::parse(&snap.scheme)
                    .ok_or(SnapshotError::Corrupt("authentication"))?,
                nonce: b64(&snap.nonce)?,
                authenticated: snap.authenticated,
                attempts: snap.attempts,
                next_session_nonce: snap.next_session_nonce.as_deref().map(b64).transpose()?,
            },
            messages: snap.messages,
        };
        Ok(DeviceSession::from_state(cfg, st))
    }
}
