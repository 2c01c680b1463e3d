//! Skills: playbooks that teach agencybot one agency job each.
//!
//! A skill is a folder holding a `SKILL.md` in the open Agent Skills format:
//! YAML front matter (`name`, `description`, optional `metadata` with
//! `category`, `tags`, `bundles`, `requires`) and the playbook. [`Library`]
//! loads and checks the folders, reporting every broken file precisely
//! while the good ones load; [`Skills`] keeps the library current while
//! agencybot runs. Teams install skills one by one or by bundle.
//!
//! Design choice: progressive disclosure. Every model call carries only the
//! installed skills' names and descriptions; the playbook itself enters the
//! conversation when the model asks for it with `use_skill`, so a dozen
//! installed skills cost a few hundred tokens, not a few thousand.

mod library;
mod tools;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use agencybot_core::Timestamp;
use agencybot_store::Store;
use tokio::sync::watch;

pub use library::{CATEGORIES, Library, Skill, SkillProblem, parse};
pub use tools::register;

/// The skill folders and what was last loaded from them.
#[derive(Debug)]
pub struct Skills {
    dirs: Vec<PathBuf>,
    current: RwLock<Arc<Library>>,
    fingerprint: Mutex<u64>,
}

impl Skills {
    /// Loads `dirs` (the built-in folder first, then any extra one).
    #[must_use]
    pub fn load(dirs: Vec<PathBuf>) -> Arc<Skills> {
        let library = Library::load(&dirs);
        for problem in library.problems() {
            tracing::warn!(%problem, "skill not loaded");
        }
        Arc::new(Skills {
            current: RwLock::new(Arc::new(library)),
            fingerprint: Mutex::new(fingerprint(&dirs)),
            dirs,
        })
    }

    /// The library as last loaded.
    #[must_use]
    pub fn library(&self) -> Arc<Library> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reloads when any file under the folders changed; true if it did.
    pub fn reload_if_changed(&self) -> bool {
        let now = fingerprint(&self.dirs);
        {
            let mut last = self
                .fingerprint
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last == now {
                return false;
            }
            *last = now;
        }
        let library = Library::load(&self.dirs);
        for problem in library.problems() {
            tracing::warn!(%problem, "skill not loaded");
        }
        tracing::info!(skills = library.skills().count(), "skills reloaded");
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(library);
        true
    }

    /// Checks the folders every `every` until `stop` turns true.
    pub async fn watch(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                () = tokio::time::sleep(every) => {}
            }
            self.reload_if_changed();
        }
    }
}

/// Names, sizes and modification times of every file under `dirs`.
fn fingerprint(dirs: &[PathBuf]) -> u64 {
    fn visit(path: &std::path::Path, hasher: &mut DefaultHasher, depth: usize) {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            entry.path().hash(hasher);
            metadata.len().hash(hasher);
            metadata.modified().ok().hash(hasher);
            if metadata.is_dir() && depth < 3 {
                visit(&entry.path(), hasher, depth + 1);
            }
        }
    }
    let mut hasher = DefaultHasher::new();
    for dir in dirs {
        visit(dir, &mut hasher, 0);
    }
    hasher.finish()
}

/// A skill or a bundle, as someone asks to install or remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Skill(String),
    Bundle(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SkillsError {
    #[error("there is no skill `{name}`{}", suggestions(.close))]
    UnknownSkill { name: String, close: Vec<String> },
    #[error("there is no bundle `{name}`; bundles: {}", .known.join(", "))]
    UnknownBundle { name: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] agencybot_store::StoreError),
}

fn suggestions(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// The skill names a target stands for, checked against the library.
pub fn resolve(
    library: &Library,
    target: &Target,
) -> Result<(Option<String>, Vec<String>), SkillsError> {
    match target {
        Target::Skill(name) => {
            let wanted = name.trim().to_lowercase().replace(' ', "-");
            if library.get(&wanted).is_some() {
                return Ok((None, vec![wanted]));
            }
            let close: Vec<String> = library
                .skills()
                .filter(|s| {
                    wanted
                        .split('-')
                        .any(|word| word.len() > 3 && s.name.contains(word))
                })
                .map(|s| s.name.clone())
                .take(3)
                .collect();
            Err(SkillsError::UnknownSkill {
                name: name.clone(),
                close,
            })
        }
        Target::Bundle(name) => library
            .bundle(name)
            .map(|(bundle, skills)| (Some(bundle), skills))
            .ok_or_else(|| SkillsError::UnknownBundle {
                name: name.clone(),
                known: library.bundles().into_keys().collect(),
            }),
    }
}

/// Installs the skill, or every skill of the bundle; returns the names
/// newly installed.
pub async fn install(
    store: &Store,
    library: &Library,
    team_id: i64,
    target: &Target,
    by: &str,
    now: Timestamp,
) -> Result<Vec<String>, SkillsError> {
    let (bundle, names) = resolve(library, target)?;
    let mut added = Vec::new();
    for name in names {
        if store
            .install_skill(team_id, &name, bundle.as_deref(), by, now)
            .await?
        {
            added.push(name);
        }
    }
    Ok(added)
}

/// Removes the skill, or every skill of the bundle — including skills also
/// installed on their own or through another bundle. Returns the names removed.
pub async fn remove(
    store: &Store,
    library: &Library,
    team_id: i64,
    target: &Target,
) -> Result<Vec<String>, SkillsError> {
    let (_, names) = resolve(library, target)?;
    let mut removed = Vec::new();
    for name in names {
        if store.remove_skill(team_id, &name).await? {
            removed.push(name);
        }
    }
    Ok(removed)
}

/// The team's installed skills that the library has, by name.
pub async fn installed(
    store: &Store,
    library: &Library,
    team_id: i64,
) -> Result<Vec<Skill>, SkillsError> {
    Ok(store
        .installed_skills(team_id)
        .await?
        .into_iter()
        .filter_map(|installed| library.get(&installed.name).cloned())
        .collect())
}
