//! OAuth 2.1 for HTTP servers that need it. Someone with the deployment
//! signs in once in a browser (`agencybot integrations connect NAME`); the
//! tokens are sealed with the deployment's key and kept in the store, and
//! rmcp refreshes them as they expire, sealing each new pair again.
//!
//! The key never reaches the database, so a copy of the database alone
//! gives no access to anyone's apps. Each sealed value is bound to its
//! integration's name, so one cannot be moved onto another.

use std::sync::Arc;

use agencybot_core::Secret;
use agencybot_store::Store;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationRequest, CredentialRefreshGuard, CredentialStore,
    OAuthState, StoredCredentials,
};

use crate::spec::{ServerSpec, Transport};

/// The shortest key phrase accepted: enough to stand for 256 bits of key.
pub const MIN_KEY_CHARS: usize = 32;

/// Why a sign-in could not be used or completed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(
        "the key for sealing sign-ins must be at least {MIN_KEY_CHARS} characters (e.g. `openssl rand -hex 32`)"
    )]
    ShortKey,
    #[error("`{0}` does not sign in with OAuth")]
    NotOAuth(String),
    #[error("the sign-in could not be read: {0}")]
    Store(String),
    #[error(
        "the stored sign-in of `{0}` cannot be opened with this key (was the key changed?); sign in again"
    )]
    Unsealable(String),
    #[error("the sign-in failed: {0}")]
    Auth(#[from] AuthError),
}

/// The deployment's key for sealing sign-ins.
pub struct SealingKey(LessSafeKey);

impl SealingKey {
    /// Derives the key from a phrase (any text of at least
    /// [`MIN_KEY_CHARS`] characters).
    pub fn from_phrase(phrase: &Secret) -> Result<Self, OAuthError> {
        let phrase = phrase.expose().trim();
        if phrase.chars().count() < MIN_KEY_CHARS {
            return Err(OAuthError::ShortKey);
        }
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("agencybot sign-in key\n{phrase}").as_bytes(),
        );
        let key = UnboundKey::new(&CHACHA20_POLY1305, digest.as_ref())
            .map_err(|_| OAuthError::ShortKey)?;
        Ok(SealingKey(LessSafeKey::new(key)))
    }

    fn seal(&self, integration: &str, plain: &[u8]) -> Result<String, OAuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| OAuthError::Store("no randomness for a nonce".into()))?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(integration.as_bytes()),
                &mut data,
            )
            .map_err(|_| OAuthError::Store("sealing failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(hex::encode(sealed))
    }

    fn open(&self, integration: &str, sealed: &str) -> Result<Vec<u8>, OAuthError> {
        let unsealable = || OAuthError::Unsealable(integration.to_owned());
        let bytes = hex::decode(sealed).map_err(|_| unsealable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unsealable());
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unsealable())?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(integration.as_bytes()), &mut data)
            .map_err(|_| unsealable())?;
        Ok(plain.to_vec())
    }
}

/// Sign-ins, sealed, in the store.
pub struct Vault {
    store: Store,
    key: SealingKey,
    /// One refresh at a time per integration in this process, so a rotated
    /// refresh token is never spent twice.
    refreshing: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Vault {
    #[must_use]
    pub fn new(store: Store, key: SealingKey) -> Self {
        Vault {
            store,
            key,
            refreshing: std::sync::Mutex::default(),
        }
    }

    /// The integration's credentials, if it is signed in.
    pub async fn load(&self, integration: &str) -> Result<Option<StoredCredentials>, OAuthError> {
        let Some(sealed) = self
            .store
            .integration_credentials(integration)
            .await
            .map_err(|error| OAuthError::Store(error.to_string()))?
        else {
            return Ok(None);
        };
        let plain = self.key.open(integration, &sealed)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| OAuthError::Unsealable(integration.to_owned()))
    }

    pub async fn save(
        &self,
        integration: &str,
        credentials: &StoredCredentials,
    ) -> Result<(), OAuthError> {
        let plain = serde_json::to_vec(credentials)
            .map_err(|error| OAuthError::Store(error.to_string()))?;
        let sealed = self.key.seal(integration, &plain)?;
        self.store
            .save_integration_credentials(integration, &sealed, chrono::Utc::now())
            .await
            .map_err(|error| OAuthError::Store(error.to_string()))
    }

    /// Forgets the sign-in; returns false if there was none.
    pub async fn clear(&self, integration: &str) -> Result<bool, OAuthError> {
        self.store
            .clear_integration_credentials(integration)
            .await
            .map_err(|error| OAuthError::Store(error.to_string()))
    }

    /// Whether the integration holds a token (it may still be refused).
    pub async fn signed_in(&self, integration: &str) -> Result<bool, OAuthError> {
        Ok(self
            .load(integration)
            .await?
            .is_some_and(|stored| stored.token_response.is_some()))
    }

    fn refresh_lock(&self, integration: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(integration.to_owned())
            .or_default()
            .clone()
    }

    /// rmcp's view of one integration's sign-in.
    pub(crate) fn slot(self: &Arc<Self>, integration: &str) -> Slot {
        Slot {
            vault: self.clone(),
            integration: integration.to_owned(),
        }
    }
}

/// One integration's credentials, as rmcp reads and writes them.
pub(crate) struct Slot {
    vault: Arc<Vault>,
    integration: String,
}

fn store_error(error: OAuthError) -> AuthError {
    AuthError::CredentialStoreError(error.to_string())
}

#[async_trait::async_trait]
impl CredentialStore for Slot {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        match self.vault.load(&self.integration).await {
            Ok(found) => Ok(found),
            // A sign-in this key cannot open is as good as none: ask for a new one.
            Err(OAuthError::Unsealable(name)) => {
                tracing::warn!(integration = %name, "stored sign-in cannot be opened with this key");
                Ok(None)
            }
            Err(error) => Err(store_error(error)),
        }
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.vault
            .save(&self.integration, &credentials)
            .await
            .map_err(store_error)
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.vault
            .clear(&self.integration)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        let guard = self
            .vault
            .refresh_lock(&self.integration)
            .lock_owned()
            .await;
        Ok(Some(CredentialRefreshGuard::new(guard)))
    }
}

/// The endpoint of a server that signs in with OAuth.
fn oauth_url(spec: &ServerSpec) -> Result<(&str, &[String]), OAuthError> {
    match &spec.transport {
        Transport::Http {
            url,
            oauth: Some(oauth),
            ..
        } => Ok((url, &oauth.scopes)),
        _ => Err(OAuthError::NotOAuth(spec.name.clone())),
    }
}

/// A manager for the server's sign-in, reading and writing the vault.
pub(crate) async fn manager(
    spec: &ServerSpec,
    vault: &Arc<Vault>,
) -> Result<AuthorizationManager, OAuthError> {
    let (url, _) = oauth_url(spec)?;
    crate::server::install_tls_provider();
    let mut manager = AuthorizationManager::new(url).await?;
    manager.set_credential_store(vault.slot(&spec.name));
    Ok(manager)
}

/// A browser sign-in under way: send the person to `url`, then hand the
/// address the browser was sent back to to [`SignIn::finish`].
pub struct SignIn {
    state: OAuthState,
    url: String,
}

impl SignIn {
    /// Discovers the server's authorization server, registers agencybot
    /// with it when it allows that, and prepares the sign-in address.
    pub async fn begin(
        spec: &ServerSpec,
        vault: &Arc<Vault>,
        redirect_uri: &str,
    ) -> Result<SignIn, OAuthError> {
        let (_, scopes) = oauth_url(spec)?;
        let mut state = OAuthState::Unauthorized(manager(spec, vault).await?);
        let mut request = AuthorizationRequest::new(redirect_uri).with_client_name("agencybot");
        if !scopes.is_empty() {
            request = request.with_scopes(scopes.iter().map(String::as_str));
        }
        state.start_authorization(request).await?;
        let url = state.get_authorization_url().await?;
        Ok(SignIn { state, url })
    }

    /// Where the person signs in.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Exchanges the code in the redirect for tokens (checking the state it
    /// carries) and keeps them, sealed.
    pub async fn finish(mut self, redirected_to: &str) -> Result<(), OAuthError> {
        self.state.handle_callback_url(redirected_to).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(phrase: &str) -> SealingKey {
        SealingKey::from_phrase(&Secret::new(phrase)).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_name() {
        let phrase = "0123456789abcdef0123456789abcdef";
        let sealed = key(phrase).seal("notion", b"tokens").unwrap();
        assert_eq!(key(phrase).open("notion", &sealed).unwrap(), b"tokens");
        assert!(key(phrase).open("sheets", &sealed).is_err());
        assert!(
            key(&phrase.replace('0', "1"))
                .open("notion", &sealed)
                .is_err()
        );
        assert!(key(phrase).open("notion", "zz").is_err());
        assert!(key(phrase).open("notion", "00").is_err());
        // A fresh nonce each time: sealing twice never gives the same text.
        assert_ne!(sealed, key(phrase).seal("notion", b"tokens").unwrap());
    }

    #[test]
    fn a_short_phrase_is_refused() {
        assert!(matches!(
            SealingKey::from_phrase(&Secret::new("too short")),
            Err(OAuthError::ShortKey)
        ));
    }
}
