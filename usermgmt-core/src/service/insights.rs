//! Statistics, analytics and value look-ups (always computed fresh from the users).

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use serde::Serialize;

use super::core::UserService;
use crate::error::{Error, FieldErrors, Result};
use crate::filter::{Page, SortBy};
use crate::model::{
    AuthMethod, Change, Continent, EnrollmentStatus, Gender, GrowthInterval, GrowthPoint,
    OAuthProvider, Overview, OverviewPeriod, Permission, Status, UserStats, ValueCount, ValueField,
};
use crate::principal::Principal;

/// Most values of each data-derived list in [`FilterValues`].
pub const FILTER_VALUES_LIMIT: u32 = 200;
/// Longest growth series, in buckets.
pub const MAX_GROWTH_POINTS: usize = 3700;
/// Earliest date a growth series accepts.
pub const GROWTH_MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};
/// Latest date a growth series accepts.
pub const GROWTH_MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(date) => date,
    None => NaiveDate::MAX,
};

/// The values each filter accepts: fixed vocabularies, and the values present in the
/// tenant's (non-deleted) users with counts, most common first (at most
/// [`FILTER_VALUES_LIMIT`] each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilterValues {
    /// `status` / `statuses`.
    pub statuses: Vec<Status>,
    /// `auth_method`.
    pub auth_methods: Vec<AuthMethod>,
    /// `oauth_provider`.
    pub oauth_providers: Vec<OAuthProvider>,
    /// `gender`.
    pub genders: Vec<Gender>,
    /// `continent`.
    pub continents: Vec<Continent>,
    /// `enrollment_status`.
    pub enrollment_statuses: Vec<EnrollmentStatus>,
    /// `sort_by`.
    pub sort_by: Vec<&'static str>,
    /// Permission strings.
    pub permissions: Vec<Permission>,
    /// `roles`.
    pub roles: Vec<ValueCount>,
    /// `country`.
    pub countries: Vec<ValueCount>,
    /// `city`.
    pub cities: Vec<ValueCount>,
    /// `state`.
    pub states: Vec<ValueCount>,
    /// `timezone`.
    pub timezones: Vec<ValueCount>,
    /// `locale`.
    pub locales: Vec<ValueCount>,
    /// `designation`.
    pub designations: Vec<ValueCount>,
    /// `expertise`.
    pub expertise: Vec<ValueCount>,
}

/// The first day of the bucket holding `day`.
fn bucket_start(interval: GrowthInterval, day: NaiveDate) -> NaiveDate {
    match interval {
        GrowthInterval::Day => day,
        GrowthInterval::Week => {
            day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
        }
        GrowthInterval::Month => day.with_day(1).unwrap_or(day),
    }
}

/// The first day of the bucket after the one starting at `start`.
fn next_bucket(interval: GrowthInterval, start: NaiveDate) -> NaiveDate {
    match interval {
        GrowthInterval::Day => start + Duration::days(1),
        GrowthInterval::Week => start + Duration::days(7),
        GrowthInterval::Month => start
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX),
    }
}

/// Buckets daily counts into a zero-filled series over `[from, to]` (inclusive days).
pub fn growth_series(
    interval: GrowthInterval,
    from: NaiveDate,
    to: NaiveDate,
    daily: &[(NaiveDate, u64)],
    before: u64,
) -> Vec<GrowthPoint> {
    let mut points = Vec::new();
    let mut total = before;
    let mut start = bucket_start(interval, from);
    while start <= to {
        let end = next_bucket(interval, start);
        let new_users: u64 = daily
            .iter()
            .filter(|(day, _)| *day >= start.max(from) && *day < end && *day <= to)
            .map(|(_, n)| n)
            .sum();
        total += new_users;
        points.push(GrowthPoint {
            start: start.max(from),
            new_users,
            total_users: total,
        });
        start = end;
    }
    points
}

impl UserService {
    /// Counts by status, type and verification, and recent registrations. Requires
    /// `user.list`.
    pub async fn stats(&self, principal: &Principal) -> Result<UserStats> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let (tenant, now) = (&actor.tenant_id, self.clock.now());
        let indexed = self
            .counter
            .status_groups(self.storage.as_ref(), tenant, None, now)
            .await?;
        let groups = match indexed {
            Some(groups) => groups,
            None => self.storage.status_groups(tenant, now).await?,
        };
        Ok(UserStats::from_groups(&groups))
    }

    /// [`UserService::stats`] over the users matching `filters` (every filter of the list,
    /// enrollment filters included and handled as the list handles them). Requires
    /// `user.list`.
    pub async fn stats_filtered(
        &self,
        principal: &Principal,
        filters: crate::filter::UserFilters,
    ) -> Result<UserStats> {
        if filters.is_empty() {
            return self.stats(principal).await;
        }
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let query = crate::filter::ListQuery {
            filters,
            include_total: false,
            ..Default::default()
        };
        let mut plan = query.plan(self.config.max_page_size)?;
        let mut skipped = self.resolve_filters(&actor.tenant_id, &mut plan).await?;
        let now = self.clock.now();
        let indexed = match plan.enrollment {
            Some(_) => None,
            None => {
                let storage = self.storage.as_ref();
                let filters = Some(&plan.filters);
                (self.counter)
                    .status_groups(storage, &actor.tenant_id, filters, now)
                    .await?
            }
        };
        let groups = match indexed {
            Some(groups) => Ok(groups),
            None => {
                self.storage
                    .status_groups_matching(&actor.tenant_id, &plan, now)
                    .await
            }
        };
        let groups = match groups {
            Err(Error::EnrollmentSourceUnavailable(reason)) if !self.strict_enrollments() => {
                tracing::warn!(%reason, "enrollment push-down failed");
                skipped = plan.filters.skip_cross_service();
                self.storage
                    .status_groups_matching(&actor.tenant_id, &plan, now)
                    .await?
            }
            other => other?,
        };
        Ok(UserStats {
            skipped_filters: skipped,
            ..UserStats::from_groups(&groups)
        })
    }

    /// New, active and deleted users in the period ending now against the period before.
    /// Requires `user.list`.
    pub async fn overview(
        &self,
        principal: &Principal,
        period: OverviewPeriod,
    ) -> Result<Overview> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let now = self.clock.now();
        let length = Duration::days(period.days());
        // The current window includes `now` itself; both are half-open otherwise.
        let end = now + Duration::microseconds(1);
        let windows = [(end - length, end), (end - length - length, end - length)];
        let counts = self
            .storage
            .period_counts(&actor.tenant_id, &windows)
            .await?;
        let (current, previous) = match counts.as_slice() {
            [current, previous] => (*current, *previous),
            _ => {
                return Err(Error::Storage(crate::error::StorageError::new(
                    "computing an overview",
                    "wrong window count",
                )));
            }
        };
        Ok(Overview {
            period,
            current,
            previous,
            new_users_change: Change::between(previous.new_users, current.new_users),
            active_users_change: Change::between(previous.active_users, current.active_users),
            deleted_users_change: Change::between(previous.deleted_users, current.deleted_users),
        })
    }

    /// Registrations per day, week or month from `from` to `to` (inclusive, UTC), zero-filled,
    /// with running totals. Requires `user.list`.
    pub async fn growth(
        &self,
        principal: &Principal,
        interval: GrowthInterval,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<GrowthPoint>> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let mut errors = FieldErrors::new();
        for (field, date) in [("from", from), ("to", to)] {
            if !(GROWTH_MIN_DATE..=GROWTH_MAX_DATE).contains(&date) {
                errors.add(
                    field,
                    format!("must be between {GROWTH_MIN_DATE} and {GROWTH_MAX_DATE}"),
                );
            }
        }
        if from > to {
            errors.add("from", "must not be after `to`");
        }
        errors.into_result()?;
        let mut errors = FieldErrors::new();
        let days = (to - from).num_days() + 1;
        let buckets = match interval {
            GrowthInterval::Day => days,
            GrowthInterval::Week => days / 7 + 2,
            GrowthInterval::Month => days / 28 + 2,
        };
        if buckets > MAX_GROWTH_POINTS as i64 {
            errors.add(
                "to",
                format!(
                    "the range gives more than {MAX_GROWTH_POINTS} points; use a larger interval"
                ),
            );
        }
        errors.into_result()?;
        let start = from.and_time(NaiveTime::MIN).and_utc();
        // In range: `to` is at most GROWTH_MAX_DATE, so the next day exists.
        let end = to
            .succ_opt()
            .ok_or_else(|| Error::invalid("to", "out of range"))?
            .and_time(NaiveTime::MIN)
            .and_utc();
        let (daily, before) = self
            .storage
            .daily_registrations(&actor.tenant_id, start, end)
            .await?;
        Ok(growth_series(interval, from, to, &daily, before))
    }

    /// Everything the filter panel offers. Requires `user.list`.
    pub async fn filter_values(&self, principal: &Principal) -> Result<FilterValues> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let tenant = &actor.tenant_id;
        const FIELDS: [ValueField; 8] = [
            ValueField::Roles,
            ValueField::Country,
            ValueField::City,
            ValueField::State,
            ValueField::Timezone,
            ValueField::Locale,
            ValueField::Designation,
            ValueField::Expertise,
        ];
        let indexed = self
            .counter
            .values(
                self.storage.as_ref(),
                tenant,
                &FIELDS,
                None,
                0,
                FILTER_VALUES_LIMIT,
            )
            .await?;
        let lists: Vec<Vec<ValueCount>> = match indexed {
            Some(pages) => pages.into_iter().map(|(page, _)| page).collect(),
            None => {
                let mut lists = Vec::with_capacity(FIELDS.len());
                for field in FIELDS {
                    let (page, _) = self
                        .storage
                        .distinct_values(tenant, field, None, 0, FILTER_VALUES_LIMIT)
                        .await?;
                    lists.push(page);
                }
                lists
            }
        };
        // In the order of FIELDS.
        let [
            roles,
            countries,
            cities,
            states,
            timezones,
            locales,
            designations,
            expertise,
        ] = <[Vec<ValueCount>; 8]>::try_from(lists).unwrap_or_default();
        Ok(FilterValues {
            statuses: Status::ALL.to_vec(),
            auth_methods: AuthMethod::ALL.to_vec(),
            oauth_providers: OAuthProvider::ALL.to_vec(),
            genders: Gender::ALL.to_vec(),
            continents: Continent::ALL.to_vec(),
            enrollment_statuses: EnrollmentStatus::ALL.to_vec(),
            sort_by: SortBy::ALL.iter().map(|s| s.as_str()).collect(),
            permissions: self.config.permissions.all().into_iter().collect(),
            roles,
            countries,
            cities,
            states,
            timezones,
            locales,
            designations,
            expertise,
        })
    }

    /// Distinct values of a whitelisted field containing `q` (ASCII case-insensitive), most
    /// common first, by page — for autocomplete. Any other field is a validation error.
    /// Requires `user.list`.
    pub async fn field_values(
        &self,
        principal: &Principal,
        field: &str,
        q: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<ValueCount>> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let mut errors = FieldErrors::new();
        let parsed = field.parse::<ValueField>();
        if let Err(e) = &parsed {
            errors.add("field", e.to_string());
        }
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 100 || q.chars().any(char::is_control)) {
            errors.add("q", "must be at most 100 printable characters");
        }
        errors.merge(self.check_page(page, page_size));
        errors.into_result()?;
        let field = parsed.map_err(|e| Error::invalid("field", e.to_string()))?;
        let offset = u64::from(page - 1) * u64::from(page_size);
        let indexed = self
            .counter
            .values(
                self.storage.as_ref(),
                &actor.tenant_id,
                &[field],
                q,
                offset,
                page_size,
            )
            .await?
            .and_then(|mut pages| pages.pop());
        let (items, total) = match indexed {
            Some(page) => page,
            None => {
                self.storage
                    .distinct_values(&actor.tenant_id, field, q, offset, page_size)
                    .await?
            }
        };
        Ok(Page {
            items,
            total: Some(total),
            page: Some(page),
            page_size,
            next_cursor: None,
            skipped_filters: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn growth_buckets_are_zero_filled() {
        let daily = [(d(2026, 1, 1), 2), (d(2026, 1, 3), 1), (d(2026, 2, 10), 4)];
        let days = growth_series(
            GrowthInterval::Day,
            d(2026, 1, 1),
            d(2026, 1, 4),
            &daily,
            10,
        );
        let counts: Vec<(u64, u64)> = days.iter().map(|p| (p.new_users, p.total_users)).collect();
        assert_eq!(counts, [(2, 12), (0, 12), (1, 13), (0, 13)]);
        // 2026-01-01 is a Thursday: the first week bucket is clipped to the range start.
        let weeks = growth_series(
            GrowthInterval::Week,
            d(2026, 1, 1),
            d(2026, 1, 12),
            &daily,
            0,
        );
        let starts: Vec<NaiveDate> = weeks.iter().map(|p| p.start).collect();
        assert_eq!(starts, [d(2026, 1, 1), d(2026, 1, 5), d(2026, 1, 12)]);
        assert_eq!(weeks[0].new_users, 3);
        let months = growth_series(
            GrowthInterval::Month,
            d(2026, 1, 15),
            d(2026, 3, 1),
            &daily,
            0,
        );
        let counts: Vec<u64> = months.iter().map(|p| p.new_users).collect();
        assert_eq!(
            counts,
            [0, 4, 0],
            "days before the range start are not counted"
        );
    }
}
