//! Real processes recorded by the real `resmon` binary, judged by the real `resanalyze`:
//! CPython churning garbage (RSS really rises and falls: checked), CPython really leaking
//! ~1 MB/s, a JVM collecting 20 MB/s of garbage under `-Xmx64m`, and `--follow` on a live
//! recording of a process that warms up (a fast rise, then steady churn) or leaks.
//!
//! Needs `python3` (and `java`/`javac` for the JVM case, skipped with a printed reason when
//! absent) and the workspace's `resmon`, built next to `resanalyze` by `cargo test`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The `resmon` binary built by the same cargo run (it sits beside `resanalyze`).
fn resmon() -> PathBuf {
    let resanalyze = PathBuf::from(env!("CARGO_BIN_EXE_resanalyze"));
    let path = resanalyze.with_file_name("resmon");
    assert!(
        path.is_file(),
        "{} is not built: run `cargo test` for the workspace, or `cargo build -p resmon` first",
        path.display()
    );
    path
}

fn have(tool: &str, version_flag: &str) -> bool {
    Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// CPython churning garbage: each cycle builds a list of small strings step by step (pymalloc
/// arenas, about 100 MB), then drops it; CPython frees empty arenas back to the OS, so RSS
/// falls at the end of every cycle, as a collector's sawtooth does.
const CHURN: &str = r#"
import sys, time
period = float(sys.argv[1])
steps = 20
while True:
    hold = []
    for _ in range(steps):
        hold.append([str(i) * 4 for i in range(60000)])
        time.sleep(period / steps)
    hold = None
"#;

/// CPython leaking about 1 MB/s: 100 kB objects kept forever, ten a second.
const LEAK: &str = r#"
import time
keep = []
while True:
    keep.append(bytes(range(256)) * 400)
    time.sleep(0.1)
"#;

/// A warm-up (about 80 MB taken over the first 4 s, then kept) followed by steady churn.
const WARMUP: &str = r#"
import time
cache = []
for _ in range(40):
    cache.append(bytes(range(256)) * 8000)
    time.sleep(0.1)
while True:
    garbage = [str(i) for i in range(20000)]
    time.sleep(0.05)
"#;

/// Records `cmd` with resmon every 200 ms for `secs` seconds into `out`.
fn record(out: &Path, secs: u32, cmd: &[&str]) {
    let status = Command::new(resmon())
        .args([
            "--interval",
            "200ms",
            "--duration",
            &format!("{secs}s"),
            "--output",
        ])
        .arg(out)
        .arg("--")
        .args(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run resmon");
    assert!(status.success(), "resmon: {status}");
}

/// The judged RSS (`tree_memory_mb`) of every sample of a recording.
fn rss(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .expect("read recording")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "sample")
        .filter_map(|r| r["tree_memory_mb"].as_f64())
        .collect()
}

/// Runs `resanalyze FILE --format json` with trend minimums fit for a minute-long recording
/// and checks the memory verdict is `verdict`, the `memory_growth` check agrees with it, and
/// the exit status is a verdict's (the other checks, such as the machine's average CPU, are
/// not what these tests are about). Returns the analysis.
fn judged(path: &Path, verdict: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg(path)
        .args([
            "--min-span",
            "30s",
            "--min-samples",
            "30",
            "--format",
            "json",
        ])
        .output()
        .expect("run resanalyze");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    println!("{}", doc["leak"]);
    assert_eq!(doc["leak"]["verdict"], verdict, "{}", doc["leak"]["reason"]);
    let check = doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "memory_growth"))
        .expect("memory_growth check");
    assert_eq!(check["ok"], Value::Bool(verdict != "leak"), "{check}");
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(1), "exit {code:?}");
    if verdict == "leak" {
        assert_eq!(code, Some(1));
    }
    doc
}

#[test]
fn a_python_process_churning_garbage_is_no_leak() {
    if !have("python3", "--version") {
        eprintln!("skipping: python3 not installed (the churning process)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("churn.jsonl");
    record(&path, 60, &["python3", "-c", CHURN, "6"]);
    let mb = rss(&path);
    // The RSS really cycles: large falls, many of them.
    let falls = mb.windows(2).filter(|w| w[0] - w[1] > 30.0).count();
    let (lo, hi) = mb
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    println!(
        "{} samples, RSS {lo:.0}..{hi:.0} MB, {falls} falls over 30 MB",
        mb.len()
    );
    assert!(mb.len() >= 250, "{} samples", mb.len());
    assert!(hi - lo > 50.0 && falls >= 5, "RSS does not cycle: {mb:?}");
    let doc = judged(&path, "no_leak");
    assert_eq!(doc["leak"]["basis"], "cycle_floor", "{}", doc["leak"]);
}

#[test]
fn a_python_process_leaking_a_megabyte_a_second_is_a_leak() {
    if !have("python3", "--version") {
        eprintln!("skipping: python3 not installed (the leaking process)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("leak.jsonl");
    record(&path, 40, &["python3", "-c", LEAK]);
    let mb = rss(&path);
    let grown = mb.last().copied().unwrap_or(0.0) - mb.first().copied().unwrap_or(0.0);
    assert!(grown > 25.0, "the process leaked only {grown:.1} MB");
    let doc = judged(&path, "leak");
    let slope = doc["leak"]["slope_mb_per_hour"].as_f64().expect("slope");
    // ~1 MB/s is ~3600 MB/h; RSS also holds the interpreter's own growth.
    assert!(slope > 1800.0 && slope < 7200.0, "slope {slope} MB/h");
}

#[test]
fn a_jvm_collecting_garbage_is_no_leak() {
    if !have("java", "-version") || !have("javac", "-version") {
        eprintln!("skipping: java/javac not installed (the JVM churning garbage)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("Churn.java"),
        r#"public class Churn {
    public static void main(String[] args) throws Exception {
        long sink = 0;
        while (true) {
            // 200 x 10 kB every ~10 ms: about 20 MB/s of garbage.
            for (int i = 0; i < 200; i++) {
                byte[] b = new byte[10_000];
                b[i] = (byte) i;
                sink += b[0];
            }
            Thread.sleep(10);
            if (sink == 42) System.out.println(sink);
        }
    }
}
"#,
    )
    .expect("write Churn.java");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(dir.path())
        .arg(dir.path().join("Churn.java"))
        .status()
        .expect("javac");
    assert!(javac.success());
    let path = dir.path().join("jvm.jsonl");
    let cp = dir.path().to_string_lossy().into_owned();
    record(&path, 45, &["java", "-Xmx64m", "-cp", &cp, "Churn"]);
    judged(&path, "no_leak");
}

/// Follows a recording resmon is still writing (200 ms samples); returns the follower's
/// records once resmon's `stop` event ends it.
fn follow_live(dir: &Path, name: &str, secs: u32, script: &str) -> Vec<Value> {
    let path = dir.join(format!("{name}.jsonl"));
    let follower = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg("--follow")
        .arg(&path)
        .args(["--follow-estimates", "--format", "jsonl"])
        .args([
            "--min-span",
            "5s",
            "--min-samples",
            "20",
            "--follow-every",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn follower");
    record(&path, secs, &["python3", "-c", script]);
    let out = follower.wait_with_output().expect("follower");
    BufReader::new(&out.stdout[..])
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("jsonl"))
        .collect()
}

#[test]
fn follow_does_not_judge_the_warm_up_but_does_warn_of_a_live_leak() {
    if !have("python3", "--version") {
        eprintln!("skipping: python3 not installed (the followed processes)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    // Both recordings at once: the test takes one recording's time.
    let leaking = {
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || follow_live(&dir, "leak", 25, LEAK))
    };
    let warm = follow_live(dir.path(), "warmup", 25, WARMUP);
    let leak_of = |recs: &[Value]| {
        recs.iter()
            .find(|r| r["type"] == "finding" && r["kind"] == "memory_leak")
            .cloned()
    };
    assert!(
        warm.iter()
            .any(|r| r["event"] == "estimate" && r["leak_verdict"] == "no_leak"),
        "the follower judged the steady part: {warm:?}"
    );
    assert_eq!(leak_of(&warm), None, "the warm-up was called a leak");
    let leak = leaking.join().expect("leak follower");
    let finding = leak_of(&leak).expect("a memory_leak finding");
    // Not before the warm-up (--min-span) plus half a --min-span of evidence.
    let hours = finding["elapsed_hours"].as_f64().expect("elapsed");
    assert!(hours * 3600.0 >= 7.5, "spoke after {:.1} s", hours * 3600.0);
}
