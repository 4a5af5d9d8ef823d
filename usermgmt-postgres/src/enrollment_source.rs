//! An [`EnrollmentSource`] reading another service's learning database on PostgreSQL (another
//! database or server), with a configurable table layout.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{EnrollmentLayout, EnrollmentSource};
use usermgmt_core::{Error, Result, StorageError};

use crate::error::map_err;

/// Enrollments from a learning database on PostgreSQL. The pool connects lazily, so an
/// unreachable server only makes the queries fail (and the service skip the filters).
#[derive(Clone, Debug)]
pub struct PgEnrollmentSource {
    pool: PgPool,
    layout: EnrollmentLayout,
}

impl PgEnrollmentSource {
    /// A source over the learning database at `url` with this layout. Must be called within a
    /// Tokio runtime (the lazy pool starts its maintenance task there).
    pub fn new(url: &str, layout: EnrollmentLayout) -> Result<Self> {
        layout.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Storage(StorageError::new(
                "creating the enrollment source",
                "PgEnrollmentSource::new must be called within a Tokio runtime",
            )));
        }
        let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            Error::Storage(StorageError::new("parsing the learning database URL", e))
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(1))
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Ok(Self { pool, layout })
    }

    /// A source over a pool the caller already has (the store's own, for push-down).
    pub(crate) fn over(pool: PgPool, layout: EnrollmentLayout) -> Self {
        Self { pool, layout }
    }

    /// Where the enrollments are.
    pub fn layout(&self) -> &EnrollmentLayout {
        &self.layout
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl EnrollmentSource for PgEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        let Some((query, except)) = usermgmt_sql::source_query(
            &crate::query::Pg,
            &self.layout,
            tenant.as_str(),
            &filters.enrollment,
        ) else {
            return Ok(EnrollmentMatch::Only(Vec::new()));
        };
        let mut sql = crate::query::build(&query);
        let texts: Vec<String> = sql
            .build_query_scalar()
            .persistent(false)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("querying enrollments"))?;
        Ok(EnrollmentMatch::from_texts(except, &texts))
    }

    fn feed(&self) -> Option<std::sync::Arc<dyn usermgmt_core::storage::EnrollmentFeed>> {
        Some(std::sync::Arc::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let result = PgEnrollmentSource::new(
            "postgres://postgres@127.0.0.1:1/learning",
            EnrollmentLayout::default(),
        );
        assert!(matches!(result, Err(Error::Storage(_))));
    }

    #[tokio::test]
    async fn inside_a_runtime_the_pool_is_lazy() {
        let result = PgEnrollmentSource::new(
            "postgres://postgres@127.0.0.1:1/learning",
            EnrollmentLayout::default(),
        );
        assert!(result.is_ok());
    }
}
