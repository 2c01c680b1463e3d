//! The engine's own cost per turn: with a scripted model that answers
//! instantly and the sandbox on loopback, what remains is agencybot's
//! overhead (prompt building, validation, the store, HTTP on loopback).
//! Also reports the prompt tokens each model call carries.
//!
//! Run with `cargo bench -p agencybot-agent`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agencybot_agent::{
    Engine, EngineConfig, Mode, ModelClient, ModelConfig, Price, Prices, TurnRequest, tokens,
};
use agencybot_core::{
    ConversationKey, InboundContent, Platform, RequestKind, Role, Secret, SystemClock,
};
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Client, ClientConfig};
use agencybot_store::{Store, StoreOptions, TeamSpec};
use agencybot_testkit::{Reply, ScriptedModel, Step};
use serde_json::{Value, json};

const TURNS: usize = 200;
const WARMUP: usize = 10;

struct Stats {
    name: &'static str,
    times: Vec<Duration>,
}

impl Stats {
    fn print(&mut self) {
        self.times.sort();
        let total: Duration = self.times.iter().sum();
        let mean = total / self.times.len() as u32;
        let at = |q: f64| self.times[((self.times.len() - 1) as f64 * q) as usize];
        println!(
            "{:<34} {:>4} turns  mean {:>7.2} ms  p50 {:>7.2} ms  p95 {:>7.2} ms",
            self.name,
            self.times.len(),
            ms(mean),
            ms(at(0.5)),
            ms(at(0.95)),
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("agencybot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&StoreOptions::new(format!(
        "sqlite://{}",
        dir.join("bench.db").display()
    )))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let team = store
        .upsert_team(&TeamSpec {
            name: "Bench".into(),
            default_model: None,
            timezone: None,
            daily_credit_budget: None,
            daily_usd_budget: None,
        })
        .await
        .unwrap();
    let sandbox = Sandbox::start(SandboxConfig::new("bench"), 0)
        .await
        .unwrap();
    let ofapi = Client::new(ClientConfig::new(sandbox.url(), Secret::new("bench"))).unwrap();
    let model = ScriptedModel::start().await;
    let model_client = ModelClient::new(&ModelConfig::new(
        model.url(),
        None,
        Duration::from_secs(10),
    ))
    .unwrap();
    let prices = Prices(BTreeMap::from([(
        "gpt-4.1-mini".to_owned(),
        Price {
            input_per_million: 0.4,
            output_per_million: 1.6,
        },
    )]));
    let engine = Engine::new(
        store.clone(),
        ofapi,
        model_client,
        EngineConfig {
            prices,
            // The benchmark measures the engine, not the turn limits.
            user_turns_per_minute: None,
            team_turns_per_minute: None,
            ..EngineConfig::default()
        },
        Arc::new(SystemClock),
    );
    let accounts: Vec<String> =
        sandbox.inspect(|d| d.accounts.iter().map(|a| a.id.clone()).collect());

    let request = |n: usize, text: &str| TurnRequest {
        team: team.clone(),
        conversation: ConversationKey::direct(
            "telegram-main",
            Platform::Telegram,
            n.to_string(),
            n.to_string(),
        ),
        user_id: n.to_string(),
        role: Role::Owner,
        content: InboundContent::Text(text.into()),
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    };
    let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while events.recv().await.is_some() {} });

    println!("agencybot turn engine, zero-latency model and sandbox on loopback");
    let mut direct = Stats {
        name: "direct answer (1 model call)",
        times: Vec::new(),
    };
    for n in 0..WARMUP + TURNS {
        model.push(Reply::text("Hello! How can I help?"));
        let started = Instant::now();
        engine.handle(request(n, "hi"), &sink).await;
        if n >= WARMUP {
            direct.times.push(started.elapsed());
        }
    }
    direct.print();

    let mut earnings = Stats {
        name: "earnings, 3 accounts (2 calls)",
        times: Vec::new(),
    };
    for n in 0..WARMUP + TURNS {
        let calls = accounts
            .iter()
            .map(|id| ("call_api", json!({"endpoint": "statistics.get-earnings", "arguments": {"account": id, "start_date": "2026-11-01", "end_date": "2026-11-20"}})))
            .collect();
        model.push(Reply::tools(calls));
        model.push(Step::Dynamic(Box::new(|request: &Value| {
            let results = request["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "tool")
                .count();
            Reply::text(&format!("Earnings for {results} accounts."))
        })));
        let started = Instant::now();
        engine
            .handle(
                request(100_000 + n, "How much did we earn this month?"),
                &sink,
            )
            .await;
        if n >= WARMUP {
            earnings.times.push(started.elapsed());
        }
    }
    earnings.print();

    let requests = model.requests();
    let prompt_tokens: Vec<usize> = requests
        .iter()
        .map(|r| {
            let messages: usize = r["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(tokens::count_message)
                .sum();
            messages + tokens::count(&r["tools"].to_string())
        })
        .collect();
    let first_call = requests
        .first()
        .map(|r| {
            tokens::count(r["messages"][0]["content"].as_str().unwrap_or(""))
                + tokens::count(&r["tools"].to_string())
        })
        .unwrap_or(0);
    let mean = prompt_tokens.iter().sum::<usize>() / prompt_tokens.len().max(1);
    println!(
        "prompt tokens per model call: mean {mean}, max {}; system prompt + tools: {first_call}",
        prompt_tokens.iter().max().unwrap_or(&0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
