//! The one escaper and a small writer.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::element::{Element, Node, XML_NS};

/// Escapes `s` for element content: `&`, `<`, `>` and `\r` (which a reader would turn
/// into `\n`), so that the text reads back exactly.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes `s` for an attribute value in double quotes: as [`escape_text`], plus `"` and
/// the whitespace a reader would normalise to spaces (`\t`, `\n`).
pub fn escape_attribute(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// Escapes for element content and attribute values: the markup characters, and the
/// whitespace characters a reader would normalise (`\r` in text; `\t`, `\n`, `\r` in
/// attribute values), so that decoded values survive a round trip exactly.
fn escape(s: &str, attr: bool) -> Cow<'_, str> {
    let needs = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\t' | '\n' => attr,
        _ => false,
    };
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Appends XML to a `String`. Encoders write prefixed names themselves and declare
/// namespaces on the root; [`Writer::element`] declares what generic content needs.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    /// Default namespace in scope (for generic elements).
    default_ns: Vec<Option<String>>,
}

impl Writer {
    /// What has been written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The written XML.
    pub fn into_string(self) -> String {
        self.out
    }

    /// An empty writer (no default namespace in scope).
    pub fn new() -> Self {
        Writer {
            out: String::new(),
            default_ns: vec![None],
        }
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v, true));
        }
    }

    /// `<name attrs>` (names as written, values escaped); the default namespace it
    /// declares (`xmlns`) or inherits is tracked for [`Writer::element`].
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push('>');
        let inherited = attrs
            .iter()
            .find(|(k, _)| *k == "xmlns")
            .map(|(_, v)| Some((*v).to_owned()))
            .unwrap_or_else(|| self.default_ns.last().cloned().flatten());
        self.default_ns.push(inherited);
    }

    /// `</name>`, closing what [`Writer::open`] opened.
    pub fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
        self.default_ns.pop();
    }

    /// `<name attrs/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push_str("/>");
    }

    /// `<name attrs>text</name>`, text escaped.
    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push('>');
        self.out.push_str(&escape(text, false));
        let _ = write!(self.out, "</{name}>");
    }

    /// Leaf if `Some`, nothing if `None`.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, &[], t);
        }
    }

    /// Leaf if `Some`, `<name xsi:nil="true"/>` if `None` (`xsi` must be declared).
    pub fn nil_leaf(&mut self, name: &str, text: Option<&str>) {
        match text {
            Some(t) => self.leaf(name, &[], t),
            None => self.empty(name, &[("xsi:nil", "true")]),
        }
    }

    /// Escaped text.
    pub fn text(&mut self, t: &str) {
        self.out.push_str(&escape(t, false));
    }

    /// Writes an [`Element`] with the namespace declarations it needs: a default
    /// namespace where it differs from the one in scope, generated prefixes (`n0`, ...)
    /// for namespaced attributes, `xml:` for [`XML_NS`]. Kept prefixes are not used.
    pub fn element(&mut self, el: &Element) {
        let current = self.default_ns.last().cloned().flatten();
        let mut decls: Vec<(String, String)> = Vec::new();
        let xml_ns = el.namespace.as_deref() == Some(XML_NS);
        let name = if xml_ns {
            format!("xml:{}", el.name)
        } else {
            el.name.clone()
        };
        if el.namespace != current && !xml_ns {
            decls.push(("xmlns".into(), el.namespace.clone().unwrap_or_default()));
        }
        let mut attr_parts: Vec<(String, String)> = Vec::new();
        let mut prefixes: Vec<(String, String)> = Vec::new();
        for a in &el.attributes {
            let key = match &a.namespace {
                None => a.name.clone(),
                Some(ns) if ns == XML_NS => format!("xml:{}", a.name),
                Some(ns) => {
                    let p = match prefixes.iter().find(|(_, n)| n == ns) {
                        Some((p, _)) => p.clone(),
                        None => {
                            let p = format!("n{}", prefixes.len());
                            prefixes.push((p.clone(), ns.clone()));
                            decls.push((format!("xmlns:{p}"), ns.clone()));
                            p
                        }
                    };
                    format!("{p}:{}", a.name)
                }
            };
            attr_parts.push((key, a.value.clone()));
        }
        self.out.push('<');
        self.out.push_str(&name);
        for (k, v) in decls.iter().chain(attr_parts.iter()) {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v, true));
        }
        if el.children.is_empty() {
            self.out.push_str("/>");
            return;
        }
        self.out.push('>');
        self.default_ns.push(if xml_ns {
            current
        } else {
            el.namespace.clone()
        });
        for c in &el.children {
            match c {
                Node::Element(e) => self.element(e),
                Node::Text(t) => self.text(t),
            }
        }
        self.default_ns.pop();
        let _ = write!(self.out, "</{name}>");
    }
}
