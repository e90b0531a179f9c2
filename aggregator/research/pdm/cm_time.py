import time, numpy as np
from cm_exp import *
t0 = time.time(); Xa, _, _ = build(tr, cols, mu, sd); t1 = time.time()
m = HistGradientBoostingRegressor(learning_rate=0.1, max_iter=150, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0, random_state=0)
m.fit(X, y); t2 = time.time(); m.predict(X[:1000]); t3 = time.time()
print('features %d rows x %d cols in %.1fs; HGB fit %.1fs (wall, shared 2-core box, load ~10); predict 1000 rows %.3fs' % (X.shape[0], X.shape[1], t1 - t0, t2 - t1, t3 - t2))
print('n trees', m.n_iter_)
