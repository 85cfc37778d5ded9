//! `winmdm-csp` works out of the box: with its default features, `Catalog::builtin()` knows
//! the CSPs a Windows MDM uses daily and the linter checks real profiles against them. (The
//! tests hold for any feature set that includes the defaults, e.g. `all`.)
#![cfg(all(
    feature = "bitlocker",
    feature = "clientcertificateinstall",
    feature = "defender",
    feature = "devdetail",
    feature = "devinfo",
    feature = "dmclient",
    feature = "enterprisedesktopappmanagement",
    feature = "firewall",
    feature = "laps",
    feature = "policy",
    feature = "policy-areas",
    feature = "reboot",
    feature = "remotewipe",
    feature = "rootcatrustedcertificates",
    feature = "update",
    feature = "vpnv2",
    feature = "wifi",
))]

use std::path::PathBuf;

use winmdm_csp::{Catalog, Format, LintOptions, Rule, Severity};

/// One node of every CSP in the default set: (LocURI, DDF template, format).
const NODES: &[(&str, &str, &str)] = &[
    (
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
        "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart",
        "int",
    ),
    (
        "./User/Vendor/MSFT/Policy/Config/Experience/AllowThirdPartySuggestionsInWindowsSpotlight",
        "./User/Vendor/MSFT/Policy/Config/Experience/AllowThirdPartySuggestionsInWindowsSpotlight",
        "int",
    ),
    (
        "./Vendor/MSFT/BitLocker/RequireDeviceEncryption",
        "./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryption",
        "int",
    ),
    ("./DevDetail/SwV", "./DevDetail/SwV", "chr"),
    ("./DevInfo/DevId", "./DevInfo/DevId", "chr"),
    (
        "./Vendor/MSFT/DMClient/Provider/MDMServer/EntDMID",
        "./Device/Vendor/MSFT/DMClient/Provider/{ProviderID}/EntDMID",
        "chr",
    ),
    (
        "./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/cert1/Install/ServerURL",
        "./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/{UniqueID}/Install/ServerURL",
        "chr",
    ),
    (
        "./Device/Vendor/MSFT/RootCATrustedCertificates/Root/ABCDEF/EncodedCertificate",
        "./Device/Vendor/MSFT/RootCATrustedCertificates/Root/{CertHash}/EncodedCertificate",
        "b64",
    ),
    (
        "./Vendor/MSFT/Defender/Scan",
        "./Device/Vendor/MSFT/Defender/Scan",
        "chr",
    ),
    (
        "./Vendor/MSFT/Firewall/MdmStore/Global/PolicyVersionSupported",
        "./Vendor/MSFT/Firewall/MdmStore/Global/PolicyVersionSupported",
        "int",
    ),
    (
        "./Vendor/MSFT/Update/InstallableUpdates",
        "./Vendor/MSFT/Update/InstallableUpdates",
        "node",
    ),
    (
        "./Device/Vendor/MSFT/WiFi/Profile/Corp/WlanXml",
        "./Device/Vendor/MSFT/WiFi/Profile/{SSID}/WlanXml",
        "chr",
    ),
    (
        "./Device/Vendor/MSFT/VPNv2/Corp/ProfileXML",
        "./Device/Vendor/MSFT/VPNv2/{ProfileName}/ProfileXML",
        "chr",
    ),
    (
        "./Device/Vendor/MSFT/Reboot/RebootNow",
        "./Device/Vendor/MSFT/Reboot/RebootNow",
        "null",
    ),
    (
        "./Device/Vendor/MSFT/RemoteWipe/doWipe",
        "./Device/Vendor/MSFT/RemoteWipe/doWipe",
        "chr",
    ),
    (
        "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{ABC}/DownloadInstall",
        "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{ProductID}/DownloadInstall",
        "xml",
    ),
    (
        "./Device/Vendor/MSFT/LAPS/Policies/PasswordAgeDays",
        "./Device/Vendor/MSFT/LAPS/Policies/PasswordAgeDays",
        "int",
    ),
];

#[test]
fn builtin_catalog_knows_every_default_csp() {
    let c = Catalog::builtin();
    assert!(!c.is_empty());
    for &(uri, template, format) in NODES {
        let m = c
            .lookup(uri)
            .unwrap_or_else(|e| panic!("{uri}: {e} (a default feature is missing?)"));
        assert_eq!(m.template(), template, "{uri}");
        assert_eq!(m.def.format.as_str(), format, "{uri}");
        // Found through its own DDF, not Policy.xml's generic {AreaName}/{PolicyName}.
        assert!(
            m.bindings
                .iter()
                .all(|b| !matches!(b.title.as_deref(), Some("AreaName" | "PolicyName"))),
            "{uri} matched only the generic Policy nodes"
        );
    }
    let hours = c
        .lookup("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart")
        .unwrap();
    assert_eq!(hours.def.format, Format::Int);
    assert_eq!(hours.def.default.as_deref(), Some("8"));
}

#[test]
fn builtin_catalog_lints_real_profiles_out_of_the_box() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/profiles");
    let c = Catalog::builtin();
    // Profiles on Update, Defender, the Policy areas and ClientCertificateInstall: clean, or
    // with the finding the full vendored catalog gives too (crates/csp/tests/lint.rs).
    for (file, want) in [
        ("01-auto-update-and-schedule.xml", vec![]),
        ("02-defer-feature-and-quality-updates.xml", vec![]),
        ("disable_defender_realtime_scanning.xml", vec![]),
        (
            "prevent-users-from-changing-date-and-time-–-[AllowDateTime].xml",
            vec![],
        ),
        (
            "windows-device-scep.xml",
            vec![(Severity::Error, Rule::AtomicRequired)],
        ),
        (
            "CIS-18.10.59.5---disable-indexing-encrypted-files-–-[PreventIndexingEncryptedStoresOrItems].xml",
            vec![(Severity::Error, Rule::UnknownNode)],
        ),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let got: Vec<_> = winmdm_csp::lint_profile(&c, &bytes, &LintOptions::default())
            .unwrap()
            .iter()
            .map(|f| (f.severity, f.rule))
            .collect();
        assert_eq!(got, want, "{file}");
    }
}
