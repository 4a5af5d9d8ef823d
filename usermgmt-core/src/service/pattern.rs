//! The pattern generated unique IDs follow.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};
use crate::validate::check_unique_id;

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
