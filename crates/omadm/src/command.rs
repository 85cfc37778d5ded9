//! Typed server commands: Get, Add, Replace, Delete, Exec, Atomic, Sequence.

use std::borrow::Cow;

use winmdm_syncml::{Command, CommandKind, Container, Item, ItemCommand, Location};

use crate::value::{Value, ValueError};
use winmdm_types::{LocUri, LocUriError};

/// Why a command cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An Atomic or Sequence without children, or an item command without items.
    #[error("{0} without content")]
    Empty(&'static str),
    /// Atomic inside Atomic (Windows answers 500 / 507).
    #[error("nested Atomic")]
    NestedAtomic,
    /// Get inside Atomic (Windows answers 500).
    #[error("Get inside Atomic")]
    GetInAtomic,
    /// A wire command with an invalid target `LocURI`.
    #[error("invalid LocURI {uri:?}: {error}")]
    InvalidUri {
        /// The URI as sent.
        uri: String,
        /// Why it is invalid.
        error: LocUriError,
    },
    /// A wire item whose data does not match its format.
    #[error("item {uri:?}: {error}")]
    InvalidValue {
        /// The item's target.
        uri: String,
        /// Why the value is invalid.
        error: ValueError,
    },
    /// A wire command that is not a server management command (Status, Results, ...).
    #[error("not a management command: {0}")]
    NotManagement(String),
}

/// One item of an Add, Replace or Exec: a target node and an optional value.
#[derive(Debug, Clone, PartialEq)]
pub struct DmItem {
    /// The node.
    pub target: LocUri<'static>,
    /// The value, sent as `Meta/Format` + `Data`.
    pub value: Option<Value<'static>>,
    /// An optional `Meta/Type` (MIME type such as `text/plain`).
    pub mime: Option<String>,
}

impl DmItem {
    /// An item with a value.
    pub fn new(target: LocUri<'_>, value: Value<'_>) -> Self {
        DmItem {
            target: target.into_owned(),
            value: Some(value.into_owned()),
            mime: None,
        }
    }

    /// An item without a value (Add of an interior node, Exec without data).
    pub fn bare(target: LocUri<'_>) -> Self {
        DmItem {
            target: target.into_owned(),
            value: None,
            mime: None,
        }
    }

    /// Sets `Meta/Type`.
    pub fn with_mime(mut self, mime: impl Into<String>) -> Self {
        self.mime = Some(mime.into());
        self
    }

    fn to_item(&self) -> Item<'static> {
        let mut meta = self.value.as_ref().map(Value::meta).unwrap_or_default();
        if let Some(m) = &self.mime {
            meta.r#type = Some(Cow::Owned(m.clone()));
        }
        Item {
            target: Some(Location::uri(self.target.as_str().to_owned())),
            meta: (!meta.is_empty()).then_some(Box::new(meta)),
            data: self.value.as_ref().and_then(Value::data),
            ..Item::default()
        }
    }
}

/// A typed management command a server sends.
///
/// ```
/// use winmdm_omadm::{DmCommand, LocUri, Value};
/// let uri = LocUri::try_from("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera")?;
/// let cmd = DmCommand::replace(uri, Value::Int(0));
/// let mut n = 0;
/// let wire = cmd.to_command(&mut || { n += 1; n.to_string() });
/// assert_eq!(wire.cmd_id(), Some("1"));
/// assert_eq!(wire.items()[0].data.as_ref().unwrap().as_str(), "0");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DmCommand {
    /// `Get` of one or more nodes.
    Get(Vec<LocUri<'static>>),
    /// `Add` of one or more nodes.
    Add(Vec<DmItem>),
    /// `Replace` of one or more nodes.
    Replace(Vec<DmItem>),
    /// `Delete` of one or more nodes.
    Delete(Vec<LocUri<'static>>),
    /// `Exec` of one node.
    Exec(DmItem),
    /// `Atomic`: all or nothing.
    Atomic(Vec<DmCommand>),
    /// `Sequence`: in order.
    Sequence(Vec<DmCommand>),
}

impl DmCommand {
    /// `Get` of one node.
    pub fn get(uri: LocUri<'_>) -> Self {
        DmCommand::Get(vec![uri.into_owned()])
    }

    /// `Add` of one leaf with a value.
    pub fn add(uri: LocUri<'_>, value: Value<'_>) -> Self {
        DmCommand::Add(vec![DmItem::new(uri, value)])
    }

    /// `Add` of an interior node (`Format node`, no data).
    pub fn add_node(uri: LocUri<'_>) -> Self {
        DmCommand::Add(vec![DmItem::new(uri, Value::Node(Vec::new()))])
    }

    /// `Replace` of one leaf.
    pub fn replace(uri: LocUri<'_>, value: Value<'_>) -> Self {
        DmCommand::Replace(vec![DmItem::new(uri, value)])
    }

    /// `Delete` of one node (and its subtree).
    pub fn delete(uri: LocUri<'_>) -> Self {
        DmCommand::Delete(vec![uri.into_owned()])
    }

    /// `Exec` of a node, with optional data.
    pub fn exec(uri: LocUri<'_>, value: Option<Value<'_>>) -> Self {
        DmCommand::Exec(match value {
            Some(v) => DmItem::new(uri, v),
            None => DmItem::bare(uri),
        })
    }

    /// `Atomic`: rejects an empty list, nested Atomic and Get (Windows refuses both).
    pub fn atomic(children: Vec<DmCommand>) -> Result<Self, CommandError> {
        if children.is_empty() {
            return Err(CommandError::Empty("Atomic"));
        }
        fn check(c: &DmCommand) -> Result<(), CommandError> {
            match c {
                DmCommand::Atomic(_) => Err(CommandError::NestedAtomic),
                DmCommand::Get(_) => Err(CommandError::GetInAtomic),
                DmCommand::Sequence(k) => k.iter().try_for_each(check),
                _ => Ok(()),
            }
        }
        children.iter().try_for_each(check)?;
        Ok(DmCommand::Atomic(children))
    }

    /// `Sequence`: rejects an empty list.
    pub fn sequence(children: Vec<DmCommand>) -> Result<Self, CommandError> {
        if children.is_empty() {
            return Err(CommandError::Empty("Sequence"));
        }
        Ok(DmCommand::Sequence(children))
    }

    /// Reads a wire command (e.g. from a recorded session or a profile) into a typed
    /// one, validating URIs and values. The wire CmdIDs are not kept.
    pub fn from_wire(c: &Command<'_>) -> Result<DmCommand, CommandError> {
        fn uri(i: &Item<'_>) -> Result<LocUri<'static>, CommandError> {
            let u = i.target_uri().unwrap_or("");
            LocUri::try_from(u.to_owned()).map_err(|error| CommandError::InvalidUri {
                uri: u.to_owned(),
                error,
            })
        }
        fn item(
            i: &Item<'_>,
            cmd_meta: Option<&winmdm_syncml::Meta<'_>>,
        ) -> Result<DmItem, CommandError> {
            let target = uri(i)?;
            let meta = i.meta.as_deref().or(cmd_meta);
            let format = meta.and_then(|m| m.format.as_deref());
            let value = if i.data.is_none() && format.is_none() {
                None
            } else {
                Some(Value::from_wire(format, i.data.as_ref()).map_err(|error| {
                    CommandError::InvalidValue {
                        uri: target.as_str().to_owned(),
                        error,
                    }
                })?)
            };
            Ok(DmItem {
                target,
                value,
                mime: meta.and_then(|m| m.r#type.as_deref()).map(str::to_owned),
            })
        }
        let items = |ic: &ItemCommand<'_>| -> Result<Vec<DmItem>, CommandError> {
            if ic.items.is_empty() {
                return Err(CommandError::Empty("command"));
            }
            ic.items
                .iter()
                .map(|i| item(i, ic.meta.as_deref()))
                .collect()
        };
        let uris = |ic: &ItemCommand<'_>| -> Result<Vec<LocUri<'static>>, CommandError> {
            if ic.items.is_empty() {
                return Err(CommandError::Empty("command"));
            }
            ic.items.iter().map(uri).collect()
        };
        let kids = |k: &Container<'_>| -> Result<Vec<DmCommand>, CommandError> {
            k.commands.iter().map(DmCommand::from_wire).collect()
        };
        Ok(match c {
            Command::Get(ic) => DmCommand::Get(uris(ic)?),
            Command::Delete(ic) => DmCommand::Delete(uris(ic)?),
            Command::Add(ic) => DmCommand::Add(items(ic)?),
            Command::Replace(ic) => DmCommand::Replace(items(ic)?),
            Command::Exec(ic) => {
                let mut v = items(ic)?;
                DmCommand::Exec(v.remove(0))
            }
            Command::Atomic(k) => DmCommand::atomic(kids(k)?)?,
            Command::Sequence(k) => DmCommand::sequence(kids(k)?)?,
            other => return Err(CommandError::NotManagement(other.name().to_owned())),
        })
    }

    /// The command's element name.
    pub fn kind(&self) -> CommandKind {
        match self {
            DmCommand::Get(_) => CommandKind::Get,
            DmCommand::Add(_) => CommandKind::Add,
            DmCommand::Replace(_) => CommandKind::Replace,
            DmCommand::Delete(_) => CommandKind::Delete,
            DmCommand::Exec(_) => CommandKind::Exec,
            DmCommand::Atomic(_) => CommandKind::Atomic,
            DmCommand::Sequence(_) => CommandKind::Sequence,
        }
    }

    /// Builds the wire command, taking CmdIDs from `next_id` (depth-first, container
    /// before its children).
    pub fn to_command(&self, next_id: &mut dyn FnMut() -> String) -> Command<'static> {
        let id = Some(Cow::Owned(next_id()));
        let uris = |v: &[LocUri<'static>]| -> Vec<Item<'static>> {
            v.iter()
                .map(|u| Item {
                    target: Some(Location::uri(u.as_str().to_owned())),
                    ..Item::default()
                })
                .collect()
        };
        let ic = |items: Vec<Item<'static>>| ItemCommand {
            cmd_id: id.clone(),
            items,
            ..ItemCommand::default()
        };
        match self {
            DmCommand::Get(v) => Command::Get(Box::new(ic(uris(v)))),
            DmCommand::Delete(v) => Command::Delete(Box::new(ic(uris(v)))),
            DmCommand::Add(v) => {
                Command::Add(Box::new(ic(v.iter().map(DmItem::to_item).collect())))
            }
            DmCommand::Replace(v) => {
                Command::Replace(Box::new(ic(v.iter().map(DmItem::to_item).collect())))
            }
            DmCommand::Exec(i) => Command::Exec(Box::new(ic(vec![i.to_item()]))),
            DmCommand::Atomic(k) | DmCommand::Sequence(k) => {
                let c = Container {
                    cmd_id: id.clone(),
                    commands: k.iter().map(|c| c.to_command(next_id)).collect(),
                    ..Container::default()
                };
                if matches!(self, DmCommand::Atomic(_)) {
                    Command::Atomic(Box::new(c))
                } else {
                    Command::Sequence(Box::new(c))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winmdm_syncml::encode_commands;

    fn uri(s: &str) -> LocUri<'static> {
        LocUri::try_from(s.to_owned()).unwrap()
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            n.to_string()
        }
    }

    #[test]
    fn builds_wire_commands() {
        let a = DmCommand::atomic(vec![
            DmCommand::add_node(uri("./Vendor/MSFT/NodeCache/P/Nodes/1")),
            DmCommand::replace(
                uri("./Vendor/MSFT/NodeCache/P/Nodes/1/NodeURI"),
                Value::Chr("x".into()),
            ),
            DmCommand::exec(uri("./Vendor/MSFT/X/Run"), None),
        ])
        .unwrap();
        let mut next = ids();
        let w = a.to_command(&mut next);
        let Command::Atomic(c) = &w else { panic!() };
        assert_eq!(c.cmd_id.as_deref(), Some("1"));
        let child_ids: Vec<_> = c.commands.iter().map(|c| c.cmd_id().unwrap()).collect();
        assert_eq!(child_ids, ["2", "3", "4"]);
        let Command::Add(add) = &c.commands[0] else {
            panic!()
        };
        assert_eq!(
            add.items[0].meta.as_ref().unwrap().format.as_deref(),
            Some("node")
        );
        assert!(add.items[0].data.is_none());
        let mut xml = Vec::new();
        encode_commands(std::slice::from_ref(&w), &mut xml, &Default::default()).unwrap();
        let xml = String::from_utf8(xml).unwrap();
        assert!(
            xml.starts_with("<Atomic><CmdID>1</CmdID><Add><CmdID>2</CmdID>"),
            "{xml}"
        );
        assert!(xml.contains("<Format xmlns=\"syncml:metinf\">chr</Format>"));
    }

    #[test]
    fn atomic_rules() {
        let g = DmCommand::get(uri("./DevDetail/SwV"));
        assert_eq!(
            DmCommand::atomic(vec![]),
            Err(CommandError::Empty("Atomic"))
        );
        assert_eq!(
            DmCommand::atomic(vec![g.clone()]),
            Err(CommandError::GetInAtomic)
        );
        let inner = DmCommand::atomic(vec![DmCommand::delete(uri("./DevDetail/X"))]).unwrap();
        assert_eq!(
            DmCommand::atomic(vec![inner]),
            Err(CommandError::NestedAtomic)
        );
        assert_eq!(
            DmCommand::sequence(vec![]),
            Err(CommandError::Empty("Sequence"))
        );
        assert!(DmCommand::sequence(vec![g]).is_ok());
    }

    #[test]
    fn wire_commands_read_back() {
        let xml = br#"<Atomic><CmdID>1</CmdID><Replace><CmdID>2</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera</LocURI></Target><Meta><Format xmlns="syncml:metinf">int</Format></Meta><Data>0</Data></Item></Replace><Exec><CmdID>3</CmdID><Item><Target><LocURI>./Vendor/MSFT/X/Run</LocURI></Target></Item></Exec></Atomic>"#;
        let cmds = winmdm_syncml::decode_commands(xml).unwrap();
        let d = DmCommand::from_wire(&cmds[0]).unwrap();
        let expect = DmCommand::atomic(vec![
            DmCommand::replace(
                uri("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera"),
                Value::Int(0),
            ),
            DmCommand::exec(uri("./Vendor/MSFT/X/Run"), None),
        ])
        .unwrap();
        assert_eq!(d, expect);
        assert_eq!(d.to_command(&mut ids()), cmds[0]);
        let bad = winmdm_syncml::decode_commands(b"<Get><CmdID>5</CmdID><Item><Target><LocURI>./ DevDetail/HwV</LocURI></Target></Item></Get>").unwrap();
        assert!(matches!(
            DmCommand::from_wire(&bad[0]),
            Err(CommandError::InvalidUri { .. })
        ));
        let badv = winmdm_syncml::decode_commands(b"<Replace><CmdID>5</CmdID><Item><Target><LocURI>./DevDetail/X</LocURI></Target><Meta><Format>int</Format></Meta><Data>x</Data></Item></Replace>").unwrap();
        assert!(matches!(
            DmCommand::from_wire(&badv[0]),
            Err(CommandError::InvalidValue { .. })
        ));
        let st =
            winmdm_syncml::decode_commands(b"<Status><CmdID>1</CmdID><Data>200</Data></Status>")
                .unwrap();
        assert_eq!(
            DmCommand::from_wire(&st[0]),
            Err(CommandError::NotManagement("Status".into()))
        );
    }

    #[test]
    fn items_carry_mime_and_format() {
        let i = DmItem::new(uri("./DevDetail/X"), Value::Bool(true)).with_mime("text/plain");
        let w = DmCommand::Replace(vec![i]).to_command(&mut ids());
        let m = w.items()[0].meta.as_ref().unwrap();
        assert_eq!(m.format.as_deref(), Some("bool"));
        assert_eq!(m.r#type.as_deref(), Some("text/plain"));
        assert_eq!(w.items()[0].data.as_ref().unwrap().as_str(), "true");
    }
}
