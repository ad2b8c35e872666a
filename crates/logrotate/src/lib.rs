#![deny(unsafe_code)]
//! `logrotate` (the toolkit's, not logrotate(8)): keeps a soak's logs and artifacts under a disk
//! budget without losing a line, as one command a CI step or a soak loop calls every few
//! minutes, configured by flags.
//!
//! - [`inventory`]: the files, their step groups, and which are open for writing;
//! - [`policy`]: what to delete, compress or rotate, and the budget;
//! - [`compress`]: crash-safe gzip/zstd;
//! - [`rotate`]: `--rename` and loss-free `--copytruncate`.

pub mod codec;
pub mod compress;
pub mod inventory;
pub mod policy;
pub mod rotate;
pub mod safefs;

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Parser;
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, usage};
use soak_core::output::Format;
use soak_core::pathtext::shown;
use soak_core::record::{Record, RecordType};
use soak_core::report::{Body, RecordBody, Report};
use soak_core::signals::Termination;
use soak_core::units::format_bytes;
use soak_core::units::{clap_duration, clap_interval, clap_size};

use codec::Codec;
use compress::Outcome;
use inventory::Grouping;
use policy::{Effect, Policy, Step};
use safefs::FileId;

const TOOL: &str = "logrotate";

/// Command line of `logrotate`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "logrotate",
    version,
    about = "Keep a soak's logs and artifacts under a disk budget without losing a line (flags, not a config file; not logrotate(8))",
    after_help = "Examples:
  logrotate --keep-per-step 5 --keep-runs 3 --compress --max-total 5GB artifacts/
  logrotate --max-size 100MB --copytruncate --compress artifacts/soak/   # live logs too
  logrotate --dry-run --top 10 --max-total 2GB artifacts/                  # the plan, nothing changed
  logrotate --watch 5m --max-total 5GB --compress artifacts/               # every 5 minutes until stopped
  logrotate --max-total 5GB -q --summary-md summary.md artifacts/          # the verdict in a step summary

Output: -f/--format jsonl|json|table|markdown|csv (default: jsonl when piped or into -o FILE,
a table on a terminal); with --watch, -o FILE holds the latest pass and the step summary and
annotations are written once, for the last pass.

Exit status: 0 within budget; 1 still over --max-total after cleanup; 2 bad usage or an
unreadable DIR; 130 SIGINT (128+N for a single pass stopped by signal N; --watch stopped by
SIGTERM: the last verdict)."
)]
pub struct Cli {
    /// Directories to manage (nothing outside them is read, changed or deleted).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// In each step group (name without numbers, dates, rotation suffixes) keep the N newest.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_per_step: Option<u64>,
    /// A regex whose named group `step` names a file's step (overrides the default grouping).
    #[arg(long, value_name = "REGEX")]
    pub step_pattern: Option<String>,
    /// Keep the K newest run directories directly under each DIR.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_runs: Option<u64>,
    /// Compress every file that is not the newest of its step (gzip, or `--compress=zstd`).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "gzip")]
    pub compress: Option<Codec>,
    /// Compress only files untouched this long (the newest of a step too).
    #[arg(long, value_parser = clap_duration, value_name = "DURATION")]
    pub compress_after: Option<Duration>,
    /// Rotate a live file that has grown past SIZE (with --copytruncate or --rename).
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub max_size: Option<u64>,
    /// Rotate by copying and cutting out what was copied (the writer keeps its file).
    #[arg(long, conflicts_with = "rename")]
    pub copytruncate: bool,
    /// Rotate by renaming (the writer must reopen its log).
    #[arg(long)]
    pub rename: bool,
    /// After the above, delete the oldest files until each DIR totals at most SIZE.
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub max_total: Option<u64>,
    /// When the filesystem has less free space than SIZE, clean up aggressively (keep one per
    /// step and one run, compress everything old).
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub min_free: Option<u64>,
    /// Report the N largest files.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Print the plan as `action` records; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running, applying the policy every INTERVAL until SIGINT/SIGTERM.
    #[arg(long, value_parser = clap_interval, value_name = "INTERVAL")]
    pub watch: Option<Duration>,
    /// Leave files whose name matches this glob alone (repeatable), e.g. `summary.*`.
    #[arg(long, value_name = "GLOB", value_parser = parse_glob)]
    pub exclude: Vec<glob::Pattern>,
    /// Allow DIR to be `/` or a home directory.
    #[arg(long)]
    pub force: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// An `--exclude` glob; a malformed one is a usage error, never a pattern that silently
/// matches nothing (which would hand the files it meant to protect to the policy).
fn parse_glob(s: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(s).map_err(|e| format!("'{s}': {e}"))
}

/// Refuses `/`, a home directory and their ancestors without --force.
fn check_dir(dir: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let canon = safefs::canonical(dir).map_err(|e| usage(format!("{}: {e}", shown(dir))))?;
    if !canon.is_dir() {
        return Err(usage(format!("{}: not a directory", shown(dir))));
    }
    // The home directory: HOME, or on Windows USERPROFILE when HOME is not set.
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE").filter(|_| cfg!(windows)))
        .map(PathBuf::from)
        .and_then(|h| safefs::canonical(&h).ok());
    // A filesystem root: `/`, or a drive or share root (`C:\`, `\\server\share\`).
    let root = canon.parent().is_none();
    let dangerous = root || home.as_ref().is_some_and(|h| h.starts_with(&canon));
    if dangerous && !force {
        return Err(usage(format!(
            "{}: refusing to manage / or a home directory (or one containing it) without --force",
            shown(dir)
        )));
    }
    Ok(canon)
}

fn step_record(step: &Step, dry_run: bool, aggressive: bool) -> Record {
    let (action, path, bytes, reason) = match step {
        Step::Cleanup(p, b) => (
            "cleanup",
            p,
            *b,
            "temporary file of an interrupted run".to_string(),
        ),
        Step::DeleteRun(p, b, r) => ("delete_run", p, *b, r.clone()),
        Step::Delete(p, b, r) => ("delete", p, *b, r.clone()),
        Step::Compress(p, b, c) => (
            "compress",
            p,
            *b,
            format!("not the newest of its step ({c:?})").to_ascii_lowercase(),
        ),
        Step::Rotate(p, b, m) => (
            "rotate",
            p,
            *b,
            format!("larger than --max-size ({m:?})").to_ascii_lowercase(),
        ),
        Step::Skip(p, b, r) => ("skip", p, *b, r.clone()),
    };
    Record::new(RecordType::Action, TOOL)
        .with("action", action)
        .with("path", shown(path))
        .with("reason", reason)
        .with("bytes_before", bytes)
        .with("dry_run", dry_run)
        .with("aggressive", aggressive)
}

/// What carrying out (or, dry, checking) a step gave: its effect, or why it was not done.
type Applied = Result<Effect, String>;

/// Turns an I/O error into an outcome: a file that vanished meanwhile is not an error.
fn vanished_ok(e: std::io::Error) -> Applied {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(Effect::Nothing)
    } else {
        Err(safefs::why(&e))
    }
}

/// The error of a step on a file the scan did not see on disk.
fn unseen() -> String {
    "not on disk when the directory was scanned; left alone".into()
}

/// Removes (or, dry, checks that it could remove) the file `p`, if it is still the file
/// `id` the scan saw.
fn remove_file(root: &Path, p: &Path, id: Option<FileId>, dry_run: bool) -> Applied {
    // In a dry run, a file this pass would have made (an archive, no identity) is not on disk:
    // its deletion is what the real run would do to the real archive.
    let Some(id) = id else {
        return if dry_run {
            Ok(Effect::Gone)
        } else {
            Err(unseen())
        };
    };
    let (dir, name) = match safefs::locate(root, p) {
        Ok(found) => found,
        Err(e) => return vanished_ok(e),
    };
    match dir.stat(&name) {
        Ok(None) => return Ok(Effect::Nothing),
        Ok(Some(st)) if st.id != id => {
            return Err("replaced by another file since the scan; left alone".into());
        }
        Ok(Some(_)) => {}
        Err(e) => return vanished_ok(e),
    }
    if dry_run {
        return Ok(Effect::Gone);
    }
    dir.remove_if_same(&name, id)
        .map(|()| Effect::Gone)
        .or_else(vanished_ok)
}

/// Removes (or, dry, checks) a run directory directly under `root`: a real directory, never a
/// symlink to one.
fn remove_run(root: &Path, p: &Path, dry_run: bool) -> Applied {
    let (dir, name) = match safefs::locate(root, p) {
        Ok(found) => found,
        Err(e) => return vanished_ok(e),
    };
    match dir.stat(&name) {
        Ok(None) => return Ok(Effect::Nothing),
        Ok(Some(st)) if !st.is_dir() => {
            return Err("no longer a directory; left alone".into());
        }
        Ok(Some(_)) => {}
        Err(e) => return vanished_ok(e),
    }
    if dry_run {
        return Ok(Effect::Gone);
    }
    // std's remove_dir_all never follows a symlink inside the tree.
    std::fs::remove_dir_all(p)
        .map(|()| Effect::Gone)
        .or_else(vanished_ok)
}

fn compressed(outcome: std::io::Result<Outcome>, archive: PathBuf) -> Applied {
    match outcome {
        Ok(Outcome::Done { bytes, id }) => Ok(Effect::Compressed { archive, bytes, id }),
        Ok(Outcome::Kept(why)) => Err(why),
        Err(e) => vanished_ok(e),
    }
}

/// Carries out the steps in order (with `dry_run`, makes every check and changes nothing):
/// deletions and rotations one by one, then compressions on every core, one batch per codec.
fn execute(
    root: &Path,
    steps: Vec<Step>,
    ids: &HashMap<PathBuf, Option<FileId>>,
    dry_run: bool,
    stop: compress::Stop,
) -> Vec<(Step, Applied)> {
    let id_of = |p: &Path| ids.get(p).copied().flatten();
    let (heavy, light): (Vec<Step>, Vec<Step>) = steps
        .into_iter()
        .partition(|s| matches!(s, Step::Compress(..)));
    let mut done: Vec<(Step, Applied)> = light
        .into_iter()
        .map(|s| {
            let r = match &s {
                Step::Skip(..) => Ok(Effect::Nothing),
                _ if stop() => Err(compress::interrupted().to_string()),
                Step::Cleanup(p, _) | Step::Delete(p, _, _) => {
                    remove_file(root, p, id_of(p), dry_run)
                }
                Step::DeleteRun(p, _, _) => remove_run(root, p, dry_run),
                Step::Rotate(p, _, mode) => match id_of(p) {
                    None => Err(unseen()),
                    Some(id) => match rotate::rotate(root, p, id, *mode, dry_run) {
                        Ok(r) => Ok(Effect::Rotated {
                            to: r.to,
                            moved: r.bytes,
                            method: r.method,
                        }),
                        Err(e) => vanished_ok(e),
                    },
                },
                Step::Compress(..) => Ok(Effect::Nothing),
            };
            (s, r)
        })
        .collect();
    for codec in [Codec::Gzip, Codec::Zstd] {
        let mut batch: Vec<(Step, PathBuf)> = Vec::new();
        let mut items: Vec<(PathBuf, FileId)> = Vec::new();
        for s in &heavy {
            let Step::Compress(p, _, c) = s else { continue };
            if *c != codec {
                continue;
            }
            match id_of(p) {
                Some(id) => {
                    batch.push((s.clone(), p.clone()));
                    items.push((p.clone(), id));
                }
                None => done.push((s.clone(), Err(unseen()))),
            }
        }
        let outcomes = compress::compress_batch(root, &items, codec, dry_run, stop);
        for ((step, p), (_, outcome)) in batch.into_iter().zip(outcomes) {
            done.push((step, compressed(outcome, compress::target(&p, codec))));
        }
    }
    done
}

/// The record of a step and its outcome; returns the bytes it freed.
fn outcome_record(step: &Step, result: &Applied, dry_run: bool, aggressive: bool) -> (Record, u64) {
    let bytes_before = match step {
        Step::Cleanup(_, b)
        | Step::DeleteRun(_, b, _)
        | Step::Delete(_, b, _)
        | Step::Compress(_, b, _)
        | Step::Rotate(_, b, _)
        | Step::Skip(_, b, _) => *b,
    };
    let mut r = step_record(step, dry_run, aggressive);
    let after = match result {
        Ok(Effect::Gone) => Some(0),
        Ok(Effect::Compressed { bytes, .. }) => Some(*bytes),
        Ok(Effect::Rotated { to, moved, method }) => {
            r.insert("detail", format!("{method} → {}", shown(to)));
            Some(bytes_before.saturating_sub(*moved))
        }
        Ok(Effect::Nothing) => None,
        Err(why) => {
            r.insert("action", "skip");
            r.insert(
                "reason",
                format!("{}: {why}", r.get_str("reason").unwrap_or("")),
            );
            None
        }
    };
    let freed = match (step, after) {
        // A rotation moves bytes, it frees none.
        (Step::Rotate(..), _) | (_, None) => 0,
        (_, Some(a)) => bytes_before.saturating_sub(a),
    };
    if let Some(a) = after {
        r.insert("bytes_after", a);
    }
    (r, freed)
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// What one pass did to one directory.
#[derive(Debug, Clone)]
struct DirPass {
    /// The `action` records, in order.
    actions: Vec<Record>,
    /// The directory's `summary` record.
    summary: Record,
    /// The line under the table: sizes before and after, and whether it is still over.
    line: String,
    /// The directory as shown.
    dir: String,
    /// `--max-total`, when the directory is still over it.
    over: Option<u64>,
}

/// One pass over one directory: its records, and whether it ends within budget. A dry run
/// goes through the same planner and the same executor, which then changes nothing.
fn pass(
    dir: &Path,
    cli: &Cli,
    grouping: &Grouping,
    stop: compress::Stop,
) -> anyhow::Result<DirPass> {
    safefs::Dir::open(dir).map_err(|e| usage(format!("{}: {e}", shown(dir))))?;
    let open = inventory::open_for_write();
    let (mut files, unreadable) = inventory::scan(dir, grouping, open.as_ref()).map_err(usage)?;
    let excluded = |p: &Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cli.exclude.iter().any(|pat| pat.matches(&name))
    };
    files.retain(|f| !excluded(&f.path));
    let ids: HashMap<PathBuf, Option<FileId>> =
        files.iter().map(|f| (f.path.clone(), f.id)).collect();
    let before: u64 = files.iter().map(|f| f.size).sum();
    let free = soak_core::sys::free_bytes(dir);
    let aggressive = matches!((cli.min_free, free), (Some(min), Some(f)) if f < min);
    let mut policy = Policy {
        keep_per_step: cli.keep_per_step.map(count),
        keep_runs: cli.keep_runs.map(count),
        compress: cli.compress,
        compress_after: cli.compress_after,
        max_size: cli.max_size,
        rotate: if cli.copytruncate {
            Some(rotate::Mode::CopyTruncate)
        } else if cli.rename {
            Some(rotate::Mode::Rename)
        } else {
            None
        },
        max_total: cli.max_total,
    };
    if aggressive {
        policy.keep_per_step = Some(policy.keep_per_step.unwrap_or(1).min(1));
        policy.keep_runs = Some(policy.keep_runs.unwrap_or(1).min(1));
        policy.compress = Some(policy.compress.unwrap_or(Codec::Gzip));
        policy.compress_after = None;
    }
    let mut records: Vec<Record> = unreadable
        .iter()
        .map(|(p, why)| {
            step_record(
                &Step::Skip(p.clone(), 0, why.clone()),
                cli.dry_run,
                aggressive,
            )
        })
        .collect();
    let mut freed: u64 = 0;
    // Phase one: cleanup, runs, steps, rotation, compression.
    let steps = policy::plan_retention(dir, &files, &policy, SystemTime::now());
    let results = execute(dir, steps, &ids, cli.dry_run, stop);
    for (step, result) in &results {
        let (r, f) = outcome_record(step, result, cli.dry_run, aggressive);
        freed += f;
        records.push(r);
    }
    // Phase two: the budget, on the files as phase one left them (or would leave them).
    let now_files = policy::after_retention(&files, &results);
    let mut total: u64 = now_files.iter().map(|f| f.size).sum();
    if let Some(max) = policy.max_total {
        let (steps, _) = policy::plan_budget(&now_files, max);
        let ids: HashMap<PathBuf, Option<FileId>> =
            now_files.iter().map(|f| (f.path.clone(), f.id)).collect();
        for (step, result) in execute(dir, steps, &ids, cli.dry_run, stop) {
            let (r, f) = outcome_record(&step, &result, cli.dry_run, aggressive);
            if result == Ok(Effect::Gone) {
                total = total.saturating_sub(f);
            }
            freed += f;
            records.push(r);
        }
    }
    let mut largest: Vec<(&PathBuf, u64)> = now_files.iter().map(|f| (&f.path, f.size)).collect();
    largest.sort_by_key(|f| std::cmp::Reverse(f.1));
    let top: Vec<serde_json::Value> = largest
        .iter()
        .take(cli.top)
        .map(|(p, s)| serde_json::json!({"path": shown(p), "bytes": s}))
        .collect();
    let over = cli.max_total.is_some_and(|m| total > m);
    let line = format!(
        "{}: {} → {} ({} freed){}{}",
        shown(dir),
        format_bytes(before),
        format_bytes(total),
        format_bytes(freed),
        if over { ", STILL OVER BUDGET" } else { "" },
        if aggressive {
            ", aggressive (low free space)"
        } else {
            ""
        },
    );
    let mut summary = Record::new(RecordType::Summary, TOOL)
        .with("dir", shown(dir))
        .with("dry_run", cli.dry_run)
        .with("aggressive", aggressive)
        .with("free_bytes", free)
        .with("total_bytes_before", before)
        .with("bytes_freed", freed)
        .with("total_bytes_after", total)
        .with("max_total_bytes", cli.max_total)
        .with("over_budget", over)
        .with("largest", serde_json::Value::Array(top))
        .with("ok", !over);
    if open.is_none() {
        // Only Linux lists the files processes hold open for writing (in /proc).
        summary.insert("writers", "unknown");
    }
    Ok(DirPass {
        actions: records,
        summary,
        line,
        dir: shown(dir),
        over: cli.max_total.filter(|_| over),
    })
}

/// The columns of the human formats.
const COLUMNS: [&str; 5] = ["action", "path", "bytes_before", "bytes_after", "reason"];

/// A pass over every DIR: each directory's actions, then its summary (a table and its line
/// in the human formats), one directory after the other.
struct PassBody(Vec<RecordBody>);

impl Body for PassBody {
    fn write(&self, format: Format, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.0.iter().try_for_each(|dir| dir.write(format, out))
    }
}

/// The report of a pass: the directories' records, and a failed check per directory still
/// over `--max-total`.
fn pass_report(dirs: &[DirPass]) -> Report {
    let body = dirs
        .iter()
        .map(|d| {
            RecordBody::new(d.actions.clone(), &COLUMNS)
                .summary(d.summary.clone())
                .note(d.line.clone())
        })
        .collect();
    let mut report = Report::new(TOOL, PassBody(body));
    for d in dirs {
        if let Some(max) = d.over {
            report = report.fail(format!(
                "{}: still over --max-total {} after cleanup",
                d.dir,
                format_bytes(max)
            ));
        }
    }
    report
}

/// Runs logrotate.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.max_size.is_some() && !cli.copytruncate && !cli.rename {
        return Err(usage(
            "--max-size needs --copytruncate or --rename (how the live file is rotated)",
        ));
    }
    let step_re = cli
        .step_pattern
        .as_deref()
        .map(|p| {
            let re = regex::Regex::new(p).map_err(|e| usage(format!("--step-pattern: {e}")))?;
            if re.capture_names().flatten().any(|n| n == "step") {
                Ok(re)
            } else {
                Err(usage("--step-pattern needs a named group (?P<step>...)"))
            }
        })
        .transpose()?;
    let grouping = Grouping::new(step_re);
    let dirs: Vec<PathBuf> = cli
        .dirs
        .iter()
        .map(|d| check_dir(d, cli.force))
        .collect::<anyhow::Result<_>>()?;
    // Signals are caught in every mode: a pass asked to stop leaves what it has not done as it
    // was (a compression in progress is abandoned within one block, its temporary removed).
    let term = Termination::install().context("installing signal handlers")?;
    let stop = || term.requested().is_some();
    loop {
        let mut done = Vec::with_capacity(dirs.len());
        for d in &dirs {
            done.push(pass(d, &cli, &grouping, &stop)?);
            if stop() {
                break;
            }
        }
        let Some(every) = cli.watch else {
            // A single pass: its verdict, or the status of a process ended by the signal that
            // cut it short (130 for SIGINT).
            let report = pass_report(&done);
            let report = match term.requested() {
                Some(sig) => report.exit(ExitCode::from_cut_short(sig)),
                None => report,
            };
            return report.finish(&cli.output);
        };
        // A closed stdout (`| head -1`) ends the watch after the pass, never the pass or its
        // verdict.
        let mut out = soak_core::stdout::stdout();
        pass_report(&done)
            .body_only()
            .finish_with(&cli.output, &mut out)?;
        let signal = if out.closed() {
            term.requested()
        } else {
            term.sleep(every)
        };
        if signal.is_some() || out.closed() {
            // `--watch` stopped by SIGTERM/SIGHUP or a closed stdout: the verdict of the last
            // pass, whose step summary and annotations are written now; SIGINT: 130.
            let last = OutputArgs {
                output: None,
                quiet: true,
                ..cli.output.clone()
            };
            let report = pass_report(&done);
            let report = match signal.map(ExitCode::from_signal) {
                Some(ExitCode::Interrupted) => report.exit(ExitCode::Interrupted),
                _ => report,
            };
            return report.finish(&last);
        }
    }
}
