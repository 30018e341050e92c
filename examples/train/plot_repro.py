#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Figures of docs/reproduction.md from the CSVs of examples/train/repro.sh:
#   python3 examples/train/plot_repro.py docs/perf-data/repro docs/img
# Prints the tables the document quotes.
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, dst = sys.argv[1], sys.argv[2]
MACHINE = "AMD EPYC VM, 2 vCPUs shared with other jobs, ranks oversubscribed; seed 1"
NAMES = {"sgd": "fp32 mean + SGD-momentum", "signum": "Signum-MV (svSignumStep)", "ef": "EF-signSGD-MV (svEFSignStep)"}
LR = {"sgd": "0.05", "signum": "1e-4", "ef": "0.05"}
COLORS = {"sgd": "tab:gray", "signum": "tab:blue", "ef": "tab:orange"}


def rows(name):
    path = os.path.join(src, name + ".csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def footer(fig, text):
    fig.text(0.01, 0.005, text, fontsize=7, ha="left", va="bottom", color="dimgray")


# (a) test accuracy vs epoch
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
print("(a) test accuracy per epoch")
for ax, P in zip(axes, (4, 8)):
    for m in ("sgd", "signum", "ef"):
        r = rows(f"a_{m}_P{P}")
        if not r:
            continue
        ep = [int(x["epoch"]) for x in r]
        acc = [100 * float(x["test_acc"]) for x in r]
        ax.plot(ep, acc, "o-", color=COLORS[m], label=f"{NAMES[m]}, lr {LR[m]}")
        print(f"  P={P} {m:7s} " + " ".join(f"{a:.2f}" for a in acc))
    ax.set_title(f"P = {P} ranks, global batch 128, full Fashion-MNIST")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("test accuracy (%)")
axes[0].legend(loc="lower right", fontsize=8)
footer(fig, "examples/train/repro.sh build OUT a  (sv_train --method sgd|signum|ef --lr 0.05|1e-4|0.05 --epochs 5; "
            "MLP 784-256-10; SV_TIE_ZERO)\n" + MACHINE)
fig.tight_layout(rect=(0, 0.06, 1, 1))
fig.savefig(os.path.join(dst, "repro_accuracy.png"), dpi=110)

# (b) final accuracy vs K per attack
attacks = ["flip", "ipm", "alie", "random", "labelflip"]
methods = [m for m in ("signum", "ef", "sgd") if rows(f"b_{m}_K0")]
fig, axes = plt.subplots(1, len(attacks), figsize=(16, 4), sharey=True)
print("(b) final test accuracy vs K (P=5)")
for ax, attack in zip(axes, attacks):
    for m in methods:
        ks, accs = [], []
        for K in range(5):
            r = rows(f"b_{m}_K0") if K == 0 else rows(f"b_{m}_{attack}_K{K}")
            if r:
                ks.append(K)
                accs.append(100 * float(r[-1]["test_acc"]))
        if ks:
            ax.plot(ks, accs, "o-", color=COLORS[m], label=NAMES[m])
            print(f"  {attack:9s} {m:7s} " + " ".join(f"K={k}:{a:.1f}" for k, a in zip(ks, accs)))
    ax.axvline(2.5, color="red", lw=0.8, ls=":")
    ax.set_title(attack)
    ax.set_xlabel("adversaries K of P = 5")
    ax.set_xticks(range(5))
    ax.grid(alpha=0.3)
axes[0].set_ylabel("final test accuracy (%)")
axes[0].legend(loc="lower left", fontsize=7)
footer(fig, "examples/train/repro.sh build OUT b b-ef  (sv_train -np 5 --epochs 2 --global-batch 120 --adversaries K "
            "--attack A; colluding; flip sends -P x g; ipm eps 10; alie z from Baruch et al.)   " + MACHINE)
fig.tight_layout(rect=(0, 0.05, 1, 1))
fig.savefig(os.path.join(dst, "repro_byzantine.png"), dpi=110)

# (c) bytes per rank per step
print("(c) bytes sent per rank per step")
labels, vals, cols = [], [], []
for P in (4, 5, 8):
    for m in ("sgd", "signum", "ef"):
        r = rows(f"b_{m}_K0") if P == 5 else rows(f"a_{m}_P{P}")
        if not r or int(r[0]["P"]) != P:
            continue
        b = float(r[0]["bytes_per_rank_step"])
        labels.append(f"P={P}\n{m}")
        vals.append(b / 1024)
        cols.append(COLORS[m])
        print(f"  P={P} {m:7s} {b:10.0f} bytes ({r[0]['bytes_source']}), params {r[0]['params']}")
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(range(len(vals)), vals, color=cols)
ax.set_xticks(range(len(vals)))
ax.set_xticklabels(labels, fontsize=8)
ax.set_yscale("log")
ax.set_ylabel("KiB sent per rank per step (log)")
for i, v in enumerate(vals):
    ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=7)
ax.set_title("203,530 fp32 parameters per step")
footer(fig, "signvote: svCommGetStats lastBytesSent (measured); fp32: 2(P-1)/P x 4n, the ring all-reduce's bytes "
            "(a model: MPI does not report it)\n" + MACHINE)
fig.tight_layout(rect=(0, 0.08, 1, 1))
fig.savefig(os.path.join(dst, "repro_bytes.png"), dpi=110)

# (d) wall clock per epoch on emulated 1 Gbit/s links, if measured
netem = sorted(glob.glob(os.path.join(src, "d_*.csv")))
if netem:
    print("(d) seconds per epoch on 1 Gbit/s (netem)")
    fig, ax = plt.subplots(figsize=(7, 4))
    names, secs, cols = [], [], []
    order = {"sgd": 0, "signum": 1, "ef": 2}
    netem.sort(key=lambda p: (order.get(os.path.basename(p).split("_")[1], 9), p))
    for path in netem:
        with open(path) as f:
            r = list(csv.DictReader(f))
        m = r[0]["method"]
        names.append(m + ("\nrun 2" if r[0]["tag"].endswith("run2") else "\nrun 1"))
        secs.append(float(r[-1]["epoch_s"]))
        cols.append(COLORS[m])
        print(f"  {os.path.basename(path)}: {secs[-1]:.1f} s/epoch ({r[-1]['steps']} steps), exchange "
              f"{float(r[-1]['exchange_s']):.1f} s")
    ax.bar(range(len(secs)), secs, color=cols)
    ax.set_xticks(range(len(secs)))
    ax.set_xticklabels(names)
    ax.set_ylabel("seconds per epoch")
    for i, v in enumerate(secs):
        ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_title("one epoch, 4 emulated hosts, 1 Gbit/s links")
    footer(fig, "perf/netem/netem.sh -n 4 -r 1gbit -- sv_train --method M --epochs 1\n" + MACHINE +
           "; ratios only")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(os.path.join(dst, "repro_netem.png"), dpi=110)
