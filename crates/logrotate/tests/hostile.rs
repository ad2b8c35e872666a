//! Hostile inputs for logrotate (issue 16): symlinks at every name it creates, FIFOs,
//! hard links, non-UTF-8 and newline names, crash leftovers, files replaced or deleted
//! mid-run, closed stdout, signals, and the issue's own cases. Every case runs the real
//! binary on real files and asserts the exit code, that nothing outside DIR changed (content
//! and mode of every file there, before and after), that no line of data was lost, and where
//! it applies that the dry run predicted the real run exactly and memory stayed bounded.

// Linux only: symlinks, FIFOs, non-UTF-8 byte names, modes, owners, signals and peak memory
// read from /proc (the Windows forms of held files, rotation and paths are in
// tests/windows.rs).
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logrotate");

/// A managed directory `D` and an `outside` directory whose files must never change.
struct Sandbox {
    _tmp: tempfile::TempDir,
    d: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canon");
        let d = root.join("D");
        let outside = root.join("outside");
        std::fs::create_dir(&d).expect("D");
        std::fs::create_dir(&outside).expect("outside");
        let s = Sandbox {
            _tmp: tmp,
            d,
            outside,
        };
        s.write_outside("victim", b"root:x:0:0:victim line\n", 0o644);
        s.write_outside("secret", b"do not overwrite\n", 0o600);
        s
    }

    fn write_outside(&self, name: &str, data: &[u8], mode: u32) -> PathBuf {
        let p = self.outside.join(name);
        std::fs::write(&p, data).expect("outside file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("mode");
        p
    }

    fn victim(&self) -> PathBuf {
        self.outside.join("victim")
    }

    /// A file in D made of numbered lines `tag N`, `age_s` old.
    fn log(&self, name: impl AsRef<OsStr>, tag: &str, lines: usize, age_s: u64) -> PathBuf {
        let p = self.d.join(name.as_ref());
        let mut text = String::with_capacity(lines * 24);
        for i in 0..lines {
            text.push_str(&format!("{tag} {i:08} some payload of a log line\n"));
        }
        std::fs::write(&p, text).expect("log");
        age(&p, age_s);
        p
    }

    fn link(&self, name: impl AsRef<OsStr>, target: &Path) -> PathBuf {
        let p = self.d.join(name.as_ref());
        std::os::unix::fs::symlink(target, &p).expect("symlink");
        p
    }
}

fn age(p: &Path, age_s: u64) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .expect("open for mtime")
        .set_modified(SystemTime::now() - Duration::from_secs(age_s))
        .expect("mtime");
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
}

/// Everything under `dir` (not following symlinks): content, mode, link target.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.expect("walk");
        let meta = e.path().symlink_metadata().expect("lstat");
        let body = if meta.file_type().is_symlink() {
            std::fs::read_link(e.path())
                .expect("readlink")
                .as_os_str()
                .as_bytes()
                .to_vec()
        } else if meta.is_file() {
            std::fs::read(e.path()).expect("read")
        } else {
            Vec::new()
        };
        out.insert(e.path().to_path_buf(), (meta.mode(), body));
    }
    out
}

/// The live file a rotated part belongs to: `app.log` for `app.log.20261206210000[.N][.gz]`.
fn live_name_of(name: &[u8]) -> Option<&[u8]> {
    let mut n = name;
    for suffix in [&b".gz"[..], b".zst"] {
        if let Some(rest) = n.strip_suffix(suffix) {
            n = rest;
        }
    }
    let digits_at_end = |n: &[u8]| n.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let k = digits_at_end(n);
    if k > 0 && k < 14 && n.len() > k && n[n.len() - k - 1] == b'.' {
        let shorter = &n[..n.len() - k - 1];
        if digits_at_end(shorter) == 14 {
            n = shorter;
        }
    }
    (digits_at_end(n) == 14 && n.len() > 15 && n[n.len() - 15] == b'.').then(|| &n[..n.len() - 15])
}

/// Every line of every regular file under `dir`, archives decompressed, sorted. The parts a
/// copytruncate rotated out of a live file are read in front of it, as one stream (a line cut
/// at the block boundary continues at the start of the live file).
fn all_lines(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.expect("walk");
        if !e.file_type().is_file() {
            continue;
        }
        let name = e.file_name().as_bytes();
        let file = std::fs::File::open(e.path()).expect("open");
        let mut reader: Box<dyn Read> = if name.ends_with(b".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else if name.ends_with(b".zst") {
            Box::new(zstd::stream::read::Decoder::new(file).expect("zstd"))
        } else {
            Box::new(file)
        };
        let mut data = Vec::new();
        reader.read_to_end(&mut data).expect("decode");
        files.insert(e.path().to_path_buf(), data);
    }
    // Rotated parts, oldest name first, go in front of their live file.
    let paths: Vec<PathBuf> = files.keys().cloned().collect();
    for p in paths.iter().rev() {
        let Some(live) = p
            .file_name()
            .and_then(|n| live_name_of(n.as_bytes()))
            .map(|l| p.with_file_name(OsStr::from_bytes(l)))
        else {
            continue;
        };
        if files.contains_key(&live) {
            let part = files.remove(p).unwrap_or_default();
            let whole = files.entry(live).or_default();
            let mut joined = part;
            joined.extend_from_slice(whole);
            *whole = joined;
        }
    }
    let mut lines = Vec::new();
    for data in files.values() {
        lines.extend(
            data.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    lines.sort();
    lines
}

/// Asserts two sorted line lists are equal, saying how they differ (not dumping them).
fn assert_lines(got: &[Vec<u8>], want: &[Vec<u8>]) {
    if got != want {
        let missing = want
            .iter()
            .filter(|l| got.binary_search(l).is_err())
            .count();
        let extra = got
            .iter()
            .filter(|l| want.binary_search(l).is_err())
            .count();
        let first = want
            .iter()
            .find(|l| got.binary_search(l).is_err())
            .map(|l| String::from_utf8_lossy(l).into_owned());
        panic!(
            "lines differ: {} now, {} before; {missing} missing (first: {first:?}), {extra} new",
            got.len(),
            want.len()
        );
    }
}

/// A finished run of the binary.
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    /// Peak resident set of the process in KiB (VmHWM from /proc while it ran).
    peak_rss_kib: u64,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn records(&self) -> Vec<Value> {
        self.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("each stdout line is JSON"))
            .collect()
    }

    fn summary(&self) -> Value {
        self.records()
            .into_iter()
            .rev()
            .find(|r| r["type"] == "summary")
            .expect("a summary")
    }

    /// (action, path relative to `d`, bytes_after) of every action record.
    fn actions(&self, d: &Path) -> Vec<(String, String, Option<u64>)> {
        let prefix = format!("{}/", d.display());
        self.records()
            .iter()
            .filter(|r| r["type"] == "action")
            .map(|r| {
                let path = r["path"].as_str().unwrap_or_default();
                (
                    r["action"].as_str().unwrap_or_default().to_string(),
                    path.strip_prefix(&prefix).unwrap_or(path).to_string(),
                    r["bytes_after"].as_u64(),
                )
            })
            .collect()
    }
}

fn reap(child: std::process::Child, guard: Duration) -> (ExitStatus, u64) {
    soak_testkit::wait_with_peak_rss(child, guard, "logrotate")
}

fn run_in(args: &[&OsStr], dir: &Path) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--format")
        .arg("jsonl")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logrotate");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = err.read_to_string(&mut v);
        v
    });
    let (status, peak_rss_kib) = reap(child, Duration::from_secs(120));
    Run {
        status,
        stdout: t_out.join().expect("stdout thread"),
        stderr: t_err.join().expect("stderr thread"),
        peak_rss_kib,
    }
}

fn run(args: &[&str], dir: &Path) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run_in(&args, dir)
}

/// Builds the same fixture twice, runs `args` dry on one and for real on the other, and
/// asserts they agree: same actions on the same relative paths, same predicted sizes, same
/// exit code; the dry one changed nothing. Returns the real run and its sandbox.
fn dry_equals_real(build: impl Fn(&Sandbox), args: &[&str]) -> (Run, Sandbox) {
    let dry_box = Sandbox::new();
    build(&dry_box);
    let before = snapshot(&dry_box.d);
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = run(&dry_args, &dry_box.d);
    assert_eq!(snapshot(&dry_box.d), before, "the dry run changed nothing");
    let real_box = Sandbox::new();
    build(&real_box);
    let real = run(args, &real_box.d);
    assert_eq!(
        dry.actions(&dry_box.d),
        real.actions(&real_box.d),
        "the dry run lists exactly what the real run does (left: dry, right: real)"
    );
    assert_eq!(dry.code(), real.code(), "same verdict: {}", real.stderr);
    assert_eq!(
        dry.summary()["total_bytes_after"],
        real.summary()["total_bytes_after"]
    );
    assert_eq!(
        real.summary()["total_bytes_after"].as_u64(),
        Some(bytes_on_disk(&real_box.d)),
        "the summary's total is what is on disk"
    );
    (real, real_box)
}

/// Every destructive flag at its harshest: compress, one file per step, one run, a 1-byte
/// budget.
const ALL_AT_ONCE: &[&str] = &[
    "--compress",
    "--keep-per-step",
    "1",
    "--keep-runs",
    "1",
    "--max-total",
    "1",
];

/// `data` gzipped, as gzip(1) would.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// The bytes of the regular files under `dir` (symlinks, FIFOs and directories not counted).
fn bytes_on_disk(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().expect("meta").len())
        .sum()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Asserts the run ended with `code`, nothing outside changed, no line was lost.
fn assert_safe(
    run: &Run,
    code: i32,
    s: &Sandbox,
    outside_before: &BTreeMap<PathBuf, (u32, Vec<u8>)>,
    lines_before: &[Vec<u8>],
) {
    assert_eq!(
        run.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        run.stderr,
        String::from_utf8_lossy(&run.stdout)
    );
    assert_eq!(
        &snapshot(&s.outside),
        outside_before,
        "nothing outside DIR changed"
    );
    assert_lines(&all_lines(&s.d), lines_before);
}

// ---------------------------------------------------------------- symlinks at created names

#[test]
fn issue_case_1_symlink_at_the_gzip_temp_name_is_never_written_through() {
    let s = Sandbox::new();
    s.log("x.log", "live", 100, 0);
    s.log("x.log.2", "old", 5000, 7200);
    s.link("x.log.2.gz.tmp", &s.victim());
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(&["--compress"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(s.d.join("x.log.2.gz").is_file() && !s.d.join("x.log.2").exists());
    assert!(
        s.d.join("x.log.2.gz.tmp")
            .symlink_metadata()
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(s.d.join("x.log.2.gz.tmp")).expect("l"),
        s.victim()
    );
}

#[test]
fn issue_case_1_symlink_at_the_zstd_temp_name_is_never_written_through() {
    let s = Sandbox::new();
    s.log("x.log", "live", 100, 0);
    s.log("x.log.2", "old", 5000, 7200);
    s.link("x.log.2.zst.tmp", &s.victim());
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(&["--compress=zstd"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(s.d.join("x.log.2.zst").is_file());
}

#[test]
fn symlink_at_the_archive_name_is_left_alone_with_the_original() {
    for (flag, suffix) in [("--compress", "gz"), ("--compress=zstd", "zst")] {
        let s = Sandbox::new();
        s.log("x.log", "live", 100, 0);
        s.log("x.log.1", "old", 3000, 7200);
        s.link(format!("x.log.1.{suffix}"), &s.victim());
        let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
        let r = run(&[flag], &s.d);
        assert_safe(&r, 0, &s, &outside, &lines);
        assert!(s.d.join("x.log.1").is_file(), "original kept");
        let skip = r.actions(&s.d);
        assert!(
            skip.iter().any(|(a, p, _)| a == "skip" && p == "x.log.1"),
            "{skip:?}"
        );
    }
}

#[test]
fn symlinks_at_every_rotated_name_of_the_next_seconds_are_never_replaced() {
    for mode in ["--copytruncate", "--rename"] {
        let s = Sandbox::new();
        s.log("app.log", "live", 20_000, 0);
        // Plant a symlink at the rotated name of this second and the next few.
        let now = chrono::Utc::now();
        for k in 0..8 {
            let stamp = (now + chrono::TimeDelta::seconds(k)).format("%Y%m%d%H%M%S");
            s.link(format!("app.log.{stamp}"), &s.victim());
        }
        let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
        let links_before: Vec<String> = names(&s.d);
        let r = run(&["--max-size", "10KB", mode], &s.d);
        assert_safe(&r, 0, &s, &outside, &lines);
        for n in links_before.iter().filter(|n| n.as_str() != "app.log") {
            let p = s.d.join(n);
            assert!(
                p.symlink_metadata()
                    .expect("still there")
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(std::fs::read_link(&p).expect("link"), s.victim(), "{n}");
        }
        let rotated = r.actions(&s.d);
        assert!(rotated.iter().any(|(a, _, _)| a == "rotate"), "{rotated:?}");
    }
}

#[test]
fn a_symlinked_log_is_never_compressed_deleted_or_counted() {
    let s = Sandbox::new();
    s.log("app.log", "live", 100, 0);
    s.link("app.log.1", &s.victim());
    s.link("app.log.2.gz", &s.outside.join("secret"));
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(
        &["--compress", "--keep-per-step", "1", "--max-total", "1"],
        &s.d,
    );
    // app.log is the newest of its step: never deleted, so the budget stays exceeded.
    assert_safe(&r, 1, &s, &outside, &lines);
    assert!(s.d.join("app.log.1").symlink_metadata().is_ok());
    assert!(s.d.join("app.log.2.gz").symlink_metadata().is_ok());
}

#[test]
fn a_symlinked_directory_inside_dir_is_never_entered() {
    let s = Sandbox::new();
    let sub = s.outside.join("logs");
    std::fs::create_dir(&sub).expect("dir");
    for i in 0..3 {
        std::fs::write(
            sub.join(format!("old.log.{i}")),
            "outside line\n".repeat(100),
        )
        .expect("w");
    }
    s.link("logs", &sub);
    s.log("app.log", "live", 100, 0);
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(ALL_AT_ONCE, &s.d);
    assert_safe(&r, 1, &s, &outside, &lines);
}

#[test]
fn a_symlink_at_a_leftover_temp_name_is_not_removed_a_regular_leftover_is() {
    let s = Sandbox::new();
    s.log("a.log", "live", 10, 0);
    s.link("a.log.1.gz.tmp", &s.victim());
    s.link(".a.log.1.gz.0123456789abcdef.logrotate-tmp", &s.victim());
    std::fs::write(s.d.join(".b.log.gz.fedcba9876543210.logrotate-tmp"), "half").expect("w");
    let outside = snapshot(&s.outside);
    let r = run(&[], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(snapshot(&s.outside), outside);
    assert!(s.d.join("a.log.1.gz.tmp").symlink_metadata().is_ok());
    assert!(
        s.d.join(".a.log.1.gz.0123456789abcdef.logrotate-tmp")
            .symlink_metadata()
            .is_ok()
    );
    assert!(
        !s.d.join(".b.log.gz.fedcba9876543210.logrotate-tmp")
            .exists()
    );
}

// ---------------------------------------------------------------- FIFOs, hard links, devices

#[test]
fn a_fifo_in_dir_does_not_block_a_pass() {
    let s = Sandbox::new();
    s.log("app.log", "live", 100, 0);
    s.log("app.log.2", "old", 100, 7200);
    mkfifo(&s.d.join("app.log.1"));
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(
        &["--compress", "--keep-per-step", "2", "--max-total", "100KB"],
        &s.d,
    );
    // The FIFO is no file to manage: the pass ran to its end around it, no line lost.
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(
        s.d.join("app.log.1")
            .symlink_metadata()
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    assert!(s.d.join("app.log.2.gz").is_file());
}

#[test]
fn a_fifo_at_the_archive_name_is_never_opened() {
    let s = Sandbox::new();
    s.log("app.log", "live", 100, 0);
    s.log("app.log.1", "old", 3000, 7200);
    mkfifo(&s.d.join("app.log.1.gz"));
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(&["--compress"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(s.d.join("app.log.1").is_file());
}

#[test]
fn a_hard_link_to_a_file_outside_is_never_cut_by_copytruncate() {
    let s = Sandbox::new();
    let outside_log = s.write_outside(
        "shared.log",
        "outside line\n".repeat(5000).as_bytes(),
        0o644,
    );
    std::fs::hard_link(&outside_log, s.d.join("app.log")).expect("hard link");
    let outside = snapshot(&s.outside);
    let r = run(&["--max-size", "10KB", "--copytruncate"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(
        snapshot(&s.outside),
        outside,
        "the outside file was not cut"
    );
    let skip = r.actions(&s.d);
    assert!(
        skip.iter().any(|(a, p, _)| a == "skip" && p == "app.log"),
        "{skip:?}"
    );
}

#[test]
fn compressing_a_hard_linked_file_leaves_the_other_name_intact() {
    let s = Sandbox::new();
    let outside_log = s.write_outside("other.log", "shared line\n".repeat(2000).as_bytes(), 0o640);
    s.log("app.log", "live", 10, 0);
    std::fs::hard_link(&outside_log, s.d.join("app.log.1")).expect("hard link");
    age(&s.d.join("app.log.1"), 7200);
    let outside = snapshot(&s.outside);
    let r = run(&["--compress"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(snapshot(&s.outside), outside);
    assert!(s.d.join("app.log.1.gz").is_file());
}

// ---------------------------------------------------------------- names

#[test]
fn non_utf8_names_are_managed_and_reported_without_loss() {
    let s = Sandbox::new();
    s.log(OsStr::from_bytes(b"bot\xff.log"), "live", 10, 0);
    s.log(OsStr::from_bytes(b"bot\xff.log.1"), "old", 2000, 7200);
    s.log(OsStr::from_bytes(b"bot\xfe.log.1"), "other", 2000, 7200);
    let outside = snapshot(&s.outside);
    // bot\xff and bot\xfe are two steps (a lossy name would make them one, and the older
    // one "beyond --keep-per-step"): each keeps its newest.
    s.log(OsStr::from_bytes(b"bot\xfe.log"), "other-live", 10, 0);
    let lines = all_lines(&s.d);
    let r = run(&["--compress", "--keep-per-step", "2"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(s.d.join(OsStr::from_bytes(b"bot\xff.log.1.gz")).is_file());
    assert!(s.d.join(OsStr::from_bytes(b"bot\xfe.log.1.gz")).is_file());
    let text = String::from_utf8(r.stdout.clone()).expect("utf-8 output");
    assert!(text.contains(r"bot\\xff.log.1"), "{text}");
    assert!(
        !text.contains('\u{fffd}'),
        "never the replacement character: {text}"
    );
}

#[test]
fn a_newline_in_a_name_cannot_split_a_record() {
    let s = Sandbox::new();
    s.log("evil\nname.log", "live", 10, 0);
    s.log("evil\nname.log.1", "old", 500, 7200);
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(&["--compress"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(
        r.actions(&s.d)
            .iter()
            .any(|(a, p, _)| a == "compress" && p == r"evil\nname.log.1")
    );
}

#[test]
fn a_non_utf8_missing_dir_is_exit_2_named_byte_for_byte() {
    let s = Sandbox::new();
    let missing = s.d.join(OsStr::from_bytes(b"no\xffdir"));
    let r = run_in(&[], &missing);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains(r"no\xffdir"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
}

// ---------------------------------------------------------------- retention by the log's time

fn issue_case_2(s: &Sandbox) {
    // bot.log 1 h old, bot.log.1 2 h old, both about 300 KB of incompressible text.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for (name, age_s) in [("bot.log", 3600), ("bot.log.1", 7200)] {
        let mut text = String::new();
        for i in 0..6000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(&format!(
                "{name} {i:06} {x:016x}{:016x}\n",
                x.rotate_left(17)
            ));
        }
        std::fs::write(s.d.join(name), text).expect("w");
        age(&s.d.join(name), age_s);
    }
}

#[test]
fn issue_case_2_and_3_the_newest_log_is_never_deleted_and_the_dry_run_agrees() {
    let (r, s) = dry_equals_real(issue_case_2, &["--compress", "--max-total", "200KB"]);
    assert!(
        s.d.join("bot.log").is_file(),
        "the newest log survives: {:?}",
        names(&s.d)
    );
    assert!(
        r.actions(&s.d)
            .iter()
            .all(|(a, p, _)| !(a == "delete" && p == "bot.log"))
    );
    // bot.log alone is over 200 KB: the budget cannot be met without it: exit 1.
    assert_eq!(r.code(), Some(1));
    assert_eq!(r.summary()["over_budget"], true);
}

#[test]
fn issue_case_2_archive_keeps_the_original_time() {
    let s = Sandbox::new();
    issue_case_2(&s);
    let before = std::fs::metadata(s.d.join("bot.log.1"))
        .expect("m")
        .modified()
        .expect("t");
    let r = run(&["--compress"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let after = std::fs::metadata(s.d.join("bot.log.1.gz"))
        .expect("m")
        .modified()
        .expect("t");
    assert_eq!(before, after);
    let header = std::fs::read(s.d.join("bot.log.1.gz")).expect("gz");
    let mtime = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let secs = before
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("epoch")
        .as_secs();
    assert_eq!(
        u64::from(mtime),
        secs,
        "the gzip header carries the original's mtime"
    );
}

#[test]
fn issue_case_2_keep_per_step_1_after_an_earlier_compress_keeps_the_live_log() {
    let s = Sandbox::new();
    issue_case_2(&s);
    let lines_live: Vec<Vec<u8>> = all_lines(&s.d)
        .into_iter()
        .filter(|l| l.starts_with(b"bot.log "))
        .collect();
    assert_eq!(run(&["--compress"], &s.d).code(), Some(0));
    let r = run(&["--keep-per-step", "1"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(names(&s.d), vec!["bot.log"]);
    assert_lines(&all_lines(&s.d), &lines_live);
}

#[test]
fn dry_run_equals_real_run_on_retention_budget_and_runs() {
    let build = |s: &Sandbox| {
        for run_no in [100, 200, 300] {
            let r = s.d.join(format!("run-{run_no}"));
            std::fs::create_dir(&r).expect("run dir");
            std::fs::write(r.join("metrics.csv"), format!("run {run_no}\n").repeat(200))
                .expect("w");
        }
        for i in 0..6 {
            s.log(format!("app.log.{i}"), &format!("a{i}"), 800, 600 + i * 600);
        }
        s.log("app.log", "live", 800, 0);
        s.log("step01.log", "s1", 400, 5000);
        s.log("step02.log", "s2", 400, 4000);
        std::fs::write(
            s.d.join(".x.log.gz.00000000000000aa.logrotate-tmp"),
            "leftover",
        )
        .expect("w");
    };
    for args in [
        &[
            "--compress",
            "--keep-per-step",
            "3",
            "--keep-runs",
            "2",
            "--max-total",
            "30KB",
        ][..],
        &["--compress=zstd", "--max-total", "1KB"][..],
        &["--keep-per-step", "1", "--max-total", "100MB"][..],
        &["--compress", "--compress-after", "1h"][..],
    ] {
        let (r, s) = dry_equals_real(build, args);
        assert!(
            s.d.join("app.log").is_file(),
            "{args:?}: the live log stays"
        );
        assert!(
            s.d.join("step01.log").exists()
                || s.d.join("step01.log.gz").exists()
                || s.d.join("step01.log.zst").exists()
        );
        assert!(r.code() == Some(0) || r.code() == Some(1));
    }
}

#[test]
fn dry_run_equals_real_run_with_hostile_names_in_the_way() {
    let build = |s: &Sandbox| {
        s.log("x.log", "live", 100, 0);
        s.log("x.log.1", "one", 3000, 3600);
        s.log("x.log.2", "two", 3000, 7200);
        s.link("x.log.1.gz", &s.victim());
        mkfifo(&s.d.join("x.log.3.gz"));
        s.log("x.log.3", "three", 3000, 9000);
    };
    let (r, s) = dry_equals_real(build, &["--compress", "--max-total", "20KB"]);
    // The budget may delete the old logs whose archive name was taken, never what holds the
    // name: the symlink and the FIFO are still there, the outside is untouched.
    assert_eq!(
        std::fs::read_link(s.d.join("x.log.1.gz")).expect("link"),
        s.victim()
    );
    assert!(
        s.d.join("x.log.3.gz")
            .symlink_metadata()
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        std::fs::read(s.victim()).expect("victim"),
        b"root:x:0:0:victim line\n"
    );
    assert!(s.d.join("x.log").is_file());
    assert!(r.code() == Some(0) || r.code() == Some(1));
}

/// The fixtures of this suite that a pass acts on, each with the flags it is run with: the
/// dry run must list exactly what the real run then does on every one of them.
/// A named fixture builder and the flags a pass over it is run with.
type Fixture = (&'static str, fn(&Sandbox), &'static [&'static str]);

fn fixtures() -> Vec<Fixture> {
    vec![
        (
            "symlink at the gzip temp name",
            |s| {
                s.log("x.log", "live", 100, 0);
                s.log("x.log.2", "old", 5000, 7200);
                s.link("x.log.2.gz.tmp", &s.victim());
            },
            &["--compress"],
        ),
        (
            "symlink at the zstd archive name",
            |s| {
                s.log("x.log", "live", 100, 0);
                s.log("x.log.1", "old", 3000, 7200);
                s.link("x.log.1.zst", &s.victim());
            },
            &["--compress=zstd", "--max-total", "1KB"],
        ),
        (
            "FIFO at a log and an archive name",
            |s| {
                s.log("app.log", "live", 100, 0);
                s.log("app.log.2", "old", 100, 7200);
                s.log("app.log.3", "older", 100, 9000);
                mkfifo(&s.d.join("app.log.1"));
                mkfifo(&s.d.join("app.log.3.gz"));
            },
            &["--compress", "--keep-per-step", "3", "--max-total", "100KB"],
        ),
        (
            "hard link to an outside file, copytruncate",
            |s| {
                let outside = s.write_outside(
                    "shared.log",
                    "outside line\n".repeat(5000).as_bytes(),
                    0o644,
                );
                std::fs::hard_link(&outside, s.d.join("app.log")).expect("hard link");
            },
            &["--max-size", "10KB", "--copytruncate"],
        ),
        (
            "live log over --max-size, copytruncate and compress",
            |s| {
                s.log("app.log", "live", 20_000, 0);
                s.log("app.log.1", "old", 2000, 7200);
            },
            &[
                "--max-size",
                "100KB",
                "--copytruncate",
                "--compress",
                "--max-total",
                "10MB",
            ],
        ),
        (
            "live log over --max-size, rename",
            |s| {
                s.log("app.log", "live", 20_000, 0);
            },
            &["--max-size", "100KB", "--rename"],
        ),
        (
            "non-UTF-8 and newline names",
            |s| {
                s.log(OsStr::from_bytes(b"bot\xff.log"), "live", 10, 0);
                s.log(OsStr::from_bytes(b"bot\xff.log.1"), "old", 2000, 7200);
                s.log("evil\nname.log", "live", 10, 0);
                s.log("evil\nname.log.1", "old", 500, 7200);
            },
            &["--compress", "--max-total", "5KB"],
        ),
        (
            "truncated archive beside its original",
            |s| {
                s.log("app.log", "live", 10, 0);
                let old = s.log("app.log.1", "old", 20_000, 7200);
                let gz = gzip(&std::fs::read(&old).expect("r"));
                std::fs::write(s.d.join("app.log.1.gz"), &gz[..gz.len() / 2]).expect("w");
            },
            &["--compress"],
        ),
        (
            "complete archive beside its original (a crash before the removal)",
            |s| {
                s.log("app.log", "live", 10, 3600);
                let old = s.log("app.log.1", "old", 2000, 7200);
                std::fs::write(
                    s.d.join("app.log.1.gz"),
                    gzip(&std::fs::read(&old).expect("r")),
                )
                .expect("w");
            },
            &[
                "--compress",
                "--compress-after",
                "1s",
                "--max-total",
                "40KB",
            ],
        ),
        (
            "foreign archive at the archive name",
            |s| {
                s.log("app.log", "live", 10, 0);
                s.log("app.log.1", "old", 2000, 7200);
                std::fs::write(s.d.join("app.log.1.gz"), gzip(b"someone else's archive\n"))
                    .expect("w");
            },
            &["--compress"],
        ),
        (
            "leftover temporaries, regular and symlinked",
            |s| {
                s.log("a.log", "live", 10, 0);
                s.link("a.log.1.gz.tmp", &s.victim());
                std::fs::write(s.d.join(".b.log.gz.fedcba9876543210.logrotate-tmp"), "half")
                    .expect("w");
                std::fs::write(s.d.join("c.log.zst.tmp"), "old-style leftover").expect("w");
            },
            &[],
        ),
        (
            "symlinked logs and directory",
            |s| {
                s.log("app.log", "live", 100, 0);
                s.link("app.log.1", &s.victim());
                s.link("logs", &s.outside);
            },
            ALL_AT_ONCE,
        ),
        (
            "issue case 2: bot.log and bot.log.1",
            issue_case_2,
            &["--compress", "--max-total", "200KB"],
        ),
        (
            "issue case 2, keep one per step",
            issue_case_2,
            &["--compress", "--keep-per-step", "1"],
        ),
    ]
}

#[test]
fn dry_run_equals_real_run_on_every_fixture() {
    for (name, build, args) in fixtures() {
        eprintln!("fixture: {name}");
        let (real, s) = dry_equals_real(build, args);
        assert!(
            real.code() == Some(0) || real.code() == Some(1),
            "{name}: {}",
            real.stderr
        );
        assert_eq!(
            std::fs::read(s.victim()).expect("victim"),
            b"root:x:0:0:victim line\n",
            "{name}"
        );
    }
}

// ---------------------------------------------------------------- crash leftovers and races

#[test]
fn a_truncated_archive_beside_its_original_is_redone() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    let old = s.log("app.log.1", "old", 20_000, 7200);
    let gz = gzip(&std::fs::read(&old).expect("r"));
    std::fs::write(s.d.join("app.log.1.gz"), &gz[..gz.len() / 2]).expect("truncated");
    let outside = snapshot(&s.outside);
    let lines: Vec<Vec<u8>> = {
        let mut l = all_lines_of_plain(&s.d);
        l.sort();
        l
    };
    let r = run(&["--compress"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(snapshot(&s.outside), outside);
    assert!(!old.exists());
    assert_lines(&all_lines(&s.d), &lines);
}

/// Lines of the plain (uncompressed) files only.
fn all_lines_of_plain(dir: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).expect("list") {
        let p = e.expect("e").path();
        if p.extension().is_some_and(|x| x == "gz" || x == "zst") || !p.is_file() {
            continue;
        }
        let f = std::fs::File::open(&p).expect("open");
        v.extend(BufReader::new(f).split(b'\n').map(|l| l.expect("line")));
    }
    v
}

#[test]
fn an_archive_with_other_content_is_kept_beside_the_original() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    s.log("app.log.1", "old", 2000, 7200);
    std::fs::write(s.d.join("app.log.1.gz"), gzip(b"someone else's archive\n")).expect("w");
    let (outside, lines) = (snapshot(&s.outside), all_lines(&s.d));
    let r = run(&["--compress"], &s.d);
    assert_safe(&r, 0, &s, &outside, &lines);
    assert!(s.d.join("app.log.1").is_file());
}

/// A large old log: long enough to compress that the test can act while it runs.
fn big_log(s: &Sandbox, name: &str, mib: usize) -> PathBuf {
    let p = s.d.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).expect("create"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut written = 0;
    let mut i = 0u64;
    while written < mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let line = format!("{name} {i:010} {x:016x}\n");
        written += line.len();
        f.write_all(line.as_bytes()).expect("w");
        i += 1;
    }
    f.flush().expect("flush");
    drop(f);
    age(&p, 7200);
    p
}

fn temp_file_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.as_os_str().as_bytes().ends_with(b".logrotate-tmp"))
}

fn spawn(args: &[&str], dir: &Path) -> std::process::Child {
    Command::new(BIN)
        .args(args)
        .args(["--format", "jsonl"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn wait_for_temp(dir: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = temp_file_in(dir) {
            return t;
        }
        assert!(Instant::now() < deadline, "no temporary archive appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_file_replaced_while_it_is_compressed_is_kept_and_nothing_is_lost() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    let big = big_log(&s, "app.log.1", 48);
    let child = spawn(&["--compress"], &s.d);
    wait_for_temp(&s.d);
    // Replace the file under compression with a new one of the same name.
    let fresh = s.d.join("fresh.tmpfile");
    std::fs::write(&fresh, "the replacement line\n").expect("w");
    std::fs::rename(&fresh, &big).expect("replace");
    let (status, _) = reap(child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read(&big).expect("kept"),
        b"the replacement line\n"
    );
    assert!(temp_file_in(&s.d).is_none(), "no temporary file left");
    assert!(
        !s.d.join("app.log.1.gz").exists(),
        "the replaced file's archive is not kept"
    );
}

#[test]
fn a_file_deleted_while_it_is_compressed_leaves_no_archive_or_temp() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    let big = big_log(&s, "app.log.1", 48);
    let child = spawn(&["--compress"], &s.d);
    wait_for_temp(&s.d);
    std::fs::remove_file(&big).expect("delete");
    let (status, _) = reap(child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0));
    assert!(temp_file_in(&s.d).is_none());
    assert_eq!(names(&s.d), vec!["app.log"]);
}

#[test]
fn a_signal_mid_compression_stops_within_a_block_keeps_the_original_and_leaves_no_temp() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 128 + libc::SIGTERM)] {
        let s = Sandbox::new();
        s.log("app.log", "live", 10, 0);
        big_log(&s, "app.log.1", 48);
        let lines = all_lines(&s.d);
        let outside = snapshot(&s.outside);
        let child = spawn(&["--compress"], &s.d);
        wait_for_temp(&s.d);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let (status, _) = reap(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(code), "signal {sig}: {status:?}");
        assert!(
            temp_file_in(&s.d).is_none(),
            "the temporary archive was removed"
        );
        assert!(s.d.join("app.log.1").is_file(), "the original is kept");
        assert_lines(&all_lines(&s.d), &lines);
        let r = run(&["--compress"], &s.d);
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        assert_lines(&all_lines(&s.d), &lines);
        assert_eq!(snapshot(&s.outside), outside);
    }
}

#[test]
fn sigkill_mid_compression_loses_nothing_and_the_rerun_cleans_up() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    big_log(&s, "app.log.1", 32);
    let lines = all_lines(&s.d);
    let child = spawn(&["--compress"], &s.d);
    wait_for_temp(&s.d);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let (status, _) = reap(child, Duration::from_secs(60));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_lines(&all_lines_without_temps(&s.d), &lines);
    let r = run(&["--compress"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(temp_file_in(&s.d).is_none());
    assert_lines(&all_lines(&s.d), &lines);
}

/// Lines of every file but this tool's temporary ones.
fn all_lines_without_temps(dir: &Path) -> Vec<Vec<u8>> {
    let copy = tempfile::tempdir().expect("tmp");
    for e in std::fs::read_dir(dir).expect("list") {
        let p = e.expect("e").path();
        if p.is_file() && !p.as_os_str().as_bytes().ends_with(b".logrotate-tmp") {
            std::fs::copy(&p, copy.path().join(p.file_name().expect("name"))).expect("copy");
        }
    }
    all_lines(copy.path())
}

// ---------------------------------------------------------------- output, signals, flags

#[test]
fn a_closed_stdout_does_not_change_the_verdict() {
    let s = Sandbox::new();
    // Enough records (400) to overflow the pipe's 64 KiB while nobody reads.
    for i in 0..200 {
        s.log(format!("app.log.{i}"), &format!("r{i}"), 20, 100 + i * 10);
    }
    s.log("app.log", "live", 5000, 0);
    let mut child = spawn(&["--compress", "--max-total", "10KB"], &s.d);
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("one line");
    // The reader is gone (`| head -1`).
    let (status, _) = reap(child, Duration::from_secs(60));
    assert!(first.contains("\"type\":\"action\""), "{first}");
    assert_eq!(
        status.code(),
        Some(1),
        "still over budget: the verdict, not 0"
    );
    assert_eq!(names(&s.d), vec!["app.log"], "the pass went on to its end");
}

#[test]
fn zero_intervals_zero_counts_and_malformed_patterns_are_usage_errors() {
    let s = Sandbox::new();
    for args in [
        &["--watch", "0s"][..],
        &["--watch", "0"][..],
        &["--watch=-5s"][..],
        &["--keep-per-step", "0"][..],
        &["--keep-runs", "0"][..],
        &["--watch", "soon"][..],
        &["--exclude", "[summary"][..],
        &["--step-pattern", "(unclosed"][..],
        &["--step-pattern", "no-step-group"][..],
        &["--max-size", "10MB"][..],
    ] {
        let r = run(args, &s.d);
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn sigint_in_watch_is_130_and_sigterm_is_the_verdict() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 0)] {
        let s = Sandbox::new();
        s.log("app.log", "live", 10, 0);
        let mut child = spawn(&["--watch", "1h"], &s.d);
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut first).expect("first pass");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let (status, _) = reap(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(code), "signal {sig}");
    }
}

#[test]
fn memory_stays_bounded_compressing_a_large_file_and_a_huge_line() {
    let s = Sandbox::new();
    s.log("app.log", "live", 10, 0);
    big_log(&s, "app.log.1", 64);
    // One 32 MiB line without a newline.
    let huge = s.d.join("blob.log.1");
    std::fs::write(&huge, vec![b'x'; 32 << 20]).expect("w");
    s.log("blob.log", "live", 1, 0);
    age(&huge, 7200);
    let lines = all_lines(&s.d);
    let r = run(&["--compress"], &s.d);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_lines(&all_lines(&s.d), &lines);
    // Streaming: far below the 96 MiB of input (generous bound: rayon threads, buffers).
    assert!(r.peak_rss_kib > 0, "VmHWM was read");
    assert!(
        r.peak_rss_kib < 48 * 1024,
        "peak RSS {} KiB",
        r.peak_rss_kib
    );
    eprintln!("peak RSS compressing 96 MiB: {} KiB", r.peak_rss_kib);
}

#[test]
fn archives_and_rotated_parts_keep_the_originals_owner_and_mode() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: changing a file's owner to another user needs root");
        return;
    }
    let s = Sandbox::new();
    s.log("app.log", "live", 20_000, 0);
    let old = s.log("app.log.1", "old", 2000, 7200);
    for p in [&old, &s.d.join("app.log")] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).expect("chown");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    let lines = all_lines(&s.d);
    let r = run(
        &["--compress", "--max-size", "10KB", "--copytruncate"],
        &s.d,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_lines(&all_lines(&s.d), &lines);
    for e in std::fs::read_dir(&s.d).expect("list") {
        let m = e.expect("e").metadata().expect("m");
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (65534, 65534, 0o640));
    }
    assert_eq!(
        names(&s.d).len(),
        3,
        "live, rotated part, archive: {:?}",
        names(&s.d)
    );
}
