//! The single API error type: maps each kind to a status code and the JSON error body
//! `{"error": {"code": "bad_request"|"not_found"|"internal"|"timeout", "message": "..."}}`.
//! 5xx are logged at error level with their cause (a timeout, an overload rather than a
//! fault, at warn); 4xx only at debug.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request is malformed (parameters missing, unparsable or contradictory).
    #[error("{0}")]
    BadRequest(String),
    /// A named tag, asset or endpoint does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// Anything else on our side.
    #[error("{0}")]
    Internal(String),
    /// The request was not answered within the configured time (503).
    #[error("request not answered within {0:?}; try again or narrow the query")]
    Timeout(std::time::Duration),
    /// A capacity limit is reached (503); the message says which.
    #[error("{0}")]
    Unavailable(String),
    /// The action does not apply in the resource's current state (409).
    #[error("{0}")]
    Conflict(String),
}

/// The error answer: `{"error": {"code": .., "message": ..}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// `bad_request`, `not_found`, `conflict`, `internal`, `timeout` or `unavailable`.
    #[schema(example = "not_found")]
    code: &'static str,
    /// For people: what was wrong and, where possible, how to fix the request.
    message: String,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Storage(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if let ApiError::Timeout(_) | ApiError::Unavailable(_) = self {
            tracing::warn!(error = %self, "API request timed out");
            self.to_string()
        } else if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
            "internal error; see the aggregator log".to_owned()
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "API request rejected");
            self.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail { code, message },
        };
        (status, Json(body)).into_response()
    }
}
