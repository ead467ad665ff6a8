# Independent reference numbers for the training package's CDNOW tests
# (training/btyd_test.go), written from the papers' formulas, not from the
# Go code: /usr/bin/python3 cdnow_reference.py  (Debian python3-scipy 1.10.1)
import datetime as dt
import numpy as np
from scipy.special import gammaln, betaln, hyp2f1
from scipy.optimize import minimize

D = "/work/shared/data/cdnow/"
EPOCH = dt.date(1970, 1, 1)
def day(s): return (dt.date(int(s[:4]), int(s[4:6]), int(s[6:8])) - EPOCH).days
CAL, HOLD = day("19970930"), day("19980630")

def customers(path, idcol, datecol, amtcol, skip=0):
    c = {}
    with open(path) as f:
        for i, line in enumerate(f):
            if i < skip: continue
            p = line.split()
            d = c.setdefault(p[idcol], {})
            dd = day(p[datecol]); d[dd] = d.get(dd, 0.0) + float(p[amtcol])
    return c

def cbs(c, unit=7.0):
    rows = []
    for cid, days in c.items():
        ds = sorted(days); f = ds[0]
        cal = [d for d in ds if d <= CAL]; hold = [d for d in ds if CAL < d <= HOLD]
        x = len(cal) - 1
        zbar = np.mean([days[d] for d in cal[1:]]) if x > 0 else 0.0
        rows.append((x, (cal[-1] - f) / unit, (CAL - f) / unit, len(hold), f, zbar))
    return np.array(rows)

def bg_ll(par, x, tx, T):
    r, al, a, b = par
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
    A2 = betaln(a, b + x) - betaln(a, b)
    l1 = A1 + A2 - (r + x) * np.log(al + T)
    xs = np.maximum(x, 1)
    l2 = np.where(x > 0, A1 + betaln(a + 1, xs + b - 1) - betaln(a, b) - (r + x) * np.log(al + tx), -np.inf)
    return np.logaddexp(l1, l2)

def fit_bg(x, tx, T):
    f = lambda th: -bg_ll(np.exp(th), x, tx, T).sum()
    res = minimize(f, np.zeros(4), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-10, maxiter=20000, maxfev=40000))
    res = minimize(f, res.x, method="BFGS", options=dict(gtol=1e-8))
    return np.exp(res.x), -res.fun

def cond(par, t, x, tx, T):
    r, al, a, b = par
    z = t / (al + T + t)
    num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    pa = np.where(x > 0, 1 / (1 + a / (b + x - 1 + (x == 0)) * ((al + T) / (al + tx)) ** (r + x)), 1.0)
    return num * pa

def uncond(par, t):
    r, al, a, b = par
    return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp2f1(r, b, a + b - 1, t / (al + t)))

np.set_printoptions(precision=10)
s = cbs(customers(D + "CDNOW_sample.txt", 1, 2, 4))
x, tx, T, hx, first = s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4]
print("sample: customers", len(x), "cal repeats", x.sum(), "zero-repeat", (x == 0).sum(), "holdout", hx.sum(), "zero-group holdout", hx[x == 0].sum())
par, ll = fit_bg(x, tx, T)
print("sample fit (unrounded weeks):", par, "LL %.6f" % ll)
pred = cond(par, 39.0, x, tx, T)
print("holdout predicted total %.6f" % pred.sum())
for k in range(8):
    m = (x == k) if k < 7 else (x >= 7)
    print("  x=%d%s customers %d actual %d predicted %.6f" % (k, "+" if k == 7 else "", m.sum(), hx[m].sum(), pred[m].sum()))
start = first.min()
for wk in (1, 10, 39, 52, 78):
    D_ = start + 7 * wk - 1
    e = sum(uncond(par, (D_ - f) / 7.0) for f in first if f <= D_)
    print("week %d expected cumulative repeats %.6f" % (wk, e))

# Gamma-Gamma on lifetimes' summary with zbar
g = np.loadtxt(D + "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
gx, gz = g[:, 1], g[:, 4]
m = gx > 0
def gg_ll(par, x, z):
    p, q, v = par
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(z)
            + p * x * np.log(x) - (p * x + q) * np.log(x * z + v))
f = lambda th: -gg_ll(np.exp(th), gx[m], gz[m]).sum()
res = minimize(f, np.zeros(3), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-10, maxiter=20000))
res = minimize(f, res.x, method="BFGS", options=dict(gtol=1e-8))
gp = np.exp(res.x)
# observed information by central second differences in natural parameters
h = 1e-4 * gp; H = np.zeros((3, 3)); F = lambda v: -gg_ll(v, gx[m], gz[m]).sum()
for i in range(3):
    for j in range(3):
        e_i = np.eye(3)[i] * h[i]; e_j = np.eye(3)[j] * h[j]
        H[i, j] = (F(gp + e_i + e_j) - F(gp + e_i - e_j) - F(gp - e_i + e_j) + F(gp - e_i - e_j)) / (4 * h[i] * h[j])
print("gamma-gamma repeaters", m.sum(), "params", gp, "LL %.6f" % -res.fun, "SE", np.sqrt(np.diag(np.linalg.inv(H))))
p_, q_, v_ = gp
print("first 10 E[M|x,zbar]:", (p_ * v_ + p_ * gx[:10] * gz[:10]) / (p_ * gx[:10] + q_ - 1))

s = cbs(customers(D + "CDNOW_master.txt", 0, 1, 3, skip=1))
x, tx, T, hx = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
print("master: customers", len(x), "cal repeats", x.sum(), "holdout", hx.sum(), "no holdout purchase", (hx == 0).sum())
par, ll = fit_bg(x, tx, T)
print("master fit (unrounded weeks):", par, "LL %.6f" % ll)
print("master holdout predicted total %.6f" % cond(par, 39.0, x, tx, T).sum())
