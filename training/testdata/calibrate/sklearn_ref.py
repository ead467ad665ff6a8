"""Reference values for training/calibrate_test.go.

Usage: /usr/bin/python3 training/testdata/calibrate/sklearn_ref.py

Data (exact in Go and Python), i = 0..1999:
    p = ((i*37) % 99 + 1) / 100          raw probabilities in [0.01, 0.99]
    y = ((i*7919) % 97) / 97 < p*p        labels from a miscalibrated truth
    w = 1 + i % 3                         sample weights for the weighted cases

Platt: scikit-learn 1.2.1's private sklearn.calibration._sigmoid_calibration
(Platt's smoothed targets, scipy fmin_bfgs; sign convention P = 1/(1+exp(a f + b)),
so lapse's A = -a, B = -b), and the same objective minimised by scipy BFGS with
gtol=1e-13, which the test uses; the two agree to ~3e-9.
Isotonic: IsotonicRegression(out_of_bounds="clip").fit(p, y).predict(grid).
"""
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.calibration import _sigmoid_calibration
from sklearn.isotonic import IsotonicRegression

warnings.simplefilter("ignore")
i = np.arange(2000)
p = ((i * 37) % 99 + 1) / 100.0
y = ((((i * 7919) % 97) / 97.0) < p * p).astype(float)
w = (1 + (i % 3)).astype(float)
f = np.log(p / (1 - p))


def platt(w):
    npos = (w * (y == 1)).sum()
    nneg = (w * (y == 0)).sum()
    t = np.where(y == 1, (npos + 1) / (npos + 2), 1 / (nneg + 2))

    def obj(x):
        z = x[0] * f + x[1]
        return (w * (np.logaddexp(0, z) - t * z)).sum() / w.sum()

    def grad(x):
        z = x[0] * f + x[1]
        r = w * (1 / (1 + np.exp(-z)) - t) / w.sum()
        return np.array([(r * f).sum(), r.sum()])

    return minimize(obj, [0, 0], jac=grad, method="BFGS", options={"gtol": 1e-13}).x


for name, sw in (("unweighted", None), ("weighted", w)):
    a, b = _sigmoid_calibration(f, y, sample_weight=sw)
    A, B = platt(np.ones_like(y) if sw is None else sw)
    print("platt %s: sklearn A=%.12f B=%.12f; scipy A=%.12f B=%.12f" % (name, -a, -b, A, B))

grid = np.array([0, 0.005, 0.013, 0.2, 0.333, 0.5, 0.61, 0.777, 0.9, 0.995, 1])
for name, sw in (("unweighted", None), ("weighted", w)):
    ir = IsotonicRegression(out_of_bounds="clip").fit(p, y, sample_weight=sw)
    print("isotonic %s:" % name, ", ".join("%.17g" % v for v in ir.predict(grid)))
