//! Facts about files that each OS spells differently: which file a path names right now
//! ([`FileId`], to see a log rotated away under its reader), positional reads
//! ([`read_exact_at`]) and whether a path is a device or socket rather than data
//! ([`is_device_or_socket`]).

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// Identifies one file on one volume while it exists: device and inode on Unix, volume serial
/// number and file index on Windows. A rename keeps it; a new file at the same name gets
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    volume: u64,
    index: u64,
}

impl FileId {
    /// The identity of an open file.
    pub fn of(file: &File) -> io::Result<FileId> {
        #[cfg(unix)]
        return Ok(Self::from_meta(&file.metadata()?));
        #[cfg(windows)]
        windows::file_id(file)
    }

    /// The identity and metadata of the file `path` names now (following symlinks).
    /// On Windows this opens the file briefly, sharing read, write and delete, so a writer or
    /// a rotation is never blocked by it.
    pub fn at(path: &Path) -> io::Result<(FileId, Metadata)> {
        #[cfg(unix)]
        {
            let meta = std::fs::metadata(path)?;
            Ok((Self::from_meta(&meta), meta))
        }
        #[cfg(windows)]
        {
            let file = File::open(path)?;
            Ok((windows::file_id(&file)?, file.metadata()?))
        }
    }

    /// The volume the file is on (the device on Unix, the volume serial number on Windows):
    /// files with the same volume share one filesystem.
    pub fn volume(&self) -> u64 {
        self.volume
    }

    /// The identity of a Unix file from its device and inode (as `fstatat(2)` gives them).
    #[cfg(unix)]
    pub fn from_dev_ino(dev: u64, ino: u64) -> FileId {
        FileId {
            volume: dev,
            index: ino,
        }
    }

    #[cfg(unix)]
    fn from_meta(meta: &Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            volume: meta.dev(),
            index: meta.ino(),
        }
    }
}

/// How many names (hard links) an open file has: cutting or rewriting it in place changes
/// every one of them, some maybe outside the directory at hand.
pub fn link_count(file: &File) -> io::Result<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(file.metadata()?.nlink())
    }
    #[cfg(windows)]
    Ok(u64::from(windows::info(file)?.nNumberOfLinks))
}

/// Reads exactly `buf.len()` bytes at `offset` (`UnexpectedEof` if the file is shorter).
/// The file position does not move on Unix; on Windows it does.
#[cfg(unix)]
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset` (`UnexpectedEof` if the file is shorter).
/// The file position does not move on Unix; on Windows it does.
#[cfg(windows)]
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A character or block device or a socket: never a recording or a log (`/dev/zero` never
/// ends). Windows paths to devices (`NUL`, `COM1`) do not report a file type, so this is
/// false there.
pub fn is_device_or_socket(meta: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        t.is_char_device() || t.is_block_device() || t.is_socket()
    }
    #[cfg(windows)]
    {
        let _ = meta;
        false
    }
}

#[cfg(windows)]
mod windows {
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;

    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle,
    };

    use super::FileId;

    pub fn info(file: &File) -> io::Result<BY_HANDLE_FILE_INFORMATION> {
        // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is valid; the handle is open for
        // the duration of the call and the out pointer is to a local.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(info)
    }

    pub fn file_id(file: &File) -> io::Result<FileId> {
        let info = info(file)?;
        Ok(FileId {
            volume: u64::from(info.dwVolumeSerialNumber),
            index: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_rename_keeps_the_identity_and_a_new_file_gets_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, b"first\n").expect("write");
        let (before, meta) = FileId::at(&log).expect("id");
        assert_eq!(meta.len(), 6);
        let open = File::open(&log).expect("open");
        assert_eq!(FileId::of(&open).expect("id of open"), before);
        assert_eq!(link_count(&open).expect("links"), 1);
        drop(open);
        std::fs::rename(&log, dir.path().join("app.log.1")).expect("rename");
        std::fs::write(&log, b"second\n").expect("write new");
        assert_eq!(
            FileId::at(&dir.path().join("app.log.1")).expect("id").0,
            before
        );
        assert_ne!(FileId::at(&log).expect("id").0, before);
        let missing = FileId::at(&dir.path().join("none.log")).expect_err("missing");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn reads_at_an_offset_and_says_when_the_file_is_shorter() {
        let mut f = tempfile::tempfile().expect("tempfile");
        f.write_all(b"0123456789").expect("write");
        let mut four = [0u8; 4];
        read_exact_at(&f, &mut four, 3).expect("read");
        assert_eq!(&four, b"3456");
        let err = read_exact_at(&f, &mut four, 8).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn data_files_are_not_devices() {
        let f = tempfile::NamedTempFile::new().expect("tempfile");
        assert!(!is_device_or_socket(&f.as_file().metadata().expect("meta")));
        #[cfg(unix)]
        assert!(is_device_or_socket(
            &std::fs::metadata("/dev/null").expect("/dev/null")
        ));
    }
}
