//! [`Client`]'s calls of `/v1/keys`: API keys, made, listed and removed by the admin.

use fn_core::{ApiKey, Role};
use reqwest::Method;

use super::{Client, ClientError, segment};
use crate::api::{MadeKey, NewKey};

impl Client {
    /// Makes an API key named `name` for `namespace` with `role`; the answer holds its
    /// token, which no later call shows.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_key(
        &self,
        name: &str,
        namespace: &str,
        role: Role,
    ) -> Result<MadeKey, ClientError> {
        let body = serde_json::to_vec(&NewKey {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            role,
        })
        .expect("serialisable");
        self.json(
            self.request(Method::POST, "/v1/keys")
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// Every API key, by name (never their tokens).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn keys(&self) -> Result<Vec<ApiKey>, ClientError> {
        self.json(self.request(Method::GET, "/v1/keys")).await
    }

    /// Removes the API key `name`: its token is refused from then on.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn delete_key(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/v1/keys/{}", segment(name));
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }
}
