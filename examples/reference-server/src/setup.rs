//! The data directory: created on first start, reused afterwards.
//!
//! ```text
//! winmdm-data/
//!   ca.pem, ca.key          device CA (signs device certificates and the TLS certificate)
//!   tls.pem, tls.key        TLS certificate (ECDSA P-256) for localhost, 127.0.0.1, ::1 and the
//!                           public host
//!   admin-token             bearer token of the admin API
//!   enrollment-secret       OnPremise enrollment password (any UPN)
//!   winmdm.db               SQLite (WAL), unless --db postgres://...
//! ```

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use winmdm_enroll::pki::{self, CertificateAuthority, IssueOptions, Signer, Subject};
use winmdm_enroll::token::{EntraAuthenticator, Jwks, JwtValidation};
use winmdm_enroll::{AuthPolicy, EnrollmentServer, HttpsUrl, ProviderId, ServerUrls};

use crate::store::{PgStore, SqliteStore, Store};
use crate::{App, Args};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A certificate or key is unusable.
    #[error("{0}")]
    Pki(String),
    /// The database could not be opened.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A flag is wrong.
    #[error("{0}")]
    Config(String),
}

/// Where the data directory's files are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The directory.
    pub dir: PathBuf,
    /// Device CA certificate.
    pub ca_cert: PathBuf,
    /// Device CA key.
    pub ca_key: PathBuf,
    /// TLS certificate.
    pub tls_cert: PathBuf,
    /// TLS key.
    pub tls_key: PathBuf,
    /// Admin token.
    pub admin_token: PathBuf,
    /// Enrollment secret.
    pub enrollment_secret: PathBuf,
    /// SQLite database.
    pub db: PathBuf,
}

impl Paths {
    fn new(dir: &Path) -> Self {
        Paths {
            dir: dir.to_owned(),
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            tls_cert: dir.join("tls.pem"),
            tls_key: dir.join("tls.key"),
            admin_token: dir.join("admin-token"),
            enrollment_secret: dir.join("enrollment-secret"),
            db: dir.join("winmdm.db"),
        }
    }
}

/// Everything `run` needs.
pub struct Ready {
    /// Shared state.
    pub app: App,
    /// TLS settings.
    pub tls: Arc<rustls::ServerConfig>,
    /// The files.
    pub paths: Paths,
}

fn read(p: &Path) -> Result<String, SetupError> {
    fs::read_to_string(p).map_err(|e| SetupError::Io(p.display().to_string(), e))
}

fn write_private(p: &Path, contents: &str) -> Result<(), SetupError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| SetupError::Io(p.display().to_string(), e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| SetupError::Io(p.display().to_string(), e))
}

fn write_public(p: &Path, contents: &str) -> Result<(), SetupError> {
    fs::write(p, contents).map_err(|e| SetupError::Io(p.display().to_string(), e))
}

/// A random secret of 32 bytes in lowercase hex: safe in a shell word, a URL and a
/// header, and never starting with `-` (a base64url secret did, once in 64 starts, and
/// then read as an option in `--secret "$(cat enrollment-secret)"`).
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn secret_file(p: &Path) -> Result<String, SetupError> {
    if !p.exists() {
        write_private(p, &format!("{}\n", random_secret()))?;
    }
    let s = read(p)?.trim().to_owned();
    if s.len() < 16 {
        return Err(SetupError::Config(format!(
            "{}: shorter than 16 characters",
            p.display()
        )));
    }
    Ok(s)
}

/// Hosts of the TLS certificate: localhost, 127.0.0.1, ::1 and the public URL's host.
fn tls_names(public: &HttpsUrl) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec!["localhost".to_owned()];
    let mut ips = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ];
    match public.host().parse::<IpAddr>() {
        Ok(ip) if !ips.contains(&ip) => ips.push(ip),
        Err(_) if public.host() != "localhost" => dns.push(public.host().to_owned()),
        _ => {}
    }
    (dns, ips)
}

/// Whether the first certificate of `pem` names `host` (a DNS name or an IP address) in
/// its SubjectAltName.
fn names_host(pem: &str, host: &str) -> bool {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    use winmdm_enroll::pki::der::Decode;
    use winmdm_enroll::pki::x509_cert::Certificate;
    use winmdm_enroll::pki::x509_cert::ext::pkix::{SubjectAltName, name::GeneralName};
    let Some(Ok(der)) = CertificateDer::pem_slice_iter(pem.as_bytes()).next() else {
        return false;
    };
    let Ok(cert) = Certificate::from_der(&der) else {
        return false;
    };
    let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = host.parse::<IpAddr>().ok().map(|ip| match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    });
    san.0.iter().any(|n| match n {
        GeneralName::DnsName(d) => d.to_string().eq_ignore_ascii_case(host),
        GeneralName::IpAddress(o) => ip.as_deref() == Some(o.as_bytes()),
        _ => false,
    })
}

/// Creates or loads everything in the data directory; `port` is the one listened on
/// (for the default public URL).
pub fn prepare(args: &Args, port: u16) -> Result<Ready, SetupError> {
    let paths = Paths::new(&args.data_dir);
    fs::create_dir_all(&paths.dir)
        .map_err(|e| SetupError::Io(paths.dir.display().to_string(), e))?;
    let now = SystemTime::now();
    let mut rng = pki::default_rng();
    let public_url = match &args.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("https://localhost:{port}"),
    };
    let public =
        HttpsUrl::new(&public_url).map_err(|e| SetupError::Config(format!("--public-url: {e}")))?;

    // The device CA: given, or generated once.
    let (ca_cert_path, ca_key_path) = match (&args.ca_cert, &args.ca_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => (paths.ca_cert.clone(), paths.ca_key.clone()),
    };
    if args.ca_cert.is_none() && !ca_cert_path.exists() {
        let subject = Subject::try_from("CN=winmdm reference server device CA,O=winmdm")
            .map_err(|e| SetupError::Pki(e.to_string()))?;
        let ca = CertificateAuthority::generate_dev(
            &subject,
            2048,
            now - Duration::from_secs(3600),
            Duration::from_secs(10 * 365 * 86_400),
            &mut rng,
        )
        .map_err(|e| SetupError::Pki(format!("generating the dev CA: {e}")))?;
        let key = ca
            .private_key_pem()
            .map_err(|e| SetupError::Pki(e.to_string()))?;
        write_private(&ca_key_path, &key)?;
        write_public(&ca_cert_path, &ca.certificate_pem())?;
    }
    let ca_key_pem = read(&ca_key_path)?;
    let checked = CertificateAuthority::from_pem(&read(&ca_cert_path)?, &ca_key_pem)
        .map_err(|e| SetupError::Pki(format!("{}: {e}", ca_cert_path.display())))?;
    // The same key, signing with ring (about 4x faster than the RustCrypto `rsa` crate
    // that checked it; issuance is most of an enrollment's CPU).
    let signer = RingSigner::from_pem(&ca_key_pem, checked.signer().public_key_der())
        .map_err(|e| SetupError::Pki(format!("{}: {e}", ca_key_path.display())))?;
    let ca = CertificateAuthority::new(checked.certificate_der(), signer)
        .map_err(|e| SetupError::Pki(format!("{}: {e}", ca_cert_path.display())))?;

    // The TLS certificate: given, or issued by the CA once.
    let (tls_cert_path, tls_key_path) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => (paths.tls_cert.clone(), paths.tls_key.clone()),
    };
    // A generated certificate that does not name the public host (a restart with another
    // --public-url) is issued again, with a new key.
    let stale = args.tls_cert.is_none()
        && tls_cert_path.exists()
        && !names_host(&read(&tls_cert_path)?, public.host());
    if stale {
        tracing::info!(
            host = public.host(),
            "TLS certificate issued again for the public host"
        );
        for p in [&tls_cert_path, &tls_key_path] {
            fs::remove_file(p).map_err(|e| SetupError::Io(p.display().to_string(), e))?;
        }
    }
    if args.tls_cert.is_none() && !tls_cert_path.exists() {
        let (key_pem, spki) = generate_tls_key()?;
        let (dns, ips) = tls_names(&public);
        let dns_refs: Vec<&str> = dns.iter().map(String::as_str).collect();
        let subject =
            Subject::try_from("CN=localhost").map_err(|e| SetupError::Pki(e.to_string()))?;
        let mut opts = IssueOptions::default();
        opts.validity = Duration::from_secs(825 * 86_400);
        let cert = ca
            .issue_tls_server(&spki, &subject, &dns_refs, &ips, &opts, now, &mut rng)
            .map_err(|e| SetupError::Pki(format!("issuing the TLS certificate: {e}")))?;
        write_private(&tls_key_path, &key_pem)?;
        write_public(
            &tls_cert_path,
            &format!("{}{}", cert.to_pem(), ca.certificate_pem()),
        )?;
    }
    let tls = crate::tls::server_config_with(
        &read(&tls_cert_path)?,
        &read(&tls_key_path)?,
        args.tls_resumption,
    )
    .map_err(|e| SetupError::Pki(format!("{}: {e}", tls_cert_path.display())))?;

    let admin_token = secret_file(&paths.admin_token)?;
    let enrollment_secret = secret_file(&paths.enrollment_secret)?;
    let store: Arc<dyn Store> = match args.db.as_deref() {
        None => Arc::new(SqliteStore::open(&paths.db)?),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(PgStore::open(url)?)
        }
        Some(_) => {
            return Err(SetupError::Config(
                "--db: expected postgres://... or postgresql://...".into(),
            ));
        }
    };

    let workers = store.parallelism();
    let entra = match &args.jwks {
        Some(p) => {
            let jwks = Jwks::from_json(&read(p)?)
                .map_err(|e| SetupError::Config(format!("{}: {e}", p.display())))?;
            let mut validation = JwtValidation::entra([args.jwt_audience.as_str()]);
            if !args.jwt_tenants.is_empty() {
                validation.tenants = Some(args.jwt_tenants.clone());
            }
            Some(EntraAuthenticator::new(jwks, validation))
        }
        None => None,
    };
    let mut urls =
        ServerUrls::standard(&public_url).map_err(|e| SetupError::Config(e.to_string()))?;
    let auth_policy = if entra.is_some() {
        // Windows opens this page for interactive Federated enrollment (enroll::auth_page).
        urls.authentication = Some(
            urls.enrollment
                .with_path(crate::enroll::AUTH_PATH)
                .map_err(|e| SetupError::Config(e.to_string()))?,
        );
        AuthPolicy::FEDERATED
    } else {
        AuthPolicy::ON_PREMISE
    };
    let mut enrollment = EnrollmentServer::new(
        ProviderId::new(crate::PROVIDER_ID).map_err(|e| SetupError::Config(e.to_string()))?,
        urls,
        auth_policy,
    )
    .map_err(|e| SetupError::Config(e.to_string()))?;
    enrollment.policy.validity = Duration::from_secs(args.cert_validity_days * 86_400);

    let app = App {
        store,
        ca,
        enrollment,
        public_url,
        enrollment_secret,
        admin_token,
        entra,
        requests: Arc::new(tokio::sync::Semaphore::new(crate::mdm::request_limit(
            args.max_sessions,
        ))),
        sessions: std::sync::Mutex::new(crate::mdm::Sessions::new(
            args.max_sessions,
            crate::mdm::ABANDONED_AFTER_SECS,
        )),
        workers: Arc::new(tokio::sync::Semaphore::new(workers)),
        metrics: crate::Metrics::default(),
        issued: Default::default(),
        catalog: winmdm_csp::Catalog::builtin(),
        reverify_secs: args.reverify_secs as i64,
        allow_dm_digest: args.allow_dm_digest,
        trusted_proxies: args.trusted_proxies.clone(),
        client_cert_header: axum::http::HeaderName::try_from(args.client_cert_header.as_str())
            .map_err(|_| SetupError::Config("--client-cert-header is not a header name".into()))?,
    };
    Ok(Ready { app, tls, paths })
}

/// A new ECDSA P-256 key for the TLS certificate, made with ring: its PKCS#8 PEM and its
/// SubjectPublicKeyInfo (DER). Every full handshake signs with it, and a P-256 signature
/// costs the server a small fraction of an RSA-2048 one. (The device CA stays RSA.)
pub fn generate_tls_key() -> Result<(String, Vec<u8>), SetupError> {
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use winmdm_enroll::pki::const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, SECP_256_R_1};
    use winmdm_enroll::pki::der::{self, Encode};
    use winmdm_enroll::pki::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    let fail = |e: &dyn std::fmt::Display| SetupError::Pki(format!("TLS key: {e}"));
    let alg = &ECDSA_P256_SHA256_ASN1_SIGNING;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|e| fail(&e))?;
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|e| fail(&e))?;
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ID_EC_PUBLIC_KEY,
            parameters: Some(der::Any::encode_from(&SECP_256_R_1).map_err(|e| fail(&e))?),
        },
        subject_public_key: der::asn1::BitString::from_bytes(pair.public_key().as_ref())
            .map_err(|e| fail(&e))?,
    };
    let spki_der = spki.to_der().map_err(|e| fail(&e))?;
    let pem = der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, pkcs8.as_ref())
        .map_err(|e| fail(&e))?;
    Ok((pem, spki_der))
}

/// The CA's RSA key signing sha256WithRSAEncryption (PKCS#1 v1.5) with ring, through
/// rustls's ring provider (already the TLS stack's).
pub struct RingSigner {
    signer: Box<dyn rustls::sign::Signer>,
    public_key_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSigner").finish_non_exhaustive()
    }
}

impl RingSigner {
    /// From a PEM RSA key (PKCS#8 or PKCS#1) and its SubjectPublicKeyInfo (DER), which
    /// [`Signer::public_key_der`] reports for the CA's check.
    pub fn from_pem(pem: &str, public_key_der: Option<Vec<u8>>) -> Result<Self, String> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        use rustls::sign::SigningKey;
        let der =
            PrivateKeyDer::from_pem_slice(pem.trim().as_bytes()).map_err(|e| e.to_string())?;
        let key =
            rustls::crypto::ring::sign::RsaSigningKey::new(&der).map_err(|e| e.to_string())?;
        let signer = key
            .choose_scheme(&[rustls::SignatureScheme::RSA_PKCS1_SHA256])
            .ok_or("the key cannot sign RSA PKCS#1 SHA-256")?;
        Ok(Self {
            signer,
            public_key_der,
        })
    }
}

impl Signer for RingSigner {
    fn signature_algorithm(&self) -> pki::AlgorithmIdentifierOwned {
        pki::SignatureAlgorithm::Sha256WithRsa.identifier()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, pki::SignError> {
        self.signer
            .sign(message)
            .map_err(|e| pki::SignError::Backend(e.to_string()))
    }
    fn public_key_der(&self) -> Option<Vec<u8>> {
        self.public_key_der.clone()
    }
}
