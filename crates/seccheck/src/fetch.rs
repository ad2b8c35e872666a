//! Fetching the databases into an update's temp directory: the RustSec advisory-db with the
//! `git` CLI (the user's git, its proxy and credential setup, no libgit2/gix build), the
//! OSV PyPI export over HTTP(S) with `ureq` and unpacked with `zip`.
//!
//! The URL reaches git through the environment (`GIT_CONFIG_*`), never argv, and is written
//! to no git config; messages are scrubbed of userinfo. Prompts are off: a remote that
//! wants a password fails instead of hanging.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cache::create_file;
use crate::dburl::{redact, scrub};

/// The largest export downloaded (the real PyPI `all.zip` is tens of MB).
pub const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;
/// The largest single record unpacked.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;
const DOWNLOAD_NAME: &str = ".download.zip";

/// Why a fetch failed (all environment failures, exit 3).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// git failed (network, no such repository, not a fast-forward…).
    #[error("{url}: git {step} failed: {message}")]
    Git {
        /// The redacted URL.
        url: String,
        /// What git was doing.
        step: &'static str,
        /// git's message, scrubbed.
        message: String,
    },
    /// The download failed.
    #[error("{url}: download failed: {message}")]
    Http {
        /// The redacted URL.
        url: String,
        /// What went wrong, scrubbed.
        message: String,
    },
    /// What was downloaded is not an OSV export.
    #[error("{url}: not an OSV export zip: {message}")]
    Archive {
        /// The redacted URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A local file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What the git fetch did.
#[derive(Debug, Clone)]
pub struct GitOutcome {
    /// The commit now checked out.
    pub head: String,
    /// The commit the previous copy had, when there was one.
    pub previous: Option<String>,
    /// Whether the new commit descends from the previous one (`false` on a first clone or
    /// a rewritten upstream history, which is checked out as a fresh clone would be).
    pub fast_forward: bool,
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
    ] {
        c.env_remove(var);
    }
    c.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .args([
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "advice.detachedHead=false",
        ])
        .arg("-C")
        .arg(dir);
    c
}

fn run_git(mut cmd: Command, url: &str, step: &'static str) -> Result<String, FetchError> {
    let err = |message: String| FetchError::Git {
        url: redact(url),
        step,
        message: scrub(&message, url),
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| err(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(err(if msg.is_empty() {
            format!("git exited with {}", out.status)
        } else {
            msg
        }));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Fetches the remote's HEAD from `url` into the empty directory `into` and checks it out.
/// With `previous` (the cached copy), its objects are cloned locally first, so only the new
/// commits cross the network, and the result says whether it was a fast-forward.
pub fn git_update(
    url: &str,
    previous: Option<&Path>,
    into: &Path,
) -> Result<GitOutcome, FetchError> {
    let parent = into.parent().unwrap_or(into);
    let mut old_head = None;
    if let Some(prev) = previous {
        let mut rev = git(prev);
        rev.args(["rev-parse", "--verify", "HEAD^{commit}"]);
        if let Ok(h) = run_git(rev, url, "rev-parse") {
            let mut clone = git(parent);
            clone
                .args(["clone", "--quiet", "--no-checkout", "--"])
                .arg(prev)
                .arg(into);
            run_git(clone, url, "clone (local copy)")?;
            let mut rm = git(into);
            rm.args(["remote", "remove", "origin"]);
            run_git(rm, url, "remote remove")?;
            old_head = Some(h);
        }
    }
    if old_head.is_none() {
        let mut init = git(parent);
        init.args(["-c", "init.defaultBranch=main", "init", "--quiet", "--"])
            .arg(into);
        run_git(init, url, "init")?;
    }
    let mut fetch = git(into);
    fetch
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "remote.origin.url")
        .env("GIT_CONFIG_VALUE_0", url)
        .args(["fetch", "--quiet", "--no-tags", "origin", "HEAD"]);
    run_git(fetch, url, "fetch")?;
    let mut rev = git(into);
    rev.args(["rev-parse", "--verify", "FETCH_HEAD^{commit}"]);
    let head = run_git(rev, url, "rev-parse")?;
    let fast_forward = match &old_head {
        Some(old) => {
            let mut anc = git(into);
            anc.args(["merge-base", "--is-ancestor", old, &head]);
            run_git(anc, url, "merge-base").is_ok()
        }
        None => false,
    };
    let mut reset = git(into);
    reset.args(["reset", "--quiet", "--hard", &head]);
    run_git(reset, url, "checkout")?;
    // FETCH_HEAD names the URL; the cache keeps only the redacted one, in its note.
    let fetch_head = into.join(".git/FETCH_HEAD");
    std::fs::remove_file(&fetch_head).map_err(|source| FetchError::Io {
        path: fetch_head,
        source,
    })?;
    Ok(GitOutcome {
        head,
        previous: old_head,
        fast_forward,
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// Downloads the zip at `url` and unpacks its OSV records (`*.json`, flat, as osv.dev
/// exports them) into `into`; returns how many. Every file is created exclusively; an
/// entry with a path, a dot name or another extension makes the archive unusable.
pub fn download_osv_zip(url: &str, into: &Path) -> Result<usize, FetchError> {
    let http = |message: String| FetchError::Http {
        url: redact(url),
        message: scrub(&message, url),
    };
    let zip_path = into.join(DOWNLOAD_NAME);
    let ioe = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    let mut resp = agent().get(url).call().map_err(|e| http(e.to_string()))?;
    let mut file = create_file(into, DOWNLOAD_NAME).map_err(ioe(&zip_path))?;
    let mut body = resp.body_mut().as_reader().take(MAX_DOWNLOAD_BYTES + 1);
    let got = std::io::copy(&mut body, &mut file).map_err(|e| http(e.to_string()))?;
    if got > MAX_DOWNLOAD_BYTES {
        return Err(http(format!(
            "larger than {} MiB",
            MAX_DOWNLOAD_BYTES >> 20
        )));
    }
    file.flush().map_err(ioe(&zip_path))?;
    drop(file);
    let n = unpack(&zip_path, into).map_err(|message| FetchError::Archive {
        url: redact(url),
        message,
    })?;
    std::fs::remove_file(&zip_path).map_err(ioe(&zip_path))?;
    Ok(n)
}

fn unpack(zip_path: &Path, into: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(zip_path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    let mut n = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let flat = !name.is_empty()
            && !name.contains(['/', '\\', '\0'])
            && !name.starts_with('.')
            && name.ends_with(".json");
        if !flat {
            return Err(format!(
                "entry `{}` is not a flat *.json record name",
                name.escape_debug()
            ));
        }
        let path = into.join(&name);
        let mut out = create_file(into, &name).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut limited = (&mut entry).take(MAX_RECORD_BYTES + 1);
        let wrote =
            std::io::copy(&mut limited, &mut out).map_err(|e| format!("entry `{name}`: {e}"))?;
        if wrote > MAX_RECORD_BYTES {
            return Err(format!(
                "entry `{name}` unpacks to more than {} MiB",
                MAX_RECORD_BYTES >> 20
            ));
        }
        n += 1;
    }
    if n == 0 {
        return Err("it holds no *.json record".to_string());
    }
    Ok(n)
}
