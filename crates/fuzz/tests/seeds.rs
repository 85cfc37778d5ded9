//! Runs every fuzz target body over its seed corpus in `fuzz/corpus/NAME/`, so CI covers the
//! targets without a nightly toolchain.

use std::path::PathBuf;

#[test]
fn every_target_runs_over_its_seed_corpus() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, body) in winmdm_fuzz_targets::all_targets() {
        let dir = corpus.join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("seed folder {} for target {name}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        seeds.sort();
        assert!(
            !seeds.is_empty(),
            "target {name} has no seeds in {}",
            dir.display()
        );
        for seed in seeds {
            let bytes = std::fs::read(&seed).expect("read seed");
            body(&bytes);
        }
        // Also the degenerate inputs every target must survive.
        body(b"");
        body(b"<");
        body(&[0xff, 0xfe, 0x00]);
    }
}

#[test]
fn every_target_has_a_cargo_fuzz_wrapper() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in winmdm_fuzz_targets::all_targets() {
        let wrapper = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let src = std::fs::read_to_string(&wrapper)
            .unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
        assert!(
            src.contains(name),
            "{} does not call its body",
            wrapper.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}
