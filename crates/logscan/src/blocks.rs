//! Reading input in blocks of whole lines, so the scan can search a block at once instead of
//! visiting every line. Memory is one buffer, grown only for a line longer than it.

use std::io::{ErrorKind, Read};

/// Bytes read at a time; a block is at most this much unless a single line is longer.
const BLOCK: usize = 512 * 1024;

/// Splits a reader into blocks that end at a line end (`\n`); the last block of the input may
/// end without one.
pub struct LineBlocks<R> {
    reader: R,
    buf: Vec<u8>,
    filled: usize,
    consumed: usize,
    eof: bool,
}

impl<R: Read> LineBlocks<R> {
    /// Blocks of `reader`'s lines.
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
        }
    }

    /// The next block of whole lines, or `None` at the end of the input.
    pub fn next_block(&mut self) -> std::io::Result<Option<&[u8]>> {
        self.buf.copy_within(self.consumed..self.filled, 0);
        self.filled -= self.consumed;
        self.consumed = 0;
        loop {
            if self.eof {
                if self.filled == 0 {
                    return Ok(None);
                }
                self.consumed = self.filled;
                return Ok(Some(&self.buf[..self.filled]));
            }
            if self.filled == self.buf.len() {
                // One line longer than the buffer: make room for more of it.
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
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
                return Ok(Some(&self.buf[..self.consumed]));
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
            out.push(block.to_vec());
        }
        out
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
