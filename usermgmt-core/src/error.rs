//! The one error type of the library, with stable codes that adapters map to HTTP.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::permission::Permission;

/// Field-level validation errors: field name → messages. All failures are reported at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// An empty set of errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one message for a field. A field keeps at most
    /// [`FieldErrors::MAX_MESSAGES_PER_FIELD`] messages and then one saying more were left
    /// out, at most [`FieldErrors::MAX_FIELDS`] fields are named, and messages are cut at
    /// [`FieldErrors::MAX_MESSAGE_LEN`] bytes, so an error body stays small whatever the input.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let mut field: String = field.into();
        if !self.0.contains_key(&field) && self.0.len() >= Self::MAX_FIELDS {
            field = Self::OTHER_FIELDS.to_owned();
        }
        let mut message: String = message.into();
        if message.len() > Self::MAX_MESSAGE_LEN {
            let cut = (0..=Self::MAX_MESSAGE_LEN)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        let messages = self.0.entry(field).or_default();
        match messages.len().cmp(&Self::MAX_MESSAGES_PER_FIELD) {
            std::cmp::Ordering::Less => messages.push(message),
            std::cmp::Ordering::Equal => messages.push(Self::MORE.to_owned()),
            std::cmp::Ordering::Greater => {}
        }
    }

    /// Most messages kept per field (then one saying more were left out).
    pub const MAX_MESSAGES_PER_FIELD: usize = 10;
    /// Most fields named; errors of further fields are reported under
    /// [`FieldErrors::OTHER_FIELDS`].
    pub const MAX_FIELDS: usize = 20;
    /// Where errors beyond [`FieldErrors::MAX_FIELDS`] fields go.
    pub const OTHER_FIELDS: &'static str = "_other_fields";
    /// Longest message kept, in bytes (longer ones are cut).
    pub const MAX_MESSAGE_LEN: usize = 300;
    const MORE: &'static str = "more errors of this field left out";

    /// Moves every error of `other` into `self`.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            for message in messages {
                self.add(field.clone(), message);
            }
        }
    }

    /// True when no field has an error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages recorded for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// Iterates over `(field, messages)` in field-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// `Ok(())` when empty, otherwise [`Error::Validation`] carrying these errors.
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, messages) in &self.0 {
            for message in messages {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{field}: {message}")?;
            }
        }
        Ok(())
    }
}

/// A storage failure whose driver details stay inside the library.
///
/// Its `Display` is deliberately generic; the underlying cause is reachable through
/// [`std::error::Error::source`] for logging by the host, never sent to clients.
#[derive(Debug)]
pub struct StorageError {
    context: &'static str,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl StorageError {
    /// Wraps a driver error with a short, static description of what was being done.
    pub fn new(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            context,
            source: source.into(),
        }
    }

    /// What the storage was doing when it failed.
    pub fn context(&self) -> &'static str {
        self.context
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failure while {}", self.context)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Every failure an operation of the library can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is invalid; every offending field is named.
    #[error("validation failed: {0}")]
    Validation(FieldErrors),
    /// No acting user could be established (unknown, inactive, or the wrong kind of principal).
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// The acting principal lacks a permission.
    #[error("missing permission `{0}`")]
    Forbidden(Permission),
    /// The entity does not exist in the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken in the tenant; the fields are named.
    #[error("already taken: {}", .fields.join(", "))]
    Conflict {
        /// The conflicting fields, e.g. `email`.
        fields: Vec<String>,
    },
    /// The entity changed since the version the caller based its change on.
    #[error("version mismatch: expected {expected}, current {current}")]
    VersionConflict {
        /// The version the caller expected.
        expected: i64,
        /// The version currently stored.
        current: i64,
    },
    /// Login failed: unknown identifier, wrong password, no password set, or a deleted
    /// account (deliberately indistinguishable).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Login refused: the account must be verified first.
    #[error(
        "verification required: confirm the link or code sent to you, or ask for a new one \
         with POST /v1/auth/verification"
    )]
    VerificationRequired,
    /// Login refused: the account is inactive.
    #[error("account inactive")]
    AccountInactive,
    /// Login refused: the account is suspended.
    #[error("account suspended")]
    AccountSuspended,
    /// Too many failed logins: locked until the given time.
    #[error("account locked until {until}")]
    Locked {
        /// When the lock ends.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The principal is a read-only impersonation session and the operation changes data.
    #[error("read-only impersonation: changes are not allowed")]
    ReadOnlyImpersonation,
    /// The enrollment source failed or timed out and the service is strict about it.
    #[error("the enrollment source is unavailable: {0}")]
    EnrollmentSourceUnavailable(String),
    /// Too many attempts from this client: retry after the given time (HTTP 429).
    #[error("too many attempts; retry in {} s", .retry_after.as_secs())]
    TooManyRequests {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// The service is at its limit of concurrent password hashing: retry shortly (HTTP 503).
    #[error("busy; retry in {} s", .retry_after.as_secs())]
    Busy {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// An account message (invitation, reset, verification) could not be delivered (HTTP
    /// 502); what was issued stays valid and a resend replaces it.
    #[error("the message could not be delivered: {0}")]
    DeliveryFailed(String),
    /// The storage failed; details stay in the source chain.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    /// A stable machine-readable code, e.g. `validation`, `forbidden`, `conflict`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::VersionConflict { .. } => "version_conflict",
            Error::InvalidCredentials => "invalid_credentials",
            Error::VerificationRequired => "verification_required",
            Error::AccountInactive => "account_inactive",
            Error::AccountSuspended => "account_suspended",
            Error::Locked { .. } => "locked",
            Error::ReadOnlyImpersonation => "impersonation_read_only",
            Error::EnrollmentSourceUnavailable(_) => "enrollment_source_unavailable",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::Busy { .. } => "busy",
            Error::DeliveryFailed(_) => "delivery_failed",
            Error::Storage(_) => "internal",
        }
    }

    /// A storage failure of a query that evaluated the enrollment filters itself (push-down)
    /// reported as the learning data being unavailable (the service then answers without
    /// those filters); other errors pass through.
    pub fn enrollment_unavailable(self) -> Self {
        match self {
            Error::Storage(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                Error::EnrollmentSourceUnavailable(format!("{e}: {cause}"))
            }
            other => other,
        }
    }

    /// A validation error on a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Error::Validation(errors)
    }

    /// A conflict on a single field.
    pub fn conflict(field: impl Into<String>) -> Self {
        Error::Conflict {
            fields: vec![field.into()],
        }
    }
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_stay_small_whatever_the_input() {
        let mut errors = FieldErrors::new();
        for field in 0..1_000 {
            for _ in 0..50 {
                errors.add(format!("field-{field}"), "x".repeat(10_000));
            }
        }
        let body = serde_json::to_string(&errors).unwrap_or_default();
        assert!(body.len() < 100_000, "{} bytes", body.len());
        assert_eq!(errors.iter().count(), FieldErrors::MAX_FIELDS + 1);
        assert!(errors.get(FieldErrors::OTHER_FIELDS).is_some());
        assert_eq!(
            errors.get("field-0").map(<[String]>::len),
            Some(FieldErrors::MAX_MESSAGES_PER_FIELD + 1)
        );
    }
}
