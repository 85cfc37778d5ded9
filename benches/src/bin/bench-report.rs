//! Prints the ratio tables of `docs/benchmarks.md`: throughput of each decoder on each
//! input, measured interleaved in one process, and allocations per message.
//!
//! Criterion measures each function in its own time window; on a shared machine the load
//! changes between windows, so ratios between two criterion numbers are noisy. This report
//! runs every decoder on every input in turn within each round (the starting decoder rotates
//! from round to round), computes the ratios within each round and prints the median over
//! the rounds (and the range). Allocations are counted with a counting global allocator
//! (`stats_alloc`) during one run of each decoder on each input.
//!
//! Usage: `cargo run --release -p winmdm-benches --bin bench-report [-- --rounds N --mb M]`
//! (defaults: 9 rounds, about 16 MB of input per measurement).

use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use winmdm_benches::{Parser, inputs};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MIB: f64 = 1024.0 * 1024.0;

struct Args {
    rounds: usize,
    mb: f64,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 9,
        mb: 16.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next();
        let parsed = value.as_deref().and_then(|v| v.parse::<f64>().ok());
        match (flag.as_str(), parsed) {
            ("--rounds", Some(v)) if v >= 1.0 => a.rounds = v as usize,
            ("--mb", Some(v)) if v > 0.0 => a.mb = v,
            _ => {
                eprintln!("usage: bench-report [--rounds N] [--mb MEGABYTES_PER_MEASUREMENT]");
                std::process::exit(2);
            }
        }
    }
    a
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let args = args();
    let inputs = inputs::all();
    let parsers = Parser::ALL;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores, {}; load average before: {}",
        cpu_model(),
        loadavg()
    );
    println!(
        "rounds: {}, about {} MB of input per measurement\n",
        args.rounds, args.mb
    );

    // throughput[input][parser][round] in MiB/s
    let mut tput = vec![vec![Vec::with_capacity(args.rounds); parsers.len()]; inputs.len()];
    let prepared: Vec<Vec<_>> = inputs
        .iter()
        .map(|i| parsers.iter().map(|p| p.prepare(&i.xml)).collect())
        .collect();
    let iters: Vec<usize> = inputs
        .iter()
        .map(|i| ((args.mb * 1e6 / i.xml.len() as f64).ceil() as usize).max(3))
        .collect();

    // One warm-up round (not recorded), then the measured rounds.
    for round in 0..=args.rounds {
        for (ii, input) in inputs.iter().enumerate() {
            let xml = input.xml.as_str();
            for k in 0..parsers.len() {
                let pi = (k + round) % parsers.len();
                let parser = parsers[pi];
                let prep = &prepared[ii][pi];
                let n = if round == 0 { 1 } else { iters[ii] };
                let start = Instant::now();
                for _ in 0..n {
                    black_box(parser.run(black_box(xml), black_box(prep)));
                }
                let secs = start.elapsed().as_secs_f64();
                if round > 0 {
                    tput[ii][pi].push((xml.len() * n) as f64 / MIB / secs);
                }
            }
        }
    }

    let idx = |p: Parser| parsers.iter().position(|q| *q == p).unwrap_or(0);
    let (dec, enc, scan, rox, serde) = (
        idx(Parser::WinmdmDecode),
        idx(Parser::WinmdmEncode),
        idx(Parser::EventScan),
        idx(Parser::Roxmltree),
        idx(Parser::QuickXmlSerde),
    );

    println!(
        "Throughput, MiB/s of input (median of {} rounds):\n",
        args.rounds
    );
    print!("| input | bytes |");
    for p in parsers {
        print!(" {} |", p.name());
    }
    println!();
    println!("|---|---:|{}", "---:|".repeat(parsers.len()));
    for (ii, input) in inputs.iter().enumerate() {
        print!("| {} | {} |", input.name, input.xml.len());
        for runs in &tput[ii] {
            print!(" {:.1} |", median(&mut runs.clone()));
        }
        println!();
    }

    println!(
        "\nRatios of winmdm_decode's throughput (median of per-round ratios, [min-max]); \
         targets: >= 0.8x the event scan, >= 1.5x roxmltree:\n"
    );
    println!(
        "| input | decode / event scan | target 0.8x | decode / roxmltree | target 1.5x | decode / serde | encode / event scan |"
    );
    println!("|---|---:|:---:|---:|:---:|---:|---:|");
    for (ii, input) in inputs.iter().enumerate() {
        let ratio = |a: usize, b: usize| -> (f64, f64, f64) {
            let mut r: Vec<f64> = tput[ii][a]
                .iter()
                .zip(&tput[ii][b])
                .map(|(x, y)| x / y)
                .collect();
            let (lo, hi) = range(&r);
            (median(&mut r), lo, hi)
        };
        let fmt = |(m, lo, hi): (f64, f64, f64)| format!("{m:.2}x [{lo:.2}-{hi:.2}]");
        let met = |m: f64, target: f64| if m >= target { "met" } else { "**missed**" };
        let vs_scan = ratio(dec, scan);
        let vs_rox = ratio(dec, rox);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            input.name,
            fmt(vs_scan),
            met(vs_scan.0, 0.8),
            fmt(vs_rox),
            met(vs_rox.0, 1.5),
            fmt(ratio(dec, serde)),
            fmt(ratio(enc, scan)),
        );
    }

    println!(
        "\nAllocations during one run on each input (allocations + reallocations, bytes requested):\n"
    );
    print!("| input |");
    for p in parsers {
        print!(" {} |", p.name());
    }
    println!();
    println!("|---|{}", "---:|".repeat(parsers.len()));
    for (ii, input) in inputs.iter().enumerate() {
        print!("| {} |", input.name);
        for (pi, parser) in parsers.iter().enumerate() {
            let region = Region::new(GLOBAL);
            black_box(parser.run(black_box(&input.xml), &prepared[ii][pi]));
            let s = region.change();
            print!(
                " {} + {} ({} B) |",
                s.allocations,
                s.reallocations,
                s.bytes_allocated as isize + s.bytes_reallocated.max(0)
            );
        }
        println!();
    }
    println!("\nload average after: {}", loadavg());
}
