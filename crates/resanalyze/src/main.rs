//! The resanalyze command; see the library for everything.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_tool("resanalyze", || resanalyze::run(clap::Parser::parse()))
}
