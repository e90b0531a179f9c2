"""Feature-group ablation (CV only, fast HGB config lr .1/150 it/7 leaves/msl 200)."""
import numpy as np, sys
from cm_exp import *
m = X.shape[1] // 5  # number of sensors; layout: last, mean, slope, ewma, ewma-baseline (m each), cycle
groups = {'last': range(0, m), 'mean': range(m, 2*m), 'slope': range(2*m, 3*m), 'ewma': range(3*m, 4*m),
          'ewma-baseline': range(4*m, 5*m), 'cycle': [5*m]}
mk = lambda: HistGradientBoostingRegressor(learning_rate=0.1, max_iter=150, max_leaf_nodes=7, min_samples_leaf=200, l2_regularization=1.0, early_stopping=False, random_state=0)
cv(mk, name='all features')
for gname, idx in groups.items():
    keep = [j for j in range(X.shape[1]) if j not in set(idx)]
    cv(mk, Xf=X[:, keep], name='without %s' % gname)
keep = list(groups['mean']) + list(groups['slope']) + list(groups['ewma'])
cv(mk, Xf=X[:, keep], name='only mean+slope+ewma')
