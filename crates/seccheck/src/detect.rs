//! What counts as a secret, and finding it fast: an Aho-Corasick pass over whole buffers finds
//! the few lines worth a closer look (anchors of known key shapes, the literal and base64 values
//! of the watched environment variables, and `key`/`secret`/`token`/`password` words); only those
//! lines meet the regular expressions.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use regex::bytes::Regex;

/// One secret found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// What kind (`env:BYBIT_API_SECRET`, `pem_private_key`, `jwt`, ...).
    pub kind: String,
    /// Byte range of the secret within the line.
    pub start: usize,
    /// End of that range (exclusive).
    pub end: usize,
}

struct Shape {
    kind: &'static str,
    regex: Regex,
    /// Capture group holding the secret (0: the whole match).
    group: usize,
}

/// The detectors, built once.
pub struct Detector {
    anchors: AhoCorasick,
    shapes: Vec<Shape>,
    values: Vec<(String, Vec<u8>)>,
    min_entropy: f64,
}

/// Anchors of the known shapes (case-sensitive, as the shapes are).
const SHAPE_ANCHORS: [&str; 15] = [
    "PRIVATE KEY",
    "eyJ",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "sk_live_",
    "rk_live_",
    "Bearer ",
    "bearer ",
];

/// Words that make a nearby token worth an entropy check (matched case-insensitively).
const WORDS: [&str; 6] = ["key", "secret", "token", "passw", "pwd", "credential"];

/// Shannon entropy of `s` in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s {
        counts[*b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The forms in which an environment value can appear: itself and its base64 encodings
/// (standard and URL-safe, padding trimmed).
pub fn value_forms(value: &str) -> Vec<(&'static str, Vec<u8>)> {
    let std = base64::engine::general_purpose::STANDARD.encode(value);
    let url = base64::engine::general_purpose::URL_SAFE.encode(value);
    let mut forms = vec![("", value.as_bytes().to_vec())];
    for b in [std, url] {
        let trimmed = b.trim_end_matches('=').as_bytes().to_vec();
        if !forms.iter().any(|(_, f)| *f == trimmed) {
            forms.push(("_base64", trimmed));
        }
    }
    forms
}

impl Detector {
    /// Detectors for the known shapes and the given `(variable, value)` pairs.
    pub fn new(
        env_values: &[(String, String)],
        min_entropy: f64,
    ) -> Result<Detector, regex::Error> {
        let mut values = Vec::new();
        for (name, value) in env_values {
            for (suffix, form) in value_forms(value) {
                values.push((format!("env{suffix}:{name}"), form));
            }
        }
        let mut patterns: Vec<Vec<u8>> = SHAPE_ANCHORS
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        patterns.extend(WORDS.iter().map(|w| w.as_bytes().to_vec()));
        patterns.extend(values.iter().map(|(_, v)| v.clone()));
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;
        let shape = |kind, re: &str, group| -> Result<Shape, regex::Error> {
            Ok(Shape {
                kind,
                regex: Regex::new(re)?,
                group,
            })
        };
        let shapes = vec![
            shape(
                "pem_private_key",
                r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----",
                0,
            )?,
            shape(
                "jwt",
                r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
                0,
            )?,
            shape("aws_access_key_id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0)?,
            shape(
                "github_token",
                r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b",
                0,
            )?,
            shape("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0)?,
            shape("stripe_live_key", r"\b[sr]k_live_[A-Za-z0-9]{20,}\b", 0)?,
            shape(
                "bearer_token",
                r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{20,}=*)",
                1,
            )?,
            shape(
                "high_entropy_assignment",
                r#"(?i)(?:api[_-]?key|api[_-]?secret|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token|passw(?:or)?d|pwd|credentials?|private[_-]?key)["']?\s*[:=]\s*["']?([A-Za-z0-9+/_.~=-]{16,})"#,
                1,
            )?,
        ];
        Ok(Detector {
            anchors,
            shapes,
            values,
            min_entropy,
        })
    }

    /// True when `buf` holds anything that could start a secret (the fast prefilter).
    pub fn maybe(&self, buf: &[u8]) -> bool {
        self.anchors.is_match(buf)
    }

    /// Start offsets of the prefilter's hits in `buf` (for locating candidate lines).
    pub fn anchor_hits<'a>(&'a self, buf: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        self.anchors.find_iter(buf).map(|m| m.start())
    }

    /// Every secret in one line, non-overlapping, in order.
    pub fn scan_line(&self, line: &[u8]) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut add = |kind: &str, start: usize, end: usize| {
            if !hits.iter().any(|h| start < h.end && h.start < end) {
                hits.push(Hit {
                    kind: kind.to_string(),
                    start,
                    end,
                });
            }
        };
        for (kind, value) in &self.values {
            for m in memchr::memmem::find_iter(line, value) {
                add(kind, m, m + value.len());
            }
        }
        for s in &self.shapes {
            for caps in s.regex.captures_iter(line) {
                let Some(m) = caps.get(s.group) else { continue };
                if s.kind == "high_entropy_assignment" && entropy(m.as_bytes()) < self.min_entropy {
                    continue;
                }
                add(s.kind, m.start(), m.end());
            }
        }
        hits.sort_by_key(|h| h.start);
        hits
    }
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
        d.scan_line(line.as_bytes())
            .into_iter()
            .map(|h| h.kind)
            .collect()
    }

    #[test]
    fn each_shape_and_the_env_value_in_both_forms() {
        let secret = "Zx9-live-3f8a1c2e9b7d4f60a1b2c3d4";
        let d =
            Detector::new(&[("BYBIT_API_SECRET".into(), secret.into())], 3.5).expect("detector");
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert_eq!(
            kinds(&d, &format!("loaded secret {secret} ok")),
            vec!["env:BYBIT_API_SECRET"]
        );
        assert_eq!(
            kinds(&d, &format!("cfg={b64}")),
            vec!["env_base64:BYBIT_API_SECRET"]
        );
        assert_eq!(
            kinds(&d, "-----BEGIN RSA PRIVATE KEY-----"),
            vec!["pem_private_key"]
        );
        assert_eq!(
            kinds(
                &d,
                "auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ),
            vec!["jwt"]
        );
        assert_eq!(
            kinds(&d, "id AKIAIOSFODNN7EXAMPLE here"),
            vec!["aws_access_key_id"]
        );
        assert_eq!(
            kinds(&d, "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            vec!["github_token"]
        );
        assert_eq!(
            kinds(&d, "api_key=\"q8Vt2LmZ7xR4nB9wK3pD6sF1\""),
            vec!["high_entropy_assignment"]
        );
        assert_eq!(
            kinds(&d, "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
            vec!["bearer_token"]
        );
    }

    #[test]
    fn ordinary_log_lines_are_not_secrets() {
        let d = Detector::new(&[], 3.5).expect("detector");
        for line in [
            "2026-02-14 10:00:01,123 - bot - INFO - [HB] alive seq=42",
            "token bucket refilled: 10 tokens",
            "password=changeme",
            "api_key=aaaaaaaaaaaaaaaaaaaaaaaa",
            "Reconnect attempt 3/10 for ws-public-1, backoff delay 4.0s",
            "keyboard interrupt received",
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
