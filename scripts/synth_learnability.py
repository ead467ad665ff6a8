#!/usr/bin/env python3
"""Check that churn in a `lapse gen` history is learnable, but not trivially.

Usage: python3 scripts/synth_learnability.py events.csv [horizon_days]

Computes a small set of point-in-time features per user (recency, tenure,
event counts per window, trend, friction counts) with numpy only, labels
churn = no event in [T, T+H), keeps users active in the 90 days before T,
fits scikit-learn's HistGradientBoostingClassifier on two earlier snapshots
and reports the out-of-time ROC AUC at the last complete snapshot next to
the AUC of recency alone. Independent of lapse's Go feature builder on
purpose: it is the outside reference for the generator's design.
"""
import csv
import sys
from datetime import datetime, timezone

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

path = sys.argv[1]
H = int(sys.argv[2]) if len(sys.argv) > 2 else 30
names = {}
users = {}
U, K, T = [], [], []
with open(path) as f:
    r = csv.reader(f)
    next(r)
    for uid, ev, ts, _amt in r:
        U.append(users.setdefault(uid, len(users)))
        K.append(names.setdefault(ev, len(names)))
        T.append(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
U, K, T = np.array(U), np.array(K), np.array(T) / 86400.0
nu = len(users)
day = np.floor(T)
last = day.max()
FRICTION = [names[n] for n in ("support_ticket", "cancel_page", "view_pricing") if n in names]
PURCHASE = names.get("purchase", -1)


def snapshot(cut):
    """Features as of day `cut` (midnight) and churn labels over [cut, cut+H)."""
    before = T < cut
    age = cut - day  # 1 for the day before the cutoff
    cols = []
    lastt = np.full(nu, -np.inf)
    np.maximum.at(lastt, U[before], T[before])
    firstt = np.full(nu, np.inf)
    np.minimum.at(firstt, U[before], T[before])
    rec = cut - lastt
    cols += [rec, cut - firstt]
    for w in (7, 30, 90):
        m = before & (age <= w)
        cols.append(np.bincount(U[m], minlength=nu))
        for k in FRICTION + [PURCHASE]:
            cols.append(np.bincount(U[m & (K == k)], minlength=nu))
    m60 = before & (age > 30) & (age <= 60)
    cols.append((cols[2 + 2 * (len(FRICTION) + 2)] * 0 + np.bincount(U[before & (age <= 30)], minlength=nu) + 1)
                / (np.bincount(U[m60], minlength=nu) + 1))
    X = np.column_stack(cols)
    after = (T >= cut) & (T < cut + H)
    y = np.bincount(U[after], minlength=nu) == 0
    elig = np.bincount(U[before & (age <= 90)], minlength=nu) > 0
    return X[elig], y[elig].astype(int), rec[elig]


cuts = [last + 1 - H - i * H for i in (2, 1, 0)]
snaps = [snapshot(c) for c in cuts]
Xtr = np.vstack([s[0] for s in snaps[:-1]])
ytr = np.concatenate([s[1] for s in snaps[:-1]])
Xte, yte, rte = snaps[-1]
clf = HistGradientBoostingClassifier(random_state=0).fit(Xtr, ytr)
p = clf.predict_proba(Xte)[:, 1]
print(f"users={nu} eval_rows={len(yte)} churn_rate={yte.mean():.3f}")
print(f"auc_model={roc_auc_score(yte, p):.4f} auc_recency={roc_auc_score(yte, rte):.4f}")
