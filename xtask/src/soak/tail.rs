//! Reading the JSONL files other tools are still writing: only the new complete lines, from
//! where the last read stopped, each through core's tolerant reader into a typed record.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use soak_core::jsonl::JsonlReader;

/// A position in a growing JSONL file.
pub struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// Starts at the beginning of `path` (which may not exist yet).
    pub fn new(path: PathBuf) -> Tail {
        Tail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The records in the lines completed since the last call (lines that do not read as `T`
    /// are skipped).
    pub fn read_new<T: DeserializeOwned>(&mut self) -> Vec<T> {
        let Ok(mut f) = File::open(&self.path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(last_nl) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=last_nl).collect();
        let mut reader = JsonlReader::new(&complete[..], self.path.display().to_string());
        let mut records = Vec::new();
        while let Ok(Some(record)) = reader.next_as::<T>() {
            records.push(record);
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Debug, serde::Deserialize)]
    struct A {
        a: u64,
    }

    #[test]
    fn reads_only_complete_new_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a.jsonl");
        let mut t = Tail::new(p.clone());
        assert!(t.read_new::<A>().is_empty(), "missing file");
        let mut f = File::create(&p).expect("create");
        write!(f, "{{\"a\":1}}\n{{\"a\":").expect("write");
        assert_eq!(t.read_new::<A>().len(), 1);
        write!(f, "2}}\nnot json\n").expect("write");
        let v = t.read_new::<A>();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].a, 2);
    }
}
