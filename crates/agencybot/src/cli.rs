//! Command-line interface: parsing and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use agencybot_core::Role;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, DEFAULT_CONFIG_PATH};
use crate::{alerts, chat, doctor, integrations, members, setup, tasks};

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
    /// List, add, edit, pause, resume, delete and run scheduled tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Ready-made scheduled tasks: list them or start one.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
    /// What requests cost: tokens, USD and OnlyFansAPI credits.
    Usage(UsageArgs),
    /// Connected apps (MCP servers): list them, or test them and their tools.
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
    /// Live alerts from OnlyFansAPI webhooks: list, add, remove, test.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Print a one-time sign-in link to the web console for a member.
    ConsoleLink {
        /// The member's name, as `members list` shows it.
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The team's alerts and its webhook.
    List(TeamArg),
    /// Add an alert (creates or subscribes the team's webhook; asks first).
    Add {
        /// whale_tip, ppv_unlocked, new_subscribers, chargeback or account_health.
        kind: String,
        /// The channel (as named in the config) the alert is posted on.
        #[arg(long)]
        channel: String,
        /// The chat, user or channel id on that channel.
        #[arg(long)]
        destination: String,
        /// Tips or PPVs of at least this many dollars.
        #[arg(long)]
        threshold_usd: Option<String>,
        /// Only these accounts (acct_…); repeat for several. Default: all.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Gather alerts into a digest every this many minutes.
        #[arg(long)]
        digest_minutes: Option<i64>,
        /// Quiet hours in the team's time zone, e.g. 23:00-07:00.
        #[arg(long)]
        quiet: Option<String>,
        /// Do not ask before changing the webhook.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Remove an alert by id (deletes the webhook with the last one; asks first).
    Remove {
        id: i64,
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Sends a signed test delivery to the receiver at `public_url`, as
    /// OnlyFansAPI would, and says whether it was accepted.
    Test(TeamArg),
}

#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// Every configured integration, connected to, with its tool counts.
    List,
    /// Connect to one integration (or all) and list every tool, read-only or not.
    Test {
        /// The integration's name (default: all).
        name: Option<String>,
    },
    /// Sign in to an integration that uses OAuth: prints an address to open
    /// in a browser and keeps the tokens, sealed, in the database.
    Connect {
        name: String,
        /// Local port the browser is sent back to (default: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// How long to wait for the sign-in, in seconds.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// Forget an integration's OAuth sign-in.
    Disconnect { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Every task of the team with its schedule, status and next run.
    List(TeamArg),
    /// A task and its recent runs.
    Show {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Create a task.
    Add {
        name: String,
        #[command(flatten)]
        fields: TaskFields,
        /// A write runs may make without asking: an endpoint id and the
        /// arguments fixed for it, e.g. "mass-messaging.send-mass-message
        /// account=acct_1 userLists=[\"1100\"]"; repeatable. Without any,
        /// runs never change anything.
        #[arg(long = "allow-write", value_name = "ENDPOINT [ARG=VALUE …]")]
        allowed_writes: Vec<String>,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Change a task; options not given keep their value.
    Edit {
        name: String,
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: TaskFields,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Stop a task's runs until it is resumed.
    Pause {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Resume a paused task from its next fire time.
    Resume {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Delete a task and its run history.
    Delete {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
    /// Make a task due now; the running bot runs it within a tick.
    Run {
        name: String,
        #[command(flatten)]
        team: TeamArg,
    },
}

#[derive(Debug, Args)]
pub struct TaskFields {
    /// What each run asks (runs cannot ask back, so state every choice).
    #[arg(long)]
    pub prompt: Option<String>,
    /// "daily 08:00", "weekly mon,fri 09:30", "monthly 1 08:00",
    /// "every 15 minutes", "every 2 hours" or a 5-field crontab.
    #[arg(long)]
    pub schedule: Option<String>,
    /// IANA timezone the schedule is read in, e.g. Europe/Berlin
    /// (default: the team's, else UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Channel name from the config the results go to (default: the team's
    /// only channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// Chat on that channel: Telegram chat ID, Slack or Discord channel ID.
    #[arg(long)]
    pub destination: Option<String>,
    /// A skill the task follows.
    #[arg(long)]
    pub skill: Option<String>,
    /// Model for this task (default: the team's).
    #[arg(long)]
    pub model: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// Every workflow with its category and default schedule.
    List,
    /// Create a scheduled task from a workflow.
    Use {
        slug: String,
        /// Task name (default: the workflow's name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: Box<TaskFields>,
        #[command(flatten)]
        team: TeamArg,
    },
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// today, 7d, 30d, 6m, 1y or all.
    #[arg(long, default_value = "7d")]
    pub period: String,
    /// Group by type, model, platform or user.
    #[arg(long, default_value = "type")]
    pub by: String,
    /// Write the period's requests, one per line, to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write a PNG chart of the period to this file.
    #[arg(long, value_name = "FILE.png")]
    pub chart: Option<PathBuf>,
    /// What the chart shows: cost, credits, tokens or searches.
    #[arg(long, default_value = "cost")]
    pub measure: String,
    /// List the period's requests (newest first) after the totals.
    #[arg(long)]
    pub activity: bool,
    /// Only requests from this platform (telegram, slack, discord, terminal).
    #[arg(long)]
    pub platform: Option<String>,
    /// Only requests of this type (chat, scheduled_task).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only requests answered by this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only requests from this platform user ID.
    #[arg(long)]
    pub user: Option<String>,
    #[command(flatten)]
    pub team: TeamArg,
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
        Command::Tasks(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let store = setup::open_ready_store(&config).await?;
            let result = tasks::run(&store, &config, command).await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Workflows(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            tasks::workflows(&config, &environment(), command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Usage(args) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let store = setup::open_ready_store(&config).await?;
            let result = tasks::usage(&store, &config, args).await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Integrations(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            integrations::run(&config, &environment(), command).await
        }
        Command::Alerts(command) => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let store = setup::open_ready_store(&config).await?;
            let result = alerts::run(&store, &config, &environment(), command).await;
            store.close().await;
            result
        }
        Command::ConsoleLink { name, team } => {
            let config = load_config(&cli)?;
            setup::init_logging(&config);
            let settings = setup::console_settings(&config)?.context(
                "the web console is off: set [web] listen and public_url in the config first",
            )?;
            let store = setup::open_ready_store(&config).await?;
            let result = async {
                let team = setup::pick_team(&store, &config, team.team.as_deref()).await?;
                let link = agencybot_console::issue_link(
                    &store,
                    &settings.public_url,
                    team.id,
                    name,
                    chrono::Utc::now(),
                    settings.link_ttl,
                )
                .await?;
                println!(
                    "Sign-in link for {name} ({} team), works once for {} minutes:\n{link}",
                    team.name,
                    settings.link_ttl.as_secs().div_ceil(60)
                );
                anyhow::Ok(())
            }
            .await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
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
