//! Following a file that is still being written, across rotation: the one line follower of
//! `logscan --follow`, `resanalyze --follow` and the soak's watch.
//!
//! [`Follower::poll`] hands on every whole line written since the last call (bytes, without
//! `\n` or `\r\n`; a line still being written waits for its `\n`) and notices what rotation did
//! to the path:
//!
//! - **rename** (logrotate's `create` mode, `mv app.log app.log.1` and a new `app.log`): the
//!   path's identity ([`FileId`]: device and inode, the file index on Windows) differs from the
//!   open file's. The old file is read to its end, and kept and read on until the new file
//!   gets its first byte (the writer has reopened its log), so a line the writer puts in the
//!   old file after the rename is not lost; then it is closed and the new file read from its
//!   start;
//! - **collapse** (soakkit's `logrotate --copytruncate`: a block-aligned prefix is cut out of
//!   the live file): the last bytes read are found again a block multiple earlier, and reading
//!   goes on from there: no line is lost or read twice;
//! - **truncation** (logrotate(8)'s `copytruncate`): the file is shorter than what was read, or
//!   the last bytes read are no longer where they were (it was cut and written past the old
//!   length between two polls); reading restarts at its start. Lines written and cut again
//!   between two polls are lost, as with `tail -F` (and as from the rotated copy itself, which
//!   lacks what is written between logrotate's copy and its truncate).
//!
//! A FIFO is read as a stream: its end is the writer closing it ([`Follower::stream_ended`]).
//! A device or socket is refused. A line longer than the limit is dropped as it arrives and
//! counted ([`Follower::too_long`]), so memory stays bounded, and one poll reads at most
//! [`POLL_QUOTA`] bytes ([`Follower::with_quota`]), so the caller gets control back (to answer
//! a signal) however fast the file grows. [`Follower::wait`] sleeps between polls and says when to stop ([`Until`]: a
//! signal, a deadline, no data for a while, the writer saying it is done or exiting).

mod lines;
mod source;
mod until;

use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::de::DeserializeOwned;

use crate::fileinfo::FileId;
use crate::jsonl::JsonlReader;
use crate::signals::Termination;
use lines::Lines;
pub use source::POLL_QUOTA;
use source::{Source, drain, open_source};
pub use until::{Stop, Until};

/// Most renamed-away files kept open while the writer has not moved to a newer one.
const MAX_RENAMED: usize = 8;

/// Why following failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The path names a device or socket (`/dev/zero` never ends): not a file to follow.
    #[error("a device or socket, not a file to follow")]
    DeviceOrSocket,
    /// The file exists but could not be opened.
    #[error("{0}")]
    Open(#[source] io::Error),
    /// Reading the open file (or the path's identity) failed.
    #[error("{0}")]
    Read(#[source] io::Error),
}

/// Follows one path across rotation. See the [module docs](self).
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    current: Option<Source>,
    /// The files renamed away, oldest first, each read on until the writer writes to a newer
    /// one.
    renamed: Vec<Source>,
    lines: Lines,
    rotations: u64,
    /// Most bytes one poll reads.
    quota: u64,
    /// The last poll stopped at its quota: more is waiting.
    more: bool,
    ended: bool,
    last_data: Instant,
    /// A stop condition was met; one more poll reads what was written before it.
    final_poll: Option<Stop>,
}

impl Follower {
    /// Follows `path` from its start. A path that does not exist yet is waited for.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Follower {
            path: path.into(),
            current: None,
            renamed: Vec::new(),
            lines: Lines::new(),
            rotations: 0,
            quota: POLL_QUOTA,
            more: false,
            ended: false,
            last_data: Instant::now(),
            final_poll: None,
        }
    }

    /// Drops lines longer than `max_line` bytes (without their `\n`) as they arrive, counted
    /// in [`Follower::too_long`].
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.lines.max_line = max_line;
        self
    }

    /// Reads at most `bytes` (at least 1) per poll instead of [`POLL_QUOTA`]: a caller that
    /// collects a poll's lines before handling them bounds what it holds.
    pub fn with_quota(mut self, bytes: u64) -> Self {
        self.quota = bytes.max(1);
        self
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times the file was renamed away, truncated or had a prefix cut out.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Lines dropped for being longer than the limit.
    pub fn too_long(&self) -> u64 {
        self.lines.too_long
    }

    /// Whether the last poll stopped at its quota with more of the file waiting.
    pub fn more_waiting(&self) -> bool {
        self.more
    }

    /// Whether the followed FIFO's writer closed it (nothing more will come).
    pub fn stream_ended(&self) -> bool {
        self.ended
    }

    /// Reads every whole line written since the last call and passes each (without `\n` or
    /// `\r\n`) with its line number to `on_line`. Returns how many lines were read (dropped
    /// over-long ones included).
    pub fn poll(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> Result<u64, FollowError> {
        let before = self.lines.seen;
        self.more = false;
        if self.current.is_none() && !self.open()? {
            return Ok(0);
        }
        // A rename seen at the end of one pass is followed in a second.
        for _ in 0..2 {
            if !self.pass(on_line)? {
                break;
            }
        }
        Ok(self.lines.seen - before)
    }

    /// The writer is gone: hands on a last line that never got its `\n`.
    pub fn finish(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) {
        self.lines.end(on_line);
    }

    /// After a poll: `Some` when following should stop, else sleeps the poll interval (not at
    /// all when more of the file is waiting) and returns `None`. A signal or the deadline
    /// stops at once; the writer finishing or exiting stops after one more poll, so what it
    /// wrote last is read.
    pub fn wait(&mut self, until: &Until<'_>) -> Option<Stop> {
        if let Some(signal) = until.term.and_then(Termination::requested) {
            return Some(Stop::Signal(signal));
        }
        if until.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Stop::Deadline);
        }
        if self.more {
            return None;
        }
        if self.ended {
            return Some(Stop::StreamEnded);
        }
        if let Some(stop) = self.final_poll {
            return Some(stop);
        }
        if until.done.is_some_and(|d| d.load(Ordering::SeqCst)) {
            self.final_poll = Some(Stop::WriterDone);
            return None;
        }
        if until.pid.is_some_and(|pid| !crate::alive::is_running(pid)) {
            self.final_poll = Some(Stop::WriterExited);
            return None;
        }
        if until.idle.is_some_and(|i| self.last_data.elapsed() >= i) {
            return Some(Stop::Idle);
        }
        let mut nap = until.poll;
        if let Some(d) = until.deadline {
            nap = nap.min(d.saturating_duration_since(Instant::now()));
        }
        match until.term {
            Some(term) => term.sleep(nap).map(Stop::Signal),
            None => {
                std::thread::sleep(nap);
                None
            }
        }
    }

    /// Polls and waits until `until` stops it, handing every line to `on_line`; a last line
    /// without `\n` is handed on when the writer is gone.
    pub fn follow(
        &mut self,
        until: &Until<'_>,
        on_line: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<Stop, FollowError> {
        loop {
            self.poll(on_line)?;
            if let Some(stop) = self.wait(until) {
                if stop.writer_gone() {
                    self.finish(on_line);
                }
                return Ok(stop);
            }
        }
    }

    /// [`Follower::poll`] through core's tolerant JSONL reader: the records in the lines
    /// completed since the last call (lines that do not read as `T` are skipped).
    pub fn poll_records<T: DeserializeOwned>(&mut self) -> Result<Vec<T>, FollowError> {
        let mut complete = Vec::new();
        self.poll(&mut |_, line| {
            complete.extend_from_slice(line);
            complete.push(b'\n');
        })?;
        let mut reader = JsonlReader::new(&complete[..], self.path.display().to_string());
        let mut records = Vec::new();
        while let Ok(Some(record)) = reader.next_as::<T>() {
            records.push(record);
        }
        Ok(records)
    }

    /// One pass: the renamed-away files, then the current one, then what happened to the path.
    /// True when the path now names another file, to be read in a second pass.
    fn pass(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> Result<bool, FollowError> {
        if !self.read_renamed(on_line)? {
            // The writer is still in a renamed-away file: the newer ones wait (their lines
            // come after), but a further rename is noted.
            self.note_rename(on_line)?;
            return Ok(false);
        }
        let Some(current) = &mut self.current else {
            return Ok(false);
        };
        if !current.stream {
            // Cut or rewritten since the last read: judged before reading on, so nothing of
            // the new content is read from the old position.
            let len = current.file.metadata().map_err(FollowError::Read)?.len();
            let rewritten = !current.signature.is_empty()
                && !current
                    .signature_at(current.offset)
                    .map_err(FollowError::Read)?;
            if len < current.offset || rewritten {
                self.rotations += 1;
                let resume = current.resume_offset(len).map_err(FollowError::Read)?;
                if resume == 0 {
                    // Truncated in place: what was read is gone; start over.
                    self.lines.forget();
                    current.signature.clear();
                }
                current.offset = resume;
                current
                    .file
                    .seek(SeekFrom::Start(resume))
                    .map_err(FollowError::Read)?;
            }
        }
        self.more = drain(
            current,
            self.quota,
            &mut self.lines,
            &mut self.last_data,
            on_line,
        )?;
        if self.more {
            // Not at the end yet: rotation is judged once the open file is read.
            return Ok(false);
        }
        if current.stream {
            self.ended = true;
            return Ok(false);
        }
        self.note_rename(on_line)
    }

    /// Reads the renamed-away files, oldest first. The writer has left one once a newer file
    /// has data: it is read to its end a last time and closed. True when none is left.
    fn read_renamed(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> Result<bool, FollowError> {
        while !self.renamed.is_empty() {
            let mut moved = false;
            for newer in self.renamed.iter().skip(1).chain(&self.current) {
                if newer.file.metadata().map_err(FollowError::Read)?.len() > 0 {
                    moved = true;
                    break;
                }
            }
            let oldest = &mut self.renamed[0];
            self.more = drain(
                oldest,
                self.quota,
                &mut self.lines,
                &mut self.last_data,
                on_line,
            )?;
            if self.more || !moved {
                return Ok(false);
            }
            self.renamed.remove(0);
            self.lines.end(on_line);
        }
        Ok(true)
    }

    /// When the path names another file than the current one: that file becomes current and
    /// the old one is kept among the renamed-away files. True when it did.
    fn note_rename(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> Result<bool, FollowError> {
        let Some(current) = &mut self.current else {
            return Ok(false);
        };
        let id = match FileId::at(&self.path) {
            Ok((id, _)) => id,
            // Renamed away, its successor not there yet: the writer may still write to it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(FollowError::Read(e)),
        };
        if id == current.id {
            return Ok(false);
        }
        let Some(new) = open_source(&self.path)? else {
            return Ok(false);
        };
        self.rotations += 1;
        self.renamed.push(std::mem::replace(current, new));
        if self.renamed.len() > MAX_RENAMED {
            // Renamed over and over with the writer in none of the new files: the oldest is
            // read out and closed rather than holding ever more files open.
            let mut oldest = self.renamed.remove(0);
            while drain(
                &mut oldest,
                self.quota,
                &mut self.lines,
                &mut self.last_data,
                on_line,
            )? {}
            self.lines.end(on_line);
        }
        Ok(true)
    }

    fn open(&mut self) -> Result<bool, FollowError> {
        self.current = open_source(&self.path)?;
        Ok(self.current.is_some())
    }
}

#[cfg(test)]
mod tests;
