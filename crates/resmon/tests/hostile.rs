//! Hostile inputs for resmon (issue 16): bad listen addresses and busy ports, zero and
//! negative intervals, SIGINT versus SIGTERM, non-UTF-8 arguments and paths, outputs planted
//! as symlinks, a closed stdout with a launched command, and bounded memory. Each case runs
//! the real binary and asserts the exit code, the one-line error, and that nothing outside the
//! test's directory changed.
#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_resmon");

fn resmon(args: &[&OsStr]) -> Output {
    soak_testkit::run(BIN, args)
}

fn resmon_str(args: &[&str]) -> Output {
    soak_testkit::run(BIN, args)
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn finish(child: Child, guard: Duration) -> (std::process::ExitStatus, u64) {
    soak_testkit::wait_with_peak_rss(child, guard, "resmon")
}

#[test]
fn issue_listen_notanaddr_is_exit_2_before_any_output() {
    let d = tempfile::tempdir().expect("tmp");
    let out = d.path().join("res.jsonl");
    for addr in [
        "notanaddr",
        "127.0.0.1",
        "127.0.0.1:99999",
        "host name:80",
        ":9464",
        "",
    ] {
        let o = resmon(&[
            OsStr::new("--listen"),
            OsStr::new(addr),
            OsStr::new("-n"),
            OsStr::new("1"),
            OsStr::new("-o"),
            out.as_os_str(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{addr:?}: {}",
            soak_testkit::stderr(&o)
        );
        assert!(
            soak_testkit::stderr(&o).contains("--listen"),
            "{}",
            soak_testkit::stderr(&o)
        );
        assert!(!out.exists(), "nothing written for {addr:?}");
    }
}

#[test]
fn a_bad_listen_address_is_one_line_naming_the_flag_and_the_value() {
    let o = resmon(&[
        OsStr::new("--listen"),
        OsStr::new("host name:80"),
        OsStr::new("-n"),
        OsStr::new("1"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", soak_testkit::stderr(&o));
    assert!(o.stdout.is_empty(), "no sample before the usage error");
    soak_testkit::assert_one_line_error(&o, "--listen");
    let err = soak_testkit::stderr(&o);
    assert!(err.contains("host name:80"), "{err}");
    assert!(err.contains("expected IP:PORT"), "{err}");
}

#[test]
fn listen_on_a_busy_port_is_exit_3() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let o = resmon_str(&["--listen", &addr, "-n", "1", "-i", "100ms"]);
    assert_eq!(o.status.code(), Some(3), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, &addr);
}

#[test]
fn zero_and_negative_intervals_and_durations_are_exit_2() {
    for args in [
        &["--interval", "0s"][..],
        &["--interval", "0"][..],
        &["--interval", "0ms"][..],
        &["--interval=-1s"][..],
        &["--duration", "0s"][..],
        &["--duration=-5m"][..],
        &["--count", "0"][..],
        &["--pss-every", "0"][..],
    ] {
        let o = resmon_str(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            soak_testkit::stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

fn spawn_to(out: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--interval", "100ms", "-o"])
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn resmon")
}

fn wait_for_samples(out: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while records(out)
        .iter()
        .filter(|r| r["type"] == "sample")
        .count()
        < n
    {
        assert!(Instant::now() < deadline, "no samples");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn issue_sigint_is_130_sigterm_and_sighup_are_0_each_after_the_stop_event() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 0), (libc::SIGHUP, 0)] {
        let d = tempfile::tempdir().expect("tmp");
        let out = d.path().join("res.jsonl");
        let child = spawn_to(&out, &[]);
        wait_for_samples(&out, 1);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let (status, _) = finish(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(code), "signal {sig}");
        let recs = records(&out);
        let stop = recs.last().expect("stop");
        assert_eq!(stop["event"], "stop");
        assert_eq!(stop["reason"], "signal");
        assert_eq!(stop["exit_code"], code);
    }
}

#[test]
fn sigint_with_a_launched_command_stops_it_and_exits_130() {
    let d = tempfile::tempdir().expect("tmp");
    let out = d.path().join("res.jsonl");
    let child = spawn_to(&out, &["--", "sleep", "300"]);
    wait_for_samples(&out, 1);
    let pid = records(&out)
        .iter()
        .find(|r| r["event"] == "start")
        .and_then(|r| r["pid"].as_i64())
        .expect("the command's pid");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (status, _) = finish(child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(130));
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "the command was stopped"
    );
}

#[test]
fn a_closed_stdout_ends_the_run_and_stops_the_launched_command() {
    let marker = format!("resmon-hostile-{}", std::process::id());
    let mut child = Command::new(BIN)
        .args(["--interval", "50ms", "--", "bash", "-c"])
        .arg(format!("exec -a {marker} sleep 300"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    // `| head -1`: the reader is gone now.
    let mut err = child.stderr.take().expect("stderr");
    let (status, _) = finish(child, Duration::from_secs(60));
    let mut text = String::new();
    let _ = err.read_to_string(&mut text);
    assert!(first.contains("\"event\":\"start\""), "{first}");
    assert_eq!(status.code(), Some(0), "a closed pipe is no error: {text}");
    let left = std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.starts_with(marker.as_bytes()))
        })
        .count();
    assert_eq!(left, 0, "the launched command was not left running");
}

#[test]
fn non_utf8_arguments_and_paths_never_panic_and_are_kept_byte_for_byte() {
    let d = tempfile::tempdir().expect("tmp");
    let watched = d.path().join(OsStr::from_bytes(b"lo\xffgs"));
    std::fs::create_dir(&watched).expect("dir");
    std::fs::write(watched.join("a.log"), vec![b'x'; 4096]).expect("w");
    let out = d.path().join(OsStr::from_bytes(b"res\xfe.jsonl"));
    let o = resmon(&[
        OsStr::new("-n"),
        OsStr::new("1"),
        OsStr::new("-i"),
        OsStr::new("100ms"),
        OsStr::new("--watch-path"),
        watched.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", soak_testkit::stderr(&o));
    let recs = records(&out);
    let start = recs.iter().find(|r| r["event"] == "start").expect("start");
    let text = start.to_string();
    assert!(text.contains(r"lo\\xffgs"), "{text}");
    assert!(text.contains(r"res\\xfe.jsonl"), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
    let sample = recs.iter().find(|r| r["type"] == "sample").expect("sample");
    let size = sample
        .as_object()
        .expect("object")
        .iter()
        .find(|(k, _)| k.starts_with("watch_"))
        .and_then(|(_, v)| v.as_u64());
    assert!(size.is_some_and(|s| s >= 4096), "{sample}");
}

#[test]
fn a_missing_non_utf8_pid_file_is_exit_2_named_byte_for_byte() {
    let d = tempfile::tempdir().expect("tmp");
    let pid_file = d.path().join(OsStr::from_bytes(b"svc\xff.pid"));
    let o = resmon(&[
        OsStr::new("--pid-file"),
        pid_file.as_os_str(),
        OsStr::new("-n"),
        OsStr::new("1"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, r"svc\xff.pid");
}

#[test]
fn a_pid_file_that_is_a_fifo_a_device_or_garbage_is_exit_2_without_hanging_or_growing() {
    let d = tempfile::tempdir().expect("tmp");
    let fifo = d.path().join("svc.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("fifo");
    let garbage = d.path().join("garbage.pid");
    std::fs::write(&garbage, b"\xff\xfe not a pid").expect("w");
    let words = d.path().join("words.pid");
    std::fs::write(&words, "pid=12\n").expect("w");
    for path in [fifo.as_path(), Path::new("/dev/zero"), &garbage, &words] {
        let child = Command::new(BIN)
            .arg("--pid-file")
            .arg(path)
            .args(["-n", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (status, peak) = finish(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(2), "{}", path.display());
        assert!(peak < 64 * 1024, "{}: peak RSS {peak} KiB", path.display());
    }
}

#[test]
fn an_output_planted_as_a_symlink_is_refused_and_its_target_untouched() {
    let d = tempfile::tempdir().expect("tmp");
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("w");
    let out = d.path().join("res.jsonl");
    std::os::unix::fs::symlink(&victim, &out).expect("link");
    let o = resmon(&[
        OsStr::new("-n"),
        OsStr::new("1"),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, "res.jsonl");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious\n");
}

#[test]
fn an_unwritable_output_says_the_os_error_once() {
    let d = tempfile::tempdir().expect("tmp");
    let plain = d.path().join("plain");
    std::fs::write(&plain, "x").expect("w");
    let out = plain.join("res.jsonl");
    let o = resmon(&[
        OsStr::new("-n"),
        OsStr::new("1"),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, "res.jsonl");
    assert_eq!(
        soak_testkit::stderr(&o).matches("os error").count(),
        1,
        "{}",
        soak_testkit::stderr(&o)
    );
}

#[test]
fn a_textfile_planted_as_a_symlink_is_replaced_never_written_through() {
    let d = tempfile::tempdir().expect("tmp");
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("w");
    let textfile = d.path().join("resmon.prom");
    std::os::unix::fs::symlink(&victim, &textfile).expect("link");
    let o = resmon(&[
        OsStr::new("-n"),
        OsStr::new("2"),
        OsStr::new("-i"),
        OsStr::new("100ms"),
        OsStr::new("--prom-textfile"),
        textfile.as_os_str(),
        OsStr::new("-o"),
        d.path().join("res.jsonl").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", soak_testkit::stderr(&o));
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious\n");
    let meta = textfile.symlink_metadata().expect("textfile");
    assert!(
        meta.is_file(),
        "the textfile is now a regular file of its own"
    );
    assert!(
        std::fs::read_to_string(&textfile)
            .expect("read")
            .contains("resmon_")
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().as_bytes().ends_with(b".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");
}

#[test]
fn memory_stays_bounded_over_many_samples() {
    let d = tempfile::tempdir().expect("tmp");
    let out = d.path().join("res.jsonl");
    let child = Command::new(BIN)
        .args(["-i", "10ms", "-n", "300", "--no-tree", "--watch-path"])
        .arg(d.path())
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (status, peak) = finish(child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        records(&out)
            .iter()
            .filter(|r| r["type"] == "sample")
            .count(),
        300
    );
    assert!(peak > 0 && peak < 32 * 1024, "peak RSS {peak} KiB");
}
