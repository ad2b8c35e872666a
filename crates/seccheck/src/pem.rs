//! A private key's whole extent: from `-----BEGIN … PRIVATE KEY-----` to the end of its
//! `-----END …-----` line, whether the block is written over several lines, escaped inside one
//! JSON or Python string (`\n` separators), or cut short (a body of base64 lines with no END).

use regex::bytes::Regex;

/// Where a block ends, as far as the text shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The block ends here (exclusive).
    End(usize),
    /// The text ends inside the block's body: more input is needed to know.
    Open,
}

/// The most lines a multi-line block is followed over.
const MAX_LINES: usize = 4096;

/// The BEGIN and END markers.
pub struct Markers {
    /// `-----BEGIN … PRIVATE KEY-----`.
    pub begin: Regex,
    end: Regex,
}

impl Markers {
    /// Builds the markers' expressions.
    pub fn new() -> Result<Markers, regex::Error> {
        Ok(Markers {
            begin: Regex::new(
                r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----",
            )?,
            end: Regex::new(r"-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----")?,
        })
    }

    /// The extent of the block whose BEGIN marker ends at `marker_end`, on the line ending at
    /// `line_end` (the offset of its `\n`, or the text's length) of `text`; `at_eof` says no
    /// more text follows.
    pub fn extent(&self, text: &[u8], marker_end: usize, line_end: usize, at_eof: bool) -> Extent {
        let rest = &text[marker_end..line_end];
        if let Some(m) = self.end.find(rest) {
            return Extent::End(marker_end + m.end()); // escaped inside one line
        }
        if rest.starts_with(b"\\n") || rest.starts_with(b"\\r\\n") {
            // Escaped and cut short: up to the end of the string it is in.
            let close = rest
                .iter()
                .enumerate()
                .position(|(i, b)| matches!(b, b'"' | b'\'') && (i == 0 || rest[i - 1] != b'\\'))
                .unwrap_or(rest.len());
            return Extent::End(marker_end + close);
        }
        if !rest.iter().all(|b| b.is_ascii_whitespace()) {
            return Extent::End(line_end); // something else follows on the BEGIN line
        }
        let mut end = line_end;
        let mut at = line_end + 1;
        for _ in 0..MAX_LINES {
            if at >= text.len() {
                return if at_eof {
                    Extent::End(end.min(text.len()))
                } else {
                    Extent::Open
                };
            }
            let next = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
            let line = &text[at..next];
            if let Some(m) = self.end.find(line) {
                return Extent::End(at + m.end());
            }
            if !is_body(line) {
                return Extent::End(end);
            }
            end = next;
            at = next + 1;
        }
        Extent::End(end)
    }
}

/// A line of a PEM body: base64, a header (`Proc-Type: …`, `DEK-Info: …`) or blank.
fn is_body(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if t.iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return true;
    }
    let colon = memchr::memchr(b':', t);
    colon.is_some_and(|c| {
        c > 0
            && t[..c]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && t.get(c + 1) == Some(&b' ')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str, at_eof: bool) -> Option<String> {
        let m = Markers::new().expect("markers");
        let b = m.begin.find(text.as_bytes()).expect("begin");
        let le =
            memchr::memchr(b'\n', &text.as_bytes()[b.end()..]).map_or(text.len(), |i| b.end() + i);
        match m.extent(text.as_bytes(), b.end(), le, at_eof) {
            Extent::End(e) => Some(text[b.start()..e].to_string()),
            Extent::Open => None,
        }
    }

    #[test]
    fn blocks_multi_line_escaped_and_cut_short() {
        let block =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbC+/=\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            span(&format!("x\n{block}\nafter\n"), true).as_deref(),
            Some(block)
        );
        let esc = r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEv\nQ==\n-----END PRIVATE KEY-----\n", "x": 1}"#;
        assert_eq!(
            span(esc, true).as_deref(),
            Some(r"-----BEGIN PRIVATE KEY-----\nMIIEv\nQ==\n-----END PRIVATE KEY-----")
        );
        let cut = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\nBBBB\n2026-01-01 INFO next\n";
        assert_eq!(
            span(cut, true).as_deref(),
            Some("-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\nBBBB")
        );
        let escaped_cut = r#"{"k": "-----BEGIN PRIVATE KEY-----\nMIIEv\nQQ", "n": 2}"#;
        assert_eq!(
            span(escaped_cut, true).as_deref(),
            Some(r"-----BEGIN PRIVATE KEY-----\nMIIEv\nQQ")
        );
        assert_eq!(
            span("-----BEGIN PRIVATE KEY-----\nMIIE\nAAAA\n", false),
            None
        );
        let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB\n\nMIIE\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(span(enc, true).as_deref(), Some(enc.trim_end()));
    }
}
