//! The shapes of secrets that leak in practice, each with its own `kind`, and the checks that
//! keep look-alikes (UUIDs, digests, commit hashes, order ids, base64 of harmless JSON) out:
//! a shape, a keyword and the token's entropy together, never entropy alone.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use regex::bytes::Regex;

/// The keywords next to which a high-entropy token is a secret (matched case-insensitively).
const KEYWORDS: &[&str] = &["key", "secret", "token", "passw", "pwd", "credential"];

/// A validation applied to the captured token beyond the regular expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The shape alone is enough.
    None,
    /// High entropy and not an identifier (see [`plausible_secret`]).
    Entropy,
    /// A URL password that is not a placeholder (`***`, `${PASS}`, `<password>`…).
    NotPlaceholder,
    /// base64 of `user:password`.
    BasicAuth,
}

/// One shape: a kind, its regular expression, the capture group holding the secret.
pub struct Shape {
    /// The finding's kind.
    pub kind: &'static str,
    /// The expression.
    pub regex: Regex,
    /// The group holding the secret (0: the whole match).
    pub group: usize,
    /// What the token must pass besides the expression.
    pub check: Check,
    /// Literal anchors (matched case-insensitively by the prefilter): the expression is tried
    /// on a line only when the line holds one of them.
    pub anchors: &'static [&'static str],
}

/// The shapes in priority order (a longer or more specific shape before a generic one).
pub fn shapes() -> Result<Vec<Shape>, regex::Error> {
    #[allow(clippy::type_complexity)]
    let table: &[(&'static str, &str, usize, Check, &'static [&'static str])] = &[
        (
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
            Check::None,
            &["eyJ"],
        ),
        (
            "aws_access_key_id",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            0,
            Check::None,
            &["AKIA", "ASIA"],
        ),
        (
            "aws_secret_access_key",
            r#"(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key|aws_?secret)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            1,
            Check::None,
            &["secret"],
        ),
        (
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b",
            0,
            Check::None,
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        ),
        (
            "slack_webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}",
            0,
            Check::None,
            &["hooks.slack.com"],
        ),
        (
            "slack_token",
            r"\b(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
            0,
            Check::None,
            &["xox", "xapp-"],
        ),
        (
            "discord_webhook",
            r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/[0-9]{15,22}/([A-Za-z0-9_-]{60,80})",
            1,
            Check::None,
            &["/api/webhooks/"],
        ),
        (
            "telegram_bot_token",
            r"(?:^|[^0-9A-Za-z_-])(?:bot)?([0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?:[^A-Za-z0-9_-]|$)",
            1,
            Check::None,
            &[":AA"],
        ),
        (
            "stripe_live_key",
            r"\b[sr]k_live_[A-Za-z0-9]{20,}\b",
            0,
            Check::None,
            &["sk_live_", "rk_live_"],
        ),
        (
            "npm_token",
            r"\bnpm_[A-Za-z0-9]{36}\b",
            0,
            Check::None,
            &["npm_"],
        ),
        (
            "pypi_token",
            r"\bpypi-AgE[A-Za-z0-9_-]{50,}",
            0,
            Check::None,
            &["pypi-AgE"],
        ),
        (
            "azure_connection_string",
            r"(?i)(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})",
            1,
            Check::None,
            &["accountkey", "sharedaccesskey"],
        ),
        (
            "url_credentials",
            r#"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s/:@"'<>]{0,64}:([^\s/@"'<>]{1,128})@[A-Za-z0-9\[]"#,
            1,
            Check::NotPlaceholder,
            &["://"],
        ),
        (
            "basic_auth",
            r"\b[Bb]asic\s+([A-Za-z0-9+/]{12,}={0,2})",
            1,
            Check::BasicAuth,
            &["basic "],
        ),
        (
            "bearer_token",
            r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{20,}=*)",
            1,
            Check::None,
            &["bearer "],
        ),
        (
            "high_entropy_assignment",
            r#"(?i)(?:api[_-]?key|api[_-]?secret|secret|token|passw(?:or)?d|pwd|passphrase|credentials?|key)(?:["']?\s*(?:[:=]|=>)\s*[\["']?|\s+(?:is\s+)?)([A-Za-z0-9+/_.~-]{16,}={0,2})"#,
            1,
            Check::Entropy,
            KEYWORDS,
        ),
    ];
    table
        .iter()
        .map(|&(kind, re, group, check, anchors)| {
            Ok(Shape {
                kind,
                regex: Regex::new(re)?,
                group,
                check,
                anchors,
            })
        })
        .collect()
}

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

/// True for tokens that are identifiers rather than secrets: hex (digests, commit hashes,
/// UUIDs), digits and separators (order ids, timestamps), digit-free words in one case, paths, URLs, dotted names, and base64
/// whose decoding is readable text (a `page_token` of JSON).
pub fn is_identifier(tok: &[u8]) -> bool {
    let all = |f: fn(&u8) -> bool| tok.iter().all(f);
    if all(|b| b.is_ascii_hexdigit() || *b == b'-') {
        return true;
    }
    if all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b':')) {
        return true;
    }
    // Words without digits in one case (`bybit-prod-api-credentials`, `MAX_ORDER_SIZE`): names.
    let no_digit = all(|b| !b.is_ascii_digit());
    if no_digit && (all(|b| !b.is_ascii_uppercase()) || all(|b| !b.is_ascii_lowercase())) {
        return true;
    }
    if tok.starts_with(b"/")
        || tok.starts_with(b"./")
        || memchr::memmem::find(tok, b"://").is_some()
    {
        return true;
    }
    if tok.contains(&b'.') && all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return true;
    }
    decodes_to_text(tok)
}

/// True when `tok` is base64 (standard or URL-safe, padding optional) of readable text.
pub fn decodes_to_text(tok: &[u8]) -> bool {
    let trimmed: &[u8] = {
        let end = tok.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
        &tok[..end]
    };
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(trimmed) {
            if bytes.len() >= 6 {
                let printable = bytes
                    .iter()
                    .filter(|b| b.is_ascii_graphic() || **b == b' ')
                    .count();
                return printable * 100 >= bytes.len() * 95;
            }
        }
    }
    false
}

/// A token next to a keyword counts as a secret when its entropy reaches `min_entropy` and it
/// is no identifier.
pub fn plausible_secret(tok: &[u8], min_entropy: f64) -> bool {
    entropy(tok) >= min_entropy && !is_identifier(tok)
}

/// A URL password that is a placeholder (or already redacted), not a secret.
pub fn is_placeholder(pw: &[u8]) -> bool {
    pw.iter().all(|b| *b == b'*' || *b == b'x' || *b == b'X')
        || matches!(pw.first(), Some(b'$' | b'{' | b'<' | b'%' | b'['))
        || pw.eq_ignore_ascii_case(b"password")
}

/// True when `tok` is base64 of `user:password`.
pub fn is_basic_auth(tok: &[u8]) -> bool {
    let end = tok.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    STANDARD_NO_PAD
        .decode(&tok[..end])
        .is_ok_and(|b| b.contains(&b':') && b.iter().all(|c| c.is_ascii_graphic() || *c == b' '))
}

impl Shape {
    /// Whether a captured token passes this shape's check.
    pub fn accepts(&self, tok: &[u8], min_entropy: f64) -> bool {
        match self.check {
            Check::None => true,
            Check::Entropy => plausible_secret(tok, min_entropy),
            Check::NotPlaceholder => !is_placeholder(tok),
            Check::BasicAuth => is_basic_auth(tok),
        }
    }
}
