"""SKAB winner as a standalone streaming-style implementation + sensitivity around the chosen point."""
import numpy as np
from scipy import stats
from skab import DATA, FILES, NTR, metrics

def detector(X, w=10, span=15, k=3.0, p=0.999):
    # 1. causal rolling mean of the inputs over the last w rows
    c = np.cumsum(np.vstack([np.zeros((1, X.shape[1])), X]), 0); i = np.arange(1, len(X) + 1); lo = np.maximum(0, i - w)
    Xs = (c[i] - c[lo]) / (i - lo)[:, None]
    F = Xs[:NTR]; n, m = F.shape
    mu = F.mean(0); sd = F.std(0, ddof=1); sd[sd < 1e-9] = 1
    Z = (F - mu) / sd; Ci = np.linalg.pinv(np.cov(Z.T))
    ucl = m * (n - 1) * (n + 1) / (n * (n - m)) * stats.f.ppf(p, m, n - m)
    a = 2 / (span + 1); e = None; out = []
    for x in Xs[NTR:]:                      # streaming part
        z = (x - mu) / sd; r = z @ Ci @ z / ucl
        e = r if e is None else a * r + (1 - a) * e
        out.append(1 if e > k else 0)
    return np.array(out)

ys = [y[NTR:] for X, y in DATA]
print('winner w=10 span=15 k=3: F1 %.3f FAR %.1f MAR %.1f' % metrics(ys, [detector(X) for X, y in DATA]))
iv = [i for i, f in enumerate(FILES) if '/valve1/' in f]; io = [i for i, f in enumerate(FILES) if '/other/' in f]
P = [detector(X) for X, y in DATA]
print('  valve1 only: F1 %.3f FAR %.1f MAR %.1f' % metrics([ys[i] for i in iv], [P[i] for i in iv]))
print('  other only : F1 %.3f FAR %.1f MAR %.1f' % metrics([ys[i] for i in io], [P[i] for i in io]))
for w, span, k in [(10, 15, 2.5), (10, 15, 4), (10, 10, 3), (10, 30, 3), (5, 15, 3), (20, 15, 3), (20, 30, 4)]:
    print('sensitivity w=%d span=%d k=%.1f: F1 %.3f FAR %.1f MAR %.1f' % ((w, span, k) + metrics(ys, [detector(X, w, span, k) for X, y in DATA])))
