//! `winmdm syncml` subcommands: check, fmt, json.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use winmdm_syncml::{
    Command, CommandKind, DecodeError, DecodeErrorKind, DecodeOptions, EncodeOptions, QuirkSeen,
    SyncML, encode_commands,
};

use crate::report;

/// `winmdm syncml` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Decode each file; print `FILE: ok: ...` for each good one; exit 0 when every file
    /// decodes, else print each error with its position and exit 1. A file is a SyncML
    /// message (root `<SyncML>`) or a command fragment (a profile) whose top-level elements
    /// are all SyncML commands (Add, Alert, Atomic, Copy, Delete, Exec, Get, Replace,
    /// Results, Sequence, Status); anything else (a SOAP envelope, `<foo/>`, `<SyncMLX>`, an
    /// unknown element among the commands of a message or fragment) is an error.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Strict SyncML: no quirks tolerated, unknown elements rejected.
        #[arg(long)]
        strict: bool,
        /// The files are command fragments: a `<SyncML>` message is then an error too.
        #[arg(long)]
        fragment: bool,
    },
    /// Decode then encode, indented (same acceptance as `check`).
    Fmt {
        /// The file.
        file: PathBuf,
        /// The file is a command fragment.
        #[arg(long)]
        fragment: bool,
    },
    /// Print the decoded message as JSON (same acceptance as `check`).
    Json {
        /// The file.
        file: PathBuf,
        /// The file is a command fragment.
        #[arg(long)]
        fragment: bool,
    },
}

/// Runs one `winmdm syncml` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Check {
            files,
            strict,
            fragment,
        } => check(&files, strict, fragment),
        Cmd::Fmt { file, fragment } => with_decoded(&file, fragment, |d| {
            let mut out = std::io::stdout().lock();
            let r = match d {
                Doc::Message(m) => m.encode_with(&mut out, &EncodeOptions::pretty()),
                Doc::Commands(c) => encode_commands(&c, &mut out, &EncodeOptions::pretty()),
            };
            r.map_err(|e| e.to_string())
        }),
        Cmd::Json { file, fragment } => with_decoded(&file, fragment, |d| {
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

/// The SyncML commands.
const COMMANDS: &str =
    "Add, Alert, Atomic, Copy, Delete, Exec, Get, Replace, Results, Sequence, Status";

/// Why a file is not accepted, and where.
struct Rejected {
    message: String,
    line: usize,
    column: usize,
}

impl Rejected {
    fn decode(e: &DecodeError) -> Self {
        Rejected {
            message: decode_message(e),
            line: e.line,
            column: e.column,
        }
    }

    fn print(&self, file: &Path) -> String {
        report::at(file, self.line, self.column, &self.message)
    }
}

/// A decode error's message with the element path, without the position (printed in front).
pub(crate) fn decode_message(e: &DecodeError) -> String {
    if e.path.is_empty() {
        e.kind.to_string()
    } else {
        format!("{} (at {})", e.kind, e.path)
    }
}

/// A [`DecodeError`] as `FILE:LINE:COL: error: MESSAGE (at PATH)`.
pub(crate) fn decode_error(file: &Path, e: &DecodeError) -> String {
    report::at(file, e.line, e.column, &decode_message(e))
}

/// Decodes a whole message, or a command fragment when the root is a command (or when
/// `fragment` says so); refuses anything whose top-level elements are not all commands.
fn decode_any<'a>(
    opts: &DecodeOptions,
    bytes: &'a [u8],
    fragment: bool,
) -> Result<(Doc<'a>, Vec<QuirkSeen>), Rejected> {
    let (doc, quirks) = if fragment {
        let d = opts
            .decode_commands_report(bytes)
            .map_err(|e| match &e.kind {
                DecodeErrorKind::UnexpectedRoot(root) if local(root) == "SyncML" => Rejected {
                    message: format!(
                        "<{root}> is a whole message, not a command fragment (drop --fragment)"
                    ),
                    ..Rejected::decode(&e)
                },
                _ => Rejected::decode(&e),
            })?;
        (Doc::Commands(d.commands), d.quirks)
    } else {
        match opts.decode_report(bytes) {
            Ok(d) => (Doc::Message(Box::new(d.message)), d.quirks),
            Err(e) => match &e.kind {
                DecodeErrorKind::UnexpectedRoot(root) if is_command(root) => {
                    let d = opts
                        .decode_commands_report(bytes)
                        .map_err(|e| Rejected::decode(&e))?;
                    (Doc::Commands(d.commands), d.quirks)
                }
                DecodeErrorKind::UnexpectedRoot(root) => {
                    return Err(Rejected {
                        message: not_syncml(root, true),
                        ..Rejected::decode(&e)
                    });
                }
                _ => return Err(Rejected::decode(&e)),
            },
        }
    };
    let commands = match &doc {
        Doc::Message(m) => &m.body.commands,
        Doc::Commands(c) => c,
    };
    if let Some(Command::Unknown(r)) = commands.iter().find(|c| c.kind().is_none()) {
        let offset = offset_in(bytes, &r.xml, &r.name);
        let text = String::from_utf8_lossy(bytes);
        let p = winmdm_ddf::Position::locate(&text, offset);
        let message = not_syncml(&r.name, false);
        return Err(Rejected {
            message,
            line: p.line,
            column: p.column,
        });
    }
    Ok((doc, quirks))
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn is_command(name: &str) -> bool {
    !name.contains(':') && CommandKind::from_name(name).is_some()
}

/// The message for an element that is neither `<SyncML>` nor a command: the root of the
/// file (`root`) or one among the commands of a fragment.
fn not_syncml(name: &str, root: bool) -> String {
    let hint = match local(name) {
        "Envelope" => {
            " (a SOAP envelope: enrollment messages are checked by `winmdm enroll check`)"
                .to_string()
        }
        "SyncBody" | "SyncHdr" => " (a part of a message: a message is one <SyncML> element \
             holding SyncHdr and SyncBody)"
            .to_string(),
        l if l.to_ascii_lowercase().starts_with("syncml") => {
            " (did you mean <SyncML>?)".to_string()
        }
        l => match near_command(l) {
            Some(c) if c.eq_ignore_ascii_case(l) => {
                format!(" (did you mean <{c}>? element names are case-sensitive)")
            }
            Some(c) => format!(" (did you mean <{c}>?)"),
            None => String::new(),
        },
    };
    if root {
        format!(
            "<{name}> is not SyncML: the root is <SyncML> for a message, or a command \
             ({COMMANDS}) for a fragment{hint}"
        )
    } else {
        format!("<{name}> is not a SyncML command ({COMMANDS}){hint}")
    }
}

/// The command `name` is a near miss of ([`CommandKind::near_miss`]).
fn near_command(name: &str) -> Option<&'static str> {
    winmdm_syncml::CommandKind::near_miss(name).map(winmdm_syncml::CommandKind::as_str)
}

/// Byte offset of `xml` (a slice the decoder borrowed from `bytes`) in `bytes`; when it was
/// not borrowed (transcoded input), the first start tag `<name` in the text.
fn offset_in(bytes: &[u8], xml: &str, name: &str) -> usize {
    let start = bytes.as_ptr() as usize;
    let at = xml.as_ptr() as usize;
    if at >= start && at + xml.len() <= start + bytes.len() {
        return at - start;
    }
    String::from_utf8_lossy(bytes)
        .find(&format!("<{name}"))
        .unwrap_or(0)
}

fn check(files: &[PathBuf], strict: bool, fragment: bool) -> ExitCode {
    let opts = if strict {
        DecodeOptions::strict()
    } else {
        DecodeOptions::default()
    };
    let mut failed = false;
    for f in files {
        let bytes = match report::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        match decode_any(&opts, &bytes, fragment) {
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
                eprintln!("{}", e.print(f));
            }
        }
    }
    report::status(failed)
}

fn with_decoded(
    file: &Path,
    fragment: bool,
    f: impl FnOnce(Doc<'_>) -> Result<(), String>,
) -> ExitCode {
    let bytes = match report::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return report::status(true);
        }
    };
    match decode_any(&DecodeOptions::default(), &bytes, fragment) {
        Ok((doc, _)) => match f(doc) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}", report::file(file, &e));
                report::status(true)
            }
        },
        Err(e) => {
            eprintln!("{}", e.print(file));
            report::status(true)
        }
    }
}
