//! Fuzz target bodies for winmdm-ddf.

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[];
