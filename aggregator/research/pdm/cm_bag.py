"""Bagging over engines: average of B HGBs each trained on a bootstrap sample of training engines (grouped)."""
import numpy as np
from cm_exp import *
class BagHGB:
    def __init__(self, B=5, seed=0, groups=None):
        self.B = B; self.seed = seed
    def fit(self, Xf, yf, gf):
        rng = np.random.default_rng(self.seed); us = np.unique(gf); self.ms = []
        for b in range(self.B):
            pick = rng.choice(us, len(us), replace=True)
            idx = np.concatenate([np.where(gf == u)[0] for u in pick])
            m = HistGradientBoostingRegressor(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=100,
                                              l2_regularization=1.0, early_stopping=False, random_state=b)
            self.ms.append(m.fit(Xf[idx], yf[idx]))
        return self
    def predict(self, Xf):
        return np.mean([m.predict(Xf) for m in self.ms], 0)
P = np.zeros(len(y))
for trn, val in GroupKFold(5).split(X, y, g):
    P[val] = np.clip(BagHGB().fit(X[trn], y[trn], g[trn]).predict(X[val]), 0, CLIP)
print('%s bag5 HGB CV test-like rmse %.2f score/100 %.0f' % (fd, rmse(P[tl], rul[tl]), phm(P[tl], rul[tl]) / tl.sum() * 100), flush=True)
if fd == 'FD001':
    Xt, _, _ = build(te, cols, mu, sd, last_only=True); yt = np.loadtxt(D + 'RUL_FD001.txt')
    p = np.clip(BagHGB().fit(X, y, g).predict(Xt), 0, CLIP)
    print('TEST bag5 HGB rmse %.2f score %.1f' % (rmse(p, yt), phm(p, yt)))
