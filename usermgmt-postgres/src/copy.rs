//! Batch inserts through `COPY … FROM STDIN` (text format): how [`Storage::insert_users`]
//! loads imports and data sets of millions of users in minutes. The rows are the ones the
//! one-at-a-time path writes; unique violations still map to `Conflict` by constraint name,
//! and the whole batch is one transaction.
//!
//! [`Storage::insert_users`]: usermgmt_core::storage::Storage::insert_users

use std::collections::HashMap;

use sqlx::PgConnection;
use usermgmt_core::storage::{NewUser, UserLists};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::audit::{actor_columns, changes_json};
use crate::error::map_err;
use usermgmt_core::model::name_sort_key;

/// Rows in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
#[derive(Default)]
struct Rows(String);

impl Rows {
    fn text(&mut self, value: &str) -> &mut Self {
        if !self.0.is_empty() && !self.0.ends_with('\n') {
            self.0.push('\t');
        }
        for c in value.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '\t' => self.0.push_str("\\t"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                c => self.0.push(c),
            }
        }
        self
    }

    fn null(&mut self) -> &mut Self {
        if !self.0.is_empty() && !self.0.ends_with('\n') {
            self.0.push('\t');
        }
        self.0.push_str("\\N");
        self
    }

    fn opt(&mut self, value: Option<impl ToString>) -> &mut Self {
        match value {
            Some(v) => self.text(&v.to_string()),
            None => self.null(),
        }
    }

    fn value(&mut self, value: impl ToString) -> &mut Self {
        self.text(&value.to_string())
    }

    fn bool(&mut self, value: bool) -> &mut Self {
        self.text(if value { "t" } else { "f" })
    }

    fn end(&mut self) {
        self.0.push('\n');
    }
}

/// Streams `rows` into `table (columns)`.
async fn copy(conn: &mut PgConnection, table: &str, columns: &str, rows: Rows) -> Result<()> {
    if rows.0.is_empty() {
        return Ok(());
    }
    let mut sink = conn
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await
        .map_err(map_err("starting a COPY"))?;
    sink.send(rows.0.into_bytes())
        .await
        .map_err(map_err("sending COPY rows"))?;
    sink.finish().await.map_err(map_err("finishing a COPY"))?;
    Ok(())
}

/// Inserts the users, their grants, expertise, OAuth links and audit events with one COPY per
/// table, inside the caller's transaction.
pub(crate) async fn insert_users(
    conn: &mut PgConnection,
    users: &[(NewUser, usermgmt_core::model::AuditEvent)],
) -> Result<()> {
    let role_ids = role_ids(conn, users).await?;
    let mut rows = Rows::default();
    let mut roles = Rows::default();
    let mut permissions = Rows::default();
    let mut expertise = Rows::default();
    let mut oauth = Rows::default();
    let mut events = Rows::default();
    for (new, event) in users {
        let u = &new.user;
        let p = &u.profile;
        let tenant = u.tenant_id.as_str();
        rows.text(tenant)
            .value(u.id)
            .text(&u.name)
            .text(&name_sort_key(&u.name))
            .opt(u.email.as_ref())
            .opt(u.phone.as_ref())
            .opt(u.username.as_ref())
            .opt(u.unique_id.as_ref())
            .text(u.status.as_str())
            .bool(u.is_admin)
            .bool(u.is_instructor)
            .bool(u.is_learner)
            .bool(u.email_verified)
            .bool(u.phone_verified)
            .text(u.auth_method.as_str())
            .opt(new.password_hash.as_ref().map(|h| h.as_phc()))
            .opt(p.avatar_url.as_ref())
            .opt(p.bio.as_ref())
            .opt(p.country.as_ref())
            .opt(p.city.as_ref())
            .opt(p.state.as_ref())
            .opt(p.continent.map(|c| c.as_str()))
            .opt(p.timezone.as_ref())
            .opt(p.locale.as_ref())
            .opt(p.gender.map(|g| g.as_str()))
            .opt(p.designation.as_ref())
            .opt(p.date_of_birth)
            .value(u.profile_completeness)
            .value(u.created_at.to_rfc3339())
            .value(u.updated_at.to_rfc3339())
            .opt(u.last_login_at.map(|t| t.to_rfc3339()))
            .opt(u.deleted_at.map(|t| t.to_rfc3339()))
            .value(u.failed_login_attempts.min(i32::MAX as u32))
            .opt(u.locked_until.map(|t| t.to_rfc3339()))
            .value(1)
            .text(&u.search_text())
            .opt(UserLists::of_new(new).encode().as_ref())
            .end();
        for name in &u.roles {
            let id = role_ids
                .get(&(tenant, name.as_str()))
                .ok_or_else(|| Error::invalid("roles", "unknown role"))?;
            roles.text(tenant).value(u.id).value(id).end();
        }
        for permission in &u.permissions {
            permissions
                .text(tenant)
                .value(u.id)
                .text(permission.as_str())
                .end();
        }
        for (position, value) in p.expertise.iter().enumerate() {
            expertise
                .text(tenant)
                .value(u.id)
                .value(position)
                .text(value)
                .end();
        }
        for link in &new.oauth_links {
            oauth
                .text(tenant)
                .value(u.id)
                .text(link.provider.as_str())
                .text(&link.provider_user_id)
                .value(link.linked_at.to_rfc3339())
                .end();
        }
        let (actor_kind, actor_id) = actor_columns(event.actor);
        let changes = changes_json(event)?.to_string();
        events
            .text(event.tenant_id.as_str())
            .value(event.id)
            .text(event.target_kind.as_str())
            .value(event.target_id)
            .text(actor_kind)
            .opt(actor_id)
            .opt(event.impersonator_id)
            .text(event.action.as_str())
            .text(&changes)
            .value(event.created_at.to_rfc3339())
            .end();
    }
    copy(
        conn,
        "users",
        "tenant_id, id, name, name_key, email, phone, username, unique_id, status, is_admin, \
         is_instructor, is_learner, email_verified, phone_verified, auth_method, password_hash, \
         avatar_url, bio, country, city, state, continent, timezone, locale, gender, designation, \
         date_of_birth, profile_completeness, created_at, updated_at, last_login_at, deleted_at, \
         failed_login_attempts, locked_until, version, search_text, lists",
        rows,
    )
    .await?;
    copy(conn, "user_roles", "tenant_id, user_id, role_id", roles).await?;
    copy(
        conn,
        "user_permissions",
        "tenant_id, user_id, permission",
        permissions,
    )
    .await?;
    copy(
        conn,
        "user_expertise",
        "tenant_id, user_id, position, value",
        expertise,
    )
    .await?;
    copy(
        conn,
        "user_oauth",
        "tenant_id, user_id, provider, provider_user_id, created_at",
        oauth,
    )
    .await?;
    copy(
        conn,
        "audit_events",
        "tenant_id, id, target_kind, target_id, actor_kind, actor_id, impersonator_id, action, \
         changes, created_at",
        events,
    )
    .await
}

/// The ids of the roles the users name, per tenant and name.
async fn role_ids<'a>(
    conn: &mut PgConnection,
    users: &'a [(NewUser, usermgmt_core::model::AuditEvent)],
) -> Result<HashMap<(&'a str, &'a str), Uuid>> {
    let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
    for (new, _) in users {
        let names = wanted.entry(new.user.tenant_id.as_str()).or_default();
        names.extend(new.user.roles.iter().map(String::as_str));
    }
    let mut ids = HashMap::new();
    for (tenant, mut names) in wanted {
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let found: Vec<(String, Uuid)> =
            sqlx::query_as("SELECT name, id FROM roles WHERE tenant_id = $1 AND name = ANY($2)")
                .bind(tenant)
                .bind(&names)
                .fetch_all(&mut *conn)
                .await
                .map_err(map_err("reading role ids"))?;
        for name in names {
            if let Some((_, id)) = found.iter().find(|(n, _)| n == name) {
                ids.insert((tenant, name), *id);
            }
        }
    }
    Ok(ids)
}
