//! What the summary does with a match of each pattern, decided once per pack from the
//! pattern's kind and severity: a matched line then costs integer lookups, not string
//! comparisons.

use crate::pattern::Pack;

/// The summary figure a kind drives (beyond its count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `heartbeat`: the heartbeat count and gaps.
    Heartbeat,
    /// `latency`: the latency histogram of its stage.
    Latency,
    /// `ws_reconnect`: reconnects per hour.
    Reconnect,
    /// `shutdown_start`.
    ShutdownStart,
    /// `shutdown_cancelled`: the orders cancelled.
    ShutdownCancelled,
    /// `shutdown_complete`.
    ShutdownComplete,
    /// `crash`, `oom_kill`: the process died.
    Fatal,
    /// Counted only.
    Other,
}

/// Kinds whose line means the process died (counted as crashes, never as logged errors).
pub const FATAL_KINDS: [&str; 2] = ["crash", "oom_kill"];
/// Kinds whose line is a logged error whatever its pattern's severity.
const ERROR_KINDS: [&str; 3] = ["exception", "logged_error", "traceback"];

impl Role {
    /// The role of `kind`.
    pub fn of(kind: &str) -> Role {
        match kind {
            "heartbeat" => Role::Heartbeat,
            "latency" => Role::Latency,
            "ws_reconnect" => Role::Reconnect,
            "shutdown_start" => Role::ShutdownStart,
            "shutdown_cancelled" => Role::ShutdownCancelled,
            "shutdown_complete" => Role::ShutdownComplete,
            k if FATAL_KINDS.contains(&k) => Role::Fatal,
            _ => Role::Other,
        }
    }
}

/// One pattern's part in the summary.
#[derive(Debug, Clone)]
pub struct PatternRole {
    /// Its kind, as an index into [`PackRoles::kinds`].
    pub kind: usize,
    /// What its kind drives.
    pub role: Role,
    /// Its kind is `traceback_start` (reported when the traceback ends).
    pub traceback_start: bool,
    /// A line it matches is a logged error (error kinds, severity error or critical; never a
    /// fatal or traceback-start pattern).
    pub error: bool,
    /// Its `latency_ms`, `stage` and `count` groups, when it has them.
    pub latency_ms: Option<usize>,
    /// See `latency_ms`.
    pub stage: Option<usize>,
    /// See `latency_ms`.
    pub count: Option<usize>,
}

/// Every pattern's part in the summary, by pattern index.
#[derive(Debug, Clone)]
pub struct PackRoles {
    /// The pack's distinct kinds.
    pub kinds: Vec<String>,
    /// By pattern index (as in [`Pack::patterns`]).
    pub patterns: Vec<PatternRole>,
}

impl PackRoles {
    /// The roles of `pack`'s patterns.
    pub fn new(pack: &Pack) -> PackRoles {
        let mut kinds: Vec<String> = Vec::new();
        let patterns = pack
            .patterns
            .iter()
            .map(|p| {
                let kind = p.spec.kind.as_str();
                let index = match kinds.iter().position(|k| k == kind) {
                    Some(i) => i,
                    None => {
                        kinds.push(kind.to_string());
                        kinds.len() - 1
                    }
                };
                let role = Role::of(kind);
                let traceback_start = kind == "traceback_start";
                let error = role != Role::Fatal
                    && !traceback_start
                    && (ERROR_KINDS.contains(&kind)
                        || matches!(p.spec.severity.as_str(), "error" | "critical"));
                PatternRole {
                    kind: index,
                    role,
                    traceback_start,
                    error,
                    latency_ms: p.group("latency_ms"),
                    stage: p.group("stage"),
                    count: p.group("count"),
                }
            })
            .collect();
        PackRoles { kinds, patterns }
    }
}
