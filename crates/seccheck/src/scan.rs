//! Scanning files and streams for secrets in big blocks (the prefilter runs over whole buffers;
//! only lines it flags are examined), and rewriting files with the secrets masked, safely.
//!
//! Runs of NUL bytes (the sparse hole `copytruncate` leaves at a log's start) are read past;
//! a file is binary only when its first text, NULs aside, is mostly control or non-UTF-8 bytes.

use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::detect::{Detector, Hit};
use crate::replace::{self, Original, ReplaceError};

const BLOCK: usize = 1 << 20;
/// A line (or an unterminated private key) longer than this is taken as it is.
const MAX_PENDING: usize = 64 * BLOCK;
/// How much text (NULs aside) decides whether a file is binary.
const SAMPLE: usize = 8192;

/// One secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What kind.
    pub kind: String,
    /// 1-based line where it starts.
    pub line: u64,
    /// 1-based line where it ends (a private key's END line).
    pub end_line: u64,
    /// 1-based byte column.
    pub column: usize,
    /// The secret, masked.
    pub masked: String,
}

/// What scanning one input gave.
#[derive(Debug, Default)]
pub struct FileScan {
    /// Secrets found (also those before a read error).
    pub found: Vec<Found>,
    /// Bytes scanned (decompressed).
    pub bytes: u64,
    /// Whether the input was gzip.
    pub gzip: bool,
    /// Why the input was not scanned (binary), if it was not.
    pub skipped: Option<String>,
    /// The read error that ended the scan early (a truncated or corrupt `.gz`).
    pub error: Option<io::Error>,
}

/// Wraps `raw` so that gzip is read decompressed (told by its magic, also on a pipe); returns
/// the reader and whether it was gzip.
pub fn text_reader<'a>(mut raw: Box<dyn Read + 'a>) -> io::Result<(Box<dyn Read + 'a>, bool)> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = Cursor::new(head[..n].to_vec()).chain(raw);
    Ok(if n == 2 && head == [0x1f, 0x8b] {
        (Box::new(MultiGzDecoder::new(whole)), true)
    } else {
        (Box::new(whole), false)
    })
}

/// Why `sample` (the first text, NUL bytes removed) is binary, if it is: more than 10 % of its
/// bytes are control characters or not UTF-8.
fn binary_reason(sample: &[u8]) -> Option<String> {
    if sample.is_empty() {
        return None;
    }
    let mut odd = 0usize;
    for chunk in sample.utf8_chunks() {
        odd += chunk
            .valid()
            .bytes()
            .filter(|b| {
                *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b) || *b == 0x7f
            })
            .count();
        odd += chunk.invalid().len();
    }
    // A multi-byte character cut at the sample's end is not evidence.
    let share = odd.saturating_sub(3) * 100 / sample.len();
    (share > 10).then(|| {
        format!(
            "binary: {share} % of the first {} bytes of text are control or non-UTF-8 bytes",
            sample.len()
        )
    })
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

/// Where the block loop stopped.
struct Walk {
    bytes: u64,
    skipped: Option<String>,
}

/// Reads `reader` in blocks and hands each run of whole lines, with the secrets in it, to
/// `visit` (text, hits, 1-based line number of the text's first line). Stops before the first
/// block when the text is binary.
fn walk(
    reader: &mut dyn Read,
    d: &Detector,
    mut visit: impl FnMut(&[u8], &[Hit], u64) -> io::Result<()>,
) -> io::Result<Walk> {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut sample: Vec<u8> = Vec::with_capacity(SAMPLE);
    let mut sampled = false;
    let mut line_base: u64 = 1;
    let mut bytes = 0u64;
    loop {
        let old = buf.len();
        buf.resize(old + BLOCK, 0);
        let n = read_full(reader, &mut buf[old..])?;
        buf.truncate(old + n);
        bytes += n as u64;
        let eof = n == 0;
        if !sampled {
            sample.extend(
                buf[old..]
                    .iter()
                    .filter(|b| **b != 0)
                    .take(SAMPLE - sample.len()),
            );
            if sample.len() == SAMPLE || eof {
                sampled = true;
                if let Some(why) = binary_reason(&sample) {
                    return Ok(Walk {
                        bytes,
                        skipped: Some(why),
                    });
                }
            }
        }
        let full = buf.len() >= MAX_PENDING;
        let complete = if eof || full {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let last = eof || full;
        let scan = d.scan(&buf[..complete], last);
        let upto = scan.open_from.filter(|_| !last).unwrap_or(complete);
        if upto == 0 && !last {
            continue; // a private key opens the text: read on
        }
        let hits: Vec<Hit> = scan
            .hits
            .into_iter()
            .map(|mut h| {
                h.end = h.end.min(upto);
                h
            })
            .collect();
        visit(&buf[..upto], &hits, line_base)?;
        line_base += memchr::memchr_iter(b'\n', &buf[..upto]).count() as u64;
        buf.drain(..upto);
        if eof && buf.is_empty() {
            return Ok(Walk {
                bytes,
                skipped: None,
            });
        }
    }
}

/// The findings of `hits` in `text`, whose first line is `line_base`.
fn located(text: &[u8], hits: &[Hit], line_base: u64, out: &mut Vec<Found>) {
    let (mut line, mut counted) = (line_base, 0usize);
    for h in hits {
        line += memchr::memchr_iter(b'\n', &text[counted..h.start]).count() as u64;
        counted = h.start;
        let line_start = memchr::memrchr(b'\n', &text[..h.start]).map_or(0, |i| i + 1);
        let inner = memchr::memchr_iter(b'\n', &text[h.start..h.end]).count() as u64;
        out.push(Found {
            kind: h.kind.clone(),
            line,
            end_line: line + inner,
            column: h.start - line_start + 1,
            masked: h.masked.clone(),
        });
    }
}

/// Scans one input (gzip read transparently): a file by path, or a stream.
pub fn scan_reader(raw: Box<dyn Read + '_>, d: &Detector) -> FileScan {
    let mut result = FileScan::default();
    let (mut reader, gz) = match text_reader(raw) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.gzip = gz;
    let mut found = Vec::new();
    let walked = walk(&mut reader, d, |text, hits, base| {
        located(text, hits, base, &mut found);
        Ok(())
    });
    result.found = found;
    match walked {
        Ok(w) => {
            result.bytes = w.bytes;
            result.skipped = w.skipped;
        }
        Err(e) => result.error = Some(e),
    }
    result
}

/// Scans one file by path (following a symlink: naming it is the user's choice).
pub fn scan_file(path: &Path, d: &Detector) -> io::Result<FileScan> {
    Ok(scan_reader(Box::new(File::open(path)?), d))
}

/// Writes `text` with every hit replaced by `[REDACTED:kind]`, keeping the line breaks inside a
/// hit (so line numbers stay); returns how many were masked.
fn write_masked(out: &mut dyn Write, text: &[u8], hits: &[Hit]) -> io::Result<usize> {
    let mut at = 0;
    for h in hits {
        out.write_all(&text[at..h.start])?;
        write!(out, "[REDACTED:{}]", h.kind)?;
        for _ in memchr::memchr_iter(b'\n', &text[h.start..h.end]) {
            out.write_all(b"\n")?;
        }
        at = h.end;
    }
    out.write_all(&text[at..])?;
    Ok(hits.len())
}

/// Rewrites `path` with every secret replaced by `[REDACTED:kind]` (a gzip file stays gzip; a
/// private key's whole block goes), through [`crate::replace`]: a fresh temporary file created
/// exclusively beside it under a random name, given the original's owner and mode, synced,
/// renamed over it. Returns how many secrets were masked.
pub fn redact_file(path: &Path, d: &Detector) -> Result<usize, ReplaceError> {
    let original = Original::open(path)?;
    replace::replace(original, |src, tmp| {
        let (mut reader, gz) = text_reader(Box::new(src.try_clone()?))?;
        let mut sink: Box<dyn Write + '_> = if gz {
            Box::new(GzEncoder::new(BufWriter::new(tmp), Compression::default()))
        } else {
            Box::new(BufWriter::new(tmp))
        };
        let mut masked = 0;
        walk(&mut reader, d, |text, hits, _| {
            masked += write_masked(&mut sink, text, hits)?;
            Ok(())
        })?;
        sink.flush()?;
        drop(sink);
        Ok(masked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> Detector {
        Detector::new(Vec::new(), 3.5).expect("d")
    }

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
        let r = scan_file(&p, &detector()).expect("scan");
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

    #[test]
    fn a_private_key_across_a_block_boundary_is_one_finding() {
        let mut text = "x".repeat(BLOCK - 40);
        text.push('\n');
        text.push_str("-----BEGIN RSA PRIVATE KEY-----\n");
        for _ in 0..30 {
            text.push_str("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n");
        }
        text.push_str("-----END RSA PRIVATE KEY-----\nafter\n");
        let r = scan_reader(Box::new(Cursor::new(text.into_bytes())), &detector());
        let f: Vec<(u64, u64, &str)> = r
            .found
            .iter()
            .map(|f| (f.line, f.end_line, f.kind.as_str()))
            .collect();
        assert_eq!(f, vec![(2, 33, "pem_private_key")]);
    }

    #[test]
    fn a_sparse_hole_is_read_past_and_real_binary_is_skipped() {
        let mut text = vec![0u8; 3 * BLOCK];
        text.extend_from_slice(b"2026 INFO AWS key AKIAIOSFODNN7EXAMPLE\n");
        let r = scan_reader(Box::new(Cursor::new(text)), &detector());
        assert!(r.skipped.is_none());
        assert_eq!(r.found.len(), 1);
        assert_eq!(r.found[0].line, 1);
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0".to_vec();
        for i in 0..20_000u32 {
            elf.extend_from_slice(&i.to_le_bytes());
        }
        let r = scan_reader(Box::new(Cursor::new(elf)), &detector());
        assert!(
            r.skipped
                .as_deref()
                .is_some_and(|s| s.starts_with("binary")),
            "{:?}",
            r.skipped
        );
    }
}
