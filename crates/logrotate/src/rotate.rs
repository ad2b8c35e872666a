//! Rotating a live log that grew past `--max-size`.
//!
//! - `--rename`: the file is renamed to `name.YYYYmmddHHMMSS`; the writer keeps writing into the
//!   renamed file until it reopens its log (as logrotate(8)'s default `create` mode requires).
//! - `--copytruncate`: a block-aligned prefix is copied to `name.YYYYmmddHHMMSS` and then cut out of
//!   the live file with `fallocate(FALLOC_FL_COLLAPSE_RANGE)`, which removes exactly those bytes
//!   while an `O_APPEND` writer goes on appending: no line is lost and none is written twice;
//!   the rotated file followed by the live one is the original byte stream (a line cut at the
//!   block boundary continues at the start of the live file). Where the filesystem cannot
//!   collapse (not ext4/XFS), it falls back to logrotate(8)'s copy-then-truncate, whose window
//!   between the last copied byte and the truncate can lose lines; the action says which.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// How a live log is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rename; the writer must reopen.
    Rename,
    /// Copy, then cut what was copied out of the live file.
    CopyTruncate,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The rotated file.
    pub to: PathBuf,
    /// Bytes moved into it.
    pub bytes: u64,
    /// `rename`, `collapse_range` or `copy_truncate` (the last has a loss window).
    pub method: &'static str,
}

/// The rotated file's name: `name.YYYYmmddHHMMSS[.N]`, not yet taken (digits only, so it
/// groups with its live file and sorts in rotation order).
pub fn rotated_name(path: &Path) -> PathBuf {
    let stamp = chrono_stamp();
    let mut n = 0;
    loop {
        let mut s = path.as_os_str().to_os_string();
        s.push(format!(".{stamp}"));
        if n > 0 {
            s.push(format!(".{n}"));
        }
        let p = PathBuf::from(s);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

fn chrono_stamp() -> String {
    soak_core::record::Timestamp::now()
        .datetime()
        .format("%Y%m%d%H%M%S")
        .to_string()
}

fn copy_range(src: &mut File, dst: &mut File, from: u64, len: u64) -> io::Result<()> {
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

/// Rotates `path`.
pub fn rotate(path: &Path, mode: Mode) -> io::Result<Rotated> {
    let to = rotated_name(path);
    if mode == Mode::Rename {
        let bytes = fs::metadata(path)?.len();
        fs::rename(path, &to)?;
        return Ok(Rotated {
            to,
            bytes,
            method: "rename",
        });
    }
    let mut live = OpenOptions::new().read(true).write(true).open(path)?;
    let meta = live.metadata()?;
    let block = meta.blksize().max(512);
    // Collapse needs a block multiple that stops short of the end of the file.
    let mut cut = meta.len() - meta.len() % block;
    if cut >= meta.len() {
        cut = cut.saturating_sub(block);
    }
    let mut tmp_name = to.as_os_str().to_os_string();
    tmp_name.push(".rotate-tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut out = File::create(&tmp)?;
    let result = (|| -> io::Result<Rotated> {
        if cut > 0 {
            copy_range(&mut live, &mut out, 0, cut)?;
            out.sync_all()?;
            // SAFETY: fallocate on our own open descriptor; the range is block-aligned and ends
            // before EOF, as COLLAPSE_RANGE requires.
            let rc = unsafe {
                libc::fallocate(
                    live.as_raw_fd(),
                    libc::FALLOC_FL_COLLAPSE_RANGE,
                    0,
                    cut as libc::off_t,
                )
            };
            if rc == 0 {
                live.sync_all()?;
                return Ok(Rotated {
                    to: to.clone(),
                    bytes: cut,
                    method: "collapse_range",
                });
            }
            let err = io::Error::last_os_error();
            if !matches!(
                err.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) | Some(libc::ENOSYS)
            ) {
                return Err(err);
            }
        }
        // Fallback: copy the rest, then truncate (lines written in between are lost).
        let end = live.metadata()?.len();
        copy_range(&mut live, &mut out, cut, end - cut)?;
        out.sync_all()?;
        live.set_len(0)?;
        Ok(Rotated {
            to: to.clone(),
            bytes: end,
            method: "copy_truncate",
        })
    })();
    match result {
        Ok(r) => {
            out.flush()?;
            fs::rename(&tmp, &r.to)?;
            Ok(r)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}
