//! `cargo xtask bench logscan [--size-mb 1024] [--reps 3]`: logscan's throughput with the
//! built-in pack on a generated log, side by side with `rg -c` given the same patterns, both
//! pinned to one core (`taskset -c 0` when available); medians, MB/s, ratio, and peak RSS at
//! two sizes to show memory is flat in the log's size.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::measure::{measure, median};

struct Opts {
    size_mb: u64,
    reps: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        size_mb: 1024,
        reps: 3,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--size-mb" => o.size_mb = val()?.parse()?,
            "--reps" => o.reps = val()?.parse()?,
            other => bail!(
                "unknown option '{other}' (cargo xtask bench logscan [--size-mb N] [--reps R])"
            ),
        }
    }
    Ok(o)
}

/// A log in the seeds' shape: mostly ordinary lines, with heartbeats, latencies, reconnects,
/// handler timeouts, rate limits and the occasional traceback mixed in.
pub(super) fn generate(path: &Path, size_mb: u64) -> Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let target = size_mb << 20;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target {
        // Ten lines per second of log time, days counting up (monotonic for up to ~2.5 GB).
        let (d, h, m, s) = (
            1 + i / 864_000,
            (i / 36000) % 24,
            (i / 600) % 60,
            (i / 10) % 60,
        );
        let ts = format!("2025-10-{d:02} {h:02}:{m:02}:{s:02},{:03}", (i % 10) * 100);
        let line = match i % 200 {
            0 => format!("{ts} - bot - INFO - [HB] alive\n"),
            1 | 101 => format!(
                "{ts} - metrics - INFO - latency_ms{{stage=\"rest\"}} {}\n",
                20 + i % 60
            ),
            2 if i % 2000 == 2 => format!(
                "{ts} - ws - WARNING - Reconnect attempt 2/10 for ws-1, backoff delay 2.0s\n"
            ),
            3 if i % 4000 == 3 => format!(
                "{ts} - ws - ERROR - [HANDLER_TIMEOUT] WebSocket message handler timeout for ws-1\n"
            ),
            4 if i % 8000 == 4 => format!(
                "{ts} - rest - WARNING - HTTP 429 Too Many Requests from /v5/order/create\n"
            ),
            _ => format!(
                "{ts} - strategy - INFO - book update BTCUSDT bid={}.{} ask={}.{} qty={} seq={i}\n",
                60000 + i % 500,
                i % 100,
                60001 + i % 500,
                (i * 3) % 100,
                i % 17
            ),
        };
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    w.flush()?;
    Ok(written)
}

pub(super) fn pinned(program: &Path) -> Command {
    let taskset = Path::new("/usr/bin/taskset");
    if taskset.exists() {
        let mut c = Command::new(taskset);
        c.args(["-c", "0"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub(super) fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// The built-in pack's regexes, read from `logscan --list-patterns`, their named groups made
/// plain: rg joins every `-e` into one regex, where two patterns' `(?P<delay_s>` would clash.
fn pack_regexes(logscan: &Path) -> Result<Vec<String>> {
    let out = Command::new(logscan).arg("--list-patterns").output()?;
    let text = String::from_utf8(out.stdout)?;
    let value: toml::Value = toml::from_str(&text)?;
    let patterns = value
        .get("pattern")
        .and_then(toml::Value::as_array)
        .context("no [[pattern]] in --list-patterns")?;
    Ok(patterns
        .iter()
        .filter_map(|p| {
            p.get("regex")
                .and_then(toml::Value::as_str)
                .map(unnamed_groups)
        })
        .collect())
}

/// `(?P<name>...)` as `(?:...)`.
fn unnamed_groups(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len());
    let mut rest = regex;
    while let Some(i) = rest.find("(?P<") {
        let Some(j) = rest[i + 4..].find('>') else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str("(?:");
        rest = &rest[i + 4 + j + 1..];
    }
    out.push_str(rest);
    out
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "logscan"])
        .status()?
        .success();
    if !ok {
        bail!("cargo build --release -p logscan failed");
    }
    let logscan = root.join("target/release/logscan");
    let dir = tempfile_dir()?;
    let big = dir.join("big.log");
    let small = dir.join("small.log");
    eprintln!(
        "bench logscan: generating {} MB and {} MB logs in {}",
        o.size_mb,
        o.size_mb / 4,
        dir.display()
    );
    let bytes = generate(&big, o.size_mb)?;
    generate(&small, (o.size_mb / 4).max(1))?;
    let loose = [
        "--format",
        "json",
        "--no-events",
        "--max-reconnects-per-hour",
        "1000000000",
        "--max-crashes",
        "1000000000",
        "--max-p99-latency",
        "24h",
    ];
    let logscan_cmd = |file: &Path| {
        let mut c = pinned(&logscan);
        c.args(loose).arg(file);
        c
    };
    let mut ls_wall = Vec::new();
    let mut ls_rss = Vec::new();
    for _ in 0..o.reps {
        let c = measure(&mut logscan_cmd(&big))?;
        ls_wall.push(c.wall_s);
        ls_rss.push(c.peak_rss_mb);
    }
    let small_rss = median(
        (0..o.reps)
            .map(|_| measure(&mut logscan_cmd(&small)).map(|c| c.peak_rss_mb))
            .collect::<Result<Vec<_>>>()?,
    );
    let mb = bytes as f64 / (1u64 << 20) as f64;
    let ls = median(ls_wall);
    println!(
        "log: {mb:.0} MB, {} built-in patterns, one core",
        pack_regexes(&logscan)?.len()
    );
    println!(
        "logscan --format json (all checks): median {ls:.3} s = {:.0} MB/s, peak RSS {:.1} MB ({:.1} MB on the {}x smaller log)",
        mb / ls,
        median(ls_rss),
        small_rss,
        4
    );
    match which("rg") {
        Some(rg) => {
            let mut rg_wall = Vec::new();
            for _ in 0..o.reps {
                let mut c = pinned(&rg);
                c.args(["-c", "-j1", "--no-mmap"]);
                for re in pack_regexes(&logscan)? {
                    c.arg("-e").arg(re);
                }
                c.arg(&big);
                rg_wall.push(measure(&mut c)?.wall_s);
            }
            let rg_s = median(rg_wall);
            println!(
                "rg -c -e <same {} patterns>: median {rg_s:.3} s = {:.0} MB/s",
                pack_regexes(&logscan)?.len(),
                mb / rg_s
            );
            println!("ratio logscan/rg time: {:.2}x", ls / rg_s);
        }
        None => println!("rg not on PATH (Debian package ripgrep): no side-by-side figure"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("logscan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
