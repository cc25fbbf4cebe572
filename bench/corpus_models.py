#!/usr/bin/python3
"""Print the benchmark's models: the N largest tfjs models of an unpacked
npm package whose weights are all plain float32/int32/bool (no quantization),
ranked by the bytes of their .bin shards, one name per line, largest first.

    /usr/bin/python3 bench/corpus_models.py PACKAGE_DIR [N]

Quantized models (float16 or uint8 'quantization' entries) are left out: they
are not the trained float32 values, so their bit statistics say nothing about
real weights.
"""

import glob
import json
import os
import sys


def plain_float32(model):
    manifest = model.get("weightsManifest") or []
    has_float = False
    for group in manifest:
        for w in group.get("weights", []):
            if "quantization" in w or w.get("dtype") not in ("float32", "int32",
                                                             "bool"):
                return False
            has_float |= w.get("dtype") == "float32"
    return has_float


def shard_bytes(model, base):
    return sum(os.path.getsize(os.path.join(base, p))
               for g in model["weightsManifest"] for p in g.get("paths", []))


def main(argv):
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    n = int(argv[1]) if len(argv) == 2 else 7
    rows = []
    for path in glob.glob(os.path.join(argv[0], "models", "*.json")):
        with open(path, "rb") as f:
            model = json.load(f)
        if not isinstance(model, dict) or not plain_float32(model):
            continue
        base = os.path.dirname(path)
        name = os.path.splitext(os.path.basename(path))[0]
        rows.append((-shard_bytes(model, base), name))
    for _, name in sorted(rows)[:n]:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
