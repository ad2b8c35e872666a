//! The Windows side of [`super`]: a `LockFileEx` lock on a lock file in the cache (a directory
//! cannot be locked there), and the swap as renames that never replace (`MoveFileExW` without
//! `MOVEFILE_REPLACE_EXISTING`); Windows has no atomic exchange of two directories, so the
//! old copy leaves its name an instant before the new one takes it, under the exclusive lock
//! that readers wait for.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};

use crate::winfs;

/// The lock file inside the cache (hidden: the OSV loader skips dot files).
const LOCK_FILE: &str = ".seccheck-lock";

/// A held lock on the cache's lock file (released when closed).
pub type Lock = File;

/// Locks the cache `dir` through its lock file, shared or exclusive, waiting for it. The lock
/// file is created when missing and never followed when it is a symlink or junction (that is
/// refused).
pub fn lock(dir: &Path, exclusive: bool) -> io::Result<Lock> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(&path)?;
    let meta = file.metadata()?;
    if winfs::is_reparse_point(&meta) || !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file", path.display()),
        ));
    }
    winfs::lock(&file, exclusive)?;
    Ok(file)
}

/// Puts the directory `tmp` (a name in `dir`) at `name`. When `exists`, the copy at `name` is
/// first renamed to `tmp` + `.old`, then `tmp` to `name`, then the old copy to `tmp` (which
/// then holds it, as after an exchange); a failed step puts the old copy back.
pub fn swap_in(dir: &Path, tmp: &Path, name: &str, exists: bool) -> io::Result<()> {
    let (tmp, target) = (dir.join(tmp), dir.join(name));
    if !exists {
        return winfs::rename_no_replace(&tmp, &target);
    }
    let mut old = tmp.clone().into_os_string();
    old.push(".old");
    let old = std::path::PathBuf::from(old);
    winfs::rename_no_replace(&target, &old)?;
    if let Err(e) = winfs::rename_no_replace(&tmp, &target) {
        let _ = winfs::rename_no_replace(&old, &target);
        return Err(e);
    }
    winfs::rename_no_replace(&old, &tmp)
}

/// Creates `path` exclusively (`CREATE_NEW`, never through a symlink or junction).
pub fn create_new(path: &Path) -> io::Result<File> {
    winfs::create_new(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_copy_takes_the_name_and_the_old_one_is_left_in_the_temp() {
        let cache = tempfile::tempdir().expect("tmp");
        let dir = cache.path();
        std::fs::create_dir(dir.join(".tmp-a")).expect("mkdir");
        std::fs::write(dir.join(".tmp-a").join("v"), b"1").expect("write");
        swap_in(dir, Path::new(".tmp-a"), "db", false).expect("place");
        assert_eq!(std::fs::read(dir.join("db").join("v")).expect("read"), b"1");
        assert!(!dir.join(".tmp-a").exists());

        std::fs::create_dir(dir.join(".tmp-b")).expect("mkdir");
        std::fs::write(dir.join(".tmp-b").join("v"), b"2").expect("write");
        swap_in(dir, Path::new(".tmp-b"), "db", true).expect("swap");
        assert_eq!(std::fs::read(dir.join("db").join("v")).expect("read"), b"2");
        assert_eq!(
            std::fs::read(dir.join(".tmp-b").join("v")).expect("old"),
            b"1"
        );

        // Nothing at the name although one was expected: an error, and the new copy stays.
        std::fs::remove_dir_all(dir.join("db")).expect("rm");
        let err = swap_in(dir, Path::new(".tmp-b"), "db", true).expect_err("no copy");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(dir.join(".tmp-b").join("v").exists());
    }

    #[test]
    fn shared_locks_coexist_and_the_lock_file_is_a_plain_file() {
        let cache = tempfile::tempdir().expect("tmp");
        let a = lock(cache.path(), false).expect("shared");
        let b = lock(cache.path(), false).expect("second shared");
        drop((a, b));
        let c = lock(cache.path(), true).expect("exclusive once the readers are gone");
        drop(c);
        assert!(cache.path().join(LOCK_FILE).is_file());
    }
}
