//! Files inside DIR reached only through opened directory handles, never through a symlink.
//!
//! Every path the tool acts on is resolved from the managed directory's own handle one
//! component at a time with `O_NOFOLLOW`, so a directory or file swapped for a symlink between
//! the scan and the action makes the action fail instead of reaching outside. Files the tool
//! creates are created with `O_CREAT|O_EXCL|O_NOFOLLOW` under a random name and moved to their
//! final name with `renameat2(RENAME_NOREPLACE)`: a pre-existing path of either name is never
//! opened, followed or replaced. Inputs are opened with `O_NOFOLLOW|O_NONBLOCK` and must be
//! regular files, so a FIFO put in a file's place cannot block a pass.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{OFlag, RenameFlags, openat, renameat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// The suffix of this tool's temporary files (`.NAME.<16 hex>.logrotate-tmp`).
pub const TMP_SUFFIX: &str = ".logrotate-tmp";

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// An opened directory: the anchor of every `*at` call.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

/// The device and inode of a file, the identity a later action re-checks.
pub type FileId = (u64, u64);

/// True when `st` is a regular file.
pub fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
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
            Errno::ELOOP => {
                io::Error::new(io::ErrorKind::InvalidInput, "is a symlink: never followed")
            }
            e => errno(e),
        })?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file: left alone",
            ));
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
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<FileStat>> {
        match fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    /// Creates a new file with a random name derived from `stem`
    /// (`.STEM.<16 hex>.logrotate-tmp`), exclusively: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600.
    pub fn create_temp(&self, stem: &OsStr) -> io::Result<(OsString, File)> {
        // Keep the name under NAME_MAX (255) whatever the stem's length.
        let stem = &stem.as_bytes()[..stem.len().min(200)];
        for _ in 0..16 {
            let mut name = Vec::with_capacity(stem.len() + 40);
            name.push(b'.');
            name.extend_from_slice(stem);
            name.extend_from_slice(format!(".{:016x}", rand::random::<u64>()).as_bytes());
            name.extend_from_slice(TMP_SUFFIX.as_bytes());
            let name = OsString::from_vec(name);
            match openat(
                self.fd.as_fd(),
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(errno(e)),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary name after 16 random tries",
        ))
    }

    /// Renames `from` to `to` in this directory, failing with `AlreadyExists` when `to` exists
    /// (whatever it is: a file, a symlink, a FIFO); never replaces it.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        match renameat2(
            self.fd.as_fd(),
            from,
            self.fd.as_fd(),
            to,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(()),
            // A filesystem without RENAME_NOREPLACE: a hard link cannot replace either.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
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
            Err(e) => Err(errno(e)),
        }
    }

    /// Removes the directory entry `name` (a symlink itself, never its target).
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir).map_err(errno)
    }

    /// Removes `name` only while it is still the file `id` (not replaced since it was seen).
    pub fn remove_if_same(&self, name: &OsStr, id: FileId) -> io::Result<()> {
        match self.stat(name)? {
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
            Some(st) if (st.st_dev, st.st_ino) != id => Err(io::Error::other(
                "replaced by another file since it was examined; left alone",
            )),
            Some(_) => self.remove(name),
        }
    }

    /// Syncs the filesystem holding this directory.
    pub fn syncfs(&self) -> io::Result<()> {
        nix::unistd::syncfs(self.fd.as_fd()).map_err(errno)
    }
}

/// The directory holding `path` (inside `root`, whose own path is `root_path`), opened
/// component by component without following a symlink, and the file's name in it.
pub fn locate(root: &Path, path: &Path) -> io::Result<(Dir, OsString)> {
    let rel = path.strip_prefix(root).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "outside the managed directory: never touched",
        )
    })?;
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a plain path inside the managed directory",
                ));
            }
        }
    }
    let Some(name) = parts.pop() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the managed directory itself",
        ));
    };
    let mut dir = Dir::open(root)?;
    for p in parts {
        dir = dir.subdir(p)?;
    }
    Ok((dir, name.to_os_string()))
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
    use super::*;

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
