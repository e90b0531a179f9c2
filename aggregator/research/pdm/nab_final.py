"""Final NAB figures for the chosen detector (all three profiles) + per-file score on machine_temperature."""
import numpy as np
from nab_det4 import *
for cfg in [(1000, 20000, 5, 0.005, 's', 5, 20), (1000, 20000, 5, 0.005, '', 5, 20), (1000, 20000, 5, 0.0, '', 5, 20)]:
    W, L, short, sp, ch, T, S = cfg
    B = {f: suppress(channels(f, W, short, L, sp, ch), T, S) for f in FILES}
    out = []
    for prof in ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']:
        out.append(normalise(sum(sc[f].score(B[f], 0.5, prof)[0] for f in FILES), prof))
    mt = 'realKnownCause/machine_temperature_system_failure.csv'
    tot, tp, fp, fn = sc[mt].score(B[mt], 0.5, 'standard')
    ndet = int(sum(B[f].sum() for f in FILES))
    print('cfg W,L,short,spatial,chans,T,S=%s: standard %.2f lowFP %.2f lowFN %.2f | machine_temperature raw %.2f (TP %d FP %d FN %d) | alarms in corpus %d'
          % ((cfg,) + tuple(out) + (tot, tp, fp, fn, ndet)))
