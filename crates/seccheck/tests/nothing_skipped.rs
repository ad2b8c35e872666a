//! `seccheck secrets` skips nothing silently (issue 22, issue 16 point 4): sparse holes are read
//! past, binary files are reported, symlinks named are followed, missing watched variables
//! fail, a broken `.gz` is its own error while the rest is scanned, a path named twice is
//! scanned once, and stdin, `/dev/stdin`, FIFOs and `<(...)` are read as streams.

use std::io::Write;
use std::path::Path;
use std::process::Output;
#[cfg(unix)]
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::Value;

const AWS: &str = "AKIAZ7Q2M4R8T6W3Y5UX";
const SECRET: &str = "kQ2v9XfL0pZrT7yW4bN8mC3sD6gH1jK5";

fn seccheck() -> Command {
    let mut c = Command::cargo_bin("seccheck").expect("binary");
    c.env_remove("GITHUB_ACTIONS")
        .env("BYBIT_API_SECRET", SECRET)
        .args(["secrets", "--format", "jsonl"]);
    c
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn of_type<'a>(recs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}

fn summary(recs: &[Value]) -> &Value {
    recs.last().expect("summary")
}

fn leaky(path: &Path) {
    std::fs::write(
        path,
        format!("2026-02-14 10:00:00,000 - bot - INFO - key id {AWS}\n"),
    )
    .expect("write");
}

#[test]
fn a_sparse_hole_at_the_start_is_read_past() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("bot.log");
    let f = std::fs::File::create(&log).expect("create");
    f.set_len(64 * 1024).expect("hole"); // what copytruncate leaves: NULs up to the old offset
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    writeln!(f, "2026-02-14 10:00:00,000 - boto - DEBUG - {AWS} loaded").expect("write");
    let out = seccheck().arg(&log).output().expect("run");
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(of_type(&recs, "finding").len(), 1);
    assert_eq!(summary(&recs)["binary_files_skipped"], 0);
}

#[test]
fn a_real_binary_is_a_skipped_record_with_its_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy("/bin/true", dir.path().join("true.bin")).expect("copy a real ELF binary");
    leaky(&dir.path().join("bot.log"));
    let out = seccheck().arg(dir.path()).output().expect("run");
    let recs = records(&out);
    let skipped = of_type(&recs, "event");
    assert_eq!(skipped.len(), 1, "{recs:#?}");
    assert_eq!(skipped[0]["event"], "skipped");
    assert!(
        skipped[0]["file"]
            .as_str()
            .expect("file")
            .ends_with("true.bin")
    );
    assert!(
        skipped[0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("binary")
    );
    let s = summary(&recs);
    assert_eq!(
        (s["files"].as_u64(), s["files_scanned"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(s["binary_files_skipped"], 1);
    assert_eq!(out.status.code(), Some(1));
}

#[cfg(unix)] // symlinks need a privilege on Windows
#[test]
fn symlinks_named_are_followed_and_said_so_and_a_path_twice_is_scanned_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let real = dir.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    leaky(&real.join("bot.log"));
    let file_link = dir.path().join("latest.log");
    let dir_link = dir.path().join("run");
    std::os::unix::fs::symlink(real.join("bot.log"), &file_link).expect("link");
    std::os::unix::fs::symlink(&real, &dir_link).expect("link");
    for arg in [&file_link, &dir_link] {
        let out = seccheck().arg(arg).output().expect("run");
        let recs = records(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {out:?}", arg.display());
        assert_eq!(of_type(&recs, "finding").len(), 1);
        assert_eq!(summary(&recs)["files"], 1);
    }
    let out = seccheck().arg(&file_link).output().expect("run");
    let recs = records(&out);
    assert_eq!(summary(&recs)["symlinks_followed"], 1);
    assert!(recs.iter().any(|r| r["event"] == "symlink_followed"));
    let out = seccheck()
        .arg(real.join("bot.log"))
        .arg(&real)
        .arg(&file_link)
        .arg(real.join("bot.log"))
        .output()
        .expect("run");
    let recs = records(&out);
    assert_eq!(of_type(&recs, "finding").len(), 1, "{recs:#?}");
    assert_eq!(summary(&recs)["files"], 1);
}

#[test]
fn a_watched_variable_unset_or_short_is_exit_2_unless_allowed() {
    let dir = tempfile::tempdir().expect("tmp");
    leaky(&dir.path().join("bot.log"));
    for (var, value, says) in [
        ("KRAKEN_API_KEY", None, "is not set"),
        ("KRAKEN_API_KEY", Some("short"), "is shorter than 8 bytes"),
        ("KRAKEN_API_KEY", Some(""), "is set but empty"),
    ] {
        let mut c = seccheck();
        c.env_remove(var);
        if let Some(v) = value {
            c.env(var, v);
        }
        let out = c
            .args(["--env", var])
            .arg(dir.path())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var) && err.contains(says), "{err}");
        assert!(out.stdout.is_empty());
        let mut c = seccheck();
        c.env_remove(var);
        if let Some(v) = value {
            c.env(var, v);
        }
        let out = c
            .args(["--env", var, "--allow-missing-env"])
            .arg(dir.path())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let recs = records(&out);
        assert_eq!(summary(&recs)["env_values_missing"], 1);
    }
}

#[cfg(unix)] // Windows environment values are UTF-16, never invalid bytes
#[test]
fn a_non_utf8_value_is_watched_as_bytes_and_named_as_such() {
    let dir = tempfile::tempdir().expect("tmp");
    let value: &[u8] = b"k\xffQ2v9X\xfeL0pZrT7yW4bN8";
    let mut text = b"2026 - bot - DEBUG - signing with ".to_vec();
    text.extend_from_slice(value);
    text.push(b'\n');
    std::fs::write(dir.path().join("bot.log"), &text).expect("write");
    let out = seccheck()
        .env(
            "BYBIT_API_SECRET",
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(value),
        )
        .args(["--env", "BYBIT_API_SECRET"])
        .arg(dir.path())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not valid UTF-8") && !err.contains("not set"),
        "{err}"
    );
    let recs = records(&out);
    let found = of_type(&recs, "finding");
    assert_eq!(found.len(), 1, "{recs:#?}");
    assert_eq!(found[0]["kind"], "env:BYBIT_API_SECRET");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_broken_gz_is_its_own_error_and_every_other_file_is_scanned_and_redacted() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..20_000 {
        writeln!(gz, "2026-02-14 10:00:00,000 - bot - INFO - line {i} {i}{i}").expect("gz");
    }
    let whole = gz.finish().expect("finish");
    std::fs::write(dir.path().join("a.log.1.gz"), &whole[..whole.len() / 2]).expect("write");
    leaky(&dir.path().join("b.log"));
    for redact in [false, true] {
        let mut c = seccheck();
        if redact {
            c.arg("--redact");
        }
        let out = c.arg(dir.path()).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let recs = records(&out);
        let errors: Vec<&Value> = recs.iter().filter(|r| r["event"] == "error").collect();
        assert_eq!(errors.len(), 1, "{recs:#?}");
        assert!(
            errors[0]["file"]
                .as_str()
                .expect("f")
                .ends_with("a.log.1.gz")
        );
        assert!(errors[0]["message"].as_str().expect("m").contains("gzip"));
        let s = summary(&recs);
        assert_eq!(
            (s["files"].as_u64(), s["files_failed"].as_u64()),
            (Some(2), Some(1))
        );
        if redact {
            assert_eq!(s["redacted"], 1, "{recs:#?}");
            assert!(
                !std::fs::read_to_string(dir.path().join("b.log"))
                    .expect("r")
                    .contains(AWS)
            );
        } else {
            assert_eq!(of_type(&recs, "finding").len(), 1);
        }
    }
}

#[cfg(unix)] // FIFOs and /dev/stdin are Unix
#[test]
fn stdin_dev_stdin_fifos_and_process_substitution_are_read_as_streams() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("bot.log");
    leaky(&log);
    let text = std::fs::read(&log).expect("read");
    let bin = assert_cmd::cargo::cargo_bin("seccheck");
    for arg in ["-", "/dev/stdin"] {
        let mut child = StdCommand::new(&bin)
            .args(["secrets", "--format", "jsonl", arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&text)
            .expect("feed");
        let out = child.wait_with_output().expect("wait");
        let recs = records(&out);
        assert_eq!(out.status.code(), Some(1), "{arg}: {recs:#?}");
        assert_eq!(of_type(&recs, "finding").len(), 1);
        assert_eq!(summary(&recs)["streams"], 1);
    }
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let writer = {
        let (fifo, text) = (fifo.clone(), text.clone());
        std::thread::spawn(move || std::fs::write(fifo, text).expect("write fifo"))
    };
    let out = StdCommand::new(&bin)
        .args(["secrets", "--format", "jsonl"])
        .arg(&fifo)
        .output()
        .expect("run");
    writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(of_type(&records(&out), "finding").len(), 1);
    let out = StdCommand::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' secrets --format jsonl <(cat '{}')",
            bin.display(),
            log.display()
        ))
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(of_type(&records(&out), "finding").len(), 1);
    let out = seccheck().arg("/dev/zero").arg(&log).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an endless device is refused, the log still read"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/zero: a character device"));
    assert_eq!(of_type(&records(&out), "finding").len(), 1);
    let out = seccheck()
        .args(["--redact", "-"])
        .write_stdin(text)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redact cannot rewrite a stream"));
}
