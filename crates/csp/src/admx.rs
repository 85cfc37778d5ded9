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

use winmdm_xml::{Element, ErrorKind as XmlErrorKind};

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
    /// The XML is not well-formed: winmdm-xml's kind (a typed syntax error, an unclosed
    /// element...).
    #[error("malformed XML: {0}")]
    Xml(XmlErrorKind),
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
        let options = xml_options(limits);
        let text = decode(bytes, &options)?;
        let root = winmdm_xml::parse_str(&text, &options).map_err(|e| xml_error(e, &text))?;
        Reader::new(&text, limits).file(&root)
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

/// The ADMX reading of winmdm-xml's limits: depth and size are ADMX's; elements, attributes
/// and values are bounded by the input size.
fn xml_options(limits: &AdmxLimits) -> winmdm_xml::ParseOptions {
    let l = winmdm_xml::Limits::default()
        .with_max_input_bytes(limits.max_bytes)
        .with_max_depth(limits.max_depth)
        .with_max_elements(usize::MAX)
        .with_max_attributes(usize::MAX)
        .with_max_value_bytes(usize::MAX);
    winmdm_xml::ParseOptions::default()
        .with_limits(l)
        .with_unbound_prefixes(winmdm_xml::UnboundPrefixPolicy::NoNamespace)
}

fn xml_error(e: winmdm_xml::Error, text: &str) -> AdmxError {
    let p = e.position;
    let mut position = Position {
        offset: p.offset,
        line: p.line,
        column: p.column,
    };
    let kind = match e.kind {
        XmlErrorKind::InputTooLarge { size, limit } => AdmxErrorKind::TooLarge { size, limit },
        XmlErrorKind::TooDeep { limit } => AdmxErrorKind::TooDeep { limit },
        XmlErrorKind::Doctype => AdmxErrorKind::Doctype,
        XmlErrorKind::InvalidEncoding { encoding, .. } if encoding.starts_with("UTF-16") => {
            AdmxErrorKind::Encoding("UTF-16")
        }
        XmlErrorKind::InvalidEncoding { .. } => AdmxErrorKind::Encoding("UTF-8"),
        XmlErrorKind::UnknownEntity(name) => AdmxErrorKind::UndefinedEntity(name),
        XmlErrorKind::NoRoot => {
            position = Position::locate(text, text.len());
            AdmxErrorKind::NoRoot
        }
        other => AdmxErrorKind::Xml(other),
    };
    AdmxError { kind, position }
}

/// Decodes UTF-8, or UTF-16 after its byte order mark (the declared encoding is not
/// consulted).
fn decode<'b>(
    bytes: &'b [u8],
    options: &winmdm_xml::ParseOptions,
) -> Result<std::borrow::Cow<'b, str>, AdmxError> {
    let decoded = if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        winmdm_xml::decode(bytes, winmdm_xml::InvalidBytes::Error, &options.limits)
    } else {
        winmdm_xml::decode_utf8(bytes, &options.limits)
    };
    decoded.map(|d| d.text).map_err(|e| xml_error(e, ""))
}

/// An attribute by local name, whatever its prefix.
fn attr(e: &Element, name: &str) -> Option<String> {
    e.attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.clone())
}

/// All text inside `e`, at any depth (an enum `<string>`).
fn deep_text(e: &Element, out: &mut String) {
    for c in &e.children {
        match c {
            winmdm_xml::Node::Text(t) => out.push_str(t),
            winmdm_xml::Node::Element(c) => deep_text(c, out),
        }
    }
}

/// Walks the tree of an ADMX file into an [`AdmxFile`], counting what [`AdmxLimits`]
/// bounds.
struct Reader<'a> {
    /// The decoded text, for line and column.
    text: &'a str,
    limits: &'a AdmxLimits,
    file: AdmxFile,
    /// Elements and enum items of the current policy.
    items: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, limits: &'a AdmxLimits) -> Self {
        Reader {
            text,
            limits,
            file: AdmxFile::default(),
            items: 0,
        }
    }

    /// An error at the start tag of `e`.
    fn err(&self, kind: AdmxErrorKind, e: &Element) -> AdmxError {
        AdmxError {
            kind,
            position: Position::locate(self.text, e.offset),
        }
    }

    fn required(&self, e: &Element, name: &'static str) -> Result<String, AdmxError> {
        attr(e, name).ok_or_else(|| {
            self.err(
                AdmxErrorKind::MissingAttribute {
                    element: e.name.clone(),
                    attribute: name,
                },
                e,
            )
        })
    }

    fn file(mut self, root: &Element) -> Result<AdmxFile, AdmxError> {
        if root.name != "policyDefinitions" {
            return Err(self.err(AdmxErrorKind::NotAdmx(root.name.clone()), root));
        }
        for c in root.elements() {
            match c.name.as_str() {
                "policyNamespaces" => {
                    for t in c.elements().filter(|t| t.name == "target") {
                        self.file.namespace = attr(t, "namespace");
                    }
                }
                "policies" => {
                    for p in c.elements().filter(|p| p.name == "policy") {
                        let policy = self.policy(p)?;
                        self.file.policies.insert(policy.name.clone(), policy);
                    }
                }
                _ => {}
            }
        }
        Ok(self.file)
    }

    fn policy(&mut self, p: &Element) -> Result<AdmxPolicy, AdmxError> {
        if self.file.policies.len() >= self.limits.max_policies {
            let limit = self.limits.max_policies;
            return Err(self.err(AdmxErrorKind::TooManyPolicies { limit }, p));
        }
        let name = self.required(p, "name")?;
        let class = match attr(p, "class").as_deref() {
            Some("Machine") => PolicyClass::Machine,
            Some("User") => PolicyClass::User,
            Some("Both") => PolicyClass::Both,
            Some(other) => PolicyClass::Other(other.to_string()),
            None => PolicyClass::Other(String::new()),
        };
        self.items = 0;
        let mut elements = Vec::new();
        for list in p.elements().filter(|e| e.name == "elements") {
            for e in list.elements() {
                elements.push(self.element(e)?);
            }
        }
        Ok(AdmxPolicy {
            name,
            class,
            elements,
            offset: p.offset,
        })
    }

    fn count(&mut self, e: &Element) -> Result<(), AdmxError> {
        self.items += 1;
        if self.items > self.limits.max_elements_per_policy {
            let limit = self.limits.max_elements_per_policy;
            return Err(self.err(AdmxErrorKind::TooManyElements { limit }, e));
        }
        Ok(())
    }

    /// One `<elements>` child.
    fn element(&mut self, e: &Element) -> Result<AdmxElement, AdmxError> {
        self.count(e)?;
        let id = self.required(e, "id")?;
        let required = attr(e, "required").is_some_and(|v| v.trim() == "true" || v.trim() == "1");
        let bound = |name: &str| attr(e, name).and_then(|v| v.trim().parse().ok());
        let kind = match e.name.as_str() {
            "decimal" => ElementKind::Decimal {
                min: bound("minValue"),
                max: bound("maxValue"),
            },
            "longDecimal" => ElementKind::LongDecimal {
                min: bound("minValue"),
                max: bound("maxValue"),
            },
            "text" => ElementKind::Text,
            "multiText" => ElementKind::MultiText,
            "enum" => ElementKind::Enum(self.enum_values(e)?),
            "boolean" => ElementKind::Boolean,
            "list" => ElementKind::List,
            other => ElementKind::Other(other.to_string()),
        };
        Ok(AdmxElement { id, kind, required })
    }

    /// The values of an `<enum>`'s items; `None` when one is not a plain value.
    fn enum_values(&mut self, e: &Element) -> Result<Option<Vec<String>>, AdmxError> {
        let mut values = Some(Vec::new());
        let mut push = |v: Option<String>| match (v, &mut values) {
            (Some(v), Some(list)) => list.push(v),
            (Some(_), None) => {}
            (None, _) => values = None,
        };
        for item in e.elements().filter(|i| i.name == "item") {
            self.count(item)?;
            let mut seen = false;
            for value in item.elements().filter(|v| v.name == "value") {
                seen = true;
                for v in value.elements() {
                    match v.name.as_str() {
                        "decimal" | "longDecimal" => {
                            push(attr(v, "value").map(|x| x.trim().to_string()));
                        }
                        "string" => {
                            let mut s = String::new();
                            deep_text(v, &mut s);
                            push(Some(s.trim().to_string()));
                        }
                        _ => push(None),
                    }
                }
            }
            if !seen {
                // An item without <value> (only a <valueList>): values are not checked.
                push(None);
            }
        }
        Ok(values)
    }
}
