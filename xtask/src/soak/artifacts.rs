//! Reading the run directory's artifacts: each file as it is, or its `.gz` once the final
//! pass has compressed it, JSONL streamed line by line through core's tolerant reader (never
//! a whole file in memory) into the typed records of [`super::records`].

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use soak_core::input::InputSource;
use soak_core::jsonl::JsonlReader;

/// The artifact's path as it is now: `path`, or `path.gz` when only that exists.
fn present(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    let mut gz = path.as_os_str().to_os_string();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    gz.is_file().then_some(gz)
}

/// The artifact opened for reading, gzip decompressed (by its magic bytes).
fn open(path: &Path) -> Option<Box<dyn BufRead + Send>> {
    InputSource::File(present(path)?).open().ok()
}

/// A run directory's file as text, or its `.gz` (a missing or unreadable file is `None`).
pub fn read_text(path: &Path) -> Option<String> {
    let mut text = String::new();
    open(path)?.read_to_string(&mut text).ok()?;
    Some(text)
}

/// A JSON document artifact (resanalyze's analysis) as `T`, read as it streams in: `None` when
/// the file is missing, the parse error (naming the file) when it does not read as `T`.
pub fn read_document<T: DeserializeOwned>(path: &Path) -> Option<Result<T, String>> {
    let input = open(path)?;
    Some(serde_json::from_reader(input).map_err(|e| format!("{}: {e}", path.display())))
}

/// Calls `each` with every line of a JSONL artifact that deserializes as `T`, in order; the
/// others are skipped (a missing file has no lines).
pub fn for_each<T: DeserializeOwned>(path: &Path, mut each: impl FnMut(T)) {
    let Some(input) = open(path) else {
        return;
    };
    let mut reader = JsonlReader::new(input, path.display().to_string());
    while let Ok(Some(record)) = reader.next_as::<T>() {
        each(record);
    }
}

/// A record with its envelope: which kind, which tool, and the rest as `T`.
#[derive(Debug, Deserialize)]
struct Enveloped<T> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    tool: String,
    #[serde(flatten)]
    body: T,
}

/// The last `summary` record of `tool` in a JSONL artifact that reads as `T`.
pub fn last_summary_of<T: DeserializeOwned>(path: &Path, tool: &str) -> Option<T> {
    let mut last = None;
    for_each::<Enveloped<T>>(path, |r| {
        if r.kind == "summary" && r.tool == tool {
            last = Some(r.body);
        }
    });
    last
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Count {
        n: u64,
    }

    #[test]
    fn the_last_summary_of_a_tool_is_read_from_the_gz_once_the_file_is_compressed() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a.jsonl");
        let lines = concat!(
            "{\"type\":\"summary\",\"tool\":\"x\",\"n\":1}\n",
            "not json\n",
            "{\"type\":\"summary\",\"tool\":\"y\",\"n\":2}\n",
            "{\"type\":\"summary\",\"tool\":\"x\",\"n\":3}\n",
            "{\"type\":\"summary\",\"tool\":\"x\",\"n\":\"not a count\"}\n",
        );
        assert_eq!(last_summary_of::<Count>(&path, "x"), None, "missing file");
        let gz = std::fs::File::create(dir.path().join("a.jsonl.gz")).expect("create");
        let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
        enc.write_all(lines.as_bytes()).expect("write");
        enc.finish().expect("finish");
        assert_eq!(last_summary_of::<Count>(&path, "x"), Some(Count { n: 3 }));
        let mut seen = Vec::new();
        for_each::<Count>(&path, |c| seen.push(c.n));
        assert_eq!(seen, vec![1, 2, 3]);
        assert_eq!(read_text(&path).as_deref(), Some(lines));
    }
}
