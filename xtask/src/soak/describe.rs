//! How the run's states read in its messages: the progress line's leak estimate, exit
//! statuses, the service's command.

use super::records::EarlyRecord;

/// The progress line's leak estimate from resanalyze's `estimate` event.
pub fn estimate_text(e: &EarlyRecord) -> String {
    match (e.leak_verdict.as_deref(), e.slope_mb_per_hour) {
        (Some("insufficient_data") | None, _) => "leak: too little data yet".into(),
        (Some(verdict), Some(slope)) => {
            format!("leak est. {slope:+.1} MB/h ({})", verdict.replace('_', " "))
        }
        (Some(verdict), None) => format!("leak: {}", verdict.replace('_', " ")),
    }
}

/// A stop the soak asked for: 0, or the conventional statuses of SIGTERM and SIGINT.
pub fn clean_stop(s: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(s.code(), Some(0 | 130 | 143))
        || matches!(s.signal(), Some(libc::SIGTERM | libc::SIGINT))
}

/// The command as a shell would take it back: words with spaces or quotes are quoted.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a process's end reads: `exit status 1`, `signal 9`, `still running`.
pub fn status_text(s: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match s {
        Some(s) if s.code().is_some() => format!("exit status {}", s.code().unwrap_or_default()),
        Some(s) => format!("signal {}", s.signal().unwrap_or_default()),
        None => "still running".into(),
    }
}
