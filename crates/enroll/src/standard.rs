//! The standard Windows enrollment provisioning document, built from typed inputs:
//! [`StandardProvisioning::builder`] and the newtypes it takes.

use core::fmt;
use core::num::NonZeroU32;
use core::str::FromStr;

use der::Decode as _;
use rsa::rand_core::CryptoRng;

use crate::pki::Thumbprint;
use crate::provisioning::{
    AppAuth, CertEntry, CertificateStore, Datatype, DmClientProvider, EnrollmentProvisioning, Poll,
    ProvisioningDoc, W7Application, WstepRenew,
};
use winmdm_types::Secret;

/// `DEFAULTENCODING` written by the builder: SyncML DM as XML (what `winmdm-omadm` speaks).
pub const SYNCML_DM_XML: &str = "application/vnd.syncml.dm+xml";

/// An input of [`StandardProvisioning`] is invalid or missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisioningBuildError {
    /// A provider id that is empty, too long, has control characters, `/`, or surrounding
    /// whitespace (it names the `DMClient/Provider/<id>` node).
    #[error("invalid provider id {0:?}")]
    InvalidProviderId(String),
    /// A URL that is not an absolute `https://` URL with a host, or that has whitespace,
    /// control characters or a fragment.
    #[error("invalid HTTPS URL {0:?}")]
    InvalidUrl(String),
    /// A certificate that does not decode as DER X.509.
    #[error("the {0} certificate does not decode: {1}")]
    InvalidCertificate(&'static str, String),
    /// `build` without a root certificate.
    #[error("no root certificate (Root/System) given")]
    MissingRootCertificate,
    /// `build` without the device's client certificate.
    #[error("no client certificate (My/User or My/System) given")]
    MissingClientCertificate,
    /// `build` without DM credentials (Windows needs both APPAUTH entries with nonces).
    #[error("no DM credentials (APPAUTH) given")]
    MissingDmCredentials,
    /// `build` without an explicit renewal choice ([`Renewal::NotOffered`] is a choice).
    #[error("renewal not chosen: call renewal(Renewal::NotOffered) or offer it")]
    RenewalNotChosen,
    /// Renewal offered without `EntDMID`, which Windows needs before it renews.
    #[error("renewal is offered but no EntDMID is set")]
    RenewalWithoutEntDmid,
    /// A poll or renewal setting out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
}

/// The server's provider id: the w7 `PROVIDER-ID` and the `DMClient/Provider/<id>` node
/// name (they must be equal). 1 to 128 bytes, no control characters, no `/`, no
/// surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderId(String);

impl ProviderId {
    /// Validates a provider id.
    pub fn new(id: &str) -> Result<Self, ProvisioningBuildError> {
        let ok = !id.is_empty()
            && id.len() <= 128
            && id.trim() == id
            && !id.chars().any(|c| c.is_control() || c == '/');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(ProvisioningBuildError::InvalidProviderId(
                crate::error::truncate(id),
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProviderId {
    type Err = ProvisioningBuildError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// An absolute `https://` URL with a non-empty host, without whitespace, control
/// characters or a fragment. Windows talks to enrollment and management servers over
/// TLS only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    /// Validates a URL.
    pub fn new(url: &str) -> Result<Self, ProvisioningBuildError> {
        let bad = || ProvisioningBuildError::InvalidUrl(crate::error::truncate(url));
        let rest = url
            .get(..8)
            .filter(|s| s.eq_ignore_ascii_case("https://"))
            .map(|_| &url[8..])
            .ok_or_else(bad)?;
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host_name = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']') {
                h
            } else {
                host
            }
        });
        if host_name.is_empty()
            || host.contains('@')
            || url.contains('#')
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        Ok(Self(url.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]` of this URL, without path or query.
    pub fn origin(&self) -> &str {
        let end = self.0[8..].find(['/', '?']).map_or(self.0.len(), |i| i + 8);
        &self.0[..end]
    }

    /// The host name or IP address, without port or IPv6 brackets.
    ///
    /// ```
    /// use winmdm_enroll::HttpsUrl;
    /// assert_eq!(HttpsUrl::new("https://mdm.example.com:8443/x")?.host(), "mdm.example.com");
    /// assert_eq!(HttpsUrl::new("https://[::1]:8443")?.host(), "::1");
    /// assert_eq!(HttpsUrl::new("https://127.0.0.1")?.host(), "127.0.0.1");
    /// # Ok::<(), winmdm_enroll::ProvisioningBuildError>(())
    /// ```
    pub fn host(&self) -> &str {
        let authority = &self.origin()[8..];
        let host = match authority.rsplit_once(':') {
            Some((h, port))
                if port.bytes().all(|b| b.is_ascii_digit()) && !authority.ends_with(']') =>
            {
                h
            }
            _ => authority,
        };
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// This URL's origin followed by `path` (which should start with `/`).
    pub fn with_path(&self, path: &str) -> Result<Self, ProvisioningBuildError> {
        Self::new(&format!("{}{path}", self.origin()))
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HttpsUrl {
    type Err = ProvisioningBuildError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The RST's `EnrollmentType` context item: where the client certificate goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EnrollmentType {
    /// `Full`: user enrollment (traditional, "add work account"); certificate in `My/User`,
    /// searched in `MY\User`. Also what an RST without the item means.
    #[default]
    Full,
    /// `Device`: device enrollment (Entra join, Autopilot); certificate in `My/System`,
    /// searched in `MY\System`.
    Device,
}

impl EnrollmentType {
    /// The context item value (`Full`, `Device`).
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentType::Full => "Full",
            EnrollmentType::Device => "Device",
        }
    }

    /// Reads the `EnrollmentType` context item: absent is `Full`, the value is compared
    /// ASCII case-insensitively; `None` for anything else.
    pub fn from_context(value: Option<&str>) -> Option<Self> {
        match value.map(str::trim) {
            None => Some(EnrollmentType::Full),
            Some(v) if v.eq_ignore_ascii_case("Full") => Some(EnrollmentType::Full),
            Some(v) if v.eq_ignore_ascii_case("Device") => Some(EnrollmentType::Device),
            Some(_) => None,
        }
    }

    /// The certificate store context of the client certificate (`User` or `System`).
    pub fn store_context(self) -> &'static str {
        match self {
            EnrollmentType::Full => "User",
            EnrollmentType::Device => "System",
        }
    }
}

impl fmt::Display for EnrollmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OMA-DM digest credentials of the two w7 `APPAUTH` entries. The server must keep
/// them: the device authenticates with the `APPSRV` pair, the server with the `CLIENT`
/// secret, each starting from the nonce given here. Secrets are redacted in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmCredentials {
    /// `APPSRV` `AAUTHNAME`: the user name the device presents to the server.
    pub device_name: String,
    /// `APPSRV` `AAUTHSECRET`: the password the device presents to the server.
    pub device_secret: Secret,
    /// `APPSRV` `AAUTHDATA`: the first nonce the device uses (raw bytes; written base64).
    pub device_nonce: Vec<u8>,
    /// `CLIENT` `AAUTHSECRET`: the password the server presents to the device.
    pub server_secret: Secret,
    /// `CLIENT` `AAUTHDATA`: the first nonce the server uses (raw bytes; written base64).
    pub server_nonce: Vec<u8>,
}

impl DmCredentials {
    /// Fresh credentials from `rng`: 24-byte random secrets (base64 text) and separate
    /// 16-byte nonces, the shape a Windows 11 client was seen to accept (an enrollment
    /// without nonces failed there).
    pub fn generate<R: CryptoRng + ?Sized>(device_name: &str, rng: &mut R) -> Self {
        let mut secret = || {
            let mut b = [0u8; 24];
            rng.fill_bytes(&mut b);
            Secret::new(crate::pki::base64_encode(&b))
        };
        let (device_secret, server_secret) = (secret(), secret());
        let mut nonce = || {
            let mut b = vec![0u8; 16];
            rng.fill_bytes(&mut b);
            b
        };
        let (device_nonce, server_nonce) = (nonce(), nonce());
        DmCredentials {
            device_name: device_name.to_owned(),
            device_secret,
            device_nonce,
            server_secret,
            server_nonce,
        }
    }
}

/// One set of DMClient poll retries: `count` sessions `interval_minutes` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSet {
    /// Minutes between polls (0 would disable the set, so it is not allowed).
    pub interval_minutes: NonZeroU32,
    /// Number of polls.
    pub count: u32,
}

/// The DMClient `Poll` schedule. The first (and second) set always have a bound
/// (`NumberOf...Retries` 0 makes Windows poll at that interval forever: every minute
/// for an interval of 1); only the remaining, long-term set may repeat forever.
///
/// The default is Intune's published schedule: every 3 minutes for 15 minutes, every
/// 15 minutes for 2 hours, then every 8 hours forever; no poll on login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    first: PollSet,
    second: Option<PollSet>,
    remaining: Option<PollSet>,
    poll_on_login: Option<bool>,
    all_users_poll_on_first_login: Option<bool>,
}

fn poll_set(
    interval_minutes: u32,
    count: u32,
    what: &'static str,
) -> Result<PollSet, ProvisioningBuildError> {
    let interval_minutes =
        NonZeroU32::new(interval_minutes).ok_or(ProvisioningBuildError::InvalidSetting(what))?;
    Ok(PollSet {
        interval_minutes,
        count,
    })
}

impl PollSchedule {
    /// A schedule starting with `count` polls `interval_minutes` apart (both at least 1).
    pub fn new(interval_minutes: u32, count: u32) -> Result<Self, ProvisioningBuildError> {
        if count == 0 {
            return Err(ProvisioningBuildError::InvalidSetting(
                "NumberOfFirstRetries must be at least 1 (0 polls forever)",
            ));
        }
        Ok(PollSchedule {
            first: poll_set(
                interval_minutes,
                count,
                "IntervalForFirstSetOfRetries must be at least 1",
            )?,
            second: None,
            remaining: None,
            poll_on_login: None,
            all_users_poll_on_first_login: None,
        })
    }

    /// Adds the second set: `count` (at least 1) polls `interval_minutes` apart.
    pub fn then(
        mut self,
        interval_minutes: u32,
        count: u32,
    ) -> Result<Self, ProvisioningBuildError> {
        if count == 0 {
            return Err(ProvisioningBuildError::InvalidSetting(
                "NumberOfSecondRetries must be at least 1 (0 polls forever)",
            ));
        }
        self.second = Some(poll_set(
            interval_minutes,
            count,
            "IntervalForSecondSetOfRetries must be at least 1",
        )?);
        Ok(self)
    }

    /// Adds the long-term set: a poll every `interval_minutes` forever
    /// (`NumberOfRemainingScheduledRetries` 0).
    pub fn then_every(mut self, interval_minutes: u32) -> Result<Self, ProvisioningBuildError> {
        self.remaining = Some(poll_set(
            interval_minutes,
            0,
            "IntervalForRemainingScheduledRetries must be at least 1",
        )?);
        Ok(self)
    }

    /// Sets `PollOnLogin` (a session at every user login).
    pub fn poll_on_login(mut self, on: bool) -> Self {
        self.poll_on_login = Some(on);
        self
    }

    /// Sets `AllUsersPollOnFirstLogin`.
    pub fn all_users_poll_on_first_login(mut self, on: bool) -> Self {
        self.all_users_poll_on_first_login = Some(on);
        self
    }

    /// The first set.
    pub fn first(&self) -> PollSet {
        self.first
    }

    /// The second set.
    pub fn second(&self) -> Option<PollSet> {
        self.second
    }

    /// The long-term set.
    pub fn remaining(&self) -> Option<PollSet> {
        self.remaining
    }

    /// The `Poll` characteristic. Every count and interval is written so that no
    /// client default applies: an absent set is written with interval 0 (disabled).
    pub fn to_poll(&self) -> Poll {
        let (si, sn) = self
            .second
            .map_or((0, 0), |s| (s.interval_minutes.get(), s.count));
        let (ri, rn) = self
            .remaining
            .map_or((0, 0), |s| (s.interval_minutes.get(), s.count));
        Poll {
            interval_for_first_set_of_retries: Some(self.first.interval_minutes.get()),
            number_of_first_retries: Some(self.first.count),
            interval_for_second_set_of_retries: Some(si),
            number_of_second_retries: Some(sn),
            interval_for_remaining_scheduled_retries: Some(ri),
            number_of_remaining_scheduled_retries: Some(rn),
            poll_on_login: self.poll_on_login,
            all_users_poll_on_first_login: self.all_users_poll_on_first_login,
        }
    }
}

impl Default for PollSchedule {
    fn default() -> Self {
        let set = |i: u32, count| PollSet {
            interval_minutes: NonZeroU32::new(i).unwrap_or(NonZeroU32::MIN),
            count,
        };
        PollSchedule {
            first: set(3, 5),
            second: Some(set(15, 8)),
            remaining: Some(set(480, 0)),
            poll_on_login: None,
            all_users_poll_on_first_login: None,
        }
    }
}

/// Whether the server serves certificate renewal (`CertificateStore/My/WSTEP/Renew`).
/// There is no default: a document advertising renewal the server does not serve makes
/// every renewal fail and Windows mark the enrollment broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Renewal {
    /// No `WSTEP/Renew` characteristic.
    NotOffered,
    /// Renew on behalf of (`ROBOSupport` true): the device renews by itself with TLS
    /// client-certificate authentication at the enrollment URL.
    Robo {
        /// `RenewPeriod`: days before expiry when renewal starts (Microsoft recommends
        /// 40 to 60).
        renew_period_days: u32,
        /// `RetryInterval`: days between attempts (Microsoft recommends 4 to 5).
        retry_interval_days: u32,
    },
    /// Manual renewal (`ROBOSupport` false): the user is prompted.
    Manual {
        /// `RenewPeriod` in days.
        renew_period_days: u32,
        /// `RetryInterval` in days.
        retry_interval_days: u32,
    },
}

impl Renewal {
    /// The `WSTEP/Renew` values, `None` for [`Renewal::NotOffered`].
    pub fn to_wstep(&self) -> Result<Option<WstepRenew>, ProvisioningBuildError> {
        let (robo, period, retry) = match *self {
            Renewal::NotOffered => return Ok(None),
            Renewal::Robo {
                renew_period_days,
                retry_interval_days,
            } => (true, renew_period_days, retry_interval_days),
            Renewal::Manual {
                renew_period_days,
                retry_interval_days,
            } => (false, renew_period_days, retry_interval_days),
        };
        if period == 0 || retry == 0 || retry > period {
            return Err(ProvisioningBuildError::InvalidSetting(
                "RenewPeriod and RetryInterval must be at least 1 day, RetryInterval at most RenewPeriod",
            ));
        }
        Ok(Some(WstepRenew {
            robo_support: Some(robo),
            renew_period: Some(period),
            retry_interval: Some(retry),
        }))
    }
}

/// w7 `APPLICATION` connection retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRetry {
    /// `CONNRETRYFREQ`: retries after a connection error.
    pub retries: u32,
    /// `INITIALBACKOFFTIME`: first wait in milliseconds (then doubled).
    pub initial_backoff_ms: u32,
    /// `MAXBACKOFFTIME`: longest wait in milliseconds.
    pub max_backoff_ms: u32,
}

impl Default for ConnectionRetry {
    /// Microsoft's sample values: 6 retries, 30 s initial, 120 s maximum back-off.
    fn default() -> Self {
        ConnectionRetry {
            retries: 6,
            initial_backoff_ms: 30_000,
            max_backoff_ms: 120_000,
        }
    }
}

/// The standard Windows enrollment provisioning document (MS-MDE2 §2.2.9): the root CA
/// in `Root/System` (and an optional intermediate in `CA/System`), the client
/// certificate in `My/User` or `My/System` by [`EnrollmentType`] with its
/// `PrivateKeyContainer`, optional `My/WSTEP/Renew`, the w7 `APPLICATION` (`APPID` w7,
/// `PROVIDER-ID`, `NAME`, `ADDR`, connection retries, `BACKCOMPATRETRYDISABLED`,
/// `DEFAULTENCODING` [`SYNCML_DM_XML`], `SSLCLIENTCERTSEARCHCRITERIA` for the client
/// certificate, `APPAUTH` `CLIENT` and `APPSRV` with DIGEST and nonces) and
/// `DMClient/Provider/<id>` with the poll schedule.
///
/// Start with [`StandardProvisioning::builder`]; see the crate documentation for a full
/// enrollment.
#[derive(Debug, Clone)]
pub struct StandardProvisioning<'a> {
    provider_id: &'a ProviderId,
    server_address: &'a HttpsUrl,
    name: Option<&'a str>,
    enrollment_type: EnrollmentType,
    root: Option<&'a [u8]>,
    intermediate: Option<&'a [u8]>,
    client: Option<&'a [u8]>,
    credentials: Option<&'a DmCredentials>,
    renewal: Option<Renewal>,
    poll: PollSchedule,
    retry: ConnectionRetry,
    ent_dmid: Option<&'a str>,
    upn: Option<&'a str>,
    ent_device_name: Option<&'a str>,
}

impl<'a> StandardProvisioning<'a> {
    /// Starts a document for the server `provider_id` whose OMA-DM endpoint is
    /// `server_address` (`ADDR`). Defaults: `EnrollmentType::Full`, the default
    /// [`PollSchedule`] and [`ConnectionRetry`], `NAME` = the provider id.
    pub fn builder(provider_id: &'a ProviderId, server_address: &'a HttpsUrl) -> Self {
        StandardProvisioning {
            provider_id,
            server_address,
            name: None,
            enrollment_type: EnrollmentType::Full,
            root: None,
            intermediate: None,
            client: None,
            credentials: None,
            renewal: None,
            poll: PollSchedule::default(),
            retry: ConnectionRetry::default(),
            ent_dmid: None,
            upn: None,
            ent_device_name: None,
        }
    }

    /// The trusted root (DER), written to `Root/System/<thumbprint>` (required).
    pub fn root_certificate(mut self, der: &'a [u8]) -> Self {
        self.root = Some(der);
        self
    }

    /// An intermediate CA (DER), written to `CA/System/<thumbprint>`.
    pub fn intermediate_certificate(mut self, der: &'a [u8]) -> Self {
        self.intermediate = Some(der);
        self
    }

    /// The device's client certificate (DER, e.g. [`IssuedCertificate::der`](crate::pki::IssuedCertificate::der))
    /// and the RST's enrollment type, which picks `My/User` or `My/System` (required).
    pub fn client_certificate(mut self, der: &'a [u8], enrollment_type: EnrollmentType) -> Self {
        self.client = Some(der);
        self.enrollment_type = enrollment_type;
        self
    }

    /// The OMA-DM digest credentials (required; the server keeps them for OMA-DM
    /// authentication).
    pub fn dm_credentials(mut self, credentials: &'a DmCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Whether renewal is served (required, see [`Renewal`]).
    pub fn renewal(mut self, renewal: Renewal) -> Self {
        self.renewal = Some(renewal);
        self
    }

    /// The poll schedule (default [`PollSchedule::default`]).
    pub fn poll(mut self, schedule: PollSchedule) -> Self {
        self.poll = schedule;
        self
    }

    /// The connection retry settings (default [`ConnectionRetry::default`]).
    pub fn connection_retry(mut self, retry: ConnectionRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The w7 `NAME` (display name; default: the provider id).
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// `DMClient` `EntDMID`: the server's id for this enrollment (needed for renewal).
    pub fn ent_dmid(mut self, id: &'a str) -> Self {
        self.ent_dmid = Some(id);
        self
    }

    /// `DMClient` `UPN`.
    pub fn upn(mut self, upn: &'a str) -> Self {
        self.upn = Some(upn);
        self
    }

    /// `DMClient` `EntDeviceName`.
    pub fn ent_device_name(mut self, name: &'a str) -> Self {
        self.ent_device_name = Some(name);
        self
    }

    /// The typed view of the document.
    pub fn build_typed(&self) -> Result<EnrollmentProvisioning, ProvisioningBuildError> {
        let root = self
            .root
            .ok_or(ProvisioningBuildError::MissingRootCertificate)?;
        let client = self
            .client
            .ok_or(ProvisioningBuildError::MissingClientCertificate)?;
        let creds = self
            .credentials
            .ok_or(ProvisioningBuildError::MissingDmCredentials)?;
        let renewal = self
            .renewal
            .ok_or(ProvisioningBuildError::RenewalNotChosen)?;
        let wstep_renew = renewal.to_wstep()?;
        if wstep_renew.is_some() && self.ent_dmid.is_none_or(str::is_empty) {
            return Err(ProvisioningBuildError::RenewalWithoutEntDmid);
        }
        let root_entry = cert_entry(root, "root")?;
        let (client_entry, subject) = {
            let cert = x509_cert::Certificate::from_der(client)
                .map_err(|e| ProvisioningBuildError::InvalidCertificate("client", e.to_string()))?;
            (
                cert_entry(client, "client")?,
                cert.tbs_certificate().subject().to_string(),
            )
        };
        let mut store = CertificateStore {
            root_system: vec![root_entry],
            wstep_renew,
            ..CertificateStore::default()
        };
        if let Some(der) = self.intermediate {
            store.ca_system.push(cert_entry(der, "intermediate")?);
        }
        match self.enrollment_type {
            EnrollmentType::Full => {
                store.my_user.push(client_entry);
                store.my_user_private_key_container = true;
            }
            EnrollmentType::Device => {
                store.my_system.push(client_entry);
                store.my_system_private_key_container = true;
            }
        }
        let id = self.provider_id.as_str();
        let b64 = crate::pki::base64_encode;
        let application = W7Application {
            app_id: Some("w7".into()),
            provider_id: Some(id.into()),
            name: Some(self.name.unwrap_or(id).into()),
            addr: Some(self.server_address.as_str().into()),
            conn_retry_freq: Some(self.retry.retries),
            initial_backoff_time: Some(self.retry.initial_backoff_ms),
            max_backoff_time: Some(self.retry.max_backoff_ms),
            backcompat_retry_disabled: true,
            default_encoding: Some(SYNCML_DM_XML.into()),
            ssl_client_cert_search_criteria: Some(ssl_client_cert_search_criteria(
                &subject,
                self.enrollment_type,
            )),
            app_auth: vec![
                AppAuth {
                    level: "CLIENT".into(),
                    auth_type: Some("DIGEST".into()),
                    name: None,
                    secret: Some(creds.server_secret.clone()),
                    data: Some(b64(&creds.server_nonce)),
                },
                AppAuth {
                    level: "APPSRV".into(),
                    auth_type: Some("DIGEST".into()),
                    name: Some(creds.device_name.clone()),
                    secret: Some(creds.device_secret.clone()),
                    data: Some(b64(&creds.device_nonce)),
                },
            ],
            other: Vec::new(),
        };
        let mut dm = DmClientProvider {
            provider_id: id.into(),
            poll: Some(self.poll.to_poll()),
            ..DmClientProvider::default()
        };
        for (name, value) in [
            ("EntDMID", self.ent_dmid),
            ("UPN", self.upn),
            ("EntDeviceName", self.ent_device_name),
        ] {
            if let Some(v) = value {
                dm.set(name, v, Datatype::STRING);
            }
        }
        Ok(EnrollmentProvisioning {
            certificate_store: store,
            application: Some(application),
            dm_client: Some(dm),
            other: Vec::new(),
        })
    }

    /// Builds the document.
    pub fn build(&self) -> Result<ProvisioningDoc, ProvisioningBuildError> {
        Ok(self.build_typed()?.to_doc())
    }
}

fn cert_entry(der: &[u8], what: &'static str) -> Result<CertEntry, ProvisioningBuildError> {
    x509_cert::Certificate::from_der(der)
        .map_err(|e| ProvisioningBuildError::InvalidCertificate(what, e.to_string()))?;
    Ok(CertEntry {
        thumbprint: Thumbprint::of(der).to_string(),
        encoded_certificate: crate::pki::base64_encode(der),
    })
}

/// The w7 `SSLCLIENTCERTSEARCHCRITERIA` value for a certificate `subject` (RFC 4514
/// text, as `x509_cert`'s `Name` displays it) in the store of `enrollment_type`:
/// `Subject=CN%3D<id>&Stores=MY%5CUser` (or `MY%5CSystem`). Everything but unreserved
/// URI characters is percent-encoded; the XML writer escapes the `&` once more.
pub fn ssl_client_cert_search_criteria(subject: &str, enrollment_type: EnrollmentType) -> String {
    let mut out = String::from("Subject=");
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("&Stores=MY%5C");
    out.push_str(enrollment_type.store_context());
    out
}
