//! The one error format and exit-code rule of every subcommand.
//!
//! Errors go to standard error as `FILE:LINE:COL: error: MESSAGE` when they have a position,
//! `FILE: error: MESSAGE` when they concern a file as a whole (missing, unreadable, wrong
//! kind) and `error: MESSAGE` when they concern the command line. `csp lint` findings add
//! the rule: `FILE:LINE:COL: error[RULE]: MESSAGE` (or `warning[RULE]`).
//!
//! Exit codes: 0 success; 1 an input (a FILE argument, `pki issue --csr`, the directory of
//! `omadm replay`) is missing, unreadable or invalid, or `csp lint` found an error; 2 the
//! command cannot run as asked: a usage error (clap's), a malformed option value
//! (`--os-build foo`, `--edition zz`, `--subject bogus`), or a file that configures the
//! command (`--ddf`, `--admx`, `--ca-cert`, `--ca-key`) that cannot be used. Commands that
//! take several files go on after a bad one and report each.

use std::path::Path;
use std::process::ExitCode;

/// Exit code 1: an input is invalid (or lint found errors).
pub(crate) const INVALID: u8 = 1;
/// Exit code 2: usage.
pub(crate) const USAGE: u8 = 2;

/// Text shown at the end of `winmdm --help`.
pub(crate) const HELP: &str = "Errors (on standard error):
  FILE:LINE:COL: error: MESSAGE   at a position in FILE
  FILE: error: MESSAGE            about FILE as a whole (missing, unreadable, wrong kind)
  error: MESSAGE                  about the command line
  csp lint findings add the rule: FILE:LINE:COL: error[RULE]: MESSAGE (or warning[RULE])

Exit codes:
  0  success
  1  an input (a FILE argument, pki issue --csr, omadm replay's DIR) is missing, unreadable
     or invalid, or csp lint found an error; commands that take several files report every
     bad one and go on with the others
  2  usage: the command line is wrong, an option value is malformed (--os-build, --edition,
     --subject, --bits...), or a file that configures the command (--ddf, --admx, --ca-cert,
     --ca-key) cannot be used";

/// `FILE:LINE:COL: error: MESSAGE`.
pub(crate) fn at(file: &Path, line: usize, column: usize, message: &str) -> String {
    format!("{}:{line}:{column}: error: {message}", file.display())
}

/// `FILE: error: MESSAGE`.
pub(crate) fn file(file: &Path, message: &str) -> String {
    format!("{}: error: {message}", file.display())
}

/// Reads a file; the error is [`file()`]-formatted.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| file(path, &io_message(&e)))
}

/// An IO error without Rust's `(os error N)` suffix.
pub(crate) fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Prints `error: MESSAGE` and returns exit code 2.
pub(crate) fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE)
}

/// Exit code 0 or 1.
pub(crate) fn status(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(INVALID)
    } else {
        ExitCode::SUCCESS
    }
}
