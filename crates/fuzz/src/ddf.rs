//! Fuzz target bodies for winmdm-ddf and the winmdm-csp catalog.
//!
//! - `ddf_parse`: any bytes through the DDF parser (default options, the Windows-1252 fallback,
//!   tight limits); must never panic, errors carry a position inside the input; whatever
//!   parses must flatten into a node table whose every node the catalog finds again by its
//!   path template.
//! - `ddf_lookup`: any text as a LocURI against a catalog of a small real DDF (DMClient's
//!   Provider subtree shape) and through `CspPath::try_from`; never panics, and what
//!   `CspPath` accepts the catalog can at least split.
//! - `ddf_lint`: any bytes as a profile (or SyncML message) through the linter against a catalog
//!   of the DMClient shape above, the Update policy area and the ADMX AppCompat area; never
//!   panics and every finding points inside the input.

use winmdm_csp::{Catalog, CspPath, NodeTable};
use winmdm_ddf::{InvalidBytes, Limits, ParseOptions, parse_with};

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] =
    &[("ddf_parse", ddf_parse), ("ddf_lookup", ddf_lookup)];

/// `ddf_parse` body.
pub fn ddf_parse(data: &[u8]) {
    let options = [
        ParseOptions::default(),
        ParseOptions::default().with_invalid_bytes(InvalidBytes::Windows1252),
        ParseOptions::default()
            .with_invalid_bytes(InvalidBytes::Lossy)
            .with_limits(
                Limits::default()
                    .with_max_depth(8)
                    .with_max_elements(200)
                    .with_max_attributes(4),
            ),
    ];
    for o in &options {
        match parse_with(data, o) {
            Ok(tree) => {
                let table = NodeTable::from_tree(&tree, "fuzz.xml");
                let mut c = Catalog::new();
                let bad = c.add_table(table.clone());
                for i in 0..table.nodes.len() {
                    let path = table.path_template(i).replace(['{', '}'], "");
                    if bad.is_empty() && CspPath::try_from(path.as_str()).is_ok() {
                        let _ = c.lookup(&path);
                    }
                }
            }
            Err(e) => {
                // Positions refer to the decoded text, which can be longer than the input
                // (UTF-16, Windows-1252 expansion); bound it generously.
                assert!(e.position.offset <= data.len() * 3 + 4, "{e}");
                assert!(e.position.line >= 1 && e.position.column >= 1, "{e}");
            }
        }
    }
}

const DDF: &str = r#"<MgmtTree xmlns:MSFT="http://schemas.microsoft.com/MobileDevice/DM">
<Node><NodeName>DMClient</NodeName><Path>./Vendor/MSFT</Path>
<DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat></DFProperties>
<Node><NodeName>Provider</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat></DFProperties>
<Node><NodeName/><DFProperties><AccessType><Add/><Get/></AccessType><DFFormat><node/></DFFormat><DFTitle>ProviderID</DFTitle></DFProperties>
<Node><NodeName>EntDMID</NodeName><DFProperties><AccessType><Get/><Replace/></AccessType><DFFormat><chr/></DFFormat></DFProperties></Node>
</Node></Node></Node>
<Node><NodeName>DMClient</NodeName><Path>./User/Vendor/MSFT</Path>
<DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat></DFProperties></Node>
</MgmtTree>"#;

/// `ddf_lookup` body.
pub fn ddf_lookup(data: &[u8]) {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let catalog = CATALOG.get_or_init(|| {
        let mut c = Catalog::new();
        let tree = winmdm_ddf::parse(DDF.as_bytes()).expect("embedded DDF parses");
        assert!(c.add_ddf(&tree, "embedded").is_empty());
        c
    });
    let text = String::from_utf8_lossy(data);
    let r = catalog.lookup(&text);
    if let Ok(m) = &r {
        let _ = catalog.children(m);
        let _ = catalog.applicability(m);
        let _ = m.template();
    }
    if let Ok(p) = CspPath::try_from(text.as_ref()) {
        let _ = p.child("x");
        assert!(
            !matches!(
                catalog.lookup(p.as_str()),
                Err(winmdm_csp::LookupError::Malformed(_))
            ) || p.as_str() == ".",
            "{p}"
        );
    }
}

/// `ddf_lint` body.
pub fn ddf_lint(data: &[u8]) {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let catalog = CATALOG.get_or_init(|| {
        let mut c = Catalog::new();
        for (bytes, name) in [
            (DDF.as_bytes(), "embedded"),
            (
                &include_bytes!("../../csp/ddf/policy-areas/Update_AreaDDF.xml")[..],
                "Update_AreaDDF.xml",
            ),
            (
                &include_bytes!("../../csp/ddf/policy-areas/ADMX_AppCompat_AreaDDF.xml")[..],
                "ADMX_AppCompat_AreaDDF.xml",
            ),
        ] {
            let tree = winmdm_ddf::parse(bytes).expect("vendored DDF parses");
            assert!(c.add_ddf(&tree, name).is_empty());
        }
        c
    });
    let options = winmdm_csp::LintOptions::default()
        .with_os_build("10.0.19045")
        .with_edition(0x30);
    let findings =
        winmdm_csp::lint_profile(catalog, data, &options).expect("the catalog has tables");
    for f in findings {
        assert!(f.offset <= data.len() * 3 + 4, "{f}");
        assert!(f.line >= 1 && f.column >= 1, "{f}");
    }
}
