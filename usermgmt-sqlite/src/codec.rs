//! Conversions between stored columns and domain values.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;
use usermgmt_core::model::{Profile, TenantId, User};
use usermgmt_core::{Error, Result};

use crate::error::{corrupt, map_err};
use usermgmt_core::storage::UserLists;

/// Microseconds since the epoch, the stored form of every timestamp.
pub(crate) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub(crate) fn from_micros(value: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| corrupt("decoding a timestamp", value.to_string()))
}

pub(crate) fn opt_from_micros(value: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    value.map(from_micros).transpose()
}

pub(crate) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse<T: std::str::FromStr>(context: &'static str, text: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(context, text.to_owned()))
}

/// The user columns read by [`user_from_row`], in order, for table alias `u`.
pub(crate) const USER_COLUMNS: &str = "u.seq, u.id, u.tenant_id, u.name, u.email, u.phone, \
    u.username, u.unique_id, u.status, u.is_admin, u.is_instructor, u.is_learner, \
    u.email_verified, u.phone_verified, u.auth_method, u.password_hash IS NOT NULL, \
    u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, u.locale, u.gender, \
    u.designation, u.date_of_birth, u.created_at, u.updated_at, u.last_login_at, u.deleted_at, \
    u.failed_login_attempts, u.locked_until, u.version, u.lists";

/// Decodes a row selected with [`USER_COLUMNS`] into a user, related lists included (from the
/// `lists` column). Returns the row's `seq` too.
pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<Result<(i64, User)>> {
    let seq: i64 = row.get(0)?;
    let status: String = row.get(8)?;
    let auth_method: String = row.get(14)?;
    let tenant: String = row.get(2)?;
    let country: Option<String> = row.get(18)?;
    let gender: Option<String> = row.get(23)?;
    let dob: Option<String> = row.get(25)?;
    let times: [Option<i64>; 5] = [
        row.get(26)?,
        row.get(27)?,
        row.get(28)?,
        row.get(29)?,
        row.get(31)?,
    ];
    let attempts: i64 = row.get(30)?;
    let decoded = (|| -> Result<User> {
        let profile = Profile {
            avatar_url: row.get(16).map_err(rows("avatar_url"))?,
            bio: row.get(17).map_err(rows("bio"))?,
            continent: country
                .as_deref()
                .and_then(usermgmt_core::model::continent_of),
            country,
            city: row.get(19).map_err(rows("city"))?,
            state: row.get(20).map_err(rows("state"))?,
            timezone: row.get(21).map_err(rows("timezone"))?,
            locale: row.get(22).map_err(rows("locale"))?,
            gender: gender
                .as_deref()
                .map(|g| parse("decoding a gender", g))
                .transpose()?,
            designation: row.get(24).map_err(rows("designation"))?,
            expertise: Vec::new(),
            date_of_birth: dob
                .as_deref()
                .map(|d| parse("decoding a date of birth", d))
                .transpose()?,
        };
        let required =
            |t: Option<i64>| t.ok_or_else(|| corrupt("decoding a user", "missing timestamp"));
        let mut user = User {
            id: row.get(1).map_err(rows("id"))?,
            tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a user", "tenant"))?,
            name: row.get(3).map_err(rows("name"))?,
            email: row.get(4).map_err(rows("email"))?,
            phone: row.get(5).map_err(rows("phone"))?,
            username: row.get(6).map_err(rows("username"))?,
            unique_id: row.get(7).map_err(rows("unique_id"))?,
            status: parse("decoding a status", &status)?,
            is_admin: row.get(9).map_err(rows("is_admin"))?,
            is_instructor: row.get(10).map_err(rows("is_instructor"))?,
            is_learner: row.get(11).map_err(rows("is_learner"))?,
            roles: Vec::new(),
            permissions: Vec::new(),
            email_verified: row.get(12).map_err(rows("email_verified"))?,
            phone_verified: row.get(13).map_err(rows("phone_verified"))?,
            auth_method: parse("decoding an auth method", &auth_method)?,
            oauth_providers: Vec::new(),
            has_password: row.get(15).map_err(rows("has_password"))?,
            profile,
            profile_completeness: 0,
            created_at: from_micros(required(times[0])?)?,
            updated_at: from_micros(required(times[1])?)?,
            last_login_at: opt_from_micros(times[2])?,
            deleted_at: opt_from_micros(times[3])?,
            failed_login_attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            locked_until: opt_from_micros(times[4])?,
            version: row.get(32).map_err(rows("version"))?,
        };
        let lists = row.get_ref(33).map_err(rows("lists"))?;
        let lists = lists
            .as_str_or_null()
            .map_err(|e| map_err("decoding a user row")(e.into()))?;
        UserLists::decode_into(lists, &mut user)?;
        user.refresh_derived();
        Ok(user)
    })();
    Ok(decoded.map(|user| (seq, user)))
}

fn rows(_column: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    map_err("decoding a user row")
}
