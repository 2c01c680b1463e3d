//! Workflows: ready-made scheduled tasks shipped in `config/workflows.toml`.

use std::path::Path;

use agencybot_core::AllowedWrite;
use serde::Deserialize;

use crate::schedule::Schedule;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub slug: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub prompt: String,
    pub schedule: String,
    pub skill: Option<String>,
    #[serde(default)]
    pub requires: Vec<String>,
    /// Each `endpoint.id [argument=value …]`, as `tasks add --allow-write` takes it.
    #[serde(default)]
    pub allowed_writes: Vec<String>,
}

impl Workflow {
    /// The allowed writes, parsed and checked against the catalog.
    pub fn writes(&self) -> Result<Vec<AllowedWrite>, String> {
        let writes = self
            .allowed_writes
            .iter()
            .map(|text| text.parse::<AllowedWrite>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        crate::tasks::check_writes(&writes).map_err(|e| e.to_string())?;
        Ok(writes)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    workflows: Vec<Workflow>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Loads and checks the workflows file: unique slugs, valid schedules.
pub fn load(path: &Path) -> Result<Vec<Workflow>, WorkflowError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| WorkflowError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: File = toml::from_str(&text).map_err(|error| WorkflowError::Invalid {
        path: shown.clone(),
        message: error.to_string().trim().to_owned(),
    })?;
    for (index, workflow) in file.workflows.iter().enumerate() {
        if file.workflows[..index]
            .iter()
            .any(|w| w.slug == workflow.slug)
        {
            return Err(WorkflowError::Invalid {
                path: shown,
                message: format!("the slug `{}` is used twice", workflow.slug),
            });
        }
        if let Err(error) = workflow.writes() {
            return Err(WorkflowError::Invalid {
                path: shown,
                message: format!("workflow `{}`: {error}", workflow.slug),
            });
        }
        if let Err(error) = workflow.schedule.parse::<Schedule>() {
            return Err(WorkflowError::Invalid {
                path: shown,
                message: format!("workflow `{}`: {error}", workflow.slug),
            });
        }
    }
    Ok(file.workflows)
}

/// Refuses a workflow whose required integrations are not all connected,
/// naming what is missing.
pub fn require_connected(workflow: &Workflow, missing: &[String]) -> Result<(), String> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the workflow “{}” needs {} connected first, and {} not: an admin adds {} under [[integrations]] in the config (see `agencybot integrations list`)",
        workflow.name,
        workflow.requires.join(", "),
        if missing.len() == 1 {
            format!("{} is", missing[0])
        } else {
            format!("{} are", missing.join(", "))
        },
        if missing.len() == 1 { "it" } else { "them" },
    ))
}

#[must_use]
pub fn find<'a>(workflows: &'a [Workflow], slug: &str) -> Option<&'a Workflow> {
    let wanted = slug.trim().to_lowercase().replace(' ', "-");
    workflows
        .iter()
        .find(|w| w.slug == wanted || w.name.eq_ignore_ascii_case(slug.trim()))
}
