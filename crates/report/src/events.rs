//! Log and service events as marks: which lane each belongs in, its text (withheld where
//! seccheck found a secret in the line), and the marks binned per pixel column.

use std::collections::BTreeMap;

use crate::axis::TimeAxis;
use crate::inputs::{Command, EventLine, Kind, SecretFinding, Signal};

/// The marks of one kind of event in one column.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkCell {
    /// How many.
    pub count: u64,
    /// The first one's time, Unix s.
    pub t: f64,
    /// The first one's text.
    pub text: String,
}

/// One lane of event marks (reconnects, timeouts, errors, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    /// The lane's name.
    pub name: &'static str,
    /// Events in it.
    pub count: u64,
    /// Marks per column.
    pub cells: BTreeMap<usize, MarkCell>,
}

/// The lanes, top to bottom: which log kinds (or tools' events) fall in each.
pub const LANES: [&str; 10] = [
    "service",
    "shutdown",
    "reconnect",
    "timeout",
    "error",
    "crash",
    "hang",
    "orders",
    "early warning",
    "other",
];

/// Lanes whose events are also drawn as a line across every chart.
pub const RULED_LANES: [&str; 3] = ["crash", "hang", "early warning"];

/// The lane an event belongs in, `None` for routine ones (heartbeats, latency lines).
pub fn lane_of(e: &EventLine) -> Option<&'static str> {
    let what = e.what.as_deref().unwrap_or("");
    match (e.tool.as_str(), e.kind) {
        ("resanalyze", Kind::Finding) => Some("early warning"),
        ("zombiereap", Kind::Event) => match e.event.as_deref() {
            Some("start") => Some("service"),
            // An end by a signal or with a failure status is the service dying.
            Some("target_exit")
                if matches!(e.signal, Some(Signal::Number(_)))
                    || e.exit_code.is_some_and(|c| c != 0) =>
            {
                Some("crash")
            }
            Some("target_exit") => Some("service"),
            _ => None,
        },
        // logscan's other findings are its checks at the end (in the verdict), not moments.
        ("logscan", Kind::Finding) => (what == "hang").then_some("hang"),
        ("logscan", Kind::Event) => Some(match what {
            "heartbeat" | "latency" => return None,
            "shutdown_start" | "shutdown_cancelled" | "shutdown_complete" => "shutdown",
            "ws_disconnect" | "ws_reconnect" | "ws_gave_up" => "reconnect",
            "handler_timeout" => "timeout",
            // A traceback the service survived is a logged error, not a crash.
            "order_error"
            | "exception"
            | "logged_error"
            | "traceback"
            | "traceback_start"
            | "auth_failure"
            | "network_validation_failure"
            | "db_lock"
            | "rate_limit" => "error",
            "crash" | "oom_kill" => "crash",
            "hang" => "hang",
            "orphan" | "ghost" | "quarantine" => "orders",
            _ if e.severity.as_deref() == Some("info") => return None,
            _ => "other",
        }),
        _ => None,
    }
}

/// Log lines seccheck found a secret in: (file name, line). Their text never reaches the page.
pub type Withheld = std::collections::BTreeSet<(String, u64)>;

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The (file name, line) of every secret seccheck found.
pub fn withheld_lines(secrets: &[SecretFinding]) -> Withheld {
    secrets
        .iter()
        .filter_map(|s| Some((file_name(&s.file).to_string(), s.line?)))
        .collect()
}

/// The text of an event's mark.
pub fn event_text(e: &EventLine, withheld: &Withheld) -> String {
    if let (Some(file), Some(line)) = (&e.file, e.line) {
        if withheld.contains(&(file_name(file).to_string(), line)) {
            let what = e.what.as_deref().unwrap_or("event");
            return format!(
                "{what} (log line {line}): text withheld, seccheck found a secret in this line"
            );
        }
    }
    let what = e.what.as_deref().or(e.event.as_deref()).unwrap_or("event");
    let body = match (e.tool.as_str(), e.event.as_deref()) {
        ("zombiereap", Some("start")) => format!(
            "service started: {}",
            e.command.as_ref().map(Command::line).unwrap_or_default()
        ),
        ("zombiereap", Some("target_exit")) => match (&e.exit_code, &e.signal) {
            (_, Some(s @ Signal::Number(_))) => format!("service ended by {s}"),
            (Some(c), _) => format!("service exited with status {c}"),
            _ => "service exited".to_string(),
        },
        _ => {
            let text = e.message.as_deref().or(e.text.as_deref()).unwrap_or("");
            match e.line {
                Some(n) => format!("{what} (log line {n}): {text}"),
                None => format!("{what}: {text}"),
            }
        }
    };
    if body.chars().count() > 240 {
        let mut cut: String = body.chars().take(239).collect();
        cut.push('…');
        return cut;
    }
    body
}

/// The events binned into lanes of marks per column (empty lanes left out).
pub fn bin_events(events: &[(f64, &'static str, String)], axis: &TimeAxis) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = LANES
        .iter()
        .map(|name| Lane {
            name,
            count: 0,
            cells: BTreeMap::new(),
        })
        .collect();
    for (t, lane, text) in events {
        let (Some(col), Some(l)) = (axis.column(*t), lanes.iter_mut().find(|l| l.name == *lane))
        else {
            continue;
        };
        l.count += 1;
        l.cells
            .entry(col)
            .and_modify(|c| {
                c.count += 1;
                if *t < c.t {
                    c.t = *t;
                    c.text.clone_from(text);
                }
            })
            .or_insert_with(|| MarkCell {
                count: 1,
                t: *t,
                text: text.clone(),
            });
    }
    lanes.retain(|l| l.count > 0);
    lanes
}
