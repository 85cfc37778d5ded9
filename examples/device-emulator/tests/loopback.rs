//! The emulator against a miniature in-process HTTPS server built from the crates'
//! server halves (`EnrollmentServer`, `EnrollmentRequest`, `ServerSession`): enrollment,
//! sessions with DM digest authentication over one kept-alive mutual-TLS connection,
//! Windows's headers, state across invocations, unenrollment, faults.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use winmdm_device_emulator::{Credential, Device, EmuError, EnrollOptions, MANAGEMENT_HEADERS};
use winmdm_enroll::pki::{
    self, CertificateAuthority, CsrPolicy, IssueOptions, RenewalPolicy, RsaSigner, Signer, Subject,
};
use winmdm_enroll::token::{AuthError, Credential as TokenCredential};
use winmdm_enroll::types::constant_time_eq;
use winmdm_enroll::{
    AuthPolicy, Discover, DmCredentials, EnrollmentRequest, EnrollmentServer, Envelope, Fault,
    GetPolicies, ProviderId, Renewal, RequestType, ServerUrls,
};
use winmdm_omadm::auth::{Credentials, ServerAuth, ServerNonces};
use winmdm_omadm::server::{FifoQueue, ServerConfig, ServerSession, SessionHeader};
use winmdm_omadm::{DmCommand, LocUri, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    connection: usize,
    client_cert: bool,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

struct Mgmt {
    queue: FifoQueue,
    sessions: HashMap<String, ServerSession>,
    creds: Option<DmCredentials>,
    /// The device's nonce for its next session.
    nonce: Vec<u8>,
    /// Keep the device's nonce (`NextNonce` = the current one) instead of a new one per
    /// session: a session then changes nothing of the enrollment.
    keep_nonce: bool,
}

struct Mini {
    base: String,
    server: EnrollmentServer,
    ca: CertificateAuthority,
    seen: Mutex<Vec<Seen>>,
    renewed: Mutex<Vec<Vec<u8>>>,
    mgmt: Mutex<Mgmt>,
}

fn xml(status: u16, ct: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", ct)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

const SOAP: &str = "application/soap+xml; charset=utf-8";
const SYNCML: &str = "application/vnd.syncml.dm+xml";

impl Mini {
    /// RequestType Renew over TLS with the current certificate (ROBO), checked as if
    /// 340 days had passed (inside the renewal window), issued now.
    fn renew(&self, request: &EnrollmentRequest, peer: Option<&[u8]>) -> Response<Full<Bytes>> {
        let now = SystemTime::now();
        let later = now + Duration::from_secs(340 * 86_400);
        let mut rng = pki::default_rng();
        let Some(peer) = peer else {
            return xml(403, "text/plain", "no client certificate".into());
        };
        let (csr, current) =
            match request.verify_robo_renewal(&self.ca, peer, &RenewalPolicy::default(), later) {
                Ok(v) => v,
                Err(e) => return self.fault(e.fault()),
            };
        let cert = request
            .issue_renewal(
                &self.ca,
                &csr,
                &current,
                &self.server.issue_options(),
                now,
                &mut rng,
            )
            .unwrap();
        let creds = self.mgmt.lock().unwrap().creds.clone().unwrap();
        let doc = self
            .server
            .provisioning(request, &cert, self.ca.certificate_der())
            .dm_credentials(&creds)
            .renewal(Renewal::NotOffered)
            .build()
            .unwrap();
        self.renewed.lock().unwrap().push(cert.der().to_vec());
        xml(200, SOAP, request.respond(&doc, now).to_xml())
    }

    fn fault(&self, f: Fault) -> Response<Full<Bytes>> {
        let env = Envelope::<Fault>::response(f, None);
        xml(env.http_status(), SOAP, env.to_xml())
    }

    fn handle(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        peer: Option<&[u8]>,
    ) -> Response<Full<Bytes>> {
        let now = SystemTime::now();
        let mut rng = pki::default_rng();
        let route = path.split('?').next().unwrap_or("");
        match (method, route) {
            ("GET", "/EnrollmentServer/Discovery.svc") => xml(200, "text/html", String::new()),
            ("POST", "/EnrollmentServer/Discovery.svc") => {
                let d = Envelope::<Discover>::decode(body).unwrap();
                xml(
                    200,
                    SOAP,
                    self.server.discover_response(&d).unwrap().to_xml(),
                )
            }
            ("POST", "/EnrollmentServer/Policy.svc") => {
                let g = Envelope::<GetPolicies>::decode(body).unwrap();
                xml(200, SOAP, self.server.get_policies_response(&g).to_xml())
            }
            ("POST", "/EnrollmentServer/Enrollment.svc") => {
                let directory = |c: &TokenCredential<'_>, _: SystemTime| match c {
                    // `load` enrolls as user@ the discovery host.
                    TokenCredential::UsernameToken(u)
                        if (u.username == "user@example.com" || u.username == "user@127.0.0.1")
                            && constant_time_eq(u.password.as_bytes(), b"secret") =>
                    {
                        Ok(u.username.to_owned())
                    }
                    _ => Err(AuthError::InvalidCredentials),
                };
                let request = EnrollmentRequest::decode_any(body).unwrap();
                if request.request_type() == &RequestType::RENEW {
                    return self.renew(&request, peer);
                }
                let user = match request.authenticate(&directory, now) {
                    Ok(u) => u,
                    Err(e) => return self.fault(e.fault()),
                };
                let csr = request.verify_csr(&CsrPolicy::default()).unwrap();
                let cert = request
                    .issue(&self.ca, &csr, &self.server.issue_options(), now, &mut rng)
                    .unwrap();
                let creds = DmCredentials::generate(&user, &mut rng);
                let doc = self
                    .server
                    .provisioning(&request, &cert, self.ca.certificate_der())
                    .dm_credentials(&creds)
                    .renewal(Renewal::NotOffered)
                    .build()
                    .unwrap();
                let mut m = self.mgmt.lock().unwrap();
                m.nonce = creds.device_nonce.clone();
                m.creds = Some(creds);
                xml(200, SOAP, request.respond(&doc, now).to_xml())
            }
            ("POST", "/ManagementServer/MDM.svc") => {
                let msg = winmdm_omadm::decode(body).unwrap();
                let h = SessionHeader::read(&msg).unwrap();
                let mut guard = self.mgmt.lock().unwrap();
                let m = &mut *guard;
                let creds = m.creds.clone().unwrap();
                let s = m
                    .sessions
                    .entry(h.session_id.to_owned())
                    .or_insert_with(|| {
                        let mut s = ServerSession::new(ServerConfig::new(format!(
                            "{}/ManagementServer/MDM.svc",
                            self.base
                        )));
                        s.set_auth(ServerAuth::md5(
                            Credentials::new(
                                creds.device_name.clone(),
                                creds.device_secret.expose().to_owned(),
                            ),
                            ServerNonces {
                                current: m.nonce.clone(),
                                challenge: b"challenge-nonce!".to_vec(),
                                next_session: if m.keep_nonce {
                                    m.nonce.clone()
                                } else {
                                    format!("next-{}", h.session_id).into_bytes()
                                },
                            },
                        ));
                        s
                    });
                let reply = s.handle(&msg, now, &mut m.queue).unwrap();
                if let Some(n) = s.nonce_for_next_session() {
                    m.nonce = n.to_vec();
                }
                xml(200, SYNCML, reply.to_xml().unwrap())
            }
            _ => xml(404, "text/plain", "not found".into()),
        }
    }
}

struct Harness {
    mini: Arc<Mini>,
    ca_pem: String,
    discovery: String,
}

async fn start() -> Harness {
    let now = SystemTime::now();
    let mut rng = pki::default_rng();
    let ca = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=emulator test CA").unwrap(),
        2048,
        now - Duration::from_secs(3600),
        Duration::from_secs(365 * 86_400),
        &mut rng,
    )
    .unwrap();
    let key = RsaSigner::generate(2048, &mut rng).unwrap();
    let tls_cert = ca
        .issue_tls_server(
            &key.public_key_der().unwrap(),
            &Subject::try_from("CN=127.0.0.1").unwrap(),
            &["localhost"],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
            &IssueOptions::default(),
            now - Duration::from_secs(60),
            &mut rng,
        )
        .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.certificate_der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(tls_cert.der().to_vec())],
            PrivateKeyDer::from_pem_slice(key.private_key_pem().unwrap().as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("https://127.0.0.1:{port}");
    let server = EnrollmentServer::new(
        ProviderId::new("Emulator Test MDM").unwrap(),
        ServerUrls::standard(&base).unwrap(),
        AuthPolicy::ON_PREMISE,
    )
    .unwrap();
    let ca_pem = ca.certificate_pem();
    let mini = Arc::new(Mini {
        base: base.clone(),
        server,
        ca,
        seen: Mutex::new(Vec::new()),
        renewed: Mutex::new(Vec::new()),
        mgmt: Mutex::new(Mgmt {
            queue: FifoQueue::new(),
            sessions: HashMap::new(),
            creds: None,
            nonce: Vec::new(),
            keep_nonce: false,
        }),
    });
    let m = mini.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            n += 1;
            let connection = n;
            let acceptor = acceptor.clone();
            let m = m.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer: Option<Vec<u8>> = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                let client_cert = peer.is_some();
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let m = m.clone();
                    let peer = peer.clone();
                    async move {
                        let method = req.method().to_string();
                        let path = req
                            .uri()
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default();
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let body = req.into_body().collect().await?.to_bytes();
                        m.seen.lock().unwrap().push(Seen {
                            connection,
                            client_cert,
                            method: method.clone(),
                            path: path.clone(),
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        Ok::<_, hyper::Error>(m.handle(&method, &path, &body, peer.as_deref()))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Harness {
        mini,
        ca_pem,
        discovery: format!("{base}/EnrollmentServer/Discovery.svc"),
    }
}

fn u(s: &str) -> LocUri<'static> {
    LocUri::try_from(s.to_owned()).unwrap()
}

fn header<'a>(s: &'a Seen, name: &str) -> Option<&'a str> {
    s.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

const CAMERA: &str = "./Vendor/MSFT/Policy/Config/Camera/AllowCamera";

#[tokio::test(flavor = "multi_thread")]
async fn enroll_sync_and_unenroll_across_invocations() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = EnrollOptions::new(
        h.discovery.clone(),
        h.ca_pem.clone().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: "secret".into(),
        },
    );
    let dev = Device::enroll(dir.path(), opts).await.unwrap();
    let id = dev.device_id().to_owned();
    assert_eq!(id.len(), 32);
    let e = dev.enrollment().unwrap();
    assert_eq!(e.provider_id, "Emulator Test MDM");
    assert_eq!(
        e.management_url,
        format!("{}/ManagementServer/MDM.svc", h.mini.base)
    );
    assert!(e.server_auth.is_some() && e.poll.is_some());
    assert!(!dev.certificate_der().is_empty());
    drop(dev);

    // Enrollment requests: Windows's headers, no client certificate.
    {
        let seen = h.mini.seen.lock().unwrap();
        let kinds: Vec<(&str, &str)> = seen
            .iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("GET", "/EnrollmentServer/Discovery.svc"),
                ("POST", "/EnrollmentServer/Discovery.svc"),
                ("POST", "/EnrollmentServer/Policy.svc"),
                ("POST", "/EnrollmentServer/Enrollment.svc"),
            ]
        );
        for s in seen.iter() {
            assert_eq!(header(s, "user-agent"), Some("ENROLLClient"));
            assert!(!s.client_cert);
            if s.method == "POST" {
                assert_eq!(
                    header(s, "content-type"),
                    Some("application/soap+xml; charset=utf-8")
                );
            }
        }
        assert_eq!(header(&seen[0], "cache-control"), Some("no-cache"));
        // The RST carries a Windows-shaped CSR for this device.
        assert!(seen[3].body.contains(&id));
    }
    h.mini.seen.lock().unwrap().clear();

    // Session 1, a later invocation: commands queued on the server.
    let tags = {
        let mut m = h.mini.mgmt.lock().unwrap();
        [
            m.queue.push(DmCommand::get(u("./DevDetail/SwV"))),
            m.queue.push(DmCommand::replace(
                u("./DevInfo/DevId"),
                Value::Chr("x".into()),
            )),
            m.queue.push(DmCommand::add(u(CAMERA), Value::Int(0))),
            m.queue
                .push(DmCommand::exec(u("./Vendor/MSFT/Reboot/RebootNow"), None)),
            m.queue.push(DmCommand::get(u("./Vendor/MSFT/NoSuchCsp/X"))),
        ]
    };
    let mut dev = Device::load(dir.path()).unwrap();
    let r = dev.sync().await.unwrap();
    assert_eq!(r.session_id, "1");
    assert_eq!(r.connections, 1, "one keep-alive connection per session");
    assert!(r.http_statuses.iter().all(|s| *s == 200));
    // 407 (no Cred in message 1, as Windows), then 212 after package 1 with MD5.
    assert_eq!(r.header_statuses[..2], [407, 212]);
    assert_eq!(r.status_of("./DevDetail/SwV"), Some(200));
    assert_eq!(r.status_of("./DevInfo/DevId"), Some(405));
    assert_eq!(r.status_of(CAMERA), Some(200));
    assert_eq!(r.status_of("./Vendor/MSFT/Reboot/RebootNow"), Some(200));
    assert_eq!(r.status_of("./Vendor/MSFT/NoSuchCsp/X"), Some(404));
    assert_eq!(r.execs.len(), 1);
    {
        let m = h.mini.mgmt.lock().unwrap();
        let codes: Vec<u16> = tags
            .iter()
            .map(|t| m.queue.outcome_for(*t).unwrap().status.unwrap().0)
            .collect();
        assert_eq!(codes, [200, 405, 200, 200, 404]);
    }
    {
        let seen = h.mini.seen.lock().unwrap();
        assert_eq!(seen.len(), r.messages);
        for s in seen.iter() {
            assert!(
                s.client_cert,
                "management requests present the MDM certificate"
            );
            assert_eq!(s.connection, seen[0].connection);
            assert_eq!(
                s.path,
                "/ManagementServer/MDM.svc?mode=Maintenance&Platform=WoA"
            );
            assert_eq!(header(s, "user-agent"), Some("MSFT OMA DM Client/1.2.0.1"));
            assert_eq!(
                header(s, "content-type"),
                Some("application/vnd.syncml.dm+xml")
            );
            assert_eq!(header(s, "accept-charset"), Some("UTF-8"));
            assert!(
                header(s, "ms-cv").is_some_and(|v| v.ends_with(".0.0.0") || v.contains(".0.0."))
            );
        }
        // Windows's header order.
        let names: Vec<String> = seen[0]
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .filter(|n| {
                MANAGEMENT_HEADERS
                    .iter()
                    .any(|(m, _)| m.eq_ignore_ascii_case(n))
                    || n == "user-agent"
            })
            .collect();
        let mut want: Vec<String> = MANAGEMENT_HEADERS
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        want.push("user-agent".into());
        assert_eq!(names, want);
        // Message 1 carries no Cred, message 2 (package 1 again) does.
        assert!(!seen[0].body.contains("<Cred>"));
        assert!(seen[1].body.contains("syncml:auth-md5"));
    }
    drop(dev);

    // Drift between sessions, then session 2 reads it back; the new nonce is used.
    let mut dev = Device::load(dir.path()).unwrap();
    assert_eq!(dev.tree().value(CAMERA), Some("0"));
    dev.tree_mut().set(CAMERA, "1").unwrap();
    dev.tree_mut()
        .fail(
            "./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock",
            winmdm_omadm::StatusCode(500),
        )
        .unwrap();
    dev.save().unwrap();
    {
        let mut m = h.mini.mgmt.lock().unwrap();
        m.queue.push(DmCommand::get(u(CAMERA)));
        m.queue.push(DmCommand::replace(
            u("./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock"),
            Value::Int(10),
        ));
    }
    let mut dev = Device::load(dir.path()).unwrap();
    let r = dev.sync().await.unwrap();
    assert_eq!(r.session_id, "2");
    assert_eq!(r.header_statuses[..2], [407, 212]);
    assert_eq!(r.status_of(CAMERA), Some(200));
    assert!(
        r.transcript
            .iter()
            .any(|x| x.request.contains("<Data>1</Data>"))
    );
    assert_eq!(
        r.status_of("./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock"),
        Some(500)
    );
    drop(dev);

    // Unenroll: package 1 carries the 1226 alert, then the enrollment is gone.
    h.mini.seen.lock().unwrap().clear();
    let mut dev = Device::load(dir.path()).unwrap();
    let r = dev.unenroll().await.unwrap();
    assert_eq!(r.session_id, "3");
    {
        let seen = h.mini.seen.lock().unwrap();
        assert!(
            seen[0]
                .body
                .contains("com.microsoft:mdm.unenrollment.userrequest")
        );
    }
    assert!(dev.enrollment().is_none());
    let mut dev = Device::load(dir.path()).unwrap();
    assert!(matches!(dev.sync().await, Err(EmuError::NotEnrolled(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_a_fault_and_writes_nothing() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = EnrollOptions::new(
        h.discovery.clone(),
        h.ca_pem.clone().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: "wrong".into(),
        },
    );
    match Device::enroll(dir.path(), opts).await {
        Err(EmuError::Fault { code, .. }) => assert_eq!(code, "Authentication"),
        other => panic!("{other:?}"),
    }
    assert!(Device::load(dir.path()).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_server_is_a_tls_error() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let other = CertificateAuthority::generate_dev(
        &Subject::try_from("CN=someone else").unwrap(),
        2048,
        SystemTime::now(),
        Duration::from_secs(86_400),
        &mut pki::default_rng(),
    )
    .unwrap();
    let opts = EnrollOptions::new(
        h.discovery.clone(),
        other.certificate_pem().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: "secret".into(),
        },
    );
    assert!(matches!(
        Device::enroll(dir.path(), opts).await,
        Err(EmuError::Tls(_))
    ));
}

async fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_winmdm-device"))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`start`], and a temporary directory holding the server's CA as `ca.pem` (its path
/// third) for the CLI's `--ca`.
async fn start_for_cli() -> (Harness, tempfile::TempDir, std::path::PathBuf) {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).unwrap();
    (h, dir, ca)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_works_across_invocations() {
    let (h, dir, ca) = start_for_cli().await;
    let state = dir.path().join("dev");
    let st = state.to_str().unwrap();
    let (ok, out, err) = cli(&[
        "enroll",
        "--state-dir",
        st,
        "--discovery-url",
        &h.discovery,
        "--ca",
        ca.to_str().unwrap(),
        "--upn",
        "user@example.com",
        "--secret",
        "secret",
        "--device-id",
        "0123456789ABCDEF0123456789ABCDEF",
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("enrolled 0123456789ABCDEF0123456789ABCDEF"),
        "{out}"
    );

    h.mini
        .mgmt
        .lock()
        .unwrap()
        .queue
        .push(DmCommand::get(u("./DevDetail/SwV")));
    let (ok, out, err) = cli(&["sync", "--state-dir", st]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("session 1") && out.contains("1 commands"),
        "{out}"
    );
    let (ok, out, err) = cli(&["unenroll", "--state-dir", st]).await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("unenrolled") && out.contains("session 2"),
        "{out}"
    );
    // Not enrolled any more: exit 1 with a message.
    let (ok, out, err) = cli(&["sync", "--state-dir", st]).await;
    assert!(!ok && out.is_empty());
    assert!(err.contains("not enrolled"), "{err}");
    let (ok, _, err) = cli(&[
        "sync",
        "--state-dir",
        dir.path().join("none").to_str().unwrap(),
    ])
    .await;
    assert!(!ok && err.starts_with("winmdm-device: "), "{err}");
}

/// `load --threads N` runs the load generator on N runtime threads (N >= 1): one device
/// enrolls and checks in on a single thread; zero threads is a usage error.
#[tokio::test(flavor = "multi_thread")]
async fn load_runs_on_the_threads_it_is_given() {
    let (h, dir, ca) = start_for_cli().await;
    let base = h
        .discovery
        .trim_end_matches("/EnrollmentServer/Discovery.svc");
    let state = dir.path().join("load");
    let (ca, state) = (ca.to_str().unwrap(), state.to_str().unwrap());
    let args = |threads| {
        [
            "load",
            "--quiet",
            "--threads",
            threads,
            "--server",
            base,
            "--ca",
            ca,
            "--secret",
            "secret",
            "--state-dir",
            state,
            "--devices",
            "1",
            "--concurrency",
            "1",
            "--sessions",
            "2",
            "--duration",
            "10",
        ]
    };
    let (ok, _, err) = cli(&args("0")).await;
    assert!(!ok && err.contains("--threads"), "{err}");
    let (ok, out, err) = cli(&args("1")).await;
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["enrollments"], 1, "{out}");
    assert_eq!(summary["sessions"], 2, "{out}");
    assert_eq!(summary["errors"], serde_json::json!({}), "{out}");
}

/// A secret or token that begins with `-` is a value, not an option: generated secrets
/// did begin with one, and `--secret "$(cat enrollment-secret)"` then failed as usage.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_or_token_starting_with_a_hyphen_is_taken_as_the_value() {
    let (h, dir, ca) = start_for_cli().await;
    for flag in ["--secret", "--token"] {
        let state = dir.path().join(flag.trim_start_matches('-'));
        let (ok, _, err) = cli(&[
            "enroll",
            "--state-dir",
            state.to_str().unwrap(),
            "--discovery-url",
            &h.discovery,
            "--ca",
            ca.to_str().unwrap(),
            flag,
            "-2wrong-secret",
        ])
        .await;
        // Parsed, sent, and refused by the server as a wrong credential (exit 1).
        assert!(!ok, "{flag}: a wrong credential enrolled");
        assert!(err.starts_with("winmdm-device: "), "{flag}: {err}");
        assert!(!err.contains("unexpected argument"), "{flag}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_replaces_the_certificate_and_key() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = EnrollOptions::new(
        h.discovery.clone(),
        h.ca_pem.clone().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: "secret".into(),
        },
    );
    let dev = Device::enroll(dir.path(), opts).await.unwrap();
    let old_cert = dev.certificate_der().to_vec();
    let old_key = dev.enrollment().unwrap().key_pem.clone();
    drop(dev);
    h.mini.seen.lock().unwrap().clear();

    let mut dev = Device::load(dir.path()).unwrap();
    dev.renew().await.unwrap();
    assert_ne!(dev.certificate_der(), old_cert);
    assert_ne!(dev.enrollment().unwrap().key_pem, old_key);
    assert_eq!(h.mini.renewed.lock().unwrap()[0], dev.certificate_der());
    {
        let seen = h.mini.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].client_cert, "ROBO: the current certificate in TLS");
        assert!(seen[0].body.contains("200512/Renew"));
    }
    // The next invocation uses the new certificate.
    let mut dev = Device::load(dir.path()).unwrap();
    let r = dev.sync().await.unwrap();
    assert!(r.http_statuses.iter().all(|s| *s == 200));
}

/// The lead's tests spawn devices on tokio tasks: the device and its futures are `Send`.
#[allow(dead_code)]
fn futures_are_send(mut d: Device, o: EnrollOptions) {
    fn send<T: Send>(_: T) {}
    send(Device::enroll(std::path::Path::new("x"), o));
    send(d.sync());
    send(d.renew());
    send(d.unenroll());
    send(d);
}

async fn enrolled(h: &Harness, dir: &std::path::Path) -> Device {
    let opts = EnrollOptions::new(
        h.discovery.clone(),
        h.ca_pem.clone().into_bytes(),
        Credential::OnPremise {
            upn: "user@example.com".into(),
            password: "secret".into(),
        },
    );
    Device::enroll(dir, opts).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn large_objects_and_multi_message_packages() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut dev = enrolled(&h, dir.path()).await;
    // A small MaxMsgSize: the server must split its package and chunk the object.
    dev.set_max_msg_size(Some(4096));
    let big: String = "<WLANProfile>".to_owned() + &"x&y<z>".repeat(3000) + "</WLANProfile>";
    let wlan = "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml";
    let tags = {
        let mut m = h.mini.mgmt.lock().unwrap();
        let mut tags = vec![
            m.queue
                .push(DmCommand::add(u(wlan), Value::Chr(big.clone().into()))),
        ];
        for _ in 0..40 {
            tags.push(
                m.queue
                    .push(DmCommand::get(u("./DevDetail/Ext/Microsoft/DeviceName"))),
            );
        }
        tags.push(m.queue.push(DmCommand::get(u(wlan))));
        tags
    };
    let r = dev.sync().await.unwrap();
    assert!(r.messages > 4, "{} messages", r.messages);
    assert_eq!(r.connections, 1);
    assert_eq!(dev.tree().value(wlan), Some(big.as_str()));
    let m = h.mini.mgmt.lock().unwrap();
    for t in &tags {
        assert_eq!(m.queue.outcome_for(*t).unwrap().status.unwrap().0, 200);
    }
    // The large node went out in MoreData chunks and came back whole.
    let last = m.queue.outcome_for(*tags.last().unwrap()).unwrap();
    assert_eq!(
        last.results[0].data.as_ref().map(|d| d.as_str()),
        Some(big.as_str())
    );
    assert!(
        r.transcript
            .iter()
            .any(|x| x.response.contains("<MoreData/>"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_dm_credentials_are_refused() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    drop(enrolled(&h, dir.path()).await);
    // Corrupt the stored DM secret (as a server that rotated it would see).
    let path = dir.path().join(winmdm_device_emulator::DEVICE_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["enrollment"]["server_auth"]["secret"] = "wrong".into();
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let mut dev = Device::load(dir.path()).unwrap();
    match dev.sync().await {
        Err(EmuError::Refused { status, session_id }) => {
            assert_eq!(status, 401);
            assert_eq!(session_id, "1");
        }
        other => panic!("{other:?}"),
    }
    // Saved anyway: the next session is 2.
    assert_eq!(Device::load(dir.path()).unwrap().sessions(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn lazy_saving_writes_sessions_that_change_more_than_the_counters() {
    let h = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut dev = enrolled(&h, dir.path()).await;
    let on_disk = || Device::load(dir.path()).unwrap();
    h.mini.mgmt.lock().unwrap().keep_nonce = true;

    // Off (the default): every session is written.
    dev.sync().await.unwrap();
    assert_eq!(on_disk().sessions(), 1);
    assert!(dev.is_saved());

    // On: an idle session (no command, the same nonce) writes nothing...
    dev.set_lazy_save(true);
    let r = dev.sync().await.unwrap();
    assert_eq!(r.session_id, "2");
    assert_eq!(on_disk().sessions(), 1);
    assert!(!dev.is_saved());
    // ... the next session that changes the tree writes everything, counters included.
    h.mini
        .mgmt
        .lock()
        .unwrap()
        .queue
        .push(DmCommand::replace(u(CAMERA), Value::Int(0)));
    let r = dev.sync().await.unwrap();
    assert_eq!(r.status_of(CAMERA), Some(200));
    let d = on_disk();
    assert_eq!(d.sessions(), 3);
    assert_eq!(d.tree().value(CAMERA), Some("0"));
    assert!(dev.is_saved());
    // A Get changes nothing: not written.
    h.mini
        .mgmt
        .lock()
        .unwrap()
        .queue
        .push(DmCommand::get(u("./DevDetail/SwV")));
    let r = dev.sync().await.unwrap();
    assert_eq!(r.status_of("./DevDetail/SwV"), Some(200));
    assert_eq!(on_disk().sessions(), 3);
    // A new DM nonce from the server is written (the next invocation needs it).
    h.mini.mgmt.lock().unwrap().keep_nonce = false;
    dev.sync().await.unwrap();
    assert_eq!(on_disk().sessions(), 5);
    let nonce = |d: &Device| {
        d.enrollment()
            .unwrap()
            .server_auth
            .clone()
            .unwrap()
            .nonce_b64
    };
    assert_eq!(nonce(&on_disk()), nonce(&dev));
    // A change made directly is written by the next session.
    h.mini.mgmt.lock().unwrap().keep_nonce = true;
    dev.tree_mut().set(CAMERA, "1").unwrap();
    assert!(!dev.is_saved());
    dev.sync().await.unwrap();
    assert_eq!(on_disk().tree().value(CAMERA), Some("1"));
    assert_eq!(on_disk().sessions(), 6);
    // Unsaved counters are written when the device is dropped, and a later invocation
    // (`Device::load`, as `winmdm-device sync`) goes on from them.
    dev.sync().await.unwrap();
    assert_eq!(on_disk().sessions(), 6);
    drop(dev);
    let mut again = on_disk();
    assert_eq!(again.sessions(), 7);
    assert!(again.is_saved());
    let r = again.sync().await.unwrap();
    assert_eq!(r.session_id, "8");
    assert_eq!(on_disk().sessions(), 8);
}
