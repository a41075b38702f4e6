//! `rdesk`: with no arguments the workstation TUI; `rdesk <verb>` the Docker-compatible CLI.

mod attach_client;
mod cli;
mod tui;

use clap::Parser;

fn main() {
    // The container monitor: dispatched before anything starts a thread (it forks).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(rdesk_engine::shim::main(&args[2..]));
    }
    let code = match cli::Cli::try_parse() {
        Ok(cli) => cli::run(cli),
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // Docker's CLI exits 125 on usage errors, for every verb.
                _ => 125,
            };
            let _ = e.print();
            code
        }
    };
    std::process::exit(code);
}
