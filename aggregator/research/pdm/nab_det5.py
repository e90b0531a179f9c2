"""NAB round 5: replace the rolling-window z by an EWMA level/variance tracker (O(1) state per tag):
mu_t = mu + a*(x-mu), var_t = (1-a)*(var + a*(x-mu)^2); z uses mu,var before update. Then same likelihood/spatial/
seasonal/suppression as zlik."""
import numpy as np, itertools, time
from nab_det4 import *
from scipy.special import ndtr

def ewz(x, a):
    z = np.zeros(len(x)); mu = x[0]; var = 0.0
    for i in range(1, len(x)):
        d = x[i] - mu
        z[i] = abs(d) / max(np.sqrt(var), 1e-6) if i > 10 else 0.0
        mu += a * d; var = (1 - a) * (var + a * d * d)
    return z

def lik_from_r(r, short, L):
    cs = np.concatenate([[0], np.cumsum(r)]); i = np.arange(len(r))
    ms = (cs[i + 1] - cs[np.maximum(0, i + 1 - short)]) / np.minimum(i + 1, short)
    mu, sdl, nl = roll_prev_stats(r, L); sdl = np.maximum(sdl, 1e-3)
    p = 1 - ndtr((ms - mu) / sdl)
    return np.where(nl >= 20, -np.log10(np.maximum(p, 1e-300)), 0.0)

def ew_channels(f, a, short, L, sp, chans):
    x = X[f]; s = lik_from_r(np.minimum(ewz(x, a), 10), short, L)
    if sp > 0:
        i = np.arange(len(x)); cmax = np.maximum.accumulate(x); cmin = np.minimum.accumulate(x)
        pmax = np.concatenate([[x[0]], cmax[:-1]]); pmin = np.concatenate([[x[0]], cmin[:-1]]); span = pmax - pmin
        s = np.where(((x > pmax + sp * span) | (x < pmin - sp * span)) & (i > 20), 300.0, s)
    if 's' in chans and PER[f]:
        P = PER[f]; e = np.concatenate([np.zeros(P), x[P:] - x[:-P]]); se = zlik(e, 1000, short, L, 0); se[:2 * P] = 0
        s = np.maximum(s, se)
    return s

results = []; t0 = time.time()
for a, sp, ch in itertools.product([0.001, 0.003, 0.01, 0.03], [0.005], ['', 's']):
    SC = {f: ew_channels(f, a, 5, 20000, sp, ch) for f in FILES}
    for T, Ssup in itertools.product([4.5, 5, 5.5, 6, 7], [20, 50, 100]):
        B = {f: suppress(SC[f], T, Ssup) for f in FILES}
        results.append(((a, sp, ch, T, Ssup), raw(B, files_a), raw(B, files_b)))
print('(%.0fs)' % (time.time() - t0))
for r in sorted(results, key=lambda r: -(r[1] + r[2]))[:6]:
    print('ewma a,spatial,chans,T,S =', r[0], 'standard %.2f' % normalise(r[1] + r[2]))
ba = max(results, key=lambda r: r[1]); bb = max(results, key=lambda r: r[2])
cross = [r for r in results if r[0] == ba[0]][0][2] + [r for r in results if r[0] == bb[0]][0][1]
print('2-fold cross (A->B %s, B->A %s): standard %.2f' % (ba[0], bb[0], normalise(cross)))
