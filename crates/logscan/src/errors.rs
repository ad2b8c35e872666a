//! Logged errors a service survives (tracebacks, exceptions, error-level lines), kept apart
//! from crashes: how many, the most in any one hour, and the most frequent distinct messages.
//! Memory is bounded whatever the log holds.

use std::collections::{BTreeMap, VecDeque};

use crate::timestamp::UnixTime;

/// Most distinct messages tracked for `top_errors`; later new ones are counted in
/// `error_count` but not grouped (a log of millions of distinct errors keeps flat memory).
const MAX_GROUPS: usize = 1000;
/// Longest message kept as a group's example (characters).
const MAX_MESSAGE: usize = 200;

/// Counts events in a sliding one-hour window of log time and remembers the most the window
/// ever held. Events are bucketed by whole second, so the window holds at most 3600 buckets
/// for a log in time order.
#[derive(Debug, Clone, Default)]
pub struct HourWindow {
    buckets: VecDeque<(i64, u64)>,
    in_window: u64,
    /// The most events within any one hour.
    pub max: u64,
}

impl HourWindow {
    /// Adds one event at `t`; an event with no known time counts as alone in its hour (it
    /// cannot be placed).
    pub fn add(&mut self, t: Option<UnixTime>) {
        if let Some(t) = t {
            let sec = t.floor() as i64;
            match self.buckets.back_mut() {
                Some((s, n)) if *s == sec => *n += 1,
                _ => self.buckets.push_back((sec, 1)),
            }
            self.in_window += 1;
            while let Some(&(s, n)) = self.buckets.front() {
                if s > sec - 3600 {
                    break;
                }
                self.buckets.pop_front();
                self.in_window -= n;
            }
        }
        let here = self.in_window.max(u64::from(t.is_none()));
        self.max = self.max.max(here);
    }
}

/// One distinct error message and how often it was logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorGroup {
    /// The first occurrence's text (cut to 200 characters).
    pub message: String,
    /// Occurrences.
    pub count: u64,
    #[serde(skip)]
    first_seen: u64,
}

/// Logged errors: total, worst hour, and groups of repeats.
#[derive(Debug, Clone, Default)]
pub struct ErrorTally {
    /// Errors logged (a traceback, with the error line that introduced it, is one).
    pub count: u64,
    /// Errors per sliding hour.
    pub window: HourWindow,
    groups: BTreeMap<String, ErrorGroup>,
}

impl ErrorTally {
    /// Records one error with its message and time.
    pub fn add(&mut self, line: &str, t: Option<UnixTime>) {
        self.count += 1;
        self.window.add(t);
        let message = message_of(line);
        let key = normalise(message);
        if let Some(g) = self.groups.get_mut(&key) {
            g.count += 1;
        } else if self.groups.len() < MAX_GROUPS {
            let first_seen = self.count;
            self.groups.insert(
                key,
                ErrorGroup {
                    message: cut(message.trim()),
                    count: 1,
                    first_seen,
                },
            );
        }
    }

    /// The `n` most frequent groups, most frequent first (ties: the earlier first).
    pub fn top(&self, n: usize) -> Vec<&ErrorGroup> {
        let mut all: Vec<&ErrorGroup> = self.groups.values().collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seen.cmp(&b.first_seen)));
        all.truncate(n);
        all
    }
}

/// Level words after which a logged line's own message starts. Lower levels too: a pack's
/// pattern of severity error can match a line its program logged at WARNING or INFO
/// (freqtrade's retries, hummingbot's failed orders; hummingbot's own level is NETWORK).
const LEVEL_MARKS: [&str; 11] = [
    "ERROR", "CRITICAL", "FATAL", "SEVERE", "WARNING", "INFO", "NETWORK", "[error]", "[crit]",
    "[alert]", "[emerg]",
];

/// The message of an error line: what follows its level word when one is near the start
/// (`2025-10-01 12:00:10,123 - ws - ERROR - boom` → `boom`), else the whole line.
pub fn message_of(line: &str) -> &str {
    let head_end = line.char_indices().nth(100).map_or(line.len(), |(i, _)| i);
    let head = &line[..head_end];
    let after = LEVEL_MARKS
        .iter()
        .filter_map(|m| head.find(m).map(|i| i + m.len()))
        .min();
    match after {
        Some(i) => {
            let rest = line[i..].trim_start_matches(|c: char| {
                c.is_whitespace() || matches!(c, '-' | ':' | '|' | ']')
            });
            if rest.is_empty() { line } else { rest }
        }
        None => line,
    }
}

/// The grouping key of a message: every run of digits and every id-like token (hex of 8 or
/// more, UUIDs, addresses) becomes `#`, so `[Errno 104] ... from ('127.0.0.1', 53290)` and
/// its repeats with other ports and times group together.
pub fn normalise(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(256));
    for token in message.split_inclusive(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let (word, sep) = match token.char_indices().last() {
            Some((i, c)) if !(c.is_ascii_alphanumeric() || c == '_') => token.split_at(i),
            _ => (token, ""),
        };
        let has_digit = word.bytes().any(|b| b.is_ascii_digit());
        let hexish = word.len() >= 8 && word.bytes().all(|b| b.is_ascii_hexdigit());
        if has_digit || hexish {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push_str(word);
        }
        out.push_str(sep);
        if out.len() > 4 * MAX_MESSAGE {
            break;
        }
    }
    out
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ids_group_repeats() {
        assert_eq!(
            normalise("ConnectionResetError: [Errno 104] Connection reset by peer"),
            "ConnectionResetError: [Errno #] Connection reset by peer"
        );
        assert_eq!(
            normalise("order 5f3a9c0d1e failed for ('127.0.0.1', 53290)"),
            normalise("order deadbeefcafe failed for ('10.0.0.7', 1)")
        );
        assert_ne!(normalise("KeyError: 'a'"), normalise("ValueError: 'a'"));
    }

    #[test]
    fn the_message_follows_the_level() {
        assert_eq!(
            message_of("2025-10-01 12:00:10,123 - ws - ERROR - [HANDLER_TIMEOUT] x"),
            "[HANDLER_TIMEOUT] x"
        );
        assert_eq!(message_of("ERROR:root:boom"), "root:boom");
        assert_eq!(
            message_of("2026/12/06 19:24:36 [error] 12#12: *1 open() failed"),
            "12#12: *1 open() failed"
        );
        assert_eq!(message_of("KeyError: 'x'"), "KeyError: 'x'");
        assert_eq!(message_of("x ERROR"), "x ERROR");
        // The level word nearest the start is the line's level, whatever the message says.
        assert_eq!(
            message_of(
                "2026-12-06 19:02:20,250 - freqtrade.exchange.common - WARNING - get_balances() returned exception: \"ERROR\""
            ),
            "get_balances() returned exception: \"ERROR\""
        );
        assert_eq!(
            message_of(
                "2026-12-06 19:03:10,230 - 4242 - hummingbot.connector.client_order_tracker - INFO - Order x-1 has failed."
            ),
            "Order x-1 has failed."
        );
    }

    #[test]
    fn top_errors_by_count_then_first_seen() {
        let mut t = ErrorTally::default();
        for (i, m) in ["b 1", "a 1", "b 2", "c", "a 7", "b 3"].iter().enumerate() {
            t.add(m, Some(i as f64));
        }
        let top: Vec<(&str, u64)> = t
            .top(3)
            .iter()
            .map(|g| (g.message.as_str(), g.count))
            .collect();
        assert_eq!(top, [("b 1", 3), ("a 1", 2), ("c", 1)]);
        assert_eq!(t.count, 6);
    }

    #[test]
    fn the_worst_hour_slides() {
        let mut w = HourWindow::default();
        for m in 0..5 {
            w.add(Some(f64::from(m) * 60.0));
        }
        for m in 0..12 {
            w.add(Some(3.0 * 3600.0 + f64::from(m) * 300.0));
        }
        assert_eq!(w.max, 12);
        let mut w = HourWindow::default();
        w.add(Some(0.0));
        w.add(Some(3599.9));
        w.add(Some(3600.0));
        assert_eq!(w.max, 2, "the first event left the window");
        let mut w = HourWindow::default();
        w.add(None);
        assert_eq!(w.max, 1);
    }

    #[test]
    fn groups_are_bounded() {
        let mut t = ErrorTally::default();
        for i in 0..(MAX_GROUPS * 2) {
            let word: String = format!("{i}")
                .bytes()
                .map(|b| char::from(b'k' + (b - b'0')))
                .collect();
            t.add(&format!("distinct {word}"), None);
        }
        assert_eq!(t.count, (MAX_GROUPS * 2) as u64);
        assert_eq!(t.groups.len(), MAX_GROUPS);
    }
}
