//! The command-line surface every tool shares: the output options each command flattens in, and
//! the value parsers for durations, sizes, rates and percentages.
//!
//! ```
//! use clap::Parser;
//! use soak_core::cli::OutputArgs;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     output: OutputArgs,
//! }
//!
//! let cli = Cli::parse_from(["tool", "-f", "markdown", "-o", "report.md", "-q"]);
//! assert_eq!(cli.output.format, Some(soak_core::output::Format::Markdown));
//! assert!(cli.output.quiet);
//! ```

use std::path::PathBuf;

pub use crate::output::Format;
pub use crate::units::{
    clap_count_rate, clap_duration, clap_interval, clap_percent, clap_rate, clap_size,
};

/// Where and how a command writes what it found: `-f/--format`, `-o/--output`, `--summary-md`
/// and `-q/--quiet`. Flatten it into every command that reports (`#[command(flatten)]`); a
/// [`crate::report::Report`] applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct OutputArgs {
    /// Output format (default: jsonl when stdout is piped or --output is given, table on a
    /// terminal).
    #[arg(short = 'f', long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the output to this file instead of stdout (made as a new file beside it, then
    /// renamed over it: never written through a symbolic link).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also append a Markdown summary here (default under GitHub Actions:
    /// $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH")]
    pub summary_md: Option<PathBuf>,
    /// Print nothing on stdout: the exit code, --output and --summary-md still tell.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl OutputArgs {
    /// The format to write: the one asked for, else JSONL into a file or a pipe and a table
    /// on a terminal.
    pub fn resolved_format(&self) -> Format {
        match (self.format, &self.output) {
            (Some(f), _) => f,
            (None, Some(_)) => Format::Jsonl,
            (None, None) => Format::resolve(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        output: OutputArgs,
    }

    #[test]
    fn long_and_short_spellings_agree() {
        let long = Cli::parse_from([
            "t",
            "--format",
            "csv",
            "--output",
            "x.csv",
            "--summary-md",
            "s.md",
            "--quiet",
        ]);
        let short = Cli::parse_from([
            "t",
            "-f",
            "csv",
            "-o",
            "x.csv",
            "--summary-md",
            "s.md",
            "-q",
        ]);
        assert_eq!(long.output, short.output);
        assert_eq!(short.output.resolved_format(), Format::Csv);
    }

    #[test]
    fn a_file_gets_jsonl_unless_told() {
        let cli = Cli::parse_from(["t", "-o", "out.jsonl"]);
        assert_eq!(cli.output.resolved_format(), Format::Jsonl);
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let err = Cli::try_parse_from(["t", "--format", "yaml"])
            .err()
            .expect("refused");
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
