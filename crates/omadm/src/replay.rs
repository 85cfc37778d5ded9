//! Replaying a recorded session through the server engine.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use winmdm_syncml::{Command, SyncML};

use crate::command::{CommandError, DmCommand};
use crate::server::{CommandQueue, DeviceEvent, Queued, ServerConfig, ServerSession};
use crate::session::{Outcome, SessionError};

/// One device message and what the engine answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStep {
    /// The device message's `MsgID`.
    pub device_msg_id: String,
    /// The engine's response, or why it refused the message.
    pub response: Result<SyncML<'static>, SessionError>,
    /// Device Statuses in this message that refer to no command the engine issued
    /// (`(MsgRef, CmdRef)`).
    pub uncorrelated: Vec<(String, String)>,
}

/// A replayed session.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedSession {
    /// The `SessionID`.
    pub session_id: String,
    /// The device (`SyncHdr/Source`).
    pub device_id: String,
    /// Per device message.
    pub steps: Vec<ReplayStep>,
    /// Outcomes of the commands the engine issued (tags count from 0 in issue order).
    pub outcomes: Vec<Outcome>,
    /// Alerts, device information, authentication.
    pub events: Vec<DeviceEvent>,
    /// Commands of the recorded server messages that could not be re-issued.
    pub skipped: Vec<(String, CommandError)>,
}

type Engine = (ServerSession, ReplayQueue, HashSet<(String, String)>);

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

/// Replays recorded messages (in order; device and server messages mixed) through the
/// server engine. Device messages are fed to a fresh engine per `SessionID`; the
/// management commands of each recorded server reply are queued before the device
/// message they answer, so the engine issues them where the recorded server did.
/// `start` is the time of the first message; each message advances it by one second.
pub fn replay(messages: &[SyncML<'_>], start: SystemTime) -> Vec<ReplayedSession> {
    let mut out: Vec<ReplayedSession> = Vec::new();
    let mut engine: Option<Engine> = None;
    let mut now = start;
    for (i, m) in messages.iter().enumerate() {
        if is_server_message(m) {
            continue;
        }
        let sid = m.hdr.session_id.as_deref().unwrap_or("").trim().to_owned();
        let new = out.last().is_none_or(|s| s.session_id != sid);
        if new {
            if let (Some((mut s, mut q, _)), Some(last)) = (engine.take(), out.last_mut()) {
                s.abandon_into(&mut q);
                last.outcomes = std::mem::take(&mut q.outcomes);
                last.events = std::mem::take(&mut q.events);
            }
            let target = m
                .hdr
                .target
                .as_ref()
                .and_then(|t| t.loc_uri.as_deref())
                .unwrap_or("")
                .trim()
                .to_owned();
            engine = Some((
                ServerSession::new(ServerConfig::new(target)),
                ReplayQueue::default(),
                HashSet::new(),
            ));
            out.push(ReplayedSession {
                session_id: sid,
                device_id: m
                    .hdr
                    .source
                    .as_ref()
                    .and_then(|s| s.loc_uri.as_deref())
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
                steps: Vec::new(),
                outcomes: Vec::new(),
                events: Vec::new(),
                skipped: Vec::new(),
            });
        }
        let (Some((s, q, keys)), Some(sess)) = (engine.as_mut(), out.last_mut()) else {
            continue;
        };
        // Commands the recorded server sent in reply to this message.
        if let Some(reply) = messages.get(i + 1).filter(|r| is_server_message(r)) {
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
                    Err(e) => sess.skipped.push((
                        format!("{} CmdID {}", c.name(), c.cmd_id().unwrap_or("?")),
                        e,
                    )),
                }
            }
        }
        let uncorrelated = m
            .body
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
            .collect();
        let response = s.handle(m, now, q);
        if let Ok(r) = &response {
            issued_keys(r, keys);
        }
        now += Duration::from_secs(1);
        sess.steps.push(ReplayStep {
            device_msg_id: m.hdr.msg_id.as_deref().unwrap_or("").trim().to_owned(),
            response,
            uncorrelated,
        });
    }
    if let (Some((mut s, mut q, _)), Some(last)) = (engine.take(), out.last_mut()) {
        if !s.is_finished() {
            s.abandon_into(&mut q);
        }
        last.outcomes = std::mem::take(&mut q.outcomes);
        last.events = std::mem::take(&mut q.events);
    }
    out
}
