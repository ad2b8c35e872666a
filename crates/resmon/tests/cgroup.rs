//! `--cgroup` against small fixture trees in the kernel's file formats (`--cgroup-root`):
//! every cgroup file of v1 and v2 parsed to its exact figure, an unlimited limit, missing
//! controllers named in `unavailable`, the Prometheus names, and the errors for a missing
//! cgroup, a container and a unit that cannot be resolved on this machine.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/resmon")
        .canonicalize()
        .expect("fixtures/resmon")
}

fn resmon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_resmon"))
}

/// The last sample of two taken on `cgroup` under the fixture `tree`, and the start event.
fn sample(tree: &str, cgroup: &str, extra: &[&str]) -> (Value, Value) {
    let out = resmon()
        .arg("--cgroup-root")
        .arg(fixtures().join(tree))
        .args(["--cgroup", cgroup, "-n", "2", "-i", "50ms"])
        .args(extra)
        .output()
        .expect("resmon");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let last = recs
        .iter()
        .rfind(|r| r["type"] == "sample")
        .cloned()
        .expect("sample");
    (recs[0].clone(), last)
}

fn unavailable(s: &Value) -> Vec<String> {
    s["unavailable"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u.as_str())
        .filter(|u| u.starts_with("cgroup_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn v1_files_parse_to_docker_stats_figures() {
    let (start, s) = sample("cgroup-v1", "/docker/4f1c2a", &[]);
    assert_eq!(start["cgroup"]["version"], "v1");
    assert_eq!(start["cgroup"]["path"], "/docker/4f1c2a");
    // usage_in_bytes 1 GiB − total_inactive_file 100 MiB (not the local inactive_file 90 MiB)
    assert_eq!(s["cgroup_memory_mb"].as_f64(), Some(924.0));
    assert_eq!(s["cgroup_memory_usage_mb"].as_f64(), Some(1024.0));
    assert_eq!(s["cgroup_memory_limit_mb"].as_f64(), Some(2048.0));
    assert_eq!(s["cgroup_memory_percent"].as_f64(), Some(45.12));
    assert_eq!(s["cgroup_oom_kills"].as_u64(), Some(2));
    assert_eq!(s["cgroup_cpu_usage_s"].as_f64(), Some(123.456789));
    assert_eq!(s["cgroup_cpu_percent"].as_f64(), Some(0.0));
    assert_eq!(s["cgroup_cpu_throttled_periods"].as_u64(), Some(7));
    assert_eq!(s["cgroup_cpu_throttled_s"].as_f64(), Some(2.5));
    assert_eq!(s["cgroup_pids"].as_u64(), Some(12));
    assert_eq!(s["cgroup_memory_pressure_avg10_percent"], Value::Null);
    assert_eq!(unavailable(&s).len(), 1, "{:?}", unavailable(&s));
    assert!(unavailable(&s)[0].starts_with("cgroup_memory_pressure_avg10_percent: "));
}

#[test]
fn v1_directory_paths_and_the_unlimited_page_counter() {
    let dir = fixtures().join("cgroup-v1/memory/system.slice/free.service");
    let (start, s) = sample("cgroup-v1", dir.to_str().expect("utf-8"), &[]);
    assert_eq!(start["cgroup"]["path"], "/system.slice/free.service");
    assert_eq!(s["cgroup_memory_mb"].as_f64(), Some(40.0));
    assert_eq!(s["cgroup_memory_limit_mb"], Value::Null);
    assert_eq!(s["cgroup_memory_percent"], Value::Null);
    let un = unavailable(&s);
    assert!(
        !un.iter().any(|u| u.starts_with("cgroup_memory_limit_mb")),
        "{un:?}"
    );
    assert!(un.contains(&"cgroup_pids: no pids controller for this cgroup".to_string()));
    assert!(
        un.iter()
            .any(|u| u.starts_with("cgroup_cpu_usage_s: no cpu/cpuacct"))
    );
}

#[test]
fn v2_files_parse_and_export_cadvisor_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let prom = tmp.path().join("resmon.prom");
    let (start, s) = sample(
        "cgroup-v2",
        "system.slice/bot.service",
        &["--prom-textfile", prom.to_str().expect("utf-8")],
    );
    assert_eq!(start["cgroup"]["version"], "v2");
    // memory.current 512 MiB − inactive_file 50 MiB
    assert_eq!(s["cgroup_memory_mb"].as_f64(), Some(462.0));
    assert_eq!(s["cgroup_memory_limit_mb"].as_f64(), Some(2048.0));
    assert_eq!(s["cgroup_memory_percent"].as_f64(), Some(22.56));
    assert_eq!(s["cgroup_oom_kills"].as_u64(), Some(1));
    assert_eq!(s["cgroup_cpu_usage_s"].as_f64(), Some(5.0));
    assert_eq!(s["cgroup_cpu_throttled_periods"].as_u64(), Some(3));
    assert_eq!(s["cgroup_cpu_throttled_s"].as_f64(), Some(1.5));
    assert_eq!(s["cgroup_pids"].as_u64(), Some(4));
    assert_eq!(
        s["cgroup_memory_pressure_avg10_percent"].as_f64(),
        Some(1.5)
    );
    assert!(unavailable(&s).is_empty(), "{:?}", unavailable(&s));
    let text = std::fs::read_to_string(&prom).expect("textfile");
    for line in [
        "container_memory_working_set_bytes 484442112",
        "container_spec_memory_limit_bytes 2147483648",
        "container_oom_events_total 1",
        "container_cpu_cfs_throttled_seconds_total 1.5",
        "resmon_cgroup_tasks 4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
}

#[test]
fn v2_max_is_no_limit_and_a_missing_file_is_named() {
    let (_, s) = sample("cgroup-v2", "/system.slice/free.service", &[]);
    assert_eq!(s["cgroup_memory_mb"].as_f64(), Some(10.0));
    assert_eq!(s["cgroup_memory_limit_mb"], Value::Null);
    assert_eq!(s["cgroup_memory_percent"], Value::Null);
    let un = unavailable(&s);
    assert_eq!(un.len(), 1, "{un:?}");
    assert!(
        un[0].starts_with("cgroup_pids: ") && un[0].contains("pids.current"),
        "{un:?}"
    );
}

#[test]
fn a_missing_cgroup_is_bad_input_naming_it() {
    for path in ["/docker/nope", "/docker/../../etc"] {
        let out = resmon()
            .arg("--cgroup-root")
            .arg(fixtures().join("cgroup-v1"))
            .args(["--cgroup", path, "-n", "1"])
            .output()
            .expect("resmon");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("--cgroup {path}")), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// On a machine where docker/podman (or systemd) work, an unknown name is bad input (2);
/// where they cannot answer (no daemon, systemd not PID 1) the environment failed (3).
/// Either way one line names the flag and the tool's reason, and nothing is recorded.
#[test]
fn container_and_unit_that_cannot_be_resolved_are_named() {
    for (flag, name, tool) in [
        ("--container", "soakkit-no-such-container", "docker"),
        ("--unit", "soakkit-no-such.service", "systemctl"),
    ] {
        let out = resmon()
            .args([flag, name, "-n", "1"])
            .output()
            .expect("resmon");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(2 | 3)), "{flag}: {err}");
        assert!(err.contains(&format!("{flag} {name}: ")), "{err}");
        assert!(err.contains(tool), "{err}");
        assert!(out.stdout.is_empty());
        eprintln!(
            "{flag} on this machine: exit {:?}: {}",
            out.status.code(),
            err.trim()
        );
    }
}
