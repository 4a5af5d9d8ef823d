//! Many new users in one transaction, written a chunk at a time as multi-row INSERTs: one
//! statement per chunk, so SQLite's full-text index and statement journal do their work once
//! per chunk instead of once per user (a statement writing the index flushes it).

use std::collections::HashSet;

use rusqlite::{Transaction, params_from_iter};
use usermgmt_core::Result;
use usermgmt_core::model::{AuditEvent, User};
use usermgmt_core::storage::{NewUser, UNIQUE_FIELDS, UserLists, unique_values};
use uuid::Uuid;

use crate::audit::{event_values, insert_event_rows};
use crate::error::map_err;
use crate::read::taken_fields;
use crate::user_rows::{USER_WRITE_COLUMNS, insert_related, user_values};

/// Users per INSERT statement (37 values each, well under SQLite's 32,766 variables).
const CHUNK: usize = 200;

/// The unique values of a user, as the unique indexes compare them.
fn unique_keys(user: &User) -> Vec<(&'static str, String)> {
    UNIQUE_FIELDS
        .into_iter()
        .zip(unique_values(user))
        .filter_map(|((field, folded), value)| {
            value.map(|v| {
                (
                    field,
                    if folded {
                        v.to_lowercase()
                    } else {
                        v.to_owned()
                    },
                )
            })
        })
        .collect()
}

/// `n` rows of `width` placeholders: `(?, ?), (?, ?)`.
fn marks(n: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; n].join(", ")
}

/// Inserts each user whose unique values are free (among stored users and the rows before
/// it), with its password, grants, OAuth links and audit event; answers per row `None`
/// (written) or the taken fields (nothing of that row written).
pub(crate) fn insert_many(
    tx: &Transaction<'_>,
    rows: &[(&NewUser, &AuditEvent)],
) -> Result<Vec<Option<Vec<String>>>> {
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut claimed: HashSet<(&'static str, String)> = HashSet::new();
    let mut accepted = Vec::with_capacity(rows.len());
    for (new, audit) in rows {
        let mut taken = taken_fields(tx, &new.user, None)?;
        let keys = unique_keys(&new.user);
        for key in &keys {
            if claimed.contains(key) && !taken.iter().any(|t| t == key.0) {
                taken.push(key.0.to_owned());
            }
        }
        if taken.is_empty() {
            claimed.extend(keys);
            accepted.push((*new, *audit));
            outcomes.push(None);
        } else {
            outcomes.push(Some(taken));
        }
    }
    for chunk in accepted.chunks(CHUNK) {
        let seqs = insert_users(tx, chunk)?;
        for ((new, _), seq) in chunk.iter().zip(seqs) {
            insert_related(tx, seq, &new.user)?;
            for link in &new.oauth_links {
                crate::oauth::insert_link(tx, new.user.tenant_id.as_str(), seq, link)?;
            }
        }
        let events = chunk
            .iter()
            .map(|(_, audit)| event_values(audit))
            .collect::<Result<Vec<_>>>()?;
        insert_event_rows(tx, &events)?;
    }
    Ok(outcomes)
}

/// One multi-row INSERT of users (with their password hashes); their row numbers, in order.
fn insert_users(tx: &Transaction<'_>, chunk: &[(&NewUser, &AuditEvent)]) -> Result<Vec<i64>> {
    let mut values = Vec::with_capacity(chunk.len() * 37);
    for (new, _) in chunk {
        values.extend(user_values(&new.user, 1, UserLists::of_new(new).encode()));
        values.push(
            new.password_hash
                .as_ref()
                .map(|h| h.as_phc().to_owned())
                .into(),
        );
    }
    let sql = format!(
        "INSERT INTO users ({USER_WRITE_COLUMNS}, password_hash) VALUES {} RETURNING id, seq",
        marks(chunk.len(), 37)
    );
    let mut statement = tx
        .prepare_cached(&sql)
        .map_err(map_err("inserting users"))?;
    let returned: Vec<(Uuid, i64)> = statement
        .query_map(params_from_iter(values.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(map_err("inserting users"))?;
    // RETURNING's order is not promised: match the rows by id.
    let seqs: std::collections::HashMap<Uuid, i64> = returned.into_iter().collect();
    chunk
        .iter()
        .map(|(new, _)| {
            seqs.get(&new.user.id).copied().ok_or_else(|| {
                usermgmt_core::Error::Storage(usermgmt_core::StorageError::new(
                    "inserting users",
                    "a row was not returned",
                ))
            })
        })
        .collect()
}
