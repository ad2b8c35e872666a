//! Helpers the soak test files share: the built binaries, the `cargo xtask soak` command, the
//! verdict's rows, and the processes a run may have left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Where `cargo test` put the workspace's binaries (next to this test's `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf();
    for tool in [
        "logrotate",
        "seccheck",
        "resmon",
        "resanalyze",
        "logscan",
        "zombiereap",
        "orphan-cancel",
        "exchange-sim",
        "soak-demo",
    ] {
        assert!(
            dir.join(tool).is_file(),
            "{tool} is not built in {}: run `cargo test --workspace`",
            dir.display()
        );
    }
    dir
}

/// `cargo xtask soak` with the test's binaries, its run directories under `out`.
pub fn soak_cmd(out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(["soak", "--bin-dir"])
        .arg(bin_dir())
        .arg("--out")
        .arg(out)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    c
}

/// The run directory a soak made under `out`.
pub fn run_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("run-"))
        })
        .expect("a run directory")
}

/// The run's `summary.json`.
pub fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(run_dir(out).join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("json")
}

/// The verdict's row for `metric`.
pub fn row(s: &Value, metric: &str) -> Value {
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["metric"] == metric)
        .cloned()
        .unwrap_or_else(|| panic!("no row {metric}: {s:#}"))
}

/// The metrics of the rows that failed.
pub fn failing(s: &Value) -> Vec<String> {
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["metric"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Processes whose command line mentions `needle`, other than us (zombies left out).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if cmd.contains(needle) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}
