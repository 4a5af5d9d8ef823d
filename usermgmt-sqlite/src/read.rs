//! The read side of users: rows into users with their related lists.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use usermgmt_core::Result;
use usermgmt_core::model::{PermissionSet, User};
use usermgmt_core::storage::{
    ActorGrants, Identifier, RelatedKind, RelatedLists, UNIQUE_FIELDS, unique_values,
};
use uuid::Uuid;

use crate::codec::{USER_COLUMNS, parse, user_from_row};
use crate::error::map_err;
use crate::query::Sql;

/// Reads users by a query selecting [`USER_COLUMNS`], attaching their related lists.
pub(crate) fn read_users(conn: &Connection, sql: &Sql) -> Result<Vec<User>> {
    let mut stmt = conn
        .prepare_cached(&sql.text())
        .map_err(map_err("preparing a user query"))?;
    let rows = stmt
        .query_map(crate::query::args(sql), user_from_row)
        .map_err(map_err("querying users"))?;
    let mut users = Vec::new();
    for row in rows {
        users.push(row.map_err(map_err("reading a user row"))??);
    }
    attach_related(conn, &mut users)?;
    Ok(users.into_iter().map(|(_, user)| user).collect())
}

/// The related lists after the roles: direct permissions (1), expertise in input order (2)
/// and OAuth providers (3) of the users whose seqs are in the JSON array `?1`.
macro_rules! lists_after_roles {
    () => {
        " UNION ALL SELECT up.user_seq, 1, up.permission, 0 FROM json_each(?1) s \
            JOIN user_permissions up ON up.user_seq = s.value \
        UNION ALL SELECT e.user_seq, 2, e.value, e.position FROM json_each(?1) s \
            JOIN user_expertise e ON e.user_seq = s.value \
        UNION ALL SELECT o.user_seq, 3, o.provider, 0 FROM json_each(?1) s \
            JOIN user_oauth o ON o.user_seq = s.value"
    };
}

/// Roles (kind 0) and the other related lists of the users whose seqs are in the JSON array
/// `?1`, in one statement (unsorted: sorting happens per user afterwards, which is far cheaper
/// than sorting the whole result).
const RELATED_LISTS: &str = concat!(
    "SELECT ur.user_seq, 0, r.name, 0 FROM json_each(?1) s \
        JOIN user_roles ur ON ur.user_seq = s.value JOIN roles r ON r.id = ur.role_id",
    lists_after_roles!()
);

/// [`RELATED_LISTS`] with roles by id (kind 0's value is the role id): an export names them
/// from the tenant's roles read once ([`RoleNames`]) instead of a look-up per holder.
const RELATED_LISTS_BY_ROLE_ID: &str = concat!(
    "SELECT ur.user_seq, 0, ur.role_id, 0 FROM json_each(?1) s \
        JOIN user_roles ur ON ur.user_seq = s.value",
    lists_after_roles!()
);

/// A tenant's role names by id, read once for a long read (an export).
pub(crate) struct RoleNames(HashMap<Uuid, String>);

impl RoleNames {
    /// Reads the tenant's roles (inside the caller's read transaction).
    pub(crate) fn read(conn: &Connection, tenant: &str) -> Result<Self> {
        let mut stmt = conn
            .prepare_cached("SELECT id, name FROM roles WHERE tenant_id = ?1")
            .map_err(map_err("reading roles"))?;
        let rows = stmt
            .query_map([tenant], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(map_err("reading roles"))?;
        let mut names = HashMap::new();
        for row in rows {
            let (id, name): (Uuid, String) = row.map_err(map_err("reading roles"))?;
            names.insert(id, name);
        }
        Ok(Self(names))
    }
}

/// Fills roles, direct permissions, expertise and OAuth providers of users read by seq.
pub(crate) fn attach_related(conn: &Connection, users: &mut [(i64, User)]) -> Result<()> {
    attach_related_lists(conn, users, None)
}

/// [`attach_related`] naming roles from `roles` (read in the same transaction).
pub(crate) fn attach_related_named(
    conn: &Connection,
    users: &mut [(i64, User)],
    roles: &RoleNames,
) -> Result<()> {
    attach_related_lists(conn, users, Some(roles))
}

fn attach_related_lists(
    conn: &Connection,
    users: &mut [(i64, User)],
    roles: Option<&RoleNames>,
) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let index: HashMap<i64, usize> = users
        .iter()
        .enumerate()
        .map(|(i, (seq, _))| (*seq, i))
        .collect();
    // In key order: neighbouring look-ups share pages.
    let mut seqs: Vec<i64> = users.iter().map(|(seq, _)| *seq).collect();
    seqs.sort_unstable();
    let seqs: Vec<String> = seqs.iter().map(i64::to_string).collect();
    let seqs = format!("[{}]", seqs.join(","));
    let query = if roles.is_some() {
        RELATED_LISTS_BY_ROLE_ID
    } else {
        RELATED_LISTS
    };
    let mut stmt = conn
        .prepare_cached(query)
        .map_err(map_err("preparing the related-list query"))?;
    let mut rows = stmt
        .query([seqs])
        .map_err(map_err("querying related lists"))?;
    let mut related = RelatedLists::default();
    while let Some(row) = rows.next().map_err(map_err("reading related lists"))? {
        let seq: i64 = row.get(0).map_err(map_err("reading related lists"))?;
        let kind: i64 = row.get(1).map_err(map_err("reading related lists"))?;
        let value: String =
            match (roles, kind) {
                (Some(roles), 0) => {
                    let id: Uuid = row.get(2).map_err(map_err("reading related lists"))?;
                    roles.0.get(&id).cloned().ok_or_else(|| {
                        crate::error::corrupt("reading related lists", "unknown role")
                    })?
                }
                _ => row.get(2).map_err(map_err("reading related lists"))?,
            };
        let position: i64 = row.get(3).map_err(map_err("reading related lists"))?;
        if let (Some(&i), Some(kind)) = (index.get(&seq), RelatedKind::from_code(kind)) {
            related.push(i, kind, position, value);
        }
    }
    related.apply(users, |(_, user)| user)
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
