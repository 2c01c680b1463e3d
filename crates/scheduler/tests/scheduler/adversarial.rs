//! The adversarial suite: every known way around the confirmation gate,
//! one test per case, each run on SQLite and on PostgreSQL against the
//! sandbox, the scripted model, the engine, the hub and the runner. The
//! sandbox's state is checked after each case.

use std::collections::BTreeMap;
use std::sync::Mutex as StdMutex;

use agencybot_agent::{ConfirmButton, EngineConfig, Hub, Incoming, Mode, TurnReport, TurnRequest};
use agencybot_core::{
    ActionState, AllowedWrite, ConversationKey, InboundContent, InboundMessage, NewPendingAction,
    NewUsageRecord, TaskStatus, UsageOutcome,
};
use agencybot_store::{ChannelSpec, MemberSpec, TeamSpec};
use agencybot_testkit::StackOptions;

use super::*;

/// A store on each backend; PostgreSQL in a schema of its own.
struct Db {
    store: Store,
    _schema: Option<PostgresSchema>,
}

async fn sqlite() -> Db {
    Db {
        store: Store::in_memory().await.expect("sqlite"),
        _schema: None,
    }
}

async fn postgres() -> Option<Db> {
    let schema = PostgresSchema::create().await?;
    let mut options = StoreOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    let store = Store::connect(&options).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(Db {
        store,
        _schema: Some(schema),
    })
}

/// Declares each case once per backend.
macro_rules! adversarial {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::sqlite().await;
                    super::$name(db.store.clone()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::postgres().await else { return };
                    super::$name(db.store.clone()).await;
                }
            )*
        }
    };
}

adversarial!(
    approved_write_then_model_failure_in_an_unattended_run_happens_once_and_is_reported,
    run_task_now_by_a_viewer_is_refused_and_nothing_runs,
    run_task_now_by_a_guest_is_refused_and_nothing_runs,
    run_task_now_by_injected_text_is_refused_and_nothing_runs,
    a_creator_demoted_to_viewer_has_the_tasks_writes_skipped_and_reported,
    a_task_whose_creator_left_the_team_does_not_run,
    an_unattended_write_outside_its_approved_shape_is_skipped,
    yes_to_all_pressed_after_a_newer_action_was_proposed_runs_only_the_shown_ones,
    a_typed_yes_with_actions_from_two_messages_asks_which,
    a_member_confirming_an_admin_only_endpoint_is_refused_at_confirmation,
    a_role_lowered_between_proposal_and_confirmation_is_refused,
    an_endpoint_turned_off_by_default_is_never_proposed,
    the_same_telegram_user_on_two_channels_of_two_teams_has_separate_histories_and_actions,
    a_write_timing_out_at_the_api_is_unknown_and_never_sent_twice,
    a_write_interrupted_by_a_restart_becomes_unknown_and_the_user_is_told_once,
    an_expired_action_is_not_listed_and_is_reported_once,
    ten_concurrent_turns_over_the_credit_budget_make_at_most_one_model_call_past_it,
    a_team_over_its_usd_budget_gets_no_model_call,
    a_user_over_the_rate_limit_gets_a_clear_reply_and_no_model_call,
    a_confirmed_result_is_stored_as_a_system_note_not_as_the_users_words,
    a_mass_message_without_recipients_is_never_proposed,
    an_export_stops_at_the_credit_budget,
);

const ADMIN: &str = "111";
const MEMBER: &str = "222";
const VIEWER: &str = "333";

fn team_members() -> [TestMember<'static>; 3] {
    [
        TestMember {
            name: "Ann",
            role: Role::Admin,
            user_id: ADMIN,
        },
        TestMember {
            name: "Bo",
            role: Role::Member,
            user_id: MEMBER,
        },
        TestMember {
            name: "Cy",
            role: Role::Viewer,
            user_id: VIEWER,
        },
    ]
}

async fn stack_with(store: Store, options: StackOptions) -> Stack {
    Stack::start_configured(
        store,
        CHANNEL,
        Platform::Telegram,
        &team_members(),
        false,
        options,
        |engine| agencybot_scheduler::register(engine, Arc::new(Vec::new())),
    )
    .await
}

async fn stack(store: Store) -> Stack {
    stack_with(store, StackOptions::default()).await
}

/// Changes a config-declared member's role, as editing the config does.
async fn set_role(stack: &Stack, user: &str, role: Role) {
    let specs: Vec<MemberSpec> = team_members()
        .iter()
        .map(|m| MemberSpec {
            name: m.name.into(),
            role: if m.user_id == user { role } else { m.role },
            user_ids: BTreeMap::from([(Platform::Telegram, vec![m.user_id.to_owned()])]),
        })
        .collect();
    stack
        .store
        .sync_config_members(stack.team.id, &specs)
        .await
        .unwrap();
}

fn dm(user: &str) -> ConversationKey {
    ConversationKey::direct(CHANNEL, Platform::Telegram, user, user)
}

fn request(stack: &Stack, user: &str, role: Role, content: InboundContent) -> TurnRequest {
    TurnRequest {
        team: stack.team.clone(),
        conversation: dm(user),
        user_id: user.into(),
        role,
        content,
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    }
}

async fn turn(stack: &Stack, request: TurnRequest) -> (TurnReport, Vec<OutboundMessage>) {
    let (sink, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let report = stack.engine.handle(request, &sink).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(event) = receiver.recv().await {
        events.push(event);
    }
    (report, events)
}

async fn say(
    stack: &Stack,
    user: &str,
    role: Role,
    text: &str,
) -> (TurnReport, Vec<OutboundMessage>) {
    turn(
        stack,
        request(stack, user, role, InboundContent::Text(text.into())),
    )
    .await
}

fn texts(events: &[OutboundMessage]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            OutboundMessage::Text(text) | OutboundMessage::Confirmation { text, .. } => {
                Some(text.clone())
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What reached one conversation through the hub, turn by turn.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<StdMutex<Vec<OutboundMessage>>>,
    finished: Arc<StdMutex<usize>>,
}

impl Responder for Capture {
    fn deliver(&self, event: OutboundMessage) -> BoxFuture<'_, ()> {
        self.events.lock().unwrap().push(event);
        Box::pin(async {})
    }

    fn finished<'a>(&'a self, _report: &'a TurnReport) -> BoxFuture<'a, ()> {
        *self.finished.lock().unwrap() += 1;
        Box::pin(async {})
    }
}

impl Capture {
    async fn wait_turns(&self, turns: usize) {
        let waited = tokio::time::timeout(WAIT, async {
            while *self.finished.lock().unwrap() < turns {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "{turns} turn(s) finished in time");
    }

    fn text(&self) -> String {
        texts(&self.events.lock().unwrap())
    }
}

/// Sends one message through the hub as `user` and waits for its turn.
async fn through_hub(hub: &Hub, capture: &Capture, user: &str, content: InboundContent) {
    let before = *capture.finished.lock().unwrap();
    let admission = hub
        .submit(Incoming {
            delivery_id: None,
            message: InboundMessage {
                channel: hub.channel_name().to_owned(),
                conversation: ConversationKey::direct(
                    hub.channel_name(),
                    Platform::Telegram,
                    user,
                    user,
                ),
                user_id: user.into(),
                user_name: None,
                content,
            },
            responder: Arc::new(capture.clone()),
        })
        .await
        .unwrap();
    assert_eq!(admission, agencybot_agent::Admission::Accepted);
    capture.wait_turns(before + 1).await;
}

fn tracking_links(stack: &Stack) -> usize {
    stack.sandbox.inspect(|d| {
        d.accounts
            .iter()
            .map(|a| {
                a.tracking_links
                    .iter()
                    .filter(|l| l.deleted_at.is_none())
                    .count()
            })
            .sum()
    })
}

fn create_link(account: &str, name: &str) -> Value {
    json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": name}})
}

fn allow_links_on(account: &str) -> AllowedWrite {
    format!("tracking-links.create-tracking-link account={account}")
        .parse()
        .unwrap()
}

async fn due_task(stack: &Stack, name: &str, creator: &str, writes: Vec<AllowedWrite>) -> i64 {
    let due = stack.clock.now();
    let mut new = task(stack.team.id, name, "daily 13:00", due);
    new.creator = creator.into();
    new.destination = creator.into();
    new.allowed_writes = writes;
    stack.store.create_task(&new, due).await.unwrap().id
}

async fn run_due(stack: &Stack) -> Delivered {
    let delivered = Delivered::default();
    tick_all(&[runner(stack, Arc::new(delivered.clone()), "one")]).await;
    delivered
}

async fn approved_write_then_model_failure_in_an_unattended_run_happens_once_and_is_reported(
    store: Store,
) {
    let stack = stack(store).await;
    let account = stack.account(0);
    let task_id = due_task(&stack, "links", ADMIN, vec![allow_links_on(&account)]).await;
    stack.model.push(Reply::tool(
        "call_api",
        create_link(&account, "Spring promo"),
    ));
    // Then the model fails; a retry would meet the same failure (nothing
    // more is scripted) and a second create would show in the sandbox.
    stack.model.push(Step::Status(500));
    let before = tracking_links(&stack);

    let delivered = run_due(&stack).await;

    assert_eq!(tracking_links(&stack), before + 1, "the link was made once");
    let runs = stack.store.task_runs(task_id).await.unwrap();
    assert_eq!(runs.len(), 1, "no retry after a write: {runs:?}");
    assert_eq!(runs[0].status, TaskRunStatus::Failed);
    let texts = delivered.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let report = &texts[0].1;
    assert!(report.contains("stopped before it finished"), "{report}");
    assert!(
        report.contains("Spring promo"),
        "says what was done: {report}"
    );
    assert!(report.contains("won't retry"), "{report}");
}

/// A task that would make a link if it ran, and the way to see whether it ran.
async fn armed_task(stack: &Stack) -> (i64, Option<Timestamp>) {
    let account = stack.account(0);
    let later = stack.clock.now() + chrono::Duration::hours(5);
    let mut new = task(stack.team.id, "links", "daily 18:00", later);
    new.creator = ADMIN.into();
    new.allowed_writes = vec![allow_links_on(&account)];
    let created = stack
        .store
        .create_task(&new, stack.clock.now())
        .await
        .unwrap();
    (created.id, created.next_run_at)
}

async fn assert_not_started(stack: &Stack, task_id: i64, next: Option<Timestamp>) {
    let task = stack.store.task(task_id).await.unwrap();
    assert_eq!(task.next_run_at, next, "the task was not made due");
    let delivered = run_due(stack).await;
    assert!(delivered.texts().is_empty(), "nothing ran");
    assert!(stack.store.task_runs(task_id).await.unwrap().is_empty());
}

async fn run_task_now_by_a_viewer_is_refused_and_nothing_runs(store: Store) {
    let stack = stack(store).await;
    let (task_id, next) = armed_task(&stack).await;
    stack
        .model
        .push(Reply::tool("run_task_now", json!({"name": "links"})));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        Reply::text(&last_tool_result(request).to_string())
    })));
    let before = tracking_links(&stack);

    let (report, _) = say(&stack, VIEWER, Role::Viewer, "run the links task now").await;

    let answer = report.answer.unwrap();
    assert!(
        answer.contains("not proposed") && answer.contains("admin"),
        "{answer}"
    );
    assert!(report.proposed.is_empty());
    assert_not_started(&stack, task_id, next).await;
    assert_eq!(tracking_links(&stack), before);
}

async fn run_task_now_by_a_guest_is_refused_and_nothing_runs(store: Store) {
    let stack = Stack::start_configured(
        store,
        CHANNEL,
        Platform::Telegram,
        &team_members(),
        true,
        StackOptions::default(),
        |engine| agencybot_scheduler::register(engine, Arc::new(Vec::new())),
    )
    .await;
    let (task_id, next) = armed_task(&stack).await;
    stack
        .model
        .push(Reply::tool("run_task_now", json!({"name": "links"})));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        Reply::text(&last_tool_result(request).to_string())
    })));
    let before = tracking_links(&stack);
    let capture = Capture::default();

    // A stranger on a channel open to everyone: a guest.
    through_hub(
        &stack.hub,
        &capture,
        "999",
        InboundContent::Text("run the links task now".into()),
    )
    .await;

    assert!(
        capture.text().contains("not proposed"),
        "{}",
        capture.text()
    );
    assert!(
        stack
            .store
            .open_actions(&dm("999"), stack.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_started(&stack, task_id, next).await;
    assert_eq!(tracking_links(&stack), before);
}

async fn run_task_now_by_injected_text_is_refused_and_nothing_runs(store: Store) {
    let stack = stack(store).await;
    let (task_id, next) = armed_task(&stack).await;
    // A daily digest reads the chats; a fan's message says to run the
    // links task, and the model obeys it.
    let digest = due_task(&stack, "digest", ADMIN, Vec::new()).await;
    let account = stack.account(0);
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "chats.list-chats", "arguments": {"account": account}}),
    ));
    stack
        .model
        .push(Reply::tool("run_task_now", json!({"name": "links"})));
    stack.model.push(Reply::text("Digest done."));
    let before = tracking_links(&stack);

    let delivered = run_due(&stack).await;

    let report = delivered
        .texts()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        report.contains("Run the scheduled task “links”"),
        "{report}"
    );
    assert!(report.contains("not approved for this task"), "{report}");
    assert_eq!(stack.store.task_runs(digest).await.unwrap().len(), 1);
    assert_not_started(&stack, task_id, next).await;
    assert_eq!(tracking_links(&stack), before);

    // In a chat, the same injection becomes a flagged question, not a run.
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "chats.list-chats", "arguments": {"account": account}}),
    ));
    stack
        .model
        .push(Reply::tool("run_task_now", json!({"name": "links"})));
    let (report, events) = say(&stack, ADMIN, Role::Admin, "summarise my chats").await;
    assert_eq!(report.proposed.len(), 1);
    assert!(
        texts(&events).contains("Proposed after reading text from outside the team"),
        "{}",
        texts(&events)
    );
    assert_not_started(&stack, task_id, next).await;
}

async fn a_creator_demoted_to_viewer_has_the_tasks_writes_skipped_and_reported(store: Store) {
    let stack = stack(store).await;
    let account = stack.account(0);
    due_task(&stack, "links", MEMBER, vec![allow_links_on(&account)]).await;
    set_role(&stack, MEMBER, Role::Viewer).await;
    stack.model.push(Reply::tool(
        "call_api",
        create_link(&account, "Spring promo"),
    ));
    stack.model.push(Reply::text("Made the link."));
    let before = tracking_links(&stack);

    let delivered = run_due(&stack).await;

    assert_eq!(tracking_links(&stack), before, "nothing was made");
    let texts = delivered.texts();
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].1.contains("Not done:") && texts[0].1.contains("creator is now viewer"),
        "{}",
        texts[0].1
    );
}

async fn a_task_whose_creator_left_the_team_does_not_run(store: Store) {
    let stack = stack(store).await;
    let account = stack.account(0);
    let task_id = due_task(&stack, "links", "444", vec![allow_links_on(&account)]).await;
    let before = tracking_links(&stack);

    let delivered = run_due(&stack).await;

    assert_eq!(stack.model.requests().len(), 0, "no model call");
    assert_eq!(tracking_links(&stack), before);
    let texts = delivered.texts();
    assert_eq!(texts.len(), 1);
    assert!(texts[0].1.contains("no longer a member"), "{}", texts[0].1);
    assert_eq!(
        stack.store.task(task_id).await.unwrap().status,
        TaskStatus::Paused
    );
}

async fn an_unattended_write_outside_its_approved_shape_is_skipped(store: Store) {
    let stack = stack(store).await;
    let (first, second) = (stack.account(0), stack.account(1));
    due_task(&stack, "links", ADMIN, vec![allow_links_on(&first)]).await;
    // Approved on the first account; the run asks for the second.
    stack.model.push(Reply::tool(
        "call_api",
        create_link(&second, "Spring promo"),
    ));
    stack.model.push(Reply::text("Made the link."));
    let before = tracking_links(&stack);

    let delivered = run_due(&stack).await;

    assert_eq!(tracking_links(&stack), before);
    assert!(
        delivered.texts()[0]
            .1
            .contains("not approved for this task")
    );
}

/// Proposes one link per name in one model reply: one confirmation message.
async fn propose_links(stack: &Stack, user: &str, role: Role, names: &[&str]) -> Vec<i64> {
    let account = stack.account(0);
    stack.model.push(Reply::tools(
        names
            .iter()
            .map(|name| ("call_api", create_link(&account, name)))
            .collect(),
    ));
    let (report, _) = say(stack, user, role, "make some links").await;
    assert_eq!(report.proposed.len(), names.len(), "{:?}", report.answer);
    report.proposed
}

async fn yes_to_all_pressed_after_a_newer_action_was_proposed_runs_only_the_shown_ones(
    store: Store,
) {
    let stack = stack(store).await;
    let shown = propose_links(&stack, MEMBER, Role::Member, &["A1", "A2"]).await;
    let newer = propose_links(&stack, MEMBER, Role::Member, &["B"]).await;
    stack.model.push(Reply::text("Both links are live."));
    let before = tracking_links(&stack);

    let button = ConfirmButton::All {
        approve: true,
        ids: shown.clone(),
    };
    let (report, _) = turn(
        &stack,
        request(&stack, MEMBER, Role::Member, button.content()),
    )
    .await;

    assert_eq!(report.executed.len(), 2, "{report:?}");
    assert_eq!(tracking_links(&stack), before + 2);
    for id in shown {
        let action = stack.store.pending_action(id).await.unwrap().unwrap();
        assert_eq!(action.state, ActionState::Executed);
    }
    let newer = stack.store.pending_action(newer[0]).await.unwrap().unwrap();
    assert_eq!(
        newer.state,
        ActionState::Pending,
        "B was not shown on that button"
    );
}

async fn a_typed_yes_with_actions_from_two_messages_asks_which(store: Store) {
    let stack = stack(store).await;
    let first = propose_links(&stack, MEMBER, Role::Member, &["A"]).await;
    let second = propose_links(&stack, MEMBER, Role::Member, &["B"]).await;
    let before = tracking_links(&stack);

    let (report, _) = say(&stack, MEMBER, Role::Member, "yes").await;

    let answer = report.answer.unwrap();
    assert!(
        answer.contains("which you mean") && answer.contains("nothing was done"),
        "{answer}"
    );
    assert_eq!(tracking_links(&stack), before);
    assert_eq!(
        stack.model.requests().len(),
        2,
        "no model call for the question"
    );

    // Numbers now refer to that list.
    stack.model.push(Reply::text("B is live."));
    let (report, _) = say(&stack, MEMBER, Role::Member, "yes 2").await;
    assert_eq!(report.executed.len(), 1, "{report:?}");
    assert_eq!(tracking_links(&stack), before + 1);
    let first = stack.store.pending_action(first[0]).await.unwrap().unwrap();
    let second = stack
        .store
        .pending_action(second[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.state, ActionState::Pending);
    assert_eq!(second.state, ActionState::Executed);
}

/// A pending action recorded as if proposed by `user` (policy or role
/// changed since, or a forged row).
async fn recorded_action(stack: &Stack, user: &str, tool: &str, arguments: Value) -> i64 {
    let now = stack.clock.now();
    stack
        .store
        .create_pending_action(
            &NewPendingAction {
                team_id: stack.team.id,
                conversation: dm(user),
                requested_by: user.into(),
                tool: tool.into(),
                arguments,
                summary: format!("{tool} (recorded)"),
                expires_at: now + chrono::Duration::minutes(10),
            },
            now,
        )
        .await
        .unwrap()
        .id
}

async fn a_member_confirming_an_admin_only_endpoint_is_refused_at_confirmation(store: Store) {
    let stack = stack(store).await;
    let (account, link) = stack.sandbox.inspect(|d| {
        (
            d.accounts[0].id.clone(),
            d.accounts[0].tracking_links[0].id.to_string(),
        )
    });
    // Deleting a link cannot be undone: admins only.
    let id = recorded_action(
        &stack,
        MEMBER,
        "tracking-links.delete-tracking-link",
        json!({"account": account, "tracking_link_id": link}),
    )
    .await;
    let before = tracking_links(&stack);
    let capture = Capture::default();

    through_hub(
        &stack.hub,
        &capture,
        MEMBER,
        InboundContent::Confirmation {
            action_ids: vec![id],
            approve: true,
        },
    )
    .await;

    assert!(
        capture.text().contains("needs the admin role"),
        "{}",
        capture.text()
    );
    assert_eq!(tracking_links(&stack), before, "the link still exists");
    let action = stack.store.pending_action(id).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Declined);
    assert_eq!(stack.model.requests().len(), 0);
}

async fn a_role_lowered_between_proposal_and_confirmation_is_refused(store: Store) {
    let stack = stack(store).await;
    let (account, link) = stack.sandbox.inspect(|d| {
        (
            d.accounts[0].id.clone(),
            d.accounts[0].tracking_links[0].id.to_string(),
        )
    });
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "tracking-links.delete-tracking-link", "arguments": {"account": account, "tracking_link_id": link}}),
    ));
    let capture = Capture::default();
    through_hub(
        &stack.hub,
        &capture,
        ADMIN,
        InboundContent::Text("delete that link".into()),
    )
    .await;
    let proposed = stack
        .store
        .open_actions(&dm(ADMIN), stack.clock.now())
        .await
        .unwrap();
    assert_eq!(proposed.len(), 1, "{}", capture.text());
    set_role(&stack, ADMIN, Role::Member).await;
    let before = tracking_links(&stack);

    through_hub(
        &stack.hub,
        &capture,
        ADMIN,
        InboundContent::Text("yes".into()),
    )
    .await;

    assert!(
        capture
            .text()
            .contains("needs the admin role and you are member"),
        "{}",
        capture.text()
    );
    assert_eq!(tracking_links(&stack), before);
    let action = stack
        .store
        .pending_action(proposed[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(action.state, ActionState::Executed);
}

async fn an_endpoint_turned_off_by_default_is_never_proposed(store: Store) {
    let stack = stack(store).await;
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "webhooks.create-webhook", "arguments": {"account_scope": "global", "endpoint_url": "https://collector.invalid/hook", "events": ["messages.received"]}}),
    ));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        Reply::text(&last_tool_result(request).to_string())
    })));
    set_role(&stack, ADMIN, Role::Owner).await;

    let (report, _) = say(&stack, ADMIN, Role::Owner, "send our events to my server").await;

    assert!(report.proposed.is_empty());
    let answer = report.answer.unwrap();
    assert!(
        answer.contains("turned off") && answer.contains("allow_endpoints"),
        "{answer}"
    );
    // And a recorded one cannot be confirmed either.
    let id = recorded_action(&stack, ADMIN, "webhooks.create-webhook", json!({})).await;
    let (report, _) = turn(
        &stack,
        request(
            &stack,
            ADMIN,
            Role::Owner,
            InboundContent::Confirmation {
                action_ids: vec![id],
                approve: true,
            },
        ),
    )
    .await;
    assert!(report.answer.unwrap().contains("turned off"));
    assert!(report.executed.is_empty());
}

async fn the_same_telegram_user_on_two_channels_of_two_teams_has_separate_histories_and_actions(
    store: Store,
) {
    let stack = stack(store).await;
    // A second team with its own bot; Ann is a member of both.
    let other = stack
        .store
        .upsert_team(&TeamSpec {
            name: "Other Agency".into(),
            default_model: None,
            timezone: None,
            daily_credit_budget: None,
            daily_usd_budget: None,
        })
        .await
        .unwrap();
    stack
        .store
        .sync_config_members(
            other.id,
            &[MemberSpec {
                name: "Ann".into(),
                role: Role::Admin,
                user_ids: BTreeMap::from([(Platform::Telegram, vec![ADMIN.to_owned()])]),
            }],
        )
        .await
        .unwrap();
    let channels: Vec<ChannelSpec> = [(stack.team.id, CHANNEL), (other.id, "telegram-other")]
        .into_iter()
        .map(|(team_id, name)| ChannelSpec {
            team_id,
            platform: Platform::Telegram,
            name: name.into(),
            settings: Value::Null,
            permitted_user_ids: Vec::new(),
            allow_everyone: false,
        })
        .collect();
    stack.store.sync_channels(&channels).await.unwrap();
    let other_hub = Hub::new(stack.engine.clone(), stack.store.clone(), "telegram-other");
    let (mine, theirs) = (Capture::default(), Capture::default());
    let account = stack.account(0);
    stack
        .model
        .push(Reply::tool("call_api", create_link(&account, "Ours")));
    through_hub(
        &stack.hub,
        &mine,
        ADMIN,
        InboundContent::Text("make a link".into()),
    )
    .await;
    let before = tracking_links(&stack);

    // The same person says yes to the other team's bot.
    through_hub(
        &other_hub,
        &theirs,
        ADMIN,
        InboundContent::Text("yes".into()),
    )
    .await;

    assert_eq!(
        tracking_links(&stack),
        before,
        "the other bot confirmed nothing"
    );
    let here = ConversationKey::direct(CHANNEL, Platform::Telegram, ADMIN, ADMIN);
    let there = ConversationKey::direct("telegram-other", Platform::Telegram, ADMIN, ADMIN);
    let now = stack.clock.now();
    assert_eq!(stack.store.open_actions(&here, now).await.unwrap().len(), 1);
    assert!(
        stack
            .store
            .open_actions(&there, now)
            .await
            .unwrap()
            .is_empty()
    );
    let ours = stack
        .store
        .conversation(stack.team.id, &here, now)
        .await
        .unwrap();
    let history = stack.store.history(ours.id).await.unwrap();
    assert!(
        history
            .iter()
            .all(|m| !m.body.to_string().contains("\"yes\""))
    );
    // The other team's key cannot be opened as this team's conversation.
    assert!(
        stack
            .store
            .conversation(other.id, &here, now)
            .await
            .is_err()
    );
}

async fn a_write_timing_out_at_the_api_is_unknown_and_never_sent_twice(store: Store) {
    let stack = stack_with(
        store,
        StackOptions {
            ofapi_timeout: Duration::from_millis(300),
            ..StackOptions::default()
        },
    )
    .await;
    let (account, list) = stack.sandbox.inspect(|d| {
        (
            d.accounts[0].id.clone(),
            d.accounts[0].user_lists[2].id.clone(),
        )
    });
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "New set tonight", "userLists": [list]}}),
    ));
    let (report, _) = say(&stack, MEMBER, Role::Member, "message my fans").await;
    let id = report.proposed[0];
    let before = stack.mass_messages();
    stack.sandbox.delay_writes(Some(Duration::from_secs(2)));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let notes: Vec<String> = request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "system")
            .map(|m| m["content"].as_str().unwrap_or("").to_owned())
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("outcome_unknown")),
            "{notes:?}"
        );
        Reply::text("I'm not sure it went out.")
    })));

    let (report, _) = say(&stack, MEMBER, Role::Member, "yes").await;

    let answer = report.answer.unwrap();
    assert!(
        answer.contains("don't know whether it happened"),
        "{answer}"
    );
    assert!(answer.contains("check with"), "{answer}");
    assert!(!answer.to_lowercase().contains("try again"), "{answer}");
    let action = stack.store.pending_action(id).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Unknown);
    // The sandbox applied the write before answering late: once.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(stack.mass_messages(), before + 1);
    stack.sandbox.delay_writes(None);
    // Confirming again sends nothing.
    let (report, _) = turn(
        &stack,
        request(
            &stack,
            MEMBER,
            Role::Member,
            InboundContent::Confirmation {
                action_ids: vec![id],
                approve: true,
            },
        ),
    )
    .await;
    assert!(report.answer.unwrap().contains("won't send it twice"));
    assert_eq!(stack.mass_messages(), before + 1);
}

async fn a_write_interrupted_by_a_restart_becomes_unknown_and_the_user_is_told_once(store: Store) {
    let stack = stack(store).await;
    let account = stack.account(0);
    let id = recorded_action(
        &stack,
        MEMBER,
        "tracking-links.create-tracking-link",
        json!({"account": account, "name": "X"}),
    )
    .await;
    // Confirmed, then the process died before the API answered.
    stack
        .store
        .confirm_action(id, &dm(MEMBER), MEMBER, stack.clock.now())
        .await
        .unwrap()
        .unwrap();
    stack.clock.advance(chrono::Duration::hours(1));
    assert_eq!(stack.engine.recover_interrupted().await.unwrap(), 1);
    let action = stack.store.pending_action(id).await.unwrap().unwrap();
    assert_eq!(action.state, ActionState::Unknown);
    stack.model.push(Reply::text("Hello."));
    stack.model.push(Reply::text("Hello again."));

    let (_, events) = say(&stack, MEMBER, Role::Member, "hi").await;
    let told = texts(&events);
    assert!(told.contains("don't know whether it happened"), "{told}");
    let (_, events) = say(&stack, MEMBER, Role::Member, "hi").await;
    assert!(!texts(&events).contains("don't know whether"), "told once");
    assert_eq!(stack.engine.recover_interrupted().await.unwrap(), 0);
}

async fn an_expired_action_is_not_listed_and_is_reported_once(store: Store) {
    let stack = stack(store).await;
    let proposed = propose_links(&stack, MEMBER, Role::Member, &["Late"]).await;
    stack.clock.advance(chrono::Duration::minutes(11));
    let before = tracking_links(&stack);

    assert!(
        stack
            .store
            .open_actions(&dm(MEMBER), stack.clock.now())
            .await
            .unwrap()
            .is_empty(),
        "not listed as waiting, swept or not"
    );
    let (report, _) = say(&stack, MEMBER, Role::Member, "yes").await;
    let answer = report.answer.unwrap();
    assert!(answer.contains("expired"), "{answer}");
    assert_eq!(tracking_links(&stack), before);
    let action = stack
        .store
        .pending_action(proposed[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(action.state, ActionState::Expired);
    // Told once: the next message hears nothing more of it.
    stack.model.push(Reply::text("Hello."));
    let (_, events) = say(&stack, MEMBER, Role::Member, "hi").await;
    assert!(!texts(&events).contains("expired"), "{}", texts(&events));
    // And nothing lists it: the prompt has no waiting request.
    let system = stack.model.requests().last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!system.contains("Late"), "{system}");
}

/// The stack's team with these daily budgets.
async fn set_budgets(
    stack: &Stack,
    credits: Option<i64>,
    usd: Option<f64>,
) -> agencybot_core::Team {
    stack
        .store
        .upsert_team(&TeamSpec {
            name: stack.team.name.clone(),
            default_model: None,
            timezone: None,
            daily_credit_budget: credits,
            daily_usd_budget: usd,
        })
        .await
        .unwrap()
}

/// A request earlier today that spent `credits` and `usd`.
async fn spent_today(stack: &Stack, credits: i64, usd: f64) {
    stack
        .store
        .record_usage(&NewUsageRecord {
            team_id: stack.team.id,
            platform: Platform::Telegram,
            user_id: ADMIN.into(),
            kind: RequestKind::Chat,
            model: "gpt-4.1-mini".into(),
            prompt_tokens: 1,
            completion_tokens: 1,
            cost_usd: usd,
            credits,
            web_searches: 0,
            web_searches_cached: 0,
            web_search_usd: 0.0,
            integration_calls: Default::default(),
            duration_ms: 0,
            outcome: UsageOutcome::Success,
            created_at: stack.clock.now(),
        })
        .await
        .unwrap();
}

async fn ten_concurrent_turns_over_the_credit_budget_make_at_most_one_model_call_past_it(
    store: Store,
) {
    let stack = stack(store).await;
    let account = stack.account(0);
    let team = set_budgets(&stack, Some(50), None).await;
    spent_today(&stack, 49, 0.0).await;
    // The account list for the prompt is fetched once, before the race;
    // then exactly one credit is left of today's budget.
    stack.model.push(Reply::text("ready"));
    let mut warm = request(
        &stack,
        ADMIN,
        Role::Admin,
        InboundContent::Text("hi".into()),
    );
    warm.team = team.clone();
    turn(&stack, warm).await;
    let day_start = stack
        .clock
        .now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let used = stack
        .store
        .credits_used_since(team.id, day_start)
        .await
        .unwrap();
    let team = set_budgets(&stack, Some(used + 1), None).await;
    for _ in 0..10 {
        stack.model.push(Reply::tool(
            "call_api",
            json!({"endpoint": "statistics.get-earnings", "arguments": {"account": account, "start_date": "2026-11-13 00:00:00", "end_date": "2026-11-20 00:00:00"}}),
        ));
    }
    for _ in 0..10 {
        stack.model.push(Reply::text("Here are your earnings."));
    }
    let calls_before = stack.model.requests().len();
    let credits_before = stack.sandbox.credits_used();

    let turns = (0..10).map(|n| {
        let mut request = request(
            &stack,
            ADMIN,
            Role::Admin,
            InboundContent::Text(format!("earnings please ({n})")),
        );
        request.team = team.clone();
        request.conversation = dm(&format!("{}{n}", ADMIN));
        turn(&stack, request)
    });
    let reports = futures::future::join_all(turns).await;

    let calls = stack.model.requests().len() - calls_before;
    let spent = stack.sandbox.credits_used() - credits_before;
    // Ten first calls may start under the budget; after one read spends
    // the last credit, no further read and at most one more model call.
    let reads = reports.iter().filter(|(r, _)| r.usage.credits > 0).count();
    assert_eq!(reads, 1, "one read spent the last credit");
    assert!(spent > 0);
    assert!(calls <= 10 + 1, "{calls} model calls");
    assert!(
        reports
            .iter()
            .filter(|(r, _)| r.answer.as_deref().is_some_and(|a| a.contains("budget")))
            .count()
            >= 9,
        "{:?}",
        reports
            .iter()
            .map(|(r, _)| r.answer.clone())
            .collect::<Vec<_>>()
    );
}

async fn a_team_over_its_usd_budget_gets_no_model_call(store: Store) {
    let stack = stack(store).await;
    let team = set_budgets(&stack, None, Some(1.0)).await;
    spent_today(&stack, 0, 1.25).await;
    let mut ask = request(
        &stack,
        ADMIN,
        Role::Admin,
        InboundContent::Text("hi".into()),
    );
    ask.team = team;

    let (report, _) = turn(&stack, ask).await;

    assert_eq!(report.outcome, UsageOutcome::Refused);
    assert!(report.answer.unwrap().contains("AI spending budget"));
    assert!(stack.model.requests().is_empty());
}

async fn a_user_over_the_rate_limit_gets_a_clear_reply_and_no_model_call(store: Store) {
    let stack = stack_with(
        store,
        StackOptions {
            engine: EngineConfig {
                user_turns_per_minute: std::num::NonZeroU32::new(2),
                ..EngineConfig::default()
            },
            ..StackOptions::default()
        },
    )
    .await;
    stack.model.push(Reply::text("One."));
    stack.model.push(Reply::text("Two."));
    say(&stack, MEMBER, Role::Member, "one").await;
    say(&stack, MEMBER, Role::Member, "two").await;

    let (report, _) = say(&stack, MEMBER, Role::Member, "three").await;

    assert_eq!(report.outcome, UsageOutcome::Refused);
    assert!(report.answer.unwrap().contains("faster than I take them"));
    assert_eq!(
        stack.model.requests().len(),
        2,
        "no model call for the third"
    );
    // Someone else is not held back.
    stack.model.push(Reply::text("Hi."));
    let (report, _) = say(&stack, ADMIN, Role::Admin, "hi").await;
    assert_eq!(report.outcome, UsageOutcome::Success);
}

async fn a_confirmed_result_is_stored_as_a_system_note_not_as_the_users_words(store: Store) {
    let stack = stack(store).await;
    propose_links(&stack, MEMBER, Role::Member, &["Note"]).await;
    stack.model.push(Reply::text("Done."));

    say(&stack, MEMBER, Role::Member, "yes").await;

    let conversation = stack
        .store
        .conversation(stack.team.id, &dm(MEMBER), stack.clock.now())
        .await
        .unwrap();
    let history = stack.store.history(conversation.id).await.unwrap();
    let note = history
        .iter()
        .find(|m| m.body.to_string().contains("The user confirmed"))
        .expect("the outcome is remembered");
    assert_eq!(note.role, "system");
    assert!(
        history
            .iter()
            .filter(|m| m.role == "user")
            .all(|m| !m.body.to_string().contains("[agencybot]"))
    );
}

async fn a_mass_message_without_recipients_is_never_proposed(store: Store) {
    let stack = stack(store).await;
    let account = stack.account(0);
    stack.model.push(Reply::tool(
        "call_api",
        json!({"endpoint": "mass-messaging.send-mass-message", "arguments": {"account": account, "text": "Hi all"}}),
    ));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        Reply::text(&last_tool_result(request).to_string())
    })));

    let (report, _) = say(&stack, MEMBER, Role::Member, "message everyone").await;

    assert!(report.proposed.is_empty());
    assert!(report.answer.unwrap().contains("needs recipients"));
    assert!(
        stack
            .store
            .open_actions(&dm(MEMBER), stack.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_export_stops_at_the_credit_budget(store: Store) {
    let stack = stack(store).await;
    let account = stack.account(0);
    // Warm the account list, then leave three credits of today's budget.
    stack.model.push(Reply::text("ready"));
    say(&stack, ADMIN, Role::Admin, "hi").await;
    let day_start = stack
        .clock
        .now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let used = stack
        .store
        .credits_used_since(stack.team.id, day_start)
        .await
        .unwrap();
    let team = set_budgets(&stack, Some(used + 3), None).await;
    stack.model.push(Reply::tool(
        "export_csv",
        json!({"endpoint": "fans.list-all-fans", "arguments": {"account": account, "limit": 5}}),
    ));
    let before = stack.sandbox.credits_used();
    let mut ask = request(
        &stack,
        ADMIN,
        Role::Admin,
        InboundContent::Text("export all fans".into()),
    );
    ask.team = team;

    let (report, events) = turn(&stack, ask).await;

    let spent = stack.sandbox.credits_used() - before;
    assert!(
        spent > 0 && spent <= 3,
        "{spent} credits for an export with 3 left"
    );
    let file = events.iter().find_map(|e| match e {
        OutboundMessage::File(file) => Some(file.clone()),
        _ => None,
    });
    let rows = String::from_utf8(file.expect("the partial export is sent").bytes).unwrap();
    assert!(rows.lines().count() <= 1 + 3 * 5, "{rows}");
    // The budget is now spent: the model is not called to describe it.
    assert!(report.answer.unwrap().contains("credit budget"));
    assert_eq!(stack.model.remaining(), 0);
}
