//! `agencybot skills …`.

use std::path::PathBuf;
use std::process::ExitCode;

use agencybot_skills::{Library, Target, install, installed, remove};
use agencybot_store::Store;

use crate::cli::{SkillTarget, SkillsCommand};
use crate::config::Config;
use crate::setup;

fn target(arguments: &SkillTarget) -> anyhow::Result<Target> {
    match (&arguments.name, &arguments.bundle) {
        (Some(name), None) => Ok(Target::Skill(name.clone())),
        (None, Some(bundle)) => Ok(Target::Bundle(bundle.clone())),
        _ => anyhow::bail!("name a skill, or a bundle with --bundle (not both)"),
    }
}

/// `skills validate` needs no database; the others do.
pub async fn run(config: &Config, command: &SkillsCommand) -> anyhow::Result<ExitCode> {
    if let SkillsCommand::Validate { dirs } = command {
        let dirs: Vec<PathBuf> = if dirs.is_empty() {
            config.skills.dirs()
        } else {
            dirs.clone()
        };
        let library = Library::load(&dirs);
        for problem in library.problems() {
            println!("{problem}");
        }
        let valid = library.skills().count();
        if library.problems().is_empty() {
            println!("{valid} skill(s) valid.");
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{valid} skill(s) valid, {} problem(s).",
            library.problems().len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = setup::open_ready_store(config).await?;
    let result = manage(&store, config, command).await;
    store.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn manage(store: &Store, config: &Config, command: &SkillsCommand) -> anyhow::Result<()> {
    let library = setup::skills(config).library();
    for problem in library.problems() {
        eprintln!("warning: {problem}");
    }
    match command {
        SkillsCommand::List { team } => {
            let team = setup::pick_team(store, config, team.team.as_deref()).await?;
            let mine: Vec<String> = installed(store, &library, team.id)
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect();
            println!("Skills for `{}` ({} installed):", team.name, mine.len());
            for skill in library.skills() {
                println!(
                    "  [{}] {:<28} {:<11} {}",
                    if mine.contains(&skill.name) { "x" } else { " " },
                    skill.name,
                    skill.category.as_deref().unwrap_or("-"),
                    skill.description
                );
            }
            println!("Bundles:");
            for (bundle, skills) in library.bundles() {
                println!("  {bundle}: {}", skills.join(", "));
            }
        }
        SkillsCommand::Show { name } => {
            let skill = library.get(name).ok_or_else(|| {
                anyhow::anyhow!("there is no skill `{name}`; `agencybot skills list` shows them")
            })?;
            println!("{} — {}", skill.name, skill.description);
            println!("category: {}", skill.category.as_deref().unwrap_or("-"));
            println!("bundles: {}", skill.bundles.join(", "));
            println!("tags: {}", skill.tags.join(", "));
            if !skill.references.is_empty() {
                println!("references: {}", skill.references.join(", "));
            }
            println!("\n{}", skill.body);
        }
        SkillsCommand::Install {
            target: arguments,
            team,
        } => {
            let team = setup::pick_team(store, config, team.team.as_deref()).await?;
            let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let added = install(
                store,
                &library,
                team.id,
                &target(arguments)?,
                &by,
                chrono::Utc::now(),
            )
            .await?;
            if added.is_empty() {
                println!("Already installed for `{}`; nothing changed.", team.name);
            } else {
                println!("Installed for `{}`: {}", team.name, added.join(", "));
            }
        }
        SkillsCommand::Remove {
            target: arguments,
            team,
        } => {
            let team = setup::pick_team(store, config, team.team.as_deref()).await?;
            let removed = remove(store, &library, team.id, &target(arguments)?).await?;
            if removed.is_empty() {
                println!("Not installed for `{}`; nothing changed.", team.name);
            } else {
                println!("Removed from `{}`: {}", team.name, removed.join(", "));
            }
        }
        SkillsCommand::Validate { .. } => {}
    }
    Ok(())
}
