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
    (12, include_str!("migrations/0012_user_lists.sql")),
    (13, include_str!("migrations/0013_outbox_in_sets.sql")),
];

/// The schema version this crate expects.
pub(crate) const LATEST: i64 = 13;

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

    /// Migration 12 fills the `lists` column of the users already stored from their tables,
    /// without adding to the change feed.
    #[test]
    fn stored_users_get_their_lists() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (_, sql) in MIGRATIONS.iter().filter(|(v, _)| *v < 12) {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 11).unwrap();
        let id = uuid::Uuid::now_v7();
        let user = "INSERT INTO users (seq, id, tenant_id, name, name_key, status, is_admin, \
            is_instructor, is_learner, email_verified, phone_verified, auth_method, \
            profile_completeness, created_at, updated_at, version, search_text) \
            VALUES (?1, ?2, 't', 'A', 'a', 'active', 0, 0, 1, 0, 0, 'email', 0, 0, 0, 1, 'a')";
        conn.execute(user, rusqlite::params![1, id]).unwrap();
        conn.execute(user, rusqlite::params![2, uuid::Uuid::now_v7()])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES \
                 (x'01', 't', 'viewer', 0, 0), (x'02', 't', 'editor', 0, 0); \
             INSERT INTO user_roles (user_seq, role_id) VALUES (1, x'01'), (1, x'02'); \
             INSERT INTO user_permissions (user_seq, permission) VALUES (1, 'user.list'); \
             INSERT INTO user_expertise (user_seq, value, position) VALUES (1, 'Zoology', 0), (1, 'Art', 1); \
             INSERT INTO user_oauth (tenant_id, user_seq, provider, provider_user_id, created_at) \
                 VALUES ('t', 1, 'google', 'g-1', 0);",
        )
        .unwrap();
        let feed_before: i64 = conn
            .query_row("SELECT count(*) FROM user_changes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST);
        let user = crate::read::user_by_id(&conn, "t", id).unwrap().unwrap();
        assert_eq!(user.roles, ["editor", "viewer"]);
        assert_eq!(user.permissions.len(), 1);
        assert_eq!(user.profile.expertise, ["Zoology", "Art"]);
        assert_eq!(user.oauth_providers.len(), 1);
        let empty: Option<String> = conn
            .query_row("SELECT lists FROM users WHERE seq = 2", [], |r| r.get(0))
            .unwrap();
        assert_eq!(empty, None, "a user without lists keeps NULL");
        let feed_after: i64 = conn
            .query_row("SELECT count(*) FROM user_changes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(feed_before, feed_after);
    }
}
