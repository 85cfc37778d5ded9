#![no_main]
//! cargo-fuzz wrapper for target `pki_csr`: the body is `winmdm_fuzz_targets::pki::csr`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| winmdm_fuzz_targets::pki::csr(data));
