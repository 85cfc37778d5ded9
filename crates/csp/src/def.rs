//! Node definitions as flat, `const`-constructible tables: what the generator emits for each
//! vendored DDF and what [`NodeTable::from_tree`] builds from a DDF loaded at run time.

use std::borrow::Cow;

use winmdm_ddf as ddf;
use winmdm_types::Format;

/// Text in a table: borrowed from a `static` for generated tables, owned for tables built at
/// run time.
pub type Text = Cow<'static, str>;

/// `AccessType` as a set of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(pub u8);

impl Access {
    /// `Add`
    pub const ADD: Access = Access(1);
    /// `Copy`
    pub const COPY: Access = Access(2);
    /// `Delete`
    pub const DELETE: Access = Access(4);
    /// `Exec`
    pub const EXEC: Access = Access(8);
    /// `Get`
    pub const GET: Access = Access(16);
    /// `Replace`
    pub const REPLACE: Access = Access(32);
    /// No operation listed.
    pub const NONE: Access = Access(0);

    const NAMES: [(Access, &'static str); 6] = [
        (Access::ADD, "Add"),
        (Access::COPY, "Copy"),
        (Access::DELETE, "Delete"),
        (Access::EXEC, "Exec"),
        (Access::GET, "Get"),
        (Access::REPLACE, "Replace"),
    ];

    /// True if every operation of `other` is allowed.
    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    /// The operation named `name` (`Add`, `Get`...), case-insensitive.
    pub fn from_name(name: &str) -> Option<Access> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(a, _)| *a)
    }

    /// Names of the operations in the set, in DDF order (`Add`, `Copy`, `Delete`, `Exec`, `Get`,
    /// `Replace`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(a, _)| self.contains(*a))
            .map(|(_, n)| *n)
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<_> = self.names().collect();
        f.write_str(&v.join(", "))
    }
}

/// One allowed value of an ENUM or Flag node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumEntry {
    /// The value as written in the DDF.
    pub value: Text,
    /// Its description.
    pub description: Option<Text>,
}

/// `MSFT:AllowedValues` of a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Allowed {
    /// The DDF has no `MSFT:AllowedValues` (v1 files, interior nodes).
    Unspecified,
    /// `ValueType="None"`: no constraint.
    None,
    /// `ENUM`: one of these values.
    Enum(Cow<'static, [EnumEntry]>),
    /// `Flag`: a combination (bitwise or) of these values.
    Flag(Cow<'static, [EnumEntry]>),
    /// `Range`: an integer in one of these inclusive intervals.
    Range(Cow<'static, [(i64, i64)]>),
    /// `RegEx`: a string matching this regular expression.
    RegEx(Text),
    /// `XSD`: an XML document valid against this schema.
    Xsd(Text),
    /// `ADMX`: an ADMX policy value (`<enabled/>` + `<data id= value=/>`, or `<disabled/>`).
    Admx {
        /// `@Area`
        area: Text,
        /// `@Name`: the ADMX policy.
        name: Text,
        /// `@File`: the `.admx` file.
        file: Text,
    },
    /// `JSON`: JSON text; the DDF gives an example or schema.
    Json(Text),
    /// `SDDL`: a security descriptor string.
    Sddl,
    /// Anything else (unknown ValueType, or a Range that does not parse).
    Other {
        /// `@ValueType` as written.
        value_type: Text,
        /// `MSFT:Value` as written.
        value: Option<Text>,
    },
}

impl Allowed {
    /// The ValueType name (`ENUM`, `Range`...), or `-` for [`Allowed::Unspecified`].
    pub fn value_type(&self) -> &str {
        match self {
            Allowed::Unspecified => "-",
            Allowed::None => "None",
            Allowed::Enum(_) => "ENUM",
            Allowed::Flag(_) => "Flag",
            Allowed::Range(_) => "Range",
            Allowed::RegEx(_) => "RegEx",
            Allowed::Xsd(_) => "XSD",
            Allowed::Admx { .. } => "ADMX",
            Allowed::Json(_) => "JSON",
            Allowed::Sddl => "SDDL",
            Allowed::Other { value_type, .. } => value_type,
        }
    }
}

/// `MSFT:Applicability`, raw text as in the DDF.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Applicability {
    /// `MSFT:OsBuildVersion`: first build(s), comma separated.
    pub os_build: Option<Text>,
    /// `MSFT:CspVersion`.
    pub csp_version: Option<Text>,
    /// `MSFT:EditionAllowList`: `0x4;0x1B;...;`.
    pub editions: Option<Text>,
    /// `MSFT:RequiresAzureAd`.
    pub requires_azure_ad: bool,
}

impl Applicability {
    /// True if no field is set (the node inherits its parent's applicability).
    pub fn is_empty(&self) -> bool {
        self.os_build.is_none()
            && self.csp_version.is_none()
            && self.editions.is_none()
            && !self.requires_azure_ad
    }

    /// The edition ids of the allow list (hex `0x..` or decimal entries; others skipped).
    pub fn edition_ids(&self) -> Vec<u32> {
        self.editions
            .as_deref()
            .unwrap_or("")
            .split(';')
            .filter_map(ddf::parse_u32)
            .collect()
    }

    /// True if `edition` is allowed (an absent or empty allow list allows every edition).
    pub fn allows_edition(&self, edition: u32) -> bool {
        let ids = self.edition_ids();
        ids.is_empty() || ids.contains(&edition)
    }

    /// True if OS build `build` (e.g. `10.0.19045.3803`) has the node: at or above the first
    /// major build listed, or, for a servicing build listed for the same major, at or above
    /// that revision. Microsoft's placeholder [`UNRELEASED_OS_BUILD`] is no released build:
    /// a node listing only it is in no build ([`Applicability::is_unreleased`]). Builds that
    /// do not parse are treated as applicable (check the device's build with
    /// [`parse_os_build`] first).
    pub fn allows_os_build(&self, build: &str) -> bool {
        let Some(have) = parse_build(build) else {
            return true;
        };
        if self.is_unreleased() {
            return false;
        }
        let list: Vec<Vec<u64>> = self.released_os_builds().filter_map(parse_build).collect();
        if list.is_empty() {
            return true;
        }
        // Same major build listed with a servicing revision: compare against it.
        for want in &list {
            if want.len() >= 4 && have.len() >= 3 && want[..3] == have[..3] {
                return have >= *want;
            }
        }
        let first = list.iter().min().cloned().unwrap_or_default();
        have[..have.len().min(3)] >= first[..first.len().min(3)]
    }
}

/// The build Microsoft's DDFs write in `MSFT:OsBuildVersion` for a node that is in no
/// released Windows build yet (in the May 2024 DDFs: 153 nodes, most of them with this
/// build alone, a few with it in front of the servicing builds they were backported to).
pub const UNRELEASED_OS_BUILD: &str = "99.9.99999";

impl Applicability {
    /// The builds of `MSFT:OsBuildVersion` other than the placeholder
    /// [`UNRELEASED_OS_BUILD`], trimmed, empty entries skipped.
    pub fn released_os_builds(&self) -> impl Iterator<Item = &str> {
        self.os_build
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty() && *b != UNRELEASED_OS_BUILD)
    }

    /// True when `MSFT:OsBuildVersion` lists only the placeholder [`UNRELEASED_OS_BUILD`]:
    /// the node is not in any released Windows build.
    pub fn is_unreleased(&self) -> bool {
        let mut listed = self
            .os_build
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .peekable();
        listed.peek().is_some() && listed.all(|b| b == UNRELEASED_OS_BUILD)
    }
}

/// Parses a device OS build as Windows reports it (`./DevDetail/SwV`): three or four
/// dot-separated decimal numbers, `major.minor.build[.revision]`, e.g. `10.0.19045` or
/// `10.0.19045.3803`. `None` for anything else (`foo`, `19045`, `10.0.x`, `10..0`), so that
/// a typo is refused instead of silently disabling the applicability check.
pub fn parse_os_build(s: &str) -> Option<Vec<u64>> {
    let parts: Vec<&str> = s.trim().split('.').collect();
    if !(3..=4).contains(&parts.len()) {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect()
}

fn parse_build(s: &str) -> Option<Vec<u64>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.split('.').map(|p| p.trim().parse().ok()).collect()
}

/// `MSFT:DynamicNodeNaming` of a dynamic node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DynamicNaming {
    /// `MSFT:UniqueName`: a server-chosen unique name; the text describes it.
    UniqueName(Text),
    /// `MSFT:ClientInventory`: names come from the device; the text describes it.
    ClientInventory(Text),
    /// `MSFT:ServerGeneratedUniqueIdentifier`.
    ServerGeneratedUniqueIdentifier,
    /// Unknown or empty.
    Other,
}

/// One node of a [`NodeTable`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct NodeDef {
    /// `NodeName`; empty for a dynamic node.
    pub name: Text,
    /// Index of the parent in the same table; `None` for a top-level node.
    pub parent: Option<u32>,
    /// `Path` of a top-level node (its parent path, e.g. `./Device/Vendor/MSFT`).
    pub root_path: Option<Text>,
    /// `DFFormat`.
    pub format: Format,
    /// `AccessType`.
    pub access: Access,
    /// `Occurrence` as written (`One`, `ZeroOrOne`...).
    pub occurrence: Option<Text>,
    /// `Scope` as written (`Permanent`, `Dynamic`).
    pub scope: Option<Text>,
    /// `CaseSense` as written (`CS`, `CIS`).
    pub case_sense: Option<Text>,
    /// `DFType/MIME`.
    pub mime: Option<Text>,
    /// `DefaultValue`.
    pub default: Option<Text>,
    /// `DFTitle` (for dynamic nodes usually the name of the instance, e.g. `ProviderID`).
    pub title: Option<Text>,
    /// `Description`.
    pub description: Option<Text>,
    /// `MSFT:AllowedValues`.
    pub allowed: Allowed,
    /// `MSFT:List/@Delimiter`: the value is a list with this delimiter.
    pub list_delimiter: Option<Text>,
    /// `MSFT:Applicability` of this node (empty: inherited, see
    /// [`crate::Catalog::applicability`]).
    pub applicability: Applicability,
    /// `MSFT:DynamicNodeNaming`.
    pub dynamic_naming: Option<DynamicNaming>,
    /// `MSFT:ConflictResolution` as written.
    pub conflict_resolution: Option<Text>,
    /// `MSFT:AtomicRequired`.
    pub atomic_required: bool,
    /// `MSFT:RebootBehavior` as written.
    pub reboot: Option<Text>,
    /// `MSFT:Deprecated`: `Some("")` when deprecated without a build, else the build.
    pub deprecated: Option<Text>,
}

impl NodeDef {
    /// A node with every field empty: the base generated tables use with `..NodeDef::EMPTY`.
    pub const EMPTY: NodeDef = NodeDef {
        name: Cow::Borrowed(""),
        parent: None,
        root_path: None,
        format: Format::Node,
        access: Access::NONE,
        occurrence: None,
        scope: None,
        case_sense: None,
        mime: None,
        default: None,
        title: None,
        description: None,
        allowed: Allowed::Unspecified,
        list_delimiter: None,
        applicability: Applicability {
            os_build: None,
            csp_version: None,
            editions: None,
            requires_azure_ad: false,
        },
        dynamic_naming: None,
        conflict_resolution: None,
        atomic_required: false,
        reboot: None,
        deprecated: None,
    };

    /// True for a dynamic (instance) node.
    pub fn is_dynamic(&self) -> bool {
        self.name.is_empty()
    }

    /// True for an interior node (`DFFormat` node).
    pub fn is_interior(&self) -> bool {
        self.format == Format::Node
    }
}

/// The nodes of one DDF file, flattened in document order (parents before children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTable {
    /// Name of the CSP (the first top-level node name, e.g. `DMClient`, or the policy area).
    pub csp: Text,
    /// Where the definitions come from (file name).
    pub source: Text,
    /// The nodes.
    pub nodes: Cow<'static, [NodeDef]>,
}

fn text(s: &str) -> Text {
    Cow::Owned(s.to_string())
}

fn opt(s: &Option<String>) -> Option<Text> {
    s.as_deref().map(text)
}

impl NodeTable {
    /// Flattens a parsed DDF into a table. `source` names where it came from.
    pub fn from_tree(tree: &ddf::MgmtTree, source: &str) -> NodeTable {
        let mut nodes = Vec::new();
        for n in &tree.nodes {
            push(&mut nodes, n, None);
        }
        let csp = tree
            .nodes
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_default();
        NodeTable {
            csp: Cow::Owned(csp),
            source: text(source),
            nodes: Cow::Owned(nodes),
        }
    }

    /// The full path template of node `index`: root path and names, dynamic nodes as
    /// `{DFTitle}` (or `{}`), e.g. `./Device/Vendor/MSFT/DMClient/Provider/{ProviderID}`.
    pub fn path_template(&self, index: usize) -> String {
        let mut parts = Vec::new();
        let mut at = Some(index);
        let mut root = String::new();
        while let Some(i) = at {
            let n = &self.nodes[i];
            parts.push(if n.is_dynamic() {
                format!("{{{}}}", n.title.as_deref().unwrap_or(""))
            } else {
                n.name.to_string()
            });
            if n.parent.is_none() {
                root = n.root_path.as_deref().unwrap_or(".").to_string();
            }
            at = n.parent.map(|p| p as usize);
        }
        parts.reverse();
        let mut s = root.trim_end_matches('/').to_string();
        for p in parts {
            s.push('/');
            s.push_str(&p);
        }
        s
    }
}

fn push(out: &mut Vec<NodeDef>, n: &ddf::Node, parent: Option<u32>) {
    let p = &n.properties;
    let mut access = Access::NONE;
    for a in &p.access_type {
        if let Some(x) = Access::from_name(a.as_str()) {
            access = access.union(x);
        }
    }
    // The DDF's DFFormat is already winmdm-types's Format; none declared is the empty name.
    let format = p.format.clone().unwrap_or(Format::Other(Cow::Borrowed("")));
    let (allowed, list_delimiter) = match &p.allowed_values {
        None => (Allowed::Unspecified, None),
        Some(a) => (allowed(a), opt(&a.list_delimiter)),
    };
    let applicability = p
        .applicability
        .as_ref()
        .map(|a| Applicability {
            os_build: opt(&a.os_build_version),
            csp_version: opt(&a.csp_version),
            editions: opt(&a.edition_allow_list),
            requires_azure_ad: a.requires_azure_ad,
        })
        .unwrap_or_default();
    let dynamic_naming = p.dynamic_node_naming.as_ref().map(|d| match d {
        ddf::DynamicNodeNaming::UniqueName(s) => DynamicNaming::UniqueName(text(s)),
        ddf::DynamicNodeNaming::ClientInventory(s) => DynamicNaming::ClientInventory(text(s)),
        ddf::DynamicNodeNaming::ServerGeneratedUniqueIdentifier => {
            DynamicNaming::ServerGeneratedUniqueIdentifier
        }
        _ => DynamicNaming::Other,
    });
    let def = NodeDef {
        name: text(&n.name),
        parent,
        root_path: if parent.is_none() { opt(&n.path) } else { None },
        format,
        access,
        occurrence: p.occurrence.as_ref().map(|o| text(o.as_str())),
        scope: p.scope.as_ref().map(|o| text(o.as_str())),
        case_sense: p.case_sense.as_ref().map(|o| text(o.as_str())),
        mime: p.df_type.as_ref().and_then(|t| opt(&t.mime)),
        default: opt(&p.default_value),
        title: opt(&p.title),
        description: opt(&p.description),
        allowed,
        list_delimiter,
        applicability,
        dynamic_naming,
        conflict_resolution: p.conflict_resolution.as_ref().map(|o| text(o.as_str())),
        atomic_required: p.atomic_required,
        reboot: p.reboot_behavior.as_ref().map(|o| text(o.as_str())),
        deprecated: p
            .deprecated
            .as_ref()
            .map(|d| text(d.os_build_deprecated.as_deref().unwrap_or(""))),
    };
    let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.push(def);
    for c in &n.children {
        push(out, c, Some(index));
    }
}

fn entries(v: &[ddf::EnumValue]) -> Cow<'static, [EnumEntry]> {
    Cow::Owned(
        v.iter()
            .map(|e| EnumEntry {
                value: text(&e.value),
                description: opt(&e.description),
            })
            .collect(),
    )
}

fn allowed(a: &ddf::AllowedValues) -> Allowed {
    let value = || a.value.as_deref().map(text).unwrap_or_default();
    match &a.value_type {
        ddf::ValueType::None => Allowed::None,
        ddf::ValueType::Enum => Allowed::Enum(entries(&a.enums)),
        ddf::ValueType::Flag => Allowed::Flag(entries(&a.enums)),
        ddf::ValueType::Range => match a.range() {
            Some(r) => Allowed::Range(Cow::Owned(r.intervals)),
            None => Allowed::Other {
                value_type: text("Range"),
                value: opt(&a.value),
            },
        },
        ddf::ValueType::RegEx => Allowed::RegEx(value()),
        ddf::ValueType::Xsd => Allowed::Xsd(value()),
        ddf::ValueType::Json => Allowed::Json(value()),
        ddf::ValueType::Sddl => Allowed::Sddl,
        ddf::ValueType::Admx => match &a.admx_backed {
            Some(x) => Allowed::Admx {
                area: text(&x.area),
                name: text(&x.name),
                file: text(&x.file),
            },
            None => Allowed::Other {
                value_type: text("ADMX"),
                value: opt(&a.value),
            },
        },
        other => Allowed::Other {
            value_type: text(other.as_str()),
            value: opt(&a.value),
        },
    }
}
