//! The monitor: everything the sampling loop reads from (system, tree, resmon itself, watched
//! paths, the cgroup) and writes to (the stream, the run's summary, Prometheus), one sample
//! or event at a time; and the stop of a launched command.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use soak_core::exit::environment;
use soak_core::record::{Record, RecordType};

use crate::cgtarget::{CgroupEvent, CgroupTarget};
use crate::sample::{self, Host, Parts, SelfReader, TOOL};
use crate::stream::Stream;
use crate::summary::RunSummary;
use crate::system::{self, SystemReader};
use crate::target::{self, Change, Targets};
use crate::tree::TreeReader;
use crate::waiter::Waiter;
use crate::{prom, watch};

/// How long a launched command gets to end after resmon forwards a signal to it.
const CHILD_GRACE: Duration = Duration::from_secs(10);

/// Everything the loop writes to and reads from.
pub(crate) struct Monitor {
    pub(crate) out: Stream,
    pub(crate) summary: RunSummary,
    pub(crate) started: Instant,
    pub(crate) host: Host,
    pub(crate) system: SystemReader,
    pub(crate) tree: TreeReader,
    pub(crate) me: SelfReader,
    pub(crate) watches: Vec<watch::Watch>,
    pub(crate) latest: Option<prom::Latest>,
    pub(crate) textfile: Option<PathBuf>,
    pub(crate) textfile_warned: bool,
    pub(crate) pss_every: Option<u64>,
    pub(crate) samples: u64,
    pub(crate) missed_total: u64,
    pub(crate) cgroup: Option<CgroupTarget>,
    /// stdout was closed by its reader (`| head -1`): nothing more is written, the run ends.
    pub(crate) out_closed: bool,
}

impl Monitor {
    pub(crate) fn event(&mut self, name: &str) -> Record {
        Record::new(RecordType::Event, TOOL)
            .with("event", name)
            .with("elapsed_s", self.started.elapsed().as_secs_f64())
    }

    pub(crate) fn write(&mut self, rec: &Record) -> anyhow::Result<()> {
        self.summary.observe(rec);
        if self.out_closed {
            return Ok(());
        }
        match self.out.write(rec) {
            Err(soak_core::CoreError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                self.out_closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    pub(crate) fn sample(
        &mut self,
        seq: u64,
        missed: u64,
        targets: &Targets,
    ) -> anyhow::Result<()> {
        let system = self.system.sample();
        let pids = targets.pids();
        let pss = self.pss_every.is_some_and(|n| seq % n == 0);
        let tree = targets.has_target().then(|| self.tree.sample(&pids, pss));
        let sizes: Vec<(String, system::Metric<u64>)> = self
            .watches
            .iter()
            .map(|w| (w.field.clone(), watch::size(&w.path)))
            .collect();
        let (cg, cg_events) = match &mut self.cgroup {
            Some(t) => {
                let (s, e) = t.sample();
                (Some(s), e)
            }
            None => (None, Vec::new()),
        };
        let rec = sample::build(&Parts {
            seq,
            missed,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            host: &self.host,
            system: &system,
            tree: tree.as_ref(),
            monitor: self.me.sample(),
            watches: &sizes,
            cgroup: cg.as_ref(),
        });
        self.write(&rec)?;
        for e in cg_events {
            let ev = self.cgroup_event(e);
            self.write(&ev)?;
        }
        self.samples += 1;
        self.missed_total += missed;
        self.publish(&rec)
    }

    fn cgroup_event(&mut self, e: CgroupEvent) -> Record {
        match e {
            CgroupEvent::OomKill {
                total,
                new,
                memory_mb,
                limit_mb,
            } => self
                .event("oom_kill")
                .with("oom_kills", total)
                .with("new_oom_kills", new)
                .with("cgroup_memory_mb", memory_mb)
                .with("cgroup_memory_limit_mb", limit_mb),
            CgroupEvent::Restart {
                old_pid,
                new_pid,
                restart_count,
                cgroup,
            } => self
                .event("container_restart")
                .with("old_pid", old_pid)
                .with("new_pid", new_pid)
                .with("restart_count", restart_count)
                .with("cgroup", cgroup),
        }
        .with(
            "target",
            self.cgroup
                .as_ref()
                .map_or(Value::Null, CgroupTarget::describe),
        )
    }

    fn publish(&mut self, rec: &Record) -> anyhow::Result<()> {
        if let Some(latest) = &self.latest {
            let text = prom::render(rec, &self.watches, prom::Format::OpenMetrics);
            if let Ok(mut slot) = latest.lock() {
                *slot = text;
            }
        }
        if let Some(path) = &self.textfile {
            let text = prom::render(rec, &self.watches, prom::Format::Text);
            if let Err(e) = prom::write_textfile(path, &text) {
                // The first write decides whether the path works at all; a later failure
                // (a full disk) must not end a 72-hour recording.
                if self.samples <= 1 {
                    return Err(environment(e));
                }
                if !self.textfile_warned {
                    eprintln!("resmon: warning: {e}");
                    self.textfile_warned = true;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn changes(
        &mut self,
        changes: Vec<Change>,
        waiter: &mut Waiter,
        targets: &Targets,
    ) -> anyhow::Result<()> {
        for change in changes {
            let rec = match change {
                Change::Exited {
                    pid,
                    exit_code,
                    signal,
                } => {
                    waiter.unwatch(pid);
                    self.event("target_exit")
                        .with("pid", pid)
                        .with("exit_code", exit_code)
                        .with("signal", signal)
                        .with("signal_name", signal.map(signal_name))
                }
                Change::Attached { old, new } => {
                    waiter.watch(new);
                    match old {
                        Some(old) => self
                            .event("target_restart")
                            .with("old_pid", old)
                            .with("new_pid", new),
                        None => self.event("target_attach").with("pid", new),
                    }
                    .with("target", targets.describe())
                }
            };
            self.write(&rec)?;
        }
        Ok(())
    }
}

/// Sends `sig` to a launched command still running, waits for it ([`CHILD_GRACE`], then
/// SIGKILL) and records its exit.
pub(crate) fn end_child(
    m: &mut Monitor,
    targets: &mut Targets,
    waiter: &mut Waiter,
    sig: i32,
) -> anyhow::Result<()> {
    if targets.child_pid().is_none() || targets.child_status().is_some() {
        return Ok(());
    }
    targets.forward_signal(sig);
    let deadline = Instant::now() + CHILD_GRACE;
    let mut killed = false;
    while targets.child_status().is_none() {
        if !killed && Instant::now() >= deadline {
            targets.forward_signal(target::SIGKILL);
            killed = true;
        }
        waiter.wait(Duration::from_millis(50));
        let changes = targets.refresh();
        m.changes(changes, waiter, targets)?;
    }
    Ok(())
}

pub(crate) fn signal_name(sig: i32) -> String {
    #[cfg(windows)]
    return soak_core::signals::Termination::name(sig).to_string();
    #[cfg(unix)]
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{sig}"))
}
