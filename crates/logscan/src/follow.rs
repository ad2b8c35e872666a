//! Tailing a log that is still being written, across rotation.
//!
//! - **rename** rotation (`app.log` → `app.log.1`, a new `app.log` appears): noticed when the
//!   path's inode differs from the open file's; the old file is drained to its end first, then
//!   the new one is read from its start;
//! - **copytruncate** (the file is copied, then cut to zero): noticed when the file is shorter
//!   than what was read, or when the last bytes read are no longer where they were (the file was
//!   cut and written past the old length between two polls); reading restarts at its start.
//!   Lines written and cut again between two polls are lost, as with `tail -F`.
//!
//! Only whole lines are handed on: a line still being written waits for its `\n`. A line
//! longer than the limit is dropped as it arrives and counted ([`Follower::too_long`]), so
//! memory stays bounded, and one poll reads at most [`POLL_QUOTA`] bytes, so the caller gets
//! control back (to answer SIGTERM) however fast the file grows.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use soak_core::fileinfo::FileId;

/// How many trailing bytes identify the read position's content.
const SIGNATURE: usize = 64;
/// Most bytes one [`Follower::poll`] reads.
pub const POLL_QUOTA: u64 = 16 << 20;

/// Follows one path.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: Option<FileId>,
    offset: u64,
    partial: Vec<u8>,
    /// The last bytes read (up to [`SIGNATURE`]), to recognise a file rewritten in place.
    signature: Vec<u8>,
    line_no: u64,
    /// How many times the file was rotated (renamed or truncated) while followed.
    pub rotations: u64,
    /// Lines longer than the limit, dropped.
    pub too_long: u64,
    max_line: usize,
    /// Inside an over-long line: bytes are dropped up to its `\n`.
    skipping: bool,
    /// The last poll stopped at its quota: more is waiting.
    more: bool,
}

impl Follower {
    /// Follows `path` from its start. A path that does not exist yet is waited for.
    pub fn new(path: &Path) -> Self {
        Follower {
            path: path.to_path_buf(),
            file: None,
            inode: None,
            offset: 0,
            partial: Vec::new(),
            signature: Vec::new(),
            line_no: 0,
            rotations: 0,
            too_long: 0,
            max_line: usize::MAX,
            skipping: false,
            more: false,
        }
    }

    /// Drops lines longer than `max_line` bytes as they arrive (counted in `too_long`).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// Whether the last poll stopped at its quota with more of the file waiting.
    pub fn more_waiting(&self) -> bool {
        self.more
    }

    /// Reads every whole line written since the last call and passes each (without `\n`)
    /// with its line number to `on_line`. Returns how many lines were read.
    pub fn poll(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> io::Result<u64> {
        let mut read = 0;
        if self.file.is_none() && !self.open()? {
            return Ok(0);
        }
        read += self.drain(on_line)?;
        if self.more {
            // Not at the end yet: rotation is judged once the open file is drained.
            return Ok(read);
        }
        match FileId::at(&self.path) {
            Ok((id, meta)) => {
                if Some(id) != self.inode {
                    // Renamed away: the old file was drained above; start on the new one.
                    self.flush_partial(on_line);
                    self.skipping = false;
                    self.rotations += 1;
                    if self.open()? {
                        read += self.drain(on_line)?;
                    }
                } else if meta.len() < self.offset || !self.signature_still_there()? {
                    // Truncated in place (copytruncate): what was read is gone; start over.
                    self.rotations += 1;
                    self.partial.clear();
                    self.skipping = false;
                    self.signature.clear();
                    self.offset = 0;
                    if let Some(f) = &mut self.file {
                        f.seek(SeekFrom::Start(0))?;
                    }
                    read += self.drain(on_line)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(read)
    }

    /// Hands on a last line that never got its `\n` (at the end of following).
    pub fn flush_partial(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) {
        if self.skipping {
            self.skipping = false;
            self.line_no += 1;
        } else if !self.partial.is_empty() {
            self.line_no += 1;
            on_line(self.line_no, &self.partial);
            self.partial.clear();
        }
    }

    fn signature_still_there(&self) -> io::Result<bool> {
        let Some(file) = &self.file else {
            return Ok(true);
        };
        if self.signature.is_empty() {
            return Ok(true);
        }
        let mut now = vec![0u8; self.signature.len()];
        let at = self.offset - self.signature.len() as u64;
        match soak_core::fileinfo::read_exact_at(file, &mut now, at) {
            Ok(()) => Ok(now == self.signature),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn remember_signature(&mut self, data: &[u8]) {
        if data.len() >= SIGNATURE {
            self.signature.clear();
            self.signature
                .extend_from_slice(&data[data.len() - SIGNATURE..]);
        } else {
            self.signature.extend_from_slice(data);
            let excess = self.signature.len().saturating_sub(SIGNATURE);
            self.signature.drain(..excess);
        }
    }

    fn open(&mut self) -> io::Result<bool> {
        match File::open(&self.path) {
            Ok(f) => {
                self.inode = Some(FileId::of(&f)?);
                self.file = Some(f);
                self.offset = 0;
                self.signature.clear();
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn drain(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) -> io::Result<u64> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut lines = 0;
        let mut budget = POLL_QUOTA;
        self.more = false;
        loop {
            if budget == 0 {
                self.more = true;
                return Ok(lines);
            }
            let n = match &mut self.file {
                Some(file) => file.read(&mut chunk)?,
                None => 0,
            };
            if n == 0 {
                return Ok(lines);
            }
            budget = budget.saturating_sub(n as u64);
            self.offset += n as u64;
            self.remember_signature(&chunk[..n]);
            let mut data = &chunk[..n];
            while let Some(i) = memchr::memchr(b'\n', data) {
                self.line_no += 1;
                lines += 1;
                if self.skipping {
                    self.skipping = false;
                } else if self.partial.is_empty() {
                    on_line(self.line_no, &data[..i]);
                } else {
                    self.partial.extend_from_slice(&data[..i]);
                    on_line(self.line_no, &self.partial);
                    self.partial.clear();
                }
                data = &data[i + 1..];
            }
            if self.skipping {
                continue;
            }
            if self.partial.len() + data.len() > self.max_line {
                // Longer than allowed and still growing: drop it up to its line end.
                self.too_long += 1;
                self.skipping = true;
                self.partial = Vec::new();
            } else {
                self.partial.extend_from_slice(data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        f.poll(&mut |_, l| out.push(String::from_utf8_lossy(l).into_owned()))
            .expect("poll");
        out
    }

    #[test]
    fn partial_lines_wait_and_rotations_are_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        let mut f = Follower::new(&path);
        assert!(collect(&mut f).is_empty(), "missing file is waited for");
        let mut w = std::fs::File::create(&path).expect("create");
        w.write_all(b"one\ntw").expect("write");
        assert_eq!(collect(&mut f), ["one"]);
        w.write_all(b"o\n").expect("write");
        assert_eq!(collect(&mut f), ["two"]);
        // rename rotation: a last line lands in the old file, then a new file appears
        w.write_all(b"three\n").expect("write");
        std::fs::rename(&path, dir.path().join("app.log.1")).expect("rename");
        let mut w = std::fs::File::create(&path).expect("create new");
        w.write_all(b"four\n").expect("write");
        assert_eq!(collect(&mut f), ["three", "four"]);
        // copytruncate
        w.set_len(0).expect("truncate");
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        w.write_all(b"five\n").expect("write");
        assert_eq!(collect(&mut f), ["five"]);
        assert_eq!(f.rotations, 2);
    }
}
