//! `cargo xtask bench logscan [--size-mb 128] [--reps 3]`: logscan's throughput with the
//! built-in pack on two generated logs, a sparse one (about 1.6 % of lines match) and a dense
//! one (about 90 % match, counted by `rg -c`), each side by side with `rg -c -j1` given the same
//! patterns, both pinned to one core (`taskset -c 0` when available); medians of wall and CPU
//! time, MB/s, ratio, and peak RSS at two sizes to show memory is flat in the log's size.

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
        size_mb: 128,
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

/// Which log to generate: the seeds' usual shape, or a chatty bot at DEBUG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Mostly ordinary lines (about 1.6 % match): heartbeats, latencies, reconnects, handler
    /// timeouts and rate limits mixed in.
    Sparse,
    /// Most lines match (about 90 %): a latency line for every request and every stage, a
    /// heartbeat every second, reconnect attempts and the websockets library's retries.
    Dense,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Sparse => "sparse",
            Shape::Dense => "dense",
        }
    }
}

/// A sparse log in the seeds' shape of `size_mb` MiB (also `bench seccheck`'s input); returns
/// its size in bytes.
pub(super) fn generate(path: &Path, size_mb: u64) -> Result<u64> {
    generate_shape(path, size_mb, Shape::Sparse)
}

/// A log of `size_mb` MiB in the given shape; returns its size in bytes.
fn generate_shape(path: &Path, size_mb: u64, shape: Shape) -> Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let target = size_mb << 20;
    let mut written = 0u64;
    let mut i = 0u64;
    let mut line = String::with_capacity(256);
    while written < target {
        line.clear();
        match shape {
            Shape::Sparse => sparse_line(&mut line, i),
            Shape::Dense => dense_line(&mut line, i),
        }
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    w.flush()?;
    Ok(written)
}

/// `YYYY-MM-DD HH:MM:SS,mmm` for line `i` at `per_s` lines a second of log time, days counting
/// up from 2025-10-01 (monotonic for well over a GB).
fn python_time(out: &mut String, i: u64, per_s: u64) {
    use std::fmt::Write as _;
    let sec = i / per_s;
    let (d, h, m, s) = (
        1 + sec / 86_400,
        (sec / 3600) % 24,
        (sec / 60) % 60,
        sec % 60,
    );
    let ms = (i % per_s) * 1000 / per_s;
    let _ = write!(out, "2025-10-{d:02} {h:02}:{m:02}:{s:02},{ms:03}");
}

/// Line `i` of the sparse log: ten lines a second, about one in 65 matches.
fn sparse_line(out: &mut String, i: u64) {
    use std::fmt::Write as _;
    python_time(out, i, 10);
    let _ = match i % 200 {
        0 => writeln!(out, " - bot - INFO - [HB] alive"),
        1 | 101 => writeln!(
            out,
            " - metrics - INFO - latency_ms{{stage=\"rest\"}} {}",
            20 + i % 60
        ),
        2 if i % 2000 == 2 => writeln!(
            out,
            " - ws - WARNING - Reconnect attempt 2/10 for ws-1, backoff delay 2.0s"
        ),
        3 if i % 4000 == 3 => writeln!(
            out,
            " - ws - ERROR - [HANDLER_TIMEOUT] WebSocket message handler timeout for ws-1"
        ),
        4 if i % 8000 == 4 => writeln!(
            out,
            " - rest - WARNING - HTTP 429 Too Many Requests from /v5/order/create"
        ),
        _ => writeln!(
            out,
            " - strategy - INFO - book update BTCUSDT bid={}.{} ask={}.{} qty={} seq={i}",
            60000 + i % 500,
            i % 100,
            60001 + i % 500,
            (i * 3) % 100,
            i % 17
        ),
    };
}

/// Line `i` of the dense log: twenty lines a second, as a trading bot at DEBUG writes them:
/// a latency figure per request and stage, the heartbeat every second, reconnect attempts
/// (its own and the `websockets` library's) every few seconds; about 90 % of lines match.
fn dense_line(out: &mut String, i: u64) {
    use std::fmt::Write as _;
    python_time(out, i, 20);
    let stage = ["rest", "ws", "order", "db"][(i % 4) as usize];
    let _ = match i % 20 {
        0 => writeln!(out, " - bot - INFO - [HB] alive"),
        3 | 13 => writeln!(
            out,
            " - strategy - DEBUG - book update BTCUSDT bid={}.{} ask={}.{} qty={} seq={i}",
            60000 + i % 500,
            i % 100,
            60001 + i % 500,
            (i * 3) % 100,
            i % 17
        ),
        7 if i % 100 == 7 => writeln!(
            out,
            " - ws - WARNING - Reconnect attempt {}/10 for ws-public, backoff delay {}.0s",
            1 + i % 9,
            1 + i % 5
        ),
        7 if i % 100 == 27 => writeln!(
            out,
            " - websockets.client - INFO - connect failed; reconnecting in {}.{} seconds: \
             ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.7', 443)",
            i % 4,
            i % 10
        ),
        8 | 18 => writeln!(
            out,
            " - rest - DEBUG - GET /v5/market/tickers?category=linear status=200 latency_ms={}.{}",
            15 + i % 90,
            i % 10
        ),
        _ => writeln!(
            out,
            " - metrics - DEBUG - latency_ms{{stage=\"{stage}\"}} {}",
            2 + (i * 7) % 180
        ),
    };
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

/// Runs the benchmark: for each shape, the log at full size (logscan and rg interleaved,
/// medians of wall and CPU time) and a 4x smaller one (logscan's peak RSS), each deleted
/// before the next is written so the disk never holds more than one full-size log.
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
    let regexes = pack_regexes(&logscan)?;
    let rg = which("rg");
    let dir = tempfile_dir()?;
    println!(
        "bench logscan: {} built-in patterns, one core (taskset -c 0), medians of {} runs, logscan and rg interleaved",
        regexes.len(),
        o.reps
    );
    let result = [Shape::Sparse, Shape::Dense]
        .into_iter()
        .try_for_each(|shape| bench_shape(&o, shape, &dir, &logscan, rg.as_deref(), &regexes));
    let _ = std::fs::remove_dir_all(&dir);
    if rg.is_none() {
        println!("rg not on PATH (Debian package ripgrep): no side-by-side figure");
    }
    result
}

/// One row: logscan (all checks, JSON summary, no events) and `rg -c -j1 --no-mmap` with the
/// same patterns on a generated log of `shape`.
fn bench_shape(
    o: &Opts,
    shape: Shape,
    dir: &Path,
    logscan: &Path,
    rg: Option<&Path>,
    regexes: &[String],
) -> Result<()> {
    let loose = [
        "--format",
        "json",
        "--no-events",
        "--max-reconnects-per-hour",
        "1000000000",
        "--max-crashes",
        "1000000000",
        "--max-errors-per-hour",
        "1000000000",
        "--max-p99-latency",
        "24h",
    ];
    let logscan_cmd = |file: &Path| {
        let mut c = pinned(logscan);
        c.args(loose).arg(file);
        c
    };
    let rg_cmd = |rg: &Path, file: &Path| {
        let mut c = pinned(rg);
        c.args(["-c", "-j1", "--no-mmap"]);
        for re in regexes {
            c.arg("-e").arg(re);
        }
        c.arg(file);
        c
    };
    let small = dir.join(format!("{}-small.log", shape.name()));
    generate_shape(&small, (o.size_mb / 4).max(1), shape)?;
    let small_rss = median(
        (0..o.reps)
            .map(|_| measure(&mut logscan_cmd(&small)).map(|c| c.peak_rss_mb))
            .collect::<Result<Vec<_>>>()?,
    );
    std::fs::remove_file(&small)?;
    let big = dir.join(format!("{}.log", shape.name()));
    let bytes = generate_shape(&big, o.size_mb, shape)?;
    let lines = count_lines(&big)?;
    let mb = bytes as f64 / (1u64 << 20) as f64;
    let (mut ls_wall, mut ls_cpu, mut ls_rss, mut rg_wall, mut rg_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..o.reps {
        let c = measure(&mut logscan_cmd(&big))?;
        ls_wall.push(c.wall_s);
        ls_cpu.push(c.cpu_s);
        ls_rss.push(c.peak_rss_mb);
        if let Some(rg) = rg {
            let c = measure(&mut rg_cmd(rg, &big))?;
            rg_wall.push(c.wall_s);
            rg_cpu.push(c.cpu_s);
        }
    }
    let (ls, ls_c) = (median(ls_wall), median(ls_cpu));
    let matched = match rg {
        Some(rg) => {
            let out = rg_cmd(rg, &big).output()?;
            let n: u64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            format!(
                ", {:.1} % of lines match (rg -c)",
                100.0 * n as f64 / lines.max(1) as f64
            )
        }
        None => String::new(),
    };
    println!("{} log: {mb:.0} MB, {lines} lines{matched}", shape.name());
    println!(
        "  logscan --format json (all checks): median {ls:.3} s = {:.0} MB/s (CPU {ls_c:.3} s = {:.0} MB/s), peak RSS {:.1} MB ({small_rss:.1} MB on the 4x smaller log)",
        mb / ls,
        mb / ls_c,
        median(ls_rss),
    );
    if !rg_wall.is_empty() {
        let (rg_s, rg_c) = (median(rg_wall), median(rg_cpu));
        println!(
            "  rg -c -j1 --no-mmap -e <same {} patterns>: median {rg_s:.3} s = {:.0} MB/s (CPU {rg_c:.3} s = {:.0} MB/s)",
            regexes.len(),
            mb / rg_s,
            mb / rg_c
        );
        println!(
            "  ratio logscan/rg time: {:.2}x wall, {:.2}x CPU",
            ls / rg_s,
            ls_c / rg_c
        );
    }
    std::fs::remove_file(&big)?;
    Ok(())
}

/// Lines in a file (its `\n`s, plus a last line without one).
fn count_lines(path: &Path) -> Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut n, mut last) = (0u64, b'\n');
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|b| **b == b'\n').count() as u64;
        last = buf[k - 1];
    }
    Ok(n + u64::from(last != b'\n'))
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("logscan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
