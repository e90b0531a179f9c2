//! Predictive-maintenance analytics, I/O-free: remaining useful life from per-cycle sensor
//! vectors (issue 5; the method and its measured figures are in
//! `aggregator/research/pdm/FINDINGS.md` §1).
//!
//! [`features`] keeps the per-asset incremental state, [`gbdt`] is the boosted-tree
//! regressor, [`rul`] chains them into a trainable, serializable model, and [`cmapss`]
//! parses the NASA C-MAPSS benchmark files and computes its metrics. The `aggregator eval`
//! command (`crate::eval`) reads the files and prints the comparison with published results.

pub mod cmapss;
pub mod features;
pub mod gbdt;
pub mod rul;
