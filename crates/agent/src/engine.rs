//! The turn engine: one request in, events out, one usage record written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agencybot_core::{
    ActionState, Clock, ConversationKey, InboundContent, NewPendingAction, NewUsageRecord,
    OutboundMessage, PendingAction, ProposedAction, RequestKind, Role, Team, UsageOutcome,
};
use agencybot_ofapi::{Access, Catalog, Client, Endpoint};
use agencybot_store::{ConfirmRefusal, Store};
use futures::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::confirm::{self, Decision, Selection};
use crate::model::{Completion, ModelClient, ModelError, Prices, ToolCall};
use crate::prompt::{self, AccountSummary, PromptInput};
use crate::tools::{self, InternalTool, ToolContext, ToolOutput, ToolRegistry};
use crate::{builtin, compact, memory, tokens, validate};

/// Where the engine's events go; an adapter turns them into platform messages.
pub type EventSink = UnboundedSender<OutboundMessage>;

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
    pub accounts_ttl: std::time::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_model: "gpt-4.1-mini".into(),
            max_steps: 8,
            confirmation_ttl: chrono::Duration::minutes(10),
            history_tokens: 6000,
            prices: Prices::default(),
            accounts_ttl: std::time::Duration::from_secs(600),
        }
    }
}

/// Text added to the system prompt for a team (installed skills…).
pub trait PromptSection: Send + Sync {
    fn section<'a>(&'a self, team: &'a Team) -> BoxFuture<'a, Option<String>>;
}

/// Whether someone can answer confirmation questions.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Interactive,
    /// A scheduled run: writes whose endpoint or tool is listed run without
    /// asking (they were approved when the task was created); others are skipped.
    Unattended {
        allowed_writes: Vec<String>,
    },
}

/// One request to the engine.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub team: Team,
    pub conversation: ConversationKey,
    pub user_id: String,
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
    /// Writes executed in this turn (confirmed, or pre-approved).
    pub executed: Vec<String>,
    /// Writes an unattended run did not make because they were not approved.
    pub skipped: Vec<String>,
}

/// Tokens and credits of one request, summed over its model and API calls.
#[derive(Debug, Default)]
struct Meter {
    prompt_tokens: i64,
    completion_tokens: i64,
    credits: i64,
}

impl Meter {
    fn model(&mut self, completion: &Completion) {
        self.prompt_tokens += completion.prompt_tokens;
        self.completion_tokens += completion.completion_tokens;
    }
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
}

/// The result of one tool call within a step.
struct CallResult {
    content: Value,
    credits: i64,
    proposal: Option<ProposedAction>,
    executed: Option<String>,
    skipped: Option<String>,
}

impl CallResult {
    fn content(content: Value) -> Self {
        CallResult {
            content,
            credits: 0,
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
}

pub struct Engine {
    store: Store,
    ofapi: Client,
    model: ModelClient,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    tools: ToolRegistry,
    sections: Vec<Arc<dyn PromptSection>>,
    accounts: Mutex<HashMap<i64, (Instant, Vec<AccountSummary>)>>,
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
        model: ModelClient,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        let mut tools = ToolRegistry::default();
        tools.register(Arc::new(builtin::ExportCsvTool));
        Engine {
            store,
            ofapi,
            model,
            config,
            clock,
            tools,
            sections: Vec::new(),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Offers another internal tool to the model (skills, scheduled tasks).
    pub fn register_tool(&mut self, tool: Arc<dyn InternalTool>) {
        self.tools.register(tool);
    }

    pub fn add_prompt_section(&mut self, section: Arc<dyn PromptSection>) {
        self.sections.push(section);
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The model a request uses: its own, else the team's, else the default.
    #[must_use]
    pub fn model_for(&self, request: &TurnRequest) -> String {
        request
            .model
            .clone()
            .or_else(|| request.team.default_model.clone())
            .unwrap_or_else(|| self.config.default_model.clone())
    }

    /// Handles one request and records its usage. Never panics on bad input
    /// from the user, the model or the API: every failure ends in a message.
    pub async fn handle(&self, request: TurnRequest, events: &EventSink) -> TurnReport {
        let started = Instant::now();
        let model = self.model_for(&request);
        let mut meter = Meter::default();
        let _ = events.send(OutboundMessage::Typing);
        let ending = match &request.content {
            InboundContent::Reset => self.reset(&request).await,
            InboundContent::Confirmation { action_id, approve } => {
                let decision = if *approve { Decision::Approve(Selection::All) } else { Decision::Decline(Selection::All) };
                self.decide(&request, Some(*action_id), decision, &model, &mut meter, events).await
            }
            InboundContent::Text(text) => match confirm::parse_reply(text) {
                Some(decision) if self.has_open_actions(&request).await => {
                    self.decide(&request, None, decision, &model, &mut meter, events).await
                }
                Some(_) if self.decided_recently(&request).await => Ok(Ending::refused(
                    "Nothing is waiting for your confirmation right now — your last request was already handled.".into(),
                )),
                _ => self.converse(&request, text, &model, &mut meter, events).await,
            },
        };
        let ending = match ending {
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
        let usage = NewUsageRecord {
            team_id: request.team.id,
            platform: request.conversation.platform,
            user_id: request.user_id.clone(),
            kind: request.kind,
            cost_usd: self
                .config
                .prices
                .cost(&model, meter.prompt_tokens, meter.completion_tokens),
            model,
            prompt_tokens: meter.prompt_tokens,
            completion_tokens: meter.completion_tokens,
            credits: meter.credits,
            web_searches: 0,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            outcome,
            created_at: self.clock.now(),
        };
        let usage_id = match self.store.record_usage(&usage).await {
            Ok(id) => Some(id),
            Err(err) => {
                tracing::error!(error = %err, "cannot record usage");
                None
            }
        };
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

    async fn reset(&self, request: &TurnRequest) -> Result<Ending, EngineError> {
        let now = self.clock.now();
        self.store.reset_conversation(&request.conversation).await?;
        for action in self.store.open_actions(&request.conversation).await? {
            let _ = self
                .store
                .decline_action(action.id, &request.conversation, &action.requested_by, now)
                .await?;
        }
        Ok(Ending::answered(
            "Fresh start — I've forgotten this conversation. What would you like to know?".into(),
        ))
    }

    async fn has_open_actions(&self, request: &TurnRequest) -> bool {
        self.store
            .open_actions(&request.conversation)
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

    /// Refuses work when the team's daily OnlyFansAPI credit budget is spent.
    async fn over_budget(&self, team: &Team) -> Result<Option<String>, EngineError> {
        let Some(budget) = team.daily_credit_budget else {
            return Ok(None);
        };
        let now = self.clock.now();
        let day_start = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(now, |d| d.and_utc());
        let used = self.store.credits_used_since(team.id, day_start).await?;
        Ok((used >= budget).then(|| {
            format!(
                "Today's OnlyFansAPI credit budget for {} is used up ({used} of {budget} credits), so I can't look anything up until it resets at midnight UTC. An admin can raise `daily_credit_budget` in the config.",
                team.name
            )
        }))
    }

    async fn converse(
        &self,
        request: &TurnRequest,
        text: &str,
        model: &str,
        meter: &mut Meter,
        events: &EventSink,
    ) -> Result<Ending, EngineError> {
        if let Some(refusal) = self.over_budget(&request.team).await? {
            return Ok(Ending::refused(refusal));
        }
        let now = self.clock.now();
        let conversation = self
            .store
            .conversation(request.team.id, &request.conversation, now)
            .await?;
        let history = self.store.history(conversation.id).await?;
        let keep_from = memory::keep_from(&history, self.config.history_tokens);
        let mut summary = conversation.summary.clone();
        if keep_from > 0 {
            summary = memory::summarize(summary.as_deref(), &history[..keep_from]);
            self.store
                .compact_history(conversation.id, summary.as_deref(), history[keep_from].id)
                .await?;
        }
        let mut messages = vec![self.system_message(request, meter).await?];
        if let Some(summary) = &summary {
            messages.push(json!({"role": "user", "content": format!("(Earlier in this conversation)\n{summary}")}));
            messages.push(json!({"role": "assistant", "content": "Noted."}));
        }
        let kept: Vec<Value> = history[keep_from..]
            .iter()
            .map(|m| m.body.clone())
            .collect();
        messages.extend(memory::well_formed(kept));
        let user = json!({"role": "user", "content": text});
        self.remember(conversation.id, &user).await?;
        messages.push(user);
        self.run(request, conversation.id, messages, model, meter, events)
            .await
    }

    async fn system_message(
        &self,
        request: &TurnRequest,
        meter: &mut Meter,
    ) -> Result<Value, EngineError> {
        let accounts = self.accounts(request.team.id, meter).await;
        let open_actions = match request.mode {
            Mode::Interactive => self.store.open_actions(&request.conversation).await?,
            Mode::Unattended { .. } => Vec::new(),
        };
        let mut sections = Vec::new();
        for section in &self.sections {
            if let Some(text) = section.section(&request.team).await {
                sections.push(text);
            }
        }
        let text = prompt::system_prompt(&PromptInput {
            team: &request.team,
            platform: request.conversation.platform,
            role: request.role,
            now: self.clock.now(),
            accounts: accounts.as_deref().map_err(String::as_str),
            open_actions: &open_actions,
            unattended: matches!(request.mode, Mode::Unattended { .. }),
            sections: &sections,
            instructions: request.instructions.as_deref(),
        });
        Ok(json!({"role": "system", "content": text}))
    }

    /// The connected accounts, cached for a while; the fetch is billed to
    /// the request that makes it.
    async fn accounts(
        &self,
        team_id: i64,
        meter: &mut Meter,
    ) -> Result<Vec<AccountSummary>, String> {
        if let Some((fetched, accounts)) = self.lock_accounts().get(&team_id)
            && fetched.elapsed() < self.config.accounts_ttl
        {
            return Ok(accounts.clone());
        }
        match self.ofapi.call("account.list-accounts", &Map::new()).await {
            Ok(response) => {
                meter.credits += response.cost.credits_used;
                let accounts: Vec<AccountSummary> = response
                    .data
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|a| {
                                Some(AccountSummary {
                                    id: a.get("id")?.as_str()?.to_owned(),
                                    username: a
                                        .get("onlyfans_username")
                                        .and_then(Value::as_str)
                                        .unwrap_or("")
                                        .to_owned(),
                                    name: a
                                        .get("display_name")
                                        .and_then(Value::as_str)
                                        .unwrap_or("")
                                        .to_owned(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.lock_accounts()
                    .insert(team_id, (Instant::now(), accounts.clone()));
                Ok(accounts)
            }
            Err(err) => {
                meter.credits += err.credits_used;
                Err(err.message)
            }
        }
    }

    fn lock_accounts(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<i64, (Instant, Vec<AccountSummary>)>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn remember(&self, conversation_id: i64, message: &Value) -> Result<(), EngineError> {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let tokens = i64::try_from(tokens::count_message(message)).unwrap_or(i64::MAX);
        self.store
            .append_message(conversation_id, role, message, tokens, self.clock.now())
            .await?;
        Ok(())
    }

    /// The model loop: call the model, run the tools it asks for, repeat
    /// until it answers, proposes writes, or runs out of steps.
    async fn run(
        &self,
        request: &TurnRequest,
        conversation_id: i64,
        mut messages: Vec<Value>,
        model: &str,
        meter: &mut Meter,
        events: &EventSink,
    ) -> Result<Ending, EngineError> {
        let definitions = tools::definitions(&self.tools);
        let mut executed = Vec::new();
        let mut skipped = Vec::new();
        for step in 0..self.config.max_steps {
            let completion = match self.model.complete(model, &messages, &definitions).await {
                Ok(completion) => completion,
                Err(err) => {
                    tracing::warn!(error = %err, model, "model call failed");
                    return Ok(Ending {
                        executed,
                        skipped,
                        ..Ending::failed(model_apology(&err))
                    });
                }
            };
            meter.model(&completion);
            if completion.tool_calls.is_empty() {
                let mut answer = completion
                    .content
                    .unwrap_or_else(|| "I don't have an answer to that.".into());
                if !skipped.is_empty() && !skipped.iter().all(|s| answer.contains(s.as_str())) {
                    answer.push_str("\n\nNot done (not approved for this task):");
                    for summary in &skipped {
                        answer.push_str(&format!("\n• {summary}"));
                    }
                }
                self.remember(
                    conversation_id,
                    &json!({"role": "assistant", "content": answer}),
                )
                .await?;
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
            self.remember(conversation_id, &assistant).await?;
            messages.push(assistant);
            // Reads run concurrently; writes only become proposals.
            let results = join_all(
                completion
                    .tool_calls
                    .iter()
                    .map(|call| self.execute(request, call, events)),
            )
            .await;
            let mut proposals = Vec::new();
            for (call, result) in completion.tool_calls.iter().zip(results) {
                meter.credits += result.credits;
                proposals.extend(result.proposal);
                executed.extend(result.executed);
                skipped.extend(result.skipped);
                let message = json!({
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": result.content.to_string(),
                });
                self.remember(conversation_id, &message).await?;
                messages.push(message);
            }
            if !proposals.is_empty() {
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
        Ok(Ending {
            executed,
            skipped,
            ..Ending::failed(format!(
                "I couldn't finish this within {} steps, so I stopped. Nothing was changed. Try a narrower question, e.g. one account or a shorter period.",
                self.config.max_steps
            ))
        })
    }

    async fn execute(
        &self,
        request: &TurnRequest,
        call: &ToolCall,
        events: &EventSink,
    ) -> CallResult {
        let arguments: Value =
            match serde_json::from_str(if call.function.arguments.trim().is_empty() {
                "{}"
            } else {
                &call.function.arguments
            }) {
                Ok(arguments) => arguments,
                Err(err) => {
                    return CallResult::error(format!(
                        "the arguments are not valid JSON ({err}); send a JSON object"
                    ));
                }
            };
        match call.function.name.as_str() {
            tools::CALL_API => self.call_api(request, arguments, events).await,
            tools::FIND_API_ENDPOINTS => {
                let query = arguments
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let found: Vec<Value> = tools::find_endpoints(query, 5)
                    .into_iter()
                    .map(tools::describe_endpoint)
                    .collect();
                if found.is_empty() {
                    CallResult::error(format!("no endpoint matches `{query}`; try other words"))
                } else {
                    CallResult::content(json!({"endpoints": found}))
                }
            }
            name => match self.tools.get(name) {
                Some(tool) => {
                    self.internal_tool(request, tool.as_ref(), arguments, events)
                        .await
                }
                None => CallResult::error(format!(
                    "there is no tool named `{name}`; use call_api or find_api_endpoints"
                )),
            },
        }
    }

    async fn call_api(
        &self,
        request: &TurnRequest,
        arguments: Value,
        events: &EventSink,
    ) -> CallResult {
        let Some(id) = arguments.get("endpoint").and_then(Value::as_str) else {
            return CallResult::error(
                "`endpoint` is required: an endpoint id such as statistics.get-earnings",
            );
        };
        let Some(endpoint) = Catalog::onlyfans().get(id) else {
            let suggestions: Vec<String> = tools::find_endpoints(&id.replace(['.', '-'], " "), 3)
                .into_iter()
                .map(|e| e.id.clone())
                .collect();
            return CallResult::error(format!(
                "unknown endpoint `{id}`{}",
                if suggestions.is_empty() {
                    String::new()
                } else {
                    format!("; did you mean {}?", suggestions.join(", "))
                }
            ));
        };
        let mut args = match arguments.get("arguments") {
            Some(Value::Object(map)) => map.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(other) => {
                return CallResult::error(format!("`arguments` must be an object, not {other}"));
            }
        };
        self.resolve_accounts(request.team.id, &mut args);
        let problems = validate::problems(&endpoint.schema, &Value::Object(args.clone()));
        if !problems.is_empty() {
            return CallResult::content(json!({
                "error": format!("invalid arguments for {id}"),
                "problems": problems,
                "arguments_schema": tools::describe_endpoint(endpoint)["arguments"],
            }));
        }
        if endpoint.access == Access::Read {
            return self.read(endpoint, &args).await;
        }
        let summary = confirm::summarize_call(
            endpoint,
            &args,
            self.account_label(request.team.id, &args).as_deref(),
        );
        self.gate(request, &endpoint.id, Value::Object(args), summary, events)
            .await
    }

    async fn read(&self, endpoint: &Endpoint, args: &Map<String, Value>) -> CallResult {
        match self.ofapi.call(&endpoint.id, args).await {
            Ok(response) => CallResult::billed(
                compact::for_model(response.data, response.next_page.is_some()),
                response.cost.credits_used,
            ),
            Err(err) => CallResult::billed(
                json!({"error": err.message, "status": err.status}),
                err.credits_used,
            ),
        }
    }

    async fn internal_tool(
        &self,
        request: &TurnRequest,
        tool: &dyn InternalTool,
        arguments: Value,
        events: &EventSink,
    ) -> CallResult {
        let problems = validate::problems(&tool.parameters(), &arguments);
        if !problems.is_empty() {
            return CallResult::content(
                json!({"error": format!("invalid arguments for {}", tool.name()), "problems": problems}),
            );
        }
        if let Err(problem) = tool.check(&arguments) {
            return CallResult::error(problem);
        }
        if tool.access() != Access::Read {
            if request.role < tool.required_role() {
                return CallResult::error(format!(
                    "not proposed: {} needs the {} role and this user is {}; tell them an {} has to ask for it",
                    tool.name(),
                    tool.required_role(),
                    request.role,
                    tool.required_role()
                ));
            }
            let summary = tool.summarize(&arguments);
            return self
                .gate(request, tool.name(), arguments, summary, events)
                .await;
        }
        self.run_tool(request, tool, arguments, events).await
    }

    async fn run_tool(
        &self,
        request: &TurnRequest,
        tool: &dyn InternalTool,
        arguments: Value,
        events: &EventSink,
    ) -> CallResult {
        let send_file = |attachment| {
            let _ = events.send(OutboundMessage::File(attachment));
        };
        let context = ToolContext {
            team: &request.team,
            user_id: &request.user_id,
            role: request.role,
            conversation: &request.conversation,
            store: &self.store,
            ofapi: &self.ofapi,
            now: self.clock.now(),
            send_file: &send_file,
        };
        match tool.run(&context, arguments).await {
            Ok(ToolOutput { content, credits }) => CallResult::billed(content, credits),
            Err(message) => CallResult::error(message),
        }
    }

    /// The confirmation gate: a write becomes a pending action the user
    /// must confirm, or, unattended, runs only if it was approved in advance.
    async fn gate(
        &self,
        request: &TurnRequest,
        tool: &str,
        arguments: Value,
        summary: String,
        events: &EventSink,
    ) -> CallResult {
        if let Mode::Unattended { allowed_writes } = &request.mode {
            if !allowed_writes.iter().any(|w| w == tool) {
                return CallResult {
                    skipped: Some(summary.clone()),
                    ..CallResult::content(json!({
                        "status": "skipped",
                        "reason": "this write was not approved for the scheduled task, so it was not made",
                        "summary": summary,
                    }))
                };
            }
            let (content, credits) = self.perform(request, tool, &arguments, events).await;
            return CallResult {
                credits,
                executed: Some(summary),
                ..CallResult::content(content)
            };
        }
        if !request.role.can_confirm_writes() {
            return CallResult::error(format!(
                "not proposed: this user's role ({}) cannot make changes; tell them a member, admin or owner has to ask for it",
                request.role
            ));
        }
        let now = self.clock.now();
        let action = NewPendingAction {
            team_id: request.team.id,
            conversation: request.conversation.clone(),
            requested_by: request.user_id.clone(),
            tool: tool.to_owned(),
            arguments,
            summary: summary.clone(),
            expires_at: now + self.config.confirmation_ttl,
        };
        match self.store.create_pending_action(&action, now).await {
            Ok(action) => CallResult {
                proposal: Some(ProposedAction {
                    id: action.id,
                    summary: summary.clone(),
                }),
                ..CallResult::content(json!({
                    "status": "awaiting_confirmation",
                    "action_id": action.id,
                    "summary": summary,
                    "note": "Not done yet: the user is being asked to confirm.",
                }))
            },
            Err(err) => CallResult::error(format!("could not record the proposed change: {err}")),
        }
    }

    /// Runs a confirmed (or pre-approved) write once. Never retried.
    async fn perform(
        &self,
        request: &TurnRequest,
        tool: &str,
        arguments: &Value,
        events: &EventSink,
    ) -> (Value, i64) {
        if let Some(endpoint) = Catalog::onlyfans().get(tool) {
            let args = arguments.as_object().cloned().unwrap_or_default();
            return match self.ofapi.call(&endpoint.id, &args).await {
                Ok(response) => (
                    json!({"status": "done", "result": compact::for_model(response.data, false)}),
                    response.cost.credits_used,
                ),
                Err(err) => (
                    json!({"status": "failed", "error": err.message}),
                    err.credits_used,
                ),
            };
        }
        match self.tools.get(tool) {
            Some(tool) => {
                let result = self
                    .run_tool(request, tool.as_ref(), arguments.clone(), events)
                    .await;
                let failed = result.content.get("error").is_some();
                (
                    json!({"status": if failed { "failed" } else { "done" }, "result": result.content}),
                    result.credits,
                )
            }
            None => (
                json!({"status": "failed", "error": format!("`{tool}` is no longer available")}),
                0,
            ),
        }
    }

    /// Applies a yes or no to waiting actions.
    async fn decide(
        &self,
        request: &TurnRequest,
        action_id: Option<i64>,
        decision: Decision,
        model: &str,
        meter: &mut Meter,
        events: &EventSink,
    ) -> Result<Ending, EngineError> {
        let (approve, selection) = match decision {
            Decision::Approve(selection) => (true, selection),
            Decision::Decline(selection) => (false, selection),
        };
        if approve && !request.role.can_confirm_writes() {
            return Ok(Ending::refused(format!(
                "Your role ({}) can't approve changes, so nothing was done. Ask a member, admin or owner of {}.",
                request.role, request.team.name
            )));
        }
        let targets: Vec<i64> = match action_id {
            Some(id) => vec![id],
            None => {
                let open: Vec<PendingAction> = self
                    .store
                    .open_actions(&request.conversation)
                    .await?
                    .into_iter()
                    .filter(|a| a.requested_by == request.user_id)
                    .collect();
                match selection {
                    Selection::All => open.iter().map(|a| a.id).collect(),
                    Selection::Numbers(numbers) => {
                        let mut ids = Vec::new();
                        for number in numbers {
                            match open.get(number - 1) {
                                Some(action) => ids.push(action.id),
                                None => {
                                    return Ok(Ending::refused(format!(
                                        "There is no request number {number}; {} waiting. Nothing was done.",
                                        open.len()
                                    )));
                                }
                            }
                        }
                        ids
                    }
                }
            }
        };
        let now = self.clock.now();
        let mut lines = Vec::new();
        let mut notes = Vec::new();
        let mut executed = Vec::new();
        let mut performed = 0;
        for id in targets {
            let decided = if approve {
                self.store
                    .confirm_action(id, &request.conversation, &request.user_id, now)
                    .await?
            } else {
                self.store
                    .decline_action(id, &request.conversation, &request.user_id, now)
                    .await?
            };
            match decided {
                Ok(action) if approve => {
                    if self.over_budget(&request.team).await?.is_some() {
                        self.store
                            .finish_action(action.id, Err("the daily credit budget was used up"))
                            .await?;
                        lines.push(format!(
                            "Not done: today's credit budget is used up — {}",
                            action.summary
                        ));
                        continue;
                    }
                    let (result, credits) = self
                        .perform(request, &action.tool, &action.arguments, events)
                        .await;
                    performed += 1;
                    meter.credits += credits;
                    let failed = result["status"] == "failed";
                    let outcome = if failed {
                        Err(result["error"].as_str().unwrap_or("failed"))
                    } else {
                        Ok(&result)
                    };
                    self.store.finish_action(action.id, outcome).await?;
                    if !failed {
                        executed.push(action.summary.clone());
                    }
                    notes.push(format!(
                        "The user confirmed #{}: {}. Outcome: {}",
                        action.id, action.summary, result
                    ));
                }
                Ok(action) => {
                    lines.push(format!("Cancelled — nothing was done: {}", action.summary));
                    notes.push(format!(
                        "The user declined #{}: {}. Nothing was done.",
                        action.id, action.summary
                    ));
                }
                Err(refusal) => lines.push(refusal_text(&refusal, self.config.confirmation_ttl)),
            }
        }
        if notes.is_empty() && lines.is_empty() {
            return Ok(Ending::refused(
                "There's nothing waiting for your confirmation.".into(),
            ));
        }
        let conversation = self
            .store
            .conversation(request.team.id, &request.conversation, now)
            .await?;
        if !notes.is_empty() {
            self.remember(
                conversation.id,
                &json!({"role": "user", "content": format!("[agencybot] {}", notes.join("\n"))}),
            )
            .await?;
        }
        if performed == 0 {
            // Nothing ran: no need to ask the model to report.
            let text = lines.join("\n");
            self.remember(
                conversation.id,
                &json!({"role": "assistant", "content": text}),
            )
            .await?;
            return Ok(if notes.is_empty() {
                Ending::refused(text)
            } else {
                Ending::answered(text)
            });
        }
        // Something ran: the model reports the outcome in its own words.
        let mut messages = vec![self.system_message(request, meter).await?];
        let history = self.store.history(conversation.id).await?;
        let keep_from = memory::keep_from(&history, self.config.history_tokens);
        messages.extend(memory::well_formed(
            history[keep_from..]
                .iter()
                .map(|m| m.body.clone())
                .collect(),
        ));
        let mut ending = self
            .run(request, conversation.id, messages, model, meter, events)
            .await?;
        if !lines.is_empty()
            && let Some(answer) = &mut ending.answer
        {
            answer.push_str("\n\n");
            answer.push_str(&lines.join("\n"));
        }
        ending.executed.extend(executed);
        Ok(ending)
    }

    /// `@miarose` or `Mia Rose` where an account ID belongs → its `acct_…` ID.
    fn resolve_accounts(&self, team_id: i64, args: &mut Map<String, Value>) {
        let cache = self.lock_accounts();
        let Some((_, accounts)) = cache.get(&team_id) else {
            return;
        };
        let resolve = |value: &mut Value| {
            if let Some(text) = value.as_str() {
                let wanted = text.trim().trim_start_matches('@').to_lowercase();
                if let Some(account) = accounts.iter().find(|a| {
                    a.id != text
                        && (a.username.to_lowercase() == wanted || a.name.to_lowercase() == wanted)
                }) {
                    *value = Value::String(account.id.clone());
                }
            }
        };
        if let Some(value) = args.get_mut("account") {
            resolve(value);
        }
        if let Some(Value::Array(values)) = args.get_mut("account_ids") {
            values.iter_mut().for_each(resolve);
        }
    }

    fn account_label(&self, team_id: i64, args: &Map<String, Value>) -> Option<String> {
        let id = args.get("account")?.as_str()?;
        let cache = self.lock_accounts();
        let (_, accounts) = cache.get(&team_id)?;
        accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| format!("@{}", a.username))
    }
}

fn confirmation_text(
    preface: Option<&str>,
    proposals: &[ProposedAction],
    ttl: chrono::Duration,
) -> String {
    let mut text = String::new();
    if let Some(preface) = preface.filter(|p| !p.trim().is_empty()) {
        text.push_str(preface.trim());
        text.push_str("\n\n");
    }
    if proposals.len() == 1 {
        text.push_str("Here's what I'll do — nothing has been done yet:\n");
        text.push_str(&format!("• {}\n", proposals[0].summary));
        text.push_str(&format!(
            "Should I go ahead? Reply yes or no. (This expires in {} minutes.)",
            ttl.num_minutes()
        ));
    } else {
        text.push_str("Here's what I'll do — nothing has been done yet:\n");
        for (index, proposal) in proposals.iter().enumerate() {
            text.push_str(&format!("{}. {}\n", index + 1, proposal.summary));
        }
        text.push_str(&format!(
            "Should I go ahead? Reply yes for all, \"yes 2\" for one, or no. (These expire in {} minutes.)",
            ttl.num_minutes()
        ));
    }
    text
}

fn refusal_text(refusal: &ConfirmRefusal, ttl: chrono::Duration) -> String {
    match refusal {
        ConfirmRefusal::Expired => format!(
            "That request expired (requests wait {} minutes), so nothing was done. Ask again if you still want it.",
            ttl.num_minutes()
        ),
        ConfirmRefusal::AlreadyDecided(ActionState::Executed | ActionState::Confirmed) => {
            "That was already done — I won't do it twice.".into()
        }
        ConfirmRefusal::AlreadyDecided(ActionState::Failed) => {
            "That was already tried and failed; I won't repeat it on its own. Ask again if you want another try.".into()
        }
        ConfirmRefusal::AlreadyDecided(ActionState::Declined) => "That request was cancelled earlier; nothing was done.".into(),
        ConfirmRefusal::AlreadyDecided(state) => format!("That request was already {state}; nothing more was done."),
        ConfirmRefusal::OtherUser => "Only the person who asked for this can confirm it; nothing was done.".into(),
        ConfirmRefusal::OtherConversation => "That request belongs to another conversation; nothing was done.".into(),
        ConfirmRefusal::NotFound => "I can't find that request; nothing was done.".into(),
    }
}

fn model_apology(error: &ModelError) -> String {
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
    format!(
        "Sorry — {reason}, so I couldn't finish. Nothing was changed. Please try again in a moment."
    )
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] agencybot_store::StoreError),
}
