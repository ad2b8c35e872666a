//! Test support shared by the tools' integration tests, so that each suite asserts the same
//! things the same way: running a binary with hostile arguments ([`run`]), the one-line error
//! convention ([`assert_one_line_error`]), a child's peak memory ([`wait_with_peak_rss`]), and
//! finding real software to test against ([`which`], [`python_importing`], [`python_with`]).
//!
//! Only tests depend on it (`[dev-dependencies]`); it is never shipped.
#![deny(unsafe_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::process::{Child, ExitStatus};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

/// Runs `bin` with `args` (stdin empty) to its end and returns what it printed. The run stays
/// out of the CI job's step summary and annotations (`GITHUB_ACTIONS`, `GITHUB_STEP_SUMMARY`
/// removed), where the tools would otherwise write under GitHub Actions.
pub fn run<S: AsRef<OsStr>>(bin: &str, args: &[S]) -> Output {
    Command::new(bin)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"))
}

/// What `output` wrote on stderr, lossily decoded.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the error convention: exactly one line on stderr, naming `needle` (the file, flag,
/// line or PID), the OS error said at most once, and no panic.
pub fn assert_one_line_error(output: &Output, needle: &str) {
    let e = stderr(output);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.contains(needle), "names {needle}: {e}");
    assert!(
        e.matches("os error").count() <= 1,
        "the OS error said once: {e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

/// Waits for `child`, reading its peak RSS in KiB (VmHWM, from /proc) while it runs. The
/// high-water mark only grows, so the last reading before the exit is the peak to within one
/// poll (`wait4`'s `ru_maxrss` is no use: it inherits the test process's own peak across the
/// spawn). After `guard` the child is killed and the test fails: a hang is a failure; nothing is
/// asserted about speed.
#[cfg(target_os = "linux")]
pub fn wait_with_peak_rss(mut child: Child, guard: Duration, what: &str) -> (ExitStatus, u64) {
    let start = Instant::now();
    let mut peak = 0;
    loop {
        let pid = i32::try_from(child.id()).expect("a PID fits in i32");
        if let Some(kib) = soak_core::proc::peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status, peak);
        }
        if start.elapsed() > guard {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end (killed after {guard:?})");
        }
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// The first `program` on `PATH` (then `/usr/sbin`, `/sbin`, where Debian puts servers).
pub fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// True when `python` can `import module`.
pub fn python_imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python that imports `module` without installing anything: `$SOAKKIT_PYTHON` (the venv
/// `.ci/run` makes, with the pinned PyPI clients) or the system's `python3`.
pub fn python_importing(module: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("SOAKKIT_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend(which("python3"));
    candidates.into_iter().find(|p| python_imports(p, module))
}

/// A Python that imports `module`: [`python_importing`], else a venv at `venv` into which
/// `pip install pip_spec` put it. `None` (with the reason printed as a skip) when neither works.
pub fn python_with(module: &str, pip_spec: &str, venv: &Path) -> Option<PathBuf> {
    static ONE_PIP_AT_A_TIME: Mutex<()> = Mutex::new(());
    if let Some(p) = python_importing(module) {
        return Some(p);
    }
    let _pip = ONE_PIP_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let python = venv.join("bin/python3");
    if !python.is_file() {
        let made = which("python3").is_some_and(|py| {
            Command::new(py)
                .args(["-m", "venv"])
                .arg(venv)
                .status()
                .is_ok_and(|s| s.success())
        });
        if !made {
            eprintln!("SKIP: python3 -m venv failed; pip install {pip_spec} or set SOAKKIT_PYTHON");
            return None;
        }
    }
    if !python_imports(&python, module) {
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(pip_spec)
            .status()
            .is_ok_and(|s| s.success());
        if !installed || !python_imports(&python, module) {
            eprintln!(
                "SKIP: pip install {pip_spec} failed; set SOAKKIT_PYTHON to a Python that has {module}"
            );
            return None;
        }
    }
    Some(python)
}
