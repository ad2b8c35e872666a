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

/// A stop the soak asked for: 0, or the conventional statuses of SIGTERM and SIGINT (on
/// Windows also STATUS_CONTROL_C_EXIT, a console program ended by Ctrl+C or Ctrl+Break).
pub fn clean_stop(s: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if matches!(s.signal(), Some(libc::SIGTERM | libc::SIGINT)) {
            return true;
        }
    }
    s.code().is_some_and(|c| clean_code(i64::from(c)))
}

/// An exit status a requested stop ends with: 0, 130 (SIGINT), 143 (SIGTERM), or Windows'
/// STATUS_CONTROL_C_EXIT.
pub fn clean_code(code: i64) -> bool {
    matches!(code, 0 | 130 | 143) || ntstatus(code) == Some(STATUS_CONTROL_C_EXIT)
}

/// Windows' status of a console program that Ctrl+C or Ctrl+Break ended (no handler).
const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// A Windows exit code in the NTSTATUS error range (`0xC...`: the process died of an
/// exception or was ended by the system), however it was stored (as a negative `i32` or as
/// the unsigned value). Unix exit statuses (0..=255) never are.
fn ntstatus(code: i64) -> Option<u32> {
    let bits = u32::try_from(code)
        .ok()
        .or_else(|| i32::try_from(code).ok().map(|c| c as u32))?;
    (0xC000_0000..=0xCFFF_FFFF).contains(&bits).then_some(bits)
}

/// How an exit code reads: `exit status 1`, or for a Windows NTSTATUS its name and meaning
/// (`exit code 0xC000013A (STATUS_CONTROL_C_EXIT: ended by Ctrl+C or Ctrl+Break)`).
pub fn exit_code_text(code: i64) -> String {
    let Some(status) = ntstatus(code) else {
        return format!("exit status {code}");
    };
    let meaning = match status {
        STATUS_CONTROL_C_EXIT => "STATUS_CONTROL_C_EXIT: ended by Ctrl+C or Ctrl+Break",
        0xC000_0005 => "STATUS_ACCESS_VIOLATION: a crash (invalid memory access)",
        0xC000_00FD => "STATUS_STACK_OVERFLOW: a crash",
        0xC000_0409 => "STATUS_STACK_BUFFER_OVERRUN: a fail-fast abort (a Rust abort or panic)",
        0xC000_001D => "STATUS_ILLEGAL_INSTRUCTION: a crash",
        0xC000_0017 | 0xC000_012D => "out of memory",
        0xC000_0094 => "STATUS_INTEGER_DIVIDE_BY_ZERO: a crash",
        _ => "an NTSTATUS error: the process died of an exception or was ended by the system",
    };
    format!("exit code {status:#010X} ({meaning})")
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
    match s {
        Some(s) => match s.code() {
            Some(c) => exit_code_text(i64::from(c)),
            #[cfg(unix)]
            None => {
                use std::os::unix::process::ExitStatusExt;
                format!("signal {}", s.signal().unwrap_or_default())
            }
            #[cfg(not(unix))]
            None => "an unknown status".into(),
        },
        None => "still running".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windows_status_reads_by_name_whichever_sign_it_was_stored_with() {
        // ExitStatus::code() gives NTSTATUS codes as negative i32s.
        let as_i32 = i64::from(0xC000_013A_u32 as i32);
        assert!(as_i32 < 0);
        for code in [as_i32, 0xC000_013A] {
            assert!(clean_code(code), "{code}");
            assert_eq!(
                exit_code_text(code),
                "exit code 0xC000013A (STATUS_CONTROL_C_EXIT: ended by Ctrl+C or Ctrl+Break)"
            );
        }
        assert!(exit_code_text(i64::from(0xC000_0005_u32 as i32)).contains("ACCESS_VIOLATION"));
        assert!(!clean_code(i64::from(0xC000_0005_u32 as i32)));
    }

    #[test]
    fn unix_statuses_read_as_numbers() {
        assert_eq!(exit_code_text(1), "exit status 1");
        assert_eq!(exit_code_text(-1), "exit status -1");
        assert!(clean_code(143) && clean_code(130) && clean_code(0));
        assert!(!clean_code(1) && !clean_code(137));
    }
}
