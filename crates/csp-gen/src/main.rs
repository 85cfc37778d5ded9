//! `winmdm-csp-gen [--check] [REPO_ROOT]`: regenerates `crates/csp/src/generated/` and the
//! feature list in `crates/csp/Cargo.toml` from `crates/csp/ddf/`. With `--check`, writes
//! nothing and exits 1 if the committed files differ.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: winmdm-csp-gen [--check] [REPO_ROOT]");
                return ExitCode::SUCCESS;
            }
            other => root = PathBuf::from(other),
        }
    }
    let out = match winmdm_csp_gen::generate(&root.join("crates/csp/ddf")) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if check {
        winmdm_csp_gen::check(&root, &out)
    } else {
        winmdm_csp_gen::write(&root, &out)
    };
    match result {
        Ok(diffs) if check && !diffs.is_empty() => {
            for d in diffs {
                eprintln!("out of date: {d}");
            }
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
