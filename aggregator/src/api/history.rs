//! `GET /api/v1/history?tag=ID&from=&to=&max_points=`: points of one tag in `[from, to)`.
//!
//! `from`/`to`: nanoseconds or RFC 3339; `to` defaults to now, `from` to `to` − 1 h (not
//! before the epoch). Both must lie in `0 <= from < to <= 4102444800000000000` (2100-01-01,
//! `store::MAX_TS_NS`), else 400 naming the parameter; this keeps every timestamp
//! difference in SQL and in the bucket arithmetic far from `i64` overflow.
//! `max_points`: 1..=100000, default 1000. Up to `max_points` points in range:
//! `{"tag","from_ns","to_ns","mode":"raw","points":[{"ts_ns","value","quality"}]}`; more:
//! `{"tag","from_ns","to_ns","mode":"buckets","bucket_ns","buckets":[{"start_ns","end_ns",
//! "count","min","max","avg","last"}]}` with `bucket_ns = ceil((to - from) / max_points)`,
//! good-quality numeric points only, empty buckets omitted.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use protocols::model::{TagId, now_ns};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time::parse_time;
use super::value::ValueRef;
use super::{ApiError, ApiState};
use crate::store::{History, MAX_TS_NS};

/// Default `max_points`.
const DEFAULT_MAX_POINTS: u32 = 1000;
/// Largest `max_points`.
const MAX_MAX_POINTS: u32 = 100_000;
/// Default window when `from` is not given.
const DEFAULT_WINDOW_NS: i64 = 3600 * 1_000_000_000;

#[derive(Debug, Deserialize)]
pub(crate) struct HistoryQuery {
    tag: Option<String>,
    from: Option<String>,
    to: Option<String>,
    max_points: Option<String>,
}

/// One stored point.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RawPoint<'a> {
    /// Source timestamp (ns).
    ts_ns: i64,
    /// Number, bool, string or `null`.
    #[schema(value_type = serde_json::Value)]
    value: ValueRef<'a>,
    /// `good`, `uncertain` or `bad`.
    quality: &'static str,
}

/// One bucket of good numeric points.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BucketBody {
    /// First timestamp covered (ns).
    start_ns: i64,
    /// End (exclusive, ns).
    end_ns: i64,
    /// Points aggregated.
    count: u64,
    /// Smallest value.
    min: f64,
    /// Largest value.
    max: f64,
    /// Mean value.
    avg: f64,
    /// Value of the newest point.
    last: f64,
}

/// The history answer: raw points when few enough, else buckets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub(crate) enum HistoryBody<'a> {
    /// Every point in the range.
    Raw {
        /// The tag.
        tag: &'a str,
        /// Range start (ns, inclusive).
        from_ns: i64,
        /// Range end (ns, exclusive).
        to_ns: i64,
        /// Oldest first.
        points: Vec<RawPoint<'a>>,
    },
    /// Aggregated buckets of `bucket_ns`, empty ones omitted.
    Buckets {
        /// The tag.
        tag: &'a str,
        /// Range start (ns, inclusive).
        from_ns: i64,
        /// Range end (ns, exclusive).
        to_ns: i64,
        /// `ceil((to - from) / max_points)`.
        bucket_ns: i64,
        /// Oldest first.
        buckets: Vec<BucketBody>,
    },
}

/// Points of one tag in `[from, to)`.
#[utoipa::path(get, path = "/api/v1/history", tag = "data",
    params(
        ("tag" = String, Query, description = "Tag id `site/area/line/asset/name`"),
        ("from" = Option<String>, Query, description = "Start: ns since the epoch or RFC 3339 (default: `to` - 1 h)"),
        ("to" = Option<String>, Query, description = "End (exclusive): ns since the epoch or RFC 3339 (default: now)"),
        ("max_points" = Option<u32>, Query, description = "1..=100000, default 1000: more points than this come as buckets"),
    ),
    responses(
        (status = 200, description = "Raw points or buckets", body = HistoryBody),
        (status = 400, description = "A parameter is missing, malformed or out of range (named in the message)", body = super::error::ErrorBody),
        (status = 404, description = "Unknown tag", body = super::error::ErrorBody),
    ))]
pub(crate) async fn history(
    State(s): State<ApiState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let bad = |field: &str, msg: String| ApiError::BadRequest(format!("{field}: {msg}"));
    let tag = q
        .tag
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("tag: required".to_owned()))?;
    let tag = TagId::new(tag).map_err(|e| bad("tag", e.to_string()))?;
    let to = match q.to.as_deref() {
        Some(t) => parse_time(t).map_err(|e| bad("to", e))?,
        None => now_ns(),
    };
    if !(1..=MAX_TS_NS).contains(&to) {
        return Err(bad(
            "to",
            format!("{to} is outside 1..={MAX_TS_NS} (1970 to 2100 in nanoseconds)"),
        ));
    }
    let from = match q.from.as_deref() {
        Some(t) => parse_time(t).map_err(|e| bad("from", e))?,
        None => to.saturating_sub(DEFAULT_WINDOW_NS).max(0),
    };
    if !(0..MAX_TS_NS).contains(&from) {
        return Err(bad(
            "from",
            format!("{from} is outside 0..{MAX_TS_NS} (1970 to 2100 in nanoseconds)"),
        ));
    }
    let max_points = match q.max_points.as_deref() {
        Some(m) => m
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=MAX_MAX_POINTS).contains(m))
            .ok_or_else(|| {
                bad(
                    "max_points",
                    format!("'{m}' is not an integer in 1..={MAX_MAX_POINTS}"),
                )
            })?,
        None => DEFAULT_MAX_POINTS,
    };
    if from >= to {
        return Err(ApiError::BadRequest(format!(
            "from ({from}) must be before to ({to})"
        )));
    }
    let history = s
        .store
        .history(&tag, from, to, max_points)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown tag '{tag}'")))?;
    let body = match &history {
        History::Raw(points) => HistoryBody::Raw {
            tag: tag.as_str(),
            from_ns: from,
            to_ns: to,
            points: points
                .iter()
                .map(|p| RawPoint {
                    ts_ns: p.ts_ns,
                    value: ValueRef(p.value.as_ref()),
                    quality: p.quality.level().as_str(),
                })
                .collect(),
        },
        History::Buckets { width_ns, buckets } => HistoryBody::Buckets {
            tag: tag.as_str(),
            from_ns: from,
            to_ns: to,
            bucket_ns: *width_ns,
            buckets: buckets
                .iter()
                .map(|b| BucketBody {
                    start_ns: b.start_ns,
                    end_ns: b.end_ns,
                    count: b.count,
                    min: b.min,
                    max: b.max,
                    avg: b.avg,
                    last: b.last,
                })
                .collect(),
        },
    };
    Ok(Json(body).into_response())
}
