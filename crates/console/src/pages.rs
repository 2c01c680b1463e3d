//! The pages and forms. Reads need a session; every form also needs the
//! session's CSRF token and the role its change needs, checked on submit.

use std::collections::HashMap;
use std::sync::Arc;

use agencybot_agent::Requester;
use agencybot_core::{
    Channel, ConversationKey, NewScheduledTask, Role, ScheduledTask, TaskRun, TaskRunStatus,
    TaskStatus,
};
use agencybot_scheduler::usage::{self, Dimension, Measure, Period};
use agencybot_scheduler::{TaskChanges, tasks, workflows};
use agencybot_skills::Target;
use agencybot_store::{ConsoleSession, MemberSpec, UsageFilter};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::auth::SignedIn;
use crate::{Console, hash, new_secret, view};

pub(crate) type Params = HashMap<String, String>;
pub(crate) type Page = Result<Response, Response>;

pub fn router(console: Arc<Console>) -> axum::Router {
    axum::Router::new()
        .route("/console", get(|| async { Redirect::to("/console/usage") }))
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/usage") }),
        )
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/usage", get(usage_page))
        .route("/console/usage.csv", get(usage_csv))
        .route("/console/tasks", get(tasks_page).post(create_task))
        .route("/console/tasks/new", get(new_task_page))
        .route("/console/tasks/preview", get(preview))
        .route("/console/tasks/{id}/{action}", post(task_action))
        .route("/console/workflows", get(workflows_page))
        .route("/console/skills", get(skills_page).post(skills_change))
        .route("/console/members", get(members_page).post(members_change))
        .merge(crate::channels::router())
        .merge(crate::sessions::router())
        .route("/console/audit", get(audit_page))
        .with_state(console)
}

pub(crate) fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

pub(crate) fn flat(result: Page) -> Response {
    result.unwrap_or_else(|refused| refused)
}

/// Back to a page with a message in the URL (the page shows it).
pub(crate) fn back(path: &str, message: &str) -> Response {
    let mut url = String::from(path);
    url.push_str(if path.contains('?') { "&" } else { "?" });
    url.push_str("done=");
    url.push_str(&encode(message));
    Redirect::to(&url).into_response()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The browser's own name for itself, shortened, to tell sessions apart.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?.trim();
    (!agent.is_empty()).then(|| agent.chars().take(200).collect())
}

pub(crate) fn notice(params: &Params) -> Markup {
    html! {
        @if let Some(done) = param(params, "done") { p class="notice" role="status" { (done) } }
        @if let Some(error) = param(params, "error") { p class="notice error" role="alert" { (error) } }
    }
}

impl Console {
    pub(crate) async fn audit(&self, signed: &SignedIn, action: &str, detail: &str) {
        if let Err(error) = self
            .store
            .record_audit(
                signed.team.id,
                &signed.member.name,
                action,
                detail,
                self.clock.now(),
            )
            .await
        {
            tracing::error!(%error, action, "console: audit entry not written");
        }
    }

    /// The session for a form: signed in, the token right, the role enough.
    pub(crate) async fn form(
        &self,
        headers: &HeaderMap,
        form: &Params,
        role: Role,
    ) -> Result<SignedIn, Response> {
        let signed = self.signed_in(headers).await?;
        signed.check_csrf(form.get("csrf").map(String::as_str))?;
        signed.require(role)?;
        Ok(signed)
    }
}

impl Console {
    /// The channels of the signed-in member's team.
    pub(crate) async fn team_channels(&self, signed: &SignedIn) -> Result<Vec<Channel>, Response> {
        Ok(self
            .store
            .channels()
            .await
            .map_err(|e| view::store_failure(&e))?
            .into_iter()
            .filter(|c| c.team_id == signed.team.id)
            .collect())
    }

    /// A page for a browser whose session just ended, clearing its cookie.
    pub(crate) fn signed_out(&self, title: &str, message: &str) -> Response {
        let mut response = view::bare(StatusCode::OK, title, message);
        response
            .headers_mut()
            .insert(header::SET_COOKIE, self.session_cookie(None));
        response
    }

    /// The `required` integrations a run on `channel` could not use, as the
    /// chat's workflow tools decide it for the member asking.
    async fn missing_apps(
        &self,
        signed: &SignedIn,
        channel: &Channel,
        required: &[String],
    ) -> Vec<String> {
        if required.is_empty() {
            return Vec::new();
        }
        let user_id = signed
            .member
            .user_ids
            .get(&channel.platform)
            .and_then(|ids| ids.first())
            .map_or("", String::as_str);
        let conversation = ConversationKey {
            channel: channel.name.clone(),
            platform: channel.platform,
            chat: String::new(),
            thread: None,
            user: None,
        };
        let requester = Requester::new(
            &signed.team,
            user_id,
            signed.role(),
            &conversation,
            &self.store,
            None,
            self.settings.apps.as_ref(),
        );
        requester.missing_apps(required).await
    }

    /// The `required` integrations missing on every one of `channels`.
    async fn missing_everywhere(
        &self,
        signed: &SignedIn,
        channels: &[Channel],
        required: &[String],
    ) -> Vec<String> {
        if channels.is_empty() {
            return Vec::new();
        }
        let mut missing = required.to_vec();
        for channel in channels {
            let here = self.missing_apps(signed, channel, required).await;
            missing.retain(|app| here.contains(app));
        }
        missing
    }
}

pub(crate) fn csrf_field(signed: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

// ---- sign-in ----

/// Shows a button rather than signing in on GET: link previews fetch URLs
/// and would use the one-time link up.
async fn sign_in_page(Query(params): Query<Params>) -> Response {
    let Some(token) = param(&params, "token") else {
        return view::bare(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            "Ask the bot for the console in a direct message (send /console) and open the link it sends you.",
        );
    };
    let markup = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { "Sign in · agencybot" } }
            body { main {
                h1 { "Sign in to the agencybot console" }
                form method="post" action="/console/sign-in" {
                    input type="hidden" name="token" value=(token);
                    button id="continue" type="submit" { "Continue" }
                }
            } }
        }
    };
    Html(markup.into_string()).into_response()
}

async fn sign_in(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    let refused = || {
        view::bare(
            StatusCode::UNAUTHORIZED,
            "This link no longer works",
            "Sign-in links work once and for a few minutes. Ask the bot for a new one (send /console in a direct message).",
        )
    };
    let Some(token) = param(&form, "token") else {
        return refused();
    };
    let now = console.clock.now();
    let identity = match console.store.redeem_console_link(&hash(token), now).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return refused(),
        Err(error) => return view::store_failure(&error),
    };
    let id = new_secret();
    let session = ConsoleSession {
        identity: identity.clone(),
        csrf_token: new_secret(),
        expires_at: now
            + chrono::Duration::from_std(console.settings.session_ttl)
                .unwrap_or(chrono::Duration::hours(12)),
    };
    if let Err(error) = console
        .store
        .create_console_session(&hash(&id), &session, user_agent(&headers).as_deref(), now)
        .await
    {
        return view::store_failure(&error);
    }
    let _ = console
        .store
        .record_audit(
            identity.team_id,
            &identity.member_name,
            "session.start",
            "signed in with a link",
            now,
        )
        .await;
    tracing::info!(team = identity.team_id, "console: a member signed in");
    let mut response = Redirect::to("/console/usage").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, console.session_cookie(Some(&id)));
    response
}

async fn sign_out(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Viewer).await?;
            if let Err(error) = console
                .store
                .end_console_session(signed.session_hash(), console.clock.now())
                .await
            {
                return Err(view::store_failure(&error));
            }
            console.audit(&signed, "session.end", "signed out").await;
            Ok(console.signed_out(
                "Signed out",
                "You are signed out. Ask the bot for a new link to come back.",
            ))
        }
        .await,
    )
}

// ---- usage ----

struct UsageQuery {
    period: Period,
    by: Dimension,
    measure: Measure,
    filter: UsageFilter,
}

fn usage_query(
    signed: &SignedIn,
    params: &Params,
    now: agencybot_core::Timestamp,
) -> Result<UsageQuery, String> {
    let period: Period = param(params, "period").unwrap_or("7d").parse()?;
    let by: Dimension = param(params, "by").unwrap_or("model").parse()?;
    let measure: Measure = param(params, "measure").unwrap_or("cost").parse()?;
    let filter = UsageFilter {
        team_id: Some(signed.team.id),
        since: period.since(now),
        platform: param(params, "platform")
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("{e}"))?,
        kind: param(params, "type")
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("{e}"))?,
        model: param(params, "model").map(str::to_owned),
        user_id: param(params, "user").map(str::to_owned),
        ..UsageFilter::default()
    };
    Ok(UsageQuery {
        period,
        by,
        measure,
        filter,
    })
}

fn totals_table(records: &[agencybot_core::UsageRecord], by: Dimension) -> Markup {
    let (groups, all) = usage::totals(records, by);
    html! {
        div class="scroll" { table {
            caption { "By " (by.as_str()) }
            thead { tr { th { (by.as_str()) } th class="n" { "requests" } th class="n" { "tokens in" } th class="n" { "tokens out" } th class="n" { "cost USD" } th class="n" { "credits" } } }
            tbody {
                @for row in groups.iter().chain(std::iter::once(&all)) {
                    tr data-key=(row.key) {
                        td { (row.key) }
                        td class="n" { (row.requests) }
                        td class="n" { (row.prompt_tokens) }
                        td class="n" { (row.completion_tokens) }
                        td class="n" { (format!("{:.4}", row.cost_usd)) }
                        td class="n" { (row.credits) }
                    }
                }
            }
        } }
    }
}

async fn usage_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        let now = console.clock.now();
        let query = match usage_query(&signed, &params, now) {
            Ok(query) => query,
            Err(message) => return Ok(view::page("Usage", &signed, "usage", html! { p class="error" role="alert" { (message) } })),
        };
        let records = console
            .store
            .usage_records(&query.filter)
            .await
            .map_err(|e| view::store_failure(&e))?;
        let chart = usage::chart(&records, query.by, query.measure, query.period, now);
        let selected = |key: &str, value: &str, default: &str| param(&params, key).unwrap_or(default) == value;
        let csv_link = format!("/console/usage.csv?{}", params.iter().filter(|(k, _)| *k != "done").map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&"));
        let body = html! {
            form method="get" action="/console/usage" {
                label for="period" { "Period" }
                select id="period" name="period" {
                    @for (value, label) in [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("6m", "Last 6 months"), ("1y", "Last year"), ("all", "All time")] {
                        option value=(value) selected[selected("period", value, "7d")] { (label) }
                    }
                }
                label for="by" { "Group by" }
                select id="by" name="by" {
                    @for value in ["type", "model", "platform", "user"] {
                        option value=(value) selected[selected("by", value, "model")] { (value) }
                    }
                }
                label for="measure" { "Measure" }
                select id="measure" name="measure" {
                    @for value in ["cost", "credits", "tokens", "searches"] {
                        option value=(value) selected[selected("measure", value, "cost")] { (value) }
                    }
                }
                @for (key, label) in [("platform", "Platform (telegram, slack, discord)"), ("type", "Type (chat, scheduled_task, alert)"), ("model", "Model"), ("user", "User ID")] {
                    label for={ "f-" (key) } { (label) }
                    input id={ "f-" (key) } name=(key) value=(param(&params, key).unwrap_or(""));
                }
                p { button type="submit" { "Show" } }
            }
            p { (records.len()) " request(s), " (query.period.label()) "." }
            (view::chart(&chart))
            h2 { "Totals" }
            div id="totals" { (totals_table(&records, query.by)) }
            @for by in [Dimension::Type, Dimension::Model, Dimension::Platform, Dimension::User] {
                @if by != query.by { details { summary { "By " (by.as_str()) } (totals_table(&records, by)) } }
            }
            @if signed.role() >= Role::Member {
                h2 { "Activity" }
                p { a href=(csv_link) { "Download CSV" } }
                div class="scroll" { table id="activity" {
                    thead { tr { th { "date" } th { "platform" } th { "model" } th { "user" } th { "type" } th class="n" { "credits" } th class="n" { "cost USD" } } }
                    tbody {
                        @for record in records.iter().take(200) {
                            tr {
                                td { (record.created_at.format("%Y-%m-%d %H:%M")) }
                                td { (record.platform) } td { (record.model) } td { (record.user_id) } td { (record.kind) }
                                td class="n" { (record.credits) } td class="n" { (format!("{:.4}", record.cost_usd)) }
                            }
                        }
                    }
                } }
            }
        };
        Ok(view::page("Usage", &signed, "usage", body))
    }
    .await)
}

async fn usage_csv(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(
        async {
            let signed = console.signed_in(&headers).await?;
            signed.require(Role::Member)?;
            let query = usage_query(&signed, &params, console.clock.now())
                .map_err(|m| view::refusal(StatusCode::BAD_REQUEST, &m))?;
            let records = console
                .store
                .usage_records(&query.filter)
                .await
                .map_err(|e| view::store_failure(&e))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"usage.csv\"",
                    ),
                ],
                usage::csv(&records),
            )
                .into_response())
        }
        .await,
    )
}

// ---- tasks ----

fn task_card(signed: &SignedIn, task: &ScheduledTask, last: Option<&TaskRun>) -> Markup {
    let when = |t: Option<agencybot_core::Timestamp>| {
        t.map_or("-".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        })
    };
    html! {
        div class="card" data-task=(task.name) {
            h3 { (task.name) }
            p { (task.schedule) " · " (task.timezone) " · " (task.status) }
            p data-last-run {
                "Last run: "
                @match last {
                    Some(run) => {
                        (when(Some(run.started_at))) " · "
                        @match run.status {
                            TaskRunStatus::Succeeded => span class="ok" { "succeeded" },
                            TaskRunStatus::Failed => span class="error" { "failed" },
                            TaskRunStatus::Running => span { "running now" },
                        }
                        @if let Some(error) = &run.error { br; span class="error" { (error) } }
                    }
                    None => (when(task.last_run_at)),
                }
                @if task.consecutive_failures > 0 { span class="error" { " (" (task.consecutive_failures) " failed in a row)" } }
            }
            p { "Next run: " (when(task.next_run_at)) }
            p { "Reports to " (task.channel) " " (task.destination) @if let Some(model) = &task.model { " · " (model) } }
            details { summary { "Prompt" } p { (task.prompt) } }
            @if signed.role() >= Role::Admin {
                @for (action, label) in [("run", "Run now"), (if task.status == TaskStatus::Active { "pause" } else { "resume" }, if task.status == TaskStatus::Active { "Pause" } else { "Resume" })] {
                    form class="inline" method="post" action={ "/console/tasks/" (task.id) "/" (action) } {
                        (csrf_field(signed)) button type="submit" { (label) }
                    }
                    " "
                }
                form class="inline" method="post" action={ "/console/tasks/" (task.id) "/delete" } onsubmit={ "return confirm('Delete the task “" (task.name.replace('\'', "’")) "” and its run history?')" } {
                    (csrf_field(signed)) button type="submit" { "Delete" }
                }
                details {
                    summary { "Edit" }
                    form method="post" action={ "/console/tasks/" (task.id) "/edit" } {
                        (csrf_field(signed))
                        label { "Prompt" textarea name="prompt" rows="3" { (task.prompt) } }
                        label { "Schedule" input name="schedule" value=(task.schedule); }
                        label { "Destination" input name="destination" value=(task.destination); }
                        label { "Model (empty keeps it)" input name="model" value=(task.model.as_deref().unwrap_or("")); }
                        p { button type="submit" { "Save changes" } }
                    }
                }
            }
        }
    }
}

async fn tasks_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        let mut all = console.store.tasks(signed.team.id).await.map_err(|e| view::store_failure(&e))?;
        let last_runs = console.store.last_task_runs(signed.team.id).await.map_err(|e| view::store_failure(&e))?;
        let mine = param(&params, "mine").is_some();
        if mine {
            let me = creator_of(&signed);
            all.retain(|task| task.creator == me || signed.member.user_ids.values().flatten().any(|id| *id == task.creator));
        }
        let body = html! {
            (notice(&params))
            p { a href="/console/tasks" { "All tasks" } " · " a href="/console/tasks?mine=1" { "My tasks" }
                @if signed.role() >= Role::Admin { " · " a href="/console/tasks/new" { "New task" } } }
            @if all.is_empty() { p { "No scheduled tasks yet." } }
            div class="cards" { @for task in &all { (task_card(&signed, task, last_runs.get(&task.id))) } }
        };
        Ok(view::page("Scheduled tasks", &signed, "tasks", body))
    }
    .await)
}

fn creator_of(signed: &SignedIn) -> String {
    format!("console:{}", signed.member.name)
}

/// The next `count` fire times, or why the schedule cannot run.
fn next_fires(
    schedule: &str,
    zone: &str,
    now: agencybot_core::Timestamp,
    count: usize,
) -> Result<Vec<String>, String> {
    let mut at = now;
    let mut fires = Vec::new();
    for _ in 0..count {
        at = tasks::next_run(schedule, zone, at).map_err(|e| e.to_string())?;
        let local = agencybot_scheduler::timezone(zone).map_err(|e| e.to_string())?;
        fires.push(
            at.with_timezone(&local)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string(),
        );
    }
    Ok(fires)
}

fn preview_markup(schedule: &str, zone: &str, now: agencybot_core::Timestamp) -> Markup {
    match next_fires(schedule, zone, now, 5) {
        Ok(fires) => html! { ol { @for fire in fires { li { (fire) } } } },
        Err(message) => html! { p class="error" role="alert" { (message) } },
    }
}

async fn preview(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(
        async {
            console.signed_in(&headers).await?;
            let markup = preview_markup(
                param(&params, "schedule").unwrap_or(""),
                param(&params, "timezone").unwrap_or("UTC"),
                console.clock.now(),
            );
            Ok(Html(markup.into_string()).into_response())
        }
        .await,
    )
}

const PRESETS: [(&str, &str); 5] = [
    ("daily 08:00", "Every day at 08:00"),
    ("weekly mon-fri 09:00", "Weekdays at 09:00"),
    ("weekly mon 09:00", "Mondays at 09:00"),
    ("monthly 1 09:00", "The 1st of each month at 09:00"),
    ("every 6 hours", "Every 6 hours"),
];

/// Refreshes the preview as the schedule or timezone changes.
const PREVIEW_SCRIPT: &str = r#"
(function(){var f=document.getElementById('task-form');if(!f)return;
var s=f.querySelector('[name=schedule]'),p=f.querySelector('[name=preset]'),z=f.querySelector('[name=timezone]'),o=document.getElementById('preview');
function r(){fetch('/console/tasks/preview?schedule='+encodeURIComponent(s.value)+'&timezone='+encodeURIComponent(z.value),{credentials:'same-origin'}).then(function(a){return a.text()}).then(function(t){o.innerHTML=t})}
p.addEventListener('change',function(){if(p.value){s.value=p.value;r()}});s.addEventListener('input',r);z.addEventListener('input',r);})();
"#;

struct TaskForm<'a> {
    values: &'a Params,
    errors: Vec<String>,
}

async fn new_task_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(
        async {
            let signed = console.signed_in(&headers).await?;
            signed.require(Role::Admin)?;
            let mut values = params.clone();
            if let Some(workflow) = param(&params, "workflow")
                .and_then(|slug| workflows::find(&console.settings.workflows, slug))
            {
                values
                    .entry("name".into())
                    .or_insert_with(|| workflow.slug.clone());
                values
                    .entry("prompt".into())
                    .or_insert_with(|| workflow.prompt.clone());
                values
                    .entry("schedule".into())
                    .or_insert_with(|| workflow.schedule.clone());
                if let Some(skill) = &workflow.skill {
                    values
                        .entry("skill".into())
                        .or_insert_with(|| skill.clone());
                }
            }
            task_form(
                &console,
                &signed,
                TaskForm {
                    values: &values,
                    errors: Vec::new(),
                },
            )
            .await
        }
        .await,
    )
}

async fn task_form(console: &Console, signed: &SignedIn, form: TaskForm<'_>) -> Page {
    let channels: Vec<String> = console
        .team_channels(signed)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let value = |key: &str| param(form.values, key).unwrap_or("").to_owned();
    let zone = param(form.values, "timezone")
        .map(str::to_owned)
        .or_else(|| signed.team.timezone.clone())
        .unwrap_or_else(|| "UTC".into());
    let schedule = param(form.values, "schedule")
        .unwrap_or("daily 08:00")
        .to_owned();
    let workflow = param(form.values, "workflow")
        .and_then(|slug| workflows::find(&console.settings.workflows, slug));
    let writes = workflow.map(|w| w.writes());
    let status = if form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = html! {
        @if channels.is_empty() { p class="notice error" { "No channel is connected to this team: configure one before creating tasks." } }
        @for error in &form.errors { p class="notice error" role="alert" { (error) } }
        form id="task-form" method="post" action="/console/tasks" {
            (csrf_field(signed))
            @if let Some(workflow) = workflow { input type="hidden" name="workflow" value=(workflow.slug); p { "From the workflow “" (workflow.name) "”." } }
            label for="name" { "Name" } input id="name" name="name" required value=(value("name"));
            label for="channel" { "Channel" }
            select id="channel" name="channel" { @for channel in &channels { option value=(channel) selected[value("channel") == *channel] { (channel) } } }
            label for="destination" { "Destination (chat or channel ID)" } input id="destination" name="destination" required value=(value("destination"));
            label for="model" { "Model" }
            select id="model" name="model" {
                option value="" { "The team's default" }
                @for model in &console.settings.models { option value=(model) selected[value("model") == *model] { (model) } }
            }
            label for="prompt" { "What each run asks" } textarea id="prompt" name="prompt" rows="4" required { (value("prompt")) }
            label for="preset" { "Frequency" }
            select id="preset" name="preset" {
                option value="" { "Custom (type below)" }
                @for (preset, label) in PRESETS { option value=(preset) selected[schedule == preset] { (label) } }
            }
            label for="schedule" { "Schedule (a preset, or e.g. `every 15 minutes`, a crontab like `0 9 * * 1-5`)" } input id="schedule" name="schedule" required value=(schedule);
            label for="timezone" { "Timezone" } input id="timezone" name="timezone" required value=(zone);
            h2 { "Next five runs" }
            div id="preview" aria-live="polite" { (preview_markup(&schedule, &zone, console.clock.now())) }
            @match &writes {
                Some(Ok(writes)) if !writes.is_empty() => p class="notice" { (agencybot_scheduler::describe_writes(writes)) },
                Some(Err(problem)) => p class="notice error" { "This workflow's writes are not valid: " (problem) },
                _ => p { "Runs only read; any write a run proposes waits for a yes in the chat." },
            }
            p { button class="primary" id="create-task" type="submit" disabled[channels.is_empty()] { "Create task" } }
        }
        script { (maud::PreEscaped(PREVIEW_SCRIPT)) }
    };
    let mut response = view::page("New task", signed, "tasks", body);
    *response.status_mut() = status;
    Ok(response)
}

async fn create_task(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Admin).await?;
            let mut errors = Vec::new();
            let required = |key: &str, what: &str, errors: &mut Vec<String>| {
                param(&form, key).map(str::to_owned).unwrap_or_else(|| {
                    errors.push(format!("{what} is required."));
                    String::new()
                })
            };
            let name = required("name", "A name", &mut errors);
            let channel = required("channel", "A channel", &mut errors);
            let destination = required("destination", "A destination", &mut errors);
            let prompt = required("prompt", "A prompt", &mut errors);
            let schedule = required("schedule", "A schedule", &mut errors);
            let timezone = param(&form, "timezone").unwrap_or("UTC").to_owned();
            let model = param(&form, "model").map(str::to_owned);
            if let Some(model) = &model
                && !console.settings.models.contains(model)
            {
                errors.push(format!("There is no model `{model}` in the configuration."));
            }
            let workflow = param(&form, "workflow")
                .and_then(|slug| workflows::find(&console.settings.workflows, slug));
            if let Some(workflow) = workflow
                && let Some(channel) = console
                    .store
                    .channel(&channel)
                    .await
                    .map_err(|e| view::store_failure(&e))?
                    .filter(|c| c.team_id == signed.team.id)
                && let Err(problem) = workflows::require_connected(
                    workflow,
                    &console
                        .missing_apps(&signed, &channel, &workflow.requires)
                        .await,
                )
            {
                errors.push(problem);
            }
            let allowed_writes = match workflow.map(|w| w.writes()) {
                Some(Ok(writes)) => writes,
                Some(Err(problem)) => {
                    errors.push(problem);
                    Vec::new()
                }
                None => Vec::new(),
            };
            if errors.is_empty() {
                let task = NewScheduledTask {
                    team_id: signed.team.id,
                    name: name.clone(),
                    creator: creator_of(&signed),
                    channel,
                    destination,
                    model,
                    prompt,
                    skill: workflow
                        .and_then(|w| w.skill.clone())
                        .or_else(|| param(&form, "skill").map(str::to_owned)),
                    schedule,
                    timezone,
                    allowed_writes,
                    next_run_at: None,
                };
                match tasks::create(&console.store, task, console.clock.now()).await {
                    Ok(created) => {
                        console
                            .audit(&signed, "task.create", &tasks::describe(&created))
                            .await;
                        return Ok(back(
                            "/console/tasks",
                            &format!("Created the task “{}”.", created.name),
                        ));
                    }
                    Err(error) => errors.push(error.to_string()),
                }
            }
            task_form(
                &console,
                &signed,
                TaskForm {
                    values: &form,
                    errors,
                },
            )
            .await
        }
        .await,
    )
}

async fn task_action(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Admin).await?;
            let task = match console.store.task(id).await {
                Ok(task) if task.team_id == signed.team.id => task,
                _ => {
                    return Err(view::refusal(
                        StatusCode::NOT_FOUND,
                        "There is no such task in your team.",
                    ));
                }
            };
            let now = console.clock.now();
            let store = &console.store;
            let outcome = match action.as_str() {
                "run" => tasks::run_now(store, &task, now)
                    .await
                    .map(|()| format!("The task “{}” runs within a minute.", task.name)),
                "pause" => tasks::pause(store, &task)
                    .await
                    .map(|_| format!("Paused “{}”.", task.name)),
                "resume" => tasks::resume(store, &task, now)
                    .await
                    .map(|_| format!("Resumed “{}”.", task.name)),
                "delete" => store
                    .delete_task(task.id)
                    .await
                    .map(|()| format!("Deleted “{}” and its run history.", task.name))
                    .map_err(Into::into),
                "edit" => {
                    if let Some(model) = param(&form, "model")
                        && !console.settings.models.iter().any(|m| m == model)
                    {
                        return Ok(back_error(
                            "/console/tasks",
                            &format!("There is no model `{model}` in the configuration."),
                        ));
                    }
                    let changes = TaskChanges {
                        prompt: param(&form, "prompt").map(str::to_owned),
                        schedule: param(&form, "schedule").map(str::to_owned),
                        destination: param(&form, "destination").map(str::to_owned),
                        model: param(&form, "model").map(|m| Some(m.to_owned())),
                        ..TaskChanges::default()
                    };
                    tasks::edit(store, task.clone(), changes, now)
                        .await
                        .map(|t| format!("Changed “{}”.", t.name))
                }
                _ => return Err(view::refusal(StatusCode::NOT_FOUND, "Unknown task action.")),
            };
            match outcome {
                Ok(message) => {
                    console
                        .audit(&signed, &format!("task.{action}"), &task.name)
                        .await;
                    Ok(back("/console/tasks", &message))
                }
                Err(error) => Ok(back_error("/console/tasks", &error.to_string())),
            }
        }
        .await,
    )
}

// ---- workflows ----

async fn workflows_page(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        signed.require(Role::Admin)?;
        let channels = console.team_channels(&signed).await?;
        let connected = !channels.is_empty();
        let mut missing = HashMap::new();
        for workflow in &console.settings.workflows {
            missing.insert(workflow.slug.as_str(), console.missing_everywhere(&signed, &channels, &workflow.requires).await);
        }
        let mut categories: Vec<&str> = console.settings.workflows.iter().map(|w| w.category.as_str()).collect();
        categories.sort_unstable();
        categories.dedup();
        let body = html! {
            @if !connected { p class="notice error" { "Connect a channel first: workflows report to one." } }
            @for category in categories {
                h2 { (category) }
                div class="cards" {
                    @for workflow in console.settings.workflows.iter().filter(|w| w.category == category) {
                        div class="card" {
                            h3 { (workflow.name) }
                            p { (workflow.description) }
                            p { (workflow.schedule) }
                            @let missing = missing.get(workflow.slug.as_str()).map_or(&[][..], Vec::as_slice);
                            @if !workflow.requires.is_empty() { p { "Needs: " @for need in &workflow.requires { span class="tag" { (need) } } } }
                            @if !missing.is_empty() {
                                p class="error" data-missing { "Not connected: " (missing.join(", ")) ". An admin adds it under [[integrations]] in the config file." }
                            }
                            @if connected && missing.is_empty() { a href={ "/console/tasks/new?workflow=" (encode(&workflow.slug)) } { "Use workflow" } }
                            @else { button type="button" disabled { "Use workflow" } }
                        }
                    }
                }
            }
        };
        Ok(view::page("Workflows", &signed, "workflows", body))
    }
    .await)
}

// ---- skills ----

async fn skills_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        signed.require(Role::Admin)?;
        let library = console.library();
        let installed: Vec<String> = agencybot_skills::installed(&console.store, &library, signed.team.id)
            .await
            .map_err(|e| view::refusal(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let search = param(&params, "q").unwrap_or("").to_lowercase();
        let category = param(&params, "category");
        let shown: Vec<_> = library
            .skills()
            .filter(|s| category.is_none_or(|c| s.category.as_deref() == Some(c)))
            .filter(|s| search.is_empty() || format!("{} {} {}", s.name, s.description, s.tags.join(" ")).to_lowercase().contains(&search))
            .collect();
        let body = html! {
            (notice(&params))
            form method="get" action="/console/skills" {
                label for="q" { "Search" } input id="q" name="q" value=(search);
                label for="category" { "Category" }
                select id="category" name="category" {
                    option value="" { "All" }
                    @for c in agencybot_skills::CATEGORIES { option value=(c) selected[category == Some(c)] { (c) } }
                }
                p { button type="submit" { "Filter" } }
            }
            h2 { "Bundles" }
            div class="cards" {
                @for (bundle, skills) in library.bundles() {
                    div class="card" data-bundle=(bundle) {
                        h3 { (bundle) }
                        p { @for skill in &skills { span class="tag" { (skill) } } }
                        (skill_button(&signed, "install", "bundle", &bundle, "Install bundle"))
                        " "
                        (skill_button(&signed, "remove", "bundle", &bundle, "Remove bundle"))
                    }
                }
            }
            h2 { "Skills (" (installed.len()) " installed)" }
            div class="cards" {
                @for skill in shown {
                    div class="card" data-skill=(skill.name) {
                        h3 { (skill.name) @if installed.contains(&skill.name) { " " span class="ok" { "✓ installed" } } }
                        p { (skill.category.as_deref().unwrap_or("-")) }
                        p { (skill.description) }
                        p { @for tag in &skill.tags { span class="tag" { (tag) } } }
                        @if installed.contains(&skill.name) { (skill_button(&signed, "remove", "skill", &skill.name, "Remove")) }
                        @else { (skill_button(&signed, "install", "skill", &skill.name, "Install")) }
                    }
                }
            }
        };
        Ok(view::page("Skills", &signed, "skills", body))
    }
    .await)
}

fn skill_button(signed: &SignedIn, op: &str, kind: &str, name: &str, label: &str) -> Markup {
    html! {
        form class="inline" method="post" action="/console/skills" {
            (csrf_field(signed))
            input type="hidden" name="op" value=(op);
            input type="hidden" name=(kind) value=(name);
            button type="submit" data-action={ (op) "-" (kind) } { (label) }
        }
    }
}

async fn skills_change(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Admin).await?;
            let target = match (param(&form, "skill"), param(&form, "bundle")) {
                (Some(skill), None) => Target::Skill(skill.to_owned()),
                (None, Some(bundle)) => Target::Bundle(bundle.to_owned()),
                _ => {
                    return Err(view::refusal(
                        StatusCode::BAD_REQUEST,
                        "Name one skill or one bundle.",
                    ));
                }
            };
            let library = console.library();
            let what = match &target {
                Target::Skill(name) => format!("skill {name}"),
                Target::Bundle(name) => format!("bundle {name}"),
            };
            let outcome = match param(&form, "op") {
                Some("install") => agencybot_skills::install(
                    &console.store,
                    &library,
                    signed.team.id,
                    &target,
                    &creator_of(&signed),
                    console.clock.now(),
                )
                .await
                .map(|added| {
                    if added.is_empty() {
                        format!("The {what} was already installed.")
                    } else {
                        format!("Installed: {}.", added.join(", "))
                    }
                }),
                Some("remove") => {
                    agencybot_skills::remove(&console.store, &library, signed.team.id, &target)
                        .await
                        .map(|removed| {
                            if removed.is_empty() {
                                format!("The {what} was not installed.")
                            } else {
                                format!("Removed: {}.", removed.join(", "))
                            }
                        })
                }
                _ => return Err(view::refusal(StatusCode::BAD_REQUEST, "Install or remove?")),
            };
            match outcome {
                Ok(message) => {
                    console
                        .audit(
                            &signed,
                            &format!("skills.{}", param(&form, "op").unwrap_or("")),
                            &format!("{what}: {message}"),
                        )
                        .await;
                    Ok(back("/console/skills", &message))
                }
                Err(error) => Ok(back_error("/console/skills", &error.to_string())),
            }
        }
        .await,
    )
}

// ---- members ----

async fn members_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        signed.require(Role::Admin)?;
        let members = console.store.members(signed.team.id).await.map_err(|e| view::store_failure(&e))?;
        let roles = ["viewer", "member", "admin", "owner"];
        let body = html! {
            (notice(&params))
            div class="scroll" { table {
                thead { tr { th { "name" } th { "role" } th { "known as" } th { "" } } }
                tbody { @for member in &members {
                    tr data-member=(member.name) {
                        td { (member.name) @if member.from_config { " " span class="tag" { "config" } } }
                        td { (member.role) }
                        td { @for (platform, ids) in &member.user_ids { (platform) ": " (ids.join(", ")) " " } }
                        td {
                            @if !member.from_config {
                                form class="inline" method="post" action="/console/members" {
                                    (csrf_field(&signed)) input type="hidden" name="op" value="role"; input type="hidden" name="name" value=(member.name);
                                    select name="role" aria-label="role" { @for role in roles { option value=(role) selected[member.role.to_string() == role] { (role) } } }
                                    button type="submit" { "Change role" }
                                }
                                " "
                                form class="inline" method="post" action="/console/members" onsubmit="return confirm('Remove this member?')" {
                                    (csrf_field(&signed)) input type="hidden" name="op" value="remove"; input type="hidden" name="name" value=(member.name);
                                    button type="submit" { "Remove" }
                                }
                            } @else { "managed in the config file" }
                        }
                    }
                } }
            } }
            h2 { "Add a member" }
            form method="post" action="/console/members" {
                (csrf_field(&signed)) input type="hidden" name="op" value="add";
                label for="m-name" { "Name" } input id="m-name" name="name" required;
                label for="m-role" { "Role" } select id="m-role" name="role" { @for role in roles { option value=(role) selected[role == "viewer"] { (role) } } }
                label for="m-telegram" { "Telegram user ID" } input id="m-telegram" name="telegram";
                label for="m-slack" { "Slack user ID" } input id="m-slack" name="slack";
                label for="m-discord" { "Discord user ID" } input id="m-discord" name="discord";
                p { button type="submit" class="primary" { "Add member" } }
            }
        };
        Ok(view::page("Members and roles", &signed, "members", body))
    }
    .await)
}

async fn members_change(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Admin).await?;
            let name = param(&form, "name").unwrap_or("").to_owned();
            let role = match param(&form, "role").map(str::parse::<Role>).transpose() {
                Ok(role) => role,
                Err(error) => return Ok(back_error("/console/members", &error.to_string())),
            };
            // Only an owner makes or unmakes owners.
            let target = console
                .store
                .members(signed.team.id)
                .await
                .map_err(|e| view::store_failure(&e))?
                .into_iter()
                .find(|m| m.name == name);
            if (role == Some(Role::Owner) || target.as_ref().is_some_and(|m| m.role == Role::Owner))
                && signed.role() < Role::Owner
            {
                return Err(view::refusal(
                    StatusCode::FORBIDDEN,
                    "Only an owner can add, change or remove an owner.",
                ));
            }
            let store = &console.store;
            let outcome = match param(&form, "op") {
                Some("add") => {
                    let mut user_ids = std::collections::BTreeMap::new();
                    for (key, platform) in [
                        ("telegram", agencybot_core::Platform::Telegram),
                        ("slack", agencybot_core::Platform::Slack),
                        ("discord", agencybot_core::Platform::Discord),
                    ] {
                        if let Some(id) = param(&form, key) {
                            if let Err(problem) = platform.check_user_id(id) {
                                return Ok(back_error("/console/members", &problem));
                            }
                            user_ids.insert(platform, vec![id.to_owned()]);
                        }
                    }
                    let spec = MemberSpec {
                        name: name.clone(),
                        role: role.unwrap_or(Role::Viewer),
                        user_ids,
                    };
                    store
                        .add_member(signed.team.id, &spec)
                        .await
                        .map(|m| format!("Added {} as {}.", m.name, m.role))
                }
                Some("role") => store
                    .set_member_role(signed.team.id, &name, role.unwrap_or(Role::Viewer))
                    .await
                    .map(|m| format!("{} is now {}.", m.name, m.role)),
                Some("remove") => store
                    .remove_member(signed.team.id, &name)
                    .await
                    .map(|()| format!("Removed {name}.")),
                _ => {
                    return Err(view::refusal(
                        StatusCode::BAD_REQUEST,
                        "Add, change a role or remove?",
                    ));
                }
            };
            match outcome {
                Ok(message) => {
                    if param(&form, "op") != Some("add") {
                        // A changed or removed member signs in again.
                        let identity = agencybot_store::ConsoleIdentity {
                            team_id: signed.team.id,
                            member_name: name.clone(),
                        };
                        let _ = store
                            .end_member_console_sessions(&identity, console.clock.now())
                            .await;
                    }
                    console
                        .audit(
                            &signed,
                            &format!("members.{}", param(&form, "op").unwrap_or("")),
                            &message,
                        )
                        .await;
                    Ok(back("/console/members", &message))
                }
                Err(error) => Ok(back_error("/console/members", &error.to_string())),
            }
        }
        .await,
    )
}

pub(crate) fn back_error(path: &str, message: &str) -> Response {
    Redirect::to(&format!("{path}?error={}", encode(message))).into_response()
}

// ---- audit ----

async fn audit_page(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    flat(async {
        let signed = console.signed_in(&headers).await?;
        signed.require(Role::Admin)?;
        let log = console.store.audit_log(signed.team.id, 500).await.map_err(|e| view::store_failure(&e))?;
        let body = html! {
            div class="scroll" { table id="audit" {
                thead { tr { th { "when" } th { "who" } th { "what" } th { "detail" } } }
                tbody { @for entry in &log {
                    tr { td { (entry.created_at.format("%Y-%m-%d %H:%M:%S UTC")) } td { (entry.actor) } td { (entry.action) } td { (entry.detail) } }
                } }
            } }
        };
        Ok(view::page("Audit log", &signed, "audit", body))
    }
    .await)
}
