"""Side-by-side check of lapse's FitGBDT against scikit-learn.

Not part of the test suite. Run from the repository root:

    go test ./training/ -run TestFitGBDTSklearnData -count=1 -v \
        -gbdt.sklearn-dir=/tmp/gbdt
    /usr/bin/python3 training/testdata/gbdt/sklearn_check.py /tmp/gbdt

The Go test writes DIR/big (100,000 training and 50,000 test rows) and
DIR/suite (20,000 and 20,000: the rows of TestFitGBDTMatchesSklearn), each as
train.csv and test.csv (20 features, then the label; test.csv also carries
the true probability), and prints FitGBDT's test AUC, log loss and fit time.
This script prints the same for HistGradientBoostingClassifier with default
settings (Debian's python3-sklearn) and for the true probabilities.

    OMP_NUM_THREADS=1 /usr/bin/python3 training/testdata/gbdt/sklearn_check.py --timing-1m

times sklearn on 1,000,000 × 40 rows drawn in NumPy from the same generating
function as gbSynth (not the same numbers), the shape of BenchmarkFitGBDT.
"""
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score


def check(name, d):
    tr = np.loadtxt(os.path.join(d, "train.csv"), delimiter=",")
    te = np.loadtxt(os.path.join(d, "test.csv"), delimiter=",")
    X, y = tr[:, :-1], tr[:, -1]
    Xt, yt, pt = te[:, :-2], te[:, -2], te[:, -1]
    clf = HistGradientBoostingClassifier(random_state=0)
    t0 = time.perf_counter()
    clf.fit(X, y)
    el = time.perf_counter() - t0
    p = clf.predict_proba(Xt)[:, 1]
    print(f"{name:5s} sklearn {sklearn.__version__} auc={roc_auc_score(yt, p):.5f} "
          f"logloss={log_loss(yt, p):.5f} fit_s={el:.2f} rounds={clf.n_iter_}")
    print(f"{name:5s} bayes          auc={roc_auc_score(yt, pt):.5f} "
          f"logloss={log_loss(yt, pt):.5f}")


def timing_1m():
    rng = np.random.default_rng(0)
    n, d = 1_000_000, 40
    X = np.empty((n, d))
    for j in range(d):
        k = j % 20
        if k < 8:
            X[:, j] = rng.standard_normal(n)
        elif k < 12:
            X[:, j] = rng.random(n)
        elif k < 16:
            X[:, j] = np.floor(np.exp(1.2 * rng.standard_normal(n)))
        else:
            X[:, j] = rng.integers(0, 2, n)
    r = X
    z = (-0.7 + 1.5 * np.sin(2 * r[:, 0]) + r[:, 1] * r[:, 2]
         + 1.2 * (r[:, 3] > 0.5) * r[:, 4] - 0.6 * r[:, 5] ** 2 + 0.8 * r[:, 6]
         + 4 * (r[:, 8] - 0.5) * (r[:, 9] - 0.5) + 0.7 * np.log1p(r[:, 12])
         - 0.5 * (r[:, 13] > 3) + 0.9 * r[:, 16] * (r[:, 1] > 0) - 0.4 * r[:, 17])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    clf = HistGradientBoostingClassifier(random_state=0)
    t0 = time.perf_counter()
    clf.fit(X, y)
    print(f"1m    sklearn {sklearn.__version__} fit_s={time.perf_counter() - t0:.2f} "
          f"rounds={clf.n_iter_}")


def main(root):
    for name in ("big", "suite"):
        d = os.path.join(root, name)
        if os.path.isdir(d):
            check(name, d)


if __name__ == "__main__":
    if sys.argv[1:] == ["--timing-1m"]:
        timing_1m()
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/gbdt")
