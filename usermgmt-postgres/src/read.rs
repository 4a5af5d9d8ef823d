//! The read side of users: rows into users with their related lists.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};
use usermgmt_core::Result;
use usermgmt_core::model::{PermissionSet, User};
use usermgmt_core::storage::{
    ActorGrants, Identifier, RelatedKind, RelatedLists, UNIQUE_FIELDS, UserLists, unique_values,
};
use uuid::Uuid;

use crate::codec::{parse, user_from_row};
use crate::error::map_err;
use crate::query::{Sql, USER_COLUMNS};

/// Roles (kind 0), direct permissions (1), expertise (2, with position) and OAuth providers (3)
/// of the users in `$2`.
const RELATED_LISTS: &str = "\
    SELECT ur.user_id, 0 AS kind, r.name AS value, 0 AS position FROM user_roles ur \
        JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
        WHERE ur.tenant_id = $1 AND ur.user_id = ANY($2) \
    UNION ALL SELECT user_id, 1, permission, 0 FROM user_permissions WHERE tenant_id = $1 AND user_id = ANY($2) \
    UNION ALL SELECT user_id, 2, value, position FROM user_expertise WHERE tenant_id = $1 AND user_id = ANY($2) \
    UNION ALL SELECT user_id, 3, provider, 0 FROM user_oauth WHERE tenant_id = $1 AND user_id = ANY($2)";

/// The related lists of these users of `tenant`, read from their tables, in the order of
/// `ids`.
pub(crate) async fn read_lists(
    conn: &mut PgConnection,
    tenant: &str,
    ids: &[Uuid],
) -> Result<Vec<UserLists>> {
    let index: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let rows = sqlx::query(RELATED_LISTS)
        .bind(tenant)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err("querying related lists"))?;
    let mut related = RelatedLists::default();
    for row in rows {
        let get = |e: sqlx::Error| map_err("reading related lists")(e);
        let id: Uuid = row.try_get("user_id").map_err(get)?;
        let kind: i32 = row.try_get("kind").map_err(get)?;
        let position: i32 = row.try_get("position").map_err(get)?;
        let value: String = row.try_get("value").map_err(get)?;
        if let (Some(&i), Some(kind)) = (index.get(&id), RelatedKind::from_code(i64::from(kind))) {
            related.push(i, kind, i64::from(position), value);
        }
    }
    related.into_lists(ids.len())
}

/// Rewrites the `lists` column of these users of `tenant` from their related tables (after a
/// write of OAuth links or a role's rename, in its transaction).
pub(crate) async fn refresh_lists(
    conn: &mut PgConnection,
    tenant: &str,
    ids: &[Uuid],
) -> Result<()> {
    for chunk in ids.chunks(REFRESH_CHUNK) {
        let lists: Vec<Option<String>> = read_lists(&mut *conn, tenant, chunk)
            .await?
            .iter()
            .map(|l| l.encode())
            .collect();
        sqlx::query(
            "UPDATE users u SET lists = x.lists FROM unnest($2::uuid[], $3::text[]) AS x(id, lists) \
             WHERE u.tenant_id = $1 AND u.id = x.id",
        )
        .bind(tenant)
        .bind(chunk)
        .bind(lists)
        .execute(&mut *conn)
        .await
        .map_err(map_err("writing users' lists"))?;
    }
    Ok(())
}

/// Users whose lists are rewritten per statement.
const REFRESH_CHUNK: usize = 1_000;

/// Runs a query selecting [`USER_COLUMNS`] (related lists included).
///
/// `by_key`: a look-up by key, prepared once per connection; otherwise (a list page, whose
/// plan depends on its values) sent unnamed and planned with its values.
pub(crate) async fn read_users(
    conn: &mut PgConnection,
    mut sql: Sql,
    by_key: bool,
) -> Result<Vec<User>> {
    let rows = sql
        .build()
        .persistent(by_key)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err("querying users"))?;
    rows.iter().map(user_from_row).collect()
}

pub(crate) async fn user_by_id(
    conn: &mut PgConnection,
    tenant: &str,
    id: Uuid,
) -> Result<Option<User>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(USER_COLUMNS)
        .push(" FROM users u WHERE u.tenant_id = ")
        .push_bind(tenant.to_owned());
    sql.push(" AND u.id = ").push_bind(id);
    Ok(read_users(conn, sql, true).await?.pop())
}

pub(crate) fn identifier_query(tenant: &str, identifier: &Identifier) -> Sql {
    let mut sql = Sql::new("SELECT ");
    sql.push(USER_COLUMNS)
        .push(" FROM users u WHERE u.tenant_id = ")
        .push_bind(tenant.to_owned());
    match identifier {
        Identifier::Email(v) => sql
            .push(" AND u.email IS NOT NULL AND lower(u.email) = lower(")
            .push_bind(v.clone())
            .push(")"),
        Identifier::Phone(v) => sql
            .push(" AND u.phone IS NOT NULL AND u.phone = ")
            .push_bind(v.clone()),
        Identifier::Username(v) => sql
            .push(" AND u.username IS NOT NULL AND lower(u.username) = lower(")
            .push_bind(v.clone())
            .push(")"),
    };
    sql
}

/// Fields whose value another user of the tenant already has.
pub(crate) async fn taken_fields(
    conn: &mut PgConnection,
    user: &User,
    exclude: Option<Uuid>,
) -> Result<Vec<String>> {
    let mut taken = Vec::new();
    for ((field, fold), value) in UNIQUE_FIELDS.into_iter().zip(unique_values(user)) {
        let Some(value) = value else { continue };
        let condition = if fold {
            format!("lower({field}) = lower($2)")
        } else {
            format!("{field} = $2")
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND {field} IS NOT NULL AND {condition} \
             AND id IS DISTINCT FROM $3)"
        );
        let found: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(user.tenant_id.as_str())
            .bind(value)
            .bind(exclude)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err("checking unique values"))?;
        if found {
            taken.push(field.to_owned());
        }
    }
    Ok(taken)
}

/// For new users of `tenant`, in order: the fields whose value a stored user, or a user
/// before it in the list, already has — one query per field for the whole list.
pub(crate) async fn taken_in_batch(
    conn: &mut PgConnection,
    tenant: &str,
    users: &[&User],
    claimed: &mut Claimed,
) -> Result<Vec<Vec<String>>> {
    let fold = |fold: bool, value: &str| {
        if fold {
            value.to_lowercase()
        } else {
            value.to_owned()
        }
    };
    let mut stored: HashMap<&'static str, std::collections::HashSet<String>> = HashMap::new();
    for (i, (field, folded)) in UNIQUE_FIELDS.into_iter().enumerate() {
        let values: Vec<String> = users
            .iter()
            .filter_map(|u| unique_values(u)[i].map(|v| fold(folded, v)))
            .collect();
        if values.is_empty() {
            continue;
        }
        let expression = if folded {
            format!("lower(u.{field})")
        } else {
            format!("u.{field}")
        };
        // One index probe per value. (`{expression} = ANY($2)` over the table lets the planner
        // walk the tenant's whole index range when it has no statistics for the expression —
        // within an import's own transaction it has none: 364 ms per query at 800,000 users,
        // against 0.9 ms this way.)
        let sql = format!(
            "SELECT v FROM unnest($2::text[]) AS v WHERE EXISTS (SELECT 1 FROM users u \
             WHERE u.tenant_id = $1 AND u.{field} IS NOT NULL AND {expression} = v)"
        );
        // Unnamed, planned with its values each time: within one import the table grows
        // far past what a plan cached at its start assumed.
        let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(tenant)
            .bind(values)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err("checking unique values"))?;
        stored.insert(field, found.into_iter().collect());
    }
    let mut taken = Vec::with_capacity(users.len());
    for user in users {
        let mut fields = Vec::new();
        let mut values = Vec::new();
        for ((field, folded), value) in UNIQUE_FIELDS.into_iter().zip(unique_values(user)) {
            let Some(value) = value else { continue };
            let value = fold(folded, value);
            let before = stored.get(field).is_some_and(|s| s.contains(&value))
                || claimed.get(field).is_some_and(|s| s.contains(&value));
            if before {
                fields.push(field.to_owned());
            }
            values.push((field, value));
        }
        // Only a row that will be written claims its values.
        if fields.is_empty() {
            for (field, value) in values {
                claimed.entry(field).or_default().insert(value);
            }
        }
        taken.push(fields);
    }
    Ok(taken)
}

/// Unique values (as their indexes compare them) of rows accepted but not yet written, by
/// field: what [`taken_in_batch`] also counts as taken.
pub(crate) type Claimed = HashMap<&'static str, std::collections::HashSet<String>>;

/// The effective permission names of user `u`, as an array (one expression of a query).
macro_rules! grants_of_u {
    () => {
        "ARRAY(SELECT rp.permission FROM user_roles ur JOIN role_permissions rp \
         ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
         WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id \
         UNION SELECT p.permission FROM user_permissions p WHERE p.tenant_id = u.tenant_id AND p.user_id = u.id)"
    };
}
pub(crate) use grants_of_u;

/// Decodes a user's status and effective permission names.
pub(crate) fn grants(status: &str, names: &[String]) -> Result<ActorGrants> {
    let permissions: PermissionSet = names.iter().filter_map(|n| n.parse().ok()).collect();
    Ok(ActorGrants {
        status: parse("decoding a status", status)?,
        permissions,
    })
}
