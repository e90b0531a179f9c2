"""Trajectory-similarity RUL (after Wang, Yu, Siegel, Lee, PHM08 winner, simplified).
1. Health index HI_t = ridge regression of min(RUL,125)/125 on the normalised raw sensors (one linear map).
2. Library: for every training engine, HI curve smoothed by a degree-3 polynomial fit in cycle (offline).
3. Query (an engine's HI history up to now, last M cycles): for each library engine and each alignment end k,
   d = mean((h_query - curve[k-M+1..k])^2); keep best k per library engine -> RUL candidate T_i - 1 - k.
4. Prediction = weighted mean of the K library engines with smallest d (weights exp(-d/ min d)), capped at 125.
"""
import numpy as np, sys, time
from cm_common import *
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold

def unit_raw(a, cols, mu, sd):
    return unit_series(a, cols, mu, sd)

def fit_hi(series, units):
    Xs = np.vstack([series[u] for u in units])
    ys = np.concatenate([np.minimum(len(series[u]) - 1 - np.arange(len(series[u])), CLIP) / CLIP for u in units])
    return Ridge(alpha=1.0).fit(Xs, ys)

def library(series, units, hi, deg=3):
    lib = []
    for u in units:
        h = hi.predict(series[u]); T = len(h); t = np.arange(T)
        c = np.polyval(np.polyfit(t / T, h, deg), t / T)
        lib.append(c)
    return lib

def predict(hq, lib, M=30, K=10, cap=CLIP):
    """hq: HI history of the query engine (raw, unsmoothed)."""
    q = hq[-M:]; m = len(q)
    L = len(hq)
    ds, ruls = [], []
    for c in lib:
        T = len(c)
        qq = q[-T:] if T < m else q; mm = len(qq)
        # ends k from max(m-1, L-1 - slack)?  allow any alignment end k >= m-1
        from numpy.lib.stride_tricks import sliding_window_view
        W = sliding_window_view(c, mm)             # (T-m+1, m) windows, window j ends at k=j+m-1
        d = ((W - qq) ** 2).mean(1)
        j = int(np.argmin(d))
        ds.append(d[j]); ruls.append(T - 1 - (j + mm - 1))
    ds = np.array(ds); ruls = np.array(ruls, float)
    o = np.argsort(ds)[:K]
    w = np.exp(-ds[o] / max(ds[o][0], 1e-9))
    return min(float((w * ruls[o]).sum() / w.sum()), cap)

if __name__ == '__main__':
    fd = sys.argv[1] if len(sys.argv) > 1 else 'FD001'
    tr = load('train_%s.txt' % fd); cols = sensor_cols(tr)
    mu, sd = tr[:, cols].mean(0), tr[:, cols].std(0)
    S = unit_raw(tr, cols, mu, sd); units = np.array(sorted(S))
    rng = np.random.default_rng(0)
    # same test-like truncations as cm_exp.py are not reproduced exactly; use own seeded cuts
    cuts = {}
    for u in units:
        T = len(S[u]); L = np.arange(1, T + 1); rul = T - L
        ok = np.where((L >= 31) & (rul >= 7) & (rul <= 145))[0]
        cuts[u] = L[rng.choice(ok, 10, replace=False)]
    grid = [(M, K) for M in [30, 60, 1000] for K in [5, 15]]
    res = {gk: ([], []) for gk in grid}
    t0 = time.time()
    for tri, vai in GroupKFold(5).split(units, units, units):
        hi = fit_hi(S, units[tri]); lib = library(S, units[tri], hi)
        for u in units[vai]:
            h = hi.predict(S[u])
            for L in cuts[u]:
                for gk in grid:
                    res[gk][0].append(predict(h[:L], lib, *gk)); res[gk][1].append(len(h) - L)
    best = None
    for gk in grid:
        p, yy = np.array(res[gk][0]), np.array(res[gk][1])
        r = rmse(p, yy); print('sim M=%d K=%d test-like rmse %.2f score/100 %.0f' % (gk[0], gk[1], r, phm(p, yy) / len(p) * 100), flush=True)
        if best is None or r < best[0]: best = (r, gk)
    print('cv time %.1fs best' % (time.time() - t0), best)
    if fd == 'FD001':
        te = load('test_FD001.txt'); St = unit_raw(te, cols, mu, sd); yt = np.loadtxt(D + 'RUL_FD001.txt')
        hi = fit_hi(S, units); lib = library(S, units, hi)
        p = np.array([predict(hi.predict(St[u]), lib, *best[1]) for u in sorted(St)])
        np.save('testpred_FD001_sim.npy', p)
        print('TEST sim M=%d K=%d rmse %.2f score %.1f' % (best[1][0], best[1][1], rmse(p, yt), phm(p, yt)))
