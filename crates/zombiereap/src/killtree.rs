//! `zombiereap kill-tree`: end a whole process tree, gracefully first.
//!
//! 1. **Freeze and collect.** The tree (the root, its descendants, and members of the root's
//!    process group when the root leads one) is collected and every member is sent SIGSTOP, then
//!    collected again until no new member appears: a frozen process cannot fork, so a child
//!    spawned during collection is never missed, and no child is re-parented away before it
//!    was seen.
//! 2. **Ask.** Every member, still frozen, gets the graceful signal (SIGTERM by default); then
//!    every member gets SIGCONT, descendants first and the root last. (Continuing the root first
//!    could let it exit while its group still holds stopped members: the kernel then sends the
//!    orphaned group SIGHUP, which would kill members that only ignore SIGTERM.)
//! 3. **Wait** up to the timeout, watching for members that fork while exiting (their new
//!    children are captured and signalled too).
//! 4. **Force.** What is still alive gets SIGKILL.
//!
//! On Linux every member is a `target::Target` (PID + start time, pidfd where available), so a
//! PID recycled during all this is never signalled.

use soak_core::record::{Record, RecordType};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{KillOptions, Outcome, action, kill_one, kill_tree};

/// What happened to one member of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Exited after the graceful signal.
    Exited,
    /// Still alive at the timeout: killed with SIGKILL.
    Killed,
    /// Survived even SIGKILL (e.g. uninterruptible sleep) when the run ended.
    Survived,
    /// Not allowed to signal it.
    PermissionDenied,
    /// Exited before it could be signalled.
    AlreadyGone,
    /// `--dry-run`: would have been signalled.
    Planned,
}

impl Fate {
    /// The fate's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Exited => "exited",
            Fate::Killed => "killed",
            Fate::Survived => "survived",
            Fate::PermissionDenied => "permission_denied",
            Fate::AlreadyGone => "already_gone",
            Fate::Planned => "planned",
        }
    }
}

/// What one member's `action` record says, on every OS.
#[derive(Debug)]
pub struct MemberAction<'a> {
    /// What happened to it.
    pub fate: Fate,
    /// `--dry-run`.
    pub dry_run: bool,
    /// Its PID.
    pub pid: i32,
    /// Its parent, when known.
    pub ppid: Option<i32>,
    /// Its name.
    pub name: &'a str,
    /// Its start time: the field's name (the unit differs by OS) and value.
    pub start: (&'static str, u64),
    /// The graceful signal it was sent, if that could be sent.
    pub graceful: Option<&'a str>,
    /// The forced end's name (`SIGKILL`, `TerminateProcess`).
    pub forced: &'static str,
    /// Seconds from the graceful signal to its exit.
    pub exit_after_s: Option<f64>,
}

impl MemberAction<'_> {
    /// The `action` record: `kill` (planned) or `killed`, with the signals the fate implies.
    pub fn record(&self) -> Record {
        let signals: Vec<&str> = match self.fate {
            Fate::Exited => self.graceful.into_iter().collect(),
            Fate::Killed | Fate::Survived => {
                self.graceful.into_iter().chain([self.forced]).collect()
            }
            _ => Vec::new(),
        };
        let action = if self.fate == Fate::Planned {
            "kill"
        } else {
            "killed"
        };
        Record::new(RecordType::Action, "zombiereap")
            .with("action", action)
            .with("dry_run", self.dry_run)
            .with("pid", self.pid)
            .with("ppid", self.ppid)
            .with("name", self.name)
            .with(self.start.0, self.start.1)
            .with("fate", self.fate.as_str())
            .with("signals", signals)
            .with(
                "exit_after_s",
                self.exit_after_s.map(|s| (s * 1000.0).round() / 1000.0),
            )
    }
}
