use crate::Timestamp;

/// A prompt run by the turn engine on a schedule, its answer delivered to a chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledTask {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    /// Platform user ID (or CLI user name) of whoever created it.
    pub creator: String,
    /// Configured channel name the answer is delivered through.
    pub channel: String,
    /// Chat, user or channel ID on that platform.
    pub destination: String,
    /// `None`: the team's default model.
    pub model: Option<String>,
    pub prompt: String,
    pub skill: Option<String>,
    /// Schedule in agencybot's schedule syntax (see the scheduler crate).
    pub schedule: String,
    /// IANA timezone the schedule is read in.
    pub timezone: String,
    pub status: TaskStatus,
    /// Endpoint IDs or tool names the task may run without asking, approved at creation.
    pub allowed_writes: Vec<String>,
    pub last_run_at: Option<Timestamp>,
    pub next_run_at: Option<Timestamp>,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewScheduledTask {
    pub team_id: i64,
    pub name: String,
    pub creator: String,
    pub channel: String,
    pub destination: String,
    pub model: Option<String>,
    pub prompt: String,
    pub skill: Option<String>,
    pub schedule: String,
    pub timezone: String,
    pub allowed_writes: Vec<String>,
    pub next_run_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Active,
    Paused,
}

named_enum!(TaskStatus, "task status", {
    Active => "active",
    Paused => "paused",
});

/// One execution of a scheduled task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    pub id: i64,
    pub task_id: i64,
    /// The fire time this run is for; unique per task, which is what makes
    /// a due run happen once across instances.
    pub scheduled_for: Timestamp,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: TaskRunStatus,
    pub attempt: i64,
    pub output: Option<String>,
    pub error: Option<String>,
    pub instance: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskRunStatus {
    Running,
    Succeeded,
    Failed,
}

named_enum!(TaskRunStatus, "task run status", {
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
});
