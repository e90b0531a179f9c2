"""SKAB outlier detection, leaderboard protocol: each labelled file split train_test_split(train_size=400,
shuffle=False); detector fitted on first 400 rows of that file only; binary predictions on the remaining rows;
TP/FP/FN/TN pooled over all files; F1 = TP/(TP+(FP+FN)/2), FAR = FP/(FP+TN)*100, MAR = FN/(FN+TP)*100
(waico/SKAB core/metrics.py chp_score(metric='binary')).  30 shared files (valve1 16 + other 14; valve2 held out).
"""
import numpy as np, glob, sys, itertools
from scipy import stats
D = '/work/shared/datasets/skab/'
FILES = sorted(glob.glob(D + 'valve1/*.csv')) + sorted(glob.glob(D + 'other/*.csv'))
NTR = 400

def load(f):
    a = np.genfromtxt(f, delimiter=';', skip_header=1, usecols=range(1, 11))
    return a[:, :8], a[:, 8]

DATA = [load(f) for f in FILES]

def metrics(ys, ps):
    TP = FP = FN = TN = 0
    for y, p in zip(ys, ps):
        y = y == 1; p = p == 1
        TP += (y & p).sum(); FP += (~y & p).sum(); FN += (y & ~p).sum(); TN += (~y & ~p).sum()
    return TP / (TP + (FN + FP) / 2), FP / (FP + TN) * 100, FN / (FN + TP) * 100

# ---------------- score functions: fit on Xtr (400x8), return (score on Xte, threshold-normalised) -------------
def std_fit(Xtr):
    mu = Xtr.mean(0); sd = Xtr.std(0, ddof=1); sd[sd < 1e-9] = 1
    return mu, sd

def t2q(Xtr, Xte, ev=0.85, p=0.999):
    """PCA T2 + Q(SPE) with SKAB's UCLs (F-distribution for T2, Jackson-Mudholkar for Q), StandardScaler on fit rows.
    Returns max(T2/UCL_T2, Q/UCL_Q): >1 means alarm under the OR rule."""
    mu, sd = std_fit(Xtr); Z = (Xtr - mu) / sd; Zt = (Xte - mu) / sd
    C = np.cov(Z.T); w, V = np.linalg.eigh(C); o = np.argsort(w)[::-1]; w, V = w[o], V[:, o]
    k = int(np.searchsorted(np.cumsum(w) / w.sum(), ev) + 1); k = min(k, Z.shape[1] - 1)
    P = V[:, :k]; n, m = Z.shape
    T = Zt @ P; t2 = (T ** 2 / w[:k]).sum(1)
    R = Zt - T @ P.T; q = (R ** 2).sum(1)
    ucl_t2 = k * (n - 1) * (n + 1) / (n * (n - k)) * stats.f.ppf(p, k, n - k)
    th = [np.sum(w[k:] ** i) for i in (1, 2, 3)]
    h0 = 1 - 2 * th[0] * th[2] / (3 * th[1] ** 2); ca = stats.norm.ppf(p)
    ucl_q = th[0] * (1 + ca * h0 * np.sqrt(2 * th[1]) / th[0] + th[1] * h0 * (h0 - 1) / th[0] ** 2) ** (1 / h0)
    return np.maximum(t2 / ucl_t2, q / ucl_q)

def hotelling(Xtr, Xte, p=0.999):
    mu, sd = std_fit(Xtr); Z = (Xtr - mu) / sd; Zt = (Xte - mu) / sd
    Ci = np.linalg.pinv(np.cov(Z.T)); n, m = Z.shape
    t2 = np.einsum('ij,jk,ik->i', Zt, Ci, Zt)
    return t2 / (m * (n - 1) * (n + 1) / (n * (n - m)) * stats.f.ppf(p, m, n - m))

def robust_z(Xtr, Xte):
    """max over sensors of |x-median|/(1.4826*MAD) (MAD floored at 1e-3*|median|+1e-9)."""
    med = np.median(Xtr, 0); mad = 1.4826 * np.median(np.abs(Xtr - med), 0)
    mad = np.maximum(mad, 1e-3 * np.abs(med) + 1e-9)
    return np.abs((Xte - med) / mad).max(1)

def mset(Xtr, Xte, nmem=100, h=None):
    """MSET/AAKR-like: memory D = nmem fit rows (min/max of each sensor + evenly spaced), z-scored; estimate
    x_hat = sum_i K(x,d_i) d_i / sum K, Gaussian kernel bandwidth h (default: median NN distance in fit set * 2);
    score = ||x - x_hat|| / q99 of the same on held-out half of fit rows."""
    mu, sd = std_fit(Xtr); Z = (Xtr - mu) / sd; Zt = (Xte - mu) / sd
    def est(Mem, Q, h):
        d2 = ((Q[:, None, :] - Mem[None]) ** 2).sum(2)
        K = np.exp(-d2 / (2 * h * h)); K /= K.sum(1, keepdims=True) + 1e-300
        return np.sqrt(((Q - K @ Mem) ** 2).sum(1))
    # calibration: memory from even rows, residual quantile on odd rows
    ev_, od = Z[::2], Z[1::2]
    d2 = ((ev_[:, None] - ev_[None]) ** 2).sum(2); np.fill_diagonal(d2, np.inf)
    hh = h if h else 2 * np.median(np.sqrt(d2.min(1)))
    cal = np.quantile(est(ev_, od, hh), 0.99)
    return est(Z, Zt, hh) / cal

def smooth_rule(s, thr, win, kind):
    """causal post-processing of score s: 'none' -> s>thr; 'med' -> rolling median over last win samples > thr;
    'ewma' -> EWMA alpha=2/(win+1) > thr."""
    if kind == 'none' or win <= 1:
        return (s > thr).astype(int)
    if kind == 'med':
        out = np.empty_like(s)
        for i in range(len(s)):
            out[i] = np.median(s[max(0, i - win + 1):i + 1])
        return (out > thr).astype(int)
    a = 2 / (win + 1); e = s[0]; out = np.empty_like(s)
    for i, v in enumerate(s):
        e = a * v + (1 - a) * e; out[i] = e
    return (out > thr).astype(int)

METHODS = {'T2+Q(PCA .85)': t2q, 'Hotelling T2': hotelling, 'robust z (max)': robust_z, 'MSET/AAKR': mset}

if __name__ == '__main__':
    ys = [y[NTR:] for X, y in DATA]
    S = {nm: [f(X[:NTR], X[NTR:]) for X, y in DATA] for nm, f in METHODS.items()}
    np.save('skab_scores.npy', {k: v for k, v in S.items()}, allow_pickle=True)
    print('all-ones detector: F1 %.3f FAR %.1f MAR %.1f' % metrics(ys, [np.ones_like(y) for y in ys]))
    # default rule: threshold 1 (=statistical UCL / calibrated quantile), no smoothing
    for nm in S:
        print('%-16s raw UCL rule (thr=1, no smoothing): F1 %.3f FAR %.1f MAR %.1f' % ((nm,) + metrics(ys, [(s > 1).astype(int) for s in S[nm]])))
    # grid over threshold multiplier and smoothing; pick on valve1 -> test on other and vice versa, and all
    grid = list(itertools.product([0.5, 1, 1.5, 2, 3, 5], [1, 5, 15, 30], ['med', 'ewma']))
    iv = [i for i, f in enumerate(FILES) if '/valve1/' in f]; io = [i for i, f in enumerate(FILES) if '/other/' in f]
    for nm in S:
        res = {}
        for thr, win, kind in grid:
            ps = [smooth_rule(s, thr, win, kind) for s in S[nm]]
            res[(thr, win, kind)] = ps
        def best(idx):
            return max(grid, key=lambda g: metrics([ys[i] for i in idx], [res[g][i] for i in idx])[0])
        gall = best(range(len(ys))); gv = best(iv); go = best(io)
        # cross-folder: predictions on 'other' with params chosen on valve1 and vice versa, pooled
        cross = [res[go][i] if i in iv else res[gv][i] for i in range(len(ys))]
        print('%-16s tuned-on-all %s: F1 %.3f FAR %.1f MAR %.1f | cross-folder (v1->other %s, other->v1 %s): F1 %.3f FAR %.1f MAR %.1f'
              % ((nm, gall) + metrics(ys, res[gall]) + (gv, go) + metrics(ys, cross)), flush=True)
