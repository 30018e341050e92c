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

Hierarchies (issue 15): a CSV with a "pernode" column (ranks per node, L;
perf/netem/hierarchy_sweep.sh runs) adds the hierarchical vote "svh", and
every scheme's V becomes the bytes through the busiest *node* link (shared
by its L ranks). With --gpu-nodes 8 the fitted link efficiencies predict
16-1024 GPUs in nodes of 8 on 100-400 Gbit/s per node against NCCL's ring
and tree all-reduce in fp32 and bf16 (textbook volumes, assumed 90% link
efficiency), with the memory term at GPU memory speed (assumed 3 TB/s) and
a per-round latency (--alpha-us, assumed 5 us): extrapolations, not
measurements.

  /usr/bin/python3 perf/model.py docs/perf-data/hierarchy-sweep.csv --gpu-nodes 8 --plots docs/img
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

ESZ = 4  # fp32 gradients


def counter_bits(p):
    b = 1
    while (1 << b) <= p:
        b += 1
    return b


def features(scheme, n, P, L=1, esz=ESZ):
    """(rounds, bytes through the busiest link direction, local memory bytes)
    of one call. L ranks share a node link (L = 1: a link per rank)."""
    bits = n / 8.0
    N = max(P // max(L, 1), 1)
    if scheme == "sv":  # all-to-all + all-gather of segments; a node's L ranks share its link
        return 2.0, L * 2.0 * (P - L) / P * bits, 2.0 * esz * n
    if scheme == "svh":  # counts in the node, counts and voted bits between nodes (plan_hierarchy.h)
        return 4.0, (N - 1) / N * bits * (counter_bits(L) + 1), 2.0 * esz * n
    if scheme == "allgather":  # everyone receives everyone's bits
        return 1.0, (P - 1) * bits, 2.0 * esz * n
    if scheme == "ps":  # gather at a root, vote there, broadcast from it
        return 2.0 * math.log2(max(P, 2)), (P - 1) * bits + 2.0 * bits, 2.0 * esz * n
    if scheme in ("mpi", "gloo", "ring"):  # ring: reduce-scatter + all-gather; a node link carries one hop
        return 2.0 * (P - 1), 2.0 * (P - 1) / P * esz * n, 3.0 * esz * n
    if scheme == "tree":  # NCCL's double binary tree between nodes: each node link about the data once
        return 2.0 * math.log2(max(N, 2)) + 2.0 * (L - 1), esz * n, 3.0 * esz * n
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
                             float(r["time_us"]) * 1e-6, int(r.get("pernode") or 1)))
            except (ValueError, KeyError):
                continue
    return rows


CORES = 2  # of the machine the measurements come from


def combine(scheme, comm, mem):
    return np.maximum(comm, mem) if scheme in ("sv", "svh") else comm + mem


def fit(rows, scheme):
    pts = [r for r in rows if r[0] == scheme and r[3] > 0]
    if len(pts) < 3:
        return None
    F = np.array([features(scheme, n, P, L) for _, P, B, n, t, L in pts])
    Bs = np.array([B for _, P, B, n, t, L in pts])
    S = np.array([max(1.0, P / CORES) for _, P, B, n, t, L in pts])
    y = np.array([t for _, P, B, n, t, L in pts])
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


def predict(m, scheme, n, P, B, measured_here=False, pernode=1):
    L, V, C = features(scheme, n, P, pernode)
    S = max(1.0, P / CORES) if measured_here else 1.0
    return float(m["alpha"] * L + combine(scheme, V / (m["eff"] * B), m["gamma"] * C * S))


GPU_MEM_BYTES_PER_S = 3e12  # assumed HBM speed for the memory term of GPU predictions
NCCL_EFF = 0.9              # assumed fraction of a link NCCL's ring and tree reach


def predict_gpu(models, scheme, n, P, L, B, alpha, esz=ESZ):
    """One all-reduce on P GPUs in nodes of L, node links of B bytes/s."""
    rounds, V, C = features(scheme, n, P, L, esz)
    eff = models[scheme]["eff"] if scheme in models else NCCL_EFF
    return alpha * rounds + float(combine(scheme, V / (eff * B), C / GPU_MEM_BYTES_PER_S))


def gpu_predictions(models, n, L, alpha, plots):
    cols = [("svh", "svh", ESZ), ("sv", "sv", ESZ), ("ring fp32", "ring", 4), ("ring bf16", "ring", 2),
            ("tree fp32", "tree", 4), ("tree bf16", "tree", 2)]
    print(f"\n# predicted time (ms) per all-reduce of n={n} gradients on GPUs in nodes of {L} "
          f"(alpha {alpha * 1e6:g} us/round, svh/sv link efficiency fitted, NCCL {NCCL_EFF:g}; extrapolated)")
    table = {}
    for gbit in (100, 200, 400):
        B = gbit * 1e9 / 8
        print(f"# {gbit} Gbit/s per node: GPUs " + " ".join(f"{c:>10s}" for c, _, _ in cols) + "   fastest")
        for P in (16, 32, 64, 128, 256, 512, 1024):
            ts = {c: predict_gpu(models, s, n, P, L, B, alpha, e) for c, s, e in cols}
            table[(gbit, P)] = ts
            print(f"  {P:5d}            " + " ".join(f"{ts[c] * 1e3:10.2f}" for c, _, _ in cols) +
                  f"   {min(ts, key=ts.get)}")
    if plots:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
        Ps = [16, 32, 64, 128, 256, 512, 1024]
        for ax, gbit in zip(axes, (100, 200, 400)):
            for c, _, _ in cols:
                ax.plot(Ps, [table[(gbit, P)][c] * 1e3 for P in Ps], marker="o", ms=3, label=c)
            ax.set_xscale("log", base=2); ax.set_yscale("log")
            ax.set_title(f"{gbit} Gbit/s per node, nodes of {L}, n={n / 1e6:.1f}M"); ax.set_xlabel("GPUs")
        axes[0].set_ylabel("predicted time per all-reduce (ms)")
        axes[0].legend(fontsize=8)
        fig.tight_layout(); fig.savefig(os.path.join(plots, "model-hierarchy.png"), dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--plots", help="directory for PNG plots")
    ap.add_argument("--n", type=int, default=25557032, help="elements for the prediction (ResNet-50)")
    ap.add_argument("--gpu-nodes", type=int, default=0, help="predict GPUs in nodes of this many (hierarchy data)")
    ap.add_argument("--alpha-us", type=float, default=5.0, help="per-round latency of the GPU predictions")
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
    if a.gpu_nodes:
        print("\n# measured vs model (ms): scheme P pernode rate(Gbit/s) n measured model")
        for r in rows:
            if r[0] in models:
                print(f"  {r[0]:4s} {r[1]:3d} {r[5]:2d} {r[2] * 8 / 1e9:6.2f} {r[3]:9d} {r[4] * 1e3:10.2f} "
                      f"{predict(models[r[0]], r[0], r[3], r[1], r[2], True, r[5]) * 1e3:10.2f}")
        if a.plots:
            os.makedirs(a.plots, exist_ok=True)
        gpu_predictions(models, a.n, a.gpu_nodes, a.alpha_us * 1e-6, a.plots)
        return 0
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
            ax.scatter([r[4] * 1e3 for r in pts], [predict(m, s, r[3], r[1], r[2], True, r[5]) * 1e3 for r in pts], s=8, label=s)
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
