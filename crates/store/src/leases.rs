//! What several instances on one database share: leases on work only one
//! may do at a time, and the platform deliveries already handled.

use std::time::Duration;

use agencybot_core::Timestamp;

use std::collections::HashSet;

use crate::db::{args, placeholders};
use crate::{Result, Store, StoreError, millis};

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
            .claim_deliveries(channel, &[(delivery_id, now)])
            .await?;
        Ok(claimed.contains(delivery_id))
    }

    /// [`Store::claim_delivery`] for several deliveries in one statement;
    /// the ids claimed now, each once (an id given twice is claimed once).
    pub async fn claim_deliveries(
        &self,
        channel: &str,
        deliveries: &[(&str, Timestamp)],
    ) -> Result<HashSet<String>> {
        if deliveries.is_empty() {
            return Ok(HashSet::new());
        }
        let mut sql = String::from(
            "INSERT INTO channel_deliveries (channel, delivery_id, received_at) VALUES ",
        );
        sql.push_str(&placeholders(deliveries.len(), 3));
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING delivery_id");
        let mut values = Vec::with_capacity(deliveries.len() * 3);
        for (id, received) in deliveries {
            values.extend(args![channel, *id, millis(*received)]);
        }
        let claimed: Vec<(String,)> = self.db.fetch_all_built(sql, values).await?;
        Ok(claimed.into_iter().map(|(id,)| id).collect())
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

/// Claims of one channel's deliveries that arrive together, written
/// together: under a burst each turn would otherwise queue its own insert
/// behind every other's. While one batch is written the next gathers.
#[derive(Debug, Clone)]
pub struct DeliveryClaims {
    store: Store,
    channel: String,
    /// The writer, started by the first claim (inside the runtime).
    writer: std::sync::Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Claim>>>,
}

#[derive(Debug)]
struct Claim {
    delivery_id: String,
    received: Timestamp,
    claimed: tokio::sync::oneshot::Sender<Result<bool>>,
}

/// At most this many deliveries in one statement (3 values each stays far
/// below either database's limit on bound values).
const CLAIMS_PER_BATCH: usize = 500;

impl DeliveryClaims {
    /// The claims of `channel`'s deliveries. Its writer ends when the last
    /// clone is dropped.
    #[must_use]
    pub fn new(store: Store, channel: String) -> DeliveryClaims {
        DeliveryClaims {
            store,
            channel,
            writer: std::sync::Arc::default(),
        }
    }

    /// [`Store::claim_delivery`], written with whatever other claims are
    /// waiting.
    pub async fn claim(&self, delivery_id: &str, received: Timestamp) -> Result<bool> {
        let (claimed, answer) = tokio::sync::oneshot::channel();
        let claim = Claim {
            delivery_id: delivery_id.to_owned(),
            received,
            claimed,
        };
        let writer = self.writer.get_or_init(|| self.start_writer());
        if writer.send(claim).is_err() {
            return Err(StoreError::Closed);
        }
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    fn start_writer(&self) -> tokio::sync::mpsc::UnboundedSender<Claim> {
        let (writer, mut waiting) = tokio::sync::mpsc::unbounded_channel::<Claim>();
        let (store, channel) = (self.store.clone(), self.channel.clone());
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while waiting.recv_many(&mut batch, CLAIMS_PER_BATCH).await > 0 {
                let deliveries: Vec<(&str, Timestamp)> = batch
                    .iter()
                    .map(|claim| (claim.delivery_id.as_str(), claim.received))
                    .collect();
                let written = store.claim_deliveries(&channel, &deliveries).await;
                drop(deliveries);
                match written {
                    Ok(mut claimed) => {
                        for claim in batch.drain(..) {
                            let first = claimed.remove(&claim.delivery_id);
                            let _ = claim.claimed.send(Ok(first));
                        }
                    }
                    Err(error) => {
                        let error = std::sync::Arc::new(error);
                        for claim in batch.drain(..) {
                            let _ = claim.claimed.send(Err(StoreError::Shared(error.clone())));
                        }
                    }
                }
            }
        });
        writer
    }
}
