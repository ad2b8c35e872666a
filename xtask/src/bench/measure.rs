//! Measuring one run of a command: CPU seconds, peak RSS and wall time, from `wait4` (Unix);
//! the medians and the release build the soak uses too (every OS).

use std::process::Command;
#[cfg(unix)]
use std::process::Stdio;
#[cfg(unix)]
use std::time::Instant;

#[cfg(unix)]
use anyhow::Context;
use anyhow::{Result, bail};

#[cfg(unix)]
/// CPU seconds, peak RSS in MB and wall seconds of one run of `cmd`.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set size in MB.
    pub peak_rss_mb: f64,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

#[cfg(unix)]
/// Runs `cmd` to its end (it must exit 0) and measures it with wait4.
pub fn measure(cmd: &mut Command) -> Result<Cost> {
    measure_status(cmd, &[0])
}

#[cfg(unix)]
/// Like [`measure`], for a command whose exit code may be any of `allowed` (e.g. 1 for a check
/// tool that found something).
pub fn measure_status(cmd: &mut Command, allowed: &[i32]) -> Result<Cost> {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 on our own child, writing into a zeroed rusage we own.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, ru.as_mut_ptr()) };
    let wall_s = start.elapsed().as_secs_f64();
    if rc != pid {
        bail!("wait4 failed for {cmd:?}");
    }
    // SAFETY: wait4 succeeded and filled it (it was zeroed before anyway).
    let ru = unsafe { ru.assume_init() };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    if !(libc::WIFEXITED(status) && allowed.contains(&libc::WEXITSTATUS(status))) {
        bail!("{cmd:?} failed (status {status}): {}", stderr.trim());
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Cost {
        cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
        peak_rss_mb: ru.ru_maxrss as f64 / 1024.0,
        wall_s,
    })
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
