//! The Unix side of [`super`]: `*at` calls relative to an opened directory's descriptor.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::{FileId, Kind, Stat, is_link, not_regular};

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// An opened directory: the anchor of every `*at` call.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

/// The modification time of a stat result.
fn modified(st: &FileStat) -> Option<SystemTime> {
    let nanos = u32::try_from(st.st_mtime_nsec).ok()?;
    match u64::try_from(st.st_mtime) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(st.st_mtime.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos))),
    }
}

impl From<&FileStat> for Stat {
    // dev_t is u64 on Linux and i32 on macOS; `as` widens it the way std's MetadataExt::dev
    // does, so both identities of one file agree.
    #[allow(clippy::unnecessary_cast)]
    fn from(st: &FileStat) -> Stat {
        let kind = match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFREG => Kind::Regular,
            SFlag::S_IFDIR => Kind::Directory,
            _ => Kind::Other,
        };
        Stat {
            id: FileId::from_dev_ino(st.st_dev as u64, st.st_ino as u64),
            len: u64::try_from(st.st_size).unwrap_or(0),
            modified: modified(st),
            kind,
        }
    }
}

impl Dir {
    /// Opens a directory given by the user (already canonical): its last component must not
    /// be a symlink.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Dir { fd })
    }

    /// Opens the subdirectory `name` (one component, not a symlink).
    pub fn subdir(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Dir { fd })
    }

    fn open_regular(&self, name: &OsStr, access: OFlag) -> io::Result<File> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            access | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::ELOOP => is_link(),
            e => errno(e),
        })?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(not_regular());
        }
        Ok(file)
    }

    /// Opens the regular file `name` for reading (never a symlink, FIFO or device).
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        self.open_regular(name, OFlag::O_RDONLY)
    }

    /// Opens the regular file `name` for reading and writing (never a symlink, FIFO or
    /// device).
    pub fn open_read_write(&self, name: &OsStr) -> io::Result<File> {
        self.open_regular(name, OFlag::O_RDWR)
    }

    /// `lstat` of `name`: `None` when nothing has that name.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(Some(Stat::from(&st))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    /// Creates the file `name` with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600.
    pub(super) fn create_new(&self, name: &OsStr) -> io::Result<File> {
        openat(
            self.fd.as_fd(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map(File::from)
        .map_err(errno)
    }

    /// Renames `from` to `to` in this directory, failing with `AlreadyExists` when `to` exists
    /// (whatever it is: a file, a symlink, a FIFO); never replaces it.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        match nix::fcntl::renameat2(
            self.fd.as_fd(),
            from,
            self.fd.as_fd(),
            to,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => return Ok(()),
            // A filesystem without RENAME_NOREPLACE: a hard link cannot replace either.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(errno(e)),
        }
        nix::unistd::linkat(
            self.fd.as_fd(),
            from,
            self.fd.as_fd(),
            to,
            nix::fcntl::AtFlags::empty(),
        )
        .map_err(errno)?;
        self.remove(from)
    }

    /// Removes the directory entry `name` (a symlink itself, never its target).
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir).map_err(errno)
    }

    /// Makes everything written on the filesystem holding this directory durable (`syncfs`).
    pub fn sync_volume(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        return nix::unistd::syncfs(self.fd.as_fd()).map_err(errno);
        #[cfg(not(target_os = "linux"))]
        {
            nix::unistd::sync();
            Ok(())
        }
    }
}

/// A file written by this tool is made durable by the batch's [`Dir::sync_volume`]: nothing to
/// do per file.
pub fn durable(_file: &File) -> io::Result<()> {
    Ok(())
}

/// The identity of the file whose `lstat` is `meta`.
pub fn file_id(_path: &Path, meta: &std::fs::Metadata) -> io::Result<FileId> {
    Ok(FileId::from_dev_ino(meta.dev(), meta.ino()))
}

/// The directory as given by the user, made absolute with every link resolved.
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    path.canonicalize()
}

/// Gives `file` the owner, group and permission bits of `like` (a file the tool replaces).
/// Fails when the owner cannot be given (not root and not the owner): the caller then keeps
/// the original instead of leaving a copy with other rights.
pub fn copy_owner_and_mode(file: &File, like: &std::fs::Metadata) -> io::Result<()> {
    let mine = file.metadata()?;
    if (mine.uid(), mine.gid()) != (like.uid(), like.gid()) {
        std::os::unix::fs::fchown(file, Some(like.uid()), Some(like.gid())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot give the new file the original's owner {}:{} ({e}); original kept",
                    like.uid(),
                    like.gid()
                ),
            )
        })?;
    }
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(like.mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::super::{TMP_SUFFIX, locate};
    use std::ffi::OsStr;
    use std::io;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn temp_names_are_exclusive_and_renames_never_replace() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().canonicalize().expect("canon");
        let outside = tempfile::NamedTempFile::new().expect("outside");
        std::fs::write(outside.path(), "victim").expect("w");
        std::os::unix::fs::symlink(outside.path(), root.join("a.gz")).expect("link");
        std::fs::write(root.join("a"), "data").expect("w");
        let (dir, name) = locate(&root, &root.join("a")).expect("locate");
        let (tmp_name, _f) = dir.create_temp(&name).expect("temp");
        assert!(tmp_name.as_bytes().ends_with(TMP_SUFFIX.as_bytes()));
        let err = dir
            .rename_noreplace(&tmp_name, OsStr::new("a.gz"))
            .expect_err("a symlink is there");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(outside.path()).expect("r"), b"victim");
        assert!(dir.open_read(OsStr::new("a.gz")).is_err(), "never followed");
        // A symlinked directory on the way is not followed either.
        std::os::unix::fs::symlink(tmp.path().parent().expect("p"), root.join("up")).expect("link");
        assert!(locate(&root, &root.join("up/x")).is_err());
    }
}
