#!/usr/bin/python3
"""gradients.py - the source documents' own experiment, redone: a 100x100
float64 standard-normal "gradient" per epoch (seeded), 10 epochs, the
baseline np.savez_compressed against ALCM lossless (the gradient saved as
.npy and packed by the alcm-pack program with its defaults).

    /usr/bin/python3 bench/gradients.py ALCM_PACK [SCRATCH_DIR]

One JSON object per line per epoch and method (method "npz" or "alcm"),
file "gradients/epoch-NN", then one per method with file "gradients/mean"
(the mean of the epochs' figures).

- ratio = 80,000 raw array bytes / compressed bytes (the .npz, or the
  .alcm archive, which also holds the .npy header to restore the file).
- npz time is the in-process np.savez_compressed call; its CPU time is the
  process CPU time of that call.
- alcm time is the whole alcm-pack run as a child process (start-up and
  the atomic file commit included) on SCRATCH_DIR (default /dev/shm); its
  CPU time is the child's user + system time.
- caq = ratio / (cpu_s + 1). Every ALCM archive is unpacked again with
  alcm-unpack and compared with the .npy bytes; a difference is fatal.
- limit-byteplane: the order-0 limit of the array's eight byte planes, each
  coded at its own entropy (tables free), per epoch; limit-field: sign,
  11-bit exponent and the 52-bit mantissa as its seven byte-sized pieces
  (bits 0-7, ..., 40-47, 48-51).
"""

import io
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SEED = 20240601
EPOCHS = 10
SHAPE = (100, 100)


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_npz(g):
    w0, c0 = time.perf_counter(), time.process_time()
    buf = io.BytesIO()
    np.savez_compressed(buf, gradients=g)
    w1, c1 = time.perf_counter(), time.process_time()
    return len(buf.getvalue()), w1 - w0, c1 - c0


def run_alcm(g, pack, scratch):
    npy = os.path.join(scratch, "alcm-gradients-%d.npy" % os.getpid())
    arc = npy + ".alcm"
    back = npy + ".back.npy"
    np.save(npy, g)
    w0, c0 = time.perf_counter(), child_cpu()
    subprocess.run([pack, "-q", "-f", "-o", arc, npy], check=True)
    w1, c1 = time.perf_counter(), child_cpu()
    size = os.path.getsize(arc)
    unpack = os.path.join(os.path.dirname(pack), "alcm-unpack")
    subprocess.run([unpack, "-q", "-f", "-o", back, arc], check=True)
    with open(npy, "rb") as a, open(back, "rb") as b:
        if a.read() != b.read():
            raise SystemExit("gradients: ROUND TRIP MISMATCH: %s" % arc)
    for p in (npy, arc, back):
        os.unlink(p)
    return size, w1 - w0, c1 - c0


def entropy_bits(symbols):
    counts = np.unique(symbols, return_counts=True)[1].astype(np.float64)
    n = counts.sum()
    return float(n * np.log2(n) - (counts * np.log2(counts)).sum())


def limits(g):
    u = g.astype("<f8").reshape(-1).view("<u8")
    planes = sum(entropy_bits((u >> np.uint64(8 * b)) & np.uint64(0xFF))
                 for b in range(8))
    fields = [(63, 1), (52, 11)] + [(8 * b, 8) for b in range(6)] + [(48, 4)]
    field = sum(entropy_bits((u >> np.uint64(s)) & np.uint64((1 << k) - 1))
                for s, k in fields)
    return planes / 8, field / 8


def limit_row(label, method, raw, size):
    return {"file": label, "dtype": "F64", "method": method,
            "ratio": raw / size, "compress_MBps": None,
            "decompress_MBps": None, "cpu_s": None, "caq": None,
            "bytes": raw, "compressed_bytes": size, "compress_s": None,
            "decompress_s": None, "runs": 0}


def row(label, method, raw, size, wall, cpu):
    ratio = raw / size
    return {"file": label, "dtype": "F64", "method": method, "ratio": ratio,
            "compress_MBps": raw / 1e6 / wall, "decompress_MBps": None,
            "cpu_s": cpu, "caq": ratio / (cpu + 1), "bytes": raw,
            "compressed_bytes": size, "compress_s": wall,
            "decompress_s": None, "runs": 1}


def main(argv):
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    pack = os.path.abspath(argv[0])
    scratch = argv[1] if len(argv) == 2 else "/dev/shm"
    rng = np.random.default_rng(SEED)
    rows = []
    for epoch in range(1, EPOCHS + 1):
        g = rng.standard_normal(SHAPE)  # float64
        label = "gradients/epoch-%02d" % epoch
        rows.append(row(label, "npz", g.nbytes, *run_npz(g)))
        rows.append(row(label, "alcm", g.nbytes, *run_alcm(g, pack, scratch)))
        planes, field = limits(g)
        rows.append(limit_row(label, "limit-byteplane", g.nbytes, planes))
        rows.append(limit_row(label, "limit-field", g.nbytes, field))
    for method in ("npz", "alcm", "limit-byteplane", "limit-field"):
        mine = [r for r in rows if r["method"] == method]
        keys = ("ratio", "compressed_bytes", "compress_MBps", "cpu_s", "caq",
                "compress_s") if method in ("npz", "alcm") else \
            ("ratio", "compressed_bytes")
        mean = {k: sum(r[k] for r in mine) / len(mine) for k in keys}
        rows.append(dict(mine[0], file="gradients/mean", runs=len(mine),
                         **mean))
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
