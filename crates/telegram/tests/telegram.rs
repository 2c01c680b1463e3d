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
    running_in(Mode::Polling, setup).await
}

async fn running_in(mode: Mode, setup: impl FnOnce(&mut agencybot_agent::Engine)) -> Running {
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
        mode,
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
        self.telegram.texts(chat)
    }

    async fn wait_for_text(&self, chat: i64, needle: &str) {
        self.telegram.wait_for_text(WAIT, chat, needle).await;
    }

    /// Waits until confirmation message `message_id` is edited to text
    /// containing `outcome`, and checks the edit left no buttons.
    async fn outcome_shown(&self, message_id: i64, outcome: &str) {
        let outcome = outcome.to_owned();
        let edited = move |fake: &FakeTelegram| {
            fake.calls("editmessagetext").into_iter().find(|c| {
                c["message_id"] == message_id
                    && c["text"].as_str().is_some_and(|t| t.contains(&outcome))
            })
        };
        let check = edited.clone();
        self.telegram
            .wait_until(WAIT, move |fake| check(fake).is_some())
            .await;
        let edit = edited(&self.telegram).unwrap();
        assert!(edit.get("reply_markup").is_none(), "{edit}");
        assert!(
            !edit["text"]
                .as_str()
                .unwrap()
                .contains("Should I go ahead?"),
            "{edit}"
        );
    }

    /// Asks for a tracking link and returns the confirmation message's id.
    async fn propose_link(&self, name: &str) -> i64 {
        let account = self.stack.account(0);
        self.stack.model.push(Reply::tool(
            "call_api",
            json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": name}}),
        ));
        self.telegram
            .send_text(ANN, &format!("Make a link called {name}"));
        let needle = format!("name “{name}”");
        self.wait_for_text(ANN, &needle).await;
        self.telegram
            .calls("editmessagetext")
            .into_iter()
            .chain(self.telegram.calls("sendmessage"))
            .find(|c| {
                c["text"].as_str().is_some_and(|t| t.contains(&needle))
                    && c.get("reply_markup").is_some()
            })
            .and_then(|c| c["message_id"].as_i64())
            .expect("the question is an edited progress message")
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

    // Ann presses: it runs once, and the question shows its outcome, buttons gone.
    run.stack.model.push(Reply::text("Sent to your whales."));
    run.telegram.press(ANN, ANN, message_id, &yes);
    run.wait_for_text(ANN, "Sent to your whales.").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.outcome_shown(message_id, "✅ Done — approved by Ann")
        .await;
    assert_eq!(run.telegram.calls("answercallbackquery").len(), 2);

    // A repeated press pops up the outcome on the button: no new message,
    // nothing runs again.
    let messages = run.telegram.calls("sendmessage").len();
    let model_calls = run.stack.model.requests().len();
    run.telegram.press(ANN, ANN, message_id, &yes);
    run.telegram
        .wait_until(WAIT, |f| f.calls("answercallbackquery").len() == 3)
        .await;
    let popup = run.telegram.calls("answercallbackquery").pop().unwrap();
    assert!(
        popup["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("✅ Done — approved by Ann")),
        "{popup}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(run.telegram.calls("sendmessage").len(), messages);
    assert_eq!(run.stack.mass_messages(), before + 1);
    assert_eq!(
        run.stack.model.requests().len(),
        model_calls,
        "no model call for it"
    );
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
    run.wait_for_text(ANN, "Top fan: Alex <3").await;
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
            agencybot_testkit::conversation(r).last().unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(questions, ["Question 0", "Question 1", "Question 2"]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emoji_answer_is_split_by_utf16_units_with_nothing_lost() {
    let run = running().await;
    // Each 💸 is two UTF-16 units, which is how Telegram counts its 4,096.
    let answer = "💸".repeat(3_000);
    run.stack.model.push(Reply::text(&answer));
    run.telegram.send_text(ANN, "Show me the money");
    run.telegram
        .wait_until(WAIT, |_| run.texts(ANN).concat().chars().count() >= 3_000)
        .await;
    let texts = run.texts(ANN);
    assert!(texts.len() >= 2, "{} messages", texts.len());
    for text in &texts {
        let units = text.encode_utf16().count();
        assert!(units <= 4096, "a message of {units} UTF-16 units");
    }
    assert_eq!(texts.concat(), answer);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_formatted_answer_fills_each_message_to_what_telegram_counts() {
    let run = running().await;
    // Bold and escapes make the HTML far longer than the text shown;
    // Telegram's 4,096 counts only what is shown.
    let paragraphs: Vec<String> = (0..80)
        .map(|i| {
            format!(
                "**Fan {i}** spent <$5> & tipped: {}",
                "`tip` ".repeat(8).trim_end()
            )
        })
        .collect();
    let answer = paragraphs.join("\n\n");
    run.stack.model.push(Reply::text(&answer));
    run.telegram.send_text(ANN, "All fans please");
    run.wait_for_text(ANN, "Fan 79").await;
    let prompt = agencybot_testkit::system_prompt(&run.stack.model.requests()[0]);
    assert!(prompt.contains("Formatting (Telegram)"), "{prompt}");
    let sent = run.telegram.calls("sendmessage");
    assert!(
        sent.iter().all(|call| call["parse_mode"] == "HTML"),
        "every piece was taken as HTML"
    );
    let shown = run.telegram.shown_texts(ANN);
    // The first message replaces "On it…", by an edit.
    let answer_pieces: Vec<&String> = shown.iter().filter(|t| t.contains("Fan ")).collect();
    let longest = paragraphs.iter().map(|p| p.len()).max().unwrap();
    assert!(answer_pieces.len() >= 2);
    let units: Vec<usize> = answer_pieces
        .iter()
        .map(|t| t.encode_utf16().count())
        .collect();
    assert!(units.iter().all(|&u| u <= 4096), "{units:?}");
    // Full but for the last: one more paragraph would not have fitted.
    let short = units.iter().filter(|&&u| u + longest + 2 <= 4096).count();
    assert!(short <= 1, "messages not filled: {units:?}");
    let raw: Vec<String> = run.texts(ANN);
    assert!(
        raw.iter().any(|t| t.encode_utf16().count() > 4096),
        "the HTML of a full message is longer than what it shows"
    );
    let words: Vec<&str> = answer_pieces
        .iter()
        .flat_map(|t| t.split_whitespace())
        .collect();
    let expected = agencybot_agent::markup::render(
        &agencybot_agent::markup::parse(&answer),
        &agencybot_agent::markup::Plain,
    );
    assert_eq!(words, expected.split_whitespace().collect::<Vec<_>>());
    run.stop().await;
}

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";

/// Posts `body` to the webhook like Telegram does; returns the status code.
async fn post_update(address: std::net::SocketAddr, secret: Option<&str>, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let header = secret
        .map(|secret| format!("X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

fn update(update_id: i64, text: &str) -> String {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id,
            "date": 1_700_000_000,
            "chat": {"id": ANN, "type": "private", "first_name": "Ann"},
            "from": {"id": ANN, "is_bot": false, "first_name": "Ann"},
            "text": text,
        },
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_call_needs_the_exact_secret_token() {
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mode = Mode::Webhook {
        url: "https://bot.example.invalid/hook".into(),
        listen,
        secret: Secret::new(WEBHOOK_SECRET),
    };
    let run = running_in(mode, |_| {}).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(listen).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook server never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let set = run.telegram.calls("setwebhook");
    assert_eq!(set[0]["secret_token"], WEBHOOK_SECRET);

    let mut same_length = WEBHOOK_SECRET.to_owned();
    same_length.pop();
    same_length.push('X');
    let prefix = &WEBHOOK_SECRET[..WEBHOOK_SECRET.len() - 1];
    let longer = format!("{WEBHOOK_SECRET}0");
    let wrong = [
        None,
        Some(""),
        Some(same_length.as_str()),
        Some(prefix),
        Some(longer.as_str()),
        Some("WEBHOOK-SECRET-0123456789"),
    ];
    for (index, secret) in wrong.into_iter().enumerate() {
        let status = post_update(
            listen,
            secret,
            &update(index as i64 + 1, "How much did we earn?"),
        )
        .await;
        assert!(
            status == 401 || status == 403,
            "secret {secret:?} got {status}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        run.stack.model.requests().is_empty(),
        "nothing reached the model"
    );
    assert!(run.texts(ANN).is_empty());

    run.stack
        .model
        .push(Reply::text("Served through the webhook."));
    let status = post_update(listen, Some(WEBHOOK_SECRET), &update(100, "hello")).await;
    assert_eq!(status, 200);
    run.wait_for_text(ANN, "Served through the webhook.").await;
    assert_eq!(run.stack.model.requests().len(), 1);
    run.stop().await;
}

/// Sends a small file whose caption is 1,000 emoji: under 1,024 characters
/// but 2,000 UTF-16 units, twice Telegram's caption limit.
struct CaptionedFileTool;

impl agencybot_agent::InternalTool for CaptionedFileTool {
    fn name(&self) -> &str {
        "captioned_export"
    }

    fn description(&self) -> &str {
        "Exports a file with a long caption."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> agencybot_ofapi::Access {
        agencybot_ofapi::Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a agencybot_agent::ToolContext<'a>,
        _arguments: Value,
    ) -> futures::future::BoxFuture<'a, Result<agencybot_agent::ToolOutput, String>> {
        Box::pin(async move {
            (context.send_file)(agencybot_core::Attachment {
                file_name: "tips.csv".into(),
                mime_type: "text/csv".into(),
                bytes: b"fan,tip\nalex,5\n".to_vec(),
                caption: Some("💰".repeat(1_000)),
            });
            Ok(agencybot_agent::ToolOutput::new(json!({"sent": true})))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caption_over_the_utf16_limit_follows_the_file_as_a_message() {
    let run = running_with(|engine| engine.register_tool(Arc::new(CaptionedFileTool))).await;
    run.stack
        .model
        .push(Reply::tool("captioned_export", json!({})));
    run.stack.model.push(Reply::text("Sent."));
    run.telegram.send_text(ANN, "Export my tips");
    run.wait_for_text(ANN, "Sent.").await;
    let documents = run.telegram.calls("senddocument");
    assert_eq!(documents.len(), 1);
    let caption = documents[0]["caption"].as_str().unwrap_or("");
    assert!(
        caption.encode_utf16().count() <= 1024,
        "a caption of {} UTF-16 units",
        caption.encode_utf16().count()
    );
    assert!(
        run.texts(ANN).iter().any(|t| *t == "💰".repeat(1_000)),
        "the caption is not lost"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typed_yes_turns_the_question_into_its_outcome() {
    let run = running().await;
    let message_id = run.propose_link("Typed").await;
    run.stack.model.push(Reply::text("The link is live."));

    run.telegram.send_text(ANN, "yes");

    run.wait_for_text(ANN, "The link is live.").await;
    run.outcome_shown(message_id, "✅ Done — approved by Ann")
        .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typed_no_shows_the_question_cancelled() {
    let run = running().await;
    let message_id = run.propose_link("Declined").await;

    run.telegram.send_text(ANN, "no");

    run.outcome_shown(message_id, "🚫 Cancelled by Ann — nothing was done")
        .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_question_shows_it_expired_at_the_next_message() {
    let run = running().await;
    let message_id = run.propose_link("Late").await;
    run.stack.clock.advance(chrono::Duration::minutes(11));
    run.stack.model.push(Reply::text("Hello again."));

    run.telegram.send_text(ANN, "hello");

    run.outcome_shown(message_id, "⏰ Expired — nothing was done")
        .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_is_repeated_while_a_long_turn_works_and_stops_after() {
    let run = running().await;
    // Telegram shows "typing…" for five seconds; this answer takes seven.
    run.stack.model.push(Step::Delay(
        std::time::Duration::from_secs(7),
        Box::new(Reply::text("Slow but here.").into()),
    ));
    run.telegram.send_text(ANN, "Think hard about this week");
    run.wait_for_text(ANN, "Slow but here.").await;
    let during = run.telegram.calls("sendchataction").len();
    assert!(during >= 2, "typing shown {during} times in seven seconds");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(
        run.telegram.calls("sendchataction").len(),
        during,
        "no typing once the answer is there"
    );
    run.stop().await;
}
