//! `cargo xtask bench resanalyze [--reps N] [--hours H]`: generates a 72 h @ 1 s resmon trace
//! (259,200 samples) and a 4x one, then times `resanalyze` against the seed's
//! `seed_monitor.py --analyze` on the same file, and measures resanalyze's peak RSS on 1x and
//! 4x (GNU `time -f %M`) to show it does not grow with the input.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::measure::median;
use anyhow::{Context, Result, bail};
use resanalyze::tracegen::{Shape, TraceSpec, write_trace};

const SEED: &str = "/work/shared/anchors/seed_monitor.py";

/// Runs `cmd` once; wall seconds and (with GNU time) peak RSS in MB.
fn timed(program: &str, args: &[&str]) -> Result<(f64, Option<f64>)> {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", program]);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {program}"))?;
    let secs = start.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    // resanalyze exits 1 when a check fails (the generated trace leaks on purpose).
    if code > 1 || (code == 1 && !program.ends_with("resanalyze")) {
        bail!(
            "{program} failed ({code}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rss = if gnu_time {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    } else {
        None
    };
    Ok((secs, rss))
}

fn generate(path: &Path, hours: f64) -> Result<u64> {
    let mut spec = TraceSpec::new(Shape::LateLeak, hours, 1.0);
    spec.rate_mb_per_hour = 20.0;
    // The seed's --analyze reads every line as a sample: give it samples only.
    spec.start_event = false;
    let mut f = BufWriter::with_capacity(1 << 20, File::create(path)?);
    write_trace(&mut f, &spec)?;
    f.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Entry point.
pub fn run(args: &[String]) -> Result<()> {
    let mut reps = 5usize;
    let mut hours = 72.0f64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => reps = it.next().context("--reps N")?.parse()?,
            "--hours" => hours = it.next().context("--hours H")?.parse()?,
            other => bail!("unknown argument {other} (use --reps N, --hours H)"),
        }
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "resanalyze"])
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p resanalyze failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let bin: PathBuf = Path::new(&target).join("release/resanalyze");
    let dir = std::env::temp_dir().join(format!("resanalyze-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench(&bin, &dir, reps, hours);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn bench(bin: &Path, dir: &Path, reps: usize, hours: f64) -> Result<()> {
    let one = dir.join("trace-1x.jsonl");
    let four = dir.join("trace-4x.jsonl");
    let s1 = generate(&one, hours)?;
    let s4 = generate(&four, hours * 4.0)?;
    println!(
        "traces: 1x {:.0} h @ 1 s = {:.1} MB, 4x = {:.1} MB",
        hours,
        s1 as f64 / 1e6,
        s4 as f64 / 1e6
    );
    let bin_s = bin.to_str().context("binary path")?;
    let one_s = one.to_str().context("path")?;
    let four_s = four.to_str().context("path")?;
    let mut ours = Vec::new();
    let mut seed = Vec::new();
    let mut rss1: f64 = 0.0;
    let mut rss4: f64 = 0.0;
    let have_seed = Path::new(SEED).exists();
    for _ in 0..reps {
        let (t, rss) = timed(bin_s, &[one_s, "--format", "json"])?;
        ours.push(t);
        rss1 = rss1.max(rss.unwrap_or(0.0));
        if have_seed {
            seed.push(timed("python3", &[SEED, "--analyze", one_s])?.0);
        }
    }
    let mut ours4 = Vec::new();
    for _ in 0..reps.min(3) {
        let (t, rss) = timed(bin_s, &[four_s, "--format", "json"])?;
        ours4.push(t);
        rss4 = rss4.max(rss.unwrap_or(0.0));
    }
    let m_ours = median(ours);
    println!("resanalyze 1x: median {m_ours:.3} s over {reps} runs, peak RSS {rss1:.1} MB");
    println!(
        "resanalyze 4x: median {:.3} s, peak RSS {rss4:.1} MB (ratio 4x/1x {:.2})",
        median(ours4),
        if rss1 > 0.0 { rss4 / rss1 } else { 0.0 }
    );
    if have_seed {
        let m_seed = median(seed);
        println!("seed_monitor.py --analyze 1x: median {m_seed:.3} s over {reps} runs");
        println!("speed-up: {:.1}x (target >= 10x)", m_seed / m_ours);
    } else {
        println!("seed_monitor.py not found at {SEED}: reference not run");
    }
    Ok(())
}
