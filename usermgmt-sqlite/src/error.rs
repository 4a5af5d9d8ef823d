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
    ("user_oauth.provider_user_id", "provider_user_id"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each unique index, violated for real, maps to a conflict on its field.
    #[test]
    fn unique_violations_map_to_their_field() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        let insert_user = |conn: &rusqlite::Connection, seq: i64, column: &str, value: &str| {
            let sql = format!(
                "INSERT INTO users (seq, id, tenant_id, name, name_key, {column}, status, is_admin, is_instructor, \
                 is_learner, email_verified, phone_verified, auth_method, profile_completeness, created_at, \
                 updated_at, version, search_text) \
                 VALUES (?1, randomblob(16), 't', 'n', 'n', ?2, 'active', 0, 0, 1, 0, 0, 'email', 0, 0, 0, 1, '')"
            );
            conn.execute(&sql, rusqlite::params![seq, value])
        };
        let mut seq = 0;
        for (column, first, second) in [
            ("email", "a@x.test", "A@X.TEST"),
            ("phone", "+15550100", "+15550100"),
            ("username", "ada", "ADA"),
            ("unique_id", "id-1", "ID-1"),
        ] {
            seq += 2;
            insert_user(&conn, seq, column, first).unwrap();
            let err = insert_user(&conn, seq + 1, column, second).unwrap_err();
            match map_err("test")(err) {
                Error::Conflict { fields } => assert_eq!(fields, [column]),
                other => panic!("{column}: {other:?}"),
            }
        }
        conn.execute("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (x'01', 't', 'r', 0, 0)", [])
            .unwrap();
        let err = conn
            .execute("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (x'02', 't', 'R', 0, 0)", [])
            .unwrap_err();
        assert!(matches!(map_err("test")(err), Error::Conflict { fields } if fields == ["name"]));
        let link = "INSERT INTO user_oauth (tenant_id, user_seq, provider, provider_user_id, created_at) \
                    VALUES ('t', ?1, 'google', 'g-1', 0)";
        conn.execute(link, [2]).unwrap();
        let err = conn.execute(link, [3]).unwrap_err();
        assert!(
            matches!(map_err("test")(err), Error::Conflict { fields } if fields == ["provider_user_id"])
        );
    }
}
