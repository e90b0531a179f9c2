"""Restricted family without the first-difference channel (T_diff = inf): best and 2-fold CV."""
import numpy as np, itertools
exec(open('nab_det7.py').read().split("results = []")[0])
results = []
for T, Ts, S in itertools.product([4.5, 5, 5.5], [6, 7, 8, 10, 15, 30, 99, np.inf], [10, 20, 30, 50]):
    B = {f: supp_bool((M[f] >= T) | (SS[f] >= Ts), S) for f in FILES}
    results.append(((T, Ts, S), raw(B, files_a), raw(B, files_b)))
best = max(results, key=lambda r: r[1] + r[2])
ba = max(results, key=lambda r: r[1]); bb = max(results, key=lambda r: r[2])
cross = [r for r in results if r[0] == ba[0]][0][2] + [r for r in results if r[0] == bb[0]][0][1]
print('no-diff family: best (T_main, T_seasonal, S) =', best[0], 'standard %.2f' % normalise(best[1] + best[2]))
print('2-fold cross (A->B %s, B->A %s): standard %.2f' % (ba[0], bb[0], normalise(cross)))
T, Ts, S = best[0]
B = {f: supp_bool((M[f] >= T) | (SS[f] >= Ts), S) for f in FILES}
print(' '.join('%s %.2f' % (p, normalise(sum(sc[f].score(B[f], 0.5, p)[0] for f in FILES), p)) for p in ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']))
mt = 'realKnownCause/machine_temperature_system_failure.csv'; print('machine_temperature raw/TP/FP/FN', sc[mt].score(B[mt], 0.5, 'standard'))
