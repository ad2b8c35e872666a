//! The `soak-demo` binary; the service lives in the library (`soak_demo::run`).
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("soak-demo", soak_demo::run)
}
