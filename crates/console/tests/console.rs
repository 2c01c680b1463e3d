//! The console over HTTP on 127.0.0.1: sign-in links, sessions, roles,
//! CSRF, and forms backed by the same APIs as the chat and the CLI.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agencybot_agent::{ChannelStatus, ConnectedApps, Requester};
use agencybot_console::{Console, ConsoleSettings, SESSION_COOKIE, issue_link};
use agencybot_core::{
    Clock, ManualClock, NewUsageRecord, Platform, RequestKind, Role, UsageOutcome,
};
use agencybot_scheduler::Workflow;
use agencybot_scheduler::usage::{self, Dimension};
use agencybot_store::{ChannelSpec, MemberSpec, Store, TeamSpec, UsageFilter};
use chrono::{TimeZone, Utc};
use futures::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

struct Running {
    url: String,
    store: Store,
    team_id: i64,
    clock: Arc<ManualClock>,
    status: Arc<ChannelStatus>,
    http: reqwest::Client,
}

/// Integrations as the binary's would answer: only `connected` are there.
struct Apps(&'static [&'static str]);

impl ConnectedApps for Apps {
    fn missing<'a>(
        &'a self,
        _requester: &'a Requester<'a>,
        required: &'a [String],
    ) -> BoxFuture<'a, Vec<String>> {
        let missing = required
            .iter()
            .filter(|app| !self.0.contains(&app.as_str()))
            .cloned()
            .collect();
        Box::pin(std::future::ready(missing))
    }
}

fn workflow(slug: &str, name: &str, requires: &str) -> Workflow {
    Workflow {
        slug: slug.into(),
        name: name.into(),
        category: "Exports".into(),
        description: format!("Copies the day's earnings to {requires}."),
        prompt: format!("Put yesterday's earnings in {requires}."),
        schedule: "daily 07:00".into(),
        skill: None,
        requires: vec![requires.into()],
        allowed_writes: Vec::new(),
    }
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start() -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Store::in_memory().await.unwrap();
    let team = store
        .upsert_team(&TeamSpec {
            name: "Velvet".into(),
            default_model: None,
            timezone: Some("Europe/Berlin".into()),
            daily_credit_budget: None,
            daily_usd_budget: None,
        })
        .await
        .unwrap();
    for (name, role, id) in [("Ann", Role::Owner, "111"), ("Vic", Role::Viewer, "222")] {
        store
            .add_member(
                team.id,
                &MemberSpec {
                    name: name.into(),
                    role,
                    user_ids: [(Platform::Telegram, vec![id.to_owned()])].into(),
                },
            )
            .await
            .unwrap();
    }
    store
        .sync_channels(&[ChannelSpec {
            team_id: team.id,
            platform: Platform::Telegram,
            name: "tg".into(),
            settings: serde_json::json!({}),
            permitted_user_ids: Vec::new(),
            allow_everyone: false,
        }])
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
    for (days_ago, model, credits, cost) in [
        (0, "gpt-4.1-mini", 3, 0.01),
        (1, "gpt-4.1-mini", 5, 0.02),
        (2, "gpt-4.1", 7, 0.25),
        (20, "gpt-4.1", 100, 1.0),
    ] {
        store
            .record_usage(&NewUsageRecord {
                team_id: team.id,
                platform: Platform::Telegram,
                user_id: "111".into(),
                kind: RequestKind::Chat,
                model: model.into(),
                prompt_tokens: 1000,
                completion_tokens: 100,
                cost_usd: cost,
                credits,
                web_searches: 0,
                web_searches_cached: 0,
                web_search_usd: 0.0,
                integration_calls: Default::default(),
                duration_ms: 900,
                outcome: UsageOutcome::Success,
                created_at: now - chrono::Duration::days(days_ago),
            })
            .await
            .unwrap();
    }
    let clock = Arc::new(ManualClock::new(now));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut workflows =
        agencybot_scheduler::workflows::load(&root().join("config/workflows.toml")).unwrap();
    workflows.push(workflow("sheets-export", "Sheets export", "Google Sheets"));
    workflows.push(workflow("drive-export", "Drive export", "Google Drive"));
    let status = Arc::new(ChannelStatus::default());
    let settings = ConsoleSettings {
        public_url: url.clone(),
        link_ttl: Duration::from_secs(600),
        session_ttl: Duration::from_secs(3600),
        skill_dirs: vec![root().join("skills")],
        workflows,
        models: vec!["gpt-4.1-mini".into(), "gpt-4.1".into()],
        apps: Arc::new(Apps(&["Google Drive"])),
        status: status.clone(),
    };
    let router = Console::new(store.clone(), settings, clock.clone()).router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Running {
        url,
        store,
        team_id: team.id,
        clock,
        status,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
    }
}

impl Running {
    async fn link(&self, member: &str) -> String {
        issue_link(
            &self.store,
            &self.url,
            self.team_id,
            member,
            self.clock.now(),
            Duration::from_secs(600),
        )
        .await
        .unwrap()
    }

    /// Uses a link as the browser does: the page, then its button.
    async fn redeem(&self, link: &str) -> reqwest::Response {
        let page = self.http.get(link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let token = link.split("token=").nth(1).unwrap();
        self.http
            .post(format!("{}/console/sign-in", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("token", token)]))
            .send()
            .await
            .unwrap()
    }

    async fn sign_in(&self, member: &str) -> Session<'_> {
        let link = self.link(member).await;
        let answer = self.redeem(&link).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()["location"], "/console/usage");
        let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
        let cookie = cookie.split(';').next().unwrap().to_owned();
        assert!(cookie.starts_with(SESSION_COOKIE));
        let mut session = Session {
            running: self,
            cookie,
            csrf: String::new(),
        };
        let (_, page) = session.get("/console/usage").await;
        session.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        session
    }
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Session<'a> {
    running: &'a Running,
    cookie: String,
    csrf: String,
}

impl Session<'_> {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = self
            .running
            .http
            .get(format!("{}{path}", self.running.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], csrf: bool) -> (StatusCode, String) {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if csrf {
            fields.push(("csrf", &self.csrf));
        }
        let answer = self
            .running
            .http
            .post(format!("{}{path}", self.running.url))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&fields))
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let location = answer
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(answer.text().await.unwrap()))
    }
}

#[tokio::test]
async fn without_a_session_every_page_sends_you_to_sign_in() {
    let running = start().await;
    for path in [
        "/console/usage",
        "/console/usage.csv",
        "/console/tasks",
        "/console/tasks/new",
        "/console/skills",
        "/console/members",
        "/console/channels",
        "/console/workflows",
        "/console/sessions",
        "/console/audit",
    ] {
        let answer = running
            .http
            .get(format!("{}{path}", running.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.headers()["location"], "/console/sign-in", "{path}");
    }
    // A made-up cookie is no session either.
    let answer = running
        .http
        .get(format!("{}/console/usage", running.url))
        .header("cookie", format!("{SESSION_COOKIE}=0123"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_link_works_once_and_not_after_it_expires() {
    let running = start().await;
    let link = running.link("Ann").await;
    assert_eq!(running.redeem(&link).await.status(), StatusCode::SEE_OTHER);
    let again = running.redeem(&link).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert!(again.text().await.unwrap().contains("no longer works"));

    let stale = running.link("Ann").await;
    running.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(
        running.redeem(&stale).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Someone not in the team gets no link at all.
    assert!(
        issue_link(
            &running.store,
            &running.url,
            running.team_id,
            "Mallory",
            running.clock.now(),
            Duration::from_secs(600)
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn the_usage_page_shows_the_same_totals_as_the_cli_and_a_chart() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let (status, page) = ann.get("/console/usage?period=7d&by=model").await;
    assert_eq!(status, StatusCode::OK);
    let records = running
        .store
        .usage_records(&UsageFilter {
            team_id: Some(running.team_id),
            since: "7d"
                .parse::<usage::Period>()
                .unwrap()
                .since(running.clock.now()),
            ..UsageFilter::default()
        })
        .await
        .unwrap();
    let (groups, all) = usage::totals(&records, Dimension::Model);
    assert_eq!(all.requests, 3);
    for row in groups.iter().chain(std::iter::once(&all)) {
        let cells = format!(
            "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{}</td>",
            row.key,
            row.requests,
            row.prompt_tokens,
            row.completion_tokens,
            row.cost_usd,
            row.credits
        );
        assert!(page.contains(&cells), "{cells} in\n{page}");
    }
    assert!(page.contains("<svg") && page.contains("Cost by model, last 7 days"));
    assert!(
        page.contains("id=\"activity\""),
        "an owner sees the activity"
    );
    let (status, csv) = ann.get("/console/usage.csv?period=7d").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

#[tokio::test]
async fn a_viewer_sees_usage_and_tasks_but_no_admin_page_or_form() {
    let running = start().await;
    let vic = running.sign_in("Vic").await;
    let (status, page) = vic.get("/console/usage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("id=\"activity\""),
        "no team activity for viewers"
    );
    assert!(!page.contains("/console/skills"), "no admin links");
    assert_eq!(vic.get("/console/tasks").await.0, StatusCode::OK);
    for path in [
        "/console/skills",
        "/console/members",
        "/console/channels",
        "/console/workflows",
        "/console/audit",
        "/console/tasks/new",
        "/console/usage.csv",
    ] {
        assert_eq!(vic.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    // With a valid token, still refused: the role is checked on submit.
    let (status, _) = vic
        .post(
            "/console/skills",
            &[("op", "install"), ("bundle", "Reports")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = vic
        .post(
            "/console/members",
            &[("op", "role"), ("name", "Vic"), ("role", "owner")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        running
            .store
            .installed_skills(running.team_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        running
            .store
            .member(running.team_id, "Vic")
            .await
            .unwrap()
            .role,
        Role::Viewer
    );
}

#[tokio::test]
async fn forms_without_their_token_are_refused_and_changes_are_audited() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let task = [
        ("name", "morning-earnings"),
        ("channel", "tg"),
        ("destination", "111"),
        ("prompt", "How much did we earn yesterday?"),
        ("schedule", "daily 08:00"),
        ("timezone", "Europe/Berlin"),
    ];
    let (status, _) = ann.post("/console/tasks", &task, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        running
            .store
            .tasks(running.team_id)
            .await
            .unwrap()
            .is_empty()
    );

    let (status, location) = ann.post("/console/tasks", &task, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let tasks = running.store.tasks(running.team_id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].schedule, "daily 08:00");
    assert_eq!(tasks[0].creator, "console:Ann");

    // A bad schedule is explained in place and nothing is created.
    let mut bad = task.to_vec();
    bad[0].1 = "broken";
    bad[4].1 = "sometimes";
    let (status, page) = ann.post("/console/tasks", &bad, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("invalid schedule `sometimes`"), "{page}");
    assert_eq!(running.store.tasks(running.team_id).await.unwrap().len(), 1);
    // Edited from its card; a model the config does not name is refused.
    let edit = format!("/console/tasks/{}/edit", tasks[0].id);
    let (status, location) = ann
        .post(
            &edit,
            &[("schedule", "weekly mon 09:00"), ("model", "gpt-9")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("error="), "{location}");
    assert_eq!(
        running.store.tasks(running.team_id).await.unwrap()[0].schedule,
        "daily 08:00"
    );
    let (status, _) = ann
        .post(
            &edit,
            &[("schedule", "weekly mon 09:00"), ("model", "gpt-4.1")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let edited = &running.store.tasks(running.team_id).await.unwrap()[0];
    assert_eq!(edited.schedule, "weekly mon 09:00");
    assert_eq!(edited.model.as_deref(), Some("gpt-4.1"));
    let (_, preview) = ann
        .get("/console/tasks/preview?schedule=daily%2008%3A00&timezone=Europe%2FBerlin")
        .await;
    assert_eq!(preview.matches("<li>").count(), 5, "{preview}");

    let (status, _) = ann
        .post(
            "/console/skills",
            &[("op", "install"), ("bundle", "Reports")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let installed = running
        .store
        .installed_skills(running.team_id)
        .await
        .unwrap();
    assert!(installed.len() >= 2, "{installed:?}");
    let (status, _) = ann
        .post(
            "/console/skills",
            &[("op", "remove"), ("bundle", "Reports")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        running
            .store
            .installed_skills(running.team_id)
            .await
            .unwrap()
            .is_empty()
    );

    let (_, audit) = ann.get("/console/audit").await;
    for action in [
        "task.create",
        "skills.install",
        "skills.remove",
        "session.start",
    ] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }

    // Signed out, the cookie opens nothing.
    let (status, _) = ann.post("/console/sign-out", &[], true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ann.get("/console/usage").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_member_removed_or_demoted_loses_the_session_at_once() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let vic = running.sign_in("Vic").await;
    let (status, _) = ann
        .post(
            "/console/members",
            &[("op", "role"), ("name", "Vic"), ("role", "admin")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(vic.get("/console/usage").await.0, StatusCode::SEE_OTHER);
    let vic = running.sign_in("Vic").await;
    assert_eq!(vic.get("/console/skills").await.0, StatusCode::OK);
    // An admin cannot make an owner.
    let (status, _) = vic
        .post(
            "/console/members",
            &[("op", "role"), ("name", "Vic"), ("role", "owner")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = ann
        .post(
            "/console/members",
            &[("op", "remove"), ("name", "Vic")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(vic.get("/console/usage").await.0, StatusCode::SEE_OTHER);
}

/// The value of the first `name="…" value="…"` field after `after`.
fn field_after(page: &str, after: &str, name: &str) -> String {
    let rest = &page[page.find(after).unwrap_or_else(|| panic!("no {after}"))..];
    rest.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} after {after}"))
        .to_owned()
}

#[tokio::test]
async fn channels_show_their_live_status_and_admins_edit_who_may_use_them() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let at = running.clock.now();
    running
        .status
        .disconnected("tg", "connection refused by 127.0.0.1:9", at);
    let (status, page) = ann.get("/console/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-status=\"disconnected\""), "{page}");
    assert!(page.contains("connection refused by 127.0.0.1:9"), "{page}");
    assert!(page.contains("Last message: none yet"), "{page}");
    running.status.connected("tg", at);
    running.status.event("tg", at);
    let (_, page) = ann.get("/console/channels").await;
    assert!(page.contains("data-status=\"connected\""), "{page}");
    assert!(
        page.contains("Last message: 2026-12-03 10:00:00 UTC"),
        "{page}"
    );
    assert!(
        page.contains("the team&#39;s members only") || page.contains("the team's members only"),
        "{page}"
    );

    // An ID that cannot be a Telegram user is refused, and nothing changes.
    let (status, location) = ann
        .post(
            "/console/channels",
            &[("op", "set"), ("channel", "tg"), ("permitted", "123\n@bob")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.contains("error=") && location.contains("bob"),
        "{location}"
    );
    let channel = running.store.channel("tg").await.unwrap().unwrap();
    assert!(channel.permitted_user_ids.is_empty());

    // A viewer may not post it, even with the session's token.
    let vic = running.sign_in("Vic").await;
    let form = [("op", "set"), ("channel", "tg"), ("permitted", "333")];
    assert_eq!(
        vic.post("/console/channels", &form, true).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ann.post("/console/channels", &form, false).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, location) = ann
        .post(
            "/console/channels",
            &[
                ("op", "set"),
                ("channel", "tg"),
                ("permitted", "333, 444\n333"),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("done="), "{location}");
    let channel = running.store.channel("tg").await.unwrap().unwrap();
    assert_eq!(channel.permitted_user_ids, ["333", "444"]);
    let members = running.store.members(running.team_id).await.unwrap();
    assert_eq!(
        channel.access("333", &members),
        agencybot_core::Access::Guest
    );
    assert_eq!(
        channel.access("555", &members),
        agencybot_core::Access::Denied
    );

    // A restart syncs the config again: the console's list stays in force.
    running
        .store
        .sync_channels(&[ChannelSpec {
            team_id: running.team_id,
            platform: Platform::Telegram,
            name: "tg".into(),
            settings: serde_json::json!({}),
            permitted_user_ids: vec!["999".into()],
            allow_everyone: false,
        }])
        .await
        .unwrap();
    let channel = running.store.channel("tg").await.unwrap().unwrap();
    assert_eq!(channel.permitted_user_ids, ["333", "444"]);
    let (_, page) = ann.get("/console/channels").await;
    assert!(page.contains("Set in the console by Ann"), "{page}");
    assert!(
        page.contains("members and 1 permitted"),
        "the config's list is shown: {page}"
    );

    let (status, _) = ann
        .post(
            "/console/channels",
            &[("op", "reset"), ("channel", "tg")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let channel = running.store.channel("tg").await.unwrap().unwrap();
    assert_eq!(channel.permitted_user_ids, ["999"]);
    let (_, audit) = ann.get("/console/audit").await;
    assert!(
        audit.contains("channels.access") && audit.contains("333, 444"),
        "{audit}"
    );
    assert!(audit.contains("channels.access_reset"), "{audit}");
}

#[tokio::test]
async fn sessions_are_listed_ended_one_by_one_or_everywhere() {
    let running = start().await;
    let laptop = running.sign_in("Ann").await;
    let phone = running.sign_in("Ann").await;
    let vic = running.sign_in("Vic").await;
    let (status, page) = laptop.get("/console/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let mine =
        &page[page.find("id=\"my-sessions\"").unwrap()..page.find("id=\"team-sessions\"").unwrap()];
    assert_eq!(
        mine.matches("<tr>").count(),
        3,
        "a header and two sessions: {mine}"
    );
    assert!(mine.contains("this browser"), "{mine}");
    let phone_session = field_after(&page, "id=\"my-sessions\"", "session");
    let vic_session = field_after(&page, "id=\"team-sessions\"", "session");

    // A viewer sees only their own and cannot end someone else's.
    let (_, page) = vic.get("/console/sessions").await;
    assert!(!page.contains("team-sessions"), "{page}");
    let (status, _) = vic
        .post(
            "/console/sessions",
            &[("op", "end"), ("session", &phone_session)],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(phone.get("/console/usage").await.0, StatusCode::OK);

    // The owner ends Vic's session, then signs out everywhere.
    let (status, _) = laptop
        .post(
            "/console/sessions",
            &[("op", "end"), ("session", &vic_session)],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(vic.get("/console/usage").await.0, StatusCode::SEE_OTHER);
    let (status, page) = laptop
        .post("/console/sessions", &[("op", "everywhere")], true)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("2 session(s) ended"), "{page}");
    assert_eq!(laptop.get("/console/usage").await.0, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/console/usage").await.0, StatusCode::SEE_OTHER);
    let audit = running.store.audit_log(running.team_id, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "session.end_everywhere"));
    assert!(
        audit
            .iter()
            .any(|e| e.action == "session.end_other" && e.detail.contains("Vic"))
    );
}

#[tokio::test]
async fn workflows_name_missing_integrations_and_cannot_be_started_without_them() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let (_, page) = ann.get("/console/workflows").await;
    let sheets = &page[page.find("Sheets export").unwrap()..page.find("Drive export").unwrap()];
    assert!(sheets.contains("Not connected: Google Sheets"), "{sheets}");
    assert!(sheets.contains("disabled"), "{sheets}");
    assert!(!sheets.contains("/console/tasks/new?workflow="), "{sheets}");
    let drive = &page[page.find("Drive export").unwrap()..];
    assert!(!drive.contains("Not connected"), "{drive}");
    assert!(
        drive.contains("/console/tasks/new?workflow=drive-export"),
        "{drive}"
    );

    // Posted anyway, the form refuses it with the chat's words.
    let task = |workflow: &'static str| {
        [
            ("name", workflow),
            ("channel", "tg"),
            ("destination", "111"),
            ("prompt", "Export."),
            ("schedule", "daily 07:00"),
            ("timezone", "UTC"),
            ("workflow", workflow),
        ]
    };
    let (status, page) = ann
        .post("/console/tasks", &task("sheets-export"), true)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Google Sheets is not"), "{page}");
    assert!(
        running
            .store
            .tasks(running.team_id)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = ann
        .post("/console/tasks", &task("drive-export"), true)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(running.store.tasks(running.team_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn task_cards_show_how_the_last_run_went() {
    let running = start().await;
    let ann = running.sign_in("Ann").await;
    let task = [
        ("name", "morning-earnings"),
        ("channel", "tg"),
        ("destination", "111"),
        ("prompt", "How much did we earn yesterday?"),
        ("schedule", "daily 08:00"),
        ("timezone", "UTC"),
    ];
    assert_eq!(
        ann.post("/console/tasks", &task, true).await.0,
        StatusCode::SEE_OTHER
    );
    let id = running.store.tasks(running.team_id).await.unwrap()[0].id;
    let (_, page) = ann.get("/console/tasks").await;
    assert!(page.contains("Last run: -"), "never ran: {page}");
    let store = &running.store;
    let now = running.clock.now();
    let first = store
        .claim_run(id, now, 1, "a", now)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(first.id, Ok("Earned $1,200."), now)
        .await
        .unwrap();
    let later = now + chrono::Duration::days(1);
    let second = store
        .claim_run(id, later, 1, "a", later)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(second.id, Err("the OnlyFansAPI answered 503"), later)
        .await
        .unwrap();
    let (_, page) = ann.get("/console/tasks").await;
    let card = &page[page.find("data-last-run").unwrap()..];
    assert!(card.contains("2026-12-04 10:00 UTC"), "{card}");
    assert!(
        card.contains("failed") && card.contains("the OnlyFansAPI answered 503"),
        "{card}"
    );
}
