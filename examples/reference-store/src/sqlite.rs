//! The embedded store: SQLite.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use rusqlite::config::DbConfig;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    CommandRow, Deployment, Due, Enrolled, Enrollment, Hints, MessageKey, NewCertificate,
    NewEnrollment, NewOutcome, OpenedMessage, Peeked, ProfileRow, PruneReport, Recorded, SessionTx,
    SettingRow, SettingUpdate, Store, StoreError, in_given_order, outcomes_json,
};

/// Versioned migrations, applied in order at start (`schema_version` records the last).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_initial.sql"),
    include_str!("../migrations/sqlite/0002_retries_retention.sql"),
    include_str!("../migrations/sqlite/0003_sessions_by_age.sql"),
    include_str!("../migrations/sqlite/0004_profile_revisions.sql"),
    include_str!("../migrations/sqlite/0005_reverification.sql"),
    include_str!("../migrations/sqlite/0006_lookup_indexes.sql"),
];

/// How often the background thread checkpoints the WAL ([`SqliteStore::open`]).
pub(crate) const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The WAL size (pages) at which a COMMIT checkpoints by itself: a backstop, far above
/// what the background thread lets the WAL reach (SQLite's default is 1,000).
pub(crate) const AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// The WAL size (frames, 4 KiB each by default: 16 MiB) from which the background thread
/// makes the WAL start over ([`SqliteStore::open`]). Below it, checkpoints are passive.
pub(crate) const WAL_RESET_FRAMES: i64 = 4_096;

/// Frames a passive checkpoint may leave behind for the one that finishes the pass under
/// the store's lock: that one copies at most about these pages while no message runs.
const WAL_RESET_TAIL: i64 = 256;

/// The WAL file's size after it starts over, when it grew larger (`journal_size_limit`).
const WAL_SIZE_LIMIT: i64 = 2 * WAL_RESET_FRAMES * 4096;

/// The embedded store: one SQLite file in WAL mode behind a mutex (transactions are a
/// few milliseconds; the mutex is the writer lock SQLite would take anyway). A
/// background thread with its own connection checkpoints the WAL every
/// [`CHECKPOINT_INTERVAL`] (`PRAGMA wal_checkpoint(PASSIVE)`: it neither waits for nor
/// blocks the writer), so that a message's COMMIT does not run the checkpoint SQLite
/// would otherwise start every 1,000 pages; it stops when the store is dropped.
///
/// SQLite starts the WAL over only when a write transaction begins right after a
/// checkpoint that copied every frame. Under sustained traffic that moment does not
/// come: each passive checkpoint has hundreds of pages to copy and two syncs to make,
/// and new frames arrive meanwhile, so the WAL grew by about 4 MB a second under idle
/// check-ins (72 MB after a few minutes), every COMMIT extending the file and every read
/// searching a longer WAL index. Once the WAL holds [`WAL_RESET_FRAMES`], the thread
/// checkpoints again until a short tail is left, then copies that while it holds the
/// store's lock (1-14 ms under load, measured, every few seconds), and the next COMMIT
/// starts the WAL over.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    statements: Arc<AtomicU64>,
    /// Dropped with the store: the checkpoint thread then ends.
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: (frames in the WAL, frames copied to the database).
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// One round of the checkpoint thread: a passive checkpoint, and when the WAL holds at
/// least `reset_frames`, the passes that let the next COMMIT start it over. A failure is
/// tried again at the next round.
fn checkpoint_round(
    conn: &Connection,
    store: &std::sync::Weak<Mutex<Connection>>,
    reset_frames: i64,
) {
    let Ok((mut log, mut done)) = passive_checkpoint(conn) else {
        return;
    };
    if log < reset_frames {
        return;
    }
    // Each pass copies what the writer added during the one before: a few of them leave
    // a short tail, unless the writer outpaces them (then the next round tries again).
    for _ in 0..4 {
        if log - done <= WAL_RESET_TAIL {
            break;
        }
        match passive_checkpoint(conn) {
            Ok((l, d)) => (log, done) = (l, d),
            Err(_) => return,
        }
    }
    if log - done > WAL_RESET_TAIL {
        return;
    }
    let Some(store) = store.upgrade() else {
        return;
    };
    // No message runs while the lock is held, so this pass reaches the WAL's last frame.
    let _writer = store.lock().unwrap_or_else(|p| p.into_inner());
    let _ = passive_checkpoint(conn);
}

/// Starts the checkpoint thread on a second connection to `path`; `None` when that
/// connection cannot be opened (SQLite's own autocheckpoint still bounds the WAL).
fn start_checkpointer(
    path: &Path,
    store: std::sync::Weak<Mutex<Connection>>,
    reset_frames: i64,
    interval: std::time::Duration,
) -> Option<std::sync::mpsc::Sender<()>> {
    let conn = Connection::open(path).ok()?;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                checkpoint_round(&conn, &store, reset_frames);
            }
        })
        .ok()?;
    Some(tx)
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, WAL_RESET_FRAMES, CHECKPOINT_INTERVAL)
    }

    /// [`SqliteStore::open`] with the WAL size (frames) from which the WAL starts over and
    /// the checkpoint thread's interval.
    fn open_with(
        path: &Path,
        wal_reset_frames: i64,
        checkpoint_interval: std::time::Duration,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The query planner stability guarantee: a plan never depends on the values bound.
        // Without it SQLite (STAT4 is compiled in by rusqlite's bundled build) marks the
        // parameters of ORDER BY, MAX and join queries as plan-relevant and parses a cached
        // statement again whenever one changes: every newest-enrollment-of-a-device read
        // (each admin request naming a device) and every enrollment's retry lookup.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // Every statement of the store is cached (rusqlite's default keeps 16).
        conn.set_prepared_statement_cache_capacity(128);
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let have: i64 = conn.one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(have as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.exec(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
            tx.commit()?;
        }
        // SQLite reports every statement it starts (those of a batch one by one, BEGIN
        // and COMMIT included; lines of triggers start with "--").
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let mut conn = conn;
        conn.trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |e: TraceEvent<'_>| {
                if let TraceEvent::Stmt(_, sql) = e
                    && !sql.starts_with("--")
                {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }),
        )?;
        let conn = Arc::new(Mutex::new(conn));
        Ok(SqliteStore {
            _checkpointer: start_checkpointer(
                path,
                Arc::downgrade(&conn),
                wal_reset_frames,
                checkpoint_interval,
            ),
            conn,
            statements,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

const ENROLLMENT_COLS: &str = "e.id, e.device_id, e.hw_dev_id, e.upn, e.auth, e.state, e.dm_username, \
    e.dm_password, e.enrolled_at, e.last_seen_at, e.inventory, e.dm_nonce, \
    (SELECT thumbprint FROM certificates c WHERE c.enrollment_id = e.id ORDER BY issued_at DESC, rowid DESC LIMIT 1), \
    (SELECT not_after FROM certificates c WHERE c.enrollment_id = e.id ORDER BY issued_at DESC, rowid DESC LIMIT 1)";

/// Statements through SQLite's prepared-statement cache (`Connection::execute` and
/// `query_row` parse the SQL every time).
trait Cached {
    /// Runs a statement; the rows it changed.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize>;
    /// The first row of a query (`QueryReturnedNoRows` without one).
    fn one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

fn enrollment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Enrollment> {
    let inventory: String = r.get(10)?;
    Ok(Enrollment {
        id: r.get(0)?,
        device_id: r.get(1)?,
        hw_dev_id: r.get(2)?,
        upn: r.get(3)?,
        auth: r.get(4)?,
        state: r.get(5)?,
        dm_username: r.get(6)?,
        dm_password: r.get(7)?,
        enrolled_at: r.get(8)?,
        last_seen_at: r.get(9)?,
        inventory: serde_json::from_str(&inventory).unwrap_or_default(),
        dm_nonce: r.get(11)?,
        certificate_thumbprint: r.get(12)?,
        certificate_not_after: r.get(13)?,
    })
}

const COMMAND_COLS: &str =
    "id, enrollment_id, syncml, origin, state, status, original_error, results, created_at";

fn command_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CommandRow> {
    let results: Option<String> = r.get(7)?;
    Ok(CommandRow {
        id: r.get(0)?,
        enrollment_id: r.get(1)?,
        syncml: r.get(2)?,
        origin: r.get(3)?,
        state: r.get(4)?,
        status: r.get(5)?,
        original_error: r.get(6)?,
        results: results.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: r.get(8)?,
    })
}

fn setting_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SettingRow> {
    Ok(SettingRow {
        profile_id: r.get(0)?,
        locuri: r.get(1)?,
        state: r.get(2)?,
        status: r.get(3)?,
        original_error: r.get(4)?,
        actual: r.get(5)?,
        attempts: r.get(6)?,
    })
}

fn profile_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileRow> {
    Ok(ProfileRow {
        id: r.get(0)?,
        syncml: r.get(1)?,
        updated_at: r.get(2)?,
        revision: r.get(3)?,
    })
}

const SETTING_COLS: &str = "profile_id, locuri, state, status, original_error, actual, attempts";

fn insert_commands(
    conn: &Connection,
    enrollment_id: i64,
    fragments: &[String],
    origin: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO commands (enrollment_id, syncml, origin, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut ids = Vec::with_capacity(fragments.len());
    for f in fragments {
        stmt.execute(params![enrollment_id, f, origin, now])?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

/// Marks the profile's unsent commands but its removals done (moot): those of an
/// earlier deployment (`profile:ID:...` or `profile:ID@REV:...`). A removal stays
/// queued: a node an older revision set is deleted even when another revision follows.
fn drop_unsent(
    conn: &Connection,
    profile_id: &str,
    enrollment_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE commands SET state = 'done', status = NULL, done_at = ?3
         WHERE enrollment_id = ?1 AND state = 'pending'
           AND substr(origin, 1, length(?2) + 1) IN (?2 || ':', ?2 || '@')
           AND origin NOT LIKE '%:remove'",
        params![enrollment_id, format!("profile:{profile_id}"), now],
    )?;
    Ok(())
}

/// The node state of `d` (pending) instead of the profile's, and its install commands.
fn deploy(
    conn: &Connection,
    d: &Deployment<'_>,
    enrollment_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "DELETE FROM profile_settings WHERE profile_id = ?1 AND enrollment_id = ?2",
        params![d.profile_id, enrollment_id],
    )?;
    for l in d.locuris {
        conn.exec(
            "INSERT OR IGNORE INTO profile_settings (profile_id, enrollment_id, locuri) VALUES (?1, ?2, ?3)",
            params![d.profile_id, enrollment_id, l],
        )?;
    }
    for (i, c) in d.install.iter().enumerate() {
        let origin = format!("profile:{}@{}:install:{i}", d.profile_id, d.revision);
        insert_commands(conn, enrollment_id, std::slice::from_ref(c), &origin, now)?;
    }
    Ok(())
}

fn insert_certificate(
    conn: &Connection,
    enrollment_id: i64,
    c: &NewCertificate<'_>,
    now: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO certificates (thumbprint, enrollment_id, serial, not_after, issued_at, key_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            c.thumbprint,
            enrollment_id,
            c.serial,
            c.not_after,
            now,
            c.key_sha256
        ],
    )?;
    Ok(())
}

fn revoke_all(conn: &Connection, enrollment_id: i64, now: i64) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE enrollments SET state = 'unenrolled', unenrolled_at = ?2 WHERE id = ?1",
        params![enrollment_id, now],
    )?;
    conn.exec(
        "UPDATE certificates SET revoked_at = ?2 WHERE enrollment_id = ?1 AND revoked_at IS NULL",
        params![enrollment_id, now],
    )?;
    Ok(())
}

impl Store for SqliteStore {
    fn create_enrollment(
        &self,
        e: &NewEnrollment<'_>,
        token_hash: Option<&str>,
        now: i64,
    ) -> Result<Enrolled, StoreError> {
        // The mutex serialises this process; IMMEDIATE takes SQLite's write lock at once
        // (another process on the same file waits), so the lookup and the insert are one.
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let retry: Option<i64> = tx
            .one(
                "SELECT e.id FROM enrollments e JOIN certificates c ON c.enrollment_id = e.id
                 WHERE e.device_id = ?1 AND e.state = 'active' AND c.key_sha256 = ?2
                   AND c.revoked_at IS NULL
                 ORDER BY e.id DESC LIMIT 1",
                params![e.device_id, e.cert.key_sha256],
                |r| r.get(0),
            )
            .optional()?;
        let (id, replaced) = match retry {
            Some(id) => {
                if let Some(hash) = token_hash {
                    let n = tx.exec(
                        "UPDATE enrollment_tokens SET used_at = COALESCE(used_at, ?2),
                           used_by = COALESCE(used_by, ?3)
                         WHERE hash = ?1 AND ((used_at IS NULL AND expires_at > ?2) OR used_by = ?3)",
                        params![hash, now, id],
                    )?;
                    if n != 1 {
                        return Err(StoreError::TokenNotValid);
                    }
                }
                (id, Vec::new())
            }
            None => {
                tx.exec(
                    "INSERT INTO enrollments (device_id, hw_dev_id, upn, auth, dm_username,
                       dm_password, dm_nonce, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        e.device_id,
                        e.hw_dev_id,
                        e.upn,
                        e.auth,
                        e.dm_username,
                        e.dm_password,
                        e.dm_nonce,
                        now
                    ],
                )?;
                let id = tx.last_insert_rowid();
                if let Some(hash) = token_hash {
                    let n = tx.exec(
                        "UPDATE enrollment_tokens SET used_at = ?2, used_by = ?3
                         WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                        params![hash, now, id],
                    )?;
                    if n != 1 {
                        return Err(StoreError::TokenNotValid);
                    }
                }
                let replaced = {
                    let mut stmt = tx.prepare(
                        "UPDATE enrollments SET state = 'replaced', unenrolled_at = ?3
                         WHERE device_id = ?1 AND state = 'active' AND id <> ?2 RETURNING id",
                    )?;
                    stmt.query_map(params![e.device_id, id, now], |r| r.get(0))?
                        .collect::<Result<Vec<i64>, _>>()?
                };
                for old in &replaced {
                    tx.exec(
                        "UPDATE certificates SET revoked_at = ?2
                         WHERE enrollment_id = ?1 AND revoked_at IS NULL",
                        params![old, now],
                    )?;
                }
                for (origin, fragment) in e.first_commands {
                    tx.exec(
                        "INSERT INTO commands (enrollment_id, syncml, origin, created_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![id, fragment, origin, now],
                    )?;
                }
                (id, replaced)
            }
        };
        insert_certificate(&tx, id, &e.cert, now)?;
        let sql = format!("SELECT {ENROLLMENT_COLS} FROM enrollments e WHERE e.id = ?1");
        let enrollment = tx.one(&sql, [id], enrollment_row)?;
        tx.commit()?;
        Ok(Enrolled {
            enrollment,
            created: retry.is_none(),
            replaced,
        })
    }

    fn add_certificate(
        &self,
        enrollment_id: i64,
        c: &NewCertificate<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        insert_certificate(&self.lock(), enrollment_id, c, now)
    }

    fn enrollment_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Enrollment>, StoreError> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLS} FROM certificates k JOIN enrollments e ON e.id = k.enrollment_id
             WHERE k.thumbprint = ?1 AND k.revoked_at IS NULL"
        );
        Ok(self
            .lock()
            .one(&sql, [thumbprint], enrollment_row)
            .optional()?)
    }

    fn enrollment_by_device(&self, device_id: &str) -> Result<Option<Enrollment>, StoreError> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLS} FROM enrollments e WHERE e.device_id = ?1 ORDER BY e.id DESC LIMIT 1"
        );
        Ok(self
            .lock()
            .one(&sql, [device_id], enrollment_row)
            .optional()?)
    }

    fn enrollments(&self) -> Result<Vec<Enrollment>, StoreError> {
        let sql = format!("SELECT {ENROLLMENT_COLS} FROM enrollments e ORDER BY e.id DESC");
        self.rows(&sql, [], enrollment_row)
    }

    fn create_token(&self, hash: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        self.lock().exec(
            "INSERT INTO enrollment_tokens (hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![hash, now, expires_at],
        )?;
        Ok(())
    }

    fn token_usable(&self, hash: &str, now: i64) -> Result<bool, StoreError> {
        let n: i64 = self.lock().one(
            "SELECT COUNT(*) FROM enrollment_tokens WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash, now],
            |r| r.get(0),
        )?;
        Ok(n == 1)
    }

    fn token_used_by(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        let used: Option<Option<i64>> = self
            .lock()
            .one(
                "SELECT used_by FROM enrollment_tokens WHERE hash = ?1 AND used_at IS NOT NULL",
                [hash],
                |r| r.get(0),
            )
            .optional()?;
        Ok(used.flatten())
    }

    fn queue_commands(
        &self,
        enrollment_id: i64,
        fragments: &[String],
        origin: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ids = insert_commands(&tx, enrollment_id, fragments, origin, now)?;
        tx.commit()?;
        Ok(ids)
    }

    fn command(&self, id: i64) -> Result<Option<CommandRow>, StoreError> {
        let sql = format!("SELECT {COMMAND_COLS} FROM commands WHERE id = ?1");
        Ok(self.lock().one(&sql, [id], command_row).optional()?)
    }

    fn commands(&self, enrollment_id: i64, limit: u32) -> Result<Vec<CommandRow>, StoreError> {
        let sql = format!(
            "SELECT {COMMAND_COLS} FROM commands WHERE enrollment_id = ?1 ORDER BY id DESC LIMIT ?2"
        );
        self.rows(&sql, params![enrollment_id, limit], command_row)
    }

    fn put_profile(&self, id: &str, syncml: &str, now: i64) -> Result<ProfileRow, StoreError> {
        // SET reads the row as it was: the revision counts a changed text.
        Ok(self.lock().one(
            "INSERT INTO profiles (id, syncml, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET revision = revision + (syncml <> excluded.syncml),
               syncml = excluded.syncml, updated_at = excluded.updated_at
             RETURNING id, syncml, updated_at, revision",
            params![id, syncml, now],
            profile_row,
        )?)
    }

    fn profile(&self, id: &str) -> Result<Option<ProfileRow>, StoreError> {
        let sql = "SELECT id, syncml, updated_at, revision FROM profiles WHERE id = ?1";
        Ok(self.rows(sql, [id], profile_row)?.pop())
    }

    fn profiles(&self) -> Result<Vec<ProfileRow>, StoreError> {
        self.rows(
            "SELECT id, syncml, updated_at, revision FROM profiles ORDER BY id",
            [],
            profile_row,
        )
    }

    fn assign(&self, d: &Deployment<'_>, enrollment_id: i64, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.exec(
            "INSERT INTO assignments (profile_id, enrollment_id, assigned_at, revision)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO UPDATE SET assigned_at = excluded.assigned_at,
               revision = excluded.revision, verified_at = NULL",
            params![d.profile_id, enrollment_id, now, d.revision],
        )?;
        drop_unsent(&tx, d.profile_id, enrollment_id, now)?;
        deploy(&tx, d, enrollment_id, now)?;
        tx.commit()?;
        Ok(())
    }

    fn redeploy(
        &self,
        d: &Deployment<'_>,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let n = tx.exec(
            "UPDATE assignments SET revision = ?3, assigned_at = ?4, verified_at = NULL
             WHERE profile_id = ?1 AND enrollment_id = ?2 AND revision < ?3",
            params![d.profile_id, enrollment_id, d.revision, now],
        )?;
        if n == 0 {
            return Ok(false); // dropped: rolled back
        }
        drop_unsent(&tx, d.profile_id, enrollment_id, now)?;
        let origin = format!("profile:{}@{}:remove", d.profile_id, d.revision);
        insert_commands(&tx, enrollment_id, removal, &origin, now)?;
        deploy(&tx, d, enrollment_id, now)?;
        tx.commit()?;
        Ok(true)
    }

    fn outdated(&self, profile_id: &str, revision: i64) -> Result<Vec<i64>, StoreError> {
        self.rows(
            "SELECT a.enrollment_id FROM assignments a JOIN enrollments e ON e.id = a.enrollment_id
             WHERE a.profile_id = ?1 AND a.revision < ?2 AND e.state = 'active'
             ORDER BY a.enrollment_id",
            params![profile_id, revision],
            |r| r.get(0),
        )
    }

    fn unassign(
        &self,
        profile_id: &str,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let n = tx.exec(
            "DELETE FROM assignments WHERE profile_id = ?1 AND enrollment_id = ?2",
            params![profile_id, enrollment_id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.exec(
            "DELETE FROM profile_settings WHERE profile_id = ?1 AND enrollment_id = ?2",
            params![profile_id, enrollment_id],
        )?;
        // Commands of the profile not yet sent are moot now.
        drop_unsent(&tx, profile_id, enrollment_id, now)?;
        insert_commands(
            &tx,
            enrollment_id,
            removal,
            &format!("profile:{profile_id}:remove"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn assigned(&self, enrollment_id: i64) -> Result<Vec<ProfileRow>, StoreError> {
        let sql = "SELECT p.id, p.syncml, p.updated_at, p.revision FROM assignments a
            JOIN profiles p ON p.id = a.profile_id WHERE a.enrollment_id = ?1 ORDER BY p.id";
        self.rows(sql, [enrollment_id], profile_row)
    }

    fn settings(&self, enrollment_id: i64) -> Result<Vec<SettingRow>, StoreError> {
        let sql = format!(
            "SELECT {SETTING_COLS} FROM profile_settings WHERE enrollment_id = ?1 ORDER BY profile_id, locuri"
        );
        self.rows(&sql, [enrollment_id], setting_row)
    }

    fn prune(&self, done_before: i64) -> Result<PruneReport, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let commands = tx.exec(
            "DELETE FROM commands WHERE state = 'done' AND done_at < ?1",
            [done_before],
        )?;
        let sessions = tx.execute("DELETE FROM sessions WHERE updated_at < ?1", [done_before])?;
        tx.commit()?;
        Ok(PruneReport {
            commands: commands as u64,
            sessions: sessions as u64,
        })
    }

    fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn parallelism(&self) -> usize {
        // One connection behind a mutex: a message holds it for its statements, and its
        // engine work (a quiet message's all of it) runs outside: about two per core.
        std::thread::available_parallelism().map_or(2, |n| 2 * n.get())
    }

    fn session(
        &self,
        enrollment_id: i64,
        session_id: &str,
    ) -> Result<Box<dyn SessionTx + '_>, StoreError> {
        let conn = self.lock();
        conn.exec("BEGIN IMMEDIATE", [])?;
        Ok(Box::new(SqliteSession {
            conn,
            enrollment_id,
            session_id: session_id.to_owned(),
            open: true,
            hints: Hints::unknown(),
        }))
    }

    fn open_message(
        &self,
        key: MessageKey<'_>,
        session_id: &str,
        now: i64,
    ) -> Result<Option<OpenedMessage<'_>>, StoreError> {
        let conn = self.lock();
        conn.exec("BEGIN IMMEDIATE", [])?;
        let mut s = SqliteSession {
            conn,
            enrollment_id: 0,
            session_id: session_id.to_owned(),
            open: true,
            hints: Hints::unknown(),
        };
        // One statement: the write lock is already held, so the enrollment, its
        // last_seen_at, the snapshot and the hints are one consistent state.
        let (sql, name) = key.pick(&*OPEN_BY_THUMBPRINT, &*OPEN_BY_DEVICE);
        let opened = {
            let mut stmt = s.conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![name, session_id, now])?;
            match rows.next()? {
                Some(r) => Some((
                    enrollment_row(r)?,
                    Hints {
                        snapshot: Some(r.get(14)?),
                        other_sent: r.get(15)?,
                        oldest_other: r.get(16)?,
                        pending: r.get(17)?,
                        oldest_verified: r.get(18)?,
                        short_read: None,
                        opened: true,
                    },
                )),
                None => None,
            }
        };
        let Some((enrollment, hints)) = opened else {
            return Ok(None); // dropped: rolled back
        };
        s.enrollment_id = enrollment.id;
        s.hints = hints;
        Ok(Some(OpenedMessage {
            enrollment,
            tx: Box::new(s),
        }))
    }

    fn peek_message(
        &self,
        key: MessageKey<'_>,
        session_id: &str,
        idle_before: i64,
        verified_before: i64,
        now: i64,
    ) -> Result<Option<Peeked>, StoreError> {
        let (sql, name) = key.pick(&*PEEK_BY_THUMBPRINT, &*PEEK_BY_DEVICE);
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![name, session_id, now, idle_before, verified_before])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some(Peeked {
            enrollment: enrollment_row(r)?,
            quiet: r.get(14)?,
        }))
    }
}

/// The enrollment id a not-revoked certificate names (`?1`).
const BY_THUMBPRINT: &str =
    "SELECT enrollment_id FROM certificates WHERE thumbprint = ?1 AND revoked_at IS NULL";
/// The newest enrollment id of a DeviceID (`?1`).
const BY_DEVICE: &str = "SELECT id FROM enrollments WHERE device_id = ?1 ORDER BY id DESC LIMIT 1";

/// The message's open (`Store::open_message`): `last_seen_at = ?3` on the enrollment
/// `by` names (`?1`), returning it and, for session `?2`, its snapshot and the hints:
/// sent commands of other sessions, the oldest other session, pending commands, the
/// oldest verified assignment.
fn open_query(by: &str) -> String {
    // RETURNING names the updated table's columns without an alias.
    let cols = ENROLLMENT_COLS.replace("e.", "enrollments.");
    format!(
        "UPDATE enrollments SET last_seen_at = ?3 WHERE id = ({by})
         RETURNING {cols},
           (SELECT snapshot FROM sessions s WHERE s.enrollment_id = enrollments.id
             AND s.session_id = ?2),
           EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = enrollments.id
             AND c.state = 'sent' AND c.session_id <> ?2),
           (SELECT updated_at FROM sessions s WHERE s.enrollment_id = enrollments.id
             AND s.session_id <> ?2 ORDER BY updated_at LIMIT 1),
           EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = enrollments.id
             AND c.state = 'pending'),
           (SELECT MIN(a.verified_at) FROM assignments a
             WHERE a.enrollment_id = enrollments.id)"
    )
}

/// The peek (`Store::peek_message`): `last_seen_at = ?3` on the enrollment `by` names
/// (`?1`), returning it and whether the message of session `?2` is quiet (`?4`: the
/// requeue's `idle_before`, `?5`: `verified_before`).
fn peek_query(by: &str) -> String {
    let cols = ENROLLMENT_COLS.replace("e.", "enrollments.");
    format!(
        "UPDATE enrollments SET last_seen_at = ?3 WHERE id = ({by})
         RETURNING {cols},
           NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = enrollments.id
             AND s.session_id = ?2)
           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = enrollments.id
             AND s.updated_at < ?4)
           AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = enrollments.id
             AND c.state = 'pending')
           AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = enrollments.id
             AND c.state = 'sent' AND c.session_id <> ?2)
           AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.enrollment_id = enrollments.id
             AND a.verified_at <= ?5)"
    )
}

/// [`peek_query`] by certificate thumbprint, made once.
static PEEK_BY_THUMBPRINT: LazyLock<String> = LazyLock::new(|| peek_query(BY_THUMBPRINT));
/// [`peek_query`] by DeviceID, made once.
static PEEK_BY_DEVICE: LazyLock<String> = LazyLock::new(|| peek_query(BY_DEVICE));

/// [`open_query`] by certificate thumbprint, made once (not per message).
static OPEN_BY_THUMBPRINT: LazyLock<String> = LazyLock::new(|| open_query(BY_THUMBPRINT));
/// [`open_query`] by DeviceID, made once.
static OPEN_BY_DEVICE: LazyLock<String> = LazyLock::new(|| open_query(BY_DEVICE));

struct SqliteSession<'a> {
    conn: MutexGuard<'a, Connection>,
    enrollment_id: i64,
    session_id: String,
    open: bool,
    hints: Hints,
}

impl Drop for SqliteSession<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.exec("ROLLBACK", []);
        }
    }
}

/// A message's outcomes in one statement. `+` keeps the enrollment out of the index
/// choice: the rows are found by id from the outcomes (a search each), not by scanning
/// every command of the device, done ones included, against every outcome, which grew
/// with the device's history.
const RECORD_OUTCOMES: &str =
    "UPDATE commands SET state = 'done', status = x.status, original_error = x.error,
               results = x.results, done_at = ?2
             FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status,
                     value ->> 'error' AS error, value ->> 'results' AS results
                   FROM json_each(?1)) AS x
             WHERE commands.id = x.id AND +commands.enrollment_id = ?3
               AND commands.state <> 'done'
             RETURNING commands.id, commands.origin, commands.syncml";

impl SessionTx for SqliteSession<'_> {
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(read) = self.hints.snapshot.take() {
            return Ok(read);
        }
        Ok(self
            .conn
            .one(
                "SELECT snapshot FROM sessions WHERE enrollment_id = ?1 AND session_id = ?2",
                params![self.enrollment_id, self.session_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn pending(
        &mut self,
        limit: u32,
        skip: &[i64],
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        if !self.hints.may_have_pending() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, syncml, origin FROM commands WHERE enrollment_id = ?1 AND state = 'pending'
             ORDER BY id LIMIT ?2",
        )?;
        let asked = limit + skip.len() as u32;
        let rows: Vec<(i64, String, String)> = stmt
            .query_map(params![self.enrollment_id, asked], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        self.hints
            .read_pending(asked as usize, rows.len(), rows.iter().map(|r| r.0));
        Ok(rows
            .into_iter()
            .filter(|r| !skip.contains(&r.0))
            .take(limit as usize)
            .collect())
    }

    fn record_outcomes(
        &mut self,
        outcomes: &[NewOutcome<'_>],
        now: i64,
    ) -> Result<Vec<Recorded>, StoreError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        for o in outcomes {
            self.hints.taken(o.id);
        }
        let mut stmt = self.conn.prepare_cached(RECORD_OUTCOMES)?;
        let rows = stmt
            .query_map(
                params![outcomes_json(outcomes), now, self.enrollment_id],
                |r| {
                    Ok(Recorded {
                        id: r.get(0)?,
                        origin: r.get(1)?,
                        fragment: r.get(2)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(in_given_order(outcomes, rows))
    }

    fn mark_sent_all(&mut self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        for &id in ids {
            self.hints.taken(id);
        }
        let list = serde_json::to_string(ids).unwrap_or_default();
        self.conn.exec(
            "UPDATE commands SET state = 'sent', session_id = ?2, sent_at = ?3
             WHERE id IN (SELECT value FROM json_each(?1))",
            params![list, self.session_id, now],
        )?;
        Ok(())
    }

    fn requeue_abandoned(&mut self, idle_before: i64) -> Result<usize, StoreError> {
        let (requeue, drop_sessions) = self.hints.requeue_work(idle_before);
        let mut n = 0;
        if requeue {
            n = self.conn.exec(
                "UPDATE commands SET state = 'pending', session_id = NULL
                 WHERE enrollment_id = ?1 AND state = 'sent' AND session_id <> ?2
                   AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = ?1
                     AND s.session_id = commands.session_id AND s.updated_at >= ?3)",
                params![self.enrollment_id, self.session_id, idle_before],
            )?;
        }
        if n > 0 {
            self.hints.added_pending();
        }
        if drop_sessions {
            self.conn.exec(
                "DELETE FROM sessions WHERE enrollment_id = ?1 AND session_id <> ?2
                   AND updated_at < ?3",
                params![self.enrollment_id, self.session_id, idle_before],
            )?;
        }
        Ok(n)
    }

    fn take_due_verifications(
        &mut self,
        verified_before: i64,
        limit: u32,
    ) -> Result<Vec<Due>, StoreError> {
        if !self.hints.may_be_due(verified_before) {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "UPDATE assignments SET verified_at = NULL
             WHERE enrollment_id = ?1 AND profile_id IN (
               SELECT a.profile_id FROM assignments a
               WHERE a.enrollment_id = ?1 AND a.verified_at <= ?2
                 AND NOT EXISTS (SELECT 1 FROM profile_settings s
                   WHERE s.profile_id = a.profile_id AND s.enrollment_id = ?1
                     AND s.state = 'pending')
               ORDER BY a.verified_at, a.profile_id LIMIT ?3)
             RETURNING profile_id, revision,
               (SELECT syncml FROM profiles p WHERE p.id = assignments.profile_id
                 AND p.revision = assignments.revision)",
        )?;
        let mut due = stmt
            .query_map(params![self.enrollment_id, verified_before, limit], |r| {
                Ok(Due {
                    profile_id: r.get(0)?,
                    revision: r.get(1)?,
                    syncml: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        due.sort_by(|a, b| a.profile_id.cmp(&b.profile_id));
        Ok(due)
    }

    fn set_verified(&mut self, profile_id: &str, at: Option<i64>) -> Result<(), StoreError> {
        self.hints.verified(at);
        self.conn.exec(
            "UPDATE assignments SET verified_at = ?3 WHERE profile_id = ?1 AND enrollment_id = ?2",
            params![profile_id, self.enrollment_id, at],
        )?;
        Ok(())
    }

    fn queue(
        &mut self,
        fragments: &[String],
        origin: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.hints.added_pending();
        insert_commands(&self.conn, self.enrollment_id, fragments, origin, now)
    }

    fn set_setting(
        &mut self,
        profile_id: &str,
        locuri: &str,
        u: &SettingUpdate<'_>,
    ) -> Result<(), StoreError> {
        self.conn.exec(
            "UPDATE profile_settings SET state = ?4, status = ?5, original_error = ?6, actual = ?7,
               attempts = attempts + ?8
             WHERE profile_id = ?1 AND enrollment_id = ?2 AND locuri = ?3",
            params![
                profile_id,
                self.enrollment_id,
                locuri,
                u.state,
                u.status,
                u.original_error,
                u.actual,
                u.attempt as i64
            ],
        )?;
        Ok(())
    }

    fn profile_settings(&mut self, profile_id: &str) -> Result<Vec<SettingRow>, StoreError> {
        let sql = format!(
            "SELECT {SETTING_COLS} FROM profile_settings WHERE enrollment_id = ?1 AND profile_id = ?2 ORDER BY locuri"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![self.enrollment_id, profile_id], setting_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn profile_syncml(&mut self, profile_id: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .conn
            .one(
                "SELECT syncml, revision FROM profiles WHERE id = ?1",
                [profile_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn merge_inventory(&mut self, values: &[(String, String)]) -> Result<(), StoreError> {
        let current: String = self.conn.one(
            "SELECT inventory FROM enrollments WHERE id = ?1",
            [self.enrollment_id],
            |r| r.get(0),
        )?;
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&current).unwrap_or_default();
        for (k, v) in values {
            map.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        self.conn.exec(
            "UPDATE enrollments SET inventory = ?2 WHERE id = ?1",
            params![
                self.enrollment_id,
                serde_json::Value::Object(map).to_string()
            ],
        )?;
        Ok(())
    }

    fn set_dm_nonce(&mut self, nonce: &[u8]) -> Result<(), StoreError> {
        self.conn.exec(
            "UPDATE enrollments SET dm_nonce = ?2 WHERE id = ?1",
            params![self.enrollment_id, nonce],
        )?;
        Ok(())
    }

    fn unenrolled(&mut self, now: i64) -> Result<(), StoreError> {
        revoke_all(&self.conn, self.enrollment_id, now)
    }

    fn save(&mut self, snapshot: &[u8], now: i64) -> Result<(), StoreError> {
        self.conn.exec(
            "INSERT INTO sessions (enrollment_id, session_id, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (enrollment_id, session_id) DO UPDATE SET snapshot = excluded.snapshot,
               updated_at = excluded.updated_at",
            params![self.enrollment_id, self.session_id, snapshot, now],
        )?;
        if !self.hints.opened {
            self.conn.exec(
                "UPDATE enrollments SET last_seen_at = ?2 WHERE id = ?1",
                params![self.enrollment_id, now],
            )?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.conn.exec("COMMIT", [])?;
        self.open = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty directory of its own for a test (`winmdm-store-NAME-PID` in the temporary
    /// directory); the test removes it at the end.
    fn test_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("winmdm-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// With the query planner stability guarantee a cached statement is parsed once, not
    /// again for every new value bound (as it was for the newest enrollment of a device).
    #[test]
    fn cached_statements_are_not_parsed_again_for_new_values() {
        let dir = test_dir("qpsg");
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        let sql = format!(
            "SELECT {ENROLLMENT_COLS} FROM enrollments e WHERE e.device_id = ?1 ORDER BY e.id DESC LIMIT 1"
        );
        let reprepared = |conn: &Connection, devices: &[&str]| {
            for d in devices {
                let found = conn.one(&sql, [d], enrollment_row).optional().unwrap();
                assert!(found.is_none());
            }
            conn.prepare_cached(&sql)
                .unwrap()
                .get_status(rusqlite::StatementStatus::RePrepare)
        };
        let conn = store.lock();
        assert_eq!(reprepared(&conn, &["A", "B", "C"]), 0);
        // Without the guarantee the same statement is parsed again per new value.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, false)
            .unwrap();
        assert!(reprepared(&conn, &["D", "E", "F"]) >= 2);
        drop(conn);
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The background thread checkpoints the WAL with no message: pages written only to
    /// the WAL reach the database file, which a COMMIT below the autocheckpoint size
    /// does not do by itself.
    #[test]
    fn the_wal_is_checkpointed_in_the_background() {
        let dir = test_dir("ckpt");
        let db = dir.join("t.db");
        let store = SqliteStore::open(&db).unwrap();
        let conn = store.lock();
        let autocheckpoint: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, i64::from(AUTOCHECKPOINT_PAGES));
        // ~1 MB in one transaction: some 250 pages, all in the WAL after the COMMIT.
        conn.execute_batch(
            "CREATE TABLE filler (b BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 256) \
             INSERT INTO filler SELECT randomblob(4000) FROM n;",
        )
        .unwrap();
        drop(conn);
        let db_len = || std::fs::metadata(&db).unwrap().len();
        let wal_len = std::fs::metadata(dir.join("t.db-wal")).unwrap().len();
        assert!(wal_len > 1_000_000, "WAL {wal_len} bytes");
        // Bounded wait (the interval is 1 s): the checkpoint copies the pages over; no
        // other COMMIT follows, and this one stayed below both autocheckpoint sizes.
        let mut after = db_len();
        for _ in 0..200 {
            after = db_len();
            if after > 1_000_000 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            after > 1_000_000,
            "database {after} bytes: not checkpointed"
        );
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Under a writer that never pauses for long, a passive checkpoint seldom copies the
    /// WAL's last frame; the checkpoint thread still makes the WAL start over once it
    /// holds `wal_reset_frames` (the header's checkpoint sequence number, bytes 12-15,
    /// counts the restarts), so its file stays small, and nothing written is lost.
    #[test]
    fn the_wal_starts_over_under_a_writer_that_never_pauses() {
        let dir = test_dir("reset");
        let db = dir.join("t.db");
        let wal = dir.join("t.db-wal");
        let interval = std::time::Duration::from_millis(20);
        let store = SqliteStore::open_with(&db, 64, interval).unwrap();
        // Some 1,200 pages of rows, updated all over below, so that every checkpoint has
        // many pages to copy (as under device check-ins), not the same last page.
        store
            .lock()
            .execute_batch(
                "CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
                 INSERT INTO filler SELECT i, randomblob(200) FROM n;",
            )
            .unwrap();
        let restarts = || {
            let head = std::fs::read(&wal).unwrap_or_default();
            head.get(12..16)
                .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap()))
        };
        let first = restarts();
        // Small transactions for 2 s, each taking and releasing the store's lock as a
        // message does, a few thousand a second: more WAL frames a second than the
        // server writes under its peak of idle check-ins.
        let start = std::time::Instant::now();
        let mut written = 0u64;
        while start.elapsed() < std::time::Duration::from_secs(2) {
            let row = ((written * 7919) % 20000 + 1) as i64;
            store
                .lock()
                .exec("UPDATE filler SET b = randomblob(201) WHERE id = ?1", [row])
                .unwrap();
            written += 1;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let wal_len = std::fs::metadata(&wal).unwrap().len();
        assert!(
            restarts() >= first + 3,
            "the WAL did not start over 3 times in {written} transactions ({wal_len} bytes)"
        );
        // The table's first transaction alone is some 5 MB of WAL (4.8 MB at the end of
        // the test, measured); after it, SQLite's own autocheckpoint
        // ([`AUTOCHECKPOINT_PAGES`]) would let the WAL reach 40 MB (28 MB in these 2 s
        // with `wal_reset_frames` = `i64::MAX`, and no restart). Room for a busy machine.
        assert!(wal_len < 16 << 20, "WAL {wal_len} bytes");
        let changed: i64 = store
            .lock()
            .one(
                "SELECT COUNT(*) FROM filler WHERE length(b) = 201",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(changed as u64, written.min(20000), "an update was lost");
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Recording outcomes finds each command by its id, whatever the device's history:
    /// not by a scan of all the device's commands (the plan before `+`).
    #[test]
    fn outcomes_are_recorded_by_id_not_by_a_scan_of_the_device() {
        let dir = test_dir("plan");
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        let conn = store.lock();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {RECORD_OUTCOMES}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["[]", 0, 1], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|s| s.contains("INTEGER PRIMARY KEY")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|s| s.contains("commands_open")),
            "{plan:?}"
        );
        drop(stmt);
        drop(conn);
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
