//! The `orphan-cancel` binary; the logic lives in the library.
fn main() -> std::process::ExitCode {
    soak_core::exit::run_tool(
        "orphan-cancel",
        || orphan_cancel::run(clap::Parser::parse()),
    )
}
