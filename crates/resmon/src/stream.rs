//! Where the records go (`--format`): every record as JSONL (the protocol, the default), or
//! the samples alone as CSV rows under a header of the first sample's fields, for a
//! spreadsheet or `pandas.read_csv`. Both are written a whole, flushed line at a time.

use serde_json::Value;
use soak_core::CoreError;
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::record::{Record, RecordType};

/// The formats the stream is written in: a recorder streams rows, it has no table to align
/// or document to close (resanalyze renders those from the JSONL).
pub fn check_format(format: Format) -> Result<(), String> {
    match format {
        Format::Jsonl | Format::Csv => Ok(()),
        other => Err(format!(
            "--format {}: resmon streams its samples as jsonl (every record) or csv (the samples); \
             tables, Markdown and JSON documents come from `resanalyze` over the JSONL",
            other.name()
        )),
    }
}

/// The output stream of a run.
pub struct Stream {
    out: JsonlWriter,
    csv: Option<CsvRows>,
}

/// The CSV state: the columns, fixed by the first sample, and whether the header is due.
struct CsvRows {
    columns: Option<Vec<String>>,
    header_due: bool,
}

impl Stream {
    /// Every record as a JSONL line on `out`.
    pub fn jsonl(out: JsonlWriter) -> Self {
        Stream { out, csv: None }
    }

    /// The samples as CSV rows on `out`; the header first unless `out` already holds rows
    /// (a file appended to).
    pub fn csv(out: JsonlWriter, header_due: bool) -> Self {
        Stream {
            out,
            csv: Some(CsvRows {
                columns: None,
                header_due,
            }),
        }
    }

    /// Writes `rec`: as a line of JSONL, or, in CSV, as a row when it is a sample. A sample
    /// field the first sample did not have is not in the CSV; one it lacks is an empty cell.
    pub fn write(&mut self, rec: &Record) -> Result<(), CoreError> {
        let Some(csv) = &mut self.csv else {
            return self.out.write(rec);
        };
        if rec.kind() != Some(RecordType::Sample) {
            return Ok(());
        }
        let columns = csv
            .columns
            .get_or_insert_with(|| rec.fields().keys().cloned().collect());
        if csv.header_due {
            let header = csv_line(columns.iter().map(String::as_str))?;
            self.out.write_line(&header)?;
            csv.header_due = false;
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|c| rec.get(c).map_or_else(String::new, csv_cell))
            .collect();
        let row = csv_line(cells.iter().map(String::as_str))?;
        self.out.write_line(&row)
    }
}

/// A value as a CSV cell, exactly (no rounding): null empty, strings bare, arrays (the
/// `unavailable` list) and objects as compact JSON.
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One CSV line (quoted where needed, `\n`-terminated).
fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, CoreError> {
    let invalid = |e: csv::Error| CoreError::Write {
        path: "-".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(cells).map_err(invalid)?;
    w.into_inner().map_err(|e| invalid(e.into_error().into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use soak_core::record::Timestamp;

    fn sample(seq: u64, extra: Option<&str>) -> Record {
        let t = Timestamp::from_unix(1.5).expect("time");
        let mut r = Record::at(RecordType::Sample, "resmon", t)
            .with("seq", seq)
            .with("cpu_percent", 12.3456789)
            .with("pid", Value::Null)
            .with("unavailable", vec!["pid: no target"]);
        if let Some(e) = extra {
            r.insert("note", e);
        }
        r
    }

    fn render(stream: impl FnOnce(JsonlWriter) -> Stream, recs: &[Record]) -> String {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut s = stream(JsonlWriter::from_writer(Shared(buf.clone()), "-"));
        for r in recs {
            s.write(r).expect("write");
        }
        let bytes = buf.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf8")
    }

    #[derive(Clone)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn csv_has_one_header_exact_numbers_and_no_events() {
        let event = Record::new(RecordType::Event, "resmon").with("event", "start");
        let text = render(
            |w| Stream::csv(w, true),
            &[event, sample(0, None), sample(1, Some("a,b"))],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "type,tool,timestamp_utc,timestamp_unix,seq,cpu_percent,pid,unavailable"
        );
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].ends_with(",0,12.3456789,,\"[\"\"pid: no target\"\"]\""),
            "{text}"
        );
        assert!(
            lines[2].contains(",1,12.3456789,"),
            "a later field is left out"
        );
        let appended = render(|w| Stream::csv(w, false), &[sample(2, None)]);
        assert_eq!(appended.lines().count(), 1, "no second header: {appended}");
    }

    #[test]
    fn jsonl_keeps_every_record_and_only_streams_are_accepted() {
        let event = Record::new(RecordType::Event, "resmon").with("event", "stop");
        let text = render(Stream::jsonl, &[sample(0, None), event]);
        assert_eq!(text.lines().count(), 2);
        assert!(check_format(Format::Csv).is_ok() && check_format(Format::Jsonl).is_ok());
        for f in [Format::Table, Format::Markdown, Format::Json, Format::Sarif] {
            let e = check_format(f).expect_err("refused");
            assert!(e.starts_with(&format!("--format {}:", f.name())), "{e}");
        }
    }
}
