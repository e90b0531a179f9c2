//! Streaming multivariate anomaly detection with Hotelling's T² (FINDINGS.md §2.3).
//!
//! [`Hotelling`] is fitted on a calibration window of healthy rows: column mean, column std
//! (ddof 1, a std below 1e-9 is replaced by 1), the sample covariance of the z-scores (ddof 1)
//! and its pseudo-inverse (Jacobi eigendecomposition, so constant or collinear inputs are
//! fine), plus the Phase-II upper control limit
//! `UCL = m(n−1)(n+1)/(n(n−m)) · F⁻¹(p; m, n−m)`. [`Hotelling::score`] returns T² and each
//! input's contribution `z_i·(C⁻¹z)_i` (they sum to T²), which says which tags drive an alarm.
//!
//! [`Detector`] is the online form of the recipe: a causal rolling mean of the inputs, fit
//! on the first `fit_rows` smoothed rows, then `r = T²/UCL`, a causal EWMA of `r`
//! (initialised to the first scored value) and an alarm when the EWMA exceeds a threshold.
//! State: the ring buffer, the fitted model and one EWMA value; one quadratic form per row.

use std::collections::VecDeque;

use thiserror::Error;

/// Why a model cannot be fitted or a row scored.
#[derive(Debug, Error, PartialEq)]
pub enum HotellingError {
    /// The calibration window must have more rows than inputs.
    #[error("{rows} calibration rows for {dims} inputs (need more rows than inputs)")]
    TooFewRows {
        /// Rows given.
        rows: usize,
        /// Inputs per row.
        dims: usize,
    },
    /// A row has the wrong number of inputs.
    #[error("row has {got} inputs, expected {expected}")]
    Dimension {
        /// Inputs the model was fitted on.
        expected: usize,
        /// Inputs in the row.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("non-finite input value")]
    NonFinite,
    /// The confidence level is not in (0, 1).
    #[error("confidence {0} not in (0, 1)")]
    Confidence(f64),
}

/// A fitted Hotelling T² model.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotelling {
    mean: Vec<f64>,
    std: Vec<f64>,
    /// Pseudo-inverse of the z-score covariance, row-major m×m.
    cinv: Vec<f64>,
    ucl: f64,
}

/// T² of one row and what each input contributes to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// `zᵀC⁻¹z`.
    pub t2: f64,
    /// `z_i·(C⁻¹z)_i` per input, in input order; they sum to `t2` (single terms may be < 0).
    pub contributions: Vec<f64>,
}

impl Score {
    /// Index of the input with the largest contribution.
    pub fn top(&self) -> Option<usize> {
        self.contributions
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    }
}

impl Hotelling {
    /// Fits on calibration rows (all of the same length) with control-limit confidence `p`.
    pub fn fit(rows: &[Vec<f64>], p: f64) -> Result<Self, HotellingError> {
        if !(p > 0.0 && p < 1.0) {
            return Err(HotellingError::Confidence(p));
        }
        let m = rows.first().map_or(0, Vec::len);
        let n = rows.len();
        if m == 0 || n <= m + 1 {
            return Err(HotellingError::TooFewRows { rows: n, dims: m });
        }
        for r in rows {
            if r.len() != m {
                return Err(HotellingError::Dimension {
                    expected: m,
                    got: r.len(),
                });
            }
            if r.iter().any(|v| !v.is_finite()) {
                return Err(HotellingError::NonFinite);
            }
        }
        let nf = n as f64;
        let mut mean = vec![0.0; m];
        for r in rows {
            for (a, v) in mean.iter_mut().zip(r) {
                *a += v;
            }
        }
        mean.iter_mut().for_each(|a| *a /= nf);
        let mut std = vec![0.0; m];
        for r in rows {
            for j in 0..m {
                std[j] += (r[j] - mean[j]).powi(2);
            }
        }
        for s in &mut std {
            *s = (*s / (nf - 1.0)).sqrt();
            if *s < 1e-9 {
                *s = 1.0;
            }
        }
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| (0..m).map(|j| (r[j] - mean[j]) / std[j]).collect())
            .collect();
        let mut zmean = vec![0.0; m];
        for r in &z {
            for (a, v) in zmean.iter_mut().zip(r) {
                *a += v;
            }
        }
        zmean.iter_mut().for_each(|a| *a /= nf);
        let mut cov = vec![0.0; m * m];
        for r in &z {
            for i in 0..m {
                for j in i..m {
                    cov[i * m + j] += (r[i] - zmean[i]) * (r[j] - zmean[j]);
                }
            }
        }
        for i in 0..m {
            for j in i..m {
                let v = cov[i * m + j] / (nf - 1.0);
                cov[i * m + j] = v;
                cov[j * m + i] = v;
            }
        }
        Ok(Self {
            mean,
            std,
            cinv: pinv_symmetric(&cov, m),
            ucl: ucl(m, n, p),
        })
    }

    /// Inputs per row.
    pub fn dims(&self) -> usize {
        self.mean.len()
    }

    /// The upper control limit for T².
    pub fn ucl(&self) -> f64 {
        self.ucl
    }

    /// T² of one row and the per-input contributions.
    pub fn score(&self, x: &[f64]) -> Result<Score, HotellingError> {
        let m = self.dims();
        if x.len() != m {
            return Err(HotellingError::Dimension {
                expected: m,
                got: x.len(),
            });
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(HotellingError::NonFinite);
        }
        let z: Vec<f64> = (0..m)
            .map(|j| (x[j] - self.mean[j]) / self.std[j])
            .collect();
        let contributions: Vec<f64> = (0..m)
            .map(|i| {
                let row = &self.cinv[i * m..(i + 1) * m];
                z[i] * row.iter().zip(&z).map(|(c, v)| c * v).sum::<f64>()
            })
            .collect();
        Ok(Score {
            t2: contributions.iter().sum(),
            contributions,
        })
    }
}

/// Phase-II control limit for T² of a new observation, `m` inputs, `n` calibration rows.
pub fn ucl(m: usize, n: usize, p: f64) -> f64 {
    let (mf, nf) = (m as f64, n as f64);
    mf * (nf - 1.0) * (nf + 1.0) / (nf * (nf - mf)) * f_quantile(p, mf, nf - mf)
}

/// Symmetric eigendecomposition by cyclic Jacobi rotations: (eigenvalues, eigenvectors as
/// the columns of a row-major m×m matrix).
fn jacobi_eigen(a: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; m * m];
    for i in 0..m {
        v[i * m + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * m + j].powi(2))
            .sum();
        let diag: f64 = (0..m).map(|i| a[i * m + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[p * m + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let (akp, akq) = (a[k * m + p], a[k * m + q]);
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for k in 0..m {
                    let (apk, aqk) = (a[p * m + k], a[q * m + k]);
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for k in 0..m {
                    let (vkp, vkq) = (v[k * m + p], v[k * m + q]);
                    v[k * m + p] = c * vkp - s * vkq;
                    v[k * m + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..m).map(|i| a[i * m + i]).collect(), v)
}

/// Moore–Penrose pseudo-inverse of a symmetric m×m matrix (eigenvalues below 1e-12 × the
/// largest magnitude count as zero).
fn pinv_symmetric(a: &[f64], m: usize) -> Vec<f64> {
    let (w, v) = jacobi_eigen(a, m);
    let cut = 1e-12 * w.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let mut out = vec![0.0; m * m];
    for (k, &l) in w.iter().enumerate() {
        if l.abs() <= cut {
            continue;
        }
        for i in 0..m {
            for j in 0..m {
                out[i * m + j] += v[i * m + k] * v[j * m + k] / l;
            }
        }
    }
    out
}

/// ln Γ(x) (Lanczos, g = 7), x > 0.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    for i in 1..1000 {
        let m = i as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularized incomplete beta function I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let bt = ln_bt.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

/// CDF of the F distribution with `d1`, `d2` degrees of freedom.
pub fn f_cdf(x: f64, d1: f64, d2: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    beta_inc(d1 / 2.0, d2 / 2.0, d1 * x / (d1 * x + d2))
}

/// Quantile of the F distribution (bisection on [`f_cdf`]), `p` in (0, 1).
pub fn f_quantile(p: f64, d1: f64, d2: f64) -> f64 {
    let mut hi = 1.0;
    while f_cdf(hi, d1, d2) < p && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f_cdf(mid, d1, d2) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Parameters of [`Detector`]; the defaults are the FINDINGS.md §2.3 recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Causal rolling-mean length applied to the inputs (rows).
    pub window: usize,
    /// Smoothed rows in the calibration window.
    pub fit_rows: usize,
    /// EWMA span of `T²/UCL` (α = 2/(span+1)); 1 = no smoothing.
    pub span: f64,
    /// Alarm when the EWMA of `T²/UCL` exceeds this.
    pub threshold: f64,
    /// Confidence of the control limit.
    pub confidence: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            window: 10,
            fit_rows: 400,
            span: 15.0,
            threshold: 3.0,
            confidence: 0.999,
        }
    }
}

/// The outcome for one scored row.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `T²/UCL` of the smoothed row.
    pub ratio: f64,
    /// The EWMA of `ratio` (the alarm statistic).
    pub ewma: f64,
    /// `ewma > threshold`.
    pub alarm: bool,
    /// T² and the per-input contributions of the smoothed row.
    pub score: Score,
}

/// Online detector: calibrates on the first rows it sees, then scores every further row.
#[derive(Debug, Clone)]
pub struct Detector {
    config: DetectorConfig,
    ring: VecDeque<Vec<f64>>,
    calibration: Vec<Vec<f64>>,
    model: Option<Hotelling>,
    ewma: Option<f64>,
}

impl Detector {
    /// A detector that has seen nothing yet.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            ring: VecDeque::with_capacity(config.window.max(1)),
            calibration: Vec::with_capacity(config.fit_rows),
            model: None,
            ewma: None,
            config,
        }
    }

    /// The fitted model, once the calibration window is complete.
    pub fn model(&self) -> Option<&Hotelling> {
        self.model.as_ref()
    }

    /// Feeds one raw row. `None` while calibrating (the row that completes the window fits
    /// the model), then one [`Verdict`] per row.
    pub fn push(&mut self, x: &[f64]) -> Result<Option<Verdict>, HotellingError> {
        if let Some(first) = self.ring.front()
            && first.len() != x.len()
        {
            return Err(HotellingError::Dimension {
                expected: first.len(),
                got: x.len(),
            });
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(HotellingError::NonFinite);
        }
        if self.ring.len() == self.config.window.max(1) {
            self.ring.pop_front();
        }
        self.ring.push_back(x.to_vec());
        let k = self.ring.len() as f64;
        let mut smooth = vec![0.0; x.len()];
        for r in &self.ring {
            for (s, v) in smooth.iter_mut().zip(r) {
                *s += v;
            }
        }
        smooth.iter_mut().for_each(|s| *s /= k);
        let Some(model) = &self.model else {
            self.calibration.push(smooth);
            if self.calibration.len() >= self.config.fit_rows {
                self.model = Some(Hotelling::fit(&self.calibration, self.config.confidence)?);
                self.calibration = Vec::new();
            }
            return Ok(None);
        };
        let score = model.score(&smooth)?;
        let ratio = score.t2 / model.ucl();
        let alpha = 2.0 / (self.config.span + 1.0);
        let ewma = match self.ewma {
            None => ratio,
            Some(e) => alpha * ratio + (1.0 - alpha) * e,
        };
        self.ewma = Some(ewma);
        Ok(Some(Verdict {
            ratio,
            ewma,
            alarm: ewma > self.config.threshold,
            score,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Deterministic standard normals (xorshift + Box–Muller).
    struct Gauss(u64);
    impl Gauss {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn next(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[test]
    fn f_quantile_and_ucl_match_reference_values() {
        // scipy.stats.f.ppf(0.999, 8, 392) = 3.3505…; FINDINGS.md §2.3: UCL 27.351.
        let q = f_quantile(0.999, 8.0, 392.0);
        assert!((q - 3.3505).abs() < 5e-4, "{q}");
        let u = ucl(8, 400, 0.999);
        assert!((u - 27.351).abs() < 5e-3, "{u}");
        // F(1, d2) = t²: F⁻¹(0.95; 1, 10) = 2.228139² = 4.9646.
        assert!((f_quantile(0.95, 1.0, 10.0) - 4.964_6).abs() < 1e-3);
        // F⁻¹(0.5; 2, 2) = 1 exactly (median of F(2,2)).
        assert!((f_quantile(0.5, 2.0, 2.0) - 1.0).abs() < 1e-9);
        assert!((beta_inc(2.0, 3.0, 0.4) - 0.5248).abs() < 1e-12);
    }

    #[test]
    fn pseudo_inverse_inverts_a_full_rank_matrix_and_handles_a_zero_direction() {
        let mut g = Gauss(7);
        let m = 8;
        let b: Vec<f64> = (0..m * m).map(|_| g.next()).collect();
        // a = bᵀb + I, symmetric positive definite.
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                a[i * m + j] = (0..m).map(|k| b[k * m + i] * b[k * m + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let inv = pinv_symmetric(&a, m);
        for i in 0..m {
            for j in 0..m {
                let p: f64 = (0..m).map(|k| a[i * m + k] * inv[k * m + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p - want).abs() < 1e-9, "({i},{j}) = {p}");
            }
        }
        // diag(2, 0, 4): pseudo-inverse diag(0.5, 0, 0.25).
        let d = [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0];
        let p = pinv_symmetric(&d, 3);
        let want = [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25];
        assert!(
            p.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{p:?}"
        );
    }

    #[test]
    fn contributions_sum_to_t2_and_constant_inputs_are_ignored() {
        let mut g = Gauss(11);
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|_| {
                let a = g.next();
                vec![a, a + 0.5 * g.next(), 5.0, g.next()]
            })
            .collect();
        let h = Hotelling::fit(&rows, 0.999).unwrap();
        let s = h.score(&[0.3, -0.2, 5.0, 1.0]).unwrap();
        let sum: f64 = s.contributions.iter().sum();
        assert!((sum - s.t2).abs() < 1e-9 && s.t2 > 0.0);
        assert!(s.contributions[2].abs() < 1e-12);
        // The constant input moving does not count (its direction has no variance).
        let s2 = h.score(&[0.3, -0.2, 9.0, 1.0]).unwrap();
        assert!(s2.t2.is_finite());
        assert!(matches!(
            h.score(&[1.0]),
            Err(HotellingError::Dimension {
                expected: 4,
                got: 1
            })
        ));
        assert!(Hotelling::fit(&rows[..4], 0.999).is_err());
    }

    #[test]
    fn detector_alarms_on_a_shift_and_names_the_shifted_input() {
        let mut g = Gauss(3);
        let mut det = Detector::new(DetectorConfig::default());
        let mut alarms_before = 0;
        let mut alarms_after = 0;
        let mut top_after = vec![0usize; 8];
        for t in 0..1000 {
            let common = g.next();
            let mut x: Vec<f64> = (0..8).map(|i| 0.6 * common + g.next() + i as f64).collect();
            if t >= 700 {
                x[5] += 6.0;
            }
            if let Some(v) = det.push(&x).unwrap() {
                assert!(t >= 400);
                if t < 700 {
                    alarms_before += usize::from(v.alarm);
                } else if t >= 750 {
                    alarms_after += usize::from(v.alarm);
                    top_after[v.score.top().unwrap()] += 1;
                }
            } else {
                assert!(t < 400);
            }
        }
        let ucl = det.model().unwrap().ucl();
        assert!((ucl - 27.351).abs() < 5e-3);
        assert_eq!(alarms_before, 0);
        assert_eq!(alarms_after, 250, "every row 50 s after the shift alarms");
        assert_eq!(top_after[5], 250, "{top_after:?}");
    }
}
