//! Entra ID token validation, offline: the test generates RSA keys, publishes them as a
//! JWKS and signs RS256 tokens with them.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use serde_json::json;
use sha2::Sha256;
use winmdm_enroll::token::{
    AuthError, Authenticator, BASE64_BINARY, BinaryTokenCredential, Credential,
    DEVICE_ENROLLMENT_USER_TOKEN, EntraAuthenticator, Jwks, JwtError, JwtValidation,
    UsernameCredential, encode_token_value, validate_entra_token,
};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUD: &str = "https://enrollment.manage.example.com/";
const NOW: u64 = 1_800_000_000;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Keys {
    a: rsa::PrivateKey,
    b: rsa::PrivateKey,
}

/// Two keys generated once per test run (key generation is slow in debug builds).
fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rng();
        Keys {
            a: rsa::PrivateKey::new(&mut rng, 2048).unwrap(),
            b: rsa::PrivateKey::new(&mut rng, 2048).unwrap(),
        }
    })
}

fn jwk(kid: &str, key: &rsa::PrivateKey) -> serde_json::Value {
    let public = key.to_public_key();
    json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
           "n": b64(&public.n_bytes()), "e": b64(&public.e_bytes())})
}

fn jwks_json(keys: &Keys) -> String {
    json!({"keys": [
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        jwk("key-a", &keys.a),
        jwk("key-b", &keys.b),
    ]})
    .to_string()
}

fn sign(header: serde_json::Value, claims: serde_json::Value, key: &rsa::PrivateKey) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key
        .pkcs1v15_sign::<Sha256>(signing_input.as_bytes())
        .unwrap();
    format!("{signing_input}.{}", b64(&sig))
}

fn claims() -> serde_json::Value {
    json!({
        "aud": AUD,
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": NOW - 300,
        "nbf": NOW - 300,
        "exp": NOW + 3600,
        "tid": TENANT,
        "oid": "0a3c6e1b-8f2e-4d7a-9b1c-5e6f7a8b9c0d",
        "upn": "user@contoso.example",
        "deviceid": "2b9b52ac-df38-4161-8142-f4b1e0db257c",
    })
}

fn header(kid: &str) -> serde_json::Value {
    json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid})
}

fn validation() -> JwtValidation {
    JwtValidation::entra([AUD])
}

#[test]
fn valid_token_and_claims() {
    let k = keys();
    let jwks = Jwks::from_json(&jwks_json(k)).unwrap();
    assert_eq!(jwks.keys().len(), 2, "the EC key is skipped");
    let token = sign(header("key-b"), claims(), &k.b);
    let c = validate_entra_token(&token, &jwks, &validation(), now()).unwrap();
    assert_eq!(c.tenant_id, TENANT);
    assert_eq!(c.audiences, vec![AUD.to_owned()]);
    assert_eq!(c.upn.as_deref(), Some("user@contoso.example"));
    assert_eq!(
        c.device_id.as_deref(),
        Some("2b9b52ac-df38-4161-8142-f4b1e0db257c")
    );
    assert_eq!(c.expires, now() + Duration::from_secs(3600));
    assert_eq!(c.claims["iat"], NOW - 300);

    // v2 issuer, audience array, tenant allow-list.
    let mut cl = claims();
    cl["iss"] = json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0"));
    cl["aud"] = json!(["other", AUD]);
    let token = sign(header("key-a"), cl, &k.a);
    let mut v = validation();
    v.tenants = Some(vec![TENANT.to_uppercase()]);
    assert!(validate_entra_token(&token, &jwks, &v, now()).is_ok());
}

#[test]
fn expired_and_not_yet_valid() {
    let k = keys();
    let jwks = Jwks::from_json(&jwks_json(k)).unwrap();
    let token = sign(header("key-a"), claims(), &k.a);
    // exp + leeway (120 s) is still fine; one second later it is not.
    assert!(
        validate_entra_token(
            &token,
            &jwks,
            &validation(),
            now() + Duration::from_secs(3720)
        )
        .is_ok()
    );
    assert_eq!(
        validate_entra_token(
            &token,
            &jwks,
            &validation(),
            now() + Duration::from_secs(3721)
        ),
        Err(JwtError::Expired)
    );
    assert_eq!(
        validate_entra_token(
            &token,
            &jwks,
            &validation(),
            now() - Duration::from_secs(500)
        ),
        Err(JwtError::NotYetValid)
    );
    let mut cl = claims();
    cl.as_object_mut().unwrap().remove("exp");
    let token = sign(header("key-a"), cl, &k.a);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::MissingClaim("exp"))
    );
}

#[test]
fn wrong_audience_issuer_tenant() {
    let k = keys();
    let jwks = Jwks::from_json(&jwks_json(k)).unwrap();
    let mut cl = claims();
    cl["aud"] = json!("https://graph.microsoft.com");
    let token = sign(header("key-a"), cl, &k.a);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::WrongAudience(vec![
            "https://graph.microsoft.com".into()
        ]))
    );

    let mut cl = claims();
    cl["iss"] = json!("https://sts.windows.net/00000000-0000-0000-0000-000000000000/");
    let token = sign(header("key-a"), cl, &k.a);
    assert!(matches!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::WrongIssuer(_))
    ));

    let token = sign(header("key-a"), claims(), &k.a);
    let mut v = validation();
    v.tenants = Some(vec!["11111111-1111-1111-1111-111111111111".into()]);
    assert_eq!(
        validate_entra_token(&token, &jwks, &v, now()),
        Err(JwtError::WrongTenant(TENANT.into()))
    );

    let mut cl = claims();
    cl.as_object_mut().unwrap().remove("tid");
    let token = sign(header("key-a"), cl, &k.a);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::MissingClaim("tid"))
    );
}

#[test]
fn wrong_key_unknown_kid_and_tampering() {
    let k = keys();
    let jwks = Jwks::from_json(&jwks_json(k)).unwrap();
    // Signed with key b but claims to be key a.
    let token = sign(header("key-a"), claims(), &k.b);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::BadSignature)
    );
    // A key the JWKS does not have.
    let stranger = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let token = sign(header("key-x"), claims(), &stranger);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::UnknownKey(Some("key-x".into())))
    );
    // No kid with two keys: ambiguous.
    let token = sign(json!({"alg": "RS256"}), claims(), &k.a);
    assert_eq!(
        validate_entra_token(&token, &jwks, &validation(), now()),
        Err(JwtError::UnknownKey(None))
    );
    // Payload swapped after signing.
    let good = sign(header("key-a"), claims(), &k.a);
    let mut cl = claims();
    cl["upn"] = json!("admin@contoso.example");
    let forged_payload = b64(cl.to_string().as_bytes());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        validate_entra_token(&forged, &jwks, &validation(), now()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn algorithm_confusion_and_malformed_tokens() {
    let k = keys();
    let jwks = Jwks::from_json(&jwks_json(k)).unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    assert_eq!(
        validate_entra_token(&unsigned, &jwks, &validation(), now()),
        Err(JwtError::UnsupportedAlgorithm("none".into()))
    );
    let hs = format!(
        "{}.{}.AAAA",
        b64(json!({"alg": "HS256", "kid": "key-a"})
            .to_string()
            .as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    assert_eq!(
        validate_entra_token(&hs, &jwks, &validation(), now()),
        Err(JwtError::UnsupportedAlgorithm("HS256".into()))
    );
    for bad in ["", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.AA"] {
        assert!(
            validate_entra_token(bad, &jwks, &validation(), now()).is_err(),
            "{bad}"
        );
    }
    let mut v = validation();
    v.max_len = 100;
    let token = sign(header("key-a"), claims(), &k.a);
    assert!(matches!(
        validate_entra_token(&token, &jwks, &v, now()),
        Err(JwtError::TooLong { max: 100, .. })
    ));
    assert!(Jwks::from_json("{}").is_err());
    // JWKS limits: key count and document size.
    let key = jwk("k", &k.a);
    let many = json!({ "keys": vec![key; winmdm_enroll::token::MAX_JWKS_KEYS + 1] }).to_string();
    assert!(matches!(Jwks::from_json(&many), Err(JwtError::Jwks(_))));
    let huge = format!(
        "{{\"keys\":[],\"pad\":\"{}\"}}",
        "x".repeat(winmdm_enroll::token::MAX_JWKS_LEN)
    );
    assert!(matches!(Jwks::from_json(&huge), Err(JwtError::Jwks(_))));
    assert!(Jwks::from_json("not json").is_err());
    assert!(Jwks::from_json(r#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#).is_err());
}

#[test]
fn entra_authenticator_on_binary_security_token() {
    let k = keys();
    let auth = EntraAuthenticator::new(Jwks::from_json(&jwks_json(k)).unwrap(), validation());
    let token = sign(header("key-a"), claims(), &k.a);
    // Windows: base64 of the JWT, possibly wrapped.
    let mut value = encode_token_value(&token);
    value.insert_str(40, "\r\n");
    let bst = BinaryTokenCredential {
        value_type: DEVICE_ENROLLMENT_USER_TOKEN,
        encoding_type: Some(BASE64_BINARY),
        value: &value,
    };
    let claims = auth
        .authenticate(&Credential::BinarySecurityToken(bst), now())
        .unwrap();
    assert_eq!(claims.tenant_id, TENANT);
    assert!(
        !format!("{bst:?}").contains(&value[..30]),
        "token redacted in Debug"
    );
    // The bare JWT is accepted as well.
    let bare = BinaryTokenCredential {
        value: &token,
        ..bst
    };
    assert!(
        auth.authenticate(&Credential::BinarySecurityToken(bare), now())
            .is_ok()
    );
    // Expired token through the authenticator.
    assert_eq!(
        auth.authenticate(
            &Credential::BinarySecurityToken(bst),
            now() + Duration::from_secs(7200)
        ),
        Err(AuthError::Jwt(JwtError::Expired))
    );
    // Other ValueTypes and UsernameToken are not this authenticator's business.
    let x509 = BinaryTokenCredential {
        value_type: winmdm_enroll::token::X509V3,
        ..bst
    };
    assert_eq!(
        auth.authenticate(&Credential::BinarySecurityToken(x509), now()),
        Err(AuthError::UnsupportedCredential)
    );
    let user = Credential::UsernameToken(UsernameCredential {
        username: "u",
        password: "p",
    });
    assert_eq!(
        auth.authenticate(&user, now()),
        Err(AuthError::UnsupportedCredential)
    );
    let junk = BinaryTokenCredential {
        value: "%%%",
        ..bst
    };
    assert_eq!(
        auth.authenticate(&Credential::BinarySecurityToken(junk), now()),
        Err(AuthError::Encoding)
    );
}
