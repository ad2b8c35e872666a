//! Windows: what has no portable form. A launched command's console process group and its
//! stop (Ctrl+Break, then `TerminateProcess`), the wait that wakes on a console event or a
//! target's exit, and the size of a volume.

pub mod child;
pub mod cpu;
pub mod disk;
pub mod waiter;

use std::os::windows::io::{FromRawHandle, OwnedHandle};

use windows_sys::Win32::System::Threading::OpenProcess;

/// A handle to process `pid` with `access`, or `None` when it is gone or may not be opened.
fn open_process(pid: i32, access: u32) -> Option<OwnedHandle> {
    let pid = u32::try_from(pid).ok()?;
    // SAFETY: OpenProcess returns a new handle or null; a non-null one is ours to own.
    let h = unsafe { OpenProcess(access, 0, pid) };
    // SAFETY: checked non-null just above; nothing else owns it.
    (!h.is_null()).then(|| unsafe { OwnedHandle::from_raw_handle(h) })
}
