//! Safe wrappers over the system calls the tools share, through `rustix` on Unix: a handle on a
//! process that its PID's reuse cannot redirect (a pidfd, Linux), signals by PID or process
//! group, whether a PID exists, and a filesystem's free space (the one that exists on Windows
//! too, through `GetDiskFreeSpaceExW`). One copy here instead of an `unsafe` block in each tool.

#[cfg(unix)]
use std::io;
use std::path::Path;

#[cfg(unix)]
use rustix::process::{Pid, Signal};

#[cfg(unix)]
fn pid_of(pid: i32) -> io::Result<Pid> {
    Pid::from_raw(pid)
        .filter(|_| pid > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("PID {pid}")))
}

#[cfg(unix)]
fn signal_of(signal: i32) -> io::Result<Signal> {
    Signal::from_named_raw(signal)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("signal {signal}")))
}

/// A pidfd for `pid`: signals sent through it reach that very process even if the PID is
/// reused after it exits. `None` when the process is gone or the kernel predates pidfds (5.3).
#[cfg(target_os = "linux")]
pub fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    rustix::process::pidfd_open(pid_of(pid).ok()?, rustix::process::PidfdFlags::empty()).ok()
}

/// Sends `signal` to the process behind a pidfd (`ESRCH` once it has exited).
#[cfg(target_os = "linux")]
pub fn pidfd_signal(pidfd: std::os::fd::BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    rustix::process::pidfd_send_signal(pidfd, signal_of(signal)?).map_err(io::Error::from)
}

#[cfg(unix)]
/// Sends `signal` to the process `pid` (`kill(2)`).
pub fn signal_pid(pid: i32, signal: i32) -> io::Result<()> {
    rustix::process::kill_process(pid_of(pid)?, signal_of(signal)?).map_err(io::Error::from)
}

#[cfg(unix)]
/// Sends `signal` to every process of the group `pgid` (`kill(2)` with `-pgid`).
pub fn signal_group(pgid: i32, signal: i32) -> io::Result<()> {
    rustix::process::kill_process_group(pid_of(pgid)?, signal_of(signal)?).map_err(io::Error::from)
}

#[cfg(unix)]
/// True when a process `pid` exists (signal 0), including one this user may not signal.
pub fn pid_exists(pid: i32) -> bool {
    match pid_of(pid) {
        Ok(p) => match rustix::process::test_kill_process(p) {
            Ok(()) => true,
            Err(e) => e == rustix::io::Errno::PERM,
        },
        Err(_) => false,
    }
}

#[cfg(unix)]
/// A signal's conventional name (`SIGKILL` for 9), or `signal N` for one without a common
/// name here.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// The bytes an unprivileged writer can still put on the filesystem holding `path`
/// (`statvfs`: available blocks × fragment size); `None` when it cannot be read.
#[cfg(unix)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The bytes the caller can still put on the volume holding `path` (`GetDiskFreeSpaceExW`'s
/// free bytes available to the caller, which honours quotas); `None` when it cannot be read.
#[cfg(windows)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    // GetDiskFreeSpaceExW answers for any path on a volume, even a missing one: the path
    // must exist here as on Unix.
    std::fs::metadata(path).ok()?;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut caller_free = 0u64;
    // SAFETY: `wide` is NUL-terminated and outlives the call; the one out pointer is a local,
    // the two others are null (not wanted), as the API allows.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut caller_free,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then_some(caller_free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn signals_reach_a_real_child_and_bad_values_are_refused() {
        use std::process::{Command, Stdio};
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep");
        let pid = i32::try_from(child.id()).expect("pid");
        assert!(pid_exists(pid));
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsFd;
            let fd = pidfd_open(pid).expect("pidfd");
            pidfd_signal(fd.as_fd(), 15).expect("SIGTERM through the pidfd");
        }
        #[cfg(not(target_os = "linux"))]
        signal_pid(pid, 15).expect("SIGTERM");
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(15));
        assert!(!pid_exists(pid), "reaped");
        assert_eq!(
            signal_pid(0, 15).expect_err("PID 0").kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            signal_pid(pid, 999).expect_err("no such signal").kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[cfg(unix)]
    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(77), "signal 77");
    }

    #[test]
    fn free_space_of_a_real_filesystem() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }
}
