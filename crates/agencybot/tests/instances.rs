//! Several `agencybot run` processes on one PostgreSQL: each message
//! (a Telegram webhook update, a Slack event) answered once, the turns of
//! one conversation one at a time, one poller per Telegram bot with
//! takeover, scheduled runs of a killed instance taken over, and the health
//! checks and metrics a load balancer and Prometheus read.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agencybot_store::{Store, StoreOptions};
use agencybot_testkit::{
    FakeSlack, FakeTelegram, PostgresSchema, Reply, ScriptedModel, Step, post_signed,
};
use serde_json::{Value, json};

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A bot process, killed when the test ends however it ends.
struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Bot {
    fn start(dir: &Path, config: &str, log: &str) -> Bot {
        Bot(Command::new(env!("CARGO_BIN_EXE_agencybot"))
            .current_dir(dir)
            .env_clear()
            .env("TELEGRAM_BOT_TOKEN", "42:instances")
            .env("TELEGRAM_WEBHOOK_SECRET", "hook-secret")
            .env("SLACK_BOT_TOKEN", "xoxb-instances")
            .env("SLACK_SIGNING_SECRET", SLACK_SECRET)
            .env("ONLYFANSAPI_API_KEY", "unused")
            .args(["run", "--config", config])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(log)).unwrap())
            .spawn()
            .unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn logs(dir: &Path) -> String {
    ["a.log", "b.log", "a2.log"]
        .iter()
        .map(|name| {
            format!(
                "--- {name}\n{}",
                std::fs::read_to_string(dir.join(name)).unwrap_or_default()
            )
        })
        .collect()
}

fn base_config(schema: &PostgresSchema, model: &ScriptedModel, database_url: &str) -> String {
    format!(
        "[database]\nurl = \"{database_url}\"\nschema = \"{}\"\n\
         [llm]\nbase_url = \"{}\"\napi_key_env = \"\"\nmodel = \"gpt-4.1-mini\"\n\
         [[teams]]\nname = \"Velvet\"\ntimezone = \"UTC\"\n\
         [[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [111]\n",
        schema.name,
        model.url(),
    )
}

async fn store(schema: &PostgresSchema) -> Store {
    let mut options = StoreOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    Store::connect(&options).await.unwrap()
}

async fn wait_for(limit: Duration, what: &str, dir: &Path, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            logs(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The team's usage records, as the store has them.
async fn team_usage(schema: &PostgresSchema) -> Vec<agencybot_core::UsageRecord> {
    let store = store(schema).await;
    let team = store.team_by_name("Velvet").await.unwrap().unwrap();
    let records = store
        .usage_records(&agencybot_store::UsageFilter {
            team_id: Some(team.id),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    records
}

fn count(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_one_polling_bot_poll_one_at_a_time_and_the_other_takes_over() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let telegram = FakeTelegram::start("42:instances").await;
    let model = ScriptedModel::start().await;
    model.push(Reply::text("First answer."));
    model.push(Reply::text("Second answer."));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "{}[[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            base_config(&schema, &model, &schema.url),
            telegram.url()
        ),
    )
    .unwrap();
    let a = Bot::start(dir.path(), "a.toml", "a.log");
    let b = Bot::start(dir.path(), "a.toml", "b.log");
    let store = store(&schema).await;
    let mut holder = String::new();
    wait_for(
        Duration::from_secs(30),
        "a polling lease",
        dir.path(),
        async || {
            // No table until the first instance has migrated the schema.
            let leases = store.leases(chrono::Utc::now()).await.unwrap_or_default();
            match leases.iter().find(|l| l.name == "telegram-polling:tg") {
                Some(lease) => {
                    holder = lease.holder.clone();
                    true
                }
                None => false,
            }
        },
    )
    .await;

    telegram.send_text(111, "How are we doing?");
    telegram
        .wait_for_text(Duration::from_secs(30), 111, "First answer.")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&telegram.texts(111), "First answer."), 1, "one reply");
    assert_eq!(model.requests().len(), 1, "one model call");

    // The holder dies without a word; the other takes over and answers.
    let (mut dead, alive) = if holder.contains(&format!("-{}-", a.pid())) {
        (a, b)
    } else {
        assert!(holder.contains(&format!("-{}-", b.pid())), "{holder}");
        (b, a)
    };
    dead.0.kill().unwrap();
    let _ = dead.0.wait();
    telegram.send_text(111, "And now?");
    telegram
        .wait_for_text(Duration::from_secs(45), 111, "Second answer.")
        .await;
    let leases = store.leases(chrono::Utc::now()).await.unwrap();
    assert!(
        leases[0].holder.contains(&format!("-{}-", alive.pid())),
        "{leases:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&telegram.texts(111), "Second answer."), 1);
    assert_eq!(model.remaining(), 0);
    store.close().await;
}

/// A private message update as Telegram posts it to a webhook.
fn telegram_update(update_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id + 500,
            "date": 1_700_000_000,
            "chat": {"id": 111, "type": "private", "first_name": "Ann"},
            "from": {"id": 111, "is_bot": false, "first_name": "Ann"},
            "text": text,
        }
    })
}

async fn post_update(port: u16, update: &Value) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram"))
        .header("x-telegram-bot-api-secret-token", "hook-secret")
        .json(update)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn listening(port: u16, dir: &Path) {
    wait_for(
        Duration::from_secs(30),
        "the webhook to listen",
        dir,
        async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        },
    )
    .await;
}

/// A model whose one answer takes long enough for a duplicate to arrive
/// while the first delivery's turn runs.
async fn answering_slowly() -> ScriptedModel {
    let model = ScriptedModel::start().await;
    model.push(Step::Delay(
        Duration::from_millis(300),
        Box::new(Reply::text("Earnings are up.").into()),
    ));
    model
}

/// Writes `a.toml` and `b.toml`, each listening on its own free port;
/// returns the ports.
fn write_two_listening_configs(dir: &Path, config: impl Fn(u16) -> String) -> [u16; 2] {
    let ports = [free_port(), free_port()];
    for (file, port) in [("a.toml", ports[0]), ("b.toml", ports[1])] {
        std::fs::write(dir.join(file), config(port)).unwrap();
    }
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_update_sent_to_two_instances_and_again_after_a_restart_is_answered_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let telegram = FakeTelegram::start("42:instances").await;
    let model = answering_slowly().await;
    let dir = tempfile::tempdir().unwrap();
    let ports = write_two_listening_configs(dir.path(), |port| {
        format!(
            "{}[[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\nmode = \"webhook\"\n\
             webhook_url = \"https://bot.example.com/telegram\"\nwebhook_listen = \"127.0.0.1:{port}\"\n",
            base_config(&schema, &model, &schema.url),
            telegram.url()
        )
    });
    let mut a = Bot::start(dir.path(), "a.toml", "a.log");
    let _b = Bot::start(dir.path(), "b.toml", "b.log");
    listening(ports[0], dir.path()).await;
    listening(ports[1], dir.path()).await;

    // A load balancer that retried on the other instance.
    let update = telegram_update(9001, "How much did we earn?");
    let (first, second) = tokio::join!(
        post_update(ports[0], &update),
        post_update(ports[1], &update)
    );
    assert_eq!((first, second), (200, 200));
    telegram
        .wait_for_text(Duration::from_secs(30), 111, "Earnings are up.")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&telegram.texts(111), "Earnings are up."), 1);
    assert_eq!(model.requests().len(), 1);

    // Restarted, the instance that got it first gets Telegram's retry.
    a.0.kill().unwrap();
    let _ = a.0.wait();
    let _a2 = Bot::start(dir.path(), "a.toml", "a2.log");
    listening(ports[0], dir.path()).await;
    assert_eq!(post_update(ports[0], &update).await, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&telegram.texts(111), "Earnings are up."), 1);
    assert_eq!(model.requests().len(), 1, "not answered again");
    assert_eq!(team_usage(&schema).await.len(), 1, "one usage record");
}

/// Two instances serving one Slack app's Events API, each on its own port,
/// both listening; returns the ports and the processes.
async fn two_slack_instances(
    dir: &Path,
    schema: &PostgresSchema,
    model: &ScriptedModel,
    slack: &FakeSlack,
) -> ([u16; 2], Bot, Bot) {
    let ports = write_two_listening_configs(dir, |port| {
        format!(
            "{}slack = [\"UANN0001\"]\n[[channels.slack]]\nname = \"slack\"\nmode = \"events\"\n\
             api_url = \"{}\"\nevents_listen = \"127.0.0.1:{port}\"\n",
            base_config(schema, model, &schema.url),
            slack.api_url()
        )
    });
    let a = Bot::start(dir, "a.toml", "a.log");
    let b = Bot::start(dir, "b.toml", "b.log");
    listening(ports[0], dir).await;
    listening(ports[1], dir).await;
    (ports, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_event_sent_to_two_instances_and_retried_after_a_restart_is_answered_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let model = answering_slowly().await;
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut a, _b) = two_slack_instances(dir.path(), &schema, &model, &slack).await;
    let url = |port: u16| format!("http://127.0.0.1:{port}/slack/events");
    let now = || chrono::Utc::now().timestamp();
    let dm = "DUANN0001";
    let answers = |slack: &FakeSlack| count(&slack.texts(dm), "Earnings are up.");

    // The event, and Slack's retry of it landing on the other instance.
    let (_, callback) = slack.event_callback(slack.dm("UANN0001", "How much did we earn?"));
    let (url_a, url_b) = (url(ports[0]), url(ports[1]));
    let (first, second) = tokio::join!(
        post_signed(&url_a, SLACK_SECRET, now(), &callback, false, None),
        post_signed(&url_b, SLACK_SECRET, now(), &callback, false, Some(1))
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    wait_for(
        Duration::from_secs(30),
        "the answer",
        dir.path(),
        async || answers(&slack) > 0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(answers(&slack), 1);
    assert_eq!(model.requests().len(), 1);

    // Restarted, the first instance gets Slack's next retry.
    a.0.kill().unwrap();
    let _ = a.0.wait();
    let _a2 = Bot::start(dir.path(), "a.toml", "a2.log");
    listening(ports[0], dir.path()).await;
    let retry = post_signed(
        &url(ports[0]),
        SLACK_SECRET,
        now(),
        &callback,
        false,
        Some(2),
    )
    .await;
    assert_eq!(retry.0, 200, "{retry:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(answers(&slack), 1, "{}", logs(dir.path()));
    assert_eq!(model.requests().len(), 1, "not answered again");
    assert_eq!(team_usage(&schema).await.len(), 1, "one usage record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_messages_of_one_conversation_on_two_instances_are_answered_one_after_the_other() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let model = ScriptedModel::start().await;
    // Each answer names its question and how many answers came before it
    // in the history the model was sent.
    for _ in 0..2 {
        model.push(Step::Delay(
            Duration::from_millis(800),
            Box::new(Step::Dynamic(Box::new(|request: &Value| {
                let messages = request["messages"].as_array().cloned().unwrap_or_default();
                let question = messages
                    .iter()
                    .rev()
                    .find(|m| m["role"] == "user")
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let earlier = messages.iter().filter(|m| m["role"] == "assistant").count();
                Reply::text(&format!("Answer to {question} after {earlier} earlier"))
            }))),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let (ports, _a, _b) = two_slack_instances(dir.path(), &schema, &model, &slack).await;
    let now = || chrono::Utc::now().timestamp();
    let dm = "DUANN0001";

    // Two messages of one DM, sent together, each landing on another instance.
    let (_, earnings) = slack.event_callback(slack.dm("UANN0001", "earnings?"));
    let (_, fans) = slack.event_callback(slack.dm("UANN0001", "top fans?"));
    let (url_a, url_b) = (
        format!("http://127.0.0.1:{}/slack/events", ports[0]),
        format!("http://127.0.0.1:{}/slack/events", ports[1]),
    );
    let (first, second) = tokio::join!(
        post_signed(&url_a, SLACK_SECRET, now(), &earnings, false, None),
        post_signed(&url_b, SLACK_SECRET, now(), &fans, false, None)
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    let answers = |slack: &FakeSlack| {
        slack
            .texts(dm)
            .into_iter()
            .filter(|t| t.starts_with("Answer to"))
            .collect::<Vec<_>>()
    };
    wait_for(
        Duration::from_secs(30),
        "both answers",
        dir.path(),
        async || answers(&slack).len() >= 2,
    )
    .await;
    let mut answers = answers(&slack);
    answers.sort_by_key(|t| t.contains("after 1 earlier"));
    // The second turn started once the first had answered, and saw it.
    assert!(answers[0].ends_with("after 0 earlier"), "{answers:?}");
    assert!(answers[1].ends_with("after 1 earlier"), "{answers:?}");
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let later = requests[1]["messages"].to_string();
    let first_answer = &answers[0];
    assert!(later.contains(first_answer.as_str()), "{later}");
    let leases = store(&schema)
        .await
        .leases(chrono::Utc::now())
        .await
        .unwrap();
    assert!(
        leases.iter().all(|l| !l.name.starts_with("turn:")),
        "turns let go of their conversation: {leases:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_an_instance_killed_mid_run_are_taken_over_once_and_none_stay_running() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let telegram = FakeTelegram::start("42:instances").await;
    let model = ScriptedModel::start().await;
    // The first instance's two runs hang in the model until it is killed.
    for _ in 0..2 {
        model.push(Step::Delay(
            Duration::from_secs(60),
            Box::new(Reply::text("never delivered").into()),
        ));
    }
    for _ in 0..2 {
        model.push(Reply::text("Daily report: all good."));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "{}[scheduler]\ntick_secs = 1\ntakeover_secs = 3\n\
             [[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            base_config(&schema, &model, &schema.url),
            telegram.url()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_agencybot"))
            .current_dir(dir.path())
            .env_clear()
            .env("ONLYFANSAPI_API_KEY", "unused")
            .env("TELEGRAM_BOT_TOKEN", "42:instances")
            .args(args)
            .args(["--config", "a.toml"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    for name in ["morning", "evening"] {
        cli(&[
            "tasks",
            "add",
            name,
            "--prompt",
            "Report.",
            "--schedule",
            "daily 08:00",
            "--timezone",
            "UTC",
            "--destination",
            "111",
            "--channel",
            "tg",
        ]);
        cli(&["tasks", "run", name]);
    }
    let mut a = Bot::start(dir.path(), "a.toml", "a.log");
    let store = store(&schema).await;
    let running = async || {
        let mut running = 0;
        for task in store
            .tasks(store.team_by_name("Velvet").await.unwrap().unwrap().id)
            .await
            .unwrap()
        {
            running += store
                .task_runs(task.id)
                .await
                .unwrap()
                .iter()
                .filter(|r| r.status == agencybot_core::TaskRunStatus::Running)
                .count();
        }
        running
    };
    wait_for(
        Duration::from_secs(30),
        "two runs in flight",
        dir.path(),
        async || running().await == 2 && model.requests().len() == 2,
    )
    .await;
    a.0.kill().unwrap();
    let _ = a.0.wait();

    let _b = Bot::start(dir.path(), "a.toml", "b.log");
    wait_for(
        Duration::from_secs(45),
        "both reports",
        dir.path(),
        async || count(&telegram.texts(111), "Daily report: all good.") == 2,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(running().await, 0, "none left running");
    assert_eq!(count(&telegram.texts(111), "Daily report: all good."), 2);
    assert_eq!(count(&telegram.texts(111), "never delivered"), 0);
    let team = store.team_by_name("Velvet").await.unwrap().unwrap();
    for task in store.tasks(team.id).await.unwrap() {
        let runs = store.task_runs(task.id).await.unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0].status, agencybot_core::TaskRunStatus::Succeeded);
        assert_eq!(runs[0].attempt, 2);
        assert!(
            runs[1]
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("interrupted")),
            "{runs:?}"
        );
    }
    store.close().await;
}

/// A TCP proxy in front of PostgreSQL that the test can cut, so the store
/// becomes unreachable for the bot and nothing else.
struct Proxy {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            open: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            links: std::sync::Arc::default(),
        };
        let (open, links) = (proxy.open.clone(), proxy.links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        });
        proxy
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(answer) => (
            answer.status().as_u16(),
            answer.text().await.unwrap_or_default(),
        ),
        Err(error) => (0, error.to_string()),
    }
}

fn metric(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|line| line.starts_with(name) && labels.iter().all(|l| line.contains(l)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_store_and_metrics_count_a_turn_its_tokens_and_credits() {
    use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let (host_port, rest) = schema
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .expect("a postgres://user@host:port/db URL");
    let proxy = Proxy::start(host_port.to_owned()).await;
    let proxied = format!("postgres://postgres@127.0.0.1:{}/{rest}", proxy.port);
    let sandbox = Sandbox::start(SandboxConfig::new("sandbox-key"), 0)
        .await
        .unwrap();
    let telegram = FakeTelegram::start("42:instances").await;
    let model = ScriptedModel::start().await;
    let account = sandbox.inspect(|d| d.accounts[0].id.clone());
    model.push(
        Reply::tool(
            "call_api",
            json!({"endpoint": "statistics.get-earnings", "arguments": {
                "account": account, "start_date": "2026-11-13", "end_date": "2026-11-20"}}),
        )
        .usage(1000, 20),
    );
    model.push(Reply::text("You earned plenty.").usage(1100, 30));
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "{}[ofapi]\nbase_url = \"{}\"\n\
             [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            base_config(&schema, &model, &proxied),
            sandbox.url(),
            telegram.url()
        ),
    )
    .unwrap();
    let _bot = Bot(Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir.path())
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", "42:instances")
        .env("ONLYFANSAPI_API_KEY", "sandbox-key")
        .args(["run", "--config", "a.toml"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("a.log")).unwrap())
        .spawn()
        .unwrap());
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        {
            let mut answer = (0, String::new());
            for _ in 0..300 {
                answer = get(&format!("{base}/readyz")).await;
                if answer.0 == 200 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answer
        }
        .0,
        200,
        "{}",
        logs(dir.path())
    );
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);

    telegram.send_text(111, "How much did we earn this week?");
    telegram
        .wait_for_text(Duration::from_secs(30), 111, "You earned plenty.")
        .await;
    let records = team_usage(&schema).await;
    assert_eq!(records.len(), 1);
    assert!(records[0].credits > 0, "{:?}", records[0]);
    let (status, page) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let turns = metric(
        &page,
        "agencybot_turns_total",
        &[
            "platform=\"telegram\"",
            "kind=\"chat\"",
            "outcome=\"success\"",
        ],
    );
    assert_eq!(turns, 1.0, "{page}");
    assert_eq!(
        metric(&page, "agencybot_tokens_total", &["kind=\"prompt\""]),
        2100.0,
        "{page}"
    );
    assert_eq!(
        metric(&page, "agencybot_tokens_total", &["kind=\"completion\""]),
        50.0,
        "{page}"
    );
    assert_eq!(
        metric(&page, "agencybot_ofapi_credits_total", &[]),
        records[0].credits as f64,
        "{page}"
    );
    assert!(
        metric(&page, "agencybot_turn_seconds_count", &[]) >= 1.0,
        "{page}"
    );
    assert!(
        metric(&page, "agencybot_model_call_seconds_count", &[]) >= 2.0,
        "{page}"
    );
    assert_eq!(
        metric(&page, "agencybot_leases_held", &["telegram-polling:tg"]),
        1.0,
        "{page}"
    );

    // The database goes away: not ready, and it says why.
    proxy.cut();
    let mut answer = (0, String::new());
    for _ in 0..100 {
        answer = get(&format!("{base}/readyz")).await;
        if answer.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answer.0, 503, "{answer:?}");
    assert!(answer.1.contains("store"), "{answer:?}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200, "still live");
}
