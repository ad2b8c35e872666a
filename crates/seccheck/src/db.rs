//! Advisory databases from local directories: the RustSec advisory-db layout
//! (`crates/<name>/RUSTSEC-*.md`, TOML front matter, read with the `rustsec` crate) and OSV
//! records in JSON or YAML (the PyPA advisory-database's `vulns/<pkg>/PYSEC-*.yaml`, an
//! osv.dev ecosystem export).
//!
//! A broken advisory is recorded in [`Database::broken`] and skipped (fatal with `strict`);
//! withdrawn ones are counted and left out; a missing or empty database is an error.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use rustsec::semver;

use crate::lockfile::{Ecosystem, Package};
use crate::osv;
use crate::severity::Rating;

/// How an advisory decides whether a version is affected.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// RustSec `patched`/`unaffected` Cargo requirements, matched as cargo-audit matches them
    /// (the `rustsec` crate's own ranges, pre-releases included).
    RustSec(rustsec::advisory::Versions),
    /// OSV ranges and versions (one per `affected` entry of the package).
    Osv(Vec<osv::Matcher>),
}

/// One advisory about one package.
#[derive(Debug, Clone)]
pub struct Advisory {
    /// The id.
    pub id: String,
    /// Its aliases (CVE, GHSA…).
    pub aliases: Vec<String>,
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The package name, normalised for its ecosystem.
    pub package: String,
    /// Title or summary.
    pub title: String,
    /// A link.
    pub url: Option<String>,
    /// `unmaintained`, `unsound`, `notice`… for informational advisories (warnings).
    pub informational: Option<String>,
    /// Severity before `--unknown-severity`.
    pub rating: Rating,
    /// The version matcher.
    pub matcher: Matcher,
    /// The fixed versions (OSV `fixed` events, RustSec `patched` requirements).
    pub fixed: Vec<String>,
    /// The file it came from.
    pub file: PathBuf,
}

impl Advisory {
    /// Whether `version` (a lockfile's version string) is affected. A version that does not
    /// parse for the ecosystem is not matched (the lockfile readers reject those earlier).
    pub fn affects(&self, version: &str) -> bool {
        match &self.matcher {
            Matcher::RustSec(v) => semver::Version::parse(version)
                .map(|ver| v.is_vulnerable(&ver))
                .unwrap_or(false),
            Matcher::Osv(ms) => osv::Version::parse(self.ecosystem, version)
                .is_some_and(|ver| ms.iter().any(|m| m.affects(&ver))),
        }
    }
}

/// Why a database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The directory is missing or unreadable.
    #[error("advisory database {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No advisory in it.
    #[error(
        "advisory database {0}: no advisories found (expected crates/<name>/RUSTSEC-*.md or OSV *.json/*.yaml)"
    )]
    Empty(PathBuf),
    /// A broken advisory under `--strict`.
    #[error("{0}")]
    Broken(String),
    /// More of the database cannot be read than a stray broken file explains.
    #[error(
        "advisory database {dir}: {broken} of {files} advisory files cannot be read (more than {MAX_BROKEN_PERCENT} %, or all); the first: {first}: {message}"
    )]
    TooBroken {
        /// The directory.
        dir: PathBuf,
        /// Broken files in it.
        broken: usize,
        /// Files read in it.
        files: usize,
        /// The first broken file.
        first: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// The share of a database's advisory files that may be broken (skipped with a warning)
/// before the database itself counts as unreadable. One broken file is always tolerated
/// (the real PyPA database holds two among 2,661), a database with nothing readable never.
pub const MAX_BROKEN_PERCENT: usize = 10;

/// Whether `broken` of `files` is too many (see [`MAX_BROKEN_PERCENT`]).
pub fn too_broken(broken: usize, files: usize) -> bool {
    broken > 0 && (broken >= files || broken > (files * MAX_BROKEN_PERCENT / 100).max(1))
}

/// A broken advisory: its file and what is wrong.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The file.
    pub file: PathBuf,
    /// The parser's message.
    pub message: String,
}

/// The loaded databases, indexed by package.
#[derive(Debug, Default)]
pub struct Database {
    /// The directories.
    pub dirs: Vec<PathBuf>,
    /// Advisory files parsed.
    pub files_read: usize,
    /// Advisories kept, by (ecosystem, normalised name).
    pub by_package: HashMap<(Ecosystem, String), Vec<Advisory>>,
    /// Withdrawn advisories left out.
    pub withdrawn: usize,
    /// Broken advisories skipped.
    pub broken: Vec<Broken>,
    /// The newest advisory file modification time (noted when asked for).
    pub newest_mtime: Option<SystemTime>,
}

impl Database {
    /// The advisories about `pkg`.
    pub fn for_package(&self, pkg: &Package) -> &[Advisory] {
        self.by_package
            .get(&(pkg.ecosystem, pkg.ecosystem.normalise(&pkg.name)))
            .map_or(&[], Vec::as_slice)
    }

    /// Number of advisories kept.
    pub fn advisories(&self) -> usize {
        self.by_package.values().map(Vec::len).sum()
    }

    fn add(&mut self, adv: Advisory) {
        self.by_package
            .entry((adv.ecosystem, adv.package.clone()))
            .or_default()
            .push(adv);
    }

    fn note_mtime(&mut self, t: Option<SystemTime>) {
        if let Some(t) = t
            && self.newest_mtime.is_none_or(|n| t > n)
        {
            self.newest_mtime = Some(t);
        }
    }
}

/// Whether `dir` has the RustSec advisory-db layout.
pub fn is_rustsec_layout(dir: &Path) -> bool {
    dir.join("crates").is_dir()
}

/// Loads every directory in `dirs`. For a RustSec-layout directory only the advisories of
/// the crates in `crates` are parsed (the layout files them by crate name). With
/// `need_mtime` (`--max-db-age`), the newest advisory file time is noted.
pub fn load(
    dirs: &[PathBuf],
    crates: &HashSet<String>,
    strict: bool,
    need_mtime: bool,
) -> Result<Database, DbError> {
    let mut db = Database {
        dirs: dirs.to_vec(),
        ..Database::default()
    };
    for dir in dirs {
        std::fs::read_dir(dir).map_err(|source| DbError::Io {
            path: dir.clone(),
            source,
        })?;
        let (files_before, broken_before) = (db.files_read, db.broken.len());
        let found = if is_rustsec_layout(dir) {
            load_rustsec(dir, crates, need_mtime, &mut db)?
        } else {
            load_osv(dir, &mut db)?
        };
        if found == 0 {
            return Err(DbError::Empty(dir.clone()));
        }
        let (files, broken) = (
            db.files_read - files_before,
            db.broken.len() - broken_before,
        );
        if too_broken(broken, files) {
            let first = &db.broken[broken_before];
            return Err(DbError::TooBroken {
                dir: dir.clone(),
                broken,
                files,
                first: first.file.clone(),
                message: first.message.clone(),
            });
        }
    }
    if strict && let Some(b) = db.broken.first() {
        return Err(DbError::Broken(format!(
            "{}: {} (--strict: a broken advisory is fatal)",
            b.file.display(),
            b.message
        )));
    }
    Ok(db)
}

fn walk_err(dir: &Path, e: walkdir::Error) -> DbError {
    DbError::Io {
        path: e
            .path()
            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
        source: e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("walk failed")),
    }
}

/// Loads the RustSec layout: only `crates/<name>/` of the crates asked for is read (the
/// layout files advisories by crate name). Returns how many crate directories the database
/// has (0: empty). With `need_mtime`, every advisory file is stat'ed for the newest time.
fn load_rustsec(
    dir: &Path,
    crates: &HashSet<String>,
    need_mtime: bool,
    db: &mut Database,
) -> Result<usize, DbError> {
    let root = dir.join("crates");
    let io = |path: &Path, source: std::io::Error| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let populated = std::fs::read_dir(&root)
        .map_err(|e| io(&root, e))?
        .filter_map(Result::ok)
        .any(|e| e.file_type().is_ok_and(|t| t.is_dir()));
    if !populated {
        return Ok(0);
    }
    if need_mtime {
        for entry in walkdir::WalkDir::new(&root).min_depth(2).max_depth(2) {
            let entry = entry.map_err(|e| walk_err(dir, e))?;
            db.note_mtime(entry.metadata().ok().and_then(|m| m.modified().ok()));
        }
    }
    let mut wanted = Vec::new();
    let mut names: Vec<&String> = crates.iter().collect();
    names.sort();
    for name in names {
        let cdir = root.join(name);
        let entries = match std::fs::read_dir(&cdir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&cdir, e)),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("RUSTSEC-") && n.ends_with(".md"))
                    && !rustsec::Advisory::is_draft(p)
            })
            .collect();
        files.sort();
        wanted.extend(files);
    }
    let parsed: Vec<(PathBuf, Result<rustsec::Advisory, rustsec::Error>)> = wanted
        .into_par_iter()
        .map(|p| {
            let r = rustsec::Advisory::load_file(&p);
            (p, r)
        })
        .collect();
    for (file, r) in parsed {
        db.files_read += 1;
        match r {
            Err(e) => {
                let message = rustsec_message(&file, &e);
                db.broken.push(Broken { file, message })
            }
            Ok(a) if a.withdrawn() => db.withdrawn += 1,
            Ok(a) => db.add(from_rustsec(a, file)),
        }
    }
    Ok(1)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A RustSec parse error as `line N: what`, N counted in the advisory file. The `rustsec`
/// crate reports TOML lines of the front matter (after the opening ```` ```toml ```` line,
/// with an `[advisory]` header line of its own prepended when the file has none).
fn rustsec_message(file: &Path, e: &rustsec::Error) -> String {
    let full = error_chain(e);
    let detail: Vec<&str> = full
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('|') && !l.starts_with('^'))
        .filter(|l| !l.contains("TOML parse error at line"))
        .collect();
    let detail = detail
        .last()
        .map_or_else(|| full.replace('\n', " "), |d| d.to_string());
    let toml_line = full
        .split("TOML parse error at line ")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse::<usize>().ok())
        });
    let Some(n) = toml_line else {
        return detail;
    };
    let has_header = std::fs::read_to_string(file).is_ok_and(|t| {
        t.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("[advisory]"))
    });
    let line = if has_header { n + 1 } else { n };
    format!("line {line}: {detail}")
}

fn from_rustsec(a: rustsec::Advisory, file: PathBuf) -> Advisory {
    let m = &a.metadata;
    let vector = m.cvss.as_ref().map(|c| c.to_string());
    let rating = Rating::from_parts(vector.as_deref(), None);
    Advisory {
        id: m.id.as_str().to_string(),
        aliases: m.aliases.iter().map(|x| x.as_str().to_string()).collect(),
        ecosystem: Ecosystem::CratesIo,
        package: m.package.as_str().to_string(),
        title: a.title().to_string(),
        url: m.url.as_ref().map(|u| u.to_string()).or_else(|| m.id.url()),
        informational: m.informational.as_ref().map(|i| i.as_str().to_string()),
        rating,
        fixed: a.versions.patched().iter().map(|r| r.to_string()).collect(),
        matcher: Matcher::RustSec(a.versions.clone()),
        file,
    }
}

/// Loads OSV records under `dir` (under `dir/vulns/` when there is one: the PyPA layout,
/// whose `triage/` holds notes, not advisories); returns how many record files it has.
fn load_osv(dir: &Path, db: &mut Database) -> Result<usize, DbError> {
    let mut files = Vec::new();
    let vulns = dir.join("vulns");
    let root = if vulns.is_dir() {
        vulns
    } else {
        dir.to_path_buf()
    };
    for entry in walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| walk_err(dir, e))?;
        let name = entry.file_name().to_string_lossy();
        let is_record = entry.file_type().is_file()
            && (name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml"));
        if is_record {
            db.note_mtime(entry.metadata().ok().and_then(|m| m.modified().ok()));
            files.push(entry.into_path());
        }
    }
    let parsed: Vec<(PathBuf, Result<osv::Record, String>)> = files
        .into_par_iter()
        .map(|p| {
            let r = parse_osv_file(&p);
            (p, r)
        })
        .collect();
    let n = parsed.len();
    for (file, r) in parsed {
        db.files_read += 1;
        match r.and_then(|rec| from_osv(&rec, &file)) {
            Err(message) => db.broken.push(Broken { file, message }),
            Ok(None) => db.withdrawn += 1,
            Ok(Some(advs)) => advs.into_iter().for_each(|a| db.add(a)),
        }
    }
    Ok(n)
}

fn parse_osv_file(p: &Path) -> Result<osv::Record, String> {
    let text = std::fs::read_to_string(p).map_err(|e| e.to_string())?;
    if p.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_norway::from_str(&text).map_err(|e| e.to_string())
    }
}

/// The advisories of one OSV record (one per affected package of an ecosystem seccheck
/// checks); `None` when withdrawn.
fn from_osv(rec: &osv::Record, file: &Path) -> Result<Option<Vec<Advisory>>, String> {
    if rec.withdrawn.is_some() {
        return Ok(None);
    }
    if rec.id.is_empty() {
        return Err("no `id`".to_string());
    }
    let db_word = rec
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str());
    let mut per_pkg: Vec<Advisory> = Vec::new();
    for aff in &rec.affected {
        let Some(pkg) = &aff.package else { continue };
        let Some(eco) = Ecosystem::from_osv(&pkg.ecosystem) else {
            continue;
        };
        let m = osv::Matcher::new(eco, aff).map_err(|e| e.to_string())?;
        let name = eco.normalise(&pkg.name);
        let vectors: Vec<&str> = rec
            .severity
            .iter()
            .chain(&aff.severity)
            .filter(|s| s.kind.starts_with("CVSS"))
            .map(|s| s.score.as_str())
            .collect();
        let informational = aff
            .database_specific
            .as_ref()
            .and_then(|d| d.get("informational"))
            .and_then(|s| s.as_str())
            .map(String::from);
        if let Some(existing) = per_pkg
            .iter_mut()
            .find(|a| a.ecosystem == eco && a.package == name)
        {
            existing.fixed.extend(m.fixed.iter().cloned());
            if let Matcher::Osv(ms) = &mut existing.matcher {
                ms.push(m);
            }
            continue;
        }
        per_pkg.push(Advisory {
            id: rec.id.clone(),
            aliases: rec.aliases.clone(),
            ecosystem: eco,
            package: name,
            title: rec
                .summary
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| rec.details.as_ref().map(|d| first_sentence(d)))
                .unwrap_or_default(),
            url: rec.references.first().map(|r| r.url.clone()),
            informational,
            rating: Rating::from_parts(vectors, db_word),
            fixed: m.fixed.clone(),
            matcher: Matcher::Osv(vec![m]),
            file: file.to_path_buf(),
        });
    }
    Ok(Some(per_pkg))
}

fn first_sentence(s: &str) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let cut = line.find(". ").map_or(line.len(), |i| i + 1);
    let mut out: String = line[..cut].chars().take(160).collect();
    if out.len() < line[..cut].len() {
        out.push('…');
    }
    out
}
