//! Command-line interface: parsing and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use agencybot_core::Role;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, DEFAULT_CONFIG_PATH};
use crate::{doctor, members, setup};

/// Self-hosted AI assistant for OnlyFans agencies: answers from live
/// OnlyFansAPI data in Telegram, Slack and Discord, and asks before every write.
#[derive(Debug, Parser)]
#[command(name = "agencybot", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "AGENCYBOT_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every configured channel and serve until stopped.
    Run,
    /// Create or update the database schema.
    Migrate,
    /// Check the configuration, the database and the secrets.
    Doctor,
    /// Manage the members of a team.
    #[command(subcommand)]
    Members(MembersCommand),
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List members with their roles and platform user IDs.
    List(TeamArg),
    /// Add a member.
    Add {
        name: String,
        /// owner, admin, member or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Telegram numeric user ID (repeatable).
        #[arg(long = "telegram", value_name = "ID")]
        telegram: Vec<String>,
        /// Slack user ID, like U0123ABCD (repeatable).
        #[arg(long = "slack", value_name = "ID")]
        slack: Vec<String>,
        /// Discord user ID (repeatable).
        #[arg(long = "discord", value_name = "ID")]
        discord: Vec<String>,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Remove a member added with `members add`.
    Remove {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Change the role of a member added with `members add`.
    SetRole {
        name: String,
        #[arg(value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        team: TeamArg,
    },
}

#[derive(Debug, Args)]
pub struct TeamArg {
    /// Team name; may be omitted when there is one team.
    #[arg(long)]
    pub team: Option<String>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
        .map_err(|err: agencybot_core::ParseError| err.to_string())
}

fn environment() -> Vec<(String, String)> {
    std::env::vars().collect()
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    Ok(config::load(&cli.config, &environment())?)
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Doctor => Ok(doctor::run(&cli.config, &environment()).await),
        Command::Migrate => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let store = setup::open_store(&config).await?;
            let applied = store.migrate().await.context("migrating the database")?;
            let status = store.migration_status().await?;
            if applied.is_empty() {
                println!(
                    "{} schema is up to date ({} migrations applied).",
                    store.backend(),
                    status.applied.len()
                );
            } else {
                println!(
                    "Applied {} migration(s) to {}:",
                    applied.len(),
                    store.backend()
                );
                for name in applied {
                    println!("  {name}");
                }
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            setup::run(&cli.config, &config, &environment()).await
        }
        Command::Members(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let store = setup::open_ready_store(&config).await?;
            let result = members::run(&store, &config, command).await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
