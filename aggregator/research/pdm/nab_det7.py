"""NAB round 7 (finer grid of round 6; np.inf = channel disabled): separate thresholds per channel (main z+spatial, daily-seasonal difference, first difference)."""
import numpy as np, itertools, time
from nab_det4 import *
def supp_bool(a, S):
    out = np.zeros(len(a)); nxt = -1
    for i in np.where(a)[0]:
        if i >= nxt: out[i] = 1; nxt = i + S
    return out
W, L, short, sp = 1000, 20000, 5, 0.005
M = {}; SS = {}; DD = {}
for f in FILES:
    x = X[f]; M[f] = zlik(x, W, short, L, sp)
    d = np.concatenate([[0], np.diff(x)]); DD[f] = zlik(d, W, short, L, 0)
    if PER[f]:
        P = PER[f]; e = np.concatenate([np.zeros(P), x[P:] - x[:-P]]); s = zlik(e, W, short, L, 0); s[:2 * P] = 0; SS[f] = s
    else:
        SS[f] = np.zeros(len(x))
results = []; t0 = time.time()
for T, Ts, Td, S in itertools.product([4.5, 5, 5.5], [6, 7, 8, 10, 15, 30, 99, np.inf], [5, 99, np.inf], [10, 20, 30]):
    B = {f: supp_bool((M[f] >= T) | (SS[f] >= Ts) | (DD[f] >= Td), S) for f in FILES}
    results.append(((T, Ts, Td, S), raw(B, files_a), raw(B, files_b)))
print('(%.0fs)' % (time.time() - t0))
for r in sorted(results, key=lambda r: -(r[1] + r[2]))[:8]:
    print('T_main,T_seasonal,T_diff,S =', r[0], 'standard %.2f' % normalise(r[1] + r[2]))
ba = max(results, key=lambda r: r[1]); bb = max(results, key=lambda r: r[2])
cross = [r for r in results if r[0] == ba[0]][0][2] + [r for r in results if r[0] == bb[0]][0][1]
print('2-fold cross (A->B %s, B->A %s): standard %.2f' % (ba[0], bb[0], normalise(cross)))
best = max(results, key=lambda r: r[1] + r[2])[0]
T, Ts, Td, S = best
B = {f: supp_bool((M[f] >= T) | (SS[f] >= Ts) | (DD[f] >= Td), S) for f in FILES}
print('BEST', best, ' '.join('%s %.2f' % (p, normalise(sum(sc[f].score(B[f], 0.5, p)[0] for f in FILES), p)) for p in ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']))
mt = 'realKnownCause/machine_temperature_system_failure.csv'; print('machine_temperature raw/TP/FP/FN', sc[mt].score(B[mt], 0.5, 'standard'))
print('alarms in corpus', int(sum(B[f].sum() for f in FILES)))
