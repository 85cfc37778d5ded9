//! `winmdm-server`: the reference server's entry point (see `docs/server.md`).
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    keep_freed_heap();
    let args = winmdm_reference_server::Args::parse();
    match winmdm_reference_server::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("winmdm-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc's malloc gives the free top of a heap back to the kernel (`madvise`, a TLB
/// flush on every core) once it exceeds the trim threshold, 128 KiB at start, and every
/// management message frees about that much (SQLite's page cache of the temporary
/// b-tree an `UPDATE ... RETURNING` gathers its rows in) and faults it in again on the
/// next: about a sixth of the server's CPU per idle check-in. Freeing one block that
/// malloc made with `mmap` (above 128 KiB) raises the mmap threshold to its size and the
/// trim threshold to twice that (mallopt(3), "dynamic mmap threshold"; without
/// `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` set): 4 MiB here. Other allocators
/// ignore it.
fn keep_freed_heap() {
    drop(std::hint::black_box(vec![1u8; 2 << 20]));
}
