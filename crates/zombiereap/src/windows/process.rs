//! A process pinned by an open handle: while zombiereap holds it, Windows does not give the
//! process's PID to another one, so every later wait and termination reaches that very
//! process. The start time is checked once, right after opening, against the listing the
//! PID came from.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, FILETIME, GetLastError, WAIT_OBJECT_0};
use windows_sys::Win32::System::Threading::{
    GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE, TerminateProcess, WaitForSingleObject,
};

use crate::killtree::Fate;

/// The exit status a terminated process gets, as `taskkill /F` gives it.
pub const TERMINATED: u32 = 1;
/// 100 ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;

/// A process held open for waiting and terminating.
#[derive(Debug)]
pub struct Pinned {
    handle: OwnedHandle,
}

/// Opens `pid` as it is now, with no start time to check against (a PID the caller was given
/// rather than listed): from then on the handle names that process and no other. `None` when
/// it is gone or may not be opened.
pub fn hold(pid: i32) -> Option<Pinned> {
    open(pid).ok()
}

/// Opens `pid` and checks it is the process that started at `start` (seconds since the
/// epoch). A process that is gone, or whose PID now names another, is
/// [`Fate::AlreadyGone`]; one that may not be opened [`Fate::PermissionDenied`].
pub fn pin(pid: i32, start: u64) -> Result<Pinned, Fate> {
    let pinned = open(pid)?;
    match pinned.started() {
        Some(s) if s.abs_diff(start) <= 1 && !pinned.exited() => Ok(pinned),
        _ => Err(Fate::AlreadyGone),
    }
}

/// Opens `pid` for waiting and terminating.
fn open(pid: i32) -> Result<Pinned, Fate> {
    let id = u32::try_from(pid).map_err(|_| Fate::AlreadyGone)?;
    let access = PROCESS_TERMINATE | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
    // SAFETY: OpenProcess returns a new handle or null.
    let raw = unsafe { OpenProcess(access, 0, id) };
    if raw.is_null() {
        // SAFETY: reads the calling thread's last error.
        let err = unsafe { GetLastError() };
        return Err(if err == ERROR_ACCESS_DENIED {
            Fate::PermissionDenied
        } else {
            Fate::AlreadyGone
        });
    }
    // SAFETY: non-null, just opened, owned by nothing else.
    Ok(Pinned {
        handle: unsafe { OwnedHandle::from_raw_handle(raw) },
    })
}

impl Pinned {
    /// Its creation time in seconds since the epoch.
    fn started(&self) -> Option<u64> {
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: the handle is open; the out pointers are locals.
        let ok = unsafe {
            GetProcessTimes(
                self.handle.as_raw_handle(),
                &mut created,
                &mut exited,
                &mut kernel,
                &mut user,
            )
        };
        let t = (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime);
        (ok != 0).then(|| t.saturating_sub(UNIX_EPOCH_AS_FILETIME) / 10_000_000)
    }

    /// True once it has exited.
    pub fn exited(&self) -> bool {
        self.wait(Duration::ZERO)
    }

    /// Waits up to `timeout` for it to exit; true when it has.
    pub fn wait(&self, timeout: Duration) -> bool {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: the handle is open for this call.
        unsafe { WaitForSingleObject(self.handle.as_raw_handle(), ms) == WAIT_OBJECT_0 }
    }

    /// Ends it at once (`TerminateProcess`); false when Windows refused.
    pub fn force(&self) -> bool {
        // SAFETY: the handle is open and has PROCESS_TERMINATE.
        unsafe { TerminateProcess(self.handle.as_raw_handle(), TERMINATED) != 0 }
    }
}
