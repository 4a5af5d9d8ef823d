//! An [`EnrollmentSource`] reading another service's learning database on PostgreSQL (another
//! database or server), with a configurable table layout.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder};
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{EnrollmentLayout, EnrollmentSource};
use usermgmt_core::{Error, Result, StorageError};
use uuid::Uuid;

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
}

/// How the users query names each user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserIdProjection {
    /// Distinct ids as text: the source reads them whatever the column's type.
    DistinctText,
    /// Ids as `uuid`, duplicates kept: the operand of an `IN` semi-join in the users query
    /// (no text round trip, no second de-duplication).
    Uuid,
}

/// Appends `SELECT <user id, per the projection> FROM <table> WHERE …` implementing
/// [`UserFilters::matches_enrollments`]; `None` when nobody can match, otherwise whether the
/// selected users are the ones to leave out (`has_enrollments=false`).
pub(crate) fn push_users_query(
    sql: &mut QueryBuilder<Postgres>,
    layout: &EnrollmentLayout,
    tenant: &str,
    filters: &UserFilters,
    projection: UserIdProjection,
) -> Option<bool> {
    if filters.enrollment_filters_unsatisfiable() {
        return None;
    }
    let q = |name: &str| format!("\"{name}\"");
    let select = match projection {
        UserIdProjection::DistinctText if filters.total_time_spent_min.is_none() => {
            "SELECT DISTINCT "
        }
        _ => "SELECT ",
    };
    let cast = match projection {
        UserIdProjection::DistinctText => "::text",
        UserIdProjection::Uuid => "::uuid",
    };
    sql.push(format!(
        "{select}{}{cast} FROM {} WHERE true",
        q(&layout.user_id),
        q(&layout.table)
    ));
    if let Some(column) = &layout.tenant_id {
        sql.push(format!(" AND {} = ", q(column)))
            .push_bind(tenant.to_owned());
    }
    let any_of = |sql: &mut QueryBuilder<Postgres>, column: &str, values: Vec<String>| {
        if !values.is_empty() {
            sql.push(format!(" AND {} = ANY(", q(column)))
                .push_bind(values)
                .push(")");
        }
    };
    any_of(
        sql,
        &layout.status,
        filters
            .enrollment_status
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    );
    any_of(
        sql,
        &layout.program_type,
        filters.enrolled_program_type.clone(),
    );
    any_of(
        sql,
        &layout.program_id,
        filters.enrolled_program_ids.clone(),
    );
    if let Some(min) = filters.progress_min {
        sql.push(format!(" AND {} >= ", q(&layout.progress)))
            .push_bind(i32::from(min));
    }
    if let Some(max) = filters.progress_max {
        sql.push(format!(" AND {} <= ", q(&layout.progress)))
            .push_bind(i32::from(max));
    }
    if let Some(after) = filters.last_learning_activity_after {
        sql.push(format!(" AND {} >= ", q(&layout.last_activity_at)))
            .push_bind(after);
    }
    if let Some(min) = filters.total_time_spent_min {
        sql.push(format!(
            " GROUP BY {} HAVING sum({}) >= ",
            q(&layout.user_id),
            q(&layout.time_spent_seconds)
        ));
        sql.push_bind(i64::try_from(min).unwrap_or(i64::MAX));
    }
    Some(filters.has_enrollments == Some(false))
}

#[async_trait]
impl EnrollmentSource for PgEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("");
        let except = match push_users_query(
            &mut sql,
            &self.layout,
            tenant.as_str(),
            filters,
            UserIdProjection::DistinctText,
        ) {
            None => return Ok(EnrollmentMatch::Only(Vec::new())),
            Some(except) => except,
        };
        let texts: Vec<String> = sql
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("querying enrollments"))?;
        let ids: Vec<Uuid> = texts.iter().filter_map(|t| t.parse().ok()).collect();
        Ok(if except {
            EnrollmentMatch::Except(ids)
        } else {
            EnrollmentMatch::Only(ids)
        })
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
