//! Paths as text for messages and records, without losing what makes them unique.
//!
//! `Path::display()` replaces bytes that are not UTF-8 with `�`, so two different files can be
//! reported under one name and an error cannot be traced back to the file. [`shown`] keeps
//! every byte: valid UTF-8 stays as it is, other bytes are written `\xNN`, and control
//! characters (a newline in a file name would split a one-line error) and the backslash itself
//! are escaped, so the text maps back to exactly one path.
//!
//! On Windows, where names are UTF-16, an unpaired surrogate is written as the `\xNN` bytes of
//! its WTF-8 form, and the separator `\` shows as `\\`.
//!
//! ```
//! # #[cfg(unix)] {
//! use std::os::unix::ffi::OsStrExt;
//! let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"logs/a\xffb\n.log"));
//! assert_eq!(soak_core::pathtext::shown(p), r"logs/a\xffb\n.log");
//! # }
//! ```

use std::fmt::Write;
use std::path::Path;

/// `path` as one line of text that names exactly this path (see the module doc).
pub fn shown(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str(r"\\"),
                '\n' => out.push_str(r"\n"),
                '\r' => out.push_str(r"\r"),
                '\t' => out.push_str(r"\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn distinct_paths_stay_distinct() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let a = shown(Path::new(OsStr::from_bytes(b"/d/\xff.log")));
        let b = shown(Path::new(OsStr::from_bytes(b"/d/\xfe.log")));
        assert_eq!(a, r"/d/\xff.log");
        assert_ne!(a, b);
        assert_eq!(shown(Path::new("/d/caf\u{e9}.log")), "/d/caf\u{e9}.log");
        assert_eq!(shown(Path::new("a\\xff")), r"a\\xff");
        assert_eq!(shown(Path::new("a\u{1b}b")), r"a\u{1b}b");
    }

    #[cfg(windows)]
    #[test]
    fn windows_names_stay_distinct() {
        use std::ffi::OsString;
        use std::os::windows::ffi::OsStringExt;
        // "C:\d\" then an unpaired high surrogate, then ".log".
        let mut wide: Vec<u16> = r"C:\d\".encode_utf16().collect();
        wide.push(0xD800);
        wide.extend(".log".encode_utf16());
        let lone = shown(Path::new(&OsString::from_wide(&wide)));
        assert_eq!(lone, r"C:\\d\\\xed\xa0\x80.log");
        assert_ne!(lone, shown(Path::new(r"C:\d\\xed\xa0\x80.log")));
        assert_eq!(
            shown(Path::new("C:\\logs\\caf\u{e9}.log")),
            "C:\\\\logs\\\\caf\u{e9}.log"
        );
    }
}
