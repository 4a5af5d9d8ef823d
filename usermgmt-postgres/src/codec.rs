//! Conversions between rows and domain values.

use sqlx::Row;
use sqlx::postgres::PgRow;
use usermgmt_core::Result;
use usermgmt_core::model::{Profile, TenantId, User};
use usermgmt_core::storage::UserLists;

use crate::error::{corrupt, map_err};

/// Parses a stored vocabulary string.
pub(crate) fn parse<T: std::str::FromStr>(context: &'static str, text: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(context, text.to_owned()))
}

fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    column: &str,
) -> Result<T> {
    row.try_get(column).map_err(map_err("decoding a row"))
}

/// Decodes a row selected with [`crate::query::USER_COLUMNS`] into a user, related lists
/// included (from the `lists` column).
pub(crate) fn user_from_row(row: &PgRow) -> Result<User> {
    let status: String = get(row, "status")?;
    let auth_method: String = get(row, "auth_method")?;
    let gender: Option<String> = get(row, "gender")?;
    let tenant: String = get(row, "tenant_id")?;
    let attempts: i32 = get(row, "failed_login_attempts")?;
    let profile = Profile {
        avatar_url: get(row, "avatar_url")?,
        bio: get(row, "bio")?,
        country: get(row, "country")?,
        city: get(row, "city")?,
        state: get(row, "state")?,
        continent: None,
        timezone: get(row, "timezone")?,
        locale: get(row, "locale")?,
        gender: gender
            .as_deref()
            .map(|g| parse("decoding a gender", g))
            .transpose()?,
        designation: get(row, "designation")?,
        expertise: Vec::new(),
        date_of_birth: get(row, "date_of_birth")?,
    };
    let mut user = User {
        id: get(row, "id")?,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a user", "tenant"))?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        phone: get(row, "phone")?,
        username: get(row, "username")?,
        unique_id: get(row, "unique_id")?,
        status: parse("decoding a status", &status)?,
        is_admin: get(row, "is_admin")?,
        is_instructor: get(row, "is_instructor")?,
        is_learner: get(row, "is_learner")?,
        roles: Vec::new(),
        permissions: Vec::new(),
        email_verified: get(row, "email_verified")?,
        phone_verified: get(row, "phone_verified")?,
        auth_method: parse("decoding an auth method", &auth_method)?,
        oauth_providers: Vec::new(),
        has_password: get(row, "has_password")?,
        profile,
        profile_completeness: 0,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_login_at: get(row, "last_login_at")?,
        deleted_at: get(row, "deleted_at")?,
        failed_login_attempts: u32::try_from(attempts).unwrap_or(0),
        locked_until: get(row, "locked_until")?,
        version: get(row, "version")?,
    };
    UserLists::decode_into(get(row, "lists")?, &mut user)?;
    user.refresh_derived();
    Ok(user)
}
