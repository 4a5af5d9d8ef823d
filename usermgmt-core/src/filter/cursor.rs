//! Opaque keyset cursors: the sort position of the last row of a page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::sort::{SortBy, SortOrder, SortValue};
use crate::error::Error;

/// A decoded cursor: the list continues strictly after `(value, id)` in the given order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Sort key the cursor was made for.
    pub sort_by: SortBy,
    /// Direction the cursor was made for.
    pub sort_order: SortOrder,
    /// Sort value of the last row returned.
    pub value: SortValue,
    /// Id of the last row returned.
    pub id: Uuid,
}

/// What travels inside the opaque string: times as microseconds since the epoch.
#[derive(Serialize, Deserialize)]
struct Wire {
    s: SortBy,
    o: SortOrder,
    v: Value,
    i: Uuid,
}

/// Longest accepted encoded cursor.
const MAX_CURSOR_LEN: usize = 1024;

impl Cursor {
    /// Encodes the cursor as an opaque URL-safe string.
    pub fn encode(&self) -> String {
        let v = match &self.value {
            SortValue::Text(text) => text.clone().map_or(Value::Null, Value::String),
            SortValue::Time(time) => {
                time.map_or(Value::Null, |t| Value::from(t.timestamp_micros()))
            }
        };
        let wire = Wire {
            s: self.sort_by,
            o: self.sort_order,
            v,
            i: self.id,
        };
        // Serialising this plain struct to JSON cannot fail (no maps, no non-finite floats).
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor and checks it was made for the same sort; any mismatch or damage is a
    /// validation error on `cursor`.
    pub fn decode(text: &str, sort_by: SortBy, sort_order: SortOrder) -> Result<Self, Error> {
        let bad = || Error::invalid("cursor", "is not a cursor returned by this list");
        if text.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if wire.s != sort_by || wire.o != sort_order {
            return Err(Error::invalid(
                "cursor",
                "was made for a different sort; restart from page 1",
            ));
        }
        let value = match (sort_by, wire.v) {
            (SortBy::CreatedAt | SortBy::LastLoginAt, Value::Null) => SortValue::Time(None),
            (SortBy::CreatedAt | SortBy::LastLoginAt, Value::Number(n)) => {
                let micros = n.as_i64().ok_or_else(bad)?;
                SortValue::Time(Some(
                    DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
                ))
            }
            (SortBy::Name | SortBy::Email | SortBy::Status, Value::Null) => SortValue::Text(None),
            (SortBy::Name | SortBy::Email | SortBy::Status, Value::String(s)) => {
                SortValue::Text(Some(s))
            }
            _ => return Err(bad()),
        };
        Ok(Cursor {
            sort_by,
            sort_order,
            value,
            id: wire.i,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        let time = Utc.timestamp_opt(1_700_000_000, 123_456_000).single();
        for value in [SortValue::Time(time), SortValue::Time(None)] {
            let c = Cursor {
                sort_by: SortBy::LastLoginAt,
                sort_order: SortOrder::Asc,
                value,
                id,
            };
            let back = Cursor::decode(&c.encode(), SortBy::LastLoginAt, SortOrder::Asc);
            assert_eq!(back.ok(), Some(c));
        }
        let c = Cursor {
            sort_by: SortBy::Email,
            sort_order: SortOrder::Desc,
            value: SortValue::Text(Some("a@b.c".into())),
            id,
        };
        assert_eq!(
            Cursor::decode(&c.encode(), SortBy::Email, SortOrder::Desc).ok(),
            Some(c)
        );
    }

    #[test]
    fn damaged_or_mismatched_cursors_are_rejected() {
        assert!(Cursor::decode("not-a-cursor", SortBy::Name, SortOrder::Asc).is_err());
        let c = Cursor {
            sort_by: SortBy::Name,
            sort_order: SortOrder::Asc,
            value: SortValue::Text(Some("x".into())),
            id: Uuid::nil(),
        };
        assert!(Cursor::decode(&c.encode(), SortBy::Name, SortOrder::Desc).is_err());
        assert!(Cursor::decode(&c.encode(), SortBy::CreatedAt, SortOrder::Asc).is_err());
    }
}
