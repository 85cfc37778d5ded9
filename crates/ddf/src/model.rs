//! The DDF model: [`MgmtTree`], [`Node`], [`DfProperties`] and the `MSFT:` extensions.
//!
//! Code-like values are open enums: known values get a variant, anything else is kept in an
//! `Other` variant with its text so it survives. Elements the model does not know are kept as
//! generic [`Element`]s (winmdm-xml's) in the `extra` list of the nearest model struct.

use winmdm_types::Format;
use winmdm_xml::{Attribute, Element};

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)+
            /// A value this crate does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// Maps the text of the element (or attribute) to a variant.
            pub fn from_name(s: &str) -> Self {
                match s {
                    $($text => $name::$var,)+
                    other => $name::Other(other.to_string()),
                }
            }

            /// The name as written in DDF.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// One operation of `<AccessType>` (OMA DDF: `Add`, `Copy`, `Delete`, `Exec`, `Get`, `Replace`).
    AccessKind {
        /// `<Add/>`
        Add = "Add",
        /// `<Copy/>`
        Copy = "Copy",
        /// `<Delete/>`
        Delete = "Delete",
        /// `<Exec/>`
        Exec = "Exec",
        /// `<Get/>`
        Get = "Get",
        /// `<Replace/>`
        Replace = "Replace",
    }
);

open_enum!(
    /// `<Occurrence>`.
    Occurrence {
        /// `<One/>`
        One = "One",
        /// `<ZeroOrOne/>`
        ZeroOrOne = "ZeroOrOne",
        /// `<ZeroOrMore/>`
        ZeroOrMore = "ZeroOrMore",
        /// `<OneOrMore/>`
        OneOrMore = "OneOrMore",
        /// `<ZeroOrN/>`
        ZeroOrN = "ZeroOrN",
        /// `<OneOrN/>`
        OneOrN = "OneOrN",
    }
);

open_enum!(
    /// `<Scope>`.
    Scope {
        /// `<Permanent/>`
        Permanent = "Permanent",
        /// `<Dynamic/>`
        Dynamic = "Dynamic",
    }
);

open_enum!(
    /// `<CaseSense>`.
    CaseSense {
        /// `<CS/>` case-sensitive
        Cs = "CS",
        /// `<CIS/>` case-insensitive
        Cis = "CIS",
    }
);

open_enum!(
    /// `MSFT:AllowedValues/@ValueType`.
    ValueType {
        /// `ENUM`: a list of `MSFT:Enum` values.
        Enum = "ENUM",
        /// `Flag`: `MSFT:Enum` values that are bits and can be combined.
        Flag = "Flag",
        /// `Range`: `[min-max]` in `MSFT:Value`.
        Range = "Range",
        /// `RegEx`: a regular expression in `MSFT:Value`.
        RegEx = "RegEx",
        /// `XSD`: an XML schema in `MSFT:Value`.
        Xsd = "XSD",
        /// `ADMX`: values described by the ADMX policy in `MSFT:AdmxBacked`.
        Admx = "ADMX",
        /// `JSON`
        Json = "JSON",
        /// `SDDL`: a security descriptor string.
        Sddl = "SDDL",
        /// `None`: no data-driven constraint.
        None = "None",
    }
);

open_enum!(
    /// `MSFT:ConflictResolution`.
    ConflictResolution {
        /// `LastWrite`
        LastWrite = "LastWrite",
        /// `LowestValueMostSecure`
        LowestValueMostSecure = "LowestValueMostSecure",
        /// `HighestValueMostSecure`
        HighestValueMostSecure = "HighestValueMostSecure",
        /// `LowestValueMostSecureZeroHasNoLimits`
        LowestValueMostSecureZeroHasNoLimits = "LowestValueMostSecureZeroHasNoLimits",
        /// `HighestValueMostSecureZeroHasNoLimits`
        HighestValueMostSecureZeroHasNoLimits = "HighestValueMostSecureZeroHasNoLimits",
    }
);

open_enum!(
    /// `MSFT:RebootBehavior`.
    RebootBehavior {
        /// `Automatic`
        Automatic = "Automatic",
        /// `ServerInitiated`
        ServerInitiated = "ServerInitiated",
    }
);

/// A DDF document: `<MgmtTree>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MgmtTree {
    /// `<VerDTD>` (always `1.2` in practice).
    pub ver_dtd: Option<String>,
    /// `<Man>` (manufacturer), rare.
    pub man: Option<String>,
    /// `<Mod>` (model), rare.
    pub model: Option<String>,
    /// `<MSFT:Diagnostics>` kept as written (empty in every published file).
    pub diagnostics: Option<Element>,
    /// The top-level nodes, each with its `<Path>`.
    pub nodes: Vec<Node>,
    /// The namespace declarations of `<MgmtTree>` as written: (`None` for `xmlns`,
    /// `Some(prefix)` for `xmlns:prefix`, the namespace name).
    pub namespace_declarations: Vec<(Option<String>, String)>,
    /// Other attributes of `<MgmtTree>` (none in published files; each also has a warning).
    pub attributes: Vec<Attribute>,
    /// Child elements the model does not know.
    pub extra: Vec<Element>,
    /// Things the parser met and could not keep in the model (unknown attributes, text in
    /// odd places); nothing is dropped without an entry here.
    pub warnings: Vec<Warning>,
    /// True if invalid bytes were replaced according to [`crate::InvalidBytes`].
    pub used_fallback_decoding: bool,
}

/// Something the parser met and did not keep in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// Byte offset in the decoded input.
    pub offset: usize,
    /// Element name where it happened.
    pub element: String,
    /// Human-readable message.
    pub message: String,
}

/// A `<Node>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Node {
    /// `<NodeName>`, trimmed; empty for a dynamic (instance) node.
    pub name: String,
    /// `<Path>` (top-level nodes only): the parent path, e.g. `./Device/Vendor/MSFT`.
    pub path: Option<String>,
    /// `<DFProperties>`.
    pub properties: DfProperties,
    /// Child nodes in document order.
    pub children: Vec<Node>,
    /// `<RTProperties>` and other child elements the model does not know.
    pub extra: Vec<Element>,
    /// Byte offset of the `<Node>` start tag.
    pub offset: usize,
}

impl Node {
    /// True for a dynamic (instance) node: empty `<NodeName>`.
    pub fn is_dynamic(&self) -> bool {
        self.name.is_empty()
    }

    /// Visits this node and all descendants depth-first in document order.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        f(self);
        for c in &self.children {
            c.walk(f);
        }
    }
}

impl MgmtTree {
    /// Visits every node of every top-level tree depth-first in document order.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        for n in &self.nodes {
            n.walk(f);
        }
    }

    /// Number of `<Node>` elements.
    pub fn node_count(&self) -> usize {
        let mut n = 0;
        self.walk(&mut |_| n += 1);
        n
    }
}

/// `<DFType>`: MIME type or DDF name. Both may appear (Accounts.xml has both).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DfType {
    /// `<MIME>` text (may be empty: `<MIME />`).
    pub mime: Option<String>,
    /// `<DDFName>` text (may be empty).
    pub ddf_name: Option<String>,
}

/// `<DFProperties>`: every OMA child in any order, and the `MSFT:` extensions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DfProperties {
    /// `<AccessType>` operations in document order (may be empty: Accounts.xml).
    pub access_type: Vec<AccessKind>,
    /// `<DefaultValue>` as written.
    pub default_value: Option<String>,
    /// `<Description>` as written.
    pub description: Option<String>,
    /// `<DFFormat>`: the data format (winmdm-types' [`Format`], the one OMA-DM vocabulary;
    /// the `Meta/Format` the value travels with).
    pub format: Option<Format>,
    /// `<Occurrence>`.
    pub occurrence: Option<Occurrence>,
    /// The `N` of `<ZeroOrN>N</ZeroOrN>` / `<OneOrN>N</OneOrN>` (XSD: integer), as written.
    pub occurrence_n: Option<String>,
    /// `<Scope>`.
    pub scope: Option<Scope>,
    /// `<DFTitle>`.
    pub title: Option<String>,
    /// `<DFType>`.
    pub df_type: Option<DfType>,
    /// `<CaseSense>`.
    pub case_sense: Option<CaseSense>,
    /// `MSFT:Applicability`.
    pub applicability: Option<Applicability>,
    /// `MSFT:AllowedValues`.
    pub allowed_values: Option<AllowedValues>,
    /// `MSFT:DynamicNodeNaming`.
    pub dynamic_node_naming: Option<DynamicNodeNaming>,
    /// `MSFT:ConflictResolution`.
    pub conflict_resolution: Option<ConflictResolution>,
    /// `MSFT:DependencyBehavior`.
    pub dependency_behavior: Option<DependencyBehavior>,
    /// `MSFT:GpMapping` (Group Policy equivalent).
    pub gp_mapping: Option<GpMapping>,
    /// `MSFT:Deprecated`.
    pub deprecated: Option<Deprecated>,
    /// `MSFT:AtomicRequired` present: the node must be set inside an Atomic command.
    pub atomic_required: bool,
    /// `MSFT:RebootBehavior`.
    pub reboot_behavior: Option<RebootBehavior>,
    /// `MSFT:Diagnostics` or other child elements the model does not know (e.g. legacy
    /// `MSFT:RWAccess`).
    pub extra: Vec<Element>,
}

impl DfProperties {
    /// True if `<AccessType>` lists `kind`.
    pub fn allows(&self, kind: &AccessKind) -> bool {
        self.access_type.contains(kind)
    }
}

/// `MSFT:Applicability`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Applicability {
    /// `MSFT:OsBuildVersion` as written: one build (`10.0.17763`) or a comma list of
    /// servicing builds (`10.0.22000, 10.0.19043.1202`).
    pub os_build_version: Option<String>,
    /// `MSFT:CspVersion` as written (`1.0`, `5.0`...).
    pub csp_version: Option<String>,
    /// `MSFT:EditionAllowList` as written: `0x4;0x1B;...;`.
    pub edition_allow_list: Option<String>,
    /// `MSFT:RequiresAzureAd` present.
    pub requires_azure_ad: bool,
    /// Unknown children.
    pub extra: Vec<Element>,
}

impl Applicability {
    /// The OS builds of `MSFT:OsBuildVersion`, trimmed, empty entries skipped.
    pub fn os_builds(&self) -> Vec<&str> {
        split_list(self.os_build_version.as_deref(), ',')
    }

    /// The edition ids of `MSFT:EditionAllowList` (hex `0x..` or decimal); entries that do not
    /// parse are skipped (see [`Applicability::edition_allow_list`] for the raw text).
    pub fn editions(&self) -> Vec<u32> {
        split_list(self.edition_allow_list.as_deref(), ';')
            .into_iter()
            .filter_map(parse_u32)
            .collect()
    }
}

fn split_list(s: Option<&str>, sep: char) -> Vec<&str> {
    s.map(|s| {
        s.split(sep)
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Parses `0x1B` (hex) or `27` (decimal).
pub fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// One `MSFT:Enum` of an ENUM or Flag `MSFT:AllowedValues`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EnumValue {
    /// `MSFT:Value` as written.
    pub value: String,
    /// `MSFT:ValueDescription`.
    pub description: Option<String>,
}

/// `MSFT:AdmxBacked`: the ADMX policy behind an ADMX-backed node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AdmxBacked {
    /// `@Area`: the ADMX area path.
    pub area: String,
    /// `@Name`: the ADMX policy name.
    pub name: String,
    /// `@File`: the `.admx` file.
    pub file: String,
}

/// `MSFT:AllowedValues`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllowedValues {
    /// `@ValueType`.
    pub value_type: ValueType,
    /// `MSFT:Enum` children (ENUM and Flag).
    pub enums: Vec<EnumValue>,
    /// `MSFT:Value` directly inside (Range, RegEx, XSD, JSON...), as written.
    pub value: Option<String>,
    /// `MSFT:ValueDescription` directly inside.
    pub value_description: Option<String>,
    /// `MSFT:AdmxBacked` (ADMX).
    pub admx_backed: Option<AdmxBacked>,
    /// `MSFT:List/@Delimiter`: the value is a list with this delimiter (as written: `;`,
    /// `0xF000`, ...).
    pub list_delimiter: Option<String>,
    /// Unknown children.
    pub extra: Vec<Element>,
}

impl AllowedValues {
    /// Parses the `MSFT:Value` of a Range as a [`RangeSpec`] (`None` if there is no value or
    /// it does not parse).
    pub fn range(&self) -> Option<RangeSpec> {
        RangeSpec::parse(self.value.as_deref()?)
    }
}

/// A parsed `Range` value: `[0-23]`, `[1]`, `[(-1)-2147483647]`, or a comma list of those
/// (`[6,17]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSpec {
    /// Inclusive intervals.
    pub intervals: Vec<(i64, i64)>,
}

impl RangeSpec {
    /// Parses the DDF range syntax. Returns `None` for anything else.
    pub fn parse(s: &str) -> Option<RangeSpec> {
        let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
        let mut intervals = Vec::new();
        for item in inner.split(',') {
            let item = item.trim();
            let (lo, rest) = parse_bound(item)?;
            let rest = rest.trim();
            let hi = if rest.is_empty() {
                lo
            } else {
                let (hi, tail) = parse_bound(rest.strip_prefix('-')?.trim())?;
                if !tail.trim().is_empty() {
                    return None;
                }
                hi
            };
            if lo > hi {
                return None;
            }
            intervals.push((lo, hi));
        }
        if intervals.is_empty() {
            None
        } else {
            Some(RangeSpec { intervals })
        }
    }

    /// True if `v` is in one of the intervals.
    pub fn contains(&self, v: i64) -> bool {
        self.intervals.iter().any(|&(lo, hi)| lo <= v && v <= hi)
    }
}

/// `(-1)` or `12`; returns the number and the rest.
fn parse_bound(s: &str) -> Option<(i64, &str)> {
    if let Some(rest) = s.strip_prefix('(') {
        let close = rest.find(')')?;
        let n = rest[..close].trim().parse().ok()?;
        return Some((n, &rest[close + 1..]));
    }
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let n = s[..end].parse().ok()?;
    Some((n, &s[end..]))
}

/// `MSFT:DynamicNodeNaming`: how instances of a dynamic node are named.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DynamicNodeNaming {
    /// `MSFT:UniqueName`: a unique name chosen by the server; text describes it.
    UniqueName(String),
    /// `MSFT:ClientInventory`: names come from the device inventory; text describes it.
    ClientInventory(String),
    /// `MSFT:ServerGeneratedUniqueIdentifier`.
    ServerGeneratedUniqueIdentifier,
    /// An unknown child (or none), kept as written.
    Other(Option<Element>),
}

/// `MSFT:DependencyBehavior`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DependencyBehavior {
    /// `MSFT:DependencyGroup` children.
    pub groups: Vec<DependencyGroup>,
    /// Unknown children.
    pub extra: Vec<Element>,
}

/// `MSFT:DependencyGroup`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DependencyGroup {
    /// `@FriendlyId`.
    pub friendly_id: Option<String>,
    /// `MSFT:Dependency` children.
    pub dependencies: Vec<Dependency>,
    /// `MSFT:DependencyChangedAllowedValues`: allowed values of this node when the
    /// dependencies hold.
    pub changed_allowed_values: Option<DependencyValue>,
    /// Unknown children.
    pub extra: Vec<Element>,
}

/// `MSFT:Dependency`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Dependency {
    /// `@Type`: `DependsOn` or `Not`.
    pub kind: Option<String>,
    /// `MSFT:DependencyUri`: the node depended on (relative, e.g.
    /// `Device/Vendor/MSFT/Policy/Config/Browser/PreventFirstRunPage`).
    pub uri: Option<String>,
    /// `MSFT:DependencyAllowedValue`: the value that node must have.
    pub allowed_value: Option<DependencyValue>,
    /// Unknown children.
    pub extra: Vec<Element>,
}

/// `MSFT:DependencyAllowedValue` / `MSFT:DependencyChangedAllowedValues`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DependencyValue {
    /// `@ValueType`.
    pub value_type: ValueType,
    /// `MSFT:Value` as written.
    pub value: Option<String>,
    /// `MSFT:Enum` children.
    pub enums: Vec<EnumValue>,
    /// `MSFT:AdmxBacked` (ValueType ADMX).
    pub admx_backed: Option<AdmxBacked>,
    /// Unknown children.
    pub extra: Vec<Element>,
}

/// `MSFT:GpMapping`: the Group Policy that corresponds to the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GpMapping {
    /// `@GpEnglishName`.
    pub english_name: Option<String>,
    /// `@GpAreaPath`.
    pub area_path: Option<String>,
    /// `@GpElement`.
    pub element: Option<String>,
    /// Other attributes.
    pub other: Vec<Attribute>,
}

/// `MSFT:Deprecated`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Deprecated {
    /// `@OsBuildDeprecated`: the first build without the node.
    pub os_build_deprecated: Option<String>,
}
