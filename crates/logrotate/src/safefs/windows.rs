//! The Windows side of [`super`]: held directory handles and names joined under them.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use soak_core::winfs;
use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE};

use super::{FileId, Kind, Stat, is_link, not_regular};

/// An opened directory, held so that it cannot be renamed, deleted or replaced by a link
/// while this value lives (no `FILE_SHARE_DELETE`); names are joined under its path.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    _held: File,
}

fn not_a_directory() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a directory: left alone")
}

impl Dir {
    /// Opens a directory given by the user (already canonical): it must not be a symlink or
    /// junction itself.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let held = winfs::open_dir_no_follow(path)?;
        let meta = held.metadata()?;
        if winfs::is_reparse_point(&meta) {
            return Err(is_link());
        }
        if !meta.is_dir() {
            return Err(not_a_directory());
        }
        Ok(Dir {
            path: path.to_path_buf(),
            _held: held,
        })
    }

    /// Opens the subdirectory `name` (one component, not a symlink or junction).
    pub fn subdir(&self, name: &OsStr) -> io::Result<Dir> {
        Dir::open(&self.path.join(name))
    }

    fn open_regular(&self, name: &OsStr, access: u32) -> io::Result<File> {
        let file = winfs::open_no_follow(&self.path.join(name), access)?;
        let meta = file.metadata()?;
        if winfs::is_reparse_point(&meta) {
            return Err(is_link());
        }
        if !meta.is_file() {
            return Err(not_regular());
        }
        Ok(file)
    }

    /// Opens the regular file `name` for reading (never a symlink or junction), sharing
    /// everything: a writer is never blocked by it.
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        self.open_regular(name, GENERIC_READ)
    }

    /// Opens the regular file `name` for reading and writing (never a symlink or junction),
    /// sharing everything. Fails with a sharing violation when another process holds it
    /// without sharing writes.
    pub fn open_read_write(&self, name: &OsStr) -> io::Result<File> {
        self.open_regular(name, GENERIC_READ | GENERIC_WRITE)
    }

    /// Opens the regular file `name` for reading and writing with no sharing at all, so that
    /// nobody else can write to it (or open it) while it is held; `None` when another process
    /// has it open (a sharing violation).
    pub fn open_exclusive(&self, name: &OsStr) -> io::Result<Option<File>> {
        let file = match winfs::open_exclusive(&self.path.join(name)) {
            Ok(f) => f,
            Err(e) if winfs::is_sharing_violation(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if winfs::is_reparse_point(&meta) {
            return Err(is_link());
        }
        if !meta.is_file() {
            return Err(not_regular());
        }
        Ok(Some(file))
    }

    /// What `name` is, read from the entry itself (a symlink or junction is not followed):
    /// `None` when nothing has that name.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        let entry = match winfs::open_entry(&self.path.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = entry.metadata()?;
        let kind = if winfs::is_reparse_point(&meta) {
            Kind::Other
        } else if meta.is_dir() {
            Kind::Directory
        } else if meta.is_file() {
            Kind::Regular
        } else {
            Kind::Other
        };
        Ok(Some(Stat {
            id: FileId::of(&entry)?,
            len: meta.len(),
            modified: meta.modified().ok(),
            kind,
        }))
    }

    /// Creates the file `name` with `CREATE_NEW`, never through a reparse point.
    pub(super) fn create_new(&self, name: &OsStr) -> io::Result<File> {
        winfs::create_new(&self.path.join(name))
    }

    /// Renames `from` to `to` in this directory, failing with `AlreadyExists` when `to` exists
    /// (whatever it is); never replaces it. A link at `from` is moved, not followed.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        winfs::rename_no_replace(&self.path.join(from), &self.path.join(to))
    }

    /// Removes the directory entry `name` (a symlink itself, never its target). Fails with a
    /// sharing violation when another process holds the file without sharing deletion.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    /// Nothing to do: every file this tool writes is flushed by [`durable`] before it
    /// replaces anything (Windows gives an unprivileged process no per-volume sync).
    pub fn sync_volume(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Flushes a file this tool wrote to disk (`FlushFileBuffers`) before it takes the place of
/// anything.
pub fn durable(file: &File) -> io::Result<()> {
    file.sync_all()
}

/// The identity of the file at `path` (opened briefly, sharing everything, without following
/// a link).
pub fn file_id(path: &Path, _meta: &std::fs::Metadata) -> io::Result<FileId> {
    FileId::of(&winfs::open_entry(path)?)
}

/// The directory as given by the user, made absolute with every link resolved, in its plain
/// form (`C:\logs`, `\\server\share\logs`) rather than the verbatim `\\?\` one: paths joined
/// under it read as the user wrote them, and std adds the prefix where a path is too long.
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    let canon = path.canonicalize()?;
    let text = canon.as_os_str().to_string_lossy();
    let plain = if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = text.strip_prefix(r"\\?\") {
        rest.to_string()
    } else {
        return Ok(canon);
    };
    // Only when the plain form is valid text naming the same thing (not a name Win32 would
    // read otherwise, such as one ending in a dot or space).
    let plain = PathBuf::from(plain);
    if canon.to_str().is_some() && plain.canonicalize().is_ok_and(|c| c == canon) {
        Ok(plain)
    } else {
        Ok(canon)
    }
}

/// New files are given the original's read-only attribute at most; their owner and access
/// rights are the directory's inherited ones, as for a file the service itself creates.
pub fn copy_owner_and_mode(file: &File, like: &std::fs::Metadata) -> io::Result<()> {
    let _ = (file, like);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::locate;
    use super::*;

    #[test]
    fn paths_are_plain_and_a_held_directory_cannot_be_renamed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = canonical(tmp.path()).expect("canon");
        assert!(
            !root.as_os_str().to_string_lossy().starts_with(r"\\?\"),
            "{root:?}"
        );
        std::fs::create_dir(root.join("run1")).expect("mkdir");
        std::fs::write(root.join("run1").join("a.log"), b"a\r\n").expect("write");
        let (dir, name) = locate(&root, &root.join("run1").join("a.log")).expect("locate");
        let st = dir.stat(&name).expect("stat").expect("there");
        assert!(st.is_regular());
        assert_eq!(st.len, 3);
        // Held: the directory cannot be moved away (and something else put in its place).
        let moved = std::fs::rename(root.join("run1"), root.join("run2"));
        assert!(moved.is_err(), "a held directory was renamed");
        drop(dir);
        std::fs::rename(root.join("run1"), root.join("run2")).expect("released");
    }
}
