//! Output of the dependency audit: JSONL/JSON records, a table or Markdown, or SARIF 2.1.0
//! (not CSV: the findings and warnings are two tables), as a [`Body`] that core's
//! [`soak_core::report::Report`] writes.

use std::io::{self, Write};

use serde_json::{Value, json};
use soak_core::output::{Format, Table, unsupported, write_records};
use soak_core::record::{self, Record, RecordType};
use soak_core::report::Body;

use crate::TOOL;
use crate::audit::{Finding, Outcome};
use crate::severity::Severity;

/// A finding (or warning) as a record: a `vulnerable_dependency` finding, or for an
/// informational advisory a `warning` event with the same fields.
pub fn finding_record(f: &Finding, fail_on: Severity) -> Record {
    let fields = advisory_fields(f, fail_on);
    match &f.informational {
        Some(label) => fields.into_iter().fold(
            Record::new(RecordType::Event, TOOL)
                .with("event", "warning")
                .with("warning", label.as_str()),
            |r, (k, v)| r.with(k, v),
        ),
        // `severity` among the fields is the finding's own, written once in its place.
        None => fields
            .into_iter()
            .fold(
                record::Finding::new("vulnerable_dependency", f.severity, advisory_message(f)),
                |r, (k, v)| r.with(k, v),
            )
            .into_record(TOOL),
    }
}

/// An advisory's fields, in the order written.
fn advisory_fields(f: &Finding, fail_on: Severity) -> Vec<(&'static str, Value)> {
    vec![
        ("id", f.id.as_str().into()),
        ("aliases", f.aliases.clone().into()),
        ("package", f.package.as_str().into()),
        ("version", f.version.as_str().into()),
        ("ecosystem", f.ecosystem.as_str().into()),
        ("lockfile", f.lockfile.as_str().into()),
        ("line", f.line.into()),
        ("severity", f.severity.as_str().into()),
        ("score", f.score.into()),
        ("severity_source", f.severity_source.as_str().into()),
        ("fixed", f.fixed.clone().into()),
        ("title", f.title.as_str().into()),
        ("url", f.url.clone().into()),
        ("ignored", f.ignored.is_some().into()),
        ("ignore_reason", f.ignored.clone().into()),
        ("fails_gate", f.fails(fail_on).into()),
    ]
}

/// What a finding says in one line (the finding's `message`, the SARIF result's text).
fn advisory_message(f: &Finding) -> String {
    let fixed = if f.fixed.is_empty() {
        "no fixed version".to_string()
    } else {
        format!("fixed: {}", f.fixed.join(", "))
    };
    format!(
        "{} {} is affected by {} ({} severity; {fixed})",
        f.package,
        f.version,
        f.id,
        f.severity.as_str()
    )
}

/// Everything a report prints besides the findings.
#[derive(Debug)]
pub struct Extra {
    /// Further records (broken advisories, skipped packages, stale databases…), in order.
    pub records: Vec<Record>,
    /// The summary record.
    pub summary: Record,
    /// Human lines printed under a table (and as Markdown paragraphs).
    pub notes: Vec<String>,
}

impl Extra {
    /// The summary's `command` (`deps` or `ingest`).
    pub fn summary_command(&self) -> &str {
        self.summary.get_str("command").unwrap_or("deps")
    }
}

/// The records of an outcome, in output order: findings, warnings, expired ignores.
pub fn outcome_records(o: &Outcome, fail_on: Severity) -> Vec<Record> {
    let mut out: Vec<Record> = o
        .findings
        .iter()
        .chain(&o.warnings)
        .map(|f| finding_record(f, fail_on))
        .collect();
    for ig in &o.expired {
        let expires = ig.expires.map(|d| d.to_string());
        let message = format!(
            "the ignore of {} expired{}: it fails the gate",
            ig.id,
            expires
                .as_deref()
                .map_or_else(String::new, |d| format!(" on {d}"))
        );
        out.push(
            record::Finding::new("expired_ignore", Severity::High, message)
                .with("id", ig.id.as_str())
                .with("reason", ig.reason.as_str())
                .with("expires", expires)
                .with("fails_gate", true)
                .into_record(TOOL),
        );
    }
    out
}

const COLUMNS: &[&str] = &[
    "severity", "score", "id", "package", "version", "fixed", "lockfile", "ignored",
];
const WARNING_COLUMNS: &[&str] = &["warning", "id", "package", "version", "fixed", "lockfile"];

/// The report of `deps` and `ingest`: the audit's outcome, the gate and everything else
/// printed.
#[derive(Debug)]
pub struct AuditBody {
    /// What the audit found.
    pub outcome: Outcome,
    /// The lowest severity that fails the gate.
    pub fail_on: Severity,
    /// Further records, the summary and the notes.
    pub extra: Extra,
}

impl Body for AuditBody {
    fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        write(out, format, &self.outcome, self.fail_on, &self.extra)
    }
}

/// Writes the report in `format`; CSV is [`unsupported`].
pub fn write(
    mut out: &mut dyn Write,
    format: Format,
    o: &Outcome,
    fail_on: Severity,
    extra: &Extra,
) -> io::Result<()> {
    match format {
        Format::Jsonl | Format::Json => {
            let mut recs = outcome_records(o, fail_on);
            recs.extend(extra.records.iter().cloned());
            recs.push(extra.summary.clone());
            write_records(&mut out, format, &recs, None)?;
        }
        Format::Csv => return Err(unsupported(format)),
        Format::Table | Format::Markdown => {
            let md = format == Format::Markdown;
            let table = |items: &[Finding], columns: &[&str]| {
                let recs: Vec<Record> = items.iter().map(|f| finding_record(f, fail_on)).collect();
                Table::from_records(&recs, Some(columns))
            };
            let mut sections: Vec<(&str, Table)> = Vec::new();
            if !o.findings.is_empty() {
                sections.push(("Vulnerabilities", table(&o.findings, COLUMNS)));
            }
            if !o.warnings.is_empty() {
                sections.push((
                    "Warnings (informational advisories)",
                    table(&o.warnings, WARNING_COLUMNS),
                ));
            }
            for (title, t) in sections {
                if md {
                    writeln!(out, "### {title}\n")?;
                    t.write_markdown(out)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{title}:")?;
                    t.write_text(out)?;
                    writeln!(out)?;
                }
            }
            for ig in &o.expired {
                writeln!(
                    out,
                    "{}expired ignore: {} (expired {}; reason was: {}) fails the gate",
                    if md { "- " } else { "" },
                    ig.id,
                    ig.expires.map_or_else(String::new, |d| d.to_string()),
                    ig.reason
                )?;
            }
            for n in &extra.notes {
                writeln!(out, "{}{n}", if md { "- " } else { "" })?;
            }
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(o, fail_on))
                .map_err(io::Error::other)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn level(f: &Finding, fail_on: Severity) -> &'static str {
    if f.informational.is_some() {
        "note"
    } else if f.fails(fail_on) || f.ignored.is_some() && f.severity >= fail_on {
        "error"
    } else {
        "warning"
    }
}

/// The SARIF 2.1.0 log of an outcome: one rule per advisory, one result per finding, ignored
/// findings carrying an external suppression with the ignore's reason.
pub fn sarif(o: &Outcome, fail_on: Severity) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for f in o.findings.iter().chain(&o.warnings) {
        let index = match rule_ids.iter().position(|r| r == &f.id) {
            Some(i) => i,
            None => {
                let mut props = json!({
                    "tags": ["security", "dependency", f.ecosystem],
                    "severity": f.severity.as_str(),
                });
                if let Some(s) = f.score {
                    props["security-severity"] = json!(format!("{s:.1}"));
                }
                let mut rule = json!({
                    "id": f.id,
                    "name": f.id,
                    "shortDescription": {"text": if f.title.is_empty() { f.id.clone() } else { f.title.clone() }},
                    "fullDescription": {"text": format!("{} ({}): {}", f.id, f.aliases.join(", "), f.title)},
                    "defaultConfiguration": {"level": level(f, fail_on)},
                    "properties": props,
                });
                if let Some(u) = &f.url {
                    rule["helpUri"] = json!(u);
                }
                rules.push(rule);
                rule_ids.push(f.id.clone());
                rule_ids.len() - 1
            }
        };
        let mut result = json!({
            "ruleId": f.id,
            "ruleIndex": index,
            "level": level(f, fail_on),
            "message": {"text": advisory_message(f)},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": sarif_uri(&f.lockfile)},
                    "region": {"startLine": f.line.unwrap_or(1)}
                }
            }],
            "partialFingerprints": {"package": format!("{}/{}@{}", f.ecosystem, f.package, f.version)},
        });
        if let Some(reason) = &f.ignored {
            result["suppressions"] = json!([{"kind": "external", "justification": reason}]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "seccheck",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/soakkit",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

/// A lockfile's path as a SARIF artifact URI relative to the checkout: forward slashes (a
/// Windows path's backslashes are separators there, not characters), no leading `./`.
fn sarif_uri(lockfile: &str) -> String {
    let uri = if cfg!(windows) {
        lockfile.replace('\\', "/")
    } else {
        lockfile.to_string()
    };
    uri.trim_start_matches("./").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignore::Ignore;
    use crate::severity::Source;

    fn tokio(informational: Option<&str>) -> Finding {
        Finding {
            id: "RUSTSEC-2023-0001".into(),
            aliases: vec!["GHSA-4q83-7cq4-p6wg".into()],
            package: "tokio".into(),
            version: "1.20.0".into(),
            ecosystem: "crates.io".into(),
            lockfile: "Cargo.lock".into(),
            line: None,
            severity: Severity::Medium,
            score: Some(5.9),
            severity_source: Source::Cvss,
            fixed: vec![">=1.18.4, <1.19.0".into()],
            title: "reject_remote_clients configuration corruption".into(),
            url: None,
            informational: informational.map(str::to_string),
            ignored: None,
        }
    }

    #[test]
    fn a_vulnerability_is_a_finding_graded_by_its_advisory_and_a_warning_stays_an_event() {
        let rec = finding_record(&tokio(None), Severity::High);
        let f = record::Finding::from_record(&rec).expect("a finding");
        assert_eq!(
            (f.kind.as_str(), f.severity),
            ("vulnerable_dependency", Severity::Medium)
        );
        assert_eq!(
            f.message,
            "tokio 1.20.0 is affected by RUSTSEC-2023-0001 (medium severity; fixed: >=1.18.4, <1.19.0)"
        );
        assert_eq!(f.get("fails_gate"), Some(&false.into()));
        assert_eq!(rec.to_line().matches(r#""severity""#).count(), 1);
        let warning = finding_record(&tokio(Some("unmaintained")), Severity::High);
        assert_eq!(warning.kind(), Some(RecordType::Event));
        assert_eq!(
            (warning.get_str("warning"), warning.get_str("severity")),
            (Some("unmaintained"), Some("medium"))
        );
        assert!(warning.get("kind").is_none() && warning.get("message").is_none());
    }

    #[test]
    fn an_expired_ignore_is_a_high_finding_that_fails_the_gate() {
        let o = Outcome {
            expired: vec![Ignore {
                id: "RUSTSEC-2026-0194".into(),
                reason: "no exposure".into(),
                expires: chrono::NaiveDate::from_ymd_opt(2026, 1, 31),
            }],
            ..Outcome::default()
        };
        let recs = outcome_records(&o, Severity::High);
        let f = record::Finding::from_record(&recs[0]).expect("a finding");
        assert_eq!(
            (f.kind.as_str(), f.severity),
            ("expired_ignore", Severity::High)
        );
        assert_eq!(
            f.message,
            "the ignore of RUSTSEC-2026-0194 expired on 2026-01-31: it fails the gate"
        );
    }
}
