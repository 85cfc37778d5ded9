//! Errors of the token module.

use thiserror::Error;

/// A JWT or JWKS failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is longer than [`JwtValidation::max_len`](super::JwtValidation::max_len).
    #[error("token is {len} bytes, the limit is {max}")]
    TooLong {
        /// Token length.
        len: usize,
        /// Configured limit.
        max: usize,
    },
    /// The token is not a compact JWS with JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not RS256 (`none` and HMAC are always refused).
    #[error("unsupported token algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// No key in the JWKS has the token's `kid` (or, without `kid`, the JWKS has not
    /// exactly one key).
    #[error("no signing key for kid {0:?}")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("the token signature does not verify")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A required claim is absent.
    #[error("required claim {0} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or range.
    #[error("claim {0} is invalid")]
    InvalidClaim(&'static str),
    /// `iss` is not one of the accepted issuers.
    #[error("unexpected issuer {0}")]
    WrongIssuer(String),
    /// None of the `aud` values is accepted.
    #[error("unexpected audience {0:?}")]
    WrongAudience(Vec<String>),
    /// `tid` is not an accepted tenant.
    #[error("unexpected tenant {0}")]
    WrongTenant(String),
    /// The JWKS document is unusable.
    #[error("JWKS: {0}")]
    Jwks(String),
}

/// A WS-Security credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// This authenticator does not handle this kind of credential or ValueType.
    #[error("unsupported credential type")]
    UnsupportedCredential,
    /// The credential is well-formed but wrong (unknown user, bad password, revoked).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The BinarySecurityToken's content is not valid base64.
    #[error("the binary security token is not valid base64")]
    Encoding,
    /// The Entra token is invalid.
    #[error(transparent)]
    Jwt(#[from] JwtError),
}
