//! The enrollment filters as SQL over another service's learning table, implementing
//! [`EnrollmentFilters::matches_enrollments`]: for an enrollment source reading that table, and
//! for the push-down that semi-joins it in the users query.

use usermgmt_core::filter::EnrollmentFilters;
use usermgmt_core::storage::EnrollmentLayout;

use crate::builder::Sql;
use crate::dialect::Dialect;

/// How the query names each user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// Distinct ids as text: a source reads them whatever the column's type.
    DistinctText,
    /// Ids in the users table's id type, duplicates kept: the operand of an `IN` semi-join in
    /// the users query (no text round trip, no second de-duplication).
    UserId,
}

/// Appends `SELECT <user id> FROM <table> WHERE …` selecting the users the enrollment filters
/// concern; `None` (nothing appended) when nobody can match, otherwise whether the selected
/// users are the ones to leave out (`has_enrollments=false`) rather than the ones to keep.
pub fn enrollment_users(
    sql: &mut Sql,
    d: &dyn Dialect,
    layout: &EnrollmentLayout,
    schema: Option<&str>,
    tenant: &str,
    filters: &EnrollmentFilters,
    projection: Projection,
) -> Option<bool> {
    if filters.enrollment_filters_unsatisfiable() {
        return None;
    }
    let q = |name: &str| format!("\"{name}\"");
    let table = table_name(layout, schema);
    let user = q(&layout.user_id);
    let (select, id) = match projection {
        // Grouping by user (for the time sum) already makes them distinct.
        Projection::DistinctText if filters.total_time_spent_min.is_none() => {
            ("SELECT DISTINCT ", d.enrollment_user_text(&user))
        }
        Projection::DistinctText => ("SELECT ", d.enrollment_user_text(&user)),
        Projection::UserId => ("SELECT ", d.enrollment_user_id(&user)),
    };
    sql.push(select)
        .push(&id)
        .push(" FROM ")
        .push(&table)
        .push(" WHERE 1 = 1");
    if let Some(column) = &layout.tenant_id {
        sql.push(" AND ").push(&q(column)).push(" = ").bind(tenant);
    }
    let any_of = |sql: &mut Sql, column: &str, values: Vec<String>| {
        if !values.is_empty() {
            sql.push(" AND ");
            d.any_of(sql, &q(column), values);
        }
    };
    let statuses = filters.enrollment_status.iter();
    any_of(
        sql,
        &layout.status,
        statuses.map(|s| s.as_str().to_owned()).collect(),
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
        sql.push(" AND ")
            .push(&q(&layout.progress))
            .push(" >= ")
            .bind(i64::from(min));
    }
    if let Some(max) = filters.progress_max {
        sql.push(" AND ")
            .push(&q(&layout.progress))
            .push(" <= ")
            .bind(i64::from(max));
    }
    if let Some(after) = filters.last_learning_activity_after {
        sql.push(" AND ")
            .push(&d.enrollment_time(&q(&layout.last_activity_at)))
            .push(" >= ")
            .bind(after);
    }
    if let Some(min) = filters.total_time_spent_min {
        sql.push(" GROUP BY ")
            .push(&user)
            .push(" HAVING sum(")
            .push(&q(&layout.time_spent_seconds))
            .push(") >= ")
            .bind(i64::try_from(min).unwrap_or(i64::MAX));
    }
    Some(filters.has_enrollments == Some(false))
}

/// The learning table's quoted name, in `schema` when given.
fn table_name(layout: &EnrollmentLayout, schema: Option<&str>) -> String {
    let q = |name: &str| format!("\"{name}\"");
    match schema {
        Some(schema) => format!("{}.{}", q(schema), q(&layout.table)),
        None => q(&layout.table),
    }
}

/// Appends `NOT EXISTS (…)`: the user aliased `u` has no enrollment (`has_enrollments=false`
/// alone), as an anti-join a planner runs without holding every enrolled user in memory.
pub(crate) fn without_enrollments(
    sql: &mut Sql,
    d: &dyn Dialect,
    layout: &EnrollmentLayout,
    schema: Option<&str>,
    tenant: &str,
) {
    let q = |name: &str| format!("\"{name}\"");
    sql.push("NOT EXISTS (SELECT 1 FROM ")
        .push(&table_name(layout, schema))
        .push(" e WHERE ");
    if let Some(column) = &layout.tenant_id {
        sql.push("e.")
            .push(&q(column))
            .push(" = ")
            .bind(tenant)
            .push(" AND ");
    }
    sql.push(&d.enrollment_user_id(&format!("e.{}", q(&layout.user_id))))
        .push(" = u.id)");
}

/// The query an enrollment source runs (distinct user ids as text, from the layout's table)
/// and whether the users it selects are the ones to leave out; `None` when nobody can match.
pub fn source_query(
    d: &dyn Dialect,
    layout: &EnrollmentLayout,
    tenant: &str,
    filters: &EnrollmentFilters,
) -> Option<(Sql, bool)> {
    let mut sql = d.sql();
    let except = enrollment_users(
        &mut sql,
        d,
        layout,
        None,
        tenant,
        filters,
        Projection::DistinctText,
    )?;
    Some((sql, except))
}

/// The columns [`rows_query`] selects, in order: user id (text), program id, program type,
/// status, progress, time spent (both `bigint`) and last activity as stored.
pub const ROW_COLUMNS: usize = 7;

/// `SELECT` of a tenant's enrollment rows (of `users` only, when given) for the counting
/// index: see [`ROW_COLUMNS`]. The ids are written as quoted literals (a UUID's text is hex
/// and hyphens), so they take the user column's own type and its index, text or `uuid`.
pub fn rows_query(
    d: &dyn Dialect,
    layout: &EnrollmentLayout,
    tenant: &str,
    users: Option<&[uuid::Uuid]>,
) -> Sql {
    let q = |name: &str| format!("\"{name}\"");
    let bigint = |name: &str| format!("CAST({} AS bigint)", q(name));
    let mut sql = d.sql();
    sql.push("SELECT ")
        .push(&d.enrollment_user_text(&q(&layout.user_id)))
        .push(", ")
        .push(&q(&layout.program_id))
        .push(", ")
        .push(&q(&layout.program_type))
        .push(", ")
        .push(&q(&layout.status))
        .push(", ")
        .push(&bigint(&layout.progress))
        .push(", ")
        .push(&bigint(&layout.time_spent_seconds))
        .push(", ")
        .push(&q(&layout.last_activity_at))
        .push(" FROM ")
        .push(&q(&layout.table))
        .push(" WHERE 1 = 1");
    if let Some(column) = &layout.tenant_id {
        sql.push(" AND ").push(&q(column)).push(" = ").bind(tenant);
    }
    if let Some(users) = users {
        let listed: Vec<String> = users.iter().map(|u| format!("'{u}'")).collect();
        if listed.is_empty() {
            sql.push(" AND 1 = 0");
        } else {
            sql.push(" AND ")
                .push(&q(&layout.user_id))
                .push(" IN (")
                .push(&listed.join(", "))
                .push(")");
        }
    }
    sql
}

/// An enrollment row as [`rows_query`] reads it, checked into the model: `None` when the
/// user id is not a UUID or the status is not one of the five (such rows match no filter in
/// the index). Progress and time are clamped into their types' ranges.
pub fn enrollment_row(
    user: &str,
    program_id: String,
    program_type: String,
    status: &str,
    progress: i64,
    time_spent: i64,
    last_activity_at: Option<chrono::DateTime<chrono::Utc>>,
) -> usermgmt_core::Result<Option<usermgmt_core::model::Enrollment>> {
    let Some(user_id) = feed_user_id(user)? else {
        return Ok(None);
    };
    let Ok(status) = status.parse() else {
        return Ok(None);
    };
    Ok(Some(usermgmt_core::model::Enrollment {
        user_id,
        program_id,
        program_type,
        status,
        progress: u8::try_from(progress.clamp(0, i64::from(u8::MAX))).unwrap_or(u8::MAX),
        time_spent_seconds: u64::try_from(time_spent).unwrap_or(0),
        last_activity_at,
    }))
}

/// The UUIDs among a feed's user ids (see [`feed_user_id`]).
pub fn feed_user_ids(texts: &[String]) -> usermgmt_core::Result<Vec<uuid::Uuid>> {
    let mut ids = Vec::with_capacity(texts.len());
    for text in texts {
        ids.extend(feed_user_id(text)?);
    }
    Ok(ids)
}

/// A user id as the learning data holds it: `None` when it is not a UUID (no user has it);
/// an error when it is one written otherwise than [`rows_query`] asks for it (lower case,
/// hyphenated), since re-reading that user's rows would then find none — the counting index
/// refuses such data and the filters are asked of the source's queries instead.
pub fn feed_user_id(text: &str) -> usermgmt_core::Result<Option<uuid::Uuid>> {
    let Ok(id) = text.parse::<uuid::Uuid>() else {
        return Ok(None);
    };
    if id.hyphenated().to_string() != text {
        return Err(usermgmt_core::Error::Storage(
            usermgmt_core::StorageError::new(
                "reading the learning data",
                "user ids must be lower-case hyphenated UUIDs for the change feed",
            ),
        ));
    }
    Ok(Some(id))
}
