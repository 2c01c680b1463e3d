//! Scheduled tasks: when they fire, who runs them, and what they cost.
//!
//! A task is a prompt with a schedule (`daily 08:00`, `weekly mon,fri 09:30`,
//! `every 15 minutes`, a crontab…) read in its own IANA timezone, and a
//! channel and destination it reports to. The [`Runner`] looks for due tasks,
//! claims each fire in the store (a unique row per task and fire time, so
//! several instances on one database run it exactly once), runs the engine
//! unattended — writes the task was not approved for are skipped, never
//! run — and delivers the answer through the channel's [`Outbox`].
//!
//! Workflows are ready-made tasks from `config/workflows.toml`; usage reports
//! and charts read the usage records every request leaves.
//!
//! [`Outbox`]: agencybot_agent::Outbox

mod chart;
mod runner;
mod schedule;
pub mod tasks;
mod tools;
pub mod usage;
pub mod workflows;

pub use chart::{ChartData, render_chart};
pub use runner::{CLI_CREATOR, Runner, RunnerConfig, SkillLookup};
pub use schedule::{Schedule, ScheduleError, TimezoneError, timezone};
pub use tasks::{TaskChanges, TaskError, check_writes, describe_writes};
pub use tools::register;
pub use workflows::{Workflow, WorkflowError};
