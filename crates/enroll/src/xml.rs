//! Generic XML content kept verbatim (by namespace and local name) where the typed
//! model has no field for it, and the small writer the encoders share.

use std::fmt::Write as _;

/// An XML element kept as a generic tree: unknown SOAP headers, unknown request
/// fields, `ds:Signature`, policy parts this crate does not type.
///
/// Names are kept by namespace URI and local name; prefixes are not kept (a
/// namespace-aware reader does not depend on them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct XmlElement {
    /// Namespace URI, `None` when the element is in no namespace.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes in document order (namespace declarations excluded).
    pub attributes: Vec<XmlAttribute>,
    /// Child nodes in document order.
    pub children: Vec<XmlNode>,
}

/// An attribute of an [`XmlElement`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct XmlAttribute {
    /// Namespace URI, `None` for unqualified attributes.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// A child of an [`XmlElement`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum XmlNode {
    /// A child element.
    Element(XmlElement),
    /// Text (unescaped).
    Text(String),
}

impl XmlElement {
    /// A new element without attributes or children.
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        XmlElement {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Concatenated direct text content.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| {
                if let XmlNode::Text(t) = c {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Escapes for element content and attribute values: the markup characters, and the
/// whitespace characters a reader would normalise (`\r` in text; `\t`, `\n`, `\r` in
/// attribute values), so that decoded values survive a round trip exactly.
pub(crate) fn escape(s: &str, attr: bool) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\t' | '\n' => attr,
        _ => false,
    };
    if !s.chars().any(needs) {
        return std::borrow::Cow::Borrowed(s);
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
    std::borrow::Cow::Owned(out)
}

/// Appends XML to a `String`. Encoders write prefixed names themselves and declare
/// namespaces on the root; [`XmlWriter::generic`] declares what generic content needs.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    pub(crate) out: String,
    /// Default namespace in scope (for generic elements).
    default_ns: Vec<Option<String>>,
}

impl XmlWriter {
    pub(crate) fn new() -> Self {
        XmlWriter {
            out: String::new(),
            default_ns: vec![None],
        }
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v, true));
        }
    }

    /// `<name attrs>`; `default_ns` is the default namespace the element declares or
    /// inherits (tracked for generic children).
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
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

    pub(crate) fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
        self.default_ns.pop();
    }

    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push_str("/>");
    }

    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push('>');
        self.out.push_str(&escape(text, false));
        let _ = write!(self.out, "</{name}>");
    }

    /// Leaf if `Some`, nothing if `None`.
    pub(crate) fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, &[], t);
        }
    }

    /// Leaf if `Some`, `<name xsi:nil="true"/>` if `None` (`xsi` must be declared).
    pub(crate) fn nil_leaf(&mut self, name: &str, text: Option<&str>) {
        match text {
            Some(t) => self.leaf(name, &[], t),
            None => self.empty(name, &[("xsi:nil", "true")]),
        }
    }

    pub(crate) fn text(&mut self, t: &str) {
        self.out.push_str(&escape(t, false));
    }

    /// Writes a generic element with the declarations it needs.
    pub(crate) fn generic(&mut self, el: &XmlElement) {
        let current = self.default_ns.last().cloned().flatten();
        let mut decls: Vec<(String, String)> = Vec::new();
        let xml_ns = el.namespace.as_deref() == Some(crate::dom::XML_NS);
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
                Some(ns) if ns == crate::dom::XML_NS => format!("xml:{}", a.name),
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
                XmlNode::Element(e) => self.generic(e),
                XmlNode::Text(t) => self.text(t),
            }
        }
        self.default_ns.pop();
        let _ = write!(self.out, "</{name}>");
    }
}
