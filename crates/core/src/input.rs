//! Opening inputs the way every tool does: file arguments or `-`/stdin when none, globs
//! expanded in sorted order, and gzip read transparently (detected by its magic bytes, so a
//! `.gz` without the suffix or a plain file named `.gz` both read right).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::CoreError;

/// Where one input comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputSource {
    /// Standard input (`-`, or no file arguments).
    Stdin,
    /// A file on disk.
    File(PathBuf),
}

impl InputSource {
    /// The name used in messages and records: the path, or `-` for stdin.
    pub fn display_name(&self) -> String {
        match self {
            InputSource::Stdin => "-".to_string(),
            InputSource::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input for buffered reading, decompressing gzip transparently.
    pub fn open(&self) -> Result<Box<dyn BufRead + Send>, CoreError> {
        match self {
            InputSource::Stdin => wrap_maybe_gzip(Box::new(io::stdin()), "-"),
            InputSource::File(path) => {
                let file = File::open(path).map_err(|source| CoreError::Open {
                    path: path.clone(),
                    source,
                })?;
                wrap_maybe_gzip(Box::new(file), &path.display().to_string())
            }
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 256 * 1024;

fn wrap_maybe_gzip(
    inner: Box<dyn Read + Send>,
    name: &str,
) -> Result<Box<dyn BufRead + Send>, CoreError> {
    let mut buffered = BufReader::with_capacity(READ_BUFFER, inner);
    let head = buffered.fill_buf().map_err(|source| CoreError::Read {
        path: PathBuf::from(name),
        source,
    })?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(buffered),
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Expands command-line input arguments into sources.
///
/// - no arguments → stdin;
/// - `-` → stdin;
/// - an existing path → that file (a directory is an error naming it);
/// - anything with `*`, `?` or `[` → a glob, its matches sorted; no match is an error.
///
/// A missing file is an error naming it, so a typo never reads as an empty run.
pub fn expand_inputs<S: AsRef<str>>(args: &[S]) -> Result<Vec<InputSource>, CoreError> {
    if args.is_empty() {
        return Ok(vec![InputSource::Stdin]);
    }
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(InputSource::Stdin);
            continue;
        }
        let path = Path::new(arg);
        if path.exists() {
            if path.is_dir() {
                return Err(CoreError::IsDirectory(path.to_path_buf()));
            }
            out.push(InputSource::File(path.to_path_buf()));
            continue;
        }
        if arg.contains(['*', '?', '[']) {
            let pattern = glob::glob(arg).map_err(|e| CoreError::BadGlob {
                pattern: arg.to_string(),
                reason: e.msg.to_string(),
            })?;
            let mut matches: Vec<PathBuf> = pattern
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matches.is_empty() {
                return Err(CoreError::NoMatch(arg.to_string()));
            }
            matches.sort();
            out.extend(matches.into_iter().map(InputSource::File));
            continue;
        }
        return Err(CoreError::NotFound(path.to_path_buf()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    #[test]
    fn reads_plain_and_gzip_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("a.jsonl");
        std::fs::write(&plain, "{\"a\":1}\n").expect("write");
        let gz = dir.path().join("b.jsonl.gz");
        let mut enc = GzEncoder::new(File::create(&gz).expect("create"), Compression::fast());
        enc.write_all(b"{\"a\":1}\n").expect("gz write");
        enc.finish().expect("finish");
        for p in [plain, gz] {
            let mut s = String::new();
            InputSource::File(p)
                .open()
                .expect("open")
                .read_to_string(&mut s)
                .expect("read");
            assert_eq!(s, "{\"a\":1}\n");
        }
    }

    #[test]
    fn globs_sort_and_missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in ["r2.jsonl", "r1.jsonl", "other.txt"] {
            std::fs::write(dir.path().join(n), "").expect("write");
        }
        let pat = format!("{}/r*.jsonl", dir.path().display());
        let got = expand_inputs(&[pat]).expect("glob");
        let names: Vec<String> = got.iter().map(InputSource::display_name).collect();
        assert!(names[0].ends_with("r1.jsonl") && names[1].ends_with("r2.jsonl"));

        let missing = dir.path().join("nope.jsonl");
        let err = expand_inputs(&[missing.display().to_string()]).expect_err("missing");
        assert!(err.to_string().contains("nope.jsonl"), "{err}");
        let none = format!("{}/z*.jsonl", dir.path().display());
        assert!(matches!(expand_inputs(&[none]), Err(CoreError::NoMatch(_))));
        assert_eq!(
            expand_inputs::<&str>(&[]).expect("stdin"),
            vec![InputSource::Stdin]
        );
    }
}
