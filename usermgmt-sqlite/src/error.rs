//! Mapping of rusqlite errors into the library's error type. Driver types never escape.

use rusqlite::ErrorCode;
use usermgmt_core::{Error, StorageError};

/// Which field a unique index protects, recognised by the index name SQLite reports for
/// expression indexes, or the column list it reports for plain ones.
const UNIQUE_INDEXES: &[(&str, &str)] = &[
    ("users_email_key", "email"),
    ("users.phone", "phone"),
    ("users_username_key", "username"),
    ("users_unique_id_key", "unique_id"),
    ("roles_name_key", "name"),
    ("user_oauth_provider_key", "provider_user_id"),
];

/// Converts a driver error: unique violations become [`Error::Conflict`] naming the field,
/// everything else an opaque [`StorageError`] with `context`.
pub(crate) fn map_err(context: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |err| {
        if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &err
            && failure.code == ErrorCode::ConstraintViolation
            && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            && let Some((_, field)) = UNIQUE_INDEXES
                .iter()
                .find(|(index, _)| message.contains(index))
        {
            return Error::conflict(*field);
        }
        Error::Storage(StorageError::new(context, err))
    }
}

/// Shorthand for a decoding failure of a stored value.
pub(crate) fn corrupt(context: &'static str, detail: impl Into<String>) -> Error {
    Error::Storage(StorageError::new(context, detail.into()))
}
