"""NAB round 2: wider grid + extra channel on first differences (max of both scores)."""
import numpy as np, itertools, time, pickle
from nab_det import *
sc = scorers()
X = {f: load_series(f)[1] for f in FILES}
files_a = FILES[::2]; files_b = FILES[1::2]
def raw(S, files, prof='standard'):
    return sum(sc[f].score(S[f], 0.5, prof)[0] for f in files)
results = []; t0 = time.time()
for W, L, short, sp, dif in itertools.product([1000, 3000], [8000, 20000], [5, 8], [0.0, 0.005, 0.01, 0.02], [0, 1]):
    SC = {}
    for f in FILES:
        s = zlik(X[f], W, short, L, sp)
        if dif:
            d = np.concatenate([[0], np.diff(X[f])]); s = np.maximum(s, zlik(d, W, short, L, 0))
        SC[f] = s
    for T, Ssup in itertools.product([4, 4.5, 5, 5.5, 6], [20, 50, 100, 150]):
        B = {f: suppress(SC[f], T, max(Ssup, 1)) for f in FILES}
        results.append(((W, L, short, sp, dif, T, Ssup), raw(B, files_a), raw(B, files_b)))
    best = max(results, key=lambda r: r[1] + r[2])
print('(%.0fs)' % (time.time() - t0))
pickle.dump(results, open('nab_grid3.pkl', 'wb'))
for r in sorted(results, key=lambda r: -(r[1] + r[2]))[:10]:
    print('W,L,short,spatial,diff,T,S =', r[0], 'standard %.2f' % normalise(r[1] + r[2]))
ba = max(results, key=lambda r: r[1]); bb = max(results, key=lambda r: r[2])
cross = [r for r in results if r[0] == ba[0]][0][2] + [r for r in results if r[0] == bb[0]][0][1]
print('2-fold cross (A->B %s, B->A %s): standard %.2f' % (ba[0], bb[0], normalise(cross)))
