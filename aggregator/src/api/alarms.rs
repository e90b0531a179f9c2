//! Alarms (`crate::alarms`): list them, acknowledge and shelve them.
//!
//! - `GET /api/v1/alarms?state=open|active|acknowledged|shelved|cleared|all` (default
//!   `open`: active or acknowledged), newest first, each with its full history.
//! - `POST /api/v1/alarms/{id}/ack` with `{"user":"alice","comment":"on it"}`.
//! - `POST /api/v1/alarms/{id}/shelve` with `{"user":"bob","comment":"sensor swap",
//!   "duration":"2h"}` (1 s to 30 days): the alarm stays listed with `shelved_until_ns`
//!   and is unshelved at expiry.
//!
//! Both actions answer the alarm after the action; an unknown id is a 404, an action that
//! does not apply (acknowledged twice, shelving a cleared alarm) a 409. `user` is required
//! (1–64 characters); authentication and roles come with the API's security (issue 8).

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiState};
use crate::alarms::{ActionError, Alarm, Filter, State as AlarmState, Transition};

/// Longest shelving.
const MAX_SHELVE: Duration = Duration::from_secs(30 * 86_400);

/// One recorded transition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TransitionBody {
    /// When (ns): source time for condition changes, wall time for actions.
    at_ns: i64,
    /// `raised`, `level`, `acknowledged`, `shelved`, `unshelved` or `cleared`.
    action: &'static str,
    /// Level after it: `hihi`, `hi`, `lo`, `lolo` or `normal`.
    level: &'static str,
    /// Who acted (`null` for the engine's own transitions).
    user: Option<String>,
    /// The operator's comment.
    comment: Option<String>,
    /// The value that caused it.
    value: Option<f64>,
}

/// One alarm.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlarmBody {
    /// Alarm id.
    id: u64,
    /// The tag.
    tag: String,
    /// `limit`.
    kind: &'static str,
    /// Current (or last) level.
    level: &'static str,
    /// `warning` or `critical`.
    severity: &'static str,
    /// `active`, `acknowledged` or `cleared`.
    state: &'static str,
    /// Whether someone acknowledged it.
    acknowledged: bool,
    /// Shelved until (ns), if shelved.
    shelved_until_ns: Option<i64>,
    /// Start of the condition (ns, source time).
    since_ns: i64,
    /// When it was raised (after the rule's delay).
    raised_ns: i64,
    /// When it cleared.
    cleared_ns: Option<i64>,
    /// The value that raised it.
    value: f64,
    /// Every transition, oldest first.
    history: Vec<TransitionBody>,
}

fn transition(t: &Transition) -> TransitionBody {
    TransitionBody {
        at_ns: t.at_ns,
        action: t.action,
        level: t.level.as_str(),
        user: t.user.clone(),
        comment: t.comment.clone(),
        value: t.value,
    }
}

fn body(a: &Alarm) -> AlarmBody {
    AlarmBody {
        id: a.id,
        tag: a.tag.clone(),
        kind: a.kind,
        level: a.level.as_str(),
        severity: a.severity,
        state: match a.state {
            AlarmState::Active => "active",
            AlarmState::Acknowledged => "acknowledged",
            AlarmState::Cleared => "cleared",
        },
        acknowledged: a.acknowledged,
        shelved_until_ns: a.shelved_until_ns,
        since_ns: a.since_ns,
        raised_ns: a.raised_ns,
        cleared_ns: a.cleared_ns,
        value: a.value,
        history: a.history.iter().map(transition).collect(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
}

/// Alarms, newest first.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms",
    params(("state" = Option<String>, Query, description = "open (default: active or acknowledged), active, acknowledged, shelved, cleared or all")),
    responses(
        (status = 200, description = "Alarms", body = Vec<AlarmBody>),
        (status = 400, description = "Unknown state", body = super::error::ErrorBody),
    ))]
pub(crate) async fn list(
    State(s): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<AlarmBody>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = match q.state.as_deref() {
        None => Filter::Open,
        Some(s) => Filter::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "state: unknown {s:?} (open, active, acknowledged, shelved, cleared, all)"
            ))
        })?,
    };
    Ok(Json(s.alarms.list(filter).iter().map(body).collect()))
}

/// An operator action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionRequest {
    /// Who acts (1-64 characters).
    user: String,
    /// Why (optional, up to 1000 characters).
    #[serde(default)]
    comment: Option<String>,
    /// Shelving only: for how long, e.g. `"2h"` (1 s to 30 days).
    #[serde(default)]
    duration: Option<String>,
}

fn checked(req: &ActionRequest) -> Result<(), ApiError> {
    let n = req.user.chars().count();
    if n == 0 || n > 64 || req.user.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "user: 1-64 characters without control characters".to_owned(),
        ));
    }
    if req
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 1000)
    {
        return Err(ApiError::BadRequest(
            "comment: at most 1000 characters".to_owned(),
        ));
    }
    Ok(())
}

fn action_error(e: ActionError) -> ApiError {
    match e {
        ActionError::Unknown(_) => ApiError::NotFound(e.to_string()),
        ActionError::Conflict { .. } => ApiError::Conflict(e.to_string()),
    }
}

fn parse_body(body: Result<Json<ActionRequest>, JsonRejection>) -> Result<ActionRequest, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    checked(&req)?;
    Ok(req)
}

/// Acknowledges an alarm.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/ack", tag = "alarms",
    params(("id" = u64, Path, description = "Alarm id")),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "The alarm after the acknowledgement", body = AlarmBody),
        (status = 400, description = "Bad body", body = super::error::ErrorBody),
        (status = 404, description = "Unknown alarm", body = super::error::ErrorBody),
        (status = 409, description = "Already acknowledged", body = super::error::ErrorBody),
    ))]
pub(crate) async fn ack(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    req: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<AlarmBody>, ApiError> {
    let req = parse_body(req)?;
    let now = protocols::model::now_ns();
    let alarm = s
        .alarms
        .act(|e| e.acknowledge(id, &req.user, req.comment.clone(), now))
        .map_err(action_error)?;
    Ok(Json(body(&alarm)))
}

/// Shelves an open alarm for a while.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/shelve", tag = "alarms",
    params(("id" = u64, Path, description = "Alarm id")),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "The alarm after shelving", body = AlarmBody),
        (status = 400, description = "Bad body or duration", body = super::error::ErrorBody),
        (status = 404, description = "Unknown alarm", body = super::error::ErrorBody),
        (status = 409, description = "The alarm is cleared", body = super::error::ErrorBody),
    ))]
pub(crate) async fn shelve(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    req: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<AlarmBody>, ApiError> {
    let req = parse_body(req)?;
    let text = req
        .duration
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("duration: required, e.g. \"2h\"".to_owned()))?;
    let duration = humantime::parse_duration(text)
        .ok()
        .filter(|d| (Duration::from_secs(1)..=MAX_SHELVE).contains(d))
        .ok_or_else(|| {
            ApiError::BadRequest(format!("duration: {text:?} is not between 1s and 30days"))
        })?;
    let now = protocols::model::now_ns();
    let until = now.saturating_add(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX));
    let alarm = s
        .alarms
        .act(|e| e.shelve(id, &req.user, req.comment.clone(), now, until))
        .map_err(action_error)?;
    Ok(Json(body(&alarm)))
}
