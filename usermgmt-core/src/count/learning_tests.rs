use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::LearningIndex;
use crate::filter::EnrollmentFilters;
use crate::model::{Enrollment, EnrollmentStatus};

const TYPES: [&str; 3] = ["course", "bootcamp", "workshop"];
const PROGRAMS: [&str; 4] = ["p1", "p2", "p3", "p4"];

fn user(n: u8) -> Uuid {
    Uuid::from_u128(u128::from(n) + 1)
}

fn enrollment() -> impl Strategy<Value = Enrollment> {
    (
        0u8..8,
        0usize..5,
        0usize..3,
        0usize..4,
        prop_oneof![Just(0u8), Just(50), Just(100), 0u8..=100],
        prop_oneof![Just(0u64), Just(10), Just(20), Just(u64::MAX / 2)],
        proptest::option::of(0i64..10),
    )
        .prop_map(|(u, s, t, p, progress, time, day)| Enrollment {
            user_id: user(u),
            program_id: PROGRAMS[p].into(),
            program_type: TYPES[t].into(),
            status: EnrollmentStatus::ALL[s],
            progress,
            time_spent_seconds: time,
            last_activity_at: day.and_then(|d| Utc.timestamp_opt(d * 86_400, 0).single()),
        })
}

fn filters() -> impl Strategy<Value = EnrollmentFilters> {
    (
        proptest::option::of(any::<bool>()),
        proptest::sample::subsequence(EnrollmentStatus::ALL.to_vec(), 0..3),
        proptest::sample::subsequence(vec!["course", "bootcamp", "other"], 0..2),
        proptest::sample::subsequence(vec!["p1", "p3", "p9"], 0..2),
        proptest::option::of(0u8..=100),
        proptest::option::of(0u8..=100),
        proptest::option::of(prop_oneof![
            Just(0u64),
            Just(10),
            Just(20),
            Just(30),
            Just(u64::MAX / 2 + 1)
        ]),
        proptest::option::of(0i64..10),
    )
        .prop_map(
            |(has, status, types, programs, min, max, time, day)| EnrollmentFilters {
                has_enrollments: has,
                enrollment_status: status,
                enrolled_program_type: types.into_iter().map(String::from).collect(),
                enrolled_program_ids: programs.into_iter().map(String::from).collect(),
                progress_min: min,
                progress_max: max,
                total_time_spent_min: time,
                last_learning_activity_after: day
                    .and_then(|d| Utc.timestamp_opt(d * 86_400, 0).single()),
            },
        )
}

proptest! {
    /// After a full read and any sequence of per-user replacements, the index leaves exactly
    /// the users the reference semantics leave.
    #[test]
    fn the_index_matches_the_reference(
        initial in proptest::collection::vec(enrollment(), 0..40),
        writes in proptest::collection::vec(
            (0u8..8, proptest::collection::vec(enrollment(), 0..4)), 0..12),
        queries in proptest::collection::vec(filters(), 1..6),
    ) {
        let mut index = LearningIndex::default();
        index.add(&initial);
        let mut all = initial;
        for (u, mut list) in writes {
            for e in &mut list {
                e.user_id = user(u);
            }
            all.retain(|e| e.user_id != user(u));
            all.extend(list.iter().cloned());
            index.replace(&[user(u)], &list);
            prop_assert_eq!(index.rows(), all.len());
        }
        for filters in queries {
            prop_assert_eq!(index.matching(&filters), filters.enrollment_match(&all), "{:?}", filters);
        }
    }
}

#[test]
fn compaction_keeps_every_live_row() {
    let mut index = LearningIndex::default();
    let of = |u: u8, n: usize| -> Vec<Enrollment> {
        (0..n)
            .map(|i| Enrollment {
                user_id: user(u),
                program_id: format!("p{i}"),
                program_type: "course".into(),
                status: EnrollmentStatus::Active,
                progress: u8::try_from(i % 101).unwrap_or(0),
                time_spent_seconds: 1,
                last_activity_at: None,
            })
            .collect()
    };
    index.add(&of(1, 3));
    for round in 0..3000 {
        index.replace(&[user(2)], &of(2, 1 + round % 3));
    }
    assert!(index.removed < 4096 + 3, "removed rows were compacted away");
    assert_eq!(index.rows(), 3 + 1 + 2999 % 3);
    let any = EnrollmentFilters {
        has_enrollments: Some(true),
        ..Default::default()
    };
    assert_eq!(
        index.matching(&any),
        crate::filter::EnrollmentMatch::Only(vec![user(1), user(2)])
    );
}

/// A bound between two microseconds: the index holds activity in whole microseconds and
/// rounds the bound up, as the reference compares it.
#[test]
fn an_activity_bound_within_a_microsecond_rounds_up() {
    let at = Utc.timestamp_opt(86_400, 0).single().unwrap_or_default();
    let enrollment = Enrollment {
        user_id: user(1),
        program_id: "p1".into(),
        program_type: "course".into(),
        status: EnrollmentStatus::Active,
        progress: 10,
        time_spent_seconds: 1,
        last_activity_at: Some(at),
    };
    let mut index = LearningIndex::default();
    index.add(std::slice::from_ref(&enrollment));
    for nanos in [0, 500, 1_000] {
        let filters = EnrollmentFilters {
            last_learning_activity_after: Some(at + chrono::Duration::nanoseconds(nanos)),
            ..Default::default()
        };
        assert_eq!(
            index.matching(&filters),
            filters.enrollment_match(std::slice::from_ref(&enrollment)),
            "{nanos} ns after"
        );
    }
}
