//! API keys: who calls the gateway, in which namespace, with which rights.
//!
//! Why here: the key's vocabulary ([`Role`], [`ApiKey`]) is shared by the store that
//! keeps keys, the gateway that checks them and the client that lists them; the store
//! is a trait ([`KeyStore`]) so that every backend keeps them the same way.
//!
//! A key's token is shown once, when it is made; the store keeps only its SHA-256
//! ([`TokenHash`]). A token is 32 random bytes, so a fast hash is enough: there is no
//! dictionary to try, unlike a password. The key's name is the caller every invocation
//! made with it is recorded, traced and rate-limited as.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What a key may do. Each role has the rights of those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Invoke the functions of its namespace.
    Invoke,
    /// Invoke and manage (deploy, list, roll back, delete, read records) the functions
    /// of its namespace.
    Deploy,
    /// Everything, in every namespace: keys, status and metrics too (the admin token's
    /// rights).
    Admin,
}

impl Role {
    /// Every role, fewest rights first.
    pub const ALL: [Role; 3] = [Role::Invoke, Role::Deploy, Role::Admin];

    /// Its name: `invoke`, `deploy` or `admin`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Invoke => "invoke",
            Role::Deploy => "deploy",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;

    fn from_str(text: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                Error::validation(
                    "role",
                    format!(
                        "`{}` is not a role: invoke, deploy or admin",
                        text.escape_debug()
                    ),
                )
            })
    }
}

/// An API key as kept and listed: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Its name, unique among keys: the caller of what it invokes.
    pub name: String,
    /// The namespace it acts in (any, for an admin key).
    pub namespace: String,
    /// What it may do there.
    pub role: Role,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl ApiKey {
    /// A key named `name` for `namespace` with `role`, made now.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a name or namespace that is not 1 to 64 characters of
    /// `a-z`, `0-9`, `-` and `_` (the rule function names follow).
    pub fn new(name: &str, namespace: &str, role: Role) -> Result<ApiKey> {
        crate::function::validate_name("name", name)?;
        crate::function::validate_name("namespace", namespace)?;
        Ok(ApiKey {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            role,
            created_at: Utc::now(),
        })
    }

    /// Whether the key may do what `needs` allows in `namespace`: an admin key anything
    /// anywhere, another key what its role allows in its own namespace only.
    #[must_use]
    pub fn allows(&self, needs: Role, namespace: &str) -> bool {
        match self.role {
            Role::Admin => true,
            role => needs != Role::Admin && role >= needs && self.namespace == namespace,
        }
    }
}

/// The SHA-256 of a token: what the store keeps and looks a key up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    #[must_use]
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not a secret, but nothing a log needs either.
        f.write_str("TokenHash(..)")
    }
}

/// Where API keys are kept.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Keeps `key`, found later by the hash of its token.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when a key of that name exists; [`Error::Storage`].
    async fn create_key(&self, key: &ApiKey, token: &TokenHash) -> Result<()>;

    /// The key whose token hashes to `token`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    async fn key_by_token(&self, token: &TokenHash) -> Result<Option<ApiKey>>;

    /// Every key, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    async fn keys(&self) -> Result<Vec<ApiKey>>;

    /// Deletes the key `name`: its token stops working at once.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is no such key; [`Error::Storage`].
    async fn delete_key(&self, name: &str) -> Result<()>;
}

/// The no-such-key error of [`KeyStore::delete_key`].
#[must_use]
pub fn no_key(name: &str) -> Error {
    Error::NotFound {
        kind: "key",
        id: name.to_owned(),
    }
}

/// The name-taken error of [`KeyStore::create_key`].
#[must_use]
pub fn key_exists(name: &str) -> Error {
    Error::Conflict {
        reason: format!("a key named `{name}` exists: remove it first, or choose another name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_confine_a_key_to_its_namespace_and_rights() {
        let invoke = ApiKey::new("ci", "orders", Role::Invoke).unwrap();
        assert!(invoke.allows(Role::Invoke, "orders"));
        assert!(!invoke.allows(Role::Deploy, "orders"));
        assert!(!invoke.allows(Role::Invoke, "billing"));
        let deploy = ApiKey::new("ci", "orders", Role::Deploy).unwrap();
        assert!(deploy.allows(Role::Invoke, "orders"));
        assert!(deploy.allows(Role::Deploy, "orders"));
        assert!(!deploy.allows(Role::Deploy, "billing"));
        assert!(!deploy.allows(Role::Admin, "orders"));
        let admin = ApiKey::new("ops", "orders", Role::Admin).unwrap();
        assert!(admin.allows(Role::Admin, "billing"));
        assert!(admin.allows(Role::Deploy, "billing"));
    }

    #[test]
    fn roles_parse_and_print_and_bad_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        match "root".parse::<Role>() {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "role");
                assert!(reason.contains("root"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(ApiKey::new("Bad Name", "orders", Role::Invoke).is_err());
        assert!(ApiKey::new("ok", "", Role::Invoke).is_err());
    }

    #[test]
    fn a_hash_is_the_tokens_sha256_and_hides_in_debug() {
        let hash = TokenHash::of("abc");
        assert_eq!(
            hash.0[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256 of `abc` begins ba7816bf"
        );
        assert_eq!(format!("{hash:?}"), "TokenHash(..)");
    }
}
