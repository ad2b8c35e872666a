//! The report of a pass over every DIR: each directory's actions, its summary, the line under
//! its table, and a failed check per directory still over budget.

use soak_core::output::Format;
use soak_core::record::Record;
use soak_core::report::{Body, RecordBody, Report};
use soak_core::units::format_bytes;

use crate::TOOL;

/// What one pass did to one directory.
#[derive(Debug, Clone)]
pub(crate) struct DirPass {
    /// The `action` records, in order.
    pub(crate) actions: Vec<Record>,
    /// The directory's `summary` record.
    pub(crate) summary: Record,
    /// The line under the table: sizes before and after, and whether it is still over.
    pub(crate) line: String,
    /// The directory as shown.
    pub(crate) dir: String,
    /// `--max-total`, when the directory is still over it.
    pub(crate) over: Option<u64>,
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
pub(crate) fn pass_report(dirs: &[DirPass]) -> Report {
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
