//! Errors as HTTP responses: SPEC §6's `{"error": {"code", "message", "fields"}}`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use usermgmt_core::Error;
use utoipa::ToSchema;

/// An error on its way to the client. Built from a library [`Error`] (storage failures answer
/// 500 with a fixed message; their details only reach the log) or from a request the router
/// could not read.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Value,
    retry_after: Option<u64>,
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message (a generic one for internal errors).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The problems per field, as answered.
    pub fn fields(&self) -> &Value {
        &self.fields
    }

    /// 500: a host route reads the guarded caller but has no guard (see
    /// [`crate::Authorized`]).
    pub(crate) fn unguarded() -> Self {
        tracing::error!("`Authorized` used on a route without a `require` layer");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".to_owned(),
            fields: json!({}),
            retry_after: None,
        }
    }

    /// 405: the path exists, the method does not.
    pub(crate) fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: "this method is not allowed on this path".to_owned(),
            fields: json!({}),
            retry_after: None,
        }
    }
}

/// The HTTP status for a library error.
fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Validation(_) => StatusCode::BAD_REQUEST,
        Error::Unauthenticated(_) | Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_)
        | Error::ReadOnlyImpersonation
        | Error::VerificationRequired
        | Error::AccountInactive
        | Error::AccountSuspended => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::VersionConflict { .. } => StatusCode::PRECONDITION_FAILED,
        Error::Locked { .. } => StatusCode::LOCKED,
        Error::EnrollmentSourceUnavailable(_) | Error::Busy { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        // `Error` is non-exhaustive: anything newer than this mapping is treated as internal.
        Error::DeliveryFailed(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = status_of(&error);
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "request failed");
            "internal error".to_owned()
        } else {
            error.to_string()
        };
        let fields = match &error {
            Error::Validation(fields) => json!(fields),
            Error::Conflict { fields } => json!(
                fields
                    .iter()
                    .map(|f| (f.as_str(), ["already taken"]))
                    .collect::<BTreeMap<_, _>>()
            ),
            _ => json!({}),
        };
        let retry_after = match &error {
            Error::TooManyRequests { retry_after } | Error::Busy { retry_after } => {
                Some(retry_after.as_secs().max(1))
            }
            _ => None,
        };
        Self {
            status,
            code: error.code(),
            message,
            fields,
            retry_after,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self {
                status,
                code: "payload_too_large",
                message: "the request body is too large".to_owned(),
                fields: json!({}),
                retry_after: None,
            };
        }
        let message = rejection.body_text();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "validation",
            fields: json!({ "body": [message.clone()] }),
            message,
            retry_after: None,
        }
    }
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable machine-readable code: `validation`, `unauthenticated`, `invalid_credentials`,
    /// `forbidden`, `impersonation_read_only`, `verification_required`, `account_inactive`,
    /// `account_suspended`, `not_found`, `conflict`, `version_conflict`, `locked`,
    /// `payload_too_large`, `too_many_requests` (429, with `Retry-After`), `busy` (503, with
    /// `Retry-After`), `enrollment_source_unavailable`, `method_not_allowed` or `internal`.
    code: &'static str,
    /// A human-readable sentence; never internals.
    message: String,
    /// Problems per field (or query parameter), each a list of messages.
    #[schema(value_type = BTreeMap<String, Vec<String>>)]
    fields: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
