//! The team's connected accounts, cached for the prompt and for turning a
//! name the model wrote (`@miarose`, `Mia Rose`) into the account id.

use std::time::Instant;

use agencybot_core::Team;
use serde_json::{Map, Value};

use super::Engine;
use super::meter::Meter;
use crate::prompt::AccountSummary;

impl Engine {
    /// The connected accounts, cached for a while; the fetch is billed to
    /// the request that makes it.
    pub(super) async fn accounts(
        &self,
        team: &Team,
        meter: &mut Meter,
    ) -> Result<Vec<AccountSummary>, String> {
        if let Some((fetched, accounts)) = self.lock_accounts().get(&team.id)
            && fetched.elapsed() < self.config.accounts_ttl
        {
            return Ok(accounts.clone());
        }
        match self.ofapi.call("account.list-accounts", &Map::new()).await {
            Ok(response) => {
                self.charge_credits(team, meter, response.cost.credits_used);
                let accounts: Vec<AccountSummary> = response
                    .data
                    .as_array()
                    .map(|list| list.iter().filter_map(account_summary).collect())
                    .unwrap_or_default();
                self.lock_accounts()
                    .insert(team.id, (Instant::now(), accounts.clone()));
                Ok(accounts)
            }
            Err(err) => {
                self.charge_credits(team, meter, err.credits_used);
                Err(err.message)
            }
        }
    }

    pub(super) fn lock_accounts(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, (Instant, Vec<AccountSummary>)>>
    {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `@miarose` or `Mia Rose` where an account ID belongs → its `acct_…` ID.
    pub(super) fn resolve_accounts(&self, team_id: i64, args: &mut Map<String, Value>) {
        let cache = self.lock_accounts();
        let Some((_, accounts)) = cache.get(&team_id) else {
            return;
        };
        let resolve = |value: &mut Value| {
            if let Some(text) = value.as_str() {
                let wanted = text.trim().trim_start_matches('@').to_lowercase();
                if let Some(account) = accounts.iter().find(|a| {
                    a.id != text
                        && (a.username.to_lowercase() == wanted || a.name.to_lowercase() == wanted)
                }) {
                    *value = Value::String(account.id.clone());
                }
            }
        };
        if let Some(value) = args.get_mut("account") {
            resolve(value);
        }
        if let Some(Value::Array(values)) = args.get_mut("account_ids") {
            values.iter_mut().for_each(resolve);
        }
    }

    pub(super) fn account_label(&self, team_id: i64, args: &Map<String, Value>) -> Option<String> {
        let id = args.get("account")?.as_str()?;
        let cache = self.lock_accounts();
        let (_, accounts) = cache.get(&team_id)?;
        accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| format!("@{}", a.username))
    }
}

fn account_summary(account: &Value) -> Option<AccountSummary> {
    let text = |field: &str| {
        account
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some(AccountSummary {
        id: account.get("id")?.as_str()?.to_owned(),
        username: text("onlyfans_username"),
        name: text("display_name"),
    })
}
