//! A small reader for Group Policy ADMX files (`<policyDefinitions>`): which policies a file
//! defines and which `<data id=...>` elements each policy takes.
//!
//! ADMX-backed CSP nodes (`MSFT:AdmxBacked Area= Name= File=` in the DDF) take values such as
//! `<enabled/><data id="FDVEncryptionTypeDropDown_Name" value="1"/>`; the ids are the ids of
//! the `<elements>` children (`decimal`, `longDecimal`, `text`, `multiText`, `enum`,
//! `boolean`, `list`) of the policy in the `.admx` file the DDF names. The DDF does not list
//! them, so the linter can check them only when it is given the `.admx` files
//! ([`AdmxSet`], [`crate::LintOptions::with_admx`]).
//!
//! Only the structure is read (policy name, class, element ids and kinds, `enum` item values,
//! `decimal` bounds); display strings (`.adml`), registry keys and presentation are ignored.
//! Element names match by local name, whatever namespace prefix the file uses. A DOCTYPE is
//! rejected (ADMX files have none; no DTD is ever read), entity references other than the five
//! predefined ones and character references are errors, and size, nesting depth, policy count
//! and elements per policy are bounded ([`AdmxLimits`]). Errors carry line and column.
//!
//! ```
//! use winmdm_csp::admx::{AdmxFile, AdmxLimits, AdmxSet, ElementKind};
//!
//! let xml = r#"<policyDefinitions xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions">
//!   <policies>
//!     <policy name="MinimumPINLength_Name" class="Machine" key="Software\Policies\Microsoft\FVE">
//!       <elements><decimal id="MinPINLength" valueName="MinimumPIN" minValue="4" maxValue="20"/></elements>
//!     </policy>
//!   </policies>
//! </policyDefinitions>"#;
//! let file = AdmxFile::parse(xml.as_bytes(), &AdmxLimits::default()).unwrap();
//! let policy = file.policy("MinimumPINLength_Name").unwrap();
//! let pin = policy.element("MinPINLength").unwrap();
//! assert_eq!(pin.kind, ElementKind::Decimal { min: Some(4), max: Some(20) });
//!
//! let mut set = AdmxSet::new();
//! set.insert("VolumeEncryption.admx", file);
//! assert!(set.get("volumeencryption.ADMX").is_some()); // file names ignore ASCII case
//! ```

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

pub use winmdm_ddf::Position;

/// Resource limits of [`AdmxFile::parse`]; each has its own [`AdmxErrorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmxLimits {
    /// Largest input in bytes ([`AdmxErrorKind::TooLarge`]). Default 16 MiB (Windows' largest
    /// ADMX files are around 1 MiB).
    pub max_bytes: usize,
    /// Deepest element nesting ([`AdmxErrorKind::TooDeep`]). Default 32 (ADMX files nest
    /// about 8 deep).
    pub max_depth: usize,
    /// Most policies in one file ([`AdmxErrorKind::TooManyPolicies`]). Default 20,000.
    pub max_policies: usize,
    /// Most `<elements>` children (and `enum` items) in one policy
    /// ([`AdmxErrorKind::TooManyElements`]). Default 4,096.
    pub max_elements_per_policy: usize,
}

impl Default for AdmxLimits {
    fn default() -> Self {
        AdmxLimits {
            max_bytes: 16 << 20,
            max_depth: 32,
            max_policies: 20_000,
            max_elements_per_policy: 4096,
        }
    }
}

impl AdmxLimits {
    /// Sets [`AdmxLimits::max_bytes`].
    pub fn with_max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }
    /// Sets [`AdmxLimits::max_depth`].
    pub fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
    /// Sets [`AdmxLimits::max_policies`].
    pub fn with_max_policies(mut self, n: usize) -> Self {
        self.max_policies = n;
        self
    }
    /// Sets [`AdmxLimits::max_elements_per_policy`].
    pub fn with_max_elements_per_policy(mut self, n: usize) -> Self {
        self.max_elements_per_policy = n;
        self
    }
}

/// What went wrong while reading an ADMX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdmxErrorKind {
    /// The input is larger than [`AdmxLimits::max_bytes`].
    #[error("input is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements nest deeper than [`AdmxLimits::max_depth`].
    #[error("elements nest deeper than the limit of {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// More policies than [`AdmxLimits::max_policies`].
    #[error("more than {limit} policies")]
    TooManyPolicies {
        /// The configured limit.
        limit: usize,
    },
    /// More elements or enum items in one policy than [`AdmxLimits::max_elements_per_policy`].
    #[error("more than {limit} elements in one policy")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
    },
    /// A `<!DOCTYPE>`: ADMX files have none, and DTDs are never read.
    #[error("DOCTYPE is not allowed in an ADMX file")]
    Doctype,
    /// The bytes are not valid UTF-8 (or UTF-16 after a UTF-16 byte order mark).
    #[error("invalid {0} at this position")]
    Encoding(&'static str),
    /// The XML is not well-formed (message from the XML reader).
    #[error("malformed XML: {0}")]
    Xml(String),
    /// An entity reference other than the five predefined ones and character references.
    #[error("undefined entity &{0};")]
    UndefinedEntity(String),
    /// The root element is not `policyDefinitions`.
    #[error("root element is <{0}>, expected <policyDefinitions>")]
    NotAdmx(String),
    /// No root element.
    #[error("no root element")]
    NoRoot,
    /// A `<policy>` without `name`, or a policy element without `id`.
    #[error("<{element}> without {attribute}=")]
    MissingAttribute {
        /// The element.
        element: String,
        /// The attribute it lacks.
        attribute: &'static str,
    },
}

/// An error of [`AdmxFile::parse`]: what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {position}")]
#[non_exhaustive]
pub struct AdmxError {
    /// What went wrong.
    pub kind: AdmxErrorKind,
    /// Where (byte offset in the UTF-8 text, i.e. after UTF-16 transcoding if there was any;
    /// 1-based line and column).
    pub position: Position,
}

/// The kind of a policy element (`<elements>` child), with what the linter can check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElementKind {
    /// `<decimal>`: an unsigned 32-bit number, with the bounds the file states (the ADMX
    /// schema's defaults, 0 and 9999, are not applied).
    Decimal {
        /// `minValue`, if given.
        min: Option<u64>,
        /// `maxValue`, if given.
        max: Option<u64>,
    },
    /// `<longDecimal>`: an unsigned 64-bit number.
    LongDecimal {
        /// `minValue`, if given.
        min: Option<u64>,
        /// `maxValue`, if given.
        max: Option<u64>,
    },
    /// `<text>`.
    Text,
    /// `<multiText>`.
    MultiText,
    /// `<enum>`: the values of its items (`<decimal value>`, `<longDecimal value>` or
    /// `<string>` text), or `None` when an item's value is something else (`<delete/>`,
    /// `<valueList>` only), in which case values are not checked.
    Enum(Option<Vec<String>>),
    /// `<boolean>`.
    Boolean,
    /// `<list>`.
    List,
    /// An element name this reader does not know (kept so its id is still valid).
    Other(String),
}

impl ElementKind {
    /// The ADMX element name (`decimal`, `enum`...).
    pub fn name(&self) -> &str {
        match self {
            ElementKind::Decimal { .. } => "decimal",
            ElementKind::LongDecimal { .. } => "longDecimal",
            ElementKind::Text => "text",
            ElementKind::MultiText => "multiText",
            ElementKind::Enum(_) => "enum",
            ElementKind::Boolean => "boolean",
            ElementKind::List => "list",
            ElementKind::Other(n) => n,
        }
    }
}

/// One element of a policy: the id a `<data id=...>` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmxElement {
    /// `id`.
    pub id: String,
    /// Kind and checkable constraints.
    pub kind: ElementKind,
    /// `required="true"`.
    pub required: bool,
}

/// `class` of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyClass {
    /// `Machine`: computer configuration (`./Device/...`).
    Machine,
    /// `User`: user configuration (`./User/...`).
    User,
    /// `Both`.
    Both,
    /// Any other value, as written.
    Other(String),
}

/// One `<policy>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmxPolicy {
    /// `name`.
    pub name: String,
    /// `class`.
    pub class: PolicyClass,
    /// The `<elements>` children in document order (empty for a plain on/off policy).
    pub elements: Vec<AdmxElement>,
    /// Byte offset of the `<policy>` start tag.
    pub offset: usize,
}

impl AdmxPolicy {
    /// The element with this id (exact match).
    pub fn element(&self, id: &str) -> Option<&AdmxElement> {
        self.elements.iter().find(|e| e.id == id)
    }
}

/// The policies of one ADMX file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AdmxFile {
    /// `policyNamespaces/target/@namespace` (e.g. `Microsoft.Policies.VolumeEncryption`).
    pub namespace: Option<String>,
    /// Policies by name (a later duplicate replaces an earlier one).
    pub policies: BTreeMap<String, AdmxPolicy>,
}

impl AdmxFile {
    /// Reads an ADMX file (UTF-8, or UTF-16 with a byte order mark).
    pub fn parse(bytes: &[u8], limits: &AdmxLimits) -> Result<AdmxFile, AdmxError> {
        if bytes.len() > limits.max_bytes {
            return Err(AdmxError {
                kind: AdmxErrorKind::TooLarge {
                    size: bytes.len(),
                    limit: limits.max_bytes,
                },
                position: Position::default(),
            });
        }
        let text = decode(bytes)?;
        Parser::new(&text, limits).run()
    }

    /// The policy with this name: exact match first, then ignoring ASCII case.
    pub fn policy(&self, name: &str) -> Option<&AdmxPolicy> {
        self.policies.get(name).or_else(|| {
            self.policies
                .values()
                .find(|p| p.name.eq_ignore_ascii_case(name))
        })
    }
}

/// ADMX files by file name (ASCII case ignored, directories stripped: the DDF writes
/// `File="TerminalServer.admx"` in one area and `File="terminalserver.admx"` in another).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdmxSet {
    files: BTreeMap<String, (String, AdmxFile)>,
}

fn file_key(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
}

impl AdmxSet {
    /// An empty set.
    pub fn new() -> Self {
        AdmxSet::default()
    }

    /// Adds a parsed file under `file_name` (e.g. `AdmPwd.admx`; a path is reduced to its
    /// last component). Returns the file it replaces.
    pub fn insert(&mut self, file_name: &str, file: AdmxFile) -> Option<AdmxFile> {
        let shown = file_key(file_name);
        let shown_name = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .to_string();
        self.files
            .insert(shown, (shown_name, file))
            .map(|(_, old)| old)
    }

    /// Parses `bytes` and adds the file under `file_name`.
    pub fn parse_and_insert(
        &mut self,
        file_name: &str,
        bytes: &[u8],
        limits: &AdmxLimits,
    ) -> Result<(), AdmxError> {
        let file = AdmxFile::parse(bytes, limits)?;
        self.insert(file_name, file);
        Ok(())
    }

    /// The file with this name (ASCII case ignored).
    pub fn get(&self, file_name: &str) -> Option<&AdmxFile> {
        self.files.get(&file_key(file_name)).map(|(_, f)| f)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True if no file is loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file names as given to [`AdmxSet::insert`], sorted ignoring case.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.files.values().map(|(n, _)| n.as_str())
    }
}

fn decode(bytes: &[u8]) -> Result<String, AdmxError> {
    let bad = |enc: &'static str, at: usize| AdmxError {
        kind: AdmxErrorKind::Encoding(enc),
        position: Position::locate_bytes(bytes, at),
    };
    let utf16 = |rest: &[u8], little: bool| -> Result<String, AdmxError> {
        if !rest.len().is_multiple_of(2) {
            return Err(bad("UTF-16", bytes.len() - 1));
        }
        let units = rest.chunks_exact(2).map(|c| {
            if little {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        let mut out = String::with_capacity(rest.len() / 2);
        for (i, r) in char::decode_utf16(units).enumerate() {
            out.push(r.map_err(|_| bad("UTF-16", 2 + 2 * i))?);
        }
        Ok(out)
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    let (skip, rest) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(r) => (3, r),
        None => (0, bytes),
    };
    match std::str::from_utf8(rest) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(bad("UTF-8", skip + e.valid_up_to())),
    }
}

fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, l)| l).to_string()
}

/// Where the reader is inside the current policy.
enum Slot {
    /// Not inside an element of interest.
    None,
    /// Inside `<enum>` (index into the policy's elements).
    Enum(usize),
    /// Inside `<enum><item>`; whether its `<value>` was seen.
    EnumItem(usize, bool),
    /// Inside `<enum><item><value>`.
    EnumValue(usize),
    /// Inside `<enum><item><value><string>`; the text so far.
    EnumString(usize, String),
}

struct Parser<'a> {
    text: &'a str,
    limits: &'a AdmxLimits,
    /// Local names of the open elements.
    stack: Vec<String>,
    file: AdmxFile,
    policy: Option<AdmxPolicy>,
    slot: Slot,
    items: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: &'a AdmxLimits) -> Self {
        Parser {
            text,
            limits,
            stack: Vec::new(),
            file: AdmxFile::default(),
            policy: None,
            slot: Slot::None,
            items: 0,
        }
    }

    fn err(&self, kind: AdmxErrorKind, offset: usize) -> AdmxError {
        AdmxError {
            kind,
            position: Position::locate(self.text, offset),
        }
    }

    fn run(mut self) -> Result<AdmxFile, AdmxError> {
        let mut reader = Reader::from_str(self.text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        let mut seen_root = false;
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(start);
                    return Err(self.err(AdmxErrorKind::Xml(e.to_string()), at));
                }
            };
            match event {
                Event::Start(s) | Event::Empty(s) if seen_root && self.stack.is_empty() => {
                    let _ = s;
                    return Err(self.err(
                        AdmxErrorKind::Xml("content after the root element".into()),
                        start,
                    ));
                }
                Event::Start(s) => {
                    seen_root = true;
                    self.open(&s, start)?;
                    self.stack.push(local(s.name().as_ref()));
                }
                Event::Empty(s) => {
                    seen_root = true;
                    self.open(&s, start)?;
                    self.stack.push(local(s.name().as_ref()));
                    self.close();
                }
                Event::End(_) => {
                    if self.stack.is_empty() {
                        return Err(self.err(
                            AdmxErrorKind::Xml("end tag without start tag".into()),
                            start,
                        ));
                    }
                    self.close();
                }
                Event::Text(t) => {
                    if let Slot::EnumString(_, s) = &mut self.slot {
                        s.push_str(&t.xml10_content());
                    } else if self.stack.is_empty() && !t.xml10_content().trim().is_empty() {
                        return Err(self.err(
                            AdmxErrorKind::Xml("text outside the root element".into()),
                            start,
                        ));
                    }
                }
                Event::CData(c) => {
                    if let Slot::EnumString(_, s) = &mut self.slot {
                        s.push_str(&c.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            let name: &str = &r;
                            match name {
                                "lt" => '<',
                                "gt" => '>',
                                "amp" => '&',
                                "apos" => '\'',
                                "quot" => '"',
                                other => {
                                    return Err(self.err(
                                        AdmxErrorKind::UndefinedEntity(other.to_string()),
                                        start,
                                    ));
                                }
                            }
                        }
                        Err(e) => return Err(self.err(AdmxErrorKind::Xml(e.to_string()), start)),
                    };
                    if let Slot::EnumString(_, s) = &mut self.slot {
                        s.push(resolved);
                    }
                }
                Event::DocType(_) => return Err(self.err(AdmxErrorKind::Doctype, start)),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::Eof => {
                    if let Some(open) = self.stack.last() {
                        return Err(self.err(
                            AdmxErrorKind::Xml(format!(
                                "unexpected end of document inside <{open}>"
                            )),
                            self.text.len(),
                        ));
                    }
                    if !seen_root {
                        return Err(self.err(AdmxErrorKind::NoRoot, self.text.len()));
                    }
                    return Ok(self.file);
                }
            }
        }
    }

    fn attr(&self, s: &BytesStart<'_>, name: &str, at: usize) -> Result<Option<String>, AdmxError> {
        for a in s.attributes() {
            let a = a.map_err(|e| self.err(AdmxErrorKind::Xml(e.to_string()), at))?;
            if local(a.key.as_ref()) == name {
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| self.err(AdmxErrorKind::Xml(e.to_string()), at))?;
                return Ok(Some(v.into_owned()));
            }
        }
        Ok(None)
    }

    fn required(
        &self,
        s: &BytesStart<'_>,
        name: &'static str,
        at: usize,
    ) -> Result<String, AdmxError> {
        self.attr(s, name, at)?.ok_or_else(|| {
            self.err(
                AdmxErrorKind::MissingAttribute {
                    element: local(s.name().as_ref()),
                    attribute: name,
                },
                at,
            )
        })
    }

    fn bound(&self, s: &BytesStart<'_>, name: &str, at: usize) -> Result<Option<u64>, AdmxError> {
        Ok(self.attr(s, name, at)?.and_then(|v| v.trim().parse().ok()))
    }

    /// Handles a start tag; `self.stack` does not contain it yet.
    fn open(&mut self, s: &BytesStart<'_>, at: usize) -> Result<(), AdmxError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.err(
                AdmxErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
                at,
            ));
        }
        let name = local(s.name().as_ref());
        let parent = self.stack.last().map(String::as_str);
        let grand = self
            .stack
            .len()
            .checked_sub(2)
            .map(|i| self.stack[i].as_str());
        match (grand, parent, name.as_str()) {
            (None, None, "policyDefinitions") => {}
            (None, None, other) => {
                return Err(self.err(AdmxErrorKind::NotAdmx(other.to_string()), at));
            }
            (Some("policyDefinitions"), Some("policyNamespaces"), "target") => {
                self.file.namespace = self.attr(s, "namespace", at)?;
            }
            (Some("policyDefinitions"), Some("policies"), "policy") => {
                if self.file.policies.len() >= self.limits.max_policies {
                    return Err(self.err(
                        AdmxErrorKind::TooManyPolicies {
                            limit: self.limits.max_policies,
                        },
                        at,
                    ));
                }
                let pname = self.required(s, "name", at)?;
                let class = match self.attr(s, "class", at)?.as_deref() {
                    Some("Machine") => PolicyClass::Machine,
                    Some("User") => PolicyClass::User,
                    Some("Both") => PolicyClass::Both,
                    Some(other) => PolicyClass::Other(other.to_string()),
                    None => PolicyClass::Other(String::new()),
                };
                self.policy = Some(AdmxPolicy {
                    name: pname,
                    class,
                    elements: Vec::new(),
                    offset: at,
                });
                self.items = 0;
            }
            (Some("policy"), Some("elements"), kind) if self.policy.is_some() => {
                self.count(at)?;
                let id = self.required(s, "id", at)?;
                let required = self
                    .attr(s, "required", at)?
                    .is_some_and(|v| v.trim() == "true" || v.trim() == "1");
                let kind = match kind {
                    "decimal" => ElementKind::Decimal {
                        min: self.bound(s, "minValue", at)?,
                        max: self.bound(s, "maxValue", at)?,
                    },
                    "longDecimal" => ElementKind::LongDecimal {
                        min: self.bound(s, "minValue", at)?,
                        max: self.bound(s, "maxValue", at)?,
                    },
                    "text" => ElementKind::Text,
                    "multiText" => ElementKind::MultiText,
                    "enum" => ElementKind::Enum(Some(Vec::new())),
                    "boolean" => ElementKind::Boolean,
                    "list" => ElementKind::List,
                    other => ElementKind::Other(other.to_string()),
                };
                let is_enum = matches!(kind, ElementKind::Enum(_));
                if let Some(p) = &mut self.policy {
                    p.elements.push(AdmxElement { id, kind, required });
                    if is_enum {
                        self.slot = Slot::Enum(p.elements.len() - 1);
                    }
                }
            }
            (Some("elements"), Some("enum"), "item") => {
                if let Slot::Enum(i) = self.slot {
                    self.count(at)?;
                    self.slot = Slot::EnumItem(i, false);
                }
            }
            (Some("enum"), Some("item"), "value") => {
                if let Slot::EnumItem(i, _) = self.slot {
                    self.slot = Slot::EnumValue(i);
                }
            }
            (Some("item"), Some("value"), v) => {
                if let Slot::EnumValue(i) = self.slot {
                    match v {
                        "decimal" | "longDecimal" => {
                            let value = self.attr(s, "value", at)?;
                            self.enum_value(i, value.map(|x| x.trim().to_string()));
                        }
                        "string" => self.slot = Slot::EnumString(i, String::new()),
                        _ => self.enum_value(i, None),
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn count(&mut self, at: usize) -> Result<(), AdmxError> {
        self.items += 1;
        if self.items > self.limits.max_elements_per_policy {
            return Err(self.err(
                AdmxErrorKind::TooManyElements {
                    limit: self.limits.max_elements_per_policy,
                },
                at,
            ));
        }
        Ok(())
    }

    /// Records one enum item value; `None` makes the enum unchecked.
    fn enum_value(&mut self, i: usize, value: Option<String>) {
        if let Some(p) = &mut self.policy
            && let Some(ElementKind::Enum(values)) = p.elements.get_mut(i).map(|e| &mut e.kind)
        {
            match value {
                Some(v) => {
                    if let Some(list) = values {
                        list.push(v);
                    }
                }
                None => *values = None,
            }
        }
    }

    /// Handles an end tag (or the end of an empty element) of the top of the stack.
    fn close(&mut self) {
        let Some(name) = self.stack.pop() else {
            return;
        };
        match (name.as_str(), std::mem::replace(&mut self.slot, Slot::None)) {
            ("policy", _) if self.stack.last().is_some_and(|p| p == "policies") => {
                if let Some(p) = self.policy.take() {
                    self.file.policies.insert(p.name.clone(), p);
                }
            }
            ("string", Slot::EnumString(i, s)) => {
                self.enum_value(i, Some(s.trim().to_string()));
                self.slot = Slot::EnumValue(i);
            }
            ("value", Slot::EnumValue(i)) => self.slot = Slot::EnumItem(i, true),
            ("item", Slot::EnumItem(i, seen)) => {
                if !seen {
                    // An item without <value> (only a <valueList>): values are not checked.
                    self.enum_value(i, None);
                }
                self.slot = Slot::Enum(i);
            }
            ("enum", Slot::Enum(_)) => {}
            (_, slot) => self.slot = slot,
        }
    }
}
