//! Pattern packs: the built-in one (`builtin.toml`, the seeds' log lines) and user packs in
//! the same TOML format, compiled into one multi-pattern regex (a lazy DFA walked by
//! [`crate::set_search`], the meta regex where it gives up) so each line is matched against the
//! whole pack in a single pass, and a [`crate::prefilter::LinePrefilter`] of the literals the
//! patterns require, so most lines need not be matched at all.

use std::path::{Path, PathBuf};

use regex::bytes::Regex;
use regex_automata::nfa::thompson::{self, backtrack, backtrack::BoundedBacktracker};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, MatchKind, PatternSet, meta, util::syntax};
use serde::{Deserialize, Serialize};

use crate::prefilter::LinePrefilter;
use crate::set_search::{SetMemory, SetSearch};

/// The built-in pack's TOML source.
pub const BUILTIN_PACK: &str = include_str!("builtin.toml");

/// A pack shipped in the binary, selected by name with `--pack NAME`.
#[derive(Debug, Clone, Copy)]
pub struct NamedPack {
    /// The name `--pack` takes.
    pub name: &'static str,
    /// What its patterns match, one line (for `--list-packs`).
    pub about: &'static str,
    /// Its TOML source (the format of `builtin.toml`).
    pub toml: &'static str,
}

/// The packs `--pack NAME` selects, written from each project's own log lines.
pub const NAMED_PACKS: &[NamedPack] = &[
    NamedPack {
        name: "freqtrade",
        about: "freqtrade: worker heartbeat, exchange retries and TemporaryErrors, DDosProtection, \
            order timeouts and errors, ccxt auth failures, consumer WebSocket, fatal exception",
        toml: include_str!("packs/freqtrade.toml"),
    },
    NamedPack {
        name: "hummingbot",
        about: "hummingbot: WebSocket closes and reconnects, network status, API rate limits, \
            HTTP 401/403/429, order failures, lost orders, connector and clock errors (no heartbeat)",
        toml: include_str!("packs/hummingbot.toml"),
    },
];

/// Why a pack could not be loaded; every message names the file and, where it applies, the
/// pattern.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The file could not be read.
    #[error("{}: cannot read pattern file: {source}", path.display())]
    Read {
        /// The pack file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the pack format.
    #[error("{}: {message}", path.display())]
    Toml {
        /// The pack file.
        path: PathBuf,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// A pattern's regex does not compile.
    #[error("{}: pattern '{name}': invalid regex: {message}", path.display())]
    Regex {
        /// The pack file.
        path: PathBuf,
        /// The pattern's name.
        name: String,
        /// The regex compiler's message.
        message: String,
    },
    /// `--pack NAME` names no pack shipped in the binary.
    #[error("--pack '{name}': no such pack (known: {known})")]
    UnknownPack {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// A pattern is not usable as written.
    #[error("{}: pattern '{name}': {message}", path.display())]
    Invalid {
        /// The pack file.
        path: PathBuf,
        /// The pattern's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// One pattern as written in a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    /// Unique name.
    pub name: String,
    /// What a match means (`heartbeat`, `latency`, `ws_reconnect`, `crash`, ...).
    pub kind: String,
    /// `info`, `warning`, `error` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The regex (Rust syntax).
    pub regex: String,
}

fn default_severity() -> String {
    "warning".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    pattern: Vec<PatternSpec>,
}

const SEVERITIES: [&str; 4] = ["info", "warning", "error", "critical"];

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The spec it was compiled from.
    pub spec: PatternSpec,
    /// The compiled regex (for captures).
    pub regex: Regex,
    /// Whether the regex has named capture groups worth extracting.
    pub has_captures: bool,
    /// Its named groups, in the regex's order, with their indexes.
    pub groups: Vec<(usize, String)>,
    /// How its captures are found (patterns with named groups only).
    capture_search: Option<CaptureSearch>,
}

/// A capturing pattern's own search: the same regex as [`Pattern::regex`] (built as
/// `regex::bytes::Regex` builds it), and the literal every match starts with, when there is
/// one. Then the leftmost match starts at the first occurrence of that literal where an
/// anchored search matches, which spares the forward and reverse scans an unanchored capture
/// search needs to find the match's bounds.
#[derive(Debug, Clone)]
struct CaptureSearch {
    regex: meta::Regex,
    /// The literal every match starts with, and a backtracker for the rest of the pattern,
    /// anchored right after the literal (no DFA pass first: the rest of a line after the
    /// literal is short).
    prefix: Option<(memchr::memmem::Finder<'static>, BoundedBacktracker)>,
}

/// Memory for one capturing pattern's search.
#[derive(Debug, Clone)]
struct CaptureMemory {
    cache: meta::Cache,
    caps: Captures,
    backtrack: Option<(backtrack::Cache, Captures)>,
}

/// The literal every match of `pattern` starts with (its first piece, when that is a
/// case-sensitive literal), and the rest of the pattern after it.
fn literal_prefix(pattern: &str) -> Option<(Vec<u8>, regex_syntax::hir::Hir)> {
    use regex_syntax::hir::{Hir, HirKind};
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let HirKind::Concat(children) = hir.kind() else {
        return None;
    };
    let (first, rest) = children.split_first()?;
    match first.kind() {
        HirKind::Literal(lit) if !lit.0.is_empty() => {
            Some((lit.0.to_vec(), Hir::concat(rest.to_vec())))
        }
        _ => None,
    }
}

impl CaptureSearch {
    fn new(pattern: &str) -> Result<CaptureSearch, String> {
        let regex = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .nfa_size_limit(Some(10 * (1 << 20)))
                    .hybrid_cache_capacity(2 * (1 << 20))
                    .match_kind(MatchKind::LeftmostFirst)
                    .utf8_empty(false),
            )
            .syntax(syntax::Config::new().utf8(false))
            .build(pattern)
            .map_err(|e| e.to_string())?;
        let prefix = match literal_prefix(pattern) {
            Some((literal, rest)) => {
                // The backtracker starts after the literal (found already), so it does not
                // walk the literal's bytes state by state; the groups' positions are the
                // line's either way, and look-arounds see the whole line.
                let nfa = thompson::Compiler::new()
                    .configure(thompson::Config::new().utf8(false))
                    .build_from_hir(&rest)
                    .map_err(|e| e.to_string())?;
                let backtracker = BoundedBacktracker::builder()
                    .build_from_nfa(nfa)
                    .map_err(|e| e.to_string())?;
                Some((
                    memchr::memmem::Finder::new(&literal).into_owned(),
                    backtracker,
                ))
            }
            None => None,
        };
        Ok(CaptureSearch { regex, prefix })
    }

    fn memory(&self) -> CaptureMemory {
        CaptureMemory {
            cache: self.regex.create_cache(),
            caps: self.regex.create_captures(),
            backtrack: self
                .prefix
                .as_ref()
                .map(|(_, b)| (b.create_cache(), b.create_captures())),
        }
    }

    /// The leftmost-first match of the pattern in `line`, with its groups.
    fn search<'m>(&self, line: &[u8], memory: &'m mut CaptureMemory) -> Option<&'m Captures> {
        let CaptureMemory {
            cache,
            caps,
            backtrack,
        } = memory;
        let (Some((prefix, backtracker)), Some((bt_cache, bt_caps))) = (&self.prefix, backtrack)
        else {
            self.regex
                .search_captures_with(cache, &Input::new(line), caps);
            return caps.is_match().then_some(&*caps);
        };
        let mut from = 0;
        while let Some(i) = line.get(from..).and_then(|rest| prefix.find(rest)) {
            let at = from + i;
            let after_literal = Input::new(line)
                .range(at + prefix.needle().len()..)
                .anchored(Anchored::Yes);
            // The backtracker gives up on a haystack too long for its memory bound: then
            // the meta regex searches (same match).
            if backtracker
                .try_search(bt_cache, &after_literal, bt_caps)
                .is_ok()
            {
                if bt_caps.is_match() {
                    return Some(&*bt_caps);
                }
            } else {
                let input = Input::new(line).range(at..).anchored(Anchored::Yes);
                self.regex.search_captures_with(cache, &input, caps);
                if caps.is_match() {
                    return Some(&*caps);
                }
            }
            from = at + 1;
        }
        None
    }
}

impl Pattern {
    /// The index of the named group `name`, if the regex has one.
    pub fn group(&self, name: &str) -> Option<usize> {
        self.groups.iter().find(|(_, n)| n == name).map(|(i, _)| *i)
    }
}

/// The set DFA's cache (as the meta regex's).
const SET_CACHE_BYTES: usize = 2 * (1 << 20);

/// A compiled set of patterns.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The patterns, in pack order.
    pub patterns: Vec<Pattern>,
    /// All patterns in one regex that reports every pattern matching anywhere in a line.
    set: meta::Regex,
    /// The same as a lazy DFA walked by hand, resuming where a line leaves the previous one
    /// (the meta regex answers the lines it cannot decide).
    set_search: Option<SetSearch>,
    prefilter: Option<LinePrefilter>,
}

/// Parses pack TOML into specs; `origin` names the file in errors.
pub fn parse_specs(text: &str, origin: &Path) -> Result<Vec<PatternSpec>, PackError> {
    let file: PackFile = toml::from_str(text).map_err(|e| PackError::Toml {
        path: origin.to_path_buf(),
        message: e.to_string().replace('\n', " "),
    })?;
    Ok(file.pattern)
}

/// Reads a user pack file.
pub fn read_specs(path: &Path) -> Result<Vec<PatternSpec>, PackError> {
    let text = std::fs::read_to_string(path).map_err(|source| PackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_specs(&text, path)
}

/// The built-in pack's specs.
pub fn builtin_specs() -> Vec<PatternSpec> {
    // The built-in pack is tested to parse; an empty pack would only hide a build defect.
    parse_specs(BUILTIN_PACK, Path::new("<built-in>")).unwrap_or_default()
}

/// The specs of the named pack `name`.
pub fn named_pack_specs(name: &str) -> Result<Vec<PatternSpec>, PackError> {
    let pack =
        NAMED_PACKS
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| PackError::UnknownPack {
                name: name.to_string(),
                known: NAMED_PACKS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    parse_specs(pack.toml, &named_pack_origin(name))
}

/// How a named pack is named in error messages: `<pack NAME>`.
pub fn named_pack_origin(name: &str) -> PathBuf {
    PathBuf::from(format!("<pack {name}>"))
}

/// Memory a scanner reuses from line to line: the set regex's cache, which patterns matched,
/// and each pattern's capture positions.
#[derive(Debug, Clone)]
pub struct MatchScratch {
    cache: meta::Cache,
    /// The patterns that matched the last line given to [`Pack::matches_into`].
    pub hits: PatternSet,
    /// Capture search memory, one per pattern (index as in [`Pack::patterns`]), for the
    /// patterns with named groups.
    captures: Vec<Option<CaptureMemory>>,
    /// The set DFA's cache and the previous line's walk.
    set_memory: Option<SetMemory>,
}

impl MatchScratch {
    /// The leftmost-first match of pattern `index` of `pack` in `line` and its groups, when
    /// the pattern has named groups and matches.
    pub fn captures(&mut self, pack: &Pack, index: usize, line: &[u8]) -> Option<&Captures> {
        let search = pack.patterns.get(index)?.capture_search.as_ref()?;
        search.search(line, self.captures.get_mut(index)?.as_mut()?)
    }
}

/// The pack as one regex reporting every matching pattern: configured as
/// `regex::bytes::RegexSet` configures it, so the patterns mean exactly what they mean to the
/// individual `regex::bytes::Regex`es.
fn set_regex<'a>(patterns: impl Iterator<Item = &'a str>) -> Result<meta::Regex, String> {
    let patterns: Vec<&str> = patterns.collect();
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .nfa_size_limit(Some(10 * (1 << 20)))
                .hybrid_cache_capacity(2 * (1 << 20))
                .match_kind(MatchKind::All)
                .utf8_empty(false)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
        )
        .syntax(syntax::Config::new().utf8(false))
        .build_many(&patterns)
        .map_err(|e| e.to_string())
}

impl Pack {
    /// Compiles specs (each tagged with its origin for error messages). A user pattern with
    /// the name of an earlier one replaces it.
    pub fn compile(specs: Vec<(PathBuf, PatternSpec)>) -> Result<Pack, PackError> {
        let mut ordered: Vec<(PathBuf, PatternSpec)> = Vec::new();
        for (origin, spec) in specs {
            if !SEVERITIES.contains(&spec.severity.as_str()) {
                return Err(PackError::Invalid {
                    path: origin,
                    name: spec.name,
                    message: format!(
                        "severity '{}' is not one of {}",
                        spec.severity,
                        SEVERITIES.join(", ")
                    ),
                });
            }
            if spec.kind.trim().is_empty() {
                return Err(PackError::Invalid {
                    path: origin,
                    name: spec.name,
                    message: "kind is empty".into(),
                });
            }
            match ordered.iter_mut().find(|(_, s)| s.name == spec.name) {
                Some(slot) => *slot = (origin, spec),
                None => ordered.push((origin, spec)),
            }
        }
        let mut patterns = Vec::with_capacity(ordered.len());
        for (origin, spec) in ordered {
            let regex = Regex::new(&spec.regex).map_err(|e| PackError::Regex {
                path: origin.clone(),
                name: spec.name.clone(),
                message: e.to_string().replace('\n', " "),
            })?;
            let capture_search =
                match regex.capture_names().flatten().next() {
                    Some(_) => Some(CaptureSearch::new(&spec.regex).map_err(|message| {
                        PackError::Regex {
                            path: origin.clone(),
                            name: spec.name.clone(),
                            message,
                        }
                    })?),
                    None => None,
                };
            let groups: Vec<(usize, String)> = regex
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| Some((i, n?.to_string())))
                .collect();
            patterns.push(Pattern {
                spec,
                regex,
                has_captures: !groups.is_empty(),
                groups,
                capture_search,
            });
        }
        let set = set_regex(patterns.iter().map(|p| p.spec.regex.as_str())).map_err(|e| {
            PackError::Invalid {
                path: PathBuf::from("<pack>"),
                name: "*".into(),
                message: e,
            }
        })?;
        let prefilter = LinePrefilter::new(patterns.iter().map(|p| p.spec.regex.as_str()));
        let regexes: Vec<&str> = patterns.iter().map(|p| p.spec.regex.as_str()).collect();
        let set_search = SetSearch::new(&regexes, SET_CACHE_BYTES);
        Ok(Pack {
            patterns,
            set,
            set_search,
            prefilter,
        })
    }

    /// The indexes of the patterns that match `line`. Most lines match nothing: a plain
    /// `is_match` answers those without building the per-pattern match set.
    pub fn matching(&self, line: &[u8]) -> Vec<usize> {
        let mut scratch = self.scratch();
        if !self.matches_into(line, &mut scratch) {
            return Vec::new();
        }
        scratch.hits.iter().map(|p| p.as_usize()).collect()
    }

    /// Fills `scratch.hits` with the patterns that match `line`, in one pass over it (over
    /// what it does not share with the previous line, see [`crate::set_search`]) and without
    /// allocating; returns whether any did.
    pub fn matches_into(&self, line: &[u8], scratch: &mut MatchScratch) -> bool {
        scratch.hits.clear();
        if let (Some(search), Some(memory)) = (&self.set_search, &mut scratch.set_memory) {
            if search.matches_into(line, memory, &mut scratch.hits).is_ok() {
                return !scratch.hits.is_empty();
            }
            scratch.hits.clear();
        }
        self.matches_by_set(line, scratch);
        !scratch.hits.is_empty()
    }

    /// Fills `scratch.hits` by the pack's meta regex alone (every pattern, one pass over the
    /// whole line, nothing remembered from line to line): the reference the walk of
    /// [`Pack::matches_into`] is tested against.
    pub fn matches_by_set(&self, line: &[u8], scratch: &mut MatchScratch) {
        scratch.hits.clear();
        self.set.which_overlapping_matches_with(
            &mut scratch.cache,
            &Input::new(line),
            &mut scratch.hits,
        );
    }

    /// The same pack with a set DFA cache of `bytes` (tests: a small one is cleared often).
    #[cfg(test)]
    fn with_set_cache(mut self, bytes: usize) -> Pack {
        let regexes: Vec<&str> = self
            .patterns
            .iter()
            .map(|p| p.spec.regex.as_str())
            .collect();
        self.set_search = SetSearch::new(&regexes, bytes);
        self
    }

    /// Reusable memory for [`Pack::matches_into`] and the patterns' captures.
    pub fn scratch(&self) -> MatchScratch {
        MatchScratch {
            cache: self.set.create_cache(),
            hits: PatternSet::new(self.set.pattern_len()),
            captures: self
                .patterns
                .iter()
                .map(|p| p.capture_search.as_ref().map(CaptureSearch::memory))
                .collect(),
            set_memory: self.set_search.as_ref().map(SetSearch::memory),
        }
    }

    /// The literal prefilter that finds the lines which may match (none when some pattern
    /// has no required literal: then every line is matched).
    pub fn prefilter(&self) -> Option<&LinePrefilter> {
        self.prefilter.as_ref()
    }

    /// The pack as TOML, in the format `--patterns` reads.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            pattern: Vec<&'a PatternSpec>,
        }
        let out = Out {
            pattern: self.patterns.iter().map(|p| &p.spec).collect(),
        };
        toml::to_string(&out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Pack {
        Pack::compile(
            builtin_specs()
                .into_iter()
                .map(|s| (PathBuf::from("<built-in>"), s))
                .collect(),
        )
        .expect("built-in pack compiles")
    }

    fn kinds(pack: &Pack, line: &str) -> Vec<String> {
        pack.matching(line.as_bytes())
            .into_iter()
            .map(|i| pack.patterns[i].spec.kind.clone())
            .collect()
    }

    #[test]
    fn builtin_pack_recognises_the_seeds_lines() {
        let p = builtin();
        assert!(p.patterns.len() >= 18);
        let cases = [
            ("2025-10-01 12:00:00,001 INFO [HB] alive", "heartbeat"),
            ("latency_ms{stage=\"rest\"} 123", "latency"),
            ("INFO latency_ms=42", "latency"),
            (
                "ERROR [HANDLER_TIMEOUT] WebSocket message handler timeout for ws-1",
                "handler_timeout",
            ),
            ("[ERROR] WebSocket disconnected", "ws_disconnect"),
            (
                "Reconnect attempt 3/10 for ws-1, backoff delay 4.0s",
                "ws_reconnect",
            ),
            (
                "Network connectivity validation failed: timeout",
                "network_validation_failure",
            ),
            ("HTTP 429 Too Many Requests", "rate_limit"),
            ("bybit retCode=10006 rate limit", "rate_limit"),
            ("status=401 Unauthorized", "auth_failure"),
            ("Order rejected: insufficient balance", "order_error"),
            ("Traceback (most recent call last):", "traceback_start"),
            ("thread 'main' panicked at src/main.rs:3:5:", "crash"),
            ("Out of memory: Killed process 4242 (python3)", "oom_kill"),
            ("sqlite3.OperationalError: database is locked", "db_lock"),
            (
                "[SHUTDOWN] Cancelling all active orders...",
                "shutdown_start",
            ),
            ("[SHUTDOWN] Cancelled 3 orders", "shutdown_cancelled"),
            ("[SHUTDOWN] Shutdown complete", "shutdown_complete"),
            ("WARNING Potential ghost position BTCUSDT", "ghost"),
            ("WARNING Potential orphan order abc-1", "orphan"),
            ("[QUARANTINE] order 77 marked unknown", "quarantine"),
        ];
        for (line, kind) in cases {
            assert!(
                kinds(&p, line).contains(&kind.to_string()),
                "{line} → {:?}",
                kinds(&p, line)
            );
        }
        for quiet in [
            "INFO order placed BTCUSDT qty=0.01",
            "latency 429ms is fine",
            "WebSocket connected (connection_id=ws-1)",
        ] {
            let k = kinds(&p, quiet);
            assert!(k.is_empty() || k == ["latency"], "{quiet} → {k:?}");
        }
    }

    #[test]
    fn reconnect_and_disconnect_lines_of_real_libraries() {
        let p = builtin();
        let cases = [
            (
                "INFO:websockets.client:connect failed; reconnecting in 2.6 seconds: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8765)",
                "ws_reconnect",
            ),
            (
                "connect failed again; retrying in 5 seconds: OSError: x",
                "ws_reconnect",
            ),
            (
                "INFO:socketio.client:Connection failed, new attempt in 1.37 seconds",
                "ws_reconnect",
            ),
            (
                "INFO:socketio.client:Engine.IO connection dropped",
                "ws_disconnect",
            ),
            (
                "INFO:socketio.client:Maximum reconnection attempts reached, giving up",
                "ws_gave_up",
            ),
            (
                "INFO:pybit._websocket_stream:WebSocket Linear attempting connection...",
                "ws_reconnect",
            ),
            (
                "ERROR:pybit._websocket_stream:WebSocket Linear (wss://stream.bybit.com/v5/public/linear) encountered error: Connection to remote host was lost..",
                "ws_disconnect",
            ),
            (
                "2026-12-06 19:24:36,123 INFO kraken.spot.websocket.connectors: Websocket start connect/reconnect",
                "ws_reconnect",
            ),
            ("INFO Connection closed!", "ws_disconnect"),
            (
                "ccxt.base.errors.NetworkError: Connection closed by remote server, closing code 1006",
                "ws_disconnect",
            ),
            (
                "RequestTimeout: Connection to wss://stream.bybit.com/v5/public/spot timed out due to a ping-pong keepalive missing on time",
                "ws_disconnect",
            ),
            (
                "aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected",
                "ws_disconnect",
            ),
            (
                "2026-12-06T19:24:36Z WARN feed: WebSocket protocol error: Connection reset without closing handshake",
                "ws_disconnect",
            ),
        ];
        for (line, kind) in cases {
            let k = kinds(&p, line);
            assert!(k.contains(&kind.to_string()), "{line} → {k:?}");
        }
        // A library's first successful connection is not a reconnect.
        for quiet in [
            "INFO:websockets.client:connected",
            "INFO:socketio.client:Engine.IO connection established",
            "INFO:pybit._websocket_stream:WebSocket Linear connected",
            "INFO Websocket connection established!",
        ] {
            assert!(
                kinds(&p, quiet).is_empty(),
                "{quiet} → {:?}",
                kinds(&p, quiet)
            );
        }
    }

    #[test]
    fn user_patterns_add_replace_and_report_errors_by_name() {
        let specs = parse_specs(
            "[[pattern]]\nname = \"heartbeat\"\nkind = \"heartbeat\"\nseverity = \"info\"\nregex = 'tick'\n",
            Path::new("u.toml"),
        )
        .expect("parse");
        let mut all: Vec<_> = builtin_specs()
            .into_iter()
            .map(|s| (PathBuf::from("b"), s))
            .collect();
        let n = all.len();
        all.extend(specs.into_iter().map(|s| (PathBuf::from("u.toml"), s)));
        let pack = Pack::compile(all).expect("compile");
        assert_eq!(pack.patterns.len(), n, "same name replaces");
        assert_eq!(kinds(&pack, "tick"), ["heartbeat"]);

        let bad = parse_specs(
            "[[pattern]]\nname = \"broken\"\nkind = \"x\"\nregex = 'a(b'\n",
            Path::new("u.toml"),
        )
        .expect("toml ok");
        let err = Pack::compile(
            bad.into_iter()
                .map(|s| (PathBuf::from("u.toml"), s))
                .collect(),
        )
        .expect_err("bad regex");
        let msg = err.to_string();
        assert!(
            msg.starts_with("u.toml: pattern 'broken': invalid regex"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));

        let err = parse_specs("[[pattern]]\nname = 1\n", Path::new("u.toml")).expect_err("toml");
        assert!(err.to_string().starts_with("u.toml: "), "{err}");
    }

    #[test]
    fn every_named_pack_compiles_with_the_builtin_one() {
        for named in NAMED_PACKS {
            let specs = named_pack_specs(named.name).expect("parses");
            // Hummingbot logs no periodic line a heartbeat could be.
            assert_eq!(
                specs.iter().any(|s| s.kind == "heartbeat"),
                named.name != "hummingbot",
                "{}: heartbeat pattern",
                named.name
            );
            let builtin_names: Vec<String> = builtin_specs().into_iter().map(|s| s.name).collect();
            for s in &specs {
                assert!(
                    !builtin_names.contains(&s.name),
                    "{}: pattern '{}' would replace a built-in one",
                    named.name,
                    s.name
                );
            }
            let n = specs.len();
            let all: Vec<_> = builtin_specs()
                .into_iter()
                .map(|s| (PathBuf::from("<built-in>"), s))
                .chain(
                    specs
                        .into_iter()
                        .map(|s| (named_pack_origin(named.name), s)),
                )
                .collect();
            let pack = Pack::compile(all).expect("compiles");
            assert_eq!(pack.patterns.len(), builtin_specs().len() + n);
        }
        assert!(matches!(
            named_pack_specs("nope"),
            Err(PackError::UnknownPack { .. })
        ));
    }

    #[test]
    fn captures_are_those_of_the_plain_regex() {
        let p = builtin();
        let mut scratch = p.scratch();
        let lines: [&[u8]; 6] = [
            b"latency_ms is logged below; latency_ms{stage=\"ws\"} 12.5",
            b"latency_mslatency_ms=7",
            b"x latency_ms{stage=\"\"}: 3 and latency_ms=9",
            b"[SHUTDOWN] Cancelling; [SHUTDOWN] Cancelled 12 orders",
            b"connect failed; reconnecting in  seconds, connect failed again; retrying in 2.5 seconds",
            b"Reconnect attempt #4 after backoff 3s",
        ];
        for line in lines {
            let mut compared = 0;
            for (i, pat) in p.patterns.iter().enumerate() {
                let plain = pat.regex.captures(line);
                let ours = scratch.captures(&p, i, line);
                if !pat.has_captures {
                    assert!(ours.is_none());
                    continue;
                }
                assert_eq!(plain.is_some(), ours.is_some(), "{}", pat.spec.name);
                if let (Some(plain), Some(ours)) = (plain, ours) {
                    compared += 1;
                    for (group, name) in &pat.groups {
                        let a = plain.name(name).map(|m| m.range());
                        let b = ours.get_group(*group).map(|s| s.range());
                        assert_eq!(a, b, "{} {name} in {:?}", pat.spec.name, line);
                    }
                }
            }
            assert!(compared >= 1, "{:?}", String::from_utf8_lossy(line));
        }
        // A line too long for the backtracker's memory bound: the meta regex answers.
        let mut long = b"latency_ms{stage=\"ws\"} 5 ".to_vec();
        long.resize(400_000, b'x');
        let latency = p.patterns.iter().position(|q| q.spec.kind == "latency");
        let latency = latency.expect("a latency pattern");
        let caps = scratch.captures(&p, latency, &long).expect("match");
        let stage = caps.get_group(p.patterns[latency].group("stage").expect("group"));
        assert_eq!(stage.map(|s| s.range()), Some(18..20));
        // The search after the literal still sees the literal before it: `\B` between
        // `x` and a digit holds (both are word characters), as in the plain regex.
        let search = CaptureSearch::new(r"x(?P<g>\B\d+)").expect("compiles");
        let mut memory = search.memory();
        let plain = Regex::new(r"x(?P<g>\B\d+)").expect("compiles");
        for line in [&b"x5"[..], b"a x 7 x42", b"x-1", b"\xffx9"] {
            let want = plain
                .captures(line)
                .and_then(|c| c.name("g"))
                .map(|m| m.range());
            let got = search
                .search(line, &mut memory)
                .and_then(|c| c.get_group(1));
            assert_eq!(got.map(|s| s.range()), want, "{line:?}");
        }
        let (literal, _) = literal_prefix(r"latency_ms(?:x)?").expect("a literal");
        assert_eq!(literal, b"latency_ms");
        assert!(literal_prefix(r"(?i)reconnect").is_none());
    }

    /// Lines in an order where each shares a start with the one before, in every shape the
    /// set walk must decide as the meta regex does: CRLF ends, invalid UTF-8, non-ASCII
    /// letters next to a Unicode `\b` (the DFA gives up), very long lines, empty lines,
    /// lines that are a prefix of the previous one, and lines matching many patterns.
    fn hostile_lines() -> Vec<Vec<u8>> {
        let heads: [&[u8]; 6] = [
            b"2025-10-01 12:00:00,000 - bot - INFO - ",
            b"2025-10-01 12:00:00,050 - metrics - DEBUG - ",
            b"2025-10-01 12:00:01,000 ",
            b"[2025-10-01 12:00:01] ",
            b"",
            b"  ",
        ];
        let bodies: [&[u8]; 16] = [
            b"[HB] alive",
            b"latency_ms{stage=\"ws\"} 12",
            b"latency_ms=7 status=429 Too Many Requests, ERROR order rejected [QUARANTINE] \
              Reconnect attempt 3/10, backoff delay 2.0s websocket disconnected",
            b"book update BTCUSDT bid=60000.1",
            b"panic: x",
            b"caf\xc3\xa9 fatal error caf\xc3\xa9",
            b"me\xc5\xbf\xc5\xbfage handler timeout",
            b"bad \xff\xfe bytes [SHUTDOWN] Cancelled 3 orders",
            b"rate limited\r",
            b"Traceback (most recent call last):",
            b"Out of memory: \xe2\x84\xaailled process 1",
            b"level=error",
            b"ERROR",
            b"ERRORS are not errors",
            b"\xe2\x84\xaa ERROR \xe2\x84\xaa",
            b"",
        ];
        let mut lines = Vec::new();
        let mut x = 11u32;
        for _ in 0..3000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let head = heads[(x >> 8) as usize % heads.len()];
            let body = bodies[(x >> 16) as usize % bodies.len()];
            let mut line = head.to_vec();
            line.extend_from_slice(body);
            match (x >> 24) % 64 {
                // The previous line cut short, or made longer.
                0 => {
                    if let Some(prev) = lines.last().cloned() {
                        let prev: Vec<u8> = prev;
                        line = prev[..prev.len() / 2].to_vec();
                    }
                }
                1 => {
                    if let Some(prev) = lines.last().cloned() {
                        line = prev;
                        line.extend_from_slice(b" ERROR");
                    }
                }
                2 => line.resize(line.len() + 20_000, b'x'),
                _ => {}
            }
            lines.push(line);
        }
        // Text that never repeats: the eight-byte steps are paused, then tried again.
        for _ in 0..600 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let y = x.wrapping_mul(2_654_435_761);
            lines.push(
                format!(
                    "2025-10-01 12:00:00,000 {x:08x}{y:08x} latency_ms={} {y:x}{x:x}",
                    x % 997
                )
                .into_bytes(),
            );
        }
        lines.extend(lines[..300].to_vec());
        let mut long = b"2025-10-01 12:00:00,000 ".to_vec();
        long.resize(300_000, b'y');
        long.extend_from_slice(b"[HB] alive");
        lines.push(long);
        lines
    }

    #[test]
    fn the_set_walk_finds_what_the_meta_regex_finds() {
        let mut specs: Vec<(PathBuf, PatternSpec)> = builtin_specs()
            .into_iter()
            .chain(
                NAMED_PACKS
                    .iter()
                    .flat_map(|p| named_pack_specs(p.name).expect("pack")),
            )
            .map(|s| (PathBuf::from("b"), s))
            .collect();
        for (name, regex) in [
            ("empty_line", "^$"),
            ("anything", "z*"),
            ("word", r"\bERROR\b"),
            ("ascii_word", r"(?-u:\b)caf"),
            ("ends", r"alive$"),
            ("multi_line", r"(?m)^\[HB\]"),
            ("spans", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},0{3} - bot"),
        ] {
            specs.push((
                PathBuf::from("u"),
                PatternSpec {
                    name: name.into(),
                    kind: name.into(),
                    severity: "info".into(),
                    regex: regex.into(),
                },
            ));
        }
        let lines = hostile_lines();
        // Small caches are cleared again and again (after a clear, state ids name other
        // states): the walk and its eight-byte steps must notice.
        let small = |bytes| {
            Pack::compile(specs.clone())
                .expect("pack")
                .with_set_cache(bytes)
        };
        for (pack, small_cache) in [
            (Pack::compile(specs.clone()).expect("pack"), false),
            (small(8 << 10), true),
            (small(24 << 10), true),
            (small(64 << 10), true),
            (builtin(), false),
        ] {
            let search = pack.set_search.as_ref().expect("a set DFA");
            let mut memory = search.memory();
            let (mut walked, mut reference) = (pack.scratch(), pack.scratch());
            let (mut seen, mut decided) = (0, 0);
            for (n, line) in lines.iter().enumerate() {
                let any = pack.matches_into(line, &mut walked);
                pack.matches_by_set(line, &mut reference);
                let got: Vec<usize> = walked.hits.iter().map(|p| p.as_usize()).collect();
                let want: Vec<usize> = reference.hits.iter().map(|p| p.as_usize()).collect();
                assert_eq!(got, want, "line {n}: {:?}", String::from_utf8_lossy(line));
                assert_eq!(any, !want.is_empty());
                seen += want.len();
                // The walk itself (not the meta regex after it gave up) decides most lines.
                let mut hits = PatternSet::new(pack.patterns.len());
                if search.matches_into(line, &mut memory, &mut hits).is_ok() {
                    decided += 1;
                    assert_eq!(hits, reference.hits, "line {n} walked alone");
                }
            }
            assert!(seen > lines.len(), "{seen}");
            assert!(decided * 2 > lines.len(), "{decided} of {}", lines.len());
            assert_eq!(memory.cache_clears() > 0, small_cache);
            assert!(memory.stride_pauses() > 0);
        }
    }

    #[test]
    fn pack_round_trips_through_toml() {
        let p = builtin();
        let again = parse_specs(&p.to_toml(), Path::new("x")).expect("parse");
        assert_eq!(again, builtin_specs());
    }
}
