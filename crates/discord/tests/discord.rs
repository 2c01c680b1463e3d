//! The Discord adapter end to end: serenity against a fake REST API and
//! gateway on 127.0.0.1, with the scripted model and the sandbox.

use std::sync::Arc;
use std::time::Duration;

use agencybot_core::{Platform, Role, Secret};
use agencybot_discord::{DiscordOptions, serve};
use agencybot_testkit::{
    DISCORD_GUILD_ID, FakeDiscord, LargeFileTool, Reply, Stack, Step, TestMember, last_tool_result,
    system_prompt,
};
use serde_json::{Value, json};
use tokio::sync::watch;

const ANN: u64 = 500_000_000_000_000_001;
const BOB: u64 = 500_000_000_000_000_002;
const STRANGER: u64 = 500_000_000_000_000_099;
const GENERAL: u64 = 300_000_000_000_000_001;
const WAIT: Duration = Duration::from_secs(15);

struct Running {
    stack: Stack,
    discord: FakeDiscord,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), agencybot_discord::DiscordError>>,
}

async fn running_with(setup: impl FnOnce(&mut agencybot_agent::Engine)) -> Running {
    running_in(Vec::new(), setup).await
}

/// Serves only the servers `guilds` (all when empty).
async fn running_in(guilds: Vec<u64>, setup: impl FnOnce(&mut agencybot_agent::Engine)) -> Running {
    let ann = ANN.to_string();
    let bob = BOB.to_string();
    let members = [
        TestMember {
            name: "Ann",
            role: Role::Owner,
            user_id: &ann,
        },
        TestMember {
            name: "Bob",
            role: Role::Member,
            user_id: &bob,
        },
    ];
    let stack = Stack::start_with("discord", Platform::Discord, &members, false, setup).await;
    let discord = FakeDiscord::start().await;
    let (stop, stopped) = watch::channel(false);
    let options = DiscordOptions {
        token: Secret::new("discord-token"),
        api_url: discord.url(),
        grace: Duration::from_secs(5),
        guilds,
    };
    let task = tokio::spawn(serve(options, stack.hub.clone(), stopped));
    discord.wait_until(WAIT, FakeDiscord::connected).await;
    Running {
        stack,
        discord,
        stop,
        task,
    }
}

async fn running() -> Running {
    running_with(|_| {}).await
}

impl Running {
    /// Mentions the bot in #general and returns the thread it opened.
    async fn ask(&self, author: u64, text: &str) -> u64 {
        let before = self.discord.threads().len();
        self.discord.user_message(GENERAL, author, text, true);
        self.discord
            .wait_until(WAIT, |d| d.threads().len() > before)
            .await;
        self.discord.threads()[before].0
    }

    async fn wait_for_text(&self, channel: u64, needle: &str) {
        let needle = needle.to_owned();
        self.discord
            .wait_until(WAIT, |d| {
                d.texts(channel).iter().any(|t| t.contains(&needle))
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
async fn a_mention_opens_a_thread_with_a_sandbox_backed_answer() {
    let run = running().await;
    let account = run.stack.account(1);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "payouts.get-account-balances", "arguments": {"account": account}}),
    ));
    run.stack
        .model
        .push(Step::Dynamic(Box::new(|request: &Value| {
            let data = last_tool_result(request);
            Reply::text(&format!(
                "Luna can withdraw ${} now.",
                data["payoutAvailable"]
            ))
        })));
    let thread = run.ask(ANN, "What can Luna withdraw?").await;
    run.wait_for_text(thread, "can withdraw").await;
    let texts = run.discord.texts(thread);
    let answer = texts.iter().find(|t| t.contains("can withdraw")).unwrap();
    let expected = run.stack.sandbox.inspect(|d| {
        let now = agencybot_testkit::sandbox_now();
        let net: f64 = d.accounts[1]
            .transactions
            .iter()
            .filter(|t| {
                now - t.created_at >= chrono::Duration::days(7)
                    && now - t.created_at < chrono::Duration::days(37)
            })
            .map(|t| t.net)
            .sum();
        (net * 100.0).round() / 100.0
    });
    assert_eq!(answer, &format!("Luna can withdraw ${expected} now."));
    assert!(
        run.discord.texts(GENERAL).is_empty(),
        "answers go in the thread"
    );
    assert!(!run.discord.calls("POST /channels/{c}/typing").is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_ups_in_the_thread_need_no_mention() {
    let run = running().await;
    run.stack.model.push(Reply::text("Hello Ann."));
    let thread = run.ask(ANN, "hello").await;
    run.wait_for_text(thread, "Hello Ann.").await;
    run.stack.model.push(Reply::text("Still here."));
    run.discord
        .user_message(thread, ANN, "are you still there?", false);
    run.wait_for_text(thread, "Still here.").await;
    let last = run.stack.model.requests().pop().unwrap();
    assert!(
        last.to_string().contains("hello"),
        "the thread keeps its history"
    );
    // Without a mention, messages elsewhere are ignored.
    run.discord
        .user_message(GENERAL, ANN, "just chatting", false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.stack.model.requests().len(), 2);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_is_refused_without_a_model_call() {
    let run = running().await;
    run.discord
        .user_message(GENERAL, STRANGER, "how much did we earn?", true);
    run.wait_for_text(GENERAL, "not allowed").await;
    assert!(run.discord.threads().is_empty());
    assert!(run.stack.model.requests().is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_messages_are_declined_once() {
    let run = running().await;
    run.discord.direct_message(ANN, "hi");
    run.discord.direct_message(ANN, "hello?");
    let dm = 9_000 + ANN;
    run.wait_for_text(dm, "I don't answer direct messages")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.discord.texts(dm).len(), 1);
    assert!(run.stack.model.requests().is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_requesters_click_runs_the_write_once() {
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
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "VIP drop tonight", "userLists": [list]}}),
    ));
    let thread = run.ask(ANN, "Tell my whales about the VIP drop").await;
    run.wait_for_text(thread, "Should I go ahead?").await;
    let question = run
        .discord
        .calls("PATCH /channels/{c}/messages/{m}")
        .into_iter()
        .chain(run.discord.calls("POST /channels/{c}/messages"))
        .find(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .unwrap();
    let message_id = question.body["id"].as_u64().unwrap();
    let yes = question.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        question.body["components"][0]["components"][0]["label"],
        "Yes"
    );

    run.discord.click(thread, message_id, BOB, &yes);
    run.wait_for_text(thread, "Only the person who asked for this can confirm it")
        .await;
    assert_eq!(run.stack.mass_messages(), before);

    run.stack.model.push(Reply::text("Sent to your whales."));
    run.discord.click(thread, message_id, ANN, &yes);
    run.wait_for_text(thread, "Sent to your whales.").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.discord
        .wait_until(WAIT, |d| {
            d.calls("PATCH /channels/{c}/messages/{m}")
                .iter()
                .any(|c| c.body["id"] == message_id && c.body["components"] == json!([]))
        })
        .await;
    assert_eq!(
        run.discord
            .calls("POST /interactions/{id}/{token}/callback")
            .len(),
        2,
        "each click acknowledged"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_answer_arrives_in_several_messages_with_nothing_lost() {
    let run = running().await;
    let answer: String = (0..40)
        .map(|i| format!("Line {i}: {}\n\n", "tip detail ".repeat(10)))
        .collect();
    run.stack.model.push(Reply::text(answer.trim()));
    let thread = run.ask(ANN, "everything please").await;
    run.wait_for_text(thread, "Line 39").await;
    let texts = run.discord.texts(thread);
    assert!(texts.len() >= 3);
    assert!(texts.iter().all(|t| t.chars().count() <= 2000));
    let words: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    assert_eq!(words, answer.split_whitespace().collect::<Vec<_>>());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_csv_is_attached_and_one_over_the_limit_is_explained() {
    let run =
        running_with(|engine| engine.register_tool(Arc::new(LargeFileTool { megabytes: 11 })))
            .await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "export_csv",
        json!({"endpoint": "tracking-links.list-tracking-links", "arguments": {"account": account, "limit": 100}, "file_name": "links"}),
    ));
    run.stack.model.push(Reply::text("Here are your links."));
    let thread = run.ask(ANN, "export my tracking links").await;
    run.wait_for_text(thread, "Here are your links.").await;
    let upload = run
        .discord
        .calls("POST /channels/{c}/messages")
        .into_iter()
        .find(|c| c.body["files"].as_array().is_some_and(|f| !f.is_empty()))
        .expect("a file was attached");
    assert_eq!(upload.body["files"][0]["file_name"], "links.csv");
    assert_eq!(
        upload.body["files"][0]["content"]
            .as_str()
            .unwrap()
            .lines()
            .count(),
        6,
        "header and five links"
    );

    run.stack.model.push(Reply::tool("large_export", json!({})));
    run.stack.model.push(Reply::text("Done."));
    run.discord
        .user_message(thread, ANN, "export everything", false);
    run.wait_for_text(thread, "over Discord's 10 MB limit")
        .await;
    run.stop().await;
}

/// Asserts that a recorded message body pings no one.
#[track_caller]
fn pings_no_one(body: &Value) {
    let allowed = &body["allowed_mentions"];
    assert_eq!(allowed["parse"], json!([]), "{body}");
    for list in ["users", "roles"] {
        assert!(
            allowed.get(list).is_none_or(|ids| ids == &json!([])),
            "{list} may be mentioned: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_discord_message_containing_everyone_is_sent_with_no_allowed_mentions() {
    let run = running().await;
    run.stack.model.push(Reply::text(
        "Heads up @everyone and <@123>: payday is <@&456>'s call.",
    ));
    let thread = run.ask(ANN, "announce payday").await;
    run.wait_for_text(thread, "Heads up @everyone").await;
    let answer = run
        .discord
        .calls("POST /channels/{c}/messages")
        .into_iter()
        .chain(run.discord.calls("PATCH /channels/{c}/messages/{m}"))
        .find(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("@everyone"))
        })
        .expect("the answer was sent");
    pings_no_one(&answer.body);

    // The refusal and the DM notice ping no one either.
    run.discord
        .user_message(GENERAL, STRANGER, "@everyone look", true);
    run.wait_for_text(GENERAL, "not allowed").await;
    run.discord.direct_message(BOB, "hi");
    run.wait_for_text(9_000 + BOB, "direct messages").await;
    let sent: Vec<_> = run
        .discord
        .calls("POST /channels/{c}/messages")
        .into_iter()
        .chain(run.discord.calls("PATCH /channels/{c}/messages/{m}"))
        .collect();
    assert!(sent.len() >= 3);
    for call in &sent {
        pings_no_one(&call.body);
    }
    run.stop().await;
}

const OTHER_GUILD: u64 = 4_000_000_000_000_777;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mention_from_a_server_not_in_the_guild_list_is_ignored() {
    let run = running_in(vec![OTHER_GUILD], |_| {}).await;
    // The fake's default server is not in the list: not even a refusal.
    run.discord
        .user_message(GENERAL, ANN, "how much did we earn?", true);
    run.discord
        .user_message(GENERAL, STRANGER, "how much did we earn?", true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(run.discord.threads().is_empty());
    assert!(run.discord.calls("POST /channels/{c}/messages").is_empty());
    assert!(run.stack.model.requests().is_empty(), "no model call");
    assert_ne!(DISCORD_GUILD_ID, OTHER_GUILD);

    // A listed server is served.
    run.stack
        .model
        .push(Reply::text("Served in the listed server."));
    run.discord
        .guild_message(OTHER_GUILD, GENERAL, ANN, "hello", true);
    run.discord
        .wait_until(WAIT, |d| !d.threads().is_empty())
        .await;
    let thread = run.discord.threads()[0].0;
    run.wait_for_text(thread, "Served in the listed server.")
        .await;
    assert_eq!(run.stack.model.requests().len(), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typed_yes_in_the_thread_turns_the_question_into_its_outcome() {
    let run = running().await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Typed"}}),
    ));
    let thread = run.ask(ANN, "make a link called Typed").await;
    run.wait_for_text(thread, "Should I go ahead?").await;
    let message_id = run
        .discord
        .calls("PATCH /channels/{c}/messages/{m}")
        .into_iter()
        .chain(run.discord.calls("POST /channels/{c}/messages"))
        .find(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .and_then(|c| c.body["id"].as_u64())
        .unwrap();
    run.stack.model.push(Reply::text("The link is live."));

    run.discord.user_message(thread, ANN, "yes", false);

    run.wait_for_text(thread, "The link is live.").await;
    run.discord
        .wait_until(WAIT, |d| {
            d.calls("PATCH /channels/{c}/messages/{m}").iter().any(|c| {
                c.body["id"] == message_id
                    && c.body["components"] == json!([])
                    && c.body["content"]
                        .as_str()
                        .is_some_and(|t| t.contains("✅ Done — approved by Ann"))
            })
        })
        .await;
    run.stop().await;
}

/// The bot's message that asks to confirm, and its Yes button's id.
fn question(run: &Running) -> (u64, String) {
    let question = run
        .discord
        .calls("POST /channels/{c}/messages")
        .into_iter()
        .chain(run.discord.calls("PATCH /channels/{c}/messages/{m}"))
        .rfind(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .unwrap();
    let yes = question.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (question.body["id"].as_u64().unwrap(), yes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_click_is_answered_to_the_clicker_alone_and_runs_nothing() {
    let run = running().await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Twice"}}),
    ));
    let thread = run.ask(ANN, "make a link called Twice").await;
    run.wait_for_text(thread, "Should I go ahead?").await;
    let (message_id, yes) = question(&run);
    run.stack.model.push(Reply::text("The link is live."));
    run.discord.click(thread, message_id, ANN, &yes);
    run.wait_for_text(thread, "The link is live.").await;
    let links = run
        .stack
        .sandbox
        .inspect(|d| d.accounts[0].tracking_links.len());
    let model_calls = run.stack.model.requests().len();
    let posted = run.discord.calls("POST /channels/{c}/messages").len();

    run.discord.click(thread, message_id, ANN, &yes);
    run.discord
        .wait_until(WAIT, |d| {
            d.calls("POST /interactions/{id}/{token}/callback").len() == 2
        })
        .await;
    let popup = run
        .discord
        .calls("POST /interactions/{id}/{token}/callback")
        .pop()
        .unwrap();
    assert_eq!(
        popup.body["type"], 4,
        "a message, not a bare acknowledgement"
    );
    assert_eq!(popup.body["data"]["flags"], 64, "only the clicker sees it");
    assert!(
        popup.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("✅ Done — approved by Ann"),
        "{popup:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.stack.model.requests().len(), model_calls, "no new turn");
    assert_eq!(
        run.discord.calls("POST /channels/{c}/messages").len(),
        posted,
        "nothing new in the thread"
    );
    assert_eq!(
        run.stack
            .sandbox
            .inspect(|d| d.accounts[0].tracking_links.len()),
        links,
        "the write ran once"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_is_told_once_per_channel_and_once_per_thread() {
    let run = running().await;
    run.stack.model.push(Reply::text("Hello Ann."));
    let thread = run.ask(ANN, "hi").await;
    run.wait_for_text(thread, "Hello Ann.").await;
    for text in ["how much did we earn?", "hello?", "anyone?"] {
        run.discord.user_message(GENERAL, STRANGER, text, true);
        run.discord.user_message(thread, STRANGER, text, false);
    }
    run.wait_for_text(GENERAL, "not allowed").await;
    run.wait_for_text(thread, "not allowed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for channel in [GENERAL, thread] {
        let refusals = run
            .discord
            .texts(channel)
            .iter()
            .filter(|t| t.contains("not allowed"))
            .count();
        assert_eq!(refusals, 1, "in {channel}");
    }
    assert_eq!(run.stack.model.requests().len(), 1, "only Ann's turn");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_answer_is_posted_and_the_progress_message_removed() {
    let run = running().await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "account.get-top-percentage", "arguments": {"account": account}}),
    ));
    run.stack.model.push(Reply::text("You are in the top 2%."));
    let thread = run.ask(ANN, "where do we rank?").await;
    run.wait_for_text(thread, "top 2%").await;
    run.discord
        .wait_until(WAIT, |d| {
            !d.calls("DELETE /channels/{c}/messages/{m}").is_empty()
        })
        .await;
    // A new message notifies; an edit of "On it…" would not.
    assert!(
        run.discord
            .calls("POST /channels/{c}/messages")
            .iter()
            .any(|c| c.body["content"] == "You are in the top 2%.")
    );
    assert_eq!(run.discord.shown(thread), ["You are in the top 2%."]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn markdown_arrives_as_discord_writes_it_and_code_stays_code_in_each_message() {
    let run = running().await;
    let rows: Vec<String> = (0..250)
        .map(|i| format!("fan_{i:03} | $ {i}.00 | **tip**"))
        .collect();
    let answer = format!(
        "# Top fans\n\n- **star_girl_99** spent 5 * $20 on [her page](https://onlyfans.com/star_girl_99)\n\n```\n{}\n```\n\nThat's all.",
        rows.join("\n")
    );
    run.stack.model.push(Reply::text(&answer));
    let thread = run.ask(ANN, "top fans as a table").await;
    run.wait_for_text(thread, "That's all.").await;
    let prompt = system_prompt(&run.stack.model.requests()[0]);
    assert!(prompt.contains("Formatting (Discord)"), "{prompt}");
    let shown = run.discord.shown(thread);
    assert!(shown.len() >= 3, "{}", shown.len());
    assert!(
        shown[0].starts_with(
            "## Top fans\n\n- **star\\_girl\\_99** spent 5 \\* $20 on [her page](<https://onlyfans.com/star_girl_99>)"
        ),
        "{}",
        shown[0]
    );
    for piece in &shown {
        assert!(piece.chars().count() <= 2000, "{}", piece.chars().count());
        assert_eq!(
            piece.matches("```").count() % 2,
            0,
            "a closed code block: {piece}"
        );
    }
    // Inside code, nothing is escaped and every row arrives once.
    let all = shown.join("\n");
    for row in &rows {
        assert_eq!(all.matches(row.as_str()).count(), 1, "{row}");
    }
    run.stop().await;
}
