//! The core library's typed error.

use std::io;
use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::units::UnitError;

/// Everything the core library can fail with. Each variant names the file, pattern or value
/// involved, so a tool can print it as its one-line error.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// An input file could not be opened.
    #[error("cannot open {}: {source}", crate::pathtext::shown(path))]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading an input failed part-way.
    #[error("cannot read {}: {source}", crate::pathtext::shown(path))]
    Read {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing an output failed (unwritable path, disk full, ...).
    #[error("cannot write {}: {source}", crate::pathtext::shown(path))]
    Write {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A named input file does not exist.
    #[error("{}: no such file", crate::pathtext::shown(.0))]
    NotFound(PathBuf),
    /// A directory was given where a file was expected.
    #[error("{}: is a directory, expected a file", crate::pathtext::shown(.0))]
    IsDirectory(PathBuf),
    /// A glob pattern matched nothing.
    #[error("{0}: no file matches this pattern")]
    NoMatch(String),
    /// A glob pattern is malformed.
    #[error("invalid glob pattern '{pattern}': {reason}")]
    BadGlob {
        /// The pattern as given.
        pattern: String,
        /// The parser's reason.
        reason: String,
    },
    /// A duration, size, rate or percentage could not be parsed.
    #[error(transparent)]
    Unit(#[from] UnitError),
}

impl CoreError {
    /// The exit code this error maps to under the toolkit's convention: bad input is 2,
    /// a failing environment (permissions, full disk, broken device) is 3.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CoreError::Write { source, .. } => {
                if source.kind() == io::ErrorKind::BrokenPipe {
                    ExitCode::Success
                } else {
                    ExitCode::Environment
                }
            }
            // An input that cannot be opened or read is the user's input error (exit 2),
            // whatever the OS reason: "unreadable file exits 2 naming it".
            CoreError::Open { .. }
            | CoreError::Read { .. }
            | CoreError::NotFound(_)
            | CoreError::IsDirectory(_)
            | CoreError::NoMatch(_)
            | CoreError::BadGlob { .. }
            | CoreError::Unit(_) => ExitCode::Usage,
        }
    }
}
