//! Teams, their members (with per-platform user IDs) and channels.

use std::collections::BTreeMap;

use agencybot_core::{Channel, Member, Platform, Role, Team, Timestamp};
use chrono::Utc;

use crate::db::args;
use crate::{Result, Store, StoreError, from_millis, millis, parse_json, parse_stored};

/// The columns `TeamRow` reads, as a literal for `concat!`.
macro_rules! team_columns {
    () => {
        "id, name, default_model, timezone, daily_credit_budget, daily_usd_budget"
    };
}

/// The columns `ChannelRow` reads, as a literal for `concat!`.
macro_rules! channel_columns {
    () => {
        "id, team_id, platform, name, settings, permitted_user_ids, allow_everyone"
    };
}

/// A team as declared in the config.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamSpec {
    pub name: String,
    pub default_model: Option<String>,
    pub timezone: Option<String>,
    pub daily_credit_budget: Option<i64>,
    pub daily_usd_budget: Option<f64>,
}

/// A member as declared in the config or added by the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSpec {
    pub name: String,
    pub role: Role,
    pub user_ids: BTreeMap<Platform, Vec<String>>,
}

/// Who besides the team's members may use a channel: in force, and as the
/// config declares it when the console has changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelAccess {
    pub permitted_user_ids: Vec<String>,
    pub allow_everyone: bool,
    pub config_permitted_user_ids: Vec<String>,
    pub config_allow_everyone: bool,
    /// Who changed it in the console, and when; `None` while the config's is in force.
    pub edited: Option<(String, Timestamp)>,
}

/// A channel as declared in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    pub team_id: i64,
    pub platform: Platform,
    pub name: String,
    pub settings: serde_json::Value,
    pub permitted_user_ids: Vec<String>,
    pub allow_everyone: bool,
}

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: i64,
    name: String,
    default_model: Option<String>,
    timezone: Option<String>,
    daily_credit_budget: Option<i64>,
    daily_usd_budget: Option<f64>,
}

impl From<TeamRow> for Team {
    fn from(row: TeamRow) -> Team {
        Team {
            id: row.id,
            name: row.name,
            default_model: row.default_model,
            timezone: row.timezone,
            daily_credit_budget: row.daily_credit_budget,
            daily_usd_budget: row.daily_usd_budget,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: i64,
    team_id: i64,
    name: String,
    role: String,
    from_config: bool,
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    member_id: i64,
    platform: String,
    user_id: String,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: i64,
    team_id: i64,
    platform: String,
    name: String,
    settings: String,
    permitted_user_ids: String,
    allow_everyone: bool,
}

impl ChannelRow {
    fn into_channel(self) -> Result<Channel> {
        Ok(Channel {
            id: self.id,
            team_id: self.team_id,
            platform: parse_stored("channel platform", &self.platform)?,
            name: self.name,
            settings: parse_json("channel settings", &self.settings)?,
            permitted_user_ids: parse_json("channel permitted user IDs", &self.permitted_user_ids)?,
            allow_everyone: self.allow_everyone,
        })
    }
}

impl Store {
    /// Creates the team or updates its settings; teams are keyed by name.
    pub async fn upsert_team(&self, spec: &TeamSpec) -> Result<Team> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let row: TeamRow = self
            .db
            .fetch_one(
                concat!(
                    "INSERT INTO teams (name, default_model, timezone, daily_credit_budget, \
                     daily_usd_budget, created_at) VALUES ($1, $2, $3, $4, $6, $5) \
                     ON CONFLICT (name) DO UPDATE SET default_model = $2, timezone = $3, \
                     daily_credit_budget = $4, daily_usd_budget = $6 RETURNING ",
                    team_columns!()
                ),
                args![
                    &spec.name,
                    spec.default_model.clone(),
                    spec.timezone.clone(),
                    spec.daily_credit_budget,
                    millis(Utc::now()),
                    spec.daily_usd_budget
                ],
            )
            .await?;
        Ok(row.into())
    }

    pub async fn teams(&self) -> Result<Vec<Team>> {
        let rows: Vec<TeamRow> = self
            .db
            .fetch_all(
                concat!("SELECT ", team_columns!(), " FROM teams ORDER BY id"),
                args![],
            )
            .await?;
        Ok(rows.into_iter().map(Team::from).collect())
    }

    pub async fn team(&self, id: i64) -> Result<Team> {
        let row: Option<TeamRow> = self
            .db
            .fetch_optional(
                concat!("SELECT ", team_columns!(), " FROM teams WHERE id = $1"),
                args![id],
            )
            .await?;
        row.map(Team::from).ok_or_else(|| StoreError::NotFound {
            what: "team",
            key: id.to_string(),
        })
    }

    pub async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
        let row: Option<TeamRow> = self
            .db
            .fetch_optional(
                concat!("SELECT ", team_columns!(), " FROM teams WHERE name = $1"),
                args![name],
            )
            .await?;
        Ok(row.map(Team::from))
    }

    /// Every member of the team with their platform user IDs, by name.
    pub async fn members(&self, team_id: i64) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, name, role, from_config FROM members \
                 WHERE team_id = $1 ORDER BY name",
                args![team_id],
            )
            .await?;
        let identities: Vec<IdentityRow> = self
            .db
            .fetch_all(
                "SELECT i.member_id, i.platform, i.user_id FROM member_identities i \
                 JOIN members m ON m.id = i.member_id WHERE m.team_id = $1 \
                 ORDER BY i.platform, i.user_id",
                args![team_id],
            )
            .await?;
        let mut members = Vec::with_capacity(rows.len());
        for row in rows {
            let mut user_ids: BTreeMap<Platform, Vec<String>> = BTreeMap::new();
            for identity in identities.iter().filter(|i| i.member_id == row.id) {
                let platform = parse_stored("member platform", &identity.platform)?;
                user_ids
                    .entry(platform)
                    .or_default()
                    .push(identity.user_id.clone());
            }
            members.push(Member {
                id: row.id,
                team_id: row.team_id,
                name: row.name,
                role: parse_stored("member role", &row.role)?,
                user_ids,
                from_config: row.from_config,
            });
        }
        Ok(members)
    }

    pub async fn member(&self, team_id: i64, name: &str) -> Result<Member> {
        self.members(team_id)
            .await?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| StoreError::NotFound {
                what: "member",
                key: name.to_owned(),
            })
    }

    /// The member known on `platform` by `user_id`, if any.
    pub async fn member_by_user(
        &self,
        team_id: i64,
        platform: Platform,
        user_id: &str,
    ) -> Result<Option<Member>> {
        Ok(self
            .members(team_id)
            .await?
            .into_iter()
            .find(|m| m.is_known_as(platform, user_id)))
    }

    /// Adds a member by hand (the CLI). Names and platform user IDs are unique in a team.
    pub async fn add_member(&self, team_id: i64, spec: &MemberSpec) -> Result<Member> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let existing = self.members(team_id).await?;
        if existing.iter().any(|m| m.name == spec.name) {
            return Err(StoreError::AlreadyExists {
                what: "member",
                key: spec.name.clone(),
            });
        }
        check_user_ids_free(&existing, spec)?;
        let (id,): (i64,) = self
            .db
            .fetch_one(
                "INSERT INTO members (team_id, name, role, from_config, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                args![
                    team_id,
                    &spec.name,
                    spec.role.as_str(),
                    false,
                    millis(Utc::now())
                ],
            )
            .await?;
        self.replace_identities(id, &spec.user_ids).await?;
        self.member(team_id, &spec.name).await
    }

    /// Removes a member added by hand; members from the config are managed there.
    pub async fn remove_member(&self, team_id: i64, name: &str) -> Result<()> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let member = self.member(team_id, name).await?;
        if member.from_config {
            return Err(StoreError::ManagedByConfig(member.name));
        }
        self.db
            .execute("DELETE FROM members WHERE id = $1", args![member.id])
            .await?;
        Ok(())
    }

    pub async fn set_member_role(&self, team_id: i64, name: &str, role: Role) -> Result<Member> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let member = self.member(team_id, name).await?;
        if member.from_config {
            return Err(StoreError::ManagedByConfig(member.name));
        }
        self.db
            .execute(
                "UPDATE members SET role = $1 WHERE id = $2",
                args![role.as_str(), member.id],
            )
            .await?;
        self.member(team_id, name).await
    }

    /// Makes the team's config-declared members exactly `specs`: adds and
    /// updates them, and removes config members no longer declared. Members
    /// added by hand are left alone unless the config now declares the same
    /// name, in which case the config takes them over.
    pub async fn sync_config_members(&self, team_id: i64, specs: &[MemberSpec]) -> Result<()> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let existing = self.members(team_id).await?;
        // Who holds which user ID once the sync is done: hand-added members
        // the config does not take over, plus every declared member.
        let mut after: Vec<Member> = existing
            .iter()
            .filter(|m| !m.from_config && !specs.iter().any(|s| s.name == m.name))
            .cloned()
            .collect();
        for spec in specs {
            check_user_ids_free(&after, spec)?;
            after.push(Member {
                id: 0,
                team_id,
                name: spec.name.clone(),
                role: spec.role,
                user_ids: spec.user_ids.clone(),
                from_config: true,
            });
        }
        for member in &existing {
            if member.from_config && !specs.iter().any(|s| s.name == member.name) {
                self.db
                    .execute("DELETE FROM members WHERE id = $1", args![member.id])
                    .await?;
            }
        }
        for spec in specs {
            let (id,): (i64,) = self
                .db
                .fetch_one(
                    "INSERT INTO members (team_id, name, role, from_config, created_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (team_id, name) DO UPDATE SET role = $3, from_config = $4 \
                     RETURNING id",
                    args![
                        team_id,
                        &spec.name,
                        spec.role.as_str(),
                        true,
                        millis(Utc::now())
                    ],
                )
                .await?;
            self.replace_identities(id, &spec.user_ids).await?;
        }
        Ok(())
    }

    async fn replace_identities(
        &self,
        member_id: i64,
        user_ids: &BTreeMap<Platform, Vec<String>>,
    ) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM member_identities WHERE member_id = $1",
                args![member_id],
            )
            .await?;
        for (platform, ids) in user_ids {
            for user_id in ids {
                self.db
                    .execute(
                        "INSERT INTO member_identities (member_id, platform, user_id) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        args![member_id, platform.as_str(), user_id],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes the stored channels exactly `specs` (the config is their source).
    pub async fn sync_channels(&self, specs: &[ChannelSpec]) -> Result<Vec<Channel>> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let now = millis(Utc::now());
        for spec in specs {
            self.db
                .execute(
                    // A list edited in the console stays in force; the
                    // config's is kept beside it.
                    "INSERT INTO channels (team_id, platform, name, settings, permitted_user_ids, \
                     allow_everyone, config_permitted_user_ids, config_allow_everyone, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $5, $6, $7) \
                     ON CONFLICT (name) DO UPDATE SET team_id = $1, platform = $2, settings = $4, \
                     config_permitted_user_ids = $5, config_allow_everyone = $6, \
                     permitted_user_ids = CASE WHEN channels.access_edited_at IS NULL \
                         THEN $5 ELSE channels.permitted_user_ids END, \
                     allow_everyone = CASE WHEN channels.access_edited_at IS NULL \
                         THEN $6 ELSE channels.allow_everyone END, \
                     updated_at = $7",
                    args![
                        spec.team_id,
                        spec.platform.as_str(),
                        &spec.name,
                        spec.settings.to_string(),
                        serde_json::Value::from(spec.permitted_user_ids.clone()).to_string(),
                        spec.allow_everyone,
                        now
                    ],
                )
                .await?;
        }
        for channel in self.channels().await? {
            if !specs.iter().any(|s| s.name == channel.name) {
                self.db
                    .execute("DELETE FROM channels WHERE id = $1", args![channel.id])
                    .await?;
            }
        }
        self.channels().await
    }

    pub async fn channels(&self) -> Result<Vec<Channel>> {
        let rows: Vec<ChannelRow> = self
            .db
            .fetch_all(
                concat!(
                    "SELECT ",
                    channel_columns!(),
                    " FROM channels ORDER BY name"
                ),
                args![],
            )
            .await?;
        rows.into_iter().map(ChannelRow::into_channel).collect()
    }

    /// Who may use the channel `name`; `None` for a channel not configured.
    pub async fn channel_access(&self, name: &str) -> Result<Option<ChannelAccess>> {
        type Row = (String, bool, String, bool, Option<String>, Option<i64>);
        let row: Option<Row> = self
            .db
            .fetch_optional(
                "SELECT permitted_user_ids, allow_everyone, config_permitted_user_ids, \
                 config_allow_everyone, access_edited_by, access_edited_at \
                 FROM channels WHERE name = $1",
                args![name],
            )
            .await?;
        row.map(
            |(permitted, everyone, config_permitted, config_everyone, by, at)| {
                Ok(ChannelAccess {
                    permitted_user_ids: parse_json("channel permitted user IDs", &permitted)?,
                    allow_everyone: everyone,
                    config_permitted_user_ids: parse_json(
                        "channel permitted user IDs from the config",
                        &config_permitted,
                    )?,
                    config_allow_everyone: config_everyone,
                    edited: match (by, at) {
                        (Some(by), Some(at)) => {
                            Some((by, from_millis("channels.access_edited_at", at)?))
                        }
                        _ => None,
                    },
                })
            },
        )
        .transpose()
    }

    /// Sets who may use a channel, in force until changed again or reset to
    /// the config's; false when there is no such channel.
    pub async fn set_channel_access(
        &self,
        name: &str,
        permitted_user_ids: &[String],
        allow_everyone: bool,
        edited_by: &str,
        now: Timestamp,
    ) -> Result<bool> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let changed = self
            .db
            .execute(
                "UPDATE channels SET permitted_user_ids = $2, allow_everyone = $3, \
                 access_edited_by = $4, access_edited_at = $5 WHERE name = $1",
                args![
                    name,
                    serde_json::Value::from(permitted_user_ids.to_vec()).to_string(),
                    allow_everyone,
                    edited_by,
                    millis(now)
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Puts the config's permitted users back in force.
    pub async fn reset_channel_access(&self, name: &str) -> Result<bool> {
        // Counted once the change is made (or failed), when this drops.
        let _counted = self.access_change();
        let changed = self
            .db
            .execute(
                "UPDATE channels SET permitted_user_ids = config_permitted_user_ids, \
                 allow_everyone = config_allow_everyone, access_edited_by = NULL, \
                 access_edited_at = NULL WHERE name = $1",
                args![name],
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn channel(&self, name: &str) -> Result<Option<Channel>> {
        let row: Option<ChannelRow> = self
            .db
            .fetch_optional(
                concat!(
                    "SELECT ",
                    channel_columns!(),
                    " FROM channels WHERE name = $1"
                ),
                args![name],
            )
            .await?;
        row.map(ChannelRow::into_channel).transpose()
    }
}

/// A platform user ID may belong to one member of a team only: otherwise
/// which role applies would depend on lookup order.
fn check_user_ids_free(others: &[Member], spec: &MemberSpec) -> Result<()> {
    for (platform, ids) in &spec.user_ids {
        for id in ids {
            if let Some(owner) = others
                .iter()
                .find(|m| m.name != spec.name && m.is_known_as(*platform, id))
            {
                return Err(StoreError::AlreadyExists {
                    what: "user ID",
                    key: format!("{platform} {id} (member {})", owner.name),
                });
            }
        }
    }
    Ok(())
}
