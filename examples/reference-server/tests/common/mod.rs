//! Test support: the real `winmdm-server` binary on 127.0.0.1 in a temporary data
//! directory, and a small HTTPS client (rustls, optional client certificate).
#![allow(dead_code, unreachable_pub)]

pub mod manual;
pub mod pg;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A TLS connection (no client certificate) to the server on 127.0.0.1:`port`, its
/// certificate checked against `ca_pem` for the name `localhost`.
pub async fn tls_connect(
    port: u16,
    ca_pem: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A free port on 127.0.0.1 (bound and released; the server binds it again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server process.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
    pub log: Arc<std::sync::Mutex<String>>,
    /// What the server printed on stdout (the start banner).
    pub stdout: Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `winmdm-server` on `port` with `dir` as its data directory and waits until
    /// it listens (at most 120 s: the first start generates the CA's RSA key).
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_winmdm-server"))
            .arg("--data-dir")
            .arg(dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn winmdm-server");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push_str(&line);
                l2.lock().unwrap().push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = Arc::new(std::sync::Mutex::new(String::new()));
        let o2 = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                o2.lock().unwrap().push_str(&line);
                o2.lock().unwrap().push('\n');
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = child.kill();
            panic!("server did not start: {}", log.lock().unwrap());
        }
        Server {
            child,
            dir: dir.to_owned(),
            port,
            url: format!("https://localhost:{port}"),
            log,
            stdout: out,
        }
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/EnrollmentServer/Discovery.svc", self.url)
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }

    pub fn secret(&self) -> String {
        self.file("enrollment-secret")
    }

    pub fn token(&self) -> String {
        self.file("admin-token")
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait (at most 40 s) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        self.wait_exit()
    }

    /// Waits (at most 40 s) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether `needle` appears in the server's log within 5 s.
    pub fn wait_log(&self, needle: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// An admin API call: (status, JSON body or Null).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let token = self.token();
        let (status, text) = https(
            &Request::new(method, &format!("{}{path}", self.url), &self.ca_pem())
                .bearer(&token)
                .body(
                    body.map(|b| b.to_string()).unwrap_or_default(),
                    "application/json",
                ),
        )
        .await
        .expect("admin request");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTPS request.
pub struct Request {
    pub method: String,
    pub url: String,
    pub roots_pem: String,
    pub bearer: Option<String>,
    pub body: Vec<u8>,
    pub content_type: String,
    pub client: Option<(Vec<u8>, String)>,
    pub extra_headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(method: &str, url: &str, roots_pem: &str) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            roots_pem: roots_pem.into(),
            bearer: None,
            body: Vec::new(),
            content_type: "application/octet-stream".into(),
            client: None,
            extra_headers: Vec::new(),
        }
    }
    pub fn bearer(mut self, t: &str) -> Self {
        self.bearer = Some(t.into());
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>, content_type: &str) -> Self {
        self.body = b.into();
        self.content_type = content_type.into();
        self
    }
    /// Presents a client certificate (DER) with its key (PKCS#8 PEM).
    pub fn client_cert(mut self, cert_der: &[u8], key_pem: &str) -> Self {
        self.client = Some((cert_der.to_vec(), key_pem.into()));
        self
    }
}

/// Sends `req`; (status, body as text).
pub async fn https(req: &Request) -> Result<(u16, String), String> {
    https_full(req).await.map(|(s, _, b)| (s, b))
}

/// Sends `req`; (status, response headers, body as text).
pub async fn https_full(req: &Request) -> Result<(u16, hyper::HeaderMap, String), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(req.roots_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match &req.client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(cert.clone())],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    let uri: hyper::Uri = req
        .url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    let host = uri.host().unwrap().to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from(host.clone()).unwrap(), tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut b = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header("host", format!("{host}:{port}"))
        .header("content-type", &req.content_type);
    for (k, v) in &req.extra_headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some(t) = &req.bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let resp = send
        .send_request(b.body(Full::new(Bytes::from(req.body.clone()))).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
