//! The system's cumulative CPU times (`GetSystemTimes`), the Windows form of `/proc/stat`'s
//! first line.

use windows_sys::Win32::Foundation::FILETIME;
use windows_sys::Win32::System::Threading::GetSystemTimes;

use crate::system::{CpuTimes, Metric};

fn ticks(t: FILETIME) -> u64 {
    (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)
}

/// All CPUs' idle and total time so far, in 100 ns units (kernel time includes idle time).
pub fn system_times() -> Metric<CpuTimes> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (zero, zero, zero);
    // SAFETY: the three out pointers are locals.
    if unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) } == 0 {
        return Err(format!(
            "GetSystemTimes: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(CpuTimes {
        total: ticks(kernel) + ticks(user),
        idle: ticks(idle),
    })
}
