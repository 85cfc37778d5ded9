//! The full OMA-DM session scenario of `benches/session.rs` and `bin/session-report.rs`:
//! a server engine ([`winmdm_omadm::server::ServerSession`]) with a queue of [`COMMANDS`] typical
//! policy commands plus one large object, driven against the device engine
//! ([`winmdm_omadm::device::DeviceSession`]) and a pre-populated [`MemoryTree`], from package 1
//! to the end of the session, in memory.
//!
//! Three ways to run it, measured side by side:
//!
//! - [`Mode::Wire`]: the engines plus the codec, as a product runs them: every message is
//!   encoded to bytes by its sender ([`winmdm_syncml::SyncML::encode`]) and decoded by its
//!   receiver ([`winmdm_syncml::decode`]);
//! - [`Mode::Engines`]: the engines alone, each side handing the other its message struct;
//! - [`codec_pass`]: plain `decode` + `encode` of the bytes of every message of one
//!   session (captured with [`Mode::Wire`]), no engine.
//!
//! [`Scenario::run_snapshots`] runs the same session with both engines saved to JSON and
//! restored after every message ([`SnapshotStats`]); [`in_flight_snapshot`] measures the
//! server snapshot right after a response carrying [`five_typical_commands`].
//!
//! Everything is deterministic: fixed commands, fixed tree, fixed clock steps.
//!
//! # Example
//!
//! ```
//! use winmdm_benches::session::{Mode, Scenario, codec_pass};
//!
//! // A smaller large object than the benchmark's 1 MiB, for a quick run.
//! let scenario = Scenario { large_object_bytes: 100_000, ..Scenario::STANDARD };
//! let mut wire = Vec::new();
//! let run = scenario.run(Mode::Wire, Some(&mut wire))?;
//! assert_eq!(run.outcomes.len(), scenario.queued());
//! assert!(run.outcomes.iter().all(|o| o.is_success()));
//! assert!(wire.iter().all(|m| m.bytes.len() as u64 <= scenario.max_msg_size));
//! assert_eq!(codec_pass(&wire)?, wire.iter().map(|m| m.bytes.len()).sum::<usize>());
//! # Ok::<(), winmdm_benches::session::RunError>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use winmdm_omadm::device::{DeviceConfig, DeviceSession};
use winmdm_omadm::server::{CommandQueue, DeviceEvent, Queued, ServerConfig, ServerSession};
use winmdm_omadm::snapshot::{DeviceSnapshot, ServerSnapshot, SnapshotError};
use winmdm_omadm::tree::{MemoryTree, Node};
use winmdm_omadm::{DmCommand, LocUri, Outcome, SessionError, Value};
use winmdm_syncml::SyncML;

/// Queued commands besides the large object: 13 Get, 17 Replace, 9 Add, 4 Exec, 6 Delete
/// and one Atomic (3 children).
pub const COMMANDS: usize = 50;

/// Size of the large object in the benchmark: 1 MiB of ADMX text (unescaped).
pub const LARGE_OBJECT_BYTES: usize = 1 << 20;

/// `MaxMsgSize` both sides declare in the benchmark: 64 KiB.
pub const MAX_MSG_SIZE: u64 = 64 * 1024;

/// Where the large object goes (an ADMX ingestion, the usual large payload of a Windows
/// MDM server).
pub const LARGE_URI: &str =
    "./Device/Vendor/MSFT/Policy/ConfigOperations/ADMXInstall/Contoso/Policy/ContosoAdmx";

/// The server's URI.
pub const SERVER_URI: &str = "https://mdm.example.com/omadm/windows";

/// The device's ID (`./DevInfo/DevId`).
pub const DEVICE_ID: &str = "6F4A21C0B9D34E8C9A52E1D07C3B8F15";

/// Position of the large object in the queue (commands before and after it).
const LARGE_AT: usize = 25;

const GET_URIS: [&str; 13] = [
    "./DevDetail/SwV",
    "./DevDetail/Ext/Microsoft/OSPlatform",
    "./DevDetail/Ext/Microsoft/DeviceName",
    "./DevDetail/Ext/Microsoft/TotalRAM",
    "./DevDetail/Ext/Microsoft/SMBIOSSerialNumber",
    "./DevDetail/HwV",
    "./DevInfo/DmV",
    "./Vendor/MSFT/DeviceStatus/OS/Edition",
    "./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance",
    "./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion",
    "./Vendor/MSFT/DeviceStatus/DeviceGuard/VirtualizationBasedSecurityStatus",
    "./Device/Vendor/MSFT/Policy/Result/Update/AllowAutoUpdate",
    "./Vendor/MSFT/NodeCache/MDMSyncML/Nodes/1/ExpectedValue",
];

const REPLACE_INT: [(&str, i64); 12] = [
    (
        "./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled",
        0,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MinDevicePasswordLength",
        12,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock",
        15,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordHistory",
        24,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Update/AllowAutoUpdate",
        1,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
        8,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd",
        18,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring",
        1,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Defender/AllowCloudProtection",
        1,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Defender/SubmitSamplesConsent",
        1,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana",
        0,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Browser/AllowPasswordManager",
        0,
    ),
];

/// ADMX-backed policies: `chr` values holding markup (escaped on the wire).
const REPLACE_ADMX: [(&str, &str); 5] = [
    (
        "./Device/Vendor/MSFT/Policy/Config/ADMX_Power/DCStandbyTimeOut",
        r#"<enabled/><data id="EnterDCStandbyTimeOut" value="900"/>"#,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/ADMX_Power/ACStandbyTimeOut",
        r#"<enabled/><data id="EnterACStandbyTimeOut" value="3600"/>"#,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/ADMX_TerminalServer/TS_SESSIONS_Idle_Limit_2",
        r#"<enabled/><data id="TS_SESSIONS_IdleLimitText" value="900000"/>"#,
    ),
    (
        "./User/Vendor/MSFT/Policy/Config/ADMX_ControlPanelDisplay/CPL_Personalization_SetScreenSaver",
        r#"<enabled/><data id="ScreenSaverFilename" value="scrnsave.scr"/>"#,
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/ADMX_Kerberos/hosttorealm",
        r#"<enabled/><data id="hosttorealm" value="CONTOSO.COM&#xF000;.contoso.com;.corp.contoso.com"/>"#,
    ),
];

const ADD: [(&str, &str); 8] = [
    (
        "./Device/Vendor/MSFT/Policy/Config/Browser/HomePages",
        "<https://intranet.contoso.com>",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry",
        "1",
    ),
    ("./Device/Vendor/MSFT/Policy/Config/Start/HideShutDown", "1"),
    (
        "./Device/Vendor/MSFT/Policy/Config/Privacy/LetAppsAccessCamera",
        "2",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Power/StandbyTimeoutOnBattery",
        "300",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/WindowsLogon/DontDisplayNetworkSelectionUI",
        "1",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowDiscoverableMode",
        "0",
    ),
    (
        "./Vendor/MSFT/NodeCache/MDMSyncML/Nodes/2/NodeURI",
        "./Device/Vendor/MSFT/Policy/Result/Update/ActiveHoursStart",
    ),
];

const WLAN_URI: &str = "./Vendor/MSFT/WiFi/Profile/Contoso-Corp/WlanXml";

const EXEC_URIS: [(&str, Option<&str>); 4] = [
    ("./Device/Vendor/MSFT/Defender/Scan", Some("1")),
    ("./Device/Vendor/MSFT/Defender/UpdateSignature", None),
    ("./Device/Vendor/MSFT/DeviceStatus/Refresh", None),
    (
        "./Vendor/MSFT/DMClient/Provider/Contoso/Push/ChannelURI/Refresh",
        None,
    ),
];

const DELETE_URIS: [&str; 6] = [
    "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera",
    "./Device/Vendor/MSFT/Policy/Config/Connectivity/AllowUSBConnection",
    "./Device/Vendor/MSFT/Policy/Config/Experience/AllowManualMDMUnenrollment",
    "./Vendor/MSFT/WiFi/Profile/Contoso-Guest",
    "./Device/Vendor/MSFT/Policy/Config/ADMX_Power/PW_PromptPasswordOnResume",
    "./Vendor/MSFT/NodeCache/MDMSyncML/Nodes/7",
];

const ATOMIC: [(&str, &str); 3] = [
    (
        "./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/Accounts_EnableGuestAccountStatus",
        "0",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTitleForUsersAttemptingToLogOn",
        "Contoso",
    ),
    (
        "./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTextForUsersAttemptingToLogOn",
        "Authorized use only. Activity may be monitored & recorded.",
    ),
];

const WLAN_PROFILE: &str = r#"<?xml version="1.0"?><WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1"><name>Contoso-Corp</name><SSIDConfig><SSID><name>Contoso-Corp</name></SSID></SSIDConfig><connectionType>ESS</connectionType><connectionMode>auto</connectionMode><MSM><security><authEncryption><authentication>WPA2</authentication><encryption>AES</encryption><useOneX>true</useOneX></authEncryption><OneX xmlns="http://www.microsoft.com/networking/OneX/v1"><EAPConfig><EapHostConfig xmlns="http://www.microsoft.com/provisioning/EapHostConfig"><EapMethod><Type xmlns="http://www.microsoft.com/provisioning/EapCommon">13</Type><VendorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorId><VendorType xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorType><AuthorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</AuthorId></EapMethod></EapHostConfig></EAPConfig></OneX></security></MSM></WLANProfile>"#;

/// The value a pre-populated node holds before the session (what its Get returns).
pub fn initial_value(uri: &str) -> String {
    format!("value of {}", uri.rsplit('/').next().unwrap_or(uri))
}

/// The deterministic ADMX text of the large object, exactly `len` bytes (ASCII):
/// policy definitions with `<`, `>`, `"` and `&` as real ADMX files have them.
pub fn large_value(len: usize) -> String {
    let mut s = String::with_capacity(len + 512);
    s.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<policyDefinitions revision=\"1.0\" \
         schemaVersion=\"1.0\"><policyNamespaces><target prefix=\"contoso\" \
         namespace=\"Contoso.Policies.App\"/></policyNamespaces><resources \
         minRequiredRevision=\"1.0\"/><categories><category name=\"ContosoApp\"/></categories>\
         <policies>\r\n",
    );
    let mut i = 0u32;
    while s.len() < len {
        s.push_str(&format!(
            "<policy name=\"Setting{i:05}\" class=\"Machine\" displayName=\"$(string.Setting{i:05})\" \
             explainText=\"$(string.Setting{i:05}_Help)\" key=\"Software\\Policies\\Contoso\\App\" \
             valueName=\"Setting{i:05}\"><parentCategory ref=\"ContosoApp\"/><supportedOn \
             ref=\"windows:SUPPORTED_Windows_10_0\"/><elements><decimal id=\"Setting{i:05}_Value\" \
             valueName=\"Value{i:05}\" minValue=\"0\" maxValue=\"{}\"/><text id=\"Setting{i:05}_Text\" \
             valueName=\"Text{i:05}\" expandable=\"true\"/></elements><!-- R&amp;D &lt;{i}&gt; --></policy>\r\n",
            1000 + i % 977
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

/// One session's setup: the scenario's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Size of the large object's value in bytes (unescaped text).
    pub large_object_bytes: usize,
    /// `MaxMsgSize` both sides declare (so each side's messages are held to it).
    pub max_msg_size: u64,
}

/// Which path a session runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Engines plus codec: each message encoded by its sender, decoded by its receiver.
    Wire,
    /// Engines only: message structs handed over directly.
    Engines,
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Device to server.
    FromDevice,
    /// Server to device.
    FromServer,
}

/// One message of a session, as it travelled (compact encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireMessage {
    /// Its sender.
    pub direction: Direction,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// The result of one session.
#[derive(Debug)]
pub struct SessionRun {
    /// Messages the device sent.
    pub device_messages: usize,
    /// Messages the server sent.
    pub server_messages: usize,
    /// Outcomes reported through the queue, in the order reported.
    pub outcomes: Vec<Outcome>,
    /// Commands left in the queue (never pulled).
    pub left_in_queue: usize,
    /// Events (alerts, DevInfo) reported through the queue.
    pub events: usize,
    /// The device's tree after the session.
    pub tree: MemoryTree,
    /// Whether both engines consider the session finished.
    pub finished: bool,
    /// Wall time spent inside `ServerSession::handle` (the codec excluded).
    pub server_time: Duration,
    /// Wall time spent inside `DeviceSession::start` and `DeviceSession::handle` (the
    /// codec excluded; the [`MemoryTree`] operations included).
    pub device_time: Duration,
}

impl SessionRun {
    /// Messages both ways.
    pub fn messages(&self) -> usize {
        self.device_messages + self.server_messages
    }
}

/// Why a session could not run to its end.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The server engine refused a device message.
    Server(SessionError),
    /// The device engine refused a server message.
    Device(SessionError),
    /// A message did not encode.
    Encode(winmdm_syncml::EncodeError),
    /// A message did not decode.
    Decode(winmdm_syncml::DecodeError),
    /// No end after this many messages.
    NoEnd(usize),
    /// An engine could not be saved or restored.
    Snapshot(SnapshotError),
    /// A snapshot did not go to or come back from JSON.
    Json(serde_json::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Server(e) => write!(f, "server engine: {e}"),
            RunError::Device(e) => write!(f, "device engine: {e}"),
            RunError::Encode(e) => write!(f, "encode: {e}"),
            RunError::Decode(e) => write!(f, "decode: {e}"),
            RunError::NoEnd(n) => write!(f, "session did not end after {n} messages"),
            RunError::Snapshot(e) => write!(f, "snapshot: {e}"),
            RunError::Json(e) => write!(f, "snapshot JSON: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Most messages one session may take before [`RunError::NoEnd`].
const MAX_MESSAGES: usize = 10_000;

/// The product's queue: commands in order, outcomes and events recorded.
#[derive(Debug, Default)]
pub struct Queue {
    todo: VecDeque<Queued>,
    /// Outcomes in the order reported.
    pub outcomes: Vec<Outcome>,
    /// Number of events reported.
    pub events: usize,
}

impl Queue {
    /// A queue holding `commands`, tagged 0, 1, 2... in order.
    pub fn new(commands: Vec<Queued>) -> Self {
        Queue {
            todo: commands.into(),
            ..Queue::default()
        }
    }
}

impl CommandQueue for Queue {
    fn next_command(&mut self) -> Option<Queued> {
        self.todo.pop_front()
    }
    fn outcome(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }
    fn event(&mut self, event: DeviceEvent) {
        let _ = event;
        self.events += 1;
    }
}

fn uri(s: &str) -> LocUri<'static> {
    LocUri::try_from(s.to_owned()).expect("the scenario's URIs are valid")
}

/// One session's state before it starts: the queue and the device's tree, built outside
/// any measurement.
#[derive(Debug)]
pub struct Setup {
    /// The server's queue.
    pub queue: Queue,
    /// The device's tree.
    pub tree: MemoryTree,
}

impl Scenario {
    /// The benchmark's scenario: [`LARGE_OBJECT_BYTES`], [`MAX_MSG_SIZE`].
    pub const STANDARD: Scenario = Scenario {
        large_object_bytes: LARGE_OBJECT_BYTES,
        max_msg_size: MAX_MSG_SIZE,
    };

    /// Number of queued commands: [`COMMANDS`] plus the large object.
    pub fn queued(&self) -> usize {
        COMMANDS + 1
    }

    /// The queue's commands in order, tagged by position; the large object is the
    /// `Add` of [`LARGE_URI`] at position 25.
    pub fn commands(&self) -> Vec<Queued> {
        let mut c: Vec<DmCommand> = Vec::with_capacity(self.queued());
        let int = |(u, v): (&str, i64)| DmCommand::replace(uri(u), Value::Int(v));
        let chr = |v: &str| Value::Chr(v.to_owned().into());
        // Interleaved in a fixed pattern, as a server's queue built from several
        // policies would be.
        let mut gets = GET_URIS.iter();
        let mut ints = REPLACE_INT.iter().copied();
        let mut admx = REPLACE_ADMX.iter();
        let mut adds = ADD.iter();
        let mut execs = EXEC_URIS.iter();
        let mut deletes = DELETE_URIS.iter();
        c.push(DmCommand::add(uri(WLAN_URI), chr(WLAN_PROFILE)));
        for round in 0.. {
            let before = c.len();
            if let Some(g) = gets.next() {
                c.push(DmCommand::get(uri(g)));
            }
            if let Some(r) = ints.next() {
                c.push(int(r));
            }
            if round % 2 == 0
                && let Some((u, v)) = admx.next()
            {
                c.push(DmCommand::replace(uri(u), chr(v)));
            }
            if let Some((u, v)) = adds.next() {
                c.push(DmCommand::add(uri(u), chr(v)));
            }
            if round % 3 == 1
                && let Some((u, d)) = execs.next()
            {
                c.push(DmCommand::exec(uri(u), d.map(chr)));
            }
            if round % 2 == 1
                && let Some(u) = deletes.next()
            {
                c.push(DmCommand::delete(uri(u)));
            }
            if round == 6 {
                let children = ATOMIC
                    .iter()
                    .map(|(u, v)| DmCommand::add(uri(u), chr(v)))
                    .collect();
                c.push(DmCommand::atomic(children).expect("a valid Atomic"));
            }
            if c.len() == before {
                break;
            }
        }
        // Whatever the pattern left over.
        c.extend(execs.map(|(u, d)| DmCommand::exec(uri(u), d.map(chr))));
        c.extend(deletes.map(|u| DmCommand::delete(uri(u))));
        debug_assert_eq!(c.len(), COMMANDS);
        c.insert(
            LARGE_AT,
            DmCommand::add(
                uri(LARGE_URI),
                Value::Chr(large_value(self.large_object_bytes).into()),
            ),
        );
        c.into_iter()
            .enumerate()
            .map(|(i, command)| Queued {
                tag: i as u64,
                command,
            })
            .collect()
    }

    /// The device's tree before the session: every node a Get, Replace, Delete or Exec
    /// addresses exists (holding [`initial_value`]), Exec targets are executable, and
    /// no Add target exists, so every command succeeds.
    pub fn tree(&self) -> MemoryTree {
        let mut t = MemoryTree::new();
        let leaves = GET_URIS
            .iter()
            .copied()
            .chain(REPLACE_INT.iter().map(|r| r.0))
            .chain(REPLACE_ADMX.iter().map(|r| r.0))
            .chain(EXEC_URIS.iter().map(|e| e.0));
        for u in leaves {
            t.set(u, Node::chr(initial_value(u)));
        }
        // Four Deletes remove leaves, two interior nodes with their subtrees.
        let (guest, cache) = (DELETE_URIS[3], DELETE_URIS[5]);
        for u in DELETE_URIS.iter().filter(|u| **u != guest && **u != cache) {
            t.set(u, Node::chr(initial_value(u)));
        }
        t.set(&format!("{guest}/WlanXml"), Node::chr(WLAN_PROFILE));
        for child in ["NodeURI", "ExpectedValue"] {
            t.set(&format!("{cache}/{child}"), Node::chr(initial_value(child)));
        }
        for (u, _) in EXEC_URIS {
            t.executable(u);
        }
        t
    }

    /// The queue and tree of a fresh session.
    pub fn setup(&self) -> Setup {
        Setup {
            queue: Queue::new(self.commands()),
            tree: self.tree(),
        }
    }

    /// Runs one session from a fresh [`Setup`] (built here; see [`Scenario::run_with`]
    /// to build it outside a measurement).
    ///
    /// # Errors
    ///
    /// [`RunError`] when an engine refuses a message or the session does not end.
    pub fn run(
        &self,
        mode: Mode,
        capture: Option<&mut Vec<WireMessage>>,
    ) -> Result<SessionRun, RunError> {
        self.run_with(self.setup(), mode, capture)
    }

    /// Runs one session from package 1 to its end. With `capture` (only in
    /// [`Mode::Wire`]), every message's bytes are appended in order.
    ///
    /// # Errors
    ///
    /// [`RunError`] when an engine refuses a message or the session does not end.
    pub fn run_with(
        &self,
        setup: Setup,
        mode: Mode,
        capture: Option<&mut Vec<WireMessage>>,
    ) -> Result<SessionRun, RunError> {
        self.run_inner(setup, mode, capture, None)
    }

    /// Runs one session as [`Scenario::run_with`] does, but saves both engines to JSON
    /// after every message they handle and continues each in a fresh engine restored
    /// from the JSON (`snapshot`, `serde_json::to_vec`, `serde_json::from_slice`,
    /// `restore`), as a server that keeps sessions between HTTPS requests does. Returns
    /// the run and the snapshots' sizes and costs ([`SnapshotStats`]).
    ///
    /// # Errors
    ///
    /// [`RunError`] when an engine refuses a message, cannot be saved or restored, or
    /// the session does not end.
    pub fn run_snapshots(
        &self,
        setup: Setup,
        mode: Mode,
        capture: Option<&mut Vec<WireMessage>>,
    ) -> Result<(SessionRun, SnapshotStats), RunError> {
        let mut stats = SnapshotStats::default();
        let run = self.run_inner(setup, mode, capture, Some(&mut stats))?;
        Ok((run, stats))
    }

    fn run_inner(
        &self,
        setup: Setup,
        mode: Mode,
        mut capture: Option<&mut Vec<WireMessage>>,
        mut snapshots: Option<&mut SnapshotStats>,
    ) -> Result<SessionRun, RunError> {
        let Setup {
            mut queue,
            mut tree,
        } = setup;
        let mut sc = ServerConfig::new(SERVER_URI);
        sc.declared_max_msg_size = Some(self.max_msg_size);
        let mut dc = DeviceConfig::new(DEVICE_ID, SERVER_URI, "1A");
        dc.max_msg_size = Some(self.max_msg_size);
        let mut server = ServerSession::new(sc);
        let mut device = DeviceSession::new(dc);
        let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let (mut device_messages, mut server_messages) = (0usize, 0usize);
        let (mut server_time, mut device_time) = (Duration::ZERO, Duration::ZERO);

        let t = Instant::now();
        let mut from_device = device.start();
        device_time += t.elapsed();
        loop {
            if device_messages + server_messages >= MAX_MESSAGES {
                return Err(RunError::NoEnd(MAX_MESSAGES));
            }
            device_messages += 1;
            let reply = match mode {
                Mode::Engines => {
                    let t = Instant::now();
                    let r = server.handle(&from_device, now, &mut queue);
                    server_time += t.elapsed();
                    r.map_err(RunError::Server)?
                }
                Mode::Wire => {
                    let bytes = wire(&from_device, Direction::FromDevice, &mut capture)?;
                    let msg = winmdm_syncml::decode(&bytes).map_err(RunError::Decode)?;
                    let t = Instant::now();
                    let r = server.handle(&msg, now, &mut queue);
                    server_time += t.elapsed();
                    r.map_err(RunError::Server)?
                }
            };
            server_messages += 1;
            if let Some(st) = snapshots.as_deref_mut() {
                let t = Instant::now();
                let snap = server.snapshot().map_err(RunError::Snapshot)?;
                let json = serde_json::to_vec(&snap).map_err(RunError::Json)?;
                let back: ServerSnapshot = serde_json::from_slice(&json).map_err(RunError::Json)?;
                server = ServerSession::restore(server.config().clone(), &back)
                    .map_err(RunError::Snapshot)?;
                st.server_snapshot_time += t.elapsed();
                st.server.push(ServerSnapshotSize {
                    json: json.len(),
                    last_response: snap.last_response_len(),
                });
            }
            now += Duration::from_millis(40);
            let next = match mode {
                Mode::Engines => {
                    let t = Instant::now();
                    let r = device.handle(&reply, &mut tree);
                    device_time += t.elapsed();
                    r.map_err(RunError::Device)?
                }
                Mode::Wire => {
                    let bytes = wire(&reply, Direction::FromServer, &mut capture)?;
                    let msg = winmdm_syncml::decode(&bytes).map_err(RunError::Decode)?;
                    let t = Instant::now();
                    let r = device.handle(&msg, &mut tree);
                    device_time += t.elapsed();
                    r.map_err(RunError::Device)?
                }
            };
            if let Some(st) = snapshots.as_deref_mut() {
                let t = Instant::now();
                let snap = device.snapshot().map_err(RunError::Snapshot)?;
                let json = serde_json::to_vec(&snap).map_err(RunError::Json)?;
                let back: DeviceSnapshot = serde_json::from_slice(&json).map_err(RunError::Json)?;
                device = DeviceSession::restore(device.config().clone(), &back)
                    .map_err(RunError::Snapshot)?;
                st.device_snapshot_time += t.elapsed();
                st.device.push(json.len());
            }
            match next {
                Some(m) => from_device = m,
                None => break,
            }
        }
        if let Some(st) = snapshots {
            st.server_time = server_time;
            st.device_time = device_time;
        }
        Ok(SessionRun {
            device_messages,
            server_messages,
            left_in_queue: queue.todo.len(),
            outcomes: queue.outcomes,
            events: queue.events,
            tree,
            finished: server.is_finished() && device.is_finished(),
            server_time,
            device_time,
        })
    }
}

/// Encodes a message as its sender would, recording the bytes if asked.
fn wire(
    msg: &SyncML<'_>,
    direction: Direction,
    capture: &mut Option<&mut Vec<WireMessage>>,
) -> Result<Vec<u8>, RunError> {
    let mut bytes = Vec::new();
    msg.encode(&mut bytes).map_err(RunError::Encode)?;
    if let Some(c) = capture {
        c.push(WireMessage {
            direction,
            bytes: bytes.clone(),
        });
    }
    Ok(bytes)
}

/// Plain codec work on a session's messages: `decode` then `encode` (into a fresh `Vec`,
/// as [`Mode::Wire`] does) of every message. Returns the bytes encoded.
///
/// # Errors
///
/// [`RunError::Decode`] / [`RunError::Encode`] when a message does not decode / encode.
pub fn codec_pass(messages: &[WireMessage]) -> Result<usize, RunError> {
    let mut n = 0;
    for m in messages {
        let msg = winmdm_syncml::decode(&m.bytes).map_err(RunError::Decode)?;
        let mut out = Vec::new();
        msg.encode(&mut out).map_err(RunError::Encode)?;
        n += out.len();
    }
    Ok(n)
}

/// The size of one server snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSnapshotSize {
    /// Bytes of `serde_json::to_vec` of the snapshot.
    pub json: usize,
    /// [`ServerSnapshot::last_response_len`]: the last response kept for retransmission.
    pub last_response: usize,
}

impl ServerSnapshotSize {
    /// The JSON size minus the last response's bytes (the response is a JSON string in
    /// the snapshot, so its escapes stay counted here).
    pub fn without_last_response(&self) -> usize {
        self.json.saturating_sub(self.last_response)
    }
}

/// Snapshot sizes and costs of one session run by [`Scenario::run_snapshots`].
#[derive(Debug, Clone, Default)]
pub struct SnapshotStats {
    /// The server snapshot taken after each server message, in order.
    pub server: Vec<ServerSnapshotSize>,
    /// JSON bytes of the device snapshot taken after each device `handle`, in order.
    pub device: Vec<usize>,
    /// Wall time inside `ServerSession::handle` in the same run.
    pub server_time: Duration,
    /// Wall time inside `DeviceSession::start` / `handle` in the same run.
    pub device_time: Duration,
    /// Wall time of the server's snapshot + `to_vec` + `from_slice` + `restore`.
    pub server_snapshot_time: Duration,
    /// Wall time of the device's snapshot + `to_vec` + `from_slice` + `restore`.
    pub device_snapshot_time: Duration,
}

impl SnapshotStats {
    /// Largest server snapshot without its last response.
    pub fn server_max(&self) -> usize {
        self.server
            .iter()
            .map(ServerSnapshotSize::without_last_response)
            .max()
            .unwrap_or(0)
    }

    /// Mean server snapshot without its last response.
    pub fn server_mean(&self) -> f64 {
        let n = self.server.len().max(1);
        self.server
            .iter()
            .map(ServerSnapshotSize::without_last_response)
            .sum::<usize>() as f64
            / n as f64
    }

    /// Largest server snapshot, last response included.
    pub fn server_max_with_response(&self) -> usize {
        self.server.iter().map(|s| s.json).max().unwrap_or(0)
    }

    /// Largest device snapshot.
    pub fn device_max(&self) -> usize {
        self.device.iter().copied().max().unwrap_or(0)
    }

    /// Save-and-restore time over engine time, server side.
    pub fn server_ratio(&self) -> f64 {
        self.server_snapshot_time.as_secs_f64() / self.server_time.as_secs_f64()
    }

    /// Save-and-restore time over engine time, device side.
    pub fn device_ratio(&self) -> f64 {
        self.device_snapshot_time.as_secs_f64() / self.device_time.as_secs_f64()
    }

    /// Save-and-restore time over engine time, both sides together.
    pub fn ratio(&self) -> f64 {
        (self.server_snapshot_time + self.device_snapshot_time).as_secs_f64()
            / (self.server_time + self.device_time).as_secs_f64()
    }
}

/// The "typical session with 5 commands in flight" of issue 9: five commands of the
/// benchmark's queue, one of each common kind (a Get, an integer Replace, an ADMX
/// Replace, an Add, an Exec), tagged 0 to 4.
pub fn five_typical_commands() -> Vec<Queued> {
    let chr = |v: &str| Value::Chr(v.to_owned().into());
    let (exec_uri, exec_data) = EXEC_URIS[0];
    [
        DmCommand::get(uri(GET_URIS[0])),
        DmCommand::replace(uri(REPLACE_INT[1].0), Value::Int(REPLACE_INT[1].1)),
        DmCommand::replace(uri(REPLACE_ADMX[0].0), chr(REPLACE_ADMX[0].1)),
        DmCommand::add(uri(ADD[1].0), chr(ADD[1].1)),
        DmCommand::exec(uri(exec_uri), exec_data.map(chr)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, command)| Queued {
        tag: i as u64,
        command,
    })
    .collect()
}

/// The server snapshot right after the server answered package 1 with queued commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightSnapshot {
    /// Commands (not Statuses) in the server's response.
    pub commands_sent: usize,
    /// The snapshot's size.
    pub size: ServerSnapshotSize,
}

/// Package 1 from the device, the server's response with `commands` (all of them if
/// they fit one message of [`MAX_MSG_SIZE`]), and the server snapshot right after it.
///
/// # Errors
///
/// [`RunError`] when the server refuses package 1 or cannot be saved.
pub fn in_flight_snapshot(commands: Vec<Queued>) -> Result<InFlightSnapshot, RunError> {
    let mut sc = ServerConfig::new(SERVER_URI);
    sc.declared_max_msg_size = Some(MAX_MSG_SIZE);
    let mut dc = DeviceConfig::new(DEVICE_ID, SERVER_URI, "1A");
    dc.max_msg_size = Some(MAX_MSG_SIZE);
    let mut server = ServerSession::new(sc);
    let mut device = DeviceSession::new(dc);
    let mut queue = Queue::new(commands);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let pkg1 = device.start();
    let reply = server
        .handle(&pkg1, now, &mut queue)
        .map_err(RunError::Server)?;
    let commands_sent = reply
        .body
        .commands
        .iter()
        .filter(|c| !matches!(c, winmdm_syncml::Command::Status(_)))
        .count();
    let snap = server.snapshot().map_err(RunError::Snapshot)?;
    let json = serde_json::to_vec(&snap).map_err(RunError::Json)?;
    Ok(InFlightSnapshot {
        commands_sent,
        size: ServerSnapshotSize {
            json: json.len(),
            last_response: snap.last_response_len(),
        },
    })
}
