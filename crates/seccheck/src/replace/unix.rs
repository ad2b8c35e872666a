//! The Unix side of [`super`]: `openat`/`renameat` relative to a handle on the directory.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{Mode, fchmod, fstat, fstatat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, unlinkat};

use super::{ReplaceError, first_free};

impl From<Errno> for ReplaceError {
    fn from(e: Errno) -> Self {
        ReplaceError::Io(io::Error::from(e))
    }
}

/// A regular file opened without following a symlink, with its directory's handle.
pub struct Original {
    dir: OwnedFd,
    pub(super) name: OsString,
    pub(super) file: File,
    stat: nix::sys::stat::FileStat,
}

impl Original {
    /// Opens `path` for reading: its directory is opened first and the file relative to it with
    /// `O_NOFOLLOW`, so a symlink at the final component is refused.
    pub fn open(path: &Path) -> Result<Original, ReplaceError> {
        let name = path.file_name().ok_or(ReplaceError::NoName)?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = nix::fcntl::open(
            parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let fd = match openat(
            &dir,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Err(Errno::ELOOP) => return Err(ReplaceError::NotRegular),
            r => r?,
        };
        let stat = fstat(&fd)?;
        if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(ReplaceError::NotRegular);
        }
        Ok(Original {
            dir,
            name: name.to_os_string(),
            file: File::from(fd),
            stat,
        })
    }

    /// Writes the new content with `write` into a fresh temporary file beside the original
    /// (names drawn from `names`), gives it the original's owner and mode, syncs it and renames
    /// it over the original. On any failure the temporary file is removed and the original is
    /// left untouched.
    pub fn replace_with<T>(
        self,
        names: &mut dyn FnMut() -> OsString,
        write: impl FnOnce(&mut File) -> io::Result<T>,
    ) -> Result<T, ReplaceError> {
        let (tmp_name, fd) = self.create_temp(names)?;
        let mut tmp = File::from(fd);
        let done = (|| -> Result<T, ReplaceError> {
            let value = write(&mut tmp)?;
            tmp.flush()?;
            let (uid, gid) = (self.stat.st_uid, self.stat.st_gid);
            let mine = fstat(tmp.as_fd())?;
            if mine.st_uid != uid || mine.st_gid != gid {
                fchown(
                    tmp.as_fd(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                )?;
            }
            fchmod(
                tmp.as_fd(),
                Mode::from_bits_truncate(self.stat.st_mode & 0o7777),
            )?;
            tmp.sync_all()?;
            // The name must still be the file that was read, and that file unchanged (a line
            // appended meanwhile would be lost with the old inode): never replace otherwise.
            let now = fstatat(
                &self.dir,
                self.name.as_os_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
            let read = fstat(self.file.as_fd())?;
            if now.st_dev != self.stat.st_dev
                || now.st_ino != self.stat.st_ino
                || read.st_size != self.stat.st_size
                || (read.st_mtime, read.st_mtime_nsec)
                    != (self.stat.st_mtime, self.stat.st_mtime_nsec)
            {
                return Err(ReplaceError::Changed);
            }
            renameat(
                &self.dir,
                tmp_name.as_os_str(),
                &self.dir,
                self.name.as_os_str(),
            )?;
            fsync(&self.dir)?;
            Ok(value)
        })();
        if done.is_err() {
            let _ = unlinkat(&self.dir, tmp_name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        done
    }

    fn create_temp(
        &self,
        names: &mut dyn FnMut() -> OsString,
    ) -> Result<(OsString, OwnedFd), ReplaceError> {
        first_free(names, |name| {
            match openat(
                &self.dir,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => Ok(Some(fd)),
                Err(Errno::EEXIST) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{TMP_SUFFIX, replace};
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn planted_symlinks_at_the_temp_names_are_never_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("outside");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"precious\n").expect("write");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let target = dir.path().join("app.log");
        std::fs::write(&target, b"old content\n").expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        // The first names the tool will try are all taken by links pointing outside.
        let planted: Vec<OsString> = (0..5)
            .map(|i| format!(".app.log.{i}{TMP_SUFFIX}").into())
            .collect();
        for n in &planted {
            std::os::unix::fs::symlink(&victim, dir.path().join(n)).expect("symlink");
        }
        let mut queue = planted.clone();
        queue.push(".app.log.free.seccheck-tmp".into());
        queue.reverse();
        let mut names = || queue.pop().expect("a name");
        let orig = Original::open(&target).expect("open");
        orig.replace_with(&mut names, |f| f.write_all(b"new content\n"))
            .expect("replace");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious\n");
        let vm = std::fs::metadata(&victim).expect("meta");
        assert_eq!(vm.permissions().mode() & 0o7777, 0o644);
        assert_eq!(std::fs::read(&target).expect("read"), b"new content\n");
        let tm = std::fs::symlink_metadata(&target).expect("meta");
        assert!(tm.file_type().is_file());
        assert_eq!(tm.permissions().mode() & 0o7777, 0o640);
        for n in &planted {
            let p = dir.path().join(n);
            assert!(
                std::fs::symlink_metadata(&p)
                    .expect("link")
                    .file_type()
                    .is_symlink()
            );
        }
        assert!(!dir.path().join(".app.log.free.seccheck-tmp").exists());
    }

    #[test]
    fn a_file_written_to_meanwhile_is_left_as_it_is() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("live.log");
        std::fs::write(&target, b"line 1\n").expect("write");
        let orig = Original::open(&target).expect("open");
        let r = replace(orig, |_, tmp| {
            // the service appends a line while the redacted copy is being written
            let mut live = std::fs::OpenOptions::new().append(true).open(&target)?;
            live.write_all(b"line 2\n")?;
            tmp.write_all(b"[REDACTED]\n")
        });
        assert!(matches!(r, Err(ReplaceError::Changed)), "{r:?}");
        assert_eq!(std::fs::read(&target).expect("read"), b"line 1\nline 2\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "the temporary file is removed");
    }

    #[test]
    fn every_name_taken_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("a.log");
        std::fs::write(&target, b"x\n").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(".taken")).expect("link");
        let mut names = || OsString::from(".taken");
        let orig = Original::open(&target).expect("open");
        let r = orig.replace_with(&mut names, |f| f.write_all(b"y\n"));
        assert!(matches!(r, Err(ReplaceError::NoTempName)), "{r:?}");
        assert_eq!(std::fs::read(&target).expect("read"), b"x\n");
    }

    #[test]
    fn a_symlink_is_not_opened_for_rewriting_and_the_owner_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("l.log")).expect("link");
        assert!(matches!(
            Original::open(&dir.path().join("l.log")),
            Err(ReplaceError::NotRegular)
        ));
        let p = dir.path().join("owned.log");
        std::fs::write(&p, b"a\n").expect("write");
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&p, Some(4321), Some(4322)).expect("chown");
        }
        let before = std::fs::metadata(&p).expect("meta");
        let orig = Original::open(&p).expect("open");
        replace(orig, |_, t| t.write_all(b"b\n")).expect("replace");
        let after = std::fs::metadata(&p).expect("meta");
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        assert_ne!(after.ino(), before.ino(), "a new file was renamed in");
    }
}
