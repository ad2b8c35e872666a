//! Reading samples from one input: a reader thread cuts the input into ~1 MB blocks of whole
//! lines, a few worker threads parse blocks (fast path, else core's tolerant reader which also
//! names the skip reason), and the caller receives the parsed blocks back in input order. A
//! fixed set of block buffers circulates (reader, workers, back to the reader), so at most a
//! handful of blocks are in flight, however the threads are scheduled: memory stays bounded.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
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
    /// Lines longer than the limit, skipped.
    pub too_long: u64,
}

/// Parses a block of whole lines (the last may lack its `\n` at the end of the input); lines
/// longer than `max_line` bytes are counted, not parsed.
pub fn parse_block(block: &[u8], name: &str, max_line: usize) -> Parsed {
    let mut out = Parsed {
        // resmon's lines are ~1 kB; fewer samples than this estimate only cost a regrowth.
        samples: Vec::with_capacity(block.len() / 1024 + 1),
        skipped: SkipCounts::default(),
        too_long: 0,
    };
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
        if line.len() > max_line + 1 {
            out.too_long += 1;
            continue;
        }
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

/// Reads `src`, calling `each` with every parsed block in input order. A line longer than
/// `max_line` is skipped and counted (in the `too_long` of the block after it) without ever
/// being held whole: memory stays within a few blocks of `max_line` + 1 MB.
pub fn for_each_block(
    src: &InputSource,
    max_line: usize,
    mut each: impl FnMut(Parsed),
) -> anyhow::Result<()> {
    let mut input = src.open().map_err(soak_core::exit::usage)?;
    let name = src.display_name();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    // Every block buffer in the pipeline is one of these, handed back once its samples are
    // delivered: the reader waits for a free one, so a stalled worker cannot make the others
    // pile up parsed blocks, and buffers are reused rather than allocated and zeroed anew.
    let buffers = 2 * workers + 1;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (block_tx, block_rx) = sync_channel::<(u64, Vec<u8>)>(buffers);
        let (done_tx, done_rx) = sync_channel::<(u64, Parsed, Vec<u8>)>(buffers);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(buffers);
        for _ in 0..buffers {
            // The channel holds every buffer, so this never blocks; it cannot fail either,
            // as the receiver is alive.
            let _ = free_tx.send(Vec::new());
        }
        let block_rx = Arc::new(Mutex::new(block_rx));
        for _ in 0..workers {
            let rx = Arc::clone(&block_rx);
            let tx = done_tx.clone();
            let name = name.as_str();
            scope.spawn(move || {
                loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some((seq, block)) = next else { break };
                    let parsed = parse_block(&block, name, max_line);
                    if tx.send((seq, parsed, block)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let reader = scope.spawn(move || -> std::io::Result<u64> {
            let mut seq = 0u64;
            // The partial last line of the previous block, which starts the next one.
            let mut carry: Vec<u8> = Vec::new();
            // Lines dropped here for being too long (the reader never holds them whole).
            let mut dropped = 0u64;
            // No free buffer means the consumer has gone: stop.
            while let Ok(mut block) = free_rx.recv() {
                loop {
                    // A reused buffer is already initialised up to its length: only growth
                    // is zeroed.
                    let start = carry.len();
                    block.resize(start + BLOCK, 0);
                    block[..start].copy_from_slice(&carry);
                    carry.clear();
                    let n = read_full(&mut input, &mut block[start..])?;
                    block.truncate(start + n);
                    if n == 0 {
                        // End of input: what is left is a last line without its newline.
                        if !block.is_empty() {
                            let _ = block_tx.send((seq, block));
                        }
                        return Ok(dropped);
                    }
                    // Blocks hold whole lines: the tail after the last newline moves on. A
                    // block without any newline is one long line: read on, unless it is
                    // already too long, then read past its end without keeping it.
                    match memchr::memrchr(b'\n', &block) {
                        Some(nl) if block.len() - nl - 1 > max_line => {
                            dropped += 1;
                            block.truncate(nl + 1);
                            // At the end of the input nothing follows; the block goes out.
                            skip_to_next_line(&mut input, &mut carry)?;
                            break;
                        }
                        Some(nl) => {
                            carry.extend_from_slice(&block[nl + 1..]);
                            block.truncate(nl + 1);
                            break;
                        }
                        None if block.len() > max_line => {
                            dropped += 1;
                            block.clear();
                            if !skip_to_next_line(&mut input, &mut carry)? {
                                return Ok(dropped);
                            }
                        }
                        None => carry.append(&mut block),
                    }
                }
                if block_tx.send((seq, block)).is_err() {
                    break;
                }
                seq += 1;
            }
            Ok(dropped)
        });
        deliver(done_rx, &free_tx, &mut each);
        let dropped = reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread panicked"))?
            .map_err(|e| read_error(&name, &e))?;
        each(Parsed {
            too_long: dropped,
            ..Parsed::default()
        });
        Ok(())
    })
}

/// An input that cannot be read: a corrupt or truncated compressed file is bad input (exit 2),
/// anything else the environment (exit 3). One line naming the file.
fn read_error(name: &str, e: &std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let msg = format!("reading {name}: {e}");
    match e.kind() {
        ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof => {
            soak_core::exit::usage(msg)
        }
        _ => soak_core::exit::environment(msg),
    }
}

/// Reads past the rest of an over-long line in small steps, keeping nothing of it; what
/// follows its newline is left in `rest`. False at the end of the input.
fn skip_to_next_line(input: &mut dyn Read, rest: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            rest.clear();
            rest.extend_from_slice(&buf[i + 1..n]);
            return Ok(true);
        }
    }
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

fn deliver(
    rx: Receiver<(u64, Parsed, Vec<u8>)>,
    free: &SyncSender<Vec<u8>>,
    each: &mut impl FnMut(Parsed),
) {
    let mut waiting: BTreeMap<u64, (Parsed, Vec<u8>)> = BTreeMap::new();
    let mut next = 0u64;
    for (seq, parsed, block) in rx {
        waiting.insert(seq, (parsed, block));
        while let Some((p, block)) = waiting.remove(&next) {
            each(p);
            // Only now the buffer goes back, so out-of-order blocks count as in flight. The
            // reader may have stopped (end of input): then nobody needs it.
            let _ = free.send(block);
            next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracegen::{Shape, TraceSpec, write_trace};

    #[test]
    fn blocks_of_a_long_input_arrive_whole_and_in_order() {
        // ~12 MB: a dozen blocks, so every buffer is reused at least once, and each block
        // ends inside a line.
        let spec = TraceSpec::new(Shape::Linear, 3.0, 1.0);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trace.jsonl");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        write_trace(&mut f, &spec).expect("write");
        std::io::Write::flush(&mut f).expect("flush");
        drop(f);
        assert!(std::fs::metadata(&path).expect("meta").len() > 8 * BLOCK as u64);
        let mut elapsed = Vec::new();
        let mut skipped = SkipCounts::default();
        for_each_block(&InputSource::File(path), 1 << 20, |p| {
            skipped.merge(&p.skipped);
            elapsed.extend(p.samples.iter().map(|s| s.elapsed_s));
        })
        .expect("read");
        let want: Vec<Option<f64>> = (0..spec.samples())
            .map(|k| Some(k as f64 * spec.interval_s))
            .collect();
        assert_eq!(elapsed, want);
        // Only resmon's start event is not a sample.
        assert_eq!(skipped.get(SkipReason::OtherType), 1);
        assert_eq!(skipped.total(), 1);
    }
}
