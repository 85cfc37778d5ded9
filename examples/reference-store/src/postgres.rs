//! PostgreSQL, for several server instances on one database (`--db postgres://...`).
//!
//! A management message locks its enrollment row (`FOR NO KEY UPDATE`, or the `UPDATE`
//! of `last_seen_at` in [`Store::open_message`], which takes the same lock: two messages of
//! one device never run at once on two instances, while inserts that only reference the
//! enrollment, such as admin commands, do not wait) and reads the rest in statements that
//! start after the lock is held; pending commands are taken
//! `FOR UPDATE SKIP LOCKED`. The `postgres` crate is synchronous (it blocks on a small
//! runtime of its own per connection), so the store is used from blocking threads only,
//! as the trait requires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard};

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::{
    CommandRow, Deployment, Due, Enrolled, Enrollment, Hints, MessageKey, NewCertificate,
    NewEnrollment, NewOutcome, OpenedMessage, Peeked, ProfileRow, PruneReport, Recorded, SessionTx,
    SettingRow, SettingUpdate, Store, StoreError, in_given_order, outcomes_json,
};

/// Versioned migrations, applied in order at start (`schema_version` records the last).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_initial.sql"),
    include_str!("../migrations/postgres/0002_retries_retention.sql"),
    include_str!("../migrations/postgres/0003_sessions_by_age.sql"),
    include_str!("../migrations/postgres/0004_profile_revisions.sql"),
    include_str!("../migrations/postgres/0005_reverification.sql"),
    include_str!("../migrations/postgres/0006_lookup_indexes.sql"),
];

/// The advisory lock key that serialises migrations of instances starting at once.
const MIGRATION_LOCK: i64 = 0x7769_6e6d_646d; // "winmdm"

/// Connections kept open at most (PostgreSQL's default limit is 100 for all clients).
const POOL_SIZE: usize = 16;

type PgResult<T> = Result<T, postgres::Error>;

/// Statement parameters.
type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Prepared statements a connection keeps at most (the store has fewer than this).
const PREPARED_PER_CONNECTION: usize = 256;

/// A connection and the statements prepared on it, by SQL text: the client prepares a
/// statement given as text on every call (a round trip of its own), a prepared one is
/// only bound and executed.
struct PgClient {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl PgClient {
    fn new(client: Client) -> Self {
        PgClient {
            client,
            prepared: HashMap::new(),
        }
    }
}

struct Pool {
    idle: Vec<PgClient>,
    open: usize,
}

/// The PostgreSQL store: a small pool of connections.
pub struct PgStore {
    url: String,
    pool: Mutex<Pool>,
    freed: Condvar,
    statements: AtomicU64,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`, no TLS) and applies the
    /// migrations the database does not have yet.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        // Off any async runtime: the crate's client blocks on a runtime of its own.
        let client = std::thread::scope(|s| {
            s.spawn(|| -> Result<Client, StoreError> {
                let mut c = Client::connect(url, NoTls)?;
                migrate(&mut c)?;
                Ok(c)
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;
        Ok(PgStore {
            url: url.to_owned(),
            pool: Mutex::new(Pool {
                idle: vec![PgClient::new(client)],
                open: 1,
            }),
            freed: Condvar::new(),
            statements: AtomicU64::new(0),
        })
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let mut pool = self.lock_pool();
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(Conn {
                    store: self,
                    client: Some(c),
                });
            }
            if pool.open < POOL_SIZE {
                pool.open += 1;
                drop(pool);
                return match Client::connect(&self.url, NoTls) {
                    Ok(c) => Ok(Conn {
                        store: self,
                        client: Some(PgClient::new(c)),
                    }),
                    Err(e) => {
                        self.lock_pool().open -= 1;
                        self.freed.notify_one();
                        Err(e.into())
                    }
                };
            }
            pool = self.freed.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn rows<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        row: fn(&Row) -> PgResult<T>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.conn()?.query(sql, params)?;
        Ok(rows.iter().map(row).collect::<PgResult<_>>()?)
    }

    /// Runs `f` in one transaction: committed when it succeeds, rolled back otherwise.
    fn tx<T>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("BEGIN")?;
        match f(&mut conn) {
            Ok(v) => {
                if let Err(e) = conn.batch_execute("COMMIT") {
                    conn.discard();
                    return Err(e);
                }
                Ok(v)
            }
            Err(e) => {
                if conn.batch_execute("ROLLBACK").is_err() {
                    conn.discard();
                }
                Err(e)
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a client blocks on its runtime: not on an async runtime's thread.
        let idle = std::mem::take(&mut self.lock_pool().idle);
        let _ = std::thread::spawn(move || drop(idle)).join();
    }
}

/// A connection taken from the pool, given back on drop (unless it broke).
struct Conn<'a> {
    store: &'a PgStore,
    client: Option<PgClient>,
}

impl Conn<'_> {
    /// Closes the connection instead of giving it back (its state is unknown).
    fn discard(&mut self) {
        if self.client.take().is_some() {
            self.store.lock_pool().open -= 1;
            self.store.freed.notify_one();
        }
    }
}

/// Every statement goes through these, which count it ([`Store::statements`]) and
/// prepare it once per connection (preparing is not counted: it runs nothing).
impl Conn<'_> {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.store.statements.fetch_add(1, Ordering::Relaxed);
        Ok(&mut self
            .client
            .as_mut()
            .ok_or(StoreError::ConnectionLost)?
            .client)
    }

    /// The client and the statement `sql` prepared on it; counts one statement.
    fn prepared(&mut self, sql: &str) -> Result<(&mut Client, Statement), StoreError> {
        self.store.statements.fetch_add(1, Ordering::Relaxed);
        let c = self.client.as_mut().ok_or(StoreError::ConnectionLost)?;
        let stmt = match c.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = c.client.prepare(sql)?;
                if c.prepared.len() >= PREPARED_PER_CONNECTION {
                    c.prepared.clear();
                }
                c.prepared.insert(sql.to_owned(), s.clone());
                s
            }
        };
        Ok((&mut c.client, stmt))
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let (c, stmt) = self.prepared(sql)?;
        Ok(c.execute(&stmt, params)?)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let (c, stmt) = self.prepared(sql)?;
        Ok(c.query(&stmt, params)?)
    }

    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let (c, stmt) = self.prepared(sql)?;
        Ok(c.query_one(&stmt, params)?)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client()?.batch_execute(sql)?)
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let mut pool = self.store.lock_pool();
            if c.client.is_closed() {
                pool.open -= 1;
            } else {
                pool.idle.push(c);
            }
            drop(pool);
            self.store.freed.notify_one();
        }
    }
}

fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    // Held to the end of the transaction: a second instance waits, then finds the
    // migrations applied.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let have: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .try_get(0)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(have as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(i as i64 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

const ENROLLMENT_COLS: &str = "e.id, e.device_id, e.hw_dev_id, e.upn, e.auth, e.state, e.dm_username, \
    e.dm_password, e.enrolled_at, e.last_seen_at, e.inventory, e.dm_nonce, \
    (SELECT thumbprint FROM certificates c WHERE c.enrollment_id = e.id ORDER BY issued_at DESC, seq DESC LIMIT 1), \
    (SELECT not_after FROM certificates c WHERE c.enrollment_id = e.id ORDER BY issued_at DESC, seq DESC LIMIT 1)";

fn enrollment_row(r: &Row) -> PgResult<Enrollment> {
    let inventory: String = r.try_get(10)?;
    Ok(Enrollment {
        id: r.try_get(0)?,
        device_id: r.try_get(1)?,
        hw_dev_id: r.try_get(2)?,
        upn: r.try_get(3)?,
        auth: r.try_get(4)?,
        state: r.try_get(5)?,
        dm_username: r.try_get(6)?,
        dm_password: r.try_get(7)?,
        enrolled_at: r.try_get(8)?,
        last_seen_at: r.try_get(9)?,
        inventory: serde_json::from_str(&inventory).unwrap_or_default(),
        dm_nonce: r.try_get(11)?,
        certificate_thumbprint: r.try_get(12)?,
        certificate_not_after: r.try_get(13)?,
    })
}

const COMMAND_COLS: &str =
    "id, enrollment_id, syncml, origin, state, status, original_error, results, created_at";

fn command_row(r: &Row) -> PgResult<CommandRow> {
    let results: Option<String> = r.try_get(7)?;
    Ok(CommandRow {
        id: r.try_get(0)?,
        enrollment_id: r.try_get(1)?,
        syncml: r.try_get(2)?,
        origin: r.try_get(3)?,
        state: r.try_get(4)?,
        status: r.try_get(5)?,
        original_error: r.try_get(6)?,
        results: results.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: r.try_get(8)?,
    })
}

const SETTING_COLS: &str = "profile_id, locuri, state, status, original_error, actual, attempts";

fn setting_row(r: &Row) -> PgResult<SettingRow> {
    Ok(SettingRow {
        profile_id: r.try_get(0)?,
        locuri: r.try_get(1)?,
        state: r.try_get(2)?,
        status: r.try_get(3)?,
        original_error: r.try_get(4)?,
        actual: r.try_get(5)?,
        attempts: r.try_get(6)?,
    })
}

fn profile_row(r: &Row) -> PgResult<ProfileRow> {
    Ok(ProfileRow {
        id: r.try_get(0)?,
        syncml: r.try_get(1)?,
        updated_at: r.try_get(2)?,
        revision: r.try_get(3)?,
    })
}

/// Marks the profile's unsent commands but its removals done (moot): those of an
/// earlier deployment (`profile:ID:...` or `profile:ID@REV:...`). A removal stays
/// queued: a node an older revision set is deleted even when another revision follows.
fn drop_unsent(
    c: &mut Conn<'_>,
    profile_id: &str,
    enrollment_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE commands SET state = 'done', status = NULL, done_at = $3
         WHERE enrollment_id = $1 AND state = 'pending'
           AND left(origin, length($2::text) + 1) IN ($2::text || ':', $2::text || '@')
           AND origin NOT LIKE '%:remove'",
        &[&enrollment_id, &format!("profile:{profile_id}"), &now],
    )?;
    Ok(())
}

/// The node state of `d` (pending) instead of the profile's, and its install commands.
fn deploy(
    c: &mut Conn<'_>,
    d: &Deployment<'_>,
    enrollment_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM profile_settings WHERE profile_id = $1 AND enrollment_id = $2",
        &[&d.profile_id, &enrollment_id],
    )?;
    for l in d.locuris {
        c.execute(
            "INSERT INTO profile_settings (profile_id, enrollment_id, locuri) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&d.profile_id, &enrollment_id, l],
        )?;
    }
    for (i, f) in d.install.iter().enumerate() {
        let origin = format!("profile:{}@{}:install:{i}", d.profile_id, d.revision);
        insert_commands(c, enrollment_id, std::slice::from_ref(f), &origin, now)?;
    }
    Ok(())
}

fn insert_commands(
    c: &mut Conn<'_>,
    enrollment_id: i64,
    fragments: &[String],
    origin: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if fragments.is_empty() {
        return Ok(Vec::new());
    }
    // One round trip for all of them, inserted in the order given: the identity column
    // numbers the rows as they are inserted, so the ids in ascending order are the
    // fragments' order.
    let rows = c.query(
        "INSERT INTO commands (enrollment_id, syncml, origin, created_at)
         SELECT $1, f, $3, $4 FROM unnest($2::text[]) WITH ORDINALITY AS t(f, n) ORDER BY n
         RETURNING id",
        &[&enrollment_id, &fragments, &origin, &now],
    )?;
    let mut ids = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

const INSERT_CERTIFICATE: &str =
    "INSERT INTO certificates (thumbprint, enrollment_id, serial, not_after, issued_at, key_sha256)
     VALUES ($1, $2, $3, $4, $5, $6)";

fn insert_certificate(
    c: &mut Conn<'_>,
    enrollment_id: i64,
    cert: &NewCertificate<'_>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        INSERT_CERTIFICATE,
        &[
            &cert.thumbprint,
            &enrollment_id,
            &cert.serial,
            &cert.not_after,
            &now,
            &cert.key_sha256,
        ],
    )?;
    Ok(())
}

/// The enrollment of a retried request, or a new one (see [`Store::create_enrollment`]);
/// inside the caller's transaction, which holds the DeviceID's advisory lock.
fn enroll_in_tx(
    c: &mut Conn<'_>,
    e: &NewEnrollment<'_>,
    token_hash: Option<&str>,
    now: i64,
) -> Result<Enrolled, StoreError> {
    // Requests for one DeviceID, on any instance, one at a time (to the commit).
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('winmdm-enroll:' || $1, 0))",
        &[&e.device_id],
    )?;
    let retry: Option<i64> = c
        .query(
            "SELECT e.id FROM enrollments e JOIN certificates k ON k.enrollment_id = e.id
             WHERE e.device_id = $1 AND e.state = 'active' AND k.key_sha256 = $2
               AND k.revoked_at IS NULL
             ORDER BY e.id DESC LIMIT 1",
            &[&e.device_id, &e.cert.key_sha256],
        )?
        .first()
        .map(|r| r.try_get(0))
        .transpose()?;
    let mut replaced = Vec::new();
    let id = match retry {
        Some(id) => {
            if let Some(hash) = token_hash {
                let n = c.execute(
                    "UPDATE enrollment_tokens SET used_at = COALESCE(used_at, $2),
                       used_by = COALESCE(used_by, $3)
                     WHERE hash = $1 AND ((used_at IS NULL AND expires_at > $2) OR used_by = $3)",
                    &[&hash, &now, &id],
                )?;
                if n != 1 {
                    return Err(StoreError::TokenNotValid);
                }
            }
            id
        }
        None => {
            let id: i64 = c
                .query_one(
                    "INSERT INTO enrollments (device_id, hw_dev_id, upn, auth, dm_username,
                       dm_password, dm_nonce, enrolled_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &e.device_id,
                        &e.hw_dev_id,
                        &e.upn,
                        &e.auth,
                        &e.dm_username,
                        &e.dm_password,
                        &e.dm_nonce,
                        &now,
                    ],
                )?
                .try_get(0)?;
            if let Some(hash) = token_hash {
                // Two instances given the same token for two keys: the second waits for
                // the first's row lock, then finds used_at set and updates nothing.
                let n = c.execute(
                    "UPDATE enrollment_tokens SET used_at = $2, used_by = $3
                     WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
                    &[&hash, &now, &id],
                )?;
                if n != 1 {
                    return Err(StoreError::TokenNotValid);
                }
            }
            for r in c.query(
                "UPDATE enrollments SET state = 'replaced', unenrolled_at = $3
                 WHERE device_id = $1 AND state = 'active' AND id <> $2 RETURNING id",
                &[&e.device_id, &id, &now],
            )? {
                replaced.push(r.try_get::<_, i64>(0)?);
            }
            if !replaced.is_empty() {
                c.execute(
                    "UPDATE certificates SET revoked_at = $2
                     WHERE enrollment_id = ANY($1) AND revoked_at IS NULL",
                    &[&replaced, &now],
                )?;
            }
            for (origin, fragment) in e.first_commands {
                c.execute(
                    "INSERT INTO commands (enrollment_id, syncml, origin, created_at)
                     VALUES ($1, $2, $3, $4)",
                    &[&id, fragment, origin, &now],
                )?;
            }
            id
        }
    };
    insert_certificate(c, id, &e.cert, now)?;
    let sql = format!("SELECT {ENROLLMENT_COLS} FROM enrollments e WHERE e.id = $1");
    let enrollment = enrollment_row(&c.query_one(&sql, &[&id])?)?;
    Ok(Enrolled {
        enrollment,
        created: retry.is_none(),
        replaced,
    })
}

impl Store for PgStore {
    fn create_enrollment(
        &self,
        e: &NewEnrollment<'_>,
        token_hash: Option<&str>,
        now: i64,
    ) -> Result<Enrolled, StoreError> {
        self.tx(|c| enroll_in_tx(c, e, token_hash, now))
    }

    fn add_certificate(
        &self,
        enrollment_id: i64,
        c: &NewCertificate<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        insert_certificate(&mut self.conn()?, enrollment_id, c, now)
    }

    fn enrollment_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Enrollment>, StoreError> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLS} FROM certificates k JOIN enrollments e ON e.id = k.enrollment_id
             WHERE k.thumbprint = $1 AND k.revoked_at IS NULL"
        );
        Ok(self.rows(&sql, &[&thumbprint], enrollment_row)?.pop())
    }

    fn enrollment_by_device(&self, device_id: &str) -> Result<Option<Enrollment>, StoreError> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLS} FROM enrollments e WHERE e.device_id = $1 ORDER BY e.id DESC LIMIT 1"
        );
        Ok(self.rows(&sql, &[&device_id], enrollment_row)?.pop())
    }

    fn enrollments(&self) -> Result<Vec<Enrollment>, StoreError> {
        let sql = format!("SELECT {ENROLLMENT_COLS} FROM enrollments e ORDER BY e.id DESC");
        self.rows(&sql, &[], enrollment_row)
    }

    fn create_token(&self, hash: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO enrollment_tokens (hash, created_at, expires_at) VALUES ($1, $2, $3)",
            &[&hash, &now, &expires_at],
        )?;
        Ok(())
    }

    fn token_usable(&self, hash: &str, now: i64) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn()?
            .query_one(
                "SELECT COUNT(*) FROM enrollment_tokens WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[&hash, &now],
            )?
            .try_get(0)?;
        Ok(n == 1)
    }

    fn token_used_by(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        let used = self.rows(
            "SELECT used_by FROM enrollment_tokens WHERE hash = $1 AND used_at IS NOT NULL",
            &[&hash],
            |r| r.try_get::<_, Option<i64>>(0),
        )?;
        Ok(used.into_iter().next().flatten())
    }

    fn queue_commands(
        &self,
        enrollment_id: i64,
        fragments: &[String],
        origin: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.tx(|c| insert_commands(c, enrollment_id, fragments, origin, now))
    }

    fn command(&self, id: i64) -> Result<Option<CommandRow>, StoreError> {
        let sql = format!("SELECT {COMMAND_COLS} FROM commands WHERE id = $1");
        Ok(self.rows(&sql, &[&id], command_row)?.pop())
    }

    fn commands(&self, enrollment_id: i64, limit: u32) -> Result<Vec<CommandRow>, StoreError> {
        let sql = format!(
            "SELECT {COMMAND_COLS} FROM commands WHERE enrollment_id = $1 ORDER BY id DESC LIMIT $2"
        );
        self.rows(&sql, &[&enrollment_id, &i64::from(limit)], command_row)
    }

    fn put_profile(&self, id: &str, syncml: &str, now: i64) -> Result<ProfileRow, StoreError> {
        let row = self.conn()?.query_one(
            "INSERT INTO profiles (id, syncml, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET
               revision = profiles.revision
                 + CASE WHEN profiles.syncml <> excluded.syncml THEN 1 ELSE 0 END,
               syncml = excluded.syncml, updated_at = excluded.updated_at
             RETURNING id, syncml, updated_at, revision",
            &[&id, &syncml, &now],
        )?;
        Ok(profile_row(&row)?)
    }

    fn profile(&self, id: &str) -> Result<Option<ProfileRow>, StoreError> {
        let sql = "SELECT id, syncml, updated_at, revision FROM profiles WHERE id = $1";
        Ok(self.rows(sql, &[&id], profile_row)?.pop())
    }

    fn profiles(&self) -> Result<Vec<ProfileRow>, StoreError> {
        self.rows(
            "SELECT id, syncml, updated_at, revision FROM profiles ORDER BY id",
            &[],
            profile_row,
        )
    }

    fn assign(&self, d: &Deployment<'_>, enrollment_id: i64, now: i64) -> Result<(), StoreError> {
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO assignments (profile_id, enrollment_id, assigned_at, revision)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (profile_id, enrollment_id) DO UPDATE
                   SET assigned_at = excluded.assigned_at, revision = excluded.revision,
                     verified_at = NULL",
                &[&d.profile_id, &enrollment_id, &now, &d.revision],
            )?;
            drop_unsent(tx, d.profile_id, enrollment_id, now)?;
            deploy(tx, d, enrollment_id, now)
        })
    }

    fn redeploy(
        &self,
        d: &Deployment<'_>,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        self.tx(|tx| {
            // The row lock orders redeploys of one assignment: a second one waits, then
            // finds the revision already there.
            let n = tx.execute(
                "UPDATE assignments SET revision = $3, assigned_at = $4, verified_at = NULL
                 WHERE profile_id = $1 AND enrollment_id = $2 AND revision < $3",
                &[&d.profile_id, &enrollment_id, &d.revision, &now],
            )?;
            if n == 0 {
                return Ok(false);
            }
            drop_unsent(tx, d.profile_id, enrollment_id, now)?;
            let origin = format!("profile:{}@{}:remove", d.profile_id, d.revision);
            insert_commands(tx, enrollment_id, removal, &origin, now)?;
            deploy(tx, d, enrollment_id, now)?;
            Ok(true)
        })
    }

    fn outdated(&self, profile_id: &str, revision: i64) -> Result<Vec<i64>, StoreError> {
        self.rows(
            "SELECT a.enrollment_id FROM assignments a JOIN enrollments e ON e.id = a.enrollment_id
             WHERE a.profile_id = $1 AND a.revision < $2 AND e.state = 'active'
             ORDER BY a.enrollment_id",
            &[&profile_id, &revision],
            |r| r.try_get(0),
        )
    }

    fn unassign(
        &self,
        profile_id: &str,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                "DELETE FROM assignments WHERE profile_id = $1 AND enrollment_id = $2",
                &[&profile_id, &enrollment_id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "DELETE FROM profile_settings WHERE profile_id = $1 AND enrollment_id = $2",
                &[&profile_id, &enrollment_id],
            )?;
            // Commands of the profile not yet sent are moot now.
            drop_unsent(tx, profile_id, enrollment_id, now)?;
            insert_commands(
                tx,
                enrollment_id,
                removal,
                &format!("profile:{profile_id}:remove"),
                now,
            )?;
            Ok(())
        })
    }

    fn assigned(&self, enrollment_id: i64) -> Result<Vec<ProfileRow>, StoreError> {
        let sql = "SELECT p.id, p.syncml, p.updated_at, p.revision FROM assignments a
            JOIN profiles p ON p.id = a.profile_id WHERE a.enrollment_id = $1 ORDER BY p.id";
        self.rows(sql, &[&enrollment_id], profile_row)
    }

    fn settings(&self, enrollment_id: i64) -> Result<Vec<SettingRow>, StoreError> {
        let sql = format!(
            "SELECT {SETTING_COLS} FROM profile_settings WHERE enrollment_id = $1 ORDER BY profile_id, locuri"
        );
        self.rows(&sql, &[&enrollment_id], setting_row)
    }

    fn prune(&self, done_before: i64) -> Result<PruneReport, StoreError> {
        self.tx(|c| {
            let commands = c.execute(
                "DELETE FROM commands WHERE state = 'done' AND done_at < $1",
                &[&done_before],
            )?;
            let sessions = c.execute(
                "DELETE FROM sessions WHERE updated_at < $1",
                &[&done_before],
            )?;
            Ok(PruneReport { commands, sessions })
        })
    }

    fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn parallelism(&self) -> usize {
        POOL_SIZE
    }

    fn session(
        &self,
        enrollment_id: i64,
        session_id: &str,
    ) -> Result<Box<dyn SessionTx + '_>, StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("BEGIN")?;
        let mut s = PgSession {
            conn,
            enrollment_id,
            session_id: session_id.to_owned(),
            open: true,
            hints: Hints::unknown(),
        };
        // One message of a device at a time across instances; dropped on error: rolled back.
        s.conn.execute(
            "SELECT 1 FROM enrollments WHERE id = $1 FOR NO KEY UPDATE",
            &[&enrollment_id],
        )?;
        Ok(Box::new(s))
    }

    fn open_message(
        &self,
        key: MessageKey<'_>,
        session_id: &str,
        now: i64,
    ) -> Result<Option<OpenedMessage<'_>>, StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("BEGIN")?;
        let mut s = PgSession {
            conn,
            enrollment_id: 0,
            session_id: session_id.to_owned(),
            open: true,
            hints: Hints::unknown(),
        };
        // The UPDATE takes the row lock that `session` takes with FOR NO KEY UPDATE (it
        // changes no key column): one message of a device at a time across instances.
        let (by, name) = key.pick(OPEN_BY_THUMBPRINT, OPEN_BY_DEVICE);
        let sql = format!(
            "UPDATE enrollments e SET last_seen_at = $2 WHERE e.id = ({by})
             RETURNING {ENROLLMENT_COLS}"
        );
        let Some(row) = s.conn.query(&sql, &[&name, &now])?.pop() else {
            return Ok(None); // dropped: rolled back
        };
        let enrollment = enrollment_row(&row)?;
        s.enrollment_id = enrollment.id;
        // A statement of its own, after the lock: a statement that waited for the lock
        // sees other rows as they were when it started (READ COMMITTED), which would miss
        // what the message that held the lock committed (its session's snapshot).
        let row = s.conn.query_one(
            "SELECT (SELECT snapshot FROM sessions WHERE enrollment_id = $1 AND session_id = $2),
               EXISTS (SELECT 1 FROM commands WHERE enrollment_id = $1 AND state = 'sent'
                 AND session_id <> $2),
               (SELECT updated_at FROM sessions WHERE enrollment_id = $1
                 AND session_id <> $2 ORDER BY updated_at LIMIT 1),
               EXISTS (SELECT 1 FROM commands WHERE enrollment_id = $1 AND state = 'pending'),
               (SELECT MIN(verified_at) FROM assignments WHERE enrollment_id = $1)",
            &[&enrollment.id, &session_id],
        )?;
        s.hints = Hints {
            snapshot: Some(row.try_get(0)?),
            other_sent: row.try_get(1)?,
            oldest_other: row.try_get(2)?,
            pending: row.try_get(3)?,
            oldest_verified: row.try_get(4)?,
            short_read: None,
            opened: true,
        };
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
        let mut conn = self.conn()?;
        let Some(row) = conn
            .query(
                sql,
                &[&name, &now, &session_id, &idle_before, &verified_before],
            )?
            .pop()
        else {
            return Ok(None);
        };
        Ok(Some(Peeked {
            enrollment: enrollment_row(&row)?,
            quiet: row.try_get(14)?,
        }))
    }
}

/// The peek (`Store::peek_message`): `last_seen_at = $2` on the enrollment `by` names
/// (`$1`), returning it and whether the message of session `$3` is quiet (`$4`: the
/// requeue's `idle_before`, `$5`: `verified_before`). One statement: its subqueries read the snapshot the
/// statement started with (see `Store::peek_message`).
///
/// Its transaction (the statement's own) commits without waiting for the WAL flush
/// (`synchronous_commit` off, for this transaction only): all it writes is
/// `last_seen_at`, which a crash of PostgreSQL may lose and nothing depends on. The
/// `set_config` is in the `WHERE`, evaluated for the enrollment's row: with no row there
/// is nothing to commit.
fn peek_query(by: &str) -> String {
    format!(
        "UPDATE enrollments e SET last_seen_at = $2 WHERE e.id = ({by})
           AND set_config('synchronous_commit', 'off', true) = 'off'
         RETURNING {ENROLLMENT_COLS},
           NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = e.id
             AND s.session_id = $3)
           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = e.id
             AND s.updated_at < $4)
           AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = e.id
             AND c.state = 'pending')
           AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.enrollment_id = e.id
             AND c.state = 'sent' AND c.session_id <> $3)
           AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.enrollment_id = e.id
             AND a.verified_at <= $5)"
    )
}

/// [`peek_query`] by certificate thumbprint, made once.
static PEEK_BY_THUMBPRINT: LazyLock<String> = LazyLock::new(|| peek_query(OPEN_BY_THUMBPRINT));
/// [`peek_query`] by DeviceID, made once.
static PEEK_BY_DEVICE: LazyLock<String> = LazyLock::new(|| peek_query(OPEN_BY_DEVICE));

/// The enrollment id a not-revoked certificate names (`$1`).
const OPEN_BY_THUMBPRINT: &str =
    "SELECT enrollment_id FROM certificates WHERE thumbprint = $1 AND revoked_at IS NULL";
/// The newest enrollment id of a DeviceID (`$1`).
const OPEN_BY_DEVICE: &str =
    "SELECT id FROM enrollments WHERE device_id = $1 ORDER BY id DESC LIMIT 1";

struct PgSession<'a> {
    conn: Conn<'a>,
    enrollment_id: i64,
    session_id: String,
    open: bool,
    hints: Hints,
}

impl Drop for PgSession<'_> {
    fn drop(&mut self) {
        if self.open && self.conn.batch_execute("ROLLBACK").is_err() {
            self.conn.discard();
        }
    }
}

impl PgSession<'_> {
    fn rows<T>(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        row: fn(&Row) -> PgResult<T>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.conn.query(sql, params)?;
        Ok(rows.iter().map(row).collect::<PgResult<_>>()?)
    }
}

/// [`SessionTx::record_outcomes`]: `$1` the outcomes as JSON, `$2` now, `$3` the
/// enrollment, `$4` the outcomes' ids.
///
/// The rows are found by id through the primary key: `= ANY($4)` (which the
/// planner takes for a few rows) and not the join with the JSON alone, which it
/// takes for 100 rows: a plan made while the table was small joined a scan of
/// every command with them, and a connection kept it as the table grew (16 ms a
/// call after 15,000 commands). `+ 0` keeps the enrollment's index out of the
/// choice (a scan of every command of the device, which grows with its history).
const RECORD_OUTCOMES: &str = "UPDATE commands c SET state = 'done', status = x.status,
       original_error = x.error, results = x.results, done_at = $2
     FROM jsonb_to_recordset($1::text::jsonb)
       AS x(id BIGINT, status BIGINT, error TEXT, results TEXT)
     WHERE c.id = ANY($4) AND c.id = x.id AND c.enrollment_id + 0 = $3
       AND c.state <> 'done'
     RETURNING c.id, c.origin, c.syncml";

impl SessionTx for PgSession<'_> {
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(read) = self.hints.snapshot.take() {
            return Ok(read);
        }
        let (e, s) = (self.enrollment_id, self.session_id.clone());
        Ok(self
            .rows(
                "SELECT snapshot FROM sessions WHERE enrollment_id = $1 AND session_id = $2",
                &[&e, &s],
                |r| r.try_get(0),
            )?
            .pop())
    }

    fn pending(
        &mut self,
        limit: u32,
        skip: &[i64],
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        if !self.hints.may_have_pending() {
            return Ok(Vec::new());
        }
        let e = self.enrollment_id;
        let rows: Vec<(i64, String, String)> = self.rows(
            "SELECT id, syncml, origin FROM commands
             WHERE enrollment_id = $1 AND state = 'pending' AND NOT (id = ANY($3))
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&e, &i64::from(limit), &skip],
            |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        )?;
        // A short read: no other pending command is left for this transaction. A row
        // SKIP LOCKED passed over is one another transaction is changing while this one
        // holds the enrollment's lock (`unassign` making it done); should that roll
        // back, the command is offered in the next message, as it would be anyway.
        let ids = rows.iter().map(|r| r.0).chain(skip.iter().copied());
        self.hints.read_pending(limit as usize, rows.len(), ids);
        Ok(rows)
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
        let e = self.enrollment_id;
        let ids: Vec<i64> = outcomes.iter().map(|o| o.id).collect();
        let rows = self.rows(
            RECORD_OUTCOMES,
            &[&outcomes_json(outcomes), &now, &e, &ids],
            |r| {
                Ok(Recorded {
                    id: r.try_get(0)?,
                    origin: r.try_get(1)?,
                    fragment: r.try_get(2)?,
                })
            },
        )?;
        Ok(in_given_order(outcomes, rows))
    }

    fn mark_sent_all(&mut self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        for &id in ids {
            self.hints.taken(id);
        }
        self.conn.execute(
            "UPDATE commands SET state = 'sent', session_id = $2, sent_at = $3 WHERE id = ANY($1)",
            &[&ids, &self.session_id, &now],
        )?;
        Ok(())
    }

    fn requeue_abandoned(&mut self, idle_before: i64) -> Result<usize, StoreError> {
        let (e, s) = (self.enrollment_id, self.session_id.clone());
        let (requeue, drop_sessions) = self.hints.requeue_work(idle_before);
        let mut n = 0;
        if requeue {
            n = self.conn.execute(
                "UPDATE commands SET state = 'pending', session_id = NULL
                 WHERE enrollment_id = $1 AND state = 'sent' AND session_id <> $2
                   AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrollment_id = $1
                     AND s.session_id = commands.session_id AND s.updated_at >= $3)",
                &[&e, &s, &idle_before],
            )?;
        }
        if n > 0 {
            self.hints.added_pending();
        }
        if drop_sessions {
            self.conn.execute(
                "DELETE FROM sessions WHERE enrollment_id = $1 AND session_id <> $2
                   AND updated_at < $3",
                &[&e, &s, &idle_before],
            )?;
        }
        Ok(n as usize)
    }

    fn take_due_verifications(
        &mut self,
        verified_before: i64,
        limit: u32,
    ) -> Result<Vec<Due>, StoreError> {
        if !self.hints.may_be_due(verified_before) {
            return Ok(Vec::new());
        }
        let e = self.enrollment_id;
        let mut due = self.rows(
            "UPDATE assignments a SET verified_at = NULL
             WHERE a.enrollment_id = $1 AND a.profile_id IN (
               SELECT d.profile_id FROM assignments d
               WHERE d.enrollment_id = $1 AND d.verified_at <= $2
                 AND NOT EXISTS (SELECT 1 FROM profile_settings s
                   WHERE s.profile_id = d.profile_id AND s.enrollment_id = $1
                     AND s.state = 'pending')
               ORDER BY d.verified_at, d.profile_id LIMIT $3)
             RETURNING a.profile_id, a.revision,
               (SELECT syncml FROM profiles p WHERE p.id = a.profile_id
                 AND p.revision = a.revision)",
            &[&e, &verified_before, &i64::from(limit)],
            |r| {
                Ok(Due {
                    profile_id: r.try_get(0)?,
                    revision: r.try_get(1)?,
                    syncml: r.try_get(2)?,
                })
            },
        )?;
        due.sort_by(|a, b| a.profile_id.cmp(&b.profile_id));
        Ok(due)
    }

    fn set_verified(&mut self, profile_id: &str, at: Option<i64>) -> Result<(), StoreError> {
        self.hints.verified(at);
        self.conn.execute(
            "UPDATE assignments SET verified_at = $3 WHERE profile_id = $1 AND enrollment_id = $2",
            &[&profile_id, &self.enrollment_id, &at],
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
        insert_commands(&mut self.conn, self.enrollment_id, fragments, origin, now)
    }

    fn set_setting(
        &mut self,
        profile_id: &str,
        locuri: &str,
        u: &SettingUpdate<'_>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE profile_settings SET state = $4, status = $5, original_error = $6, actual = $7,
               attempts = attempts + $8
             WHERE profile_id = $1 AND enrollment_id = $2 AND locuri = $3",
            &[
                &profile_id,
                &self.enrollment_id,
                &locuri,
                &u.state,
                &u.status,
                &u.original_error,
                &u.actual,
                &(u.attempt as i64),
            ],
        )?;
        Ok(())
    }

    fn profile_settings(&mut self, profile_id: &str) -> Result<Vec<SettingRow>, StoreError> {
        let sql = format!(
            "SELECT {SETTING_COLS} FROM profile_settings WHERE enrollment_id = $1 AND profile_id = $2 ORDER BY locuri"
        );
        let e = self.enrollment_id;
        self.rows(&sql, &[&e, &profile_id], setting_row)
    }

    fn profile_syncml(&mut self, profile_id: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .rows(
                "SELECT syncml, revision FROM profiles WHERE id = $1",
                &[&profile_id],
                |r| Ok((r.try_get(0)?, r.try_get(1)?)),
            )?
            .pop())
    }

    fn merge_inventory(&mut self, values: &[(String, String)]) -> Result<(), StoreError> {
        let current: String = self
            .conn
            .query_one(
                "SELECT inventory FROM enrollments WHERE id = $1",
                &[&self.enrollment_id],
            )?
            .try_get(0)?;
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&current).unwrap_or_default();
        for (k, v) in values {
            map.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        self.conn.execute(
            "UPDATE enrollments SET inventory = $2 WHERE id = $1",
            &[
                &self.enrollment_id,
                &serde_json::Value::Object(map).to_string(),
            ],
        )?;
        Ok(())
    }

    fn set_dm_nonce(&mut self, nonce: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE enrollments SET dm_nonce = $2 WHERE id = $1",
            &[&self.enrollment_id, &nonce],
        )?;
        Ok(())
    }

    fn unenrolled(&mut self, now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE enrollments SET state = 'unenrolled', unenrolled_at = $2 WHERE id = $1",
            &[&self.enrollment_id, &now],
        )?;
        self.conn.execute(
            "UPDATE certificates SET revoked_at = $2 WHERE enrollment_id = $1 AND revoked_at IS NULL",
            &[&self.enrollment_id, &now],
        )?;
        Ok(())
    }

    fn save(&mut self, snapshot: &[u8], now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sessions (enrollment_id, session_id, snapshot, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (enrollment_id, session_id) DO UPDATE SET snapshot = excluded.snapshot,
               updated_at = excluded.updated_at",
            &[&self.enrollment_id, &self.session_id, &snapshot, &now],
        )?;
        if !self.hints.opened {
            self.conn.execute(
                "UPDATE enrollments SET last_seen_at = $2 WHERE id = $1",
                &[&self.enrollment_id, &now],
            )?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.open = false;
        if let Err(e) = self.conn.batch_execute("COMMIT") {
            self.conn.discard();
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of its own for a test (`winmdm_store_TEST_PID`) and an admin
    /// connection that drops it; `None` (skipped) without `WINMDM_TEST_POSTGRES` (a URL
    /// whose user may create databases).
    fn test_database(test: &str) -> Option<(String, Client, String)> {
        let Ok(admin_url) = std::env::var("WINMDM_TEST_POSTGRES") else {
            eprintln!("skipped: WINMDM_TEST_POSTGRES not set");
            return None;
        };
        let name = format!("winmdm_store_{test}_{}", std::process::id());
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("WINMDM_TEST_POSTGRES names no database: {admin_url}"),
        };
        let mut admin = Client::connect(&admin_url, NoTls).unwrap();
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).unwrap();
        }
        Some((url, admin, name))
    }

    /// The generic plan of [`RECORD_OUTCOMES`] finds the rows through the primary key
    /// when the statistics say the table is small and every command is done (a
    /// server's first minutes: the enrollments' commands, answered). Without `= ANY($4)`
    /// it was a scan of every command, and a pooled connection kept that plan while
    /// the table grew.
    #[test]
    fn recording_outcomes_finds_the_rows_by_id_in_the_generic_plan() {
        let Some((url, mut admin, name)) = test_database("outcomes_plan") else {
            return;
        };
        drop(PgStore::open(&url).unwrap());
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.batch_execute(
            "INSERT INTO enrollments (device_id, auth, dm_username, dm_password, enrolled_at)
               SELECT 'D' || g, 'onpremise', 'u', 'p', 1 FROM generate_series(1, 1000) g;
             INSERT INTO commands (enrollment_id, syncml, origin, created_at, state)
               SELECT 1 + g % 1000, repeat('x', 300), 'enroll', 1, 'done'
               FROM generate_series(1, 2000) g;
             ANALYZE;
             SET plan_cache_mode = force_generic_plan;",
        )
        .unwrap();
        c.batch_execute(&format!(
            "PREPARE record(text, bigint, bigint, bigint[]) AS {RECORD_OUTCOMES}"
        ))
        .unwrap();
        let plan: Vec<String> = c
            .query("EXPLAIN EXECUTE record('[]', 1, 1, '{1}')", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("commands_pkey") && !plan.contains("Seq Scan"),
            "{plan}"
        );
        drop(c);
        admin
            .batch_execute(&format!("DROP DATABASE {name}"))
            .unwrap();
    }

    /// The peek turns `synchronous_commit` off for its own transaction only: the pooled
    /// connection's next transaction (a message's `open_message`) commits as before.
    #[test]
    fn the_peeks_asynchronous_commit_does_not_outlive_it() {
        let Some((url, mut admin, name)) = test_database("peek") else {
            return;
        };
        let store = PgStore::open(&url).unwrap();
        let e = NewEnrollment {
            device_id: "DEV1",
            hw_dev_id: None,
            upn: None,
            auth: "onpremise",
            dm_username: "u",
            dm_password: "p",
            dm_nonce: b"n",
            cert: NewCertificate {
                thumbprint: "AA",
                serial: "01",
                not_after: 2_000_000_000,
                key_sha256: "k",
            },
            first_commands: &[],
        };
        store.create_enrollment(&e, None, 1).unwrap();
        let setting = |c: &mut Conn<'_>| -> String {
            c.query_one("SHOW synchronous_commit", &[]).unwrap().get(0)
        };
        assert_eq!(setting(&mut store.conn().unwrap()), "on");
        let p = store
            .peek_message(MessageKey::Thumbprint("AA"), "1", 0, 0, 5)
            .unwrap()
            .expect("found");
        assert!(p.quiet);
        assert_eq!(store.lock_pool().idle.len(), 1, "one pooled connection");
        assert_eq!(
            setting(&mut store.conn().unwrap()),
            "on",
            "reset at its commit"
        );
        let seen = store.enrollment_by_device("DEV1").unwrap().unwrap();
        assert_eq!(seen.last_seen_at, Some(5));
        drop(store);
        admin
            .batch_execute(&format!("DROP DATABASE {name}"))
            .unwrap();
    }
}
