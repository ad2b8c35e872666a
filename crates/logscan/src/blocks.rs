//! Reading input in blocks of whole lines, so the scan can search a block at once instead of
//! visiting every line. Memory is one buffer, grown only for a line longer than a block, and
//! never past the line limit: a longer line is skipped (read past in constant memory) and
//! counted; a "line" that runs on for [`ENDLESS`] bytes is no log at all (`/dev/zero`).

use std::io::{ErrorKind, Read};

/// Bytes read at a time; a block is at most this much unless a single line is longer.
const BLOCK: usize = 512 * 1024;
/// A line this long without a line end means the input is not a log: reading stops.
pub const ENDLESS: u64 = 1 << 30;

/// Why the next block could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The reader failed (I/O, corrupt gzip).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A line ran on for [`ENDLESS`] bytes without a line end.
    #[error("a line runs on for more than {} MiB without a line end: not a log", ENDLESS >> 20)]
    Endless,
}

/// A block of whole lines, and how many over-long lines were skipped just before it.
#[derive(Debug)]
pub struct Block<'a> {
    /// Lines longer than the limit, skipped right before `lines`.
    pub skipped_before: u64,
    /// Whole lines (the last block of the input may end without `\n`; may be empty).
    pub lines: &'a [u8],
}

/// Splits a reader into blocks that end at a line end (`\n`); the last block of the input may
/// end without one.
pub struct LineBlocks<R> {
    reader: R,
    buf: Vec<u8>,
    filled: usize,
    consumed: usize,
    eof: bool,
    max_line: usize,
    endless: u64,
}

impl<R: Read> LineBlocks<R> {
    /// Blocks of `reader`'s lines, no line limit beyond [`ENDLESS`].
    pub fn new(reader: R) -> Self {
        Self::with_capacity(reader, BLOCK)
    }

    /// Blocks of about `capacity` bytes.
    pub fn with_capacity(reader: R, capacity: usize) -> Self {
        LineBlocks {
            reader,
            buf: vec![0; capacity.max(1)],
            filled: 0,
            consumed: 0,
            eof: false,
            max_line: usize::MAX,
            endless: ENDLESS,
        }
    }

    /// Skips lines longer than `max_line` bytes (their line end excluded) instead of holding
    /// them: memory stays within `max(block, max_line + 1)` bytes.
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// The next block of whole lines, or `None` at the end of the input.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, BlockError> {
        self.buf.copy_within(self.consumed..self.filled, 0);
        self.filled -= self.consumed;
        self.consumed = 0;
        let mut skipped = 0;
        loop {
            if self.eof {
                if self.filled == 0 && skipped == 0 {
                    return Ok(None);
                }
                self.consumed = self.filled;
                return Ok(Some(Block {
                    skipped_before: skipped,
                    lines: &self.buf[..self.filled],
                }));
            }
            if self.filled == self.buf.len() {
                // The buffer holds one partial line and nothing else.
                if self.filled > self.max_line {
                    skipped += 1;
                    self.skip_rest_of_line()?;
                    // What followed the skipped line may already hold whole lines.
                    if let Some(i) = memchr::memrchr(b'\n', &self.buf[..self.filled]) {
                        self.consumed = i + 1;
                        return Ok(Some(Block {
                            skipped_before: skipped,
                            lines: &self.buf[..self.consumed],
                        }));
                    }
                    continue;
                }
                let grown = (self.buf.len() * 2).min(self.max_line.saturating_add(1));
                self.buf.resize(grown.max(self.buf.len() + 1), 0);
            }
            let n = match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                self.eof = true;
                continue;
            }
            let fresh = self.filled;
            self.filled += n;
            // Bytes kept from before held no line end: only the fresh ones need a look.
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[fresh..self.filled]) {
                self.consumed = fresh + i + 1;
                return Ok(Some(Block {
                    skipped_before: skipped,
                    lines: &self.buf[..self.consumed],
                }));
            }
        }
    }

    /// Drops the partial line in the buffer and reads past the rest of it, keeping what
    /// follows its line end.
    fn skip_rest_of_line(&mut self) -> Result<(), BlockError> {
        let mut skipped = self.filled as u64;
        self.filled = 0;
        loop {
            let n = match self.reader.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                self.eof = true;
                return Ok(());
            }
            if let Some(i) = memchr::memchr(b'\n', &self.buf[..n]) {
                self.buf.copy_within(i + 1..n, 0);
                self.filled = n - i - 1;
                return Ok(());
            }
            skipped += n as u64;
            if skipped > self.endless {
                return Err(BlockError::Endless);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn blocks(data: &[u8], step: usize, capacity: usize) -> Vec<Vec<u8>> {
        let mut b = LineBlocks::with_capacity(Trickle { data, step }, capacity);
        let mut out = Vec::new();
        while let Some(block) = b.next_block().expect("read") {
            assert_eq!(block.skipped_before, 0);
            out.push(block.lines.to_vec());
        }
        out
    }

    #[test]
    fn long_lines_are_skipped_and_counted_in_bounded_memory() {
        let mut data = b"short\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 10_000));
        data.extend_from_slice(b"\nafter\n");
        data.extend(std::iter::repeat_n(b'y', 5_000));
        for step in [1, 7, 4096] {
            let mut b =
                LineBlocks::with_capacity(Trickle { data: &data, step }, 16).with_max_line(100);
            let (mut text, mut skipped) = (Vec::new(), 0);
            while let Some(block) = b.next_block().expect("read") {
                skipped += block.skipped_before;
                text.extend_from_slice(block.lines);
            }
            assert_eq!(
                (text.as_slice(), skipped),
                (&b"short\nafter\n"[..], 2),
                "step {step}"
            );
            assert!(b.buf.len() <= 101, "buffer grew to {}", b.buf.len());
        }
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut b = LineBlocks::new(std::io::repeat(0)).with_max_line(1 << 20);
        b.endless = 8 << 20;
        assert!(matches!(b.next_block(), Err(BlockError::Endless)));
    }

    #[test]
    fn blocks_end_at_line_ends_and_rejoin_to_the_input() {
        let data = b"one\ntwo two\n\nthree three three\nfour";
        for step in [1, 2, 3, 7, 100] {
            for capacity in [1, 4, 5, 16, 1024] {
                let got = blocks(data, step, capacity);
                assert_eq!(got.concat(), data.to_vec(), "step {step} cap {capacity}");
                let (last, whole) = got.split_last().expect("some block");
                for b in whole {
                    assert_eq!(b.last(), Some(&b'\n'), "step {step} cap {capacity}");
                }
                assert!(last.ends_with(b"four"));
            }
        }
    }

    #[test]
    fn empty_input_has_no_block() {
        assert!(blocks(b"", 4, 8).is_empty());
        assert_eq!(blocks(b"\n", 4, 8), vec![b"\n".to_vec()]);
    }
}
