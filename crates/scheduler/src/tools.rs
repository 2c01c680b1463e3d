//! What the model can do with scheduled tasks, workflows and usage charts.
//!
//! Creating, changing and deleting tasks are writes: they are summarised and
//! wait for the asking admin's yes like any API write.

use std::sync::Arc;

use agencybot_agent::{Engine, InternalTool, Requester, ToolContext, ToolOutput};
use agencybot_core::{AllowedWrite, Attachment, NewScheduledTask, Role};
use agencybot_ofapi::Access;
use agencybot_store::UsageFilter;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::schedule::{Schedule, timezone};
use crate::tasks::{self, TaskChanges};
use crate::usage::{self, Dimension, Measure, Period};
use crate::workflows::{self, Workflow};

/// Offers the task, workflow and chart tools to the engine.
pub fn register(engine: &mut Engine, workflows: Arc<Vec<Workflow>>) {
    let models = engine.models().known().to_vec();
    engine.register_tool(Arc::new(ScheduleTask { models }));
    engine.register_tool(Arc::new(ListTasks));
    engine.register_tool(Arc::new(ChangeTask));
    engine.register_tool(Arc::new(RunTaskNow));
    engine.register_tool(Arc::new(ListWorkflows(workflows.clone())));
    engine.register_tool(Arc::new(UseWorkflow(workflows)));
    engine.register_tool(Arc::new(GetUsage));
    engine.register_tool(Arc::new(UsageChart));
}

fn text<'v>(arguments: &'v Value, field: &str) -> Option<&'v str> {
    arguments[field]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn required<'v>(arguments: &'v Value, field: &str) -> Result<&'v str, String> {
    text(arguments, field).ok_or_else(|| format!("`{field}` is required"))
}

fn check_when(arguments: &Value) -> Result<(), String> {
    if let Some(schedule) = text(arguments, "schedule") {
        schedule.parse::<Schedule>().map_err(|e| e.to_string())?;
    }
    if let Some(zone) = text(arguments, "timezone") {
        timezone(zone).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn zone_of(arguments: &Value, context: &ToolContext<'_>) -> String {
    text(arguments, "timezone")
        .map(str::to_owned)
        .or_else(|| context.team.timezone.clone())
        .unwrap_or_else(|| "UTC".into())
}

/// The team's channel on the platform of this conversation: a task made in
/// a chat reports back to that chat.
async fn here(context: &ToolContext<'_>) -> Result<(String, String), String> {
    let channel = context
        .store
        .channel(&context.conversation.channel)
        .await
        .map_err(|e| e.to_string())?
        .filter(|c| c.team_id == context.team.id)
        .ok_or(
            "this chat's channel is not configured for the team, so a task cannot report here",
        )?;
    Ok((channel.name, context.conversation.chat.clone()))
}

/// What a task made in a chat is: where it reports, which model answers
/// (the one asked for, else the chat's own choice), what it asks.
struct TaskHere<'a> {
    name: &'a str,
    prompt: &'a str,
    schedule: &'a str,
    zone: String,
    skill: Option<String>,
    model: Option<&'a str>,
    allowed_writes: Vec<AllowedWrite>,
}

async fn create_here(
    context: &ToolContext<'_>,
    wanted: TaskHere<'_>,
) -> Result<ToolOutput, String> {
    let TaskHere {
        name,
        prompt,
        schedule,
        zone,
        skill,
        model,
        allowed_writes,
    } = wanted;
    let (channel, destination) = here(context).await?;
    let model = model.or(context.conversation_model).map(str::to_owned);
    let task = NewScheduledTask {
        team_id: context.team.id,
        name: name.to_owned(),
        creator: context.user_id.to_owned(),
        channel,
        destination,
        model,
        prompt: prompt.to_owned(),
        skill,
        schedule: schedule.to_owned(),
        timezone: zone,
        allowed_writes,
        next_run_at: None,
    };
    let task = tasks::create(context.store, task, context.now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ToolOutput::new(json!({
        "created": tasks::describe(&task),
        "next_step": "offer to run it once now as a preview (run_task_now)"
    })))
}

struct ScheduleTask {
    /// The models a task may be given.
    models: Vec<String>,
}

impl InternalTool for ScheduleTask {
    fn name(&self) -> &str {
        "schedule_task"
    }

    fn description(&self) -> &str {
        "Create a scheduled task that runs a prompt and reports to this chat. schedule: \"daily 08:00\", \"weekly mon,fri 09:30\", \"monthly 1 08:00\", \"every 15 minutes\", \"every 2 hours\" or a crontab."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "prompt": {"type": "string", "description": "What each run asks; state every choice, runs cannot ask back"},
                "schedule": {"type": "string"},
                "timezone": {"type": "string", "description": "IANA, e.g. Europe/Berlin: the user's, else the team's; ask if neither is known"},
                "skill": {"type": "string"},
                "model": {"type": "string", "description": "Only if the user names one; else this chat's model"}
            },
            "required": ["name", "prompt", "schedule", "timezone"]
        })
    }

    fn access(&self) -> Access {
        Access::Write
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        required(arguments, "name")?;
        required(arguments, "prompt")?;
        required(arguments, "schedule")?;
        required(arguments, "timezone")?;
        if let Some(model) = text(arguments, "model")
            && !self.models.iter().any(|m| m == model)
        {
            return Err(format!(
                "there is no model `{model}`; configured models: {}",
                self.models.join(", ")
            ));
        }
        check_when(arguments)
    }

    fn summarize(&self, arguments: &Value) -> String {
        format!(
            "Create the scheduled task “{}”: {} ({}), reporting to this chat, asking: “{}”{}, answered by {}. {} Each run uses credits.",
            text(arguments, "name").unwrap_or_default(),
            text(arguments, "schedule").unwrap_or_default(),
            text(arguments, "timezone").unwrap_or("team timezone"),
            text(arguments, "prompt").unwrap_or_default(),
            text(arguments, "skill")
                .map_or(String::new(), |s| format!(", following the skill {s}")),
            text(arguments, "model").unwrap_or("this chat's model"),
            tasks::describe_writes(&[])
        )
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            create_here(
                context,
                TaskHere {
                    name: required(&arguments, "name")?,
                    prompt: required(&arguments, "prompt")?,
                    schedule: required(&arguments, "schedule")?,
                    zone: zone_of(&arguments, context),
                    skill: text(&arguments, "skill").map(str::to_owned),
                    model: text(&arguments, "model"),
                    allowed_writes: Vec::new(),
                },
            )
            .await
        })
    }
}

struct ListTasks;

impl InternalTool for ListTasks {
    fn name(&self) -> &str {
        "list_tasks"
    }

    fn description(&self) -> &str {
        "The team's scheduled tasks: schedule, status, next and last run, where they report."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let tasks = context
                .store
                .tasks(context.team.id)
                .await
                .map_err(|e| e.to_string())?;
            let lines: Vec<String> = tasks.iter().map(tasks::describe).collect();
            Ok(ToolOutput::new(json!({"tasks": lines})))
        })
    }
}

struct ChangeTask;

impl ChangeTask {
    fn action(arguments: &Value) -> Result<&str, String> {
        match text(arguments, "action") {
            Some(action @ ("pause" | "resume" | "delete" | "edit")) => Ok(action),
            Some(other) => Err(format!(
                "unknown action `{other}`: use pause, resume, delete or edit"
            )),
            None => Err("`action` is required".into()),
        }
    }

    fn changes(arguments: &Value) -> TaskChanges {
        let owned = |field| text(arguments, field).map(str::to_owned);
        TaskChanges {
            name: owned("new_name"),
            prompt: owned("prompt"),
            schedule: owned("schedule"),
            timezone: owned("timezone"),
            ..TaskChanges::default()
        }
    }
}

impl InternalTool for ChangeTask {
    fn name(&self) -> &str {
        "change_task"
    }

    fn description(&self) -> &str {
        "Pause, resume, delete or edit (new_name, prompt, schedule, timezone) a scheduled task by name."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "action": {"type": "string", "enum": ["pause", "resume", "delete", "edit"]},
                "new_name": {"type": "string"},
                "prompt": {"type": "string"},
                "schedule": {"type": "string"},
                "timezone": {"type": "string"}
            },
            "required": ["name", "action"]
        })
    }

    fn access(&self) -> Access {
        Access::Write
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        required(arguments, "name")?;
        if Self::action(arguments)? == "edit" && Self::changes(arguments) == TaskChanges::default()
        {
            return Err(
                "an edit needs at least one of new_name, prompt, schedule, timezone".into(),
            );
        }
        check_when(arguments)
    }

    fn summarize(&self, arguments: &Value) -> String {
        let name = text(arguments, "name").unwrap_or_default();
        match Self::action(arguments).unwrap_or_default() {
            "pause" => format!("Pause the scheduled task “{name}”"),
            "resume" => format!("Resume the scheduled task “{name}” from its next run"),
            "delete" => format!("Delete the scheduled task “{name}” and its run history"),
            _ => {
                let changes = Self::changes(arguments);
                let mut parts = Vec::new();
                for (label, value) in [
                    ("rename it to", &changes.name),
                    ("schedule", &changes.schedule),
                    ("timezone", &changes.timezone),
                    ("prompt", &changes.prompt),
                ] {
                    if let Some(value) = value {
                        parts.push(format!("{label} “{value}”"));
                    }
                }
                format!("Change the scheduled task “{name}”: {}", parts.join(", "))
            }
        }
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let task = tasks::find(
                context.store,
                context.team.id,
                required(&arguments, "name")?,
            )
            .await
            .map_err(|e| e.to_string())?;
            let changed = match Self::action(&arguments)? {
                "pause" => tasks::pause(context.store, &task).await,
                "resume" => tasks::resume(context.store, &task, context.now).await,
                "delete" => {
                    context
                        .store
                        .delete_task(task.id)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok(ToolOutput::new(json!({"deleted": task.name})));
                }
                _ => tasks::edit(context.store, task, Self::changes(&arguments), context.now).await,
            }
            .map_err(|e| e.to_string())?;
            Ok(ToolOutput::new(json!({"task": tasks::describe(&changed)})))
        })
    }
}

struct RunTaskNow;

impl InternalTool for RunTaskNow {
    fn name(&self) -> &str {
        "run_task_now"
    }

    fn description(&self) -> &str {
        "Run a scheduled task once now (its schedule stays); the result goes where the task reports."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})
    }

    // A run may make the writes the task was approved for, so starting one
    // is itself a write: admins only, and confirmed like any other.
    fn access(&self) -> Access {
        Access::Write
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        required(arguments, "name").map(|_| ())
    }

    fn summarize(&self, arguments: &Value) -> String {
        format!(
            "Run the scheduled task “{}” once now (its schedule stays); it may make the changes it was approved for, and reports where the task reports",
            text(arguments, "name").unwrap_or_default()
        )
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let task = tasks::find(
                context.store,
                context.team.id,
                required(&arguments, "name")?,
            )
            .await
            .map_err(|e| e.to_string())?;
            tasks::run_now(context.store, &task, context.now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(ToolOutput::new(json!({
                "started": task.name,
                "reports_to": format!("{} {}", task.channel, task.destination)
            })))
        })
    }
}

struct ListWorkflows(Arc<Vec<Workflow>>);

impl InternalTool for ListWorkflows {
    fn name(&self) -> &str {
        "list_workflows"
    }

    fn description(&self) -> &str {
        "Ready-made scheduled tasks (workflows) the team can start with use_workflow."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let requester = context.requester();
            let mut list = Vec::new();
            for w in self.0.iter() {
                let mut entry = json!({"slug": w.slug, "name": w.name, "category": w.category, "schedule": w.schedule, "description": w.description});
                if !w.requires.is_empty() {
                    entry["requires"] = json!(w.requires);
                    let missing = requester.missing_apps(&w.requires).await;
                    if !missing.is_empty() {
                        entry["not_connected"] = json!(missing);
                    }
                }
                list.push(entry);
            }
            Ok(ToolOutput::new(json!({"workflows": list})))
        })
    }
}

struct UseWorkflow(Arc<Vec<Workflow>>);

impl UseWorkflow {
    fn workflow(&self, arguments: &Value) -> Result<&Workflow, String> {
        let slug = required(arguments, "slug")?;
        workflows::find(&self.0, slug)
            .ok_or_else(|| format!("there is no workflow `{slug}`; list_workflows shows them"))
    }
}

impl InternalTool for UseWorkflow {
    fn name(&self) -> &str {
        "use_workflow"
    }

    fn description(&self) -> &str {
        "Start a workflow as a scheduled task reporting to this chat; schedule and timezone may override its defaults."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "schedule": {"type": "string"},
                "timezone": {"type": "string"}
            },
            "required": ["slug"]
        })
    }

    fn access(&self) -> Access {
        Access::Write
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        self.workflow(arguments)?;
        check_when(arguments)
    }

    fn access_of<'a>(
        &'a self,
        requester: &'a Requester<'a>,
        arguments: &'a Value,
    ) -> BoxFuture<'a, Result<Access, String>> {
        Box::pin(async move {
            let workflow = self.workflow(arguments)?;
            workflows::require_connected(
                workflow,
                &requester.missing_apps(&workflow.requires).await,
            )?;
            Ok(Access::Write)
        })
    }

    fn summarize(&self, arguments: &Value) -> String {
        match self.workflow(arguments) {
            Ok(workflow) => format!(
                "Start the workflow “{}” as a scheduled task: {} ({}), reporting to this chat. {} {} Each run uses credits.",
                workflow.name,
                text(arguments, "schedule").unwrap_or(&workflow.schedule),
                text(arguments, "timezone").unwrap_or("team timezone"),
                workflow.description,
                tasks::describe_writes(&workflow.writes().unwrap_or_default())
            ),
            Err(problem) => problem,
        }
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let workflow = self.workflow(&arguments)?;
            let requester = context.requester();
            workflows::require_connected(
                workflow,
                &requester.missing_apps(&workflow.requires).await,
            )?;
            create_here(
                context,
                TaskHere {
                    name: &workflow.name,
                    prompt: &workflow.prompt,
                    schedule: text(&arguments, "schedule").unwrap_or(&workflow.schedule),
                    zone: zone_of(&arguments, context),
                    skill: workflow.skill.clone(),
                    model: None,
                    allowed_writes: workflow.writes()?,
                },
            )
            .await
        })
    }
}

/// The period, grouping and records a usage tool was asked about, with
/// the totals per group and overall.
struct UsageQuery {
    period: Period,
    by: Dimension,
    records: Vec<agencybot_core::UsageRecord>,
    totals: Vec<Value>,
}

async fn usage_of(context: &ToolContext<'_>, arguments: &Value) -> Result<UsageQuery, String> {
    let period: Period = text(arguments, "period").unwrap_or("7d").parse()?;
    let by: Dimension = text(arguments, "by").unwrap_or("type").parse()?;
    let records = context
        .store
        .usage_records(&UsageFilter {
            team_id: Some(context.team.id),
            since: period.since(context.now),
            ..UsageFilter::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let (groups, all) = usage::totals(&records, by);
    let totals = groups
        .iter()
        .chain(std::iter::once(&all))
        .map(|t| json!({by.as_str(): t.key, "requests": t.requests, "tokens": t.prompt_tokens + t.completion_tokens, "cost_usd": (t.cost_usd * 10_000.0).round() / 10_000.0, "credits": t.credits, "web_searches": t.web_searches, "web_searches_cached": t.web_searches_cached, "web_search_usd": (t.web_search_usd * 10_000.0).round() / 10_000.0}))
        .collect();
    Ok(UsageQuery {
        period,
        by,
        records,
        totals,
    })
}

fn usage_parameters(extra: Value) -> Value {
    let mut properties = json!({
        "period": {"type": "string", "enum": ["today", "7d", "30d", "6m", "1y", "all"]},
        "by": {"type": "string", "enum": ["type", "model", "platform", "user"]}
    });
    if let (Some(all), Value::Object(more)) = (properties.as_object_mut(), extra) {
        all.extend(more);
    }
    json!({"type": "object", "properties": properties, "required": ["period"]})
}

/// "How many credits did we use this week?"
struct GetUsage;

impl InternalTool for GetUsage {
    fn name(&self) -> &str {
        "get_usage"
    }

    fn description(&self) -> &str {
        "agencybot's own usage for this team: requests, model tokens, cost in USD and OnlyFansAPI credits, grouped by type, model, platform or user."
    }

    fn parameters(&self) -> Value {
        usage_parameters(json!({}))
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let query = usage_of(context, &arguments).await?;
            Ok(ToolOutput::new(
                json!({"period": query.period.label(), "totals": query.totals}),
            ))
        })
    }
}

struct UsageChart;

impl InternalTool for UsageChart {
    fn name(&self) -> &str {
        "usage_chart"
    }

    fn description(&self) -> &str {
        "Send a chart of agencybot's usage over time (cost, credits or tokens, stacked by type, model, platform or user) and return the totals."
    }

    fn parameters(&self) -> Value {
        usage_parameters(
            json!({"measure": {"type": "string", "enum": ["cost", "credits", "tokens", "searches"]}}),
        )
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let measure: Measure = text(&arguments, "measure").unwrap_or("cost").parse()?;
            let query = usage_of(context, &arguments).await?;
            let data = usage::chart(&query.records, query.by, measure, query.period, context.now);
            (context.send_file)(Attachment {
                file_name: format!(
                    "usage-{}-by-{}.png",
                    query.period.label().replace(' ', "-"),
                    query.by.as_str()
                ),
                mime_type: "image/png".into(),
                bytes: crate::chart::render_chart(&data),
                caption: Some(data.title.clone()),
            });
            Ok(ToolOutput::new(
                json!({"chart_sent": data.title, "totals": query.totals}),
            ))
        })
    }
}
