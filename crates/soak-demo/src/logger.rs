//! Log lines in the shape of the seeds' Python bots (`logging`'s default format with a
//! millisecond comma), one flushed line at a time so a follower sees each as it happens.

use std::io::Write;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARNING`.
    Warning,
    /// `ERROR`.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

/// Writes `2025-10-01 12:00:00,123 - demo-bot - INFO - message` lines.
pub struct Logger<W: Write> {
    out: W,
}

impl<W: Write> Logger<W> {
    /// A logger writing to `out`.
    pub fn new(out: W) -> Self {
        Logger { out }
    }

    /// Writes one line. Errors (a closed pipe) are returned so the service can stop.
    pub fn log(&mut self, level: Level, message: &str) -> std::io::Result<()> {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S,%3f");
        writeln!(
            self.out,
            "{now} - demo-bot - {} - {message}",
            level.as_str()
        )?;
        self.out.flush()
    }

    /// Writes raw lines (a traceback's body), unprefixed, as Python prints them.
    pub fn raw(&mut self, lines: &[&str]) -> std::io::Result<()> {
        for line in lines {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_python_logging_shape() {
        let mut buf = Vec::new();
        Logger::new(&mut buf)
            .log(Level::Info, "[HB] alive")
            .expect("write");
        let line = String::from_utf8(buf).expect("utf8");
        let (stamp, rest) = line.split_at(23);
        assert!(
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S,%3f").is_ok(),
            "{line}"
        );
        assert_eq!(rest, " - demo-bot - INFO - [HB] alive\n");
    }
}
