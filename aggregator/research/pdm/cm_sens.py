"""Sensitivity (NOT selection): FD001 test figures for every HGB config of the CV grid, plus HGB+ridge blend
weight chosen by CV."""
import numpy as np
from cm_exp import *
cands = [(0.1, 150, 15, 50), (0.05, 300, 15, 100), (0.1, 150, 7, 200)]
for lr, it, leaf, msl in cands:
    test_eval(lambda: HistGradientBoostingRegressor(learning_rate=lr, max_iter=it, max_leaf_nodes=leaf,
              min_samples_leaf=msl, l2_regularization=1.0, early_stopping=False, random_state=0), 'hgb %s' % str((lr, it, leaf, msl)))
ph = np.load('cvpred_%s_hgb.npy' % fd); pr = np.load('cvpred_%s_ridge.npy' % fd)
for w in [0, 0.1, 0.2, 0.3]:
    p = (1 - w) * ph + w * pr
    print('blend w_ridge=%.1f CV test-like rmse %.2f score/100 %.0f' % (w, rmse(p[tl], rul[tl]), phm(p[tl], rul[tl]) / tl.sum() * 100))
if fd == 'FD001':
    th = np.load('testpred_FD001_hgb.npy'); ts = np.load('testpred_FD001_sim.npy'); yt = np.loadtxt(D + 'RUL_FD001.txt')
    for w in [0.2, 0.5]:
        p = (1 - w) * th + w * ts; print('(info only) test hgb+sim w=%.1f rmse %.2f score %.1f' % (w, rmse(p, yt), phm(p, yt)))
