//! Enrollment endpoints (MS-MDE2): Discovery, Policy (MS-XCEP), Enrollment (MS-WSTEP).
//!
//! Every failure answers with the MS-MDE2 SOAP fault the crate maps the error to
//! ([`EnrollError::fault`]). Authentication accepts: the enrollment secret as the
//! OnPremise password (any user name); a one-time token from the admin API as a
//! BinarySecurityToken (consumed in the enrollment's own transaction); an Entra-style
//! JWT when `--jwks` was given.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::tls::Peer;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use winmdm_enroll::pki::{self, CsrPolicy, RenewalPolicy};
use winmdm_enroll::token::{AuthError, Authenticator, Credential};
use winmdm_enroll::types::constant_time_eq;
use winmdm_enroll::{
    DmCredentials, EnrollError, EnrollmentRequest, Envelope, Fault, FaultCode, GetPolicies,
    PollSchedule, Renewal, RequestType, Secret,
};

use crate::App;
use crate::store::{NewCertificate, NewEnrollment, StoreError};

/// The DevDetail/DevInfo nodes read in the first session (DevInfo comes in package 1).
/// The DM session version the server asks for (MS-MDM 2.2.5.1): from 3.0 Windows (1809
/// and later) declares `xmlns:msft` on its SyncBody and gives the HRESULT of a failure
/// in `msft:originalerror`, which profile state shows. 4.0 adds a header the server does
/// not read, 5.0 multi-session behaviour it does not handle (protocol notes, "feature
/// gates"): 3.0 is all the server uses.
pub const SYNC_APPLICATION_VERSION: &str = "3.0";

/// The Replace of `DMClient/Provider/{PROVIDER_ID}/SyncApplicationVersion` queued for a
/// new enrollment's first session (the node exists on Windows with the DDF's default,
/// 1.0).
fn session_version() -> String {
    format!(
        "<Replace><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/DMClient/Provider/{}/\
         SyncApplicationVersion</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">chr</Format>\
         </Meta><Data>{SYNC_APPLICATION_VERSION}</Data></Item></Replace>",
        crate::PROVIDER_ID
    )
}

const INVENTORY_GET: &str = "<Get><CmdID>1</CmdID>\
    <Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item>\
    <Item><Target><LocURI>./DevDetail/Ext/Microsoft/OSPlatform</LocURI></Target></Item>\
    <Item><Target><LocURI>./DevDetail/Ext/Microsoft/DeviceName</LocURI></Target></Item>\
    <Item><Target><LocURI>./DevDetail/OEM</LocURI></Target></Item>\
    <Item><Target><LocURI>./DevDetail/HwV</LocURI></Target></Item>\
    <Item><Target><LocURI>./DevDetail/FwV</LocURI></Target></Item>\
    </Get>";

/// What the provisioning document offers: ROBO renewal (the device renews by itself
/// 42 days before expiry, retrying every 4 days), served by [`renew`].
const RENEWAL: Renewal = Renewal::Robo {
    renew_period_days: 42,
    retry_interval_days: 4,
};

const SOAP: &str = "application/soap+xml; charset=utf-8";

/// GET Discovery.svc: the probe Windows sends before the POST (200, empty body).
pub async fn discovery_probe() -> Response {
    let p = winmdm_enroll::probe_response();
    (
        StatusCode::from_u16(p.status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, p.content_type)],
        p.body,
    )
        .into_response()
}

fn soap(status: u16, xml: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, SOAP)],
        xml,
    )
        .into_response()
}

/// The SOAP fault for `err`, relating to the request's MessageID when known.
pub fn fault(err: &EnrollError, relates_to: Option<&str>) -> Response {
    tracing::info!(error = %err, "enrollment request refused");
    let env = Envelope::<Fault>::response(err.fault(), relates_to);
    soap(env.http_status(), env.to_xml())
}

/// A body the server would not read (larger than `--max-body`, or cut short): the
/// `MessageFormat` fault, with the rejection's HTTP status (413 for the size).
fn unread(rejection: &BytesRejection) -> Response {
    tracing::info!(error = %rejection, "enrollment request body refused");
    let reason = format!("request body refused: {rejection}");
    let env =
        Envelope::<Fault>::response(Fault::enrollment(FaultCode::MESSAGE_FORMAT, &reason), None);
    soap(rejection.status().as_u16(), env.to_xml())
}

/// POST Discovery.svc.
pub async fn discovery(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return unread(&r),
    };
    let request = match Envelope::<winmdm_enroll::Discover>::decode(&body) {
        Ok(r) => r,
        Err(e) => return fault(&EnrollError::Decode(e), None),
    };
    match app.enrollment.discover_response(&request) {
        Ok(env) => soap(200, env.to_xml()),
        Err(e) => fault(&e, request.header.message_id.as_deref()),
    }
}

/// POST Policy.svc: GetPolicies, after the credential is checked as for the RST.
pub async fn policy(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return unread(&r),
    };
    let request = match Envelope::<GetPolicies>::decode(&body) {
        Ok(r) => r,
        Err(e) => return fault(&EnrollError::Decode(e), None),
    };
    let relates = request.header.message_id.clone();
    let authenticated = match request.header.credential() {
        Some(c) => Authn { app: &app }
            .authenticate(&c, SystemTime::now())
            .map_err(EnrollError::Auth),
        None => Err(EnrollError::MissingCredential),
    };
    match authenticated {
        Ok(_) => soap(200, app.enrollment.get_policies_response(&request).to_xml()),
        Err(e) => fault(&e, relates.as_deref()),
    }
}

/// Who enrolled and how.
struct Principal {
    upn: Option<String>,
    kind: &'static str,
    token_hash: Option<String>,
}

/// The server's [`Authenticator`]: secret, one-time token or Entra JWT.
/// One-time tokens are only checked here; the enrollment's own transaction consumes
/// them ([`crate::store::Store::create_enrollment`]). A token already used passes this
/// check too: the store accepts it only for a retry of the enrollment that used it.
struct Authn<'a> {
    app: &'a App,
}

/// The stored form of a one-time token: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.trim().as_bytes())
}

/// SHA-256, lowercase hex (tokens; the certificates' SubjectPublicKeyInfo).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Authenticator for Authn<'_> {
    type Principal = Principal;

    fn authenticate(&self, c: &Credential<'_>, now: SystemTime) -> Result<Principal, AuthError> {
        match c {
            Credential::UsernameToken(u) => {
                if constant_time_eq(u.password.as_bytes(), self.app.enrollment_secret.as_bytes()) {
                    Ok(Principal {
                        upn: Some(u.username.to_owned()),
                        kind: "onpremise",
                        token_hash: None,
                    })
                } else {
                    Err(AuthError::InvalidCredentials)
                }
            }
            Credential::BinarySecurityToken(b) => {
                // The token as written, or base64 of it (Windows encodes the token it
                // was given; tools often paste it as is).
                let decoded = b.decode().ok().and_then(|raw| String::from_utf8(raw).ok());
                let candidates = [Some(b.value.trim().to_owned()), decoded];
                for text in candidates.iter().flatten() {
                    if text.split('.').count() == 3
                        && let Some(entra) = &self.app.entra
                    {
                        let claims = entra.authenticate(c, now)?;
                        return Ok(Principal {
                            upn: claims.upn.clone(),
                            kind: "federated",
                            token_hash: None,
                        });
                    }
                    let hash = token_hash(text);
                    let store = &self.app.store;
                    if matches!(store.token_usable(&hash, crate::unix_now()), Ok(true))
                        || matches!(store.token_used_by(&hash), Ok(Some(_)))
                    {
                        return Ok(Principal {
                            upn: None,
                            kind: "token",
                            token_hash: Some(hash),
                        });
                    }
                }
                Err(AuthError::InvalidCredentials)
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}

/// POST Enrollment.svc: RequestSecurityToken.
pub async fn enrollment(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return unread(&r),
    };
    // RSA signing and the database are blocking work.
    let a = app.clone();
    app.blocking(move || enroll_blocking(&a, &peer, &body))
        .await
        .unwrap_or_else(|| soap(500, String::new()))
}

fn enroll_blocking(app: &App, peer: &Peer, body: &[u8]) -> Response {
    let request = match EnrollmentRequest::decode_any(body) {
        Ok(r) => r,
        Err(e) => return fault(&e, None),
    };
    let relates = request.header().message_id.clone();
    let kind = request
        .request_type()
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or("");
    let span = tracing::info_span!(
        "enroll",
        device_id = request.device_id().unwrap_or("-"),
        kind
    );
    let _entered = span.enter();
    let result = match request.request_type() {
        t if t == &RequestType::RENEW => renew(app, &request, peer),
        t if t == &RequestType::RECOVERY => recover(app, &request),
        _ => issue(app, &request),
    };
    match result {
        Ok(xml) => soap(200, xml),
        Err(e) => fault(&e, relates.as_deref()),
    }
}

/// The provisioning document for `cert`: the standard one, ROBO renewal offered.
fn document(
    app: &App,
    request: &EnrollmentRequest,
    cert: &pki::IssuedCertificate,
    creds: &DmCredentials,
    device_id: &str,
) -> Result<winmdm_enroll::ProvisioningDoc, EnrollError> {
    let doc = app
        .enrollment
        .provisioning(request, cert, app.ca.certificate_der());
    let doc = doc
        .dm_credentials(creds)
        .renewal(RENEWAL)
        .ent_dmid(device_id);
    Ok(doc.poll(PollSchedule::default()).build()?)
}

/// Thumbprint, serial, notAfter and key hash of an issued certificate, as stored.
struct CertRow {
    thumbprint: String,
    serial: String,
    not_after: i64,
    key_sha256: String,
}

impl CertRow {
    fn of(cert: &pki::IssuedCertificate, csr: &pki::Csr) -> Self {
        let not_after = cert.certificate().tbs_certificate().validity().not_after;
        CertRow {
            thumbprint: cert.thumbprint().to_string(),
            serial: cert.serial_hex(),
            not_after: not_after.to_unix_duration().as_secs() as i64,
            key_sha256: sha256_hex(csr.public_key_der()),
        }
    }

    fn new_certificate(&self) -> NewCertificate<'_> {
        NewCertificate {
            thumbprint: &self.thumbprint,
            serial: &self.serial,
            not_after: self.not_after,
            key_sha256: &self.key_sha256,
        }
    }
}

/// The enrollment's DMAcc credentials as the provisioning document carries them.
fn stored_credentials(enrollment: &crate::store::Enrollment) -> DmCredentials {
    DmCredentials {
        device_name: enrollment.dm_username.clone(),
        device_secret: Secret::new(enrollment.dm_password.clone()),
        device_nonce: enrollment.dm_nonce.clone(),
        server_secret: Secret::new(crate::setup::random_secret()),
        server_nonce: rand::random::<[u8; 16]>().to_vec(),
    }
}

/// A new enrollment, or, for a retried request (same DeviceID, same key; the device
/// missed the first answer or a second instance got the same request), the enrollment it
/// made: the store decides in one transaction per DeviceID, and the document repeats
/// that enrollment's DMAcc credentials, so whichever answer the device gets works.
fn issue(app: &App, request: &EnrollmentRequest) -> Result<String, EnrollError> {
    let now = SystemTime::now();
    let mut rng = pki::default_rng();
    let who = request.authenticate(&Authn { app }, now)?;
    let csr = request.verify_csr(&CsrPolicy::default())?;
    let device_id = csr
        .device_id()
        .or_else(|| request.device_id())
        .ok_or(EnrollError::MissingDeviceId)?
        .to_ascii_uppercase();
    let cert = request.issue(
        &app.ca,
        &csr,
        &app.enrollment.issue_options(),
        now,
        &mut rng,
    )?;
    let creds = DmCredentials::generate(&device_id, &mut rng);
    let row = CertRow::of(&cert, &csr);
    let new = NewEnrollment {
        device_id: &device_id,
        hw_dev_id: request.context().get("HWDevID"),
        upn: who.upn.as_deref(),
        auth: who.kind,
        dm_username: &creds.device_name,
        dm_password: creds.device_secret.expose(),
        dm_nonce: &creds.device_nonce,
        cert: row.new_certificate(),
        // The first session reads the inventory and sets the DM session version.
        first_commands: &[("inventory", INVENTORY_GET), ("setup", &session_version())],
    };
    let done = match app
        .store
        .create_enrollment(&new, who.token_hash.as_deref(), crate::unix_now())
    {
        Ok(done) => done,
        Err(StoreError::TokenNotValid) => return Err(not_ours()),
        Err(e) => return Err(stored(e)),
    };
    let id = done.enrollment.id;
    let creds = if done.created {
        app.metrics.enrollments.fetch_add(1, Ordering::Relaxed);
        tracing::info!(enrollment = id, device_id = %device_id, auth = who.kind,
            replaced = ?done.replaced, "enrolled");
        creds
    } else {
        tracing::info!(enrollment = id, device_id = %device_id, "retried enrollment joined");
        stored_credentials(&done.enrollment)
    };
    let doc = document(app, request, &cert, &creds, &device_id)?;
    Ok(request.respond(&doc, now).to_xml())
}

fn not_ours() -> EnrollError {
    EnrollError::Auth(AuthError::InvalidCredentials)
}

fn stored(e: StoreError) -> EnrollError {
    tracing::error!(error = %e, "storage failed during enrollment");
    EnrollError::Provisioning(winmdm_enroll::ProvisioningBuildError::InvalidSetting(
        "the server could not store the enrollment",
    ))
}

/// A new certificate for an existing enrollment (renewal, recovery): the document keeps
/// the enrollment's DMAcc credentials; the certificate joins the enrollment.
fn reissue(
    app: &App,
    request: &EnrollmentRequest,
    enrollment: &crate::store::Enrollment,
    cert: &pki::IssuedCertificate,
    csr: &pki::Csr,
) -> Result<String, EnrollError> {
    let creds = stored_credentials(enrollment);
    let doc = document(app, request, cert, &creds, &enrollment.device_id)?;
    let row = CertRow::of(cert, csr);
    app.store
        .add_certificate(enrollment.id, &row.new_certificate(), crate::unix_now())
        .map_err(stored)?;
    tracing::info!(enrollment = enrollment.id, device_id = %enrollment.device_id, "certificate reissued");
    Ok(request.respond(&doc, SystemTime::now()).to_xml())
}

/// RequestType Renew: the new PKCS#10 signed with the current certificate's key (manual
/// renewal, PKCS#7), or a bare PKCS#10 on a TLS connection authenticated with the
/// current certificate (ROBO). The enrollment keeps its id; the old certificate stays
/// valid until it expires, so a device that never installed the new one still works.
fn renew(app: &App, request: &EnrollmentRequest, peer: &Peer) -> Result<String, EnrollError> {
    let now = SystemTime::now();
    let policy = RenewalPolicy::default();
    let (csr, current) = match request.verify_renewal(&app.ca, &policy, now) {
        Ok(v) => v,
        Err(e) => match &peer.cert {
            Some(tls) => request.verify_robo_renewal(&app.ca, tls, &policy, now)?,
            None => return Err(e),
        },
    };
    let enrollment = app
        .store
        .enrollment_by_thumbprint(&current.thumbprint().to_string())
        .map_err(stored)?
        .filter(|e| e.state == "active")
        .ok_or_else(not_ours)?;
    let opts = app.enrollment.issue_options();
    let cert =
        request.issue_renewal(&app.ca, &csr, &current, &opts, now, &mut pki::default_rng())?;
    reissue(app, request, &enrollment, &cert, &csr)
}

/// RequestType Recovery (a device whose certificate is gone or expired): the user's
/// credential (the enrollment secret or a Federated JWT; one-time tokens are spent)
/// plus a new PKCS#10 for the DeviceID of an active enrollment; when the request is
/// signed with a previous certificate, it must be one of that enrollment's.
fn recover(app: &App, request: &EnrollmentRequest) -> Result<String, EnrollError> {
    let now = SystemTime::now();
    if request.authenticate(&Authn { app }, now)?.kind == "token" {
        return Err(not_ours());
    }
    let (csr, previous) = request.verify_recovery(&app.ca, None, &RenewalPolicy::default())?;
    let device_id = csr
        .device_id()
        .or_else(|| request.device_id())
        .ok_or(EnrollError::MissingDeviceId)?;
    let enrollment = match &previous {
        Some(p) => app
            .store
            .enrollment_by_thumbprint(&p.thumbprint().to_string()),
        None => app
            .store
            .enrollment_by_device(&device_id.to_ascii_uppercase()),
    };
    let enrollment = enrollment
        .map_err(stored)?
        .filter(|e| e.state == "active" && e.device_id.eq_ignore_ascii_case(device_id))
        .ok_or_else(not_ours)?;
    let opts = app.enrollment.issue_options();
    let cert = request.issue(&app.ca, &csr, &opts, now, &mut pki::default_rng())?;
    reissue(app, request, &enrollment, &cert, &csr)
}

/// The AuthenticationServiceUrl's path (Federated only).
pub const AUTH_PATH: &str = "/EnrollmentServer/Auth";

/// The query Windows opens the authentication page with, and the form it posts back.
#[derive(Debug, serde::Deserialize)]
pub struct AuthParams {
    appru: String,
    #[serde(default)]
    login_hint: String,
    #[serde(default)]
    token: String,
}

fn html(page: Result<String, winmdm_enroll::webauth::WebAuthError>) -> Response {
    match page {
        Ok(p) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], p).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// GET AuthenticationServiceUrl: Windows's enrollment window shows this page. A product
/// redirects to its identity provider here; the reference server asks for the token
/// (an Entra JWT obtained elsewhere, or a one-time token).
pub async fn auth_page(axum::extract::Query(p): axum::extract::Query<AuthParams>) -> Response {
    html(winmdm_enroll::webauth::token_form(&p.appru, &p.login_hint))
}

/// POST AuthenticationServiceUrl: hands the token back to Windows as `wresult`.
pub async fn auth_return(axum::Form(p): axum::Form<AuthParams>) -> Response {
    html(winmdm_enroll::webauth::return_form(&p.appru, &p.token))
}
