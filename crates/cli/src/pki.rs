//! `winmdm pki` subcommands: issue a device certificate for a CSR, create a development CA.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use winmdm_enroll::pki::{
    CaError, CertificateAuthority, Csr, CsrPolicy, IssueOptions, Subject, default_rng,
};

use crate::report;

const DAY: u64 = 24 * 3600;

/// `winmdm pki` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Verify a CSR (DER, PEM or base64) and issue a device certificate for its key. The
    /// subject is the one given here, never the CSR's. Prints the PEM certificate.
    Issue {
        /// The certificate request (DER, PEM or base64 as in a BinarySecurityToken).
        #[arg(long)]
        csr: PathBuf,
        /// The CA certificate (PEM).
        #[arg(long)]
        ca_cert: PathBuf,
        /// The CA private key (PEM, PKCS#8 or PKCS#1 RSA).
        #[arg(long)]
        ca_key: PathBuf,
        /// Subject of the issued certificate, RFC 4514 (e.g. `CN=<DeviceID>`).
        #[arg(long)]
        subject: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Write the certificate here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create a self-signed RSA development CA: writes DIR/ca-cert.pem and DIR/ca-key.pem
    /// (existing files are not overwritten).
    DevCa {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Subject of the CA certificate.
        #[arg(long, default_value = "CN=winmdm development CA")]
        subject: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
        /// RSA key size in bits.
        #[arg(long, default_value_t = 3072)]
        bits: usize,
    },
}

/// A failure: the exit code ([`report::INVALID`] or [`report::USAGE`]) and the formatted
/// message.
type Failure = (u8, String);

fn invalid(message: String) -> Failure {
    (report::INVALID, message)
}

fn usage(message: String) -> Failure {
    (report::USAGE, message)
}

/// Runs one `winmdm pki` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    let result = match cmd {
        Cmd::Issue {
            csr,
            ca_cert,
            ca_key,
            subject,
            days,
            out,
        } => issue(&csr, &ca_cert, &ca_key, &subject, days, out.as_deref()),
        Cmd::DevCa {
            out,
            subject,
            days,
            bits,
        } => dev_ca(&out, &subject, days, bits),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}

/// The label of the first PEM block (`CERTIFICATE`, `PRIVATE KEY`...), if the text has one.
fn pem_label(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let rest = &text[text.find("-----BEGIN ")? + "-----BEGIN ".len()..];
    Some(rest[..rest.find("-----")?].trim().to_string())
}

/// The name of the root element when the bytes are XML (after a BOM, declaration, comments).
fn xml_root(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    // An HTTP header block in front of the XML, as in captures.
    if !rest.starts_with('<') {
        let i = rest.find("\n<")?;
        if !rest[..i].contains("HTTP/") && !rest[..i].contains(':') {
            return None;
        }
        rest = &rest[i + 1..];
    }
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>")?.1;
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->")?.1;
        } else {
            break;
        }
    }
    let name: String = rest
        .strip_prefix('<')?
        .chars()
        .take_while(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'))
        .collect();
    (!name.is_empty()).then_some(name)
}

fn is_key_label(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

/// Reads and checks `--csr`: a PKCS#10 request, not an enrollment message or another PEM.
fn read_csr(path: &Path) -> Result<Csr, Failure> {
    let bytes = report::read(path).map_err(invalid)?;
    let wrong = |what: String| invalid(report::file(path, &format!("--csr: {what}")));
    if let Some(root) = xml_root(&bytes) {
        let local = root.rsplit(':').next().unwrap_or(&root);
        return Err(wrong(
            if local == "Envelope"
                && String::from_utf8_lossy(&bytes).contains("RequestSecurityToken")
            {
                "this is a whole RequestSecurityToken (WSTEP enrollment message), not a certificate \
             request; the request is the base64 text of its <wsse:BinarySecurityToken>: save that \
             text alone and pass it"
                .to_string()
            } else {
                format!(
                    "an XML document (root <{root}>), not a certificate request (PKCS#10 as DER, PEM \
                 or base64)"
                )
            },
        ));
    }
    if let Some(label) = pem_label(&bytes)
        && !label.ends_with("CERTIFICATE REQUEST")
    {
        return Err(wrong(format!(
            "a PEM {label}, not a certificate request (-----BEGIN CERTIFICATE REQUEST-----)"
        )));
    }
    Csr::from_any(&bytes, &CsrPolicy::default())
        .map_err(|e| wrong(format!("not a usable certificate request: {e}")))
}

/// Reads `--ca-cert` and `--ca-key`, saying which file is wrong (and when they are swapped).
fn read_ca(cert_path: &Path, key_path: &Path) -> Result<CertificateAuthority, Failure> {
    let cert = report::read(cert_path).map_err(usage)?;
    let key = report::read(key_path).map_err(usage)?;
    let (cert_label, key_label) = (pem_label(&cert), pem_label(&key));
    let swapped = cert_label.as_deref().is_some_and(is_key_label)
        && key_label.as_deref() == Some("CERTIFICATE");
    if swapped {
        return Err(usage(report::file(
            cert_path,
            &format!(
                "--ca-cert holds a private key and --ca-key ({}) a certificate: the two are \
                 swapped",
                key_path.display()
            ),
        )));
    }
    match cert_label.as_deref() {
        Some("CERTIFICATE") => {}
        Some(l) => {
            return Err(usage(report::file(
                cert_path,
                &format!(
                    "--ca-cert: a PEM {l}, not the CA certificate (-----BEGIN CERTIFICATE-----)"
                ),
            )));
        }
        None => {
            return Err(usage(report::file(
                cert_path,
                "--ca-cert: not a PEM certificate (-----BEGIN CERTIFICATE-----)",
            )));
        }
    }
    match key_label.as_deref() {
        Some(l) if is_key_label(l) => {}
        Some(l) => {
            return Err(usage(report::file(
                key_path,
                &format!(
                    "--ca-key: a PEM {l}, not the CA private key (-----BEGIN PRIVATE KEY----- or \
                     RSA PRIVATE KEY)"
                ),
            )));
        }
        None => {
            return Err(usage(report::file(
                key_path,
                "--ca-key: not a PEM private key (-----BEGIN PRIVATE KEY-----)",
            )));
        }
    }
    let text = |b: Vec<u8>, p: &Path| {
        String::from_utf8(b).map_err(|_| usage(report::file(p, "not UTF-8 text")))
    };
    let (cert, key) = (text(cert, cert_path)?, text(key, key_path)?);
    CertificateAuthority::from_pem(&cert, &key).map_err(|e| {
        usage(match e {
            CaError::Key(_) => report::file(key_path, &format!("--ca-key: {e}")),
            CaError::KeyMismatch => report::file(
                key_path,
                &format!(
                    "--ca-key is not the key of the CA certificate {} ({e})",
                    cert_path.display()
                ),
            ),
            _ => report::file(cert_path, &format!("--ca-cert: {e}")),
        })
    })
}

/// Parses `--subject`, saying what is wrong with it.
fn subject_arg(s: &str) -> Result<Subject, Failure> {
    Subject::try_from(s).map_err(|_| {
        usage(format!(
            "error: --subject {s:?} is not an RFC 4514 name: {}; write TYPE=VALUE pairs \
             separated by commas, e.g. CN=<DeviceID> or CN=device1,O=Example",
            subject_problem(s)
        ))
    })
}

/// What is wrong with a subject the x509 parser refused (it says only "operation failed").
fn subject_problem(s: &str) -> String {
    const TYPES: [&str; 11] = [
        "CN",
        "O",
        "OU",
        "L",
        "ST",
        "C",
        "DC",
        "UID",
        "STREET",
        "SERIALNUMBER",
        "EMAILADDRESS",
    ];
    if s.trim().is_empty() {
        return "it is empty".to_string();
    }
    for part in s.split(',') {
        let Some((ty, value)) = part.split_once('=') else {
            return format!("{:?} has no '=' (TYPE=VALUE)", part.trim());
        };
        let ty = ty.trim();
        let oid = !ty.is_empty()
            && ty
                .split('.')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if ty.is_empty() {
            return format!("{:?} has no attribute type before '='", part.trim());
        }
        if !oid && !TYPES.iter().any(|t| t.eq_ignore_ascii_case(ty)) {
            return format!(
                "{ty:?} is not a known attribute type ({}, or a dotted OID)",
                TYPES.join(", ")
            );
        }
        if value.is_empty() {
            return format!("{ty} has an empty value");
        }
    }
    "a value holds a character that must be escaped (\\, +, \", <, >, ;)".to_string()
}

fn issue(
    csr: &Path,
    ca_cert: &Path,
    ca_key: &Path,
    subject: &str,
    days: u32,
    out: Option<&Path>,
) -> Result<(), Failure> {
    let subject = subject_arg(subject)?;
    let request = read_csr(csr)?;
    let ca = read_ca(ca_cert, ca_key)?;
    let mut options = IssueOptions::default();
    options.validity = Duration::from_secs(u64::from(days) * DAY);
    let cert = ca
        .issue(
            &request,
            &subject,
            &options,
            SystemTime::now(),
            &mut default_rng(),
        )
        .map_err(|e| invalid(report::file(csr, &format!("--csr: cannot issue: {e}"))))?;
    let pem = cert.to_pem();
    match out {
        Some(path) => std::fs::write(path, pem)
            .map_err(|e| invalid(report::file(path, &report::io_message(&e))))?,
        None => std::io::stdout()
            .lock()
            .write_all(pem.as_bytes())
            .map_err(|e| invalid(format!("error: standard output: {e}")))?,
    }
    eprintln!(
        "issued {subject} serial {} thumbprint {} (CSR CN {:?}, DeviceID {:?})",
        cert.serial_hex(),
        cert.thumbprint(),
        request.common_name().unwrap_or_default(),
        request.device_id().unwrap_or("-"),
    );
    Ok(())
}

fn write_new(path: &Path, contents: &str, private: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let fail = |e: std::io::Error| invalid(report::file(path, &report::io_message(&e)));
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(contents.as_bytes()).map_err(fail)
}

fn dev_ca(dir: &Path, subject: &str, days: u32, bits: usize) -> Result<(), Failure> {
    let subject = subject_arg(subject)?;
    let cert_path = dir.join("ca-cert.pem");
    let key_path = dir.join("ca-key.pem");
    for p in [&cert_path, &key_path] {
        if p.exists() {
            return Err(usage(report::file(p, "already exists (not overwritten)")));
        }
    }
    let ca = CertificateAuthority::generate_dev(
        &subject,
        bits,
        SystemTime::now(),
        Duration::from_secs(u64::from(days) * DAY),
        &mut default_rng(),
    )
    .map_err(|e| usage(format!("error: --bits {bits}: {e}")))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| invalid(report::file(dir, &report::io_message(&e))))?;
    let key_pem = ca
        .private_key_pem()
        .map_err(|e| invalid(format!("error: {e}")))?;
    write_new(&key_path, &key_pem, true)?;
    write_new(&cert_path, &ca.certificate_pem(), false)?;
    eprintln!(
        "wrote {} and {} (thumbprint {})",
        cert_path.display(),
        key_path.display(),
        ca.thumbprint()
    );
    Ok(())
}
