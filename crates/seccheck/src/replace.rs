//! Replacing a file's content in place without ever writing through a planted path.
//!
//! The new content goes to a temporary file created exclusively under a random name beside the
//! original (never through a symlink or reparse point: a name already taken, whatever is there,
//! is passed over and another random name drawn). It is synced and put in the original's place
//! only if the original's name still refers to the file that was read, unchanged.
//!
//! - Unix ([`unix`]): the temporary file is made with `O_CREAT|O_EXCL|O_NOFOLLOW` relative to a
//!   handle on the directory, given the original's owner and mode, and renamed over it.
//! - Windows ([`windows`]): the temporary file is made with `CREATE_NEW` and
//!   `FILE_FLAG_OPEN_REPARSE_POINT`; the original is renamed aside and the new file into its
//!   name with `MoveFileExW` *without* `MOVEFILE_REPLACE_EXISTING`, so nothing that appeared at
//!   either name meanwhile is replaced. A file another process holds open without sharing
//!   deletion (as most Windows programs open their logs) cannot be renamed: it is left as it is
//!   and said so ([`ReplaceError::HeldOpen`]).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::Original;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::Original;

/// Suffix of every temporary file seccheck creates.
pub const TMP_SUFFIX: &str = ".seccheck-tmp";

/// How many random names are tried before giving up.
const ATTEMPTS: usize = 16;

/// Why a file could not be replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// The path has no file name or no parent directory to work in.
    #[error("not a file inside a directory")]
    NoName,
    /// The original is a symlink or not a regular file: it is not rewritten.
    #[error("not a regular file (a symlink or special file is never rewritten)")]
    NotRegular,
    /// The original was replaced, or written to, while it was being rewritten.
    #[error(
        "changed while it was being rewritten (replaced or still being written); left as it is"
    )]
    Changed,
    /// Another process holds the file open without sharing deletion (Windows): it cannot be
    /// renamed, so it is not replaced.
    #[error(
        "held open by another process that does not share it for renaming; left as it is (stop the writer, then run again)"
    )]
    HeldOpen,
    /// Every random temporary name was taken.
    #[error("no free temporary name after {ATTEMPTS} tries")]
    NoTempName,
    /// A system call failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Original {
    /// The opened file, for reading.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's name in its directory.
    pub fn name(&self) -> &OsStr {
        &self.name
    }
}

/// Tries names drawn from `names` until `attempt` succeeds with one (`Ok(Some)`) or fails;
/// `Ok(None)` means the name is taken (by anything: it is left alone) and another is drawn.
fn first_free<T>(
    names: &mut dyn FnMut() -> OsString,
    mut attempt: impl FnMut(&OsStr) -> Result<Option<T>, ReplaceError>,
) -> Result<(OsString, T), ReplaceError> {
    for _ in 0..ATTEMPTS {
        let name = names();
        if let Some(done) = attempt(&name)? {
            return Ok((name, done));
        }
    }
    Err(ReplaceError::NoTempName)
}

/// Replaces the content of the opened original with what `write` produces from it (see
/// [`Original::replace_with`]), under random temporary names `.NAME.<16 hex>.seccheck-tmp`.
pub fn replace<T>(
    original: Original,
    write: impl FnOnce(&File, &mut File) -> io::Result<T>,
) -> Result<T, ReplaceError> {
    let mut prefix = OsString::from(".");
    prefix.push(original.name());
    let mut names = || {
        let mut n = prefix.clone();
        n.push(format!(".{:016x}{TMP_SUFFIX}", rand::random::<u64>()));
        n
    };
    let src = original.file().try_clone()?;
    original.replace_with(&mut names, |tmp| write(&src, tmp))
}
