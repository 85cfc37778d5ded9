//! The node tree the device engine executes commands against: the [`NodeTree`] trait
//! and [`MemoryTree`], an in-memory one for emulators and tests; [`Hresult`], the
//! Windows error code a tree can report beside a failure (`msft:originalerror`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use winmdm_syncml::{CommandKind, StatusCode};

use winmdm_types::LocUri;

/// A node's value as stored: `Meta/Format`, `Meta/Type` and `Data` text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// `Meta/Format` (`chr` when absent on the wire).
    pub format: Option<String>,
    /// `Meta/Type`.
    pub mime: Option<String>,
    /// `Data`.
    pub data: Option<String>,
}

impl Node {
    /// An interior node.
    pub fn interior() -> Self {
        Node {
            format: Some("node".to_owned()),
            ..Node::default()
        }
    }

    /// A leaf with `chr` data.
    pub fn chr(data: impl Into<String>) -> Self {
        Node {
            format: Some("chr".to_owned()),
            mime: None,
            data: Some(data.into()),
        }
    }

    fn is_interior(&self) -> bool {
        self.format.as_deref() == Some("node")
    }
}

/// An HRESULT, the code of the Windows component that failed, as a device reports it in
/// the `msft:originalerror` attribute of a failed Status's `Data` (MS-MDM 2.2.5.1: Windows
/// 10 1809 and later, once the server set the DMClient provider's
/// `SyncApplicationVersion` to 3.0 or higher).
///
/// Written as Windows's example writes it: `0x` and eight hex digits (`0x86000002`, MS-MDM
/// 2.2.5.1; the repository's sample is
/// `crates/syncml/tests/data/published/ms-mdm-spec_2.2.5.1_data-originalerror.xml`). That
/// example has no letter digit, so the case of `A`-`F` is not sourced: upper case is
/// written, either case is read.
///
/// ```
/// use winmdm_omadm::tree::Hresult;
///
/// assert_eq!(Hresult(0x8600_0002).to_string(), "0x86000002");
/// assert_eq!(Hresult(0x8007_000D).to_string(), "0x8007000D");
/// assert_eq!("0x8007000d".parse(), Ok(Hresult(0x8007_000D)));
/// assert!("86000002".parse::<Hresult>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hresult(pub u32);

impl fmt::Display for Hresult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// Why a string is not an [`Hresult`]: not `0x` (or `0X`) followed by one to eight hex
/// digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an HRESULT (0x and up to eight hex digits): {0:?}")]
pub struct HresultError(pub String);

impl FromStr for Hresult {
    type Err = HresultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .filter(|d| !d.is_empty() && d.len() <= 8 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| HresultError(s.to_owned()))?;
        u32::from_str_radix(digits, 16)
            .map(Hresult)
            .map_err(|_| HresultError(s.to_owned()))
    }
}

/// A device's management tree, as the device engine sees it. Each operation returns the
/// status code the device reports (200, 404, 405, 418, 500, ...).
pub trait NodeTree {
    /// Reads a node.
    fn get(&mut self, uri: &LocUri<'_>) -> Result<Node, StatusCode>;
    /// Creates a node (interior nodes on the way are created implicitly).
    fn add(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode;
    /// Replaces an existing node's value.
    fn replace(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode;
    /// Deletes a node and its subtree.
    fn delete(&mut self, uri: &LocUri<'_>) -> StatusCode;
    /// Executes a node.
    fn exec(&mut self, uri: &LocUri<'_>, data: Option<&str>) -> StatusCode;
    /// Reads a subtree for `?list=StructData`: the node and every descendant, parents
    /// before children, as `(LocURI, node)` pairs. The default answers 406.
    fn get_struct(&mut self, uri: &LocUri<'_>) -> Result<Vec<(String, Node)>, StatusCode> {
        let _ = uri;
        Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED)
    }
    /// Starts an Atomic: later changes can be rolled back.
    fn begin_atomic(&mut self);
    /// Ends an Atomic, keeping the changes.
    fn commit_atomic(&mut self);
    /// Ends an Atomic, undoing its changes; `false` when that failed (516).
    fn rollback_atomic(&mut self) -> bool;
    /// The HRESULT to report beside a failure, as `msft:originalerror` on the failed
    /// Status's `Data`: asked by the engine right after the command `kind` (Get, Add,
    /// Replace, Delete, Exec) on `uri` (as the server addressed it, query included) came
    /// to `code`, which is not 2xx. The default reports none (no attribute, as Windows
    /// before SyncApplicationVersion 3.0).
    fn original_error(
        &mut self,
        kind: CommandKind,
        uri: &LocUri<'_>,
        code: StatusCode,
    ) -> Option<Hresult> {
        let _ = (kind, uri, code);
        None
    }
}

/// An in-memory [`NodeTree`] for emulators and tests: implicit interior creation,
/// read-only subtrees (405), injected failures, snapshots for Atomic.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    nodes: BTreeMap<String, Node>,
    read_only: BTreeSet<String>,
    executable: BTreeSet<String>,
    failing: BTreeMap<String, (StatusCode, Option<Hresult>)>,
    snapshot: Option<BTreeMap<String, Node>>,
    /// Every Exec performed, in order: (path, data).
    pub execs: Vec<(String, Option<String>)>,
}

fn parent(p: &str) -> Option<&str> {
    let i = p.rfind('/')?;
    (i > 1).then(|| &p[..i])
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// Sets a node (and its interior parents) directly.
    pub fn set(&mut self, path: &str, node: Node) -> &mut Self {
        let mut p = parent(path);
        while let Some(x) = p {
            self.nodes
                .entry(x.to_owned())
                .or_insert_with(Node::interior);
            p = parent(x);
        }
        self.nodes.insert(path.to_owned(), node);
        self
    }

    /// Marks a subtree read-only: writes get 405.
    pub fn read_only(&mut self, path: &str) -> &mut Self {
        self.read_only.insert(path.to_owned());
        self
    }

    /// Marks a node executable (Exec on other nodes gets 405).
    pub fn executable(&mut self, path: &str) -> &mut Self {
        self.executable.insert(path.to_owned());
        self
    }

    /// Makes every write to `path` fail with `code`.
    pub fn fail(&mut self, path: &str, code: StatusCode) -> &mut Self {
        self.failing.insert(path.to_owned(), (code, None));
        self
    }

    /// Makes every write to `path` fail with `code` and report `hresult` beside it
    /// (`msft:originalerror`, see [`NodeTree::original_error`]).
    pub fn fail_with(&mut self, path: &str, code: StatusCode, hresult: Hresult) -> &mut Self {
        self.failing.insert(path.to_owned(), (code, Some(hresult)));
        self
    }

    /// A node by path.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    fn is_read_only(&self, p: &str) -> bool {
        self.read_only
            .iter()
            .any(|r| p == r || p.starts_with(&format!("{r}/")))
    }

    fn children(&self, p: &str) -> Vec<String> {
        let pre = format!("{p}/");
        self.nodes
            .range(pre.clone()..)
            .take_while(|(k, _)| k.starts_with(&pre))
            .filter(|(k, _)| !k[pre.len()..].contains('/'))
            .map(|(k, _)| k[pre.len()..].to_owned())
            .collect()
    }

    fn write_check(&self, p: &str) -> Option<StatusCode> {
        if let Some((c, _)) = self.failing.get(p) {
            return Some(*c);
        }
        self.is_read_only(p)
            .then_some(StatusCode::COMMAND_NOT_ALLOWED)
    }
}

impl NodeTree for MemoryTree {
    fn get(&mut self, uri: &LocUri<'_>) -> Result<Node, StatusCode> {
        if uri.query().is_some() {
            return Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED);
        }
        let p = uri.path();
        let n = self.nodes.get(p).ok_or(StatusCode::NOT_FOUND)?;
        if n.is_interior() {
            let c = self.children(p);
            return Ok(Node {
                format: Some("node".to_owned()),
                mime: None,
                data: (!c.is_empty()).then(|| c.join("/")),
            });
        }
        Ok(n.clone())
    }

    fn add(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode {
        let p = uri.path();
        if let Some(c) = self.write_check(p) {
            return c;
        }
        if self.nodes.contains_key(p) {
            return StatusCode::ALREADY_EXISTS;
        }
        let mut q = parent(p);
        while let Some(x) = q {
            if self.nodes.get(x).is_some_and(|n| !n.is_interior()) {
                return StatusCode::COMMAND_NOT_ALLOWED;
            }
            q = parent(x);
        }
        self.set(p, node);
        StatusCode::OK
    }

    fn replace(&mut self, uri: &LocUri<'_>, node: Node) -> StatusCode {
        let p = uri.path();
        if let Some(c) = self.write_check(p) {
            return c;
        }
        match self.nodes.get_mut(p) {
            None => StatusCode::NOT_FOUND,
            Some(n) if n.is_interior() => StatusCode::COMMAND_NOT_ALLOWED,
            Some(n) => {
                *n = node;
                StatusCode::OK
            }
        }
    }

    fn delete(&mut self, uri: &LocUri<'_>) -> StatusCode {
        let p = uri.path().to_owned();
        if let Some(c) = self.write_check(&p) {
            return c;
        }
        if self.nodes.remove(&p).is_none() {
            return StatusCode::NOT_FOUND;
        }
        let pre = format!("{p}/");
        self.nodes.retain(|k, _| !k.starts_with(&pre));
        StatusCode::OK
    }

    fn exec(&mut self, uri: &LocUri<'_>, data: Option<&str>) -> StatusCode {
        let p = uri.path();
        if let Some((c, _)) = self.failing.get(p) {
            return *c;
        }
        if !self.executable.contains(p) {
            return if self.nodes.contains_key(p) {
                StatusCode::COMMAND_NOT_ALLOWED
            } else {
                StatusCode::NOT_FOUND
            };
        }
        self.execs.push((p.to_owned(), data.map(str::to_owned)));
        StatusCode::OK
    }

    fn get_struct(&mut self, uri: &LocUri<'_>) -> Result<Vec<(String, Node)>, StatusCode> {
        let p = uri.path();
        let mut out = vec![(p.to_owned(), self.get(uri)?)];
        let pre = format!("{p}/");
        let keys: Vec<String> = self
            .nodes
            .range(pre.clone()..)
            .take_while(|(k, _)| k.starts_with(&pre))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let u =
                LocUri::absolute_or_relative(k.as_str()).map_err(|_| StatusCode::COMMAND_FAILED)?;
            out.push((k.clone(), self.get(&u)?));
        }
        Ok(out)
    }

    fn begin_atomic(&mut self) {
        self.snapshot = Some(self.nodes.clone());
    }

    fn commit_atomic(&mut self) {
        self.snapshot = None;
    }

    fn rollback_atomic(&mut self) -> bool {
        match self.snapshot.take() {
            Some(s) => {
                self.nodes = s;
                true
            }
            None => false,
        }
    }

    /// The HRESULT given to [`MemoryTree::fail_with`] when `code` is the injected one;
    /// none otherwise.
    fn original_error(
        &mut self,
        _kind: CommandKind,
        uri: &LocUri<'_>,
        code: StatusCode,
    ) -> Option<Hresult> {
        match self.failing.get(uri.path()) {
            Some((c, h)) if *c == code => *h,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> LocUri<'_> {
        LocUri::try_from(s).unwrap()
    }

    #[test]
    fn status_codes() {
        let mut t = MemoryTree::new();
        t.set("./DevInfo/Man", Node::chr("VMware, Inc."))
            .read_only("./DevInfo");
        assert_eq!(
            t.get(&u("./DevInfo/Man")).unwrap().data.as_deref(),
            Some("VMware, Inc.")
        );
        assert_eq!(t.get(&u("./DevInfo")).unwrap().data.as_deref(), Some("Man"));
        assert_eq!(
            t.replace(&u("./DevInfo/Man"), Node::chr("x")),
            StatusCode::COMMAND_NOT_ALLOWED
        );
        assert_eq!(t.get(&u("./DevDetail/X")), Err(StatusCode::NOT_FOUND));
        assert_eq!(
            t.replace(&u("./DevDetail/X"), Node::chr("x")),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.add(&u("./Vendor/MSFT/A/B"), Node::chr("1")),
            StatusCode::OK
        );
        assert_eq!(
            t.get(&u("./Vendor/MSFT/A")).unwrap().format.as_deref(),
            Some("node")
        );
        assert_eq!(
            t.add(&u("./Vendor/MSFT/A/B"), Node::chr("1")),
            StatusCode::ALREADY_EXISTS
        );
        assert_eq!(
            t.add(&u("./Vendor/MSFT/A/B/C"), Node::chr("1")),
            StatusCode::COMMAND_NOT_ALLOWED
        );
        assert_eq!(
            t.exec(&u("./Vendor/MSFT/A/B"), None),
            StatusCode::COMMAND_NOT_ALLOWED
        );
        assert_eq!(
            t.get(&u("./Vendor/MSFT/A?list=StructData")),
            Err(StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED)
        );
        let s = t.get_struct(&u("./Vendor/MSFT")).unwrap();
        let paths: Vec<_> = s.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["./Vendor/MSFT", "./Vendor/MSFT/A", "./Vendor/MSFT/A/B"]
        );
        assert_eq!(s[2].1.data.as_deref(), Some("1"));
        assert_eq!(
            t.get_struct(&u("./Vendor/MSFT/Nope")),
            Err(StatusCode::NOT_FOUND)
        );
        t.begin_atomic();
        assert_eq!(t.delete(&u("./Vendor/MSFT/A")), StatusCode::OK);
        assert_eq!(t.get(&u("./Vendor/MSFT/A/B")), Err(StatusCode::NOT_FOUND));
        assert!(t.rollback_atomic());
        assert_eq!(
            t.get(&u("./Vendor/MSFT/A/B")).unwrap().data.as_deref(),
            Some("1")
        );
        t.fail("./Vendor/MSFT/A/B", StatusCode::COMMAND_FAILED);
        assert_eq!(
            t.replace(&u("./Vendor/MSFT/A/B"), Node::chr("2")),
            StatusCode::COMMAND_FAILED
        );
    }
}
