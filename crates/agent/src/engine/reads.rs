//! Reads paid for once: the same read asked again in one turn (or by
//! parallel tool calls of one step) gets the first answer, and a read
//! answered a short while ago for the team is reused unless the model asks
//! for fresh data. Any write forgets what was read, so nothing stale
//! follows a change.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agencybot_core::Timestamp;

use serde_json::{Map, Value};
use tokio::sync::OnceCell;

/// Answers kept across turns, all teams together.
const KEPT: usize = 256;

/// What identifies a read: the endpoint and its arguments (object keys
/// sorted, so argument order does not matter).
pub(super) fn read_key(endpoint: &str, args: &Map<String, Value>) -> String {
    let mut sorted: Vec<(&String, &Value)> = args.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let canonical: Vec<String> = sorted
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    format!("{endpoint}?{}", canonical.join("&"))
}

/// One turn's reads, each made once.
#[derive(Default)]
pub(super) struct TurnReads {
    cells: Mutex<HashMap<String, Arc<OnceCell<Value>>>>,
}

impl TurnReads {
    /// The cell of a read: the first caller fills it, the others wait for
    /// it and take its answer.
    pub(super) fn cell(&self, key: &str) -> Arc<OnceCell<Value>> {
        lock(&self.cells).entry(key.to_owned()).or_default().clone()
    }

    /// A read that failed is made again when asked again.
    pub(super) fn discard(&self, key: &str) {
        lock(&self.cells).remove(key);
    }

    /// After a write, reads must reach the API again.
    pub(super) fn forget(&self) {
        lock(&self.cells).clear();
    }
}

/// Recent answers of successful reads, by team and read.
#[derive(Default)]
pub(super) struct RecentReads {
    entries: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    answers: HashMap<(i64, String), (Timestamp, Value)>,
    order: VecDeque<(i64, String)>,
}

impl RecentReads {
    /// The answer and its age, if it is younger than `ttl` at `now`.
    pub(super) fn get(
        &self,
        team: i64,
        key: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Option<(Duration, Value)> {
        let entries = lock(&self.entries);
        let (at, answer) = entries.answers.get(&(team, key.to_owned()))?;
        let age = (now - *at).to_std().unwrap_or(Duration::ZERO);
        (age < ttl).then(|| (age, answer.clone()))
    }

    pub(super) fn put(&self, team: i64, key: &str, answer: Value, now: Timestamp) {
        let mut entries = lock(&self.entries);
        let id = (team, key.to_owned());
        if entries.answers.insert(id.clone(), (now, answer)).is_none() {
            entries.order.push_back(id);
        }
        while entries.order.len() > KEPT {
            if let Some(oldest) = entries.order.pop_front() {
                entries.answers.remove(&oldest);
            }
        }
    }

    /// A write of the team may have changed any of its answers.
    pub(super) fn forget_team(&self, team: i64) {
        let mut entries = lock(&self.entries);
        entries.answers.retain(|(owner, _), _| *owner != team);
        entries.order.retain(|(owner, _)| *owner != team);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The answer the model reads for a reused one: marked with its age when
/// it came from an earlier turn, so the answer can say how fresh it is.
pub(super) fn aged(answer: Value, age: Duration) -> Value {
    let seconds = age.as_secs();
    match answer {
        Value::Object(mut map) => {
            map.insert("cached_seconds_ago".into(), Value::from(seconds));
            Value::Object(map)
        }
        other => serde_json::json!({"result": other, "cached_seconds_ago": seconds}),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_ignore_argument_order() {
        let a: Map<String, Value> = serde_json::from_value(json!({"b": 1, "a": "x"})).unwrap();
        let b: Map<String, Value> = serde_json::from_value(json!({"a": "x", "b": 1})).unwrap();
        assert_eq!(read_key("e", &a), read_key("e", &b));
        assert_ne!(read_key("e", &a), read_key("f", &a));
    }

    #[test]
    fn recent_reads_expire_are_bounded_and_forgotten_per_team() {
        let now = chrono::Utc::now();
        let minute = Duration::from_secs(60);
        let recent = RecentReads::default();
        recent.put(1, "k", json!({"n": 1}), now);
        recent.put(2, "k", json!({"n": 2}), now);
        let later = now + chrono::Duration::seconds(30);
        let (age, answer) = recent.get(1, "k", minute, later).unwrap();
        assert_eq!((age, answer), (Duration::from_secs(30), json!({"n": 1})));
        let too_late = now + chrono::Duration::seconds(61);
        assert!(recent.get(1, "k", minute, too_late).is_none(), "expired");
        assert!(
            recent.get(1, "k", Duration::ZERO, now).is_none(),
            "reuse off"
        );
        recent.forget_team(1);
        assert!(recent.get(1, "k", minute, now).is_none());
        assert!(recent.get(2, "k", minute, now).is_some());
        for n in 0..(KEPT + 10) {
            recent.put(3, &n.to_string(), json!(n), now);
        }
        assert!(lock(&recent.entries).answers.len() <= KEPT);
        assert!(recent.get(3, "0", minute, now).is_none(), "oldest evicted");
    }

    #[test]
    fn aged_answers_say_how_old_they_are() {
        assert_eq!(
            aged(json!({"total": 5}), Duration::from_secs(90)),
            json!({"total": 5, "cached_seconds_ago": 90})
        );
        assert_eq!(
            aged(json!([1]), Duration::from_secs(3))["cached_seconds_ago"],
            3
        );
    }
}
