//! `cargo xtask bench logrotate [--runs 50] [--steps 40] [--per-step 10] [--kb 100] [--reps 3]`:
//! on a generated tree of runs × steps × files (20,000 files of 100 kB, about 2 GB, by default):
//! 1. retention without compression (`--keep-per-step 3 --keep-runs 25`), wall time;
//! 2. compression of 5 runs' old files against `gzip -6` on the same files (MB/s);
//! 3. the same rotate+compress job against logrotate(8) given an equivalent config, on one live
//!    log per step of 5 runs.
//!
//! Each repetition works on a hard-linked copy of the generated tree, so it starts identical.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use super::logscan::which;
use super::measure::{measure, median, release_build};

struct Opts {
    runs: usize,
    steps: usize,
    per_step: usize,
    kb: usize,
    reps: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        runs: 50,
        steps: 40,
        per_step: 10,
        kb: 100,
        reps: 3,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = val()?.parse()?,
            "--steps" => o.steps = val()?.parse()?,
            "--per-step" => o.per_step = val()?.parse()?,
            "--kb" => o.kb = val()?.parse()?,
            "--reps" => o.reps = val()?.parse()?,
            other => bail!(
                "unknown option '{other}' (see the module doc of xtask/src/bench/logrotate.rs)"
            ),
        }
    }
    Ok(o)
}

/// A log-like block of `kb` kB (compresses about as real bot logs do).
fn block(kb: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(kb * 1024 + 200);
    let mut i = seed;
    while out.len() < kb * 1024 {
        let _ = writeln!(
            out,
            "2026-11-{:02} {:02}:{:02}:{:02},{:03} - strategy - INFO - book update BTCUSDT bid={}.{} ask={}.{} qty={} seq={i}",
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 7) % 60,
            i % 1000,
            60000 + i % 977,
            i % 100,
            60001 + i % 977,
            (i * 7) % 100,
            i % 13
        );
        i += 1;
    }
    out.truncate(kb * 1024);
    out
}

fn set_age(p: &Path, age_s: u64) -> Result<()> {
    std::fs::File::options()
        .write(true)
        .open(p)?
        .set_modified(SystemTime::now() - Duration::from_secs(age_s))?;
    Ok(())
}

/// runs × steps × per_step files: `run-N/stepK_I.log`, older with higher I and lower N.
fn generate(root: &Path, o: &Opts) -> Result<u64> {
    let mut bytes = 0;
    for r in 0..o.runs {
        let run = root.join(format!("run-{}", 1_795_000_000 + r * 3600));
        std::fs::create_dir_all(&run)?;
        for s in 0..o.steps {
            for i in 0..o.per_step {
                let p = run.join(format!("step{s:02}_{i}.log"));
                let data = block(o.kb, r * 7919 + s * 104_729 + i);
                std::fs::write(&p, &data)?;
                bytes += data.len() as u64;
                set_age(&p, ((o.runs - r) * 3600 + i * 60) as u64)?;
            }
        }
    }
    Ok(bytes)
}

fn hardlink_copy(from: &Path, to: &Path) -> Result<()> {
    copy_tree(from, to, "-al")
}

/// `cp FLAG from to` after removing `to` (`-al`: hard links; `-a`: real copies, which gzip, and
/// so logrotate(8), needs: it leaves files with other links unchanged).
fn copy_tree(from: &Path, to: &Path, flag: &str) -> Result<()> {
    let _ = std::fs::remove_dir_all(to);
    if !Command::new("cp")
        .arg(flag)
        .arg(from)
        .arg(to)
        .status()?
        .success()
    {
        bail!("cp {flag} {} {} failed", from.display(), to.display());
    }
    Ok(())
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p, suffix));
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let bin = release_build(&["logrotate"])?.join("logrotate");
    let base = std::env::temp_dir().join(format!("logrotate-bench-{}", std::process::id()));
    let master = base.join("master");
    std::fs::create_dir_all(&master)?;
    let total = generate(&master, &o)?;
    let files = o.runs * o.steps * o.per_step;
    println!(
        "tree: {files} files, {:.2} GB, {} runs x {} steps x {} files",
        total as f64 / 1e9,
        o.runs,
        o.steps,
        o.per_step
    );

    // 1. retention without compression
    let work = base.join("work");
    let mut walls = Vec::new();
    for _ in 0..o.reps {
        hardlink_copy(&master, &work)?;
        let c = measure(
            Command::new(&bin)
                .args([
                    "--keep-per-step",
                    "3",
                    "--keep-runs",
                    "25",
                    "--format",
                    "jsonl",
                ])
                .arg(&work),
        )?;
        walls.push(c.wall_s);
    }
    let left = files_under(&work, ".log").len();
    println!(
        "1. retention (--keep-per-step 3 --keep-runs 25): median {:.3} s for {files} files ({left} left); target < 2 s",
        median(walls)
    );

    // 2. compression throughput against gzip -6, on 5 runs' old files
    let subset = base.join("subset");
    let _ = std::fs::remove_dir_all(&subset);
    std::fs::create_dir_all(&subset)?;
    for r in 0..5.min(o.runs) {
        let name = format!("run-{}", 1_795_000_000 + r * 3600);
        Command::new("cp")
            .arg("-al")
            .arg(master.join(&name))
            .arg(subset.join(&name))
            .status()?;
    }
    let old: Vec<PathBuf> = files_under(&subset, ".log")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with("_0.log"))
        .collect();
    let old_bytes: u64 = old
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let mb = old_bytes as f64 / 1e6;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..o.reps {
        hardlink_copy(&subset, &work)?;
        ours.push(
            measure(
                Command::new(&bin)
                    .args(["--compress", "--format", "jsonl"])
                    .arg(&work),
            )?
            .wall_s,
        );
        hardlink_copy(&subset, &work)?;
        let targets: Vec<PathBuf> = files_under(&work, ".log")
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with("_0.log"))
            .collect();
        let mut gz = Command::new("gzip");
        gz.args(["-6", "-f"]).args(&targets);
        theirs.push(measure(&mut gz)?.wall_s);
    }
    let (a, b) = (median(ours), median(theirs));
    println!(
        "2. compression of {} files, {mb:.0} MB: logrotate --compress {:.0} MB/s ({a:.2} s), gzip -6 {:.0} MB/s ({b:.2} s): {:.2}x gzip's throughput",
        old.len(),
        mb / a,
        mb / b,
        b / a
    );

    // 3. rotate + compress one live log per step, against logrotate(8)
    match which("logrotate")
        .filter(|p| p.starts_with("/usr"))
        .or_else(|| Some(PathBuf::from("/usr/sbin/logrotate")).filter(|p| p.exists()))
    {
        None => println!(
            "3. logrotate(8) not installed (Debian package logrotate): no side-by-side figure"
        ),
        Some(system) => {
            let live = base.join("live");
            let _ = std::fs::remove_dir_all(&live);
            for r in 0..5.min(o.runs) {
                let run = live.join(format!("run-{r}"));
                std::fs::create_dir_all(&run)?;
                for s in 0..o.steps {
                    std::fs::hard_link(
                        master.join(format!("run-{}/step{s:02}_0.log", 1_795_000_000 + r * 3600)),
                        run.join(format!("step{s:02}.log")),
                    )?;
                }
            }
            let n = 5.min(o.runs) * o.steps;
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for _ in 0..o.reps {
                copy_tree(&live, &work, "-a")?;
                let a = measure(
                    Command::new(&bin)
                        .args(["--max-size", "1B", "--rename", "--format", "jsonl"])
                        .arg(&work),
                )?;
                let b = measure(
                    Command::new(&bin)
                        .args(["--compress", "--compress-after", "0s", "--format", "jsonl"])
                        .arg(&work),
                )?;
                ours.push(a.wall_s + b.wall_s);
                if files_under(&work, ".gz").len() != n {
                    bail!("logrotate did not rotate and compress all {n} logs");
                }
                copy_tree(&live, &work, "-a")?;
                let conf = base.join("logrotate.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "{}/*/*.log {{\n    rotate 1000\n    compress\n    missingok\n    nocreate\n}}\n",
                        work.display()
                    ),
                )?;
                let state = base.join("logrotate.state");
                let _ = std::fs::remove_file(&state);
                theirs.push(
                    measure(
                        Command::new(&system)
                            .arg("-f")
                            .arg("-s")
                            .arg(&state)
                            .arg(&conf),
                    )?
                    .wall_s,
                );
                if files_under(&work, ".gz").len() != n {
                    bail!("logrotate(8) did not rotate and compress all {n} logs");
                }
            }
            let (a, b) = (median(ours), median(theirs));
            println!(
                "3. rotate+compress {n} live logs: logrotate (rename pass + compress pass) {a:.2} s, logrotate(8) -f {b:.2} s: logrotate(8)/ours = {:.2}x",
                b / a
            );
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}
