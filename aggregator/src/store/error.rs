//! [`StoreError`]: what failed, and whether retrying can help.
//!
//! The writer retries transient failures (connection, I/O, pool, timeouts, lock contention)
//! forever and isolates permanent ones: data the database will never accept (PostgreSQL
//! SQLSTATE class 22 "data exception", e.g. 22021 for a NUL byte in text, and class 23
//! "integrity constraint violation"; SQLite's CONSTRAINT, TOOBIG, MISMATCH and RANGE result
//! codes; values sqlx cannot encode). Anything not clearly permanent counts as transient, so
//! an unexpected error stalls ingest (visibly) rather than dropping data.

use std::path::PathBuf;

use protocols::model::{IdError, TimestampNs};
use sqlx::error::ErrorKind;

/// Metric label: the database refused a value (SQLSTATE class 22 and the like).
pub const REASON_DATA_EXCEPTION: &str = "data_exception";
/// Metric label: a constraint refused a row (SQLSTATE class 23, SQLite CONSTRAINT).
pub const REASON_INTEGRITY: &str = "integrity_violation";
/// Metric label: the driver could not encode a value.
pub const REASON_ENCODE: &str = "encode";

/// A storage failure, naming the operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite file's directory could not be created.
    #[error("creating directory {path} for the SQLite database: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("connecting to {target}: {source}")]
    Connect {
        /// The database (password redacted).
        target: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// The schema migrations failed.
    #[error("migrating the {backend} schema: {source}")]
    Migrate {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed.
    #[error("{op}: {source}")]
    Query {
        /// What was being done.
        op: &'static str,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A history range outside `0 <= from < to <= MAX_TS_NS`.
    #[error("history range [{from_ns}, {to_ns}) is outside 0 <= from < to <= {max}", max = super::MAX_TS_NS)]
    Range {
        /// Range start.
        from_ns: TimestampNs,
        /// Range end.
        to_ns: TimestampNs,
    },
    /// A stored row cannot be turned back into model types.
    #[error("{op}: stored row of tag '{tag}' is invalid: {reason}")]
    Corrupt {
        /// What was being done.
        op: &'static str,
        /// The tag.
        tag: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { op, source }
    }

    pub(crate) fn bad_tag(op: &'static str, tag: &str, e: IdError) -> StoreError {
        StoreError::Corrupt {
            op,
            tag: tag.to_owned(),
            reason: e.to_string(),
        }
    }

    /// Why retrying this failure can never succeed, as a low-cardinality metric label, or
    /// `None` when it may pass on retry.
    pub fn permanent_reason(&self) -> Option<&'static str> {
        match self {
            StoreError::Query { source, .. } => permanent(source),
            _ => None,
        }
    }

    /// Whether retrying may help (see the module docs).
    pub fn is_transient(&self) -> bool {
        self.permanent_reason().is_none()
    }
}

fn permanent(e: &sqlx::Error) -> Option<&'static str> {
    let db = match e {
        sqlx::Error::Encode(_) => return Some(REASON_ENCODE),
        sqlx::Error::Database(db) => db,
        _ => return None,
    };
    if matches!(
        db.kind(),
        ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
    ) {
        return Some(REASON_INTEGRITY);
    }
    let code = db.code()?;
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Primary result code in the low byte of an extended one.
        return match code.parse::<i32>().ok()? & 0xff {
            19 => Some(REASON_INTEGRITY), // SQLITE_CONSTRAINT (also RAISE(ABORT))
            18 | 20 | 25 => Some(REASON_DATA_EXCEPTION), // TOOBIG, MISMATCH, RANGE
            _ => None,
        };
    }
    match code.get(..2) {
        Some("22") => Some(REASON_DATA_EXCEPTION),
        Some("23") => Some(REASON_INTEGRITY),
        _ => None,
    }
}
