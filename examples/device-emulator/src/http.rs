//! A small HTTPS/1.1 client: tokio-rustls under a hyper 1 client connection, one
//! keep-alive connection per peer, reopened only when the server closed it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::EmuError;

/// How long one request (connect, TLS, request and whole response) may take.
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a host name's resolved addresses are kept ([`resolve`]).
pub(crate) const DNS_TTL: Duration = Duration::from_secs(30);

type DnsCache = HashMap<(String, u16), (Instant, Vec<SocketAddr>)>;

fn dns_cache() -> std::sync::MutexGuard<'static, DnsCache> {
    static CACHE: OnceLock<Mutex<DnsCache>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The addresses of `host:port`: an IP literal as it is, a host name from a process-wide
/// cache kept [`DNS_TTL`] (as Windows's DNS client caches names), else resolved by the
/// system (`getaddrinfo` on tokio's blocking pool, which cost the load generator a
/// thread hand-off and a reading of `/etc/hosts` for every connection).
pub(crate) async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let key = (host.to_owned(), port);
    if let Some((at, addrs)) = dns_cache().get(&key)
        && at.elapsed() < DNS_TTL
    {
        return Ok(addrs.clone());
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    dns_cache().insert(key, (Instant::now(), addrs.clone()));
    Ok(addrs)
}

/// Forgets the cached addresses of `host:port` (after a failed connect: the next one
/// resolves the name again).
fn forget(host: &str, port: u16) {
    dns_cache().remove(&(host.to_owned(), port));
}

/// A response: status, headers (lower-case names, in order) and body.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Conn {
    authority: String,
    sender: SendRequest<Full<Bytes>>,
}

/// The HTTPS client of one flow (an enrollment, a management session).
pub(crate) struct Https {
    tls: Arc<ClientConfig>,
    conn: Option<Conn>,
    /// Connections opened so far.
    pub(crate) connections: usize,
    /// Of those, connections whose TLS handshake resumed an earlier session.
    pub(crate) resumed: usize,
}

/// The root certificates in a PEM bundle.
pub(crate) fn roots_from_pem(pem: &[u8]) -> Result<rustls::RootCertStore, EmuError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pem) {
        let c = c.map_err(|e| EmuError::Tls(format!("TLS roots: {e}")))?;
        roots
            .add(c)
            .map_err(|e| EmuError::Tls(format!("TLS root refused: {e}")))?;
    }
    if roots.is_empty() {
        return Err(EmuError::Tls("no certificate in the TLS roots PEM".into()));
    }
    Ok(roots)
}

impl Https {
    /// A client trusting the roots in `roots_pem`, presenting `client` (certificate
    /// chain, PKCS#8 key PEM) when the server asks for one.
    pub(crate) fn new(
        roots_pem: &[u8],
        client: Option<(Vec<Vec<u8>>, &str)>,
    ) -> Result<Self, EmuError> {
        Ok(Https::with_config(client_config(roots_pem, client)?))
    }

    /// A client on a TLS configuration made by [`client_config`]: clients sharing one
    /// configuration resume each other's TLS sessions (rustls's in-memory cache).
    pub(crate) fn with_config(tls: Arc<ClientConfig>) -> Self {
        Https {
            tls,
            conn: None,
            connections: 0,
            resumed: 0,
        }
    }
}

/// A TLS client configuration trusting the roots in `roots_pem`, presenting `client`
/// (certificate chain, PKCS#8 key PEM) when the server asks for one.
pub(crate) fn client_config(
    roots_pem: &[u8],
    client: Option<(Vec<Vec<u8>>, &str)>,
) -> Result<Arc<ClientConfig>, EmuError> {
    let roots = roots_from_pem(roots_pem)?;
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| EmuError::Tls(e.to_string()))?
            .with_root_certificates(roots);
    let cfg = match client {
        None => builder.with_no_client_auth(),
        Some((chain, key_pem)) => {
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| EmuError::Tls(format!("device key: {e}")))?;
            let chain = chain.into_iter().map(CertificateDer::from).collect();
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| EmuError::Tls(format!("client certificate: {e}")))?
        }
    };
    Ok(Arc::new(cfg))
}

impl Https {
    async fn connect(&mut self, uri: &Uri) -> Result<(), EmuError> {
        if uri.scheme_str() != Some("https") {
            return Err(EmuError::Protocol(format!("not an https URL: {uri}")));
        }
        let host = uri
            .host()
            .ok_or_else(|| EmuError::Protocol(format!("URL without host: {uri}")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let addrs = resolve(&host, port).await?;
        let tcp = match TcpStream::connect(&addrs[..]).await {
            Ok(t) => t,
            Err(e) => {
                forget(&host, port);
                return Err(e.into());
            }
        };
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host.clone())
            .map_err(|e| EmuError::Tls(format!("server name {host:?}: {e}")))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| EmuError::Tls(format!("handshake with {authority}: {e}")))?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let (sender, conn) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| EmuError::Protocol(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = conn.await;
        });
        self.connections += 1;
        if resumed {
            self.resumed += 1;
        }
        self.conn = Some(Conn { authority, sender });
        Ok(())
    }

    /// Sends one request on the kept-alive connection to the URL's host (opened first
    /// if there is none, or if the server closed it), within [`REQUEST_TIMEOUT`].
    pub(crate) async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, EmuError> {
        match tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.request_inner(method, url, headers, body),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(EmuError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from {url} within {REQUEST_TIMEOUT:?}"),
                )))
            }
        }
    }

    async fn request_inner(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, EmuError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| EmuError::Protocol(format!("bad URL {url:?}: {e}")))?;
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let reusable = match &mut self.conn {
            Some(c) if c.authority == authority => c.sender.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            self.conn = None;
            self.connect(&uri).await?;
        }
        let path = uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority.as_str());
        for (n, v) in headers {
            req = req.header(*n, v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| EmuError::Protocol(format!("request: {e}")))?;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| EmuError::Protocol("no connection".into()))?;
        let resp = conn
            .sender
            .send_request(req)
            .await
            .map_err(|e| EmuError::Protocol(format!("HTTP request to {url}: {e}")))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| EmuError::Protocol(format!("HTTP body from {url}: {e}")))?
            .to_bytes()
            .to_vec();
        let r = Response {
            status,
            headers,
            body,
        };
        if let Some(enc) = r.header("content-encoding")
            && !enc.trim().eq_ignore_ascii_case("identity")
        {
            return Err(EmuError::Protocol(format!(
                "the server answered with Content-Encoding {enc}, which the emulator does not decode"
            )));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_resolved_once_and_ip_literals_not_at_all() {
        assert_eq!(
            resolve("127.0.0.1", 8443).await.unwrap(),
            ["127.0.0.1:8443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("::1", 8443).await.unwrap(),
            ["[::1]:8443".parse::<SocketAddr>().unwrap()]
        );
        assert!(!dns_cache().contains_key(&("127.0.0.1".to_owned(), 8443)));

        let key = ("localhost".to_owned(), 18443);
        let first = resolve("localhost", 18443).await.unwrap();
        assert!(!first.is_empty());
        assert!(
            first
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 18443)
        );
        let cached = dns_cache().get(&key).cloned().expect("cached");
        assert_eq!(cached.1, first);
        // The second lookup is the cached entry itself (not resolved again: same instant).
        assert_eq!(resolve("localhost", 18443).await.unwrap(), first);
        assert_eq!(dns_cache().get(&key).map(|e| e.0), Some(cached.0));
        forget("localhost", 18443);
        assert!(!dns_cache().contains_key(&key));
    }
}
