#!/usr/bin/python3
"""adaptive_report.py - Markdown tables for BENCHMARKS.md "Adaptive (lossy)
mode" from the outputs of bench/adaptive_run.sh.

    /usr/bin/python3 bench/adaptive_report.py adaptive_bench.txt \\
        adaptive_rd.json adaptive_experiment.json

Matched SNR: a baseline's ratio at the SNR of an ALCM point is linearly
interpolated in (SNR, log ratio) between the baseline's two nearest
points; outside the baseline's measured range it is "-".
"""

import json
import math
import sys


def interp(points, snr):
    pts = sorted((p["snr_db"], p["ratio"]) for p in points)
    for (s0, r0), (s1, r1) in zip(pts, pts[1:]):
        if s0 <= snr <= s1:
            t = (snr - s0) / (s1 - s0) if s1 > s0 else 0
            return math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0)))
    return None


def fmt(v, f="%.2fx"):
    return "-" if v is None else f % v


def bench_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.startswith("("):
                continue
            label = line[:24].strip()
            v = line[24:].split()
            rows.append({"label": label, "snr_db": float(v[0]),
                         "ratio_zstd": float(v[3].rstrip("x")),
                         "info": float(v[5].rstrip("x"))})
    return rows


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    bench = bench_rows(argv[0])
    rd = json.load(open(argv[1]))
    ex = json.load(open(argv[2]))

    print("#### Through the pack path (file bytes / archive bytes)\n")
    uni = rd["uniform_pack"]
    zfp = rd["zfp"] or []
    # the baseline: at each b the better of zstd -1 and -19
    base = {}
    for p in rd["baseline"]:
        if p["bits"] not in base or p["ratio"] > base[p["bits"]]["ratio"]:
            base[p["bits"]] = p
    base = [base[b] for b in sorted(base)]
    print("| ALCM `--snr-db` (per tensor) | SNR dB (all tensors) | ALCM ratio "
          "| baseline: per-channel absmax int-b + zstd, at equal SNR | ALCM "
          "vs baseline | uniform int-b, same container, at equal SNR | ALCM "
          "vs uniform | ZFP at equal SNR | ALCM vs ZFP |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in rd["alcm"]:
        b = interp(base, p["snr_db"])
        u = interp(uni, p["snr_db"])
        z = interp(zfp, p["snr_db"])
        print("| %d | %.1f | %.2fx | %s | %s | %s | %s | %s | %s |" % (
            p["target_db"], p["snr_db"], p["ratio"], fmt(b),
            fmt(b and 100 * (p["ratio"] / b - 1), "%+.0f %%"), fmt(u),
            fmt(u and 100 * (p["ratio"] / u - 1), "%+.0f %%"), fmt(z),
            fmt(z and 100 * (p["ratio"] / z - 1), "%+.0f %%")))
    print("\n| baseline point | zstd | SNR dB (all tensors) | per-tensor SNR "
          "min / median | baseline ratio | ALCM ratio at that SNR | ALCM vs "
          "baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for p in base:
        a = interp(rd["alcm"], p["snr_db"])
        print("| int%d | -%d | %.1f | %.1f / %.1f | %.2fx | %s | %s |" % (
            p["bits"], p["zstd_level"], p["snr_db"], p["tensor_snr_min"],
            p["tensor_snr_median"], p["ratio"], fmt(a),
            fmt(a and 100 * (a / p["ratio"] - 1), "%+.0f %%")))
    print("\n| ALCM `--snr-db` | per-tensor SNR min / median (quantized "
          "tensors) | tensors quantized |")
    print("|---:|---:|---:|")
    for p in rd["alcm"]:
        print("| %d | %.1f / %.1f | %d |" % (
            p["target_db"], p["tensor_snr_min"], p["tensor_snr_median"],
            p["adaptive_tensors"]))
    print("\n| baseline int-b, zstd -1 / -19 | SNR dB | ratio -1 | ratio -19 |")
    print("|---|---:|---:|---:|")
    for b in sorted({p["bits"] for p in rd["baseline"]}):
        r = {p["zstd_level"]: p for p in rd["baseline"] if p["bits"] == b}
        print("| int%d | %.1f | %.2fx | %.2fx |" % (
            b, r[1]["snr_db"], r[1]["ratio"], r[19]["ratio"]))
    if rd.get("alcm_axis0"):
        print("\n| ALCM `--snr-db`, default channel axis 0 | SNR dB | ratio "
              "| axis last at equal SNR |")
        print("|---:|---:|---:|---:|")
        for p in rd["alcm_axis0"]:
            print("| %d | %.1f | %.2fx | %s |" % (
                p["target_db"], p["snr_db"], p["ratio"],
                fmt(interp(rd["alcm"], p["snr_db"]))))
    ax0 = rd.get("uniform_pack_axis0") or [{} for _ in uni]
    print("\n| uniform int-b (pack, config base = min = b, no pruning) | "
          "SNR dB, axis last | ratio | SNR dB, axis 0 | ratio | ALCM at "
          "axis 0's SNR |")
    print("|---|---:|---:|---:|---:|---:|")
    for p, q in zip(uni, ax0):
        a = interp(rd["alcm"], q["snr_db"]) if q else None
        print("| int%d | %.1f | %.2fx | %s | %s | %s |" % (
            p["bits"], p["snr_db"], p["ratio"],
            fmt(q.get("snr_db"), "%.1f"), fmt(q.get("ratio")), fmt(a)))
    if zfp:
        print("\n| ZFP fixed accuracy, tolerance r x max\\|x\\| | SNR dB | "
              "ratio |")
        print("|---|---:|---:|")
        for p in zfp:
            print("| r = %g | %.1f | %.2fx |" % (p["rel_tolerance"],
                                              p["snr_db"], p["ratio"]))

    print("\n#### Encoder only, weight tensors (alcm-bench-adaptive, codes "
          "+ needed sections, zstd -1)\n")
    uniform = [{"snr_db": r["snr_db"], "ratio": r["ratio_zstd"]}
               for r in bench if r["label"].startswith("(c)")]
    print("| method | SNR dB | ratio (+zstd-1) | uniform int-b + zstd -1 at "
          "equal SNR | vs uniform | ratio with entropy map + statistics |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in bench:
        u = interp(uniform, r["snr_db"])
        print("| %s | %.1f | %.2fx | %s | %s | %.2fx |" % (
            r["label"], r["snr_db"], r["ratio_zstd"], fmt(u),
            fmt(u and 100 * (r["ratio_zstd"] / u - 1), "%+.0f %%"),
            r["info"]))

    for key in ("synthetic", "real"):
        x = ex[key]
        print("\n#### Epoch experiment, %s: %s\n" % (key, x["what"]))
        print("| epoch | npz ratio | npz CAQ | ALCM ratio | ALCM CAQ | "
              "ALCM CAQ (archive) | threshold | pruned | min tensor SNR dB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in x["runs"][0]:
            n, a = r["npz"], r["alcm"]
            print("| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.5f | %.4f | "
                  "%.1f |" % (r["epoch"], n["ratio"], n["caq"], a["ratio"],
                              a["caq"], a["caq_archive"], a["threshold"],
                              a["pruned"], a["snr_db_min"]))
        print("\nRun 1 shown. Over 3 runs: mean CAQ gain (ALCM / npz) "
              "%.3f, per run %s, variance %.2e; mean ratio gain %.3f, "
              "variance %.2e." % (
                  x["mean_caq_gain"],
                  ", ".join("%.3f" % g for g in x["caq_gain_per_run"]),
                  x["caq_gain_run_variance"], x["mean_ratio_gain"],
                  x["ratio_gain_run_variance"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
