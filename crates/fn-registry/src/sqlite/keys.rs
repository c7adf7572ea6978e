//! [`SqliteStore`]'s [`KeyStore`]: one statement a method; a token's SHA-256 is kept,
//! never the token.

use fn_core::{ApiKey, KeyStore, Role, TokenHash, key_exists, no_key};

use super::*;

impl SqliteStore {
    fn key_from(&self, row: &SqliteRow) -> Result<ApiKey> {
        let role: String = row.try_get("role").map_err(|e| self.failed(&e))?;
        Ok(ApiKey {
            name: row.try_get("name").map_err(|e| self.failed(&e))?,
            namespace: row.try_get("namespace").map_err(|e| self.failed(&e))?,
            role: role.parse::<Role>().map_err(|e| Error::Storage {
                what: self.database.display().to_string(),
                reason: format!("a key's role: {e}"),
            })?,
            created_at: time(row.try_get("created_at").map_err(|e| self.failed(&e))?),
        })
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey, token: &TokenHash) -> Result<()> {
        let done = sqlx::query(sql::INSERT_KEY)
            .bind(&key.name)
            .bind(&key.namespace)
            .bind(key.role.as_str())
            .bind(&token.0[..])
            .bind(micros(key.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        if done.rows_affected() == 0 {
            return Err(key_exists(&key.name));
        }
        Ok(())
    }

    async fn key_by_token(&self, token: &TokenHash) -> Result<Option<ApiKey>> {
        let row = sqlx::query(sql::KEY_BY_TOKEN)
            .bind(&token.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        row.map(|row| self.key_from(&row)).transpose()
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(sql::KEYS)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        rows.iter().map(|row| self.key_from(row)).collect()
    }

    async fn delete_key(&self, name: &str) -> Result<()> {
        let done = sqlx::query(sql::DELETE_KEY)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.failed(&e))?;
        if done.rows_affected() == 0 {
            return Err(no_key(name));
        }
        Ok(())
    }
}
