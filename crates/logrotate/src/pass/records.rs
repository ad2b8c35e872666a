//! The `action` records of a pass: what a step was, and what came of it.

use soak_core::pathtext::shown;
use soak_core::record::{Record, RecordType};

use super::execute::Applied;
use crate::TOOL;
use crate::policy::{Effect, Step};

/// The record of a step before it is carried out.
pub(crate) fn step_record(step: &Step, dry_run: bool, aggressive: bool) -> Record {
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

/// The record of a step and its outcome; returns the bytes it freed.
pub(crate) fn outcome_record(
    step: &Step,
    result: &Applied,
    dry_run: bool,
    aggressive: bool,
) -> (Record, u64) {
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
