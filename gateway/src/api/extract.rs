//! The path and query extractors every handler uses instead of axum's own, so a malformed path
//! segment or query string is answered with the error object (code, `param`) like every other
//! mistake, never with axum's plain-text 400. Handlers import `Path` and `Query` from here; a
//! test (`tests/openapi_truth.rs`) fails if a handler file names axum's.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::body::parse_query;
use crate::error::{ApiError, ErrorCode};

/// Path parameters; a segment that does not decode (bad percent-encoding, not UTF-8) is a 400
/// `parameter_invalid` naming the parameter.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => {
                let param = match err.kind() {
                    ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                    _ => None,
                };
                let err = ApiError::new(
                    ErrorCode::ParameterInvalid,
                    "A path parameter is not valid (it must be UTF-8 text, percent-encoded).",
                );
                Err(match param {
                    Some(param) => err.param(param),
                    None => err,
                })
            }
            Err(other) => Err(ApiError::internal(&other)),
        }
    }
}

/// Query parameters, read by [`parse_query`]: unknown parameters (with `deny_unknown_fields`),
/// wrong types and bad encodings become error objects naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query()).map(Query)
    }
}
