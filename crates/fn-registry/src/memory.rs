//! [`InMemoryRegistry`]: the store held in process memory — for tests, `fnd run`, and
//! platforms that load their functions at start. Everything the SQLite store keeps, it
//! keeps, until the process ends; the contract suite runs on both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{no_function, no_version};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fn_core::{
    ApiKey, Cid, Error, Function, FunctionDefinition, FunctionRegistry, FunctionStore,
    FunctionSummary, InvocationRecord, Page, Paged, RecordQuery, Result, TokenHash, VersionInfo,
    parse_record_cursor, record_cursor,
};

/// A store held in memory.
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By namespace, then name: the order `list` pages in.
    functions: BTreeMap<(String, String), Entry>,
    /// Function id to its key.
    ids: HashMap<String, (String, String)>,
    modules: HashMap<Cid, Bytes>,
    /// By start (microseconds) and id: the order record queries page in, reversed.
    records: BTreeMap<(i64, String), InvocationRecord>,
    /// API keys by name, with their token's hash.
    keys: BTreeMap<String, (ApiKey, TokenHash)>,
}

#[derive(Debug)]
struct Entry {
    id: String,
    active: u32,
    latest: u32,
    updated_at: DateTime<Utc>,
    versions: BTreeMap<u32, Version>,
}

#[derive(Debug)]
struct Version {
    definition: FunctionDefinition,
    cid: Cid,
    created_at: DateTime<Utc>,
}

impl State {
    /// Refuses `route` when an active version of another function than `key` claims it.
    fn check_route(&self, key: &(String, String), route: Option<&str>) -> Result<()> {
        let Some(route) = route else {
            return Ok(());
        };
        let holder = self
            .functions
            .iter()
            .find(|(other, entry)| *other != key && entry.active_route() == Some(route));
        match holder {
            Some(((namespace, name), _)) => Err(fn_core::route_taken(route, namespace, name)),
            None => Ok(()),
        }
    }
}

impl Entry {
    /// The route its active version claims.
    fn active_route(&self) -> Option<&str> {
        self.versions.get(&self.active)?.definition.route.as_deref()
    }

    fn function(&self, version: u32) -> Option<Function> {
        let kept = self.versions.get(&version)?;
        let mut definition = kept.definition.clone();
        definition.version = version;
        Some(Function {
            id: self.id.clone(),
            wasm_cid: kept.cid,
            definition,
        })
    }
}

fn no_module(cid: &Cid) -> Error {
    Error::NotFound {
        kind: "module",
        id: cid.to_string(),
    }
}

impl InMemoryRegistry {
    /// An empty store.
    pub fn new() -> InMemoryRegistry {
        InMemoryRegistry::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps module bytes and returns their CID ([`FunctionStore::put_module`], at once).
    pub fn put_wasm(&self, bytes: Bytes) -> Cid {
        let cid = Cid::of(&bytes);
        self.write().modules.insert(cid, bytes);
        cid
    }

    fn deploy_now(&self, definition: FunctionDefinition, cid: Cid) -> Result<Function> {
        let mut state = self.write();
        if !state.modules.contains_key(&cid) {
            return Err(no_module(&cid));
        }
        let key = (definition.namespace.clone(), definition.name.clone());
        state.check_route(&key, definition.route.as_deref())?;
        let now = Utc::now();
        let entry = state.functions.entry(key.clone()).or_insert_with(|| Entry {
            id: fn_core::new_id(),
            active: 0,
            latest: 0,
            updated_at: now,
            versions: BTreeMap::new(),
        });
        entry.latest += 1;
        let version = entry.latest;
        entry.active = version;
        entry.updated_at = now;
        entry.versions.insert(
            version,
            Version {
                definition,
                cid,
                created_at: now,
            },
        );
        let function = entry.function(version).expect("just inserted");
        state.ids.insert(function.id.clone(), key);
        Ok(function)
    }

    /// Drops modules that no version uses any more.
    fn collect_modules(state: &mut State, candidates: impl IntoIterator<Item = Cid>) {
        for cid in candidates {
            let used = state
                .functions
                .values()
                .any(|entry| entry.versions.values().any(|v| v.cid == cid));
            if !used {
                state.modules.remove(&cid);
            }
        }
    }
}

#[async_trait]
impl FunctionRegistry for InMemoryRegistry {
    async fn function(&self, id: &str) -> Result<Function> {
        let state = self.read();
        state
            .ids
            .get(id)
            .and_then(|key| state.functions.get(key))
            .and_then(|entry| entry.function(entry.active))
            .ok_or_else(|| Error::NotFound {
                kind: "function",
                id: id.to_string(),
            })
    }

    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function> {
        self.read()
            .functions
            .get(&(namespace.to_owned(), name.to_owned()))
            .and_then(|entry| entry.function(entry.active))
            .ok_or_else(|| no_function(namespace, name))
    }

    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes> {
        self.read()
            .modules
            .get(cid)
            .cloned()
            .ok_or_else(|| no_module(cid))
    }
}

#[async_trait]
impl FunctionStore for InMemoryRegistry {
    async fn put_module(&self, bytes: Bytes) -> Result<Cid> {
        Ok(self.put_wasm(bytes))
    }

    async fn deploy(&self, definition: FunctionDefinition, cid: Cid) -> Result<Function> {
        self.deploy_now(definition, cid)
    }

    async fn version(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        let state = self.read();
        let entry = state
            .functions
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| no_function(namespace, name))?;
        entry
            .function(version)
            .ok_or_else(|| no_version(namespace, name, version))
    }

    async fn list(&self, namespace: &str, page: &Page) -> Result<Paged<FunctionSummary>> {
        let limit = page.effective_limit() as usize;
        let state = self.read();
        let start = (namespace.to_owned(), page.after.clone().unwrap_or_default());
        let mut items: Vec<FunctionSummary> = state
            .functions
            .range(start..)
            .filter(|((_, name), _)| page.after.as_deref() != Some(name.as_str()))
            .take_while(|((ns, _), _)| ns == namespace)
            .take(limit + 1)
            .map(|((namespace, name), entry)| FunctionSummary {
                namespace: namespace.clone(),
                name: name.clone(),
                id: entry.id.clone(),
                active_version: entry.active,
                latest_version: entry.latest,
                wasm_cid: entry.versions[&entry.active].cid,
                updated_at: entry.updated_at,
            })
            .collect();
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|s| s.name.clone()).unwrap_or_default()
        });
        Ok(Paged { items, next })
    }

    async fn versions(&self, namespace: &str, name: &str) -> Result<Vec<VersionInfo>> {
        let state = self.read();
        let entry = state
            .functions
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| no_function(namespace, name))?;
        Ok(entry
            .versions
            .iter()
            .map(|(&version, kept)| VersionInfo {
                version,
                wasm_cid: kept.cid,
                created_at: kept.created_at,
                active: version == entry.active,
            })
            .collect())
    }

    async fn set_active(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        let mut state = self.write();
        let key = (namespace.to_owned(), name.to_owned());
        let function = state
            .functions
            .get(&key)
            .ok_or_else(|| no_function(namespace, name))?
            .function(version)
            .ok_or_else(|| no_version(namespace, name, version))?;
        state.check_route(&key, function.definition.route.as_deref())?;
        let entry = state.functions.get_mut(&key).expect("found above");
        entry.active = version;
        entry.updated_at = Utc::now();
        Ok(function)
    }

    async fn routes(&self) -> Result<Vec<fn_core::Route>> {
        let state = self.read();
        Ok(state
            .functions
            .iter()
            .filter_map(|((namespace, name), entry)| {
                Some(fn_core::Route {
                    prefix: entry.active_route()?.to_owned(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                })
            })
            .collect())
    }

    async fn delete_version(&self, namespace: &str, name: &str, version: u32) -> Result<()> {
        let mut state = self.write();
        let entry = state
            .functions
            .get_mut(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| no_function(namespace, name))?;
        if entry.active == version {
            return Err(Error::Conflict {
                reason: format!(
                    "version {version} of {namespace}/{name} is active: make another active, or delete the function"
                ),
            });
        }
        let removed = entry
            .versions
            .remove(&version)
            .ok_or_else(|| no_version(namespace, name, version))?;
        InMemoryRegistry::collect_modules(&mut state, [removed.cid]);
        Ok(())
    }

    async fn delete_function(&self, namespace: &str, name: &str) -> Result<()> {
        let mut state = self.write();
        let entry = state
            .functions
            .remove(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| no_function(namespace, name))?;
        state.ids.remove(&entry.id);
        let cids: Vec<Cid> = entry.versions.values().map(|v| v.cid).collect();
        InMemoryRegistry::collect_modules(&mut state, cids);
        Ok(())
    }

    async fn insert_records(&self, records: &[InvocationRecord]) -> Result<()> {
        let mut state = self.write();
        for record in records {
            let key = (record.started_at.timestamp_micros(), record.id.clone());
            state.records.insert(key, record.clone());
        }
        Ok(())
    }

    async fn records(&self, query: &RecordQuery) -> Result<Paged<InvocationRecord>> {
        let limit = query.page.effective_limit() as usize;
        let before = match &query.page.after {
            Some(cursor) => Some(parse_record_cursor(cursor)?),
            None => None,
        };
        let state = self.read();
        let mut items: Vec<InvocationRecord> = state
            .records
            .iter()
            .rev()
            .filter(|(key, _)| before.as_ref().is_none_or(|b| *key < b))
            .map(|(_, record)| record)
            .filter(|r| r.namespace == query.namespace)
            .filter(|r| {
                query
                    .function
                    .as_ref()
                    .is_none_or(|f| r.function_name == *f)
            })
            .filter(|r| query.status.is_none_or(|s| r.status == s))
            .filter(|r| query.since.is_none_or(|t| r.started_at >= t))
            .filter(|r| query.until.is_none_or(|t| r.started_at < t))
            .take(limit + 1)
            .cloned()
            .collect();
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(record_cursor).unwrap_or_default()
        });
        Ok(Paged { items, next })
    }

    async fn delete_records_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = self.write();
        let cut = (before.timestamp_micros(), String::new());
        let kept = state.records.split_off(&cut);
        let removed = std::mem::replace(&mut state.records, kept).len();
        Ok(removed as u64)
    }
}

mod keys;
