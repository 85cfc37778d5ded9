//! Typed Windows CSP node trees generated from Microsoft's DDF files, and a runtime catalog of
//! node definitions.
//!
//! * [`CspPath`]: a validated LocURI newtype (`TryFrom<&str>`).
//! * [`NodeDef`] / [`NodeTable`]: flat node definitions (format, access, allowed values,
//!   applicability, description...), generated as `static` tables for every vendored CSP and
//!   policy area, or built at run time from a DDF ([`NodeTable::from_tree`]).
//! * [`Catalog`]: looks up any LocURI (dynamic segments, `./Device/Vendor` = `./Vendor`, case
//!   rules) to its definition, without the generated types.
//! * [`lint()`]: checks admin profiles (SyncML commands) against a catalog: LocURI, AccessType,
//!   Meta Format, values and allowed values, ADMX shape, unescaped markup, Atomic, applicability.
//! * [`generated`]: per-CSP modules with typed path builders, one cargo feature each
//!   (`dmclient`, `policy`, `policy-areas`, `policy-admx`, ..., `all`). No CSP is enabled by
//!   default; see `docs/csp.md` for the feature list and build times.
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
mod path;
pub mod value;

pub use catalog::{Binding, Catalog, LookupError, Match, Scope};
pub use def::{
    Access, Allowed, Applicability, DynamicNaming, EnumEntry, Format, NodeDef, NodeTable, Text,
};
pub use lint::{Finding, LintOptions, Rule, Severity, lint};
pub use path::{CspPath, CspPathError, validate_segment};
pub use value::{AdmxValue, CspValue, Leaf, NoValue, Ranged, ValueError};

#[allow(unused_imports)]
use value::{csp_enum, csp_flags, csp_node};

#[rustfmt::skip]
pub mod generated;
