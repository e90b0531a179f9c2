import numpy as np, gzip, csv
from nab_det4 import *
B = {f: suppress(channels(f, 1000, 20000, 5, 0.005, 's'), 5, 20) for f in FILES}
stored = {}
with gzip.open(ND + 'results/numenta/numenta_standard_scores.csv.gz', 'rt') as fh:
    for r in csv.DictReader(fh):
        stored[r['File']] = r
cats = {}
for f in FILES:
    tot, tp, fp, fn = sc[f].score(B[f], 0.5, 'standard')
    c = f.split('/')[0]; a = cats.setdefault(c, [0, 0, 0, 0, 0, 0, 0])
    a[0] += tot; a[1] += float(stored[f]['Score']); a[2] += tp; a[3] += fp; a[4] += fn
    a[5] += int(stored[f]['FP']); a[6] += len(WINDOWS[f])
for c, a in cats.items():
    print('%-22s ours %.2f numenta %.2f | ours TP %d FP %d FN %d | windows %d' % (c, a[0], a[1], a[2], a[3], a[4], a[6]))
