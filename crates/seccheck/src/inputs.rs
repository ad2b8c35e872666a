//! What the paths on the command line stand for: regular files (a symlink named there is
//! followed, it is the user's explicit choice, and said so), directories walked (symlinks and
//! special files inside are reported, not followed), and streams read once (`-`, `/dev/stdin`,
//! FIFOs, `<(...)`). Each file is listed once however often it is named.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use soak_core::fileinfo::FileId;

/// One thing to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A regular file.
    File {
        /// Its path as named or found.
        path: PathBuf,
        /// The symlink's target, when it was named through a symlink.
        link_target: Option<PathBuf>,
    },
    /// A stream, read once and never rewritten: stdin (`-`), a pipe, a FIFO, a socket.
    Stream {
        /// Its name (`-` for stdin).
        path: PathBuf,
        /// What it is (`stdin`, `fifo`, `socket`).
        what: &'static str,
    },
}

impl Input {
    /// The path as shown in records.
    pub fn path(&self) -> &Path {
        match self {
            Input::File { path, .. } | Input::Stream { path, .. } => path,
        }
    }
}

/// Something on the way that is not scanned, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotScanned {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
    /// True for an error (an unreadable path: exit 2), false for a deliberate skip.
    pub error: bool,
}

/// The inputs found under the command line's paths.
#[derive(Debug, Default)]
pub struct Inputs {
    /// What to scan, in order.
    pub inputs: Vec<Input>,
    /// What was passed over, in order.
    pub not_scanned: Vec<NotScanned>,
}

/// A FIFO or socket named on the command line (Windows paths report neither).
fn stream_kind(ft: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("fifo");
        } else if ft.is_socket() {
            return Some("socket");
        }
    }
    let _ = ft;
    None
}

/// A character device (Windows paths to devices report no file type).
fn is_char_device(ft: &std::fs::FileType) -> bool {
    #[cfg(unix)]
    return std::os::unix::fs::FileTypeExt::is_char_device(ft);
    #[cfg(not(unix))]
    {
        let _ = ft;
        false
    }
}

/// The identity of the file at `path`, so a file named twice (or through a link) is read once.
fn identity(path: &Path) -> Option<FileId> {
    FileId::at(path).ok().map(|(id, _)| id)
}

impl Inputs {
    /// Lists the inputs of `paths`.
    pub fn collect(paths: &[PathBuf]) -> Inputs {
        let mut me = Inputs::default();
        let mut seen: HashSet<FileId> = HashSet::new();
        let mut stdin_seen = false;
        for p in paths {
            if p.as_os_str() == "-" {
                if !std::mem::replace(&mut stdin_seen, true) {
                    me.inputs.push(Input::Stream {
                        path: p.clone(),
                        what: "stdin",
                    });
                }
                continue;
            }
            let link = std::fs::symlink_metadata(p);
            let meta = match std::fs::metadata(p) {
                Ok(m) => m,
                Err(e) => {
                    let reason = match &link {
                        Ok(l) if l.file_type().is_symlink() => format!("dangling symlink: {e}"),
                        _ => e.to_string(),
                    };
                    me.error(p, reason);
                    continue;
                }
            };
            let link_target = match &link {
                Ok(l) if l.file_type().is_symlink() => Some(
                    std::fs::canonicalize(p)
                        .unwrap_or_else(|_| std::fs::read_link(p).unwrap_or_default()),
                ),
                _ => None,
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                me.walk(p, &mut seen);
            } else if ft.is_file() {
                if identity(p).is_none_or(|id| seen.insert(id)) {
                    me.inputs.push(Input::File {
                        path: p.clone(),
                        link_target,
                    });
                }
            } else if let Some(what) = stream_kind(&ft) {
                if identity(p).is_none_or(|id| seen.insert(id)) {
                    me.inputs.push(Input::Stream {
                        path: p.clone(),
                        what,
                    });
                }
            } else if is_char_device(&ft) {
                // /dev/zero, /dev/urandom, a terminal: endless, no log.
                me.error(p, "a character device is no log (files, directories, pipes, FIFOs and - are read)".into());
            } else {
                me.error(p, "not a file, directory or stream".into());
            }
        }
        me
    }

    fn error(&mut self, p: &Path, reason: String) {
        self.not_scanned.push(NotScanned {
            path: p.to_path_buf(),
            reason,
            error: true,
        });
    }

    fn skip(&mut self, p: &Path, reason: &str) {
        self.not_scanned.push(NotScanned {
            path: p.to_path_buf(),
            reason: reason.into(),
            error: false,
        });
    }

    /// Walks a directory (its own path followed when it is a symlink; links inside are not).
    fn walk(&mut self, root: &Path, seen: &mut HashSet<FileId>) {
        for entry in walkdir::WalkDir::new(root)
            .follow_links(false)
            .follow_root_links(true)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let at = e.path().unwrap_or(root).to_path_buf();
                    let why = e
                        .io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string());
                    self.error(&at, why);
                    continue;
                }
            };
            let ft = entry.file_type();
            if ft.is_dir() || entry.depth() == 0 {
                continue; // the root itself (a symlink to it was named: followed)
            }
            if ft.is_symlink() {
                self.skip(
                    entry.path(),
                    "symlink inside a directory is not followed (name it to scan its target)",
                );
                continue;
            }
            if !ft.is_file() {
                self.skip(entry.path(), "not a regular file");
                continue;
            }
            match identity(entry.path()) {
                Some(k) if !seen.insert(k) => {}
                _ => self.inputs.push(Input::File {
                    path: entry.into_path(),
                    link_target: None,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)] // symlinks need a privilege on Windows
    #[test]
    fn each_file_once_symlinks_followed_only_when_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::create_dir(d.join("logs")).expect("mkdir");
        std::fs::write(d.join("logs/a.log"), "a\n").expect("write");
        std::os::unix::fs::symlink(d.join("logs/a.log"), d.join("link.log")).expect("link");
        std::os::unix::fs::symlink(d.join("logs"), d.join("logs-link")).expect("link");
        std::os::unix::fs::symlink("/etc/hostname", d.join("logs/inner-link")).expect("link");
        let got = Inputs::collect(&[
            d.join("logs"),
            d.join("logs/a.log"),
            d.join("link.log"),
            d.join("logs-link"),
            d.join("missing"),
        ]);
        assert_eq!(got.inputs.len(), 1, "{got:?}");
        let skipped: Vec<(bool, String)> = got
            .not_scanned
            .iter()
            .map(|n| {
                (
                    n.error,
                    n.path
                        .file_name()
                        .expect("n")
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect();
        assert_eq!(
            skipped,
            vec![
                (false, "inner-link".into()),
                (false, "inner-link".into()),
                (true, "missing".into())
            ]
        );
        let via_link = Inputs::collect(&[d.join("link.log")]);
        assert!(matches!(
            &via_link.inputs[0],
            Input::File { link_target: Some(t), .. } if t.ends_with("logs/a.log")
        ));
    }

    /// One file named in several spellings (backslashes, forward slashes, `.` and `..`
    /// components, letter case on Windows) is read once; a directory is walked.
    #[test]
    fn each_file_once_however_its_path_is_spelled() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::create_dir(d.join("logs")).expect("mkdir");
        std::fs::write(d.join("logs").join("a.log"), "a\r\n").expect("write");
        std::fs::write(d.join("logs").join("b.log"), "b\r\n").expect("write");
        let mut spellings = vec![
            d.join("logs").join("a.log"),
            d.join("logs").join(".").join("a.log"),
            d.join("logs").join("..").join("logs").join("a.log"),
        ];
        if cfg!(windows) {
            let slashed = d
                .join("logs")
                .join("a.log")
                .to_string_lossy()
                .replace('\\', "/");
            spellings.push(PathBuf::from(slashed));
            spellings.push(d.join("LOGS").join("A.LOG"));
        }
        spellings.push(d.join("logs"));
        let got = Inputs::collect(&spellings);
        assert!(got.not_scanned.is_empty(), "{got:?}");
        let names: Vec<String> = got
            .inputs
            .iter()
            .map(|i| {
                i.path()
                    .file_name()
                    .expect("n")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.log", "b.log"], "{got:?}");
    }
}
