//! `agencybot members …`.

use agencybot_core::Platform;
use agencybot_store::{MemberSpec, Store};

use crate::cli::MembersCommand;
use crate::config::Config;
use crate::setup::pick_team;

pub async fn run(store: &Store, config: &Config, command: &MembersCommand) -> anyhow::Result<()> {
    match command {
        MembersCommand::List(team) => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let members = store.members(team.id).await?;
            println!("Team `{}`: {} member(s)", team.name, members.len());
            for member in members {
                let ids: Vec<String> = member
                    .user_ids
                    .iter()
                    .map(|(platform, ids)| format!("{platform} {}", ids.join(", ")))
                    .collect();
                println!(
                    "  {:<20} {:<7} {}{}",
                    member.name,
                    member.role.as_str(),
                    if ids.is_empty() {
                        "(no user IDs)".into()
                    } else {
                        ids.join("; ")
                    },
                    if member.from_config { "  [config]" } else { "" }
                );
            }
        }
        MembersCommand::Add {
            name,
            role,
            telegram,
            slack,
            discord,
            team,
        } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let user_ids = [
                (Platform::Telegram, telegram),
                (Platform::Slack, slack),
                (Platform::Discord, discord),
            ]
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(platform, ids)| (platform, ids.clone()))
            .collect();
            let member = store
                .add_member(
                    team.id,
                    &MemberSpec {
                        name: name.clone(),
                        role: *role,
                        user_ids,
                    },
                )
                .await?;
            println!(
                "Added {} to `{}` as {}.",
                member.name, team.name, member.role
            );
        }
        MembersCommand::Remove { name, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            store.remove_member(team.id, name).await?;
            println!("Removed {name} from `{}`.", team.name);
        }
        MembersCommand::SetRole { name, role, team } => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let member = store.set_member_role(team.id, name, *role).await?;
            println!("{} is now {} in `{}`.", member.name, member.role, team.name);
        }
    }
    Ok(())
}
