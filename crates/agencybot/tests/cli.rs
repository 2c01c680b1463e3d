//! The `agencybot` binary as an operator uses it: doctor, migrate, members, run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use agencybot_store::StoreOptions;
use agencybot_testkit::PostgresSchema;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the binary in `dir` with an empty environment (plus `env`).
fn agencybot(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agencybot"));
    command.current_dir(dir).env_clear().args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("agencybot runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn doctor_with_the_example_config_and_no_secrets_names_each_missing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let example = workspace_root().join("config/agencybot.example.toml");
    let output = agencybot(
        dir.path(),
        &["doctor", "--config", example.to_str().unwrap()],
        &[],
    );
    let out = text(&output);
    assert!(!output.status.success(), "{out}");
    for secret in [
        "OPENAI_API_KEY",
        "ONLYFANSAPI_API_KEY",
        "TELEGRAM_BOT_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "DISCORD_BOT_TOKEN",
    ] {
        assert!(
            out.contains(&format!("[problem] {secret}: missing — ")),
            "{secret} not named:\n{out}"
        );
    }
    assert!(out.contains("create a bot with @BotFather"), "{out}");
    assert!(out.contains("6 problem(s) found."), "{out}");
    assert!(
        !dir.path().join("data").exists(),
        "doctor must not create the database"
    );
}

#[test]
fn doctor_passes_when_everything_is_there() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agencybot.toml"),
        "[llm]\napi_key_env = \"\"\n[[channels.discord]]\nname = \"d\"\nallow_everyone = true\n",
    )
    .unwrap();
    let env = [
        ("ONLYFANSAPI_API_KEY", "ofapi_test"),
        ("DISCORD_BOT_TOKEN", "token"),
    ];
    let output = agencybot(dir.path(), &["doctor", "--config", "agencybot.toml"], &env);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("All checks passed."), "{out}");
    assert!(!out.contains("ofapi_test"), "a secret was printed:\n{out}");
    assert!(
        out.contains("[warn]    Discord channel `d`: allow_everyone is on and no `guilds` are listed, so anyone in any server the bot is invited to is served"),
        "{out}"
    );
}

#[test]
fn a_config_with_an_unknown_or_mistyped_key_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[general]\nlog = \"info\"\n\n[ofapi]\nbase_ulr = \"http://x\"\n",
    )
    .unwrap();
    let output = agencybot(dir.path(), &["doctor", "--config", "bad.toml"], &[]);
    let out = text(&output);
    assert!(!output.status.success());
    assert!(
        out.contains("bad.toml:5:1: `base_ulr = \"http://x\"`: unknown field `base_ulr`"),
        "{out}"
    );
    assert!(
        out.contains("hint: remove `base_ulr` or fix its spelling"),
        "{out}"
    );

    std::fs::write(&config, "[database]\nmax_connections = \"many\"\n").unwrap();
    let output = agencybot(dir.path(), &["migrate", "--config", "bad.toml"], &[]);
    let out = text(&output);
    assert!(!output.status.success());
    assert!(out.contains("bad.toml:2:19: `max_connections = \"many\"`: invalid type: string \"many\", expected u32"), "{out}");
}

#[test]
fn a_missing_config_file_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = agencybot(dir.path(), &["run"], &[]);
    let out = text(&output);
    assert!(!output.status.success());
    assert!(
        out.contains(
            "config file config/agencybot.toml not found; copy config/agencybot.example.toml"
        ),
        "{out}"
    );
    // AGENCYBOT_CONFIG names the file too.
    let output = agencybot(
        dir.path(),
        &["run"],
        &[("AGENCYBOT_CONFIG", "elsewhere.toml")],
    );
    assert!(text(&output).contains("config file elsewhere.toml not found"));
}

#[test]
fn run_without_channels_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "[[teams]]\nname = \"A\"\n").unwrap();
    let output = agencybot(dir.path(), &["run", "--config", "a.toml"], &[]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("No channel is configured in a.toml"),
        "{}",
        text(&output)
    );
}

#[test]
fn run_with_a_channel_but_missing_secrets_lists_them_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[[channels.telegram]]\nname = \"tg\"\n",
    )
    .unwrap();
    let output = agencybot(
        dir.path(),
        &["run", "--config", "a.toml"],
        &[("OPENAI_API_KEY", "k")],
    );
    let out = text(&output);
    assert!(!output.status.success());
    assert!(
        out.contains("TELEGRAM_BOT_TOKEN: create a bot with @BotFather"),
        "{out}"
    );
    assert!(out.contains("ONLYFANSAPI_API_KEY"), "{out}");
    assert!(!out.contains("OPENAI_API_KEY"), "{out}");
}

#[test]
fn migrate_creates_a_new_sqlite_database_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[general]\ndata_dir = \"state/db\"\n",
    )
    .unwrap();
    let first = agencybot(dir.path(), &["migrate", "--config", "a.toml"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("Applied 10 migration(s) to SQLite:"),
        "{}",
        text(&first)
    );
    assert!(dir.path().join("state/db/agencybot.db").exists());
    let second = agencybot(dir.path(), &["migrate", "--config", "a.toml"], &[]);
    assert!(second.status.success());
    assert!(
        text(&second).contains("SQLite schema is up to date (10 migrations applied)."),
        "{}",
        text(&second)
    );
    let doctor = agencybot(dir.path(), &["doctor", "--config", "a.toml"], &[]);
    assert!(
        text(&doctor).contains("SQLite at sqlite://state/db/agencybot.db, schema up to date"),
        "{}",
        text(&doctor)
    );
}

#[tokio::test]
async fn migrate_creates_the_postgres_schema_once() {
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[database]\nurl = \"{}\"\nschema = \"{}\"\n",
            schema.url, schema.name
        ),
    )
    .unwrap();
    let first = agencybot(dir.path(), &["migrate", "--config", "a.toml"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("Applied 10 migration(s) to PostgreSQL:"),
        "{}",
        text(&first)
    );
    let second = agencybot(dir.path(), &["migrate", "--config", "a.toml"], &[]);
    assert!(
        text(&second).contains("PostgreSQL schema is up to date (10 migrations applied)."),
        "{}",
        text(&second)
    );

    // The tables are where the config said.
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&schema.url).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(&schema.name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let tables: Vec<&str> = tables.iter().map(|(t,)| t.as_str()).collect();
    for expected in [
        "teams",
        "members",
        "channels",
        "pending_actions",
        "scheduled_tasks",
        "task_runs",
        "usage_records",
        "installed_skills",
    ] {
        assert!(
            tables.contains(&expected),
            "{expected} missing from {tables:?}"
        );
    }
    // The environment override reaches the same database.
    let env_only = agencybot(
        dir.path(),
        &["migrate", "--config", "empty.toml"],
        &[
            ("AGENCYBOT_DATABASE_URL", &schema.url),
            ("AGENCYBOT_DATABASE_SCHEMA", &schema.name),
        ],
    );
    assert!(!env_only.status.success(), "empty.toml does not exist");
    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let env_only = agencybot(
        dir.path(),
        &["migrate", "--config", "empty.toml"],
        &[
            ("AGENCYBOT_DATABASE_URL", &schema.url),
            ("AGENCYBOT_DATABASE_SCHEMA", &schema.name),
        ],
    );
    assert!(
        text(&env_only).contains("PostgreSQL schema is up to date"),
        "{}",
        text(&env_only)
    );
}

#[test]
fn members_are_managed_from_the_cli_and_config_members_are_protected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[[teams]]\nname = \"Velvet\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [10]\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["members"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", "a.toml"]);
        agencybot(dir.path(), &all, &[])
    };
    let added = run(&[
        "add",
        "Bo",
        "--role",
        "member",
        "--telegram",
        "11",
        "--slack",
        "U22",
    ]);
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("Added Bo to `Velvet` as member."));

    let list = text(&run(&["list"]));
    assert!(list.contains("Team `Velvet`: 2 member(s)"), "{list}");
    assert!(
        list.contains("Ann                  owner   telegram 10  [config]"),
        "{list}"
    );
    assert!(
        list.contains("Bo                   member  telegram 11; slack U22"),
        "{list}"
    );

    let promoted = run(&["set-role", "Bo", "admin"]);
    assert!(
        text(&promoted).contains("Bo is now admin in `Velvet`."),
        "{}",
        text(&promoted)
    );
    let refused = run(&["set-role", "Ann", "viewer"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused)
            .contains("member `Ann` is declared in the config file; change or remove it there")
    );
    let bad_role = run(&["set-role", "Bo", "boss"]);
    assert!(!bad_role.status.success());
    assert!(
        text(&bad_role).contains("invalid role `boss`"),
        "{}",
        text(&bad_role)
    );
    let taken = run(&["add", "Eve", "--role", "viewer", "--telegram", "10"]);
    assert!(
        text(&taken).contains("user ID `telegram 10 (member Ann)` already exists"),
        "{}",
        text(&taken)
    );

    assert!(run(&["remove", "Bo"]).status.success());
    let list = text(&run(&["list"]));
    assert!(
        list.contains("1 member(s)") && !list.contains("Bo"),
        "{list}"
    );
    let missing = run(&["remove", "Bo"]);
    assert!(text(&missing).contains("member `Bo` not found"));
    let wrong_team = run(&["list", "--team", "Nope"]);
    assert!(text(&wrong_team).contains("no team named `Nope`; configured teams: Velvet"));
}

#[test]
fn version_and_help_are_available() {
    let dir = tempfile::tempdir().unwrap();
    let version = agencybot(dir.path(), &["--version"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("agencybot {}", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["members", "add", "--help"],
        &["doctor", "--help"],
    ] {
        let output = agencybot(dir.path(), args, &[]);
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: agencybot"),
            "{args:?}"
        );
    }
}

/// `agencybot chat --sandbox` in `dir` with `a.toml`, typing `input`.
async fn sandbox_chat(dir: &Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir)
        .env_clear()
        .args(["chat", "--sandbox", "--config", "a.toml"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_the_terminal_asks_before_writing_and_runs_after_yes() {
    use agencybot_testkit::{Reply, ScriptedModel, Step};
    use serde_json::{Value, json};

    let model = ScriptedModel::start().await;
    // The model reads the account id from its system prompt, as a real one would.
    model.push(Step::Dynamic(Box::new(|request: &Value| {
        let system = request["messages"][0]["content"].as_str().unwrap().to_owned();
        let start = system.find("(acct_").expect("accounts in the prompt") + 1;
        let account = system[start..].split(')').next().unwrap().to_owned();
        Reply::tool(
            "call_api",
            json!({"endpoint": "tracking-links.create-tracking-link", "arguments": {"account": account, "name": "Terminal test"}}),
        )
    })));
    model.push(Step::Dynamic(Box::new(|request: &Value| {
        let note = agencybot_testkit::last_system_note(request);
        assert!(note.contains("\"status\":\"done\""), "{note}");
        Reply::text("Created the link “Terminal test”.")
    })));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[llm]\nbase_url = \"{}\"\napi_key_env = \"\"\nmodel = \"gpt-test\"\n",
            model.url()
        ),
    )
    .unwrap();
    let output = sandbox_chat(
        dir.path(),
        b"Create a tracking link called Terminal test\nyes\n/quit\n",
    )
    .await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("Here's what I'll do — nothing has been done yet:\n• Create Tracking Link on @miarose — name “Terminal test”"), "{out}");
    assert!(out.contains("[yes / no]"), "{out}");
    assert!(
        out.contains("agencybot> Created the link “Terminal test”."),
        "{out}"
    );
    assert_eq!(model.remaining(), 0);
}

/// Rehearses in `agencybot chat --sandbox` against a production database
/// (`[database]` section and how to open it) and checks it was not touched.
async fn rehearse_and_check_production(dir: &Path, database: &str, options: StoreOptions) {
    use agencybot_core::{ConversationKey, Platform};
    use agencybot_store::{Store, UsageFilter};
    use agencybot_testkit::{Reply, ScriptedModel};

    let model = ScriptedModel::start().await;
    model.push(Reply::text("Rehearsal answer."));
    std::fs::write(
        dir.join("a.toml"),
        format!(
            "{database}[llm]\nbase_url = \"{}\"\napi_key_env = \"\"\nmodel = \"gpt-test\"\n",
            model.url()
        ),
    )
    .unwrap();
    let migrated = agencybot(dir, &["migrate", "--config", "a.toml"], &[]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    let output = sandbox_chat(dir, b"How much did we earn this week?\n/quit\n").await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("agencybot> Rehearsal answer."), "{out}");

    let production = Store::connect(&options).await.unwrap();
    let key = ConversationKey::direct("terminal", Platform::Terminal, "local", "operator");
    assert!(!production.has_conversation(&key).await.unwrap());
    let usage = production
        .usage_records(&UsageFilter {
            team_id: None,
            since: None,
            until: None,
            platform: None,
            kind: None,
            model: None,
            user_id: None,
            limit: None,
        })
        .await
        .unwrap();
    assert!(usage.is_empty(), "{usage:?}");
    assert_eq!(model.remaining(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sandbox_leaves_no_row_in_the_production_teams_history_or_usage() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("production.db").display());
    rehearse_and_check_production(
        dir.path(),
        &format!("[database]\nurl = \"{url}\"\n"),
        StoreOptions::new(url),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sandbox_leaves_no_row_in_a_production_postgres() {
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut options = StoreOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    rehearse_and_check_production(
        dir.path(),
        &format!(
            "[database]\nurl = \"{}\"\nschema = \"{}\"\n",
            schema.url, schema.name
        ),
        options,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_a_telegram_channel_and_stops_cleanly_on_sigterm() {
    use agencybot_testkit::{FakeTelegram, Reply, ScriptedModel};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let telegram = FakeTelegram::start("42:run-test").await;
    let model = ScriptedModel::start().await;
    model.push(Reply::text("Hello from agencybot run."));
    let port = free_port();
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[llm]\nbase_url = \"{}\"\napi_key_env = \"\"\n[ofapi]\nbase_url = \"{}\"\n\
             [alerts]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [[teams]]\nname = \"Velvet\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [111]\n\
             [[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            model.url(),
            sandbox.url(),
            telegram.url()
        ),
    )
    .unwrap();
    // An alert, added from the command line before the bot starts.
    add_whale_tip_alert(dir.path()).await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir.path())
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", "42:run-test")
        .env("ONLYFANSAPI_API_KEY", "sandbox-key")
        .env("RUST_LOG", "info")
        .args(["run", "--config", "a.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    telegram
        .wait_until(std::time::Duration::from_secs(20), |t| {
            !t.calls("getupdates").is_empty() || !t.calls("getme").is_empty()
        })
        .await;
    telegram.send_text(111, "hi");
    telegram
        .wait_until(std::time::Duration::from_secs(20), |t| {
            t.calls("sendmessage")
                .iter()
                .any(|c| c["text"] == "Hello from agencybot run.")
        })
        .await;
    // A $150 tip in the sandbox: its signed webhook reaches the running
    // bot, whose alert reaches the chat.
    let account = sandbox.inspect(|d| d.accounts[0].id.clone());
    let fan = sandbox.inspect(|d| d.accounts[0].fans[0].id);
    let tipped = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/accounts/{account}/tips",
            sandbox.url()
        ))
        .bearer_auth("sandbox-key")
        .json(&serde_json::json!({"fan_id": fan, "amount": 150}))
        .send()
        .await
        .unwrap();
    let tipped: serde_json::Value = tipped.json().await.unwrap();
    assert_eq!(tipped["deliveries"][0]["status"], 200, "{tipped}");
    telegram
        .wait_until(std::time::Duration::from_secs(20), |t| {
            t.calls("sendmessage").iter().any(|c| {
                c["chat_id"] == 111
                    && c["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("tipped $150.00"))
            })
        })
        .await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("Telegram channel is live"), "{out}");
    assert!(out.contains("webhook receiver listening"), "{out}");
    assert!(out.contains("stopping: finishing turns in flight"), "{out}");
    assert!(
        !out.contains("42:run-test"),
        "the token never reaches the logs"
    );
}

#[test]
fn skills_are_validated_listed_installed_and_removed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = workspace_root().join("skills");
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[skills]\ndir = \"{}\"\n[[teams]]\nname = \"Velvet\"\n",
            shipped.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["skills"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", "a.toml"]);
        agencybot(dir.path(), &all, &[])
    };
    let valid = run(&["validate"]);
    assert!(valid.status.success(), "{}", text(&valid));
    assert!(
        text(&valid).contains("13 skill(s) valid."),
        "{}",
        text(&valid)
    );

    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("oops")).unwrap();
    std::fs::write(broken.join("oops/SKILL.md"), "---\nname: oops\n---\nBody\n").unwrap();
    let invalid = run(&["validate", broken.to_str().unwrap()]);
    assert!(!invalid.status.success());
    assert!(
        text(&invalid).contains("oops/SKILL.md:2: `description`: missing"),
        "{}",
        text(&invalid)
    );

    let installed = run(&["install", "--bundle", "reports"]);
    assert!(
        text(&installed)
            .contains("Installed for `Velvet`: chargeback-watch, creator-account-overview"),
        "{}",
        text(&installed)
    );
    let list = text(&run(&["list"]));
    assert!(list.contains("[x] daily-earnings-digest"), "{list}");
    assert!(list.contains("[ ] churn-rescue"), "{list}");
    assert!(list.contains("Engagement: "), "{list}");
    let removed = run(&["remove", "daily-earnings-digest"]);
    assert!(
        text(&removed).contains("Removed from `Velvet`: daily-earnings-digest"),
        "{}",
        text(&removed)
    );
    let unknown = run(&["install", "churn-rescues"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("there is no skill `churn-rescues`; did you mean churn-rescue?"),
        "{}",
        text(&unknown)
    );
    let show = text(&run(&["show", "whale-watch"]));
    assert!(show.starts_with("whale-watch — "), "{show}");
}

/// The words of the table row whose first word is `key`.
fn line_of(out: &str, key: &str) -> Vec<String> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no `{key}` row in:\n{out}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_workflows_and_usage_from_the_cli() {
    use agencybot_core::{NewUsageRecord, Platform, RequestKind, UsageOutcome};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[scheduler]\nworkflows = \"{}\"\n[[teams]]\nname = \"Velvet\"\ntimezone = \"Europe/Berlin\"\n\
             [[channels.telegram]]\nname = \"tg\"\nteam = \"Velvet\"\n",
            workspace_root().join("config/workflows.toml").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", "a.toml"]);
        let output = agencybot(dir.path(), &all, &[]);
        (output.status.success(), text(&output))
    };

    let (ok, out) = run(&[
        "tasks",
        "add",
        "Morning",
        "--prompt",
        "Yesterday's earnings",
        "--schedule",
        "0 9 * * 1-5",
        "--destination",
        "111",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Created “Morning” — 0 9 * * 1-5 (Europe/Berlin), active, next ")
            && out.contains("09:00")
            && out.contains("to tg 111"),
        "{out}"
    );
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Bad",
        "--prompt",
        "x",
        "--schedule",
        "0 25 * * *",
        "--destination",
        "1",
    ]);
    assert!(!ok && out.contains("0 25 * * *"), "{out}");
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Bad",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--timezone",
        "Mars/Olympus",
        "--destination",
        "1",
    ]);
    assert!(!ok && out.contains("Mars/Olympus"), "{out}");
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Claude",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--destination",
        "1",
        "--model",
        "claude-9",
    ]);
    assert!(
        !ok && out.contains("no model `claude-9`") && out.contains("gpt-4.1-mini"),
        "{out}"
    );
    // Allowed writes are checked against the catalog and shown with their fixed arguments.
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Links",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--destination",
        "1",
        "--allow-write",
        "tracking-links.make-it-up",
    ]);
    assert!(
        !ok && out.contains("`tracking-links.make-it-up` is not an OnlyFansAPI endpoint id"),
        "{out}"
    );
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Links",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--destination",
        "1",
        "--allow-write",
        "payouts.request-manual-withdrawal",
    ]);
    assert!(!ok && out.contains("is never made unattended"), "{out}");
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Links",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--destination",
        "1",
        "--allow-write",
        "tracking-links.create-tracking-link acct=acct_1",
    ]);
    assert!(!ok && out.contains("has no argument `acct`"), "{out}");
    let (ok, out) = run(&[
        "tasks",
        "add",
        "Links",
        "--prompt",
        "x",
        "--schedule",
        "daily 08:00",
        "--destination",
        "1",
        "--allow-write",
        "tracking-links.create-tracking-link account=acct_1",
    ]);
    assert!(
        ok && out.contains(
            "Without asking, each run may: Create Tracking Link (tracking-links.create-tracking-link) only with account = acct_1"
        ),
        "{out}"
    );
    let (ok, out) = run(&["tasks", "delete", "Links"]);
    assert!(ok, "{out}");

    let (ok, out) = run(&["tasks", "pause", "Morning"]);
    assert!(ok && out.contains("paused, next -"), "{out}");
    let (ok, out) = run(&["tasks", "resume", "Morning"]);
    assert!(ok && out.contains("active"), "{out}");
    let (ok, out) = run(&["tasks", "edit", "Morning", "--schedule", "daily 07:30"]);
    assert!(
        ok && out.contains("daily 07:30") && out.contains("07:30,"),
        "{out}"
    );
    let (ok, out) = run(&["tasks", "run", "Morning"]);
    assert!(ok && out.contains("is due now"), "{out}");
    let (ok, out) = run(&["tasks", "edit", "Nope", "--prompt", "x"]);
    assert!(!ok && out.contains("no task named `Nope`"), "{out}");

    let (ok, out) = run(&["workflows", "list"]);
    assert!(
        ok && out.contains("8 workflow(s)") && out.contains("whale-watch"),
        "{out}"
    );
    let (ok, out) = run(&["workflows", "use", "whale-watch", "--destination", "111"]);
    assert!(ok && out.contains("Created “Whale watch”"), "{out}");
    let (ok, out) = run(&["tasks", "list"]);
    assert!(ok && out.contains("2 scheduled task(s)"), "{out}");
    let (ok, out) = run(&["tasks", "delete", "Morning"]);
    assert!(ok && out.contains("Deleted"), "{out}");

    // Seeded usage: three requests in the last 7 days, one older.
    let store = agencybot_store::Store::connect(&agencybot_store::StoreOptions::new(format!(
        "sqlite://{}",
        dir.path().join("data/agencybot.db").display()
    )))
    .await
    .unwrap();
    let team = store.team_by_name("Velvet").await.unwrap().unwrap();
    let now = chrono::Utc::now();
    // The first also made two web searches ($0.01 of its cost) and
    // answered one from the cache.
    for (index, (model, days, prompt, cost, credits, searches)) in [
        ("gpt-4.1", 1, 1000, 0.0125, 5, (2, 1, 0.01)),
        ("gpt-4.1", 3, 2000, 0.02, 7, (0, 0, 0.0)),
        ("gpt-4.1-mini", 2, 500, 0.001, 3, (0, 0, 0.0)),
        ("gpt-4.1", 10, 9000, 1.0, 100, (0, 0, 0.0)),
    ]
    .into_iter()
    .enumerate()
    {
        // The first also called two integrations.
        let integration_calls = if index == 0 {
            std::collections::BTreeMap::from([("sheets".to_owned(), 2), ("time".to_owned(), 1)])
        } else {
            std::collections::BTreeMap::new()
        };
        store
            .record_usage(&NewUsageRecord {
                team_id: team.id,
                platform: Platform::Telegram,
                user_id: "111".into(),
                kind: RequestKind::Chat,
                model: model.into(),
                prompt_tokens: prompt,
                completion_tokens: 100,
                cost_usd: cost,
                credits,
                web_searches: searches.0,
                web_searches_cached: searches.1,
                web_search_usd: searches.2,
                integration_calls,
                duration_ms: 900,
                outcome: UsageOutcome::Success,
                created_at: now - chrono::Duration::days(days),
            })
            .await
            .unwrap();
    }
    store.close().await;

    let (ok, out) = run(&[
        "usage",
        "--period",
        "7d",
        "--by",
        "model",
        "--csv",
        "usage.csv",
        "--chart",
        "usage.png",
    ]);
    assert!(ok, "{out}");
    let line = |key: &str| line_of(&out, key);
    assert_eq!(
        line("gpt-4.1")[1..],
        ["2", "3000", "200", "0.0325", "12", "2+1", "0.0100"],
        "{out}"
    );
    assert_eq!(
        line("gpt-4.1-mini")[1..],
        ["1", "500", "100", "0.0010", "3", "0", "0.0000"],
        "{out}"
    );
    assert_eq!(
        line("total")[1..],
        ["3", "3500", "300", "0.0335", "15", "2+1", "0.0100"],
        "{out}"
    );
    let csv = std::fs::read_to_string(dir.path().join("usage.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.starts_with("date,platform,user,type,model,prompt_tokens,completion_tokens,cost_usd,credits,web_searches,web_searches_cached,web_search_usd,"),
        "{csv}"
    );
    assert!(csv.contains(",5,2,1,0.010000,"), "{csv}");

    // By type, and the activity list, show the searches too.
    let (ok, out) = run(&["usage", "--period", "7d", "--by", "type", "--activity"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("searches") && out.contains("search USD"),
        "{out}"
    );
    assert_eq!(
        line_of(&out, "chat")[1..],
        ["3", "3500", "300", "0.0335", "15", "2+1", "0.0100"],
        "{out}"
    );
    assert!(out.contains("2 search(es) $0.0100, 1 cached"), "{out}");
    assert!(out.contains("integrations: sheets×2, time×1"), "{out}");
    assert!(
        csv.lines().any(|l| l.ends_with(",sheets:2 time:1")),
        "{csv}"
    );
    let png = std::fs::read(dir.path().join("usage.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    assert!(u32::from_be_bytes(png[16..20].try_into().unwrap()) >= 900);

    let (ok, out) = run(&["usage", "--by", "colour", "--chart", "x.png"]);
    assert!(!ok && out.contains("cannot group by `colour`"), "{out}");
    let (ok, out) = run(&["usage", "--measure", "searches", "--chart", "searches.png"]);
    assert!(ok && out.contains("Web searches by"), "{out}");
    let (ok, out) = run(&["usage", "--by", "colour"]);
    assert!(!ok && out.contains("cannot group by `colour`"), "{out}");
}

/// The MCP servers the integration tests install (see the integrations crate).
fn mcp_servers() -> PathBuf {
    agencybot_testkit::python_venv(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "mcp-servers",
        &[
            "mcp==2.3.0",
            "mcp-server-time==2026.10.19",
            "mcp-server-fetch==2026.10.24",
        ],
    )
}

#[test]
fn integrations_are_listed_tested_checked_and_required_by_workflows() {
    let bin = mcp_servers();
    let fixture = workspace_root().join("crates/integrations/tests/fixtures/fixture_server.py");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("workflows.toml"),
        r#"[[workflows]]
slug = "weekly-sheet"
name = "Weekly earnings to Google Sheets"
category = "Reports"
description = "Adds last week's earnings to a sheet."
prompt = "Add last week's earnings per account to the Earnings sheet."
schedule = "weekly mon 09:00"
requires = ["Google Sheets"]
"#,
    )
    .unwrap();
    let base = "[scheduler]\nworkflows = \"workflows.toml\"\n[[teams]]\nname = \"Velvet\"\n\
                [[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [\"111\"]\n\
                [[channels.telegram]]\nname = \"tg\"\nteam = \"Velvet\"\n";
    let run = |config: &str, args: &[&str]| {
        std::fs::write(dir.path().join("a.toml"), config).unwrap();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", "a.toml"]);
        let output = agencybot(dir.path(), &all, &[("FIXTURE_TOKEN", "t-1")]);
        (output.status.success(), text(&output))
    };
    let use_workflow = ["workflows", "use", "weekly-sheet", "--destination", "111"];

    // Without the app, the workflow is refused, naming it.
    let (ok, out) = run(base, &use_workflow);
    assert!(
        !ok && out.contains("needs Google Sheets connected first"),
        "{out}"
    );
    let (ok, out) = run(base, &["workflows", "list"]);
    assert!(ok && out.contains("(needs Google Sheets)"), "{out}");
    let (ok, out) = run(base, &["integrations", "list"]);
    assert!(
        ok && out.contains("No integrations are configured"),
        "{out}"
    );

    let with_apps = format!(
        "{base}[[integrations]]\nname = \"time\"\ntitle = \"Time\"\ncommand = \"{time}\"\nargs = [\"--local-timezone\", \"UTC\"]\ntrusted = true\n\
         [[integrations]]\nname = \"google-sheets\"\ntitle = \"Google Sheets\"\ncommand = \"{python}\"\nargs = [\"{fixture}\", \"--transport\", \"stdio\"]\n\
         env_secrets = {{ SHEETS_TOKEN = \"FIXTURE_TOKEN\" }}\ndeny_tools = [\"exit_mid_call\"]\n",
        time = bin.join("mcp-server-time").display(),
        python = bin.join("python").display(),
        fixture = fixture.display(),
    );
    let (ok, out) = run(&with_apps, &["integrations", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ time (Time) — team Velvet, team, stdio:")
            && out.contains("2 tool(s), 2 read-only: read-only tools run without asking"),
        "{out}"
    );
    assert!(
        out.contains("✓ google-sheets (Google Sheets)")
            && out.contains("1 left out by allow_tools/deny_tools")
            && out.contains("not trusted, so every call asks first"),
        "{out}"
    );
    let (ok, out) = run(&with_apps, &["integrations", "test", "time"]);
    assert!(ok, "{out}");
    assert!(
        line_of(&out, "time__get_current_time")[1..4] == ["reads,", "runs", "at"],
        "{out}"
    );
    let (ok, out) = run(&with_apps, &["integrations", "test", "google-sheets"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("google-sheets__append_row") && out.contains("writes, asks first"),
        "{out}"
    );
    assert!(
        out.contains("google-sheets__delete_sheet")
            && out.contains("may change or delete, asks first"),
        "{out}"
    );
    assert!(!out.contains("exit_mid_call"), "{out}");
    let (ok, out) = run(&with_apps, &["integrations", "test", "nope"]);
    assert!(
        !ok && out.contains("there is no integration `nope`; configured: time, google-sheets"),
        "{out}"
    );

    // Doctor reaches each one.
    let (_, out) = run(&with_apps, &["doctor"]);
    assert!(
        out.contains("[ok]      integration `time`: Time (stdio:")
            && out.contains("answers: 2 tool(s), 2 read-only, trusted"),
        "{out}"
    );

    // Now the workflow can be used.
    let (ok, out) = run(&with_apps, &use_workflow);
    assert!(
        ok && out.contains("Created “Weekly earnings to Google Sheets”"),
        "{out}"
    );

    // A server that does not start, or a secret that is missing: said, and a failure.
    let broken = format!(
        "{base}[[integrations]]\nname = \"gone\"\ncommand = \"/nonexistent/mcp\"\n\
         [[integrations]]\nname = \"remote\"\nurl = \"http://127.0.0.1:9/mcp\"\nbearer_token_env = \"REMOTE_TOKEN\"\n"
    );
    let (ok, out) = run(&broken, &["integrations", "list"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("✗ gone (gone)") && out.contains("not reachable: it could not be started"),
        "{out}"
    );
    assert!(
        out.contains("✗ remote: left out, a secret it needs is not set"),
        "{out}"
    );
    let (_, out) = run(&broken, &["doctor"]);
    assert!(
        out.contains("REMOTE_TOKEN") && out.contains("integration `remote`"),
        "{out}"
    );

    // Config mistakes point at their line.
    let (ok, out) = run(
        &format!("{base}[[integrations]]\nname = \"both\"\ncommand = \"x\"\nurl = \"http://x\"\n"),
        &["integrations", "list"],
    );
    assert!(
        !ok && out.contains("needs either `command`") && out.contains("a.toml:13"),
        "{out}"
    );
    let (ok, out) = run(
        &format!(
            "{base}[[integrations]]\nname = \"mine\"\nscope = \"personal\"\nowner = \"Zed\"\ncommand = \"x\"\n"
        ),
        &["integrations", "list"],
    );
    assert!(
        !ok && out.contains("belongs to `Zed`, who is not a member of team `Velvet`"),
        "{out}"
    );
}

/// `agencybot integrations connect notion` started, with the sign-in
/// address it printed and the rest of its output to come.
fn start_sign_in(
    dir: &Path,
    key: (&str, &str),
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    String,
) {
    use std::io::BufRead;
    let mut connect = Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir)
        .env_clear()
        .env(key.0, key.1)
        .args(["integrations", "connect", "notion", "--config", "a.toml"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = std::io::BufReader::new(connect.stdout.take().unwrap()).lines();
    let sign_in = printed
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| {
            let line = line.trim();
            line.starts_with("http").then(|| line.to_owned())
        })
        .expect("a sign-in address is printed");
    (connect, printed, sign_in)
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An OnlyFansAPI sandbox with the key `sandbox-key`.
async fn sandbox() -> agencybot_ofapi::sandbox::Sandbox {
    agencybot_ofapi::sandbox::Sandbox::start(
        agencybot_ofapi::sandbox::SandboxConfig::new("sandbox-key"),
        0,
    )
    .await
    .unwrap()
}

/// A child process stopped when the test ends, however it ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One plain GET on loopback: the status line and the `Location` header.
fn http_get(url: &str) -> (String, Option<String>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let location = answer.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    (status, location)
}

#[test]
fn an_oauth_integration_is_signed_in_from_the_cli_and_signed_out() {
    use std::io::{BufRead, Write};

    let bin = mcp_servers();
    let script = workspace_root().join("crates/integrations/tests/fixtures/fixture_server.py");
    let mut fixture = Stopped(
        Command::new(bin.join("python"))
            .arg(&script)
            .args(["--transport", "http", "--port", "0", "--oauth"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut ready = std::io::BufReader::new(fixture.0.stdout.take().unwrap()).lines();
    let url = ready
        .find_map(|line| {
            line.unwrap()
                .strip_prefix("FIXTURE_READY ")
                .map(str::to_owned)
        })
        .expect("the fixture is ready");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[[teams]]\nname = \"Velvet\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [\"111\"]\n\
             [[channels.telegram]]\nname = \"tg\"\nteam = \"Velvet\"\n\
             [[integrations]]\nname = \"notion\"\ntitle = \"Notion\"\nurl = \"{url}\"\noauth = true\ntrusted = true\n"
        ),
    )
    .unwrap();
    let key = (
        "AGENCYBOT_SEALING_KEY",
        "0123456789abcdef0123456789abcdef-sealing",
    );
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", "a.toml"]);
        let output = agencybot(dir.path(), &all, env);
        (output.status.success(), text(&output))
    };

    // Without the sealing key nothing is signed in, and doctor names the key.
    let (ok, out) = run(&["integrations", "connect", "notion"], &[]);
    assert!(
        !ok && out.contains("AGENCYBOT_SEALING_KEY is not set"),
        "{out}"
    );
    let (_, out) = run(&["doctor"], &[]);
    assert!(
        out.contains("AGENCYBOT_SEALING_KEY") && out.contains("sign-ins of integration `notion`"),
        "{out}"
    );
    // Not signed in yet: listed as needing a sign-in.
    let (ok, out) = run(&["integrations", "test", "notion"], &[key]);
    assert!(
        !ok && out.contains("needs a sign-in") && out.contains("integrations connect notion"),
        "{out}"
    );

    // The sign-in: the printed address, approved, back to the CLI's listener.
    let (mut connect, printed, sign_in) = start_sign_in(dir.path(), key);
    let (status, back) = http_get(&sign_in);
    assert!(status.contains("302"), "{status}");
    let back = back.expect("redirected back");
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    let (status, _) = http_get(&back);
    assert!(status.contains("200"), "{status}");
    let rest: Vec<String> = printed.map(Result::unwrap).collect();
    let status = connect.wait().unwrap();
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter()
            .any(|line| line.contains("✓ Signed in to Notion")),
        "{rest:?}"
    );

    // Signed in: a later command reaches it with the sealed tokens.
    let (ok, out) = run(&["integrations", "test", "notion"], &[key]);
    assert!(
        ok && out.contains("✓ notion (Notion)") && out.contains("get_rows"),
        "{out}"
    );
    // A different key opens nothing: asked to sign in again.
    let other = (
        "AGENCYBOT_SEALING_KEY",
        "another-phrase-of-at-least-thirty-two-chars",
    );
    let (ok, out) = run(&["integrations", "test", "notion"], &[other]);
    assert!(!ok && out.contains("needs a sign-in"), "{out}");

    let (ok, out) = run(&["integrations", "disconnect", "notion"], &[key]);
    assert!(ok && out.contains("Signed out of Notion"), "{out}");
    let (ok, out) = run(&["integrations", "test", "notion"], &[key]);
    assert!(!ok && out.contains("needs a sign-in"), "{out}");
    let (ok, out) = run(&["integrations", "disconnect", "notion"], &[key]);
    assert!(ok && out.contains("Notion was not signed in"), "{out}");

    // A browser on another machine: the address it was sent to, pasted.
    let (mut connect, printed, sign_in) = start_sign_in(dir.path(), key);
    let (_, back) = http_get(&sign_in);
    let mut stdin = connect.stdin.take().unwrap();
    writeln!(stdin, "not the address").unwrap();
    writeln!(stdin, "{}", back.unwrap()).unwrap();
    let rest: Vec<String> = printed.map(Result::unwrap).collect();
    assert!(connect.wait().unwrap().success(), "{rest:?}");
    assert!(
        rest.iter()
            .any(|line| line.contains("That is not the address"))
            && rest
                .iter()
                .any(|line| line.contains("✓ Signed in to Notion")),
        "{rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_added_listed_tested_and_removed_from_the_cli() {
    let sandbox = sandbox().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[ofapi]\nbase_url = \"{}\"\n[alerts]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [[teams]]\nname = \"Velvet\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [111]\n\
             [[channels.telegram]]\nname = \"tg\"\n",
            sandbox.url()
        ),
    )
    .unwrap();
    let path = dir.path().to_owned();
    let run = move |args: Vec<&'static str>| {
        let path = path.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = args;
                all.extend_from_slice(&["--config", "a.toml"]);
                let output = agencybot(&path, &all, &[("ONLYFANSAPI_API_KEY", "sandbox-key")]);
                (output.status.success(), text(&output))
            })
            .await
            .unwrap()
        }
    };
    let webhooks = || sandbox.inspect(|d| d.webhooks.clone());
    let add = vec![
        "alerts",
        "add",
        "whale_tip",
        "--channel",
        "tg",
        "--destination",
        "111",
        "--threshold-usd",
        "100",
    ];

    let (ok, out) = run(vec!["alerts", "list"]).await;
    assert!(ok && out.contains("has no alerts"), "{out}");
    let (_, out) = run(vec!["doctor"]).await;
    assert!(
        out.contains(&format!("receiver on 127.0.0.1:{port}"))
            && out.contains(&format!("http://127.0.0.1:{port}/hooks/ofapi/<id>")),
        "{out}"
    );
    // Not answered yes: shown, and nothing changed.
    let (ok, out) = run(add.clone()).await;
    assert!(
        !ok && out.contains("tips of $100.00 or more") && out.contains("Nothing was changed"),
        "{out}"
    );
    assert!(webhooks().is_empty());
    let (ok, out) = run([add.clone(), vec!["--yes"]].concat()).await;
    assert!(ok && out.contains("\"outcome\": \"added\""), "{out}");
    let created = webhooks();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].events, vec!["tips.received".to_owned()]);
    assert!(
        created[0]
            .url
            .starts_with(&format!("http://127.0.0.1:{port}/hooks/ofapi/"))
    );
    let (ok, out) = run(vec!["alerts", "list"]).await;
    assert!(
        ok && out.contains("tips of $100.00 or more on every account → tg 111")
            && out.contains(&format!("OnlyFansAPI webhook {}", created[0].id)),
        "{out}"
    );
    // Nothing listens yet: the test says so.
    let (ok, out) = run(vec!["alerts", "test"]).await;
    assert!(!ok && out.contains("could not be reached"), "{out}");
    let (ok, out) = run(vec![
        "alerts",
        "add",
        "everything",
        "--channel",
        "tg",
        "--destination",
        "1",
    ])
    .await;
    assert!(
        !ok && out.contains("there is no alert kind `everything`"),
        "{out}"
    );
    let (ok, out) = run(vec![
        "alerts",
        "add",
        "whale_tip",
        "--channel",
        "nope",
        "--destination",
        "1",
    ])
    .await;
    assert!(!ok && out.contains("there is no channel `nope`"), "{out}");

    // A config that cannot receive is refused with what to add.
    let config = std::fs::read_to_string(dir.path().join("a.toml")).unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        config.replace(&format!("public_url = \"http://127.0.0.1:{port}\"\n"), ""),
    )
    .unwrap();
    let (ok, out) = run(vec!["alerts", "list"]).await;
    assert!(
        !ok && out.contains("[alerts] listen is set without `public_url`"),
        "{out}"
    );
    std::fs::write(dir.path().join("a.toml"), config).unwrap();

    // The last one removed: the webhook goes too.
    let (ok, out) = run(vec!["alerts", "remove", "1", "--yes"]).await;
    assert!(ok && out.contains("\"webhook\": \"deleted\""), "{out}");
    assert!(webhooks().is_empty());
    let (ok, out) = run(vec!["alerts", "remove", "1", "--yes"]).await;
    assert!(!ok && out.contains("has no alert #1"), "{out}");
}

/// `alerts add` from the command line: tips of $100 or more to chat 111 on
/// channel `tg`, without asking.
async fn add_whale_tip_alert(dir: &Path) {
    let path = dir.to_owned();
    let added = tokio::task::spawn_blocking(move || {
        agencybot(
            &path,
            &[
                "alerts",
                "add",
                "whale_tip",
                "--channel",
                "tg",
                "--destination",
                "111",
                "--threshold-usd",
                "100",
                "--yes",
                "--config",
                "a.toml",
            ],
            &[("ONLYFANSAPI_API_KEY", "sandbox-key")],
        )
    })
    .await
    .unwrap();
    assert!(added.status.success(), "{}", text(&added));
}

/// A child process that does not outlive a failed test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `agencybot run` killed with `kill -9` after it acknowledged a webhook and
/// before its alert went out: the restarted bot sends the alert, once. The
/// worker is held between the two by a lock on the alerts' delivery table,
/// so the kill lands there on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_killed_after_acknowledging_a_webhook_alerts_once_after_a_restart() {
    use agencybot_testkit::{FakeTelegram, ScriptedModel};
    use sqlx::Connection;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(schema) = PostgresSchema::create().await else {
        return;
    };
    let telegram = FakeTelegram::start("42:kill-test").await;
    let model = ScriptedModel::start().await;
    let port = free_port();
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[database]\nurl = \"{}\"\nschema = \"{}\"\n\
             [llm]\nbase_url = \"{}\"\napi_key_env = \"\"\n[ofapi]\nbase_url = \"{}\"\n\
             [alerts]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\ntakeover_secs = 1\n\
             [[teams]]\nname = \"Velvet\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [111]\n\
             [[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            schema.url,
            schema.name,
            model.url(),
            sandbox.url(),
            telegram.url()
        ),
    )
    .unwrap();
    let env = [
        ("TELEGRAM_BOT_TOKEN", "42:kill-test"),
        ("ONLYFANSAPI_API_KEY", "sandbox-key"),
    ];
    add_whale_tip_alert(dir.path()).await;
    let start = || {
        Running(
            std::process::Command::new(env!("CARGO_BIN_EXE_agencybot"))
                .current_dir(dir.path())
                .env_clear()
                .envs(env)
                .args(["run", "--config", "a.toml"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let receiving = || async {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the webhook receiver never listened");
    };
    let mut first = start();
    receiving().await;

    // Hold the worker: while this transaction lasts, claiming an alert waits.
    let mut holder = sqlx::PgConnection::connect(&schema.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE \"{}\".alert_deliveries IN ACCESS EXCLUSIVE MODE",
        schema.name
    )))
    .execute(&mut holder)
    .await
    .unwrap();

    let account = sandbox.inspect(|d| d.accounts[0].id.clone());
    let fan = sandbox.inspect(|d| d.accounts[0].fans[0].id);
    let tipped: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/accounts/{account}/tips",
            sandbox.url()
        ))
        .bearer_auth("sandbox-key")
        .json(&serde_json::json!({"fan_id": fan, "amount": 150}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tipped["deliveries"][0]["status"], 200,
        "acknowledged: {tipped}"
    );

    // The worker has taken the event and waits on the lock: kill it there.
    let waiting = format!(
        "SELECT pid FROM pg_locks WHERE NOT granted \
         AND relation = '\"{}\".alert_deliveries'::regclass",
        schema.name
    );
    let mut blocked: Vec<i32> = Vec::new();
    for _ in 0..200 {
        blocked = sqlx::query_scalar(sqlx::AssertSqlSafe(waiting.clone()))
            .fetch_all(&mut holder)
            .await
            .unwrap();
        if !blocked.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!blocked.is_empty(), "the worker reached the alert claim");
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // The dead process's statement dies with it, as its connection would.
    for pid in blocked {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut holder)
            .await
            .unwrap();
    }
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    let alerted = |t: &FakeTelegram| {
        t.texts(111)
            .iter()
            .filter(|text| text.contains("tipped $150.00"))
            .count()
    };
    assert_eq!(alerted(&telegram), 0, "no alert before the kill");

    let mut second = start();
    telegram
        .wait_until(std::time::Duration::from_secs(30), |t| alerted(t) >= 1)
        .await;
    // Several takeover windows later, still one.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(alerted(&telegram), 1, "{:?}", telegram.texts(111));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status();
    second.0.wait().unwrap();

    let mut options = StoreOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    let store = agencybot_store::Store::connect(&options).await.unwrap();
    let team = store.team_by_name("Velvet").await.unwrap().unwrap();
    let registration = store.webhook_registrations(team.id).await.unwrap();
    let events = store.webhook_events(&registration[0].id).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].status, agencybot_store::EventStatus::Done);
    assert_eq!(model.remaining(), 0);
    store.close().await;
}
