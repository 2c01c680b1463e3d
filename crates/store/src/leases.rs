//! What several instances on one database share: leases on work only one
//! may do at a time, and the platform deliveries already handled.

use std::time::Duration;

use agencybot_core::Timestamp;

use crate::db::args;
use crate::{Result, Store, millis};

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub name: String,
    pub holder: String,
    pub expires_at: Timestamp,
}

impl Store {
    /// Takes the lease `name` for `holder` when it is free, expired or
    /// already `holder`'s, for `ttl` from `now`; whether `holder` has it.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool> {
        let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(15));
        let row: Option<(String,)> = self
            .db
            .fetch_optional(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 \
                 WHERE leases.holder = $2 OR leases.expires_at <= $4 \
                 RETURNING holder",
                args![name, holder, millis(until), millis(now)],
            )
            .await?;
        Ok(row.is_some_and(|(h,)| h == holder))
    }

    /// Gives the lease up if `holder` has it, so another takes it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                args![name, holder],
            )
            .await?;
        Ok(())
    }

    /// The leases held and not expired at `now`.
    pub async fn leases(&self, now: Timestamp) -> Result<Vec<LeaseHolder>> {
        let rows: Vec<(String, String, i64)> = self
            .db
            .fetch_all(
                "SELECT name, holder, expires_at FROM leases WHERE expires_at > $1 ORDER BY name",
                args![millis(now)],
            )
            .await?;
        rows.into_iter()
            .map(|(name, holder, expires_at)| {
                Ok(LeaseHolder {
                    name,
                    holder,
                    expires_at: crate::from_millis("leases.expires_at", expires_at)?,
                })
            })
            .collect()
    }

    /// Records that `channel`'s delivery `delivery_id` is being handled;
    /// false when it was already (here, by another instance, or before a
    /// restart), so it is dropped.
    pub async fn claim_delivery(
        &self,
        channel: &str,
        delivery_id: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let claimed = self
            .db
            .execute(
                "INSERT INTO channel_deliveries (channel, delivery_id, received_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                args![channel, delivery_id, millis(now)],
            )
            .await?;
        Ok(claimed == 1)
    }

    /// Forgets deliveries received before `before`; returns how many.
    pub async fn prune_deliveries(&self, before: Timestamp) -> Result<u64> {
        self.db
            .execute(
                "DELETE FROM channel_deliveries WHERE received_at < $1",
                args![millis(before)],
            )
            .await
    }
}
