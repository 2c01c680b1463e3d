//! Models per conversation and per task across providers, and what one
//! answer costs: two scripted model servers (two providers with their own
//! keys), the OnlyFansAPI sandbox and a real store, all on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{
    Engine, EngineConfig, Mode, ModelClient, ModelConfig, Models, Price, Prices, Provider,
    TurnReport, TurnRequest,
};
use agencybot_core::{
    ConversationKey, InboundContent, ManualClock, OutboundMessage, Platform, RequestKind, Role,
    Secret, Team,
};
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Client, ClientConfig};
use agencybot_store::{Store, TeamSpec, UsageFilter};
use agencybot_testkit::{Reply, ScriptedModel, sandbox_now};
use serde_json::{Value, json};

const OPENAI_MODEL: &str = "gpt-4.1-mini";
const CLAUDE: &str = "claude-sonnet-4.5";

struct Harness {
    engine: Engine,
    openai: ScriptedModel,
    anthropic: ScriptedModel,
    sandbox: Sandbox,
    store: Store,
    clock: Arc<ManualClock>,
    team: Team,
}

fn provider(name: &str, server: &ScriptedModel, key: &str, models: &[&str]) -> Provider {
    let mut config = ModelConfig::new(
        server.url(),
        Some(Secret::new(key)),
        Duration::from_secs(10),
    );
    config
        .headers
        .push(("x-provider".into(), Secret::new(name)));
    Provider {
        name: name.into(),
        client: ModelClient::new(&config).unwrap(),
        models: models.iter().map(|m| (*m).to_owned()).collect(),
    }
}

async fn harness_with(read_reuse_ttl: Duration) -> Harness {
    let store = Store::in_memory().await.unwrap();
    let team = store
        .upsert_team(&TeamSpec {
            name: "Velvet Agency".into(),
            default_model: Some(OPENAI_MODEL.into()),
            timezone: Some("Europe/Berlin".into()),
            ..TeamSpec::default()
        })
        .await
        .unwrap();
    let mut sandbox_config = SandboxConfig::new("sandbox-key");
    sandbox_config.now = sandbox_now();
    let sandbox = Sandbox::start(sandbox_config, 0).await.unwrap();
    let ofapi = Client::new(ClientConfig::new(sandbox.url(), Secret::new("sandbox-key"))).unwrap();
    let openai = ScriptedModel::start().await;
    let anthropic = ScriptedModel::start().await;
    let models = Models::new(
        vec![
            provider("openai", &openai, "sk-openai", &[OPENAI_MODEL]),
            provider("anthropic", &anthropic, "sk-ant", &[CLAUDE]),
        ],
        [],
    );
    let price = |input, output| Price {
        input_per_million: input,
        output_per_million: output,
    };
    let config = EngineConfig {
        default_model: OPENAI_MODEL.into(),
        prices: Prices(BTreeMap::from([
            (OPENAI_MODEL.to_owned(), price(0.4, 1.6)),
            (CLAUDE.to_owned(), price(3.0, 15.0)),
        ])),
        read_reuse_ttl,
        ..EngineConfig::default()
    };
    let clock = Arc::new(ManualClock::new(sandbox_now()));
    let engine = Engine::new(store.clone(), ofapi, models, config, clock.clone());
    Harness {
        engine,
        openai,
        anthropic,
        sandbox,
        store,
        clock,
        team,
    }
}

async fn harness() -> Harness {
    harness_with(Duration::from_secs(120)).await
}

fn dm(user: &str) -> ConversationKey {
    ConversationKey::direct("telegram-main", Platform::Telegram, user, user)
}

impl Harness {
    fn request(&self, user: &str, role: Role, text: &str) -> TurnRequest {
        TurnRequest {
            team: self.team.clone(),
            conversation: dm(user),
            user_id: user.into(),
            role,
            content: InboundContent::Text(text.into()),
            kind: RequestKind::Chat,
            model: None,
            mode: Mode::Interactive,
            instructions: None,
        }
    }

    async fn say(&self, user: &str, role: Role, text: &str) -> (TurnReport, Vec<OutboundMessage>) {
        agencybot_testkit::run_turn(&self.engine, self.request(user, role, text)).await
    }

    fn account(&self) -> String {
        self.sandbox.inspect(|data| data.accounts[0].id.clone())
    }

    /// Requests that reached the sandbox for paths containing `part`.
    fn hits(&self, part: &str) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|line| line.contains(part))
            .count()
    }
}

#[tokio::test]
async fn a_conversation_switched_to_another_model_calls_that_provider_with_its_key() {
    let h = harness().await;
    h.openai.push(Reply::text("Hello from GPT."));
    let (report, _) = h.say("10", Role::Member, "hi").await;
    assert_eq!(report.usage.model, OPENAI_MODEL);
    assert_eq!(h.openai.requests().len(), 1);
    assert_eq!(
        h.openai.header_values("authorization"),
        [Some("Bearer sk-openai".to_owned())]
    );

    let (report, _) = h.say("10", Role::Member, "/model claude-sonnet-4.5").await;
    let answer = report.answer.unwrap();
    assert!(
        answer.contains(CLAUDE) && answer.contains("anthropic"),
        "{answer}"
    );
    assert!(
        h.anthropic.requests().is_empty(),
        "choosing costs no model call"
    );

    h.anthropic
        .push(Reply::text("Hello from Claude.").usage(1000, 100));
    let (report, _) = h.say("10", Role::Member, "hi again").await;
    assert_eq!(report.answer.as_deref(), Some("Hello from Claude."));
    assert_eq!(
        h.openai.requests().len(),
        1,
        "nothing more went to the first provider"
    );
    let sent = &h.anthropic.requests()[0];
    assert_eq!(sent["model"], CLAUDE);
    assert_eq!(
        h.anthropic.header_values("authorization"),
        [Some("Bearer sk-ant".to_owned())]
    );
    assert_eq!(
        h.anthropic.header_values("x-provider"),
        [Some("anthropic".to_owned())]
    );
    // Billed at the model's own price, and recorded under its name.
    assert_eq!(report.usage.model, CLAUDE);
    assert!((report.usage.cost_usd - (1000.0 * 3.0 + 100.0 * 15.0) / 1e6).abs() < 1e-12);
    let records = h
        .store
        .usage_records(&UsageFilter {
            model: Some(CLAUDE.into()),
            ..UsageFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);

    // Another person's conversation keeps the team's model.
    h.openai.push(Reply::text("Still GPT here."));
    let (report, _) = h.say("11", Role::Member, "hi").await;
    assert_eq!(report.usage.model, OPENAI_MODEL);

    // Back to the team's.
    let (report, _) = h.say("10", Role::Member, "/model default").await;
    assert!(report.answer.unwrap().contains(OPENAI_MODEL));
    h.openai.push(Reply::text("GPT again."));
    let (report, _) = h.say("10", Role::Member, "and now?").await;
    assert_eq!(report.usage.model, OPENAI_MODEL);
}

#[tokio::test]
async fn viewers_cannot_change_the_model_by_command_or_by_asking() {
    let h = harness().await;
    let (report, _) = h.say("20", Role::Viewer, "/model claude-sonnet-4.5").await;
    assert!(report.answer.unwrap().contains("viewers"));
    assert_eq!(
        h.store.conversation_model(&dm("20")).await.unwrap(),
        None,
        "nothing changed"
    );

    // Asked in plain words, the model proposes the change: refused for a viewer.
    h.openai
        .push(Reply::tool("choose_model", json!({"model": CLAUDE})));
    h.openai.push(Reply::text("I can't change that for you."));
    let (report, _) = h.say("20", Role::Viewer, "use claude from now on").await;
    assert!(
        report.proposed.is_empty(),
        "a viewer gets no confirmation to approve"
    );
    assert_eq!(h.store.conversation_model(&dm("20")).await.unwrap(), None);

    // `/model` alone shows the choice to anyone.
    let (report, _) = h.say("20", Role::Viewer, "/model").await;
    let answer = report.answer.unwrap();
    assert!(
        answer.contains(OPENAI_MODEL) && answer.contains(CLAUDE),
        "{answer}"
    );
}

#[tokio::test]
async fn asking_for_another_model_in_plain_words_is_confirmed_first() {
    let h = harness().await;
    h.openai
        .push(Reply::tool("choose_model", json!({"model": CLAUDE})));
    let (report, events) = h.say("10", Role::Member, "switch to claude please").await;
    assert_eq!(report.proposed.len(), 1);
    let shown = format!("{events:?}");
    assert!(
        shown.contains(CLAUDE) && shown.contains("anthropic"),
        "{shown}"
    );
    assert_eq!(
        h.store.conversation_model(&dm("10")).await.unwrap(),
        None,
        "not before the yes"
    );

    h.openai
        .push(Reply::text("Done: Claude answers from now on."));
    h.say("10", Role::Member, "yes").await;
    assert_eq!(
        h.store
            .conversation_model(&dm("10"))
            .await
            .unwrap()
            .as_deref(),
        Some(CLAUDE)
    );
    h.anthropic.push(Reply::text("Claude here."));
    let (report, _) = h.say("10", Role::Member, "hi").await;
    assert_eq!(report.usage.model, CLAUDE);
}

#[tokio::test]
async fn an_unknown_model_gets_the_list_of_configured_ones() {
    let h = harness().await;
    let (report, _) = h.say("10", Role::Owner, "/model gpt-9-ultra").await;
    let answer = report.answer.unwrap();
    assert!(answer.contains("gpt-9-ultra"), "{answer}");
    assert!(
        answer.contains(OPENAI_MODEL) && answer.contains(CLAUDE),
        "{answer}"
    );
    assert_eq!(h.store.conversation_model(&dm("10")).await.unwrap(), None);

    // The model asking for one is told the same, before anything is proposed.
    h.openai
        .push(Reply::tool("choose_model", json!({"model": "gpt-9-ultra"})));
    h.openai.push(Reply::text("That model is not configured."));
    let (report, _) = h.say("10", Role::Owner, "use gpt 9").await;
    assert!(report.proposed.is_empty());
    let result = agencybot_testkit::last_tool_result(&h.openai.requests()[1]);
    assert!(
        result.to_string().contains(CLAUDE),
        "the tool result lists the configured models: {result}"
    );

    // A request naming a model no provider serves fails with a clear reply.
    let mut request = h.request("10", Role::Owner, "hi");
    request.model = Some("mystery-model".into());
    let (report, _) = agencybot_testkit::run_turn(&h.engine, request).await;
    let answer = report.answer.unwrap();
    assert!(
        answer.contains("mystery-model") && answer.contains(CLAUDE),
        "{answer}"
    );
}

#[tokio::test]
async fn a_scheduled_task_runs_on_its_own_model() {
    let h = harness().await;
    h.anthropic.push(Reply::text("Daily report by Claude."));
    let mut request = h.request("task-1", Role::Admin, "daily report");
    request.kind = RequestKind::ScheduledTask;
    request.model = Some(CLAUDE.into());
    request.mode = Mode::Unattended {
        allowed_writes: Vec::new(),
    };
    let (report, _) = agencybot_testkit::run_turn(&h.engine, request).await;
    assert_eq!(report.answer.as_deref(), Some("Daily report by Claude."));
    assert_eq!(report.usage.model, CLAUDE);
    assert!(h.openai.requests().is_empty());
}

#[tokio::test]
async fn the_same_read_twice_in_one_turn_reaches_the_api_once() {
    let h = harness().await;
    let account = h.account();
    let read = json!({
        "endpoint": "statistics.get-earnings",
        "arguments": {"account": account, "start_date": "2026-11-01 00:00:00", "end_date": "2026-11-20 00:00:00"}
    });
    // Twice in parallel in one step, then once more in the next step with
    // the arguments in another order.
    h.openai.push(Reply::tools(vec![
        ("call_api", read.clone()),
        ("call_api", read.clone()),
    ]));
    h.openai.push(Reply::tool(
        "call_api",
        json!({
            "endpoint": "statistics.get-earnings",
            "arguments": {"end_date": "2026-11-20 00:00:00", "start_date": "2026-11-01 00:00:00", "account": account}
        }),
    ));
    h.openai.push(Reply::text("You made money."));
    let credits_before = h.sandbox.credits_used();
    let (report, _) = h.say("10", Role::Member, "earnings this month?").await;
    assert_eq!(report.answer.as_deref(), Some("You made money."));
    assert_eq!(h.hits("/statistics/statements/earnings"), 1);
    assert_eq!(
        report.usage.credits,
        h.sandbox.credits_used() - credits_before
    );
    // Every call got the figures.
    let last = &h.openai.requests()[2];
    let results: Vec<&Value> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r["content"] == results[0]["content"])
    );

    // The next turn reuses it (and says how old it is), unless fresh data is asked for.
    h.openai.push(Reply::tool("call_api", read.clone()));
    h.openai.push(Reply::text("Same as before."));
    let (report, _) = h.say("10", Role::Member, "and again?").await;
    assert_eq!(h.hits("/statistics/statements/earnings"), 1);
    assert_eq!(report.usage.credits, 0);
    let reused = agencybot_testkit::last_tool_result(&h.openai.requests()[4]);
    assert!(reused.get("cached_seconds_ago").is_some(), "{reused}");

    let mut fresh = read.clone();
    fresh["fresh"] = json!(true);
    h.openai.push(Reply::tool("call_api", fresh));
    h.openai.push(Reply::text("Fresh figures."));
    h.say("10", Role::Member, "latest figures please").await;
    assert_eq!(h.hits("/statistics/statements/earnings"), 2);
}

#[tokio::test]
async fn a_write_makes_later_reads_reach_the_api_again() {
    let h = harness().await;
    let account = h.account();
    let read = json!({"endpoint": "tracking-links.list-tracking-links", "arguments": {"account": account}});
    h.openai.push(Reply::tool("call_api", read.clone()));
    h.openai.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Spring"}}),
    ));
    let (report, _) = h
        .say("10", Role::Member, "list links, then make Spring")
        .await;
    assert_eq!(report.proposed.len(), 1);
    h.openai.push(Reply::text("Created."));
    h.say("10", Role::Member, "yes").await;
    h.openai.push(Reply::tool("call_api", read));
    h.openai.push(Reply::text("Here are the links."));
    h.say("10", Role::Member, "list the links again").await;
    let lists = h
        .sandbox
        .requests()
        .iter()
        .filter(|line| line.starts_with("GET ") && line.contains("/tracking-links"))
        .count();
    assert_eq!(lists, 2, "the list after the write was fetched again");
}

#[tokio::test]
async fn reuse_across_turns_can_be_turned_off() {
    let h = harness_with(Duration::ZERO).await;
    let read = json!({"endpoint": "account.list-accounts", "arguments": {}});
    for _ in 0..2 {
        h.openai.push(Reply::tool("call_api", read.clone()));
        h.openai.push(Reply::text("Accounts."));
        h.say("10", Role::Member, "which accounts?").await;
    }
    let calls = h
        .sandbox
        .requests()
        .iter()
        .filter(|line| line.starts_with("GET /api/accounts"))
        .count();
    // One for the prompt's account list (kept for its own while), one per turn.
    assert_eq!(calls, 3);
}

#[tokio::test]
async fn system_prompt_and_tools_are_identical_across_the_calls_of_a_conversation() {
    let h = harness().await;
    let account = h.account();
    h.openai.push(Reply::tool(
        "call_api",
        json!({"endpoint": "payouts.get-account-balances", "arguments": {"account": account}}),
    ));
    h.openai.push(Reply::text("Your balance is fine."));
    h.say("10", Role::Member, "balance?").await;
    // Minutes later, with a write waiting for a yes in between.
    h.clock.advance(chrono::Duration::minutes(7));
    h.openai.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Summer"}}),
    ));
    h.say("10", Role::Member, "make a Summer link").await;
    h.clock.advance(chrono::Duration::seconds(42));
    h.openai.push(Reply::text("It's waiting for your yes."));
    h.say("10", Role::Member, "what's pending?").await;

    let requests = h.openai.requests();
    assert_eq!(requests.len(), 4);
    let first_system = requests[0]["messages"][0].to_string();
    let first_tools = requests[0]["tools"].to_string();
    for request in &requests[1..] {
        assert_eq!(request["messages"][0].to_string(), first_system);
        assert_eq!(request["tools"].to_string(), first_tools);
    }
    // What changes comes last: the time, and the waiting write.
    let last = requests[3]["messages"].as_array().unwrap().last().unwrap();
    let note = last["content"].as_str().unwrap();
    assert!(note.contains("Now:") && note.contains("Summer"), "{note}");
    assert!(!first_system.contains("Now:"));
    // Earlier turns are sent unchanged, so the cached prefix grows turn by turn.
    let earlier: Vec<&Value> = requests[1]["messages"].as_array().unwrap()[..3]
        .iter()
        .collect();
    let later: Vec<&Value> = requests[3]["messages"].as_array().unwrap()[..3]
        .iter()
        .collect();
    assert_eq!(earlier, later);
}
