//! The storage contract: one suite of checks run against every `Store` implementation.
//!
//! SQLite always runs (a temporary directory). PostgreSQL runs when `WINMDM_TEST_POSTGRES`
//! holds a connection URL (`postgres://user@127.0.0.1:PORT/postgres`): every test creates a
//! database of its own through it and drops it afterwards. Without the variable the
//! PostgreSQL tests print `skipped: WINMDM_TEST_POSTGRES not set` (on stderr, not captured)
//! and return.

mod common;

use std::time::Duration;

use common::pg::{PgDatabase, off_runtime};

use serde_json::json;
use winmdm_reference_server::store::{
    Deployment, MessageKey, NewCertificate, NewEnrollment, NewOutcome, OpenedMessage, PgStore,
    PruneReport, QuietTx, SessionTx, SettingUpdate, SqliteStore, Store, StoreError,
};

/// Migrations each backend has (`migrations/{sqlite,postgres}/000N_*.sql`).
const MIGRATIONS: i64 = 6;
const NOW: i64 = 1_800_000_000;

// ---------------------------------------------------------------- backends

/// A store and what it lives in (dropped after the store).
struct Backend {
    store: Box<dyn Store>,
    _place: Place,
}

// Held for their Drop only.
#[allow(dead_code)]
enum Place {
    Dir(tempfile::TempDir),
    Pg(PgDatabase),
}

fn sqlite() -> Backend {
    let dir = common::tempdir();
    let store = SqliteStore::open(&dir.path().join("winmdm.db")).expect("open sqlite");
    Backend {
        store: Box::new(store),
        _place: Place::Dir(dir),
    }
}

fn pg_backend(test: &str) -> Option<Backend> {
    let db = PgDatabase::create(test)?;
    let store = PgStore::open(&db.url).expect("open postgres");
    Some(Backend {
        store: Box::new(store),
        _place: Place::Pg(db),
    })
}

/// Every check, once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                let b = super::sqlite();
                super::$name(&*b.store);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                let Some(b) = super::pg_backend(concat!("postgres::", stringify!($name))) else {
                    return;
                };
                super::$name(&*b.store);
            })*
        }
    };
}

contract!(
    enrollments_certificates_and_lookups,
    tokens_are_used_once,
    a_token_used_by_two_enrollments_at_once_admits_one,
    commands_queue_pending_sent_and_outcome_once,
    requeue_abandoned_puts_unanswered_commands_back,
    session_snapshot_saved_and_restored,
    session_dropped_without_commit_rolls_back,
    profiles_assign_settings_unassign,
    dm_nonce_and_inventory,
    unenrolled_revokes_every_certificate,
    two_messages_of_one_enrollment_never_run_at_once,
    a_retried_enrollment_with_the_same_key_joins_the_enrollment,
    a_retry_may_present_the_token_its_enrollment_used,
    a_new_key_replaces_the_active_enrollment,
    concurrent_enrollments_of_one_device_and_key_give_one_enrollment,
    first_commands_are_queued_once,
    prune_removes_old_outcomes_and_idle_snapshots_only,
    statements_are_counted,
    open_message_identifies_locks_and_reads_the_snapshot,
    open_message_skips_only_statements_that_find_nothing,
    open_message_requeues_abandoned_commands,
    two_opened_messages_never_run_at_once_and_the_second_sees_the_first,
    record_outcomes_records_each_once_in_one_statement,
    peek_message_says_quiet_only_when_nothing_is_stored_to_do,
    profile_revisions_and_a_redeploy_in_one_transaction_per_device,
    an_answer_to_another_revisions_command_changes_no_node_state,
    due_verifications_are_taken_once_oldest_first_and_reset_by_a_deployment,
    a_read_back_skips_write_only_nodes_and_records_the_verification,
);

// ---------------------------------------------------------------- helpers

fn cert(thumbprint: &str) -> NewCertificate<'_> {
    NewCertificate {
        thumbprint,
        serial: "01",
        not_after: NOW + 365 * 86_400,
        // One key per certificate unless a test says otherwise.
        key_sha256: thumbprint,
    }
}

/// A certificate for `key`.
fn keyed<'a>(thumbprint: &'a str, key: &'a str) -> NewCertificate<'a> {
    NewCertificate {
        key_sha256: key,
        ..cert(thumbprint)
    }
}

fn new_enrollment<'a>(device_id: &'a str, thumbprint: &'a str) -> NewEnrollment<'a> {
    NewEnrollment {
        device_id,
        hw_dev_id: Some("HW1"),
        upn: Some("user@example.com"),
        auth: "onpremise",
        dm_username: "dmuser",
        dm_password: "dmpass",
        dm_nonce: b"nonce-1",
        cert: cert(thumbprint),
        first_commands: &[],
    }
}

fn enroll(store: &dyn Store, device_id: &str, thumbprint: &str) -> i64 {
    let done = store
        .create_enrollment(&new_enrollment(device_id, thumbprint), None, NOW)
        .expect("create enrollment");
    assert!(done.created, "{done:?}");
    done.enrollment.id
}

/// Assigns revision 1 of `profile` (as stored by `put_profile`) with these nodes and
/// install commands.
fn assign(store: &dyn Store, profile: &str, e: i64, locuris: &[String], install: &[String]) {
    let revision = store.profile(profile).unwrap().expect("profile").revision;
    let d = Deployment {
        profile_id: profile,
        revision,
        locuris,
        install,
    };
    store.assign(&d, e, NOW).unwrap();
}

fn frags(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("<Get><CmdID>{i}</CmdID></Get>"))
        .collect()
}

// ---------------------------------------------------------------- the checks

fn enrollments_certificates_and_lookups(store: &dyn Store) {
    assert!(store.enrollments().unwrap().is_empty());
    assert!(store.enrollment_by_thumbprint("AA").unwrap().is_none());
    assert!(store.enrollment_by_device("DEV1").unwrap().is_none());

    let id = enroll(store, "DEV1", "AA");
    let e = store.enrollment_by_thumbprint("AA").unwrap().unwrap();
    assert_eq!(e.id, id);
    assert_eq!(e.device_id, "DEV1");
    assert_eq!(e.hw_dev_id.as_deref(), Some("HW1"));
    assert_eq!(e.upn.as_deref(), Some("user@example.com"));
    assert_eq!(e.auth, "onpremise");
    assert_eq!(e.state, "active");
    assert_eq!(
        (e.dm_username.as_str(), e.dm_password.as_str()),
        ("dmuser", "dmpass")
    );
    assert_eq!(e.dm_nonce, b"nonce-1");
    assert_eq!(e.enrolled_at, NOW);
    assert_eq!(e.last_seen_at, None);
    assert_eq!(e.inventory, json!({}));
    assert_eq!(e.certificate_thumbprint.as_deref(), Some("AA"));
    assert_eq!(e.certificate_not_after, Some(NOW + 365 * 86_400));

    // A renewal: the newest certificate is reported, the older one still identifies
    // the enrollment until it is revoked. Same second: insertion order decides.
    let renewed = NewCertificate {
        thumbprint: "BB",
        serial: "02",
        not_after: NOW + 730 * 86_400,
        key_sha256: "BB",
    };
    store.add_certificate(id, &renewed, NOW).unwrap();
    let e = store.enrollment_by_device("DEV1").unwrap().unwrap();
    assert_eq!(e.certificate_thumbprint.as_deref(), Some("BB"));
    assert_eq!(e.certificate_not_after, Some(NOW + 730 * 86_400));
    assert_eq!(
        store.enrollment_by_thumbprint("AA").unwrap().unwrap().id,
        id
    );
    assert_eq!(
        store.enrollment_by_thumbprint("BB").unwrap().unwrap().id,
        id
    );
    // A thumbprint is unique.
    assert!(store.add_certificate(id, &cert("BB"), NOW).is_err());

    // The same device enrolls again: a new enrollment, the newest wins by device.
    let id2 = enroll(store, "DEV1", "CC");
    assert_ne!(id2, id);
    assert_eq!(store.enrollment_by_device("DEV1").unwrap().unwrap().id, id2);
    let other = enroll(store, "DEV2", "DD");
    let all: Vec<i64> = store.enrollments().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(all, vec![other, id2, id], "newest first");
}

fn tokens_are_used_once(store: &dyn Store) {
    store.create_token("T1", NOW + 60, NOW).unwrap();
    store.create_token("OLD", NOW - 1, NOW - 100).unwrap();
    assert!(store.token_usable("T1", NOW).unwrap());
    assert!(!store.token_usable("OLD", NOW).unwrap(), "expired");
    assert!(!store.token_usable("NOPE", NOW).unwrap(), "unknown");
    assert!(
        !store.token_usable("T1", NOW + 60).unwrap(),
        "expires at expires_at"
    );

    let id = store
        .create_enrollment(&new_enrollment("DEV1", "AA"), Some("T1"), NOW)
        .unwrap()
        .enrollment
        .id;
    assert!(id > 0);
    assert!(!store.token_usable("T1", NOW).unwrap(), "used");

    // Used, expired or unknown: refused, and nothing of the enrollment is kept.
    for t in ["T1", "OLD", "NOPE"] {
        let r = store.create_enrollment(&new_enrollment("DEV2", "BB"), Some(t), NOW);
        assert!(matches!(r, Err(StoreError::TokenNotValid)), "{t}: {r:?}");
    }
    assert_eq!(store.enrollments().unwrap().len(), 1);
    assert!(store.enrollment_by_thumbprint("BB").unwrap().is_none());
    assert!(store.enrollment_by_device("DEV2").unwrap().is_none());
}

fn a_token_used_by_two_enrollments_at_once_admits_one(store: &dyn Store) {
    store.create_token("T", NOW + 60, NOW).unwrap();
    let results: Vec<Result<i64, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                s.spawn(move || {
                    let (dev, tp) = (format!("DEV{i}"), format!("TP{i}"));
                    store
                        .create_enrollment(&new_enrollment(&dev, &tp), Some("T"), NOW)
                        .map(|d| d.enrollment.id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::TokenNotValid))),
        "{results:?}"
    );
    assert_eq!(store.enrollments().unwrap().len(), 1);
}

fn commands_queue_pending_sent_and_outcome_once(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let other = enroll(store, "DEV2", "BB");
    let ids = store.queue_commands(e, &frags(3), "admin", NOW).unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let theirs = store
        .queue_commands(other, &frags(1), "admin", NOW)
        .unwrap()[0];

    let c = store.command(ids[0]).unwrap().unwrap();
    assert_eq!(
        (c.enrollment_id, c.state.as_str(), c.origin.as_str()),
        (e, "pending", "admin")
    );
    assert_eq!(c.syncml, frags(1)[0]);
    assert_eq!(
        (c.status, c.original_error.clone(), c.results.clone()),
        (None, None, None)
    );
    assert_eq!(c.created_at, NOW);
    assert!(store.command(i64::MAX).unwrap().is_none());
    let listed: Vec<i64> = store.commands(e, 2).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(listed, vec![ids[2], ids[1]], "newest first, limited");

    let mut tx = store.session(e, "1").unwrap();
    let p = tx.pending(10, &[]).unwrap();
    let pids: Vec<i64> = p.iter().map(|r| r.0).collect();
    assert_eq!(pids, ids, "oldest first, this enrollment only");
    assert_eq!(p[0].2, "admin");
    assert_eq!(tx.pending(1, &[ids[0]]).unwrap()[0].0, ids[1], "skip");
    assert_eq!(tx.pending(5, &[ids[0], ids[1]]).unwrap().len(), 1);
    tx.mark_sent(ids[0], NOW + 1).unwrap();
    tx.mark_sent(ids[1], NOW + 1).unwrap();
    assert_eq!(tx.pending(10, &[]).unwrap().len(), 1, "sent is not pending");
    let results = json!([{ "locuri": "./DevInfo/Man", "format": "chr", "data": "x" }]);
    assert!(
        tx.record_outcome(ids[0], Some(200), None, Some(&results), NOW + 2)
            .unwrap()
    );
    assert!(
        !tx.record_outcome(ids[0], Some(500), Some("again"), None, NOW + 3)
            .unwrap(),
        "an outcome is recorded once"
    );
    assert!(
        tx.record_outcome(ids[1], Some(405), Some("0x86000011"), None, NOW + 2)
            .unwrap()
    );
    let queued = tx.queue(&frags(1), "profile:p:verify", NOW + 2).unwrap();
    assert_eq!(queued.len(), 1);
    tx.commit().unwrap();

    let c0 = store.command(ids[0]).unwrap().unwrap();
    assert_eq!((c0.state.as_str(), c0.status), ("done", Some(200)));
    assert_eq!(c0.results, Some(results));
    let c1 = store.command(ids[1]).unwrap().unwrap();
    assert_eq!(c1.original_error.as_deref(), Some("0x86000011"));
    assert_eq!(store.command(ids[2]).unwrap().unwrap().state, "pending");
    let q = store.command(queued[0]).unwrap().unwrap();
    assert_eq!(
        (q.origin.as_str(), q.enrollment_id),
        ("profile:p:verify", e)
    );
    // Another enrollment's command cannot be answered from this session.
    let mut tx = store.session(e, "1").unwrap();
    assert!(
        !tx.record_outcome(theirs, Some(200), None, None, NOW)
            .unwrap()
    );
    tx.commit().unwrap();
    assert_eq!(store.command(theirs).unwrap().unwrap().state, "pending");
}

fn requeue_abandoned_puts_unanswered_commands_back(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let ids = store.queue_commands(e, &frags(3), "admin", NOW).unwrap();

    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(tx.requeue_abandoned(NOW + 1).unwrap(), 0);
    tx.mark_sent(ids[0], NOW).unwrap();
    tx.mark_sent(ids[1], NOW).unwrap();
    tx.record_outcome(ids[1], Some(200), None, None, NOW)
        .unwrap();
    tx.save(b"session 1", NOW).unwrap();
    tx.commit().unwrap();

    // The same session: nothing is abandoned.
    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(tx.requeue_abandoned(NOW + 1).unwrap(), 0);
    drop(tx);

    // A new session while session 1 may still run (saved at NOW, not before NOW):
    // session 1 keeps its command and its snapshot.
    let mut tx = store.session(e, "2").unwrap();
    assert_eq!(tx.requeue_abandoned(NOW).unwrap(), 0);
    let pending: Vec<i64> = tx.pending(10, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(
        pending,
        vec![ids[2]],
        "the live session's command is not offered"
    );
    tx.commit().unwrap();
    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"session 1"[..]));
    drop(tx);

    // Session 1 idle since before the cutoff: its sent, unanswered command is pending
    // again, its snapshot gone.
    let mut tx = store.session(e, "2").unwrap();
    assert_eq!(tx.requeue_abandoned(NOW + 1).unwrap(), 1);
    let pending: Vec<i64> = tx.pending(10, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(pending, vec![ids[0], ids[2]]);
    tx.commit().unwrap();
    assert_eq!(store.command(ids[1]).unwrap().unwrap().state, "done");
    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(
        tx.snapshot().unwrap(),
        None,
        "earlier session's snapshot dropped"
    );
}

fn session_snapshot_saved_and_restored(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let other = enroll(store, "DEV2", "BB");
    let mut tx = store.session(e, "1A").unwrap();
    assert_eq!(tx.snapshot().unwrap(), None);
    tx.save(b"{\"v\":1}", NOW + 5).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        store
            .enrollment_by_device("DEV1")
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(NOW + 5)
    );

    let mut tx = store.session(e, "1A").unwrap();
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"{\"v\":1}"[..]));
    tx.save(b"{\"v\":2}", NOW + 6).unwrap();
    tx.commit().unwrap();
    let mut tx = store.session(e, "1A").unwrap();
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"{\"v\":2}"[..]));
    drop(tx);
    // Keyed by enrollment and SessionID.
    assert_eq!(store.session(e, "1B").unwrap().snapshot().unwrap(), None);
    assert_eq!(
        store.session(other, "1A").unwrap().snapshot().unwrap(),
        None
    );
}

fn session_dropped_without_commit_rolls_back(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    store.put_profile("p", "<Replace/>", NOW).unwrap();
    assign(store, "p", e, &["./A".to_owned()], &frags(1));
    let ids = store.queue_commands(e, &frags(1), "admin", NOW).unwrap();
    let mut tx = store.session(e, "1").unwrap();
    tx.save(b"kept", NOW).unwrap();
    tx.commit().unwrap();

    let mut tx = store.session(e, "1").unwrap();
    tx.save(b"lost", NOW + 9).unwrap();
    tx.mark_sent(ids[0], NOW + 9).unwrap();
    tx.record_outcome(ids[0], Some(200), None, None, NOW + 9)
        .unwrap();
    tx.queue(&frags(2), "lost", NOW + 9).unwrap();
    tx.set_dm_nonce(b"lost").unwrap();
    tx.merge_inventory(&[("./DevInfo/Man".into(), "lost".into())])
        .unwrap();
    tx.set_setting(
        "p",
        "./A",
        &SettingUpdate {
            state: "verified",
            status: None,
            original_error: None,
            actual: None,
            attempt: true,
        },
    )
    .unwrap();
    tx.unenrolled(NOW + 9).unwrap();
    drop(tx);

    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"kept"[..]));
    drop(tx);
    assert_eq!(store.command(ids[0]).unwrap().unwrap().state, "pending");
    assert_eq!(
        store.commands(e, 100).unwrap().len(),
        2,
        "install + admin only"
    );
    let en = store.enrollment_by_thumbprint("AA").unwrap().unwrap();
    assert_eq!(en.state, "active");
    assert_eq!(en.dm_nonce, b"nonce-1");
    assert_eq!(en.inventory, json!({}));
    assert_eq!(en.last_seen_at, Some(NOW));
    let s = store.settings(e).unwrap();
    assert_eq!((s[0].state.as_str(), s[0].attempts), ("pending", 0));
}

fn profiles_assign_settings_unassign(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    assert!(store.profile("b").unwrap().is_none());
    store.put_profile("b", "<Replace>1</Replace>", NOW).unwrap();
    store.put_profile("a", "<Replace>2</Replace>", NOW).unwrap();
    store
        .put_profile("b", "<Replace>3</Replace>", NOW + 1)
        .unwrap();
    let b = store.profile("b").unwrap().unwrap();
    assert_eq!(
        (b.syncml.as_str(), b.updated_at, b.revision),
        ("<Replace>3</Replace>", NOW + 1, 2)
    );
    let ids: Vec<String> = store
        .profiles()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec!["a", "b"]);

    let locuris = vec!["./B".to_owned(), "./A".to_owned(), "./A".to_owned()];
    assign(store, "b", e, &locuris, &frags(2));
    let assigned: Vec<String> = store
        .assigned(e)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(assigned, vec!["b"]);
    let s = store.settings(e).unwrap();
    let nodes: Vec<&str> = s.iter().map(|r| r.locuri.as_str()).collect();
    assert_eq!(nodes, vec!["./A", "./B"], "one row per node, ordered");
    assert!(
        s.iter()
            .all(|r| r.state == "pending" && r.attempts == 0 && r.profile_id == "b")
    );
    let origins: Vec<String> = store
        .commands(e, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.origin)
        .collect();
    assert_eq!(
        origins,
        vec!["profile:b@2:install:1", "profile:b@2:install:0"]
    );

    // Assigning again replaces the node state and queues the install again (the
    // earlier one, unsent, is moot).
    assign(store, "b", e, &["./A".to_owned()], &frags(1));
    assert_eq!(store.settings(e).unwrap().len(), 1);
    let pending: Vec<String> = (store.commands(e, 10).unwrap().into_iter())
        .filter(|c| c.state == "pending")
        .map(|c| c.origin)
        .collect();
    assert_eq!(pending, vec!["profile:b@2:install:0"]);

    let mut tx = store.session(e, "1").unwrap();
    assert_eq!(
        tx.profile_syncml("b").unwrap(),
        Some(("<Replace>3</Replace>".to_owned(), 2))
    );
    assert_eq!(tx.profile_syncml("zz").unwrap(), None);
    let failed = SettingUpdate {
        state: "failed",
        status: Some(500),
        original_error: Some("0x87D1FDE8"),
        actual: Some("1"),
        attempt: true,
    };
    tx.set_setting("b", "./A", &failed).unwrap();
    tx.set_setting("b", "./A", &failed).unwrap();
    let again = SettingUpdate {
        attempt: false,
        ..failed.clone()
    };
    tx.set_setting("b", "./A", &again).unwrap();
    let rows = tx.profile_settings("b").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "failed");
    assert_eq!(rows[0].status, Some(500));
    assert_eq!(rows[0].original_error.as_deref(), Some("0x87D1FDE8"));
    assert_eq!(rows[0].actual.as_deref(), Some("1"));
    assert_eq!(rows[0].attempts, 2);
    assert!(tx.profile_settings("a").unwrap().is_empty());
    tx.commit().unwrap();
    assert_eq!(store.settings(e).unwrap()[0].attempts, 2);

    // Unassign: assignment and node state gone, unsent install commands moot, the
    // removal queued.
    store.unassign("b", e, &frags(1), NOW + 2).unwrap();
    assert!(store.assigned(e).unwrap().is_empty());
    assert!(store.settings(e).unwrap().is_empty());
    let cmds = store.commands(e, 10).unwrap();
    assert_eq!(cmds[0].origin, "profile:b:remove");
    assert_eq!(cmds[0].state, "pending");
    assert!(
        cmds[1..]
            .iter()
            .all(|c| c.state == "done" && c.status.is_none()),
        "{cmds:?}"
    );
    assert!(matches!(
        store.unassign("b", e, &[], NOW),
        Err(StoreError::NotFound)
    ));
}

fn dm_nonce_and_inventory(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let mut tx = store.session(e, "1").unwrap();
    tx.set_dm_nonce(&[0, 1, 2, 255]).unwrap();
    tx.merge_inventory(&[
        ("./DevInfo/Man".into(), "Contoso".into()),
        ("./DevDetail/SwV".into(), "10.0".into()),
    ])
    .unwrap();
    tx.commit().unwrap();
    let mut tx = store.session(e, "2").unwrap();
    tx.merge_inventory(&[("./DevDetail/SwV".into(), "11.0".into())])
        .unwrap();
    tx.commit().unwrap();
    let en = store.enrollment_by_device("DEV1").unwrap().unwrap();
    assert_eq!(en.dm_nonce, vec![0, 1, 2, 255]);
    assert_eq!(
        en.inventory,
        json!({ "./DevInfo/Man": "Contoso", "./DevDetail/SwV": "11.0" })
    );
}

fn unenrolled_revokes_every_certificate(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    store.add_certificate(e, &cert("BB"), NOW + 1).unwrap();
    let keep = enroll(store, "DEV2", "CC");
    let mut tx = store.session(e, "1").unwrap();
    tx.unenrolled(NOW + 2).unwrap();
    tx.commit().unwrap();
    assert!(store.enrollment_by_thumbprint("AA").unwrap().is_none());
    assert!(store.enrollment_by_thumbprint("BB").unwrap().is_none());
    let en = store.enrollment_by_device("DEV1").unwrap().unwrap();
    assert_eq!(en.state, "unenrolled");
    let other = store.enrollment_by_thumbprint("CC").unwrap().unwrap();
    assert_eq!((other.id, other.state.as_str()), (keep, "active"));
}

fn two_messages_of_one_enrollment_never_run_at_once(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let ids = store.queue_commands(e, &frags(1), "admin", NOW).unwrap();
    std::thread::scope(|s| {
        let mut first = store.session(e, "1").unwrap();
        assert_eq!(first.pending(10, &[]).unwrap().len(), 1);
        first.mark_sent(ids[0], NOW).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        s.spawn(move || {
            let mut second = store.session(e, "1").unwrap();
            // Runs only once the first committed: sees its work, not the command again.
            let pending = second.pending(10, &[]).unwrap().len();
            tx.send(pending).unwrap();
            second.commit().unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "a second message of the session ran while the first was open"
        );
        first.commit().unwrap();
        let pending = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            pending, 0,
            "the first message's command is sent, not pending"
        );
    });
}

fn a_retried_enrollment_with_the_same_key_joins_the_enrollment(store: &dyn Store) {
    let first = store
        .create_enrollment(
            &NewEnrollment {
                cert: keyed("AA", "K1"),
                ..new_enrollment("DEV1", "AA")
            },
            None,
            NOW,
        )
        .unwrap();
    assert!(first.created && first.replaced.is_empty(), "{first:?}");
    // The same request again (the answer was lost, or another instance got it): a new
    // certificate for the same key, fresh DMAcc credentials generated by the caller.
    let retry = NewEnrollment {
        dm_username: "other-user",
        dm_password: "other-pass",
        dm_nonce: b"other-nonce",
        cert: keyed("BB", "K1"),
        ..new_enrollment("DEV1", "BB")
    };
    let again = store.create_enrollment(&retry, None, NOW + 1).unwrap();
    assert!(!again.created, "{again:?}");
    assert!(again.replaced.is_empty());
    let e = &again.enrollment;
    assert_eq!(e.id, first.enrollment.id);
    assert_eq!(e.state, "active");
    assert_eq!(
        (
            e.dm_username.as_str(),
            e.dm_password.as_str(),
            &e.dm_nonce[..]
        ),
        ("dmuser", "dmpass", &b"nonce-1"[..]),
        "the stored credentials, for the document to repeat"
    );
    assert_eq!(e.certificate_thumbprint.as_deref(), Some("BB"));
    // Both certificates open the one enrollment.
    for t in ["AA", "BB"] {
        assert_eq!(store.enrollment_by_thumbprint(t).unwrap().unwrap().id, e.id);
    }
    assert_eq!(store.enrollments().unwrap().len(), 1);
    // Same key on another DeviceID is not a retry.
    let other = store
        .create_enrollment(
            &NewEnrollment {
                cert: keyed("CC", "K1"),
                ..new_enrollment("DEV2", "CC")
            },
            None,
            NOW,
        )
        .unwrap();
    assert!(other.created);
    assert_ne!(other.enrollment.id, e.id);
}

fn a_retry_may_present_the_token_its_enrollment_used(store: &dyn Store) {
    store.create_token("T", NOW + 60, NOW).unwrap();
    let with_key = |tp: &'static str, key: &'static str| NewEnrollment {
        cert: keyed(tp, key),
        ..new_enrollment("DEV1", tp)
    };
    let first = store
        .create_enrollment(&with_key("AA", "K1"), Some("T"), NOW)
        .unwrap();
    assert!(first.created);
    assert_eq!(store.token_used_by("T").unwrap(), Some(first.enrollment.id));
    assert_eq!(store.token_used_by("NOPE").unwrap(), None);
    // The same key: the used token is accepted again, even once expired.
    let again = store
        .create_enrollment(&with_key("BB", "K1"), Some("T"), NOW + 120)
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.enrollment.id, first.enrollment.id);
    // Another key with the spent token: refused, nothing stored.
    let r = store.create_enrollment(&with_key("CC", "K2"), Some("T"), NOW + 1);
    assert!(matches!(r, Err(StoreError::TokenNotValid)), "{r:?}");
    assert!(store.enrollment_by_thumbprint("CC").unwrap().is_none());
    assert_eq!(store.enrollments().unwrap().len(), 1);
    assert_eq!(
        store.enrollment_by_device("DEV1").unwrap().unwrap().state,
        "active",
        "a refused request replaces nothing"
    );
}

fn a_new_key_replaces_the_active_enrollment(store: &dyn Store) {
    let first = enroll(store, "DEV1", "AA");
    store.add_certificate(first, &cert("AB"), NOW).unwrap();
    let keep = enroll(store, "DEV2", "CC");
    let second = store
        .create_enrollment(&new_enrollment("DEV1", "BB"), None, NOW + 1)
        .unwrap();
    assert!(second.created);
    assert_eq!(second.replaced, vec![first]);
    let old = store
        .enrollments()
        .unwrap()
        .into_iter()
        .find(|e| e.id == first)
        .unwrap();
    assert_eq!(old.state, "replaced");
    // The replaced enrollment's certificates open nothing.
    assert!(store.enrollment_by_thumbprint("AA").unwrap().is_none());
    assert!(store.enrollment_by_thumbprint("AB").unwrap().is_none());
    let now = store.enrollment_by_device("DEV1").unwrap().unwrap();
    assert_eq!(
        (now.id, now.state.as_str()),
        (second.enrollment.id, "active")
    );
    let other = store.enrollment_by_thumbprint("CC").unwrap().unwrap();
    assert_eq!((other.id, other.state.as_str()), (keep, "active"));
    // The old key again is a new enrollment too (its enrollment is no longer active).
    let third = store
        .create_enrollment(&new_enrollment("DEV1", "AC"), None, NOW + 2)
        .unwrap();
    assert!(third.created);
    assert_eq!(third.replaced, vec![second.enrollment.id]);
}

fn concurrent_enrollments_of_one_device_and_key_give_one_enrollment(store: &dyn Store) {
    for round in 0..5 {
        let dev = format!("DEV{round}");
        let key = format!("K{round}");
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (dev, key) = (&dev, &key);
                    s.spawn(move || {
                        let tp = format!("TP{round}-{i}");
                        let e = NewEnrollment {
                            dm_username: if i == 0 { "u0" } else { "u1" },
                            cert: keyed(&tp, key),
                            ..new_enrollment(dev, &tp)
                        };
                        store.create_enrollment(&e, None, NOW).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|r| r.created).count(),
            1,
            "{results:?}"
        );
        assert_eq!(results[0].enrollment.id, results[1].enrollment.id);
        assert_eq!(
            results[0].enrollment.dm_username, results[1].enrollment.dm_username,
            "both answers carry the same credentials"
        );
        assert!(results.iter().all(|r| r.replaced.is_empty()));
        let of_device: Vec<_> = store
            .enrollments()
            .unwrap()
            .into_iter()
            .filter(|e| e.device_id == dev)
            .collect();
        assert_eq!(of_device.len(), 1, "{of_device:?}");
        for i in 0..2 {
            let e = store
                .enrollment_by_thumbprint(&format!("TP{round}-{i}"))
                .unwrap()
                .unwrap();
            assert_eq!(e.id, of_device[0].id);
        }
    }
}

fn first_commands_are_queued_once(store: &dyn Store) {
    let first = [("inventory", "<Get><CmdID>1</CmdID></Get>")];
    let e = NewEnrollment {
        first_commands: &first,
        cert: keyed("AA", "K"),
        ..new_enrollment("DEV1", "AA")
    };
    let id = store
        .create_enrollment(&e, None, NOW)
        .unwrap()
        .enrollment
        .id;
    let retry = NewEnrollment {
        cert: keyed("BB", "K"),
        ..e.clone()
    };
    assert!(!store.create_enrollment(&retry, None, NOW).unwrap().created);
    let cmds = store.commands(id, 10).unwrap();
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert_eq!((cmds[0].origin.as_str(), cmds[0].syncml.as_str()), first[0]);
}

fn prune_removes_old_outcomes_and_idle_snapshots_only(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let ids = store.queue_commands(e, &frags(5), "admin", NOW).unwrap();
    // ids[0]: done long ago; ids[1]: done recently; ids[2]: sent long ago, never
    // answered; ids[3]: pending since long ago; ids[4]: done at the cutoff exactly.
    let mut tx = store.session(e, "old").unwrap();
    for &id in &ids[..3] {
        tx.mark_sent(id, NOW).unwrap();
    }
    tx.record_outcome(ids[0], Some(200), None, None, NOW + 10)
        .unwrap();
    tx.record_outcome(ids[1], Some(200), None, None, NOW + 1000)
        .unwrap();
    tx.record_outcome(ids[4], Some(200), None, None, NOW + 500)
        .unwrap();
    tx.save(b"old", NOW + 10).unwrap();
    tx.commit().unwrap();
    let mut tx = store.session(e, "new").unwrap();
    tx.save(b"new", NOW + 1000).unwrap();
    tx.commit().unwrap();

    let report = store.prune(NOW + 500).unwrap();
    assert_eq!(
        report,
        PruneReport {
            commands: 1,
            sessions: 1
        }
    );
    assert!(store.command(ids[0]).unwrap().is_none(), "old done: pruned");
    for &kept in &ids[1..] {
        assert!(store.command(kept).unwrap().is_some(), "{kept} kept");
    }
    assert_eq!(store.command(ids[2]).unwrap().unwrap().state, "sent");
    assert_eq!(store.command(ids[3]).unwrap().unwrap().state, "pending");
    assert_eq!(store.session(e, "old").unwrap().snapshot().unwrap(), None);
    assert_eq!(
        store
            .session(e, "new")
            .unwrap()
            .snapshot()
            .unwrap()
            .as_deref(),
        Some(&b"new"[..])
    );
    // Again: nothing more to prune.
    assert_eq!(store.prune(NOW + 500).unwrap(), PruneReport::default());
    // The enrollment itself is never pruned.
    assert!(store.enrollment_by_thumbprint("AA").unwrap().is_some());
}

fn statements_are_counted(store: &dyn Store) {
    let before = store.statements();
    store.token_usable("T", NOW).unwrap();
    assert_eq!(store.statements(), before + 1, "one SELECT");
    let before = store.statements();
    let e = enroll(store, "DEV1", "AA");
    let enroll_n = store.statements() - before;
    // BEGIN, the lookup, INSERT enrollment, UPDATE others, INSERT certificate, SELECT,
    // COMMIT (and the advisory lock on PostgreSQL).
    assert!((7..=8).contains(&enroll_n), "{enroll_n} statements");
    let before = store.statements();
    let mut tx = store.session(e, "1").unwrap();
    tx.save(b"x", NOW).unwrap();
    tx.commit().unwrap();
    let n = store.statements() - before;
    // BEGIN, (the row lock on PostgreSQL), the snapshot upsert, last_seen_at, COMMIT.
    assert!((4..=5).contains(&n), "{n} statements");
    assert!(matches!(store.kind(), "sqlite" | "postgres"));
    assert!(
        store.parallelism() >= 1,
        "the server runs at least one blocking task"
    );
}

/// `open_message` by thumbprint, which must find an enrollment.
fn opened<'s>(
    store: &'s dyn Store,
    thumbprint: &str,
    session: &str,
    now: i64,
) -> OpenedMessage<'s> {
    store
        .open_message(MessageKey::Thumbprint(thumbprint), session, now)
        .unwrap()
        .expect("enrollment found")
}

fn open_message_identifies_locks_and_reads_the_snapshot(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    store.add_certificate(e, &cert("AB"), NOW).unwrap();
    let other = enroll(store, "DEV2", "BB");
    assert!(
        store
            .open_message(MessageKey::Thumbprint("ZZ"), "1", NOW)
            .unwrap()
            .is_none(),
        "unknown certificate"
    );
    assert!(
        store
            .open_message(MessageKey::Device("NOPE"), "1", NOW)
            .unwrap()
            .is_none()
    );

    // Found by either certificate, with what enrollment_by_thumbprint gives, last_seen_at
    // set by the open.
    let OpenedMessage { enrollment, mut tx } = opened(store, "AB", "1", NOW + 5);
    assert_eq!(enrollment.id, e);
    assert_eq!(enrollment.device_id, "DEV1");
    assert_eq!(enrollment.dm_nonce, b"nonce-1");
    assert_eq!(enrollment.dm_username, "dmuser");
    assert_eq!(enrollment.last_seen_at, Some(NOW + 5));
    assert_eq!(enrollment.certificate_thumbprint.as_deref(), Some("AB"));
    assert_eq!(tx.snapshot().unwrap(), None);
    tx.save(b"one", NOW + 5).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        store
            .enrollment_by_device("DEV1")
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(NOW + 5)
    );

    // The snapshot of the session named, read once with the open, again after.
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "1", NOW + 6);
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"one"[..]));
    drop(tx);
    // Dropped without commit: last_seen_at as it was.
    assert_eq!(
        store
            .enrollment_by_device("DEV1")
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(NOW + 5)
    );
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "2", NOW + 6);
    assert_eq!(tx.snapshot().unwrap(), None, "keyed by SessionID");
    drop(tx);
    let OpenedMessage { enrollment, mut tx } = store
        .open_message(MessageKey::Device("DEV2"), "1", NOW + 7)
        .unwrap()
        .unwrap();
    assert_eq!(enrollment.id, other);
    assert_eq!(tx.snapshot().unwrap(), None, "keyed by enrollment");
    drop(tx);

    // Revoked certificates open nothing; by DeviceID the enrollment is still found, in
    // its state.
    let mut tx = opened(store, "AA", "3", NOW + 8).tx;
    tx.unenrolled(NOW + 8).unwrap();
    tx.commit().unwrap();
    for t in ["AA", "AB"] {
        assert!(
            store
                .open_message(MessageKey::Thumbprint(t), "4", NOW + 9)
                .unwrap()
                .is_none()
        );
    }
    let o = store
        .open_message(MessageKey::Device("DEV1"), "4", NOW + 9)
        .unwrap()
        .unwrap();
    assert_eq!(
        (o.enrollment.id, o.enrollment.state.as_str()),
        (e, "unenrolled")
    );
}

fn open_message_skips_only_statements_that_find_nothing(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    // An idle message: BEGIN, the open (and on PostgreSQL the snapshot read after the
    // lock), the snapshot upsert, COMMIT; pending and requeue find nothing to do.
    let before = store.statements();
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "1", NOW);
    assert_eq!(tx.snapshot().unwrap(), None);
    assert_eq!(tx.requeue_abandoned(NOW - 120).unwrap(), 0);
    assert!(tx.pending(16, &[]).unwrap().is_empty());
    tx.save(b"s1", NOW).unwrap();
    tx.commit().unwrap();
    let n = store.statements() - before;
    let idle = if store.kind() == "postgres" { 5 } else { 4 };
    assert_eq!(n, idle, "statements of an idle message");
    assert_eq!(
        store
            .enrollment_by_device("DEV1")
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(NOW)
    );

    // Pending commands are found, and once every one is taken none is looked for again
    // until more are queued in the transaction.
    let ids = store.queue_commands(e, &frags(3), "admin", NOW).unwrap();
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "2", NOW + 1);
    let p: Vec<i64> = tx.pending(2, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(p, ids[..2], "oldest first");
    tx.mark_sent(ids[0], NOW + 1).unwrap();
    tx.mark_sent(ids[1], NOW + 1).unwrap();
    let p: Vec<i64> = tx.pending(2, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(p, ids[2..], "a full read says nothing, a short one is all");
    let p: Vec<i64> = tx.pending(2, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(p, ids[2..], "still pending until taken");
    tx.record_outcome(ids[2], Some(200), None, None, NOW + 1)
        .unwrap();
    let before = store.statements();
    assert!(tx.pending(2, &[]).unwrap().is_empty());
    assert_eq!(store.statements(), before, "all taken: not looked for");
    let more = tx.queue(&frags(1), "verify", NOW + 1).unwrap();
    let p: Vec<i64> = tx.pending(2, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(p, more, "queued in the transaction: found");
    tx.save(b"s2", NOW + 1).unwrap();
    tx.commit().unwrap();

    // Commands queued before the open are seen by it.
    let later = store
        .queue_commands(e, &frags(1), "admin", NOW + 2)
        .unwrap();
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "3", NOW + 2);
    let p: Vec<i64> = tx.pending(16, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(p, [more[0], later[0]]);
}

fn open_message_requeues_abandoned_commands(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let ids = store.queue_commands(e, &frags(3), "admin", NOW).unwrap();
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "1", NOW);
    assert_eq!(tx.requeue_abandoned(NOW + 1).unwrap(), 0);
    tx.mark_sent(ids[0], NOW).unwrap();
    tx.mark_sent(ids[1], NOW).unwrap();
    tx.record_outcome(ids[1], Some(200), None, None, NOW)
        .unwrap();
    tx.save(b"session 1", NOW).unwrap();
    tx.commit().unwrap();

    // A new session while session 1 may still run: it keeps its command and snapshot.
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "2", NOW);
    assert_eq!(tx.requeue_abandoned(NOW).unwrap(), 0);
    let pending: Vec<i64> = tx.pending(10, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(
        pending,
        vec![ids[2]],
        "the live session's command is not offered"
    );
    tx.save(b"session 2", NOW).unwrap();
    tx.commit().unwrap();
    let mut tx = opened(store, "AA", "1", NOW).tx;
    assert_eq!(tx.snapshot().unwrap().as_deref(), Some(&b"session 1"[..]));
    drop(tx);

    // Session 1 idle since before the cutoff: its unanswered command is pending again and
    // offered in the same transaction, its snapshot gone (session 2's too: same age).
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "3", NOW + 1);
    assert_eq!(tx.requeue_abandoned(NOW + 1).unwrap(), 1);
    let pending: Vec<i64> = tx.pending(10, &[]).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(pending, vec![ids[0], ids[2]]);
    tx.commit().unwrap();
    let mut tx = opened(store, "AA", "1", NOW + 1).tx;
    assert_eq!(
        tx.snapshot().unwrap(),
        None,
        "abandoned session's snapshot dropped"
    );
}

fn two_opened_messages_never_run_at_once_and_the_second_sees_the_first(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let ids = store.queue_commands(e, &frags(1), "admin", NOW).unwrap();
    std::thread::scope(|s| {
        let OpenedMessage { mut tx, .. } = opened(store, "AA", "1", NOW);
        assert_eq!(tx.snapshot().unwrap(), None);
        assert_eq!(tx.pending(10, &[]).unwrap().len(), 1);
        tx.mark_sent(ids[0], NOW).unwrap();
        tx.save(b"message 1", NOW).unwrap();
        let (done, rx) = std::sync::mpsc::channel();
        s.spawn(move || {
            // The same session's next message (another instance): runs once the first
            // committed, and sees its snapshot and its sent command.
            let OpenedMessage { mut tx, enrollment } = opened(store, "AA", "1", NOW + 1);
            let seen = (
                tx.snapshot().unwrap(),
                tx.pending(10, &[]).unwrap().len(),
                enrollment.last_seen_at,
            );
            tx.commit().unwrap();
            done.send(seen).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "a second message of the session ran while the first was open"
        );
        tx.commit().unwrap();
        let (snapshot, pending, last_seen) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(snapshot.as_deref(), Some(&b"message 1"[..]));
        assert_eq!(
            pending, 0,
            "the first message's command is sent, not pending"
        );
        assert_eq!(last_seen, Some(NOW + 1));
    });
}

/// An outcome for `record_outcomes`.
fn answered<'a>(id: i64, status: i64, results: Option<&'a serde_json::Value>) -> NewOutcome<'a> {
    NewOutcome {
        id,
        status: Some(status),
        original_error: None,
        results,
    }
}

fn record_outcomes_records_each_once_in_one_statement(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    let other = enroll(store, "DEV2", "BB");
    let ids = store
        .queue_commands(e, &frags(3), "inventory", NOW)
        .unwrap();
    let theirs = store
        .queue_commands(other, &frags(1), "admin", NOW)
        .unwrap();
    let results = json!([{"locuri": "./DevDetail/SwV", "format": "chr", "data": "1"}]);
    let mut tx = opened(store, "AA", "1", NOW).tx;
    let before = store.statements();
    tx.mark_sent_all(&ids, NOW).unwrap();
    assert_eq!(store.statements() - before, 1, "one statement");
    assert!(tx.pending(16, &[]).unwrap().is_empty(), "all sent");
    tx.mark_sent_all(&[], NOW).unwrap();

    let failed = NewOutcome {
        original_error: Some("0x86000002"),
        ..answered(ids[0], 404, None)
    };
    let before = store.statements();
    let recorded = tx
        .record_outcomes(
            &[
                answered(ids[2], 200, Some(&results)),
                failed,
                answered(theirs[0], 200, None),
                answered(ids[2], 500, None),
            ],
            NOW + 1,
        )
        .unwrap();
    assert_eq!(store.statements() - before, 1, "one statement");
    let got: Vec<(i64, &str)> = recorded.iter().map(|r| (r.id, r.origin.as_str())).collect();
    assert_eq!(
        got,
        [(ids[2], "inventory"), (ids[0], "inventory")],
        "in the order given, another enrollment's left alone"
    );
    assert_eq!(recorded[0].fragment, frags(3)[2]);
    assert!(
        tx.record_outcomes(&[answered(ids[0], 200, None)], NOW + 2)
            .unwrap()
            .is_empty(),
        "recorded once"
    );
    assert!(tx.record_outcomes(&[], NOW).unwrap().is_empty());
    tx.commit().unwrap();
    let c = store.command(ids[2]).unwrap().unwrap();
    assert_eq!(
        (c.state.as_str(), c.status, c.results),
        ("done", Some(200), Some(results)),
        "the first of an id given twice"
    );
    let c = store.command(ids[0]).unwrap().unwrap();
    assert_eq!(
        (c.status, c.original_error.as_deref(), c.results),
        (Some(404), Some("0x86000002"), None)
    );
    assert_eq!(store.command(ids[1]).unwrap().unwrap().state, "sent");
    assert_eq!(store.command(theirs[0]).unwrap().unwrap().state, "pending");
    // The same in a transaction of `session`.
    let ids = store.queue_commands(e, &frags(1), "admin", NOW).unwrap();
    let mut tx = store.session(e, "2").unwrap();
    let recorded = tx
        .record_outcomes(&[answered(ids[0], 200, None)], NOW)
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].origin, "admin");
}

// ---------------------------------------------------------------- migrations

const SQLITE_V1: &str = include_str!("../../reference-store/migrations/sqlite/0001_initial.sql");
const POSTGRES_V1: &str =
    include_str!("../../reference-store/migrations/postgres/0001_initial.sql");

/// A database made by a server of schema version 1, with an enrollment in it, is
/// upgraded at open: the latest version, the old rows readable, the new column usable.
#[test]
fn sqlite_a_version_1_database_is_upgraded_at_open() {
    let dir = common::tempdir();
    let path = dir.path().join("winmdm.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(SQLITE_V1).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);
             INSERT INTO enrollments (device_id, auth, dm_username, dm_password, enrolled_at)
               VALUES ('OLD', 'onpremise', 'u', 'p', 1);
             INSERT INTO certificates (thumbprint, enrollment_id, serial, not_after, issued_at)
               VALUES ('T-OLD', 1, '01', 2000000000, 1);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    upgraded(&store);
    drop(store);
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS);
    // Version 3: the sessions of an enrollment by age, which the message's open reads
    // through the index alone (not the session rows with their snapshots).
    let plan: String = c
        .query_row(
            "EXPLAIN QUERY PLAN SELECT updated_at FROM sessions WHERE enrollment_id = 1
               AND session_id <> 'x' ORDER BY updated_at LIMIT 1",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(
        plan.contains("COVERING INDEX sessions_enrollment_updated"),
        "{plan}"
    );
    // Version 6: an enrollment's newest certificate without sorting its certificates.
    let plan: Vec<String> = c
        .prepare(
            "EXPLAIN QUERY PLAN SELECT thumbprint FROM certificates WHERE enrollment_id = 1
               ORDER BY issued_at DESC, rowid DESC LIMIT 1",
        )
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("INDEX certificates_newest"))
            && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
        "{plan:?}"
    );
    // Opened again: nothing re-applied.
    drop(SqliteStore::open(&path).unwrap());
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, MIGRATIONS);
}

#[test]
fn postgres_a_version_1_database_is_upgraded_at_open() {
    let Some(db) = PgDatabase::create("postgres_a_version_1_database_is_upgraded_at_open") else {
        return;
    };
    off_runtime(|| {
        let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
        c.batch_execute(POSTGRES_V1).unwrap();
        c.batch_execute(
            "CREATE TABLE schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version VALUES (1);
             INSERT INTO enrollments (device_id, auth, dm_username, dm_password, enrolled_at)
               VALUES ('OLD', 'onpremise', 'u', 'p', 1);
             INSERT INTO certificates (thumbprint, enrollment_id, serial, not_after, issued_at)
               VALUES ('T-OLD', 1, '01', 2000000000, 1);",
        )
        .unwrap();
    });
    let store = PgStore::open(&db.url).unwrap();
    upgraded(&store);
    assert_eq!(
        db.query_i64("SELECT MAX(version) FROM schema_version"),
        MIGRATIONS
    );
    // Version 6: the newest enrollment of a device through an index, also in the generic
    // plan of a prepared statement (before: a backward scan of every enrollment). The
    // tables hold a row or two here, so sequential scans are ruled out.
    let plan = db.explain(
        "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
         PREPARE newest(text) AS SELECT id FROM enrollments WHERE device_id = $1 \
           ORDER BY id DESC LIMIT 1",
        "EXPLAIN EXECUTE newest('OLD')",
    );
    assert!(plan.contains("enrollments_device_newest"), "{plan}");
    let plan = db.explain(
        "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
         PREPARE cert(bigint) AS SELECT thumbprint FROM certificates WHERE enrollment_id = $1 \
           ORDER BY issued_at DESC, seq DESC LIMIT 1",
        "EXPLAIN EXECUTE cert(1)",
    );
    assert!(
        plan.contains("certificates_newest") && !plan.contains("Sort"),
        "{plan}"
    );
    drop(store);
    drop(PgStore::open(&db.url).unwrap());
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_version"),
        MIGRATIONS
    );
}

/// The checks after an upgrade from version 1 (an enrollment `OLD` with certificate
/// `T-OLD`, no key hash).
fn upgraded(store: &dyn Store) {
    let old = store.enrollment_by_thumbprint("T-OLD").unwrap().unwrap();
    assert_eq!(
        (old.device_id.as_str(), old.state.as_str()),
        ("OLD", "active")
    );
    // A certificate without a key hash never matches a retry: the device enrolling
    // again replaces the old enrollment.
    let again = store
        .create_enrollment(&new_enrollment("OLD", "T-NEW"), None, NOW)
        .unwrap();
    assert!(again.created);
    assert_eq!(again.replaced, vec![old.id]);
    let retry = store
        .create_enrollment(&new_enrollment("OLD", "T-NEW2"), None, NOW)
        .unwrap();
    assert!(
        retry.created,
        "a different key (the helper's keys follow thumbprints)"
    );
    let same = store
        .create_enrollment(
            &NewEnrollment {
                cert: keyed("T-NEW3", "T-NEW2"),
                ..new_enrollment("OLD", "T-NEW3")
            },
            None,
            NOW,
        )
        .unwrap();
    assert!(
        !same.created,
        "the key column is stored and matched after the upgrade"
    );
}

// ---------------------------------------------------------------- postgres only

/// Several instances starting at once on one empty database: the advisory lock lets
/// one migrate, the others then find the schema (no "relation already exists").
#[test]
fn postgres_instances_starting_at_once_migrate_once() {
    let Some(db) = PgDatabase::create("postgres_instances_starting_at_once_migrate_once") else {
        return;
    };
    let stores: Vec<PgStore> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| PgStore::open(&db.url))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("open"))
            .collect()
    });
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_version"),
        MIGRATIONS
    );
    let id = enroll(&stores[0], "DEV1", "AA");
    assert_eq!(
        stores[3]
            .enrollment_by_thumbprint("AA")
            .unwrap()
            .unwrap()
            .id,
        id
    );
    drop(stores);
    // Opened again later: nothing re-applied.
    let again = PgStore::open(&db.url).unwrap();
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM schema_version"),
        MIGRATIONS
    );
    assert_eq!(again.enrollments().unwrap().len(), 1);
}

/// Two instances (two stores on one database): messages of different devices run at
/// once; pending commands locked by one session are skipped by another.
#[test]
fn postgres_sessions_of_different_devices_run_at_once() {
    let Some(db) = PgDatabase::create("postgres_sessions_of_different_devices_run_at_once") else {
        return;
    };
    let a = PgStore::open(&db.url).unwrap();
    let b = PgStore::open(&db.url).unwrap();
    let e1 = enroll(&a, "DEV1", "AA");
    let e2 = enroll(&a, "DEV2", "BB");
    a.queue_commands(e1, &frags(2), "admin", NOW).unwrap();
    a.queue_commands(e2, &frags(1), "admin", NOW).unwrap();
    let mut t1 = a.session(e1, "1").unwrap();
    assert_eq!(t1.pending(10, &[]).unwrap().len(), 2);
    // Another instance, another device: not blocked by the first session.
    let done = std::thread::scope(|s| {
        s.spawn(|| {
            let mut t2 = b.session(e2, "1").unwrap();
            let n = t2.pending(10, &[]).unwrap().len();
            t2.commit().unwrap();
            n
        })
        .join()
        .unwrap()
    });
    assert_eq!(done, 1);
    t1.commit().unwrap();
    // Rows locked by an open session's `pending` are skipped, not waited for.
    let mut t1 = a.session(e1, "1").unwrap();
    assert_eq!(t1.pending(10, &[]).unwrap().len(), 2);
    let skipped = std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
            let mut tx = c.transaction().unwrap();
            let n = tx
                .query(
                    "SELECT id FROM commands WHERE enrollment_id = $1 AND state = 'pending'
                     FOR UPDATE SKIP LOCKED",
                    &[&e1],
                )
                .unwrap()
                .len();
            tx.rollback().unwrap();
            n
        })
        .join()
        .unwrap()
    });
    assert_eq!(skipped, 0);
    drop(t1);
}

// ---------------------------------------------------------------- end to end

/// The real server binary on a PostgreSQL database: a device enrolls, syncs, answers a
/// queued command; the rows are in PostgreSQL, no SQLite file is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_e2e_a_device_enrolls_and_syncs() {
    let Some(db) = PgDatabase::create("postgres_e2e_a_device_enrolls_and_syncs") else {
        return;
    };
    let data = common::tempdir();
    let server = common::Server::start(data.path(), common::free_port(), &["--db", &db.url]);
    let dev_dir = common::tempdir();
    let opts = winmdm_device_emulator::EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        winmdm_device_emulator::Credential::OnPremise {
            upn: "user@example.com".into(),
            password: server.secret(),
        },
    );
    let mut device = winmdm_device_emulator::Device::enroll(dev_dir.path(), opts)
        .await
        .expect("enroll");
    let first = device.sync().await.expect("first sync");
    assert!(first.http_statuses.iter().all(|s| *s == 200), "{first:?}");

    let uri = "./DevDetail/SwV";
    let (s, ids) = server
        .admin(
            "POST",
            &format!("/api/v1/devices/{}/commands", device.device_id()),
            Some(json!({ "syncml": format!("<Get><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target></Item></Get>") })),
        )
        .await;
    assert_eq!(s, 201, "{ids}");
    let id = ids["command_ids"][0].as_i64().unwrap();
    let second = device.sync().await.expect("second sync");
    assert!(second.http_statuses.iter().all(|s| *s == 200), "{second:?}");
    let (s, cmd) = server
        .admin("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(cmd["state"], "done", "{cmd}");
    assert_eq!(cmd["status"], 200, "{cmd}");
    assert!(cmd["results"][0]["data"].is_string(), "{cmd}");
    let (s, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(dev["state"], "active");
    assert!(dev["last_seen_at"].as_i64().is_some(), "{dev}");

    assert_eq!(db.query_i64("SELECT COUNT(*) FROM enrollments"), 1);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM commands WHERE state = 'done'"),
        db.query_i64("SELECT COUNT(*) FROM commands")
    );
    assert!(db.query_i64("SELECT COUNT(*) FROM sessions") >= 1);
    assert!(
        !data.path().join("winmdm.db").exists(),
        "no SQLite file with --db"
    );
    drop(server);
}

/// `peek_message` by thumbprint: whether the message of `session` is quiet.
fn quiet(store: &dyn Store, session: &str, idle_before: i64, now: i64) -> bool {
    quiet_at(store, session, idle_before, now, now)
}

/// [`quiet`] with a re-verification cut-off (`verified_before`).
fn quiet_at(store: &dyn Store, session: &str, idle_before: i64, verified: i64, now: i64) -> bool {
    let p = store
        .peek_message(
            MessageKey::Thumbprint("AA"),
            session,
            idle_before,
            verified,
            now,
        )
        .unwrap()
        .expect("enrollment found");
    assert_eq!(p.enrollment.last_seen_at, Some(now), "set by the peek");
    p.quiet
}

fn peek_message_says_quiet_only_when_nothing_is_stored_to_do(store: &dyn Store) {
    let e = enroll(store, "DEV1", "AA");
    enroll(store, "DEV2", "BB");
    for key in [MessageKey::Thumbprint("ZZ"), MessageKey::Device("NOPE")] {
        assert!(
            store
                .peek_message(key, "1", NOW, NOW, NOW)
                .unwrap()
                .is_none()
        );
    }

    // Nothing stored: quiet, in one statement (no transaction), last_seen_at committed.
    let before = store.statements();
    assert!(quiet(store, "1", NOW - 120, NOW));
    assert_eq!(store.statements() - before, 1, "one statement");
    let seen = store.enrollment_by_device("DEV1").unwrap().unwrap();
    assert_eq!(seen.last_seen_at, Some(NOW));
    let by_device = store
        .peek_message(MessageKey::Device("DEV1"), "1", NOW - 120, NOW, NOW + 1)
        .unwrap()
        .unwrap();
    assert_eq!((by_device.enrollment.id, by_device.quiet), (e, true));

    // A pending command (for this enrollment only) makes it not quiet.
    let ids = store.queue_commands(e, &frags(1), "admin", NOW).unwrap();
    assert!(!quiet(store, "1", NOW - 120, NOW + 2));
    let other = store
        .peek_message(MessageKey::Thumbprint("BB"), "1", NOW - 120, NOW, NOW + 2)
        .unwrap()
        .unwrap();
    assert!(
        other.quiet,
        "another enrollment's command is not this one's"
    );

    // Sent in session 1 and unanswered: not quiet for another session (the requeue has
    // something to look at), nor for session 1 (its snapshot is stored).
    let OpenedMessage { mut tx, .. } = opened(store, "AA", "1", NOW + 3);
    tx.mark_sent(ids[0], NOW + 3).unwrap();
    tx.save(b"session 1", NOW + 3).unwrap();
    tx.commit().unwrap();
    assert!(!quiet(store, "2", NOW - 120, NOW + 4));
    assert!(!quiet(store, "1", NOW - 120, NOW + 4));

    // Answered: session 1's snapshot still makes session 1 not quiet; another session is
    // quiet while that snapshot is younger than idle_before, not once it is older.
    let mut tx = opened(store, "AA", "1", NOW + 5).tx;
    tx.record_outcome(ids[0], Some(200), None, None, NOW + 5)
        .unwrap();
    tx.save(b"session 1 done", NOW + 5).unwrap();
    tx.commit().unwrap();
    assert!(!quiet(store, "1", NOW - 120, NOW + 6));
    assert!(quiet(store, "2", NOW + 5, NOW + 6));
    assert!(
        !quiet(store, "2", NOW + 6, NOW + 6),
        "an old snapshot to drop"
    );

    // An assignment verified at or before the cut-off makes it not quiet (a
    // re-verification is due); one being installed (never verified) does not.
    store.put_profile("p", "v1", NOW).unwrap();
    assign(store, "p", e, &["./A".to_owned()], &[]);
    assert!(
        quiet_at(store, "2", NOW + 5, NOW + 6, NOW + 6),
        "not verified yet"
    );
    let mut tx = store.session(e, "x").unwrap();
    tx.set_verified("p", Some(NOW + 6)).unwrap();
    tx.commit().unwrap();
    assert!(quiet_at(store, "2", NOW + 5, NOW + 5, NOW + 7));
    let before = store.statements();
    assert!(!quiet_at(store, "2", NOW + 5, NOW + 6, NOW + 7), "due");
    assert_eq!(store.statements() - before, 1, "still one statement");
    let other = (store.peek_message(MessageKey::Thumbprint("BB"), "1", NOW, NOW + 6, NOW + 7))
        .unwrap()
        .unwrap();
    assert!(
        other.quiet,
        "another enrollment's assignment is not this one's"
    );

    // Revoked certificates peek at nothing.
    let mut tx = opened(store, "AA", "3", NOW + 7).tx;
    tx.unenrolled(NOW + 7).unwrap();
    tx.commit().unwrap();
    assert!(
        store
            .peek_message(MessageKey::Thumbprint("AA"), "4", NOW, NOW, NOW + 8)
            .unwrap()
            .is_none()
    );
}

/// The quiet message's transaction: the state a quiet peek found, and nothing more.
#[test]
fn a_quiet_tx_reads_nothing_and_refuses_every_write() {
    let mut tx = QuietTx::default();
    assert_eq!(tx.snapshot().unwrap(), None);
    assert!(tx.pending(16, &[]).unwrap().is_empty());
    assert_eq!(tx.requeue_abandoned(NOW).unwrap(), 0);
    tx.mark_sent_all(&[], NOW).unwrap();
    assert!(tx.record_outcomes(&[], NOW).unwrap().is_empty());
    assert!(
        Box::new(QuietTx::default()).commit().is_ok(),
        "nothing asked"
    );
    let needs = |r: Result<(), StoreError>| {
        assert!(matches!(r, Err(StoreError::NeedsTransaction)), "{r:?}")
    };
    needs(tx.save(b"s", NOW));
    needs(tx.mark_sent(1, NOW));
    needs(tx.merge_inventory(&[("./DevInfo/Lang".into(), "en-US".into())]));
    needs(tx.unenrolled(NOW));
    needs(tx.set_dm_nonce(b"n"));
    needs(tx.record_outcome(1, Some(200), None, None, NOW).map(drop));
    needs(tx.queue(&frags(1), "verify", NOW).map(drop));
    needs(tx.mark_sent_all(&[1], NOW));
    needs(tx.record_outcomes(&[answered(1, 200, None)], NOW).map(drop));
    needs(tx.profile_syncml("p").map(drop));
    needs(Box::new(tx).commit());
}

/// The states of `e`'s commands of one origin, newest first.
fn states_of(store: &dyn Store, e: i64, origin: &str) -> Vec<String> {
    (store.commands(e, 100).unwrap().into_iter())
        .filter(|c| c.origin == origin)
        .map(|c| c.state)
        .collect()
}

fn profile_revisions_and_a_redeploy_in_one_transaction_per_device(store: &dyn Store) {
    let (e, other, gone) = (
        enroll(store, "DEV1", "AA"),
        enroll(store, "DEV2", "BB"),
        enroll(store, "DEV3", "CC"),
    );
    // The revision counts changes of the text, not PUTs.
    assert_eq!(store.put_profile("p_1", "v1", NOW).unwrap().revision, 1);
    let same = store.put_profile("p_1", "v1", NOW + 1).unwrap();
    assert_eq!((same.revision, same.updated_at), (1, NOW + 1));
    // `_` is a LIKE wildcard: the commands of `pX1` are not `p_1`'s.
    store.put_profile("pX1", "x", NOW).unwrap();
    let ab = ["./A".to_owned(), "./B".to_owned()];
    for id in [e, other, gone] {
        assign(store, "p_1", id, &ab, &frags(2));
    }
    assign(store, "pX1", e, &["./X".to_owned()], &frags(1));
    let mut tx = opened(store, "CC", "1", NOW).tx;
    tx.unenrolled(NOW).unwrap();
    tx.commit().unwrap();
    // One of DEV1's install commands is out (sent, unanswered).
    let out = store.commands(e, 100).unwrap();
    let out = out.iter().find(|c| c.origin == "profile:p_1@1:install:0");
    let mut tx = store.session(e, "1").unwrap();
    tx.mark_sent(out.unwrap().id, NOW).unwrap();
    tx.commit().unwrap();

    let v2 = store.put_profile("p_1", "v2", NOW + 2).unwrap();
    assert_eq!((v2.syncml.as_str(), v2.revision), ("v2", 2));
    assert_eq!(store.profile("p_1").unwrap().unwrap().revision, 2);
    // The active enrollments left on revision 1 (not the unenrolled one).
    assert_eq!(store.outdated("p_1", 2).unwrap(), vec![e, other]);
    let bc = ["./B".to_owned(), "./C".to_owned()];
    let install = frags(1);
    let d = Deployment {
        profile_id: "p_1",
        revision: 2,
        locuris: &bc,
        install: &install,
    };
    let removal = vec!["<Delete><CmdID>1</CmdID></Delete>".to_owned()];
    assert!(store.redeploy(&d, e, &removal, NOW + 3).unwrap());
    // Revision 1's unsent install is dropped, the one out stays out; the removal, then
    // revision 2's install; pX1's command untouched.
    assert_eq!(states_of(store, e, "profile:p_1@1:install:0"), ["sent"]);
    assert_eq!(states_of(store, e, "profile:p_1@1:install:1"), ["done"]);
    assert_eq!(states_of(store, e, "profile:pX1@1:install:0"), ["pending"]);
    let cmds = store.commands(e, 100).unwrap();
    let newest: Vec<(&str, &str)> = (cmds[..2].iter())
        .map(|c| (c.origin.as_str(), c.state.as_str()))
        .collect();
    assert_eq!(
        newest,
        [
            ("profile:p_1@2:install:0", "pending"),
            ("profile:p_1@2:remove", "pending")
        ]
    );
    let nodes: Vec<(String, String, i64)> = (store.settings(e).unwrap().into_iter())
        .filter(|s| s.profile_id == "p_1")
        .map(|s| (s.locuri, s.state, s.attempts))
        .collect();
    assert_eq!(
        nodes,
        [
            ("./B".to_owned(), "pending".to_owned(), 0),
            ("./C".to_owned(), "pending".to_owned(), 0)
        ]
    );
    // Done once: again (a repeated PUT) changes nothing.
    assert!(!store.redeploy(&d, e, &removal, NOW + 4).unwrap());
    assert_eq!(store.commands(e, 100).unwrap().len(), cmds.len());
    assert_eq!(store.outdated("p_1", 2).unwrap(), vec![other]);
    // An older revision never replaces a newer one; no assignment, nothing.
    assert!(store.redeploy(&d, other, &[], NOW + 4).unwrap());
    let d1 = Deployment { revision: 1, ..d };
    assert!(!store.redeploy(&d1, other, &removal, NOW + 5).unwrap());
    assert!(states_of(store, other, "profile:p_1@1:remove").is_empty());
    let none = enroll(store, "DEV4", "DD");
    assert!(!store.redeploy(&d, none, &removal, NOW + 5).unwrap());
    assert!(store.commands(none, 10).unwrap().is_empty());
    assert!(store.settings(none).unwrap().is_empty());
    // Revision 3 at once: revision 2's unsent install is dropped, its removal stays.
    assert_eq!(store.put_profile("p_1", "v3", NOW + 6).unwrap().revision, 3);
    let d3 = Deployment { revision: 3, ..d };
    assert!(store.redeploy(&d3, e, &[], NOW + 6).unwrap());
    assert_eq!(states_of(store, e, "profile:p_1@2:remove"), ["pending"]);
    assert_eq!(states_of(store, e, "profile:p_1@2:install:0"), ["done"]);
    assert_eq!(states_of(store, e, "profile:p_1@3:install:0"), ["pending"]);
    // Unassigning drops p_1's unsent commands, not pX1's nor the removals.
    store.unassign("p_1", e, &[], NOW + 7).unwrap();
    assert_eq!(states_of(store, e, "profile:p_1@3:install:0"), ["done"]);
    assert_eq!(states_of(store, e, "profile:p_1@2:remove"), ["pending"]);
    assert_eq!(states_of(store, e, "profile:pX1@1:install:0"), ["pending"]);
}

/// An answer to a command of an older revision, after the profile changed, is recorded
/// with its command and changes no node state (`admin::profile_outcome` over each store).
fn an_answer_to_another_revisions_command_changes_no_node_state(store: &dyn Store) {
    use winmdm_csp::profile::Profile;
    use winmdm_omadm::syncml::{Data, Location};
    use winmdm_omadm::{CommandKind, Disposition, Item, Outcome, StatusCode};
    use winmdm_reference_server::admin::profile_outcome;

    let catalog = winmdm_csp::Catalog::builtin();
    let camera = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera";
    let text = |v: &str| {
        format!(
            "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{camera}</LocURI></Target>\
             <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>{v}</Data></Item></Replace>"
        )
    };
    let answer = |kind, results: Vec<Item<'static>>| Outcome {
        tag: 1,
        kind,
        msg_ref: "2".into(),
        cmd_ref: "3".into(),
        disposition: Disposition::Answered,
        status: Some(StatusCode(200)),
        item_statuses: Vec::new(),
        original_error: None,
        results,
        children: Vec::new(),
    };
    let read = |v: &'static str| Item {
        source: Some(Location::uri(camera)),
        data: Some(Data::text(v)),
        ..Item::default()
    };
    let e = enroll(store, "DEV1", "AA");
    let (v1, v2) = (
        Profile::parse(&text("0")).unwrap(),
        Profile::parse(&text("1")).unwrap(),
    );
    let node = [camera.to_owned()];
    store.put_profile("p", &text("0"), NOW).unwrap();
    assign(store, "p", e, &node, &v1.install_commands());
    assert_eq!(
        store
            .put_profile("p", &text("1"), NOW + 1)
            .unwrap()
            .revision,
        2
    );
    let install = v2.install_commands();
    let d = Deployment {
        profile_id: "p",
        revision: 2,
        locuris: &node,
        install: &install,
    };
    assert!(store.redeploy(&d, e, &[], NOW + 1).unwrap());
    let queued = store.commands(e, 100).unwrap().len();
    // One message of session `sid` answering (origin, command, outcome)s, committed.
    let answered = |sid: &str, answers: &[(&str, &str, Outcome)], now: i64| {
        let mut tx = store.session(e, sid).unwrap();
        for (origin, fragment, o) in answers {
            profile_outcome(&mut *tx, &catalog, origin, fragment, o, now).unwrap();
        }
        tx.commit().unwrap();
    };

    // Revision 1's install and read-back answered now: as if they were not.
    answered(
        "1",
        &[
            (
                "p@1:install:0",
                &v1.install_commands()[0],
                answer(CommandKind::Replace, vec![]),
            ),
            (
                "p@1:verify",
                &v1.verify_commands()[0],
                answer(CommandKind::Get, vec![read("0")]),
            ),
        ],
        NOW + 2,
    );
    let s = store.settings(e).unwrap();
    assert_eq!(
        (s[0].state.as_str(), s[0].attempts, s[0].actual.as_deref()),
        ("pending", 0, None)
    );
    assert_eq!(
        store.commands(e, 100).unwrap().len(),
        queued,
        "nothing queued"
    );

    // Revision 2's own answers count: sent, its read-back queued with its revision, and
    // the value it reads verified.
    answered(
        "2",
        &[(
            "p@2:install:0",
            &install[0],
            answer(CommandKind::Replace, vec![]),
        )],
        NOW + 3,
    );
    let s = store.settings(e).unwrap();
    assert_eq!((s[0].state.as_str(), s[0].attempts), ("sent", 1));
    assert_eq!(states_of(store, e, "profile:p@2:verify"), ["pending"]);
    answered(
        "3",
        &[(
            "p@2:verify",
            &v2.verify_commands()[0],
            answer(CommandKind::Get, vec![read("1")]),
        )],
        NOW + 4,
    );
    assert_eq!(store.settings(e).unwrap()[0].state, "verified");

    // A profile no longer assigned: nothing either.
    store.unassign("p", e, &[], NOW + 5).unwrap();
    let queued = store.commands(e, 100).unwrap().len();
    answered(
        "4",
        &[(
            "p@2:install:0",
            &install[0],
            answer(CommandKind::Replace, vec![]),
        )],
        NOW + 6,
    );
    assert_eq!(
        store.commands(e, 100).unwrap().len(),
        queued,
        "no read-back queued"
    );
}

/// `take_due_verifications`: the assignments verified at or before the cut-off, with no
/// node pending, at most `limit`, oldest first, each once (marked); `assign` and
/// `redeploy` reset the verification; another revision's text is not returned.
fn due_verifications_are_taken_once_oldest_first_and_reset_by_a_deployment(store: &dyn Store) {
    let (e, other) = (enroll(store, "DEV1", "AA"), enroll(store, "DEV2", "BB"));
    for p in ["p1", "p2", "p3", "p4"] {
        store.put_profile(p, &format!("text of {p}"), NOW).unwrap();
        assign(store, p, e, &[format!("./{p}")], &[]);
    }
    assign(store, "p1", other, &["./p1".to_owned()], &[]);
    let settle = |tx: &mut dyn SessionTx, p: &str, state: &str| {
        let u = SettingUpdate {
            state,
            status: None,
            original_error: None,
            actual: None,
            attempt: false,
        };
        tx.set_setting(p, &format!("./{p}"), &u).unwrap();
    };
    let mut tx = store.session(e, "1").unwrap();
    assert!(
        tx.take_due_verifications(NOW + 100, 8).unwrap().is_empty(),
        "none verified"
    );
    for (p, at) in [
        ("p1", NOW + 3),
        ("p2", NOW + 1),
        ("p3", NOW + 2),
        ("p4", NOW + 1),
    ] {
        settle(&mut *tx, p, "verified");
        tx.set_verified(p, Some(at)).unwrap();
    }
    settle(&mut *tx, "p4", "pending"); // being installed: not taken
    tx.commit().unwrap();
    // A message's transaction knows the oldest verification from its open: before it,
    // nothing can be due and no statement is sent; from it, the store is asked (rolled
    // back: nothing taken).
    let mut tx = opened(store, "AA", "h", NOW + 10).tx;
    let before = store.statements();
    assert!(tx.take_due_verifications(NOW, 8).unwrap().is_empty());
    assert_eq!(
        store.statements(),
        before,
        "nothing verified by then: not asked"
    );
    assert!(!tx.take_due_verifications(NOW + 1, 8).unwrap().is_empty());
    drop(tx);
    let mut tx = store.session(other, "1").unwrap();
    settle(&mut *tx, "p1", "verified");
    tx.set_verified("p1", Some(NOW)).unwrap();
    tx.commit().unwrap();

    let ids = |due: Vec<winmdm_reference_server::store::Due>| -> Vec<(String, Option<String>)> {
        due.into_iter().map(|d| (d.profile_id, d.syncml)).collect()
    };
    let text = |p: &str| (p.to_owned(), Some(format!("text of {p}")));
    let mut tx = store.session(e, "2").unwrap();
    assert!(tx.take_due_verifications(NOW, 8).unwrap().is_empty());
    // The two oldest of those due (p2, p3), not p1 (verified later) nor p4 (pending).
    let due = tx.take_due_verifications(NOW + 3, 2).unwrap();
    assert_eq!(due.iter().map(|d| d.revision).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(ids(due), [text("p2"), text("p3")]);
    // Marked: each taken once.
    assert_eq!(
        ids(tx.take_due_verifications(NOW + 3, 8).unwrap()),
        [text("p1")]
    );
    assert!(tx.take_due_verifications(i64::MAX, 8).unwrap().is_empty());
    settle(&mut *tx, "p4", "sent");
    assert_eq!(
        ids(tx.take_due_verifications(i64::MAX, 8).unwrap()),
        [text("p4")]
    );
    tx.commit().unwrap();
    assert!(
        quiet_at(store, "9", NOW, i64::MAX - 1, NOW + 4),
        "nothing due once taken"
    );
    // The other enrollment's is its own; rolled back, it is still due.
    let mut tx = store.session(other, "2").unwrap();
    assert_eq!(tx.take_due_verifications(NOW, 8).unwrap().len(), 1);
    drop(tx);
    let mut tx = store.session(other, "2").unwrap();
    assert_eq!(tx.take_due_verifications(NOW, 8).unwrap().len(), 1);
    tx.set_verified("p1", Some(NOW + 5)).unwrap();
    tx.commit().unwrap();

    // A new assignment or a redeploy starts over: not verified.
    let mut tx = store.session(e, "3").unwrap();
    tx.set_verified("p1", Some(NOW + 5)).unwrap();
    tx.set_verified("p2", Some(NOW + 5)).unwrap();
    tx.commit().unwrap();
    assign(store, "p1", e, &["./p1".to_owned()], &[]);
    store.put_profile("p2", "p2 v2", NOW + 6).unwrap();
    let node = ["./p2".to_owned()];
    let d = Deployment {
        profile_id: "p2",
        revision: 2,
        locuris: &node,
        install: &[],
    };
    assert!(store.redeploy(&d, e, &[], NOW + 6).unwrap());
    let mut tx = store.session(e, "4").unwrap();
    assert!(tx.take_due_verifications(i64::MAX, 8).unwrap().is_empty());
    // p3 changed while its device stays on revision 1 (the redeploy not done): no text.
    tx.set_verified("p3", Some(NOW + 6)).unwrap();
    tx.commit().unwrap();
    store.put_profile("p3", "p3 v2", NOW + 7).unwrap();
    let mut tx = store.session(e, "5").unwrap();
    let due = tx.take_due_verifications(NOW + 6, 8).unwrap();
    assert_eq!(ids(due), [("p3".to_owned(), None)]);
    tx.commit().unwrap();
}

/// `admin::profile_outcome` over each store: the read-back skips nodes the catalog says
/// cannot be read, a failed Get drifts only the nodes it read, a 405 without results
/// changes no node, and a read-back that leaves nothing to deliver records the
/// verification (which `take_due_verifications` then finds).
fn a_read_back_skips_write_only_nodes_and_records_the_verification(store: &dyn Store) {
    use winmdm_omadm::syncml::{Data, Location};
    use winmdm_omadm::{CommandKind, Disposition, Item, Outcome, StatusCode};
    use winmdm_reference_server::admin::profile_outcome;

    let catalog = winmdm_csp::Catalog::builtin();
    let camera = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera";
    let password = "./Device/Vendor/MSFT/Accounts/Users/alice/Password";
    let text = format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>{camera}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>0</Data></Item></Replace>\
         <Add><CmdID>2</CmdID><Item><Target><LocURI>{password}</LocURI></Target>\
         <Data>secret</Data></Item></Add>"
    );
    let p = winmdm_csp::profile::Profile::parse(&text).unwrap();
    let answer = |kind, status: u16, results: Vec<Item<'static>>| Outcome {
        tag: 1,
        kind,
        msg_ref: "2".into(),
        cmd_ref: "3".into(),
        disposition: Disposition::Answered,
        status: Some(StatusCode(status)),
        item_statuses: Vec::new(),
        original_error: None,
        results,
        children: Vec::new(),
    };
    let e = enroll(store, "DEV1", "AA");
    store.put_profile("p", &text, NOW).unwrap();
    let nodes = [camera.to_owned(), password.to_owned()];
    let install = p.install_commands();
    assign(store, "p", e, &nodes, &install);
    let mut tx = store.session(e, "1").unwrap();
    for (n, c) in install.iter().enumerate() {
        let o = answer(CommandKind::Replace, 200, vec![]);
        profile_outcome(&mut *tx, &catalog, &format!("p@1:install:{n}"), c, &o, NOW).unwrap();
    }
    tx.commit().unwrap();
    // One Get, of the camera alone: the password cannot be read.
    let gets: Vec<_> = (store.commands(e, 100).unwrap().into_iter())
        .filter(|c| c.origin == "profile:p@1:verify")
        .collect();
    assert_eq!(gets.len(), 1);
    let get = gets[0].syncml.clone();
    assert!(get.contains(camera) && !get.contains(password), "{get}");
    let state = |uri: &str| {
        let s = store.settings(e).unwrap();
        let row = s.iter().find(|r| r.locuri == uri).unwrap();
        (row.state.clone(), row.actual.clone())
    };
    let due = |at: i64| {
        let mut tx = store.session(e, "look").unwrap();
        tx.take_due_verifications(at, 8).unwrap().len() // dropped: rolled back
    };

    // A 405 without results (a node the device cannot read): no node changes.
    let mut tx = store.session(e, "2").unwrap();
    let o = answer(CommandKind::Get, 405, vec![]);
    profile_outcome(&mut *tx, &catalog, "p@1:verify", &get, &o, NOW + 1).unwrap();
    tx.commit().unwrap();
    assert_eq!(state(camera).0, "sent");
    // A 404 without results: the camera (read) drifts, the password (not read) does not.
    let mut tx = store.session(e, "3").unwrap();
    let o = answer(CommandKind::Get, 404, vec![]);
    profile_outcome(&mut *tx, &catalog, "p@1:verify", &get, &o, NOW + 2).unwrap();
    tx.commit().unwrap();
    assert_eq!(state(camera), ("drift".to_owned(), None));
    assert_eq!(state(password).0, "sent");
    assert_eq!(due(i64::MAX), 0, "a correction follows: not verified");
    // The value read back: verified, and the verification recorded.
    let mut tx = store.session(e, "4").unwrap();
    let read = Item {
        source: Some(Location::uri(camera)),
        data: Some(Data::text("0")),
        ..Item::default()
    };
    let o = answer(CommandKind::Get, 200, vec![read]);
    profile_outcome(&mut *tx, &catalog, "p@1:verify", &get, &o, NOW + 3).unwrap();
    tx.commit().unwrap();
    assert_eq!(state(camera).0, "verified");
    assert_eq!((due(NOW + 2), due(NOW + 3)), (0, 1));
}
