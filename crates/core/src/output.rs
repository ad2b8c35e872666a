//! Output formats: JSONL when piped, a table on a terminal, and JSON, Markdown or CSV on
//! request (`--format`).

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::record::Record;

/// The formats a tool can print. Not every tool supports every format for every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line (the protocol); the default when stdout is not a terminal.
    Jsonl,
    /// One pretty-printed JSON document.
    Json,
    /// An aligned text table; the default on a terminal.
    Table,
    /// A GitHub-flavoured Markdown table or report.
    Markdown,
    /// Comma-separated values with a header row.
    Csv,
    /// SARIF 2.1.0, for code-scanning uploads (only where a tool says it writes it).
    Sarif,
}

impl Format {
    /// The format to use: the one asked for, else JSONL when stdout is piped or redirected and
    /// a table when it is a terminal.
    pub fn resolve(requested: Option<Format>) -> Format {
        requested.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Jsonl
            }
        })
    }
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Table => "table",
            Format::Markdown => "markdown",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
        }
    }
}

/// The error a writer returns for a format it does not write ([`std::io::ErrorKind::Unsupported`]);
/// [`crate::report::Report::finish`] turns it into a usage error naming `--format`.
pub fn unsupported(format: Format) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("--format {} is not written here", format.name()),
    )
}

/// Renders a JSON value as a table cell: strings bare, floats with at most 3 decimals,
/// `null` as `-`, arrays and objects as compact JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => format_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn format_float(f: f64) -> String {
    let s = format!("{f:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A table of strings with headers, rendered as text, Markdown or CSV.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows; each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, padded or cut to the header count.
    pub fn push_row<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = row.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// A table of records: the given columns, or else every field that any record has
    /// (in first-seen order).
    pub fn from_records(records: &[Record], columns: Option<&[&str]>) -> Self {
        let headers: Vec<String> = match columns {
            Some(cols) => cols.iter().map(|c| c.to_string()).collect(),
            None => {
                let mut seen: Vec<String> = Vec::new();
                for r in records {
                    for k in r.fields().keys() {
                        if !seen.iter().any(|s| s == k) {
                            seen.push(k.clone());
                        }
                    }
                }
                seen
            }
        };
        let mut table = Table::new(headers.clone());
        for r in records {
            table.push_row(
                headers
                    .iter()
                    .map(|h| r.get(h).map_or_else(String::new, cell)),
            );
        }
        table
    }

    /// Writes an aligned text table (numbers right-aligned).
    pub fn write_text<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let widths = self.widths();
        let numeric: Vec<bool> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .all(|r| r[i].is_empty() || r[i] == "-" || r[i].parse::<f64>().is_ok())
                    && !self.rows.is_empty()
            })
            .collect();
        let line = |cells: &[String], out: &mut W| -> std::io::Result<()> {
            let mut parts = Vec::with_capacity(cells.len());
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                parts.push(if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                });
            }
            writeln!(out, "{}", parts.join("  ").trim_end())
        };
        line(&self.headers, out)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(out, "{}", rule.join("  "))?;
        for row in &self.rows {
            line(row, out)?;
        }
        Ok(())
    }

    /// Writes a GitHub-flavoured Markdown table (pipes in cells escaped).
    pub fn write_markdown<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let esc = |s: &String| s.replace('|', "\\|").replace('\n', " ");
        let head: Vec<String> = self.headers.iter().map(esc).collect();
        writeln!(out, "| {} |", head.join(" | "))?;
        writeln!(out, "|{}|", vec!["---"; self.headers.len()].join("|"))?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(esc).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        Ok(())
    }

    /// Writes CSV with a header row.
    pub fn write_csv<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.headers)
            .map_err(std::io::Error::other)?;
        for row in &self.rows {
            w.write_record(row).map_err(std::io::Error::other)?;
        }
        w.flush()
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        widths
    }
}

/// Writes records in a tabular format: JSONL lines, a JSON array, or a table (text, Markdown,
/// CSV) of `columns` (all fields when `None`).
pub fn write_records<W: Write>(
    out: &mut W,
    format: Format,
    records: &[Record],
    columns: Option<&[&str]>,
) -> std::io::Result<()> {
    match format {
        Format::Jsonl => {
            for r in records {
                writeln!(out, "{}", r.to_line())?;
            }
            Ok(())
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, records).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        Format::Table => Table::from_records(records, columns).write_text(out),
        Format::Markdown => Table::from_records(records, columns).write_markdown(out),
        Format::Csv => Table::from_records(records, columns).write_csv(out),
        Format::Sarif => Err(unsupported(Format::Sarif)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RecordType, Timestamp};

    fn records() -> Vec<Record> {
        let t = Timestamp::from_unix(0.0).expect("epoch");
        vec![
            Record::at(RecordType::Finding, "t", t)
                .with("pid", 42)
                .with("name", "a|b"),
            Record::at(RecordType::Finding, "t", t)
                .with("pid", 7)
                .with("rss_mb", 1.23456),
        ]
    }

    #[test]
    fn text_table_aligns_and_right_aligns_numbers() {
        let mut out = Vec::new();
        Table::from_records(&records(), Some(&["pid", "name", "rss_mb"]))
            .write_text(&mut out)
            .expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "pid  name  rss_mb\n---  ----  ------\n 42  a|b\n  7         1.235\n"
        );
    }

    #[test]
    fn markdown_and_csv_escape() {
        let t = Table::from_records(&records(), Some(&["pid", "name"]));
        let mut md = Vec::new();
        t.write_markdown(&mut md).expect("md");
        assert_eq!(
            String::from_utf8(md).expect("utf8"),
            "| pid | name |\n|---|---|\n| 42 | a\\|b |\n| 7 |  |\n"
        );
        let mut csv = Vec::new();
        t.write_csv(&mut csv).expect("csv");
        assert_eq!(
            String::from_utf8(csv).expect("utf8"),
            "pid,name\n42,a|b\n7,\n"
        );
    }

    #[test]
    fn all_columns_by_default_and_jsonl_round_trips() {
        let t = Table::from_records(&records(), None);
        assert_eq!(
            t.headers,
            [
                "type",
                "tool",
                "timestamp_utc",
                "timestamp_unix",
                "pid",
                "name",
                "rss_mb"
            ]
        );
        let mut out = Vec::new();
        write_records(&mut out, Format::Jsonl, &records(), None).expect("jsonl");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Value>(l).is_ok())
        );
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(cell(&serde_json::json!(2.5)), "2.5");
        assert_eq!(cell(&serde_json::json!(-0.0001)), "0");
        assert_eq!(cell(&serde_json::json!([1, 2])), "[1,2]");
    }
}
