//! End to end: the real `winmdm-server` binary on 127.0.0.1 with real TLS and SQLite,
//! and the device emulator enrolling and syncing against it.

mod common;

use common::{Request, Server, free_port, https, tempdir};
use serde_json::{Value, json};
use winmdm_device_emulator::{Credential, Device, EmuError, EnrollOptions, Hresult};
use winmdm_omadm::StatusCode;

const CAMERA: &str = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera";
const CORTANA: &str = "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana";
const BLUETOOTH: &str = "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowDiscoverableMode";

fn replace(uri: &str, value: &str, id: u32) -> String {
    format!(
        "<Replace><CmdID>{id}</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>{value}</Data></Item></Replace>"
    )
}

fn profile(settings: &[(&str, &str)]) -> String {
    settings
        .iter()
        .enumerate()
        .map(|(i, (u, v))| replace(u, v, i as u32 + 1))
        .collect()
}

async fn enroll(
    server: &Server,
    dir: &std::path::Path,
    credential: Credential,
) -> Result<Device, EmuError> {
    let opts = EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        credential,
    );
    Device::enroll(dir, opts).await
}

fn secret(server: &Server) -> Credential {
    Credential::OnPremise {
        upn: "user@example.com".into(),
        password: server.secret(),
    }
}

/// The state of each node of a device's profiles: LocURI -> row.
async fn settings(server: &Server, device: &Device) -> std::collections::BTreeMap<String, Value> {
    let (s, rows) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}/profiles", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200, "{rows}");
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["locuri"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

fn state_of(rows: &std::collections::BTreeMap<String, Value>, uri: &str) -> String {
    rows[uri]["state"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrolls_gets_a_profile_verified_and_loses_it_when_unassigned() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path(), secret(&server))
        .await
        .expect("enroll");
    // The enrollment queued the DM session version 3.0 for the first session (Windows,
    // and the emulator, report the HRESULT of a failure in `msft:originalerror` only
    // from 3.0, MS-MDM 2.2.5.1).
    let provider = device.enrollment().unwrap().provider_id.clone();
    let sav = format!("./Vendor/MSFT/DMClient/Provider/{provider}/SyncApplicationVersion");
    let (s, cmds) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200, "{cmds}");
    let setup: Vec<&serde_json::Value> = cmds
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["origin"] == "setup")
        .collect();
    assert_eq!(setup.len(), 1, "{cmds}");
    let syncml = setup[0]["syncml"].as_str().unwrap();
    assert!(
        syncml.starts_with("<Replace>")
            && syncml.contains(&sav)
            && syncml.contains("<Data>3.0</Data>"),
        "{syncml}"
    );
    let sav_id = setup[0]["id"].as_i64().unwrap();

    // The first session reads the inventory.
    let first = device.sync().await.expect("first sync");
    assert!(first.http_statuses.iter().all(|s| *s == 200), "{first:?}");
    let (s, cmd) = server
        .admin("GET", &format!("/api/v1/commands/{sav_id}"), None)
        .await;
    assert_eq!((s, &cmd["status"]), (200, &json!(200)), "{cmd}");
    assert_eq!(device.tree().value(&sav), Some("3.0"));
    let (s, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(dev["state"], "active");
    assert_eq!(dev["device_id"], device.device_id());
    assert!(
        dev["inventory"]["./DevInfo/Man"].is_string(),
        "DevInfo from package 1: {dev}"
    );
    assert!(
        dev["inventory"]["./DevDetail/SwV"].is_string(),
        "DevDetail from the inventory Get: {dev}"
    );
    assert!(dev["certificate_not_after"].as_i64().unwrap() > 0);
    assert!(dev["last_seen_at"].as_i64().is_some());

    // A profile with three settings; the device refuses one of them.
    let body = profile(&[(CAMERA, "0"), (CORTANA, "0"), (BLUETOOTH, "0")]);
    let (s, r) = server
        .admin(
            "PUT",
            "/api/v1/profiles/baseline",
            Some(json!({ "syncml": body })),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    // Refused with 500 and the HRESULT E_INVALIDARG beside it.
    device
        .tree_mut()
        .fail_with(BLUETOOTH, StatusCode(500), Some(Hresult(0x8007_0057)))
        .unwrap();
    let (s, _) = server
        .admin(
            "PUT",
            &format!("/api/v1/devices/{}/profiles/baseline", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 202);
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "pending");

    device.sync().await.expect("install");
    assert_eq!(device.tree().value(CAMERA), Some("0"));
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "sent", "{rows:?}");
    // The admin API shows the failure: LocURI, status code and msft:originalerror.
    assert_eq!(state_of(&rows, BLUETOOTH), "failed");
    assert_eq!(rows[BLUETOOTH]["locuri"], BLUETOOTH);
    assert_eq!(rows[BLUETOOTH]["status"], 500);
    assert_eq!(rows[BLUETOOTH]["original_error"], "0x80070057", "{rows:?}");
    assert_eq!(rows[CAMERA]["original_error"], Value::Null);

    // Bluetooth, refused, is sent again in each of the next two sessions (3 deliveries).
    for _ in 0..2 {
        device.sync().await.expect("refused setting sent again");
    }
    let rows = settings(&server, &device).await;
    assert_eq!(rows[BLUETOOTH]["attempts"], 3, "{rows:?}");

    // The next session reads the settings back; the user changed Cortana meanwhile.
    device.tree_mut().set(CORTANA, "1").unwrap();
    device.sync().await.expect("verify");
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "verified", "{rows:?}");
    assert_eq!(state_of(&rows, CORTANA), "drift");
    assert_eq!(rows[CORTANA]["actual"], "1");

    // Drift is corrected: the setting is sent again, then verified.
    device.sync().await.expect("resend");
    assert_eq!(device.tree().value(CORTANA), Some("0"));
    device.sync().await.expect("verify again");
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CORTANA), "verified", "{rows:?}");
    assert_eq!(rows[CORTANA]["attempts"], 2);

    // A queued Get returns its results.
    let (s, ids) = server
        .admin(
            "POST",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            Some(json!({ "syncml": format!("<Get><CmdID>1</CmdID><Item><Target><LocURI>{CAMERA}</LocURI></Target></Item></Get>") })),
        )
        .await;
    assert_eq!(s, 201, "{ids}");
    let id = ids["command_ids"][0].as_i64().unwrap();
    device.sync().await.expect("get");
    let (s, cmd) = server
        .admin("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(cmd["state"], "done");
    assert_eq!(cmd["status"], 200);
    assert_eq!(cmd["results"][0]["data"], "0", "{cmd}");

    // Unassigning deletes the nodes it set.
    let (s, _) = server
        .admin(
            "DELETE",
            &format!("/api/v1/devices/{}/profiles/baseline", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 202);
    let report = device.sync().await.expect("remove");
    assert!(
        report
            .commands
            .iter()
            .any(|(c, u, st)| c == "Delete" && u == CAMERA && *st == 200),
        "{:?}",
        report.commands
    );
    assert_eq!(device.tree().value(CAMERA), None);
    assert!(settings(&server, &device).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_tokens_enroll_once_and_wrong_credentials_get_the_mde2_fault() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let (s, t) = server
        .admin(
            "POST",
            "/api/v1/enrollment-tokens",
            Some(json!({ "ttl_seconds": 600 })),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_owned();

    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), Credential::Token(token.clone()))
        .await
        .expect("token enrollment");
    device.sync().await.expect("sync after token enrollment");
    let (_, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    assert_eq!(dev["auth"], "token");

    // The token is used up.
    let again = enroll(&server, tempdir().path(), Credential::Token(token)).await;
    match again {
        Err(EmuError::Fault { code, .. }) => assert!(code.ends_with("Authentication"), "{code}"),
        other => panic!("a used token must fail with a SOAP fault: {other:?}"),
    }
    // A wrong secret.
    let wrong = Credential::OnPremise {
        upn: "user@example.com".into(),
        password: "not the secret".into(),
    };
    match enroll(&server, tempdir().path(), wrong).await {
        Err(EmuError::Fault { code, .. }) => assert!(code.ends_with("Authentication"), "{code}"),
        other => panic!("a wrong secret must fail with a SOAP fault: {other:?}"),
    }
    // A token nobody issued.
    match enroll(
        &server,
        tempdir().path(),
        Credential::Token("made-up-token-0123456789".into()),
    )
    .await
    {
        Err(EmuError::Fault { code, .. }) => assert!(code.ends_with("Authentication"), "{code}"),
        other => panic!("an unknown token must fail with a SOAP fault: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_gives_a_certificate_management_accepts_and_unenrollment_closes_management() {
    let data = tempdir();
    // 30-day certificates are inside the 60-day renewal window from the start.
    let server = Server::start(data.path(), free_port(), &["--cert-validity-days", "30"]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    let before = device.certificate_der().to_vec();
    let renewal = device.enrollment().unwrap().renewal.clone();
    assert!(
        renewal.is_some(),
        "the server serves renewal, so the document offers it"
    );

    device.renew().await.expect("renew");
    assert_ne!(device.certificate_der(), &before[..]);
    device
        .sync()
        .await
        .expect("management with the renewed certificate");
    // The certificate is always within RenewPeriod (42 days) here: each check-in
    // renews first, as Windows does, and management accepts the new certificate.
    let renewed = device.certificate_der().to_vec();
    let report = device
        .sync()
        .await
        .expect("check-in with automatic renewal");
    assert_eq!(report.renewal, Some(Ok(())));
    assert_ne!(device.certificate_der(), &renewed[..]);
    let (_, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    let thumb = dev["certificate_thumbprint"].as_str().unwrap().to_owned();
    assert_eq!(
        thumb,
        winmdm_enroll::pki::Thumbprint::of(device.certificate_der()).to_string()
    );

    // Keep a copy of the enrolled device to try its certificate after unenrolling.
    let copy = tempdir();
    for f in ["device.json", "tree.json"] {
        std::fs::copy(dir.path().join(f), copy.path().join(f)).unwrap();
    }
    device.unenroll().await.expect("unenroll (1226)");
    let (_, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    assert_eq!(dev["state"], "unenrolled");
    let mut ghost = Device::load(copy.path()).unwrap();
    match ghost.sync().await {
        Err(EmuError::Http { status: 403, .. }) => {}
        other => panic!("an unenrolled device's certificate must get 403: {other:?}"),
    }
}

/// A package 1 as Windows sends it, from `device_id`.
fn package1(device_id: &str, url: &str) -> String {
    format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>{url}</LocURI></Target><Source><LocURI>{device_id}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_refuses_every_identity_that_is_not_an_active_enrollment() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    let e = device.enrollment().unwrap();
    let url = format!("{}/ManagementServer/MDM.svc", server.url);
    let ca = server.ca_pem();
    let mdm =
        |body: String| Request::new("POST", &url, &ca).body(body, "application/vnd.syncml.dm+xml");

    // The device's own certificate and DeviceID: 200.
    let (s, _) =
        https(&mdm(package1(device.device_id(), &url)).client_cert(&e.certificate_der, &e.key_pem))
            .await
            .unwrap();
    assert_eq!(s, 200);
    // No client certificate.
    let (s, body) = https(&mdm(package1(device.device_id(), &url)))
        .await
        .unwrap();
    assert_eq!((s, body.as_str()), (403, "forbidden"));
    // Its certificate, another DeviceID.
    let other_id = "0123456789ABCDEF0123456789ABCDEF";
    let (s, _) = https(&mdm(package1(other_id, &url)).client_cert(&e.certificate_der, &e.key_pem))
        .await
        .unwrap();
    assert_eq!(s, 403);
    // A certificate from another CA for the same DeviceID.
    use winmdm_enroll::pki::{
        CertificateAuthority, Csr, CsrPolicy, DeviceKey, Subject, windows_csr,
    };
    let now = std::time::SystemTime::now();
    let mut rng = winmdm_enroll::pki::default_rng();
    let foreign = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=someone else's CA").unwrap(),
        2048,
        now - std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(86_400),
        &mut rng,
    )
    .unwrap();
    let key = DeviceKey::generate(2048, &mut rng).unwrap();
    let csr = Csr::from_der(
        &windows_csr(&key, device.device_id(), Some(device.device_id())).unwrap(),
        &CsrPolicy::default(),
    )
    .unwrap();
    let cert = foreign
        .issue(
            &csr,
            &Subject::common_name(device.device_id()).unwrap(),
            &Default::default(),
            now,
            &mut rng,
        )
        .unwrap();
    let (s, _) = https(
        &mdm(package1(device.device_id(), &url))
            .client_cert(cert.der(), &key.to_pkcs8_pem().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(s, 403);
    // The reason is logged (the log reaches the test through a pipe: wait for it).
    assert!(server.wait_log("not issued by our CA"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_protocol_errors_and_the_server_keeps_serving() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--max-body", "65536"]);
    let ca = server.ca_pem();
    let post = |path: &str, body: Vec<u8>, ct: &str| {
        Request::new("POST", &format!("{}{path}", server.url), &ca).body(body, ct)
    };
    let soap = "application/soap+xml; charset=utf-8";
    let enrollment_paths = [
        "/EnrollmentServer/Discovery.svc",
        "/EnrollmentServer/Policy.svc",
        "/EnrollmentServer/Enrollment.svc",
    ];
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&b;</s:Body></s:Envelope>"#;
    let deep = "<a>".repeat(5000);
    for path in enrollment_paths {
        for body in [
            b"<foo/>".to_vec(),
            b"\xff\xfe\x00garbage".to_vec(),
            billion_laughs.as_bytes().to_vec(),
            deep.clone().into_bytes(),
            Vec::new(),
        ] {
            let (s, text) = https(&post(path, body.clone(), soap)).await.unwrap();
            assert!(s == 500 || s == 400, "{path}: {s}");
            assert!(
                text.contains("s:Fault") && text.contains("MessageFormat"),
                "{path}: {text}"
            );
        }
        // Oversized: 413, and the MessageFormat fault like any other refused body.
        let (s, text) = https(&post(path, vec![b'x'; 70_000], soap)).await.unwrap();
        assert_eq!(s, 413, "{path}: oversized");
        assert!(
            text.contains("s:Fault") && text.contains("MessageFormat"),
            "{path}: oversized: {text}"
        );
    }
    let mdm = "/ManagementServer/MDM.svc";
    for body in [
        b"<foo/>".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        billion_laughs.as_bytes().to_vec(),
        deep.into_bytes(),
        Vec::new(),
    ] {
        let (s, _) = https(&post(mdm, body, "application/vnd.syncml.dm+xml"))
            .await
            .unwrap();
        assert_eq!(s, 400);
    }
    // SyncML whose SyncHdr names no session: nothing a SyncML answer could refer to, a
    // plain 400 (a readable one the engine refuses gets its SyncHdr Status: sessions.rs).
    let no_session = "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD>\
        <VerProto>DM/1.2</VerProto><MsgID>1</MsgID><Target><LocURI>x</LocURI></Target>\
        <Source><LocURI>y</LocURI></Source></SyncHdr><SyncBody><Final/></SyncBody></SyncML>";
    let (s, text) = https(&post(
        mdm,
        no_session.into(),
        "application/vnd.syncml.dm+xml",
    ))
    .await
    .unwrap();
    assert_eq!(s, 400, "{text}");
    assert!(
        text.contains("SessionID") && !text.contains("<SyncML"),
        "{text}"
    );
    let (s, _) = https(&post(
        mdm,
        vec![b'x'; 70_000],
        "application/vnd.syncml.dm+xml",
    ))
    .await
    .unwrap();
    assert_eq!(s, 413);
    // Admin: oversized and malformed JSON, wrong token.
    let admin =
        |method: &str, path: &str| Request::new(method, &format!("{}{path}", server.url), &ca);
    let (s, _) = https(
        &admin("POST", "/api/v1/enrollment-tokens")
            .bearer(&server.token())
            .body(vec![b' '; 70_000], "application/json"),
    )
    .await
    .unwrap();
    assert_eq!(s, 413);
    let (s, _) = https(
        &admin("POST", "/api/v1/enrollment-tokens")
            .bearer(&server.token())
            .body("{not json", "application/json"),
    )
    .await
    .unwrap();
    assert_eq!(s, 400);
    let (s, _) = https(
        &admin("PUT", "/api/v1/profiles/x")
            .bearer(&server.token())
            .body(r#"{"syncml":"<Replce/>"}"#, "application/json"),
    )
    .await
    .unwrap();
    assert_eq!(s, 400);
    for token in [None, Some("wrong")] {
        let mut r = admin("GET", "/api/v1/devices");
        if let Some(t) = token {
            r = r.bearer(t);
        }
        let (s, _) = https(&r).await.unwrap();
        assert_eq!(s, 401);
    }
    // Still serving.
    let (s, _) = https(&Request::new("GET", &server.discovery_url(), &ca))
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_with_lint_errors_is_refused_with_its_findings() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let bad = replace(
        "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera",
        "7",
        1,
    );
    let (s, r) = server
        .admin(
            "PUT",
            "/api/v1/profiles/bad",
            Some(json!({ "syncml": bad })),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    let f = &r["findings"][0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["locuri"], CAMERA);
    assert!(f["line"].as_u64().unwrap() >= 1);
    let (s, _) = server.admin("GET", "/api/v1/profiles/bad", None).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_admin_route() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let (s, body) = https(&Request::new(
        "GET",
        &format!("{}/api/v1/openapi.json", server.url),
        &server.ca_pem(),
    ))
    .await
    .unwrap();
    assert_eq!(s, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string());
    let routes = [
        ("get", "/api/v1/devices"),
        ("get", "/api/v1/devices/{device_id}"),
        ("post", "/api/v1/devices/{device_id}/commands"),
        ("get", "/api/v1/devices/{device_id}/commands"),
        ("get", "/api/v1/commands/{id}"),
        ("get", "/api/v1/devices/{device_id}/profiles"),
        ("put", "/api/v1/devices/{device_id}/profiles/{profile_id}"),
        (
            "delete",
            "/api/v1/devices/{device_id}/profiles/{profile_id}",
        ),
        ("post", "/api/v1/devices/{device_id}/{action}"),
        ("get", "/api/v1/profiles"),
        ("get", "/api/v1/profiles/{profile_id}"),
        ("put", "/api/v1/profiles/{profile_id}"),
        ("post", "/api/v1/enrollment-tokens"),
        ("get", "/api/v1/metrics"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let mut listed = 0;
    for (_, ops) in paths {
        listed += ops.as_object().unwrap().len();
    }
    assert_eq!(
        listed,
        routes.len(),
        "every operation in the document is a route and back"
    );
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        // Every $ref resolves.
        for r in op.to_string().split("\"$ref\":\"").skip(1) {
            let name = r
                .split('"')
                .next()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{name} unresolved"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero_and_a_restart_reuses_the_data_directory() {
    let data = tempdir();
    let port = free_port();
    let mut server = Server::start(data.path(), port, &[]);
    let ca = server.ca_pem();
    let token = server.token();
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");

    let server = Server::start(data.path(), port, &[]);
    assert_eq!(server.ca_pem(), ca);
    assert_eq!(server.token(), token);
    device
        .sync()
        .await
        .expect("the same device, CA and database after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_wipe_and_unenroll_from_the_admin_api_reach_the_device() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    let id = device.device_id().to_owned();
    for action in ["reboot", "wipe"] {
        let (s, r) = server
            .admin("POST", &format!("/api/v1/devices/{id}/{action}"), None)
            .await;
        assert_eq!(s, 201, "{r}");
    }
    let report = device.sync().await.unwrap();
    let execs: Vec<&str> = report.execs.iter().map(|e| e.path.as_str()).collect();
    assert!(
        execs.contains(&"./Device/Vendor/MSFT/Reboot/RebootNow"),
        "{execs:?}"
    );
    assert!(
        execs.contains(&"./Device/Vendor/MSFT/RemoteWipe/doWipe"),
        "{execs:?}"
    );

    let (s, r) = server
        .admin("POST", &format!("/api/v1/devices/{id}/unenroll"), None)
        .await;
    assert_eq!(s, 201);
    let cmd = r["command_ids"][0].as_i64().unwrap();
    let report = device.sync().await.unwrap();
    assert!(
        report
            .execs
            .iter()
            .any(|e| e.path.ends_with("/DMClient/Provider/winmdm/Unenroll")
                && e.data.as_deref() == Some("winmdm")),
        "{:?}",
        report.execs
    );
    let (_, c) = server
        .admin("GET", &format!("/api/v1/commands/{cmd}"), None)
        .await;
    assert_eq!(c["status"], 200);
    let (_, dev) = server
        .admin("GET", &format!("/api/v1/devices/{id}"), None)
        .await;
    assert_eq!(dev["state"], "unenrolled");
    assert!(matches!(
        device.sync().await,
        Err(EmuError::Http { status: 403, .. })
    ));
    // Unknown device: 404.
    let (s, _) = server
        .admin(
            "POST",
            "/api/v1/devices/00000000000000000000000000000000/reboot",
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_atomic_profile_an_add_of_an_existing_node_and_a_node_shared_by_two_profiles() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    device.sync().await.unwrap();
    let id = device.device_id().to_owned();

    // Profile A: an Atomic holding an Add of a node the device already has (418 there,
    // retried as Replace) and a Replace; profile B sets one of A's nodes too.
    device.tree_mut().set(CAMERA, "1").unwrap();
    let a = format!(
        "<Atomic><CmdID>1</CmdID>\
         <Add><CmdID>2</CmdID><Item><Target><LocURI>{CAMERA}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>0</Data></Item></Add>\
         {}</Atomic>",
        replace(CORTANA, "0", 3)
    );
    let b = profile(&[(CORTANA, "0")]);
    for (name, body) in [("a", a), ("b", b)] {
        let (s, r) = server
            .admin(
                "PUT",
                &format!("/api/v1/profiles/{name}"),
                Some(json!({ "syncml": body })),
            )
            .await;
        assert_eq!(s, 200, "{name}: {r}");
        let (s, _) = server
            .admin(
                "PUT",
                &format!("/api/v1/devices/{id}/profiles/{name}"),
                None,
            )
            .await;
        assert_eq!(s, 202);
    }
    let first = device.sync().await.unwrap();
    assert!(
        first
            .commands
            .iter()
            .any(|(c, u, s)| c == "Add" && u == CAMERA && *s == 418),
        "{:?}",
        first.commands
    );
    // The retry (an Atomic with the Replace) and then the verification Gets.
    for _ in 0..3 {
        device.sync().await.unwrap();
    }
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "verified", "{rows:?}");
    assert_eq!(state_of(&rows, CORTANA), "verified", "{rows:?}");
    assert_eq!(device.tree().value(CAMERA), Some("0"));

    // Unassigning A deletes Camera but not Cortana, which B still sets.
    let (s, _) = server
        .admin("DELETE", &format!("/api/v1/devices/{id}/profiles/a"), None)
        .await;
    assert_eq!(s, 202);
    let report = device.sync().await.unwrap();
    let deletes: Vec<&str> = report
        .commands
        .iter()
        .filter(|(c, ..)| c == "Delete")
        .map(|(_, u, _)| u.as_str())
        .collect();
    assert_eq!(deletes, vec![CAMERA], "{:?}", report.commands);
    assert_eq!(device.tree().value(CAMERA), None);
    assert_eq!(device.tree().value(CORTANA), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_gives_a_device_that_lost_its_key_a_new_certificate_of_its_enrollment() {
    use winmdm_enroll::client::{self, ClientCredential, DeviceInfo, Renewed};
    use winmdm_enroll::pki::{DeviceKey, windows_common_name, windows_csr};
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    let id = device.device_id().to_owned();
    let e = device.enrollment().unwrap();
    let url = e.enrollment_url.clone().unwrap();

    // The device lost its key: a new one, a bare PKCS#10, the user's credential.
    let key = DeviceKey::generate(2048, &mut winmdm_enroll::pki::default_rng()).unwrap();
    let csr_for = |device_id: &str| {
        let cn = windows_common_name("3F2504E0-4F89-11D3-9A0C-0305E82C3301", device_id);
        windows_csr(&key, &cn, Some(device_id)).unwrap()
    };
    let recover = |password: &str, device_id: &str| {
        let info = DeviceInfo::windows(device_id, device.hw_dev_id());
        let cred = ClientCredential::on_premise("user@example.com", password);
        let body = client::recovery_request(&url, "urn:uuid:7", &cred, &csr_for(device_id), &info)
            .to_xml();
        Request::new("POST", &url, &server.ca_pem())
            .body(body, "application/soap+xml; charset=utf-8")
    };
    let (s, body) = https(&recover(&server.secret(), &id)).await.unwrap();
    assert_eq!(s, 200, "{body}");
    let renewed = Renewed::from_xml(body.as_bytes(), &key).expect("a certificate for the new key");
    let (_, dev) = server
        .admin("GET", &format!("/api/v1/devices/{id}"), None)
        .await;
    assert_eq!(
        dev["certificate_thumbprint"],
        renewed.client_thumbprint.to_string()
    );
    let (_, all) = server.admin("GET", "/api/v1/devices", None).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "the same enrollment, not a new one"
    );

    // The new certificate opens management.
    let mgmt = &e.management_url;
    let (s, _) = https(
        &Request::new("POST", mgmt, &server.ca_pem())
            .body(package1(&id, mgmt), "application/vnd.syncml.dm+xml")
            .client_cert(&renewed.client_certificate, &key.to_pkcs8_pem().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(s, 200);

    // A wrong password, or a device that has no enrollment: the Authentication fault.
    for (password, device_id) in [
        ("wrong", id.as_str()),
        (server.secret().as_str(), "0123456789ABCDEF0123456789ABCDEF"),
    ] {
        let (s, body) = https(&recover(password, device_id)).await.unwrap();
        assert!(s >= 400 && body.contains("Authentication"), "{s}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_profile_reaches_the_devices_it_is_assigned_to() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    device.sync().await.unwrap();
    let id = device.device_id().to_owned();
    let put = |body: String| {
        let server = &server;
        async move {
            let (s, r) = server
                .admin("PUT", "/api/v1/profiles/p", Some(json!({ "syncml": body })))
                .await;
            assert_eq!(s, 200, "{r}");
        }
    };
    // Version 1 sets Camera and Cortana; another profile sets Bluetooth.
    put(profile(&[(CAMERA, "0"), (CORTANA, "0")])).await;
    let (s, _) = server
        .admin(
            "PUT",
            "/api/v1/profiles/other",
            Some(json!({ "syncml": profile(&[(BLUETOOTH, "0")]) })),
        )
        .await;
    assert_eq!(s, 200);
    for p in ["p", "other"] {
        let (s, _) = server
            .admin("PUT", &format!("/api/v1/devices/{id}/profiles/{p}"), None)
            .await;
        assert_eq!(s, 202);
    }
    device.sync().await.unwrap();
    device.sync().await.unwrap();
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CORTANA), "verified", "{rows:?}");
    assert_eq!(device.tree().value(CAMERA), Some("0"));

    // Version 2: Camera allowed, Cortana no longer set, Bluetooth set too (as `other`).
    put(profile(&[(CAMERA, "1"), (BLUETOOTH, "0")])).await;
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "pending", "{rows:?}");
    let report = device.sync().await.unwrap();
    let sent: Vec<(&str, &str)> = report
        .commands
        .iter()
        .map(|(c, u, _)| (c.as_str(), u.as_str()))
        .collect();
    assert!(sent.contains(&("Replace", CAMERA)), "{sent:?}");
    assert!(sent.contains(&("Delete", CORTANA)), "{sent:?}");
    assert!(
        !sent.contains(&("Delete", BLUETOOTH)) && !sent.contains(&("Delete", CAMERA)),
        "only the node no assigned profile sets any more is deleted: {sent:?}"
    );
    assert_eq!(device.tree().value(CAMERA), Some("1"));
    assert_eq!(device.tree().value(CORTANA), None);
    device.sync().await.unwrap();
    let (_, rows) = server
        .admin("GET", &format!("/api/v1/devices/{id}/profiles"), None)
        .await;
    let p: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["profile_id"] == "p")
        .map(|r| (r["locuri"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        p,
        vec![(BLUETOOTH, "verified"), (CAMERA, "verified")],
        "{rows:?}"
    );

    // The same text again changes nothing.
    put(profile(&[(CAMERA, "1"), (BLUETOOTH, "0")])).await;
    let report = device.sync().await.unwrap();
    assert!(report.commands.is_empty(), "{:?}", report.commands);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_setting_is_sent_again_until_accepted_at_most_three_times() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    device.sync().await.unwrap();
    let id = device.device_id().to_owned();
    // Camera is refused once (a passing failure), Bluetooth always.
    let body = profile(&[(CAMERA, "0"), (BLUETOOTH, "0")]);
    let (s, r) = server
        .admin("PUT", "/api/v1/profiles/p", Some(json!({ "syncml": body })))
        .await;
    assert_eq!(s, 200, "{r}");
    device.tree_mut().fail(CAMERA, StatusCode(500)).unwrap();
    device.tree_mut().fail(BLUETOOTH, StatusCode(405)).unwrap();
    let (s, _) = server
        .admin("PUT", &format!("/api/v1/devices/{id}/profiles/p"), None)
        .await;
    assert_eq!(s, 202);
    let mut delivered = std::collections::BTreeMap::<&str, usize>::new();
    let mut states = Vec::new();
    for i in 0..8 {
        if i == 1 {
            device.tree_mut().unfail(CAMERA);
        }
        let report = device.sync().await.unwrap();
        for uri in [CAMERA, BLUETOOTH] {
            *delivered.entry(uri).or_default() += report
                .commands
                .iter()
                .filter(|(c, u, _)| c == "Replace" && u == uri)
                .count();
        }
        let rows = settings(&server, &device).await;
        states.push((state_of(&rows, CAMERA), state_of(&rows, BLUETOOTH)));
        if i == 0 {
            assert_eq!(rows[CAMERA]["status"], 500, "{rows:?}");
            assert_eq!(rows[BLUETOOTH]["status"], 405, "{rows:?}");
        }
    }
    let rows = settings(&server, &device).await;
    // Camera: refused, sent again, accepted, verified.
    assert_eq!(delivered[CAMERA], 2, "{states:?}");
    assert_eq!(state_of(&rows, CAMERA), "verified", "{states:?}");
    assert_eq!(device.tree().value(CAMERA), Some("0"));
    // Bluetooth: three deliveries, then it stays failed with the device's status.
    assert_eq!(delivered[BLUETOOTH], 3, "{states:?}");
    assert_eq!(state_of(&rows, BLUETOOTH), "failed", "{states:?}");
    assert_eq!(rows[BLUETOOTH]["status"], 405);
    assert_eq!(rows[BLUETOOTH]["attempts"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_setting_is_sent_again_in_the_next_session() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    let dir = tempdir();
    let mut device = enroll(&server, dir.path(), secret(&server)).await.unwrap();
    device.sync().await.unwrap();
    let id = device.device_id().to_owned();
    let body = profile(&[(CAMERA, "0")]);
    let (s, r) = server
        .admin("PUT", "/api/v1/profiles/p", Some(json!({ "syncml": body })))
        .await;
    assert_eq!(s, 200, "{r}");
    device.tree_mut().fail(CAMERA, StatusCode(500)).unwrap();
    let (s, _) = server
        .admin("PUT", &format!("/api/v1/devices/{id}/profiles/p"), None)
        .await;
    assert_eq!(s, 202);
    let replaces = |report: &winmdm_device_emulator::SyncReport| -> Vec<u16> {
        (report.commands.iter())
            .filter(|(c, u, _)| c == "Replace" && u == CAMERA)
            .map(|(_, _, s)| *s)
            .collect()
    };
    let refused = device.sync().await.unwrap();
    assert_eq!(replaces(&refused), [500], "{:?}", refused.commands);
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "failed", "{rows:?}");
    // The refusal passes; the very next session delivers the setting again, and the one
    // after reads it back.
    device.tree_mut().unfail(CAMERA);
    let again = device.sync().await.unwrap();
    assert_eq!(replaces(&again), [200], "{:?}", again.commands);
    assert_eq!(device.tree().value(CAMERA), Some("0"));
    let verify = device.sync().await.unwrap();
    assert!(
        verify
            .commands
            .iter()
            .any(|(c, u, _)| c == "Get" && u == CAMERA),
        "{:?}",
        verify.commands
    );
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "verified", "{rows:?}");
    assert_eq!(rows[CAMERA]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_changed_on_the_device_after_verification_is_found_at_a_later_session() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--reverify-secs", "0"]);
    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path(), secret(&server))
        .await
        .expect("enroll");
    device.sync().await.expect("first sync");
    let body = profile(&[(CAMERA, "0")]);
    let (s, r) = server
        .admin(
            "PUT",
            "/api/v1/profiles/camera",
            Some(json!({ "syncml": body })),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let path = format!("/api/v1/devices/{}/profiles/camera", device.device_id());
    assert_eq!(server.admin("PUT", &path, None).await.0, 202);
    device.sync().await.expect("install");
    device.sync().await.expect("verify");
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "verified", "{rows:?}");
    assert_eq!(rows[CAMERA]["attempts"], 1);

    // Verified once; the user changes the value afterwards. With --reverify-secs 0 the
    // next session reads the profile back again and finds it.
    device.tree_mut().set(CAMERA, "1").unwrap();
    let report = device.sync().await.expect("re-verify");
    assert!(
        report
            .commands
            .iter()
            .any(|(c, u, st)| c == "Get" && u == CAMERA && *st == 200),
        "{:?}",
        report.commands
    );
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "drift", "{rows:?}");
    assert_eq!(rows[CAMERA]["actual"], "1");

    // Drift is corrected as after the first read-back, and verified again.
    device.sync().await.expect("resend");
    assert_eq!(device.tree().value(CAMERA), Some("0"));
    device.sync().await.expect("verify again");
    let rows = settings(&server, &device).await;
    assert_eq!(state_of(&rows, CAMERA), "verified", "{rows:?}");
    assert_eq!(rows[CAMERA]["attempts"], 2);
}
