//! Management behind a TLS-terminating proxy: the client certificate forwarded in a header
//! by a trusted proxy, and OMA-DM MD5 digest with the DMAcc credentials provisioned.

mod common;

use common::{Request, Server, free_port, https, tempdir};
use winmdm_device_emulator::{Credential, Device, EnrollOptions};
use winmdm_omadm::SyncML;
use winmdm_omadm::auth::{AuthScheme, Credentials, DeviceAuth};
use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::tree::MemoryTree;

async fn enrolled(server: &Server) -> (Device, tempfile::TempDir) {
    let dir = tempdir();
    let opts = EnrollOptions::new(
        server.discovery_url(),
        server.ca_pem().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: server.secret(),
        },
    );
    (Device::enroll(dir.path(), opts).await.expect("enroll"), dir)
}

fn pem(der: &[u8]) -> String {
    use winmdm_enroll::pki::der::pem;
    pem::encode_string("CERTIFICATE", pem::LineEnding::LF, der).unwrap()
}

/// nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded.
fn escaped(pem: &str) -> String {
    pem.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs a whole session with the crate's device engine over `send`, without a client
/// certificate; returns the SyncHdr status codes the server gave.
async fn digest_session(
    server: &Server,
    device: &Device,
    auth: Option<DeviceAuth>,
) -> Result<Vec<u16>, u16> {
    let url = device.enrollment().unwrap().management_url.clone();
    let mut cfg = DeviceConfig::new(device.device_id(), url.clone(), "A1");
    cfg.auth = auth;
    let mut session = DeviceSession::new(cfg);
    let mut tree = MemoryTree::new();
    let mut msg = session.start();
    let mut hdr_statuses = Vec::new();
    for _ in 0..20 {
        let body = msg.to_xml().unwrap();
        let req = Request::new("POST", &url, &server.ca_pem())
            .body(body, "application/vnd.syncml.dm+xml");
        let (status, text) = https(&req).await.unwrap();
        if status != 200 {
            eprintln!("HTTP {status}: {text} after {hdr_statuses:?}");
            return Err(status);
        }
        let reply: SyncML<'_> = winmdm_omadm::decode(text.as_bytes()).unwrap();
        for c in &reply.body.commands {
            if let winmdm_omadm::Command::Status(st) = c
                && st.cmd.as_deref() == Some("SyncHdr")
            {
                hdr_statuses.push(st.code().map_or(0, |c| c.0));
            }
        }
        match session.handle(&reply, &mut tree).unwrap() {
            Some(next) => msg = next,
            None => return Ok(hdr_statuses),
        }
    }
    panic!("session did not end");
}

fn dm_auth(device: &Device, password: Option<&str>) -> DeviceAuth {
    let a = device
        .enrollment()
        .unwrap()
        .server_auth
        .clone()
        .expect("DMAcc credentials provisioned");
    DeviceAuth {
        scheme: AuthScheme::Md5,
        credentials: Credentials::new(a.name, password.unwrap_or(&a.secret)),
        nonce: winmdm_enroll::types::base64::decode_lenient(&a.nonce_b64, 1024).unwrap(),
        max_attempts: 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_forwards_the_client_certificate_and_nobody_else_can() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--trusted-proxy", "127.0.0.1"]);
    let (device, _dir) = enrolled(&server).await;
    let e = device.enrollment().unwrap();
    let body = format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>{}</LocURI></Target><Source><LocURI>{}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>"#,
        e.management_url,
        device.device_id()
    );
    let send = |header: Option<String>| {
        let mut r = Request::new("POST", &e.management_url, &server.ca_pem())
            .body(body.clone(), "application/vnd.syncml.dm+xml");
        r.extra_headers = header
            .map(|h| vec![("x-ssl-client-cert".to_owned(), h)])
            .unwrap_or_default();
        r
    };
    let (s, _) = https(&send(Some(escaped(&pem(&e.certificate_der)))))
        .await
        .unwrap();
    assert_eq!(s, 200, "forwarded, URL-encoded PEM");
    let (s, _) = https(&send(None)).await.unwrap();
    assert_eq!(s, 403, "nothing forwarded");
    let (s, _) = https(&send(Some("not a certificate".into())))
        .await
        .unwrap();
    assert_eq!(s, 403);

    // The same header from a client that is not a trusted proxy is ignored.
    let data2 = tempdir();
    let plain = Server::start(data2.path(), free_port(), &[]);
    let (other, _dir2) = enrolled(&plain).await;
    let oe = other.enrollment().unwrap();
    let mut r = Request::new("POST", &oe.management_url, &plain.ca_pem()).body(
        body.replace(device.device_id(), other.device_id()),
        "application/vnd.syncml.dm+xml",
    );
    r.extra_headers = vec![(
        "x-ssl-client-cert".into(),
        escaped(&pem(&oe.certificate_der)),
    )];
    let (s, _) = https(&r).await.unwrap();
    assert_eq!(s, 403, "a forwarded certificate from an untrusted peer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_digest_opens_management_without_a_certificate_only_when_allowed() {
    let data = tempdir();
    let server = Server::start(data.path(), free_port(), &["--allow-dm-digest"]);
    let (device, _dir) = enrolled(&server).await;

    // Right credentials: 212 (authenticated), twice (the nonce rotates between sessions).
    let first = digest_session(&server, &device, Some(dm_auth(&device, None)))
        .await
        .expect("digest session");
    assert!(first.contains(&212), "{first:?}");
    // A second session must use the NextNonce the server handed out; the device
    // engine of this test starts from the provisioned nonce again, so the server
    // challenges (401) with a fresh nonce and the device answers it.
    let second = digest_session(&server, &device, Some(dm_auth(&device, None)))
        .await
        .expect("second session");
    assert!(second.contains(&212), "{second:?}");

    // Wrong password: challenged, never authenticated; once the server gives up, the
    // session is over (a further message gets a SyncML answer with SyncHdr status 400,
    // in an HTTP 200; `Err(400)` stays for a server that answers plain HTTP 400).
    let wrong = digest_session(&server, &device, Some(dm_auth(&device, Some("wrong")))).await;
    match &wrong {
        Ok(s) => assert!(!s.contains(&212) && s.contains(&401), "{s:?}"),
        Err(status) => assert_eq!(*status, 400),
    }

    // Without --allow-dm-digest: 403.
    let data2 = tempdir();
    let strict = Server::start(data2.path(), free_port(), &[]);
    let (d2, _dir2) = enrolled(&strict).await;
    assert_eq!(
        digest_session(&strict, &d2, Some(dm_auth(&d2, None))).await,
        Err(403)
    );
}
