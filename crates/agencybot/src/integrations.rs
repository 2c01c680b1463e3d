//! `agencybot integrations …`: which apps are configured, and whether each
//! answers.

use std::process::ExitCode;
use std::sync::Arc;

use agencybot_integrations::{Catalog, Integrations, Server, ServerError};

use crate::cli::IntegrationsCommand;
use crate::config::{Config, Secrets};
use crate::setup;

pub async fn run(
    config: &Config,
    env: &[(String, String)],
    command: &IntegrationsCommand,
) -> anyhow::Result<ExitCode> {
    let secrets = Secrets::load(config, env)?;
    let integrations = setup::integrations(config, &secrets)?;
    let left_out: Vec<&str> = config
        .integrations
        .iter()
        .map(|i| i.name.get_ref().as_str())
        .filter(|name| integrations.get(name).is_none())
        .collect();
    let (servers, show_tools): (Vec<Arc<Server>>, bool) = match command {
        IntegrationsCommand::List => (integrations.servers().to_vec(), false),
        IntegrationsCommand::Test { name: Some(name) } => match integrations.get(name) {
            Some(server) => (vec![server.clone()], true),
            None if left_out.contains(&name.as_str()) => {
                anyhow::bail!(
                    "integration `{name}` is left out: a secret it needs is not set (`agencybot doctor` names it)"
                )
            }
            None => anyhow::bail!(
                "there is no integration `{name}`; configured: {}",
                names(&integrations)
            ),
        },
        IntegrationsCommand::Test { name: None } => (integrations.servers().to_vec(), true),
    };
    if config.integrations.is_empty() {
        println!(
            "No integrations are configured: add [[integrations]] sections to the config (see config/agencybot.example.toml)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    for name in &left_out {
        println!("✗ {name}: left out, a secret it needs is not set (`agencybot doctor` names it)");
    }
    let reached = Integrations::reach(&servers).await;
    let mut failed = !left_out.is_empty();
    for (server, tools) in servers.iter().zip(reached) {
        failed |= tools.is_err();
        print!("{}", report(server, &tools, show_tools));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn names(integrations: &Integrations) -> String {
    let names: Vec<&str> = integrations
        .servers()
        .iter()
        .map(|s| s.spec.name.as_str())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// One integration: what it is, whether it answered, and its tools.
pub fn report(
    server: &Server,
    tools: &Result<Arc<Catalog>, ServerError>,
    show_tools: bool,
) -> String {
    let spec = &server.spec;
    let mut text = String::new();
    let head = format!(
        "{} ({}) — team {}, {}, {}{}",
        spec.name,
        spec.title,
        spec.team,
        spec.scope.label(),
        spec.transport.describe(),
        if spec.trusted { ", trusted" } else { "" }
    );
    match tools {
        Err(error) => text.push_str(&format!("✗ {head}\n    not reachable: {error}\n")),
        Ok(catalog) => {
            text.push_str(&format!(
                "✓ {head}\n    {} tool(s), {} read-only{}{}\n",
                catalog.tools.len(),
                catalog.read_only_count(),
                if catalog.filtered_out > 0 {
                    format!(
                        ", {} left out by allow_tools/deny_tools",
                        catalog.filtered_out
                    )
                } else {
                    String::new()
                },
                if spec.trusted {
                    ": read-only tools run without asking"
                } else {
                    ": not trusted, so every call asks first"
                }
            ));
            if show_tools {
                for tool in &catalog.tools {
                    let kind = match (tool.read_only, spec.trusted, tool.destructive) {
                        (true, true, _) => "reads, runs at once",
                        (true, false, _) => "reads, asks first",
                        (false, _, false) => "writes, asks first",
                        (false, _, true) => "may change or delete, asks first",
                    };
                    let description: String = tool.description.chars().take(90).collect();
                    text.push_str(&format!("    {:<40} {kind:<34} {description}\n", tool.name));
                }
            }
        }
    }
    text
}
