//! OMA-DM command model and sans-IO session engine on top of `winmdm-syncml`.
//!
//! This crate is under construction; see `docs/` for status.
#![forbid(unsafe_code)]
