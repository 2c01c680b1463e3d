//! Command-line interface: parsing and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use agencybot_core::Role;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, DEFAULT_CONFIG_PATH};
use crate::{chat, doctor, members, setup};

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
    /// Serve a local OnlyFansAPI sandbox with synthetic agency data.
    Sandbox(SandboxArgs),
    /// Talk to agencybot in this terminal.
    Chat(ChatArgs),
    /// List, show, install, remove and check skills.
    #[command(subcommand)]
    Skills(SkillsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// Every skill and bundle, marking those the team has installed.
    List {
        #[command(flatten)]
        team: TeamArg,
    },
    /// A skill's description and playbook.
    Show { name: String },
    /// Install a skill, or every skill of a bundle.
    Install {
        #[command(flatten)]
        target: SkillTarget,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Remove a skill, or every skill of a bundle (even those also installed alone).
    Remove {
        #[command(flatten)]
        target: SkillTarget,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Check skill folders (the configured ones when none are given).
    Validate { dirs: Vec<PathBuf> },
}

#[derive(Debug, Args)]
pub struct SkillTarget {
    /// Skill name, e.g. churn-rescue.
    pub name: Option<String>,
    /// A bundle instead, e.g. Engagement.
    #[arg(long, conflicts_with = "name")]
    pub bundle: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Use an in-process OnlyFansAPI sandbox instead of the real API.
    #[arg(long)]
    pub sandbox: bool,
    /// Team name; may be omitted when there is one team.
    #[arg(long)]
    pub team: Option<String>,
    /// Folder for files the bot sends (CSV exports).
    #[arg(long, default_value = "exports")]
    pub files: PathBuf,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The API key clients must send as `Authorization: Bearer …`.
    #[arg(long, env = "AGENCYBOT_SANDBOX_API_KEY", default_value = "sandbox")]
    pub api_key: String,
    /// Seed of the synthetic data; the same seed gives the same agency.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Requests per minute before answering 429 (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Credits the sandbox starts with.
    #[arg(long, default_value_t = 100_000)]
    pub credits: i64,
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
        Command::Sandbox(args) => sandbox(args).await,
        Command::Skills(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            crate::skills::run(&config, command).await
        }
        Command::Chat(args) => {
            let env = environment();
            // Trying the bot needs no config file: the defaults and the
            // environment are enough.
            let config = match config::load(&cli.config, &env) {
                Err(config::ConfigError::Missing(path))
                    if path == std::path::Path::new(DEFAULT_CONFIG_PATH) =>
                {
                    eprintln!(
                        "note: {DEFAULT_CONFIG_PATH} not found; using the defaults and the environment"
                    );
                    config::parse(&path, "", &env)?
                }
                other => other?,
            };
            setup::init_logging(&config);
            chat::run(
                &config,
                &env,
                chat::ChatOptions {
                    sandbox: args.sandbox,
                    team: args.team.clone(),
                    files: args.files.clone(),
                },
            )
            .await
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

async fn sandbox(args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let mut config = SandboxConfig::new(args.api_key.clone());
    config.seed = args.seed;
    config.rate_limit_per_minute = args.rate_limit;
    config.initial_credits = args.credits;
    let sandbox = Sandbox::start(config, args.port)
        .await
        .with_context(|| format!("starting the sandbox on 127.0.0.1:{}", args.port))?;
    let accounts = sandbox.inspect(|data| {
        data.accounts
            .iter()
            .map(|a| format!("{} (@{})", a.id, a.username))
            .collect::<Vec<_>>()
            .join(", ")
    });
    println!("OnlyFansAPI sandbox listening on {}", sandbox.url());
    println!("Accounts: {accounts}");
    println!(
        "Point agencybot at it with AGENCYBOT_OFAPI_BASE_URL={} and the API key you chose. Ctrl-C stops it.",
        sandbox.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.stop().await;
    Ok(ExitCode::SUCCESS)
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
