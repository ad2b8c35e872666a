//! What resmon follows: nothing (the system alone), PIDs, the PID in a pid file, the process
//! whose command line matches a regex, or a command it launches itself.
//!
//! A target is identified by PID *and* start time, so a recycled PID is never taken for the
//! service that had it. A pid file or a name re-attaches when the service comes back under a
//! new PID (a `target_restart`); plain PIDs and a launched command end the run when they end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use regex::Regex;
use serde_json::{Value, json};

#[cfg(target_os = "linux")]
use crate::procfile::ProcFile;
#[cfg(target_os = "linux")]
use crate::tree::parse_stat;

#[cfg(not(target_os = "linux"))]
use crate::portable::procs::{matching, parent_of, running_start};

/// SIGKILL's number: forwarded as itself on Unix, as `TerminateProcess` on Windows.
pub const SIGKILL: i32 = 9;

/// The signal that ended a process, where the OS has signals (never on Windows).
pub fn signal_of(status: ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    return std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// How the target was named on the command line.
#[derive(Debug)]
pub enum Spec {
    /// No target: the system alone.
    None,
    /// `--pid` (one or more).
    Pids(Vec<i32>),
    /// `--pid-file`.
    PidFile(PathBuf),
    /// `--name REGEX`.
    Name(Regex),
    /// `-- CMD ARGS...`.
    Command(Vec<String>),
}

/// Why a target could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `--pid N` names no running process.
    #[error("--pid {0}: no such process")]
    NoSuchPid(i32),
    /// The pid file cannot be read or holds no PID.
    #[error("--pid-file {}: {reason}", soak_core::pathtext::shown(path))]
    PidFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The command cannot be started.
    #[error("cannot run '{command}': {source}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A change in the targets seen by [`Targets::refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A target ended. The exit code or signal is known only for a launched command.
    Exited {
        /// Its PID.
        pid: i32,
        /// Exit code, when it exited normally.
        exit_code: Option<i32>,
        /// Signal number, when a signal killed it.
        signal: Option<i32>,
    },
    /// The service came back (or appeared for the first time) under `new`.
    Attached {
        /// The PID it had before, if it had one.
        old: Option<i32>,
        /// Its PID now.
        new: i32,
    },
}

/// The live targets and how to find them again.
#[derive(Debug)]
pub struct Targets {
    spec: Spec,
    child: Option<Child>,
    child_status: Option<ExitStatus>,
    current: Vec<(i32, u64)>,
    /// Each current target's `stat`, kept open: bound to that very process, so a read
    /// failing or showing a zombie means it has ended, even if its PID is reused. Linux only:
    /// elsewhere `/proc/PID/stat` names no such file, or worse, under wine, the Linux host's
    /// file of an unrelated process that happens to have the same number (whose start time
    /// never matches, so a live target was taken for ended: 0 samples and exit 0).
    #[cfg(target_os = "linux")]
    stat_files: Vec<Option<ProcFile>>,
    last_pid: Option<i32>,
    excluded: Vec<i32>,
}

/// The start time of a running (not zombie) `pid`.
#[cfg(target_os = "linux")]
fn running_start(pid: i32) -> Option<u64> {
    let s = soak_core::proc::read_stat(pid).ok()?;
    (s.state != 'Z' && s.state != 'X').then_some(s.start_ticks)
}

#[cfg(target_os = "linux")]
fn parent_of(pid: i32) -> Option<i32> {
    soak_core::proc::read_stat(pid).ok().map(|s| s.ppid)
}

/// resmon itself and its ancestors: never a target of `--name` (their command lines hold
/// the pattern).
fn self_and_ancestors() -> Vec<i32> {
    let mut out = vec![std::process::id() as i32];
    let mut pid = out[0];
    while let Some(p) = parent_of(pid).filter(|&p| p > 1 && !out.contains(&p)) {
        out.push(p);
        pid = p;
    }
    out
}

/// The command line of `pid` joined by spaces (empty for kernel threads); read as bytes, so
/// an argument that is not UTF-8 still matches (core's `proc::cmdline` refuses it).
#[cfg(target_os = "linux")]
fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s = String::from_utf8_lossy(&raw).replace('\0', " ");
    Some(s.trim_end().to_string())
}

/// The service matching `re`: among running processes whose command line matches (kernel
/// threads, resmon and its ancestors excluded), the oldest one whose parent does not match
/// too (the root of the service's tree, not one of its workers).
pub fn find_by_name(re: &Regex, excluded: &[i32]) -> Option<i32> {
    let matches = matching(re, excluded)?;
    let pids: Vec<i32> = matches.iter().map(|m| m.1).collect();
    matches
        .iter()
        .filter(|(_, _, parent)| parent.is_none_or(|pp| !pids.contains(&pp)))
        .min()
        .map(|m| m.1)
}

/// The running processes whose command line matches `re`, as (start time, PID, parent PID),
/// from /proc.
#[cfg(target_os = "linux")]
fn matching(re: &Regex, excluded: &[i32]) -> Option<Vec<(u64, i32, Option<i32>)>> {
    let mut matches = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if excluded.contains(&pid) {
            continue;
        }
        let Some(line) = cmdline(pid).filter(|l| !l.is_empty()) else {
            continue;
        };
        if re.is_match(&line) {
            if let Some(start) = running_start(pid) {
                matches.push((start, pid, parent_of(pid)));
            }
        }
    }
    Some(matches)
}

fn read_pid_file(path: &Path) -> Result<i32, TargetError> {
    let err = |reason: String| TargetError::PidFile {
        path: path.to_path_buf(),
        reason,
    };
    // A PID file is a few bytes in a regular file: a FIFO (which would block), a device such
    // as /dev/zero (which never ends) or a huge file is refused or read no further than 4 KiB.
    let text = (|| -> std::io::Result<String> {
        use std::io::Read;
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            libc::O_NONBLOCK | libc::O_CLOEXEC,
        );
        let file = options.open(path)?;
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let mut text = String::new();
        file.take(4096).read_to_string(&mut text)?;
        Ok(text)
    })()
    .map_err(|e| err(e.to_string()))?;
    let first = text.split_ascii_whitespace().next().unwrap_or("");
    first
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| err(format!("no PID in it (found '{first}')")))
}

impl Targets {
    /// Checks the targets exist (or launches the command). A launched command's stdout goes
    /// to resmon's stderr when `stdout_is_ours` (the samples go to stdout), so the JSONL
    /// stream stays clean.
    pub fn start(spec: Spec, stdout_is_ours: bool) -> Result<Targets, TargetError> {
        let mut t = Targets {
            spec,
            child: None,
            child_status: None,
            current: Vec::new(),
            #[cfg(target_os = "linux")]
            stat_files: Vec::new(),
            last_pid: None,
            excluded: Vec::new(),
        };
        match &t.spec {
            Spec::None => {}
            Spec::Pids(pids) => {
                for &pid in pids {
                    let start = running_start(pid).ok_or(TargetError::NoSuchPid(pid))?;
                    if !t.current.iter().any(|c| c.0 == pid) {
                        t.current.push((pid, start));
                    }
                }
            }
            Spec::PidFile(path) => {
                let pid = read_pid_file(path)?;
                let start = running_start(pid).ok_or_else(|| TargetError::PidFile {
                    path: path.clone(),
                    reason: format!("PID {pid}: no such process"),
                })?;
                t.current.push((pid, start));
            }
            Spec::Name(re) => {
                t.excluded = self_and_ancestors();
                if let Some(pid) = find_by_name(re, &t.excluded) {
                    if let Some(start) = running_start(pid) {
                        t.current.push((pid, start));
                    }
                }
            }
            Spec::Command(argv) => {
                let (program, args) = argv.split_first().ok_or_else(|| TargetError::Spawn {
                    command: String::new(),
                    source: std::io::Error::other("empty command"),
                })?;
                let mut cmd = Command::new(program);
                cmd.args(args);
                if stdout_is_ours {
                    #[cfg(unix)]
                    let ours = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned();
                    #[cfg(windows)]
                    let ours = std::os::windows::io::AsHandle::as_handle(&std::io::stderr())
                        .try_clone_to_owned();
                    if let Ok(stderr) = ours {
                        cmd.stdout(Stdio::from(stderr));
                    }
                }
                // Its own console process group, so it can be stopped by Ctrl+Break alone.
                #[cfg(windows)]
                crate::windows::child::own_process_group(&mut cmd);
                let child = cmd.spawn().map_err(|source| TargetError::Spawn {
                    command: program.clone(),
                    source,
                })?;
                let pid = child.id() as i32;
                t.current.push((pid, running_start(pid).unwrap_or(0)));
                t.child = Some(child);
            }
        }
        t.last_pid = t.current.first().map(|c| c.0);
        t.reopen();
        Ok(t)
    }

    fn reopen(&mut self) {
        #[cfg(target_os = "linux")]
        {
            self.stat_files = self
                .current
                .iter()
                .map(|(pid, _)| ProcFile::open_single(format!("/proc/{pid}/stat")).ok())
                .collect();
        }
    }

    /// Whether the `i`th current target, `pid` started at `start`, still runs: through its
    /// kept-open `stat` on Linux, else by its PID and start time.
    fn still_running(&mut self, i: usize, pid: i32, start: u64) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(f) = self.stat_files.get_mut(i).and_then(Option::as_mut) {
            return f
                .read()
                .ok()
                .and_then(|t| parse_stat(pid, t, 1))
                .is_some_and(|r| r.start_ticks == start && r.state != 'Z' && r.state != 'X');
        }
        let _ = i;
        running_start(pid) == Some(start)
    }

    /// The live targets' PIDs, the primary first.
    pub fn pids(&self) -> Vec<i32> {
        self.current.iter().map(|c| c.0).collect()
    }

    /// The launched command's PID, if any.
    pub fn child_pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The launched command's status once it has ended.
    pub fn child_status(&self) -> Option<ExitStatus> {
        self.child_status
    }

    /// True when the run must end because its targets have: the launched command exited,
    /// or every `--pid` did. Pid files and names wait for the service to come back.
    pub fn finished(&self) -> bool {
        match &self.spec {
            Spec::Command(_) => self.child_status.is_some(),
            Spec::Pids(_) => self.current.is_empty(),
            _ => false,
        }
    }

    /// Notices ended targets (reaping a launched command) and re-attaches a pid file or a
    /// name to the service's new process.
    pub fn refresh(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(child) = &mut self.child {
            if self.child_status.is_none() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child_status = Some(status);
                    changes.push(Change::Exited {
                        pid: child.id() as i32,
                        exit_code: status.code(),
                        signal: signal_of(status),
                    });
                    self.current.clear();
                }
            }
            return changes;
        }
        let mut keep = Vec::with_capacity(self.current.len());
        for (i, (pid, start)) in self.current.clone().into_iter().enumerate() {
            let alive = self.still_running(i, pid, start);
            keep.push(alive);
            if !alive {
                changes.push(Change::Exited {
                    pid,
                    exit_code: None,
                    signal: None,
                });
            }
        }
        if keep.iter().any(|k| !k) {
            let mut it = keep.iter();
            self.current.retain(|_| *it.next().unwrap_or(&false));
            self.reopen();
        }
        if self.current.is_empty() {
            let found = match &self.spec {
                Spec::PidFile(path) => read_pid_file(path).ok(),
                Spec::Name(re) => find_by_name(re, &self.excluded),
                _ => None,
            };
            if let Some(pid) = found {
                if let Some(start) = running_start(pid) {
                    self.current.push((pid, start));
                    self.reopen();
                    changes.push(Change::Attached {
                        old: self.last_pid,
                        new: pid,
                    });
                    self.last_pid = Some(pid);
                }
            }
        }
        changes
    }

    /// Sends `signal` to a launched command (forwarding resmon's SIGTERM/SIGINT/SIGHUP; on
    /// Windows Ctrl+Break, and [`SIGKILL`] as `TerminateProcess`).
    pub fn forward_signal(&self, signal: i32) {
        if let (Some(child), None) = (&self.child, self.child_status) {
            #[cfg(unix)]
            if let Ok(sig) = nix::sys::signal::Signal::try_from(signal) {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, sig);
            }
            #[cfg(windows)]
            crate::windows::child::signal(child, signal);
        }
    }

    /// The target as the start event describes it.
    pub fn describe(&self) -> Value {
        match &self.spec {
            Spec::None => Value::Null,
            Spec::Pids(pids) => json!({"kind": "pid", "pids": pids}),
            Spec::PidFile(p) => {
                json!({"kind": "pid_file", "path": soak_core::pathtext::shown(p), "pid": self.last_pid})
            }
            Spec::Name(re) => json!({"kind": "name", "regex": re.as_str(), "pid": self.last_pid}),
            Spec::Command(argv) => {
                json!({"kind": "command", "argv": argv, "pid": self.child_pid()})
            }
        }
    }

    /// True when the targets may change without one of them exiting: a pid file or a name
    /// whose service is down is looked for again at every tick.
    pub fn searching(&self) -> bool {
        self.current.is_empty() && matches!(self.spec, Spec::PidFile(_) | Spec::Name(_))
    }

    /// True when a target was named at all.
    pub fn has_target(&self) -> bool {
        !matches!(self.spec, Spec::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pid_is_named() {
        let err = Targets::start(Spec::Pids(vec![i32::MAX]), false).expect_err("no such pid");
        assert_eq!(
            err.to_string(),
            format!("--pid {}: no such process", i32::MAX)
        );
    }

    #[test]
    fn pid_file_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("svc.pid");
        std::fs::write(&path, "not-a-pid\n").expect("write");
        let err = Targets::start(Spec::PidFile(path.clone()), false).expect_err("bad pid");
        assert!(err.to_string().contains("svc.pid"), "{err}");
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("write");
        let t = Targets::start(Spec::PidFile(path), false).expect("self");
        assert_eq!(t.pids(), [std::process::id() as i32]);
    }

    #[test]
    #[cfg(unix)]
    fn name_finds_the_oldest_root_and_never_itself() {
        let marker = format!("resmon-unit-{}", std::process::id());
        let mut child = Command::new("bash")
            .args(["-c", &format!("exec -a {marker} sleep 30")])
            .spawn()
            .expect("spawn");
        let re = Regex::new(&marker).expect("regex");
        let mut found = None;
        for _ in 0..500 {
            found = find_by_name(&re, &self_and_ancestors());
            if found.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(child.id() as i32));
    }
}
