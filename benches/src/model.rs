//! An owned serde model of SyncML for `quick_xml::de`: the baseline "deserialize into owned
//! structs" decoder the benchmarks compare against.
//!
//! It covers what the benchmark inputs hold (and most of what Windows sends): the header
//! fields, every SyncML command with its items, `Atomic`/`Sequence` nesting, `Data` with its
//! `msft:originalerror` attribute and `Meta` with the `syncml:metinf` children. Commands keep
//! document order through a `$value` sequence of an enum, as the quick-xml documentation
//! recommends. Every string is an owned `String`: this is the model a serde user writes.
//!
//! Field names follow the SyncML element names (`CmdID`, `LocURI`, ...) through
//! `#[serde(rename)]`.

use serde::Deserialize;

/// `<SyncML>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename = "SyncML")]
pub struct SyncMl {
    /// `<SyncHdr>`.
    #[serde(rename = "SyncHdr")]
    pub hdr: SyncHdr,
    /// `<SyncBody>`.
    #[serde(rename = "SyncBody")]
    pub body: SyncBody,
}

/// `<SyncHdr>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SyncHdr {
    /// `VerDTD`.
    #[serde(rename = "VerDTD")]
    pub ver_dtd: String,
    /// `VerProto`.
    #[serde(rename = "VerProto")]
    pub ver_proto: String,
    /// `SessionID`.
    #[serde(rename = "SessionID")]
    pub session_id: String,
    /// `MsgID`.
    #[serde(rename = "MsgID")]
    pub msg_id: String,
    /// `Target`.
    #[serde(rename = "Target")]
    pub target: Location,
    /// `Source`.
    #[serde(rename = "Source")]
    pub source: Location,
    /// `RespURI`.
    #[serde(rename = "RespURI", default)]
    pub resp_uri: Option<String>,
    /// `Meta`.
    #[serde(rename = "Meta", default)]
    pub meta: Option<Meta>,
}

/// `<Target>`, `<Source>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Location {
    /// `LocURI`.
    #[serde(rename = "LocURI")]
    pub loc_uri: String,
    /// `LocName`.
    #[serde(rename = "LocName", default)]
    pub loc_name: Option<String>,
}

/// `<Meta>` with the `syncml:metinf` children.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Meta {
    /// `Format`.
    #[serde(rename = "Format", default)]
    pub format: Option<String>,
    /// `Type`.
    #[serde(rename = "Type", default)]
    pub r#type: Option<String>,
    /// `Mark`.
    #[serde(rename = "Mark", default)]
    pub mark: Option<String>,
    /// `Size`.
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
    /// `NextNonce`.
    #[serde(rename = "NextNonce", default)]
    pub next_nonce: Option<String>,
    /// `MaxMsgSize`.
    #[serde(rename = "MaxMsgSize", default)]
    pub max_msg_size: Option<u64>,
    /// `MaxObjSize`.
    #[serde(rename = "MaxObjSize", default)]
    pub max_obj_size: Option<u64>,
}

/// `<Data>`: its text (escapes resolved, CDATA contents) and `msft:originalerror`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Data {
    /// `msft:originalerror`.
    #[serde(rename = "@msft:originalerror", default)]
    pub original_error: Option<String>,
    /// The text.
    #[serde(rename = "$text", default)]
    pub value: String,
}

/// `<SyncBody>`: commands in document order, `Final` included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SyncBody {
    /// The children in document order.
    #[serde(rename = "$value", default)]
    pub commands: Vec<Command>,
}

impl SyncBody {
    /// Whether the body holds `<Final/>`.
    pub fn is_final(&self) -> bool {
        self.commands.iter().any(|c| matches!(c, Command::Final))
    }
}

/// A child of `SyncBody`, `Atomic` or `Sequence`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Command {
    /// `<Add>`.
    Add(ItemCommand),
    /// `<Alert>`.
    Alert(Alert),
    /// `<Atomic>`.
    Atomic(Container),
    /// `<Copy>`.
    Copy(ItemCommand),
    /// `<Delete>`.
    Delete(ItemCommand),
    /// `<Exec>`.
    Exec(ItemCommand),
    /// `<Get>`.
    Get(ItemCommand),
    /// `<Replace>`.
    Replace(ItemCommand),
    /// `<Results>`.
    Results(Results),
    /// `<Sequence>`.
    Sequence(Container),
    /// `<Status>`.
    Status(Status),
    /// `<Final/>`.
    Final,
}

impl Command {
    /// The command's items (none for containers and `Final`).
    pub fn items(&self) -> &[Item] {
        match self {
            Command::Add(c)
            | Command::Copy(c)
            | Command::Delete(c)
            | Command::Exec(c)
            | Command::Get(c)
            | Command::Replace(c) => &c.items,
            Command::Alert(c) => &c.items,
            Command::Results(c) => &c.items,
            Command::Status(c) => &c.items,
            Command::Atomic(_) | Command::Sequence(_) | Command::Final => &[],
        }
    }
}

/// `Add`, `Copy`, `Delete`, `Exec`, `Get`, `Replace`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemCommand {
    /// `CmdID`.
    #[serde(rename = "CmdID")]
    pub cmd_id: String,
    /// `Meta`.
    #[serde(rename = "Meta", default)]
    pub meta: Option<Meta>,
    /// `Item`s.
    #[serde(rename = "Item", default)]
    pub items: Vec<Item>,
}

/// `<Alert>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Alert {
    /// `CmdID`.
    #[serde(rename = "CmdID")]
    pub cmd_id: String,
    /// `Data`: the alert code.
    #[serde(rename = "Data", default)]
    pub data: Option<Data>,
    /// `Item`s.
    #[serde(rename = "Item", default)]
    pub items: Vec<Item>,
}

/// `Atomic`, `Sequence`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Container {
    /// `CmdID`.
    #[serde(rename = "CmdID")]
    pub cmd_id: String,
    /// Nested commands in document order.
    #[serde(rename = "$value", default)]
    pub commands: Vec<Command>,
}

/// `<Results>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Results {
    /// `CmdID`.
    #[serde(rename = "CmdID")]
    pub cmd_id: String,
    /// `MsgRef`.
    #[serde(rename = "MsgRef", default)]
    pub msg_ref: Option<String>,
    /// `CmdRef`.
    #[serde(rename = "CmdRef")]
    pub cmd_ref: String,
    /// `Cmd`.
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<String>,
    /// `Meta`.
    #[serde(rename = "Meta", default)]
    pub meta: Option<Meta>,
    /// `Item`s.
    #[serde(rename = "Item", default)]
    pub items: Vec<Item>,
}

/// `<Status>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Status {
    /// `CmdID`.
    #[serde(rename = "CmdID")]
    pub cmd_id: String,
    /// `MsgRef`.
    #[serde(rename = "MsgRef")]
    pub msg_ref: String,
    /// `CmdRef`.
    #[serde(rename = "CmdRef")]
    pub cmd_ref: String,
    /// `Cmd`.
    #[serde(rename = "Cmd")]
    pub cmd: String,
    /// `TargetRef`s.
    #[serde(rename = "TargetRef", default)]
    pub target_refs: Vec<String>,
    /// `SourceRef`s.
    #[serde(rename = "SourceRef", default)]
    pub source_refs: Vec<String>,
    /// `Data`: the status code.
    #[serde(rename = "Data")]
    pub data: Data,
    /// `Item`s.
    #[serde(rename = "Item", default)]
    pub items: Vec<Item>,
}

/// `<Item>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    /// `Target`.
    #[serde(rename = "Target", default)]
    pub target: Option<Location>,
    /// `Source`.
    #[serde(rename = "Source", default)]
    pub source: Option<Location>,
    /// `Meta`.
    #[serde(rename = "Meta", default)]
    pub meta: Option<Meta>,
    /// `Data`.
    #[serde(rename = "Data", default)]
    pub data: Option<Data>,
    /// `MoreData`.
    #[serde(rename = "MoreData", default)]
    pub more_data: Option<()>,
}
