//! Versioned schema migrations embedded in the crate, applied in order at open.
//! The applied version is kept in SQLite's `user_version`.

use rusqlite::Connection;

/// `(version, sql)` in order. Never edit an applied migration; add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_users_roles_audit.sql")),
    (
        2,
        include_str!("migrations/0002_sessions_notes_sequences.sql"),
    ),
    (3, include_str!("migrations/0003_statistics_indexes.sql")),
    (
        4,
        include_str!("migrations/0004_statistics_index_partial.sql"),
    ),
    (
        5,
        include_str!("migrations/0005_sessions_by_impersonator.sql"),
    ),
    (6, include_str!("migrations/0006_change_feed.sql")),
    (7, include_str!("migrations/0007_account_tokens.sql")),
    (
        8,
        include_str!("migrations/0008_token_recipient_attempts.sql"),
    ),
    (9, include_str!("migrations/0009_provisioning_tokens.sql")),
    (10, include_str!("migrations/0010_outbox.sql")),
    (11, include_str!("migrations/0011_webhooks.sql")),
];

/// The schema version this crate expects.
pub(crate) const LATEST: i64 = 11;

/// Applies every migration newer than the database's version, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<i64> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_end_at_latest() {
        for (i, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(LATEST));
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST);
        assert_eq!(
            migrate(&mut conn).unwrap(),
            LATEST,
            "applying twice is a no-op"
        );
    }
}
