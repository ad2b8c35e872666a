//! Crash-safe compression: `name.gz.tmp` is written, renamed to `name.gz` and read back
//! (length and CRC against the original); the filesystem is then synced (one `syncfs` per batch,
//! not three fsyncs per file) and only then is the original removed. A crash at any point leaves
//! the original, or the original beside an archive that the next run checks and redoes if it is
//! incomplete; a leftover `.tmp` is removed on the next run; a file that changed while it was
//! being compressed is kept as it is.

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

/// Compresses `path` to `path.gz` (or `.zst`) safely (a batch of one).
pub fn compress(path: &Path, codec: Codec) -> io::Result<Outcome> {
    compress_batch(&[path.to_path_buf()], codec)
        .pop()
        .map_or_else(|| Err(io::Error::other("nothing compressed")), |(_, r)| r)
}

/// True for this tool's own temporary files (`*.gz.tmp`, `*.zst.tmp`, `*.rotate-tmp`).
pub fn is_leftover_tmp(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(".gz.tmp") || name.ends_with(".zst.tmp") || name.ends_with(".rotate-tmp")
}

/// A file compressed and verified, waiting for its original's removal.
struct Ready {
    original: PathBuf,
    archive: PathBuf,
}

fn syncfs_of(dir: &Path) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let d = File::open(dir)?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes, renames and verifies one archive without syncing (the batch syncs once).
fn prepare(path: &Path, codec: Codec) -> io::Result<Result<Ready, String>> {
    let final_path = target(path, codec);
    let before = fs::metadata(path)?;
    let original = crc_of(&mut File::open(path)?)?;
    if final_path.exists() {
        if decoded_crc(&final_path, codec).ok() == Some(original) {
            return Ok(Ok(Ready {
                original: path.to_path_buf(),
                archive: final_path,
            }));
        }
        // The original is still here, so this archive is a crash's leftover: redo it.
        fs::remove_file(&final_path)?;
    }
    let mut tmp_name = final_path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let written = (|| -> io::Result<(u64, u32)> {
        let out = File::create(&tmp)?;
        let mut input = BufReader::with_capacity(1 << 17, File::open(path)?);
        let sums = match codec {
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
        Ok(sums)
    })();
    let sums = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let after = fs::metadata(path)?;
    if sums != original
        || after.len() != before.len()
        || after.modified().ok() != before.modified().ok()
    {
        let _ = fs::remove_file(&tmp);
        return Ok(Err("changed while being compressed".into()));
    }
    fs::rename(&tmp, &final_path)?;
    if decoded_crc(&final_path, codec)? != original {
        let _ = fs::remove_file(&final_path);
        return Ok(Err(
            "the archive did not read back identical; original kept".into(),
        ));
    }
    Ok(Ok(Ready {
        original: path.to_path_buf(),
        archive: final_path,
    }))
}

/// Compresses many files on every core with one `syncfs` per filesystem instead of three
/// fsyncs per file: every archive is written, renamed and read back,
/// the filesystems are synced, and only then are the originals removed. A crash before the
/// sync leaves the originals (a half-written archive beside one is redone by the next run).
pub fn compress_batch(paths: &[PathBuf], codec: Codec) -> Vec<(PathBuf, io::Result<Outcome>)> {
    use rayon::prelude::*;
    let prepared: Vec<(PathBuf, io::Result<Result<Ready, String>>)> = paths
        .par_iter()
        .map(|p| (p.clone(), prepare(p, codec)))
        .collect();
    let mut synced: Vec<u64> = Vec::new();
    let mut sync_error: Option<String> = None;
    for (p, r) in &prepared {
        if let Ok(Ok(ready)) = r {
            use std::os::unix::fs::MetadataExt;
            let dev = fs::metadata(&ready.archive).map_or(0, |m| m.dev());
            if !synced.contains(&dev) {
                synced.push(dev);
                if let Err(e) = syncfs_of(p.parent().unwrap_or(Path::new("."))) {
                    sync_error = Some(e.to_string());
                }
            }
        }
    }
    prepared
        .into_iter()
        .map(|(p, r)| {
            let outcome = match r {
                Err(e) => Err(e),
                Ok(Err(why)) => Ok(Outcome::Kept(why)),
                Ok(Ok(_)) if sync_error.is_some() => Ok(Outcome::Kept(format!(
                    "sync failed: {}",
                    sync_error.clone().unwrap_or_default()
                ))),
                Ok(Ok(ready)) => fs::remove_file(&ready.original)
                    .and_then(|()| fs::metadata(&ready.archive))
                    .map(|m| Outcome::Done(m.len())),
            };
            (p, outcome)
        })
        .collect()
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
