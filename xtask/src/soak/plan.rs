//! The run's plan: the checked settings, the tools' binaries and the run directory, and how a
//! stage names a tool, a file of the run directory, or a file it writes there.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::args::{Settings, SoakArgs};
use soak_core::sys::free_bytes;
use soak_core::units::format_bytes;

/// The binaries a soak runs, built in release mode unless `--bin-dir` names them.
const TOOLS: [&str; 9] = [
    "logrotate",
    "seccheck",
    "resmon",
    "resanalyze",
    "logscan",
    "zombiereap",
    "orphan-cancel",
    "exchange-sim",
    "soak-demo",
];

/// Everything the run needs to know after it has started.
pub struct Plan {
    /// The checked options.
    pub settings: Settings,
    /// Where the tools' binaries are.
    pub bin: PathBuf,
    /// The run directory.
    pub dir: PathBuf,
}

impl Plan {
    /// The binaries (built unless `--bin-dir`) and a fresh run directory under `--out`.
    pub fn prepare(args: &SoakArgs, settings: Settings) -> Result<Plan> {
        let bin = match &args.bin_dir {
            Some(d) => d.clone(),
            None => crate::bench::measure::release_build(&TOOLS)?,
        };
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let dir = args.out.join(format!("run-{stamp}"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Plan { settings, bin, dir })
    }

    /// Says so when the artifacts' filesystem has less free space than the budget.
    pub fn warn_if_short_of_space(&self, args: &SoakArgs) {
        if let Some(free) = free_bytes(&self.dir)
            && free < self.settings.max_total
        {
            eprintln!(
                "soak: warning: {} free on the artifacts' filesystem, less than --max-total {}",
                format_bytes(free),
                format_bytes(args.max_total)
            );
        }
    }

    /// A tool of the toolkit, its standard input closed. The soak's step summary is its
    /// verdict alone: the tools it runs do not add sections of their own to it.
    pub fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        c.stdin(Stdio::null()).env_remove("GITHUB_STEP_SUMMARY");
        c
    }

    /// A file of the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A file of the run directory created for a tool's output.
    pub fn out(&self, name: &str) -> Result<File> {
        File::create(self.file(name))
            .with_context(|| format!("cannot create {}", self.file(name).display()))
    }
}
