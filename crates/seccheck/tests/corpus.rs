//! `seccheck secrets` measured on the labelled corpus of soak artifacts
//! ([`seccheck::corpus`]): recall with the exchange variables watched, precision, and no
//! planted secret left after `--redact` (and a re-scan then finds nothing).

use std::io::Read;
use std::path::Path;

use assert_cmd::Command;
use seccheck::corpus::{self, Corpus};
use serde_json::Value;

fn run(dir: &Path, c: &Corpus, redact: bool) -> (Option<i32>, Vec<(String, u64)>) {
    let mut cmd = Command::cargo_bin("seccheck").expect("binary");
    cmd.env_remove("GITHUB_ACTIONS");
    let mut names = Vec::new();
    for (k, v) in &c.env {
        cmd.env(k, v);
        names.push(k.as_str());
    }
    cmd.args(["secrets", "--format", "jsonl", "--env", &names.join(",")]);
    if redact {
        cmd.arg("--redact");
    }
    let out = cmd.arg(dir).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for (_, v) in &c.env {
        assert!(!text.contains(v.as_str()), "a watched value was printed");
    }
    let findings = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|r| r["type"] == "finding")
        .map(|r| {
            let file = Path::new(r["file"].as_str().expect("file"))
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            (file, r["line"].as_u64().expect("line"))
        })
        .collect();
    (out.status.code(), findings)
}

fn text_of(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[test]
fn recall_and_precision_on_the_labelled_corpus() {
    for seed in [22, 7, 1234] {
        let c = corpus::generate(seed);
        assert!(c.planted.len() >= 55 && c.decoys.len() >= 55);
        let dir = tempfile::tempdir().expect("tmp");
        c.write_to(dir.path()).expect("write corpus");
        let (code, findings) = run(dir.path(), &c, false);
        assert_eq!(code, Some(1));
        let s = corpus::score(&c, &findings);
        println!(
            "seed {seed}: recall {}/{} = {:.3}, precision {:.3} ({} false: {:?}); missed {:?}",
            s.found,
            s.planted,
            s.recall(),
            s.precision(),
            s.false_findings,
            s.false_at,
            s.missed
        );
        assert!(s.recall() >= 0.95, "seed {seed}: missed {:?}", s.missed);
        assert!(
            s.precision() >= 0.95,
            "seed {seed}: false positives at {:?}",
            s.false_at
        );
    }
}

#[test]
fn redact_leaves_no_planted_secret_and_a_rescan_finds_nothing() {
    let c = corpus::generate(22);
    let dir = tempfile::tempdir().expect("tmp");
    c.write_to(dir.path()).expect("write corpus");
    let (code, before) = run(dir.path(), &c, true);
    assert_eq!(code, Some(1));
    assert!(!before.is_empty());
    for (name, _) in &c.files {
        let text = text_of(&dir.path().join(name));
        for p in c.planted.iter().filter(|p| &p.file == name) {
            for needle in &p.needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "{}:{} ({}) still holds {needle:?}",
                    p.file,
                    p.line,
                    p.what
                );
            }
        }
    }
    let (code, after) = run(dir.path(), &c, false);
    assert_eq!(
        (code, after),
        (Some(0), vec![]),
        "a re-scan of the redacted corpus"
    );
}
