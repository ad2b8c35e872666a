//! The advisory database cache of `seccheck db update` (`$XDG_CACHE_HOME/soakkit/`, else
//! `~/.cache/soakkit/`): one directory per database, each replaced as a whole.
//!
//! An update is built in a fresh `.tmp-<db>-<pid>-<random>` directory made exclusively
//! (`mkdir` fails on anything already there, a symlink included) inside the cache, and only
//! when it is complete and loads is it swapped into place with one `renameat2` (an atomic
//! exchange when a copy exists, a no-replace rename when none does), relative to the cache
//! directory opened with `O_NOFOLLOW`. A reader sees the old copy or the new one, never half
//! of either; a failed update deletes its temp directory and leaves the last good copy.
//!
//! The swap also takes an exclusive `flock` on the cache directory, and `deps` holds a shared
//! one while it reads the cache ([`Cache::read_lock`]): a swap never lands in the middle of an
//! audit's reading (and the old copy is never deleted under it).
//!
//! On Windows the lock is `LockFileEx` on a `.seccheck-lock` file in the cache and the swap is
//! made of renames that never replace (see the `windows` module); the default cache is
//! `%LOCALAPPDATA%\\soakkit` when neither variable above is set.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::dbage::{self, Stamp};
use crate::lockfile::Ecosystem;

/// The file in each cached database that says where and when it came from (hidden: the OSV
/// loader skips dot files).
pub const SOURCE_NOTE: &str = ".seccheck-source.json";

const TEMP_PREFIX: &str = ".tmp-";

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

/// A cached database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The RustSec advisory-db (a git checkout), for Cargo.lock.
    Rustsec,
    /// The OSV export of PyPI advisories (JSON records), for Python lockfiles.
    OsvPypi,
}

impl Kind {
    /// Both, in the order they are updated and shown.
    pub const ALL: [Kind; 2] = [Kind::Rustsec, Kind::OsvPypi];

    /// The name of its directory in the cache, and in records.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rustsec => "rustsec",
            Kind::OsvPypi => "osv-pypi",
        }
    }

    /// The database that covers `eco`.
    pub fn for_ecosystem(eco: Ecosystem) -> Kind {
        match eco {
            Ecosystem::CratesIo => Kind::Rustsec,
            Ecosystem::PyPI => Kind::OsvPypi,
        }
    }
}

/// Why the cache cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache path (or a database in it) is a symlink.
    #[error("{0}: a symlink; the advisory cache must be a real directory (give --cache-dir)")]
    Symlink(PathBuf),
    /// The cache path (or a database in it) is not a directory.
    #[error("{0}: not a directory; the advisory cache must be one (give --cache-dir)")]
    NotDir(PathBuf),
    /// No place for a default cache.
    #[error(
        "no advisory cache directory: neither XDG_CACHE_HOME nor HOME is set; give --cache-dir"
    )]
    NoHome,
    /// An I/O failure on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The source note of a cached database cannot be read.
    #[error("{0}: unreadable source note: {1}")]
    Note(PathBuf, String),
}

impl CacheError {
    /// Whether it is the user's input (exit 2) rather than the environment (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CacheError::Symlink(_) | CacheError::NotDir(_) | CacheError::NoHome
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a cached database came from and when (its [`SOURCE_NOTE`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceNote {
    /// The URL, redacted (no userinfo, no query).
    pub url: String,
    /// When the update finished (Unix seconds).
    pub updated_unix: u64,
    /// The git commit checked out (RustSec).
    #[serde(default)]
    pub head: Option<String>,
    /// Advisory files the loader read when the copy was checked.
    pub advisories: usize,
}

/// The advisory cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    /// The directory.
    pub dir: PathBuf,
}

/// `$XDG_CACHE_HOME/soakkit` (when set to an absolute path, as the XDG spec asks), else
/// `$HOME/.cache/soakkit`.
pub fn default_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })
    .or_else(local_app_data)
    .map(|d| d.join("soakkit"))
}

/// `%LOCALAPPDATA%` on Windows (where neither variable is usually set); nothing elsewhere.
fn local_app_data() -> Option<PathBuf> {
    #[cfg(windows)]
    return std::env::var_os("LOCALAPPDATA")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    #[cfg(not(windows))]
    None
}

/// Fails on a symlink or a non-directory at `path`; `Ok(false)` when nothing is there.
fn check_dir(path: &Path) -> Result<bool, CacheError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(CacheError::Symlink(path.to_path_buf())),
        Ok(m) if !m.is_dir() => Err(CacheError::NotDir(path.to_path_buf())),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

impl Cache {
    /// The cache at `explicit` (`--cache-dir`) or the default; a symlink or a file there is
    /// refused (it need not exist yet).
    pub fn locate(explicit: Option<&Path>) -> Result<Cache, CacheError> {
        let dir = match explicit {
            Some(d) => d.to_path_buf(),
            None => default_dir().ok_or(CacheError::NoHome)?,
        };
        check_dir(&dir)?;
        // Absolute, so git (run in other directories) and messages see one path.
        let dir = std::path::absolute(&dir).map_err(io(&dir))?;
        Ok(Cache { dir })
    }

    /// Creates the cache directory (and its parents) when missing.
    pub fn create(&self) -> Result<(), CacheError> {
        if !check_dir(&self.dir)? {
            std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
            check_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The directory of `kind`.
    pub fn path(&self, kind: Kind) -> PathBuf {
        self.dir.join(kind.name())
    }

    /// Whether `kind` is cached (its directory is there; a symlink or file there is refused).
    pub fn has(&self, kind: Kind) -> Result<bool, CacheError> {
        check_dir(&self.path(kind))
    }

    /// The source note of `kind`, when it is cached.
    pub fn note(&self, kind: Kind) -> Result<Option<SourceNote>, CacheError> {
        if !self.has(kind)? {
            return Ok(None);
        }
        let path = self.path(kind).join(SOURCE_NOTE);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CacheError::Note(path, e.to_string()))
    }

    /// The time `kind`'s age is told from: the git HEAD commit time for RustSec, the
    /// download time for the OSV export. `None` when it is not cached.
    pub fn stamp(&self, kind: Kind) -> Result<Option<Stamp>, CacheError> {
        let Some(note) = self.note(kind)? else {
            return Ok(None);
        };
        Ok(Some(match kind {
            Kind::Rustsec => dbage::stamp(&self.path(kind), None)
                .map_err(|e| CacheError::Note(self.path(kind), e.to_string()))?,
            Kind::OsvPypi => Stamp::Downloaded(UNIX_EPOCH + Duration::from_secs(note.updated_unix)),
        }))
    }

    /// A fresh temp directory for an update of `kind`, made exclusively inside the cache.
    /// Temp directories left by updates that died (their PID is gone) are removed first.
    pub fn temp_dir(&self, kind: Kind) -> Result<TempDir, CacheError> {
        self.create()?;
        self.remove_orphaned_temps()?;
        let name = format!(
            "{TEMP_PREFIX}{}-{}-{:016x}",
            kind.name(),
            std::process::id(),
            rand::random::<u64>()
        );
        let path = self.dir.join(name);
        std::fs::create_dir(&path).map_err(io(&path))?;
        Ok(TempDir { path })
    }

    fn remove_orphaned_temps(&self) -> Result<(), CacheError> {
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
                continue;
            };
            let pid = rest
                .split('-')
                .rev()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok());
            let alive = pid.is_some_and(soak_core::alive::is_running);
            if !alive && entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        Ok(())
    }

    fn lock(&self, exclusive: bool) -> Result<CacheLock, CacheError> {
        os::lock(&self.dir, exclusive)
            .map(|lock| CacheLock { _lock: lock })
            .map_err(io(&self.dir))
    }

    /// A shared lock on the cache for as long as it is held: no update swaps a database in
    /// meanwhile (an update waits for it, then swaps).
    pub fn read_lock(&self) -> Result<CacheLock, CacheError> {
        self.lock(false)
    }

    /// Puts the complete, checked copy in `tmp` in place of `kind` with one atomic
    /// `renameat2` (under the exclusive lock); the old copy, now in `tmp`'s place, is deleted
    /// with `tmp` once the lock is released.
    pub fn install(&self, tmp: TempDir, kind: Kind) -> Result<(), CacheError> {
        let lock = self.lock(true)?;
        let tmp_name = tmp.path.file_name().map(PathBuf::from).unwrap_or_default();
        os::swap_in(&self.dir, &tmp_name, kind.name(), self.has(kind)?)
            .map_err(io(&self.path(kind)))?;
        drop(lock);
        drop(tmp);
        Ok(())
    }
}

/// A held lock on the cache (released when dropped): `flock` on the directory on Unix,
/// `LockFileEx` on its lock file on Windows.
#[derive(Debug)]
pub struct CacheLock {
    _lock: os::Lock,
}

/// A temp directory of an update, removed when dropped (after [`Cache::install`] it holds
/// the old copy).
#[derive(Debug)]
pub struct TempDir {
    /// Its path.
    pub path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "seccheck: warning: could not remove {}: {e}",
                self.path.display()
            );
        }
    }
}

/// Creates `dir/name` exclusively (`O_EXCL|O_NOFOLLOW`; on Windows `CREATE_NEW` with
/// `FILE_FLAG_OPEN_REPARSE_POINT`): never through a planted path.
pub fn create_file(dir: &Path, name: &str) -> std::io::Result<File> {
    os::create_new(&dir.join(name))
}

/// Writes `note` as the source note of the copy in `dir`.
pub fn write_note(dir: &Path, note: &SourceNote) -> Result<(), CacheError> {
    let path = dir.join(SOURCE_NOTE);
    let mut f = create_file(dir, SOURCE_NOTE).map_err(io(&path))?;
    let text = serde_json::to_string_pretty(note)
        .map_err(|e| CacheError::Note(path.clone(), e.to_string()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(io(&path))
}

/// Now, as Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
