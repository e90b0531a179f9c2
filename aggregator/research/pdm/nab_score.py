"""Re-implementation of NAB v1.1 scoring (nab/sweeper.py + runner normalisation) in numpy.
Per file: probationary length = min(floor(0.15*n), 0.15*5000); rows in windows (combined_windows.json) get
weighted TP value scaledSigmoid(-(right-i+1)/width)/scaledSigmoid(-1)*tpW; rows outside windows get
fpW*scaledSigmoid(|i-prevRight|/(prevWidth-1)) (=-fpW before the first window); scaledSigmoid(x)=2/(1+e^{5x})-1,
-1 for x>=3.  Detection = anomaly_score >= threshold on a non-probationary row.  File score = sum of FP values
of all detections outside windows + for each (non-probationary) window: max TP value of its detections, else -fnW.
Corpus: one threshold for all files; normalised = 100*(raw-null)/(perfect-null), null=-fnW*116, perfect=116*tpW.
"""
import numpy as np, json, gzip, csv, glob, os, math
ND = '/work/shared/datasets/nab/'
PROFILES = {k: v['CostMatrix'] for k, v in json.load(open(ND + 'config/profiles.json')).items()}
WINDOWS = json.load(open(ND + 'labels/combined_windows.json'))
FILES = sorted(WINDOWS)

def ssig(x):
    return np.where(x >= 3.0, -1.0, 2 / (1 + np.exp(np.clip(5 * x, -50, 50))) - 1)

def load_series(f):
    rows = list(csv.reader(open(ND + 'data/' + f)))[1:]
    ts = np.array([r[0] for r in rows], dtype='datetime64[s]')
    v = np.array([float(r[1]) for r in rows])
    return ts, v

class FileScorer:
    def __init__(self, f, ts):
        n = len(ts); self.n = n
        prob = min(math.floor(0.15 * n), 0.15 * 5000)
        self.scorable = np.arange(n) >= prob
        win = np.full(n, -1); pos = np.full(n, np.nan); past = np.full(n, 3.0)
        wins = WINDOWS[f]
        prevR = None; prevW = None
        lims = []
        for k, (a, b) in enumerate(wins):
            ia = int(np.where(ts == np.datetime64(a[:19]))[0][0]); ib = int(np.where(ts == np.datetime64(b[:19]))[0][0])
            lims.append((ia, ib))
        self.nwin = len(lims)
        for k, (ia, ib) in enumerate(lims):
            width = ib - ia + 1
            idx = np.arange(ia, ib + 1)
            win[idx] = k; pos[idx] = -(ib - idx + 1) / width
        # FP positions relative to previous window
        k = 0; prevR = None
        for i in range(n):
            if win[i] >= 0:
                continue
            # previous window = last window whose right index < i
            while k < len(lims) and lims[k][1] < i:
                prevR, prevW = lims[k][1], lims[k][1] - lims[k][0] + 1; k += 1
            past[i] = 3.0 if prevR is None else abs(prevR - i) / float(prevW - 1)
        self.win = win; self.pos = pos; self.past = past
        # windows that contain at least one scorable row (others are invisible to NAB)
        self.win_scorable = [k for k in range(len(lims)) if np.any(self.scorable & (win == k))]

    def score(self, s, thr, prof):
        c = PROFILES[prof]; maxTP = ssig(np.array(-1.0))
        det = (s >= thr) & self.scorable
        fp = det & (self.win < 0)
        total = float((c['fpWeight'] * ssig(self.past[fp])).sum())
        tp = fn = 0
        for k in self.win_scorable:
            d = det & (self.win == k)
            if d.any():
                total += float((ssig(self.pos[d]) / maxTP * c['tpWeight']).max()); tp += 1
            else:
                total -= c['fnWeight']; fn += 1
        return total, tp, int(fp.sum()), fn

def corpus_score(scores, thr, prof='standard', scorers=None):
    tot = 0.0
    for f in FILES:
        tot += scorers[f].score(scores[f], thr, prof)[0]
    return tot

def normalise(raw, prof='standard'):
    c = PROFILES[prof]; nw = sum(len(v) for v in WINDOWS.values())
    null = -c['fnWeight'] * nw; perfect = c['tpWeight'] * nw
    return 100 * (raw - null) / (perfect - null)

def optimise(scores, scorers, prof='standard', cands=None):
    allv = np.concatenate([scores[f] for f in FILES])
    if cands is None:
        cands = np.unique(np.quantile(allv, np.linspace(0.90, 1.0, 201)))
    best = max(((corpus_score(scores, t, prof, scorers), t) for t in cands))
    return best

_SC = {}
def scorers():
    if not _SC:
        for f in FILES:
            ts, _ = load_series(f); _SC[f] = FileScorer(f, ts)
    return _SC

if __name__ == '__main__':
    import sys
    sc = scorers()
    for det in ['numenta', 'windowedGaussian', 'null']:
        stored = {}
        with gzip.open(ND + 'results/%s/%s_standard_scores.csv.gz' % (det, det), 'rt') as fh:
            for r in csv.DictReader(fh):
                if r['File'] in WINDOWS: stored[r['File']] = r
        thr = float(next(iter(stored.values()))['Threshold'])
        S = {}
        for f in FILES:
            cat, name = f.split('/')
            with gzip.open(ND + 'results/%s/%s/%s_%s.gz' % (det, cat, det, name), 'rt') as fh:
                S[f] = np.array([float(r['anomaly_score']) for r in csv.DictReader(fh)])
        raw = 0; maxdiff = 0
        for f in FILES:
            tot, tp, fp, fn = sc[f].score(S[f], thr, 'standard'); raw += tot
            maxdiff = max(maxdiff, abs(tot - float(stored[f]['Score'])))
            if abs(tot - float(stored[f]['Score'])) > 1e-6 or tp != int(stored[f]['TP']) and False:
                print('  diff', f, tot, stored[f]['Score'])
        print('%-17s thr %.6f raw %.4f (stored sum %.4f) normalised %.2f  max per-file diff %.2e' % (
            det, thr, raw, sum(float(r['Score']) for r in stored.values()), normalise(raw), maxdiff), flush=True)
