//! The one pass over log lines: time stamping, matching the pack, grouping tracebacks, and
//! accumulating the figures the summary needs. Memory stays flat in the log's size.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errors::{ErrorTally, HourWindow};
use crate::histogram::Histogram;
use crate::number;
use crate::pattern::{MatchScratch, Pack};
use crate::prefilter::lowercase_into;
use crate::roles::{PackRoles, PatternRole, Role};
use crate::timestamp::{TimestampParser, UnixTime};
use regex_automata::util::captures::Captures;

/// Longest line text kept in an event record.
const MAX_TEXT: usize = 400;
pub use crate::roles::FATAL_KINDS;
/// JSON-lines fields tried, in order, for a line's time.
const JSON_TIME_FIELDS: [&str; 5] = ["timestamp", "time", "ts", "@timestamp", "asctime"];

/// One match, ready to become an `event` record.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The pattern's kind (a traceback is reported as `traceback`).
    pub kind: String,
    /// The pattern's name.
    pub pattern: String,
    /// The pattern's severity.
    pub severity: String,
    /// The file it was found in (`-` for stdin).
    pub file: String,
    /// Its 1-based line number.
    pub line: u64,
    /// The line's time, or the last time seen before it.
    pub time: Option<UnixTime>,
    /// The line (lossily decoded, cut to 400 characters).
    pub text: String,
    /// Named captures, numbers where they parse, and traceback details.
    pub fields: Map<String, Value>,
}

struct OpenTraceback {
    event: Event,
    /// The exception line was seen; a chained traceback may still follow.
    ended: bool,
    /// A "During handling ..." / "The above exception ..." line announced a chained traceback.
    chained: bool,
    /// Further tracebacks whose lines interleave with this one's (threads of one process
    /// printing at once, as `http.server`'s do): each is one more logged error.
    interleaved: u64,
    /// Lines of other output met before the exception line.
    foreign_lines: u64,
}

/// The figures a scan accumulates.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Files read.
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that were not valid UTF-8 (decoded lossily).
    pub invalid_utf8_lines: u64,
    /// Lines with no time of their own (they inherit the previous one).
    pub lines_without_time: u64,
    /// Earliest and latest time seen.
    pub first_time: Option<UnixTime>,
    /// Latest time seen.
    pub last_time: Option<UnixTime>,
    /// Events by kind.
    pub counts: BTreeMap<String, u64>,
    /// Latency distributions by stage (`default` when the line names none).
    pub latency: BTreeMap<String, Histogram>,
    /// Heartbeats seen.
    pub heartbeats: u64,
    /// Time of the last heartbeat.
    pub last_heartbeat: Option<UnixTime>,
    /// Largest gap between heartbeats, and its start (silence before the first heartbeat is
    /// never judged: see [`crate::heartbeat`]).
    pub max_heartbeat_gap: Option<(f64, UnixTime)>,
    /// Longest heartbeat silence observed live by `--follow` (wall clock), and when it began.
    pub live_gap: Option<(f64, UnixTime)>,
    /// Most reconnect attempts within any one-hour window.
    pub reconnects_max_in_hour: u64,
    reconnect_window: HourWindow,
    /// Logged errors the service survived: tracebacks, exceptions, error-level lines.
    pub errors: ErrorTally,
    /// Lines longer than the `--max-line` limit, skipped unread.
    pub line_too_long: u64,
    /// Shutdown sequence: started, orders cancelled (last figure), completed.
    pub shutdown_started: bool,
    /// Orders the shutdown sequence said it cancelled.
    pub shutdown_cancelled: Option<u64>,
    /// The shutdown sequence completed.
    pub shutdown_completed: bool,
    /// A crash came after the shutdown sequence started.
    pub crash_after_shutdown: bool,
}

impl Stats {
    /// Events of `kind` seen.
    pub fn count(&self, kind: &str) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// The log's time span in seconds.
    pub fn span_s(&self) -> Option<f64> {
        Some(self.last_time? - self.first_time?)
    }

    /// The heartbeat gap up to `end` (silence at the end of the log counts too).
    pub fn heartbeat_gap_until(&self, end: Option<UnixTime>) -> Option<(f64, UnixTime)> {
        let tail = match (self.last_heartbeat, end) {
            (Some(hb), Some(end)) if end > hb => Some((end - hb, hb)),
            _ => None,
        };
        [self.max_heartbeat_gap, tail, self.live_gap]
            .into_iter()
            .flatten()
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    fn see_time(&mut self, t: UnixTime) {
        self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
        self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
    }

    fn account(&mut self, e: &Event) {
        let stage = e.fields.get("stage").and_then(Value::as_str);
        let facts = Facts {
            latency_ms: e.fields.get("latency_ms").and_then(Value::as_f64),
            stage: stage.filter(|s| !s.is_empty()).unwrap_or("default").into(),
            cancelled: e.fields.get("count").and_then(Value::as_u64),
        };
        self.account_facts(&e.kind, e.time, &facts);
    }

    /// Counts one match of `kind` at `time`, with what its captures said.
    fn account_facts(&mut self, kind: &str, time: Option<UnixTime>, facts: &Facts<'_>) {
        self.add_count(kind, 1);
        self.apply(Role::of(kind), time, facts);
    }

    fn add_count(&mut self, kind: &str, n: u64) {
        match self.counts.get_mut(kind) {
            Some(c) => *c += n,
            None => {
                self.counts.insert(kind.to_string(), n);
            }
        }
    }

    /// What one match of a kind with `role` at `time` does to the figures beyond its count.
    fn apply(&mut self, role: Role, time: Option<UnixTime>, facts: &Facts<'_>) {
        match role {
            Role::Heartbeat => {
                self.heartbeats += 1;
                if let Some(t) = time {
                    if let Some(p) = self.last_heartbeat.filter(|p| t > *p) {
                        let gap = t - p;
                        if self.max_heartbeat_gap.is_none_or(|(g, _)| gap > g) {
                            self.max_heartbeat_gap = Some((gap, p));
                        }
                    }
                    self.last_heartbeat = Some(t);
                }
            }
            Role::Latency => {
                if let Some(ms) = facts.latency_ms {
                    match self.latency.get_mut(facts.stage.as_ref()) {
                        Some(h) => h.record(ms),
                        None => self
                            .latency
                            .entry(facts.stage.to_string())
                            .or_default()
                            .record(ms),
                    }
                }
            }
            Role::Reconnect => {
                self.reconnect_window.add(time);
                self.reconnects_max_in_hour = self.reconnect_window.max;
            }
            Role::ShutdownStart => self.shutdown_started = true,
            Role::ShutdownCancelled => {
                self.shutdown_cancelled = facts.cancelled;
            }
            Role::ShutdownComplete => self.shutdown_completed = true,
            Role::Fatal if self.shutdown_started => self.crash_after_shutdown = true,
            Role::Fatal | Role::Other => {}
        }
    }
}

/// What a match tells the summary beyond its count, read from the same captures an event's
/// fields are made of (so the figures are the same whether events are built or not).
struct Facts<'a> {
    /// `latency_ms`, when it reads as a number.
    latency_ms: Option<f64>,
    /// `stage` when it is text and not empty, else `default`.
    stage: std::borrow::Cow<'a, str>,
    /// `count` when it is a whole number that is not negative.
    cancelled: Option<u64>,
}

/// Scans lines one at a time.
pub struct Scanner<'p> {
    pack: &'p Pack,
    times: TimestampParser,
    json_field: Option<String>,
    last_time: Option<UnixTime>,
    traceback: Option<OpenTraceback>,
    /// An error line not yet counted: a traceback right after it is the same error.
    pending_error: Option<(String, Option<UnixTime>)>,
    /// The current block, lowercased for the prefilter (kept to reuse its memory).
    lowered: Vec<u8>,
    /// Lines longer than this are skipped and counted (`line_too_long`).
    max_line: usize,
    /// The block being fed is valid UTF-8 as a whole (so each of its lines is).
    block_valid: bool,
    /// Lines of the current block that matched some pattern.
    block_matched: u64,
    /// The last block was dense (at least 3 in 4 of its lines matched): the literal
    /// prefilter would let nearly every line through, so the next block skips it.
    skip_prefilter: bool,
    /// Whether matches become [`Event`]s for `emit` (otherwise only the figures are kept).
    events: bool,
    /// The set regex's cache, the patterns a line matched and their captures, reused.
    scratch: MatchScratch,
    /// Each pattern's part in the summary (kind index, role, groups).
    roles: PackRoles,
    /// Matches per kind (index as in `roles.kinds`) not yet added to `stats.counts`.
    kind_counts: Vec<u64>,
    /// The kinds (indexes) the current line has matched (a line counts once per kind), reused.
    kinds_seen: Vec<usize>,
    /// The patterns (indexes) the current line has matched, reused.
    matched: Vec<usize>,
    /// What the scan has accumulated.
    pub stats: Stats,
}

impl<'p> Scanner<'p> {
    /// A scanner for `pack`; `json_field` names the message field of JSON-lines logs; `year`
    /// is assumed for syslog times.
    pub fn new(pack: &'p Pack, json_field: Option<String>, year: i32) -> Self {
        let roles = PackRoles::new(pack);
        Scanner {
            pack,
            times: TimestampParser::new(year),
            json_field,
            last_time: None,
            traceback: None,
            pending_error: None,
            lowered: Vec::new(),
            max_line: usize::MAX,
            events: true,
            block_valid: false,
            block_matched: 0,
            skip_prefilter: false,
            scratch: pack.scratch(),
            kind_counts: vec![0; roles.kinds.len()],
            roles,
            kinds_seen: Vec::new(),
            matched: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Lines longer than `max_line` bytes are skipped: counted in `lines` and
    /// `line_too_long`, never matched or time-stamped.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line;
    }

    /// Whether matches are handed to `emit` as events (the default). Without, a matched line
    /// costs no allocation: only the figures are kept; tracebacks are still emitted.
    pub fn set_events(&mut self, events: bool) {
        self.events = events;
    }

    /// Accounts for `n` lines that were too long to be read at all (skipped by the reader).
    pub fn skipped_too_long(&mut self, n: u64) {
        self.stats.lines += n;
        self.stats.line_too_long += n;
    }

    /// Feeds one line (without its line terminator); every event it completes is passed to
    /// `emit`, in order.
    pub fn feed(&mut self, file: &str, line_no: u64, raw: &[u8], emit: &mut dyn FnMut(Event)) {
        self.feed_line(file, line_no, raw, emit);
        self.flush_counts();
    }

    /// Adds the matches counted by kind index to `stats.counts`.
    fn flush_counts(&mut self) {
        for (kind, n) in self.roles.kinds.iter().zip(&mut self.kind_counts) {
            if *n > 0 {
                self.stats.add_count(kind, std::mem::take(n));
            }
        }
    }

    /// [`Scanner::feed`] without bringing `stats.counts` up to date.
    fn feed_line(&mut self, file: &str, line_no: u64, raw: &[u8], emit: &mut dyn FnMut(Event)) {
        if raw.len() > self.max_line {
            self.skipped_too_long(1);
            return;
        }
        self.stats.lines += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !self.block_valid && std::str::from_utf8(raw).is_err() {
            self.stats.invalid_utf8_lines += 1;
        }
        let (message, time): (std::borrow::Cow<'_, [u8]>, Option<UnixTime>) =
            match self.json_message(raw) {
                Some((m, t)) => (std::borrow::Cow::Owned(m.into_bytes()), t),
                None => (std::borrow::Cow::Borrowed(raw), self.times.parse(raw)),
            };
        match time {
            Some(t) => {
                self.last_time = Some(t);
                self.stats.see_time(t);
            }
            None => self.stats.lines_without_time += 1,
        }
        let message = message.as_ref();
        if let Some((text, t)) = self.pending_error.take() {
            // `logger.exception(...)`: the ERROR line and its traceback are one error.
            let absorbed = self.traceback.is_none() && has_traceback_header(message);
            if !absorbed {
                self.stats.errors.add(&text, t);
            }
        }

        if let Some(tb) = &mut self.traceback {
            let indented = message.first().is_some_and(|b| *b == b' ' || *b == b'\t');
            let chained = message.starts_with(b"During handling of the above exception")
                || message.starts_with(b"The above exception was the direct cause");
            if message.is_empty() || indented || chained {
                if chained {
                    tb.ended = false;
                    tb.chained = true;
                }
                return;
            }
            if has_traceback_header(message) && !tb.ended {
                if tb.chained {
                    tb.chained = false;
                } else {
                    tb.interleaved += 1;
                }
                return;
            }
            if !tb.ended && !is_exception_line(message) {
                // Another thread's line printed into this traceback (http.server's separators
                // and access lines): handled on its own, the traceback stays open for a while.
                tb.foreign_lines += 1;
                if tb.foreign_lines <= MAX_FOREIGN_LINES {
                    self.match_line(file, line_no, message, false, emit);
                    return;
                }
            } else if !tb.ended {
                tb.ended = true;
                let text = lossy(message);
                tb.event
                    .fields
                    .insert("last_line".into(), Value::from(text.clone()));
                tb.event
                    .fields
                    .insert("exception".into(), Value::from(text));
                tb.event
                    .fields
                    .insert("line_end".into(), Value::from(line_no));
                // The exception line itself may match other patterns (MemoryError, locks).
                self.match_line(file, line_no, message, true, emit);
                return;
            }
            self.close_traceback(emit);
        }
        self.match_line(file, line_no, message, false, emit);
    }

    /// Feeds a block of whole lines (each ending in `\n`, except perhaps the last at the end
    /// of the input), the first numbered `first_line`; returns how many lines it held. The
    /// result is the same as feeding the lines one by one, but lines the pack's prefilter
    /// rules out are only counted and time-stamped, never matched.
    pub fn feed_block(
        &mut self,
        file: &str,
        first_line: u64,
        block: &[u8],
        emit: &mut dyn FnMut(Event),
    ) -> u64 {
        let pack: &'p Pack = self.pack;
        let prefilter = pack
            .prefilter()
            .filter(|_| self.json_field.is_none() && !self.skip_prefilter);
        self.block_matched = 0;
        let mut lowered = std::mem::take(&mut self.lowered);
        if prefilter.is_some() {
            lowercase_into(block, &mut lowered);
        }
        // `\n` never occurs inside a UTF-8 sequence: the block is valid iff every line is, and
        // one vectorised check of the whole block spares one per line.
        self.block_valid = std::str::from_utf8(block).is_ok();
        let mut line_no = first_line;
        let mut pos = 0;
        while pos < block.len() {
            let start = match prefilter {
                Some(pf) if self.traceback.is_none() => {
                    let Some(hit) = pf.next_candidate(&lowered, pos) else {
                        line_no += self.pass_over(&block[pos..]);
                        break;
                    };
                    let start =
                        memchr::memrchr(b'\n', &block[pos..hit]).map_or(pos, |i| pos + i + 1);
                    line_no += self.pass_over(&block[pos..start]);
                    start
                }
                // Without a prefilter every line is matched; inside a traceback every line
                // counts (indentation, blank lines, chaining).
                _ => pos,
            };
            let end = line_end(block, start);
            self.feed_line(file, line_no, &block[start..end], emit);
            line_no += 1;
            pos = end + 1;
        }
        self.lowered = lowered;
        self.block_valid = false;
        self.flush_counts();
        let lines = line_no - first_line;
        // Dense logs: when most lines match, finding each line's first literal only to hand
        // the line on costs more than matching the few others too (the result is the same).
        self.skip_prefilter = lines >= 64 && self.block_matched * 4 >= lines * 3;
        lines
    }

    /// Accounts for lines that match no pattern (the prefilter said so), with no traceback
    /// open: counted, checked for UTF-8 and time-stamped. Returns how many there were.
    fn pass_over(&mut self, lines: &[u8]) -> u64 {
        if lines.is_empty() {
            return 0;
        }
        self.commit_pending_error();
        // `\n` never occurs inside a UTF-8 sequence: the block is valid iff every line is.
        let all_valid = self.block_valid || std::str::from_utf8(lines).is_ok();
        let mut count = 0;
        let mut pos = 0;
        while pos < lines.len() {
            let end = line_end(lines, pos);
            let raw = &lines[pos..end];
            count += 1;
            pos = end + 1;
            if raw.len() > self.max_line {
                self.stats.line_too_long += 1;
                continue;
            }
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if !all_valid && std::str::from_utf8(raw).is_err() {
                self.stats.invalid_utf8_lines += 1;
            }
            match self.times.parse(raw) {
                Some(t) => {
                    self.last_time = Some(t);
                    self.stats.see_time(t);
                }
                None => self.stats.lines_without_time += 1,
            }
        }
        self.stats.lines += count;
        count
    }

    /// Ends the input: a traceback still open is reported.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Event)) {
        self.close_traceback(emit);
        self.commit_pending_error();
    }

    fn commit_pending_error(&mut self) {
        if let Some((text, t)) = self.pending_error.take() {
            self.stats.errors.add(&text, t);
        }
    }

    fn close_traceback(&mut self, emit: &mut dyn FnMut(Event)) {
        if let Some(mut tb) = self.traceback.take() {
            self.stats.account(&tb.event);
            let message = tb
                .event
                .fields
                .get("exception")
                .and_then(Value::as_str)
                .unwrap_or(&tb.event.text);
            for _ in 0..=tb.interleaved {
                self.stats.errors.add(message, tb.event.time);
            }
            if tb.interleaved > 0 {
                tb.event
                    .fields
                    .insert("interleaved_tracebacks".into(), Value::from(tb.interleaved));
            }
            emit(tb.event);
        }
    }

    fn match_line(
        &mut self,
        file: &str,
        line_no: u64,
        message: &[u8],
        exception_line: bool,
        emit: &mut dyn FnMut(Event),
    ) {
        let pack: &'p Pack = self.pack;
        if !pack.matches_into(message, &mut self.scratch) {
            return;
        }
        self.block_matched += 1;
        let (mut error_line, mut fatal) = (false, false);
        let mut kinds_seen = std::mem::take(&mut self.kinds_seen);
        kinds_seen.clear();
        // The patterns that matched, in pack order (a few of the pack's many).
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        matched.extend(self.scratch.hits.iter().map(|id| id.as_usize()));
        for &i in &matched {
            let Some(p) = pack.patterns.get(i) else {
                continue;
            };
            let Some(role) = self.roles.patterns.get(i) else {
                continue;
            };
            if exception_line && role.traceback_start {
                continue;
            }
            // A line counts once per kind, however many patterns of that kind it matches.
            if kinds_seen.contains(&role.kind) {
                continue;
            }
            kinds_seen.push(role.kind);
            if role.role == Role::Fatal {
                fatal = true;
            } else if role.error {
                error_line = true;
            }
            if !self.events && !role.traceback_start {
                // Without events only the groups the figures read are wanted.
                let wanted =
                    role.latency_ms.is_some() || role.stage.is_some() || role.count.is_some();
                let captures = if wanted {
                    self.scratch.captures(pack, i, message)
                } else {
                    None
                };
                let facts = facts_of(role, message, captures);
                if let Some(n) = self.kind_counts.get_mut(role.kind) {
                    *n += 1;
                }
                self.stats.apply(role.role, self.last_time, &facts);
                continue;
            }
            let captures = self.scratch.captures(pack, i, message);
            let kind = p.spec.kind.as_str();
            let mut fields = Map::new();
            if let Some(locations) = captures {
                for (group, name) in &p.groups {
                    if let Some(text) = group_text(message, locations, *group) {
                        let value = parse_number(&text)
                            .map_or_else(|| Value::from(text.into_owned()), number);
                        fields.insert(name.clone(), value);
                    }
                }
            }
            let event = Event {
                kind: p.spec.kind.clone(),
                pattern: p.spec.name.clone(),
                severity: p.spec.severity.clone(),
                file: file.to_string(),
                line: line_no,
                time: self.last_time,
                text: lossy(message),
                fields,
            };
            if kind == "traceback_start" {
                // Reported once, as a logged error, when the traceback ends.
                self.close_traceback(emit);
                let mut event = event;
                event.kind = "traceback".into();
                event
                    .fields
                    .insert("first_line".into(), Value::from(event.text.clone()));
                self.traceback = Some(OpenTraceback {
                    event,
                    ended: false,
                    chained: false,
                    interleaved: 0,
                    foreign_lines: 0,
                });
                continue;
            }
            self.stats.account(&event);
            emit(event);
        }
        self.kinds_seen = kinds_seen;
        self.matched = matched;
        // A line inside a traceback is part of that traceback's error.
        if error_line && !fatal && !exception_line {
            self.commit_pending_error();
            self.pending_error = Some((lossy(message), self.last_time));
        }
    }

    fn json_message(&self, raw: &[u8]) -> Option<(String, Option<UnixTime>)> {
        let field = self.json_field.as_deref()?;
        if raw.first() != Some(&b'{') {
            return None;
        }
        let obj: Map<String, Value> = serde_json::from_slice(raw).ok()?;
        let message = match obj.get(field)? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let time = JSON_TIME_FIELDS
            .iter()
            .find_map(|k| obj.get(*k).and_then(|v| self.times.parse_json(v)));
        Some((message, time))
    }
}

/// Most lines of other output a traceback may enclose before its exception line; past that
/// it is taken as cut off.
const MAX_FOREIGN_LINES: u64 = 50;

/// Whether `line` has the shape of a traceback's last line: a (dotted) exception name, then
/// `: message` or nothing (`KeyError: 'x'`, `MemoryError`, `http.client.RemoteDisconnected: x`).
fn is_exception_line(line: &[u8]) -> bool {
    // Threads printing at once glue lines: `----------------------------------------KeyError: 1`.
    let line = &line[line.iter().take_while(|b| **b == b'-').count()..];
    let name_len = line
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'.')
        .count();
    let starts_well = line
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
    starts_well && matches!(&line[name_len..], [] | [b':'] | [b':', b' ', ..])
}

/// The first line of a Python traceback.
const TRACEBACK_START: &[u8] = b"Traceback (most recent call last):";

/// Whether `line` holds a traceback's first line: at its start, or glued after another
/// thread's partial output (`print` writes its text and its newline separately).
fn has_traceback_header(line: &[u8]) -> bool {
    memchr::memmem::find(line, TRACEBACK_START).is_some()
}

/// Where the line holding `pos` ends: its `\n`, or the end of the block.
fn line_end(block: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i)
}

/// The figures a match's captures give the summary, read as an event's fields would hold them
/// (numbers where the text parses as one, text otherwise).
fn facts_of<'m>(p: &PatternRole, message: &'m [u8], captures: Option<&Captures>) -> Facts<'m> {
    let mut facts = Facts {
        latency_ms: None,
        stage: "default".into(),
        cancelled: None,
    };
    let Some(locations) = captures else {
        return facts;
    };
    let text_of = |group: Option<usize>| group_text(message, locations, group?);
    facts.latency_ms = p
        .latency_ms
        .and_then(|g| group_number(message, locations, g));
    if let Some(stage) = text_of(p.stage) {
        if !stage.is_empty() && !number::may_be_number(stage.as_bytes()) {
            facts.stage = stage;
        }
    }
    facts.cancelled = p
        .count
        .and_then(|g| group_number(message, locations, g))
        .and_then(|v| number(v).as_u64());
    facts
}

/// A capture group's text as a number, as [`parse_number`] reads [`group_text`]'s text:
/// plain decimals straight from the bytes, anything else the general way.
fn group_number(message: &[u8], captures: &Captures, group: usize) -> Option<f64> {
    let span = captures.get_group(group)?;
    let fast = message.get(span.range()).and_then(number::plain_decimal);
    fast.or_else(|| group_text(message, captures, group).and_then(|t| parse_number(&t)))
}

/// A capture group's text as an event field holds it (lossily decoded, cut to 400
/// characters); borrowed from the line when it needs neither.
fn group_text<'m>(
    message: &'m [u8],
    captures: &Captures,
    group: usize,
) -> Option<std::borrow::Cow<'m, str>> {
    let span = captures.get_group(group)?;
    let bytes = message.get(span.range())?;
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.len() <= MAX_TEXT => Some(std::borrow::Cow::Borrowed(text)),
        _ => Some(std::borrow::Cow::Owned(lossy(bytes))),
    }
}

/// A field's text as a number, when it is a finite one.
fn parse_number(text: &str) -> Option<f64> {
    number::parse_finite(text)
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

fn lossy(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    match s.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{PatternSpec, builtin_specs};
    use std::path::PathBuf;

    fn scan(text: &str) -> (Vec<Event>, Stats) {
        let pack = Pack::compile(
            builtin_specs()
                .into_iter()
                .map(|s| (PathBuf::from("b"), s))
                .collect(),
        )
        .expect("pack");
        let mut s = Scanner::new(&pack, None, 2025);
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            s.feed("t.log", i as u64 + 1, line.as_bytes(), &mut |e| {
                events.push(e)
            });
        }
        s.finish(&mut |e| events.push(e));
        (events, s.stats)
    }

    /// A log with every shape of line the block scan must treat as the line scan does.
    fn mixed_log() -> Vec<u8> {
        let pieces: [&[u8]; 16] = [
            b"2025-10-01 12:00:01,123 - bot - INFO - [HB] alive\n",
            b"2025-10-01T12:00:02Z INFO latency_ms=42\n",
            b"2025-10-01T14:00:03+02:00 latency_ms{stage=\"ws\"} 77\r\n",
            b"Oct  1 12:00:04 host bot[1]: Reconnect attempt 3/10, backoff delay 4.0s\n",
            b"no time here [HB]\nalive\n",
            b"x panic: not at the start\npanic: at the start\n",
            b"bad bytes \xff\xfe [QUARANTINE]\nquiet bad bytes \xc3\x28\n",
            b"Traceback (most recent call last):\n  File \"a.py\", line 1\n    f()\nKeyError: 'x'\n",
            b"Traceback (most recent call last):\n  File \"a.py\"\nMemoryError\n\n\
During handling of the above exception, another exception occurred:\n\n\
Traceback (most recent call last):\n  File \"b.py\"\nRuntimeError: database is locked\n",
            b"2025-09-30 23:59:00,000 an earlier time: ORDER REJECTED\n",
            b"\n\r\n",
            b"[SHUTDOWN] Cancelling all active orders\n[SHUTDOWN] Cancelled 3 orders\n",
            b"2025-10-01 12:00:05,000 book update BTCUSDT bid=60000.1 ask=60001.2 qty=3\n",
            b"2025-10-01 12:00:06,000 book update\rmid-line CR, rate limited\n",
            b"2025-10-01 12:00:07,500 - strategy - INFO - quiet line\n",
            b"   indented but no traceback open\n",
        ];
        let mut log = Vec::new();
        let mut x = 7u32;
        for _ in 0..400 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            log.extend_from_slice(pieces[(x >> 16) as usize % pieces.len()]);
        }
        log.extend_from_slice(b"2025-10-01 13:00:00,000 the last line has no newline [HB] alive");
        log
    }

    fn line_by_line(pack: &Pack, log: &[u8]) -> (Vec<Event>, String) {
        let mut s = Scanner::new(pack, None, 2025);
        let mut events = Vec::new();
        let mut lines: Vec<&[u8]> = log.split(|b| *b == b'\n').collect();
        if log.ends_with(b"\n") {
            lines.pop();
        }
        for (i, line) in lines.into_iter().enumerate() {
            s.feed("t.log", i as u64 + 1, line, &mut |e| events.push(e));
        }
        s.finish(&mut |e| events.push(e));
        (events, format!("{:?}", s.stats))
    }

    fn by_blocks(pack: &Pack, log: &[u8], capacity: usize) -> (Vec<Event>, String) {
        let mut s = Scanner::new(pack, None, 2025);
        let mut events = Vec::new();
        let mut blocks = crate::blocks::LineBlocks::with_capacity(log, capacity);
        let mut line_no = 0;
        while let Some(block) = blocks.next_block().expect("read") {
            line_no += s.feed_block("t.log", line_no + 1, block.lines, &mut |e| events.push(e));
        }
        s.finish(&mut |e| events.push(e));
        assert_eq!(line_no, s.stats.lines);
        (events, format!("{:?}", s.stats))
    }

    fn compile(specs: Vec<PatternSpec>) -> Pack {
        Pack::compile(specs.into_iter().map(|s| (PathBuf::from("b"), s)).collect()).expect("pack")
    }

    #[test]
    fn blocks_give_the_same_events_and_figures_as_lines() {
        let pack = compile(builtin_specs());
        assert!(pack.prefilter().is_some());
        let log = mixed_log();
        let expected = line_by_line(&pack, &log);
        assert!(expected.0.len() > 300, "{}", expected.0.len());
        for capacity in [1, 64, 1000, 1 << 20] {
            let got = by_blocks(&pack, &log, capacity);
            assert_eq!(got.1, expected.1, "stats, blocks of {capacity}");
            assert_eq!(got.0, expected.0, "events, blocks of {capacity}");
        }
    }

    #[test]
    fn dense_blocks_skip_the_prefilter_with_the_same_result() {
        let pack = compile(builtin_specs());
        // Mostly latency lines, then a sparse stretch, then dense again: the scan switches
        // the prefilter off and on, and must give what matching line by line gives.
        let mut log = Vec::new();
        for i in 0..3000 {
            let line = match i % 10 {
                _ if (1000..2000).contains(&i) => {
                    format!("2025-10-01 12:{:02}:00,000 quiet line {i}\n", i % 60)
                }
                0 => format!("2025-10-01 12:{:02}:00,000 book update {i}\n", i % 60),
                1 => "Traceback (most recent call last):\n  File \"a.py\"\nKeyError: 1\n".into(),
                _ => format!(
                    "2025-10-01 12:{:02}:00,000 latency_ms{{stage=\"ws\"}} {i}\n",
                    i % 60
                ),
            };
            log.extend_from_slice(line.as_bytes());
        }
        let expected = line_by_line(&pack, &log);
        for capacity in [4096, 1 << 16] {
            assert_eq!(
                by_blocks(&pack, &log, capacity),
                expected,
                "blocks of {capacity}"
            );
        }
        let mut s = Scanner::new(&pack, None, 2025);
        let mut switched = (false, false);
        let mut blocks = crate::blocks::LineBlocks::with_capacity(&log[..], 4096);
        let mut line_no = 0;
        while let Some(block) = blocks.next_block().expect("read") {
            line_no += s.feed_block("t.log", line_no + 1, block.lines, &mut |_| {});
            switched = (
                switched.0 || s.skip_prefilter,
                switched.1 || !s.skip_prefilter,
            );
        }
        assert_eq!(switched, (true, true));
    }

    #[test]
    fn figures_are_the_same_whether_events_are_built_or_not() {
        let pack = compile(builtin_specs());
        let mut log = mixed_log();
        // Captures that are not plain text: a numeric stage, an empty one, a count with
        // leading zeros.
        log.extend_from_slice(
            b"\n2025-10-01 13:00:01,000 latency_ms{stage=\"7\"} 12\n\
2025-10-01 13:00:02,000 latency_ms{stage=\"\"} 13.5\n\
[SHUTDOWN] Cancelled 0003 orders\n",
        );
        // A stage longer than an event field keeps: cut the same way in both.
        log.extend_from_slice(
            format!("latency_ms{{stage=\"{}\"}} 14\n", "w".repeat(450)).as_bytes(),
        );
        let (with_events, stats) = by_blocks(&pack, &log, 1000);
        let mut s = Scanner::new(&pack, None, 2025);
        s.set_events(false);
        let mut quiet = Vec::new();
        let mut blocks = crate::blocks::LineBlocks::with_capacity(&log[..], 1000);
        let mut line_no = 0;
        while let Some(block) = blocks.next_block().expect("read") {
            line_no += s.feed_block("t.log", line_no + 1, block.lines, &mut |e| quiet.push(e));
        }
        s.finish(&mut |e| quiet.push(e));
        assert_eq!(format!("{:?}", s.stats), stats);
        let long = format!("{}…", "w".repeat(400));
        assert!(
            s.stats.latency.contains_key(&long),
            "{:?}",
            s.stats.latency.keys()
        );
        assert!(s.stats.latency.contains_key("default"));
        assert_eq!(s.stats.shutdown_cancelled, Some(3));
        // Only tracebacks (which need their lines) are still built as events.
        assert!(quiet.iter().all(|e| e.kind == "traceback"));
        assert!(with_events.iter().filter(|e| e.kind != "traceback").count() > 100);
    }

    #[test]
    fn a_line_limit_gives_the_same_figures_by_blocks_and_by_lines() {
        let pack = compile(builtin_specs());
        let log = mixed_log();
        let max_line = 60;
        let mut s = Scanner::new(&pack, None, 2025);
        s.set_max_line(max_line);
        let mut expected = Vec::new();
        for (i, line) in log.split(|b| *b == b'\n').enumerate() {
            s.feed("t.log", i as u64 + 1, line, &mut |e| expected.push(e));
        }
        s.finish(&mut |e| expected.push(e));
        assert!(s.stats.line_too_long > 10, "{}", s.stats.line_too_long);
        let expected_stats = format!("{:?}", s.stats);
        for capacity in [1, 64, 1000, 1 << 20] {
            let mut b = Scanner::new(&pack, None, 2025);
            b.set_max_line(max_line);
            let mut events = Vec::new();
            let mut blocks = crate::blocks::LineBlocks::with_capacity(&log[..], capacity)
                .with_max_line(max_line);
            let mut line_no = 0;
            while let Some(block) = blocks.next_block().expect("read") {
                line_no += block.skipped_before;
                b.skipped_too_long(block.skipped_before);
                line_no += b.feed_block("t.log", line_no + 1, block.lines, &mut |e| events.push(e));
            }
            b.finish(&mut |e| events.push(e));
            assert_eq!(
                format!("{:?}", b.stats),
                expected_stats,
                "blocks of {capacity}"
            );
            assert_eq!(events, expected, "blocks of {capacity}");
        }
    }

    #[test]
    fn unicode_case_folds_of_s_and_k_still_reach_the_patterns() {
        // (?i)s also matches ſ and (?i)k the Kelvin sign: the prefilter must not lose them.
        let pack = compile(builtin_specs());
        let log = "2025-10-01 12:00:00,000 meſſage handler timeout\n\
2025-10-01 12:00:01,000 quiet\n\
2025-10-01 12:00:02,000 Out of memory: \u{212A}illed process 42\n";
        let (events, _) = by_blocks(&pack, log.as_bytes(), 1 << 16);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["handler_timeout", "oom_kill"]);
        assert_eq!(line_by_line(&pack, log.as_bytes()).0, events);
    }

    #[test]
    fn a_pack_without_required_literals_still_matches_every_line() {
        let mut specs = builtin_specs();
        specs.push(PatternSpec {
            name: "slow".into(),
            kind: "slow".into(),
            severity: "warning".into(),
            regex: r"\b[0-9]{4}[a-z]{2}\b".into(),
        });
        let pack = compile(specs);
        assert!(pack.prefilter().is_none());
        let mut log = mixed_log();
        log.extend_from_slice(b"\nhandled in 1234ms\n");
        let expected = line_by_line(&pack, &log);
        assert!(expected.0.iter().any(|e| e.kind == "slow"));
        assert_eq!(by_blocks(&pack, &log, 100), expected);
    }

    #[test]
    fn one_logged_error_per_traceback_even_when_chained() {
        let log = "2025-10-01 12:00:00,000 ERROR boom\n\
Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    f()\n\
KeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:\n\n\
Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>\n\
RuntimeError: wrapped\n2025-10-01 12:00:05,000 INFO [HB] alive";
        let (events, stats) = scan(log);
        let crashes: Vec<&Event> = events.iter().filter(|e| e.kind == "traceback").collect();
        assert_eq!(crashes.len(), 1, "{events:#?}");
        assert_eq!(crashes[0].line, 2);
        assert_eq!(crashes[0].fields["line_end"], Value::from(11));
        assert_eq!(
            crashes[0].fields["last_line"],
            Value::from("RuntimeError: wrapped")
        );
        assert_eq!(stats.count("traceback"), 1);
        assert_eq!(stats.count("crash"), 0);
        // The ERROR line right before the traceback is the same error; the traceback's
        // last exception names it.
        assert_eq!(stats.errors.count, 1);
        let top = stats.errors.top(3);
        assert_eq!(
            (top[0].message.as_str(), top[0].count),
            ("RuntimeError: wrapped", 1)
        );
        assert_eq!(stats.count("heartbeat"), 1);
    }

    #[test]
    fn interleaved_tracebacks_of_threads_each_count() {
        // Two http.server threads printing their tracebacks at once (as seen for real).
        let log = "127.0.0.1 - - [06/Dec/2026 21:18:17] \"GET / HTTP/1.1\" 200 -\n\
----------------------------------------\n\
Exception occurred during processing of request from ('127.0.0.1', 34272)\n\
----------------------------------------\n\
Exception occurred during processing of request from ('127.0.0.1', 34288)\n\
Traceback (most recent call last):\n  File \"socketserver.py\", line 691\n\
Traceback (most recent call last):\n  File \"socketserver.py\", line 691\n\
ConnectionResetError: [Errno 104] Connection reset by peer\n\
----------------------------------------\n  File \"socket.py\", line 706\n\
ConnectionResetError: [Errno 104] Connection reset by peer\n";
        let (events, stats) = scan(log);
        assert_eq!(stats.errors.count, 2, "{events:#?}");
        assert_eq!(stats.count("traceback"), 1);
        assert_eq!(events[0].fields["interleaved_tracebacks"], Value::from(1));
        assert_eq!(stats.errors.window.max, 2);

        // `print` writes its text and its newline apart: a header glued to a separator.
        let glued = "Traceback (most recent call last):\n  File \"a.py\", line 1\n\
----------------------------------------Traceback (most recent call last):\n\
  File \"a.py\", line 1\nKeyError: 1\n----------------------------------------KeyError: 2\n";
        let (_, stats) = scan(glued);
        assert_eq!(stats.errors.count, 2);
        assert!(is_exception_line(
            b"----------------------------------------KeyError: 2"
        ));
    }

    #[test]
    fn other_threads_lines_inside_a_traceback_are_their_own() {
        let log = "Traceback (most recent call last):\n  File \"socketserver.py\", line 691\n\
----------------------------------------\n\
127.0.0.1 - - [06/Dec/2026 21:29:36] \"GET / HTTP/1.1\" 200 -\n\
Exception occurred during processing of request from ('127.0.0.1', 1)\n\
  File \"socket.py\", line 706\n\
ConnectionResetError: [Errno 104] Connection reset by peer\n";
        let (events, stats) = scan(log);
        assert_eq!(
            events[0].fields["exception"],
            Value::from("ConnectionResetError: [Errno 104] Connection reset by peer")
        );
        assert_eq!(stats.lines_without_time, 6);
        for (line, is) in [
            ("KeyError: 'x'", true),
            ("MemoryError", true),
            ("http.client.RemoteDisconnected: Remote end closed", true),
            ("----------------------------------------", false),
            ("Exception occurred during processing of request", false),
            ("127.0.0.1 - - [06/Dec/2026 21:29:36] x", false),
            ("2026-12-06 10:00:00,000 INFO x", false),
        ] {
            assert_eq!(is_exception_line(line.as_bytes()), is, "{line}");
        }
    }

    #[test]
    fn a_traceback_at_the_end_of_the_log_is_reported() {
        let (events, _) =
            scan("Traceback (most recent call last):\n  File \"x\", line 1\nValueError: v");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].fields["exception"], Value::from("ValueError: v"));
    }

    #[test]
    fn times_are_inherited_and_heartbeat_gaps_measured() {
        let log = "2025-10-01 12:00:00,000 INFO [HB] alive\n\
2025-10-01 12:00:10,000 INFO [HB] alive\n\
2025-10-01 12:05:10,000 INFO [HB] alive\n\
no time here latency_ms=12";
        let (events, stats) = scan(log);
        assert_eq!(stats.heartbeats, 3);
        assert_eq!(stats.max_heartbeat_gap.map(|g| g.0), Some(300.0));
        assert_eq!(stats.lines_without_time, 1);
        assert_eq!(events[3].time, events[2].time);
        assert_eq!(stats.latency["default"].count(), 1);
        let end = stats.last_time.map(|t| t + 600.0);
        assert_eq!(stats.heartbeat_gap_until(end).map(|g| g.0), Some(600.0));
    }

    #[test]
    fn reconnects_in_the_worst_hour() {
        let mut log = String::new();
        for m in 0..5 {
            log.push_str(&format!(
                "2025-10-01 10:{m:02}:00,000 Reconnect attempt 1/10, backoff delay 1.0s\n"
            ));
        }
        for m in 0..12 {
            log.push_str(&format!(
                "2025-10-01 13:{:02}:00,000 Reconnect attempt 2/10, backoff delay 2.0s\n",
                m * 5
            ));
        }
        let (events, stats) = scan(&log);
        assert_eq!(stats.count("ws_reconnect"), 17);
        assert_eq!(stats.reconnects_max_in_hour, 12);
        assert_eq!(events[0].fields["delay_s"], Value::from(1));
        assert_eq!(events[0].fields["attempt"], Value::from(1));
    }

    #[test]
    fn json_lines_logs_use_the_message_field() {
        let pack = Pack::compile(
            builtin_specs()
                .into_iter()
                .map(|s| (PathBuf::from("b"), s))
                .collect(),
        )
        .expect("pack");
        let mut s = Scanner::new(&pack, Some("msg".into()), 2025);
        let mut events = Vec::new();
        s.feed(
            "j",
            1,
            br#"{"ts":"2025-10-01T12:00:00Z","msg":"[HB] alive"}"#,
            &mut |e| events.push(e),
        );
        s.feed(
            "j",
            2,
            br#"{"ts":1759320060,"msg":"[HB] alive"}"#,
            &mut |e| events.push(e),
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].time, Some(1_759_320_060.0));
        assert_eq!(s.stats.max_heartbeat_gap.map(|g| g.0), Some(60.0));
    }
}
