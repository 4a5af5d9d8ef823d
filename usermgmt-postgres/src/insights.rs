//! `InsightStore` on PostgreSQL.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::Row;
use usermgmt_core::Result;
use usermgmt_core::model::{PeriodCounts, Status, StatusGroup, TenantId, ValueCount, ValueField};
use usermgmt_core::storage::InsightStore;

use crate::PgStorage;
use crate::codec::parse;
use crate::error::map_err;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Per-status counts in one pass over the tenant's rows (used when the counting index is off;
/// the covering index went with migration 11: one index fewer to maintain per status change).
const STATUS_GROUPS: &str = "SELECT status, count(*) AS users, count(*) FILTER (WHERE is_admin) AS admins, \
    count(*) FILTER (WHERE is_instructor) AS instructors, count(*) FILTER (WHERE is_learner) AS learners, \
    count(*) FILTER (WHERE email_verified) AS email_verified, count(*) FILTER (WHERE phone_verified) AS phone_verified, \
    count(*) FILTER (WHERE NOT email_verified AND NOT phone_verified) AS unverified, \
    count(*) FILTER (WHERE created_at >= $2) AS week, count(*) FILTER (WHERE created_at >= $3) AS month \
    FROM users WHERE tenant_id = $1 GROUP BY status";

/// The grouping query of a value field: `value, users` rows for non-deleted users, with `$1`
/// the tenant and `$2` the optional "contains" text.
fn values_query(field: ValueField) -> String {
    let contains = |column: &str| {
        format!(
            "($2::text IS NULL OR strpos(usermgmt_ascii_fold({column}), usermgmt_ascii_fold($2)) > 0)"
        )
    };
    match field {
        ValueField::Expertise => format!(
            "SELECT min(e.value) AS value, count(*) AS users FROM user_expertise e JOIN users u \
             ON u.tenant_id = e.tenant_id AND u.id = e.user_id WHERE e.tenant_id = $1 AND u.status <> 'deleted' \
             AND {} GROUP BY usermgmt_ascii_fold(e.value)",
            contains("e.value")
        ),
        ValueField::Roles => format!(
            "SELECT r.name AS value, count(u.id) AS users FROM roles r LEFT JOIN user_roles ur \
             ON ur.tenant_id = r.tenant_id AND ur.role_id = r.id LEFT JOIN users u \
             ON u.tenant_id = ur.tenant_id AND u.id = ur.user_id AND u.status <> 'deleted' \
             WHERE r.tenant_id = $1 AND {} GROUP BY r.name",
            contains("r.name")
        ),
        column => {
            let (column, fold) = match column {
                ValueField::Country => ("country", false),
                ValueField::City => ("city", true),
                ValueField::State => ("state", true),
                ValueField::Timezone => ("timezone", false),
                ValueField::Locale => ("locale", true),
                _ => ("designation", true),
            };
            let key = if fold {
                format!("usermgmt_ascii_fold({column})")
            } else {
                column.to_owned()
            };
            format!(
                "SELECT min({column}) AS value, count(*) AS users FROM users WHERE tenant_id = $1 \
                 AND status <> 'deleted' AND {column} IS NOT NULL AND {} GROUP BY {key}",
                contains(column)
            )
        }
    }
}

/// The per-status counts selected after `status`, for users aliased `u`; `$week` and `$month`
/// bounds are bound by the caller in that order.
const GROUP_COUNTS: &str = "count(*) AS users, count(*) FILTER (WHERE u.is_admin) AS admins, \
    count(*) FILTER (WHERE u.is_instructor) AS instructors, count(*) FILTER (WHERE u.is_learner) AS learners, \
    count(*) FILTER (WHERE u.email_verified) AS email_verified, \
    count(*) FILTER (WHERE u.phone_verified) AS phone_verified, \
    count(*) FILTER (WHERE NOT u.email_verified AND NOT u.phone_verified) AS unverified";

/// Reads rows of status and named counts into groups.
fn read_groups(rows: &[sqlx::postgres::PgRow]) -> Result<BTreeMap<Status, StatusGroup>> {
    let mut groups = BTreeMap::new();
    for row in rows {
        let get = |name: &str| -> Result<u64> {
            row.try_get::<i64, _>(name)
                .map(count)
                .map_err(map_err("reading statistics"))
        };
        let status: String = row
            .try_get("status")
            .map_err(map_err("reading statistics"))?;
        groups.insert(
            parse::<Status>("decoding a status", &status)?,
            StatusGroup {
                users: get("users")?,
                admins: get("admins")?,
                instructors: get("instructors")?,
                learners: get("learners")?,
                email_verified: get("email_verified")?,
                phone_verified: get("phone_verified")?,
                unverified: get("unverified")?,
                registered_last_7_days: get("week")?,
                registered_last_30_days: get("month")?,
            },
        );
    }
    Ok(groups)
}

#[async_trait]
impl InsightStore for PgStorage {
    async fn status_groups_matching(
        &self,
        tenant: &TenantId,
        plan: &usermgmt_core::filter::ListPlan,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>> {
        let pushdown = self.pushdown_for(&plan.filters);
        let mut sql = crate::query::Sql::new("SELECT u.status, ");
        sql.push(GROUP_COUNTS)
            .push(", count(*) FILTER (WHERE u.created_at >= ")
            .push_bind(now - Duration::days(7));
        sql.push(") AS week, count(*) FILTER (WHERE u.created_at >= ")
            .push_bind(now - Duration::days(30));
        sql.push(") AS month FROM users u WHERE ");
        let m = usermgmt_sql::Matching::plan(tenant.as_str(), plan, now).pushdown(pushdown.map(
            |layout| usermgmt_sql::Pushdown {
                layout,
                schema: None,
            },
        ));
        let mut conditions = usermgmt_sql::Sql::new(usermgmt_sql::Placeholders::Numbered);
        usermgmt_sql::where_clause(&mut conditions, &crate::query::Pg, &m);
        crate::query::append(&mut sql, &conditions);
        sql.push(" GROUP BY u.status");
        let result = async {
            let mut tx = self.begin_limited(pushdown.is_some()).await?;
            let rows = sql
                .build()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err("computing statistics"))?;
            crate::tx::commit(tx).await?;
            read_groups(&rows)
        }
        .await;
        result.map_err(|e| {
            if pushdown.is_some() {
                e.enrollment_unavailable()
            } else {
                e
            }
        })
    }

    async fn status_groups(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>> {
        let rows = sqlx::query(STATUS_GROUPS)
            .persistent(false)
            .bind(tenant.as_str())
            .bind(now - Duration::days(7))
            .bind(now - Duration::days(30))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("computing statistics"))?;
        read_groups(&rows)
    }

    async fn period_counts(
        &self,
        tenant: &TenantId,
        windows: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Vec<PeriodCounts>> {
        let mut out = Vec::with_capacity(windows.len());
        for (from, to) in windows {
            // Three index range counts (registration, last login, deletion: deletion times
            // live beside the statuses in `user_statuses`, migration 15).
            let mut counts = [0u64; 3];
            for (slot, (table, column)) in [
                ("users", "created_at"),
                ("users", "last_login_at"),
                ("user_statuses", "deleted_at"),
            ]
            .into_iter()
            .enumerate()
            {
                let sql = format!(
                    "SELECT count(*) FROM {table} WHERE tenant_id = $1 AND {column} >= $2 AND {column} < $3"
                );
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .persistent(false)
                    .bind(tenant.as_str())
                    .bind(from)
                    .bind(to)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err("computing period counts"))?;
                counts[slot] = count(n);
            }
            out.push(PeriodCounts {
                new_users: counts[0],
                active_users: counts[1],
                deleted_users: counts[2],
            });
        }
        Ok(out)
    }

    async fn daily_registrations(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<(NaiveDate, u64)>, u64)> {
        let before: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND created_at < $2",
        )
        .persistent(false)
        .bind(tenant.as_str())
        .bind(from)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("counting earlier registrations"))?;
        let rows: Vec<(NaiveDate, i64)> = sqlx::query_as(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM users WHERE tenant_id = $1 \
             AND created_at >= $2 AND created_at < $3 GROUP BY 1",
        )
        .persistent(false)
        .bind(tenant.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("counting registrations per day"))?;
        Ok((
            rows.into_iter().map(|(day, n)| (day, count(n))).collect(),
            count(before),
        ))
    }

    async fn distinct_values(
        &self,
        tenant: &TenantId,
        field: ValueField,
        contains: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<ValueCount>, u64)> {
        let grouped = values_query(field);
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM ({grouped}) AS g"
        )))
        .persistent(false)
        .bind(tenant.as_str())
        .bind(contains)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("counting distinct values"))?;
        let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT value, users FROM ({grouped}) AS g ORDER BY users DESC, value COLLATE \"C\" LIMIT $3 OFFSET $4"
        )))
        .persistent(false)
        .bind(tenant.as_str())
        .bind(contains)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("listing distinct values"))?;
        let values = rows
            .into_iter()
            .map(|(value, n)| ValueCount {
                value,
                count: count(n),
            })
            .collect();
        Ok((values, count(total)))
    }
}
