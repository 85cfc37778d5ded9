//! WS-Security credential checks for enrollment: a pluggable authenticator for
//! UsernameToken and BinarySecurityToken, and Entra ID JWT validation.
