//! The `orphan-cancel` binary; the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("orphan-cancel", orphan_cancel::run)
}
