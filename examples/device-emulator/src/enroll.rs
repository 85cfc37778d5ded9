//! Enrollment and renewal over HTTPS, with `winmdm_enroll::client` building and reading
//! the messages.

use std::fmt;
use std::path::Path;

use hyper::Method;
use winmdm_enroll::client::{self, ClientCredential, ClientError, DeviceInfo, Enrolled, Renewed};
use winmdm_enroll::pki::{self, DeviceKey};
use winmdm_enroll::{AppAuth, AuthPolicy, EnrollmentType, Poll, WstepRenew};

use crate::http::{Https, Response};
use crate::state::{DmAuth, Enrollment, PollSchedule, RenewalSettings};
use crate::{Device, DeviceFacts, EmuError, hex_upper};

/// `Content-Type` of Windows's enrollment requests (the captures).
pub const ENROLLMENT_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

/// `User-Agent` of Windows's enrollment client (the captures).
pub const ENROLLMENT_USER_AGENT: &str = "ENROLLClient";

/// The credential the user gives when enrolling. `Debug` redacts secrets.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// AuthPolicy OnPremise: the UPN and password go into a WS-Security UsernameToken.
    OnPremise {
        /// The user principal name (also the Discover e-mail address).
        upn: String,
        /// The password.
        password: String,
    },
    /// A security token sent as is in the BinarySecurityToken (an Entra JWT, a
    /// server-issued token).
    Token(String),
    /// AuthPolicy Federated: the token from the authentication page (`wresult`), base64
    /// encoded into the BinarySecurityToken as Windows does.
    Federated(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::OnPremise { upn, password } => f
                .debug_struct("OnPremise")
                .field("upn", upn)
                .field("password", &format_args!("<{} bytes>", password.len()))
                .finish(),
            Credential::Token(t) => write!(f, "Token(<{} bytes>)", t.len()),
            Credential::Federated(t) => write!(f, "Federated(<{} bytes>)", t.len()),
        }
    }
}

impl Credential {
    fn client(&self) -> ClientCredential {
        match self {
            Credential::OnPremise { upn, password } => ClientCredential::on_premise(upn, password),
            Credential::Token(t) => ClientCredential::Token(t.clone()),
            Credential::Federated(t) => ClientCredential::Federated(t.clone()),
        }
    }

    fn upn(&self) -> Option<&str> {
        match self {
            Credential::OnPremise { upn, .. } => Some(upn),
            _ => None,
        }
    }
}

/// How to enroll.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnrollOptions {
    /// The discovery URL (`https://.../EnrollmentServer/Discovery.svc`): GET, then the
    /// Discover POST.
    pub discovery_url: String,
    /// PEM of the CA certificate(s) that sign the servers' TLS certificates.
    pub tls_roots_pem: Vec<u8>,
    /// The user's credential.
    pub credential: Credential,
    /// The Discover `EmailAddress` (default: the OnPremise UPN, else
    /// `user@<discovery host>`).
    pub email: Option<String>,
    /// The device ID (default: 32 random upper-case hex digits, like Windows).
    pub device_id: Option<String>,
    /// A ready-made device key to use instead of generating one (default `None`: a fresh
    /// key of `rsa_bits`, as Windows does). For load generation, where RSA-2048 key
    /// generation (tens of milliseconds) would dominate; used as given, whatever
    /// `rsa_bits` and the policy's minimal key length say.
    pub key: Option<DeviceKey>,
    /// The PKCS#8 PEM of `key` when the caller has it (a key pool read from files):
    /// saves encoding the key again, which costs the `rsa` crate a modular inversion.
    /// Used only with `key`, and must be the same key (it is what the state directory
    /// keeps and what signs the CSR: another key's PEM makes a request the server
    /// refuses).
    pub key_pem: Option<String>,
    /// RSA key size (default 2048; the policy's minimal key length wins when larger).
    pub rsa_bits: usize,
    /// `Full` (user enrollment, the default) or `Device`.
    pub enrollment_type: EnrollmentType,
    /// What the device reports about itself.
    pub facts: DeviceFacts,
}

impl EnrollOptions {
    /// Options with the defaults: random device ID, RSA-2048, `Full`, the captured
    /// Windows 10 facts.
    pub fn new(
        discovery_url: impl Into<String>,
        tls_roots_pem: impl Into<Vec<u8>>,
        credential: Credential,
    ) -> Self {
        EnrollOptions {
            discovery_url: discovery_url.into(),
            tls_roots_pem: tls_roots_pem.into(),
            credential,
            email: None,
            device_id: None,
            key: None,
            key_pem: None,
            rsa_bits: 2048,
            enrollment_type: EnrollmentType::Full,
            facts: DeviceFacts::default(),
        }
    }
}

fn message_id() -> String {
    let b = rand::random::<[u8; 16]>();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn random_guid_upper() -> String {
    let b = rand::random::<[u8; 16]>();
    let h = hex_upper(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn client_err(e: ClientError) -> EmuError {
    match e.fault() {
        Some(f) => EmuError::Fault {
            code: f.subcode.as_ref().unwrap_or(&f.code).name.to_string(),
            reason: f.reason.clone(),
        },
        None => EmuError::Enroll(e.to_string()),
    }
}

fn soap_headers() -> [(&'static str, String); 3] {
    [
        ("Accept-Encoding", "gzip".to_owned()),
        ("Content-Type", ENROLLMENT_CONTENT_TYPE.to_owned()),
        ("User-Agent", ENROLLMENT_USER_AGENT.to_owned()),
    ]
}

/// POSTs a SOAP request; a 200 body is returned, a fault (any status) is handed to
/// `parse` by the caller through the body, another status is [`EmuError::Http`].
async fn post_soap(http: &mut Https, url: &str, xml: String) -> Result<Response, EmuError> {
    let r = http
        .request(Method::POST, url, &soap_headers(), xml.into_bytes())
        .await?;
    if r.status == 200 || is_fault(&r) {
        Ok(r)
    } else {
        Err(EmuError::http_retry(
            r.status,
            &r.body,
            r.header("retry-after"),
        ))
    }
}

fn is_fault(r: &Response) -> bool {
    r.status >= 400 && {
        let b = String::from_utf8_lossy(&r.body);
        b.contains(":Fault") || b.contains("<Fault")
    }
}

fn dm_auth(a: &AppAuth) -> Option<DmAuth> {
    Some(DmAuth {
        auth_type: a.auth_type.clone().unwrap_or_else(|| "DIGEST".to_owned()),
        name: a.name.clone().unwrap_or_default(),
        secret: a.secret.as_ref()?.expose().to_owned(),
        nonce_b64: a.data.clone().unwrap_or_default(),
    })
}

fn poll(p: &Poll) -> PollSchedule {
    PollSchedule {
        first_interval: p.interval_for_first_set_of_retries,
        first_count: p.number_of_first_retries,
        second_interval: p.interval_for_second_set_of_retries,
        second_count: p.number_of_second_retries,
        remaining_interval: p.interval_for_remaining_scheduled_retries,
        remaining_count: p.number_of_remaining_scheduled_retries,
        poll_on_login: p.poll_on_login,
    }
}

fn renewal(r: &WstepRenew) -> RenewalSettings {
    RenewalSettings {
        robo_support: r.robo_support,
        renew_period_days: r.renew_period,
        retry_interval_days: r.retry_interval,
    }
}

fn device_info(device_id: &str, hw_dev_id: &str, f: &DeviceFacts) -> DeviceInfo {
    let mut d = DeviceInfo::windows(device_id, hw_dev_id);
    d.device_name = f.device_name.clone();
    d.mac_addresses = f.macs.clone();
    d.os_version = f.os_version.clone();
    d.application_version = f.os_version.clone();
    if let Ok(e) = f.os_edition.trim().parse() {
        d.os_edition = e;
    }
    d.locale = f.language.clone();
    d
}

async fn generate_key(bits: usize) -> Result<DeviceKey, EmuError> {
    // RSA key generation takes a while (seconds in a debug build): off the runtime.
    tokio::task::spawn_blocking(move || DeviceKey::generate(bits, &mut pki::default_rng()))
        .await
        .map_err(|e| EmuError::Enroll(format!("key generation: {e}")))?
        .map_err(|e| EmuError::Enroll(format!("key generation: {e}")))
}

/// The Windows-shaped PKCS#10 of `key` (`key_pem`: the same key as PKCS#8 PEM), signed
/// with ring through rustls's provider, as the server signs certificates: the `rsa`
/// crate's private-key operation cost the load generator several milliseconds of CPU per
/// enrollment. The same bytes as `pki::windows_csr` (PKCS#1 v1.5 signatures are
/// deterministic).
fn windows_csr(
    key: &DeviceKey,
    key_pem: &str,
    common_name: &str,
    device_id: &str,
) -> Result<Vec<u8>, EmuError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use rustls::sign::SigningKey as _;
    let err = |e: &dyn fmt::Display| EmuError::Enroll(format!("CSR: {e}"));
    let der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| err(&e))?;
    let signer = rustls::crypto::ring::sign::RsaSigningKey::new(&der)
        .map_err(|e| err(&e))?
        .choose_scheme(&[rustls::SignatureScheme::RSA_PKCS1_SHA256])
        .ok_or_else(|| err(&"the key cannot sign RSA PKCS#1 SHA-256"))?;
    pki::windows_csr_with_signer(
        &key.rsa_key().to_public_key(),
        common_name,
        Some(device_id),
        |info| signer.sign(info),
    )
    .map_err(|e| err(&e))
}

fn host_of(url: &str) -> Option<String> {
    let u: hyper::Uri = url.parse().ok()?;
    u.host().map(str::to_owned)
}

impl Device {
    /// Enrolls like Windows: Discovery GET then the Discover POST, GetPolicies (when the
    /// server names a policy service), RequestSecurityToken with a fresh RSA key (of
    /// `opts.rsa_bits`, or the policy's minimal key length if larger) and a
    /// Windows-shaped PKCS#10 (`GUID!DeviceID` common name with NUL, DeviceID
    /// extension); installs the certificates, management URL, DM credentials, poll
    /// schedule and renewal settings of the provisioning document; writes the state
    /// directory.
    ///
    /// A SOAP fault from any step is [`EmuError::Fault`]; nothing is written then. A
    /// device already in `state_dir` is replaced once the enrollment succeeds (as
    /// Windows re-enrolling gets a new identity, pass `opts.device_id` to keep the ID).
    pub async fn enroll(state_dir: &Path, opts: EnrollOptions) -> Result<Device, EmuError> {
        let device_id = opts
            .device_id
            .clone()
            .unwrap_or_else(crate::random_device_id);
        let hw_dev_id = hex_upper(&rand::random::<[u8; 32]>());
        let info = device_info(&device_id, &hw_dev_id, &opts.facts);
        let credential = opts.credential.client();
        let email = opts
            .email
            .clone()
            .or_else(|| opts.credential.upn().map(str::to_owned))
            .unwrap_or_else(|| {
                format!(
                    "user@{}",
                    host_of(&opts.discovery_url).unwrap_or_else(|| "example.com".into())
                )
            });
        let mut http = Https::new(&opts.tls_roots_pem, None)?;

        // 1. The probe.
        let probe = http
            .request(
                Method::GET,
                &opts.discovery_url,
                &[
                    ("Accept-Encoding", "gzip".to_owned()),
                    ("Cache-Control", "no-cache".to_owned()),
                    ("Pragma", "no-cache".to_owned()),
                    ("User-Agent", ENROLLMENT_USER_AGENT.to_owned()),
                ],
                Vec::new(),
            )
            .await?;
        if !(200..300).contains(&probe.status) {
            return Err(EmuError::http(probe.status, &probe.body));
        }

        // 2. Discover.
        let mut discover = client::discover_request(
            &email,
            &message_id(),
            &[AuthPolicy::ON_PREMISE, AuthPolicy::FEDERATED],
            &info,
        );
        discover.header.to = Some(opts.discovery_url.clone());
        let r = post_soap(&mut http, &opts.discovery_url, discover.to_xml()).await?;
        let discovered = client::parse_discover_response(&r.body).map_err(client_err)?;
        let enrollment_url = discovered.body.enrollment_service_url.trim().to_owned();
        let policy_url = discovered
            .body
            .enrollment_policy_service_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);

        // 3. GetPolicies.
        let mut bits = opts.rsa_bits;
        if let Some(url) = &policy_url {
            let get = client::get_policies_request(url, &message_id(), &credential);
            let r = post_soap(&mut http, url, get.to_xml()).await?;
            let policies = client::parse_get_policies_response(&r.body).map_err(client_err)?;
            bits = bits.max(client::minimal_key_length(&policies.body) as usize);
        }

        // 4. RequestSecurityToken.
        let (key, key_pem) = match (&opts.key, &opts.key_pem) {
            (Some(k), Some(pem)) => (k.clone(), pem.clone()),
            (key, _) => {
                let key = match key {
                    Some(k) => k.clone(),
                    None => generate_key(bits).await?,
                };
                let pem = key
                    .to_pkcs8_pem()
                    .map_err(|e| EmuError::Enroll(format!("device key: {e}")))?;
                (key, pem)
            }
        };
        let cn = pki::windows_common_name(&random_guid_upper(), &device_id);
        let csr = windows_csr(&key, &key_pem, &cn, &device_id)?;
        let rst = client::rst_request(
            &enrollment_url,
            &message_id(),
            &credential,
            &csr,
            &info,
            opts.enrollment_type,
        );
        let r = post_soap(&mut http, &enrollment_url, rst.to_xml()).await?;
        let enrolled = Enrolled::from_xml(&r.body, &key).map_err(client_err)?;

        let tls_roots_pem = String::from_utf8_lossy(&opts.tls_roots_pem).into_owned();
        let mut e = Enrollment::new(
            enrolled.provider_id.clone(),
            enrolled.management_url.trim(),
            enrolled.client_certificate.clone(),
            key_pem,
            tls_roots_pem,
        );
        e.enrollment_url = Some(enrollment_url);
        e.policy_url = policy_url;
        e.discovery_url = Some(opts.discovery_url.clone());
        e.roots_der = enrolled.root_certificates.clone();
        e.intermediates_der = enrolled.intermediate_certificates.clone();
        e.server_auth = enrolled.device_credentials.as_ref().and_then(dm_auth);
        e.client_auth = enrolled.server_credentials.as_ref().and_then(dm_auth);
        e.poll = enrolled.poll.as_ref().map(poll);
        e.renewal = enrolled.renewal.as_ref().map(renewal);
        e.ent_dmid = enrolled.ent_dmid.clone();
        e.upn = enrolled
            .provisioning
            .dm_client
            .as_ref()
            .and_then(|d| d.get("UPN"))
            .map(str::to_owned)
            .or_else(|| opts.credential.upn().map(str::to_owned));
        e.enrollment_type = enrolled.enrollment_type.as_str().to_owned();

        let mut dev = Device::blank(state_dir, device_id, hw_dev_id, opts.facts);
        dev.install(e);
        dev.save()?;
        Ok(dev)
    }

    /// Renews the MDM certificate: a RequestSecurityToken of RequestType Renew to the
    /// enrollment service, carrying a PKCS#7 that wraps a new Windows-shaped PKCS#10 (new
    /// key of the same size) and is signed with the current certificate's key, over a TLS
    /// connection presenting the current certificate (ROBO); installs the new
    /// certificate and key (and roots, renewal settings if the document has them) and
    /// saves the state. A fault is [`EmuError::Fault`] and changes nothing.
    pub async fn renew(&mut self) -> Result<(), EmuError> {
        let e = self
            .st
            .enrollment
            .clone()
            .ok_or_else(|| EmuError::NotEnrolled(self.dir.display().to_string()))?;
        let url = e.enrollment_url.clone().ok_or_else(|| {
            EmuError::Enroll("the enrollment has no enrollment service URL to renew at".into())
        })?;
        let old_key = DeviceKey::from_pkcs8_pem(&e.key_pem)
            .map_err(|err| EmuError::Enroll(format!("device key: {err}")))?;
        let new_key = generate_key(old_key.bits()).await?;
        let key_pem = new_key
            .to_pkcs8_pem()
            .map_err(|err| EmuError::Enroll(format!("device key: {err}")))?;
        let cn = pki::windows_common_name(&random_guid_upper(), &self.st.device_id);
        let csr = windows_csr(&new_key, &key_pem, &cn, &self.st.device_id)?;
        let pkcs7 = pki::renewal_request(&e.certificate_der, &old_key, &csr)
            .map_err(|err| EmuError::Enroll(format!("renewal PKCS#7: {err}")))?;
        let info = device_info(&self.st.device_id, &self.st.hw_dev_id, &self.st.facts);
        let rst = client::renew_request(&url, &message_id(), &pkcs7, &info);

        let mut chain = vec![e.certificate_der.clone()];
        chain.extend(e.intermediates_der.iter().cloned());
        let mut http = Https::new(e.tls_roots_pem.as_bytes(), Some((chain, &e.key_pem)))?;
        let r = post_soap(&mut http, &url, rst.to_xml()).await?;
        let renewed = Renewed::from_xml(&r.body, &new_key).map_err(client_err)?;

        if let Some(en) = self.st.enrollment.as_mut() {
            en.certificate_der = renewed.client_certificate;
            en.key_pem = key_pem;
            if !renewed.root_certificates.is_empty() {
                en.roots_der = renewed.root_certificates;
            }
            if !renewed.intermediate_certificates.is_empty() {
                en.intermediates_der = renewed.intermediate_certificates;
            }
            if let Some(r) = &renewed.renewal {
                en.renewal = Some(renewal(r));
            }
        }
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_signed_csr_is_the_rsa_crates_bytes() {
        let key = DeviceKey::generate(2048, &mut pki::default_rng()).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let id = "DB257C3A08778F4FB61E2749066C1F27";
        let cn = pki::windows_common_name(&random_guid_upper(), id);
        let ring = windows_csr(&key, &pem, &cn, id).unwrap();
        assert_eq!(ring, pki::windows_csr(&key, &cn, Some(id)).unwrap());
        let csr = pki::Csr::from_der(&ring, &pki::CsrPolicy::default()).unwrap();
        assert_eq!(csr.device_id(), Some(id));
        // Another key's PEM does not sign for this one.
        let other = DeviceKey::generate(2048, &mut pki::default_rng()).unwrap();
        let wrong = windows_csr(&key, &other.to_pkcs8_pem().unwrap(), &cn, id).unwrap();
        assert!(pki::Csr::from_der(&wrong, &pki::CsrPolicy::default()).is_err());
    }
}
