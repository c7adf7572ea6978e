//! [`InMemoryRegistry`]'s [`KeyStore`]: API keys by name, with their token's hash.

use async_trait::async_trait;
use fn_core::{ApiKey, KeyStore, Result, TokenHash, key_exists, no_key};

use super::InMemoryRegistry;

#[async_trait]
impl KeyStore for InMemoryRegistry {
    async fn create_key(&self, key: &ApiKey, token: &TokenHash) -> Result<()> {
        let mut state = self.write();
        if state.keys.contains_key(&key.name) {
            return Err(key_exists(&key.name));
        }
        state.keys.insert(key.name.clone(), (key.clone(), *token));
        Ok(())
    }

    async fn key_by_token(&self, token: &TokenHash) -> Result<Option<ApiKey>> {
        Ok(self
            .read()
            .keys
            .values()
            .find(|(_, hash)| hash == token)
            .map(|(key, _)| key.clone()))
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self
            .read()
            .keys
            .values()
            .map(|(key, _)| key.clone())
            .collect())
    }

    async fn delete_key(&self, name: &str) -> Result<()> {
        self.write()
            .keys
            .remove(name)
            .map(drop)
            .ok_or_else(|| no_key(name))
    }
}
