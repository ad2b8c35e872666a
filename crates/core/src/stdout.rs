//! Standard output that a reader closing it early does not cut short.
//!
//! `tool | head -1` closes the pipe after one line; the tool's verdict must not change with it
//! (a closed stdout never turns a failed check into exit 0). Writes after the reader has gone
//! are dropped, the tool runs to its end, and its exit status is the verdict's.

use std::io::{self, Write};

/// Standard output, dropping what is written once the reader has closed the pipe.
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
}

/// Standard output that survives a closed pipe (see the module docs).
pub fn stdout() -> Stdout {
    Stdout::default()
}

impl Stdout {
    /// True once the reader has closed the pipe.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn absorb<T>(&mut self, result: io::Result<T>, done: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = io::stdout().lock().write(buf);
        self.absorb(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = io::stdout().lock().flush();
        self.absorb(result, ())
    }
}
