//! Normalisation and the age bounds.

use super::*;
use crate::model::age_on;

#[test]
fn age_bounds_agree_with_age_on_every_day() {
    let start = NaiveDate::from_ymd_opt(1999, 12, 1).unwrap_or_default();
    let days: Vec<NaiveDate> = start.iter_days().take(365 * 6).collect();
    for &today in days.iter().step_by(7).chain(days.iter().filter(|d| {
        use chrono::Datelike;
        d.month() == 2 && d.day() >= 27 || d.month() == 3 && d.day() == 1
    })) {
        for n in [0u32, 1, 2, 4] {
            let filters = UserFilters {
                age_min: Some(n),
                age_max: Some(n),
                ..Default::default()
            };
            let upper = filters.born_on_or_before(today).unwrap_or_default();
            let lower = filters.born_after(today).unwrap_or_default();
            for &dob in &days {
                let Some(age) = age_on(dob, today) else {
                    continue;
                };
                assert_eq!(age >= n, dob <= upper, "min {n} dob {dob} today {today}");
                assert_eq!(age <= n, dob > lower, "max {n} dob {dob} today {today}");
            }
        }
    }
}

#[test]
fn normalize_reports_every_bad_field() {
    let mut filters = UserFilters {
        search: Some("a\u{0}b".into()),
        country: vec!["ZZ".into(), "de".into()],
        timezone: vec!["Mars/Base".into()],
        age_min: Some(40),
        age_max: Some(30),
        roles: vec!["Bad Role!".into()],
        ..Default::default()
    };
    let errors = filters.normalize().err().unwrap_or_default();
    for field in ["search", "country", "timezone", "age_min", "roles"] {
        assert!(
            errors.get(field).is_some(),
            "{field} not reported: {errors}"
        );
    }
}

#[test]
fn normalize_canonicalises_values() {
    let mut filters = UserFilters {
        search: Some("  ÄDA ".into()),
        country: vec!["de".into(), "DE".into()],
        roles: vec![" Editor ".into()],
        ..Default::default()
    };
    assert!(filters.normalize().is_ok());
    assert_eq!(filters.search.as_deref(), Some("äda"));
    assert_eq!(filters.country, vec!["DE".to_owned()]);
    assert_eq!(filters.roles, vec!["editor".to_owned()]);
}
