//! The store's SQL, written once: every statement here runs unchanged on SQLite and on
//! PostgreSQL (`$N` parameters, `CAST(… AS …)` for parameters that may be NULL,
//! `ON CONFLICT … DO NOTHING`, BIGINT microseconds for times), so a PostgreSQL backend
//! is a second driver for the same text, not a rewrite.

/// Keeps a module's row (its bytes are a file already).
pub(crate) const INSERT_MODULE: &str = "INSERT INTO modules (cid, size_bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT (cid) DO NOTHING";

/// Whether a module is kept.
pub(crate) const MODULE_EXISTS: &str = "SELECT 1 FROM modules WHERE cid = $1";

/// A function's latest version, to number the next.
pub(crate) const LATEST_VERSION: &str =
    "SELECT id, latest_version FROM functions WHERE namespace = $1 AND name = $2";

/// A new function.
pub(crate) const INSERT_FUNCTION: &str = "INSERT INTO functions (namespace, name, id, active_version, latest_version, updated_at) VALUES ($1, $2, $3, $4, $4, $5)";

/// A deploy's new version, made active.
pub(crate) const BUMP_FUNCTION: &str = "UPDATE functions SET active_version = $3, latest_version = $3, updated_at = $4 WHERE namespace = $1 AND name = $2";

/// A deploy's version row.
pub(crate) const INSERT_VERSION: &str = "INSERT INTO versions (namespace, name, version, cid, definition, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// The columns a function is read from, joined with one of its versions.
macro_rules! function_select {
    ($where:literal) => {
        concat!(
            "SELECT f.id, v.cid, v.definition, v.version FROM functions f JOIN versions v ",
            "ON v.namespace = f.namespace AND v.name = f.name ",
            $where
        )
    };
}

/// The active version of the function with an id.
pub(crate) const FUNCTION_BY_ID: &str =
    function_select!("AND v.version = f.active_version WHERE f.id = $1");

/// The active version of the function with a name.
pub(crate) const FUNCTION_BY_NAME: &str =
    function_select!("AND v.version = f.active_version WHERE f.namespace = $1 AND f.name = $2");

/// One version of a function.
pub(crate) const FUNCTION_VERSION: &str =
    function_select!("WHERE f.namespace = $1 AND f.name = $2 AND v.version = $3");

/// A namespace's functions after a name, by name.
pub(crate) const LIST_FUNCTIONS: &str = "SELECT f.namespace, f.name, f.id, f.active_version, f.latest_version, v.cid, f.updated_at FROM functions f JOIN versions v ON v.namespace = f.namespace AND v.name = f.name AND v.version = f.active_version WHERE f.namespace = $1 AND f.name > $2 ORDER BY f.name LIMIT $3";

/// A function's versions, oldest first.
pub(crate) const LIST_VERSIONS: &str = "SELECT v.version, v.cid, v.created_at, f.active_version FROM versions v JOIN functions f ON f.namespace = v.namespace AND f.name = v.name WHERE v.namespace = $1 AND v.name = $2 ORDER BY v.version";

/// A function's active version, to check a change against.
pub(crate) const ACTIVE_VERSION: &str =
    "SELECT active_version FROM functions WHERE namespace = $1 AND name = $2";

/// Whether a version is kept, with its module.
pub(crate) const VERSION_CID: &str =
    "SELECT cid FROM versions WHERE namespace = $1 AND name = $2 AND version = $3";

/// Makes a version active.
pub(crate) const SET_ACTIVE: &str =
    "UPDATE functions SET active_version = $3, updated_at = $4 WHERE namespace = $1 AND name = $2";

/// Deletes one version.
pub(crate) const DELETE_VERSION: &str =
    "DELETE FROM versions WHERE namespace = $1 AND name = $2 AND version = $3";

/// The modules of a function's versions.
pub(crate) const FUNCTION_CIDS: &str =
    "SELECT DISTINCT cid FROM versions WHERE namespace = $1 AND name = $2";

/// Deletes a function's versions.
pub(crate) const DELETE_VERSIONS: &str = "DELETE FROM versions WHERE namespace = $1 AND name = $2";

/// Deletes a function.
pub(crate) const DELETE_FUNCTION: &str = "DELETE FROM functions WHERE namespace = $1 AND name = $2";

/// Deletes a module's row when no version uses it; affects one row when it did.
pub(crate) const DELETE_MODULE_IF_UNUSED: &str = "DELETE FROM modules WHERE cid = $1 AND NOT EXISTS (SELECT 1 FROM versions WHERE versions.cid = modules.cid)";

/// Modules no version uses, kept since before a time: orphans of an interrupted deploy.
pub(crate) const UNUSED_MODULES: &str = "SELECT cid FROM modules WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM versions WHERE versions.cid = modules.cid)";

/// Every module kept.
pub(crate) const ALL_MODULES: &str = "SELECT cid FROM modules";

/// Keeps records: followed by `VALUES` and a row of six values per record, then
/// [`INSERT_RECORDS_END`], so that a batch is one statement, not one a record.
pub(crate) const INSERT_RECORDS: &str =
    "INSERT INTO records (id, namespace, function_name, status, started_at, record) ";

/// Each record once: a retried batch does not duplicate it.
pub(crate) const INSERT_RECORDS_END: &str = " ON CONFLICT (id) DO NOTHING";

/// Records in one insert statement at most: 6 values each, far under SQLite's 32 766,
/// and a full chunk's text is the same every time, so its prepared statement is reused.
pub(crate) const RECORDS_PER_INSERT: usize = 128;

/// Records newest first, each filter applying only when its parameter is not NULL; the
/// cursor is the last record's start and id.
pub(crate) const QUERY_RECORDS: &str = "SELECT record, started_at, id FROM records WHERE namespace = $1 AND (CAST($2 AS TEXT) IS NULL OR function_name = $2) AND (CAST($3 AS TEXT) IS NULL OR status = $3) AND (CAST($4 AS BIGINT) IS NULL OR started_at >= $4) AND (CAST($5 AS BIGINT) IS NULL OR started_at < $5) AND (CAST($6 AS BIGINT) IS NULL OR started_at < $6 OR (started_at = $6 AND id < $7)) ORDER BY started_at DESC, id DESC LIMIT $8";

/// Deletes records started before a time.
pub(crate) const DELETE_RECORDS_BEFORE: &str = "DELETE FROM records WHERE started_at < $1";

/// A new API key (its name must be free).
pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys (name, namespace, role, token_sha256, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING";

/// The key of a token's hash.
pub(crate) const KEY_BY_TOKEN: &str =
    "SELECT name, namespace, role, created_at FROM api_keys WHERE token_sha256 = $1";

/// Every key, by name.
pub(crate) const KEYS: &str =
    "SELECT name, namespace, role, created_at FROM api_keys ORDER BY name";

/// Deletes a key.
pub(crate) const DELETE_KEY: &str = "DELETE FROM api_keys WHERE name = $1";

/// The function holding a route.
pub(crate) const ROUTE_HOLDER: &str = "SELECT namespace, name FROM routes WHERE prefix = $1";

/// Frees a function's route.
pub(crate) const CLEAR_ROUTE: &str = "DELETE FROM routes WHERE namespace = $1 AND name = $2";

/// A function's route.
pub(crate) const INSERT_ROUTE: &str =
    "INSERT INTO routes (prefix, namespace, name) VALUES ($1, $2, $3)";

/// Every route, by prefix.
pub(crate) const ALL_ROUTES: &str = "SELECT prefix, namespace, name FROM routes ORDER BY prefix";

/// One version's definition.
pub(crate) const VERSION_DEFINITION: &str =
    "SELECT definition FROM versions WHERE namespace = $1 AND name = $2 AND version = $3";
