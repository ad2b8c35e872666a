//! `cargo xtask bench zombiereap [--procs 2000] [--tree 500] [--reps 5]`:
//! 1. `zombiereap scan` against the `ps -eo pid,ppid,stat,cmd | grep Z` pipeline on a machine
//!    with `--procs` extra processes (and a few zombies), medians and ratio;
//! 2. `zombiereap kill-tree` of a `--tree`-process tree whose members take 0.5 to 1.0 s to exit
//!    after SIGTERM: the whole kill against the slowest member's own exit time.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::measure::{measure_status, median};

struct Opts {
    procs: u32,
    tree: u32,
    reps: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        procs: 2000,
        tree: 500,
        reps: 5,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--procs" => o.procs = val()?.parse()?,
            "--tree" => o.tree = val()?.parse()?,
            "--reps" => o.reps = val()?.parse()?,
            other => bail!(
                "unknown option '{other}' (cargo xtask bench zombiereap [--procs N] [--tree N] [--reps R])"
            ),
        }
    }
    Ok(o)
}

/// Kills a helper process group when dropped.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn python_group(script: &str, arg: &str) -> Result<Group> {
    let mut child = Command::new("python3")
        .args(["-c", script, arg])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("starting python3")?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
        &mut line,
    )?;
    if line.trim() != "ready" {
        bail!("helper did not start: {line}");
    }
    Ok(Group(child))
}

/// N sleeping children and 10 zombies.
const CROWD: &str = "import os, sys, time, signal
n = int(sys.argv[1])
for i in range(n):
    if os.fork() == 0:
        signal.pause(); os._exit(0)
for i in range(10):
    if os.fork() == 0: os._exit(0)
time.sleep(0.5)
print('ready', flush=True)
while True: time.sleep(1)
";

/// N children that each exit 0.5 to 1.0 s after SIGTERM.
const SLOW_TREE: &str = "import os, sys, time, signal
n = int(sys.argv[1])
for i in range(n):
    if os.fork() == 0:
        delay = 0.5 + 0.5 * i / max(n - 1, 1)
        signal.signal(signal.SIGTERM, lambda *a, d=delay: (time.sleep(d), os._exit(0)))
        while True: signal.pause()
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
print('ready', flush=True)
while True: time.sleep(1)
";

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if !Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "zombiereap"])
        .status()?
        .success()
    {
        bail!("cargo build --release -p zombiereap failed");
    }
    let zr = root.join("target/release/zombiereap");

    // 1. scan vs ps | grep Z
    let crowd = python_group(CROWD, &o.procs.to_string())?;
    let total = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .count();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..o.reps {
        ours.push(
            measure_status(
                Command::new(&zr).args(["scan", "--format", "jsonl"]),
                &[0, 1],
            )?
            .wall_s,
        );
        theirs.push(
            measure_status(
                Command::new("sh").args(["-c", "ps -eo pid,ppid,stat,cmd | grep Z"]),
                &[0, 1],
            )?
            .wall_s,
        );
    }
    drop(crowd);
    let (a, b) = (median(ours), median(theirs));
    println!(
        "scan over {total} processes: zombiereap scan {:.1} ms, ps -eo pid,ppid,stat,cmd | grep Z {:.1} ms: {:.2}x faster (medians of {})",
        a * 1e3,
        b * 1e3,
        b / a,
        o.reps
    );

    // 2. kill-tree of a slow-exiting tree
    let mut walls = Vec::new();
    let mut slowest = Vec::new();
    for _ in 0..o.reps.min(3) {
        let tree = python_group(SLOW_TREE, &o.tree.to_string())?;
        let pid = tree.0.id().to_string();
        let start = Instant::now();
        let out = Command::new(&zr)
            .args(["kill-tree", &pid, "--timeout", "10s", "--format", "jsonl"])
            .output()?;
        walls.push(start.elapsed().as_secs_f64());
        let summary = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| serde_json_field(l, "slowest_exit_s"))
            .unwrap_or(f64::NAN);
        slowest.push(summary);
        drop(tree);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (w, s) = (median(walls), median(slowest));
    println!(
        "kill-tree of {} processes exiting 0.5-1.0 s after SIGTERM: {w:.3} s in all, slowest member's own exit 1.000 s (observed {s:.3} s): {:.2}x",
        o.tree + 1,
        w / 1.0
    );
    Ok(())
}

/// A numeric field of a flat JSON line, without a JSON dependency in the hot path.
fn serde_json_field(line: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = line.find(&pat)? + pat.len();
    line[at..].split([',', '}']).next()?.trim().parse().ok()
}
