//! Who a request comes from, checked once: the [`Caller`] extractor resolves the bearer
//! token (the admin token, or an API key's), and [`Manager`] and [`Admin`] require the
//! rights a route needs, so no handler repeats the check.
//!
//! Rights: the admin token and `admin` keys may do anything; a `deploy` key manages and
//! invokes the functions of its namespace; an `invoke` key invokes them. An unknown
//! token is 401 wherever it is sent; a known one outside its rights is 403. Whether a
//! private function exists is never told to someone who may not invoke it: an unknown
//! name answers as a private one does (401 without a token, 403 with a key of another
//! namespace).
//!
//! Why a cache of keys: an invoke with a key would otherwise cost a store query. The
//! cache holds keys looked up lately by their token's hash, for [`KEY_TTL`] at most;
//! a key removed or made through this gateway empties it at once, so revocation is
//! immediate here (another node's change is seen within [`KEY_TTL`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use fn_core::{ApiKey, Role, TokenHash};
use subtle::ConstantTimeEq as _;

use super::{ApiError, Gateway, request_id};

/// How long a key looked up by its token is kept.
pub const KEY_TTL: Duration = Duration::from_secs(1);

/// The most keys kept.
const KEYS_KEPT: u64 = 10_000;

/// Keys looked up lately, by their token's hash.
pub(super) struct Keys {
    cache: moka::future::Cache<[u8; 32], Arc<ApiKey>>,
}

impl Keys {
    pub(super) fn new() -> Keys {
        Keys {
            cache: moka::future::Cache::builder()
                .max_capacity(KEYS_KEPT)
                .time_to_live(KEY_TTL)
                .build(),
        }
    }

    /// Forgets every key: one was made or removed.
    pub(super) fn forget_all(&self) {
        self.cache.invalidate_all();
    }
}

/// Who a request comes from.
#[derive(Debug, Clone)]
pub(super) enum Who {
    /// No token.
    Anonymous,
    /// The admin token, or anyone when the gateway has none.
    Admin,
    /// An API key.
    Key(Arc<ApiKey>),
}

/// The request's id and who sent it; a token that is no one's is refused (401) here.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub(super) request_id: String,
    pub(super) who: Who,
}

impl Caller {
    /// The caller's name for records, spans and the caller rate: a key's name.
    pub(super) fn name(&self) -> Option<&str> {
        match &self.who {
            Who::Key(key) => Some(&key.name),
            Who::Anonymous | Who::Admin => None,
        }
    }

    /// Whether the caller may do what `needs` allows in `namespace`.
    pub(super) fn may(&self, needs: Role, namespace: &str) -> bool {
        match &self.who {
            Who::Admin => true,
            Who::Anonymous => false,
            Who::Key(key) => key.allows(needs, namespace),
        }
    }

    /// `Ok` when the caller may do what `needs` allows in `namespace`; else 401 without
    /// a token, 403 with one.
    pub(super) fn require(&self, needs: Role, namespace: &str) -> Result<(), ApiError> {
        if self.may(needs, namespace) {
            Ok(())
        } else {
            Err(self.refusal())
        }
    }

    /// The answer to a request outside the caller's rights: 401 without a token, 403
    /// with a key.
    pub(super) fn refusal(&self) -> ApiError {
        match self.who {
            Who::Key(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key may not do that here",
                &self.request_id,
            ),
            Who::Anonymous | Who::Admin => ApiError::unauthorized(&self.request_id),
        }
    }
}

impl Gateway {
    /// Who `headers` come from: the admin token, a key's token, or nobody.
    ///
    /// # Errors
    ///
    /// 401 for a token that is neither; a failing store's error.
    pub(super) async fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let request_id = request_id(headers);
        let given = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")));
        let who = match given {
            None => match self.inner.token {
                Some(_) => Who::Anonymous,
                None => Who::Admin,
            },
            Some(None) | Some(Some("")) => return Err(ApiError::unauthorized(&request_id)),
            Some(Some(token)) => match self.who_holds(token).await {
                Ok(Some(who)) => who,
                Ok(None) => return Err(ApiError::unauthorized(&request_id)),
                Err(error) => return Err(ApiError::from_error(&error, &request_id)),
            },
        };
        Ok(Caller { request_id, who })
    }

    /// The holder of `token`: the admin (compared in constant time), a key, or nobody.
    async fn who_holds(&self, token: &str) -> fn_core::Result<Option<Who>> {
        if let Some(admin) = &self.inner.token
            && bool::from(admin.as_bytes().ct_eq(token.as_bytes()))
        {
            return Ok(Some(Who::Admin));
        }
        let hash = TokenHash::of(token);
        if let Some(key) = self.inner.keys.cache.get(&hash.0).await {
            return Ok(Some(Who::Key(key)));
        }
        let Some(key) = self.inner.store.key_by_token(&hash).await? else {
            return Ok(None);
        };
        let key = Arc::new(key);
        self.inner.keys.cache.insert(hash.0, key.clone()).await;
        Ok(Some(Who::Key(key)))
    }
}

impl FromRequestParts<Gateway> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Caller, ApiError> {
        gateway.caller(&parts.headers).await
    }
}

/// A request that may manage the functions of the namespace in its path: the admin, or a
/// `deploy` key of that namespace.
#[derive(Debug)]
pub(super) struct Manager {
    pub(super) request_id: String,
}

impl FromRequestParts<Gateway> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Manager, ApiError> {
        let caller = gateway.caller(&parts.headers).await?;
        let params = RawPathParams::from_request_parts(parts, gateway)
            .await
            .map_err(|_| caller.refusal())?;
        let namespace = params
            .iter()
            .find_map(|(key, value)| (key == "namespace").then_some(value))
            .ok_or_else(|| caller.refusal())?;
        caller.require(Role::Deploy, namespace)?;
        Ok(Manager {
            request_id: caller.request_id,
        })
    }
}

/// A request only the admin may make (keys, status, metrics).
#[derive(Debug)]
pub(super) struct Admin {
    pub(super) request_id: String,
}

impl FromRequestParts<Gateway> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Admin, ApiError> {
        let caller = gateway.caller(&parts.headers).await?;
        match caller.who {
            Who::Admin => Ok(Admin {
                request_id: caller.request_id,
            }),
            Who::Key(ref key) if key.role == Role::Admin => Ok(Admin {
                request_id: caller.request_id,
            }),
            _ => Err(caller.refusal()),
        }
    }
}
