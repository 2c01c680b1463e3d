//! Tool dispatch: what the model asked for, checked against its schema,
//! then run (reads, with the budget checked first) or handed to the gate
//! (writes).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use agencybot_ofapi::{Access, Catalog, Endpoint};
use serde_json::{Map, Value, json};

use super::{CallResult, Engine, Turn, reads};
use crate::model::ToolCall;
use crate::tools::{self, InternalTool, ToolContext, ToolOutput};
use crate::{compact, confirm, validate};

/// Categories whose answers carry text written outside the team (fans'
/// messages, captions, comments): a write proposed after reading them is
/// flagged, since the text may be what asked for it.
const OUTSIDE_TEXT: [&str; 9] = [
    "chats",
    "chat-messages",
    "post-comments",
    "posts",
    "stories",
    "fans",
    "fans-ai-summary",
    "notifications",
    "mass-messaging",
];

/// Arguments that name user lists by id.
const LIST_ARGUMENTS: [&str; 2] = ["userLists", "excludedLists"];

/// List id → "Name (size)", and the credits looking them up cost.
#[derive(Default)]
struct ListNames {
    names: BTreeMap<String, String>,
    credits: i64,
}

impl Engine {
    pub(super) async fn execute(&self, turn: &Turn<'_>, call: &ToolCall) -> CallResult {
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
            tools::CALL_API => self.call_api(turn, arguments).await,
            tools::FIND_API_ENDPOINTS => {
                let query = arguments
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let found: Vec<Value> = crate::discovery::find_endpoints(query, 5)
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
                Some(tool) => self.internal_tool(turn, tool.as_ref(), arguments).await,
                None => CallResult::error(format!(
                    "there is no tool named `{name}`; use call_api or find_api_endpoints"
                )),
            },
        }
    }

    async fn call_api(&self, turn: &Turn<'_>, arguments: Value) -> CallResult {
        let request = turn.request;
        let Some(id) = arguments.get("endpoint").and_then(Value::as_str) else {
            return CallResult::error(
                "`endpoint` is required: an endpoint id such as statistics.get-earnings",
            );
        };
        let Some(endpoint) = Catalog::onlyfans().get(id) else {
            let suggestions: Vec<String> =
                crate::discovery::find_endpoints(&id.replace(['.', '-'], " "), 3)
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
        let mut problems = validate::problems(&endpoint.schema, &Value::Object(args.clone()));
        if endpoint.access.is_write() {
            // What the API would refuse, found before anyone is asked to approve it.
            problems.extend(validate::write_problems(&endpoint.id, &args));
        }
        if !problems.is_empty() {
            return CallResult::content(json!({
                "error": format!("invalid arguments for {id}"),
                "problems": problems,
                "arguments_schema": tools::describe_endpoint(endpoint)["arguments"],
            }));
        }
        if endpoint.access == Access::Read {
            let fresh = arguments.get("fresh").and_then(Value::as_bool) == Some(true);
            return self.read(turn, endpoint, &args, fresh).await;
        }
        let lists = match self.name_lists(&args).await {
            Ok(lists) => lists,
            Err((problem, credits)) => {
                return CallResult::billed(json!({"error": problem}), credits);
            }
        };
        let account = self.account_label(request.team.id, &args);
        let summary = confirm::summarize_call(endpoint, &args, account.as_deref(), &lists.names);
        let result = self
            .gate(turn, &endpoint.id, Value::Object(args), summary)
            .await;
        CallResult {
            credits: result.credits + lists.credits,
            ..result
        }
    }

    /// Names and sizes of the user lists a write addresses ("Fans (59)"),
    /// so the person approving sees who it reaches; a list the account does
    /// not have is refused before anyone is asked.
    async fn name_lists(&self, args: &Map<String, Value>) -> Result<ListNames, (String, i64)> {
        let wanted: Vec<String> = LIST_ARGUMENTS
            .iter()
            .filter_map(|key| args.get(*key).and_then(Value::as_array))
            .flatten()
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            .collect();
        let Some(account) = args.get("account").and_then(Value::as_str) else {
            return Ok(ListNames::default());
        };
        if wanted.is_empty() {
            return Ok(ListNames::default());
        }
        let mut query = Map::new();
        query.insert("account".into(), Value::String(account.to_owned()));
        query.insert("limit".into(), json!(100));
        let (lists, credits) = match self
            .ofapi
            .call("user-list-collections.list-user-lists", &query)
            .await
        {
            Ok(response) => (response.data, response.cost.credits_used),
            // Without the names the summary shows the ids; the API still checks them.
            Err(err) => {
                tracing::debug!(error = %err, "cannot name the lists of a proposed write");
                return Ok(ListNames {
                    names: BTreeMap::new(),
                    credits: err.credits_used,
                });
            }
        };
        let items = lists
            .as_array()
            .or_else(|| lists.get("list").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        let mut names = BTreeMap::new();
        for item in &items {
            let id = match item.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            let name = item.get("name").and_then(Value::as_str).unwrap_or(&id);
            let size = item
                .get("usersCount")
                .and_then(Value::as_i64)
                .map_or_else(String::new, |n| format!(" ({n})"));
            names.insert(id.clone(), format!("{name}{size}"));
        }
        if items.len() < 100
            && let Some(missing) = wanted.iter().find(|id| !names.contains_key(*id))
        {
            return Err((
                format!(
                    "user list {missing} does not exist on this account; list the account's user lists and use one of their ids"
                ),
                credits,
            ));
        }
        Ok(ListNames { names, credits })
    }

    /// A read, made once per turn, and reused from a recent turn unless
    /// `fresh` data is asked for.
    async fn read(
        &self,
        turn: &Turn<'_>,
        endpoint: &Endpoint,
        args: &Map<String, Value>,
        fresh: bool,
    ) -> CallResult {
        if OUTSIDE_TEXT.contains(&endpoint.category.as_str()) {
            turn.outside_text.store(true, Ordering::SeqCst);
        }
        let team = turn.request.team.id;
        let key = reads::read_key(&endpoint.id, args);
        let cell = turn.reads.cell(&key);
        if let Some(answer) = cell.get() {
            return CallResult::content(answer.clone());
        }
        if !fresh
            && let Some((age, answer)) =
                self.recent_reads
                    .get(team, &key, self.config.read_reuse_ttl, self.clock.now())
        {
            let answer = reads::aged(answer, age);
            let _ = cell.set(answer.clone());
            return CallResult::content(answer);
        }
        let mut made = None;
        let answer = cell
            .get_or_init(|| async {
                let result = self.read_from_api(turn, endpoint, args).await;
                let answer = result.content.clone();
                made = Some(result);
                answer
            })
            .await
            .clone();
        let Some(result) = made else {
            // Another call of this step made it.
            return CallResult::content(answer);
        };
        if result.content.get("error").is_some() {
            // A failed read may be tried again.
            turn.reads.discard(&key);
        } else {
            self.recent_reads.put(team, &key, answer, self.clock.now());
        }
        result
    }

    async fn read_from_api(
        &self,
        turn: &Turn<'_>,
        endpoint: &Endpoint,
        args: &Map<String, Value>,
    ) -> CallResult {
        let reserved = match self.begin_step(turn).await {
            Ok(reserved) => reserved,
            Err(refused) => return refused,
        };
        let remaining = turn.deadline.saturating_duration_since(Instant::now());
        let result =
            match tokio::time::timeout(remaining, self.ofapi.call(&endpoint.id, args)).await {
                Err(_) => CallResult::error("stopped: the request ran out of time"),
                Ok(Ok(response)) => CallResult::billed(
                    compact::for_model(response.data, response.next_page.is_some()),
                    response.cost.credits_used,
                ),
                Ok(Err(err)) => {
                    if err.kind == agencybot_ofapi::ErrorKind::RateLimited
                        && let Some(wait) = err.retry_after
                    {
                        *turn
                            .stop
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(too_long_a_wait(wait, self.clock.now()));
                    }
                    crate::metrics::metrics()
                        .api_errors
                        .with_label_values(&[&format!("{:?}", err.kind).to_lowercase()])
                        .inc();
                    CallResult::billed(
                        json!({"error": err.message, "status": err.status}),
                        err.credits_used,
                    )
                }
            };
        CallResult { reserved, ..result }
    }

    /// Starts a step that may spend credits: refused when the turn is out
    /// of time or the team's budget is spent; otherwise the credit it holds
    /// until its real cost is charged.
    async fn begin_step(&self, turn: &Turn<'_>) -> Result<i64, CallResult> {
        const RESERVED: i64 = 1;
        if Instant::now() >= turn.deadline {
            return Err(CallResult::error(
                "stopped: the request ran out of time; answer with what you have",
            ));
        }
        match self.budget_refusal(&turn.request.team, RESERVED).await {
            Ok(None) => Ok(RESERVED),
            Ok(Some(refusal)) => Err(CallResult::error(refusal)),
            Err(error) => Err(CallResult::error(format!(
                "not run: the budget could not be checked ({error})"
            ))),
        }
    }

    async fn internal_tool(
        &self,
        turn: &Turn<'_>,
        tool: &dyn InternalTool,
        arguments: Value,
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
        match tool.access_of(&turn.requester, &arguments).await {
            Err(problem) => return CallResult::error(problem),
            Ok(Access::Read) => {}
            Ok(_) => {
                let summary = tool.summarize(&arguments);
                return self.gate(turn, tool.name(), arguments, summary).await;
            }
        }
        let reserved = match self.begin_step(turn).await {
            Ok(reserved) => reserved,
            Err(refused) => return refused,
        };
        if tool.returns_outside_text() {
            turn.outside_text.store(true, Ordering::SeqCst);
        }
        let credits_left = self
            .credits_left(&turn.request.team)
            .await
            .map(|left| left + reserved);
        let result = self
            .run_tool(turn, tool, arguments, credits_left, false)
            .await;
        CallResult { reserved, ..result }
    }

    /// Runs an internal tool; `approved` when the gate runs a confirmed or
    /// pre-approved write.
    pub(super) async fn run_tool(
        &self,
        turn: &Turn<'_>,
        tool: &dyn InternalTool,
        arguments: Value,
        credits_left: Option<i64>,
        approved: bool,
    ) -> CallResult {
        let request = turn.request;
        let send_file = |attachment| {
            let _ = turn
                .events
                .send(agencybot_core::OutboundMessage::File(attachment));
        };
        let send_text = |text| {
            let _ = turn
                .events
                .send(agencybot_core::OutboundMessage::Text(text));
        };
        let conversation_model = self
            .store
            .conversation_model(&request.conversation)
            .await
            .unwrap_or_default();
        let context = ToolContext {
            team: &request.team,
            user_id: &request.user_id,
            role: request.role,
            conversation: &request.conversation,
            conversation_model: conversation_model.as_deref(),
            store: &self.store,
            ofapi: &self.ofapi,
            now: self.clock.now(),
            credits_left,
            send_file: &send_file,
            send_text: &send_text,
            turn_uses: &turn.uses,
            approved,
            allowed_writes: turn.requester.allowed_writes,
            apps: self.apps.as_ref(),
        };
        match tool.run(&context, arguments).await {
            Ok(ToolOutput {
                content,
                credits,
                searches,
                integration_calls,
                effect_unknown,
            }) => CallResult {
                searches,
                integration_calls,
                effect_unknown,
                ..CallResult::billed(content, credits)
            },
            Err(message) => CallResult::error(message),
        }
    }
}

/// The answer when the API asks to wait longer than a request waits.
fn too_long_a_wait(wait: std::time::Duration, now: agencybot_core::Timestamp) -> String {
    let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
    format!(
        "OnlyFansAPI's rate limit asks to wait {} before the next call, longer than I keep you waiting, so I stopped here. Try again after {} UTC.",
        crate::duration_text(wait),
        (now + wait).format("%H:%M")
    )
}
