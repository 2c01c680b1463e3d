//! Work only one instance may do at a time (a Telegram bot's long polling,
//! a Discord gateway connection), held through a lease in the store: taken
//! when free or expired, renewed while held, and taken over by another
//! instance within its lifetime when the holder dies.

use std::sync::OnceLock;
use std::time::Duration;

use agencybot_core::ConversationKey;
use agencybot_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a lease lasts unless renewed; another instance takes over at
/// most this long after the holder stops renewing.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// This process's name among instances: host, process id and a random
/// suffix (process ids repeat across containers).
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        format!(
            "{host}-{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    })
}

/// One named lease as this instance sees it.
#[derive(Clone)]
pub struct Lease {
    store: Store,
    name: String,
    ttl: Duration,
}

impl Lease {
    #[must_use]
    pub fn new(store: Store, name: impl Into<String>) -> Lease {
        Lease {
            store,
            name: name.into(),
            ttl: LEASE_TTL,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tries once: whether this instance holds the lease now.
    pub async fn try_hold(&self) -> Result<bool, agencybot_store::StoreError> {
        self.store
            .hold_lease(&self.name, instance_id(), self.ttl, chrono::Utc::now())
            .await
            .inspect_err(|error| {
                tracing::warn!(lease = %self.name, %error, "cannot reach the store for a lease");
            })
    }

    /// Waits until this instance holds the lease; false when `stop` came first.
    pub async fn acquire(&self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut told = false;
        loop {
            if *stop.borrow() {
                return false;
            }
            if self.try_hold().await.unwrap_or(false) {
                tracing::info!(lease = %self.name, instance = instance_id(), "this instance holds the lease");
                return true;
            }
            if !told {
                tracing::info!(lease = %self.name, instance = instance_id(), "another instance holds the lease; standing by to take over");
                told = true;
            }
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return false,
                () = tokio::time::sleep(self.ttl / 3) => {}
            }
        }
    }

    /// Renews the lease until it is lost (another instance has it, or the
    /// store could not renew it before it expired); returns then.
    pub async fn keep(&self) {
        let mut failing_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::time::sleep(self.ttl / 3).await;
            match self.try_hold().await {
                Ok(true) => {
                    failing_since = None;
                    continue;
                }
                Ok(false) => {
                    tracing::warn!(lease = %self.name, "another instance took the lease");
                    return;
                }
                Err(_) => {}
            }
            let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
            // Another instance may take it once it expires: stop before then.
            if since.elapsed() + self.ttl / 3 >= self.ttl / 2 {
                tracing::warn!(lease = %self.name, "lost the lease: the store could not renew it");
                return;
            }
        }
    }

    /// Gives the lease up, so another instance takes over at once.
    pub async fn release(&self) {
        if let Err(error) = self.store.release_lease(&self.name, instance_id()).await {
            tracing::warn!(lease = %self.name, %error, "cannot release a lease; it expires on its own");
        }
    }
}

/// The longest a turn waits for another instance to finish its turn of the
/// same conversation; past it the turn runs anyway, so one stuck instance
/// cannot silence a conversation.
pub const TURN_WAIT_LIMIT: Duration = Duration::from_secs(600);

/// A conversation's turn held across instances that share one database:
/// two messages of one conversation reaching two instances are answered one
/// after the other, the second seeing the first's question and answer.
/// Renewed while the turn runs and released when it ends; an instance that
/// dies mid-turn lets go within [`LEASE_TTL`].
pub struct TurnLease {
    lease: Option<Lease>,
    renewing: Option<JoinHandle<()>>,
}

impl TurnLease {
    /// Waits until this instance holds `conversation`'s turn. Runs without
    /// it (and says so in the log) when the store cannot record it or
    /// after [`TURN_WAIT_LIMIT`], rather than leave the message unanswered.
    pub async fn acquire(store: &Store, conversation: &ConversationKey) -> TurnLease {
        let lease = Lease::new(store.clone(), format!("turn:{conversation}"));
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match lease.try_hold().await {
                Ok(true) => break,
                Ok(false) if started.elapsed() < TURN_WAIT_LIMIT => {
                    tracing::debug!(lease = %lease.name, "another instance is answering this conversation; waiting");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Ok(false) => {
                    tracing::warn!(lease = %lease.name, "another instance has held this conversation too long; answering anyway");
                    return TurnLease::none();
                }
                Err(_) => return TurnLease::none(),
            }
        }
        let renewer = lease.clone();
        let renewing = tokio::spawn(async move { renewer.keep().await });
        TurnLease {
            lease: Some(lease),
            renewing: Some(renewing),
        }
    }

    /// No lease: the turn is ordered only within this instance.
    #[must_use]
    pub fn none() -> TurnLease {
        TurnLease {
            lease: None,
            renewing: None,
        }
    }

    /// Ends the turn so another instance's turn of it starts at once.
    pub async fn release(mut self) {
        if let Some(renewing) = self.renewing.take() {
            renewing.abort();
        }
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

impl Drop for TurnLease {
    fn drop(&mut self) {
        // Dropped without `release` (a panicking turn): stop renewing and
        // let the lease expire.
        if let Some(renewing) = self.renewing.take() {
            renewing.abort();
        }
    }
}
