//! The pluggable authenticator with UsernameToken credentials, as the OnPremise
//! GetPolicies / RequestSecurityToken captures send them.

use std::collections::HashMap;
use std::time::SystemTime;

use winmdm_enroll::token::{
    AuthError, Authenticator, BinaryTokenCredential, Credential, UsernameCredential,
};
use winmdm_enroll::types::constant_time_eq;

/// A directory implementing the trait directly.
struct Directory(HashMap<&'static str, &'static str>);

impl Authenticator for Directory {
    type Principal = String;

    fn authenticate(&self, c: &Credential<'_>, _now: SystemTime) -> Result<String, AuthError> {
        let Credential::UsernameToken(u) = c else {
            return Err(AuthError::UnsupportedCredential);
        };
        // Samples carry trailing whitespace after the password; the directory decides.
        let password = u.password.trim_end();
        match self.0.get(u.username) {
            Some(p) if constant_time_eq(p.as_bytes(), password.as_bytes()) => {
                Ok(u.username.to_owned())
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}

#[test]
fn username_token_directory() {
    // Credentials of the Windows 10 19043 capture (GetPolicies with UsernameToken).
    let dir = Directory(HashMap::from([("demio", "demo")]));
    let ok = Credential::UsernameToken(UsernameCredential {
        username: "demio",
        password: "demo\n",
    });
    assert_eq!(dir.authenticate(&ok, SystemTime::now()).unwrap(), "demio");
    let bad = Credential::UsernameToken(UsernameCredential {
        username: "demio",
        password: "nope",
    });
    assert_eq!(
        dir.authenticate(&bad, SystemTime::now()),
        Err(AuthError::InvalidCredentials)
    );
    let bst = Credential::BinarySecurityToken(BinaryTokenCredential {
        value_type: "x",
        encoding_type: None,
        value: "",
    });
    assert_eq!(
        dir.authenticate(&bst, SystemTime::now()),
        Err(AuthError::UnsupportedCredential)
    );
    // Passwords never show in Debug output.
    let shown = format!("{ok:?}");
    assert!(shown.contains("demio") && !shown.contains("demo\\n") && shown.contains("redacted"));
}

#[test]
fn closures_are_authenticators() {
    let allow_all = |c: &Credential<'_>, _: SystemTime| match c {
        Credential::UsernameToken(u) => Ok(u.username.len()),
        _ => Err(AuthError::UnsupportedCredential),
    };
    let c = Credential::UsernameToken(UsernameCredential {
        username: "abc",
        password: "",
    });
    assert_eq!(allow_all.authenticate(&c, SystemTime::UNIX_EPOCH), Ok(3));
}

#[test]
fn constant_time_eq_compares_bytes() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"secret", b"secret"));
    assert!(!constant_time_eq(b"secret", b"secreT"));
    assert!(!constant_time_eq(b"secret", b"secret "));
}

#[test]
fn binary_security_token_decoding() {
    let bst = BinaryTokenCredential {
        value_type: "v",
        encoding_type: None,
        value: "aGVs\r\nbG93b3JsZA==",
    };
    assert_eq!(bst.decode().unwrap(), b"helloworld");
    let bad = BinaryTokenCredential { value: "*", ..bst };
    assert_eq!(bad.decode(), Err(AuthError::Encoding));
    // Over MAX_TOKEN_LEN once decoded: refused before decoding.
    let huge = "A".repeat(winmdm_enroll::token::MAX_TOKEN_LEN / 3 * 4 + 8);
    let big = BinaryTokenCredential {
        value: &huge,
        ..bst
    };
    assert_eq!(big.decode(), Err(AuthError::Encoding));
}
