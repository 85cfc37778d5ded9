//! Package 1 compared with the real Windows 10 19043 capture (`tests/data/win10-19043`,
//! provenance in `tests/data/PROVENANCE.md`): the emulator, given the captured device's
//! identity, sends the same SyncML.

use std::borrow::Cow;

use winmdm_device_emulator::{
    Device, DeviceFacts, Enrollment, MANAGEMENT_HEADERS, MANAGEMENT_USER_AGENT,
    management_request_url,
};

const DEVICE_ID: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
const ADDR: &str = "https://windows.fleetdm.ngrok.io/ManagementServer/MDM.svc";

fn captured_device(dir: &std::path::Path) -> Device {
    let e = Enrollment::new("Fleet", ADDR, vec![0x30], "", "");
    Device::create(dir, DEVICE_ID, DeviceFacts::default(), e).unwrap()
}

fn canonical(bytes: &[u8]) -> String {
    winmdm_omadm::decode(bytes).unwrap().to_xml().unwrap()
}

#[test]
fn package1_is_the_captured_one() {
    let dir = tempfile::tempdir().unwrap();
    let dev = captured_device(dir.path());
    let ours = dev.package1(false).unwrap().to_xml().unwrap();
    let theirs = canonical(include_bytes!(
        "data/win10-19043/07-device-syncml-session1.xml"
    ));
    assert_eq!(ours, theirs);
}

#[test]
fn the_unenrollment_package1_is_the_captured_one() {
    let dir = tempfile::tempdir().unwrap();
    let dev = captured_device(dir.path());
    let ours = dev.package1(true).unwrap();
    let bytes = include_bytes!("data/win10-19043/09-device-syncml-session2-unenroll.xml");
    let mut theirs = winmdm_omadm::decode(bytes).unwrap();
    // The capture is the device's second session.
    assert_eq!(theirs.hdr.session_id.as_deref(), Some("2"));
    theirs.hdr.session_id = Some(Cow::Borrowed("1"));
    assert_eq!(ours.to_xml().unwrap(), theirs.to_xml().unwrap());
}

/// Header lines of a capture: (name, value) without the request line, in order.
fn captured_headers(text: &str) -> Vec<(String, String)> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn management_headers_are_the_captured_ones() {
    let text = include_str!("data/win10-19043/07-device-syncml-session1.headers.txt");
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "POST {} HTTP/1.1",
            management_request_url("/ManagementServer/MDM.svc")
        )
    );
    let got = captured_headers(text);
    let mut fixed: Vec<(String, String)> = got
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "Host"
                    | "Content-Length"
                    | "Client-Request-Id"
                    | "Ms-Cv"
                    | "X-Forwarded-For"
                    | "X-Forwarded-Proto"
            )
        })
        .cloned()
        .collect();
    assert_eq!(
        fixed.pop(),
        Some(("User-Agent".into(), MANAGEMENT_USER_AGENT.into()))
    );
    let ours: Vec<(String, String)> = MANAGEMENT_HEADERS
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(fixed, ours);
    // The same in the unenrollment session.
    let text = include_str!("data/win10-19043/09-device-syncml-session2-unenroll.headers.txt");
    let got2 = captured_headers(text);
    assert!(ours.iter().all(|h| got2.contains(h)));
}

#[test]
fn enrollment_headers_are_the_captured_ones() {
    for text in [
        include_str!("data/win10-19043/01-device-discover.headers.txt"),
        include_str!("data/win10-19043/03-device-getpolicies.headers.txt"),
        include_str!("data/win10-19043/05-device-rst.headers.txt"),
    ] {
        let h = captured_headers(text);
        assert!(h.contains(&(
            "Content-Type".into(),
            winmdm_device_emulator::ENROLLMENT_CONTENT_TYPE.into()
        )));
        assert!(h.contains(&(
            "User-Agent".into(),
            winmdm_device_emulator::ENROLLMENT_USER_AGENT.into()
        )));
    }
    let get = captured_headers(include_str!(
        "data/win10-19043/00-device-discover-get.headers.txt"
    ));
    for h in [("Cache-Control", "no-cache"), ("Pragma", "no-cache")] {
        assert!(get.contains(&(h.0.into(), h.1.into())));
    }
}
