//! Scanning files for secrets in big blocks (the prefilter runs over whole buffers; only lines
//! it flags are examined), and rewriting files with the secrets masked, atomically.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::detect::{Detector, Hit};
use crate::replace::{self, Original, ReplaceError};

const BLOCK: usize = 1 << 20;

/// One secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What kind.
    pub kind: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: usize,
    /// The secret, masked.
    pub masked: String,
}

/// What scanning one file gave.
#[derive(Debug, Clone, Default)]
pub struct FileScan {
    /// Secrets found.
    pub found: Vec<Found>,
    /// Bytes scanned (decompressed).
    pub bytes: u64,
    /// Why the file was not scanned (binary).
    pub skipped: Option<String>,
}

/// A reader of the file's text (gunzipped when it starts with the gzip magic), and whether it
/// was gzip.
fn reader_of(file: File) -> io::Result<(Box<dyn Read>, bool)> {
    let mut magic = [0u8; 2];
    let n = file.read_at(&mut magic, 0)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        (Box::new(MultiGzDecoder::new(file)), true)
    } else {
        (Box::new(file), false)
    })
}

fn open(path: &Path) -> io::Result<(Box<dyn Read>, bool)> {
    reader_of(File::open(path)?)
}

fn report(d: &Detector, line: &[u8], line_no: u64, out: &mut Vec<Found>) {
    for Hit { kind, start, end } in d.scan_line(line) {
        out.push(Found {
            kind,
            line: line_no,
            column: start + 1,
            masked: crate::detect::mask(&line[start..end]),
        });
    }
}

/// Scans one file (gzip read transparently).
pub fn scan_file(path: &Path, d: &Detector) -> io::Result<FileScan> {
    let (mut reader, _) = open(path)?;
    let mut result = FileScan::default();
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut line_base: u64 = 1; // line number of buf[0]
    let mut first = true;
    loop {
        let old = buf.len();
        buf.resize(old + BLOCK, 0);
        let n = read_full(&mut reader, &mut buf[old..])?;
        buf.truncate(old + n);
        let eof = n == 0;
        if first {
            first = false;
            let head = &buf[..buf.len().min(8192)];
            if memchr::memchr(0, head).is_some() {
                result.skipped = Some("binary".into());
                return Ok(result);
            }
        }
        result.bytes += n as u64;
        // Everything up to the last newline is complete (all of it at the end).
        let complete = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None if buf.len() < 64 * BLOCK => continue,
                None => buf.len(), // a 64 MB line: take it as it is
            }
        };
        let region = &buf[..complete];
        let mut counted_to = 0usize; // newlines counted in region[..counted_to]
        let mut line_no = line_base;
        let mut done_to = 0usize; // lines before this are examined
        for hit in d.anchor_hits(region) {
            if hit < done_to {
                continue;
            }
            let start = memchr::memrchr(b'\n', &region[..hit]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &region[hit..]).map_or(region.len(), |i| hit + i);
            line_no += memchr::memchr_iter(b'\n', &region[counted_to..start]).count() as u64;
            counted_to = start;
            report(d, &region[start..end], line_no, &mut result.found);
            done_to = end + 1;
        }
        line_base = line_no + memchr::memchr_iter(b'\n', &region[counted_to..]).count() as u64;
        buf.drain(..complete);
        if eof {
            return Ok(result);
        }
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Rewrites `path` with every secret replaced by `[REDACTED:kind]` (a gzip file stays gzip),
/// through [`crate::replace`]: a fresh temporary file created exclusively beside it under a
/// random name, given the original's owner and mode, synced, renamed over it. Returns how many
/// secrets were masked.
pub fn redact_file(path: &Path, d: &Detector) -> Result<usize, ReplaceError> {
    let original = Original::open(path)?;
    replace::replace(original, |src, tmp| {
        let (reader, gz) = reader_of(src.try_clone()?)?;
        let mut masked = 0;
        let mut sink: Box<dyn Write + '_> = if gz {
            Box::new(GzEncoder::new(BufWriter::new(tmp), Compression::default()))
        } else {
            Box::new(BufWriter::new(tmp))
        };
        let mut reader = BufReader::with_capacity(BLOCK, reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let hits = if d.maybe(&line) {
                d.scan_line(&line)
            } else {
                Vec::new()
            };
            let mut at = 0;
            for h in &hits {
                sink.write_all(&line[at..h.start])?;
                write!(sink, "[REDACTED:{}]", h.kind)?;
                at = h.end;
                masked += 1;
            }
            sink.write_all(&line[at..])?;
        }
        sink.flush()?;
        Ok(masked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_across_blocks_and_files_without_final_newline() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("big.log");
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!(
                "2026-01-01 00:00:00,000 - bot - INFO - line {i} nothing to see\n"
            ));
        }
        text.push_str(
            "token: q8Vt2LmZ7xR4nB9wK3pD6sF1\nlast line without newline AKIAIOSFODNN7EXAMPLE",
        );
        std::fs::write(&p, &text).expect("write");
        let d = Detector::new(&[], 3.5).expect("d");
        let r = scan_file(&p, &d).expect("scan");
        let lines: Vec<(u64, &str)> = r.found.iter().map(|f| (f.line, f.kind.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (200_001, "high_entropy_assignment"),
                (200_002, "aws_access_key_id")
            ]
        );
        assert_eq!(r.bytes, text.len() as u64);
    }
}
