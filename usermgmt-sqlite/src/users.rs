//! `UserRecords`, `UserQueries` and `AuthStore` on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use usermgmt_core::filter::{ListPlan, UserFilters};
use usermgmt_core::model::{AuditEvent, PermissionSet, Session, TenantId, User, name_sort_key};
use usermgmt_core::password::PasswordHash;
use usermgmt_core::service::BulkDeleteOutcome;
use usermgmt_core::storage::{
    ActorGrants, AuthStore, BatchSink, BulkDelete, Identifier, LoginFailure, NewUser,
    PasswordChange, RelatedKind, RelatedLists, UserBatches, UserQueries, UserRecords, UserReplace,
};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::{USER_COLUMNS, date_text, micros, parse, user_from_row};
use crate::error::map_err;
use crate::pool::{commit, immediate};
use crate::query::{Lite, RolesForm, SearchMode, Sql, args, roles_form, search_mode, uuid_value};
use crate::sessions::{end_user_sessions, insert_session_row};

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

/// Roles (kind 0), direct permissions (1), expertise in input order (2) and OAuth providers
/// (3) of the users whose seqs are in the JSON array `?1`, in one statement (unsorted: sorting
/// happens per user afterwards, which is far cheaper than sorting the whole result).
const RELATED_LISTS: &str = "\
    SELECT ur.user_seq, 0, r.name, 0 FROM json_each(?1) s \
        JOIN user_roles ur ON ur.user_seq = s.value JOIN roles r ON r.id = ur.role_id \
    UNION ALL SELECT up.user_seq, 1, up.permission, 0 FROM json_each(?1) s \
        JOIN user_permissions up ON up.user_seq = s.value \
    UNION ALL SELECT e.user_seq, 2, e.value, e.position FROM json_each(?1) s \
        JOIN user_expertise e ON e.user_seq = s.value \
    UNION ALL SELECT o.user_seq, 3, o.provider, 0 FROM json_each(?1) s \
        JOIN user_oauth o ON o.user_seq = s.value";

/// Fills roles, direct permissions, expertise and OAuth providers of users read by seq.
fn attach_related(conn: &Connection, users: &mut [(i64, User)]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let index: HashMap<i64, usize> = users
        .iter()
        .enumerate()
        .map(|(i, (seq, _))| (*seq, i))
        .collect();
    let seqs: Vec<String> = users.iter().map(|(seq, _)| seq.to_string()).collect();
    let seqs = format!("[{}]", seqs.join(","));
    let mut stmt = conn
        .prepare_cached(RELATED_LISTS)
        .map_err(map_err("preparing the related-list query"))?;
    let mut rows = stmt
        .query([seqs])
        .map_err(map_err("querying related lists"))?;
    let mut related = RelatedLists::default();
    while let Some(row) = rows.next().map_err(map_err("reading related lists"))? {
        let seq: i64 = row.get(0).map_err(map_err("reading related lists"))?;
        let kind: i64 = row.get(1).map_err(map_err("reading related lists"))?;
        let value: String = row.get(2).map_err(map_err("reading related lists"))?;
        let position: i64 = row.get(3).map_err(map_err("reading related lists"))?;
        if let (Some(&i), Some(kind)) = (index.get(&seq), RelatedKind::from_code(kind)) {
            related.push(i, kind, position, value);
        }
    }
    related.apply(users, |(_, user)| user)
}

/// Attaches the learning database (once per connection) when push-down is configured and
/// the filters use enrollment filters; returns where the push-down reads them.
pub(crate) fn attach_learning<'a>(
    conn: &Connection,
    attached: Option<&'a crate::AttachedEnrollments>,
    filters: &UserFilters,
) -> Result<Option<usermgmt_sql::Pushdown<'a>>> {
    let Some(attached) = attached else {
        return Ok(None);
    };
    if filters.cross_service_filters_in_use().is_empty() {
        return Ok(None);
    }
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = 'learning')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| map_err("checking the learning database")(e).enrollment_unavailable())?;
    if !present {
        let uri = format!("file:{}?mode=ro", attached.path.display());
        conn.execute("ATTACH DATABASE ?1 AS learning", [uri])
            .map_err(|e| map_err("attaching the learning database")(e).enrollment_unavailable())?;
    }
    Ok(Some(usermgmt_sql::Pushdown {
        layout: &attached.layout,
        schema: Some("learning"),
    }))
}

/// The user query for a login identifier (conditions written so the partial unique indexes
/// apply).
fn identifier_query(tenant: &str, identifier: &Identifier) -> Sql {
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

pub(crate) fn user_by_id(conn: &Connection, tenant: &str, id: Uuid) -> Result<Option<User>> {
    let mut sql = crate::query::sql();
    sql.push("SELECT ")
        .push(USER_COLUMNS)
        .push(" FROM users u WHERE u.tenant_id = ")
        .bind(tenant.to_owned());
    sql.push(" AND u.id = ").bind(id);
    Ok(read_users(conn, &sql)?.pop())
}

/// Fields whose value is already taken by another user of the tenant.
fn taken_fields(tx: &Transaction<'_>, user: &User, own_seq: Option<i64>) -> Result<Vec<String>> {
    let checks = [
        ("email", "lower(email) = lower(?2)", user.email.as_deref()),
        ("phone", "phone = ?2", user.phone.as_deref()),
        (
            "username",
            "lower(username) = lower(?2)",
            user.username.as_deref(),
        ),
        (
            "unique_id",
            "lower(unique_id) = lower(?2)",
            user.unique_id.as_deref(),
        ),
    ];
    let mut taken = Vec::new();
    for (field, condition, value) in checks {
        let Some(value) = value else { continue };
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

/// Writes every column of `user` (insert when `seq` is None) and returns its seq.
fn write_user_row(
    tx: &Transaction<'_>,
    seq: Option<i64>,
    user: &User,
    version: i64,
) -> Result<i64> {
    let p = &user.profile;
    let values: Vec<rusqlite::types::Value> = vec![
        uuid_value(user.id),
        user.tenant_id.as_str().to_owned().into(),
        user.name.clone().into(),
        name_sort_key(&user.name).into(),
        user.email.clone().into(),
        user.phone.clone().into(),
        user.username.clone().into(),
        user.unique_id.clone().into(),
        user.status.as_str().to_owned().into(),
        user.is_admin.into(),
        user.is_instructor.into(),
        user.is_learner.into(),
        user.email_verified.into(),
        user.phone_verified.into(),
        user.auth_method.as_str().to_owned().into(),
        p.avatar_url.clone().into(),
        p.bio.clone().into(),
        p.country.clone().into(),
        p.city.clone().into(),
        p.state.clone().into(),
        p.continent.map(|c| c.as_str().to_owned()).into(),
        p.timezone.clone().into(),
        p.locale.clone().into(),
        p.gender.map(|g| g.as_str().to_owned()).into(),
        p.designation.clone().into(),
        p.date_of_birth.map(date_text).into(),
        i64::from(user.profile_completeness).into(),
        micros(user.created_at).into(),
        micros(user.updated_at).into(),
        user.last_login_at.map(micros).into(),
        user.deleted_at.map(micros).into(),
        i64::from(user.failed_login_attempts).into(),
        user.locked_until.map(micros).into(),
        version.into(),
        user.search_text().into(),
    ];
    const COLUMNS: &str = "id, tenant_id, name, name_key, email, phone, username, unique_id, status, \
        is_admin, is_instructor, is_learner, email_verified, phone_verified, auth_method, avatar_url, bio, \
        country, city, state, continent, timezone, locale, gender, designation, date_of_birth, \
        profile_completeness, created_at, updated_at, last_login_at, deleted_at, failed_login_attempts, \
        locked_until, version, search_text";
    match seq {
        None => {
            let marks = vec!["?"; values.len()].join(", ");
            let sql = format!("INSERT INTO users ({COLUMNS}) VALUES ({marks})");
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute(params_from_iter(values.iter())))
                .map_err(map_err("inserting a user"))?;
            Ok(tx.last_insert_rowid())
        }
        Some(seq) => {
            let assignments: Vec<String> = COLUMNS
                .split(", ")
                .map(|c| format!("{} = ?", c.trim()))
                .collect();
            let sql = format!("UPDATE users SET {} WHERE seq = ?", assignments.join(", "));
            let mut all = values;
            all.push(seq.into());
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute(params_from_iter(all.iter())))
                .map_err(map_err("updating a user"))?;
            Ok(seq)
        }
    }
}

/// Replaces roles, direct permissions and expertise of a user.
fn write_related(tx: &Transaction<'_>, seq: i64, user: &User) -> Result<()> {
    for table in ["user_roles", "user_permissions", "user_expertise"] {
        tx.execute(&format!("DELETE FROM {table} WHERE user_seq = ?1"), [seq])
            .map_err(map_err("clearing user grants"))?;
    }
    for role in &user.roles {
        let inserted = tx
            .prepare_cached(
                "INSERT INTO user_roles (user_seq, role_id) SELECT ?1, id FROM roles WHERE tenant_id = ?2 AND name = ?3",
            )
            .and_then(|mut s| s.execute(params![seq, user.tenant_id.as_str(), role]))
            .map_err(map_err("granting a role"))?;
        if inserted == 0 {
            return Err(Error::invalid("roles", format!("unknown role `{role}`")));
        }
    }
    for permission in &user.permissions {
        tx.prepare_cached("INSERT INTO user_permissions (user_seq, permission) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![seq, permission.as_str()]))
            .map_err(map_err("granting a permission"))?;
    }
    for (position, value) in user.profile.expertise.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO user_expertise (user_seq, value, position) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![seq, value, position as i64]))
        .map_err(map_err("writing expertise"))?;
    }
    Ok(())
}

/// Inserts one user with everything that belongs to it, inside the caller's transaction.
fn insert_one(tx: &Transaction<'_>, new: &NewUser, audit: &AuditEvent) -> Result<()> {
    let taken = taken_fields(tx, &new.user, None)?;
    if !taken.is_empty() {
        return Err(Error::Conflict { fields: taken });
    }
    let seq = write_user_row(tx, None, &new.user, 1)?;
    write_related(tx, seq, &new.user)?;
    if let Some(hash) = &new.password_hash {
        set_password(tx, seq, Some(hash.as_phc()))?;
    }
    for link in &new.oauth_links {
        crate::oauth::insert_link(tx, new.user.tenant_id.as_str(), seq, link)?;
    }
    insert_event(tx, audit)
}

fn set_password(tx: &Transaction<'_>, seq: i64, hash: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE users SET password_hash = ?1 WHERE seq = ?2",
        params![hash, seq],
    )
    .map_err(map_err("setting a password"))?;
    Ok(())
}

#[async_trait]
impl UserRecords for SqliteStorage {
    async fn insert_user(&self, new: NewUser, audit: AuditEvent) -> Result<User> {
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                insert_one(&tx, &new, &audit)?;
                let stored = user_by_id(&tx, new.user.tenant_id.as_str(), new.user.id)?;
                commit(tx)?;
                stored.ok_or(Error::NotFound("user"))
            })
            .await
    }

    async fn insert_users(&self, users: Vec<(NewUser, AuditEvent)>) -> Result<u64> {
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                for (new, audit) in &users {
                    insert_one(&tx, new, audit)?;
                }
                commit(tx)?;
                Ok(users.len() as u64)
            })
            .await
    }

    async fn get_user(&self, tenant: &TenantId, id: Uuid) -> Result<Option<User>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| user_by_id(conn, &tenant, id))
            .await
    }

    async fn users_by_ids(&self, tenant: &TenantId, ids: &[Uuid]) -> Result<Vec<User>> {
        let mut sql = crate::query::sql();
        sql.push("SELECT ")
            .push(USER_COLUMNS)
            .push(" FROM users u WHERE u.tenant_id = ")
            .bind(tenant.as_str().to_owned());
        sql.push(" AND u.id IN ").bind_list(ids.iter().copied());
        self.pool.run(move |conn| read_users(conn, &sql)).await
    }

    async fn find_user(&self, tenant: &TenantId, identifier: &Identifier) -> Result<Option<User>> {
        let sql = identifier_query(tenant.as_str(), identifier);
        self.pool
            .run(move |conn| Ok(read_users(conn, &sql)?.pop()))
            .await
    }

    async fn replace_user(&self, tenant: &TenantId, change: UserReplace) -> Result<User> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                let current: Option<(i64, i64)> = tx
                    .prepare_cached(
                        "SELECT seq, version FROM users WHERE tenant_id = ?1 AND id = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![tenant, change.user.id], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()
                    })
                    .map_err(map_err("reading a user version"))?;
                let (seq, version) = current.ok_or(Error::NotFound("user"))?;
                if version != change.expected_version {
                    return Err(Error::VersionConflict {
                        expected: change.expected_version,
                        current: version,
                    });
                }
                let taken = taken_fields(&tx, &change.user, Some(seq))?;
                if !taken.is_empty() {
                    return Err(Error::Conflict { fields: taken });
                }
                write_user_row(&tx, Some(seq), &change.user, version + 1)?;
                write_related(&tx, seq, &change.user)?;
                match &change.password {
                    PasswordChange::Keep => {}
                    PasswordChange::Set(hash) => set_password(&tx, seq, Some(hash.as_phc()))?,
                    PasswordChange::Clear => set_password(&tx, seq, None)?,
                }
                for event in &change.audit {
                    insert_event(&tx, event)?;
                }
                if let Some(event) = &change.end_sessions
                    && end_user_sessions(&tx, seq, change.user.updated_at)? > 0
                {
                    insert_event(&tx, event)?;
                }
                let stored = user_by_id(&tx, &tenant, change.user.id)?;
                commit(tx)?;
                stored.ok_or(Error::NotFound("user"))
            })
            .await
    }
}

#[async_trait]
impl UserQueries for SqliteStorage {
    fn pushes_down_enrollments(&self) -> bool {
        self.options.attached_enrollments.is_some()
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
        let tenant = tenant.as_str().to_owned();
        let plan = plan.clone();
        let threshold = self.options.search_scan_threshold;
        let attached = self.options.attached_enrollments.clone();
        let timeout = attached
            .as_ref()
            .map_or(std::time::Duration::MAX, |a| a.timeout);
        self.pool
            .run(move |conn| {
                let pushdown = attach_learning(conn, attached.as_ref(), &plan.filters)?;
                let pushing = pushdown.is_some();
                let run = || -> Result<(Vec<User>, Option<u64>)> {
                    let mode = match &plan.filters.search {
                        Some(term) => search_mode(conn, term, threshold)
                            .map_err(map_err("probing the search index"))?,
                        None => SearchMode::Scan,
                    };
                    let roles = roles_form(conn, &tenant, &plan.filters.roles)
                        .map_err(map_err("counting role holders"))?;
                    let m = usermgmt_sql::Matching::plan(&tenant, &plan, now).pushdown(pushdown);
                    let from = crate::query::from(&mode);
                    let page = usermgmt_sql::page_query(
                        &Lite,
                        USER_COLUMNS,
                        &from,
                        &plan,
                        &m.roles(roles),
                    );
                    let users = read_users(conn, &page)?;
                    let total = if plan.include_total {
                        // Role holders drive the count: every match is visited anyway.
                        let sql =
                            usermgmt_sql::count_query(&Lite, &from, &m.roles(RolesForm::Holders));
                        let count: i64 = conn
                            .prepare_cached(&sql.text())
                            .and_then(|mut s| s.query_row(args(&sql), |r| r.get(0)))
                            .map_err(map_err("counting users"))?;
                        Some(u64::try_from(count).unwrap_or(0))
                    } else {
                        None
                    };
                    Ok((users, total))
                };
                if !pushing {
                    return run();
                }
                // Push-down: a query running past the timeout is interrupted (and the service
                // then answers without the enrollment filters).
                let deadline = std::time::Instant::now() + timeout;
                conn.progress_handler(1_000, Some(move || std::time::Instant::now() > deadline));
                let result = run();
                conn.progress_handler(0, None::<fn() -> bool>);
                result.map_err(Error::enrollment_unavailable)
            })
            .await
    }

    async fn bulk_soft_delete(
        &self,
        tenant: &TenantId,
        request: BulkDelete,
    ) -> Result<BulkDeleteOutcome> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                let sql = usermgmt_sql::bulk_delete_selection(&Lite, &tenant, &request);
                let mut found = Vec::new();
                {
                    let mut stmt = tx.prepare(&sql.text()).map_err(map_err("preparing a bulk delete"))?;
                    let mut rows = stmt.query(args(&sql)).map_err(map_err("selecting users to delete"))?;
                    while let Some(row) = rows.next().map_err(map_err("selecting users to delete"))? {
                        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, Uuid, String, bool)> {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                        };
                        let (seq, id, status, protected) = read(row).map_err(map_err("selecting users to delete"))?;
                        found.push((seq, id, parse("decoding a status", &status)?, protected));
                    }
                }
                let (outcome, targets) = request.decide(found);
                let now = micros(request.now);
                for (status, users) in targets {
                    for (seq, id) in users {
                        tx.prepare_cached(
                            "UPDATE users SET status = 'deleted', deleted_at = ?1, updated_at = ?1, version = version + 1 WHERE seq = ?2",
                        )
                        .and_then(|mut s| s.execute(params![now, seq]))
                        .map_err(map_err("soft-deleting a user"))?;
                        let mut event = request.audit_for(status);
                        event.id = Uuid::now_v7();
                        event.target_id = id;
                        insert_event(&tx, &event)?;
                        end_user_sessions(&tx, seq, request.now)?;
                    }
                }
                commit(tx)?;
                Ok(outcome)
            })
            .await
    }
}

#[async_trait]
impl AuthStore for SqliteStorage {
    async fn lock_super_admin_changes(
        &self,
        _tenant: &TenantId,
    ) -> Result<Option<usermgmt_core::storage::StoreLock>> {
        let guard = self.super_admin_changes.clone().lock_owned().await;
        Ok(Some(Box::new(guard)))
    }

    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let row: Option<(i64, String)> = conn
                    .prepare_cached("SELECT seq, status FROM users WHERE tenant_id = ?1 AND id = ?2")
                    .and_then(|mut s| s.query_row(params![tenant, user_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                    .map_err(map_err("reading grants"))?;
                let Some((seq, status)) = row else { return Ok(None) };
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id \
                         WHERE ur.user_seq = ?1 UNION SELECT permission FROM user_permissions WHERE user_seq = ?1",
                    )
                    .map_err(map_err("reading grants"))?;
                let names = stmt
                    .query_map([seq], |r| r.get::<_, String>(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(map_err("reading grants"))?;
                let permissions: PermissionSet = names.iter().filter_map(|n| n.parse().ok()).collect();
                Ok(Some(ActorGrants { status: parse("decoding a status", &status)?, permissions }))
            })
            .await
    }

    async fn login_record(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<(User, Option<PasswordHash>)>> {
        let tenant = tenant.as_str().to_owned();
        let sql = identifier_query(&tenant, identifier);
        self.pool
            .run(move |conn| {
                let Some(user) = read_users(conn, &sql)?.pop() else {
                    return Ok(None);
                };
                let hash: Option<String> = conn
                    .prepare_cached(
                        "SELECT password_hash FROM users WHERE tenant_id = ?1 AND id = ?2",
                    )
                    .and_then(|mut s| s.query_row(params![tenant, user.id], |r| r.get(0)))
                    .map_err(map_err("reading a password hash"))?;
                Ok(Some((user, hash.map(PasswordHash::from_phc))))
            })
            .await
    }

    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        max_attempts: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailure> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                // One statement, so concurrent failures all count. A lock that has run out
                // restarts the count.
                let (attempts, locked_until): (i64, Option<i64>) = conn
                    .prepare_cached(
                        "UPDATE users SET \
                           failed_login_attempts = \
                             (CASE WHEN locked_until <= ?1 THEN 0 ELSE failed_login_attempts END) + 1, \
                           locked_until = CASE \
                             WHEN (CASE WHEN locked_until <= ?1 THEN 0 ELSE failed_login_attempts END) + 1 >= ?2 THEN ?3 \
                             WHEN locked_until <= ?1 THEN NULL ELSE locked_until END \
                         WHERE tenant_id = ?4 AND id = ?5 \
                         RETURNING failed_login_attempts, locked_until",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![micros(now), max_attempts, micros(lock_until), tenant, user_id], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                    })
                    .map_err(map_err("counting a failed login"))?;
                Ok(LoginFailure {
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    locked_until: crate::codec::opt_from_micros(locked_until)?,
                })
            })
            .await
    }

    async fn record_login_success(&self, session: &Session, token_hash: [u8; 32]) -> Result<User> {
        let session = session.clone();
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                let tenant = session.tenant_id.as_str();
                let seq: i64 = tx
                    .prepare_cached(
                        "UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = ?1 \
                         WHERE tenant_id = ?2 AND id = ?3 RETURNING seq",
                    )
                    .and_then(|mut s| s.query_row(params![micros(session.created_at), tenant, session.user_id], |r| r.get(0)))
                    .optional()
                    .map_err(map_err("recording a login"))?
                    .ok_or(Error::NotFound("user"))?;
                insert_session_row(&tx, seq, &session, token_hash)?;
                let user = user_by_id(&tx, tenant, session.user_id)?;
                commit(tx)?;
                user.ok_or(Error::NotFound("user"))
            })
            .await
    }
}

impl SqliteStorage {
    /// Reads an export plan into `sink` (see [`UserQueries::export_users`]).
    async fn export_into(
        &self,
        tenant: &TenantId,
        plan: ListPlan,
        now: DateTime<Utc>,
        batch: u32,
        sink: BatchSink,
    ) -> Result<()> {
        let tenant = tenant.as_str().to_owned();
        let threshold = self.options.search_scan_threshold;
        let batch = batch.max(1) as usize;
        let attached = self.options.attached_enrollments.clone();
        self.pool
            .run_blocking(move |conn| {
                // One read transaction: the whole export sees one snapshot.
                let tx = conn.transaction().map_err(map_err("starting an export"))?;
                let pushdown = attach_learning(&tx, attached.as_ref(), &plan.filters)?;
                let mode = match &plan.filters.search {
                    Some(term) => search_mode(&tx, term, threshold)
                        .map_err(map_err("probing the search index"))?,
                    None => SearchMode::Scan,
                };
                let m = usermgmt_sql::Matching::plan(&tenant, &plan, now)
                    .pushdown(pushdown)
                    .roles(RolesForm::Holders);
                let from = crate::query::from(&mode);
                let sql = usermgmt_sql::page_query(&Lite, USER_COLUMNS, &from, &plan, &m);
                let mut stmt = tx
                    .prepare(&sql.text())
                    .map_err(map_err("preparing an export"))?;
                let mut rows = stmt.query(args(&sql)).map_err(map_err("exporting users"))?;
                let mut pending: Vec<(i64, User)> = Vec::with_capacity(batch);
                loop {
                    let row = rows.next().map_err(map_err("exporting users"))?;
                    if let Some(row) = row {
                        pending.push(user_from_row(row).map_err(map_err("reading a user row"))??);
                    }
                    let done = row.is_none();
                    if pending.len() == batch || (done && !pending.is_empty()) {
                        attach_related(&tx, &mut pending)?;
                        let users = pending.drain(..).map(|(_, user)| user).collect();
                        if !sink.send_blocking(users) {
                            return Ok(()); // the reader is gone
                        }
                    }
                    if done {
                        return Ok(());
                    }
                }
            })
            .await
    }
}
