//! The recordings named on the command line (`-`, files, globs; `.gz` read transparently), read
//! in order into one [`Accumulator`].

use std::path::PathBuf;

use soak_core::exit::usage;
use soak_core::input::{InputSource, expand_inputs};
use soak_core::jsonl::SkipReason;

use crate::accumulate::{Accumulator, StreamConfig};
use crate::reader;

/// A device (`/dev/zero`, `/dev/urandom`, a disk) never ends or is not a recording: refused
/// before reading (exit 2). Regular files, pipes, FIFOs and stdin are read.
fn refuse_devices(src: &InputSource) -> anyhow::Result<()> {
    if let InputSource::File(path) = src {
        if let Ok(meta) = std::fs::metadata(path) {
            if soak_core::fileinfo::is_device_or_socket(&meta) {
                return Err(usage(format!(
                    "{}: a device or socket, not a recording (give a file, a FIFO or -)",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The inputs named on the command line, in order: `-`, files and globs; a name that is not
/// UTF-8 is taken as a literal file name (a glob pattern has to be text).
pub(crate) fn sources<S: AsRef<std::ffi::OsStr>>(inputs: &[S]) -> anyhow::Result<Vec<InputSource>> {
    let mut out = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        match input.to_str() {
            Some(text) => out.extend(expand_inputs(&[text]).map_err(usage)?),
            None => {
                let path = PathBuf::from(input);
                if !path.is_file() {
                    return Err(usage(format!(
                        "{}: no such file (or not a regular file)",
                        path.display()
                    )));
                }
                out.push(InputSource::File(path));
            }
        }
    }
    if out.is_empty() {
        out.push(InputSource::Stdin);
    }
    Ok(out)
}

/// Reads every input into one accumulator; lines longer than `max_line` bytes are skipped
/// and counted.
pub fn read_inputs<S: AsRef<std::ffi::OsStr>>(
    inputs: &[S],
    cfg: StreamConfig,
    max_line: usize,
) -> anyhow::Result<Accumulator> {
    let sources = sources(inputs)?;
    let mut acc = Accumulator::new(cfg);
    for src in &sources {
        refuse_devices(src)?;
        reader::for_each_block(src, max_line, |block| {
            acc.skipped.merge(&block.skipped);
            acc.lines_too_long += block.too_long;
            for sample in &block.samples {
                if !acc.push(sample) {
                    acc.skipped.add(SkipReason::WrongShape);
                }
            }
        })?;
    }
    acc.finish();
    if acc.samples == 0 {
        let names: Vec<String> = sources.iter().map(|s| s.display_name()).collect();
        return Err(usage(format!(
            "no samples in {} (skipped lines: {})",
            names.join(", "),
            serde_json::to_string(&acc.skipped).unwrap_or_default()
        )));
    }
    Ok(acc)
}
