#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Alpha-beta-gamma cost model of the sign vote and its alternatives.

Each scheme's time for n elements on P ranks with links of B bytes/s is
    T = alpha * L(P) + V(n, P) / (eff * B) (+ or max) gamma * C(n) * S(P)
  L: sequential message rounds,  V: bytes through the busiest link direction,
  C: bytes of local memory traffic per rank (read input, write output),
  S: ranks per core where measured (this machine: P ranks on 2 cores), 1 in
     predictions (one rank per host).
signvote pipelines its memory work under the exchange, so its two terms
combine by max; the baselines add them. alpha, eff and gamma are fitted per
scheme to measured runs (perf/netem/sweep.sh CSV) by a grid search that
minimises the median relative error; the fitted model then predicts large P
and fast links, where this machine cannot go.

  /usr/bin/python3 perf/model.py sweep.csv --plots docs/img
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

ESZ = 4  # fp32 gradients


def features(scheme, n, P):
    """(L, V, C) of one call: rounds, busiest-link bytes, local memory bytes."""
    bits = n / 8.0
    if scheme == "sv":  # all-to-all + all-gather of segments (all-gather alone for small n)
        return 2.0, 2.0 * (P - 1) / P * bits, 2.0 * ESZ * n
    if scheme == "allgather":  # everyone receives everyone's bits
        return 1.0, (P - 1) * bits, 2.0 * ESZ * n
    if scheme == "ps":  # gather at a root, vote there, broadcast from it
        return 2.0 * math.log2(max(P, 2)), (P - 1) * bits + 2.0 * bits, 2.0 * ESZ * n
    if scheme in ("mpi", "gloo", "ring"):  # fp32 ring: reduce-scatter + all-gather
        return 2.0 * (P - 1), 2.0 * (P - 1) / P * ESZ * n, 3.0 * ESZ * n
    raise ValueError(scheme)


def rate_bytes(rate):
    r = rate.lower().replace("bit", "")
    mult = {"k": 1e3, "m": 1e6, "g": 1e9}.get(r[-1], 1.0)
    return float(r.rstrip("kmg")) * mult / 8.0


def load(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            try:
                rows.append((r["scheme"], int(r["P"]), rate_bytes(r["rate"]), int(r["bytes"]) // ESZ,
                             float(r["time_us"]) * 1e-6))
            except (ValueError, KeyError):
                continue
    return rows


CORES = 2  # of the machine the measurements come from


def combine(scheme, comm, mem):
    return np.maximum(comm, mem) if scheme == "sv" else comm + mem


def fit(rows, scheme):
    pts = [r for r in rows if r[0] == scheme and r[3] > 0]
    if len(pts) < 3:
        return None
    F = np.array([features(scheme, n, P) for _, P, B, n, t in pts])
    Bs = np.array([B for _, P, B, n, t in pts])
    S = np.array([max(1.0, P / CORES) for _, P, B, n, t in pts])
    y = np.array([t for *_, t in pts])
    best = None
    for alpha in np.geomspace(1e-6, 1e-3, 40):
        for eff in np.linspace(0.2, 1.2, 41):
            for gamma in np.geomspace(1e-12, 1e-8, 41):
                pred = alpha * F[:, 0] + combine(scheme, F[:, 1] / (eff * Bs), gamma * F[:, 2] * S)
                err = float(np.median(np.abs(pred - y) / y))
                if best is None or err < best[0]:
                    best = (err, alpha, eff, gamma)
    err, alpha, eff, gamma = best
    return {"alpha": alpha, "eff": eff, "gamma": gamma, "median_rel_err": err, "points": len(pts)}


def predict(m, scheme, n, P, B, measured_here=False):
    L, V, C = features(scheme, n, P)
    S = max(1.0, P / CORES) if measured_here else 1.0
    return float(m["alpha"] * L + combine(scheme, V / (m["eff"] * B), m["gamma"] * C * S))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--plots", help="directory for PNG plots")
    ap.add_argument("--n", type=int, default=25557032, help="elements for the prediction (ResNet-50)")
    a = ap.parse_args()
    rows = load(a.csv)
    schemes = sorted({r[0] for r in rows})
    models = {s: fit(rows, s) for s in schemes}
    print("# fitted: scheme  alpha(us)  link efficiency  gamma(ns/B)  median |rel err|  points")
    for s in schemes:
        m = models[s]
        if m:
            print(f"  {s:10s} {m['alpha'] * 1e6:9.2f} {m['eff']:16.3f} {m['gamma'] * 1e9:12.4f} {m['median_rel_err']:17.1%} "
                  f"{m['points']:7d}")
    models = {s: m for s, m in models.items() if m}
    print(f"\n# predicted time (ms) for n={a.n} fp32 elements")
    for gbit in (10, 25, 100):
        B = gbit * 1e9 / 8
        print(f"# {gbit} Gbit/s: P " + " ".join(f"{s:>10s}" for s in models) + "   fastest")
        for P in (8, 16, 64, 256, 1024):
            ts = {s: predict(m, s, a.n, P, B) for s, m in models.items()}
            print(f"  {P:5d}       " + " ".join(f"{ts[s] * 1e3:10.1f}" for s in models) + f"   {min(ts, key=ts.get)}")
    if a.plots:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(a.plots, exist_ok=True)
        # Model vs measurement.
        fig, ax = plt.subplots(figsize=(6, 5))
        for s, m in models.items():
            pts = [r for r in rows if r[0] == s and r[3] > 0]
            ax.scatter([r[4] * 1e3 for r in pts], [predict(m, s, r[3], r[1], r[2], True) * 1e3 for r in pts], s=8, label=s)
        lo, hi = ax.get_xlim()
        ax.plot([1e-3, 1e5], [1e-3, 1e5], "k:", lw=1)
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("measured (ms)"); ax.set_ylabel("model (ms)")
        ax.set_title("alpha-beta-gamma model vs netem measurements")
        ax.legend()
        fig.tight_layout(); fig.savefig(os.path.join(a.plots, "model-vs-measured.png"), dpi=120)
        # Prediction vs P.
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
        Ps = [2 ** k for k in range(1, 11)]
        for ax, gbit in zip(axes, (10, 25, 100)):
            B = gbit * 1e9 / 8
            for s, m in models.items():
                ax.plot(Ps, [predict(m, s, a.n, P, B) * 1e3 for P in Ps], marker="o", ms=3, label=s)
            ax.set_xscale("log", base=2); ax.set_yscale("log")
            ax.set_title(f"{gbit} Gbit/s, n={a.n / 1e6:.1f}M fp32"); ax.set_xlabel("ranks P")
        axes[0].set_ylabel("predicted time per all-reduce (ms)")
        axes[0].legend()
        fig.tight_layout(); fig.savefig(os.path.join(a.plots, "model-scaling.png"), dpi=120)
        print(f"# plots in {a.plots}")


if __name__ == "__main__":
    sys.exit(main())
