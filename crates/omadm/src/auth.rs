//! DM-level authentication as MS-MDM uses it: `syncml:auth-basic` and `syncml:auth-md5`
//! (protocol notes §2.7), plus the TLS client-certificate binding.
//!
//! The server engine takes a [`ServerAuth`] (in
//! [`ServerConfig::auth`](crate::server::ServerConfig::auth) or through
//! [`ServerSession::set_auth`](crate::server::ServerSession::set_auth)) and an
//! [`IdentityBinding`] such as [`CertDeviceId`]; the device engine a [`DeviceAuth`] (in
//! [`DeviceConfig::auth`](crate::device::DeviceConfig::auth)). [`digest`], [`cred`],
//! [`chal`], [`read_chal`] and [`verify`] are the scheme arithmetic both engines use.

use std::borrow::Cow;
use std::fmt;

use md5::{Digest, Md5};
use winmdm_syncml::{Chal, Cred, Data, Meta};
use winmdm_types::base64::{decode_lenient, encode as b64};
use winmdm_types::{Secret, constant_time_eq};

/// A DM authentication scheme (`Meta/Type` of `Cred` and `Chal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `syncml:auth-basic`: base64(`name:password`).
    Basic,
    /// `syncml:auth-md5`: base64(MD5(base64(MD5(`name:password`)) `:` nonce)).
    Md5,
}

impl AuthScheme {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Basic => "syncml:auth-basic",
            AuthScheme::Md5 => "syncml:auth-md5",
        }
    }

    /// Parses the wire name (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "syncml:auth-basic" => Some(AuthScheme::Basic),
            "syncml:auth-md5" => Some(AuthScheme::Md5),
            _ => None,
        }
    }
}

/// A user name and password. `Debug` shows the name only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The account name (w7 AAUTHNAME).
    pub username: String,
    password: Secret,
}

impl Credentials {
    /// Builds credentials.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// The password.
    pub fn password(&self) -> &str {
        self.password.expose()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `Cred/Data` value for a scheme: base64 text.
pub fn digest(scheme: AuthScheme, creds: &Credentials, nonce: &[u8]) -> String {
    let up = format!("{}:{}", creds.username, creds.password());
    match scheme {
        AuthScheme::Basic => b64(up.as_bytes()),
        AuthScheme::Md5 => {
            let inner = b64(&Md5::digest(up.as_bytes()));
            let mut h = Md5::new();
            h.update(inner.as_bytes());
            h.update(b":");
            h.update(nonce);
            b64(&h.finalize())
        }
    }
}

/// A `Cred` element for a scheme (`Format b64`).
pub fn cred(scheme: AuthScheme, creds: &Credentials, nonce: &[u8]) -> Cred<'static> {
    Cred {
        meta: Some(Meta {
            r#type: Some(Cow::Borrowed(scheme.as_str())),
            format: Some(Cow::Borrowed("b64")),
            ..Meta::default()
        }),
        data: Some(Data::text(digest(scheme, creds, nonce))),
    }
}

/// A `Chal` element: the scheme and, for MD5, the next nonce (base64).
pub fn chal(scheme: AuthScheme, next_nonce: &[u8]) -> Chal<'static> {
    Chal {
        meta: Some(Meta {
            r#type: Some(Cow::Borrowed(scheme.as_str())),
            format: Some(Cow::Borrowed("b64")),
            next_nonce: (scheme == AuthScheme::Md5).then(|| Cow::Owned(b64(next_nonce))),
            ..Meta::default()
        }),
    }
}

/// Reads a `Chal`: its scheme and decoded next nonce.
pub fn read_chal(c: &Chal<'_>) -> Option<(AuthScheme, Option<Vec<u8>>)> {
    let m = c.meta.as_ref()?;
    let scheme = AuthScheme::parse(m.r#type.as_deref().unwrap_or("syncml:auth-basic"))?;
    let nonce = m
        .next_nonce
        .as_deref()
        // A nonce decodes to fewer bytes than its text has: the text bounds it.
        .and_then(|n| decode_lenient(n, n.len()).ok());
    Some((scheme, nonce))
}

/// Checks a received `Cred` against the expected credentials and nonce.
pub fn verify(c: &Cred<'_>, scheme: AuthScheme, creds: &Credentials, nonce: &[u8]) -> bool {
    let sent = c
        .meta
        .as_ref()
        .and_then(|m| m.r#type.as_deref())
        .map_or(Some(AuthScheme::Basic), AuthScheme::parse);
    if sent != Some(scheme) {
        return false;
    }
    let Some(d) = &c.data else { return false };
    constant_time_eq(
        d.as_str().trim().as_bytes(),
        digest(scheme, creds, nonce).as_bytes(),
    )
}

/// Server-side DM authentication settings. `Debug` never shows secrets.
#[derive(Clone, Debug)]
pub struct ServerAuth {
    /// The scheme the device must use.
    pub scheme: AuthScheme,
    /// The device's credentials (w7 APPSRV AAUTHNAME / AAUTHSECRET).
    pub credentials: Credentials,
    /// The nonce the device uses this session (MD5), as stored after the last session.
    pub nonce: Vec<u8>,
    /// A fresh random nonce sent with 401/407 challenges; the device then answers with
    /// it. The caller generates it: the engine has no randomness.
    pub challenge_nonce: Vec<u8>,
    /// A fresh random nonce handed out with 212 (`NextNonce`) for the next session:
    /// the nonce is renewed every session.
    pub next_session_nonce: Vec<u8>,
    /// Failed attempts tolerated before the session ends. Default 3.
    pub max_failures: u32,
}

/// The three nonces of one MD5 session, by name. The engine has no randomness: the
/// product draws `challenge` and `next_session` fresh for every session.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServerNonces {
    /// The nonce the device uses this session, as stored after its last session (or
    /// provisioned as w7 APPSRV `AAUTHDATA`).
    pub current: Vec<u8>,
    /// Sent with a 401/407 challenge; the device then answers with it.
    pub challenge: Vec<u8>,
    /// Handed out with 212 for the device's next session: store it.
    pub next_session: Vec<u8>,
}

impl fmt::Debug for ServerNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerNonces(<redacted>)")
    }
}

impl ServerAuth {
    /// Settings with `max_failures` 3.
    pub fn new(scheme: AuthScheme, credentials: Credentials, nonces: ServerNonces) -> Self {
        ServerAuth {
            scheme,
            credentials,
            nonce: nonces.current,
            challenge_nonce: nonces.challenge,
            next_session_nonce: nonces.next_session,
            max_failures: 3,
        }
    }

    /// `syncml:auth-basic` with these credentials (no nonces).
    pub fn basic(credentials: Credentials) -> Self {
        ServerAuth::new(AuthScheme::Basic, credentials, ServerNonces::default())
    }

    /// `syncml:auth-md5` with these credentials and nonces.
    pub fn md5(credentials: Credentials, nonces: ServerNonces) -> Self {
        ServerAuth::new(AuthScheme::Md5, credentials, nonces)
    }
}

/// Device-side DM authentication. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The scheme to use (a challenge may switch it).
    pub scheme: AuthScheme,
    /// The credentials (w7 APPSRV AAUTHNAME / AAUTHSECRET).
    pub credentials: Credentials,
    /// The nonce for MD5 (w7 APPSRV AAUTHDATA, then the last `NextNonce`).
    pub nonce: Vec<u8>,
    /// Attempts before giving up after 401/407. Default 3.
    pub max_attempts: u32,
}

/// Binds the TLS client certificate to the device: the embedding product extracts the
/// device identity from the certificate (e.g. the subject CN the enrollment service
/// issued) and the engine checks it against `SyncHdr/Source/LocURI`.
///
/// Bindings are `Send + Sync + 'static` so that sessions holding one can move between
/// threads (a tokio server).
pub trait IdentityBinding: Send + Sync + 'static {
    /// Whether the certificate identity may speak for `device_id`.
    fn allows(&self, device_id: &str) -> bool;
}

/// The usual binding: the certificate names exactly this DeviceID (ASCII
/// case-insensitive, as Windows device IDs are hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDeviceId(pub String);

impl IdentityBinding for CertDeviceId {
    fn allows(&self, device_id: &str) -> bool {
        self.0.eq_ignore_ascii_case(device_id.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_md5_digests() {
        let c = Credentials::new("Aladdin", "open sesame");
        assert_eq!(
            digest(AuthScheme::Basic, &c, b""),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // Independent computation of the MD5 scheme.
        let inner = b64(&Md5::digest(b"Aladdin:open sesame"));
        let mut m = inner.into_bytes();
        m.extend_from_slice(b":\x00\x01nonce");
        let expect = b64(&Md5::digest(&m));
        assert_eq!(digest(AuthScheme::Md5, &c, b"\x00\x01nonce"), expect);
        let cr = cred(AuthScheme::Md5, &c, b"\x00\x01nonce");
        assert!(verify(&cr, AuthScheme::Md5, &c, b"\x00\x01nonce"));
        assert!(!verify(&cr, AuthScheme::Md5, &c, b"other"));
        assert!(!verify(&cr, AuthScheme::Basic, &c, b"\x00\x01nonce"));
        assert!(!verify(
            &cr,
            AuthScheme::Md5,
            &Credentials::new("Aladdin", "x"),
            b"\x00\x01nonce"
        ));
    }

    #[test]
    fn secrets_never_in_debug() {
        let c = Credentials::new("user1", "hunter2");
        let s = ServerAuth::md5(
            c.clone(),
            ServerNonces {
                current: b"n".to_vec(),
                challenge: b"m".to_vec(),
                next_session: b"o".to_vec(),
            },
        );
        assert!(!format!("{c:?}{s:?}").contains("hunter2"));
        let cr = cred(AuthScheme::Basic, &c, b"");
        assert!(!format!("{cr:?}").contains(&digest(AuthScheme::Basic, &c, b"")));
    }

    #[test]
    fn chal_round_trip() {
        let ch = chal(AuthScheme::Md5, b"\xffnonce");
        assert_eq!(
            read_chal(&ch),
            Some((AuthScheme::Md5, Some(b"\xffnonce".to_vec())))
        );
        let b = chal(AuthScheme::Basic, b"x");
        assert_eq!(read_chal(&b), Some((AuthScheme::Basic, None)));
        assert!(CertDeviceId("ABCD".into()).allows("abcd"));
        assert!(!CertDeviceId("ABCD".into()).allows("abce"));
    }
}
