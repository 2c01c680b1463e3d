//! The turn engine: one request in, events out, one usage record written.
//!
//! `engine.rs` is the loop (model call → tool calls run concurrently →
//! repeat); `dispatch` checks and runs tool calls; `gate` turns writes into
//! pending actions and performs confirmed ones; `accounts` caches the team's
//! connected accounts; `meter` counts what a turn costs and what the team
//! may still spend.

mod accounts;
mod dispatch;
mod gate;
mod meter;
mod reads;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agencybot_core::{
    AllowedWrite, Clock, ConversationKey, InboundContent, NewUsageRecord, OutboundMessage,
    ProposedAction, RequestKind, Role, Team, UsageOutcome,
};
use agencybot_ofapi::{Access, Client};
use agencybot_store::{Conversation, Store};
use futures::future::{BoxFuture, join_all};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::confirm::{self, Decision, Selection};
use crate::model::{ModelError, Models, Prices, Transcript};
use crate::prompt::{self, AccountSummary, PromptInput};
use crate::tools::{self, InternalTool, ToolRegistry};
use crate::{builtin, memory, tokens};
use gate::confirmation_text;
pub use gate::duration_text;
use meter::{Meter, Spend, TurnLimits};

/// Where the engine's events go; an adapter turns them into platform messages.
pub type EventSink = UnboundedSender<OutboundMessage>;

/// The shortest time a confirmation request waits: less and people cannot
/// read the summary before it expires.
pub const MIN_CONFIRMATION_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Used when neither the request nor the team names a model.
    pub default_model: String,
    /// Model calls in one turn at most.
    pub max_steps: u32,
    pub confirmation_ttl: chrono::Duration,
    /// Conversation history sent to the model, in tokens.
    pub history_tokens: usize,
    pub prices: Prices,
    /// How long the account list is reused before it is fetched again.
    pub accounts_ttl: Duration,
    /// Endpoints the catalog turns off by default (credentials, payouts,
    /// webhooks) that this install allows, by id.
    pub allowed_endpoints: Vec<String>,
    /// A turn stops starting model calls and tool steps after this long.
    pub turn_deadline: Duration,
    /// Turns a minute one person may start; `None` for no limit.
    pub user_turns_per_minute: Option<NonZeroU32>,
    /// Turns a minute one team may start; `None` for no limit.
    pub team_turns_per_minute: Option<NonZeroU32>,
    /// How long a read's answer is reused by later turns of the team
    /// (unless the model asks for fresh data); zero turns reuse off.
    pub read_reuse_ttl: Duration,
    /// Turns this process runs at once; more wait for a slot, so a burst
    /// cannot take all the memory there is.
    pub max_concurrent_turns: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_model: "gpt-4.1-mini".into(),
            max_steps: 8,
            confirmation_ttl: chrono::Duration::minutes(10),
            history_tokens: 6000,
            prices: Prices::default(),
            accounts_ttl: Duration::from_secs(600),
            allowed_endpoints: Vec::new(),
            turn_deadline: Duration::from_secs(180),
            user_turns_per_minute: NonZeroU32::new(20),
            team_turns_per_minute: NonZeroU32::new(120),
            read_reuse_ttl: Duration::from_secs(120),
            max_concurrent_turns: 2_000,
        }
    }
}

/// The argument of a `/model` command (empty when none is given); in
/// Telegram groups the command may carry the bot's name (`/model@bot`).
fn model_command(text: &str) -> Option<&str> {
    let text = text.trim();
    let (command, argument) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let command = command.split('@').next().unwrap_or_default();
    (command == "/model").then(|| argument.trim())
}

/// Counts a finished request in the process's metrics.
fn record_metrics(usage: &NewUsageRecord, took: Duration) {
    let metrics = crate::metrics::metrics();
    let platform = usage.platform.as_str();
    let kind = usage.kind.as_str();
    metrics
        .turns
        .with_label_values(&[platform, kind, usage.outcome.as_str()])
        .inc();
    metrics
        .turn_seconds
        .with_label_values(&[platform, kind])
        .observe(took.as_secs_f64());
    let model = usage.model.as_str();
    for (kind, tokens) in [
        ("prompt", usage.prompt_tokens),
        ("completion", usage.completion_tokens),
    ] {
        metrics
            .tokens
            .with_label_values(&[model, kind])
            .inc_by(u64::try_from(tokens).unwrap_or(0));
    }
    let usd = usage.cost_usd + usage.web_search_usd;
    metrics
        .usd_micros
        .with_label_values(&[model])
        .inc_by((usd.max(0.0) * 1_000_000.0).round() as u64);
    metrics
        .credits
        .with_label_values(&[model])
        .inc_by(u64::try_from(usage.credits).unwrap_or(0));
}

/// Text added to the system prompt for a request (installed skills,
/// connected integrations…).
pub trait PromptSection: Send + Sync {
    fn section<'a>(&'a self, requester: &'a tools::Requester<'a>) -> BoxFuture<'a, Option<String>>;
    /// It lists skills to choose from, which a run following a pinned skill
    /// does not need.
    fn lists_skills(&self) -> bool {
        false
    }
}

fn requester<'a>(
    request: &'a TurnRequest,
    store: &'a Store,
    apps: &'a dyn tools::ConnectedApps,
) -> tools::Requester<'a> {
    let allowed_writes = match &request.mode {
        Mode::Interactive => None,
        Mode::Unattended { allowed_writes } => Some(allowed_writes.as_slice()),
    };
    tools::Requester::new(
        &request.team,
        &request.user_id,
        request.role,
        &request.conversation,
        store,
        allowed_writes,
        apps,
    )
}

/// Whether someone can answer confirmation questions.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Interactive,
    /// A scheduled run: writes matching an approved shape run without
    /// asking (they were approved when the task was created), if the run's
    /// role may make them; others are skipped and reported.
    Unattended {
        allowed_writes: Vec<AllowedWrite>,
    },
}

/// One request to the engine.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub team: Team,
    pub conversation: ConversationKey,
    pub user_id: String,
    /// The user's role now: read from the store for every request, so a
    /// confirmation is judged by the role at the time of the yes.
    pub role: Role,
    pub content: InboundContent,
    pub kind: RequestKind,
    /// Overrides the team's model.
    pub model: Option<String>,
    pub mode: Mode,
    /// Added to the system prompt (a scheduled task's pinned skill).
    pub instructions: Option<String>,
}

/// What a turn did.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnReport {
    pub outcome: UsageOutcome,
    /// The last text sent to the user.
    pub answer: Option<String>,
    pub usage: NewUsageRecord,
    pub usage_id: Option<i64>,
    /// Writes proposed and waiting for a yes.
    pub proposed: Vec<i64>,
    /// Writes sent in this turn (confirmed, or pre-approved), including
    /// those whose outcome is unknown: a retry must not send them again.
    pub executed: Vec<String>,
    /// Writes an unattended run did not make, each with why.
    pub skipped: Vec<String>,
}

/// How a turn ended, before it is recorded.
#[derive(Default)]
struct Ending {
    outcome: Option<UsageOutcome>,
    answer: Option<String>,
    proposed: Vec<i64>,
    executed: Vec<String>,
    skipped: Vec<String>,
}

impl Ending {
    fn answered(text: String) -> Self {
        Ending {
            outcome: Some(UsageOutcome::Success),
            answer: Some(text),
            ..Ending::default()
        }
    }

    fn refused(text: String) -> Self {
        Ending {
            outcome: Some(UsageOutcome::Refused),
            answer: Some(text),
            ..Ending::default()
        }
    }

    fn failed(text: String) -> Self {
        Ending {
            outcome: Some(UsageOutcome::Failed),
            answer: Some(text),
            ..Ending::default()
        }
    }

    /// The turn stops early with `text`, keeping what it did so far and
    /// saying so (never "nothing was changed" after a write).
    fn stopped(
        text: String,
        outcome: UsageOutcome,
        executed: Vec<String>,
        skipped: Vec<String>,
    ) -> Self {
        let mut answer = text;
        if !executed.is_empty() {
            answer.push_str("\n\nDone before I stopped:");
            for summary in &executed {
                answer.push_str(&format!("\n• {summary}"));
            }
        }
        Ending {
            outcome: Some(outcome),
            answer: Some(answer),
            executed,
            skipped,
            ..Ending::default()
        }
    }
}

/// The result of one tool call within a step.
struct CallResult {
    content: Value,
    credits: i64,
    searches: tools::WebSearches,
    /// Integration calls made, by integration name.
    integration_calls: Vec<String>,
    /// A write sent without an answer: what to check.
    effect_unknown: Option<String>,
    /// Credits held for the step by the budget check, released once its
    /// real cost is charged.
    reserved: i64,
    proposal: Option<ProposedAction>,
    executed: Option<String>,
    skipped: Option<String>,
}

impl CallResult {
    fn content(content: Value) -> Self {
        CallResult {
            content,
            credits: 0,
            searches: tools::WebSearches::default(),
            integration_calls: Vec::new(),
            effect_unknown: None,
            reserved: 0,
            proposal: None,
            executed: None,
            skipped: None,
        }
    }

    fn error(message: impl Into<String>) -> Self {
        CallResult::content(json!({"error": message.into()}))
    }

    fn billed(content: Value, credits: i64) -> Self {
        CallResult {
            credits,
            ..CallResult::content(content)
        }
    }

    fn skipped(summary: String, reason: String) -> Self {
        CallResult {
            skipped: Some(format!("{summary} ({reason})")),
            ..CallResult::content(json!({
                "status": "skipped",
                "reason": format!("{reason}, so it was not made"),
                "summary": summary,
            }))
        }
    }
}

/// One turn in progress: its request, where its events go, and what it
/// has seen so far.
struct Turn<'a> {
    request: &'a TurnRequest,
    /// The conversation as the turn began, when the store could say.
    conversation: Option<Conversation>,
    /// Who asks, as tools' offers and access checks see it.
    requester: tools::Requester<'a>,
    events: &'a EventSink,
    /// No model call or tool step starts after this.
    deadline: Instant,
    /// A read in this turn returned text written outside the team.
    outside_text: AtomicBool,
    /// The reads made in this turn, each made once.
    reads: reads::TurnReads,
    /// Per-turn caps of tools (web searches).
    uses: tools::TurnUses,
    /// Set when the turn must end before the next model call (the API
    /// asked to wait longer than a turn waits), with what to tell the user.
    stop: Mutex<Option<String>>,
    /// What the turn changes in the conversation's history, written once
    /// its answer is on its way (see [`Engine::save_history`]).
    unsaved: Mutex<Unsaved>,
}

/// A turn's changes to its conversation's history.
#[derive(Default)]
struct Unsaved {
    conversation_id: Option<i64>,
    /// Older turns folded into this summary, dropping messages before this id.
    compaction: Option<(Option<String>, i64)>,
    messages: Vec<Value>,
}

impl Turn<'_> {
    fn unsaved(&self) -> std::sync::MutexGuard<'_, Unsaved> {
        self.unsaved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read_outside_text(&self) -> bool {
        self.outside_text.load(Ordering::SeqCst)
    }
}

pub struct Engine {
    store: Store,
    ofapi: Client,
    models: Arc<Models>,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    tools: ToolRegistry,
    sections: Vec<Arc<dyn PromptSection>>,
    apps: Arc<dyn tools::ConnectedApps>,
    channel_status: Arc<crate::ChannelStatus>,
    turn_slots: tokio::sync::Semaphore,
    slots: usize,
    turns_ended: AtomicU64,
    accounts: Mutex<HashMap<i64, (Instant, Vec<AccountSummary>)>>,
    spend: Spend,
    limits: TurnLimits,
    recent_reads: reads::RecentReads,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("tools", &self.tools)
            .finish()
    }
}

impl Engine {
    pub fn new(
        store: Store,
        ofapi: Client,
        models: impl Into<Models>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        let models = Arc::new(models.into());
        let mut tools = ToolRegistry::default();
        tools.register(Arc::new(builtin::ExportCsvTool));
        tools.register(Arc::new(builtin::ChooseModelTool::new(models.clone())));
        let limits = TurnLimits::new(config.user_turns_per_minute, config.team_turns_per_minute);
        let slots = config.max_concurrent_turns.max(1);
        Engine {
            store,
            ofapi,
            models,
            config,
            clock,
            tools,
            sections: Vec::new(),
            apps: Arc::new(tools::NoApps),
            channel_status: Arc::default(),
            turn_slots: tokio::sync::Semaphore::new(slots),
            slots,
            turns_ended: AtomicU64::new(0),
            accounts: Mutex::new(HashMap::new()),
            spend: Spend::default(),
            limits,
            recent_reads: reads::RecentReads::default(),
        }
    }

    /// How many turns have ended since the start, and whether one is
    /// running now: together they tell when a burst is over.
    pub fn activity(&self) -> (u64, bool) {
        let running = self.turn_slots.available_permits() < self.slots;
        (self.turns_ended.load(Ordering::Relaxed), running)
    }

    /// Offers another internal tool to the model (skills, scheduled tasks).
    pub fn register_tool(&mut self, tool: Arc<dyn InternalTool>) {
        self.tools.register(tool);
    }

    pub fn add_prompt_section(&mut self, section: Arc<dyn PromptSection>) {
        self.sections.push(section);
    }

    /// Says which integrations requests can use (workflows' `requires`).
    pub fn set_connected_apps(&mut self, apps: Arc<dyn tools::ConnectedApps>) {
        self.apps = apps;
    }

    /// The integrations requests can use.
    #[must_use]
    pub fn connected_apps(&self) -> Arc<dyn tools::ConnectedApps> {
        self.apps.clone()
    }

    /// How each channel is doing, as its adapter reports it.
    #[must_use]
    pub fn channel_status(&self) -> Arc<crate::ChannelStatus> {
        self.channel_status.clone()
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's clock, for deciding what has expired.
    #[must_use]
    pub fn now(&self) -> agencybot_core::Timestamp {
        self.clock.now()
    }

    /// The models this install can use.
    #[must_use]
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// The model a request uses: its own (a task's), else the one chosen
    /// for the conversation, else the team's, else the default.
    fn model_for(&self, request: &TurnRequest, conversation: Option<&Conversation>) -> String {
        request
            .model
            .clone()
            .or_else(|| conversation.and_then(|c| c.model.clone()))
            .or_else(|| request.team.default_model.clone())
            .unwrap_or_else(|| self.config.default_model.clone())
    }

    /// Writes confirmed long enough ago that no turn can still be
    /// executing them, yet never finished (the process stopped between the
    /// yes and the API's answer), become "outcome unknown"; their users are
    /// told at their next message. Run at start and from time to time.
    pub async fn recover_interrupted(&self) -> Result<usize, EngineError> {
        let before = self.clock.now()
            - chrono::Duration::from_std(self.config.turn_deadline * 2)
                .unwrap_or(chrono::Duration::minutes(10));
        let recovered = self.store.recover_interrupted(before).await?;
        for action in &recovered {
            tracing::warn!(
                action = action.id,
                team = action.team_id,
                "a confirmed write was interrupted; its outcome is unknown"
            );
        }
        Ok(recovered.len())
    }

    /// Handles one request and records its usage. Never panics on bad input
    /// from the user, the model or the API: every failure ends in a message.
    pub async fn handle(&self, request: TurnRequest, events: &EventSink) -> TurnReport {
        let started = Instant::now();
        // Never closed, so a slot always comes.
        let _slot = self.turn_slots.acquire().await;
        // Read once: it gives the model and the history's id.
        let conversation = match self
            .store
            .conversation(request.team.id, &request.conversation, self.clock.now())
            .await
        {
            Ok(conversation) => Some(conversation),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the conversation");
                None
            }
        };
        let model = self.model_for(&request, conversation.as_ref());
        let mut meter = Meter::default();
        let turn = Turn {
            request: &request,
            conversation,
            requester: requester(&request, &self.store, self.apps.as_ref()),
            events,
            deadline: started + self.config.turn_deadline,
            outside_text: AtomicBool::new(false),
            reads: reads::TurnReads::default(),
            uses: tools::TurnUses::default(),
            stop: Mutex::new(None),
            unsaved: Mutex::default(),
        };
        let _ = events.send(OutboundMessage::Typing);
        // A rate limit met on the way is said, with how long it holds.
        let tell_wait = telling_waits(events.clone(), "OnlyFansAPI");
        let tell_model_wait = telling_waits(events.clone(), "The AI model service");
        let responding = crate::model::reporting_model_waits(
            tell_model_wait,
            agencybot_ofapi::reporting_waits(tell_wait, self.respond(&turn, &model, &mut meter)),
        );
        let ending = match responding.await {
            Ok(ending) => ending,
            Err(failure) => {
                tracing::error!(error = %failure, team = request.team.id, "turn failed");
                Ending::failed(
                    "Sorry, something went wrong on my side while handling that, and nothing was changed. Please try again in a moment.".into(),
                )
            }
        };
        let outcome = ending.outcome.unwrap_or(UsageOutcome::Success);
        // Proposals were already sent, as a confirmation request.
        if let Some(answer) = &ending.answer
            && ending.proposed.is_empty()
        {
            let _ = events.send(OutboundMessage::Text(answer.clone()));
        }
        // While the answer is delivered; before the conversation's next turn.
        self.save_history(&turn).await;
        let usage = NewUsageRecord {
            team_id: request.team.id,
            platform: request.conversation.platform,
            user_id: request.user_id.clone(),
            kind: request.kind,
            cost_usd: meter.usd,
            model,
            prompt_tokens: meter.prompt_tokens,
            completion_tokens: meter.completion_tokens,
            credits: meter.credits,
            web_searches: meter.searches.billed,
            web_searches_cached: meter.searches.cached,
            web_search_usd: meter.searches.usd,
            integration_calls: std::mem::take(&mut meter.integration_calls),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            outcome,
            created_at: self.clock.now(),
        };
        let usage_id = self.settle(&usage, &meter).await;
        record_metrics(&usage, started.elapsed());
        self.turns_ended.fetch_add(1, Ordering::Relaxed);
        TurnReport {
            outcome,
            answer: ending.answer,
            usage,
            usage_id,
            proposed: ending.proposed,
            executed: ending.executed,
            skipped: ending.skipped,
        }
    }

    async fn respond(
        &self,
        turn: &Turn<'_>,
        model: &str,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let request = turn.request;
        if request.content == InboundContent::Reset {
            return self.reset(request).await;
        }
        let interactive = request.mode == Mode::Interactive;
        if interactive && let Some(refusal) = self.rate_refusal(request) {
            return Ok(Ending::refused(refusal));
        }
        // Before anything is spent, even the account list for the prompt.
        if let Some(refusal) = self.budget_refusal(&request.team, 0).await? {
            return Ok(Ending::refused(refusal));
        }
        let notices = if interactive {
            self.notices(turn).await?
        } else {
            Vec::new()
        };
        let tell = |notices: Vec<String>| {
            for notice in notices {
                let _ = turn.events.send(OutboundMessage::Text(notice));
            }
        };
        if let InboundContent::Text(text) = &request.content
            && let Some(tool) = self.tools.for_command(text).cloned()
        {
            tell(notices);
            return self.command(turn, tool.as_ref(), meter).await;
        }
        match &request.content {
            InboundContent::Reset => self.reset(request).await,
            InboundContent::Confirmation {
                action_ids,
                approve,
            } => {
                tell(notices);
                let decision = if *approve {
                    Decision::Approve(Selection::All)
                } else {
                    Decision::Decline(Selection::All)
                };
                self.decide(turn, Some(action_ids.clone()), decision, model, meter)
                    .await
            }
            InboundContent::Text(text) if model_command(text).is_some() => {
                tell(notices);
                let argument = model_command(text).unwrap_or_default();
                self.choose_model(request, model, argument).await
            }
            InboundContent::Text(text) => match confirm::parse_reply(text) {
                Some(decision) if self.has_open_actions(request).await => {
                    tell(notices);
                    self.decide(turn, None, decision, model, meter).await
                }
                // A yes to something that expired: the notice is the answer.
                Some(_) if !notices.is_empty() => Ok(Ending::refused(notices.join("\n\n"))),
                Some(_) if self.decided_recently(request).await => Ok(Ending::refused(
                    "Nothing is waiting for your confirmation right now — your last request was already handled.".into(),
                )),
                _ => {
                    tell(notices);
                    self.converse(turn, text, model, meter).await
                }
            },
        }
    }

    async fn reset(&self, request: &TurnRequest) -> Result<Ending, EngineError> {
        let now = self.clock.now();
        self.store.reset_conversation(&request.conversation).await?;
        for action in self.store.open_actions(&request.conversation, now).await? {
            let _ = self
                .store
                .decline_action(action.id, &request.conversation, &action.requested_by, now)
                .await?;
        }
        Ok(Ending::answered(
            "Fresh start — I've forgotten this conversation. What would you like to know?".into(),
        ))
    }

    /// A tool's chat command, run without the model.
    async fn command(
        &self,
        turn: &Turn<'_>,
        tool: &dyn InternalTool,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let command = tool.command().unwrap_or_default();
        // A command never proposes: a write goes through the model and the gate.
        if tool.access() != Access::Read || !tool.offered(&turn.requester).await {
            return Ok(Ending::refused(format!("{command} is not available here.")));
        }
        let team = &turn.request.team;
        let credits_left = self.credits_left(team).await;
        let result = self
            .run_tool(turn, tool, json!({}), credits_left, false)
            .await;
        self.charge_credits(team, meter, result.credits);
        if let Some(error) = result.content.get("error").and_then(Value::as_str) {
            return Ok(Ending::failed(format!("{command} did not work: {error}")));
        }
        Ok(match tool.command_reply(&result.content) {
            Some(reply) => Ending::answered(reply),
            None => Ending {
                outcome: Some(UsageOutcome::Success),
                ..Ending::default()
            },
        })
    }

    /// `/model`: which model the conversation uses, or a change of it.
    async fn choose_model(
        &self,
        request: &TurnRequest,
        in_use: &str,
        argument: &str,
    ) -> Result<Ending, EngineError> {
        let known = self.models.known().join(", ");
        if argument.is_empty() {
            return Ok(Ending::answered(format!(
                "This conversation uses {in_use}. Configured models: {known}. Change it with /model <name>, or /model default to follow the team's."
            )));
        }
        if !request.role.can_confirm_writes() {
            return Ok(Ending::refused(
                "Only members, admins and owners can change the model; viewers can ask questions with the one chosen for them.".into(),
            ));
        }
        let now = self.clock.now();
        if argument == "default" {
            self.store
                .set_conversation_model(request.team.id, &request.conversation, None, now)
                .await?;
            let team_model = request
                .team
                .default_model
                .clone()
                .unwrap_or_else(|| self.config.default_model.clone());
            return Ok(Ending::answered(format!(
                "This conversation follows the team's model again: {team_model}."
            )));
        }
        match self.models.check(argument) {
            Ok(provider) => {
                self.store
                    .set_conversation_model(
                        request.team.id,
                        &request.conversation,
                        Some(argument),
                        now,
                    )
                    .await?;
                Ok(Ending::answered(format!(
                    "From now on this conversation uses {argument} (provider {}).",
                    provider.name
                )))
            }
            Err(unknown) => Ok(Ending::refused(format!(
                "There is no model called `{}` here. Configured models: {}.",
                unknown.model, unknown.known
            ))),
        }
    }

    async fn has_open_actions(&self, request: &TurnRequest) -> bool {
        self.store
            .open_actions(&request.conversation, self.clock.now())
            .await
            .is_ok_and(|actions| actions.iter().any(|a| a.requested_by == request.user_id))
    }

    /// A plain yes or no soon after the user's last action was decided is
    /// about that action (a double tap), not a new message for the model —
    /// unless the model has since asked a question, which the yes answers.
    async fn decided_recently(&self, request: &TurnRequest) -> bool {
        let now = self.clock.now();
        let recent = self
            .store
            .recent_actions(&request.conversation, &request.user_id, 1)
            .await
            .is_ok_and(|actions| {
                actions.first().is_some_and(|action| {
                    action.decided_at.unwrap_or(action.created_at) + self.config.confirmation_ttl
                        > now
                })
            });
        if !recent {
            return false;
        }
        let Ok(conversation) = self
            .store
            .conversation(request.team.id, &request.conversation, now)
            .await
        else {
            return true;
        };
        let asked = self
            .store
            .history(conversation.id)
            .await
            .is_ok_and(|history| {
                history
                    .iter()
                    .rev()
                    .find(|m| m.role == "assistant" && m.body.get("tool_calls").is_none())
                    .and_then(|m| m.body.get("content").and_then(Value::as_str))
                    .is_some_and(|text| text.trim_end().ends_with('?'))
            });
        !asked
    }

    /// Why the turn may not make another model call: out of time, or the
    /// team's budget is spent (counting turns in flight).
    async fn step_stop(
        &self,
        turn: &Turn<'_>,
    ) -> Result<Option<(String, UsageOutcome)>, EngineError> {
        if let Some(text) = turn
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            return Ok(Some((text, UsageOutcome::Failed)));
        }
        if Instant::now() >= turn.deadline {
            return Ok(Some((
                format!(
                    "This took longer than I allow for one request ({} s), so I stopped. Try a narrower question, e.g. one account or a shorter period.",
                    self.config.turn_deadline.as_secs()
                ),
                UsageOutcome::Failed,
            )));
        }
        Ok(self
            .budget_refusal(&turn.request.team, 0)
            .await?
            .map(|refusal| (refusal, UsageOutcome::Refused)))
    }

    async fn converse(
        &self,
        turn: &Turn<'_>,
        text: &str,
        model: &str,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let request = turn.request;
        let conversation = match &turn.conversation {
            Some(conversation) => conversation.clone(),
            None => {
                self.store
                    .conversation(request.team.id, &request.conversation, self.clock.now())
                    .await?
            }
        };
        let mut messages = self
            .conversation_messages(turn, &conversation, meter)
            .await?;
        let question = messages.len();
        messages.push(json!({"role": "user", "content": text}));
        self.run_and_remember(turn, conversation.id, messages, question, model, meter)
            .await
    }

    /// [`Engine::run`], then the messages from `first_new` on kept to be
    /// stored together, whether the turn answered or stopped: one write per
    /// turn instead of one per message.
    async fn run_and_remember(
        &self,
        turn: &Turn<'_>,
        conversation_id: i64,
        mut messages: Vec<Value>,
        first_new: usize,
        model: &str,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let ending = self.run(turn, &mut messages, model, meter).await;
        let mut unsaved = turn.unsaved();
        unsaved.conversation_id = Some(conversation_id);
        unsaved.messages = messages.split_off(first_new.min(messages.len()));
        drop(unsaved);
        ending
    }

    /// What the model is sent of a conversation, the same way on every
    /// call: the system prompt, the list of earlier questions, and the
    /// history kept within its budget (older turns compacted into the list).
    async fn conversation_messages(
        &self,
        turn: &Turn<'_>,
        conversation: &agencybot_store::Conversation,
        meter: &mut Meter,
    ) -> Result<Vec<Value>, EngineError> {
        let history = self.store.history(conversation.id).await?;
        let keep_from = memory::keep_from(&history, self.config.history_tokens);
        let mut summary = conversation.summary.clone();
        if keep_from > 0 {
            summary = memory::summarize(summary.as_deref(), &history[..keep_from]);
            turn.unsaved().compaction = Some((summary.clone(), history[keep_from].id));
        }
        let mut messages = vec![self.system_message(turn, meter).await?];
        if let Some(summary) = &summary {
            messages.push(json!({"role": "user", "content": format!("(Earlier in this conversation; older answers are not kept)\n{summary}")}));
            messages.push(json!({"role": "assistant", "content": "Noted."}));
        }
        let kept: Vec<Value> = history
            .into_iter()
            .skip(keep_from)
            .map(|m| m.body)
            .collect();
        messages.extend(memory::well_formed(kept));
        Ok(messages)
    }

    async fn system_message(
        &self,
        turn: &Turn<'_>,
        meter: &mut Meter,
    ) -> Result<Value, EngineError> {
        let request = turn.request;
        let accounts = self.accounts(&request.team, meter).await;
        let mut sections = Vec::new();
        // A run that follows a pinned skill needs no list of the others.
        let pinned =
            matches!(request.mode, Mode::Unattended { .. }) && request.instructions.is_some();
        for section in self
            .sections
            .iter()
            .filter(|section| !pinned || !section.lists_skills())
        {
            if let Some(text) = section.section(&turn.requester).await {
                sections.push(text);
            }
        }
        let text = prompt::system_prompt(&PromptInput {
            team: &request.team,
            platform: request.conversation.platform,
            role: request.role,
            accounts: accounts.as_deref().map_err(String::as_str),
            unattended: matches!(request.mode, Mode::Unattended { .. }),
            sections: &sections,
            instructions: request.instructions.as_deref(),
        });
        Ok(json!({"role": "system", "content": text}))
    }

    /// The context note sent last with every model call of the turn.
    async fn context_message(&self, request: &TurnRequest) -> Result<Value, EngineError> {
        let open_actions = match request.mode {
            Mode::Interactive => {
                self.store
                    .open_actions(&request.conversation, self.clock.now())
                    .await?
            }
            Mode::Unattended { .. } => Vec::new(),
        };
        let note = prompt::context_note(&request.team, self.clock.now(), &open_actions);
        Ok(json!({"role": "system", "content": note}))
    }

    /// Writes what the turn changed in its conversation's history: the
    /// older turns it folded into the summary, then its messages. A failure
    /// is logged; the answer has already gone.
    async fn save_history(&self, turn: &Turn<'_>) {
        let unsaved = std::mem::take(&mut *turn.unsaved());
        let Some(conversation_id) = unsaved.conversation_id else {
            return;
        };
        // A folding that fails is made again by the next turn; the turn's
        // own messages are stored either way.
        if let Some((summary, keep_from_id)) = &unsaved.compaction
            && let Err(error) = self
                .store
                .compact_history(conversation_id, summary.as_deref(), *keep_from_id)
                .await
        {
            tracing::warn!(%error, team = turn.request.team.id, "cannot fold older turns into the conversation's summary");
        }
        if let Err(error) = self.remember(conversation_id, &unsaved.messages).await {
            tracing::error!(%error, team = turn.request.team.id, "cannot store this turn in the conversation's history");
        }
    }

    async fn remember(&self, conversation_id: i64, messages: &[Value]) -> Result<(), EngineError> {
        // Each message is encoded once, for its token estimate and the store.
        let mut encoded = Vec::with_capacity(messages.len());
        for message in messages {
            encoded.push(crate::model::serialized(message)?);
        }
        let rows: Vec<(&str, &serde_json::value::RawValue, i64)> = messages
            .iter()
            .zip(&encoded)
            .map(|(message, body)| {
                let role = message
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("user");
                let tokens =
                    i64::try_from(tokens::estimate_message(body.get())).unwrap_or(i64::MAX);
                (role, body.as_ref(), tokens)
            })
            .collect();
        self.store
            .append_messages(conversation_id, &rows, self.clock.now())
            .await?;
        Ok(())
    }

    /// The model loop: call the model, run the tools it asks for, repeat
    /// until it answers, proposes writes, or runs out of steps.
    async fn run(
        &self,
        turn: &Turn<'_>,
        messages: &mut Vec<Value>,
        model: &str,
        meter: &mut Meter,
    ) -> Result<Ending, EngineError> {
        let request = turn.request;
        let events = turn.events;
        let provider = match self.models.route(model) {
            Ok(provider) => provider,
            Err(unknown) => {
                return Ok(Ending::stopped(
                    format!(
                        "I can't answer: no model service is configured for `{}` (configured models: {}). An admin can fix the team's model or the [[llm.providers]] section.",
                        unknown.model, unknown.known
                    ),
                    UsageOutcome::Failed,
                    Vec::new(),
                    Vec::new(),
                ));
            }
        };
        // A scheduled run is offered no internal write it could not make,
        // and nobody a tool that is not theirs (a member's integration).
        let mut offered = std::collections::HashSet::new();
        for tool in self.tools.iter() {
            if tool.offered(&turn.requester).await {
                offered.insert(tool.name().to_owned());
            }
        }
        let definitions = tools::definitions(&self.tools, |tool| offered.contains(tool.name()));
        let mut transcript = Transcript::new(&definitions)?;
        drop(definitions);
        let context = crate::model::serialized(&self.context_message(request).await?)?;
        let mut executed = Vec::new();
        let mut skipped = Vec::new();
        for step in 0..self.config.max_steps {
            if let Some((text, outcome)) = self.step_stop(turn).await? {
                return Ok(Ending::stopped(text, outcome, executed, skipped));
            }
            let remaining = turn.deadline.saturating_duration_since(Instant::now());
            let calling = Instant::now();
            // The context note goes last on this call only, so everything
            // before it stays a cacheable prefix.
            transcript.catch_up(messages)?;
            let answered = tokio::time::timeout(
                remaining,
                provider.client.complete(model, &transcript, Some(&context)),
            )
            .await;
            crate::metrics::metrics()
                .model_seconds
                .with_label_values(&[model])
                .observe(calling.elapsed().as_secs_f64());
            let completion = match answered {
                Ok(Ok(completion)) => completion,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, model, "model call failed");
                    return Ok(Ending::stopped(
                        model_apology(&err, !executed.is_empty(), self.clock.now()),
                        UsageOutcome::Failed,
                        executed,
                        skipped,
                    ));
                }
                Err(_) => {
                    return Ok(Ending::stopped(
                        model_apology(&ModelError::Timeout, !executed.is_empty(), self.clock.now()),
                        UsageOutcome::Failed,
                        executed,
                        skipped,
                    ));
                }
            };
            self.charge_model(&request.team, meter, model, &completion);
            if completion.tool_calls.is_empty() {
                let mut answer = completion
                    .content
                    .unwrap_or_else(|| "I don't have an answer to that.".into());
                if !skipped.is_empty() && !skipped.iter().all(|s| answer.contains(s.as_str())) {
                    answer.push_str("\n\nNot done:");
                    for summary in &skipped {
                        answer.push_str(&format!("\n• {summary}"));
                    }
                }
                messages.push(json!({"role": "assistant", "content": answer}));
                return Ok(Ending {
                    executed,
                    skipped,
                    ..Ending::answered(answer)
                });
            }
            if step == 0 {
                let _ = events.send(OutboundMessage::Progress("On it…".into()));
            }
            let assistant = json!({
                "role": "assistant",
                "content": completion.content,
                "tool_calls": completion.tool_calls.iter().map(|call| json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                })).collect::<Vec<_>>(),
            });
            messages.push(assistant);
            // Reads run concurrently; writes only become proposals.
            let results = join_all(
                completion
                    .tool_calls
                    .iter()
                    .map(|call| self.execute(turn, call)),
            )
            .await;
            let mut proposals = Vec::new();
            for (call, result) in completion.tool_calls.iter().zip(results) {
                self.charge_credits(&request.team, meter, result.credits);
                self.charge_searches(&request.team, meter, result.searches);
                meter.count_integration_calls(result.integration_calls);
                self.release(&request.team, result.reserved);
                proposals.extend(result.proposal);
                executed.extend(result.executed);
                skipped.extend(result.skipped);
                let message = json!({
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": result.content.to_string(),
                });
                messages.push(message);
            }
            if !proposals.is_empty() {
                let ids: Vec<i64> = proposals.iter().map(|p| p.id).collect();
                self.store.group_actions(&ids).await?;
                let text = confirmation_text(
                    completion.content.as_deref(),
                    &proposals,
                    self.config.confirmation_ttl,
                );
                let _ = events.send(OutboundMessage::Confirmation {
                    text: text.clone(),
                    actions: proposals.clone(),
                });
                return Ok(Ending {
                    outcome: Some(UsageOutcome::Success),
                    answer: Some(text),
                    proposed: proposals.iter().map(|p| p.id).collect(),
                    executed,
                    skipped,
                });
            }
            let _ = events.send(OutboundMessage::Typing);
        }
        Ok(Ending::stopped(
            format!(
                "I couldn't finish this within {} steps, so I stopped. Try a narrower question, e.g. one account or a shorter period.",
                self.config.max_steps
            ),
            UsageOutcome::Failed,
            executed,
            skipped,
        ))
    }
}

/// What tells the user that `service` asked to wait, and how long.
fn telling_waits(events: EventSink, service: &'static str) -> Arc<dyn Fn(Duration) + Send + Sync> {
    Arc::new(move |wait| {
        let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
        let _ = events.send(OutboundMessage::Progress(format!(
            "{service} asked me to wait {} (rate limit); I'll carry on then…",
            crate::duration_text(wait)
        )));
    })
}

fn model_apology(error: &ModelError, changed: bool, now: agencybot_core::Timestamp) -> String {
    if let ModelError::RateLimited { wait } = error {
        let wait = chrono::Duration::from_std(*wait).unwrap_or(chrono::Duration::hours(1));
        let nothing = if changed { "" } else { " Nothing was changed." };
        return format!(
            "The AI model service's rate limit asks to wait {}, longer than I keep you waiting, so I stopped here.{nothing} Try again after {} UTC.",
            crate::duration_text(wait),
            (now + wait).format("%H:%M")
        );
    }
    let reason = match error {
        ModelError::Timeout => "the AI model took too long to answer".to_owned(),
        ModelError::Status { status, .. } if *status >= 500 || *status == 0 => {
            "the AI model service had a problem".to_owned()
        }
        ModelError::Status { status: 429, .. } => {
            "the AI model service is rate limiting us".to_owned()
        }
        ModelError::Status {
            status: 401 | 403, ..
        } => "the AI model service rejected our API key".to_owned(),
        other => other.to_string(),
    };
    if changed {
        format!("Sorry — {reason}, so I couldn't finish.")
    } else {
        format!(
            "Sorry — {reason}, so I couldn't finish. Nothing was changed. Please try again in a moment."
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] agencybot_store::StoreError),
    /// A request that could not be encoded for the model service.
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[cfg(test)]
mod tests {
    use super::model_command;

    #[test]
    fn model_commands_are_read_with_or_without_the_bot_name() {
        assert_eq!(model_command("/model"), Some(""));
        assert_eq!(
            model_command(" /model  claude-sonnet-4.5 "),
            Some("claude-sonnet-4.5")
        );
        assert_eq!(model_command("/model@agency_bot gpt-4.1"), Some("gpt-4.1"));
        assert_eq!(model_command("/models"), None);
        assert_eq!(model_command("which model is this?"), None);
    }
}
