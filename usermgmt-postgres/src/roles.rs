//! `RoleStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use usermgmt_core::model::{AuditEvent, Permission, Role, TenantId};
use usermgmt_core::storage::{RoleStore, StoredPermission};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

const ROLE_COLUMNS: &str = "SELECT r.tenant_id, r.id, r.name, r.description, r.created_at, r.updated_at, \
    coalesce(array_agg(rp.permission) FILTER (WHERE rp.permission IS NOT NULL), '{}') AS permissions \
    FROM roles r LEFT JOIN role_permissions rp ON rp.tenant_id = r.tenant_id AND rp.role_id = r.id";

fn decode(row: &PgRow) -> Result<Role> {
    let get = |e: sqlx::Error| map_err("decoding a role")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let permissions: Vec<String> = row.try_get("permissions").map_err(get)?;
    Ok(Role {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a role", "tenant"))?,
        name: row.try_get("name").map_err(get)?,
        description: row.try_get("description").map_err(get)?,
        permissions: permissions
            .iter()
            .filter_map(|p| p.parse::<Permission>().ok())
            .collect(),
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

async fn write_permissions(conn: &mut PgConnection, role: &Role) -> Result<()> {
    sqlx::query("DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2")
        .bind(role.tenant_id.as_str())
        .bind(role.id)
        .execute(&mut *conn)
        .await
        .map_err(map_err("clearing role permissions"))?;
    let permissions: Vec<&str> = role.permissions.iter().map(|p| p.as_str()).collect();
    sqlx::query("INSERT INTO role_permissions (tenant_id, role_id, permission) SELECT $1, $2, unnest($3::text[])")
        .bind(role.tenant_id.as_str())
        .bind(role.id)
        .bind(permissions)
        .execute(conn)
        .await
        .map_err(map_err("writing role permissions"))?;
    Ok(())
}

async fn name_taken(conn: &mut PgConnection, role: &Role) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM roles WHERE tenant_id = $1 AND lower(name) = lower($2) AND id <> $3)")
        .bind(role.tenant_id.as_str())
        .bind(&role.name)
        .bind(role.id)
        .fetch_one(conn)
        .await
        .map_err(map_err("checking a role name"))
}

impl PgStorage {
    async fn roles_where(
        &self,
        tenant: &TenantId,
        condition: &str,
        bind: RoleFilter,
    ) -> Result<Vec<Role>> {
        let sql = format!(
            "{ROLE_COLUMNS} WHERE r.tenant_id = $1 {condition} GROUP BY r.tenant_id, r.id ORDER BY r.name"
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(tenant.as_str());
        let query = match bind {
            RoleFilter::All => query,
            RoleFilter::Id(id) => query.bind(id),
            RoleFilter::Names(names) => query.bind(names),
        };
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("reading roles"))?;
        rows.iter().map(decode).collect()
    }
}

enum RoleFilter {
    All,
    Id(Uuid),
    Names(Vec<String>),
}

impl PgStorage {
    /// Inserts (`insert`) or updates a role with its permissions and audit event; a name
    /// taken by another role is a conflict on `name`.
    async fn store_role(&self, role: &Role, audit: AuditEvent, insert: bool) -> Result<()> {
        let mut tx = self.begin().await?;
        if name_taken(&mut tx, role).await? {
            return Err(Error::conflict("name"));
        }
        // Whether the role is stored under another name (its holders keep it beside them).
        let renamed: bool = if insert {
            false
        } else {
            sqlx::query_scalar("SELECT name <> $3 FROM roles WHERE tenant_id = $1 AND id = $2")
                .bind(role.tenant_id.as_str())
                .bind(role.id)
                .bind(&role.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err("reading a role's name"))?
                .unwrap_or(false)
        };
        let (sql, created_at) = if insert {
            (
                "INSERT INTO roles (tenant_id, id, name, description, updated_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                Some(role.created_at),
            )
        } else {
            (
                "UPDATE roles SET name = $3, description = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND id = $2",
                None,
            )
        };
        let mut query = sqlx::query(sql)
            .bind(role.tenant_id.as_str())
            .bind(role.id)
            .bind(&role.name)
            .bind(&role.description)
            .bind(role.updated_at);
        if let Some(created_at) = created_at {
            query = query.bind(created_at);
        }
        let written = query
            .execute(&mut *tx)
            .await
            .map_err(map_err("writing a role"))?;
        if written.rows_affected() == 0 {
            return Err(Error::NotFound("role"));
        }
        write_permissions(&mut tx, role).await?;
        if renamed {
            let holders: Vec<Uuid> = sqlx::query_scalar(
                "SELECT user_id FROM user_roles WHERE tenant_id = $1 AND role_id = $2",
            )
            .bind(role.tenant_id.as_str())
            .bind(role.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err("reading a role's holders"))?;
            crate::read::refresh_lists(&mut tx, role.tenant_id.as_str(), &holders).await?;
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await
    }
}

#[async_trait]
impl RoleStore for PgStorage {
    async fn insert_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &role.tenant_id)?;
        self.store_role(role, audit, true).await
    }

    async fn get_role(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Role>> {
        Ok(self
            .roles_where(tenant, "AND r.id = $2", RoleFilter::Id(id))
            .await?
            .pop())
    }

    async fn roles_by_names(&self, tenant: &TenantId, names: &[String]) -> Result<Vec<Role>> {
        self.roles_where(
            tenant,
            "AND r.name = ANY($2)",
            RoleFilter::Names(names.to_vec()),
        )
        .await
    }

    async fn stored_permissions(&self) -> Result<Vec<StoredPermission>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(usermgmt_sql::STORED_PERMISSIONS)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("reading the stored permissions"))?;
        Ok(rows
            .into_iter()
            .map(|(name, roles, users)| StoredPermission {
                name,
                roles: roles.unsigned_abs(),
                users: users.unsigned_abs(),
            })
            .collect())
    }

    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>> {
        self.roles_where(tenant, "", RoleFilter::All).await
    }

    async fn update_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &role.tenant_id)?;
        self.store_role(role, audit, false).await
    }

    async fn delete_role(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM user_roles WHERE tenant_id = $1 AND role_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err("checking role use"))?;
        if held {
            return Err(Error::conflict("role"));
        }
        let deleted = sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err("deleting a role"))?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound("role"));
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await
    }
}
