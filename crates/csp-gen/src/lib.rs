//! Generator of the typed CSP modules in `winmdm-csp` (`crates/csp/src/generated/`).
//!
//! For every vendored DDF (`crates/csp/ddf/*.xml` and `policy-areas/*.xml`) it writes one
//! module with the node table (data, used by the runtime catalog) and thin typed path builders
//! over it. It also writes the `[features]` block of `crates/csp/Cargo.toml` (between the
//! `# BEGIN generated features` / `# END generated features` markers).
//!
//! ```no_run
//! let root = std::path::Path::new(".");
//! let out = winmdm_csp_gen::generate(&root.join("crates/csp/ddf")).unwrap();
//! let stale = winmdm_csp_gen::check(root, &out).unwrap();
//! assert!(stale.is_empty(), "run `cargo run -p winmdm-csp-gen`");
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use winmdm_csp::{Access, Allowed, CspPath, DynamicNaming, Format, NodeDef, NodeTable};

/// Where generated modules go, relative to the repository root.
pub const GENERATED_DIR: &str = "crates/csp/src/generated";
/// The manifest whose `[features]` block is generated.
pub const CSP_MANIFEST: &str = "crates/csp/Cargo.toml";
/// The default feature set of `winmdm-csp`: the CSPs a Windows MDM uses daily, so that
/// `Catalog::builtin()` and the linter work out of the box. The Policy CSP skeleton and its
/// native areas are in; the ADMX-backed areas (`policy-admx`) are not (less common, and a
/// third of the Policy code); every other CSP is one feature away, or `all`.
/// [`generate`] fails if a name here is not a feature.
pub const DEFAULT_FEATURES: &[&str] = &[
    "bitlocker",
    "clientcertificateinstall",
    "defender",
    "devdetail",
    "devinfo",
    "dmclient",
    "enterprisedesktopappmanagement",
    "firewall",
    "laps",
    "policy",
    "policy-areas",
    "reboot",
    "remotewipe",
    "rootcatrustedcertificates",
    "update",
    "vpnv2",
    "wifi",
];
const BEGIN: &str = "# BEGIN generated features (winmdm-csp-gen)";
const END: &str = "# END generated features";

/// Everything the generator produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Files relative to the repository root, with their content.
    pub files: Vec<(PathBuf, String)>,
    /// The `[features]` block for `crates/csp/Cargo.toml` (markers included).
    pub features: String,
}

struct Source {
    module: String,
    feature: String,
    file: String,
    table: NodeTable,
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "union",
];

/// `ActiveHoursStart` -> `active_hours_start`; `EntDMID` -> `ent_dmid`.
pub fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out: String = out.trim_matches('_').to_string();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    if out.is_empty() {
        out.push('x');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "n_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// `active_hours_start` style -> `ActiveHoursStart`.
pub fn camel(s: &str) -> String {
    let mut out = String::new();
    for part in snake(s).split('_').filter(|p| !p.is_empty()) {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            out.push(f.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, 'N');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

fn unique(name: String, used: &mut HashSet<String>) -> String {
    if used.insert(name.clone()) {
        return name;
    }
    for i in 2.. {
        let n = format!(
            "{name}{}{i}",
            if name.ends_with(|c: char| c.is_ascii_digit()) {
                "_"
            } else {
                ""
            }
        );
        if used.insert(n.clone()) {
            return n;
        }
    }
    unreachable!("an unused name exists")
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn b(s: &str) -> String {
    format!("B({})", lit(s))
}

fn opt_b(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("Some({})", b(s)),
        None => "None".into(),
    }
}

/// Doc text made safe for rustdoc: no indented code blocks, fences, HTML tags or link
/// brackets.
fn doc_text(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let line = line.trim();
        if !out.is_empty() {
            out.push('\n');
        }
        let mut first = true;
        for word in line.split(' ') {
            if !first {
                out.push(' ');
            }
            first = false;
            // Bare URLs become autolinks (rustdoc warns about bare URLs).
            if let Some(at) = word.find("http://").or_else(|| word.find("https://")) {
                let (before, url) = word.split_at(at);
                let end = url
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '[' | ']')
                    })
                    .unwrap_or(url.len());
                let (url, rest) = url.split_at(end);
                let trimmed = url.trim_end_matches(['.', ',', ')', ';', ':']);
                let tail = &url[trimmed.len()..];
                escape_md(before, &mut out);
                out.push('<');
                out.push_str(trimmed);
                out.push('>');
                escape_md(tail, &mut out);
                escape_md(rest, &mut out);
            } else {
                escape_md(word, &mut out);
            }
        }
    }
    out
}

fn escape_md(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '`' => out.push('\''),
            '*' => out.push_str("\\*"),
            '_' => out.push_str("\\_"),
            '#' => out.push_str("\\#"),
            '|' => out.push_str("\\|"),
            _ => out.push(c),
        }
    }
}

fn doc_attr(indent: &str, text: &str) -> String {
    format!("{indent}#[doc = {}]\n", lit(text))
}

fn read_sources(ddf_dir: &Path) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    for (sub, areas) in [("", false), ("policy-areas", true)] {
        let dir = ddf_dir.join(sub);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let tree = winmdm_ddf::parse(&bytes).map_err(|e| format!("{}: {e}", f.display()))?;
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let file = if sub.is_empty() {
                format!("{stem}.xml")
            } else {
                format!("{sub}/{stem}.xml")
            };
            let table = NodeTable::from_tree(&tree, &file);
            let (module, feature) = if areas {
                let area = stem.trim_end_matches("_AreaDDF");
                let feature = if area.starts_with("ADMX_") {
                    "policy-admx"
                } else {
                    "policy-areas"
                };
                (snake(&area.to_ascii_lowercase()), feature.to_string())
            } else {
                let m = snake(&stem.to_ascii_lowercase());
                (m.clone(), m.replace('_', "-"))
            };
            out.push(Source {
                module,
                feature,
                file,
                table,
            });
        }
    }
    Ok(out)
}

/// Generates every module from the DDF files in `ddf_dir` (`crates/csp/ddf`).
pub fn generate(ddf_dir: &Path) -> Result<Output, String> {
    let sources = read_sources(ddf_dir)?;
    let mut files = Vec::new();
    let dir = PathBuf::from(GENERATED_DIR);
    let mut top = String::new();
    top.push_str("// @generated by winmdm-csp-gen from crates/csp/ddf. Do not edit.\n");
    top.push_str(
        "//! Generated CSP modules: one per vendored DDF, each behind its cargo feature.\n",
    );
    top.push_str("//!\n//! | module | feature | DDF | nodes |\n//! |---|---|---|---|\n");
    let mut features: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut csp_mods = String::new();
    let mut area_mods = String::new();
    let mut tables = String::new();
    let mut modules = HashSet::new();
    for s in &sources {
        let is_area = s.file.starts_with("policy-areas/");
        if !modules.insert((is_area, s.module.clone())) {
            return Err(format!("two DDF files map to module {}", s.module));
        }
        let code = module_code(s)?;
        let path = if is_area {
            dir.join("policy_areas").join(format!("{}.rs", s.module))
        } else {
            dir.join(format!("{}.rs", s.module))
        };
        files.push((path, code));
        let _ = writeln!(
            top,
            "//! | `{}{}` | `{}` | `{}` | {} |",
            if is_area { "policy_areas::" } else { "" },
            s.module,
            s.feature,
            s.file,
            s.table.nodes.len()
        );
        let modpath = if is_area {
            format!("policy_areas::{}", s.module)
        } else {
            s.module.clone()
        };
        let _ = writeln!(
            tables,
            "    #[cfg(feature = {})]\n    v.push(&{modpath}::TABLE);",
            lit(&s.feature)
        );
        let decl = format!(
            "#[cfg(feature = {})]\n#[doc = {}]\npub mod {};\n",
            lit(&s.feature),
            lit(&format!(
                "`{}`: {} ({} nodes).",
                s.file,
                s.table.csp,
                s.table.nodes.len()
            )),
            s.module
        );
        if is_area {
            area_mods.push_str(&decl);
        } else {
            csp_mods.push_str(&decl);
        }
        features.entry(s.feature.clone()).or_default();
    }
    top.push('\n');
    top.push_str(&csp_mods);
    top.push_str("#[cfg(any(feature = \"policy-areas\", feature = \"policy-admx\"))]\npub mod policy_areas;\n\n");
    top.push_str(
        "/// The node tables of every CSP compiled in (see [`crate::Catalog::builtin`]).\n",
    );
    top.push_str("#[allow(unused_mut, clippy::vec_init_then_push)]\npub fn tables() -> Vec<&'static crate::NodeTable> {\n    let mut v: Vec<&'static crate::NodeTable> = Vec::new();\n");
    top.push_str(&tables);
    top.push_str("    v\n}\n");
    files.push((dir.join("mod.rs"), top));
    let mut areas = String::new();
    areas.push_str(
        "// @generated by winmdm-csp-gen from crates/csp/ddf/policy-areas. Do not edit.\n",
    );
    areas.push_str("//! Policy CSP areas (`./Device/Vendor/MSFT/Policy/Config/<Area>`, `./User/...`): one module per\n");
    areas.push_str("//! area DDF; feature `policy-areas` for the native areas, `policy-admx` for the ADMX-backed ones.\n\n");
    areas.push_str(&area_mods);
    files.push((dir.join("policy_areas/mod.rs"), areas));

    let mut f = String::new();
    f.push_str(BEGIN);
    f.push('\n');
    f.push_str("[features]\n");
    if let Some(unknown) = DEFAULT_FEATURES
        .iter()
        .find(|d| !features.contains_key(**d))
    {
        return Err(format!(
            "DEFAULT_FEATURES names {unknown:?}, which no vendored DDF provides"
        ));
    }
    let defaults: Vec<String> = DEFAULT_FEATURES.iter().map(|n| lit(n)).collect();
    let _ = writeln!(
        f,
        "# The CSPs a Windows MDM uses daily (DEFAULT_FEATURES in crates/csp-gen/src/lib.rs).\ndefault = [{}]",
        defaults.join(", ")
    );
    let names: Vec<&String> = features.keys().collect();
    let all: Vec<String> = names.iter().map(|n| lit(n)).collect();
    let _ = writeln!(
        f,
        "# Every CSP and policy area.\nall = [{}]",
        all.join(", ")
    );
    for n in names {
        let _ = writeln!(f, "{n} = []");
    }
    f.push_str(END);
    f.push('\n');
    Ok(Output { files, features: f })
}

struct Tree<'a> {
    table: &'a NodeTable,
    children: Vec<Vec<usize>>,
}

impl Tree<'_> {
    fn interior(&self, i: usize) -> bool {
        self.table.nodes[i].format == Format::Node || !self.children[i].is_empty()
    }
}

struct ModGen<'a> {
    tree: Tree<'a>,
    out: String,
    values: String,
    statics: String,
    struct_names: HashSet<String>,
    value_names: HashSet<String>,
    value_types: HashMap<String, String>,
    static_count: usize,
}

fn root_name(def: &NodeDef) -> &'static str {
    let p = def.root_path.as_deref().unwrap_or("").to_ascii_lowercase();
    if p.starts_with("./user") {
        "User"
    } else if p.starts_with("./device") || p.starts_with("./vendor") {
        "Device"
    } else {
        "Root"
    }
}

fn module_code(s: &Source) -> Result<String, String> {
    let table = &s.table;
    let n = table.nodes.len();
    let mut children = vec![Vec::new(); n];
    for (i, d) in table.nodes.iter().enumerate() {
        if let Some(p) = d.parent {
            children[p as usize].push(i);
        }
    }
    let mut g = ModGen {
        tree: Tree { table, children },
        out: String::new(),
        values: String::new(),
        statics: String::new(),
        struct_names: HashSet::new(),
        value_names: HashSet::new(),
        value_types: HashMap::new(),
        static_count: 0,
    };
    let mut head = String::new();
    let _ = writeln!(
        head,
        "// @generated by winmdm-csp-gen from crates/csp/ddf/{}. Do not edit.",
        s.file
    );
    let roots: Vec<usize> = (0..n)
        .filter(|&i| table.nodes[i].parent.is_none())
        .collect();
    let root_paths: Vec<String> = roots
        .iter()
        .map(|&i| format!("`{}`", table.path_template(i)))
        .collect();
    let _ = writeln!(
        head,
        "//! {} ({}): typed paths and node table.",
        doc_text(&table.csp),
        root_paths.join(", ")
    );
    head.push_str("//!\n//! Each builder method documents the node's format, access, allowed values, default,\n");
    head.push_str(
        "//! applicability and description; the same data is in `TABLE` for run-time use.\n",
    );
    head.push_str("#![allow(clippy::all, unused_imports)]\n\n");
    head.push_str("use std::borrow::Cow::Borrowed as B;\n\n");
    head.push_str("use crate::{Access, Allowed, Applicability, CspPath, CspPathError, DynamicNaming, EnumEntry, Format, Leaf, NodeDef, NodeTable};\n\n");

    // Builders.
    let mut root_fns = HashSet::new();
    for &r in &roots {
        let def = &table.nodes[r];
        let base = root_name(def);
        let sname = unique(base.to_string(), &mut g.struct_names);
        let fname = unique(snake(&sname), &mut root_fns);
        let path = table.path_template(r);
        if def.is_dynamic() {
            return Err(format!("{}: top-level node without a name", s.file));
        }
        CspPath::try_from(path.as_str())
            .map_err(|e| format!("{}: root path {path}: {e}", s.file))?;
        let doc = g.node_doc(r);
        g.out.push_str(&doc_attr("", &doc));
        let _ = writeln!(
            g.out,
            "pub fn {fname}() -> {sname} {{\n    {sname}(CspPath::from_static({}))\n}}\n",
            lit(&path)
        );
        g.node_struct(r, &sname, &s.file)?;
    }

    // RegEx patterns as constants (leaves and dynamic node names).
    for i in 0..n {
        if let Allowed::RegEx(re) = &table.nodes[i].allowed {
            g.pattern_const(i, re);
        }
    }

    // Table.
    let mut nodes = String::new();
    let _ = writeln!(
        nodes,
        "/// The node table of this DDF (used by [`crate::Catalog`])."
    );
    let _ = writeln!(
        nodes,
        "pub static TABLE: NodeTable = NodeTable {{ csp: {}, source: {}, nodes: B(&NODES) }};\n",
        b(&table.csp),
        b(&table.source)
    );
    let _ = writeln!(nodes, "static NODES: [NodeDef; {n}] = [");
    for i in 0..n {
        let d = g.def_literal(i);
        let _ = writeln!(nodes, "    {d},");
    }
    nodes.push_str("];\n");

    let mut code = head;
    code.push_str(&g.out);
    if !g.values.is_empty() {
        code.push_str(
            "/// Value types of the leaves (ENUM and Flag allowed values).\npub mod values {\n",
        );
        code.push_str(&g.values);
        code.push_str("}\n\n");
    }
    code.push_str(&nodes);
    code.push_str(&g.statics);
    Ok(code)
}

impl ModGen<'_> {
    fn node_doc(&self, i: usize) -> String {
        let t = self.tree.table;
        let d = &t.nodes[i];
        let mut s = format!("`{}`", t.path_template(i));
        s.push_str("\n\n");
        let mut facts = vec![
            format!("Format `{}`", d.format.as_str()),
            format!("access: {}", access_text(d.access)),
        ];
        if d.allowed != Allowed::Unspecified {
            facts.push(format!("allowed: {}", allowed_text(&d.allowed)));
        }
        if let Some(v) = &d.default {
            facts.push(format!("default `{}`", v.replace('`', "'")));
        }
        if let Some(v) = &d.scope {
            facts.push(format!("scope {v}"));
        }
        if let Some(v) = &d.list_delimiter {
            facts.push(format!("list delimited by `{v}`"));
        }
        if d.atomic_required {
            facts.push("must be set inside Atomic".into());
        }
        if let Some(r) = &d.reboot {
            facts.push(format!("reboot: {r}"));
        }
        if let Some(dep) = &d.deprecated {
            facts.push(if dep.is_empty() {
                "deprecated".into()
            } else {
                format!("deprecated in {dep}")
            });
        }
        s.push_str(&facts.join("; "));
        s.push('.');
        let a = &d.applicability;
        if a.os_build.is_some() || a.csp_version.is_some() {
            s.push_str("\n\nApplicability:");
            if let Some(v) = &a.os_build {
                let _ = write!(s, " OS build {}", doc_text(v));
            }
            if let Some(v) = &a.csp_version {
                let _ = write!(s, ", CSP version {}", doc_text(v));
            }
            s.push('.');
        }
        if let Some(desc) = &d.description {
            let desc = doc_text(desc);
            if !desc.trim().is_empty() {
                s.push_str("\n\n");
                s.push_str(&desc);
            }
        }
        s
    }

    fn node_struct(&mut self, i: usize, sname: &str, file: &str) -> Result<(), String> {
        let doc = format!(
            "Builder for `{}` (see the method returning it for the node's documentation).",
            self.tree.table.path_template(i)
        );
        self.out.push_str(&format!(
            "crate::csp_node!(\n{}    {sname} = {i}\n);\n\n",
            doc_attr("    ", &doc)
        ));
        let kids = self.tree.children[i].clone();
        if kids.is_empty() {
            return Ok(());
        }
        let mut methods = String::new();
        let mut used: HashSet<String> = ["path", "def"].iter().map(|s| s.to_string()).collect();
        let mut sub = Vec::new();
        for c in kids {
            let d = &self.tree.table.nodes[c];
            let base = if d.is_dynamic() {
                d.title
                    .as_deref()
                    .map(snake)
                    .unwrap_or_else(|| "instance".into())
            } else {
                snake(&d.name)
            };
            let mname = unique(base, &mut used);
            if !d.is_dynamic() {
                winmdm_csp::validate_segment(&d.name)
                    .map_err(|e| format!("{file}: node name {:?}: {e}", d.name))?;
            }
            let doc = self.node_doc(c);
            methods.push_str(&doc_attr("    ", &doc));
            if self.tree.interior(c) {
                let part = if d.is_dynamic() {
                    camel(d.title.as_deref().unwrap_or("Instance"))
                } else {
                    camel(&d.name)
                };
                let cname = unique(format!("{sname}{part}"), &mut self.struct_names);
                if d.is_dynamic() {
                    let _ = writeln!(
                        methods,
                        "    pub fn {mname}(&self, name: &str) -> Result<{cname}, CspPathError> {{\n        Ok({cname}(self.0.child(name)?))\n    }}"
                    );
                } else {
                    let _ = writeln!(
                        methods,
                        "    pub fn {mname}(&self) -> {cname} {{\n        {cname}(self.0.child_unchecked({}))\n    }}",
                        lit(&d.name)
                    );
                }
                sub.push((c, cname));
            } else {
                let ty = self.value_type(c);
                if d.is_dynamic() {
                    let _ = writeln!(
                        methods,
                        "    pub fn {mname}(&self, name: &str) -> Result<Leaf<{ty}>, CspPathError> {{\n        Ok(Leaf::new(self.0.child(name)?, &NODES[{c}]))\n    }}"
                    );
                } else {
                    let _ = writeln!(
                        methods,
                        "    pub fn {mname}(&self) -> Leaf<{ty}> {{\n        Leaf::new(self.0.child_unchecked({}), &NODES[{c}])\n    }}",
                        lit(&d.name)
                    );
                }
            }
        }
        let _ = writeln!(self.out, "impl {sname} {{\n{methods}}}\n");
        for (c, cname) in sub {
            self.node_struct(c, &cname, file)?;
        }
        Ok(())
    }

    /// Declares the RegEx of node `i` as a `&str` constant in `values`.
    fn pattern_const(&mut self, i: usize, re: &str) {
        let d = &self.tree.table.nodes[i];
        let base = if d.is_dynamic() {
            snake(d.title.as_deref().unwrap_or("instance"))
        } else {
            snake(&d.name)
        };
        let cname = unique(
            format!(
                "{}_PATTERN",
                base.trim_end_matches('_').to_ascii_uppercase()
            ),
            &mut self.value_names,
        );
        let what = if d.is_dynamic() {
            "the instance names of"
        } else {
            "the value of"
        };
        let doc = format!(
            "RegEx {what} `{}` must match (`MSFT:AllowedValues ValueType=\"RegEx\"`).",
            self.tree.table.path_template(i)
        );
        let _ = writeln!(
            self.values,
            "{}    pub const {cname}: &str = {};\n",
            doc_attr("    ", &doc),
            lit(re)
        );
    }

    /// The Rust type of a leaf's value, declaring ENUM / Flag types in `values`.
    fn value_type(&mut self, i: usize) -> String {
        let d = &self.tree.table.nodes[i];
        if d.format == Format::Null {
            return "crate::NoValue".into();
        }
        if d.format == Format::Bool {
            return "bool".into();
        }
        match &d.allowed {
            Allowed::Enum(entries) if !entries.is_empty() && d.list_delimiter.is_none() => {
                return self
                    .enum_type(d, entries, false)
                    .unwrap_or_else(|| "String".into());
            }
            Allowed::Flag(entries) if !entries.is_empty() => {
                if let Some(t) = self.enum_type(d, entries, true) {
                    return t;
                }
            }
            Allowed::Range(r) if r.len() == 1 && d.format == Format::Int => {
                let (lo, hi) = r[0];
                return format!("crate::Ranged<{lo}, {hi}>");
            }
            Allowed::Admx { .. } => return "crate::AdmxValue".into(),
            _ => {}
        }
        if d.format == Format::Int {
            "i64".into()
        } else {
            "String".into()
        }
    }

    fn enum_type(
        &mut self,
        d: &NodeDef,
        entries: &[winmdm_csp::EnumEntry],
        flags: bool,
    ) -> Option<String> {
        let mut seen = HashSet::new();
        let entries: Vec<_> = entries
            .iter()
            .filter(|e| seen.insert(e.value.trim().to_string()))
            .collect();
        let mut variants = Vec::new();
        let mut used = HashSet::new();
        for (k, e) in entries.iter().enumerate() {
            let v = e.value.trim();
            let name = if flags {
                let bits = parse_bits(v)?;
                let _ = bits;
                format!("V{}", v.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
            } else if let Some(rest) = v
                .strip_prefix('-')
                .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
            {
                format!("Minus{rest}")
            } else if v.starts_with(|c: char| c.is_ascii_digit()) {
                format!("V{}", v.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
            } else {
                let mut n = String::new();
                let mut up = true;
                for c in v.chars() {
                    if c.is_ascii_alphanumeric() {
                        n.push(if up { c.to_ascii_uppercase() } else { c });
                        up = false;
                    } else {
                        up = true;
                    }
                }
                if n.is_empty() || KEYWORDS.contains(&n.as_str()) {
                    format!("V{k}")
                } else {
                    n
                }
            };
            let name = if used.contains(&name) {
                format!("{name}_{k}")
            } else {
                name
            };
            used.insert(name.clone());
            variants.push((
                name,
                v.to_string(),
                e.description.as_deref().map(str::to_string),
            ));
        }
        let key = format!("{}|{flags}|{:?}", d.name, variants);
        if let Some(t) = self.value_types.get(&key) {
            return Some(format!("values::{t}"));
        }
        let base = if d.is_dynamic() {
            camel(d.title.as_deref().unwrap_or("Instance"))
        } else {
            camel(&d.name)
        };
        let tname = unique(base, &mut self.value_names);
        self.value_types.insert(key, tname.clone());
        let mut doc = format!("Allowed values of `{}`", d.name);
        if flags {
            doc.push_str(" (bit flags, combine with `|`)");
        }
        doc.push('.');
        let mut s = String::new();
        let _ = writeln!(
            s,
            "    crate::{}!(",
            if flags { "csp_flags" } else { "csp_enum" }
        );
        s.push_str(&doc_attr("    ", &doc));
        let _ = writeln!(s, "    {tname} {{");
        for (name, v, desc) in &variants {
            let mut vd = format!("`{}`", v.replace('`', "'"));
            if let Some(desc) = desc {
                vd.push_str(": ");
                vd.push_str(&doc_text(desc));
            }
            s.push_str(&doc_attr("        ", &vd));
            if flags {
                let _ = writeln!(s, "        {name} = {},", parse_bits(v)?);
            } else {
                let _ = writeln!(s, "        {name} = {},", lit(v));
            }
        }
        s.push_str("    });\n\n");
        self.values.push_str(&s);
        Some(format!("values::{tname}"))
    }

    fn def_literal(&mut self, i: usize) -> String {
        let d = &self.tree.table.nodes[i];
        let mut f = vec![format!("name: {}", b(&d.name))];
        if let Some(p) = d.parent {
            f.push(format!("parent: Some({p})"));
        }
        if d.root_path.is_some() {
            f.push(format!("root_path: {}", opt_b(d.root_path.as_deref())));
        }
        if d.format != Format::Node {
            f.push(format!("format: {}", format_expr(&d.format)));
        }
        if d.access != Access::NONE {
            f.push(format!("access: Access({})", d.access.0));
        }
        for (k, v) in [
            ("occurrence", &d.occurrence),
            ("scope", &d.scope),
            ("case_sense", &d.case_sense),
            ("mime", &d.mime),
            ("default", &d.default),
            ("title", &d.title),
            ("description", &d.description),
            ("list_delimiter", &d.list_delimiter),
            ("conflict_resolution", &d.conflict_resolution),
            ("reboot", &d.reboot),
            ("deprecated", &d.deprecated),
        ] {
            if v.is_some() {
                f.push(format!("{k}: {}", opt_b(v.as_deref())));
            }
        }
        if d.allowed != Allowed::Unspecified {
            let a = self.allowed_expr(&d.allowed.clone());
            f.push(format!("allowed: {a}"));
        }
        let a = &d.applicability;
        if !a.is_empty() {
            f.push(format!(
                "applicability: Applicability {{ os_build: {}, csp_version: {}, editions: {}, requires_azure_ad: {} }}",
                opt_b(a.os_build.as_deref()),
                opt_b(a.csp_version.as_deref()),
                opt_b(a.editions.as_deref()),
                a.requires_azure_ad
            ));
        }
        if let Some(n) = &d.dynamic_naming {
            f.push(format!(
                "dynamic_naming: Some({})",
                match n {
                    DynamicNaming::UniqueName(s) => format!("DynamicNaming::UniqueName({})", b(s)),
                    DynamicNaming::ClientInventory(s) =>
                        format!("DynamicNaming::ClientInventory({})", b(s)),
                    DynamicNaming::ServerGeneratedUniqueIdentifier =>
                        "DynamicNaming::ServerGeneratedUniqueIdentifier".into(),
                    _ => "DynamicNaming::Other".into(),
                }
            ));
        }
        if d.atomic_required {
            f.push("atomic_required: true".into());
        }
        format!("NodeDef {{ {}, ..NodeDef::EMPTY }}", f.join(", "))
    }

    fn allowed_expr(&mut self, a: &Allowed) -> String {
        match a {
            Allowed::Unspecified => "Allowed::Unspecified".into(),
            Allowed::None => "Allowed::None".into(),
            Allowed::Enum(e) | Allowed::Flag(e) => {
                let name = format!("E{}", self.static_count);
                self.static_count += 1;
                let items: Vec<String> = e
                    .iter()
                    .map(|x| {
                        format!(
                            "EnumEntry {{ value: {}, description: {} }}",
                            b(&x.value),
                            opt_b(x.description.as_deref())
                        )
                    })
                    .collect();
                let _ = writeln!(
                    self.statics,
                    "static {name}: [EnumEntry; {}] = [{}];",
                    items.len(),
                    items.join(", ")
                );
                let kind = if matches!(a, Allowed::Enum(_)) {
                    "Enum"
                } else {
                    "Flag"
                };
                format!("Allowed::{kind}(B(&{name}))")
            }
            Allowed::Range(r) => {
                let items: Vec<String> = r.iter().map(|(lo, hi)| format!("({lo}, {hi})")).collect();
                format!("Allowed::Range(B(&[{}]))", items.join(", "))
            }
            Allowed::RegEx(s) => format!("Allowed::RegEx({})", b(s)),
            Allowed::Xsd(s) => format!("Allowed::Xsd({})", b(s)),
            Allowed::Json(s) => format!("Allowed::Json({})", b(s)),
            Allowed::Sddl => "Allowed::Sddl".into(),
            Allowed::Admx { area, name, file } => {
                format!(
                    "Allowed::Admx {{ area: {}, name: {}, file: {} }}",
                    b(area),
                    b(name),
                    b(file)
                )
            }
            Allowed::Other { value_type, value } => {
                format!(
                    "Allowed::Other {{ value_type: {}, value: {} }}",
                    b(value_type),
                    opt_b(value.as_deref())
                )
            }
            _ => "Allowed::Unspecified".into(),
        }
    }
}

fn parse_bits(v: &str) -> Option<u64> {
    let v = v.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn format_expr(f: &Format) -> String {
    match f {
        Format::Node => "Format::Node".into(),
        Format::Chr => "Format::Chr".into(),
        Format::Int => "Format::Int".into(),
        Format::Bool => "Format::Bool".into(),
        Format::B64 => "Format::B64".into(),
        Format::Bin => "Format::Bin".into(),
        Format::Xml => "Format::Xml".into(),
        Format::Null => "Format::Null".into(),
        Format::Time => "Format::Time".into(),
        Format::Date => "Format::Date".into(),
        Format::Float => "Format::Float".into(),
        other => format!("Format::Other({})", b(other.as_str())),
    }
}

fn access_text(a: Access) -> String {
    let v: Vec<_> = a.names().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn allowed_text(a: &Allowed) -> String {
    match a {
        Allowed::Enum(e) | Allowed::Flag(e) => {
            let vals: Vec<String> = e
                .iter()
                .take(12)
                .map(|x| format!("`{}`", x.value.replace('`', "'")))
                .collect();
            let more = if e.len() > 12 {
                format!(", ... ({} values)", e.len())
            } else {
                String::new()
            };
            format!("{} {}{more}", a.value_type(), vals.join(", "))
        }
        Allowed::Range(r) => {
            let v: Vec<String> = r
                .iter()
                .map(|(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}..={hi}")
                    }
                })
                .collect();
            format!("Range {}", v.join(", "))
        }
        Allowed::Admx { name, file, .. } => format!("ADMX policy `{name}` in `{file}`"),
        Allowed::RegEx(r) => format!("RegEx `{}`", r.replace('`', "'")),
        other => other.value_type().to_string(),
    }
}

fn replace_block(manifest: &str, block: &str) -> Option<String> {
    let start = manifest.find(BEGIN)?;
    let end = manifest[start..].find(END)? + start;
    let end = end
        + manifest[end..]
            .find('\n')
            .map_or(manifest.len() - end, |i| i + 1);
    Some(format!(
        "{}{}{}",
        &manifest[..start],
        block,
        &manifest[end..]
    ))
}

fn existing_rs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(existing_rs(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Compares `out` with the files under `root`; returns what differs (empty: up to date).
pub fn check(root: &Path, out: &Output) -> std::io::Result<Vec<String>> {
    let mut diffs = Vec::new();
    let mut wanted = HashSet::new();
    for (rel, content) in &out.files {
        let p = root.join(rel);
        wanted.insert(p.clone());
        match std::fs::read_to_string(&p) {
            Ok(s) if s == *content => {}
            Ok(_) => diffs.push(format!("{} differs", rel.display())),
            Err(_) => diffs.push(format!("{} is missing", rel.display())),
        }
    }
    for p in existing_rs(&root.join(GENERATED_DIR)) {
        if !wanted.contains(&p) {
            diffs.push(format!("{} is stale", p.display()));
        }
    }
    let manifest = std::fs::read_to_string(root.join(CSP_MANIFEST))?;
    match replace_block(&manifest, &out.features) {
        Some(m) if m == manifest => {}
        Some(_) => diffs.push(format!("{CSP_MANIFEST} [features] block differs")),
        None => diffs.push(format!(
            "{CSP_MANIFEST} lacks the generated features markers"
        )),
    }
    Ok(diffs)
}

/// Writes `out` under `root`, removes stale generated files and updates the features block.
/// Returns the files written.
pub fn write(root: &Path, out: &Output) -> std::io::Result<Vec<String>> {
    let mut written = Vec::new();
    let mut wanted = HashSet::new();
    for (rel, content) in &out.files {
        let p = root.join(rel);
        wanted.insert(p.clone());
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read_to_string(&p).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(&p, content)?;
            written.push(rel.display().to_string());
        }
    }
    for p in existing_rs(&root.join(GENERATED_DIR)) {
        if !wanted.contains(&p) {
            std::fs::remove_file(&p)?;
        }
    }
    let mpath = root.join(CSP_MANIFEST);
    let manifest = std::fs::read_to_string(&mpath)?;
    let updated = replace_block(&manifest, &out.features)
        .ok_or_else(|| std::io::Error::other(format!("{CSP_MANIFEST} lacks the line {BEGIN:?}")))?;
    if updated != manifest {
        std::fs::write(&mpath, updated)?;
        written.push(CSP_MANIFEST.to_string());
    }
    Ok(written)
}
