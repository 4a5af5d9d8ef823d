//! The reference model: the pure definition of every filter and of the list order.
//! Every backend must return exactly what these functions return.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::filters::UserFilters;
use super::query::{ListPlan, Window};
use super::sort::compare;
use crate::model::{PROFILE_COMPLETE_THRESHOLD, Permission, TenantId, User};

fn flag(filter: Option<bool>, value: bool) -> bool {
    filter.is_none_or(|wanted| wanted == value)
}

fn any_of<T: PartialEq>(filter: &[T], value: &T) -> bool {
    filter.is_empty() || filter.contains(value)
}

fn any_text(filter: &[String], value: Option<&str>) -> bool {
    filter.is_empty() || value.is_some_and(|v| filter.iter().any(|f| f.eq_ignore_ascii_case(v)))
}

/// An identity value against lower-cased filter values (compared as `lower()` in SQL).
fn any_key(filter: &[String], value: Option<&str>) -> bool {
    filter.is_empty() || value.is_some_and(|v| filter.contains(&v.to_lowercase()))
}

impl UserFilters {
    /// Whether `user` satisfies every (normalised) filter at time `now`; `holds` answers
    /// whether the user holds a permission (through a role or directly, as stored), for the
    /// `permission` filter: a user record does not carry its roles' permissions, so the
    /// caller says — exactly where a wrong answer would matter, or `|_| true` to count any
    /// user as matching it.
    ///
    /// Cross-service filters are not evaluated here: they need enrollment data, which the
    /// service resolves separately (or reports in `skipped_filters`).
    pub fn matches(
        &self,
        user: &User,
        now: DateTime<Utc>,
        holds: impl Fn(&Permission) -> bool,
    ) -> bool {
        let p = &user.profile;
        let today = now.date_naive();
        let deleted_ok = self.includes_deleted() || user.status != crate::model::Status::Deleted;
        deleted_ok
            && self
                .search
                .as_deref()
                .is_none_or(|term| user.search_text().contains(term))
            && any_of(&self.ids, &user.id)
            && any_key(&self.email, user.email.as_deref())
            && any_key(&self.username, user.username.as_deref())
            && any_key(&self.unique_id, user.unique_id.as_deref())
            && self.status.is_none_or(|s| s == user.status)
            && any_of(&self.statuses, &user.status)
            && flag(self.is_admin, user.is_admin)
            && flag(self.is_instructor, user.is_instructor)
            && flag(self.is_learner, user.is_learner)
            && flag(self.email_verified, user.email_verified)
            && flag(self.phone_verified, user.phone_verified)
            && any_of(&self.auth_method, &user.auth_method)
            && flag(self.has_oauth, !user.oauth_providers.is_empty())
            && (self.oauth_provider.is_empty()
                || user
                    .oauth_providers
                    .iter()
                    .any(|p| self.oauth_provider.contains(p)))
            && flag(self.has_password, user.has_password)
            && (self.roles.is_empty() || user.roles.iter().any(|r| self.roles.contains(r)))
            && self.permission.as_ref().is_none_or(holds)
            && flag(
                self.profile_complete,
                user.profile_completeness >= PROFILE_COMPLETE_THRESHOLD,
            )
            && flag(self.has_avatar, p.avatar_url.is_some())
            && flag(self.has_bio, p.bio.is_some())
            && flag(self.has_location, p.has_location())
            && (self.country.is_empty()
                || p.country.as_ref().is_some_and(|c| self.country.contains(c)))
            && any_text(&self.city, p.city.as_deref())
            && any_text(&self.state, p.state.as_deref())
            && (self.continent.is_empty()
                || p.continent.is_some_and(|c| self.continent.contains(&c)))
            && (self.timezone.is_empty()
                || p.timezone
                    .as_ref()
                    .is_some_and(|t| self.timezone.contains(t)))
            && any_text(&self.locale, p.locale.as_deref())
            && (self.gender.is_empty() || p.gender.is_some_and(|g| self.gender.contains(&g)))
            && any_text(&self.designation, p.designation.as_deref())
            && (self.expertise.is_empty()
                || p.expertise
                    .iter()
                    .any(|e| any_text(&self.expertise, Some(e))))
            && self
                .age_min
                .is_none_or(|min| user.age(today).is_some_and(|age| age >= min))
            && self
                .age_max
                .is_none_or(|max| user.age(today).is_some_and(|age| age <= max))
            && self.created_after.is_none_or(|t| user.created_at >= t)
            && self.created_before.is_none_or(|t| user.created_at < t)
            && self.created_since(now).is_none_or(|t| user.created_at >= t)
            && self
                .last_login_after
                .is_none_or(|t| user.last_login_at.is_some_and(|l| l >= t))
            && self
                .last_login_before
                .is_none_or(|t| user.last_login_at.is_some_and(|l| l < t))
            && self
                .active_since(now)
                .is_none_or(|t| user.last_login_at.is_some_and(|l| l >= t))
            && self
                .inactive_since(now)
                .is_none_or(|t| user.last_login_at.is_none_or(|l| l < t))
            && flag(self.is_locked, user.is_locked(now))
            && self
                .failed_login_attempts_min
                .is_none_or(|m| user.failed_login_attempts >= m)
            && self
                .failed_login_attempts_max
                .is_none_or(|m| user.failed_login_attempts <= m)
    }
}

/// The reference list: the ids of the requested window, in order, and the total count;
/// `holds` says whether a user holds a permission (see [`UserFilters::matches`]).
pub fn reference_list(
    users: &[User],
    tenant: &TenantId,
    plan: &ListPlan,
    now: DateTime<Utc>,
    holds: impl Fn(&User, &Permission) -> bool,
) -> (Vec<Uuid>, u64) {
    let mut rows: Vec<_> = users
        .iter()
        .filter(|u| &u.tenant_id == tenant && plan.filters.matches(u, now, |p| holds(u, p)))
        .filter(|u| plan.enrollment.as_ref().is_none_or(|m| m.allows(u.id)))
        .map(|u| (plan.sort_by.value_of(u), u.id))
        .collect();
    rows.sort_by(|a, b| compare(plan.sort_order, (&a.0, a.1), (&b.0, b.1)));
    let total = rows.len() as u64;
    let start = match &plan.window {
        Window::Offset(offset) => usize::try_from(*offset)
            .unwrap_or(usize::MAX)
            .min(rows.len()),
        Window::After(cursor) => rows.partition_point(|row| {
            compare(plan.sort_order, (&row.0, row.1), (&cursor.value, cursor.id)).is_le()
        }),
    };
    let ids = rows[start..]
        .iter()
        .take(plan.limit as usize)
        .map(|(_, id)| *id)
        .collect();
    (ids, total)
}
