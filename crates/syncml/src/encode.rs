//! The encoder: canonical SyncML 1.2 to any `std::io::Write`.
//!
//! Canonical means: the root carries `xmlns="SYNCML:SYNCML1.2"` (or 1.1), children are
//! written in DTD order, every `Meta` child carries `xmlns="syncml:metinf"`, text is escaped
//! (`<`, `&`, `>`; `\r` and whitespace at the edges of value elements as character
//! references, so decoders that normalise line ends or trim values read the same value),
//! unknown elements and `Data` markup are written verbatim.

use std::io::{self, Write};

use crate::decode::is_xml_char;
use crate::error::EncodeError;
use crate::types::{
    Alert, Attr, Command, Container, Cred, Data, DataContent, Item, ItemCommand, Location, Meta,
    RawElement, Results, Status, SyncBody, SyncHdr, SyncML,
};

/// Encoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Indent element-only content with two spaces per level (never inside `Data` or other
    /// values, so the meaning is unchanged).
    pub pretty: bool,
    /// Start with `<?xml version="1.0" encoding="UTF-8"?>`.
    pub xml_declaration: bool,
}

impl EncodeOptions {
    /// Indented output.
    pub fn pretty() -> Self {
        EncodeOptions {
            pretty: true,
            xml_declaration: false,
        }
    }
}

/// Encodes a message compactly.
pub fn encode<W: Write>(msg: &SyncML<'_>, w: W) -> Result<(), EncodeError> {
    msg.encode(w)
}

/// Encodes top-level commands (a profile fragment), one after the other.
pub fn encode_commands<W: Write>(
    cmds: &[Command<'_>],
    w: W,
    opts: &EncodeOptions,
) -> Result<(), EncodeError> {
    let mut e = Encoder::new(w, opts.pretty, true);
    for c in cmds {
        e.command(c)?;
    }
    if opts.pretty {
        e.raw("\n")?;
    }
    Ok(())
}

impl SyncML<'_> {
    /// Encodes the message compactly (no indentation, no XML declaration).
    pub fn encode<W: Write>(&self, w: W) -> Result<(), EncodeError> {
        self.encode_with(w, &EncodeOptions::default())
    }

    /// Encodes the message with options.
    pub fn encode_with<W: Write>(&self, w: W, opts: &EncodeOptions) -> Result<(), EncodeError> {
        let mut e = Encoder::new(w, opts.pretty, true);
        if opts.xml_declaration {
            e.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        }
        e.message(self)?;
        if opts.pretty {
            e.raw("\n")?;
        }
        Ok(())
    }

    /// The compact encoding as a string.
    pub fn to_xml(&self) -> Result<String, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        String::from_utf8(v).map_err(|_| EncodeError::InvalidChar(0xFFFD))
    }

    /// The length in bytes of the compact encoding, without writing it.
    pub fn encoded_len(&self) -> usize {
        let mut e = Encoder::new(io::sink(), false, false);
        // Writing to a sink cannot fail and validation is off.
        let _ = e.message(self);
        e.count
    }
}

impl Command<'_> {
    /// Encodes the command compactly.
    pub fn encode<W: Write>(&self, w: W) -> Result<(), EncodeError> {
        Encoder::new(w, false, true).command(self)
    }

    /// The length in bytes of the compact encoding of this command.
    pub fn encoded_len(&self) -> usize {
        let mut e = Encoder::new(io::sink(), false, false);
        let _ = e.command(self);
        e.count
    }
}

impl Item<'_> {
    /// The length in bytes of the compact encoding of this item.
    pub fn encoded_len(&self) -> usize {
        let mut e = Encoder::new(io::sink(), false, false);
        let _ = e.item(self);
        e.count
    }
}

const METINF: &str = "syncml:metinf";

struct Encoder<W: Write> {
    w: W,
    pretty: bool,
    validate: bool,
    depth: usize,
    count: usize,
}

/// How a text value is escaped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// Element value: whitespace at the edges as character references.
    Value,
    /// `Data` text: only what XML requires.
    Text,
    /// Attribute value.
    Attr,
}

impl<W: Write> Encoder<W> {
    fn new(w: W, pretty: bool, validate: bool) -> Self {
        Encoder {
            w,
            pretty,
            validate,
            depth: 0,
            count: 0,
        }
    }

    fn raw(&mut self, s: &str) -> Result<(), EncodeError> {
        self.count += s.len();
        self.w.write_all(s.as_bytes())?;
        Ok(())
    }

    fn newline(&mut self) -> Result<(), EncodeError> {
        if self.pretty && (self.count > 0) {
            self.raw("\n")?;
            for _ in 0..self.depth {
                self.raw("  ")?;
            }
        }
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<(), EncodeError> {
        if !self.validate {
            return Ok(());
        }
        let ok = crate::decode::is_xml_name(name);
        if ok {
            Ok(())
        } else {
            Err(EncodeError::InvalidName(name.to_owned()))
        }
    }

    fn start_tag(
        &mut self,
        name: &str,
        attrs: &[Attr<'_>],
        ns: Option<&str>,
    ) -> Result<(), EncodeError> {
        self.raw("<")?;
        self.raw(name)?;
        if let Some(ns) = ns {
            self.raw(" xmlns=\"")?;
            self.escaped(ns, Escaping::Attr)?;
            self.raw("\"")?;
        }
        for a in attrs {
            self.check_name(&a.name)?;
            self.raw(" ")?;
            self.raw(&a.name)?;
            self.raw("=\"")?;
            self.escaped(&a.value, Escaping::Attr)?;
            self.raw("\"")?;
        }
        Ok(())
    }

    /// Opens an element with element-only content.
    fn open(&mut self, name: &str, attrs: &[Attr<'_>]) -> Result<(), EncodeError> {
        self.newline()?;
        self.start_tag(name, attrs, None)?;
        self.raw(">")?;
        self.depth += 1;
        Ok(())
    }

    fn close(&mut self, name: &str) -> Result<(), EncodeError> {
        self.depth -= 1;
        self.newline()?;
        self.raw("</")?;
        self.raw(name)?;
        self.raw(">")
    }

    fn empty(&mut self, name: &str) -> Result<(), EncodeError> {
        self.newline()?;
        self.raw("<")?;
        self.raw(name)?;
        self.raw("/>")
    }

    fn flag(&mut self, name: &str, set: bool) -> Result<(), EncodeError> {
        if set { self.empty(name) } else { Ok(()) }
    }

    fn leaf_ns(&mut self, name: &str, value: &str, ns: Option<&str>) -> Result<(), EncodeError> {
        self.newline()?;
        self.start_tag(name, &[], ns)?;
        self.raw(">")?;
        self.escaped(value, Escaping::Value)?;
        self.raw("</")?;
        self.raw(name)?;
        self.raw(">")
    }

    fn leaf(&mut self, name: &str, value: Option<&str>) -> Result<(), EncodeError> {
        match value {
            Some(v) => self.leaf_ns(name, v, None),
            None => Ok(()),
        }
    }

    fn meta_leaf(&mut self, name: &str, value: Option<&str>) -> Result<(), EncodeError> {
        match value {
            Some(v) => self.leaf_ns(name, v, Some(METINF)),
            None => Ok(()),
        }
    }

    fn escaped(&mut self, s: &str, esc: Escaping) -> Result<(), EncodeError> {
        let bytes = s.as_bytes();
        // Edges: leading and trailing whitespace of values.
        let (lead, trail) = if esc == Escaping::Value {
            let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
            let lead = bytes.iter().take_while(|b| is_ws(b)).count();
            let trail = if lead == bytes.len() {
                0
            } else {
                bytes.iter().rev().take_while(|b| is_ws(b)).count()
            };
            (lead, bytes.len() - trail)
        } else {
            (0, bytes.len())
        };
        let mut last = 0;
        for (i, c) in s.char_indices() {
            if self.validate && !is_xml_char(c) {
                return Err(EncodeError::InvalidChar(u32::from(c)));
            }
            let rep = match c {
                '<' => "&lt;",
                '&' => "&amp;",
                '>' => "&gt;",
                '"' if esc == Escaping::Attr => "&quot;",
                '\r' => "&#13;",
                '\n' if esc == Escaping::Attr || i < lead || i >= trail => "&#10;",
                '\t' if esc == Escaping::Attr || i < lead || i >= trail => "&#9;",
                ' ' if i < lead || i >= trail => "&#32;",
                _ => continue,
            };
            self.raw(&s[last..i])?;
            self.raw(rep)?;
            last = i + c.len_utf8();
        }
        self.raw(&s[last..])
    }

    fn raw_elements(&mut self, extra: &[RawElement<'_>]) -> Result<(), EncodeError> {
        for r in extra {
            self.newline()?;
            self.raw(&r.xml)?;
        }
        Ok(())
    }

    fn message(&mut self, m: &SyncML<'_>) -> Result<(), EncodeError> {
        self.start_tag("SyncML", &m.attrs, Some(m.version.namespace()))?;
        self.raw(">")?;
        self.depth += 1;
        self.hdr(&m.hdr)?;
        self.body(&m.body)?;
        self.raw_elements(&m.extra)?;
        self.close("SyncML")
    }

    fn hdr(&mut self, h: &SyncHdr<'_>) -> Result<(), EncodeError> {
        self.open("SyncHdr", &h.attrs)?;
        self.leaf("VerDTD", h.ver_dtd.as_deref())?;
        self.leaf("VerProto", h.ver_proto.as_deref())?;
        self.leaf("SessionID", h.session_id.as_deref())?;
        self.leaf("MsgID", h.msg_id.as_deref())?;
        self.location("Target", h.target.as_ref())?;
        self.location("Source", h.source.as_ref())?;
        self.leaf("RespURI", h.resp_uri.as_deref())?;
        self.flag("NoResp", h.no_resp)?;
        self.cred(h.cred.as_deref())?;
        self.meta(h.meta.as_ref())?;
        self.raw_elements(&h.extra)?;
        self.close("SyncHdr")
    }

    fn location(&mut self, name: &str, l: Option<&Location<'_>>) -> Result<(), EncodeError> {
        let Some(l) = l else { return Ok(()) };
        self.open(name, &[])?;
        self.leaf("LocURI", l.loc_uri.as_deref())?;
        self.leaf("LocName", l.loc_name.as_deref())?;
        self.raw_elements(&l.extra)?;
        self.close(name)
    }

    fn cred(&mut self, c: Option<&Cred<'_>>) -> Result<(), EncodeError> {
        let Some(c) = c else { return Ok(()) };
        self.open("Cred", &[])?;
        self.meta(c.meta.as_ref())?;
        self.data(c.data.as_ref())?;
        self.close("Cred")
    }

    fn meta(&mut self, m: Option<&Meta<'_>>) -> Result<(), EncodeError> {
        let Some(m) = m else { return Ok(()) };
        self.open("Meta", &[])?;
        self.meta_leaf("Format", m.format.as_deref())?;
        self.meta_leaf("Type", m.r#type.as_deref())?;
        self.meta_leaf("Mark", m.mark.as_deref())?;
        self.meta_leaf("Size", m.size.map(|n| n.to_string()).as_deref())?;
        self.meta_leaf("Version", m.version.as_deref())?;
        self.meta_leaf("NextNonce", m.next_nonce.as_deref())?;
        self.meta_leaf(
            "MaxMsgSize",
            m.max_msg_size.map(|n| n.to_string()).as_deref(),
        )?;
        self.meta_leaf(
            "MaxObjSize",
            m.max_obj_size.map(|n| n.to_string()).as_deref(),
        )?;
        for e in &m.emi {
            self.meta_leaf("EMI", Some(e))?;
        }
        self.raw_elements(&m.extra)?;
        self.close("Meta")
    }

    fn data(&mut self, d: Option<&Data<'_>>) -> Result<(), EncodeError> {
        let Some(d) = d else { return Ok(()) };
        self.newline()?;
        self.start_tag("Data", &d.attrs, None)?;
        match &d.content {
            DataContent::Text(t) if t.is_empty() => return self.raw("/>"),
            DataContent::Text(t) => {
                self.raw(">")?;
                self.escaped(t, Escaping::Text)?;
            }
            DataContent::CData(t) => {
                self.raw("><![CDATA[")?;
                if self.validate
                    && let Some(c) = t.chars().find(|c| !is_xml_char(*c))
                {
                    return Err(EncodeError::InvalidChar(u32::from(c)));
                }
                // `]]>` cannot stand in a section: split over two. A CR cannot either (any
                // parser reads it as LF): close the section, write `&#13;`, reopen; the
                // decoder reads sections joined by nothing but such references as one
                // CDATA value again.
                let mut first = true;
                for part in t.split("]]>") {
                    if !first {
                        self.raw("]]]]><![CDATA[>")?;
                    }
                    first = false;
                    let mut lines = part.split('\r');
                    if let Some(l) = lines.next() {
                        self.raw(l)?;
                    }
                    for l in lines {
                        self.raw("]]>&#13;<![CDATA[")?;
                        self.raw(l)?;
                    }
                }
                self.raw("]]>")?;
            }
            DataContent::Xml(x) => {
                self.raw(">")?;
                self.raw(x)?;
            }
        }
        self.raw("</Data>")
    }

    fn command(&mut self, c: &Command<'_>) -> Result<(), EncodeError> {
        match c {
            Command::Add(x) => self.item_command("Add", x),
            Command::Copy(x) => self.item_command("Copy", x),
            Command::Delete(x) => self.item_command("Delete", x),
            Command::Exec(x) => self.item_command("Exec", x),
            Command::Get(x) => self.item_command("Get", x),
            Command::Replace(x) => self.item_command("Replace", x),
            Command::Alert(x) => self.alert(x),
            Command::Atomic(x) => self.container("Atomic", x),
            Command::Sequence(x) => self.container("Sequence", x),
            Command::Results(x) => self.results(x),
            Command::Status(x) => self.status(x),
            Command::Unknown(r) => self.raw_elements(std::slice::from_ref(r)),
        }
    }

    fn body(&mut self, b: &SyncBody<'_>) -> Result<(), EncodeError> {
        self.open("SyncBody", &b.attrs)?;
        for c in &b.commands {
            self.command(c)?;
        }
        self.flag("Final", b.r#final)?;
        self.close("SyncBody")
    }

    fn items(&mut self, items: &[Item<'_>]) -> Result<(), EncodeError> {
        for it in items {
            self.item(it)?;
        }
        Ok(())
    }

    fn item_command(&mut self, name: &str, c: &ItemCommand<'_>) -> Result<(), EncodeError> {
        self.open(name, &c.attrs)?;
        self.leaf("CmdID", c.cmd_id.as_deref())?;
        self.flag("NoResp", c.no_resp)?;
        self.cred(c.cred.as_deref())?;
        self.meta(c.meta.as_deref())?;
        self.leaf("Correlator", c.correlator.as_deref())?;
        self.items(&c.items)?;
        self.raw_elements(&c.extra)?;
        self.close(name)
    }

    fn alert(&mut self, a: &Alert<'_>) -> Result<(), EncodeError> {
        self.open("Alert", &a.attrs)?;
        self.leaf("CmdID", a.cmd_id.as_deref())?;
        self.flag("NoResp", a.no_resp)?;
        self.cred(a.cred.as_deref())?;
        self.data(a.data.as_ref())?;
        self.leaf("Correlator", a.correlator.as_deref())?;
        self.items(&a.items)?;
        self.raw_elements(&a.extra)?;
        self.close("Alert")
    }

    fn container(&mut self, name: &str, k: &Container<'_>) -> Result<(), EncodeError> {
        self.open(name, &k.attrs)?;
        self.leaf("CmdID", k.cmd_id.as_deref())?;
        self.flag("NoResp", k.no_resp)?;
        self.meta(k.meta.as_deref())?;
        for c in &k.commands {
            self.command(c)?;
        }
        self.close(name)
    }

    fn results(&mut self, r: &Results<'_>) -> Result<(), EncodeError> {
        self.open("Results", &r.attrs)?;
        self.leaf("CmdID", r.cmd_id.as_deref())?;
        self.leaf("MsgRef", r.msg_ref.as_deref())?;
        self.leaf("CmdRef", r.cmd_ref.as_deref())?;
        self.leaf("Cmd", r.cmd.as_deref())?;
        self.meta(r.meta.as_deref())?;
        for t in &r.target_refs {
            self.leaf("TargetRef", Some(t))?;
        }
        for s in &r.source_refs {
            self.leaf("SourceRef", Some(s))?;
        }
        self.items(&r.items)?;
        self.raw_elements(&r.extra)?;
        self.close("Results")
    }

    fn status(&mut self, s: &Status<'_>) -> Result<(), EncodeError> {
        self.open("Status", &s.attrs)?;
        self.leaf("CmdID", s.cmd_id.as_deref())?;
        self.leaf("MsgRef", s.msg_ref.as_deref())?;
        self.leaf("CmdRef", s.cmd_ref.as_deref())?;
        self.leaf("Cmd", s.cmd.as_deref())?;
        for t in &s.target_refs {
            self.leaf("TargetRef", Some(t))?;
        }
        for x in &s.source_refs {
            self.leaf("SourceRef", Some(x))?;
        }
        self.cred(s.cred.as_deref())?;
        if let Some(ch) = &s.chal {
            self.open("Chal", &[])?;
            self.meta(ch.meta.as_ref())?;
            self.close("Chal")?;
        }
        self.data(s.data.as_ref())?;
        self.items(&s.items)?;
        self.raw_elements(&s.extra)?;
        self.close("Status")
    }

    fn item(&mut self, it: &Item<'_>) -> Result<(), EncodeError> {
        self.open("Item", &it.attrs)?;
        self.location("Target", it.target.as_ref())?;
        self.location("Source", it.source.as_ref())?;
        self.location("SourceParent", it.source_parent.as_deref())?;
        self.location("TargetParent", it.target_parent.as_deref())?;
        self.meta(it.meta.as_deref())?;
        self.data(it.data.as_ref())?;
        self.flag("MoreData", it.more_data)?;
        self.raw_elements(&it.extra)?;
        self.close("Item")
    }
}
