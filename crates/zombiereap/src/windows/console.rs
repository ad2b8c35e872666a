//! The graceful stop on Windows: `CTRL_BREAK_EVENT` sent to a console process group. A
//! program started with `CREATE_NEW_PROCESS_GROUP` leads a group whose ID is its PID; its
//! children share that group unless they start their own. `--signal` accepts the Unix names
//! scripts already use (TERM, INT) and BREAK: all of them mean Ctrl+Break here, the one
//! console event a parent can send to one group alone (Ctrl+C reaches a whole console).

use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};

/// The graceful signal of `kill-tree` on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `CTRL_BREAK_EVENT` to the root's console process group.
    CtrlBreak,
}

impl Signal {
    /// The name the records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::CtrlBreak => "CTRL_BREAK_EVENT",
        }
    }
}

/// Parses `TERM`, `INT`, `BREAK` (with or without `SIG`, or as 15, 2, 21): Ctrl+Break.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let up = s.trim().to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    match name {
        "TERM" | "INT" | "BREAK" | "CTRL_BREAK" | "15" | "2" | "21" => Ok(Signal::CtrlBreak),
        _ => Err(format!(
            "'{s}': on Windows the graceful signal is Ctrl+Break (TERM, INT or BREAK); \
             the forced end after --timeout is TerminateProcess"
        )),
    }
}

/// Sends Ctrl+Break to the console process group `group` (a group leader's PID). Fails when
/// this process has no console or the group is not on it.
pub fn ctrl_break(group: i32) -> std::io::Result<()> {
    let group = u32::try_from(group).map_err(|_| std::io::Error::other("negative PID"))?;
    // SAFETY: plain call with a group ID.
    if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_names_mean_ctrl_break() {
        for s in ["TERM", "sigint", "BREAK", "15", "SIGBREAK"] {
            assert_eq!(parse_signal(s), Ok(Signal::CtrlBreak), "{s}");
        }
        let err = parse_signal("KILL").expect_err("no SIGKILL as a graceful signal");
        assert!(err.contains("'KILL'"), "{err}");
    }
}
