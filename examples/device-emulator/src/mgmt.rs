//! Management sessions: one OMA-DM session over one keep-alive mutual-TLS connection.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::Method;
use winmdm_omadm::SyncML;
use winmdm_omadm::auth::{AuthScheme, Credentials, DeviceAuth};
use winmdm_omadm::device::{DevInfo, DeviceConfig, DeviceSession};
use winmdm_omadm::syncml::{Alert, AlertCode, Command, Data, Item, Meta};

use crate::http::Https;
use crate::state::{DmAuth, Enrollment};
use crate::tree::ExecRecord;
use crate::{Device, EmuError};

/// The HTTP headers Windows 10 sends with every OMA-DM request, in its order (from
/// the capture `tests/data/win10-19043/07-device-syncml-session1.headers.txt`); `Host`,
/// `Content-Length`, `Client-Request-Id` (the EntDMID, when provisioned) and `MS-CV`
/// are added per request.
pub const MANAGEMENT_HEADERS: [(&str, &str); 4] = [
    (
        "Accept",
        "application/vnd.syncml.dm+xml, application/vnd.syncml.dm+wbxml, application/octet-stream",
    ),
    ("Accept-Charset", "UTF-8"),
    ("Accept-Encoding", "gzip"),
    ("Content-Type", "application/vnd.syncml.dm+xml"),
];

/// `User-Agent` of Windows's OMA-DM client.
pub const MANAGEMENT_USER_AGENT: &str = "MSFT OMA DM Client/1.2.0.1";

/// The query Windows adds to the w7 `ADDR` (MS-MDM §2.1, the capture).
pub const MANAGEMENT_QUERY: &str = "mode=Maintenance&Platform=WoA";

/// The generic alert type of a user-initiated unenrollment.
pub const UNENROLL_ALERT_TYPE: &str = "com.microsoft:mdm.unenrollment.userrequest";

/// One HTTP exchange of a session: what the device sent, what the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The device's SyncML message.
    pub request: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The server's answer (lossy UTF-8).
    pub response: String,
}

/// What one management session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// The session's `SessionID` (hexadecimal, as Windows writes it).
    pub session_id: String,
    /// Device messages sent (HTTP requests).
    pub messages: usize,
    /// Every server command the device answered, in order: (command, LocURI, status).
    /// A command with several items gives one entry per item; `Atomic` and `Sequence`
    /// give an entry with an empty LocURI before their children's; alerts from the
    /// server have an empty LocURI.
    pub commands: Vec<(String, String, u16)>,
    /// The HTTP status of every response.
    pub http_statuses: Vec<u16>,
    /// The server's Status for the device's `SyncHdr` in each of its messages (200,
    /// 212 after DM authentication, 401/407 challenges).
    pub header_statuses: Vec<u16>,
    /// TLS connections opened (1 when the server keeps the connection alive).
    pub connections: usize,
    /// Of those, connections whose TLS handshake resumed an earlier session of this
    /// device ([`Device::set_tls_resumption`](crate::Device::set_tls_resumption)).
    pub resumed: usize,
    /// The `Exec`s performed in this session.
    pub execs: Vec<ExecRecord>,
    /// Every exchange, in order.
    pub transcript: Vec<Exchange>,
    /// The renewal tried before the session ([`Device::sync`](crate::Device::sync) renews
    /// when it is due): `None` when none was due, else its result.
    pub renewal: Option<Result<(), String>>,
}

impl SyncReport {
    /// The status the device answered for the first command addressed to `locuri`.
    pub fn status_of(&self, locuri: &str) -> Option<u16> {
        self.commands
            .iter()
            .find(|(_, u, _)| u == locuri)
            .map(|c| c.2)
    }
}

struct Issued {
    cmd: String,
    uris: Vec<String>,
}

fn record(msg_id: &str, cmds: &[Command<'_>], out: &mut HashMap<(String, String), Issued>) {
    for c in cmds {
        let Some(id) = c.cmd_id() else { continue };
        let (uris, children) = match c {
            Command::Status(_) | Command::Results(_) | Command::Unknown(_) => continue,
            Command::Atomic(k) | Command::Sequence(k) => (Vec::new(), Some(&k.commands)),
            Command::Add(ic)
            | Command::Replace(ic)
            | Command::Delete(ic)
            | Command::Exec(ic)
            | Command::Get(ic)
            | Command::Copy(ic) => (
                ic.items
                    .iter()
                    .map(|i| i.target_uri().unwrap_or("").trim().to_owned())
                    .collect(),
                None,
            ),
            Command::Alert(_) => (Vec::new(), None),
        };
        out.insert(
            (msg_id.to_owned(), id.trim().to_owned()),
            Issued {
                cmd: c.name().to_owned(),
                uris,
            },
        );
        if let Some(ch) = children {
            record(msg_id, ch, out);
        }
    }
}

fn scheme_of(a: &DmAuth) -> AuthScheme {
    if a.auth_type.trim().eq_ignore_ascii_case("BASIC") {
        AuthScheme::Basic
    } else {
        AuthScheme::Md5
    }
}

/// The 1226 alert Windows sends when the user unenrolls (the capture
/// `09-device-syncml-session2-unenroll.xml`: Type, Format `int`, Data `1`).
pub fn unenroll_alert() -> Alert<'static> {
    Alert {
        data: Some(Data::text(AlertCode::GENERIC_ALERT.0.to_string())),
        items: vec![Item {
            meta: Some(Box::new(Meta {
                r#type: Some(Cow::Borrowed(UNENROLL_ALERT_TYPE)),
                format: Some(Cow::Borrowed("int")),
                ..Meta::default()
            })),
            data: Some(Data::text("1")),
            ..Item::default()
        }],
        ..Alert::default()
    }
}

/// The URL Windows posts to: `ADDR` plus [`MANAGEMENT_QUERY`].
pub fn management_request_url(addr: &str) -> String {
    let sep = if addr.contains('?') { '&' } else { '?' };
    format!("{addr}{sep}{MANAGEMENT_QUERY}")
}

/// Windows counts sessions in one byte (1 to FF, then 1 again).
fn next_session(n: u32) -> u32 {
    if n >= 0xFF { 1 } else { n + 1 }
}

impl Device {
    /// The engine configuration of the next session (SessionID already counted).
    pub(crate) fn session_config(
        &self,
        e: &Enrollment,
        session_id: String,
        extra_alerts: Vec<Alert<'static>>,
    ) -> Result<DeviceConfig, EmuError> {
        let mut cfg = DeviceConfig::new(
            self.st.device_id.clone(),
            e.management_url.clone(),
            session_id,
        );
        let f = &self.st.facts;
        cfg.dev_info = DevInfo {
            man: f.manufacturer.clone(),
            model: f.model.clone(),
            dmv: f.dm_version.clone(),
            lang: f.language.clone(),
        };
        cfg.login_status = Some("user".to_owned());
        cfg.extra_alerts = extra_alerts;
        cfg.max_msg_size = self.st.max_msg_size;
        if let Some(a) = &e.server_auth {
            let nonce = STANDARD
                .decode(a.nonce_b64.trim())
                .map_err(|e| EmuError::Protocol(format!("AAUTHDATA is not base64: {e}")))?;
            cfg.auth = Some(DeviceAuth {
                scheme: scheme_of(a),
                credentials: Credentials::new(a.name.clone(), a.secret.clone()),
                nonce,
                max_attempts: 3,
            });
        }
        Ok(cfg)
    }

    /// The first message the next session will send (package 1, exactly as
    /// [`sync`](Device::sync) sends it, or as [`unenroll`](Device::unenroll) does with
    /// `unenroll` set), without counting the session or sending anything.
    pub fn package1(&self, unenroll: bool) -> Result<SyncML<'static>, EmuError> {
        let e = self
            .st
            .enrollment
            .as_ref()
            .ok_or_else(|| EmuError::NotEnrolled(self.dir.display().to_string()))?;
        let alerts = if unenroll {
            vec![unenroll_alert()]
        } else {
            Vec::new()
        };
        let cfg =
            self.session_config(e, format!("{:X}", next_session(self.st.sessions)), alerts)?;
        let mut msg = DeviceSession::new(cfg).start();
        msg.hdr.cred = None;
        Ok(msg)
    }

    /// Runs one session; saves the state and the tree whatever the outcome.
    pub(crate) async fn run_session(
        &mut self,
        extra_alerts: Vec<Alert<'static>>,
    ) -> Result<SyncReport, EmuError> {
        let e = self
            .st
            .enrollment
            .clone()
            .ok_or_else(|| EmuError::NotEnrolled(self.dir.display().to_string()))?;
        // The SessionID is written in hex, as Windows does.
        self.st.sessions = next_session(self.st.sessions);
        self.marks.unsaved.store(true, Ordering::Relaxed);
        let session_id = format!("{:X}", self.st.sessions);
        let cfg = self.session_config(&e, session_id.clone(), extra_alerts)?;
        let execs_before = self.tree.execs().len();
        let mut report = SyncReport {
            session_id,
            ..SyncReport::default()
        };
        let mut r = self.exchange_all(&e, cfg, &mut report).await;
        if r.is_ok()
            && let Some(&status) = report.header_statuses.last()
            && !(200..300).contains(&status)
        {
            r = Err(EmuError::Refused {
                status,
                session_id: report.session_id.clone(),
            });
        }
        report.execs = self.tree.execs()[execs_before.min(self.tree.execs().len())..].to_vec();
        if self.must_save() {
            self.save()?;
        }
        r.map(|()| report)
    }

    async fn exchange_all(
        &mut self,
        e: &Enrollment,
        cfg: DeviceConfig,
        report: &mut SyncReport,
    ) -> Result<(), EmuError> {
        let mut http = Https::with_config(self.management_tls(e)?);
        let url = management_request_url(&e.management_url);
        let mut session = DeviceSession::new(cfg);
        let mut msg = session.start();
        // Windows sends no Cred in the first message; it authenticates when the server
        // challenges (401/407), which the engine answers by sending package 1 again.
        msg.hdr.cred = None;
        let mut issued = HashMap::new();
        let result = loop {
            let body = msg
                .to_xml()
                .map_err(|e| EmuError::Protocol(format!("encoding SyncML: {e}")))?;
            self.note_statuses(&msg, &issued, report);
            let mut headers: Vec<(&str, String)> = Vec::new();
            for (n, v) in MANAGEMENT_HEADERS {
                headers.push((n, v.to_owned()));
                if n == "Accept-Encoding"
                    && let Some(id) = &e.ent_dmid
                {
                    headers.push(("Client-Request-Id", id.clone()));
                }
            }
            headers.push(("MS-CV", self.next_ms_cv()));
            headers.push(("User-Agent", MANAGEMENT_USER_AGENT.to_owned()));
            let resp = http
                .request(Method::POST, &url, &headers, body.clone().into_bytes())
                .await;
            report.connections = http.connections;
            report.resumed = http.resumed;
            let resp = resp?;
            report.messages += 1;
            report.http_statuses.push(resp.status);
            report.transcript.push(Exchange {
                request: body,
                status: resp.status,
                response: String::from_utf8_lossy(&resp.body).into_owned(),
            });
            if resp.status != 200 {
                break Err(EmuError::http_retry(
                    resp.status,
                    &resp.body,
                    resp.header("retry-after"),
                ));
            }
            let reply =
                winmdm_omadm::decode(&resp.body).map_err(|e| EmuError::SyncMl(e.to_string()))?;
            let server_msg_id = reply.hdr.msg_id.as_deref().unwrap_or("").trim().to_owned();
            for c in &reply.body.commands {
                if let Command::Status(s) = c
                    && s.cmd_ref.as_deref().map(str::trim) == Some("0")
                    && let Some(code) = s.code()
                {
                    report.header_statuses.push(code.0);
                }
            }
            record(&server_msg_id, &reply.body.commands, &mut issued);
            match session.handle(&reply, &mut self.tree) {
                Ok(Some(next)) => msg = next,
                Ok(None) => break Ok(()),
                Err(err) => break Err(err.into()),
            }
        };
        if let Some(n) = session.next_session_nonce()
            && let Some(en) = self.st.enrollment.as_mut()
            && let Some(a) = en.server_auth.as_mut()
        {
            let nonce = STANDARD.encode(n);
            if a.nonce_b64 != nonce {
                a.nonce_b64 = nonce;
                self.marks.changed.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    /// The TLS configuration for management with the current certificate: the one of
    /// the previous session when resumption is on and the certificate is the same.
    fn management_tls(
        &mut self,
        e: &Enrollment,
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, EmuError> {
        if self.tls_resumption
            && let Some((der, cfg)) = &self.tls
            && *der == e.certificate_der
        {
            return Ok(cfg.clone());
        }
        let mut chain = vec![e.certificate_der.clone()];
        chain.extend(e.intermediates_der.iter().cloned());
        let cfg =
            crate::http::client_config(e.tls_roots_pem.as_bytes(), Some((chain, &e.key_pem)))?;
        if self.tls_resumption {
            self.tls = Some((e.certificate_der.clone(), cfg.clone()));
        }
        Ok(cfg)
    }

    /// Adds the device's Statuses in `msg` to the report, matched with the server
    /// commands they answer.
    fn note_statuses(
        &self,
        msg: &winmdm_omadm::SyncML<'_>,
        issued: &HashMap<(String, String), Issued>,
        report: &mut SyncReport,
    ) {
        for c in &msg.body.commands {
            let Command::Status(s) = c else { continue };
            let cmd_ref = s.cmd_ref.as_deref().unwrap_or("").trim();
            if cmd_ref == "0" {
                continue;
            }
            let msg_ref = s.msg_ref.as_deref().unwrap_or("1").trim();
            let code = s.code().map_or(0, |c| c.0);
            let cmd = s.cmd.as_deref().unwrap_or("").to_owned();
            let uris: Vec<String> = if !s.target_refs.is_empty() {
                s.target_refs.iter().map(|t| t.trim().to_owned()).collect()
            } else {
                match issued.get(&(msg_ref.to_owned(), cmd_ref.to_owned())) {
                    Some(i) if !i.uris.is_empty() && i.cmd == cmd => i.uris.clone(),
                    _ => vec![String::new()],
                }
            };
            for u in uris {
                report.commands.push((cmd.clone(), u, code));
            }
        }
    }

    fn next_ms_cv(&mut self) -> String {
        let v = format!("{}.0.0.{}", self.st.ms_cv_base, self.st.ms_cv_count);
        self.st.ms_cv_count += 1;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_count_in_one_byte_and_print_in_hex() {
        assert_eq!(next_session(0), 1);
        assert_eq!(format!("{:X}", next_session(9)), "A");
        assert_eq!(next_session(0xFE), 0xFF);
        assert_eq!(next_session(0xFF), 1);
        assert_eq!(
            management_request_url("https://h/ManagementServer/MDM.svc"),
            "https://h/ManagementServer/MDM.svc?mode=Maintenance&Platform=WoA"
        );
        assert_eq!(
            management_request_url("https://h/x?a=1"),
            "https://h/x?a=1&mode=Maintenance&Platform=WoA"
        );
    }
}
