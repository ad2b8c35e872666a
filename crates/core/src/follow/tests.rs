//! The follower against real files changed between polls: every OS (these run under wine too).

use super::*;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn collect(f: &mut Follower) -> Vec<String> {
    let mut out = Vec::new();
    f.poll(&mut |_, l| out.push(String::from_utf8_lossy(l).into_owned()))
        .expect("poll");
    out
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for appending")
}

#[test]
fn partial_lines_wait_for_their_newline_and_crlf_is_tolerated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut f = Follower::new(&path);
    assert!(collect(&mut f).is_empty(), "a missing file is waited for");
    let mut w = append(&path);
    w.write_all(b"one\r\ntw").expect("write");
    assert_eq!(collect(&mut f), ["one"]);
    assert!(collect(&mut f).is_empty(), "the partial line is held");
    w.write_all(b"o\r\n\r\nthree\n").expect("write");
    assert_eq!(collect(&mut f), ["two", "", "three"]);
    w.write_all(b"no newline yet").expect("write");
    assert!(collect(&mut f).is_empty());
    let mut last = Vec::new();
    f.finish(&mut |n, l| last.push((n, l.to_vec())));
    assert_eq!(
        last,
        [(5, b"no newline yet".to_vec())],
        "handed on once the writer is gone"
    );
}

#[test]
fn invalid_utf8_is_handed_on_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bin.log");
    std::fs::write(&path, b"caf\xe9 \xff\xfe\nok\n").expect("write");
    let mut f = Follower::new(&path);
    let mut got = Vec::new();
    f.poll(&mut |n, l| got.push((n, l.to_vec()))).expect("poll");
    assert_eq!(
        got,
        [(1, b"caf\xe9 \xff\xfe".to_vec()), (2, b"ok".to_vec())]
    );
}

#[test]
fn a_rename_is_followed_without_losing_what_the_writer_still_puts_in_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut old = append(&path);
    old.write_all(b"1\n").expect("write");
    let mut f = Follower::new(&path);
    assert_eq!(collect(&mut f), ["1"]);
    // logrotate's create mode: renamed, a new empty file made, the writer not yet told.
    std::fs::rename(&path, dir.path().join("app.log.1")).expect("rename");
    File::create(&path).expect("create the new file");
    old.write_all(b"2\n").expect("write");
    assert_eq!(collect(&mut f), ["2"]);
    old.write_all(b"3\npart").expect("write");
    assert_eq!(collect(&mut f), ["3"]);
    // The writer reopens: its last partial line in the old file is complete, then the new.
    old.write_all(b"ial").expect("write");
    drop(old);
    let mut new = append(&path);
    new.write_all(b"4\n").expect("write");
    assert_eq!(collect(&mut f), ["partial", "4"]);
    new.write_all(b"5\n").expect("write");
    assert_eq!(collect(&mut f), ["5"]);
    assert_eq!(f.rotations(), 1);
}

#[test]
fn a_rename_with_no_new_file_yet_keeps_reading_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut old = append(&path);
    old.write_all(b"a\n").expect("write");
    let mut f = Follower::new(&path);
    assert_eq!(collect(&mut f), ["a"]);
    std::fs::rename(&path, dir.path().join("app.log.1")).expect("rename");
    old.write_all(b"b\n").expect("write");
    assert_eq!(collect(&mut f), ["b"]);
    drop(old);
    append(&path).write_all(b"c\n").expect("write");
    assert_eq!(collect(&mut f), ["c"]);
}

#[test]
fn two_renames_before_the_writer_moves_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut old = append(&path);
    old.write_all(b"1\n").expect("write");
    let mut f = Follower::new(&path);
    assert_eq!(collect(&mut f), ["1"]);
    // Rotated twice (app.log.2, app.log.1), each time a new empty file made, before the
    // writer reopens.
    std::fs::rename(&path, dir.path().join("app.log.2")).expect("rename");
    File::create(&path).expect("create");
    assert!(collect(&mut f).is_empty());
    std::fs::rename(&path, dir.path().join("app.log.1")).expect("rename");
    File::create(&path).expect("create");
    old.write_all(b"2\n").expect("write");
    assert_eq!(collect(&mut f), ["2"]);
    old.write_all(b"3\n").expect("write");
    drop(old);
    append(&path).write_all(b"4\n").expect("write");
    assert_eq!(collect(&mut f), ["3", "4"]);
    assert_eq!(f.rotations(), 2);
}

#[test]
fn truncation_restarts_at_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut w = append(&path);
    w.write_all(b"one\ntwo\npart").expect("write");
    let mut f = Follower::new(&path);
    assert_eq!(collect(&mut f), ["one", "two"]);
    // logrotate(8)'s copytruncate: cut to zero; the writer appends on.
    w.set_len(0).expect("truncate");
    w.write_all(b"three\n").expect("write");
    assert_eq!(
        collect(&mut f),
        ["three"],
        "the cut partial line is forgotten"
    );
    assert_eq!(f.rotations(), 1);
    // Cut and written past the old length between two polls: the content moved.
    w.set_len(0).expect("truncate");
    w.write_all(b"four, longer than what was there\n")
        .expect("write");
    assert_eq!(collect(&mut f), ["four, longer than what was there"]);
    assert_eq!(f.rotations(), 2);
}

#[test]
fn a_collapsed_prefix_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let text: String = (0..400).map(|i| format!("line {i:05}\n")).collect();
    std::fs::write(&path, &text).expect("write");
    let mut f = Follower::new(&path);
    assert_eq!(collect(&mut f).len(), 400);
    // What FALLOC_FL_COLLAPSE_RANGE leaves: the same inode, its first 2048 bytes gone, the
    // rest moved to the front; then the writer appends.
    let mut w = OpenOptions::new().write(true).open(&path).expect("open");
    w.set_len(0).expect("cut");
    w.write_all(&text.as_bytes()[2048..]).expect("rewrite");
    w.write_all(b"line 00400\nline 00401\n").expect("append");
    assert_eq!(collect(&mut f), ["line 00400", "line 00401"]);
    assert_eq!(f.rotations(), 1);
}

#[test]
fn an_over_long_line_is_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut w = append(&path);
    let mut f = Follower::new(&path).with_max_line(8);
    w.write_all(b"short\n0123456789").expect("write");
    assert_eq!(collect(&mut f), ["short"]);
    w.write_all(b"more of it\n12345678\n123456789\nend\n")
        .expect("write");
    let mut got = Vec::new();
    let n = f.poll(&mut |n, l| got.push((n, l.to_vec()))).expect("poll");
    assert_eq!(got, [(3, b"12345678".to_vec()), (5, b"end".to_vec())]);
    assert_eq!(n, 4, "dropped lines count as read");
    assert_eq!(f.too_long(), 2);
}

#[test]
fn a_big_file_is_read_in_quotas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.log");
    let line = [b'x'; 1023];
    let mut w = append(&path);
    let lines = (POLL_QUOTA / 1024) + 10;
    for _ in 0..lines {
        w.write_all(&line).expect("write");
        w.write_all(b"\n").expect("write");
    }
    let mut f = Follower::new(&path);
    let first = collect(&mut f).len() as u64;
    assert!(f.more_waiting());
    assert!(first < lines);
    let rest = collect(&mut f).len() as u64;
    assert!(!f.more_waiting());
    assert_eq!(first + rest, lines);
}

#[test]
fn typed_records_come_from_complete_lines() {
    #[derive(Debug, serde::Deserialize)]
    struct A {
        a: u64,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.jsonl");
    let mut f = Follower::new(&path);
    assert!(
        f.poll_records::<A>().expect("poll").is_empty(),
        "missing file"
    );
    let mut w = append(&path);
    write!(w, "{{\"a\":1}}\r\n{{\"a\":").expect("write");
    assert_eq!(f.poll_records::<A>().expect("poll").len(), 1);
    write!(w, "2}}\nnot json\n{{\"b\":3}}\n").expect("write");
    let v = f.poll_records::<A>().expect("poll");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].a, 2);
}

#[test]
fn the_writer_saying_done_stops_after_one_more_poll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let done = AtomicBool::new(false);
    let until = Until::every(Duration::from_millis(1)).writer_done(&done);
    let mut w = append(&path);
    w.write_all(b"a\nb\nstop\nlate\nno newline").expect("write");
    let mut f = Follower::new(&path);
    let mut got = Vec::new();
    let stop = f
        .follow(&until, &mut |_, l| {
            if l == b"stop" {
                done.store(true, Ordering::SeqCst);
            }
            got.push(String::from_utf8_lossy(l).into_owned());
        })
        .expect("follow");
    assert_eq!(stop, Stop::WriterDone);
    assert_eq!(got, ["a", "b", "stop", "late", "no newline"]);
}

#[test]
fn a_deadline_and_idleness_stop_a_follow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("never.log");
    let mut f = Follower::new(&path);
    let until = Until::every(Duration::from_millis(1)).deadline(Instant::now());
    assert_eq!(
        f.follow(&until, &mut |_, _| {}).expect("follow"),
        Stop::Deadline
    );
    let until = Until::every(Duration::from_millis(1)).idle(Duration::from_millis(20));
    assert_eq!(
        f.follow(&until, &mut |_, _| {}).expect("follow"),
        Stop::Idle
    );
}

#[cfg(unix)]
#[test]
fn the_writer_process_exiting_stops_after_its_last_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf 'x\\ny\\nlast' >> \"$0\"")
        .arg(&path)
        .spawn()
        .expect("sh");
    let pid = i32::try_from(child.id()).expect("pid");
    // Reaped first: the PID no longer runs (a zombie would count as exited too).
    assert!(child.wait().expect("wait").success());
    let mut f = Follower::new(&path);
    let until = Until::every(Duration::from_millis(1)).writer_pid(pid);
    let mut got = Vec::new();
    let stop = f
        .follow(&until, &mut |_, l| got.push(l.to_vec()))
        .expect("follow");
    assert_eq!(stop, Stop::WriterExited);
    assert_eq!(got, [b"x".to_vec(), b"y".to_vec(), b"last".to_vec()]);
}

#[cfg(unix)]
#[test]
fn a_fifo_ends_when_its_writer_closes_it_and_a_device_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("live.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils)");
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, b"1\n2\n3").expect("write fifo"))
    };
    let mut f = Follower::new(&fifo);
    let mut got = Vec::new();
    let stop = f
        .follow(&Until::every(Duration::from_millis(1)), &mut |_, l| {
            got.push(l.to_vec())
        })
        .expect("follow");
    writer.join().expect("writer");
    assert_eq!(stop, Stop::StreamEnded);
    assert_eq!(got, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    let err = Follower::new("/dev/null")
        .poll(&mut |_, _| {})
        .expect_err("a device");
    assert!(matches!(err, FollowError::DeviceOrSocket), "{err}");
}
