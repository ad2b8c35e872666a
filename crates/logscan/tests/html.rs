//! `logscan --html FILE` is created exclusively: an existing file or a symlink planted at the
//! name (dangling or not) is refused with exit 2 naming it, before the log is read, and nothing
//! is written through it. (The page itself is checked in a real browser in
//! `real_software.rs`.)

use std::path::Path;
use std::process::Output;

fn logscan_html(log: &Path, page: &Path) -> Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .arg(log)
        .args(["--format", "json", "--html"])
        .arg(page)
        .output()
        .expect("run logscan")
}

#[test]
fn the_page_is_never_written_over_a_file_or_through_a_symlink() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("service.log");
    std::fs::write(
        &log,
        "2026-01-02 03:04:05 ERROR websocket connection lost\n2026-01-02 03:04:06 INFO ok\n",
    )
    .expect("log");

    let existing = dir.path().join("existing.html");
    std::fs::write(&existing, "keep").expect("write");
    let out = logscan_html(&log, &existing);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("existing.html") && err.contains("already exists"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "refused before any scanning");
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep");

    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, "keep").expect("write");
    let planted = dir.path().join("planted.html");
    std::os::unix::fs::symlink(&target, &planted).expect("symlink");
    let out = logscan_html(&log, &planted);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("planted.html"));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");

    let dangling = dir.path().join("dangling.html");
    std::os::unix::fs::symlink(dir.path().join("nowhere.html"), &dangling).expect("symlink");
    assert_eq!(logscan_html(&log, &dangling).status.code(), Some(2));
    assert!(!dir.path().join("nowhere.html").exists());

    // A fresh name is created, and holds the page.
    let fresh = dir.path().join("fresh.html");
    let out = logscan_html(&log, &fresh);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1));
    let page = std::fs::read_to_string(&fresh).expect("page");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains(r#"id="chart-events""#));
}
