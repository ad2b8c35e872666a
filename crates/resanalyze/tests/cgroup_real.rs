//! This machine's real kernel cgroups: a memory cgroup with a 64 MB limit (and no swap), a
//! CPython child allocating about 16 MB/s inside it until the kernel's OOM killer kills it,
//! recorded by the real `resmon --cgroup` at 200 ms and judged by the real `resanalyze`
//! (the limit check, the early `--follow` warning before the kill, the OOM check).
//!
//! Needs root with a writable cgroup v1 memory controller (`/sys/fs/cgroup/memory`) or a
//! cgroup v2 hierarchy with the memory controller enabled; skipped with a printed reason
//! otherwise. The cgroups it creates are removed at the end, even when an assertion fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const LIMIT: u64 = 64 << 20;

/// CPython taking 1 MB every 1/16 s (written, so the pages are really charged) and keeping it.
const ALLOCATE: &str = r#"
import time
keep = []
while True:
    keep.append(b"\x01" * (1 << 20))
    time.sleep(1 / 16)
"#;

fn resmon() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_resanalyze")).with_file_name("resmon");
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p resmon` first",
        path.display()
    );
    path
}

/// The cgroups made for the test; removed on drop once their processes are gone.
struct TestCgroup {
    /// The path inside the hierarchy (`/soakkit-test-...`).
    path: String,
    /// Every directory created (memory first), each with its `cgroup.procs`.
    dirs: Vec<PathBuf>,
    version: &'static str,
    child: Option<Child>,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in self.dirs.iter().rev() {
            // A killed task leaves the cgroup a moment after it is reaped.
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if d.exists() {
                eprintln!("warning: could not remove {}", d.display());
            }
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("{}: {e}", path.display()))
}

/// A memory cgroup limited to [`LIMIT`], v1 where its memory controller is writable, else v2;
/// `Err` is the reason to skip.
fn make_cgroup() -> Result<TestCgroup, String> {
    let name = format!(
        "soakkit-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let root = Path::new("/sys/fs/cgroup");
    let v1 = root.join("memory");
    let mut reasons = Vec::new();
    if v1.join("memory.limit_in_bytes").exists() {
        let dir = v1.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let mut cg = TestCgroup {
                    path: format!("/{name}"),
                    dirs: vec![dir.clone()],
                    version: "v1",
                    child: None,
                };
                write(&dir.join("memory.limit_in_bytes"), &LIMIT.to_string())?;
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &LIMIT.to_string())?;
                }
                // CPU and pids accounting where those controllers are mounted on their own,
                // and the hybrid host's unified twin, whose memory.pressure resmon reads.
                for ctrl in ["cpuacct", "cpu", "pids", "unified"] {
                    let d = root.join(ctrl).join(&name);
                    if root.join(ctrl).join("cgroup.procs").exists()
                        && std::fs::create_dir(&d).is_ok()
                    {
                        cg.dirs.push(d);
                    }
                }
                return Ok(cg);
            }
            Err(e) => reasons.push(format!("{}: {e}", dir.display())),
        }
    } else {
        reasons.push("no cgroup v1 memory controller at /sys/fs/cgroup/memory".into());
    }
    for v2 in [root.to_path_buf(), root.join("unified")] {
        let controllers =
            std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "memory") {
            reasons.push(format!("{}: memory controller not enabled", v2.display()));
            continue;
        }
        let dir = v2.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let cg = TestCgroup {
                    path: format!("/{name}"),
                    dirs: vec![dir.clone()],
                    version: "v2",
                    child: None,
                };
                write(&dir.join("memory.max"), &LIMIT.to_string())?;
                if dir.join("memory.swap.max").exists() {
                    write(&dir.join("memory.swap.max"), "0")?;
                }
                return Ok(cg);
            }
            Err(e) => reasons.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(reasons.join("; "))
}

impl TestCgroup {
    /// Starts a child that moves itself into every test cgroup, then becomes CPython
    /// running `code`.
    fn run_python(&mut self, code: &str) {
        let procs: Vec<PathBuf> = self.dirs.iter().map(|d| d.join("cgroup.procs")).collect();
        let child = Command::new("sh")
            .args([
                "-ec",
                r#"for f in "$@"; do echo $$ > "$f"; done; exec python3 -c "$CODE""#,
                "sh",
            ])
            .args(&procs)
            .env("CODE", code)
            .spawn()
            .expect("sh");
        self.child = Some(child);
    }
}

/// A test cgroup, or `None` after printing why the test is skipped.
fn cgroup_or_skip() -> Option<TestCgroup> {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("SKIP: python3 is not installed");
        return None;
    }
    make_cgroup()
        .map_err(|reason| eprintln!("SKIP: no writable memory cgroup: {reason}"))
        .ok()
}

fn lines(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).expect("recording");
    BufReader::new(file)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect()
}

#[test]
fn a_64mb_cgroup_is_recorded_to_its_oom_kill_and_judged() {
    let Some(mut cg) = cgroup_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let rec = tmp.path().join("cg.jsonl");
    let mut monitor = Command::new(resmon())
        .args(["--cgroup", &cg.path, "--interval", "200ms", "--output"])
        .arg(&rec)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("resmon");
    cg.run_python(ALLOCATE);
    let status = cg.child.as_mut().map(|c| c.wait().expect("wait"));
    // The OOM killer's SIGKILL, not an exit of its own.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.and_then(|s| s.signal()), Some(9), "{status:?}");
    cg.child = None;
    // A few samples after the kill, then stop resmon as a soak would (SIGTERM: last sample).
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(monitor.wait().expect("resmon").success());

    let records = lines(&rec);
    let start = &records[0];
    assert_eq!(start["event"], "start");
    assert_eq!(start["cgroup"]["version"], cg.version);
    let samples: Vec<&Value> = records.iter().filter(|r| r["type"] == "sample").collect();
    assert!(samples.len() >= 8, "{} samples", samples.len());
    for s in &samples {
        assert_eq!(s["cgroup_memory_limit_mb"].as_f64(), Some(64.0), "{s}");
    }
    let kills = |s: &Value| s["cgroup_oom_kills"].as_u64().expect("oom counter read");
    let kill_at = samples
        .iter()
        .position(|s| kills(s) > kills(samples[0]))
        .expect("the OOM kill is counted");
    let before = &samples[..kill_at];
    let percent = |s: &Value| s["cgroup_memory_percent"].as_f64().expect("percent");
    let peak_before = before.iter().map(|s| percent(s)).fold(0.0, f64::max);
    eprintln!(
        "{} samples; killed between samples {kill_at} and {}; peak {peak_before} % of the limit",
        samples.len(),
        kill_at + 1
    );
    assert!(
        percent(samples[0]) < 40.0 && peak_before > 80.0,
        "memory rose towards the limit: first {} %, peak before the kill {peak_before} %",
        percent(samples[0])
    );
    assert!(
        before
            .iter()
            .any(|s| s["cgroup_memory_mb"].as_f64() > Some(51.0))
    );
    let events: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "oom_kill")
        .collect();
    assert_eq!(events.len(), 1, "one oom_kill event: {events:?}");
    assert!(events[0]["new_oom_kills"].as_u64() >= Some(1));
    assert_eq!(events[0]["cgroup_memory_limit_mb"].as_f64(), Some(64.0));
    // CPU, tasks and pressure of the same cgroup, where the controllers were there.
    let has = |ctrl: &str| {
        cg.version == "v2"
            || cg
                .dirs
                .iter()
                .any(|d| d.starts_with(Path::new("/sys/fs/cgroup").join(ctrl)))
    };
    if has("pids") {
        assert!(before.iter().any(|s| s["cgroup_pids"].as_u64() == Some(1)));
    }
    if has("unified") {
        let psi = |s: &&Value| s["cgroup_memory_pressure_avg10_percent"].as_f64();
        assert!(
            samples
                .iter()
                .all(|s| psi(s).is_some_and(|p| (0.0..=100.0).contains(&p)))
        );
    }
    if has("cpuacct") {
        let cpu = |s: &Value| s["cgroup_cpu_usage_s"].as_f64().expect("cpu usage");
        assert!(cpu(samples[samples.len() - 1]) > cpu(samples[0]));
    }

    // The verdict: the limit check and the OOM check fail, the limit is what runs out.
    let out = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg(&rec)
        .args(["--format", "json", "--min-span", "1s", "--min-samples", "5"])
        .output()
        .expect("resanalyze");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let check = |name: &str| {
        doc["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} check in {}", doc["checks"]))
    };
    assert_eq!(check("memory_limit")["ok"], false);
    assert!(check("memory_limit")["value"].as_f64() > Some(80.0));
    assert_eq!(check("oom_kills")["ok"], false);
    assert!(check("oom_kills")["value"].as_u64() >= Some(1));
    assert_eq!(doc["leak"]["series"], "cgroup_memory_mb");
    assert_eq!(
        doc["projections"]["memory_exhausted_against"],
        "cgroup_limit"
    );
    assert_eq!(doc["projections"]["memory_limit_mb"].as_f64(), Some(64.0));

    // --follow warns of the limit before the sample that shows the kill.
    let out = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg("--follow")
        .arg(&rec)
        .args([
            "--follow-every",
            "1",
            "--follow-idle",
            "2s",
            "--min-span",
            "1s",
        ])
        .output()
        .expect("resanalyze --follow");
    assert_eq!(out.status.code(), Some(1));
    let found: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "finding")
        .collect();
    let seen = |kind: &str| {
        found
            .iter()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["samples_seen"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} finding in {found:?}"))
    };
    assert!(
        seen("memory_limit") <= kill_at as u64,
        "the limit warning came at sample {}, the kill shows at sample {}",
        seen("memory_limit"),
        kill_at + 1
    );
    assert_eq!(seen("oom_kill"), kill_at as u64 + 1);
}

/// CPython taking 1 MB every 1/2 s: 2 MB/s, under the limit for the whole recording.
const LEAK_SLOWLY: &str = r#"
import time
keep = []
while True:
    keep.append(b"\x01" * (1 << 20))
    time.sleep(1 / 2)
"#;

#[test]
fn a_cgroup_leaking_towards_its_limit_is_projected_to_reach_it() {
    let Some(mut cg) = cgroup_or_skip() else {
        return;
    };
    cg.run_python(LEAK_SLOWLY);
    let tmp = tempfile::tempdir().expect("tempdir");
    let rec = tmp.path().join("leak.jsonl");
    let status = Command::new(resmon())
        .args([
            "--cgroup",
            &cg.path,
            "--interval",
            "200ms",
            "--duration",
            "12s",
        ])
        .arg("--output")
        .arg(&rec)
        .status()
        .expect("resmon");
    assert!(status.success());
    let samples: Vec<Value> = lines(&rec)
        .into_iter()
        .filter(|r| r["type"] == "sample")
        .collect();
    let last = samples[samples.len() - 1]["cgroup_memory_mb"]
        .as_f64()
        .expect("memory");
    assert!(
        last < 50.0,
        "the child must stay under the limit here: {last} MB"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg(&rec)
        .args(["--format", "json", "--min-span", "1s", "--min-samples", "5"])
        .output()
        .expect("resanalyze");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let p = &doc["projections"];
    assert_eq!(p["memory_exhausted_against"], "cgroup_limit");
    // 2 MB/s = 7,200 MB/h towards the 64 MB limit from where the recording ended (the
    // trend test needs 10 s of points: the timeline's buckets are 1 s wide at first).
    let expected_h = (64.0 - last) / 7_200.0;
    let hours = p["hours_until_memory_limit"].as_f64().expect("projected");
    eprintln!("ended at {last} MB: limit reached in {hours:.5} h, expected {expected_h:.5} h");
    assert!(
        (hours / expected_h - 1.0).abs() < 0.35,
        "limit reached in {hours} h, expected about {expected_h} h"
    );
    assert_eq!(p["hours_until_memory_exhausted"].as_f64(), Some(hours));
    assert_eq!(doc["leak"]["verdict"], "leak");
    let oom = doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "oom_kills").cloned())
        .expect("oom check");
    assert_eq!(oom["ok"], true, "{oom}");
}
