//! The `logscan` binary; the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_tool("logscan", || logscan::run(clap::Parser::parse()))
}
