//! What every channel adapter needs between its platform and the engine:
//! who may talk, one turn at a time per conversation (different
//! conversations concurrently), duplicate deliveries handled once, and a
//! shutdown that lets turns in flight finish.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agencybot_core::{Access, ConversationKey, InboundMessage, OutboundMessage, RequestKind, Team};
use agencybot_store::Store;
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender, channel, unbounded_channel};

use crate::{Engine, Mode, TurnReport, TurnRequest};

/// Delivers the engine's events for one conversation on its platform.
pub trait Responder: Send + Sync + 'static {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()>;

    /// Called once the turn is over (remove buttons, stop typing…).
    fn finished<'a>(&'a self, _report: &'a TurnReport) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Sends to a destination on a channel with no message to answer: how
/// scheduled tasks deliver. `destination` is a chat, user or channel id.
pub trait Outbox: Send + Sync {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>>;
}

/// A message an adapter received, with where its answer goes.
pub struct Incoming {
    /// The platform's id of this delivery (update id, event id…), so a
    /// redelivery is handled once.
    pub delivery_id: Option<String>,
    pub message: InboundMessage,
    pub responder: Arc<dyn Responder>,
}

/// What became of a message handed to the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Queued behind earlier messages of its conversation.
    Accepted,
    /// Seen before; dropped.
    Duplicate,
    /// The sender may not use this channel; nothing was queued.
    Denied,
    /// The channel is shutting down.
    Closed,
    /// The conversation already has as many messages waiting as it may;
    /// nothing was queued.
    Busy,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("channel `{0}` is not configured")]
    UnknownChannel(String),
    #[error(transparent)]
    Store(#[from] agencybot_store::StoreError),
}

/// How many delivery ids are remembered for de-duplication.
const REMEMBERED_DELIVERIES: usize = 10_000;
/// A conversation's worker stops after this long without messages.
const IDLE_WORKER: Duration = Duration::from_secs(300);
/// Messages one conversation may have waiting behind the one being
/// answered; more are refused with "busy" instead of piling up in memory.
pub const MAX_QUEUED_PER_CONVERSATION: usize = 8;

struct Job {
    request: TurnRequest,
    responder: Arc<dyn Responder>,
}

#[derive(Default)]
struct Seen {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    /// Records `id`; false if it was already there.
    fn insert(&mut self, id: String) -> bool {
        if self.ids.contains(&id) {
            return false;
        }
        if self.order.len() == REMEMBERED_DELIVERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.ids.insert(id);
        true
    }
}

struct Inner {
    engine: Arc<Engine>,
    store: Store,
    channel: String,
    queues: Mutex<HashMap<ConversationKey, Sender<Job>>>,
    seen: Mutex<Seen>,
    /// Jobs queued or running.
    pending: AtomicUsize,
    idle: Notify,
    closed: AtomicBool,
}

/// The runtime of one configured channel. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("channel", &self.inner.channel)
            .finish()
    }
}

impl Hub {
    #[must_use]
    pub fn new(engine: Arc<Engine>, store: Store, channel: impl Into<String>) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                engine,
                store,
                channel: channel.into(),
                queues: Mutex::new(HashMap::new()),
                seen: Mutex::new(Seen::default()),
                pending: AtomicUsize::new(0),
                idle: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        }
    }

    #[must_use]
    pub fn channel_name(&self) -> &str {
        &self.inner.channel
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether `user_id` may use this channel, and as whom. Read from the
    /// store every time, so member changes apply at once.
    pub async fn access(&self, user_id: &str) -> Result<(Team, Access), HubError> {
        let store = &self.inner.store;
        let channel = store
            .channel(&self.inner.channel)
            .await?
            .ok_or_else(|| HubError::UnknownChannel(self.inner.channel.clone()))?;
        let team = store.team(channel.team_id).await?;
        let members = store.members(team.id).await?;
        let access = channel.access(user_id, &members);
        Ok((team, access))
    }

    /// Checks the sender and queues the message behind earlier ones of its
    /// conversation. Adapters answer `Denied` in their platform's words.
    pub async fn submit(&self, incoming: Incoming) -> Result<Admission, HubError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Ok(Admission::Closed);
        }
        if let Some(id) = incoming.delivery_id.clone()
            && !self.lock_seen().insert(id)
        {
            return Ok(Admission::Duplicate);
        }
        let (team, access) = self.access(&incoming.message.user_id).await?;
        let Some(role) = access.role() else {
            tracing::info!(channel = %self.inner.channel, user = %incoming.message.user_id, "refused a user who is not permitted");
            return Ok(Admission::Denied);
        };
        // The hub's channel is part of the key, whatever the adapter wrote:
        // conversations of two channels never share history or actions.
        let mut conversation = incoming.message.conversation.clone();
        conversation.channel.clone_from(&self.inner.channel);
        let request = TurnRequest {
            team,
            conversation,
            user_id: incoming.message.user_id.clone(),
            role,
            content: incoming.message.content,
            kind: RequestKind::Chat,
            model: None,
            mode: Mode::Interactive,
            instructions: None,
        };
        Ok(self.enqueue(Job {
            request,
            responder: incoming.responder,
        }))
    }

    fn enqueue(&self, job: Job) -> Admission {
        let key = job.request.conversation.clone();
        // Sent under the lock, so an idle worker cannot leave between
        // handing out its sender and the message arriving.
        let mut queues = self
            .inner
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.pending.fetch_add(1, Ordering::SeqCst);
        let job = match queues.get(&key) {
            Some(sender) => match sender.try_send(job) {
                Ok(()) => return Admission::Accepted,
                Err(TrySendError::Full(_)) => {
                    self.job_done();
                    return Admission::Busy;
                }
                Err(TrySendError::Closed(returned)) => returned,
            },
            None => job,
        };
        let (sender, receiver) = channel(MAX_QUEUED_PER_CONVERSATION);
        let _ = sender.try_send(job);
        queues.insert(key.clone(), sender);
        let hub = self.clone();
        tokio::spawn(async move { hub.work(key, receiver).await });
        Admission::Accepted
    }

    fn job_done(&self) {
        if self.inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }

    async fn work(self, key: ConversationKey, mut jobs: Receiver<Job>) {
        loop {
            let job = match tokio::time::timeout(IDLE_WORKER, jobs.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(_) => {
                    let mut queues = self
                        .inner
                        .queues
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if jobs.is_empty() {
                        queues.remove(&key);
                        return;
                    }
                    continue;
                }
            };
            self.run(job).await;
            self.job_done();
        }
    }

    async fn run(&self, job: Job) {
        let (sink, mut events) = unbounded_channel();
        let responder = job.responder.clone();
        let forward = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                responder.deliver(event).await;
            }
        });
        let report = self.inner.engine.handle(job.request, &sink).await;
        drop(sink);
        let _ = forward.await;
        job.responder.finished(&report).await;
    }

    /// Whether none of `ids` waits for an answer any more (so its buttons
    /// can go). Unknown on a store error: the buttons stay.
    pub async fn all_decided(&self, ids: &[i64]) -> bool {
        for id in ids {
            match self.inner.store.pending_action(*id).await {
                Ok(Some(action)) if action.state == agencybot_core::ActionState::Pending => {
                    return false;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Stops taking messages and waits (up to `grace`) for queued and
    /// running turns to finish. Returns whether everything finished.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.closed.store(true, Ordering::SeqCst);
        let wait = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.inner.pending.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(grace, wait).await.is_ok()
    }

    fn lock_seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a confirmation button carries as its data (short enough for
/// Telegram's 64-byte callback data and Discord's custom ids): one action
/// approved or declined, or all of a message's actions at once.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmButton {
    One { id: i64, approve: bool },
    All { approve: bool, ids: Vec<i64> },
}

impl ConfirmButton {
    /// What pressing the button says to the engine: exactly the actions
    /// it showed, never one proposed after it was sent.
    #[must_use]
    pub fn content(&self) -> agencybot_core::InboundContent {
        let approve = match self {
            ConfirmButton::One { approve, .. } | ConfirmButton::All { approve, .. } => *approve,
        };
        agencybot_core::InboundContent::Confirmation {
            action_ids: self.action_ids(),
            approve,
        }
    }

    #[must_use]
    pub fn data(&self) -> String {
        match self {
            ConfirmButton::One { id, approve } => {
                format!("{}:{id}", if *approve { "y" } else { "n" })
            }
            ConfirmButton::All { approve, ids } => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                format!("{}:{}", if *approve { "Y" } else { "N" }, ids.join(","))
            }
        }
    }

    #[must_use]
    pub fn parse(data: &str) -> Option<ConfirmButton> {
        let (kind, rest) = data.split_once(':')?;
        match kind {
            "y" | "n" => Some(ConfirmButton::One {
                id: rest.parse().ok()?,
                approve: kind == "y",
            }),
            "Y" | "N" => {
                let ids: Option<Vec<i64>> = rest.split(',').map(|id| id.parse().ok()).collect();
                Some(ConfirmButton::All {
                    approve: kind == "Y",
                    ids: ids?,
                })
            }
            _ => None,
        }
    }

    #[must_use]
    pub fn action_ids(&self) -> Vec<i64> {
        match self {
            ConfirmButton::One { id, .. } => vec![*id],
            ConfirmButton::All { ids, .. } => ids.clone(),
        }
    }
}

/// What to tell a sender whose message was not taken, if anything;
/// `denied` words the refusal the platform's way.
#[must_use]
pub fn refusal(
    admission: &Result<Admission, HubError>,
    denied: impl FnOnce() -> String,
) -> Option<String> {
    match admission {
        Ok(Admission::Accepted | Admission::Duplicate) => None,
        Ok(Admission::Denied) => Some(denied()),
        Ok(Admission::Closed) => {
            Some("I'm restarting — please send that again in a minute.".into())
        }
        Ok(Admission::Busy) => Some(
            "I'm still working through your earlier messages here — wait for my answers, then send that again.".into(),
        ),
        Err(error) => {
            tracing::error!(%error, "cannot hand the message to the engine");
            Some("Sorry, I can't take messages right now. Please try again shortly.".into())
        }
    }
}

/// The message sent instead of a file over the platform's upload limit.
#[must_use]
pub fn too_large(
    file: &agencybot_core::Attachment,
    platform: agencybot_core::Platform,
) -> Option<String> {
    let limit = platform.file_limit();
    let size = file.bytes.len() as u64;
    (size > limit).then(|| {
        format!(
            "{} is {:.1} MB, over {}'s {} MB limit for bots, so I can't send it here. Ask for a shorter period or fewer columns.",
            file.file_name,
            size as f64 / 1_000_000.0,
            match platform {
                agencybot_core::Platform::Telegram => "Telegram",
                agencybot_core::Platform::Slack => "Slack",
                agencybot_core::Platform::Discord => "Discord",
                agencybot_core::Platform::Terminal => "the terminal",
            },
            limit / (1024 * 1024)
        )
    })
}

/// Splits `text` into pieces of at most `limit` characters, preferring
/// paragraph breaks, then line breaks, then spaces. Nothing is lost: the
/// pieces hold every character of `text` but the breaks they were cut at.
#[must_use]
pub fn split_text(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > limit {
        let window: String = rest.chars().take(limit).collect();
        let cut = ["\n\n", "\n", " "].iter().find_map(|separator| {
            window
                .rfind(separator)
                .filter(|&at| at > 0)
                .map(|at| (at, separator.len()))
        });
        let (head, tail) = match cut {
            Some((at, separator)) => (&rest[..at], &rest[at + separator..]),
            None => rest.split_at(window.len()),
        };
        pieces.push(head.trim_end().to_owned());
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_prefers_paragraphs_and_loses_nothing() {
        let text =
            "First paragraph here.\n\nSecond paragraph is a bit longer.\nWith a second line.";
        let pieces = split_text(text, 40);
        assert_eq!(
            pieces,
            [
                "First paragraph here.",
                "Second paragraph is a bit longer.",
                "With a second line."
            ]
        );
        let long_word = "x".repeat(25);
        assert_eq!(
            split_text(&long_word, 10),
            ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]
        );
        let emoji = "💸".repeat(5);
        assert_eq!(
            split_text(&emoji, 2).concat(),
            emoji,
            "cuts on character boundaries"
        );
        assert!(split_text("", 10).is_empty());
    }

    #[test]
    fn every_word_survives_splitting() {
        let text: String = (0..2000).map(|i| format!("word{i} ")).collect::<String>() + "\n\nend";
        let pieces = split_text(&text, 4096);
        assert!(pieces.iter().all(|p| p.chars().count() <= 4096));
        let words: Vec<&str> = pieces.iter().flat_map(|p| p.split_whitespace()).collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn button_data_round_trips_within_64_bytes() {
        for button in [
            ConfirmButton::One {
                id: 12,
                approve: true,
            },
            ConfirmButton::One {
                id: 9_999_999,
                approve: false,
            },
            ConfirmButton::All {
                approve: true,
                ids: vec![1, 2, 3],
            },
        ] {
            assert!(button.data().len() <= 64);
            assert_eq!(ConfirmButton::parse(&button.data()), Some(button));
        }
        assert_eq!(ConfirmButton::parse("garbage"), None);
        assert_eq!(ConfirmButton::parse("y:abc"), None);
    }

    #[test]
    fn deliveries_are_remembered_for_a_while() {
        let mut seen = Seen::default();
        assert!(seen.insert("a".into()));
        assert!(!seen.insert("a".into()));
        for i in 0..REMEMBERED_DELIVERIES {
            seen.insert(i.to_string());
        }
        assert!(seen.insert("a".into()), "the oldest ids are forgotten");
    }
}
