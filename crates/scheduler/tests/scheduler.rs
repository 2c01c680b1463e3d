//! The runner against real stores, the sandbox and the scripted model:
//! exactly-once runs across instances, catch-up after downtime, unattended
//! writes, and a task made in a Telegram chat reporting back to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agencybot_agent::{Outbox, Responder};
use agencybot_core::{
    Clock, NewScheduledTask, OutboundMessage, Platform, RequestKind, Role, Secret, TaskRunStatus,
    Timestamp,
};
use agencybot_scheduler::{Runner, RunnerConfig};
use agencybot_store::{Store, StoreOptions, UsageFilter};
use agencybot_testkit::{
    FakeTelegram, PostgresSchema, Reply, Stack, Step, TestMember, last_tool_result,
};
use chrono::{TimeZone, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};

#[path = "scheduler/adversarial.rs"]
mod adversarial;

const CHANNEL: &str = "telegram";
const CHAT: &str = "111";
const WAIT: Duration = Duration::from_secs(20);

fn members() -> [TestMember<'static>; 1] {
    [TestMember {
        name: "Ann",
        role: Role::Owner,
        user_id: CHAT,
    }]
}

/// What reached each destination; trait-level, for runner tests that are
/// about claiming rather than a platform (the Telegram test below uses the
/// real adapter against a fake Bot API).
#[derive(Default, Clone)]
struct Delivered(Arc<Mutex<Vec<(String, String)>>>);

struct To(Delivered, String);

impl Responder for To {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        if let OutboundMessage::Text(text) = event {
            self.0.0.lock().unwrap().push((self.1.clone(), text));
        }
        Box::pin(async {})
    }
}

impl Outbox for Delivered {
    fn to(&self, destination: &str) -> Option<Arc<dyn Responder>> {
        Some(Arc::new(To(self.clone(), destination.to_owned())))
    }
}

impl Delivered {
    fn texts(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

fn runner(stack: &Stack, outbox: Arc<dyn Outbox>, instance: &str) -> Arc<Runner> {
    Arc::new(Runner::new(
        stack.store.clone(),
        stack.engine.clone(),
        HashMap::from([(CHANNEL.to_owned(), outbox)]),
        stack.clock.clone(),
        RunnerConfig {
            instance: instance.into(),
            retry_after: Duration::from_millis(10),
            ..RunnerConfig::default()
        },
        None,
    ))
}

fn task(team_id: i64, name: &str, schedule: &str, next: Timestamp) -> NewScheduledTask {
    NewScheduledTask {
        team_id,
        name: name.into(),
        creator: CHAT.into(),
        channel: CHANNEL.into(),
        destination: CHAT.into(),
        model: None,
        prompt: format!("Report for {name}"),
        skill: None,
        schedule: schedule.into(),
        timezone: "Europe/Berlin".into(),
        allowed_writes: Vec::new(),
        next_run_at: Some(next),
    }
}

async fn tick_all(runners: &[Arc<Runner>]) {
    let started = futures::future::join_all(runners.iter().map(|r| r.tick())).await;
    for handle in started.into_iter().flatten() {
        handle.await.expect("a run does not panic");
    }
}

fn at(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_postgres_run_each_due_task_exactly_once() {
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let mut stacks = Vec::new();
    for _ in 0..3 {
        let mut options = StoreOptions::new(schema.url.clone());
        options.schema = Some(schema.name.clone());
        options.max_connections = 8;
        let store = Store::connect(&options).await.expect("open postgres");
        store.migrate().await.expect("migrate");
        let stack = Stack::start_on(
            store,
            CHANNEL,
            Platform::Telegram,
            &members(),
            false,
            |_| {},
        )
        .await;
        stack.clock.set(at("2026-11-20T07:00:20Z"));
        for _ in 0..200 {
            stack.model.push(Reply::text("All good today."));
        }
        stacks.push(stack);
    }
    // 200 tasks due at 08:00 Berlin (07:00 UTC).
    let fire = at("2026-11-20T07:00:00Z");
    for i in 0..200 {
        stacks[0]
            .store
            .create_task(
                &task(
                    stacks[0].team.id,
                    &format!("digest {i}"),
                    "daily 08:00",
                    fire,
                ),
                fire,
            )
            .await
            .expect("task");
    }
    let delivered = Delivered::default();
    let runners: Vec<Arc<Runner>> = stacks
        .iter()
        .enumerate()
        .map(|(i, stack)| runner(stack, Arc::new(delivered.clone()), &format!("instance-{i}")))
        .collect();
    // Every instance looks at the same moment, twice.
    tick_all(&runners).await;
    tick_all(&runners).await;

    let store = &stacks[0].store;
    let tasks = store.tasks(stacks[0].team.id).await.unwrap();
    assert_eq!(tasks.len(), 200);
    for task in &tasks {
        let runs = store.task_runs(task.id).await.unwrap();
        assert_eq!(runs.len(), 1, "{} ran {} times", task.name, runs.len());
        assert_eq!(runs[0].scheduled_for, fire);
        assert_eq!(runs[0].status, TaskRunStatus::Succeeded);
        assert_eq!(task.next_run_at, Some(at("2026-11-21T07:00:00Z")));
    }
    assert_eq!(delivered.texts().len(), 200, "one delivery per task");
    let usage = store
        .usage_records(&UsageFilter {
            kind: Some(RequestKind::ScheduledTask),
            ..UsageFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(usage.len(), 200);
    for stack in stacks {
        stack.store.close().await;
    }
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_a_missed_run_catches_up_once_inside_the_window_only() {
    let stack = Stack::start(CHANNEL, Platform::Telegram, &members(), false).await;
    let team = stack.team.id;
    // Both were due at 07:00 UTC; "every 15 minutes" also missed later fires.
    let due = at("2026-11-20T07:00:00Z");
    let daily = stack
        .store
        .create_task(&task(team, "daily", "daily 08:00", due), due)
        .await
        .unwrap();
    let quarterly = stack
        .store
        .create_task(&task(team, "quarter-hourly", "every 15 minutes", due), due)
        .await
        .unwrap();
    stack.model.push(Reply::text("Daily report."));
    stack.model.push(Reply::text("Quarter-hourly report."));

    // Back up 40 minutes late: inside the 60-minute window.
    stack.clock.set(at("2026-11-20T07:40:00Z"));
    let delivered = Delivered::default();
    let first = runner(&stack, Arc::new(delivered.clone()), "after-restart");
    tick_all(std::slice::from_ref(&first)).await;
    tick_all(std::slice::from_ref(&first)).await;
    let daily_runs = stack.store.task_runs(daily.id).await.unwrap();
    assert_eq!(daily_runs.len(), 1);
    assert_eq!(daily_runs[0].scheduled_for, due);
    let quarter_runs = stack.store.task_runs(quarterly.id).await.unwrap();
    assert_eq!(quarter_runs.len(), 1, "missed fires are made up once");
    assert_eq!(quarter_runs[0].scheduled_for, at("2026-11-20T07:30:00Z"));
    assert_eq!(
        stack.store.task(quarterly.id).await.unwrap().next_run_at,
        Some(at("2026-11-20T07:45:00Z"))
    );
    assert_eq!(delivered.texts().len(), 2);

    // Down again until two hours after the next daily fire: outside the window.
    stack.store.delete_task(quarterly.id).await.unwrap();
    stack.clock.set(at("2026-11-21T09:00:00Z"));
    let second = runner(&stack, Arc::new(delivered.clone()), "after-long-outage");
    tick_all(std::slice::from_ref(&second)).await;
    assert_eq!(
        stack.store.task_runs(daily.id).await.unwrap().len(),
        1,
        "too old: skipped"
    );
    assert_eq!(
        stack.store.task(daily.id).await.unwrap().next_run_at,
        Some(at("2026-11-22T07:00:00Z")),
        "the schedule moved on"
    );
    assert_eq!(delivered.texts().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unapproved_write_in_a_run_is_skipped_and_the_report_says_so() {
    let stack = Stack::start(CHANNEL, Platform::Telegram, &members(), false).await;
    let (account, list) = stack.sandbox.inspect(|d| {
        (
            d.accounts[0].id.clone(),
            d.accounts[0].user_lists[2].id.clone(),
        )
    });
    let due = stack.clock.now();
    stack
        .store
        .create_task(&task(stack.team.id, "whale nudge", "daily 13:00", due), due)
        .await
        .unwrap();
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "Miss you", "userLists": [list]}}),
    ));
    stack.model.push(Reply::text("I messaged your whales."));
    let before = stack.mass_messages();
    let delivered = Delivered::default();
    tick_all(&[runner(&stack, Arc::new(delivered.clone()), "one")]).await;

    assert_eq!(stack.mass_messages(), before, "nothing was sent");
    let texts = delivered.texts();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].0, CHAT);
    assert!(
        texts[0].1.contains("Not done:")
            && texts[0].1.contains("(not approved for this task)")
            && texts[0].1.contains("Send Mass Message"),
        "{}",
        texts[0].1
    );
    assert_eq!(stack.model.remaining(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_runs_are_retried_reported_and_pause_the_task() {
    let stack = Stack::start(CHANNEL, Platform::Telegram, &members(), false).await;
    let due = stack.clock.now();
    let created = stack
        .store
        .create_task(&task(stack.team.id, "broken", "every 1 hours", due), due)
        .await
        .unwrap();
    // The model is unreachable for every try: nothing scripted.
    let delivered = Delivered::default();
    let runner = Arc::new(Runner::new(
        stack.store.clone(),
        stack.engine.clone(),
        HashMap::from([(
            CHANNEL.to_owned(),
            Arc::new(delivered.clone()) as Arc<dyn Outbox>,
        )]),
        stack.clock.clone(),
        RunnerConfig {
            instance: "one".into(),
            retry_after: Duration::from_millis(5),
            attempts: 2,
            pause_after: 2,
            ..RunnerConfig::default()
        },
        None,
    ));
    for hour in 0..2 {
        stack.clock.set(due + chrono::Duration::hours(hour));
        tick_all(std::slice::from_ref(&runner)).await;
    }
    let runs = stack.store.task_runs(created.id).await.unwrap();
    assert_eq!(runs.len(), 4, "two fires, two tries each");
    assert!(runs.iter().all(|r| r.status == TaskRunStatus::Failed));
    let texts = delivered.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].1.contains("failed"), "{}", texts[0].1);
    assert!(texts[1].1.contains("paused"), "{}", texts[1].1);
    let task = stack.store.task(created.id).await.unwrap();
    assert_eq!(task.status, agencybot_core::TaskStatus::Paused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_made_in_a_telegram_chat_runs_and_reports_back_there() {
    const TOKEN: &str = "123:test-token";
    let workflows = Arc::new(Vec::new());
    let stack = Stack::start_with(CHANNEL, Platform::Telegram, &members(), false, |engine| {
        agencybot_scheduler::register(engine, workflows);
    })
    .await;
    let telegram = FakeTelegram::start(TOKEN).await;
    let options = agencybot_telegram::TelegramOptions {
        token: Secret::new(TOKEN),
        api_url: telegram.url(),
        mode: agencybot_telegram::Mode::Polling,
        grace: Duration::from_secs(5),
    };
    let outbox = agencybot_telegram::outbox(&options, stack.hub.clone()).expect("outbox");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(agencybot_telegram::serve(
        options,
        stack.hub.clone(),
        stopped,
    ));
    let said = |needle: &'static str| {
        move |fake: &FakeTelegram| {
            ["sendmessage", "editmessagetext"]
                .iter()
                .flat_map(|m| fake.calls(m))
                .any(|c| {
                    c["chat_id"] == 111 && c["text"].as_str().is_some_and(|t| t.contains(needle))
                })
        }
    };

    // Ann asks for a daily report; the bot asks first, then creates it.
    stack.model.push(Reply::tool(
        "schedule_task",
        json!({"name": "Morning earnings", "prompt": "Net earnings of every account over the last 7 days", "schedule": "daily 08:00", "timezone": "Europe/Berlin"}),
    ));
    telegram.send_text(111, "Every morning at 8 send me our earnings");
    telegram.wait_until(WAIT, said("Should I go ahead?")).await;
    assert!(
        stack.store.tasks(stack.team.id).await.unwrap().is_empty(),
        "nothing before yes"
    );
    stack
        .model
        .push(Reply::text("Done: it runs every day at 08:00."));
    telegram.send_text(111, "yes");
    telegram.wait_until(WAIT, said("every day at 08:00")).await;
    let created = stack.store.tasks(stack.team.id).await.unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].destination, "111");
    // 2026-11-20 12:00 UTC now; next 08:00 Berlin is 07:00 UTC tomorrow.
    let next = Utc.with_ymd_and_hms(2026, 11, 21, 7, 0, 0).unwrap();
    assert_eq!(created[0].next_run_at, Some(next));

    // At 08:00 Berlin the run reads the sandbox and reports to the chat.
    let account = stack.account(0);
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "statistics.get-earnings", "arguments": {"account": account, "start_date": "2026-11-14 07:00:00", "end_date": "2026-11-21 07:00:00"}}),
    ));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        Reply::text(&format!(
            "Scheduled digest: ${} net.",
            last_tool_result(request)["total"]["total"]
        ))
    })));
    stack.clock.set(next + chrono::Duration::seconds(5));
    let runner = runner(&stack, outbox, "one");
    tick_all(std::slice::from_ref(&runner)).await;
    telegram.wait_until(WAIT, said("Scheduled digest")).await;

    let usage = stack
        .store
        .usage_records(&UsageFilter {
            kind: Some(RequestKind::ScheduledTask),
            ..UsageFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert!(usage[0].credits > 0, "sandbox credits were recorded");
    assert_eq!(usage[0].user_id, "111");
    let _ = stop.send(true);
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn every_tool_and_every_shipped_skill_still_fit_the_prompt_budget() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let skills = agencybot_skills::Skills::load(vec![root.join("skills")]);
    let workflows =
        agencybot_scheduler::workflows::load(&root.join("config/workflows.toml")).unwrap();
    assert!(workflows.len() >= 6);
    let registered = skills.clone();
    let stack = Stack::start_with(CHANNEL, Platform::Telegram, &members(), false, |engine| {
        agencybot_skills::register(engine, registered);
        agencybot_scheduler::register(engine, Arc::new(workflows));
    })
    .await;
    let library = skills.library();
    for skill in library.skills() {
        agencybot_skills::install(
            &stack.store,
            &library,
            stack.team.id,
            &agencybot_skills::Target::Skill(skill.name.clone()),
            CHAT,
            stack.clock.now(),
        )
        .await
        .unwrap();
    }
    stack.model.push(Reply::text("Hi!"));
    assert_eq!(chat_turn(&stack, "hi").await, "Hi!");
    let request = &stack.model.requests()[0];
    let system = request["messages"][0]["content"].as_str().unwrap();
    let tools = request["tools"].to_string();
    for tool in [
        "schedule_task",
        "change_task",
        "run_task_now",
        "use_workflow",
        "usage_chart",
        "use_skill",
    ] {
        assert!(tools.contains(tool), "{tool} is offered");
    }
    let budget = agencybot_agent::tokens::count(system) + agencybot_agent::tokens::count(&tools);
    eprintln!("everything registered, all skills installed: {budget} tokens");
    assert!(budget <= 3000, "{budget} tokens");
}

/// One chat turn straight through the engine; its final answer. (A
/// scripted step that panics fails the model call, so the answer shows it.)
async fn chat_turn(stack: &Stack, text: &str) -> String {
    let request = agencybot_agent::TurnRequest {
        team: stack.team.clone(),
        conversation: agencybot_core::ConversationKey {
            channel: CHANNEL.into(),
            platform: Platform::Telegram,
            chat: CHAT.into(),
            thread: None,
            user: None,
        },
        user_id: CHAT.into(),
        role: Role::Owner,
        content: agencybot_core::InboundContent::Text(text.into()),
        kind: RequestKind::Chat,
        model: None,
        mode: agencybot_agent::Mode::Interactive,
        instructions: None,
    };
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    stack
        .engine
        .handle(request, &sink)
        .await
        .answer
        .unwrap_or_default()
}

#[tokio::test]
async fn by_chat_a_paused_task_is_not_run_and_usage_is_grouped_as_asked() {
    let stack = Stack::start_with(CHANNEL, Platform::Telegram, &members(), false, |engine| {
        agencybot_scheduler::register(engine, Arc::new(Vec::new()));
    })
    .await;
    let due = stack.clock.now() + chrono::Duration::hours(2);
    let created = stack
        .store
        .create_task(&task(stack.team.id, "digest", "daily 15:00", due), due)
        .await
        .unwrap();
    agencybot_scheduler::tasks::pause(&stack.store, &created)
        .await
        .unwrap();
    // Starting a run is a write: asked first, and refused once confirmed.
    stack
        .model
        .push(Reply::tool("run_task_now", json!({"name": "digest"})));
    assert!(
        chat_turn(&stack, "run the digest now")
            .await
            .contains("Run the scheduled task “digest” once now")
    );
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let note = agencybot_testkit::last_system_note(request);
        assert!(note.contains("paused; resume it first"), "{note}");
        Reply::text("It is paused.")
    })));
    assert_eq!(chat_turn(&stack, "yes").await, "It is paused.");
    let after = stack.store.task(created.id).await.unwrap();
    assert_eq!(after.next_run_at, None, "a paused task stays unscheduled");

    // Those turns left chat usage records; ask for usage by model.
    stack.model.push(Reply::tool(
        "get_usage",
        json!({"period": "today", "by": "model"}),
    ));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let totals = &last_tool_result(request)["totals"];
        let rows = totals.as_array().expect("rows");
        assert_eq!(rows.last().unwrap()["model"], "total");
        assert_eq!(rows.last().unwrap()["requests"], 2, "{totals}");
        Reply::text("Two requests today.")
    })));
    assert_eq!(
        chat_turn(&stack, "usage by model today?").await,
        "Two requests today."
    );
    assert_eq!(stack.model.remaining(), 0);
}

#[tokio::test]
async fn a_task_made_in_a_chat_takes_the_chats_model_and_runs_on_it() {
    let stack = Stack::start_with(CHANNEL, Platform::Telegram, &members(), false, |engine| {
        agencybot_scheduler::register(engine, Arc::new(Vec::new()));
    })
    .await;
    let chat = agencybot_core::ConversationKey {
        channel: CHANNEL.into(),
        platform: Platform::Telegram,
        chat: CHAT.into(),
        thread: None,
        user: None,
    };
    stack
        .store
        .set_conversation_model(
            stack.team.id,
            &chat,
            Some("claude-sonnet-4.5"),
            stack.clock.now(),
        )
        .await
        .unwrap();
    let arguments = json!({"name": "Digest", "prompt": "Net earnings yesterday", "schedule": "daily 08:00", "timezone": "Europe/Berlin"});
    stack
        .model
        .push(Reply::tool("schedule_task", arguments.clone()));
    assert!(
        chat_turn(&stack, "every morning send our earnings")
            .await
            .contains("answered by this chat's model")
    );
    stack.model.push(Reply::text("Created."));
    chat_turn(&stack, "yes").await;
    let tasks = stack.store.tasks(stack.team.id).await.unwrap();
    assert_eq!(tasks[0].model.as_deref(), Some("claude-sonnet-4.5"));

    // Naming a model nobody configured is refused before anything is proposed.
    let mut named = arguments;
    named["name"] = json!("Other");
    named["model"] = json!("gpt-9-ultra");
    stack.model.push(Reply::tool("schedule_task", named));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let result = last_tool_result(request);
        assert!(
            result["error"]
                .as_str()
                .unwrap()
                .contains("no model `gpt-9-ultra`"),
            "{result}"
        );
        Reply::text("That model is not configured.")
    })));
    assert_eq!(
        chat_turn(&stack, "another on gpt 9").await,
        "That model is not configured."
    );
    assert_eq!(stack.store.tasks(stack.team.id).await.unwrap().len(), 1);

    // The run goes to the task's model.
    stack
        .clock
        .set(tasks[0].next_run_at.unwrap() + chrono::Duration::seconds(5));
    stack.model.push(Reply::text("Yesterday: $512 net."));
    let delivered = Delivered::default();
    let runner = runner(&stack, Arc::new(delivered.clone()), "one");
    tick_all(std::slice::from_ref(&runner)).await;
    let run = stack.model.requests().pop().unwrap();
    assert_eq!(run["model"], "claude-sonnet-4.5");
    assert!(
        delivered
            .texts()
            .iter()
            .any(|(_, text)| text.contains("$512"))
    );
    let usage = stack
        .store
        .usage_records(&UsageFilter {
            kind: Some(RequestKind::ScheduledTask),
            ..UsageFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(usage[0].model, "claude-sonnet-4.5");
}
