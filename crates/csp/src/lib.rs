//! Typed Windows CSP node trees generated from Microsoft's DDF files, and a runtime catalog of
//! node definitions.
//!
//! * [`CspPath`]: a validated LocURI newtype (`TryFrom<&str>`).
//! * [`NodeDef`] / [`NodeTable`]: flat node definitions (format, access, allowed values,
//!   applicability, description...), generated as `static` tables for every vendored CSP and
//!   policy area, or built at run time from a DDF ([`NodeTable::from_tree`]).
//! * [`Catalog`]: looks up any LocURI (dynamic segments, `./Device/Vendor` = `./Vendor`, case
//!   rules) to its definition, without the generated types.
//! * [`lint_profile`]: checks admin profiles (SyncML commands) against a catalog: LocURI, AccessType,
//!   Meta Format, values and allowed values, ADMX shape, unescaped markup, Atomic, applicability.
//! * [`profile`]: profiles as desired state for a server: [`Profile::parse`], the commands
//!   to install, verify (`Get`, compared by meaning with [`profile::verify`]), retry and
//!   remove them, and the per-setting [`SettingState`].
//! * [`generated`]: per-CSP modules with typed path builders, one cargo feature each
//!   (`dmclient`, `policy`, `policy-areas`, `policy-admx`, ..., `all`). The default features
//!   are the CSPs a Windows MDM uses daily: `policy` and `policy-areas` (the Policy CSP and
//!   its native areas; not the ADMX-backed `policy-admx`), `devdetail`, `devinfo`,
//!   `dmclient`, `clientcertificateinstall`, `rootcatrustedcertificates`, `bitlocker`,
//!   `defender`, `firewall`, `update`, `wifi`, `vpnv2`, `reboot`, `remotewipe`,
//!   `enterprisedesktopappmanagement` and `laps`; see `docs/csp.md` for the feature list and
//!   build times. [`lint_profile`] refuses an empty catalog ([`LintError::EmptyCatalog`]) rather
//!   than report every node unknown.
//! * [`Leaf`]: a typed leaf of the generated modules makes its commands in one call,
//!   [`winmdm_omadm::DmCommand`]s with the node's format and the typed value
//!   ([`Leaf::replace`], [`Leaf::add`], [`Leaf::get`], [`Leaf::delete`], [`Leaf::exec`]),
//!   for the server engine's queue; profiles stay SyncML text (see [`profile`]).
//! * Re-exports: [`winmdm_ddf`] (the DDF parser, for [`Catalog::add_ddf`] and
//!   [`NodeTable::from_tree`]), with [`MgmtTree`] and [`Position`] at the root, so a product
//!   needs no dependency of its own on `winmdm-ddf`; [`winmdm_omadm`] (the command model
//!   [`Leaf`] speaks); [`Format`] from `winmdm-types`.
//!
//! ```
//! # #[cfg(feature = "policy-areas")] {
//! use winmdm_csp::{CspValue, generated::policy_areas::update};
//!
//! let leaf = update::device().active_hours_start();
//! assert_eq!(leaf.path().as_str(), "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart");
//! assert_eq!(leaf.format().as_str(), "int");
//! # }
//! use winmdm_csp::{Catalog, CspPath};
//! let path = CspPath::try_from("./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart").unwrap();
//! let catalog = Catalog::builtin(); // tables of the enabled features
//! # #[cfg(feature = "policy-areas")] {
//! let m = catalog.lookup(path.as_str()).unwrap();
//! assert!(m.def.access.contains(winmdm_csp::Access::REPLACE));
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod admx;
mod catalog;
mod def;
pub mod lint;
/// The manual (`docs/csp.md` in the repository): generated trees, the catalog, profiles
/// and lint. Its examples run as doc tests when the features they use (`dmclient`,
/// `update`, `policy-areas`, all default) are on.
#[cfg_attr(
    all(feature = "dmclient", feature = "update", feature = "policy-areas"),
    doc = include_str!("../../../docs/csp.md")
)]
pub mod manual {}
mod path;
pub mod profile;
pub mod value;

pub use catalog::{Binding, Catalog, LookupError, Match, Scope};
pub use def::{
    Access, Allowed, Applicability, DynamicNaming, EnumEntry, NodeDef, NodeTable, Text,
    UNRELEASED_OS_BUILD, parse_os_build,
};
pub use lint::{Finding, LintError, LintOptions, Rule, Severity, lint_profile};
pub use path::{CspPath, CspPathError, validate_segment};
pub use profile::{
    InstallAnswer, InstallOutcome, Profile, ProfileError, Setting, SettingState, Verification,
};
pub use value::{AdmxValue, CspValue, Leaf, LeafError, NoValue, Ranged, ValueError};
/// The DDF parser: `winmdm_csp::winmdm_ddf::parse(bytes)` gives the [`MgmtTree`] that
/// [`Catalog::add_ddf`] and [`NodeTable::from_tree`] take.
pub use winmdm_ddf;
pub use winmdm_ddf::{MgmtTree, Position};
/// The OMA-DM command model: the [`winmdm_omadm::DmCommand`]s a [`Leaf`] makes
/// ([`Leaf::replace`]...) and their [`winmdm_omadm::Value`]s, so a product can queue them
/// without a dependency of its own on `winmdm-omadm`.
pub use winmdm_omadm;
/// The data format of a node (`DFFormat` in a DDF, `Meta/Format` on the wire): the one
/// `Format` of winmdm, defined in `winmdm-types`.
pub use winmdm_types::Format;
/// The XML foundation: [`admx::AdmxErrorKind::Xml`] carries its [`winmdm_xml::ErrorKind`].
pub use winmdm_xml;

#[allow(unused_imports)]
use value::{csp_enum, csp_flags, csp_node};

#[rustfmt::skip]
pub mod generated;
