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


def main(root):
    for name in ("big", "suite"):
        d = os.path.join(root, name)
        if os.path.isdir(d):
            check(name, d)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/gbdt")
