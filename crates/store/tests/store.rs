//! The store suite. Every test runs on both backends: `sqlite::name` on a
//! fresh database file, `postgres::name` in a fresh schema of the PostgreSQL
//! at `AGENCYBOT_TEST_POSTGRES_URL` (default 127.0.0.1:5432, database `test`).
//! With `CI=true` an unreachable PostgreSQL fails the run instead of skipping.

use std::collections::BTreeMap;
use std::sync::Arc;

use agencybot_core::{
    ActionState, ConversationKey, NewPendingAction, NewScheduledTask, NewUsageRecord, Platform,
    RequestKind, Role, TaskRunStatus, TaskStatus, Timestamp, UsageOutcome,
};
use agencybot_store::{
    ActionOutcome, Backend, ChannelSpec, ConfirmRefusal, DeliveryClaims, MemberSpec, Store,
    StoreError, StoreOptions, TeamSpec, UsageFilter,
};
use agencybot_testkit::PostgresSchema;
use chrono::{Duration, TimeZone, Utc};

mod harness {
    use super::*;
    use agencybot_testkit::PostgresSchema;

    pub struct TestDb {
        pub store: Store,
        // Field order matters: the pool closes before the schema is dropped.
        _schema: Option<PostgresSchema>,
        _dir: Option<tempfile::TempDir>,
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("agencybot.db").display());
        let store = Store::connect(&StoreOptions::new(url))
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestDb {
            store,
            _schema: None,
            _dir: Some(dir),
        }
    }

    /// `None` (test skipped) only outside CI when PostgreSQL is unreachable.
    pub async fn postgres() -> Option<TestDb> {
        let schema = PostgresSchema::create().await?;
        let mut options = StoreOptions::new(schema.url.clone());
        options.schema = Some(schema.name.clone());
        let store = Store::connect(&options).await.expect("open postgres");
        store.migrate().await.expect("migrate postgres");
        Some(TestDb {
            store,
            _schema: Some(schema),
            _dir: None,
        })
    }
}

/// Declares each test once per backend.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::harness::sqlite().await;
                    assert_eq!(db.store.backend(), super::Backend::Sqlite);
                    super::$name(&db.store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::harness::postgres().await else { return };
                    assert_eq!(db.store.backend(), super::Backend::Postgres);
                    super::$name(&db.store).await;
                }
            )*
        }
    };
}

store_tests!(
    migrating_twice_changes_nothing,
    teams_are_upserted_by_name,
    config_members_sync_and_hand_added_members_are_managed_by_cli,
    a_user_id_belongs_to_one_member,
    channels_mirror_the_config,
    conversations_keep_history_per_key,
    twenty_racing_confirmations_execute_once,
    expired_actions_cannot_be_confirmed,
    only_the_requester_in_the_same_conversation_decides,
    declined_actions_cannot_be_confirmed_and_finish_records_once,
    expiry_is_reported_once,
    a_lapsed_request_is_told_once_to_its_requester_without_a_sweep,
    tasks_are_created_listed_and_advanced_atomically,
    each_run_is_claimed_once_and_failures_are_counted,
    usage_records_are_filtered_and_credits_summed,
    skills_install_once_and_remove,
    interrupted_writes_become_unknown_and_are_told_once,
    a_conversation_key_belongs_to_one_team,
    integration_credentials_are_kept_replaced_and_cleared,
    webhook_deliveries_are_journaled_once_and_alerts_claimed_once,
    console_links_sign_in_once_and_sessions_end,
    channel_access_edited_in_the_console_outlives_a_config_sync,
    a_lease_has_one_holder_until_it_expires_or_is_released,
    a_delivery_is_claimed_once_until_pruned,
    deliveries_claimed_together_are_each_claimed_once,
    a_new_conversation_is_created_once_by_racing_turns,
    an_abandoned_run_is_closed_once,
);

fn at(hour: u32, minute: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap()
}

async fn team(store: &Store) -> i64 {
    store
        .upsert_team(&TeamSpec {
            name: "Velvet Agency".into(),
            default_model: Some("gpt-4.1-mini".into()),
            timezone: Some("Europe/Berlin".into()),
            daily_credit_budget: Some(5000),
            daily_usd_budget: None,
        })
        .await
        .unwrap()
        .id
}

fn member(name: &str, role: Role, telegram: &[&str]) -> MemberSpec {
    MemberSpec {
        name: name.into(),
        role,
        user_ids: BTreeMap::from([(
            Platform::Telegram,
            telegram.iter().map(|s| s.to_string()).collect(),
        )]),
    }
}

async fn migrating_twice_changes_nothing(store: &Store) {
    let status = store.migration_status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
    let shipped = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap()
    .count();
    assert_eq!(status.applied.len(), shipped);
    assert!(store.migrate().await.unwrap().is_empty());
    assert_eq!(store.migration_status().await.unwrap(), status);
    store.ping().await.unwrap();
}

async fn teams_are_upserted_by_name(store: &Store) {
    let id = team(store).await;
    let updated = store
        .upsert_team(&TeamSpec {
            name: "Velvet Agency".into(),
            default_model: None,
            timezone: Some("America/New_York".into()),
            daily_credit_budget: None,
            daily_usd_budget: None,
        })
        .await
        .unwrap();
    assert_eq!(updated.id, id);
    assert_eq!(updated.timezone.as_deref(), Some("America/New_York"));
    assert_eq!(updated.daily_credit_budget, None);
    assert_eq!(store.teams().await.unwrap().len(), 1);
    assert_eq!(store.team(id).await.unwrap(), updated);
    assert_eq!(
        store.team_by_name("Velvet Agency").await.unwrap(),
        Some(updated)
    );
    assert!(store.team_by_name("nobody").await.unwrap().is_none());
    assert!(matches!(
        store.team(id + 100).await,
        Err(StoreError::NotFound { what: "team", .. })
    ));
}

async fn config_members_sync_and_hand_added_members_are_managed_by_cli(store: &Store) {
    let team_id = team(store).await;
    store
        .sync_config_members(
            team_id,
            &[
                member("Ann", Role::Owner, &["10"]),
                member("Bo", Role::Viewer, &["11"]),
            ],
        )
        .await
        .unwrap();
    let added = store
        .add_member(team_id, &member("Cy", Role::Member, &["12", "13"]))
        .await
        .unwrap();
    assert!(!added.from_config);
    assert_eq!(added.user_ids[&Platform::Telegram], vec!["12", "13"]);

    // Config changes: Bo becomes admin, Ann is gone; Cy (hand-added) stays.
    store
        .sync_config_members(team_id, &[member("Bo", Role::Admin, &["11"])])
        .await
        .unwrap();
    let members = store.members(team_id).await.unwrap();
    let names: Vec<_> = members.iter().map(|m| (m.name.as_str(), m.role)).collect();
    assert_eq!(names, [("Bo", Role::Admin), ("Cy", Role::Member)]);

    let found = store
        .member_by_user(team_id, Platform::Telegram, "13")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "Cy");
    assert!(
        store
            .member_by_user(team_id, Platform::Slack, "13")
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        store
            .set_member_role(team_id, "Cy", Role::Viewer)
            .await
            .unwrap()
            .role,
        Role::Viewer
    );
    assert!(matches!(
        store.set_member_role(team_id, "Bo", Role::Owner).await,
        Err(StoreError::ManagedByConfig(name)) if name == "Bo"
    ));
    assert!(matches!(
        store.remove_member(team_id, "Bo").await,
        Err(StoreError::ManagedByConfig(_))
    ));
    assert!(matches!(
        store
            .add_member(team_id, &member("Cy", Role::Member, &[]))
            .await,
        Err(StoreError::AlreadyExists { what: "member", .. })
    ));
    store.remove_member(team_id, "Cy").await.unwrap();
    assert!(matches!(
        store.remove_member(team_id, "Cy").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.members(team_id).await.unwrap().len(), 1);
}

async fn a_user_id_belongs_to_one_member(store: &Store) {
    let team_id = team(store).await;
    store
        .sync_config_members(team_id, &[member("Ann", Role::Owner, &["10"])])
        .await
        .unwrap();
    let err = store
        .add_member(team_id, &member("Eve", Role::Member, &["10"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user ID `telegram 10 (member Ann)` already exists"
    );
    // IDs may move between config members in one sync.
    store
        .sync_config_members(
            team_id,
            &[
                member("Ann", Role::Owner, &["20"]),
                member("Bo", Role::Member, &["10"]),
            ],
        )
        .await
        .unwrap();
    let bo = store
        .member_by_user(team_id, Platform::Telegram, "10")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bo.name, "Bo");
}

async fn channels_mirror_the_config(store: &Store) {
    let team_id = team(store).await;
    let spec = |name: &str, platform| ChannelSpec {
        team_id,
        platform,
        name: name.into(),
        settings: serde_json::json!({"api_url": "http://127.0.0.1:1"}),
        permitted_user_ids: vec!["42".into()],
        allow_everyone: false,
    };
    let channels = store
        .sync_channels(&[
            spec("tg", Platform::Telegram),
            spec("dc", Platform::Discord),
        ])
        .await
        .unwrap();
    assert_eq!(channels.len(), 2);
    let tg = store.channel("tg").await.unwrap().unwrap();
    assert_eq!(tg.platform, Platform::Telegram);
    assert_eq!(tg.permitted_user_ids, vec!["42"]);
    assert_eq!(tg.settings["api_url"], "http://127.0.0.1:1");

    let mut open = spec("dc", Platform::Discord);
    open.allow_everyone = true;
    let channels = store.sync_channels(&[open]).await.unwrap();
    assert_eq!(channels.len(), 1);
    assert!(channels[0].allow_everyone);
    assert!(store.channel("tg").await.unwrap().is_none());
}

async fn conversations_keep_history_per_key(store: &Store) {
    let team_id = team(store).await;
    let ann = ConversationKey::direct("telegram-main", Platform::Telegram, "10", "10");
    let bo = ConversationKey::direct("telegram-main", Platform::Telegram, "11", "11");
    assert!(!store.has_conversation(&ann).await.unwrap());
    let conv = store.conversation(team_id, &ann, at(9, 0)).await.unwrap();
    assert!(store.has_conversation(&ann).await.unwrap());
    let again = store.conversation(team_id, &ann, at(9, 1)).await.unwrap();
    assert_eq!(conv.id, again.id);
    let other = store.conversation(team_id, &bo, at(9, 0)).await.unwrap();
    assert_ne!(conv.id, other.id);

    let encoded = |value| serde_json::value::to_raw_value(&value).unwrap();
    let hi = encoded(serde_json::json!({"role": "user", "content": "hi"}));
    let hello = encoded(serde_json::json!({"role": "assistant", "content": "hello"}));
    store
        .append_messages(
            conv.id,
            &[("user", &hi, 3), ("assistant", &hello, 4)],
            at(9, 0),
        )
        .await
        .unwrap();
    let secret = encoded(serde_json::json!({"role": "user", "content": "secret"}));
    store
        .append_messages(other.id, &[("user", &secret, 3)], at(9, 0))
        .await
        .unwrap();
    store
        .append_messages(other.id, &[], at(9, 0))
        .await
        .unwrap();
    let history = store.history(conv.id).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(),
        ["user", "assistant"],
        "in the order given"
    );
    assert!(history[0].id < history[1].id);
    let second = history[1].id;
    assert_eq!(history[1].body["content"], "hello");
    assert_eq!(history[0].tokens, 3);

    store
        .compact_history(conv.id, Some("They greeted."), second)
        .await
        .unwrap();
    assert_eq!(store.history(conv.id).await.unwrap().len(), 1);
    let conv = store.conversation(team_id, &ann, at(9, 2)).await.unwrap();
    assert_eq!(conv.summary.as_deref(), Some("They greeted."));

    store.reset_conversation(&ann).await.unwrap();
    assert!(store.history(conv.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .conversation(team_id, &ann, at(9, 3))
            .await
            .unwrap()
            .summary,
        None
    );
    assert_eq!(
        store.history(other.id).await.unwrap().len(),
        1,
        "other conversation untouched"
    );
}

async fn proposed_action(
    store: &Store,
    team_id: i64,
    key: &ConversationKey,
    now: Timestamp,
) -> i64 {
    store
        .create_pending_action(
            &NewPendingAction {
                team_id,
                conversation: key.clone(),
                requested_by: "10".into(),
                tool: "chats.send-mass-message".into(),
                arguments: serde_json::json!({"account": "acct_1", "text": "New set tonight", "price": 9.99}),
                summary: "Send a mass message to all fans of @mia: \"New set tonight\" for $9.99".into(),
                expires_at: now + Duration::minutes(10),
            },
            now,
        )
        .await
        .unwrap()
        .id
}

async fn twenty_racing_confirmations_execute_once(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("telegram-main", Platform::Telegram, "10", "10");
    let id = proposed_action(store, team_id, &key, at(9, 0)).await;
    let action = store.pending_action(id).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Pending);
    assert_eq!(action.arguments["price"], 9.99);

    let store = Arc::new(store.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut handles = Vec::new();
    for _ in 0..20 {
        let (store, barrier, key) = (store.clone(), barrier.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .confirm_action(id, &key, "10", at(9, 1))
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(action) => {
                assert_eq!(action.state, ActionState::Confirmed);
                assert_eq!(action.decided_by.as_deref(), Some("10"));
                winners += 1;
            }
            Err(refusal) => {
                assert_eq!(
                    refusal,
                    ConfirmRefusal::AlreadyDecided(ActionState::Confirmed)
                );
            }
        }
    }
    assert_eq!(winners, 1);
}

async fn expired_actions_cannot_be_confirmed(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("telegram-main", Platform::Telegram, "10", "10");
    let id = proposed_action(store, team_id, &key, at(9, 0)).await;
    let refusal = store
        .confirm_action(id, &key, "10", at(9, 10))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refusal, ConfirmRefusal::Expired);
    assert_eq!(
        refusal.to_string(),
        "this action expired before it was confirmed"
    );
    let action = store.pending_action(id).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Expired);
    // Still refused, now as already decided.
    assert_eq!(
        store
            .confirm_action(id, &key, "10", at(9, 11))
            .await
            .unwrap(),
        Err(ConfirmRefusal::AlreadyDecided(ActionState::Expired))
    );
    assert_eq!(
        store
            .confirm_action(id + 1000, &key, "10", at(9, 1))
            .await
            .unwrap(),
        Err(ConfirmRefusal::NotFound)
    );
}

async fn only_the_requester_in_the_same_conversation_decides(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::thread("telegram-main", Platform::Slack, "C1", "1700000000.000100");
    let id = proposed_action(store, team_id, &key, at(9, 0)).await;
    assert_eq!(
        store
            .confirm_action(id, &key, "11", at(9, 1))
            .await
            .unwrap(),
        Err(ConfirmRefusal::OtherUser)
    );
    let elsewhere = ConversationKey::direct("telegram-main", Platform::Slack, "D1", "10");
    assert_eq!(
        store
            .confirm_action(id, &elsewhere, "10", at(9, 1))
            .await
            .unwrap(),
        Err(ConfirmRefusal::OtherConversation)
    );
    assert_eq!(
        store
            .decline_action(id, &key, "11", at(9, 1))
            .await
            .unwrap(),
        Err(ConfirmRefusal::OtherUser)
    );
    assert_eq!(store.open_actions(&key, at(9, 1)).await.unwrap().len(), 1);
    assert!(
        store
            .confirm_action(id, &key, "10", at(9, 1))
            .await
            .unwrap()
            .is_ok()
    );
    assert!(store.open_actions(&key, at(9, 1)).await.unwrap().is_empty());
}

async fn declined_actions_cannot_be_confirmed_and_finish_records_once(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("telegram-main", Platform::Discord, "5", "10");
    let declined = proposed_action(store, team_id, &key, at(9, 0)).await;
    let action = store
        .decline_action(declined, &key, "10", at(9, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(action.state, ActionState::Declined);
    assert_eq!(
        store
            .confirm_action(declined, &key, "10", at(9, 2))
            .await
            .unwrap(),
        Err(ConfirmRefusal::AlreadyDecided(ActionState::Declined))
    );
    assert!(
        !store
            .finish_action(
                declined,
                ActionOutcome::Executed(&serde_json::json!({})),
                at(9, 2)
            )
            .await
            .unwrap()
    );

    let executed = proposed_action(store, team_id, &key, at(9, 0)).await;
    store
        .confirm_action(executed, &key, "10", at(9, 1))
        .await
        .unwrap()
        .unwrap();
    let result = serde_json::json!({"id": 991, "sent": true});
    assert!(
        store
            .finish_action(executed, ActionOutcome::Executed(&result), at(9, 2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_action(executed, ActionOutcome::Failed("again"), at(9, 2))
            .await
            .unwrap()
    );
    let action = store.pending_action(executed).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Executed);
    assert_eq!(action.result, Some(result));

    let failed = proposed_action(store, team_id, &key, at(9, 0)).await;
    store
        .confirm_action(failed, &key, "10", at(9, 1))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .finish_action(failed, ActionOutcome::Failed("OnlyFans said no"), at(9, 2))
            .await
            .unwrap()
    );
    let action = store.pending_action(failed).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Failed);
    assert_eq!(action.error.as_deref(), Some("OnlyFans said no"));
}

async fn expiry_is_reported_once(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("telegram-main", Platform::Telegram, "10", "10");
    let early = proposed_action(store, team_id, &key, at(9, 0)).await;
    let late = proposed_action(store, team_id, &key, at(9, 5)).await;
    let expired = store.expire_actions(at(9, 12)).await.unwrap();
    assert_eq!(expired.iter().map(|a| a.id).collect::<Vec<_>>(), [early]);
    assert!(store.expire_actions(at(9, 12)).await.unwrap().is_empty());
    assert_eq!(
        store
            .open_actions(&key, at(9, 12))
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        [late]
    );
}

async fn a_lapsed_request_is_told_once_to_its_requester_without_a_sweep(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("telegram-main", Platform::Telegram, "10", "10");
    let other = ConversationKey::direct("telegram-main", Platform::Telegram, "11", "11");
    let lapsed = proposed_action(store, team_id, &key, at(9, 0)).await;
    let fresh = proposed_action(store, team_id, &key, at(9, 5)).await;
    let elsewhere = proposed_action(store, team_id, &other, at(9, 0)).await;
    // Someone else in the conversation is told nothing.
    assert!(
        store
            .take_unnoticed(&key, "11", at(9, 12))
            .await
            .unwrap()
            .is_empty()
    );
    let told = store.take_unnoticed(&key, "10", at(9, 12)).await.unwrap();
    assert_eq!(told.iter().map(|a| a.id).collect::<Vec<_>>(), [lapsed]);
    assert_eq!(told[0].state, ActionState::Expired);
    assert!(
        store
            .take_unnoticed(&key, "10", at(9, 13))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = store.pending_action(lapsed).await.unwrap().unwrap();
    assert_eq!(stored.state, ActionState::Expired);
    assert!(stored.notified_at.is_some());
    assert_eq!(
        store.pending_action(fresh).await.unwrap().unwrap().state,
        ActionState::Pending
    );
    assert_eq!(
        store
            .pending_action(elsewhere)
            .await
            .unwrap()
            .unwrap()
            .state,
        ActionState::Pending,
        "another conversation's request is left to its own turn or the sweep"
    );
}

fn new_task(team_id: i64, name: &str, next: Option<Timestamp>) -> NewScheduledTask {
    NewScheduledTask {
        team_id,
        name: name.into(),
        creator: "10".into(),
        channel: "telegram-main".into(),
        destination: "10".into(),
        model: None,
        prompt: "Summarise yesterday's earnings for every account.".into(),
        skill: Some("daily-earnings-digest".into()),
        schedule: "daily 08:00".into(),
        timezone: "Europe/Berlin".into(),
        allowed_writes: vec![],
        next_run_at: next,
    }
}

async fn tasks_are_created_listed_and_advanced_atomically(store: &Store) {
    let team_id = team(store).await;
    let task = store
        .create_task(
            &new_task(team_id, "Morning digest", Some(at(7, 0))),
            at(6, 0),
        )
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Active);
    assert_eq!(task.skill.as_deref(), Some("daily-earnings-digest"));
    assert!(matches!(
        store
            .create_task(&new_task(team_id, "Morning digest", None), at(6, 0))
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    store
        .create_task(&new_task(team_id, "Later", Some(at(12, 0))), at(6, 0))
        .await
        .unwrap();
    assert_eq!(store.tasks(team_id).await.unwrap().len(), 2);
    let due = store.due_tasks(at(7, 0)).await.unwrap();
    assert_eq!(
        due.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["Morning digest"]
    );

    let tomorrow = at(7, 0) + Duration::days(1);
    assert!(
        store
            .advance_task(task.id, at(7, 0), Some(tomorrow))
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_task(task.id, at(7, 0), Some(tomorrow))
            .await
            .unwrap(),
        "moved once"
    );
    let task = store.task(task.id).await.unwrap();
    assert_eq!(task.next_run_at, Some(tomorrow));
    assert_eq!(task.last_run_at, Some(at(7, 0)));
    assert!(store.due_tasks(at(7, 30)).await.unwrap().is_empty());

    let paused = store
        .set_task_status(task.id, TaskStatus::Paused, None)
        .await
        .unwrap();
    assert_eq!(paused.status, TaskStatus::Paused);
    let mut edited = paused.clone();
    edited.prompt = "Only @mia".into();
    edited.allowed_writes = vec![
        "tracking-links.create-tracking-link account=acct_1"
            .parse()
            .unwrap(),
    ];
    let edited = store.update_task(&edited).await.unwrap();
    assert_eq!(edited.prompt, "Only @mia");
    assert_eq!(
        edited.allowed_writes[0].to_string(),
        "tracking-links.create-tracking-link account=acct_1"
    );
    store.delete_task(task.id).await.unwrap();
    assert!(matches!(
        store.task(task.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_task(task.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn each_run_is_claimed_once_and_failures_are_counted(store: &Store) {
    let team_id = team(store).await;
    let task = store
        .create_task(&new_task(team_id, "Digest", Some(at(7, 0))), at(6, 0))
        .await
        .unwrap();
    let store = Arc::new(store.clone());
    let mut handles = Vec::new();
    for instance in 0..10 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .claim_run(
                    task.id,
                    at(7, 0),
                    1,
                    &format!("instance-{instance}"),
                    at(7, 0),
                )
                .await
                .unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for handle in handles {
        claimed.extend(handle.await.unwrap());
    }
    assert_eq!(claimed.len(), 1);
    let run = &claimed[0];
    assert_eq!(run.status, TaskRunStatus::Running);
    store
        .finish_run(run.id, Err("model timed out"), at(7, 1))
        .await
        .unwrap();
    let retry = store
        .claim_run(task.id, at(7, 0), 2, "instance-0", at(7, 2))
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(retry.id, Err("model timed out"), at(7, 3))
        .await
        .unwrap();
    assert_eq!(store.record_task_outcome(task.id, false).await.unwrap(), 1);
    assert_eq!(store.record_task_outcome(task.id, false).await.unwrap(), 2);
    let next = store
        .claim_run(task.id, at(8, 0), 1, "instance-0", at(8, 0))
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(next.id, Ok("Earnings: $1,204"), at(8, 1))
        .await
        .unwrap();
    assert_eq!(store.record_task_outcome(task.id, true).await.unwrap(), 0);
    store.run_task_soon(task.id, at(8, 30)).await.unwrap();
    assert_eq!(
        store.task(task.id).await.unwrap().next_run_at,
        Some(at(8, 30))
    );
    assert_eq!(
        store
            .task_by_name(team_id, "DIGEST")
            .await
            .unwrap()
            .unwrap()
            .id,
        task.id
    );

    let runs = store.task_runs(task.id).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].output.as_deref(), Some("Earnings: $1,204"));
    assert_eq!(runs[0].status, TaskRunStatus::Succeeded);
    assert_eq!(runs[1].attempt, 2);
    assert_eq!(runs[2].error.as_deref(), Some("model timed out"));
}

async fn usage_records_are_filtered_and_credits_summed(store: &Store) {
    let team_id = team(store).await;
    let record = |kind, platform, model: &str, credits, hour| NewUsageRecord {
        team_id,
        platform,
        user_id: "10".into(),
        kind,
        model: model.into(),
        prompt_tokens: 1200,
        completion_tokens: 300,
        cost_usd: 0.00096,
        credits,
        web_searches: 0,
        web_searches_cached: 0,
        web_search_usd: 0.0,
        integration_calls: Default::default(),
        duration_ms: 2400,
        outcome: UsageOutcome::Success,
        created_at: at(hour, 0),
    };
    store
        .record_usage(&record(
            RequestKind::Chat,
            Platform::Telegram,
            "gpt-4.1-mini",
            3,
            8,
        ))
        .await
        .unwrap();
    store
        .record_usage(&record(
            RequestKind::ScheduledTask,
            Platform::Slack,
            "gpt-4.1",
            5,
            9,
        ))
        .await
        .unwrap();
    store
        .record_usage(&record(
            RequestKind::Chat,
            Platform::Slack,
            "gpt-4.1-mini",
            7,
            10,
        ))
        .await
        .unwrap();

    let all = store
        .usage_records(&UsageFilter {
            team_id: Some(team_id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|r| r.credits).collect::<Vec<_>>(),
        [7, 5, 3],
        "newest first"
    );
    assert_eq!(all[2].prompt_tokens, 1200);
    assert!((all[2].cost_usd - 0.00096).abs() < 1e-12);
    assert_eq!(all[2].created_at, at(8, 0));

    let chats = store
        .usage_records(&UsageFilter {
            kind: Some(RequestKind::Chat),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(chats.len(), 2);
    let slack_mini = store
        .usage_records(&UsageFilter {
            platform: Some(Platform::Slack),
            model: Some("gpt-4.1-mini".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(slack_mini.len(), 1);
    let window = store
        .usage_records(&UsageFilter {
            since: Some(at(9, 0)),
            until: Some(at(10, 0)),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].kind, RequestKind::ScheduledTask);

    assert_eq!(
        store.credits_used_since(team_id, at(9, 0)).await.unwrap(),
        12
    );
    assert_eq!(
        store.credits_used_since(team_id, at(11, 0)).await.unwrap(),
        0
    );

    // Web searches: billed, cached, their cost, and the sum for the budget.
    store
        .record_usage(&NewUsageRecord {
            web_searches: 2,
            web_searches_cached: 1,
            web_search_usd: 0.01,
            integration_calls: Default::default(),
            cost_usd: 0.011,
            ..record(RequestKind::Chat, Platform::Telegram, "gpt-4.1-mini", 0, 11)
        })
        .await
        .unwrap();
    let newest = &store
        .usage_records(&UsageFilter {
            team_id: Some(team_id),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()[0];
    assert_eq!((newest.web_searches, newest.web_searches_cached), (2, 1));
    assert!((newest.web_search_usd - 0.01).abs() < 1e-12);
    let searched = store
        .web_search_usd_since(team_id, at(10, 0))
        .await
        .unwrap();
    assert!((searched - 0.01).abs() < 1e-12);
    assert_eq!(
        store
            .web_search_usd_since(team_id, at(12, 0))
            .await
            .unwrap(),
        0.0
    );
}

async fn skills_install_once_and_remove(store: &Store) {
    let team_id = team(store).await;
    assert!(
        store
            .install_skill(team_id, "whale-watch", Some("Engagement"), "10", at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .install_skill(team_id, "whale-watch", None, "10", at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        store
            .install_skill(team_id, "churn-rescue", None, "10", at(9, 0))
            .await
            .unwrap()
    );
    let installed = store.installed_skills(team_id).await.unwrap();
    assert_eq!(
        installed
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["churn-rescue", "whale-watch"]
    );
    assert_eq!(installed[1].installed_via.as_deref(), Some("Engagement"));
    assert!(store.remove_skill(team_id, "whale-watch").await.unwrap());
    assert!(!store.remove_skill(team_id, "whale-watch").await.unwrap());
    assert_eq!(store.installed_skills(team_id).await.unwrap().len(), 1);
}

/// Rows written before conversation keys named their channel: 0002 gives
/// each its team's channel on its platform, and lets actions be `unknown`.
const BEFORE_CHANNEL_KEYS: &str = "
    INSERT INTO teams (id, name, created_at) VALUES (1, 'Velvet', 0);
    INSERT INTO channels (id, team_id, platform, name, settings, permitted_user_ids, allow_everyone, updated_at)
        VALUES (1, 1, 'telegram', 'tg-main', '{}', '[]', FALSE, 0);
    INSERT INTO conversations (id, team_id, key, platform, created_at, updated_at)
        VALUES (1, 1, 'telegram:42@42', 'telegram', 0, 0),
               (2, 1, 'terminal:local@ann', 'terminal', 0, 0);
    INSERT INTO pending_actions (id, team_id, conversation_key, requested_by, tool, arguments, summary, state, created_at, expires_at)
        VALUES (1, 1, 'telegram:42@42', '42', 'x.y', '{}', 'Do X', 'pending', 0, 1);
";

const AFTER_CHANNEL_KEYS: &str = "SELECT key FROM conversations ORDER BY id";
const ACTION_KEY: &str = "SELECT conversation_key FROM pending_actions WHERE id = 1";
const ACTION_UNKNOWN: &str = "UPDATE pending_actions SET state = 'unknown' WHERE id = 1";

async fn integration_credentials_are_kept_replaced_and_cleared(store: &Store) {
    assert_eq!(store.integration_credentials("notion").await.unwrap(), None);
    store
        .save_integration_credentials("notion", "sealed-1", at(9, 0))
        .await
        .unwrap();
    store
        .save_integration_credentials("notion", "sealed-2", at(9, 5))
        .await
        .unwrap();
    store
        .save_integration_credentials("sheets", "sealed-3", at(9, 5))
        .await
        .unwrap();
    assert_eq!(
        store
            .integration_credentials("notion")
            .await
            .unwrap()
            .as_deref(),
        Some("sealed-2")
    );
    assert!(store.clear_integration_credentials("notion").await.unwrap());
    assert!(!store.clear_integration_credentials("notion").await.unwrap());
    assert_eq!(store.integration_credentials("notion").await.unwrap(), None);
    assert_eq!(
        store
            .integration_credentials("sheets")
            .await
            .unwrap()
            .as_deref(),
        Some("sealed-3")
    );
}

async fn webhook_deliveries_are_journaled_once_and_alerts_claimed_once(store: &Store) {
    use agencybot_store::{EventStatus, NewAlertRule, NewWebhookEvent, WebhookRegistration};

    let team_id = team(store).await;
    let registration = WebhookRegistration {
        id: "hook-abc".into(),
        team_id,
        webhook_id: Some("wh_1".into()),
        secret: "s3cret".into(),
        previous_secret: None,
        events: vec!["tips.received".into()],
        accounts: vec!["acct_1".into()],
        created_by: "Ann".into(),
        created_at: at(9, 0),
    };
    store.add_webhook_registration(&registration).await.unwrap();
    assert_eq!(
        store.webhook_registration("hook-abc").await.unwrap(),
        Some(registration.clone())
    );
    let delivery = NewWebhookEvent {
        registration_id: "hook-abc",
        idempotency_key: "evt_1",
        redelivery_of: None,
        event: "tips.received",
        account_id: Some("acct_1"),
        body: "{}",
        status: EventStatus::Pending,
        detail: None,
        received_at: at(9, 1),
    };
    let id = store
        .journal_webhook_event(&delivery)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.journal_webhook_event(&delivery).await.unwrap(), None);
    assert_eq!(
        store.open_webhook_events(at(9, 0), 10).await.unwrap(),
        vec![id]
    );

    // One worker takes it; another cannot, until the first is long gone.
    assert!(
        store
            .claim_webhook_event(id, at(9, 2), at(9, 0))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .claim_webhook_event(id, at(9, 2), at(9, 0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .open_webhook_events(at(9, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.open_webhook_events(at(9, 5), 10).await.unwrap(),
        vec![id]
    );
    let taken = store
        .claim_webhook_event(id, at(9, 6), at(9, 5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.idempotency_key, "evt_1");
    store
        .finish_webhook_event(id, EventStatus::Done, None, at(9, 6))
        .await
        .unwrap();
    assert!(
        store
            .open_webhook_events(at(23, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.webhook_events("hook-abc").await.unwrap()[0].status,
        EventStatus::Done
    );

    let rule = store
        .add_alert_rule(&NewAlertRule {
            team_id,
            kind: "new_subscribers",
            accounts: &[],
            threshold_cents: None,
            channel: "tg",
            destination: "111",
            digest_minutes: Some(30),
            quiet_from: None,
            quiet_until: None,
            created_by: "Ann",
            created_at: at(9, 0),
        })
        .await
        .unwrap();
    assert!(store.claim_alert(rule, "tip:1", at(9, 0)).await.unwrap());
    assert!(!store.claim_alert(rule, "tip:1", at(9, 0)).await.unwrap());
    for fan in 0..10 {
        assert!(
            store
                .queue_digest_item(
                    rule,
                    &format!("sub:{fan}"),
                    &format!("fan {fan}"),
                    at(9, fan)
                )
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .queue_digest_item(rule, "sub:0", "fan 0", at(9, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        store.oldest_digest_item(rule).await.unwrap(),
        Some(at(9, 0))
    );
    let (a, b) = tokio::join!(
        store.claim_digest(rule, "batch-a"),
        store.claim_digest(rule, "batch-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 10, "{a:?} {b:?}");
    assert!(
        a.is_empty() || b.is_empty(),
        "one batch takes every line: {a:?} {b:?}"
    );
    assert_eq!(store.oldest_digest_item(rule).await.unwrap(), None);
    assert!(store.rules_with_waiting_items().await.unwrap().is_empty());
    assert!(store.remove_alert_rule(team_id, rule).await.unwrap());
    assert!(store.remove_webhook_registration("hook-abc").await.unwrap());
}

fn migration(backend: &str, name: &str) -> String {
    let path = format!(
        "{}/../../migrations/{backend}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Applies 0001, writes rows the old way, applies 0002 and checks the keys,
/// on an open connection of either backend.
macro_rules! check_channel_keys {
    ($conn:expr, $backend:literal) => {{
        let conn = $conn;
        for (file, rows) in [
            ("0001_initial.sql", BEFORE_CHANNEL_KEYS),
            ("0002_gate.sql", ""),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(migration($backend, file)))
                .execute(&mut *conn)
                .await
                .unwrap();
            if !rows.is_empty() {
                sqlx::raw_sql(rows).execute(&mut *conn).await.unwrap();
            }
        }
        let keys: Vec<(String,)> = sqlx::query_as(AFTER_CHANNEL_KEYS)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            keys,
            [
                ("tg-main#telegram:42@42".to_owned(),),
                ("terminal#terminal:local@ann".to_owned(),)
            ]
        );
        for (key,) in &keys {
            assert!(key.parse::<ConversationKey>().is_ok(), "{key}");
        }
        let (action,): (String,) = sqlx::query_as(ACTION_KEY)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(action, "tg-main#telegram:42@42");
        sqlx::query(ACTION_UNKNOWN)
            .execute(&mut *conn)
            .await
            .unwrap();
    }};
}

#[tokio::test]
async fn sqlite_migration_keys_existing_conversations_by_their_channel() {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    check_channel_keys!(&mut conn, "sqlite");
}

#[tokio::test]
async fn postgres_migration_keys_existing_conversations_by_their_channel() {
    use sqlx::Connection;
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&schema.url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET search_path TO \"{}\"",
        schema.name
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    check_channel_keys!(&mut conn, "postgres");
    conn.close().await.unwrap();
}

async fn interrupted_writes_become_unknown_and_are_told_once(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("tg", Platform::Telegram, "10", "10");
    let old = proposed_action(store, team_id, &key, at(9, 0)).await;
    let fresh = proposed_action(store, team_id, &key, at(9, 0)).await;
    for (id, when) in [(old, at(9, 1)), (fresh, at(9, 9))] {
        store
            .confirm_action(id, &key, "10", when)
            .await
            .unwrap()
            .unwrap();
    }
    // Only what was confirmed before the cut-off: another instance may
    // still be executing the fresh one.
    let recovered = store.recover_interrupted(at(9, 5)).await.unwrap();
    assert_eq!(recovered.iter().map(|a| a.id).collect::<Vec<_>>(), [old]);
    assert_eq!(recovered[0].state, ActionState::Unknown);
    assert!(
        store
            .recover_interrupted(at(9, 5))
            .await
            .unwrap()
            .is_empty()
    );
    let told = store.take_unnoticed(&key, "10", at(9, 10)).await.unwrap();
    assert_eq!(told.iter().map(|a| a.id).collect::<Vec<_>>(), [old]);
    assert!(
        store
            .take_unnoticed(&key, "10", at(9, 11))
            .await
            .unwrap()
            .is_empty()
    );
    // An outcome seen in its own turn is not told again.
    assert!(
        store
            .finish_action(fresh, ActionOutcome::Unknown("timed out"), at(9, 10))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_unnoticed(&key, "10", at(9, 12))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_conversation_key_belongs_to_one_team(store: &Store) {
    let first = team(store).await;
    let second = store
        .upsert_team(&TeamSpec {
            name: "Other".into(),
            default_model: None,
            timezone: None,
            daily_credit_budget: None,
            daily_usd_budget: Some(5.0),
        })
        .await
        .unwrap();
    assert_eq!(second.daily_usd_budget, Some(5.0));
    let key = ConversationKey::direct("tg", Platform::Telegram, "10", "10");
    store.conversation(first, &key, at(9, 0)).await.unwrap();
    assert!(matches!(
        store.conversation(second.id, &key, at(9, 1)).await,
        Err(StoreError::OtherTeam { .. })
    ));
    // The same person on another channel is another conversation.
    let elsewhere = ConversationKey::direct("tg-other", Platform::Telegram, "10", "10");
    store
        .conversation(second.id, &elsewhere, at(9, 1))
        .await
        .unwrap();
}

async fn console_links_sign_in_once_and_sessions_end(store: &Store) {
    use agencybot_store::{ConsoleIdentity, ConsoleSession};
    let team_id = team(store).await;
    let ann = ConsoleIdentity {
        team_id,
        member_name: "Ann".into(),
    };
    store
        .create_console_link("link-1", &ann, at(9, 0), at(9, 10))
        .await
        .unwrap();
    store
        .create_console_link("link-2", &ann, at(9, 0), at(9, 10))
        .await
        .unwrap();
    // Once, while fresh; an unknown link signs no one in.
    assert_eq!(
        store.redeem_console_link("link-1", at(9, 5)).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.redeem_console_link("link-1", at(9, 6)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .redeem_console_link("link-2", at(9, 10))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.redeem_console_link("nope", at(9, 1)).await.unwrap(),
        None
    );

    let session = ConsoleSession {
        identity: ann.clone(),
        csrf_token: "csrf".into(),
        expires_at: at(17, 0),
    };
    store
        .create_console_session("s-1", &session, Some("Firefox"), at(9, 5))
        .await
        .unwrap();
    store
        .create_console_session("s-2", &session, None, at(9, 5))
        .await
        .unwrap();
    assert_eq!(
        store.console_session("s-1", at(10, 0)).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.console_session("s-1", at(17, 0)).await.unwrap(), None);
    assert!(store.end_console_session("s-1", at(10, 0)).await.unwrap());
    assert!(!store.end_console_session("s-1", at(10, 1)).await.unwrap());
    assert_eq!(store.console_session("s-1", at(10, 2)).await.unwrap(), None);
    assert_eq!(
        store
            .end_member_console_sessions(&ann, at(10, 3))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.console_session("s-2", at(10, 4)).await.unwrap(), None);
    // Listed while live, per member or for the team, and ended one by one
    // only within the team.
    let vic = ConsoleIdentity {
        team_id,
        member_name: "Vic".into(),
    };
    store
        .create_console_session("s-3", &session, Some("Firefox"), at(10, 5))
        .await
        .unwrap();
    let vic_session = ConsoleSession {
        identity: vic,
        ..session.clone()
    };
    store
        .create_console_session("s-4", &vic_session, None, at(10, 6))
        .await
        .unwrap();
    let all = store
        .console_sessions(team_id, None, at(11, 0))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.id_hash.as_str()).collect::<Vec<_>>(),
        ["s-4", "s-3"]
    );
    assert_eq!(all[1].user_agent.as_deref(), Some("Firefox"));
    let anns = store
        .console_sessions(team_id, Some("Ann"), at(11, 0))
        .await
        .unwrap();
    assert_eq!(anns.len(), 1);
    assert!(
        !store
            .end_team_console_session(team_id + 1, "s-4", at(11, 1))
            .await
            .unwrap()
    );
    assert!(
        store
            .end_team_console_session(team_id, "s-4", at(11, 1))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .console_sessions(team_id, None, at(11, 2))
            .await
            .unwrap()
            .len(),
        1
    );

    store
        .record_audit(team_id, "Ann", "task.create", "daily-earnings", at(10, 5))
        .await
        .unwrap();
    store
        .record_audit(team_id, "Ann", "skill.install", "bundle starter", at(10, 6))
        .await
        .unwrap();
    let log = store.audit_log(team_id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "skill.install");
    assert_eq!(log[1].detail, "daily-earnings");
}

async fn channel_access_edited_in_the_console_outlives_a_config_sync(store: &Store) {
    let team_id = team(store).await;
    let spec = |permitted: &[&str], everyone: bool| ChannelSpec {
        team_id,
        platform: Platform::Telegram,
        name: "tg".into(),
        settings: serde_json::json!({}),
        permitted_user_ids: permitted.iter().map(|s| s.to_string()).collect(),
        allow_everyone: everyone,
    };
    store.sync_channels(&[spec(&["1"], false)]).await.unwrap();
    let access = store.channel_access("tg").await.unwrap().unwrap();
    assert_eq!(access.permitted_user_ids, ["1"]);
    assert_eq!(access.edited, None);
    assert_eq!(store.channel_access("nope").await.unwrap(), None);

    // The config's changes apply while the console has not edited it.
    store.sync_channels(&[spec(&["2"], false)]).await.unwrap();
    assert_eq!(
        store
            .channel("tg")
            .await
            .unwrap()
            .unwrap()
            .permitted_user_ids,
        ["2"]
    );

    assert!(
        store
            .set_channel_access("tg", &["7".into(), "8".into()], true, "Ann", at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_channel_access("nope", &[], false, "Ann", at(9, 0))
            .await
            .unwrap()
    );
    store.sync_channels(&[spec(&["3"], false)]).await.unwrap();
    let channel = store.channel("tg").await.unwrap().unwrap();
    assert_eq!(channel.permitted_user_ids, ["7", "8"]);
    assert!(channel.allow_everyone);
    let access = store.channel_access("tg").await.unwrap().unwrap();
    assert_eq!(access.config_permitted_user_ids, ["3"]);
    assert!(!access.config_allow_everyone);
    assert_eq!(access.edited, Some(("Ann".into(), at(9, 0))));

    assert!(store.reset_channel_access("tg").await.unwrap());
    let channel = store.channel("tg").await.unwrap().unwrap();
    assert_eq!(channel.permitted_user_ids, ["3"]);
    assert!(!channel.allow_everyone);
    assert_eq!(
        store.channel_access("tg").await.unwrap().unwrap().edited,
        None
    );
}

async fn a_lease_has_one_holder_until_it_expires_or_is_released(store: &Store) {
    let ttl = std::time::Duration::from_secs(15);
    assert!(
        store
            .hold_lease("poll:tg", "a", ttl, at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .hold_lease("poll:tg", "b", ttl, at(9, 0))
            .await
            .unwrap()
    );
    // Renewed by its holder, so it is still not free when the first term ends.
    assert!(
        store
            .hold_lease("poll:tg", "a", ttl, at(9, 0) + Duration::seconds(10))
            .await
            .unwrap()
    );
    assert!(
        !store
            .hold_lease("poll:tg", "b", ttl, at(9, 0) + Duration::seconds(20))
            .await
            .unwrap()
    );
    // Expired: taken over.
    assert!(
        store
            .hold_lease("poll:tg", "b", ttl, at(9, 1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .hold_lease("poll:tg", "a", ttl, at(9, 1))
            .await
            .unwrap()
    );
    let held = store.leases(at(9, 1)).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].holder, "b");
    // Released by someone else: nothing; by its holder: free at once.
    store.release_lease("poll:tg", "a").await.unwrap();
    assert!(
        !store
            .hold_lease("poll:tg", "a", ttl, at(9, 1))
            .await
            .unwrap()
    );
    store.release_lease("poll:tg", "b").await.unwrap();
    assert!(
        store
            .hold_lease("poll:tg", "a", ttl, at(9, 1))
            .await
            .unwrap()
    );
    // Another lease is independent.
    assert!(
        store
            .hold_lease("gateway:dc", "b", ttl, at(9, 1))
            .await
            .unwrap()
    );
}

async fn a_delivery_is_claimed_once_until_pruned(store: &Store) {
    assert!(
        store
            .claim_delivery("tg", "telegram:1", at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_delivery("tg", "telegram:1", at(9, 5))
            .await
            .unwrap()
    );
    // Another channel's delivery of the same id is its own.
    assert!(
        store
            .claim_delivery("slack", "telegram:1", at(9, 5))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_delivery("tg", "telegram:2", at(10, 0))
            .await
            .unwrap()
    );
    assert_eq!(store.prune_deliveries(at(9, 30)).await.unwrap(), 2);
    assert!(
        store
            .claim_delivery("tg", "telegram:1", at(10, 5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_delivery("tg", "telegram:2", at(10, 5))
            .await
            .unwrap()
    );
}

async fn deliveries_claimed_together_are_each_claimed_once(store: &Store) {
    let claimed = store
        .claim_deliveries("tg", &[("a", at(9, 0)), ("b", at(9, 0)), ("a", at(9, 0))])
        .await
        .unwrap();
    assert_eq!(claimed, ["a".to_owned(), "b".to_owned()].into());
    let claimed = store
        .claim_deliveries("tg", &[("b", at(9, 1)), ("c", at(9, 1))])
        .await
        .unwrap();
    assert_eq!(claimed, ["c".to_owned()].into());
    assert!(store.claim_deliveries("tg", &[]).await.unwrap().is_empty());
    // Two instances' writers, each given every id twice at once: each id
    // is claimed by exactly one of the 160 requests.
    let instances = [
        DeliveryClaims::new(store.clone(), "tg".into()),
        DeliveryClaims::new(store.clone(), "tg".into()),
    ];
    let mut racing = tokio::task::JoinSet::new();
    for copy in 0..4 {
        for n in 0..40 {
            let claims = instances[copy % 2].clone();
            racing.spawn(async move {
                let id = format!("burst:{n}");
                let won = claims.claim(&id, at(9, 2)).await.unwrap();
                (id, won)
            });
        }
    }
    let mut winners = BTreeMap::new();
    while let Some(result) = racing.join_next().await {
        let (id, won) = result.unwrap();
        *winners.entry(id).or_insert(0) += usize::from(won);
    }
    assert_eq!(winners.len(), 40);
    assert!(winners.values().all(|&won| won == 1), "{winners:?}");
    // Claimed through the writer means claimed in the store.
    assert!(
        !store
            .claim_delivery("tg", "burst:7", at(9, 3))
            .await
            .unwrap()
    );
}

async fn a_new_conversation_is_created_once_by_racing_turns(store: &Store) {
    let team_id = team(store).await;
    let key = ConversationKey::direct("tg", Platform::Telegram, "77", "77");
    let mut racing = tokio::task::JoinSet::new();
    for minute in 0..20 {
        let (store, key) = (store.clone(), key.clone());
        racing.spawn(async move { store.conversation(team_id, &key, at(9, minute)).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(result) = racing.join_next().await {
        ids.insert(result.unwrap().unwrap().id);
    }
    assert_eq!(
        ids.len(),
        1,
        "one conversation, read by every turn: {ids:?}"
    );
    let again = store.conversation(team_id, &key, at(10, 0)).await.unwrap();
    assert_eq!(ids.first(), Some(&again.id));
    assert_eq!(again.key, key);
}

async fn an_abandoned_run_is_closed_once(store: &Store) {
    let team_id = team(store).await;
    let task = store
        .create_task(
            &NewScheduledTask {
                team_id,
                name: "digest".into(),
                creator: "cli".into(),
                channel: "tg".into(),
                destination: "1".into(),
                model: None,
                prompt: "Earnings?".into(),
                skill: None,
                schedule: "daily 08:00".into(),
                timezone: "UTC".into(),
                allowed_writes: Vec::new(),
                next_run_at: None,
            },
            at(7, 0),
        )
        .await
        .unwrap();
    let alive = store
        .claim_run(task.id, at(8, 0), 1, "a", at(8, 0))
        .await
        .unwrap()
        .unwrap();
    let dead = store
        .claim_run(task.id, at(8, 1), 1, "b", at(8, 0))
        .await
        .unwrap()
        .unwrap();
    store.beat_run(alive.id, at(8, 5)).await.unwrap();
    let abandoned = store.abandoned_runs(at(8, 3)).await.unwrap();
    assert_eq!(
        abandoned.iter().map(|r| r.id).collect::<Vec<_>>(),
        [dead.id]
    );
    assert!(
        store
            .close_abandoned_run(dead.id, at(8, 3), "interrupted", at(8, 6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_abandoned_run(dead.id, at(8, 3), "interrupted", at(8, 6))
            .await
            .unwrap()
    );
    let closed = store.task_run(dead.id).await.unwrap();
    assert_eq!(closed.status, TaskRunStatus::Failed);
    assert_eq!(closed.error.as_deref(), Some("interrupted"));
    // A beating run is not abandoned however old it is.
    assert!(
        !store
            .close_abandoned_run(alive.id, at(8, 3), "x", at(8, 6))
            .await
            .unwrap()
    );
    assert!(store.abandoned_runs(at(8, 4)).await.unwrap().is_empty());
}
