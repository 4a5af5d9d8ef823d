//! `UserRecords`, `UserQueries` and `AuthStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use usermgmt_core::filter::{ListPlan, UserFilters};
use usermgmt_core::model::{AuditEvent, TenantId, User};
use usermgmt_core::service::BulkDeleteOutcome;
use usermgmt_core::storage::{
    BulkDelete, Identifier, NewUser, PasswordChange, UserBatches, UserLists, UserQueries,
    UserRecords, UserReplace,
};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::{event_values, insert_event, insert_event_rows};
use crate::codec::{USER_COLUMNS, micros, parse};
use crate::error::map_err;
use crate::pool::{commit, immediate};
use crate::query::{Lite, RolesForm, SearchMode, args, roles_form, search_mode};
use crate::read::{identifier_query, read_lists, read_users, taken_fields, user_by_id};
use crate::sessions::{end_sessions_of_many, end_user_sessions};
use crate::user_rows::{USER_WRITE_COLUMNS, insert_related, user_values};

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
    if !filters.uses_cross_service() {
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

fn write_user_row(
    tx: &Transaction<'_>,
    seq: Option<i64>,
    user: &User,
    version: i64,
    lists: Option<String>,
) -> Result<i64> {
    let values = user_values(user, version, lists);
    match seq {
        None => {
            let marks = vec!["?"; values.len()].join(", ");
            let sql = format!("INSERT INTO users ({USER_WRITE_COLUMNS}) VALUES ({marks})");
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute(params_from_iter(values.iter())))
                .map_err(map_err("inserting a user"))?;
            Ok(tx.last_insert_rowid())
        }
        Some(seq) => {
            let assignments: Vec<String> = USER_WRITE_COLUMNS
                .split(',')
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
    for sql in [
        "DELETE FROM user_roles WHERE user_seq = ?1",
        "DELETE FROM user_permissions WHERE user_seq = ?1",
        "DELETE FROM user_expertise WHERE user_seq = ?1",
    ] {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute([seq]))
            .map_err(map_err("clearing user grants"))?;
    }
    insert_related(tx, seq, user)
}

/// Inserts one user with everything that belongs to it, inside the caller's transaction.
pub(crate) fn insert_one(tx: &Transaction<'_>, new: &NewUser, audit: &AuditEvent) -> Result<()> {
    let taken = taken_fields(tx, &new.user, None)?;
    if !taken.is_empty() {
        return Err(Error::Conflict { fields: taken });
    }
    let seq = write_user_row(tx, None, &new.user, 1, UserLists::of_new(new).encode())?;
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

/// Replaces a user inside `tx`: the version must match, unique values must be free; the
/// password, audit events and session ending as the change says.
pub(crate) fn replace_one(tx: &Transaction<'_>, tenant: &str, change: &UserReplace) -> Result<()> {
    let current: Option<(i64, i64)> = tx
        .prepare_cached("SELECT seq, version FROM users WHERE tenant_id = ?1 AND id = ?2")
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
    let taken = taken_fields(tx, &change.user, Some(seq))?;
    if !taken.is_empty() {
        return Err(Error::Conflict { fields: taken });
    }
    write_related(tx, seq, &change.user)?;
    let lists = read_lists(tx, &[seq])?.pop().and_then(|l| l.encode());
    write_user_row(tx, Some(seq), &change.user, version + 1, lists)?;
    match &change.password {
        PasswordChange::Keep => {}
        PasswordChange::Set(hash) => set_password(tx, seq, Some(hash.as_phc()))?,
        PasswordChange::Clear => set_password(tx, seq, None)?,
    }
    for event in &change.audit {
        insert_event(tx, event)?;
    }
    if let Some(event) = &change.end_sessions
        && end_user_sessions(tx, seq, change.user.updated_at)? > 0
    {
        insert_event(tx, event)?;
    }
    Ok(())
}

#[async_trait]
impl UserRecords for SqliteStorage {
    async fn insert_user(
        &self,
        tenant: &TenantId,
        new: NewUser,
        audit: AuditEvent,
    ) -> Result<User> {
        usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
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

    async fn insert_users(
        &self,
        tenant: &TenantId,
        users: Vec<(NewUser, AuditEvent)>,
    ) -> Result<u64> {
        for (new, _) in &users {
            usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
        }
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                let rows: Vec<(&NewUser, &AuditEvent)> =
                    users.iter().map(|(n, a)| (n, a)).collect();
                let outcomes = crate::insert_many::insert_many(&tx, &rows)?;
                if let Some(fields) = outcomes.into_iter().flatten().next() {
                    return Err(Error::Conflict { fields });
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
                replace_one(&tx, &tenant, &change)?;
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
                        // Many rows match: no candidate list, walk the order.
                        Some(_) if plan.order_first => SearchMode::Scan,
                        Some(term) => search_mode(conn, term, threshold)
                            .map_err(map_err("probing the search index"))?,
                        None => SearchMode::Scan,
                    };
                    let roles = roles_form(conn, &tenant, &plan.filters.roles)
                        .map_err(map_err("counting role holders"))?;
                    let m = usermgmt_sql::Matching::plan(&tenant, &plan, now).pushdown(pushdown);
                    let from = crate::query::from(&mode, crate::query::walk(&plan));
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
                for (status, mut users) in targets {
                    // In table order, so the updates walk the table once.
                    users.sort_unstable_by_key(|(seq, _)| *seq);
                    let event = event_values(&request.audit_for(status))?;
                    for chunk in users.chunks(DELETE_CHUNK) {
                        soft_delete_chunk(&tx, chunk, &event, request.now)?;
                    }
                }
                commit(tx)?;
                Ok(outcome)
            })
            .await
    }
}

/// Users soft-deleted per set of statements.
const DELETE_CHUNK: usize = 1_000;

/// Soft-deletes `users` (store key and id), all of one old status: one `UPDATE`, their audit
/// events (the status group's `event` row with a fresh id and the user as target) in
/// multi-row `INSERT`s, and their sessions ended.
fn soft_delete_chunk(
    tx: &Transaction<'_>,
    users: &[(i64, Uuid)],
    event: &[rusqlite::types::Value],
    now: DateTime<Utc>,
) -> Result<()> {
    let seqs = users
        .iter()
        .map(|(seq, _)| seq.to_string())
        .collect::<Vec<_>>();
    let seqs = format!("[{}]", seqs.join(","));
    tx.prepare_cached(
        "UPDATE users SET status = 'deleted', deleted_at = ?1, updated_at = ?1, version = version + 1 \
         WHERE seq IN (SELECT value FROM json_each(?2))",
    )
    .and_then(|mut s| s.execute(params![micros(now), seqs]))
    .map_err(map_err("soft-deleting users"))?;
    let uuid = crate::query::uuid_value;
    let rows: Vec<Vec<rusqlite::types::Value>> = users
        .iter()
        .map(|(_, id)| {
            let mut row = event.to_vec();
            if let Some(slot) = row.get_mut(0) {
                *slot = uuid(Uuid::now_v7());
            }
            if let Some(slot) = row.get_mut(3) {
                *slot = uuid(*id);
            }
            row
        })
        .collect();
    insert_event_rows(tx, &rows)?;
    end_sessions_of_many(tx, &seqs, now)
}
