//! Why a wait for the next tick ended, on every OS ([`crate::waiter`]).

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The time passed.
    Timeout,
    /// A termination signal (on Windows, a console event) arrived.
    Signal,
    /// A watched process exited (its PID).
    Exited(i32),
}
