//! The `docuvault` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    docuvault::cli::run(docuvault::cli::Cli::parse())
}
