//! `winmdm omadm` subcommands.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use winmdm_omadm::{DeviceEvent, Disposition, Outcome, ReplayedSession, replay};
use winmdm_syncml::{Command, EncodeOptions, SyncML};

use crate::report;

/// `winmdm omadm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Run a recorded session through the server engine and print the correlation it
    /// derived. DIR holds SyncML messages (`*.xml`), ordered by file name; device
    /// messages are fed to the engine, recorded server messages (Source is an http(s)
    /// URL) supply the commands to re-issue.
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
        } => match replay_dir(&dir, show_responses) {
            Ok(text) => {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                report::status(true)
            }
        },
    }
}

fn replay_dir(dir: &Path, show: bool) -> Result<String, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| report::file(dir, &report::io_message(&e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(report::file(dir, "no .xml files in this directory"));
    }
    let bytes: Vec<(PathBuf, Vec<u8>)> = paths
        .into_iter()
        .map(|p| report::read(&p).map(|b| (p.clone(), b)))
        .collect::<Result<_, _>>()?;
    let mut msgs: Vec<SyncML<'_>> = Vec::new();
    for (p, b) in &bytes {
        msgs.push(winmdm_syncml::decode(b).map_err(|e| crate::syncml::decode_error(p, &e))?);
    }
    let sessions = replay(&msgs, SystemTime::now());
    let mut out = String::new();
    for s in &sessions {
        print_session(&mut out, s, show);
    }
    Ok(out)
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

fn print_session(out: &mut String, s: &ReplayedSession, show: bool) {
    let _ = writeln!(out, "session {} device {}", s.session_id, s.device_id);
    for st in &s.steps {
        match &st.response {
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "  device MsgID {} -> server {}",
                    st.device_msg_id,
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
                let _ = writeln!(out, "  device MsgID {} -> refused: {e}", st.device_msg_id);
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
        let out = replay_dir(&data("ms-mdm-spec4"), false).unwrap();
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
        let out = replay_dir(&data("win10-19043"), true).unwrap();
        assert_eq!(out.matches("session ").count(), 2, "{out}");
        assert!(out.contains("UnenrollmentUserRequest"), "{out}");
        assert!(out.contains("<Cmd>SyncHdr</Cmd>"), "{out}");
        assert!(replay_dir(Path::new("/nonexistent-dir"), false).is_err());
    }
}
