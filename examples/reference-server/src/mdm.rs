//! The management endpoint: every SyncML message is its own POST.
//!
//! Per message, in one database transaction: check the client certificate against the
//! enrollment, restore the session engine from its snapshot (or start one), receive the
//! message, push pending commands while the engine has room, take the response, record
//! the outcomes and events, save the snapshot, commit; only then answer. A crash before
//! the commit loses nothing (the device retries and the old snapshot answers as if the
//! message were new); after it, neither (the retried MsgID gets the same bytes back and
//! pulls nothing). See `docs/server.md`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use winmdm_csp::profile::Profile;
use winmdm_enroll::pki::Thumbprint;
use winmdm_enroll::pki::der::Decode;
use winmdm_enroll::pki::x509_cert::Certificate;
use winmdm_omadm::alert::{DeviceAlert, GenericKind};
use winmdm_omadm::auth::{Credentials, ServerAuth, ServerNonces};
use winmdm_omadm::server::{
    DeviceEvent, Pushed, ServerConfig, ServerEvent, ServerPhase, ServerSession, SessionHeader,
    refusal_code,
};
use winmdm_omadm::snapshot::ServerSnapshot;
use winmdm_omadm::{Outcome, SessionError, SyncML};

use crate::App;
use crate::store::{
    Enrollment, MessageKey, NewOutcome, OpenedMessage, QuietTx, SessionTx, StoreError,
};
use crate::tls::Peer;

/// The SyncML DM content type.
pub const SYNCML_DM: &str = "application/vnd.syncml.dm+xml";

/// A session whose last message is older than this (seconds) counts as abandoned when
/// the device starts another: its unanswered commands go back to pending. A younger one
/// may still be running (two instances, two SessionIDs) and keeps its commands.
/// It is also how long an idle session counts as in progress (`Sessions`).
pub const ABANDONED_AFTER_SECS: i64 = 120;

/// Seconds a device is told to wait when the server is at its session limit.
const RETRY_AFTER_SECS: &str = "30";

/// Management requests in flight at most (`App::requests`) for `--max-sessions`: one
/// message per session in progress (a device waits for each answer), as many again and
/// 16 more for first messages being looked at (and turned away with 429 when no session
/// is free). Beyond it a request gets 429 with `Retry-After` before its body is decoded:
/// a flood of new sessions is bounded in threads and memory, and takes the permits of
/// sessions in progress only when more than `--max-sessions` + 16 of its requests are in
/// flight at once.
pub fn request_limit(max_sessions: usize) -> usize {
    max_sessions.saturating_mul(2).saturating_add(16)
}

/// The sessions in progress on this instance, at most `--max-sessions` (`App::sessions`).
///
/// A session's first message (MsgID 1 of a SessionID the device has not in progress
/// here) is admitted while fewer than the limit are in progress; any other message goes
/// through, and counts if there is room (a session begun on another instance or before
/// a restart). A device has one entry: its new session takes the place of its previous
/// one, which is over here. An entry ends when the session does (a response that ends
/// it, or a message answered with anything but a SyncML response that continues it) or
/// when it has been idle longer than `idle_secs` (`ABANDONED_AFTER_SECS`: the device
/// gave up; its next message, if any, still goes through). Time is passed in.
#[derive(Debug)]
pub struct Sessions {
    max: usize,
    idle_secs: i64,
    /// Device (certificate thumbprint, or DeviceID with DM digest) -> (SessionID, last
    /// message).
    open: HashMap<String, (String, i64)>,
    /// When idle entries were last dropped (at most once a second).
    swept_at: i64,
}

impl Sessions {
    /// At most `max` sessions, each counted until idle for more than `idle_secs`.
    pub fn new(max: usize, idle_secs: i64) -> Self {
        Sessions {
            max,
            idle_secs,
            open: HashMap::new(),
            swept_at: i64::MIN,
        }
    }

    /// Whether the message `msg_id` of `session` from `device` may go through at `now`.
    pub fn admit(&mut self, device: &str, session: &str, msg_id: u64, now: i64) -> bool {
        if let Some((s, seen)) = self.open.get_mut(device) {
            if s == session || msg_id == 1 {
                session.clone_into(s);
                *seen = now;
            }
            return true;
        }
        if self.open.len() >= self.max && now > self.swept_at {
            self.swept_at = now;
            let idle = self.idle_secs;
            self.open.retain(|_, (_, seen)| now - *seen <= idle);
        }
        if self.open.len() < self.max {
            self.open
                .insert(device.to_owned(), (session.to_owned(), now));
            return true;
        }
        msg_id != 1
    }

    /// After the message was answered: the session goes on (its idle time starts again)
    /// or is over.
    pub fn answered(&mut self, device: &str, session: &str, goes_on: bool, now: i64) {
        match self.open.get_mut(device) {
            Some((s, seen)) if s == session && goes_on => *seen = now,
            Some((s, _)) if s == session => {
                self.open.remove(device);
            }
            _ => {}
        }
    }

    /// Sessions in progress at `now` (not idle longer than the bound).
    pub fn in_progress(&self, now: i64) -> usize {
        let idle = self.idle_secs;
        self.open.values().filter(|(_, t)| now - *t <= idle).count()
    }
}

/// Marks a SyncML response after which the session goes on (`Sessions::answered`).
#[derive(Debug, Clone, Copy)]
struct GoesOn;

fn busy() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        "too many sessions in progress",
    )
        .into_response()
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// POST ManagementServer/MDM.svc.
pub async fn management(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(permit) = app.requests.clone().try_acquire_owned() else {
        return busy();
    };
    let a = app.clone();
    app.blocking(move || {
        let _permit = permit;
        let cert = client_certificate(&a, &peer, &headers);
        message(&a, cert.as_deref().map(Vec::as_slice), &body)
    })
    .await
    .unwrap_or_else(|| plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

/// Why a request gets 403 (logged, never sent: the device learns nothing).
fn forbidden(why: &str) -> Response {
    tracing::warn!(reason = why, "management request refused");
    plain(StatusCode::FORBIDDEN, "forbidden")
}

/// The device's certificate: the TLS client certificate, or, on a connection from a
/// `--trusted-proxy`, the one the proxy forwards in `--client-cert-header` (PEM,
/// URL-encoded as nginx's `$ssl_client_escaped_cert`, or base64 DER).
fn client_certificate(app: &App, peer: &Peer, headers: &HeaderMap) -> Option<Arc<Vec<u8>>> {
    if !app.trusted_proxies.contains(&peer.addr.ip()) {
        return peer.cert.clone();
    }
    let value = headers.get(&app.client_cert_header)?.to_str().ok()?;
    winmdm_enroll::pki::forwarded_certificate(value).map(Arc::new)
}

/// How the device proved who it is.
enum Identity {
    /// Its certificate.
    Certificate,
    /// OMA-DM MD5 digest with the DMAcc credentials provisioned (`--allow-dm-digest`,
    /// for a TLS-terminating proxy that forwards no certificate).
    Digest,
}

/// What names the message's enrollment and how the device proves it (and the 403's
/// reason when the store knows no such enrollment), or the 403.
fn identify<'a>(
    app: &App,
    cert: Option<&[u8]>,
    device_id: Option<&str>,
    name: &'a mut String,
) -> Result<(MessageKey<'a>, Identity, &'static str), Response> {
    match cert {
        Some(der) => {
            if !issued_by_our_ca(app, der) {
                return Err(forbidden("client certificate not issued by our CA"));
            }
            *name = Thumbprint::of(der).to_string();
            let key = MessageKey::Thumbprint(name);
            Ok((key, Identity::Certificate, "certificate unknown or revoked"))
        }
        None if app.allow_dm_digest => {
            *name = device_id
                .ok_or_else(|| forbidden("no SyncHdr Source"))?
                .to_ascii_uppercase();
            Ok((MessageKey::Device(name), Identity::Digest, "unknown device"))
        }
        None => Err(forbidden("no client certificate")),
    }
}

/// The 403 for an enrollment that may not be managed by this message, if so.
fn check(enrollment: &Enrollment, device_id: Option<&str>) -> Result<(), Response> {
    if enrollment.state != "active" {
        return Err(forbidden("enrollment not active"));
    }
    match device_id {
        Some(d) if d.eq_ignore_ascii_case(&enrollment.device_id) => Ok(()),
        _ => Err(forbidden("SyncHdr Source is not the certificate's device")),
    }
}

/// Most certificates remembered as issued by our CA; beyond it the set starts again.
const ISSUED_CACHE: usize = 100_000;

/// Whether the DER certificate parses and was issued by our CA (its signature verifies
/// with the CA key). That is a property of the bytes, so it is remembered by their
/// SHA-256; whether the certificate is known and not revoked is the store's to say.
fn issued_by_our_ca(app: &App, der: &[u8]) -> bool {
    use sha2::Digest;
    let key: [u8; 32] = sha2::Sha256::digest(der).into();
    let seen = || app.issued.lock().unwrap_or_else(|p| p.into_inner());
    if seen().contains(&key) {
        return true;
    }
    let ok = Certificate::from_der(der).is_ok_and(|c| app.ca.issued(&c));
    if ok {
        let mut set = seen();
        if set.len() >= ISSUED_CACHE {
            set.clear();
        }
        set.insert(key);
    }
    ok
}

fn store_failed(e: &StoreError) -> Response {
    tracing::error!(error = %e, "storage failed");
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable, retry later",
    )
}

fn message(app: &App, cert: Option<&[u8]>, body: &[u8]) -> Response {
    let msg = match winmdm_omadm::decode(body) {
        Ok(m) => m,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed SyncML: {e}")),
    };
    let hdr = match SessionHeader::read(&msg) {
        Ok(h) => h,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("SyncHdr: {e}")),
    };
    let span = tracing::info_span!(
        "mdm",
        device_id = hdr.device_id.unwrap_or("-"),
        session_id = hdr.session_id,
        msg_id = hdr.msg_id
    );
    let _entered = span.enter();
    let mut name = String::new();
    let (key, identity, unknown) = match identify(app, cert, hdr.device_id, &mut name) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let (MessageKey::Thumbprint(who) | MessageKey::Device(who)) = key;
    let sessions = || app.sessions.lock().unwrap_or_else(|p| p.into_inner());
    if !sessions().admit(who, hdr.session_id, hdr.msg_id, crate::unix_now()) {
        tracing::info!("session refused: at --max-sessions");
        return busy();
    }
    let response = exchange(app, &msg, &hdr, key, identity, unknown);
    let goes_on = response.extensions().get::<GoesOn>().is_some();
    sessions().answered(who, hdr.session_id, goes_on, crate::unix_now());
    response
}

/// A message from an identified device, admitted: peek or open its transaction, check
/// the enrollment, run the engine.
fn exchange(
    app: &App,
    msg: &SyncML<'_>,
    hdr: &SessionHeader<'_>,
    key: MessageKey<'_>,
    identity: Identity,
    unknown: &str,
) -> Response {
    let now = crate::unix_now();
    // A session's first message, certificate-authenticated: with nothing stored to
    // continue, deliver or requeue (an idle check-in), one statement and no lock while
    // the engine runs; a write it turns out to need takes the transaction below.
    if hdr.msg_id == 1 && matches!(identity, Identity::Certificate) {
        let idle_before = now - ABANDONED_AFTER_SECS;
        let verified_before = now - app.reverify_secs;
        match (app.store).peek_message(key, hdr.session_id, idle_before, verified_before, now) {
            Ok(None) => return forbidden(unknown),
            Ok(Some(p)) if p.quiet => {
                if let Err(r) = check(&p.enrollment, hdr.device_id) {
                    return r;
                }
                let tx = Box::new(QuietTx::default());
                match answer(app, tx, msg, hdr.msg_id, &p.enrollment, false) {
                    Err(StoreError::NeedsTransaction) => {}
                    done => return done.unwrap_or_else(|e| store_failed(&e)),
                }
            }
            Ok(Some(_)) => {}
            Err(e) => return store_failed(&e),
        }
    }
    let OpenedMessage { enrollment, tx } = match app.store.open_message(key, hdr.session_id, now) {
        Ok(Some(o)) => o,
        Ok(None) => return forbidden(unknown),
        Err(e) => return store_failed(&e),
    };
    if let Err(r) = check(&enrollment, hdr.device_id) {
        return r;
    }
    let digest = matches!(identity, Identity::Digest);
    answer(app, tx, msg, hdr.msg_id, &enrollment, digest).unwrap_or_else(|e| store_failed(&e))
}

/// Runs the engine over the message's transaction and commits; the response, or the
/// storage failure.
fn answer(
    app: &App,
    mut tx: Box<dyn SessionTx + '_>,
    msg: &SyncML<'_>,
    msg_id: u64,
    enrollment: &Enrollment,
    digest: bool,
) -> Result<Response, StoreError> {
    match run_engine(app, tx.as_mut(), msg, msg_id, enrollment, digest)? {
        Ok((xml, started, finished)) => {
            tx.commit()?;
            app.metrics.messages.fetch_add(1, Ordering::Relaxed);
            if started {
                app.metrics.sessions.fetch_add(1, Ordering::Relaxed);
            }
            let mut r = ([(header::CONTENT_TYPE, SYNCML_DM)], xml).into_response();
            if !finished {
                r.extensions_mut().insert(GoesOn);
            }
            Ok(r)
        }
        Err(refused) => Ok(refused),
    }
}

fn engine_for(
    app: &App,
    tx: &mut dyn SessionTx,
    msg_id: u64,
    digest: Option<&Enrollment>,
) -> Result<(ServerSession, bool), StoreError> {
    let mut cfg = ServerConfig::new(format!("{}/ManagementServer/MDM.svc", app.public_url));
    if let Some(e) = digest {
        let nonce = || rand::random::<[u8; 16]>().to_vec();
        let nonces = ServerNonces {
            current: e.dm_nonce.clone(),
            challenge: nonce(),
            next_session: nonce(),
        };
        cfg.auth = Some(ServerAuth::md5(
            Credentials::new(&e.dm_username, &e.dm_password),
            nonces,
        ));
    }
    let restored = tx
        .snapshot()?
        .and_then(|b| serde_json::from_slice::<ServerSnapshot>(&b).ok())
        .and_then(|s| ServerSession::restore(cfg.clone(), &s).ok());
    match restored {
        // A finished session whose SessionID the device uses again for a new one.
        Some(e) if e.phase() == ServerPhase::Finished && msg_id == 1 => {
            Ok((ServerSession::new(cfg), true))
        }
        Some(e) => Ok((e, false)),
        None => {
            let now = crate::unix_now();
            let n = tx.requeue_abandoned(now - ABANDONED_AFTER_SECS)?;
            if n > 0 {
                tracing::info!(
                    requeued = n,
                    "commands of an abandoned session queued again"
                );
            }
            reverify(app, tx, now)?;
            Ok((ServerSession::new(cfg), true))
        }
    }
}

/// Profiles re-verified per session at most.
const REVERIFY_PER_SESSION: u32 = 8;

/// At a new session: the verification Gets again for the assignments verified more than
/// `--reverify-secs` ago (a value changed on the device since is drift), a few per
/// session.
fn reverify(app: &App, tx: &mut dyn SessionTx, now: i64) -> Result<(), StoreError> {
    let due = tx.take_due_verifications(now - app.reverify_secs, REVERIFY_PER_SESSION)?;
    for d in due {
        let Some(p) = d.syncml.and_then(|s| Profile::parse(&s).ok()) else {
            continue;
        };
        let origin = format!("profile:{}@{}:verify", d.profile_id, d.revision);
        let gets = p.verify_commands_with(&app.catalog);
        if !gets.is_empty() {
            tx.queue(&gets, &origin, now)?;
        }
    }
    Ok(())
}

fn run_engine(
    app: &App,
    tx: &mut dyn SessionTx,
    msg: &SyncML<'_>,
    msg_id: u64,
    enrollment: &Enrollment,
    digest: bool,
) -> Result<Result<(String, bool, bool), Response>, StoreError> {
    let now = SystemTime::now();
    let now_s = crate::unix_now();
    let digest = digest.then_some(enrollment);
    let (mut engine, started) = engine_for(app, tx, msg_id, digest)?;
    if let Err(e) = engine.receive(msg, now) {
        return Ok(Err(refused(&engine, msg, &e)));
    }
    // Pull commands while the engine has room; a command that can never fit is failed.
    // Those taken are marked sent in one statement per batch, before the next read.
    let (mut sent, mut taken) = (false, Vec::new());
    'pull: while engine.command_room().is_some() {
        let batch = tx.pending(16, &[])?;
        if batch.is_empty() {
            break;
        }
        for (id, fragment, _origin) in batch {
            let parsed = winmdm_omadm::decode_commands(fragment.as_bytes());
            let Some(command) = parsed
                .ok()
                .and_then(|mut c| (c.len() == 1).then(|| c.remove(0)))
            else {
                tx.record_outcome(
                    id,
                    None,
                    Some("stored fragment is not one command"),
                    None,
                    now_s,
                )?;
                continue;
            };
            match engine.push_raw(id as u64, command) {
                Pushed::Sent => taken.push(id),
                Pushed::TooLarge => {
                    tx.record_outcome(
                        id,
                        None,
                        Some("larger than the device accepts"),
                        None,
                        now_s,
                    )?;
                }
                // The engine keeps a deferred command and sends it first in the next
                // message: from now on it is the engine's (and its snapshot's).
                Pushed::Deferred => {
                    taken.push(id);
                    break 'pull;
                }
                // Refused (or anything new): it stays pending for a later message.
                _ => break 'pull,
            }
        }
        sent |= !taken.is_empty();
        tx.mark_sent_all(&std::mem::take(&mut taken), now_s)?;
    }
    sent |= !taken.is_empty();
    tx.mark_sent_all(&taken, now_s)?;
    let response = match engine.respond() {
        Ok(r) => r,
        Err(e) => return Ok(Err(refused(&engine, msg, &e))),
    };
    let finished = engine.phase() == ServerPhase::Finished;
    let xml = match response.to_xml() {
        Ok(x) => x,
        Err(e) => {
            return Ok(Err(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("encode: {e}"),
            )));
        }
    };
    let mut outcomes = Vec::new();
    while let Some(event) = engine.poll_event() {
        match event {
            ServerEvent::Outcome(o) => outcomes.push(o),
            // Every session's package 1 repeats DevInfo: written only when it changed.
            ServerEvent::Device(DeviceEvent::DeviceInfo(values))
                if !known_inventory(&enrollment.inventory, &values) =>
            {
                tx.merge_inventory(&values)?
            }
            ServerEvent::Device(DeviceEvent::Alert(DeviceAlert::Generic(alerts)))
                if alerts
                    .iter()
                    .any(|a| a.kind == GenericKind::UnenrollmentUserRequest) =>
            {
                tracing::info!("device unenrolled (Alert 1226)");
                tx.unenrolled(now_s)?;
            }
            ServerEvent::Device(other) => tracing::debug!(event = ?other, "device event"),
            _ => {}
        }
    }
    record(tx, &app.catalog, &outcomes, now_s)?;
    if let (Some(_), Some(next)) = (digest, engine.nonce_for_next_session()) {
        tx.set_dm_nonce(next)?;
    }
    // A session that began and ended with this message (an idle check-in) leaves
    // nothing to continue: no snapshot is stored. It sent no command, so a retransmitted
    // message 1 starting it again delivers nothing twice.
    if started && !sent && finished {
        return Ok(Ok((xml, started, finished)));
    }
    match engine.snapshot() {
        Ok(s) => tx.save(&serde_json::to_vec(&s).unwrap_or_default(), now_s)?,
        Err(e) => tracing::error!(error = %e, "engine not idle after respond"),
    }
    Ok(Ok((xml, started, finished)))
}

/// The answer to a message the session engine read and refused (out of order, after the
/// session's end, expired, a `MaxMsgSize` too small, ...): the engine's
/// `refuse`, a SyncML message with only the SyncHdr Status of `refusal_code` (400, 406,
/// 408, 500) and Final, sent with HTTP 200. OMA-DM carries every SyncML answer in a
/// 200 response (its HTTP binding); any other HTTP status is a transport failure, which
/// Windows answers by retrying the message and then the session later, never reading
/// the body. The SyncHdr Status makes the device end the session. Nothing is stored
/// (the transaction is not committed), so the session's state is judged again on the
/// next message.
fn refused(engine: &ServerSession, msg: &SyncML<'_>, e: &SessionError) -> Response {
    let code = refusal_code(e);
    tracing::info!(error = %e, status = code.0, "message refused by the session engine");
    match engine.refuse(msg, code).to_xml() {
        Ok(xml) => ([(header::CONTENT_TYPE, SYNCML_DM)], xml).into_response(),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("encode: {e}")),
    }
}

/// Whether every reported value is already the stored one (read when the device was
/// identified for this message).
fn known_inventory(stored: &serde_json::Value, values: &[(String, String)]) -> bool {
    values
        .iter()
        .all(|(k, v)| stored.get(k).and_then(|s| s.as_str()) == Some(v.as_str()))
}

/// Results as stored: `[{"locuri", "format", "data"}]`.
pub fn results_json(o: &Outcome) -> Option<serde_json::Value> {
    if o.results.is_empty() {
        return None;
    }
    let items = o
        .results
        .iter()
        .map(|it| {
            serde_json::json!({
                "locuri": it.source_uri().or(it.target_uri()),
                "format": it.meta.as_ref().and_then(|m| m.format.as_deref()),
                "data": it.data.as_ref().map(|d| d.as_str()),
            })
        })
        .collect();
    Some(serde_json::Value::Array(items))
}

/// Records a message's outcomes (each once: one already recorded is left alone) and,
/// for each recorded, what its origin asks: inventory, unenrollment, profile state.
fn record(
    tx: &mut dyn SessionTx,
    catalog: &winmdm_csp::Catalog,
    outcomes: &[Outcome],
    now: i64,
) -> Result<(), StoreError> {
    let results: Vec<_> = outcomes.iter().map(results_json).collect();
    let rows: Vec<NewOutcome<'_>> = outcomes
        .iter()
        .zip(&results)
        .map(|(o, results)| NewOutcome {
            id: o.tag as i64,
            status: o.status.map(|s| i64::from(s.0)),
            original_error: o.original_error.as_deref(),
            results: results.as_ref(),
        })
        .collect();
    let mut first = std::collections::HashMap::with_capacity(outcomes.len());
    for o in outcomes.iter().rev() {
        first.insert(o.tag as i64, o);
    }
    for r in tx.record_outcomes(&rows, now)? {
        if let Some(o) = first.get(&r.id) {
            follow_up(tx, catalog, o, &r.origin, &r.fragment, now)?;
        }
    }
    Ok(())
}

fn follow_up(
    tx: &mut dyn SessionTx,
    catalog: &winmdm_csp::Catalog,
    o: &Outcome,
    origin: &str,
    fragment: &str,
    now: i64,
) -> Result<(), StoreError> {
    if origin == "inventory" {
        let values: Vec<(String, String)> = o
            .results
            .iter()
            .filter_map(|it| {
                let uri = it.source_uri().or(it.target_uri())?;
                Some((uri.to_owned(), it.data.as_ref()?.as_str().to_owned()))
            })
            .collect();
        tx.merge_inventory(&values)?;
    } else if origin == "unenroll" && o.is_success() {
        tracing::info!("device unenrolled (DMClient Unenroll)");
        tx.unenrolled(now)?;
    } else if let Some(rest) = origin.strip_prefix("profile:") {
        crate::admin::profile_outcome(tx, catalog, rest, fragment, o, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Sessions;

    #[test]
    fn sessions_are_admitted_up_to_the_limit_and_end_or_expire() {
        let mut t = Sessions::new(2, 120);
        assert!(t.admit("a", "1", 1, 0));
        assert!(t.admit("b", "1", 1, 0));
        // Full: a third device's first message waits; messages of admitted sessions
        // and of sessions this instance does not know go through, uncounted.
        assert!(!t.admit("c", "1", 1, 1));
        assert!(t.admit("a", "1", 2, 1));
        assert!(t.admit("c", "7", 3, 1));
        assert_eq!(t.in_progress(1), 2);
        // A device's new session takes its previous one's place.
        assert!(t.admit("b", "2", 1, 2));
        assert_eq!(t.in_progress(2), 2);
        t.answered("b", "1", false, 2); // the old session: nothing to free
        assert!(!t.admit("c", "1", 1, 2));
        // The session ends: its slot is free.
        t.answered("a", "1", false, 3);
        assert_eq!(t.in_progress(3), 1);
        assert!(t.admit("c", "1", 1, 3));
        assert!(!t.admit("d", "1", 1, 3));
        // One that goes on stays; idle longer than the bound, it no longer counts and
        // its slot is taken.
        t.answered("c", "1", true, 100);
        assert_eq!(t.in_progress(123), 1, "b (seen at 2) is idle, c is not");
        assert!(t.admit("d", "1", 1, 123));
        assert!(!t.admit("e", "1", 1, 123));
        assert!(t.open.len() <= 2);
        // Idle abandoned sessions free their slots for later ones.
        assert!(t.admit("e", "1", 1, 1000));
        assert!(t.admit("f", "1", 1, 1000));
        assert!(!t.admit("g", "1", 1, 1000));
        assert_eq!(t.in_progress(1000), 2);
    }

    #[test]
    fn at_zero_no_session_starts_and_other_messages_go_through() {
        let mut t = Sessions::new(0, 120);
        assert!(!t.admit("a", "1", 1, 0));
        assert!(t.admit("a", "1", 2, 0));
        assert_eq!(t.in_progress(0), 0);
    }
}
