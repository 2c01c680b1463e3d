//! Skills: the shipped ones, broken ones, bundles, and skills in use by the
//! engine with the scripted model and the sandbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agencybot_agent::{Mode, TurnReport, TurnRequest, tokens};
use agencybot_core::{
    ConversationKey, InboundContent, OutboundMessage, Platform, RequestKind, Role,
};
use agencybot_skills::{Library, Skills, Target, install, installed, register, remove};
use agencybot_testkit::{Reply, Stack, Step, TestMember, last_tool_result};
use serde_json::{Value, json};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills")
}

#[test]
fn every_shipped_skill_validates() {
    let library = Library::load(&[shipped()]);
    let problems: Vec<String> = library.problems().iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let names: Vec<&str> = library.skills().map(|s| s.name.as_str()).collect();
    assert!(names.len() >= 12, "{names:?}");
    for expected in [
        "daily-earnings-digest",
        "weekly-earnings-recap",
        "top-spenders-breakdown",
        "subscriber-growth",
        "tracking-link-performance",
        "free-trial-conversion",
        "churn-rescue",
        "whale-watch",
        "chat-backlog-audit",
        "mass-message-performance",
        "creator-account-overview",
        "chargeback-watch",
    ] {
        assert!(names.contains(&expected), "{expected} is missing");
    }
    let bundles = library.bundles();
    for bundle in ["Analytics", "Engagement", "Reports"] {
        assert!(
            bundles.get(bundle).is_some_and(|skills| skills.len() >= 3),
            "{bundle}: {bundles:?}"
        );
    }
    for skill in library.skills() {
        assert!(skill.category.is_some(), "{} has no category", skill.name);
        assert!(
            skill.body.split_whitespace().count() > 80,
            "{} has a thin playbook",
            skill.name
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("SKILL.md"), text).unwrap();
}

#[test]
fn broken_skills_are_reported_precisely_while_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good-one",
        "---\nname: good-one\ndescription: Works. Use when asked.\nmetadata:\n  category: Reports\n---\n# Good\n\n1. Do it.\n",
    );
    write(
        dir.path(),
        "bad-yaml",
        "---\nname: bad-yaml\ndescription: [unclosed\nmetadata:\n  category: Reports\n---\nBody\n",
    );
    write(
        dir.path(),
        "no-description",
        "---\nname: no-description\nmetadata:\n  category: Fans\n---\nBody\n",
    );
    write(
        dir.path(),
        "wrong-folder",
        "---\nname: another-name\ndescription: Mismatched.\n---\nBody\n",
    );
    write(dir.path(), "no-front-matter", "# Just a title\n");
    write(
        dir.path(),
        "unclosed-quote",
        "---\nname: unclosed-quote\ndescription: \"never closed\n---\nBody\n",
    );
    write(
        dir.path(),
        "odd-category",
        "---\nname: odd-category\ndescription: Fine.\nmetadata:\n  category: Sales\n---\nBody\n",
    );
    let library = Library::load(&[dir.path().to_owned()]);
    assert_eq!(
        library
            .skills()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["good-one"]
    );
    let problems: Vec<String> = library
        .problems()
        .iter()
        .map(|p| p.to_string().replace(&dir.path().display().to_string(), ""))
        .collect();
    assert_eq!(problems.len(), 6, "{problems:#?}");
    let find = |folder: &str| {
        problems
            .iter()
            .find(|p| p.starts_with(&format!("/{folder}/SKILL.md:")))
            .unwrap()
            .clone()
    };
    assert_eq!(
        find("bad-yaml"),
        "/bad-yaml/SKILL.md:3: invalid YAML: description: invalid type: sequence, expected a string"
    );
    assert_eq!(
        find("no-description"),
        "/no-description/SKILL.md:2: `description`: missing: say what the skill does and when to use it"
    );
    assert_eq!(
        find("wrong-folder"),
        "/wrong-folder/SKILL.md:2: `name`: `another-name` does not match its folder `wrong-folder`; rename one of them"
    );
    assert!(
        find("unclosed-quote").starts_with("/unclosed-quote/SKILL.md:3: invalid YAML:"),
        "{}",
        find("unclosed-quote")
    );
    assert!(find("no-front-matter").starts_with("/no-front-matter/SKILL.md:1: no front matter"));
    assert!(
        find("odd-category")
            .starts_with("/odd-category/SKILL.md:5: `metadata.category`: unknown category `Sales`")
    );
}

#[test]
fn the_library_reloads_when_a_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tip-tracker",
        "---\nname: tip-tracker\ndescription: First version.\n---\nBody\n",
    );
    let skills = Skills::load(vec![dir.path().to_owned()]);
    assert_eq!(
        skills.library().get("tip-tracker").unwrap().description,
        "First version."
    );
    assert!(!skills.reload_if_changed());
    write(
        dir.path(),
        "tip-tracker",
        "---\nname: tip-tracker\ndescription: Second, longer version.\n---\nBody\n",
    );
    assert!(skills.reload_if_changed());
    assert_eq!(
        skills.library().get("tip-tracker").unwrap().description,
        "Second, longer version."
    );
}

async fn stack(skills: Arc<Skills>) -> Stack {
    let members = [
        TestMember {
            name: "Ann",
            role: Role::Owner,
            user_id: "1",
        },
        TestMember {
            name: "Max",
            role: Role::Member,
            user_id: "2",
        },
    ];
    Stack::start_with("terminal", Platform::Terminal, &members, false, |engine| {
        register(engine, skills)
    })
    .await
}

async fn say(
    stack: &Stack,
    user: &str,
    role: Role,
    text: &str,
) -> (TurnReport, Vec<OutboundMessage>) {
    let request = TurnRequest {
        team: stack.team.clone(),
        conversation: ConversationKey::direct("telegram-main", Platform::Terminal, user, user),
        user_id: user.into(),
        role,
        content: InboundContent::Text(text.into()),
        kind: RequestKind::Chat,
        model: None,
        mode: Mode::Interactive,
        instructions: None,
    };
    agencybot_testkit::run_turn(&stack.engine, request).await
}

#[tokio::test]
async fn bundles_install_together_and_their_removal_takes_every_member() {
    let skills = Skills::load(vec![shipped()]);
    let stack = stack(skills.clone()).await;
    let library = skills.library();
    let (store, team) = (&stack.store, stack.team.id);
    let now = agencybot_testkit::sandbox_now();
    let engagement = library.bundle("engagement").unwrap().1;
    let added = install(
        store,
        &library,
        team,
        &Target::Bundle("Engagement".into()),
        "1",
        now,
    )
    .await
    .unwrap();
    assert_eq!(added, engagement);
    // Installed again on its own and through Reports too.
    install(
        store,
        &library,
        team,
        &Target::Skill("whale-watch".into()),
        "1",
        now,
    )
    .await
    .unwrap();
    install(
        store,
        &library,
        team,
        &Target::Bundle("Reports".into()),
        "1",
        now,
    )
    .await
    .unwrap();
    let removed = remove(store, &library, team, &Target::Bundle("engagement".into()))
        .await
        .unwrap();
    assert_eq!(
        removed, engagement,
        "every skill of the bundle goes, however it was installed"
    );
    let left: Vec<String> = installed(store, &library, team)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(
        left.iter().all(|name| !engagement.contains(name)),
        "{left:?}"
    );
    assert!(left.contains(&"daily-earnings-digest".to_owned()));
    let unknown = install(
        store,
        &library,
        team,
        &Target::Skill("whale watching".into()),
        "1",
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "there is no skill `whale watching`; did you mean whale-watch?"
    );
    let bundle = remove(store, &library, team, &Target::Bundle("Sales".into()))
        .await
        .unwrap_err();
    assert_eq!(
        bundle.to_string(),
        "there is no bundle `Sales`; bundles: Analytics, Engagement, Reports"
    );
}

#[tokio::test]
async fn a_matching_installed_skill_is_loaded_into_the_next_model_call() {
    let skills = Skills::load(vec![shipped()]);
    let stack = stack(skills.clone()).await;
    let now = agencybot_testkit::sandbox_now();
    install(
        &stack.store,
        &skills.library(),
        stack.team.id,
        &Target::Skill("weekly-earnings-recap".into()),
        "1",
        now,
    )
    .await
    .unwrap();
    let body = skills
        .library()
        .get("weekly-earnings-recap")
        .unwrap()
        .body
        .clone();
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let system = request["messages"][0]["content"].as_str().unwrap();
        assert!(
            system.contains("- weekly-earnings-recap: "),
            "installed skills are offered"
        );
        assert!(
            !system.contains("churn-rescue"),
            "uninstalled skills are never offered"
        );
        Reply::tool("use_skill", json!({"name": "weekly-earnings-recap"}))
    })));
    let expected = body.clone();
    stack
        .model
        .push(Step::Dynamic(Box::new(move |request: &Value| {
            assert_eq!(
                last_tool_result(request)["playbook"],
                expected.as_str(),
                "the playbook is in the next call"
            );
            Reply::text("Here is last week's recap.")
        })));
    let (report, _) = say(&stack, "1", Role::Owner, "Give me the weekly recap").await;
    assert_eq!(report.answer.as_deref(), Some("Here is last week's recap."));

    // An uninstalled skill cannot be used even if the model asks for it.
    stack
        .model
        .push(Reply::tool("use_skill", json!({"name": "churn-rescue"})));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        let result = last_tool_result(request);
        assert!(
            result["error"]
                .as_str()
                .unwrap()
                .starts_with("`churn-rescue` is not an installed skill")
        );
        Reply::text("I'll do it without a playbook.")
    })));
    say(&stack, "1", Role::Owner, "Who is about to churn?").await;
}

#[tokio::test]
async fn installing_a_skill_by_chat_asks_first_and_installs_once() {
    let skills = Skills::load(vec![shipped()]);
    let stack = stack(skills.clone()).await;
    stack.model.push(Reply::tool(
        "install_skills",
        json!({"skill": "churn-rescue"}),
    ));
    let (report, events) = say(&stack, "1", Role::Owner, "install the churn rescue skill").await;
    assert_eq!(report.proposed.len(), 1);
    let question = events.iter().find_map(|e| match e {
        OutboundMessage::Confirmation { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert!(question.unwrap().contains("Install the skill churn-rescue"));
    let names = |stack: &Stack, skills: &Skills| {
        let library = skills.library();
        let store = stack.store.clone();
        let team = stack.team.id;
        async move {
            installed(&store, &library, team)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
        }
    };
    assert!(
        names(&stack, &skills).await.is_empty(),
        "nothing before the yes"
    );
    stack.model.push(Reply::text("Churn rescue is installed."));
    let (report, _) = say(&stack, "1", Role::Owner, "yes").await;
    assert_eq!(report.executed.len(), 1);
    assert_eq!(names(&stack, &skills).await, ["churn-rescue"]);
    let (report, _) = say(&stack, "1", Role::Owner, "yes").await;
    assert!(report.executed.is_empty(), "a second yes installs nothing");

    // A member (not an admin) cannot even get it proposed.
    stack.model.push(Reply::tool(
        "remove_skills",
        json!({"skill": "churn-rescue"}),
    ));
    stack.model.push(Step::Dynamic(Box::new(|request: &Value| {
        assert!(
            last_tool_result(request)["error"]
                .as_str()
                .unwrap()
                .contains("needs the admin role")
        );
        Reply::text("Only an admin can do that.")
    })));
    let (report, _) = say(&stack, "2", Role::Member, "remove churn rescue").await;
    assert!(report.proposed.is_empty());
    assert_eq!(names(&stack, &skills).await, ["churn-rescue"]);
}

#[tokio::test]
async fn every_shipped_skill_installed_still_fits_the_prompt_budget() {
    let skills = Skills::load(vec![shipped()]);
    let stack = stack(skills.clone()).await;
    let library = skills.library();
    let now = agencybot_testkit::sandbox_now();
    for skill in library.skills() {
        install(
            &stack.store,
            &library,
            stack.team.id,
            &Target::Skill(skill.name.clone()),
            "1",
            now,
        )
        .await
        .unwrap();
    }
    stack.model.push(Reply::text("Hi!"));
    say(&stack, "1", Role::Owner, "hi").await;
    let request = &stack.model.requests()[0];
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(library.skills().all(|s| system.contains(&s.name)));
    let budget = tokens::count(system) + tokens::count(&request["tools"].to_string());
    eprintln!("all skills installed: system prompt + tools = {budget} tokens");
    assert!(budget <= 3000, "{budget} tokens");
}
