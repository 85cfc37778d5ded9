//! `winmdm enroll` subcommands: check, json, provisioning-doc.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use winmdm_enroll::{
    Message, MessageError, ProvisioningDoc, WapNode, is_discovery_probe, split_http,
};

use crate::report;

/// `winmdm enroll` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Decode each enrollment message (Discover, DiscoverResponse, GetPolicies,
    /// GetPoliciesResponse, RequestSecurityToken, RSTRC, SOAP fault, wap-provisioningdoc),
    /// detected by its root and body element. An HTTP header block in front of the XML is
    /// skipped. Exit 0 when every file decodes, else print `FILE:LINE:COL: error: ...` and exit 1.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the decoded message as JSON (secrets redacted).
    Json {
        /// The file.
        file: PathBuf,
    },
    /// Decode a wap-provisioningdoc (XML, base64, or the RSTRC envelope carrying it) and
    /// print its characteristic tree.
    ProvisioningDoc {
        /// The file.
        file: PathBuf,
    },
}

/// Runs one `winmdm enroll` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Check { files } => check(&files),
        Cmd::Json { file } => with_file(&file, |bytes| {
            let msg = Message::decode_capture(bytes).map_err(|e| positioned(&file, &e))?;
            let json = serde_json::to_string_pretty(&msg)
                .map_err(|e| report::file(&file, &e.to_string()))?;
            writeln!(std::io::stdout().lock(), "{json}")
                .map_err(|e| format!("error: standard output: {e}"))
        }),
        Cmd::ProvisioningDoc { file } => with_file(&file, |bytes| {
            let doc = provisioning_doc(bytes).map_err(|e| positioned(&file, &e))?;
            let mut out = std::io::stdout().lock();
            print_doc(&mut out, &doc).map_err(|e| format!("error: standard output: {e}"))
        }),
    }
}

fn positioned(file: &Path, e: &MessageError) -> String {
    report::at(file, e.line, e.column, &e.kind.to_string())
}

fn with_file(file: &Path, f: impl FnOnce(&[u8]) -> Result<(), String>) -> ExitCode {
    let bytes = match report::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return report::status(true);
        }
    };
    match f(&bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            report::status(true)
        }
    }
}

/// What `check` recognised.
fn check_one(bytes: &[u8]) -> Result<String, MessageError> {
    let split = split_http(bytes);
    if let Some(line) = split.start_line {
        let mut parts = line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let rest = &bytes[split.body_offset..];
        if is_discovery_probe(method, path) && !rest.contains(&b'<') {
            return Ok("discovery GET probe".to_owned());
        }
    }
    if !bytes.contains(&b'<') && !bytes.iter().all(u8::is_ascii_whitespace) {
        // A base64 provisioning document (the RSTR token content).
        return ProvisioningDoc::decode_base64_or_xml(bytes)
            .map(|_| "wap-provisioningdoc (base64)".to_owned());
    }
    Message::decode_capture(bytes).map(|m| m.kind().to_owned())
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for file in files {
        let bytes = match report::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        match check_one(&bytes) {
            Ok(kind) => {
                let _ = writeln!(out, "{}: ok ({kind})", file.display());
            }
            Err(e) => {
                eprintln!("{}", positioned(file, &e));
                failed = true;
            }
        }
    }
    report::status(failed)
}

fn provisioning_doc(bytes: &[u8]) -> Result<ProvisioningDoc, MessageError> {
    let start = split_http(bytes).body_offset;
    let body = &bytes[start..];
    if let Ok(Message::RequestSecurityTokenResponseCollection(env)) = Message::decode_capture(bytes)
        && let Some(r) = env.body.responses.first()
    {
        return r.provisioning_doc();
    }
    ProvisioningDoc::decode_base64_or_xml(body).map_err(|mut e| {
        // Positions refer to the body; shift to the file.
        let shifted = MessageError {
            offset: e.offset + start,
            ..e.clone()
        };
        if start > 0 {
            let lines = bytes[..start].iter().filter(|&&b| b == b'\n').count();
            e = MessageError {
                line: e.line + lines,
                ..shifted
            };
        }
        e
    })
}

fn print_doc(out: &mut impl Write, doc: &ProvisioningDoc) -> std::io::Result<()> {
    match &doc.version {
        Some(v) => writeln!(out, "wap-provisioningdoc version={v}")?,
        None => writeln!(out, "wap-provisioningdoc (fragment)")?,
    }
    for n in &doc.items {
        print_node(out, n, 1)?;
    }
    Ok(())
}

fn print_node(out: &mut impl Write, n: &WapNode, depth: usize) -> std::io::Result<()> {
    let indent = "  ".repeat(depth);
    match n {
        WapNode::Characteristic(c) => {
            writeln!(out, "{indent}{}", c.type_)?;
            for ch in &c.children {
                print_node(out, ch, depth + 1)?;
            }
        }
        WapNode::Parm(p) => {
            let value = match (&p.value, p.name.as_str()) {
                (Some(_), "AAUTHSECRET") => "<redacted>".to_owned(),
                (Some(v), _) if v.chars().count() > 72 => {
                    let head: String = v.chars().take(60).collect();
                    format!("{head}... ({} chars)", v.chars().count())
                }
                (Some(v), _) => v.clone(),
                (None, _) => "(no value)".to_owned(),
            };
            match &p.datatype {
                Some(d) => writeln!(out, "{indent}{} = {value} [{}]", p.name, d.0)?,
                None => writeln!(out, "{indent}{} = {value}", p.name)?,
            }
        }
    }
    Ok(())
}
