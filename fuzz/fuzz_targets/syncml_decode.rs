#![no_main]
//! cargo-fuzz wrapper: the body is `winmdm_fuzz_targets::syncml::syncml_decode`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winmdm_fuzz_targets::syncml::syncml_decode(data));
