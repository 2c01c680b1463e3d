//! `agencybot integrations …`: which apps are configured, and whether each
//! answers.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agencybot_integrations::{Catalog, Integrations, Server, ServerError, SignIn, Vault};
use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::IntegrationsCommand;
use crate::config::{Config, Secrets};
use crate::setup;

pub async fn run(
    config: &Config,
    env: &[(String, String)],
    command: &IntegrationsCommand,
) -> anyhow::Result<ExitCode> {
    let secrets = Secrets::load(config, env)?;
    match command {
        IntegrationsCommand::List => check(config, &secrets, None, false).await,
        IntegrationsCommand::Test { name } => check(config, &secrets, name.as_deref(), true).await,
        IntegrationsCommand::Connect {
            name,
            port,
            wait_secs,
        } => {
            connect(
                config,
                &secrets,
                name,
                *port,
                Duration::from_secs(*wait_secs),
            )
            .await
        }
        IntegrationsCommand::Disconnect { name } => disconnect(config, &secrets, name).await,
    }
}

/// Reaches one integration (`only`) or all, and reports each.
async fn check(
    config: &Config,
    secrets: &Secrets,
    only: Option<&str>,
    show_tools: bool,
) -> anyhow::Result<ExitCode> {
    let store = if config.integrations.iter().any(|i| i.oauth) {
        Some(setup::open_ready_store(config).await?)
    } else {
        None
    };
    let integrations = setup::integrations(config, secrets, store.as_ref())?;
    let left_out: Vec<&str> = config
        .integrations
        .iter()
        .map(|i| i.name.get_ref().as_str())
        .filter(|name| integrations.get(name).is_none())
        .collect();
    let servers: Vec<Arc<Server>> = match only {
        None => integrations.servers().to_vec(),
        Some(name) => match integrations.get(name) {
            Some(server) => vec![server.clone()],
            None if left_out.contains(&name) => {
                anyhow::bail!(
                    "integration `{name}` is left out: a secret it needs is not set (`agencybot doctor` names it)"
                )
            }
            None => anyhow::bail!(
                "there is no integration `{name}`; configured: {}",
                names(&integrations)
            ),
        },
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
        server.disconnect().await;
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

/// The integration `name` if it signs in with OAuth, with its vault.
async fn signing_in(
    config: &Config,
    secrets: &Secrets,
    name: &str,
) -> anyhow::Result<(Arc<Server>, Arc<Vault>, agencybot_store::Store)> {
    let Some(integration) = config
        .integrations
        .iter()
        .find(|i| i.name.get_ref() == name)
    else {
        anyhow::bail!(
            "there is no integration `{name}`; configured: {}",
            config
                .integrations
                .iter()
                .map(|i| i.name.get_ref().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if !integration.oauth {
        anyhow::bail!(
            "integration `{name}` does not sign in with OAuth (add `oauth = true` to its [[integrations]] section if its server asks for a sign-in)"
        );
    }
    let key_env = &config.database.sealing_key_env;
    if secrets.get(key_env).is_none() {
        anyhow::bail!(
            "{key_env} is not set: sign-ins are sealed with it; choose a random phrase of at least 32 characters (e.g. `openssl rand -hex 32`) and keep it"
        );
    }
    let store = setup::open_ready_store(config).await?;
    let vault =
        setup::sign_in_vault(config, secrets, Some(&store))?.context("sign-ins cannot be kept")?;
    let integrations = setup::integrations(config, secrets, Some(&store))?;
    let server = integrations.get(name).cloned().with_context(|| {
        format!("integration `{name}` is left out (`agencybot doctor` says why)")
    })?;
    Ok((server, vault, store))
}

/// A browser sign-in: the browser comes back to a listener on this machine;
/// when it runs elsewhere, the address it was sent to can be pasted instead.
async fn connect(
    config: &Config,
    secrets: &Secrets,
    name: &str,
    port: u16,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let (server, vault, store) = signing_in(config, secrets, name).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the sign-in"))?;
    let redirect = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr()?.port()
    );
    let sign_in = SignIn::begin(&server.spec, &vault, &redirect)
        .await
        .with_context(|| format!("starting the sign-in to `{name}`"))?;
    println!(
        "Open this address in a browser and sign in to {}:\n\n  {}\n\nWaiting up to {} minute(s). If the browser runs on another machine, paste here the address it was sent to after signing in (it starts with {redirect}).",
        server.spec.title,
        sign_in.url(),
        wait.as_secs().div_ceil(60),
    );
    let came_back = tokio::time::timeout(wait, redirected(&listener, &redirect))
        .await
        .map_err(|_| {
            anyhow::anyhow!("no sign-in within {} s; nothing was kept", wait.as_secs())
        })??;
    if let Some(refusal) = refusal(&came_back) {
        anyhow::bail!("the sign-in was not granted: {refusal}; nothing was kept");
    }
    sign_in
        .finish(&came_back)
        .await
        .with_context(|| format!("completing the sign-in to `{name}`"))?;
    println!(
        "✓ Signed in to {}: the tokens are sealed in the database.",
        server.spec.title
    );
    let reached = server.tools().await;
    print!("{}", report(&server, &reached, false));
    // Its session is ended while the sign-in can still be read.
    server.disconnect().await;
    store.close().await;
    Ok(if reached.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn disconnect(config: &Config, secrets: &Secrets, name: &str) -> anyhow::Result<ExitCode> {
    let (server, vault, store) = signing_in(config, secrets, name).await?;
    let cleared = vault.clear(name).await?;
    store.close().await;
    if cleared {
        println!(
            "Signed out of {}: its tokens are deleted.",
            server.spec.title
        );
    } else {
        println!("{} was not signed in.", server.spec.title);
    }
    Ok(ExitCode::SUCCESS)
}

/// The address the browser was sent back to: from the listener, or a line
/// pasted on standard input.
async fn redirected(listener: &tokio::net::TcpListener, redirect: &str) -> anyhow::Result<String> {
    // A plain thread: tokio's stdin would hold the process open at exit
    // until another line came.
    let (lines, mut pasted) = tokio::sync::mpsc::channel::<std::io::Result<String>>(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin_open = true;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                if let Some(path) = callback_request(stream).await {
                    return Ok(format!("{}{path}", redirect.trim_end_matches("/callback")));
                }
            }
            line = pasted.recv(), if stdin_open => match line {
                Some(Ok(line)) if line.trim().starts_with(redirect) => return Ok(line.trim().to_owned()),
                Some(Ok(line)) if line.trim().is_empty() => {}
                Some(Ok(_)) => println!("That is not the address the browser was sent to (it starts with {redirect}); waiting."),
                None | Some(Err(_)) => stdin_open = false,
            },
        }
    }
}

/// Reads one request; answers it, and returns its path when it is the
/// sign-in's callback.
async fn callback_request(mut stream: tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("GET "))
        .and_then(|rest| rest.split(' ').next())
        .filter(|path| path.starts_with("/callback?"))
        .map(str::to_owned);
    let (status, body) = match &path {
        Some(_) => (
            "200 OK",
            "Signed in to agencybot's integration. You can close this tab.",
        ),
        None => ("404 Not Found", "Not the sign-in address."),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
    path
}

/// The authorization server's "no", if the redirect carries one.
fn refusal(redirected_to: &str) -> Option<String> {
    let query = redirected_to.split_once('?')?.1;
    let field = |key: &str| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == key).then(|| v.replace('+', " "))
        })
    };
    let error = field("error")?;
    Some(match field("error_description") {
        Some(description) => format!("{error} ({description})"),
        None => error,
    })
}
