"""Reference coefficients for TestFitLogisticSklearn (training/logistic_test.go).

Usage:
    go test ./training -run TestFitLogisticSklearn -logistic-csv=/tmp/lr.csv
    /usr/bin/python3 training/testdata/logistic/sklearn_ref.py /tmp/lr.csv

The CSV has 4 feature columns, the label and a sample weight. lapse's
FitLogistic minimises (1/W) sum w_i loss_i + (l2/2) |beta|^2 with W = sum w_i,
which is scikit-learn's objective divided by C*W when C = 1/(l2*W).

newton-cg with tol=1e-14 is used because solver="lbfgs" stops on scipy's
relative function tolerance (ftol ~2.2e-9) with a gradient of ~1e-6, which
leaves the coefficients off by ~1e-6; newton-cg reaches a max gradient of
~4e-12 (it may still print a ConvergenceWarning).
"""
import warnings

warnings.simplefilter("ignore")
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

data = np.loadtxt(sys.argv[1], delimiter=",")
X, y, w = data[:, :4], data[:, 4], data[:, 5]
cases = [
    ("Unweighted_L2_1e-2", False, 1e-2),
    ("Weighted_L2_1e-3", True, 1e-3),
    ("Unweighted_NoPenalty", False, 0.0),
]
for name, weighted, l2 in cases:
    sw = w if weighted else np.ones_like(y)
    if l2 == 0:
        clf = LogisticRegression(penalty="none" if sklearn.__version__ < "1.2" else None, solver="newton-cg", tol=1e-14, max_iter=100000)
    else:
        clf = LogisticRegression(C=1.0 / (l2 * sw.sum()), solver="newton-cg", tol=1e-14, max_iter=100000)
    clf.fit(X, y, sample_weight=sw)
    params = list(clf.coef_[0]) + [clf.intercept_[0]]
    z = X @ clf.coef_[0] + clf.intercept_[0]
    r = sw * (1 / (1 + np.exp(-z)) - y) / sw.sum()
    gmax = np.abs(np.append(X.T @ r + l2 * clf.coef_[0], r.sum())).max()
    print(name, "{" + ", ".join("%.10f" % v for v in params) + "}", "max gradient %.1e" % gmax)
