//! `agencybot tasks …`, `agencybot workflows …` and `agencybot usage`.

use agencybot_core::{AllowedWrite, NewScheduledTask, Team};
use agencybot_scheduler::usage::{self, Dimension, Measure, Period};
use agencybot_scheduler::{CLI_CREATOR, TaskChanges, tasks};
use agencybot_store::{Store, UsageFilter};
use anyhow::Context;

use crate::cli::{TaskFields, TasksCommand, UsageArgs, WorkflowsCommand};
use crate::config::Config;
use crate::setup::{open_ready_store, pick_team};

pub async fn run(store: &Store, config: &Config, command: &TasksCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        TasksCommand::List(team) => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let tasks = store.tasks(team.id).await?;
            println!("Team `{}`: {} scheduled task(s)", team.name, tasks.len());
            for task in tasks {
                println!("  {}", tasks::describe(&task));
            }
        }
        TasksCommand::Show { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let task = tasks::find(store, team.id, name).await?;
            println!("{}\nPrompt: {}", tasks::describe(&task), task.prompt);
            let runs = store.task_runs(task.id).await?;
            println!("Recent runs ({}):", runs.len());
            for run in runs.iter().take(20) {
                println!(
                    "  {} attempt {} {} on {}{}",
                    run.scheduled_for.format("%Y-%m-%d %H:%M UTC"),
                    run.attempt,
                    run.status,
                    run.instance,
                    run.error
                        .as_deref()
                        .map_or(String::new(), |e| format!(": {e}"))
                );
            }
        }
        TasksCommand::Add {
            name,
            fields,
            allowed_writes,
            team,
        } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            check_model(config, fields.model.as_deref())?;
            let prompt = fields
                .prompt
                .clone()
                .context("--prompt is required: what each run asks")?;
            let schedule = fields
                .schedule
                .clone()
                .context("--schedule is required, e.g. \"daily 08:00\"")?;
            let writes = allowed_writes
                .iter()
                .map(|text| text.parse::<AllowedWrite>())
                .collect::<Result<Vec<_>, _>>()?;
            agencybot_scheduler::check_writes(&writes)?;
            let task = new_task(store, &team, name, prompt, schedule, fields).await?;
            let task = NewScheduledTask {
                allowed_writes: writes,
                ..task
            };
            let created = tasks::create(store, task, now).await?;
            println!("Created {}", tasks::describe(&created));
            println!(
                "{}",
                agencybot_scheduler::describe_writes(&created.allowed_writes)
            );
        }
        TasksCommand::Edit {
            name,
            rename,
            fields,
            team,
        } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            check_model(config, fields.model.as_deref())?;
            let task = tasks::find(store, team.id, name).await?;
            let changes = TaskChanges {
                name: rename.clone(),
                prompt: fields.prompt.clone(),
                schedule: fields.schedule.clone(),
                timezone: fields.timezone.clone(),
                channel: fields.channel.clone(),
                destination: fields.destination.clone(),
                skill: fields.skill.clone().map(Some),
                model: fields.model.clone().map(Some),
            };
            if changes == TaskChanges::default() {
                anyhow::bail!("nothing to change: give at least one option (see --help)");
            }
            let changed = tasks::edit(store, task, changes, now).await?;
            println!("Changed {}", tasks::describe(&changed));
        }
        TasksCommand::Pause { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let task = tasks::find(store, team.id, name).await?;
            println!(
                "Paused {}",
                tasks::describe(&tasks::pause(store, &task).await?)
            );
        }
        TasksCommand::Resume { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let task = tasks::find(store, team.id, name).await?;
            let resumed = tasks::resume(store, &task, now).await?;
            println!("Resumed {}", tasks::describe(&resumed));
        }
        TasksCommand::Delete { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let task = tasks::find(store, team.id, name).await?;
            store.delete_task(task.id).await?;
            println!("Deleted the task “{}” and its run history.", task.name);
        }
        TasksCommand::Run { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let task = tasks::find(store, team.id, name).await?;
            tasks::run_now(store, &task, now).await?;
            println!(
                "The task “{}” is due now: a running `agencybot run` starts it within {} seconds and reports to {} {}.",
                task.name, config.scheduler.tick_secs, task.channel, task.destination
            );
        }
    }
    Ok(())
}

/// A task's model must be one the configuration names.
fn check_model(config: &Config, model: Option<&str>) -> anyhow::Result<()> {
    let Some(model) = model else {
        return Ok(());
    };
    let known = config.llm.named_models(&config.teams);
    if known.iter().any(|m| m == model) {
        Ok(())
    } else {
        anyhow::bail!(
            "there is no model `{model}` in the configuration; configured models: {}",
            known.join(", ")
        )
    }
}

/// A task from the CLI options, with the channel defaulted to the team's
/// only one.
async fn new_task(
    store: &Store,
    team: &Team,
    name: &str,
    prompt: String,
    schedule: String,
    fields: &TaskFields,
) -> anyhow::Result<NewScheduledTask> {
    let channel = match &fields.channel {
        Some(channel) => channel.clone(),
        None => {
            let names: Vec<String> = store
                .channels()
                .await?
                .into_iter()
                .filter(|c| c.team_id == team.id)
                .map(|c| c.name)
                .collect();
            match names.as_slice() {
                [only] => only.clone(),
                [] => anyhow::bail!(
                    "team `{}` has no channel to report to: configure one first",
                    team.name
                ),
                _ => anyhow::bail!("pick the channel with --channel ({})", names.join(", ")),
            }
        }
    };
    let destination = fields.destination.clone().context(
        "--destination is required: the chat the results go to (Telegram chat ID, Slack or Discord channel ID)",
    )?;
    Ok(NewScheduledTask {
        team_id: team.id,
        name: name.to_owned(),
        creator: CLI_CREATOR.into(),
        channel,
        destination,
        model: fields.model.clone(),
        prompt,
        skill: fields.skill.clone(),
        schedule,
        timezone: fields
            .timezone
            .clone()
            .or_else(|| team.timezone.clone())
            .unwrap_or_else(|| "UTC".into()),
        allowed_writes: Vec::new(),
        next_run_at: None,
    })
}

pub async fn workflows(
    config: &Config,
    env: &[(String, String)],
    command: &WorkflowsCommand,
) -> anyhow::Result<()> {
    let workflows = agencybot_scheduler::workflows::load(&config.scheduler.workflows)?;
    match command {
        WorkflowsCommand::List => {
            println!("{} workflow(s):", workflows.len());
            for workflow in &workflows {
                println!(
                    "  {:<28} {:<10} {:<22} {}{}",
                    workflow.slug,
                    workflow.category,
                    workflow.schedule,
                    workflow.description,
                    if workflow.requires.is_empty() {
                        String::new()
                    } else {
                        format!(" (needs {})", workflow.requires.join(", "))
                    }
                );
            }
        }
        WorkflowsCommand::Use {
            slug,
            name,
            fields,
            team,
        } => {
            let workflow =
                agencybot_scheduler::workflows::find(&workflows, slug).with_context(|| {
                    format!("there is no workflow `{slug}`; `agencybot workflows list` shows them")
                })?;
            let secrets = crate::config::Secrets::load(config, env)?;
            let store = open_ready_store(config).await?;
            let integrations = crate::setup::integrations(config, &secrets, Some(&store))?;
            let result = async {
                let team = pick_team(&store, config, team.team.as_deref()).await?;
                // A task made here runs as the team, so only shared apps count.
                let missing = agencybot_integrations::Integrations::missing_among(
                    &integrations.shared_with(&team.name),
                    &workflow.requires,
                );
                agencybot_scheduler::workflows::require_connected(workflow, &missing)
                    .map_err(anyhow::Error::msg)?;
                let task = new_task(
                    &store,
                    &team,
                    name.as_deref().unwrap_or(&workflow.name),
                    fields
                        .prompt
                        .clone()
                        .unwrap_or_else(|| workflow.prompt.clone()),
                    fields
                        .schedule
                        .clone()
                        .unwrap_or_else(|| workflow.schedule.clone()),
                    fields,
                )
                .await?;
                let task = NewScheduledTask {
                    skill: task.skill.or_else(|| workflow.skill.clone()),
                    allowed_writes: workflow.writes().map_err(anyhow::Error::msg)?,
                    ..task
                };
                let created = tasks::create(&store, task, chrono::Utc::now()).await?;
                println!("Created {}", tasks::describe(&created));
                println!(
                    "{}",
                    agencybot_scheduler::describe_writes(&created.allowed_writes)
                );
                anyhow::Ok(())
            }
            .await;
            store.close().await;
            result?;
        }
    }
    Ok(())
}

pub async fn usage(store: &Store, config: &Config, args: &UsageArgs) -> anyhow::Result<()> {
    let period: Period = args.period.parse().map_err(anyhow::Error::msg)?;
    let by: Dimension = args.by.parse().map_err(anyhow::Error::msg)?;
    let measure: Measure = args.measure.parse().map_err(anyhow::Error::msg)?;
    let team = pick_team(store, config, args.team.team.as_deref()).await?;
    let now = chrono::Utc::now();
    let records = store
        .usage_records(&UsageFilter {
            team_id: Some(team.id),
            since: period.since(now),
            platform: args.platform.as_deref().map(str::parse).transpose()?,
            kind: args.kind.as_deref().map(str::parse).transpose()?,
            model: args.model.clone(),
            user_id: args.user.clone(),
            ..UsageFilter::default()
        })
        .await?;
    let (groups, all) = usage::totals(&records, by);
    println!(
        "Usage of team `{}`, {}: {} request(s)\n",
        team.name,
        period.label(),
        records.len()
    );
    print!("{}", usage::table(&groups, &all, by));
    if args.activity {
        println!();
        for record in &records {
            println!(
                "  {} {:<8} {:<14} {:<20} {:>7} tokens ${:.4} {:>5} credits{}{} {}",
                record.created_at.format("%Y-%m-%d %H:%M"),
                record.platform,
                record.kind,
                record.model,
                record.prompt_tokens + record.completion_tokens,
                record.cost_usd,
                record.credits,
                usage::searches_line(record),
                usage::integrations_line(record),
                record.outcome
            );
        }
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, usage::csv(&records))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nWrote {} request(s) to {}", records.len(), path.display());
    }
    if let Some(path) = &args.chart {
        let data = usage::chart(&records, by, measure, period, now);
        std::fs::write(path, agencybot_scheduler::render_chart(&data))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("Wrote the chart “{}” to {}", data.title, path.display());
    }
    Ok(())
}
