//! The admin API under `/api/v1`: bearer token, JSON, described by the OpenAPI 3
//! document at `/api/v1/openapi.json` (generated from these handlers' types by utoipa).
//!
//! Profiles are desired state: assigning queues the profile's install commands; each
//! acknowledged setting is read back with a `Get` and compared by meaning
//! (`winmdm_csp::profile::verify`); a setting the device changed shows `drift`, one it
//! refused `failed`, and either is sent again (at most [`MAX_ATTEMPTS`] deliveries: a
//! refused one in the next session); unassigning deletes the nodes no other assigned
//! profile sets; changing an assigned profile redeploys it (a new revision: answers to an
//! older one's commands are ignored); 418 on Add is retried as Replace.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use winmdm_csp::profile::{
    InstallAnswer, Profile, SettingState, normalize_loc_uri, removal_commands,
};
use winmdm_enroll::types::constant_time_eq;
use winmdm_omadm::Outcome;

use crate::App;
use crate::store::{
    CommandRow, Deployment, Enrollment, ProfileRow, SessionTx, SettingRow, SettingUpdate,
    StoreError,
};

/// Most deliveries of one profile setting (the first and the retries after drift or a
/// refusal).
pub const MAX_ATTEMPTS: i64 = 3;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "winmdm reference server admin API", version = "1"),
    paths(
        list_devices, get_device, queue_commands, list_commands, get_command, device_profiles,
        assign_profile, unassign_profile, list_profiles, get_profile, put_profile, create_token,
        action, metrics
    ),
    components(schemas(Action)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let comps = openapi.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The admin routes (relative to `/api/v1`): every one behind [`require_admin`] except
/// the OpenAPI document.
pub fn routes(app: Arc<App>) -> Router<Arc<App>> {
    let protected = Router::new()
        .route("/devices", get(list_devices))
        .route("/devices/{device_id}", get(get_device))
        .route(
            "/devices/{device_id}/commands",
            post(queue_commands).get(list_commands),
        )
        .route("/commands/{id}", get(get_command))
        .route("/devices/{device_id}/profiles", get(device_profiles))
        .route(
            "/devices/{device_id}/profiles/{profile_id}",
            put(assign_profile).delete(unassign_profile),
        )
        .route("/devices/{device_id}/{action}", post(action))
        .route("/profiles", get(list_profiles))
        .route("/profiles/{profile_id}", put(put_profile).get(get_profile))
        .route("/enrollment-tokens", post(create_token))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(app, require_admin));
    Router::new()
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(protected)
}

/// Every admin route except the OpenAPI document starts with this: 401 unless the
/// `Authorization: Bearer` header carries the admin token.
pub async fn require_admin(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), app.admin_token.as_bytes()) => {
            next.run(req).await
        }
        _ => err(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"),
    }
}

/// Counters of this instance since it started (each instance of a deployment has its
/// own), and what its store sent to the database.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    /// SQL statements sent to the database since start (`BEGIN` and `COMMIT` included).
    pub db_statements: u64,
    /// Enrollments created since start (retried requests that joined one not counted).
    pub enrollments: u64,
    /// Management sessions started since start.
    pub sessions: u64,
    /// Management messages answered since start.
    pub messages: u64,
    /// Management sessions in progress on this instance now (begun and not ended, nor
    /// idle for longer than 2 minutes), at most `--max-sessions`.
    pub sessions_in_progress: u64,
    /// `sqlite` or `postgres`.
    pub store: String,
}

#[utoipa::path(get, path = "/api/v1/metrics", responses((status = 200, body = Metrics)))]
async fn metrics(State(app): State<Arc<App>>) -> Json<Metrics> {
    use std::sync::atomic::Ordering::Relaxed;
    let m = &app.metrics;
    let open = app
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .in_progress(crate::unix_now());
    Json(Metrics {
        db_statements: app.store.statements(),
        enrollments: m.enrollments.load(Relaxed),
        sessions: m.sessions.load(Relaxed),
        messages: m.messages.load(Relaxed),
        sessions_in_progress: open as u64,
        store: app.store.kind().to_owned(),
    })
}

/// An error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: String,
}

fn err(status: StatusCode, msg: &str) -> Response {
    (
        status,
        Json(ApiError {
            error: msg.to_owned(),
        }),
    )
        .into_response()
}

fn store_err(e: StoreError) -> Response {
    match e {
        StoreError::NotFound => err(StatusCode::NOT_FOUND, "not found"),
        e => {
            tracing::error!(error = %e, "admin API storage failure");
            err(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
    }
}

type ApiResult<T> = Result<T, Response>;

/// Runs `f` as one of the [`App::workers`] (`App::blocking`).
async fn blocking<T: Send + 'static>(
    workers: Arc<tokio::sync::Semaphore>,
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let internal = || Err(err(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
    let Ok(permit) = workers.acquire_owned().await else {
        return internal();
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .unwrap_or_else(|_| internal())
}

fn device(app: &App, device_id: &str) -> ApiResult<Enrollment> {
    app.store
        .enrollment_by_device(&device_id.to_ascii_uppercase())
        .map_err(store_err)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such device"))
}

#[utoipa::path(get, path = "/api/v1/devices", responses((status = 200, body = [Enrollment])))]
async fn list_devices(State(app): State<Arc<App>>) -> ApiResult<Json<Vec<Enrollment>>> {
    blocking(app.workers.clone(), move || {
        app.store.enrollments().map(Json).map_err(store_err)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/devices/{device_id}",
    params(("device_id" = String, Path, description = "DeviceID")),
    responses((status = 200, body = Enrollment), (status = 404, body = ApiError)))]
async fn get_device(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    blocking(app.workers.clone(), move || device(&app, &id).map(Json)).await
}

/// Raw SyncML to queue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommandsRequest {
    /// One or more SyncML commands (`<Get>...</Get><Replace>...</Replace>`); CmdIDs are
    /// renumbered by the session engine.
    pub syncml: String,
}

/// Ids of queued commands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandIds {
    /// One per top-level command, in order.
    pub command_ids: Vec<i64>,
}

/// Splits a fragment into one stored fragment per top-level command.
fn split_commands(syncml: &str) -> Result<Vec<String>, String> {
    let cmds = winmdm_omadm::decode_commands(syncml.as_bytes())
        .map_err(|e| format!("malformed SyncML: {e}"))?;
    if cmds.is_empty() {
        return Err("no command in the fragment".into());
    }
    if let Some(winmdm_omadm::Command::Unknown(raw)) = cmds
        .iter()
        .find(|c| matches!(c, winmdm_omadm::Command::Unknown(_)))
    {
        return Err(format!("<{}> is not a SyncML command", raw.name));
    }
    cmds.iter()
        .map(|c| {
            let mut out = Vec::new();
            winmdm_omadm::syncml::encode_commands(
                std::slice::from_ref(c),
                &mut out,
                &Default::default(),
            )
            .map_err(|e| e.to_string())?;
            String::from_utf8(out).map_err(|e| e.to_string())
        })
        .collect()
}

#[utoipa::path(post, path = "/api/v1/devices/{device_id}/commands", request_body = CommandsRequest,
    params(("device_id" = String, Path, description = "DeviceID")),
    responses((status = 201, body = CommandIds), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn queue_commands(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(req): Json<CommandsRequest>,
) -> ApiResult<(StatusCode, Json<CommandIds>)> {
    blocking(app.workers.clone(), move || {
        let e = device(&app, &id)?;
        let fragments =
            split_commands(&req.syncml).map_err(|m| err(StatusCode::BAD_REQUEST, &m))?;
        let ids = app
            .store
            .queue_commands(e.id, &fragments, "admin", crate::unix_now())
            .map_err(store_err)?;
        Ok((StatusCode::CREATED, Json(CommandIds { command_ids: ids })))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/devices/{device_id}/commands",
    params(("device_id" = String, Path, description = "DeviceID")),
    responses((status = 200, body = [CommandRow])))]
async fn list_commands(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<CommandRow>>> {
    blocking(app.workers.clone(), move || {
        let e = device(&app, &id)?;
        app.store.commands(e.id, 500).map(Json).map_err(store_err)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/commands/{id}", params(("id" = i64, Path, description = "command id")),
    responses((status = 200, body = CommandRow), (status = 404, body = ApiError)))]
async fn get_command(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CommandRow>> {
    blocking(app.workers.clone(), move || {
        app.store
            .command(id)
            .map_err(store_err)?
            .map(Json)
            .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such command"))
    })
    .await
}

/// A profile: a SyncML fragment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProfileRequest {
    /// Add/Replace/Delete/Exec commands, possibly in an Atomic.
    pub syncml: String,
}

/// One lint finding.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LintFinding {
    /// `error` or `warning`.
    pub severity: String,
    /// The rule.
    pub rule: String,
    /// Message.
    pub message: String,
    /// LocURI, if any.
    pub locuri: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A profile refused by the linter.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LintRejection {
    /// Why.
    pub error: String,
    /// The findings.
    pub findings: Vec<LintFinding>,
}

#[utoipa::path(put, path = "/api/v1/profiles/{profile_id}", request_body = ProfileRequest,
    params(("profile_id" = String, Path, description = "profile id")),
    responses((status = 200, body = ProfileRow), (status = 400, body = LintRejection)))]
async fn put_profile(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(req): Json<ProfileRequest>,
) -> ApiResult<Json<ProfileRow>> {
    blocking(app.workers.clone(), move || {
        let id_ok = (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
        if !id_ok {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "profile id: 1-128 of A-Z a-z 0-9 - _ .",
            ));
        }
        let findings =
            winmdm_csp::lint_profile(&app.catalog, req.syncml.as_bytes(), &Default::default())
                .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        let errors: Vec<LintFinding> = findings
            .iter()
            .filter(|f| f.severity == winmdm_csp::Severity::Error)
            .map(|f| LintFinding {
                severity: "error".into(),
                rule: format!("{:?}", f.rule),
                message: f.message.clone(),
                locuri: f.locuri.clone(),
                line: f.line,
                column: f.column,
            })
            .collect();
        let parsed = Profile::parse(&req.syncml);
        if !errors.is_empty() || parsed.is_err() {
            let error = match parsed {
                Err(e) => format!("profile: {e}"),
                Ok(_) => "the profile has lint errors".into(),
            };
            return Err((
                StatusCode::BAD_REQUEST,
                Json(LintRejection {
                    error,
                    findings: errors,
                }),
            )
                .into_response());
        }
        let now = crate::unix_now();
        let row = app
            .store
            .put_profile(&id, &req.syncml, now)
            .map_err(store_err)?;
        if let Ok(new) = parsed {
            redeploy(&app, &row, &new, now)?;
        }
        Ok(Json(row))
    })
    .await
}

/// A changed profile is desired state too: every active device it is assigned to at an
/// older revision gets this one, in one store transaction per device
/// ([`crate::store::Store::redeploy`]): the old revision's unsent commands dropped, a
/// Delete of each node only the old revision set (none that another assigned profile
/// still sets), the new revision's install commands, its nodes pending. The old nodes
/// are the device's node rows (those of the revision it has), so the same PUT repeated
/// after a failure (a server stopped half-way) brings the devices left behind up to date.
fn redeploy(app: &App, row: &ProfileRow, new: &Profile, now: i64) -> ApiResult<()> {
    let uris: Vec<String> = new.settings().iter().map(|s| s.loc_uri.clone()).collect();
    let install = new.install_commands();
    let d = Deployment {
        profile_id: &row.id,
        revision: row.revision,
        locuris: &uris,
        install: &install,
    };
    for e in app
        .store
        .outdated(&row.id, row.revision)
        .map_err(store_err)?
    {
        let others: Vec<Profile> = (app.store.assigned(e).map_err(store_err)?.iter())
            .filter(|r| r.id != row.id)
            .filter_map(|r| Profile::parse(&r.syncml).ok())
            .collect();
        let keep: Vec<&Profile> = others.iter().chain(std::iter::once(new)).collect();
        let nodes = app.store.settings(e).map_err(store_err)?;
        let removal =
            deployed(&nodes, &row.id).map_or_else(Vec::new, |old| removal_commands(&old, &keep));
        app.store
            .redeploy(&d, e, &removal, now)
            .map_err(store_err)?;
    }
    Ok(())
}

/// The nodes of profile `pid` a device has (its node rows), as a profile of Replaces.
fn deployed(rows: &[SettingRow], pid: &str) -> Option<Profile> {
    let esc = |u: &str| {
        u.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let items: String = (rows.iter().filter(|r| r.profile_id == pid))
        .map(|r| {
            format!(
                "<Item><Target><LocURI>{}</LocURI></Target></Item>",
                esc(&r.locuri)
            )
        })
        .collect();
    Profile::parse(&format!("<Replace><CmdID>1</CmdID>{items}</Replace>")).ok()
}

#[utoipa::path(get, path = "/api/v1/profiles", responses((status = 200, body = [ProfileRow])))]
async fn list_profiles(State(app): State<Arc<App>>) -> ApiResult<Json<Vec<ProfileRow>>> {
    blocking(app.workers.clone(), move || {
        app.store.profiles().map(Json).map_err(store_err)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/profiles/{profile_id}", params(("profile_id" = String, Path, description = "profile id")),
    responses((status = 200, body = ProfileRow), (status = 404, body = ApiError)))]
async fn get_profile(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProfileRow>> {
    blocking(app.workers.clone(), move || {
        app.store
            .profile(&id)
            .map_err(store_err)?
            .map(Json)
            .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such profile"))
    })
    .await
}

fn parsed_profile(app: &App, id: &str) -> ApiResult<(Profile, i64)> {
    let row = app
        .store
        .profile(id)
        .map_err(store_err)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such profile"))?;
    Profile::parse(&row.syncml)
        .map(|p| (p, row.revision))
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

#[utoipa::path(put, path = "/api/v1/devices/{device_id}/profiles/{profile_id}",
    params(("device_id" = String, Path, description = "DeviceID"), ("profile_id" = String, Path, description = "profile id")),
    responses((status = 202, description = "assigned; delivered at the next check-in"), (status = 404, body = ApiError)))]
async fn assign_profile(
    State(app): State<Arc<App>>,
    Path((dev, pid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    blocking(app.workers.clone(), move || {
        let e = device(&app, &dev)?;
        let (p, revision) = parsed_profile(&app, &pid)?;
        let uris: Vec<String> = p.settings().iter().map(|s| s.loc_uri.clone()).collect();
        let install = p.install_commands();
        let d = Deployment {
            profile_id: &pid,
            revision,
            locuris: &uris,
            install: &install,
        };
        app.store
            .assign(&d, e.id, crate::unix_now())
            .map_err(store_err)?;
        Ok(StatusCode::ACCEPTED)
    })
    .await
}

#[utoipa::path(delete, path = "/api/v1/devices/{device_id}/profiles/{profile_id}",
    params(("device_id" = String, Path, description = "DeviceID"), ("profile_id" = String, Path, description = "profile id")),
    responses((status = 202, description = "unassigned; its nodes are deleted at the next check-in"), (status = 404, body = ApiError)))]
async fn unassign_profile(
    State(app): State<Arc<App>>,
    Path((dev, pid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    blocking(app.workers.clone(), move || {
        let e = device(&app, &dev)?;
        let (removed, _) = parsed_profile(&app, &pid)?;
        let others: Vec<Profile> = app
            .store
            .assigned(e.id)
            .map_err(store_err)?
            .into_iter()
            .filter(|r| r.id != pid)
            .filter_map(|r| Profile::parse(&r.syncml).ok())
            .collect();
        let refs: Vec<&Profile> = others.iter().collect();
        let removal = removal_commands(&removed, &refs);
        app.store
            .unassign(&pid, e.id, &removal, crate::unix_now())
            .map_err(store_err)?;
        Ok(StatusCode::ACCEPTED)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/devices/{device_id}/profiles",
    params(("device_id" = String, Path, description = "DeviceID")),
    responses((status = 200, body = [SettingRow])))]
async fn device_profiles(
    State(app): State<Arc<App>>,
    Path(dev): Path<String>,
) -> ApiResult<Json<Vec<SettingRow>>> {
    blocking(app.workers.clone(), move || {
        let e = device(&app, &dev)?;
        app.store.settings(e.id).map(Json).map_err(store_err)
    })
    .await
}

/// A one-time enrollment token request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// Lifetime in seconds (default one day, at most 30 days).
    pub ttl_seconds: Option<u64>,
}

/// A created token: shown once, stored hashed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The token (a device sends it as its BinarySecurityToken).
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[utoipa::path(post, path = "/api/v1/enrollment-tokens", request_body = TokenRequest,
    responses((status = 201, body = TokenResponse)))]
async fn create_token(
    State(app): State<Arc<App>>,
    Json(req): Json<TokenRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    blocking(app.workers.clone(), move || {
        let ttl = req.ttl_seconds.unwrap_or(86_400).clamp(60, 30 * 86_400) as i64;
        let token = crate::setup::random_secret();
        let now = crate::unix_now();
        app.store
            .create_token(&crate::enroll::token_hash(&token), now + ttl, now)
            .map_err(store_err)?;
        Ok((
            StatusCode::CREATED,
            Json(TokenResponse {
                token,
                expires_at: now + ttl,
            }),
        ))
    })
    .await
}

/// A device action, queued as an Exec.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `DMClient/Provider/winmdm/Unenroll`: the device removes the enrollment; on its
    /// 2xx the enrollment is marked unenrolled and its certificates revoked.
    Unenroll,
    /// `RemoteWipe/doWipe`.
    Wipe,
    /// `Reboot/RebootNow`.
    Reboot,
}

#[utoipa::path(post, path = "/api/v1/devices/{device_id}/{action}",
    params(("device_id" = String, Path, description = "DeviceID"), ("action" = Action, Path, description = "what to do")),
    responses((status = 201, body = CommandIds), (status = 404, body = ApiError)))]
async fn action(
    State(app): State<Arc<App>>,
    Path((dev, action)): Path<(String, Action)>,
) -> ApiResult<(StatusCode, Json<CommandIds>)> {
    blocking(app.workers.clone(), move || {
        let (origin, item) = match action {
            Action::Unenroll => (
                "unenroll",
                format!(
                    "<LocURI>./Vendor/MSFT/DMClient/Provider/{0}/Unenroll</LocURI></Target><Data>{0}</Data>",
                    crate::PROVIDER_ID
                ),
            ),
            Action::Wipe => ("wipe", "<LocURI>./Device/Vendor/MSFT/RemoteWipe/doWipe</LocURI></Target>".into()),
            Action::Reboot => ("reboot", "<LocURI>./Device/Vendor/MSFT/Reboot/RebootNow</LocURI></Target>".into()),
        };
        let e = device(&app, &dev)?;
        let frag = format!("<Exec><CmdID>1</CmdID><Item><Target>{item}</Item></Exec>");
        let ids = app.store.queue_commands(e.id, &[frag], origin, crate::unix_now()).map_err(store_err)?;
        Ok((StatusCode::CREATED, Json(CommandIds { command_ids: ids })))
    })
    .await
}

/// Profile bookkeeping for one command outcome (`origin` without its `profile:` prefix:
/// `ID@REV:install:N`, `ID@REV:verify` or `ID@REV:remove`; without `@REV` as queued
/// before revisions); the decisions are `Profile::install_outcome` and
/// `Profile::verify_outcome`. The outcome of another revision's command is ignored: the
/// redeploy that replaced it reset the node state and queued the current revision's
/// commands, whose outcomes count. So is one of a profile no longer assigned.
///
/// A refused setting is sent again at once (in the next session) while it has
/// deliveries left; the verification `Get`s follow when no setting of the profile is
/// pending or waiting for a retry, once per install and its retries. They read only the
/// nodes `catalog` does not say cannot be read (`Profile::verify_commands_with`); a
/// read answered 405 without results (a node the catalog does not know to be
/// write-only) changes no node. A read-back that leaves nothing to deliver records the
/// assignment as verified at `now` (`SessionTx::set_verified`: re-verification counts
/// from it).
pub fn profile_outcome(
    tx: &mut dyn SessionTx,
    catalog: &winmdm_csp::Catalog,
    origin: &str,
    fragment: &str,
    o: &Outcome,
    now: i64,
) -> Result<(), StoreError> {
    let mut parts = origin.splitn(3, ':');
    let (Some(head), Some(kind)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (pid, rev) = head
        .split_once('@')
        .map_or((head, None), |(p, r)| (p, Some(r)));
    let Some((syncml, revision)) = tx.profile_syncml(pid)? else {
        return Ok(());
    };
    if rev.is_some_and(|r| r.parse::<i64>().ok() != Some(revision)) {
        return Ok(());
    }
    let Ok(profile) = Profile::parse(&syncml) else {
        return Ok(());
    };
    let mut rows = tx.profile_settings(pid)?;
    if rows.is_empty() {
        return Ok(());
    }
    let install_origin = |n: usize| format!("profile:{pid}@{revision}:install:{n}");
    let commands = profile.install_commands();
    match (kind, parts.next().and_then(|n| n.parse::<usize>().ok())) {
        ("install", Some(n)) => {
            let items: Vec<(&str, u16)> = o
                .item_statuses
                .iter()
                .map(|s| (s.item_ref.as_str(), s.code.0))
                .collect();
            let children: Vec<Option<u16>> =
                o.children.iter().map(|c| c.status.map(|s| s.0)).collect();
            let answer = InstallAnswer {
                status: o.status.map(|s| s.0),
                item_statuses: &items,
                child_statuses: &children,
                original_error: o.original_error.as_deref(),
            };
            let out = profile.install_outcome(n, fragment, &answer);
            let mut refused = false;
            for (uri, state) in &out.states {
                set_state(tx, pid, uri, state, true)?;
                if let Some(r) = rows.iter_mut().find(|r| r.locuri == *uri) {
                    r.state = state.as_str().to_owned();
                    r.attempts += 1;
                    refused |= r.state == "failed" && r.attempts < MAX_ATTEMPTS;
                }
            }
            if let Some(retry) = out.retry {
                tx.queue(&[retry], &install_origin(n), now)?;
            } else if let Some(again) = commands.get(n).filter(|_| refused) {
                // Refused: the same command again, in the next session.
                tx.queue(std::slice::from_ref(again), &install_origin(n), now)?;
            } else if !rows.iter().any(awaits) {
                // Every install command and retry answered: read the settings back.
                let verify = format!("profile:{pid}@{revision}:verify");
                tx.queue(&profile.verify_commands_with(catalog), &verify, now)?;
            }
        }
        ("verify", _) => {
            let status = o.status.map(|s| s.0);
            let unreadable = status == Some(405) && o.results.is_empty();
            let outcome = (!unreadable).then(|| profile.verify_outcome(&o.results, status));
            let asked = asked_nodes(fragment);
            let mut resend = std::collections::BTreeSet::new();
            for (uri, state, command) in outcome.unwrap_or_default() {
                // A refused setting keeps its status: reading it back says nothing new.
                // A node this Get did not read (another Get's, or one that cannot be
                // read) is not judged by its status.
                let Some(row) = (rows.iter_mut())
                    .filter(|r| asked.contains(&normalize_loc_uri(&r.locuri).into_owned()))
                    .find(|r| r.locuri == uri && r.state != "failed")
                else {
                    continue;
                };
                if matches!(state, SettingState::Drift { .. }) && row.attempts < MAX_ATTEMPTS {
                    resend.insert(command);
                }
                state.as_str().clone_into(&mut row.state);
                set_state(tx, pid, &uri, &state, false)?;
            }
            tx.set_verified(pid, (!rows.iter().any(awaits)).then_some(now))?;
            for n in resend {
                if let Some(c) = commands.get(n) {
                    tx.queue(std::slice::from_ref(c), &install_origin(n), now)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The nodes a verification `Get` reads (normalized LocURIs).
fn asked_nodes(fragment: &str) -> std::collections::HashSet<String> {
    let cmds = winmdm_omadm::decode_commands(fragment.as_bytes()).unwrap_or_default();
    (cmds.iter().flat_map(|c| c.items()))
        .filter_map(|i| i.target_uri())
        .map(|u| normalize_loc_uri(u).into_owned())
        .collect()
}

/// Whether a setting waits for a delivery: pending, or refused or drifted with
/// deliveries left (sent again already).
fn awaits(r: &SettingRow) -> bool {
    r.state == "pending" || (matches!(&*r.state, "failed" | "drift") && r.attempts < MAX_ATTEMPTS)
}

fn set_state(
    tx: &mut dyn SessionTx,
    pid: &str,
    uri: &str,
    state: &SettingState,
    attempt: bool,
) -> Result<(), StoreError> {
    let (status, original_error, actual) = match state {
        SettingState::Failed {
            status,
            original_error,
        } => (Some(i64::from(*status)), original_error.as_deref(), None),
        SettingState::Drift { actual } => (None, None, actual.as_deref()),
        _ => (None, None, None),
    };
    let update = SettingUpdate {
        state: state.as_str(),
        status,
        original_error,
        actual,
        attempt,
    };
    tx.set_setting(pid, uri, &update)
}
