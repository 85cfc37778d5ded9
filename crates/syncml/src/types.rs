//! The SyncML 1.2 message model as used by OMA-DM 1.2 and MS-MDM.
//!
//! Every text value borrows from the decoded input (`Cow::Borrowed`) unless decoding it
//! forced a copy: a reference to replace (`&amp;`) or a carriage return to normalize (XML
//! reads CR LF as LF). Element order inside `SyncBody`, `Atomic` and `Sequence` and the order of
//! `Item`s is the document order. Elements the model does not know are kept verbatim as
//! [`RawElement`]s so that a proxy loses nothing; attributes on container elements are kept
//! as [`Attr`]s.
//!
//! Required-by-the-DTD children (`CmdID`, `MsgID`, ...) are `Option`s: the codec represents
//! what is on the wire and leaves protocol validation to the layer above (`winmdm-omadm`).

use std::borrow::Cow;
use std::fmt;

use crate::codes::{AlertCode, StatusCode};

/// Converts a `Cow<'a, str>` into a `Cow<'static, str>`.
pub(crate) fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn own_opt(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.map(own)
}

/// The SyncML version of a message, taken from the root element's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum SyncMlVersion {
    /// `SYNCML:SYNCML1.1` (OMA DM 1.1.2).
    V1_1,
    /// `SYNCML:SYNCML1.2` (OMA DM 1.2), the version Windows uses.
    #[default]
    V1_2,
}

impl SyncMlVersion {
    /// The namespace URI of this version as written on the root element.
    pub fn namespace(self) -> &'static str {
        match self {
            SyncMlVersion::V1_1 => "SYNCML:SYNCML1.1",
            SyncMlVersion::V1_2 => "SYNCML:SYNCML1.2",
        }
    }
}

/// The namespace of Windows's `msft:` attributes (`msft:originalerror`, MS-MDM 2.2.5.1).
pub const MDM_NAMESPACE: &str = "http://schemas.microsoft.com/MobileDevice/MDM";

/// An attribute kept on an element, with its qualified name as written (`msft:originalerror`,
/// `xmlns:msft`), the namespace its prefix was bound to, and its unescaped value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attr<'a> {
    /// Qualified name, prefix included.
    pub name: Cow<'a, str>,
    /// The namespace the decoder found the prefix bound to (`Some(MDM_NAMESPACE)` for
    /// `msft:originalerror` under Windows's declaration). `None` for an unprefixed
    /// attribute (in no namespace), a namespace declaration, a prefix a command fragment
    /// leaves unbound, and an attribute built with [`Attr::new`]. The encoder writes the
    /// qualified name; declaring the prefix is up to the element's attributes.
    pub ns: Option<Cow<'a, str>>,
    /// Unescaped value.
    pub value: Cow<'a, str>,
}

impl<'a> Attr<'a> {
    /// Builds an attribute (no resolved namespace: see [`Attr::ns`]).
    pub fn new(name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        Attr {
            name: name.into(),
            ns: None,
            value: value.into(),
        }
    }

    /// Builds a prefixed attribute whose prefix is bound to `ns`, as the decoder reads one.
    pub fn in_ns(
        ns: impl Into<Cow<'a, str>>,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Self {
        Attr {
            ns: Some(ns.into()),
            ..Attr::new(name, value)
        }
    }

    /// The name without its prefix.
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    /// Whether this is the attribute `local` in namespace `ns`; an attribute without a
    /// resolved namespace (built in code) matches by its qualified name with `prefix`.
    pub fn is(&self, ns: &str, prefix: &str, local: &str) -> bool {
        match &self.ns {
            Some(n) => n == ns && self.local_name() == local,
            None => {
                self.name
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix(':'))
                    == Some(local)
            }
        }
    }

    /// Detaches the attribute from the input it borrows from.
    pub fn into_owned(self) -> Attr<'static> {
        Attr {
            name: own(self.name),
            ns: self.ns.map(own),
            value: own(self.value),
        }
    }
}

fn own_attrs(v: Vec<Attr<'_>>) -> Vec<Attr<'static>> {
    v.into_iter().map(Attr::into_owned).collect()
}

/// An element the model does not know, kept verbatim (start tag to end tag, as in the input)
/// so that re-encoding writes it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RawElement<'a> {
    /// The element's qualified name.
    pub name: Cow<'a, str>,
    /// The whole element as XML, from `<` to the closing `>`.
    pub xml: Cow<'a, str>,
}

impl RawElement<'_> {
    /// Detaches the element from the input it borrows from.
    pub fn into_owned(self) -> RawElement<'static> {
        RawElement {
            name: own(self.name),
            xml: own(self.xml),
        }
    }
}

fn own_raw(v: Vec<RawElement<'_>>) -> Vec<RawElement<'static>> {
    v.into_iter().map(RawElement::into_owned).collect()
}

/// A complete SyncML message: `<SyncML>` with `SyncHdr` and `SyncBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncML<'a> {
    /// SyncML version from the root namespace.
    pub version: SyncMlVersion,
    /// Attributes on `<SyncML>` other than its default namespace (e.g. `xmlns:msft`).
    pub attrs: Vec<Attr<'a>>,
    /// The header.
    pub hdr: SyncHdr<'a>,
    /// The body.
    pub body: SyncBody<'a>,
    /// Unknown children of `<SyncML>`, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl SyncML<'_> {
    /// Detaches the message from the input it borrows from.
    pub fn into_owned(self) -> SyncML<'static> {
        SyncML {
            version: self.version,
            attrs: own_attrs(self.attrs),
            hdr: self.hdr.into_owned(),
            body: self.body.into_owned(),
            extra: own_raw(self.extra),
        }
    }
}

/// `<SyncHdr>`: `VerDTD, VerProto, SessionID, MsgID, Target, Source, RespURI?, NoResp?, Cred?,
/// Meta?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncHdr<'a> {
    /// `VerDTD`, `1.2` for OMA DM 1.2.
    pub ver_dtd: Option<Cow<'a, str>>,
    /// `VerProto`, `DM/1.2`.
    pub ver_proto: Option<Cow<'a, str>>,
    /// `SessionID`: opaque (Windows sends decimal or hex).
    pub session_id: Option<Cow<'a, str>>,
    /// `MsgID`: opaque, per direction.
    pub msg_id: Option<Cow<'a, str>>,
    /// `Target`: the recipient.
    pub target: Option<Location<'a>>,
    /// `Source`: the sender.
    pub source: Option<Location<'a>>,
    /// `RespURI`: where to send the response.
    pub resp_uri: Option<Cow<'a, str>>,
    /// `NoResp`: no response expected.
    pub no_resp: bool,
    /// `Cred`: application-level credentials.
    pub cred: Option<Box<Cred<'a>>>,
    /// `Meta` (e.g. `MaxMsgSize`, `MaxObjSize`).
    pub meta: Option<Meta<'a>>,
    /// Attributes on `<SyncHdr>`.
    pub attrs: Vec<Attr<'a>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl SyncHdr<'_> {
    /// Detaches the header from the input it borrows from.
    pub fn into_owned(self) -> SyncHdr<'static> {
        SyncHdr {
            ver_dtd: own_opt(self.ver_dtd),
            ver_proto: own_opt(self.ver_proto),
            session_id: own_opt(self.session_id),
            msg_id: own_opt(self.msg_id),
            target: self.target.map(Location::into_owned),
            source: self.source.map(Location::into_owned),
            resp_uri: own_opt(self.resp_uri),
            no_resp: self.no_resp,
            cred: self.cred.map(|c| Box::new(c.into_owned())),
            meta: self.meta.map(Meta::into_owned),
            attrs: own_attrs(self.attrs),
            extra: own_raw(self.extra),
        }
    }
}

/// `<Target>` or `<Source>` (also `SourceParent`/`TargetParent`): `LocURI, LocName?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Location<'a> {
    /// `LocURI`.
    pub loc_uri: Option<Cow<'a, str>>,
    /// `LocName`.
    pub loc_name: Option<Cow<'a, str>>,
    /// Unknown children (e.g. `Filter`), kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl<'a> Location<'a> {
    /// A location with just a `LocURI`.
    pub fn uri(uri: impl Into<Cow<'a, str>>) -> Self {
        Location {
            loc_uri: Some(uri.into()),
            ..Location::default()
        }
    }

    /// Detaches the location from the input it borrows from.
    pub fn into_owned(self) -> Location<'static> {
        Location {
            loc_uri: own_opt(self.loc_uri),
            loc_name: own_opt(self.loc_name),
            extra: own_raw(self.extra),
        }
    }
}

/// `<Cred>`: `Meta?, Data`. `Debug` never shows the credential data.
#[derive(Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cred<'a> {
    /// `Meta` with `Type` (`syncml:auth-basic`, `syncml:auth-md5`) and `Format` (`b64`).
    pub meta: Option<Meta<'a>>,
    /// The credential. Redacted in `Debug` and in serialized output.
    #[cfg_attr(feature = "serde", serde(serialize_with = "redact"))]
    pub data: Option<Data<'a>>,
}

#[cfg(feature = "serde")]
fn redact<S: serde::Serializer>(d: &Option<Data<'_>>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

impl fmt::Debug for Cred<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cred")
            .field("meta", &self.meta)
            .field("data", &self.data.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Cred<'_> {
    /// Detaches the credential from the input it borrows from.
    pub fn into_owned(self) -> Cred<'static> {
        Cred {
            meta: self.meta.map(Meta::into_owned),
            data: self.data.map(Data::into_owned),
        }
    }
}

/// `<Chal>`: `Meta` with the authentication scheme and `NextNonce`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Chal<'a> {
    /// The challenge parameters.
    pub meta: Option<Meta<'a>>,
}

impl Chal<'_> {
    /// Detaches the challenge from the input it borrows from.
    pub fn into_owned(self) -> Chal<'static> {
        Chal {
            meta: self.meta.map(Meta::into_owned),
        }
    }
}

/// `<Meta>` with the `syncml:metinf` children Windows uses. Unknown children (`Anchor`,
/// `Mem`, ...) are kept verbatim in `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Meta<'a> {
    /// `Format`: `chr`, `int`, `bool`, `b64`, `xml`, `node`, `null`, ...
    pub format: Option<Cow<'a, str>>,
    /// `Type`: MIME type, alert type or authentication scheme.
    pub r#type: Option<Cow<'a, str>>,
    /// `Mark`: `informational`, `critical`, `fatal` on generic alerts.
    pub mark: Option<Cow<'a, str>>,
    /// `Size`: total size of a large object (first chunk).
    pub size: Option<u64>,
    /// `NextNonce`: base64 nonce for the next MD5 digest.
    pub next_nonce: Option<Cow<'a, str>>,
    /// `Version`.
    pub version: Option<Cow<'a, str>>,
    /// `MaxMsgSize`: the largest message the sender accepts.
    pub max_msg_size: Option<u64>,
    /// `MaxObjSize`: the largest object the sender accepts.
    pub max_obj_size: Option<u64>,
    /// `EMI` (experimental meta information), in order.
    pub emi: Vec<Cow<'a, str>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl<'a> Meta<'a> {
    /// A `Meta` with only `Format`.
    pub fn format(format: impl Into<Cow<'a, str>>) -> Self {
        Meta {
            format: Some(format.into()),
            ..Meta::default()
        }
    }

    /// Whether no child is set.
    pub fn is_empty(&self) -> bool {
        *self == Meta::default()
    }

    /// Detaches the meta information from the input it borrows from.
    pub fn into_owned(self) -> Meta<'static> {
        Meta {
            format: own_opt(self.format),
            r#type: own_opt(self.r#type),
            mark: own_opt(self.mark),
            size: self.size,
            next_nonce: own_opt(self.next_nonce),
            version: own_opt(self.version),
            max_msg_size: self.max_msg_size,
            max_obj_size: self.max_obj_size,
            emi: self.emi.into_iter().map(own).collect(),
            extra: own_raw(self.extra),
        }
    }
}

/// What a `<Data>` element holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", content = "value"))]
pub enum DataContent<'a> {
    /// Character data, unescaped (`&lt;enabled/&gt;` reads as `<enabled/>`). Whitespace is
    /// kept as written, but for line ends, which read as LF as in any XML parser (a CR
    /// written `&#13;` stays a CR).
    Text(Cow<'a, str>),
    /// One or more CDATA sections (their contents concatenated), with only whitespace
    /// between or around them, which is not kept. Line ends read as LF; a CR cannot stand
    /// inside a section, so the encoder writes one as `&#13;` between two sections, and the
    /// decoder reads sections joined by such references as one value again.
    CData(Cow<'a, str>),
    /// Markup: the raw inner XML of `<Data>` when it holds elements (`<enabled/>`, an
    /// `MsiInstallJob`) or mixes CDATA with other text. Written back verbatim.
    Xml(Cow<'a, str>),
}

impl Default for DataContent<'_> {
    fn default() -> Self {
        DataContent::Text(Cow::Borrowed(""))
    }
}

/// A `<Data>` element: its content and its attributes (e.g. `msft:originalerror`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Data<'a> {
    /// Attributes as written (e.g. `msft:originalerror="0x86000002"`).
    pub attrs: Vec<Attr<'a>>,
    /// The content.
    pub content: DataContent<'a>,
}

impl<'a> Data<'a> {
    /// Character data.
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Data {
            attrs: Vec::new(),
            content: DataContent::Text(s.into()),
        }
    }

    /// The content as a string: the text, the CDATA contents or the raw inner XML.
    pub fn as_str(&self) -> &str {
        match &self.content {
            DataContent::Text(s) | DataContent::CData(s) | DataContent::Xml(s) => s,
        }
    }

    /// The value of the attribute `local` in namespace `ns` (see [`Attr::is`]: an attribute
    /// built in code matches by `prefix:local`).
    pub fn attr_ns(&self, ns: &str, prefix: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.is(ns, prefix, local))
            .map(|a| a.value.as_ref())
    }

    /// The value of an attribute by qualified name as written (e.g. `msft:originalerror`);
    /// [`Data::attr_ns`] reads it by namespace.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_ref())
    }

    /// Detaches the data from the input it borrows from.
    pub fn into_owned(self) -> Data<'static> {
        Data {
            attrs: own_attrs(self.attrs),
            content: match self.content {
                DataContent::Text(s) => DataContent::Text(own(s)),
                DataContent::CData(s) => DataContent::CData(own(s)),
                DataContent::Xml(s) => DataContent::Xml(own(s)),
            },
        }
    }
}

/// `<SyncBody>`: commands in document order, then `Final`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncBody<'a> {
    /// Attributes on `<SyncBody>` (e.g. `xmlns:msft`).
    pub attrs: Vec<Attr<'a>>,
    /// Commands (and unknown elements) in document order.
    pub commands: Vec<Command<'a>>,
    /// `<Final/>`: this message ends the package.
    pub r#final: bool,
}

impl SyncBody<'_> {
    /// Detaches the body from the input it borrows from.
    pub fn into_owned(self) -> SyncBody<'static> {
        SyncBody {
            attrs: own_attrs(self.attrs),
            commands: self.commands.into_iter().map(Command::into_owned).collect(),
            r#final: self.r#final,
        }
    }
}

/// The command element names of SyncML, as used in `Status/Cmd` and `Results/Cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum CommandKind {
    /// `Add`
    Add,
    /// `Alert`
    Alert,
    /// `Atomic`
    Atomic,
    /// `Copy`
    Copy,
    /// `Delete`
    Delete,
    /// `Exec`
    Exec,
    /// `Get`
    Get,
    /// `Replace`
    Replace,
    /// `Results`
    Results,
    /// `Sequence`
    Sequence,
    /// `Status`
    Status,
}

impl CommandKind {
    /// Every command, in alphabetical order of its element name.
    pub const ALL: [CommandKind; 11] = [
        CommandKind::Add,
        CommandKind::Alert,
        CommandKind::Atomic,
        CommandKind::Copy,
        CommandKind::Delete,
        CommandKind::Exec,
        CommandKind::Get,
        CommandKind::Replace,
        CommandKind::Results,
        CommandKind::Sequence,
        CommandKind::Status,
    ];

    /// The command `name` is a near miss of, for "did you mean" hints: at most two edits
    /// (Levenshtein, ASCII case ignored) and fewer than half the command's length; the
    /// closest, then the first alphabetically. An exact match counts (distance 0).
    ///
    /// ```
    /// use winmdm_syncml::CommandKind;
    /// assert_eq!(CommandKind::near_miss("Replce"), Some(CommandKind::Replace));
    /// assert_eq!(CommandKind::near_miss("foo"), None);
    /// ```
    pub fn near_miss(name: &str) -> Option<CommandKind> {
        let lower = name.to_ascii_lowercase();
        CommandKind::ALL
            .iter()
            .map(|k| (edit_distance(&lower, &k.as_str().to_ascii_lowercase()), *k))
            .filter(|&(d, k)| d <= 2 && d * 2 < k.as_str().len())
            .min_by_key(|&(d, k)| (d, k.as_str()))
            .map(|(_, k)| k)
    }

    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Add => "Add",
            CommandKind::Alert => "Alert",
            CommandKind::Atomic => "Atomic",
            CommandKind::Copy => "Copy",
            CommandKind::Delete => "Delete",
            CommandKind::Exec => "Exec",
            CommandKind::Get => "Get",
            CommandKind::Replace => "Replace",
            CommandKind::Results => "Results",
            CommandKind::Sequence => "Sequence",
            CommandKind::Status => "Status",
        }
    }

    /// Parses an element name (case-sensitive, as XML is).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Add" => CommandKind::Add,
            "Alert" => CommandKind::Alert,
            "Atomic" => CommandKind::Atomic,
            "Copy" => CommandKind::Copy,
            "Delete" => CommandKind::Delete,
            "Exec" => CommandKind::Exec,
            "Get" => CommandKind::Get,
            "Replace" => CommandKind::Replace,
            "Results" => CommandKind::Results,
            "Sequence" => CommandKind::Sequence,
            "Status" => CommandKind::Status,
            _ => return None,
        })
    }
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command inside `SyncBody`, `Atomic` or `Sequence`.
///
/// Every variant boxes its payload: a `Command` is two words, so a body of thousands of
/// commands costs one pointer per command in its `Vec` (plus the `Vec`'s spare capacity)
/// and each command only its own size, whatever the largest kind (`Status`) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Command<'a> {
    /// `<Add>`
    Add(Box<ItemCommand<'a>>),
    /// `<Alert>`
    Alert(Box<Alert<'a>>),
    /// `<Atomic>`: all or nothing.
    Atomic(Box<Container<'a>>),
    /// `<Copy>`
    Copy(Box<ItemCommand<'a>>),
    /// `<Delete>`
    Delete(Box<ItemCommand<'a>>),
    /// `<Exec>`
    Exec(Box<ItemCommand<'a>>),
    /// `<Get>`
    Get(Box<ItemCommand<'a>>),
    /// `<Replace>`
    Replace(Box<ItemCommand<'a>>),
    /// `<Results>`
    Results(Box<Results<'a>>),
    /// `<Sequence>`: in order.
    Sequence(Box<Container<'a>>),
    /// `<Status>`
    Status(Box<Status<'a>>),
    /// An element that is not a SyncML command, kept verbatim.
    Unknown(Box<RawElement<'a>>),
}

impl<'a> Command<'a> {
    /// The command's kind, `None` for [`Command::Unknown`].
    pub fn kind(&self) -> Option<CommandKind> {
        Some(match self {
            Command::Add(_) => CommandKind::Add,
            Command::Alert(_) => CommandKind::Alert,
            Command::Atomic(_) => CommandKind::Atomic,
            Command::Copy(_) => CommandKind::Copy,
            Command::Delete(_) => CommandKind::Delete,
            Command::Exec(_) => CommandKind::Exec,
            Command::Get(_) => CommandKind::Get,
            Command::Replace(_) => CommandKind::Replace,
            Command::Results(_) => CommandKind::Results,
            Command::Sequence(_) => CommandKind::Sequence,
            Command::Status(_) => CommandKind::Status,
            Command::Unknown(_) => return None,
        })
    }

    /// The element name (`Replace`, or the unknown element's name).
    pub fn name(&self) -> &str {
        match self {
            Command::Unknown(r) => &r.name,
            other => other.kind().map(CommandKind::as_str).unwrap_or_default(),
        }
    }

    /// The command's `CmdID`, if it has one.
    pub fn cmd_id(&self) -> Option<&str> {
        match self {
            Command::Add(c)
            | Command::Copy(c)
            | Command::Delete(c)
            | Command::Exec(c)
            | Command::Get(c)
            | Command::Replace(c) => c.cmd_id.as_deref(),
            Command::Alert(c) => c.cmd_id.as_deref(),
            Command::Atomic(c) | Command::Sequence(c) => c.cmd_id.as_deref(),
            Command::Results(c) => c.cmd_id.as_deref(),
            Command::Status(c) => c.cmd_id.as_deref(),
            Command::Unknown(_) => None,
        }
    }

    /// The items of a command that has items (not `Atomic`/`Sequence`/unknown).
    pub fn items(&self) -> &[Item<'a>] {
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
            Command::Atomic(_) | Command::Sequence(_) | Command::Unknown(_) => &[],
        }
    }

    /// Detaches the command from the input it borrows from.
    pub fn into_owned(self) -> Command<'static> {
        match self {
            Command::Add(c) => Command::Add(Box::new(c.into_owned())),
            Command::Alert(c) => Command::Alert(Box::new(c.into_owned())),
            Command::Atomic(c) => Command::Atomic(Box::new(c.into_owned())),
            Command::Copy(c) => Command::Copy(Box::new(c.into_owned())),
            Command::Delete(c) => Command::Delete(Box::new(c.into_owned())),
            Command::Exec(c) => Command::Exec(Box::new(c.into_owned())),
            Command::Get(c) => Command::Get(Box::new(c.into_owned())),
            Command::Replace(c) => Command::Replace(Box::new(c.into_owned())),
            Command::Results(c) => Command::Results(Box::new(c.into_owned())),
            Command::Sequence(c) => Command::Sequence(Box::new(c.into_owned())),
            Command::Status(c) => Command::Status(Box::new(c.into_owned())),
            Command::Unknown(r) => Command::Unknown(Box::new(r.into_owned())),
        }
    }
}

/// `Add`, `Copy`, `Delete`, `Exec`, `Get` and `Replace`: `CmdID, NoResp?, Cred?, Meta?, Item+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ItemCommand<'a> {
    /// Attributes on the command element.
    pub attrs: Vec<Attr<'a>>,
    /// `CmdID`: opaque (Windows echoes UUIDs).
    pub cmd_id: Option<Cow<'a, str>>,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Box<Cred<'a>>>,
    /// `Meta` applying to all items.
    pub meta: Option<Box<Meta<'a>>>,
    /// `Correlator` (`Exec` only in OMA-DM; Windows does not use it).
    pub correlator: Option<Cow<'a, str>>,
    /// The items, in order.
    pub items: Vec<Item<'a>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl ItemCommand<'_> {
    /// Detaches the command from the input it borrows from.
    pub fn into_owned(self) -> ItemCommand<'static> {
        ItemCommand {
            attrs: own_attrs(self.attrs),
            cmd_id: own_opt(self.cmd_id),
            no_resp: self.no_resp,
            cred: self.cred.map(|c| Box::new(c.into_owned())),
            meta: self.meta.map(|m| Box::new(m.into_owned())),
            correlator: own_opt(self.correlator),
            items: self.items.into_iter().map(Item::into_owned).collect(),
            extra: own_raw(self.extra),
        }
    }
}

/// `<Alert>`: `CmdID, NoResp?, Cred?, Data, Correlator?, Item*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Alert<'a> {
    /// Attributes on `<Alert>`.
    pub attrs: Vec<Attr<'a>>,
    /// `CmdID`.
    pub cmd_id: Option<Cow<'a, str>>,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Box<Cred<'a>>>,
    /// `Data`: the alert code as text; see [`Alert::code`].
    pub data: Option<Data<'a>>,
    /// `Correlator`.
    pub correlator: Option<Cow<'a, str>>,
    /// Items (e.g. the 1224/1226 alert payloads).
    pub items: Vec<Item<'a>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl Alert<'_> {
    /// The alert code, if `Data` holds a number.
    pub fn code(&self) -> Option<AlertCode> {
        self.data
            .as_ref()?
            .as_str()
            .trim()
            .parse()
            .ok()
            .map(AlertCode)
    }

    /// Detaches the alert from the input it borrows from.
    pub fn into_owned(self) -> Alert<'static> {
        Alert {
            attrs: own_attrs(self.attrs),
            cmd_id: own_opt(self.cmd_id),
            no_resp: self.no_resp,
            cred: self.cred.map(|c| Box::new(c.into_owned())),
            data: self.data.map(Data::into_owned),
            correlator: own_opt(self.correlator),
            items: self.items.into_iter().map(Item::into_owned).collect(),
            extra: own_raw(self.extra),
        }
    }
}

/// `Atomic` and `Sequence`: `CmdID, NoResp?, Meta?, commands+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Container<'a> {
    /// Attributes on the element.
    pub attrs: Vec<Attr<'a>>,
    /// `CmdID`.
    pub cmd_id: Option<Cow<'a, str>>,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Meta`.
    pub meta: Option<Box<Meta<'a>>>,
    /// Nested commands (and unknown elements) in document order.
    pub commands: Vec<Command<'a>>,
}

impl Container<'_> {
    /// Detaches the container from the input it borrows from.
    pub fn into_owned(self) -> Container<'static> {
        Container {
            attrs: own_attrs(self.attrs),
            cmd_id: own_opt(self.cmd_id),
            no_resp: self.no_resp,
            meta: self.meta.map(|m| Box::new(m.into_owned())),
            commands: self.commands.into_iter().map(Command::into_owned).collect(),
        }
    }
}

/// `<Results>`: `CmdID, MsgRef?, CmdRef, Cmd?, Meta?, TargetRef*, SourceRef*, Item+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Results<'a> {
    /// Attributes on `<Results>`.
    pub attrs: Vec<Attr<'a>>,
    /// `CmdID`.
    pub cmd_id: Option<Cow<'a, str>>,
    /// `MsgRef`: the message of the `Get` (defaults to 1 when absent).
    pub msg_ref: Option<Cow<'a, str>>,
    /// `CmdRef`: the `Get`'s `CmdID`.
    pub cmd_ref: Option<Cow<'a, str>>,
    /// `Cmd` (Windows writes it; not in the OMA DTD).
    pub cmd: Option<Cow<'a, str>>,
    /// `Meta`.
    pub meta: Option<Box<Meta<'a>>>,
    /// `TargetRef`s.
    pub target_refs: Vec<Cow<'a, str>>,
    /// `SourceRef`s.
    pub source_refs: Vec<Cow<'a, str>>,
    /// The result items.
    pub items: Vec<Item<'a>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl Results<'_> {
    /// Detaches the results from the input it borrows from.
    pub fn into_owned(self) -> Results<'static> {
        Results {
            attrs: own_attrs(self.attrs),
            cmd_id: own_opt(self.cmd_id),
            msg_ref: own_opt(self.msg_ref),
            cmd_ref: own_opt(self.cmd_ref),
            cmd: own_opt(self.cmd),
            meta: self.meta.map(|m| Box::new(m.into_owned())),
            target_refs: self.target_refs.into_iter().map(own).collect(),
            source_refs: self.source_refs.into_iter().map(own).collect(),
            items: self.items.into_iter().map(Item::into_owned).collect(),
            extra: own_raw(self.extra),
        }
    }
}

/// `<Status>`: `CmdID, MsgRef, CmdRef, Cmd, TargetRef*, SourceRef*, Cred?, Chal?, Data, Item*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Status<'a> {
    /// Attributes on `<Status>`.
    pub attrs: Vec<Attr<'a>>,
    /// `CmdID`.
    pub cmd_id: Option<Cow<'a, str>>,
    /// `MsgRef`: the `MsgID` of the message holding the command.
    pub msg_ref: Option<Cow<'a, str>>,
    /// `CmdRef`: the command's `CmdID` (`0` for the `SyncHdr`).
    pub cmd_ref: Option<Cow<'a, str>>,
    /// `Cmd`: the command's element name, or `SyncHdr`.
    pub cmd: Option<Cow<'a, str>>,
    /// `TargetRef`s.
    pub target_refs: Vec<Cow<'a, str>>,
    /// `SourceRef`s.
    pub source_refs: Vec<Cow<'a, str>>,
    /// `Cred`.
    pub cred: Option<Box<Cred<'a>>>,
    /// `Chal`: an authentication challenge (with 401/407, or the next nonce).
    pub chal: Option<Box<Chal<'a>>>,
    /// `Data`: the status code as text (see [`Status::code`]), with attributes such as
    /// `msft:originalerror`.
    pub data: Option<Data<'a>>,
    /// Items.
    pub items: Vec<Item<'a>>,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl Status<'_> {
    /// The status code, if `Data` holds a number.
    pub fn code(&self) -> Option<StatusCode> {
        self.data
            .as_ref()?
            .as_str()
            .trim()
            .parse()
            .ok()
            .map(StatusCode)
    }

    /// The HRESULT Windows puts in `msft:originalerror` (SyncApplicationVersion 3.0+): the
    /// attribute `originalerror` in [`MDM_NAMESPACE`], whatever its prefix.
    pub fn original_error(&self) -> Option<&str> {
        self.data
            .as_ref()?
            .attr_ns(MDM_NAMESPACE, "msft", "originalerror")
    }

    /// Detaches the status from the input it borrows from.
    pub fn into_owned(self) -> Status<'static> {
        Status {
            attrs: own_attrs(self.attrs),
            cmd_id: own_opt(self.cmd_id),
            msg_ref: own_opt(self.msg_ref),
            cmd_ref: own_opt(self.cmd_ref),
            cmd: own_opt(self.cmd),
            target_refs: self.target_refs.into_iter().map(own).collect(),
            source_refs: self.source_refs.into_iter().map(own).collect(),
            cred: self.cred.map(|c| Box::new(c.into_owned())),
            chal: self.chal.map(|c| Box::new(c.into_owned())),
            data: self.data.map(Data::into_owned),
            items: self.items.into_iter().map(Item::into_owned).collect(),
            extra: own_raw(self.extra),
        }
    }
}

/// `<Item>`: `Target?, Source?, SourceParent?, TargetParent?, Meta?, Data?, MoreData?`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Item<'a> {
    /// Attributes on `<Item>`.
    pub attrs: Vec<Attr<'a>>,
    /// `Target`.
    pub target: Option<Location<'a>>,
    /// `Source`.
    pub source: Option<Location<'a>>,
    /// `SourceParent`.
    pub source_parent: Option<Box<Location<'a>>>,
    /// `TargetParent`.
    pub target_parent: Option<Box<Location<'a>>>,
    /// `Meta`, boxed: it is rare on items in most traffic, and an `Item` without one stays
    /// small (`Results` of thousands of items).
    pub meta: Option<Box<Meta<'a>>>,
    /// `Data`.
    pub data: Option<Data<'a>>,
    /// `MoreData`: more chunks of this large object follow.
    pub more_data: bool,
    /// Unknown children, kept verbatim.
    pub extra: Vec<RawElement<'a>>,
}

impl Item<'_> {
    /// The target `LocURI`, if any.
    pub fn target_uri(&self) -> Option<&str> {
        self.target.as_ref()?.loc_uri.as_deref()
    }

    /// The source `LocURI`, if any.
    pub fn source_uri(&self) -> Option<&str> {
        self.source.as_ref()?.loc_uri.as_deref()
    }

    /// Detaches the item from the input it borrows from.
    pub fn into_owned(self) -> Item<'static> {
        Item {
            attrs: own_attrs(self.attrs),
            target: self.target.map(Location::into_owned),
            source: self.source.map(Location::into_owned),
            source_parent: self.source_parent.map(|l| Box::new(l.into_owned())),
            target_parent: self.target_parent.map(|l| Box::new(l.into_owned())),
            meta: self.meta.map(|m| Box::new(m.into_owned())),
            data: self.data.map(Data::into_owned),
            more_data: self.more_data,
            extra: own_raw(self.extra),
        }
    }
}
