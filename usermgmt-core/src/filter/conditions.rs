//! The normalised filters as a neutral list of conditions over the stored user columns: what
//! every backend renders into its own SQL dialect (see the `usermgmt-sql` crate). A new filter
//! is a field of [`UserFilters`], its normalisation, its reference semantics and its lowering
//! here — nothing in a backend.

use chrono::{DateTime, NaiveDate, Utc};

pub use super::column::Column;
use super::filters::UserFilters;
use crate::model::PROFILE_COMPLETE_THRESHOLD;

/// Rows related to a user, each with one value a filter can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Related {
    /// Linked OAuth accounts, by provider.
    OAuth,
    /// Areas of expertise (compared ignoring ASCII case).
    Expertise,
    /// Held roles, by name.
    Role,
    /// Effective permissions, by name: granted directly or carried by a held role.
    Permission,
}

impl Related {
    /// Whether values compare ignoring ASCII case.
    pub const fn folded(self) -> bool {
        matches!(self, Related::Expertise)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// The SQL operator.
    pub const fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => " = ",
            Cmp::Ne => " <> ",
            Cmp::Lt => " < ",
            Cmp::Le => " <= ",
            Cmp::Gt => " > ",
            Cmp::Ge => " >= ",
        }
    }
}

/// A value a condition compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// An instant.
    Time(DateTime<Utc>),
    /// A calendar date.
    Date(NaiveDate),
}

/// One condition on a user; a list of them combines with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The user is not deleted: the implicit condition of every list that does not ask for
    /// deleted users, written as a constant so a database plans it as one.
    NotDeleted,
    /// The column contains `term` (already lower-cased, like the column).
    Contains {
        /// The column.
        column: Column,
        /// The term.
        term: String,
    },
    /// `column <cmp> value`.
    Compare {
        /// The column.
        column: Column,
        /// The operator.
        cmp: Cmp,
        /// The value.
        value: Operand,
    },
    /// The column equals one of the values (ignoring ASCII case for [`Column::folded`]).
    AnyOf {
        /// The column.
        column: Column,
        /// The values (at least one).
        values: Vec<String>,
    },
    /// The column has a value (`present`) or has none.
    Present {
        /// The column.
        column: Column,
        /// Whether a value is wanted.
        present: bool,
    },
    /// The user's id is one of these (at least one).
    Ids(Vec<uuid::Uuid>),
    /// At least one of the conditions holds.
    Either(Vec<Condition>),
    /// The user has (`exists`) or lacks a related row, with one of `values` when there are any.
    Related {
        /// The related rows.
        related: Related,
        /// The values asked for; empty: any row.
        values: Vec<String>,
        /// Whether such a row must exist.
        exists: bool,
    },
}

fn texts<T: Copy>(values: &[T], f: impl Fn(T) -> &'static str) -> Vec<String> {
    values.iter().map(|v| f(*v).to_owned()).collect()
}

impl UserFilters {
    /// The filters (normalised, cross-service filters removed or resolved) as conditions on
    /// the stored columns; `now` anchors the relative ones. The reference for their meaning
    /// is [`UserFilters::matches`].
    pub fn conditions(&self, now: DateTime<Utc>) -> Vec<Condition> {
        let mut out = Vec::new();
        let compare = |out: &mut Vec<Condition>, column, cmp, value: Option<Operand>| {
            if let Some(value) = value {
                out.push(Condition::Compare { column, cmp, value });
            }
        };
        let any_of = |out: &mut Vec<Condition>, column, values: Vec<String>| {
            if !values.is_empty() {
                out.push(Condition::AnyOf { column, values });
            }
        };
        let present = |out: &mut Vec<Condition>, column, wanted: Option<bool>| {
            if let Some(present) = wanted {
                out.push(Condition::Present { column, present });
            }
        };
        let related = |out: &mut Vec<Condition>, related, values: &[String]| {
            if !values.is_empty() {
                out.push(Condition::Related {
                    related,
                    values: values.to_vec(),
                    exists: true,
                });
            }
        };
        let time = |t: Option<DateTime<Utc>>| t.map(Operand::Time);
        let flag = |b: Option<bool>| b.map(Operand::Bool);

        if let Some(term) = &self.search {
            out.push(Condition::Contains {
                column: Column::SearchText,
                term: term.clone(),
            });
        }
        if !self.includes_deleted() {
            out.push(Condition::NotDeleted);
        }
        if !self.ids.is_empty() {
            out.push(Condition::Ids(self.ids.clone()));
        }
        any_of(&mut out, Column::EmailKey, self.email.clone());
        any_of(&mut out, Column::UsernameKey, self.username.clone());
        any_of(&mut out, Column::UniqueIdKey, self.unique_id.clone());
        let status = self.status.map(|s| Operand::Text(s.as_str().to_owned()));
        compare(&mut out, Column::Status, Cmp::Eq, status);
        any_of(
            &mut out,
            Column::Status,
            texts(&self.statuses, |s| s.as_str()),
        );
        compare(&mut out, Column::IsAdmin, Cmp::Eq, flag(self.is_admin));
        compare(
            &mut out,
            Column::IsInstructor,
            Cmp::Eq,
            flag(self.is_instructor),
        );
        compare(&mut out, Column::IsLearner, Cmp::Eq, flag(self.is_learner));
        compare(
            &mut out,
            Column::EmailVerified,
            Cmp::Eq,
            flag(self.email_verified),
        );
        compare(
            &mut out,
            Column::PhoneVerified,
            Cmp::Eq,
            flag(self.phone_verified),
        );
        any_of(
            &mut out,
            Column::AuthMethod,
            texts(&self.auth_method, |m| m.as_str()),
        );
        if let Some(exists) = self.has_oauth {
            out.push(Condition::Related {
                related: Related::OAuth,
                values: Vec::new(),
                exists,
            });
        }
        related(
            &mut out,
            Related::OAuth,
            &texts(&self.oauth_provider, |p| p.as_str()),
        );
        present(&mut out, Column::PasswordHash, self.has_password);
        related(&mut out, Related::Role, &self.roles);
        if let Some(permission) = &self.permission {
            related(
                &mut out,
                Related::Permission,
                &[permission.as_str().to_owned()],
            );
        }
        if let Some(complete) = self.profile_complete {
            let cmp = if complete { Cmp::Ge } else { Cmp::Lt };
            let threshold = Operand::Int(i64::from(PROFILE_COMPLETE_THRESHOLD));
            compare(&mut out, Column::ProfileCompleteness, cmp, Some(threshold));
        }
        present(&mut out, Column::AvatarUrl, self.has_avatar);
        present(&mut out, Column::Bio, self.has_bio);
        match self.has_location {
            Some(true) => out.push(Condition::Either(vec![
                Condition::Present {
                    column: Column::Country,
                    present: true,
                },
                Condition::Present {
                    column: Column::City,
                    present: true,
                },
            ])),
            Some(false) => {
                present(&mut out, Column::Country, Some(false));
                present(&mut out, Column::City, Some(false));
            }
            None => {}
        }
        any_of(&mut out, Column::Country, self.country.clone());
        any_of(&mut out, Column::City, self.city.clone());
        any_of(&mut out, Column::State, self.state.clone());
        any_of(
            &mut out,
            Column::Continent,
            texts(&self.continent, |c| c.as_str()),
        );
        any_of(&mut out, Column::Timezone, self.timezone.clone());
        any_of(&mut out, Column::Locale, self.locale.clone());
        any_of(
            &mut out,
            Column::Gender,
            texts(&self.gender, |g| g.as_str()),
        );
        any_of(&mut out, Column::Designation, self.designation.clone());
        related(&mut out, Related::Expertise, &self.expertise);
        let today = now.date_naive();
        let born = |d: Option<NaiveDate>| d.map(Operand::Date);
        compare(
            &mut out,
            Column::DateOfBirth,
            Cmp::Le,
            born(self.born_on_or_before(today)),
        );
        compare(
            &mut out,
            Column::DateOfBirth,
            Cmp::Gt,
            born(self.born_after(today)),
        );
        compare(
            &mut out,
            Column::CreatedAt,
            Cmp::Ge,
            time(self.created_after),
        );
        compare(
            &mut out,
            Column::CreatedAt,
            Cmp::Lt,
            time(self.created_before),
        );
        compare(
            &mut out,
            Column::CreatedAt,
            Cmp::Ge,
            time(self.created_since(now)),
        );
        compare(
            &mut out,
            Column::LastLoginAt,
            Cmp::Ge,
            time(self.last_login_after),
        );
        compare(
            &mut out,
            Column::LastLoginAt,
            Cmp::Lt,
            time(self.last_login_before),
        );
        compare(
            &mut out,
            Column::LastLoginAt,
            Cmp::Ge,
            time(self.active_since(now)),
        );
        if let Some(since) = self.inactive_since(now) {
            out.push(Condition::Either(vec![
                Condition::Present {
                    column: Column::LastLoginAt,
                    present: false,
                },
                Condition::Compare {
                    column: Column::LastLoginAt,
                    cmp: Cmp::Lt,
                    value: Operand::Time(since),
                },
            ]));
        }
        match self.is_locked {
            Some(true) => compare(&mut out, Column::LockedUntil, Cmp::Gt, time(Some(now))),
            Some(false) => out.push(Condition::Either(vec![
                Condition::Present {
                    column: Column::LockedUntil,
                    present: false,
                },
                Condition::Compare {
                    column: Column::LockedUntil,
                    cmp: Cmp::Le,
                    value: Operand::Time(now),
                },
            ])),
            None => {}
        }
        let count = |n: Option<u32>| n.map(|n| Operand::Int(i64::from(n)));
        compare(
            &mut out,
            Column::FailedLoginAttempts,
            Cmp::Ge,
            count(self.failed_login_attempts_min),
        );
        compare(
            &mut out,
            Column::FailedLoginAttempts,
            Cmp::Le,
            count(self.failed_login_attempts_max),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn no_filter_is_only_not_deleted() {
        let now = Utc::now();
        assert_eq!(
            UserFilters::default().conditions(now),
            vec![Condition::NotDeleted]
        );
        let deleted = UserFilters {
            statuses: vec![Status::Deleted],
            ..Default::default()
        };
        assert!(
            !deleted.conditions(now).contains(&Condition::NotDeleted),
            "asking for deleted users lifts the implicit exclusion"
        );
    }
}
