//! Issue 14, `winmdm omadm replay` on folders of captures: the real `winmdm` binary on the
//! real recorded sessions of `crates/omadm/tests/data` (copied under new names, or edited
//! where a test needs a wrong reference), asserting standard output, standard error and the
//! exit code (0 ok, 1 findings or invalid input).
//!
//! A recorded server message answers the device message with its SessionID, from its
//! Target, whose MsgID is the MsgRef of its Status for the SyncHdr (CmdRef 0).

use std::path::{Path, PathBuf};
use std::process::Output;

fn omadm_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../omadm/tests/data")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(omadm_data(rel)).unwrap()
}

const DEV1: &str = "win10-19043/07-device-syncml-session1.xml";
const SRV1: &str = "win10-19043/08-server-syncml-session1.xml";
const DEV2: &str = "win10-19043/09-device-syncml-session2-unenroll.xml";
const SRV2: &str = "win10-19043/10-server-syncml-session2.xml";
const DEVICE: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";

/// A directory of its own holding `files` (name, content).
fn folder(test: &str, files: &[(&str, String)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("winmdm-cli-replay-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    d
}

fn replay(dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_winmdm"))
        .args(["omadm", "replay"])
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error, the directory replaced by `DIR`, one line per entry.
fn stderr(o: &Output, dir: &Path) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .replace(&dir.display().to_string(), "DIR")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The step lines of standard output: `device MsgID ... (FILE)` and `recorded reply: ...`.
fn steps(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| {
            l.starts_with("session ") || l.contains("device MsgID") || l.contains("recorded reply")
        })
        .map(|l| {
            // Cut the engine's response summary: the pairing is what is under test.
            match l.find(" -> ") {
                Some(i) => l[..i].to_owned(),
                None => l.to_owned(),
            }
        })
        .collect()
}

#[test]
fn out_of_order_files_are_matched_by_session_id_and_msg_ref() {
    // Both device messages first, then session 2's reply, then session 1's: pairing by file
    // order would give session 1 no reply and session 2 the wrong one.
    let d = folder(
        "out-of-order",
        &[
            ("01-device-s1.xml", read(DEV1)),
            ("02-device-s2.xml", read(DEV2)),
            ("03-server-s2.xml", read(SRV2)),
            ("04-server-s1.xml", read(SRV1)),
        ],
    );
    let o = replay(&d);
    assert_eq!(stderr(&o, &d), Vec::<String>::new());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        steps(&stdout(&o)),
        [
            format!("session 1 device {DEVICE}"),
            "  device MsgID 1 (01-device-s1.xml)".to_owned(),
            "    recorded reply: 04-server-s1.xml".to_owned(),
            format!("session 2 device {DEVICE}"),
            "  device MsgID 1 (02-device-s2.xml)".to_owned(),
            "    recorded reply: 03-server-s2.xml".to_owned(),
        ]
    );
}

#[test]
fn a_server_message_with_a_wrong_msg_ref_or_session_id_is_an_error() {
    let srv1 = read(SRV1);
    // Only the SyncHdr Status's MsgRef changes (the first <MsgRef> of the file).
    let wrong_ref = srv1.replacen("<MsgRef>1</MsgRef>", "<MsgRef>2</MsgRef>", 1);
    assert_ne!(wrong_ref, srv1);
    let wrong_session = read(SRV2).replace("<SessionID>2</SessionID>", "<SessionID>7</SessionID>");
    let d = folder(
        "wrong-ref",
        &[
            ("01-device-s1.xml", read(DEV1)),
            ("02-server-s1.xml", wrong_ref),
            ("03-device-s2.xml", read(DEV2)),
            ("04-server-s2.xml", wrong_session),
        ],
    );
    let o = replay(&d);
    assert_eq!(
        stderr(&o, &d),
        [
            format!(
                "DIR/02-server-s1.xml: error: this server message answers no device message \
                 here: no device message from \"{DEVICE}\" has SessionID 1 and MsgID 2 (the \
                 MsgRef of its Status for the SyncHdr)"
            ),
            format!(
                "DIR/04-server-s2.xml: error: this server message answers no device message \
                 here: no device message from \"{DEVICE}\" has SessionID 7 and MsgID 1 (the \
                 MsgRef of its Status for the SyncHdr)"
            ),
        ]
    );
    assert_eq!(o.status.code(), Some(1));
    // The device messages are still replayed, without recorded replies.
    assert_eq!(
        steps(&stdout(&o)),
        [
            format!("session 1 device {DEVICE}"),
            "  device MsgID 1 (01-device-s1.xml)".to_owned(),
            "    recorded reply: none".to_owned(),
            format!("session 2 device {DEVICE}"),
            "  device MsgID 1 (03-device-s2.xml)".to_owned(),
            "    recorded reply: none".to_owned(),
        ]
    );
}

#[test]
fn a_folder_starting_with_the_reply_to_a_later_file_is_a_warning() {
    let d = folder(
        "server-first",
        &[("a-server.xml", read(SRV1)), ("b-device.xml", read(DEV1))],
    );
    let o = replay(&d);
    assert_eq!(
        stderr(&o, &d),
        [
            "DIR/a-server.xml: warning: this server message sorts before the device message it \
          answers (b-device.xml, SessionID 1 MsgID 1); matched by SessionID and MsgRef"
        ]
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        steps(&stdout(&o)),
        [
            format!("session 1 device {DEVICE}"),
            "  device MsgID 1 (b-device.xml)".to_owned(),
            "    recorded reply: a-server.xml".to_owned(),
        ]
    );
}

#[test]
fn a_folder_starting_with_an_unanswered_server_message_is_an_error() {
    // Session 2's reply, then session 1's device message: the reply answers nothing here.
    let d = folder(
        "server-first-unanswered",
        &[
            ("01-server-s2.xml", read(SRV2)),
            ("02-device-s1.xml", read(DEV1)),
        ],
    );
    let o = replay(&d);
    assert_eq!(
        stderr(&o, &d),
        [format!(
            "DIR/01-server-s2.xml: error: this server message answers no device message here: \
             no device message from \"{DEVICE}\" has SessionID 2 and MsgID 1 (the MsgRef of \
             its Status for the SyncHdr)"
        )]
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        steps(&stdout(&o)),
        [
            format!("session 1 device {DEVICE}"),
            "  device MsgID 1 (02-device-s1.xml)".to_owned(),
            "    recorded reply: none".to_owned(),
        ]
    );
}

#[test]
fn a_folder_of_server_messages_only_is_an_error() {
    for (test, files) in [
        ("server-only-one", vec![("08.xml", read(SRV1))]),
        (
            "server-only-two",
            vec![("08.xml", read(SRV1)), ("10.xml", read(SRV2))],
        ),
    ] {
        let d = folder(test, &files);
        let o = replay(&d);
        let mut expect: Vec<String> = files
            .iter()
            .map(|(name, text)| {
                let sid = if text.contains("<SessionID>2</SessionID>") {
                    2
                } else {
                    1
                };
                format!(
                    "DIR/{name}: error: this server message answers no device message here: \
                     no device message from \"{DEVICE}\" has SessionID {sid} and MsgID 1 (the \
                     MsgRef of its Status for the SyncHdr)"
                )
            })
            .collect();
        expect.push(format!(
            "DIR: error: no device message in this directory ({} server message(s)): nothing \
             to replay",
            files.len()
        ));
        assert_eq!(stderr(&o, &d), expect, "{test}");
        assert_eq!(o.status.code(), Some(1), "{test}");
        assert_eq!(stdout(&o), "", "{test}");
    }
}

#[test]
fn a_session_starting_mid_way_is_reported_and_replayed_from_there() {
    // The MS-MDM section 4 session without its first two messages: the device's MsgID 2.
    let d = folder(
        "mid-way",
        &[(
            "pkg3.xml",
            read("ms-mdm-spec4/ms-mdm-spec_4_03_client-pkg3-results.xml"),
        )],
    );
    let o = replay(&d);
    assert_eq!(
        stderr(&o, &d),
        [
            "DIR/pkg3.xml: warning: session 1 of {unique device id} starts mid-way: its first \
          device message here has MsgID 2, the earlier ones are not in this directory; \
          replayed from there (the engine takes it as package 1, so device Statuses for \
          earlier server commands show as uncorrelated)"
        ]
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(
        steps(&out),
        [
            "session 1 device {unique device id} (starts mid-way)",
            "  device MsgID 2 (pkg3.xml)",
            "    recorded reply: none",
        ]
    );
    assert!(out.contains("    uncorrelated device Status MsgRef 1 CmdRef 4\n    uncorrelated device Status MsgRef 1 CmdRef 5\n"), "{out}");
}

#[test]
fn the_whole_real_sessions_replay_cleanly() {
    for dir in ["win10-19043", "ms-mdm-spec4"] {
        let d = omadm_data(dir);
        let o = replay(&d);
        assert_eq!(stderr(&o, &d), Vec::<String>::new(), "{dir}");
        assert_eq!(o.status.code(), Some(0), "{dir}");
    }
}
