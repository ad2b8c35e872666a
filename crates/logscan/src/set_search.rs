//! Which patterns of the pack match a line, by the pack's lazy DFA walked byte by byte and
//! resumed where the line stops sharing the previous line's bytes.
//!
//! Consecutive log lines mostly begin alike (the date, the hour, the minute, often a logger's
//! name): the DFA's state after a line's first `n` bytes depends on those bytes alone, so
//! where a line shares its first `n` bytes with the previous one, the states the previous
//! line went through up to `n` (and the patterns they matched) are taken over and only the
//! rest of the line is walked. A lazy DFA's states are only valid until its cache is
//! cleared: the remembered walk is dropped whenever that happens. A byte the DFA cannot
//! decide on (a non-ASCII byte next to a Unicode `\b`) ends the walk: the caller then asks
//! the pack's meta regex, as before.

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

/// The DFA's cache and the previous line's walk.
#[derive(Debug, Clone)]
pub struct SetMemory {
    cache: Cache,
    /// The cache's clear count when the walk below was recorded.
    clears: usize,
    /// The previous line's bytes that were walked.
    line: Vec<u8>,
    /// `states[i]`: the state after its first `i` bytes (`states[0]`: the start state).
    states: Vec<LazyStateID>,
    /// The match states of the walk, with how many bytes had been read when each was reached.
    matches: Vec<(usize, LazyStateID)>,
}

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
        // The bytes shared with the previous line, as far as its walk was recorded.
        let shared = common_prefix(&memory.line, line).min(memory.states.len().saturating_sub(1));
        let input = Input::new(line);
        let mut state = match memory.states.get(shared) {
            Some(s) => *s,
            None => {
                memory.forget();
                let start = dfa
                    .start_state_forward(&mut memory.cache, &input)
                    .map_err(|_| Undecided)?;
                memory.states.push(start);
                if start.is_match() {
                    memory.matches.push((0, start));
                }
                start
            }
        };
        memory.states.truncate(shared + 1);
        memory.line.truncate(shared);
        memory.matches.retain(|(at, _)| *at <= shared);
        for (_, s) in &memory.matches {
            add_patterns(dfa, &memory.cache, *s, hits);
        }
        let clears = memory.cache.clear_count();
        let rest = &line[shared..];
        memory.states.reserve(rest.len());
        let mut walked = rest.len();
        for (i, &byte) in rest.iter().enumerate() {
            state = dfa
                .next_state(&mut memory.cache, state, byte)
                .map_err(|_| Undecided)?;
            if state.is_tagged() {
                if state.is_quit() {
                    return Err(Undecided);
                }
                if state.is_match() {
                    add_patterns(dfa, &memory.cache, state, hits);
                    memory.matches.push((shared + i + 1, state));
                }
                if state.is_dead() {
                    walked = i;
                    break;
                }
            }
            memory.states.push(state);
        }
        memory.line.extend_from_slice(&rest[..walked]);
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
}

impl SetMemory {
    /// How often the DFA's cache was cleared (tests).
    #[cfg(test)]
    pub fn cache_clears(&self) -> usize {
        self.cache.clear_count()
    }

    fn forget(&mut self) {
        self.line.clear();
        self.states.clear();
        self.matches.clear();
        self.clears = self.cache.clear_count();
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
