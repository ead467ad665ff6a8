# Independent reference numbers for training/clv_test.go and
# cmd/lapse/clv_test.go, written from the papers' formulas (Fader, Hardie &
# Lee 2005; Hardie's Gamma-Gamma note), not from the Go code. Own CSV
# parsing, own likelihoods, scipy optimisers, scipy.special.hyp2f1.
# Run: /usr/bin/python3 training/testdata/clv/clv_reference.py
# (Debian python3-scipy 1.10.1, numpy 1.24.2), from the repository root.
import csv, datetime as dt, warnings
import numpy as np
from scipy.special import gammaln, betaln, hyp2f1
from scipy.optimize import minimize

np.set_printoptions(precision=10)
warnings.filterwarnings("ignore")  # overflow in exp at the profile's far-out points: those are rejected
EPOCH = dt.date(1970, 1, 1)
MONTH = 365.25 / 12  # days

def read(path, user, time, event, purchase=("purchase", "order"), before=None):
    """user -> {day: summed amount} of purchase rows with amount >= 0."""
    c = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row[event] not in purchase:
                continue
            a = float(row["amount"] or 0)
            if a < 0:
                continue
            ts = row[time]
            if len(ts) == 10:
                t = dt.datetime.fromisoformat(ts + "T00:00:00+00:00")
            else:
                t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if before is not None and t >= before:
                continue
            d = (t.date() - EPOCH).days
            u = c.setdefault(row[user], {})
            u[d] = u.get(d, 0.0) + a
    return c

def cbs(c, cal, unit=7.0):
    ids, rows = [], []
    for cid in sorted(c):
        days = c[cid]
        ds = sorted(d for d in days if d <= cal)
        if not ds:
            continue
        x = len(ds) - 1
        zbar = np.mean([days[d] for d in ds[1:]]) if x > 0 else 0.0
        ids.append(cid)
        rows.append((x, (ds[-1] - ds[0]) / unit, (cal - ds[0]) / unit, zbar))
    return ids, np.array(rows)

def bg_ll(par, x, tx, T):
    r, al, a, b = par
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
    l1 = A1 + betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(al + T)
    xs = np.maximum(x, 1)
    l2 = np.where(x > 0, A1 + betaln(a + 1, xs + b - 1) - betaln(a, b) - (r + x) * np.log(al + tx), -np.inf)
    return np.logaddexp(l1, l2)

def fit(f, k):
    res = minimize(f, np.zeros(k), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=40000, maxfev=80000))
    res = minimize(f, res.x, method="BFGS", options=dict(gtol=1e-9))
    return np.exp(res.x), -res.fun

def palive(par, x, tx, T):
    r, al, a, b = par
    return np.where(x > 0, 1 / (1 + a / (b + x - 1 + (x == 0)) * ((al + T) / (al + tx)) ** (r + x)), 1.0)

def cond(par, t, x, tx, T):
    r, al, a, b = par
    z = t / (al + T + t)
    return (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)) * palive(par, x, tx, T)

def pnone(par, t, x, tx, T):
    r, al, a, b = par
    pa = palive(par, x, tx, T)
    return 1 - pa + pa * ((al + T) / (al + T + t)) ** (r + x)

def gg_ll(par, x, z):
    p, q, v = par
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(z)
            + p * x * np.log(x) - (p * x + q) * np.log(x * z + v))

def fit_gg(x, z):
    m = (x > 0) & (z > 0)
    return fit(lambda th: -gg_ll(np.exp(th), x[m], z[m]).sum(), 3)

def spend(gp, x, z):
    p, q, v = gp
    return (p * v + p * x * z) / (p * x + q - 1)

def clv(ey, gp, x, z, months=12, d=0.01):
    """ey(t) = conditional expected purchases in t weeks."""
    tot, prev = 0.0, 0.0
    for i in range(1, months + 1):
        cum = ey(i * MONTH / 7)
        tot = tot + (cum - prev) / (1 + d) ** i
        prev = cum
    return spend(gp, x, z) * tot

H = 12 * MONTH / 7  # the default horizon, 12 months in weeks

print("== CDNOW sample, calibration end 1997-09-30, weeks ==")
cal = (dt.date(1997, 9, 30) - EPOCH).days
c = read("../shared/data/cdnow/cdnow_sample_events.csv", "customer_id", "date", "event_type")
ids, s = cbs(c, cal)
x, tx, T, z = s.T
par, ll = fit(lambda th: -bg_ll(np.exp(th), x, tx, T).sum(), 4)
gp, gll = fit_gg(x, z)
print("customers", len(ids), "bg/nbd", par, "LL %.6f" % ll, "gg", gp)
pa, ey, pn = palive(par, x, tx, T), cond(par, H, x, tx, T), pnone(par, H, x, tx, T)
cl = clv(lambda t: cond(par, t, x, tx, T), gp, x, z)
print("sums over customers: p_alive %.6f expected_purchases(12 months) %.6f p_no_purchase %.6f clv %.6f" % (pa.sum(), ey.sum(), pn.sum(), cl.sum()))
for cid in ("1", "10", "100", "1000", "2357"):
    i = ids.index(cid)
    print("  id %s x %d t_x %.6f T %.6f zbar %.4f p_alive %.8f E[Y] %.8f p_none %.8f clv %.6f" % (cid, x[i], tx[i], T[i], z[i], pa[i], ey[i], pn[i], cl[i]))
i = ids.index("1")
print("  id 1 over 39 weeks: E[Y] %.6f p_none %.8f" % (cond(par, 39.0, x[i], tx[i], T[i]), pnone(par, 39.0, x[i], tx[i], T[i])))

print("== committed sample, purchase and add_to_cart events as transactions, calibration end 2025-04-30 ==")
c = read("testdata/sample_events.csv", "user_id", "timestamp", "event", purchase=("purchase", "add_to_cart"))
ids, s = cbs(c, (dt.date(2025, 4, 30) - EPOCH).days)
x, tx, T, z = s.T
f = lambda th: -bg_ll(np.exp(th), x, tx, T).sum()
best = None
for x0 in ([0, 0, 0, 0], [0, 1, -2, 0], [-1, 1, -3, -2], [1, 2, 1, 2]):  # several starts agree
    res = minimize(f, np.array(x0, float), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=40000, maxfev=80000))
    res = minimize(f, res.x, method="BFGS", options=dict(gtol=1e-9))
    if best is None or res.fun < best.fun:
        best = res
par = np.exp(best.x)
print("customers", len(ids), "repeat transactions", x.sum(), "bg/nbd", par, "LL %.6f" % -best.fun)
pa, ey, pn = palive(par, x, tx, T), cond(par, H, x, tx, T), pnone(par, H, x, tx, T)
print("sums: p_alive %.6f expected_purchases %.6f p_no_purchase %.6f" % (pa.sum(), ey.sum(), pn.sum()))
for cid in ids[:2] + [ids[int(np.argmax(x))]]:
    i = ids.index(cid)
    print("  id %s x %d t_x %.6f T %.6f p_alive %.8f E[Y] %.8f p_none %.8f" % (cid, x[i], tx[i], T[i], pa[i], ey[i], pn[i]))
m = (x > 0) & (z > 0)
for p in (1e2, 1e4, 1e6):  # Gamma-Gamma: the likelihood keeps rising as p grows (no maximum)
    g = lambda th: -gg_ll(np.array([p, np.exp(th[0]), np.exp(th[1])]), x[m], z[m]).sum()
    res = minimize(g, np.array([0.0, np.log(np.mean(z[m]) / p)]), method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-12, maxiter=20000))
    print("  gamma-gamma profile: p = %g max LL %.6f" % (p, -res.fun))

print("== committed sample, all purchases (calibration end 2025-04-30) ==")
c = read("testdata/sample_events.csv", "user_id", "timestamp", "event")
ids, s = cbs(c, (dt.date(2025, 4, 30) - EPOCH).days)
x, tx, T, z = s.T
print("customers", len(ids), "repeat purchases", x.sum())
for a in (1e-1, 1e-2, 1e-4, 1e-6, 1e-8):
    f = lambda th: -bg_ll(np.array([np.exp(th[0]), np.exp(th[1]), a, np.exp(th[2])]), x, tx, T).sum()
    best = None
    for b0 in (-3.0, 0.0, 3.0):
        res = minimize(f, np.array([0.0, 1.0, np.log(a) + b0]), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=20000))
        if best is None or res.fun < best.fun:
            best = res
    print("  profile: a = %g max LL %.6f at b = %.3g" % (a, -best.fun, np.exp(best.x[2])))
