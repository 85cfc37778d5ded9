//! Replays of real and published sessions through the server engine.

use std::time::SystemTime;

use winmdm_omadm::{
    ClientEvent, DeviceAlert, DeviceEvent, GenericKind, LoginStatus, ReplayedSession, replay,
};
use winmdm_syncml::{Command, CommandKind, StatusCode, SyncML, decode};

fn load(dir: &str) -> Vec<SyncML<'static>> {
    let path = format!("{}/tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| decode(&std::fs::read(p).unwrap()).unwrap().into_owned())
        .collect()
}

fn statuses(m: &SyncML<'_>) -> Vec<(String, String, u16)> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) => Some((
                s.cmd_ref.as_deref().unwrap().to_owned(),
                s.cmd.as_deref().unwrap().to_owned(),
                s.code().unwrap().0,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn real_windows_10_sessions() {
    let msgs = load("win10-19043");
    let sessions: Vec<ReplayedSession> = replay(&msgs, SystemTime::UNIX_EPOCH);
    assert_eq!(sessions.len(), 2);
    let recorded_replies: Vec<_> = msgs
        .iter()
        .filter(|m| winmdm_omadm::is_server_message(m))
        .collect();
    for (s, recorded) in sessions.iter().zip(&recorded_replies) {
        assert_eq!(s.device_id, "B5B954E81FBCB94EB79BD08BE625F4EE");
        assert_eq!(s.steps.len(), 1);
        let r = s.steps[0].response.as_ref().unwrap();
        // Our reply: a Status for the SyncHdr and one per command, in order, Final.
        let ours = statuses(r);
        assert_eq!(ours[0], ("0".to_owned(), "SyncHdr".to_owned(), 200));
        let device = msgs
            .iter()
            .find(|m| m.hdr.session_id.as_deref() == Some(s.session_id.as_str()))
            .unwrap();
        let expect: Vec<_> = device
            .body
            .commands
            .iter()
            .map(|c| (c.cmd_id().unwrap().to_owned(), c.name().to_owned(), 200))
            .collect();
        assert_eq!(&ours[1..], &expect[..]);
        assert!(r.body.r#final);
        assert_eq!(
            r.hdr.target.as_ref().unwrap().loc_uri.as_deref(),
            Some("B5B954E81FBCB94EB79BD08BE625F4EE")
        );
        assert_eq!(
            r.hdr.source.as_ref().unwrap().loc_uri.as_deref(),
            Some("https://windows.fleetdm.ngrok.io/ManagementServer/MDM.svc")
        );
        assert_eq!(r.hdr.session_id.as_deref(), Some(s.session_id.as_str()));
        // The recorded PoC server answered session 1 the same way (session 2 it left
        // without Statuses for the commands: Fleet's bug this crate fixes).
        if s.session_id == "1" {
            assert_eq!(statuses(recorded), ours);
        } else {
            assert_eq!(statuses(recorded).len(), 1);
        }
        assert!(
            s.events
                .contains(&DeviceEvent::Alert(DeviceAlert::ClientInitiated))
        );
        assert!(
            s.events
                .contains(&DeviceEvent::Alert(DeviceAlert::ClientEvent(vec![
                    ClientEvent::LoginStatus(LoginStatus::User)
                ])))
        );
    }
    let unenroll = sessions[1].events.iter().any(|e| matches!(e, DeviceEvent::Alert(DeviceAlert::Generic(g)) if g[0].kind == GenericKind::UnenrollmentUserRequest && g[0].result() == Some(1)));
    assert!(unenroll, "{:?}", sessions[1].events);
    let info = sessions[0]
        .events
        .iter()
        .find_map(|e| match e {
            DeviceEvent::DeviceInfo(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        info[1],
        ("./DevInfo/Man".to_owned(), "VMware, Inc.".to_owned())
    );
    assert_eq!(info[4], ("./DevInfo/Lang".to_owned(), "en-US".to_owned()));
}

#[test]
fn ms_mdm_section_4_three_message_session() {
    let msgs = load("ms-mdm-spec4");
    let sessions = replay(&msgs, SystemTime::UNIX_EPOCH);
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    // The spec's second Get targets "./ DevDetail/HwV" (stray space as printed): not a
    // valid LocURI, so only the first Get is re-issued.
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(s.skipped[0].0, "Get CmdID 5");
    let r1 = s.steps[0].response.as_ref().unwrap();
    // Statuses for SyncHdr, Alert 1224 (CmdID 2), Replace (3); then the Get as CmdID 4,
    // exactly where the spec's server put it.
    assert_eq!(
        statuses(r1),
        [
            ("0".into(), "SyncHdr".into(), 200),
            ("2".into(), "Alert".into(), 200),
            ("3".into(), "Replace".into(), 200)
        ]
    );
    let get = r1
        .body
        .commands
        .iter()
        .find(|c| c.kind() == Some(CommandKind::Get))
        .unwrap();
    assert_eq!(get.cmd_id(), Some("4"));
    assert_eq!(get.items()[0].target_uri(), Some("./DevDetail/SwV"));
    assert!(r1.body.r#final);
    // Message 3: Status + Results for CmdRef 4 correlate; CmdRef 5 does not (never issued).
    let step2 = &s.steps[1];
    assert_eq!(step2.uncorrelated, [("1".to_owned(), "5".to_owned())]);
    let r2 = step2.response.as_ref().unwrap();
    assert!(r2.body.r#final);
    assert_eq!(
        statuses(r2),
        [
            ("0".into(), "SyncHdr".into(), 200),
            ("4".into(), "Results".into(), 200),
            ("5".into(), "Results".into(), 200)
        ]
    );
    assert_eq!(s.outcomes.len(), 1);
    let o = &s.outcomes[0];
    assert_eq!(
        (o.msg_ref.as_str(), o.cmd_ref.as_str(), o.status),
        ("1", "4", Some(StatusCode::OK))
    );
    assert_eq!(
        o.results[0].data.as_ref().unwrap().as_str(),
        "[software version returned here]"
    );
    assert_eq!(
        o.results[0].meta.as_ref().unwrap().format.as_deref(),
        Some("chr")
    );
}
