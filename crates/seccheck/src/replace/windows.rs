//! The Windows side of [`super`]: `CREATE_NEW` and `FILE_FLAG_OPEN_REPARSE_POINT` for the
//! temporary file, and two `MoveFileExW` renames that never replace (the original aside, the new
//! file into its name) instead of one rename over the original.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use soak_core::fileinfo::FileId;
use windows_sys::Win32::Foundation::GENERIC_READ;

use super::{ReplaceError, first_free};
use crate::winfs;

/// A regular file opened without following a symlink or junction at its name.
pub struct Original {
    dir: PathBuf,
    pub(super) name: OsString,
    pub(super) file: File,
    id: FileId,
    len: u64,
    modified: Option<SystemTime>,
}

impl Original {
    /// Opens `path` for reading with `FILE_FLAG_OPEN_REPARSE_POINT`, so a symlink or junction
    /// at the final component is opened itself and then refused; it shares reading, writing
    /// and deletion, so the writer of a live log is never blocked by it.
    pub fn open(path: &Path) -> Result<Original, ReplaceError> {
        let name = path.file_name().ok_or(ReplaceError::NoName)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let at = dir.join(name);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) {
            return Err(ReplaceError::NotRegular);
        }
        let file = winfs::open_no_follow(&at, GENERIC_READ)?;
        let meta = file.metadata()?;
        if winfs::is_reparse_point(&meta) || !meta.is_file() {
            return Err(ReplaceError::NotRegular);
        }
        Ok(Original {
            id: FileId::of(&file)?,
            len: meta.len(),
            modified: meta.modified().ok(),
            dir,
            name: name.to_os_string(),
            file,
        })
    }

    /// Writes the new content with `write` into a fresh temporary file beside the original
    /// (names drawn from `names`), gives it the original's read-only attribute, syncs it and
    /// puts it in the original's place: the original is renamed aside (to another drawn name)
    /// and the new file into its name, neither rename replacing anything, then the original is
    /// deleted. On any failure the temporary file is removed and the original is left in place.
    pub fn replace_with<T>(
        self,
        names: &mut dyn FnMut() -> OsString,
        write: impl FnOnce(&mut File) -> io::Result<T>,
    ) -> Result<T, ReplaceError> {
        let (tmp_path, mut tmp) = self.create_temp(names)?;
        let written = (|| -> Result<T, ReplaceError> {
            let value = write(&mut tmp)?;
            tmp.flush()?;
            tmp.sync_all()?;
            Ok(value)
        })();
        drop(tmp);
        let done = written.and_then(|value| {
            self.swap_in(&tmp_path, names)?;
            Ok(value)
        });
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp_path);
        }
        done
    }

    /// Whether the file at `path` (not followed) is the one that was read.
    fn is_ours(&self, path: &Path) -> io::Result<bool> {
        let now = winfs::open_no_follow(path, 0)?;
        Ok(!winfs::is_reparse_point(&now.metadata()?) && FileId::of(&now)? == self.id)
    }

    /// Puts `tmp_path` in the original's place (see [`Original::replace_with`]).
    fn swap_in(
        &self,
        tmp_path: &Path,
        names: &mut dyn FnMut() -> OsString,
    ) -> Result<(), ReplaceError> {
        let original = self.dir.join(&self.name);
        // The name must still be the file that was read, and that file unchanged (a line
        // appended meanwhile would be lost with it): never replace otherwise.
        let meta = self.file.metadata()?;
        if !self.is_ours(&original)?
            || meta.len() != self.len
            || meta.modified().ok() != self.modified
        {
            return Err(ReplaceError::Changed);
        }
        let aside = self.rename_aside(&original, names)?;
        // Between the check and the rename another file may have been put at the name: if
        // that is what went aside, it goes back and nothing is replaced.
        if !self.is_ours(&aside)? {
            winfs::rename_no_replace(&aside, &original)?;
            return Err(ReplaceError::Changed);
        }
        if let Err(e) = winfs::rename_no_replace(tmp_path, &original) {
            // Something appeared at the name after the original left it: the original goes
            // back when it can, and is kept aside (said so) when it cannot.
            return Err(match winfs::rename_no_replace(&aside, &original) {
                Ok(()) => e.into(),
                Err(back) => ReplaceError::Io(io::Error::new(
                    back.kind(),
                    format!("{e}; the original is kept as {} ({back})", aside.display()),
                )),
            });
        }
        // A read-only original can be renamed but not deleted: the attribute moves to the new
        // file (the temporary one stayed writable so a failure could remove it).
        let perms = self.file.metadata()?.permissions();
        if perms.readonly() {
            std::fs::set_permissions(&original, perms)?;
            clear_read_only(&aside)?;
        }
        std::fs::remove_file(&aside)?;
        Ok(())
    }

    /// Renames the original to a free drawn name beside it, never replacing anything.
    fn rename_aside(
        &self,
        original: &Path,
        names: &mut dyn FnMut() -> OsString,
    ) -> Result<PathBuf, ReplaceError> {
        let (name, ()) = first_free(names, |name| {
            match winfs::rename_no_replace(original, &self.dir.join(name)) {
                Ok(()) => Ok(Some(())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                Err(e) if winfs::is_sharing_violation(&e) => Err(ReplaceError::HeldOpen),
                Err(e) => Err(e.into()),
            }
        })?;
        Ok(self.dir.join(name))
    }

    fn create_temp(
        &self,
        names: &mut dyn FnMut() -> OsString,
    ) -> Result<(PathBuf, File), ReplaceError> {
        let (name, file) = first_free(names, |name| {
            let path = self.dir.join(name);
            match winfs::create_new(&path) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                // A directory at the name is reported as access denied.
                Err(_) if std::fs::symlink_metadata(&path).is_ok() => Ok(None),
                Err(e) => Err(e.into()),
            }
        })?;
        Ok((self.dir.join(name), file))
    }
}

/// Clears the read-only attribute of `path` (Windows: the only thing `set_readonly` changes).
#[allow(clippy::permissions_set_readonly_false)]
fn clear_read_only(path: &Path) -> io::Result<()> {
    let mut perms = std::fs::symlink_metadata(path)?.permissions();
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms)
}

#[cfg(test)]
mod tests {
    use super::super::replace;
    use super::*;
    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Storage::FileSystem::{FILE_SHARE_READ, FILE_SHARE_WRITE};

    fn names_from(mut list: Vec<&str>) -> impl FnMut() -> OsString {
        list.reverse();
        move || OsString::from(list.pop().expect("a name"))
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_taken_by_files_or_directories_are_passed_over_and_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("app.log");
        std::fs::write(&target, b"old content\r\n").expect("write");
        std::fs::write(dir.path().join(".taken-file"), b"precious\r\n").expect("write");
        std::fs::create_dir(dir.path().join(".taken-dir")).expect("mkdir");
        let mut names = names_from(vec![".taken-file", ".taken-dir", ".free", ".aside"]);
        let orig = Original::open(&target).expect("open");
        orig.replace_with(&mut names, |f| f.write_all(b"new content\r\n"))
            .expect("replace");
        assert_eq!(std::fs::read(&target).expect("read"), b"new content\r\n");
        assert_eq!(
            std::fs::read(dir.path().join(".taken-file")).expect("read"),
            b"precious\r\n"
        );
        assert!(dir.path().join(".taken-dir").is_dir());
        assert_eq!(
            entries(dir.path()),
            [".taken-dir", ".taken-file", "app.log"]
        );
    }

    #[test]
    fn a_read_only_original_is_replaced_and_stays_read_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("ro.log");
        std::fs::write(&target, b"key=abc\r\n").expect("write");
        let mut perms = std::fs::metadata(&target).expect("meta").permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&target, perms).expect("read-only");
        let orig = Original::open(&target).expect("open");
        replace(orig, |_, tmp| tmp.write_all(b"key=[REDACTED]\r\n")).expect("replace");
        assert_eq!(std::fs::read(&target).expect("read"), b"key=[REDACTED]\r\n");
        assert!(
            std::fs::metadata(&target)
                .expect("meta")
                .permissions()
                .readonly()
        );
        assert_eq!(
            entries(dir.path()),
            ["ro.log"],
            "the original aside is deleted"
        );
        clear_read_only(&target).expect("writable again for the cleanup");
    }

    #[test]
    fn every_name_taken_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("a.log");
        std::fs::write(&target, b"x\n").expect("write");
        std::fs::write(dir.path().join(".taken"), b"t\n").expect("write");
        let mut names = || OsString::from(".taken");
        let orig = Original::open(&target).expect("open");
        let r = orig.replace_with(&mut names, |f| f.write_all(b"y\n"));
        assert!(matches!(r, Err(ReplaceError::NoTempName)), "{r:?}");
        assert_eq!(std::fs::read(&target).expect("read"), b"x\n");
        assert_eq!(
            std::fs::read(dir.path().join(".taken")).expect("read"),
            b"t\n"
        );
    }

    #[test]
    fn a_file_written_to_meanwhile_is_left_as_it_is() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("live.log");
        std::fs::write(&target, b"line 1\r\n").expect("write");
        let orig = Original::open(&target).expect("open");
        let r = replace(orig, |_, tmp| {
            // the service appends a line while the redacted copy is being written
            let mut live = std::fs::OpenOptions::new().append(true).open(&target)?;
            live.write_all(b"line 2\r\n")?;
            tmp.write_all(b"[REDACTED]\r\n")
        });
        assert!(matches!(r, Err(ReplaceError::Changed)), "{r:?}");
        assert_eq!(
            std::fs::read(&target).expect("read"),
            b"line 1\r\nline 2\r\n"
        );
        assert_eq!(
            entries(dir.path()),
            ["live.log"],
            "the temporary file is removed"
        );
    }

    /// A writer that opened its log without `FILE_SHARE_DELETE` (as the C runtime's `fopen`
    /// and Python's `open` do) keeps the file from being renamed: seccheck says so and leaves
    /// it; a writer that shares deletion (as Rust's std does) does not stop the rewrite.
    #[test]
    fn a_file_held_open_without_sharing_deletion_is_left_as_it_is() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("held.log");
        std::fs::write(&target, b"secret line\r\n").expect("write");
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
            .open(&target)
            .expect("writer");
        let orig = Original::open(&target).expect("open while held");
        let r = replace(orig, |_, tmp| tmp.write_all(b"[REDACTED]\r\n"));
        assert!(matches!(r, Err(ReplaceError::HeldOpen)), "{r:?}");
        assert_eq!(std::fs::read(&target).expect("read"), b"secret line\r\n");
        assert_eq!(
            entries(dir.path()),
            ["held.log"],
            "the temporary file is removed"
        );
        drop(writer);

        let sharing = std::fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .expect("sharing writer");
        let orig = Original::open(&target).expect("open");
        replace(orig, |_, tmp| tmp.write_all(b"[REDACTED]\r\n")).expect("replace");
        drop(sharing);
        assert_eq!(std::fs::read(&target).expect("read"), b"[REDACTED]\r\n");
        assert_eq!(entries(dir.path()), ["held.log"]);
    }

    #[test]
    fn a_symlink_or_directory_is_not_opened_for_rewriting() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("d.log")).expect("mkdir");
        assert!(matches!(
            Original::open(&dir.path().join("d.log")),
            Err(ReplaceError::NotRegular)
        ));
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"precious\r\n").expect("write");
        let link = dir.path().join("l.log");
        // Creating a symlink needs a privilege (or developer mode) on Windows.
        if let Err(e) = std::os::windows::fs::symlink_file(&victim, &link) {
            eprintln!("skipping the symlink half: cannot create a symlink here: {e}");
            return;
        }
        if !std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
            // wine 8 reports success and makes nothing
            eprintln!("skipping the symlink half: symlink creation made no symlink here");
            return;
        }
        assert!(matches!(
            Original::open(&link),
            Err(ReplaceError::NotRegular)
        ));
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious\r\n");
    }
}
