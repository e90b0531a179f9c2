//! Least-squares histogram gradient-boosted regression trees.
//!
//! The same algorithm as scikit-learn's `HistGradientBoostingRegressor` with squared error
//! (FINDINGS.md §1.3), without early stopping or subsampling, so a fit is deterministic:
//! * each feature is binned once into at most `max_bins` (≤ 255) bins: midpoints between
//!   distinct values when there are few enough, otherwise midpoints at evenly spaced quantiles;
//! * the model starts from the mean target; every tree fits the negative gradient y − ŷ
//!   (hessian 1), growing leaf-wise (best gain first) up to `max_leaves`, each child keeping at
//!   least `min_samples_leaf` rows; split gain and leaf values use L2 regularisation λ:
//!   gain = G_L²/(n_L+λ) + G_R²/(n_R+λ) − G²/(n+λ), leaf = lr · Σ(y−ŷ)/(n+λ);
//! * per node a histogram (Σ residual, count) per bin; the larger child's histogram is the
//!   parent's minus the smaller child's.
//!
//! A fitted [`Gbdt`] is plain data (serde): bias plus trees of (feature, threshold, children)
//! nodes; `x ≤ threshold` goes left, NaN goes right.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Boosting iterations (one tree each).
    pub n_trees: usize,
    /// Leaves per tree (≥ 2).
    pub max_leaves: usize,
    /// Minimum rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 regularisation of leaf values.
    pub l2: f64,
    /// Bins per feature, 2..=255.
    pub max_bins: usize,
}

impl Default for GbdtParams {
    /// The configuration picked by grouped CV in FINDINGS.md §1.3.
    fn default() -> Self {
        Self {
            learning_rate: 0.05,
            n_trees: 300,
            max_leaves: 15,
            min_samples_leaf: 100,
            l2: 1.0,
            max_bins: 255,
        }
    }
}

/// Why a fit was refused.
#[derive(Debug, Error, PartialEq)]
pub enum GbdtError {
    /// No training rows.
    #[error("no training rows")]
    Empty,
    /// `x` is not `n_rows × n_features`.
    #[error("feature matrix has {got} values, expected {rows} rows × {features} features")]
    Shape {
        /// Values in `x`.
        got: usize,
        /// Targets given.
        rows: usize,
        /// Features per row.
        features: usize,
    },
    /// A setting out of range.
    #[error("invalid parameter: {0}")]
    Param(&'static str),
    /// A target or feature value is not finite.
    #[error("non-finite value in the training data")]
    NonFinite,
}

/// One tree node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// `x[feature] ≤ threshold` → `left`, otherwise `right` (indexes into the tree's nodes).
    Split {
        /// Feature index.
        feature: usize,
        /// Split value.
        threshold: f64,
        /// Left child.
        left: usize,
        /// Right child.
        right: usize,
    },
    /// Output, learning rate already applied.
    Leaf {
        /// Added to the prediction.
        value: f64,
    },
}

/// One regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, root first.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value for row `x`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if x[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    /// Features per row.
    pub n_features: usize,
    /// Initial prediction (training mean).
    pub bias: f64,
    /// Trees in boosting order.
    pub trees: Vec<Tree>,
}

impl Gbdt {
    /// Fits on row-major `x` (`y.len()` rows of `n_features`).
    pub fn fit(x: &[f64], n_features: usize, y: &[f64], p: &GbdtParams) -> Result<Self, GbdtError> {
        let n = y.len();
        if n == 0 || n_features == 0 {
            return Err(GbdtError::Empty);
        }
        if x.len() != n * n_features {
            return Err(GbdtError::Shape {
                got: x.len(),
                rows: n,
                features: n_features,
            });
        }
        if !(2..=255).contains(&p.max_bins) {
            return Err(GbdtError::Param("max_bins must be in 2..=255"));
        }
        if p.max_leaves < 2 {
            return Err(GbdtError::Param("max_leaves must be at least 2"));
        }
        if !(p.learning_rate > 0.0 && p.l2 >= 0.0) {
            return Err(GbdtError::Param("learning_rate must be > 0 and l2 ≥ 0"));
        }
        if x.iter().chain(y).any(|v| !v.is_finite()) {
            return Err(GbdtError::NonFinite);
        }
        let binned = Binned::new(x, n_features, n, p.max_bins);
        let bias = y.iter().sum::<f64>() / n as f64;
        let mut pred = vec![bias; n];
        let mut resid = vec![0.0; n];
        let mut trees = Vec::with_capacity(p.n_trees);
        let grower = Grower { b: &binned, p };
        for _ in 0..p.n_trees {
            for ((r, yi), pi) in resid.iter_mut().zip(y).zip(&pred) {
                *r = yi - pi;
            }
            trees.push(grower.grow(&resid, &mut pred));
        }
        Ok(Self {
            n_features,
            bias,
            trees,
        })
    }

    /// Prediction for one row.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.bias + self.trees.iter().map(|t| t.predict(x)).sum::<f64>()
    }
}

/// Column-major bin indices and the threshold of every bin boundary.
struct Binned {
    n: usize,
    /// `bins[f * n + row]`.
    bins: Vec<u8>,
    /// `thresholds[f][b]`: bin ≤ b ⇔ x ≤ thresholds[f][b].
    thresholds: Vec<Vec<f64>>,
}

impl Binned {
    fn new(x: &[f64], nf: usize, n: usize, max_bins: usize) -> Self {
        let mut bins = vec![0u8; nf * n];
        let mut thresholds = Vec::with_capacity(nf);
        let mut col = Vec::with_capacity(n);
        for f in 0..nf {
            col.clear();
            col.extend((0..n).map(|r| x[r * nf + f]));
            col.sort_by(f64::total_cmp);
            let mut distinct = col.clone();
            distinct.dedup();
            let th: Vec<f64> = if distinct.len() <= max_bins {
                distinct.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
            } else {
                let mut th: Vec<f64> = (1..max_bins)
                    .map(|i| {
                        let k = (i * n / max_bins).clamp(1, n - 1);
                        (col[k - 1] + col[k]) / 2.0
                    })
                    .collect();
                th.dedup();
                th
            };
            for r in 0..n {
                let v = x[r * nf + f];
                // ≤ 254 thresholds, so the bin index fits in a u8.
                bins[f * n + r] = th.partition_point(|t| *t < v) as u8;
            }
            thresholds.push(th);
        }
        Self {
            n,
            bins,
            thresholds,
        }
    }

    fn n_bins(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }
}

/// Histogram of one node: per feature, 256 (Σ residual, count) slots.
type Hist = Vec<(f64, u32)>;
const SLOTS: usize = 256;

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
}

struct Leaf {
    node: usize,
    rows: Vec<u32>,
    hist: Hist,
    sum: f64,
    split: Option<Split>,
}

struct Grower<'a> {
    b: &'a Binned,
    p: &'a GbdtParams,
}

impl Grower<'_> {
    fn score(&self, g: f64, n: f64) -> f64 {
        g * g / (n + self.p.l2)
    }

    fn hist(&self, rows: &[u32], resid: &[f64]) -> Hist {
        let nf = self.b.thresholds.len();
        let mut h = vec![(0.0, 0u32); nf * SLOTS];
        for f in 0..nf {
            let col = &self.b.bins[f * self.b.n..(f + 1) * self.b.n];
            let hf = &mut h[f * SLOTS..(f + 1) * SLOTS];
            for &r in rows {
                let slot = &mut hf[col[r as usize] as usize];
                slot.0 += resid[r as usize];
                slot.1 += 1;
            }
        }
        h
    }

    fn best_split(&self, hist: &Hist, sum: f64, count: usize) -> Option<Split> {
        let msl = self.p.min_samples_leaf.max(1);
        if count < 2 * msl {
            return None;
        }
        let parent = self.score(sum, count as f64);
        let mut best: Option<Split> = None;
        for f in 0..self.b.thresholds.len() {
            let hf = &hist[f * SLOTS..f * SLOTS + self.b.n_bins(f)];
            let (mut gl, mut nl) = (0.0, 0usize);
            for (bin, &(g, c)) in hf.iter().enumerate().take(hf.len() - 1) {
                gl += g;
                nl += c as usize;
                let nr = count - nl;
                if nl < msl {
                    continue;
                }
                if nr < msl {
                    break;
                }
                let gain = self.score(gl, nl as f64) + self.score(sum - gl, nr as f64) - parent;
                if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        gain,
                        feature: f,
                        bin,
                    });
                }
            }
        }
        best
    }

    fn leaf(&self, node: usize, rows: Vec<u32>, hist: Hist, resid: &[f64]) -> Leaf {
        let sum = rows.iter().map(|&r| resid[r as usize]).sum();
        let split = self.best_split(&hist, sum, rows.len());
        Leaf {
            node,
            rows,
            hist,
            sum,
            split,
        }
    }

    /// Grows one tree on the residuals and adds its output to `pred`.
    fn grow(&self, resid: &[f64], pred: &mut [f64]) -> Tree {
        let rows: Vec<u32> = (0..self.b.n as u32).collect();
        let hist = self.hist(&rows, resid);
        let mut nodes = vec![Node::Leaf { value: 0.0 }];
        let mut leaves = vec![self.leaf(0, rows, hist, resid)];
        while leaves.len() < self.p.max_leaves {
            // Best gain first; ties go to the earliest leaf, so growth is deterministic.
            let mut pick: Option<(usize, f64)> = None;
            for (i, l) in leaves.iter().enumerate() {
                if let Some(s) = l.split
                    && pick.is_none_or(|(_, g)| s.gain > g)
                {
                    pick = Some((i, s.gain));
                }
            }
            let Some((i, _)) = pick else { break };
            let parent = leaves.swap_remove(i);
            let Some(s) = parent.split else { break };
            let col = &self.b.bins[s.feature * self.b.n..(s.feature + 1) * self.b.n];
            let (left, right): (Vec<u32>, Vec<u32>) = parent
                .rows
                .iter()
                .partition(|&&r| col[r as usize] as usize <= s.bin);
            let (small, large_is_left) = if left.len() <= right.len() {
                (&left, false)
            } else {
                (&right, true)
            };
            let small_hist = self.hist(small, resid);
            let mut large_hist = parent.hist;
            for (l, s) in large_hist.iter_mut().zip(&small_hist) {
                l.0 -= s.0;
                l.1 -= s.1;
            }
            let (lh, rh) = if large_is_left {
                (large_hist, small_hist)
            } else {
                (small_hist, large_hist)
            };
            let (li, ri) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node::Leaf { value: 0.0 });
            nodes.push(Node::Leaf { value: 0.0 });
            nodes[parent.node] = Node::Split {
                feature: s.feature,
                threshold: self.b.thresholds[s.feature][s.bin],
                left: li,
                right: ri,
            };
            leaves.push(self.leaf(li, left, lh, resid));
            leaves.push(self.leaf(ri, right, rh, resid));
        }
        for l in &leaves {
            let value = self.p.learning_rate * l.sum / (l.rows.len() as f64 + self.p.l2);
            nodes[l.node] = Node::Leaf { value };
            for &r in &l.rows {
                pred[r as usize] += value;
            }
        }
        Tree { nodes }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// y = sin(3·x0) + x1² on a deterministic grid, plus a noise-free irrelevant feature.
    fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut x = Vec::with_capacity(n * 3);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let a = (i as f64 * 0.618_034).fract() * 2.0 - 1.0;
            let b = (i as f64 * 0.414_214).fract() * 2.0 - 1.0;
            let c = (i % 7) as f64;
            x.extend([a, b, c]);
            y.push((3.0 * a).sin() + b * b);
        }
        (x, y)
    }

    fn rmse(m: &Gbdt, x: &[f64], y: &[f64]) -> f64 {
        let se: f64 = y
            .iter()
            .enumerate()
            .map(|(i, t)| (m.predict(&x[i * 3..i * 3 + 3]) - t).powi(2))
            .sum();
        (se / y.len() as f64).sqrt()
    }

    fn params() -> GbdtParams {
        GbdtParams {
            learning_rate: 0.1,
            n_trees: 100,
            max_leaves: 15,
            min_samples_leaf: 10,
            l2: 1.0,
            max_bins: 255,
        }
    }

    #[test]
    fn fits_a_nonlinear_function_much_better_than_the_mean() {
        let (x, y) = data(3000);
        let (xt, yt) = {
            // Held-out points from a shifted sequence.
            let (x2, y2) = data(3500);
            (x2[3000 * 3..].to_vec(), y2[3000..].to_vec())
        };
        let m = Gbdt::fit(&x, 3, &y, &params()).unwrap();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let base = (yt.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / yt.len() as f64).sqrt();
        let ours = rmse(&m, &xt, &yt);
        assert!(ours < 0.15 * base, "rmse {ours} vs mean-only {base}");
        assert_eq!(m.trees.len(), 100);
        assert!(m.trees.iter().all(|t| t.nodes.len() < 2 * 15));
    }

    #[test]
    fn deterministic_and_serde_round_trip() {
        let (x, y) = data(1000);
        let a = Gbdt::fit(&x, 3, &y, &params()).unwrap();
        let b = Gbdt::fit(&x, 3, &y, &params()).unwrap();
        assert_eq!(a, b);
        let json = serde_json::to_string(&a).unwrap();
        let c: Gbdt = serde_json::from_str(&json).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn min_samples_leaf_is_respected_and_bad_input_refused() {
        let (x, y) = data(500);
        let p = GbdtParams {
            min_samples_leaf: 200,
            ..params()
        };
        let m = Gbdt::fit(&x, 3, &y, &p).unwrap();
        // 500 rows with ≥ 200 per leaf allow at most one split.
        assert!(m.trees.iter().all(|t| t.nodes.len() <= 3));
        assert_eq!(
            Gbdt::fit(&x, 4, &y, &p),
            Err(GbdtError::Shape {
                got: 1500,
                rows: 500,
                features: 4
            })
        );
        assert_eq!(Gbdt::fit(&[], 3, &[], &p), Err(GbdtError::Empty));
        let mut bad = y.clone();
        bad[3] = f64::NAN;
        assert_eq!(Gbdt::fit(&x, 3, &bad, &p), Err(GbdtError::NonFinite));
    }
}
