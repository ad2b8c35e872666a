//! The `finding` record as a type: every tool builds its findings through [`Finding`], so every
//! finding names its problem in `kind`, grades it in `severity` and says it in one line of
//! `message`, whatever else it carries.
//!
//! A finding's fields, in the order written: the four common fields, `kind`, `severity`,
//! `message`, then the tool's own flat fields in the order they were added.
//!
//! ```
//! use soak_core::record::{Finding, RecordType, Severity};
//! let rec = Finding::new("zombie", Severity::Medium, "zombie 42 (sleep) under 7 (bash)")
//!     .with("pid", 42)
//!     .with("ppid", 7)
//!     .into_record("zombiereap");
//! assert_eq!(rec.kind(), Some(RecordType::Finding));
//! assert!(rec.to_line().ends_with(
//!     r#""kind":"zombie","severity":"medium","message":"zombie 42 (sleep) under 7 (bash)","pid":42,"ppid":7}"#
//! ));
//! // And back: a reader gets the typed finding, its own fields in order.
//! let back = Finding::from_record(&rec).unwrap();
//! assert_eq!((back.kind.as_str(), back.severity), ("zombie", Severity::Medium));
//! assert_eq!(back.get("pid"), Some(&42.into()));
//! ```
//!
//! Before issue 17, orphan-cancel and seccheck named the kind in a field `finding` and
//! resanalyze's check findings in `check` (with no severity). For one release a reader accepts
//! those records: [`Finding::kind_of`] and [`Finding::from_record`] take the kind from `finding`
//! or `check` when `kind` is absent, and [`Severity`] reads the old grades `warning` (zombiereap:
//! medium) and `error` (logscan's failed checks: high).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Record, RecordType, Timestamp};

/// How bad a finding is; the order is the gate's (`Low < Medium < High < Critical`). The bands
/// are those of the CVSS qualitative rating scale.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// CVSS 0.1–3.9 (and 0.0).
    Low,
    /// CVSS 4.0–6.9; GitHub's MODERATE.
    #[serde(alias = "warning")]
    Medium,
    /// CVSS 7.0–8.9.
    #[serde(alias = "error")]
    High,
    /// CVSS 9.0–10.0.
    Critical,
}

impl Severity {
    /// Lowercase name, as written in `severity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The standard band of a CVSS base score.
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// A rating word in any case (`LOW`, `MODERATE`/`MEDIUM`, `HIGH`, `CRITICAL`), as advisory
    /// databases write them.
    pub fn from_word(word: &str) -> Option<Self> {
        match word.trim().to_ascii_uppercase().as_str() {
            "LOW" => Some(Severity::Low),
            "MODERATE" | "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a severity that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity '{0}' (expected low, medium, high or critical)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_word(s).ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// Why a record could not be read as a [`Finding`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingError {
    /// Its `type` is not `finding`.
    #[error("not a finding record (type {0})")]
    NotAFinding(String),
    /// A field every finding has is absent or not a string.
    #[error("finding without a string '{0}'")]
    Missing(&'static str),
    /// `severity` is not one of the four grades.
    #[error(transparent)]
    Severity(#[from] UnknownSeverity),
}

/// The fields a finding's own fields cannot replace: the common four and the typed three.
const RESERVED: [&str; 7] = [
    "type",
    "tool",
    "timestamp_utc",
    "timestamp_unix",
    "kind",
    "severity",
    "message",
];

/// The fields that named a finding's kind before `kind` did (read for one release).
const LEGACY_KIND: [&str; 2] = ["finding", "check"];

/// A problem found: what (`kind`), how bad (`severity`), in one line (`message`), and the
/// tool's own flat fields in order (`pid`, `order_id`, `file`, `line`, ...).
///
/// Serialized, it is a finding record's body (no common fields); [`Finding::into_record`]
/// stamps it into a whole [`Record`] and [`Finding::from_record`] reads one back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The problem, `snake_case` (`zombie`, `orphan`, `memory_leak`, `aws_access_key`).
    pub kind: String,
    /// How bad it is.
    pub severity: Severity,
    /// What was found, in one line.
    pub message: String,
    /// The tool's own fields, in order.
    #[serde(flatten)]
    fields: Map<String, Value>,
}

impl Finding {
    /// A finding of `kind` graded `severity`; line breaks in `message` become spaces (a
    /// finding's message is one line wherever it is shown).
    pub fn new(kind: impl Into<String>, severity: Severity, message: impl AsRef<str>) -> Self {
        Finding {
            kind: kind.into(),
            severity,
            message: one_line(message.as_ref()),
            fields: Map::new(),
        }
    }

    /// Adds or replaces one of the tool's own fields and returns the finding (builder style).
    /// Non-finite floats become `null`. The common fields and `kind`, `severity` and `message`
    /// are not fields of this kind: a `key` naming one of them is ignored.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds or replaces one of the tool's own fields (see [`Finding::with`]).
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        if !RESERVED.contains(&key) {
            self.fields.insert(key.to_string(), value.into());
        }
    }

    /// One of the tool's own fields.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The tool's own fields, in order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The `finding` record written by `tool`, stamped with the current time.
    pub fn into_record(self, tool: &str) -> Record {
        self.into_record_at(tool, Timestamp::now())
    }

    /// The `finding` record written by `tool`, stamped with `time`.
    pub fn into_record_at(self, tool: &str, time: Timestamp) -> Record {
        let mut r = Record::at(RecordType::Finding, tool, time)
            .with("kind", self.kind)
            .with("severity", self.severity.as_str())
            .with("message", self.message);
        for (k, v) in self.fields {
            r.insert(&k, v);
        }
        r
    }

    /// The kind a finding record names: its `kind`, else (records written before issue 17) its
    /// `finding` or `check`. `None` for a record that is not a finding.
    pub fn kind_of(record: &Record) -> Option<&str> {
        if record.kind() != Some(RecordType::Finding) {
            return None;
        }
        record
            .get_str("kind")
            .or_else(|| LEGACY_KIND.iter().find_map(|k| record.get_str(k)))
    }

    /// Reads a `finding` record back: the typed fields, and every other field but the common
    /// four as the tool's own, in order. The kind may come from the old `finding` or `check`
    /// field (see [`Finding::kind_of`]); that field is then not kept among the tool's own.
    pub fn from_record(record: &Record) -> Result<Finding, FindingError> {
        let Some(kind) = Finding::kind_of(record) else {
            let t = record.get_str("type").unwrap_or("absent");
            return Err(FindingError::NotAFinding(t.to_string()));
        };
        let legacy = record
            .get_str("kind")
            .is_none()
            .then(|| {
                LEGACY_KIND
                    .into_iter()
                    .find(|k| record.get_str(k).is_some())
            })
            .flatten();
        let severity: Severity = record
            .get_str("severity")
            .ok_or(FindingError::Missing("severity"))?
            .parse()
            .or_else(|e: UnknownSeverity| {
                // The grades written before issue 17, as the serde aliases read them.
                serde_json::from_value(Value::from(e.0.as_str())).map_err(|_| e)
            })?;
        let message = record
            .get_str("message")
            .ok_or(FindingError::Missing("message"))?;
        let mut f = Finding::new(kind, severity, message);
        for (k, v) in record.fields() {
            if Some(k.as_str()) != legacy {
                f.insert(k, v.clone());
            }
        }
        Ok(f)
    }
}

impl From<Finding> for Map<String, Value> {
    /// The finding's body: `kind`, `severity`, `message`, then its own fields.
    fn from(f: Finding) -> Self {
        let mut m = Map::new();
        m.insert("kind".into(), f.kind.into());
        m.insert("severity".into(), f.severity.as_str().into());
        m.insert("message".into(), f.message.into());
        m.extend(f.fields);
        m
    }
}

/// `text` on one line: each run of line breaks (and the spaces around it) becomes one space.
fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Record {
        serde_json::from_str(text).expect("a JSON object")
    }

    #[test]
    fn fields_come_in_protocol_order_and_reserved_names_are_not_overridden() {
        let rec = Finding::new("orphan", Severity::High, "order o-1 is an orphan")
            .with("order_id", "o-1")
            .with("kind", "ghost")
            .with("tool", "someone-else")
            .with("age_s", 12.5)
            .into_record("orphan-cancel");
        let keys: Vec<&str> = rec.fields().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "type",
                "tool",
                "timestamp_utc",
                "timestamp_unix",
                "kind",
                "severity",
                "message",
                "order_id",
                "age_s"
            ]
        );
        assert_eq!(rec.get_str("kind"), Some("orphan"));
        assert_eq!(rec.tool(), Some("orphan-cancel"));
    }

    #[test]
    fn message_is_one_line() {
        let f = Finding::new("x", Severity::Low, "first line\r\n  second\n\nthird ");
        assert_eq!(f.message, "first line second third");
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let f = Finding::new("hang", Severity::Critical, "no heartbeat for 12s")
            .with("file", "service.log")
            .with("silent_s", 12.0)
            .with("last_heartbeat_utc", Value::Null);
        let back = Finding::from_record(&f.clone().into_record("logscan")).expect("a finding");
        assert_eq!(back, f);
    }

    #[test]
    fn serializes_as_the_body_and_deserializes_from_it() {
        let f = Finding::new("zombie", Severity::Medium, "z").with("pid", 42);
        let text = serde_json::to_string(&f).expect("serializes");
        assert_eq!(
            text,
            r#"{"kind":"zombie","severity":"medium","message":"z","pid":42}"#
        );
        assert_eq!(serde_json::from_str::<Finding>(&text).expect("parses"), f);
        assert_eq!(
            Value::Object(f.into()),
            serde_json::from_str::<Value>(&text).expect("parses")
        );
    }

    #[test]
    fn old_kind_fields_and_grades_are_read_for_one_release() {
        let old = line(
            r#"{"type":"finding","tool":"orphan-cancel","timestamp_utc":"x","timestamp_unix":1.0,"finding":"orphan","severity":"high","message":"m","order_id":"o-1"}"#,
        );
        assert_eq!(Finding::kind_of(&old), Some("orphan"));
        let f = Finding::from_record(&old).expect("an old finding");
        assert_eq!(f.kind, "orphan");
        assert_eq!(
            f.fields().keys().collect::<Vec<_>>(),
            ["order_id"],
            "the old kind field is not kept twice"
        );
        let check = line(
            r#"{"type":"finding","tool":"resanalyze","check":"memory_growth","severity":"error","message":"m"}"#,
        );
        let f = Finding::from_record(&check).expect("an old check finding");
        assert_eq!(
            (f.kind.as_str(), f.severity),
            ("memory_growth", Severity::High)
        );
        // seccheck's old secrets had both: `kind` (the shape) wins, `finding` stays a field.
        let both = line(
            r#"{"type":"finding","tool":"seccheck","finding":"secret","kind":"aws_access_key","severity":"high","message":"m"}"#,
        );
        assert_eq!(Finding::kind_of(&both), Some("aws_access_key"));
        let zombie = line(
            r#"{"type":"finding","tool":"zombiereap","kind":"zombie","severity":"warning","message":"m"}"#,
        );
        assert_eq!(
            Finding::from_record(&zombie).map(|f| f.severity),
            Ok(Severity::Medium)
        );
    }

    #[test]
    fn what_is_not_a_finding_is_refused_by_name() {
        let sample = line(r#"{"type":"sample","tool":"resmon","kind":"x"}"#);
        assert_eq!(Finding::kind_of(&sample), None);
        assert_eq!(
            Finding::from_record(&sample),
            Err(FindingError::NotAFinding("sample".into()))
        );
        let no_grade = line(r#"{"type":"finding","tool":"t","kind":"x","message":"m"}"#);
        assert_eq!(
            Finding::from_record(&no_grade),
            Err(FindingError::Missing("severity"))
        );
        let bad_grade =
            line(r#"{"type":"finding","tool":"t","kind":"x","severity":"dire","message":"m"}"#);
        assert_eq!(
            Finding::from_record(&bad_grade).map_err(|e| e.to_string()),
            Err("unknown severity 'dire' (expected low, medium, high or critical)".into())
        );
    }

    #[test]
    fn severities_order_parse_and_band() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!("MODERATE".parse(), Ok(Severity::Medium));
        assert_eq!(Severity::from_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(3.9), Severity::Low);
        for s in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(s.as_str().parse(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).expect("serializes"),
                Value::from(s.as_str())
            );
        }
    }
}
