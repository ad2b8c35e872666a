//! The health endpoint's polls per pixel column: latency of the answered ones, ok and failed
//! counts, and the first failures with their reasons.

use crate::axis::TimeAxis;
use crate::envelope::Envelope;
use crate::inputs::HealthPoll;

/// One column's health polls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCell {
    /// Answered 2xx.
    pub ok: u32,
    /// Did not.
    pub failed: u32,
}

/// The health endpoint over the run.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Latency of the answered polls, ms.
    pub latency: Envelope,
    /// Polls per column.
    pub cells: Vec<HealthCell>,
    /// Polls in all.
    pub polls: u64,
    /// Failed polls.
    pub failed: u64,
    /// The first few failures: (time, why).
    pub failures: Vec<(f64, String)>,
}

/// The polls binned per column of `axis`.
pub fn bin_health(polls: &[HealthPoll], axis: &TimeAxis) -> Health {
    let mut h = Health {
        latency: Envelope::new(axis.columns()),
        cells: vec![HealthCell::default(); axis.columns()],
        ..Health::default()
    };
    for p in polls {
        let Some(t) = p.timestamp_unix else { continue };
        let Some(col) = axis.column(t) else { continue };
        h.polls += 1;
        if p.ok {
            h.cells[col].ok += 1;
            if let Some(ms) = p.latency_ms {
                h.latency.add(col, t, ms);
            }
        } else {
            h.cells[col].failed += 1;
            h.failed += 1;
            if h.failures.len() < 20 {
                let why = match (&p.error, p.status) {
                    (Some(e), _) => e.clone(),
                    (None, Some(s)) => format!("HTTP {s}"),
                    (None, None) => "no answer".to_string(),
                };
                h.failures.push((t, why));
            }
        }
    }
    h
}
