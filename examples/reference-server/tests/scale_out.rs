//! Two instances of the real `winmdm-server` binary on 127.0.0.1 sharing one PostgreSQL
//! database and one data directory (CA, TLS certificate, secrets), as a deployment behind
//! a load balancer: both have the same `--public-url`. A session whose messages alternate
//! between the instances, an instance SIGKILLed mid-session, the same enrollment request
//! given to both at once, and two sessions of one device on both at once.
//!
//! PostgreSQL only: skipped (a line on stderr) without `WINMDM_TEST_POSTGRES`.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use common::manual::*;
use common::pg::PgDatabase;
use common::{Request, Server, free_port, https, tempdir};
use serde_json::{Value, json};
use winmdm_device_emulator::{
    Device, DeviceFacts, ENROLLMENT_CONTENT_TYPE, management_request_url,
};
use winmdm_enroll::client::{self, ClientCredential, DeviceInfo, Enrolled};
use winmdm_enroll::pki::{self, DeviceKey};

/// Every test finishes within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Instances A and B on one database; the data directory and database are dropped
/// after the servers (fields drop in order).
struct Pair {
    a: Server,
    b: Server,
    _db: PgDatabase,
    _data: tempfile::TempDir,
}

impl Pair {
    /// Starts A on a fresh data directory, then B on the same directory and database.
    /// The public URL (what devices are told) is B's.
    fn start(test: &str) -> Option<Pair> {
        let db = PgDatabase::create(test)?;
        let data = tempdir();
        let (pa, pb) = (free_port(), free_port());
        let public = format!("https://localhost:{pb}");
        let args = ["--db", db.url.as_str(), "--public-url", public.as_str()];
        let a = Server::start(data.path(), pa, &args);
        let b = Server::start(data.path(), pb, &args);
        Some(Pair {
            a,
            b,
            _db: db,
            _data: data,
        })
    }
}

/// The management request URL of one instance.
fn mdm_url(server: &Server) -> String {
    management_request_url(&format!("{}/ManagementServer/MDM.svc", server.url))
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("the test must finish in time")
}

/// How often each queued command was delivered in `delivered` (by its LocURI, unique
/// among the queued commands).
fn deliveries(delivered: &[(String, String)], queued: &[Queued]) -> BTreeMap<i64, usize> {
    let count = tally(delivered.iter().map(|(c, u)| (c.as_str(), u.as_str())));
    queued
        .iter()
        .map(|q| {
            let n = count
                .get(&(q.kind.to_owned(), q.uri.clone()))
                .copied()
                .unwrap_or(0);
            (q.id, n)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_alternating_between_two_instances_delivers_each_command_once() {
    let Some(pair) = Pair::start("a_session_alternating_between_two_instances") else {
        return;
    };
    bounded(async {
        let instances = [&pair.a, &pair.b];
        let dev_dir = tempdir();
        let mut device = enroll(&pair.a, dev_dir.path()).await;
        device.sync().await.expect("first sync");
        assert_nothing_open(&pair.a, &device).await;

        let queued = queue(&pair.a, &device, GETS.len(), REPLACES.len()).await;
        let (mut s, first) = ManualSession::new(&device, "1A", winmdm_omadm::MIN_MAX_MSG_SIZE);
        let mut next = Some(first);
        let mut k = 1;
        while let Some(m) = next {
            assert!(k < 100, "the session must end");
            let r = s.post_to(&mdm_url(instances[k % 2]), &m).await;
            next = s.handle(&mut device, &r);
            k += 1;
        }
        assert!(s.session.is_finished());
        assert!(k > 4, "a multi-message session: {k} messages");

        let flat = s.delivered.concat();
        assert_each_once(
            &tally(flat.iter().map(|(c, u)| (c.as_str(), u.as_str()))),
            &queued,
        );
        assert_eq!(flat.len(), queued.len(), "{:?}", s.delivered);
        // Both instances see the same outcomes.
        for server in instances {
            assert_all_recorded(server, &device, &queued).await;
            assert_nothing_open(server, &device).await;
        }
        assert_next_sync_delivers_nothing(&mut device).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_instance_mid_session_loses_and_repeats_nothing() {
    let Some(mut pair) = Pair::start("a_sigkilled_instance_mid_session") else {
        return;
    };
    let dev_dir = tempdir();
    let mut device = bounded(enroll(&pair.a, dev_dir.path())).await;
    bounded(async {
        device.sync().await.expect("first sync");
        let queued = queue(&pair.a, &device, GETS.len(), REPLACES.len()).await;
        let (mut s, m1) = ManualSession::new(&device, "2B", winmdm_omadm::MIN_MAX_MSG_SIZE);
        let (url_a, url_b) = (mdm_url(&pair.a), mdm_url(&pair.b));

        // Message 1 on B, message 2 on A; A answers message 2 and dies.
        let r1 = s.post_to(&url_b, &m1).await;
        let m2 = s.handle(&mut device, &r1).expect("the session goes on");
        let r2 = s.post_to(&url_a, &m2).await;
        let m3 = s.handle(&mut device, &r2).expect("the session goes on");
        let at_crash = states(&pair.b, &queued).await;
        assert!(at_crash.values().any(|st| st == "sent"), "{at_crash:?}");
        assert!(at_crash.values().any(|st| st == "pending"), "{at_crash:?}");
        pair.a.kill();

        // The device did not trust the answer and sends message 2 again, to B: the same
        // bytes as A's answer, from the snapshot A committed.
        let r2_again = s.post_to(&url_b, &m2).await;
        assert_eq!(r2_again, r2, "B answers message 2 as A did");
        let r3 = s.post_to(&url_b, &m3).await;
        let mut next = s.handle(&mut device, &r3);
        while let Some(m) = next {
            assert!(s.delivered.len() < 100, "the session must end");
            let r = s.post_to(&url_b, &m).await;
            next = s.handle(&mut device, &r);
        }
        assert!(s.session.is_finished());

        let flat = s.delivered.concat();
        assert_each_once(
            &tally(flat.iter().map(|(c, u)| (c.as_str(), u.as_str()))),
            &queued,
        );
        assert_eq!(flat.len(), queued.len(), "{:?}", s.delivered);
        assert_all_recorded(&pair.b, &device, &queued).await;
        assert_nothing_open(&pair.b, &device).await;
        // The device's own next check-in goes to the public URL (B): nothing left.
        assert_next_sync_delivers_nothing(&mut device).await;
    })
    .await;
}

/// One RST (bytes) for a fresh key, with `credential`; the key and the DeviceID.
async fn rst(enrollment_url: &str, credential: &ClientCredential) -> (String, DeviceKey, String) {
    let key = tokio::task::spawn_blocking(|| DeviceKey::generate(2048, &mut pki::default_rng()))
        .await
        .unwrap()
        .expect("RSA key");
    let device_id = winmdm_device_emulator::random_device_id();
    let info = DeviceInfo::windows(&device_id, &"AB".repeat(32));
    let cn = pki::windows_common_name("5D1E9D36-95E6-4CE5-A0B7-1E9C1AC9B3CF", &device_id);
    let csr = pki::windows_csr(&key, &cn, Some(&device_id)).expect("CSR");
    let env = client::rst_request(
        enrollment_url,
        "urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749",
        credential,
        &csr,
        &info,
        winmdm_device_emulator::EnrollmentType::Full,
    );
    (env.to_xml(), key, device_id)
}

async fn post_rst(server: &Server, body: &str) -> (u16, String) {
    https(
        &Request::new(
            "POST",
            &format!("{}/EnrollmentServer/Enrollment.svc", server.url),
            &server.ca_pem(),
        )
        .body(body.to_owned(), ENROLLMENT_CONTENT_TYPE),
    )
    .await
    .expect("enrollment POST")
}

/// The same RST posted to A and B at once: both answer a provisioning document with the
/// same DMAcc credentials, one enrollment exists, and each answer's certificate manages
/// the device (a queued Get answered through each).
async fn same_request_to_both(pair: &Pair, credential: &ClientCredential) {
    let enrollment_url = format!("{}/EnrollmentServer/Enrollment.svc", pair.b.url);
    let (body, key, device_id) = rst(&enrollment_url, credential).await;
    let ((sa, ra), (sb, rb)) = tokio::join!(post_rst(&pair.a, &body), post_rst(&pair.b, &body));
    assert_eq!((sa, sb), (200, 200), "A: {ra}\nB: {rb}");
    let ea = Enrolled::from_xml(ra.as_bytes(), &key).expect("A's document");
    let eb = Enrolled::from_xml(rb.as_bytes(), &key).expect("B's document");
    assert_ne!(
        ea.client_thumbprint, eb.client_thumbprint,
        "two certificates"
    );
    let (da, db) = (
        ea.device_credentials.as_ref().expect("APPSRV credentials"),
        eb.device_credentials.as_ref().expect("APPSRV credentials"),
    );
    assert_eq!(da.name, db.name, "the same DM user name");
    assert_eq!(
        da.secret.as_ref().map(|s| s.expose().to_owned()),
        db.secret.as_ref().map(|s| s.expose().to_owned()),
        "the same DM password"
    );
    assert_eq!(da.data, db.data, "the same DM nonce");

    for server in [&pair.a, &pair.b] {
        let (s, devices) = server.admin("GET", "/api/v1/devices", None).await;
        assert_eq!(s, 200);
        let mine: Vec<&Value> = devices
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["device_id"] == device_id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "one enrollment for the DeviceID: {mine:?}");
        assert_eq!(mine[0]["state"], "active");
    }
    let (s, inventory) = pair
        .a
        .admin(
            "GET",
            &format!("/api/v1/devices/{device_id}/commands"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let origins: Vec<&str> = inventory
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["origin"].as_str())
        .collect();
    assert_eq!(
        origins.iter().filter(|o| **o == "inventory").count(),
        1,
        "one inventory Get, not one per answer: {inventory}"
    );
    assert_eq!(
        origins.len(),
        2,
        "the first commands once: the inventory Get and the session version: {inventory}"
    );

    let key_pem = key.to_pkcs8_pem().expect("key PEM");
    for (i, e) in [ea, eb].into_iter().enumerate() {
        let dir = tempdir();
        let enrollment = winmdm_device_emulator::Enrollment::new(
            e.provider_id.clone(),
            e.management_url.trim(),
            e.client_certificate.clone(),
            key_pem.as_str(),
            pair.a.ca_pem(),
        );
        let mut device =
            Device::create(dir.path(), &device_id, DeviceFacts::default(), enrollment).unwrap();
        let (s, ids) = pair
            .a
            .admin(
                "POST",
                &format!("/api/v1/devices/{device_id}/commands"),
                Some(json!({ "syncml": get_xml("./DevDetail/SwV") })),
            )
            .await;
        assert_eq!(s, 201, "{ids}");
        let report = device
            .sync()
            .await
            .expect("a session with this certificate");
        assert!(
            report.http_statuses.iter().all(|s| *s == 200),
            "answer {i}: {report:?}"
        );
        assert_eq!(report.status_of("./DevDetail/SwV"), Some(200), "{report:?}");
        let row = command(&pair.b, ids["command_ids"][0].as_i64().unwrap()).await;
        assert_eq!(
            (row["state"].as_str(), &row["status"]),
            (Some("done"), &json!(200))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_enrollment_request_to_both_instances_gives_one_enrollment() {
    let Some(pair) = Pair::start("the_same_enrollment_request_to_both_instances") else {
        return;
    };
    bounded(async {
        let secret = ClientCredential::on_premise("user@example.com", &pair.a.secret());
        same_request_to_both(&pair, &secret).await;
        // A one-time token: used by the first answer's enrollment, accepted for the
        // retry of the same key.
        let (s, t) = pair
            .b
            .admin("POST", "/api/v1/enrollment-tokens", Some(json!({})))
            .await;
        assert_eq!(s, 201, "{t}");
        let token = ClientCredential::Token(t["token"].as_str().unwrap().to_owned());
        same_request_to_both(&pair, &token).await;
        // The spent token does not enroll another key.
        let url = format!("{}/EnrollmentServer/Enrollment.svc", pair.b.url);
        let (body, _, _) = rst(&url, &token).await;
        let (s, text) = post_rst(&pair.a, &body).await;
        assert_ne!(s, 200, "{text}");
        assert!(text.contains("s:Authentication"), "{text}");
    })
    .await;
}

/// One session driven to its end, each message to `url`.
async fn run_session(
    mut s: ManualSession,
    first: String,
    url: String,
    mut device: Device,
) -> ManualSession {
    let mut next = Some(first);
    while let Some(m) = next {
        assert!(s.delivered.len() < 200, "the session must end");
        let r = s.post_to(&url, &m).await;
        next = s.handle(&mut device, &r);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_of_one_device_on_two_instances_never_share_a_command() {
    let Some(pair) = Pair::start("two_sessions_of_one_device_on_two_instances") else {
        return;
    };
    bounded(async {
        let dev_dir = tempdir();
        let mut device = enroll(&pair.a, dev_dir.path()).await;
        device.sync().await.expect("first sync");
        for round in 0..3 {
            let queued = queue(&pair.a, &device, GETS.len(), REPLACES.len()).await;
            // Two copies of the device, two SessionIDs, one on each instance, at once.
            let copy = Device::load(dev_dir.path()).unwrap();
            let max = winmdm_omadm::MIN_MAX_MSG_SIZE;
            let (s1, f1) = ManualSession::new(&device, &format!("D{round}1"), max);
            let (s2, f2) = ManualSession::new(&copy, &format!("D{round}2"), max);
            let mine = Device::load(dev_dir.path()).unwrap();
            let (s1, s2) = tokio::join!(
                run_session(s1, f1, mdm_url(&pair.a), mine),
                run_session(s2, f2, mdm_url(&pair.b), copy)
            );
            let (d1, d2) = (s1.delivered.concat(), s2.delivered.concat());
            let (n1, n2) = (deliveries(&d1, &queued), deliveries(&d2, &queued));
            for q in &queued {
                assert!(
                    n1[&q.id] + n2[&q.id] == 1,
                    "round {round}: command {q:?} delivered {} times on A, {} on B",
                    n1[&q.id],
                    n2[&q.id]
                );
            }
            assert_eq!(d1.len() + d2.len(), queued.len(), "nothing else delivered");
            for q in &queued {
                let row = command(&pair.b, q.id).await;
                assert_eq!(
                    (row["state"].as_str(), &row["status"]),
                    (Some("done"), &json!(200)),
                    "{q:?}: {row}"
                );
            }
            assert_nothing_open(&pair.a, &device).await;
        }
    })
    .await;
}
