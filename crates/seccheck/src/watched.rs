//! The watched environment values and every form in which a log writes them: literally,
//! JSON-escaped (`\/`), URL-encoded, base64'd once (at any alignment inside a longer base64
//! text), hex'd, and split into chunks (a traceback's wrapped line, `"abc" "def"`, `'abc' +\n 'def'`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// One searchable form of a watched value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The finding's kind: `env:VAR`, `env_escaped:VAR`, `env_base64:VAR`, `env_hex:VAR`.
    pub kind: String,
    /// The bytes to look for.
    pub bytes: Vec<u8>,
}

/// A watched value with its forms and the pieces that anchor a split occurrence.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The variable's name.
    pub name: String,
    /// The value.
    pub value: Vec<u8>,
    /// Every form searched for literally.
    pub forms: Vec<Form>,
    /// The value's first and last few bytes: a split occurrence holds at least one of them.
    pub pieces: [Vec<u8>; 2],
}

/// The shortest value that is watched.
pub const MIN_LEN: usize = 8;
/// The longest run of separators between two chunks of a split value.
const MAX_GAP: usize = 48;
/// The most chunks a split value is found in.
const MAX_GAPS: usize = 6;

fn json_escaped(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 4);
    for &b in v {
        match b {
            b'/' => out.extend_from_slice(b"\\/"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out
}

fn url_encoded(v: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 2);
    for &b in v {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else if upper {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.extend_from_slice(format!("%{b:02x}").as_bytes());
        }
    }
    out
}

/// The base64 characters that depend only on `v` when it sits at byte offset `shift` (0, 1, 2)
/// inside a longer text that was base64-encoded: the encoding of `v` preceded by `shift`
/// arbitrary bytes, without the characters those bytes touch and without the last partial
/// group (whose characters depend on what follows).
fn base64_interiors(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut push = |form: &[u8]| {
        if form.len() >= MIN_LEN && !out.iter().any(|f: &Vec<u8>| f == form) {
            out.push(form.to_vec());
        }
    };
    for engine in [&STANDARD, &URL_SAFE] {
        for shift in 0..3usize {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(v);
            let enc = engine.encode(&padded);
            let enc = enc.trim_end_matches('=').as_bytes();
            // The characters of whole groups of three bytes, without the group the `shift`
            // leading bytes touch: the same whatever surrounds the value.
            let whole = (padded.len() / 3) * 4;
            let skip = if shift == 0 { 0 } else { 4 };
            if shift == 0 {
                push(enc); // the value encoded alone, padding trimmed
            }
            if whole > skip {
                push(&enc[skip..whole]);
            }
        }
    }
    out
}

impl Watched {
    /// The forms of `value` of the variable `name`.
    pub fn new(name: &str, value: &[u8]) -> Watched {
        let mut forms: Vec<Form> = Vec::new();
        let mut add = |kind: &str, bytes: Vec<u8>| {
            if bytes.len() >= MIN_LEN && !forms.iter().any(|f| f.bytes == bytes) {
                forms.push(Form {
                    kind: format!("{kind}:{name}"),
                    bytes,
                });
            }
        };
        add("env", value.to_vec());
        add("env_escaped", json_escaped(value));
        add("env_escaped", url_encoded(value, true));
        add("env_escaped", url_encoded(value, false));
        for b in base64_interiors(value) {
            add("env_base64", b);
        }
        add("env_hex", hex::encode(value).into_bytes());
        add("env_hex", hex::encode_upper(value).into_bytes());
        let k = (value.len() / 2).clamp(4, 8);
        Watched {
            name: name.to_string(),
            value: value.to_vec(),
            forms,
            pieces: [value[..k].to_vec(), value[value.len() - k..].to_vec()],
        }
    }

    /// The kind of a split occurrence.
    pub fn split_kind(&self) -> String {
        format!("env_split:{}", self.name)
    }

    /// An occurrence of the value split into chunks around `piece_at`, where one of
    /// [`Watched::pieces`] (`which`: 0 the head, 1 the tail) was found in `text`: the byte range
    /// from the value's first to its last chunk, when the whole value is there.
    pub fn split_at(&self, text: &[u8], piece_at: usize, which: usize) -> Option<(usize, usize)> {
        let v = &self.value;
        let k = self.pieces[which].len();
        let (head_len, start_at) = if which == 0 {
            (0, piece_at)
        } else {
            (v.len() - k, piece_at)
        };
        // Forward from the piece's start over the rest of the value.
        let end = match_forward(text, start_at, &v[head_len..])?;
        // Backward from the piece's start over the value's head.
        let start = if head_len == 0 {
            start_at
        } else {
            let lo = start_at.saturating_sub(head_len + MAX_GAP * MAX_GAPS);
            let mut window: Vec<u8> = text[lo..start_at].to_vec();
            window.reverse();
            let mut head: Vec<u8> = v[..head_len].to_vec();
            head.reverse();
            start_at - match_forward(&window, 0, &head)?
        };
        Some((start, end))
    }
}

fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'+' | b'\\' | b','
    )
}

/// Matches `pat` in `text` from `at`, allowing up to [`MAX_GAPS`] runs of separators
/// (whitespace, quotes, `+`, `\`, `,` and escaped `\n`) between chunks, each holding a quote or
/// a line break; returns the end of the match.
fn match_forward(text: &[u8], at: usize, pat: &[u8]) -> Option<usize> {
    let (mut i, mut j, mut gaps) = (0usize, at, 0usize);
    while i < pat.len() {
        if j < text.len() && text[j] == pat[i] {
            i += 1;
            j += 1;
            continue;
        }
        if gaps == MAX_GAPS || i == 0 {
            return None;
        }
        // The longest separator run here (an escaped newline counts as two separators).
        let mut run = 0;
        while j + run < text.len() && run < MAX_GAP {
            let b = text[j + run];
            let escaped_letter = matches!(b, b'n' | b'r' | b't')
                && (j + run > 0 && text[j + run - 1] == b'\\'
                    || text.get(j + run + 1) == Some(&b'\\'));
            if is_separator(b) || escaped_letter {
                run += 1;
            } else {
                break;
            }
        }
        let real = |len: usize| {
            text[j..j + len]
                .iter()
                .any(|b| matches!(b, b'"' | b'\'' | b'\n' | b'\\'))
        };
        let len = (1..=run)
            .rev()
            .find(|&len| text.get(j + len) == Some(&pat[i]) && real(len))?;
        j += len;
        gaps += 1;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &[u8] = b"Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q8V";

    fn find(w: &Watched, text: &[u8]) -> Option<(usize, usize)> {
        for which in 0..2 {
            if let Some(at) = memchr::memmem::find(text, &w.pieces[which]) {
                if let Some(r) = w.split_at(text, at, which) {
                    return Some(r);
                }
            }
        }
        None
    }

    #[test]
    fn forms_cover_escaped_encoded_base64_and_hex() {
        let w = Watched::new("S", b"ab/cd+ef=gh/ij");
        let has = |s: &str| w.forms.iter().any(|f| f.bytes == s.as_bytes());
        assert!(has("ab\\/cd+ef=gh\\/ij"));
        assert!(has("ab%2Fcd%2Bef%3Dgh%2Fij") && has("ab%2fcd%2bef%3dgh%2fij"));
        assert!(has(&hex::encode("ab/cd+ef=gh/ij")));
        // base64 of a JSON object that holds the value, at whatever alignment it falls
        for prefix in ["", "x", "xy", "{\"secret\": \""] {
            let whole = STANDARD.encode(format!("{prefix}ab/cd+ef=gh/ij\"}}"));
            assert!(
                w.forms.iter().any(|f| f.kind == "env_base64:S"
                    && memchr::memmem::find(whole.as_bytes(), &f.bytes).is_some()),
                "{prefix:?}: {whole}"
            );
        }
    }

    #[test]
    fn split_values_are_found_across_lines_and_chunks() {
        let w = Watched::new("S", V);
        for text in [
            "raise AuthError('Zx9LiveK3f8a1c2e9b7d4f6'\n                '0a1b2c3d4q8V')\n",
            "key = \"Zx9Li\" \"veK3f8a1c2e9b7d4f60a1b2c3d4q8V\"",
            "'Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q' +\n    '8V'",
            "{\"msg\": \"Zx9LiveK3f8a\\n1c2e9b7d4f60a1b2c3d4q8V\"}",
        ] {
            let (s, e) = find(&w, text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert!(
                text[s..].starts_with("Zx9") && text[..e].ends_with("8V"),
                "{text}"
            );
        }
        for text in [
            "Zx9LiveK3f8a1c2e9b7d4 unrelated 60a1b2c3d4q8V",
            "Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4",
        ] {
            assert_eq!(find(&w, text.as_bytes()), None, "{text}");
        }
    }
}
