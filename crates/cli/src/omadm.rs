//! `winmdm omadm` subcommands.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use winmdm_omadm::replay::{ReplayedSession, replay};
use winmdm_omadm::server::DeviceEvent;
use winmdm_omadm::{Disposition, Outcome};
use winmdm_syncml::{Command, EncodeOptions, SyncML};

use crate::report;

/// `winmdm omadm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Run a recorded session through the server engine and print the correlation it
    /// derived. DIR holds SyncML messages (`*.xml`); device messages are fed to the engine
    /// per SessionID in MsgID order; a recorded server message (Source is an http(s) URL)
    /// supplies the commands to re-issue before the device message it answers: the one
    /// with its SessionID, from its Target, whose MsgID is the MsgRef of its Status for the
    /// SyncHdr (file order does not matter). Errors (exit 1): a server message that answers
    /// no device message here, a directory without device messages. Warnings: a session
    /// whose first device message has MsgID above 1 (starts mid-way; replayed from there),
    /// a server message that sorts before the device message it answers.
    Replay {
        /// The directory with the recorded messages.
        dir: PathBuf,
        /// Also print each response the engine produced, indented.
        #[arg(long)]
        show_responses: bool,
    },
}

/// Runs one `winmdm omadm` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Replay {
            dir,
            show_responses,
        } => {
            let r = replay_dir(&dir, show_responses);
            let _ = std::io::stdout().lock().write_all(r.text.as_bytes());
            for d in &r.diagnostics {
                eprintln!("{d}");
            }
            report::status(r.failed)
        }
    }
}

/// What `omadm replay` prints: the sessions (standard output), the errors and warnings
/// (standard error, `FILE: error: ...` / `FILE: warning: ...`), and whether any is an error.
#[derive(Debug, Default)]
struct Replayed {
    text: String,
    diagnostics: Vec<String>,
    failed: bool,
}

fn warning(file: &Path, message: &str) -> String {
    format!("{}: warning: {message}", file.display())
}

fn replay_dir(dir: &Path, show: bool) -> Replayed {
    let mut r = Replayed::default();
    let fail = |r: &mut Replayed, e: String| {
        r.diagnostics.push(e);
        r.failed = true;
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            fail(&mut r, report::file(dir, &report::io_message(&e)));
            return r;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        fail(&mut r, report::file(dir, "no .xml files in this directory"));
        return r;
    }
    let mut bytes: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for p in paths {
        match report::read(&p) {
            Ok(b) => bytes.push((p, b)),
            Err(e) => fail(&mut r, e),
        }
    }
    let mut msgs: Vec<SyncML<'_>> = Vec::new();
    let mut files: Vec<&Path> = Vec::new();
    for (p, b) in &bytes {
        match winmdm_syncml::decode(b) {
            Ok(m) => {
                msgs.push(m);
                files.push(p);
            }
            Err(e) => fail(&mut r, crate::syncml::decode_error(p, &e)),
        }
    }
    if r.failed {
        // Replaying what is left would report its server messages as unanswered.
        return r;
    }
    let replayed = replay(&msgs, SystemTime::now());
    let name = |i: usize| {
        files[i]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for s in &replayed.sessions {
        if s.starts_mid_way {
            let first = &s.steps[0];
            r.diagnostics.push(warning(
                files[first.device_index],
                &format!(
                    "session {} of {} starts mid-way: its first device message here has MsgID \
                     {}, the earlier ones are not in this directory; replayed from there (the \
                     engine takes it as package 1, so device Statuses for earlier server \
                     commands show as uncorrelated)",
                    s.session_id, s.device_id, first.device_msg_id
                ),
            ));
        }
        for st in &s.steps {
            if let Some(j) = st.reply_index.filter(|&j| j < st.device_index) {
                r.diagnostics.push(warning(
                    files[j],
                    &format!(
                        "this server message sorts before the device message it answers \
                         ({}, SessionID {} MsgID {}); matched by SessionID and MsgRef",
                        name(st.device_index),
                        s.session_id,
                        st.device_msg_id
                    ),
                ));
            }
        }
        print_session(&mut r.text, s, show, &name);
    }
    for u in &replayed.unmatched {
        fail(&mut r, report::file(files[u.index], &u.reason.to_string()));
    }
    if replayed.sessions.is_empty() {
        fail(
            &mut r,
            report::file(
                dir,
                &format!(
                    "no device message in this directory ({} server message(s)): nothing to \
                     replay",
                    msgs.len()
                ),
            ),
        );
    }
    r
}

fn summary(m: &SyncML<'_>) -> String {
    let names: Vec<String> = m
        .body
        .commands
        .iter()
        .map(|c| match c {
            Command::Status(s) => format!(
                "Status({} {}={})",
                s.cmd.as_deref().unwrap_or("?"),
                s.cmd_ref.as_deref().unwrap_or(""),
                s.code().map(|c| c.0.to_string()).unwrap_or_default()
            ),
            other => format!("{}#{}", other.name(), other.cmd_id().unwrap_or("")),
        })
        .collect();
    format!(
        "MsgID {} [{}]{}",
        m.hdr.msg_id.as_deref().unwrap_or("?"),
        names.join(", "),
        if m.body.r#final {
            " Final"
        } else {
            " (no Final)"
        }
    )
}

fn print_outcome(out: &mut String, o: &Outcome, indent: &str) {
    let status = o
        .status
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "-".to_owned());
    let disp = match o.disposition {
        Disposition::Answered => String::new(),
        ref d => format!(" ({d:?})"),
    };
    let _ = writeln!(
        out,
        "{indent}{} MsgRef {} CmdRef {} -> {status}{disp}{}",
        o.kind,
        o.msg_ref,
        o.cmd_ref,
        o.original_error
            .as_deref()
            .map(|e| format!(" originalerror {e}"))
            .unwrap_or_default()
    );
    for i in &o.item_statuses {
        let _ = writeln!(out, "{indent}  item {} -> {}", i.item_ref, i.code.0);
    }
    for r in &o.results {
        let data = r.data.as_ref().map(|d| d.as_str()).unwrap_or("");
        let shown: String = data.chars().take(80).collect();
        let _ = writeln!(
            out,
            "{indent}  result {} = {:?}{}",
            r.source_uri().unwrap_or("?"),
            shown,
            if shown.len() < data.len() {
                format!(" ({} bytes)", data.len())
            } else {
                String::new()
            }
        );
    }
    for c in &o.children {
        print_outcome(out, c, &format!("{indent}  "));
    }
}

fn print_session(
    out: &mut String,
    s: &ReplayedSession,
    show: bool,
    name: &dyn Fn(usize) -> String,
) {
    let _ = writeln!(
        out,
        "session {} device {}{}",
        s.session_id,
        s.device_id,
        if s.starts_mid_way {
            " (starts mid-way)"
        } else {
            ""
        }
    );
    for st in &s.steps {
        match &st.response {
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "  device MsgID {} ({}) -> server {}",
                    st.device_msg_id,
                    name(st.device_index),
                    summary(r)
                );
                if show {
                    let mut v = Vec::new();
                    if r.encode_with(&mut v, &EncodeOptions::pretty()).is_ok() {
                        for l in String::from_utf8_lossy(&v).lines() {
                            let _ = writeln!(out, "      {l}");
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "  device MsgID {} ({}) -> refused: {e}",
                    st.device_msg_id,
                    name(st.device_index)
                );
            }
        }
        match st.reply_index {
            Some(j) => {
                let _ = writeln!(out, "    recorded reply: {}", name(j));
            }
            None => {
                let _ = writeln!(out, "    recorded reply: none");
            }
        }
        for (m, c) in &st.uncorrelated {
            let _ = writeln!(out, "    uncorrelated device Status MsgRef {m} CmdRef {c}");
        }
    }
    for (what, e) in &s.skipped {
        let _ = writeln!(out, "  not re-issued: {what}: {e}");
    }
    for e in &s.events {
        let text = match e {
            DeviceEvent::Alert(a) => format!("alert {a:?}"),
            DeviceEvent::DeviceInfo(v) => format!(
                "device info {}",
                v.iter()
                    .map(|(k, d)| format!("{k}={d}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => format!("{other:?}"),
        };
        let _ = writeln!(out, "  event: {text}");
    }
    for o in &s.outcomes {
        print_outcome(out, o, "  outcome: ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(dir: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../omadm/tests/data")
            .join(dir)
    }

    #[test]
    fn replays_the_ms_mdm_section_4_session() {
        let r = replay_dir(&data("ms-mdm-spec4"), false);
        assert!(!r.failed && r.diagnostics.is_empty(), "{r:?}");
        let out = r.text;
        assert!(out.contains("session 1 device {unique device id}"), "{out}");
        assert!(out.contains("Status(Replace 3=200), Get#4] Final"), "{out}");
        assert!(
            out.contains("uncorrelated device Status MsgRef 1 CmdRef 5"),
            "{out}"
        );
        assert!(
            out.contains("outcome: Get MsgRef 1 CmdRef 4 -> 200"),
            "{out}"
        );
        assert!(
            out.contains("result ./DevDetail/SwV = \"[software version returned here]\""),
            "{out}"
        );
    }

    #[test]
    fn replays_the_real_sessions_and_shows_responses() {
        let r = replay_dir(&data("win10-19043"), true);
        assert!(!r.failed && r.diagnostics.is_empty(), "{r:?}");
        let out = r.text;
        assert_eq!(out.matches("session ").count(), 2, "{out}");
        assert!(out.contains("UnenrollmentUserRequest"), "{out}");
        assert!(out.contains("<Cmd>SyncHdr</Cmd>"), "{out}");
        let r = replay_dir(Path::new("/nonexistent-dir"), false);
        assert!(r.failed && r.text.is_empty(), "{r:?}");
    }
}
