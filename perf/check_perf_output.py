#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check sv_allreduce_perf's output against what nccl-tests 2.19 parsers read.

  check_perf_output.py -- mpirun -np 3 sv_allreduce_perf ... [-I 1]

Runs the command with -J <tmp>.json added, then checks:
  - every table row (a line not starting with '#') has nccl-tests' 13
    columns (21 with -I 1), its redop is "vote" and #wrong is 0;
  - the JSON parses and has what tools/analyze_perf_json.py reads: version,
    config.iterations, config.devices[].hostname, results[] with size,
    count, type, redop, root, out_of_place/in_place {time, alg_bw, bus_bw,
    nwrong}; with -I, *_per_iter with min/max/avg/p99/cv and times_us equal
    to the max over per_process_max_times_us (that tool's consistency check);
  - the JSON results are the table rows (same sizes, times within rounding);
  - with --baseline, the '#+' rows of the baseline table match the JSON's
    "baselines" object, one row per size.
Exits non-zero with the first difference found.
"""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print(f"check_perf_output: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def close(a, b, rel=0.02, abs_=0.02):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        fail("no command")
    per_iter = any(a == "-I" and argv[i + 1] == "1" for i, a in enumerate(argv[:-1]))
    baselines = []
    for i, a in enumerate(argv[:-1]):
        if a == "--baseline":
            baselines = argv[i + 1].split(",")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "perf.json")
        out = subprocess.run(argv + ["-J", path], capture_output=True, text=True)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        if out.returncode != 0:
            fail(f"exit code {out.returncode}")
        data = json.load(open(path))

    rows = [l.split() for l in out.stdout.splitlines() if l.strip() and not l.startswith("#")]
    want_cols = 21 if per_iter else 13
    if not rows:
        fail("no table rows")
    for r in rows:
        if len(r) != want_cols:
            fail(f"row has {len(r)} columns, nccl-tests has {want_cols}: {' '.join(r)}")
        if r[3] != "vote":
            fail(f"redop {r[3]}")
    wrong_cols = (8, 16) if per_iter else (8, 12)
    for r in rows:
        for c in wrong_cols:
            if r[c] != "0":
                fail(f"#wrong {r[c]} in {' '.join(r)}")

    if data.get("version") != 3:
        fail(f"version {data.get('version')}")
    cfg = data["config"]
    for k in ("iterations", "aggregated_iterations", "warmup_iters", "minimum_bytes", "maximum_bytes", "devices"):
        if k not in cfg:
            fail(f"config.{k} missing")
    ranks = len(cfg["devices"])
    if ranks < 1 or any("hostname" not in dev for dev in cfg["devices"]):
        fail("config.devices without hostnames")
    res = data["results"]
    if len(res) != len(rows):
        fail(f"{len(res)} JSON results, {len(rows)} table rows")
    for r, row in zip(res, rows):
        for k in ("size", "count", "type", "redop", "root"):
            if k not in r:
                fail(f"result.{k} missing")
        if r["size"] != int(row[0]) or r["count"] != int(row[1]) or r["redop"] != "vote":
            fail(f"result {r['size']} does not match row {' '.join(row)}")
        tcols = {"out_of_place": 5, "in_place": 13 if per_iter else 9}
        for place, col in tcols.items():
            p = r[place]
            for k in ("time", "alg_bw", "bus_bw", "nwrong"):
                if k not in p:
                    fail(f"{place}.{k} missing")
            if not close(p["time"], float(row[col])):
                fail(f"{place} time {p['time']} vs table {row[col]}")
            if p["nwrong"] != 0:
                fail(f"{place}.nwrong {p['nwrong']}")
            key = place + "_per_iter"
            if per_iter:
                q = r.get(key)
                if q is None:
                    fail(f"{key} missing with -I 1")
                times = q["times_us"]
                if len(times) != cfg["iterations"]:
                    fail(f"{key}: {len(times)} times for {cfg['iterations']} iterations")
                rows_p = q.get("per_process_max_times_us", [])
                if ranks > 1:
                    if len(rows_p) != ranks:
                        fail(f"{key}: {len(rows_p)} process rows for {ranks} ranks")
                    maxes = [max(t[i] for t in rows_p) for i in range(len(times))]
                    if any(abs(a - b) >= 0.001 for a, b in zip(times, maxes)):
                        fail(f"{key}: times_us is not the max over process rows")
                kept = sorted(times[q["skipped_iterations"]:])
                if not (close(q["min_us"], kept[0]) and close(q["max_us"], kept[-1])):
                    fail(f"{key}: min/max {q['min_us']}/{q['max_us']} vs times {kept[0]}/{kept[-1]}")
                if not kept[0] <= q["p50_us"] <= q["p99_us"] <= kept[-1] + 1e-6:
                    fail(f"{key}: percentiles out of order")
                for k in ("avg_us", "p95_us", "stdev_us", "cv_pct"):
                    if k not in q:
                        fail(f"{key}.{k} missing")
            elif key in r:
                fail(f"{key} without -I 1")

    btable = [l.split() for l in out.stdout.splitlines() if l.startswith("#+")]
    if baselines:
        if len(btable) != len(rows):
            fail(f"{len(btable)} baseline rows for {len(rows)} sizes")
        for b, r in zip(btable, res):
            if int(b[1]) != r["size"]:
                fail(f"baseline row size {b[1]} vs {r['size']}")
            for i, name in enumerate(baselines):
                j = r["baselines"][name]
                t = j["p50_us" if per_iter else "time"]
                if not close(t, float(b[3 + 2 * i])):
                    fail(f"baseline {name} at {r['size']}: table {b[3 + 2 * i]}, JSON {t}")
                if not close(j["speedup"], t / float(b[2]), rel=0.05):
                    fail(f"baseline {name} speedup {j['speedup']}")
    elif btable:
        fail("baseline table without --baseline")
    if data["out_of_bounds"]["count"] != 0 or not data["out_of_bounds"]["okay"]:
        fail("out_of_bounds not zero")
    print(f"check_perf_output: OK ({len(rows)} rows, {ranks} ranks, per-iteration {'on' if per_iter else 'off'})")


if __name__ == "__main__":
    main()
