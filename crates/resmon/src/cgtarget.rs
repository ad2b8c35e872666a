//! The cgroup resmon follows (`--cgroup`, `--container`, `--unit`) and what happens to it:
//! OOM kills (the kernel's counter went up) and restarts of a container or unit (its main
//! PID changed, found again through `docker`/`podman`/`systemctl`; the files are reopened,
//! as a restarted container may have a new cgroup directory).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cgroup::{CgroupError, CgroupReader, CgroupSample, locate};
use crate::resolve::{self, ResolveError, Resolved};

/// How the cgroup was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--cgroup PATH`.
    Path(String),
    /// `--container NAME|ID`.
    Container(String),
    /// `--unit NAME`.
    Unit(String),
}

/// Something that happened to the cgroup, written as an `event`.
#[derive(Debug, Clone, PartialEq)]
pub enum CgroupEvent {
    /// The OOM killer killed `new` processes since the previous sample.
    OomKill {
        /// The counter now.
        total: u64,
        /// Kills since the previous sample.
        new: u64,
        /// Memory in use at this sample, MB (after the kill).
        memory_mb: Option<f64>,
        /// The limit, MB.
        limit_mb: Option<f64>,
    },
    /// The container or unit came back under a new main PID.
    Restart {
        /// The PID before.
        old_pid: i32,
        /// The PID now.
        new_pid: i32,
        /// `docker inspect .RestartCount` now.
        restart_count: Option<u64>,
        /// The cgroup now.
        cgroup: String,
    },
}

/// Why the cgroup target could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetSetupError {
    /// The path names no cgroup.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The container or unit could not be resolved.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// The followed cgroup.
#[derive(Debug)]
pub struct CgroupTarget {
    root: PathBuf,
    source: Source,
    reader: CgroupReader,
    resolved: Option<Resolved>,
    last_oom: Option<u64>,
}

fn resolve(source: &Source) -> Result<Option<Resolved>, ResolveError> {
    match source {
        Source::Path(_) => Ok(None),
        Source::Container(name) => resolve::container(name).map(Some),
        Source::Unit(name) => resolve::unit(name).map(Some),
    }
}

fn alive(pid: i32) -> bool {
    soak_core::alive::is_running(pid)
}

impl CgroupTarget {
    /// Resolves and opens the cgroup under `root`, and takes the OOM and CPU baselines.
    pub fn open(root: &Path, source: Source) -> Result<CgroupTarget, TargetSetupError> {
        let resolved = resolve(&source)?;
        let path = match (&source, &resolved) {
            (Source::Path(p), _) => p.clone(),
            (_, Some(r)) => r.cgroup.clone(),
            (_, None) => String::new(),
        };
        let reader = CgroupReader::new(locate(root, &path)?);
        let mut t = CgroupTarget {
            root: root.to_path_buf(),
            source,
            reader,
            resolved,
            last_oom: None,
        };
        let first = t.reader.sample();
        t.last_oom = first.oom_kills.ok();
        Ok(t)
    }

    /// A container or unit whose main PID is gone is looked up again; a new PID is a restart
    /// and the cgroup's files are reopened.
    fn check_restart(&mut self) -> Option<CgroupEvent> {
        let old = self.resolved.as_ref()?;
        if alive(old.pid) {
            return None;
        }
        let now = resolve(&self.source).ok()??;
        if now.pid == old.pid || now.pid <= 0 {
            return None;
        }
        let event = CgroupEvent::Restart {
            old_pid: old.pid,
            new_pid: now.pid,
            restart_count: now.restart_count,
            cgroup: now.cgroup.clone(),
        };
        if let Ok(loc) = locate(&self.root, &now.cgroup) {
            self.reader = CgroupReader::new(loc);
            self.reader.prime();
        }
        self.resolved = Some(now);
        Some(event)
    }

    /// Reads the cgroup; returns the reading and what happened since the previous one.
    pub fn sample(&mut self) -> (CgroupSample, Vec<CgroupEvent>) {
        let mut events: Vec<CgroupEvent> = self.check_restart().into_iter().collect();
        let s = self.reader.sample();
        if let Ok(total) = s.oom_kills {
            match self.last_oom {
                Some(last) if total > last => {
                    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
                    events.push(CgroupEvent::OomKill {
                        total,
                        new: total - last,
                        memory_mb: s.memory.as_ref().ok().map(|m| mb(m.working_set)),
                        limit_mb: s.limit.as_ref().ok().copied().flatten().map(mb),
                    });
                }
                _ => {}
            }
            // A counter that went down belongs to a new cgroup (a restarted container).
            self.last_oom = Some(total);
        }
        (s, events)
    }

    /// The cgroup as the start event describes it.
    pub fn describe(&self) -> Value {
        let loc = self.reader.location();
        let (kind, name) = match &self.source {
            Source::Path(p) => ("path", p.as_str()),
            Source::Container(n) => ("container", n.as_str()),
            Source::Unit(n) => ("unit", n.as_str()),
        };
        json!({
            "kind": kind,
            "name": name,
            "path": loc.path,
            "version": loc.version.as_str(),
            "memory_dir": soak_core::pathtext::shown(&loc.memory),
            "resolved_by": self.resolved.as_ref().map(|r| r.tool),
            "pid": self.resolved.as_ref().map(|r| r.pid),
            "restart_count": self.resolved.as_ref().and_then(|r| r.restart_count),
            "oom_kills_before_start": self.last_oom,
        })
    }
}
