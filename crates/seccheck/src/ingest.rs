//! `seccheck ingest`: `cargo audit --json` and `pip-audit -f json` reports read into the
//! same findings, so the gate, ignores and summary are the same as `seccheck deps`.

use std::path::Path;

use serde_json::Value;

use crate::audit::{Finding, Outcome};
use crate::severity::{Rating, Severity, Source};

/// A report that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("{path}:{line}: not JSON: {message}")]
    Json {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// JSON, but neither report shape.
    #[error("{path}: {message}")]
    Shape {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Which tool wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `cargo audit --json`.
    CargoAudit,
    /// `pip-audit -f json`.
    PipAudit,
}

impl ReportKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::CargoAudit => "cargo-audit",
            ReportKind::PipAudit => "pip-audit",
        }
    }
}

/// What one report held besides its findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Which tool wrote it.
    pub kind: ReportKind,
    /// Dependencies it covered.
    pub dependencies: usize,
    /// Dependencies the tool could not audit (pip-audit's `skip_reason`), with the reason.
    pub not_audited: Vec<(String, String)>,
}

/// Reads one report into `out`.
pub fn ingest_file(
    path: &Path,
    unknown_as: Severity,
    out: &mut Outcome,
) -> Result<Ingested, IngestError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        path: name.clone(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| IngestError::Json {
        path: name.clone(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let shape = |message: &str| IngestError::Shape {
        path: name.clone(),
        message: message.to_string(),
    };
    if v.get("vulnerabilities").is_some() && v.get("database").is_some() {
        let n = cargo_audit(&v, &name, unknown_as, out).map_err(|m| shape(&m))?;
        Ok(Ingested {
            kind: ReportKind::CargoAudit,
            dependencies: n,
            not_audited: Vec::new(),
        })
    } else if let Some(deps) = v
        .get("dependencies")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
    {
        let not_audited = pip_audit(deps, &name, unknown_as, out).map_err(|m| shape(&m))?;
        Ok(Ingested {
            kind: ReportKind::PipAudit,
            dependencies: deps.len(),
            not_audited,
        })
    } else {
        Err(shape(
            "neither a `cargo audit --json` report (vulnerabilities, database) nor a `pip-audit -f json` one (dependencies)",
        ))
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// One cargo-audit entry (a vulnerability or a warning) as a finding.
fn cargo_entry(e: &Value, file: &str, unknown_as: Severity) -> Result<Finding, String> {
    let adv = e
        .get("advisory")
        .filter(|a| a.is_object())
        .ok_or("an entry has no advisory")?;
    let pkg = e.get("package").ok_or("an entry has no package")?;
    let vector = adv.get("cvss").and_then(Value::as_str);
    let rating = Rating::from_parts(vector, None);
    let mut f = Finding {
        id: str_of(adv, "id"),
        aliases: strings(adv.get("aliases")),
        package: str_of(pkg, "name"),
        version: str_of(pkg, "version"),
        ecosystem: "crates.io".to_string(),
        lockfile: file.to_string(),
        line: None,
        severity: unknown_as,
        score: None,
        severity_source: Source::Unknown,
        fixed: strings(e.get("versions").and_then(|v| v.get("patched"))),
        title: str_of(adv, "title"),
        url: adv.get("url").and_then(Value::as_str).map(String::from),
        informational: adv
            .get("informational")
            .and_then(Value::as_str)
            .map(String::from),
        ignored: None,
    };
    if f.id.is_empty() || f.package.is_empty() {
        return Err("an entry has no advisory id or package name".to_string());
    }
    f.rate(&rating, unknown_as);
    Ok(f)
}

fn cargo_audit(
    v: &Value,
    file: &str,
    unknown_as: Severity,
    out: &mut Outcome,
) -> Result<usize, String> {
    let list = v
        .get("vulnerabilities")
        .and_then(|x| x.get("list"))
        .and_then(Value::as_array)
        .ok_or("vulnerabilities.list is not an array")?;
    for e in list {
        out.findings.push(cargo_entry(e, file, unknown_as)?);
    }
    if let Some(w) = v.get("warnings").and_then(Value::as_object) {
        for (kind, entries) in w {
            for e in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
                if e.get("advisory").is_some_and(Value::is_object) {
                    let mut f = cargo_entry(e, file, unknown_as)?;
                    f.informational.get_or_insert_with(|| kind.clone());
                    out.warnings.push(f);
                }
            }
        }
    }
    Ok(v.get("lockfile")
        .and_then(|l| l.get("dependency-count"))
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize)
}

/// Returns the dependencies pip-audit could not audit, with its reason.
fn pip_audit(
    deps: &[Value],
    file: &str,
    unknown_as: Severity,
    out: &mut Outcome,
) -> Result<Vec<(String, String)>, String> {
    let mut not_audited = Vec::new();
    for d in deps {
        let name = str_of(d, "name");
        let version = str_of(d, "version");
        if name.is_empty() {
            return Err("a dependency has no name".to_string());
        }
        if let Some(reason) = d.get("skip_reason").and_then(Value::as_str) {
            not_audited.push((name, reason.to_string()));
            continue;
        }
        for vuln in d
            .get("vulns")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let id = str_of(vuln, "id");
            if id.is_empty() {
                return Err(format!("a vulnerability of {name} has no id"));
            }
            // pip-audit reports carry no severity: `--unknown-severity` decides.
            let desc = str_of(vuln, "description");
            let mut f = Finding {
                id,
                aliases: strings(vuln.get("aliases")),
                package: name.clone(),
                version: version.clone(),
                ecosystem: "PyPI".to_string(),
                lockfile: file.to_string(),
                line: None,
                severity: unknown_as,
                score: None,
                severity_source: Source::Unknown,
                fixed: strings(vuln.get("fix_versions")),
                title: desc
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect(),
                url: None,
                informational: None,
                ignored: None,
            };
            f.rate(&Rating::UNKNOWN, unknown_as);
            out.findings.push(f);
        }
    }
    Ok(not_audited)
}
