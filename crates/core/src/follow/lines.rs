//! Whole lines cut out of the bytes read, across reads and files, in bounded memory.

/// Cuts whole lines out of the bytes read, across reads and files.
#[derive(Debug)]
pub(super) struct Lines {
    partial: Vec<u8>,
    /// Inside an over-long line: bytes are dropped up to its `\n`.
    skipping: bool,
    pub(super) max_line: usize,
    line_no: u64,
    /// Lines handed on or dropped.
    pub(super) seen: u64,
    pub(super) too_long: u64,
}

impl Lines {
    /// Nothing read yet; lines up to `usize::MAX` bytes.
    pub(super) fn new() -> Self {
        Lines {
            partial: Vec::new(),
            skipping: false,
            max_line: usize::MAX,
            line_no: 0,
            seen: 0,
            too_long: 0,
        }
    }

    fn emit(&mut self, line: &[u8], on_line: &mut dyn FnMut(u64, &[u8])) {
        self.line_no += 1;
        self.seen += 1;
        if line.len() > self.max_line {
            self.too_long += 1;
        } else {
            on_line(self.line_no, line.strip_suffix(b"\r").unwrap_or(line));
        }
    }

    pub(super) fn feed(&mut self, mut data: &[u8], on_line: &mut dyn FnMut(u64, &[u8])) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            if self.skipping {
                self.skipping = false;
                self.line_no += 1;
                self.seen += 1;
            } else if self.partial.is_empty() {
                self.emit(&data[..i], on_line);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..i]);
                self.emit(&line, on_line);
                line.clear();
                self.partial = line;
            }
            data = &data[i + 1..];
        }
        if self.skipping {
            return;
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

    /// The writer of the bytes so far is gone: a last line without `\n` is complete.
    pub(super) fn end(&mut self, on_line: &mut dyn FnMut(u64, &[u8])) {
        if self.skipping {
            self.skipping = false;
            self.line_no += 1;
            self.seen += 1;
        } else if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, on_line);
        }
    }

    /// What was read is gone (truncated): a partial line is forgotten.
    pub(super) fn forget(&mut self) {
        self.partial.clear();
        self.skipping = false;
    }
}
