//! Predictive-maintenance analytics, I/O-free: remaining useful life from per-cycle sensor
//! vectors and multivariate anomaly detection (issue 5; the methods and their measured
//! figures are in `aggregator/research/pdm/FINDINGS.md` §1 and §2).
//!
//! [`features`] keeps the per-asset incremental state, [`gbdt`] is the boosted-tree
//! regressor, [`rul`] chains them into a trainable, serializable model, and [`cmapss`]
//! parses the NASA C-MAPSS benchmark files and computes its metrics. [`hotelling`] is the
//! streaming Hotelling T² detector with per-input contributions, [`skab`] parses the SKAB
//! benchmark files and computes its point-wise metrics. The `aggregator eval`
//! command (`crate::eval`) reads the files and prints the comparison with published results.

pub mod cmapss;
pub mod features;
pub mod gbdt;
pub mod hotelling;
pub mod rul;
pub mod skab;
