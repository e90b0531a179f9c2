"""SKAB round 2: causal input smoothing (rolling mean over last w rows, applied to fit and test rows alike),
ensembles of normalised scores, and post-smoothing + threshold chosen cross-folder."""
import numpy as np, itertools
from skab import *

def roll(X, w):
    if w <= 1: return X
    c = np.cumsum(np.vstack([np.zeros((1, X.shape[1])), X]), 0)
    i = np.arange(1, len(X) + 1); lo = np.maximum(0, i - w)
    return (c[i] - c[lo]) / (i - lo)[:, None]

ys = [y[NTR:] for X, y in DATA]
iv = [i for i, f in enumerate(FILES) if '/valve1/' in f]; io = [i for i, f in enumerate(FILES) if '/other/' in f]
grid = list(itertools.product([0.5, 0.75, 1, 1.5, 2, 3], [1, 5, 15, 30, 60], ['ewma']))
def evaluate(nm, S):
    res = {g: [smooth_rule(s, *g) for s in S] for g in grid}
    def best(idx):
        return max(grid, key=lambda g: metrics([ys[i] for i in idx], [res[g][i] for i in idx])[0])
    gall = best(range(len(ys))); gv = best(iv); go = best(io)
    cross = [res[go][i] if i in iv else res[gv][i] for i in range(len(ys))]
    print('%-28s thr1: F1 %.3f FAR %.1f MAR %.1f | tuned-all %s: F1 %.3f FAR %.1f MAR %.1f | cross (%s / %s): F1 %.3f FAR %.1f MAR %.1f'
          % ((nm,) + metrics(ys, [(s > 1).astype(int) for s in S]) + (gall,) + metrics(ys, res[gall]) + (gv, go) + metrics(ys, cross)), flush=True)

for w in [1, 5, 10]:
    S = {}
    for nm in ['T2+Q(PCA .85)', 'Hotelling T2', 'MSET/AAKR']:
        f = METHODS[nm]
        S[nm] = []
        for X, y in DATA:
            Xs = roll(X, w)
            S[nm].append(f(Xs[:NTR], Xs[NTR:]))
        evaluate('w=%d %s' % (w, nm), S[nm])
    ens = [(a + b + c) / 3 for a, b, c in zip(S['T2+Q(PCA .85)'], S['Hotelling T2'], S['MSET/AAKR'])]
    evaluate('w=%d ens(T2Q,T2,MSET)' % w, ens)
    ens2 = [(a + c) / 2 for a, c in zip(S['T2+Q(PCA .85)'], S['MSET/AAKR'])]
    evaluate('w=%d ens(T2Q,MSET)' % w, ens2)
