//! Support for the cross-tool tests: finding the tools' binaries.
//!
//! A top-level test package gets `CARGO_BIN_EXE_<name>` only for its own binaries, so the tools
//! are found next to the test executable (`target/<profile>/deps/..`). `cargo test --workspace`
//! builds them first: every tool crate has integration tests, and cargo builds a package's
//! binaries before running its integration tests.

use std::path::PathBuf;

/// The path of a workspace binary built by the same `cargo test` run.
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}
