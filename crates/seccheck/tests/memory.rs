//! Memory stays bounded on hostile input (issue 16 point 5): a 192 MiB sparse hole without a
//! line break, then a key, is read in constant memory and the key is still found on line 1.
//! Alone in its test binary, so the children's peak RSS is this run's.

// getrusage(RUSAGE_CHILDREN) measures the children's peak RSS: Unix only.
#![cfg(unix)]

use std::io::Write;

#[test]
fn a_huge_hole_without_a_newline_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("bot.log");
    let hole: u64 = 192 << 20;
    let f = std::fs::File::create(&log).expect("create");
    f.set_len(hole).expect("sparse hole");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    write!(f, " boto key id AKIAZ7Q2M4R8T6W3Y5UX").expect("write");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("seccheck"))
        .args(["secrets", "--format", "jsonl"])
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"kind\":\"aws_access_key_id\"") && text.contains("\"line\":1,"),
        "{text}"
    );
    // SAFETY: getrusage only writes the struct it is given.
    let peak_kb = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut u), 0);
        u.ru_maxrss
    };
    println!(
        "peak RSS of seccheck: {} MB for a {} MB line",
        peak_kb / 1024,
        hole >> 20
    );
    assert!(
        peak_kb < 160 * 1024,
        "peak RSS {peak_kb} kB: the whole line was held"
    );
}
