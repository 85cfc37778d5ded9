//! `winmdm pki` subcommands: issue a device certificate for a CSR, create a development CA.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use winmdm_enroll::pki::{
    CertificateAuthority, Csr, CsrPolicy, IssueOptions, Subject, default_rng,
};

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
        Err(e) => {
            eprintln!("winmdm pki: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read(path)?).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

fn issue(
    csr: &Path,
    ca_cert: &Path,
    ca_key: &Path,
    subject: &str,
    days: u32,
    out: Option<&Path>,
) -> Result<(), String> {
    let request = Csr::from_any(&read(csr)?, &CsrPolicy::default())
        .map_err(|e| format!("{}: {e}", csr.display()))?;
    let ca = CertificateAuthority::from_pem(&read_text(ca_cert)?, &read_text(ca_key)?)
        .map_err(|e| e.to_string())?;
    let subject = Subject::try_from(subject).map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())?;
    let pem = cert.to_pem();
    match out {
        Some(path) => std::fs::write(path, pem).map_err(|e| format!("{}: {e}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(pem.as_bytes())
            .map_err(|e| e.to_string())?,
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

fn write_new(path: &Path, contents: &str, private: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn dev_ca(dir: &Path, subject: &str, days: u32, bits: usize) -> Result<(), String> {
    let subject = Subject::try_from(subject).map_err(|e| e.to_string())?;
    let cert_path = dir.join("ca-cert.pem");
    let key_path = dir.join("ca-key.pem");
    for p in [&cert_path, &key_path] {
        if p.exists() {
            return Err(format!("{}: already exists", p.display()));
        }
    }
    let ca = CertificateAuthority::generate_dev(
        &subject,
        bits,
        SystemTime::now(),
        Duration::from_secs(u64::from(days) * DAY),
        &mut default_rng(),
    )
    .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_new(
        &key_path,
        &ca.private_key_pem().map_err(|e| e.to_string())?,
        true,
    )?;
    write_new(&cert_path, &ca.certificate_pem(), false)?;
    eprintln!(
        "wrote {} and {} (thumbprint {})",
        cert_path.display(),
        key_path.display(),
        ca.thumbprint()
    );
    Ok(())
}
