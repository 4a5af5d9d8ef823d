//! The cross-service (enrollment) filters and their reference semantics.
//!
//! The per-enrollment conditions — `enrollment_status`, `enrolled_program_type`,
//! `enrolled_program_ids`, `progress_min`, `progress_max`, `last_learning_activity_after` —
//! must hold together on at least one of the user's enrollments. `total_time_spent_min`
//! compares the sum of time over the user's enrollments that satisfy those conditions (all of
//! them when none is set), and needs at least one. `has_enrollments=true` needs at least one
//! enrollment; `has_enrollments=false` means no enrollment at all, so combined with any other
//! enrollment filter nobody matches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checks::{dedup, range_check};
use crate::error::FieldErrors;
use crate::model::{Enrollment, EnrollmentStatus};

/// The cross-service filters: conditions on the user's enrollments in another service's
/// learning data, evaluated by an enrollment source or inside the users query (push-down).
/// Part of [`super::UserFilters`] (`enrollment`), flat in the query string and in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default)]
pub struct EnrollmentFilters {
    /// has any enrollment.
    pub has_enrollments: Option<bool>,
    /// has an enrollment in any of these statuses.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub enrollment_status: Vec<EnrollmentStatus>,
    /// enrolled in a program of any of these types.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub enrolled_program_type: Vec<String>,
    /// enrolled in any of these programs.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub enrolled_program_ids: Vec<String>,
    /// enrollment progress at least (0–100).
    #[cfg_attr(feature = "openapi", schema(maximum = 100), param(maximum = 100))]
    pub progress_min: Option<u8>,
    /// enrollment progress at most (0–100).
    #[cfg_attr(feature = "openapi", schema(maximum = 100), param(maximum = 100))]
    pub progress_max: Option<u8>,
    /// total learning time at least this many seconds.
    #[cfg_attr(
        feature = "openapi",
        schema(maximum = 9223372036854775807_u64),
        param(maximum = 9223372036854775807_u64)
    )]
    pub total_time_spent_min: Option<u64>,
    /// last learning activity at or after.
    pub last_learning_activity_after: Option<DateTime<Utc>>,
}

/// Which users the enrollment filters leave, as an enrollment source reports it. Build it
/// with [`EnrollmentMatch::only`] / [`EnrollmentMatch::except`] (or keep the ids sorted and
/// unique): [`EnrollmentMatch::allows`] searches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentMatch {
    /// Only these users (sorted, unique).
    Only(Vec<Uuid>),
    /// Everyone but these users (sorted, unique; `has_enrollments=false`: everyone without an
    /// enrollment).
    Except(Vec<Uuid>),
}

impl EnrollmentMatch {
    /// The match an enrollment source read: the users its query selected (ids as text; any
    /// that is not a UUID is skipped), left (`except` false) or left out.
    pub fn from_texts(except: bool, texts: &[String]) -> Self {
        let ids = texts.iter().filter_map(|t| t.parse().ok()).collect();
        if except {
            EnrollmentMatch::except(ids)
        } else {
            EnrollmentMatch::only(ids)
        }
    }

    /// Only these users (in any order, repeats allowed).
    pub fn only(mut ids: Vec<Uuid>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        EnrollmentMatch::Only(ids)
    }

    /// Everyone but these users (in any order, repeats allowed).
    pub fn except(mut ids: Vec<Uuid>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        EnrollmentMatch::Except(ids)
    }

    /// Whether the user with `id` is left.
    pub fn allows(&self, id: Uuid) -> bool {
        match self {
            EnrollmentMatch::Only(ids) => ids.binary_search(&id).is_ok(),
            EnrollmentMatch::Except(ids) => ids.binary_search(&id).is_err(),
        }
    }
}

/// The fields of a value as its serialisation writes them, in order.
fn fields(value: &impl Serialize) -> Option<Vec<(String, serde_json::Value)>> {
    struct Fields(Vec<(String, serde_json::Value)>);
    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct InOrder;
            impl<'de> serde::de::Visitor<'de> for InOrder {
                type Value = Fields;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Fields, A::Error> {
                    let mut out = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        out.push(entry);
                    }
                    Ok(Fields(out))
                }
            }
            d.deserialize_map(InOrder)
        }
    }
    let text = serde_json::to_string(value).ok()?;
    serde_json::from_str::<Fields>(&text).ok().map(|f| f.0)
}

impl EnrollmentFilters {
    /// Names of the filters that are set, in field order, read from the type's own
    /// serialisation (a field added here is named without a list to keep in step).
    pub fn in_use(&self) -> Vec<String> {
        let (Some(set), Some(unset)) = (fields(self), fields(&EnrollmentFilters::default())) else {
            return Vec::new();
        };
        set.into_iter()
            .zip(unset)
            .filter(|((_, value), (_, default))| value != default)
            .map(|((name, _), _)| name)
            .collect()
    }

    /// The number of values of each multi-valued filter, by name.
    pub(super) fn list_lengths(&self) -> [(&'static str, usize); 3] {
        [
            ("enrollment_status", self.enrollment_status.len()),
            ("enrolled_program_type", self.enrolled_program_type.len()),
            ("enrolled_program_ids", self.enrolled_program_ids.len()),
        ]
    }

    /// Checks the numeric filters and de-duplicates the statuses (the text lists are checked
    /// with the other text filters), adding what is wrong to `errors`.
    pub(super) fn check(&mut self, errors: &mut FieldErrors) {
        dedup(&mut self.enrollment_status);
        if self
            .total_time_spent_min
            .is_some_and(|v| i64::try_from(v).is_err())
        {
            errors.add(
                "total_time_spent_min",
                format!("must be at most {}", i64::MAX),
            );
        }
        for (field, value) in [
            ("progress_min", self.progress_min),
            ("progress_max", self.progress_max),
        ] {
            if value.is_some_and(|v| v > 100) {
                errors.add(field, "must be between 0 and 100");
            }
        }
        range_check(
            errors,
            "progress_min",
            self.progress_min,
            "progress_max",
            self.progress_max,
        );
    }

    /// Whether any per-enrollment condition is set.
    pub fn has_enrollment_conditions(&self) -> bool {
        !self.enrollment_status.is_empty()
            || !self.enrolled_program_type.is_empty()
            || !self.enrolled_program_ids.is_empty()
            || self.progress_min.is_some()
            || self.progress_max.is_some()
            || self.last_learning_activity_after.is_some()
    }

    /// Whether the enrollment filters contradict each other (`has_enrollments=false` with any
    /// other enrollment filter), so that nobody matches.
    pub fn enrollment_filters_unsatisfiable(&self) -> bool {
        self.has_enrollments == Some(false)
            && (self.has_enrollment_conditions() || self.total_time_spent_min.is_some())
    }

    /// Whether one enrollment satisfies every per-enrollment condition.
    pub fn enrollment_matches(&self, e: &Enrollment) -> bool {
        (self.enrollment_status.is_empty() || self.enrollment_status.contains(&e.status))
            && (self.enrolled_program_type.is_empty()
                || self.enrolled_program_type.contains(&e.program_type))
            && (self.enrolled_program_ids.is_empty()
                || self.enrolled_program_ids.contains(&e.program_id))
            && self.progress_min.is_none_or(|min| e.progress >= min)
            && self.progress_max.is_none_or(|max| e.progress <= max)
            && self
                .last_learning_activity_after
                .is_none_or(|t| e.last_activity_at.is_some_and(|a| a >= t))
    }

    /// Whether a user with these enrollments satisfies the enrollment filters (true when none
    /// is set). This is the definition every enrollment source must reproduce.
    pub fn matches_enrollments(&self, enrollments: &[Enrollment]) -> bool {
        let conditions = self.has_enrollment_conditions() || self.total_time_spent_min.is_some();
        match self.has_enrollments {
            Some(false) => return enrollments.is_empty() && !conditions,
            Some(true) if enrollments.is_empty() => return false,
            _ => {}
        }
        if !conditions {
            return true;
        }
        let matching: Vec<&Enrollment> = enrollments
            .iter()
            .filter(|e| self.enrollment_matches(e))
            .collect();
        if matching.is_empty() {
            return false;
        }
        self.total_time_spent_min.is_none_or(|min| {
            let time = matching
                .iter()
                .fold(0u64, |sum, e| sum.saturating_add(e.time_spent_seconds));
            time >= min
        })
    }

    /// The users satisfying the enrollment filters, given every enrollment of the tenant
    /// (the reference for sources).
    pub fn enrollment_match(&self, enrollments: &[Enrollment]) -> EnrollmentMatch {
        let mut by_user: std::collections::BTreeMap<Uuid, Vec<Enrollment>> =
            std::collections::BTreeMap::new();
        for e in enrollments {
            by_user.entry(e.user_id).or_default().push(e.clone());
        }
        if self.has_enrollments == Some(false) {
            let conditions =
                self.has_enrollment_conditions() || self.total_time_spent_min.is_some();
            return if conditions {
                EnrollmentMatch::Only(Vec::new())
            } else {
                EnrollmentMatch::Except(by_user.into_keys().collect())
            };
        }
        EnrollmentMatch::Only(
            by_user
                .into_iter()
                .filter(|(_, list)| self.matches_enrollments(list))
                .map(|(id, _)| id)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_in_use_follow_the_field_order() {
        let filters = EnrollmentFilters {
            progress_max: Some(90),
            enrollment_status: vec![crate::model::EnrollmentStatus::Active],
            has_enrollments: Some(true),
            progress_min: Some(10),
            ..Default::default()
        };
        assert_eq!(
            filters.in_use(),
            [
                "has_enrollments",
                "enrollment_status",
                "progress_min",
                "progress_max"
            ]
        );
        assert!(EnrollmentFilters::default().in_use().is_empty());
    }

    use super::*;
    use crate::model::EnrollmentStatus;

    fn enrollment(status: EnrollmentStatus, kind: &str, progress: u8, time: u64) -> Enrollment {
        Enrollment {
            user_id: Uuid::nil(),
            program_id: format!("{kind}-1"),
            program_type: kind.into(),
            status,
            progress,
            time_spent_seconds: time,
            last_activity_at: None,
        }
    }

    #[test]
    fn conditions_hold_together_on_one_enrollment() {
        let list = [
            enrollment(EnrollmentStatus::Active, "course", 10, 100),
            enrollment(EnrollmentStatus::Completed, "bootcamp", 100, 50),
        ];
        let f = EnrollmentFilters {
            enrollment_status: vec![EnrollmentStatus::Active],
            progress_min: Some(50),
            ..Default::default()
        };
        assert!(!f.matches_enrollments(&list), "active ones are not at 50%+");
        let f = EnrollmentFilters {
            enrollment_status: vec![EnrollmentStatus::Completed],
            progress_min: Some(50),
            ..Default::default()
        };
        assert!(f.matches_enrollments(&list));
        let f = EnrollmentFilters {
            total_time_spent_min: Some(120),
            ..Default::default()
        };
        assert!(f.matches_enrollments(&list), "150 s over all enrollments");
        let f = EnrollmentFilters {
            total_time_spent_min: Some(120),
            enrolled_program_type: vec!["course".into()],
            ..Default::default()
        };
        assert!(
            !f.matches_enrollments(&list),
            "only the course's 100 s count"
        );
        let none = EnrollmentFilters {
            has_enrollments: Some(false),
            ..Default::default()
        };
        assert!(none.matches_enrollments(&[]) && !none.matches_enrollments(&list));
        let contradictory = EnrollmentFilters {
            has_enrollments: Some(false),
            progress_min: Some(0),
            ..Default::default()
        };
        assert!(!contradictory.matches_enrollments(&[]));
        assert!(EnrollmentFilters::default().matches_enrollments(&[]));
    }
}
