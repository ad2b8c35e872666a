//! Finding secrets fast: one Aho-Corasick pass over a whole buffer finds the few lines worth a
//! closer look (anchors of the [`crate::shapes`], the watched values in every form and the
//! pieces of a split one); only those lines meet the regular expressions. A secret may span
//! lines (a private key's block, a value split across a traceback's lines): each is one
//! [`Hit`] over its whole extent.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::pem::{Extent, Markers};
use crate::shapes::{self, Shape};
use crate::watched::Watched;

pub use crate::shapes::entropy;

/// One secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// What kind (`env:BYBIT_API_SECRET`, `pem_private_key`, `jwt`, ...).
    pub kind: String,
    /// Byte range of the secret within the text.
    pub start: usize,
    /// End of that range (exclusive).
    pub end: usize,
    /// The secret as it may be shown (see [`mask`]).
    pub masked: String,
}

/// What scanning a text gave.
#[derive(Debug, Default)]
pub struct TextScan {
    /// The secrets, in order, not overlapping.
    pub hits: Vec<Hit>,
    /// The start of a line where a secret may continue past the text's end (an unterminated
    /// private key): the caller should scan from there again with more text.
    pub open_from: Option<usize>,
}

/// What a prefilter pattern calls for: bit [`PEM`] a private key's BEGIN line, bit
/// [`WATCHED`] the watched values, bit `i` (below 62) the shape `i`.
type Wants = u64;
const PEM: Wants = 1 << 63;
const WATCHED: Wants = 1 << 62;

/// The detectors, built once.
pub struct Detector {
    anchors: AhoCorasick,
    /// What each prefilter pattern calls for.
    wants: Vec<Wants>,
    shapes: Vec<Shape>,
    markers: Markers,
    watched: Vec<Watched>,
    min_entropy: f64,
}

/// The kinds of secrets found in base64 form, whose padding and neighbouring characters
/// (which depend on the secret's bytes too) go with them.
fn is_base64_kind(kind: &str) -> bool {
    kind.starts_with("env_base64:")
}

fn is_b64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// Widens a base64 form's range over the partial groups around it and its `=` padding.
fn widen_base64(text: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut s = start;
    while s > 0 && start - s < 3 && is_b64_char(text[s - 1]) {
        s -= 1;
    }
    let mut e = end;
    while e < text.len() && e - end < 3 && is_b64_char(text[e]) {
        e += 1;
    }
    while e < text.len() && text[e] == b'=' && e - end < 6 {
        e += 1;
    }
    (s, e)
}

/// Widens any base64-looking secret over `=` padding right after it.
fn widen_padding(text: &[u8], end: usize) -> usize {
    let mut e = end;
    if end > 0 && is_b64_char(text[end - 1]) {
        while e < text.len() && text[e] == b'=' && e - end < 2 {
            e += 1;
        }
    }
    e
}

impl Detector {
    /// Detectors for the known shapes and the watched values.
    pub fn new(watched: Vec<Watched>, min_entropy: f64) -> Result<Detector, regex::Error> {
        let shapes = shapes::shapes()?;
        assert!(
            shapes.len() < 62,
            "a shape's bit must not collide with PEM or WATCHED"
        );
        let mut patterns: Vec<Vec<u8>> = vec![b"PRIVATE KEY".to_vec()];
        let mut wants: Vec<Wants> = vec![PEM];
        for (i, shape) in shapes.iter().enumerate() {
            for a in shape.anchors {
                let a = a.to_ascii_lowercase().into_bytes();
                match patterns.iter().position(|p| p.eq_ignore_ascii_case(&a)) {
                    Some(at) => wants[at] |= 1 << i,
                    None => {
                        patterns.push(a);
                        wants.push(1 << i);
                    }
                }
            }
        }
        for w in &watched {
            for bytes in w.forms.iter().map(|f| &f.bytes).chain(w.pieces.iter()) {
                patterns.push(bytes.clone());
                wants.push(WATCHED);
            }
        }
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;
        Ok(Detector {
            anchors,
            wants,
            shapes,
            markers: Markers::new()?,
            watched,
            min_entropy,
        })
    }

    /// Every secret in `text`, which holds whole lines (`at_eof`: nothing follows it). Each
    /// line holding prefilter hits is examined once, by what its hits call for.
    pub fn scan(&self, text: &[u8], at_eof: bool) -> TextScan {
        let mut hits: Vec<Hit> = Vec::new();
        let mut open_from = None;
        // The line being gathered: its start, its end, what its hits call for. No pattern
        // holds a line break, so hits come line by line (overlapping ones included: a
        // keyword must not hide a watched value that starts inside it).
        let mut line: Option<(usize, usize, Wants)> = None;
        let mut lines = self
            .anchors
            .find_overlapping_iter(text)
            .map(|m| (m.start(), self.wants[m.pattern().as_usize()]));
        loop {
            let next = lines.next();
            if let (Some((_, end, wants)), Some((at, w))) = (line.as_mut(), next)
                && at < *end
            {
                *wants |= w;
                continue;
            }
            if let Some((start, end, wants)) = line.take()
                && self.scan_line(text, start, end, at_eof, wants, &mut hits)
            {
                open_from = Some(start);
                break;
            }
            let Some((at, w)) = next else { break };
            let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
            line = Some((start, end, w));
        }
        if let Some(cut) = open_from {
            hits.retain(|h| h.start < cut);
        }
        TextScan {
            hits: without_overlaps(hits),
            open_from,
        }
    }

    /// Every secret in one line (the whole text is the line).
    pub fn scan_text(&self, line: &[u8]) -> Vec<Hit> {
        self.scan(line, true).hits
    }

    fn hit(&self, text: &[u8], kind: &str, start: usize, end: usize) -> Hit {
        Hit {
            kind: kind.to_string(),
            start,
            end,
            masked: mask(&text[start..end]),
        }
    }

    /// Looks at the line `text[start..end]`; true when a secret starting there runs past the
    /// end of `text` (and `!at_eof`).
    fn scan_line(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        at_eof: bool,
        wants: Wants,
        hits: &mut Vec<Hit>,
    ) -> bool {
        let line = &text[start..end];
        let pem = if wants & PEM != 0 {
            self.markers.begin.find_iter(line).collect()
        } else {
            Vec::new()
        };
        for m in pem {
            let (s, e) = (start + m.start(), start + m.end());
            let kind = if memchr::memmem::find(&line[..m.start()], b"\"private_key\"").is_some() {
                "gcp_service_account_key"
            } else {
                "pem_private_key"
            };
            match self.markers.extent(text, e, end, at_eof) {
                Extent::End(x) => hits.push(self.hit(text, kind, s, x)),
                Extent::Open => return true,
            }
        }
        let watched = if wants & WATCHED != 0 {
            &self.watched[..]
        } else {
            &[]
        };
        for w in watched {
            for f in &w.forms {
                for m in memchr::memmem::find_iter(line, &f.bytes) {
                    let (mut s, mut e) = (start + m, start + m + f.bytes.len());
                    if is_base64_kind(&f.kind) {
                        (s, e) = widen_base64(text, s, e);
                    }
                    hits.push(Hit {
                        kind: f.kind.clone(),
                        start: s,
                        end: e,
                        masked: mask(&w.value),
                    });
                }
            }
            for (which, piece) in w.pieces.iter().enumerate() {
                for m in memchr::memmem::find_iter(line, piece) {
                    let at = start + m;
                    let whole = if which == 0 {
                        text[at..].starts_with(&w.value)
                    } else {
                        text[..at + piece.len()].ends_with(&w.value)
                    };
                    if whole {
                        continue;
                    }
                    if let Some((s, e)) = w.split_at(text, at, which) {
                        hits.push(Hit {
                            kind: w.split_kind(),
                            start: s,
                            end: e,
                            masked: mask(&w.value),
                        });
                    } else if which == 0 && end + 1 >= text.len() && !at_eof {
                        return true; // its other half may be on the next, unread line
                    }
                }
            }
        }
        for (i, shape) in self.shapes.iter().enumerate() {
            if wants & (1 << i) == 0 {
                continue;
            }
            for caps in shape.regex.captures_iter(line) {
                let Some(m) = caps.get(shape.group) else {
                    continue;
                };
                if !shape.accepts(m.as_bytes(), self.min_entropy) {
                    continue;
                }
                let (s, e) = (start + m.start(), start + m.end());
                hits.push(self.hit(text, shape.kind, s, widen_padding(text, e)));
            }
        }
        false
    }
}

/// The generic kind, which yields to any specific one it overlaps.
const GENERIC: &str = "high_entropy_assignment";

/// The hits sorted by start; of two overlapping hits the specific one (a watched value, a
/// known shape) is kept over the generic one, else the earlier-starting (at the same start,
/// the longer or earlier-found) one.
fn without_overlaps(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match out.last_mut() {
            Some(l) if h.start < l.end => {
                if l.kind == GENERIC && h.kind != GENERIC {
                    *l = h;
                }
            }
            _ => out.push(h),
        }
    }
    out
}

/// How a secret is shown: a few leading characters and its length, never the rest.
pub fn mask(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let n = text.chars().count();
    let shown = if n >= 16 {
        4
    } else if n >= 10 {
        2
    } else {
        0
    };
    let head: String = text.chars().take(shown).collect();
    format!("{head}…({n} chars)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(d: &Detector, line: &str) -> Vec<String> {
        d.scan_text(line.as_bytes())
            .into_iter()
            .map(|h| h.kind)
            .collect()
    }

    fn detector(watch: &[(&str, &str)]) -> Detector {
        let w = watch
            .iter()
            .map(|(n, v)| Watched::new(n, v.as_bytes()))
            .collect();
        Detector::new(w, 3.5).expect("detector")
    }

    #[test]
    fn each_shape_and_the_env_value_in_its_forms() {
        let secret = "Zx9-live/3f8a1c2e9b7d4f60a1b2c3d4";
        let d = detector(&[("BYBIT_API_SECRET", secret)]);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret);
        let cases: Vec<(String, &str)> = vec![
            (format!("loaded secret {secret} ok"), "env:BYBIT_API_SECRET"),
            (format!("cfg={b64}"), "env_base64:BYBIT_API_SECRET"),
            (
                format!("{{\"s\": \"{}\"}}", secret.replace('/', "\\/")),
                "env_escaped:BYBIT_API_SECRET",
            ),
            (
                format!("GET /?s={}", secret.replace('/', "%2F")),
                "env_escaped:BYBIT_API_SECRET",
            ),
            (format!("raw={}", hex::encode(secret)), "env_hex:BYBIT_API_SECRET"),
            ("-----BEGIN RSA PRIVATE KEY-----".into(), "pem_private_key"),
            (
                "auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".into(),
                "jwt",
            ),
            ("id AKIAIOSFODNN7EXAMPLE here".into(), "aws_access_key_id"),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                "aws_secret_access_key",
            ),
            (
                "\"aws_secret_access_key\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"".into(),
                "aws_secret_access_key",
            ),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789".into(), "github_token"),
            (
                "api_key=\"q8Vt2LmZ7xR4nB9wK3pD6sF1\"".into(),
                "high_entropy_assignment",
            ),
            (
                "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
                "bearer_token",
            ),
            (
                "posting to https://hooks.slack.com/services/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".into(),
                "slack_webhook",
            ),
            (
                "GET https://api.telegram.org/bot123456789:AAHq8Vt2LmZ7xR4nB9wK3pD6sF1xYz0AbCd/sendMessage".into(),
                "telegram_bot_token",
            ),
            (
                "url=https://discord.com/api/webhooks/112233445566778899/q8Vt2LmZ7xR4nB9wK3pD6sF1q8Vt2LmZ7xR4nB9wK3pD6sF1q8Vt2LmZ7xR4nB9wK3pD6s".into(),
                "discord_webhook",
            ),
            (
                "db=postgresql://bot:S3cr3t-pw@db.internal:5432/trades".into(),
                "url_credentials",
            ),
            ("//registry.npmjs.org/:_authToken=npm_q8Vt2LmZ7xR4nB9wK3pD6sF1q8Vt2LmZ7xR4".into(), "npm_token"),
            (
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=q8Vt2LmZ7xR4nB9wK3pD6sF1q8Vt2LmZ7xR4nB9w==;EndpointSuffix=core.windows.net".into(),
                "azure_connection_string",
            ),
        ];
        for (line, kind) in cases {
            assert_eq!(kinds(&d, &line), vec![kind.to_string()], "{line}");
        }
    }

    #[test]
    fn url_credentials_mask_only_the_password_and_padding_goes_with_base64() {
        let d = detector(&[]);
        let line = b"redis://:hunter2hunter2@cache:6379/0";
        let h = &d.scan_text(line)[0];
        assert_eq!(&line[h.start..h.end], b"hunter2hunter2");
        let line = b"api_secret: kQ2v9XfL0pZrT7yW4bN8mC3sD6gH1jK5aE0uI9oP2lR8tY3wQ6zX1cV4bN7mA0sD5fG2hJ9kL4pO7iU1yT6rE3wQ==";
        let h = &d.scan_text(line)[0];
        assert!(line[..h.end].ends_with(b"=="), "{h:?}");
    }

    #[test]
    fn bybit_request_headers_as_pybit_builds_them_give_the_key_not_the_signature() {
        let d = detector(&[]);
        let line = b"Request -> POST https://api.bybit.com/v5/order/create. Headers: {'Content-Type': 'application/json', 'X-BAPI-API-KEY': 'XyZ12abCD34efGH56i', 'X-BAPI-SIGN': '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'X-BAPI-SIGN-TYPE': '2', 'X-BAPI-TIMESTAMP': '1771063200123', 'X-BAPI-RECV-WINDOW': '5000'}";
        let hits = d.scan_text(line);
        let got: Vec<&[u8]> = hits.iter().map(|h| &line[h.start..h.end]).collect();
        assert_eq!(got, vec![&b"XyZ12abCD34efGH56i"[..]], "{hits:?}");
    }

    #[test]
    fn ordinary_log_lines_and_look_alikes_are_not_secrets() {
        let d = detector(&[]);
        for line in [
            "2026-02-14 10:00:01,123 - bot - INFO - [HB] alive seq=42",
            "token bucket refilled: 10 tokens",
            "password=changeme",
            "api_key=aaaaaaaaaaaaaaaaaaaaaaaa",
            "Reconnect attempt 3/10 for ws-public-1, backoff delay 4.0s",
            "keyboard interrupt received",
            "{\"key\": \"550e8400-e29b-41d4-a716-446655440000\"}",
            "cache key sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "\"page_token\": \"eyJwYWdlIjogMiwgImN1cnNvciI6ICJhYmMxMjMifQ==\"",
            "idempotency_key=1790000123456789012-4411",
            "secret rotated, next at /etc/bot/secrets/bybit.json",
            "postgres://bot:***@db:5432/x and redis://:${REDIS_PASSWORD}@cache",
            "token_file=config.production.yaml",
            "fetched secret bybit-prod-api-credentials from vault",
            "secret_name=BYBIT_PROD_API_CREDENTIALS",
        ] {
            assert!(kinds(&d, line).is_empty(), "{line}: {:?}", kinds(&d, line));
        }
    }

    #[test]
    fn masks_show_little() {
        assert_eq!(
            mask(b"Zx9-live-3f8a1c2e9b7d4f60a1b2c3d4"),
            "Zx9-…(33 chars)"
        );
        assert_eq!(mask(b"short"), "…(5 chars)");
        assert!(entropy(b"aaaaaaaa") < 0.1 && entropy(b"q8Vt2LmZ7xR4nB9wK3pD6sF1") > 4.0);
    }
}
