//! Every vendored DDF file parses, and the totals of nodes, properties and allowed values in
//! the model match (a) an independent byte-level count of the tags computed here and (b) the
//! totals table of the upstream README (`crates/csp/ddf/UPSTREAM-NOTES.md`, "Counts").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use winmdm_ddf::{
    DynamicNodeNaming, InvalidBytes, MgmtTree, ParseOptions, ValueType, parse, parse_with,
};

fn ddf_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../csp/ddf")
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")))
        .collect();
    v.sort();
    v
}

type Counts = BTreeMap<String, usize>;

fn bump(c: &mut Counts, key: String) {
    *c.entry(key).or_default() += 1;
}

/// Counts from the parsed model.
fn model_counts(tree: &MgmtTree, c: &mut Counts) {
    if tree.diagnostics.is_some() {
        bump(c, "Diagnostics".into());
    }
    tree.walk(&mut |n| {
        bump(c, "Node".into());
        let p = &n.properties;
        if let Some(f) = &p.format {
            bump(c, format!("DFFormat/{f}"));
        }
        for a in &p.access_type {
            bump(c, format!("AccessType/{a}"));
        }
        if let Some(o) = &p.occurrence {
            bump(c, format!("Occurrence/{o}"));
        }
        if let Some(s) = &p.scope {
            bump(c, format!("Scope/{s}"));
        }
        if let Some(s) = &p.case_sense {
            bump(c, format!("CaseSense/{s}"));
        }
        if let Some(t) = &p.df_type {
            if t.mime.is_some() {
                bump(c, "DFType/MIME".into());
            }
            if t.ddf_name.is_some() {
                bump(c, "DFType/DDFName".into());
            }
        }
        if p.default_value.is_some() {
            bump(c, "DefaultValue".into());
        }
        if p.description.is_some() {
            bump(c, "Description".into());
        }
        if p.title.is_some() {
            bump(c, "DFTitle".into());
        }
        if let Some(a) = &p.applicability {
            for (k, v) in [
                ("OsBuildVersion", &a.os_build_version),
                ("CspVersion", &a.csp_version),
                ("EditionAllowList", &a.edition_allow_list),
            ] {
                if v.is_some() {
                    bump(c, format!("Applicability/{k}"));
                }
            }
        }
        if let Some(a) = &p.allowed_values {
            bump(c, format!("AllowedValues/{}", a.value_type));
            for _ in &a.enums {
                bump(c, "Enum".into());
            }
            if a.admx_backed.is_some() {
                bump(c, "AdmxBacked".into());
            }
            if let Some(d) = &a.list_delimiter {
                bump(c, format!("List/{d}"));
            }
        }
        if let Some(r) = &p.conflict_resolution {
            bump(c, format!("ConflictResolution/{r}"));
        }
        if let Some(d) = &p.dynamic_node_naming {
            let k = match d {
                DynamicNodeNaming::UniqueName(_) => "UniqueName",
                DynamicNodeNaming::ClientInventory(_) => "ClientInventory",
                DynamicNodeNaming::ServerGeneratedUniqueIdentifier => {
                    "ServerGeneratedUniqueIdentifier"
                }
                _ => "other",
            };
            bump(c, format!("DynamicNodeNaming/{k}"));
        }
        if let Some(d) = &p.dependency_behavior {
            bump(c, "DependencyBehavior".into());
            for g in &d.groups {
                bump(c, "DependencyGroup".into());
                assert!(g.extra.is_empty());
                let mut values: Vec<_> = g.changed_allowed_values.iter().collect();
                for d in &g.dependencies {
                    bump(c, "Dependency".into());
                    assert!(d.extra.is_empty());
                    values.extend(d.allowed_value.iter());
                }
                for v in values {
                    assert!(v.extra.is_empty(), "{:?}", v.extra);
                    if v.admx_backed.is_some() {
                        bump(c, "AdmxBacked".into());
                    }
                    for _ in &v.enums {
                        bump(c, "Enum".into());
                    }
                }
            }
        }
        if p.gp_mapping.is_some() {
            bump(c, "GpMapping".into());
        }
        if p.deprecated.is_some() {
            bump(c, "Deprecated".into());
        }
        if p.atomic_required {
            bump(c, "AtomicRequired".into());
        }
        if let Some(r) = &p.reboot_behavior {
            bump(c, format!("RebootBehavior/{r}"));
        }
    });
}

/// Positions of `<tag` followed by `>`, `/` or whitespace (so `<Node` does not match `<NodeName`).
fn tag_starts<'a>(text: &'a str, tag: &'a str) -> impl Iterator<Item = usize> + 'a {
    let open = format!("<{tag}");
    text.match_indices(open.as_str().to_owned().leak() as &str)
        .filter_map(move |(i, m)| {
            let next = text[i + m.len()..].chars().next()?;
            (next == '>' || next == '/' || next.is_whitespace()).then_some(i)
        })
}

/// Names of the start tags directly inside each `<container>...</container>` (or none for
/// `<container/>`).
fn child_tags(text: &str, container: &str, c: &mut Counts) {
    let close = format!("</{container}>");
    for start in tag_starts(text, container) {
        let head_end = start + text[start..].find('>').unwrap();
        if text[..head_end].ends_with('/') {
            continue;
        }
        let body_end = head_end + text[head_end..].find(close.as_str()).unwrap();
        let body = &text[head_end + 1..body_end];
        for piece in body.split('<').skip(1) {
            if piece.starts_with('/') || piece.starts_with('!') {
                continue;
            }
            let name: String = piece
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == ':')
                .collect();
            bump(c, format!("{container}/{name}"));
        }
    }
}

/// The attribute `attr` of each `<tag ...>`.
fn attr_values(text: &str, tag: &str, attr: &str, key: &str, c: &mut Counts) {
    for start in tag_starts(text, tag) {
        let head = &text[start..start + text[start..].find('>').unwrap()];
        let needle = format!(" {attr}=\"");
        if let Some(at) = head.find(needle.as_str()) {
            let v = &head[at + needle.len()..];
            bump(c, format!("{key}/{}", &v[..v.find('"').unwrap()]));
        }
    }
}

/// The trimmed text of each `<tag>text</tag>`.
fn texts(text: &str, tag: &str, key: &str, c: &mut Counts) {
    let close = format!("</{tag}>");
    for start in tag_starts(text, tag) {
        let head_end = start + text[start..].find('>').unwrap();
        if text[..head_end].ends_with('/') {
            continue;
        }
        let end = head_end + text[head_end..].find(close.as_str()).unwrap();
        bump(c, format!("{key}/{}", text[head_end + 1..end].trim()));
    }
}

fn byte_counts(bytes: &[u8], c: &mut Counts) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    for (tag, key) in [
        ("Node", "Node"),
        ("DefaultValue", "DefaultValue"),
        ("Description", "Description"),
        ("DFTitle", "DFTitle"),
        ("MSFT:Enum", "Enum"),
        ("MSFT:AdmxBacked", "AdmxBacked"),
        ("MSFT:DependencyBehavior", "DependencyBehavior"),
        ("MSFT:DependencyGroup", "DependencyGroup"),
        ("MSFT:Dependency", "Dependency"),
        ("MSFT:GpMapping", "GpMapping"),
        ("MSFT:Deprecated", "Deprecated"),
        ("MSFT:AtomicRequired", "AtomicRequired"),
        ("MSFT:Diagnostics", "Diagnostics"),
        ("MSFT:OsBuildVersion", "Applicability/OsBuildVersion"),
        ("MSFT:CspVersion", "Applicability/CspVersion"),
        ("MSFT:EditionAllowList", "Applicability/EditionAllowList"),
    ] {
        let n = tag_starts(text, tag).count();
        if n > 0 {
            *c.entry(key.to_string()).or_default() += n;
        }
    }
    for container in [
        "DFFormat",
        "AccessType",
        "Occurrence",
        "Scope",
        "CaseSense",
        "DFType",
        "MSFT:DynamicNodeNaming",
    ] {
        child_tags(text, container, c);
    }
    attr_values(text, "MSFT:AllowedValues", "ValueType", "AllowedValues", c);
    attr_values(text, "MSFT:List", "Delimiter", "List", c);
    texts(text, "MSFT:ConflictResolution", "ConflictResolution", c);
    texts(text, "MSFT:RebootBehavior", "RebootBehavior", c);
}

/// Renames the byte-level keys to the model's keys.
fn normalize(mut c: Counts) -> Counts {
    let mut out = Counts::new();
    for (k, v) in std::mem::take(&mut c) {
        let k = k
            .replace("MSFT:DynamicNodeNaming/MSFT:", "DynamicNodeNaming/")
            .replace("DynamicNodeNaming/MSFT:", "DynamicNodeNaming/");
        *out.entry(k).or_default() += v;
    }
    out
}

fn v2_files() -> Vec<PathBuf> {
    let mut files = xml_files(&ddf_dir());
    files.extend(xml_files(&ddf_dir().join("policy-areas")));
    files
}

#[test]
fn all_v2_files_parse_losslessly_and_match_byte_counts_and_readme_totals() {
    let files = v2_files();
    assert_eq!(files.len(), 51 + 259);
    let mut model = Counts::new();
    let mut bytes_c = Counts::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let tree = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            tree.warnings.is_empty(),
            "{}: {:?}",
            f.display(),
            tree.warnings
        );
        // Nothing unknown in the published v2 files: every element has a home in the model.
        assert!(tree.extra.is_empty(), "{}", f.display());
        tree.walk(&mut |n| {
            assert!(n.extra.is_empty(), "{}: {:?}", f.display(), n.extra);
            assert!(
                n.properties.extra.is_empty(),
                "{}: {:?}",
                f.display(),
                n.properties.extra
            );
            if let Some(a) = &n.properties.allowed_values {
                assert!(a.extra.is_empty(), "{}", f.display());
                assert!(
                    !matches!(a.value_type, ValueType::Other(_)),
                    "{}",
                    f.display()
                );
            }
        });
        model_counts(&tree, &mut model);
        byte_counts(&bytes, &mut bytes_c);
    }
    let bytes_c = normalize(bytes_c);
    for (k, v) in &bytes_c {
        assert_eq!(model.get(k), Some(v), "{k}: model vs byte-level count");
    }
    for (k, v) in &model {
        // Every model key the byte counter also measures must match.
        if let Some(b) = bytes_c.get(k) {
            assert_eq!(b, v, "{k}");
        }
    }

    // The totals table of the upstream README ("Counts (51 CSP files + 259 policy-area files)").
    let readme: &[(&str, usize)] = &[
        ("Node", 5800),
        ("DFFormat/chr", 3424),
        ("DFFormat/int", 1281),
        ("DFFormat/node", 801),
        ("DFFormat/bool", 207),
        ("DFFormat/null", 30),
        ("DFFormat/b64", 28),
        ("DFFormat/xml", 21),
        ("DFFormat/time", 5),
        ("DFFormat/bin", 3),
        ("AccessType/Get", 5745),
        ("AccessType/Replace", 4511),
        ("AccessType/Add", 4441),
        ("AccessType/Delete", 4362),
        ("AccessType/Exec", 63),
        ("Occurrence/ZeroOrOne", 4046),
        ("Occurrence/One", 1635),
        ("Occurrence/ZeroOrMore", 102),
        ("Occurrence/OneOrMore", 15),
        ("Occurrence/OneOrN", 1),
        ("Occurrence/ZeroOrN", 1),
        ("Scope/Dynamic", 5015),
        ("Scope/Permanent", 785),
        ("CaseSense/CIS", 148),
        ("CaseSense/CS", 3),
        ("DFType/MIME", 5365),
        ("DFType/DDFName", 436),
        ("AllowedValues/ADMX", 2490),
        ("AllowedValues/ENUM", 1101),
        ("AllowedValues/None", 478),
        ("AllowedValues/Range", 209),
        ("AllowedValues/RegEx", 32),
        ("AllowedValues/XSD", 18),
        ("AllowedValues/Flag", 11),
        ("AllowedValues/JSON", 1),
        ("AllowedValues/SDDL", 1),
        ("Applicability/OsBuildVersion", 3985),
        ("Applicability/CspVersion", 3982),
        ("Applicability/EditionAllowList", 3637),
        ("ConflictResolution/LastWrite", 3083),
        ("ConflictResolution/LowestValueMostSecure", 319),
        ("ConflictResolution/HighestValueMostSecure", 176),
        ("ConflictResolution/LowestValueMostSecureZeroHasNoLimits", 9),
        (
            "ConflictResolution/HighestValueMostSecureZeroHasNoLimits",
            2,
        ),
        ("List/;", 88),
        ("List/0xF000", 50),
        ("List/,", 26),
        ("List/|", 14),
        ("List/\\xF000", 12),
        ("List/", 1),
        ("GpMapping", 817),
        ("AdmxBacked", 2492),
        ("DependencyBehavior", 116),
        ("Deprecated", 29),
        ("AtomicRequired", 20),
        ("RebootBehavior/Automatic", 0),
        ("Diagnostics", 49),
        ("DynamicNodeNaming/UniqueName", 63),
        ("DynamicNodeNaming/ClientInventory", 33),
        ("DynamicNodeNaming/ServerGeneratedUniqueIdentifier", 28),
    ];
    let mut reboot = 0;
    for (k, v) in &model {
        if k.starts_with("RebootBehavior/") {
            reboot += v;
        }
    }
    assert_eq!(reboot, 18, "RebootBehavior total");
    for (k, want) in readme {
        if k.starts_with("RebootBehavior/") {
            continue;
        }
        assert_eq!(
            model.get(*k).copied().unwrap_or(0),
            *want,
            "README total for {k}"
        );
    }
    let allowed: usize = model
        .iter()
        .filter(|(k, _)| k.starts_with("AllowedValues/"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(allowed, 4341);
}

#[test]
fn all_legacy_v1_files_parse_and_match_byte_counts() {
    let files = xml_files(&ddf_dir().join("legacy-v1"));
    // The upstream README says 35; the folder holds 36 `.xml`/`.XML` files.
    assert_eq!(files.len(), 36);
    let mut model = Counts::new();
    let mut bytes_c = Counts::new();
    let lenient = ParseOptions::default().with_invalid_bytes(InvalidBytes::Windows1252);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let tree = parse_with(&bytes, &lenient).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            tree.used_fallback_decoding,
            f.ends_with("PolicyDDF_all.xml"),
            "{}",
            f.display()
        );
        model_counts(&tree, &mut model);
        byte_counts(&bytes, &mut bytes_c);
    }
    let bytes_c = normalize(bytes_c);
    for (k, v) in &bytes_c {
        assert_eq!(model.get(k), Some(v), "{k}: model vs byte-level count");
    }
    assert_eq!(model["Node"], 1368);
    assert_eq!(model["DFFormat/float"], 3);
}

#[test]
fn legacy_policy_file_with_windows_1252_byte_is_reported_with_position() {
    let path = ddf_dir().join("legacy-v1/PolicyDDF_all.xml");
    let bytes = std::fs::read(&path).unwrap();
    let err = parse(&bytes).unwrap_err();
    assert_eq!(
        err.kind,
        winmdm_ddf::ErrorKind::Xml(winmdm_ddf::winmdm_xml::ErrorKind::InvalidEncoding {
            encoding: "UTF-8".into(),
            byte: 0x92
        })
    );
    assert_eq!((err.position.line, err.position.column), (3662, 96));
    assert_eq!(
        err.to_string(),
        "byte 0x92 is not valid UTF-8 at line 3662, column 96 (byte 109497)"
    );

    let tree = parse_with(
        &bytes,
        &ParseOptions::default().with_invalid_bytes(InvalidBytes::Windows1252),
    )
    .unwrap();
    let mut found = false;
    tree.walk(&mut |n| {
        if let Some(d) = &n.properties.description {
            found |= d.contains("that can\u{2019}t be used");
        }
    });
    assert!(found, "0x92 read as U+2019");
}

#[test]
fn policy_xml_with_bom_parses() {
    let bytes = std::fs::read(ddf_dir().join("Policy.xml")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let tree = parse(&bytes).unwrap();
    assert_eq!(tree.node_count(), 23);
    assert_eq!(tree.nodes[0].path.as_deref(), Some("./User/Vendor/MSFT"));
}

#[test]
fn accounts_quirks_are_kept() {
    let tree = parse(&std::fs::read(ddf_dir().join("Accounts.xml")).unwrap()).unwrap();
    let mut empty_access = 0;
    let mut both_types = 0;
    tree.walk(&mut |n| {
        empty_access += usize::from(n.properties.access_type.is_empty());
        if let Some(t) = &n.properties.df_type {
            both_types += usize::from(t.mime.is_some() && t.ddf_name.is_some());
        }
    });
    assert!(empty_access > 0);
    assert_eq!(both_types, 1);
}
