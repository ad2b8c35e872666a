//! The JSONL protocol every tool of the toolkit speaks.
//!
//! # Lines
//! One JSON object per line, UTF-8, terminated by `\n`, written and flushed a whole line at a
//! time (see [`crate::jsonl::JsonlWriter`]). A reader skips what it cannot use and counts it
//! (see [`crate::jsonl::JsonlReader`]): blank lines, non-JSON lines, JSON that is not an object,
//! records of other types or tools, and a truncated last line left by a process killed mid-write.
//!
//! # Common fields
//! Every record carries:
//!
//! | field            | meaning                                                        |
//! |------------------|----------------------------------------------------------------|
//! | `type`           | one of `sample`, `event`, `finding`, `action`, `summary`       |
//! | `tool`           | the tool that wrote it (`resmon`, `logscan`, ...)              |
//! | `timestamp_utc`  | RFC 3339 with microseconds and `+00:00`, as the seed writes it |
//! | `timestamp_unix` | float seconds since the Unix epoch                             |
//!
//! Every other field is flat and `snake_case`, and carries its unit in its name: `_mb`, `_gb`,
//! `_bytes`, `_percent`, `_s`, `_ms`. `MB`/`GB` in field names are binary (2^20, 2^30 bytes),
//! as in the seed's psutil monitor. A value that could not be measured is `null`, never a
//! made-up zero.
//!
//! # Kinds of record
//! - `sample`: a measurement (resmon writes one per interval).
//! - `event`: something happened: `start`, `stop`, `target_exit`, a reconnect, an alert; the
//!   field `event` names it.
//! - `finding`: a problem found (leak, zombie, orphan order, vulnerability, leaked secret); the
//!   field `kind` names it, `severity` grades it (`low`, `medium`, `high`, `critical`) and
//!   `message` says it in one line. Every tool builds its findings as a [`Finding`].
//! - `action`: something changed (rotated, compressed, deleted, cancelled, killed, reaped);
//!   always carries `action` and `dry_run`.
//! - `summary`: the last record of a run, with counts, figures and `ok`.
//!
//! # A worked example
//! ```text
//! {"type":"event","tool":"resmon","timestamp_utc":"2025-10-01T12:00:00.000000+00:00","timestamp_unix":1759320000.0,"event":"start","interval_s":60.0}
//! {"type":"sample","tool":"resmon","timestamp_utc":"2025-10-01T12:00:00.000000+00:00","timestamp_unix":1759320000.0,"elapsed_s":0.0,"memory_used_mb":8192.0,"process_memory_mb":512.0}
//! {"type":"finding","tool":"resanalyze","timestamp_utc":"2025-10-01T18:00:00.000000+00:00","timestamp_unix":1759341600.0,"kind":"memory_leak","severity":"high","slope_mb_per_hour":101.9}
//! {"type":"summary","tool":"resanalyze","timestamp_utc":"2025-10-01T18:00:00.000000+00:00","timestamp_unix":1759341600.0,"ok":false}
//! ```
//! Building the same records in Rust:
//! ```
//! use soak_core::record::{Finding, Record, RecordType, Severity};
//! let rec = Finding::new("memory_leak", Severity::High, "memory grows 101.9 MB/h")
//!     .with("slope_mb_per_hour", 101.9)
//!     .into_record("resanalyze");
//! let line = rec.to_line();
//! assert!(line.starts_with(r#"{"type":"finding","tool":"resanalyze","timestamp_utc":""#));
//! assert!(line.ends_with(
//!     r#""kind":"memory_leak","severity":"high","message":"memory grows 101.9 MB/h","slope_mb_per_hour":101.9}"#
//! ));
//! let summary = Record::new(RecordType::Summary, "resanalyze").with("ok", false);
//! assert!(summary.to_line().ends_with(r#","ok":false}"#));
//! ```
//! Because records are flat, `pandas.read_json(path, lines=True)`, `jq` and CSV export see
//! columns directly; any tool's records can be concatenated and fed to any other tool.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod finding;

pub use finding::{Finding, FindingError, Severity, UnknownSeverity};

/// The five kinds of record of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// A measurement.
    Sample,
    /// Something happened.
    Event,
    /// A problem found.
    Finding,
    /// Something changed (always with `dry_run`).
    Action,
    /// The last record of a run.
    Summary,
}

impl RecordType {
    /// The protocol's name for this kind of record.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Sample => "sample",
            RecordType::Event => "event",
            RecordType::Finding => "finding",
            RecordType::Action => "action",
            RecordType::Summary => "summary",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a record type name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record type '{0}' (expected sample, event, finding, action or summary)")]
pub struct UnknownRecordType(pub String);

impl FromStr for RecordType {
    type Err = UnknownRecordType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sample" => Ok(RecordType::Sample),
            "event" => Ok(RecordType::Event),
            "finding" => Ok(RecordType::Finding),
            "action" => Ok(RecordType::Action),
            "summary" => Ok(RecordType::Summary),
            other => Err(UnknownRecordType(other.to_string())),
        }
    }
}

/// A point in time as the protocol writes it: both `timestamp_utc` and `timestamp_unix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }

    /// A timestamp from float seconds since the Unix epoch (`None` when out of range or NaN).
    pub fn from_unix(seconds: f64) -> Option<Self> {
        if !seconds.is_finite() {
            return None;
        }
        let whole = seconds.floor();
        // Microsecond precision, as written: float noise below it must not turn .517 into .516999.
        let micros = ((seconds - whole) * 1e6).round().min(999_999.0) as u32;
        let nanos = micros * 1000;
        Utc.timestamp_opt(whole as i64, nanos)
            .single()
            .map(Timestamp)
    }

    /// Wraps a chrono UTC time.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp(dt)
    }

    /// The chrono UTC time.
    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Float seconds since the Unix epoch.
    pub fn unix(&self) -> f64 {
        self.0.timestamp() as f64 + f64::from(self.0.timestamp_subsec_nanos()) / 1e9
    }

    /// RFC 3339 with microseconds and `+00:00`, the seed's `datetime.isoformat()` shape:
    /// `2025-10-01T12:00:00.000000+00:00`.
    pub fn utc_string(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, false)
    }
}

/// One protocol record: a flat JSON object whose first fields are `type`, `tool`,
/// `timestamp_utc` and `timestamp_unix`, in that order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(Map<String, Value>);

impl Record {
    /// A record of `kind` written by `tool`, stamped with the current time.
    pub fn new(kind: RecordType, tool: &str) -> Self {
        Self::at(kind, tool, Timestamp::now())
    }

    /// A record of `kind` written by `tool`, stamped with `time`.
    pub fn at(kind: RecordType, tool: &str, time: Timestamp) -> Self {
        let mut map = Map::new();
        map.insert("type".into(), Value::from(kind.as_str()));
        map.insert("tool".into(), Value::from(tool));
        map.insert("timestamp_utc".into(), Value::from(time.utc_string()));
        map.insert("timestamp_unix".into(), Value::from(time.unix()));
        Record(map)
    }

    /// Wraps an already-parsed JSON object (as read from a JSONL line).
    pub fn from_map(map: Map<String, Value>) -> Self {
        Record(map)
    }

    /// Adds or replaces a field and returns the record (builder style).
    /// Non-finite floats become `null`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds or replaces a field. Non-finite floats become `null`.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A field as a float (integers convert; anything else is `None`).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Value::as_f64)
    }

    /// A field as a string slice.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The record's `type`, when it is one of the five.
    pub fn kind(&self) -> Option<RecordType> {
        self.get_str("type").and_then(|s| s.parse().ok())
    }

    /// The record's `tool`.
    pub fn tool(&self) -> Option<&str> {
        self.get_str("tool")
    }

    /// The record's time, from `timestamp_unix` or else `timestamp_utc`.
    pub fn timestamp(&self) -> Option<Timestamp> {
        if let Some(t) = self
            .get_f64("timestamp_unix")
            .and_then(Timestamp::from_unix)
        {
            return Some(t);
        }
        self.get_str("timestamp_utc")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|dt| Timestamp(dt.with_timezone(&Utc)))
    }

    /// The fields, in order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Consumes the record into its JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// A record of `kind` written by `tool`, stamped now: the common fields, then `body`'s
    /// fields in the order it serialises them (a struct's declaration order). This is how a
    /// tool writes a typed summary; [`Record::body`] reads it back.
    ///
    /// ```
    /// use soak_core::record::{Record, RecordType};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Counts { files: u64, ok: bool }
    /// let counts = Counts { files: 3, ok: true };
    /// let rec = Record::from_fields(RecordType::Summary, "seccheck", &counts).unwrap();
    /// assert!(rec.to_line().starts_with(r#"{"type":"summary","tool":"seccheck","timestamp_utc":""#));
    /// assert!(rec.to_line().ends_with(r#","files":3,"ok":true}"#));
    /// assert_eq!(rec.body::<Counts>().unwrap().files, 3);
    /// ```
    pub fn from_fields(
        kind: RecordType,
        tool: &str,
        body: &impl Serialize,
    ) -> Result<Self, FieldsError> {
        Self::from_fields_at(kind, tool, Timestamp::now(), body)
    }

    /// [`Record::from_fields`] stamped with `time`.
    pub fn from_fields_at(
        kind: RecordType,
        tool: &str,
        time: Timestamp,
        body: &impl Serialize,
    ) -> Result<Self, FieldsError> {
        let Value::Object(fields) = serde_json::to_value(body)? else {
            return Err(FieldsError::NotAnObject);
        };
        let mut record = Self::at(kind, tool, time);
        for (key, value) in fields {
            record.0.insert(key, value);
        }
        Ok(record)
    }

    /// The `summary` record of `tool` with `body`'s fields (see [`Record::from_fields`]).
    pub fn summary(tool: &str, body: &impl Serialize) -> Result<Self, FieldsError> {
        Self::from_fields(RecordType::Summary, tool, body)
    }

    /// The record read as `T`: the tool's typed body (fields `T` does not name, the common
    /// ones among them, are ignored unless `T` denies them).
    pub fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(self.0.clone()))
    }

    /// The record as one JSON line, without the trailing `\n`.
    pub fn to_line(&self) -> String {
        // A Map of Values always serializes.
        serde_json::to_string(&self.0).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Why a typed body could not become a record's fields.
#[derive(Debug, thiserror::Error)]
pub enum FieldsError {
    /// It did not serialise (a map with non-string keys, a failing `Serialize`).
    #[error("record fields did not serialise: {0}")]
    Serialize(#[from] serde_json::Error),
    /// It serialised to something other than a JSON object.
    #[error("record fields must serialise to a JSON object")]
    NotAnObject,
}

/// Turns free text (a path's name, a latency stage) into a part of a `snake_case` field name:
/// ASCII letters and digits lower-cased, everything else `_`.
///
/// ```
/// assert_eq!(soak_core::record::field_name_part("SQLite-WAL.db"), "sqlite_wal_db");
/// ```
pub fn field_name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_come_first_and_in_order() {
        let r = Record::new(RecordType::Sample, "resmon").with("memory_used_mb", 1.5);
        let keys: Vec<&str> = r.fields().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "type",
                "tool",
                "timestamp_utc",
                "timestamp_unix",
                "memory_used_mb"
            ]
        );
        assert_eq!(r.kind(), Some(RecordType::Sample));
        assert_eq!(r.tool(), Some("resmon"));
    }

    #[test]
    fn utc_string_matches_the_seed_shape() {
        let t = Timestamp::from_unix(1_759_320_000.25).expect("in range");
        assert_eq!(t.utc_string(), "2025-10-01T12:00:00.250000+00:00");
        assert!((t.unix() - 1_759_320_000.25).abs() < 1e-6);
    }

    #[test]
    fn nan_becomes_null() {
        let r = Record::new(RecordType::Sample, "x").with("v", f64::NAN);
        assert_eq!(r.get("v"), Some(&Value::Null));
    }

    #[test]
    fn timestamp_falls_back_to_the_utc_string() {
        let mut m = Map::new();
        m.insert(
            "timestamp_utc".into(),
            "2025-10-01T12:00:00.000000+00:00".into(),
        );
        let r = Record::from_map(m);
        assert_eq!(r.timestamp().map(|t| t.unix()), Some(1_759_320_000.0));
    }

    #[test]
    fn record_types_round_trip() {
        for k in [
            RecordType::Sample,
            RecordType::Event,
            RecordType::Finding,
            RecordType::Action,
            RecordType::Summary,
        ] {
            assert_eq!(k.as_str().parse::<RecordType>(), Ok(k));
        }
        assert!("samples".parse::<RecordType>().is_err());
    }
}
