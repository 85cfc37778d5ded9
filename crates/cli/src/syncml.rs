//! `winmdm syncml` subcommands: check, fmt, json.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use winmdm_syncml::{
    Command, DecodeError, DecodeErrorKind, DecodeOptions, EncodeOptions, QuirkSeen, SyncML,
    encode_commands,
};

/// `winmdm syncml` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Decode each file; exit 0 when every file decodes, else print each error with its
    /// position and exit 1. Files whose root is not `<SyncML>` are decoded as command
    /// fragments (profiles).
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Strict SyncML: no quirks tolerated, unknown elements rejected.
        #[arg(long)]
        strict: bool,
    },
    /// Decode then encode, indented.
    Fmt {
        /// The file.
        file: PathBuf,
    },
    /// Print the decoded message as JSON.
    Json {
        /// The file.
        file: PathBuf,
    },
}

/// Runs one `winmdm syncml` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Check { files, strict } => check(&files, strict),
        Cmd::Fmt { file } => with_decoded(&file, |d| {
            let mut out = std::io::stdout().lock();
            let r = match d {
                Doc::Message(m) => m.encode_with(&mut out, &EncodeOptions::pretty()),
                Doc::Commands(c) => encode_commands(&c, &mut out, &EncodeOptions::pretty()),
            };
            r.map_err(|e| e.to_string())
        }),
        Cmd::Json { file } => with_decoded(&file, |d| {
            let json = match d {
                Doc::Message(m) => serde_json::to_string_pretty(&m),
                Doc::Commands(c) => serde_json::to_string_pretty(&c),
            };
            let json = json.map_err(|e| e.to_string())?;
            writeln!(std::io::stdout().lock(), "{json}").map_err(|e| e.to_string())
        }),
    }
}

enum Doc<'a> {
    Message(Box<SyncML<'a>>),
    Commands(Vec<Command<'a>>),
}

/// Decodes a whole message, or a command fragment when the root is not `<SyncML>`.
fn decode_any<'a>(
    opts: &DecodeOptions,
    bytes: &'a [u8],
) -> Result<(Doc<'a>, Vec<QuirkSeen>), DecodeError> {
    match opts.decode_report(bytes) {
        Ok(d) => Ok((Doc::Message(Box::new(d.message)), d.quirks)),
        Err(e) if matches!(e.kind, DecodeErrorKind::UnexpectedRoot(_)) => {
            let d = opts.decode_commands_report(bytes)?;
            Ok((Doc::Commands(d.commands), d.quirks))
        }
        Err(e) => Err(e),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn check(files: &[PathBuf], strict: bool) -> ExitCode {
    let opts = if strict {
        DecodeOptions::strict()
    } else {
        DecodeOptions::default()
    };
    let mut failed = false;
    for f in files {
        let bytes = match read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        match decode_any(&opts, &bytes) {
            Ok((doc, quirks)) => {
                let what = match &doc {
                    Doc::Message(m) => format!(
                        "SyncML message, {} command(s){}",
                        m.body.commands.len(),
                        if m.body.r#final { ", Final" } else { "" }
                    ),
                    Doc::Commands(c) => format!("command fragment, {} command(s)", c.len()),
                };
                let quirks = if quirks.is_empty() {
                    String::new()
                } else {
                    let names: Vec<String> =
                        quirks.iter().map(|q| format!("{:?}", q.quirk)).collect();
                    format!(" (quirks: {})", names.join(", "))
                };
                println!("{}: ok: {what}{quirks}", f.display());
            }
            Err(e) => {
                failed = true;
                let at = if e.path.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", e.path)
                };
                eprintln!(
                    "{}:{}:{}: error{at}: {} (byte {})",
                    f.display(),
                    e.line,
                    e.column,
                    e.kind,
                    e.offset
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn with_decoded(file: &Path, f: impl FnOnce(Doc<'_>) -> Result<(), String>) -> ExitCode {
    let bytes = match read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match decode_any(&DecodeOptions::default(), &bytes) {
        Ok((doc, _)) => match f(doc) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!(
                "{}:{}:{}: error: {}",
                file.display(),
                e.line,
                e.column,
                e.kind
            );
            ExitCode::FAILURE
        }
    }
}
