//! A launched command on Windows: started in its own console process group so that
//! Ctrl+Break (`CTRL_BREAK_EVENT`) reaches it alone, which is how a console program is asked
//! to stop; [`crate::target::SIGKILL`] ends it with `TerminateProcess`.

use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::{Child, Command};

use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, TerminateProcess};

/// The exit status a terminated command gets, as `taskkill /F` gives it.
pub const TERMINATED: u32 = 1;

/// Starts the command as the leader of a new console process group.
pub fn own_process_group(cmd: &mut Command) {
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
}

/// Asks `child` to stop (any signal but SIGKILL: Ctrl+Break to its group), or ends it
/// (SIGKILL). When Ctrl+Break cannot be delivered at all (no console shared with it, as
/// under wine run from a pipe) there is nothing to wait for: it is ended at once. One that
/// ignores Ctrl+Break is ended by the SIGKILL that follows the grace period.
pub fn signal(child: &Child, signal: i32) {
    // SAFETY: plain call; the group ID is the child's PID (it leads its own group).
    let asked = signal != crate::target::SIGKILL
        && unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, child.id()) } != 0;
    if !asked {
        // SAFETY: the handle belongs to `child`, which is alive for this call.
        unsafe { TerminateProcess(child.as_raw_handle(), TERMINATED) };
    }
}
