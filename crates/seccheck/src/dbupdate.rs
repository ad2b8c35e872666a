//! Updating the advisory cache, one database at a time (the `db update` and `db status`
//! commands are [`crate::commands::db`]), and the cached databases `seccheck deps` uses when no
//! `--db` is given.
//!
//! An update fetches into a temp directory of the cache, loads the result with the same
//! loader `deps` uses ([`crate::db::load`], every advisory of the copy), and only then
//! swaps it in ([`Cache::install`]); any failure leaves the last good copy in place.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use soak_core::exit::{environment, usage};
use soak_core::record::{Record, RecordType};
use soak_core::units::format_duration;

use crate::TOOL;
use crate::cache::{self, Cache, CacheError, Kind, SourceNote};
use crate::cli::SourceArgs;
use crate::dbage::Stamp;
use crate::dburl::{self, redact};
use crate::fetch::{self, FetchError};
use crate::lockfile::Ecosystem;

impl SourceArgs {
    /// Checks both URLs (exit 2 naming the flag on a bad one).
    pub fn check(&self) -> anyhow::Result<()> {
        dburl::check_git("--rustsec-url", &self.rustsec_url).map_err(usage)?;
        dburl::check_http("--osv-pypi-url", &self.osv_pypi_url).map_err(usage)?;
        Ok(())
    }

    /// The URL `kind` is fetched from.
    pub(crate) fn url(&self, kind: Kind) -> &str {
        match kind {
            Kind::Rustsec => &self.rustsec_url,
            Kind::OsvPypi => &self.osv_pypi_url,
        }
    }

    /// The `seccheck db update` command line that fills this cache from these sources
    /// (URLs redacted), for the error that tells the user what to run.
    pub fn update_command(&self, kinds: &[Kind]) -> String {
        let mut cmd = String::from("seccheck db update");
        if let Some(d) = &self.cache_dir {
            cmd.push_str(&format!(
                " --cache-dir {}",
                shell_word(&d.display().to_string())
            ));
        }
        if self.rustsec_url != dburl::RUSTSEC_URL {
            cmd.push_str(&format!(
                " --rustsec-url {}",
                shell_word(&redact(&self.rustsec_url))
            ));
        }
        if self.osv_pypi_url != dburl::OSV_PYPI_URL {
            cmd.push_str(&format!(
                " --osv-pypi-url {}",
                shell_word(&redact(&self.osv_pypi_url))
            ));
        }
        if kinds.len() == 1 {
            cmd.push_str(&format!(" --only {}", kinds[0].name()));
        }
        cmd
    }
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@+=,~%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A cache error as the exit code it means: 2 for a bad `--cache-dir`, else 3.
pub(crate) fn cache_err(e: CacheError) -> anyhow::Error {
    if e.is_usage() {
        usage(e)
    } else {
        environment(e)
    }
}

/// Why one database's update failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Fetching failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The cache cannot be written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// What was fetched does not load.
    #[error("{url}: the fetched {db} database does not load: {message}")]
    Unusable {
        /// The redacted URL.
        url: String,
        /// The database.
        db: &'static str,
        /// The loader's error.
        message: String,
    },
}

/// One successful update.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The database.
    pub kind: Kind,
    /// Its note (URL, time, head, advisories).
    pub note: SourceNote,
    /// RustSec: the previous commit and whether it was a fast-forward.
    pub git: Option<fetch::GitOutcome>,
}

impl Updated {
    /// The `db_updated` event record.
    pub fn record(&self, cache: &Cache) -> Record {
        let mut r = Record::new(RecordType::Event, TOOL)
            .with("event", "db_updated")
            .with("database", self.kind.name())
            .with("path", cache.path(self.kind).display().to_string())
            .with("url", self.note.url.as_str())
            .with("advisories", self.note.advisories);
        if let Some(g) = &self.git {
            r = r
                .with("head", g.head.as_str())
                .with("previous_head", g.previous.clone())
                .with("fast_forward", g.fast_forward);
        }
        r
    }
}

/// Every advisory file name the loader would read from a RustSec checkout: all its crates.
fn all_crates(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir.join("crates"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Updates `kind` in `cache` from `src`: fetch into a temp dir, load it, swap it in.
pub fn update_one(cache: &Cache, kind: Kind, src: &SourceArgs) -> Result<Updated, UpdateError> {
    let url = src.url(kind);
    let tmp = cache.temp_dir(kind)?;
    let previous = cache.has(kind)?.then(|| cache.path(kind));
    let git = match kind {
        Kind::Rustsec => Some(fetch::git_update(url, previous.as_deref(), &tmp.path)?),
        Kind::OsvPypi => {
            fetch::download_osv_zip(url, &tmp.path)?;
            None
        }
    };
    let crates = if kind == Kind::Rustsec {
        all_crates(&tmp.path)
    } else {
        HashSet::new()
    };
    let loaded =
        crate::db::load(std::slice::from_ref(&tmp.path), &crates, false, false).map_err(|e| {
            UpdateError::Unusable {
                url: redact(url),
                db: kind.name(),
                message: e
                    .to_string()
                    .replace(&tmp.path.display().to_string(), "(fetched copy)"),
            }
        })?;
    let note = SourceNote {
        url: redact(url),
        updated_unix: cache::now_unix(),
        head: git.as_ref().map(|g| g.head.clone()),
        advisories: loaded.files_read,
    };
    cache::write_note(&tmp.path, &note)?;
    cache.install(tmp, kind)?;
    Ok(Updated { kind, note, git })
}

/// A database directory `deps` reads, with the time its age is told from when known.
#[derive(Debug, Clone)]
pub struct DbDir {
    /// The directory.
    pub path: PathBuf,
    /// Its stamp, for cached ones (`None`: told by [`crate::dbage::stamp`]).
    pub stamp: Option<Stamp>,
}

/// What `deps` needs from the cache.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// `--max-db-age`: older copies are updated first (online) or refused.
    pub max_age: Option<Duration>,
    /// `--offline`: never touch the network.
    pub offline: bool,
}

/// Why a cached database is not usable as it is.
fn unusable(cache: &Cache, kind: Kind, policy: CachePolicy, now: SystemTime) -> Option<String> {
    let stamp = match cache.stamp(kind) {
        Ok(Some(s)) => s,
        Ok(None) => return Some("not cached".to_string()),
        Err(e) => return Some(e.to_string()),
    };
    if stamp.ahead_of(now).is_some() {
        return Some(format!("its time ({}) lies in the future", stamp.source()));
    }
    let age = stamp.age(now);
    match policy.max_age {
        Some(max) if age > max => Some(format!(
            "{} old ({}), older than --max-db-age {}",
            format_duration(age),
            stamp.source(),
            format_duration(max)
        )),
        _ => None,
    }
}

/// The cached databases covering `ecosystems`, updated first when missing or older than
/// `--max-db-age` (unless `--offline`). Fails closed (exit 3) with the command to run when
/// a needed database is neither usable nor updatable; records each update made. The result
/// holds a shared lock on the cache: keep it while reading the databases.
pub fn cached_for(
    ecosystems: &HashSet<Ecosystem>,
    src: &SourceArgs,
    policy: CachePolicy,
    records: &mut Vec<Record>,
) -> anyhow::Result<CachedDbs> {
    src.check()?;
    let cache = Cache::locate(src.cache_dir.as_deref()).map_err(cache_err)?;
    let needed: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| ecosystems.iter().any(|e| Kind::for_ecosystem(*e) == *k))
        .collect();
    for kind in &needed {
        cache.has(*kind).map_err(cache_err)?;
    }
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    for kind in &needed {
        let Some(why) = unusable(&cache, *kind, policy, SystemTime::now()) else {
            continue;
        };
        if policy.offline {
            problems.push(format!("{}: {why} (--offline: not updated)", kind.name()));
            failed.push(*kind);
            continue;
        }
        eprintln!("seccheck: advisory cache {}: {why}; updating", kind.name());
        let result = update_one(&cache, *kind, src);
        match result {
            Ok(u) => {
                records.push(u.record(&cache));
                if let Some(still) = unusable(&cache, *kind, policy, SystemTime::now()) {
                    problems.push(format!("{}: updated, but {still}", kind.name()));
                    failed.push(*kind);
                }
            }
            Err(e) => {
                problems.push(format!(
                    "{}: {why}, and the update failed: {e}",
                    kind.name()
                ));
                failed.push(*kind);
            }
        }
    }
    if !problems.is_empty() {
        return Err(environment(format!(
            "no usable advisory database in the cache {} ({}); run `{}`",
            cache.dir.display(),
            problems.join("; "),
            src.update_command(&failed)
        )));
    }
    let lock = cache.read_lock().map_err(cache_err)?;
    let dirs = needed
        .into_iter()
        .map(|kind| {
            Ok(DbDir {
                path: cache.path(kind),
                stamp: cache.stamp(kind).map_err(cache_err)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(CachedDbs { dirs, _lock: lock })
}

/// The cached databases `deps` reads, under a shared lock held as long as this lives.
#[derive(Debug)]
pub struct CachedDbs {
    /// The directories and their stamps.
    pub dirs: Vec<DbDir>,
    _lock: cache::CacheLock,
}
