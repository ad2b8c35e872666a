//! `cargo xtask dist`: one release archive per target with every binary, its completions and
//! man pages, the README and the licences; and `cargo xtask install`: the same files under a
//! prefix.

#[cfg(test)]
mod action_wiring;
pub mod archive;
pub mod generate;
pub mod install;
pub mod safe_write;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// An error in what the user gave (a --bin-dir without the tools, no HOME for the default
/// prefix): exit status 2; every other failure of dist or install is the environment's (3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit status for a failure of `dist` or `install`.
pub fn exit_status(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<BadInput>().is_some() {
        2
    } else {
        3
    }
}

/// Every tool's binary is in `bin_dir`.
pub fn check_built(bin_dir: &Path) -> Result<()> {
    for tool in &generate::TOOLS {
        let bin = bin_dir.join(tool.bin);
        if !bin.is_file() {
            return Err(BadInput(format!(
                "{} is not built: {} does not exist",
                tool.bin,
                bin.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// The workspace's version (xtask shares it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of `cargo xtask dist`.
#[derive(clap::Args)]
pub struct DistArgs {
    /// The target triple to build for (default: the host's, from `rustc -vV`).
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Package the binaries in this directory instead of building them (they must be built
    /// for --target).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Where the archive and its .sha256 are written (default: target/dist).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Builds (unless --bin-dir) and writes the archive and its checksum; prints both paths.
pub fn run(args: &DistArgs) -> Result<()> {
    // Without --target the host build in target/release is used (the one `cargo xtask soak` and
    // `just build` make), so a release is not built twice; the archive is named for the host.
    let target = match &args.target {
        Some(t) => t.clone(),
        None => host_triple()?,
    };
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => release_build(args.target.as_deref())?,
    };
    let root = crate::workspace_root()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| target_dir(&root).join("dist"));
    let written = archive::write(&archive::Inputs {
        name: format!("soakkit-{VERSION}-{target}"),
        bin_dir,
        docs: vec![
            root.join("README.md"),
            root.join("LICENSE-MIT"),
            root.join("LICENSE-APACHE"),
        ],
        out,
    })?;
    println!("{}", written.archive.display());
    println!("{}", written.checksum.display());
    Ok(())
}

/// The host's target triple, as rustc reports it.
pub fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("cannot run {rustc} -vV"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .with_context(|| format!("{rustc} -vV printed no host line"))
}

/// `cargo build --release --locked` of every tool (for `target` when given); returns the
/// directory the binaries are in.
pub fn release_build(target: Option<&str>) -> Result<PathBuf> {
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--locked"]);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    for tool in &generate::TOOLS {
        cmd.args(["-p", tool.bin]);
    }
    eprintln!(
        "xtask: cargo build --release --locked{}",
        target.map(|t| format!(" --target {t}")).unwrap_or_default()
    );
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cargo}"))?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    let dir = target_dir(&root);
    Ok(match target {
        Some(t) => dir.join(t).join("release"),
        None => dir.join("release"),
    })
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
