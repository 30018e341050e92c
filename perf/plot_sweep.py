#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plots of a perf/netem/sweep.sh CSV: time vs size per scheme (one panel per
link rate, at one P) and speedup of sv over each baseline vs P.

  /usr/bin/python3 perf/plot_sweep.py sweep.csv docs/img [--P 4]
"""
import argparse
import csv
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("outdir")
    ap.add_argument("--P", type=int, default=4)
    a = ap.parse_args()
    t = defaultdict(dict)  # (scheme, P, rate) -> {bytes: time_us}
    for r in csv.DictReader(open(a.csv)):
        try:
            t[(r["scheme"], int(r["P"]), r["rate"])][int(r["bytes"])] = float(r["time_us"])
        except ValueError:
            pass
    os.makedirs(a.outdir, exist_ok=True)
    rates = sorted({k[2] for k in t}, key=lambda s: float(s.rstrip("gbitmk")))
    schemes = sorted({k[0] for k in t}, key=lambda s: (s != "sv", s))
    fig, axes = plt.subplots(1, len(rates), figsize=(6.5 * len(rates), 4.5), squeeze=False)
    for ax, rate in zip(axes[0], rates):
        for s in schemes:
            d = t.get((s, a.P, rate))
            if d:
                xs = sorted(d)
                ax.plot(xs, [d[x] / 1e3 for x in xs], marker="o", ms=3, label=s, lw=2.5 if s == "sv" else 1.2)
        ax.set_xscale("log", base=2); ax.set_yscale("log")
        ax.set_xlabel("buffer size (bytes of fp32 gradient)"); ax.set_ylabel("time per call (ms)")
        ax.set_title(f"P={a.P}, links {rate}"); ax.grid(True, which="both", alpha=0.3); ax.legend()
    fig.tight_layout(); fig.savefig(os.path.join(a.outdir, f"time-vs-size-P{a.P}.png"), dpi=120)

    fig, axes = plt.subplots(1, len(rates), figsize=(6.5 * len(rates), 4.5), squeeze=False)
    for ax, rate in zip(axes[0], rates):
        Ps = sorted({k[1] for k in t if k[2] == rate})
        for s in schemes:
            if s == "sv":
                continue
            ys, xs = [], []
            for P in Ps:
                sv, b = t.get(("sv", P, rate), {}), t.get((s, P, rate), {})
                common = set(sv) & set(b)
                if common:
                    big = max(common)
                    xs.append(P); ys.append(b[big] / sv[big])
            if xs:
                ax.plot(xs, ys, marker="o", label=f"{s} / sv")
        ax.axhline(1, color="k", lw=0.8)
        ax.set_yscale("log"); ax.set_xlabel("ranks P"); ax.set_ylabel("speedup of sv (largest size)")
        ax.set_title(f"links {rate}"); ax.grid(True, which="both", alpha=0.3); ax.legend()
    fig.tight_layout(); fig.savefig(os.path.join(a.outdir, "speedup-vs-P.png"), dpi=120)


if __name__ == "__main__":
    main()
