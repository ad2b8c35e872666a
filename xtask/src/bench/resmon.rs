//! `cargo xtask bench resmon`: the cost of one sample of the system + a 50-process tree, for
//! resmon, the seed's psutil monitor (`shared/anchors/seed_monitor.py`) and `pidstat`
//! (sysstat), side by side in one run on the same target tree.
//!
//! Each tool runs as a child of the bench, measured by [`super::measure`]: its own CPU time
//! (user + system, from `getrusage(RUSAGE_CHILDREN)` around its run) and its own peak RSS (its
//! VmHWM, read every millisecond until it exits). Start-up (Python's
//! imports, pidstat's first read) is taken out by running each tool twice, for 1 sample and for
//! 1 + N, and dividing the difference by N: the figure is the steady-state CPU per sample.
//! Repeated `--reps` times; medians and ratios are printed. Then a 10 Hz run of resmon on the
//! same tree reports its CPU as a percentage of one core (`--full` for the issue's 10 minutes).
//! With a writable cgroup (root: v1 memory controller or v2 with memory enabled) the tree is
//! moved into a cgroup of its own and two more rows are measured: `resmon --cgroup` (system +
//! the cgroup's files) and a shell loop reading the same cgroup files with builtins (`read`)
//! and `sleep`, the "source of truth" `docker stats` reads.
//! No pass/fail: the figures go to the report.

use super::measure::{measure, median};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

#[derive(Debug)]
struct Opts {
    samples: u32,
    interval_ms: u64,
    reps: u32,
    tree: u32,
    hz10_secs: u64,
    pidstat_samples: u32,
    seed: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        samples: 200,
        interval_ms: 25,
        reps: 3,
        tree: 50,
        hz10_secs: 60,
        pidstat_samples: 8,
        seed: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--samples" => o.samples = val()?.parse()?,
            "--interval-ms" => o.interval_ms = val()?.parse()?,
            "--reps" => o.reps = val()?.parse()?,
            "--tree" => o.tree = val()?.parse()?,
            "--hz10-secs" => o.hz10_secs = val()?.parse()?,
            "--pidstat-samples" => o.pidstat_samples = val()?.parse()?,
            "--seed" => o.seed = Some(PathBuf::from(val()?)),
            "--full" => o.hz10_secs = 600,
            "-h" | "--help" => {
                println!(
                    "cargo xtask bench resmon [--samples N=200] [--interval-ms MS=25] [--reps R=3]\n\
                     \x20   [--tree PROCS=50] [--pidstat-samples N=8] [--hz10-secs S=60 | --full]\n\
                     \x20   [--seed PATH/seed_monitor.py]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown option '{other}' (see --help)"),
        }
    }
    if o.samples == 0 || o.reps == 0 || o.tree == 0 || o.pidstat_samples == 0 {
        bail!("--samples, --reps, --tree and --pidstat-samples must be at least 1");
    }
    Ok(o)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn build_resmon() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("bench: cargo build --release -p resmon");
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "resmon"])
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot start {cargo}"))?;
    if !status.success() {
        bail!("cargo build --release -p resmon failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("release/resmon");
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// A tree of `n` processes: `sh` and `n - 1` sleeping children, in their own process group.
struct Tree {
    root: Child,
}

impl Tree {
    fn start(n: u32) -> Result<Tree> {
        let script = format!("for i in $(seq {}); do sleep 3600 & done; wait", n - 1);
        let root = Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .spawn()
            .context("starting the target tree")?;
        let pid = root.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if kids.split_ascii_whitespace().count() + 1 >= n as usize {
                break;
            }
            if Instant::now() > deadline {
                bail!("the target tree did not reach {n} processes");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Tree { root })
    }

    fn pid(&self) -> u32 {
        self.root.id()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.root.id())])
            .status();
        let _ = self.root.wait();
    }
}

/// A cgroup holding the target tree for the `--cgroup` rows; removed on drop.
struct BenchCgroup {
    /// Path inside the hierarchy.
    path: String,
    /// Directories created (memory first).
    dirs: Vec<PathBuf>,
    /// The files a `docker stats`-like reader reads each sample: (file, multi-line).
    files: Vec<(PathBuf, bool)>,
}

impl BenchCgroup {
    /// Creates the cgroup (v1 memory + cpuacct + cpu + pids where mounted, else v2) and moves
    /// the tree into it; `Err` says why the cgroup rows are skipped.
    fn start(tree: &Tree) -> Result<BenchCgroup> {
        let name = format!("resmon-bench-{}", std::process::id());
        let root = Path::new("/sys/fs/cgroup");
        let mut cg = BenchCgroup {
            path: format!("/{name}"),
            dirs: Vec::new(),
            files: Vec::new(),
        };
        if root.join("memory/memory.usage_in_bytes").exists() {
            for ctrl in ["memory", "cpuacct", "cpu", "pids"] {
                let dir = root.join(ctrl).join(&name);
                if root.join(ctrl).is_dir() && std::fs::create_dir(&dir).is_ok() {
                    cg.dirs.push(dir);
                } else if ctrl == "memory" {
                    bail!("cannot create {}", dir.display());
                }
            }
            let d = |c: &str, f: &str, multi: bool| (root.join(c).join(&name).join(f), multi);
            cg.files = vec![
                d("memory", "memory.usage_in_bytes", false),
                d("memory", "memory.limit_in_bytes", false),
                d("memory", "memory.stat", true),
                d("memory", "memory.oom_control", true),
                d("cpuacct", "cpuacct.usage", false),
                d("cpu", "cpu.stat", true),
                d("pids", "pids.current", false),
            ];
        } else {
            let dir = root.join(&name);
            std::fs::create_dir(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            cg.dirs.push(dir.clone());
            cg.files = [
                ("memory.current", false),
                ("memory.max", false),
                ("memory.stat", true),
                ("memory.events", true),
                ("cpu.stat", true),
                ("pids.current", false),
                ("memory.pressure", true),
            ]
            .into_iter()
            .map(|(f, multi)| (dir.join(f), multi))
            .collect();
        }
        cg.files.retain(|(f, _)| f.exists());
        let pid = tree.pid();
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for dir in &cg.dirs {
            for p in std::iter::once(pid.to_string())
                .chain(kids.split_ascii_whitespace().map(String::from))
            {
                std::fs::write(dir.join("cgroup.procs"), &p)
                    .with_context(|| format!("moving {p} into {}", dir.display()))?;
            }
        }
        Ok(cg)
    }

    /// A POSIX shell loop reading every file once per sample with builtins, like a
    /// `docker stats` substitute would, for `count` samples `interval_s` apart.
    fn shell_loop(&self, count: u32, interval_s: &str) -> String {
        let reads: Vec<String> = self
            .files
            .iter()
            .map(|(f, multi)| {
                let f = f.display();
                if *multi {
                    format!("while read -r k v; do :; done < '{f}'")
                } else {
                    format!("read -r v < '{f}'")
                }
            })
            .collect();
        format!(
            "i=0; while [ $i -lt {count} ]; do {}; i=$((i+1)); if [ $i -lt {count} ]; then sleep {interval_s}; fi; done",
            reads.join("; ")
        )
    }
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        // Its members are the bench's own tree (killed here too, as an early error return
        // drops this before the tree); they leave the cgroup as they are reaped.
        if let Some(dir) = self.dirs.first() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs
                .split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // A PID read from the bench's own cgroup; one already gone is no matter.
                let _ = soak_core::sys::signal_pid(pid, libc::SIGKILL);
            }
        }
        for d in self.dirs.iter().rev() {
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// One tool under test: how to run it for `count` samples.
struct Tool {
    name: &'static str,
    samples: u32,
    command: Box<dyn Fn(u32) -> Command>,
}

#[derive(Debug, Default)]
struct Figures {
    cpu_ms_per_sample: Vec<f64>,
    peak_rss_mb: Vec<f64>,
}

fn seed_path(o: &Opts) -> Option<PathBuf> {
    let candidates = [
        o.seed.clone(),
        Some(workspace_root().join("../shared/anchors/seed_monitor.py")),
        Some(PathBuf::from("/work/shared/anchors/seed_monitor.py")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn has_psutil() -> bool {
    Command::new("python3")
        .args(["-c", "import psutil"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn has_pidstat() -> bool {
    Command::new("pidstat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let bin = build_resmon()?;
    let tree = Tree::start(o.tree)?;
    let pid = tree.pid().to_string();
    let scratch = std::env::temp_dir().join(format!("resmon-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let interval = format!("{}ms", o.interval_ms);
    let interval_s = format!("{}", o.interval_ms as f64 / 1000.0);

    let mut tools: Vec<Tool> = Vec::new();
    for (name, extra) in [("resmon", None), ("resmon --no-tree", Some("--no-tree"))] {
        let (bin, pid, interval, out) = (
            bin.clone(),
            pid.clone(),
            interval.clone(),
            scratch.join(format!("{}.jsonl", name.replace(' ', ""))),
        );
        tools.push(Tool {
            name,
            samples: o.samples,
            command: Box::new(move |n| {
                let _ = std::fs::remove_file(&out);
                let mut c = Command::new(&bin);
                c.args(["--pid", &pid, "--interval", &interval, "--count"])
                    .arg(n.to_string())
                    .arg("--output")
                    .arg(&out);
                c.args(extra);
                c
            }),
        });
    }
    match seed_path(&o) {
        Some(seed) if has_psutil() => {
            let (pid, interval_s, out) =
                (pid.clone(), interval_s.clone(), scratch.join("seed.jsonl"));
            tools.push(Tool {
                name: "seed_monitor.py (psutil)",
                samples: o.samples,
                command: Box::new(move |n| {
                    let _ = std::fs::remove_file(&out);
                    let mut c = Command::new("python3");
                    c.arg(&seed)
                        .args(["--pid", &pid, "--interval", &interval_s, "--count"])
                        .arg(n.to_string())
                        .arg("--output")
                        .arg(&out);
                    c
                }),
            });
        }
        Some(_) => eprintln!("bench: skipping the seed monitor: python3 cannot import psutil"),
        None => eprintln!("bench: skipping the seed monitor: seed_monitor.py not found (--seed)"),
    }
    let cgroup = match BenchCgroup::start(&tree) {
        Ok(cg) => Some(cg),
        Err(e) => {
            eprintln!("bench: skipping the --cgroup rows: {e:#}");
            None
        }
    };
    if let Some(cg) = &cgroup {
        let (bin, path, interval, out) = (
            bin.clone(),
            cg.path.clone(),
            interval.clone(),
            scratch.join("cgroup.jsonl"),
        );
        tools.push(Tool {
            name: "resmon --cgroup (system + cgroup)",
            samples: o.samples,
            command: Box::new(move |n| {
                let _ = std::fs::remove_file(&out);
                let mut c = Command::new(&bin);
                c.args(["--cgroup", &path, "--interval", &interval, "--count"])
                    .arg(n.to_string())
                    .arg("--output")
                    .arg(&out);
                c
            }),
        });
        let scripts: Vec<String> = [1, 1 + o.samples]
            .iter()
            .map(|&n| cg.shell_loop(n, &interval_s))
            .collect();
        let samples = o.samples;
        tools.push(Tool {
            name: "sh loop reading the cgroup files",
            samples,
            command: Box::new(move |n| {
                let mut c = Command::new("sh");
                let script = if n == 1 { &scripts[0] } else { &scripts[1] };
                c.args(["-c", script]);
                c
            }),
        });
    }
    if has_pidstat() {
        let pid = pid.clone();
        tools.push(Tool {
            name: "pidstat -h -r -u -d",
            samples: o.pidstat_samples,
            command: Box::new(move |n| {
                let mut c = Command::new("pidstat");
                c.args(["-h", "-r", "-u", "-d", "-p", &pid, "1"])
                    .arg(n.to_string());
                c
            }),
        });
    } else {
        eprintln!("bench: skipping pidstat: not installed (apt-get install sysstat)");
    }

    println!(
        "resmon bench: system + a {}-process tree (root PID {pid}), {} reps; resmon and the seed \
         at {interval} for 1 and 1+{} samples, pidstat at 1 s for 1 and 1+{}",
        o.tree, o.reps, o.samples, o.pidstat_samples
    );
    let mut figures: Vec<Figures> = tools.iter().map(|_| Figures::default()).collect();
    for rep in 0..o.reps {
        // Interleaved so every tool sees the same machine load.
        for (tool, fig) in tools.iter().zip(figures.iter_mut()) {
            let one = measure(&mut (tool.command)(1))?;
            let many = measure(&mut (tool.command)(1 + tool.samples))?;
            let per = (many.cpu_s - one.cpu_s).max(0.0) / f64::from(tool.samples) * 1000.0;
            eprintln!(
                "bench: rep {rep} {:<26} {per:8.3} ms CPU/sample, peak RSS {:6.1} MB, {:.1} s",
                tool.name, many.peak_rss_mb, many.wall_s
            );
            fig.cpu_ms_per_sample.push(per);
            fig.peak_rss_mb.push(many.peak_rss_mb);
        }
    }
    // Rows 0 and 1 are resmon with the tree and resmon --no-tree (the seed's own scope).
    let tree_ms = median(figures[0].cpu_ms_per_sample.clone());
    let flat_ms = median(figures[1].cpu_ms_per_sample.clone());
    println!();
    println!(
        "| tool | CPU per sample (median) | ÷ resmon (tree) | ÷ resmon --no-tree | peak RSS (median) |\n\
         |---|---:|---:|---:|---:|"
    );
    for (tool, fig) in tools.iter().zip(&figures) {
        let cpu = median(fig.cpu_ms_per_sample.clone());
        println!(
            "| {} | {:.3} ms | {:.2}× | {:.2}× | {:.1} MB |",
            tool.name,
            cpu,
            cpu / tree_ms,
            cpu / flat_ms,
            median(fig.peak_rss_mb.clone())
        );
    }
    println!();
    println!(
        "10 Hz run: resmon --interval 100ms --duration {}s on the {}-process tree",
        o.hz10_secs, o.tree
    );
    let out = scratch.join("hz10.jsonl");
    let mut cmd = Command::new(&bin);
    cmd.args(["--pid", &pid, "--interval", "100ms", "--duration"])
        .arg(format!("{}s", o.hz10_secs))
        .arg("--output")
        .arg(&out);
    let c = measure(&mut cmd)?;
    let samples = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"type\":\"sample\""))
        .count();
    println!(
        "  {samples} samples in {:.1} s wall, {:.3} s CPU = {:.3} % of one core, peak RSS {:.1} MB",
        c.wall_s,
        c.cpu_s,
        c.cpu_s / c.wall_s * 100.0,
        c.peak_rss_mb
    );
    drop(tree);
    drop(cgroup);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
