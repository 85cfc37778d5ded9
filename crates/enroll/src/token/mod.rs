//! Token helpers: authenticators for enrollment credentials.
