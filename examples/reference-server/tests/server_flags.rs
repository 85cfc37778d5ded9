//! The server's start-up and flags, on the real `winmdm-server` binary on 127.0.0.1
//! (real TLS, real SQLite): the zero-config data directory and its reuse, `--public-url`,
//! a device CA given by `--ca-cert/--ca-key`, `--log-format json` with the per-request
//! span, SIGTERM draining a request in flight, and the admin token on every admin route.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant, SystemTime};

use common::manual::enroll;
use common::{Request, Server, free_port, https, tempdir, tls_connect};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use winmdm_device_emulator::{Credential, Device, EnrollOptions};
use winmdm_enroll::pki::der::Decode;
use winmdm_enroll::pki::x509_cert::Certificate;
use winmdm_enroll::pki::{CertificateAuthority, Subject};

const FILES: [&str; 7] = [
    "ca.pem",
    "ca.key",
    "tls.pem",
    "tls.key",
    "admin-token",
    "enrollment-secret",
    "winmdm.db",
];

/// Waits (at most 10 s) until the server's stdout holds `needle`; the stdout then.
fn wait_stdout(server: &Server, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let out = server.stdout.lock().unwrap().clone();
        if out.contains(needle) || start.elapsed() > Duration::from_secs(10) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn package1(device_id: &str, session_id: &str, url: &str) -> String {
    format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>{session_id}</SessionID><MsgID>1</MsgID><Target><LocURI>{url}</LocURI></Target><Source><LocURI>{device_id}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_directory_holds_every_file_the_banner_names_them_and_a_restart_reuses_them() {
    let data = tempdir();
    let dir = data.path().join("winmdm-data"); // created by the server
    let port = free_port();
    let mut server = Server::start(&dir, port, &[]);
    let banner = wait_stdout(&server, "enrollment secret");
    for f in FILES {
        assert!(dir.join(f).is_file(), "{f} missing from the data directory");
    }
    for f in ["ca.key", "tls.key", "admin-token", "enrollment-secret"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}: mode {mode:o}");
    }
    assert!(server.secret().len() >= 16 && server.token().len() >= 16);
    assert_ne!(server.secret(), server.token());
    // Generated secrets are hex, so `--secret "$(cat enrollment-secret)"` never reads as an
    // option (a base64url one began with `-` once in 64 starts and broke the README command).
    for s in [server.secret(), server.token()] {
        assert!(
            s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
            "{s}"
        );
    }
    // The banner: the discovery URL, the admin URL and where the files are.
    let url = format!("https://localhost:{port}");
    for needle in [
        format!("{url}/EnrollmentServer/Discovery.svc"),
        format!("{url}/api/v1"),
        dir.join("admin-token").display().to_string(),
        dir.join("ca.pem").display().to_string(),
        dir.join("enrollment-secret").display().to_string(),
        dir.display().to_string(),
    ] {
        assert!(
            banner.contains(&needle),
            "{needle} not in the banner: {banner}"
        );
    }
    // SQLite in WAL mode (a property of the database file).
    let db = rusqlite::Connection::open(dir.join("winmdm.db")).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    drop(db);
    // The TLS certificate is for 127.0.0.1 as well as localhost.
    let (s, _) = https(&Request::new(
        "GET",
        &format!("https://127.0.0.1:{port}/EnrollmentServer/Discovery.svc"),
        &server.ca_pem(),
    ))
    .await
    .unwrap();
    assert_eq!(s, 200);
    let mut device = enroll(&server, tempdir().path()).await;
    device.sync().await.expect("first sync");
    // The text log, written to a pipe, is plain text (no terminal colour codes).
    assert!(server.wait_log("enrolled"), "{}", server.log());
    assert!(!server.log().contains('\u{1b}'), "{}", server.log());

    let before: Vec<Vec<u8>> = FILES[..6]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(server.terminate().success());
    let server = Server::start(&dir, port, &[]);
    for (f, b) in FILES[..6].iter().zip(&before) {
        assert_eq!(
            &std::fs::read(dir.join(f)).unwrap(),
            b,
            "{f} changed at restart"
        );
    }
    // The same enrollment works against the restarted server.
    device.sync().await.expect("sync after the restart");
    let (s, devices) = server.admin("GET", "/api/v1/devices", None).await;
    assert_eq!(s, 200);
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_url_host_is_in_the_tls_certificate_and_the_discovery_answer() {
    let data = tempdir();
    let port = free_port();
    let public = format!("https://mdm.example.test:{port}");
    let server = Server::start(data.path(), port, &["--public-url", &public]);
    // Connected to 127.0.0.1 with the public name as SNI, checked against ca.pem.
    let discovery = format!("{public}/EnrollmentServer/Discovery.svc");
    let (s, _) = https(&Request::new("GET", &discovery, &server.ca_pem()))
        .await
        .expect("the TLS certificate names the --public-url host");
    assert_eq!(s, 200);
    let info = winmdm_enroll::client::DeviceInfo::windows(
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
    );
    let discover = winmdm_enroll::client::discover_request(
        "user@example.com",
        "urn:uuid:1",
        &[winmdm_enroll::AuthPolicy::ON_PREMISE],
        &info,
    )
    .to_xml();
    let (s, body) = https(
        &Request::new("POST", &discovery, &server.ca_pem())
            .body(discover, "application/soap+xml; charset=utf-8"),
    )
    .await
    .unwrap();
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains(&format!("{public}/EnrollmentServer/Enrollment.svc")),
        "{body}"
    );
    assert!(!body.contains("localhost"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_ca_given_by_flags_signs_the_tls_and_device_certificates() {
    let own = tempdir();
    let mut rng = winmdm_enroll::pki::default_rng();
    let ca = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=bring your own device CA").unwrap(),
        2048,
        SystemTime::now() - Duration::from_secs(3600),
        Duration::from_secs(365 * 86_400),
        &mut rng,
    )
    .unwrap();
    let (cert_path, key_path) = (own.path().join("my-ca.pem"), own.path().join("my-ca.key"));
    std::fs::write(&cert_path, ca.certificate_pem()).unwrap();
    std::fs::write(&key_path, ca.private_key_pem().unwrap()).unwrap();
    let flags = [
        "--ca-cert",
        cert_path.to_str().unwrap(),
        "--ca-key",
        key_path.to_str().unwrap(),
    ];
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &flags);
    assert!(
        !data.path().join("ca.pem").exists(),
        "no dev CA is generated when one is given"
    );
    // The TLS certificate chains to the given CA; a device trusting only it enrolls.
    let opts = EnrollOptions::new(
        server.discovery_url(),
        ca.certificate_pem().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: server.secret(),
        },
    );
    let dir = tempdir();
    let mut device = Device::enroll(dir.path(), opts).await.expect("enroll");
    let issued = Certificate::from_der(device.certificate_der()).unwrap();
    assert!(
        ca.issued(&issued),
        "the device certificate is the given CA's"
    );
    device.sync().await.expect("management with it");
    assert!(server.terminate().success());
    let _server = Server::start(data.path(), port, &flags);
    device.sync().await.expect("the same CA after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_device_and_session_of_each_request() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--log-format", "json"]);
    let device = enroll(&server, tempdir().path()).await;
    let e = device.enrollment().unwrap();
    let url = format!("{}/ManagementServer/MDM.svc", server.url);
    // The device's certificate, another DeviceID in the SyncHdr: refused and logged.
    let other = "0123456789ABCDEF0123456789ABCDEF";
    let (s, _) = https(
        &Request::new("POST", &url, &server.ca_pem())
            .body(package1(other, "5A", &url), "application/vnd.syncml.dm+xml")
            .client_cert(&e.certificate_der, &e.key_pem),
    )
    .await
    .unwrap();
    assert_eq!(s, 403);
    assert!(server.wait_log("SyncHdr Source"), "{}", server.log());
    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let refused = lines
        .iter()
        .find(|l| {
            l["fields"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("SyncHdr Source"))
        })
        .expect("the refusal is logged");
    assert_eq!(refused["span"]["name"], "mdm", "{refused}");
    assert_eq!(refused["span"]["device_id"], other, "{refused}");
    assert_eq!(refused["span"]["session_id"], "5A", "{refused}");
    let enrolled = lines
        .iter()
        .find(|l| l["fields"]["message"] == "enrolled")
        .expect("the enrollment is logged");
    assert_eq!(enrolled["span"]["name"], "enroll", "{enrolled}");
    assert_eq!(
        enrolled["span"]["device_id"],
        device.device_id(),
        "{enrolled}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_then_exits_zero() {
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &[]);
    let ca = server.ca_pem();
    // A request whose body is half sent when SIGTERM arrives.
    let body = br#"{"ttl_seconds": 600}"#;
    let mut tls = tls_connect(port, &ca).await.unwrap();
    let head = format!(
        "POST /api/v1/enrollment-tokens HTTP/1.1\r\nHost: localhost:{port}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.token(),
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..5]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(server.wait_log("draining"), "{}", server.log());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    // No new connection is accepted while draining.
    let refused = tokio::time::timeout(Duration::from_secs(5), tls_connect(port, &ca)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "a new connection after SIGTERM must fail"
    );
    // The rest of the body: the request is answered in full.
    tls.write_all(&body[5..]).await.unwrap();
    tls.flush().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"token\""), "{answer}");
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_needs_the_token_whatever_its_path_ends_with() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let device = enroll(&server, tempdir().path()).await;
    let id = device.device_id();
    let profile = json!({"syncml": "<Replace><CmdID>1</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>0</Data></Item></Replace>"}).to_string();
    let get = r#"{"syncml": "<Get><CmdID>1</CmdID><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item></Get>"}"#;
    let routes: Vec<(&str, String, &str)> = vec![
        ("GET", "/api/v1/devices".into(), ""),
        ("GET", format!("/api/v1/devices/{id}"), ""),
        ("POST", format!("/api/v1/devices/{id}/commands"), get),
        ("GET", format!("/api/v1/devices/{id}/commands"), ""),
        ("GET", "/api/v1/commands/1".into(), ""),
        ("GET", format!("/api/v1/devices/{id}/profiles"), ""),
        ("PUT", format!("/api/v1/devices/{id}/profiles/p"), ""),
        ("DELETE", format!("/api/v1/devices/{id}/profiles/p"), ""),
        ("POST", format!("/api/v1/devices/{id}/reboot"), ""),
        ("GET", "/api/v1/profiles".into(), ""),
        ("GET", "/api/v1/profiles/p".into(), ""),
        ("PUT", "/api/v1/profiles/p".into(), &profile),
        ("POST", "/api/v1/enrollment-tokens".into(), "{}"),
        ("GET", "/api/v1/metrics".into(), ""),
        // Paths that end like the OpenAPI document's are admin routes all the same.
        ("PUT", "/api/v1/profiles/openapi.json".into(), &profile),
        ("GET", "/api/v1/profiles/openapi.json".into(), ""),
        ("GET", "/api/v1/devices/openapi.json".into(), ""),
        ("POST", format!("/api/v1/devices/{id}/openapi.json"), ""),
    ];
    for (method, path, body) in &routes {
        for token in [None, Some("wrong-token-0123456789")] {
            let mut r = Request::new(method, &format!("{}{path}", server.url), &server.ca_pem())
                .body(body.to_string(), "application/json");
            if let Some(t) = token {
                r = r.bearer(t);
            }
            let (s, text) = https(&r).await.unwrap();
            assert_eq!(s, 401, "{method} {path} with {token:?}: {text}");
        }
    }
    // Nothing was written: no profile, no command, no token.
    let (s, profiles) = server.admin("GET", "/api/v1/profiles", None).await;
    assert_eq!((s, profiles), (200, json!([])));
    let (_, cmds) = server
        .admin("GET", &format!("/api/v1/devices/{id}/commands"), None)
        .await;
    assert_eq!(
        first_commands(&cmds),
        ["inventory", "setup"],
        "only the first session's commands, queued at enrollment: {cmds}"
    );
    // The OpenAPI document itself is public.
    let (s, doc) = https(&Request::new(
        "GET",
        &format!("{}/api/v1/openapi.json", server.url),
        &server.ca_pem(),
    ))
    .await
    .unwrap();
    assert_eq!(s, 200);
    assert!(doc.contains("\"openapi\""));
    // With the token, a profile may be named openapi.json like any other.
    let (s, _) = server
        .admin(
            "PUT",
            "/api/v1/profiles/openapi.json",
            Some(serde_json::from_str(&profile).unwrap()),
        )
        .await;
    assert_eq!(s, 200);
    let (s, p) = server
        .admin("GET", "/api/v1/profiles/openapi.json", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(p["id"], "openapi.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_with_a_body_refuse_malformed_and_oversized_ones() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--max-body", "65536"]);
    let device = enroll(&server, tempdir().path()).await;
    let id = device.device_id();
    let token = server.token();
    let send = |method: &str, path: &str, body: Vec<u8>| {
        Request::new(method, &format!("{}{path}", server.url), &server.ca_pem())
            .bearer(&token)
            .body(body, "application/json")
    };
    let routes = [
        ("POST", format!("/api/v1/devices/{id}/commands")),
        ("PUT", "/api/v1/profiles/p".to_owned()),
        ("POST", "/api/v1/enrollment-tokens".to_owned()),
    ];
    for (method, path) in &routes {
        let (s, text) = https(&send(method, path, b"{not json".to_vec()))
            .await
            .unwrap();
        assert_eq!(s, 400, "{method} {path}: not JSON: {text}");
        let wrong = br#"{"syncml": 5, "ttl_seconds": "soon"}"#.to_vec();
        let (s, text) = https(&send(method, path, wrong)).await.unwrap();
        assert_eq!(s, 422, "{method} {path}: JSON of the wrong shape: {text}");
        let (s, _) = https(&send(method, path, vec![b' '; 70_000]))
            .await
            .unwrap();
        assert_eq!(s, 413, "{method} {path}: oversized");
    }
    // Well-formed JSON carrying SyncML that is not commands: 400 with the reason.
    let commands = format!("/api/v1/devices/{id}/commands");
    for syncml in ["<Get><CmdID>1</CmdID>", "", "<Frobnicate/>", "plain text"] {
        let body = json!({ "syncml": syncml }).to_string().into_bytes();
        let (s, text) = https(&send("POST", &commands, body.clone())).await.unwrap();
        assert_eq!(s, 400, "commands {syncml:?}: {text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert!(e["error"].is_string(), "{text}");
        let (s, text) = https(&send("PUT", "/api/v1/profiles/p", body))
            .await
            .unwrap();
        assert_eq!(s, 400, "profile {syncml:?}: {text}");
    }
    // Nothing was stored; the server still serves and never panicked.
    let (_, cmds) = server.admin("GET", &commands, None).await;
    assert_eq!(first_commands(&cmds), ["inventory", "setup"], "{cmds}");
    let (s, profiles) = server.admin("GET", "/api/v1/profiles", None).await;
    assert_eq!((s, profiles), (200, json!([])));
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_public_url_gets_a_tls_certificate_naming_it() {
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &[]);
    let mut device = enroll(&server, tempdir().path()).await;
    let first_tls = server.file("tls.pem");
    assert!(server.terminate().success());

    let public = format!("https://mdm.example.test:{port}");
    let mut server = Server::start(data.path(), port, &["--public-url", &public]);
    let discovery = format!("{public}/EnrollmentServer/Discovery.svc");
    let (s, _) = https(&Request::new("GET", &discovery, &server.ca_pem()))
        .await
        .expect("the new TLS certificate names the new public host");
    assert_eq!(s, 200);
    let second_tls = server.file("tls.pem");
    assert_ne!(first_tls, second_tls);
    // Still localhost too, from the same CA: the enrolled device keeps working.
    device
        .sync()
        .await
        .expect("sync over localhost with the new certificate");
    assert!(server.terminate().success());

    // The same flags again: the certificate is kept.
    let server = Server::start(data.path(), port, &["--public-url", &public]);
    assert_eq!(server.file("tls.pem"), second_tls);
}

/// `--request-timeout`: a request whose body stops arriving gets 408 once the limit has
/// passed (its connection closed), on an enrollment and on the management endpoint, and
/// the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408_after_the_request_timeout() {
    let data = tempdir();
    let port = free_port();
    let server = Server::start(data.path(), port, &["--request-timeout", "2"]);
    let ca = server.ca_pem();
    for path in [
        "/EnrollmentServer/Enrollment.svc",
        "/ManagementServer/MDM.svc",
    ] {
        let mut tls = tls_connect(port, &ca).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\
             Content-Type: application/soap+xml\r\nContent-Length: 1000\r\n\r\n<s:Envelope"
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        let start = Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer))
            .await
            .expect("answered and closed well before 20 s");
        let took = start.elapsed();
        let _ = read;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(
            took >= Duration::from_millis(1900),
            "{path}: after {took:?}"
        );
    }
    // Still serving.
    let (s, _) = https(&Request::new("GET", &server.discovery_url(), &ca))
        .await
        .unwrap();
    assert_eq!(s, 200);
}

/// The origins of a device's commands (the admin API's list, newest first), oldest first.
fn first_commands(cmds: &Value) -> Vec<String> {
    let mut v: Vec<String> = cmds
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["origin"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.reverse();
    v
}
