//! Typed Windows CSP node trees generated from Microsoft's DDF files, a runtime
//! catalog of node definitions, and profile validation.
//!
//! This crate is under construction; see `docs/` for status.
#![forbid(unsafe_code)]
