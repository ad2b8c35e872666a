//! The text files seccheck reads by hand (lockfiles, the ignore file) and what can be wrong
//! with one, said as `file: cause` or `file:line: message`.

use std::path::{Path, PathBuf};

/// A text file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The content is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line (0 when the error is about the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl FileError {
    /// The error of reading `path`, for `map_err`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
        move |source| FileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// `path` is malformed at `line`.
    pub fn malformed(path: &Path, line: usize, message: impl Into<String>) -> FileError {
        FileError::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A TOML error in `text` (read from `path`), at the line its span starts on.
    pub fn toml(path: &Path, text: &str, e: &toml::de::Error) -> FileError {
        FileError::malformed(
            path,
            e.span().map_or(0, |s| line_of(text, s.start)),
            e.message(),
        )
    }
}

/// The whole of `path` as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(FileError::io(path))
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
