//! `cargo xtask bench resanalyze [--reps N] [--hours H]`: generates a 72 h @ 1 s resmon trace
//! (259,201 samples) and a 4x one, then times `resanalyze` against the seed's
//! `seed_monitor.py --analyze` on the same file, alternating the two in every repetition, and
//! measures wall time, CPU time (user + system) and peak RSS of each run with `wait4`; the 4x
//! runs show that resanalyze's peak RSS does not grow with the input.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::measure::{Cost, measure_status, median};
use anyhow::{Context, Result, bail};
use resanalyze::tracegen::{Shape, TraceSpec, write_trace};

const SEED: &str = "/work/shared/anchors/seed_monitor.py";

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
    let result = bench(&bin, &dir, reps.max(1), hours);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One run of resanalyze on `trace` (exit 1 is fine: the generated trace leaks on purpose).
fn ours(bin: &Path, trace: &Path) -> Result<Cost> {
    measure_status(
        Command::new(bin).arg(trace).args(["--format", "json"]),
        &[0, 1],
    )
}

/// Medians of wall and CPU seconds, and the largest peak RSS.
fn summary(runs: &[Cost]) -> (f64, f64, f64) {
    (
        median(runs.iter().map(|c| c.wall_s).collect()),
        median(runs.iter().map(|c| c.cpu_s).collect()),
        runs.iter().map(|c| c.peak_rss_mb).fold(0.0, f64::max),
    )
}

fn bench(bin: &Path, dir: &Path, reps: usize, hours: f64) -> Result<()> {
    let one = dir.join("trace-1x.jsonl");
    let four = dir.join("trace-4x.jsonl");
    let s1 = generate(&one, hours)?;
    let s4 = generate(&four, hours * 4.0)?;
    println!(
        "traces: 1x {:.1} h @ 1 s = {:.1} MB, 4x = {:.1} MB",
        hours,
        s1 as f64 / 1e6,
        s4 as f64 / 1e6
    );
    let have_seed = Path::new(SEED).exists();
    let mut mine = Vec::new();
    let mut seed = Vec::new();
    for _ in 0..reps {
        mine.push(ours(bin, &one)?);
        if have_seed {
            seed.push(measure_status(
                Command::new("python3").arg(SEED).arg("--analyze").arg(&one),
                &[0],
            )?);
        }
    }
    let mut mine4 = Vec::new();
    for _ in 0..reps.min(3) {
        mine4.push(ours(bin, &four)?);
    }
    let (wall, cpu, rss1) = summary(&mine);
    let (wall4, cpu4, rss4) = summary(&mine4);
    println!(
        "resanalyze 1x: median {wall:.3} s wall, {cpu:.3} s CPU over {reps} runs, peak RSS {rss1:.1} MB"
    );
    println!(
        "resanalyze 4x: median {wall4:.3} s wall, {cpu4:.3} s CPU, peak RSS {rss4:.1} MB (ratio 4x/1x {:.2})",
        if rss1 > 0.0 { rss4 / rss1 } else { 0.0 }
    );
    if have_seed {
        let (swall, scpu, srss) = summary(&seed);
        println!(
            "seed_monitor.py --analyze 1x: median {swall:.3} s wall, {scpu:.3} s CPU over {reps} runs, peak RSS {srss:.1} MB"
        );
        println!(
            "speed-up: {:.1}x wall (target >= 10x), {:.1}x CPU",
            swall / wall,
            scpu / cpu
        );
    } else {
        println!("seed_monitor.py not found at {SEED}: reference not run");
    }
    Ok(())
}
