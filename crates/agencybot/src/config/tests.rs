use std::path::Path;

use super::*;

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("agencybot.toml"), text, &[])
}

#[track_caller]
fn check_error(text: &str, expected: &str) {
    let err = parse_str(text).unwrap_err().to_string();
    assert!(
        err.starts_with(expected),
        "got:\n{err}\nexpected to start with:\n{expected}"
    );
}

#[test]
fn a_confirmation_ttl_under_the_minimum_is_refused_where_it_is_written() {
    check_error(
        "[llm]\nmodel = \"gpt-4.1\"\nconfirmation_ttl_secs = 5\n",
        "agencybot.toml:3:",
    );
    let err = parse_str("[llm]\nconfirmation_ttl_secs = 5\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("too short") && err.contains("at least 30"),
        "{err}"
    );
    let env = [(
        "AGENCYBOT_LLM_CONFIRMATION_TTL_SECS".to_owned(),
        "10".to_owned(),
    )];
    let err = parse(Path::new("a.toml"), "", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("AGENCYBOT_LLM_CONFIRMATION_TTL_SECS"), "{err}");
    assert!(parse_str("[llm]\nconfirmation_ttl_secs = 30\n").is_ok());
}

#[test]
fn endpoints_allowed_must_be_ones_turned_off_by_default() {
    assert!(parse_str("[ofapi]\nallow_endpoints = [\"webhooks.create-webhook\"]\n").is_ok());
    check_error(
        "[ofapi]\nallow_endpoints = [\"tracking-links.create-tracking-link\"]\n",
        "agencybot.toml:2:",
    );
    let err = parse_str("[ofapi]\nallow_endpoints = [\"nope.nope\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an OnlyFansAPI endpoint id"), "{err}");
}

#[test]
fn channel_names_that_would_break_conversation_keys_are_refused() {
    let err = parse_str("[[channels.telegram]]\nname = \"tg main\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be used"), "{err}");
    let err = parse_str("[[channels.telegram]]\nname = \"terminal\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be used"), "{err}");
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = parse_str("").unwrap();
    assert_eq!(config.database_url(), "sqlite://data/agencybot.db");
    assert_eq!(config.llm.model, "gpt-4.1-mini");
    assert!(!config.has_channels());
    assert_eq!(config.team_names(), ["default"]);
}

#[test]
fn unknown_keys_are_reported_with_file_line_and_key() {
    check_error(
        "[llm]\nmodel = \"gpt-4.1\"\nmodle = \"x\"\n",
        "agencybot.toml:3:1: `modle = \"x\"`: unknown field `modle`",
    );
    let err = parse_str("[llm]\nmodle = \"x\"\n").unwrap_err().to_string();
    assert!(
        err.contains("hint: remove `modle` or fix its spelling"),
        "{err}"
    );
}

#[test]
fn mistyped_values_are_reported_with_their_line() {
    check_error(
        "[ofapi]\n\nmax_retries = \"three\"\n",
        "agencybot.toml:3:15: `max_retries = \"three\"`: invalid type: string \"three\", expected u32",
    );
    check_error(
        "[[teams]]\nname = \"A\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"boss\"\n",
        "agencybot.toml:5:8: `role = \"boss\"`: invalid role `boss`: expected one of: viewer member admin owner",
    );
    check_error(
        "[[channels.slack]]\nname = \"s\"\nmode = \"rtm\"\n",
        "agencybot.toml:3:8: `mode = \"rtm\"`: unknown variant `rtm`",
    );
}

#[test]
fn secrets_in_the_file_are_refused_with_a_hint() {
    let err = parse_str("[[channels.telegram]]\nname = \"t\"\ntoken = \"123:abc\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("agencybot.toml:3:1:"), "{err}");
    assert!(
        err.contains("secrets are never read from the config file"),
        "{err}"
    );
    assert!(!err.contains("123:abc") || err.contains("`token = \"123:abc\"`"));
}

#[test]
fn cross_references_are_checked() {
    check_error(
        "[[teams]]\nname = \"A\"\n[[channels.discord]]\nname = \"d\"\nteam = \"B\"\n",
        "agencybot.toml:5:8: `team = \"B\"`: channel `d` names team `B`, which is not declared",
    );
    check_error(
        "[[channels.discord]]\nname = \"d\"\n[[channels.telegram]]\nname = \"d\"\n",
        "agencybot.toml:4:8: `name = \"d\"`: channel name `d` is empty or used twice",
    );
    check_error(
        "[[teams]]\nname = \"A\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [1]\n[[teams.members]]\nname = \"Bo\"\nrole = \"viewer\"\ntelegram = [\"1\"]\n",
        "agencybot.toml:8:8: `name = \"Bo\"`: telegram user ID 1 belongs to two members of team `A`",
    );
    check_error(
        "[[teams]]\nname = \"A\"\ntimezone = \"Berlin time\"\n",
        "agencybot.toml:2:8: `name = \"A\"`: timezone `Berlin time` is not an IANA timezone name",
    );
    check_error(
        "[[channels.telegram]]\nname = \"t\"\nmode = \"webhook\"\n",
        "agencybot.toml:2:8: `name = \"t\"`: Telegram channel `t` is in webhook mode without `webhook_url`",
    );
}

#[test]
fn environment_overrides_scalar_keys() {
    let env = [
        (
            "AGENCYBOT_DATABASE_URL".to_owned(),
            "postgres://db/agency".to_owned(),
        ),
        ("AGENCYBOT_LLM_MAX_STEPS".to_owned(), "12".to_owned()),
        (
            "AGENCYBOT_OFAPI_BASE_URL".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        ),
        ("AGENCYBOT_TEST_SOMETHING".to_owned(), "ignored".to_owned()),
    ];
    let config = parse(Path::new("a.toml"), "[llm]\nmax_steps = 4\n", &env).unwrap();
    assert_eq!(config.database_url(), "postgres://db/agency");
    assert_eq!(config.llm.max_steps, 12);
    assert_eq!(config.ofapi.base_url, "http://127.0.0.1:9");

    let bad = [("AGENCYBOT_LLM_MAX_STEPZ".to_owned(), "3".to_owned())];
    let err = parse(Path::new("a.toml"), "", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment variable AGENCYBOT_LLM_MAX_STEPZ: unknown field `max_stepz`"),
        "{err}"
    );
    let bad = [("AGENCYBOT_LLM_MAX_STEPS".to_owned(), "many".to_owned())];
    let err = parse(Path::new("a.toml"), "", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment variable AGENCYBOT_LLM_MAX_STEPS: invalid type"),
        "{err}"
    );
}

#[test]
fn secrets_come_from_env_or_the_secrets_file_and_missing_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let secrets_path = dir.path().join("secrets.env");
    std::fs::write(
        &secrets_path,
        "# comment\nexport TELEGRAM_BOT_TOKEN=\"123:abc\"\n",
    )
    .unwrap();
    let text = format!(
        "[general]\nsecrets_file = {:?}\n[[channels.telegram]]\nname = \"t\"\n[[channels.slack]]\nname = \"s\"\nmode = \"events\"\n",
        secrets_path.display().to_string()
    );
    let config = parse(Path::new("a.toml"), &text, &[]).unwrap();
    let env = [("OPENAI_API_KEY".to_owned(), "sk-test".to_owned())];
    let secrets = Secrets::load(&config, &env).unwrap();
    assert_eq!(
        secrets.get("TELEGRAM_BOT_TOKEN").unwrap().expose(),
        "123:abc"
    );
    let missing: Vec<String> = secrets
        .missing(&config)
        .into_iter()
        .map(|n| n.env)
        .collect();
    assert_eq!(
        missing,
        [
            "ONLYFANSAPI_API_KEY",
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET"
        ]
    );

    std::fs::write(&secrets_path, "JUST_A_NAME\n").unwrap();
    let err = Secrets::load(&config, &[]).unwrap_err().to_string();
    assert!(err.ends_with("secrets.env:1: expected NAME=value"), "{err}");
}

#[test]
fn discord_guilds_are_read_as_numbers_or_strings_and_checked() {
    let config = parse_str(
        "[[channels.discord]]\nname = \"d\"\nguilds = [\"4000000000000001\", 4000000000000002]\n",
    )
    .unwrap();
    assert_eq!(
        config.channels.discord[0].guild_ids(),
        [4_000_000_000_000_001, 4_000_000_000_000_002]
    );
    for bad in ["\"my server\"", "0", "\"\""] {
        let err = parse_str(&format!(
            "[[channels.discord]]\nname = \"d\"\nguilds = [{bad}]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("which is not a server ID"), "{bad}: {err}");
    }
}

#[test]
fn a_discord_channel_open_to_everyone_in_any_server_is_warned_about() {
    let open = parse_str("[[channels.discord]]\nname = \"d\"\nallow_everyone = true\n").unwrap();
    let warnings = open.warnings();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0, "Discord channel `d`");
    assert!(warnings[0].1.contains("any server the bot is invited to"));
    for quiet in [
        "[[channels.discord]]\nname = \"d\"\nallow_everyone = true\nguilds = [\"42\"]\n",
        "[[channels.discord]]\nname = \"d\"\n",
    ] {
        assert!(parse_str(quiet).unwrap().warnings().is_empty(), "{quiet}");
    }
}

const TWO_PROVIDERS: &str = "[llm]\nmodel = \"gpt-4.1-mini\"\n\n[[llm.providers]]\nname = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key_env = \"OPENAI_API_KEY\"\nmodels = [\"gpt-4.1-mini\"]\n\n[[llm.providers]]\nname = \"anthropic\"\nbase_url = \"https://api.anthropic.com/v1\"\napi_key_env = \"ANTHROPIC_API_KEY\"\nmodels = [\"claude-sonnet-4.5\"]\nheaders = { \"anthropic-version\" = \"2023-06-01\" }\n";

#[test]
fn providers_name_their_models_and_each_key_is_needed() {
    let config = parse_str(TWO_PROVIDERS).unwrap();
    let providers = config.llm.effective_providers();
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[1].headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        config.llm.named_models(&config.teams),
        ["claude-sonnet-4.5", "gpt-4.1-mini"]
    );
    let needs: Vec<String> = config.secret_needs().into_iter().map(|n| n.env).collect();
    assert!(needs.contains(&"OPENAI_API_KEY".to_owned()));
    assert!(needs.contains(&"ANTHROPIC_API_KEY".to_owned()));

    // Without a list, [llm] describes the one provider serving every model.
    let single = parse_str("").unwrap();
    let providers = single.llm.effective_providers();
    assert_eq!(providers.len(), 1);
    assert!(providers[0].models.is_empty());
    assert_eq!(providers[0].api_key_env, "OPENAI_API_KEY");
}

#[test]
fn provider_mistakes_are_refused_where_they_are_written() {
    let twice = TWO_PROVIDERS.replace("claude-sonnet-4.5", "gpt-4.1-mini");
    let err = parse_str(&twice).unwrap_err().to_string();
    assert!(
        err.contains("listed by providers `openai` and `anthropic`"),
        "{err}"
    );
    assert!(err.starts_with("agencybot.toml:"), "{err}");

    let unserved = TWO_PROVIDERS.replace("model = \"gpt-4.1-mini\"", "model = \"gpt-9\"");
    let err = parse_str(&unserved).unwrap_err().to_string();
    assert!(err.contains("`gpt-9` is not listed by any"), "{err}");

    let same_name = TWO_PROVIDERS.replace("name = \"anthropic\"", "name = \"openai\"");
    let err = parse_str(&same_name).unwrap_err().to_string();
    assert!(err.contains("used twice"), "{err}");

    let bad_url = TWO_PROVIDERS.replace("https://api.anthropic.com/v1", "api.anthropic.com");
    let err = parse_str(&bad_url).unwrap_err().to_string();
    assert!(err.contains("not an http(s) URL"), "{err}");

    let bad_header = TWO_PROVIDERS.replace("\"anthropic-version\"", "\"bad header\"");
    let err = parse_str(&bad_header).unwrap_err().to_string();
    assert!(err.contains("not a valid HTTP header name"), "{err}");

    let team_model =
        format!("{TWO_PROVIDERS}\n[[teams]]\nname = \"A\"\ndefault_model = \"llama\"\n");
    let err = parse_str(&team_model).unwrap_err().to_string();
    assert!(err.contains("team `A`: default_model `llama`"), "{err}");

    // A provider without a list serves the rest: any default is reachable.
    let catch_all = format!(
        "{}\n[[llm.providers]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n",
        TWO_PROVIDERS.replace("model = \"gpt-4.1-mini\"", "model = \"llama3.1\"")
    );
    assert!(parse_str(&catch_all).is_ok());
}

#[test]
fn web_search_is_brave_by_default_and_its_mistakes_are_refused() {
    let config = parse_str("").unwrap();
    assert!(config.web_search.enabled());
    let chain = config.web_search.chain();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].0, "brave");
    assert_eq!(chain[0].1.api_key_env, "BRAVE_API_KEY");
    assert!((chain[0].1.usd_per_search - 0.005).abs() < 1e-12);

    let config = parse_str(
        "[web_search]\nprovider = \"searxng\"\nfallback = [\"tavily\"]\nmonthly_budget_usd = 5.0\n[web_search.searxng]\nbase_url = \"http://search.internal:8080\"\nusd_per_search = 0.0\n[[teams]]\nname = \"A\"\nweb_search_monthly_usd = 20.0\n",
    )
    .unwrap();
    let names: Vec<&str> = config.web_search.chain().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["searxng", "tavily"]);
    assert_eq!(config.teams[0].web_search_monthly_usd, Some(20.0));
    assert!(
        parse_str("[web_search]\nprovider = \"off\"\n")
            .unwrap()
            .web_search
            .chain()
            .is_empty()
    );

    for (text, expected) in [
        (
            "[web_search]\nprovider = \"duckduckgo\"\n",
            "not one agencybot has",
        ),
        ("[web_search]\nsafesearch = \"none\"\n", "safesearch `none`"),
        ("[web_search]\nper_turn = 0\n", "per_turn = 0"),
        (
            "[web_search.brave]\nbase_url = \"api.search.brave.com\"\nusd_per_search = 0.005\n",
            "not an http(s) URL",
        ),
        (
            "[web_search.tavily]\nbase_url = \"https://api.tavily.com\"\nusd_per_search = -1.0\n",
            "usd_per_search must be 0 or more",
        ),
    ] {
        let err = parse_str(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
    let env = [(
        "AGENCYBOT_WEB_SEARCH_PROVIDER".to_owned(),
        "tavily".to_owned(),
    )];
    let config = parse(Path::new("a.toml"), "", &env).unwrap();
    assert_eq!(config.web_search.provider, "tavily");
}

#[test]
fn the_alert_takeover_window_defaults_to_a_minute_and_is_bounded() {
    let on = "[alerts]\nlisten = \"127.0.0.1:8090\"\npublic_url = \"https://bot.example.com\"\n";
    assert_eq!(*parse_str(on).unwrap().alerts.takeover_secs.get_ref(), 60);
    check_error(
        &format!("{on}takeover_secs = 0\n"),
        "agencybot.toml:4:17: `takeover_secs = 0`: [alerts] takeover_secs = 0 is out of range",
    );
}
