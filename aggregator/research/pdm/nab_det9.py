"""Memory-light variant (step size max(1/Lf, 1/(i+1))) of the winner: the L=20000 rolling mean/std of r replaced by exponential forgetting
(mu += a*(r-mu); var = (1-a)*(var + a*(r-mu_old)^2), a = 1/Lf), statistics taken before the update."""
import numpy as np, itertools
exec(open('nab_det7.py').read().split("W, L, short, sp = 1000, 20000, 5, 0.005")[0])
from scipy.special import ndtr
def ew_prev_stats(r, a):
    mu = np.zeros(len(r)); sd = np.zeros(len(r)); m = 0.0; v = 0.0
    for i in range(len(r)):
        mu[i] = m; sd[i] = np.sqrt(v)
        d = r[i] - m
        b = max(a, 1.0 / (i + 1))          # exact running mean/var until i+1 = Lf, then exponential forgetting
        m += b * d; v = (1 - b) * (v + b * d * d)
    return mu, sd
def zlik_ew(x, W, short, a, sp):
    m, sd, n = roll_prev_stats(x, W); sd = np.maximum(sd, 1e-6)
    r = np.minimum(np.where(n >= 2, np.abs(x - m) / sd, 0.0), 10)
    cs = np.concatenate([[0], np.cumsum(r)]); i = np.arange(len(r))
    ms = (cs[i + 1] - cs[np.maximum(0, i + 1 - short)]) / np.minimum(i + 1, short)
    mu, sdl = ew_prev_stats(r, a); sdl = np.maximum(sdl, 1e-3)
    p = 1 - ndtr((ms - mu) / sdl)
    sc = np.where(i >= 20, -np.log10(np.maximum(p, 1e-300)), 0.0)
    if sp > 0:
        cmax = np.maximum.accumulate(x); cmin = np.minimum.accumulate(x)
        pmax = np.concatenate([[x[0]], cmax[:-1]]); pmin = np.concatenate([[x[0]], cmin[:-1]]); span = pmax - pmin
        sc = np.where(((x > pmax + sp * span) | (x < pmin - sp * span)) & (i > 20), 300.0, sc)
    return sc
for Lf in [2000, 5000, 20000]:
    a = 1.0 / Lf; M = {}; SS = {}; DD = {}
    for f in FILES:
        x = X[f]; M[f] = zlik_ew(x, 1000, 5, a, 0.005)
        DD[f] = zlik_ew(np.concatenate([[0], np.diff(x)]), 1000, 5, a, 0)
        if PER[f]:
            P = PER[f]; e = np.concatenate([np.zeros(P), x[P:] - x[:-P]]); s = zlik_ew(e, 1000, 5, a, 0); s[:2 * P] = 0; SS[f] = s
        else: SS[f] = np.zeros(len(x))
    for T, Ts, Td, S in [(5, 10, 5, 30), (5, 10, np.inf, 30)]:
        B = {f: supp_bool((M[f] >= T) | (SS[f] >= Ts) | (DD[f] >= Td), S) for f in FILES}
        print('forgetting Lf=%d cfg %s: standard %.2f' % (Lf, (T, Ts, Td, S), normalise(raw(B, FILES))), flush=True)
