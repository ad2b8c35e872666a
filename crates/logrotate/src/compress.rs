//! Crash-safe compression: `name.gz.tmp` is written and synced, renamed to `name.gz`, read back
//! and checked against the original's length and CRC, and only then is the original removed.
//! A crash at any point leaves the original or a complete `.gz` (a leftover `.tmp` is removed on
//! the next run); a file that changed while it was being compressed is kept as it is.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Crc;

/// The compression formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    /// gzip, level 6 (as `gzip -6`).
    Gzip,
    /// zstd, level 3.
    Zstd,
}

impl Codec {
    /// The suffix it adds.
    pub fn suffix(self) -> &'static str {
        match self {
            Codec::Gzip => ".gz",
            Codec::Zstd => ".zst",
        }
    }
}

/// The outcome of compressing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Compressed to this many bytes.
    Done(u64),
    /// Left alone, and why.
    Kept(String),
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Where the compressed file goes.
pub fn target(path: &Path, codec: Codec) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(codec.suffix());
    PathBuf::from(s)
}

/// Length and CRC of the decompressed content of `path`.
fn decoded_crc(path: &Path, codec: Codec) -> io::Result<(u64, u32)> {
    let file = BufReader::new(File::open(path)?);
    let mut reader: Box<dyn Read> = match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    };
    crc_of(&mut reader)
}

fn crc_of(reader: &mut dyn Read) -> io::Result<(u64, u32)> {
    let mut crc = Crc::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok((len, crc.sum()));
        }
        len += n as u64;
        crc.update(&buf[..n]);
    }
}

/// Copies `input` into the encoder; returns the length and CRC of what it read.
fn pump(input: &mut dyn Read, enc: &mut dyn Write) -> io::Result<(u64, u32)> {
    let mut crc = Crc::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 1 << 17];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok((len, crc.sum()));
        }
        crc.update(&buf[..n]);
        len += n as u64;
        enc.write_all(&buf[..n])?;
    }
}

/// Compresses `path` to `path.gz` (or `.zst`) safely.
pub fn compress(path: &Path, codec: Codec) -> io::Result<Outcome> {
    let final_path = target(path, codec);
    let before = fs::metadata(path)?;
    if final_path.exists() {
        // A run that crashed after the rename: finish it if the archive is complete.
        let (len, crc) = decoded_crc(&final_path, codec)?;
        let original = crc_of(&mut File::open(path)?)?;
        if (len, crc) == original {
            fs::remove_file(path)?;
            sync_dir(path);
            return Ok(Outcome::Done(fs::metadata(&final_path)?.len()));
        }
        return Ok(Outcome::Kept(format!(
            "{} exists with other content",
            final_path.display()
        )));
    }
    let mut tmp_name = final_path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let written = (|| -> io::Result<(u64, u32)> {
        let out = File::create(&tmp)?;
        let mut input = BufReader::with_capacity(1 << 17, File::open(path)?);
        let (len, crc) = match codec {
            Codec::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    BufWriter::new(&out),
                    flate2::Compression::new(6),
                );
                let sums = pump(&mut input, &mut enc)?;
                enc.finish()?.flush()?;
                sums
            }
            Codec::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(BufWriter::new(&out), 3)?;
                let sums = pump(&mut input, &mut enc)?;
                enc.finish()?.flush()?;
                sums
            }
        };
        out.sync_all()?;
        Ok((len, crc))
    })();
    let (len, crc) = match written {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let after = fs::metadata(path)?;
    if after.len() != before.len()
        || after.modified().ok() != before.modified().ok()
        || len != before.len()
    {
        let _ = fs::remove_file(&tmp);
        return Ok(Outcome::Kept("changed while being compressed".into()));
    }
    fs::rename(&tmp, &final_path)?;
    sync_dir(&final_path);
    if decoded_crc(&final_path, codec)? != (len, crc) {
        let _ = fs::remove_file(&final_path);
        return Ok(Outcome::Kept(
            "the archive did not read back identical; original kept".into(),
        ));
    }
    fs::remove_file(path)?;
    sync_dir(path);
    Ok(Outcome::Done(fs::metadata(&final_path)?.len()))
}

/// True for this tool's own temporary files (`*.gz.tmp`, `*.zst.tmp`, `*.rotate-tmp`).
pub fn is_leftover_tmp(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(".gz.tmp") || name.ends_with(".zst.tmp") || name.ends_with(".rotate-tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_codecs_and_finish_an_interrupted_one() {
        let dir = tempfile::tempdir().expect("tmp");
        for codec in [Codec::Gzip, Codec::Zstd] {
            let p = dir.path().join(format!("a-{codec:?}.log"));
            let text = "line\n".repeat(10_000);
            fs::write(&p, &text).expect("write");
            let out = compress(&p, codec).expect("compress");
            assert!(matches!(out, Outcome::Done(n) if n < 1000), "{out:?}");
            assert!(!p.exists());
            assert_eq!(
                decoded_crc(&target(&p, codec), codec).expect("read").0,
                text.len() as u64
            );
        }
        // Crash after the rename, before removing the original: the next run finishes.
        let p = dir.path().join("b.log");
        fs::write(&p, "hello\n").expect("write");
        let mut enc = flate2::write::GzEncoder::new(
            File::create(target(&p, Codec::Gzip)).expect("c"),
            flate2::Compression::new(6),
        );
        enc.write_all(b"hello\n").expect("w");
        enc.finish().expect("f");
        assert!(matches!(
            compress(&p, Codec::Gzip).expect("c"),
            Outcome::Done(_)
        ));
        assert!(!p.exists());
    }
}
