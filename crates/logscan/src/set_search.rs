//! Which patterns of the pack match a line, by the pack's lazy DFA walked byte by byte and
//! resumed where the line stops sharing the previous line's bytes.
//!
//! Consecutive log lines mostly begin alike (the date, the hour, the minute, often a logger's
//! name): the DFA's state after a line's first `n` bytes depends on those bytes alone, so
//! where a line shares its first `n` bytes with the previous one, the states the previous
//! line went through up to `n` (and the patterns they matched) are taken over and only the
//! rest of the line is walked. Where text repeats (logger names, message templates), eight
//! bytes read from a state through no match state are taken in one step from a table of such
//! steps seen before; text that never repeats pauses the table. A lazy DFA's states are only
//! valid until its cache is cleared: the remembered walk and the table are dropped whenever
//! that happens. A byte the DFA cannot decide on (a non-ASCII byte next to a Unicode `\b`)
//! ends the walk: the caller then asks the pack's meta regex, as before.

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternID, PatternSet};

/// The pack as one lazy DFA reporting every pattern that matches (the meta regex's own
/// configuration: [`crate::pattern`]'s set regex).
#[derive(Debug, Clone)]
pub struct SetSearch {
    dfa: DFA,
}

/// The DFA's cache, the previous line's walk, and the eight-byte steps seen.
#[derive(Debug, Clone)]
pub struct SetMemory {
    cache: Cache,
    /// The cache's clear count when the walk below was recorded.
    clears: usize,
    /// The previous line's bytes that were walked.
    line: Vec<u8>,
    /// States of the walk with how many bytes had been read: `(0, start)` first, then after
    /// every fourth byte and after every eight bytes taken in one step.
    states: Vec<(usize, LazyStateID)>,
    /// The match states of the walk, with how many bytes had been read when each was reached.
    matches: Vec<(usize, LazyStateID)>,
    /// Eight bytes read from a state that lead through no match, quit or dead state: where
    /// they lead (a direct-mapped table, valid for the cache clear count `strides_clears`).
    strides: Vec<Stride>,
    strides_clears: usize,
    /// Recent steps found in `strides` less those not found: text that does not repeat
    /// (every step missed) pays for the table and gains nothing, so below [`STRIDE_GIVE_UP`]
    /// the next [`STRIDE_PAUSE`] lines are walked byte by byte.
    stride_score: i32,
    stride_pause: u32,
    /// How often the steps were paused.
    stride_pauses: u64,
}

/// Eight bytes read from `from` lead to `to`, through states that are neither match, quit
/// nor dead states.
#[derive(Debug, Clone, Copy, Default)]
struct Stride {
    used: bool,
    from: LazyStateID,
    bytes: u64,
    to: LazyStateID,
}

/// How many eight-byte steps [`SetMemory`] keeps (a power of two).
const STRIDES: usize = 4096;
/// Highest [`SetMemory::stride_score`], and where it gives up.
const STRIDE_SCORE_MAX: i32 = 64;
const STRIDE_GIVE_UP: i32 = -16;
/// Lines walked byte by byte after giving up, before trying the table again.
const STRIDE_PAUSE: u32 = 256;

/// The DFA cannot decide the line (a quit byte or a cache failure): ask the meta regex.
#[derive(Debug)]
pub struct Undecided;

impl SetSearch {
    /// The lazy DFA of `patterns` with a cache of `cache_bytes` (the meta regex's is 2 MiB),
    /// or `None` when it cannot be built (the meta regex then answers alone).
    pub fn new(patterns: &[&str], cache_bytes: usize) -> Option<SetSearch> {
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .unicode_word_boundary(true)
                    .cache_capacity(cache_bytes)
                    .skip_cache_capacity_check(true),
            )
            .syntax(syntax::Config::new().utf8(false))
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(10 * (1 << 20)))
                    .which_captures(WhichCaptures::None),
            )
            .build_many(patterns)
            .ok()?;
        Some(SetSearch { dfa })
    }

    /// Fresh memory for [`SetSearch::matches_into`].
    pub fn memory(&self) -> SetMemory {
        let cache = self.dfa.create_cache();
        SetMemory {
            clears: cache.clear_count(),
            cache,
            line: Vec::new(),
            states: Vec::new(),
            matches: Vec::new(),
            strides: vec![Stride::default(); STRIDES],
            strides_clears: 0,
            stride_score: 0,
            stride_pause: 0,
            stride_pauses: 0,
        }
    }

    /// Adds to `hits` every pattern that matches somewhere in `line`.
    pub fn matches_into(
        &self,
        line: &[u8],
        memory: &mut SetMemory,
        hits: &mut PatternSet,
    ) -> Result<(), Undecided> {
        let walked = self.walk(line, memory, hits);
        if walked.is_err() {
            memory.forget();
        }
        walked
    }

    fn walk(
        &self,
        line: &[u8],
        memory: &mut SetMemory,
        hits: &mut PatternSet,
    ) -> Result<(), Undecided> {
        let dfa = &self.dfa;
        if memory.cache.clear_count() != memory.clears {
            memory.forget();
        }
        // Resume at the last recorded state within the bytes shared with the previous line.
        let shared = common_prefix(&memory.line, line);
        let kept = memory.states.partition_point(|(at, _)| *at <= shared);
        let (mut at, mut state) = match kept.checked_sub(1).and_then(|i| memory.states.get(i)) {
            Some(resume) => *resume,
            None => {
                memory.forget();
                let start = dfa
                    .start_state_forward(&mut memory.cache, &Input::new(line))
                    .map_err(|_| Undecided)?;
                memory.states.push((0, start));
                if start.is_match() {
                    memory.matches.push((0, start));
                }
                (0, start)
            }
        };
        memory.states.truncate(kept.max(1));
        memory.line.truncate(at);
        memory.matches.retain(|(m, _)| *m <= at);
        for (_, s) in &memory.matches {
            add_patterns(dfa, &memory.cache, *s, hits);
        }
        let clears = memory.cache.clear_count();
        let from = at;
        let mut dead = false;
        let strides = memory.stride_pause == 0;
        memory.stride_pause = memory.stride_pause.saturating_sub(1);
        while at < line.len() && !dead {
            let chunk = line
                .get(at..at + 8)
                .filter(|_| strides && !state.is_tagged());
            let Some(bytes) = chunk
                .and_then(|c| c.try_into().ok())
                .map(u64::from_le_bytes)
            else {
                // Steps paused: the rest byte by byte; fewer than eight bytes left or a
                // tagged state: one byte.
                let to = if strides { at + 1 } else { line.len() };
                while at < to && !dead {
                    dead = self.step(line, &mut at, &mut state, memory, hits)?;
                }
                continue;
            };
            memory.check_strides();
            let slot = stride_slot(state, bytes);
            if let Some(stride) = memory
                .strides
                .get(slot)
                .filter(|s| s.used && s.from == state && s.bytes == bytes)
            {
                state = stride.to;
                at += 8;
                memory.states.push((at, state));
                memory.stride_score = (memory.stride_score + 1).min(STRIDE_SCORE_MAX);
                continue;
            }
            memory.stride_score -= 1;
            if memory.stride_score <= STRIDE_GIVE_UP {
                memory.stride_score = 0;
                memory.stride_pause = STRIDE_PAUSE;
                memory.stride_pauses += 1;
            }
            let (start, start_at, start_clears) = (state, at, memory.cache.clear_count());
            let mut clean = true;
            while at < start_at + 8 && !dead {
                dead = self.step(line, &mut at, &mut state, memory, hits)?;
                clean &= !state.is_tagged();
            }
            if clean && memory.cache.clear_count() == start_clears {
                if let Some(entry) = memory.strides.get_mut(slot) {
                    *entry = Stride {
                        used: true,
                        from: start,
                        bytes,
                        to: state,
                    };
                }
            }
        }
        memory.line.extend_from_slice(&line[from..at]);
        let end = dfa
            .next_eoi_state(&mut memory.cache, state)
            .map_err(|_| Undecided)?;
        if end.is_match() {
            add_patterns(dfa, &memory.cache, end, hits);
        }
        if memory.cache.clear_count() != clears {
            // States recorded before the cache was cleared are no longer valid.
            memory.forget();
        }
        memory.clears = memory.cache.clear_count();
        Ok(())
    }

    /// Reads `line[*at]` from `state`; says whether the walk is dead (nothing more can
    /// match: the byte is not counted as read).
    #[inline(always)]
    fn step(
        &self,
        line: &[u8],
        at: &mut usize,
        state: &mut LazyStateID,
        memory: &mut SetMemory,
        hits: &mut PatternSet,
    ) -> Result<bool, Undecided> {
        let Some(&byte) = line.get(*at) else {
            return Ok(true);
        };
        let next = self
            .dfa
            .next_state(&mut memory.cache, *state, byte)
            .map_err(|_| Undecided)?;
        *state = next;
        if next.is_tagged() {
            if next.is_quit() {
                return Err(Undecided);
            }
            if next.is_dead() {
                return Ok(true);
            }
            if next.is_match() {
                add_patterns(&self.dfa, &memory.cache, next, hits);
                memory.matches.push((*at + 1, next));
            }
        }
        *at += 1;
        // Every fourth state is enough to resume at (at most three bytes read again).
        if *at % 4 == 0 {
            memory.states.push((*at, next));
        }
        Ok(false)
    }
}

impl SetMemory {
    /// How often the DFA's cache was cleared (tests).
    #[cfg(test)]
    pub fn cache_clears(&self) -> usize {
        self.cache.clear_count()
    }

    /// How often the eight-byte steps were paused (tests).
    #[cfg(test)]
    pub fn stride_pauses(&self) -> u64 {
        self.stride_pauses
    }

    fn forget(&mut self) {
        self.line.clear();
        self.states.clear();
        self.matches.clear();
        self.clears = self.cache.clear_count();
    }

    /// Drops the eight-byte steps once the cache has been cleared (their states are gone).
    fn check_strides(&mut self) {
        if self.cache.clear_count() != self.strides_clears {
            self.strides.fill(Stride::default());
            self.strides_clears = self.cache.clear_count();
        }
    }
}

/// Where the eight bytes `bytes` read from `state` are kept in [`SetMemory::strides`].
fn stride_slot(state: LazyStateID, bytes: u64) -> usize {
    use std::hash::Hash;
    let mut id = IdHasher(0);
    state.hash(&mut id);
    let mixed = (id.0 ^ bytes.rotate_left(17) ^ bytes).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - STRIDES.trailing_zeros())) as usize
}

/// A hasher that keeps the state id it is given (a `u32`).
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

fn add_patterns(dfa: &DFA, cache: &Cache, state: LazyStateID, hits: &mut PatternSet) {
    for i in 0..dfa.match_len(cache, state) {
        let pattern: PatternID = dfa.match_pattern(cache, state, i);
        hits.insert(pattern);
    }
}

/// How many bytes `a` and `b` share at their start.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix(b"", b"abc"), 0);
        assert_eq!(
            common_prefix(b"2025-10-01 12:00:00,1", b"2025-10-01 12:00:00,2"),
            20
        );
        assert_eq!(common_prefix(b"abcdefghij", b"abcdefghij"), 10);
        assert_eq!(common_prefix(b"abcdefghXj", b"abcdefghij"), 8);
        assert_eq!(common_prefix(b"abcdefgh", b"abcdefghij"), 8);
    }
}
