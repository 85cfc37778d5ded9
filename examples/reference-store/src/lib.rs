//! Storage: one trait ([`Store`]) with two implementations, the embedded SQLite one
//! ([`SqliteStore`], the default) and PostgreSQL ([`PgStore`], `--db postgres://...`, for
//! several instances on one database).
//!
//! What is stored follows the lessons in `docs/server.md`: enrollments keyed by the
//! certificates issued to them (thumbprint), per-command state and results rather than
//! raw SyncML messages, the session engine's snapshot keyed by enrollment + SessionID,
//! and profile state per device per node. The trait is synchronous and every method is
//! one transaction; the server calls it from `spawn_blocking`. A management message is
//! one [`SessionTx`], opened by [`Store::open_message`] (find the enrollment, lock it, set
//! `last_seen_at`, read the snapshot): pull commands, record outcomes, save the
//! snapshot, commit, and only then answer the device. `docs/server.md` lists the
//! statements of a message; every statement is prepared once per connection.

use serde::Serialize;

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database said no.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("database: {0}")]
    Pg(#[from] ::postgres::Error),
    /// A one-time enrollment token that does not exist, expired or was used.
    #[error("enrollment token not valid")]
    TokenNotValid,
    /// No such row.
    #[error("not found")]
    NotFound,
    /// A PostgreSQL connection was closed after an error inside its transaction.
    #[error("database connection lost")]
    ConnectionLost,
    /// A write asked of a [`QuietTx`]: the message needs its transaction
    /// ([`Store::open_message`]) after all.
    #[error("the message needs a transaction")]
    NeedsTransaction,
}

/// An enrollment: one device certificate lineage (renewals keep the enrollment).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    /// Row id.
    pub id: i64,
    /// The DeviceID (SyncHdr Source).
    pub device_id: String,
    /// HWDevID from the enrollment request (not unique across clones).
    pub hw_dev_id: Option<String>,
    /// The user the enrollment authenticated.
    pub upn: Option<String>,
    /// `onpremise`, `token` or `federated`.
    pub auth: String,
    /// `active`, `unenrolled` or `replaced` (the device enrolled again with another key).
    pub state: String,
    /// DMAcc user name provisioned for MD5 digest.
    #[serde(skip)]
    pub dm_username: String,
    /// DMAcc password provisioned for MD5 digest.
    #[serde(skip)]
    pub dm_password: String,
    /// The nonce the device uses in its next MD5 digest.
    #[serde(skip)]
    pub dm_nonce: Vec<u8>,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// Unix seconds of the last management message.
    pub last_seen_at: Option<i64>,
    /// DevInfo/DevDetail values the device reported (LocURI to value).
    pub inventory: serde_json::Value,
    /// Thumbprint of the newest certificate.
    pub certificate_thumbprint: Option<String>,
    /// notAfter of the newest certificate (Unix seconds).
    pub certificate_not_after: Option<i64>,
}

/// What an enrollment is created with.
#[derive(Debug, Clone)]
pub struct NewEnrollment<'a> {
    /// DeviceID.
    pub device_id: &'a str,
    /// HWDevID.
    pub hw_dev_id: Option<&'a str>,
    /// User.
    pub upn: Option<&'a str>,
    /// Authentication used.
    pub auth: &'a str,
    /// DMAcc user name.
    pub dm_username: &'a str,
    /// DMAcc password.
    pub dm_password: &'a str,
    /// DMAcc first nonce (w7 APPSRV AAUTHDATA).
    pub dm_nonce: &'a [u8],
    /// The first certificate.
    pub cert: NewCertificate<'a>,
    /// Commands queued for the first session, as `(origin, fragment)`, in the
    /// enrollment's transaction (a retry joining an existing enrollment queues nothing).
    pub first_commands: &'a [(&'a str, &'a str)],
}

/// What [`Store::create_enrollment`] did.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The enrollment as stored after the call: the new one, or the one a retry joined
    /// (with its DMAcc credentials, which the provisioning document must repeat).
    pub enrollment: Enrollment,
    /// `false` when the request repeated an enrollment of the same DeviceID and key: the
    /// certificate joined that enrollment.
    pub created: bool,
    /// Enrollments of the same DeviceID that this one replaced (now `replaced`, their
    /// certificates revoked).
    pub replaced: Vec<i64>,
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Answered (`done`) commands.
    pub commands: u64,
    /// Session snapshots.
    pub sessions: u64,
}

/// A certificate issued to an enrollment.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    /// SHA-1 thumbprint, uppercase hex.
    pub thumbprint: &'a str,
    /// Serial, hex.
    pub serial: &'a str,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lowercase hex: a retried
    /// enrollment request carries the same key.
    pub key_sha256: &'a str,
}

/// A command as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommandRow {
    /// Command id (the engine's tag).
    pub id: i64,
    /// The enrollment it is for.
    pub enrollment_id: i64,
    /// The SyncML command fragment.
    pub syncml: String,
    /// Who queued it: `admin`, `profile:ID@REV:install:N`, `profile:ID@REV:verify`, ...
    pub origin: String,
    /// `pending`, `sent` or `done`.
    pub state: String,
    /// The device's status code, once answered.
    pub status: Option<i64>,
    /// `msft:originalerror`, when the device gave one.
    pub original_error: Option<String>,
    /// Results (Get): JSON array of `{locuri, format, data}`.
    pub results: Option<serde_json::Value>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A profile as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProfileRow {
    /// Profile id (chosen by the admin).
    pub id: String,
    /// The SyncML fragment.
    pub syncml: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// 1 when created, one more each time the text changes ([`Store::put_profile`]).
    pub revision: i64,
}

/// A revision of a profile to deploy to an enrollment ([`Store::assign`],
/// [`Store::redeploy`]).
#[derive(Debug, Clone, Copy)]
pub struct Deployment<'a> {
    /// The profile.
    pub profile_id: &'a str,
    /// Its revision ([`ProfileRow::revision`]) the commands are of: the origin of each is
    /// `profile:ID@REV:install:N` (`N`: the index in `install`).
    pub revision: i64,
    /// The nodes it sets (each one row, `pending`).
    pub locuris: &'a [String],
    /// Its install commands, in order.
    pub install: &'a [String],
}

/// One node a profile sets on one device, with its state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingRow {
    /// The profile.
    pub profile_id: String,
    /// The node.
    pub locuri: String,
    /// `pending`, `sent`, `verified`, `failed` or `drift`.
    pub state: String,
    /// Status code of the failure.
    pub status: Option<i64>,
    /// `msft:originalerror` of the failure.
    pub original_error: Option<String>,
    /// What the device answered when it differs (drift).
    pub actual: Option<String>,
    /// Deliveries so far.
    pub attempts: i64,
}

/// Storage behind the server. Each method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// Enrolls a device, idempotently per DeviceID: in one transaction, serialised per
    /// DeviceID across instances, either
    ///
    /// * an active enrollment of the same DeviceID already has a certificate for the same
    ///   key (`key_sha256`): the request is a retry (the device did not get the first
    ///   answer, or a second instance got the same request), the certificate joins that
    ///   enrollment and it is returned with its DMAcc credentials (`created: false`); a
    ///   one-time token already used by that enrollment is accepted again; or
    /// * a new enrollment is created with its first certificate and `first_commands`,
    ///   `token_hash` (a one-time enrollment token) is consumed, and every other active
    ///   enrollment of the DeviceID becomes `replaced` with its certificates revoked.
    ///
    /// A token that is unknown, expired or used by another enrollment is
    /// [`StoreError::TokenNotValid`] and nothing is stored.
    fn create_enrollment(
        &self,
        e: &NewEnrollment<'_>,
        token_hash: Option<&str>,
        now: i64,
    ) -> Result<Enrolled, StoreError>;
    /// Adds a renewed certificate to an enrollment.
    fn add_certificate(
        &self,
        enrollment_id: i64,
        c: &NewCertificate<'_>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The enrollment a (not revoked) certificate belongs to.
    fn enrollment_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Enrollment>, StoreError>;
    /// The newest enrollment of a device.
    fn enrollment_by_device(&self, device_id: &str) -> Result<Option<Enrollment>, StoreError>;
    /// Every enrollment, newest first.
    fn enrollments(&self) -> Result<Vec<Enrollment>, StoreError>;
    /// Stores a one-time enrollment token (its hash).
    fn create_token(&self, hash: &str, expires_at: i64, now: i64) -> Result<(), StoreError>;
    /// Whether a token is usable (exists, unused, not expired).
    fn token_usable(&self, hash: &str, now: i64) -> Result<bool, StoreError>;
    /// The enrollment that used a token, if it was used (a retried enrollment request
    /// may present it again, see [`Store::create_enrollment`]).
    fn token_used_by(&self, hash: &str) -> Result<Option<i64>, StoreError>;
    /// Queues commands; returns their ids.
    fn queue_commands(
        &self,
        enrollment_id: i64,
        fragments: &[String],
        origin: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// A command by id.
    fn command(&self, id: i64) -> Result<Option<CommandRow>, StoreError>;
    /// The commands of an enrollment, newest first (at most `limit`).
    fn commands(&self, enrollment_id: i64, limit: u32) -> Result<Vec<CommandRow>, StoreError>;
    /// Creates or replaces a profile; its revision is one more when the text changed (1
    /// when new). Returns the profile as stored.
    fn put_profile(&self, id: &str, syncml: &str, now: i64) -> Result<ProfileRow, StoreError>;
    /// A profile.
    fn profile(&self, id: &str) -> Result<Option<ProfileRow>, StoreError>;
    /// Every profile.
    fn profiles(&self) -> Result<Vec<ProfileRow>, StoreError>;
    /// Assigns a profile revision, in one transaction: records the assignment (at
    /// `d.revision`), replaces the node state with `d.locuris` (pending), drops the
    /// profile's unsent install and verification commands (an earlier assignment's) and
    /// queues `d.install`.
    fn assign(&self, d: &Deployment<'_>, enrollment_id: i64, now: i64) -> Result<(), StoreError>;
    /// Brings an assignment to a newer revision, in one transaction: when the profile is
    /// assigned to the enrollment at a revision older than `d.revision`, drops the
    /// profile's unsent install and verification commands (the older revision's),
    /// queues `removal` (origin `profile:ID@REV:remove`), then does what
    /// [`Store::assign`] does. `false` (nothing changed) when the profile is not assigned
    /// or already at `d.revision` or newer.
    fn redeploy(
        &self,
        d: &Deployment<'_>,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The active enrollments a profile is assigned to at a revision older than
    /// `revision`, by id.
    fn outdated(&self, profile_id: &str, revision: i64) -> Result<Vec<i64>, StoreError>;
    /// Unassigns a profile: drops the assignment and its node state and the profile's
    /// unsent install and verification commands, and queues the removal commands, in
    /// one transaction.
    fn unassign(
        &self,
        profile_id: &str,
        enrollment_id: i64,
        removal: &[String],
        now: i64,
    ) -> Result<(), StoreError>;
    /// The profiles assigned to an enrollment.
    fn assigned(&self, enrollment_id: i64) -> Result<Vec<ProfileRow>, StoreError>;
    /// Per-node profile state of an enrollment.
    fn settings(&self, enrollment_id: i64) -> Result<Vec<SettingRow>, StoreError>;
    /// Deletes answered (`done`) commands whose `done_at` is before `done_before`, and
    /// session snapshots not updated since then (Unix seconds). Pending and sent
    /// commands are kept whatever their age.
    fn prune(&self, done_before: i64) -> Result<PruneReport, StoreError>;
    /// SQL statements sent to the database since the store was opened (every statement,
    /// `BEGIN` and `COMMIT` included; the migrations at open are not counted).
    fn statements(&self) -> u64;
    /// `"sqlite"` or `"postgres"`.
    fn kind(&self) -> &'static str;
    /// How many callers may usefully use the store at once: more only wait, each on a
    /// thread of its own (SQLite's one connection; PostgreSQL's pool). The server runs
    /// at most this many blocking tasks and queues the rest, in order.
    fn parallelism(&self) -> usize;
    /// Starts the transaction of one management message.
    fn session(
        &self,
        enrollment_id: i64,
        session_id: &str,
    ) -> Result<Box<dyn SessionTx + '_>, StoreError>;
    /// Starts the transaction of one management message from what the message names
    /// (the server's path: fewer statements than [`Store::enrollment_by_thumbprint`] and
    /// [`Store::session`]). In that transaction: finds the enrollment (none: rolled back,
    /// `Ok(None)`), takes the enrollment's lock as [`Store::session`] does, sets its
    /// `last_seen_at` to `now` (the returned [`Enrollment`] has it; rolled back with the
    /// rest when the transaction is not committed, and [`SessionTx::save`] does not
    /// write it again), reads the snapshot of `session_id` (what the first
    /// [`SessionTx::snapshot`] returns) and learns whether the enrollment has pending
    /// commands, commands sent in other sessions and other sessions' snapshots, so that
    /// [`SessionTx::pending`] and [`SessionTx::requeue_abandoned`] send no statement when
    /// they cannot find anything. The enrollment is returned whatever its state: whether
    /// it may be managed is the caller's to decide (and to drop the transaction if not).
    ///
    /// A command queued by another connection after this call (PostgreSQL) may be
    /// offered only in the device's next message.
    fn open_message(
        &self,
        key: MessageKey<'_>,
        session_id: &str,
        now: i64,
    ) -> Result<Option<OpenedMessage<'_>>, StoreError>;
    /// The idle check-in's way in, one statement with no transaction kept: finds the
    /// enrollment as [`Store::open_message`] does (none: `Ok(None)`), sets its
    /// `last_seen_at` to `now` and says whether the message is [`Peeked::quiet`]: no
    /// snapshot of `session_id` is stored, no command is pending, none was sent in
    /// another session, no other session's snapshot was last saved before
    /// `idle_before` (nothing for [`SessionTx::requeue_abandoned`] to do), and no
    /// assignment was verified at or before `verified_before` (nothing for
    /// [`SessionTx::take_due_verifications`] to take). A quiet
    /// message is answered by a new engine over a [`QuietTx`], with no lock held while
    /// it runs; a write it turns out to need ([`StoreError::NeedsTransaction`]) sends it
    /// through [`Store::open_message`].
    ///
    /// On PostgreSQL, when the statement waited for another message of the device, what
    /// it reads may predate that message's commit: it then sees the state that message
    /// started from, which was quiet only if that message wrote nothing it would see.
    fn peek_message(
        &self,
        key: MessageKey<'_>,
        session_id: &str,
        idle_before: i64,
        verified_before: i64,
        now: i64,
    ) -> Result<Option<Peeked>, StoreError>;
}

/// What [`Store::peek_message`] found.
#[derive(Debug, Clone)]
pub struct Peeked {
    /// The enrollment, with `last_seen_at` set.
    pub enrollment: Enrollment,
    /// Nothing to continue, deliver or requeue: a new engine over a [`QuietTx`] answers.
    pub quiet: bool,
}

/// The [`SessionTx`] of a [`Peeked::quiet`] message: the state the peek found (no
/// snapshot, nothing pending, nothing to requeue) and nothing else. Every write (but
/// of nothing: an empty [`SessionTx::mark_sent_all`] or [`SessionTx::record_outcomes`])
/// and every other read, and [`commit`](SessionTx::commit) after one, is
/// [`StoreError::NeedsTransaction`].
#[derive(Debug, Default)]
pub struct QuietTx {
    needed: bool,
}

impl QuietTx {
    fn write<T>(&mut self) -> Result<T, StoreError> {
        self.needed = true;
        Err(StoreError::NeedsTransaction)
    }
}

impl SessionTx for QuietTx {
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn pending(&mut self, _: u32, _: &[i64]) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(Vec::new())
    }
    fn mark_sent_all(&mut self, ids: &[i64], _: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write()
    }
    fn record_outcomes(
        &mut self,
        outcomes: &[NewOutcome<'_>],
        _: i64,
    ) -> Result<Vec<Recorded>, StoreError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        self.write()
    }
    fn requeue_abandoned(&mut self, _: i64) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn take_due_verifications(&mut self, _: i64, _: u32) -> Result<Vec<Due>, StoreError> {
        Ok(Vec::new())
    }
    fn set_verified(&mut self, _: &str, _: Option<i64>) -> Result<(), StoreError> {
        self.write()
    }
    fn queue(&mut self, _: &[String], _: &str, _: i64) -> Result<Vec<i64>, StoreError> {
        self.write()
    }
    fn set_setting(&mut self, _: &str, _: &str, _: &SettingUpdate<'_>) -> Result<(), StoreError> {
        self.write()
    }
    fn profile_settings(&mut self, _: &str) -> Result<Vec<SettingRow>, StoreError> {
        self.write()
    }
    fn profile_syncml(&mut self, _: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.write()
    }
    fn merge_inventory(&mut self, _: &[(String, String)]) -> Result<(), StoreError> {
        self.write()
    }
    fn set_dm_nonce(&mut self, _: &[u8]) -> Result<(), StoreError> {
        self.write()
    }
    fn unenrolled(&mut self, _: i64) -> Result<(), StoreError> {
        self.write()
    }
    fn save(&mut self, _: &[u8], _: i64) -> Result<(), StoreError> {
        self.write()
    }
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.needed {
            return Err(StoreError::NeedsTransaction);
        }
        Ok(())
    }
}

/// What names the enrollment of a management message ([`Store::open_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKey<'a> {
    /// The thumbprint of the client certificate: the enrollment it was issued to, while
    /// it is not revoked (as [`Store::enrollment_by_thumbprint`]).
    Thumbprint(&'a str),
    /// A DeviceID: its newest enrollment (as [`Store::enrollment_by_device`]), for a
    /// device that authenticates with DM digest.
    Device(&'a str),
}

impl<'a> MessageKey<'a> {
    /// The thumbprint or DeviceID, with `by_thumbprint` or `by_device` as the key says
    /// (a store's statement for each kind of key).
    pub fn pick<T>(self, by_thumbprint: T, by_device: T) -> (T, &'a str) {
        match self {
            MessageKey::Thumbprint(t) => (by_thumbprint, t),
            MessageKey::Device(d) => (by_device, d),
        }
    }
}

/// A management message's transaction and its enrollment ([`Store::open_message`]).
pub struct OpenedMessage<'s> {
    /// The enrollment, as locked and updated by the transaction.
    pub enrollment: Enrollment,
    /// The transaction (dropped without commit: rolled back).
    pub tx: Box<dyn SessionTx + 's>,
}

/// What a session transaction knows from [`Store::open_message`] about the enrollment's
/// commands and sessions, to skip statements that cannot find anything. A transaction
/// from [`Store::session`] knows nothing ([`Hints::unknown`]) and runs every statement.
#[derive(Debug)]
struct Hints {
    /// The snapshot read at open, not yet returned by [`SessionTx::snapshot`].
    snapshot: Option<Option<Vec<u8>>>,
    /// Commands in state `sent` in other sessions may exist.
    other_sent: bool,
    /// The oldest `updated_at` of another session's snapshot (`i64::MIN`: unknown).
    oldest_other: Option<i64>,
    /// Pending commands may exist.
    pending: bool,
    /// The oldest `verified_at` of the enrollment's assignments (`None`: none verified;
    /// `i64::MIN`: unknown), so that [`SessionTx::take_due_verifications`] looks only
    /// when one can be due.
    oldest_verified: Option<i64>,
    /// Ids a short [`SessionTx::pending`] read returned that are still pending in this
    /// transaction (`None`: no short read since the last change that may add pending
    /// commands). Empty: every pending command has been taken, none can be found.
    short_read: Option<Vec<i64>>,
    /// Opened by [`Store::open_message`]: `last_seen_at` is already set, and a short
    /// pending read is remembered (a transaction of [`Store::session`] reads again).
    opened: bool,
}

impl Hints {
    /// Nothing known: every statement runs.
    fn unknown() -> Self {
        Hints {
            snapshot: None,
            other_sent: true,
            oldest_other: Some(i64::MIN),
            pending: true,
            oldest_verified: Some(i64::MIN),
            short_read: None,
            opened: false,
        }
    }

    /// Whether [`SessionTx::pending`] can find anything.
    fn may_have_pending(&self) -> bool {
        self.pending && !self.short_read.as_ref().is_some_and(Vec::is_empty)
    }

    /// After a pending read that asked the database for `asked` rows and got `fetched`:
    /// when fewer, `ids` (those returned and those the caller skipped) are every pending
    /// command there can be, until something adds one.
    fn read_pending(&mut self, asked: usize, fetched: usize, ids: impl Iterator<Item = i64>) {
        self.short_read = (self.opened && fetched < asked).then(|| ids.collect());
    }

    /// A command left pending in this transaction (sent, or answered).
    fn taken(&mut self, id: i64) {
        if let Some(ids) = &mut self.short_read {
            ids.retain(|&i| i != id);
        }
    }

    /// Something may have added pending commands (queued, requeued).
    fn added_pending(&mut self) {
        self.pending = true;
        self.short_read = None;
    }

    /// Whether an assignment verified at or before `verified_before` can exist.
    fn may_be_due(&self, verified_before: i64) -> bool {
        self.oldest_verified.is_some_and(|t| t <= verified_before)
    }

    /// An assignment's `verified_at` set in this transaction.
    fn verified(&mut self, at: Option<i64>) {
        if let Some(at) = at {
            self.oldest_verified = Some(self.oldest_verified.map_or(at, |t| t.min(at)));
        }
    }

    /// Whether the requeue's UPDATE and DELETE can change anything.
    fn requeue_work(&self, idle_before: i64) -> (bool, bool) {
        (
            self.other_sent,
            self.oldest_other.is_some_and(|t| t < idle_before),
        )
    }
}

/// The transaction of one management message. Dropped without [`commit`](SessionTx::commit):
/// rolled back.
pub trait SessionTx {
    /// The stored engine snapshot of this session.
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` pending commands, oldest first, skipping ids in `skip`.
    fn pending(
        &mut self,
        limit: u32,
        skip: &[i64],
    ) -> Result<Vec<(i64, String, String)>, StoreError>;
    /// Records the outcomes of one message in one statement, each once (a command
    /// already done, another enrollment's, or an id given twice after its first is left
    /// alone), and returns those recorded with their origin and fragment, in the order
    /// given.
    fn record_outcomes(
        &mut self,
        outcomes: &[NewOutcome<'_>],
        now: i64,
    ) -> Result<Vec<Recorded>, StoreError>;
    /// Marks a command sent in this session ([`mark_sent_all`](SessionTx::mark_sent_all)
    /// of one).
    fn mark_sent(&mut self, id: i64, now: i64) -> Result<(), StoreError> {
        self.mark_sent_all(&[id], now)
    }
    /// Marks commands sent in this session, in one statement.
    fn mark_sent_all(&mut self, ids: &[i64], now: i64) -> Result<(), StoreError>;
    /// Records a command's outcome (once: a command already done is left alone);
    /// whether it did ([`record_outcomes`](SessionTx::record_outcomes) of one).
    fn record_outcome(
        &mut self,
        id: i64,
        status: Option<i64>,
        original_error: Option<&str>,
        results: Option<&serde_json::Value>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let outcome = NewOutcome {
            id,
            status,
            original_error,
            results,
        };
        Ok(!self.record_outcomes(&[outcome], now)?.is_empty())
    }
    /// At the start of a new session: puts commands sent in other sessions of this
    /// enrollment and never answered back to pending, when that session's snapshot was
    /// last saved before `idle_before` (Unix seconds) or is gone (the device abandoned
    /// it), and drops those sessions' snapshots. A session still in progress (on
    /// another instance, say) keeps its commands: none is delivered twice at once.
    fn requeue_abandoned(&mut self, idle_before: i64) -> Result<usize, StoreError>;
    /// At the start of a new session: up to `limit` of this enrollment's assignments
    /// verified at or before `verified_before` (`verified_at`, see
    /// [`SessionTx::set_verified`]) with no node `pending`, oldest first, in one
    /// statement that also marks them (`verified_at` NULL: not due again until a
    /// read-back sets it).
    fn take_due_verifications(
        &mut self,
        verified_before: i64,
        limit: u32,
    ) -> Result<Vec<Due>, StoreError>;
    /// Records when a profile's assignment to this enrollment was last verified with
    /// nothing left to deliver (`None`: not verified, or a correction is under way).
    /// [`Store::assign`] and [`Store::redeploy`] set `None`.
    fn set_verified(&mut self, profile_id: &str, at: Option<i64>) -> Result<(), StoreError>;
    /// Queues more commands (verification Gets, retries).
    fn queue(
        &mut self,
        fragments: &[String],
        origin: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Sets a profile node's state.
    fn set_setting(
        &mut self,
        profile_id: &str,
        locuri: &str,
        state: &SettingUpdate<'_>,
    ) -> Result<(), StoreError>;
    /// The settings of a profile on this enrollment.
    fn profile_settings(&mut self, profile_id: &str) -> Result<Vec<SettingRow>, StoreError>;
    /// A profile's fragment and revision.
    fn profile_syncml(&mut self, profile_id: &str) -> Result<Option<(String, i64)>, StoreError>;
    /// Merges reported inventory values.
    fn merge_inventory(&mut self, values: &[(String, String)]) -> Result<(), StoreError>;
    /// Stores the nonce the device uses in its next MD5 digest.
    fn set_dm_nonce(&mut self, nonce: &[u8]) -> Result<(), StoreError>;
    /// Marks the enrollment unenrolled (Alert 1226) and revokes its certificates.
    fn unenrolled(&mut self, now: i64) -> Result<(), StoreError>;
    /// Saves the engine snapshot and the last-seen time.
    fn save(&mut self, snapshot: &[u8], now: i64) -> Result<(), StoreError>;
    /// Commits.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// An assignment due for re-verification ([`SessionTx::take_due_verifications`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The profile.
    pub profile_id: String,
    /// The revision the device has.
    pub revision: i64,
    /// The profile's text, `None` when the profile is at another revision (a redeploy
    /// left undone): there is nothing to compare the device's nodes with.
    pub syncml: Option<String>,
}

/// A command's outcome to record ([`SessionTx::record_outcomes`]).
#[derive(Debug, Clone, Copy)]
pub struct NewOutcome<'a> {
    /// The command's id.
    pub id: i64,
    /// The device's status code.
    pub status: Option<i64>,
    /// `msft:originalerror`.
    pub original_error: Option<&'a str>,
    /// Results (Get), as stored ([`CommandRow::results`]).
    pub results: Option<&'a serde_json::Value>,
}

/// A command whose outcome [`SessionTx::record_outcomes`] recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The command's id.
    pub id: i64,
    /// Who queued it ([`CommandRow::origin`]).
    pub origin: String,
    /// Its SyncML fragment.
    pub fragment: String,
}

/// The outcomes as the stores' batch statements read them: a JSON array of
/// `{id, status, error, results}` (results as their JSON text), each id once (the first).
fn outcomes_json(outcomes: &[NewOutcome<'_>]) -> String {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<serde_json::Value> = outcomes
        .iter()
        .filter(|o| seen.insert(o.id))
        .map(|o| {
            serde_json::json!({
                "id": o.id,
                "status": o.status,
                "error": o.original_error,
                "results": o.results.map(|r| r.to_string()),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// `recorded` (in the store's order) in the order of `outcomes`.
fn in_given_order(outcomes: &[NewOutcome<'_>], mut recorded: Vec<Recorded>) -> Vec<Recorded> {
    let mut rank = std::collections::HashMap::with_capacity(outcomes.len());
    for (i, o) in outcomes.iter().enumerate() {
        rank.entry(o.id).or_insert(i);
    }
    recorded.sort_by_key(|r| rank.get(&r.id).copied());
    recorded
}

/// A profile node state change.
#[derive(Debug, Clone)]
pub struct SettingUpdate<'a> {
    /// New state.
    pub state: &'a str,
    /// Status code.
    pub status: Option<i64>,
    /// `msft:originalerror`.
    pub original_error: Option<&'a str>,
    /// What the device answered (drift).
    pub actual: Option<&'a str>,
    /// Count this as one more delivery.
    pub attempt: bool,
}
