//! The one hang rule, shared by `--follow`'s live watchdog and the final pass's
//! `heartbeat_gap` check, so the two always agree:
//!
//! - the watchdog **arms only once the log has shown a heartbeat** (the built-in `[HB] alive`,
//!   a pack pattern of kind `heartbeat`, or `--heartbeat-regex`); before that, silence is never
//!   a hang (a service that takes ten minutes to print its first heartbeat is not hung, and a
//!   service that prints none cannot be judged by this rule at all);
//! - once armed, a silence longer than the limit since the last heartbeat is a hang.
//!
//! The live watchdog measures silence on the wall clock, the final pass on the log's own times
//! up to `--end-time`; both ask [`overdue`].

/// Which rule judged the heartbeat, as the summary's `heartbeat_rule` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatRule {
    /// The log showed a heartbeat: gaps between heartbeats, and from the last one to the end
    /// of the window, are judged.
    Armed,
    /// No heartbeat in the log: nothing to judge (`no_data`).
    NoHeartbeat,
    /// No heartbeat in the log although one was demanded (`--max-heartbeat-gap` given without
    /// `--heartbeat-optional`): the check fails.
    Required,
}

impl HeartbeatRule {
    /// The rule for a log that showed `heartbeats` heartbeats; `required` when the user
    /// demanded one.
    pub fn for_log(heartbeats: u64, required: bool) -> Self {
        match (heartbeats, required) {
            (0, true) => HeartbeatRule::Required,
            (0, false) => HeartbeatRule::NoHeartbeat,
            _ => HeartbeatRule::Armed,
        }
    }

    /// The summary's `heartbeat_rule` value.
    pub fn as_str(self) -> &'static str {
        match self {
            HeartbeatRule::Armed => "armed after first heartbeat",
            HeartbeatRule::NoHeartbeat => "no heartbeat in the log",
            HeartbeatRule::Required => "no heartbeat in the log, but one was required",
        }
    }
}

/// Whether a silence of `silent_s` seconds is a hang, after `heartbeats` heartbeats, with the
/// limit `limit_s`: only an armed watchdog (at least one heartbeat seen) can see a hang.
pub fn overdue(heartbeats: u64, silent_s: f64, limit_s: f64) -> bool {
    heartbeats > 0 && silent_s > limit_s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_before_the_first_heartbeat_is_never_a_hang() {
        assert!(!overdue(0, 1e9, 300.0));
        assert!(!overdue(1, 300.0, 300.0));
        assert!(overdue(1, 300.001, 300.0));
    }

    #[test]
    fn the_rule_names_what_judged() {
        assert_eq!(HeartbeatRule::for_log(0, false), HeartbeatRule::NoHeartbeat);
        assert_eq!(HeartbeatRule::for_log(0, true), HeartbeatRule::Required);
        assert_eq!(HeartbeatRule::for_log(3, true), HeartbeatRule::Armed);
        assert_eq!(
            HeartbeatRule::for_log(3, false).as_str(),
            "armed after first heartbeat"
        );
    }
}
