//! A Windows-like MDM device emulator built on the winmdm crates.
//!
//! A [`Device`] is one emulated Windows 10 device kept in a state directory. It enrolls
//! like Windows (MS-MDE2 Discovery, GetPolicies, RequestSecurityToken with a fresh RSA key
//! and a Windows-shaped CSR, [`Device::enroll`]), then runs OMA-DM sessions like Windows
//! ([`Device::sync`]: package 1 with Alert 1201, 1224 LoginStatus and the DevInfo Replace,
//! Windows's HTTP headers, one keep-alive TLS connection presenting the enrollment
//! certificate), renews its certificate ([`Device::renew`]) and unenrolls with the 1226
//! user-request alert ([`Device::unenroll`]).
//!
//! The protocol work is the crates': [`winmdm_omadm::device::DeviceSession`] runs the sessions
//! (statuses, Results, Atomic, multi-message packages, large objects, DM
//! authentication), `winmdm-enroll` builds and reads the enrollment messages, and the
//! management tree ([`DeviceTree`]) is governed by the DDF catalog of `winmdm-csp`
//! (404 unknown node, 405 access not allowed, 418 already exists, Execs recorded). This
//! crate adds the IO: HTTPS (tokio-rustls, hyper 1), the state directory (JSON) and the
//! `winmdm-device` command line.
//!
//! # Example
//!
//! ```no_run
//! use std::path::Path;
//! use winmdm_device_emulator::{Credential, Device, EnrollOptions};
//!
//! # async fn run() -> Result<(), winmdm_device_emulator::EmuError> {
//! let opts = EnrollOptions::new(
//!     "https://mdm.example.com/EnrollmentServer/Discovery.svc",
//!     std::fs::read("ca.pem")?,
//!     Credential::OnPremise { upn: "user@example.com".into(), password: "secret".into() },
//! );
//! let mut device = Device::enroll(Path::new("state/dev1"), opts).await?;
//! device.tree_mut().set("./Vendor/MSFT/Policy/Config/Camera/AllowCamera", "1")?; // drift
//! let report = device.sync().await?;
//! println!("{} messages, {:?}", report.messages, report.commands);
//!
//! let mut again = Device::load(Path::new("state/dev1"))?; // a later invocation
//! again.unenroll().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod enroll;
mod error;
mod facts;
mod http;
pub mod load;
mod mgmt;
mod state;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

pub use enroll::{Credential, ENROLLMENT_CONTENT_TYPE, ENROLLMENT_USER_AGENT, EnrollOptions};
pub use error::EmuError;
pub use facts::DeviceFacts;
pub use mgmt::{
    Exchange, MANAGEMENT_HEADERS, MANAGEMENT_QUERY, MANAGEMENT_USER_AGENT, SyncReport,
    UNENROLL_ALERT_TYPE, management_request_url, unenroll_alert,
};
pub use state::{
    DEVICE_FILE, DmAuth, Enrollment, PollSchedule, RenewalSettings, STATE_VERSION, TREE_FILE,
};
pub use tree::{DeviceTree, ExecRecord, StoredNode, TreeError, catalog, original_error_for};
/// `Full` (user enrollment) or `Device`, as in the RST's `EnrollmentType` context item.
pub use winmdm_enroll::EnrollmentType;
/// The device's RSA key pair ([`EnrollOptions::key`]).
pub use winmdm_enroll::pki::DeviceKey;
/// The HRESULT a failed Status carries as `msft:originalerror` ([`DeviceTree::fail_with`]).
pub use winmdm_omadm::tree::Hresult;

use state::DeviceState;

/// One emulated Windows device, persisted in a state directory (`device.json` and
/// `tree.json`).
///
/// Every operation that changes the device ([`enroll`](Device::enroll),
/// [`sync`](Device::sync), [`renew`](Device::renew), [`unenroll`](Device::unenroll))
/// saves the state directory before it returns, also when it fails; changes made
/// through [`tree_mut`](Device::tree_mut) are saved by the next of them or by
/// [`save`](Device::save). [`set_lazy_save`](Device::set_lazy_save) (the load
/// generator's) leaves out the saves of sessions that changed only the counters.
#[derive(Debug)]
pub struct Device {
    pub(crate) dir: PathBuf,
    pub(crate) st: DeviceState,
    pub(crate) tree: DeviceTree,
    /// The management TLS configuration of the current certificate (DER), kept between
    /// sessions so that they resume the TLS session as Windows does; not saved.
    pub(crate) tls: Option<(Vec<u8>, std::sync::Arc<rustls::ClientConfig>)>,
    /// Whether sessions after the first resume TLS ([`Device::set_tls_resumption`]).
    pub(crate) tls_resumption: bool,
    /// [`Device::set_lazy_save`].
    pub(crate) lazy_save: bool,
    /// What is not in the state directory yet.
    pub(crate) marks: SaveMarks,
    /// The certificate's notAfter, by certificate (DER): [`Device::renewal_due`] runs
    /// before every session and parsing the certificate each time showed in profiles.
    not_after: Mutex<Option<(Vec<u8>, Option<SystemTime>)>>,
}

/// What of a device is not in its state directory yet (atomics, so that
/// [`Device::save`] takes `&self`).
#[derive(Debug, Default)]
pub(crate) struct SaveMarks {
    /// Something changed since the last save (the session counters at least).
    pub(crate) unsaved: AtomicBool,
    /// Something other than the counters and the tree changed since the last save (the
    /// DM nonce, `MaxMsgSize`).
    pub(crate) changed: AtomicBool,
    /// The tree's [`revision`](DeviceTree::revision) at the last save or load.
    pub(crate) tree_revision: AtomicU64,
}

impl Drop for Device {
    /// With [`lazy saving`](Device::set_lazy_save) on, writes what is not saved yet
    /// (best effort: a failure is ignored; call [`Device::save`] to see it).
    fn drop(&mut self) {
        if self.lazy_save && !self.is_saved() {
            let _ = self.save();
        }
    }
}

/// A Windows-shaped device ID: 32 upper-case hex digits (as in the capture,
/// `B5B954E81FBCB94EB79BD08BE625F4EE`).
pub fn random_device_id() -> String {
    hex_upper(&rand::random::<[u8; 16]>())
}

pub(crate) fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn random_ms_cv_base() -> String {
    use base64::Engine;
    // 12 random bytes: 16 base64 characters, like `OTrP9+n7GU+OcSEg` in the capture.
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 12]>())
}

impl Device {
    /// A device enrolled by other means (or by [`Device::enroll`]): writes a new state
    /// directory with `device_id`, `facts`, a Windows-seeded tree (DevInfo, DevDetail,
    /// the DMClient provider of `enrollment`) and `enrollment`.
    pub fn create(
        state_dir: &Path,
        device_id: impl Into<String>,
        facts: DeviceFacts,
        enrollment: Enrollment,
    ) -> Result<Device, EmuError> {
        let device_id = device_id.into();
        let hw_dev_id = hex_upper(&rand::random::<[u8; 32]>());
        let mut d = Device::blank(state_dir, device_id, hw_dev_id, facts);
        d.install(enrollment);
        d.save()?;
        Ok(d)
    }

    pub(crate) fn blank(
        state_dir: &Path,
        device_id: String,
        hw_dev_id: String,
        facts: DeviceFacts,
    ) -> Device {
        let tree = DeviceTree::windows(&facts, &device_id);
        Device {
            dir: state_dir.to_owned(),
            st: DeviceState {
                version: state::STATE_VERSION,
                device_id,
                hw_dev_id,
                facts,
                enrollment: None,
                sessions: 0,
                ms_cv_base: random_ms_cv_base(),
                ms_cv_count: 0,
                max_msg_size: None,
            },
            tree,
            tls: None,
            tls_resumption: true,
            lazy_save: false,
            marks: SaveMarks::default(),
            not_after: Mutex::new(None),
        }
    }

    /// Installs an enrollment: keeps it and writes the DMClient provider nodes
    /// (`EntDMID`, `UPN`, poll schedule) and `HWDevID` into the tree.
    pub(crate) fn install(&mut self, e: Enrollment) {
        let p = format!("./Vendor/MSFT/DMClient/Provider/{}", e.provider_id);
        let t = &mut self.tree;
        let _ = t.set("./Vendor/MSFT/DMClient/HWDevID", self.st.hw_dev_id.clone());
        if let Some(v) = &e.ent_dmid {
            let _ = t.set(&format!("{p}/EntDMID"), v.clone());
        }
        if let Some(v) = &e.upn {
            let _ = t.set(&format!("{p}/UPN"), v.clone());
        }
        if let Some(poll) = &e.poll {
            let pp = format!("{p}/Poll");
            let vals = [
                ("IntervalForFirstSetOfRetries", poll.first_interval),
                ("NumberOfFirstRetries", poll.first_count),
                ("IntervalForSecondSetOfRetries", poll.second_interval),
                ("NumberOfSecondRetries", poll.second_count),
                (
                    "IntervalForRemainingScheduledRetries",
                    poll.remaining_interval,
                ),
                ("NumberOfRemainingScheduledRetries", poll.remaining_count),
            ];
            for (n, v) in vals {
                if let Some(v) = v {
                    let _ = t.set(&format!("{pp}/{n}"), v.to_string());
                }
            }
            if let Some(b) = poll.poll_on_login {
                let _ = t.set(&format!("{pp}/PollOnLogin"), b.to_string());
            }
        }
        self.st.enrollment = Some(e);
    }

    /// Opens a device saved in `state_dir` by an earlier invocation.
    pub fn load(state_dir: &Path) -> Result<Device, EmuError> {
        let (st, tree) = state::load(state_dir)?;
        let marks = SaveMarks::default();
        marks
            .tree_revision
            .store(tree.revision(), Ordering::Relaxed);
        Ok(Device {
            dir: state_dir.to_owned(),
            st,
            tree,
            tls: None,
            tls_resumption: true,
            lazy_save: false,
            marks,
            not_after: Mutex::new(None),
        })
    }

    /// Writes the state directory (done by every operation; call it after changing the
    /// tree directly when no operation follows).
    pub fn save(&self) -> Result<(), EmuError> {
        state::save(&self.dir, &self.st, &self.tree)?;
        let m = &self.marks;
        m.unsaved.store(false, Ordering::Relaxed);
        m.changed.store(false, Ordering::Relaxed);
        m.tree_revision
            .store(self.tree.revision(), Ordering::Relaxed);
        Ok(())
    }

    /// Lazy saving (default off): a session ([`sync`](Device::sync)) that changed
    /// nothing but the device's counters (the SessionID and `MS-CV` counts), such as an
    /// idle check-in, does not write the state directory; the counters are written by
    /// the next save (a session that changes the tree or the enrollment's DM nonce,
    /// [`renew`](Device::renew), [`unenroll`](Device::unenroll), [`save`](Device::save)),
    /// or when the `Device` is dropped. The load generator runs its devices so (two
    /// JSON files written and renamed per session were a third of its CPU); off, every
    /// session saves, as the command line's separate invocations need.
    pub fn set_lazy_save(&mut self, on: bool) {
        self.lazy_save = on;
    }

    /// Whether the state directory holds all of this device (false after a session that
    /// lazy saving did not save, or after changes through
    /// [`tree_mut`](Device::tree_mut) not saved yet).
    pub fn is_saved(&self) -> bool {
        let m = &self.marks;
        !m.unsaved.load(Ordering::Relaxed)
            && !m.changed.load(Ordering::Relaxed)
            && m.tree_revision.load(Ordering::Relaxed) == self.tree.revision()
    }

    /// Whether a session must save under lazy saving: something other than the
    /// counters changed since the last save.
    pub(crate) fn must_save(&self) -> bool {
        let m = &self.marks;
        !self.lazy_save
            || m.changed.load(Ordering::Relaxed)
            || m.tree_revision.load(Ordering::Relaxed) != self.tree.revision()
    }

    /// Runs one OMA-DM session (every message of it) over one keep-alive mutual-TLS
    /// connection to the management URL, executing the server's commands against the
    /// tree; saves the state.
    ///
    /// Package 1 is Windows's: Alert 1201, Alert 1224 `com.microsoft/MDM/LoginStatus`
    /// `user`, `Replace` of `./DevInfo/{DevId,Man,Mod,DmV,Lang}` (CmdIDs from 2), no
    /// `Cred` (DM credentials from the provisioning document are sent when the server
    /// challenges with 401/407), no `MaxMsgSize`; the SessionID is the next one of the
    /// device, in hex. Fails with [`EmuError::Http`] when the server answers other than
    /// 200, [`EmuError::NotEnrolled`] when there is no enrollment.
    ///
    /// Like Windows, it first renews the certificate when the provisioning document
    /// offered renewal and the certificate is within `RenewPeriod` days of its expiry
    /// ([`Device::renewal_due`]); a failed renewal does not stop the session (Windows
    /// retries after `RetryInterval`), [`SyncReport::renewal`] tells what happened.
    pub async fn sync(&mut self) -> Result<SyncReport, EmuError> {
        let renewal = if self.renewal_due(std::time::SystemTime::now()) {
            Some(self.renew().await.map_err(|e| e.to_string()))
        } else {
            None
        };
        let mut report = self.run_session(Vec::new()).await?;
        report.renewal = renewal;
        Ok(report)
    }

    /// Whether the certificate is due for renewal at `now`: the enrollment offers
    /// renewal (`WSTEP/Renew`) and `now` is within its `RenewPeriod` (days) of the
    /// certificate's notAfter.
    pub fn renewal_due(&self, now: std::time::SystemTime) -> bool {
        use winmdm_enroll::pki::der::Decode;
        let Some(e) = &self.st.enrollment else {
            return false;
        };
        let Some(days) = e.renewal.as_ref().and_then(|r| r.renew_period_days) else {
            return false;
        };
        let not_after = {
            let mut cached = self.not_after.lock().unwrap_or_else(|p| p.into_inner());
            match &*cached {
                Some((der, t)) if *der == e.certificate_der => *t,
                _ => {
                    let t =
                        winmdm_enroll::pki::x509_cert::Certificate::from_der(&e.certificate_der)
                            .ok()
                            .map(|c| c.tbs_certificate().validity().not_after.to_system_time());
                    *cached = Some((e.certificate_der.clone(), t));
                    t
                }
            }
        };
        let Some(not_after) = not_after else {
            return false;
        };
        now + std::time::Duration::from_secs(u64::from(days) * 86_400) >= not_after
    }

    /// Unenrolls as a user does in Settings: a session whose package 1 also carries
    /// Alert 1226 `com.microsoft:mdm.unenrollment.userrequest` (Format `int`, Data `1`),
    /// then forgets the enrollment (certificate, key, DMClient provider nodes), whatever
    /// the session's outcome (Windows sends the alert best effort). The session's error,
    /// if any, is returned after the enrollment is forgotten.
    pub async fn unenroll(&mut self) -> Result<SyncReport, EmuError> {
        let r = self.run_session(vec![mgmt::unenroll_alert()]).await;
        if let Some(e) = self.st.enrollment.take() {
            self.tree.remove(&format!(
                "./Vendor/MSFT/DMClient/Provider/{}",
                e.provider_id
            ));
        }
        self.save()?;
        r
    }

    /// The device ID (`./DevInfo/DevId`, the certificate's CN, `Source/LocURI`).
    pub fn device_id(&self) -> &str {
        &self.st.device_id
    }

    /// The hardware device ID sent as `HWDevID` (64 hex digits).
    pub fn hw_dev_id(&self) -> &str {
        &self.st.hw_dev_id
    }

    /// What the device reports about itself.
    pub fn facts(&self) -> &DeviceFacts {
        &self.st.facts
    }

    /// The management tree.
    pub fn tree(&self) -> &DeviceTree {
        &self.tree
    }

    /// The management tree, to change values (drift) or inject failures
    /// ([`DeviceTree::fail`]); saved by the next operation or [`Device::save`].
    pub fn tree_mut(&mut self) -> &mut DeviceTree {
        &mut self.tree
    }

    /// The current enrollment, `None` before enrolling and after unenrolling.
    pub fn enrollment(&self) -> Option<&Enrollment> {
        self.st.enrollment.as_ref()
    }

    /// The MDM client certificate (DER); empty when not enrolled.
    pub fn certificate_der(&self) -> &[u8] {
        self.st
            .enrollment
            .as_ref()
            .map_or(&[][..], |e| e.certificate_der.as_slice())
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// Sessions run so far (the last SessionID, as a number).
    pub fn sessions(&self) -> u32 {
        self.st.sessions
    }

    /// Whether a session resumes the TLS session of the previous one made by this
    /// `Device` value (default true, as Windows does; the cache lives in memory, so the
    /// first session after [`Device::load`] makes a full handshake). `false` makes every
    /// session's connection a full handshake. [`SyncReport::resumed`] tells which.
    pub fn set_tls_resumption(&mut self, on: bool) {
        self.tls_resumption = on;
        if !on {
            self.tls = None;
        }
    }

    /// Declares a `MaxMsgSize` in package 1 from the next session on (`None`, the
    /// default, as Windows: none declared). Saved with the state.
    pub fn set_max_msg_size(&mut self, size: Option<u64>) {
        if self.st.max_msg_size != size {
            self.marks.changed.store(true, Ordering::Relaxed);
        }
        self.st.max_msg_size = size;
    }
}
