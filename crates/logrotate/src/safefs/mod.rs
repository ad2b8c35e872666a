//! Files inside DIR reached only through held directory handles, never through a symlink.
//!
//! Every path the tool acts on is resolved from the managed directory one component at a time,
//! each directory opened (and held) without following a symlink or junction, so a directory or
//! file swapped for a link between the scan and the action makes the action fail instead of
//! reaching outside. Files the tool creates are created exclusively under a random name and
//! moved to their final name with a rename that never replaces: a pre-existing path of either
//! name is never opened, followed or replaced. Inputs must be regular files.
//!
//! - Unix (`unix`): `openat`/`renameat2(RENAME_NOREPLACE)`/`unlinkat` relative to the
//!   directory's descriptor, `O_NOFOLLOW|O_NONBLOCK` (a FIFO in a file's place cannot block a
//!   pass), `O_CREAT|O_EXCL|O_NOFOLLOW` mode 0600 for new files, one `syncfs` per batch.
//! - Windows (`windows`): each directory on the way is opened with
//!   `FILE_FLAG_OPEN_REPARSE_POINT` and held without `FILE_SHARE_DELETE`, so it can be neither
//!   a symlink or junction nor renamed or replaced while held, and names are joined under it;
//!   new files are created with `CREATE_NEW` (never following a reparse point), renames are
//!   `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`, and each new file is flushed before it
//!   replaces anything (Windows has no per-volume sync for an unprivileged process).

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path};
use std::time::SystemTime;

pub use soak_core::fileinfo::FileId;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{Dir, canonical, copy_owner_and_mode, durable, file_id};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{Dir, canonical, copy_owner_and_mode, durable, file_id};

/// The suffix of this tool's temporary files (`.NAME.<16 hex>.logrotate-tmp`).
pub const TMP_SUFFIX: &str = ".logrotate-tmp";

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    Regular,
    /// A directory (never a link to one).
    Directory,
    /// A symlink, junction, FIFO, socket or device.
    Other,
}

/// What the tool needs to know of a directory entry, read without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Which file it is.
    pub id: FileId,
    /// Its length in bytes.
    pub len: u64,
    /// Its last modification, when the OS gives it.
    pub modified: Option<SystemTime>,
    /// What it is.
    pub kind: Kind,
}

impl Stat {
    /// True for a regular file.
    pub fn is_regular(&self) -> bool {
        self.kind == Kind::Regular
    }

    /// True for a directory (not a link to one).
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Directory
    }
}

/// The name of a temporary file for `stem`: `.STEM.<16 hex>.logrotate-tmp`, the stem cut so
/// the name stays under the 255-unit limit of names on every OS.
fn temp_name(stem: &OsStr) -> OsString {
    let mut name = OsString::from(".");
    name.push(shortened(stem, 200));
    name.push(format!(".{:016x}{TMP_SUFFIX}", rand::random::<u64>()));
    name
}

#[cfg(unix)]
fn shortened(stem: &OsStr, max: usize) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(&stem.as_bytes()[..stem.len().min(max)]).to_os_string()
}

#[cfg(windows)]
fn shortened(stem: &OsStr, max: usize) -> OsString {
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    OsString::from_wide(&stem.encode_wide().take(max).collect::<Vec<u16>>())
}

/// An I/O error as the reason an action was not done: on Windows a sharing violation says
/// that another process holds the file.
pub fn why(e: &io::Error) -> String {
    #[cfg(windows)]
    if soak_core::winfs::is_sharing_violation(e) {
        return "held open by another process that does not share it (sharing violation)".into();
    }
    e.to_string()
}

/// The error for a name taken by something that is not a regular file.
fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file: left alone",
    )
}

/// The error for a link where a file or directory was expected.
fn is_link() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "is a symlink: never followed")
}

impl Dir {
    /// Creates a new file with a random name derived from `stem`
    /// (`.STEM.<16 hex>.logrotate-tmp`), exclusively, never through a link.
    pub fn create_temp(&self, stem: &OsStr) -> io::Result<(OsString, std::fs::File)> {
        for _ in 0..16 {
            let name = temp_name(stem);
            match self.create_new(&name) {
                Ok(file) => return Ok((name, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary name after 16 random tries",
        ))
    }

    /// Removes `name` only while it is still the file `id` (not replaced since it was seen).
    pub fn remove_if_same(&self, name: &OsStr, id: FileId) -> io::Result<()> {
        match self.stat(name)? {
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
            Some(st) if st.id != id => Err(io::Error::other(
                "replaced by another file since it was examined; left alone",
            )),
            Some(_) => self.remove(name),
        }
    }
}

/// The directory holding `path` (inside `root`), opened component by component without
/// following a symlink, and the file's name in it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_distinct_short_and_marked() {
        let long: OsString = "x".repeat(300).into();
        let a = temp_name(&long);
        let b = temp_name(&long);
        assert_ne!(a, b);
        let text = a.to_string_lossy();
        assert!(
            text.starts_with('.') && text.ends_with(TMP_SUFFIX),
            "{text}"
        );
        assert!(text.len() < 255, "{}", text.len());
    }

    #[test]
    fn paths_outside_or_not_plain_are_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = canonical(tmp.path()).expect("canon");
        let outside = root.parent().expect("parent").join("elsewhere.log");
        assert!(locate(&root, &outside).is_err());
        assert!(locate(&root, &root.join("..").join("x")).is_err());
        assert!(locate(&root, &root).is_err());
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        let (dir, name) = locate(&root, &root.join("sub").join("a.log")).expect("inside");
        assert_eq!(name, "a.log");
        assert_eq!(dir.stat(&name).expect("stat"), None);
    }
}
