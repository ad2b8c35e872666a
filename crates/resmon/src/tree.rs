//! The target's process tree: its own figures and the totals over it and every descendant.
//!
//! The tree is walked from each target through `/proc/PID/task/TID/children`, as
//! [`soak_core::proc::descendants`] does, but with every file kept open between samples
//! ([`ProcFile`](crate::procfile::ProcFile)) so a sample costs one `pread` per file and no `open`/`getdents`/`close`:
//! `stat` (state, CPU ticks, threads, RSS), `io` (storage bytes), `children`, and an `fstat`
//! of the open `fd/` directory (Linux ≥ 6.2 reports the number of open descriptors as its
//! size; older kernels are counted by listing it). Kernels without `children` files fall back
//! to [`soak_core::proc::descendants`] (a full scan). A process that exits between two reads
//! is simply not counted; nothing here panics on it.
//!
//! CPU % of a process is its tick delta over the wall time since the previous sample (100 % =
//! one core, as psutil and top report it). A process that joined the tree since the previous
//! sample counts in full when it was born after that sample, and from the next sample on
//! otherwise (its earlier CPU time was not spent in the tree's interval).

use crate::system::Metric;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{TreeReader, boot_clock_s, pss_uss};

/// What one read of one process gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcReading {
    /// Process ID.
    pub pid: i32,
    /// State letter (`Z` = zombie).
    pub state: char,
    /// Start time in ticks after boot (off Linux: seconds since the epoch).
    pub start_ticks: u64,
    /// utime + stime in ticks (off Linux: milliseconds).
    pub cpu_ticks: u64,
    /// Threads.
    pub threads: u64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// Open file descriptors.
    pub fds: Metric<u64>,
    /// Bytes read from and written to storage.
    pub io: Metric<(u64, u64)>,
}

/// The figures of the target process itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFigures {
    /// The reading.
    pub reading: ProcReading,
    /// CPU % since the previous sample.
    pub cpu_percent: Metric<f64>,
}

/// Totals over the targets and their descendants.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeTotals {
    /// Processes counted.
    pub count: u64,
    /// Sum of RSS in bytes.
    pub rss_bytes: u64,
    /// Sum of CPU %.
    pub cpu_percent: f64,
    /// Sum of threads.
    pub threads: u64,
    /// Sum of open descriptors.
    pub fds: Metric<u64>,
    /// Zombies among them.
    pub zombies: u64,
    /// Sum of storage bytes (read, written).
    pub io: Metric<(u64, u64)>,
    /// PSS and USS sums in bytes, when asked for on this sample.
    pub pss_uss: Option<Metric<(u64, u64)>>,
}

impl TreeTotals {
    /// Nothing counted yet; `pss_uss` is the PSS/USS reading when this sample asks for it.
    pub fn new(pss_uss: Option<Metric<(u64, u64)>>) -> TreeTotals {
        TreeTotals {
            count: 0,
            rss_bytes: 0,
            cpu_percent: 0.0,
            threads: 0,
            fds: Ok(0),
            zombies: 0,
            io: Ok((0, 0)),
            pss_uss,
        }
    }

    /// Counts one member: its reading and its CPU % (0 without a baseline yet).
    pub fn add(&mut self, r: &ProcReading, cpu: &Metric<f64>) {
        self.count += 1;
        self.rss_bytes += r.rss_bytes;
        self.threads += r.threads;
        self.cpu_percent += cpu.as_ref().copied().unwrap_or(0.0);
        if r.state == 'Z' {
            self.zombies += 1;
        }
        self.fds = match (&self.fds, &r.fds) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        self.io = match (&self.io, &r.io) {
            (Ok(a), Ok(b)) => Ok((a.0 + b.0, a.1 + b.1)),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
    }
}

/// One reading of the targets' trees.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSample {
    /// The first target's own figures (`Err` when it is gone or unreadable).
    pub primary: Metric<ProcessFigures>,
    /// Totals over every target's tree.
    pub totals: Metric<TreeTotals>,
}

/// Parses `/proc/PID/stat` text (fields counted after the `)` closing the name, which may
/// itself hold spaces and parentheses).
pub fn parse_stat(pid: i32, text: &str, page_size: u64) -> Option<ProcReading> {
    let after = &text[text.rfind(')')? + 1..];
    // after ')': [0]=state (field 3), so field N of proc(5) is f[N - 3]; 22 slots reach
    // field 24 (rss). No allocation: this runs for every process of the tree every sample.
    let mut f = [""; 22];
    for (slot, token) in f.iter_mut().zip(after.split_ascii_whitespace()) {
        *slot = token;
    }
    let num = |n: usize| f.get(n - 3).and_then(|t| t.parse::<u64>().ok());
    Some(ProcReading {
        pid,
        state: f.first()?.chars().next()?,
        start_ticks: num(22)?,
        cpu_ticks: num(14)? + num(15)?,
        threads: num(20)?,
        rss_bytes: num(24)? * page_size,
        fds: Err("not read".into()),
        io: Err("not read".into()),
    })
}

#[cfg(not(target_os = "linux"))]
pub use crate::portable::tree::TreeReader;
