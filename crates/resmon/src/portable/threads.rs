//! Thread counts, which sysinfo gives on Linux only: on Windows from one Toolhelp snapshot of
//! every process (`cntThreads`), on macOS from `proc_pidinfo(PROC_PIDTASKINFO)`.

use std::collections::HashMap;

/// The number of threads of each of `pids` that could be read; a PID missing from the map
/// has exited or may not be inspected. `Err` when the OS gave nothing at all.
pub fn counts(pids: &[i32]) -> Result<HashMap<i32, u64>, String> {
    imp::counts(pids)
}

#[cfg(windows)]
mod imp {
    use std::collections::HashMap;

    use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW,
        TH32CS_SNAPPROCESS,
    };

    pub fn counts(pids: &[i32]) -> Result<HashMap<i32, u64>, String> {
        let mut out = HashMap::with_capacity(pids.len());
        // SAFETY: the snapshot handle is checked, only passed to the Process32 functions with
        // an entry whose dwSize is set as they require, and closed once.
        unsafe {
            let snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snap == INVALID_HANDLE_VALUE {
                return Err(format!(
                    "CreateToolhelp32Snapshot: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut entry: PROCESSENTRY32W = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
            let mut more = Process32FirstW(snap, &mut entry) != 0;
            while more {
                if let Ok(pid) = i32::try_from(entry.th32ProcessID) {
                    if pids.contains(&pid) {
                        out.insert(pid, u64::from(entry.cntThreads));
                    }
                }
                more = Process32NextW(snap, &mut entry) != 0;
            }
            CloseHandle(snap);
        }
        Ok(out)
    }
}

#[cfg(target_os = "macos")]
mod imp {
    use std::collections::HashMap;

    pub fn counts(pids: &[i32]) -> Result<HashMap<i32, u64>, String> {
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        let mut out = HashMap::with_capacity(pids.len());
        for &pid in pids {
            let mut info = std::mem::MaybeUninit::<libc::proc_taskinfo>::zeroed();
            // SAFETY: proc_pidinfo writes at most `size` bytes into the buffer it is given.
            let n = unsafe {
                libc::proc_pidinfo(
                    pid,
                    libc::PROC_PIDTASKINFO,
                    0,
                    info.as_mut_ptr().cast(),
                    size,
                )
            };
            if n == size {
                // SAFETY: proc_pidinfo filled the whole struct (it was zeroed anyway).
                let info = unsafe { info.assume_init() };
                out.insert(pid, u64::try_from(info.pti_threadnum).unwrap_or(0));
            }
        }
        Ok(out)
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
mod imp {
    use std::collections::HashMap;

    pub fn counts(_pids: &[i32]) -> Result<HashMap<i32, u64>, String> {
        Err("thread counts are read on Linux, Windows and macOS only".into())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_this_process_threads() {
        let me = std::process::id() as i32;
        let worker = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
        let counts = super::counts(&[me, i32::MAX]).expect("counts");
        let _ = worker.join();
        assert!(counts.get(&me).is_some_and(|&n| n >= 2), "{counts:?}");
        assert!(!counts.contains_key(&i32::MAX));
    }
}
