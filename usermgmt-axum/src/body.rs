//! JSON request bodies whose rejections answer in the error model.

use axum::Json;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like [`axum::Json`], but malformed JSON, a body that is not an object, wrong types and
/// unknown fields answer 400 (and an oversized body 413) in the JSON error model.
pub(crate) struct Body<T>(pub(crate) T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read as JSON first: every body is an object, and serde would otherwise map an
        // array onto a struct's fields by position.
        let Json(value) = Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(usermgmt_core::Error::invalid("body", "must be a JSON object").into());
        }
        T::deserialize(value).map(Body).map_err(|e| {
            usermgmt_core::Error::invalid(
                "body",
                e.to_string().chars().take(300).collect::<String>(),
            )
            .into()
        })
    }
}
