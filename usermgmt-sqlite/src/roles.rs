//! `RoleStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use usermgmt_core::model::{AuditEvent, Permission, Role, TenantId};
use usermgmt_core::storage::{RoleStore, StoredPermission};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::{from_micros, micros};
use crate::error::{corrupt, map_err};
use crate::query::Sql;

fn read_roles(conn: &Connection, sql: &Sql) -> Result<Vec<Role>> {
    let mut stmt = conn
        .prepare_cached(&sql.text())
        .map_err(map_err("preparing a role query"))?;
    let raws = stmt
        .query_map(crate::query::args(sql), |r| {
            Ok((
                r.get::<_, Uuid>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(map_err("reading roles"))?;
    let mut roles = Vec::with_capacity(raws.len());
    for (id, tenant, name, description, created, updated) in raws {
        let permissions = conn
            .prepare_cached("SELECT permission FROM role_permissions WHERE role_id = ?1")
            .and_then(|mut s| {
                s.query_map([id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(map_err("reading role permissions"))?;
        roles.push(Role {
            id,
            tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a role", "tenant"))?,
            name,
            description,
            permissions: permissions
                .iter()
                .filter_map(|p| p.parse::<Permission>().ok())
                .collect(),
            created_at: from_micros(created)?,
            updated_at: from_micros(updated)?,
        });
    }
    Ok(roles)
}

const ROLE_COLUMNS: &str =
    "SELECT id, tenant_id, name, description, created_at, updated_at FROM roles WHERE tenant_id = ";

fn write_permissions(conn: &Connection, role: &Role) -> Result<()> {
    conn.execute("DELETE FROM role_permissions WHERE role_id = ?1", [role.id])
        .map_err(map_err("clearing role permissions"))?;
    for permission in &role.permissions {
        conn.prepare_cached("INSERT INTO role_permissions (role_id, permission) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![role.id, permission.as_str()]))
            .map_err(map_err("writing role permissions"))?;
    }
    Ok(())
}

/// Whether `role` is stored under another name.
fn renamed(conn: &Connection, role: &Role) -> Result<bool> {
    conn.prepare_cached("SELECT name <> ?1 FROM roles WHERE tenant_id = ?2 AND id = ?3")
        .and_then(|mut s| {
            s.query_row(params![role.name, role.tenant_id.as_str(), role.id], |r| {
                r.get::<_, bool>(0)
            })
            .optional()
        })
        .map(|renamed| renamed.unwrap_or(false))
        .map_err(map_err("reading a role's name"))
}

fn name_taken(conn: &Connection, role: &Role) -> Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM roles WHERE tenant_id = ?1 AND lower(name) = lower(?2) AND id <> ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![role.tenant_id.as_str(), role.name, role.id], |_| {
            Ok(())
        })
        .optional()
    })
    .map(|found| found.is_some())
    .map_err(map_err("checking a role name"))
}

impl SqliteStorage {
    /// Inserts (`insert`) or updates a role with its permissions and audit event; a name
    /// taken by another role is a conflict on `name`.
    async fn store_role(&self, role: &Role, audit: AuditEvent, insert: bool) -> Result<()> {
        let role = role.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                if name_taken(&tx, &role)? {
                    return Err(Error::conflict("name"));
                }
                if insert {
                    tx.execute(
                        "INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![role.id, role.tenant_id.as_str(), role.name, role.description, micros(role.created_at), micros(role.updated_at)],
                    )
                    .map_err(map_err("inserting a role"))?;
                } else {
                    let renamed = renamed(&tx, &role)?;
                    let changed = tx
                        .execute(
                            "UPDATE roles SET name = ?1, description = ?2, updated_at = ?3 WHERE tenant_id = ?4 AND id = ?5",
                            params![role.name, role.description, micros(role.updated_at), role.tenant_id.as_str(), role.id],
                        )
                        .map_err(map_err("updating a role"))?;
                    if changed == 0 {
                        return Err(Error::NotFound("role"));
                    }
                    if renamed {
                        // Holders keep the role's name beside their row.
                        let holders = tx
                            .prepare_cached("SELECT user_seq FROM user_roles WHERE role_id = ?1")
                            .and_then(|mut s| {
                                s.query_map([role.id], |r| r.get::<_, i64>(0))?
                                    .collect::<rusqlite::Result<Vec<_>>>()
                            })
                            .map_err(map_err("reading a role's holders"))?;
                        crate::read::refresh_lists(&tx, &holders)?;
                    }
                }
                write_permissions(&tx, &role)?;
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)
            })
            .await
    }
}

#[async_trait]
impl RoleStore for SqliteStorage {
    async fn insert_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &role.tenant_id)?;
        self.store_role(role, audit, true).await
    }

    async fn get_role(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Role>> {
        let mut sql = crate::query::sql();
        sql.push(ROLE_COLUMNS)
            .bind(tenant.as_str().to_owned())
            .push(" AND id = ")
            .bind(id);
        self.pool
            .run(move |conn| Ok(read_roles(conn, &sql)?.pop()))
            .await
    }

    async fn roles_by_names(&self, tenant: &TenantId, names: &[String]) -> Result<Vec<Role>> {
        let mut sql = crate::query::sql();
        sql.push(ROLE_COLUMNS)
            .bind(tenant.as_str().to_owned())
            .push(" AND name IN ")
            .bind_list(names.iter().cloned());
        self.pool.run(move |conn| read_roles(conn, &sql)).await
    }

    async fn stored_permissions(&self) -> Result<Vec<StoredPermission>> {
        self.pool
            .run(|conn| {
                let mut stmt = conn
                    .prepare_cached(usermgmt_sql::STORED_PERMISSIONS)
                    .map_err(map_err("preparing the stored permissions"))?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(StoredPermission {
                            name: r.get(0)?,
                            roles: r.get::<_, i64>(1)?.unsigned_abs(),
                            users: r.get::<_, i64>(2)?.unsigned_abs(),
                        })
                    })
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(map_err("reading the stored permissions"))?;
                Ok(rows)
            })
            .await
    }

    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>> {
        let mut sql = crate::query::sql();
        sql.push(ROLE_COLUMNS)
            .bind(tenant.as_str().to_owned())
            .push(" ORDER BY name");
        self.pool.run(move |conn| read_roles(conn, &sql)).await
    }

    async fn update_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &role.tenant_id)?;
        self.store_role(role, audit, false).await
    }

    async fn delete_role(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<()> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let held: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM user_roles WHERE role_id = ?1",
                        [id],
                        |r| r.get(0),
                    )
                    .map_err(map_err("checking role use"))?;
                if held > 0 {
                    return Err(Error::conflict("role"));
                }
                let deleted = tx
                    .execute(
                        "DELETE FROM roles WHERE tenant_id = ?1 AND id = ?2",
                        params![tenant, id],
                    )
                    .map_err(map_err("deleting a role"))?;
                if deleted == 0 {
                    return Err(Error::NotFound("role"));
                }
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)
            })
            .await
    }
}
