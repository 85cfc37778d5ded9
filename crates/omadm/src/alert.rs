//! Device alerts decoded to types (MS-MDM §2.2.7.2, protocol notes §2.5):
//! [`DeviceAlert::decode`] reads 1200/1201 (session start), 1222/1223 (next message,
//! abort), 1224 client events ([`ClientEvent`]: LoginStatus, AADUserToken as a
//! [`Secret`], synctype, DevicePrepSync) and 1226 generic alerts ([`GenericAlert`]). The
//! server engine reports them as [`DeviceEvent::Alert`](crate::server::DeviceEvent::Alert).

use winmdm_syncml::{Alert, AlertCode, Item};
use winmdm_types::Secret;

/// `com.microsoft/MDM/LoginStatus` values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginStatus {
    /// `user`: a user is logged in.
    User,
    /// `others`: another user is logged in.
    Others,
    /// `none`: nobody is logged in.
    None,
    /// Any other value, as sent.
    Other(String),
}

/// `com.microsoft.mdm.synctype` values (AVD multi-session).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncType {
    /// `user`
    User,
    /// `device`
    Device,
    /// `mixed`
    Mixed,
    /// Any other value.
    Other(String),
}

/// `com.microsoft/MDM/DevicePrepSync` values (Windows 11 24H2+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevicePrepSync {
    /// `PendingProvisioning`
    PendingProvisioning,
    /// `Bootstrapping`
    Bootstrapping,
    /// `ExecutingProvisioning`
    ExecutingProvisioning,
    /// `ProvisioningComplete`
    ProvisioningComplete,
    /// Any other value.
    Other(String),
}

/// The importance of a generic alert (`Meta/Mark`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mark {
    /// `informational`
    Informational,
    /// `critical`
    Critical,
    /// `fatal`
    Fatal,
    /// Any other value.
    Other(String),
}

impl Mark {
    fn parse(s: &str) -> Mark {
        match s.trim() {
            "informational" => Mark::Informational,
            "critical" => Mark::Critical,
            "fatal" => Mark::Fatal,
            o => Mark::Other(o.to_owned()),
        }
    }
}

/// What a generic (or Windows client-event) alert item reports, by `Meta/Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenericKind {
    /// `com.microsoft:mdm.unenrollment.userrequest`: the user unenrolled.
    UnenrollmentUserRequest,
    /// `Reversed-Domain-Name:com.microsoft.mdm.EnterpriseHostedAppInstall.result`.
    HostedAppInstallResult,
    /// `Reversed-Domain-Name:com.microsoft.mdm.EnterpriseAppUninstall.result`.
    AppUninstallResult,
    /// `Reversed-Domain-Name:com.microsoft.mdm.win32csp_install`: an MSI job result.
    MsiInstallResult,
    /// Any other type, as sent.
    Other(String),
}

/// One item of a generic alert (1226) or a result-carrying 1224 item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericAlert {
    /// What it reports.
    pub kind: GenericKind,
    /// `Source/LocURI`: the management object it concerns (e.g. `.../HostedInstall`).
    pub source: Option<String>,
    /// `Target/LocURI`.
    pub target: Option<String>,
    /// `Meta/Mark`.
    pub mark: Option<Mark>,
    /// `Meta/Format`.
    pub format: Option<String>,
    /// `Data` as sent.
    pub data: String,
}

impl GenericAlert {
    /// The result as an integer: `0` success, otherwise an HRESULT (decimal or `0x...`).
    pub fn result(&self) -> Option<i64> {
        let t = self.data.trim();
        if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok()
        } else {
            t.parse().ok()
        }
    }
}

/// One item of a 1224 client-event alert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// `com.microsoft/MDM/LoginStatus`.
    LoginStatus(LoginStatus),
    /// `com.microsoft/MDM/AADUserToken`.
    AadUserToken(Secret),
    /// `com.microsoft.mdm.synctype`.
    SyncType(SyncType),
    /// `com.microsoft/MDM/DevicePrepSync`.
    DevicePrepSync(DevicePrepSync),
    /// A result-style item (e.g. the MSI job result with `Mark informational`).
    Result(GenericAlert),
}

/// A device alert decoded to its meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceAlert {
    /// 1201: client-initiated session.
    ClientInitiated,
    /// 1200: server-initiated session.
    ServerInitiated,
    /// 1222: send the next message of the package.
    NextMessage,
    /// 1223: the device aborts the session.
    SessionAbort,
    /// 1224: client events, one per item.
    ClientEvent(Vec<ClientEvent>),
    /// 1226: generic alerts, one per item.
    Generic(Vec<GenericAlert>),
    /// Any other code (or no code), kept as sent.
    Unknown(Box<Alert<'static>>),
}

/// `Meta/Type` of an item. Tolerates `Type` written directly in `Item` instead of inside
/// `Meta` (quirk `TypeOutsideMeta`, MS-MDM §3.2.5.1.5/6 samples; see docs/omadm.md).
fn item_type(it: &Item<'_>) -> Option<String> {
    if let Some(t) = it.meta.as_ref().and_then(|m| m.r#type.as_deref()) {
        return Some(t.trim().to_owned());
    }
    let raw = it.extra.iter().find(|r| r.name == "Type")?;
    let start = raw.xml.find('>')? + 1;
    let end = raw.xml.rfind("</")?;
    (start <= end).then(|| raw.xml[start..end].trim().to_owned())
}

fn generic(it: &Item<'_>, kind: GenericKind) -> GenericAlert {
    GenericAlert {
        kind,
        source: it.source_uri().map(str::to_owned),
        target: it.target_uri().map(str::to_owned),
        mark: it
            .meta
            .as_ref()
            .and_then(|m| m.mark.as_deref())
            .map(Mark::parse),
        format: it
            .meta
            .as_ref()
            .and_then(|m| m.format.as_deref())
            .map(|s| s.trim().to_owned()),
        data: it
            .data
            .as_ref()
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
    }
}

fn generic_kind(t: &str) -> GenericKind {
    match t {
        "com.microsoft:mdm.unenrollment.userrequest" => GenericKind::UnenrollmentUserRequest,
        "Reversed-Domain-Name:com.microsoft.mdm.EnterpriseHostedAppInstall.result" => {
            GenericKind::HostedAppInstallResult
        }
        "Reversed-Domain-Name:com.microsoft.mdm.EnterpriseAppUninstall.result" => {
            GenericKind::AppUninstallResult
        }
        "Reversed-Domain-Name:com.microsoft.mdm.win32csp_install" => GenericKind::MsiInstallResult,
        o => GenericKind::Other(o.to_owned()),
    }
}

impl DeviceAlert {
    /// Decodes an alert. Never fails: what it does not understand is kept
    /// ([`DeviceAlert::Unknown`], [`GenericKind::Other`], `...::Other(String)`).
    pub fn decode(a: &Alert<'_>) -> DeviceAlert {
        let data = |it: &Item<'_>| {
            it.data
                .as_ref()
                .map(|d| d.as_str().trim().to_owned())
                .unwrap_or_default()
        };
        match a.code() {
            Some(AlertCode::CLIENT_INITIATED_MGMT) => DeviceAlert::ClientInitiated,
            Some(AlertCode::SERVER_INITIATED_MGMT) => DeviceAlert::ServerInitiated,
            Some(AlertCode::NEXT_MESSAGE) => DeviceAlert::NextMessage,
            Some(AlertCode::SESSION_ABORT) => DeviceAlert::SessionAbort,
            Some(AlertCode::CLIENT_EVENT) => DeviceAlert::ClientEvent(
                a.items
                    .iter()
                    .map(|it| {
                        let t = item_type(it).unwrap_or_default();
                        let d = data(it);
                        match t.as_str() {
                            "com.microsoft/MDM/LoginStatus" => {
                                ClientEvent::LoginStatus(match d.as_str() {
                                    "user" => LoginStatus::User,
                                    "others" => LoginStatus::Others,
                                    "none" => LoginStatus::None,
                                    _ => LoginStatus::Other(d),
                                })
                            }
                            "com.microsoft/MDM/AADUserToken" => {
                                ClientEvent::AadUserToken(Secret::new(d))
                            }
                            "com.microsoft.mdm.synctype" => {
                                ClientEvent::SyncType(match d.as_str() {
                                    "user" => SyncType::User,
                                    "device" => SyncType::Device,
                                    "mixed" => SyncType::Mixed,
                                    _ => SyncType::Other(d),
                                })
                            }
                            "com.microsoft/MDM/DevicePrepSync" => {
                                ClientEvent::DevicePrepSync(match d.as_str() {
                                    "PendingProvisioning" => DevicePrepSync::PendingProvisioning,
                                    "Bootstrapping" => DevicePrepSync::Bootstrapping,
                                    "ExecutingProvisioning" => {
                                        DevicePrepSync::ExecutingProvisioning
                                    }
                                    "ProvisioningComplete" => DevicePrepSync::ProvisioningComplete,
                                    _ => DevicePrepSync::Other(d),
                                })
                            }
                            other => ClientEvent::Result(generic(it, generic_kind(other))),
                        }
                    })
                    .collect(),
            ),
            Some(AlertCode::GENERIC_ALERT) => DeviceAlert::Generic(
                a.items
                    .iter()
                    .map(|it| generic(it, generic_kind(&item_type(it).unwrap_or_default())))
                    .collect(),
            ),
            _ => DeviceAlert::Unknown(Box::new(a.clone().into_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winmdm_syncml::{Command, decode_commands};

    fn alert(xml: &str) -> DeviceAlert {
        let cmds = decode_commands(xml.as_bytes()).unwrap();
        let Command::Alert(a) = &cmds[0] else {
            panic!("not an alert")
        };
        DeviceAlert::decode(a)
    }

    #[test]
    fn decodes_windows_alerts() {
        assert_eq!(
            alert("<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>"),
            DeviceAlert::ClientInitiated
        );
        assert_eq!(
            alert("<Alert><CmdID>1</CmdID><Data>1200</Data></Alert>"),
            DeviceAlert::ServerInitiated
        );
        assert_eq!(
            alert("<Alert><CmdID>1</CmdID><Data>1222</Data></Alert>"),
            DeviceAlert::NextMessage
        );
        assert_eq!(
            alert("<Alert><CmdID>1</CmdID><Data>1223</Data></Alert>"),
            DeviceAlert::SessionAbort
        );
        let tok = alert(
            r#"<Alert><CmdID>2</CmdID><Data>1224</Data><Item><Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/AADUserToken</Type></Meta><Data>eyJ0eXAi.secret</Data></Item></Alert>"#,
        );
        let DeviceAlert::ClientEvent(ev) = &tok else {
            panic!()
        };
        assert_eq!(
            ev[0],
            ClientEvent::AadUserToken(Secret::new("eyJ0eXAi.secret"))
        );
        assert!(!format!("{tok:?}").contains("secret"));
        // Type outside Meta as printed in MS-MDM 3.2.5.1.6.
        let prep = alert(
            r#"<Alert><CmdID>1</CmdID><Data>1224</Data><Item><Meta></Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/DevicePrepSync</Type><Data>PendingProvisioning</Data></Item></Alert>"#,
        );
        assert_eq!(
            prep,
            DeviceAlert::ClientEvent(vec![ClientEvent::DevicePrepSync(
                DevicePrepSync::PendingProvisioning
            )])
        );
        let sync = alert(
            r#"<Alert><CmdID>1</CmdID><Data>1224</Data><Item><Meta><Type>com.microsoft.mdm.synctype</Type></Meta><Data>mixed</Data></Item></Alert>"#,
        );
        assert_eq!(
            sync,
            DeviceAlert::ClientEvent(vec![ClientEvent::SyncType(SyncType::Mixed)])
        );
        let unk = alert("<Alert><CmdID>1</CmdID><Data>1100</Data></Alert>");
        assert!(matches!(unk, DeviceAlert::Unknown(a) if a.code() == Some(AlertCode::DISPLAY)));
    }

    #[test]
    fn decodes_generic_alerts_with_source_and_mark() {
        let a = alert(
            r#"<Alert><CmdID>4</CmdID><Data>1226</Data><Item><Source><LocURI>./User/Vendor/MSFT/EnterpriseModernAppManagement/AppInstallation/PFN/HostedInstall</LocURI></Source><Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.EnterpriseHostedAppInstall.result</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">critical</Mark></Meta><Data>0x80070005</Data></Item></Alert>"#,
        );
        let DeviceAlert::Generic(g) = a else { panic!() };
        assert_eq!(g[0].kind, GenericKind::HostedAppInstallResult);
        assert_eq!(
            g[0].source.as_deref(),
            Some(
                "./User/Vendor/MSFT/EnterpriseModernAppManagement/AppInstallation/PFN/HostedInstall"
            )
        );
        assert_eq!(g[0].mark, Some(Mark::Critical));
        assert_eq!(g[0].result(), Some(0x8007_0005));
        let msi = alert(
            r#"<Alert><CmdID>4</CmdID><Data>1224</Data><Item><Source><LocURI>./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7BAF%7D/DownloadInstall</LocURI></Source><Meta><Type xmlns="syncml:metinf">Reversed-Domain-Name:com.microsoft.mdm.win32csp_install</Type><Format xmlns="syncml:metinf">int</Format><Mark xmlns="syncml:metinf">informational</Mark></Meta><Data>0</Data></Item></Alert>"#,
        );
        let DeviceAlert::ClientEvent(ev) = msi else {
            panic!()
        };
        let ClientEvent::Result(r) = &ev[0] else {
            panic!()
        };
        assert_eq!(
            (r.kind.clone(), r.mark.clone(), r.result()),
            (
                GenericKind::MsiInstallResult,
                Some(Mark::Informational),
                Some(0)
            )
        );
        let other = alert(
            r#"<Alert><CmdID>4</CmdID><Data>1226</Data><Item><Meta><Type>x.y</Type></Meta><Data>z</Data></Item></Alert>"#,
        );
        let DeviceAlert::Generic(g) = other else {
            panic!()
        };
        assert_eq!(g[0].kind, GenericKind::Other("x.y".into()));
        assert_eq!(g[0].result(), None);
    }
}
