//! Windows: console control events (the graceful stop), processes pinned by handle, and the
//! Job Object under which `run` starts a command.

pub mod console;
pub mod job;
pub mod process;
