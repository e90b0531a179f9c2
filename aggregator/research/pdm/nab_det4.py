"""NAB round 4: extra channels = first difference and/or seasonal (daily) difference x_t - x_{t-P},
P = samples per day from the file's median sampling interval (only if the file covers >= 3 days)."""
import numpy as np, itertools, time, pickle
from nab_det import *
sc = scorers()
TS = {f: load_series(f) for f in FILES}
X = {f: TS[f][1] for f in FILES}
def period(f):
    ts = TS[f][0]; dt = np.median(np.diff(ts).astype('timedelta64[s]').astype(float))
    P = int(round(86400 / dt)); return P if len(ts) >= 3 * P else 0
PER = {f: period(f) for f in FILES}
files_a = FILES[::2]; files_b = FILES[1::2]
def raw(S, files, prof='standard'):
    return sum(sc[f].score(S[f], 0.5, prof)[0] for f in files)
def channels(f, W, short, L, sp, chans):
    x = X[f]; s = zlik(x, W, short, L, sp)
    if 'd' in chans:
        d = np.concatenate([[0], np.diff(x)]); s = np.maximum(s, zlik(d, W, short, L, 0))
    if 's' in chans and PER[f]:
        P = PER[f]; e = np.concatenate([np.zeros(P), x[P:] - x[:-P]]); se = zlik(e, W, short, L, 0); se[:2 * P] = 0
        s = np.maximum(s, se)
    return s
if __name__ == '__main__':
    results = []; t0 = time.time()
    for W, L, short, sp, ch in itertools.product([1000], [20000], [5], [0.005, 0.01], ['', 'd', 's', 'ds']):
        SC = {f: channels(f, W, short, L, sp, ch) for f in FILES}
        for T, Ssup in itertools.product([4.5, 5, 5.5, 6, 7], [20, 50, 100]):
            B = {f: suppress(SC[f], T, Ssup) for f in FILES}
            results.append(((W, L, short, sp, ch, T, Ssup), raw(B, files_a), raw(B, files_b)))
    print('(%.0fs)' % (time.time() - t0))
    for r in sorted(results, key=lambda r: -(r[1] + r[2]))[:8]:
        print('W,L,short,spatial,chans,T,S =', r[0], 'standard %.2f' % normalise(r[1] + r[2]))
    for ch in ['', 'd', 's', 'ds']:
        b = max([r for r in results if r[0][4] == ch], key=lambda r: r[1] + r[2]); print('best with chans=%r: %.2f %s' % (ch, normalise(b[1] + b[2]), b[0]))
    ba = max(results, key=lambda r: r[1]); bb = max(results, key=lambda r: r[2])
    cross = [r for r in results if r[0] == ba[0]][0][2] + [r for r in results if r[0] == bb[0]][0][1]
    print('2-fold cross (A->B %s, B->A %s): standard %.2f' % (ba[0], bb[0], normalise(cross)))
