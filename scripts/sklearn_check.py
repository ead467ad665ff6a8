#!/usr/bin/env python3
"""Side-by-side check of `lapse train` against scikit-learn (issue 3's bar).

Usage (from the repository root, after `make build`):

    /usr/bin/python3 scripts/sklearn_check.py WORKDIR -- TRAIN_ARGS...

TRAIN_ARGS are `lapse train` flags without --store and --report-dir, e.g.
`--events run/sample_events.csv --horizon 30d`. The script

1. runs `bin/lapse train TRAIN_ARGS --report-dir WORKDIR/report` (no
   store: evaluation only) and reads the chosen models' out-of-time AUC and log loss
   from WORKDIR/report/report.json;
2. runs `bin/lapse features` with the same input flags at every cutoff the
   report lists (the fitting snapshots and T1), with --horizon, so that the
   rows and features are the ones lapse used (eligible users, labels from
   [c, c+H));
3. fits scikit-learn's HistGradientBoostingClassifier with default settings
   on every user of the fitting snapshots (lapse fits on 60% of them and
   early-stops and calibrates on 20% more, so sklearn sees more rows) and
   evaluates it on the T1 rows;
4. prints the table and whether lapse meets the bar: AUC >= sklearn's −
   0.005 and log loss <= 1.01 × sklearn's.

Needs Debian's python3-sklearn (apt-get install -y python3-sklearn).
"""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score

LAPSE = os.environ.get("LAPSE", "bin/lapse")

# Flags of `lapse train` that `lapse features` does not take.
TRAIN_ONLY = {"--snapshots": 1, "--seed": 1, "--k": 1, "--min-users": 1, "--min-class": 1,
              "--exclude-anomalies": 0, "--no-activate": 0}


def features_args(train_args):
    out, i = [], 0
    while i < len(train_args):
        a = train_args[i]
        name = a.split("=", 1)[0]
        if name in TRAIN_ONLY:
            i += 1 if "=" in a or TRAIN_ONLY[name] == 0 else 2
            continue
        if name == "--as-of":
            i += 1 if "=" in a else 2
            continue
        out.append(a)
        i += 1
    return out


def read(path, cols=None):
    with open(path) as f:
        r = csv.reader(f)
        head = next(r)
        rows = list(r)
    idx = {n: j for j, n in enumerate(head)}
    names = cols or [n for n in head if n not in ("user_id", "churn", "propensity")]
    X = np.zeros((len(rows), len(names)))
    for k, n in enumerate(names):
        if n in idx:
            j = idx[n]
            X[:, k] = [float(row[j]) for row in rows]
    y = {t: np.array([float(row[idx[t]]) for row in rows]) for t in ("churn", "propensity")}
    return names, X, y


def main():
    if "--" not in sys.argv or len(sys.argv) < 4:
        sys.exit(__doc__)
    work = sys.argv[1]
    train_args = sys.argv[sys.argv.index("--") + 1:]
    os.makedirs(work, exist_ok=True)
    rep_dir = os.path.join(work, "report")
    subprocess.run([LAPSE, "train", *train_args, "--report-dir", rep_dir],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(rep_dir, "report.json")) as f:
        rep = json.load(f)
    H = "%dd" % rep["horizon_days"]
    fit_dates = [c["date"] for c in rep["cutoffs"] if c["role"] == "fit"]
    t1 = [c["date"] for c in rep["cutoffs"] if c["role"] == "out_of_time"][0]
    fargs = features_args(train_args)
    paths = {}
    for d in fit_dates + [t1]:
        p = os.path.join(work, "features_%s.csv" % d[:10])
        subprocess.run([LAPSE, "features", *fargs, "--as-of", d, "--horizon", H, "--out", p],
                       check=True, stderr=subprocess.DEVNULL)
        paths[d] = p
    names, Xt, yt = read(paths[t1])
    parts = [read(paths[d], names) for d in fit_dates]
    X = np.vstack([p[1] for p in parts])
    print("sklearn %s, numpy %s; %d fitting rows from %s; %d out-of-time rows at %s; %d features"
          % (sklearn.__version__, np.__version__, len(X), ", ".join(d[:10] for d in fit_dates), len(Xt), t1[:10], len(names)))
    print("| task | lapse model | lapse AUC | sklearn HGB AUC | lapse log loss | sklearn log loss | bar met |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for task in ("churn", "propensity"):
        ev = rep["holdout"]["out_of_time"][task]
        if ev is None:
            continue
        y = np.concatenate([p[2][task] for p in parts])
        clf = HistGradientBoostingClassifier(random_state=0).fit(X, y)
        p = clf.predict_proba(Xt)[:, 1]
        auc, ll = roc_auc_score(yt[task], p), log_loss(yt[task], p)
        met = ev["auc"] >= auc - 0.005 and ev["log_loss"] <= 1.01 * ll
        ok = ok and met
        print("| %s | %s | %.4f | %.4f | %.4f | %.4f | %s |" % (task, ev["model"], ev["auc"], auc, ev["log_loss"], ll,
                                                               "yes" if met else "NO"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
