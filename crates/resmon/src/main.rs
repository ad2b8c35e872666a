//! The `resmon` binary: see the library for everything.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("resmon", resmon::run)
}
