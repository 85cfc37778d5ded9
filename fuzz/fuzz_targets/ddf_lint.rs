#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| winmdm_fuzz_targets::ddf::ddf_lint(data));
