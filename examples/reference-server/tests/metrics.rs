//! `GET /api/v1/metrics` on the real server: the counters move as one enrollment and
//! one check-in say, on SQLite and (with `WINMDM_TEST_POSTGRES`) on PostgreSQL; the
//! retention flag prunes at start.

mod common;

use common::pg::PgDatabase;
use common::{Request, Server, free_port, https, tempdir};
use serde_json::Value;
use winmdm_device_emulator::{Credential, Device, EnrollOptions};

async fn metrics(server: &Server) -> Value {
    let (s, m) = server.admin("GET", "/api/v1/metrics", None).await;
    assert_eq!(s, 200, "{m}");
    m
}

fn n(m: &Value, key: &str) -> u64 {
    m[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a number: {m}"))
}

async fn counters_follow_one_enrollment_and_one_sync(server: &Server, store: &str) {
    // Without the token: 401, like every admin route.
    let (s, _) = https(&Request::new(
        "GET",
        &format!("{}/api/v1/metrics", server.url),
        &server.ca_pem(),
    ))
    .await
    .unwrap();
    assert_eq!(s, 401);

    let m0 = metrics(server).await;
    assert_eq!(m0["store"], store, "{m0}");
    assert_eq!(
        (
            n(&m0, "enrollments"),
            n(&m0, "sessions"),
            n(&m0, "messages")
        ),
        (0, 0, 0),
        "{m0}"
    );
    assert_eq!(n(&m0, "sessions_in_progress"), 0);

    let dev_dir = tempdir();
    let opts = EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: server.secret(),
        },
    );
    let mut device = Device::enroll(dev_dir.path(), opts).await.expect("enroll");
    let m1 = metrics(server).await;
    assert_eq!(n(&m1, "enrollments"), 1, "{m1}");
    assert_eq!(n(&m1, "sessions"), 0, "{m1}");
    assert!(
        n(&m1, "db_statements") > n(&m0, "db_statements"),
        "the enrollment wrote: {m0} {m1}"
    );

    let report = device.sync().await.expect("sync");
    assert!(report.http_statuses.iter().all(|s| *s == 200), "{report:?}");
    let m2 = metrics(server).await;
    assert_eq!(n(&m2, "enrollments"), 1, "{m2}");
    assert_eq!(n(&m2, "sessions"), 1, "one session: {m2}");
    assert_eq!(
        n(&m2, "messages"),
        report.messages as u64,
        "every message answered: {m2} {report:?}"
    );
    assert_eq!(n(&m2, "sessions_in_progress"), 0);
    let per_session = n(&m2, "db_statements") - n(&m1, "db_statements");
    // At least BEGIN, the snapshot, COMMIT per message; the admin reads between add a few.
    assert!(
        per_session >= 3 * report.messages as u64,
        "{per_session} statements for {} messages",
        report.messages
    );

    // A second sync is a second session: an idle check-in (one message, nothing queued,
    // the inventory as stored), which costs the peek's one statement and stores nothing.
    let m3 = metrics(server).await;
    let reading = n(&m3, "db_statements") - n(&m2, "db_statements"); // the metrics call's own
    let report = device.sync().await.expect("second sync");
    assert_eq!(report.messages, 1, "{report:?}");
    let m4 = metrics(server).await;
    assert_eq!(n(&m4, "sessions"), 2);
    assert_eq!(
        n(&m4, "db_statements") - n(&m3, "db_statements") - reading,
        1,
        "an idle check-in is one statement: {m3} {m4}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_metrics_count_enrollments_sessions_messages_and_statements() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &[]);
    counters_follow_one_enrollment_and_one_sync(&server, "sqlite").await;
    assert!(
        server.wait_log("pruned old outcomes"),
        "retention runs at start (default 30 days): {}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_metrics_count_enrollments_sessions_messages_and_statements() {
    let Some(db) = PgDatabase::create("postgres_metrics_count") else {
        return;
    };
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--db", &db.url]);
    counters_follow_one_enrollment_and_one_sync(&server, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_zero_keeps_everything_and_does_not_prune() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--retention-days", "0"]);
    let _ = metrics(&server).await;
    assert!(!server.wait_log("pruned old outcomes"), "{}", server.log());
}
