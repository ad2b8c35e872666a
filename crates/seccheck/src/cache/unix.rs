//! The Unix side of [`super`]: `flock` on the cache directory opened with `O_NOFOLLOW`, and
//! one `renameat2` (Linux) or `renameatx_np` (macOS) relative to it: an atomic exchange, or a
//! no-replace rename, through rustix's `renameat_with`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};
use rustix::fs::{RenameFlags, renameat_with};

/// A held `flock` on the cache directory.
pub type Lock = Flock<File>;

/// The cache directory, opened without following a symlink.
fn open_dir(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
}

/// Locks the cache directory `dir`, shared or exclusive, waiting for it.
pub fn lock(dir: &Path, exclusive: bool) -> io::Result<Lock> {
    let arg = if exclusive {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockShared
    };
    Flock::lock(open_dir(dir)?, arg).map_err(|(_, e)| io::Error::from(e))
}

/// Puts the directory `tmp` (a name in `dir`) at `name`: exchanged with the copy there when
/// `exists` (`tmp` then holds the old copy), renamed without replacing otherwise.
pub fn swap_in(dir: &Path, tmp: &Path, name: &str, exists: bool) -> io::Result<()> {
    let dirfd = open_dir(dir)?;
    let flags = if exists {
        RenameFlags::EXCHANGE
    } else {
        RenameFlags::NOREPLACE
    };
    renameat_with(&dirfd, tmp, &dirfd, name, flags).map_err(io::Error::from)
}

/// Creates `path` exclusively (`O_EXCL|O_NOFOLLOW`): never through a planted path.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}
