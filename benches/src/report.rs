//! What `bench-report` and `session-report` share: command-line arguments, the thread's CPU
//! clock, medians and ranges, and a description of the machine.

use std::time::Instant;

/// The reports' arguments: `--rounds N` and `--secs S` (seconds per measurement).
#[derive(Debug, Clone, Copy)]
pub struct Args {
    /// Rounds, each measuring every case once.
    pub rounds: usize,
    /// Seconds per measurement.
    pub secs: f64,
}

impl Args {
    /// Parses the process's arguments over the defaults; prints the usage of `bin` and
    /// exits with status 2 on anything else.
    pub fn parse(bin: &str, rounds: usize, secs: f64) -> Args {
        let mut a = Args { rounds, secs };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next();
            let parsed = value.as_deref().and_then(|v| v.parse::<f64>().ok());
            match (flag.as_str(), parsed) {
                ("--rounds", Some(v)) if v >= 1.0 => a.rounds = v as usize,
                ("--secs", Some(v)) if v > 0.0 => a.secs = v,
                _ => {
                    eprintln!("usage: {bin} [--rounds N] [--secs SECONDS_PER_MEASUREMENT]");
                    std::process::exit(2);
                }
            }
        }
        a
    }
}

/// The median of `v` (NaN for an empty slice).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The smallest and largest value of `v`.
pub fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The CPU's `model name` from `/proc/cpuinfo`, or `unknown`.
pub fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The three load averages from `/proc/loadavg` (empty where unreadable).
pub fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU time consumed by this thread so far, in seconds, if the kernel tells
/// (`/proc/thread-self/schedstat`, updated every scheduler tick).
pub fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Runs `f` once, timed: (wall seconds, thread CPU seconds, or wall seconds where the CPU
/// clock is unreadable).
pub fn timed(f: impl FnOnce()) -> (f64, f64) {
    let cpu0 = thread_cpu_secs();
    let start = Instant::now();
    f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    (wall, cpu)
}

/// [`timed`] over `n` calls of `f`.
pub fn measure(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    timed(|| {
        for _ in 0..n {
            f();
        }
    })
}
