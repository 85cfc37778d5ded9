//! Criterion benchmark of a full OMA-DM session (`winmdm-omadm`'s server engine against
//! its device engine: 50 queued commands plus a 1 MiB large object, MaxMsgSize 64 KiB;
//! see `winmdm_benches::session`) next to plain `decode` + `encode` of the same messages.
//! Throughput is in messages (both directions), so criterion's `elem/s` is messages per
//! second. The interleaved CPU-time comparison is `src/bin/session-report.rs`; results are
//! in `docs/benchmarks.md`.
//!
//! Run: `cargo bench -p winmdm-benches --bench session` (about a minute).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use winmdm_benches::session::{Mode, Queue, Scenario, Setup, codec_pass};

fn session(c: &mut Criterion) {
    let scenario = Scenario::STANDARD;
    // One session outside the timing: it ends, every command succeeds, and its messages
    // are the codec's input.
    let mut wire = Vec::new();
    let run = scenario
        .run(Mode::Wire, Some(&mut wire))
        .expect("the session runs");
    assert!(run.finished && run.left_in_queue == 0);
    assert_eq!(run.outcomes.len(), scenario.queued());
    assert!(run.outcomes.iter().all(|o| o.is_success()));
    let commands = scenario.commands();
    let tree = scenario.tree();
    let setup = || Setup {
        queue: Queue::new(commands.clone()),
        tree: tree.clone(),
    };

    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(run.messages() as u64));
    group.bench_function("engines_and_codec", |b| {
        b.iter_batched(
            setup,
            |s| scenario.run_with(s, Mode::Wire, None).expect("runs"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("engines_only", |b| {
        b.iter_batched(
            setup,
            |s| scenario.run_with(s, Mode::Engines, None).expect("runs"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("codec_decode_encode", |b| {
        b.iter(|| codec_pass(black_box(&wire)).expect("the codec pass runs"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = session
}
criterion_main!(benches);
