//! Second parsing phase: winmdm-xml's element tree to [`MgmtTree`].

use winmdm_types::Format;
use winmdm_xml::{Element, Node as XmlNode, Position};

use crate::error::{ErrorKind, ParseError};
use crate::model::{
    AccessKind, AdmxBacked, AllowedValues, Applicability, CaseSense, ConflictResolution,
    Dependency, DependencyBehavior, DependencyGroup, DependencyValue, Deprecated, DfProperties,
    DfType, DynamicNodeNaming, EnumValue, GpMapping, MgmtTree, Node, Occurrence, RebootBehavior,
    Scope, ValueType, Warning,
};

/// Microsoft's DDF extension namespace (`xmlns:MSFT`).
pub const MSFT_NS: &str = "http://schemas.microsoft.com/MobileDevice/DM";

/// Which vocabulary an element's name is from, with its local name.
enum Vocabulary<'a> {
    /// OMA DDF (unprefixed: `Node`, `DFProperties`, ...).
    Oma(&'a str),
    /// Microsoft's extensions (`MSFT:AllowedValues`, ...).
    Msft(&'a str),
    /// Another namespace.
    Other,
}

fn vocabulary(e: &Element) -> Vocabulary<'_> {
    let local = e.name.as_str();
    match (e.prefix.as_deref(), e.namespace.as_deref()) {
        (_, Some(MSFT_NS)) => Vocabulary::Msft(local),
        // Undeclared `MSFT:` prefix (seen in legacy files): still Microsoft's extension.
        (Some("MSFT"), None) => Vocabulary::Msft(local),
        (None, _) => Vocabulary::Oma(local),
        _ => Vocabulary::Other,
    }
}

/// The value of the unprefixed attribute `name` (DDF attributes are never prefixed).
fn attribute<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.attributes
        .iter()
        .find(|a| a.prefix.is_none() && a.name == name)
        .map(|a| a.value.as_str())
}

/// Builds the model from the element tree of one document, collecting the [`Warning`]s
/// about what the model does not keep.
pub(crate) struct ModelBuilder<'t> {
    /// The decoded document (for the positions of errors).
    text: &'t str,
    pub(crate) warnings: Vec<Warning>,
}

impl<'t> ModelBuilder<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        ModelBuilder {
            text,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, e: &Element, message: String) {
        self.warnings.push(Warning {
            offset: e.offset,
            element: e.qualified_name(),
            message,
        });
    }

    fn error(&self, kind: ErrorKind, e: &Element, path: &str) -> ParseError {
        ParseError::new(
            kind,
            Position::locate(self.text, e.offset),
            path.to_string(),
        )
    }

    /// Warns about attributes not in `known` (unprefixed names; namespace declarations are
    /// not attributes).
    fn attrs(&mut self, e: &Element, known: &[&str]) {
        for a in &e.attributes {
            if a.prefix.is_none() && known.contains(&a.name.as_str()) {
                continue;
            }
            let message = format!("attribute {}=\"{}\" not kept", a.qualified_name(), a.value);
            self.warn(e, message);
        }
    }

    /// Warns about non-whitespace text in an element that only holds elements.
    fn no_text(&mut self, e: &Element) {
        for c in &e.children {
            if let XmlNode::Text(t) = c
                && !t.trim().is_empty()
            {
                self.warn(e, format!("text {:?} not kept", t.trim()));
            }
        }
    }

    /// Text of a leaf element; warns about child elements.
    fn leaf_text(&mut self, e: &Element, known_attrs: &[&str]) -> String {
        self.attrs(e, known_attrs);
        for c in e.elements() {
            self.warn(
                e,
                format!(
                    "child <{}> inside a text element not kept",
                    c.qualified_name()
                ),
            );
        }
        e.text()
    }

    /// The single code element inside `<DFFormat>`, `<Scope>`...: its local name.
    fn code<'e>(&mut self, e: &'e Element) -> Option<&'e str> {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut found = None;
        for c in e.elements() {
            if found.is_none() {
                found = Some(c.name.as_str());
                self.attrs(c, &[]);
                let n_allowed = matches!(c.name.as_str(), "ZeroOrN" | "OneOrN");
                if c.has_content() && !n_allowed {
                    self.warn(c, "content of a code element not kept".into());
                }
            } else {
                self.warn(
                    c,
                    format!(
                        "second code <{}> in <{}> not kept",
                        c.qualified_name(),
                        e.qualified_name()
                    ),
                );
            }
        }
        if found.is_none() {
            self.warn(e, format!("empty <{}>", e.qualified_name()));
        }
        found
    }

    pub(crate) fn tree(&mut self, root: Element) -> Result<MgmtTree, ParseError> {
        if root.name != "MgmtTree" {
            let kind = ErrorKind::NotMgmtTree(root.qualified_name());
            return Err(self.error(kind, &root, ""));
        }
        self.attrs(&root, &[]);
        self.no_text(&root);
        let mut tree = MgmtTree {
            namespace_declarations: root.namespace_declarations.clone(),
            attributes: root.attributes.clone(),
            ..MgmtTree::default()
        };
        for c in root.elements() {
            match vocabulary(c) {
                Vocabulary::Oma("VerDTD") => {
                    tree.ver_dtd = Some(self.leaf_text(c, &[]).trim().to_string())
                }
                Vocabulary::Oma("Man") => tree.man = Some(self.leaf_text(c, &[])),
                Vocabulary::Oma("Mod") => tree.model = Some(self.leaf_text(c, &[])),
                Vocabulary::Oma("Node") => tree.nodes.push(self.node(c, "")?),
                Vocabulary::Msft("Diagnostics") if tree.diagnostics.is_none() => {
                    tree.diagnostics = Some(c.clone())
                }
                _ => tree.extra.push(c.clone()),
            }
        }
        Ok(tree)
    }

    fn node(&mut self, e: &Element, parent_path: &str) -> Result<Node, ParseError> {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut node = Node {
            offset: e.offset,
            ..Node::default()
        };
        let mut name = None;
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Oma("NodeName") if name.is_none() => {
                    name = Some(self.leaf_text(c, &[]).trim().to_string())
                }
                Vocabulary::Oma("Path") if node.path.is_none() => {
                    node.path = Some(self.leaf_text(c, &[]).trim().to_string())
                }
                _ => {}
            }
        }
        let Some(name) = name else {
            return Err(self.error(
                ErrorKind::Missing {
                    parent: "Node",
                    child: "NodeName",
                },
                e,
                parent_path,
            ));
        };
        node.name = name;
        let base = node.path.as_deref().unwrap_or(parent_path);
        let shown = if node.name.is_empty() {
            "<dynamic>"
        } else {
            &node.name
        };
        let path = format!("{base}/{shown}");
        let mut props = None;
        let mut seen_name = false;
        let mut seen_path = false;
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Oma("NodeName") if !seen_name => seen_name = true,
                Vocabulary::Oma("Path") if !seen_path => seen_path = true,
                Vocabulary::Oma("DFProperties") if props.is_none() => {
                    props = Some(self.properties(c))
                }
                Vocabulary::Oma("Node") => node.children.push(self.node(c, &path)?),
                _ => node.extra.push(c.clone()),
            }
        }
        node.properties = props.ok_or_else(|| {
            self.error(
                ErrorKind::Missing {
                    parent: "Node",
                    child: "DFProperties",
                },
                e,
                &path,
            )
        })?;
        Ok(node)
    }

    fn properties(&mut self, e: &Element) -> DfProperties {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut p = DfProperties::default();
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Oma("AccessType") if p.access_type.is_empty() => {
                    p.access_type = self.access_type(c)
                }
                Vocabulary::Oma("DefaultValue") if p.default_value.is_none() => {
                    p.default_value = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Oma("Description") if p.description.is_none() => {
                    p.description = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Oma("DFFormat") if p.format.is_none() => {
                    p.format = self.code(c).map(Format::parse)
                }
                Vocabulary::Oma("Occurrence") if p.occurrence.is_none() => {
                    p.occurrence = self.code(c).map(Occurrence::from_name);
                    p.occurrence_n = c
                        .elements()
                        .next()
                        .filter(|o| {
                            matches!(o.name.as_str(), "ZeroOrN" | "OneOrN") && o.has_content()
                        })
                        .map(|o| o.text().trim().to_string());
                }
                Vocabulary::Oma("Scope") if p.scope.is_none() => {
                    p.scope = self.code(c).map(Scope::from_name)
                }
                Vocabulary::Oma("DFTitle") if p.title.is_none() => {
                    p.title = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Oma("DFType") if p.df_type.is_none() => {
                    p.df_type = Some(self.df_type(c))
                }
                Vocabulary::Oma("CaseSense") if p.case_sense.is_none() => {
                    p.case_sense = self.code(c).map(CaseSense::from_name)
                }
                Vocabulary::Msft("Applicability") if p.applicability.is_none() => {
                    p.applicability = Some(self.applicability(c))
                }
                Vocabulary::Msft("AllowedValues") if p.allowed_values.is_none() => {
                    p.allowed_values = Some(self.allowed_values(c))
                }
                Vocabulary::Msft("DynamicNodeNaming") if p.dynamic_node_naming.is_none() => {
                    p.dynamic_node_naming = Some(self.dynamic_naming(c))
                }
                Vocabulary::Msft("ConflictResolution") if p.conflict_resolution.is_none() => {
                    p.conflict_resolution =
                        Some(ConflictResolution::from_name(self.leaf_text(c, &[]).trim()))
                }
                Vocabulary::Msft("DependencyBehavior") if p.dependency_behavior.is_none() => {
                    p.dependency_behavior = Some(self.dependency_behavior(c))
                }
                Vocabulary::Msft("GpMapping") if p.gp_mapping.is_none() => {
                    p.gp_mapping = Some(self.gp_mapping(c))
                }
                Vocabulary::Msft("Deprecated") if p.deprecated.is_none() => {
                    p.deprecated = Some(self.deprecated(c))
                }
                Vocabulary::Msft("AtomicRequired") if !p.atomic_required => {
                    self.attrs(c, &[]);
                    if c.has_content() {
                        self.warn(c, "content of MSFT:AtomicRequired not kept".into());
                    }
                    p.atomic_required = true;
                }
                Vocabulary::Msft("RebootBehavior") if p.reboot_behavior.is_none() => {
                    p.reboot_behavior =
                        Some(RebootBehavior::from_name(self.leaf_text(c, &[]).trim()))
                }
                _ => p.extra.push(c.clone()),
            }
        }
        p
    }

    fn access_type(&mut self, e: &Element) -> Vec<AccessKind> {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut ops = Vec::new();
        for op in e.elements() {
            self.attrs(op, &[]);
            ops.push(AccessKind::from_name(&op.name));
        }
        ops
    }

    fn gp_mapping(&mut self, e: &Element) -> GpMapping {
        self.no_text(e);
        let mut g = GpMapping::default();
        for a in &e.attributes {
            match (a.prefix.as_deref(), a.name.as_str()) {
                (None, "GpEnglishName") => g.english_name = Some(a.value.clone()),
                (None, "GpAreaPath") => g.area_path = Some(a.value.clone()),
                (None, "GpElement") => g.element = Some(a.value.clone()),
                _ => g.other.push(a.clone()),
            }
        }
        for x in e.elements() {
            self.warn(x, "child of MSFT:GpMapping not kept".into());
        }
        g
    }

    fn deprecated(&mut self, e: &Element) -> Deprecated {
        let _ = self.leaf_text(e, &["OsBuildDeprecated"]);
        if e.has_content() {
            self.warn(e, "content of MSFT:Deprecated not kept".into());
        }
        Deprecated {
            os_build_deprecated: attribute(e, "OsBuildDeprecated").map(str::to_string),
        }
    }

    fn df_type(&mut self, e: &Element) -> DfType {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut t = DfType::default();
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Oma("MIME") if t.mime.is_none() => {
                    t.mime = Some(self.leaf_text(c, &[]).trim().to_string())
                }
                Vocabulary::Oma("DDFName") if t.ddf_name.is_none() => {
                    t.ddf_name = Some(self.leaf_text(c, &[]).trim().to_string())
                }
                _ => self.warn(c, format!("<{}> in <DFType> not kept", c.qualified_name())),
            }
        }
        t
    }

    fn applicability(&mut self, e: &Element) -> Applicability {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut a = Applicability::default();
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Msft("OsBuildVersion") if a.os_build_version.is_none() => {
                    a.os_build_version = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("CspVersion") if a.csp_version.is_none() => {
                    a.csp_version = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("EditionAllowList") if a.edition_allow_list.is_none() => {
                    a.edition_allow_list = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("RequiresAzureAd") if !a.requires_azure_ad => {
                    let _ = self.leaf_text(c, &[]);
                    a.requires_azure_ad = true
                }
                _ => a.extra.push(c.clone()),
            }
        }
        a
    }

    fn enum_value(&mut self, e: &Element) -> EnumValue {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut v = EnumValue::default();
        let mut seen_value = false;
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Msft("Value") if !seen_value => {
                    seen_value = true;
                    v.value = self.leaf_text(c, &[]);
                }
                Vocabulary::Msft("ValueDescription") if v.description.is_none() => {
                    v.description = Some(self.leaf_text(c, &[]))
                }
                _ => self.warn(c, format!("<{}> in MSFT:Enum not kept", c.qualified_name())),
            }
        }
        v
    }

    fn allowed_values(&mut self, e: &Element) -> AllowedValues {
        self.attrs(e, &["ValueType"]);
        self.no_text(e);
        let mut a = AllowedValues {
            value_type: ValueType::from_name(attribute(e, "ValueType").unwrap_or("").trim()),
            enums: Vec::new(),
            value: None,
            value_description: None,
            admx_backed: None,
            list_delimiter: None,
            extra: Vec::new(),
        };
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Msft("Enum") => a.enums.push(self.enum_value(c)),
                Vocabulary::Msft("Value") if a.value.is_none() => {
                    a.value = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("ValueDescription") if a.value_description.is_none() => {
                    a.value_description = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("AdmxBacked") if a.admx_backed.is_none() => {
                    a.admx_backed = Some(self.admx(c))
                }
                Vocabulary::Msft("List") if a.list_delimiter.is_none() => {
                    let _ = self.leaf_text(c, &["Delimiter"]);
                    a.list_delimiter =
                        Some(attribute(c, "Delimiter").unwrap_or_default().to_string());
                }
                _ => a.extra.push(c.clone()),
            }
        }
        a
    }

    fn admx(&mut self, c: &Element) -> AdmxBacked {
        let _ = self.leaf_text(c, &["Area", "Name", "File"]);
        AdmxBacked {
            area: attribute(c, "Area").unwrap_or_default().to_string(),
            name: attribute(c, "Name").unwrap_or_default().to_string(),
            file: attribute(c, "File").unwrap_or_default().to_string(),
        }
    }

    fn dynamic_naming(&mut self, e: &Element) -> DynamicNodeNaming {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut children = e.elements();
        let first = children.next();
        for extra in children {
            self.warn(
                extra,
                "second child of MSFT:DynamicNodeNaming not kept".into(),
            );
        }
        match first.map(|c| (vocabulary(c), c)) {
            Some((Vocabulary::Msft("UniqueName"), c)) => {
                DynamicNodeNaming::UniqueName(self.leaf_text(c, &[]))
            }
            Some((Vocabulary::Msft("ClientInventory"), c)) => {
                DynamicNodeNaming::ClientInventory(self.leaf_text(c, &[]))
            }
            Some((Vocabulary::Msft("ServerGeneratedUniqueIdentifier"), c)) => {
                let _ = self.leaf_text(c, &[]);
                DynamicNodeNaming::ServerGeneratedUniqueIdentifier
            }
            Some((_, c)) => DynamicNodeNaming::Other(Some(c.clone())),
            None => DynamicNodeNaming::Other(None),
        }
    }

    fn dependency_value(&mut self, e: &Element) -> DependencyValue {
        self.attrs(e, &["ValueType"]);
        self.no_text(e);
        let mut v = DependencyValue {
            value_type: ValueType::from_name(attribute(e, "ValueType").unwrap_or("").trim()),
            value: None,
            enums: Vec::new(),
            admx_backed: None,
            extra: Vec::new(),
        };
        for c in e.elements() {
            match vocabulary(c) {
                Vocabulary::Msft("Value") if v.value.is_none() => {
                    v.value = Some(self.leaf_text(c, &[]))
                }
                Vocabulary::Msft("Enum") => v.enums.push(self.enum_value(c)),
                Vocabulary::Msft("AdmxBacked") if v.admx_backed.is_none() => {
                    v.admx_backed = Some(self.admx(c))
                }
                _ => v.extra.push(c.clone()),
            }
        }
        v
    }

    fn dependency_behavior(&mut self, e: &Element) -> DependencyBehavior {
        self.attrs(e, &[]);
        self.no_text(e);
        let mut b = DependencyBehavior::default();
        for g in e.elements() {
            if !matches!(vocabulary(g), Vocabulary::Msft("DependencyGroup")) {
                b.extra.push(g.clone());
                continue;
            }
            self.attrs(g, &["FriendlyId"]);
            self.no_text(g);
            let mut group = DependencyGroup {
                friendly_id: attribute(g, "FriendlyId").map(str::to_string),
                ..DependencyGroup::default()
            };
            for c in g.elements() {
                match vocabulary(c) {
                    Vocabulary::Msft("Dependency") => {
                        self.attrs(c, &["Type"]);
                        self.no_text(c);
                        let mut d = Dependency {
                            kind: attribute(c, "Type").map(str::to_string),
                            ..Dependency::default()
                        };
                        for x in c.elements() {
                            match vocabulary(x) {
                                Vocabulary::Msft("DependencyUri") if d.uri.is_none() => {
                                    d.uri = Some(self.leaf_text(x, &[]).trim().to_string())
                                }
                                Vocabulary::Msft("DependencyAllowedValue")
                                    if d.allowed_value.is_none() =>
                                {
                                    d.allowed_value = Some(self.dependency_value(x))
                                }
                                _ => d.extra.push(x.clone()),
                            }
                        }
                        group.dependencies.push(d);
                    }
                    Vocabulary::Msft("DependencyChangedAllowedValues")
                        if group.changed_allowed_values.is_none() =>
                    {
                        group.changed_allowed_values = Some(self.dependency_value(c))
                    }
                    _ => group.extra.push(c.clone()),
                }
            }
            b.groups.push(group);
        }
        b
    }
}
