//! The web console in a real headless Chromium, served by `agencybot run`:
//! a sign-in link asked for in Telegram, the usage page, a task created by
//! its form, a bundle installed, signing out. Screenshots of each page are
//! saved under `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use agencybot_core::{NewUsageRecord, Platform, RequestKind, UsageOutcome};
use agencybot_store::{Store, StoreOptions};
use agencybot_testkit::{Browser, FakeTelegram, ScriptedModel};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_agencybot"))
        .current_dir(dir)
        .env_clear()
        .args(args)
        .args(["--config", "a.toml"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{args:?}: {text}");
    text
}

/// A child process that does not outlive a failed test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The cells of the row whose first cell is `key`, in the console's table.
fn row(page: &str, table: &str, key: &str) -> Vec<String> {
    let table = page
        .split(&format!("id=\"{table}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no table {table}"));
    let row = table
        .split("<tr")
        .find(|row| row.contains(&format!("<td>{key}</td>")))
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let cell = &cell[cell.find('>').unwrap() + 1..];
            cell[..cell.find("</td>").unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signs_in_from_telegram_and_manages_the_team_in_a_browser() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shots = workspace_root().join("target/console-screenshots");
    let telegram = FakeTelegram::start("42:console-test").await;
    let model = ScriptedModel::start().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agencybot.db");
    std::fs::write(
        dir.path().join("a.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\
             [llm]\nbase_url = \"{}\"\napi_key_env = \"\"\nmodel = \"gpt-4.1-mini\"\n\
             [skills]\ndir = \"{}\"\n[scheduler]\nworkflows = \"{}\"\n\
             [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [[teams]]\nname = \"Velvet\"\ntimezone = \"Europe/Berlin\"\n\
             [[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [111]\n\
             [[channels.telegram]]\nname = \"tg\"\napi_url = \"{}\"\n",
            db.display(),
            model.url(),
            workspace_root().join("skills").display(),
            workspace_root().join("config/workflows.toml").display(),
            telegram.url()
        ),
    )
    .unwrap();
    let _bot = Running(
        Command::new(env!("CARGO_BIN_EXE_agencybot"))
            .current_dir(dir.path())
            .env_clear()
            .env("TELEGRAM_BOT_TOKEN", "42:console-test")
            .env("ONLYFANSAPI_API_KEY", "unused")
            .args(["run", "--config", "a.toml"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("bot.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    for _ in 0..300 {
        if !telegram.calls("getupdates").is_empty() || !telegram.calls("getme").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !telegram.calls("getupdates").is_empty() || !telegram.calls("getme").is_empty(),
        "the bot never polled: {}",
        std::fs::read_to_string(dir.path().join("bot.log")).unwrap_or_default()
    );

    // Seeded usage, as earlier requests left it.
    let store = Store::connect(&StoreOptions::new(format!("sqlite://{}", db.display())))
        .await
        .unwrap();
    let team = store.team_by_name("Velvet").await.unwrap().unwrap();
    let now = chrono::Utc::now();
    for (hours_ago, model_name, credits, cost) in [
        (1, "gpt-4.1-mini", 4, 0.012),
        (30, "gpt-4.1", 9, 0.31),
        (50, "gpt-4.1-mini", 2, 0.004),
        (24 * 20, "gpt-4.1", 500, 3.5),
    ] {
        store
            .record_usage(&NewUsageRecord {
                team_id: team.id,
                platform: Platform::Telegram,
                user_id: "111".into(),
                kind: RequestKind::Chat,
                model: model_name.into(),
                prompt_tokens: 1200,
                completion_tokens: 150,
                cost_usd: cost,
                credits,
                web_searches: 0,
                web_searches_cached: 0,
                web_search_usd: 0.0,
                integration_calls: Default::default(),
                duration_ms: 800,
                outcome: UsageOutcome::Success,
                created_at: now - chrono::Duration::hours(hours_ago),
            })
            .await
            .unwrap();
    }
    store.close().await;

    // `/console` is answered in the direct message without the model.
    telegram.send_text(111, "/console");
    let has_link = |texts: Vec<String>| texts.iter().any(|t| t.contains("/console/sign-in?token="));
    for _ in 0..300 {
        if has_link(telegram.texts(111)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        has_link(telegram.texts(111)),
        "no answer: {:?}\n{}",
        telegram.texts(111),
        std::fs::read_to_string(dir.path().join("bot.log")).unwrap_or_default()
    );
    let texts = telegram.texts(111);
    let link = texts
        .iter()
        .flat_map(|text| text.split_whitespace())
        .find(|word| word.contains("/console/sign-in?token="))
        .unwrap_or_else(|| panic!("no link in {texts:?}"))
        .to_owned();
    assert!(
        model.requests().is_empty(),
        "the command costs no model call"
    );

    let browser = Browser::start().await;
    browser.goto(&link).await;
    browser.click("#continue").await;
    let page = browser.wait_for("Totals").await;
    assert!(browser.url().await.ends_with("/console/usage"));
    assert!(page.contains("<svg") && page.contains("Cost by model, last 7 days"));
    browser.screenshot(&shots.join("usage.png")).await;

    // The page's totals are the CLI's.
    let report = cli(dir.path(), &["usage", "--period", "7d", "--by", "model"]);
    let page = browser.source().await;
    for line in report
        .lines()
        .filter(|l| l.starts_with("gpt-") || l.starts_with("total"))
    {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let shown = row(&page, "totals", cells[0]);
        assert_eq!(shown[..6], cells[..6], "{line} vs {shown:?}");
    }

    // A task through the form, with the preview filled in by the page.
    browser
        .goto(&format!("http://127.0.0.1:{port}/console/tasks/new"))
        .await;
    browser.wait_for("Next five runs").await;
    browser.fill("#name", "browser-morning-report").await;
    browser.fill("#destination", "111").await;
    browser
        .fill("#prompt", "How much did we earn yesterday?")
        .await;
    browser
        .click("#preset option[value='weekly mon-fri 09:00']")
        .await;
    browser.wait_for(" 09:00 ").await;
    browser.screenshot(&shots.join("new-task.png")).await;
    browser.click("#create-task").await;
    browser
        .wait_for("Created the task “browser-morning-report”")
        .await;
    browser.screenshot(&shots.join("tasks.png")).await;
    let listed = cli(dir.path(), &["tasks", "list"]);
    assert!(
        listed.contains("browser-morning-report") && listed.contains("weekly mon-fri 09:00"),
        "{listed}"
    );

    // A bundle installed from its card.
    browser
        .goto(&format!("http://127.0.0.1:{port}/console/skills"))
        .await;
    browser
        .click("[data-bundle='Reports'] [data-action='install-bundle']")
        .await;
    browser.wait_for("Installed:").await;
    browser.screenshot(&shots.join("skills.png")).await;
    let skills = cli(dir.path(), &["skills", "list"]);
    assert!(skills.contains("[x] daily-earnings-digest"), "{skills}");
    assert!(skills.contains("[x] creator-account-overview"), "{skills}");

    // The Telegram channel as its adapter reports it, and this session.
    browser
        .goto(&format!("http://127.0.0.1:{port}/console/channels"))
        .await;
    let channels = browser.wait_for("Save access").await;
    assert!(channels.contains("data-status=\"connected\""), "{channels}");
    assert!(
        !channels.contains("Last message: none yet"),
        "the /console message counts"
    );
    browser.screenshot(&shots.join("channels.png")).await;
    browser
        .goto(&format!("http://127.0.0.1:{port}/console/sessions"))
        .await;
    browser.wait_for("this browser").await;
    browser.screenshot(&shots.join("sessions.png")).await;

    browser
        .goto(&format!("http://127.0.0.1:{port}/console/audit"))
        .await;
    let audit = browser.wait_for("task.create").await;
    assert!(audit.contains("skills.install"));
    browser.screenshot(&shots.join("audit.png")).await;

    // Signed out, the session and the link are both spent.
    browser.click("header form button").await;
    browser.wait_for("You are signed out").await;
    browser.screenshot(&shots.join("signed-out.png")).await;
    browser
        .goto(&format!("http://127.0.0.1:{port}/console/usage"))
        .await;
    browser.wait_for("Ask the bot for the console").await;
    browser.goto(&link).await;
    browser.click("#continue").await;
    browser.wait_for("This link no longer works").await;
    browser.screenshot(&shots.join("link-spent.png")).await;
    browser.quit().await;
    assert_eq!(model.remaining(), 0);
}
