//! What the model sees of skills: the installed ones in the prompt, and
//! tools to use, list, install and remove them.

use std::sync::Arc;

use agencybot_agent::{Engine, InternalTool, PromptSection, Requester, ToolContext, ToolOutput};
use agencybot_core::Role;
use agencybot_ofapi::Access;
use agencybot_store::Store;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::{Skills, Target, install, installed, remove, resolve};

/// Offers skills to the engine: the prompt section and the four tools.
pub fn register(engine: &mut Engine, skills: Arc<Skills>) {
    let store = engine.store().clone();
    engine.add_prompt_section(Arc::new(InstalledSkills {
        skills: skills.clone(),
        store,
    }));
    engine.register_tool(Arc::new(UseSkill(skills.clone())));
    engine.register_tool(Arc::new(ListSkills(skills.clone())));
    engine.register_tool(Arc::new(ChangeSkills {
        skills: skills.clone(),
        install: true,
    }));
    engine.register_tool(Arc::new(ChangeSkills {
        skills,
        install: false,
    }));
}

/// The installed skills' names and descriptions, for every model call.
struct InstalledSkills {
    skills: Arc<Skills>,
    store: Store,
}

impl PromptSection for InstalledSkills {
    fn lists_skills(&self) -> bool {
        true
    }

    fn section<'a>(&'a self, requester: &'a Requester<'a>) -> BoxFuture<'a, Option<String>> {
        let team = requester.team;
        Box::pin(async move {
            let library = self.skills.library();
            let skills = installed(&self.store, &library, team.id).await.ok()?;
            if skills.is_empty() {
                return None;
            }
            let mut section = String::from(
                "Installed skills: when a request matches one, call use_skill with its name first, then follow it.\n",
            );
            for skill in skills {
                section.push_str(&format!("- {}: {}\n", skill.name, skill.description));
            }
            Some(section)
        })
    }
}

struct UseSkill(Arc<Skills>);

impl InternalTool for UseSkill {
    fn name(&self) -> &str {
        "use_skill"
    }

    fn description(&self) -> &str {
        "Load an installed skill's playbook (or one of its reference files) before doing the job it covers."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "reference": {"type": "string", "description": "A file the playbook names under references/"}},
            "required": ["name"]
        })
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let name = arguments["name"].as_str().unwrap_or_default();
            let library = self.0.library();
            let team_skills = installed(context.store, &library, context.team.id)
                .await
                .map_err(|e| e.to_string())?;
            let Some(skill) = team_skills.into_iter().find(|s| s.name == name) else {
                return Err(format!(
                    "`{name}` is not an installed skill; do the job without it, or ask an admin to install it"
                ));
            };
            if let Some(file) = arguments["reference"].as_str() {
                return skill
                    .reference(file)
                    .map(|text| {
                        ToolOutput::new(
                            json!({"skill": skill.name, "reference": file, "text": text}),
                        )
                    })
                    .ok_or_else(|| {
                        format!(
                            "{} has no reference `{file}`; it has: {}",
                            skill.name,
                            skill.references.join(", ")
                        )
                    });
            }
            Ok(ToolOutput::new(json!({
                "skill": skill.name,
                "playbook": skill.body,
                "references": skill.references,
            })))
        })
    }
}

struct ListSkills(Arc<Skills>);

impl InternalTool for ListSkills {
    fn name(&self) -> &str {
        "list_skills"
    }

    fn description(&self) -> &str {
        "Every skill and bundle agencybot offers, and which this team has installed."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let library = self.0.library();
            let mine: Vec<String> = installed(context.store, &library, context.team.id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|s| s.name)
                .collect();
            let skills: Vec<Value> = library
                .skills()
                .map(|s| json!({"name": s.name, "category": s.category, "installed": mine.contains(&s.name), "description": s.description}))
                .collect();
            Ok(ToolOutput::new(
                json!({"skills": skills, "bundles": library.bundles()}),
            ))
        })
    }
}

/// `install_skills` or `remove_skills`: changes to the team's skills,
/// confirmed first and for admins only.
struct ChangeSkills {
    skills: Arc<Skills>,
    install: bool,
}

impl ChangeSkills {
    fn target(arguments: &Value) -> Result<Target, String> {
        match (arguments["skill"].as_str(), arguments["bundle"].as_str()) {
            (Some(skill), None) => Ok(Target::Skill(skill.to_owned())),
            (None, Some(bundle)) => Ok(Target::Bundle(bundle.to_owned())),
            _ => Err("give either `skill` or `bundle`, not both".into()),
        }
    }
}

impl InternalTool for ChangeSkills {
    fn name(&self) -> &str {
        if self.install {
            "install_skills"
        } else {
            "remove_skills"
        }
    }

    fn description(&self) -> &str {
        if self.install {
            "Install a skill, or every skill of a bundle, for this team (asks the user first)."
        } else {
            "Remove a skill, or every skill of a bundle, from this team (asks the user first)."
        }
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"skill": {"type": "string"}, "bundle": {"type": "string"}},
            "additionalProperties": false
        })
    }

    fn access(&self) -> Access {
        if self.install {
            Access::Write
        } else {
            Access::Destructive
        }
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        let target = Self::target(arguments)?;
        resolve(&self.skills.library(), &target)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn summarize(&self, arguments: &Value) -> String {
        let verb = if self.install { "Install" } else { "Remove" };
        match Self::target(arguments).and_then(|t| {
            resolve(&self.skills.library(), &t)
                .map(|r| (t, r))
                .map_err(|e| e.to_string())
        }) {
            Ok((Target::Skill(_), (_, names))) => format!("{verb} the skill {}", names.join(", ")),
            Ok((Target::Bundle(_), (bundle, names))) => format!(
                "{verb} the {} bundle: {} ({} skills){}",
                bundle.unwrap_or_default(),
                names.join(", "),
                names.len(),
                if self.install {
                    ""
                } else {
                    ", including any also installed on their own"
                }
            ),
            Err(error) => format!("{verb} skills: {error}"),
        }
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let target = Self::target(&arguments)?;
            let library = self.skills.library();
            let changed = if self.install {
                install(
                    context.store,
                    &library,
                    context.team.id,
                    &target,
                    context.user_id,
                    context.now,
                )
                .await
            } else {
                remove(context.store, &library, context.team.id, &target).await
            }
            .map_err(|e| e.to_string())?;
            let key = if self.install { "installed" } else { "removed" };
            Ok(ToolOutput::new(json!({ key: changed })))
        })
    }
}
