//! Bodies of the cargo-fuzz targets.
//!
//! Every target in `fuzz/fuzz_targets/` is a one-line wrapper around a function here, so
//! the same code runs under libFuzzer (`RUSTC_BOOTSTRAP=1 cargo fuzz run NAME`) and, on
//! stable, over the seed corpus in `fuzz/corpus/NAME/` as a regular test
//! (`cargo test -p winmdm-fuzz-targets`). Each module lists its targets in `TARGETS`.
#![forbid(unsafe_code)]

pub mod ddf;
pub mod enroll;
pub mod pki;
pub mod syncml;

/// A fuzz target body: must not panic on any input.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the file in `fuzz/fuzz_targets/` and the seed folder in
/// `fuzz/corpus/`) and its body.
pub fn all_targets() -> impl Iterator<Item = &'static (&'static str, Target)> {
    syncml::TARGETS
        .iter()
        .chain(enroll::TARGETS.iter())
        .chain(pki::TARGETS.iter())
        .chain(ddf::TARGETS.iter())
}
