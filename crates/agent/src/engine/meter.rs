//! What a turn costs and what the team may still spend: tokens, USD and
//! OnlyFansAPI credits, checked before every model call and tool step, with
//! the spend of turns still running counted as already spent.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use agencybot_core::Team;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{Engine, EngineError, TurnRequest};
use crate::model::Completion;

/// Tokens, money and credits of one request, summed over its calls.
#[derive(Debug, Default)]
pub(super) struct Meter {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub credits: i64,
    /// Everything in US dollars: the model and the web searches.
    pub usd: f64,
    pub searches: crate::tools::WebSearches,
    /// Integration calls by integration name.
    pub integration_calls: std::collections::BTreeMap<String, i64>,
}

impl Meter {
    pub fn count_integration_calls(&mut self, calls: Vec<String>) {
        for name in calls {
            *self.integration_calls.entry(name).or_default() += 1;
        }
    }
}

/// Spend of turns that have not recorded their usage yet, per team.
#[derive(Debug, Default, Clone, Copy)]
struct Live {
    credits: i64,
    usd: f64,
}

/// The team-wide view of spending: stored usage plus turns in flight.
#[derive(Default)]
pub(super) struct Spend {
    live: Mutex<HashMap<i64, Live>>,
    /// Held while a budget is checked and while a turn turns its live spend
    /// into a usage record, so no check sees a spend twice or not at all.
    settling: tokio::sync::Mutex<()>,
}

impl Spend {
    fn live(&self, team_id: i64) -> Live {
        self.lock().get(&team_id).copied().unwrap_or_default()
    }

    fn add(&self, team_id: i64, credits: i64, usd: f64) {
        let mut live = self.lock();
        let entry = live.entry(team_id).or_default();
        entry.credits += credits;
        entry.usd += usd;
        if entry.credits == 0 && entry.usd.abs() < f64::EPSILON {
            live.remove(&team_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Live>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Turns per minute for each person and for each team.
pub(super) struct TurnLimits {
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    per_team: Option<DefaultKeyedRateLimiter<i64>>,
    user_rate: Option<NonZeroU32>,
    team_rate: Option<NonZeroU32>,
}

impl TurnLimits {
    pub fn new(user_rate: Option<NonZeroU32>, team_rate: Option<NonZeroU32>) -> Self {
        TurnLimits {
            per_user: user_rate.map(|rate| RateLimiter::hashmap(Quota::per_minute(rate))),
            per_team: team_rate.map(|rate| RateLimiter::hashmap(Quota::per_minute(rate))),
            user_rate,
            team_rate,
        }
    }

    /// Why this request may not start a turn now, if it may not.
    fn refusal(&self, request: &TurnRequest) -> Option<String> {
        let user_key = format!(
            "{}:{}:{}",
            request.team.id, request.conversation.platform, request.user_id
        );
        if let (Some(limiter), Some(rate)) = (&self.per_user, self.user_rate)
            && limiter.check_key(&user_key).is_err()
        {
            limiter.retain_recent();
            return Some(format!(
                "You're sending requests faster than I take them ({rate} a minute per person), so I didn't start on this one. Give it a minute and send it again."
            ));
        }
        if let (Some(limiter), Some(rate)) = (&self.per_team, self.team_rate)
            && limiter.check_key(&request.team.id).is_err()
        {
            return Some(format!(
                "{} is sending more requests than I take ({rate} a minute for the whole team), so I didn't start on this one. Try again in a minute.",
                request.team.name
            ));
        }
        None
    }
}

/// Midnight UTC of `now`'s day: budgets are per UTC day.
fn day_start(now: agencybot_core::Timestamp) -> agencybot_core::Timestamp {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |d| d.and_utc())
}

impl Engine {
    pub(super) fn rate_refusal(&self, request: &TurnRequest) -> Option<String> {
        self.limits.refusal(request)
    }

    /// Bills a model call to the request and to the team's live spend.
    pub(super) fn charge_model(
        &self,
        team: &Team,
        meter: &mut Meter,
        model: &str,
        completion: &Completion,
    ) {
        meter.prompt_tokens += completion.prompt_tokens;
        meter.completion_tokens += completion.completion_tokens;
        let usd = self.config.prices.cost(
            model,
            completion.prompt_tokens,
            completion.completion_tokens,
        );
        meter.usd += usd;
        self.spend.add(team.id, 0, usd);
    }

    /// Bills credits to the request and to the team's live spend.
    pub(super) fn charge_credits(&self, team: &Team, meter: &mut Meter, credits: i64) {
        meter.credits += credits;
        self.spend.add(team.id, credits, 0.0);
    }

    /// Bills web searches to the request (their cost joins its USD) and to
    /// the team's live spend.
    pub(super) fn charge_searches(
        &self,
        team: &Team,
        meter: &mut Meter,
        searches: crate::tools::WebSearches,
    ) {
        meter.searches += searches;
        meter.usd += searches.usd;
        self.spend.add(team.id, 0, searches.usd);
    }

    /// Releases credits held by [`Engine::budget_refusal`] for a step.
    pub(super) fn release(&self, team: &Team, reserved: i64) {
        if reserved != 0 {
            self.spend.add(team.id, -reserved, 0.0);
        }
    }

    /// Why the team may not spend more now (a daily budget is used up,
    /// counting turns in flight), if it may not. Otherwise `reserve`
    /// credits are held for the step about to run, so concurrent turns
    /// cannot all pass the same last check; release them with
    /// [`Engine::release`] once the step's real cost is charged.
    pub(super) async fn budget_refusal(
        &self,
        team: &Team,
        reserve: i64,
    ) -> Result<Option<String>, EngineError> {
        if team.daily_credit_budget.is_none() && team.daily_usd_budget.is_none() {
            return Ok(None);
        }
        let _settling = self.spend.settling.lock().await;
        let day_start = day_start(self.clock.now());
        let live = self.spend.live(team.id);
        if let Some(budget) = team.daily_credit_budget {
            let used = self.store.credits_used_since(team.id, day_start).await? + live.credits;
            if used >= budget {
                return Ok(Some(format!(
                    "Today's OnlyFansAPI credit budget for {} is used up ({used} of {budget} credits), so I can't look anything up until it resets at midnight UTC. An admin can raise `daily_credit_budget` in the config.",
                    team.name
                )));
            }
        }
        if let Some(budget) = team.daily_usd_budget {
            let used = self.store.usd_used_since(team.id, day_start).await? + live.usd;
            if used >= budget {
                return Ok(Some(format!(
                    "Today's AI spending budget for {} is used up (${used:.2} of ${budget:.2}), so I can't answer more until it resets at midnight UTC. An admin can raise `daily_usd_budget` in the config.",
                    team.name
                )));
            }
        }
        if reserve != 0 {
            self.spend.add(team.id, reserve, 0.0);
        }
        Ok(None)
    }

    /// Credits the team may still spend today, counting turns in flight;
    /// `None` without a credit budget (or when usage cannot be read, in
    /// which case the per-step checks still refuse).
    pub(super) async fn credits_left(&self, team: &Team) -> Option<i64> {
        let budget = team.daily_credit_budget?;
        let used = self
            .store
            .credits_used_since(team.id, day_start(self.clock.now()))
            .await
            .ok()?;
        Some((budget - used - self.spend.live(team.id).credits).max(0))
    }

    /// Writes the request's usage record and takes its spend out of the
    /// live view in one step.
    pub(super) async fn settle(
        &self,
        usage: &agencybot_core::NewUsageRecord,
        meter: &Meter,
    ) -> Option<i64> {
        let _settling = self.spend.settling.lock().await;
        let recorded = self.store.record_usage(usage).await;
        self.spend.add(usage.team_id, -meter.credits, -meter.usd);
        match recorded {
            Ok(id) => Some(id),
            Err(err) => {
                tracing::error!(error = %err, "cannot record usage");
                None
            }
        }
    }
}
