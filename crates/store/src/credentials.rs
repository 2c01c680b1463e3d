//! Sealed sign-ins of integrations. The store keeps them opaque: sealing
//! and opening is the integrations crate's job, with a key the database
//! never sees.

use agencybot_core::Timestamp;

use crate::db::args;
use crate::{Result, Store, millis};

impl Store {
    /// The sealed credentials of an integration, if it is signed in.
    pub async fn integration_credentials(&self, integration: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = self
            .db
            .fetch_optional(
                "SELECT sealed FROM integration_credentials WHERE integration = $1",
                args![integration],
            )
            .await?;
        Ok(row.map(|(sealed,)| sealed))
    }

    pub async fn save_integration_credentials(
        &self,
        integration: &str,
        sealed: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO integration_credentials (integration, sealed, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (integration) \
                 DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
                args![integration, sealed, millis(now)],
            )
            .await?;
        Ok(())
    }

    /// Forgets a sign-in; returns false if there was none.
    pub async fn clear_integration_credentials(&self, integration: &str) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "DELETE FROM integration_credentials WHERE integration = $1",
                args![integration],
            )
            .await?;
        Ok(changed == 1)
    }
}
