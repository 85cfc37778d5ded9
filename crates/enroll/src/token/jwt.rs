//! Entra ID (Azure AD) access tokens: RS256 JWTs checked against a supplied JWKS.

use core::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::JwtError;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Entra ID v1 token issuer template (`{tenantid}` is replaced by the token's `tid`).
pub const ENTRA_ISSUER_V1: &str = "https://sts.windows.net/{tenantid}/";
/// Entra ID v2 token issuer template.
pub const ENTRA_ISSUER_V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// Largest JWKS document accepted by [`Jwks::from_json`] (256 KiB).
pub const MAX_JWKS_LEN: usize = 256 * 1024;
/// Most keys accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 64;

/// One RSA signing key from a JWKS.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    key: rsa::PublicKey,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Key id (`kid`).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// The RSA signing keys of a JSON Web Key Set (e.g. Entra's
/// `https://login.microsoftonline.com/common/discovery/v2.0/keys`, fetched by the caller).
/// Keys that are not RSA, not for signatures or not RS256 are skipped.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWKS document.
    pub fn from_json(json: &str) -> Result<Self, JwtError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JwtError::Jwks(format!(
                "document larger than {MAX_JWKS_LEN} bytes"
            )));
        }
        let doc: Value = serde_json::from_str(json).map_err(|e| JwtError::Jwks(e.to_string()))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwtError::Jwks("no \"keys\" array".into()))?;
        if keys.len() > MAX_JWKS_KEYS {
            return Err(JwtError::Jwks(format!("more than {MAX_JWKS_KEYS} keys")));
        }
        let mut out = Vec::new();
        for k in keys {
            let field = |name: &str| k.get(name).and_then(Value::as_str);
            if field("kty") != Some("RSA") {
                continue;
            }
            if field("use").is_some_and(|u| u != "sig") {
                continue;
            }
            if field("alg").is_some_and(|a| a != "RS256") {
                continue;
            }
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return Err(JwtError::Jwks("RSA key without n or e".into()));
            };
            let n = B64URL
                .decode(n.trim_end_matches('='))
                .map_err(|_| JwtError::Jwks("n is not base64url".into()))?;
            let e = B64URL
                .decode(e.trim_end_matches('='))
                .map_err(|_| JwtError::Jwks("e is not base64url".into()))?;
            let key =
                rsa_public_key(&n, &e).ok_or_else(|| JwtError::Jwks("invalid RSA key".into()))?;
            out.push(Jwk {
                kid: field("kid").map(str::to_owned),
                key,
            });
        }
        Ok(Self { keys: out })
    }

    /// Adds a key (e.g. one configured locally).
    pub fn push(&mut self, kid: Option<String>, key: rsa::PublicKey) {
        self.keys.push(Jwk { kid, key });
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    fn select(&self, kid: Option<&str>) -> Result<&rsa::PublicKey, JwtError> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.key)
                .ok_or_else(|| JwtError::UnknownKey(Some(kid.to_owned()))),
            None => match self.keys.as_slice() {
                [only] => Ok(&only.key),
                _ => Err(JwtError::UnknownKey(None)),
            },
        }
    }
}

/// The RSA public key with big-endian modulus `n` and exponent `e` (a JWK's fields),
/// through pkcs1's `RsaPublicKey` (leading zeros stripped by `UintRef`); `None` if `rsa`
/// refuses the values (an even or too small modulus, a bad exponent).
fn rsa_public_key(n: &[u8], e: &[u8]) -> Option<rsa::PublicKey> {
    use rsa::pkcs1::{RsaPublicKey, UintRef};
    let key = RsaPublicKey {
        modulus: UintRef::new(n).ok()?,
        public_exponent: UintRef::new(e).ok()?,
    };
    rsa::PublicKey::try_from(key).ok()
}

/// What an Entra token must satisfy. Build with [`JwtValidation::entra`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtValidation {
    /// Accepted issuers; `{tenantid}` stands for the token's `tid` claim.
    pub issuers: Vec<String>,
    /// Accepted audiences (the MDM application's ID URI or client id); one must match.
    pub audiences: Vec<String>,
    /// Accepted tenants (`tid`); `None` accepts any tenant (multi-tenant MDM).
    pub tenants: Option<Vec<String>>,
    /// Allowed clock skew for `exp` and `nbf` (default 2 minutes).
    pub leeway: Duration,
    /// Largest token accepted in bytes (default 16 KiB).
    pub max_len: usize,
}

impl JwtValidation {
    /// Entra ID defaults: v1 and v2 issuers, the given audiences, any tenant, 2 minutes of
    /// leeway.
    pub fn entra<I, S>(audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            issuers: vec![ENTRA_ISSUER_V1.to_owned(), ENTRA_ISSUER_V2.to_owned()],
            audiences: audiences.into_iter().map(Into::into).collect(),
            tenants: None,
            leeway: Duration::from_secs(120),
            max_len: 16 * 1024,
        }
    }
}

/// The claims of a validated Entra token.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct EntraClaims {
    /// `iss`.
    pub issuer: String,
    /// `aud` (one or several).
    pub audiences: Vec<String>,
    /// `tid`: the tenant.
    pub tenant_id: String,
    /// `oid`: the user's (or device's) object id.
    pub object_id: Option<String>,
    /// `upn`, or `unique_name` when `upn` is absent.
    pub upn: Option<String>,
    /// `deviceid`, present in device-bound tokens.
    pub device_id: Option<String>,
    /// `exp`.
    pub expires: SystemTime,
    /// `nbf`.
    pub not_before: Option<SystemTime>,
    /// Every claim as sent.
    pub claims: Map<String, Value>,
}

impl fmt::Debug for EntraClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraClaims")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("tenant_id", &self.tenant_id)
            .field("object_id", &self.object_id)
            .field("upn", &self.upn)
            .field("device_id", &self.device_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

fn decode_json(part: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = B64URL
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed(format!("{what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed(format!("{what} is not a JSON object"))),
    }
}

fn numeric_date(v: &Value) -> Option<SystemTime> {
    let secs = v.as_f64()?;
    if !(0.0..=1e11).contains(&secs) {
        return None;
    }
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64))
}

/// Validates a compact-serialised RS256 JWT issued by Entra ID: signature against `jwks`
/// (by `kid`), then `exp`, `nbf`, `tid`, `iss` and `aud` against `validation` at `now`.
pub fn validate_entra_token(
    token: &str,
    jwks: &Jwks,
    validation: &JwtValidation,
    now: SystemTime,
) -> Result<EntraClaims, JwtError> {
    let token = token.trim();
    if token.len() > validation.max_len {
        return Err(JwtError::TooLong {
            len: token.len(),
            max: validation.max_len,
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let header = decode_json(h, "header")?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        other => {
            return Err(JwtError::UnsupportedAlgorithm(
                other.unwrap_or("(none)").to_owned(),
            ));
        }
    }
    if header.contains_key("crit") {
        return Err(JwtError::Malformed(
            "critical header parameters are not supported".into(),
        ));
    }
    let key = jwks.select(header.get("kid").and_then(Value::as_str))?;
    let signature = B64URL
        .decode(s.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed("signature is not base64url".into()))?;
    let signed = &token[..h.len() + 1 + p.len()];
    let hash = Sha256::digest(signed.as_bytes());
    if key
        .pkcs1v15_verify_prehash::<Sha256>(&hash, &signature)
        .is_err()
    {
        return Err(JwtError::BadSignature);
    }
    let claims = decode_json(p, "payload")?;

    let expires = claims
        .get("exp")
        .ok_or(JwtError::MissingClaim("exp"))
        .and_then(|v| numeric_date(v).ok_or(JwtError::InvalidClaim("exp")))?;
    if now > expires.checked_add(validation.leeway).unwrap_or(expires) {
        return Err(JwtError::Expired);
    }
    let not_before = match claims.get("nbf") {
        Some(v) => Some(numeric_date(v).ok_or(JwtError::InvalidClaim("nbf"))?),
        None => None,
    };
    let skewed_now = now.checked_add(validation.leeway).unwrap_or(now);
    if not_before.is_some_and(|nbf| skewed_now < nbf) {
        return Err(JwtError::NotYetValid);
    }
    let string = |name: &'static str| -> Result<Option<String>, JwtError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JwtError::InvalidClaim(name)),
        }
    };
    let tenant_id = string("tid")?.ok_or(JwtError::MissingClaim("tid"))?;
    let tenant_allowed =
        |allowed: &Vec<String>| allowed.iter().any(|t| t.eq_ignore_ascii_case(&tenant_id));
    if validation
        .tenants
        .as_ref()
        .is_some_and(|a| !tenant_allowed(a))
    {
        return Err(JwtError::WrongTenant(tenant_id));
    }
    let issuer = string("iss")?.ok_or(JwtError::MissingClaim("iss"))?;
    if !validation
        .issuers
        .iter()
        .any(|t| t.replace("{tenantid}", &tenant_id) == issuer)
    {
        return Err(JwtError::WrongIssuer(issuer));
    }
    let audiences = match claims.get("aud") {
        None => return Err(JwtError::MissingClaim("aud")),
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(JwtError::InvalidClaim("aud"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::InvalidClaim("aud")),
    };
    if !audiences.iter().any(|a| validation.audiences.contains(a)) {
        return Err(JwtError::WrongAudience(audiences));
    }
    Ok(EntraClaims {
        issuer,
        audiences,
        tenant_id,
        object_id: string("oid")?,
        upn: match string("upn")? {
            Some(u) => Some(u),
            None => string("unique_name")?,
        },
        device_id: string("deviceid")?,
        expires,
        not_before,
        claims,
    })
}
