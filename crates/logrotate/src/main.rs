//! The `logrotate` binary (not logrotate(8)); the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("logrotate", logrotate::run)
}
