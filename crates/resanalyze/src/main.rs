//! The resanalyze command; see the library for everything.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_cli("resanalyze", resanalyze::run)
}
