//! [`FunctionStore`]: where functions live across restarts — modules by CID, versioned
//! deploys with an active version, and the invocation records.
//!
//! Why a contract of its own beside [`FunctionRegistry`]: the engine only reads (a
//! function, its module); the platform manages (deploy, roll back, delete, query
//! records). Every store is a registry too, so the engine runs what the store holds.
//! The store knows nothing of the engine's [`crate::Config`]: the engine checks a
//! definition and compiles its module before it asks the store to keep it.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Cid, Function, FunctionDefinition, FunctionRegistry, InvocationRecord, InvocationStatus, Result,
};

/// The most items one page holds; a larger limit is lowered to it.
pub const MAX_PAGE: u32 = 1000;

/// One version of a function, as [`FunctionStore::versions`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version number: 1 for the first deploy of a name, then one more each time
    /// (a deleted version's number is never given again).
    pub version: u32,
    /// Its module.
    pub wasm_cid: Cid,
    /// When it was deployed.
    pub created_at: DateTime<Utc>,
    /// Whether it is the version that runs.
    pub active: bool,
}

/// A function as [`FunctionStore::list`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSummary {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its id, the same for every version.
    pub id: String,
    /// The version that runs.
    pub active_version: u32,
    /// The newest version deployed.
    pub latest_version: u32,
    /// The active version's module.
    pub wasm_cid: Cid,
    /// When the function was last deployed or rolled back.
    pub updated_at: DateTime<Utc>,
}

/// Which page of a listing: at most `limit` items after the cursor `after` (from the
/// previous page's [`Paged::next`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The most items (0 means [`MAX_PAGE`]; more is lowered to it).
    pub limit: u32,
    /// Where the previous page ended; `None` for the first page.
    pub after: Option<String>,
}

impl Page {
    /// The first page of at most `limit` items.
    pub fn first(limit: u32) -> Page {
        Page { limit, after: None }
    }

    /// The limit in force: `limit` within 1..=[`MAX_PAGE`].
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        }
    }
}

/// One page of a listing (in JSON: `{"items": [...], "next": "cursor" or null}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// The cursor of the next page, when there may be one.
    pub next: Option<String>,
}

/// Which invocation records: those of a namespace, optionally one function, one
/// status, a time range; newest first, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordQuery {
    /// The namespace.
    pub namespace: String,
    /// One function's name, or all of the namespace's.
    pub function: Option<String>,
    /// One status, or all.
    pub status: Option<InvocationStatus>,
    /// Started at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Started before this.
    pub until: Option<DateTime<Utc>>,
    /// Which page (newest first).
    pub page: Page,
}

impl RecordQuery {
    /// Every record of `namespace`, newest first, `limit` a page.
    pub fn namespace(namespace: impl Into<String>, limit: u32) -> RecordQuery {
        RecordQuery {
            namespace: namespace.into(),
            function: None,
            status: None,
            since: None,
            until: None,
            page: Page::first(limit),
        }
    }

    /// Only the records of function `name`.
    #[must_use]
    pub fn function(mut self, name: impl Into<String>) -> RecordQuery {
        self.function = Some(name.into());
        self
    }

    /// Only the records with `status`.
    #[must_use]
    pub fn status(mut self, status: InvocationStatus) -> RecordQuery {
        self.status = Some(status);
        self
    }
}

/// A route an active version claims: its prefix and its function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// The path prefix ([`crate::check_route`]).
    pub prefix: String,
    /// The function's namespace.
    pub namespace: String,
    /// The function's name.
    pub name: String,
}

/// The conflict of a route already claimed by another function.
pub fn route_taken(prefix: &str, holder_namespace: &str, holder_name: &str) -> crate::Error {
    crate::Error::Conflict {
        reason: format!(
            "the route `{prefix}` is claimed by {holder_namespace}/{holder_name}: routes are \
             unique on a server"
        ),
    }
}

/// Where functions, their modules and their invocation records are kept.
///
/// A function is a namespace and a name; each deploy of it is a new version, and one
/// version is active (the one [`FunctionRegistry::function_by_name`] gives and the
/// engine runs). Its id is the same for every version.
#[async_trait]
pub trait FunctionStore: FunctionRegistry {
    /// Keeps `bytes` as a module and returns its CID (the same bytes twice are kept
    /// once). The bytes are on stable storage when this returns.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Storage`] when they cannot be written.
    async fn put_module(&self, bytes: Bytes) -> Result<Cid>;

    /// Deploys `definition` on the module `cid` as the next version of its name in its
    /// namespace (version 1 first) and makes it active. The returned function's
    /// `definition.version` is that number. Two deploys of one name at once get
    /// distinct versions. The function's route becomes the definition's (its former
    /// one is freed, or kept when the same).
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when no module `cid` is kept;
    /// [`crate::Error::Conflict`] when another function's active version claims the
    /// same route (nothing is kept then); [`crate::Error::Storage`].
    async fn deploy(&self, definition: FunctionDefinition, cid: Cid) -> Result<Function>;

    /// Every route claimed by an active version, each with its function: what a gateway
    /// serves at its root. A route moves with its function's active version (a rollback,
    /// a deploy) and is freed when the function is deleted.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Storage`].
    async fn routes(&self) -> Result<Vec<Route>>;

    /// Version `version` of a function.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when the function or that version is not there.
    async fn version(&self, namespace: &str, name: &str, version: u32) -> Result<Function>;

    /// The functions of `namespace`, by name.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Validation`] for a cursor this store did not give;
    /// [`crate::Error::Storage`].
    async fn list(&self, namespace: &str, page: &Page) -> Result<Paged<FunctionSummary>>;

    /// Every version of a function kept, oldest first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is no such function.
    async fn versions(&self, namespace: &str, name: &str) -> Result<Vec<VersionInfo>>;

    /// Makes `version` the active one (a rollback, or a roll forward).
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when the function or the version is not there;
    /// [`crate::Error::Conflict`] when another function's active version claims the
    /// route of that version (the function's route becomes the version's).
    async fn set_active(&self, namespace: &str, name: &str, version: u32) -> Result<Function>;

    /// Deletes one version. Its module stays while another version uses it.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`]; [`crate::Error::Conflict`] for the active version
    /// (roll back first, or delete the function).
    async fn delete_version(&self, namespace: &str, name: &str, version: u32) -> Result<()>;

    /// Deletes a function and every version of it. Modules no other function uses go.
    /// Its records stay until their retention ends.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is no such function.
    async fn delete_function(&self, namespace: &str, name: &str) -> Result<()>;

    /// Keeps invocation records (a batch, in one write).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Storage`]; none of the batch is kept then.
    async fn insert_records(&self, records: &[InvocationRecord]) -> Result<()>;

    /// The records `query` asks for, newest first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Validation`] for a cursor this store did not give;
    /// [`crate::Error::Storage`].
    async fn records(&self, query: &RecordQuery) -> Result<Paged<InvocationRecord>>;

    /// Deletes the records of invocations started before `before`; returns how many.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Storage`].
    async fn delete_records_before(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// A store of functions and of API keys: what the gateway serves from. Every type that
/// is both is one.
pub trait PlatformStore: FunctionStore + crate::KeyStore {}

impl<T: FunctionStore + crate::KeyStore + ?Sized> PlatformStore for T {}

/// The cursor of a record page: where the last record of the page sorts (its start, in
/// microseconds since the epoch, then its id).
pub fn record_cursor(record: &InvocationRecord) -> String {
    format!("{}:{}", record.started_at.timestamp_micros(), record.id)
}

/// The start (microseconds) and id a record cursor holds.
///
/// # Errors
///
/// [`crate::Error::Validation`] for anything [`record_cursor`] did not make.
pub fn parse_record_cursor(cursor: &str) -> Result<(i64, String)> {
    cursor
        .split_once(':')
        .and_then(|(micros, id)| Some((micros.parse().ok()?, id.to_owned())))
        .ok_or_else(|| {
            crate::Error::validation("cursor", format!("`{cursor}` is not a record cursor"))
        })
}
