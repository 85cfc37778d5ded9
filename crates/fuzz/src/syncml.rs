//! Fuzz target bodies for winmdm-syncml.

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[];
