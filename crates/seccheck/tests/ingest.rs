//! `seccheck ingest` on a real `cargo audit --json` report and on pip-audit reports (one
//! real, one in pip-audit's shape): the same findings, gate, ignores and summary as `deps`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seccheck")
        .join(p)
}

fn run(cwd: &Path, args: &[&str], files: &[PathBuf]) -> (i32, Vec<Value>, String) {
    let out = Command::cargo_bin("seccheck")
        .expect("binary")
        .current_dir(cwd)
        .env_remove("GITHUB_ACTIONS")
        .arg("ingest")
        .args(["--format", "jsonl"])
        .args(args)
        .args(files)
        .output()
        .expect("run");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

type Triples = Vec<(String, String, String)>;

fn triples(recs: &[Value], pick: impl Fn(&Value) -> bool) -> Triples {
    let mut v: Triples = recs
        .iter()
        .filter(|r| pick(r))
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().into(),
                r["package"].as_str().unwrap_or_default().into(),
                r["version"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    v.sort();
    v
}

fn vulns(r: &Value) -> bool {
    r["kind"] == "vulnerable_dependency"
}

fn warnings(r: &Value) -> bool {
    r["event"] == "warning" && r["warning"] != "broken_advisory" && r["warning"] != "not_audited"
}

fn summary(recs: &[Value]) -> &Value {
    recs.iter()
        .find(|r| r["type"] == "summary")
        .expect("summary")
}

#[test]
fn real_cargo_audit_report_gives_the_findings_deps_gives() {
    let t = tempfile::tempdir().expect("tmp");
    let (code, ingested, _) = run(
        t.path(),
        &[],
        &[fixture("reports/cargo-audit-zola-0.16.0.json")],
    );
    assert_eq!(code, 1);
    // The report was made by cargo-audit from this lockfile and this database: `deps` on
    // the same inputs must agree, vulnerabilities and warnings alike.
    let out = Command::cargo_bin("seccheck")
        .expect("binary")
        .current_dir(t.path())
        .env_remove("GITHUB_ACTIONS")
        .args(["deps", "--format", "jsonl", "--db"])
        .arg(fixture("advisory-db"))
        .arg(fixture("lockfiles/zola-0.16.0/Cargo.lock"))
        .output()
        .expect("deps");
    let direct: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(triples(&ingested, vulns), triples(&direct, vulns));
    assert_eq!(triples(&ingested, warnings), triples(&direct, warnings));
    assert_eq!(triples(&ingested, vulns).len(), 3);
    let qx = ingested
        .iter()
        .find(|r| r["id"] == "RUSTSEC-2026-0194")
        .expect("quick-xml");
    assert_eq!(qx["score"], 7.5);
    assert_eq!(qx["severity"], "high");
    assert_eq!(qx["fixed"][0], ">=0.41.0");
    let time = ingested
        .iter()
        .find(|r| r["id"] == "RUSTSEC-2026-0009")
        .expect("time");
    assert_eq!(
        time["severity"], "medium",
        "CVSS 4.0 vector from the report"
    );
    let s = summary(&ingested);
    assert_eq!(s["report_kinds"][0], "cargo-audit");
    assert_eq!(s["dependencies"], 402);
    assert_eq!(s["ok"], false);
}

#[test]
fn pip_audit_reports_unknown_severity_and_ignores() {
    let t = tempfile::tempdir().expect("tmp");
    let report = fixture("reports/pip-audit-vulns.json");
    let (code, recs, err) = run(t.path(), &[], std::slice::from_ref(&report));
    assert_eq!(code, 1, "pip-audit gives no severity: counted as high");
    assert_eq!(
        triples(&recs, vulns),
        vec![
            ("PYSEC-2021-142".into(), "pyyaml".into(), "5.3.1".into()),
            ("PYSEC-2022-42969".into(), "py".into(), "1.11.0".into()),
            ("PYSEC-2023-221".into(), "werkzeug".into(), "3.0.0".into()),
        ]
    );
    assert!(
        recs.iter()
            .filter(|r| vulns(r))
            .all(|r| r["ecosystem"] == "PyPI")
    );
    assert!(err.contains("soak-bot was not audited"), "{err}");
    assert_eq!(summary(&recs)["dependencies_not_audited"], 1);

    let (code, _, _) = run(
        t.path(),
        &["--unknown-severity", "medium"],
        std::slice::from_ref(&report),
    );
    assert_eq!(code, 0);

    std::fs::write(
        t.path().join(".seccheck.toml"),
        "[[ignore]]\nid = \"CVE-2022-42969\"\nreason = \"py: no svn use\"\n[[ignore]]\nid = \"PYSEC-2021-142\"\nreason = \"safe_load only\"\n[[ignore]]\nid = \"GHSA-hrfv-mqp8-q5rw\"\nreason = \"uploads capped by the proxy\"\nexpires = \"2999-01-01\"\n",
    )
    .expect("w");
    let (code, recs, _) = run(t.path(), &[], &[report]);
    assert_eq!(code, 0);
    assert_eq!(summary(&recs)["ignored"], 3);
}

#[test]
fn real_pip_audit_report_that_audited_nothing() {
    let t = tempfile::tempdir().expect("tmp");
    let (code, recs, _) = run(
        t.path(),
        &[],
        &[fixture("reports/pip-audit-no-json-api.json")],
    );
    assert_eq!(code, 0);
    let s = summary(&recs);
    assert_eq!(s["vulnerabilities"], 0);
    assert_eq!(s["dependencies"], 17);
    assert_eq!(s["dependencies_not_audited"], 17);
}

#[test]
fn several_reports_share_one_gate_and_sarif_works() {
    let t = tempfile::tempdir().expect("tmp");
    let out = Command::cargo_bin("seccheck")
        .expect("binary")
        .current_dir(t.path())
        .env_remove("GITHUB_ACTIONS")
        .args(["ingest", "--format", "sarif", "--fail-on", "critical"])
        .arg(fixture("reports/cargo-audit-zola-0.16.0.json"))
        .arg(fixture("reports/pip-audit-vulns.json"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "nothing critical");
    let v: Value = serde_json::from_slice(&out.stdout).expect("SARIF JSON");
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"].as_array().map(Vec::len), Some(8));
}

#[test]
fn bad_reports_are_input_errors() {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::write(
        t.path().join("broken.json"),
        "{\n  \"dependencies\": [\n  oops\n",
    )
    .expect("w");
    let (code, _, err) = run(t.path(), &[], &[t.path().join("broken.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.json:3:"), "{err}");
    std::fs::write(t.path().join("other.json"), "{\"results\": []}").expect("w");
    let (code, _, err) = run(t.path(), &[], &[t.path().join("other.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("neither"), "{err}");
    let (code, _, err) = run(t.path(), &[], &[t.path().join("absent.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("absent.json"), "{err}");
}
