//! A /proc file kept open and re-read in place.
//!
//! Files such as `/proc/meminfo` or `/proc/PID/stat` are generated on every read from offset
//! 0, so one open file descriptor can be re-read for the life of the monitor with a single
//! `pread`: no `open`/`close` per sample, and the read buffer is reused. For a per-process file
//! the descriptor is bound to that very process: once it exits, reads fail (`ESRCH`) even if
//! its PID is recycled, so a reused PID is never mistaken for the process that had it.

use std::fs::File;
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
#[cfg(windows)]
use std::os::windows::fs::FileExt;
use std::path::Path;

/// A read of a seq file shorter than this (and than the buffer) was its last.
const SHORT_READ: usize = 2048;

/// An open /proc file and the buffer its last read filled.
#[derive(Debug)]
pub struct ProcFile {
    file: File,
    buf: Vec<u8>,
    single: bool,
}

impl ProcFile {
    /// Opens `path` for re-reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(ProcFile {
            file: File::open(path)?,
            buf: vec![0; 1024],
            single: false,
        })
    }

    /// Opens a file the kernel generates in one piece (`single_open`: `/proc/PID/stat`,
    /// `/proc/PID/io`, `/proc/meminfo`, `/proc/loadavg`): a read shorter than the buffer is
    /// the whole file, so no second `pread` is spent learning that it ended (for a seq file
    /// that second read regenerates the whole text just to find its end).
    pub fn open_single(path: impl AsRef<Path>) -> io::Result<Self> {
        let mut f = Self::open(path)?;
        f.single = true;
        Ok(f)
    }

    /// Reads the whole file again from offset 0 and returns its text (the valid UTF-8 prefix:
    /// /proc files are ASCII but for process names, which callers parse around). An empty
    /// file (no children, or a process that has gone) reads as `""`.
    pub fn read(&mut self) -> io::Result<&str> {
        let mut filled = 0usize;
        loop {
            if filled == self.buf.len() {
                // Grown once per file to its natural size, then reused without zeroing.
                self.buf.resize(self.buf.len() * 2, 0);
            }
            #[cfg(unix)]
            let n = self.file.read_at(&mut self.buf[filled..], filled as u64)?;
            #[cfg(windows)]
            let n = self
                .file
                .seek_read(&mut self.buf[filled..], filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
            // A short read is the end of a single_open file. For a seq file of records it is
            // the end too when well under a page: the kernel only stops a read early (buffer
            // overflow) with most of a page filled.
            if filled < self.buf.len() && (self.single || n < SHORT_READ) {
                break;
            }
        }
        let bytes = &self.buf[..filled];
        Ok(match std::str::from_utf8(bytes) {
            Ok(s) => s,
            // valid_up_to guarantees a valid prefix.
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        })
    }
}

/// True when an error means "the process is gone" rather than a real failure.
#[cfg(unix)]
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
    #[cfg(target_os = "linux")]
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
    #[cfg(target_os = "linux")]
    fn a_dead_process_file_reads_as_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let mut f = ProcFile::open(format!("/proc/{}/stat", child.id())).expect("open");
        assert!(f.read().is_ok());
        child.kill().expect("kill");
        child.wait().expect("reap");
        match f.read() {
            Ok(text) => assert!(text.is_empty(), "{text}"),
            Err(err) => assert!(is_gone(&err), "{err:?}"),
        }
    }
}
