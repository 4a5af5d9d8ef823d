//! The columns of the `users` table the filters and sorts name.

use super::sort::SortBy;

/// A column of the `users` table, named as both backends' schemas name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The `search_text` blob (lower-cased name, email, phone, username, unique ID).
    SearchText,
    /// `status`.
    Status,
    /// `is_admin`.
    IsAdmin,
    /// `is_instructor`.
    IsInstructor,
    /// `is_learner`.
    IsLearner,
    /// `email_verified`.
    EmailVerified,
    /// `phone_verified`.
    PhoneVerified,
    /// `auth_method`.
    AuthMethod,
    /// `password_hash`.
    PasswordHash,
    /// `profile_completeness`.
    ProfileCompleteness,
    /// `avatar_url`.
    AvatarUrl,
    /// `bio`.
    Bio,
    /// `country`.
    Country,
    /// `city` (compared ignoring ASCII case).
    City,
    /// `state` (compared ignoring ASCII case).
    State,
    /// `continent`.
    Continent,
    /// `timezone`.
    Timezone,
    /// `locale` (compared ignoring ASCII case).
    Locale,
    /// `gender`.
    Gender,
    /// `designation` (compared ignoring ASCII case).
    Designation,
    /// `date_of_birth`.
    DateOfBirth,
    /// `created_at`.
    CreatedAt,
    /// `last_login_at`.
    LastLoginAt,
    /// `locked_until`.
    LockedUntil,
    /// `failed_login_attempts`.
    FailedLoginAttempts,
    /// `name_key` (the name's sort key).
    NameKey,
    /// `email`.
    Email,
    /// `email`, compared lower-cased (its unique index's key).
    EmailKey,
    /// `username`, compared lower-cased (its unique index's key).
    UsernameKey,
    /// `unique_id`, compared lower-cased (its unique index's key).
    UniqueIdKey,
}

impl Column {
    /// The column's name in the `users` table.
    pub const fn name(self) -> &'static str {
        match self {
            Column::SearchText => "search_text",
            Column::Status => "status",
            Column::IsAdmin => "is_admin",
            Column::IsInstructor => "is_instructor",
            Column::IsLearner => "is_learner",
            Column::EmailVerified => "email_verified",
            Column::PhoneVerified => "phone_verified",
            Column::AuthMethod => "auth_method",
            Column::PasswordHash => "password_hash",
            Column::ProfileCompleteness => "profile_completeness",
            Column::AvatarUrl => "avatar_url",
            Column::Bio => "bio",
            Column::Country => "country",
            Column::City => "city",
            Column::State => "state",
            Column::Continent => "continent",
            Column::Timezone => "timezone",
            Column::Locale => "locale",
            Column::Gender => "gender",
            Column::Designation => "designation",
            Column::DateOfBirth => "date_of_birth",
            Column::CreatedAt => "created_at",
            Column::LastLoginAt => "last_login_at",
            Column::LockedUntil => "locked_until",
            Column::FailedLoginAttempts => "failed_login_attempts",
            Column::NameKey => "name_key",
            Column::Email | Column::EmailKey => "email",
            Column::UsernameKey => "username",
            Column::UniqueIdKey => "unique_id",
        }
    }

    /// Whether the column is compared as `lower(column)` with lower-cased values.
    pub const fn lowered(self) -> bool {
        matches!(
            self,
            Column::EmailKey | Column::UsernameKey | Column::UniqueIdKey
        )
    }

    /// Whether values compare ignoring ASCII case.
    pub const fn folded(self) -> bool {
        matches!(
            self,
            Column::City | Column::State | Column::Locale | Column::Designation
        )
    }

    /// The column a sort key orders by.
    pub const fn of_sort(sort_by: SortBy) -> Column {
        match sort_by {
            SortBy::Name => Column::NameKey,
            SortBy::Email => Column::Email,
            SortBy::CreatedAt => Column::CreatedAt,
            SortBy::LastLoginAt => Column::LastLoginAt,
            SortBy::Status => Column::Status,
        }
    }
}
