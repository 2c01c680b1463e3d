//! The client against the sandbox: data, writes, credits, limits, errors.

use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Catalog, ErrorKind, Request};
use chrono::Duration;
use serde_json::{Map, Value, json};

use crate::{KEY, client, sandbox};

fn args(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("arguments are an object")
}

async fn first_account(sandbox: &Sandbox) -> String {
    sandbox.inspect(|data| data.accounts[0].id.clone())
}

/// Fields the SDK types differently per endpoint (a bool in one fan model,
/// a string in another): the sandbox sends `null` where its value does not
/// fit that endpoint's model. Anything else not fitting is a sandbox bug.
const SDK_TYPE_QUIRKS: &[&str] = &[
    "subscribedByAutoprolong",
    "subscribedByExpire",
    "subscribedIsExpiredNow",
    "subscribedOn",
];

#[tokio::test]
async fn every_simulated_endpoint_answers_in_the_sdk_shape() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let account = first_account(&sandbox).await;
    let (fan, list, link, trial) = sandbox.inspect(|data| {
        let a = &data.accounts[0];
        (
            a.fans[0].id,
            a.user_lists[2].id.clone(),
            a.tracking_links[0].id,
            a.trial_links[0].id,
        )
    });
    let calls = [
        ("api-keys.whoami", json!({})),
        ("account.list-accounts", json!({})),
        ("account.get-current-account", json!({"account": account})),
        ("account.get-top-percentage", json!({"account": account})),
        (
            "statistics.statistics-overview",
            json!({"account": account}),
        ),
        (
            "statistics.get-earnings",
            json!({"account": account, "start_date": "2026-11-01 00:00:00", "end_date": "2026-11-20 00:00:00"}),
        ),
        (
            "statistics.get-subscriber-metrics",
            json!({"account": account, "start_date": "2026-10-01", "end_date": "2026-11-20"}),
        ),
        (
            "analytics-summary.get-earnings-overview",
            json!({"start_date": "2026-11-01", "end_date": "2026-11-20"}),
        ),
        (
            "transactions.list-transactions",
            json!({"account": account}),
        ),
        ("fans.list-all-fans", json!({"account": account})),
        ("fans.list-active-fans", json!({"account": account})),
        ("fans.list-expired-fans", json!({"account": account})),
        ("fans.list-latest-fans", json!({"account": account})),
        ("fans.list-top-fans", json!({"account": account})),
        ("chats.list-chats", json!({"account": account})),
        (
            "chat-messages.list-chat-messages",
            json!({"account": account, "chat_id": fan.to_string()}),
        ),
        (
            "chat-messages.send-message",
            json!({"account": account, "chat_id": fan.to_string(), "text": "Hi!"}),
        ),
        (
            "mass-messaging.send-mass-message",
            json!({"account": account, "text": "Hello all", "userLists": [list]}),
        ),
        (
            "mass-messaging.list-mass-message-queue",
            json!({"account": account}),
        ),
        (
            "mass-messaging.get-mass-message-overview",
            json!({"account": account}),
        ),
        (
            "tracking-links.list-tracking-links",
            json!({"account": account}),
        ),
        (
            "tracking-links.create-tracking-link",
            json!({"account": account, "name": "Threads bio"}),
        ),
        (
            "tracking-links.get-tracking-link",
            json!({"account": account, "tracking_link_id": link.to_string()}),
        ),
        (
            "tracking-links.get-tracking-link-stats",
            json!({"account": account, "tracking_link_id": link.to_string()}),
        ),
        (
            "free-trial-links.list-free-trial-links",
            json!({"account": account}),
        ),
        (
            "free-trial-links.create-free-trial-link",
            json!({"account": account, "duration": 7, "offerExpiration": 30, "offerLimit": 100}),
        ),
        (
            "free-trial-links.get-free-trial-link",
            json!({"account": account, "trial_link_id": trial.to_string()}),
        ),
        (
            "user-list-collections.list-user-lists",
            json!({"account": account}),
        ),
        (
            "user-list-collections.create-user-list",
            json!({"account": account, "name": "Big tippers"}),
        ),
        (
            "user-list-collections.add-users-to-user-list",
            json!({"account": account, "user_list_id": list, "ids": [fan.to_string()]}),
        ),
        (
            "user-list-collections.list-user-list-users",
            json!({"account": account, "user_list_id": list}),
        ),
        ("payouts.get-account-balances", json!({"account": account})),
        ("posts.list-posts", json!({"account": account})),
        (
            "posts.send-post",
            json!({"account": account, "text": "New week, new content ✨"}),
        ),
        ("media-vault.list-vault-media", json!({"account": account})),
        (
            "notifications.get-notification-counts",
            json!({"account": account}),
        ),
        ("webhooks.list-webhooks", json!({})),
        ("webhooks.list-available-events", json!({})),
    ];
    for (endpoint, arguments) in calls {
        let response = client
            .call(endpoint, &args(arguments))
            .await
            .unwrap_or_else(|err| panic!("{endpoint}: {err}"));
        assert!(!response.data.is_null(), "{endpoint} answered no data");
        assert_eq!(response.cost.credits_used, 1, "{endpoint}");
    }
    let unexpected: Vec<String> = sandbox
        .shape_mismatches()
        .into_iter()
        .filter(|m| {
            let field = m
                .split(':')
                .next()
                .unwrap_or("")
                .rsplit('.')
                .next()
                .unwrap_or("");
            !SDK_TYPE_QUIRKS.contains(&field)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "values that do not fit the SDK models:\n{}",
        unexpected.join("\n")
    );
}

#[tokio::test]
async fn earnings_are_the_sum_of_the_transactions() {
    let sandbox = sandbox().await;
    let account = first_account(&sandbox).await;
    let (expected_net, expected_gross) = sandbox.inspect(|data| {
        let end = data.now;
        let start = end - Duration::days(7);
        let week = data.accounts[0]
            .transactions
            .iter()
            .filter(|t| t.created_at >= start && t.created_at < end);
        let (net, gross) = week.fold((0.0, 0.0), |(n, g), t| (n + t.net, g + t.gross));
        (
            (net * 100.0_f64).round() / 100.0,
            (gross * 100.0_f64).round() / 100.0,
        )
    });
    let response = client(&sandbox.url())
        .call(
            "statistics.get-earnings",
            &args(json!({"account": account, "start_date": "2026-11-13 12:00:00", "end_date": "2026-11-20 12:00:00"})),
        )
        .await
        .unwrap();
    let total = &response.data["total"];
    assert!(expected_net > 0.0);
    assert_eq!(total["total"].as_f64().unwrap(), expected_net);
    assert_eq!(total["gross"].as_f64().unwrap(), expected_gross);
    assert_eq!(
        total["chartAmount"].as_array().unwrap().len(),
        8,
        "one point per calendar day touched"
    );
    let charted: f64 = total["chartAmount"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_f64().unwrap())
        .sum();
    assert!(
        (charted - expected_net).abs() < 0.05,
        "{charted} vs {expected_net}"
    );

    let missing = client(&sandbox.url())
        .call(
            "statistics.get-earnings",
            &args(json!({"account": account, "start_date": "2026-11-13"})),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::InvalidRequest);
    assert_eq!(
        missing.message,
        "the request was rejected (422): The end_date field is required."
    );
}

#[tokio::test]
async fn top_fans_are_ranked_by_spend() {
    let sandbox = sandbox().await;
    let account = first_account(&sandbox).await;
    let response = client(&sandbox.url())
        .call(
            "fans.list-top-fans",
            &args(json!({"account": account, "by": "tips"})),
        )
        .await
        .unwrap();
    let users = response.data["users"].as_array().unwrap();
    assert!(!users.is_empty() && users.len() <= 10);
    let tips: Vec<f64> = users
        .iter()
        .map(|u| u["spentInPeriod"].as_f64().unwrap())
        .collect();
    assert!(tips.windows(2).all(|w| w[0] >= w[1]), "{tips:?}");
    assert!(users[0]["subscribedOnData"]["tipsSumm"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn writes_change_what_reads_see() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let account = first_account(&sandbox).await;
    let fan = sandbox.inspect(|data| data.accounts[0].fans[3].id);

    // A chat message appears in its chat.
    let sent = client
        .call("chat-messages.send-message", &args(json!({"account": account, "chat_id": fan.to_string(), "text": "Your custom is ready 💌"})))
        .await
        .unwrap();
    let messages = client
        .call(
            "chat-messages.list-chat-messages",
            &args(json!({"account": account, "chat_id": fan.to_string()})),
        )
        .await
        .unwrap();
    assert_eq!(messages.data[0]["id"], sent.data["id"]);
    assert_eq!(messages.data[0]["text"], "Your custom is ready 💌");

    // A tracking link is listed once created and gone once deleted.
    let created = client
        .call(
            "tracking-links.create-tracking-link",
            &args(json!({"account": account, "name": "Snapchat story"})),
        )
        .await
        .unwrap();
    let id = created.data[0]["id"].as_i64().unwrap();
    let listed = |data: &Value| {
        data["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == id)
    };
    let list = client
        .call(
            "tracking-links.list-tracking-links",
            &args(json!({"account": account, "limit": 100, "with_deleted": 0})),
        )
        .await
        .unwrap();
    assert!(listed(&list.data));
    let duplicate = client
        .call(
            "tracking-links.create-tracking-link",
            &args(json!({"account": account, "name": "Snapchat story"})),
        )
        .await
        .unwrap_err();
    assert_eq!(duplicate.kind, ErrorKind::OnlyFans);
    assert_eq!(
        duplicate.message,
        "OnlyFans refused the request: Name already in use"
    );
    client
        .call(
            "tracking-links.delete-tracking-link",
            &args(json!({"account": account, "tracking_link_id": id.to_string()})),
        )
        .await
        .unwrap();
    let list = client
        .call(
            "tracking-links.list-tracking-links",
            &args(json!({"account": account, "limit": 100, "with_deleted": 0})),
        )
        .await
        .unwrap();
    assert!(!listed(&list.data));

    // A mass message reaches its recipients' chats; unsending takes it back.
    let before = sandbox.inspect(|data| data.accounts[0].mass_messages.len());
    let mass = client
        .call("mass-messaging.send-mass-message", &args(json!({"account": account, "text": "Weekend sale 🔥", "userIds": [fan.to_string()]})))
        .await
        .unwrap();
    let mass_id = mass.data["id"].as_i64().unwrap();
    assert_eq!(
        sandbox.inspect(|data| data.accounts[0].mass_messages.len()),
        before + 1
    );
    let delivered = |sandbox: &Sandbox| {
        sandbox.inspect(|data| {
            data.accounts[0]
                .chats
                .iter()
                .flat_map(|c| &c.messages)
                .filter(|m| m.queue_id == Some(mass_id))
                .count()
        })
    };
    assert_eq!(delivered(&sandbox), 1);
    client
        .call(
            "mass-messaging.unsend-delete-mass-message",
            &args(json!({"account": account, "id": mass_id.to_string()})),
        )
        .await
        .unwrap();
    assert_eq!(
        sandbox.inspect(|data| data.accounts[0].mass_messages.len()),
        before
    );
    assert_eq!(delivered(&sandbox), 0);
    let gone = client
        .call(
            "mass-messaging.get-mass-message",
            &args(json!({"account": account, "id": mass_id.to_string()})),
        )
        .await
        .unwrap_err();
    assert_eq!(gone.kind, ErrorKind::NotFound);

    // Lists, trial links and posts.
    let list = client
        .call(
            "user-list-collections.create-user-list",
            &args(json!({"account": account, "name": "Renew reminders"})),
        )
        .await
        .unwrap();
    let list_id = list.data["id"].as_i64().unwrap().to_string();
    client
        .call(
            "user-list-collections.add-users-to-user-list",
            &args(json!({"account": account, "user_list_id": list_id, "ids": [fan.to_string()]})),
        )
        .await
        .unwrap();
    assert!(sandbox.inspect(|data| {
        data.accounts[0]
            .user_lists
            .iter()
            .any(|l| l.id == list_id && l.user_ids == vec![fan])
    }));
    let trial = client
        .call("free-trial-links.create-free-trial-link", &args(json!({"account": account, "duration": 3, "offerExpiration": 0, "offerLimit": 10, "name": "Cyber Monday"})))
        .await
        .unwrap();
    let trial_id = trial.data["id"].as_i64().unwrap().to_string();
    client
        .call(
            "free-trial-links.delete-free-trial-link",
            &args(json!({"account": account, "trial_link_id": trial_id})),
        )
        .await
        .unwrap();
    assert!(sandbox.inspect(|data| {
        data.accounts[0]
            .trial_links
            .iter()
            .all(|l| l.name != "Cyber Monday")
    }));
    let posts_before = sandbox.inspect(|data| data.accounts[0].posts.len());
    client
        .call(
            "posts.send-post",
            &args(json!({"account": account, "text": "Good morning ☀️"})),
        )
        .await
        .unwrap();
    assert_eq!(
        sandbox.inspect(|data| data.accounts[0].posts.len()),
        posts_before + 1
    );
}

#[tokio::test]
async fn bad_writes_are_refused_and_change_nothing() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let account = first_account(&sandbox).await;
    let before = sandbox.inspect(|data| data.accounts[0].mass_messages.len());
    let no_text = client
        .call(
            "mass-messaging.send-mass-message",
            &args(json!({"account": account, "userLists": ["1"]})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        no_text.message,
        "the request was rejected (422): The text field is required."
    );
    let paid_without_media = client
        .call(
            "mass-messaging.send-mass-message",
            &args(json!({"account": account, "text": "PPV", "price": 25, "userIds": ["1"]})),
        )
        .await
        .unwrap_err();
    assert_eq!(paid_without_media.kind, ErrorKind::InvalidRequest);
    let stranger = client
        .call(
            "mass-messaging.send-mass-message",
            &args(json!({"account": account, "text": "Hi", "userIds": ["12345"]})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        stranger.message,
        "OnlyFans refused the request: User 12345 is not your fan"
    );
    assert_eq!(
        sandbox.inspect(|data| data.accounts[0].mass_messages.len()),
        before
    );

    let other_team = client
        .call(
            "fans.list-top-fans",
            &args(json!({"account": "acct_notours"})),
        )
        .await
        .unwrap_err();
    assert_eq!(other_team.kind, ErrorKind::Forbidden);
    assert_eq!(
        other_team.message,
        "OnlyFansAPI refused access (403): The account acct_notours is not connected to your team."
    );
}

#[tokio::test]
async fn credits_are_debited_per_uncached_request_and_reported() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let start = sandbox.balance();
    let whoami = client.send(&Request::get("/api/whoami")).await.unwrap();
    assert_eq!(whoami.cost.credits_used, 1);
    assert_eq!(whoami.cost.balance, Some(start - 1));
    assert!(!whoami.cost.cached);
    assert_eq!(sandbox.balance(), start - 1);

    // A paginated read: every page costs one credit, and the sum is reported.
    let account = first_account(&sandbox).await;
    let fans = sandbox.inspect(|data| data.accounts[0].fans.len());
    let used_before = sandbox.credits_used();
    let request = Request::get(format!("/api/{account}/fans/all")).query("limit", 7);
    let collected = client.collect_pages(&request, 100).await.unwrap();
    assert_eq!(collected.items.len(), fans);
    assert_eq!(collected.pages as usize, fans.div_ceil(7));
    assert_eq!(collected.credits_used, i64::from(collected.pages));
    assert_eq!(sandbox.credits_used() - used_before, collected.credits_used);
    assert_eq!(collected.balance, Some(sandbox.balance()));
    assert!(collected.skipped_next_page.is_none());
    let ids: std::collections::BTreeSet<i64> = collected
        .items
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), fans, "no fan twice, none skipped");

    // A page cap stops early and says what it skipped.
    let capped = client.collect_pages(&request, 2).await.unwrap();
    assert_eq!(capped.pages, 2);
    assert_eq!(capped.items.len(), 14);
    assert!(capped.skipped_next_page.unwrap().contains("offset=14"));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let mut config = SandboxConfig::new(KEY);
    config.rate_limit_per_minute = 2;
    let sandbox = Sandbox::start(config, 0).await.unwrap();
    let client = client(&sandbox.url());
    for _ in 0..2 {
        let response = client.send(&Request::get("/api/whoami")).await.unwrap();
        assert_eq!(response.rate_limit.limit_minute, Some(2));
    }
    // The wait (about a minute) is longer than this client accepts, so it
    // reports instead of sleeping.
    let limited = client.send(&Request::get("/api/whoami")).await.unwrap_err();
    assert_eq!(limited.kind, ErrorKind::RateLimited);
    let wait = limited.retry_after.unwrap();
    assert!(
        wait > std::time::Duration::from_secs(50) && wait <= std::time::Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(sandbox.credits_used(), 2, "refused requests cost nothing");
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let sandbox = sandbox().await;
    let mut config =
        agencybot_ofapi::ClientConfig::new(sandbox.url(), agencybot_core::Secret::new("wrong"));
    config.retry.max_retries = 0;
    let client = agencybot_ofapi::Client::new(config).unwrap();
    let error = client
        .send(&Request::get("/api/accounts"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert_eq!(sandbox.credits_used(), 0);
}

#[tokio::test]
async fn endpoints_that_are_not_simulated_say_so() {
    let sandbox = sandbox().await;
    let account = first_account(&sandbox).await;
    let endpoint = Catalog::onlyfans().get("posts.get-post").unwrap();
    let error = client(&sandbox.url())
        .send(
            &endpoint
                .request(&args(json!({"account": account, "post_id": "1"})))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotSimulated);
    assert_eq!(
        error.message,
        "GET /api/{account}/posts/{post_id} (posts.get-post) is not simulated in the sandbox; it works against the real OnlyFansAPI only."
    );
    let unknown = client(&sandbox.url())
        .send(&Request::get("/api/nothing"))
        .await
        .unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::NotFound);
}

/// The mass message `id` delivered to whom, from the chats.
fn mass_recipients(sandbox: &Sandbox, mass_id: i64) -> std::collections::BTreeSet<i64> {
    sandbox.inspect(|data| {
        data.accounts[0]
            .chats
            .iter()
            .filter(|c| c.messages.iter().any(|m| m.queue_id == Some(mass_id)))
            .map(|c| c.fan_id)
            .collect()
    })
}

#[tokio::test]
async fn a_mass_message_with_only_text_reaches_every_current_fan() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let account = first_account(&sandbox).await;
    let (now, active) = sandbox.inspect(|data| {
        let active: std::collections::BTreeSet<i64> = data.accounts[0]
            .fans
            .iter()
            .filter(|f| f.is_active(data.now))
            .map(|f| f.id)
            .collect();
        (data.now, active)
    });
    assert!(!active.is_empty());
    // Exactly the docs' minimal body.
    let sent = client
        .call(
            "mass-messaging.send-mass-message",
            &args(json!({"account": account, "text": "Hello!"})),
        )
        .await
        .expect("a text-only mass message is accepted");
    let mass_id = sent.data["id"].as_i64().unwrap();
    assert_eq!(sent.data["total"].as_i64().unwrap(), active.len() as i64);
    assert_eq!(mass_recipients(&sandbox, mass_id), active);
    let queued = sandbox.inspect(|data| {
        data.accounts[0]
            .mass_messages
            .iter()
            .find(|m| m.id == mass_id)
            .map(|m| (m.text.clone(), m.user_list_ids.clone()))
    });
    let fans_list = sandbox.inspect(|data| {
        data.accounts[0]
            .user_lists
            .iter()
            .find(|l| l.kind == "fans")
            .map(|l| l.id.clone())
            .unwrap()
    });
    assert_eq!(queued, Some(("Hello!".to_owned(), vec![fans_list])));

    // System list names, as in the docs' full example.
    let send = |body: Value| {
        let client = client.clone();
        let mut body = args(body);
        body.insert("account".into(), json!(account));
        async move { client.call("mass-messaging.send-mass-message", &body).await }
    };
    let expected = |keep: &dyn Fn(&agencybot_ofapi::sandbox::Fan) -> bool| {
        sandbox.inspect(|data| {
            data.accounts[0]
                .fans
                .iter()
                .filter(|f| keep(f))
                .map(|f| f.id)
                .collect::<std::collections::BTreeSet<i64>>()
        })
    };
    let expired = send(json!({"text": "Come back 💕", "userLists": ["expired"]}))
        .await
        .unwrap();
    assert_eq!(
        mass_recipients(&sandbox, expired.data["id"].as_i64().unwrap()),
        expected(&|f| !f.is_active(now))
    );
    let rebill_off = send(json!({"text": "Turn on renew?", "userLists": ["rebill_off"]}))
        .await
        .unwrap();
    let no_renew = expected(&|f| f.is_active(now) && !f.auto_renew);
    assert!(!no_renew.is_empty());
    assert_eq!(
        mass_recipients(&sandbox, rebill_off.data["id"].as_i64().unwrap()),
        no_renew
    );
    let all_names =
        send(json!({"text": "Everyone", "userLists": ["fans", "recent", "following", "tagged"]}))
            .await
            .unwrap();
    assert_eq!(
        mass_recipients(&sandbox, all_names.data["id"].as_i64().unwrap()),
        active
    );
    let recent = send(json!({"text": "Welcome!", "subscribedWithinLastDays": 30}))
        .await
        .unwrap();
    let new_fans = expected(&|f| f.is_active(now) && f.subscribed_at >= now - Duration::days(30));
    assert!(!new_fans.is_empty() && new_fans.len() < active.len());
    assert_eq!(
        mass_recipients(&sandbox, recent.data["id"].as_i64().unwrap()),
        new_fans
    );

    // What is still refused.
    for (body, message) in [
        (
            json!({"text": "Hi", "subscribedWithinLastDays": 31}),
            "the request was rejected (422): The subscribed within last days must be a whole number between 1 and 30.",
        ),
        (
            json!({"text": "Hi", "subscribedWithinLastDays": 3, "scheduledDate": "2026-12-01 10:00:00"}),
            "the request was rejected (422): The subscribed within last days field cannot be combined with scheduledDate or saveForLater.",
        ),
        (
            json!({"text": "Hi", "userLists": ["vip"]}),
            "OnlyFans refused the request: List vip not found",
        ),
    ] {
        let error = send(body.clone()).await.unwrap_err();
        assert_eq!(error.message, message, "{body}");
    }
}

#[tokio::test]
async fn webhooks_are_registered_changed_and_deleted() {
    let sandbox = sandbox().await;
    let client = client(&sandbox.url());
    let (first, second) =
        sandbox.inspect(|data| (data.accounts[0].id.clone(), data.accounts[1].id.clone()));
    let events = client
        .call("webhooks.list-available-events", &Map::new())
        .await
        .unwrap();
    let names: Vec<&str> = events
        .data
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 28);
    for name in [
        "tips.received",
        "subscriptions.new",
        "messages.received",
        "accounts.otp_code_required",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    assert!(
        events.data[0]["description"]
            .as_str()
            .unwrap()
            .ends_with('.')
    );

    let created = client
        .call(
            "webhooks.create-webhook",
            &args(json!({
                "endpoint_url": "https://bot.example/hooks/ofapi/1",
                "events": ["tips.received", "subscriptions.new"],
                "account_scope": "inclusive",
                "account_ids": [first],
                "signing_secret": "whsec-sandbox",
            })),
        )
        .await
        .unwrap();
    let id = created.data["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh_"), "{id}");
    assert_eq!(created.data["url"], "https://bot.example/hooks/ofapi/1");
    assert_eq!(created.data["has_signing_secret"], true);
    assert_eq!(created.data["enabled"], true);
    assert_eq!(created.data["created_at"], "2026-11-20T12:00:00.000000Z");
    assert!(
        created.data.get("signing_secret").is_none(),
        "the secret is never shown"
    );
    let stored = sandbox.inspect(|data| data.webhooks[0].clone());
    assert_eq!(stored.account_ids, vec![first.clone()]);
    assert_eq!(stored.signing_secret.as_deref(), Some("whsec-sandbox"));

    let listed = client
        .call("webhooks.list-webhooks", &Map::new())
        .await
        .unwrap();
    assert_eq!(listed.data.as_array().unwrap().len(), 1);
    let shown = client
        .call("webhooks.show-webhook", &args(json!({"webhook_id": id})))
        .await
        .unwrap();
    assert_eq!(shown.data, created.data);

    let updated = client
        .call(
            "webhooks.update-webhook",
            &args(json!({
                "webhook_id": id,
                "endpoint_url": "https://bot.example/hooks/ofapi/2",
                "events": ["tips.received"],
                "account_scope": "exclusive",
                "account_ids": [second],
                "enabled": false,
            })),
        )
        .await
        .unwrap();
    assert_eq!(updated.data["url"], "https://bot.example/hooks/ofapi/2");
    assert_eq!(updated.data["events"], json!(["tips.received"]));
    assert_eq!(updated.data["enabled"], false);
    assert_eq!(
        updated.data["has_signing_secret"], true,
        "update keeps the secret"
    );
    assert_eq!(
        sandbox.inspect(|data| data.webhooks[0].account_scope.clone()),
        "exclusive"
    );

    for (arguments, message) in [
        (
            json!({"endpoint_url": "not a url", "events": ["tips.received"], "account_scope": "global"}),
            "the request was rejected (422): The endpoint url must be a valid http or https URL.",
        ),
        (
            json!({"endpoint_url": "https://bot.example/h", "events": ["tips.sent"], "account_scope": "global"}),
            "the request was rejected (422): The event `tips.sent` is not available (see GET /api/webhooks/events).",
        ),
        (
            json!({"endpoint_url": "https://bot.example/h", "events": [], "account_scope": "global"}),
            "the request was rejected (422): The events field is required: name at least one event.",
        ),
        (
            json!({"endpoint_url": "https://bot.example/h", "events": ["tips.received"], "account_scope": "some"}),
            "the request was rejected (422): The account scope must be one of: global, inclusive, exclusive.",
        ),
        (
            json!({"endpoint_url": "https://bot.example/h", "events": ["tips.received"], "account_scope": "inclusive"}),
            "the request was rejected (422): The account ids field is required unless the account scope is global.",
        ),
        (
            json!({"endpoint_url": "https://bot.example/h", "events": ["tips.received"], "account_scope": "exclusive", "account_ids": ["acct_notours"]}),
            "OnlyFansAPI refused access (403): The account acct_notours is not connected to your team.",
        ),
    ] {
        let error = client
            .call("webhooks.create-webhook", &args(arguments.clone()))
            .await
            .unwrap_err();
        assert_eq!(error.message, message, "{arguments}");
    }
    // The SDK's update has no secret; sent anyway, it is refused, not ignored.
    let rotate = client
        .send(&agencybot_ofapi::Request {
            body: Some(json!({"endpoint_url": "https://bot.example/h", "events": ["tips.received"], "account_scope": "global", "signing_secret": "new"})),
            ..agencybot_ofapi::Request::new(reqwest::Method::PUT, format!("/api/webhooks/{id}"), agencybot_ofapi::Access::Write)
        })
        .await
        .unwrap_err();
    assert_eq!(
        rotate.message,
        "the request was rejected (422): The signing secret cannot be changed; create a new webhook to rotate it."
    );
    assert_eq!(sandbox.inspect(|data| data.webhooks.len()), 1);

    let deleted = client
        .call("webhooks.delete-webhook", &args(json!({"webhook_id": id})))
        .await
        .unwrap();
    assert_eq!(deleted.data["success"], true);
    let gone = client
        .call("webhooks.show-webhook", &args(json!({"webhook_id": id})))
        .await
        .unwrap_err();
    assert_eq!(gone.kind, ErrorKind::NotFound);
    assert!(sandbox.inspect(|data| data.webhooks.is_empty()));
}
