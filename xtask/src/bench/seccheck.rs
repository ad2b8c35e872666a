//! `cargo xtask bench seccheck [--size-mb 256] [--reps 3]`: `seccheck secrets` over a generated
//! bot log on one core (target: at least 200 MB/s), watching two environment values, with one
//! real secret planted near the end; `rg -c -F VALUE` (a single literal, the least any scanner
//! must do) timed beside it.

use std::io::Write;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::logscan::{generate, pinned, which};
use super::measure::{measure, measure_status, median, release_build};

const SECRET: &str = "Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q8V";

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let (mut size_mb, mut reps) = (256u64, 3usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--size-mb" => size_mb = val()?.parse()?,
            "--reps" => reps = val()?.parse()?,
            other => bail!(
                "unknown option '{other}' (cargo xtask bench seccheck [--size-mb N] [--reps R])"
            ),
        }
    }
    let bin = release_build(&["seccheck"])?;
    let dir = std::env::temp_dir().join(format!("seccheck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("service.log");
    let mut bytes = generate(&log, size_mb)?;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log)?;
    let planted =
        format!("2025-10-30 00:00:00,000 - bot - DEBUG - Loaded credentials api_secret={SECRET}\n");
    f.write_all(planted.as_bytes())?;
    bytes += planted.len() as u64;
    let mb = bytes as f64 / 1e6;
    let mut walls = Vec::new();
    for _ in 0..reps {
        let c = measure_status(
            pinned(&bin.join("seccheck"))
                .args([
                    "secrets",
                    "--env",
                    "BYBIT_API_KEY,BYBIT_API_SECRET",
                    "--format",
                    "jsonl",
                ])
                .arg(&log)
                .env("BYBIT_API_SECRET", SECRET)
                .env("BYBIT_API_KEY", "benchkey12345678"),
            &[1],
        )?;
        walls.push(c.wall_s);
    }
    let s = median(walls);
    println!(
        "seccheck secrets: {mb:.0} MB log, one core: median {s:.3} s = {:.0} MB/s (target >= 200 MB/s)",
        mb / s
    );
    if let Some(rg) = which("rg") {
        let mut rg_walls = Vec::new();
        for _ in 0..reps {
            let mut c: Command = pinned(&rg);
            c.args(["-c", "-F", "-j1", "--no-mmap", SECRET]).arg(&log);
            rg_walls.push(measure(&mut c)?.wall_s);
        }
        let r = median(rg_walls);
        println!(
            "rg -c -F <the one value>: median {r:.3} s = {:.0} MB/s; seccheck/rg time {:.2}x",
            mb / r,
            s / r
        );
    } else {
        println!("rg not on PATH (Debian package ripgrep): no side-by-side figure");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
