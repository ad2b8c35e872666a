//! `cargo xtask demo`: a short soak of the bundled demo service, with the tools that exist so
//! far, as a newcomer's first run. The service runs under `zombiereap run` (nothing outlives
//! it), `resmon` launches and records that tree, and afterwards `resanalyze` judges the
//! resources (leak, CPU, disk; analysis JSON and plot), `logscan` judges the service log and
//! `zombiereap scan` looks for zombies. Every tool is started as a process with an argv
//! vector, exactly as a CI step would call it; the records stay in the run directory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Options of the demo run.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How long the service runs.
    #[arg(long, default_value = "30s")]
    pub duration: String,
    /// Faults for the demo service (leak, zombies, reconnect-storm, hang, crash, outage,
    /// secret-in-log), comma-separated.
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Where the run directory is created.
    #[arg(long, default_value = "artifacts/demo")]
    pub out: PathBuf,
}

const TOOLS: [&str; 5] = ["resmon", "resanalyze", "logscan", "zombiereap", "soak-demo"];

/// Runs the demo; the result is true when resanalyze and logscan both passed.
pub fn run(args: &DemoArgs) -> Result<bool> {
    let root = workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .current_dir(&root)
        .args(["build", "--release", "--quiet"]);
    for t in TOOLS {
        build.args(["-p", t]);
    }
    if !build.status().context("starting cargo build")?.success() {
        bail!("cargo build of the demo tools failed");
    }
    let bin = |name: &str| root.join("target/release").join(name);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = args.out.join(format!("run-{stamp}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = dir.join("service.log");
    eprintln!("demo: run directory {}", dir.display());
    eprintln!(
        "demo: service for {} (faults: {})",
        args.duration,
        if args.faults.is_empty() {
            "none"
        } else {
            &args.faults
        }
    );

    let mut demo_args: Vec<String> = vec![
        "--heartbeat".into(),
        "1s".into(),
        "--fault-after".into(),
        "5s".into(),
    ];
    if !args.faults.is_empty() {
        demo_args.extend(["--faults".into(), args.faults.clone()]);
    }
    let status = Command::new(bin("resmon"))
        .args(["--interval", "1s", "--duration", &args.duration, "--output"])
        .arg(dir.join("resources.jsonl"))
        .arg("--")
        .arg(bin("zombiereap"))
        .args(["run", "--grace", "5s", "--events"])
        .arg(dir.join("zombiereap.jsonl"))
        .arg("--")
        .arg(bin("soak-demo"))
        .args(&demo_args)
        .stdout(File::create(&log).with_context(|| format!("cannot create {}", log.display()))?)
        .stderr(Stdio::inherit())
        .status()
        .context("starting resmon")?;
    eprintln!("demo: service ended ({status})");

    let stop = chrono_now();
    // A demo lasts seconds, not hours: the trend needs 15 samples over 20 s instead of the
    // defaults (30 samples over 30 minutes), or every demo would be `insufficient_data`.
    println!("\n== resanalyze: the service's resources ==");
    let resources = Command::new(bin("resanalyze"))
        .args([
            "--format",
            "table",
            "--min-samples",
            "15",
            "--min-span",
            "20s",
            "--write-analysis",
        ])
        .arg(dir.join("resources.analysis.json"))
        .arg("--plot")
        .arg(dir.join("resources.svg"))
        .arg(dir.join("resources.jsonl"))
        .status()
        .context("starting resanalyze")?;
    println!("\n== logscan: the service's log ==");
    let verdict = Command::new(bin("logscan"))
        .args(["--format", "table", "--end-time", &stop])
        .arg(&log)
        .status()
        .context("starting logscan")?;
    let scan = Command::new(bin("logscan"))
        .args(["--format", "jsonl", "--no-events", "--end-time", &stop])
        .arg(&log)
        .stdout(File::create(dir.join("logscan.jsonl"))?)
        .status()?;
    let _ = scan;
    let zombies = Command::new(bin("zombiereap"))
        .args(["scan", "--format", "jsonl"])
        .stdout(File::create(dir.join("zombies.jsonl"))?)
        .status()?;
    println!("\n== summary ==");
    print_resources(&dir.join("resources.jsonl"))?;
    println!(
        "zombies on this machine after the run: {}",
        if zombies.success() {
            "none"
        } else {
            "see zombies.jsonl"
        }
    );
    println!("records: {}", dir.display());
    Ok(verdict.success() && resources.success())
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    format!("{now:.3}")
}

/// One line on what resmon saw: samples and the service tree's RSS from first to last sample.
fn print_resources(path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rss: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("\"type\":\"sample\""))
        .filter_map(|l| {
            let key = "\"tree_memory_mb\":";
            let at = l.find(key)? + key.len();
            l[at..].split([',', '}']).next()?.parse().ok()
        })
        .collect();
    match (rss.first(), rss.last()) {
        (Some(a), Some(b)) => println!(
            "resmon: {} samples, service tree RSS {a:.1} MB → {b:.1} MB ({:+.1} MB)",
            rss.len(),
            b - a
        ),
        _ => println!("resmon: no samples with a service tree"),
    }
    Ok(())
}

/// The workspace root (xtask's manifest is one level below it).
pub fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}
