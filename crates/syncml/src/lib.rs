//! Zero-copy SyncML 1.2 codec.
#![forbid(unsafe_code)]
