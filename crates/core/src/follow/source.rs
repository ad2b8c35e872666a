//! One open file being read: its identity, position and last bytes, and what rotation did
//! to it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use super::FollowError;
use super::lines::Lines;
use crate::fileinfo::{FileId, is_device_or_socket, read_exact_at};

/// Most bytes one [`Follower::poll`](super::Follower::poll) reads.
pub const POLL_QUOTA: u64 = 16 << 20;
/// The most bytes one read asks for.
const CHUNK: usize = 64 * 1024;
/// How many trailing bytes identify the read position's content.
const SIGNATURE: usize = 128;
/// The granularity a collapsed prefix is searched at (every filesystem block is a multiple).
const COLLAPSE_STEP: u64 = 512;
/// Most positions tried when looking for a collapsed prefix (32 MiB written since the cut).
const COLLAPSE_TRIES: u64 = 1 << 16;

/// One open file being read.
#[derive(Debug)]
pub(super) struct Source {
    pub(super) file: File,
    pub(super) id: FileId,
    /// A FIFO: read as a stream, never rewound or replaced.
    pub(super) stream: bool,
    pub(super) offset: u64,
    /// The last bytes read (up to [`SIGNATURE`]), to recognise a file rewritten in place.
    pub(super) signature: Vec<u8>,
}

impl Source {
    fn remember(&mut self, data: &[u8]) {
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

    /// Whether the bytes before `offset` still are the last ones read.
    pub(super) fn signature_at(&self, end: u64) -> io::Result<bool> {
        let Some(at) = end.checked_sub(self.signature.len() as u64) else {
            return Ok(false);
        };
        let mut now = vec![0u8; self.signature.len()];
        match read_exact_at(&self.file, &mut now, at) {
            Ok(()) => Ok(now == self.signature),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Where reading goes on after the file shrank or changed under the read position: after
    /// the last bytes read if a prefix was cut out (they are found a block multiple earlier),
    /// else the start.
    pub(super) fn resume_offset(&self, len: u64) -> io::Result<u64> {
        if self.signature.len() < SIGNATURE {
            return Ok(0);
        }
        let end = self.offset;
        let first = end.saturating_sub(len).div_ceil(COLLAPSE_STEP).max(1);
        for k in first..first.saturating_add(COLLAPSE_TRIES) {
            let cut = k * COLLAPSE_STEP;
            let Some(new_end) = end.checked_sub(cut) else {
                break;
            };
            if new_end < SIGNATURE as u64 {
                break;
            }
            if self.signature_at(new_end)? {
                return Ok(new_end);
            }
        }
        Ok(0)
    }
}

/// Opens `path` for following; `None` while it does not exist.
pub(super) fn open_source(path: &Path) -> Result<Option<Source>, FollowError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FollowError::Open(e)),
    };
    let meta = file.metadata().map_err(FollowError::Open)?;
    if is_device_or_socket(&meta) {
        return Err(FollowError::DeviceOrSocket);
    }
    Ok(Some(Source {
        id: FileId::of(&file).map_err(FollowError::Open)?,
        stream: !meta.is_file(),
        file,
        offset: 0,
        signature: Vec::new(),
    }))
}

/// Reads `source` to its end (or `quota` bytes), cutting lines. True when the quota stopped it.
pub(super) fn drain(
    source: &mut Source,
    quota: u64,
    lines: &mut Lines,
    last_data: &mut Instant,
    on_line: &mut dyn FnMut(u64, &[u8]),
) -> Result<bool, FollowError> {
    let mut chunk = vec![0u8; CHUNK.min(usize::try_from(quota).unwrap_or(CHUNK)).max(1)];
    let mut budget = quota;
    loop {
        if budget == 0 {
            return Ok(true);
        }
        let n = match source.file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FollowError::Read(e)),
        };
        if n == 0 {
            return Ok(false);
        }
        *last_data = Instant::now();
        budget = budget.saturating_sub(n as u64);
        source.offset += n as u64;
        source.remember(&chunk[..n]);
        lines.feed(&chunk[..n], on_line);
    }
}
