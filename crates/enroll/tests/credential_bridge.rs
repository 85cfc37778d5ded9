//! The message layer hands the Security header's credential to the token layer.

use std::path::Path;

use winmdm_enroll::token::{BinaryTokenCredential, Credential, DEVICE_ENROLLMENT_USER_TOKEN};
use winmdm_enroll::{Message, Security};

fn security(rel: &str) -> Security {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/messages/published")
        .join(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let header = match Message::decode_capture(&bytes).expect("decodes") {
        Message::GetPolicies(env) => env.header,
        Message::RequestSecurityToken(env) => env.header,
        other => panic!("unexpected message {other:?}"),
    };
    header.security.expect("a Security header")
}

#[test]
fn federated_getpolicies_gives_the_user_token() {
    let sec = security("federated-authentication-device-enrollment_05_getpolicies-request.xml");
    let Some(Credential::BinarySecurityToken(BinaryTokenCredential {
        value_type, value, ..
    })) = sec.credential()
    else {
        panic!("a BinarySecurityToken credential")
    };
    assert_eq!(value_type, DEVICE_ENROLLMENT_USER_TOKEN);
    assert!(!value.is_empty());
}

#[test]
fn renewal_rst_gives_the_username_token() {
    let sec = security("certificate-renewal-windows-mdm_01_rst-renew.xml");
    let Some(Credential::UsernameToken(u)) = sec.credential() else {
        panic!("a UsernameToken credential")
    };
    assert!(!u.username.is_empty());
    assert!(!format!("{u:?}").contains(u.password) || u.password.is_empty());
}
