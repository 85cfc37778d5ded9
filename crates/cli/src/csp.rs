//! `winmdm csp` subcommands: describe, lint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use winmdm_csp::admx::{AdmxLimits, AdmxSet};
use winmdm_csp::{
    Allowed, Catalog, LintError, LintOptions, LookupError, Match, Severity, UNRELEASED_OS_BUILD,
};

use crate::report;

const NO_DEFINITIONS: &str = "no CSP definitions: this winmdm was built without winmdm-csp's CSP \
     features; pass --ddf FILE_OR_DIR";

/// `winmdm csp` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Cmd {
    /// Print the definition of the node a LocURI addresses: format, access, allowed values,
    /// default, applicability, description. Exit 1 if no node matches.
    Describe {
        /// The LocURI, e.g. ./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart
        locuri: String,
        /// Also load these DDF files (or every .xml in these folders); their definitions
        /// replace built-in ones for the same paths.
        #[arg(long = "ddf", value_name = "PATH")]
        ddf: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check profiles (top-level Replace/Add/Exec/Delete/Atomic commands, or whole SyncML
    /// messages) against the CSP definitions: LocURI, AccessType, Meta Format, values, allowed
    /// values, ADMX shape, unescaped markup in Data, Atomic-required nodes, applicability.
    /// Exit 1 if any file has an error or cannot be read (every file is linted; warnings
    /// alone exit 0); exit 2 on a malformed option value or an unusable --ddf/--admx file.
    Lint {
        /// Profile files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also load these DDF files (or every .xml in these folders).
        #[arg(long = "ddf", value_name = "PATH")]
        ddf: Vec<PathBuf>,
        /// Load these ADMX files (or every .admx in these folders, e.g. a PolicyDefinitions
        /// folder) and check the data element ids and enum/decimal values of ADMX-backed
        /// nodes whose .admx file is loaded (rule admx-data).
        #[arg(long = "admx", value_name = "PATH")]
        admx: Vec<PathBuf>,
        /// Device OS build to check applicability against: major.minor.build[.revision],
        /// e.g. 10.0.19045.3803 (anything else is refused, exit 2).
        #[arg(long)]
        os_build: Option<String>,
        /// Device edition (PRODUCT_* id, hex 0x30 or decimal) to check applicability against.
        #[arg(long)]
        edition: Option<String>,
        /// Print JSON (one array of findings) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `winmdm csp` subcommand.
pub(crate) fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Describe { locuri, ddf, json } => describe(&locuri, &ddf, json),
        Cmd::Lint {
            files,
            ddf,
            admx,
            os_build,
            edition,
            json,
        } => lint(&files, &ddf, &admx, os_build, edition, json),
    }
}

fn lint(
    files: &[PathBuf],
    ddf: &[PathBuf],
    admx: &[PathBuf],
    os_build: Option<String>,
    edition: Option<String>,
    json: bool,
) -> ExitCode {
    let catalog = match catalog(ddf) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => return report::usage(NO_DEFINITIONS),
        Err(e) => return usage_file_error(&e),
    };
    let mut options = match admx_set(admx) {
        Ok(set) => LintOptions::default().with_admx(set),
        Err(e) => return usage_file_error(&e),
    };
    if let Some(b) = os_build {
        options = match options.try_with_os_build(b.as_str()) {
            Ok(o) => o,
            Err(_) => {
                return report::usage(&format!(
                    "--os-build {b:?} is not an OS build: expected major.minor.build[.revision], \
                     e.g. 10.0.19045 or 10.0.19045.3803"
                ));
            }
        };
    }
    if let Some(e) = edition {
        match winmdm_ddf::parse_u32(&e) {
            Some(v) => options = options.with_edition(v),
            None => {
                return report::usage(&format!("--edition {e:?} is not a number (0x30 or 48)"));
            }
        }
    }
    let (mut errors, mut warnings, mut unreadable) = (0usize, 0usize, 0usize);
    let mut all = Vec::new();
    for f in files {
        let bytes = match report::read(f) {
            Ok(b) => b,
            Err(e) => {
                // Report it and go on with the other files.
                eprintln!("{e}");
                unreadable += 1;
                continue;
            }
        };
        let findings = match winmdm_csp::lint_profile(&catalog, &bytes, &options) {
            Ok(f) => f,
            Err(LintError::EmptyCatalog) => return report::usage(NO_DEFINITIONS),
            Err(e) => return report::usage(&e.to_string()),
        };
        for x in findings {
            match x.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            if json {
                all.push(serde_json::json!({
                    "file": f.display().to_string(),
                    "line": x.line,
                    "column": x.column,
                    "offset": x.offset,
                    "severity": if x.severity == Severity::Error { "error" } else { "warning" },
                    "rule": x.rule.code(),
                    "command": x.command,
                    "locuri": x.locuri,
                    "message": x.message,
                }));
            } else {
                out(&format!("{}:{x}", f.display()));
            }
        }
    }
    if json {
        out(&serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        let skipped = if unreadable > 0 {
            format!(", {unreadable} file(s) not read")
        } else {
            String::new()
        };
        eprintln!(
            "{} file(s): {errors} error(s), {warnings} warning(s){skipped}",
            files.len()
        );
    }
    report::status(errors > 0 || unreadable > 0)
}

/// An unusable `--ddf` / `--admx` file (already formatted with its name): exit 2.
fn usage_file_error(e: &str) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(report::USAGE)
}

fn ddf_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    files_with_extension(path, "xml")
}

/// `path` itself, or the files in folder `path` whose extension is `ext` (ASCII case ignored).
fn files_with_extension(path: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)))
        .collect();
    out.sort();
    Ok(out)
}

/// The ADMX files given with `--admx` (files, or every `.admx` in folders), keyed by file name.
/// The error is formatted as `FILE[:LINE:COL]: error: ...`.
fn admx_set(paths: &[PathBuf]) -> Result<AdmxSet, String> {
    let mut set = AdmxSet::new();
    for p in paths {
        let files = files_with_extension(p, "admx")
            .map_err(|e| report::file(p, &report::io_message(&e)))?;
        if files.is_empty() {
            return Err(report::file(p, "no .admx files in this folder (--admx)"));
        }
        for f in files {
            let bytes = report::read(&f)?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            set.parse_and_insert(&name, &bytes, &AdmxLimits::default())
                .map_err(|e| {
                    report::at(&f, e.position.line, e.position.column, &e.kind.to_string())
                })?;
        }
    }
    Ok(set)
}

/// The built-in catalog plus the DDF files given with `--ddf`. The error is formatted as
/// `FILE[:LINE:COL]: error: ...`.
fn catalog(ddf: &[PathBuf]) -> Result<Catalog, String> {
    let mut c = Catalog::builtin();
    for p in ddf {
        for f in ddf_files(p).map_err(|e| report::file(p, &report::io_message(&e)))? {
            let bytes = report::read(&f)?;
            let tree = winmdm_ddf::parse(&bytes).map_err(|e| {
                let what = if e.path.is_empty() {
                    e.kind.to_string()
                } else {
                    format!("{} (in {})", e.kind, e.path)
                };
                report::at(&f, e.position.line, e.position.column, &what)
            })?;
            let bad = c.add_ddf(&tree, &f.display().to_string());
            for b in bad {
                eprintln!(
                    "{}: warning: malformed <Path> {b:?}, its nodes are not indexed",
                    f.display()
                );
            }
        }
    }
    Ok(c)
}

fn allowed_text(a: &Allowed) -> Vec<String> {
    match a {
        Allowed::Enum(e) | Allowed::Flag(e) => {
            let mut v = vec![a.value_type().to_string()];
            for x in e.iter() {
                match &x.description {
                    Some(d) => v.push(format!("  {} = {}", x.value, one_line(d))),
                    None => v.push(format!("  {}", x.value)),
                }
            }
            v
        }
        Allowed::Range(r) => {
            let parts: Vec<String> = r
                .iter()
                .map(|(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            vec![format!("Range [{}]", parts.join(","))]
        }
        Allowed::RegEx(s) => vec![format!("RegEx {s}")],
        Allowed::Admx { area, name, file } => {
            vec![format!("ADMX policy {name} in {file} (area {area})")]
        }
        Allowed::Xsd(s) | Allowed::Json(s) => {
            let mut v = vec![a.value_type().to_string()];
            v.extend(
                s.lines()
                    .map(|l| format!("  {l}"))
                    .filter(|l| !l.trim().is_empty()),
            );
            v
        }
        Allowed::Other { value_type, value } => {
            vec![
                format!("{value_type} {}", value.as_deref().unwrap_or(""))
                    .trim_end()
                    .to_string(),
            ]
        }
        Allowed::Unspecified => vec!["(not specified in the DDF)".to_string()],
        other => vec![other.value_type().to_string()],
    }
}

/// Writes to stdout, ignoring errors (a closed pipe, as in `| head`, is not a failure).
fn out(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.write_all(b"\n");
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(locuri: &str, ddf: &[PathBuf], json: bool) -> ExitCode {
    let catalog = match catalog(ddf) {
        Ok(c) => c,
        Err(e) => return usage_file_error(&e),
    };
    if catalog.is_empty() {
        return report::usage(NO_DEFINITIONS);
    }
    let m = match catalog.lookup(locuri) {
        Ok(m) => m,
        Err(e) => {
            match &e {
                LookupError::NotFound { known, .. } if !known.is_empty() => {
                    eprintln!("error: {e}");
                    if let Ok(k) = catalog.lookup(known) {
                        let kids = catalog.children(&k);
                        if !kids.is_empty() {
                            eprintln!("children of {known}: {}", kids.join(", "));
                        }
                    }
                }
                _ => eprintln!("error: {e}"),
            }
            return ExitCode::FAILURE;
        }
    };
    // Policy/Result/{Area}/{Policy}: describe the Config definition it reports on.
    let config = catalog.policy_config_of_result(&m);
    if json {
        let mut v: serde_json::Value =
            serde_json::from_str(&to_json(&catalog, &m)).unwrap_or_default();
        if let Some(c) = &config {
            v["result_of"] = serde_json::from_str(&to_json(&catalog, c)).unwrap_or_default();
        }
        out(&serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_text(&catalog, &m);
        if let Some(c) = &config {
            out("");
            out(&format!(
                "result of      {} (Get returns its effective value):",
                c.template()
            ));
            print_text(&catalog, c);
        }
    }
    ExitCode::SUCCESS
}

fn print_text(catalog: &Catalog, m: &Match<'_>) {
    let d = m.def;
    let row = |k: &str, v: &str| out(&format!("{k:<15}{v}"));
    row("node", &m.template());
    row(
        "defined in",
        &format!("{} ({})", m.table.source, m.table.csp),
    );
    if m.case_insensitive {
        row("note", "matched ignoring case; the DDF spells it as above");
    }
    for b in &m.bindings {
        row(
            "dynamic",
            &format!(
                "{} = {}",
                b.title.as_deref().unwrap_or("{}"),
                m.segments[b.segment]
            ),
        );
    }
    row("format", d.format.as_str());
    row("access", &d.access.to_string());
    let allowed = allowed_text(&d.allowed);
    for (i, l) in allowed.iter().enumerate() {
        row(if i == 0 { "allowed" } else { "" }, l);
    }
    if let Some(l) = &d.list_delimiter {
        row("list", &format!("values separated by {l:?}"));
    }
    if let Some(v) = &d.default {
        row("default", v);
    }
    if let Some(v) = &d.mime
        && !v.is_empty()
    {
        row("type", v);
    }
    let extras: Vec<String> = [
        ("occurrence", &d.occurrence),
        ("scope", &d.scope),
        ("case", &d.case_sense),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
    .collect();
    if !extras.is_empty() {
        row("", &extras.join(", "));
    }
    let a = catalog.applicability(m);
    if let Some(v) = &a.os_build {
        row("os build", &os_build_text(a, v));
    }
    if let Some(v) = &a.csp_version {
        row("csp version", v);
    }
    if let Some(v) = &a.editions
        && !v.is_empty()
    {
        row("editions", v);
    }
    if a.requires_azure_ad {
        row("requires", "Azure AD join");
    }
    if let Some(v) = &d.conflict_resolution {
        row("conflict", v);
    }
    if d.atomic_required {
        row("atomic", "must be set inside an Atomic command");
    }
    if let Some(v) = &d.reboot {
        row("reboot", v);
    }
    if let Some(v) = &d.deprecated {
        row("deprecated", if v.is_empty() { "yes" } else { v });
    }
    if let Some(v) = &d.description {
        row("description", &one_line(v));
    }
    let kids = catalog.children(m);
    if !kids.is_empty() {
        row("children", &kids.join(", "));
    }
}

/// The OsBuildVersion as shown, with Microsoft's placeholder build explained.
fn os_build_text(a: &winmdm_csp::Applicability, v: &str) -> String {
    if a.is_unreleased() {
        format!("{v} (Microsoft's placeholder: not in any released build)")
    } else if v.contains(UNRELEASED_OS_BUILD) {
        let released: Vec<&str> = a.released_os_builds().collect();
        format!(
            "{} ({UNRELEASED_OS_BUILD}, Microsoft's placeholder for an unreleased build, left out)",
            released.join(", ")
        )
    } else {
        v.to_string()
    }
}

fn to_json(catalog: &Catalog, m: &Match<'_>) -> String {
    use serde_json::json;
    let d = m.def;
    let a = catalog.applicability(m);
    let allowed = match &d.allowed {
        Allowed::Enum(e) | Allowed::Flag(e) => json!({
            "type": d.allowed.value_type(),
            "values": e.iter().map(|x| json!({"value": x.value, "description": x.description})).collect::<Vec<_>>(),
        }),
        Allowed::Range(r) => {
            json!({"type": "Range", "intervals": r.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()})
        }
        Allowed::RegEx(s) | Allowed::Xsd(s) | Allowed::Json(s) => {
            json!({"type": d.allowed.value_type(), "value": s})
        }
        Allowed::Admx { area, name, file } => {
            json!({"type": "ADMX", "area": area, "name": name, "file": file})
        }
        Allowed::Other { value_type, value } => json!({"type": value_type, "value": value}),
        other => json!({"type": other.value_type()}),
    };
    let v = json!({
        "node": m.template(),
        "source": m.table.source,
        "csp": m.table.csp,
        "case_insensitive_match": m.case_insensitive,
        "dynamic": m.bindings.iter().map(|b| json!({"title": b.title, "segment": m.segments[b.segment]})).collect::<Vec<_>>(),
        "format": d.format.as_str(),
        "access": d.access.names().collect::<Vec<_>>(),
        "allowed": allowed,
        "list_delimiter": d.list_delimiter,
        "default": d.default,
        "mime": d.mime,
        "occurrence": d.occurrence,
        "scope": d.scope,
        "case_sense": d.case_sense,
        "applicability": {
            "os_build": a.os_build, "csp_version": a.csp_version, "editions": a.editions,
            "requires_azure_ad": a.requires_azure_ad,
            "unreleased": a.is_unreleased(),
        },
        "conflict_resolution": d.conflict_resolution,
        "atomic_required": d.atomic_required,
        "reboot": d.reboot,
        "deprecated": d.deprecated,
        "description": d.description,
        "children": catalog.children(m),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendored() -> Catalog {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../csp/ddf");
        catalog(&[dir.clone(), dir.join("policy-areas")]).expect("vendored DDF files load")
    }

    #[test]
    fn describe_text_of_range_enum_and_admx_nodes() {
        let c = vendored();
        let m = c
            .lookup("./Vendor/MSFT/Policy/Config/Update/ActiveHoursStart")
            .unwrap();
        assert_eq!(allowed_text(&m.def.allowed), ["Range [0-23]"]);
        let m = c
            .lookup("./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring")
            .unwrap();
        assert_eq!(allowed_text(&m.def.allowed)[0], "ENUM");
        assert!(allowed_text(&m.def.allowed)[1].starts_with("  0 = Not allowed."));
        let m = c.lookup("./Device/Vendor/MSFT/Policy/Config/ADMX_AppCompat/AppCompatTurnOffProgramCompatibilityAssistant_2").unwrap();
        assert_eq!(
            allowed_text(&m.def.allowed),
            [
                "ADMX policy AppCompatTurnOffProgramCompatibilityAssistant_2 in AppCompat.admx (area AppCompat~AT~WindowsComponents~AppCompat)"
            ]
        );
    }

    #[test]
    fn describe_json_has_the_definition() {
        let c = vendored();
        let m = c
            .lookup("./Vendor/MSFT/DMClient/Provider/MDM/EntDMID")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&to_json(&c, &m)).unwrap();
        assert_eq!(
            v["node"],
            "./Device/Vendor/MSFT/DMClient/Provider/{ProviderID}/EntDMID"
        );
        assert_eq!(v["format"], "chr");
        assert_eq!(v["dynamic"][0]["segment"], "MDM");
        assert_eq!(v["applicability"]["os_build"], "10.0.10240");
    }

    #[test]
    fn lint_exit_codes() {
        let ddf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../csp/ddf/policy-areas/Update_AreaDDF.xml");
        let dir = std::env::temp_dir().join(format!("winmdm-csp-lint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.xml");
        let bad = dir.join("bad.xml");
        let node = "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart";
        let p = |v: &str| {
            format!(
                "<Replace><CmdID>1</CmdID><Item><Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Target><LocURI>{node}</LocURI></Target><Data>{v}</Data></Item></Replace>"
            )
        };
        std::fs::write(&good, p("8")).unwrap();
        std::fs::write(&bad, p("30")).unwrap();
        let d = std::slice::from_ref(&ddf);
        assert_eq!(
            lint(std::slice::from_ref(&good), d, &[], None, None, false),
            ExitCode::SUCCESS
        );
        assert_eq!(
            lint(&[good.clone(), bad.clone()], d, &[], None, None, true),
            ExitCode::FAILURE
        );
        assert_eq!(
            lint(
                std::slice::from_ref(&good),
                d,
                &[],
                Some("10.0.10240".into()),
                None,
                false
            ),
            ExitCode::FAILURE
        );
        assert_eq!(
            lint(
                std::slice::from_ref(&good),
                d,
                &[],
                None,
                Some("pro".into()),
                false
            ),
            ExitCode::from(2)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lint_with_admx_files() {
        let csp = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../csp");
        let ddf = [csp.join("ddf/BitLocker.xml")];
        let admx_dir = csp.join("tests/data/admx");
        let set = admx_set(std::slice::from_ref(&admx_dir)).unwrap();
        assert_eq!(
            set.file_names().collect::<Vec<_>>(),
            ["TerminalServer.admx", "VolumeEncryption.admx"]
        );
        let dir = std::env::temp_dir().join(format!("winmdm-csp-admx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let profile = |name: &str, id: &str| {
            let p = dir.join(name);
            std::fs::write(
                &p,
                format!(
                    "<Replace><CmdID>1</CmdID><Item><Meta><Format xmlns=\"syncml:metinf\">chr</Format></Meta><Target><LocURI>./Device/Vendor/MSFT/BitLocker/FixedDrivesEncryptionType</LocURI></Target><Data>&lt;enabled/&gt;&lt;data id=\"{id}\" value=\"1\"/&gt;</Data></Item></Replace>"
                ),
            )
            .unwrap();
            p
        };
        let good = profile("good.xml", "FDVEncryptionTypeDropDown_Name");
        let bad = profile("bad.xml", "FDVEncryptionType_Name");
        let a = std::slice::from_ref(&admx_dir);
        assert_eq!(
            lint(std::slice::from_ref(&good), &ddf, a, None, None, false),
            ExitCode::SUCCESS
        );
        assert_eq!(
            lint(std::slice::from_ref(&bad), &ddf, a, None, None, true),
            ExitCode::FAILURE
        );
        // Without --admx the wrong id is not detected (shape only).
        assert_eq!(
            lint(std::slice::from_ref(&bad), &ddf, &[], None, None, false),
            ExitCode::SUCCESS
        );
        // A single file works too; a malformed .admx or an empty folder is a usage error.
        let one = [admx_dir.join("VolumeEncryption.admx")];
        assert_eq!(
            lint(std::slice::from_ref(&bad), &ddf, &one, None, None, false),
            ExitCode::FAILURE
        );
        let broken = dir.join("Broken.admx");
        std::fs::write(&broken, "<policyDefinitions><policies>").unwrap();
        assert!(
            admx_set(std::slice::from_ref(&broken))
                .unwrap_err()
                .contains("Broken.admx:1:")
        );
        assert_eq!(
            lint(
                std::slice::from_ref(&good),
                &ddf,
                &[broken],
                None,
                None,
                false
            ),
            ExitCode::from(2)
        );
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(
            lint(
                std::slice::from_ref(&good),
                &ddf,
                &[empty],
                None,
                None,
                false
            ),
            ExitCode::from(2)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn exit_codes() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../csp/ddf/Reboot.xml");
        assert_eq!(
            describe(
                "./Device/Vendor/MSFT/Reboot/RebootNow",
                std::slice::from_ref(&dir),
                false
            ),
            ExitCode::SUCCESS
        );
        assert_eq!(
            describe(
                "./Device/Vendor/MSFT/Reboot/Nope",
                std::slice::from_ref(&dir),
                true
            ),
            ExitCode::FAILURE
        );
        assert_eq!(
            describe("./x", &[PathBuf::from("/nonexistent.xml")], false),
            ExitCode::from(2)
        );
    }
}
