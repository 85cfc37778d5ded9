//! Deterministic SyncML inputs for the benchmarks.
//!
//! Every generator returns the same bytes on every call, on every machine: the text is fixed,
//! and the only variation (hex identifiers, sizes, version numbers) comes from a tiny
//! xorshift generator with a fixed seed ([`Xorshift`]), written inline so that no RNG crate
//! can change the inputs under us.
//!
//! | generator | size | shape |
//! | --- | --- | --- |
//! | [`small_checkin`] | ~2 KB | a device's package 1 (Alert 1201, Alert 1224, Replace of `DevInfo`), shaped like `crates/syncml/tests/data/fleet/real/07-device-syncml-session1.xml` |
//! | [`server_package`] | ~15 KB | a server's package 2: 40 commands (Status, Get, Replace, an `Atomic`, Add, Exec, Delete) with an entity-escaped WLAN profile and CDATA ADMX payloads |
//! | [`large_results`] | ~1.4 MB | a device's reply to 6 inventory `Get`s: 6 `Results` holding 6000 `Item`s in all |
//! | [`admx_package`] | ~15 KB | a server's package 2 as MDM products send policy: 26 ADMX-backed `Replace`s whose `Data` is entity-escaped XML (2 with CDATA instead), a few `Status`/`Get` |
//! | [`admx_package_large`] | ~700 KB | the same shape at scale: 1,350 escaped ADMX `Replace`s and 100 CDATA ones in one package |
//! | [`status_ack`] | ~330 KB | a device's acknowledgement of 2,000 commands: 2,001 `Status`es, GUID `CmdRef`s as Fleet sends, some failures with `msft:originalerror` |

use std::fmt::Write as _;

/// Number of commands in [`server_package`], nested ones (inside `Atomic`) included.
pub const SERVER_PACKAGE_COMMANDS: usize = 40;
/// Number of `Item`s in [`large_results`].
pub const LARGE_RESULTS_ITEMS: usize = 6000;
/// Number of `Results` commands in [`large_results`].
pub const LARGE_RESULTS_COMMANDS: usize = 6;

/// The device identifier used by every input.
pub const DEVICE_ID: &str = "B5B954E81FBCB94EB79BD08BE625F4EE";
/// The server URL used by every input.
pub const SERVER_URL: &str = "https://mdm.example.com/ManagementServer/MDM.svc";

/// A named benchmark input.
#[derive(Debug, Clone)]
pub struct Input {
    /// Short name used in bench ids and tables (`small_checkin`, ...).
    pub name: &'static str,
    /// The message, UTF-8 XML.
    pub xml: String,
}

/// Escaped ADMX `Replace`s in [`admx_package`].
pub const ADMX_PACKAGE_ESCAPED: usize = 24;
/// CDATA ADMX `Replace`s in [`admx_package`].
pub const ADMX_PACKAGE_CDATA: usize = 2;
/// Escaped ADMX `Replace`s in [`admx_package_large`].
pub const ADMX_LARGE_ESCAPED: usize = 1350;
/// CDATA ADMX `Replace`s in [`admx_package_large`].
pub const ADMX_LARGE_CDATA: usize = 100;
/// `Status`es in [`status_ack`] (the header's included).
pub const STATUS_ACK_STATUSES: usize = 2001;

/// Every input: the original three (smallest first), then the shapes of real Windows
/// server traffic (issue 12).
pub fn all() -> Vec<Input> {
    vec![
        Input {
            name: "small_checkin",
            xml: small_checkin(),
        },
        Input {
            name: "server_package",
            xml: server_package(),
        },
        Input {
            name: "large_results",
            xml: large_results(),
        },
        Input {
            name: "admx_package",
            xml: admx_package(),
        },
        Input {
            name: "admx_package_large",
            xml: admx_package_large(),
        },
        Input {
            name: "status_ack",
            xml: status_ack(),
        },
    ]
}

/// A xorshift64 generator with a fixed seed: deterministic filler for identifiers.
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator started from `seed` (a zero seed is replaced by a fixed non-zero one).
    pub fn new(seed: u64) -> Self {
        Xorshift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `n` upper-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let _ = write!(s, "{:016X}", self.next_u64());
        }
        s.truncate(n);
        s
    }

    /// A GUID in registry form (`8-4-4-4-12` upper-case hex digits).
    pub fn guid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

fn hdr(out: &mut String, msg_id: u32, target: &str, source: &str, max_msg_size: bool) {
    out.push_str("  <SyncHdr>\n    <VerDTD>1.2</VerDTD>\n    <VerProto>DM/1.2</VerProto>\n");
    out.push_str("    <SessionID>1A</SessionID>\n");
    let _ = writeln!(out, "    <MsgID>{msg_id}</MsgID>");
    let _ = writeln!(
        out,
        "    <Target>\n      <LocURI>{target}</LocURI>\n    </Target>"
    );
    let _ = writeln!(
        out,
        "    <Source>\n      <LocURI>{source}</LocURI>\n    </Source>"
    );
    if max_msg_size {
        out.push_str(
            "    <Meta>\n      <MaxMsgSize xmlns=\"syncml:metinf\">4194304</MaxMsgSize>\n    </Meta>\n",
        );
    }
    out.push_str("  </SyncHdr>\n");
}

fn status(out: &mut String, cmd_id: u32, msg_ref: u32, cmd_ref: u32, cmd: &str, code: u16) {
    let _ = writeln!(
        out,
        "    <Status>\n      <CmdID>{cmd_id}</CmdID>\n      <MsgRef>{msg_ref}</MsgRef>\n      \
         <CmdRef>{cmd_ref}</CmdRef>\n      <Cmd>{cmd}</Cmd>\n      <Data>{code}</Data>\n    </Status>"
    );
}

/// A device's first message of a session (package 1): `Alert` 1201 (client-initiated
/// session), `Alert` 1224 with the login status, and a `Replace` of the `DevInfo` nodes plus a
/// few `DMClient`/`DevDetail` values. About 2 KB, 3 commands, 8 items, no escapes.
pub fn small_checkin() -> String {
    let mut rng = Xorshift::new(7);
    let mut out = String::with_capacity(2400);
    out.push_str("<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n");
    hdr(&mut out, 1, SERVER_URL, DEVICE_ID, true);
    out.push_str("  <SyncBody>\n");
    out.push_str("    <Alert>\n      <CmdID>2</CmdID>\n      <Data>1201</Data>\n    </Alert>\n");
    out.push_str(
        "    <Alert>\n      <CmdID>3</CmdID>\n      <Data>1224</Data>\n      <Item>\n        \
         <Meta>\n          <Type xmlns=\"syncml:metinf\">com.microsoft/MDM/LoginStatus</Type>\n        \
         </Meta>\n        <Data>user</Data>\n      </Item>\n    </Alert>\n",
    );
    out.push_str("    <Replace>\n      <CmdID>4</CmdID>\n");
    let hw_dev_id = rng.hex(64);
    let items: [(&str, &str); 8] = [
        ("./DevInfo/DevId", DEVICE_ID),
        ("./DevInfo/Man", "VMware, Inc."),
        ("./DevInfo/Mod", "VMware7,1"),
        ("./DevInfo/DmV", "1.3"),
        ("./DevInfo/Lang", "en-US"),
        ("./Vendor/MSFT/DMClient/HWDevID", &hw_dev_id),
        ("./Vendor/MSFT/DeviceStatus/OS/Edition", "4"),
        ("./DevDetail/SwV", "10.0.19045.3803"),
    ];
    for (uri, value) in items {
        let _ = writeln!(
            out,
            "      <Item>\n        <Source>\n          <LocURI>{uri}</LocURI>\n        </Source>\n        \
             <Data>{value}</Data>\n      </Item>"
        );
    }
    out.push_str("    </Replace>\n    <Final/>\n  </SyncBody>\n</SyncML>\n");
    out
}

const WLAN_PROFILE: &str = concat!(
    r#"<?xml version="1.0"?><WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1">"#,
    "<name>Corp-WiFi</name><SSIDConfig><SSID><name>Corp-WiFi</name></SSID><nonBroadcast>false</nonBroadcast></SSIDConfig>",
    "<connectionType>ESS</connectionType><connectionMode>auto</connectionMode><MSM><security><authEncryption>",
    "<authentication>WPA2</authentication><encryption>AES</encryption><useOneX>true</useOneX></authEncryption>",
    r#"<OneX xmlns="http://www.microsoft.com/networking/OneX/v1"><authMode>user</authMode><EAPConfig>"#,
    r#"<EapHostConfig xmlns="http://www.microsoft.com/provisioning/EapHostConfig"><EapMethod>"#,
    r#"<Type xmlns="http://www.microsoft.com/provisioning/EapCommon">25</Type>"#,
    r#"<VendorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorId>"#,
    r#"<VendorType xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorType>"#,
    r#"<AuthorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</AuthorId></EapMethod>"#,
    r#"<Config xmlns="http://www.microsoft.com/provisioning/EapHostConfig">"#,
    r#"<Eap xmlns="http://www.microsoft.com/provisioning/BaseEapConnectionPropertiesV1"><Type>25</Type>"#,
    r#"<EapType xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV1"><ServerValidation>"#,
    "<DisableUserPromptForServerValidation>true</DisableUserPromptForServerValidation>",
    "<ServerNames>radius.corp.example.com</ServerNames><TrustedRootCA>",
    "3f 85 49 4d d6 1b 2c 0a 9e 71 5c 0f 3e 8d 55 20 c4 0a 6a 2b</TrustedRootCA></ServerValidation>",
    "<FastReconnect>true</FastReconnect><InnerEapOptional>false</InnerEapOptional>",
    r#"<Eap xmlns="http://www.microsoft.com/provisioning/BaseEapConnectionPropertiesV1"><Type>26</Type>"#,
    r#"<EapType xmlns="http://www.microsoft.com/provisioning/MsChapV2ConnectionPropertiesV1">"#,
    "<UseWinLogonCredentials>true</UseWinLogonCredentials></EapType></Eap>",
    "<EnableQuarantineChecks>false</EnableQuarantineChecks><RequireCryptoBinding>false</RequireCryptoBinding>",
    "<PeapExtensions>",
    r#"<PerformServerValidation xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true</PerformServerValidation>"#,
    r#"<AcceptServerName xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true</AcceptServerName>"#,
    "</PeapExtensions></EapType></Eap></Config></EapHostConfig></EAPConfig></OneX></security></MSM></WLANProfile>",
);

/// `s` with `&`, `<`, `>` and `"` written as entity references, as Windows MDM servers send
/// embedded XML documents inside `Data`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 5 / 4);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The WLAN profile embedded (escaped) in [`server_package`], unescaped.
pub fn wlan_profile() -> &'static str {
    WLAN_PROFILE
}

fn item_command(
    out: &mut String,
    indent: &str,
    kind: &str,
    cmd_id: u32,
    uri: &str,
    meta: Option<(&str, Option<&str>)>,
    data: Option<&str>,
) {
    let _ = writeln!(out, "{indent}<{kind}>\n{indent}  <CmdID>{cmd_id}</CmdID>");
    let _ = writeln!(
        out,
        "{indent}  <Item>\n{indent}    <Target>\n{indent}      <LocURI>{uri}</LocURI>\n{indent}    </Target>"
    );
    if let Some((format, ty)) = meta {
        let _ = writeln!(
            out,
            "{indent}    <Meta>\n{indent}      <Format xmlns=\"syncml:metinf\">{format}</Format>"
        );
        if let Some(ty) = ty {
            let _ = writeln!(
                out,
                "{indent}      <Type xmlns=\"syncml:metinf\">{ty}</Type>"
            );
        }
        let _ = writeln!(out, "{indent}    </Meta>");
    }
    if let Some(data) = data {
        let _ = writeln!(out, "{indent}    <Data>{data}</Data>");
    }
    let _ = writeln!(out, "{indent}  </Item>\n{indent}</{kind}>");
}

const GETS: [&str; 12] = [
    "./DevDetail/SwV",
    "./DevDetail/HwV",
    "./DevDetail/Ext/Microsoft/OSPlatform",
    "./DevDetail/Ext/Microsoft/DeviceName",
    "./DevDetail/Ext/Microsoft/TotalStorage",
    "./DevDetail/Ext/Microsoft/TotalRAM",
    "./DevDetail/Ext/Microsoft/SMBIOSSerialNumber",
    "./Vendor/MSFT/DeviceStatus/OS/Edition",
    "./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance",
    "./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion",
    "./Vendor/MSFT/DeviceStatus/Antivirus/Status",
    "./Vendor/MSFT/DeviceStatus/Firewall/Status",
];

const POLICIES: [(&str, u32); 10] = [
    ("Camera/AllowCamera", 0),
    ("Bluetooth/AllowDiscoverableMode", 0),
    ("DeviceLock/DevicePasswordEnabled", 0),
    ("DeviceLock/MinDevicePasswordLength", 12),
    ("DeviceLock/MaxInactivityTimeDeviceLock", 15),
    ("Update/ActiveHoursStart", 8),
    ("Update/ActiveHoursEnd", 18),
    ("Defender/AllowRealtimeMonitoring", 1),
    ("Experience/AllowCortana", 0),
    ("System/AllowTelemetry", 1),
];

/// The CDATA ADMX payloads of [`server_package`]: (policy, payload).
const ADMX: [(&str, &str); 3] = [
    (
        "AppVirtualization/PublishingAllowServer2",
        concat!(
            r#"<enabled/><data id="Publishing_Server2_Name_Prompt" value="Corp AppV"/>"#,
            r#"<data id="Publishing_Server_URL_Prompt" value="https://appv.corp.example.com:443/"/>"#,
            r#"<data id="Global_Publishing_Refresh_Options" value="1"/><data id="Global_Refresh_OnLogon_Options" value="0"/>"#,
            r#"<data id="Global_Refresh_Interval_Prompt" value="15"/><data id="Global_Refresh_Unit_Options" value="0"/>"#,
            r#"<data id="User_Publishing_Refresh_Options" value="0"/><data id="User_Refresh_OnLogon_Options" value="0"/>"#,
            r#"<data id="User_Refresh_Interval_Prompt" value="15"/><data id="User_Refresh_Unit_Options" value="1"/>"#,
        ),
    ),
    (
        "ADMX_TerminalServer/TS_SERVER_AUTH",
        r#"<enabled/><data id="TS_SECURITY_LAYER_LIST" value="2"/><data id="TS_ENCRYPTION_LEVEL" value="3"/>"#,
    ),
    (
        "ADMX_DnsClient/DNS_SuffixSearchList",
        concat!(
            r#"<enabled/><data id="DNS_SuffixSearchListLabel" value="corp.example.com,"#,
            "hq.corp.example.com,eu.corp.example.com,us.corp.example.com,apac.corp.example.com,",
            "lab.corp.example.com,dev.corp.example.com,test.corp.example.com,build.corp.example.com,",
            "print.corp.example.com,voice.corp.example.com,vpn.corp.example.com,dmz.corp.example.com,",
            "mgmt.corp.example.com,backup.corp.example.com,storage.corp.example.com,",
            "legacy.contoso.local,branch01.contoso.local,branch02.contoso.local,branch03.contoso.local,",
            "branch04.contoso.local,branch05.contoso.local,branch06.contoso.local,branch07.contoso.local,",
            "branch08.contoso.local,branch09.contoso.local,branch10.contoso.local,branch11.contoso.local,",
            "branch12.contoso.local,branch13.contoso.local,branch14.contoso.local,branch15.contoso.local,",
            "partner.fabrikam.com,extranet.fabrikam.com,sso.fabrikam.com,",
            r#"ad.fabrikam.com"/>"#,
        ),
    ),
];

/// A server's reply to a check-in (package 2): 4 `Status`es, 12 `Get`s, 10 policy `Replace`s,
/// 3 ADMX-backed `Replace`s with CDATA payloads, an `Atomic` holding an `Add` of an
/// entity-escaped WLAN profile and 2 `Replace`s, 3 `Add`s, 2 `Exec`s and 2 `Delete`s: 40
/// commands ([`SERVER_PACKAGE_COMMANDS`]), about 15 KB.
pub fn server_package() -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n",
    );
    hdr(&mut out, 1, DEVICE_ID, SERVER_URL, false);
    out.push_str("  <SyncBody xmlns:msft=\"http://schemas.microsoft.com/MobileDevice/MDM\">\n");
    let mut id = 1u32;
    let mut next = || {
        let i = id;
        id += 1;
        i
    };
    status(&mut out, next(), 1, 0, "SyncHdr", 200);
    status(&mut out, next(), 1, 2, "Alert", 200);
    status(&mut out, next(), 1, 3, "Alert", 200);
    status(&mut out, next(), 1, 4, "Replace", 200);
    for uri in GETS {
        item_command(&mut out, "    ", "Get", next(), uri, None, None);
    }
    for (policy, value) in POLICIES {
        let uri = format!("./Device/Vendor/MSFT/Policy/Config/{policy}");
        let v = value.to_string();
        item_command(
            &mut out,
            "    ",
            "Replace",
            next(),
            &uri,
            Some(("int", None)),
            Some(&v),
        );
    }
    for (policy, payload) in ADMX {
        let uri = format!("./Device/Vendor/MSFT/Policy/Config/{policy}");
        let data = format!("<![CDATA[{payload}]]>");
        item_command(
            &mut out,
            "    ",
            "Replace",
            next(),
            &uri,
            Some(("chr", Some("text/plain"))),
            Some(&data),
        );
    }
    let _ = writeln!(out, "    <Atomic>\n      <CmdID>{}</CmdID>", next());
    item_command(
        &mut out,
        "      ",
        "Add",
        next(),
        "./Vendor/MSFT/WiFi/Profile/Corp-WiFi/WlanXml",
        Some(("chr", None)),
        Some(&escape(WLAN_PROFILE)),
    );
    item_command(
        &mut out,
        "      ",
        "Replace",
        next(),
        "./Vendor/MSFT/WiFi/Profile/Corp-WiFi/ProxyPacUrl",
        Some(("chr", None)),
        Some("https://proxy.corp.example.com/proxy.pac?site=hq&amp;v=3"),
    );
    item_command(
        &mut out,
        "      ",
        "Replace",
        next(),
        "./Vendor/MSFT/WiFi/Profile/Corp-WiFi/WiFiCost",
        Some(("int", None)),
        Some("1"),
    );
    out.push_str("    </Atomic>\n");
    let adds: [(&str, &str, &str); 3] = [
        (
            "./Vendor/MSFT/DMClient/Provider/MDMServer/EntDeviceName",
            "chr",
            "CORP-LT-0042",
        ),
        (
            "./Vendor/MSFT/DMClient/Provider/MDMServer/Poll/IntervalForFirstSetOfRetries",
            "int",
            "3",
        ),
        (
            "./Vendor/MSFT/DMClient/Provider/MDMServer/Poll/NumberOfFirstRetries",
            "int",
            "5",
        ),
    ];
    for (uri, format, data) in adds {
        item_command(
            &mut out,
            "    ",
            "Add",
            next(),
            uri,
            Some((format, None)),
            Some(data),
        );
    }
    item_command(
        &mut out,
        "    ",
        "Exec",
        next(),
        "./Device/Vendor/MSFT/Defender/Scan",
        Some(("int", None)),
        Some("1"),
    );
    item_command(
        &mut out,
        "    ",
        "Exec",
        next(),
        "./Device/Vendor/MSFT/Defender/UpdateSignature",
        None,
        None,
    );
    for policy in ["Camera/AllowCameraLegacy", "Browser/AllowPasswordManager"] {
        let uri = format!("./Device/Vendor/MSFT/Policy/Config/{policy}");
        item_command(&mut out, "    ", "Delete", next(), &uri, None, None);
    }
    out.push_str("    <Final/>\n  </SyncBody>\n</SyncML>\n");
    out
}

const APP_NAMES: [&str; 8] = [
    "Microsoft.WindowsCalculator",
    "Microsoft.WindowsTerminal",
    "Microsoft.Paint",
    "Contoso.LineOfBusiness",
    "Microsoft.Office.OneNote",
    "Fabrikam.Expenses",
    "Microsoft.ScreenSketch",
    "Microsoft.WindowsNotepad",
];

const APP_LEAVES: [&str; 5] = [
    "Name",
    "Version",
    "Publisher",
    "InstallDate",
    "Architecture",
];

/// A device's reply to six inventory `Get`s (`EnterpriseModernAppManagement` app inventory):
/// a `Status` for the header and for each `Get`, then 6 `Results` ([`LARGE_RESULTS_COMMANDS`])
/// with 1000 `Item`s each, 6000 in all ([`LARGE_RESULTS_ITEMS`]), about 1.4 MB. One value in
/// 16 holds an entity reference (`R&amp;D`), the rest is plain text.
pub fn large_results() -> String {
    let mut rng = Xorshift::new(0x5EED_CAFE);
    let mut out = String::with_capacity(1_500_000);
    out.push_str("<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n");
    hdr(&mut out, 2, SERVER_URL, DEVICE_ID, false);
    out.push_str("  <SyncBody>\n");
    status(&mut out, 1, 1, 0, "SyncHdr", 200);
    let per = LARGE_RESULTS_ITEMS / LARGE_RESULTS_COMMANDS;
    let mut cmd_id = 2u32;
    for g in 0..LARGE_RESULTS_COMMANDS as u32 {
        status(&mut out, cmd_id, 1, 2 + g, "Get", 200);
        cmd_id += 1;
    }
    let mut n = 0usize;
    for g in 0..LARGE_RESULTS_COMMANDS as u32 {
        let _ = writeln!(
            out,
            "    <Results>\n      <CmdID>{cmd_id}</CmdID>\n      <MsgRef>1</MsgRef>\n      \
             <CmdRef>{}</CmdRef>\n      <Cmd>Get</Cmd>",
            2 + g
        );
        cmd_id += 1;
        for _ in 0..per {
            let app = APP_NAMES[(n / APP_LEAVES.len()) % APP_NAMES.len()];
            let leaf = APP_LEAVES[n % APP_LEAVES.len()];
            let pkg = n / APP_LEAVES.len();
            let value = match leaf {
                "Name" if n.is_multiple_of(16) => format!("{app} R&amp;D Preview {pkg}"),
                "Name" => format!("{app} {pkg}"),
                "Version" => format!(
                    "{}.{}.{}.0",
                    1 + rng.below(30),
                    rng.below(3000),
                    rng.below(60000)
                ),
                "Publisher" => format!("CN={}", rng.guid()),
                "InstallDate" => format!(
                    "2026-{:02}-{:02}T{:02}:{:02}:00Z",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60)
                ),
                _ => ["x64", "neutral", "arm64"][rng.below(3) as usize].to_string(),
            };
            if n.is_multiple_of(16) && leaf != "Name" {
                // Keep one escape in 16 items whatever the leaf.
                let _ = write!(
                    out,
                    "      <Item>\n        <Source>\n          <LocURI>./Device/Vendor/MSFT/EnterpriseModernAppManagement/AppInventoryResults/{app}_{pkg}/{leaf}</LocURI>\n        </Source>\n        <Data>{value} &amp; more</Data>\n      </Item>\n"
                );
            } else {
                let _ = write!(
                    out,
                    "      <Item>\n        <Source>\n          <LocURI>./Device/Vendor/MSFT/EnterpriseModernAppManagement/AppInventoryResults/{app}_{pkg}/{leaf}</LocURI>\n        </Source>\n        <Data>{value}</Data>\n      </Item>\n"
                );
            }
            n += 1;
        }
        out.push_str("    </Results>\n");
    }
    out.push_str("    <Final/>\n  </SyncBody>\n</SyncML>\n");
    out
}

/// ADMX-backed policies (area/policy) and the `<data>` element ids of their presentation,
/// as in Microsoft's ADMX ingestion examples; values are filled in by the generator.
const ADMX_POLICIES: [(&str, &[&str]); 10] = [
    (
        "WindowsPowerShell/TurnOnPowerShellScriptBlockLogging",
        &["ExecutionPolicy"],
    ),
    (
        "AppVirtualization/PublishingAllowServer2",
        &[
            "Publishing_Server2_Name_Prompt",
            "Publishing_Server_URL_Prompt",
            "Global_Publishing_Refresh_Options",
            "Global_Refresh_OnLogon_Options",
        ],
    ),
    ("RemoteDesktopServices/AllowUsersToConnectRemotely", &[]),
    (
        "ADMX_DnsClient/Turn_Off_Multicast",
        &["DNS_MulticastEnabled"],
    ),
    (
        "ADMX_Power/DiskACPowerDownTimeOut_2",
        &["EnterDiskACPowerDownTimeOut"],
    ),
    (
        "InternetExplorer/AllowSiteToZoneAssignmentList",
        &["IZ_ZonemapPrompt"],
    ),
    (
        "ADMX_EventLog/Channel_Log_Retention_1",
        &["Channel_LogMaxSize", "Channel_Log_Retention"],
    ),
    ("ADMX_TerminalServer/TS_CLIENT_CLIPBOARD", &[]),
    (
        "Printers/PointAndPrintRestrictions",
        &[
            "PointAndPrint_TrustedServers_Chk",
            "PointAndPrint_TrustedServers_Edit",
            "PointAndPrint_TrustedForest_Chk",
            "PointAndPrint_NoWarningNoElevationOnInstall_Enum",
            "PointAndPrint_NoWarningNoElevationOnUpdate_Enum",
        ],
    ),
    (
        "ADMX_WindowsDefender/Scan_ScheduleTime",
        &["Scan_ScheduleTime"],
    ),
];

/// One ADMX policy value as XML: `<enabled/>` (or `<disabled/>`) and its `<data>` elements.
fn admx_value(rng: &mut Xorshift, ids: &[&str]) -> String {
    let mut v = String::new();
    if ids.is_empty() && rng.below(4) == 0 {
        v.push_str("<disabled/>");
        return v;
    }
    v.push_str("<enabled/>");
    for id in ids {
        let value = match rng.below(4) {
            0 => format!("{}", rng.below(100_000)),
            1 => "AllSigned".to_string(),
            2 => format!("https://appv{}.corp.example.com:443/pub", rng.below(50)),
            _ => format!(
                "srv{}.corp.example.com;srv{}.corp.example.com",
                rng.below(9),
                rng.below(9)
            ),
        };
        let _ = write!(v, "<data id=\"{id}\" value=\"{value}\"/>");
    }
    v
}

/// A server's package 2 carrying policy: `escaped` ADMX-backed `Replace`s whose `Data` is
/// the entity-escaped value (`&lt;enabled/&gt;&lt;data id=&quot;..&quot; .../&gt;`, as
/// MDM servers send them), `cdata` more with the value in a CDATA section, each with
/// `Meta/Format chr`, after 4 `Status`es and 4 `Get`s; a `Final`.
fn admx(seed: u64, escaped: usize, cdata: usize) -> String {
    let mut rng = Xorshift::new(seed);
    let mut out = String::with_capacity(escaped * 360 + cdata * 360 + 4096);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n",
    );
    hdr(&mut out, 1, DEVICE_ID, SERVER_URL, false);
    out.push_str("  <SyncBody xmlns:msft=\"http://schemas.microsoft.com/MobileDevice/MDM\">\n");
    status(&mut out, 1, 1, 0, "SyncHdr", 200);
    status(&mut out, 2, 1, 2, "Alert", 200);
    status(&mut out, 3, 1, 3, "Alert", 200);
    status(&mut out, 4, 1, 4, "Replace", 200);
    let mut id = 5u32;
    for uri in &GETS[..4] {
        item_command(&mut out, "    ", "Get", id, uri, None, None);
        id += 1;
    }
    for n in 0..escaped + cdata {
        let (policy, ids) = ADMX_POLICIES[n % ADMX_POLICIES.len()];
        let uri = format!("./Device/Vendor/MSFT/Policy/Config/{policy}");
        let value = admx_value(&mut rng, ids);
        let data = if n < escaped {
            escape(&value)
        } else {
            format!("<![CDATA[{value}]]>")
        };
        item_command(
            &mut out,
            "    ",
            "Replace",
            id,
            &uri,
            Some(("chr", None)),
            Some(&data),
        );
        id += 1;
    }
    out.push_str("    <Final/>\n  </SyncBody>\n</SyncML>\n");
    out
}

/// A typical server package with ADMX policy, about 15 KB: [`ADMX_PACKAGE_ESCAPED`]
/// escaped and [`ADMX_PACKAGE_CDATA`] CDATA `Replace`s (see `admx`).
pub fn admx_package() -> String {
    admx(0xAD3C, ADMX_PACKAGE_ESCAPED, ADMX_PACKAGE_CDATA)
}

/// A large server package with ADMX policy, about 700 KB: [`ADMX_LARGE_ESCAPED`] escaped
/// and [`ADMX_LARGE_CDATA`] CDATA `Replace`s.
pub fn admx_package_large() -> String {
    admx(0xAD3D, ADMX_LARGE_ESCAPED, ADMX_LARGE_CDATA)
}

/// A device's acknowledgement of 2,000 commands: the header's `Status` and 2,000 more
/// ([`STATUS_ACK_STATUSES`] in all), each with a GUID `CmdRef` (the command ids Fleet
/// sends), `Cmd` `Replace`/`Add`/`Exec`/`Get`/`Delete`; one in 25 fails (404, 405, 500) and
/// one in 50 carries `msft:originalerror` on its `Data`, as Windows reports failures.
pub fn status_ack() -> String {
    let mut rng = Xorshift::new(0x5747);
    let mut out = String::with_capacity(340_000);
    out.push_str("<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n");
    hdr(&mut out, 2, SERVER_URL, DEVICE_ID, false);
    out.push_str("  <SyncBody xmlns:msft=\"http://schemas.microsoft.com/MobileDevice/MDM\">\n");
    status(&mut out, 1, 1, 0, "SyncHdr", 200);
    const CMDS: [&str; 5] = ["Replace", "Add", "Exec", "Get", "Delete"];
    for n in 0..STATUS_ACK_STATUSES - 1 {
        let cmd = CMDS[n % CMDS.len()];
        let guid = rng.guid().to_ascii_lowercase();
        let code = match n % 25 {
            7 => 404,
            13 => 405,
            19 => 500,
            _ => 200,
        };
        let data = if n % 50 == 13 {
            format!(
                "<Data msft:originalerror=\"0x{:08X}\">{code}</Data>",
                0x8007_0000u32 + rng.below(0x1000) as u32
            )
        } else {
            format!("<Data>{code}</Data>")
        };
        let _ = writeln!(
            out,
            "    <Status>\n      <CmdID>{}</CmdID>\n      <MsgRef>1</MsgRef>\n      \
             <CmdRef>{guid}</CmdRef>\n      <Cmd>{cmd}</Cmd>\n      {data}\n    </Status>",
            n + 2
        );
    }
    out.push_str("    <Final/>\n  </SyncBody>\n</SyncML>\n");
    out
}
