#!/usr/bin/python3
"""peers.py - the Python peers on safetensors files: NumPy savez_compressed
and blosc (zstd level 5 with byte shuffle and with bitshuffle, lz4 with
bitshuffle). One JSON object per line per file and method, the same fields
as alcm-bench:

    /usr/bin/python3 bench/peers.py [-r REPS] FILE.safetensors...

Run with the Debian interpreter (python3-numpy, python3-blosc).

- The file is parsed here (8-byte length, JSON header, np.frombuffer per
  tensor; BF16 travels as its uint16 bits, NumPy has no bfloat16).
- savez_compressed: every tensor of the file into one in-memory .npz;
  decompress = np.load and materialise every array.
- blosc: every tensor compressed on its own with typesize = element size,
  one thread (blosc.set_nthreads(1)); the safetensors header is counted as
  stored raw, so the figure is for rebuilding the whole file.
- Single thread, best of REPS (default 3) wall-clock runs
  (time.perf_counter); cpu_s is the least process CPU time
  (time.process_time) of the compress runs. Every round trip is compared
  with the input; a difference is fatal.
ratio = file bytes / compressed bytes, MB/s = 1e6 file bytes per second,
caq = ratio / (cpu_s + 1).
"""

import argparse
import io
import json
import os
import sys
import time

import numpy as np

try:
    import blosc
except ImportError:  # reported per method below, so npz still runs
    blosc = None

NP_DTYPE = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
            "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
            "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
            "BOOL": "u1", "F8_E4M3": "u1", "F8_E5M2": "u1"}


class Input:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        n = int.from_bytes(self.data[:8], "little")
        if len(self.data) < 8 or n > len(self.data) - 8:
            raise SystemExit("peers: %s: not a safetensors file" % path)
        self.head = 8 + n
        header = json.loads(self.data[8:self.head])
        self.path = path
        self.label = "/".join(os.path.abspath(path).split("/")[-2:])
        self.tensors = []  # (name, ndarray view of the file bytes)
        per_dtype = {}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            dt = np.dtype(NP_DTYPE[t["dtype"]])
            b, e = t["data_offsets"]
            arr = np.frombuffer(self.data, dtype=dt, count=(e - b) // dt.itemsize,
                                offset=self.head + b).reshape(t["shape"])
            self.tensors.append((name, arr))
            per_dtype[t["dtype"]] = per_dtype.get(t["dtype"], 0) + (e - b)
        self.dtype = max(per_dtype, key=per_dtype.get) if per_dtype else "none"


def best_of(reps, fn):
    """Run fn reps times; return (least wall s, least CPU s, last result)."""
    wall = cpu = float("inf")
    out = None
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w1, c1 = time.perf_counter(), time.process_time()
        wall, cpu = min(wall, w1 - w0), min(cpu, c1 - c0)
    return wall, cpu, out


def row(inp, method, compressed, comp, decomp, reps):
    size = len(inp.data)
    ratio = size / compressed
    return {"file": inp.label, "dtype": inp.dtype, "method": method,
            "ratio": ratio, "compress_MBps": size / 1e6 / comp[0],
            "decompress_MBps": size / 1e6 / decomp[0], "cpu_s": comp[1],
            "caq": ratio / (comp[1] + 1), "bytes": size,
            "compressed_bytes": compressed, "compress_s": comp[0],
            "decompress_s": decomp[0], "runs": reps}


def bench_npz(inp, reps):
    arrays = dict(inp.tensors)
    if "file" in arrays:  # savez_compressed's own first parameter
        raise SystemExit("peers: %s: a tensor named 'file'" % inp.path)

    def comp():
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    c = best_of(reps, comp)
    blob = c[2]

    def decomp():
        with np.load(io.BytesIO(blob)) as z:
            return {k: z[k] for k in z.files}

    d = best_of(reps, decomp)
    for name, arr in inp.tensors:
        back = d[2][name]
        if back.dtype != arr.dtype or back.tobytes() != arr.tobytes():
            raise SystemExit("peers: ROUND TRIP MISMATCH: %s: npz '%s'"
                             % (inp.path, name))
    return row(inp, "npz", len(blob), c, d, reps)


def bench_blosc(inp, reps, cname, shuffle, method):
    views = [(memoryview(a).cast("B"), a.dtype.itemsize) for _, a in inp.tensors]

    def comp():
        return [blosc.compress(v, typesize=ts, clevel=5, shuffle=shuffle,
                               cname=cname) for v, ts in views]

    c = best_of(reps, comp)
    parts = c[2]
    d = best_of(reps, lambda: [blosc.decompress(p) for p in parts])
    for (v, _), back in zip(views, d[2]):
        if back != v.tobytes():
            raise SystemExit("peers: ROUND TRIP MISMATCH: %s: %s"
                             % (inp.path, method))
    size = inp.head + sum(len(p) for p in parts)
    return row(inp, method, size, c, d, reps)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    if blosc is None:
        print("peers: python3-blosc is not installed; blosc rows skipped",
              file=sys.stderr)
    else:
        blosc.set_nthreads(1)
    for path in args.files:
        inp = Input(path)
        print("peers: %s" % inp.label, file=sys.stderr)
        rows = [bench_npz(inp, args.reps)]
        if blosc is not None:
            rows.append(bench_blosc(inp, args.reps, "zstd", blosc.SHUFFLE,
                                    "blosc-zstd5-shuffle"))
            rows.append(bench_blosc(inp, args.reps, "zstd", blosc.BITSHUFFLE,
                                    "blosc-zstd5-bitshuffle"))
            rows.append(bench_blosc(inp, args.reps, "lz4", blosc.BITSHUFFLE,
                                    "blosc-lz4-bitshuffle"))
        for r in rows:
            print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
