//! Whether a process is still running, on every OS: a tool watching a PID (orphan-cancel's
//! dead-man switch) stops when it exits.

/// True while the process `pid` exists and has not exited. A zombie (exited, not yet reaped)
/// counts as exited. A PID the caller may not inspect but that exists counts as running.
pub fn is_running(pid: i32) -> bool {
    #[cfg(target_os = "linux")]
    return crate::proc::read_stat(pid).is_ok_and(|s| s.state != 'Z');
    #[cfg(all(unix, not(target_os = "linux")))]
    return crate::sys::pid_exists(pid);
    #[cfg(windows)]
    windows::is_running(pid)
}

#[cfg(windows)]
mod windows {
    use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    pub fn is_running(pid: i32) -> bool {
        let Ok(pid) = u32::try_from(pid) else {
            return false;
        };
        // SAFETY: the handle is checked, used once and closed; the out pointer is a local.
        unsafe {
            let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if handle.is_null() {
                return false;
            }
            let mut code = 0u32;
            let ok = GetExitCodeProcess(handle, &mut code);
            CloseHandle(handle);
            ok != 0 && code == STILL_ACTIVE as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A child that waits for its stdin to close: running until the test lets it go.
    fn waiting_child() -> std::process::Child {
        #[cfg(windows)]
        let mut cmd = Command::new("cmd");
        #[cfg(windows)]
        cmd.args(["/C", "more"]);
        #[cfg(unix)]
        let mut cmd = Command::new("cat");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    #[test]
    fn running_until_it_exits() {
        assert!(is_running(std::process::id() as i32));
        let mut child = waiting_child();
        let pid = child.id() as i32;
        assert!(is_running(pid));
        drop(child.stdin.take());
        assert!(child.wait().expect("wait").success());
        assert!(!is_running(pid));
        assert!(!is_running(-1));
    }
}
