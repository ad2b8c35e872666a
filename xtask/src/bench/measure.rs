//! Measuring one run of a command: its CPU seconds, its peak RSS and the wall time, without
//! unsafe code.
//!
//! - **CPU**: `getrusage(RUSAGE_CHILDREN)` before the spawn and after the reap; the difference
//!   is the command's user + system time and that of the descendants it waited for (what
//!   `wait4` reported), provided this process reaps no other child meanwhile (the benchmarks
//!   measure one command at a time).
//! - **Peak RSS**: the command's own high-water mark, `VmHWM` of `/proc/PID/status`, read
//!   right after the spawn and every millisecond until it exits; the mark only grows, so the
//!   figure is exact but for growth in its last millisecond. Its descendants are not counted.
//!   Not `ru_maxrss`: `wait4`'s carries the spawning process's own peak across the `exec`
//!   (it read xtask's peak for a tool smaller than xtask), and `RUSAGE_CHILDREN`'s is the
//!   largest of every child reaped so far (the release build's rustc included). Linux only
//!   (`/proc`); elsewhere the figure is 0.
//! - **Wall**: from before the spawn until the command has exited (waited for with
//!   `waitid(WNOWAIT)`, which leaves it unreaped, so its PID cannot be reused while its
//!   memory is still being read).

//!
//! The measuring is Unix only (the benchmarks are); the median and the release build the soak
//! uses build everywhere.

#[cfg(unix)]
use std::io::Read;
use std::process::Command;
#[cfg(unix)]
use std::process::Stdio;
#[cfg(unix)]
use std::sync::Arc;
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(unix)]
use std::thread::JoinHandle;
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use anyhow::Context;
use anyhow::{Result, bail};
#[cfg(unix)]
use nix::sys::resource::{Usage, UsageWho, getrusage};

#[cfg(unix)]
/// CPU seconds, peak RSS in MB and wall seconds of one run of `cmd`.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// User + system CPU seconds (the command's and its waited-for descendants').
    pub cpu_s: f64,
    /// The command's own peak resident set size in MB (VmHWM, read every millisecond).
    pub peak_rss_mb: f64,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

#[cfg(unix)]
/// Runs `cmd` to its end (it must exit 0) and measures it.
pub fn measure(cmd: &mut Command) -> Result<Cost> {
    measure_status(cmd, &[0])
}

#[cfg(unix)]
/// Like [`measure`], for a command whose exit code may be any of `allowed` (e.g. 1 for a check
/// tool that found something).
pub fn measure_status(cmd: &mut Command, allowed: &[i32]) -> Result<Cost> {
    let before = children_usage()?;
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = i32::try_from(child.id()).context("a PID beyond i32")?;
    let peak = PeakRss::watch(pid);
    // Read to its end while it runs, so a chatty command never blocks on a full pipe.
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    wait_exited(pid).with_context(|| format!("waiting for {cmd:?}"))?;
    let wall_s = start.elapsed().as_secs_f64();
    let peak_kib = peak.stop();
    let status = child
        .wait()
        .with_context(|| format!("waiting for {cmd:?}"))?;
    let after = children_usage()?;
    if !status.code().is_some_and(|c| allowed.contains(&c)) {
        bail!("{cmd:?} failed ({status}): {}", stderr.trim());
    }
    Ok(Cost {
        cpu_s: (cpu_seconds(&after) - cpu_seconds(&before)).max(0.0),
        peak_rss_mb: peak_kib as f64 / 1024.0,
        wall_s,
    })
}

#[cfg(unix)]
/// What this process's reaped children used so far.
fn children_usage() -> Result<Usage> {
    getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage(RUSAGE_CHILDREN)")
}

#[cfg(unix)]
/// User + system seconds of a usage.
fn cpu_seconds(u: &Usage) -> f64 {
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(u.user_time()) + secs(u.system_time())
}

/// Blocks until `pid` (a child of this process) has exited, leaving it unreaped.
#[cfg(target_os = "linux")]
fn wait_exited(pid: i32) -> Result<()> {
    use nix::errno::Errno;
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    loop {
        match waitid(
            Id::Pid(nix::unistd::Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop).context("waitid"),
        }
    }
}

/// Elsewhere the reap itself waits (and no peak is read).
#[cfg(all(unix, not(target_os = "linux")))]
fn wait_exited(_pid: i32) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
/// A thread reading a process's VmHWM every millisecond, keeping the highest.
struct PeakRss {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

#[cfg(unix)]
impl PeakRss {
    /// Starts reading `pid`'s peak now.
    fn watch(pid: i32) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let told = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            // One last read after the stop is asked: nothing is missed between two reads.
            loop {
                let last = told.load(Ordering::Acquire);
                if let Some(kib) = peak_rss_kib(pid) {
                    peak = u64::max(peak, kib);
                }
                if last {
                    return peak;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        PeakRss { stop, thread }
    }

    /// The highest VmHWM read, KiB (0 when none could be read).
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or(0)
    }
}

/// `pid`'s VmHWM in KiB, from /proc.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: i32) -> Option<u64> {
    soak_core::proc::peak_rss_kib(pid)
}

/// No /proc here: no peak is read (the figure is 0, as the module says).
#[cfg(all(unix, not(target_os = "linux")))]
fn peak_rss_kib(_pid: i32) -> Option<u64> {
    None
}

/// The median (the mean of the middle two for an even count; NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Builds `packages` in release mode and returns the directory holding their binaries.
pub fn release_build(packages: &[&str]) -> Result<std::path::PathBuf> {
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--quiet"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    if !cmd.status()?.success() {
        bail!("cargo build --release -p {} failed", packages.join(" -p "));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release"))
}

/// Linux: the peak is read from /proc, the commands are Unix ones.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_command_s_own_not_the_spawning_process_s() {
        // This process's own high-water mark raised past 64 MiB (touched, not just reserved):
        // wait4's ru_maxrss would report at least that for any command it spawned.
        let ballast = vec![1u8; 64 << 20];
        std::hint::black_box(&ballast);
        let own = soak_core::proc::peak_rss_kib(std::process::id() as i32).expect("own VmHWM");
        assert!(own > 64 << 10, "ballast resident: {own} KiB");
        let cost = measure(Command::new("sleep").arg("0.2")).expect("sleep runs");
        assert!(cost.peak_rss_mb > 0.0, "sleep's peak was read: {cost:?}");
        assert!(
            cost.peak_rss_mb < 32.0,
            "sleep's own peak, not this process's {own} KiB: {cost:?}"
        );
        assert!(cost.wall_s >= 0.2, "waited for its end: {cost:?}");
        drop(ballast);
    }

    #[test]
    fn an_exit_code_outside_the_allowed_ones_fails_with_its_stderr() {
        let err = measure(Command::new("sh").args(["-c", "echo broken >&2; exit 3"]))
            .expect_err("exit 3 refused");
        assert!(format!("{err:#}").contains("broken"), "{err:#}");
        let ok = measure_status(Command::new("sh").args(["-c", "exit 1"]), &[0, 1]);
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_busy_command_s_cpu_is_counted() {
        let cost = measure(
            Command::new("sh").args(["-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"]),
        )
        .expect("runs");
        assert!(cost.cpu_s > 0.0, "{cost:?}");
    }
}
