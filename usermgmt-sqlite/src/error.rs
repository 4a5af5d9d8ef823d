//! Mapping of rusqlite errors into the library's error type. Driver types never escape.

use usermgmt_core::{Error, StorageError};

/// What a unique constraint SQLite reports covers: an expression index, by its name, or a
/// plain one, by its columns (`table.column`, in index order).
const UNIQUE_FIELDS: &[(Violated<'static>, &str)] = &[
    (Violated::Index("users_email_key"), "email"),
    (
        Violated::Columns(&["users.tenant_id", "users.phone"]),
        "phone",
    ),
    (Violated::Index("users_username_key"), "username"),
    (Violated::Index("users_unique_id_key"), "unique_id"),
    (Violated::Index("roles_name_key"), "name"),
    (
        Violated::Columns(&[
            "user_oauth.tenant_id",
            "user_oauth.provider",
            "user_oauth.provider_user_id",
        ]),
        "provider_user_id",
    ),
];

/// The constraint a `SQLITE_CONSTRAINT_UNIQUE` failure names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Violated<'a> {
    /// An index on expressions, by name.
    Index(&'a str),
    /// An index on columns, by its columns.
    Columns(&'a [&'a str]),
}

/// Reads the constraint from SQLite's fixed detail format, `UNIQUE constraint failed: ` then
/// `index '<name>'` or `<table>.<column>, …`, matched whole (not searched for a name).
fn violated(detail: &str) -> Option<(Option<&str>, Vec<&str>)> {
    let rest = detail.strip_prefix("UNIQUE constraint failed: ")?;
    if let Some(name) = rest
        .strip_prefix("index '")
        .and_then(|r| r.strip_suffix('\''))
    {
        return Some((Some(name), Vec::new()));
    }
    Some((None, rest.split(", ").collect()))
}

/// The field a unique violation concerns.
fn unique_field(detail: &str) -> Option<&'static str> {
    let (index, columns) = violated(detail)?;
    UNIQUE_FIELDS.iter().find_map(|(constraint, field)| {
        let hit = match (constraint, index) {
            (Violated::Index(name), Some(index)) => *name == index,
            (Violated::Columns(cols), None) => *cols == columns.as_slice(),
            _ => false,
        };
        hit.then_some(*field)
    })
}

/// Converts a driver error: unique violations (extended code `SQLITE_CONSTRAINT_UNIQUE`)
/// become [`Error::Conflict`] naming the field, everything else an opaque [`StorageError`]
/// with `context`.
pub(crate) fn map_err(context: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |err| {
        if let rusqlite::Error::SqliteFailure(failure, Some(detail)) = &err
            && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            && let Some(field) = unique_field(detail)
        {
            return Error::conflict(field);
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

    /// Every unique index of the schema (beyond ids and token hashes, which are generated)
    /// is in [`UNIQUE_FIELDS`], under the name or columns SQLite reports for it.
    #[test]
    fn every_unique_index_maps_to_a_field() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT m.tbl_name, l.name, (SELECT group_concat(coalesce(m.tbl_name || '.' || x.name, ''), ',') \
                 FROM pragma_index_xinfo(l.name) x WHERE x.key) FROM sqlite_master m, pragma_index_list(m.tbl_name) l \
                 WHERE m.type = 'table' AND l.\"unique\" AND l.origin = 'c'",
            )
            .unwrap();
        let indexes: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(indexes.len() >= 6, "{indexes:?}");
        for (_table, name, columns) in indexes {
            let detail = if columns.split(',').any(str::is_empty) {
                format!("UNIQUE constraint failed: index '{name}'")
            } else {
                format!("UNIQUE constraint failed: {}", columns.replace(',', ", "))
            };
            assert!(unique_field(&detail).is_some(), "{name}: {detail}");
        }
    }

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
