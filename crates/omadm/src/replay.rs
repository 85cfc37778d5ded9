//! Replaying recorded sessions through the server engine: [`replay()`] pairs device and
//! server messages, feeds the device messages to a fresh [`ServerSession`] per session
//! with the recorded server's commands queued, and reports each step
//! ([`ReplayReport`]). `winmdm omadm replay DIR` prints it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use winmdm_syncml::{Command, SyncML};

use crate::command::{CommandError, DmCommand};
use crate::server::{CommandQueue, DeviceEvent, Queued, ServerConfig, ServerSession};
use crate::session::{Outcome, SessionError};

/// One device message and what the engine answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayStep {
    /// The device message's `MsgID`.
    pub device_msg_id: String,
    /// Its index in the replayed messages.
    pub device_index: usize,
    /// The index of the recorded server message that answers it (same `SessionID`, its
    /// `Target` this device, the `MsgRef` of its SyncHdr Status this `MsgID`), if any.
    pub reply_index: Option<usize>,
    /// The engine's response, or why it refused the message.
    pub response: Result<SyncML<'static>, SessionError>,
    /// Device Statuses in this message that refer to no command the engine issued
    /// (`(MsgRef, CmdRef)`).
    pub uncorrelated: Vec<(String, String)>,
}

/// A replayed session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayedSession {
    /// The `SessionID`.
    pub session_id: String,
    /// The device (`SyncHdr/Source`).
    pub device_id: String,
    /// The first device message of the session has a `MsgID` above 1: the capture starts
    /// after the session did. It is replayed from there all the same.
    pub starts_mid_way: bool,
    /// Per device message, in `MsgID` order.
    pub steps: Vec<ReplayStep>,
    /// Outcomes of the commands the engine issued (tags count from 0 in issue order).
    pub outcomes: Vec<Outcome>,
    /// Alerts, device information, authentication.
    pub events: Vec<DeviceEvent>,
    /// Commands of the recorded server messages that could not be re-issued.
    pub skipped: Vec<(String, CommandError)>,
}

/// What [`replay`] returns: the replayed sessions and the recorded server messages that
/// answer no device message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The sessions, in the order of their first device message.
    pub sessions: Vec<ReplayedSession>,
    /// Every recorded server message that answers no device message here, in input order.
    /// Their commands are not re-issued.
    pub unmatched: Vec<UnmatchedReply>,
}

/// A recorded server message that answers no device message here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnmatchedReply {
    /// Its index in the replayed messages.
    pub index: usize,
    /// Why it answers nothing.
    pub reason: UnmatchedReason,
}

/// Why a recorded server message answers no device message ([`UnmatchedReply::reason`]).
/// `Display` is the sentence `winmdm omadm replay` prints after `FILE: error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnmatchedReason {
    /// The message has no Status for the SyncHdr (`CmdRef` 0), or that Status has no
    /// `MsgRef`: it names no device message.
    #[error(
        "this server message has no Status for the SyncHdr (CmdRef 0) with a MsgRef, so it \
         answers no device message"
    )]
    NoSyncHdrMsgRef,
    /// No device message has this `SessionID`, this device (the server message's
    /// `Target`) and this `MsgID` (the `MsgRef` of the server's Status for the SyncHdr).
    #[error(
        "this server message answers no device message here: no device message from \
         {device:?} has SessionID {session_id} and MsgID {msg_ref} (the MsgRef of its Status \
         for the SyncHdr)"
    )]
    NoDeviceMessage {
        /// The server message's `SessionID`, trimmed.
        session_id: String,
        /// Its `SyncHdr/Target/LocURI`, trimmed.
        device: String,
        /// The `MsgRef` of its Status for the SyncHdr, trimmed.
        msg_ref: String,
    },
    /// The device message it answers was already answered by an earlier server message
    /// (in input order), the one replayed.
    #[error(
        "a second server reply to MsgID {msg_ref} of session {session_id} from {device:?}: \
         only the first is replayed"
    )]
    SecondReply {
        /// The `SessionID`, trimmed.
        session_id: String,
        /// The device (`SyncHdr/Target/LocURI` of the server message), trimmed.
        device: String,
        /// The `MsgRef` of its Status for the SyncHdr: the device message's `MsgID`.
        msg_ref: String,
        /// The index of the device message in the replayed messages.
        device_index: usize,
        /// The index of the first server message answering it (its
        /// [`ReplayStep::reply_index`]).
        first_reply_index: usize,
    },
}

#[derive(Default)]
struct ReplayQueue {
    todo: std::collections::VecDeque<Queued>,
    next_tag: u64,
    outcomes: Vec<Outcome>,
    events: Vec<DeviceEvent>,
}

impl CommandQueue for ReplayQueue {
    fn next_command(&mut self) -> Option<Queued> {
        self.todo.pop_front()
    }
    fn outcome(&mut self, o: Outcome) {
        self.outcomes.push(o);
    }
    fn event(&mut self, e: DeviceEvent) {
        self.events.push(e);
    }
}

/// Whether a recorded message was sent by a server (its `Source` is an HTTP(S) URL).
pub fn is_server_message(m: &SyncML<'_>) -> bool {
    m.hdr
        .source
        .as_ref()
        .and_then(|s| s.loc_uri.as_deref())
        .is_some_and(|u| {
            let u = u.trim().to_ascii_lowercase();
            u.starts_with("https://") || u.starts_with("http://")
        })
}

fn issued_keys(m: &SyncML<'_>, out: &mut HashSet<(String, String)>) {
    fn walk(cmds: &[Command<'_>], msg: &str, out: &mut HashSet<(String, String)>) {
        for c in cmds {
            match c {
                Command::Status(_) | Command::Unknown(_) => {}
                Command::Atomic(k) | Command::Sequence(k) => {
                    out.insert((msg.to_owned(), c.cmd_id().unwrap_or("").to_owned()));
                    walk(&k.commands, msg, out);
                }
                _ => {
                    out.insert((msg.to_owned(), c.cmd_id().unwrap_or("").to_owned()));
                }
            }
        }
    }
    walk(&m.body.commands, m.hdr.msg_id.as_deref().unwrap_or(""), out);
}

/// What a recorded server message answers: its `SessionID` and the `MsgRef` of its Status
/// for the SyncHdr (`CmdRef` 0). The codec's `SyncHdr` has no `MsgRef` of its own; in
/// OMA-DM the server's Status for the device's header is what names the device `MsgID` it
/// answers. `None` when the message has no such Status (or it has no `MsgRef`).
fn answers(m: &SyncML<'_>) -> Option<(String, String)> {
    let msg_ref = m.body.commands.iter().find_map(|c| match c {
        Command::Status(st) if st.cmd_ref.as_deref().map(str::trim) == Some("0") => {
            st.msg_ref.as_deref().map(|r| r.trim().to_owned())
        }
        _ => None,
    })?;
    Some((trimmed(m.hdr.session_id.as_deref()), msg_ref))
}

fn trimmed(s: Option<&str>) -> String {
    s.unwrap_or("").trim().to_owned()
}

/// The `LocURI` of a `Source` or `Target`, trimmed (empty when absent).
fn loc_uri_text(l: Option<&winmdm_syncml::Location<'_>>) -> String {
    trimmed(l.and_then(|l| l.loc_uri.as_deref()))
}

/// Replays recorded messages (device and server messages mixed, in any order) through the
/// server engine, and returns the sessions with the recorded server messages that answer
/// no device message ([`ReplayReport`]).
///
/// Device messages are grouped by (`SessionID`, device = `SyncHdr/Source`), sessions in the
/// order of their first message, and fed to a fresh engine per session in `MsgID` order
/// (numeric; file order among equal or non-numeric ones). A recorded server message
/// answers the device message with its `SessionID`, whose device is the server
/// message's `Target`, and whose `MsgID` is the `MsgRef` of the server's Status for the
/// SyncHdr (`CmdRef` 0): where it sits among the files does not matter. Its management
/// commands are queued before the device message it answers, so the engine issues them
/// where the recorded server did.
///
/// [`ReplayReport::unmatched`] lists, by index into `messages`, every server message that
/// answers no device message here, with why ([`UnmatchedReason`]): no Status for the
/// SyncHdr with a `MsgRef`, no device message with that `SessionID`/device/`MsgID`, or a
/// device message already answered by an earlier server message (the first, in `messages`
/// order, is used). Their commands are not re-issued.
///
/// A session whose first device message has a `MsgID` above 1 is marked
/// [`ReplayedSession::starts_mid_way`] (the capture began after the session did) and
/// replayed from that message: the engine starts there as if it were package 1, so device
/// Statuses for commands of earlier (unrecorded) server messages show as uncorrelated.
///
/// `start` is the time of the first message; each device message advances it by one second.
pub fn replay(messages: &[SyncML<'_>], start: SystemTime) -> ReplayReport {
    let groups = device_message_groups(messages);
    let (reply_of, unmatched) = match_replies(messages, &groups);
    let mut now = start;
    let sessions = groups
        .into_iter()
        .map(|(key, idx)| replay_session(messages, key, idx, &reply_of, &mut now))
        .collect();
    ReplayReport {
        sessions,
        unmatched,
    }
}

/// Device messages grouped by `(SessionID, device)`.
type Groups = Vec<((String, String), Vec<usize>)>;

/// A message's `MsgID` as a number (`u64::MAX` when it is not one).
fn msg_number(m: &SyncML<'_>) -> u64 {
    m.hdr
        .msg_id
        .as_deref()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX)
}

/// The indexes of the device messages per (SessionID, device), groups in order of first
/// appearance, each in `MsgID` order (file order among equal ones).
fn device_message_groups(messages: &[SyncML<'_>]) -> Groups {
    let mut groups: Groups = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if is_server_message(m) {
            continue;
        }
        let key = (
            trimmed(m.hdr.session_id.as_deref()),
            loc_uri_text(m.hdr.source.as_ref()),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    for (_, v) in &mut groups {
        v.sort_by_key(|&i| msg_number(&messages[i])); // stable: file order among equals
    }
    groups
}

/// Matches every server message to the device message it answers: the map from device
/// message to server message, and the server messages that answer none.
fn match_replies(
    messages: &[SyncML<'_>],
    groups: &Groups,
) -> (HashMap<usize, usize>, Vec<UnmatchedReply>) {
    let mut reply_of: HashMap<usize, usize> = HashMap::new();
    let mut unmatched: Vec<UnmatchedReply> = Vec::new();
    for (j, m) in messages.iter().enumerate() {
        if !is_server_message(m) {
            continue;
        }
        let Some((session_id, msg_ref)) = answers(m) else {
            unmatched.push(UnmatchedReply {
                index: j,
                reason: UnmatchedReason::NoSyncHdrMsgRef,
            });
            continue;
        };
        let device = loc_uri_text(m.hdr.target.as_ref());
        let found = groups
            .iter()
            .filter(|((s, d), _)| *s == session_id && *d == device)
            .flat_map(|(_, v)| v.iter().copied())
            .find(|&i| trimmed(messages[i].hdr.msg_id.as_deref()) == msg_ref);
        match found {
            None => unmatched.push(UnmatchedReply {
                index: j,
                reason: UnmatchedReason::NoDeviceMessage {
                    session_id,
                    device,
                    msg_ref,
                },
            }),
            Some(i) => match reply_of.get(&i) {
                Some(&first) => unmatched.push(UnmatchedReply {
                    index: j,
                    reason: UnmatchedReason::SecondReply {
                        session_id,
                        device,
                        msg_ref,
                        device_index: i,
                        first_reply_index: first,
                    },
                }),
                None => {
                    reply_of.insert(i, j);
                }
            },
        }
    }
    (reply_of, unmatched)
}

/// Replays one session's device messages (`idx`) through a fresh engine, queueing
/// before each the commands of the recorded server message that answered it.
fn replay_session(
    messages: &[SyncML<'_>],
    (session_id, device_id): (String, String),
    idx: Vec<usize>,
    reply_of: &HashMap<usize, usize>,
    now: &mut SystemTime,
) -> ReplayedSession {
    let first = &messages[idx[0]];
    let mut s = ServerSession::new(ServerConfig::new(loc_uri_text(first.hdr.target.as_ref())));
    let mut q = ReplayQueue::default();
    let mut keys: HashSet<(String, String)> = HashSet::new();
    let mut sess = ReplayedSession {
        session_id,
        device_id,
        starts_mid_way: (2..u64::MAX).contains(&msg_number(first)),
        steps: Vec::new(),
        outcomes: Vec::new(),
        events: Vec::new(),
        skipped: Vec::new(),
    };
    for i in idx {
        let m = &messages[i];
        let reply_index = reply_of.get(&i).copied();
        if let Some(reply) = reply_index.map(|j| &messages[j]) {
            queue_recorded_commands(reply, &mut q, &mut sess.skipped);
        }
        let uncorrelated = uncorrelated_statuses(m, &keys);
        let response = s.handle(m, *now, &mut q);
        if let Ok(r) = &response {
            issued_keys(r, &mut keys);
        }
        *now += Duration::from_secs(1);
        sess.steps.push(ReplayStep {
            device_msg_id: trimmed(m.hdr.msg_id.as_deref()),
            device_index: i,
            reply_index,
            response,
            uncorrelated,
        });
    }
    if !s.is_finished() {
        s.abandon_into(&mut q);
    }
    sess.outcomes = std::mem::take(&mut q.outcomes);
    sess.events = std::mem::take(&mut q.events);
    sess
}

/// Queues the management commands the recorded server sent in `reply`; those that are
/// not valid commands go to `skipped`.
fn queue_recorded_commands(
    reply: &SyncML<'_>,
    q: &mut ReplayQueue,
    skipped: &mut Vec<(String, CommandError)>,
) {
    for c in &reply.body.commands {
        if matches!(c, Command::Status(_) | Command::Results(_)) {
            continue;
        }
        match DmCommand::from_wire(c) {
            Ok(command) => {
                q.todo.push_back(Queued {
                    tag: q.next_tag,
                    command,
                });
                q.next_tag += 1;
            }
            Err(e) => skipped.push((
                format!("{} CmdID {}", c.name(), c.cmd_id().unwrap_or("?")),
                e,
            )),
        }
    }
}

/// The `(MsgRef, CmdRef)` of the device's Statuses (SyncHdr ones aside) that refer to no
/// command the engine issued so far (`keys`).
fn uncorrelated_statuses(
    m: &SyncML<'_>,
    keys: &HashSet<(String, String)>,
) -> Vec<(String, String)> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(st) if st.cmd_ref.as_deref().map(str::trim) != Some("0") => {
                let k = (
                    st.msg_ref.as_deref().unwrap_or("1").trim().to_owned(),
                    st.cmd_ref.as_deref().unwrap_or("").trim().to_owned(),
                );
                (!keys.contains(&k)).then_some(k)
            }
            _ => None,
        })
        .collect()
}
