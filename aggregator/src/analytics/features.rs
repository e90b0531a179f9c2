//! Per-asset incremental features over a normalised sensor vector (FINDINGS.md §1.2, §1.6).
//!
//! For an asset at 0-based cycle index t, with x the z-scored sensor vector of m channels, the
//! feature vector has 5·m + 1 entries laid out as
//! `[last(m), mean(m), slope(m), ewma(m), ewma − baseline(m), cycle]`:
//! * `last` = x_t;
//! * `mean` = mean over the last min(W, t+1) cycles (W = 30);
//! * `slope` = OLS slope per cycle over the same window, 0 with one point;
//! * `ewma` = e_t = α·x_t + (1−α)·e_{t−1}, e_0 = x_0 (α = 0.1);
//! * `ewma − baseline`, the baseline being the mean of the first min(B, t+1) cycles (B = 20),
//!   frozen once B cycles have been seen;
//! * `cycle` = t + 1.
//!
//! Every update is O(m): the window keeps running sums Σx and Σj·x (j = absolute cycle index)
//! next to a ring buffer that says what leaves the window.

use serde::{Deserialize, Serialize};

/// Window lengths and smoothing of the feature state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Cycles in the mean/slope window.
    pub window: usize,
    /// Cycles averaged into the healthy baseline.
    pub baseline_cycles: usize,
    /// EWMA weight of the newest cycle.
    pub ewma_alpha: f64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            window: 30,
            baseline_cycles: 20,
            ewma_alpha: 0.1,
        }
    }
}

impl FeatureConfig {
    /// Length of the feature vector for `m` sensors.
    pub fn len(m: usize) -> usize {
        5 * m + 1
    }
}

/// z-score constants fitted on training rows (population std).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Mean per channel.
    pub means: Vec<f64>,
    /// Standard deviation per channel (ddof = 0).
    pub stds: Vec<f64>,
}

impl Normalizer {
    /// Fits means and population standard deviations over `rows` (each of the same length).
    /// A channel with zero spread gets std 1, so it normalises to 0.
    pub fn fit<'a>(rows: impl Iterator<Item = &'a [f64]> + Clone, m: usize) -> Self {
        let mut means = vec![0.0; m];
        let mut n = 0usize;
        for r in rows.clone() {
            for (s, v) in means.iter_mut().zip(r) {
                *s += v;
            }
            n += 1;
        }
        let nf = n.max(1) as f64;
        means.iter_mut().for_each(|s| *s /= nf);
        let mut vars = vec![0.0; m];
        for r in rows {
            for ((s, v), mu) in vars.iter_mut().zip(r).zip(&means) {
                *s += (v - mu) * (v - mu);
            }
        }
        let stds = vars
            .into_iter()
            .map(|v| {
                let sd = (v / nf).sqrt();
                if sd > 0.0 { sd } else { 1.0 }
            })
            .collect();
        Self { means, stds }
    }

    /// Writes the z-scored `raw` into `out`.
    pub fn apply(&self, raw: &[f64], out: &mut [f64]) {
        for (((o, v), mu), sd) in out.iter_mut().zip(raw).zip(&self.means).zip(&self.stds) {
            *o = (v - mu) / sd;
        }
    }
}

/// Incremental feature state of one asset.
#[derive(Debug, Clone)]
pub struct FeatureState {
    cfg: FeatureConfig,
    m: usize,
    /// Cycles seen (t + 1 after the latest push).
    cycles: usize,
    /// Ring buffer of the last `window` vectors, `window × m`.
    ring: Vec<f64>,
    last: Vec<f64>,
    sum: Vec<f64>,
    /// Σ j·x over the window, j the absolute 0-based cycle index.
    sum_jx: Vec<f64>,
    ewma: Vec<f64>,
    baseline_sum: Vec<f64>,
}

impl FeatureState {
    /// Empty state for `m` sensors.
    pub fn new(cfg: FeatureConfig, m: usize) -> Self {
        let window = cfg.window.max(1);
        Self {
            cfg: FeatureConfig { window, ..cfg },
            m,
            cycles: 0,
            ring: vec![0.0; window * m],
            last: vec![0.0; m],
            sum: vec![0.0; m],
            sum_jx: vec![0.0; m],
            ewma: vec![0.0; m],
            baseline_sum: vec![0.0; m],
        }
    }

    /// Cycles pushed so far.
    pub fn cycles(&self) -> usize {
        self.cycles
    }

    /// Adds one cycle's normalised vector (length m).
    pub fn push(&mut self, x: &[f64]) {
        let w = self.cfg.window;
        let j = self.cycles;
        let slot = (j % w) * self.m;
        let old_j = j as f64 - w as f64;
        for (c, &v) in x.iter().enumerate().take(self.m) {
            if j >= w {
                let old = self.ring[slot + c];
                self.sum[c] -= old;
                self.sum_jx[c] -= old_j * old;
            }
            self.ring[slot + c] = v;
            self.sum[c] += v;
            self.sum_jx[c] += j as f64 * v;
            self.last[c] = v;
            self.ewma[c] = if j == 0 {
                v
            } else {
                self.cfg.ewma_alpha * v + (1.0 - self.cfg.ewma_alpha) * self.ewma[c]
            };
            if j < self.cfg.baseline_cycles {
                self.baseline_sum[c] += v;
            }
        }
        self.cycles += 1;
    }

    /// Writes the 5·m + 1 features of the latest cycle into `out` (cleared first).
    /// Before the first push every feature is 0.
    pub fn features(&self, out: &mut Vec<f64>) {
        out.clear();
        let m = self.m;
        out.resize(FeatureConfig::len(m), 0.0);
        if self.cycles == 0 {
            return;
        }
        let k = self.cycles.min(self.cfg.window) as f64;
        let first_j = (self.cycles as f64) - k;
        // Window τ = j − first_j in 0..k: τ̄ = (k−1)/2, Σ(τ−τ̄)² = k(k²−1)/12.
        let tau_mean = (k - 1.0) / 2.0;
        let sxx = k * (k * k - 1.0) / 12.0;
        let nb = self.cycles.min(self.cfg.baseline_cycles).max(1) as f64;
        for c in 0..m {
            let mean = self.sum[c] / k;
            let slope = if sxx > 0.0 {
                let sum_tau_x = self.sum_jx[c] - first_j * self.sum[c];
                (sum_tau_x - k * tau_mean * mean) / sxx
            } else {
                0.0
            };
            out[c] = self.last[c];
            out[m + c] = mean;
            out[2 * m + c] = slope;
            out[3 * m + c] = self.ewma[c];
            out[4 * m + c] = self.ewma[c] - self.baseline_sum[c] / nb;
        }
        out[5 * m] = self.cycles as f64;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Direct batch computation of the features at index t, as in FINDINGS.md §1.2.
    fn batch(xs: &[Vec<f64>], t: usize, cfg: FeatureConfig) -> Vec<f64> {
        let m = xs[0].len();
        let lo = (t + 1).saturating_sub(cfg.window);
        let win = &xs[lo..=t];
        let k = win.len() as f64;
        let mut out = vec![0.0; 5 * m + 1];
        for c in 0..m {
            let mean = win.iter().map(|r| r[c]).sum::<f64>() / k;
            let tbar = (k - 1.0) / 2.0;
            let (mut num, mut den) = (0.0, 0.0);
            for (i, r) in win.iter().enumerate() {
                num += (i as f64 - tbar) * (r[c] - mean);
                den += (i as f64 - tbar).powi(2);
            }
            let mut e = xs[0][c];
            for r in &xs[1..=t] {
                e = cfg.ewma_alpha * r[c] + (1.0 - cfg.ewma_alpha) * e;
            }
            let nb = (t + 1).min(cfg.baseline_cycles);
            let base = xs[..nb].iter().map(|r| r[c]).sum::<f64>() / nb as f64;
            out[c] = xs[t][c];
            out[m + c] = mean;
            out[2 * m + c] = if den > 0.0 { num / den } else { 0.0 };
            out[3 * m + c] = e;
            out[4 * m + c] = e - base;
        }
        out[5 * m] = (t + 1) as f64;
        out
    }

    #[test]
    fn incremental_equals_batch() {
        let cfg = FeatureConfig::default();
        // A deterministic, drifting, noisy 3-channel signal over 200 cycles.
        let xs: Vec<Vec<f64>> = (0..200)
            .map(|t| {
                let t = t as f64;
                vec![
                    (t * 0.37).sin() + 0.01 * t,
                    ((t * 1.7).cos() * 3.0).round() / 3.0,
                    0.002 * t * t - 5.0,
                ]
            })
            .collect();
        let mut st = FeatureState::new(cfg, 3);
        let mut f = Vec::new();
        for (t, x) in xs.iter().enumerate() {
            st.push(x);
            st.features(&mut f);
            let want = batch(&xs, t, cfg);
            assert_eq!(f.len(), want.len());
            for (i, (a, b)) in f.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "t {t} feature {i}: {a} vs {b}"
                );
            }
        }
        assert_eq!(st.cycles(), 200);
    }

    #[test]
    fn normalizer_zscores() {
        let rows = [vec![1.0, 5.0], vec![3.0, 5.0]];
        let n = Normalizer::fit(rows.iter().map(|r| r.as_slice()), 2);
        assert_eq!(n.means, vec![2.0, 5.0]);
        assert_eq!(n.stds, vec![1.0, 1.0]);
        let mut out = [0.0; 2];
        n.apply(&[3.0, 5.0], &mut out);
        assert_eq!(out, [1.0, 0.0]);
    }
}
