#![no_main]
//! cargo-fuzz wrapper: the body is `winmdm_fuzz_targets::syncml::syncml_wellformed`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winmdm_fuzz_targets::syncml::syncml_wellformed(data));
