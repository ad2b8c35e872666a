//! One argv builder per tool: every process the soak starts is built here from typed values,
//! as an argv vector (never a shell string), its output routed into the run directory.

pub mod logrotate;
pub mod logscan;
pub mod orphan_cancel;
pub mod resanalyze;
pub mod resmon;
pub mod seccheck;
pub mod zombiereap;
