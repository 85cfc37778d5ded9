//! WS-Security credentials of enrollment requests: a pluggable [`Authenticator`] for the
//! UsernameToken (OnPremise) and BinarySecurityToken (Federated, Entra) variants, and
//! Entra ID JWT validation ([`validate_entra_token`]) against a JWKS the caller supplies.
//!
//! The input types here are deliberately small and independent of the SOAP message types:
//! the message layer copies the fields from the decoded `wsse:Security` header. Nothing
//! here does IO; the time is a parameter.
//!
//! # Example
//!
//! ```
//! use std::time::SystemTime;
//! use winmdm_enroll::token::{
//!     AuthError, Authenticator, BinaryTokenCredential, Credential, EntraAuthenticator, Jwks,
//!     JwtValidation, UsernameCredential,
//! };
//! use winmdm_enroll::types::constant_time_eq;
//!
//! // An on-premise directory as a closure.
//! let directory = |c: &Credential<'_>, _now: SystemTime| match c {
//!     Credential::UsernameToken(u)
//!         if u.username == "demo@contoso.com" && constant_time_eq(u.password.as_bytes(), b"secret") =>
//!     {
//!         Ok(u.username.to_owned())
//!     }
//!     Credential::UsernameToken(_) => Err(AuthError::InvalidCredentials),
//!     _ => Err(AuthError::UnsupportedCredential),
//! };
//! let cred = Credential::UsernameToken(UsernameCredential {
//!     username: "demo@contoso.com",
//!     password: "secret",
//! });
//! assert_eq!(directory.authenticate(&cred, SystemTime::now()).unwrap(), "demo@contoso.com");
//! assert!(!format!("{cred:?}").contains("secret"));
//!
//! // Entra: the BinarySecurityToken carries base64 of the JWT.
//! let entra = EntraAuthenticator::new(Jwks::default(), JwtValidation::entra(["api://mdm"]));
//! let bst = Credential::BinarySecurityToken(BinaryTokenCredential {
//!     value_type: winmdm_enroll::token::DEVICE_ENROLLMENT_USER_TOKEN,
//!     encoding_type: Some(winmdm_enroll::token::BASE64_BINARY),
//!     value: "bm90LWEtand0",
//! });
//! assert!(entra.authenticate(&bst, SystemTime::now()).is_err());
//! ```

mod error;
mod jwt;

use core::fmt;
use std::time::SystemTime;

pub use error::{AuthError, JwtError};
pub use jwt::{
    ENTRA_ISSUER_V1, ENTRA_ISSUER_V2, EntraClaims, Jwk, Jwks, JwtValidation, MAX_JWKS_KEYS,
    MAX_JWKS_LEN, validate_entra_token,
};

/// BinarySecurityToken ValueType of the Federated (and Entra) user token.
pub const DEVICE_ENROLLMENT_USER_TOKEN: &str = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken";
/// BinarySecurityToken ValueType of an X.509 certificate (Certificate auth policy).
pub const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// The EncodingType for base64 content.
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary";

/// Largest decoded BinarySecurityToken accepted by [`BinaryTokenCredential::decode`]
/// (64 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The credential of a `wsse:UsernameToken` (OnPremise), borrowed from the message's
/// [`UsernameToken`](crate::UsernameToken). The password is redacted in `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UsernameCredential<'a> {
    /// `wsse:Username`.
    pub username: &'a str,
    /// `wsse:Password` (PasswordText), as sent.
    pub password: &'a str,
}

impl fmt::Debug for UsernameCredential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsernameCredential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The credential of a `wsse:BinarySecurityToken` from the Security header, borrowed from
/// the message's [`BinarySecurityToken`](crate::BinarySecurityToken). The value is
/// redacted in `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BinaryTokenCredential<'a> {
    /// The ValueType attribute (e.g. [`DEVICE_ENROLLMENT_USER_TOKEN`]).
    pub value_type: &'a str,
    /// The EncodingType attribute, if any.
    pub encoding_type: Option<&'a str>,
    /// The element text (base64, possibly with line breaks).
    pub value: &'a str,
}

impl fmt::Debug for BinaryTokenCredential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinaryTokenCredential")
            .field("value_type", &self.value_type)
            .field("encoding_type", &self.encoding_type)
            .field(
                "value",
                &format_args!("<redacted, {} chars>", self.value.len()),
            )
            .finish()
    }
}

impl BinaryTokenCredential<'_> {
    /// The decoded content (whitespace ignored), at most [`MAX_TOKEN_LEN`] bytes.
    pub fn decode(&self) -> Result<Vec<u8>, AuthError> {
        winmdm_types::base64::decode_lenient(self.value, MAX_TOKEN_LEN)
            .map_err(|_| AuthError::Encoding)
    }
}

/// The credential of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential<'a> {
    /// OnPremise: user name and password.
    UsernameToken(UsernameCredential<'a>),
    /// Federated / Entra (or an X.509 token): an opaque or JWT token.
    BinarySecurityToken(BinaryTokenCredential<'a>),
}

/// Decides whether a credential is good and who it belongs to. Implemented for closures
/// `Fn(&Credential, SystemTime) -> Result<P, AuthError>`, and by [`EntraAuthenticator`].
pub trait Authenticator {
    /// What a successful authentication yields (user id, claims, ...).
    type Principal;

    /// Checks `credential` at time `now`.
    fn authenticate(
        &self,
        credential: &Credential<'_>,
        now: SystemTime,
    ) -> Result<Self::Principal, AuthError>;
}

impl<F, P> Authenticator for F
where
    F: Fn(&Credential<'_>, SystemTime) -> Result<P, AuthError>,
{
    type Principal = P;

    fn authenticate(&self, credential: &Credential<'_>, now: SystemTime) -> Result<P, AuthError> {
        self(credential, now)
    }
}

/// Accepts a BinarySecurityToken of ValueType [`DEVICE_ENROLLMENT_USER_TOKEN`] whose content
/// is base64 of an Entra ID JWT, validated by [`validate_entra_token`].
#[derive(Debug, Clone)]
pub struct EntraAuthenticator {
    jwks: Jwks,
    validation: JwtValidation,
}

impl EntraAuthenticator {
    /// An authenticator with the tenant's signing keys and the rules to apply.
    pub fn new(jwks: Jwks, validation: JwtValidation) -> Self {
        Self { jwks, validation }
    }

    /// Replaces the keys (after the caller refreshed the JWKS).
    pub fn set_jwks(&mut self, jwks: Jwks) {
        self.jwks = jwks;
    }
}

impl Authenticator for EntraAuthenticator {
    type Principal = EntraClaims;

    fn authenticate(
        &self,
        credential: &Credential<'_>,
        now: SystemTime,
    ) -> Result<EntraClaims, AuthError> {
        let Credential::BinarySecurityToken(bst) = credential else {
            return Err(AuthError::UnsupportedCredential);
        };
        if bst.value_type.trim() != DEVICE_ENROLLMENT_USER_TOKEN {
            return Err(AuthError::UnsupportedCredential);
        }
        // Windows sends base64 of the JWT; accept the bare JWT too.
        let value = bst.value.trim();
        if value.matches('.').count() == 2 {
            return Ok(validate_entra_token(
                value,
                &self.jwks,
                &self.validation,
                now,
            )?);
        }
        let raw = bst.decode()?;
        let jwt = core::str::from_utf8(&raw)
            .map_err(|_| AuthError::Jwt(JwtError::Malformed("token is not UTF-8".into())))?;
        Ok(validate_entra_token(
            jwt,
            &self.jwks,
            &self.validation,
            now,
        )?)
    }
}

/// Base64 of a JWT as Windows puts it in the BinarySecurityToken (for tests and clients).
pub fn encode_token_value(jwt: &str) -> String {
    winmdm_types::base64::encode(jwt.as_bytes())
}
