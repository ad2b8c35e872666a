//! A fast path for the common case: one flat JSON object per line. It walks the object once,
//! parses only the numbers resanalyze reads and skips everything else without building values
//! (about 3x faster than a serde derive that still has to parse every ignored field). Anything
//! it is not sure about (escaped keys, a string where a number belongs, malformed JSON) returns
//! `None`, and the caller falls back to serde_json through `soak_core::jsonl`, which also
//! classifies the skip reason. So the fast path never accepts a line serde would reject for
//! syntax, except that it does not check escapes inside skipped strings.

use memchr::memchr2;

use crate::sample::RawSample;

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string whose opening quote is at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'\\' {
            j = k + 2;
        } else {
            return Some(k + 1);
        }
    }
}

/// End of the array/object starting at `i` (brackets balanced, strings skipped).
fn nested_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j)?;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn number_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && matches!(b[j], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
        j += 1;
    }
    j
}

fn slot<'a>(s: &'a mut RawSample, key: &[u8]) -> Option<&'a mut Option<f64>> {
    Some(match key {
        b"elapsed_s" => &mut s.elapsed_s,
        b"timestamp_unix" => &mut s.timestamp_unix,
        b"cpu_percent" => &mut s.cpu_percent,
        b"memory_used_mb" => &mut s.memory_used_mb,
        b"memory_available_mb" => &mut s.memory_available_mb,
        b"disk_used_gb" => &mut s.disk_used_gb,
        b"disk_free_gb" => &mut s.disk_free_gb,
        b"network_bytes_sent" => &mut s.network_bytes_sent,
        b"network_bytes_recv" => &mut s.network_bytes_recv,
        b"process_cpu_percent" => &mut s.process_cpu_percent,
        b"process_memory_mb" => &mut s.process_memory_mb,
        b"process_threads" => &mut s.process_threads,
        b"process_fds" => &mut s.process_fds,
        b"tree_memory_mb" => &mut s.tree_memory_mb,
        b"tree_threads" => &mut s.tree_threads,
        b"tree_fds" => &mut s.tree_fds,
        _ => return None,
    })
}

/// Scans one trimmed line; `None` means "let serde decide".
pub fn scan(b: &[u8]) -> Option<RawSample> {
    let mut s = RawSample::default();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (ws(b, i + 1) == b.len()).then_some(s);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let kend = string_end(b, i)?;
        let key = &b[i + 1..kend - 1];
        if key.contains(&b'\\') {
            return None;
        }
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let c = *b.get(i)?;
        match c {
            b'"' => {
                let end = string_end(b, i)?;
                let text = &b[i + 1..end - 1];
                match key {
                    b"type" | b"tool" => {
                        if text.contains(&b'\\') {
                            return None;
                        }
                        let v = Some(std::str::from_utf8(text).ok()?.to_string());
                        if key == b"type" {
                            s.kind = v;
                        } else {
                            s.tool = v;
                        }
                    }
                    _ if slot(&mut s, key).is_some() => return None,
                    _ => {}
                }
                i = end;
            }
            b'n' => {
                if b.get(i..i + 4) != Some(b"null") {
                    return None;
                }
                if let Some(v) = slot(&mut s, key) {
                    *v = None;
                }
                i += 4;
            }
            b't' | b'f' => {
                let lit: &[u8] = if c == b't' { b"true" } else { b"false" };
                if b.get(i..i + lit.len()) != Some(lit) || slot(&mut s, key).is_some() {
                    return None;
                }
                i += lit.len();
            }
            b'[' | b'{' => {
                if slot(&mut s, key).is_some() || matches!(key, b"type" | b"tool") {
                    return None;
                }
                i = nested_end(b, i)?;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(b, i);
                let text = std::str::from_utf8(&b[i..end]).ok()?;
                let x: f64 = text.parse().ok()?;
                if let Some(v) = slot(&mut s, key) {
                    *v = Some(x);
                } else if matches!(key, b"type" | b"tool") {
                    return None;
                }
                i = end;
            }
            _ => return None,
        }
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return (ws(b, i + 1) == b.len()).then_some(s),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_serde_on_a_resmon_line() {
        let mut buf = Vec::new();
        let spec = crate::tracegen::TraceSpec::new(crate::tracegen::Shape::Linear, 0.1, 60.0);
        crate::tracegen::write_trace(&mut buf, &spec).expect("trace");
        let text = String::from_utf8(buf).expect("utf8");
        for line in text.lines() {
            let fast = scan(line.as_bytes()).expect("fast path");
            let slow: RawSample = serde_json::from_str(line).expect("serde");
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        }
    }

    #[test]
    fn declines_what_it_is_not_sure_about() {
        for bad in [
            "garbage",
            "{\"cpu_percent\": \"high\"}",
            "{\"cpu_percent\": 5",
            "{\"a\": [1, 2}",
            "{\"cpu_percent\": 5} x",
            "[1,2]",
            "{\"type\": 3}",
        ] {
            assert!(scan(bad.as_bytes()).is_none(), "{bad}");
        }
        let s = scan(br#"{"cpu_percent": 5.5, "x": {"y": "}"}, "tree_fds": null}"#).expect("ok");
        assert_eq!(s.cpu_percent, Some(5.5));
        assert_eq!(s.tree_fds, None);
    }
}
