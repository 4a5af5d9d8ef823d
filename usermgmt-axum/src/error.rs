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
        Error::EnrollmentSourceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        // `Error` is non-exhaustive: anything newer than this mapping is treated as internal.
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
        Self {
            status,
            code: error.code(),
            message,
            fields,
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
            };
        }
        let message = rejection.body_text();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "validation",
            fields: json!({ "body": [message.clone()] }),
            message,
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
    /// `payload_too_large`, `enrollment_source_unavailable` or `internal`.
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
        (self.status, Json(body)).into_response()
    }
}
