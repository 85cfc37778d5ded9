//! The generated typed builders (needs the features named on each test; `--features all`
//! runs them all).
#![allow(unused_imports)]

use winmdm_csp::{AdmxValue, CspValue, Format, ValueError};

#[cfg(feature = "policy-areas")]
#[test]
fn policy_area_leaf_with_range() {
    use winmdm_csp::generated::policy_areas::update;
    let leaf = update::device().active_hours_start();
    assert_eq!(
        leaf.path().as_str(),
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart"
    );
    assert_eq!(*leaf.format(), Format::Int);
    assert_eq!(leaf.def().default.as_deref(), Some("8"));
    let v = leaf.parse("9").unwrap();
    assert_eq!(leaf.data(&v), "9");
    assert_eq!(
        leaf.parse("24"),
        Err(ValueError::OutOfRange {
            value: 24,
            min: 0,
            max: 23
        })
    );
    assert!(leaf.parse("x").is_err());
}

#[cfg(feature = "policy-areas")]
#[test]
fn policy_area_leaf_with_enum() {
    use winmdm_csp::generated::policy_areas::defender::{self, values::AllowRealtimeMonitoring};
    let leaf = defender::device().allow_realtime_monitoring();
    assert_eq!(leaf.parse("1").unwrap(), AllowRealtimeMonitoring::V1);
    assert_eq!(AllowRealtimeMonitoring::V0.to_data(), "0");
    assert_eq!(leaf.parse("2"), Err(ValueError::NotAllowed("2".into())));
}

#[cfg(feature = "dmclient")]
#[test]
fn dynamic_nodes_are_parameters_and_flags_combine() {
    use winmdm_csp::generated::dmclient::{self, values::BlockInStatusPage};
    let p = dmclient::device().provider().provider_id("MS DM Server");
    assert!(p.is_err(), "space must be percent-encoded");
    let p = dmclient::device()
        .provider()
        .provider_id("MDMServer")
        .unwrap();
    assert_eq!(
        p.ent_dmid().path().as_str(),
        "./Device/Vendor/MSFT/DMClient/Provider/MDMServer/EntDMID"
    );
    assert_eq!(
        p.path().as_str(),
        "./Device/Vendor/MSFT/DMClient/Provider/MDMServer"
    );
    assert_eq!(p.def().title.as_deref(), Some("ProviderID"));
    let flags = BlockInStatusPage::V0x1 | BlockInStatusPage::V0x4;
    assert_eq!(flags.to_data(), "5");
    assert_eq!(BlockInStatusPage::from_data("5").unwrap(), flags);
    assert_eq!(
        BlockInStatusPage::from_data("8"),
        Err(ValueError::UnknownFlags(8))
    );
    let user = dmclient::user().provider().provider_id("X").unwrap();
    assert!(user.path().as_str().starts_with("./User/"));
}

#[cfg(feature = "policy-admx")]
#[test]
fn admx_backed_leaf() {
    use winmdm_csp::generated::policy_areas::admx_appcompat;
    let leaf = admx_appcompat::device().app_compat_turn_off_program_compatibility_assistant_2();
    assert!(matches!(
        leaf.def().allowed,
        winmdm_csp::Allowed::Admx { .. }
    ));
    assert_eq!(leaf.parse("<disabled/>").unwrap(), AdmxValue::Disabled);
    assert!(leaf.parse("<enabled>").is_err());
}

#[cfg(feature = "all")]
#[test]
fn builtin_catalog_has_every_node() {
    let c = winmdm_csp::Catalog::builtin();
    let n: usize = c.tables().iter().map(|t| t.nodes.len()).sum();
    assert_eq!(n, 5800);
    assert_eq!(c.tables().len(), 310);
    assert!(
        c.lookup("./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart")
            .is_ok()
    );
}
