//! A page opened in Debian's Chromium, headless: what the tests of every tool that writes a
//! page (`cargo xtask report`, `resanalyze --html`, `logscan --html`) check the DOM of.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `chromium` (or `chromium-browser`) on `PATH`, or `None`.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Headless Chromium with a fresh profile in `profile` and a resolver that resolves nothing;
/// the caller adds the page and what to dump.
pub fn headless(exe: &Path, profile: &Path) -> Command {
    let mut c = Command::new(exe);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    c
}

/// The DOM of `page` after Chromium loaded and laid it out (`--dump-dom`), with a fresh
/// profile in `profile`.
pub fn dump_dom(exe: &Path, page: &Path, profile: &Path) -> std::io::Result<String> {
    let out = headless(exe, profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "chromium failed on {}: {}",
            page.display(),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
