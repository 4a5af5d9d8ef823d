//! `UserRecords`, `UserQueries` and `AuthStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use usermgmt_core::filter::ListPlan;
use usermgmt_core::model::{AuditEvent, TenantId, User, name_sort_key};
use usermgmt_core::service::BulkDeleteOutcome;
use usermgmt_core::storage::{
    BulkDelete, Identifier, NewUser, PasswordChange, UserBatches, UserQueries, UserRecords,
    UserReplace,
};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::codec::parse;
use crate::error::map_err;
use crate::query::{Pg, Sql, USER_COLUMNS, build};
use crate::read::{identifier_query, read_lists, read_users, taken_fields, user_by_id};
use crate::sessions::end_user_sessions;
use crate::tx::commit;
use usermgmt_core::storage::UserLists;

/// Inserts (`insert`) or updates every column of `user` with the given version and stored
/// related lists ([`UserLists::encode`]).
async fn write_user_row(
    conn: &mut PgConnection,
    insert: bool,
    user: &User,
    version: i64,
    lists: Option<String>,
) -> Result<()> {
    let p = &user.profile;
    let sql = if insert {
        "INSERT INTO users (tenant_id, id, name, name_key, email, phone, username, unique_id, status, is_admin, \
         is_instructor, is_learner, email_verified, phone_verified, auth_method, avatar_url, bio, country, city, \
         state, continent, timezone, locale, gender, designation, date_of_birth, profile_completeness, created_at, \
         updated_at, last_login_at, deleted_at, failed_login_attempts, locked_until, version, search_text, lists) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
         $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)"
    } else {
        "UPDATE users SET name = $3, name_key = $4, email = $5, phone = $6, username = $7, unique_id = $8, \
         status = $9, is_admin = $10, is_instructor = $11, is_learner = $12, email_verified = $13, \
         phone_verified = $14, auth_method = $15, avatar_url = $16, bio = $17, country = $18, city = $19, \
         state = $20, continent = $21, timezone = $22, locale = $23, gender = $24, designation = $25, \
         date_of_birth = $26, profile_completeness = $27, created_at = $28, updated_at = $29, \
         last_login_at = $30, deleted_at = $31, failed_login_attempts = $32, locked_until = $33, version = $34, \
         search_text = $35, lists = $36 WHERE tenant_id = $1 AND id = $2"
    };
    sqlx::query(sql)
        .bind(user.tenant_id.as_str())
        .bind(user.id)
        .bind(&user.name)
        .bind(name_sort_key(&user.name))
        .bind(&user.email)
        .bind(&user.phone)
        .bind(&user.username)
        .bind(&user.unique_id)
        .bind(user.status.as_str())
        .bind(user.is_admin)
        .bind(user.is_instructor)
        .bind(user.is_learner)
        .bind(user.email_verified)
        .bind(user.phone_verified)
        .bind(user.auth_method.as_str())
        .bind(&p.avatar_url)
        .bind(&p.bio)
        .bind(&p.country)
        .bind(&p.city)
        .bind(&p.state)
        .bind(p.continent.map(|c| c.as_str()))
        .bind(&p.timezone)
        .bind(&p.locale)
        .bind(p.gender.map(|g| g.as_str()))
        .bind(&p.designation)
        .bind(p.date_of_birth)
        .bind(i16::from(user.profile_completeness))
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(user.last_login_at)
        .bind(user.deleted_at)
        .bind(i32::try_from(user.failed_login_attempts).unwrap_or(i32::MAX))
        .bind(user.locked_until)
        .bind(version)
        .bind(user.search_text())
        .bind(lists)
        .execute(&mut *conn)
        .await
        .map_err(map_err("writing a user"))?;
    Ok(())
}

/// Replaces roles, direct permissions and expertise of a user.
async fn write_related(conn: &mut PgConnection, user: &User) -> Result<()> {
    let tenant = user.tenant_id.as_str();
    for table in ["user_roles", "user_permissions", "user_expertise"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2"
        )))
        .bind(tenant)
        .bind(user.id)
        .execute(&mut *conn)
        .await
        .map_err(map_err("clearing user grants"))?;
    }
    if !user.roles.is_empty() {
        let inserted = sqlx::query(
            "INSERT INTO user_roles (tenant_id, user_id, role_id) SELECT $1, $2, id FROM roles \
             WHERE tenant_id = $1 AND name = ANY($3)",
        )
        .bind(tenant)
        .bind(user.id)
        .bind(&user.roles)
        .execute(&mut *conn)
        .await
        .map_err(map_err("granting roles"))?;
        if inserted.rows_affected() != user.roles.len() as u64 {
            return Err(Error::invalid("roles", "unknown role"));
        }
    }
    let permissions: Vec<&str> = user.permissions.iter().map(|p| p.as_str()).collect();
    sqlx::query("INSERT INTO user_permissions (tenant_id, user_id, permission) SELECT $1, $2, unnest($3::text[])")
        .bind(tenant)
        .bind(user.id)
        .bind(permissions)
        .execute(&mut *conn)
        .await
        .map_err(map_err("granting permissions"))?;
    let positions: Vec<i32> = (0..user.profile.expertise.len() as i32).collect();
    sqlx::query(
        "INSERT INTO user_expertise (tenant_id, user_id, position, value) \
         SELECT $1, $2, p, v FROM unnest($3::int[], $4::text[]) AS x(p, v)",
    )
    .bind(tenant)
    .bind(user.id)
    .bind(positions)
    .bind(&user.profile.expertise)
    .execute(&mut *conn)
    .await
    .map_err(map_err("writing expertise"))?;
    Ok(())
}

async fn set_password(conn: &mut PgConnection, user: &User, hash: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(user.tenant_id.as_str())
        .bind(user.id)
        .bind(hash)
        .execute(conn)
        .await
        .map_err(map_err("setting a password"))?;
    Ok(())
}

/// Inserts one user with everything that belongs to it (inside the caller's transaction).
pub(crate) async fn insert_one(
    conn: &mut PgConnection,
    new: &NewUser,
    audit: &AuditEvent,
) -> Result<()> {
    let taken = taken_fields(conn, &new.user, None).await?;
    if !taken.is_empty() {
        return Err(Error::Conflict { fields: taken });
    }
    write_user_row(conn, true, &new.user, 1, UserLists::of_new(new).encode()).await?;
    write_related(conn, &new.user).await?;
    if let Some(hash) = &new.password_hash {
        set_password(conn, &new.user, Some(hash.as_phc())).await?;
    }
    for link in &new.oauth_links {
        crate::oauth::insert_link(conn, new.user.tenant_id.as_str(), new.user.id, link).await?;
    }
    insert_event(conn, audit).await
}

/// One page of users (and the count, when asked for) on `conn`.
async fn list_page(
    conn: &mut PgConnection,
    tenant: &TenantId,
    plan: &ListPlan,
    now: DateTime<Utc>,
    pushdown: Option<&usermgmt_core::storage::EnrollmentLayout>,
) -> Result<(Vec<User>, Option<u64>)> {
    let pushdown = pushdown.map(|layout| usermgmt_sql::Pushdown {
        layout,
        schema: None,
    });
    let mut m = usermgmt_sql::Matching::plan(tenant.as_str(), plan, now).pushdown(pushdown);
    if let Some(probe) = usermgmt_sql::few_keys_probe(&Pg, tenant.as_str(), &plan.filters) {
        // One round trip for both bounded counts: a rare role (the tenant's super admins)
        // or a rare status (no index of `users` holds it, migration 13) would otherwise walk
        // the whole sort order; their few users are read by key instead.
        let (roles, statuses): (Option<i64>, Option<i64>) = build(&probe)
            .build_query_as()
            .persistent(false)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err("counting role holders and statuses"))?;
        if let Some(holders) = roles {
            m = m.roles(usermgmt_sql::roles_form_for(holders));
        }
        if let Some(holders) = statuses {
            m = m.status_keys(holders < usermgmt_sql::ROLE_HOLDERS_DRIVE_BELOW);
        }
    }
    let from = usermgmt_sql::users_table(&Pg);
    let page = usermgmt_sql::page_query(&Pg, USER_COLUMNS, &from, plan, &m);
    let users = read_users(conn, build(&page), false).await?;
    let total = if plan.include_total {
        let mut sql = build(&usermgmt_sql::count_query(&Pg, &from, &m));
        let count: i64 = sql
            .build_query_scalar()
            .persistent(false)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err("counting users"))?;
        Some(u64::try_from(count).unwrap_or(0))
    } else {
        None
    };
    Ok((users, total))
}

/// Replaces a user on `conn` (inside a transaction): the version must match, unique values
/// must be free; the password, audit events and session ending as the change says.
pub(crate) async fn replace_one(
    conn: &mut PgConnection,
    tenant: &str,
    change: &UserReplace,
) -> Result<()> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
    )
    .bind(tenant)
    .bind(change.user.id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err("reading a user version"))?;
    let version = version.ok_or(Error::NotFound("user"))?;
    if version != change.expected_version {
        return Err(Error::VersionConflict {
            expected: change.expected_version,
            current: version,
        });
    }
    let taken = taken_fields(&mut *conn, &change.user, Some(change.user.id)).await?;
    if !taken.is_empty() {
        return Err(Error::Conflict { fields: taken });
    }
    write_related(&mut *conn, &change.user).await?;
    let lists = read_lists(
        &mut *conn,
        change.user.tenant_id.as_str(),
        &[change.user.id],
    )
    .await?
    .pop()
    .and_then(|l| l.encode());
    write_user_row(&mut *conn, false, &change.user, version + 1, lists).await?;
    match &change.password {
        PasswordChange::Keep => {}
        PasswordChange::Set(hash) => {
            set_password(&mut *conn, &change.user, Some(hash.as_phc())).await?
        }
        PasswordChange::Clear => set_password(&mut *conn, &change.user, None).await?,
    }
    // Audit events last (their outbox ids are taken at commit, migration 10, so the order is
    // no longer needed to avoid a deadlock with a logout; it keeps the change's rows first).
    let ended = match &change.end_sessions {
        Some(_) => {
            end_user_sessions(
                &mut *conn,
                tenant,
                &[change.user.id],
                change.user.updated_at,
            )
            .await?
        }
        None => 0,
    };
    for event in &change.audit {
        insert_event(&mut *conn, event).await?;
    }
    if let Some(event) = &change.end_sessions
        && ended > 0
    {
        insert_event(&mut *conn, event).await?;
    }
    Ok(())
}

#[async_trait]
impl UserRecords for PgStorage {
    async fn insert_user(
        &self,
        tenant: &TenantId,
        new: NewUser,
        audit: AuditEvent,
    ) -> Result<User> {
        usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
        let mut tx = self.begin().await?;
        insert_one(&mut tx, &new, &audit).await?;
        let stored = user_by_id(&mut tx, new.user.tenant_id.as_str(), new.user.id).await?;
        commit(tx).await?;
        stored.ok_or(Error::NotFound("user"))
    }

    async fn insert_users(
        &self,
        tenant: &TenantId,
        users: Vec<(NewUser, AuditEvent)>,
    ) -> Result<u64> {
        for (new, _) in &users {
            usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
        }
        let mut tx = self.begin().await?;
        crate::copy::insert_users(&mut tx, &users).await?;
        commit(tx).await?;
        Ok(users.len() as u64)
    }

    async fn get_user(&self, tenant: &TenantId, id: Uuid) -> Result<Option<User>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection"))?;
        user_by_id(&mut conn, tenant.as_str(), id).await
    }

    async fn users_by_ids(&self, tenant: &TenantId, ids: &[Uuid]) -> Result<Vec<User>> {
        let mut sql = Sql::new("SELECT ");
        sql.push(USER_COLUMNS)
            .push(" FROM users u WHERE u.tenant_id = ")
            .push_bind(tenant.as_str().to_owned());
        sql.push(" AND u.id = ANY(")
            .push_bind(ids.to_vec())
            .push(")");
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection"))?;
        read_users(&mut conn, sql, true).await
    }

    async fn find_user(&self, tenant: &TenantId, identifier: &Identifier) -> Result<Option<User>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection"))?;
        Ok(read_users(
            &mut conn,
            identifier_query(tenant.as_str(), identifier),
            true,
        )
        .await?
        .pop())
    }

    async fn replace_user(&self, tenant: &TenantId, change: UserReplace) -> Result<User> {
        let mut tx = self.begin().await?;
        replace_one(&mut tx, tenant.as_str(), &change).await?;
        let stored = user_by_id(&mut tx, tenant.as_str(), change.user.id).await?;
        commit(tx).await?;
        stored.ok_or(Error::NotFound("user"))
    }
}

#[async_trait]
impl UserQueries for PgStorage {
    fn pushes_down_enrollments(&self) -> bool {
        self.pushdown.is_some()
    }

    fn enrollment_feed(
        &self,
    ) -> Option<std::sync::Arc<dyn usermgmt_core::storage::EnrollmentFeed>> {
        self.learning.clone().map(|s| {
            std::sync::Arc::new(s) as std::sync::Arc<dyn usermgmt_core::storage::EnrollmentFeed>
        })
    }

    fn export_users(
        &self,
        tenant: &TenantId,
        plan: ListPlan,
        now: DateTime<Utc>,
        batch: u32,
    ) -> UserBatches {
        let (store, tenant) = (self.clone(), tenant.clone());
        UserBatches::spawn(move |sink| async move {
            store.export_into(&tenant, plan, now, batch, sink).await
        })
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<(Vec<User>, Option<u64>)> {
        let pushdown = self.pushdown_for(&plan.filters);
        if pushdown.is_none() {
            // Under READ COMMITTED a transaction would not give the page and the count one
            // snapshot anyway: without push-down, skip its two round trips.
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(map_err("taking a connection"))?;
            return list_page(&mut conn, tenant, plan, now, None).await;
        }
        let result = async {
            let mut tx = self.begin_limited(true).await?;
            let page = list_page(&mut tx, tenant, plan, now, pushdown).await?;
            commit(tx).await?;
            Ok(page)
        }
        .await;
        // With push-down, a failure means the learning data could not be read.
        result.map_err(Error::enrollment_unavailable)
    }

    async fn bulk_soft_delete(
        &self,
        tenant: &TenantId,
        request: BulkDelete,
    ) -> Result<BulkDeleteOutcome> {
        let mut tx = self.begin().await?;
        let mut sql = build(&usermgmt_sql::bulk_delete_selection(
            &Pg,
            tenant.as_str(),
            &request,
        ));
        // NO KEY: writers still exclude each other, and the update that follows is a plain
        // update — after FOR UPDATE PostgreSQL must keep the stronger lock beside the update
        // in a multixact, which made the 10,000-row update 1.7× slower.
        sql.push(" FOR NO KEY UPDATE OF u");
        let rows = sql
            .build()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err("selecting users to delete"))?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let get = |e: sqlx::Error| map_err("selecting users to delete")(e);
            let id: Uuid = row.try_get(1).map_err(get)?;
            let status: String = row.try_get(2).map_err(get)?;
            let protected: bool = row.try_get(3).map_err(get)?;
            found.push(((), id, parse("decoding a status", &status)?, protected));
        }
        let (outcome, targets) = request.decide(found);
        // Set-based: one statement per table whatever the number of users.
        let all: Vec<Uuid> = targets.values().flatten().map(|(_, id)| *id).collect();
        if !all.is_empty() {
            sqlx::query(
                "UPDATE users SET status = 'deleted', deleted_at = $3, updated_at = $3, version = version + 1 \
                 WHERE tenant_id = $1 AND id = ANY($2)",
            )
            .bind(tenant.as_str())
            .bind(&all)
            .bind(request.now)
            .execute(&mut *tx)
            .await
            .map_err(map_err("soft-deleting users"))?;
            end_user_sessions(&mut tx, tenant.as_str(), &all, request.now).await?;
            for (status, targets) in &targets {
                let ids: Vec<Uuid> = targets.iter().map(|(_, id)| *id).collect();
                crate::audit::insert_events_for(&mut tx, &request.audit_for(*status), &ids).await?;
            }
        }
        commit(tx).await?;
        Ok(outcome)
    }
}
