//! Fuzz target bodies for winmdm-enroll.

/// The targets of this module: name and body.
pub const TARGETS: &[(&str, crate::Target)] = &[];
