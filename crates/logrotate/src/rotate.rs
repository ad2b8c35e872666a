//! Rotating a live log that grew past `--max-size`.
//!
//! - `--rename`: the file is renamed to `name.YYYYmmddHHMMSS`; the writer keeps writing into the
//!   renamed file until it reopens its log (as logrotate(8)'s default `create` mode requires).
//! - `--copytruncate`: a block-aligned prefix is copied to `name.YYYYmmddHHMMSS` and then cut out of
//!   the live file with `fallocate(FALLOC_FL_COLLAPSE_RANGE)`, which removes exactly those bytes
//!   while an `O_APPEND` writer goes on appending: no line is lost and none is written twice;
//!   the rotated file followed by the live one is the original byte stream (a line cut at the
//!   block boundary continues at the start of the live file). Where the filesystem cannot
//!   collapse (not ext4/XFS), it falls back to logrotate(8)'s copy-then-truncate; the action
//!   says which.
//! - Windows has no collapse, and a log held open by its service cannot be renamed there (it
//!   does not share deletion), so `--copytruncate` copies the whole file while sharing it, then
//!   reopens it sharing nothing: when that succeeds no other process has the file open, and
//!   the rest is copied and the file truncated with nobody able to write in between
//!   (`copy_truncate_exclusive`, no window). When a writer holds the log, the copy catches up
//!   with what it appends until a check finds nothing new and truncates right after that
//!   check (`copy_truncate`): lines appended in that instant are lost, as with logrotate(8)'s
//!   copytruncate (whose window is the whole copy); NTFS cannot cut a prefix out of a file. A
//!   log held without write sharing cannot be cut at all and is left as it is, with the reason.
//!
//! The rotated file is created under a random name with `O_CREAT|O_EXCL|O_NOFOLLOW`, given the
//! live file's owner and mode, and moved to the first free `name.YYYYmmddHHMMSS[.N]` with
//! `RENAME_NOREPLACE` before anything is cut; a live file with other hard links is not cut
//! (one of them may be outside DIR).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use soak_core::fileinfo::link_count;

use crate::safefs::{self, Dir, FileId};

/// How a live log is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rename; the writer must reopen.
    Rename,
    /// Copy, then cut what was copied out of the live file.
    CopyTruncate,
}

/// What a rotation did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The rotated file (in a dry run, the name it would have now).
    pub to: PathBuf,
    /// Bytes moved into it.
    pub bytes: u64,
    /// `rename`, `collapse_range`, `copy_truncate_exclusive` (Windows, no other handle open) or
    /// `copy_truncate` (the last has a loss window).
    pub method: &'static str,
}

/// Candidate names of the rotated file: `name.YYYYmmddHHMMSS`, then `.1`, `.2`, ... (digits
/// only, so it groups with its live file and sorts in rotation order).
fn rotated_names(name: &OsStr) -> impl Iterator<Item = OsString> {
    let stamp = soak_core::record::Timestamp::now()
        .datetime()
        .format("%Y%m%d%H%M%S")
        .to_string();
    let name = name.to_os_string();
    (0..1000u32).map(move |n| {
        let mut s = name.clone();
        s.push(format!(".{stamp}"));
        if n > 0 {
            s.push(format!(".{n}"));
        }
        s
    })
}

/// Moves `from` (in `dir`) to the first free rotated name of `name`, never replacing anything.
fn rename_to_free_name(dir: &Dir, from: &OsStr, name: &OsStr) -> io::Result<OsString> {
    for candidate in rotated_names(name) {
        match dir.rename_noreplace(from, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every rotated name of this second is taken",
    ))
}

fn copy_range(src: &mut File, dst: &mut dyn Write, from: u64, len: u64) -> io::Result<()> {
    src.seek(SeekFrom::Start(from))?;
    let copied = io::copy(&mut src.take(len), dst)?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank during rotation",
        ));
    }
    Ok(())
}

/// The block-aligned prefix that `FALLOC_FL_COLLAPSE_RANGE` can cut: a block multiple that
/// stops short of the end of the file.
#[cfg(target_os = "linux")]
fn collapsible(len: u64, block: u64) -> u64 {
    let cut = len - len % block;
    if cut >= len {
        cut.saturating_sub(block)
    } else {
        cut
    }
}

/// The prefix of `live` that can be cut out without a window (Linux: a block multiple short of
/// the end); 0 where the OS cannot collapse a range.
fn cuttable(meta: &std::fs::Metadata) -> u64 {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        collapsible(meta.len(), meta.blksize().max(512))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = meta;
        0
    }
}

/// Cuts the first `cut` bytes out of `live` with `FALLOC_FL_COLLAPSE_RANGE`; `Ok(false)` when
/// the filesystem cannot (then the caller copies and truncates).
#[cfg(target_os = "linux")]
fn collapse(live: &File, cut: u64) -> io::Result<bool> {
    use rustix::fs::{FallocateFlags, fallocate};
    use rustix::io::Errno;
    match fallocate(live, FallocateFlags::COLLAPSE_RANGE, 0, cut) {
        Ok(()) => Ok(true),
        Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn collapse(_live: &File, _cut: u64) -> io::Result<bool> {
    Ok(false)
}

/// How many times [`copy_then_truncate`] catches up with a writer before it gives up.
const CATCH_UP_ROUNDS: usize = 64;

/// How many bytes `live` holds beyond `copied` (an error if it shrank: someone else cut it).
/// The end is found by seeking to it: the cheapest question to ask (on Windows a full
/// metadata query costs several calls, each widening the window before a truncate).
fn grown(live: &mut File, copied: u64) -> io::Result<u64> {
    let end = live.seek(SeekFrom::End(0))?;
    if end < copied {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank during rotation",
        ));
    }
    Ok(end - copied)
}

/// Copies what `live` holds beyond `copied` into `out` and flushes it; returns the new
/// `copied`.
fn copy_rest(live: &mut File, out: &mut File, copied: u64) -> io::Result<u64> {
    let rest = grown(live, copied)?;
    copy_range(live, out, copied, rest)?;
    out.sync_all()?;
    Ok(copied + rest)
}

/// Copies what `live` holds beyond `copied` into `out` and flushes it, then catches up with
/// what the writer appended meanwhile until a check finds nothing new, and truncates `live`
/// right after that check; returns the bytes moved. Gives up, cutting nothing, when the writer
/// outruns [`CATCH_UP_ROUNDS`] rounds.
fn copy_then_truncate(live: &mut File, out: &mut File, copied: u64) -> io::Result<u64> {
    let mut copied = copy_rest(live, out, copied)?;
    for _ in 0..CATCH_UP_ROUNDS {
        let new = grown(live, copied)?;
        if new == 0 {
            live.set_len(0)?;
            // The few bytes caught up since the flush are in the rotated file already; a
            // failed flush now cannot be undone by removing it (the live file is cut).
            let _ = out.sync_all();
            return Ok(copied);
        }
        copy_range(live, out, copied, new)?;
        copied += new;
    }
    Err(io::Error::other(format!(
        "still growing after {CATCH_UP_ROUNDS} rounds of copying; not cut"
    )))
}

/// Moves what `live` holds beyond `copied` into `out` and empties `live` (no collapse here):
/// copy and truncate. Returns the bytes moved and the method.
#[cfg(not(windows))]
fn cut_the_rest(
    _dir: &Dir,
    _name: &OsStr,
    _id: FileId,
    mut live: File,
    out: &mut File,
    copied: u64,
) -> io::Result<(u64, &'static str)> {
    Ok((copy_then_truncate(&mut live, out, copied)?, "copy_truncate"))
}

/// Moves what `live` holds beyond `copied` into `out` and empties `live`: the bulk is copied
/// while sharing the file; then, when the file can be opened sharing nothing (no writer holds
/// it), the rest is copied and the file truncated while nobody can write; otherwise the copy
/// catches up with the writer and truncates (see the module doc). Returns the bytes moved and
/// the method.
#[cfg(windows)]
fn cut_the_rest(
    dir: &Dir,
    name: &OsStr,
    id: FileId,
    mut live: File,
    out: &mut File,
    copied: u64,
) -> io::Result<(u64, &'static str)> {
    let copied = copy_rest(&mut live, out, copied)?;
    drop(live);
    let same = |f: &File| -> io::Result<()> {
        if FileId::of(f)? != id {
            return Err(io::Error::other(
                "replaced by another file during rotation; left alone",
            ));
        }
        Ok(())
    };
    if let Some(mut only) = dir.open_exclusive(name)? {
        same(&only)?;
        let moved = copy_rest(&mut only, out, copied)?;
        only.set_len(0)?;
        return Ok((moved, "copy_truncate_exclusive"));
    }
    let mut live = dir.open_read_write(name)?;
    same(&live)?;
    Ok((copy_then_truncate(&mut live, out, copied)?, "copy_truncate"))
}

/// Rotates `path` (inside `root`, the file `id` the scan saw). With `dry_run`, makes the same
/// checks and changes nothing.
pub fn rotate(
    root: &Path,
    path: &Path,
    id: FileId,
    mode: Mode,
    dry_run: bool,
) -> io::Result<Rotated> {
    let (dir, name) = safefs::locate(root, path)?;
    let parent = path.parent().unwrap_or(root);
    let mut live = dir.open_read_write(&name)?;
    let meta = live.metadata()?;
    if FileId::of(&live)? != id {
        return Err(io::Error::other(
            "replaced by another file since the scan; left alone",
        ));
    }
    if mode == Mode::Rename {
        let bytes = meta.len();
        drop(live);
        let to = if dry_run {
            rotated_names(&name).next().unwrap_or_default()
        } else {
            rename_to_free_name(&dir, &name, &name)?
        };
        return Ok(Rotated {
            to: parent.join(to),
            bytes,
            method: "rename",
        });
    }
    // Cutting a file that has another name could change a file outside DIR.
    let links = link_count(&live)?;
    if links > 1 {
        return Err(io::Error::other(format!(
            "has {links} hard links (one may be outside DIR); not cut"
        )));
    }
    let cut = cuttable(&meta);
    if dry_run {
        return Ok(Rotated {
            to: parent.join(rotated_names(&name).next().unwrap_or_default()),
            bytes: if cut > 0 { cut } else { meta.len() },
            method: if cut > 0 {
                "collapse_range"
            } else {
                "copy_truncate"
            },
        });
    }
    let (tmp, mut out) = dir.create_temp(&name)?;
    // The copy gets its final name before anything is cut from the live file: a crash leaves
    // the copied bytes twice (rotated file and live file), never nowhere.
    let copied = (|| -> io::Result<OsString> {
        safefs::copy_owner_and_mode(&out, &meta)?;
        copy_range(&mut live, &mut out, 0, cut)?;
        out.sync_all()?;
        rename_to_free_name(&dir, &tmp, &name)
    })();
    let to = match copied {
        Ok(to) => to,
        Err(e) => {
            let _ = dir.remove(&tmp);
            return Err(e);
        }
    };
    let out_id = FileId::of(&out)?;
    let result = (|| -> io::Result<(u64, &'static str)> {
        if cut > 0 && collapse(&live, cut)? {
            live.sync_all()?;
            return Ok((cut, "collapse_range"));
        }
        // No collapse: copy the rest, then truncate.
        cut_the_rest(&dir, &name, id, live, &mut out, cut)
    })();
    match result {
        Ok((bytes, method)) => Ok(Rotated {
            to: parent.join(to),
            bytes,
            method,
        }),
        Err(e) => {
            // Nothing was cut: the copy is a duplicate, remove it.
            let _ = dir.remove_if_same(&to, out_id);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(dir: &Path, name: &str, content: &[u8]) -> File {
        std::fs::write(dir.join(name), content).expect("write");
        File::options()
            .read(true)
            .write(true)
            .open(dir.join(name))
            .expect("open")
    }

    #[test]
    fn copy_then_truncate_moves_what_was_not_copied_yet_and_empties_the_live_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let text = b"one\r\ntwo\r\nthree\r\n";
        let mut live = file_with(tmp.path(), "app.log", text);
        // The first 5 bytes are in the rotated part already.
        let mut out = file_with(tmp.path(), "app.log.1", &text[..5]);
        out.seek(SeekFrom::End(0)).expect("seek");
        let moved = copy_then_truncate(&mut live, &mut out, 5).expect("cut");
        assert_eq!(moved, text.len() as u64);
        assert_eq!(
            std::fs::read(tmp.path().join("app.log.1")).expect("r"),
            text
        );
        assert_eq!(live.metadata().expect("m").len(), 0);
    }

    #[test]
    fn a_live_file_shorter_than_what_was_copied_is_not_cut() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut live = file_with(tmp.path(), "app.log", b"abc");
        let mut out = file_with(tmp.path(), "app.log.1", b"abcdef");
        let err = copy_then_truncate(&mut live, &mut out, 6).expect_err("shrank");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            std::fs::read(tmp.path().join("app.log")).expect("r"),
            b"abc"
        );
    }
}
