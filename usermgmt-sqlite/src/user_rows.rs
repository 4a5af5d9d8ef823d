//! The values a user is written with: the `users` row's columns, and the rows of their
//! grants and expertise (shared by single writes and multi-row inserts).

use rusqlite::{Transaction, params};
use usermgmt_core::model::{User, name_sort_key};
use usermgmt_core::{Error, Result};

use crate::codec::{date_text, micros};
use crate::error::map_err;
use crate::query::uuid_value;

/// The columns of a user row, in the order [`user_values`] gives them.
pub(crate) const USER_WRITE_COLUMNS: &str = "id, tenant_id, name, name_key, email, phone, username, \
    unique_id, status, is_admin, is_instructor, is_learner, email_verified, phone_verified, \
    auth_method, avatar_url, bio, country, city, state, continent, timezone, locale, gender, \
    designation, date_of_birth, profile_completeness, created_at, updated_at, last_login_at, \
    deleted_at, failed_login_attempts, locked_until, version, search_text, lists";

/// A user row's values, in [`USER_WRITE_COLUMNS`] order, with its stored related lists
/// ([`usermgmt_core::storage::UserLists::encode`]).
pub(crate) fn user_values(
    user: &User,
    version: i64,
    lists: Option<String>,
) -> Vec<rusqlite::types::Value> {
    let p = &user.profile;
    vec![
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
        lists.into(),
    ]
}

/// Writes the roles, direct permissions and expertise of a user who has none yet.
pub(crate) fn insert_related(tx: &Transaction<'_>, seq: i64, user: &User) -> Result<()> {
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
