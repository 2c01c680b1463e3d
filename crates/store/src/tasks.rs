//! Scheduled tasks and their runs.

use std::collections::HashMap;

use agencybot_core::{
    AllowedWrite, NewScheduledTask, ScheduledTask, TaskRun, TaskRunStatus, TaskStatus, Timestamp,
};

use crate::db::args;
use crate::{
    Result, Store, StoreError, from_millis, millis, opt_from_millis, parse_json, parse_stored,
};

/// The columns `RunRow` reads, as a literal for `concat!`.
macro_rules! run_columns {
    () => {
        "id, task_id, scheduled_for, attempt, started_at, finished_at, status, output, error, \
         instance"
    };
}

/// The columns `TaskRow` reads, as a literal for `concat!`.
macro_rules! task_columns {
    () => {
        "id, team_id, name, creator, channel, destination, model, prompt, skill, schedule, \
         timezone, status, allowed_writes, last_run_at, next_run_at, consecutive_failures, \
         created_at"
    };
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    team_id: i64,
    name: String,
    creator: String,
    channel: String,
    destination: String,
    model: Option<String>,
    prompt: String,
    skill: Option<String>,
    schedule: String,
    timezone: String,
    status: String,
    allowed_writes: String,
    last_run_at: Option<i64>,
    next_run_at: Option<i64>,
    consecutive_failures: i64,
    created_at: i64,
}

impl TaskRow {
    fn into_task(self) -> Result<ScheduledTask> {
        Ok(ScheduledTask {
            id: self.id,
            team_id: self.team_id,
            name: self.name,
            creator: self.creator,
            channel: self.channel,
            destination: self.destination,
            model: self.model,
            prompt: self.prompt,
            skill: self.skill,
            schedule: self.schedule,
            timezone: self.timezone,
            status: parse_stored("task status", &self.status)?,
            allowed_writes: parse_writes(&self.allowed_writes)?,
            last_run_at: opt_from_millis("task last_run_at", self.last_run_at)?,
            next_run_at: opt_from_millis("task next_run_at", self.next_run_at)?,
            consecutive_failures: self.consecutive_failures,
            created_at: from_millis("task created_at", self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    task_id: i64,
    scheduled_for: i64,
    attempt: i64,
    started_at: i64,
    finished_at: Option<i64>,
    status: String,
    output: Option<String>,
    error: Option<String>,
    instance: String,
}

impl RunRow {
    fn into_run(self) -> Result<TaskRun> {
        Ok(TaskRun {
            id: self.id,
            task_id: self.task_id,
            scheduled_for: from_millis("run scheduled_for", self.scheduled_for)?,
            started_at: from_millis("run started_at", self.started_at)?,
            finished_at: opt_from_millis("run finished_at", self.finished_at)?,
            status: parse_stored("run status", &self.status)?,
            attempt: self.attempt,
            output: self.output,
            error: self.error,
            instance: self.instance,
        })
    }
}

fn writes_json(writes: &[AllowedWrite]) -> String {
    serde_json::Value::Array(writes.iter().map(AllowedWrite::to_json).collect()).to_string()
}

fn parse_writes(text: &str) -> Result<Vec<AllowedWrite>> {
    let values: Vec<serde_json::Value> = parse_json("task allowed writes", text)?;
    values
        .iter()
        .map(|value| {
            AllowedWrite::from_json(value).ok_or_else(|| StoreError::Corrupt {
                what: "task allowed writes",
                detail: format!("`{value}` is not an allowed write"),
            })
        })
        .collect()
}

impl Store {
    /// Creates an active task. Task names are unique within a team.
    pub async fn create_task(
        &self,
        task: &NewScheduledTask,
        now: Timestamp,
    ) -> Result<ScheduledTask> {
        let id: Option<(i64,)> = self
            .db
            .fetch_optional(
                "INSERT INTO scheduled_tasks (team_id, name, creator, channel, destination, model, \
                 prompt, skill, schedule, timezone, status, allowed_writes, next_run_at, \
                 consecutive_failures, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $12, 0, $13) \
                 ON CONFLICT (team_id, name) DO NOTHING RETURNING id",
                args![
                    task.team_id,
                    &task.name,
                    &task.creator,
                    &task.channel,
                    &task.destination,
                    task.model.clone(),
                    &task.prompt,
                    task.skill.clone(),
                    &task.schedule,
                    &task.timezone,
                    writes_json(&task.allowed_writes),
                    task.next_run_at.map(millis),
                    millis(now)
                ],
            )
            .await?;
        let Some((id,)) = id else {
            return Err(StoreError::AlreadyExists {
                what: "scheduled task",
                key: task.name.clone(),
            });
        };
        self.task(id).await
    }

    pub async fn task(&self, id: i64) -> Result<ScheduledTask> {
        let row: Option<TaskRow> = self
            .db
            .fetch_optional(
                concat!(
                    "SELECT ",
                    task_columns!(),
                    " FROM scheduled_tasks WHERE id = $1"
                ),
                args![id],
            )
            .await?;
        row.ok_or_else(|| StoreError::NotFound {
            what: "scheduled task",
            key: id.to_string(),
        })?
        .into_task()
    }

    /// Every task of the team, by name.
    pub async fn tasks(&self, team_id: i64) -> Result<Vec<ScheduledTask>> {
        let rows: Vec<TaskRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    task_columns!(),
                    " FROM scheduled_tasks WHERE team_id = $1 \
                 ORDER BY name"
                ),
                args![team_id],
            )
            .await?;
        rows.into_iter().map(TaskRow::into_task).collect()
    }

    /// Active tasks whose next run is at or before `now`, soonest first.
    pub async fn due_tasks(&self, now: Timestamp) -> Result<Vec<ScheduledTask>> {
        let rows: Vec<TaskRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    task_columns!(),
                    " FROM scheduled_tasks \
                 WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= $1 \
                 ORDER BY next_run_at, id"
                ),
                args![millis(now)],
            )
            .await?;
        rows.into_iter().map(TaskRow::into_task).collect()
    }

    /// Saves every editable field of the task (name, delivery, prompt,
    /// schedule, status, allowed writes, next run).
    pub async fn update_task(&self, task: &ScheduledTask) -> Result<ScheduledTask> {
        let changed = self
            .db
            .execute(
                "UPDATE scheduled_tasks SET name = $2, channel = $3, destination = $4, model = $5, \
                 prompt = $6, skill = $7, schedule = $8, timezone = $9, status = $10, \
                 allowed_writes = $11, next_run_at = $12, consecutive_failures = $13 WHERE id = $1",
                args![
                    task.id,
                    &task.name,
                    &task.channel,
                    &task.destination,
                    task.model.clone(),
                    &task.prompt,
                    task.skill.clone(),
                    &task.schedule,
                    &task.timezone,
                    task.status.as_str(),
                    writes_json(&task.allowed_writes),
                    task.next_run_at.map(millis),
                    task.consecutive_failures
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "scheduled task",
                key: task.id.to_string(),
            });
        }
        self.task(task.id).await
    }

    pub async fn delete_task(&self, id: i64) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM scheduled_tasks WHERE id = $1", args![id])
            .await?;
        task_changed(changed, id)
    }

    /// Moves the task's next run from `expected` to `next`, only if no other
    /// instance moved it first. Returns whether this call moved it.
    pub async fn advance_task(
        &self,
        id: i64,
        expected: Timestamp,
        next: Option<Timestamp>,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE scheduled_tasks SET next_run_at = $3, last_run_at = $2 \
                 WHERE id = $1 AND next_run_at = $2",
                args![id, millis(expected), next.map(millis)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Sets the task's status (and, on resume, its next run). One statement
    /// that touches only those columns, so a concurrent edit of the prompt
    /// or a recorded failure is never overwritten with an older copy.
    pub async fn set_task_status(
        &self,
        id: i64,
        status: TaskStatus,
        next_run_at: Option<Timestamp>,
    ) -> Result<ScheduledTask> {
        let changed = self
            .db
            .execute(
                "UPDATE scheduled_tasks SET status = $2, next_run_at = $3, \
                 consecutive_failures = CASE WHEN $4 THEN 0 ELSE consecutive_failures END \
                 WHERE id = $1",
                args![
                    id,
                    status.as_str(),
                    next_run_at.map(millis),
                    status == TaskStatus::Active
                ],
            )
            .await?;
        task_changed(changed, id)?;
        self.task(id).await
    }

    /// Claims attempt `attempt` of the run due at `scheduled_for`. Of all
    /// instances trying, exactly one gets `Some`.
    pub async fn claim_run(
        &self,
        task_id: i64,
        scheduled_for: Timestamp,
        attempt: i64,
        instance: &str,
        now: Timestamp,
    ) -> Result<Option<TaskRun>> {
        let id: Option<(i64,)> = self
            .db
            .fetch_optional(
                "INSERT INTO task_runs (task_id, scheduled_for, attempt, started_at, status, instance) \
                 VALUES ($1, $2, $3, $4, 'running', $5) \
                 ON CONFLICT (task_id, scheduled_for, attempt) DO NOTHING RETURNING id",
                args![task_id, millis(scheduled_for), attempt, millis(now), instance],
            )
            .await?;
        match id {
            Some((id,)) => Ok(Some(self.task_run(id).await?)),
            None => Ok(None),
        }
    }

    pub async fn task_run(&self, id: i64) -> Result<TaskRun> {
        let row: Option<RunRow> = self
            .db
            .fetch_optional(
                concat!("SELECT ", run_columns!(), " FROM task_runs WHERE id = $1"),
                args![id],
            )
            .await?;
        row.ok_or_else(|| StoreError::NotFound {
            what: "task run",
            key: id.to_string(),
        })?
        .into_run()
    }

    /// Records how a run (one attempt of it) ended.
    pub async fn finish_run(
        &self,
        run_id: i64,
        outcome: Result<&str, &str>,
        now: Timestamp,
    ) -> Result<()> {
        let (status, output, error) = match outcome {
            Ok(output) => (TaskRunStatus::Succeeded, Some(output), None),
            Err(error) => (TaskRunStatus::Failed, None, Some(error)),
        };
        let changed = self
            .db
            .execute(
                "UPDATE task_runs SET status = $2, output = $3, error = $4, finished_at = $5 \
                 WHERE id = $1",
                args![run_id, status.as_str(), output, error, millis(now)],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "task run",
                key: run_id.to_string(),
            });
        }
        Ok(())
    }

    /// Keeps the task's streak of failed runs: cleared by a success, one
    /// longer after a failure. Returns the streak.
    pub async fn record_task_outcome(&self, task_id: i64, succeeded: bool) -> Result<i64> {
        let sql = if succeeded {
            "UPDATE scheduled_tasks SET consecutive_failures = 0 WHERE id = $1"
        } else {
            "UPDATE scheduled_tasks SET consecutive_failures = consecutive_failures + 1 WHERE id = $1"
        };
        self.db.execute(sql, args![task_id]).await?;
        Ok(self.task(task_id).await?.consecutive_failures)
    }

    /// Makes the task due now (run it once at the next tick), keeping its schedule.
    pub async fn run_task_soon(&self, id: i64, now: Timestamp) -> Result<()> {
        let changed = self
            .db
            .execute(
                "UPDATE scheduled_tasks SET next_run_at = $2 WHERE id = $1",
                args![id, millis(now)],
            )
            .await?;
        task_changed(changed, id)
    }

    /// The team's task called `name`.
    pub async fn task_by_name(&self, team_id: i64, name: &str) -> Result<Option<ScheduledTask>> {
        Ok(self
            .tasks(team_id)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(name)))
    }

    /// The instance running `run_id` is alive: pushes back the moment its
    /// run counts as abandoned.
    pub async fn beat_run(&self, run_id: i64, now: Timestamp) -> Result<()> {
        self.db
            .execute(
                "UPDATE task_runs SET heartbeat_at = $2 WHERE id = $1 AND status = 'running'",
                args![run_id, millis(now)],
            )
            .await?;
        Ok(())
    }

    /// Runs still `running` whose instance has not beaten since `before`.
    pub async fn abandoned_runs(&self, before: Timestamp) -> Result<Vec<TaskRun>> {
        let rows: Vec<RunRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM task_runs WHERE status = 'running' \
                     AND COALESCE(heartbeat_at, started_at) < $1 ORDER BY id"
                ),
                args![millis(before)],
            )
            .await?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    /// Closes an abandoned run as failed with `error`, if it still is
    /// abandoned: of all instances trying, exactly one gets true, and only
    /// that one reports or re-runs it.
    pub async fn close_abandoned_run(
        &self,
        run_id: i64,
        before: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "UPDATE task_runs SET status = 'failed', error = $3, finished_at = $4 \
                 WHERE id = $1 AND status = 'running' AND COALESCE(heartbeat_at, started_at) < $2",
                args![run_id, millis(before), error, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// The newest run of each of the team's tasks that has run, by task id.
    pub async fn last_task_runs(&self, team_id: i64) -> Result<HashMap<i64, TaskRun>> {
        let rows: Vec<RunRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM task_runs r WHERE r.task_id IN \
                     (SELECT id FROM scheduled_tasks WHERE team_id = $1) \
                     AND NOT EXISTS (SELECT 1 FROM task_runs n WHERE n.task_id = r.task_id \
                     AND (n.scheduled_for > r.scheduled_for \
                     OR (n.scheduled_for = r.scheduled_for AND n.attempt > r.attempt)))"
                ),
                args![team_id],
            )
            .await?;
        rows.into_iter()
            .map(|row| row.into_run().map(|run| (run.task_id, run)))
            .collect()
    }

    /// Runs of a task, newest first.
    pub async fn task_runs(&self, task_id: i64) -> Result<Vec<TaskRun>> {
        let rows: Vec<RunRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM task_runs WHERE task_id = $1 \
                 ORDER BY scheduled_for DESC, attempt DESC"
                ),
                args![task_id],
            )
            .await?;
        rows.into_iter().map(RunRow::into_run).collect()
    }
}

/// `NotFound` when a statement about task `id` touched no row.
fn task_changed(changed: u64, id: i64) -> Result<()> {
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "scheduled task",
            key: id.to_string(),
        });
    }
    Ok(())
}
