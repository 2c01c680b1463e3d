//! What an answer costs: a fixed set of agency questions (several accounts
//! and periods, follow-ups, writes and their yes/no) on the scripted model
//! and the OnlyFansAPI sandbox. For each question it prints the model calls,
//! the prompt and completion tokens (o200k, counted on what was sent), the
//! OnlyFansAPI credits, the API requests made, reads that reached the API
//! more than once, tool calls that failed, how many prompt tokens repeat the
//! conversation's previous call from the start (what providers' prompt
//! caches serve), and whether the system prompt and tools stayed
//! byte-identical to the conversation's first call.
//!
//! The script is what a careful but imperfect model does: it repeats a
//! read now and then (in parallel, or in the next step) and asks the same
//! thing again in a follow-up. The engine decides what that costs.
//!
//! Run with `cargo bench -p agencybot-agent --bench cost`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{
    Engine, EngineConfig, Mode, ModelClient, ModelConfig, Price, Prices, TurnRequest, tokens,
};
use agencybot_core::{
    ConversationKey, InboundContent, ManualClock, Platform, RequestKind, Role, Secret,
};
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Client, ClientConfig};
use agencybot_store::{Store, TeamSpec};
use agencybot_testkit::{Reply, ScriptedModel, sandbox_now};
use serde_json::{Value, json};

/// One question of the set: who asks, in which conversation, and what the
/// model answers call by call.
struct Question {
    text: &'static str,
    conversation: &'static str,
    replies: Vec<Reply>,
}

fn call(endpoint: &str, arguments: Value) -> (&'static str, Value) {
    (
        "call_api",
        json!({"endpoint": endpoint, "arguments": arguments}),
    )
}

fn questions(accounts: &[String], vip_list: &str) -> Vec<Question> {
    let [a, b, c] = [&accounts[0], &accounts[1], &accounts[2]];
    let week = ("2026-11-14 00:00:00", "2026-11-20 23:59:59");
    let month = ("2026-11-01 00:00:00", "2026-11-20 23:59:59");
    let all_earnings = |(start, end): (&str, &str)| {
        call(
            "analytics-summary.get-earnings-overview",
            json!({"account_ids": accounts, "start_date": start, "end_date": end}),
        )
    };
    let q = |conversation, text, replies| Question {
        text,
        conversation,
        replies,
    };
    let text = |t: &str| Reply::text(t).usage(0, 0);
    let tools = |calls: Vec<(&str, Value)>| Reply::tools(calls).usage(0, 0);
    vec![
        q(
            "ann",
            "How much did we earn this week?",
            vec![
                tools(vec![all_earnings(week)]),
                text("This week the agency earned $4,210 net across all three accounts."),
            ],
        ),
        q(
            "ann",
            "Which account made the most of that?",
            vec![
                tools(vec![all_earnings(week)]),
                text("@first made the most: $2,030."),
            ],
        ),
        q(
            "ann",
            "And this month so far?",
            vec![
                tools(vec![all_earnings(month)]),
                text("This month so far: $11,870 net."),
            ],
        ),
        q(
            "ann",
            "Who are my top fans this month on the first account?",
            vec![
                tools(vec![call(
                    "fans.list-top-fans",
                    json!({"account": a, "start_date": month.0, "end_date": month.1}),
                )]),
                text("Your top fans this month: …"),
            ],
        ),
        q(
            "ann",
            "Same for the second account",
            vec![
                tools(vec![call(
                    "fans.list-top-fans",
                    json!({"account": b, "start_date": month.0, "end_date": month.1}),
                )]),
                text("On the second account: …"),
            ],
        ),
        q(
            "ann",
            "How are my tracking links doing?",
            vec![
                // The same read twice in one step.
                tools(vec![
                    call("tracking-links.list-tracking-links", json!({"account": a})),
                    call("tracking-links.list-tracking-links", json!({"account": a})),
                ]),
                text("Your best link is Reddit: 120 subscribers."),
            ],
        ),
        q(
            "ann",
            "What's our balance on every account?",
            vec![
                tools(vec![
                    call("payouts.get-account-balances", json!({"account": a})),
                    call("payouts.get-account-balances", json!({"account": b})),
                    call("payouts.get-account-balances", json!({"account": c})),
                ]),
                text("Balances: $1,200, $800 and $430."),
            ],
        ),
        q(
            "ann",
            "Check the balance of the first one again, fresh please",
            vec![
                tools(vec![(
                    "call_api",
                    json!({"endpoint": "payouts.get-account-balances", "arguments": {"account": a}, "fresh": true}),
                )]),
                text("Still $1,200."),
            ],
        ),
        q(
            "ann",
            "How many new subscribers did we get this week?",
            vec![
                tools(vec![
                    call(
                        "statistics.get-subscriber-metrics",
                        json!({"account": a, "start_date": week.0, "end_date": week.1}),
                    ),
                    call(
                        "statistics.get-subscriber-metrics",
                        json!({"account": b, "start_date": week.0, "end_date": week.1}),
                    ),
                    call(
                        "statistics.get-subscriber-metrics",
                        json!({"account": c, "start_date": week.0, "end_date": week.1}),
                    ),
                ]),
                text("42 new subscribers this week."),
            ],
        ),
        q(
            "ann",
            "Which chats are waiting for a reply on the first account?",
            vec![
                tools(vec![call(
                    "chats.list-chats",
                    json!({"account": a, "filter": "unread", "limit": "10"}),
                )]),
                // Asked again in the next step, arguments in another order.
                tools(vec![call(
                    "chats.list-chats",
                    json!({"limit": "10", "filter": "unread", "account": a}),
                )]),
                text("5 chats are waiting."),
            ],
        ),
        q(
            "ann",
            "Show me the expired fans of the third account",
            vec![
                tools(vec![call(
                    "fans.list-expired-fans",
                    json!({"account": c, "limit": 20, "offset": 0}),
                )]),
                text("20 fans expired recently."),
            ],
        ),
        q(
            "ann",
            "Send a mass message to my first account's fans: New set tonight 🔥",
            vec![
                tools(vec![call(
                    "user-list-collections.list-user-lists",
                    json!({"account": a}),
                )]),
                tools(vec![call(
                    "mass-messaging.send-mass-message",
                    json!({"account": a, "text": "New set tonight 🔥", "userLists": [vip_list]}),
                )]),
            ],
        ),
        q(
            "ann",
            "yes",
            vec![text("Sent: your fans get “New set tonight 🔥”.")],
        ),
        q(
            "ann",
            "How did that mass message do so far?",
            vec![
                tools(vec![call(
                    "mass-messaging.get-mass-message-overview",
                    json!({"account": a}),
                )]),
                text("Sent to 59 fans; no purchases yet."),
            ],
        ),
        q(
            "ann",
            "Create a tracking link called Reddit Spring on the first account",
            vec![tools(vec![call(
                "tracking-links.create-tracking-link",
                json!({"account": a, "name": "Reddit Spring"}),
            )])],
        ),
        q("ann", "no", vec![]),
        q(
            "max",
            "hi, what can you do?",
            vec![text(
                "I answer from your live OnlyFans data and can act after your yes.",
            )],
        ),
        q(
            "max",
            "How much did we earn this week?",
            vec![
                tools(vec![all_earnings(week)]),
                text("This week: $4,210 net."),
            ],
        ),
        q(
            "max",
            "List the free trial links of the second account",
            vec![
                tools(vec![call(
                    "free-trial-links.list-free-trial-links",
                    json!({"account": b}),
                )]),
                text("Two free trial links are active."),
            ],
        ),
        q(
            "max",
            "Any recent transactions on the second account?",
            vec![
                tools(vec![call(
                    "transactions.list-transactions",
                    json!({"account": b, "limit": "10"}),
                )]),
                text("10 recent transactions, mostly tips."),
            ],
        ),
        q(
            "max",
            "Who are the newest fans of the second account?",
            vec![
                tools(vec![call(
                    "fans.list-latest-fans",
                    json!({"account": b, "limit": 10, "offset": 0}),
                )]),
                text("Your newest fans: …"),
            ],
        ),
        q(
            "max",
            "Send a DM to my top fan on the second account: thanks for the support!",
            vec![
                tools(vec![call(
                    "fans.list-top-fans",
                    json!({"account": b, "start_date": month.0, "end_date": month.1}),
                )]),
                tools(vec![call(
                    "chat-messages.send-message",
                    json!({"account": b, "chat_id": "1001", "text": "thanks for the support!"}),
                )]),
            ],
        ),
        q("max", "yes", vec![text("Sent.")]),
    ]
}

/// Tokens of what one request carried: every message and the tools.
fn prompt_tokens(request: &Value) -> usize {
    let messages: usize = request["messages"]
        .as_array()
        .map(|m| m.iter().map(tokens::count_message).sum())
        .unwrap_or(0);
    messages + tokens::count(&request["tools"].to_string())
}

fn completion_tokens(reply: &Reply) -> usize {
    let calls: usize = reply
        .tool_calls
        .iter()
        .map(|(name, arguments)| tokens::count(name) + tokens::count(&arguments.to_string()))
        .sum();
    calls + reply.content.as_deref().map_or(0, tokens::count)
}

/// The system prompt and tools, what providers cache.
fn prefix(request: &Value) -> String {
    format!("{}{}", request["messages"][0], request["tools"])
}

/// Tokens a provider's prompt cache can serve: the tools and the leading
/// messages identical to the previous call of the conversation (nothing
/// when the system prompt changed).
fn cacheable_tokens(previous: Option<&Value>, request: &Value) -> usize {
    let Some(previous) = previous else {
        return 0;
    };
    if previous["tools"] != request["tools"] {
        return 0;
    }
    let (Some(before), Some(now)) = (
        previous["messages"].as_array(),
        request["messages"].as_array(),
    ) else {
        return 0;
    };
    let shared: usize = before
        .iter()
        .zip(now)
        .take_while(|(a, b)| a == b)
        .map(|(message, _)| tokens::count_message(message))
        .sum();
    if shared == 0 {
        0
    } else {
        shared + tokens::count(&request["tools"].to_string())
    }
}

#[derive(Default)]
struct Totals {
    calls: usize,
    prompt: usize,
    completion: usize,
    credits: i64,
    requests: usize,
    repeated: usize,
    errors: usize,
    cached: usize,
    changed_prefixes: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let reuse = std::env::args().all(|a| a != "--no-reuse");
    let store = Store::in_memory().await.unwrap();
    let team = store
        .upsert_team(&TeamSpec {
            name: "Bench Agency".into(),
            timezone: Some("Europe/Berlin".into()),
            ..TeamSpec::default()
        })
        .await
        .unwrap();
    let mut sandbox_config = SandboxConfig::new("bench");
    sandbox_config.now = sandbox_now();
    let sandbox = Sandbox::start(sandbox_config, 0).await.unwrap();
    let ofapi = Client::new(ClientConfig::new(sandbox.url(), Secret::new("bench"))).unwrap();
    let model = ScriptedModel::start().await;
    let client = ModelClient::new(&ModelConfig::new(
        model.url(),
        None,
        Duration::from_secs(10),
    ))
    .unwrap();
    let clock = Arc::new(ManualClock::new(sandbox_now()));
    let engine = Engine::new(
        store,
        ofapi,
        client,
        EngineConfig {
            prices: Prices(BTreeMap::from([(
                "gpt-4.1-mini".to_owned(),
                Price {
                    input_per_million: 0.4,
                    output_per_million: 1.6,
                },
            )])),
            read_reuse_ttl: if reuse {
                Duration::from_secs(120)
            } else {
                Duration::ZERO
            },
            user_turns_per_minute: None,
            team_turns_per_minute: None,
            ..EngineConfig::default()
        },
        clock.clone(),
    );
    let accounts: Vec<String> =
        sandbox.inspect(|d| d.accounts.iter().map(|a| a.id.clone()).collect());
    let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while events.recv().await.is_some() {} });

    let vip_list = sandbox.inspect(|d| d.accounts[0].user_lists[0].id.clone());
    let set = questions(&accounts, &vip_list);
    println!(
        "cost per answer: {} questions, scripted model, sandbox with {} accounts{}",
        set.len(),
        accounts.len(),
        if reuse {
            ""
        } else {
            " (reuse across turns off)"
        }
    );
    println!(
        "{:<66} {:>5} {:>7} {:>7} {:>6} {:>7} {:>5} {:>6} {:>6} {:>7}",
        "question",
        "calls",
        "prompt",
        "cached",
        "compl",
        "credits",
        "reqs",
        "repeat",
        "errors",
        "prefix"
    );
    let mut totals = Totals::default();
    let mut first_prefix: HashMap<&str, String> = HashMap::new();
    let mut conversation_length: HashMap<&str, usize> = HashMap::new();
    let mut last_request: HashMap<&str, Value> = HashMap::new();
    for question in set {
        let requests_before = model.requests().len();
        let log_before = sandbox.requests().len();
        let credits_before = sandbox.credits_used();
        let completion: usize = question.replies.iter().map(completion_tokens).sum();
        for reply in question.replies {
            model.push(reply);
        }
        let role = if question.conversation == "ann" {
            Role::Owner
        } else {
            Role::Member
        };
        let request = TurnRequest {
            team: team.clone(),
            conversation: ConversationKey::direct(
                "telegram-main",
                Platform::Telegram,
                question.conversation,
                question.conversation,
            ),
            user_id: question.conversation.into(),
            role,
            content: InboundContent::Text(question.text.into()),
            kind: RequestKind::Chat,
            model: None,
            mode: Mode::Interactive,
            instructions: None,
        };
        engine.handle(request, &sink).await;
        assert_eq!(
            model.remaining(),
            0,
            "`{}` left scripted replies unused",
            question.text
        );
        let sent = &model.requests()[requests_before..];
        let made = &sandbox.requests()[log_before..];
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for line in made.iter().filter(|l| l.starts_with("GET ")) {
            *seen.entry(line.as_str()).or_default() += 1;
        }
        let repeated: usize = seen.values().map(|n| n - 1).sum();
        let prompt: usize = sent.iter().map(prompt_tokens).sum();
        // Tool results that were errors: a script that is wrong, or a cost.
        let errors = sent.last().map_or(0, |last| {
            agencybot_testkit::conversation(last)
                .iter()
                .skip(
                    conversation_length
                        .get(question.conversation)
                        .copied()
                        .unwrap_or(0),
                )
                .filter(|m| m["role"] == "tool")
                .filter(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("\"error\""))
                })
                .count()
        });
        if let Some(last) = sent.last() {
            conversation_length.insert(
                question.conversation,
                agencybot_testkit::conversation(last).len(),
            );
        }
        let credits = sandbox.credits_used() - credits_before;
        let mut changed = 0;
        let mut cached = 0;
        for request in sent {
            cached += cacheable_tokens(last_request.get(question.conversation), request);
            last_request.insert(question.conversation, request.clone());
            let first = first_prefix
                .entry(question.conversation)
                .or_insert_with(|| prefix(request));
            if *first != prefix(request) {
                changed += 1;
            }
        }
        println!(
            "{:<66} {:>5} {:>7} {:>7} {:>6} {:>7} {:>5} {:>6} {:>6} {:>7}",
            question.text.chars().take(66).collect::<String>(),
            sent.len(),
            prompt,
            cached,
            completion,
            credits,
            made.len(),
            repeated,
            errors,
            if changed == 0 { "same" } else { "CHANGED" }
        );
        totals.errors += errors;
        totals.cached += cached;
        totals.calls += sent.len();
        totals.prompt += prompt;
        totals.completion += completion;
        totals.credits += credits;
        totals.requests += made.len();
        totals.repeated += repeated;
        totals.changed_prefixes += changed;
        // People take a while between messages.
        clock.advance(chrono::Duration::seconds(40));
    }
    println!(
        "{:<66} {:>5} {:>7} {:>7} {:>6} {:>7} {:>5} {:>6} {:>6} {:>7}",
        "total",
        totals.calls,
        totals.prompt,
        totals.cached,
        totals.completion,
        totals.credits,
        totals.requests,
        totals.repeated,
        totals.errors,
        if totals.changed_prefixes == 0 {
            "same".to_owned()
        } else {
            format!("{} CHANGED", totals.changed_prefixes)
        }
    );
}
