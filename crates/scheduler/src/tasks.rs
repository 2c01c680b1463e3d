//! Creating and changing tasks, the same way from chat and from the CLI.

use agencybot_core::{AllowedWrite, NewScheduledTask, ScheduledTask, TaskStatus, Timestamp};
use agencybot_ofapi::Catalog;
use agencybot_store::Store;

use crate::schedule::{Schedule, ScheduleError, TimezoneError, timezone};

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Timezone(#[from] TimezoneError),
    #[error("there is no task named `{0}`")]
    NotFound(String),
    #[error("a task named `{0}` already exists; pick another name or edit that one")]
    Exists(String),
    #[error("the channel `{0}` is not configured")]
    UnknownChannel(String),
    #[error("the task `{0}` is paused; resume it first")]
    Paused(String),
    #[error("the schedule `{0}` never fires")]
    NeverFires(String),
    #[error("{0}")]
    InvalidWrite(String),
    #[error(transparent)]
    Store(agencybot_store::StoreError),
}

impl From<agencybot_store::StoreError> for TaskError {
    fn from(error: agencybot_store::StoreError) -> Self {
        match error {
            agencybot_store::StoreError::AlreadyExists { key, .. } => TaskError::Exists(key),
            other => TaskError::Store(other),
        }
    }
}

/// The next run of `schedule` in `zone` after `now`, checked.
pub fn next_run(schedule: &str, zone: &str, now: Timestamp) -> Result<Timestamp, TaskError> {
    let parsed: Schedule = schedule.parse()?;
    let tz = timezone(zone)?;
    parsed
        .next_after(now, tz)
        .ok_or_else(|| TaskError::NeverFires(schedule.to_owned()))
}

/// Creates an active task after checking its schedule, timezone and channel.
/// Checks each allowed write against the catalog: a known endpoint that is
/// a write, with fixed arguments it takes, not one turned off by default.
pub fn check_writes(writes: &[AllowedWrite]) -> Result<(), TaskError> {
    for write in writes {
        if write.tool == agencybot_agent::CALL_INTEGRATION {
            check_integration_write(write)?;
            continue;
        }
        let Some(endpoint) = Catalog::onlyfans().get(&write.tool) else {
            return Err(TaskError::InvalidWrite(format!(
                "`{}` is not an OnlyFansAPI endpoint id (see `find_api_endpoints`, e.g. mass-messaging.send-mass-message)",
                write.tool
            )));
        };
        if !endpoint.access.is_write() {
            return Err(TaskError::InvalidWrite(format!(
                "`{}` only reads; a task needs no approval for it",
                write.tool
            )));
        }
        if endpoint.denied_by_default {
            return Err(TaskError::InvalidWrite(format!(
                "`{}` ({}) is never made unattended",
                write.tool, endpoint.title
            )));
        }
        for key in write.fixed.keys() {
            if !endpoint.locations.contains_key(key) {
                let known: Vec<&str> = endpoint.locations.keys().map(String::as_str).collect();
                return Err(TaskError::InvalidWrite(format!(
                    "`{}` has no argument `{key}`; its arguments are: {}",
                    write.tool,
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// An integration write a task may make: one integration tool, named as
/// `call_integration tool=<integration>__<tool>`; its arguments stay free
/// unless fixed as `arguments={…}`.
fn check_integration_write(write: &AllowedWrite) -> Result<(), TaskError> {
    let named = write
        .fixed
        .get("tool")
        .and_then(serde_json::Value::as_str)
        .filter(|tool| tool.contains("__"));
    if named.is_none() {
        return Err(TaskError::InvalidWrite(format!(
            "`{}` needs the integration tool it may call, e.g. `{} tool=sheets__append_row`",
            write.tool, write.tool
        )));
    }
    if let Some(key) = write
        .fixed
        .keys()
        .find(|key| !matches!(key.as_str(), "tool" | "arguments"))
    {
        return Err(TaskError::InvalidWrite(format!(
            "`{}` has no argument `{key}`; its arguments are: tool, arguments",
            write.tool
        )));
    }
    Ok(())
}

/// What a task may do without asking, for every summary that creates or
/// changes it: each write by name with the arguments fixed at approval.
#[must_use]
pub fn describe_writes(writes: &[AllowedWrite]) -> String {
    if writes.is_empty() {
        return "It makes no changes: any write a run wants is skipped and reported.".into();
    }
    let items: Vec<String> = writes
        .iter()
        .map(|write| {
            let title = Catalog::onlyfans()
                .get(&write.tool)
                .map_or(write.tool.as_str(), |e| e.title.as_str());
            let fixed: Vec<String> = write
                .fixed
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => format!("{key} = {text}"),
                    other => format!("{key} = {other}"),
                })
                .collect();
            if fixed.is_empty() {
                format!("{title} ({}) with any arguments", write.tool)
            } else {
                format!(
                    "{title} ({}) only with {}; other arguments as each run chooses",
                    write.tool,
                    fixed.join(", ")
                )
            }
        })
        .collect();
    format!("Without asking, each run may: {}.", items.join("; "))
}

pub async fn create(
    store: &Store,
    mut task: NewScheduledTask,
    now: Timestamp,
) -> Result<ScheduledTask, TaskError> {
    check_writes(&task.allowed_writes)?;
    if store.channel(&task.channel).await?.is_none() {
        return Err(TaskError::UnknownChannel(task.channel));
    }
    task.next_run_at = Some(next_run(&task.schedule, &task.timezone, now)?);
    Ok(store.create_task(&task, now).await?)
}

/// What an edit changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskChanges {
    pub name: Option<String>,
    pub prompt: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub channel: Option<String>,
    pub destination: Option<String>,
    pub skill: Option<Option<String>>,
    pub model: Option<Option<String>>,
}

pub async fn find(store: &Store, team_id: i64, name: &str) -> Result<ScheduledTask, TaskError> {
    store
        .task_by_name(team_id, name)
        .await?
        .ok_or_else(|| TaskError::NotFound(name.to_owned()))
}

/// Applies `changes`; a new schedule or timezone recomputes the next run.
pub async fn edit(
    store: &Store,
    mut task: ScheduledTask,
    changes: TaskChanges,
    now: Timestamp,
) -> Result<ScheduledTask, TaskError> {
    let rescheduled = changes.schedule.is_some() || changes.timezone.is_some();
    if let Some(name) = changes.name {
        task.name = name;
    }
    if let Some(prompt) = changes.prompt {
        task.prompt = prompt;
    }
    if let Some(schedule) = changes.schedule {
        task.schedule = schedule;
    }
    if let Some(zone) = changes.timezone {
        task.timezone = zone;
    }
    if let Some(channel) = changes.channel {
        if store.channel(&channel).await?.is_none() {
            return Err(TaskError::UnknownChannel(channel));
        }
        task.channel = channel;
    }
    if let Some(destination) = changes.destination {
        task.destination = destination;
    }
    if let Some(skill) = changes.skill {
        task.skill = skill;
    }
    if let Some(model) = changes.model {
        task.model = model;
    }
    let next = next_run(&task.schedule, &task.timezone, now)?;
    if rescheduled && task.status == TaskStatus::Active {
        task.next_run_at = Some(next);
    }
    Ok(store.update_task(&task).await?)
}

pub async fn pause(store: &Store, task: &ScheduledTask) -> Result<ScheduledTask, TaskError> {
    Ok(store
        .set_task_status(task.id, TaskStatus::Paused, None)
        .await?)
}

/// Resumes from the next fire after now (missed runs are not made up).
pub async fn resume(
    store: &Store,
    task: &ScheduledTask,
    now: Timestamp,
) -> Result<ScheduledTask, TaskError> {
    let next = next_run(&task.schedule, &task.timezone, now)?;
    Ok(store
        .set_task_status(task.id, TaskStatus::Active, Some(next))
        .await?)
}

/// Makes an active task due now; its schedule carries on after the run.
pub async fn run_now(store: &Store, task: &ScheduledTask, now: Timestamp) -> Result<(), TaskError> {
    if task.status != TaskStatus::Active {
        return Err(TaskError::Paused(task.name.clone()));
    }
    Ok(store.run_task_soon(task.id, now).await?)
}

/// One line about a task for people.
#[must_use]
pub fn describe(task: &ScheduledTask) -> String {
    let when = |time: Option<Timestamp>| {
        time.map_or_else(
            || "-".to_owned(),
            |t| match timezone(&task.timezone) {
                Ok(tz) => t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M").to_string(),
                Err(_) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
            },
        )
    };
    format!(
        "“{}” — {} ({}), {}, next {}, last {}, to {} {}{}{}",
        task.name,
        task.schedule,
        task.timezone,
        task.status,
        when(task.next_run_at),
        when(task.last_run_at),
        task.channel,
        task.destination,
        task.skill
            .as_deref()
            .map_or(String::new(), |s| format!(", skill {s}")),
        if task.allowed_writes.is_empty() {
            String::new()
        } else {
            let writes: Vec<String> = task
                .allowed_writes
                .iter()
                .map(ToString::to_string)
                .collect();
            format!(", may run {}", writes.join(", "))
        }
    )
}
