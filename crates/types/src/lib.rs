//! The OMA-DM vocabulary every winmdm crate speaks, defined once: the data [`Format`] of a
//! node, validated node addresses ([`LocUri`]), [`Secret`] values that never reach a log
//! with [`constant_time_eq`] to check them, and base64 as Windows sends it
//! ([`base64::decode_lenient`]).
//!
//! `winmdm-omadm` (commands and sessions), `winmdm-ddf` (DDF files), `winmdm-csp` (CSP
//! trees, profiles, lint) and `winmdm-enroll` (MS-MDE2) use these types rather than their
//! own; a product that uses several of those crates gets one `Format` and one `LocUri`.
//! This crate has no XML and no IO.
//!
//! ```
//! use winmdm_types::{Format, LocUri, Root, Secret};
//!
//! let uri = LocUri::try_from("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera")?;
//! assert_eq!(uri.root(), Some(Root::Device));
//! assert_eq!(uri.segments().last().unwrap(), "AllowCamera");
//! assert!(LocUri::try_from("./Device/Vendor//MSFT").is_err());
//!
//! assert_eq!(Format::parse("int"), Format::Int);
//!
//! let password = Secret::new("enrollment-secret");
//! assert!(password.matches(b"enrollment-secret"));
//! assert!(!format!("{password:?}").contains("enrollment"));
//! # Ok::<(), winmdm_types::LocUriError>(())
//! ```
#![forbid(unsafe_code)]

pub mod base64;
mod format;
mod locuri;
mod secret;

pub use format::Format;
pub use locuri::{LocUri, LocUriError, MAX_LOCURI_LEN, Query, Root, percent_encode};
pub use secret::{Secret, constant_time_eq};
