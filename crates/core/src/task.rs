use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::{ParseError, Timestamp};

/// A write a scheduled task may make without asking, approved when the task
/// was created or changed: the endpoint (or internal tool) and the
/// arguments fixed at approval. A call matches only if every fixed argument
/// has exactly the approved value; other arguments are free.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedWrite {
    pub tool: String,
    pub fixed: Map<String, Value>,
}

impl AllowedWrite {
    #[must_use]
    pub fn new(tool: impl Into<String>) -> Self {
        AllowedWrite {
            tool: tool.into(),
            fixed: Map::new(),
        }
    }

    /// Whether a call of `tool` with `arguments` is the write approved.
    #[must_use]
    pub fn permits(&self, tool: &str, arguments: &Value) -> bool {
        self.tool == tool
            && self
                .fixed
                .iter()
                .all(|(key, value)| arguments.get(key) == Some(value))
    }

    /// The stored JSON: a bare id when nothing is fixed.
    #[must_use]
    pub fn to_json(&self) -> Value {
        if self.fixed.is_empty() {
            Value::String(self.tool.clone())
        } else {
            serde_json::json!({"tool": self.tool, "fixed": self.fixed})
        }
    }

    /// Reads what [`AllowedWrite::to_json`] wrote.
    #[must_use]
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::String(tool) => Some(AllowedWrite::new(tool.clone())),
            Value::Object(object) => Some(AllowedWrite {
                tool: object.get("tool")?.as_str()?.to_owned(),
                fixed: object
                    .get("fixed")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// `endpoint.id key=value …`, as shown to people and typed on the command
/// line; values are JSON where they parse as JSON (`price=5`,
/// `userLists=["1100"]`), text otherwise.
impl fmt::Display for AllowedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tool)?;
        for (key, value) in &self.fixed {
            match value {
                Value::String(text) if !text.contains(char::is_whitespace) => {
                    write!(f, " {key}={text}")?;
                }
                other => write!(f, " {key}={other}")?,
            }
        }
        Ok(())
    }
}

impl FromStr for AllowedWrite {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseError::new("allowed write", s, "endpoint.id [argument=value …]");
        let mut words = s.split_whitespace();
        let tool = words.next().ok_or_else(invalid)?;
        let mut fixed = Map::new();
        for word in words {
            let (key, value) = word.split_once('=').ok_or_else(invalid)?;
            if key.is_empty() {
                return Err(invalid());
            }
            let value =
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            fixed.insert(key.to_owned(), value);
        }
        Ok(AllowedWrite {
            tool: tool.to_owned(),
            fixed,
        })
    }
}

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
    /// Writes the task may make without asking, approved at creation.
    pub allowed_writes: Vec<AllowedWrite>,
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
    pub allowed_writes: Vec<AllowedWrite>,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_allowed_write_permits_only_its_shape() {
        let write: AllowedWrite =
            "mass-messaging.send-mass-message account=acct_1 userLists=[\"1100\"]"
                .parse()
                .unwrap();
        assert!(write.permits(
            "mass-messaging.send-mass-message",
            &json!({"account": "acct_1", "userLists": ["1100"], "text": "hi"})
        ));
        assert!(!write.permits(
            "mass-messaging.send-mass-message",
            &json!({"account": "acct_2", "userLists": ["1100"], "text": "hi"})
        ));
        assert!(!write.permits(
            "mass-messaging.send-mass-message",
            &json!({"account": "acct_1", "text": "hi"})
        ));
        assert!(!write.permits("posts.send-post", &json!({"account": "acct_1"})));
        assert_eq!(
            AllowedWrite::from_json(&write.to_json()),
            Some(write.clone())
        );
        assert_eq!(
            write.to_string(),
            "mass-messaging.send-mass-message account=acct_1 userLists=[\"1100\"]"
        );
        let bare = AllowedWrite::from_json(&json!("tracking-links.create-tracking-link")).unwrap();
        assert!(bare.fixed.is_empty());
        assert!("".parse::<AllowedWrite>().is_err());
        assert!("x.y account".parse::<AllowedWrite>().is_err());
    }
}
