"""C-MAPSS common code: loading, feature extraction (online-computable), metrics."""
import numpy as np
D = '/work/shared/datasets/cmapss/'
COLS = ['unit', 'cycle', 'set1', 'set2', 'set3'] + ['s%d' % i for i in range(1, 22)]
CLIP = 125

def load(name):
    a = np.loadtxt(D + name)
    return a

def sensor_cols(train):
    """Drop (near-)constant channels: keep sensor columns (s1..s21) with >= 5 distinct values
    and std>1e-6. Settings are not used (single operating condition in FD001/FD003)."""
    keep = []
    for j in range(5, 26):
        v = train[:, j]
        if len(np.unique(v)) >= 5 and v.std() > 1e-6:
            keep.append(j)
    return keep

def rmse(p, y):
    return float(np.sqrt(np.mean((p - y) ** 2)))

def phm(p, y):
    d = p - y
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))

def unit_series(a, cols, mu, sd):
    out = {}
    for u in np.unique(a[:, 0]).astype(int):
        r = a[a[:, 0] == u]
        out[u] = (r[:, cols] - mu) / sd
    return out

def feats_for_unit(X, W=30, alpha=0.1, base_n=20, ends=None):
    """X: (T, m) normalised sensors of one engine, cycles 1..T.  Returns features for each end index t
    (0-based, inclusive) in `ends` (default all).  Every feature is computable incrementally:
      last value, mean over last W, OLS slope over last W, EWMA(alpha) over whole history,
      EWMA minus mean of the engine's first base_n cycles (own baseline), cycle number."""
    T, m = X.shape
    if ends is None:
        ends = np.arange(T)
    # EWMA over history (initialised with first value)
    E = np.empty_like(X)
    e = X[0].copy()
    for t in range(T):
        e = alpha * X[t] + (1 - alpha) * e if t else e
        E[t] = e
    base = X[:base_n].mean(0)
    F = []
    for t in ends:
        lo = max(0, t - W + 1)
        w = X[lo:t + 1]
        n = len(w)
        mean = w.mean(0)
        if n > 1:
            tt = np.arange(n) - (n - 1) / 2
            slope = (tt[:, None] * (w - mean)).sum(0) / (tt ** 2).sum()
        else:
            slope = np.zeros(m)
        bl = X[:min(base_n, t + 1)].mean(0)
        F.append(np.concatenate([X[t], mean, slope, E[t], E[t] - bl, [t + 1]]))
    return np.array(F)

def build(a, cols, mu, sd, last_only=False, **kw):
    S = unit_series(a, cols, mu, sd)
    Xs, ys, gs = [], [], []
    for u, X in S.items():
        T = len(X)
        ends = np.array([T - 1]) if last_only else np.arange(T)
        Xs.append(feats_for_unit(X, ends=ends, **kw))
        ys.append(T - 1 - ends)  # RUL if trajectory ends at failure
        gs.append(np.full(len(ends), u))
    return np.vstack(Xs), np.concatenate(ys).astype(float), np.concatenate(gs)
