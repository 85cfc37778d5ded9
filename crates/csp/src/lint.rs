//! Profile linter: checks SyncML commands (admin profiles without an envelope, or whole
//! messages) against the node definitions of a [`Catalog`].
//!
//! Rules (each finding names its [`Rule`]): the LocURI exists; the command is allowed by
//! the node's AccessType; the Meta Format matches DFFormat; the value fits the format and the
//! allowed values (ENUM, Flag, Range, ADMX shape, XML well-formedness for XSD and `xml` nodes);
//! markup inside `<Data>` that is neither escaped nor CDATA; AtomicRequired nodes outside
//! Atomic; and, given an OS build and an edition, applicability. RegEx values are checked
//! with the `regex` crate (linear time; unanchored like .NET's `Regex.IsMatch`, `/.../`
//! delimiters stripped); a DDF pattern that crate cannot compile is reported once as a
//! warning and not checked. Given ADMX files ([`LintOptions::with_admx`]), the `<data id=>`
//! ids of ADMX-backed values are checked against the policy's elements, and `enum` and
//! `decimal` values against the file (rule [`Rule::AdmxData`]); without them, ADMX values are
//! checked for shape only. An element where a command belongs that is not a SyncML command
//! (`<Replce>`, `<foo/>`, a SOAP `<s:Envelope>`) is an error ([`Rule::UnknownCommand`]); when
//! its name is a near miss of a command (`<Atomc>`), what it holds is linted as that command.
//! Not checked: JSON values.

use std::fmt;

use winmdm_syncml::{Command, DataContent, ItemCommand, RawElement};

use crate::Format;
use crate::admx::{AdmxElement, AdmxPolicy, AdmxSet, ElementKind};
use crate::catalog::{Catalog, LookupError, Match};
use crate::def::{Access, Allowed};
use crate::value::{AdmxValue, CspValue, parse_int};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The device will reject or misapply the command.
    Error,
    /// Suspicious; may work.
    Warning,
}

/// The rule a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The input is not SyncML commands.
    Decode,
    /// An element where a command belongs (top level of a profile, inside `<SyncBody>`,
    /// `<Atomic>` or `<Sequence>`) that is not a SyncML command: a misspelled command
    /// (`<Replce>`, with a "did you mean"), a SOAP envelope, anything else.
    UnknownCommand,
    /// An item has no Target LocURI.
    NoTarget,
    /// The LocURI is malformed (space, empty segment, `..`...).
    BadLocUri,
    /// No node has this LocURI.
    UnknownNode,
    /// The LocURI matches only ignoring case.
    CaseMismatch,
    /// The LocURI reaches a node only through the generic dynamic nodes of the Policy CSP
    /// skeleton (`Config/{AreaName}/{PolicyName}`): no vendored area defines it.
    UnknownPolicy,
    /// The command is not in the node's AccessType.
    AccessDenied,
    /// The Meta Format differs from DFFormat.
    FormatMismatch,
    /// No Meta Format on a value for a node whose format is not `chr`.
    FormatMissing,
    /// The value does not fit the format (`int`, `bool`, `b64`, `xml`).
    BadValue,
    /// The value is not among the allowed values (ENUM, Flag, Range).
    NotAllowed,
    /// The value of an ADMX-backed node is not `<enabled/>` + `<data/>` or `<disabled/>`.
    BadAdmx,
    /// With ADMX files loaded ([`LintOptions::admx`]): a `<data id=...>` the ADMX policy does
    /// not define, a value outside its `enum` items or `decimal` bounds (errors), or a policy
    /// the loaded file does not define (a warning: the file may be another version).
    AdmxData,
    /// Raw markup inside `<Data>`: must be escaped or in CDATA.
    UnescapedMarkup,
    /// The node must be set inside `<Atomic>`.
    AtomicRequired,
    /// Not applicable to the given OS build.
    OsBuild,
    /// Not applicable to the given edition.
    Edition,
}

impl Rule {
    /// A short stable name (`unknown-node`, `access`...), used in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Decode => "decode",
            Rule::UnknownCommand => "unknown-command",
            Rule::NoTarget => "no-target",
            Rule::BadLocUri => "bad-locuri",
            Rule::UnknownNode => "unknown-node",
            Rule::CaseMismatch => "case-mismatch",
            Rule::UnknownPolicy => "unknown-policy",
            Rule::AccessDenied => "access",
            Rule::FormatMismatch => "format-mismatch",
            Rule::FormatMissing => "format-missing",
            Rule::BadValue => "bad-value",
            Rule::NotAllowed => "not-allowed",
            Rule::BadAdmx => "bad-admx",
            Rule::AdmxData => "admx-data",
            Rule::UnescapedMarkup => "unescaped-markup",
            Rule::AtomicRequired => "atomic-required",
            Rule::OsBuild => "os-build",
            Rule::Edition => "edition",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The rule.
    pub rule: Rule,
    /// Human-readable message.
    pub message: String,
    /// The command (`Replace`, `Add`...), if the finding is about one.
    pub command: Option<&'static str>,
    /// The Target LocURI, if any.
    pub locuri: Option<String>,
    /// Byte offset of the LocURI (or the command, or the decode error) in the input.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {sev}[{}]: {}",
            self.line,
            self.column,
            self.rule.code(),
            self.message
        )
    }
}

/// Device facts to check applicability against, and optional ADMX definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LintOptions {
    /// OS build, e.g. `10.0.19045.3803`.
    pub os_build: Option<String>,
    /// Edition (Windows `PRODUCT_*` id, e.g. `0x30` Pro, `0x4` Enterprise).
    pub edition: Option<u32>,
    /// ADMX files to check the values of ADMX-backed nodes against (rule
    /// [`Rule::AdmxData`]); a node whose `.admx` file is not in the set is checked for
    /// shape only. Empty by default.
    pub admx: AdmxSet,
}

impl LintOptions {
    /// Sets the OS build. It is checked by [`lint_profile`] ([`LintError::InvalidOsBuild`]); use
    /// [`LintOptions::try_with_os_build`] to check it here.
    pub fn with_os_build(mut self, build: impl Into<String>) -> Self {
        self.os_build = Some(build.into());
        self
    }

    /// Sets the OS build after checking that it is one ([`crate::parse_os_build`]).
    pub fn try_with_os_build(self, build: impl Into<String>) -> Result<Self, LintError> {
        let build = build.into();
        if crate::def::parse_os_build(&build).is_none() {
            return Err(LintError::InvalidOsBuild(build));
        }
        Ok(self.with_os_build(build))
    }

    /// Sets the edition.
    pub fn with_edition(mut self, edition: u32) -> Self {
        self.edition = Some(edition);
        self
    }

    /// Sets the ADMX files (see [`LintOptions::admx`]).
    pub fn with_admx(mut self, admx: AdmxSet) -> Self {
        self.admx = admx;
        self
    }
}

/// One [`lint_profile`] run: the input text, where in it the next command or item is
/// looked for, and the findings so far.
struct Linter<'a> {
    catalog: &'a Catalog,
    options: &'a LintOptions,
    /// The input (lossily UTF-8), for positions.
    text: String,
    /// Where the next [`Linter::locate`] starts searching.
    cursor: usize,
    findings: Vec<Finding>,
    /// Offsets of the LocURI text of every `<Target>` in the body, in document order (the
    /// SyncML model keeps no offsets; items with a Target consume them in order).
    targets: Vec<usize>,
    next_target: usize,
    /// Instances of AtomicRequired nodes already reported (one finding per instance).
    atomic_reported: std::collections::HashSet<String>,
    /// The offset the next [`Linter::locate`] returns without searching: the start of a
    /// misspelled command whose content is linted as the command it resembles.
    forced_start: Option<usize>,
}

fn is_message(input: &[u8]) -> bool {
    let s = String::from_utf8_lossy(&input[..input.len().min(4096)]);
    let mut rest: &str = &s;
    loop {
        rest = rest.trim_start_matches('\u{feff}').trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>").map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->").map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("<!") {
            rest = r.split_once('>').map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let name: String = rest
        .trim_start_matches('<')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == ':')
        .collect();
    name == "SyncML" || name.ends_with(":SyncML")
}

/// Why [`lint_profile`] could not lint at all (problems in the profile are [`Finding`]s, not errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    /// The catalog has no node definitions, so every LocURI would be an unknown node: the
    /// crate was built without CSP features (its default set, `all`, or one per CSP) and no
    /// DDF was added.
    #[error(
        "the CSP catalog is empty: enable winmdm-csp's CSP features (the default set, `all`, \
         or one per CSP) or add DDF files with Catalog::add_ddf"
    )]
    EmptyCatalog,
    /// [`LintOptions::os_build`] is not an OS build ([`crate::parse_os_build`]: three or
    /// four dot-separated numbers such as `10.0.19045.3803`). Refused rather than ignored:
    /// an unreadable build would switch the applicability check off.
    #[error(
        "OS build {0:?} is not a build number: expected major.minor.build[.revision], \
         e.g. 10.0.19045 or 10.0.19045.3803"
    )]
    InvalidOsBuild(String),
}

/// Lints a profile (top-level commands) or a whole SyncML message.
///
/// Problems in the input, including input that is not SyncML, are findings in the `Ok`
/// value; an empty `Vec` means a clean profile. Fails only when the catalog is empty
/// ([`LintError::EmptyCatalog`]) or the options' OS build is not one
/// ([`LintError::InvalidOsBuild`]).
///
/// ```
/// use winmdm_csp::{Catalog, LintOptions, lint_profile};
/// let profile = b"<Replace><CmdID>1</CmdID><Item><Target>\
///     <LocURI>./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart</LocURI></Target>\
///     <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>9</Data></Item></Replace>";
/// let empty = Catalog::new();
/// assert!(lint_profile(&empty, profile, &LintOptions::default()).is_err());
/// # #[cfg(feature = "policy-areas")] {
/// let findings = lint_profile(&Catalog::builtin(), profile, &LintOptions::default()).unwrap();
/// assert!(findings.is_empty(), "{findings:?}");
/// # }
/// ```
pub fn lint_profile(
    catalog: &Catalog,
    input: &[u8],
    options: &LintOptions,
) -> Result<Vec<Finding>, LintError> {
    if catalog.is_empty() {
        return Err(LintError::EmptyCatalog);
    }
    if let Some(b) = &options.os_build
        && crate::def::parse_os_build(b).is_none()
    {
        return Err(LintError::InvalidOsBuild(b.clone()));
    }
    let mut linter = Linter {
        catalog,
        options,
        text: String::from_utf8_lossy(input).into_owned(),
        cursor: 0,
        findings: Vec::new(),
        targets: target_offsets(&String::from_utf8_lossy(input)),
        next_target: 0,
        atomic_reported: std::collections::HashSet::new(),
        forced_start: None,
    };
    let commands = if is_message(input) {
        winmdm_syncml::decode(input).map(|m| m.body.commands)
    } else {
        winmdm_syncml::decode_commands(input)
    };
    match commands {
        Ok(commands) => linter.commands(&commands, false),
        // The finding carries the position; the message is what and where in the tree.
        Err(e) => linter.findings.push(Finding {
            severity: Severity::Error,
            rule: Rule::Decode,
            message: if e.path.is_empty() {
                e.kind.to_string()
            } else {
                format!("{} (at {})", e.kind, e.path)
            },
            command: None,
            locuri: None,
            offset: e.offset,
            line: e.line,
            column: e.column,
        }),
    }
    Ok(linter.findings)
}

impl Linter<'_> {
    fn push(
        &mut self,
        severity: Severity,
        rule: Rule,
        message: String,
        command: &'static str,
        uri: Option<&str>,
        offset: usize,
    ) {
        let p = winmdm_ddf::Position::locate(&self.text, offset);
        self.findings.push(Finding {
            severity,
            rule,
            message,
            command: Some(command),
            locuri: uri.map(str::to_string),
            offset,
            line: p.line,
            column: p.column,
        });
    }

    /// Finds the next occurrence of `needle` after the cursor (the model keeps no offsets, so
    /// items are located in document order).
    fn locate(&mut self, needle: &str, fallback: &str) -> usize {
        if let Some(at) = self.forced_start.take() {
            return at;
        }
        for n in [needle, fallback] {
            if n.is_empty() {
                continue;
            }
            if let Some(i) = self.text[self.cursor..].find(n) {
                let at = self.cursor + i;
                self.cursor = at + n.len();
                return at;
            }
        }
        // Not found (a prefixed element name): stop searching so many misses stay linear.
        let at = self.cursor;
        self.cursor = self.text.len();
        at
    }

    /// The offset of the next item's Target LocURI.
    fn next_target(&mut self) -> usize {
        let at = self
            .targets
            .get(self.next_target)
            .copied()
            .unwrap_or(self.cursor);
        self.next_target += 1;
        self.cursor = self.cursor.max(at);
        at
    }

    /// Skips the Targets of items that are not linted.
    fn skip_targets(&mut self, items: &[winmdm_syncml::Item<'_>]) {
        for i in items {
            if i.target.is_some() {
                self.next_target();
            }
        }
    }

    fn commands(&mut self, commands: &[Command<'_>], in_atomic: bool) {
        for c in commands {
            match c {
                Command::Atomic(a) => {
                    self.locate("<Atomic", "");
                    self.commands(&a.commands, true);
                }
                Command::Sequence(s) => {
                    self.locate("<Sequence", "");
                    self.commands(&s.commands, in_atomic);
                }
                Command::Add(i) => self.item_command("Add", Access::ADD, i, in_atomic),
                Command::Replace(i) => self.item_command("Replace", Access::REPLACE, i, in_atomic),
                Command::Delete(i) => self.item_command("Delete", Access::DELETE, i, in_atomic),
                Command::Exec(i) => self.item_command("Exec", Access::EXEC, i, in_atomic),
                Command::Get(i) => self.item_command("Get", Access::GET, i, in_atomic),
                Command::Copy(i) => self.item_command("Copy", Access::COPY, i, in_atomic),
                Command::Alert(a) => self.skip_targets(&a.items),
                Command::Results(r) => self.skip_targets(&r.items),
                Command::Unknown(r) => self.unknown_command(r, in_atomic),
                _ => {}
            }
        }
    }

    /// An element where a command belongs that is not one: an error at its start tag; a near
    /// miss of a command name has its content linted as that command.
    fn unknown_command(&mut self, r: &RawElement<'_>, in_atomic: bool) {
        let name = r.name.as_ref();
        let at = self.locate_element(name);
        let guess = near_command(name);
        let message = if name.rsplit(':').next() == Some("Envelope") {
            format!(
                "<{name}> is a SOAP envelope, not SyncML: a profile holds commands ({COMMANDS}), \
                 a message is one <SyncML> element"
            )
        } else {
            match guess {
                Some(g) if g.eq_ignore_ascii_case(name) => format!(
                    "unknown element <{name}> where a command belongs; did you mean <{g}>? \
                     (element names are case-sensitive)"
                ),
                Some(g) => {
                    format!("unknown element <{name}> where a command belongs; did you mean <{g}>?")
                }
                None => format!(
                    "unknown element <{name}> where a command belongs (commands: {COMMANDS}; \
                     or one whole <SyncML> message)"
                ),
            }
        };
        let p = winmdm_ddf::Position::locate(&self.text, at);
        self.findings.push(Finding {
            severity: Severity::Error,
            rule: Rule::UnknownCommand,
            message,
            command: None,
            locuri: None,
            offset: at,
            line: p.line,
            column: p.column,
        });
        let end = (at + r.xml.len()).min(self.text.len());
        // Lint what a misspelled command holds as the command it resembles.
        if let Some(g) = guess.filter(|g| *g != "SyncML")
            && let Some(renamed) = rename_element(&r.xml, name, g)
            && let Ok(commands) = winmdm_syncml::decode_commands(renamed.as_bytes())
        {
            self.forced_start = Some(at);
            self.cursor = at;
            self.commands(&commands, in_atomic);
            self.forced_start = None;
        }
        // Whatever was not linted inside the element: its Targets are not an item's.
        while self.targets.get(self.next_target).is_some_and(|&t| t < end) {
            self.next_target += 1;
        }
        self.cursor = self.cursor.max(end);
    }

    /// The offset of the next start tag `<name` (followed by a delimiter) after the cursor.
    fn locate_element(&mut self, name: &str) -> usize {
        if let Some(at) = self.forced_start.take() {
            return at;
        }
        let needle = format!("<{name}");
        let mut from = self.cursor;
        while let Some(i) = self.text.get(from..).and_then(|t| t.find(&needle)) {
            let at = from + i;
            let next = self.text[at + needle.len()..].chars().next();
            if next.is_none_or(|c| c == '>' || c == '/' || c.is_whitespace()) {
                self.cursor = at + needle.len();
                return at;
            }
            from = at + needle.len();
        }
        self.cursor
    }

    fn item_command(
        &mut self,
        name: &'static str,
        access: Access,
        cmd: &ItemCommand<'_>,
        in_atomic: bool,
    ) {
        let start = self.locate(&format!("<{name}"), "");
        for item in &cmd.items {
            let Some(uri) = item.target_uri() else {
                // Source only: a device reporting its own values (DevInfo in package 1), not
                // a management command.
                if item.source_uri().is_none() {
                    self.push(
                        Severity::Error,
                        Rule::NoTarget,
                        format!("{name} item without Target LocURI"),
                        name,
                        None,
                        start,
                    );
                }
                continue;
            };
            let uri = uri.trim();
            let at = self.next_target();
            let path = uri.split_once('?').map_or(uri, |(p, _)| p);
            if let Err(e) = crate::CspPath::try_from(path) {
                self.push(
                    Severity::Error,
                    Rule::BadLocUri,
                    format!("malformed LocURI {uri:?}: {e}"),
                    name,
                    Some(uri),
                    at,
                );
                continue;
            }
            let m = match self.catalog.lookup(uri) {
                Ok(m) => m,
                Err(LookupError::NotFound { known, .. }) => {
                    let mut hint = self.suggest(uri, &known);
                    if !hint.contains("did you mean") {
                        hint.push_str(&self.elsewhere(uri));
                    }
                    self.push(
                        Severity::Error,
                        Rule::UnknownNode,
                        format!("no node {uri}{hint}"),
                        name,
                        Some(uri),
                        at,
                    );
                    continue;
                }
                Err(e) => {
                    self.push(
                        Severity::Error,
                        Rule::UnknownNode,
                        e.to_string(),
                        name,
                        Some(uri),
                        at,
                    );
                    continue;
                }
            };
            if m.bindings
                .iter()
                .any(|b| matches!(b.title.as_deref(), Some("AreaName" | "PolicyName")))
                && !self.result_of_known_policy(&m)
            {
                // Only the Policy CSP skeleton's generic `Config/{AreaName}/{PolicyName}`
                // matched: no vendored area DDF knows the policy, so nothing more to check.
                self.push(
                    Severity::Warning,
                    Rule::UnknownPolicy,
                    format!(
                        "no vendored Policy area DDF defines {uri} (matched only the generic {}){}",
                        m.template(),
                        self.elsewhere(uri)
                    ),
                    name,
                    Some(uri),
                    at,
                );
                continue;
            }
            self.node_checks(name, access, uri, at, &m, in_atomic);
            let format = item
                .meta
                .as_ref()
                .and_then(|x| x.format.as_deref())
                .or_else(|| cmd.meta.as_ref().and_then(|x| x.format.as_deref()));
            if matches!(name, "Add" | "Replace") {
                if let Some(data) = &item.data {
                    self.value_checks(name, uri, at, &m, format, &data.content);
                } else if m.def.format != Format::Node
                    && m.def.format != Format::Null
                    && let Some(f) = format
                {
                    self.format_check(name, uri, at, &m, f);
                }
            } else if name == "Exec"
                && let Some(f) = format
            {
                self.format_check(name, uri, at, &m, f);
            }
        }
    }

    /// "; a node of that name exists at ..." for the last segment of `uri` (same scope).
    fn elsewhere(&self, uri: &str) -> String {
        let path = uri.split('?').next().unwrap_or(uri);
        let Some(last) = path.rsplit('/').next().filter(|s| !s.is_empty()) else {
            return String::new();
        };
        let user = path
            .trim_start_matches("./")
            .to_ascii_lowercase()
            .starts_with("user/");
        let found: Vec<String> = self
            .catalog
            .nodes_named(last)
            .into_iter()
            .filter(|t| t.to_ascii_lowercase().starts_with("./user/") == user)
            .take(3)
            .collect();
        if found.is_empty() {
            String::new()
        } else {
            format!("; a node of that name exists at {}", found.join(", "))
        }
    }

    /// "; did you mean X?" for the first unknown segment after the known prefix.
    fn suggest(&self, uri: &str, known: &str) -> String {
        let Ok(k) = self.catalog.lookup(known) else {
            return String::new();
        };
        let path = uri.split('?').next().unwrap_or(uri);
        let mut segs: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        if segs
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("device") || s.eq_ignore_ascii_case("user"))
        {
            segs.remove(0);
        }
        let Some(wrong) = segs.get(k.segments.len()).map(|s| s.to_ascii_lowercase()) else {
            return String::new();
        };
        let mut scored: Vec<(usize, String)> = self
            .catalog
            .children(&k)
            .into_iter()
            .filter(|c| !c.starts_with('{'))
            .map(|c| (edit_distance(&wrong, &c.to_ascii_lowercase()), c))
            .filter(|(d, c)| *d <= (c.len() / 3).max(2))
            .collect();
        scored.sort();
        let min = scored.first().map_or(0, |(d, _)| *d);
        let best: Vec<String> = scored
            .into_iter()
            .filter(|(d, _)| *d == min)
            .take(3)
            .map(|(_, c)| format!("{known}/{c}"))
            .collect();
        if best.is_empty() {
            format!(" (the path exists up to {known})")
        } else {
            format!("; did you mean {}?", best.join(" or "))
        }
    }

    /// True for `Policy/Result/{Area}/{Policy}` when `Policy/Config/{Area}/{Policy}` is a
    /// policy some vendored area defines (the area DDFs describe only Config).
    fn result_of_known_policy(&self, m: &Match<'_>) -> bool {
        self.catalog.policy_config_of_result(m).is_some()
    }

    fn node_checks(
        &mut self,
        name: &'static str,
        access: Access,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        in_atomic: bool,
    ) {
        let d = m.def;
        if m.case_insensitive {
            self.push(
                Severity::Warning,
                Rule::CaseMismatch,
                format!("{uri} matches {} only ignoring case", m.template()),
                name,
                Some(uri),
                at,
            );
        }
        if !d.access.contains(access) {
            let hint = if access == Access::REPLACE && d.access.contains(Access::ADD) {
                " (use Add)"
            } else if access == Access::ADD && d.access.contains(Access::REPLACE) {
                " (use Replace)"
            } else {
                ""
            };
            self.push(
                Severity::Error,
                Rule::AccessDenied,
                format!(
                    "{name} is not allowed on {} (AccessType: {}){hint}",
                    m.template(),
                    d.access
                ),
                name,
                Some(uri),
                at,
            );
        }
        if !in_atomic && matches!(name, "Add" | "Replace") {
            // MSFT:AtomicRequired: "this node and all children nodes should be enclosed by an
            // Atomic tag"; reported once per instance of the AtomicRequired node.
            let mut at_node = Some(m.index);
            let mut up = 0usize;
            while let Some(i) = at_node {
                let n = &m.table.nodes[i];
                if n.atomic_required {
                    let instance = m.segments[..m.segments.len().saturating_sub(up)].join("/");
                    let key = format!("{:?}/{instance}", m.scope);
                    if self.atomic_reported.insert(key) {
                        let what = if up == 0 {
                            String::new()
                        } else {
                            " (and its children)".to_string()
                        };
                        // The node itself outside Atomic is an error; a descendant is a warning
                        // (the XSD says "should", and Microsoft's own MSI samples set
                        // DownloadInstall without Atomic).
                        let severity = if up == 0 {
                            Severity::Error
                        } else {
                            Severity::Warning
                        };
                        self.push(
                            severity,
                            Rule::AtomicRequired,
                            format!(
                                "{}{what} must be set inside <Atomic>",
                                m.table.path_template(i)
                            ),
                            name,
                            Some(uri),
                            at,
                        );
                    }
                    break;
                }
                at_node = n.parent.map(|p| p as usize);
                up += 1;
            }
        }
        let app = self.catalog.applicability(m);
        if let Some(build) = &self.options.os_build
            && !app.allows_os_build(build)
        {
            let message = if app.is_unreleased() {
                format!(
                    "{} is not in any released Windows build (the DDF's OsBuildVersion is \
                     Microsoft's placeholder {}; device: {build})",
                    m.template(),
                    crate::def::UNRELEASED_OS_BUILD
                )
            } else {
                let builds: Vec<&str> = app.released_os_builds().collect();
                format!(
                    "{} needs OS build {} (device: {build})",
                    m.template(),
                    if builds.is_empty() {
                        "?".to_string()
                    } else {
                        builds.join(", ")
                    }
                )
            };
            self.push(Severity::Error, Rule::OsBuild, message, name, Some(uri), at);
        }
        if let Some(ed) = self.options.edition
            && !app.allows_edition(ed)
        {
            self.push(
                Severity::Error,
                Rule::Edition,
                format!("{} is not available on edition 0x{ed:X}", m.template()),
                name,
                Some(uri),
                at,
            );
        }
    }

    /// With the ADMX file of an ADMX-backed node loaded: the policy exists in it, every
    /// `<data id>` is one of its elements, and enum/decimal values fit.
    #[allow(clippy::too_many_arguments)]
    fn admx_checks(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        policy: &str,
        file: &str,
        value: &AdmxValue,
    ) {
        let options = self.options;
        let Some(admx) = options.admx.get(file) else {
            return;
        };
        let Some(p) = admx.policy(policy) else {
            self.push(
                Severity::Warning,
                Rule::AdmxData,
                format!(
                    "the loaded {file} defines no policy {policy} (named by the DDF of {}); another version of the file? data ids not checked",
                    m.template()
                ),
                name,
                Some(uri),
                at,
            );
            return;
        };
        let AdmxValue::Enabled(data) = value else {
            return;
        };
        // The data ids are located in the text after this item's LocURI and before the next
        // item's (the model keeps no offsets).
        let end = self
            .targets
            .get(self.next_target)
            .copied()
            .unwrap_or(self.text.len())
            .max(at)
            .min(self.text.len());
        let mut from = at;
        for (id, v) in data {
            let pos = match self.text.get(from..end).and_then(|t| t.find(id.as_str())) {
                Some(i) if !id.is_empty() => {
                    from += i + id.len();
                    from - id.len()
                }
                _ => at,
            };
            let element = match p.element(id) {
                Some(e) => e,
                None => {
                    if let Some(e) = p.elements.iter().find(|e| e.id.eq_ignore_ascii_case(id)) {
                        self.push(
                            Severity::Warning,
                            Rule::AdmxData,
                            format!(
                                "data id {id:?} matches element {:?} of ADMX policy {} ({file}) only ignoring case",
                                e.id, p.name
                            ),
                            name,
                            Some(uri),
                            pos,
                        );
                        e
                    } else {
                        let msg = unknown_data_id(p, id, file, &m.template());
                        self.push(Severity::Error, Rule::AdmxData, msg, name, Some(uri), pos);
                        continue;
                    }
                }
            };
            let v = v.trim();
            let problem = admx_value_problem(element, v);
            if let Some(problem) = problem {
                self.push(
                    Severity::Error,
                    Rule::AdmxData,
                    format!(
                        "value {v:?} of {} element {:?} (ADMX policy {}, {file}) {problem}",
                        element.kind.name(),
                        element.id,
                        p.name
                    ),
                    name,
                    Some(uri),
                    pos,
                );
            }
        }
    }

    fn format_check(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        format: &str,
    ) -> bool {
        let want = m.def.format.as_str();
        let have = format.trim();
        if !have.eq_ignore_ascii_case(want) && !matches!(m.def.format, Format::Other(_)) {
            self.push(
                Severity::Error,
                Rule::FormatMismatch,
                format!(
                    "Meta Format {have} but {} has DFFormat {want}",
                    m.template()
                ),
                name,
                Some(uri),
                at,
            );
            return false;
        }
        true
    }

    /// The checks of an `Add` / `Replace` value, in order: its Meta Format, markup in
    /// `<Data>`, the value against the node's format, then against its allowed values (a
    /// value that does not fit its format is not checked further).
    fn value_checks(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        format: Option<&str>,
        content: &DataContent<'_>,
    ) {
        self.meta_format_check(name, uri, at, m, format);
        let (value, raw_markup) = match content {
            DataContent::Text(s) | DataContent::CData(s) => (s.as_ref(), false),
            DataContent::Xml(s) => (s.as_ref(), true),
        };
        if raw_markup && m.def.format != Format::Xml {
            self.push(
                Severity::Error,
                Rule::UnescapedMarkup,
                format!("<Data> of {} (format {}) holds raw markup: escape it (&lt;...) or wrap it in CDATA", m.template(), m.def.format),
                name,
                Some(uri),
                at,
            );
        }
        if self.fits_format(name, uri, at, m, value.trim()) {
            self.allowed_value_checks(name, uri, at, m, value);
        }
    }

    /// The item's Meta Format against DFFormat ([`Rule::FormatMismatch`]), or its absence
    /// on a node that is not `chr` ([`Rule::FormatMissing`]).
    fn meta_format_check(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        format: Option<&str>,
    ) {
        let d = m.def;
        match format {
            Some(f) => {
                self.format_check(name, uri, at, m, f);
            }
            None if !matches!(d.format, Format::Chr | Format::Node | Format::Other(_)) => self
                .push(
                    Severity::Warning,
                    Rule::FormatMissing,
                    format!(
                        "no Meta Format; {} has DFFormat {} (Windows assumes chr)",
                        m.template(),
                        d.format
                    ),
                    name,
                    Some(uri),
                    at,
                ),
            None => {}
        }
    }

    /// The (trimmed) value against the node's format: `int`, `bool`, `b64` and `xml`
    /// ([`Rule::BadValue`]). False when the value does not fit and is not to be checked
    /// against the allowed values (an `xml` value that is not well-formed still is).
    fn fits_format(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        v: &str,
    ) -> bool {
        let problem = match m.def.format {
            Format::Int if parse_int(v).is_err() => {
                format!("{v:?} is not an int ({})", m.template())
            }
            Format::Bool if bool::from_data(v).is_err() => {
                format!("{v:?} is not a bool (true/false) ({})", m.template())
            }
            Format::B64 if !is_base64(v) => format!("value is not base64 ({})", m.template()),
            Format::Xml if !v.is_empty() => {
                self.well_formed_check(name, uri, at, m, v);
                return true;
            }
            _ => return true,
        };
        self.push(
            Severity::Error,
            Rule::BadValue,
            problem,
            name,
            Some(uri),
            at,
        );
        false
    }

    /// [`Rule::BadValue`] when `v` is not well-formed XML.
    fn well_formed_check(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        v: &str,
    ) {
        if let Err(e) = well_formed(v) {
            self.push(
                Severity::Error,
                Rule::BadValue,
                format!("value is not well-formed XML: {e} ({})", m.template()),
                name,
                Some(uri),
                at,
            );
        }
    }

    /// The value against `MSFT:AllowedValues`: ENUM and RegEx per list entry (a node with
    /// `MSFT:List` holds several), Flag, Range, the ADMX shape (and, with the ADMX file,
    /// its data), and well-formedness for XSD values of non-`xml` nodes.
    fn allowed_value_checks(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        value: &str,
    ) {
        let d = m.def;
        let v = value.trim();
        let entries: Vec<&str> = match d.list_delimiter.as_deref().and_then(delimiter) {
            Some(sep) => value
                .split(sep.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
            None => vec![v],
        };
        let not_allowed = |this: &mut Self, msg: String| {
            this.push(Severity::Error, Rule::NotAllowed, msg, name, Some(uri), at)
        };
        match &d.allowed {
            Allowed::Enum(e) => {
                for x in entries {
                    if !e.iter().any(|a| a.value.trim() == x) {
                        let list: Vec<&str> = e.iter().map(|a| a.value.as_ref()).collect();
                        not_allowed(
                            self,
                            format!(
                                "{x:?} is not one of {} for {}",
                                list.join(", "),
                                m.template()
                            ),
                        );
                    }
                }
            }
            Allowed::Flag(e) => {
                let all = e
                    .iter()
                    .filter_map(|a| parse_int(&a.value).ok())
                    .fold(0i64, |acc, b| acc | b);
                match parse_int(v) {
                    Ok(n) if n & !all == 0 => {}
                    _ => not_allowed(
                        self,
                        format!(
                            "{v:?} is not a combination of the flags 0x{all:X} of {}",
                            m.template()
                        ),
                    ),
                }
            }
            Allowed::Range(r) => match parse_int(v) {
                Ok(n) if r.iter().any(|&(lo, hi)| lo <= n && n <= hi) => {}
                Ok(n) => {
                    let s: Vec<String> = r.iter().map(|(lo, hi)| format!("{lo}-{hi}")).collect();
                    not_allowed(
                        self,
                        format!("{n} is outside [{}] for {}", s.join(","), m.template()),
                    );
                }
                Err(_) => not_allowed(
                    self,
                    format!("{v:?} is not a number in a Range node ({})", m.template()),
                ),
            },
            Allowed::Admx {
                name: policy, file, ..
            } => match AdmxValue::from_data(v) {
                Err(e) => self.push(
                    Severity::Error,
                    Rule::BadAdmx,
                    format!("{e} ({})", m.template()),
                    name,
                    Some(uri),
                    at,
                ),
                Ok(value) => self.admx_checks(name, uri, at, m, policy, file, &value),
            },
            Allowed::RegEx(pattern) => self.pattern_checks(name, uri, at, m, pattern, &entries),
            Allowed::Xsd(_) if d.format != Format::Xml && !v.is_empty() => {
                self.well_formed_check(name, uri, at, m, v);
            }
            _ => {}
        }
    }

    /// Each list entry against a `RegEx` of the DDF ([`Rule::NotAllowed`]); a pattern the
    /// regex crate cannot compile is a warning instead.
    fn pattern_checks(
        &mut self,
        name: &'static str,
        uri: &str,
        at: usize,
        m: &Match<'_>,
        pattern: &str,
        entries: &[&str],
    ) {
        let Some(re) = ddf_regex(pattern) else {
            self.push(
                Severity::Warning,
                Rule::NotAllowed,
                format!(
                    "the DDF pattern {pattern} of {} cannot be checked (not a pattern the regex engine accepts)",
                    m.template()
                ),
                name,
                Some(uri),
                at,
            );
            return;
        };
        for x in entries {
            if !re.is_match(x) {
                self.push(
                    Severity::Error,
                    Rule::NotAllowed,
                    format!(
                        "{x:?} does not match the pattern {pattern} of {}",
                        m.template()
                    ),
                    name,
                    Some(uri),
                    at,
                );
            }
        }
    }
}

/// What is wrong with `v` as the value of an ADMX `enum` or `decimal` element, if anything.
fn admx_value_problem(element: &AdmxElement, v: &str) -> Option<String> {
    match &element.kind {
        ElementKind::Enum(Some(values)) if !values.is_empty() => (!values.iter().any(|x| x == v))
            .then(|| format!("is not one of the enum values {}", values.join(", "))),
        ElementKind::Decimal { min, max } | ElementKind::LongDecimal { min, max } => {
            let limit = if matches!(element.kind, ElementKind::Decimal { .. }) {
                u64::from(u32::MAX)
            } else {
                u64::MAX
            };
            match v.parse::<u64>() {
                Ok(n) if n > limit => Some(format!("is larger than {limit}")),
                Ok(n) if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) => {
                    Some(format!(
                        "is outside {}..{}",
                        min.map_or(String::new(), |x| x.to_string()),
                        max.map_or(String::new(), |x| x.to_string())
                    ))
                }
                Ok(_) => None,
                Err(_) => Some("is not an unsigned number".to_string()),
            }
        }
        _ => None,
    }
}

/// The message for a `<data id>` that ADMX policy `p` has no element for (a "did you mean"
/// for a near miss); `template` names the node.
fn unknown_data_id(p: &AdmxPolicy, id: &str, file: &str, template: &str) -> String {
    if p.elements.is_empty() {
        format!(
            "ADMX policy {} ({file}) has no elements, so no <data id=\"{id}\">: send <enabled/> alone ({})",
            p.name, template
        )
    } else {
        let ids: Vec<&str> = p.elements.iter().map(|e| e.id.as_str()).collect();
        let best = ids
            .iter()
            .map(|c| {
                (
                    edit_distance(&c.to_ascii_lowercase(), &id.to_ascii_lowercase()),
                    *c,
                )
            })
            .min();
        let hint = match best {
            Some((d, c)) if d <= id.len().max(c.len()) / 3 + 2 => {
                format!(" (did you mean {c:?}?)")
            }
            _ => String::new(),
        };
        format!(
            "ADMX policy {} ({file}) has no element {id:?}{hint}; its elements: {} ({})",
            p.name,
            ids.join(", "),
            template
        )
    }
}

/// The SyncML commands, as listed in messages.
const COMMANDS: &str =
    "Add, Alert, Atomic, Copy, Delete, Exec, Get, Replace, Results, Sequence, Status";

/// The command (or `SyncML`) an unprefixed element name is a near miss of: at most two
/// edits, ignoring ASCII case, and fewer than half its length.
fn near_command(name: &str) -> Option<&'static str> {
    if name.contains(':') {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .split(", ")
        .chain(["SyncML"])
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|&(d, c)| d <= 2 && d * 2 < c.len())
        .min()
        .map(|(_, c)| c)
}

/// `xml` (one element named `from`) with its start and end tags named `to`.
fn rename_element(xml: &str, from: &str, to: &str) -> Option<String> {
    let rest = xml.strip_prefix('<')?.strip_prefix(from)?;
    if rest.trim_end().ends_with("/>") {
        return Some(format!("<{to}{rest}"));
    }
    let close = rest.trim_end().rfind("</")?;
    let tail = rest[close + 2..].trim_end().strip_suffix('>')?;
    (tail.trim_end() == from).then(|| format!("<{to}{}</{to}>", &rest[..close]))
}

/// Compiles a DDF `RegEx` pattern: JavaScript-style `/.../` delimiters are stripped and a
/// leading `{` (written unescaped in some DDFs, where .NET reads it as a literal) is escaped.
/// `None` when the pattern still does not compile. Compilation is bounded by the regex
/// crate's size limits and matching is linear in the value.
fn ddf_regex(pattern: &str) -> Option<regex::Regex> {
    let p = pattern.trim();
    let p = p
        .strip_prefix('/')
        .and_then(|q| q.strip_suffix('/'))
        .unwrap_or(p);
    let escaped;
    let p = if p.starts_with('{') {
        escaped = format!("\\{p}");
        escaped.as_str()
    } else {
        p
    };
    regex::RegexBuilder::new(p).size_limit(1 << 20).build().ok()
}

/// Offsets where the LocURI text of each `<Target>` in the body starts (after `<SyncBody>` when
/// there is one), in document order. Linear in the input.
fn target_offsets(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = text.find("<SyncBody").unwrap_or(0);
    while let Some(i) = text[at..].find("<Target") {
        let start = at + i;
        let after = start + "<Target".len();
        at = after;
        match text[after..].chars().next() {
            Some('>') => {}
            Some(c) if c.is_whitespace() => {}
            Some('/') => {
                out.push(start);
                continue;
            }
            _ => continue, // <TargetParent>, <TargetRef>
        }
        let end = text[after..]
            .find("</Target")
            .map_or(text.len(), |j| after + j);
        let Some(loc) = text[after..end].find("<LocURI").map(|j| after + j) else {
            out.push(start);
            continue;
        };
        let gt = text[loc..end].find('>').map_or(loc, |k| loc + k + 1);
        let ws = text[gt..end].len() - text[gt..end].trim_start().len();
        out.push(gt + ws);
        at = end;
    }
    out
}

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

/// The delimiter string of `MSFT:List/@Delimiter` (`0xF000` and `\xF000` mean U+F000).
fn delimiter(d: &str) -> Option<String> {
    match d {
        "" => None,
        "0xF000" | "\\xF000" => Some('\u{F000}'.to_string()),
        other => Some(other.to_string()),
    }
}

/// Standard base64, whitespace anywhere (wrapped values), as Windows reads it
/// ([`winmdm_types::base64::decode_lenient`]; the decoded size is bounded by the text's).
fn is_base64(s: &str) -> bool {
    winmdm_types::base64::decode_lenient(s, s.len()).is_ok()
}

/// Checks that `s` is one well-formed XML element: winmdm-xml with the rules a DDF file is
/// read with (a DOCTYPE skipped unread, no entity beyond the predefined ones, a prefix bound
/// nowhere read as no namespace; the limits of `winmdm_ddf::ParseOptions::default()`).
fn well_formed(s: &str) -> Result<(), String> {
    let ddf = winmdm_ddf::ParseOptions::default().limits;
    let limits = winmdm_xml::Limits::default()
        .with_max_input_bytes(ddf.max_input_bytes)
        .with_max_depth(ddf.max_depth)
        .with_max_elements(ddf.max_elements)
        .with_max_attributes(ddf.max_attributes)
        .with_max_value_bytes(ddf.max_input_bytes);
    let options = winmdm_xml::ParseOptions::default()
        .with_limits(limits)
        .with_doctype(winmdm_xml::DoctypePolicy::Skip)
        .with_unbound_prefixes(winmdm_xml::UnboundPrefixPolicy::NoNamespace);
    winmdm_xml::parse(s.as_bytes(), &options)
        .map(|_| ())
        .map_err(|e| e.kind.to_string())
}

#[cfg(test)]
mod regex_tests {
    use super::ddf_regex;

    /// Every distinct `RegEx` pattern in the vendored DDF files compiles.
    #[test]
    fn every_vendored_pattern_compiles() {
        let mut seen = 0;
        for dir in ["ddf", "ddf/policy-areas"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().and_then(|e| e.to_str()) != Some("xml") {
                    continue;
                }
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                for part in text.split("ValueType=\"RegEx\"").skip(1) {
                    let Some(v) = part.split("<MSFT:Value>").nth(1) else {
                        continue;
                    };
                    let v = v.split("</MSFT:Value>").next().unwrap_or("");
                    let v = v
                        .trim_start_matches("<![CDATA[")
                        .trim_end_matches("]]>")
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&amp;", "&");
                    if v.is_empty() {
                        continue;
                    }
                    assert!(ddf_regex(&v).is_some(), "{}: {v}", path.display());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 30, "only {seen} patterns found");
    }

    #[test]
    fn delimiters_and_leading_brace() {
        assert!(ddf_regex("/^a+$/").unwrap().is_match("aaa"));
        let guid = "{[0-9A-Fa-f]{8}\\-[0-9A-Fa-f]{4}\\-[0-9A-Fa-f]{4}\\-[0-9A-Fa-f]{4}\\-[0-9A-Fa-f]{12}\\}";
        let re = ddf_regex(guid).unwrap();
        assert!(re.is_match("{12345678-1234-1234-1234-123456789abc}"));
        assert!(!re.is_match("12345678-1234-1234-1234-123456789abc"));
    }
}
