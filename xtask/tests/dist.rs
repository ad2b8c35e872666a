//! `cargo xtask dist` and `cargo xtask install` on the workspace's real binaries: the archive
//! checked with GNU tar and coreutils' sha256sum, extracted and run; the install under a
//! temporary prefix, renamed or not, with the logrotate(8) shadowing warning.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::bin_dir;

const TOOLS: [&str; 9] = [
    "resmon",
    "resanalyze",
    "logscan",
    "logrotate",
    "zombiereap",
    "orphan-cancel",
    "exchange-sim",
    "seccheck",
    "soak-demo",
];

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.env_remove("SOAKKIT_RENAME_LOGROTATE");
    c
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
        {
            let p = e.path();
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).expect("under").display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// What a tool puts below a prefix (and below the archive's top directory).
fn prefix_files(tool: &str) -> [String; 5] {
    [
        format!("bin/{tool}"),
        format!("share/bash-completion/completions/{tool}"),
        format!("share/zsh/site-functions/_{tool}"),
        format!("share/fish/vendor_completions.d/{tool}.fish"),
        format!("share/man/man1/{tool}.1"),
    ]
}

#[test]
fn dist_writes_an_archive_tar_and_sha256sum_accept() {
    let out_dir = tempfile::tempdir().expect("tmp");
    let target = "x86_64-unknown-linux-gnu";
    let printed = ok(
        &xtask()
            .args(["dist", "--target", target, "--bin-dir"])
            .arg(bin_dir())
            .arg("--out")
            .arg(out_dir.path())
            .output()
            .expect("xtask dist"),
        "xtask dist",
    );
    let name = format!("soakkit-{}-{target}", env!("CARGO_PKG_VERSION"));
    let archive = out_dir.path().join(format!("{name}.tar.gz"));
    let sum = out_dir.path().join(format!("{name}.tar.gz.sha256"));
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [archive.display().to_string(), sum.display().to_string()]
    );
    // Nothing else is left in the output directory (no partial files).
    assert_eq!(files_under(out_dir.path()).len(), 2);

    // coreutils checks the checksum file as written; a changed byte fails it.
    let check = |dir: &Path| {
        Command::new("sha256sum")
            .args(["--check", "--strict"])
            .arg(sum.file_name().expect("name"))
            .current_dir(dir)
            .output()
            .expect("sha256sum")
    };
    ok(&check(out_dir.path()), "sha256sum --check");
    let mut bytes = std::fs::read(&archive).expect("archive");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let tampered = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tampered.path().join(archive.file_name().expect("name")),
        &bytes,
    )
    .expect("write");
    std::fs::copy(&sum, tampered.path().join(sum.file_name().expect("name"))).expect("copy");
    assert!(
        !check(tampered.path()).status.success(),
        "a tampered archive passed sha256sum"
    );

    // GNU tar extracts it; every binary runs; each has its completions and man page.
    let unpacked = tempfile::tempdir().expect("tmp");
    ok(
        &Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(unpacked.path())
            .output()
            .expect("tar"),
        "tar -xzf",
    );
    let top = unpacked.path().join(&name);
    let files = files_under(&top);
    for doc in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(files.contains(&doc.to_string()), "{doc} missing: {files:?}");
    }
    for tool in TOOLS {
        for want in prefix_files(tool) {
            assert!(files.contains(&want), "{want} missing from the archive");
        }
        let version = ok(
            &Command::new(top.join("bin").join(tool))
                .arg("--version")
                .output()
                .expect("run"),
            tool,
        );
        assert!(
            version.contains(env!("CARGO_PKG_VERSION")),
            "{tool}: {version}"
        );
    }
    // Subcommands get their own pages, as git's do.
    assert!(files.contains(&"share/man/man1/zombiereap-kill-tree.1".to_string()));
    let mode = std::fs::metadata(top.join("bin/resmon")).expect("meta");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o755
    );
}

#[test]
fn dist_refuses_a_bin_dir_without_the_tools() {
    let empty = tempfile::tempdir().expect("tmp");
    let out = xtask()
        .args(["dist", "--bin-dir"])
        .arg(empty.path())
        .arg("--out")
        .arg(empty.path().join("out"))
        .output()
        .expect("xtask");
    assert_eq!(out.status.code(), Some(2), "bad --bin-dir is bad input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not built") && err.contains(&empty.path().display().to_string()),
        "{err}"
    );
    assert!(!empty.path().join("out").exists());
}

fn install(prefix: &Path, path_var: &str) -> Command {
    let mut c = xtask();
    c.args(["install", "--bin-dir"])
        .arg(bin_dir())
        .arg("--prefix")
        .arg(prefix)
        .env("PATH", path_var);
    c
}

#[test]
fn install_puts_everything_under_the_prefix_and_warns_about_logrotate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let prefix = tmp.path().join("prefix");
    let prefix_bin = prefix.join("bin");
    // A symlink where a binary goes is replaced, never written through.
    std::fs::create_dir_all(&prefix_bin).expect("bin");
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me").expect("victim");
    std::os::unix::fs::symlink(&victim, prefix_bin.join("resmon")).expect("symlink");

    let path_var = format!("{}:/usr/sbin:/usr/bin:/bin", prefix_bin.display());
    let out = install(&prefix, &path_var).output().expect("install");
    let printed = ok(&out, "xtask install");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("logrotate(8)") && err.contains("soak-logrotate"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep me");
    assert!(
        !std::fs::symlink_metadata(prefix_bin.join("resmon"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );

    let files = files_under(&prefix);
    assert_eq!(printed.lines().count(), files.len(), "{printed}");
    for tool in TOOLS {
        for want in prefix_files(tool) {
            assert!(files.contains(&want), "{want} not installed: {files:?}");
        }
    }
    // The installed binary is the built one, and runs.
    assert_eq!(
        std::fs::read(prefix_bin.join("logscan")).expect("installed"),
        std::fs::read(bin_dir().join("logscan")).expect("built")
    );
    ok(
        &Command::new(prefix_bin.join("logscan"))
            .arg("--version")
            .output()
            .expect("run"),
        "logscan",
    );

    // After /usr/sbin on PATH, logrotate(8) still wins: no warning. Installing again over the
    // first install works (files are replaced).
    let after = format!("/usr/sbin:/usr/bin:/bin:{}", prefix_bin.display());
    let out = install(&prefix, &after).output().expect("install");
    ok(&out, "second install");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn install_renamed_keeps_logrotate8s_name() {
    let tmp = tempfile::tempdir().expect("tmp");
    let prefix = tmp.path().join("p");
    let path_var = format!("{}:/usr/sbin:/usr/bin", prefix.join("bin").display());
    let out = install(&prefix, &path_var)
        .env("SOAKKIT_RENAME_LOGROTATE", "1")
        .output()
        .expect("install");
    ok(&out, "renamed install");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let files = files_under(&prefix);
    assert!(
        !files
            .iter()
            .any(|f| f.ends_with("/logrotate") || f.contains("man1/logrotate")),
        "{files:?}"
    );
    let bash =
        std::fs::read_to_string(prefix.join("share/bash-completion/completions/soak-logrotate"))
            .expect("bash completion");
    assert!(
        bash.contains("complete -F _soak__logrotate") && bash.contains("soak-logrotate"),
        "{bash}"
    );
    let man = std::fs::read_to_string(prefix.join("share/man/man1/soak-logrotate.1")).expect("man");
    assert!(man.contains("soak\\-logrotate"), "{man}");
    ok(
        &Command::new(prefix.join("bin/soak-logrotate"))
            .arg("--help")
            .output()
            .expect("run"),
        "soak-logrotate --help",
    );
}

#[test]
fn install_dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let prefix = tmp.path().join("p");
    let out = install(&prefix, "/usr/bin")
        .arg("--dry-run")
        .output()
        .expect("install");
    let printed = ok(&out, "dry run");
    assert!(
        printed.lines().all(|l| l.starts_with("would install ")),
        "{printed}"
    );
    assert!(printed.contains(&prefix.join("bin/zombiereap").display().to_string()));
    assert!(!prefix.exists());
}

#[test]
fn install_refuses_a_prefix_that_is_a_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let out = install(&file, "/usr/bin").output().expect("install");
    assert_eq!(
        out.status.code(),
        Some(3),
        "an unwritable prefix is the environment's"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.display().to_string()), "{err}");
}
