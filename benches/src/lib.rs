//! Benchmarks for the winmdm crates: see `benches/` and `docs/benchmarks.md`.
