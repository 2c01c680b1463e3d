//! Live alerts end to end, wired as `agencybot run` wires them: a chat on
//! the Telegram fake asks for an alert, the admin's yes creates the webhook
//! in the OnlyFansAPI sandbox, and the sandbox's signed deliveries become
//! messages in the Telegram fake.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agencybot_alerts::{AlertChannel, Alerts};
use agencybot_core::{Platform, Role, Secret};
use agencybot_telegram::{Mode, TelegramOptions};
use agencybot_testkit::{FakeTelegram, Reply, Stack, TestMember};
use serde_json::{Value, json};
use tokio::sync::watch;

const TOKEN: &str = "123:test-token";
const ANN: i64 = 111;
const BOB: i64 = 222;
const WAIT: Duration = Duration::from_secs(15);
const SANDBOX_KEY: &str = "sandbox-key";

struct Running {
    stack: Stack,
    telegram: FakeTelegram,
    alerts: Arc<Alerts>,
    stop: watch::Sender<bool>,
}

async fn running() -> Running {
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
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", receiver.local_addr().unwrap());
    let stack = Stack::start_with("telegram", Platform::Telegram, &members, false, |engine| {
        agencybot_alerts::register(engine, &public_url);
    })
    .await;
    let telegram = FakeTelegram::start(TOKEN).await;
    let (stop, stopped) = watch::channel(false);
    let options = TelegramOptions {
        token: Secret::new(TOKEN),
        api_url: telegram.url(),
        mode: Mode::Polling,
        grace: Duration::from_secs(5),
    };
    let outbox = agencybot_telegram::outbox(&options, stack.hub.clone()).unwrap();
    tokio::spawn(agencybot_telegram::serve(
        options,
        stack.hub.clone(),
        stopped.clone(),
    ));
    let alerts = Alerts::new(
        stack.store.clone(),
        HashMap::from([(
            "telegram".to_owned(),
            AlertChannel {
                platform: Platform::Telegram,
                outbox,
            },
        )]),
        stack.clock.clone(),
    );
    let router = alerts.router();
    tokio::spawn(async move { axum::serve(receiver, router).await });
    tokio::spawn(alerts.clone().run(stopped));
    Running {
        stack,
        telegram,
        alerts,
        stop,
    }
}

impl Running {
    fn texts(&self, chat: i64) -> Vec<String> {
        self.telegram.texts(chat)
    }

    async fn wait_for_text(&self, chat: i64, needle: &str) {
        self.telegram.wait_for_text(WAIT, chat, needle).await;
    }

    /// The "Yes" of the confirmation question in `chat`, and its message id.
    fn yes_button(&self, chat: i64) -> (String, i64) {
        let question = self
            .telegram
            .calls("editmessagetext")
            .into_iter()
            .chain(self.telegram.calls("sendmessage"))
            .find(|c| {
                c["chat_id"] == chat
                    && c["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("Should I go ahead?"))
            })
            .expect("a confirmation question");
        let yes = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            .as_str()
            .unwrap()
            .to_owned();
        (yes, question["message_id"].as_i64().unwrap())
    }

    /// Calls a sandbox control endpoint.
    async fn control(&self, path: &str, body: Value) -> Value {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", self.stack.sandbox.url()))
            .bearer_auth(SANDBOX_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    fn alerts_in(&self, chat: i64) -> Vec<String> {
        self.texts(chat)
            .into_iter()
            .filter(|t| t.starts_with("💸"))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alert_asked_for_in_chat_is_created_on_yes_and_tips_arrive_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let run = running().await;
    let webhooks = || run.stack.sandbox.inspect(|d| d.webhooks.clone());

    // A member who is not an admin: not even proposed.
    run.stack.model.push(Reply::tool(
        "add_alert",
        json!({"kind": "whale_tip", "threshold_usd": 100}),
    ));
    run.stack
        .model
        .push(Reply::text("Only an admin or the owner can set up alerts."));
    run.telegram
        .send_text(BOB, "Alert me here when a fan tips over $100");
    run.wait_for_text(BOB, "Only an admin").await;
    assert!(
        !run.texts(BOB)
            .iter()
            .any(|t| t.contains("Should I go ahead?")),
        "{:?}",
        run.texts(BOB)
    );
    let refused = run.stack.model.requests();
    assert!(
        refused
            .last()
            .is_some_and(|r| r.to_string().contains("needs the admin role")),
        "the model is told why"
    );

    // Asked in chat: summarised, and nothing is created before the yes.
    run.stack.model.push(Reply::tool(
        "add_alert",
        json!({"kind": "whale_tip", "threshold_usd": 100}),
    ));
    run.telegram
        .send_text(ANN, "Alert me here when a fan tips over $100");
    run.wait_for_text(ANN, "Should I go ahead?").await;
    let question = run.texts(ANN).join("\n");
    assert!(
        question.contains("tips of $100.00 or more") && question.contains("tips.received"),
        "{question}"
    );
    assert!(webhooks().is_empty());
    let (yes, message_id) = run.yes_button(ANN);
    // Bob is not the asker (nor an admin): his press runs nothing.
    run.telegram.press(BOB, ANN, message_id, &yes);
    run.telegram
        .wait_until(WAIT, |f| !f.calls("answercallbackquery").is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(webhooks().is_empty());

    run.stack
        .model
        .push(Reply::text("Done: I'll post tips of $100 or more here."));
    run.telegram.press(ANN, ANN, message_id, &yes);
    run.wait_for_text(ANN, "I'll post tips").await;
    let created = webhooks();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].events, vec!["tips.received".to_owned()]);
    assert!(
        created[0]
            .signing_secret
            .as_deref()
            .is_some_and(|s| s.len() >= 32)
    );
    let registration = run
        .stack
        .store
        .webhook_registrations(run.stack.team.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        registration.webhook_id.as_deref(),
        Some(created[0].id.as_str())
    );
    assert!(
        created[0]
            .url
            .ends_with(&agencybot_alerts::hook_path(&registration.id))
    );

    // A $150 tip: one alert with the fan, the amount and the account.
    let account = run.stack.account(0);
    let fan = run.stack.sandbox.inspect(|d| d.accounts[0].fans[0].id);
    let sent = run
        .control(
            &format!("/_sandbox/accounts/{account}/tips"),
            json!({"fan_id": fan, "amount": 150}),
        )
        .await;
    let delivery = sent["deliveries"][0].clone();
    assert_eq!(delivery["status"], 200, "{sent}");
    run.wait_for_text(ANN, "tipped $150.00").await;
    let alerts = run.alerts_in(ANN);
    assert_eq!(
        alerts,
        vec![format!("💸 Fan {fan} tipped $150.00 on {account}.")]
    );

    // $50: no alert. The same event redelivered: still one alert.
    run.control(
        &format!("/_sandbox/accounts/{account}/tips"),
        json!({"fan_id": fan, "amount": 50}),
    )
    .await;
    let again = run
        .control(
            &format!(
                "/_sandbox/webhooks/deliveries/{}/redeliver",
                delivery["id"]
                    .as_str()
                    .map_or_else(|| delivery["id"].to_string(), str::to_owned)
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        again["deliveries"][0]["idempotency_key"],
        delivery["idempotency_key"]
    );
    assert_eq!(again["deliveries"][0]["status"], 200);
    run.alerts.work_once().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.alerts_in(ANN).len(), 1, "{:?}", run.alerts_in(ANN));

    // A body signed with another secret: 401, nothing journaled.
    let before = run
        .stack
        .store
        .webhook_events(&registration.id)
        .await
        .unwrap()
        .len();
    let body = json!({"event": "tips.received", "account_id": account, "payload": {"id": 1, "amountGross": 999, "user": {"id": fan}}}).to_string();
    let forged = reqwest::Client::new()
        .post(&created[0].url)
        .header(
            "signature",
            agencybot_ofapi::webhooks::sign(&Secret::new("guess"), body.as_bytes()),
        )
        .header("x-ofapi-idempotency-key", "evt_forged")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(
        run.stack
            .store
            .webhook_events(&registration.id)
            .await
            .unwrap()
            .len(),
        before
    );
    assert_eq!(run.alerts_in(ANN).len(), 1);

    // Removing the last alert deletes the webhook, after the yes only.
    let rule = run
        .stack
        .store
        .alert_rules(run.stack.team.id)
        .await
        .unwrap()[0]
        .id;
    run.stack
        .model
        .push(Reply::tool("remove_alert", json!({"id": rule})));
    run.telegram.send_text(ANN, "Stop the tip alerts");
    run.telegram
        .wait_until(WAIT, |fake| {
            fake.calls("sendmessage")
                .into_iter()
                .chain(fake.calls("editmessagetext"))
                .filter(|c| {
                    c["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("Should I go ahead?"))
                })
                .count()
                >= 2
        })
        .await;
    assert_eq!(webhooks().len(), 1);
    // The question says the webhook goes with the last alert.
    let question = run
        .telegram
        .calls("editmessagetext")
        .into_iter()
        .chain(run.telegram.calls("sendmessage"))
        .find(|c| {
            c["text"].as_str().is_some_and(|t| {
                t.contains("Should I go ahead?")
                    && t.contains("also delete the team's OnlyFansAPI webhook")
            })
        })
        .expect("the removal's question");
    let yes = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    run.stack.model.push(Reply::text("The tip alerts are off."));
    run.telegram
        .press(ANN, ANN, question["message_id"].as_i64().unwrap(), &yes);
    run.wait_for_text(ANN, "The tip alerts are off.").await;
    assert!(webhooks().is_empty());
    assert!(
        run.stack
            .store
            .webhook_registrations(run.stack.team.id)
            .await
            .unwrap()
            .is_empty()
    );
    let _ = run.stop.send(true);
}
