//! What every channel adapter needs between its platform and the engine:
//! who may talk, one turn at a time per conversation (different
//! conversations concurrently), duplicate deliveries handled once, and a
//! shutdown that lets turns in flight finish.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agencybot_core::{Access, ConversationKey, InboundMessage, OutboundMessage, RequestKind, Team};
use agencybot_store::{DeliveryClaims, Store};
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender, channel, unbounded_channel};

use crate::lease::TurnLease;
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
const IDLE_WORKER: Duration = Duration::from_secs(5);
/// Messages one conversation may have waiting behind the one being
/// answered; more are refused with "busy" instead of piling up in memory.
pub const MAX_QUEUED_PER_CONVERSATION: usize = 8;

struct Job {
    request: TurnRequest,
    responder: Arc<dyn Responder>,
    /// Claimed in the store before the turn runs, so a redelivery to
    /// another instance, or after a restart, is answered once.
    delivery_id: Option<String>,
}

/// Who may talk on the channel, as the store said a moment ago.
struct AccessSnapshot {
    channel: agencybot_core::Channel,
    team: Team,
    members: Vec<agencybot_core::Member>,
    read_at: std::time::Instant,
    /// The store's `access_generation` before it was read.
    generation: u64,
}

/// How long a snapshot of the channel, team and members answers for
/// messages, unless this process changes them first. A change made by
/// another instance applies after at most this long; confirmations always
/// read the store.
const ACCESS_TTL: Duration = Duration::from_secs(5);

/// Remembers at most `capacity` keys (with a value each), forgetting the
/// oldest first, so what adapters remember about the outside world stays
/// bounded however long they run.
#[derive(Debug)]
pub struct Seen<K, V = ()> {
    order: VecDeque<K>,
    entries: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Seen<K, V> {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Seen {
            order: VecDeque::new(),
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    #[must_use]
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    #[must_use]
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `key` to `value`; a new key forgets the oldest one when full.
    /// Returns whether `key` is new.
    pub fn put(&mut self, key: K, value: V) -> bool {
        if let Some(existing) = self.entries.get_mut(&key) {
            *existing = value;
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.entries.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.entries.insert(key, value);
        true
    }
}

/// Confirmation messages of one chat waiting to show how they ended.
const SHOWN_PER_CHAT: usize = 8;

/// The confirmation messages an adapter sent, per chat, until each is
/// edited to show its outcome. `M` is the platform's message reference.
pub struct ShownConfirmations<M> {
    chats: std::sync::Mutex<Seen<String, Vec<Shown<M>>>>,
}

#[derive(Debug, Clone)]
struct Shown<M> {
    message: M,
    ids: Vec<i64>,
    text: String,
}

impl<M: Clone + Send> ShownConfirmations<M> {
    /// Remembers up to `chats` chats, the most recent ones.
    #[must_use]
    pub fn new(chats: usize) -> Self {
        ShownConfirmations {
            chats: std::sync::Mutex::new(Seen::new(chats)),
        }
    }

    /// Records that `message` in `chat` asks about `ids` with `text`.
    pub fn remember(&self, chat: &str, message: M, ids: Vec<i64>, text: String) {
        let mut chats = self.lock();
        let mut shown = chats.get(&chat.to_owned()).cloned().unwrap_or_default();
        if shown.len() >= SHOWN_PER_CHAT {
            shown.remove(0);
        }
        shown.push(Shown { message, ids, text });
        chats.put(chat.to_owned(), shown);
    }

    /// The messages of `chat` whose actions are all decided now, each with
    /// the text it should show instead of its question; they are forgotten.
    pub async fn decided(&self, hub: &Hub, chat: &str) -> Vec<(M, String)> {
        let key = chat.to_owned();
        let shown = self.lock().get(&key).cloned().unwrap_or_default();
        let mut done = Vec::new();
        let mut waiting = Vec::new();
        for item in shown {
            match hub.decided_text(&item.ids).await {
                Some(outcome) => done.push((item.message, answered_text(&item.text, &outcome))),
                None => waiting.push(item),
            }
        }
        if !done.is_empty() {
            self.lock().put(key, waiting);
        }
        done
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen<String, Vec<Shown<M>>>> {
        self.chats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A confirmation question turned into its answer: whatever preceded the
/// proposal stays, the proposal and its question give way to the outcome.
#[must_use]
pub fn answered_text(question: &str, outcome: &str) -> String {
    let preface = question
        .find(PROPOSAL_HEADING)
        .map_or("", |at| question[..at].trim_end());
    if preface.is_empty() {
        outcome.to_owned()
    } else {
        format!("{preface}\n\n{outcome}")
    }
}

/// How every confirmation question begins its list of writes.
pub const PROPOSAL_HEADING: &str = "Here's what I'll do — nothing has been done yet:";

impl<K: Hash + Eq + Clone> Seen<K> {
    /// Records `key`; false if it was already there.
    pub fn insert(&mut self, key: K) -> bool {
        self.put(key, ())
    }
}

struct Inner {
    engine: Arc<Engine>,
    store: Store,
    channel: String,
    claims: DeliveryClaims,
    queues: Mutex<HashMap<ConversationKey, Sender<Job>>>,
    seen: Mutex<Seen<String>>,
    access: Mutex<Option<Arc<AccessSnapshot>>>,
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
        let channel = channel.into();
        Hub {
            inner: Arc::new(Inner {
                engine,
                claims: DeliveryClaims::new(store.clone(), channel.clone()),
                store,
                channel,
                queues: Mutex::new(HashMap::new()),
                seen: Mutex::new(Seen::new(REMEMBERED_DELIVERIES)),
                access: Mutex::new(None),
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

    /// The platform accepted the bot and the channel is receiving.
    pub fn report_connected(&self) {
        let engine = &self.inner.engine;
        engine
            .channel_status()
            .connected(&self.inner.channel, engine.now());
    }

    /// Another instance holds this channel's lease; this one stands by.
    pub fn report_standby(&self) {
        let engine = &self.inner.engine;
        engine
            .channel_status()
            .standby(&self.inner.channel, engine.now());
    }

    /// The channel cannot receive because of `error` (it keeps retrying).
    pub fn report_disconnected(&self, error: &dyn std::fmt::Display) {
        let engine = &self.inner.engine;
        engine
            .channel_status()
            .disconnected(&self.inner.channel, &error.to_string(), engine.now());
    }

    /// A failure that leaves the channel receiving (a send that failed).
    pub fn report_error(&self, error: &dyn std::fmt::Display) {
        let engine = &self.inner.engine;
        engine
            .channel_status()
            .failed(&self.inner.channel, &error.to_string(), engine.now());
    }

    /// Whether `user_id` may use this channel, and as whom. Read from the
    /// store every time, so member changes apply at once.
    pub async fn access(&self, user_id: &str) -> Result<(Team, Access), HubError> {
        let snapshot = self.read_access().await?;
        let access = snapshot.channel.access(user_id, &snapshot.members);
        Ok((snapshot.team.clone(), access))
    }

    async fn read_access(&self) -> Result<Arc<AccessSnapshot>, HubError> {
        let store = &self.inner.store;
        let generation = store.access_generation();
        let channel = store
            .channel(&self.inner.channel)
            .await?
            .ok_or_else(|| HubError::UnknownChannel(self.inner.channel.clone()))?;
        let team = store.team(channel.team_id).await?;
        let members = store.members(team.id).await?;
        let snapshot = Arc::new(AccessSnapshot {
            channel,
            team,
            members,
            read_at: std::time::Instant::now(),
            generation,
        });
        *self
            .inner
            .access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Like [`Hub::access`], from a snapshot a few seconds old at most, so
    /// taking a message in does not wait on the store.
    async fn recent_access(&self, user_id: &str) -> Result<(Team, Access), HubError> {
        let cached = self
            .inner
            .access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .filter(|s| {
                s.read_at.elapsed() < ACCESS_TTL
                    && s.generation == self.inner.store.access_generation()
            });
        let snapshot = match cached {
            Some(snapshot) => snapshot,
            None => self.read_access().await?,
        };
        let access = snapshot.channel.access(user_id, &snapshot.members);
        Ok((snapshot.team.clone(), access))
    }

    /// Checks the sender and queues the message behind earlier ones of its
    /// conversation. Adapters answer `Denied` in their platform's words.
    pub async fn submit(&self, incoming: Incoming) -> Result<Admission, HubError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Ok(Admission::Closed);
        }
        let engine = &self.inner.engine;
        engine
            .channel_status()
            .event(&self.inner.channel, engine.now());
        if let Some(id) = incoming.delivery_id.clone()
            && !self.lock_seen().insert(id)
        {
            return Ok(Admission::Duplicate);
        }
        // A yes or no is checked against the store as it is now: a role
        // taken away a moment ago confirms nothing.
        let decides = match &incoming.message.content {
            agencybot_core::InboundContent::Confirmation { .. } => true,
            agencybot_core::InboundContent::Text(text) => crate::parse_reply(text).is_some(),
            agencybot_core::InboundContent::Reset => false,
        };
        let (team, access) = if decides {
            self.access(&incoming.message.user_id).await?
        } else {
            self.recent_access(&incoming.message.user_id).await?
        };
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
            delivery_id: incoming.delivery_id,
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
        self.queued_gauge().inc();
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

    fn queued_gauge(&self) -> prometheus::IntGauge {
        crate::metrics::metrics()
            .queued
            .with_label_values(&[self.inner.channel.as_str()])
    }

    fn job_done(&self) {
        self.queued_gauge().dec();
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
        if let Some(id) = &job.delivery_id {
            match self.inner.claims.claim(id, self.inner.engine.now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(channel = %self.inner.channel, delivery = %id, "already handled (another instance, or before a restart); dropped");
                    return;
                }
                // The turn itself will meet the same store and say so.
                Err(error) => {
                    tracing::warn!(channel = %self.inner.channel, %error, "cannot record a delivery; handling it anyway");
                }
            }
        }
        // Instances sharing PostgreSQL may each receive a message of this
        // conversation; the local queue orders only this instance's. One
        // SQLite file serves one instance, and its queue is enough.
        let turn = match self.inner.store.backend() {
            agencybot_store::Backend::Postgres => {
                TurnLease::acquire(&self.inner.store, &job.request.conversation).await
            }
            agencybot_store::Backend::Sqlite => TurnLease::none(),
        };
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
        turn.release().await;
        job.responder.finished(&report).await;
    }

    /// How the actions of one confirmation message ended, once none of
    /// them waits or runs any more: the lines that replace its question
    /// (its buttons go). `None` while any is undecided, or on a store error
    /// (the buttons stay).
    pub async fn decided_text(&self, ids: &[i64]) -> Option<String> {
        use agencybot_core::ActionState;
        let now = self.inner.engine.now();
        let store = &self.inner.store;
        let mut lines = Vec::new();
        let mut names: Option<Vec<agencybot_core::Member>> = None;
        for id in ids {
            let action = store.pending_action(*id).await.ok()??;
            let by = match &action.decided_by {
                Some(user) => {
                    if names.is_none() {
                        names = Some(store.members(action.team_id).await.ok()?);
                    }
                    let name = names.as_deref().and_then(|members| {
                        members
                            .iter()
                            .find(|m| m.is_known_as(action.conversation.platform, user))
                            .map(|m| m.name.clone())
                    });
                    name.unwrap_or_else(|| user.clone())
                }
                None => String::new(),
            };
            let outcome = match action.state {
                ActionState::Pending if action.expires_at > now => return None,
                ActionState::Confirmed => return None,
                ActionState::Pending | ActionState::Expired => {
                    "⏰ Expired — nothing was done".to_owned()
                }
                ActionState::Executed => format!("✅ Done — approved by {by}"),
                ActionState::Failed => format!(
                    "❌ Failed — approved by {by}, nothing was changed: {}",
                    action.error.as_deref().unwrap_or("refused")
                ),
                ActionState::Unknown => format!(
                    "⚠️ Sent, outcome unknown — approved by {by}; check before asking again"
                ),
                ActionState::Declined => format!("🚫 Cancelled by {by} — nothing was done"),
            };
            lines.push(format!("{outcome}: {}", action.summary));
        }
        Some(lines.join("\n"))
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

    fn lock_seen(&self) -> std::sync::MutexGuard<'_, Seen<String>> {
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

/// How long `text` is in UTF-16 code units, as Telegram counts its limits.
#[must_use]
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_question_keeps_its_preface_and_shows_the_outcome() {
        let question = format!(
            "Sure, here's the link.\n\n{PROPOSAL_HEADING}\n• Create Tracking Link\nShould I go ahead? Reply yes or no."
        );
        assert_eq!(
            answered_text(&question, "✅ Done — approved by Ann: Create Tracking Link"),
            "Sure, here's the link.\n\n✅ Done — approved by Ann: Create Tracking Link"
        );
        assert_eq!(
            answered_text(&format!("{PROPOSAL_HEADING}\n• X"), "🚫 Cancelled"),
            "🚫 Cancelled"
        );
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
        let mut seen = Seen::new(REMEMBERED_DELIVERIES);
        assert!(seen.insert("a".into()));
        assert!(!seen.insert("a".into()));
        for i in 0..REMEMBERED_DELIVERIES {
            seen.insert(i.to_string());
        }
        assert!(seen.insert("a".into()), "the oldest ids are forgotten");
    }

    #[test]
    fn seen_keeps_at_most_its_capacity_forgetting_the_oldest() {
        let mut seen: Seen<u64, &str> = Seen::new(3);
        for key in 1..=3 {
            assert!(seen.put(key, "first"));
        }
        assert!(!seen.put(2, "second"), "an update is not a new key");
        assert_eq!(seen.get(&2), Some(&"second"));
        assert!(seen.put(4, "first"));
        assert_eq!(seen.len(), 3);
        assert!(!seen.contains(&1), "the oldest went first");
        assert!(seen.contains(&2) && seen.contains(&3) && seen.contains(&4));
        for key in 5..10_000 {
            seen.put(key, "more");
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.get(&9_999), Some(&"more"));
    }
}
