//! What the device keeps between invocations: `device.json` (identity, enrollment,
//! counters) and `tree.json` (the management tree) in the state directory.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EmuError;
use crate::facts::DeviceFacts;
use crate::tree::DeviceTree;

/// Version written into `device.json`; other versions are refused.
pub const STATE_VERSION: u32 = 1;

/// The file holding the device's identity, enrollment and counters.
pub const DEVICE_FILE: &str = "device.json";
/// The file holding the management tree.
pub const TREE_FILE: &str = "tree.json";

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s.trim()).map_err(serde::de::Error::custom)
    }

    pub(crate) mod vec {
        use super::*;
        use serde::Serialize;

        pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
            v.iter()
                .map(|b| STANDARD.encode(b))
                .collect::<Vec<_>>()
                .serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Vec<u8>>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|s| STANDARD.decode(s.trim()).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// DM-level (OMA-DM) credentials from the provisioning document's w7 `APPAUTH`.
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmAuth {
    /// `AAUTHTYPE`: `DIGEST` (syncml:auth-md5) or `BASIC`.
    pub auth_type: String,
    /// `AAUTHNAME`.
    pub name: String,
    /// `AAUTHSECRET`.
    pub secret: String,
    /// `AAUTHDATA` (base64 nonce), updated from the server's `NextNonce` after each
    /// session.
    pub nonce_b64: String,
}

impl fmt::Debug for DmAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmAuth")
            .field("auth_type", &self.auth_type)
            .field("name", &self.name)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("nonce_b64", &self.nonce_b64)
            .finish()
    }
}

/// The poll schedule of `DMClient/Provider/<id>/Poll` (intervals in minutes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PollSchedule {
    /// `IntervalForFirstSetOfRetries`.
    pub first_interval: Option<u32>,
    /// `NumberOfFirstRetries`.
    pub first_count: Option<u32>,
    /// `IntervalForSecondSetOfRetries`.
    pub second_interval: Option<u32>,
    /// `NumberOfSecondRetries`.
    pub second_count: Option<u32>,
    /// `IntervalForRemainingScheduledRetries`.
    pub remaining_interval: Option<u32>,
    /// `NumberOfRemainingScheduledRetries` (0: forever).
    pub remaining_count: Option<u32>,
    /// `PollOnLogin`.
    pub poll_on_login: Option<bool>,
}

/// The renewal settings of `CertificateStore/My/WSTEP/Renew`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RenewalSettings {
    /// `ROBOSupport`.
    pub robo_support: Option<bool>,
    /// `RenewPeriod` (days before expiry).
    pub renew_period_days: Option<u32>,
    /// `RetryInterval` (days).
    pub retry_interval_days: Option<u32>,
}

/// What an enrollment left on the device: certificates, key, URLs and settings from
/// the provisioning document. `Debug` never shows the key or secrets.
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Enrollment {
    /// w7 `PROVIDER-ID` (= the DMClient provider).
    pub provider_id: String,
    /// w7 `ADDR`: the management URL (`Target/LocURI` of every SyncML message).
    pub management_url: String,
    /// The enrollment service URL (RequestSecurityToken; renewal goes there).
    #[serde(default)]
    pub enrollment_url: Option<String>,
    /// The enrollment policy service URL (GetPolicies).
    #[serde(default)]
    pub policy_url: Option<String>,
    /// The discovery URL enrolled with.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// The MDM client certificate (DER), presented in TLS to the management server.
    #[serde(with = "b64")]
    pub certificate_der: Vec<u8>,
    /// The device key of that certificate, PKCS#8 PEM.
    pub key_pem: String,
    /// Roots installed from `CertificateStore/Root/System` (DER).
    #[serde(with = "b64::vec", default)]
    pub roots_der: Vec<Vec<u8>>,
    /// Intermediates installed from `CertificateStore/CA/System` (DER).
    #[serde(with = "b64::vec", default)]
    pub intermediates_der: Vec<Vec<u8>>,
    /// The CA certificates (PEM) the server's TLS certificate chains to.
    pub tls_roots_pem: String,
    /// `APPAUTH` `APPSRV`: how the device authenticates to the server.
    #[serde(default)]
    pub server_auth: Option<DmAuth>,
    /// `APPAUTH` `CLIENT`: how the server authenticates to the device.
    #[serde(default)]
    pub client_auth: Option<DmAuth>,
    /// The poll schedule.
    #[serde(default)]
    pub poll: Option<PollSchedule>,
    /// The renewal settings (`None`: the server offered no renewal).
    #[serde(default)]
    pub renewal: Option<RenewalSettings>,
    /// `DMClient/Provider/<id>/EntDMID`.
    #[serde(default)]
    pub ent_dmid: Option<String>,
    /// `DMClient/Provider/<id>/UPN`, else the enrolling user's UPN.
    #[serde(default)]
    pub upn: Option<String>,
    /// `Full` (user, `My/User`) or `Device` (`My/System`).
    pub enrollment_type: String,
}

impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("provider_id", &self.provider_id)
            .field("management_url", &self.management_url)
            .field("enrollment_url", &self.enrollment_url)
            .field(
                "certificate_der",
                &format_args!("<{} bytes>", self.certificate_der.len()),
            )
            .field("key_pem", &"<redacted>")
            .field("roots_der", &self.roots_der.len())
            .field("server_auth", &self.server_auth)
            .field("client_auth", &self.client_auth)
            .field("poll", &self.poll)
            .field("renewal", &self.renewal)
            .field("ent_dmid", &self.ent_dmid)
            .field("upn", &self.upn)
            .field("enrollment_type", &self.enrollment_type)
            .finish_non_exhaustive()
    }
}

impl Enrollment {
    /// An enrollment with the given certificate, key and URLs and nothing else: no DM
    /// credentials, no poll schedule, no renewal (set the public fields for more).
    pub fn new(
        provider_id: impl Into<String>,
        management_url: impl Into<String>,
        certificate_der: Vec<u8>,
        key_pem: impl Into<String>,
        tls_roots_pem: impl Into<String>,
    ) -> Self {
        Enrollment {
            provider_id: provider_id.into(),
            management_url: management_url.into(),
            enrollment_url: None,
            policy_url: None,
            discovery_url: None,
            certificate_der,
            key_pem: key_pem.into(),
            roots_der: Vec::new(),
            intermediates_der: Vec::new(),
            tls_roots_pem: tls_roots_pem.into(),
            server_auth: None,
            client_auth: None,
            poll: None,
            renewal: None,
            ent_dmid: None,
            upn: None,
            enrollment_type: "Full".to_owned(),
        }
    }
}

/// `device.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceState {
    pub(crate) version: u32,
    pub(crate) device_id: String,
    pub(crate) hw_dev_id: String,
    pub(crate) facts: DeviceFacts,
    pub(crate) enrollment: Option<Enrollment>,
    /// SessionIDs used so far (the next session is this + 1, in hex).
    pub(crate) sessions: u32,
    /// Base of the `MS-CV` correlation vector.
    pub(crate) ms_cv_base: String,
    /// Management requests sent so far (the last `MS-CV` element).
    pub(crate) ms_cv_count: u64,
    /// `MaxMsgSize` declared in package 1 (Windows declares none).
    #[serde(default)]
    pub(crate) max_msg_size: Option<u64>,
}

fn io_err(dir: &Path, what: &str, e: impl fmt::Display) -> EmuError {
    EmuError::State {
        dir: dir.display().to_string(),
        reason: format!("{what}: {e}"),
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), EmuError> {
    std::fs::create_dir_all(dir)?;
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}

pub(crate) fn save(dir: &Path, st: &DeviceState, tree: &DeviceTree) -> Result<(), EmuError> {
    let t = serde_json::to_vec_pretty(tree).map_err(|e| io_err(dir, TREE_FILE, e))?;
    write_atomic(dir, TREE_FILE, &t)?;
    let d = serde_json::to_vec_pretty(st).map_err(|e| io_err(dir, DEVICE_FILE, e))?;
    write_atomic(dir, DEVICE_FILE, &d)
}

pub(crate) fn load(dir: &Path) -> Result<(DeviceState, DeviceTree), EmuError> {
    let d = std::fs::read(dir.join(DEVICE_FILE)).map_err(|e| io_err(dir, DEVICE_FILE, e))?;
    let st: DeviceState = serde_json::from_slice(&d).map_err(|e| io_err(dir, DEVICE_FILE, e))?;
    if st.version != STATE_VERSION {
        return Err(io_err(
            dir,
            DEVICE_FILE,
            format!(
                "state version {} (this emulator reads {STATE_VERSION})",
                st.version
            ),
        ));
    }
    let tree = match std::fs::read(dir.join(TREE_FILE)) {
        Ok(t) => serde_json::from_slice(&t).map_err(|e| io_err(dir, TREE_FILE, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            DeviceTree::windows(&st.facts, &st.device_id)
        }
        Err(e) => return Err(io_err(dir, TREE_FILE, e)),
    };
    Ok((st, tree))
}
