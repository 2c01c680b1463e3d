//! Reading and checking `skills/<name>/SKILL.md` files.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The categories skills are filed under.
pub const CATEGORIES: [&str; 8] = [
    "Analytics",
    "Coaching",
    "Engagement",
    "Fans",
    "Messaging",
    "Portfolio",
    "Reports",
    "Operations",
];

/// One playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    pub name: String,
    /// What it does and when to use it: the only part every prompt carries.
    pub description: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub bundles: Vec<String>,
    /// Tools or integrations it needs.
    pub requires: Vec<String>,
    /// The playbook, loaded into the conversation when the skill is used.
    pub body: String,
    /// Files under `references/`, read only when the playbook points to them.
    pub references: Vec<String>,
    pub folder: PathBuf,
}

impl Skill {
    /// The text of `references/<file>`, if the skill has it.
    pub fn reference(&self, file: &str) -> Option<String> {
        let file = file.trim_start_matches("references/");
        if !self.references.iter().any(|r| r == file) {
            return None;
        }
        std::fs::read_to_string(self.folder.join("references").join(file)).ok()
    }
}

/// Something wrong with a skill file, precise enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillProblem {
    pub file: PathBuf,
    pub line: usize,
    /// The front matter field concerned, if any.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for SkillProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    bundles: Vec<String>,
    #[serde(default)]
    requires: Vec<String>,
}

/// The skills found in some folders, and the problems of those that failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Library {
    skills: BTreeMap<String, Skill>,
    problems: Vec<SkillProblem>,
}

impl Library {
    /// Loads every `<dir>/<name>/SKILL.md`. Folders later in `dirs` may add
    /// skills; a name defined twice is a problem and the first one stays.
    #[must_use]
    pub fn load(dirs: &[PathBuf]) -> Library {
        let mut library = Library::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut folders: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("SKILL.md").is_file())
                .collect();
            folders.sort();
            for folder in folders {
                let file = folder.join("SKILL.md");
                let text = match std::fs::read_to_string(&file) {
                    Ok(text) => text,
                    Err(error) => {
                        library.problems.push(SkillProblem {
                            file,
                            line: 1,
                            field: None,
                            message: format!("cannot read: {error}"),
                        });
                        continue;
                    }
                };
                match parse(&folder, &file, &text) {
                    Ok(skill) => {
                        if library.skills.contains_key(&skill.name) {
                            library.problems.push(SkillProblem {
                                file,
                                line: 2,
                                field: Some("name".into()),
                                message: format!(
                                    "a skill named `{}` is already loaded from another folder",
                                    skill.name
                                ),
                            });
                        } else {
                            library.skills.insert(skill.name.clone(), skill);
                        }
                    }
                    Err(problems) => library.problems.extend(problems),
                }
            }
        }
        library
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.get(name)
    }

    pub fn skills(&self) -> impl Iterator<Item = &Skill> {
        self.skills.values()
    }

    #[must_use]
    pub fn problems(&self) -> &[SkillProblem] {
        &self.problems
    }

    /// Bundle name → its skills, both sorted.
    #[must_use]
    pub fn bundles(&self) -> BTreeMap<String, Vec<String>> {
        let mut bundles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for skill in self.skills.values() {
            for bundle in &skill.bundles {
                bundles
                    .entry(bundle.clone())
                    .or_default()
                    .push(skill.name.clone());
            }
        }
        bundles
    }

    /// The bundle called `name`, matched without regard to case.
    #[must_use]
    pub fn bundle(&self, name: &str) -> Option<(String, Vec<String>)> {
        self.bundles()
            .into_iter()
            .find(|(bundle, _)| bundle.eq_ignore_ascii_case(name))
    }
}

/// The 1-based line of the first `key:` in the front matter.
fn line_of(front: &str, key: &str, first_line: usize) -> usize {
    front
        .lines()
        .position(|line| line.trim_start().starts_with(&format!("{key}:")))
        .map_or(first_line, |index| first_line + index)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Parses one SKILL.md; every problem found is reported, not just the first.
pub fn parse(folder: &Path, file: &Path, text: &str) -> Result<Skill, Vec<SkillProblem>> {
    let problem = |line: usize, field: Option<&str>, message: String| SkillProblem {
        file: file.to_owned(),
        line,
        field: field.map(str::to_owned),
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Err(vec![problem(1, None, "no front matter: start the file with a `---` line, the YAML fields, and another `---` line".into())]);
    };
    let Some(end) = rest.find("\n---") else {
        return Err(vec![problem(
            1,
            None,
            "the front matter is not closed: add a `---` line after the YAML fields".into(),
        )]);
    };
    let front = &rest[..end];
    let body = rest[end + 4..]
        .trim_start_matches(['-', '\r'])
        .trim()
        .to_owned();
    // Line 1 is `---`; the YAML starts on line 2.
    let first_line = 2;
    let matter: FrontMatter = match serde_norway::from_str(front) {
        Ok(matter) => matter,
        Err(error) => {
            let line = error
                .location()
                .map_or(first_line, |l| first_line + l.line() - 1);
            let message = error.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            return Err(vec![problem(
                line,
                None,
                format!("invalid YAML: {message}"),
            )]);
        }
    };
    let folder_name = folder
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut problems = Vec::new();
    match matter.name.as_deref().map(str::trim) {
        None | Some("") => problems.push(problem(first_line, Some("name"), "missing: add `name:` equal to the folder name".into())),
        Some(name) if !valid_name(name) => problems.push(problem(
            line_of(front, "name", first_line),
            Some("name"),
            format!("`{name}` must be lowercase letters, digits and single hyphens, at most 64 characters"),
        )),
        Some(name) if name != folder_name => problems.push(problem(
            line_of(front, "name", first_line),
            Some("name"),
            format!("`{name}` does not match its folder `{folder_name}`; rename one of them"),
        )),
        Some(_) => {}
    }
    match matter.description.as_deref().map(str::trim) {
        None | Some("") => problems.push(problem(
            first_line,
            Some("description"),
            "missing: say what the skill does and when to use it".into(),
        )),
        Some(description) if description.chars().count() > 1024 => problems.push(problem(
            line_of(front, "description", first_line),
            Some("description"),
            "longer than 1,024 characters; keep it to the trigger, the body holds the rest".into(),
        )),
        Some(_) => {}
    }
    if let Some(category) = &matter.metadata.category
        && !CATEGORIES.contains(&category.as_str())
    {
        problems.push(problem(
            line_of(front, "category", first_line),
            Some("metadata.category"),
            format!(
                "unknown category `{category}`; use one of {}",
                CATEGORIES.join(", ")
            ),
        ));
    }
    if body.is_empty() {
        problems.push(problem(
            first_line + front.lines().count() + 1,
            None,
            "the playbook is empty: write the steps after the front matter".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut references: Vec<String> = std::fs::read_dir(folder.join("references"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n.ends_with(".md"))
                .collect()
        })
        .unwrap_or_default();
    references.sort();
    Ok(Skill {
        name: matter.name.unwrap_or_default().trim().to_owned(),
        description: matter.description.unwrap_or_default().trim().to_owned(),
        category: matter.metadata.category,
        tags: matter.metadata.tags,
        bundles: matter.metadata.bundles,
        requires: matter.metadata.requires,
        body,
        references,
        folder: folder.to_owned(),
    })
}
