//! `agencybot`: the one binary. It reads the configuration, opens the store
//! and wires the crates together; the work itself lives in the library crates.

mod alerts;
mod chat;
mod cli;
mod config;
mod doctor;
mod integrations;
mod members;
mod memory;
mod serve;
mod setup;
mod skills;
mod tasks;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
