//! Reading samples from one input: a reader thread cuts the input into ~1 MB blocks of whole
//! lines, a few worker threads parse blocks (fast path, else core's tolerant reader which also
//! names the skip reason), and the caller receives the parsed blocks back in input order. At
//! most a handful of blocks are in flight, so memory stays bounded.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use soak_core::input::InputSource;
use soak_core::jsonl::{JsonlReader, SkipCounts, SkipReason};

use crate::fastscan;
use crate::sample::RawSample;

const BLOCK: usize = 1 << 20;

/// Samples wanted from one block, and what was skipped there.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Samples of resmon (or the seed), in line order.
    pub samples: Vec<RawSample>,
    /// Skipped lines by reason.
    pub skipped: SkipCounts,
}

/// Parses a block of whole lines (the last may lack its `\n` at the end of the input).
pub fn parse_block(block: &[u8], name: &str) -> Parsed {
    let mut out = Parsed::default();
    let all_ascii = block.is_ascii();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', block)
        .map(|i| i + 1)
        .chain(std::iter::once(block.len()));
    for end in ends {
        if end <= start {
            continue;
        }
        let line = &block[start..end];
        start = end;
        let fast = (all_ascii || std::str::from_utf8(line).is_ok())
            .then(|| fastscan::scan(line.trim_ascii()))
            .flatten();
        let sample = match fast {
            Some(s) => s,
            None => {
                let mut one = JsonlReader::new(line, name);
                // Reading a byte slice cannot fail.
                let parsed = one.next_as::<RawSample>().ok().flatten();
                out.skipped.merge(one.skipped());
                match parsed {
                    Some(s) => s,
                    None => continue,
                }
            }
        };
        if !sample.is_sample() {
            out.skipped.add(SkipReason::OtherType);
        } else if !sample.from_monitor() {
            out.skipped.add(SkipReason::OtherTool);
        } else {
            out.samples.push(sample);
        }
    }
    out
}

/// Reads `src`, calling `each` with every parsed block in input order.
pub fn for_each_block(src: &InputSource, mut each: impl FnMut(Parsed)) -> anyhow::Result<()> {
    let mut input = src.open().map_err(soak_core::exit::usage)?;
    let name = src.display_name();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (block_tx, block_rx) = sync_channel::<(u64, Vec<u8>)>(workers);
        let (done_tx, done_rx) = sync_channel::<(u64, Parsed)>(workers * 2);
        let block_rx = Arc::new(Mutex::new(block_rx));
        for _ in 0..workers {
            let rx = Arc::clone(&block_rx);
            let tx = done_tx.clone();
            let name = name.as_str();
            scope.spawn(move || {
                loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some((seq, block)) = next else { break };
                    if tx.send((seq, parse_block(&block, name))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let reader = scope.spawn(move || -> std::io::Result<()> {
            let mut seq = 0u64;
            let mut carry: Vec<u8> = Vec::new();
            loop {
                let mut block = std::mem::take(&mut carry);
                block.reserve(BLOCK + 4096);
                let start = block.len();
                block.resize(start + BLOCK, 0);
                let n = read_full(&mut input, &mut block[start..])?;
                block.truncate(start + n);
                if n == 0 {
                    if !block.is_empty() && block_tx.send((seq, block)).is_err() {
                        return Ok(());
                    }
                    return Ok(());
                }
                // Finish the last line so blocks hold whole lines.
                input.read_until(b'\n', &mut block)?;
                if block_tx.send((seq, block)).is_err() {
                    return Ok(());
                }
                seq += 1;
            }
        });
        deliver(done_rx, &mut each);
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread panicked"))?
            .map_err(|e| anyhow::anyhow!("reading {name}: {e}"))
    })
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn deliver(rx: Receiver<(u64, Parsed)>, each: &mut impl FnMut(Parsed)) {
    let mut waiting: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    for (seq, parsed) in rx {
        waiting.insert(seq, parsed);
        while let Some(p) = waiting.remove(&next) {
            each(p);
            next += 1;
        }
    }
}
