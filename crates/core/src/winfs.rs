//! Windows file primitives beyond std (seccheck's replacement and cache, logrotate's file
//! layer): opening and creating without following a symlink, junction or other reparse point,
//! directories held so they cannot be renamed or replaced while in use, renaming without
//! replacing, and whole-file locks.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::ERROR_SHARING_VIOLATION;
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_LIST_DIRECTORY, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    LOCKFILE_EXCLUSIVE_LOCK, LockFileEx, MOVEFILE_WRITE_THROUGH, MoveFileExW,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// Every sharing mode: a file opened so never blocks a writer, a reader or a rename.
const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Whether `meta` (of a handle opened with [`FILE_FLAG_OPEN_REPARSE_POINT`]) is a reparse
/// point: a symlink, a junction or another redirection.
pub fn is_reparse_point(meta: &std::fs::Metadata) -> bool {
    meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
}

/// Opens `path` itself, never what a symlink or junction there points to, with `access`
/// (0 reads attributes only), sharing everything.
pub fn open_no_follow(path: &Path, access: u32) -> io::Result<File> {
    OpenOptions::new()
        .access_mode(access)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Opens the directory `path` itself (never what a symlink or junction there points to; the
/// caller checks [`is_reparse_point`] on the result) with a handle that shares reading and
/// writing but not deletion: while it is open, nobody can rename, delete or replace the
/// directory, so paths joined under it keep naming what was checked.
pub fn open_dir_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .access_mode(FILE_LIST_DIRECTORY)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Opens `path` itself, file or directory, for its attributes and identity only (no data
/// access, so it conflicts with no other handle), never following a reparse point.
pub fn open_entry(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .access_mode(0)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Opens the regular file `path` itself for reading and writing, sharing nothing (and never
/// following a reparse point): it fails with a sharing violation while any other handle is
/// open on the file, and while it is held nobody else can open the file at all.
pub fn open_exclusive(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .share_mode(0)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Creates `path` for writing with `CREATE_NEW`: it fails with `AlreadyExists` on anything at
/// that name, a symlink or junction included (it is never followed).
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Renames `from` to `to` with `MoveFileExW` *without* `MOVEFILE_REPLACE_EXISTING`: fails with
/// `AlreadyExists` when anything is at `to`; a symlink at `from` is moved, not followed.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let (from_w, to_w) = (wide(from), wide(to));
    // SAFETY: both are NUL-terminated wide strings that outlive the call.
    if unsafe { MoveFileExW(from_w.as_ptr(), to_w.as_ptr(), MOVEFILE_WRITE_THROUGH) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `e` is a sharing violation: another handle on the file does not share the access.
pub fn is_sharing_violation(e: &io::Error) -> bool {
    e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32)
}

/// Takes a lock on the whole of `file` (shared, or exclusive), waiting for it; it is released
/// when the file is closed.
pub fn lock(file: &File, exclusive: bool) -> io::Result<()> {
    let flags = if exclusive {
        LOCKFILE_EXCLUSIVE_LOCK
    } else {
        0
    };
    // SAFETY: an all-zero OVERLAPPED (offset 0, no event) is valid for a synchronous handle;
    // the handle is open for the duration of the call.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle(),
            flags,
            0,
            u32::MAX,
            u32::MAX,
            &mut overlapped,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
