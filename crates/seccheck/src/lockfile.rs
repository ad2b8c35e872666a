//! Lockfile readers: `Cargo.lock`, `requirements.txt` (with `-r` includes), `poetry.lock` and
//! `uv.lock`, found by walking a project directory or named by path.
//!
//! Only packages from the ecosystem's public registry are returned for checking; path, git,
//! editable and URL packages, and unpinned requirements, are returned as [`Skipped`] with a
//! reason.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rustsec::cargo_lock;

use crate::textfile::{FileError, read_text};

/// The package ecosystem a lockfile and an advisory belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Rust crates from crates.io.
    CratesIo,
    /// Python packages from PyPI.
    PyPI,
}

impl Ecosystem {
    /// The OSV spelling (`crates.io`, `PyPI`).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::PyPI => "PyPI",
        }
    }

    /// The ecosystem of an OSV `ecosystem` string, if it is one seccheck checks.
    pub fn from_osv(s: &str) -> Option<Self> {
        match s {
            "crates.io" => Some(Ecosystem::CratesIo),
            "PyPI" => Some(Ecosystem::PyPI),
            _ => None,
        }
    }

    /// The name as advisories are indexed: PyPI names normalised (PEP 503: runs of `-_.`
    /// become `-`, lowercase); crate names as they are.
    pub fn normalise(self, name: &str) -> String {
        match self {
            Ecosystem::CratesIo => name.to_string(),
            Ecosystem::PyPI => normalise_pypi(name),
        }
    }
}

/// PEP 503 normalisation: `Foo__Bar.baz` → `foo-bar-baz`.
pub fn normalise_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// A pinned registry package read from a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// The name as written in the lockfile.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The lockfile it came from (for `requirements.txt`, the file holding the line).
    pub lockfile: PathBuf,
    /// The line (requirements files only).
    pub line: Option<usize>,
}

/// A package or line that is not checked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The lockfile.
    pub lockfile: PathBuf,
    /// The package name or the requirement text.
    pub what: String,
    /// Why it is not checked (`path`, `git`, `not pinned with ==`, ...).
    pub reason: String,
}

/// What the lockfiles held.
#[derive(Debug, Default)]
pub struct Inventory {
    /// The lockfiles read, in order.
    pub lockfiles: Vec<PathBuf>,
    /// The packages to check.
    pub packages: Vec<Package>,
    /// The packages and lines not checked.
    pub skipped: Vec<Skipped>,
    /// Requirements files already read (canonical paths), so a file both walked and
    /// included, or included twice, or in a cycle, is read once.
    seen_requirements: HashSet<PathBuf>,
}

/// A lockfile that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The file or directory could not be read, or its content is malformed.
    #[error(transparent)]
    File(#[from] FileError),
    /// A path that is neither a directory nor a lockfile seccheck knows.
    #[error(
        "{0}: not a lockfile seccheck reads (Cargo.lock, requirements*.txt, poetry.lock, uv.lock)"
    )]
    Unknown(PathBuf),
}

/// The kinds of lockfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Cargo.lock`.
    Cargo,
    /// A pip requirements file.
    Requirements,
    /// `poetry.lock`.
    Poetry,
    /// `uv.lock`.
    Uv,
}

/// The kind of a lockfile, from its file name. When `named` (given on the command line), any
/// `*.txt` is taken as a requirements file; when walking, only `requirements*.txt`.
pub fn kind_of(path: &Path, named: bool) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    match name {
        "Cargo.lock" => Some(Kind::Cargo),
        "poetry.lock" => Some(Kind::Poetry),
        "uv.lock" => Some(Kind::Uv),
        n if n.ends_with(".txt") && (named || n.starts_with("requirements")) => {
            Some(Kind::Requirements)
        }
        _ => None,
    }
}

/// The kind of a named `*.lock` file under another name (`zola-0.10.0.lock`), from its
/// content: uv writes `requires-python` at the top level, Poetry a `[metadata]` table with a
/// `content-hash`; otherwise Cargo.
fn sniff(path: &Path) -> Option<Kind> {
    if path.extension()? != "lock" {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    if text.lines().any(|l| l.starts_with("requires-python")) {
        Some(Kind::Uv)
    } else if text.contains("content-hash") && text.contains("[metadata]") {
        Some(Kind::Poetry)
    } else {
        Some(Kind::Cargo)
    }
}

const SKIP_DIRS: &[&str] = &[
    "target",
    ".git",
    "node_modules",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "site-packages",
];

/// The lockfiles under `paths`: directories walked (skipping `target/`, `.git/`,
/// `node_modules/`, virtualenvs), files taken as named. Sorted per argument.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Kind)>, LockfileError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(FileError::io(p))?;
        if meta.is_file() {
            let kind = kind_of(p, true)
                .or_else(|| sniff(p))
                .ok_or_else(|| LockfileError::Unknown(p.clone()))?;
            out.push((p.clone(), kind));
            continue;
        }
        let walker = walkdir::WalkDir::new(p)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                !(e.file_type().is_dir()
                    && e.depth() > 0
                    && (e
                        .file_name()
                        .to_str()
                        .is_some_and(|n| SKIP_DIRS.contains(&n))
                        || e.path().join("pyvenv.cfg").is_file()))
            });
        for entry in walker {
            let entry = entry.map_err(|e| FileError::Io {
                path: e.path().map_or_else(|| p.clone(), Path::to_path_buf),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            })?;
            if entry.file_type().is_file()
                && let Some(kind) = kind_of(entry.path(), false)
            {
                out.push((entry.into_path(), kind));
            }
        }
    }
    Ok(out)
}

/// Reads every lockfile under `paths` into one inventory.
pub fn read_all(paths: &[PathBuf]) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::default();
    for (path, kind) in discover(paths)? {
        read(&path, kind, &mut inv)?;
    }
    Ok(inv)
}

/// Reads one lockfile of `kind` into `inv`.
/// A lockfile that names no package at all is an error (a 0-byte or truncated lockfile must
/// not pass as "0 packages, nothing vulnerable"), except a requirements file read before.
pub fn read(path: &Path, kind: Kind, inv: &mut Inventory) -> Result<(), LockfileError> {
    if !inv.lockfiles.iter().any(|p| p == path) {
        inv.lockfiles.push(path.to_path_buf());
    }
    let already = kind == Kind::Requirements
        && std::fs::canonicalize(path).is_ok_and(|c| inv.seen_requirements.contains(&c));
    let before = inv.packages.len() + inv.skipped.len();
    match kind {
        Kind::Cargo => read_cargo(path, inv),
        Kind::Requirements => read_requirements(path, inv),
        Kind::Poetry => read_poetry(path, inv),
        Kind::Uv => read_uv(path, inv),
    }?;
    if !already && inv.packages.len() + inv.skipped.len() == before {
        return Err(malformed(
            path,
            1,
            "no package in this lockfile (empty or truncated?): nothing could be checked",
        ));
    }
    Ok(())
}

/// Parses TOML, naming the line of a syntax error.
fn parse_toml(path: &Path, text: &str) -> Result<toml::Table, FileError> {
    text.parse::<toml::Table>()
        .map_err(|e| FileError::toml(path, text, &e))
}

fn malformed(path: &Path, line: usize, message: impl Into<String>) -> LockfileError {
    FileError::malformed(path, line, message).into()
}

fn read_cargo(path: &Path, inv: &mut Inventory) -> Result<(), LockfileError> {
    let text = read_text(path)?;
    let lock: cargo_lock::Lockfile = match text.parse() {
        Ok(l) => l,
        Err(e) => {
            // A TOML syntax error is named with its line; anything else as cargo-lock says.
            parse_toml(path, &text)?;
            let e: cargo_lock::Error = e;
            let message = e.to_string();
            return Err(malformed(path, cargo_error_line(&text, &message), message));
        }
    };
    for pkg in lock.packages {
        let reason = match &pkg.source {
            None => Some("path"),
            Some(s) if s.is_default_registry() => None,
            Some(s) if s.is_git() => Some("git"),
            Some(_) => Some("not crates.io"),
        };
        match reason {
            None => inv.packages.push(Package {
                ecosystem: Ecosystem::CratesIo,
                name: pkg.name.as_str().to_string(),
                version: pkg.version.to_string(),
                lockfile: path.to_path_buf(),
                line: None,
            }),
            Some(r) => inv.skipped.push(Skipped {
                lockfile: path.to_path_buf(),
                what: format!("{} {}", pkg.name.as_str(), pkg.version),
                reason: r.to_string(),
            }),
        }
    }
    Ok(())
}

/// A requirements file's logical lines (continuations joined, comments removed), each with
/// the number of the physical line it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let line = strip_comment(raw);
        if let Some(body) = line.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let done = std::mem::take(&mut current);
        if !done.trim().is_empty() {
            out.push((start, done.trim().to_string()));
        }
    }
    if !current.trim().is_empty() {
        out.push((start, current.trim().to_string()));
    }
    out
}

/// pip's comment rule: `#` at the start of a line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

fn valid_pypi_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The line a cargo-lock error (which carries no position) is about: the first `version`
/// that is not SemVer, else the first line holding a quoted part of the message, else the
/// first `[[package]]` whose table lacks `name` or `version`, else line 1.
fn cargo_error_line(text: &str, message: &str) -> usize {
    let value = |l: &str, key: &str| {
        let rest = l
            .trim_start()
            .strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    };
    let mut in_package = false;
    for (i, l) in text.lines().enumerate() {
        if l.trim_start().starts_with('[') {
            in_package = l.trim() == "[[package]]";
        } else if in_package
            && let Some(v) = value(l, "version")
            && rustsec::semver::Version::parse(&v).is_err()
        {
            return i + 1;
        }
    }
    for quoted in message.split(['`', '\'', '"']).skip(1).step_by(2) {
        if quoted.len() >= 2
            && let Some(i) = text.lines().position(|l| l.contains(quoted))
        {
            return i + 1;
        }
    }
    let mut package: Option<(usize, bool, bool)> = None;
    for (i, l) in text
        .lines()
        .enumerate()
        .chain(std::iter::once((usize::MAX - 1, "[[package]]")))
    {
        if l.trim() == "[[package]]" || l.trim_start().starts_with('[') {
            if let Some((at, name, version)) = package.take()
                && !(name && version)
            {
                return at + 1;
            }
            if l.trim() == "[[package]]" {
                package = Some((i, false, false));
            }
        } else if let Some((_, name, version)) = package.as_mut() {
            *name |= value(l, "name").is_some();
            *version |= value(l, "version").is_some();
        }
    }
    1
}

fn read_requirements(path: &Path, inv: &mut Inventory) -> Result<(), LockfileError> {
    let canonical = std::fs::canonicalize(path).map_err(FileError::io(path))?;
    if !inv.seen_requirements.insert(canonical) {
        return Ok(()); // already read (an include cycle or a repeated include)
    }
    let text = read_text(path)?;
    for (line, req) in logical_lines(&text) {
        let skip = |inv: &mut Inventory, reason: &str| {
            inv.skipped.push(Skipped {
                lockfile: path.to_path_buf(),
                what: req.clone(),
                reason: reason.to_string(),
            })
        };
        if req.starts_with('-') {
            if let Some(target) = option_value(&req, &["-r", "--requirement"]) {
                if target.is_empty() {
                    return Err(malformed(path, line, "-r needs a file name"));
                }
                // Components, so `-r sub/more.txt` is spelled with the OS's separators.
                let included = path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(Path::new(target).components().collect::<PathBuf>());
                if !included.is_file() {
                    return Err(malformed(
                        path,
                        line,
                        format!("included file {} not found", included.display()),
                    ));
                }
                if !inv.lockfiles.contains(&included) {
                    inv.lockfiles.push(included.clone());
                }
                read_requirements(&included, inv)?;
            } else if option_value(&req, &["-e", "--editable"]).is_some() {
                skip(inv, "editable");
            } else if option_value(&req, &["-c", "--constraint"]).is_some() {
                skip(inv, "constraints file (constrains, installs nothing)");
            }
            // Other options (--index-url, --hash on its own, --require-hashes…) name no package.
            continue;
        }
        // Per-requirement options (`--hash=sha256:…`) follow the requirement.
        let spec = match req.find(" -") {
            Some(i) => req[..i].trim(),
            None => req.as_str(),
        };
        let (spec, _marker) = match spec.split_once(';') {
            Some((s, m)) => (s.trim(), Some(m.trim())),
            None => (spec, None),
        };
        if spec.contains("://") || spec.starts_with('.') || spec.starts_with('/') {
            skip(inv, "direct URL or path");
            continue;
        }
        let name_end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        let name = &spec[..name_end];
        if !valid_pypi_name(name) {
            return Err(malformed(
                path,
                line,
                format!("not a requirement: '{spec}'"),
            ));
        }
        let mut rest = spec[name_end..].trim_start();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(i) => rest = rest[i + 1..].trim_start(),
                None => {
                    return Err(malformed(
                        path,
                        line,
                        format!("unclosed extras in '{spec}'"),
                    ));
                }
            }
        }
        if rest.starts_with('@') {
            skip(inv, "direct URL or path");
            continue;
        }
        if !rest.is_empty() && rest.parse::<pep440_rs::VersionSpecifiers>().is_err() {
            return Err(malformed(
                path,
                line,
                format!(
                    "not a requirement: '{spec}' (after the name, a version specifier such as ==1.2 was expected)"
                ),
            ));
        }
        let specifiers: Vec<&str> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let pinned = match specifiers.as_slice() {
            [one] => one
                .strip_prefix("===")
                .or_else(|| one.strip_prefix("=="))
                .map(str::trim),
            _ => None,
        };
        let Some(version) = pinned else {
            skip(inv, "not pinned with ==");
            continue;
        };
        if version.ends_with(".*") {
            skip(inv, "not pinned with == (wildcard)");
            continue;
        }
        if version.parse::<pep440_rs::Version>().is_err() {
            return Err(malformed(
                path,
                line,
                format!("'{version}' is not a PEP 440 version"),
            ));
        }
        inv.packages.push(Package {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            version: version.to_string(),
            lockfile: path.to_path_buf(),
            line: Some(line),
        });
    }
    Ok(())
}

/// The value of an option spelled `-r FILE`, `-rFILE`, `--requirement FILE` or
/// `--requirement=FILE`.
fn option_value<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    for name in names {
        if let Some(rest) = line.strip_prefix(name) {
            if name.starts_with("--") {
                if let Some(v) = rest.strip_prefix('=') {
                    return Some(v.trim());
                }
                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    return Some(rest.trim());
                }
            } else {
                return Some(rest.trim_start_matches('=').trim());
            }
        }
    }
    None
}

/// A `[[package]]` table: name, version (absent for dynamic ones), the table.
type TomlPackage<'a> = (String, Option<String>, &'a toml::Table);

/// The `[[package]]` tables of a TOML lockfile, each with its name and version.
fn toml_packages<'a>(
    path: &Path,
    table: &'a toml::Table,
) -> Result<Vec<TomlPackage<'a>>, LockfileError> {
    let Some(list) = table.get("package") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| malformed(path, 0, "`package` is not an array of tables"))?;
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let t = p
            .as_table()
            .ok_or_else(|| malformed(path, 0, format!("package #{} is not a table", i + 1)))?;
        let name = t
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| malformed(path, 0, format!("package #{} has no name", i + 1)))?;
        let version = t.get("version").and_then(|v| v.as_str()).map(String::from);
        out.push((name.to_string(), version, t));
    }
    Ok(out)
}

fn push_pypi(
    path: &Path,
    inv: &mut Inventory,
    name: String,
    version: Option<String>,
    skip_reason: Option<String>,
) -> Result<(), LockfileError> {
    if let Some(reason) = skip_reason {
        inv.skipped.push(Skipped {
            lockfile: path.to_path_buf(),
            what: name,
            reason,
        });
        return Ok(());
    }
    let Some(version) = version else {
        inv.skipped.push(Skipped {
            lockfile: path.to_path_buf(),
            what: name,
            reason: "no version".to_string(),
        });
        return Ok(());
    };
    if version.parse::<pep440_rs::Version>().is_err() {
        return Err(malformed(
            path,
            0,
            format!("package {name}: '{version}' is not a PEP 440 version"),
        ));
    }
    inv.packages.push(Package {
        ecosystem: Ecosystem::PyPI,
        name,
        version,
        lockfile: path.to_path_buf(),
        line: None,
    });
    Ok(())
}

fn read_poetry(path: &Path, inv: &mut Inventory) -> Result<(), LockfileError> {
    let text = read_text(path)?;
    let table = parse_toml(path, &text)?;
    for (name, version, t) in toml_packages(path, &table)? {
        // `source.type`: absent for PyPI, `legacy` for another index; git/directory/file/url
        // are not registry releases.
        let reason = t
            .get("source")
            .and_then(|s| s.get("type"))
            .and_then(|v| v.as_str())
            .filter(|k| *k != "legacy")
            .map(String::from);
        push_pypi(path, inv, name, version, reason)?;
    }
    Ok(())
}

fn read_uv(path: &Path, inv: &mut Inventory) -> Result<(), LockfileError> {
    let text = read_text(path)?;
    let table = parse_toml(path, &text)?;
    for (name, version, t) in toml_packages(path, &table)? {
        let reason = match t.get("source").and_then(|s| s.as_table()) {
            Some(s) if s.contains_key("registry") => None,
            Some(s) => Some(
                s.keys()
                    .next()
                    .map_or_else(|| "not a registry package".to_string(), String::clone),
            ),
            None => Some("no source".to_string()),
        };
        push_pypi(path, inv, name, version, reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_normalise() {
        assert_eq!(normalise_pypi("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalise_pypi("PyYAML"), "pyyaml");
        assert_eq!(normalise_pypi("zope.interface"), "zope-interface");
    }

    #[test]
    fn comments_and_continuations() {
        let lines =
            logical_lines("# top\nrequests==2.0 \\\n    --hash=sha256:ab # c\n\nurl#frag==1\n");
        assert_eq!(
            lines,
            vec![
                (2, "requests==2.0      --hash=sha256:ab".to_string()),
                (5, "url#frag==1".to_string())
            ]
        );
    }
}
