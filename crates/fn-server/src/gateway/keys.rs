//! `/v1/keys`: API keys, made, listed and removed by the admin. A key's token is in
//! the answer that makes it and nowhere else: the store keeps its SHA-256.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use fn_core::{ApiKey, Error, TokenHash};

use super::auth::Admin;
use super::{ApiError, Gateway};
use crate::api::{MadeKey, NewKey};

/// What every key's token starts with, so that a leaked one is recognisable (secret
/// scanners look for such prefixes).
pub const TOKEN_PREFIX: &str = "fnd_";

/// A new token: [`TOKEN_PREFIX`] and 32 random bytes in URL-safe base64.
fn new_token() -> Result<String, Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| Error::Internal {
        message: format!("making a token: {e}"),
    })?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    ))
}

/// `POST /v1/keys` with [`NewKey`]: 201 with the key and its token, shown this once.
pub(super) async fn create(
    State(gateway): State<Gateway>,
    Admin { request_id }: Admin,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<MadeKey>), ApiError> {
    let fail = |error: Error| ApiError::from_error(&error, &request_id);
    let Json(new) = body.map_err(|e| fail(Error::validation("body", e.body_text())))?;
    let key = ApiKey::new(&new.name, &new.namespace, new.role).map_err(fail)?;
    let token = new_token().map_err(fail)?;
    gateway
        .inner
        .store
        .create_key(&key, &TokenHash::of(&token))
        .await
        .map_err(fail)?;
    gateway.inner.keys.forget_all();
    tracing::info!(name = key.name, namespace = key.namespace, role = %key.role, "key made");
    Ok((StatusCode::CREATED, Json(MadeKey { key, token })))
}

/// `GET /v1/keys`: every key, by name, without tokens.
pub(super) async fn list(
    State(gateway): State<Gateway>,
    Admin { request_id }: Admin,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    let keys = gateway
        .inner
        .store
        .keys()
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(Json(keys))
}

/// `DELETE /v1/keys/{name}`: 204; the key's token is refused from the next request on.
pub(super) async fn delete(
    State(gateway): State<Gateway>,
    Admin { request_id }: Admin,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    gateway
        .inner
        .store
        .delete_key(&name)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    gateway.inner.keys.forget_all();
    tracing::info!(name, "key removed");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_url_safe() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43, "32 bytes in base64");
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }
}
