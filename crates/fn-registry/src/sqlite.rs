//! [`SqliteStore`]: the embedded default — one SQLite database and a folder of module
//! files under a data folder, through sqlx.
//!
//! Why this shape: SQLite needs no server, so `fnd serve --data-dir DIR` is the whole
//! installation; WAL lets readers run beside the one writer; every transaction that
//! reads then writes starts `BEGIN IMMEDIATE` so that it waits for the write lock (the
//! busy timeout) instead of failing with SQLITE_BUSY when it tries to upgrade. The SQL
//! itself is `sql.rs`, portable to PostgreSQL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fn_core::{
    Cid, Error, Function, FunctionDefinition, FunctionRegistry, FunctionStore, FunctionSummary,
    InvocationRecord, Page, Paged, RecordQuery, Result, VersionInfo, parse_record_cursor,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, Transaction};

use crate::blobs::Blobs;
use crate::{no_function, no_version, sql};

/// The database's file name in the data folder.
pub const DATABASE_FILE: &str = "fn.db";
/// The module files' folder in the data folder.
pub const MODULES_DIR: &str = "modules";

/// How a [`SqliteStore`] is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a writer waits for another's lock before failing (default 5 s).
    pub busy_timeout: Duration,
    /// How old a module no version uses (or a file with no row) must be before the
    /// store collects it at open (default 1 h): a younger one may belong to a deploy
    /// under way in another process.
    pub orphan_grace: Duration,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
            orphan_grace: Duration::from_secs(3600),
        }
    }
}

/// The store in a data folder: `fn.db` (SQLite, WAL) and `modules/` (one file per CID).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    blobs: Blobs,
    database: PathBuf,
}

fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn version_number(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl SqliteStore {
    /// Opens (making them if missing) the store in `data_dir` with the default options.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] naming the folder or file: a folder that cannot be made or
    /// read, a database that is corrupt, not SQLite, or written by a newer version of
    /// this program.
    pub async fn open(data_dir: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(data_dir, SqliteOptions::default()).await
    }

    /// Opens the store in `data_dir` with `options`; see [`SqliteStore::open`]. Runs the
    /// embedded migrations, then collects orphaned modules.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub async fn open_with(
        data_dir: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore> {
        let data_dir = data_dir.as_ref();
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Storage {
            what: data_dir.display().to_string(),
            reason: format!("the data folder cannot be made: {e}"),
        })?;
        let blobs = Blobs::open(data_dir.join(MODULES_DIR))?;
        let database = data_dir.join(DATABASE_FILE);
        let failed = |reason: String| Error::Storage {
            what: database.display().to_string(),
            reason,
        };
        let connect = SqliteConnectOptions::new()
            .filename(&database)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect)
            .await
            .map_err(|e| failed(format!("cannot be opened: {e}")))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|error| failed(migrate_reason(&error)))?;
        let store = SqliteStore {
            pool,
            blobs,
            database,
        };
        store.collect_orphans(options.orphan_grace).await?;
        Ok(store)
    }

    /// The database file.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// Closes the database's connections (waiting for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn failed(&self, error: &sqlx::Error) -> Error {
        Error::Storage {
            what: self.database.display().to_string(),
            reason: error.to_string(),
        }
    }

    async fn immediate(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.failed(&e))
    }

    async fn commit(&self, tx: Transaction<'static, Sqlite>) -> Result<()> {
        tx.commit().await.map_err(|e| self.failed(&e))
    }

    /// Removes modules no version uses and files with no row, older than `grace`.
    async fn collect_orphans(&self, grace: Duration) -> Result<()> {
        let cutoff = micros(Utc::now()) - i64::try_from(grace.as_micros()).unwrap_or(i64::MAX);
        let unused: Vec<String> = sqlx::query_scalar(sql::UNUSED_MODULES)
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        for cid in &unused {
            let gone = sqlx::query(sql::DELETE_MODULE_IF_UNUSED)
                .bind(cid)
                .execute(&self.pool)
                .await
                .map_err(|e| self.failed(&e))?;
            if gone.rows_affected() == 1
                && let Ok(cid) = Cid::from_str(cid)
            {
                self.blobs.remove(&cid);
            }
        }
        let kept: HashSet<String> = sqlx::query_scalar(sql::ALL_MODULES)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?
            .into_iter()
            .collect();
        let blobs = self.blobs.clone();
        let files = tokio::task::spawn_blocking(move || blobs.collect(&kept, grace))
            .await
            .unwrap_or(0);
        if !unused.is_empty() || files > 0 {
            tracing::info!(modules = unused.len(), files, "collected orphaned modules");
        }
        Ok(())
    }

    fn function_from(&self, row: &SqliteRow) -> Result<Function> {
        let id: String = row.try_get(0).map_err(|e| self.failed(&e))?;
        let cid: String = row.try_get(1).map_err(|e| self.failed(&e))?;
        let definition: String = row.try_get(2).map_err(|e| self.failed(&e))?;
        let version: i64 = row.try_get(3).map_err(|e| self.failed(&e))?;
        let mut definition: FunctionDefinition =
            serde_json::from_str(&definition).map_err(|e| Error::Storage {
                what: self.database.display().to_string(),
                reason: format!("a stored definition cannot be read: {e}"),
            })?;
        definition.version = version_number(version);
        Ok(Function {
            id,
            wasm_cid: Cid::from_str(&cid)?,
            definition,
        })
    }

    async fn one_function(
        &self,
        query: sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<Option<Function>> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        row.map(|row| self.function_from(&row)).transpose()
    }

    /// Deletes module rows of `cids` no version uses any more, in `tx`; returns those
    /// whose files are to go once it commits.
    async fn drop_unused(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        cids: Vec<String>,
    ) -> Result<Vec<Cid>> {
        let mut gone = Vec::new();
        for cid in cids {
            let deleted = sqlx::query(sql::DELETE_MODULE_IF_UNUSED)
                .bind(&cid)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.failed(&e))?;
            if deleted.rows_affected() == 1 {
                gone.push(Cid::from_str(&cid)?);
            }
        }
        Ok(gone)
    }

    async fn active_version(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        namespace: &str,
        name: &str,
    ) -> Result<u32> {
        let active: Option<i64> = sqlx::query_scalar(sql::ACTIVE_VERSION)
            .bind(namespace)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.failed(&e))?;
        active
            .map(version_number)
            .ok_or_else(|| no_function(namespace, name))
    }

    async fn version_cid(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        namespace: &str,
        name: &str,
        version: u32,
    ) -> Result<String> {
        let cid: Option<String> = sqlx::query_scalar(sql::VERSION_CID)
            .bind(namespace)
            .bind(name)
            .bind(i64::from(version))
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.failed(&e))?;
        cid.ok_or_else(|| no_version(namespace, name, version))
    }
}

fn migrate_reason(error: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::VersionMissing(version) => format!(
            "written by a newer version of this program (its schema migration {version} is unknown here); use that version or a newer one"
        ),
        other => format!("is corrupt or not a database of this program: {other}"),
    }
}

mod keys;
mod routes;
mod store;
