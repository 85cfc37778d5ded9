//! Prints the session tables of `docs/benchmarks.md`: the cost of a full OMA-DM session
//! (`winmdm_benches::session`, 50 queued commands plus a 1 MiB large object, MaxMsgSize
//! 64 KiB) per session and per message, next to plain `decode` + `encode` of the same
//! message bytes, measured interleaved in one process.
//!
//! Three paths, each measured in every round (the starting one rotates from round to
//! round): the engines plus the codec (`Mode::Wire`: every message encoded by its sender
//! and decoded by its receiver), the engines alone (`Mode::Engines`: structs handed over)
//! and the codec alone (`codec_pass` over the bytes of one captured session). The queue
//! and tree of each session are built before the timed loop and the finished sessions are
//! dropped after it, as criterion's `iter_batched` does.
//!
//! Each measurement runs a path for about `--secs` seconds and records the thread's CPU
//! time (Linux `/proc/thread-self/schedstat`, updated every scheduler tick, hence
//! measurements of a quarter second and more) and wall time. Ratios are computed within
//! each round; the tables give the median over rounds and the range. Allocations are
//! counted with a counting global allocator (`stats_alloc`) during one run of each path.
//!
//! Then the session snapshots (issue 9): both engines saved to JSON and restored after
//! every message (`Scenario::run_snapshots`), their sizes and the save + restore time over
//! the engines' own time in the same run; and the server snapshot with five commands in
//! flight (`in_flight_snapshot`).
//!
//! Usage: `cargo run --release -p winmdm-benches --bin session-report [-- --rounds N --secs S]`
//! (defaults: 7 rounds, 0.5 s per measurement: about half a minute).

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use winmdm_benches::report::{Args, cpu_model, loadavg, median, range, thread_cpu_secs, timed};
use winmdm_benches::session::{
    Direction, Mode, Queue, Scenario, SessionRun, Setup, SnapshotStats, WireMessage, codec_pass,
    five_typical_commands, in_flight_snapshot,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Wire,
    Engines,
    Codec,
}

impl Path {
    const ALL: [Path; 3] = [Path::Wire, Path::Engines, Path::Codec];

    fn name(self) -> &'static str {
        match self {
            Path::Wire => "engines + codec (`Mode::Wire`)",
            Path::Engines => "engines only (`Mode::Engines`)",
            Path::Codec => "codec only: `decode` + `encode` of the same bytes",
        }
    }
}

struct Bench {
    scenario: Scenario,
    commands: Vec<winmdm_omadm::server::Queued>,
    tree: winmdm_omadm::tree::MemoryTree,
    wire: Vec<WireMessage>,
}

impl Bench {
    fn setup(&self) -> Setup {
        Setup {
            queue: Queue::new(self.commands.clone()),
            tree: self.tree.clone(),
        }
    }

    /// `n` sessions (or codec passes): (wall, CPU) seconds, setup and drop outside, and
    /// the server engine's share of the time spent in the engines (`None` for the codec).
    fn measure(&self, path: Path, n: usize) -> (f64, f64, Option<f64>) {
        match path {
            Path::Wire | Path::Engines => {
                let mode = if path == Path::Wire {
                    Mode::Wire
                } else {
                    Mode::Engines
                };
                let setups: Vec<Setup> = (0..n).map(|_| self.setup()).collect();
                let mut done: Vec<SessionRun> = Vec::with_capacity(n);
                let t = timed(|| {
                    for s in setups {
                        done.push(self.scenario.run_with(s, mode, None).expect("runs"));
                    }
                });
                let server: f64 = done.iter().map(|r| r.server_time.as_secs_f64()).sum();
                let device: f64 = done.iter().map(|r| r.device_time.as_secs_f64()).sum();
                drop(black_box(done));
                (t.0, t.1, Some(server / (server + device)))
            }
            Path::Codec => {
                let t = timed(|| {
                    for _ in 0..n {
                        black_box(codec_pass(black_box(&self.wire)).expect("codec pass"));
                    }
                });
                (t.0, t.1, None)
            }
        }
    }
}

fn main() {
    let args = Args::parse("session-report", 7, 0.5);
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
    let without_large = Scenario {
        large_object_bytes: 0,
        ..Scenario::STANDARD
    };
    for (title, scenario) in [
        ("The benchmark's scenario", Scenario::STANDARD),
        (
            "For comparison, the same queue with the large object's value empty",
            without_large,
        ),
    ] {
        println!("## {title}\n");
        report(&args, scenario);
    }
    let five = in_flight_snapshot(five_typical_commands()).expect("package 1 answered");
    let size = five.size.without_last_response();
    println!("## Session snapshots: a typical session with 5 commands in flight\n");
    println!(
        "Package 1 from the device, the server's response with {} commands (a Get, an \
         integer Replace, an ADMX Replace, an Add, an Exec), the server snapshot right after: \
         {} bytes of JSON, {} of them the last response kept for retransmission, so {size} \
         bytes without it: {} 2048.\n",
        five.commands_sent,
        five.size.json,
        five.size.last_response,
        if size < 2048 { "under" } else { "NOT under" }
    );
    println!("load average after: {}", loadavg());
}

/// Measures one scenario and prints its tables.
fn report(args: &Args, scenario: Scenario) {
    let mut wire = Vec::new();
    let run = scenario
        .run(Mode::Wire, Some(&mut wire))
        .expect("the session runs");
    assert!(run.finished && run.left_in_queue == 0);
    assert_eq!(run.outcomes.len(), scenario.queued());
    assert!(run.outcomes.iter().all(|o| o.is_success()));
    let messages = run.messages();
    let bench = Bench {
        scenario,
        commands: scenario.commands(),
        tree: scenario.tree(),
        wire,
    };

    let side = |d: Direction| {
        let v: Vec<usize> = bench
            .wire
            .iter()
            .filter(|m| m.direction == d)
            .map(|m| m.bytes.len())
            .collect();
        (
            v.len(),
            v.iter().sum::<usize>(),
            v.iter().max().copied().unwrap_or(0),
        )
    };
    let (dn, db, dmax) = side(Direction::FromDevice);
    let (sn, sb, smax) = side(Direction::FromServer);
    println!(
        "{} queued commands ({} + the large object of {} bytes), MaxMsgSize {} both ways.\n",
        scenario.queued(),
        scenario.queued() - 1,
        scenario.large_object_bytes,
        scenario.max_msg_size
    );
    println!("| messages | count | bytes | largest |");
    println!("|---|---:|---:|---:|");
    println!("| device to server | {dn} | {db} | {dmax} |");
    println!("| server to device | {sn} | {sb} | {smax} |");
    println!(
        "| both ways | {messages} | {} | {} |\n",
        db + sb,
        dmax.max(smax)
    );

    // Calibration (also the warm-up): iterations per measurement for each path.
    let iters: Vec<usize> = Path::ALL
        .iter()
        .map(|&p| {
            let mut n = 1usize;
            loop {
                let (wall, _, _) = bench.measure(p, n);
                if wall > 0.05 || n > 1 << 20 {
                    break ((args.secs / wall * n as f64).ceil() as usize).max(1);
                }
                n *= 2;
            }
        })
        .collect();

    // Per path, per round: seconds per session (CPU, wall).
    let mut per: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); Path::ALL.len()];
    // Server engine's share of the engines' time, per round, in Mode::Engines.
    let mut server_share = Vec::new();
    for round in 0..args.rounds {
        for k in 0..Path::ALL.len() {
            let pi = (k + round) % Path::ALL.len();
            let n = iters[pi];
            let (wall, cpu, share) = bench.measure(Path::ALL[pi], n);
            if Path::ALL[pi] == Path::Engines {
                server_share.extend(share);
            }
            per[pi].0.push(cpu / n as f64);
            per[pi].1.push(wall / n as f64);
        }
    }

    let pick = |pi: usize, wall: bool| if wall { &per[pi].1 } else { &per[pi].0 };
    let codec = Path::ALL.len() - 1;
    for wall in [false, true] {
        if wall {
            println!("\nThe same by wall time (includes time spent waiting for a core):\n");
        } else {
            println!(
                "Cost by thread CPU time (median of {} rounds; ratio: median of per-round ratios [min-max]):\n",
                args.rounds
            );
        }
        println!(
            "| path | per session (ms) | per message (µs) | per message / codec per message |"
        );
        println!("|---|---:|---:|---:|");
        for (pi, p) in Path::ALL.iter().enumerate() {
            let s = median(pick(pi, wall));
            let r: Vec<f64> = pick(pi, wall)
                .iter()
                .zip(pick(codec, wall))
                .map(|(a, b)| a / b)
                .collect();
            let (lo, hi) = range(&r);
            println!(
                "| {} | {:.2} | {:.1} | {:.2}x [{lo:.2}-{hi:.2}] |",
                p.name(),
                s * 1e3,
                s * 1e6 / messages as f64,
                median(&r)
            );
        }
    }

    let share = median(&server_share);
    let (lo, hi) = range(&server_share);
    let engines = median(&per[1].0) / messages as f64;
    let codec_msg = median(&per[codec].0) / messages as f64;
    println!(
        "\nSplit of `Mode::Engines` between the two engines (`Instant` around each `handle` call; \
         share of the wall time inside the engines, median [min-max]): server {:.0} % [{:.0}-{:.0} %], \
         so about {:.1} µs per message for the server engine and {:.1} µs for the device engine \
         with its `MemoryTree` ({:.2}x and {:.2}x the codec's {:.1} µs).",
        share * 100.0,
        lo * 100.0,
        hi * 100.0,
        engines * share * 1e6,
        engines * (1.0 - share) * 1e6,
        engines * share / codec_msg,
        engines * (1.0 - share) / codec_msg,
        codec_msg * 1e6
    );

    println!(
        "\nAllocations during one session (or one codec pass): allocations + reallocations (bytes requested):\n"
    );
    println!("| path | allocations | bytes requested |");
    println!("|---|---:|---:|");
    for p in Path::ALL {
        let setup = bench.setup();
        let region = Region::new(GLOBAL);
        let kept = match p {
            Path::Wire => scenario
                .run_with(setup, Mode::Wire, None)
                .expect("runs")
                .messages(),
            Path::Engines => scenario
                .run_with(setup, Mode::Engines, None)
                .expect("runs")
                .messages(),
            Path::Codec => codec_pass(&bench.wire).expect("codec pass"),
        };
        let s = region.change();
        black_box(kept);
        let bytes = s.bytes_allocated as isize + s.bytes_reallocated.max(0);
        println!(
            "| {} | {} + {} | {bytes} |",
            p.name(),
            s.allocations,
            s.reallocations
        );
    }
    println!();
    snapshots(args, &bench);
}

/// Saves and restores both engines after every message (`Scenario::run_snapshots`,
/// `Mode::Engines`), once per round, and prints the sizes and the cost relative to the
/// engines' own time in the same run.
fn snapshots(args: &Args, bench: &Bench) {
    let runs: Vec<SnapshotStats> = (0..args.rounds)
        .map(|_| {
            let (run, stats) = bench
                .scenario
                .run_snapshots(bench.setup(), Mode::Engines, None)
                .expect("runs with snapshots");
            assert!(run.finished && run.outcomes.len() == bench.scenario.queued());
            stats
        })
        .collect();
    let st = &runs[0];
    println!(
        "Session snapshots (both engines saved to JSON and restored after every message they \
         handle; sizes are `serde_json::to_vec` bytes, deterministic):\n"
    );
    println!("| snapshot | count | max (bytes) | mean (bytes) |");
    println!("|---|---:|---:|---:|");
    println!(
        "| server, without the last response | {} | {} | {:.0} |",
        st.server.len(),
        st.server_max(),
        st.server_mean()
    );
    let mean_with =
        st.server.iter().map(|s| s.json).sum::<usize>() as f64 / st.server.len().max(1) as f64;
    println!(
        "| server, last response included | {} | {} | {mean_with:.0} |",
        st.server.len(),
        st.server_max_with_response()
    );
    let dmean = st.device.iter().sum::<usize>() as f64 / st.device.len().max(1) as f64;
    println!(
        "| device | {} | {} | {dmean:.0} |",
        st.device.len(),
        st.device_max()
    );
    let ratio = |f: fn(&SnapshotStats) -> f64| {
        let r: Vec<f64> = runs.iter().map(f).collect();
        let (lo, hi) = range(&r);
        format!("{:.2}x [{lo:.2}-{hi:.2}]", median(&r))
    };
    println!(
        "\nSnapshot + `to_vec` + `from_slice` + `restore` time over the engine's own `handle` \
         time in the same run (wall time, `Instant`; median of {} runs [min-max]): server {}, \
         device {}, both {}.\n",
        runs.len(),
        ratio(SnapshotStats::server_ratio),
        ratio(SnapshotStats::device_ratio),
        ratio(SnapshotStats::ratio)
    );
}
