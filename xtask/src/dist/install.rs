//! `cargo xtask install`: every binary, its completions and man pages under a prefix
//! (`~/.local` by default), with a warning when soakkit's `logrotate` would shadow
//! logrotate(8) on PATH and the option to install it as `soak-logrotate`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::generate::{self, TOOLS};
use super::safe_write::write_file;

/// The name `logrotate` is installed under with --rename-logrotate.
pub const RENAMED_LOGROTATE: &str = "soak-logrotate";

/// Where logrotate(8) lives on Debian and most distributions.
const SYSTEM_SBIN: &str = "/usr/sbin";

/// Options of `cargo xtask install`.
#[derive(clap::Args)]
pub struct InstallArgs {
    /// Install under this prefix: PREFIX/bin, PREFIX/share/man/man1, PREFIX/share/{bash-completion,
    /// zsh,fish}/... (default: ~/.local).
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Install the `logrotate` binary as `soak-logrotate`, so logrotate(8) keeps its name on
    /// PATH (also with SOAKKIT_RENAME_LOGROTATE=1).
    #[arg(
        long,
        env = "SOAKKIT_RENAME_LOGROTATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub rename_logrotate: bool,
    /// Install the binaries in this directory instead of building them with
    /// `cargo build --release`.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Print what would be installed and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One file to put under the prefix.
struct Planned {
    dest: PathBuf,
    contents: Source,
    mode: u32,
}

enum Source {
    Copy(PathBuf),
    Bytes(Vec<u8>),
}

/// Installs (or with --dry-run lists) every file; prints each destination.
pub fn run(args: &InstallArgs) -> Result<()> {
    let prefix = match &args.prefix {
        Some(p) => p.clone(),
        None => default_prefix()?,
    };
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None if args.dry_run => PathBuf::from("target/release"),
        None => super::release_build(None)?,
    };
    let plan = plan(&prefix, &bin_dir, args.rename_logrotate)?;
    for p in &plan {
        if args.dry_run {
            println!("would install {}", p.dest.display());
            continue;
        }
        let parent = p.dest.parent().context("destination without a parent")?;
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let bytes = match &p.contents {
            Source::Copy(from) => {
                std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?
            }
            Source::Bytes(b) => b.clone(),
        };
        write_file(&p.dest, &bytes, p.mode)?;
        println!("{}", p.dest.display());
    }
    let prefix_bin = prefix.join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    if !args.rename_logrotate {
        if let Some(warning) = shadow_warning(&prefix_bin, &path) {
            eprintln!("{warning}");
        }
    }
    if !on_path(&prefix_bin, &path) {
        eprintln!(
            "xtask: note: {} is not on PATH; add it to use the tools by name",
            prefix_bin.display()
        );
    }
    Ok(())
}

/// `$HOME/.local`.
fn default_prefix() -> Result<PathBuf> {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local")),
        None => Err(super::BadInput("HOME is not set: give --prefix DIR".into()).into()),
    }
}

/// Every file, binaries first, with each tool's installed name.
fn plan(prefix: &Path, bin_dir: &Path, rename_logrotate: bool) -> Result<Vec<Planned>> {
    super::check_built(bin_dir)?;
    let mut out = Vec::new();
    for tool in &TOOLS {
        let name = installed_name(tool.bin, rename_logrotate);
        let from = bin_dir.join(tool.bin);
        out.push(Planned {
            dest: prefix.join("bin").join(name),
            contents: Source::Copy(from),
            mode: 0o755,
        });
        let cmd = tool.command(name);
        let mut generated = generate::completions(&cmd);
        generated.extend(generate::man_pages(&cmd)?);
        out.extend(generated.into_iter().map(|g| Planned {
            dest: prefix.join(g.rel_path),
            contents: Source::Bytes(g.contents),
            mode: 0o644,
        }));
    }
    Ok(out)
}

/// The name a binary is installed under.
pub fn installed_name(bin: &'static str, rename_logrotate: bool) -> &'static str {
    if rename_logrotate && bin == "logrotate" {
        RENAMED_LOGROTATE
    } else {
        bin
    }
}

/// The PATH entries, symlinks resolved where they exist, trailing slashes dropped.
fn normalized_path(path: &std::ffi::OsStr) -> Vec<PathBuf> {
    std::env::split_paths(path)
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| normalize(&p))
        .collect()
}

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.components().collect())
}

fn on_path(dir: &Path, path: &std::ffi::OsStr) -> bool {
    let dir = normalize(dir);
    normalized_path(path).contains(&dir)
}

/// The warning when `prefix_bin` comes before /usr/sbin on `path`, so the installed `logrotate`
/// would run instead of logrotate(8).
pub fn shadow_warning(prefix_bin: &Path, path: &std::ffi::OsStr) -> Option<String> {
    let entries = normalized_path(path);
    let ours = entries.iter().position(|e| *e == normalize(prefix_bin))?;
    let sbin = entries
        .iter()
        .position(|e| *e == normalize(Path::new(SYSTEM_SBIN)))?;
    (ours < sbin).then(|| {
        format!(
            "xtask: warning: {} comes before {SYSTEM_SBIN} on PATH, so `logrotate` now runs \
             soakkit's logrotate, not logrotate(8); to keep logrotate(8), install it as \
             {RENAMED_LOGROTATE}: `just install-renamed` (or SOAKKIT_RENAME_LOGROTATE=1 just install), \
             or use a prefix that comes after {SYSTEM_SBIN}",
            prefix_bin.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::ffi::OsString;

    #[cfg(unix)]
    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).expect("join")
    }

    /// Unix only: /usr/sbin and a symlink (a privilege on Windows).
    #[cfg(unix)]
    #[test]
    fn warns_only_when_the_prefix_comes_before_usr_sbin() {
        let tmp = tempfile::tempdir().expect("tmp");
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let sbin = Path::new("/usr/sbin");
        let usr_bin = Path::new("/usr/bin");
        let before = shadow_warning(&bin, &path_of(&[&bin, sbin, usr_bin])).expect("warning");
        assert!(before.contains("soak-logrotate"), "{before}");
        assert!(before.contains(&bin.display().to_string()), "{before}");
        assert!(shadow_warning(&bin, &path_of(&[sbin, usr_bin, &bin])).is_none());
        assert!(shadow_warning(&bin, &path_of(&[sbin, usr_bin])).is_none());
        // A trailing slash or a symlink to the prefix's bin is the same directory.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&bin, &link).expect("symlink");
        let with_slash = PathBuf::from(format!("{}/", link.display()));
        assert!(shadow_warning(&bin, &path_of(&[&with_slash, sbin])).is_some());
    }

    #[test]
    fn only_logrotate_is_renamed() {
        assert_eq!(installed_name("logrotate", true), "soak-logrotate");
        assert_eq!(installed_name("logrotate", false), "logrotate");
        assert_eq!(installed_name("resmon", true), "resmon");
    }
}
