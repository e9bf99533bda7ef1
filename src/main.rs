//! The `docuvault` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let code = docuvault::cli::run(docuvault::cli::Cli::parse());
    // Log lines still queued when the server stopped are written before exit.
    docuvault::telemetry::flush();
    code
}
