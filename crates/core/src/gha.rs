//! GitHub Actions helpers: workflow-command annotations and the Markdown step summary.
//!
//! Annotations go to stderr (the runner reads workflow commands from both streams), so that
//! stdout stays pure JSONL for the next tool in the pipe.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CoreError;

/// True when running as a GitHub Actions step (`GITHUB_ACTIONS=true`).
pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// An annotation's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error::`, fails the eye test of a run.
    Error,
    /// `::warning::`.
    Warning,
    /// `::notice::`.
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One annotation, optionally pinned to a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Its level.
    pub level: Level,
    /// The message (escaped when rendered).
    pub message: String,
    /// A title shown above the message.
    pub title: Option<String>,
    /// The file it points at.
    pub file: Option<String>,
    /// The 1-based line in `file`.
    pub line: Option<u64>,
}

impl Annotation {
    /// An annotation with just a level and a message.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Annotation {
            level,
            message: message.into(),
            title: None,
            file: None,
            line: None,
        }
    }

    /// The workflow command line, escaped as the runner expects.
    pub fn render(&self) -> String {
        let mut props = Vec::new();
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        if let Some(title) = &self.title {
            props.push(format!("title={}", escape_property(title)));
        }
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {}", props.join(","))
        };
        format!(
            "::{}{}::{}",
            self.level.command(),
            props,
            escape_data(&self.message)
        )
    }
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Prints a bare annotation to stderr.
pub fn annotate(level: Level, message: &str) {
    emit(&Annotation::new(level, message));
}

/// Prints an annotation to stderr.
pub fn emit(annotation: &Annotation) {
    eprintln!("{}", annotation.render());
}

/// Where the Markdown summary goes: the `--summary-md` path when given, else
/// `$GITHUB_STEP_SUMMARY` when set and non-empty.
pub fn step_summary_path(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Appends Markdown to a step summary file (the runner concatenates every step's).
pub fn append_step_summary(path: &Path, markdown: &str) -> Result<(), CoreError> {
    let err = |source| CoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // The summary file is the runner's: a symlink planted at its path is never written through.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let mut f = options.open(path).map_err(err)?;
    f.write_all(markdown.as_bytes()).map_err(err)?;
    if !markdown.ends_with('\n') {
        f.write_all(b"\n").map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let mut a = Annotation::new(Level::Error, "leak: 100%\nat hour 6");
        assert_eq!(a.render(), "::error::leak: 100%25%0Aat hour 6");
        a.file = Some("logs/a,b:c.log".into());
        a.line = Some(12);
        a.title = Some("resanalyze".into());
        assert_eq!(
            a.render(),
            "::error file=logs/a%2Cb%3Ac.log,line=12,title=resanalyze::leak: 100%25%0Aat hour 6"
        );
    }

    #[test]
    fn step_summary_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("summary.md");
        append_step_summary(&p, "# one").expect("append");
        append_step_summary(&p, "two\n").expect("append");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "# one\ntwo\n");
        assert_eq!(step_summary_path(Some(&p)), Some(p.clone()));
    }

    #[cfg(unix)]
    #[test]
    fn step_summary_is_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").expect("victim");
        let link = dir.path().join("summary.md");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(append_step_summary(&link, "# verdict").is_err());
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep\n");
    }
}
