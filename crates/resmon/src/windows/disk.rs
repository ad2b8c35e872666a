//! The size of the volume holding a path (`GetDiskFreeSpaceExW`), psutil's `disk_usage` on
//! Windows.

use std::os::windows::ffi::OsStrExt;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;

use crate::system::{Disk, Metric};

/// Size of the volume holding `path`, a directory that must exist.
pub fn disk_usage(path: &Path) -> Metric<Disk> {
    let shown = || soak_core::pathtext::shown(path);
    if !path.is_dir() {
        return Err(format!("{}: not an existing directory", shown()));
    }
    let wide: Vec<u16> = path
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    let (mut caller_free, mut total, mut total_free) = (0u64, 0u64, 0u64);
    // SAFETY: `wide` is NUL-terminated and outlives the call; the out pointers are locals.
    let ok = unsafe {
        GetDiskFreeSpaceExW(wide.as_ptr(), &mut caller_free, &mut total, &mut total_free)
    };
    if ok == 0 {
        return Err(format!("{}: {}", shown(), std::io::Error::last_os_error()));
    }
    Ok(Disk::new(
        total,
        total.saturating_sub(total_free),
        caller_free.min(total),
    ))
}
