//! Writing a file that may replace an older one without ever writing through a symlink: the
//! bytes go to a new file created exclusively (O_EXCL|O_NOFOLLOW) next to the destination,
//! which is then renamed over it (a symlink at the destination is replaced, not followed).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Creates `path` for writing, exclusively and never through a link: `O_CREAT|O_EXCL|
/// O_NOFOLLOW` with permission `mode` on Unix; on Windows `CREATE_NEW` with
/// `FILE_FLAG_OPEN_REPARSE_POINT` (a symlink or junction planted at the name is an existing
/// file there: the creation fails, nothing is followed; `mode` does not apply).
pub fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        let _ = mode;
        options.custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options.open(path)
}

/// A file being written next to its destination; `commit` puts it in place.
pub struct PendingFile {
    temp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    /// Creates `.NAME.PID.partial` exclusively beside `dest` with permission `mode`.
    pub fn create(dest: &Path, mode: u32) -> Result<Self> {
        let name = dest
            .file_name()
            .with_context(|| format!("{} has no file name", dest.display()))?;
        let temp = dest.with_file_name(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            create_new(&temp, mode).with_context(|| format!("cannot create {}", temp.display()))?;
        Ok(Self {
            temp,
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until commit")
    }

    /// Flushes to disk and renames over the destination.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("file is open until commit");
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.temp.display()))?;
        drop(file);
        std::fs::rename(&self.temp, &self.dest)
            .with_context(|| format!("cannot move {} into place", self.dest.display()))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `dest` (replacing it atomically) with permission `mode`.
pub fn write_file(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut pending = PendingFile::create(dest, mode)?;
    pending
        .file()
        .write_all(bytes)
        .with_context(|| format!("cannot write {}", dest.display()))?;
    pending.commit()
}
