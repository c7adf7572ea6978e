//! The routes table kept in step with the active versions: a route is checked against
//! the other functions' before a version becomes active, and moved with it in the same
//! transaction.

use super::*;

impl SqliteStore {
    /// Refuses `route` when a function other than `namespace/name` holds it, in `tx`.
    pub(super) async fn check_route(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        namespace: &str,
        name: &str,
        route: Option<&str>,
    ) -> Result<()> {
        let Some(route) = route else {
            return Ok(());
        };
        let holder = sqlx::query(sql::ROUTE_HOLDER)
            .bind(route)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.failed(&e))?;
        if let Some(row) = holder {
            let get = |e: sqlx::Error| self.failed(&e);
            let holder_namespace: String = row.try_get(0).map_err(get)?;
            let holder_name: String = row.try_get(1).map_err(get)?;
            if (holder_namespace.as_str(), holder_name.as_str()) != (namespace, name) {
                return Err(fn_core::route_taken(route, &holder_namespace, &holder_name));
            }
        }
        Ok(())
    }

    /// Makes `route` the route of `namespace/name` (none: it holds none), in `tx`, after
    /// [`SqliteStore::check_route`].
    pub(super) async fn set_route(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        namespace: &str,
        name: &str,
        route: Option<&str>,
    ) -> Result<()> {
        sqlx::query(sql::CLEAR_ROUTE)
            .bind(namespace)
            .bind(name)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.failed(&e))?;
        if let Some(route) = route {
            sqlx::query(sql::INSERT_ROUTE)
                .bind(route)
                .bind(namespace)
                .bind(name)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.failed(&e))?;
        }
        Ok(())
    }

    /// The route version `version` of `namespace/name` claims, in `tx`.
    pub(super) async fn version_route(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        namespace: &str,
        name: &str,
        version: u32,
    ) -> Result<Option<String>> {
        let json: Option<String> = sqlx::query_scalar(sql::VERSION_DEFINITION)
            .bind(namespace)
            .bind(name)
            .bind(i64::from(version))
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.failed(&e))?;
        let Some(json) = json else {
            return Err(no_version(namespace, name, version));
        };
        let definition: FunctionDefinition =
            serde_json::from_str(&json).map_err(|e| Error::Storage {
                what: self.database.display().to_string(),
                reason: format!("a stored definition cannot be read: {e}"),
            })?;
        Ok(definition.route)
    }

    /// Every route, by prefix.
    pub(super) async fn all_routes(&self) -> Result<Vec<fn_core::Route>> {
        let rows = sqlx::query(sql::ALL_ROUTES)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| self.failed(&e);
                Ok(fn_core::Route {
                    prefix: row.try_get(0).map_err(get)?,
                    namespace: row.try_get(1).map_err(get)?,
                    name: row.try_get(2).map_err(get)?,
                })
            })
            .collect()
    }
}
