//! The one element type: a namespace-aware, owned XML element.

/// Namespace of `xml:` attributes (`xml:lang`), bound without a declaration.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An XML element: the tree [`crate::parse`] builds, and the generic content that typed
/// models keep for what they have no field for.
///
/// Names are by namespace URI and local name. [`Element::prefix`] and
/// [`Element::offset`] record where a parsed element came from; they are not compared by
/// `==` (two elements are equal when a namespace-aware reader cannot tell them apart) and
/// not serialized.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Element {
    /// Namespace URI, `None` when the element is in no namespace.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes in document order (namespace declarations excluded: they are in
    /// [`Element::namespace_declarations`]).
    pub attributes: Vec<Attribute>,
    /// Child nodes in document order; adjacent text (character data, CDATA sections and
    /// references) is joined into one [`Node::Text`].
    pub children: Vec<Node>,
    /// The prefix as written (`s` of `s:Envelope`), `None` when unprefixed.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub prefix: Option<String>,
    /// The namespace declarations on this element as written: (`None` for `xmlns`,
    /// `Some(prefix)` for `xmlns:prefix`, the namespace name).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub namespace_declarations: Vec<(Option<String>, String)>,
    /// Byte offset of the start tag in the parsed text (0 for built elements).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub offset: usize,
    /// When the element's trimmed text is a QName (`prefix:local`) whose prefix is bound
    /// where the text appears, that prefix's namespace (QName-valued content such as SOAP
    /// fault codes).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub text_qname_namespace: Option<String>,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace
            && self.name == other.name
            && self.attributes == other.attributes
            && self.children == other.children
    }
}

impl Eq for Element {}

/// An attribute of an [`Element`].
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attribute {
    /// Namespace URI, `None` for unprefixed attributes.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Value, references resolved and whitespace normalised as XML 1.0 requires.
    pub value: String,
    /// The prefix as written; not compared by `==`, not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub prefix: Option<String>,
}

impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace && self.name == other.name && self.value == other.value
    }
}

impl Eq for Attribute {}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text (references resolved).
    Text(String),
}

impl Attribute {
    /// An unprefixed attribute.
    pub fn new(name: &str, value: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: value.to_owned(),
            ..Attribute::default()
        }
    }

    /// The name as written (`prefix:local` or `local`).
    pub fn qualified_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl Element {
    /// A new element without attributes or children.
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        Element {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            ..Element::default()
        }
    }

    /// The name as written (`prefix:local` or `local`).
    pub fn qualified_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }

    /// `{namespace}local` (James Clark notation), or `local` in no namespace: for messages.
    pub fn expanded_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{{{ns}}}{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this namespace and local name.
    pub fn child(&self, namespace: Option<&str>, name: &str) -> Option<&Element> {
        self.elements()
            .find(|e| e.namespace.as_deref() == namespace && e.name == name)
    }

    /// The direct text content, joined.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// True if the element has child elements or non-whitespace text.
    pub fn has_content(&self) -> bool {
        self.children.iter().any(|c| match c {
            Node::Element(_) => true,
            Node::Text(t) => !t.trim().is_empty(),
        })
    }

    /// The value of the attribute with this namespace and local name.
    pub fn attribute(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.as_deref() == namespace && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// This element with whitespace-only text removed wherever it stands between child
    /// elements (indentation), at every level; empty text nodes are removed everywhere.
    /// Text of elements without child elements is kept as it is.
    pub fn without_indentation(&self) -> Element {
        let has_elements = self.elements().next().is_some();
        let children = self
            .children
            .iter()
            .filter_map(|c| match c {
                Node::Element(e) => Some(Node::Element(e.without_indentation())),
                Node::Text(t) if t.is_empty() || (has_elements && t.trim().is_empty()) => None,
                Node::Text(t) => Some(Node::Text(t.clone())),
            })
            .collect::<Vec<_>>();
        // Only text is dropped and texts are never adjacent (the parser joins them), so
        // no two texts become adjacent.
        Element {
            children,
            ..self.shallow_clone()
        }
    }

    fn shallow_clone(&self) -> Element {
        Element {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            attributes: self.attributes.clone(),
            children: Vec::new(),
            prefix: self.prefix.clone(),
            namespace_declarations: self.namespace_declarations.clone(),
            offset: self.offset,
            text_qname_namespace: self.text_qname_namespace.clone(),
        }
    }
}
