//! The runtime catalog over every vendored DDF loaded at run time (no generated code needed).

use std::path::PathBuf;

use winmdm_csp::{
    Access, Allowed, Catalog, CspPath, CspPathError, Format, LookupError, NodeTable, Scope,
};

fn ddf_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ddf")
}

fn load_all() -> Catalog {
    static ALL: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    ALL.get_or_init(load).clone()
}

fn load() -> Catalog {
    let mut c = Catalog::new();
    for sub in ["", "policy-areas"] {
        let mut files: Vec<_> = std::fs::read_dir(ddf_dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let tree = winmdm_ddf::parse(&std::fs::read(&f).unwrap()).unwrap();
            let bad = c.add_ddf(&tree, &f.file_name().unwrap().to_string_lossy());
            assert!(bad.is_empty(), "{}: {bad:?}", f.display());
        }
    }
    c
}

#[test]
fn every_node_of_every_table_is_found_by_its_template() {
    let c = load_all();
    let mut n = 0;
    for t in c.tables() {
        for i in 0..t.nodes.len() {
            let path = t
                .path_template(i)
                .replace("{}", "x")
                .replace(['{', '}'], "");
            let m = c.lookup(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // Same definition unless a later table redefines the path (policy areas over the
            // generic Policy skeleton are different paths, so this is exact).
            assert_eq!(m.def, &t.nodes[i], "{path}");
            n += 1;
        }
    }
    assert_eq!(n, 5800);
}

#[test]
fn device_and_vendor_forms_are_the_same_node_user_is_not() {
    let c = load_all();
    let a = c
        .lookup("./Device/Vendor/MSFT/DeviceStatus/OS/Edition")
        .unwrap();
    let b = c.lookup("./Vendor/MSFT/DeviceStatus/OS/Edition").unwrap();
    assert_eq!(a.def, b.def);
    assert_eq!(a.scope, Scope::Device);
    let bitlocker = c
        .lookup("./Vendor/MSFT/BitLocker/RequireDeviceEncryption")
        .unwrap();
    assert_eq!(bitlocker.def.format, Format::Int);
    assert!(
        c.lookup("./User/Vendor/MSFT/DeviceStatus/OS/Edition")
            .is_err()
    );
    let u = c
        .lookup("./User/Vendor/MSFT/Policy/Config/Education/DefaultPrinterName")
        .unwrap();
    assert_eq!(u.scope, Scope::User);
    assert!(
        c.lookup("./Device/Vendor/MSFT/Policy/Config/Education/DefaultPrinterName")
            .is_err_or_dynamic()
    );
}

trait DynCheck {
    fn is_err_or_dynamic(&self) -> bool;
}
impl DynCheck for Result<winmdm_csp::Match<'_>, LookupError> {
    fn is_err_or_dynamic(&self) -> bool {
        match self {
            Err(_) => true,
            Ok(m) => !m.bindings.is_empty(),
        }
    }
}

#[test]
fn dynamic_segments_case_and_query() {
    let c = load_all();
    let m = c
        .lookup("./Vendor/MSFT/DMClient/Provider/MS%20DM%20Server/EntDMID")
        .unwrap();
    assert_eq!(
        m.template(),
        "./Device/Vendor/MSFT/DMClient/Provider/{ProviderID}/EntDMID"
    );
    assert_eq!(m.bindings.len(), 1);
    assert_eq!(m.bindings[0].title.as_deref(), Some("ProviderID"));
    assert_eq!(m.segments[m.bindings[0].segment], "MS%20DM%20Server");
    assert!(!m.case_insensitive);

    let m = c
        .lookup("./device/vendor/msft/policy/config/update/activehoursstart?list=Struct")
        .unwrap();
    assert!(m.case_insensitive);
    assert_eq!(
        m.template(),
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart"
    );
    assert_eq!(m.def.allowed, Allowed::Range(vec![(0, 23)].into()));
    assert!(m.def.access.contains(Access::REPLACE.union(Access::ADD)));
    // A named area wins over Policy.xml's dynamic {AreaName}.
    assert!(m.bindings.is_empty());
    // Unknown area: the generic Policy skeleton answers through its dynamic nodes.
    let g = c
        .lookup("./Device/Vendor/MSFT/Policy/Config/NoSuchArea")
        .unwrap();
    assert_eq!(g.bindings[0].title.as_deref(), Some("AreaName"));
}

#[test]
fn typos_are_not_found_and_say_how_far_the_path_exists() {
    let c = load_all();
    match c.lookup("./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryptoin") {
        Err(LookupError::NotFound { known, .. }) => {
            assert_eq!(known, "./Device/Vendor/MSFT/BitLocker")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.lookup(""), Err(LookupError::Malformed(_))));
    // Found by the ddf_lookup fuzz target: a scope root alone is well-formed, just not a node.
    assert!(matches!(
        c.lookup("./Device"),
        Err(LookupError::NotFound { .. })
    ));
    assert!(matches!(
        c.lookup("./user/"),
        Err(LookupError::NotFound { .. })
    ));
    assert!(matches!(
        c.lookup("./Vendor//MSFT"),
        Err(LookupError::Malformed(_))
    ));
    assert!(matches!(
        c.lookup("/Vendor/MSFT"),
        Err(LookupError::Malformed(_))
    ));
}

#[test]
fn applicability_is_inherited_and_evaluated() {
    let c = load_all();
    let m = c
        .lookup("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart")
        .unwrap();
    let a = c.applicability(&m);
    assert_eq!(a.os_build.as_deref(), Some("10.0.14393"));
    assert!(a.allows_os_build("10.0.19045.3803"));
    assert!(!a.allows_os_build("10.0.10586"));
    assert!(a.allows_edition(0x30));
    assert!(!a.allows_edition(0x2));
    // Servicing list: 10.0.19043.1202 is the first 21H1 build with the node.
    let s = winmdm_csp::Applicability {
        os_build: Some("10.0.22000, 10.0.19043.1202, 10.0.19042.1202".into()),
        ..Default::default()
    };
    assert!(s.allows_os_build("10.0.19043.1202"));
    assert!(!s.allows_os_build("10.0.19043.1100"));
    assert!(s.allows_os_build("10.0.22621"));
    assert!(!s.allows_os_build("10.0.18363"));
}

#[test]
fn policy_result_maps_to_the_config_definition() {
    let c = load_all();
    let r = c
        .lookup("./Device/Vendor/MSFT/Policy/Result/Update/ActiveHoursStart")
        .unwrap();
    assert_eq!(
        r.template(),
        "./Device/Vendor/MSFT/Policy/Result/{AreaName}/{PolicyName}"
    );
    assert_eq!(r.def.access, Access::GET);
    let config = c.policy_config_of_result(&r).unwrap();
    assert_eq!(
        config.template(),
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart"
    );
    assert_eq!(config.def.format, Format::Int);
    let unknown = c
        .lookup("./Device/Vendor/MSFT/Policy/Result/Update/Nope")
        .unwrap();
    assert!(c.policy_config_of_result(&unknown).is_none());
    let config_itself = c
        .lookup("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart")
        .unwrap();
    assert!(c.policy_config_of_result(&config_itself).is_none());
}

#[test]
fn children_span_tables() {
    let c = load_all();
    let m = c.lookup("./Device/Vendor/MSFT/Policy/Config").unwrap();
    let kids = c.children(&m);
    assert!(kids.contains(&"Update".to_string()));
    assert!(kids.contains(&"ADMX_AppCompat".to_string()));
    assert_eq!(kids.last().map(String::as_str), Some("{AreaName}"));
}

#[test]
fn user_loaded_ddf_replaces_a_definition() {
    let mut c = load_all();
    let ddf = br#"<MgmtTree><Node><NodeName>Reboot</NodeName><Path>./Device/Vendor/MSFT</Path>
      <DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat></DFProperties>
      <Node><NodeName>RebootNow</NodeName><DFProperties><AccessType><Exec/></AccessType>
      <DFFormat><chr/></DFFormat><Description>mine</Description></DFProperties></Node></Node></MgmtTree>"#;
    c.add_ddf(&winmdm_ddf::parse(ddf).unwrap(), "mine.xml");
    let m = c.lookup("./Device/Vendor/MSFT/Reboot/RebootNow").unwrap();
    assert_eq!(m.def.description.as_deref(), Some("mine"));
    assert_eq!(m.table.source, "mine.xml");
    // Untouched siblings still come from the vendored file.
    assert!(c.lookup("./Device/Vendor/MSFT/Reboot/Schedule").is_ok());
}

#[test]
fn csp_path_rules() {
    for ok in [
        "./Vendor/MSFT/A",
        "Vendor/MSFT/A",
        "./DevDetail/Ext/Microsoft/DeviceName",
        "./A/%7Bguid%7D/b.c",
    ] {
        assert!(CspPath::try_from(ok).is_ok(), "{ok}");
    }
    for (bad, err) in [
        ("", CspPathError::Empty),
        ("/Vendor", CspPathError::Absolute),
        ("./a//b", CspPathError::EmptySegment(2)),
        ("./a/", CspPathError::EmptySegment(2)),
        ("./a/../b", CspPathError::DotSegment("..".into())),
        ("./a/./b", CspPathError::DotSegment(".".into())),
        ("./a/*", CspPathError::Wildcard),
        ("./a b", CspPathError::BadChar(' ')),
        ("./a?list=Struct", CspPathError::BadChar('?')),
        (".", CspPathError::EmptySegment(1)),
    ] {
        assert_eq!(CspPath::try_from(bad), Err(err), "{bad}");
    }
    let p = CspPath::try_from("./Vendor/MSFT").unwrap();
    assert_eq!(p.child("a/b"), Err(CspPathError::BadChar('/')));
    assert_eq!(p.child(""), Err(CspPathError::Empty));
}

#[test]
fn generated_tables_equal_tables_built_at_run_time() {
    // Only the tables of the enabled features are compiled in; each must equal the table
    // built from its DDF at run time (the generator and the runtime share `from_tree`).
    for t in winmdm_csp::generated::tables() {
        let file = ddf_dir().join(t.source.as_ref());
        let tree = winmdm_ddf::parse(&std::fs::read(&file).unwrap()).unwrap();
        let runtime = NodeTable::from_tree(&tree, &t.source);
        assert_eq!(*t, runtime, "{}", t.source);
    }
}
