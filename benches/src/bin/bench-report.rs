//! Prints the ratio tables of `docs/benchmarks.md`: throughput of each decoder on each
//! input, measured interleaved in one process, and allocations per message.
//!
//! Criterion measures each function in its own time window; on a shared machine the load
//! changes between windows, so ratios between two criterion numbers are noisy. This report
//! runs every decoder on every input in turn within each round (the starting decoder rotates
//! from round to round), computes the ratios within each round and prints the median over
//! the rounds (and the range).
//!
//! Each measurement runs a decoder for about `--secs` seconds and records both the wall
//! time and the CPU time of the thread (Linux `/proc/thread-self/schedstat`, which the
//! kernel updates every scheduler tick, 4 ms here: hence measurements of a quarter second).
//! CPU time leaves out the time the thread waited for a core, which on a machine shared
//! with other builds is most of the noise; the main tables use it, and a last table gives
//! the wall-time ratios for comparison. Where schedstat is unreadable, wall time is used.
//!
//! Allocations are counted with a counting global allocator (`stats_alloc`) during one run
//! of each decoder on each input. The allocator wrapper adds a few relaxed atomic
//! increments to every allocation, for every decoder alike.
//!
//! Usage: `cargo run --release -p winmdm-benches --bin bench-report [-- --rounds N --secs S]`
//! (defaults: 7 rounds, 0.25 s per measurement: about two minutes of CPU in all).
//! `WINMDM_BENCH_INPUTS=admx_package,status_ack` limits the run to the named inputs (for
//! quick comparisons while working on the decoder; the tables in the docs use them all).

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use winmdm_benches::report::{Args, cpu_model, loadavg, measure, median, range, thread_cpu_secs};
use winmdm_benches::{Parser, inputs};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MIB: f64 = 1024.0 * 1024.0;

/// Per input, per parser, per round: MiB/s by CPU time and by wall time.
type Samples = Vec<Vec<(Vec<f64>, Vec<f64>)>>;

fn main() {
    let args = Args::parse("bench-report", 7, 0.25);
    let only = std::env::var("WINMDM_BENCH_INPUTS").ok();
    let inputs: Vec<_> = inputs::all()
        .into_iter()
        .filter(|i| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == i.name))
        })
        .collect();
    let parsers = Parser::ALL;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu_clock = if thread_cpu_secs().is_some() {
        "thread CPU time (schedstat)"
    } else {
        "wall time (schedstat unreadable)"
    };
    println!(
        "machine: {cores} cores, {}; load average before: {}",
        cpu_model(),
        loadavg()
    );
    println!(
        "rounds: {}, ~{} s per measurement, clock: {cpu_clock}\n",
        args.rounds, args.secs
    );

    let prepared: Vec<Vec<_>> = inputs
        .iter()
        .map(|i| parsers.iter().map(|p| p.prepare(&i.xml)).collect())
        .collect();

    // Calibration (also the warm-up): iterations per measurement for each pair.
    let mut iters = vec![vec![1usize; parsers.len()]; inputs.len()];
    for (ii, input) in inputs.iter().enumerate() {
        for (pi, parser) in parsers.iter().enumerate() {
            let mut n = 1usize;
            loop {
                let (wall, _) = measure(n, || {
                    black_box(parser.run(black_box(&input.xml), &prepared[ii][pi]));
                });
                if wall > 0.02 || n > 1 << 24 {
                    iters[ii][pi] = ((args.secs / wall * n as f64).ceil() as usize).max(1);
                    break;
                }
                n *= 4;
            }
        }
    }

    let mut samples: Samples = vec![vec![(Vec::new(), Vec::new()); parsers.len()]; inputs.len()];
    for round in 0..args.rounds {
        for (ii, input) in inputs.iter().enumerate() {
            let xml = input.xml.as_str();
            for k in 0..parsers.len() {
                let pi = (k + round) % parsers.len();
                let (parser, prep, n) = (parsers[pi], &prepared[ii][pi], iters[ii][pi]);
                let (wall, cpu) = measure(n, || {
                    black_box(parser.run(black_box(xml), black_box(prep)));
                });
                let mib = (xml.len() * n) as f64 / MIB;
                samples[ii][pi].0.push(mib / cpu);
                samples[ii][pi].1.push(mib / wall);
            }
        }
    }

    let idx = |p: Parser| parsers.iter().position(|q| *q == p).unwrap_or(0);
    let tok = idx(Parser::WinmdmTokenize);
    let (dec, enc, scan, rox, serde, minimal) = (
        idx(Parser::WinmdmDecode),
        idx(Parser::WinmdmEncode),
        idx(Parser::EventScan),
        idx(Parser::Roxmltree),
        idx(Parser::QuickXmlSerde),
        idx(Parser::MinimalEvents),
    );

    println!(
        "Throughput, MiB of input per CPU second (median of {} rounds):\n",
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
        for (cpu, _) in &samples[ii] {
            print!(" {:.1} |", median(cpu));
        }
        println!();
    }

    let ratio = |ii: usize, a: usize, b: usize, wall: bool| -> (f64, f64, f64) {
        let pick = |pi: usize| {
            if wall {
                &samples[ii][pi].1
            } else {
                &samples[ii][pi].0
            }
        };
        let r: Vec<f64> = pick(a).iter().zip(pick(b)).map(|(x, y)| x / y).collect();
        let (lo, hi) = range(&r);
        (median(&r), lo, hi)
    };
    let fmt = |(m, lo, hi): (f64, f64, f64)| format!("{m:.2}x [{lo:.2}-{hi:.2}]");
    let met = |m: f64, target: f64| if m >= target { "met" } else { "**missed**" };

    for wall in [false, true] {
        if wall {
            println!("\nThe same ratios by wall time (includes time spent waiting for a core):\n");
        } else {
            println!(
                "\nRatios of throughputs by CPU time (median of per-round ratios, [min-max]); \
                 targets: winmdm_decode >= 0.8x the event scan, >= 1.5x roxmltree:\n"
            );
        }
        println!(
            "| input | decode / event scan | 0.8x | decode / roxmltree | 1.5x | decode / serde | encode / event scan | minimal / event scan | tokenizer / event scan |"
        );
        println!("|---|---:|:---:|---:|:---:|---:|---:|---:|---:|");
        for (ii, input) in inputs.iter().enumerate() {
            let vs_scan = ratio(ii, dec, scan, wall);
            let vs_rox = ratio(ii, dec, rox, wall);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                input.name,
                fmt(vs_scan),
                met(vs_scan.0, 0.8),
                fmt(vs_rox),
                met(vs_rox.0, 1.5),
                fmt(ratio(ii, dec, serde, wall)),
                fmt(ratio(ii, enc, scan, wall)),
                fmt(ratio(ii, minimal, scan, wall)),
                fmt(ratio(ii, tok, scan, wall)),
            );
        }
    }

    println!(
        "\nAllocations during one run on each input: allocations + reallocations (bytes \
         requested: new blocks plus what reallocations grew by, as `stats_alloc`'s \
         `bytes_allocated` counts them):\n"
    );
    print!("| input |");
    for p in parsers {
        print!(" {} |", p.name());
    }
    println!();
    println!("|---|{}", "---:|".repeat(parsers.len()));
    let mut model = Vec::new();
    for (ii, input) in inputs.iter().enumerate() {
        print!("| {} |", input.name);
        for (pi, parser) in parsers.iter().enumerate() {
            let region = Region::new(GLOBAL);
            black_box(parser.run(black_box(&input.xml), &prepared[ii][pi]));
            let s = region.change();
            print!(
                " {} + {} ({} B) |",
                s.allocations, s.reallocations, s.bytes_allocated
            );
        }
        println!();
        // The decoded model itself: what is requested and what is still held while the
        // model lives (the decoder frees its scratch before returning).
        let region = Region::new(GLOBAL);
        let msg = winmdm_syncml::decode(input.xml.as_bytes());
        let s = region.change();
        let held = s.bytes_allocated.saturating_sub(s.bytes_deallocated);
        black_box(&msg);
        drop(msg);
        model.push((input.name, input.xml.len(), s.bytes_allocated, held));
    }
    println!(
        "\nMemory of the decoded model (`winmdm_syncml::decode`) against the input's size \
         (target: at most 2x requested on inputs of 15 KB and more):\n"
    );
    println!("| input | bytes | requested | / input | held by the model | / input |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, len, requested, held) in model {
        println!(
            "| {name} | {len} | {requested} | {:.2}x | {held} | {:.2}x |",
            requested as f64 / len as f64,
            held as f64 / len as f64
        );
    }
    println!("\nload average after: {}", loadavg());
}
