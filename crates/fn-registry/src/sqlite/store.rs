//! [`SqliteStore`]'s [`FunctionRegistry`] and [`FunctionStore`]: each method one
//! statement, or one `BEGIN IMMEDIATE` transaction when it reads then writes.

use super::*;

#[async_trait]
impl FunctionRegistry for SqliteStore {
    async fn function(&self, id: &str) -> Result<Function> {
        self.one_function(sqlx::query(sql::FUNCTION_BY_ID).bind(id))
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "function",
                id: id.to_owned(),
            })
    }

    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function> {
        self.one_function(
            sqlx::query(sql::FUNCTION_BY_NAME)
                .bind(namespace)
                .bind(name),
        )
        .await?
        .ok_or_else(|| no_function(namespace, name))
    }

    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes> {
        let blobs = self.blobs.clone();
        let cid = *cid;
        tokio::task::spawn_blocking(move || blobs.read(&cid))
            .await
            .map_err(|e| Error::Internal {
                message: format!("reading a module: {e}"),
            })?
    }
}

#[async_trait]
impl FunctionStore for SqliteStore {
    async fn put_module(&self, bytes: Bytes) -> Result<Cid> {
        let cid = Cid::of(&bytes);
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let blobs = self.blobs.clone();
        // The file is whole and synced before its row exists.
        tokio::task::spawn_blocking(move || blobs.write(&cid, &bytes))
            .await
            .map_err(|e| Error::Internal {
                message: format!("writing a module: {e}"),
            })??;
        sqlx::query(sql::INSERT_MODULE)
            .bind(cid.to_string())
            .bind(size)
            .bind(micros(Utc::now()))
            .execute(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(cid)
    }

    async fn deploy(&self, mut definition: FunctionDefinition, cid: Cid) -> Result<Function> {
        let mut tx = self.immediate().await?;
        let kept = sqlx::query(sql::MODULE_EXISTS)
            .bind(cid.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        if kept.is_none() {
            return Err(Error::NotFound {
                kind: "module",
                id: cid.to_string(),
            });
        }
        let (namespace, name) = (definition.namespace.clone(), definition.name.clone());
        let route = definition.route.clone();
        self.check_route(&mut tx, &namespace, &name, route.as_deref())
            .await?;
        let now = micros(Utc::now());
        let latest = sqlx::query(sql::LATEST_VERSION)
            .bind(&namespace)
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        let (id, version) = match latest {
            Some(row) => {
                let id: String = row.try_get(0).map_err(|e| self.failed(&e))?;
                let latest: i64 = row.try_get(1).map_err(|e| self.failed(&e))?;
                let version = latest + 1;
                sqlx::query(sql::BUMP_FUNCTION)
                    .bind(&namespace)
                    .bind(&name)
                    .bind(version)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.failed(&e))?;
                (id, version)
            }
            None => {
                let id = fn_core::new_id();
                sqlx::query(sql::INSERT_FUNCTION)
                    .bind(&namespace)
                    .bind(&name)
                    .bind(&id)
                    .bind(1_i64)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.failed(&e))?;
                (id, 1)
            }
        };
        definition.version = version_number(version);
        let json = serde_json::to_string(&definition).map_err(|e| Error::Internal {
            message: format!("writing a definition: {e}"),
        })?;
        sqlx::query(sql::INSERT_VERSION)
            .bind(&namespace)
            .bind(&name)
            .bind(version)
            .bind(cid.to_string())
            .bind(json)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        self.set_route(&mut tx, &namespace, &name, route.as_deref())
            .await?;
        self.commit(tx).await?;
        Ok(Function {
            id,
            wasm_cid: cid,
            definition,
        })
    }

    async fn version(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        let query = sqlx::query(sql::FUNCTION_VERSION)
            .bind(namespace)
            .bind(name)
            .bind(i64::from(version));
        if let Some(function) = self.one_function(query).await? {
            return Ok(function);
        }
        // Which is missing: the function, or the version?
        self.function_by_name(namespace, name).await?;
        Err(no_version(namespace, name, version))
    }

    async fn list(&self, namespace: &str, page: &Page) -> Result<Paged<FunctionSummary>> {
        let limit = page.effective_limit();
        let rows = sqlx::query(sql::LIST_FUNCTIONS)
            .bind(namespace)
            .bind(page.after.as_deref().unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let get = |e: sqlx::Error| self.failed(&e);
            let cid: String = row.try_get(5).map_err(get)?;
            items.push(FunctionSummary {
                namespace: row.try_get(0).map_err(get)?,
                name: row.try_get(1).map_err(get)?,
                id: row.try_get(2).map_err(get)?,
                active_version: version_number(row.try_get(3).map_err(get)?),
                latest_version: version_number(row.try_get(4).map_err(get)?),
                wasm_cid: Cid::from_str(&cid)?,
                updated_at: time(row.try_get(6).map_err(get)?),
            });
        }
        let next = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            items.last().map(|s| s.name.clone()).unwrap_or_default()
        });
        Ok(Paged { items, next })
    }

    async fn versions(&self, namespace: &str, name: &str) -> Result<Vec<VersionInfo>> {
        let rows = sqlx::query(sql::LIST_VERSIONS)
            .bind(namespace)
            .bind(name)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        if rows.is_empty() {
            return Err(no_function(namespace, name));
        }
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| self.failed(&e);
                let version: i64 = row.try_get(0).map_err(get)?;
                let cid: String = row.try_get(1).map_err(get)?;
                let active: i64 = row.try_get(3).map_err(get)?;
                Ok(VersionInfo {
                    version: version_number(version),
                    wasm_cid: Cid::from_str(&cid)?,
                    created_at: time(row.try_get(2).map_err(get)?),
                    active: version == active,
                })
            })
            .collect()
    }

    async fn set_active(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        let mut tx = self.immediate().await?;
        self.active_version(&mut tx, namespace, name).await?;
        self.version_cid(&mut tx, namespace, name, version).await?;
        let route = self
            .version_route(&mut tx, namespace, name, version)
            .await?;
        self.check_route(&mut tx, namespace, name, route.as_deref())
            .await?;
        self.set_route(&mut tx, namespace, name, route.as_deref())
            .await?;
        sqlx::query(sql::SET_ACTIVE)
            .bind(namespace)
            .bind(name)
            .bind(i64::from(version))
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        self.commit(tx).await?;
        self.version(namespace, name, version).await
    }

    async fn routes(&self) -> Result<Vec<fn_core::Route>> {
        self.all_routes().await
    }

    async fn delete_version(&self, namespace: &str, name: &str, version: u32) -> Result<()> {
        let mut tx = self.immediate().await?;
        if self.active_version(&mut tx, namespace, name).await? == version {
            return Err(Error::Conflict {
                reason: format!(
                    "version {version} of {namespace}/{name} is active: make another active, or delete the function"
                ),
            });
        }
        let cid = self.version_cid(&mut tx, namespace, name, version).await?;
        sqlx::query(sql::DELETE_VERSION)
            .bind(namespace)
            .bind(name)
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        let gone = self.drop_unused(&mut tx, vec![cid]).await?;
        self.commit(tx).await?;
        // After the commit: a crash before this leaves files with no row, collected at
        // the next open.
        for cid in gone {
            self.blobs.remove(&cid);
        }
        Ok(())
    }

    async fn delete_function(&self, namespace: &str, name: &str) -> Result<()> {
        let mut tx = self.immediate().await?;
        self.active_version(&mut tx, namespace, name).await?;
        let cids: Vec<String> = sqlx::query_scalar(sql::FUNCTION_CIDS)
            .bind(namespace)
            .bind(name)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.failed(&e))?;
        for statement in [sql::DELETE_VERSIONS, sql::DELETE_FUNCTION] {
            sqlx::query(statement)
                .bind(namespace)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.failed(&e))?;
        }
        let gone = self.drop_unused(&mut tx, cids).await?;
        self.commit(tx).await?;
        for cid in gone {
            self.blobs.remove(&cid);
        }
        Ok(())
    }

    async fn insert_records(&self, records: &[InvocationRecord]) -> Result<()> {
        // Serialised before the transaction, so that a record that cannot be written
        // fails the batch without holding the write lock.
        let rows = records
            .iter()
            .map(|record| {
                serde_json::to_string(record)
                    .map(|json| (record, json))
                    .map_err(|e| Error::Internal {
                        message: format!("writing a record: {e}"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.immediate().await?;
        // One statement a chunk: each statement is a round trip to sqlx's database
        // thread, which one statement a record paid for every record.
        for chunk in rows.chunks(sql::RECORDS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(sql::INSERT_RECORDS);
            insert.push_values(chunk, |mut row, (record, json)| {
                row.push_bind(&record.id)
                    .push_bind(&record.namespace)
                    .push_bind(&record.function_name)
                    .push_bind(record.status.as_str())
                    .push_bind(micros(record.started_at))
                    .push_bind(json);
            });
            insert.push(sql::INSERT_RECORDS_END);
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| self.failed(&e))?;
        }
        self.commit(tx).await
    }

    async fn records(&self, query: &RecordQuery) -> Result<Paged<InvocationRecord>> {
        let limit = query.page.effective_limit();
        let cursor = match &query.page.after {
            Some(cursor) => Some(parse_record_cursor(cursor)?),
            None => None,
        };
        let rows = sqlx::query(sql::QUERY_RECORDS)
            .bind(&query.namespace)
            .bind(query.function.as_deref())
            .bind(query.status.map(|s| s.as_str()))
            .bind(query.since.map(micros))
            .bind(query.until.map(micros))
            .bind(cursor.as_ref().map(|(micros, _)| *micros))
            .bind(cursor.as_ref().map(|(_, id)| id.as_str()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            let get = |e: sqlx::Error| self.failed(&e);
            let json: String = row.try_get(0).map_err(get)?;
            let started: i64 = row.try_get(1).map_err(get)?;
            let id: String = row.try_get(2).map_err(get)?;
            items.push(serde_json::from_str(&json).map_err(|e| Error::Storage {
                what: self.database.display().to_string(),
                reason: format!("a stored record cannot be read: {e}"),
            })?);
            last = Some(format!("{started}:{id}"));
        }
        let next = if rows.len() > limit as usize {
            last
        } else {
            None
        };
        Ok(Paged { items, next })
    }

    async fn delete_records_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let deleted = sqlx::query(sql::DELETE_RECORDS_BEFORE)
            .bind(micros(before))
            .execute(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(deleted.rows_affected())
    }
}
