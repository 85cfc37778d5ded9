//! Runs one decoder on one input a number of times, for a profiler (`valgrind
//! --tool=callgrind`, `perf`). See `docs/benchmarks.md`, "Where the time goes".
//!
//! Usage: `profile PARSER INPUT [ITERATIONS]`, e.g. `profile winmdm_decode large_results 5`;
//! PARSER is one of the names in the report's tables, INPUT one of `small_checkin`,
//! `server_package`, `large_results`.

use std::hint::black_box;

use winmdm_benches::{Parser, inputs};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parser = args
        .first()
        .and_then(|n| Parser::ALL.into_iter().find(|p| p.name() == n));
    let input = args
        .get(1)
        .and_then(|n| inputs::all().into_iter().find(|i| i.name == n));
    let iterations: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10);
    let (Some(parser), Some(input)) = (parser, input) else {
        eprintln!("usage: profile PARSER INPUT [ITERATIONS]");
        std::process::exit(2);
    };
    let prepared = parser.prepare(&input.xml);
    let mut total = 0usize;
    for _ in 0..iterations {
        total += parser.run(black_box(&input.xml), black_box(&prepared));
    }
    println!("{} on {}: {total}", parser.name(), input.name);
}
