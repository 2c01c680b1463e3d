//! The runner: finds due tasks, claims each run once, runs the engine
//! unattended, and delivers the answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{Engine, Mode, Outbox, TurnRequest};
use agencybot_core::{
    Clock, ConversationKey, InboundContent, OutboundMessage, RequestKind, Role, ScheduledTask,
    TaskRun, TaskStatus, Timestamp, UsageOutcome,
};

/// The creator of tasks made with `agencybot tasks add`: whoever runs the
/// CLI has the install's shell, so its tasks run as an owner.
pub const CLI_CREATOR: &str = "cli";

/// How one try of a run ended.
enum Attempt {
    /// Finished: deliver these events.
    Done(Vec<OutboundMessage>),
    /// Failed before any write went out: safe to try again.
    Failed(String),
    /// Failed after writes went out: never tried again, so nothing is sent
    /// twice; the report says what was done.
    FailedAfterWrites { error: String, done: Vec<String> },
    /// Not run at all (the creator is gone): reported, the task paused.
    Refused(String),
}
use agencybot_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::schedule::{Schedule, timezone};

/// The conversation a run talks in: its own, so no history is carried
/// between runs, and its writes are found by it.
fn run_conversation(
    task: &ScheduledTask,
    channel: &agencybot_core::Channel,
    run_id: i64,
) -> ConversationKey {
    ConversationKey {
        channel: channel.name.clone(),
        platform: channel.platform,
        chat: task.destination.clone(),
        thread: None,
        user: Some(format!("task-{}-run-{run_id}", task.id)),
    }
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Names this process in run rows (several may share a database).
    pub instance: String,
    /// How often due tasks are looked for.
    pub tick: Duration,
    /// After downtime, a missed run younger than this runs once; older ones
    /// are skipped.
    pub catch_up: chrono::Duration,
    /// Tries per run before it counts as failed.
    pub attempts: u32,
    /// Wait before the second try; doubles for each further one.
    pub retry_after: Duration,
    /// Failed runs in a row after which the task is paused.
    pub pause_after: i64,
    /// A run whose instance has not beaten for this long was abandoned (its
    /// instance died) and is taken over; instances beat four times as often.
    pub abandon_after: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            instance: format!("agencybot-{}", std::process::id()),
            tick: Duration::from_secs(15),
            catch_up: chrono::Duration::hours(1),
            attempts: 3,
            retry_after: Duration::from_secs(30),
            pause_after: 3,
            abandon_after: Duration::from_secs(60),
        }
    }
}

/// Where a task's pinned skill comes from: name → playbook.
pub type SkillLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Runner {
    store: Store,
    engine: Arc<Engine>,
    /// Channel name → how to deliver on it.
    outboxes: HashMap<String, Arc<dyn Outbox>>,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
    skills: Option<SkillLookup>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .finish()
    }
}

impl Runner {
    #[must_use]
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        outboxes: HashMap<String, Arc<dyn Outbox>>,
        clock: Arc<dyn Clock>,
        config: RunnerConfig,
        skills: Option<SkillLookup>,
    ) -> Runner {
        Runner {
            store,
            engine,
            outboxes,
            clock,
            config,
            skills,
        }
    }

    /// Looks for due tasks until `stop` turns true; runs in flight finish.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut running: Vec<JoinHandle<()>> = Vec::new();
        loop {
            running.retain(|handle| !handle.is_finished());
            running.extend(self.tick().await);
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => break,
                () = tokio::time::sleep(self.config.tick) => {}
            }
        }
        for handle in running {
            let _ = handle.await;
        }
    }

    /// One look for due tasks; returns the runs it started. Also sweeps
    /// expired confirmation requests and writes interrupted by a restart.
    pub async fn tick(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let now = self.clock.now();
        if let Err(error) = self.store.expire_actions(now).await {
            tracing::warn!(%error, "cannot expire old confirmation requests");
        }
        if let Err(error) = self.engine.recover_interrupted().await {
            tracing::warn!(%error, "cannot look for interrupted writes");
        }
        let due = match self.store.due_tasks(now).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "cannot read due tasks");
                return Vec::new();
            }
        };
        let mut started = self.take_over_abandoned(now).await;
        for task in due {
            match self.start(task, now).await {
                Ok(Some(handle)) => started.push(handle),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "cannot start a scheduled run"),
            }
        }
        started
    }

    /// Claims and starts the task's due run, or skips it when it is too old
    /// or another instance has it.
    async fn start(
        self: &Arc<Self>,
        task: ScheduledTask,
        now: Timestamp,
    ) -> Result<Option<JoinHandle<()>>, agencybot_store::StoreError> {
        let Some(scheduled) = task.next_run_at else {
            return Ok(None);
        };
        let (schedule, tz) = match (task.schedule.parse::<Schedule>(), timezone(&task.timezone)) {
            (Ok(schedule), Ok(tz)) => (schedule, tz),
            (Err(error), _) => {
                return self
                    .pause_broken(&task, &error.to_string())
                    .await
                    .map(|()| None);
            }
            (_, Err(error)) => {
                return self
                    .pause_broken(&task, &error.to_string())
                    .await
                    .map(|()| None);
            }
        };
        // After downtime several fires may have passed: the latest one stands
        // for them all, and runs only if it is recent enough.
        let fire = schedule
            .latest_between(scheduled, now, tz)
            .unwrap_or(scheduled);
        let next = schedule.next_after(now, tz);
        let claimed = if now - fire > self.config.catch_up {
            tracing::info!(task = %task.name, missed = %fire, "skipping a run missed too long ago");
            None
        } else {
            self.store
                .claim_run(task.id, fire, 1, &self.config.instance, now)
                .await?
        };
        // Whoever claimed it, the schedule moves on (once: it is a compare-and-set).
        self.store.advance_task(task.id, scheduled, next).await?;
        let Some(run) = claimed else {
            return Ok(None);
        };
        let runner = Arc::clone(self);
        Ok(Some(tokio::spawn(async move {
            runner.execute(task, run).await
        })))
    }

    /// Runs left `running` by an instance that stopped beating: each is
    /// closed once, across instances, then run again when it made no write
    /// and is still within the catch-up window, or else reported to its
    /// chat as interrupted.
    async fn take_over_abandoned(self: &Arc<Self>, now: Timestamp) -> Vec<JoinHandle<()>> {
        let before = now
            - chrono::Duration::from_std(self.config.abandon_after)
                .unwrap_or(chrono::Duration::seconds(60));
        let abandoned = match self.store.abandoned_runs(before).await {
            Ok(runs) => runs,
            Err(error) => {
                tracing::error!(%error, "cannot look for abandoned runs");
                return Vec::new();
            }
        };
        let mut started = Vec::new();
        for run in abandoned {
            let task = match self.store.task(run.task_id).await {
                Ok(task) => task,
                Err(error) => {
                    tracing::warn!(%error, run = run.id, "an abandoned run's task cannot be read");
                    continue;
                }
            };
            let channel = self.store.channel(&task.channel).await.ok().flatten();
            // Unknown counts as written: a write is never sent twice.
            let wrote = match &channel {
                Some(channel) => self
                    .store
                    .conversation_sent_writes(&run_conversation(&task, channel, run.id))
                    .await
                    .unwrap_or(true),
                None => true,
            };
            let again = !wrote
                && task.status == TaskStatus::Active
                && now - run.scheduled_for <= self.config.catch_up;
            let error = format!(
                "interrupted: the instance running it ({}) stopped",
                run.instance
            );
            match self
                .store
                .close_abandoned_run(run.id, before, &error, now)
                .await
            {
                Ok(true) => {}
                // Another instance took it over first, or it beat again.
                Ok(false) => continue,
                Err(error) => {
                    tracing::error!(%error, run = run.id, "cannot close an abandoned run");
                    continue;
                }
            }
            tracing::warn!(task = %task.name, run = run.id, from = %run.instance, again, "took over an abandoned scheduled run");
            if again {
                match self
                    .store
                    .claim_run(
                        task.id,
                        run.scheduled_for,
                        run.attempt + 1,
                        &self.config.instance,
                        now,
                    )
                    .await
                {
                    Ok(Some(retry)) => {
                        let runner = Arc::clone(self);
                        started.push(tokio::spawn(async move {
                            runner.execute(task, retry).await;
                        }));
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(%error, "cannot claim a run taken over"),
                }
            } else {
                let why = if wrote {
                    "after it may have made changes, so I won't run it again and nothing is sent twice"
                } else {
                    "and it is too late to make it up"
                };
                self.report_failure(
                    &task,
                    format!(
                        "⚠️ The scheduled task “{}” was interrupted: the instance running it stopped, {why}.",
                        task.name
                    ),
                )
                .await;
            }
        }
        started
    }

    async fn pause_broken(
        &self,
        task: &ScheduledTask,
        problem: &str,
    ) -> Result<(), agencybot_store::StoreError> {
        tracing::warn!(task = %task.name, problem, "pausing a task that cannot be scheduled");
        self.store
            .set_task_status(task.id, TaskStatus::Paused, None)
            .await?;
        self.deliver(
            task,
            vec![OutboundMessage::Text(format!(
                "⚠️ I paused the scheduled task “{}”: {problem}. Fix it and resume it.",
                task.name
            ))],
        )
        .await;
        Ok(())
    }

    /// Runs the task, retrying with backoff while no write went out, and
    /// delivers the outcome.
    async fn execute(&self, task: ScheduledTask, mut run: TaskRun) {
        // A run taken over continues its attempts' numbering.
        let mut attempt = u32::try_from(run.attempt).unwrap_or(1).max(1);
        loop {
            let error = match self.attempt(&task, &run).await {
                Attempt::Done(events) => {
                    let answer = events.iter().rev().find_map(|e| match e {
                        OutboundMessage::Text(text) => Some(text.clone()),
                        _ => None,
                    });
                    let _ = self
                        .store
                        .finish_run(
                            run.id,
                            Ok(answer.as_deref().unwrap_or("")),
                            self.clock.now(),
                        )
                        .await;
                    let _ = self.store.record_task_outcome(task.id, true).await;
                    self.deliver(&task, events).await;
                    return;
                }
                Attempt::Refused(reason) => {
                    let _ = self
                        .store
                        .finish_run(run.id, Err(&reason), self.clock.now())
                        .await;
                    let _ = self
                        .store
                        .set_task_status(task.id, TaskStatus::Paused, None)
                        .await;
                    let text = format!(
                        "⚠️ I didn't run the scheduled task “{}” and paused it: {reason}. An admin can recreate it under their name, or delete it.",
                        task.name
                    );
                    self.deliver(&task, vec![OutboundMessage::Text(text)]).await;
                    return;
                }
                Attempt::FailedAfterWrites { error, done } => {
                    tracing::warn!(task = %task.name, attempt, %error, "scheduled run failed after making changes; not retried");
                    let _ = self
                        .store
                        .finish_run(run.id, Err(&error), self.clock.now())
                        .await;
                    let mut text = format!(
                        "⚠️ The scheduled task “{}” stopped before it finished: {error}",
                        task.name
                    );
                    if !done.iter().all(|summary| error.contains(summary.as_str())) {
                        text.push_str("\nDone before it stopped:");
                        for summary in &done {
                            text.push_str(&format!("\n• {summary}"));
                        }
                    }
                    text.push_str("\nI won't retry this run, so nothing is sent twice.");
                    self.report_failure(&task, text).await;
                    return;
                }
                Attempt::Failed(error) => error,
            };
            tracing::warn!(task = %task.name, attempt, %error, "scheduled run failed");
            let _ = self
                .store
                .finish_run(run.id, Err(&error), self.clock.now())
                .await;
            if attempt < self.config.attempts {
                tokio::time::sleep(self.config.retry_after * 2u32.pow(attempt - 1)).await;
                attempt += 1;
                match self
                    .store
                    .claim_run(
                        task.id,
                        run.scheduled_for,
                        i64::from(attempt),
                        &self.config.instance,
                        self.clock.now(),
                    )
                    .await
                {
                    Ok(Some(retry)) => {
                        run = retry;
                        continue;
                    }
                    _ => return,
                }
            }
            let text = format!("⚠️ The scheduled task “{}” failed: {error}", task.name);
            self.report_failure(&task, text).await;
            return;
        }
    }

    async fn report_failure(&self, task: &ScheduledTask, mut text: String) {
        let streak = self
            .store
            .record_task_outcome(task.id, false)
            .await
            .unwrap_or(0);
        if streak >= self.config.pause_after {
            let _ = self
                .store
                .set_task_status(task.id, TaskStatus::Paused, None)
                .await;
            text.push_str(&format!(
                "\nIt has failed {streak} times in a row, so I paused it. Resume it when the problem is fixed."
            ));
        } else {
            text.push_str("\nI'll try again at its next run.");
        }
        self.deliver(task, vec![OutboundMessage::Text(text)]).await;
    }

    /// The role a run acts with: its creator's role now, not when the task
    /// was made; `Err` when the creator is no longer in the team.
    async fn creator_role(
        &self,
        task: &ScheduledTask,
        channel: &agencybot_core::Channel,
    ) -> Result<Result<Role, String>, String> {
        if task.creator == CLI_CREATOR {
            return Ok(Ok(Role::Owner));
        }
        let members = self
            .store
            .members(task.team_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(members
            .iter()
            .find(|m| m.is_known_as(channel.platform, &task.creator))
            .map(|m| m.role)
            .ok_or_else(|| {
                format!(
                    "the person who created it ({}) is no longer a member of the team",
                    task.creator
                )
            }))
    }

    /// One try: the engine, unattended, on a conversation of its own.
    async fn attempt(&self, task: &ScheduledTask, run: &TaskRun) -> Attempt {
        // Beats while the run works, so other instances leave it alone.
        let heartbeat = {
            let (store, clock, id) = (self.store.clone(), self.clock.clone(), run.id);
            let every = (self.config.abandon_after / 4).max(Duration::from_millis(200));
            tokio::spawn(async move {
                loop {
                    let _ = store.beat_run(id, clock.now()).await;
                    tokio::time::sleep(every).await;
                }
            })
        };
        let outcome = match self.try_attempt(task, run).await {
            Ok(attempt) => attempt,
            Err(error) => Attempt::Failed(error),
        };
        heartbeat.abort();
        outcome
    }

    async fn try_attempt(&self, task: &ScheduledTask, run: &TaskRun) -> Result<Attempt, String> {
        let team = self
            .store
            .team(task.team_id)
            .await
            .map_err(|e| e.to_string())?;
        let channel = self
            .store
            .channel(&task.channel)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the channel `{}` it reports to is not configured",
                    task.channel
                )
            })?;
        let role = match self.creator_role(task, &channel).await? {
            Ok(role) => role,
            Err(reason) => return Ok(Attempt::Refused(reason)),
        };
        let instructions = task.skill.as_deref().map(|name| {
            match self.skills.as_ref().and_then(|lookup| lookup(name)) {
                Some(body) => format!("This scheduled task follows the skill `{name}`:\n{body}"),
                None => format!("This task names the skill `{name}`, which is not available; do the job without it."),
            }
        });
        let request = TurnRequest {
            team,
            conversation: run_conversation(task, &channel, run.id),
            user_id: task.creator.clone(),
            role,
            content: InboundContent::Text(task.prompt.clone()),
            kind: RequestKind::ScheduledTask,
            model: task.model.clone(),
            mode: Mode::Unattended {
                allowed_writes: task.allowed_writes.clone(),
            },
            instructions,
        };
        let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
        let report = self.engine.handle(request, &sink).await;
        drop(sink);
        let mut kept = Vec::new();
        while let Some(event) = events.recv().await {
            if matches!(event, OutboundMessage::Text(_) | OutboundMessage::File(_)) {
                kept.push(event);
            }
        }
        let error = || {
            report
                .answer
                .clone()
                .unwrap_or_else(|| "the run did not finish".into())
        };
        Ok(match report.outcome {
            UsageOutcome::Success => Attempt::Done(kept),
            _ if !report.executed.is_empty() => Attempt::FailedAfterWrites {
                error: error(),
                done: report.executed.clone(),
            },
            _ => Attempt::Failed(error()),
        })
    }

    async fn deliver(&self, task: &ScheduledTask, events: Vec<OutboundMessage>) {
        let Some(responder) = self
            .outboxes
            .get(&task.channel)
            .and_then(|outbox| outbox.to(&task.destination))
        else {
            tracing::error!(task = %task.name, channel = %task.channel, destination = %task.destination, "nowhere to deliver a scheduled run");
            return;
        };
        for event in events {
            responder.deliver(event).await;
        }
    }
}
