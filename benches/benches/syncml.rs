//! Criterion benchmarks of the SyncML codec against quick-xml's event scan, roxmltree and
//! quick-xml's serde, on the same deterministic inputs in the same run. See
//! `docs/benchmarks.md`; the ratios table comes from `src/bin/bench-report.rs`.
//!
//! Run: `cargo bench -p winmdm-benches` (about 2 minutes on a loaded 2-core machine).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use winmdm_benches::{Parser, inputs};

fn syncml(c: &mut Criterion) {
    for input in inputs::all() {
        let xml = input.xml.as_str();
        let mut group = c.benchmark_group(input.name);
        group.throughput(Throughput::Bytes(xml.len() as u64));
        if xml.len() > 100_000 {
            group.sample_size(10);
        }
        for parser in Parser::ALL {
            let prepared = parser.prepare(xml);
            // Outside the timing loop: every parser really accepts the input.
            assert!(parser.run(xml, &prepared) > 0, "{}", parser.name());
            group.bench_function(parser.name(), |b| {
                b.iter(|| parser.run(black_box(xml), black_box(&prepared)))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = syncml
}
criterion_main!(benches);
