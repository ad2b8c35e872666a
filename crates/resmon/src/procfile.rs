//! A /proc file kept open and re-read in place.
//!
//! Files such as `/proc/meminfo` or `/proc/PID/stat` are generated on every read from offset
//! 0, so one open file descriptor can be re-read for the life of the monitor with a single
//! `pread`: no `open`/`close` per sample, and the read buffer is reused. For a per-process file
//! the descriptor is bound to that very process: once it exits, reads fail (`ESRCH`) even if
//! its PID is recycled, so a reused PID is never mistaken for the process that had it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// An open /proc file and the buffer its last read filled.
#[derive(Debug)]
pub struct ProcFile {
    file: File,
    buf: Vec<u8>,
}

impl ProcFile {
    /// Opens `path` for re-reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(ProcFile {
            file: File::open(path)?,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Reads the whole file again from offset 0 and returns its text (lossy on bad UTF-8,
    /// which /proc files do not contain except in process names).
    /// An empty read is reported as `NotFound`: the process behind the file has gone.
    pub fn read(&mut self) -> io::Result<&str> {
        self.buf.clear();
        let mut offset = 0u64;
        loop {
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(self.buf.capacity().max(4096));
            }
            let len = self.buf.len();
            let spare = self.buf.capacity() - len;
            self.buf.resize(len + spare, 0);
            let n = match self.file.read_at(&mut self.buf[len..], offset) {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            };
            self.buf.truncate(len + n);
            if n == 0 {
                break;
            }
            offset += n as u64;
        }
        if self.buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "empty read"));
        }
        Ok(match std::str::from_utf8(&self.buf) {
            Ok(s) => s,
            Err(e) => {
                // Keep the valid prefix; the fields the monitor reads come before any
                // odd byte in practice (process names are parsed around, not through).
                let valid = e.valid_up_to();
                // valid_up_to guarantees a valid prefix.
                std::str::from_utf8(&self.buf[..valid]).unwrap_or("")
            }
        })
    }
}

/// True when an error means "the process is gone" rather than a real failure.
pub fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

/// The value of a `Key:   123 kB` line of a /proc status-like file, in the file's unit.
pub fn field_u64(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_ascii_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_a_generated_file_in_place() {
        let mut f = ProcFile::open("/proc/self/stat").expect("open");
        let first = f.read().expect("read").to_string();
        let second = f.read().expect("read again").to_string();
        assert!(first.starts_with(&std::process::id().to_string()));
        assert_eq!(
            first.split(' ').next(),
            second.split(' ').next(),
            "same process"
        );
    }

    #[test]
    fn reads_fields_of_meminfo_style_files() {
        let text = "MemTotal:       16384 kB\nMemFree:  100 kB\nSwapTotal: 0 kB\n";
        assert_eq!(field_u64(text, "MemTotal"), Some(16384));
        assert_eq!(field_u64(text, "MemFree"), Some(100));
        assert_eq!(field_u64(text, "Mem"), None);
        assert_eq!(field_u64(text, "Cached"), None);
    }

    #[test]
    fn a_dead_process_file_reads_as_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let mut f = ProcFile::open(format!("/proc/{}/stat", child.id())).expect("open");
        assert!(f.read().is_ok());
        child.kill().expect("kill");
        child.wait().expect("reap");
        let err = f.read().expect_err("the process has gone");
        assert!(is_gone(&err), "{err:?}");
    }
}
