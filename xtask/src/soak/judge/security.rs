//! The security rows: the preflight dependency audit (seccheck deps) and the secrets found in
//! the artifacts before upload (seccheck secrets).

use super::super::artifacts::{for_each, last_summary_of, read_text};
use super::super::preflight::Audit;
use super::super::records::{SecretFinding, SecretsSummary};
use super::super::verdict::Row;
use super::Inputs;

/// Vulnerable dependencies: the preflight audit's findings at or above seccheck's gate.
pub fn security_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Security issues";
    let threshold = || "0 CRITICAL/HIGH".to_string();
    match i.audit {
        Audit::Skipped(why) => Row::skipped(METRIC, threshold(), why),
        Audit::Failed(e) => Row::measured(METRIC, threshold(), "-".into(), false, e.clone()),
        Audit::Done(a) => Row::measured(
            METRIC,
            threshold(),
            a.failing.to_string(),
            a.ok,
            format!(
                "seccheck deps: {} packages of {} lockfile(s); {} critical, {} high, {} medium, {} low; {} warnings (deps.jsonl)",
                a.packages,
                a.lockfiles.len(),
                a.critical,
                a.high,
                a.medium,
                a.low,
                a.warnings
            ),
        ),
    }
}

/// Secrets in the artifacts: seccheck secrets' findings over the run directory.
pub fn secrets_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Leaked secrets";
    let path = i.file("secrets.jsonl");
    let Some(s) = last_summary_of::<SecretsSummary>(&path, "seccheck") else {
        let err = read_text(&i.file("secrets.stderr")).unwrap_or_default();
        return Row::measured(
            METRIC,
            "0".into(),
            "-".into(),
            false,
            format!("seccheck produced no summary: {}", err.trim()),
        );
    };
    let n = s.secrets;
    let mut kinds: Vec<String> = Vec::new();
    for_each::<SecretFinding>(&path, |r| {
        if r.record == "finding" && kinds.len() < 3 {
            let name = r.file.rsplit('/').next().unwrap_or(&r.file);
            kinds.push(format!(
                "{} in {name}:{}",
                r.kind,
                r.line.map_or("?".into(), |l| l.to_string())
            ));
        }
    });
    Row::measured(
        METRIC,
        "0".into(),
        n.to_string(),
        n == 0,
        if n == 0 {
            format!("seccheck secrets over {} artifact files", s.files)
        } else {
            format!(
                "{} (secrets.jsonl; mask them with seccheck secrets --redact)",
                kinds.join(", ")
            )
        },
    )
}
