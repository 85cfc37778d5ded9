//! The emulated device's management tree, governed by the DDF catalog.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use winmdm_csp::{Access, Catalog, Format as DdfFormat, Match, Scope};
use winmdm_omadm::tree::{Hresult, Node, NodeTree};
use winmdm_omadm::{CommandKind, LocUri, StatusCode};

use crate::facts::DeviceFacts;

/// The DDF catalog every tree is governed by: [`Catalog::builtin`] with every CSP
/// (`winmdm-csp` feature `all`), built once per process.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

/// A node as stored: `Meta/Format`, `Meta/Type` and `Data` text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoredNode {
    /// `Meta/Format` (`node` for an interior node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `Meta/Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// `Data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl StoredNode {
    /// A leaf holding `data` in the given format.
    pub fn leaf(format: &str, data: impl Into<String>) -> Self {
        StoredNode {
            format: Some(format.to_owned()),
            mime: None,
            data: Some(data.into()),
        }
    }

    /// An interior node.
    pub fn interior() -> Self {
        StoredNode {
            format: Some("node".to_owned()),
            ..StoredNode::default()
        }
    }

    /// True for an interior node (`Format` `node`).
    pub fn is_interior(&self) -> bool {
        self.format.as_deref() == Some("node")
    }
}

impl From<Node> for StoredNode {
    fn from(n: Node) -> Self {
        StoredNode {
            format: n.format,
            mime: n.mime,
            data: n.data,
        }
    }
}

impl From<StoredNode> for Node {
    fn from(n: StoredNode) -> Self {
        Node {
            format: n.format,
            mime: n.mime,
            data: n.data,
        }
    }
}

/// The HRESULT Windows reports in `msft:originalerror` beside a failure with `code`, as
/// far as the repository can source it; `None` where it cannot.
///
/// The only HRESULT in the repository's sources is `0x86000002`: MS-MDM 2.2.5.1 gives it
/// as the example of `<Data msft:originalerror="0x86000002">`, and the protocol notes
/// repeat it; the spec pairs it with no status code. The repository's sample
/// (`crates/syncml/tests/data/published/ms-mdm-spec_2.2.5.1_data-originalerror.xml`,
/// constructed around the spec's syntax lines, not a wire capture) pairs it with 404, and
/// so does this emulator: **404 -> `0x86000002`** is an assumption until a real capture
/// shows it. For 405, 418, 500 and the other codes no HRESULT is sourced, so none is sent
/// unless a test injects one ([`DeviceTree::fail_with`]).
pub fn original_error_for(code: StatusCode) -> Option<Hresult> {
    (code == StatusCode::NOT_FOUND).then_some(Hresult(0x8600_0002))
}

/// Whether a `SyncApplicationVersion` value (`^(\d\.)?(\d)$` in the DMClient DDF: `3.0`,
/// `5`) is 3.0 or higher.
fn version_at_least_3(v: &str) -> bool {
    v.trim()
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// One `Exec` the device performed (Reboot, RemoteWipe, ...), in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRecord {
    /// The node executed, as the server addressed it.
    pub path: String,
    /// The `Data` the Exec carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// Why a direct change to the tree ([`DeviceTree::set`], ...) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// No DDF of the catalog describes the node.
    #[error("no DDF describes {0:?}")]
    Unknown(String),
    /// The DDF describes an interior node where a value was given, or a leaf where an
    /// interior node was asked for.
    #[error("{0:?} is an interior node in its DDF")]
    Interior(String),
}

/// A Windows-like management tree: every node must be known to a DDF of the
/// [`catalog`], and the DDF's `AccessType` decides what the server may do.
///
/// As a [`NodeTree`] (what [`winmdm_omadm::device::DeviceSession`] executes against) it answers:
///
/// * **404** for a node no DDF describes, a leaf with no value, or a dynamic node
///   (`WiFi/Profile/<name>`) never added;
/// * **405** for an `Add`, `Replace`, `Delete` or `Exec` the DDF's `AccessType` does not
///   list (a write to a read-only node such as `./DevInfo/DevId`), a `Replace` of an
///   interior node, and a `Get` of a node without `Get` access;
/// * **418** for an `Add` of a node that exists;
/// * **200** otherwise: values are stored and returned by `Get` (interior nodes list
///   their children `/`-separated, Format `node`); `Add` creates missing dynamic parents
///   (Windows's implicit Add); `Replace` of a leaf with no value yet creates it when its
///   dynamic parents exist (policies are set with Replace); an `Exec` is recorded in
///   [`execs`](DeviceTree::execs).
///
/// Node paths are compared after dropping the `./Device` prefix (`./Device/Vendor/MSFT/X`
/// and `./Vendor/MSFT/X` are one node) and matched against the DDFs as the catalog does
/// (names exactly, then ignoring case). Failures can be injected per node
/// ([`fail`](DeviceTree::fail), [`fail_with`](DeviceTree::fail_with)) and values changed
/// behind the server's back ([`set`](DeviceTree::set), "drift"). The whole tree
/// serialises to JSON.
///
/// Beside a failure it reports an HRESULT ([`NodeTree::original_error`], sent as
/// `msft:originalerror` on the Status's `Data`) as Windows 10 1809 and later do: only once
/// the server has set `./Vendor/MSFT/DMClient/Provider/{ProviderID}/SyncApplicationVersion`
/// to 3.0 or higher (MS-MDM 2.2.5.1; the DDF's default is 1.0). The HRESULT is the one
/// injected with the failure, else [`original_error_for`] the status code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceTree {
    nodes: BTreeMap<String, StoredNode>,
    #[serde(default)]
    failing: BTreeMap<String, u16>,
    /// The HRESULT reported beside an injected failure, by node (none: no attribute).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    failing_hresults: BTreeMap<String, u32>,
    #[serde(default)]
    execs: Vec<ExecRecord>,
    #[serde(skip)]
    atomic: Option<(BTreeMap<String, StoredNode>, usize)>,
    /// Counts changes (values, failures, the Exec log) made in this process; not saved.
    #[serde(skip)]
    revision: u64,
}

/// A LocURI resolved against the catalog: the storage key and the match.
struct Resolved<'c> {
    key: String,
    m: Match<'c>,
}

fn key_of(m: &Match<'_>, upto: usize) -> String {
    let segs = &m.segments[..upto];
    match m.scope {
        Scope::Device => format!("./{}", segs.join("/")),
        Scope::User => format!("./User/{}", segs.join("/")),
    }
}

fn resolve(path: &str) -> Option<Resolved<'static>> {
    let m = catalog().lookup(path).ok()?;
    Some(Resolved {
        key: key_of(&m, m.segments.len()),
        m,
    })
}

fn ddf_format(m: &Match<'_>) -> Option<String> {
    match &m.def.format {
        DdfFormat::Other(s) if s.is_empty() => None,
        f => Some(f.as_str().to_owned()),
    }
}

impl DeviceTree {
    /// An empty tree (no DevInfo or DevDetail values: see [`DeviceTree::windows`]).
    pub fn new() -> Self {
        DeviceTree::default()
    }

    /// A tree seeded like a Windows 10 desktop with `device_id`: `./DevInfo` (`DevId`,
    /// `Man`, `Mod`, `DmV`, `Lang`) and `./DevDetail` (`DevTyp`, `OEM`, `FwV`, `SwV`, `HwV`,
    /// `LrgObj`, `URI/*`, `Ext/Microsoft/{OSPlatform, DeviceName, DNSComputerName,
    /// ProcessorArchitecture, TotalRAM, SMBIOSSerialNumber, LocalTime}`) from `facts`.
    pub fn windows(facts: &DeviceFacts, device_id: &str) -> Self {
        let mut t = DeviceTree::new();
        t.seed(facts, device_id);
        t
    }

    /// Writes the DevInfo and DevDetail values of `facts` (replacing earlier ones), in
    /// the formats of their DDFs.
    pub fn seed(&mut self, facts: &DeviceFacts, device_id: &str) {
        for (path, value) in facts.tree_values(device_id) {
            // Every seeded path is in the builtin DDFs (test `seeded_nodes_are_governed`).
            let _ = self.set(&path, value);
        }
    }

    /// The stored node at `path` (`None` when it has no value or no DDF describes it).
    pub fn node(&self, path: &str) -> Option<&StoredNode> {
        self.nodes.get(&resolve(path)?.key)
    }

    /// The stored value of the leaf at `path`.
    pub fn value(&self, path: &str) -> Option<&str> {
        self.node(path)?.data.as_deref()
    }

    /// Sets a leaf's value directly, bypassing access rules (drift, test set-up). The
    /// format is the DDF's; missing dynamic parents are created.
    pub fn set(&mut self, path: &str, value: impl Into<String>) -> Result<(), TreeError> {
        let r = resolve(path).ok_or_else(|| TreeError::Unknown(path.to_owned()))?;
        if r.m.def.format == DdfFormat::Node {
            return Err(TreeError::Interior(path.to_owned()));
        }
        let node = StoredNode {
            format: ddf_format(&r.m),
            mime: None,
            data: Some(value.into()),
        };
        self.insert(&r, node);
        Ok(())
    }

    /// Stores a node as given (interior or leaf), bypassing access rules; missing
    /// dynamic parents are created.
    pub fn set_node(&mut self, path: &str, node: StoredNode) -> Result<(), TreeError> {
        let r = resolve(path).ok_or_else(|| TreeError::Unknown(path.to_owned()))?;
        self.insert(&r, node);
        Ok(())
    }

    /// Removes a node and its subtree directly; returns whether anything was stored.
    pub fn remove(&mut self, path: &str) -> bool {
        match resolve(path) {
            Some(r) => self.remove_key(&r.key),
            None => false,
        }
    }

    /// Makes every `Add`, `Replace`, `Delete` and `Exec` of the node at `path` fail with
    /// `code` (e.g. `StatusCode(500)`); `Get` still returns the stored value. The HRESULT
    /// reported beside it is [`original_error_for`] `code` (none for most codes): see
    /// [`fail_with`](DeviceTree::fail_with) to choose it.
    pub fn fail(&mut self, path: &str, code: StatusCode) -> Result<(), TreeError> {
        self.fail_with(path, code, original_error_for(code))
    }

    /// [`fail`](DeviceTree::fail) with the HRESULT to report beside the failure as
    /// `msft:originalerror` (`None`: no attribute). Like Windows, the device sends it only
    /// when the server has set `SyncApplicationVersion` 3.0 or higher (see [`DeviceTree`]).
    pub fn fail_with(
        &mut self,
        path: &str,
        code: StatusCode,
        hresult: Option<Hresult>,
    ) -> Result<(), TreeError> {
        let r = resolve(path).ok_or_else(|| TreeError::Unknown(path.to_owned()))?;
        match hresult {
            Some(h) => self.failing_hresults.insert(r.key.clone(), h.0),
            None => self.failing_hresults.remove(&r.key),
        };
        self.failing.insert(r.key, code.0);
        self.revision += 1;
        Ok(())
    }

    /// Removes an injected failure; returns whether there was one.
    pub fn unfail(&mut self, path: &str) -> bool {
        let had = resolve(path).is_some_and(|r| {
            self.failing_hresults.remove(&r.key);
            self.failing.remove(&r.key).is_some()
        });
        if had {
            self.revision += 1;
        }
        had
    }

    /// Whether the server set a `DMClient/Provider/{ProviderID}/SyncApplicationVersion` of
    /// 3.0 or higher: the device then reports HRESULTs beside failures (MS-MDM 2.2.5.1).
    pub fn reports_original_errors(&self) -> bool {
        const PROVIDERS: &str = "./Vendor/MSFT/DMClient/Provider/";
        self.nodes
            .range(PROVIDERS.to_owned()..)
            .take_while(|(k, _)| k.starts_with(PROVIDERS))
            .filter(|(k, _)| k.ends_with("/SyncApplicationVersion"))
            .any(|(_, n)| n.data.as_deref().is_some_and(version_at_least_3))
    }

    /// Every `Exec` performed, oldest first.
    pub fn execs(&self) -> &[ExecRecord] {
        &self.execs
    }

    /// Takes the recorded `Exec`s, leaving the log empty.
    pub fn take_execs(&mut self) -> Vec<ExecRecord> {
        self.revision += 1;
        std::mem::take(&mut self.execs)
    }

    /// The stored nodes as (storage path, node), sorted by path. Storage paths drop a
    /// leading `./Device`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StoredNode)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A number that changes whenever the tree changes (a node's value, a failure, the
    /// Exec log), by a server command or directly; it starts at 0 when the tree is
    /// made or loaded, and `Get`s leave it alone. [`Device`](crate::Device) uses it to
    /// tell a session that changed the tree from one that did not.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn insert(&mut self, r: &Resolved<'_>, node: StoredNode) {
        self.revision += 1;
        // Dynamic parents (and every stored parent chain) are created as interior nodes.
        for b in &r.m.bindings {
            if b.segment + 1 < r.m.segments.len() {
                self.nodes
                    .entry(key_of(&r.m, b.segment + 1))
                    .or_insert_with(StoredNode::interior);
            }
        }
        self.nodes.insert(r.key.clone(), node);
    }

    fn remove_key(&mut self, key: &str) -> bool {
        let had = self.nodes.remove(key).is_some();
        let pre = format!("{key}/");
        let before = self.nodes.len();
        self.nodes.retain(|k, _| !k.starts_with(&pre));
        let removed = had || self.nodes.len() != before;
        if removed {
            self.revision += 1;
        }
        removed
    }

    /// Whether the node exists: stored, or a permanent interior node whose dynamic
    /// parents exist.
    fn exists(&self, r: &Resolved<'_>) -> bool {
        if self.nodes.contains_key(&r.key) {
            return true;
        }
        r.m.def.format == DdfFormat::Node
            && r.m
                .bindings
                .iter()
                .all(|b| self.nodes.contains_key(&key_of(&r.m, b.segment + 1)))
    }

    /// Whether the dynamic parents of the node exist (not counting the node itself).
    fn parents_exist(&self, r: &Resolved<'_>) -> bool {
        let last = r.m.segments.len() - 1;
        r.m.bindings
            .iter()
            .filter(|b| b.segment < last)
            .all(|b| self.nodes.contains_key(&key_of(&r.m, b.segment + 1)))
    }

    fn children(&self, r: &Resolved<'_>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let pre = format!("{}/", r.key);
        for k in self
            .nodes
            .range(pre.clone()..)
            .take_while(|(k, _)| k.starts_with(&pre))
            .map(|(k, _)| &k[pre.len()..])
        {
            let first = k.split('/').next().unwrap_or(k);
            if out.last().map(String::as_str) != Some(first) {
                out.push(first.to_owned());
            }
        }
        // Permanent interior children exist without being stored.
        for name in catalog().children(&r.m) {
            if name.starts_with('{') || out.contains(&name) {
                continue;
            }
            if let Some(c) = resolve(&format!("{}/{name}", r.key))
                && c.m.def.format == DdfFormat::Node
                && self.exists(&c)
            {
                out.push(name);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn read(&self, r: &Resolved<'_>) -> Result<Node, StatusCode> {
        if !r.m.def.access.contains(Access::GET) {
            return Err(StatusCode::COMMAND_NOT_ALLOWED);
        }
        if !self.exists(r) {
            return Err(StatusCode::NOT_FOUND);
        }
        let stored = self.nodes.get(&r.key);
        if r.m.def.format == DdfFormat::Node || stored.is_some_and(StoredNode::is_interior) {
            let c = self.children(r);
            return Ok(Node {
                format: Some("node".to_owned()),
                mime: None,
                data: (!c.is_empty()).then(|| c.join("/")),
            });
        }
        Ok(stored.cloned().map(Node::from).unwrap_or_default())
    }

    fn write_check(&self, r: &Resolved<'_>, access: Access) -> Option<StatusCode> {
        if let Some(c) = self.failing.get(&r.key) {
            return Some(StatusCode(*c));
        }
        (!r.m.def.access.contains(access)).then_some(StatusCode::COMMAND_NOT_ALLOWED)
    }

    fn incoming(r: &Resolved<'_>, node: Node) -> StoredNode {
        if r.m.def.format == DdfFormat::Node {
            return StoredNode::interior();
        }
        let mut n = StoredNode::from(node);
        if n.format.as_deref().is_none_or(|f| f.trim().is_empty()) {
            n.format = ddf_format(&r.m);
        }
        n
    }
}

impl NodeTree for DeviceTree {
    fn get(&mut self, uri: &LocUri<'_>) -> Result<Node, StatusCode> {
        if uri.query().is_some() {
            return Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED);
        }
        let r = resolve(uri.path()).ok_or(StatusCode::NOT_FOUND)?;
        self.read(&r)
    }

    fn add(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode {
        let Some(r) = resolve(uri.path()) else {
            return StatusCode::NOT_FOUND;
        };
        if let Some(c) = self.write_check(&r, Access::ADD) {
            return c;
        }
        if self.exists(&r) {
            return StatusCode::ALREADY_EXISTS;
        }
        let n = Self::incoming(&r, node);
        self.insert(&r, n);
        StatusCode::OK
    }

    fn replace(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode {
        let Some(r) = resolve(uri.path()) else {
            return StatusCode::NOT_FOUND;
        };
        if let Some(c) = self.write_check(&r, Access::REPLACE) {
            return c;
        }
        if r.m.def.format == DdfFormat::Node {
            return StatusCode::COMMAND_NOT_ALLOWED;
        }
        if !self.exists(&r) && !self.parents_exist(&r) {
            return StatusCode::NOT_FOUND;
        }
        let n = Self::incoming(&r, node);
        self.insert(&r, n);
        StatusCode::OK
    }

    fn delete(&mut self, uri: &LocUri<'_>) -> StatusCode {
        let Some(r) = resolve(uri.path()) else {
            return StatusCode::NOT_FOUND;
        };
        if let Some(c) = self.write_check(&r, Access::DELETE) {
            return c;
        }
        if !self.exists(&r) {
            return StatusCode::NOT_FOUND;
        }
        self.remove_key(&r.key);
        StatusCode::OK
    }

    fn exec(&mut self, uri: &LocUri<'_>, data: Option<&str>) -> StatusCode {
        let Some(r) = resolve(uri.path()) else {
            return StatusCode::NOT_FOUND;
        };
        if let Some(c) = self.write_check(&r, Access::EXEC) {
            return c;
        }
        if !self.parents_exist(&r) {
            return StatusCode::NOT_FOUND;
        }
        self.revision += 1;
        self.execs.push(ExecRecord {
            path: uri.path().to_owned(),
            data: data.map(str::to_owned),
        });
        StatusCode::OK
    }

    fn get_struct(&mut self, uri: &LocUri<'_>) -> Result<Vec<(String, Node)>, StatusCode> {
        let base = uri.path();
        let r = resolve(base).ok_or(StatusCode::NOT_FOUND)?;
        let mut out = vec![(base.to_owned(), self.read(&r)?)];
        // Every node below, stored or permanent interior, parents before children.
        let mut stack: Vec<(String, String)> = self
            .children(&r)
            .into_iter()
            .rev()
            .map(|c| (format!("{base}/{c}"), c))
            .collect();
        while let Some((path, _)) = stack.pop() {
            let Some(c) = resolve(&path) else { continue };
            let Ok(n) = self.read(&c) else { continue };
            if n.format.as_deref() == Some("node") {
                for child in self.children(&c).into_iter().rev() {
                    stack.push((format!("{path}/{child}"), child));
                }
            }
            out.push((path, n));
        }
        Ok(out)
    }

    fn begin_atomic(&mut self) {
        self.atomic = Some((self.nodes.clone(), self.execs.len()));
    }

    fn commit_atomic(&mut self) {
        self.atomic = None;
    }

    fn rollback_atomic(&mut self) -> bool {
        match self.atomic.take() {
            Some((nodes, execs)) => {
                self.revision += 1;
                self.nodes = nodes;
                self.execs.truncate(execs);
                true
            }
            None => false,
        }
    }

    /// With `SyncApplicationVersion` 3.0 or higher: the HRESULT injected with the node's
    /// failure ([`DeviceTree::fail_with`]), else [`original_error_for`] the code.
    fn original_error(
        &mut self,
        _kind: CommandKind,
        uri: &LocUri<'_>,
        code: StatusCode,
    ) -> Option<Hresult> {
        if !self.reports_original_errors() {
            return None;
        }
        if let Some(r) = resolve(uri.path())
            && self.failing.get(&r.key) == Some(&code.0)
        {
            return self.failing_hresults.get(&r.key).copied().map(Hresult);
        }
        original_error_for(code)
    }
}
