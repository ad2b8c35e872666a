//! The output flags every soakkit tool shares (`-f/--format`, `-o/--output`, `--summary-md`,
//! `-q/--quiet`) on each seccheck command, and the `::error::` annotations of failed checks
//! under GitHub Actions: a secret pinned to its file and line, a vulnerable dependency, a
//! database that is not cached.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const SECRET: &str = "Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q8V";
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

fn seccheck(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("seccheck").expect("binary");
    c.current_dir(cwd)
        .env("BYBIT_API_SECRET", SECRET)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn advisory_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seccheck/advisory-db")
}

#[test]
fn secrets_output_file_quiet_summary_and_annotation_at_the_line() {
    let t = tempfile::tempdir().expect("tmp");
    let log = t.path().join("bot.log");
    std::fs::write(
        &log,
        format!("starting\nconnected\nsigning with {SECRET}\nstopped\n"),
    )
    .expect("log");
    let out_file = t.path().join("secrets.jsonl");
    let md = t.path().join("summary.md");
    let out = seccheck(t.path())
        .args(["secrets", "--env", "BYBIT_API_SECRET", "-q", "-o"])
        .arg(&out_file)
        .arg("--summary-md")
        .arg(&md)
        .arg(&log)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "quiet");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The file property is escaped as the runner expects (`C:` becomes `C%3A` on Windows).
    let file = log
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C");
    let pinned = format!("::error file={file},line=3::seccheck: a ");
    assert!(stderr.lines().any(|l| l.starts_with(&pinned)), "{stderr}");
    let recs = jsonl(&std::fs::read_to_string(&out_file).expect("output"));
    assert_eq!(recs.last().expect("summary")["type"], "summary");
    assert!(
        recs.iter()
            .any(|r| r["type"] == "finding" && r["line"] == 3)
    );
    let summary = std::fs::read_to_string(&md).expect("summary");
    assert!(
        summary.starts_with("## seccheck secrets\n\n| type |"),
        "{summary}"
    );
    assert!(summary.contains("1 secret(s) in 1 file(s)"), "{summary}");
    for text in [
        &*stderr,
        &summary,
        &std::fs::read_to_string(&out_file).expect("o"),
    ] {
        assert!(!text.contains(SECRET), "the value is never shown: {text}");
    }
}

#[test]
fn deps_sarif_to_a_file_annotations_and_no_csv() {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::write(
        t.path().join("Cargo.lock"),
        format!(
            "version = 3\n\n[[package]]\nname = \"quick-xml\"\nversion = \"0.17.2\"\nsource = \"{CRATES_IO}\"\n"
        ),
    )
    .expect("lock");
    let sarif = t.path().join("deps.sarif");
    let out = seccheck(t.path())
        .args(["deps", "--db"])
        .arg(advisory_db())
        .args(["-f", "sarif", "-o"])
        .arg(&sarif)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "the report went to --output");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).expect("sarif"))
        .expect("SARIF is JSON");
    assert_eq!(v["version"], "2.1.0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("::error::quick-xml 0.17.2 RUSTSEC-")),
        "{stderr}"
    );
    let csv = seccheck(t.path())
        .args(["deps", "--db"])
        .arg(advisory_db())
        .args(["--format", "csv"])
        .output()
        .expect("run");
    assert_eq!(csv.status.code(), Some(2));
    assert!(csv.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&csv.stderr).contains("--format csv"),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
}

#[test]
fn db_status_of_an_empty_cache_fails_each_missing_database() {
    let t = tempfile::tempdir().expect("tmp");
    let cache = t.path().join("cache");
    std::fs::create_dir(&cache).expect("cache");
    let out = seccheck(t.path())
        .args(["db", "status", "-f", "table", "--cache-dir"])
        .arg(&cache)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("database "), "{table}");
    assert!(
        table
            .trim_end()
            .ends_with(&format!("0 of 2 database(s) cached in {}", cache.display())),
        "{table}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("::error::"))
            .count(),
        2,
        "{stderr}"
    );
    let sarif = seccheck(t.path())
        .args(["db", "status", "-f", "sarif", "--cache-dir"])
        .arg(&cache)
        .output()
        .expect("run");
    assert_eq!(sarif.status.code(), Some(2), "SARIF is for deps and ingest");
}
