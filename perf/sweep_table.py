#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown tables of a perf/netem/sweep.sh CSV: per link rate and P, the
speedup of sv over each baseline at every size (baseline time / sv time).

  python3 perf/sweep_table.py docs/perf-data/sweep.csv
"""
import csv
import sys
from collections import defaultdict


def human(b):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= div:
            return f"{b / div:g} {unit}"
    return f"{b} B"


def main():
    t = defaultdict(dict)
    for r in csv.DictReader(open(sys.argv[1])):
        try:
            t[(r["rate"], int(r["P"]), int(r["bytes"]))][r["scheme"]] = float(r["time_us"])
        except ValueError:
            pass
    base = ["mpi", "gloo", "ps", "allgather"]
    def rate_key(s):  # "loopback" (no link) first, then by rate
        return -1.0 if s == "loopback" else float(s.rstrip("gbitmk"))

    for rate in sorted({k[0] for k in t}, key=rate_key):
        for P in sorted({k[1] for k in t if k[0] == rate}):
            sizes = sorted(k[2] for k in t if k[0] == rate and k[1] == P)
            print(f"\n**{rate}, P = {P}** (speedup of sv = baseline time / sv time)\n")
            print("| size (fp32 bytes) | sv time (us) | " + " | ".join(base) + " |")
            print("|---:|---:|" + "---:|" * len(base))
            for b in sizes:
                d = t[(rate, P, b)]
                sv = d.get("sv")
                if not sv:
                    continue
                cells = [f"{d[s] / sv:.2f}" if s in d else "" for s in base]
                print(f"| {human(b)} | {sv:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
