//! Files, globs and stdin read to their end, in order, then the verdict.

use soak_core::exit::usage;
use soak_core::input::expand_inputs;
use soak_core::report::Report;

use super::{EventSink, Session};
use crate::blocks::LineBlocks;
use crate::scan::Scanner;

/// Scans `session`'s files (stdin when none) and returns the verdict.
pub(crate) fn run(mut session: Session<'_>, files: &[String]) -> anyhow::Result<Report> {
    let max_line = session.max_line();
    scan_inputs(files, &mut session.scanner, &mut session.sink, max_line)?;
    session.report(None)
}

/// Feeds every line of `files` (plain, `.gz`, globs, `-`) to `scanner` in blocks, its events to
/// `out`; an unreadable input is a usage error naming it and the line. Stops early, without
/// error, once `out` has failed (the caller reports that).
pub(crate) fn scan_inputs(
    files: &[String],
    scanner: &mut Scanner<'_>,
    out: &mut EventSink,
    max_line: usize,
) -> anyhow::Result<()> {
    for source in expand_inputs(files)? {
        let name = source.display_name();
        let mut blocks = LineBlocks::new(source.open()?).with_max_line(max_line);
        scanner.stats.files += 1;
        let mut line_no = 0u64;
        loop {
            let block = match blocks.next_block() {
                Ok(Some(block)) => block,
                Ok(None) => break,
                Err(e) => {
                    return Err(usage(format!(
                        "cannot read {name}: line {}: {e}",
                        line_no + 1
                    )));
                }
            };
            line_no += block.skipped_before;
            scanner.skipped_too_long(block.skipped_before);
            line_no += scanner.feed_block(&name, line_no + 1, block.lines, &mut |e| out.emit(e));
            if out.error.is_some() {
                return Ok(());
            }
        }
        scanner.finish(&mut |e| out.emit(e));
    }
    Ok(())
}
