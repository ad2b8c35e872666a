//! The `exchange-sim` binary; the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("exchange-sim", exchange_sim::run)
}
