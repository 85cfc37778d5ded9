//! Federated enrollment end to end: the real `winmdm-server` binary started with
//! `--jwks FILE` on 127.0.0.1 (real TLS, real SQLite), Entra-style RS256 JWTs signed by
//! the test, and the device emulator enrolling with `Credential::Federated(jwt)`.
//!
//! The keys are `winmdm_enroll::pki::DeviceKey`s: `sign_sha256` is RSA PKCS#1 v1.5 with
//! SHA-256, i.e. JWS RS256, so no extra dev-dependency is needed.

mod common;

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{Request, Server, free_port, https, tempdir};
use serde_json::{Value, json};
use winmdm_device_emulator::{Credential, Device, EmuError, EnrollOptions};
use winmdm_enroll::client::{self, ClientCredential, DeviceInfo};
use winmdm_enroll::pki::rsa::traits::PublicKeyParts;
use winmdm_enroll::pki::{self, DeviceKey};
use winmdm_enroll::{AuthPolicy, EnrollmentType};

/// The server's default `--jwt-audience`.
const AUDIENCE: &str = "https://enrollment.manage.microsoft.com/";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0a3c6e1b-8f2e-4d7a-9b1c-5e6f7a8b9c0d";
const UPN: &str = "federated.user@contoso.example";
const KID: &str = "test-key-1";

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Keys {
    /// The key the JWKS publishes.
    trusted: DeviceKey,
    /// A key the server has never seen.
    foreign: DeviceKey,
}

/// Two RSA-2048 keys, generated once per test binary (slow in a debug build).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = pki::default_rng();
        Keys {
            trusted: DeviceKey::generate(2048, &mut rng).unwrap(),
            foreign: DeviceKey::generate(2048, &mut rng).unwrap(),
        }
    })
}

/// The JWKS document with the trusted key (and an EC key the server must skip).
fn jwks_json() -> String {
    let public = keys().trusted.rsa_key().to_public_key();
    json!({"keys": [
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID, "x5t": KID,
         "n": b64url(&public.n_bytes()), "e": b64url(&public.e_bytes())},
    ]})
    .to_string()
}

/// Claims as `JwtValidation::entra` expects them (v1 issuer of the token's tenant).
fn claims() -> Value {
    let t = now();
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": t - 60,
        "nbf": t - 60,
        "exp": t + 3600,
        "tid": TENANT,
        "oid": OID,
        "upn": UPN,
        "unique_name": UPN,
        "ver": "1.0",
    })
}

fn header(kid: &str) -> Value {
    json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid})
}

/// A compact RS256 JWS.
fn sign(header: &Value, claims: &Value, key: &DeviceKey) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = key.sign_sha256(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url(&sig))
}

fn good_jwt() -> String {
    sign(&header(KID), &claims(), &keys().trusted)
}

/// Starts the server with the JWKS written to a file in `jwks_dir`.
fn start(data: &std::path::Path, jwks_dir: &std::path::Path, extra: &[&str]) -> Server {
    let jwks = jwks_dir.join("jwks.json");
    std::fs::write(&jwks, jwks_json()).unwrap();
    let mut args = vec!["--jwks", jwks.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(data, free_port(), &args)
}

async fn enroll(server: &Server, dir: &std::path::Path, jwt: String) -> Result<Device, EmuError> {
    let opts = EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        Credential::Federated(jwt),
    );
    Device::enroll(dir, opts).await
}

/// Enrolling with `jwt` must end in a SOAP fault whose code ends with `Authentication`.
async fn assert_auth_fault(server: &Server, jwt: String, what: &str) {
    let dir = tempdir();
    match enroll(server, dir.path(), jwt).await {
        Err(EmuError::Fault { code, reason }) => assert!(
            code.ends_with("Authentication"),
            "{what}: fault {code} ({reason})"
        ),
        Ok(d) => panic!("{what}: enrolled as {} but must be refused", d.device_id()),
        Err(other) => panic!("{what}: must be a SOAP fault, got {other:?}"),
    }
}

/// The RequestSecurityToken posted straight to Enrollment.svc (no GetPolicies before it),
/// so the enrollment endpoint's own check is exercised. The fault subcode (or code), or
/// `None` when the server enrolled the device.
async fn rst_fault(server: &Server, jwt: &str) -> Option<String> {
    let key = &keys().foreign;
    let device_id = winmdm_device_emulator::random_device_id();
    let cn = pki::windows_common_name("8B2A6E3C-1F4D-4A5B-9C7E-0D1E2F3A4B5C", &device_id);
    let csr = pki::windows_csr(key, &cn, Some(&device_id)).unwrap();
    let url = format!("{}/EnrollmentServer/Enrollment.svc", server.url);
    let info = DeviceInfo::windows(&device_id, &"AB".repeat(32));
    let rst = client::rst_request(
        &url,
        "urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749",
        &ClientCredential::Federated(jwt.to_owned()),
        &csr,
        &info,
        EnrollmentType::Full,
    );
    let (status, body) = https(
        &Request::new("POST", &url, &server.ca_pem())
            .body(rst.to_xml(), "application/soap+xml; charset=utf-8"),
    )
    .await
    .expect("POST Enrollment.svc");
    match client::Enrolled::from_xml(body.as_bytes(), key) {
        Ok(_) => {
            assert_eq!(status, 200);
            None
        }
        Err(e) => {
            let f = e
                .fault()
                .unwrap_or_else(|| panic!("HTTP {status} without a SOAP fault: {e}: {body}"));
            assert!(status >= 400, "a fault with HTTP {status}");
            Some(f.subcode.as_ref().unwrap_or(&f.code).name.to_string())
        }
    }
}

/// POSTs a Discover listing `policies`; (HTTP status, body).
async fn discover(server: &Server, policies: &[AuthPolicy]) -> (u16, String) {
    let device_id = winmdm_device_emulator::random_device_id();
    let info = DeviceInfo::windows(&device_id, &"CD".repeat(32));
    let mut env = client::discover_request(
        "user@contoso.example",
        "urn:uuid:748b7b2c-5e8e-4a6e-9c1d-3f0b2a1c4d5e",
        policies,
        &info,
    );
    env.header.to = Some(server.discovery_url());
    https(
        &Request::new("POST", &server.discovery_url(), &server.ca_pem())
            .body(env.to_xml(), "application/soap+xml; charset=utf-8"),
    )
    .await
    .expect("POST Discovery.svc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_entra_jwt_enrolls_the_device_as_federated_and_it_syncs() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let server = start(data.path(), jwks_dir.path(), &[]);

    let dev_dir = tempdir();
    let mut device = enroll(&server, dev_dir.path(), good_jwt())
        .await
        .unwrap_or_else(|e| panic!("federated enrollment: {e}\n{}", server.log()));
    assert!(device.enrollment().is_some());

    let path = format!("/api/v1/devices/{}", device.device_id());
    let (s, dev) = server.admin("GET", &path, None).await;
    assert_eq!(s, 200, "{dev}");
    assert_eq!(dev["auth"], "federated", "{dev}");
    assert_eq!(dev["upn"], UPN, "the upn claim is recorded: {dev}");
    assert_eq!(dev["state"], "active");
    assert_eq!(dev["device_id"], device.device_id());

    // Management works with the certificate the federated enrollment issued.
    let report = device.sync().await.expect("first sync");
    assert!(report.http_statuses.iter().all(|s| *s == 200), "{report:?}");
    let (s, dev) = server.admin("GET", &path, None).await;
    assert_eq!(s, 200);
    assert!(dev["last_seen_at"].as_i64().is_some(), "{dev}");
    assert!(
        dev["inventory"]["./DevInfo/Man"].is_string(),
        "the first session's inventory: {dev}"
    );
    device.sync().await.expect("second sync");

    // A JWT is not one-time: the same token enrolls a second device (as Entra tokens are
    // reusable within their lifetime), again as federated.
    let other_dir = tempdir();
    let other = enroll(&server, other_dir.path(), good_jwt())
        .await
        .expect("a second enrollment with a fresh JWT");
    let (s, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", other.device_id()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(dev["auth"], "federated");

    // Enrollment.svc on its own (no GetPolicies first) accepts the JWT too.
    assert_eq!(rst_fault(&server, &good_jwt()).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jwts_get_the_authentication_fault() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let server = start(data.path(), jwks_dir.path(), &[]);
    let k = keys();

    // Expired an hour ago (well beyond the 2 minutes of leeway).
    let mut expired = claims();
    let t = now();
    expired["iat"] = json!(t - 7200);
    expired["nbf"] = json!(t - 7200);
    expired["exp"] = json!(t - 3600);
    let expired = sign(&header(KID), &expired, &k.trusted);

    // Not yet valid: nbf an hour ahead.
    let mut early = claims();
    early["nbf"] = json!(t + 3600);
    early["exp"] = json!(t + 7200);
    let early = sign(&header(KID), &early, &k.trusted);

    // Another audience.
    let mut aud = claims();
    aud["aud"] = json!("https://graph.microsoft.com/");
    let wrong_audience = sign(&header(KID), &aud, &k.trusted);

    // An issuer that is not Entra's for the token's tenant.
    let mut iss = claims();
    iss["iss"] = json!("https://sts.windows.net/00000000-0000-0000-0000-000000000000/");
    let wrong_issuer = sign(&header(KID), &iss, &k.trusted);

    // Signed by a key the JWKS does not hold, under the trusted key's kid.
    let other_key = sign(&header(KID), &claims(), &k.foreign);
    // ... and under a kid the JWKS does not know.
    let unknown_kid = sign(&header("unknown-kid"), &claims(), &k.foreign);

    // A valid token whose payload is swapped for another (upn changed), signature kept.
    let good = good_jwt();
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims();
    forged["upn"] = json!("admin@contoso.example");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(forged.to_string().as_bytes()),
        parts[2]
    );

    // alg none with no signature.
    let none = format!(
        "{}.{}.",
        b64url(json!({"typ": "JWT", "alg": "none"}).to_string().as_bytes()),
        b64url(claims().to_string().as_bytes())
    );

    // Each case, and the reason the server logs for it (the JwtError's text), so a
    // refusal for some other reason does not pass.
    let cases = [
        ("expired", expired, "the token has expired"),
        ("not yet valid", early, "the token is not valid yet"),
        ("wrong audience", wrong_audience, "unexpected audience"),
        ("wrong issuer", wrong_issuer, "unexpected issuer"),
        (
            "signed by another key",
            other_key,
            "the token signature does not verify",
        ),
        ("unknown kid", unknown_kid, "no signing key for kid"),
        (
            "tampered payload",
            tampered,
            "the token signature does not verify",
        ),
        ("alg none", none, "unsupported token algorithm none"),
    ];
    for (what, jwt, reason) in &cases {
        let before = server.log().len();
        assert_auth_fault(&server, jwt.clone(), what).await;
        // Enrollment.svc refuses it by itself too, not only Policy.svc before it.
        let code = rst_fault(&server, jwt).await;
        assert!(
            code.as_deref()
                .is_some_and(|c| c.ends_with("Authentication")),
            "{what}: Enrollment.svc answered {code:?}"
        );
        // The server's stderr is read by a thread: wait for both lines to arrive.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let new = loop {
            let new = server.log()[before..].to_owned();
            if new.matches(reason).count() >= 2 || std::time::Instant::now() > deadline {
                break new;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            new.matches(reason).count(),
            2,
            "{what}: Policy.svc and Enrollment.svc each log {reason:?}:\n{new}"
        );
    }

    // Nothing was enrolled.
    let (s, devices) = server.admin("GET", "/api/v1/devices", None).await;
    assert_eq!(s, 200, "{devices}");
    assert_eq!(
        devices.as_array().map(Vec::len),
        Some(0),
        "no refused JWT may create an enrollment: {devices}"
    );

    // The good token still works on the same server (the refusals changed nothing).
    let dir = tempdir();
    enroll(&server, dir.path(), good_jwt())
        .await
        .expect("a valid JWT after the refusals");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_jwt_audience_is_the_only_one_accepted() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let custom = "api://winmdm-test";
    let server = start(data.path(), jwks_dir.path(), &["--jwt-audience", custom]);

    // The default audience is not accepted any more.
    assert_auth_fault(&server, good_jwt(), "default audience with --jwt-audience").await;

    let mut c = claims();
    c["aud"] = json!(["https://graph.microsoft.com/", custom]);
    let dir = tempdir();
    let device = enroll(&server, dir.path(), sign(&header(KID), &c, &keys().trusted))
        .await
        .expect("the configured audience (in an aud array) enrolls");
    let (_, dev) = server
        .admin(
            "GET",
            &format!("/api/v1/devices/{}", device.device_id()),
            None,
        )
        .await;
    assert_eq!(dev["auth"], "federated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_answers_federated_with_an_authentication_service_url() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let server = start(data.path(), jwks_dir.path(), &[]);

    let (s, body) = discover(&server, &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED]).await;
    assert_eq!(s, 200, "{body}");
    let env = client::parse_discover_response(body.as_bytes()).expect("DiscoverResponse");
    let r = &env.body;
    assert_eq!(r.auth_policy, AuthPolicy::FEDERATED, "{body}");
    let auth_url = r
        .authentication_service_url
        .as_deref()
        .expect("AuthenticationServiceUrl for Federated");
    assert!(
        auth_url.starts_with("https://") && !auth_url.trim().is_empty(),
        "{auth_url}"
    );
    assert!(
        r.missing_required().is_empty(),
        "{:?}",
        r.missing_required()
    );
    assert_eq!(
        r.enrollment_service_url,
        format!("{}/EnrollmentServer/Enrollment.svc", server.url)
    );
    assert_eq!(
        r.enrollment_policy_service_url.as_deref(),
        Some(format!("{}/EnrollmentServer/Policy.svc", server.url).as_str())
    );
    assert_eq!(
        env.header.relates_to.as_deref(),
        Some("urn:uuid:748b7b2c-5e8e-4a6e-9c1d-3f0b2a1c4d5e")
    );

    // A device that only knows OnPremise is told the policy is not offered.
    let (s, body) = discover(&server, &[AuthPolicy::ON_PREMISE]).await;
    assert!(s >= 400, "HTTP {s}: {body}");
    assert!(body.contains("Fault"), "{body}");

    // Without --jwks the same server directory answers OnPremise, no authentication URL.
    let mut server = server;
    server.terminate();
    drop(server);
    let plain = Server::start(data.path(), free_port(), &[]);
    let (s, body) = discover(&plain, &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED]).await;
    assert_eq!(s, 200, "{body}");
    let env = client::parse_discover_response(body.as_bytes()).unwrap();
    assert_eq!(env.body.auth_policy, AuthPolicy::ON_PREMISE);
    assert_eq!(env.body.authentication_service_url, None);
    // ... and a JWT is then just an unknown token.
    assert_auth_fault(&plain, good_jwt(), "a JWT without --jwks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advertised_authentication_service_url_is_served() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let server = start(data.path(), jwks_dir.path(), &[]);
    let (_, body) = discover(&server, &[AuthPolicy::FEDERATED]).await;
    let env = client::parse_discover_response(body.as_bytes()).unwrap();
    let auth_url = env.body.authentication_service_url.unwrap();
    // Windows opens the page with the return URL and the user's address.
    let url = format!(
        "{auth_url}?appru=ms-app%3A%2F%2Fwindows.immersivecontrolpanel&login_hint=user%40contoso.example"
    );
    let (s, page) = https(&Request::new("GET", &url, &server.ca_pem()))
        .await
        .expect("GET AuthenticationServiceUrl");
    assert_eq!(s, 200, "the authentication page answers HTTP {s}: {page}");
    assert!(
        page.contains("user@contoso.example") && page.contains("name=\"token\""),
        "{page}"
    );
    // The form posts the token; the page hands it back to Windows as wresult.
    let form = "appru=ms-app%3A%2F%2Fwindows.immersivecontrolpanel&token=abc.def.ghi";
    let (s, back) = https(
        &Request::new("POST", &auth_url, &server.ca_pem())
            .body(form, "application/x-www-form-urlencoded"),
    )
    .await
    .unwrap();
    assert_eq!(s, 200);
    assert!(
        back.contains("action=\"ms-app://windows.immersivecontrolpanel\""),
        "{back}"
    );
    assert!(
        back.contains("name=\"wresult\" value=\"abc.def.ghi\""),
        "{back}"
    );
    // Only Windows's own return addresses: no open redirect.
    let evil = format!("{auth_url}?appru=https%3A%2F%2Fevil.example%2F");
    let (s, _) = https(&Request::new("GET", &evil, &server.ca_pem()))
        .await
        .unwrap();
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_other_tenants_are_refused_when_tenants_are_configured() {
    let data = tempdir();
    let jwks_dir = tempdir();
    let server = start(data.path(), jwks_dir.path(), &["--jwt-tenant", TENANT]);
    let other_tenant = "11111111-2222-3333-4444-555555555555";
    let mut c = claims();
    c["tid"] = json!(other_tenant);
    c["iss"] = json!(format!("https://sts.windows.net/{other_tenant}/"));
    let jwt = sign(&header(KID), &c, &keys().trusted);
    assert_auth_fault(&server, jwt, "a token from another tenant").await;
    let dir = tempdir();
    enroll(&server, dir.path(), good_jwt())
        .await
        .expect("the configured tenant enrolls");
}
