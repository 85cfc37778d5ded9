//! The runtime catalog: look up any LocURI to its node definition.

use std::collections::HashMap;

use crate::def::{Applicability, NodeDef, NodeTable};

/// The management scope a LocURI addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `./Device/...`, `./Vendor/...` (legacy device form) and other device-wide roots
    /// (`./DevDetail`, `./DevInfo`, `./SyncML/DMAcc`...).
    Device,
    /// `./User/...`.
    User,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    def: Option<(u32, u32)>,
    children: HashMap<String, usize>,
    lower: HashMap<String, usize>,
    dynamic: Option<usize>,
}

/// A dynamic segment of a looked-up path and the definition it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Index of the segment in [`Match::segments`].
    pub segment: usize,
    /// The `DFTitle` of the dynamic node (e.g. `ProviderID`), if the DDF names it.
    pub title: Option<String>,
}

/// The result of [`Catalog::lookup`].
#[derive(Debug, Clone)]
pub struct Match<'c> {
    /// The definition.
    pub def: &'c NodeDef,
    /// The table the definition is in.
    pub table: &'c NodeTable,
    /// Index of the definition in the table.
    pub index: usize,
    /// Scope of the LocURI.
    pub scope: Scope,
    /// The LocURI's segments after the scope prefix (`Vendor`, `MSFT`, `DMClient`...).
    pub segments: Vec<String>,
    /// Segments that matched dynamic nodes.
    pub bindings: Vec<Binding>,
    /// True if a segment matched a node name only ignoring case.
    pub case_insensitive: bool,
    entry: usize,
}

impl Match<'_> {
    /// The DDF path template of the definition, e.g.
    /// `./Device/Vendor/MSFT/DMClient/Provider/{ProviderID}/EntDMID`.
    pub fn template(&self) -> String {
        self.table.path_template(self.index)
    }
}

/// Why a LocURI was not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The LocURI is empty or has an empty segment.
    #[error("malformed LocURI {0:?}")]
    Malformed(String),
    /// No node matches; `known` is the deepest prefix that exists (in segments after the
    /// scope prefix), useful to explain typos.
    #[error("no node {path:?} (known up to {known:?})")]
    NotFound {
        /// The LocURI asked for.
        path: String,
        /// The longest existing prefix, as `./Device/...` or `./User/...`.
        known: String,
    },
}

/// A set of node tables indexed by path.
///
/// Built from the generated tables of the enabled features ([`Catalog::builtin`]) and/or DDF
/// files parsed at run time ([`Catalog::add_ddf`]). Matching rules (see `docs/csp.md`):
/// `./Device/Vendor/...` and `./Vendor/...` are the same node; `./User/...` is separate; the
/// `./`, `Device`, `User` prefix is case-insensitive; node names match exactly first, then
/// ignoring case (flagged in [`Match::case_insensitive`]); a named node wins over a dynamic
/// sibling; a `?query` suffix is ignored.
///
/// ```
/// use winmdm_csp::{Catalog, Scope};
/// let ddf = br#"<MgmtTree xmlns:MSFT="http://schemas.microsoft.com/MobileDevice/DM">
///   <Node><NodeName>Demo</NodeName><Path>./Vendor/MSFT</Path>
///     <DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat></DFProperties>
///     <Node><NodeName/><DFProperties><AccessType><Add/><Get/></AccessType><DFFormat><node/></DFFormat>
///       <DFTitle>Id</DFTitle></DFProperties>
///       <Node><NodeName>Value</NodeName><DFProperties><AccessType><Get/><Replace/></AccessType>
///         <DFFormat><int/></DFFormat></DFProperties></Node>
///     </Node>
///   </Node></MgmtTree>"#;
/// let mut catalog = Catalog::new();
/// // winmdm_csp re-exports winmdm_ddf: no extra dependency needed.
/// catalog.add_ddf(&winmdm_csp::winmdm_ddf::parse(ddf).unwrap(), "demo.xml");
/// let m = catalog.lookup("./Device/Vendor/MSFT/Demo/abc/Value").unwrap();
/// assert_eq!(m.def.format.as_str(), "int");
/// assert_eq!(m.scope, Scope::Device);
/// assert_eq!(m.template(), "./Vendor/MSFT/Demo/{Id}/Value");
/// assert_eq!(m.bindings[0].title.as_deref(), Some("Id"));
/// assert!(catalog.lookup("./User/Vendor/MSFT/Demo").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Catalog {
    tables: Vec<NodeTable>,
    entries: Vec<Entry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

/// Splits a LocURI into scope and segments after the scope prefix.
fn split(path: &str) -> Option<(Scope, Vec<&str>)> {
    let path = path.trim();
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = path
        .strip_prefix("./")
        .unwrap_or(if path == "." { "" } else { path });
    let path = path.trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        return None;
    }
    let mut segs: Vec<&str> = path.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let scope = if segs[0].eq_ignore_ascii_case("user") {
        segs.remove(0);
        Scope::User
    } else {
        if segs[0].eq_ignore_ascii_case("device") {
            segs.remove(0);
        }
        Scope::Device
    };
    // `./Device` or `./User` alone: well-formed, but no node (checked by the caller).
    Some((scope, segs))
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        // Entry 0: device root, entry 1: user root.
        Catalog {
            tables: Vec::new(),
            entries: vec![Entry::default(), Entry::default()],
        }
    }

    /// A catalog of every generated table compiled in (one cargo feature per CSP / policy
    /// group; see [`crate::generated::tables`]). With the default features that is the CSPs a
    /// Windows MDM uses daily (Policy and its native areas, DevDetail, DevInfo, DMClient,
    /// BitLocker, Defender, ...; list in `docs/csp.md`); without any CSP feature it is empty
    /// ([`Catalog::is_empty`]).
    pub fn builtin() -> Self {
        let mut c = Catalog::new();
        for t in crate::generated::tables() {
            // Generated tables come from DDFs whose paths the generator validated.
            let _ = c.add_table(t.clone());
        }
        c
    }

    /// Adds the nodes of a DDF parsed at run time. Definitions for paths already present replace
    /// the old ones. Returns the top-level `Path`s that are malformed (their nodes are not
    /// indexed); normally empty.
    pub fn add_ddf(&mut self, tree: &winmdm_ddf::MgmtTree, source: &str) -> Vec<String> {
        self.add_table(NodeTable::from_tree(tree, source))
    }

    /// The tables in the catalog.
    pub fn tables(&self) -> &[NodeTable] {
        &self.tables
    }

    /// True if the catalog has no node definition: no table, or only tables without nodes
    /// (e.g. [`Catalog::builtin`] of a build without CSP features). [`crate::lint_profile`] refuses
    /// such a catalog ([`crate::lint::LintError::EmptyCatalog`]).
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.nodes.is_empty())
    }

    /// Adds a table. Definitions for paths already present replace the old ones. Returns the
    /// top-level `Path`s that are malformed (their nodes are not indexed); normally empty.
    pub fn add_table(&mut self, table: NodeTable) -> Vec<String> {
        let mut bad = Vec::new();
        let t = u32::try_from(self.tables.len()).unwrap_or(u32::MAX);
        let mut slots: Vec<usize> = Vec::with_capacity(table.nodes.len());
        for (i, n) in table.nodes.iter().enumerate() {
            let parent_entry = match n.parent {
                Some(p) => slots.get(p as usize).copied(),
                None => {
                    let root_path = n.root_path.as_deref().unwrap_or(".");
                    let root = format!("{}/x", root_path.trim_end_matches('/'));
                    let r = split(&root).map(|(scope, segs)| {
                        let mut at = if scope == Scope::User { 1 } else { 0 };
                        for s in &segs[..segs.len() - 1] {
                            at = self.child_entry(at, s);
                        }
                        at
                    });
                    if r.is_none() {
                        bad.push(root_path.to_string());
                    }
                    r
                }
            };
            let Some(parent_entry) = parent_entry else {
                slots.push(usize::MAX);
                continue;
            };
            if parent_entry == usize::MAX {
                slots.push(usize::MAX);
                continue;
            }
            let e = self.child_entry(parent_entry, &n.name);
            self.entries[e].def = Some((t, u32::try_from(i).unwrap_or(u32::MAX)));
            slots.push(e);
        }
        self.tables.push(table);
        bad
    }

    fn child_entry(&mut self, parent: usize, name: &str) -> usize {
        if name.is_empty() {
            if let Some(d) = self.entries[parent].dynamic {
                return d;
            }
            let id = self.entries.len();
            self.entries.push(Entry::default());
            self.entries[parent].dynamic = Some(id);
            return id;
        }
        if let Some(&e) = self.entries[parent].children.get(name) {
            return e;
        }
        let id = self.entries.len();
        self.entries.push(Entry::default());
        self.entries[parent].children.insert(name.to_string(), id);
        self.entries[parent]
            .lower
            .entry(name.to_ascii_lowercase())
            .or_insert(id);
        id
    }

    /// Finds the definition of `locuri`.
    pub fn lookup(&self, locuri: &str) -> Result<Match<'_>, LookupError> {
        let (scope, segs) =
            split(locuri).ok_or_else(|| LookupError::Malformed(locuri.to_string()))?;
        if segs.is_empty() {
            let known = if scope == Scope::User {
                "./User"
            } else {
                "./Device"
            };
            return Err(LookupError::NotFound {
                path: locuri.to_string(),
                known: known.to_string(),
            });
        }
        let mut at = if scope == Scope::User { 1 } else { 0 };
        let mut bindings = Vec::new();
        let mut case_insensitive = false;
        for (i, s) in segs.iter().enumerate() {
            let e = &self.entries[at];
            let next = if let Some(&n) = e.children.get(*s) {
                n
            } else if let Some(&n) = e.lower.get(&s.to_ascii_lowercase()) {
                case_insensitive = true;
                n
            } else if let Some(n) = e.dynamic {
                let title = self.entries[n].def.and_then(|(t, d)| {
                    self.tables[t as usize].nodes[d as usize]
                        .title
                        .as_deref()
                        .map(str::to_string)
                });
                bindings.push(Binding { segment: i, title });
                n
            } else {
                let prefix = match scope {
                    Scope::Device => "./Device",
                    Scope::User => "./User",
                };
                let known = std::iter::once(prefix)
                    .chain(segs[..i].iter().copied())
                    .collect::<Vec<_>>()
                    .join("/");
                return Err(LookupError::NotFound {
                    path: locuri.to_string(),
                    known,
                });
            };
            at = next;
        }
        match self.entries[at].def {
            Some((t, d)) => {
                let table = &self.tables[t as usize];
                Ok(Match {
                    def: &table.nodes[d as usize],
                    table,
                    index: d as usize,
                    scope,
                    segments: segs.iter().map(|s| s.to_string()).collect(),
                    bindings,
                    case_insensitive,
                    entry: at,
                })
            }
            None => Err(LookupError::NotFound {
                path: locuri.to_string(),
                known: String::new(),
            }),
        }
    }

    /// For `./Device/Vendor/MSFT/Policy/Result/{Area}/{Policy}` (which Policy.xml describes only
    /// generically, Get-only), the definition of `Policy/Config/{Area}/{Policy}` when a policy
    /// area DDF defines it: the Result node reports that policy's effective value, in its format.
    pub fn policy_config_of_result(&self, m: &Match<'_>) -> Option<Match<'_>> {
        let i = m
            .segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("Result"))?;
        if i == 0 || !m.segments[i - 1].eq_ignore_ascii_case("Policy") || m.segments.len() <= i + 2
        {
            return None;
        }
        let mut segs = m.segments.clone();
        segs[i] = "Config".to_string();
        let prefix = match m.scope {
            Scope::Device => "./Device",
            Scope::User => "./User",
        };
        let config = self.lookup(&format!("{prefix}/{}", segs.join("/"))).ok()?;
        let generic = config
            .bindings
            .iter()
            .any(|b| matches!(b.title.as_deref(), Some("AreaName" | "PolicyName")));
        (!generic).then_some(config)
    }

    /// Path templates of every node named `name` (ASCII case-insensitive), sorted: where a
    /// setting lives when a profile uses the wrong path.
    pub fn nodes_named(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| {
                t.nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.name.eq_ignore_ascii_case(name))
                    .map(|(i, _)| t.path_template(i))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The applicability of a matched node: its own, or the nearest ancestor's in the same
    /// table (DDF applicability is inherited by children).
    pub fn applicability<'c>(&self, m: &Match<'c>) -> &'c Applicability {
        let mut at = Some(m.index);
        while let Some(i) = at {
            let n = &m.table.nodes[i];
            if !n.applicability.is_empty() {
                return &n.applicability;
            }
            at = n.parent.map(|p| p as usize);
        }
        &m.def.applicability
    }

    /// Names of the children of a matched node, from every table (a dynamic child is shown as
    /// `{Title}`), sorted.
    pub fn children(&self, m: &Match<'_>) -> Vec<String> {
        let e = &self.entries[m.entry];
        let mut out: Vec<String> = e.children.keys().cloned().collect();
        out.sort();
        if let Some(d) = e.dynamic {
            let title = self.entries[d]
                .def
                .and_then(|(t, i)| self.tables[t as usize].nodes[i as usize].title.as_deref())
                .unwrap_or("");
            out.push(format!("{{{title}}}"));
        }
        out
    }
}
