//! The Telegram adapter end to end: teloxide against a fake Bot API on
//! 127.0.0.1, with the scripted model and the sandbox behind the engine.

use std::sync::Arc;
use std::time::Duration;

use agencybot_core::{Platform, Role, Secret};
use agencybot_telegram::{Mode, TelegramOptions, serve};
use agencybot_testkit::{
    FakeTelegram, LargeFileTool, Reply, Stack, Step, TestMember, last_tool_result,
};
use serde_json::{Value, json};
use tokio::sync::watch;

const TOKEN: &str = "123:test-token";
const ANN: i64 = 111;
const BOB: i64 = 222;
const WAIT: Duration = Duration::from_secs(15);

struct Running {
    stack: Stack,
    telegram: FakeTelegram,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), agencybot_telegram::TelegramError>>,
}

async fn running_with(setup: impl FnOnce(&mut agencybot_agent::Engine)) -> Running {
    let members = [
        TestMember {
            name: "Ann",
            role: Role::Owner,
            user_id: "111",
        },
        TestMember {
            name: "Bob",
            role: Role::Member,
            user_id: "222",
        },
    ];
    let stack = Stack::start_with("telegram", Platform::Telegram, &members, false, setup).await;
    let telegram = FakeTelegram::start(TOKEN).await;
    let (stop, stopped) = watch::channel(false);
    let options = TelegramOptions {
        token: Secret::new(TOKEN),
        api_url: telegram.url(),
        mode: Mode::Polling,
        grace: Duration::from_secs(5),
    };
    let task = tokio::spawn(serve(options, stack.hub.clone(), stopped));
    Running {
        stack,
        telegram,
        stop,
        task,
    }
}

async fn running() -> Running {
    running_with(|_| {}).await
}

impl Running {
    /// Texts sent or edited into chat `chat`, in order.
    fn texts(&self, chat: i64) -> Vec<String> {
        let mut texts = Vec::new();
        for method in ["sendmessage", "editmessagetext"] {
            for call in self.telegram.calls(method) {
                if call["chat_id"] == chat {
                    texts.push(call["text"].as_str().unwrap_or("").to_owned());
                }
            }
        }
        texts
    }

    async fn wait_for_text(&self, chat: i64, needle: &str) {
        let needle = needle.to_owned();
        self.telegram
            .wait_until(WAIT, |fake| {
                ["sendmessage", "editmessagetext"]
                    .iter()
                    .flat_map(|m| fake.calls(m))
                    .any(|c| {
                        c["chat_id"] == chat
                            && c["text"].as_str().is_some_and(|t| t.contains(&needle))
                    })
            })
            .await;
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let result = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the channel stops");
        result.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permitted_user_gets_a_sandbox_backed_answer() {
    let run = running().await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "statistics.get-earnings", "arguments": {"account": account, "start_date": "2026-11-13 12:00:00", "end_date": "2026-11-20 12:00:00"}}),
    ));
    run.stack
        .model
        .push(Step::Dynamic(Box::new(|request: &Value| {
            let data = last_tool_result(request);
            Reply::text(&format!(
                "**Mia** earned ${} net this week.",
                data["total"]["total"]
            ))
        })));
    let expected = run.stack.sandbox.inspect(|data| {
        let start = agencybot_testkit::sandbox_now() - chrono::Duration::days(7);
        let net: f64 = data.accounts[0]
            .transactions
            .iter()
            .filter(|t| t.created_at >= start)
            .map(|t| t.net)
            .sum();
        (net * 100.0).round() / 100.0
    });
    run.telegram
        .send_text(ANN, "How much did Mia earn this week?");
    run.wait_for_text(ANN, "net this week").await;

    let texts = run.texts(ANN);
    assert_eq!(
        texts[0], "On it…",
        "a progress message for a multi-step turn"
    );
    let answer = run
        .telegram
        .calls("editmessagetext")
        .pop()
        .expect("the progress message became the answer");
    assert_eq!(
        answer["text"],
        format!("<b>Mia</b> earned ${expected} net this week.")
    );
    assert_eq!(answer["parse_mode"], "HTML");
    assert!(
        !run.telegram.calls("sendchataction").is_empty(),
        "typing was shown"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_is_told_their_id_and_nothing_else_happens() {
    let run = running().await;
    run.telegram.send_text(999, "hi, how much did we earn?");
    run.wait_for_text(999, "not allowed").await;
    assert_eq!(
        run.texts(999),
        [
            "You're not allowed to use this bot yet. Your Telegram user ID is 999 — ask an admin to add it."
        ]
    );
    assert!(
        run.stack.model.requests().is_empty(),
        "no model call for a stranger"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_runs_once_after_the_requesters_button_press() {
    let run = running().await;
    let before = run.stack.mass_messages();
    let (account, list) = run.stack.sandbox.inspect(|d| {
        (
            d.accounts[0].id.clone(),
            d.accounts[0].user_lists[2].id.clone(),
        )
    });
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "New set tonight", "userLists": [list]}}),
    ));
    run.telegram
        .send_text(ANN, "Message my whales about tonight");
    run.wait_for_text(ANN, "Should I go ahead?").await;
    let question = run
        .telegram
        .calls("editmessagetext")
        .into_iter()
        .chain(run.telegram.calls("sendmessage"))
        .find(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .unwrap();
    let buttons = &question["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["text"], "✅ Yes");
    let yes = buttons[0]["callback_data"].as_str().unwrap().to_owned();
    // The "On it…" message became the question, buttons and all.
    let message_id = question["message_id"].as_i64().expect("an edited message");

    // Bob presses Ann's button: answered, nothing runs.
    run.telegram.press(BOB, ANN, message_id, &yes);
    run.telegram
        .wait_until(WAIT, |f| !f.calls("answercallbackquery").is_empty())
        .await;
    run.wait_for_text(ANN, "another conversation").await;
    assert_eq!(run.stack.mass_messages(), before);

    // Ann presses: it runs once, and the buttons go.
    run.stack.model.push(Reply::text("Sent to your whales."));
    run.telegram.press(ANN, ANN, message_id, &yes);
    run.wait_for_text(ANN, "Sent to your whales.").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.telegram
        .wait_until(WAIT, |f| !f.calls("editmessagereplymarkup").is_empty())
        .await;
    assert_eq!(
        run.telegram.calls("editmessagereplymarkup")[0]["message_id"],
        message_id
    );
    assert_eq!(run.telegram.calls("answercallbackquery").len(), 2);

    // A replayed press does nothing more.
    run.telegram.press(ANN, ANN, message_id, &yes);
    run.wait_for_text(ANN, "already done").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_answer_arrives_in_several_messages_with_nothing_lost() {
    let run = running().await;
    let paragraphs: Vec<String> = (0..60)
        .map(|i| format!("Paragraph {i}: {}", "fan spend detail ".repeat(12)))
        .collect();
    let answer = paragraphs.join("\n\n");
    assert!(answer.len() > 10_000);
    run.stack.model.push(Reply::text(&answer));
    run.telegram.send_text(ANN, "Tell me everything");
    run.wait_for_text(ANN, "Paragraph 59").await;
    let texts = run.texts(ANN);
    assert!(texts.len() >= 3, "{} messages", texts.len());
    assert!(texts.iter().all(|t| t.chars().count() <= 4096));
    let words: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    assert_eq!(words, answer.split_whitespace().collect::<Vec<_>>());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_csv_reaches_the_chat_and_one_over_the_limit_is_explained() {
    let run =
        running_with(|engine| engine.register_tool(Arc::new(LargeFileTool { megabytes: 51 })))
            .await;
    let account = run.stack.account(0);
    let fans = run.stack.sandbox.inspect(|d| d.accounts[0].fans.len());
    run.stack.model.push(Reply::tool(
        "export_csv",
        json!({"endpoint": "fans.list-all-fans", "arguments": {"account": account, "limit": 20}, "file_name": "fans.csv"}),
    ));
    run.stack.model.push(Reply::text("Here are all your fans."));
    run.telegram.send_text(ANN, "Export my fans");
    run.telegram
        .wait_until(WAIT, |f| !f.calls("senddocument").is_empty())
        .await;
    let document = &run.telegram.calls("senddocument")[0]["document"];
    assert_eq!(document["file_name"], "fans.csv");
    assert_eq!(
        document["content"].as_str().unwrap().lines().count(),
        fans + 1
    );
    run.wait_for_text(ANN, "Here are all your fans.").await;

    run.stack.model.push(Reply::tool("large_export", json!({})));
    run.stack.model.push(Reply::text("Done."));
    run.telegram.send_text(ANN, "Export everything");
    run.wait_for_text(ANN, "over Telegram's 50 MB limit").await;
    assert_eq!(
        run.telegram.calls("senddocument").len(),
        1,
        "the big file was not uploaded"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn start_resets_the_conversation() {
    let run = running().await;
    run.stack.model.push(Reply::text("Got it: PINEAPPLE."));
    run.telegram.send_text(ANN, "The code word is PINEAPPLE");
    run.wait_for_text(ANN, "Got it").await;
    run.telegram.send_text(ANN, "/start");
    run.wait_for_text(ANN, "Fresh start").await;
    run.stack.model.push(Reply::text("I don't know."));
    run.telegram.send_text(ANN, "What's the code word?");
    run.wait_for_text(ANN, "I don't know.").await;
    let last = run.stack.model.requests().pop().unwrap();
    assert!(!last.to_string().contains("PINEAPPLE"));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejected_markup_falls_back_to_plain_text() {
    let run = running().await;
    run.stack.model.push(Reply::text("**Top fan:** Alex <3"));
    run.telegram.reject_next_markup();
    run.telegram.send_text(ANN, "Who is my top fan?");
    run.wait_for_text(ANN, "**Top fan:** Alex <3").await;
    let sent = run.telegram.calls("sendmessage");
    let plain = sent.last().unwrap();
    assert!(plain.get("parse_mode").is_none());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_of_one_chat_are_answered_in_order() {
    let run = running().await;
    for i in 0..3 {
        run.stack.model.push(Reply::text(&format!("Answer {i}")));
    }
    for i in 0..3 {
        run.telegram.send_text(ANN, &format!("Question {i}"));
    }
    run.wait_for_text(ANN, "Answer 2").await;
    let answers: Vec<String> = run
        .texts(ANN)
        .into_iter()
        .filter(|t| t.starts_with("Answer"))
        .collect();
    assert_eq!(answers, ["Answer 0", "Answer 1", "Answer 2"]);
    let questions: Vec<String> = run
        .stack
        .model
        .requests()
        .iter()
        .map(|r| {
            r["messages"].as_array().unwrap().last().unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(questions, ["Question 0", "Question 1", "Question 2"]);
    run.stop().await;
}
