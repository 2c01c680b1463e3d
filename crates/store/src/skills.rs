//! Which skills each team has installed.

use agencybot_core::Timestamp;

use crate::db::args;
use crate::{Result, Store, from_millis, millis};

#[derive(Debug, Clone, PartialEq)]
pub struct InstalledSkill {
    pub team_id: i64,
    pub name: String,
    /// The bundle it was installed with, if any.
    pub installed_via: Option<String>,
    pub installed_by: String,
    pub installed_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct SkillRow {
    team_id: i64,
    name: String,
    installed_via: Option<String>,
    installed_by: String,
    installed_at: i64,
}

impl Store {
    /// Installs the skill for the team; returns false if it already was.
    pub async fn install_skill(
        &self,
        team_id: i64,
        name: &str,
        installed_via: Option<&str>,
        installed_by: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "INSERT INTO installed_skills (team_id, name, installed_via, installed_by, installed_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (team_id, name) DO NOTHING",
                args![team_id, name, installed_via, installed_by, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Removes the skill; returns false if it was not installed.
    pub async fn remove_skill(&self, team_id: i64, name: &str) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "DELETE FROM installed_skills WHERE team_id = $1 AND name = $2",
                args![team_id, name],
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn installed_skills(&self, team_id: i64) -> Result<Vec<InstalledSkill>> {
        let rows: Vec<SkillRow> = self
            .db
            .fetch_all(
                "SELECT team_id, name, installed_via, installed_by, installed_at \
                 FROM installed_skills WHERE team_id = $1 ORDER BY name",
                args![team_id],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(InstalledSkill {
                    team_id: row.team_id,
                    name: row.name,
                    installed_via: row.installed_via,
                    installed_by: row.installed_by,
                    installed_at: from_millis("skill installed_at", row.installed_at)?,
                })
            })
            .collect()
    }
}
