//! A literal prefilter for the whole pack, run over whole blocks of the log rather than line
//! by line.
//!
//! For every pattern we derive a set of *required literals*: any match of the pattern contains
//! at least one of them (compared ignoring ASCII case). One aho-corasick automaton over all of
//! them finds the lines that may match something; every other line provably matches no
//! pattern, so the scanner only counts it and reads its time. A candidate line is then
//! matched exactly by the pack's `RegexSet`, as before: the prefilter may only ever let too
//! many lines through, never too few.
//!
//! When some pattern has no required literal (e.g. `\d+ms`), there is no prefilter and every
//! line goes through the `RegexSet`.

use aho_corasick::{AhoCorasick, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most strings an exact set may hold before it is only used as "one of these is inside".
const EXACT_LIMIT: usize = 32;

/// What a regex (node) tells us about the literals in its matches, ASCII-lowercased.
#[derive(Debug, Clone, PartialEq)]
enum Literals {
    /// Every match is exactly one of these strings.
    Exact(Vec<Vec<u8>>),
    /// Every match contains one of these strings (none of them empty).
    Inner(Vec<Vec<u8>>),
    /// Nothing useful is known.
    Unknown,
}

/// The required literals of `pattern` (as `regex::bytes` parses it), ASCII-lowercased; `None`
/// when the pattern can match without containing any fixed string.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    match literals(&hir) {
        Literals::Exact(set) | Literals::Inner(set) if usable(&set) => Some(set),
        _ => None,
    }
}

fn usable(set: &[Vec<u8>]) -> bool {
    !set.is_empty() && set.iter().all(|s| !s.is_empty())
}

fn literals(hir: &Hir) -> Literals {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Literals::Exact(vec![Vec::new()]),
        HirKind::Literal(lit) => Literals::Exact(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => match single_folded_byte_string(class) {
            Some(s) => Literals::Exact(vec![s]),
            None => Literals::Unknown,
        },
        HirKind::Capture(cap) => literals(&cap.sub),
        HirKind::Repetition(rep) => {
            if rep.min == 0 {
                return Literals::Unknown;
            }
            match literals(&rep.sub) {
                Literals::Exact(set) if rep.min == 1 && rep.max == Some(1) => Literals::Exact(set),
                Literals::Exact(set) | Literals::Inner(set) if usable(&set) => Literals::Inner(set),
                _ => Literals::Unknown,
            }
        }
        HirKind::Concat(children) => concat(children),
        HirKind::Alternation(children) => alternation(children),
    }
}

/// A class that, ignoring ASCII case, is one character: its UTF-8 bytes, lowercased.
fn single_folded_byte_string(class: &Class) -> Option<Vec<u8>> {
    let mut members: Vec<Vec<u8>> = Vec::new();
    match class {
        Class::Unicode(c) => {
            for r in c.ranges() {
                if u32::from(r.end()) - u32::from(r.start()) > 4 {
                    return None;
                }
                for cp in u32::from(r.start())..=u32::from(r.end()) {
                    let ch = char::from_u32(cp)?;
                    let mut b = [0u8; 4];
                    members.push(ch.encode_utf8(&mut b).as_bytes().to_ascii_lowercase());
                }
            }
        }
        Class::Bytes(c) => {
            for r in c.ranges() {
                if r.end() - r.start() > 4 {
                    return None;
                }
                members.extend((r.start()..=r.end()).map(|b| vec![b.to_ascii_lowercase()]));
            }
        }
    }
    members.sort();
    members.dedup();
    match members.len() {
        1 => members.pop(),
        _ => None,
    }
}

/// The better of two "one of these is inside" sets: longest shortest string, then fewest.
fn better(a: Option<Vec<Vec<u8>>>, b: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    if !usable(&b) {
        return a;
    }
    let score = |s: &[Vec<u8>]| {
        let shortest = s.iter().map(Vec::len).min().unwrap_or(0);
        (shortest.min(8), std::cmp::Reverse(s.len()))
    };
    match a {
        Some(a) if score(&a) >= score(&b) => Some(a),
        _ => Some(b),
    }
}

fn concat(children: &[Hir]) -> Literals {
    let mut best: Option<Vec<Vec<u8>>> = None;
    let mut run: Vec<Vec<u8>> = vec![Vec::new()];
    let mut all_exact = true;
    for child in children {
        match literals(child) {
            Literals::Exact(set) if run.len() * set.len() <= EXACT_LIMIT => {
                run = run
                    .iter()
                    .flat_map(|a| {
                        set.iter().map(move |b| {
                            let mut s = a.clone();
                            s.extend_from_slice(b);
                            s
                        })
                    })
                    .collect();
            }
            Literals::Exact(set) => {
                all_exact = false;
                best = better(best, std::mem::replace(&mut run, set));
            }
            Literals::Inner(set) => {
                all_exact = false;
                best = better(best, std::mem::replace(&mut run, vec![Vec::new()]));
                best = better(best, set);
            }
            Literals::Unknown => {
                all_exact = false;
                best = better(best, std::mem::replace(&mut run, vec![Vec::new()]));
            }
        }
    }
    if all_exact {
        run.sort();
        run.dedup();
        return Literals::Exact(run);
    }
    match better(best, run) {
        Some(set) => Literals::Inner(set),
        None => Literals::Unknown,
    }
}

fn alternation(children: &[Hir]) -> Literals {
    let mut union: Vec<Vec<u8>> = Vec::new();
    let mut all_exact = true;
    for child in children {
        match literals(child) {
            Literals::Exact(set) => union.extend(set),
            Literals::Inner(set) => {
                all_exact = false;
                union.extend(set);
            }
            Literals::Unknown => return Literals::Unknown,
        }
    }
    union.sort();
    union.dedup();
    if all_exact && union.len() <= EXACT_LIMIT {
        Literals::Exact(union)
    } else if usable(&union) {
        Literals::Inner(union)
    } else {
        Literals::Unknown
    }
}

/// Finds the lines of a block that may match some pattern of the pack.
#[derive(Debug, Clone)]
pub struct LinePrefilter {
    automaton: AhoCorasick,
}

impl LinePrefilter {
    /// A prefilter for these patterns, or `None` when one of them has no required literal.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<LinePrefilter> {
        let mut all: Vec<Vec<u8>> = Vec::new();
        for p in patterns {
            all.extend(required_literals(p)?);
        }
        all.sort();
        all.dedup();
        // A literal holding another one is found whenever the shorter one is.
        let needed: Vec<&Vec<u8>> = all
            .iter()
            .filter(|l| {
                !all.iter()
                    .any(|o| o.len() < l.len() && memchr::memmem::find(l, o).is_some())
            })
            .collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(needed)
            .ok()?;
        Some(LinePrefilter { automaton })
    }

    /// Where, at or after `from`, the first required literal of any pattern starts in
    /// `lowered`, a block with its ASCII letters lowercased (see [`lowercase_into`]). No line
    /// that ends before the line holding that offset (and, with `None`, no line at all from
    /// `from` on) can match any pattern.
    pub fn next_candidate(&self, lowered: &[u8], from: usize) -> Option<usize> {
        let input = aho_corasick::Input::new(lowered).range(from..);
        self.automaton.find(input).map(|m| m.start())
    }
}

/// Copies `block` into `out` with its ASCII letters lowercased, for
/// [`LinePrefilter::next_candidate`]; offsets are the same in both.
pub fn lowercase_into(block: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(block);
    out.make_ascii_lowercase();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::builtin_specs;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|v| {
            v.into_iter()
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .collect()
        })
    }

    #[test]
    fn literals_of_concatenations_alternations_and_repetitions() {
        assert_eq!(lits(r"\[HB\]\s*alive"), Some(vec!["alive".into()]));
        assert_eq!(
            lits(r"^Traceback \(most recent call last\):"),
            Some(vec!["traceback (most recent call last):".into()])
        );
        assert_eq!(
            lits(r"order (?:rejected|failed)"),
            Some(vec!["order failed".into(), "order rejected".into()])
        );
        assert_eq!(lits(r"(?:ab)+c"), Some(vec!["ab".into()]));
        // Case-insensitive `s` and `k` also match ſ and the Kelvin sign: the run is cut there.
        assert_eq!(lits(r"(?i)kill"), Some(vec!["ill".into()]));
        assert_eq!(lits(r"(?i)ab|cd"), Some(vec!["ab".into(), "cd".into()]));
    }

    #[test]
    fn patterns_without_a_fixed_string_have_none() {
        for p in [r"\d+", r"a?", r"(?:foo)?bar|\w+", "", r"[a-z]{3}"] {
            assert_eq!(lits(p), None, "{p}");
        }
    }

    #[test]
    fn every_builtin_pattern_has_required_literals() {
        for spec in builtin_specs() {
            assert!(lits(&spec.regex).is_some(), "{}", spec.name);
        }
        assert!(LinePrefilter::new(builtin_specs().iter().map(|s| s.regex.as_str())).is_some());
    }

    #[test]
    fn candidates_are_found_ignoring_case_and_none_past_the_last() {
        let pf = LinePrefilter::new(["(?i)rate limited", r"\[HB\] alive"]).expect("prefilter");
        let mut block = Vec::new();
        lowercase_into(
            b"quiet\nRATE LIMITED now\nquiet\n[hb] ALIVE\nquiet\n",
            &mut block,
        );
        let block = &block;
        let first = pf.next_candidate(block, 0).expect("first");
        assert_eq!(first, 6);
        let second = pf.next_candidate(block, 23).expect("second");
        assert_eq!(&block[second..second + 10], b"[hb] alive");
        assert_eq!(pf.next_candidate(block, 40), None);
    }
}
