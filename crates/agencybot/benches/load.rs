//! Load: many users asking at once, each in their own Telegram chat.
//!
//! Runs the real `agencybot run` (the bench build of the binary) against a
//! fast Telegram Bot API fake and a chat-completions fake of fixed latency
//! on 127.0.0.1. Every answer takes three model calls (two tool calls, then
//! the text), so three times the latency is the floor. Prints, per round,
//! p50/p90/p99 end to end against that floor, the bot's peak and settled
//! RSS, its CPU per answer and open descriptors, and any cross-talk (an
//! answer in someone else's chat), duplicate or missing answer. Before the
//! sizes, it reports the bot at rest with Telegram, Slack (Socket Mode) and
//! Discord all connected, and after its first answer.
//!
//! `cargo bench -p agencybot --bench load` runs 200, 1,000 and 10,000
//! users; `-- --users 1000 --rounds 3 --latency-ms 1000` picks others.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agencybot_testkit::{FakeDiscord, FakeSlack};
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Notify;

const TOKEN: &str = "42:load-bench";
const FIRST_USER: i64 = 1_000_000;
/// A round that has not finished after this long is reported as it stands.
const ROUND_LIMIT: Duration = Duration::from_secs(600);

struct Options {
    users: Vec<usize>,
    rounds: usize,
    latency: Duration,
}

fn options() -> Options {
    let mut options = Options {
        users: vec![200, 1_000, 10_000],
        rounds: 2,
        latency: Duration::from_millis(1_000),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{arg} needs a value"))
                .clone()
        };
        match arg.as_str() {
            "--users" => {
                options.users = value()
                    .split(',')
                    .map(|n| n.trim().parse().expect("--users 200,1000"))
                    .collect();
            }
            "--rounds" => options.rounds = value().parse().expect("--rounds 2"),
            "--latency-ms" => {
                options.latency =
                    Duration::from_millis(value().parse().expect("--latency-ms 1000"));
            }
            // What cargo passes to every bench.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

// ---- the Telegram fake ----

#[derive(Default)]
struct Telegram {
    updates: VecDeque<Value>,
    next_update: i64,
    next_message: i64,
    /// When each update was made available, by update id.
    offered: HashMap<i64, Instant>,
    /// Texts sent or edited into each chat, with when they arrived.
    texts: HashMap<i64, Vec<(Instant, String)>>,
    calls: u64,
}

#[derive(Clone)]
struct FakeTelegram {
    state: Arc<Mutex<Telegram>>,
    changed: Arc<Notify>,
}

impl FakeTelegram {
    fn lock(&self) -> std::sync::MutexGuard<'_, Telegram> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One private message from each user, all at the same moment.
    fn ask_all(&self, users: usize, round: usize) -> Instant {
        let now = Instant::now();
        {
            let mut state = self.lock();
            for i in 0..users {
                let user = FIRST_USER + i as i64;
                state.next_update += 1;
                state.next_message += 1;
                let id = state.next_update;
                let update = json!({
                    "update_id": id,
                    "message": {
                        "message_id": state.next_message,
                        "date": 1_700_000_000,
                        "chat": {"id": user, "type": "private", "first_name": "Fan"},
                        "from": {"id": user, "is_bot": false, "first_name": "Fan"},
                        "text": format!("Tell me about my week, please. ask-{user}-{round}"),
                    }
                });
                state.updates.push_back(update);
                state.offered.insert(id, now);
            }
        }
        self.changed.notify_waiters();
        now
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn bot_message(id: i64, chat: &Value, text: Option<&Value>) -> Value {
    let mut message = json!({
        "message_id": id,
        "date": 1_700_000_000,
        "chat": {"id": chat.as_i64().or_else(|| chat.as_str().and_then(|s| s.parse().ok())).unwrap_or(0), "type": "private", "first_name": "Fan"},
        "from": {"id": 7_000_000_001_i64, "is_bot": true, "first_name": "agencybot", "username": "agencybot_load_bot"},
    });
    if let Some(text) = text {
        message["text"] = text.clone();
    }
    message
}

async fn telegram_call(
    State(fake): State<FakeTelegram>,
    UrlPath((_bot, method)): UrlPath<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = method.to_lowercase();
    fake.lock().calls += 1;
    match method.as_str() {
        "getupdates" => {
            let offset = params["offset"].as_i64().unwrap_or(0);
            let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
            let wait = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0).min(5));
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let notified = fake.changed.notified();
                let batch: Vec<Value> = {
                    let mut state = fake.lock();
                    while state
                        .updates
                        .front()
                        .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
                    {
                        state.updates.pop_front();
                    }
                    state.updates.iter().take(limit).cloned().collect()
                };
                if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                    return ok(Value::Array(batch));
                }
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
        }
        "getme" => ok(
            json!({"id": 7_000_000_001_i64, "is_bot": true, "first_name": "agencybot",
            "username": "agencybot_load_bot", "can_join_groups": false,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false}),
        ),
        "sendmessage" | "editmessagetext" => {
            let chat = params["chat_id"].clone();
            let text = params["text"].as_str().unwrap_or("").to_owned();
            let id = {
                let mut state = fake.lock();
                state
                    .texts
                    .entry(chat.as_i64().unwrap_or(0))
                    .or_default()
                    .push((Instant::now(), text));
                if method == "sendmessage" {
                    state.next_message += 1;
                    state.next_message
                } else {
                    params["message_id"].as_i64().unwrap_or(0)
                }
            };
            ok(bot_message(id, &chat, params.get("text")))
        }
        _ => ok(json!(true)),
    }
}

// ---- the model fake: two tool calls, then the answer ----

async fn completion(State(latency): State<Duration>, Json(body): Json<Value>) -> Response {
    tokio::time::sleep(latency).await;
    let no_messages = Vec::new();
    let messages = body["messages"].as_array().unwrap_or(&no_messages);
    let last_user = messages
        .iter()
        .rposition(|m| m["role"] == "user")
        .unwrap_or(0);
    let question = messages
        .get(last_user)
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    let tools_since = messages[last_user..]
        .iter()
        .filter(|m| m["role"] == "tool")
        .count();
    let message = if tools_since < 2 {
        let query = if tools_since == 0 {
            "earnings this week"
        } else {
            "top fans"
        };
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": format!("call-{tools_since}"),
            "type": "function",
            "function": {"name": "find_api_endpoints", "arguments": json!({"query": query}).to_string()},
        }]})
    } else {
        let asked = question
            .split_whitespace()
            .find(|w| w.starts_with("ask-"))
            .unwrap_or("ask-unknown");
        json!({"role": "assistant", "content": format!("Here is your week. answer-for {asked}")})
    };
    Json(json!({
        "id": "chatcmpl-load",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"].clone(),
        "choices": [{"index": 0, "message": message, "finish_reason": if tools_since < 2 { "tool_calls" } else { "stop" }}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 30, "total_tokens": 930},
    }))
    .into_response()
}

async fn ofapi(UrlPath(_path): UrlPath<String>) -> Response {
    // The account list the prompt names; nothing else is called.
    Json(json!([])).into_response()
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

// ---- the bot process ----

struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A figure of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// RSS, and what of it is the process's own (heap, stacks, relocated
/// data) and what is mapped from files (the binary's code).
fn memory(pid: u32) -> String {
    format!(
        "RSS {:.1} MB ({:.1} MB anonymous, {:.1} MB from files)",
        rss_kib(pid) as f64 / 1024.0,
        status_kib(pid, "RssAnon:") as f64 / 1024.0,
        (status_kib(pid, "RssFile:") + status_kib(pid, "RssShmem:")) as f64 / 1024.0,
    )
}

/// Waits until descriptors and RSS have held for 2 s, at least `at_least`
/// and at most 40 s; returns them then.
async fn settled(pid: u32, at_least: Duration) -> (usize, u64) {
    let settling = Instant::now();
    let (mut last, mut held) = ((descriptors(pid), rss_kib(pid)), 0);
    while (held < 4 || settling.elapsed() < at_least)
        && settling.elapsed() < Duration::from_secs(40)
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = (descriptors(pid), rss_kib(pid));
        let steady = now.0 == last.0 && now.1.abs_diff(last.1) < 1024;
        held = if steady { held + 1 } else { 0 };
        last = now;
    }
    last
}

/// User plus system CPU time of the process.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|t| t.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|t| t.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Slack (Socket Mode) and Discord fakes to connect as well as Telegram.
struct OtherChannels {
    slack: FakeSlack,
    discord: FakeDiscord,
}

/// Starts `agencybot run` in `dir` against `fakes`, and `others` too.
fn start_bot(dir: &Path, fakes: &Fakes, others: Option<&OtherChannels>) -> Bot {
    let (telegram, model, ofapi) = (&fakes.telegram_url, &fakes.model_url, &fakes.ofapi_url);
    let mut config = format!(
        "[general]\nlog = \"warn\"\n\
         [database]\nurl = \"sqlite://{}\"\n\
         [llm]\nbase_url = \"{model}/v1\"\napi_key_env = \"\"\nmodel = \"gpt-4.1-mini\"\n\
         [ofapi]\nbase_url = \"{ofapi}\"\n\
         [limits]\nuser_turns_per_minute = 0\nteam_turns_per_minute = 0\n\
         [[teams]]\nname = \"Load\"\ntimezone = \"UTC\"\n\
         [[teams.members]]\nname = \"Owner\"\nrole = \"owner\"\ntelegram = [1]\n\
         [[channels.telegram]]\nname = \"tg\"\napi_url = \"{telegram}\"\nallow_everyone = true\n",
        dir.join("load.db").display()
    );
    if let Some(others) = others {
        config += &format!(
            "[[channels.slack]]\nname = \"slack\"\nmode = \"socket\"\napi_url = \"{}\"\nallow_everyone = true\n\
             [[channels.discord]]\nname = \"discord\"\napi_url = \"{}\"\nallow_everyone = true\n",
            others.slack.api_url(),
            others.discord.url()
        );
    }
    std::fs::write(dir.join("a.toml"), config).unwrap();
    Bot(Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir)
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("SLACK_BOT_TOKEN", "xoxb-load")
        .env("SLACK_APP_TOKEN", "xapp-load")
        .env("DISCORD_BOT_TOKEN", "load.discord.token")
        .env("ONLYFANSAPI_API_KEY", "load")
        .args(["run", "--config", "a.toml"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("bot.log")).unwrap())
        .spawn()
        .expect("start agencybot run"))
}

struct Round {
    latencies: Vec<Duration>,
    cross_talk: usize,
    duplicates: usize,
    missing: usize,
    peak_rss: u64,
    cpu: Duration,
    wall: Duration,
}

async fn round(fake: &FakeTelegram, pid: u32, users: usize, number: usize) -> Round {
    {
        let mut state = fake.lock();
        state.texts.clear();
        state.offered.clear();
    }
    let cpu_before = cpu(pid);
    let started = fake.ask_all(users, number);
    let mut peak_rss = 0;
    let answered = |fake: &FakeTelegram| {
        let state = fake.lock();
        (0..users)
            .filter(|i| {
                let user = FIRST_USER + *i as i64;
                state.texts.get(&user).is_some_and(|texts| {
                    texts
                        .iter()
                        .any(|(_, t)| t.contains(&format!("answer-for ask-{user}-{number}")))
                })
            })
            .count()
    };
    loop {
        peak_rss = peak_rss.max(rss_kib(pid));
        if answered(fake) == users || started.elapsed() > ROUND_LIMIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed();
    // Late duplicates show up after the last answer.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let cpu = cpu(pid).saturating_sub(cpu_before);
    let state = fake.lock();
    let mut latencies = Vec::new();
    let (mut cross_talk, mut duplicates, mut missing) = (0, 0, 0);
    for (chat, texts) in &state.texts {
        for (_, text) in texts {
            if let Some(asked) = text.split("answer-for ask-").nth(1) {
                let owner: i64 = asked
                    .split('-')
                    .next()
                    .and_then(|u| u.parse().ok())
                    .unwrap_or(0);
                if owner != *chat {
                    cross_talk += 1;
                }
            }
        }
    }
    for i in 0..users {
        let user = FIRST_USER + i as i64;
        let needle = format!("answer-for ask-{user}-{number}");
        let answers: Vec<Instant> = state
            .texts
            .get(&user)
            .map(|texts| {
                texts
                    .iter()
                    .filter(|(_, t)| t.contains(&needle))
                    .map(|(at, _)| *at)
                    .collect()
            })
            .unwrap_or_default();
        match answers.first() {
            Some(first) => latencies.push(first.duration_since(started)),
            None => missing += 1,
        }
        duplicates += answers.len().saturating_sub(1);
    }
    latencies.sort();
    Round {
        latencies,
        cross_talk,
        duplicates,
        missing,
        peak_rss,
        cpu,
        wall,
    }
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64()
}

/// The fakes every bot runs against.
struct Fakes {
    telegram: FakeTelegram,
    telegram_url: String,
    model_url: String,
    ofapi_url: String,
}

impl Fakes {
    async fn start(latency: Duration) -> Fakes {
        let telegram = FakeTelegram {
            state: Arc::new(Mutex::new(Telegram::default())),
            changed: Arc::new(Notify::new()),
        };
        let telegram_url = serve(
            Router::new()
                .route(
                    "/{bot}/{method}",
                    axum::routing::post(telegram_call).get(telegram_call),
                )
                .with_state(telegram.clone()),
        )
        .await;
        let model_url = serve(
            Router::new()
                .route("/v1/chat/completions", axum::routing::post(completion))
                .with_state(latency),
        )
        .await;
        let ofapi_url = serve(Router::new().route("/{*path}", axum::routing::get(ofapi))).await;
        Fakes {
            telegram,
            telegram_url,
            model_url,
            ofapi_url,
        }
    }
}

/// Waits up to 60 s for `done`, or panics with the bot's log.
async fn wait_for(dir: &Path, what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}: {}",
            std::fs::read_to_string(dir.join("bot.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bot at rest with Telegram, Slack (Socket Mode) and Discord all
/// connected, then after its first answer.
async fn idle_with_every_channel(latency: Duration) {
    let fakes = Fakes::start(latency).await;
    let others = OtherChannels {
        slack: FakeSlack::start().await,
        discord: FakeDiscord::start().await,
    };
    let dir = tempfile::tempdir().unwrap();
    let bot = start_bot(dir.path(), &fakes, Some(&others));
    let pid = bot.0.id();
    wait_for(dir.path(), "Telegram, Slack and Discord to connect", || {
        fakes.telegram.lock().calls >= 2
            && others.slack.socket_connected()
            && others.discord.connected()
    })
    .await;
    let (open, _) = settled(pid, Duration::from_secs(20)).await;
    println!(
        "idle, Telegram, Slack and Discord connected: {}, {open} descriptors",
        memory(pid)
    );
    let r = round(&fakes.telegram, pid, 1, 1).await;
    assert_eq!(r.latencies.len(), 1, "the first question was not answered");
    let (open, _) = settled(pid, Duration::from_secs(20)).await;
    println!(
        "after the first answer: {}, {open} descriptors",
        memory(pid)
    );
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let floor = options.latency.as_secs_f64() * 3.0;
        println!(
            "load: {} round(s) per size, model latency {} ms, 3 model calls per answer (floor {floor:.2} s)",
            options.rounds,
            options.latency.as_millis()
        );
        idle_with_every_channel(options.latency).await;
        for &users in &options.users {
            let fakes = Fakes::start(options.latency).await;
            let fake = &fakes.telegram;
            let dir = tempfile::tempdir().unwrap();
            let bot = start_bot(dir.path(), &fakes, None);
            let pid = bot.0.id();
            wait_for(dir.path(), "the bot to poll", || fake.lock().calls >= 2).await;
            let (open, _) = settled(pid, Duration::from_secs(20)).await;
            println!("{users} users: idle {}, {open} descriptors", memory(pid));
            for number in 1..=options.rounds {
                let r = round(fake, pid, users, number).await;
                // Idle connections close, and freed memory goes back, some
                // seconds after the burst: both are read once they have held
                // for 2 s, at least 20 s after the round.
                let settling = Instant::now();
                let last = settled(pid, Duration::from_secs(20)).await;
                let answered = r.latencies.len().max(1);
                println!(
                    "  round {number}: answered {}/{users} in {:.1} s · p50 {:.2} s  p90 {:.2} s  p99 {:.2} s ({:.2}× the floor) · \
                     peak RSS {:.1} MB · CPU {:.1} ms/answer · {:.0} s after: RSS {:.1} MB, {} descriptors · cross-talk {} · duplicates {} · missing {}",
                    r.latencies.len(),
                    r.wall.as_secs_f64(),
                    quantile(&r.latencies, 0.5),
                    quantile(&r.latencies, 0.9),
                    quantile(&r.latencies, 0.99),
                    quantile(&r.latencies, 0.99) / floor,
                    r.peak_rss as f64 / 1024.0,
                    r.cpu.as_secs_f64() * 1000.0 / answered as f64,
                    settling.elapsed().as_secs_f64() + 1.5,
                    last.1 as f64 / 1024.0,
                    last.0,
                    r.cross_talk,
                    r.duplicates,
                    r.missing,
                );
            }
            drop(bot);
        }
    });
}
