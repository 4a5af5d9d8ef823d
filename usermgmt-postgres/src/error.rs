//! Mapping of sqlx errors into the library's error type. Driver types never escape.

use usermgmt_core::{Error, StorageError};

/// Which field a unique constraint protects, by constraint (index) name.
const UNIQUE_CONSTRAINTS: &[(&str, &str)] = &[
    ("users_email_key", "email"),
    ("users_phone_key", "phone"),
    ("users_username_key", "username"),
    ("users_unique_id_key", "unique_id"),
    ("roles_name_key", "name"),
    ("user_oauth_provider_key", "provider_user_id"),
    ("user_oauth_pkey", "provider"),
];

/// Converts a driver error: unique violations (SQLSTATE 23505) become [`Error::Conflict`]
/// naming the field, everything else an opaque [`StorageError`] with `context`.
pub(crate) fn map_err(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |err| {
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("23505")
            && let Some((_, field)) = db.constraint().and_then(|name| {
                UNIQUE_CONSTRAINTS
                    .iter()
                    .find(|(constraint, _)| *constraint == name)
            })
        {
            return Error::conflict(*field);
        }
        Error::Storage(StorageError::new(context, err))
    }
}

/// A decoding failure of a stored value.
pub(crate) fn corrupt(context: &'static str, detail: impl Into<String>) -> Error {
    Error::Storage(StorageError::new(context, detail.into()))
}
