//! Profiles as desired state: what a server needs to install a profile (SyncML commands an
//! administrator wrote), verify it with the protocol itself, retry, and remove it, without
//! doing any IO.
//!
//! A profile is a SyncML fragment: top-level `Add`, `Replace`, `Exec`, `Delete`, `Atomic` or
//! `Sequence` commands without the `<SyncML>` envelope (decoded with
//! [`winmdm_syncml::decode_commands`], like the [linter](crate::lint_profile)).
//!
//! * [`Profile::parse`] reads it into [`Setting`]s (every `Add`/`Replace` item, in document
//!   order: LocURI, Meta `Format` and `Type`, `Data`, whether it sits in `<Atomic>`) and
//!   [`Action`]s (`Exec` and `Delete` items: sent, never verified). `Get` (and `Copy`,
//!   `Alert`, `Results`, `Status`, unknown elements) is **rejected** with
//!   [`ProfileError::Unsupported`]: a profile states what the device should hold, reading
//!   is what [`Profile::verify_commands`] does. A whole `<SyncML>` message, and empty input,
//!   are the codec's errors ([`ProfileError::Decode`]).
//! * [`Profile::install_commands`]: one SyncML text fragment per top-level command (an
//!   `<Atomic>` or `<Sequence>` stays one command), in canonical encoding, CmdIDs `1`, `2`...
//!   as placeholders. The server decodes each with [`winmdm_syncml::decode_commands`] and hands
//!   the command to `winmdm_omadm::server::ServerSession::push_raw`, which assigns the real CmdIDs
//!   (nested ones included). Text is returned rather than `winmdm_omadm::DmCommand` so that
//!   this crate does not depend on the session engine, and so that the server can store
//!   each command as a row.
//! * [`Profile::verify_commands`]: `Get` commands of every verifiable setting (at most
//!   [`VERIFY_ITEMS_PER_GET`] items each); Windows answers with one `Results` item per node.
//!   [`Profile::verify_result`] takes such an item, finds its setting and compares
//!   ([`verify`]: by meaning, see there).
//! * [`retry_as_replace`] / [`retry_item_as_replace`]: an `Add` answered 418 (Already exists)
//!   becomes the same item(s) as `Replace`.
//! * [`removal_commands`]: `Delete`s for what a removed profile set and no profile still
//!   assigned to the device sets.
//! * [`SettingState`]: the state of one setting or action, stored as text
//!   ([`SettingState::as_str`], `Display` and `FromStr`).
//!
//! LocURIs are compared exactly (ASCII case matters), after one normalization
//! ([`normalize_loc_uri`]): `./Vendor/MSFT/...` is `./Device/Vendor/MSFT/...`, the same
//! device-scoped node for Windows. `./User/Vendor/MSFT/...` is a different node, and so are
//! the other roots (`./DevDetail`, `./SyncML`...).
//!
//! ```
//! use winmdm_csp::profile::{Profile, SettingState, Verification, verify};
//!
//! let profile = Profile::parse(r#"
//!   <Replace><CmdID>1</CmdID><Item>
//!     <Target><LocURI>./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera</LocURI></Target>
//!     <Meta><Format xmlns="syncml:metinf">int</Format></Meta><Data>0</Data></Item></Replace>
//!   <Replace><CmdID>2</CmdID><Item>
//!     <Target><LocURI>./Device/Vendor/MSFT/Policy/Config/ADMX_TerminalServer/TS_KEEP_ALIVE</LocURI></Target>
//!     <Meta><Format xmlns="syncml:metinf">chr</Format></Meta>
//!     <Data>&lt;enabled/&gt;&lt;data id="TS_KEEP_ALIVE_INTERVAL" value="5"/&gt;</Data></Item></Replace>
//! "#)?;
//! assert_eq!(profile.settings().len(), 2);
//!
//! // Install: one fragment per top-level command, for server::ServerSession::push_raw.
//! let install = profile.install_commands();
//! assert_eq!(install.len(), 2);
//! assert!(install[0].starts_with("<Replace><CmdID>1</CmdID>"));
//!
//! // Verify: one Get of both nodes, then compare what the device returned.
//! let get = profile.verify_commands();
//! assert_eq!(get.len(), 1);
//! assert_eq!(get[0].matches("<Item>").count(), 2);
//!
//! let camera = &profile.settings()[0];
//! assert_eq!(verify(camera, Some("0"), Some("int")), Verification::Verified);
//! let admx = &profile.settings()[1];
//! let answer = r#"<enabled/> <data value='5' id='TS_KEEP_ALIVE_INTERVAL'/>"#;
//! assert_eq!(verify(admx, Some(answer), Some("chr")), Verification::Verified);
//! let drift = verify(camera, Some("1"), Some("int"));
//! assert!(matches!(drift, Verification::Drift { .. }));
//!
//! // What the server stores per setting.
//! let state = SettingState::from(drift);
//! assert_eq!(state.as_str(), "drift");
//! assert_eq!(state.to_string().parse::<SettingState>().unwrap(), state);
//! # Ok::<(), winmdm_csp::profile::ProfileError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use winmdm_syncml::{Command, Container, DecodeError, EncodeOptions, Item, ItemCommand, Location};

use crate::catalog::Catalog;
use crate::def::Access;
use crate::path::{CspPath, CspPathError};
use crate::value::{AdmxValue, CspValue, parse_int};

/// The most items [`Profile::verify_commands`] puts into one `Get` (so that one command stays
/// well below a device's `MaxMsgSize`: 100 items of about 120 bytes each).
pub const VERIFY_ITEMS_PER_GET: usize = 100;

/// Why a profile could not be read. Positions are 1-based lines and columns (characters) and
/// byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Not SyncML commands (the codec's error, with its position).
    #[error("not SyncML commands: {0}")]
    Decode(#[from] DecodeError),
    /// A command that has no place in a profile (`Get`, `Copy`, `Alert`, `Results`, `Status`,
    /// an unknown element).
    #[error("{line}:{column}: <{command}> is not allowed in a profile: {reason}")]
    Unsupported {
        /// The element name.
        command: String,
        /// Why.
        reason: &'static str,
        /// Byte offset of the element.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// An `Add`, `Replace`, `Exec` or `Delete` item without a Target LocURI.
    #[error("{line}:{column}: {command} item without Target LocURI")]
    NoTarget {
        /// The command.
        command: &'static str,
        /// Byte offset of the command.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A malformed LocURI ([`CspPath`] rules).
    #[error("{line}:{column}: malformed LocURI {loc_uri:?}: {error}")]
    BadLocUri {
        /// The LocURI as written (trimmed).
        loc_uri: String,
        /// What is wrong with it.
        error: CspPathError,
        /// Byte offset of the LocURI text.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The profile holds no command (the codec reports empty input itself, as
    /// [`ProfileError::Decode`]).
    #[error("the profile holds no command")]
    Empty,
    /// A command could not be encoded again (a character XML 1.0 cannot represent).
    #[error("cannot encode the command: {0}")]
    Encode(String),
}

/// The verb of a [`Setting`] or an [`Action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `Add`: creates the node (418 if it exists, see [`retry_as_replace`]).
    Add,
    /// `Replace`: sets the node.
    Replace,
    /// `Exec`: runs the node (an action).
    Exec,
    /// `Delete`: removes the node (an action; for a Policy node: "not configured").
    Delete,
}

impl Verb {
    /// The element name (`Add`, `Replace`, `Exec`, `Delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "Add",
            Verb::Replace => "Replace",
            Verb::Exec => "Exec",
            Verb::Delete => "Delete",
        }
    }
}

impl FromStr for Verb {
    type Err = SettingStateError;

    /// Reads [`Verb::as_str`] back (exact case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "Add" => Verb::Add,
            "Replace" => Verb::Replace,
            "Exec" => Verb::Exec,
            "Delete" => Verb::Delete,
            _ => return Err(SettingStateError(s.to_string())),
        })
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node a profile sets: an item of an `Add` or `Replace`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// [`Verb::Add`] or [`Verb::Replace`].
    pub verb: Verb,
    /// The Target LocURI, trimmed, as written (see [`Setting::normalized_uri`]).
    pub loc_uri: String,
    /// Meta `Format` of the item, else of the command (`int`, `chr`, `bool`, `xml`, `node`...).
    pub format: Option<String>,
    /// Meta `Type` of the item, else of the command (`text/plain`...).
    pub r#type: Option<String>,
    /// The `Data` content: unescaped text, CDATA contents, or raw inner markup.
    pub data: Option<String>,
    /// Whether the item sits in an `<Atomic>` (at any depth).
    pub in_atomic: bool,
    /// The index of its top-level command in [`Profile::install_commands`].
    pub command: usize,
}

impl Setting {
    /// A setting rebuilt from stored columns (e.g. to [`verify`] a row without parsing its
    /// profile again): not in an Atomic, command index 0, no Meta `Type`.
    ///
    /// ```
    /// use winmdm_csp::profile::{Setting, Verb, Verification, verify};
    /// let s = Setting::new(Verb::Replace, "./Vendor/MSFT/Policy/Config/Camera/AllowCamera",
    ///                      Some("int"), Some("0"));
    /// assert_eq!(verify(&s, Some(" 0 "), None), Verification::Verified);
    /// ```
    pub fn new(verb: Verb, loc_uri: &str, format: Option<&str>, data: Option<&str>) -> Setting {
        Setting {
            verb,
            loc_uri: loc_uri.trim().to_string(),
            format: format.map(|f| f.trim().to_string()),
            r#type: None,
            data: data.map(str::to_string),
            in_atomic: false,
            command: 0,
        }
    }

    /// [`normalize_loc_uri`] of the LocURI: the key to compare nodes by.
    pub fn normalized_uri(&self) -> Cow<'_, str> {
        normalize_loc_uri(&self.loc_uri)
    }

    /// Whether a `Get` can confirm it: a value (`Data` present), not an interior node
    /// (`Format node`) or `null`, and no query (`?list=...`) in the LocURI.
    pub fn is_verifiable(&self) -> bool {
        let fmt = self.format.as_deref().map(str::trim).unwrap_or("chr");
        self.data.is_some()
            && !fmt.eq_ignore_ascii_case("node")
            && !fmt.eq_ignore_ascii_case("null")
            && !self.loc_uri.contains('?')
    }
}

/// An `Exec` or `Delete` item of a profile: sent with the profile, never verified (its 2xx
/// status is the only confirmation there is).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Action {
    /// [`Verb::Exec`] or [`Verb::Delete`].
    pub verb: Verb,
    /// The Target LocURI, trimmed, as written.
    pub loc_uri: String,
    /// Meta `Format` of the item, else of the command.
    pub format: Option<String>,
    /// Meta `Type` of the item, else of the command.
    pub r#type: Option<String>,
    /// The `Data` content, if any.
    pub data: Option<String>,
    /// Whether the item sits in an `<Atomic>`.
    pub in_atomic: bool,
    /// The index of its top-level command in [`Profile::install_commands`].
    pub command: usize,
}

/// A parsed profile. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    settings: Vec<Setting>,
    actions: Vec<Action>,
    commands: Vec<String>,
}

/// `./Vendor/MSFT/...` as `./Device/Vendor/MSFT/...` (the same device-scoped node for
/// Windows); any other LocURI unchanged but trimmed.
///
/// ```
/// use winmdm_csp::profile::normalize_loc_uri;
/// assert_eq!(normalize_loc_uri("./Vendor/MSFT/BitLocker/RequireDeviceEncryption"),
///            "./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryption");
/// assert_eq!(normalize_loc_uri("./User/Vendor/MSFT/Policy/Config/A/B"), "./User/Vendor/MSFT/Policy/Config/A/B");
/// ```
pub fn normalize_loc_uri(loc_uri: &str) -> Cow<'_, str> {
    let u = loc_uri.trim();
    match u.strip_prefix("./Vendor/MSFT/") {
        Some(rest) => Cow::Owned(format!("./Device/Vendor/MSFT/{rest}")),
        None => Cow::Borrowed(u),
    }
}

/// The parent of a LocURI (`None` for a single segment).
fn parent(uri: &str) -> Option<&str> {
    uri.rsplit_once('/').map(|(p, _)| p)
}

/// Whether `node` is `ancestor` or lies below it (normalized LocURIs).
fn is_at_or_below(node: &str, ancestor: &str) -> bool {
    node == ancestor
        || (node.len() > ancestor.len()
            && node.starts_with(ancestor)
            && node.as_bytes()[ancestor.len()] == b'/')
}

struct Parser<'t> {
    text: &'t str,
    cursor: usize,
    settings: Vec<Setting>,
    actions: Vec<Action>,
    command: usize,
}

impl Parser<'_> {
    /// The offset of the next `needle` after the cursor (the model keeps no offsets, so
    /// elements are located in document order; a prefixed name is not found and yields the
    /// cursor).
    fn locate(&mut self, needle: &str) -> usize {
        match self.text[self.cursor..].find(needle) {
            Some(i) => {
                let at = self.cursor + i;
                self.cursor = at + needle.len();
                at
            }
            None => self.cursor,
        }
    }

    fn pos(&self, offset: usize) -> (usize, usize) {
        let p = winmdm_ddf::Position::locate(self.text, offset);
        (p.line, p.column)
    }

    fn unsupported(&mut self, command: &str, reason: &'static str) -> ProfileError {
        let offset = self.locate(&format!("<{command}"));
        let (line, column) = self.pos(offset);
        ProfileError::Unsupported {
            command: command.to_string(),
            reason,
            offset,
            line,
            column,
        }
    }

    fn commands(&mut self, commands: &[Command<'_>], in_atomic: bool) -> Result<(), ProfileError> {
        for c in commands {
            match c {
                Command::Atomic(a) => {
                    self.locate("<Atomic");
                    self.commands(&a.commands, true)?;
                }
                Command::Sequence(s) => {
                    self.locate("<Sequence");
                    self.commands(&s.commands, in_atomic)?;
                }
                Command::Add(i) => self.items(Verb::Add, i, in_atomic)?,
                Command::Replace(i) => self.items(Verb::Replace, i, in_atomic)?,
                Command::Exec(i) => self.items(Verb::Exec, i, in_atomic)?,
                Command::Delete(i) => self.items(Verb::Delete, i, in_atomic)?,
                Command::Get(_) => {
                    return Err(self.unsupported(
                        "Get",
                        "a profile states what the device should hold; reading it back is \
                         Profile::verify_commands",
                    ));
                }
                other => {
                    let name = other.name().to_string();
                    return Err(self.unsupported(
                        &name,
                        "a profile holds only Add, Replace, Exec, Delete, Atomic and Sequence",
                    ));
                }
            }
        }
        Ok(())
    }

    fn items(
        &mut self,
        verb: Verb,
        cmd: &ItemCommand<'_>,
        in_atomic: bool,
    ) -> Result<(), ProfileError> {
        let start = self.locate(&format!("<{}", verb.as_str()));
        let cmd_format = cmd.meta.as_ref().and_then(|m| m.format.as_deref());
        let cmd_type = cmd.meta.as_ref().and_then(|m| m.r#type.as_deref());
        for item in &cmd.items {
            let Some(uri) = item.target_uri() else {
                let (line, column) = self.pos(start);
                return Err(ProfileError::NoTarget {
                    command: verb.as_str(),
                    offset: start,
                    line,
                    column,
                });
            };
            let at = self.locate("<LocURI");
            let uri = uri.trim();
            let path = uri.split_once('?').map_or(uri, |(p, _)| p);
            if let Err(error) = CspPath::try_from(path) {
                let offset = self.text[at..]
                    .find('>')
                    .map_or(at, |i| at + i + 1)
                    .min(self.text.len());
                let (line, column) = self.pos(offset);
                return Err(ProfileError::BadLocUri {
                    loc_uri: uri.to_string(),
                    error,
                    offset,
                    line,
                    column,
                });
            }
            let meta = item.meta.as_ref();
            let format = meta
                .and_then(|m| m.format.as_deref())
                .or(cmd_format)
                .map(|s| s.trim().to_string());
            let r#type = meta
                .and_then(|m| m.r#type.as_deref())
                .or(cmd_type)
                .map(|s| s.trim().to_string());
            let data = item.data.as_ref().map(|d| d.as_str().to_string());
            match verb {
                Verb::Add | Verb::Replace => self.settings.push(Setting {
                    verb,
                    loc_uri: uri.to_string(),
                    format,
                    r#type,
                    data,
                    in_atomic,
                    command: self.command,
                }),
                Verb::Exec | Verb::Delete => self.actions.push(Action {
                    verb,
                    loc_uri: uri.to_string(),
                    format,
                    r#type,
                    data,
                    in_atomic,
                    command: self.command,
                }),
            }
        }
        Ok(())
    }
}

/// Sets CmdIDs `1`, `2`... (placeholders: the session engine assigns its own).
fn number(cmd: &mut Command<'_>, next: &mut u32) {
    let id = |n: &mut u32| {
        let s = n.to_string();
        *n += 1;
        Some(Cow::Owned(s))
    };
    match cmd {
        Command::Add(c)
        | Command::Copy(c)
        | Command::Delete(c)
        | Command::Exec(c)
        | Command::Get(c)
        | Command::Replace(c) => c.cmd_id = id(next),
        Command::Atomic(c) | Command::Sequence(c) => {
            c.cmd_id = id(next);
            for k in &mut c.commands {
                number(k, next);
            }
        }
        _ => {}
    }
}

fn encode(cmd: &Command<'_>) -> Result<String, ProfileError> {
    let mut out = Vec::with_capacity(cmd.encoded_len());
    winmdm_syncml::encode_commands(
        std::slice::from_ref(cmd),
        &mut out,
        &EncodeOptions::default(),
    )
    .map_err(|e| ProfileError::Encode(e.to_string()))?;
    String::from_utf8(out).map_err(|e| ProfileError::Encode(e.to_string()))
}

impl Profile {
    /// Reads a profile (see the [module docs](self) for what is accepted and rejected).
    ///
    /// Errors: [`ProfileError::Decode`] (not SyncML, with the codec's position),
    /// [`ProfileError::Unsupported`] (`Get` and the other commands that have no place in a
    /// profile), [`ProfileError::NoTarget`], [`ProfileError::BadLocUri`],
    /// [`ProfileError::Empty`].
    pub fn parse(fragment: &str) -> Result<Profile, ProfileError> {
        let commands = winmdm_syncml::decode_commands(fragment.as_bytes())?;
        let mut p = Parser {
            text: fragment,
            cursor: 0,
            settings: Vec::new(),
            actions: Vec::new(),
            command: 0,
        };
        let mut encoded = Vec::with_capacity(commands.len());
        for (i, c) in commands.iter().enumerate() {
            p.command = i;
            p.commands(std::slice::from_ref(c), false)?;
            let mut c = c.clone();
            number(&mut c, &mut 1);
            encoded.push(encode(&c)?);
        }
        if encoded.is_empty() {
            return Err(ProfileError::Empty);
        }
        Ok(Profile {
            settings: p.settings,
            actions: p.actions,
            commands: encoded,
        })
    }

    /// The nodes the profile sets (`Add`/`Replace` items), in document order.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The `Exec` and `Delete` items, in document order.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The setting of a node (the last one, if the profile sets it twice: that value wins);
    /// LocURIs compared after [`normalize_loc_uri`].
    pub fn setting(&self, loc_uri: &str) -> Option<&Setting> {
        let key = normalize_loc_uri(loc_uri);
        self.settings
            .iter()
            .rev()
            .find(|s| s.normalized_uri() == key)
    }

    /// The commands to send: one SyncML fragment per top-level command of the profile, in
    /// order, an `<Atomic>` or `<Sequence>` kept as one command; canonical encoding, CmdIDs
    /// numbered from 1 in each fragment (placeholders: `ServerSession::push_raw` of
    /// `winmdm-omadm` assigns the real ones, nested ones included).
    ///
    /// Each decodes with [`winmdm_syncml::decode_commands`] to exactly one command.
    pub fn install_commands(&self) -> Vec<String> {
        self.commands.clone()
    }

    /// `Get` commands (SyncML fragments, CmdID placeholder `1`) reading back the
    /// [`Profile::verifiable_settings`], each node once (a node set twice is
    /// read once and compared with its last value, [`Profile::setting`]), at most
    /// [`VERIFY_ITEMS_PER_GET`] items per `Get`. Empty when nothing is verifiable.
    ///
    /// Send them after the install commands succeeded (2xx); Windows answers each `Get`
    /// with `Results` holding one item per node (Source LocURI, Meta Format, Data), and a
    /// Status for the Get (404 when a node is not set). Feed the items to
    /// [`Profile::verify_result`].
    pub fn verify_commands(&self) -> Vec<String> {
        self.gets(|_| true)
    }

    /// [`Profile::verify_commands`] without the nodes the catalog says cannot be read (no
    /// `Get` in their AccessType: passwords, PFX blobs...; the device would answer 405).
    /// Nodes the catalog does not know are read.
    pub fn verify_commands_with(&self, catalog: &Catalog) -> Vec<String> {
        self.gets(|s| match catalog.lookup(&s.loc_uri) {
            Ok(m) => m.def.access.contains(Access::GET),
            Err(_) => true,
        })
    }

    /// The settings [`Profile::verify_commands`] reads, in order, each node once: the
    /// [verifiable](Setting::is_verifiable) ones, except the inputs of an `Exec` of the same
    /// profile (siblings of its target, e.g. `SCEP/{ID}/Install/RetryCount` beside
    /// `SCEP/{ID}/Install/Enroll`): parameters of a one-shot action, not state the device
    /// keeps.
    pub fn verifiable_settings(&self) -> Vec<&Setting> {
        let exec_parents: Vec<String> = self
            .actions
            .iter()
            .filter(|a| a.verb == Verb::Exec)
            .filter_map(|a| parent(&normalize_loc_uri(&a.loc_uri)).map(str::to_string))
            .collect();
        let mut seen = std::collections::HashSet::new();
        self.settings
            .iter()
            .filter(|s| s.is_verifiable())
            .filter(|s| {
                let n = s.normalized_uri();
                !parent(&n).is_some_and(|p| exec_parents.iter().any(|e| e == p))
            })
            .filter(|s| seen.insert(s.normalized_uri().into_owned()))
            .collect()
    }

    fn gets(&self, keep: impl Fn(&Setting) -> bool) -> Vec<String> {
        let uris: Vec<&str> = self
            .verifiable_settings()
            .into_iter()
            .filter(|s| keep(s))
            .map(|s| s.loc_uri.as_str())
            .collect();
        uris.chunks(VERIFY_ITEMS_PER_GET)
            .filter_map(|chunk| {
                let cmd = Command::Get(Box::new(ItemCommand {
                    cmd_id: Some(Cow::Borrowed("1")),
                    items: chunk
                        .iter()
                        .map(|u| Item {
                            target: Some(Location::uri(*u)),
                            ..Item::default()
                        })
                        .collect(),
                    ..ItemCommand::default()
                }));
                encode(&cmd).ok()
            })
            .collect()
    }

    /// Verifies one `Results` item of a verification `Get`: finds the setting by the item's
    /// Source LocURI (else its Target), then [`verify`]s the item's Data and Meta Format.
    /// `None` when no setting of this profile has that LocURI.
    pub fn verify_result(&self, item: &Item<'_>) -> Option<(&Setting, Verification)> {
        let uri = item.source_uri().or_else(|| item.target_uri())?;
        let setting = self.setting(uri)?;
        let data = item.data.as_ref().map(|d| d.as_str());
        let format = item.meta.as_ref().and_then(|m| m.format.as_deref());
        Some((setting, verify(setting, data, format)))
    }
}

/// The result of comparing a setting with what the device returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The device holds the value (by meaning, see [`verify`]).
    Verified,
    /// It holds something else, or nothing.
    Drift {
        /// The value the profile sets ([`Setting::data`]).
        expected: String,
        /// What the device returned; `None` when it returned no value (no Results item, or
        /// one without Data).
        actual: Option<String>,
    },
}

/// Compares a setting with the `Data` and Meta `Format` of the device's `Results` item, by
/// meaning. The format is the setting's, else the result's, else `chr`:
///
/// * `int`: numerically (`0x10` = `16`, surrounding whitespace ignored); exactly if either
///   side is not an integer;
/// * `bool`: ASCII case ignored, surrounding whitespace ignored;
/// * `b64`: whitespace ignored;
/// * `xml`: canonical forms equal (attribute order, quoting, escaping, namespace prefixes
///   as written, whitespace-only text between elements, comments and the XML declaration
///   do not matter; text is trimmed); exactly if either side is not well-formed;
/// * `chr` and anything else: exactly, with two exceptions:
///   an ADMX-backed value (`<enabled/>` with `<data id= value=>` children, or `<disabled/>`,
///   read by [`AdmxValue`]) equals another with the same data elements, whatever their
///   order, attribute order, whitespace, quoting or escaping (ids and values are compared
///   exactly); a value that is an XML element (a WLAN profile, an AppLocker policy) is
///   compared like `xml`.
///
/// A setting without `Data` is verified when the device returned no value or an empty one.
pub fn verify(
    setting: &Setting,
    result_data: Option<&str>,
    result_format: Option<&str>,
) -> Verification {
    let expected = setting.data.as_deref().unwrap_or("");
    let drift = || Verification::Drift {
        expected: expected.to_string(),
        actual: result_data.map(str::to_string),
    };
    let Some(actual) = result_data else {
        return if setting.data.is_none() {
            Verification::Verified
        } else {
            drift()
        };
    };
    let format = setting
        .format
        .as_deref()
        .or(result_format)
        .map(str::trim)
        .unwrap_or("chr")
        .to_ascii_lowercase();
    if same_value(&format, expected, actual) {
        Verification::Verified
    } else {
        drift()
    }
}

fn same_value(format: &str, expected: &str, actual: &str) -> bool {
    match format {
        "int" => match (parse_int(expected), parse_int(actual)) {
            (Ok(a), Ok(b)) => a == b,
            _ => expected == actual,
        },
        "bool" => expected.trim().eq_ignore_ascii_case(actual.trim()),
        "b64" => {
            let strip = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
            strip(expected) == strip(actual)
        }
        "xml" => same_xml(expected, actual),
        _ => {
            if expected == actual {
                return true;
            }
            let t = expected.trim_start();
            if t.starts_with("<enabled") || t.starts_with("<disabled") {
                return match (AdmxValue::from_data(expected), AdmxValue::from_data(actual)) {
                    (Ok(a), Ok(b)) => same_admx(a, b),
                    _ => false,
                };
            }
            t.starts_with('<') && same_xml(expected, actual)
        }
    }
}

fn same_admx(a: AdmxValue, b: AdmxValue) -> bool {
    match (a, b) {
        (AdmxValue::Disabled, AdmxValue::Disabled) => true,
        (AdmxValue::Enabled(mut a), AdmxValue::Enabled(mut b)) => {
            a.sort();
            b.sort();
            a == b
        }
        _ => false,
    }
}

fn same_xml(a: &str, b: &str) -> bool {
    match (canonical_xml(a), canonical_xml(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// A canonical form of an XML fragment (elements, and text between them): each element
/// with its name (namespace URI and local name; a prefix no declaration binds as written)
/// and its attributes sorted by name, values unescaped; text unescaped and trimmed
/// (whitespace-only text dropped), CDATA as text; comments, processing instructions, the
/// declaration and how namespaces are declared (which prefix, where) dropped. `None` if not
/// well-formed, or a DOCTYPE or an undefined entity is present. Read by winmdm-xml, inside a
/// wrapper element so that a fragment may hold several elements.
fn canonical_xml(s: &str) -> Option<Vec<String>> {
    let body = s.trim_start_matches('\u{feff}');
    let wrapped = format!("<winmdm-fragment>{body}</winmdm-fragment>");
    let options = winmdm_xml::ParseOptions::default()
        .with_unbound_prefixes(winmdm_xml::UnboundPrefixPolicy::NoNamespace);
    let root = winmdm_xml::parse_str(&wrapped, &options).ok()?;
    let mut out = Vec::new();
    canonical_content(&root.children, &mut out);
    Some(out)
}

/// [`canonical_xml`] of the children of an element: adjacent text (split only by comments
/// or processing instructions) is one text.
fn canonical_content(children: &[winmdm_xml::Node], out: &mut Vec<String>) {
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<String>| {
        let t = text.trim();
        if !t.is_empty() {
            out.push(format!("T{t}"));
        }
        text.clear();
    };
    for child in children {
        match child {
            winmdm_xml::Node::Text(t) => text.push_str(t),
            winmdm_xml::Node::Element(e) => {
                flush(&mut text, out);
                canonical_element(e, out);
            }
        }
    }
    flush(&mut text, out);
}

/// [`canonical_xml`] of one element: its start (name and sorted attributes), content, end.
fn canonical_element(e: &winmdm_xml::Element, out: &mut Vec<String>) {
    let name = |namespace: &Option<String>, prefix: &Option<String>, local: &str| match (
        namespace, prefix,
    ) {
        (Some(ns), _) => format!("{{{ns}}}{local}"),
        (None, Some(p)) => format!("{p}:{local}"),
        (None, None) => local.to_string(),
    };
    let mut attrs: Vec<(String, &str)> = e
        .attributes
        .iter()
        .map(|a| (name(&a.namespace, &a.prefix, &a.name), a.value.as_str()))
        .collect();
    attrs.sort();
    let mut start = format!("S{}", name(&e.namespace, &e.prefix, &e.name));
    for (k, v) in attrs {
        start.push_str(&format!(" {k}={v:?}"));
    }
    out.push(start);
    canonical_content(&e.children, out);
    out.push("E".to_string());
}

fn single_command(fragment: &str) -> Option<Command<'_>> {
    let mut cmds = winmdm_syncml::decode_commands(fragment.as_bytes()).ok()?;
    if cmds.len() == 1 { cmds.pop() } else { None }
}

/// The retry of an `Add` the device answered 418 (Already exists): the same command as
/// `Replace`, every item kept (same CmdID, Meta and Data). `None` when `status` is not 418,
/// or `command_fragment` is not exactly one `Add` (e.g. an `<Atomic>`: use
/// [`retry_item_as_replace`] with the item's LocURI).
///
/// ```
/// use winmdm_csp::profile::retry_as_replace;
/// let add = "<Add><CmdID>4</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/Y</LocURI></Target>\
///            <Data>1</Data></Item></Add>";
/// assert_eq!(retry_as_replace(add, 418).unwrap(),
///     "<Replace><CmdID>4</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/Y</LocURI></Target>\
///      <Data>1</Data></Item></Replace>");
/// assert_eq!(retry_as_replace(add, 200), None);
/// ```
pub fn retry_as_replace(command_fragment: &str, status: u16) -> Option<String> {
    if status != 418 {
        return None;
    }
    match single_command(command_fragment)? {
        Command::Add(c) => encode(&Command::Replace(c)).ok(),
        _ => None,
    }
}

/// The retry of one `Add` item answered 418 (Already exists), for a device that answered
/// per item (`Status` with a `TargetRef`) or an `Add` inside an `<Atomic>` or `<Sequence>`:
///
/// * `command_fragment` an `Add`: a `Replace` of only the item(s) whose Target LocURI is
///   `loc_uri` (after [`normalize_loc_uri`]);
/// * an `Atomic` or `Sequence` (rolled back as a whole when one of its commands failed):
///   the same container with that item turned into a `Replace` (its `Add` split when it
///   held other items, which stay `Add`s, in order), to be sent again as a whole.
///
/// `None` when `status` is not 418 or no `Add` item has that LocURI.
pub fn retry_item_as_replace(command_fragment: &str, loc_uri: &str, status: u16) -> Option<String> {
    if status != 418 {
        return None;
    }
    let key = normalize_loc_uri(loc_uri).into_owned();
    let matches = |i: &Item<'_>| i.target_uri().is_some_and(|u| normalize_loc_uri(u) == key);
    match single_command(command_fragment)? {
        Command::Add(mut c) => {
            c.items.retain(|i| matches(i));
            if c.items.is_empty() {
                return None;
            }
            encode(&Command::Replace(c)).ok()
        }
        Command::Atomic(mut c) => {
            split_in(&mut c, &matches).then(|| encode(&Command::Atomic(c)).ok())?
        }
        Command::Sequence(mut c) => {
            split_in(&mut c, &matches).then(|| encode(&Command::Sequence(c)).ok())?
        }
        _ => None,
    }
}

/// Turns the matching `Add` items of a container into `Replace`s; true if any did.
fn split_in(c: &mut Container<'_>, matches: &dyn Fn(&Item<'_>) -> bool) -> bool {
    let mut found = false;
    let mut out = Vec::with_capacity(c.commands.len());
    for cmd in std::mem::take(&mut c.commands) {
        match cmd {
            Command::Add(add) if add.items.iter().any(matches) => {
                found = true;
                // Runs of consecutive items with the same verb, in order.
                let mut run: Option<(bool, ItemCommand<'_>)> = None;
                for item in add.items.iter().cloned() {
                    let replace = matches(&item);
                    match &mut run {
                        Some((r, k)) if *r == replace => k.items.push(item),
                        _ => {
                            if let Some((r, k)) = run.take() {
                                out.push(if r {
                                    Command::Replace(Box::new(k))
                                } else {
                                    Command::Add(Box::new(k))
                                });
                            }
                            let mut k = ItemCommand::clone(&add);
                            k.items = vec![item];
                            run = Some((replace, k));
                        }
                    }
                }
                if let Some((r, k)) = run {
                    out.push(if r {
                        Command::Replace(Box::new(k))
                    } else {
                        Command::Add(Box::new(k))
                    });
                }
            }
            Command::Atomic(mut inner) => {
                found |= split_in(&mut inner, matches);
                out.push(Command::Atomic(inner));
            }
            Command::Sequence(mut inner) => {
                found |= split_in(&mut inner, matches);
                out.push(Command::Sequence(inner));
            }
            other => out.push(other),
        }
    }
    c.commands = out;
    if found {
        let mut next = 1;
        let mut tmp = Command::Atomic(Box::new(std::mem::take(c)));
        number(&mut tmp, &mut next);
        if let Command::Atomic(k) = tmp {
            *c = *k;
        }
    }
    found
}

/// The `Delete` commands (SyncML fragments, one per node, CmdID placeholder `1`) that undo
/// a profile removed from a device, given the profiles still assigned to it:
///
/// * each node `removed` sets (its `Add`/`Replace` items; its `Exec`/`Delete` actions are
///   not undone) is deleted, as written in `removed`, in document order, once;
/// * unless a still-assigned profile sets the same node (LocURIs compared exactly after
///   [`normalize_loc_uri`], so `./Vendor/MSFT/X` and `./Device/Vendor/MSFT/X` are one
///   node) or a node below it (deleting an interior node deletes its subtree);
/// * and unless a node above it is deleted too (its subtree goes with it; a second
///   `Delete` would fail with 404).
///
/// Editing a profile is a removal of the old version with the new one still assigned:
/// `removal_commands(&old, &[&new, ...])`, then the new version's
/// [`Profile::install_commands`].
///
/// For a Policy CSP node, `Delete` means "not configured". A node whose AccessType has no
/// `Delete` answers 405; the server should record that and not retry.
pub fn removal_commands(removed: &Profile, still_assigned: &[&Profile]) -> Vec<String> {
    let kept: Vec<String> = still_assigned
        .iter()
        .flat_map(|p| p.settings.iter())
        .map(|s| s.normalized_uri().into_owned())
        .collect();
    let mut candidates: Vec<(String, &str)> = Vec::new();
    for s in &removed.settings {
        let key = s.normalized_uri().into_owned();
        if candidates.iter().any(|(k, _)| *k == key) {
            continue;
        }
        if kept.iter().any(|k| is_at_or_below(k, &key)) {
            continue;
        }
        candidates.push((key, s.loc_uri.as_str()));
    }
    candidates
        .iter()
        .filter(|(key, _)| {
            !candidates
                .iter()
                .any(|(other, _)| other != key && is_at_or_below(key, other))
        })
        .filter_map(|(_, uri)| {
            encode(&Command::Delete(Box::new(ItemCommand {
                cmd_id: Some(Cow::Borrowed("1")),
                items: vec![Item {
                    target: Some(Location::uri(*uri)),
                    ..Item::default()
                }],
                ..ItemCommand::default()
            })))
            .ok()
        })
        .collect()
}

/// The state of one setting (or action) of a profile on one device, for the server to
/// store: [`SettingState::as_str`] is the state's name, `Display` / [`FromStr`] a text
/// form that keeps the details:
///
/// | state | text |
/// |---|---|
/// | `Pending` | `pending` |
/// | `Sent` | `sent` |
/// | `Verified` | `verified` |
/// | `Failed { status: 418, original_error: None }` | `failed:418` |
/// | `Failed { status: 500, original_error: Some("0x86000002") }` | `failed:500:0x86000002` |
/// | `Drift { actual: None }` | `drift` |
/// | `Drift { actual: Some("1") }` | `drift:1` (the rest of the text, verbatim) |
///
/// The usual course: `Pending` -> `Sent` (in a message; stays so on a 2xx status, see
/// [`SettingState::after_status`]) -> `Verified` or `Drift` (from [`Verification`], after
/// the verification `Get`), or `Failed` on an error status. An [`Action`] is never read
/// back: for it a 2xx status is final (store `Verified`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SettingState {
    /// Not sent yet.
    Pending,
    /// Sent; no error status (yet); not verified yet.
    Sent,
    /// Read back and equal by meaning.
    Verified,
    /// The device answered an error status.
    Failed {
        /// The status code (e.g. 404, 405, 418, 500).
        status: u16,
        /// `msft:originalerror` (an HRESULT such as `0x86000002`), when the device sent it.
        original_error: Option<String>,
    },
    /// Read back and different (the expected value is the setting's [`Setting::data`]).
    Drift {
        /// What the device returned, `None` when it returned no value.
        actual: Option<String>,
    },
}

impl SettingState {
    /// The state's name: `pending`, `sent`, `verified`, `failed` or `drift`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SettingState::Pending => "pending",
            SettingState::Sent => "sent",
            SettingState::Verified => "verified",
            SettingState::Failed { .. } => "failed",
            SettingState::Drift { .. } => "drift",
        }
    }

    /// The state after the device's Status for the command: 2xx keeps `Sent` (verification
    /// comes next), anything else is `Failed`.
    pub fn after_status(status: u16, original_error: Option<&str>) -> SettingState {
        if (200..300).contains(&status) {
            SettingState::Sent
        } else {
            SettingState::Failed {
                status,
                original_error: original_error.map(str::to_string),
            }
        }
    }

    /// `Verified`, `Failed` and `Drift`: nothing is outstanding.
    pub fn is_settled(&self) -> bool {
        !matches!(self, SettingState::Pending | SettingState::Sent)
    }
}

impl From<Verification> for SettingState {
    fn from(v: Verification) -> Self {
        match v {
            Verification::Verified => SettingState::Verified,
            Verification::Drift { actual, .. } => SettingState::Drift { actual },
        }
    }
}

impl fmt::Display for SettingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingState::Failed {
                status,
                original_error: Some(e),
            } => write!(f, "failed:{status}:{e}"),
            SettingState::Failed { status, .. } => write!(f, "failed:{status}"),
            SettingState::Drift { actual: Some(a) } => write!(f, "drift:{a}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Text that is not a [`SettingState`] (or a [`Verb`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a setting state: {0:?}")]
pub struct SettingStateError(pub String);

impl FromStr for SettingState {
    type Err = SettingStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SettingStateError(s.to_string());
        let (name, rest) = match s.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (s, None),
        };
        Ok(match (name, rest) {
            ("pending", None) => SettingState::Pending,
            ("sent", None) => SettingState::Sent,
            ("verified", None) => SettingState::Verified,
            ("drift", actual) => SettingState::Drift {
                actual: actual.map(str::to_string),
            },
            ("failed", Some(rest)) => {
                let (code, err) = match rest.split_once(':') {
                    Some((c, e)) => (c, Some(e.to_string())),
                    None => (rest, None),
                };
                SettingState::Failed {
                    status: code.parse().map_err(|_| bad())?,
                    original_error: err,
                }
            }
            _ => return Err(bad()),
        })
    }
}

/// The device's answer to one install command ([`Profile::install_commands`]), as a
/// server's session engine reports it (`winmdm_omadm::Outcome`).
#[derive(Debug, Clone, Copy, Default)]
pub struct InstallAnswer<'a> {
    /// The command's status code; `None` when the device never answered it.
    pub status: Option<u16>,
    /// Per-item statuses (`TargetRef`, code), when the device answered per item.
    pub item_statuses: &'a [(&'a str, u16)],
    /// For an `Atomic` or `Sequence`: the status of each command inside, in order.
    pub child_statuses: &'a [Option<u16>],
    /// `msft:originalerror`, when present.
    pub original_error: Option<&'a str>,
}

/// What follows from an [`InstallAnswer`] ([`Profile::install_outcome`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallOutcome {
    /// The new state of each setting the command set, in document order: `Sent` for a
    /// 2xx (read it back next), `Failed` otherwise.
    pub states: Vec<(String, SettingState)>,
    /// A command to send instead (418 on `Add`: the same item as `Replace`, see
    /// [`retry_item_as_replace`]); the settings it covers keep their state meanwhile.
    pub retry: Option<String>,
}

impl Profile {
    /// The settings' states after the device answered install command `command` (an index
    /// into [`install_commands`](Profile::install_commands), whose text was
    /// `fragment`). Each setting takes its item's status when the device answered per
    /// item, else (inside an `Atomic` or `Sequence` whose commands each hold one item) the
    /// status of its own command, else the command's status; no status at all counts as
    /// 500. The first `Add` answered 418 becomes [`InstallOutcome::retry`].
    ///
    /// ```
    /// use winmdm_csp::profile::{InstallAnswer, Profile, SettingState};
    /// let add = "<Add><CmdID>1</CmdID><Item><Target><LocURI>./Vendor/MSFT/A/B</LocURI></Target>\
    ///            <Data>1</Data></Item></Add>";
    /// let p = Profile::parse(add)?;
    /// let ok = p.install_outcome(0, add, &InstallAnswer { status: Some(200), ..Default::default() });
    /// assert_eq!(ok.states, vec![("./Vendor/MSFT/A/B".to_string(), SettingState::Sent)]);
    /// let exists = p.install_outcome(0, add, &InstallAnswer { status: Some(418), ..Default::default() });
    /// assert!(exists.states.is_empty() && exists.retry.unwrap().starts_with("<Replace>"));
    /// # Ok::<(), winmdm_csp::ProfileError>(())
    /// ```
    pub fn install_outcome(
        &self,
        command: usize,
        fragment: &str,
        answer: &InstallAnswer<'_>,
    ) -> InstallOutcome {
        let mut out = InstallOutcome::default();
        let in_command = self.settings.iter().filter(|s| s.command == command);
        for (i, s) in in_command.enumerate() {
            let key = s.normalized_uri();
            let code = answer
                .item_statuses
                .iter()
                .find(|(r, _)| normalize_loc_uri(r) == key)
                .map(|(_, c)| *c)
                .or_else(|| {
                    s.in_atomic
                        .then(|| answer.child_statuses.get(i).copied().flatten())
                        .flatten()
                })
                .or(answer.status)
                .unwrap_or(500);
            if out.retry.is_none()
                && let Some(retry) = retry_item_as_replace(fragment, &s.loc_uri, code)
            {
                out.retry = Some(retry);
                continue;
            }
            let state = SettingState::after_status(code, answer.original_error);
            out.states.push((s.loc_uri.clone(), state));
        }
        out
    }

    /// The settings' states after the device answered the verification `Get`s
    /// ([`verify_commands`](Profile::verify_commands)) with `results` (the `Results`
    /// items) and `status` (the Get's status). Each result is compared with
    /// [`Profile::verify_result`]; when the Get failed without results (404: a node is
    /// not set), every verifiable setting is `Drift` with no value. Returns (LocURI,
    /// state, index of the setting's install command).
    pub fn verify_outcome(
        &self,
        results: &[Item<'_>],
        status: Option<u16>,
    ) -> Vec<(String, SettingState, usize)> {
        let failed = !status.is_some_and(|s| (200..300).contains(&s));
        if failed && results.is_empty() {
            return self
                .verifiable_settings()
                .into_iter()
                .map(|s| {
                    (
                        s.loc_uri.clone(),
                        SettingState::Drift { actual: None },
                        s.command,
                    )
                })
                .collect();
        }
        results
            .iter()
            .filter_map(|item| self.verify_result(item))
            .map(|(s, v)| (s.loc_uri.clone(), SettingState::from(v), s.command))
            .collect()
    }
}
