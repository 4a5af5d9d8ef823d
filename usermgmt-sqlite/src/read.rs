//! The read side of users: rows into users with their related lists.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use usermgmt_core::Result;
use usermgmt_core::model::{PermissionSet, User};
use usermgmt_core::storage::{
    ActorGrants, Identifier, RelatedKind, RelatedLists, UNIQUE_FIELDS, UserLists, unique_values,
};
use uuid::Uuid;

use crate::codec::{USER_COLUMNS, parse, user_from_row};
use crate::error::map_err;
use crate::query::Sql;

/// Reads users by a query selecting [`USER_COLUMNS`] (related lists included).
pub(crate) fn read_users(conn: &Connection, sql: &Sql) -> Result<Vec<User>> {
    let mut stmt = conn
        .prepare_cached(&sql.text())
        .map_err(map_err("preparing a user query"))?;
    let rows = stmt
        .query_map(crate::query::args(sql), user_from_row)
        .map_err(map_err("querying users"))?;
    let mut users = Vec::new();
    for row in rows {
        users.push(row.map_err(map_err("reading a user row"))??.1);
    }
    Ok(users)
}

/// Roles (kind 0), direct permissions (1), expertise in input order (2) and OAuth providers
/// (3) of the users whose seqs are in the JSON array `?1`, in one statement.
const RELATED_LISTS: &str = "SELECT ur.user_seq, 0, r.name, 0 FROM json_each(?1) s \
        JOIN user_roles ur ON ur.user_seq = s.value JOIN roles r ON r.id = ur.role_id \
    UNION ALL SELECT up.user_seq, 1, up.permission, 0 FROM json_each(?1) s \
        JOIN user_permissions up ON up.user_seq = s.value \
    UNION ALL SELECT e.user_seq, 2, e.value, e.position FROM json_each(?1) s \
        JOIN user_expertise e ON e.user_seq = s.value \
    UNION ALL SELECT o.user_seq, 3, o.provider, 0 FROM json_each(?1) s \
        JOIN user_oauth o ON o.user_seq = s.value";

/// Users whose lists are read or rewritten per statement.
const REFRESH_CHUNK: usize = 500;

/// The related lists of the users with these seqs (at most [`REFRESH_CHUNK`]), read from their
/// tables, in the order of `seqs`.
pub(crate) fn read_lists(conn: &Connection, seqs: &[i64]) -> Result<Vec<UserLists>> {
    let index: HashMap<i64, usize> = seqs.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let array = format!(
        "[{}]",
        seqs.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut related = RelatedLists::default();
    let mut stmt = conn
        .prepare_cached(RELATED_LISTS)
        .map_err(map_err("preparing the related-list query"))?;
    let mut rows = stmt
        .query([array])
        .map_err(map_err("querying related lists"))?;
    while let Some(row) = rows.next().map_err(map_err("reading related lists"))? {
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, String, i64)> {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        };
        let (seq, kind, value, position) = read(row).map_err(map_err("reading related lists"))?;
        if let (Some(&i), Some(kind)) = (index.get(&seq), RelatedKind::from_code(kind)) {
            related.push(i, kind, position, value);
        }
    }
    related.into_lists(seqs.len())
}

/// Rewrites the `lists` column of the users with these seqs from their related tables (after
/// a write of OAuth links or a role's rename, in its transaction).
pub(crate) fn refresh_lists(conn: &Connection, seqs: &[i64]) -> Result<()> {
    for chunk in seqs.chunks(REFRESH_CHUNK) {
        let mut update = conn
            .prepare_cached("UPDATE users SET lists = ?1 WHERE seq = ?2")
            .map_err(map_err("preparing a lists update"))?;
        for (seq, lists) in chunk.iter().zip(read_lists(conn, chunk)?) {
            update
                .execute(params![lists.encode(), seq])
                .map_err(map_err("writing a user's lists"))?;
        }
    }
    Ok(())
}

pub(crate) fn user_by_id(conn: &Connection, tenant: &str, id: Uuid) -> Result<Option<User>> {
    let mut sql = crate::query::sql();
    sql.push("SELECT ")
        .push(USER_COLUMNS)
        .push(" FROM users u WHERE u.tenant_id = ")
        .bind(tenant.to_owned());
    sql.push(" AND u.id = ").bind(id);
    Ok(read_users(conn, &sql)?.pop())
}
/// The user query for a login identifier (conditions written so the partial unique indexes
/// apply).
pub(crate) fn identifier_query(tenant: &str, identifier: &Identifier) -> Sql {
    let (condition, value) = match identifier {
        Identifier::Email(v) => ("u.email IS NOT NULL AND lower(u.email) = lower(", v.clone()),
        Identifier::Phone(v) => ("u.phone IS NOT NULL AND u.phone = (", v.clone()),
        Identifier::Username(v) => (
            "u.username IS NOT NULL AND lower(u.username) = lower(",
            v.clone(),
        ),
    };
    let mut sql = crate::query::sql();
    sql.push("SELECT ")
        .push(USER_COLUMNS)
        .push(" FROM users u WHERE u.tenant_id = ")
        .bind(tenant.to_owned());
    sql.push(" AND ").push(condition).bind(value).push(")");
    sql
}

/// Fields whose value is already taken by another user of the tenant.
pub(crate) fn taken_fields(
    tx: &Transaction<'_>,
    user: &User,
    own_seq: Option<i64>,
) -> Result<Vec<String>> {
    let mut taken = Vec::new();
    for ((field, folded), value) in UNIQUE_FIELDS.into_iter().zip(unique_values(user)) {
        let Some(value) = value else { continue };
        let condition = if folded {
            format!("lower({field}) = lower(?2)")
        } else {
            format!("{field} = ?2")
        };
        let sql = format!(
            // `{field} IS NOT NULL` lets SQLite use the partial unique index of the field.
            "SELECT 1 FROM users WHERE tenant_id = ?1 AND {field} IS NOT NULL AND {condition} \
             AND seq IS NOT ?3 LIMIT 1"
        );
        let found = tx
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params![user.tenant_id.as_str(), value, own_seq], |_| Ok(()))
                    .optional()
            })
            .map_err(map_err("checking unique values"))?;
        if found.is_some() {
            taken.push(field.to_owned());
        }
    }
    Ok(taken)
}

/// A user's status and effective permissions, in one statement (every request starts here).
/// Names are joined with the unit separator, which no permission name contains.
pub(crate) fn read_grants(
    conn: &rusqlite::Connection,
    tenant: &str,
    user_id: Uuid,
) -> Result<Option<ActorGrants>> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached(
            "SELECT u.status, (SELECT group_concat(permission, char(31)) FROM (\
             SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id \
             WHERE ur.user_seq = u.seq UNION SELECT permission FROM user_permissions WHERE user_seq = u.seq)) \
             FROM users u WHERE u.tenant_id = ?1 AND u.id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![tenant, user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_err("reading grants"))?;
    let Some((status, names)) = row else {
        return Ok(None);
    };
    let permissions: PermissionSet = names
        .as_deref()
        .unwrap_or_default()
        .split('\u{1f}')
        .filter_map(|n| n.parse().ok())
        .collect();
    Ok(Some(ActorGrants {
        status: parse("decoding a status", &status)?,
        permissions,
    }))
}
