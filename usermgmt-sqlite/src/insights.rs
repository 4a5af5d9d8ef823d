//! `InsightStore` on SQLite: statistics in one pass, daily registrations from the
//! `(tenant_id, created_at)` index, distinct values by group.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use usermgmt_core::Result;
use usermgmt_core::model::{PeriodCounts, Status, StatusGroup, TenantId, ValueCount, ValueField};
use usermgmt_core::storage::InsightStore;

use crate::SqliteStorage;
use crate::codec::{micros, parse};
use crate::error::{corrupt, map_err};

/// Per-status counts in one pass; every column is in the `users_stats` index (partial on
/// `version > 0`, which always holds, so that only this query uses it), so the pass reads only
/// that index.
const STATUS_GROUPS: &str = "SELECT status, count(*), sum(is_admin), sum(is_instructor), sum(is_learner), \
    sum(email_verified), sum(phone_verified), sum(email_verified = 0 AND phone_verified = 0), \
    sum(created_at >= ?2), sum(created_at >= ?3) FROM users INDEXED BY users_stats \
    WHERE tenant_id = ?1 AND version > 0 GROUP BY status";

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The grouping query of a value field: `value, users` rows for non-deleted users, with `?1`
/// the tenant and `?2` the optional "contains" text.
fn values_query(field: ValueField) -> String {
    let contains = |column: &str| format!("(?2 IS NULL OR instr(lower({column}), lower(?2)) > 0)");
    match field {
        ValueField::Expertise => format!(
            "SELECT e.value, count(*) FROM user_expertise e JOIN users u ON u.seq = e.user_seq \
             WHERE u.tenant_id = ?1 AND u.status <> 'deleted' AND {} GROUP BY e.value",
            contains("e.value")
        ),
        ValueField::Roles => format!(
            "SELECT r.name, count(u.seq) FROM roles r LEFT JOIN user_roles ur ON ur.role_id = r.id \
             LEFT JOIN users u ON u.seq = ur.user_seq AND u.status <> 'deleted' \
             WHERE r.tenant_id = ?1 AND {} GROUP BY r.name",
            contains("r.name")
        ),
        column => {
            let column = match column {
                ValueField::Country => "country",
                ValueField::City => "city",
                ValueField::State => "state",
                ValueField::Timezone => "timezone",
                ValueField::Locale => "locale",
                _ => "designation",
            };
            format!(
                "SELECT {column}, count(*) FROM users WHERE tenant_id = ?1 AND status <> 'deleted' \
                 AND {column} IS NOT NULL AND {} GROUP BY {column}",
                contains(column)
            )
        }
    }
}

/// The per-status sums selected after `status` (shared by both statistics queries).
const GROUP_SUMS: &str = "count(*), sum(u.is_admin), sum(u.is_instructor), sum(u.is_learner), \
    sum(u.email_verified), sum(u.phone_verified), sum(u.email_verified = 0 AND u.phone_verified = 0)";

/// Reads `(status, users, admins, instructors, learners, email verified, phone verified,
/// unverified, last 7 days, last 30 days)` rows into groups.
fn read_groups(rows: Vec<(String, [i64; 9])>) -> Result<BTreeMap<Status, StatusGroup>> {
    let mut groups = BTreeMap::new();
    for (status, n) in rows {
        groups.insert(
            parse::<Status>("decoding a status", &status)?,
            StatusGroup {
                users: count(n[0]),
                admins: count(n[1]),
                instructors: count(n[2]),
                learners: count(n[3]),
                email_verified: count(n[4]),
                phone_verified: count(n[5]),
                unverified: count(n[6]),
                registered_last_7_days: count(n[7]),
                registered_last_30_days: count(n[8]),
            },
        );
    }
    Ok(groups)
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, [i64; 9])> {
    let mut n = [0i64; 9];
    for (i, slot) in n.iter_mut().enumerate() {
        *slot = r.get::<_, Option<i64>>(i + 1)?.unwrap_or(0);
    }
    Ok((r.get(0)?, n))
}

#[async_trait]
impl InsightStore for SqliteStorage {
    async fn status_groups_matching(
        &self,
        tenant: &TenantId,
        plan: &usermgmt_core::filter::ListPlan,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>> {
        let tenant = tenant.as_str().to_owned();
        let plan = plan.clone();
        let threshold = self.options.search_scan_threshold;
        let attached = self.options.attached_enrollments.clone();
        let (week, month) = (
            micros(now - Duration::days(7)),
            micros(now - Duration::days(30)),
        );
        self.pool
            .run(move |conn| {
                let pushdown =
                    crate::users::attach_learning(conn, attached.as_ref(), &plan.filters)?;
                let pushing = pushdown.is_some();
                let run = || -> Result<BTreeMap<Status, StatusGroup>> {
                    let mode = match &plan.filters.search {
                        Some(term) => crate::query::search_mode(conn, term, threshold)
                            .map_err(map_err("probing the search index"))?,
                        None => crate::query::SearchMode::Scan,
                    };
                    let mut select = crate::query::sql();
                    select
                        .push("u.status, ")
                        .push(GROUP_SUMS)
                        .push(", sum(u.created_at >= ")
                        .bind(week);
                    select.push("), sum(u.created_at >= ").bind(month).push(")");
                    let m = usermgmt_sql::Matching::plan(&tenant, &plan, now)
                        .pushdown(pushdown)
                        .roles(usermgmt_sql::RolesForm::Holders);
                    let mut sql = crate::query::sql();
                    sql.push("SELECT ").splice(&select).push(" FROM ");
                    sql.splice(&crate::query::from(&mode, None)).push(" WHERE ");
                    usermgmt_sql::where_clause(&mut sql, &crate::query::Lite, &m);
                    sql.push(" GROUP BY u.status");
                    let rows = conn
                        .prepare_cached(&sql.text())
                        .and_then(|mut s| {
                            s.query_map(crate::query::args(&sql), group_row)?
                                .collect::<rusqlite::Result<Vec<_>>>()
                        })
                        .map_err(map_err("computing statistics"))?;
                    read_groups(rows)
                };
                run().map_err(|e| {
                    if pushing {
                        e.enrollment_unavailable()
                    } else {
                        e
                    }
                })
            })
            .await
    }

    async fn status_groups(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>> {
        let tenant = tenant.as_str().to_owned();
        let (week, month) = (
            micros(now - Duration::days(7)),
            micros(now - Duration::days(30)),
        );
        self.pool
            .run(move |conn| {
                let rows = conn
                    .prepare_cached(STATUS_GROUPS)
                    .and_then(|mut s| {
                        s.query_map(rusqlite::params![tenant, week, month], group_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("computing statistics"))?;
                read_groups(rows)
            })
            .await
    }

    async fn period_counts(
        &self,
        tenant: &TenantId,
        windows: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Vec<PeriodCounts>> {
        let tenant = tenant.as_str().to_owned();
        let windows: Vec<(i64, i64)> = windows
            .iter()
            .map(|(from, to)| (micros(*from), micros(*to)))
            .collect();
        self.pool
            .run(move |conn| {
                // Three index range counts per window (registration, last login, deletion).
                let ranged = |column: &str, from: i64, to: i64| -> Result<u64> {
                    let sql = format!("SELECT count(*) FROM users WHERE tenant_id = ?1 AND {column} >= ?2 AND {column} < ?3");
                    conn.prepare_cached(&sql)
                        .and_then(|mut s| s.query_row(rusqlite::params![tenant, from, to], |r| r.get::<_, i64>(0)))
                        .map(count)
                        .map_err(map_err("computing period counts"))
                };
                windows
                    .iter()
                    .map(|&(from, to)| {
                        Ok(PeriodCounts {
                            new_users: ranged("created_at", from, to)?,
                            active_users: ranged("last_login_at", from, to)?,
                            deleted_users: ranged("deleted_at", from, to)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn daily_registrations(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<(NaiveDate, u64)>, u64)> {
        let tenant = tenant.as_str().to_owned();
        let (from, to) = (micros(from), micros(to));
        self.pool
            .run(move |conn| {
                let before: i64 = conn
                    .prepare_cached("SELECT count(*) FROM users WHERE tenant_id = ?1 AND created_at < ?2")
                    .and_then(|mut s| s.query_row(rusqlite::params![tenant, from], |r| r.get(0)))
                    .map_err(map_err("counting earlier registrations"))?;
                let days = conn
                    .prepare_cached(
                        "SELECT created_at / ?4, count(*) FROM users WHERE tenant_id = ?1 AND created_at >= ?2 \
                         AND created_at < ?3 GROUP BY created_at / ?4",
                    )
                    .and_then(|mut s| {
                        s.query_map(rusqlite::params![tenant, from, to, DAY_MICROS], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("counting registrations per day"))?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| corrupt("dates", "epoch"))?;
                let daily = days
                    .into_iter()
                    .map(|(day, n)| (epoch + Duration::days(day), count(n)))
                    .collect();
                Ok((daily, count(before)))
            })
            .await
    }

    async fn distinct_values(
        &self,
        tenant: &TenantId,
        field: ValueField,
        contains: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<ValueCount>, u64)> {
        let tenant = tenant.as_str().to_owned();
        let contains = contains.map(str::to_owned);
        let grouped = values_query(field);
        self.pool
            .run(move |conn| {
                let total: i64 = conn
                    .prepare_cached(&format!("SELECT count(*) FROM ({grouped})"))
                    .and_then(|mut s| {
                        s.query_row(rusqlite::params![tenant, contains], |r| r.get(0))
                    })
                    .map_err(map_err("counting distinct values"))?;
                let page = format!("{grouped} ORDER BY 2 DESC, 1 LIMIT ?3 OFFSET ?4");
                let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                let values = conn
                    .prepare_cached(&page)
                    .and_then(|mut s| {
                        s.query_map(rusqlite::params![tenant, contains, limit, offset], |r| {
                            Ok(ValueCount {
                                value: r.get(0)?,
                                count: count(r.get(1)?),
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("listing distinct values"))?;
                Ok((values, count(total)))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &rusqlite::Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params!["t", 0, 0], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn statistics_read_only_indexes() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        let p = plan(&conn, STATUS_GROUPS);
        assert!(p.contains("COVERING INDEX users_stats"), "{p}");
        for column in ["created_at", "last_login_at", "deleted_at"] {
            let sql = format!(
                "SELECT count(*) FROM users WHERE tenant_id = ?1 AND {column} >= ?2 AND {column} < ?3"
            );
            let p = plan(&conn, &sql);
            assert!(p.contains("COVERING INDEX"), "{column}: {p}");
        }
        let p = plan(
            &conn,
            "SELECT created_at / 86400000000, count(*) FROM users WHERE tenant_id = ?1 AND created_at >= ?2 AND created_at < ?3 GROUP BY created_at / 86400000000",
        );
        assert!(p.contains("COVERING INDEX"), "daily registrations: {p}");
    }
}
