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

/// The one-line form of a clap error: its first paragraph (the message, and the possible
/// values or missing arguments clap lists under it), lines folded, without the `error: `
/// prefix and clap's closing tip.
pub fn usage_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let line = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// Parses the process's command line as `C`. `--help` and `--version` print as clap prints
/// them; any other error is a usage error: one line `TOOL: error: ...` naming the flag on
/// stderr (and a `::error::` annotation under GitHub Actions), then exit 2, before anything
/// starts.
pub fn parse_or_exit<C: clap::Parser>(tool: &str) -> C {
    use clap::error::ErrorKind;
    match C::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            let message = usage_line(&e);
            eprintln!("{tool}: error: {message}");
            if crate::gha::in_github_actions() {
                crate::gha::annotate(crate::gha::Level::Error, &format!("{tool}: {message}"));
            }
            std::process::exit(i32::from(crate::exit::ExitCode::Usage.code()))
        }
    }
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

    #[derive(Parser)]
    struct Timed {
        #[arg(long, value_parser = clap_duration)]
        grace: Option<std::time::Duration>,
        #[arg(long, value_enum)]
        format: Option<Format>,
        #[arg(long, required = true)]
        exchange: String,
    }

    #[test]
    fn a_usage_error_folds_into_one_line_naming_the_flag() {
        let err = Timed::try_parse_from(["t", "--exchange", "x", "--grace", "5x"])
            .err()
            .expect("refused");
        let line = usage_line(&err);
        assert!(
            line.starts_with("invalid value '5x' for '--grace <GRACE>': invalid duration '5x'"),
            "{line}"
        );
        assert!(!line.contains('\n') && !line.contains("--help"), "{line}");

        let err = Timed::try_parse_from(["t", "--exchange", "x", "--format", "yaml"])
            .err()
            .expect("refused");
        let line = usage_line(&err);
        assert!(line.contains("'--format <FORMAT>'"), "{line}");
        assert!(
            line.contains("[possible values: "),
            "the choices kept: {line}"
        );
        assert!(!line.contains('\n'), "{line}");

        let err = Timed::try_parse_from(["t"]).err().expect("refused");
        let line = usage_line(&err);
        assert!(line.contains("--exchange <EXCHANGE>"), "{line}");
        assert!(!line.contains("Usage:") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let err = Cli::try_parse_from(["t", "--format", "yaml"])
            .err()
            .expect("refused");
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
