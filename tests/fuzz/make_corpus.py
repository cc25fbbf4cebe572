#!/usr/bin/python3
"""Regenerate the seed corpora of the fuzz harnesses (tests/fuzz/corpus/).

    /usr/bin/python3 tests/fuzz/make_corpus.py ALCM-PACK [CORPUS-DIR]

Seeds come from the committed fixtures (fixtures/valid, fixtures/invalid),
the bundled example (examples/emotion.safetensors, header only), the
inputs tests/cli/make_hostile.py writes, and the .npz / torch.save inputs
of tests/importers/make_inputs.py (numpy, torch) and make_hostile.py; ALCM-PACK packs the small valid
checkpoints into archives for the `open` harness. Everything is seeded or
copied, so a rerun writes the same files. This script never writes or
removes two kinds of files: `regress-*`, inputs that once exposed a bug,
and `found-*`, inputs the fuzzers found that add coverage (merged with
`fuzz_<harness> -merge=1`, at most 8 KiB each; see RELIABILITY.md).

Run with /usr/bin/python3 (Debian, has numpy, which make_hostile.py needs).
"""

import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTILE = os.path.join(ROOT, "tests", "cli", "make_hostile.py")
HARNESSES = ("open", "chunk", "safetensors", "npy", "npz", "pytorch", "roundtrip")
IMPORTERS = os.path.join(ROOT, "tests", "importers")
MAX_SEED = 64 << 10  # bytes; larger inputs only slow the fuzzers down

FRAME_MAGIC = b"ALCF"
FRAME_HEADER = 64
# frame element size -> a dtype id with that size (U8, F16, F32, F64)
DTYPE_FOR_SIZE = {1: 2, 2: 10, 4: 12, 8: 13}


def put(out, name, data):
    if len(data) <= MAX_SEED:
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def make_hostile(kind, folder):
    os.makedirs(folder, exist_ok=True)
    subprocess.run([sys.executable, HOSTILE, kind, folder], check=True,
                   stdout=subprocess.DEVNULL)
    return sorted(os.listdir(folder))


def chunk_seed(codec, transform, dtype, numel, payload, extra=0):
    return bytes([codec, transform, dtype - 1]) + struct.pack("<H", numel) + \
        bytes([extra]) + payload


def frames_of(archive):
    """(codec, transform, elem_size, raw_size, payload) of each chunk frame
    found by scanning for the frame magic; the fixtures are small."""
    data = open(archive, "rb").read()
    at = data.find(FRAME_MAGIC)
    while at >= 0 and at + FRAME_HEADER <= len(data):
        h = data[at:at + FRAME_HEADER]
        kind, transform, codec, es = h[4], h[5], h[6], h[7]
        raw, stored = struct.unpack_from("<QQ", h, 8)
        if kind == 1 and es in DTYPE_FOR_SIZE and at + FRAME_HEADER + stored <= len(data):
            yield codec, transform, es, raw, \
                data[at + FRAME_HEADER:at + FRAME_HEADER + stored]
        at = data.find(FRAME_MAGIC, at + 1)


def seeds_open(out, pack, tmp):
    for sub in ("valid", "invalid"):
        d = os.path.join(ROOT, "fixtures", sub)
        for n in sorted(os.listdir(d)):
            if n.endswith(".alcm"):
                put(out, f"{sub}-{n}", open(os.path.join(d, n), "rb").read())
    folder = os.path.join(tmp, "valid")
    for n in make_hostile("valid", folder):
        src = os.path.join(folder, n)
        if os.path.getsize(src) > 32 << 10:
            continue
        arc = os.path.join(tmp, n + ".alcm")
        subprocess.run([pack, "-q", "-f", "--chunk-size", "4096", src, "-o", arc],
                       check=True)
        put(out, f"packed-{n}.alcm", open(arc, "rb").read())


def seeds_chunk(out):
    seen = set()
    for n in sorted(os.listdir(os.path.join(ROOT, "fixtures", "valid"))):
        if not n.endswith(".alcm"):
            continue
        for codec, transform, es, raw, payload in frames_of(
                os.path.join(ROOT, "fixtures", "valid", n)):
            dtype = DTYPE_FOR_SIZE[es] if transform else 2
            size = 1 if transform == 0 else es
            if raw % size or raw // size > 0xFFFF:
                continue
            key = hashlib.sha256(payload).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            put(out, f"fixture-{n[:-5]}-{len(seen):03d}",
                chunk_seed(codec, transform, dtype, raw // size, payload))
    rng = random.Random(6)
    for transform in range(4):
        for es, dtype in DTYPE_FOR_SIZE.items():
            numel = 64
            raw = bytes(rng.randrange(4) for _ in range(numel * es))
            put(out, f"store-t{transform}-es{es}",
                chunk_seed(0, transform, dtype, numel, raw))
            put(out, f"zlib-t{transform}-es{es}",
                chunk_seed(2, transform, dtype, numel, zlib.compress(raw, 6)))
    put(out, "empty", chunk_seed(1, 0, 2, 0, b""))
    put(out, "odd-raw-size", chunk_seed(0, 0, 2, 5, b"abcdef", 1))


def seeds_importers(out_st, out_npy, tmp):
    folder = os.path.join(tmp, "imp-valid")
    for n in make_hostile("valid", folder):
        dest = out_st if n.endswith(".safetensors") else out_npy
        put(dest, f"valid-{n}", open(os.path.join(folder, n), "rb").read())
    folder = os.path.join(tmp, "imp-hostile")
    for n in make_hostile("hostile", folder):
        dest = out_st if n.endswith(".safetensors") else out_npy
        put(dest, f"hostile-{n}", open(os.path.join(folder, n), "rb").read())
    ex = open(os.path.join(ROOT, "examples", "emotion.safetensors"), "rb").read()
    hlen = struct.unpack_from("<Q", ex)[0]
    put(out_st, "emotion-header-only.safetensors", ex[:8 + hlen])


def seeds_zips(out_npz, out_pt, tmp):
    """.npz and torch.save files: the importer tests' real inputs (numpy,
    torch) and their hostile corpus. Without torch the real inputs are
    skipped (the hostile ones need only numpy)."""
    real = os.path.join(tmp, "zip-real")
    r = subprocess.run([sys.executable, os.path.join(IMPORTERS, "make_inputs.py"), real],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hostile = os.path.join(tmp, "zip-hostile")
    subprocess.run([sys.executable, os.path.join(IMPORTERS, "make_hostile.py"), hostile,
                    os.path.join(tmp, "canary")], check=True, stdout=subprocess.DEVNULL)
    for kind, folder in (("valid", os.path.join(real, "npz")), ("valid", os.path.join(real, "pt")),
                         ("hostile", hostile)):
        if not os.path.isdir(folder) or (kind == "valid" and r.returncode != 0):
            continue
        for n in sorted(os.listdir(folder)):
            data = open(os.path.join(folder, n), "rb").read()
            if n.endswith(".npz"):
                put(out_npz, f"{kind}-{n}", data)
            elif n.endswith(".pt"):
                put(out_pt, f"{kind}-{n}", data)


def seeds_roundtrip(out):
    rng = random.Random(2)
    for i in range(24):
        opts = bytes([i % 4, i % 3, rng.randrange(256), i % 6, i % 2])
        recs = b""
        for _ in range(rng.randrange(1, 5)):
            kind = rng.randrange(256)
            ndim = rng.randrange(4)
            recs += bytes([kind, ndim] + [rng.randrange(1, 48) for _ in range(ndim)])
        body = bytes(rng.randrange(256) if rng.random() < 0.3 else 0
                     for _ in range(rng.randrange(16, 600)))
        put(out, f"seed-{i:02d}", opts + recs + body)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    pack = os.path.abspath(sys.argv[1])
    corpus = sys.argv[2] if len(sys.argv) == 3 else \
        os.path.join(ROOT, "tests", "fuzz", "corpus")
    dirs = {h: os.path.join(corpus, h) for h in HARNESSES}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
        for n in os.listdir(d):
            if not n.startswith(("regress-", "found-")):
                os.remove(os.path.join(d, n))
    tmp = tempfile.mkdtemp(prefix="alcm-corpus.")
    try:
        seeds_open(dirs["open"], pack, tmp)
        seeds_chunk(dirs["chunk"])
        seeds_importers(dirs["safetensors"], dirs["npy"], tmp)
        seeds_zips(dirs["npz"], dirs["pytorch"], tmp)
        seeds_roundtrip(dirs["roundtrip"])
    finally:
        shutil.rmtree(tmp)
    total = 0
    for h, d in dirs.items():
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, n)) for n in files)
        total += size
        print(f"{h}: {len(files)} files, {size} bytes")
    print(f"total: {total} bytes")


if __name__ == "__main__":
    main()
