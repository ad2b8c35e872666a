//! When a follow stops ([`Until`], [`Stop`]).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::signals::Termination;

/// Why a follow stopped ([`Follower::wait`](super::Follower::wait)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A termination signal arrived (its number).
    Signal(i32),
    /// The deadline passed.
    Deadline,
    /// No new byte for the idle time.
    Idle,
    /// The writer said it is done (the flag was set) and what it wrote was read.
    WriterDone,
    /// The writer's process exited and what it wrote was read.
    WriterExited,
    /// The FIFO's writer closed it.
    StreamEnded,
}

impl Stop {
    /// The signal, when one ended the follow.
    pub fn signal(self) -> Option<i32> {
        match self {
            Stop::Signal(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the writer is gone, so a last line without its `\n` is complete.
    pub fn writer_gone(self) -> bool {
        matches!(
            self,
            Stop::WriterDone | Stop::WriterExited | Stop::StreamEnded
        )
    }
}

/// When [`Follower::wait`](super::Follower::wait) ends a follow, and how long it sleeps between polls.
#[derive(Debug, Clone)]
pub struct Until<'a> {
    pub(super) poll: Duration,
    pub(super) term: Option<&'a Termination>,
    pub(super) deadline: Option<Instant>,
    pub(super) idle: Option<Duration>,
    pub(super) done: Option<&'a AtomicBool>,
    pub(super) pid: Option<i32>,
}

impl<'a> Until<'a> {
    /// Polls every `poll`, never stopping on its own (a FIFO still ends when closed).
    pub fn every(poll: Duration) -> Self {
        Until {
            poll,
            term: None,
            deadline: None,
            idle: None,
            done: None,
            pid: None,
        }
    }

    /// Stops when `term` receives a signal (the sleep between polls ends at once).
    pub fn signal(mut self, term: &'a Termination) -> Self {
        self.term = Some(term);
        self
    }

    /// Stops at `deadline`.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Stops after `idle` without a new byte (counted from the start while the file is absent).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Stops once `done` is set (the writer finished; a line may set it) and one more poll
    /// found what was written before it.
    pub fn writer_done(mut self, done: &'a AtomicBool) -> Self {
        self.done = Some(done);
        self
    }

    /// Stops once process `pid` (the writer) exited and one more poll read what it wrote.
    pub fn writer_pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid);
        self
    }
}
