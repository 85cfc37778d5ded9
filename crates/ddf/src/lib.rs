//! OMA-DM DDF 1.2 parser with Microsoft's `MSFT:` extensions.
//!
//! This crate is under construction; see `docs/` for status.
#![forbid(unsafe_code)]
