//! Issue 12, "tools that never pass a typo": the real `winmdm` binary on real files (the
//! repository's test data) and on small crafted typos, asserting exit codes and messages.
//!
//! The rule under test (`winmdm --help`): errors are `FILE:LINE:COL: error: MESSAGE`,
//! `FILE: error: MESSAGE` or `error: MESSAGE`; exit 0 ok, 1 invalid input or lint errors,
//! 2 usage.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_winmdm"))
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn syncml_data(rel: &str) -> PathBuf {
    repo("crates/syncml/tests/data").join(rel)
}

/// A real WSTEP RequestSecurityToken (a SOAP envelope), from the enrollment test data.
fn rst() -> PathBuf {
    repo(
        "crates/enroll/tests/data/messages/published/ms-mde2-spec_4.3.1.1_rst-federated-v5-full-context.xml",
    )
}

/// A real Windows 10 CSR (PEM), from the enrollment test data.
fn csr() -> PathBuf {
    repo("crates/enroll/tests/data/pki/win10-19045-device-rst.csr.pem")
}

/// A directory of its own for this test's crafted files.
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("winmdm-cli-typos-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&str], files: &[&Path]) -> Output {
    bin().args(args).args(files).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const NODE: &str = "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart";

fn command(name: &str, uri: &str, data: &str) -> String {
    format!(
        "<{name}><CmdID>1</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>{data}</Data></Item></{name}>"
    )
}

// ---- syncml check / fmt / json -------------------------------------------------------------

#[test]
fn syncml_check_refuses_what_is_neither_a_message_nor_a_fragment() {
    let d = scratch("check");
    let foo = write(&d, "foo.xml", "<foo/>");
    let x = write(
        &d,
        "syncmlx.xml",
        "<SyncMLX xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr/></SyncMLX>",
    );
    let tail = write(
        &d,
        "tail.xml",
        &format!("{}\n  <foo/>", command("Replace", NODE, "8")),
    );
    let soap = rst();
    let o = run(&["syncml", "check"], &[&soap, &foo, &x, &tail]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "nothing is ok");
    let e = stderr(&o);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(
        lines[0].starts_with(&format!(
            "{}:1:1: error: <s:Envelope> is not SyncML",
            soap.display()
        )),
        "{e}"
    );
    assert!(lines[0].contains("winmdm enroll check"), "{e}");
    assert!(
        lines[1].starts_with(&format!(
            "{}:1:1: error: <foo> is not SyncML",
            foo.display()
        )),
        "{e}"
    );
    assert!(
        lines[2].contains("syncmlx.xml:1:1: error: <SyncMLX>"),
        "{e}"
    );
    assert!(lines[2].ends_with("(did you mean <SyncML>?)"), "{e}");
    assert!(
        lines[3].starts_with(&format!(
            "{}:2:3: error: <foo> is not a SyncML command",
            tail.display()
        )),
        "{e}"
    );
}

#[test]
fn syncml_check_fragment_flag_and_real_files() {
    let message = syncml_data("fleet/real/07-device-syncml-session1.xml");
    let fragment = syncml_data("published/wifi-csp_04_atomic-add-wlanxml-escaped.xml");
    let o = run(&["syncml", "check"], &[&message, &fragment]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["syncml", "check", "--fragment"], &[&fragment]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ok: command fragment, 1 command(s)"));
    let o = run(&["syncml", "check", "--fragment"], &[&message, &fragment]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("07-device-syncml-session1.xml:1:1: error: <SyncML> is a whole message, not a command fragment (drop --fragment)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("wifi-csp_04"),
        "the good file is still checked"
    );
    // A Microsoft snippet that is a bare SyncBody is neither.
    let body = syncml_data("published/ms-mdm-spec_3.1.5.1.1_add-chr.xml");
    let o = run(&["syncml", "check"], &[&body]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error: <SyncBody> is not SyncML"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn syncml_errors_have_one_position_and_the_same_text_in_every_subcommand() {
    let bad = syncml_data("published/enterprise-app-management_08_exec-addlicense.xml");
    let want = format!(
        "{}:10:46: error: malformed XML: end tag </Data> does not match the open <License> (at Exec/Item/Data/License)\n",
        bad.display()
    );
    for sub in ["check", "json", "fmt"] {
        let o = run(&["syncml", sub], &[&bad]);
        assert_eq!(o.status.code(), Some(1), "{sub}");
        assert_eq!(stderr(&o), want, "{sub}");
        assert_eq!(stdout(&o), "", "{sub}");
    }
    // json and fmt refuse what check refuses.
    for sub in ["json", "fmt"] {
        let o = run(&["syncml", sub], &[&rst()]);
        assert_eq!(o.status.code(), Some(1), "{sub}");
        assert!(
            stderr(&o).contains(":1:1: error: <s:Envelope> is not SyncML"),
            "{sub}"
        );
    }
}

#[test]
fn syncml_check_reports_every_missing_file_and_goes_on() {
    let good = syncml_data("fleet/real/07-device-syncml-session1.xml");
    let missing = Path::new("no-such-file.xml");
    let o = run(&["syncml", "check"], &[missing, &good]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "no-such-file.xml: error: No such file or directory\n"
    );
    assert!(stdout(&o).contains("07-device-syncml-session1.xml: ok"));
}

// ---- csp lint --------------------------------------------------------------------------------

#[test]
fn csp_lint_reports_misspelled_commands_and_what_they_hold() {
    let d = scratch("lint");
    let replce = write(&d, "replce.xml", &command("Replce", NODE, "30"));
    let atomc = write(
        &d,
        "atomc.xml",
        &format!(
            "<Atomc><CmdID>1</CmdID>\n{}</Atomc>",
            command("Replace", NODE, "30")
        ),
    );
    let o = run(&["csp", "lint"], &[&replce, &atomc]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{}:1:1: error[unknown-command]: unknown element <Replce> where a command belongs; did you mean <Replace>?",
                replce.display()
            ),
            format!(
                "{}:1:47: error[not-allowed]: 30 is outside [0-23] for {NODE}",
                replce.display()
            ),
            format!(
                "{}:1:1: error[unknown-command]: unknown element <Atomc> where a command belongs; did you mean <Atomic>?",
                atomc.display()
            ),
            format!(
                "{}:2:48: error[not-allowed]: 30 is outside [0-23] for {NODE}",
                atomc.display()
            ),
        ]
    );
    assert!(stderr(&o).contains("2 file(s): 4 error(s), 0 warning(s)"));
}

#[test]
fn csp_lint_refuses_a_soap_envelope() {
    let o = run(&["csp", "lint"], &[&rst()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(&format!(
            "{}:1:1: error[unknown-command]: <s:Envelope> is a SOAP envelope, not SyncML",
            rst().display()
        )),
        "{}",
        stdout(&o)
    );
}

#[test]
fn csp_lint_goes_on_after_a_missing_file() {
    let d = scratch("missing");
    let good = write(&d, "good.xml", &command("Replace", NODE, "8"));
    let bad = write(&d, "bad.xml", &command("Replace", NODE, "30"));
    let missing = d.join("missing.xml");
    let o = run(&["csp", "lint"], &[&missing, &good, &bad]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!(
            "{}: error: No such file or directory\n",
            missing.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("3 file(s): 1 error(s), 0 warning(s), 1 file(s) not read"),
        "{e}"
    );
    assert!(
        stdout(&o).contains("bad.xml:1:48: error[not-allowed]"),
        "{}",
        stdout(&o)
    );
    // A missing file alone fails too.
    let o = run(&["csp", "lint"], &[&missing, &good]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
}

#[test]
fn csp_lint_refuses_malformed_option_values() {
    let d = scratch("options");
    let good = write(&d, "good.xml", &command("Replace", NODE, "8"));
    for (flag, value, want) in [
        (
            "--os-build",
            "foo",
            "error: --os-build \"foo\" is not an OS build: expected major.minor.build[.revision], e.g. 10.0.19045 or 10.0.19045.3803\n",
        ),
        (
            "--os-build",
            "19045",
            "error: --os-build \"19045\" is not an OS build: expected major.minor.build[.revision], e.g. 10.0.19045 or 10.0.19045.3803\n",
        ),
        (
            "--edition",
            "zz",
            "error: --edition \"zz\" is not a number (0x30 or 48)\n",
        ),
    ] {
        let o = run(&["csp", "lint", flag, value], &[&good]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert_eq!(stderr(&o), want);
        assert_eq!(stdout(&o), "");
    }
    let o = run(&["csp", "lint", "--os-build", "10.0.19045.3803"], &[&good]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A build too old for the node is a finding (exit 1), not a usage error.
    let o = run(&["csp", "lint", "--os-build", "10.0.10240"], &[&good]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("error[os-build]"), "{}", stdout(&o));
}

#[test]
fn csp_placeholder_build_is_not_in_any_released_build() {
    let d = scratch("placeholder");
    let node =
        "./Device/Vendor/MSFT/Policy/Config/Update/ConfigureDeadlineNoAutoRebootForFeatureUpdates";
    let p = write(&d, "p.xml", &command("Replace", node, "1"));
    let o = run(&["csp", "lint", "--os-build", "10.0.26100"], &[&p]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("error[os-build]: ") && out.contains("is not in any released Windows build"),
        "{out}"
    );
    assert!(!out.contains("needs OS build 99.9.99999"), "{out}");
    let o = bin().args(["csp", "describe", node]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains(
            "os build       99.9.99999 (Microsoft's placeholder: not in any released build)"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn csp_lint_decode_errors_have_one_position() {
    let d = scratch("decode");
    let p = write(
        &d,
        "broken.xml",
        "<Replace><CmdID>1</CmdID>\n<Item><Data>a</Dat></Item></Replace>",
    );
    let o = run(&["csp", "lint"], &[&p]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!(
            "{}:2:14: error[decode]: malformed XML: end tag </Dat> does not match the open <Data> (at Replace/Item/Data)\n",
            p.display()
        )
    );
}

// ---- pki -----------------------------------------------------------------------------------

/// A development CA made once by `winmdm pki dev-ca`.
fn dev_ca() -> &'static (PathBuf, PathBuf) {
    static CA: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CA.get_or_init(|| {
        let d = scratch("ca");
        let o = bin()
            .args(["pki", "dev-ca", "--bits", "2048", "--out"])
            .arg(&d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        (d.join("ca-cert.pem"), d.join("ca-key.pem"))
    })
}

fn issue(csr: &Path, cert: &Path, key: &Path, subject: &str) -> Output {
    bin()
        .args(["pki", "issue", "--csr"])
        .arg(csr)
        .arg("--ca-cert")
        .arg(cert)
        .arg("--ca-key")
        .arg(key)
        .args(["--subject", subject])
        .output()
        .unwrap()
}

#[test]
fn pki_issue_works_and_says_which_file_is_wrong() {
    let (cert, key) = dev_ca();
    let o = issue(&csr(), cert, key, "CN=device1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("-----BEGIN CERTIFICATE-----"));

    // --ca-cert and --ca-key swapped.
    let o = issue(&csr(), key, cert, "CN=device1");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "{}: error: --ca-cert holds a private key and --ca-key ({}) a certificate: the two are swapped\n",
            key.display(),
            cert.display()
        )
    );

    // A whole RequestSecurityToken given as --csr.
    let o = issue(&rst(), cert, key, "CN=device1");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!(
            "{}: error: --csr: this is a whole RequestSecurityToken",
            rst().display()
        )),
        "{e}"
    );
    assert!(e.contains("BinarySecurityToken"), "{e}");

    // A certificate given as --csr.
    let o = issue(cert, cert, key, "CN=device1");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error: --csr: a PEM CERTIFICATE, not a certificate request"),
        "{}",
        stderr(&o)
    );

    // A missing --csr.
    let o = issue(Path::new("no-such.csr"), cert, key, "CN=device1");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "no-such.csr: error: No such file or directory\n"
    );
}

#[test]
fn pki_bad_subjects_say_what_is_wrong() {
    let (cert, key) = dev_ca();
    for (subject, why) in [
        ("bogus", "\"bogus\" has no '=' (TYPE=VALUE)"),
        ("", "it is empty"),
        ("CN=a,FOO=b", "\"FOO\" is not a known attribute type"),
    ] {
        let o = issue(&csr(), cert, key, subject);
        assert_eq!(o.status.code(), Some(2), "{subject:?}");
        let e = stderr(&o);
        assert!(
            e.starts_with(&format!(
                "error: --subject {subject:?} is not an RFC 4514 name: {why}"
            )),
            "{e}"
        );
        assert!(!e.contains("operation failed"), "{e}");
    }
    let o = bin()
        .args(["pki", "dev-ca", "--subject", "bogus", "--out"])
        .arg(scratch("bad-subject"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("\"bogus\" has no '='"),
        "{}",
        stderr(&o)
    );
}

// ---- the other subcommands follow the same rule ------------------------------------------------

#[test]
fn enroll_and_omadm_use_the_same_format() {
    let o = bin()
        .args(["enroll", "check", "no-such.xml"])
        .arg(rst())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "no-such.xml: error: No such file or directory\n"
    );
    assert!(stdout(&o).contains(": ok ("), "{}", stdout(&o));
    let d = scratch("enroll");
    let bad = write(
        &d,
        "bad.xml",
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/>",
    );
    let o = bin().args(["enroll", "check"]).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!("{}:1:", bad.display()))
            && stderr(&o).contains(": error: "),
        "{}",
        stderr(&o)
    );
    let o = bin()
        .args(["omadm", "replay", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "no-such-dir: error: No such file or directory\n"
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_the_rule() {
    let o = bin()
        .args(["syncml", "check", "--nope", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    let o = bin().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    assert!(help.contains("FILE:LINE:COL: error: MESSAGE"), "{help}");
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  usage"), "{help}");
}
