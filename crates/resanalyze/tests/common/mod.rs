//! Helpers shared by the integration tests: write a generated trace, run the real binary.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use resanalyze::tracegen::{TraceSpec, write_trace};
use serde_json::Value;

/// Writes `spec` as `DIR/NAME.jsonl`.
pub fn trace(dir: &Path, name: &str, spec: &TraceSpec) -> PathBuf {
    let path = dir.join(format!("{name}.jsonl"));
    let mut f = BufWriter::new(File::create(&path).expect("create"));
    write_trace(&mut f, spec).expect("write");
    f.flush().expect("flush");
    path
}

/// Runs `resanalyze ARGS --format json`: the analysis document and the exit code.
pub fn analyse<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Value, i32) {
    let out = Command::cargo_bin("resanalyze")
        .expect("bin")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (doc, out.status.code().unwrap_or(-1))
}

/// The check named `name` of an analysis document (null when absent).
pub fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}
