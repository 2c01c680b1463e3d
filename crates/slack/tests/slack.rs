//! The Slack adapter end to end: slack-morphism against a fake Web API and
//! Socket Mode websocket on 127.0.0.1, and signed Events API requests, with
//! the scripted model and the sandbox behind the engine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agencybot_core::{Platform, Role, Secret};
use agencybot_slack::{SlackMode, SlackOptions, serve};
use agencybot_testkit::{
    FakeSlack, LargeFileTool, Reply, Stack, Step, TestMember, last_tool_result, post_signed,
    system_prompt,
};
use serde_json::{Value, json};
use tokio::sync::watch;

const ANN: &str = "UANN0001";
const BOB: &str = "UBOB0002";
const STRANGER: &str = "USTRANGE9";
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WAIT: Duration = Duration::from_secs(15);

struct Running {
    stack: Stack,
    slack: FakeSlack,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), agencybot_slack::SlackError>>,
    /// Events API mode: where to post.
    events: Option<String>,
}

async fn free_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

async fn running_with(
    events_api: bool,
    setup: impl FnOnce(&mut agencybot_agent::Engine),
) -> Running {
    let members = [
        TestMember {
            name: "Ann",
            role: Role::Owner,
            user_id: ANN,
        },
        TestMember {
            name: "Bob",
            role: Role::Member,
            user_id: BOB,
        },
    ];
    let stack = Stack::start_with("slack", Platform::Slack, &members, false, setup).await;
    let slack = FakeSlack::start().await;
    let (stop, stopped) = watch::channel(false);
    let (mode, events) = if events_api {
        let listen = free_address().await;
        (
            SlackMode::Events {
                signing_secret: Secret::new(SECRET),
                listen,
            },
            Some(format!("http://{listen}")),
        )
    } else {
        (
            SlackMode::Socket {
                app_token: Secret::new("xapp-test"),
            },
            None,
        )
    };
    let options = SlackOptions {
        bot_token: Secret::new("xoxb-test"),
        api_url: slack.api_url(),
        mode,
        grace: Duration::from_secs(5),
    };
    let task = tokio::spawn(serve(options, stack.hub.clone(), stopped));
    if events_api {
        slack
            .wait_until(WAIT, |s| !s.calls("auth.test").is_empty())
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    } else {
        slack.wait_until(WAIT, FakeSlack::socket_connected).await;
    }
    Running {
        stack,
        slack,
        stop,
        task,
        events,
    }
}

async fn running() -> Running {
    running_with(false, |_| {}).await
}

impl Running {
    async fn wait_for_text(&self, channel: &str, needle: &str) {
        let needle = needle.to_owned();
        self.slack
            .wait_until(WAIT, |s| {
                s.texts(channel).iter().any(|t| t.contains(&needle))
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

    async fn post_event(
        &self,
        callback: &Value,
        timestamp: i64,
        secret: &str,
        retry: Option<u32>,
    ) -> (u16, String) {
        let url = format!("{}/slack/events", self.events.as_ref().unwrap());
        post_signed(&url, secret, timestamp, callback, false, retry).await
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dm_gets_a_sandbox_backed_answer() {
    let run = running().await;
    let account = run.stack.account(2);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "account.get-top-percentage", "arguments": {"account": account}}),
    ));
    run.stack
        .model
        .push(Step::Dynamic(Box::new(|request: &Value| {
            let data = last_tool_result(request);
            Reply::text(&format!(
                "**Aria** is in the top {}%.",
                data["top_percentage"]
            ))
        })));
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "Where does Aria rank?"));
    let envelope = run.slack.socket_event(callback);
    run.wait_for_text(&format!("D{ANN}"), "is in the top").await;
    assert!(run.slack.acked(&envelope));
    let answer = run
        .slack
        .texts(&format!("D{ANN}"))
        .into_iter()
        .find(|t| t.contains("top"))
        .unwrap();
    assert_eq!(answer, "*Aria* is in the top 6.0%.");
    // Posted, so Slack notifies; "On it…" is removed, not edited into it.
    let dm = format!("D{ANN}");
    let posted = run.slack.calls("chat.postMessage");
    assert!(
        posted
            .iter()
            .any(|c| c["channel"] == dm.as_str() && c["text"] == "*Aria* is in the top 6.0%."),
        "{posted:?}"
    );
    assert!(
        run.slack
            .calls("chat.update")
            .iter()
            .all(|c| !c["text"].as_str().unwrap_or("").contains("top")),
        "the answer is not an edit"
    );
    run.slack
        .wait_until(std::time::Duration::from_secs(5), |s| {
            !s.calls("chat.delete").is_empty()
        })
        .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_in_a_channel_is_told_once_per_thread_and_only_they_see_it() {
    let run = running().await;
    let first = run
        .slack
        .mention("C9", STRANGER, "how much did we earn?", None);
    let thread = first["ts"].as_str().unwrap().to_owned();
    for event in [
        first,
        run.slack.mention("C9", STRANGER, "hello??", Some(&thread)),
    ] {
        let (_, callback) = run.slack.event_callback(event);
        run.slack.socket_event(callback);
    }
    run.wait_for_text("C9", "not allowed").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let told = run.slack.calls("chat.postEphemeral");
    assert_eq!(told.len(), 1, "once per thread: {told:?}");
    assert_eq!(told[0]["user"], STRANGER);
    assert_eq!(told[0]["thread_ts"], thread.as_str());
    assert!(
        run.slack
            .calls("chat.postMessage")
            .iter()
            .all(|c| c["channel"] != "C9"),
        "nothing the whole channel sees"
    );
    // Another thread is another place to be told, once.
    let (_, callback) = run
        .slack
        .event_callback(run.slack.mention("C9", STRANGER, "anyone?", None));
    run.slack.socket_event(callback);
    run.slack
        .wait_until(WAIT, |s| s.calls("chat.postEphemeral").len() == 2)
        .await;
    assert!(run.stack.model.requests().is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_is_refused_without_a_model_call() {
    let run = running().await;
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(STRANGER, "how much did we earn?"));
    run.slack.socket_event(callback);
    run.wait_for_text(&format!("D{STRANGER}"), "not allowed")
        .await;
    assert!(run.stack.model.requests().is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mention_is_answered_in_a_thread_and_follow_ups_need_no_mention() {
    let run = running().await;
    run.stack.model.push(Reply::text("Hi team."));
    let mention = run.slack.mention("C1", ANN, "hello", None);
    let thread = mention["ts"].as_str().unwrap().to_owned();
    let (_, callback) = run.slack.event_callback(mention);
    run.slack.socket_event(callback);
    run.wait_for_text("C1", "Hi team.").await;
    let posted = run.slack.calls("chat.postMessage");
    assert_eq!(
        posted.last().unwrap()["thread_ts"],
        thread.as_str(),
        "answered in the thread"
    );

    run.stack.model.push(Reply::text("Still with you."));
    let (_, follow_up) =
        run.slack
            .event_callback(run.slack.thread_message("C1", &thread, BOB, "and Luna?"));
    run.slack.socket_event(follow_up);
    run.wait_for_text("C1", "Still with you.").await;
    assert!(
        run.stack
            .model
            .requests()
            .last()
            .unwrap()
            .to_string()
            .contains("hello"),
        "the thread's history is shared"
    );

    // A thread the bot is not part of is ignored.
    let (_, elsewhere) = run.slack.event_callback(run.slack.thread_message(
        "C1",
        "1600000000.000001",
        ANN,
        "unrelated",
    ));
    run.slack.socket_event(elsewhere);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.stack.model.requests().len(), 2);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_requesters_button_runs_the_write_once() {
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
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "Weekend special", "userLists": [list]}}),
    ));
    let mention = run.slack.mention("C2", ANN, "message my whales", None);
    let thread = mention["ts"].as_str().unwrap().to_owned();
    let (_, callback) = run.slack.event_callback(mention);
    run.slack.socket_event(callback);
    run.wait_for_text("C2", "Should I go ahead?").await;
    let question = run
        .slack
        .calls("chat.update")
        .into_iter()
        .chain(run.slack.calls("chat.postMessage"))
        .find(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .unwrap();
    let actions = question["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()
        .clone();
    let block_id = actions["block_id"].as_str().unwrap().to_owned();
    let yes = actions["elements"][0].clone();
    assert_eq!(yes["text"]["text"], "Yes");
    let message_ts = question["posted_ts"].as_str().unwrap_or(&thread).to_owned();
    let click = |user: &str| {
        run.slack.click(
            "C2",
            &message_ts,
            user,
            yes["action_id"].as_str().unwrap(),
            yes["value"].as_str().unwrap(),
            &block_id,
        )
    };

    run.slack.socket_interaction(click(BOB));
    run.wait_for_text("C2", "Only the person who asked for this can confirm it")
        .await;
    assert_eq!(run.stack.mass_messages(), before);

    run.stack.model.push(Reply::text("Sent to your whales."));
    run.slack.socket_interaction(click(ANN));
    run.wait_for_text("C2", "Sent to your whales.").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.slack
        .wait_until(WAIT, |s| {
            s.calls("chat.update").iter().any(|c| {
                c["ts"] == message_ts.as_str()
                    && c["blocks"]
                        .as_array()
                        .is_some_and(|b| b.iter().all(|b| b["type"] != "actions"))
            })
        })
        .await;

    run.slack.socket_interaction(click(ANN));
    run.wait_for_text("C2", "already done").await;
    assert_eq!(run.stack.mass_messages(), before + 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_answer_arrives_in_several_messages_with_nothing_lost() {
    let run = running().await;
    let answer: String = (0..50)
        .map(|i| format!("Item {i}: {}\n\n", "chargeback detail ".repeat(12)))
        .collect();
    run.stack.model.push(Reply::text(answer.trim()));
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "all the details"));
    run.slack.socket_event(callback);
    let dm = format!("D{ANN}");
    run.wait_for_text(&dm, "Item 49").await;
    let texts = run.slack.texts(&dm);
    assert!(texts.len() >= 3);
    assert!(texts.iter().all(|t| t.chars().count() <= 3000));
    let words: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    assert_eq!(words, answer.split_whitespace().collect::<Vec<_>>());
    run.stop().await;
}

/// What the bot posted to `channel` with `chat.postMessage`: each message's
/// text and its section blocks' texts.
fn posted(slack: &FakeSlack, channel: &str) -> Vec<(String, Vec<String>)> {
    slack
        .calls("chat.postMessage")
        .iter()
        .filter(|call| call["channel"] == channel)
        .map(|call| {
            let sections = call["blocks"]
                .as_array()
                .map(|blocks| {
                    blocks
                        .iter()
                        .filter(|block| block["type"] == "section")
                        .map(|block| {
                            assert_eq!(block["text"]["type"], "mrkdwn");
                            block["text"]["text"].as_str().unwrap().to_owned()
                        })
                        .collect()
                })
                .unwrap_or_default();
            (call["text"].as_str().unwrap_or("").to_owned(), sections)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn markdown_from_the_model_arrives_as_mrkdwn() {
    let run = running().await;
    run.stack.model.push(Reply::text(
        "## Top fans this week\n\n- **Alex** spent ~~$10~~ $12 on [her page](https://onlyfans.com/alex?ref=1&src=bot)\n- Sam <vip> & co\n\n1. Reply to Alex\n2. Thank Sam",
    ));
    let (_, callback) = run.slack.event_callback(run.slack.dm(ANN, "top fans"));
    run.slack.socket_event(callback);
    let dm = format!("D{ANN}");
    run.wait_for_text(&dm, "Thank Sam").await;
    // The model was told what Slack shows.
    let prompt = system_prompt(&run.stack.model.requests()[0]);
    assert!(prompt.contains("Formatting (Slack)"), "{prompt}");
    assert!(!prompt.contains("Formatting (Telegram)"));
    let (text, sections) = posted(&run.slack, &dm)
        .into_iter()
        .find(|(text, _)| text.contains("Thank Sam"))
        .unwrap();
    assert_eq!(
        text,
        "*Top fans this week*\n\n• *Alex* spent ~$10~ $12 on <https://onlyfans.com/alex?ref=1&amp;src=bot|her page>\n• Sam &lt;vip&gt; &amp; co\n\n1. Reply to Alex\n2. Thank Sam"
    );
    assert_eq!(sections, vec![text], "the block shows the same mrkdwn");
    run.stop().await;
}

/// Whether `text` is whole mrkdwn: every `&` starts one of the three escapes
/// and every `<` opens a link closed in the same text.
fn whole_mrkdwn(text: &str) -> Result<(), String> {
    for (at, _) in text.match_indices('&') {
        let rest = &text[at..];
        if !["&amp;", "&lt;", "&gt;"]
            .iter()
            .any(|escape| rest.starts_with(escape))
        {
            return Err(format!(
                "a cut escape at {at}: {:?}",
                &rest[..rest.len().min(12)]
            ));
        }
    }
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let tail = &rest[open..];
        let close = tail
            .find('>')
            .ok_or_else(|| format!("an unclosed link: {tail:?}"))?;
        let link = &tail[1..close];
        if !link.starts_with("https://") || link.contains('<') {
            return Err(format!("a cut link: {link:?}"));
        }
        rest = &tail[close + 1..];
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_answer_is_never_cut_inside_an_escape_or_a_link() {
    let run = running().await;
    // Escaping makes each line longer than it reads, so pieces measured
    // before escaping would overflow Slack's 3,000-character sections.
    let answer: String = (0..120)
        .map(|i| {
            format!(
                "Fan <{i}> & partner && more: [profile {i}](https://onlyfans.com/u{i}?a=1&b=2&c=3) said \"<3 & <3\"\n"
            )
        })
        .collect();
    run.stack.model.push(Reply::text(answer.trim()));
    let (_, callback) = run.slack.event_callback(run.slack.dm(ANN, "every fan"));
    run.slack.socket_event(callback);
    let dm = format!("D{ANN}");
    run.wait_for_text(&dm, "profile 119").await;
    let pieces: Vec<(String, Vec<String>)> = posted(&run.slack, &dm)
        .into_iter()
        .filter(|(text, _)| text.contains("Fan "))
        .collect();
    assert!(pieces.len() >= 3, "{}", pieces.len());
    for (text, sections) in &pieces {
        assert!(text.chars().count() <= 3000, "{}", text.chars().count());
        assert!(sections.iter().all(|s| s.chars().count() <= 3000));
        whole_mrkdwn(text).unwrap();
    }
    let links: usize = pieces
        .iter()
        .map(|(text, _)| text.matches("?a=1&amp;b=2&amp;c=3|profile ").count())
        .sum();
    assert_eq!(links, 120, "every link arrives whole, once");
    let shown: String = pieces
        .iter()
        .map(|(text, _)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for i in 0..120 {
        assert!(
            shown.contains(&format!("Fan &lt;{i}&gt; &amp; partner &amp;&amp; more")),
            "{i}"
        );
    }
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_csv_is_uploaded_and_one_over_the_limit_is_explained() {
    let run = running_with(false, |engine| {
        engine.register_tool(Arc::new(LargeFileTool { megabytes: 101 }))
    })
    .await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "export_csv",
        json!({"endpoint": "free-trial-links.list-free-trial-links", "arguments": {"account": account}, "file_name": "trials.csv"}),
    ));
    run.stack
        .model
        .push(Reply::text("Your trial links are attached."));
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "export trial links"));
    run.slack.socket_event(callback);
    let dm = format!("D{ANN}");
    run.wait_for_text(&dm, "Your trial links are attached.")
        .await;
    let uploads = run.slack.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&uploads[0].1).lines().count(),
        3,
        "header and two trial links"
    );
    let completed = run.slack.calls("files.completeUploadExternal");
    assert_eq!(completed[0]["channel_id"], dm.as_str());
    assert_eq!(completed[0]["files"][0]["title"], "trials.csv");
    assert_eq!(
        run.slack.calls("files.getUploadURLExternal")[0]["filename"],
        "trials.csv"
    );

    run.stack.model.push(Reply::tool("large_export", json!({})));
    run.stack.model.push(Reply::text("Done."));
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "export everything"));
    run.slack.socket_event(callback);
    run.wait_for_text(&dm, "over Slack's 100 MB limit").await;
    assert_eq!(run.slack.uploads().len(), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_events_api_checks_signatures_and_the_replay_window() {
    let run = running_with(true, |_| {}).await;
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "how much did we earn?"));
    let (status, _) = run
        .post_event(&callback, now(), "not-the-secret", None)
        .await;
    assert_eq!(status, 401, "bad signature");
    let (status, _) = run.post_event(&callback, now() - 600, SECRET, None).await;
    assert!(
        status == 401 || status == 400,
        "an old timestamp is refused ({status})"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        run.stack.model.requests().is_empty(),
        "no model call for rejected requests"
    );

    let (status, body) = run
        .post_event(
            &json!({"type": "url_verification", "challenge": "abc123", "token": "x"}),
            now(),
            SECRET,
            None,
        )
        .await;
    assert_eq!((status, body.as_str()), (200, "abc123"));

    // A valid event is answered once, even when Slack retries it.
    run.stack.model.push(Reply::text("Answered once."));
    let (status, _) = run.post_event(&callback, now(), SECRET, None).await;
    assert_eq!(status, 200);
    let (status, _) = run.post_event(&callback, now(), SECRET, Some(1)).await;
    assert_eq!(status, 200);
    run.wait_for_text(&format!("D{ANN}"), "Answered once.")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.stack.model.requests().len(), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interactivity_over_http_is_verified_like_events() {
    let run = running_with(true, |_| {}).await;
    let before = run.stack.mass_messages();
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Slack promo"}}),
    ));
    let (_, callback) = run
        .slack
        .event_callback(run.slack.dm(ANN, "make a Slack promo link"));
    assert_eq!(run.post_event(&callback, now(), SECRET, None).await.0, 200);
    let dm = format!("D{ANN}");
    run.wait_for_text(&dm, "Should I go ahead?").await;
    let question = run
        .slack
        .calls("chat.update")
        .into_iter()
        .chain(run.slack.calls("chat.postMessage"))
        .find(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .unwrap();
    let actions = question["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()
        .clone();
    let yes = &actions["elements"][0];
    let payload = run.slack.click(
        &dm,
        question["posted_ts"].as_str().unwrap_or("1"),
        ANN,
        yes["action_id"].as_str().unwrap(),
        yes["value"].as_str().unwrap(),
        actions["block_id"].as_str().unwrap(),
    );
    let url = format!("{}/slack/interactivity", run.events.as_ref().unwrap());
    let (status, _) = post_signed(&url, "wrong", now(), &payload, true, None).await;
    assert_eq!(status, 401);
    run.stack.model.push(Reply::text("Link created."));
    let (status, _) = post_signed(&url, SECRET, now(), &payload, true, None).await;
    assert_eq!(status, 200);
    run.wait_for_text(&dm, "Link created.").await;
    assert!(run.stack.sandbox.inspect(|d| {
        d.accounts[0]
            .tracking_links
            .iter()
            .any(|l| l.name == "Slack promo")
    }));
    assert_eq!(run.stack.mass_messages(), before);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typed_yes_turns_the_question_into_its_outcome() {
    let run = running().await;
    let account = run.stack.account(0);
    run.stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Typed"}}),
    ));
    let dm = format!("D{ANN}");
    let (_, callback) = run.slack.event_callback(run.slack.dm(ANN, "make a link"));
    run.slack.socket_event(callback);
    run.wait_for_text(&dm, "Should I go ahead?").await;
    let question_ts = run
        .slack
        .calls("chat.update")
        .into_iter()
        .chain(run.slack.calls("chat.postMessage"))
        .find(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.contains("Should I go ahead?"))
        })
        .and_then(|c| c["posted_ts"].as_str().map(str::to_owned))
        .expect("the question was posted");
    run.stack.model.push(Reply::text("The link is live."));

    let (_, callback) = run.slack.event_callback(run.slack.dm(ANN, "yes"));
    run.slack.socket_event(callback);

    run.wait_for_text(&dm, "The link is live.").await;
    run.slack
        .wait_until(WAIT, |s| {
            s.calls("chat.update").iter().any(|c| {
                c["ts"] == question_ts.as_str()
                    && c["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("✅ Done — approved by Ann"))
                    && c["blocks"]
                        .as_array()
                        .is_some_and(|b| b.iter().all(|b| b["type"] != "actions"))
            })
        })
        .await;
    run.stop().await;
}
