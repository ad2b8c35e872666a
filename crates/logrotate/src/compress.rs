//! Crash-safe compression that never writes through a name it did not create.
//!
//! The original is opened once (`O_NOFOLLOW`, regular files only) through its directory's
//! handle; the archive is written to a new file of random name created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` ([`crate::safefs`]), given the original's owner, mode and times
//! (and the original's mtime in the gzip header, as gzip does), then moved to `name.gz` with
//! `RENAME_NOREPLACE` and read back (length and CRC against the original). The filesystem is
//! then synced (one `syncfs` per batch, not three fsyncs per file) and only then is the original
//! removed, if it is still the file that was compressed. A crash at any point leaves the
//! original, or the original beside an archive that the next run checks: identical, the job is
//! finished; unreadable (cut short by the crash), it is redone. An archive name already taken
//! by a symlink, a FIFO or a file of other content is left alone with the original. A file that
//! changed while it was compressed is kept as it is.
//!
//! A dry run goes through the same checks and the same encoder, into a byte counter instead of
//! a file, so it predicts exactly which files are compressed and the archives' sizes.

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use flate2::Crc;
use soak_core::pathtext::shown;

use crate::safefs::{self, Dir, FileId};

pub use crate::codec::Codec;

/// The outcome of compressing one file (or, in a dry run, of checking and encoding it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Compressed (or, dry, would be) to an archive of this many bytes.
    Done {
        /// The archive's size.
        bytes: u64,
        /// The archive's identity (`None` in a dry run: it is not on disk).
        id: Option<FileId>,
    },
    /// Left alone, and why.
    Kept(String),
}

/// Where the compressed file goes.
pub fn target(path: &Path, codec: Codec) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(codec.suffix());
    PathBuf::from(s)
}

fn archive_name(name: &OsStr, codec: Codec) -> OsString {
    let mut s = name.to_os_string();
    s.push(codec.suffix());
    s
}

/// Length and CRC of the decompressed content of an archive.
fn decoded_crc(file: File, codec: Codec) -> io::Result<(u64, u32)> {
    let file = BufReader::new(file);
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

/// Asked between blocks of work: true once the run should stop (a signal arrived), so a long
/// compression ends within one block, its temporary file removed and its original kept.
pub type Stop<'a> = &'a (dyn Fn() -> bool + Sync);

/// The error of work abandoned because the run was asked to stop.
pub fn interrupted() -> io::Error {
    io::Error::new(
        io::ErrorKind::Interrupted,
        "interrupted by a signal; left as it was",
    )
}

/// Copies `input` into the encoder; returns the length and CRC of what it read.
fn pump(input: &mut dyn Read, enc: &mut dyn Write, stop: Stop) -> io::Result<(u64, u32)> {
    let mut crc = Crc::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 1 << 17];
    loop {
        if stop() {
            return Err(interrupted());
        }
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok((len, crc.sum()));
        }
        crc.update(&buf[..n]);
        len += n as u64;
        enc.write_all(&buf[..n])?;
    }
}

/// A sink that only counts: the dry run's archive.
#[derive(Default)]
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encodes `input` into `out`; returns the length and CRC of the input.
fn encode<W: Write>(
    input: &mut dyn Read,
    out: W,
    codec: Codec,
    mtime: u32,
    stop: Stop,
) -> io::Result<((u64, u32), W)> {
    match codec {
        Codec::Gzip => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(mtime)
                .write(out, flate2::Compression::new(6));
            let sums = pump(input, &mut enc, stop)?;
            Ok((sums, enc.finish()?))
        }
        Codec::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out, 3)?;
            let sums = pump(input, &mut enc, stop)?;
            Ok((sums, enc.finish()?))
        }
    }
}

/// Compresses `path` (inside `root`, the file `id`) to `path.gz` (or `.zst`) safely: a batch
/// of one.
pub fn compress(root: &Path, path: &Path, id: FileId, codec: Codec) -> io::Result<Outcome> {
    compress_batch(root, &[(path.to_path_buf(), id)], codec, false, &|| false)
        .pop()
        .map_or_else(|| Err(io::Error::other("nothing compressed")), |(_, r)| r)
}

/// True for this tool's own temporary files: `.NAME.<hex>.logrotate-tmp`, and the fixed names
/// of earlier versions (`*.gz.tmp`, `*.zst.tmp`, `*.rotate-tmp`). Only regular files of those
/// names are ever removed (the inventory never lists a symlink).
pub fn is_leftover_tmp(path: &Path) -> bool {
    let name = path.file_name().map_or(&b""[..], |n| n.as_encoded_bytes());
    (name.starts_with(b".") && name.ends_with(safefs::TMP_SUFFIX.as_bytes()))
        || name.ends_with(b".gz.tmp")
        || name.ends_with(b".zst.tmp")
        || name.ends_with(b".rotate-tmp")
}

/// A file compressed and verified (or, dry, checked and measured), waiting for its
/// original's removal.
struct Ready {
    dir: Dir,
    name: OsString,
    archive: OsString,
    original: FileId,
    len: u64,
    modified: Option<std::time::SystemTime>,
    archive_bytes: u64,
    archive_id: Option<FileId>,
}

fn kept(why: impl Into<String>) -> io::Result<Result<Ready, String>> {
    Ok(Err(why.into()))
}

/// Checks, writes, renames and verifies one archive without syncing (the batch syncs once);
/// dry, checks and encodes into a counter.
fn prepare(
    root: &Path,
    path: &Path,
    id: FileId,
    codec: Codec,
    dry_run: bool,
    stop: Stop,
) -> io::Result<Result<Ready, String>> {
    if stop() {
        return Err(interrupted());
    }
    let (dir, name) = safefs::locate(root, path)?;
    let mut src = dir.open_read(&name)?;
    let before = src.metadata()?;
    if FileId::of(&src)? != id {
        return kept("replaced by another file since the scan; left alone");
    }
    let arch = archive_name(&name, codec);
    let shown_arch = shown(&target(path, codec));
    let ready = |archive_bytes, archive_id, dir| Ready {
        dir,
        name: name.clone(),
        archive: arch.clone(),
        original: id,
        len: before.len(),
        modified: before.modified().ok(),
        archive_bytes,
        archive_id,
    };
    if let Some(st) = dir.stat(&arch)? {
        if !st.is_regular() {
            return kept(format!(
                "{shown_arch} exists and is not a regular file (a symlink?); left alone, original kept"
            ));
        }
        let original = crc_of(&mut src)?;
        src.rewind()?;
        match decoded_crc(dir.open_read(&arch)?, codec) {
            // A crash between the rename and the removal of the original: finish the job.
            Ok(sums) if sums == original => {
                return Ok(Ok(ready(st.len, Some(st.id), dir)));
            }
            Ok(_) => {
                return kept(format!(
                    "{shown_arch} already exists with other content; both kept"
                ));
            }
            // Unreadable: cut short by a crash before the sync. Redo it.
            Err(_) if !dry_run => dir.remove_if_same(&arch, st.id)?,
            Err(_) => {}
        }
    }
    // The gzip header's MTIME: seconds since the epoch, 0 when unknown or out of range.
    let mtime = before
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u32::try_from(d.as_secs()).ok())
        .unwrap_or(0);
    let mut input = BufReader::with_capacity(1 << 17, &src);
    if dry_run {
        let (_, counter) = encode(&mut input, Counter::default(), codec, mtime, stop)?;
        return Ok(Ok(ready(counter.0, None, dir)));
    }
    let (tmp, out) = dir.create_temp(&arch)?;
    let written = (|| -> io::Result<(u64, u32)> {
        safefs::copy_owner_and_mode(&out, &before)?;
        let (sums, w) = encode(&mut input, BufWriter::new(&out), codec, mtime, stop)?;
        w.into_inner().map_err(|e| e.into_error())?;
        out.set_times(
            FileTimes::new()
                .set_accessed(before.accessed().unwrap_or(UNIX_EPOCH))
                .set_modified(before.modified().unwrap_or(UNIX_EPOCH)),
        )?;
        Ok(sums)
    })();
    let sums = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = dir.remove(&tmp);
            return Err(e);
        }
    };
    let after = src.metadata()?;
    let still_there = dir.stat(&name)?.is_some_and(|st| st.id == id);
    if sums.0 != before.len()
        || after.len() != before.len()
        || after.modified().ok() != before.modified().ok()
        || !still_there
    {
        let _ = dir.remove(&tmp);
        return kept("changed while being compressed");
    }
    let out_meta = out.metadata()?;
    let out_id = FileId::of(&out)?;
    if let Err(e) = safefs::durable(&out) {
        let _ = dir.remove(&tmp);
        return Err(e);
    }
    if let Err(e) = dir.rename_noreplace(&tmp, &arch) {
        let _ = dir.remove(&tmp);
        if e.kind() == io::ErrorKind::AlreadyExists {
            return kept(format!(
                "{shown_arch} appeared meanwhile; left alone, original kept"
            ));
        }
        return Err(e);
    }
    let back = dir.open_read(&arch)?;
    if FileId::of(&back)? != out_id || decoded_crc(back, codec)? != sums {
        let _ = dir.remove_if_same(&arch, out_id);
        return kept("the archive did not read back identical; original kept");
    }
    Ok(Ok(ready(out_meta.len(), Some(out_id), dir)))
}

/// Compresses many files (each inside `root`, with the identity the scan saw) on every core
/// with one `syncfs` per filesystem instead of three fsyncs per file: every archive is
/// written, renamed and read back, the filesystems are synced, and only then are the
/// originals removed. A crash before the sync leaves the originals (a half-written archive
/// beside one is redone by the next run). With `dry_run` nothing is written and the outcomes
/// are what a real run would give. Once `stop` says so, the files not yet compressed are
/// left as they are (an `Interrupted` error each).
pub fn compress_batch(
    root: &Path,
    items: &[(PathBuf, FileId)],
    codec: Codec,
    dry_run: bool,
    stop: Stop,
) -> Vec<(PathBuf, io::Result<Outcome>)> {
    use rayon::prelude::*;
    let prepared: Vec<(PathBuf, io::Result<Result<Ready, String>>)> = items
        .par_iter()
        .map(|(p, id)| (p.clone(), prepare(root, p, *id, codec, dry_run, stop)))
        .collect();
    let mut synced: Vec<Option<u64>> = Vec::new();
    let mut sync_error: Option<String> = None;
    if !dry_run {
        for ready in prepared
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok()?.as_ref().ok())
        {
            let dev = ready.archive_id.map(|id| id.volume());
            if !synced.contains(&dev) {
                synced.push(dev);
                if let Err(e) = ready.dir.sync_volume() {
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
                Ok(Ok(ready)) => finish(ready, dry_run, sync_error.as_deref()),
            };
            (p, outcome)
        })
        .collect()
}

/// Removes the original of a verified archive, if it is still the file that was compressed.
fn finish(ready: Ready, dry_run: bool, sync_error: Option<&str>) -> io::Result<Outcome> {
    let done = Outcome::Done {
        bytes: ready.archive_bytes,
        id: ready.archive_id,
    };
    if dry_run {
        return Ok(done);
    }
    if let Some(e) = sync_error {
        return Ok(Outcome::Kept(format!("sync failed: {e}")));
    }
    let unchanged = ready.dir.stat(&ready.name)?.is_some_and(|st| {
        st.id == ready.original && st.len == ready.len && st.modified == ready.modified
    });
    if !unchanged {
        return Ok(Outcome::Kept(
            "changed after it was compressed; archive and original kept".into(),
        ));
    }
    match ready.dir.remove(&ready.name) {
        Ok(()) => Ok(done),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        // Held open by a process that does not share deletion (Windows), or not removable:
        // the archive would be a second copy, so it goes and the original stays.
        Err(e) => {
            if let Some(id) = ready.archive_id {
                let _ = ready.dir.remove_if_same(&ready.archive, id);
            }
            Ok(Outcome::Kept(format!(
                "the original cannot be removed ({}); archive removed, original kept",
                safefs::why(&e)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn id_of(p: &Path) -> FileId {
        FileId::at(p).expect("id").0
    }

    #[test]
    fn round_trip_both_codecs_keep_times_and_finish_an_interrupted_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().canonicalize().expect("canon");
        for codec in [Codec::Gzip, Codec::Zstd] {
            let p = root.join(format!("a-{codec:?}.log"));
            let text = "line\n".repeat(10_000);
            fs::write(&p, &text).expect("write");
            let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
            File::options()
                .write(true)
                .open(&p)
                .and_then(|f| f.set_modified(old))
                .expect("mtime");
            let dry = compress_batch(&root, &[(p.clone(), id_of(&p))], codec, true, &|| false)
                .pop()
                .expect("one")
                .1
                .expect("dry");
            let out = compress(&root, &p, id_of(&p), codec).expect("compress");
            let Outcome::Done { bytes, .. } = out else {
                panic!("{out:?}")
            };
            assert!(bytes < 1000, "{bytes}");
            assert!(
                matches!(dry, Outcome::Done { bytes: b, .. } if b == bytes),
                "{dry:?}"
            );
            assert!(!p.exists());
            let arch = target(&p, codec);
            assert_eq!(fs::metadata(&arch).expect("m").modified().expect("t"), old);
            assert_eq!(
                decoded_crc(File::open(&arch).expect("open"), codec)
                    .expect("read")
                    .0,
                text.len() as u64
            );
        }
        // Crash after the rename, before removing the original: the next run finishes.
        let p = root.join("b.log");
        fs::write(&p, "hello\n").expect("write");
        let mut enc = flate2::write::GzEncoder::new(
            File::create(target(&p, Codec::Gzip)).expect("c"),
            flate2::Compression::new(6),
        );
        enc.write_all(b"hello\n").expect("w");
        enc.finish().expect("f");
        assert!(matches!(
            compress(&root, &p, id_of(&p), Codec::Gzip).expect("c"),
            Outcome::Done { .. }
        ));
        assert!(!p.exists());
    }
}
