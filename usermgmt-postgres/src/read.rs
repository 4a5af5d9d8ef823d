//! The read side of users: rows into users with their related lists.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};
use usermgmt_core::Result;
use usermgmt_core::model::{PermissionSet, User};
use usermgmt_core::storage::{ActorGrants, Identifier, RelatedKind, RelatedLists};
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

/// Fills roles, direct permissions, expertise and OAuth providers of `users` (one tenant).
pub(crate) async fn attach_related(conn: &mut PgConnection, users: &mut [User]) -> Result<()> {
    let Some(first) = users.first() else {
        return Ok(());
    };
    let tenant = first.tenant_id.as_str().to_owned();
    let index: HashMap<Uuid, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
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
    related.apply(users, |user| user)
}

/// Runs a query selecting [`USER_COLUMNS`] and attaches the related lists.
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
    let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
    attach_related(conn, &mut users).await?;
    Ok(users)
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
    let checks = [
        ("email", "lower(email) = lower($2)", user.email.as_deref()),
        ("phone", "phone = $2", user.phone.as_deref()),
        (
            "username",
            "lower(username) = lower($2)",
            user.username.as_deref(),
        ),
        (
            "unique_id",
            "lower(unique_id) = lower($2)",
            user.unique_id.as_deref(),
        ),
    ];
    let mut taken = Vec::new();
    for (field, condition, value) in checks {
        let Some(value) = value else { continue };
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
