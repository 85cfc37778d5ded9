//! Generators of valid messages from unstructured bytes, for property tests and fuzzing
//! (feature `arbitrary`).
//!
//! [`message`] turns any byte string into a [`SyncML`] message, and [`commands`] into a
//! fragment of top-level commands, such that the codec must round-trip it:
//! `decode(encode(m)) == m` (and `decode_commands(encode_commands(c)) == c`). Every byte
//! string gives a message (running out of bytes just ends lists and leaves options unset),
//! and a budget of elements keeps messages small whatever the input, so generation is fast.
//!
//! # What a generated message may hold, and why
//!
//! The generator covers everything the types can express, within the rules below; each rule
//! follows from how the encoder writes and the decoder reads a message:
//!
//! - **Text values** (`CmdID`, `LocURI`, `Meta` strings, `TargetRef`...): any string of
//!   characters XML 1.0 allows (no control characters but tab, line feed and carriage
//!   return, no U+FFFE/U+FFFF, no surrogates), edge whitespace included: the encoder writes
//!   whitespace at the edges of a value and every carriage return as character references,
//!   which the decoder's whitespace trimming ([`Quirk::WhitespaceAroundValues`](crate::Quirk))
//!   and XML's line-end normalisation leave alone. `<`, `&` and `>` are escaped.
//! - **Numbers** (`Size`, `MaxMsgSize`, `MaxObjSize`): any `u64`.
//! - **`Data`**: [`DataContent::Text`] with any valid string (empty text is written as
//!   `<Data/>` and read back as empty text); [`DataContent::CData`] with any valid string
//!   (a `]]>` inside is split over two sections, a CR written as `&#13;` between two
//!   sections, and the decoder joins them again);
//!   [`DataContent::Xml`] with a well-formed fragment holding at least one element (so the
//!   decoder sees markup and keeps the raw slice): elements with attributes, escaped text,
//!   character and predefined entity references, CDATA sections, comments and processing
//!   instructions (never named `xml`), nested at most three deep.
//! - **Attributes**: names are valid XML names (optionally prefixed, `msft:originalerror`)
//!   that the encoder's name check accepts, unique per element, never `xmlns` or `xmlns:*`
//!   (the decoder treats those as namespace declarations: a default namespace on a SyncML
//!   element is dropped) except `xmlns:msft` with the MDM namespace on `SyncML` and
//!   `SyncBody`. Prefixes are `msft`, `x`, `ns1` and `A`; a message's `SyncML` element
//!   always declares all four (to distinct namespaces), and element names (unknown
//!   elements, `Data` markup) are prefixed only in messages: a fragment has no envelope to
//!   declare them, and the decoder lets only attribute prefixes through there. Values are any valid strings (the encoder writes tab, line feed and
//!   carriage return as character references, which attribute-value normalisation keeps).
//!   At most a few per element, well below [`Limits::max_attributes`](crate::Limits) and
//!   [`Limits::max_namespace_declarations`](crate::Limits).
//! - **Unknown elements** ([`RawElement`] in `extra` and [`Command::Unknown`]): a well-formed
//!   element (the same fragment rules as `Data` markup, no edge whitespace) whose `name` is
//!   its qualified name and whose local name is none of the names the decoder knows anywhere
//!   (`X-Ext1`, `Filter`, `Map`, `p:Anchor`...), so it lands in `extra` again; the encoder
//!   writes `extra` after the known children, where the decoder also collects them. `Cred`
//!   and `Chal` have no `extra`: the decoder rejects unknown children there.
//! - **Structure**: `Atomic`/`Sequence` nest at most [`Config::max_nesting`] deep, and the
//!   whole message (fragment markup included) stays far below the default
//!   [`Limits`](crate::Limits) for depth, commands and items.
//! - **Version**: SyncML 1.2 or 1.1 (the latter decodes under
//!   [`Quirk::SyncMl11Namespace`](crate::Quirk), on by default); [`Config::strict`] limits
//!   the generator to messages [`DecodeOptions::strict`](crate::DecodeOptions::strict) also
//!   decodes.
//!
//! # Example
//!
//! ```
//! use arbitrary::Unstructured;
//!
//! let bytes = [7u8; 64];
//! let msg = winmdm_syncml::arbitrary::message(&mut Unstructured::new(&bytes))?;
//! let xml = msg.to_xml()?;
//! assert_eq!(winmdm_syncml::decode_str(&xml)?, msg);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::types::{
    Alert, Attr, Chal, Command, Container, Cred, Data, DataContent, Item, ItemCommand, Location,
    Meta, RawElement, Results, Status, SyncBody, SyncHdr, SyncML, SyncMlVersion,
};

/// Generator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Generate elements the model does not know ([`RawElement`]s, [`Command::Unknown`]).
    /// Default `true`.
    pub unknown_elements: bool,
    /// Sometimes generate SyncML 1.1 messages. Default `true`.
    pub syncml_1_1: bool,
    /// Deepest `Atomic`/`Sequence` nesting. Default 4.
    pub max_nesting: usize,
    /// Most elements in one message (a budget; fragment markup counts too). Default 300.
    pub max_elements: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            unknown_elements: true,
            syncml_1_1: true,
            max_nesting: 4,
            max_elements: 300,
        }
    }
}

impl Config {
    /// Only messages that [`DecodeOptions::strict`](crate::DecodeOptions::strict) decodes:
    /// SyncML 1.2 and no unknown elements.
    pub fn strict() -> Self {
        Config {
            unknown_elements: false,
            syncml_1_1: false,
            ..Config::default()
        }
    }
}

/// A generated message, for `#[derive(Arbitrary)]` users and `fuzz_target!(|m: ...|)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbitraryMessage(pub SyncML<'static>);

impl<'a> Arbitrary<'a> for ArbitraryMessage {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        message(u).map(ArbitraryMessage)
    }
}

/// A generated fragment of top-level commands (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbitraryCommands(pub Vec<Command<'static>>);

impl<'a> Arbitrary<'a> for ArbitraryCommands {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        commands(u).map(ArbitraryCommands)
    }
}

/// A message that round-trips, from the default [`Config`].
pub fn message(u: &mut Unstructured<'_>) -> Result<SyncML<'static>> {
    message_with(u, &Config::default())
}

/// A message that round-trips, with settings.
pub fn message_with(u: &mut Unstructured<'_>, cfg: &Config) -> Result<SyncML<'static>> {
    let mut g = Generator::new(u, cfg);
    g.message()
}

/// Top-level commands (at least one) that round-trip through
/// [`encode_commands`](crate::encode_commands) and [`decode_commands`](crate::decode_commands),
/// from the default [`Config`].
pub fn commands(u: &mut Unstructured<'_>) -> Result<Vec<Command<'static>>> {
    commands_with(u, &Config::default())
}

/// Top-level commands (at least one) that round-trip, with settings.
pub fn commands_with(u: &mut Unstructured<'_>, cfg: &Config) -> Result<Vec<Command<'static>>> {
    let mut g = Generator::new(u, cfg);
    let mut cmds = g.commands(0, 4)?;
    if cmds.is_empty() {
        cmds.push(g.command(0)?);
    }
    Ok(cmds)
}

/// Every element name the decoder gives a meaning to, in any context. Unknown elements
/// must have a local name outside this list.
const KNOWN: &[&str] = &[
    "SyncML",
    "SyncHdr",
    "SyncBody",
    "VerDTD",
    "VerProto",
    "SessionID",
    "MsgID",
    "Target",
    "Source",
    "RespURI",
    "NoResp",
    "Cred",
    "Meta",
    "LocURI",
    "LocName",
    "Format",
    "Type",
    "Mark",
    "Size",
    "NextNonce",
    "Version",
    "MaxMsgSize",
    "MaxObjSize",
    "EMI",
    "Final",
    "Add",
    "Alert",
    "Atomic",
    "Copy",
    "Delete",
    "Exec",
    "Get",
    "Replace",
    "Results",
    "Sequence",
    "Status",
    "CmdID",
    "Correlator",
    "Item",
    "MsgRef",
    "CmdRef",
    "Cmd",
    "TargetRef",
    "SourceRef",
    "Chal",
    "Data",
    "SourceParent",
    "TargetParent",
    "MoreData",
];

/// Names of real elements the model does not know (SyncML commands and `Meta` children
/// OMA-DM does not use, MS-MDM extensions).
const UNKNOWN_NAMES: &[&str] = &[
    "Map",
    "Sync",
    "Put",
    "Search",
    "Filter",
    "Anchor",
    "Mem",
    "FieldLevel",
    "Lang",
    "FreeMem",
    "FreeID",
    "SharedMem",
    "X-Ext1",
];

/// Element names for `Data` markup and the inside of unknown elements (any name is fine
/// there, known ones included).
const MARKUP_NAMES: &[&str] = &[
    "enabled",
    "disabled",
    "data",
    "MsiInstallJob",
    "Product",
    "Download",
    "ContentURLList",
    "ContentURL",
    "Validation",
    "FileHash",
    "Enforcement",
    "CommandLine",
    "Application",
    "WLANProfile",
    "SSIDConfig",
    "Data",
    "Item",
    "SyncML",
    "LocURI",
];

const ATTR_NAMES: &[&str] = &[
    "msft:originalerror",
    "id",
    "value",
    "xml:lang",
    "name",
    "type",
    "ProductCode",
    "PackageFamilyName",
    "flags",
];

const VALUES: &[&str] = &[
    "1",
    "0",
    "2",
    "200",
    "404",
    "1201",
    "1224",
    "1226",
    "1.2",
    "DM/1.2",
    "SyncHdr",
    "Replace",
    "chr",
    "int",
    "bool",
    "b64",
    "xml",
    "node",
    "text/plain",
    "syncml:auth-md5",
    "syncml:auth-basic",
    "informational",
    "critical",
    "./Vendor/MSFT/Policy/Config/Browser/AllowCookies",
    "./DevDetail/SwV",
    "./Device/Vendor/MSFT/EnterpriseModernAppManagement/AppManagement?list=StructData",
    "https://mdm.example.com/omadm",
    "B5B954E81FBCB94EB79BD08BE625F4EE",
    "0x86000002",
    "3a1d1b6f-0ec2-4f0e-9a9b-3a8e5f2b3c4d",
    "com.microsoft:mdm.unenrollment.userrequest",
    " padded ",
    "\n  ./Vendor/MSFT/DMClient\n",
    "a&b<c>d\"e'f",
    "x]]>y",
    "\r\n",
    "",
];

const MDM_NS: &str = "http://schemas.microsoft.com/MobileDevice/MDM";

/// The prefixes generated names use and the namespaces a message's root binds them to
/// (distinct, so that no two prefixed attributes share an expanded name).
const PREFIXES: [(&str, &str); 4] = [
    ("msft", MDM_NS),
    ("x", "urn:example:x"),
    ("ns1", "urn:example:ns1"),
    ("A", "urn:example:a"),
];

struct Generator<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    cfg: Config,
    /// Elements still allowed.
    budget: usize,
    /// The prefixes of [`PREFIXES`] are declared on the root (messages): element names may
    /// use them. Fragments declare nothing, so only their attributes are prefixed (the
    /// decoder lets attribute prefixes through in fragments, not element prefixes).
    bound: bool,
}

impl<'u, 'a> Generator<'u, 'a> {
    fn new(u: &'u mut Unstructured<'a>, cfg: &Config) -> Self {
        Generator {
            u,
            cfg: *cfg,
            budget: cfg.max_elements,
            bound: false,
        }
    }

    /// Takes one element from the budget; `false` when it is spent.
    fn take(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn flag(&mut self) -> Result<bool> {
        self.u.arbitrary()
    }

    /// Whether to generate an optional element (and takes it from the budget).
    fn some(&mut self) -> Result<bool> {
        Ok(self.budget > 0 && self.flag()? && self.take())
    }

    /// A count in `0..=max`, capped by the budget.
    fn count(&mut self, max: usize) -> Result<usize> {
        let n = self.u.int_in_range(0..=max)?;
        Ok(n.min(self.budget))
    }

    // ----- characters and strings ------------------------------------------------------

    /// Any character XML 1.0 allows, biased towards the ones that need care.
    fn xml_char(&mut self) -> Result<char> {
        let u = &mut *self.u;
        let c = match u.int_in_range(0u8..=15)? {
            0..=6 => char::from(u.int_in_range(0x20u8..=0x7e)?),
            7 => *u.choose(&['<', '>', '&', '"', '\'', ']', ';', '#'])?,
            8 | 9 => *u.choose(&[' ', '\t', '\n', '\r'])?,
            10 => char::from_u32(u.int_in_range(0x7Fu32..=0xD7FF)?).unwrap_or('?'),
            11 => char::from_u32(u.int_in_range(0xE000u32..=0xFFFD)?).unwrap_or('?'),
            12 => char::from_u32(u.int_in_range(0x10000u32..=0x10FFFF)?).unwrap_or('?'),
            13 => *u.choose(&[
                'é', 'ß', '€', '名', '\u{85}', '\u{A0}', '\u{2028}', '\u{FEFF}', '\u{FFFD}', '😀',
            ])?,
            _ => char::from(u.int_in_range(b'a'..=b'z')?),
        };
        Ok(c)
    }

    /// Any valid string of up to `max` pieces (characters or tricky sequences).
    fn any_string(&mut self, max: usize) -> Result<String> {
        let n = self.u.int_in_range(0..=max)?;
        let mut s = String::new();
        for _ in 0..n {
            if self.u.ratio(1u8, 12)? {
                s.push_str(self.u.choose(&[
                    "]]>",
                    "&amp;",
                    "&#10;",
                    "<![CDATA[",
                    "-->",
                    "<x/>",
                    "\r\n",
                    "  ",
                ])?);
            } else {
                s.push(self.xml_char()?);
            }
        }
        Ok(s)
    }

    /// A value: often a realistic one, otherwise any valid string.
    fn value(&mut self) -> Result<Cow<'static, str>> {
        if self.flag()? {
            Ok(Cow::Borrowed(*self.u.choose(VALUES)?))
        } else {
            Ok(Cow::Owned(self.any_string(24)?))
        }
    }

    fn opt_value(&mut self) -> Result<Option<Cow<'static, str>>> {
        Ok(if self.some()? {
            Some(self.value()?)
        } else {
            None
        })
    }

    fn values(&mut self, max: usize) -> Result<Vec<Cow<'static, str>>> {
        let n = self.count(max)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.take() {
                break;
            }
            v.push(self.value()?);
        }
        Ok(v)
    }

    fn opt_u64(&mut self) -> Result<Option<u64>> {
        Ok(if self.some()? {
            Some(match self.u.int_in_range(0u8..=3)? {
                0 => self.u.int_in_range(0u64..=100)?,
                1 => *self.u.choose(&[524_288u64, 4_194_304, 65_535, u64::MAX])?,
                _ => self.u.arbitrary()?,
            })
        } else {
            None
        })
    }

    /// A string from `[A-Za-z0-9_.-]` and a few non-ASCII letters.
    fn name_chars(&mut self, max: usize) -> Result<String> {
        let n = self.u.int_in_range(0..=max)?;
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            let c = match self.u.int_in_range(0u8..=9)? {
                0..=4 => char::from(self.u.int_in_range(b'a'..=b'z')?),
                5 => char::from(self.u.int_in_range(b'A'..=b'Z')?),
                6 => char::from(self.u.int_in_range(b'0'..=b'9')?),
                7 => *self.u.choose(&['_', '.', '-'])?,
                _ => *self.u.choose(&['é', 'ü', '名', 'Ω', 'ж'])?,
            };
            s.push(c);
        }
        Ok(s)
    }

    /// A valid XML name without a prefix: a letter or `_`, then name characters.
    fn ncname(&mut self) -> Result<String> {
        let first = match self.u.int_in_range(0u8..=5)? {
            0..=2 => char::from(self.u.int_in_range(b'a'..=b'z')?),
            3 => char::from(self.u.int_in_range(b'A'..=b'Z')?),
            4 => '_',
            _ => *self.u.choose(&['é', '名', 'Ω'])?,
        };
        let mut s = first.to_string();
        s.push_str(&self.name_chars(8)?);
        Ok(s)
    }

    /// A qualified name: a known-good one or a generated one, sometimes prefixed.
    fn qname(&mut self, list: &[&str], element: bool) -> Result<String> {
        let local = if self.flag()? {
            (*self.u.choose(list)?).to_owned()
        } else {
            self.ncname()?
        };
        if (self.bound || !element) && !local.contains(':') && self.u.ratio(1u8, 5)? {
            let prefix = self.u.choose(&PREFIXES)?.0;
            Ok(format!("{prefix}:{local}"))
        } else {
            Ok(local)
        }
    }

    /// Attributes with unique names, never namespace declarations.
    fn attrs(&mut self, max: usize, msft_ns: bool) -> Result<Vec<Attr<'static>>> {
        let mut v: Vec<Attr<'static>> = Vec::new();
        if msft_ns && self.u.ratio(1u8, 3)? {
            v.push(Attr::new("xmlns:msft", MDM_NS));
        }
        let n = self.count(max)?;
        for _ in 0..n {
            let name = self.qname(ATTR_NAMES, false)?;
            if name.starts_with("xmlns") || v.iter().any(|a| a.name == name) {
                continue;
            }
            let value = self.value()?;
            let mut a = Attr::new(name, value);
            a.ns = self.attr_ns(&a.name);
            v.push(a);
        }
        if v.len() > 1 && self.flag()? {
            // Namespace declaration last, as some serializers write it.
            v.rotate_left(1);
        }
        Ok(v)
    }

    /// The namespace the decoder resolves a generated attribute name's prefix to: `xml`'s
    /// own, `msft` the MDM namespace (a fragment binds it too), the others as the message's
    /// root declares them, and none in a fragment.
    fn attr_ns(&self, name: &str) -> Option<Cow<'static, str>> {
        let (prefix, _) = name.split_once(':')?;
        match prefix {
            "xmlns" => None,
            "xml" => Some(Cow::Borrowed("http://www.w3.org/XML/1998/namespace")),
            "msft" => Some(Cow::Borrowed(MDM_NS)),
            p if self.bound => PREFIXES
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, uri)| Cow::Borrowed(*uri)),
            _ => None,
        }
    }

    /// Attributes on SyncML elements: mostly none.
    fn element_attrs(&mut self) -> Result<Vec<Attr<'static>>> {
        if self.u.ratio(1u8, 6)? {
            self.attrs(2, false)
        } else {
            Ok(Vec::new())
        }
    }

    // ----- markup ------------------------------------------------------------------------

    /// Escaped character data for markup (text content of a fragment).
    fn markup_text(&mut self, out: &mut String) -> Result<()> {
        let s = self.any_string(12)?;
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '&' => out.push_str("&amp;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
        Ok(())
    }

    fn markup_attr_value(&mut self, out: &mut String) -> Result<()> {
        let s = self.any_string(10)?;
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        Ok(())
    }

    /// One element of markup: `<name attrs/>` or `<name attrs>content</name>`.
    fn markup_element(&mut self, name: &str, depth: usize, out: &mut String) -> Result<()> {
        out.push('<');
        out.push_str(name);
        let n = self.count(3)?;
        let mut names: Vec<String> = Vec::new();
        for _ in 0..n {
            let a = self.qname(ATTR_NAMES, false)?;
            if a.starts_with("xmlns") || names.contains(&a) {
                continue;
            }
            out.push(' ');
            out.push_str(&a);
            out.push_str("=\"");
            self.markup_attr_value(out)?;
            out.push('"');
            names.push(a);
        }
        if self.u.ratio(1u8, 3)? {
            out.push_str("/>");
            return Ok(());
        }
        out.push('>');
        self.markup_content(depth + 1, false, out)?;
        out.push_str("</");
        out.push_str(name);
        out.push('>');
        Ok(())
    }

    /// Content of a fragment: elements, text, references, CDATA, comments, processing
    /// instructions. With `need_element`, at least one element.
    fn markup_content(&mut self, depth: usize, need_element: bool, out: &mut String) -> Result<()> {
        let n = self.count(4)?;
        let mut has_element = false;
        for _ in 0..n {
            match self.u.int_in_range(0u8..=9)? {
                0..=3 if depth < 3 && self.take() => {
                    let name = self.qname(MARKUP_NAMES, true)?;
                    self.markup_element(&name, depth, out)?;
                    has_element = true;
                }
                4 | 5 => self.markup_text(out)?,
                6 => {
                    let r = match self.u.int_in_range(0u8..=2)? {
                        0 => (*self
                            .u
                            .choose(&["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"])?)
                        .to_owned(),
                        1 => format!("&#{};", u32::from(self.xml_char()?)),
                        _ => format!("&#x{:X};", u32::from(self.xml_char()?)),
                    };
                    out.push_str(&r);
                }
                7 => {
                    let s = self.any_string(10)?.replace("]]>", "]] >");
                    out.push_str("<![CDATA[");
                    out.push_str(&s);
                    out.push_str("]]>");
                }
                8 => {
                    out.push_str("<!--");
                    out.push_str(&self.name_chars(10)?.replace('-', "_"));
                    out.push_str("-->");
                }
                _ => {
                    out.push_str("<?pi-");
                    out.push_str(&self.name_chars(6)?);
                    out.push(' ');
                    out.push_str(&self.name_chars(10)?);
                    out.push_str("?>");
                }
            }
        }
        if need_element && !has_element {
            self.budget = self.budget.saturating_sub(1);
            let name = self.qname(MARKUP_NAMES, true)?;
            self.markup_element(&name, depth, out)?;
        }
        Ok(())
    }

    // ----- unknown elements -----------------------------------------------------------

    /// A name whose local part the decoder does not know.
    fn unknown_name(&mut self) -> Result<String> {
        let mut name = self.qname(UNKNOWN_NAMES, true)?;
        let local_start = name.rfind(':').map_or(0, |i| i + 1);
        if KNOWN.contains(&&name[local_start..]) {
            name.insert_str(local_start, "X-");
        }
        Ok(name)
    }

    fn raw_element(&mut self) -> Result<RawElement<'static>> {
        let name = self.unknown_name()?;
        let mut xml = String::new();
        self.markup_element(&name, 0, &mut xml)?;
        Ok(RawElement {
            name: Cow::Owned(name),
            xml: Cow::Owned(xml),
        })
    }

    /// Unknown children for an `extra` list.
    fn extra(&mut self) -> Result<Vec<RawElement<'static>>> {
        if !self.cfg.unknown_elements || !self.u.ratio(1u8, 5)? {
            return Ok(Vec::new());
        }
        let n = self.count(2)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.take() {
                break;
            }
            v.push(self.raw_element()?);
        }
        Ok(v)
    }

    // ----- SyncML structure -----------------------------------------------------------

    fn message(&mut self) -> Result<SyncML<'static>> {
        let version = if self.cfg.syncml_1_1 && self.u.ratio(1u8, 8)? {
            SyncMlVersion::V1_1
        } else {
            SyncMlVersion::V1_2
        };
        self.bound = true;
        let mut attrs = if self.u.ratio(1u8, 4)? {
            self.attrs(2, true)?
        } else {
            Vec::new()
        };
        // The root declares every prefix generated names use (Namespaces in XML: a prefix
        // bound nowhere is an error).
        for (i, (prefix, uri)) in PREFIXES.iter().enumerate() {
            let name = format!("xmlns:{prefix}");
            if !attrs.iter().any(|a| a.name == name) {
                attrs.insert(i.min(attrs.len()), Attr::new(name, *uri));
            }
        }
        let hdr = self.hdr()?;
        let body = self.body()?;
        let extra = self.extra()?;
        Ok(SyncML {
            version,
            attrs,
            hdr,
            body,
            extra,
        })
    }

    fn hdr(&mut self) -> Result<SyncHdr<'static>> {
        Ok(SyncHdr {
            attrs: self.element_attrs()?,
            ver_dtd: self.opt_value()?,
            ver_proto: self.opt_value()?,
            session_id: self.opt_value()?,
            msg_id: self.opt_value()?,
            target: self.opt_location()?,
            source: self.opt_location()?,
            resp_uri: self.opt_value()?,
            no_resp: self.flag()?,
            cred: self.opt_cred()?.map(Box::new),
            meta: self.opt_meta()?,
            extra: self.extra()?,
        })
    }

    fn opt_location(&mut self) -> Result<Option<Location<'static>>> {
        if !self.some()? {
            return Ok(None);
        }
        Ok(Some(Location {
            loc_uri: self.opt_value()?,
            loc_name: self.opt_value()?,
            extra: self.extra()?,
        }))
    }

    fn opt_cred(&mut self) -> Result<Option<Cred<'static>>> {
        if !self.u.ratio(1u8, 4)? || !self.take() {
            return Ok(None);
        }
        Ok(Some(Cred {
            meta: self.opt_meta()?,
            data: self.opt_data()?,
        }))
    }

    fn opt_chal(&mut self) -> Result<Option<Chal<'static>>> {
        if !self.u.ratio(1u8, 4)? || !self.take() {
            return Ok(None);
        }
        Ok(Some(Chal {
            meta: self.opt_meta()?,
        }))
    }

    fn opt_meta(&mut self) -> Result<Option<Meta<'static>>> {
        if !self.some()? {
            return Ok(None);
        }
        Ok(Some(Meta {
            format: self.opt_value()?,
            r#type: self.opt_value()?,
            mark: self.opt_value()?,
            size: self.opt_u64()?,
            next_nonce: self.opt_value()?,
            version: self.opt_value()?,
            max_msg_size: self.opt_u64()?,
            max_obj_size: self.opt_u64()?,
            emi: self.values(2)?,
            extra: self.extra()?,
        }))
    }

    fn opt_data(&mut self) -> Result<Option<Data<'static>>> {
        if !self.some()? {
            return Ok(None);
        }
        let attrs = if self.u.ratio(1u8, 4)? {
            self.attrs(2, false)?
        } else {
            Vec::new()
        };
        let content = match self.u.int_in_range(0u8..=5)? {
            0..=2 => DataContent::Text(self.value()?),
            3 => DataContent::CData(Cow::Owned(self.any_string(40)?)),
            _ => {
                let mut xml = String::new();
                if self.flag()? {
                    xml.push_str(self.u.choose(&["", "\n", "  ", "\r\n\t"])?);
                }
                self.markup_content(0, true, &mut xml)?;
                DataContent::Xml(Cow::Owned(xml))
            }
        };
        Ok(Some(Data { attrs, content }))
    }

    fn items(&mut self) -> Result<Vec<Item<'static>>> {
        let n = self.count(3)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.take() {
                break;
            }
            v.push(Item {
                attrs: self.element_attrs()?,
                target: self.opt_location()?,
                source: self.opt_location()?,
                source_parent: self.opt_location()?.map(Box::new),
                target_parent: self.opt_location()?.map(Box::new),
                meta: self.opt_meta()?.map(Box::new),
                data: self.opt_data()?,
                more_data: self.flag()?,
                extra: self.extra()?,
            });
        }
        Ok(v)
    }

    fn body(&mut self) -> Result<SyncBody<'static>> {
        let attrs = if self.u.ratio(1u8, 3)? {
            self.attrs(1, true)?
        } else {
            Vec::new()
        };
        Ok(SyncBody {
            attrs,
            commands: self.commands(0, 6)?,
            r#final: self.flag()?,
        })
    }

    fn commands(&mut self, nesting: usize, max: usize) -> Result<Vec<Command<'static>>> {
        let n = self.count(max)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            if self.budget == 0 {
                break;
            }
            v.push(self.command(nesting)?);
        }
        Ok(v)
    }

    fn command(&mut self, nesting: usize) -> Result<Command<'static>> {
        self.take();
        let pick = self.u.int_in_range(0u8..=12)?;
        Ok(match pick {
            0 => Command::Add(Box::new(self.item_command()?)),
            1 => Command::Alert(Box::new(self.alert()?)),
            2 if nesting < self.cfg.max_nesting => {
                Command::Atomic(Box::new(self.container(nesting + 1)?))
            }
            3 => Command::Copy(Box::new(self.item_command()?)),
            4 => Command::Delete(Box::new(self.item_command()?)),
            5 => Command::Exec(Box::new(self.item_command()?)),
            6 => Command::Get(Box::new(self.item_command()?)),
            7 => Command::Results(Box::new(self.results()?)),
            8 if nesting < self.cfg.max_nesting => {
                Command::Sequence(Box::new(self.container(nesting + 1)?))
            }
            9 => Command::Status(Box::new(self.status()?)),
            10 if self.cfg.unknown_elements => Command::Unknown(Box::new(self.raw_element()?)),
            _ => Command::Replace(Box::new(self.item_command()?)),
        })
    }

    fn item_command(&mut self) -> Result<ItemCommand<'static>> {
        Ok(ItemCommand {
            attrs: self.element_attrs()?,
            cmd_id: self.opt_value()?,
            no_resp: self.flag()?,
            cred: self.opt_cred()?.map(Box::new),
            meta: self.opt_meta()?.map(Box::new),
            correlator: self.opt_value()?,
            items: self.items()?,
            extra: self.extra()?,
        })
    }

    fn alert(&mut self) -> Result<Alert<'static>> {
        Ok(Alert {
            attrs: self.element_attrs()?,
            cmd_id: self.opt_value()?,
            no_resp: self.flag()?,
            cred: self.opt_cred()?.map(Box::new),
            data: self.opt_data()?,
            correlator: self.opt_value()?,
            items: self.items()?,
            extra: self.extra()?,
        })
    }

    fn container(&mut self, nesting: usize) -> Result<Container<'static>> {
        Ok(Container {
            attrs: self.element_attrs()?,
            cmd_id: self.opt_value()?,
            no_resp: self.flag()?,
            meta: self.opt_meta()?.map(Box::new),
            commands: self.commands(nesting, 4)?,
        })
    }

    fn results(&mut self) -> Result<Results<'static>> {
        Ok(Results {
            attrs: self.element_attrs()?,
            cmd_id: self.opt_value()?,
            msg_ref: self.opt_value()?,
            cmd_ref: self.opt_value()?,
            cmd: self.opt_value()?,
            meta: self.opt_meta()?.map(Box::new),
            target_refs: self.values(2)?,
            source_refs: self.values(2)?,
            items: self.items()?,
            extra: self.extra()?,
        })
    }

    fn status(&mut self) -> Result<Status<'static>> {
        Ok(Status {
            attrs: self.element_attrs()?,
            cmd_id: self.opt_value()?,
            msg_ref: self.opt_value()?,
            cmd_ref: self.opt_value()?,
            cmd: self.opt_value()?,
            target_refs: self.values(2)?,
            source_refs: self.values(2)?,
            cred: self.opt_cred()?.map(Box::new),
            chal: self.opt_chal()?.map(Box::new),
            data: self.opt_data()?,
            items: self.items()?,
            extra: self.extra()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_unknown() {
        for n in UNKNOWN_NAMES {
            assert!(!KNOWN.contains(n), "{n}");
        }
    }

    #[test]
    fn exhausted_input_still_gives_a_message() {
        let m = message(&mut Unstructured::new(&[])).expect("message");
        let again = message(&mut Unstructured::new(&[])).expect("message");
        assert_eq!(m, again, "generation is deterministic");
        let c = commands(&mut Unstructured::new(&[])).expect("commands");
        assert_eq!(c.len(), 1);
    }
}
