//! Streaming JSONL: a tolerant reader and a whole-line writer.
//!
//! The reader never loads a file into memory: it reads one line into a reused buffer and
//! deserializes it, skipping and counting (by reason) what it cannot use. The writer turns each
//! record into one complete line, written with a single `write_all` and flushed, so a reader
//! tailing the file never sees half a record; on a file it also rolls back a line that failed
//! part-way (disk full), so the file holds only whole lines.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::CoreError;
use crate::input::InputSource;
use crate::record::Record;

/// Why a line was skipped. The names are the keys of a tool's `skipped_lines` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// An empty or whitespace-only line.
    Blank,
    /// A line that is not JSON (log noise, a partial line in the middle of a file).
    NotJson,
    /// Valid JSON that is not an object, or an object of the wrong shape for the reader.
    WrongShape,
    /// The last line of an input, without its `\n`, that does not parse: a writer killed
    /// mid-line.
    Truncated,
    /// A line with bytes that are not UTF-8.
    InvalidUtf8,
    /// A record of a type the reader does not want.
    OtherType,
    /// A record written by a tool the reader does not want.
    OtherTool,
}

impl SkipReason {
    /// The reason's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Blank => "blank",
            SkipReason::NotJson => "not_json",
            SkipReason::WrongShape => "wrong_shape",
            SkipReason::Truncated => "truncated",
            SkipReason::InvalidUtf8 => "invalid_utf8",
            SkipReason::OtherType => "other_type",
            SkipReason::OtherTool => "other_tool",
        }
    }
}

/// Counts of skipped lines by reason; serializes as `{"not_json": 3, "truncated": 1}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts(BTreeMap<SkipReason, u64>);

impl SkipCounts {
    /// Counts one skipped line.
    pub fn add(&mut self, reason: SkipReason) {
        *self.0.entry(reason).or_insert(0) += 1;
    }

    /// Adds another set of counts (e.g. of the next input file).
    pub fn merge(&mut self, other: &SkipCounts) {
        for (reason, n) in &other.0 {
            *self.0.entry(*reason).or_insert(0) += n;
        }
    }

    /// How many lines were skipped for `reason`.
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    /// How many lines were skipped in all.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

impl Serialize for SkipCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

/// A tolerant streaming JSONL reader over one input.
pub struct JsonlReader<R> {
    inner: R,
    name: String,
    buf: Vec<u8>,
    line_number: u64,
    skipped: SkipCounts,
}

impl JsonlReader<Box<dyn BufRead + Send>> {
    /// Opens a file or stdin (gzip read transparently).
    pub fn open(source: &InputSource) -> Result<Self, CoreError> {
        Ok(JsonlReader::new(source.open()?, source.display_name()))
    }
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads from `inner`; `name` is used in error messages.
    pub fn new(inner: R, name: impl Into<String>) -> Self {
        JsonlReader {
            inner,
            name: name.into(),
            buf: Vec::with_capacity(1024),
            line_number: 0,
            skipped: SkipCounts::default(),
        }
    }

    /// The 1-based number of the line last returned or skipped.
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// The input's name (path or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What was skipped so far, by reason.
    pub fn skipped(&self) -> &SkipCounts {
        &self.skipped
    }

    /// Counts a line the caller decided to skip (e.g. [`SkipReason::OtherType`]).
    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped.add(reason);
    }

    /// The next line that deserializes as `T`, skipping and counting every line that does not.
    /// Returns `Ok(None)` at the end of the input; an error only when reading itself fails.
    pub fn next_as<T: DeserializeOwned>(&mut self) -> Result<Option<T>, CoreError> {
        loop {
            self.buf.clear();
            let n = self
                .inner
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| CoreError::Read {
                    path: PathBuf::from(&self.name),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_number += 1;
            let complete = self.buf.last() == Some(&b'\n');
            let line = trim_ascii(&self.buf);
            if line.is_empty() {
                self.skipped.add(SkipReason::Blank);
                continue;
            }
            match serde_json::from_slice::<T>(line) {
                Ok(value) => return Ok(Some(value)),
                Err(e) => {
                    let reason = if !complete && matches!(e.classify(), Category::Eof) {
                        SkipReason::Truncated
                    } else if std::str::from_utf8(line).is_err() {
                        SkipReason::InvalidUtf8
                    } else {
                        match e.classify() {
                            Category::Data => SkipReason::WrongShape,
                            _ if !complete => SkipReason::Truncated,
                            _ => SkipReason::NotJson,
                        }
                    };
                    self.skipped.add(reason);
                }
            }
        }
    }

    /// The next JSON object as a [`Record`].
    pub fn next_record(&mut self) -> Result<Option<Record>, CoreError> {
        self.next_as::<Record>()
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Record, CoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A destination for whole lines.
trait LineSink: Send {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()>;

    /// True once the reader has gone (standard output whose pipe was closed).
    fn closed(&self) -> bool {
        false
    }
}

/// Standard output that absorbs a closed pipe (see [`crate::stdout`]).
struct StdoutSink(crate::stdout::Stdout);

impl LineSink for StdoutSink {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.0.write_all(line)?;
        self.0.flush()
    }

    fn closed(&self) -> bool {
        self.0.closed()
    }
}

struct FlushingWriter<W>(W);

impl<W: Write + Send> LineSink for FlushingWriter<W> {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.0.write_all(line)?;
        self.0.flush()
    }
}

/// An append-only file that holds only whole lines: a line whose write fails part-way
/// (e.g. `ENOSPC`) is cut back off before the error is returned.
struct AppendFile {
    file: File,
    len: u64,
    fsync: bool,
}

impl LineSink for AppendFile {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let result = self.file.write_all(line).and_then(|()| {
            if self.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Best effort: remove the partial line so the file ends on a whole line.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }
}

/// Writes records as JSONL, one whole flushed line per record.
pub struct JsonlWriter {
    sink: Box<dyn LineSink>,
    name: PathBuf,
    buf: Vec<u8>,
}

impl JsonlWriter {
    /// Writes to standard output; a reader that closes it early does not end the tool (see
    /// [`crate::stdout`]).
    pub fn stdout() -> Self {
        JsonlWriter {
            sink: Box::new(StdoutSink(crate::stdout::stdout())),
            name: PathBuf::from("-"),
            buf: Vec::with_capacity(1024),
        }
    }

    /// True once the reader of standard output has closed the pipe: what is written since
    /// is dropped. A tool that only streams (a follower) ends then, as `tail -f | head` does.
    pub fn closed(&self) -> bool {
        self.sink.closed()
    }

    /// Writes to any writer (flushed after every line); `name` is used in errors.
    pub fn from_writer<W: Write + Send + 'static>(w: W, name: impl Into<PathBuf>) -> Self {
        JsonlWriter {
            sink: Box::new(FlushingWriter(w)),
            name: name.into(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Appends to `path`, creating it and its parent directories. A file that does not end
    /// with `\n` (a writer killed mid-line) gets one first, so the torn line stays alone on
    /// its line. With `fsync`, every line is synced to disk before `write` returns.
    pub fn append_file(path: &Path, fsync: bool) -> Result<Self, CoreError> {
        let write_err = |source| CoreError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        // Never through a symlink planted at the output's name (it could point anywhere).
        let file = open_append_no_follow(path).map_err(write_err)?;
        let len = file.metadata().map_err(write_err)?.len();
        let mut sink = AppendFile { file, len, fsync };
        if len > 0 && !ends_with_newline(&sink.file, len).map_err(write_err)? {
            sink.write_line(b"\n").map_err(write_err)?;
        }
        Ok(JsonlWriter {
            sink: Box::new(sink),
            name: path.to_path_buf(),
            buf: Vec::with_capacity(1024),
        })
    }

    /// Writes one line rendered elsewhere (a CSV row, with its `\n`) with the same
    /// guarantees as a record: whole, flushed, cut back off a file when it fails part-way.
    pub fn write_line(&mut self, line: &[u8]) -> Result<(), CoreError> {
        self.sink
            .write_line(line)
            .map_err(|source| CoreError::Write {
                path: self.name.clone(),
                source,
            })
    }

    /// Writes one record as one line.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), CoreError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, record).map_err(|e| CoreError::Write {
            path: self.name.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        self.buf.push(b'\n');
        let line = std::mem::take(&mut self.buf);
        let written = self.write_line(&line);
        self.buf = line;
        written
    }
}

/// Opens `path` for appending (created if missing), refusing a symlink at that name.
#[cfg(unix)]
fn open_append_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` for appending (created if missing), refusing a symlink or junction at that
/// name: the reparse point itself is opened, never its target, and then rejected.
#[cfg(windows)]
fn open_append_no_follow(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    if file.metadata()?.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a symbolic link; refusing to write through it",
        ));
    }
    Ok(file)
}

fn ends_with_newline(file: &File, len: u64) -> io::Result<bool> {
    let mut last = [0u8; 1];
    crate::fileinfo::read_exact_at(file, &mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordType;
    use std::io::Cursor;

    #[test]
    fn skips_and_counts_what_it_cannot_use() {
        let input =
            b"{\"a\":1}\n\n   \nnot json\n[1,2]\n\xff\xfe\n{\"a\":2}\n{\"a\":3,\"b\"" as &[u8];
        let mut r = JsonlReader::new(Cursor::new(input), "t");
        let mut got = Vec::new();
        while let Some(rec) = r.next_record().expect("read") {
            got.push(rec.get_f64("a").expect("a"));
        }
        assert_eq!(got, [1.0, 2.0]);
        let s = r.skipped();
        assert_eq!(s.get(SkipReason::Blank), 2);
        assert_eq!(s.get(SkipReason::NotJson), 1);
        assert_eq!(s.get(SkipReason::WrongShape), 1);
        assert_eq!(s.get(SkipReason::InvalidUtf8), 1);
        assert_eq!(s.get(SkipReason::Truncated), 1);
        assert_eq!(s.total(), 6);
        assert_eq!(r.line_number(), 8);
        let json = serde_json::to_string(s).expect("ser");
        assert!(json.contains("\"truncated\":1"), "{json}");
    }

    #[test]
    fn a_complete_last_line_without_newline_is_kept() {
        let mut r = JsonlReader::new(Cursor::new(&b"{\"a\":1}"[..]), "t");
        assert!(r.next_record().expect("read").is_some());
        assert_eq!(r.skipped().total(), 0);
    }

    #[test]
    fn crlf_lines_read_like_lf_lines() {
        // As a Windows editor or `type a b > c` leaves a recording.
        let input = b"{\"a\":1}\r\n{\"a\":2}\r\n\r\n{\"a\":3}\r\n" as &[u8];
        let mut r = JsonlReader::new(Cursor::new(input), "t");
        let mut got = Vec::new();
        while let Some(v) = r.next_as::<serde_json::Value>().expect("read") {
            got.push(v["a"].as_i64());
        }
        assert_eq!(got, [Some(1), Some(2), Some(3)]);
        assert_eq!(r.skipped().get(SkipReason::Blank), 1);
        assert_eq!(r.skipped().total(), 1);
    }

    #[test]
    fn append_file_writes_whole_lines_and_repairs_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/dir/out.jsonl");
        {
            let mut w = JsonlWriter::append_file(&path, false).expect("open");
            w.write(&Record::new(RecordType::Event, "t").with("event", "start"))
                .expect("write");
        }
        // Simulate a writer killed mid-line, then a new writer appending.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"type\":\"sam").expect("torn");
        drop(f);
        let mut w = JsonlWriter::append_file(&path, true).expect("reopen");
        w.write(&Record::new(RecordType::Event, "t").with("event", "stop"))
            .expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[2].contains("\"stop\""));
        let mut r = JsonlReader::new(Cursor::new(text.into_bytes()), "t");
        let mut n = 0;
        while r.next_record().expect("read").is_some() {
            n += 1;
        }
        assert_eq!((n, r.skipped().get(SkipReason::NotJson)), (2, 1));
    }

    #[test]
    fn unwritable_output_names_the_path() {
        let err = match JsonlWriter::append_file(Path::new("/proc/version/x.jsonl"), false) {
            Ok(_) => panic!("/proc/version is not a directory"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("/proc/version"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::ExitCode::Environment);
    }
}
