//! `cargo xtask bench seccheck [--size-mb 256] [--reps 3] [--db DIR] [--lock FILE]
//! [--no-secrets]`:
//!
//! - `seccheck secrets` over a generated bot log on one core (target: at least 200 MB/s),
//!   watching two environment values, with one real secret planted near the end;
//!   `rg -c -F VALUE` (a single literal, the least any scanner must do) and
//!   `detect-secrets scan` (Yelp's, from PyPI: `$DETECT_SECRETS` or on PATH) timed beside it;
//! - the labelled corpus of soak artifacts (`seccheck::corpus`, written and scored by the
//!   `corpus` example): recall, precision and time of `seccheck secrets` with and without the
//!   exchange variables watched, and of `detect-secrets scan --all-files`, as a table;
//! - `seccheck deps` on a real ~400-package Cargo.lock (default: zola 0.16.0's, a fixture)
//!   against a full RustSec advisory-db checkout (`--db` or `$SECCHECK_BENCH_DB`), beside
//!   `cargo audit --no-fetch --no-yanked --db DIR` on the same inputs, both on one core
//!   (target: seccheck at least 2x faster). Skipped, with the reason, when either is absent.
//!
//! `cargo xtask audit-compare --db DIR --lock FILE` (`run(["compare", ...])`) runs both tools
//! once on the same inputs and checks they report the same advisory ids for the same
//! packages, vulnerabilities and informational warnings alike.

use std::io::Write;
use std::process::Command;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::logscan::{generate, pinned, which};
use super::measure::{measure, measure_status, median, release_build};

const SECRET: &str = "Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q8V";

/// Runs the benchmark (or, with a first argument `compare`, the cargo-audit comparison).
pub fn run(args: &[String]) -> Result<()> {
    if args.first().is_some_and(|a| a == "compare") {
        return compare_main(&args[1..]);
    }
    let (mut size_mb, mut reps) = (256u64, 3usize);
    let mut db = std::env::var_os("SECCHECK_BENCH_DB").map(PathBuf::from);
    let mut lock = default_lock()?;
    let mut secrets = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--size-mb" => size_mb = val()?.parse()?,
            "--reps" => reps = val()?.parse()?,
            "--db" => db = Some(PathBuf::from(val()?)),
            "--lock" => lock = PathBuf::from(val()?),
            "--no-secrets" => secrets = false,
            other => bail!(
                "unknown option '{other}' (cargo xtask bench seccheck [--size-mb N] [--reps R] [--db DIR] [--lock FILE] [--no-secrets])"
            ),
        }
    }
    let bin = release_build(&["seccheck"])?;
    if secrets {
        bench_corpus(&bin)?;
        bench_secrets(&bin, size_mb, reps)?;
    }
    bench_deps(&bin, db.as_deref(), &lock, reps.max(5))
}

fn bench_secrets(bin: &Path, size_mb: u64, reps: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("seccheck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("service.log");
    let mut bytes = generate(&log, size_mb)?;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log)?;
    let planted =
        format!("2025-10-30 00:00:00,000 - bot - DEBUG - Loaded credentials api_secret={SECRET}\n");
    f.write_all(planted.as_bytes())?;
    bytes += planted.len() as u64;
    let mb = bytes as f64 / 1e6;
    let mut walls = Vec::new();
    for _ in 0..reps {
        let c = measure_status(
            pinned(&bin.join("seccheck"))
                .args([
                    "secrets",
                    "--env",
                    "BYBIT_API_KEY,BYBIT_API_SECRET",
                    "--format",
                    "jsonl",
                ])
                .arg(&log)
                .env("BYBIT_API_SECRET", SECRET)
                .env("BYBIT_API_KEY", "benchkey12345678"),
            &[1],
        )?;
        walls.push(c.wall_s);
    }
    let s = median(walls);
    println!(
        "seccheck secrets: {mb:.0} MB log, one core: median {s:.3} s = {:.0} MB/s (target >= 200 MB/s)",
        mb / s
    );
    if let Some(rg) = which("rg") {
        let mut rg_walls = Vec::new();
        for _ in 0..reps {
            let mut c: Command = pinned(&rg);
            c.args(["-c", "-F", "-j1", "--no-mmap", SECRET]).arg(&log);
            rg_walls.push(measure(&mut c)?.wall_s);
        }
        let r = median(rg_walls);
        println!(
            "rg -c -F <the one value>: median {r:.3} s = {:.0} MB/s; seccheck/rg time {:.2}x",
            mb / r,
            s / r
        );
    } else {
        println!("rg not on PATH (Debian package ripgrep): no side-by-side figure");
    }
    match detect_secrets() {
        Some(ds) => {
            // detect-secrets scans nothing outside its working directory: run it beside the log.
            let mut c = pinned(&ds);
            c.current_dir(&dir)
                .args(["scan", "--all-files", "service.log"]);
            let d = measure(&mut c)?.wall_s;
            println!(
                "detect-secrets scan (one run): {d:.1} s = {:.1} MB/s; detect-secrets/seccheck time {:.0}x",
                mb / d,
                d / s
            );
        }
        None => println!("{NO_DETECT_SECRETS}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

const NO_DETECT_SECRETS: &str = "detect-secrets not found ($DETECT_SECRETS or PATH; python3 -m venv V && V/bin/pip install detect-secrets): no side-by-side figure";

/// detect-secrets: `$DETECT_SECRETS`, else on PATH.
fn detect_secrets() -> Option<PathBuf> {
    std::env::var_os("DETECT_SECRETS")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| which("detect-secrets"))
}

/// The `corpus score` example's line: how a tool's findings measure against the corpus.
#[derive(Debug, Deserialize)]
struct CorpusScore {
    /// Planted secrets with a finding on one of their lines.
    found: u64,
    /// Planted secrets.
    planted: u64,
    /// Recall, 0..=1.
    recall: f64,
    /// Precision, 0..=1.
    precision: f64,
    /// Findings elsewhere.
    false_findings: u64,
    /// What was missed (`file:line what`).
    missed: Vec<String>,
}

/// One row of the corpus table: a tool's score (from the `corpus score` example) and time.
struct Row {
    tool: String,
    score: CorpusScore,
    wall_s: f64,
}

/// Runs `cmd`, saves its stdout to `report`, and scores it against the corpus as `tool`.
fn scored(corpus: &Path, dir: &Path, cmd: &mut Command, tool: &str, label: &str) -> Result<Row> {
    let started = std::time::Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let wall_s = started.elapsed().as_secs_f64();
    let report = dir.with_file_name(format!("{}.out", label.replace(' ', "_")));
    std::fs::write(&report, &out.stdout)?;
    let score = Command::new(corpus)
        .arg("score")
        .arg(dir)
        .args(["22", tool])
        .arg(&report)
        .output()?;
    if !score.status.success() {
        bail!(
            "corpus score {label}: {}",
            String::from_utf8_lossy(&score.stderr)
        );
    }
    Ok(Row {
        tool: label.into(),
        score: serde_json::from_slice(&score.stdout).context("corpus score output")?,
        wall_s,
    })
}

/// The labelled corpus: seccheck (with and without the exchange variables) and detect-secrets,
/// recall, precision and time side by side.
fn bench_corpus(bin: &Path) -> Result<()> {
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "seccheck",
            "--example",
            "corpus",
        ])
        .status()?;
    if !built.success() {
        bail!("cargo build --release -p seccheck --example corpus failed");
    }
    let corpus = bin.join("examples/corpus");
    let base = std::env::temp_dir().join(format!("seccheck-corpus-{}", std::process::id()));
    let dir = base.join("files");
    let out = Command::new(&corpus)
        .arg("write")
        .arg(&dir)
        .arg("22")
        .output()?;
    if !out.status.success() {
        bail!("corpus write: {}", String::from_utf8_lossy(&out.stderr));
    }
    let env: Vec<(String, String)> = serde_json::from_slice(&out.stdout)?;
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let seccheck = |watch: bool| {
        let mut c = Command::new(bin.join("seccheck"));
        c.args(["secrets", "--format", "jsonl"])
            .env_remove("GITHUB_ACTIONS");
        if watch {
            c.arg("--env")
                .arg(names.join(","))
                .envs(env.iter().map(|(k, v)| (k, v)));
        }
        c.arg(&dir);
        c
    };
    let mut rows = vec![
        scored(
            &corpus,
            &dir,
            &mut seccheck(true),
            "seccheck",
            "seccheck --env (4 exchange variables)",
        )?,
        scored(
            &corpus,
            &dir,
            &mut seccheck(false),
            "seccheck",
            "seccheck, no --env",
        )?,
    ];
    match detect_secrets() {
        Some(ds) => {
            let mut c = Command::new(&ds);
            c.current_dir(&dir).args(["scan", "--all-files", "."]);
            let version = Command::new(&ds).arg("--version").output()?;
            let label = format!(
                "detect-secrets {}",
                String::from_utf8_lossy(&version.stdout).trim()
            );
            rows.push(scored(&corpus, &dir, &mut c, "detect-secrets", &label)?);
        }
        None => println!("{NO_DETECT_SECRETS}"),
    }
    let planted = rows[0].score.planted;
    println!(
        "labelled corpus (seed 22: 5 soak artifacts, {planted} planted secrets, decoys; line-level truth):"
    );
    println!("| tool | found | recall | precision | false positives | time |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {}/{planted} | {:.0} % | {:.2} | {} | {:.2} s |",
            r.tool,
            r.score.found,
            r.score.recall * 100.0,
            r.score.precision,
            r.score.false_findings,
            r.wall_s
        );
    }
    for r in &rows {
        println!(
            "{} missed: {}",
            r.tool,
            serde_json::to_string(&r.score.missed)?
        );
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

fn default_lock() -> Result<PathBuf> {
    Ok(crate::workspace_root()?.join("fixtures/seccheck/lockfiles/zola-0.16.0/Cargo.lock"))
}

/// Why the comparison or the deps benchmark cannot run here, if it cannot.
fn missing(db: Option<&Path>, lock: &Path) -> Option<String> {
    let Some(db) = db else {
        return Some(
            "no advisory database given (--db DIR or $SECCHECK_BENCH_DB: a RustSec advisory-db checkout)"
                .into(),
        );
    };
    if !db.join("crates").is_dir() {
        return Some(format!(
            "{} is not a RustSec advisory-db checkout (no crates/)",
            db.display()
        ));
    }
    if !lock.is_file() {
        return Some(format!("{} does not exist", lock.display()));
    }
    if which("cargo-audit").is_none() {
        return Some("cargo-audit is not on PATH (cargo install cargo-audit --locked)".into());
    }
    None
}

fn cargo_audit_cmd(ca: &Path, db: &Path, lock: &Path, pin: bool) -> Command {
    let mut c = if pin { pinned(ca) } else { Command::new(ca) };
    c.args(["audit", "--no-fetch", "--no-yanked", "--json", "--db"])
        .arg(db)
        .arg("-f")
        .arg(lock);
    c
}

fn seccheck_cmd(bin: &Path, db: &Path, lock: &Path, pin: bool) -> Command {
    let exe = bin.join("seccheck");
    let mut c = if pin {
        pinned(&exe)
    } else {
        Command::new(&exe)
    };
    c.args(["deps", "--format", "jsonl", "--db"])
        .arg(db)
        .arg(lock)
        .env_remove("GITHUB_ACTIONS");
    c
}

fn bench_deps(bin: &Path, db: Option<&Path>, lock: &Path, reps: usize) -> Result<()> {
    if let Some(reason) = missing(db, lock) {
        println!("seccheck deps benchmark skipped: {reason}");
        return Ok(());
    }
    let (Some(db), Some(ca)) = (db, which("cargo-audit")) else {
        return Ok(());
    };
    let packages = std::fs::read_to_string(lock)?
        .matches("[[package]]")
        .count();
    // Warm the page cache for both, then alternate runs so both see the same load.
    let _ = cargo_audit_cmd(&ca, db, lock, true).output();
    let _ = seccheck_cmd(bin, db, lock, true).output();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        ours.push(measure_status(&mut seccheck_cmd(bin, db, lock, true), &[0, 1])?.wall_s);
        theirs.push(measure_status(&mut cargo_audit_cmd(&ca, db, lock, true), &[0, 1])?.wall_s);
    }
    let (s, c) = (median(ours), median(theirs));
    println!(
        "seccheck deps: {packages}-package Cargo.lock vs {} on one core: median {:.1} ms; cargo audit --no-fetch --no-yanked: median {:.1} ms; cargo-audit/seccheck {:.1}x (target >= 2x), {reps} runs each",
        db.display(),
        s * 1e3,
        c * 1e3,
        c / s
    );
    Ok(())
}

/// (advisory id, package, version) of every vulnerability and informational warning.
type Ids = BTreeSet<(String, String, String)>;

/// The parts of `cargo audit --json`'s report the comparison reads.
#[derive(Debug, Deserialize)]
struct CargoAuditReport {
    vulnerabilities: Option<CargoAuditVulnerabilities>,
    /// Informational warnings by kind (`unmaintained`, `unsound`, `yanked`, ...).
    #[serde(default)]
    warnings: std::collections::BTreeMap<String, Vec<CargoAuditEntry>>,
}

#[derive(Debug, Deserialize)]
struct CargoAuditVulnerabilities {
    list: Option<Vec<CargoAuditEntry>>,
}

/// A vulnerability or warning: its advisory (a `yanked` warning has none) and package.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CargoAuditEntry {
    advisory: Option<CargoAuditAdvisory>,
    package: CargoAuditPackage,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CargoAuditAdvisory {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CargoAuditPackage {
    name: String,
    version: String,
}

fn cargo_audit_ids(report: &CargoAuditReport) -> Result<(Ids, Ids)> {
    let triple = |e: &CargoAuditEntry| {
        (
            e.advisory
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_default(),
            e.package.name.clone(),
            e.package.version.clone(),
        )
    };
    let vulns = report
        .vulnerabilities
        .as_ref()
        .and_then(|v| v.list.as_ref())
        .context("cargo-audit JSON has no vulnerabilities.list")?
        .iter()
        .map(triple)
        .collect();
    let warnings = report
        .warnings
        .values()
        .flatten()
        .filter(|e| e.advisory.is_some())
        .map(triple)
        .collect();
    Ok((vulns, warnings))
}

/// A line of `seccheck deps --format jsonl`: a vulnerability finding or a warning event.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DepsLine {
    /// The finding's `kind` (`finding` in seccheck's output before issue 17).
    #[serde(rename = "kind", alias = "finding")]
    finding: Option<String>,
    event: Option<String>,
    warning: Option<String>,
    id: Option<String>,
    package: Option<String>,
    version: Option<String>,
}

fn seccheck_ids(jsonl: &str) -> Result<(Ids, Ids)> {
    let (mut vulns, mut warnings) = (Ids::new(), Ids::new());
    let mut reader = soak_core::jsonl::JsonlReader::new(jsonl.as_bytes(), "seccheck deps");
    while let Some(r) = reader.next_as::<DepsLine>()? {
        let t = (
            r.id.unwrap_or_default(),
            r.package.unwrap_or_default(),
            r.version.unwrap_or_default(),
        );
        if r.finding.as_deref() == Some("vulnerable_dependency") {
            vulns.insert(t);
        } else if r.event.as_deref() == Some("warning")
            && r.warning.as_deref() != Some("broken_advisory")
        {
            warnings.insert(t);
        }
    }
    if reader.skipped().total() > 0 {
        bail!(
            "seccheck printed {} line(s) that are not its records",
            reader.skipped().total()
        );
    }
    Ok((vulns, warnings))
}

fn compare_main(args: &[String]) -> Result<()> {
    let mut db = std::env::var_os("SECCHECK_BENCH_DB").map(PathBuf::from);
    let mut lock = default_lock()?;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--db" => db = Some(PathBuf::from(val()?)),
            "--lock" => lock = PathBuf::from(val()?),
            other => {
                bail!("unknown option '{other}' (cargo xtask audit-compare --db DIR [--lock FILE])")
            }
        }
    }
    if let Some(reason) = missing(db.as_deref(), &lock) {
        println!("audit-compare skipped: {reason}");
        return Ok(());
    }
    let (Some(db), Some(ca)) = (db, which("cargo-audit")) else {
        return Ok(());
    };
    let bin = release_build(&["seccheck"])?;
    let ca_out = cargo_audit_cmd(&ca, &db, &lock, false)
        .output()
        .context("running cargo-audit")?;
    let ca_json: CargoAuditReport = serde_json::from_slice(&ca_out.stdout).with_context(|| {
        format!(
            "cargo-audit printed no JSON report: {}",
            String::from_utf8_lossy(&ca_out.stderr).trim()
        )
    })?;
    let sc_out = seccheck_cmd(&bin, &db, &lock, false)
        .output()
        .context("running seccheck")?;
    if !matches!(sc_out.status.code(), Some(0 | 1)) {
        bail!(
            "seccheck deps failed: {}",
            String::from_utf8_lossy(&sc_out.stderr).trim()
        );
    }
    let (ca_v, ca_w) = cargo_audit_ids(&ca_json)?;
    let (sc_v, sc_w) = seccheck_ids(&String::from_utf8_lossy(&sc_out.stdout))?;
    let mut same = true;
    for (what, a, b) in [
        ("vulnerabilities", &ca_v, &sc_v),
        ("warnings", &ca_w, &sc_w),
    ] {
        println!(
            "{what}: cargo-audit {}, seccheck {}, in common {}",
            a.len(),
            b.len(),
            a.intersection(b).count()
        );
        for x in a.difference(b) {
            println!("  only cargo-audit: {} {} {}", x.0, x.1, x.2);
            same = false;
        }
        for x in b.difference(a) {
            println!("  only seccheck:    {} {} {}", x.0, x.1, x.2);
            same = false;
        }
    }
    if !same {
        bail!(
            "seccheck and cargo-audit disagree on {} with {}",
            lock.display(),
            db.display()
        );
    }
    println!(
        "audit-compare: same advisory ids for the same packages ({} with {})",
        lock.display(),
        db.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// seccheck as `cargo test --workspace` built it, next to this test's `deps/`.
    fn built_seccheck() -> PathBuf {
        let exe = std::env::current_exe().expect("exe");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile dir")
            .to_path_buf();
        assert!(
            dir.join("seccheck").is_file(),
            "seccheck is not built in {}: run `cargo test --workspace`",
            dir.display()
        );
        dir
    }

    #[test]
    fn cargo_audit_s_report_and_seccheck_s_records_give_the_same_ids_on_the_fixture() {
        let root = crate::workspace_root().expect("root");
        let report =
            std::fs::read(root.join("fixtures/seccheck/reports/cargo-audit-zola-0.16.0.json"))
                .expect("cargo-audit's report of the zola fixture");
        let report: CargoAuditReport = serde_json::from_slice(&report).expect("typed report");
        let (ca_v, ca_w) = cargo_audit_ids(&report).expect("ids");
        let out = seccheck_cmd(
            &built_seccheck(),
            &root.join("fixtures/seccheck/advisory-db"),
            &default_lock().expect("lock"),
            false,
        )
        .output()
        .expect("seccheck runs");
        assert_eq!(out.status.code(), Some(1), "vulnerable: {out:?}");
        let (sc_v, sc_w) = seccheck_ids(&String::from_utf8_lossy(&out.stdout)).expect("records");
        assert_eq!(ca_v.len(), 3);
        assert!(ca_v.contains(&(
            "RUSTSEC-2023-0001".to_string(),
            "tokio".to_string(),
            "1.20.0".to_string()
        )));
        assert_eq!(ca_w.len(), 2, "the unmaintained and unsound atty");
        assert_eq!((ca_v, ca_w), (sc_v, sc_w));
        assert!(seccheck_ids("{\"type\":\"summary\"}\nnot json\n").is_err());
    }
}
