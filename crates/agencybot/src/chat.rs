//! `agencybot chat`: the turn engine in a terminal, with the same
//! confirmations as every channel (answer yes or no).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agencybot_agent::{Mode, TurnRequest};
use agencybot_core::{
    ConversationKey, InboundContent, OutboundMessage, Platform, RequestKind, Role, Secret,
};
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use anyhow::Context;
use tokio::io::AsyncBufReadExt;

use crate::config::{Config, Secrets, TERMINAL_CHANNEL};
use crate::setup::{self, ApiTarget};

pub struct ChatOptions {
    pub sandbox: bool,
    pub team: Option<String>,
    /// Where exported files are written.
    pub files: PathBuf,
}

pub async fn run(
    config: &Config,
    env: &[(String, String)],
    options: ChatOptions,
) -> anyhow::Result<ExitCode> {
    let secrets = Secrets::load(config, env)?;
    // The sandbox lives as long as the chat.
    let mut sandbox: Option<Sandbox> = None;
    let api = if options.sandbox {
        let key = format!("sandbox-{}", std::process::id());
        let started = Sandbox::start(SandboxConfig::new(key.clone()), 0)
            .await
            .context("starting the in-process sandbox")?;
        let base_url = started.url();
        sandbox = Some(started);
        ApiTarget {
            base_url,
            api_key: Secret::new(key),
        }
    } else {
        setup::configured_api(config, &secrets)?
    };
    // A rehearsal keeps its history, usage and pending actions in a store of
    // its own, so nothing of it mixes with the team's real data.
    let store = if options.sandbox {
        let store = agencybot_store::Store::in_memory()
            .await
            .context("opening the sandbox's own store")?;
        setup::sync_config(&store, config).await?;
        store
    } else {
        setup::open_ready_store(config).await?
    };
    let team = setup::pick_team(&store, config, options.team.as_deref()).await?;
    let engine = setup::engine(config, &secrets, store.clone(), api, setup::skills(config))?;
    engine
        .recover_interrupted()
        .await
        .context("looking for interrupted writes")?;
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let conversation =
        ConversationKey::direct(TERMINAL_CHANNEL, Platform::Terminal, "local", user.clone());

    println!(
        "agencybot — team `{}`{}.",
        team.name,
        if sandbox.is_some() {
            ", OnlyFansAPI sandbox"
        } else {
            ""
        }
    );
    println!(
        "Ask anything about your accounts. Answer yes/no when asked to confirm. /reset forgets, /quit leaves."
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("\nyou> ");
        let _ = std::io::stdout().flush();
        let Some(line) = lines.next_line().await.context("reading the terminal")? else {
            break;
        };
        let line = line.trim();
        let content = match line {
            "" => continue,
            "/quit" | "/exit" => break,
            "/reset" | "/start" => InboundContent::Reset,
            text => InboundContent::Text(text.to_owned()),
        };
        let request = TurnRequest {
            team: team.clone(),
            conversation: conversation.clone(),
            user_id: user.clone(),
            // Whoever runs the binary owns the installation.
            role: Role::Owner,
            content,
            kind: RequestKind::Chat,
            model: None,
            mode: Mode::Interactive,
            instructions: None,
        };
        let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
        let printer = {
            let files = options.files.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    show(event, &files);
                }
            })
        };
        engine.handle(request, &sink).await;
        drop(sink);
        let _ = printer.await;
    }
    store.close().await;
    if let Some(sandbox) = sandbox {
        sandbox.stop().await;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(event: OutboundMessage, files: &Path) {
    match event {
        OutboundMessage::Typing => {}
        OutboundMessage::Progress(text) => println!("… {text}"),
        OutboundMessage::Text(text) => println!("agencybot> {text}"),
        OutboundMessage::Confirmation { text, .. } => println!("agencybot> {text}\n[yes / no]"),
        OutboundMessage::File(file) => {
            let saved = std::fs::create_dir_all(files).and_then(|()| {
                let path = files.join(sanitize(&file.file_name));
                std::fs::write(&path, &file.bytes).map(|()| path)
            });
            match saved {
                Ok(path) => println!(
                    "agencybot> saved {} ({} bytes)",
                    path.display(),
                    file.bytes.len()
                ),
                Err(err) => println!("agencybot> could not save {}: {err}", file.file_name),
            }
        }
    }
}

/// A file name from the model, made safe to write in the export folder.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "export.csv".into()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_file_names_cannot_escape_the_folder() {
        assert_eq!(sanitize("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize("top fans.csv"), "top_fans.csv");
        assert_eq!(sanitize(".."), "export.csv");
    }
}
