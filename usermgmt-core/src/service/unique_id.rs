//! Unique IDs: set explicitly, or generated from a pattern over a per-tenant sequence.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use uuid::Uuid;

use super::UserService;
use super::inputs::UpdateUser;
use crate::error::{Error, Result};
use crate::model::User;
use crate::principal::Principal;
use crate::validate::check_unique_id;

/// The sequence behind generated unique IDs.
const SEQUENCE: &str = "unique_id";
/// Attempts at generating a value not already taken (by an explicitly set one).
const GENERATE_ATTEMPTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Sequence { width: usize },
    Year,
    ShortYear,
    Month,
    Day,
}

/// A pattern for generated unique IDs, e.g. `STU-{YYYY}-{SEQ:6}`.
///
/// Placeholders: `{SEQ}` or `{SEQ:n}` (the tenant's next sequence number, zero-padded to `n`
/// digits, exactly once), `{YYYY}`, `{YY}`, `{MM}`, `{DD}` (the UTC date). Literal text may use
/// `A-Z a-z 0-9 . - _ /`. Because the sequence never repeats, neither do generated IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIdPattern {
    source: String,
    parts: Vec<Part>,
}

impl Default for UniqueIdPattern {
    fn default() -> Self {
        // The default pattern is a valid literal; parsing it cannot fail.
        "ID-{YYYY}-{SEQ:6}".parse().unwrap_or(Self {
            source: String::new(),
            parts: Vec::new(),
        })
    }
}

impl fmt::Display for UniqueIdPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for UniqueIdPattern {
    type Err = Error;

    fn from_str(source: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("unique_id_pattern", why.to_owned());
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').ok_or_else(|| bad("unclosed `{`"))?;
                let part = match &after[..end] {
                    "SEQ" => Part::Sequence { width: 1 },
                    "YYYY" => Part::Year,
                    "YY" => Part::ShortYear,
                    "MM" => Part::Month,
                    "DD" => Part::Day,
                    other => match other.strip_prefix("SEQ:").and_then(|w| w.parse().ok()) {
                        Some(width @ 1..=12) => Part::Sequence { width },
                        _ => {
                            return Err(bad(
                                "unknown placeholder; use {SEQ}, {SEQ:n}, {YYYY}, {YY}, {MM}, {DD}",
                            ));
                        }
                    },
                };
                parts.push(part);
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let literal = &rest[..end];
                if check_unique_id(literal).is_err() {
                    return Err(bad("literal text may only use A-Z a-z 0-9 . - _ /"));
                }
                parts.push(Part::Literal(literal.to_owned()));
                rest = &rest[end..];
            }
        }
        let sequences = parts
            .iter()
            .filter(|p| matches!(p, Part::Sequence { .. }))
            .count();
        if sequences != 1 {
            return Err(bad("must contain {SEQ} exactly once"));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }
}

impl UniqueIdPattern {
    /// The ID for sequence number `seq` on `date`.
    pub fn render(&self, seq: i64, date: NaiveDate) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::Sequence { width } => format!("{seq:0width$}"),
                Part::Year => format!("{:04}", date.year()),
                Part::ShortYear => format!("{:02}", date.year().rem_euclid(100)),
                Part::Month => format!("{:02}", date.month()),
                Part::Day => format!("{:02}", date.day()),
            })
            .collect()
    }
}

/// Set a user's unique ID: either a given value or a generated one (exactly one of the two).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetUniqueId {
    /// The value to set: 1–64 of `A-Z a-z 0-9 . - _ /`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*[A-Za-z0-9._/-]{1,64}\s*$")
    )]
    pub unique_id: Option<String>,
    /// Generate a value from the configured pattern.
    #[serde(default)]
    pub generate: bool,
}

impl UserService {
    /// Sets a user's unique ID to a given value (validated, unique per tenant) or to the next
    /// value generated from [`crate::ServiceConfig::unique_id_pattern`]. Requires `user.update`.
    pub async fn set_unique_id(
        &self,
        principal: &Principal,
        user_id: Uuid,
        change: SetUniqueId,
    ) -> Result<User> {
        let explicit = match (change.unique_id, change.generate) {
            (Some(value), false) => Some(value),
            (None, true) => None,
            _ => {
                return Err(Error::invalid(
                    "unique_id",
                    "give either `unique_id` or `generate: true`",
                ));
            }
        };
        if let Some(value) = explicit {
            if check_unique_id(value.trim()).is_err() || value.trim().is_empty() {
                return Err(Error::invalid(
                    "unique_id",
                    "must be 1-64 characters of A-Z a-z 0-9 . - _ /",
                ));
            }
            let patch = UpdateUser {
                unique_id: Some(Some(value)),
                ..Default::default()
            };
            return self.update_user(principal, user_id, patch).await;
        }
        // Check access and existence before consuming sequence numbers.
        let actor = self
            .authorize_write(principal, crate::model::Permission::UserUpdate)
            .await?;
        self.load_user(&actor, user_id).await?;
        for _ in 0..GENERATE_ATTEMPTS {
            let seq = self.storage.next_value(&actor.tenant_id, SEQUENCE).await?;
            let value = self
                .config
                .unique_id_pattern
                .render(seq, self.clock.now().date_naive());
            let patch = UpdateUser {
                unique_id: Some(Some(value)),
                ..Default::default()
            };
            match self.update_user(principal, user_id, patch).await {
                Err(Error::Conflict { fields }) if fields.iter().any(|f| f == "unique_id") => {
                    continue;
                }
                other => return other,
            }
        }
        Err(Error::conflict("unique_id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_render_and_validate() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap_or_default();
        let pattern: UniqueIdPattern = "STU-{YYYY}{MM}{DD}-{SEQ:5}".parse().unwrap_or_default();
        assert_eq!(pattern.render(42, date), "STU-20260307-00042");
        assert_eq!(UniqueIdPattern::default().render(7, date), "ID-2026-000007");
        let short: UniqueIdPattern = "{YY}/{SEQ}".parse().unwrap_or_default();
        assert_eq!(short.render(1234567, date), "26/1234567");
        for bad in [
            "NO-SEQ",
            "{SEQ}{SEQ}",
            "{SEQ:0}",
            "{SEQ:13}",
            "A B{SEQ}",
            "{SEQ",
            "{XYZ}{SEQ}",
        ] {
            assert!(bad.parse::<UniqueIdPattern>().is_err(), "{bad}");
        }
    }
}
