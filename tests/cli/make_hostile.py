#!/usr/bin/python3
"""Input generator and helpers for the CLI tests (tests/cli/*.sh).

Run with /usr/bin/python3 (Debian, has numpy). Subcommands:

  valid DIR          write valid safetensors (F32, F16, BF16, mixed dtypes,
                     multi-chunk) and .npy files (several dtypes, Fortran
                     order, 0-d, big-endian, empty, format 2.0) into DIR;
                     prints one file name per line
  hostile DIR        write malformed safetensors and .npy files into DIR;
                     prints "name<TAB>why" per line
  small FILE         write a small valid safetensors file for the bit-flip
                     sweep
  tensor ST NAME OUT write tensor NAME of safetensors file ST as OUT (.npy)
  npyeq A B          exit 0 if .npy files A and B hold equal arrays (same
                     dtype, shape and bytes; order and byte order may differ)
  sweep ARCHIVE SOURCE INSPECT UNPACK WORKDIR
                     flip each byte of ARCHIVE (xor 0x01) in turn and check
                     that `INSPECT --verify` exits 2 and that UNPACK fails
                     (exit 2) leaving no file behind

Everything is seeded: the same files come out every run.
"""

import json
import os
import subprocess
import sys
import concurrent.futures

import numpy as np

RNG_SEED = 20240611


# ---- safetensors writing ---------------------------------------------------

def bf16_bits(a):
    """float32 -> bfloat16 bit patterns, round to nearest even, NaN kept."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    r = ((u + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)
    nan = ((u >> np.uint64(16)).astype(np.uint16)) | np.uint16(0x40)
    return np.where(np.isnan(a), nan, r).astype("<u2")


ST_DTYPE = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8",
            "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "U16": "<u2",
            "U32": "<u4", "U64": "<u8", "BOOL": "u1", "BF16": "<u2"}


def st_bytes(tensors, metadata=None):
    """tensors: list of (name, st_dtype, shape, raw bytes) in data order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape),
                        "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + b"".join(t[3] for t in tensors)


def st_raw_header(header_obj, data=b"", pad=True):
    h = json.dumps(header_obj, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + data


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def trained_like(rng, shape, scale=0.05):
    """Weights shaped like a trained layer's: near-Gaussian, small."""
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def make_valid(d):
    rng = np.random.default_rng(RNG_SEED)
    os.makedirs(d, exist_ok=True)
    names = []

    def st(name, tensors, metadata=None):
        write(os.path.join(d, name), st_bytes(tensors, metadata))
        names.append(name)

    w = trained_like(rng, (64, 48))
    b = trained_like(rng, (48,), 0.01)
    e = trained_like(rng, (100, 16), 1.0)
    st("f32.safetensors",
       [("layer.0.weight", "F32", w.shape, w.tobytes()),
        ("layer.0.bias", "F32", b.shape, b.tobytes()),
        ("embed", "F32", e.shape, e.tobytes())],
       {"format": "pt"})
    st("f16.safetensors",
       [("w", "F16", w.shape, w.astype("<f2").tobytes()),
        ("b", "F16", b.shape, b.astype("<f2").tobytes())])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, 3.4e38,
                        1.0, -1.0, 65504.0], dtype=np.float32)
    st("bf16.safetensors",
       [("w", "BF16", w.shape, bf16_bits(w).tobytes()),
        ("special", "BF16", special.shape, bf16_bits(special).tobytes()),
        ("b", "BF16", b.shape, bf16_bits(b).tobytes())])
    ints = rng.integers(-1000, 1000, size=(7, 5))
    st("mixed.safetensors",
       [("f64", "F64", (3, 3), rng.standard_normal((3, 3)).tobytes()),
        ("i64", "I64", ints.shape, ints.astype("<i8").tobytes()),
        ("i32", "I32", ints.shape, ints.astype("<i4").tobytes()),
        ("i16", "I16", ints.shape, ints.astype("<i2").tobytes()),
        ("i8", "I8", (5,), np.arange(-2, 3, dtype="i1").tobytes()),
        ("u8", "U8", (2, 3), np.arange(6, dtype="u1").tobytes()),
        ("flag", "BOOL", (4,), bytes([1, 0, 0, 1])),
        ("scalar", "F32", (), np.float32(3.5).tobytes()),
        ("empty", "F32", (0, 3), b""),
        ("one", "F32", (1,), np.float32(-2.0).tobytes())],
       {"note": "mixed dtypes", "z": "last"})
    big = trained_like(rng, (300, 256))  # 307,200 bytes: several 64 KiB chunks
    st("multichunk.safetensors",
       [("big", "F32", big.shape, big.tobytes()),
        ("small", "BF16", (3,), bf16_bits(big[0, :3]).tobytes())])
    st("notensors.safetensors", [], {"only": "metadata"})

    def npy(name, arr, version=None):
        path = os.path.join(d, name)
        if version is None:
            np.save(path, arr, allow_pickle=False)
        else:
            with open(path, "wb") as f:
                np.lib.format.write_array(f, arr, version=version,
                                          allow_pickle=False)
        names.append(name)

    npy("f32_2d.npy", trained_like(rng, (33, 17)))
    npy("f64_fortran.npy", np.asfortranarray(rng.standard_normal((4, 5, 6))))
    npy("i16.npy", rng.integers(-30000, 30000, size=(123,)).astype("<i2"))
    npy("u8.npy", rng.integers(0, 256, size=(10, 10)).astype("u1"))
    npy("bool.npy", rng.integers(0, 2, size=(3, 7)).astype(bool))
    npy("scalar0d.npy", np.array(1.25, dtype=np.float32))
    npy("i64_be.npy", np.arange(-5, 20, dtype=">i8"))
    npy("f16.npy", trained_like(rng, (16, 16)).astype("<f2"))
    npy("empty.npy", np.zeros((0, 4), dtype=np.float32))
    npy("u32_v2.npy", np.arange(50, dtype="<u4").reshape(5, 10), (2, 0))
    return names


def make_small(path):
    """A valid safetensors file whose archive stays well under 8 KiB."""
    rng = np.random.default_rng(RNG_SEED + 1)
    w = trained_like(rng, (8, 16))
    b = np.arange(8, dtype="<i4")
    write(path, st_bytes([("w", "F32", w.shape, w.tobytes()),
                          ("idx", "I32", b.shape, b.tobytes())]))


# ---- hostile inputs --------------------------------------------------------

def npy_bytes(descr, shape, fortran=False, data=b"", header_len=None,
              magic=b"\x93NUMPY", version=b"\x01\x00"):
    d = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (
        repr(descr), "True" if fortran else "False",
        repr(tuple(shape)))
    h = d.encode("latin1")
    total = len(magic) + 2 + 2 + len(h) + 1
    h += b" " * (-total % 64) + b"\n"
    n = len(h) if header_len is None else header_len
    return magic + version + n.to_bytes(2, "little") + h + data


def npy_raw(header, data):
    """A version 1.0 .npy file with the given header text, padded to 64."""
    h = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def make_hostile(d):
    os.makedirs(d, exist_ok=True)
    out = []

    def add(name, why, data):
        write(os.path.join(d, name), data)
        out.append((name, why))

    f4 = np.arange(6, dtype="<f4").tobytes()  # 24 bytes
    t = {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}

    add("st_hlen_huge.safetensors", "header length 2^63",
        (1 << 63).to_bytes(8, "little") + b"{}      ")
    add("st_hlen_past_eof.safetensors", "header length past end of file",
        (1000).to_bytes(8, "little") + b'{"a":1}')
    add("st_short.safetensors", "file shorter than the length field",
        b"\x10\x00\x00")
    add("st_not_json.safetensors", "header is not JSON",
        (8).to_bytes(8, "little") + b"{not js}")
    add("st_overlap.safetensors", "overlapping data offsets",
        st_raw_header({"a": t, "b": {"dtype": "F32", "shape": [2, 3],
                                     "data_offsets": [8, 32]}},
                      f4 + f4[:8]))
    add("st_gap.safetensors", "gap between tensors",
        st_raw_header({"a": t, "b": {"dtype": "F32", "shape": [2],
                                     "data_offsets": [32, 40]}},
                      f4 + b"\0" * 16))
    add("st_shape_overflow.safetensors", "shape product overflows 64 bits",
        st_raw_header({"a": {"dtype": "F32",
                             "shape": [1 << 40, 1 << 40, 1 << 40],
                             "data_offsets": [0, 24]}}, f4))
    add("st_shape_mismatch.safetensors", "shape disagrees with offsets",
        st_raw_header({"a": {"dtype": "F32", "shape": [4, 3],
                             "data_offsets": [0, 24]}}, f4))
    add("st_truncated.safetensors", "data shorter than declared",
        st_raw_header({"a": t}, f4[:10]))
    add("st_trailing.safetensors", "bytes after the last tensor",
        st_raw_header({"a": t}, f4 + b"junkjunk"))
    add("st_bad_dtype.safetensors", "unknown dtype",
        st_raw_header({"a": {"dtype": "Q7", "shape": [2, 3],
                             "data_offsets": [0, 24]}}, f4))
    add("st_neg_offset.safetensors", "negative offset",
        st_raw_header({"a": {"dtype": "F32", "shape": [2, 3],
                             "data_offsets": [-24, 0]}}, f4))
    dup = (b'{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},'
           b'"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24,48]}}')
    add("st_dup_name.safetensors", "duplicate tensor name",
        len(dup).to_bytes(8, "little") + dup + f4 + f4)
    add("st_offsets_reversed.safetensors", "begin after end",
        st_raw_header({"a": {"dtype": "F32", "shape": [0],
                             "data_offsets": [24, 0]}}, f4))

    data = np.arange(6, dtype="<f4").tobytes()
    add("npy_object.npy", "object dtype",
        npy_bytes("|O", (2,), data=b"\0" * 16))
    add("npy_truncated.npy", "data shorter than shape implies",
        npy_bytes("<f4", (2, 3), data=data[:20]))
    add("npy_trailing.npy", "bytes after the array data",
        npy_bytes("<f4", (2, 3), data=data + b"xx"))
    add("npy_shape_overflow.npy", "shape product overflows 64 bits",
        npy_bytes("<f4", (1 << 40, 1 << 40, 1 << 40), data=data))
    add("npy_bad_magic.npy", "bad magic",
        npy_bytes("<f4", (2, 3), data=data, magic=b"\x93NUMPZ"))
    add("npy_hlen_past_eof.npy", "header length past end of file",
        npy_bytes("<f4", (2, 3), data=b"", header_len=0xFFFF))
    add("npy_bad_version.npy", "unknown format version 9.0",
        npy_bytes("<f4", (2, 3), data=data, version=b"\x09\x00"))
    add("npy_bad_descr.npy", "unknown dtype descr",
        npy_bytes("<q7", (2, 3), data=data))
    add("npy_struct.npy", "structured dtype (valid .npy, not a tensor)",
        npy_raw(b"{'descr': [('a', '<f4')], 'fortran_order': False, "
                b"'shape': (6,), }", data))
    add("npy_garbage_header.npy", "header is not a dict literal",
        npy_raw(b"__import__('os').system('false')", data))
    add("npy_empty_file.npy", "empty file", b"")
    return out


# ---- helpers for the shell tests -------------------------------------------

def st_read(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def extract_tensor(st, name, out):
    header, data = st_read(st)
    t = header[name]
    b, e = t["data_offsets"]
    arr = np.frombuffer(data[b:e], dtype=ST_DTYPE[t["dtype"]])
    if t["dtype"] == "BOOL":
        arr = arr.astype(bool)
    np.save(out, arr.reshape(t["shape"]), allow_pickle=False)


def npy_equal(a, b):
    x = np.load(a, allow_pickle=False)
    y = np.load(b, allow_pickle=False)
    if x.shape != y.shape or x.dtype.newbyteorder("=") != \
            y.dtype.newbyteorder("="):
        print("npyeq: %s %s%s vs %s %s%s" % (a, x.dtype, x.shape, b, y.dtype,
                                            y.shape), file=sys.stderr)
        return 1
    xb = np.ascontiguousarray(x.astype(x.dtype.newbyteorder("<"))).tobytes()
    yb = np.ascontiguousarray(y.astype(y.dtype.newbyteorder("<"))).tobytes()
    if xb != yb:
        print("npyeq: %s and %s differ in values" % (a, b), file=sys.stderr)
        return 1
    return 0


SANITIZER_MARKS = (b"AddressSanitizer", b"runtime error:",
                   b"LeakSanitizer", b"Segmentation fault")


def sweep(archive, source_path, inspect, unpack, workdir):
    """Bit-flip sweep; see the module docstring. Prints a summary line and
    returns the number of failures."""
    with open(archive, "rb") as f:
        orig = f.read()
    with open(source_path, "rb") as f:
        source = f.read()
    os.makedirs(workdir, exist_ok=True)

    def one(i):
        d = os.path.join(workdir, "f%d" % i)
        os.mkdir(d)
        bad = bytearray(orig)
        bad[i] ^= 0x01
        arc = os.path.join(d, "x.alcm")
        with open(arc, "wb") as f:
            f.write(bad)
        problems = []
        v = subprocess.run([inspect, "--verify", arc], capture_output=True,
                           timeout=60)
        if v.returncode != 2:
            problems.append("verify exit %d (want 2)" % v.returncode)
        if any(m in v.stderr for m in SANITIZER_MARKS):
            problems.append("verify: sanitizer report")
        out = os.path.join(d, "out.bin")
        u = subprocess.run([unpack, arc, "-o", out], capture_output=True,
                           timeout=60)
        left = sorted(set(os.listdir(d)) - {"x.alcm"})
        if any(m in u.stderr for m in SANITIZER_MARKS):
            problems.append("unpack: sanitizer report")
        if u.returncode == 0:
            with open(out, "rb") as f:
                same = f.read() == source
            problems.append("unpack exit 0 (%s output)"
                            % ("identical" if same else "WRONG"))
        else:
            if u.returncode != 2:
                problems.append("unpack exit %d (want 2)" % u.returncode)
            if left:
                problems.append("unpack left %s" % ",".join(left))
            if not u.stderr.strip():
                problems.append("unpack: no message")
        if not problems:
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
            os.rmdir(d)
        return i, problems

    failures = 0
    workers = int(os.environ.get("ALCM_SWEEP_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        for i, problems in ex.map(one, range(len(orig))):
            if problems:
                failures += 1
                if failures <= 20:
                    print("FAIL: offset %d (byte 0x%02x): %s"
                          % (i, orig[i], "; ".join(problems)))
    print("sweep: %d offsets, %d failed" % (len(orig), failures))
    return failures


def main(argv):
    if len(argv) >= 2 and argv[0] == "valid":
        print("\n".join(make_valid(argv[1])))
    elif len(argv) >= 2 and argv[0] == "hostile":
        for name, why in make_hostile(argv[1]):
            print("%s\t%s" % (name, why))
    elif len(argv) >= 2 and argv[0] == "small":
        make_small(argv[1])
    elif len(argv) >= 4 and argv[0] == "tensor":
        extract_tensor(argv[1], argv[2], argv[3])
    elif len(argv) >= 3 and argv[0] == "npyeq":
        return npy_equal(argv[1], argv[2])
    elif len(argv) >= 6 and argv[0] == "sweep":
        return 1 if sweep(*argv[1:6]) else 0
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
