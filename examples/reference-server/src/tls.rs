//! TLS: rustls with an optional client certificate, and the accept loop.
//!
//! The handshake asks every client for a certificate and accepts connections without
//! one (enrollment has none yet). A certificate that is offered must prove possession
//! of its key (rustls checks the CertificateVerify signature); whether it is one of
//! ours (chains to our CA, known, not revoked, enrollment active) is decided per request
//! by the management handler, which then answers 403 rather than failing the handshake,
//! so a device gets an HTTP answer and the log a reason.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The connection a request came on: the client certificate (DER), if any, and the
/// peer's address.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TLS client certificate.
    pub cert: Option<Arc<Vec<u8>>>,
    /// The TCP peer.
    pub addr: std::net::SocketAddr,
}

/// Accepts any client certificate whose key the client holds; see the module docs.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How TLS sessions are resumed (`--tls-resumption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// Stateless TLS 1.3 tickets (rustls's ring `Ticketer`: AEAD keys made at start and
    /// rotated every 6 hours, the previous key still accepted): any number of devices
    /// resume, nothing is kept per device. Tickets are sealed with this instance's keys,
    /// so a device whose next session lands on another instance makes a full handshake.
    Tickets,
    /// Server-side session cache of this many entries (rustls's default is 256, about a
    /// hundred devices as two tickets are issued per handshake).
    Cache(usize),
    /// No resumption: every connection a full handshake.
    Off,
}

impl std::str::FromStr for Resumption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tickets" => Ok(Self::Tickets),
            "off" => Ok(Self::Off),
            _ => s
                .strip_prefix("cache:")
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .map(Self::Cache)
                .ok_or_else(|| format!("{s:?}: expected tickets, cache:N or off")),
        }
    }
}

/// The rustls server settings from a PEM chain and key, resuming with tickets.
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_with(cert_pem, key_pem, Resumption::Tickets)
}

/// The rustls server settings from a PEM chain and key, with the given resumption.
pub fn server_config_with(
    cert_pem: &str,
    key_pem: &str,
    resumption: Resumption,
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate PEM: {e}"))?;
    if chain.is_empty() {
        return Err("no certificate in the PEM".into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("key PEM: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(AnyClientCert { provider }))
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    match resumption {
        Resumption::Tickets => {
            cfg.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| e.to_string())?;
            // One ticket per handshake is enough: a device resumes its last session.
            cfg.send_tls13_tickets = 1;
        }
        Resumption::Cache(n) => {
            cfg.session_storage = rustls::server::ServerSessionMemoryCache::new(n);
        }
        Resumption::Off => {
            cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            cfg.send_tls13_tickets = 0;
        }
    }
    Ok(Arc::new(cfg))
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and
/// waits (at most 30 s) for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::new(c.as_ref().to_vec()));
            let peer_cert = Peer { cert, addr: peer };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer_cert.clone());
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30));
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {},
        _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("drain timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::Resumption;

    #[test]
    fn resumption_flag() {
        assert_eq!("tickets".parse(), Ok(Resumption::Tickets));
        assert_eq!("off".parse(), Ok(Resumption::Off));
        assert_eq!("cache:20000".parse(), Ok(Resumption::Cache(20_000)));
        for bad in ["cache:0", "cache:", "cache:x", "ticket", ""] {
            assert!(bad.parse::<Resumption>().is_err(), "{bad}");
        }
    }
}
