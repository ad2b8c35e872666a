//! The `seccheck` binary; the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("seccheck", seccheck::run)
}
