//! Transactions: begin (with the push-down's time limit when asked) and commit.

use usermgmt_core::Result;
use usermgmt_core::filter::UserFilters;

use crate::PgStorage;
use crate::error::map_err;

/// Commits a transaction.
pub(crate) async fn commit(tx: sqlx::Transaction<'static, sqlx::Postgres>) -> Result<()> {
    tx.commit().await.map_err(map_err("committing"))
}

impl PgStorage {
    /// The push-down layout, when configured and the filters use enrollment filters.
    pub(crate) fn pushdown_for(
        &self,
        filters: &UserFilters,
    ) -> Option<&usermgmt_core::storage::EnrollmentLayout> {
        self.pushdown
            .as_ref()
            .filter(|_| filters.uses_cross_service())
    }

    /// A transaction whose statements are cancelled after the push-down timeout when `limited`.
    pub(crate) async fn begin_limited(
        &self,
        limited: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.begin().await?;
        if limited {
            // Push-down: a query running past the timeout is cancelled by the server (and the
            // service then answers without the enrollment filters).
            sqlx::query("SELECT set_config('statement_timeout', $1, true)")
                .bind(format!("{}ms", self.pushdown_timeout.as_millis()))
                .execute(&mut *tx)
                .await
                .map_err(map_err("limiting the query time"))?;
        }
        Ok(tx)
    }

    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool
            .begin()
            .await
            .map_err(map_err("starting a transaction"))
    }
}
