//! Remaining-useful-life model: sensor selection → z-score → incremental features → GBDT →
//! clip to [0, max_rul] (FINDINGS.md §1.2–§1.3).
//!
//! Training data is a set of run-to-failure histories (one sensor vector per cycle, the last
//! cycle being the failure), so the target at 0-based cycle t of a history of length L is
//! min(L − 1 − t, max_rul).
//!
//! **Uncertainty band.** With `cv_folds ≥ 2`, training also runs a grouped K-fold over the
//! histories (history i in fold i mod K, the whole pipeline refitted per fold) and scores
//! every "test-like" cut of the held-out histories: ≥ 31 observed cycles and a true remaining
//! life in [7, 145], the range of the FD001 test truth. The 10 % and 90 % quantiles of the
//! out-of-fold residuals (true − predicted), taken separately for predictions below 50, 50–100
//! and above 100 cycles, give an 80 % band around a new prediction. These are empirical
//! residuals of the same pipeline on unseen histories, so the band says how wrong the model
//! has been, not a model-based probability; it assumes new assets resemble the training
//! fleet. The spread of late boosting stages was rejected: it measures how much the last
//! trees still change the fit, not the error. The same CV gives the RMSE and PHM score
//! reported for datasets whose test file is held out.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cmapss::{phm_score, rmse};
use super::features::{FeatureConfig, FeatureState, Normalizer};
use super::gbdt::{Gbdt, GbdtError, GbdtParams};

/// Version of the serialized [`RulModel`] layout.
pub const MODEL_FORMAT: u32 = 1;
/// Shortest history, in cycles, a CV cut may have seen.
const CV_MIN_CYCLES: usize = 31;
/// True remaining-life range of a CV cut.
const CV_RUL_RANGE: (f64, f64) = (7.0, 145.0);
/// Upper edges of the prediction buckets of the band.
const BAND_EDGES: [f64; 2] = [50.0, 100.0];
/// Fewer residuals than this in a bucket: use the pooled quantiles.
const BAND_MIN_POINTS: usize = 20;

/// Settings of the whole pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RulConfig {
    /// Target and prediction cap, in cycles.
    pub max_rul: f64,
    /// A sensor is used if it has at least this many distinct training values …
    pub min_distinct: usize,
    /// … and a standard deviation above this.
    pub min_std: f64,
    /// Feature windows.
    pub features: FeatureConfig,
    /// Boosting settings.
    pub gbdt: GbdtParams,
    /// Grouped CV folds for the band and the CV figures; 0 or 1: none.
    pub cv_folds: usize,
}

impl Default for RulConfig {
    fn default() -> Self {
        Self {
            max_rul: 125.0,
            min_distinct: 5,
            min_std: 1e-6,
            features: FeatureConfig::default(),
            gbdt: GbdtParams::default(),
            cv_folds: 5,
        }
    }
}

/// Why training failed.
#[derive(Debug, Error, PartialEq)]
pub enum RulError {
    /// No histories, or histories of different widths.
    #[error("training data: {0}")]
    Data(&'static str),
    /// No sensor varies enough to be used.
    #[error("no usable sensor (all constant)")]
    NoSensor,
    /// Fewer histories than CV folds.
    #[error("{units} histories cannot be split into {folds} folds")]
    Folds {
        /// Histories given.
        units: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// The boosting step refused the data.
    #[error(transparent)]
    Gbdt(#[from] GbdtError),
}

/// Out-of-fold figures on test-like cuts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Folds used.
    pub folds: usize,
    /// Cuts scored.
    pub points: usize,
    /// RMSE against the unclipped true remaining life.
    pub rmse: f64,
    /// PHM'08 score per 100 cuts (comparable with a 100-engine test set).
    pub score_per_100: f64,
    /// 10 % residual quantile per prediction bucket (below 50, 50–100, above 100).
    pub q10: [f64; 3],
    /// 90 % residual quantile per bucket.
    pub q90: [f64; 3],
}

/// One prediction with its 80 % band (when the model was validated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RulPrediction {
    /// Remaining cycles, in [0, max_rul].
    pub rul: f64,
    /// (low, high) from the out-of-fold residual quantiles; low ≥ 0.
    pub band: Option<(f64, f64)>,
}

/// A trained pipeline; plain data, saved with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulModel {
    /// [`MODEL_FORMAT`] at training time.
    pub format: u32,
    /// Settings it was trained with.
    pub config: RulConfig,
    /// Indices of the used sensors in the raw vector.
    pub sensors: Vec<usize>,
    /// z-score constants of the used sensors.
    pub normalizer: Normalizer,
    /// The ensemble over the 5·m + 1 features.
    pub gbdt: Gbdt,
    /// Grouped-CV figures and band, if `cv_folds ≥ 2`.
    pub validation: Option<Validation>,
}

impl RulModel {
    /// Trains on run-to-failure histories (`units[i][t]` = raw sensor vector at cycle t).
    pub fn train(units: &[&[Vec<f64>]], config: &RulConfig) -> Result<Self, RulError> {
        let mut model = Self::fit(units, config)?;
        if config.cv_folds >= 2 {
            model.validation = Some(Self::validate(units, config)?);
        }
        Ok(model)
    }

    /// Fits the pipeline on all histories, without CV (`validation` stays `None`).
    pub fn fit(units: &[&[Vec<f64>]], config: &RulConfig) -> Result<Self, RulError> {
        let width = units
            .iter()
            .flat_map(|u| u.first())
            .map(Vec::len)
            .next()
            .ok_or(RulError::Data("no histories"))?;
        if units
            .iter()
            .flat_map(|u| u.iter())
            .any(|r| r.len() != width)
        {
            return Err(RulError::Data("sensor vectors of different lengths"));
        }
        let sensors = select_sensors(units, width, config);
        if sensors.is_empty() {
            return Err(RulError::NoSensor);
        }
        let picked: Vec<Vec<f64>> = units
            .iter()
            .flat_map(|u| u.iter())
            .map(|r| sensors.iter().map(|&s| r[s]).collect())
            .collect();
        let normalizer = Normalizer::fit(picked.iter().map(Vec::as_slice), sensors.len());
        let mut model = Self {
            format: MODEL_FORMAT,
            config: *config,
            sensors,
            normalizer,
            gbdt: Gbdt {
                n_features: 0,
                bias: 0.0,
                trees: Vec::new(),
            },
            validation: None,
        };
        let nf = FeatureConfig::len(model.sensors.len());
        let mut x = Vec::with_capacity(picked.len() * nf);
        let mut y = Vec::with_capacity(picked.len());
        for u in units {
            let mut state = model.new_state();
            let mut f = Vec::new();
            for (t, raw) in u.iter().enumerate() {
                model.push(&mut state, raw);
                state.features(&mut f);
                x.extend_from_slice(&f);
                y.push(((u.len() - 1 - t) as f64).min(config.max_rul));
            }
        }
        model.gbdt = Gbdt::fit(&x, nf, &y, &config.gbdt)?;
        Ok(model)
    }

    /// Grouped `cv_folds`-fold CV of the whole pipeline (see the module docs).
    pub fn validate(units: &[&[Vec<f64>]], config: &RulConfig) -> Result<Validation, RulError> {
        let k = config.cv_folds;
        if units.len() < k {
            return Err(RulError::Folds {
                units: units.len(),
                folds: k,
            });
        }
        let (mut pred, mut truth) = (Vec::new(), Vec::new());
        for fold in 0..k {
            let train: Vec<&[Vec<f64>]> = (0..units.len())
                .filter(|i| i % k != fold)
                .map(|i| units[i])
                .collect();
            let m = Self::fit(&train, config)?;
            for u in (0..units.len()).filter(|i| i % k == fold).map(|i| units[i]) {
                for (t, p) in m.predict_each(u).into_iter().enumerate() {
                    let rul = (u.len() - 1 - t) as f64;
                    if t + 1 >= CV_MIN_CYCLES && (CV_RUL_RANGE.0..=CV_RUL_RANGE.1).contains(&rul) {
                        pred.push(p);
                        truth.push(rul);
                    }
                }
            }
        }
        let resid: Vec<(f64, f64)> = pred.iter().zip(&truth).map(|(p, t)| (*p, t - p)).collect();
        let all: Vec<f64> = resid.iter().map(|r| r.1).collect();
        let (mut q10, mut q90) = ([0.0; 3], [0.0; 3]);
        for b in 0..3 {
            let mut r: Vec<f64> = resid
                .iter()
                .filter(|(p, _)| bucket(*p) == b)
                .map(|r| r.1)
                .collect();
            if r.len() < BAND_MIN_POINTS {
                r = all.clone();
            }
            q10[b] = quantile(&mut r, 0.1);
            q90[b] = quantile(&mut r, 0.9);
        }
        let n = pred.len().max(1) as f64;
        Ok(Validation {
            folds: k,
            points: pred.len(),
            rmse: rmse(&pred, &truth),
            score_per_100: phm_score(&pred, &truth) / n * 100.0,
            q10,
            q90,
        })
    }

    /// Fresh per-asset feature state.
    pub fn new_state(&self) -> FeatureState {
        FeatureState::new(self.config.features, self.sensors.len())
    }

    /// Adds one cycle's raw sensor vector to an asset's state.
    pub fn push(&self, state: &mut FeatureState, raw: &[f64]) {
        let picked: Vec<f64> = self.sensors.iter().map(|&s| raw[s]).collect();
        let mut z = vec![0.0; picked.len()];
        self.normalizer.apply(&picked, &mut z);
        state.push(&z);
    }

    /// Prediction at the state's latest cycle.
    pub fn predict_state(&self, state: &FeatureState) -> RulPrediction {
        let mut f = Vec::new();
        state.features(&mut f);
        let rul = self.gbdt.predict(&f).clamp(0.0, self.config.max_rul);
        let band = self.validation.as_ref().map(|v| {
            let b = bucket(rul);
            ((rul + v.q10[b]).max(0.0), (rul + v.q90[b]).max(0.0))
        });
        RulPrediction { rul, band }
    }

    /// Prediction after the last cycle of a history.
    pub fn predict_last(&self, unit: &[Vec<f64>]) -> RulPrediction {
        let mut state = self.new_state();
        for raw in unit {
            self.push(&mut state, raw);
        }
        self.predict_state(&state)
    }

    /// Clipped prediction after every cycle of a history.
    pub fn predict_each(&self, unit: &[Vec<f64>]) -> Vec<f64> {
        let mut state = self.new_state();
        unit.iter()
            .map(|raw| {
                self.push(&mut state, raw);
                self.predict_state(&state).rul
            })
            .collect()
    }
}

fn bucket(pred: f64) -> usize {
    BAND_EDGES.iter().filter(|e| pred >= **e).count()
}

/// Linear-interpolated quantile (sorts `v`); 0 when empty.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Sensors with ≥ `min_distinct` distinct values and std > `min_std` over all rows.
fn select_sensors(units: &[&[Vec<f64>]], width: usize, config: &RulConfig) -> Vec<usize> {
    (0..width)
        .filter(|&s| {
            let mut vals: Vec<f64> = units.iter().flat_map(|u| u.iter()).map(|r| r[s]).collect();
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            vals.sort_by(f64::total_cmp);
            vals.dedup();
            vals.len() >= config.min_distinct && std > config.min_std
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Synthetic fleet: channel 0 degrades exponentially towards failure, channel 1 is noise,
    /// channel 2 is constant (must be dropped).
    fn fleet(n: usize) -> Vec<Vec<Vec<f64>>> {
        (0..n)
            .map(|u| {
                let len = 120 + (u * 37) % 150;
                (0..len)
                    .map(|t| {
                        let wear = ((t as f64 - len as f64) / 40.0).exp();
                        let noise = ((u * 131 + t * 17) % 23) as f64 / 23.0 - 0.5;
                        vec![wear + 0.05 * noise, noise, 7.0]
                    })
                    .collect()
            })
            .collect()
    }

    fn small() -> RulConfig {
        RulConfig {
            gbdt: GbdtParams {
                n_trees: 60,
                learning_rate: 0.1,
                min_samples_leaf: 20,
                ..GbdtParams::default()
            },
            cv_folds: 3,
            ..RulConfig::default()
        }
    }

    #[test]
    fn learns_a_synthetic_fleet_with_a_band() {
        let units = fleet(24);
        let refs: Vec<&[Vec<f64>]> = units.iter().map(Vec::as_slice).collect();
        let m = RulModel::train(&refs, &small()).unwrap();
        assert_eq!(m.sensors, vec![0, 1]);
        let v = m.validation.as_ref().unwrap();
        assert!(v.points > 100 && v.rmse < 25.0, "{v:?}");
        // Near failure the model must say so, and the band must contain its prediction.
        let p = m.predict_last(&refs[0][..refs[0].len() - 5]);
        assert!(p.rul < 30.0, "{p:?}");
        let (lo, hi) = p.band.unwrap();
        assert!(0.0 <= lo && lo < hi, "{p:?}");
        let json = serde_json::to_string(&m).unwrap();
        let back: RulModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.predict_last(refs[1]), m.predict_last(refs[1]));
    }

    #[test]
    fn refuses_unusable_data() {
        let flat = vec![vec![vec![1.0, 2.0]; 50]; 3];
        let refs: Vec<&[Vec<f64>]> = flat.iter().map(Vec::as_slice).collect();
        assert_eq!(RulModel::train(&refs, &small()), Err(RulError::NoSensor));
        assert_eq!(
            RulModel::train(&[], &small()),
            Err(RulError::Data("no histories"))
        );
    }
}
