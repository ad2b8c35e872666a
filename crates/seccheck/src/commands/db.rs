//! `seccheck db update` and `db status`: the advisory cache, fetched or shown.

use std::path::Path;
use std::time::{Duration, SystemTime};

use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, environment};
use soak_core::record::{Record, RecordType};
use soak_core::report::{RecordBody, Report};
use soak_core::units::format_duration;

use crate::TOOL;
use crate::cache::{Cache, CacheError, Kind};
use crate::cli::SourceArgs;
use crate::dbupdate::{cache_err, update_one};
use crate::dburl::redact;

/// What `db update` did: its report, and a message per database that could not be updated,
/// which fails the run (exit 3) once the report is written.
pub struct UpdateReport {
    /// A record per database and the summary.
    pub report: Report,
    /// Why each failed database failed, in order.
    pub failures: Vec<String>,
}

impl UpdateReport {
    /// Writes the report as `output` asks; then, when a database failed, prints the earlier
    /// failures and fails (exit 3) naming the last.
    pub fn finish(self, output: &OutputArgs) -> anyhow::Result<ExitCode> {
        let code = self.report.finish(output)?;
        let Some((last, earlier)) = self.failures.split_last() else {
            return Ok(code);
        };
        for msg in earlier {
            eprintln!("seccheck: {msg}");
        }
        Err(environment(last.clone()))
    }
}

/// `seccheck db update`: fetches each database (`only` those, when given) into the cache,
/// atomically; a failure keeps the last good copy and is reported, not returned.
pub fn update(src: &SourceArgs, only: &[Kind]) -> anyhow::Result<UpdateReport> {
    src.check()?;
    let cache = Cache::locate(src.cache_dir.as_deref()).map_err(cache_err)?;
    cache.create().map_err(cache_err)?;
    let kinds: Vec<Kind> = if only.is_empty() {
        Kind::ALL.to_vec()
    } else {
        Kind::ALL.into_iter().filter(|k| only.contains(k)).collect()
    };
    for kind in &kinds {
        cache.has(*kind).map_err(cache_err)?;
    }
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for kind in &kinds {
        match update_one(&cache, *kind, src) {
            Ok(u) => records.push(u.record(&cache)),
            Err(e) => {
                let kept = cache.has(*kind).unwrap_or(false);
                let msg = format!(
                    "{} update failed, {}: {e}",
                    kind.name(),
                    if kept {
                        "the last good copy is kept"
                    } else {
                        "nothing is cached"
                    }
                );
                records.push(
                    Record::new(RecordType::Event, TOOL)
                        .with("event", "db_update_failed")
                        .with("database", kind.name())
                        .with("url", redact(src.url(*kind)))
                        .with("kept_last_good", kept)
                        .with("message", e.to_string()),
                );
                failures.push(msg);
            }
        }
    }
    let updated = kinds.len() - failures.len();
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "db update")
        .with("cache_dir", cache.dir.display().to_string())
        .with("updated", updated)
        .with("failed", failures.len())
        .with("ok", failures.is_empty());
    let body = RecordBody::new(records, UPDATE_COLUMNS)
        .summary(summary)
        .note(format!(
            "{updated} of {} database(s) updated in {}",
            kinds.len(),
            cache.dir.display()
        ));
    Ok(UpdateReport {
        report: Report::new(TOOL, body).heading("db update"),
        failures,
    })
}

const UPDATE_COLUMNS: &[&str] = &[
    "event",
    "database",
    "advisories",
    "head",
    "fast_forward",
    "kept_last_good",
    "url",
    "message",
];
const STATUS_COLUMNS: &[&str] = &[
    "database",
    "present",
    "age",
    "age_source",
    "advisories",
    "url",
    "path",
];

/// The status of one cached database.
fn status_record(cache: &Cache, kind: Kind, now: SystemTime) -> Result<Record, CacheError> {
    let mut r = Record::new(RecordType::Event, TOOL)
        .with("event", "db_status")
        .with("database", kind.name())
        .with("path", cache.path(kind).display().to_string());
    let Some(note) = cache.note(kind)? else {
        return Ok(r.with("present", false));
    };
    r = r
        .with("present", true)
        .with("url", note.url.as_str())
        .with("updated", rfc3339(note.updated_unix))
        .with("advisories", note.advisories)
        .with("head", note.head.clone());
    if let Some(stamp) = cache.stamp(kind)? {
        let age = stamp.age(now);
        r = r
            .with("age_source", stamp.source())
            .with("time", rfc3339_time(stamp.time()))
            .with("age_s", age.as_secs())
            .with("age", format_duration(age));
    }
    Ok(r)
}

fn rfc3339(unix: u64) -> String {
    rfc3339_time(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
}

fn rfc3339_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `seccheck db status`: exit 0 when every database is cached, 1 (a failed check per missing
/// one) when one is missing.
pub fn status(cache_dir: Option<&Path>) -> anyhow::Result<Report> {
    let cache = Cache::locate(cache_dir).map_err(cache_err)?;
    let now = SystemTime::now();
    let mut records = Vec::new();
    for kind in Kind::ALL {
        records.push(status_record(&cache, kind, now).map_err(cache_err)?);
    }
    let missing: Vec<&str> = Kind::ALL
        .iter()
        .zip(&records)
        .filter(|(_, r)| r.get("present").and_then(|v| v.as_bool()) != Some(true))
        .map(|(k, _)| k.name())
        .collect();
    let present = Kind::ALL.len() - missing.len();
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "db status")
        .with("cache_dir", cache.dir.display().to_string())
        .with("present", present)
        .with("missing", missing.len())
        .with("ok", missing.is_empty());
    let body = RecordBody::new(records, STATUS_COLUMNS)
        .summary(summary)
        .note(format!(
            "{present} of {} database(s) cached in {}",
            Kind::ALL.len(),
            cache.dir.display()
        ));
    let report = Report::new(TOOL, body).heading("db status");
    Ok(missing.iter().fold(report, |r, name| {
        r.fail(format!(
            "seccheck: the {name} advisory database is not cached (run `seccheck db update`)"
        ))
    }))
}
